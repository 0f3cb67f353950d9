//! Running CNI plugins (CNI spec 1.0): each plugin of a network configuration list is executed
//! with the `CNI_*` environment and its configuration on stdin; ADD chains the results through
//! `prevResult`, DEL runs the list in reverse with the cached result, CHECK forward with it.
//! Every execution has a timeout, and a missing plugin binary is named with how to install it.

use super::conflist::ConfList;
use super::ports::PortMapping;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The CNI spec version berthd speaks (Debian's plugins 1.1 implement it).
pub const CNI_VERSION: &str = "1.0.0";

/// The PATH plugins (and berthd's own iptables calls beside them) run with: the usual one.
pub const PLUGIN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A plugin execution that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CniError {
    /// No executable of that name in any plugin directory.
    #[error("CNI plugin \"{plugin}\" not found in {dirs} (install Debian's containernetworking-plugins: apt-get install containernetworking-plugins, or set [network] plugin_dirs in config.toml)")]
    NotFound {
        /// Plugin type.
        plugin: String,
        /// The directories searched, colon-separated.
        dirs: String,
    },
    /// The plugin did not finish in time (it was killed).
    #[error("CNI plugin \"{plugin}\" {command} for network {network} timed out after {secs}s")]
    Timeout {
        /// Plugin type.
        plugin: String,
        /// ADD, DEL or CHECK.
        command: &'static str,
        /// Network name.
        network: String,
        /// The limit.
        secs: u64,
    },
    /// The plugin reported an error (CNI error object, or its stderr).
    #[error("CNI plugin \"{plugin}\" {command} for network {network} failed: {message}")]
    Failed {
        /// Plugin type.
        plugin: String,
        /// ADD, DEL or CHECK.
        command: &'static str,
        /// Network name.
        network: String,
        /// The plugin's own words.
        message: String,
    },
    /// It could not be started or talked to.
    #[error("running CNI plugin {path}: {message}")]
    Exec {
        /// The binary.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

/// Where plugins are looked up and how long each may take.
#[derive(Debug, Clone)]
pub struct Cni {
    /// Plugin directories, searched in order (CNI_PATH).
    pub plugin_dirs: Vec<PathBuf>,
    /// Limit for one plugin execution.
    pub timeout: Duration,
}

/// What a plugin is told about the container (the CNI_* variables and runtimeConfig).
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    /// CNI_CONTAINERID.
    pub container_id: &'a str,
    /// CNI_NETNS.
    pub netns: &'a Path,
    /// CNI_IFNAME.
    pub ifname: &'a str,
    /// runtimeConfig.portMappings, for plugins with that capability.
    pub ports: &'a [PortMapping],
}

/// The three CNI operations berthd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Attach.
    Add,
    /// Detach.
    Del,
    /// Verify.
    Check,
}

impl Command {
    fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
        }
    }
}

impl Cni {
    /// The plugin binary for `plugin` (a plain name; anything with a slash is refused).
    pub fn find(&self, plugin: &str) -> Result<PathBuf, CniError> {
        let not_found = || CniError::NotFound {
            plugin: plugin.to_string(),
            dirs: self.cni_path(),
        };
        if plugin.is_empty() || plugin.contains('/') || plugin.starts_with('.') {
            return Err(not_found());
        }
        self.plugin_dirs
            .iter()
            .map(|d| d.join(plugin))
            .find(|p| p.is_file())
            .ok_or_else(not_found)
    }

    fn cni_path(&self) -> String {
        self.plugin_dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Checks that every plugin of `list` is installed (before anything is attached).
    pub fn check_installed(&self, list: &ConfList) -> Result<(), CniError> {
        for p in &list.plugins {
            self.find(&p.plugin_type())?;
        }
        Ok(())
    }

    /// ADD of every plugin in order; returns the final result (to cache for DEL and CHECK).
    /// On failure the plugins already added are deleted again before the error is returned.
    pub async fn add(&self, list: &ConfList, at: &Attachment<'_>) -> Result<Value, CniError> {
        let mut prev: Option<Value> = None;
        for (i, p) in list.plugins.iter().enumerate() {
            let conf = list.plugin_config(p, prev.as_ref(), at.ports);
            match self
                .exec(Command::Add, &list.name, &p.plugin_type(), &conf, at)
                .await
            {
                Ok(r) => prev = r.or(prev),
                Err(e) => {
                    // Undo in reverse, including the failed one (it may have done part of its work).
                    for q in list.plugins[..=i].iter().rev() {
                        let conf = list.plugin_config(q, prev.as_ref(), at.ports);
                        if let Err(d) = self
                            .exec(Command::Del, &list.name, &q.plugin_type(), &conf, at)
                            .await
                        {
                            tracing::warn!(error = %d, "CNI DEL after a failed ADD");
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(prev.unwrap_or_else(|| json!({ "cniVersion": CNI_VERSION })))
    }

    /// DEL of every plugin in reverse order with the cached result; every plugin is tried, the
    /// first error is returned.
    pub async fn del(
        &self,
        list: &ConfList,
        at: &Attachment<'_>,
        cached: Option<&Value>,
    ) -> Result<(), CniError> {
        let mut first = None;
        for p in list.plugins.iter().rev() {
            let conf = list.plugin_config(p, cached, at.ports);
            if let Err(e) = self
                .exec(Command::Del, &list.name, &p.plugin_type(), &conf, at)
                .await
            {
                tracing::warn!(error = %e, "CNI DEL");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// CHECK of every plugin with the cached result.
    pub async fn check(
        &self,
        list: &ConfList,
        at: &Attachment<'_>,
        cached: &Value,
    ) -> Result<(), CniError> {
        for p in &list.plugins {
            let conf = list.plugin_config(p, Some(cached), at.ports);
            let plugin = p.plugin_type();
            match self
                .exec(Command::Check, &list.name, &plugin, &conf, at)
                .await
            {
                // Debian's portmap 1.1 fails CHECK of every IPv4-only endpoint: it looks for
                // the IPv6 chains it never made (fixed upstream after 1.1). Its own failure is
                // then no evidence; the other plugins' CHECKs still count.
                Err(CniError::Failed { ref message, .. })
                    if plugin == "portmap" && !has_ipv6(cached) =>
                {
                    tracing::debug!(
                        container = at.container_id,
                        message,
                        "portmap CHECK of an IPv4-only endpoint ignored"
                    );
                }
                r => {
                    r?;
                }
            }
        }
        Ok(())
    }

    /// Runs one plugin; `Ok(None)` when it printed no result (DEL, CHECK).
    async fn exec(
        &self,
        command: Command,
        network: &str,
        plugin: &str,
        conf: &Value,
        at: &Attachment<'_>,
    ) -> Result<Option<Value>, CniError> {
        let path = self.find(plugin)?;
        let exec_err = |m: String| CniError::Exec {
            path: path.clone(),
            message: m,
        };
        let mut cmd = tokio::process::Command::new(&path);
        cmd.env_clear()
            .env("CNI_COMMAND", command.as_str())
            .env("CNI_CONTAINERID", at.container_id)
            .env("CNI_NETNS", at.netns)
            .env("CNI_IFNAME", at.ifname)
            .env("CNI_ARGS", "")
            .env("CNI_PATH", self.cni_path())
            // Plugins run iptables and ip: give them the usual PATH.
            .env("PATH", PLUGIN_PATH)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let (mut child, _claim) =
            crate::children::spawn(&mut cmd).map_err(|e| exec_err(e.to_string()))?;
        let input = serde_json::to_vec(conf).map_err(|e| exec_err(e.to_string()))?;
        let run = async {
            if let Some(mut stdin) = child.stdin.take() {
                // A plugin that fails before reading its config closes the pipe early; its
                // own error output is what matters then.
                match stdin.write_all(&input).await {
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
                    _ => {}
                }
            }
            child.wait_with_output().await
        };
        let out = match tokio::time::timeout(self.timeout, run).await {
            Ok(r) => r.map_err(|e| exec_err(e.to_string()))?,
            // Dropping the future drops the child, which kill_on_drop kills.
            Err(_) => {
                return Err(CniError::Timeout {
                    plugin: plugin.to_string(),
                    command: command.as_str(),
                    network: network.to_string(),
                    secs: self.timeout.as_secs(),
                })
            }
        };
        let stdout: Option<Value> = serde_json::from_slice(&out.stdout).ok();
        if !out.status.success() {
            let message = stdout.as_ref().and_then(error_message).unwrap_or_else(|| {
                let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
                if e.is_empty() {
                    format!("exited with {}", out.status)
                } else {
                    e
                }
            });
            return Err(CniError::Failed {
                plugin: plugin.to_string(),
                command: command.as_str(),
                network: network.to_string(),
                message,
            });
        }
        Ok(if command == Command::Add {
            stdout
        } else {
            None
        })
    }
}

/// The message of a CNI error object (`{"code": N, "msg": "...", "details": "..."}`).
fn error_message(v: &Value) -> Option<String> {
    let msg = v.get("msg")?.as_str()?;
    let details = v.get("details").and_then(Value::as_str).unwrap_or("");
    Some(if details.is_empty() {
        msg.to_string()
    } else {
        format!("{msg}: {details}")
    })
}

/// The container side of an ADD result: address (with prefix), gateway and MAC of `ifname`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerAddress {
    /// IPv4 address without prefix.
    pub ip: String,
    /// Prefix length.
    pub prefix_len: u8,
    /// Gateway.
    pub gateway: String,
    /// MAC address of the container interface.
    pub mac: String,
}

/// Reads the container's address from a CNI 1.0 result (`ips[].interface` indexes `interfaces`).
pub fn container_address(result: &Value, ifname: &str) -> Option<ContainerAddress> {
    let ifaces = result.get("interfaces").and_then(Value::as_array);
    let is_ours = |idx: Option<u64>| -> bool {
        match (idx, ifaces) {
            (Some(i), Some(list)) => {
                list.get(i as usize)
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    == Some(ifname)
            }
            _ => true,
        }
    };
    let ip = result.get("ips")?.as_array()?.iter().find(|ip| {
        is_ours(ip.get("interface").and_then(Value::as_u64))
            && ip
                .get("address")
                .and_then(Value::as_str)
                .is_some_and(|a| !a.contains(':'))
    })?;
    let (addr, prefix) = ip.get("address")?.as_str()?.split_once('/')?;
    let mac = ifaces
        .and_then(|l| {
            l.iter().find(|f| {
                f.get("name").and_then(Value::as_str) == Some(ifname) && f.get("sandbox").is_some()
            })
        })
        .and_then(|f| f.get("mac"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(ContainerAddress {
        ip: addr.to_string(),
        prefix_len: prefix.parse().ok()?,
        gateway: ip
            .get("gateway")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        mac: mac.to_string(),
    })
}

/// Whether a cached CNI result has an IPv6 address.
fn has_ipv6(result: &Value) -> bool {
    result
        .get("ips")
        .and_then(Value::as_array)
        .is_some_and(|ips| {
            ips.iter().any(|ip| {
                ip.get("address")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.contains(':'))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_container_interface_of_a_bridge_result() {
        let r = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name": "berth0", "mac": "aa:aa:aa:aa:aa:aa"},
                {"name": "veth1", "mac": "bb:bb:bb:bb:bb:bb"},
                {"name": "eth0", "mac": "02:42:0a:00:00:02", "sandbox": "/run/berth/netns/x"}
            ],
            "ips": [{"interface": 2, "address": "10.210.0.2/16", "gateway": "10.210.0.1"}]
        });
        let a = container_address(&r, "eth0").unwrap();
        assert_eq!(a.ip, "10.210.0.2");
        assert_eq!(a.prefix_len, 16);
        assert_eq!(a.gateway, "10.210.0.1");
        assert_eq!(a.mac, "02:42:0a:00:00:02");
    }

    #[test]
    fn error_objects_and_missing_plugins_are_worded() {
        let v = json!({"code": 7, "msg": "failed to allocate", "details": "range full"});
        assert_eq!(error_message(&v).unwrap(), "failed to allocate: range full");
        let cni = Cni {
            plugin_dirs: vec![PathBuf::from("/nonexistent-cni")],
            timeout: Duration::from_secs(1),
        };
        let e = cni.find("bridge").unwrap_err().to_string();
        assert!(
            e.contains("\"bridge\" not found in /nonexistent-cni"),
            "{e}"
        );
        assert!(
            e.contains("apt-get install containernetworking-plugins"),
            "{e}"
        );
        assert!(cni.find("../bin/sh").is_err());
    }

    #[tokio::test]
    async fn a_hanging_plugin_times_out_and_a_failing_one_reports_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write("hang", "#!/bin/sh\nexec sleep 30\n");
        write(
            "fail",
            "#!/bin/sh\necho '{\"code\":11,\"msg\":\"no way\"}'\nexit 1\n",
        );
        let cni = Cni {
            plugin_dirs: vec![dir.path().to_path_buf()],
            timeout: Duration::from_millis(500),
        };
        let at = Attachment {
            container_id: "c1",
            netns: Path::new("/nonexistent"),
            ifname: "eth0",
            ports: &[],
        };
        let conf = json!({"cniVersion": CNI_VERSION, "name": "n"});
        let e = cni
            .exec(Command::Add, "n", "hang", &conf, &at)
            .await
            .unwrap_err();
        assert!(matches!(e, CniError::Timeout { .. }), "{e}");
        let e = cni
            .exec(Command::Add, "n", "fail", &conf, &at)
            .await
            .unwrap_err();
        assert!(e.to_string().ends_with("failed: no way"), "{e}");
    }
}
