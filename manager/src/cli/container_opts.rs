//! Flags shared by `run` and `create`, and their translation into a `CreateContainerRequest`.

use anyhow::{bail, Context};
use berth_proto::v1 as pb;
use std::collections::HashMap;

/// Options that describe a container (Docker's `create`/`run` flags).
#[derive(Debug, Clone, clap::Args)]
pub struct ContainerFlags {
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to copy it from this shell).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Bind mount a host path: SRC:DST[:ro].
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// User to run as: name, uid or uid:gid.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Overwrite the image's ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container hostname.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Set a label (KEY=VALUE).
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Keep STDIN open even if not attached.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Publish a container's port(s) to the host: [hostIP:][hostPort:]containerPort[/tcp|udp].
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random host ports.
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Connect the container to a network: bridge, none, host, container:NAME or a network name.
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// Set custom DNS servers.
    #[arg(long = "dns")]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped,
    /// on-failure[:max-retries]).
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Add a host device to the container
    #[arg(long = "device")]
    pub device: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Log driver options (max-size, max-file)
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Resource limits.
    #[command(flatten)]
    pub resources: super::resource_opts::ResourceFlags,
    /// Image to create the container from.
    pub image: String,
    /// Command and arguments (replace the image's CMD).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Parses `SRC:DST[:ro|rw]`; the source must be an absolute host path.
pub fn parse_volume(spec: &str) -> anyhow::Result<pb::BindMount> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, destination, readonly) = match parts.as_slice() {
        [s, d] => (*s, *d, false),
        [s, d, "ro"] => (*s, *d, true),
        [s, d, "rw"] => (*s, *d, false),
        _ => bail!("invalid volume specification: '{spec}' (want SRC:DST[:ro])"),
    };
    if !source.starts_with('/') {
        bail!("invalid volume specification: '{spec}': the source must be an absolute host path (named volumes are not supported)");
    }
    if !destination.starts_with('/') {
        bail!("invalid volume specification: '{spec}': mount path must be absolute");
    }
    Ok(pb::BindMount {
        source: source.to_string(),
        destination: destination.to_string(),
        readonly,
    })
}

/// Expands `-e KEY` (no `=`) from the client's environment, like Docker; unset keys are dropped.
pub(super) fn expand_env(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect()
}

/// Parses `KEY=VALUE` labels (`KEY` alone means an empty value).
fn parse_labels(entries: &[String]) -> HashMap<String, String> {
    entries
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// `seccomp=FILE` becomes `seccomp=<the file's JSON, compacted>`, as Docker's client does: the
/// daemon never opens a path the client names.
fn inline_seccomp_profiles(opts: &[String]) -> anyhow::Result<Vec<String>> {
    opts.iter()
        .map(
            |opt| match crate::bundle::security::split_security_opt(opt) {
                Some(("seccomp", path)) if !matches!(path, "unconfined" | "builtin" | "") => {
                    let bytes = std::fs::read(path).map_err(|e| {
                        anyhow::anyhow!("opening seccomp profile ({path}) failed: {e}")
                    })?;
                    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                        anyhow::anyhow!("compacting json for seccomp profile ({path}) failed: {e}")
                    })?;
                    Ok(format!("seccomp={v}"))
                }
                _ => Ok(opt.clone()),
            },
        )
        .collect()
}

impl ContainerFlags {
    /// The create request these flags describe.
    pub fn to_request(&self) -> anyhow::Result<pb::CreateContainerRequest> {
        let mounts = self
            .volumes
            .iter()
            .map(|v| parse_volume(v))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("parsing -v")?;
        Ok(pb::CreateContainerRequest {
            name: self.name.clone().unwrap_or_default(),
            image: self.image.clone(),
            options: Some(pb::RunOptions {
                entrypoint: self.entrypoint.iter().cloned().collect(),
                cmd: self.command.clone(),
                env: expand_env(&self.env),
                mounts,
                user: self.user.clone().unwrap_or_default(),
                workdir: self.workdir.clone().unwrap_or_default(),
                hostname: self.hostname.clone().unwrap_or_default(),
                tty: self.tty,
                open_stdin: self.interactive,
                auto_remove: self.rm,
                publish: self.publish.clone(),
                publish_all: self.publish_all,
                network: self.network.clone().unwrap_or_default(),
                dns: self.dns.clone(),
                dns_search: self.dns_search.clone(),
                extra_hosts: self.add_host.clone(),
                restart_policy: self.restart.clone(),
                resources: self.resources.to_proto()?,
                cap_add: self.cap_add.clone(),
                cap_drop: self.cap_drop.clone(),
                privileged: self.privileged,
                read_only: self.read_only,
                security_opt: inline_seccomp_profiles(&self.security_opt)?,
                group_add: self
                    .group_add
                    .iter()
                    .filter_map(|g| g.parse().ok())
                    .collect(),
                group_add_names: self
                    .group_add
                    .iter()
                    .filter(|g| g.parse::<u32>().is_err())
                    .cloned()
                    .collect(),
                tmpfs: self.tmpfs.clone(),
                devices: self.device.clone(),
                init: self.init,
                // As Docker's client: `KEY` alone is sent with an empty value, berthd judges.
                log_opts: parse_labels(&self.log_opt),
            }),
            labels: parse_labels(&self.labels),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_parse_and_reject() {
        let m = parse_volume("/a:/b:ro").unwrap();
        assert_eq!(
            (m.source.as_str(), m.destination.as_str(), m.readonly),
            ("/a", "/b", true)
        );
        assert!(!parse_volume("/a:/b").unwrap().readonly);
        assert!(parse_volume("a:/b").is_err());
        assert!(parse_volume("/a:b").is_err());
        assert!(parse_volume("/a").is_err());
        assert!(parse_volume("/a:/b:xx").is_err());
    }

    #[test]
    fn labels_and_env() {
        let l = parse_labels(&["a=b".into(), "c".into()]);
        assert_eq!(l["a"], "b");
        assert_eq!(l["c"], "");
        assert_eq!(expand_env(&["X=1".into()]), vec!["X=1".to_string()]);
    }
}
