//! `berth inspect`: containers as a JSON array (our own schema; documented in docs/containers.md).

use super::daemon_error;
use super::format::to_system_time;
use berth_proto::v1::{self as pb, containers_client::ContainersClient};
use serde_json::{json, Value};
use tonic::transport::Channel;

fn time(ts: &Option<prost_types::Timestamp>) -> Value {
    match ts {
        Some(t) => {
            let st = to_system_time(t);
            Value::String(
                chrono::DateTime::<chrono::Utc>::from(st)
                    .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            )
        }
        None => Value::Null,
    }
}

/// The JSON document for one container.
pub fn to_json(c: &pb::Container) -> Value {
    let st = c.status.clone().unwrap_or_default();
    let state = pb::ContainerState::try_from(st.state)
        .unwrap_or(pb::ContainerState::Unspecified)
        .as_str_name()
        .trim_start_matches("CONTAINER_STATE_")
        .to_ascii_lowercase();
    let o = c.options.clone().unwrap_or_default();
    json!({
        "Id": c.id,
        "Name": c.name,
        "Image": c.image,
        "ImageDigest": c.image_digest,
        "Args": c.args,
        "Created": time(&c.created_at),
        "Labels": c.labels,
        "RestartCount": st.restart_count,
        // Docker's: the running execs' ids, null when there are none.
        "ExecIDs": null_if_empty(&c.exec_ids),
        "State": {
            "Status": state,
            "Running": st.state == pb::ContainerState::Running as i32,
            "Paused": st.state == pb::ContainerState::Paused as i32,
            "Restarting": st.restarting,
            "Pid": st.pid,
            "ExitCode": if st.exit_code_known { json!(st.exit_code) } else { Value::Null },
            "OOMKilled": st.oom_killed,
            "Error": st.error,
            "StartedAt": time(&st.started_at),
            "FinishedAt": time(&st.finished_at),
        },
        "Config": {
            "Entrypoint": o.entrypoint,
            "Cmd": o.cmd,
            "Env": o.env,
            "User": o.user,
            "WorkingDir": o.workdir,
            "Hostname": o.hostname,
            "Tty": o.tty,
            "OpenStdin": o.open_stdin,
            "AutoRemove": o.auto_remove,
        },
        "Mounts": o.mounts.iter().map(|m| json!({
            "Source": m.source, "Destination": m.destination, "RW": !m.readonly,
        })).collect::<Vec<_>>(),
        "HostConfig": {
            "NetworkMode": c.network_settings.as_ref().map(|n| n.mode.clone()).unwrap_or_default(),
            "PortBindings": port_map(c.network_settings.as_ref().map(|n| &n.ports[..]).unwrap_or(&[])),
            "Dns": o.dns,
            "DnsSearch": o.dns_search,
            "ExtraHosts": o.extra_hosts,
            "RestartPolicy": restart_policy(&o.restart_policy),
            "Privileged": o.privileged,
            "ReadonlyRootfs": o.read_only,
            "CapAdd": null_if_empty(&o.cap_add),
            "CapDrop": null_if_empty(&o.cap_drop),
            "SecurityOpt": null_if_empty(&o.security_opt),
            "GroupAdd": null_if_empty(
                &o.group_add.iter().map(u32::to_string).chain(o.group_add_names.iter().cloned())
                    .collect::<Vec<_>>()),
            "Tmpfs": if o.tmpfs.is_empty() { Value::Null } else {
                o.tmpfs.iter().map(|t| {
                    let (p, opts) = t.split_once(':').unwrap_or((t, ""));
                    (p.to_string(), json!(opts))
                }).collect::<serde_json::Map<_, _>>().into()
            },
            "Devices": null_if_empty(&o.devices),
            "Init": if o.init { json!(true) } else { Value::Null },
            // json-file's options and rotated names (<log>.1, …); the lines are CRI-formatted.
            "LogConfig": {
                "Type": "json-file",
                "Config": o.log_opts.iter().collect::<std::collections::BTreeMap<_, _>>(),
            },
        },
        "NetworkSettings": network_settings(c.network_settings.as_ref()),
        "SnapshotKey": c.snapshot_key,
        "BundleDir": c.bundle_dir,
        "LogPath": c.log_path,
        "Runtime": c.runtime,
    })
}

/// Docker shows an unset list as `null`.
fn null_if_empty<T: serde::Serialize>(v: &[T]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// Docker's `{"Name": "on-failure", "MaximumRetryCount": 2}`.
fn restart_policy(p: &str) -> Value {
    let (name, max) = p.split_once(':').unwrap_or((p, "0"));
    let name = if name.is_empty() { "no" } else { name };
    json!({"Name": name, "MaximumRetryCount": max.parse::<u32>().unwrap_or(0)})
}

/// Docker's `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`.
fn port_map(ports: &[pb::PortBinding]) -> Value {
    let mut m = serde_json::Map::new();
    for p in ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = m.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = entry {
            a.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
        }
    }
    Value::Object(m)
}

/// `NetworkSettings`: address, gateway, MAC and ports while the network is up (empty otherwise,
/// as Docker shows a stopped container).
fn network_settings(ns: Option<&pb::NetworkSettings>) -> Value {
    let Some(ns) = ns else {
        return Value::Null;
    };
    let up = ns.attached;
    let mut networks = serde_json::Map::new();
    if up && !ns.network.is_empty() {
        networks.insert(
            ns.network.clone(),
            json!({
                "IPAddress": ns.ip_address, "IPPrefixLen": ns.ip_prefix_len,
                "Gateway": ns.gateway, "MacAddress": ns.mac_address,
            }),
        );
    }
    json!({
        "SandboxKey": ns.sandbox_key,
        "IPAddress": ns.ip_address,
        "IPPrefixLen": ns.ip_prefix_len,
        "Gateway": ns.gateway,
        "MacAddress": ns.mac_address,
        "Ports": if up { port_map(&ns.ports) } else { json!({}) },
        "Networks": networks,
    })
}

/// `berth inspect` flags.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Format output using a custom template: 'json', or a Go template such as
    /// '{{.State.ExitCode}}'
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Containers.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `berth inspect`.
pub async fn inspect(ch: Channel, args: InspectArgs) -> anyhow::Result<i32> {
    let format = super::format::Format::parse(args.format.as_deref())?;
    let mut out = Vec::new();
    let mut failed = false;
    for name in &args.containers {
        match ContainersClient::new(ch.clone())
            .get(pb::GetContainerRequest { id: name.clone() })
            .await
        {
            Ok(r) => {
                if let Some(c) = r.into_inner().container {
                    out.push(to_json(&c));
                }
            }
            Err(s) => {
                eprintln!("{:#}", daemon_error(s));
                failed = true;
            }
        }
    }
    match format {
        super::format::Format::Table => {
            println!("{}", serde_json::to_string_pretty(&Value::Array(out))?)
        }
        f => print!("{}", f.render_rows(&out, &|_| None)?.unwrap_or_default()),
    }
    Ok(if failed { 1 } else { 0 })
}
