//! berthd's configuration: a TOML file (default `/etc/berth/config.toml`) where every setting has a
//! default, overridden by command-line flags.
//!
//! ```toml
//! root = "/var/lib/berth"
//! state = "/run/berth"
//! address = "/run/berth/berthd.sock"
//! runtime = "berth-runc"
//! log_level = "info"
//!
//! [registries."127.0.0.1:5000"]
//! plain_http = true
//!
//! [registries."docker.io"]
//! mirrors = ["https://mirror.example"]
//!
//! [network]
//! bridge = "berth0"
//! subnet = "10.210.0.0/16"
//!
//! [unpack]
//! max_layer_size = 34359738368   # uncompressed bytes per layer
//! max_layer_ratio = 200          # uncompressed / compressed, past 16 MiB; 0 = off
//! [cri]
//! enable = true
//! socket = "/run/berth/cri.sock"   # default: <state>/cri.sock
//! stream_server_address = "127.0.0.1" # Exec/Attach/PortForward URLs (containerd's names)
//! stream_server_port = 0              # 0: an ephemeral port
//!
//! [logs]                 # defaults for containers run without --log-opt (none: no rotation)
//! max_size = "10m"       # Docker json-file's max-size (decimal units)
//! max_file = 3           # files kept, the live one included
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Default location of the configuration file; a missing file at this path is not an error.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/berth/config.toml";
/// Default persistent data directory.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// Default runtime state directory.
pub const DEFAULT_STATE: &str = "/run/berth";
/// Default gRPC socket path.
pub const DEFAULT_ADDRESS: &str = "/run/berth/berthd.sock";
/// Default OCI runtime binary.
pub const DEFAULT_RUNTIME: &str = "berth-runc";

/// Errors loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// File that failed.
        path: PathBuf,
        /// Underlying error.
        source: Box<toml::de::Error>,
    },
}

/// The daemon configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Persistent data: content store, metadata database, snapshots.
    pub root: PathBuf,
    /// Runtime state that does not survive a reboot: bundles, monitor sockets.
    pub state: PathBuf,
    /// Path of the gRPC unix socket.
    pub address: PathBuf,
    /// OCI runtime used for containers: a binary name looked up in PATH, or a path.
    pub runtime: String,
    /// Log filter for berthd (tracing `EnvFilter` syntax, e.g. "info" or "berth_manager=debug").
    pub log_level: String,
    /// Per-registry settings keyed by host (with port), e.g. "docker.io" or "127.0.0.1:5000".
    pub registries: BTreeMap<String, RegistryConfig>,
    /// Container networking (CNI).
    pub network: NetworkConfig,
    /// Limits on unpacking layers.
    pub unpack: UnpackConfig,
    /// The Kubernetes CRI front door.
    pub cri: CriConfig,
    /// Default log rotation of containers.
    pub logs: LogsConfig,
}

/// Default `--log-opt` of containers created without one (`[logs]`), as Docker's daemon-wide
/// `log-opts`: checked when berthd starts, stored on each container at its create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogsConfig {
    /// `max-size`, e.g. "10m"; `None`: no rotation.
    pub max_size: Option<String>,
    /// `max-file`: files kept when rotating.
    pub max_file: Option<i64>,
}

impl LogsConfig {
    /// The section as `--log-opt` keys and values.
    pub fn log_opts(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        if let Some(s) = &self.max_size {
            m.insert("max-size".to_string(), s.clone());
        }
        if let Some(n) = self.max_file {
            m.insert("max-file".to_string(), n.to_string());
        }
        m
    }
}

/// Limits applied to every layer unpacked (`[unpack]`); the unpacker's `UnpackLimits` is built
/// from these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnpackConfig {
    /// Largest uncompressed size of one layer, in bytes (32 GiB).
    pub max_layer_size: u64,
    /// Largest ratio of uncompressed to compressed size, checked past 16 MiB uncompressed
    /// (200); 0 disables the check.
    pub max_layer_ratio: u64,
}

impl Default for UnpackConfig {
    fn default() -> Self {
        UnpackConfig {
            max_layer_size: 32 * 1024 * 1024 * 1024,
            max_layer_ratio: 200,
        }
    }
}

/// The CRI v1 server (`[cri]`): on by default, on `<state>/cri.sock` unless `socket` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriConfig {
    /// Serve CRI at all.
    pub enable: bool,
    /// Socket path; `None` means `<state>/cri.sock` (so `--state` moves it too).
    pub socket: Option<PathBuf>,
    /// Address of the streaming server (loopback only by default: its URLs carry no other
    /// credential than their token).
    pub stream_server_address: std::net::IpAddr,
    /// Its port; 0 picks a free one at each start.
    pub stream_server_port: u16,
}

impl Default for CriConfig {
    fn default() -> Self {
        CriConfig {
            enable: true,
            socket: None,
            stream_server_address: std::net::Ipv4Addr::LOCALHOST.into(),
            stream_server_port: 0,
        }
    }
}

/// Container networking settings (`[network]`): where the CNI plugins and configuration lists
/// live (containerd's defaults, plus Debian's plugin directory) and the default bridge network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Directories searched for CNI plugin binaries, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// Directory of CNI configuration lists; berthd writes `berth-<network>.conflist` there.
    pub conf_dir: PathBuf,
    /// Linux bridge of the default network `bridge`.
    pub bridge: String,
    /// IPv4 subnet of the default network.
    pub subnet: String,
    /// Address pool `berth network create` takes /24 subnets from when none is given.
    pub pool: String,
    /// Limit for one CNI plugin execution, in seconds.
    pub plugin_timeout_secs: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            plugin_dirs: vec![PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")],
            conf_dir: PathBuf::from("/etc/cni/net.d"),
            bridge: "berth0".into(),
            subnet: "10.210.0.0/16".into(),
            pool: "10.211.0.0/16".into(),
            plugin_timeout_secs: 30,
        }
    }
}

/// Settings for one registry host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Mirror endpoints (URLs like "https://mirror.example") tried in order before the registry itself.
    pub mirrors: Vec<String>,
    /// Talk plain HTTP instead of HTTPS to this registry (for local test registries).
    pub plain_http: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: PathBuf::from(DEFAULT_ROOT),
            state: PathBuf::from(DEFAULT_STATE),
            address: PathBuf::from(DEFAULT_ADDRESS),
            runtime: DEFAULT_RUNTIME.to_string(),
            log_level: "info".to_string(),
            registries: BTreeMap::new(),
            network: NetworkConfig::default(),
            unpack: UnpackConfig::default(),
            cri: CriConfig::default(),
            logs: LogsConfig::default(),
        }
    }
}

impl Config {
    /// Parses a configuration from TOML text; `path` only names the source in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Loads the configuration. With `explicit` set the file must exist; otherwise the default path is
    /// read if present and defaults are used when it is missing.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_toml(&text, &path),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Settings for a registry host; defaults when the host is not configured.
    pub fn registry(&self, host: &str) -> RegistryConfig {
        self.registries.get(host).cloned().unwrap_or_default()
    }

    /// Path of the metadata database.
    pub fn metadata_path(&self) -> PathBuf {
        self.root.join("metadata.redb")
    }

    /// Path of the CRI socket: `[cri] socket`, else `<state>/cri.sock`.
    pub fn cri_socket(&self) -> PathBuf {
        self.cri
            .socket
            .clone()
            .unwrap_or_else(|| self.state.join("cri.sock"))
    }

    /// Path of the lock file that keeps a second daemon off the same root.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("berthd.lock")
    }

    /// Path of the lock file that keeps a second daemon off the same state dir (two daemons
    /// with different roots would otherwise share tasks, monitors and the runtime's state).
    pub fn state_lock_path(&self) -> PathBuf {
        self.state.join("berthd.lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::from_toml("", Path::new("x.toml")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.runtime, "berth-runc");
    }

    #[test]
    fn parses_registries_and_overrides() {
        let text = r#"
            root = "/tmp/r"
            runtime = "/usr/bin/runc"
            [registries."127.0.0.1:5000"]
            plain_http = true
            [registries."docker.io"]
            mirrors = ["https://m.example"]
        "#;
        let c = Config::from_toml(text, Path::new("x.toml")).unwrap();
        assert_eq!(c.root, PathBuf::from("/tmp/r"));
        assert_eq!(c.state, PathBuf::from(DEFAULT_STATE));
        assert_eq!(c.runtime, "/usr/bin/runc");
        assert!(c.registry("127.0.0.1:5000").plain_http);
        assert_eq!(c.registry("docker.io").mirrors, vec!["https://m.example"]);
        assert!(!c.registry("quay.io").plain_http);
    }

    #[test]
    fn network_section_overrides_defaults() {
        let c = Config::from_toml(
            "[network]\nbridge = \"bt1\"\nsubnet = \"10.99.0.0/24\"\nplugin_dirs = [\"/x\"]\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(c.network.bridge, "bt1");
        assert_eq!(c.network.subnet, "10.99.0.0/24");
        assert_eq!(c.network.plugin_dirs, vec![PathBuf::from("/x")]);
        assert_eq!(c.network.conf_dir, PathBuf::from("/etc/cni/net.d"));
        assert!(Config::from_toml("[network]\nbogus = 1\n", Path::new("x")).is_err());
    }

    #[test]
    fn unpack_section_overrides_defaults_of_the_unpacker() {
        let d = crate::unpack::UnpackLimits::default();
        let c = Config::default().unpack;
        assert_eq!(
            (c.max_layer_size, c.max_layer_ratio),
            (d.max_layer_size, d.max_layer_ratio)
        );
        let c = Config::from_toml("[unpack]\nmax_layer_ratio = 0\n", Path::new("x")).unwrap();
        assert_eq!(c.unpack.max_layer_ratio, 0);
        assert_eq!(c.unpack.max_layer_size, d.max_layer_size);
        assert!(Config::from_toml("[unpack]\nbogus = 1\n", Path::new("x")).is_err());
    }

    #[test]
    fn cri_socket_follows_state_unless_set() {
        let c = Config::from_toml("state = \"/tmp/s\"\n", Path::new("x")).unwrap();
        assert!(c.cri.enable);
        assert_eq!(c.cri_socket(), PathBuf::from("/tmp/s/cri.sock"));
        let c = Config::from_toml(
            "[cri]\nenable = false\nsocket = \"/tmp/c.sock\"\n",
            Path::new("x"),
        )
        .unwrap();
        assert!(!c.cri.enable);
        assert_eq!(c.cri_socket(), PathBuf::from("/tmp/c.sock"));
    }

    #[test]
    fn cri_streaming_server_is_loopback_on_any_port_unless_set() {
        let c = Config::default().cri;
        assert_eq!(
            (c.stream_server_address.to_string(), c.stream_server_port),
            ("127.0.0.1".to_string(), 0)
        );
        let c = Config::from_toml(
            "[cri]\nstream_server_address = \"::1\"\nstream_server_port = 10010\n",
            Path::new("x"),
        )
        .unwrap();
        assert_eq!(c.cri.stream_server_address.to_string(), "::1");
        assert_eq!(c.cri.stream_server_port, 10010);
        assert!(Config::from_toml(
            "[cri]\nstream_server_address = \"localhost\"\n",
            Path::new("x")
        )
        .is_err());
    }

    #[test]
    fn unknown_key_is_rejected_with_path() {
        let err = Config::from_toml("bogus = 1", Path::new("/etc/x.toml")).unwrap_err();
        assert!(err.to_string().contains("/etc/x.toml"), "{err}");
    }

    #[test]
    fn missing_explicit_file_is_error_missing_default_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        assert!(Config::load(Some(&missing)).is_err());
    }
}
