//! CNI network configuration lists: the one berthd writes for each of its bridge networks
//! (`<conf_dir>/berth-<name>.conflist`), reading them back, and the per-plugin configuration a
//! plugin gets on stdin (`name`, `cniVersion`, `prevResult`, `runtimeConfig`).

use super::cni::CNI_VERSION;
use super::ports::PortMapping;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// A parsed `.conflist`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfList {
    /// cniVersion.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// Network name.
    pub name: String,
    /// The plugins, in ADD order.
    pub plugins: Vec<Plugin>,
}

/// One plugin entry (kept as JSON: every plugin has its own keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Plugin(pub Map<String, Value>);

impl Plugin {
    /// Its `type` (the binary name).
    pub fn plugin_type(&self) -> String {
        self.0
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    fn has_capability(&self, cap: &str) -> bool {
        self.0
            .get("capabilities")
            .and_then(|c| c.get(cap))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Reading or writing a conflist failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfListError {
    /// I/O.
    #[error("CNI config {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a conflist.
    #[error("CNI config {path}: {message}")]
    Parse {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

/// The settings of one berth bridge network that its conflist is generated from.
#[derive(Debug, Clone)]
pub struct BridgeSettings<'a> {
    /// Network name (CNI network name too).
    pub name: &'a str,
    /// Linux bridge interface.
    pub bridge: &'a str,
    /// IPv4 subnet, e.g. `10.210.0.0/16`.
    pub subnet: &'a str,
    /// Gateway (the bridge's address).
    pub gateway: &'a str,
    /// host-local's lease directory.
    pub ipam_dir: &'a Path,
}

impl ConfList {
    /// Docker-like bridge networking from Debian's plugins: `bridge` (gateway, masquerade of
    /// outbound traffic, hairpin so a container reaches its own published ports) with `host-local`
    /// addresses, `portmap` (published ports; `snat` makes them reachable on 127.0.0.1), `firewall`
    /// (accepts the network's forwarded traffic even when FORWARD's policy is DROP) and `tuning`.
    pub fn bridge(s: &BridgeSettings<'_>) -> Self {
        let plugins = [
            json!({
                "type": "bridge",
                "bridge": s.bridge,
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": s.subnet, "gateway": s.gateway}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": s.ipam_dir,
                }
            }),
            json!({"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}),
            json!({"type": "firewall", "backend": "iptables"}),
            json!({"type": "tuning"}),
        ];
        ConfList {
            cni_version: CNI_VERSION.to_string(),
            name: s.name.to_string(),
            plugins: plugins
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(Plugin(m)),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The bridge of a `bridge` plugin that masquerades (`ipMasq`), if the list has one: its DEL
    /// may leave the container's masquerade rule behind (`super::ipmasq`).
    pub fn masquerading_bridge(&self) -> Option<&str> {
        self.plugins.iter().find_map(|p| {
            let masq = p.0.get("ipMasq").and_then(Value::as_bool) == Some(true);
            (p.plugin_type() == "bridge" && masq)
                .then(|| p.0.get("bridge").and_then(Value::as_str).unwrap_or("cni0"))
        })
    }

    /// The loopback list: `lo` up in the container's namespace (every mode but host).
    pub fn loopback() -> Self {
        let mut m = Map::new();
        m.insert("type".into(), json!("loopback"));
        ConfList {
            cni_version: CNI_VERSION.to_string(),
            name: "berth-loopback".into(),
            plugins: vec![Plugin(m)],
        }
    }

    /// Reads a `.conflist` file.
    pub fn load(path: &Path) -> Result<Self, ConfListError> {
        let text = std::fs::read(path).map_err(|source| ConfListError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let list: ConfList = serde_json::from_slice(&text).map_err(|e| ConfListError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if list.plugins.is_empty() || list.plugins.iter().any(|p| p.plugin_type().is_empty()) {
            return Err(ConfListError::Parse {
                path: path.to_path_buf(),
                message: "every plugin needs a \"type\", and there must be at least one".into(),
            });
        }
        Ok(list)
    }

    /// Writes it atomically (mode 0644, as CNI configs are) to `path`.
    pub fn store(&self, path: &Path) -> Result<(), ConfListError> {
        let io = |source| ConfListError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| ConfListError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Rewritten from the network record whenever it is missing: no fsync needed.
        crate::atomic_file::replace(path, &json, 0o644, crate::atomic_file::Durability::None)
            .map_err(io)
    }

    /// What plugin `p` reads on stdin: its entry plus `name`, `cniVersion`, `prevResult` and the
    /// `runtimeConfig` of the capabilities it declares.
    pub fn plugin_config(&self, p: &Plugin, prev: Option<&Value>, ports: &[PortMapping]) -> Value {
        let mut m = p.0.clone();
        m.insert("name".into(), json!(self.name));
        m.insert("cniVersion".into(), json!(self.cni_version));
        if let Some(prev) = prev {
            m.insert("prevResult".into(), prev.clone());
        }
        if p.has_capability("portMappings") {
            let pm: Vec<Value> = ports
                .iter()
                .map(|pm| {
                    let mut e = json!({
                        "hostPort": pm.host_port,
                        "containerPort": pm.container_port,
                        "protocol": pm.protocol.as_str(),
                    });
                    if !pm.host_ip.is_unspecified() {
                        e["hostIP"] = json!(pm.host_ip.to_string());
                    }
                    e
                })
                .collect();
            m.insert("runtimeConfig".into(), json!({ "portMappings": pm }));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::Protocol;

    #[test]
    fn bridge_list_round_trips_and_feeds_plugins() {
        let dir = tempfile::tempdir().unwrap();
        let l = ConfList::bridge(&BridgeSettings {
            name: "bridge",
            bridge: "berth0",
            subnet: "10.210.0.0/16",
            gateway: "10.210.0.1",
            ipam_dir: Path::new("/var/lib/berth/cni/networks"),
        });
        let p = dir.path().join("berth-bridge.conflist");
        l.store(&p).unwrap();
        let back = ConfList::load(&p).unwrap();
        assert_eq!(back, l);
        let types: Vec<String> = l.plugins.iter().map(Plugin::plugin_type).collect();
        assert_eq!(types, ["bridge", "portmap", "firewall", "tuning"]);
        let ports = [PortMapping {
            host_ip: std::net::Ipv4Addr::UNSPECIFIED,
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        }];
        let prev = json!({"cniVersion": "1.0.0", "ips": []});
        let c = l.plugin_config(&l.plugins[1], Some(&prev), &ports);
        assert_eq!(c["name"], "bridge");
        assert_eq!(c["prevResult"], prev);
        assert_eq!(c["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
        let b = l.plugin_config(&l.plugins[0], None, &ports);
        assert!(b.get("runtimeConfig").is_none());
        assert!(b.get("prevResult").is_none());
    }

    #[test]
    fn a_list_without_plugin_types_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.conflist");
        std::fs::write(&p, r#"{"cniVersion":"1.0.0","name":"x","plugins":[{}]}"#).unwrap();
        assert!(ConfList::load(&p).is_err());
    }
}
