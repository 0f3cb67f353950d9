//! Containers of a pod: berth containers that join their sandbox's network (`container:<pause>`),
//! IPC and UTS namespaces, with CRI's options mapped onto berth's (command → entrypoint, args →
//! cmd, envs, mounts (with propagation), devices, working dir, the security context (see
//! [`security`]), resources, tty, read-only rootfs, the pod's cgroup parent).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use berth_proto::v1 as pb;
use k8s_cri::v1 as cri;
use tonic::Status;

use super::images::image_id;
use super::sandboxes::{berth_name, cgroups_path, pause_pid};
use super::store::{matches_labels, CriStore};
use super::{logs, resources, security, CriContext};
use crate::images::ImageError;
use crate::metadata::containers::PodOptions;
use crate::metadata::cri::{CriContainerRecord, SandboxRecord};

/// The CRI log path of a container: `log_path` relative to the sandbox's `log_directory`, which
/// it may not leave.
fn log_path(sb: &SandboxRecord, rel: &str) -> Result<String, Status> {
    if rel.is_empty() || sb.log_directory.is_empty() {
        return Ok(String::new());
    }
    let dir = Path::new(&sb.log_directory);
    let rel_path = Path::new(rel);
    if !dir.is_absolute()
        || rel_path.is_absolute()
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(Status::invalid_argument(format!(
            "log path {rel:?} must be a relative path inside the sandbox's log directory {:?}",
            sb.log_directory
        )));
    }
    Ok(dir.join(rel_path).display().to_string())
}

/// CreateContainer; returns the new container's id.
pub async fn create(
    ctx: &CriContext,
    store: &CriStore,
    req: cri::CreateContainerRequest,
) -> Result<String, Status> {
    let sb = store.sandbox(&req.pod_sandbox_id)?;
    let config = req
        .config
        .ok_or_else(|| Status::invalid_argument("CreateContainer: config is required"))?;
    let md = config
        .metadata
        .clone()
        .filter(|m| !m.name.is_empty())
        .ok_or_else(|| {
            Status::invalid_argument("CreateContainer: config.metadata.name is required")
        })?;
    let image = config
        .image
        .as_ref()
        .map(|i| i.image.clone())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Status::invalid_argument("CreateContainer: config.image is required"))?;
    let view = match ctx.images.get(&image).await {
        Ok(v) => v,
        Err(ImageError::NotFound(_)) | Err(ImageError::InvalidName(_)) => {
            return Err(Status::not_found(format!(
                "image {image:?} is not present: pull it first"
            )))
        }
        Err(e) => return Err(crate::images::service::status(e)),
    };
    let attempt = md.attempt.to_string();
    let name = berth_name(&["k8s", &md.name, &sb.name, &sb.namespace, &sb.uid, &attempt]);
    if let Some(other) = store
        .containers()?
        .into_iter()
        .find(|c| c.sandbox_id == sb.id && c.name == md.name && c.attempt == md.attempt)
    {
        return Err(Status::already_exists(format!(
            "failed to reserve container name {name:?}: name is reserved for {:?}",
            other.id
        )));
    }
    let log = log_path(&sb, &config.log_path)?;
    // Relabeling means something only where SELinux is on (as for containerd, a no-op elsewhere);
    // there berthd cannot do it and says so instead of running the container unlabeled.
    let selinux = Path::new("/sys/fs/selinux/enforce").exists();
    for m in &config.mounts {
        if m.selinux_relabel && selinux {
            return Err(Status::invalid_argument(format!(
                "mount {}: SELinux relabeling is not supported by berthd",
                m.container_path
            )));
        }
    }
    let Some(pid) = pause_pid(ctx, &sb.id).await.filter(|_| sb.ready) else {
        return Err(Status::failed_precondition(format!(
            "pod sandbox {} is not ready",
            sb.id
        )));
    };
    let linux = config.linux.clone().unwrap_or_default();
    let sc = linux.security_context.clone().unwrap_or_default();
    let sec = security::map(&sc, sb.privileged)?;
    let ns = sc.namespace_options.clone().unwrap_or_default();
    let limits = linux
        .resources
        .as_ref()
        .map(resources::limits)
        .unwrap_or_default();
    let propagation = config
        .mounts
        .iter()
        .filter_map(|m| {
            let p = match cri::MountPropagation::try_from(m.propagation) {
                Ok(cri::MountPropagation::PropagationHostToContainer) => "rslave",
                Ok(cri::MountPropagation::PropagationBidirectional) => "rshared",
                _ => return None,
            };
            Some((m.container_path.clone(), p.to_string()))
        })
        .collect();
    let proc_ns = |kind: &str| PathBuf::from(format!("/proc/{pid}/ns/{kind}"));
    let mut join = vec![(
        "ipc".to_string(),
        if sb.host_ipc {
            PathBuf::new()
        } else {
            proc_ns("ipc")
        },
    )];
    let hostname = if sb.host_network {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        join.push(("uts".to_string(), proc_ns("uts")));
        sandbox_hostname(ctx, &sb)
    };
    if sb.host_pid {
        join.push(("pid".to_string(), PathBuf::new()));
    } else if ns.pid == cri::NamespaceMode::Pod as i32 {
        join.push(("pid".to_string(), proc_ns("pid")));
    } else if ns.pid == cri::NamespaceMode::Target as i32 {
        // An ephemeral (debug) container shares the pid namespace of the container it targets.
        let target = store.container(&ns.target_id)?;
        let Some(tpid) = pause_pid(ctx, &target.id).await else {
            return Err(Status::failed_precondition(format!(
                "target container {} is not running",
                target.id
            )));
        };
        join.push(("pid".to_string(), format!("/proc/{tpid}/ns/pid").into()));
    }
    let mut labels: std::collections::HashMap<String, String> = Default::default();
    labels.insert(super::KIND_LABEL.into(), "container".into());
    labels.insert(super::SANDBOX_LABEL.into(), sb.id.clone());
    let create = pb::CreateContainerRequest {
        name: name.clone(),
        image: image.clone(),
        options: Some(pb::RunOptions {
            entrypoint: config.command.clone(),
            cmd: config.args.clone(),
            env: config
                .envs
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect(),
            mounts: config
                .mounts
                .iter()
                .map(|m| pb::BindMount {
                    source: m.host_path.clone(),
                    destination: m.container_path.clone(),
                    readonly: m.readonly,
                })
                .collect(),
            user: sec.user.clone(),
            group_add: sec.group_add.clone(),
            cap_add: sec.cap_add.clone(),
            cap_drop: sec.cap_drop.clone(),
            privileged: sec.privileged,
            security_opt: sec.security_opt.clone(),
            resources: Some(pb::Resources::from(&limits)),
            workdir: config.working_dir.clone(),
            hostname,
            tty: config.tty,
            open_stdin: config.stdin,
            network: if sb.host_network {
                "host".into()
            } else {
                format!("container:{}", sb.id)
            },
            ..Default::default()
        }),
        labels,
    };
    let pod = PodOptions {
        join_namespaces: join,
        cgroups_path: cgroups_path(&sb.cgroup_parent, &name),
        read_only: sc.readonly_rootfs,
        devices: config
            .devices
            .iter()
            .map(|d| {
                (
                    d.host_path.clone(),
                    d.container_path.clone(),
                    d.permissions.clone(),
                )
            })
            .collect(),
        masked_paths: sec.masked_paths,
        readonly_paths: sec.readonly_paths,
        seccomp: sec.seccomp,
        propagation,
        ambient_capabilities: sec.ambient,
        ..Default::default()
    };
    let created = ctx
        .containers
        .create_in_pod(create, pod)
        .await
        .map_err(Status::from)?;
    let rec = CriContainerRecord {
        id: created.id.clone(),
        sandbox_id: sb.id.clone(),
        name: md.name,
        attempt: md.attempt,
        labels: config.labels.into_iter().collect(),
        annotations: config.annotations.into_iter().collect(),
        image,
        image_ref: image_id(&view),
        log_path: log,
        log_offset: 0,
        created_at: crate::metadata::now_nanos(),
        mounts: config
            .mounts
            .iter()
            .map(|m| (m.host_path.clone(), m.container_path.clone(), m.readonly))
            .collect(),
        propagation: config
            .mounts
            .iter()
            .filter(|m| m.propagation != 0)
            .map(|m| (m.container_path.clone(), m.propagation))
            .collect(),
    };
    if let Err(e) = store.put_container(&rec) {
        let _ = ctx.containers.delete(&rec.id, true).await;
        return Err(e);
    }
    Ok(rec.id)
}

/// The hostname of the sandbox's pause container (containers set the same one in the shared
/// UTS namespace, or they would rename the pod).
fn sandbox_hostname(ctx: &CriContext, sb: &SandboxRecord) -> String {
    ctx.containers
        .resolve(&sb.id)
        .ok()
        .map(|r| {
            if !r.options.hostname.is_empty() {
                return r.options.hostname;
            }
            r.options
                .network_plan
                .as_ref()
                .and_then(|p| p.hostname.clone())
                .unwrap_or_else(|| r.id.get(..12).unwrap_or(&r.id).to_string())
        })
        .unwrap_or_default()
}

/// StartContainer: only a container that never ran starts.
pub async fn start(ctx: &CriContext, store: &CriStore, q: &str) -> Result<(), Status> {
    let c = store.container(q)?;
    let rec = ctx.containers.resolve(&c.id).map_err(Status::from)?;
    if rec
        .last_run
        .as_ref()
        .is_some_and(|r| r.started_at.is_some() || r.finished_at.is_some())
    {
        return Err(Status::failed_precondition(format!(
            "container {} was already started",
            c.id
        )));
    }
    logs::create_file(&c)?;
    ctx.containers
        .start_task(&rec)
        .await
        .map(|_| ())
        .map_err(Status::from)
}

/// Stops one container: SIGTERM, then SIGKILL after `timeout` seconds.
pub async fn stop_one(
    ctx: &CriContext,
    store: &CriStore,
    c: &CriContainerRecord,
    timeout: i64,
) -> Result<(), Status> {
    let Ok(rec) = ctx.containers.resolve(&c.id) else {
        return Ok(());
    };
    ctx.containers
        .stop_task(
            &rec,
            libc::SIGTERM,
            Duration::from_secs(timeout.max(0) as u64),
        )
        .await
        .map_err(Status::from)?;
    logs::flush(ctx, store, &c.id).await;
    Ok(())
}

/// Removes one container (stopping it first); its log file stays for kubelet to clean.
pub async fn remove_one(
    ctx: &CriContext,
    store: &CriStore,
    c: &CriContainerRecord,
) -> Result<(), Status> {
    logs::flush(ctx, store, &c.id).await;
    match ctx.containers.delete(&c.id, true).await {
        Ok(_) | Err(crate::containers::ContainerError::Resolve(_)) => {}
        Err(e) => return Err(Status::from(e)),
    }
    store.remove_container(&c.id)
}

fn state_of(s: &pb::ContainerStatus) -> cri::ContainerState {
    match pb::ContainerState::try_from(s.state) {
        Ok(pb::ContainerState::Created) => cri::ContainerState::ContainerCreated,
        Ok(pb::ContainerState::Running) | Ok(pb::ContainerState::Paused) => {
            cri::ContainerState::ContainerRunning
        }
        Ok(pb::ContainerState::Exited) => cri::ContainerState::ContainerExited,
        _ => cri::ContainerState::ContainerUnknown,
    }
}

fn nanos(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref()
        .map(|t| t.seconds * 1_000_000_000 + t.nanos as i64)
        .unwrap_or(0)
}

async fn berth_status(ctx: &CriContext, id: &str) -> pb::ContainerStatus {
    match ctx.containers.resolve(id) {
        Ok(rec) => ctx
            .containers
            .status_of(&rec)
            .await
            .unwrap_or_else(|_| rec.stored_status()),
        Err(_) => pb::ContainerStatus::default(),
    }
}

fn metadata(c: &CriContainerRecord) -> cri::ContainerMetadata {
    cri::ContainerMetadata {
        name: c.name.clone(),
        attempt: c.attempt,
    }
}

/// ContainerStatus. The log is flushed after the state is read: an exit reported here was
/// recorded after the monitor wrote the last output, so a client that saw `EXITED` and reads the
/// log file next finds all of it (flushing first left a window where the container exited, with
/// lines not yet copied, between the two).
pub async fn status(
    ctx: &CriContext,
    store: &CriStore,
    q: &str,
    verbose: bool,
) -> Result<cri::ContainerStatusResponse, Status> {
    let c = store.container(q)?;
    let s = berth_status(ctx, &c.id).await;
    logs::flush(ctx, store, &c.id).await;
    let state = state_of(&s);
    let (reason, message) = match state {
        cri::ContainerState::ContainerExited if s.oom_killed => ("OOMKilled", s.error.clone()),
        cri::ContainerState::ContainerExited if s.exit_code == 0 => ("Completed", s.error.clone()),
        cri::ContainerState::ContainerExited => ("Error", s.error.clone()),
        _ => ("", String::new()),
    };
    let info = super::verbose_info(verbose.then(
        || serde_json::json!({ "pid": s.pid, "sandboxID": c.sandbox_id, "logPath": c.log_path }),
    ));
    Ok(cri::ContainerStatusResponse {
        status: Some(cri::ContainerStatus {
            id: c.id.clone(),
            metadata: Some(metadata(&c)),
            state: state as i32,
            created_at: c.created_at,
            started_at: nanos(&s.started_at),
            finished_at: nanos(&s.finished_at),
            exit_code: s.exit_code,
            image: Some(cri::ImageSpec {
                image: c.image.clone(),
                ..Default::default()
            }),
            image_ref: c.image_ref.clone(),
            reason: reason.into(),
            message,
            labels: c.labels.clone().into_iter().collect(),
            annotations: c.annotations.clone().into_iter().collect(),
            mounts: c
                .mounts
                .iter()
                .map(|(h, p, ro)| cri::Mount {
                    host_path: h.clone(),
                    container_path: p.clone(),
                    readonly: *ro,
                    propagation: c.propagation.get(p).copied().unwrap_or(0),
                    ..Default::default()
                })
                .collect(),
            log_path: c.log_path.clone(),
            resources: ctx
                .containers
                .resolve(&c.id)
                .ok()
                .map(|r| cri::ContainerResources {
                    linux: Some(resources::to_cri(&r.options.resources)),
                    windows: None,
                }),
            image_id: c.image_ref.clone(),
            user: None,
        }),
        info,
    })
}

/// ListContainers with its filter (id prefix, state, sandbox, labels).
pub async fn list(
    ctx: &CriContext,
    store: &CriStore,
    filter: Option<cri::ContainerFilter>,
) -> Result<Vec<cri::Container>, Status> {
    let f = filter.unwrap_or_default();
    let mut out = Vec::new();
    for c in store.containers()? {
        if !c.id.starts_with(&f.id)
            || !c.sandbox_id.starts_with(&f.pod_sandbox_id)
            || !matches_labels(&c.labels, &f.label_selector)
        {
            continue;
        }
        let state = state_of(&berth_status(ctx, &c.id).await);
        if f.state.as_ref().is_some_and(|s| s.state != state as i32) {
            continue;
        }
        out.push(cri::Container {
            id: c.id.clone(),
            pod_sandbox_id: c.sandbox_id.clone(),
            metadata: Some(metadata(&c)),
            image: Some(cri::ImageSpec {
                image: c.image.clone(),
                ..Default::default()
            }),
            image_ref: c.image_ref.clone(),
            state: state as i32,
            created_at: c.created_at,
            labels: c.labels.clone().into_iter().collect(),
            annotations: c.annotations.clone().into_iter().collect(),
            image_id: c.image_ref.clone(),
        });
    }
    Ok(out)
}

/// Whether the container's process runs now.
pub async fn is_running(ctx: &CriContext, id: &str) -> bool {
    state_of(&berth_status(ctx, id).await) == cri::ContainerState::ContainerRunning
}

/// UpdateContainerResources: berth's `update` path (the live task's cgroup and the bundle, so a
/// later start keeps the limits).
pub async fn update_resources(
    ctx: &CriContext,
    store: &CriStore,
    q: &str,
    r: Option<cri::LinuxContainerResources>,
) -> Result<(), Status> {
    let c = store.container(q)?;
    let Some(r) = r else {
        return Ok(());
    };
    ctx.containers
        .update(&c.id, "", Some(&resources::limits(&r)))
        .await
        .map(|_| ())
        .map_err(Status::from)
}
