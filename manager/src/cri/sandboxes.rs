//! Pod sandboxes: a berth container of the pause image holding the pod's network (CNI, through
//! [`crate::network`] like any container), IPC and UTS namespaces. RunPodSandbox undoes what it
//! made when any step fails, so a refused or failed request leaves no container behind.

use std::path::PathBuf;
use std::time::Duration;

use berth_proto::v1 as pb;
use k8s_cri::v1 as cri;
use tonic::Status;

use super::store::{absent_as_none, matches_labels, CriStore};
use super::{pause, CriContext};
use crate::images::service::status as image_status;
use crate::metadata::containers::PodOptions;
use crate::metadata::cri::SandboxRecord;

/// How long the pause process gets to exit on SIGTERM before SIGKILL.
const PAUSE_STOP_GRACE: Duration = Duration::from_secs(2);

/// Longest berth container name (`containers::names::valid_name`).
const MAX_NAME: usize = 128;

/// A berth container name from CRI parts (CRI allows characters berth names do not, and longer
/// names: those keep their start and get a hash of the whole, so they stay unique).
pub fn berth_name(parts: &[&str]) -> String {
    let name = parts
        .iter()
        .map(|p| {
            p.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                        c
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_");
    if name.len() <= MAX_NAME {
        return name;
    }
    use sha2::Digest as _;
    let hash = hex::encode(sha2::Sha256::digest(name.as_bytes()));
    format!("{}-{}", &name[..MAX_NAME - 17], &hash[..16])
}

/// The cgroups path of a pod member: under the pod's cgroup parent, else berthd's default.
pub fn cgroups_path(parent: &str, name: &str) -> Option<String> {
    (!parent.is_empty()).then(|| format!("{}/{name}", parent.trim_end_matches('/')))
}

fn metadata(r: &SandboxRecord) -> cri::PodSandboxMetadata {
    cri::PodSandboxMetadata {
        name: r.name.clone(),
        uid: r.uid.clone(),
        namespace: r.namespace.clone(),
        attempt: r.attempt,
    }
}

fn mode(host: bool, default: cri::NamespaceMode) -> i32 {
    if host {
        cri::NamespaceMode::Node as i32
    } else {
        default as i32
    }
}

/// CRI port mappings as `-p` values (`[hostIP:]hostPort:containerPort/proto`); a mapping
/// without a host port publishes nothing (kubelet sends those for information).
fn publish(mappings: &[cri::PortMapping]) -> Result<Vec<String>, Status> {
    let mut out = Vec::new();
    for m in mappings.iter().filter(|m| m.host_port > 0) {
        let proto = match cri::Protocol::try_from(m.protocol) {
            Ok(cri::Protocol::Tcp) => "tcp",
            Ok(cri::Protocol::Udp) => "udp",
            _ => {
                return Err(Status::invalid_argument(format!(
                    "port mapping {}:{}: berthd publishes tcp and udp ports",
                    m.host_port, m.container_port
                )))
            }
        };
        let ip = if m.host_ip.is_empty() {
            String::new()
        } else {
            format!("{}:", m.host_ip)
        };
        out.push(format!("{ip}{}:{}/{proto}", m.host_port, m.container_port));
    }
    Ok(out)
}

/// Runs a sandbox; returns its id.
pub async fn run(
    ctx: &CriContext,
    store: &CriStore,
    req: cri::RunPodSandboxRequest,
) -> Result<String, Status> {
    let config = req
        .config
        .ok_or_else(|| Status::invalid_argument("RunPodSandbox: config is required"))?;
    let md = config
        .metadata
        .clone()
        .ok_or_else(|| Status::invalid_argument("RunPodSandbox: config.metadata is required"))?;
    if md.name.is_empty() || md.uid.is_empty() || md.namespace.is_empty() {
        return Err(Status::invalid_argument(
            "RunPodSandbox: metadata needs name, uid and namespace",
        ));
    }
    if !req.runtime_handler.is_empty() {
        return Err(Status::invalid_argument(format!(
            "RunPodSandbox: unknown runtime handler {:?} (berthd has only the default one)",
            req.runtime_handler
        )));
    }
    let attempt = md.attempt.to_string();
    let name = berth_name(&["k8s", "POD", &md.name, &md.namespace, &md.uid, &attempt]);
    if let Some(other) = store.sandboxes()?.into_iter().find(|s| {
        s.name == md.name
            && s.namespace == md.namespace
            && s.uid == md.uid
            && s.attempt == md.attempt
    }) {
        return Err(Status::already_exists(format!(
            "failed to reserve sandbox name {name:?}: name is reserved for {:?}",
            other.id
        )));
    }
    let linux = config.linux.clone().unwrap_or_default();
    let ns = linux
        .security_context
        .as_ref()
        .and_then(|s| s.namespace_options.clone())
        .unwrap_or_default();
    let node = cri::NamespaceMode::Node as i32;
    let (host_network, host_pid, host_ipc) = (ns.network == node, ns.pid == node, ns.ipc == node);
    let publish = if host_network {
        // A host-network pod's ports are the host's already.
        Vec::new()
    } else {
        publish(&config.port_mappings)?
    };
    let image = pause::ensure(&ctx.images).await.map_err(image_status)?;
    let dns = config.dns_config.clone().unwrap_or_default();
    let mut labels: std::collections::HashMap<String, String> = Default::default();
    labels.insert(super::KIND_LABEL.into(), "sandbox".into());
    let create = pb::CreateContainerRequest {
        name: name.clone(),
        image,
        options: Some(pb::RunOptions {
            entrypoint: vec![pause::PAUSE_PATH.into()],
            hostname: if host_network {
                String::new()
            } else {
                config.hostname.clone()
            },
            network: if host_network {
                "host".into()
            } else {
                String::new()
            },
            dns: dns.servers.clone(),
            dns_search: dns.searches.clone(),
            publish,
            ..Default::default()
        }),
        labels,
    };
    let mut join = Vec::new();
    if host_pid {
        join.push(("pid".to_string(), PathBuf::new()));
    }
    if host_ipc {
        join.push(("ipc".to_string(), PathBuf::new()));
    }
    let pod = PodOptions {
        join_namespaces: join,
        cgroups_path: cgroups_path(&linux.cgroup_parent, &name),
        // Pod sysctls are namespaced (net.*, kernel.shm*, …): set in the sandbox's namespaces,
        // which the containers join.
        sysctls: linux
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        dns_options: dns.options.clone(),
        ..Default::default()
    };
    let created = ctx
        .containers
        .create_in_pod(create, pod)
        .await
        .map_err(Status::from)?;
    let id = created.id.clone();
    let started = async {
        let rec = ctx.containers.resolve(&id)?;
        ctx.containers.start_task(&rec).await
    }
    .await;
    if let Err(e) = started {
        let _ = ctx.containers.delete(&id, true).await;
        return Err(Status::from(e));
    }
    let rec = SandboxRecord {
        id: id.clone(),
        name: md.name,
        uid: md.uid,
        namespace: md.namespace,
        attempt: md.attempt,
        labels: config.labels.into_iter().collect(),
        annotations: config.annotations.into_iter().collect(),
        created_at: crate::metadata::now_nanos(),
        ready: true,
        host_network,
        host_pid,
        host_ipc,
        privileged: linux
            .security_context
            .as_ref()
            .is_some_and(|s| s.privileged),
        log_directory: config.log_directory,
        cgroup_parent: linux.cgroup_parent,
        runtime_handler: req.runtime_handler,
    };
    if let Err(e) = store.put_sandbox(&rec) {
        let _ = ctx.containers.delete(&id, true).await;
        return Err(e);
    }
    Ok(id)
}

/// The pause process's pid, when it runs.
pub async fn pause_pid(ctx: &CriContext, id: &str) -> Option<u32> {
    ctx.containers
        .task(id)
        .await
        .ok()
        .flatten()
        .filter(|t| t.pid != 0 && t.state != crate::containers::backend::TaskState::Stopped)
        .map(|t| t.pid)
}

async fn state(ctx: &CriContext, r: &SandboxRecord) -> cri::PodSandboxState {
    if r.ready && ctx.containers.is_live(&r.id).await.unwrap_or(false) {
        cri::PodSandboxState::SandboxReady
    } else {
        cri::PodSandboxState::SandboxNotready
    }
}

/// Stops every container of the sandbox, then the pause process, and releases its network.
pub async fn stop(ctx: &CriContext, store: &CriStore, q: &str) -> Result<(), Status> {
    let Some(mut r) = absent_as_none(store.sandbox(q))? else {
        return Ok(());
    };
    for c in store.containers()?.iter().filter(|c| c.sandbox_id == r.id) {
        super::containers::stop_one(ctx, store, c, 0).await?;
    }
    if let Ok(rec) = ctx.containers.resolve(&r.id) {
        ctx.containers
            .stop_task(&rec, libc::SIGTERM, PAUSE_STOP_GRACE)
            .await
            .map_err(Status::from)?;
    }
    ctx.containers.detach_network(&r.id).await;
    if r.ready {
        r.ready = false;
        store.put_sandbox(&r)?;
    }
    Ok(())
}

/// Removes the sandbox and every container in it (stopping them first). Absent: nothing to do.
pub async fn remove(ctx: &CriContext, store: &CriStore, q: &str) -> Result<(), Status> {
    let Some(r) = absent_as_none(store.sandbox(q))? else {
        return Ok(());
    };
    for c in store.containers()?.iter().filter(|c| c.sandbox_id == r.id) {
        super::containers::remove_one(ctx, store, c).await?;
    }
    match ctx.containers.delete(&r.id, true).await {
        Ok(_) => {}
        Err(crate::containers::ContainerError::Resolve(_)) => {}
        Err(e) => return Err(Status::from(e)),
    }
    store.remove_sandbox(&r.id)
}

/// PodSandboxStatus.
pub async fn status(
    ctx: &CriContext,
    store: &CriStore,
    q: &str,
    verbose: bool,
) -> Result<cri::PodSandboxStatusResponse, Status> {
    let r = store.sandbox(q)?;
    let st = state(ctx, &r).await;
    let ip = if r.host_network {
        String::new()
    } else {
        ctx.networks
            .endpoint(&r.id)
            .map(|e| e.ip)
            .unwrap_or_default()
    };
    let details = if verbose {
        let pid = pause_pid(ctx, &r.id).await.unwrap_or(0);
        Some(serde_json::json!({
            "pid": pid,
            "image": pause::PAUSE_IMAGE,
            "hostNetwork": r.host_network,
            "cgroupParent": r.cgroup_parent,
        }))
    } else {
        None
    };
    let info = super::verbose_info(details);
    Ok(cri::PodSandboxStatusResponse {
        status: Some(cri::PodSandboxStatus {
            id: r.id.clone(),
            metadata: Some(metadata(&r)),
            state: st as i32,
            created_at: r.created_at,
            network: Some(cri::PodSandboxNetworkStatus {
                ip,
                additional_ips: Vec::new(),
            }),
            linux: Some(cri::LinuxPodSandboxStatus {
                namespaces: Some(cri::Namespace {
                    options: Some(cri::NamespaceOption {
                        network: mode(r.host_network, cri::NamespaceMode::Pod),
                        pid: mode(r.host_pid, cri::NamespaceMode::Container),
                        ipc: mode(r.host_ipc, cri::NamespaceMode::Pod),
                        target_id: String::new(),
                        userns_options: None,
                    }),
                }),
            }),
            labels: r.labels.clone().into_iter().collect(),
            annotations: r.annotations.clone().into_iter().collect(),
            runtime_handler: r.runtime_handler.clone(),
        }),
        info,
        containers_statuses: Vec::new(),
        timestamp: crate::metadata::now_nanos(),
    })
}

/// ListPodSandbox with its filter (id prefix, state, labels).
pub async fn list(
    ctx: &CriContext,
    store: &CriStore,
    filter: Option<cri::PodSandboxFilter>,
) -> Result<Vec<cri::PodSandbox>, Status> {
    let f = filter.unwrap_or_default();
    let mut out = Vec::new();
    for r in store.sandboxes()? {
        if !r.id.starts_with(&f.id) || !matches_labels(&r.labels, &f.label_selector) {
            continue;
        }
        let st = state(ctx, &r).await;
        if f.state.as_ref().is_some_and(|s| s.state != st as i32) {
            continue;
        }
        out.push(cri::PodSandbox {
            id: r.id.clone(),
            metadata: Some(metadata(&r)),
            state: st as i32,
            created_at: r.created_at,
            labels: r.labels.clone().into_iter().collect(),
            annotations: r.annotations.clone().into_iter().collect(),
            runtime_handler: r.runtime_handler.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::berth_name;

    #[test]
    fn long_and_odd_names_become_valid_unique_berth_names() {
        assert_eq!(berth_name(&["k8s", "POD", "a b", "ns"]), "k8s_POD_a-b_ns");
        let long = "x".repeat(200);
        let a = berth_name(&["k8s", &long, "1"]);
        let b = berth_name(&["k8s", &long, "2"]);
        assert_eq!(a.len(), 128);
        assert_ne!(a, b);
        assert!(crate::containers::names::valid_name(&a));
    }
}
