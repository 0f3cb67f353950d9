//! API conversions of the stored container record: `pb::Container`, `pb::ContainerStatus`,
//! `pb::RunOptions` and its `pb::Resources`. The plain record types live with their table in
//! `crate::metadata::containers`.

use crate::limits::ResourceLimits;
pub use crate::metadata::containers::{BindMount, ContainerRecord, LastRun, RunOptions};
use berth_proto::v1 as pb;
use std::path::PathBuf;

/// Nanoseconds since the epoch to a protobuf timestamp.
pub fn ts(nanos: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000),
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
    }
}

impl From<&pb::Resources> for ResourceLimits {
    fn from(r: &pb::Resources) -> Self {
        Self {
            memory: r.memory,
            memory_swap: r.memory_swap,
            memory_reservation: r.memory_reservation,
            nano_cpus: r.nano_cpus,
            cpu_shares: r.cpu_shares,
            cpuset_cpus: r.cpuset_cpus.clone(),
            pids_limit: r.pids_limit,
            ulimits: r.ulimits.clone(),
            oom_score_adj: r.oom_score_adj_set.then_some(r.oom_score_adj),
            shm_size: r.shm_size,
        }
    }
}

impl From<&ResourceLimits> for pb::Resources {
    fn from(l: &ResourceLimits) -> Self {
        Self {
            memory: l.memory,
            memory_swap: l.memory_swap,
            memory_reservation: l.memory_reservation,
            nano_cpus: l.nano_cpus,
            cpu_shares: l.cpu_shares,
            cpuset_cpus: l.cpuset_cpus.clone(),
            pids_limit: l.pids_limit,
            ulimits: l.ulimits.clone(),
            // The API has no optional scalars: `_set` says whether the score was asked for.
            oom_score_adj: l.oom_score_adj.unwrap_or(0),
            oom_score_adj_set: l.oom_score_adj.is_some(),
            shm_size: l.shm_size,
        }
    }
}

impl From<&pb::RunOptions> for RunOptions {
    fn from(o: &pb::RunOptions) -> Self {
        Self {
            entrypoint: o.entrypoint.clone(),
            cmd: o.cmd.clone(),
            env: o.env.clone(),
            mounts: o
                .mounts
                .iter()
                .map(|m| BindMount {
                    source: PathBuf::from(&m.source),
                    destination: m.destination.clone(),
                    readonly: m.readonly,
                })
                .collect(),
            user: o.user.clone(),
            workdir: o.workdir.clone(),
            hostname: o.hostname.clone(),
            tty: o.tty,
            open_stdin: o.open_stdin,
            auto_remove: o.auto_remove,
            publish: o.publish.clone(),
            publish_all: o.publish_all,
            network: o.network.clone(),
            dns: o.dns.clone(),
            dns_search: o.dns_search.clone(),
            extra_hosts: o.extra_hosts.clone(),
            restart_policy: o.restart_policy.clone(),
            cap_add: o.cap_add.clone(),
            cap_drop: o.cap_drop.clone(),
            privileged: o.privileged,
            read_only: o.read_only,
            security_opt: o.security_opt.clone(),
            group_add: o.group_add.clone(),
            resources: o
                .resources
                .as_ref()
                .map(ResourceLimits::from)
                .unwrap_or_default(),
            group_add_names: o.group_add_names.clone(),
            tmpfs: o.tmpfs.clone(),
            devices: o.devices.clone(),
            init: o.init,
            log_opts: o.log_opts.clone().into_iter().collect(),
            default_seccomp: false,
            network_plan: None,
            pod: Default::default(),
        }
    }
}

impl From<&RunOptions> for pb::RunOptions {
    fn from(o: &RunOptions) -> Self {
        Self {
            entrypoint: o.entrypoint.clone(),
            cmd: o.cmd.clone(),
            env: o.env.clone(),
            mounts: o
                .mounts
                .iter()
                .map(|m| pb::BindMount {
                    source: m.source.display().to_string(),
                    destination: m.destination.clone(),
                    readonly: m.readonly,
                })
                .collect(),
            user: o.user.clone(),
            workdir: o.workdir.clone(),
            hostname: o.hostname.clone(),
            tty: o.tty,
            open_stdin: o.open_stdin,
            auto_remove: o.auto_remove,
            publish: o.publish.clone(),
            publish_all: o.publish_all,
            network: o.network.clone(),
            dns: o.dns.clone(),
            dns_search: o.dns_search.clone(),
            extra_hosts: o.extra_hosts.clone(),
            restart_policy: o.restart_policy.clone(),
            cap_add: o.cap_add.clone(),
            cap_drop: o.cap_drop.clone(),
            privileged: o.privileged,
            read_only: o.read_only,
            security_opt: o.security_opt.clone(),
            group_add: o.group_add.clone(),
            group_add_names: o.group_add_names.clone(),
            tmpfs: o.tmpfs.clone(),
            devices: o.devices.clone(),
            init: o.init,
            log_opts: o.log_opts.clone().into_iter().collect(),
            resources: Some(pb::Resources::from(&o.resources)),
        }
    }
}

impl ContainerRecord {
    /// The API message, with `status` filled in by the caller.
    pub fn to_proto(&self, status: pb::ContainerStatus) -> pb::Container {
        pb::Container {
            id: self.id.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            image_digest: self.image_digest.clone(),
            args: self.args.clone(),
            created_at: Some(ts(self.created_at)),
            labels: self.labels.clone().into_iter().collect(),
            options: Some((&self.options).into()),
            snapshot_key: self.snapshot_key.clone(),
            bundle_dir: self.bundle_dir.display().to_string(),
            log_path: self.log_path.display().to_string(),
            runtime: self.runtime.clone(),
            status: Some(status),
            network_settings: self
                .options
                .network_plan
                .as_ref()
                .map(|p| pb::NetworkSettings {
                    mode: p.mode.display(),
                    ports: p.ports.iter().map(port_binding).collect(),
                    ..Default::default()
                }),
            // Live, filled in by `Containers`.
            exec_ids: Vec::new(),
        }
    }

    /// Status from the stored last run only (no live task): EXITED if it ran, else CREATED.
    pub fn stored_status(&self) -> pb::ContainerStatus {
        match &self.last_run {
            None => pb::ContainerStatus {
                state: pb::ContainerState::Created as i32,
                ..Default::default()
            },
            Some(run) => pb::ContainerStatus {
                // A start that failed leaves an exit code and error but no start time: Docker
                // shows such a container as Created. One that started but has no task any more
                // exited, possibly with an unknown code.
                state: if run.started_at.is_some() {
                    pb::ContainerState::Exited as i32
                } else {
                    pb::ContainerState::Created as i32
                },
                pid: 0,
                started_at: run.started_at.map(ts),
                finished_at: run.finished_at.map(ts),
                exit_code: run.exit_code.unwrap_or(0),
                exit_code_known: run.exit_code.is_some(),
                oom_killed: run.oom_killed,
                error: run.error.clone(),
                restart_count: run.restart_count,
                restarting: false,
            },
        }
    }
}

/// A published port as the API describes it.
pub fn port_binding(m: &crate::metadata::networks::PortMapping) -> pb::PortBinding {
    pb::PortBinding {
        host_ip: m.host_ip.to_string(),
        host_port: m.host_port.into(),
        container_port: m.container_port.into(),
        protocol: m.protocol.as_str().to_string(),
    }
}
