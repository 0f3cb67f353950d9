//! The `networks` table (name → [`NetworkRecord`]) and the `endpoints` table (container id →
//! [`Endpoint`], present from a successful CNI ADD until its DEL succeeded, with the cached ADD
//! results DEL and CHECK need), and the plain network types container records hold. The logic
//! is in `crate::network`.

use super::Table;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// Transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One host port forwarded to one container port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address the port is published on; `0.0.0.0` means every address.
    pub host_ip: Ipv4Addr,
    /// Host port; 0 until one is chosen (`-p 80`, `-P`).
    pub host_port: u16,
    /// Port inside the container.
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
}

impl std::fmt::Display for PortMapping {
    /// Docker's `ps` form: `0.0.0.0:8080->80/tcp`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip,
            self.host_port,
            self.container_port,
            self.protocol.as_str()
        )
    }
}

/// A network berthd manages (a Linux bridge with its own subnet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// 64-hex id.
    pub id: String,
    /// Unique name (`bridge` for the default network).
    pub name: String,
    /// Driver (always `bridge`).
    pub driver: String,
    /// Linux bridge interface.
    pub bridge: String,
    /// IPv4 subnet in CIDR form.
    pub subnet: String,
    /// Gateway address (on the bridge).
    pub gateway: String,
    /// Creation time, unix nanoseconds.
    pub created_at: i64,
    /// The default network (from config.toml; cannot be removed).
    #[serde(default)]
    pub builtin: bool,
}

/// A container attached to a network: what CNI ADD gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Container id.
    pub container_id: String,
    /// Network name; empty for `--network none` (loopback only).
    pub network: String,
    /// The pinned namespace.
    pub netns: PathBuf,
    /// Interface in the container.
    pub ifname: String,
    /// Container address (no prefix); empty for none.
    pub ip: String,
    /// Prefix length.
    pub prefix_len: u8,
    /// Gateway.
    pub gateway: String,
    /// MAC of the container interface.
    pub mac: String,
    /// Published ports, host ports resolved.
    pub ports: Vec<PortMapping>,
    /// Names other containers on the network resolve to this one (its name, hostname).
    pub aliases: Vec<String>,
    /// The cached result of the network's ADD (CNI's `prevResult` for DEL and CHECK).
    pub result: serde_json::Value,
    /// The cached result of the loopback ADD.
    pub loopback_result: serde_json::Value,
    /// Why the CNI CHECK at berthd's start failed (empty: it passed or did not run); shown as
    /// the container's `State.Error` until a new ADD replaces this endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub check_error: String,
}

/// Network records by name.
pub const NETWORKS: Table<NetworkRecord> = Table::new("networks");
/// Endpoints by container id.
pub const ENDPOINTS: Table<Endpoint> = Table::new("endpoints");

/// A container's network mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Attached to this network (the default `bridge` or a user network).
    Network(String),
    /// Its own namespace with loopback only.
    None,
    /// The host's namespace.
    Host,
    /// The namespace of the container with this id.
    Container(String),
}

impl NetworkMode {
    /// Docker's spelling (`bridge`, `none`, `host`, `container:<id>`).
    pub fn display(&self) -> String {
        match self {
            NetworkMode::Network(n) => n.clone(),
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Container(id) => format!("container:{id}"),
        }
    }
}

/// What a container's network is, decided at create and kept on its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerNetwork {
    /// The mode.
    pub mode: NetworkMode,
    /// Published ports, host ports chosen (the same on every start).
    pub ports: Vec<PortMapping>,
    /// `--add-host` entries (name, ip).
    pub extra_hosts: Vec<(String, String)>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// The namespace the bundle joins (None: host).
    pub netns: Option<PathBuf>,
    /// Hostname (the host's in host mode, the joined container's in container mode).
    pub hostname: Option<String>,
    /// Bundle whose /etc files are shared (container mode).
    pub share_files_from: Option<PathBuf>,
}
