//! Container networking on the CNI plugins (Debian's `containernetworking-plugins`).
//!
//! - [`ports`]: `-p`/`-P` parsing and the host-port checks;
//! - [`netns`]: namespaces pinned at `<state>/netns/<container id>`;
//! - [`conflist`]: the configuration lists berthd writes for its bridge networks;
//! - [`cni`]: running the plugins (ADD/DEL/CHECK, cached results, timeouts);
//! - [`ipmasq`]: the bridge plugin's masquerade rule, removed where its DEL leaves it;
//! - [`store`]: networks and endpoints in the metadata database (the gRPC front is
//!   `crate::api::NetworksService`).
//!
//! [`Networks`] ties them together: at container create it checks the request ([`Networks::plan`]);
//! before each task create it pins a namespace and runs ADD ([`Networks::attach`]); when the task
//! ends (stop, exit, rm, failed start) it runs DEL and unpins ([`Networks::detach`]); at start-up
//! it removes what belongs to containers that no longer run ([`Networks::cleanup`]).

pub mod cni;
pub mod conflist;
pub mod ipmasq;
pub mod netns;
pub mod ports;
pub mod store;

use crate::bundle::{self, NetNamespace, NetworkSetup};
use crate::config::Config;
use crate::metadata::containers::{ContainerRecord, RunOptions};
pub use crate::metadata::networks::{ContainerNetwork, NetworkMode};
use crate::metadata::{now_nanos, Metadata, MetadataError};
use cni::{Attachment, Cni, CniError};
use conflist::{BridgeSettings, ConfList};
use ipnet::Ipv4Net;
use ports::{PortError, PortMapping};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use store::{Endpoint, NetworkRecord, NetworkStore};

/// The default network's name.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The container's interface on a bridge network.
const IFNAME: &str = "eth0";

/// Networking failures, each mapped to a gRPC code by [`NetworkError::code`].
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A bad `-p`, or a host port in use.
    #[error(transparent)]
    Port(#[from] PortError),
    /// A bad option.
    #[error("{0}")]
    Invalid(String),
    /// No such network or container.
    #[error("{0}")]
    NotFound(String),
    /// Name taken, subnet overlapping.
    #[error("{0}")]
    Conflict(String),
    /// Wrong state (network in use, joined container not running).
    #[error("{0}")]
    Precondition(String),
    /// A plugin failed.
    #[error(transparent)]
    Cni(#[from] CniError),
    /// The conflist.
    #[error(transparent)]
    ConfList(#[from] conflist::ConfListError),
    /// The namespace.
    #[error(transparent)]
    Netns(#[from] netns::NetnsError),
    /// Writing /etc/hosts.
    #[error(transparent)]
    Bundle(#[from] bundle::BundleError),
    /// The database.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl NetworkError {
    /// The gRPC code this error is reported with.
    pub fn code(&self) -> tonic::Code {
        use tonic::Code;
        match self {
            NetworkError::Port(PortError::Allocated { .. }) => Code::AlreadyExists,
            NetworkError::Port(_) | NetworkError::Invalid(_) => Code::InvalidArgument,
            NetworkError::NotFound(_) => Code::NotFound,
            NetworkError::Conflict(_) => Code::AlreadyExists,
            NetworkError::Precondition(_) => Code::FailedPrecondition,
            NetworkError::Cni(CniError::NotFound { .. }) => Code::FailedPrecondition,
            _ => Code::Internal,
        }
    }
}

impl From<NetworkError> for tonic::Status {
    fn from(e: NetworkError) -> Self {
        tonic::Status::new(e.code(), e.to_string())
    }
}

/// The bundle generator's view of a container's network.
pub fn bundle_setup(net: &ContainerNetwork) -> NetworkSetup {
    NetworkSetup {
        namespace: match &net.netns {
            Some(p) => NetNamespace::Join(p.clone()),
            None => NetNamespace::Host,
        },
        extra_hosts: net.extra_hosts.clone(),
        dns: net.dns.clone(),
        dns_search: net.dns_search.clone(),
        share_files_from: net.share_files_from.clone(),
    }
}

/// The network subsystem of one berthd.
pub struct Networks {
    store: NetworkStore,
    cni: Cni,
    conf_dir: PathBuf,
    ipam_dir: PathBuf,
    netns_dir: PathBuf,
    pool: String,
    /// Serialises endpoint changes and /etc/hosts rewrites of a network's containers.
    lock: tokio::sync::Mutex<()>,
    /// Per-container lifecycle locks: attach + task create vs detach after an exit.
    container_locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Reads every container record (set by the container system; used for /etc/hosts).
    records: std::sync::OnceLock<RecordSource>,
}

/// A way to read every container record.
type RecordSource = Box<dyn Fn() -> Vec<ContainerRecord> + Send + Sync>;

/// A 64-hex id from /dev/urandom.
fn new_id() -> Result<String, NetworkError> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| NetworkError::Invalid(format!("reading /dev/urandom: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn valid_network_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && name.len() > 1
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '.' | '-'))
}

/// IPv4 routes of the host (destination networks, from /proc/net/route), default route excluded.
fn host_routes() -> Vec<(Ipv4Net, String)> {
    let Ok(text) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| Ipv4Addr::from(v.swap_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dst, mask) = (hex(f.get(1)?)?, hex(f.get(7)?)?);
            let prefix = u32::from(mask).leading_ones() as u8;
            if prefix == 0 {
                return None;
            }
            Some((Ipv4Net::new(dst, prefix).ok()?.trunc(), f[0].to_string()))
        })
        .collect()
}

fn overlap(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The attachment ADD made for container `id`, as its endpoint recorded it: DEL and CHECK must
/// name the same one.
fn endpoint_attachment<'a>(id: &'a str, ep: &'a Endpoint) -> Attachment<'a> {
    Attachment {
        container_id: id,
        netns: &ep.netns,
        ifname: &ep.ifname,
        ports: &ep.ports,
    }
}

impl Networks {
    /// Opens the subsystem: makes sure the default network's record matches the config (its
    /// conflist is written when first needed, so a daemon that runs no container writes none).
    pub fn open(config: &Config, md: &Metadata) -> Result<Arc<Self>, NetworkError> {
        let nc = &config.network;
        let me = Networks {
            store: NetworkStore::new(md.clone()),
            cni: Cni {
                plugin_dirs: nc.plugin_dirs.clone(),
                timeout: Duration::from_secs(nc.plugin_timeout_secs.max(1)),
            },
            conf_dir: nc.conf_dir.clone(),
            ipam_dir: config.root.join("cni").join("networks"),
            netns_dir: config.state.join("netns"),
            pool: nc.pool.clone(),
            lock: tokio::sync::Mutex::new(()),
            container_locks: Default::default(),
            records: std::sync::OnceLock::new(),
        };
        for dir in [&me.netns_dir, &me.ipam_dir] {
            crate::private_dir::create_all(dir)
                .map_err(|e| NetworkError::Invalid(format!("creating {}: {e}", dir.display())))?;
        }
        let subnet: Ipv4Net = nc.subnet.parse().map_err(|_| {
            NetworkError::Invalid(format!(
                "[network] subnet {:?} is not an IPv4 CIDR",
                nc.subnet
            ))
        })?;
        let subnet = subnet.trunc();
        let gateway = subnet.hosts().next().ok_or_else(|| {
            NetworkError::Invalid(format!("[network] subnet {subnet} is too small"))
        })?;
        let existing = me.store.network(DEFAULT_NETWORK)?;
        let rec = NetworkRecord {
            id: match &existing {
                Some(r) => r.id.clone(),
                None => new_id()?,
            },
            name: DEFAULT_NETWORK.into(),
            driver: "bridge".into(),
            bridge: nc.bridge.clone(),
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            created_at: existing.as_ref().map_or_else(now_nanos, |r| r.created_at),
            builtin: true,
        };
        if existing.as_ref() != Some(&rec) {
            me.store.put_network(&rec)?;
            // Settings changed: the conflist is written again, from the new record, when needed.
            match std::fs::remove_file(me.conflist_path(DEFAULT_NETWORK)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(NetworkError::Invalid(format!(
                        "removing the stale {}: {e}",
                        me.conflist_path(DEFAULT_NETWORK).display()
                    )))
                }
            }
        }
        Ok(Arc::new(me))
    }

    fn conflist_path(&self, name: &str) -> PathBuf {
        self.conf_dir.join(format!("berth-{name}.conflist"))
    }

    fn write_conflist(&self, rec: &NetworkRecord) -> Result<(), NetworkError> {
        ConfList::bridge(&BridgeSettings {
            name: &rec.name,
            bridge: &rec.bridge,
            subnet: &rec.subnet,
            gateway: &rec.gateway,
            ipam_dir: &self.ipam_dir,
        })
        .store(&self.conflist_path(&rec.name))?;
        Ok(())
    }

    /// The conflist of a network: the file in conf_dir (so local edits apply), rewritten from the
    /// record when missing.
    fn conflist(&self, network: &str) -> Result<ConfList, NetworkError> {
        let path = self.conflist_path(network);
        if !path.exists() {
            let rec = self
                .store
                .network(network)?
                .ok_or_else(|| NetworkError::NotFound(format!("network {network} not found")))?;
            self.write_conflist(&rec)?;
        }
        Ok(ConfList::load(&path)?)
    }

    /// Whether the default network can attach a container now: its conflist loads and every
    /// plugin it names (and loopback) is installed. The CRI's NetworkReady condition.
    pub fn ready(&self) -> Result<(), NetworkError> {
        self.cni.check_installed(&ConfList::loopback())?;
        self.cni.check_installed(&self.conflist(DEFAULT_NETWORK)?)?;
        Ok(())
    }

    fn netns_path(&self, id: &str) -> PathBuf {
        self.netns_dir.join(id)
    }

    /// The lifecycle lock of container `id`: hold it over attach + task create, and over the
    /// "is it still stopped?" check + detach after an exit.
    pub async fn container_lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let m = {
            let mut locks = self
                .container_locks
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            Arc::clone(locks.entry(id.to_string()).or_default())
        };
        m.lock_owned().await
    }

    /// Checks a create request's network options and decides the container's network: mode,
    /// ports (host ports chosen for `-P` and `-p PORT`), /etc entries, the namespace path.
    /// `exposed` are the image's ExposedPorts keys; `all` every existing container.
    pub fn plan(
        &self,
        id: &str,
        opts: &RunOptions,
        exposed: &[String],
        all: &[ContainerRecord],
    ) -> Result<ContainerNetwork, NetworkError> {
        let mode = match opts.network.as_str() {
            "" | "bridge" | "default" => NetworkMode::Network(DEFAULT_NETWORK.into()),
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            // The container layer has resolved the name to a full id.
            m if m.starts_with("container:") => {
                NetworkMode::Container(m["container:".len()..].to_string())
            }
            name => {
                if self.store.network(name)?.is_none() {
                    return Err(NetworkError::NotFound(format!("network {name} not found")));
                }
                NetworkMode::Network(name.to_string())
            }
        };
        let mut ports = Vec::new();
        for p in &opts.publish {
            ports.extend(ports::parse_publish(p)?);
        }
        if opts.publish_all {
            for key in exposed {
                for (port, protocol) in ports::parse_exposed(key)? {
                    if !ports
                        .iter()
                        .any(|m| m.container_port == port && m.protocol == protocol)
                    {
                        ports.push(PortMapping {
                            host_ip: Ipv4Addr::UNSPECIFIED,
                            host_port: 0,
                            container_port: port,
                            protocol,
                        });
                    }
                }
            }
        }
        match &mode {
            NetworkMode::Network(_) => {}
            NetworkMode::Host => {
                if !ports.is_empty() {
                    tracing::warn!(
                        container = id,
                        "published ports are discarded in host network mode"
                    );
                }
                ports.clear();
            }
            NetworkMode::None | NetworkMode::Container(_) if !ports.is_empty() => {
                return Err(NetworkError::Invalid(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ))
            }
            _ => {}
        }
        let mut extra_hosts = Vec::new();
        for h in &opts.extra_hosts {
            let (name, ip) = h
                .split_once(':')
                .or_else(|| h.split_once('='))
                .ok_or_else(|| NetworkError::Invalid(format!("bad format for add-host: {h:?}")))?;
            if name.is_empty() || ip.parse::<IpAddr>().is_err() {
                return Err(NetworkError::Invalid(format!(
                    "invalid IP address in add-host: {ip:?}"
                )));
            }
            extra_hosts.push((name.to_string(), ip.to_string()));
        }
        for d in &opts.dns {
            if d.parse::<IpAddr>().is_err() {
                return Err(NetworkError::Invalid(format!("{d} is not an ip address")));
            }
        }
        // A missing plugin fails the create, before anything exists.
        if !matches!(mode, NetworkMode::Host | NetworkMode::Container(_)) {
            self.cni.check_installed(&ConfList::loopback())?;
        }
        if let NetworkMode::Network(n) = &mode {
            self.cni.check_installed(&self.conflist(n)?)?;
        }
        self.check_ports(id, &ports)?;
        for m in ports.iter_mut().filter(|m| m.host_port == 0) {
            m.host_port = ports::ephemeral_port(m.host_ip, m.protocol).ok_or_else(|| {
                PortError::NoFreePort(format!("{}/{}", m.container_port, m.protocol.as_str()))
            })?;
        }
        let (netns, hostname, share) = match &mode {
            NetworkMode::Network(_) | NetworkMode::None => (Some(self.netns_path(id)), None, None),
            NetworkMode::Host => (
                None,
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok()),
                None,
            ),
            NetworkMode::Container(other) => {
                let o = all
                    .iter()
                    .find(|r| &r.id == other)
                    .ok_or_else(|| NetworkError::NotFound(format!("No such container: {other}")))?;
                let on = o.options.network_plan.as_ref().ok_or_else(|| {
                    NetworkError::Invalid(format!(
                        "container {other} has no network berthd manages"
                    ))
                })?;
                let hostname = on.hostname.clone().or_else(|| {
                    Some(if o.options.hostname.is_empty() {
                        bundle::default_hostname(&o.id)
                    } else {
                        o.options.hostname.clone()
                    })
                });
                (
                    on.netns.clone(),
                    hostname,
                    Some(
                        on.share_files_from
                            .clone()
                            .unwrap_or_else(|| o.bundle_dir.clone()),
                    ),
                )
            }
        };
        Ok(ContainerNetwork {
            mode,
            ports,
            extra_hosts,
            dns: opts.dns.clone(),
            dns_search: opts.dns_search.clone(),
            netns,
            hostname,
            share_files_from: share,
        })
    }

    /// Fails with Docker's "port is already allocated" when a host port is taken: by another
    /// mapping of this request, by a container's endpoint, or by any process (tried by binding).
    fn check_ports(&self, id: &str, ports: &[PortMapping]) -> Result<(), NetworkError> {
        let endpoints = self.store.endpoints()?;
        for (i, m) in ports.iter().enumerate().filter(|(_, m)| m.host_port != 0) {
            let taken = ports[..i].iter().any(|o| ports::overlaps(o, m))
                || endpoints
                    .iter()
                    .filter(|e| e.container_id != id)
                    .any(|e| e.ports.iter().any(|o| ports::overlaps(o, m)))
                || !ports::host_port_free(m.host_ip, m.host_port, m.protocol);
            if taken {
                return Err(PortError::Allocated {
                    ip: m.host_ip,
                    port: m.host_port,
                }
                .into());
            }
        }
        Ok(())
    }

    /// Sets the network up for a task of `rec`: pins the namespace (with `lo` up), runs the
    /// network's ADD, writes /etc/hosts with the address, and stores the endpoint. On failure
    /// everything done is undone. Containers without a berth network (host, container modes,
    /// records older than networking) need nothing.
    pub async fn attach(&self, rec: &ContainerRecord) -> Result<(), NetworkError> {
        let Some(plan) = rec.options.network_plan.as_ref() else {
            return Ok(());
        };
        let network = match &plan.mode {
            NetworkMode::Network(n) => Some(n.clone()),
            NetworkMode::None => None,
            NetworkMode::Host => return Ok(()),
            NetworkMode::Container(other) => {
                let joined = plan.netns.as_deref().is_none_or(|p| p.exists());
                if !joined {
                    return Err(NetworkError::Precondition(format!(
                        "cannot join network of a non running container: {other}"
                    )));
                }
                return Ok(());
            }
        };
        // A leftover of an earlier run (an exit not handled yet) goes first.
        self.detach(&rec.id).await?;
        let _g = self.lock.lock().await;
        let list = match &network {
            Some(n) => Some(self.conflist(n)?),
            None => None,
        };
        let loopback = ConfList::loopback();
        self.cni.check_installed(&loopback)?;
        if let Some(l) = &list {
            self.cni.check_installed(l)?;
            self.check_ports(&rec.id, &plan.ports)?;
        }
        let path = self.netns_path(&rec.id);
        netns::create(&path)?;
        let at = Attachment {
            container_id: &rec.id,
            netns: &path,
            ifname: IFNAME,
            ports: &plan.ports,
        };
        let undo_ns = |e: NetworkError| {
            if let Err(r) = netns::remove(&path) {
                tracing::error!(error = %r, "removing namespace after a failed attach");
            }
            e
        };
        let mut ep = Endpoint {
            container_id: rec.id.clone(),
            network: network.clone().unwrap_or_default(),
            netns: path.clone(),
            ifname: IFNAME.into(),
            ip: String::new(),
            prefix_len: 0,
            gateway: String::new(),
            mac: String::new(),
            ports: plan.ports.clone(),
            aliases: vec![rec.name.clone(), hostname_of(rec)],
            result: serde_json::Value::Null,
            // `lo` came up with the namespace (netns::create): no loopback plugin ran.
            loopback_result: serde_json::Value::Null,
            check_error: String::new(),
        };
        if let Some(l) = &list {
            let result = match self.cni.add(l, &at).await {
                Ok(r) => r,
                Err(e) => return Err(undo_ns(e.into())),
            };
            let addr = cni::container_address(&result, IFNAME).unwrap_or_default();
            ep.ip = addr.ip;
            ep.prefix_len = addr.prefix_len;
            ep.gateway = addr.gateway;
            ep.mac = addr.mac;
            ep.result = result;
            if let Err(e) = self.store.put_endpoint(&ep) {
                let _ = self.cni.del(l, &at, Some(&ep.result)).await;
                return Err(undo_ns(e.into()));
            }
        } else if let Err(e) = self.store.put_endpoint(&ep) {
            return Err(undo_ns(e.into()));
        }
        if let Some(n) = &network {
            self.refresh_hosts(n);
        }
        Ok(())
    }

    /// Tears the network of container `id` down (DEL with the cached results, unpin, forget);
    /// nothing to do is not an error. A DEL that fails keeps the endpoint, so a later detach
    /// (rm, start-up cleanup) tries again.
    pub async fn detach(&self, id: &str) -> Result<(), NetworkError> {
        let _g = self.lock.lock().await;
        let Some(ep) = self.store.endpoint(id)? else {
            let path = self.netns_path(id);
            if path.exists() {
                netns::remove(&path)?;
            }
            return Ok(());
        };
        let lo_at = Attachment {
            container_id: id,
            netns: &ep.netns,
            ifname: "lo",
            ports: &[],
        };
        let mut failed = None;
        if !ep.network.is_empty() {
            let at = endpoint_attachment(id, &ep);
            let list = match self.conflist(&ep.network) {
                Ok(l) => Some(l),
                Err(e) => {
                    failed = Some(e);
                    None
                }
            };
            if let Some(l) = list {
                // Looked at before DEL: the veth is what tells whether the plugin can still
                // find the addresses whose masquerade rule it removes.
                let masq_leak = l
                    .masquerading_bridge()
                    .is_some_and(|br| ipmasq::host_veth_gone(&ep.result, br));
                match self.cni.del(&l, &at, Some(&ep.result)).await {
                    Err(e) => failed = Some(e.into()),
                    Ok(()) if masq_leak && !ep.ip.is_empty() => {
                        match ipmasq::sweep(&l.name, id, &ep.ip).await {
                            Ok(true) => tracing::info!(
                                container = id,
                                "removed the masquerade rule the bridge plugin left (the container's interface was gone)"
                            ),
                            Ok(false) => {}
                            // Not a reason to keep the endpoint: DEL itself succeeded, and a
                            // retry would not find the interface either.
                            Err(e) => tracing::error!(container = id, error = %e, "removing the bridge plugin's masquerade rule"),
                        }
                    }
                    Ok(()) => {}
                }
            }
        }
        // Only endpoints of an older berthd ran the loopback plugin (their result is cached).
        if !ep.loopback_result.is_null() {
            if let Err(e) = self
                .cni
                .del(&ConfList::loopback(), &lo_at, Some(&ep.loopback_result))
                .await
            {
                tracing::warn!(container = id, error = %e, "loopback DEL");
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        netns::remove(&ep.netns)?;
        self.store.remove_endpoint(id)?;
        if !ep.network.is_empty() {
            self.refresh_hosts(&ep.network);
        }
        Ok(())
    }

    /// CHECK of a container's endpoint (the plugins verify what ADD set up is still there).
    pub async fn check(&self, id: &str) -> Result<(), NetworkError> {
        let Some(ep) = self.store.endpoint(id)? else {
            return Err(NetworkError::NotFound(format!(
                "container {id} has no network endpoint"
            )));
        };
        if ep.network.is_empty() {
            return Ok(());
        }
        let l = self.conflist(&ep.network)?;
        let at = endpoint_attachment(id, &ep);
        Ok(self.cni.check(&l, &at, &ep.result).await?)
    }

    /// Rewrites /etc/hosts of every container on `network` (the one just attached included):
    /// its own address with its hostname, the other containers by name (user networks only, as
    /// Docker resolves names only there).
    fn refresh_hosts(&self, network: &str) {
        let Ok(endpoints) = self.store.endpoints() else {
            return;
        };
        let on: Vec<&Endpoint> = endpoints.iter().filter(|e| e.network == network).collect();
        let records = self.records.get().map(|f| f()).unwrap_or_default();
        for ep in &on {
            let Some(rec) = records.iter().find(|r| r.id == ep.container_id) else {
                continue;
            };
            let plan = rec.options.network_plan.clone();
            let mut extra = plan.map(|p| p.extra_hosts).unwrap_or_default();
            if network != DEFAULT_NETWORK {
                for peer in on
                    .iter()
                    .filter(|p| p.container_id != ep.container_id && !p.ip.is_empty())
                {
                    for a in &peer.aliases {
                        extra.push((a.clone(), peer.ip.clone()));
                    }
                }
            }
            let own = (!ep.ip.is_empty()).then_some(ep.ip.as_str());
            let content = bundle::files::hosts_file_for(&hostname_of(rec), own, &extra);
            if let Err(e) = bundle::files::rewrite_hosts(&rec.bundle_dir, &content) {
                tracing::warn!(container = rec.id, error = %e, "updating /etc/hosts");
            }
        }
    }

    /// The endpoint of a container, if its network is set up.
    pub fn endpoint(&self, id: &str) -> Option<Endpoint> {
        self.store.endpoint(id).ok().flatten()
    }

    /// Start-up cleanup: detaches every endpoint whose container is gone or not running
    /// (`live` says which are), CHECKs the running ones, and unpins namespaces no endpoint owns.
    pub async fn cleanup(&self, live: &dyn Fn(&str) -> bool) {
        let endpoints = self.store.endpoints().unwrap_or_default();
        for ep in &endpoints {
            if live(&ep.container_id) {
                // Still running: the plugins verify that what ADD set up survived berthd's
                // absence (portmap's CHECK is skipped where Debian's 1.1 is known to be wrong,
                // see Cni::check). The container keeps running: stopping it would lose
                // more than a broken network; its owner is told how to repair it.
                let failure = match self.check(&ep.container_id).await {
                    Ok(()) => String::new(),
                    Err(e) => {
                        tracing::error!(
                            container = ep.container_id,
                            error = %e,
                            "CNI CHECK failed: the container's network is not as its ADD left it \
                             (berth restart sets it up again)"
                        );
                        format!(
                            "network check failed: {e} (berth restart sets the network up again)"
                        )
                    }
                };
                if failure != ep.check_error {
                    // Recorded, so `inspect` says it (State.Error) and not only berthd's log.
                    let mut ep = ep.clone();
                    ep.check_error = failure;
                    if let Err(e) = self.store.put_endpoint(&ep) {
                        tracing::error!(container = ep.container_id, error = %e, "recording the CHECK result");
                    }
                }
            } else {
                tracing::info!(
                    container = ep.container_id,
                    "releasing the network of a container that no longer runs"
                );
                if let Err(e) = self.detach(&ep.container_id).await {
                    tracing::error!(container = ep.container_id, error = %e, "releasing network");
                }
            }
        }
        let owned: Vec<PathBuf> = endpoints.iter().map(|e| e.netns.clone()).collect();
        for p in netns::list(&self.netns_dir) {
            let id = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if !owned.contains(&p) && !live(&id) {
                if let Err(e) = netns::remove(&p) {
                    tracing::error!(error = %e, "removing a leftover namespace");
                }
            }
        }
    }

    /// Lets the hosts-file refresh find container records (set once by the container system).
    pub fn set_records(&self, f: RecordSource) {
        let _ = self.records.set(f);
    }
}

/// The container's hostname as its bundle has it.
pub fn hostname_of(rec: &ContainerRecord) -> String {
    if let Some(h) = rec
        .options
        .network_plan
        .as_ref()
        .and_then(|p| p.hostname.clone())
    {
        if rec.options.hostname.is_empty() {
            return h;
        }
    }
    if rec.options.hostname.is_empty() {
        bundle::default_hostname(&rec.id)
    } else {
        rec.options.hostname.clone()
    }
}

/// Network records and their CRUD (for `berth network ...`).
impl Networks {
    /// Creates a user network.
    pub fn create_network(
        &self,
        name: &str,
        subnet: &str,
        gateway: &str,
    ) -> Result<NetworkRecord, NetworkError> {
        if !valid_network_name(name)
            || matches!(name, "none" | "host" | "default")
            || name.starts_with("container:")
        {
            return Err(NetworkError::Invalid(format!(
                "invalid network name {name:?}: names match [a-zA-Z0-9][a-zA-Z0-9_.-]* and cannot be none, host, default or container:*"
            )));
        }
        if self.store.network(name)?.is_some() {
            return Err(NetworkError::Conflict(format!(
                "network with name {name} already exists"
            )));
        }
        let existing = self.store.networks()?;
        let nets: Vec<Ipv4Net> = existing
            .iter()
            .filter_map(|n| n.subnet.parse().ok())
            .collect();
        let routes = host_routes();
        let subnet: Ipv4Net = if subnet.is_empty() {
            self.free_subnet(&nets, &routes)?
        } else {
            let s: Ipv4Net = subnet.parse().map_err(|_| {
                NetworkError::Invalid(format!(
                    "invalid subnet {subnet:?}: want an IPv4 CIDR such as 10.212.0.0/24"
                ))
            })?;
            let s = s.trunc();
            if s.prefix_len() > 30 {
                return Err(NetworkError::Invalid(format!(
                    "subnet {s} is too small (at most /30)"
                )));
            }
            if nets.iter().any(|n| overlap(n, &s)) {
                return Err(NetworkError::Conflict(
                    "Pool overlaps with other one on this address space".into(),
                ));
            }
            if let Some((r, dev)) = routes.iter().find(|(r, _)| overlap(r, &s)) {
                return Err(NetworkError::Conflict(format!(
                    "subnet {s} overlaps the host route {r} on {dev}"
                )));
            }
            s
        };
        let gateway: Ipv4Addr = if gateway.is_empty() {
            subnet.hosts().next().ok_or_else(|| {
                NetworkError::Invalid(format!("subnet {subnet} has no host addresses"))
            })?
        } else {
            let g: Ipv4Addr = gateway
                .parse()
                .map_err(|_| NetworkError::Invalid(format!("invalid gateway {gateway:?}")))?;
            if !subnet.contains(&g) || g == subnet.network() || g == subnet.broadcast() {
                return Err(NetworkError::Invalid(format!(
                    "gateway {g} is not a host address of {subnet}"
                )));
            }
            g
        };
        let id = new_id()?;
        let bridge = format!("br-{}", &id[..12]);
        let rec = NetworkRecord {
            id,
            name: name.to_string(),
            driver: "bridge".into(),
            bridge,
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            created_at: now_nanos(),
            builtin: false,
        };
        self.write_conflist(&rec)?;
        if let Err(e) = self.store.put_network(&rec) {
            let _ = std::fs::remove_file(self.conflist_path(name));
            return Err(e.into());
        }
        Ok(rec)
    }

    fn free_subnet(
        &self,
        nets: &[Ipv4Net],
        routes: &[(Ipv4Net, String)],
    ) -> Result<Ipv4Net, NetworkError> {
        let pool: Ipv4Net = self.pool.parse().map_err(|_| {
            NetworkError::Invalid(format!(
                "[network] pool {:?} is not an IPv4 CIDR",
                self.pool
            ))
        })?;
        let subnets = pool
            .subnets(24.max(pool.prefix_len()))
            .map_err(|e| NetworkError::Invalid(format!("[network] pool {pool}: {e}")))?;
        for s in subnets {
            if !nets.iter().any(|n| overlap(n, &s)) && !routes.iter().any(|(r, _)| overlap(r, &s)) {
                return Ok(s);
            }
        }
        Err(NetworkError::Conflict(format!(
            "no free /24 left in the pool {pool}"
        )))
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkRecord>, NetworkError> {
        Ok(self.store.networks()?)
    }

    /// A network by name, id or unique id prefix.
    pub fn network(&self, q: &str) -> Result<NetworkRecord, NetworkError> {
        let all = self.store.networks()?;
        if let Some(n) = all.iter().find(|n| n.name == q || n.id == q) {
            return Ok(n.clone());
        }
        let by_prefix: Vec<&NetworkRecord> = all
            .iter()
            .filter(|n| !q.is_empty() && n.id.starts_with(q))
            .collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(NetworkError::NotFound(format!("network {q} not found"))),
            _ => Err(NetworkError::Invalid(format!("network {q} is ambiguous"))),
        }
    }

    /// The endpoints on a network.
    pub fn endpoints_on(&self, name: &str) -> Result<Vec<Endpoint>, NetworkError> {
        Ok(self
            .store
            .endpoints()?
            .into_iter()
            .filter(|e| e.network == name)
            .collect())
    }

    /// Removes a user network no container uses (`users`: ids of containers created on it).
    pub fn remove_network(&self, q: &str, users: &[String]) -> Result<String, NetworkError> {
        let rec = self.network(q)?;
        if rec.builtin {
            return Err(NetworkError::Precondition(format!(
                "{} is a pre-defined network and cannot be removed",
                rec.name
            )));
        }
        if !users.is_empty() || !self.endpoints_on(&rec.name)?.is_empty() {
            return Err(NetworkError::Precondition(format!(
                "error while removing network: network {} id {} has active endpoints ({} containers use it)",
                rec.name,
                rec.id,
                users.len()
            )));
        }
        self.store.remove_network(&rec.name)?;
        match std::fs::remove_file(self.conflist_path(&rec.name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(network = rec.name, error = %e, "removing conflist"),
        }
        // The bridge plugin never deletes its bridge, nor host-local its lease directory.
        delete_link(&rec.bridge);
        let _ = std::fs::remove_dir_all(self.ipam_dir.join(&rec.name));
        Ok(rec.name)
    }

    /// The pinned namespaces' directory.
    pub fn netns_dir(&self) -> &Path {
        &self.netns_dir
    }
}

/// Deletes a network interface with `ip link delete` (absent is fine).
fn delete_link(name: &str) {
    let ok = crate::children::run_std(
        std::process::Command::new("ip")
            .args(["link", "show", name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
    .is_ok_and(|s| s.success());
    if ok {
        let _ = crate::children::run_std(
            std::process::Command::new("ip").args(["link", "delete", name]),
        );
    }
}

#[cfg(test)]
mod tests;
