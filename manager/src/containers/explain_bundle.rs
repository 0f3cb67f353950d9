//! What `runtime create` was asked to set up, read back from the bundle's config.json, for the
//! detail of the "runtime create" step of `berth run --explain`.

use std::io::Read;
use std::path::Path;

/// config.json files are small; a larger one is not described (the runtime reads it, not us).
const MAX_CONFIG: u64 = 1 << 20;

/// "namespaces pid,ipc,…; 12 mounts; cgroup /berth/<id>" or why it could not be read.
pub fn describe(bundle_dir: &Path) -> String {
    let path = bundle_dir.join("config.json");
    let mut raw = Vec::new();
    let read = std::fs::File::open(&path).and_then(|f| f.take(MAX_CONFIG).read_to_end(&mut raw));
    if let Err(e) = read {
        return format!("(reading {}: {e})", path.display());
    }
    match serde_json::from_slice::<serde_json::Value>(&raw) {
        Ok(spec) => describe_spec(&spec),
        Err(e) => format!("(parsing {}: {e})", path.display()),
    }
}

fn describe_spec(spec: &serde_json::Value) -> String {
    let linux = spec.get("linux");
    let namespaces: Vec<&str> = linux
        .and_then(|l| l.get("namespaces"))
        .and_then(|n| n.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|n| n.get("type").and_then(|t| t.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mounts = spec
        .get("mounts")
        .and_then(|m| m.as_array())
        .map_or(0, Vec::len);
    let cgroup = linux
        .and_then(|l| l.get("cgroupsPath"))
        .and_then(|c| c.as_str())
        .unwrap_or("(runtime default)");
    format!(
        "namespaces {}; {mounts} mounts; cgroup {cgroup}",
        if namespaces.is_empty() {
            "(none)".to_string()
        } else {
            namespaces.join(",")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_is_summarised() {
        let spec = serde_json::json!({
            "mounts": [{"destination": "/proc"}, {"destination": "/dev"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}], "cgroupsPath": "/berth/x"}
        });
        assert_eq!(
            describe_spec(&spec),
            "namespaces pid,mount; 2 mounts; cgroup /berth/x"
        );
    }
}
