//! `--device HOST[:CONTAINER][:PERMISSIONS]` and the host devices of `--privileged` containers,
//! as Docker's client parses them and its daemon adds them: a `linux.devices` node with the host
//! node's type, numbers, mode and owner, and a device cgroup rule allowing it.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::BundleError;

/// One `--device` value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMapping {
    /// The host path (a device node, or a directory of them).
    pub host: PathBuf,
    /// The path in the container (default: the host path).
    pub container: String,
    /// Cgroup permissions: a non-empty subset of `rwm`.
    pub permissions: String,
}

fn valid_mode(m: &str) -> bool {
    !m.is_empty() && m.len() <= 3 && m.chars().all(|c| "rwm".contains(c)) && {
        let mut seen = std::collections::HashSet::new();
        m.chars().all(|c| seen.insert(c))
    }
}

fn invalid(reason: String) -> BundleError {
    BundleError::Refused(reason)
}

/// Parses `HOST[:CONTAINER][:PERMISSIONS]` with the Docker client's rules and messages.
pub fn parse_device(spec: &str) -> Result<DeviceMapping, BundleError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, perms) = match parts.as_slice() {
        [s] => (*s, *s, "rwm"),
        [s, x] if valid_mode(x) => (*s, *s, *x),
        [s, d] => (*s, *d, "rwm"),
        [s, d, p] => (*s, *d, *p),
        _ => return Err(invalid(format!("invalid device specification: {spec}"))),
    };
    if !valid_mode(perms) {
        return Err(invalid(format!("bad mode specified: {perms}")));
    }
    for p in [src, dst] {
        if !p.starts_with('/') {
            return Err(invalid(format!("{p} is not an absolute path")));
        }
    }
    Ok(DeviceMapping {
        host: PathBuf::from(src),
        container: dst.to_string(),
        permissions: perms.to_string(),
    })
}

/// A device node found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: &'static str,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The node at `path`, `None` when it is not a character or block device.
fn node(path: &Path) -> std::io::Result<Option<Node>> {
    let m = std::fs::symlink_metadata(path)?;
    let ft = m.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Ok(None);
    };
    let rdev = m.rdev();
    Ok(Some(Node {
        kind,
        major: nix::sys::stat::major(rdev),
        minor: nix::sys::stat::minor(rdev),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }))
}

/// Every device node below `dir`, as runc's `GetDevices` walks /dev for Docker's privileged
/// containers: not the pts, shm, fd and mqueue directories (the container has its own) nor
/// `console`.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, Node)>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let path = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            if matches!(
                name.to_str(),
                Some("pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev")
            ) {
                continue;
            }
            walk(&path, out)?;
        } else if name == "console" {
            continue;
        } else if let Ok(Some(n)) = node(&path) {
            out.push((path, n));
        }
    }
    Ok(())
}

fn device_entry(path: &str, n: &Node) -> Value {
    json!({"path": path, "type": n.kind, "major": n.major, "minor": n.minor,
           "fileMode": n.mode, "uid": n.uid, "gid": n.gid})
}

/// Adds the `--device` values and (for `--privileged`) every host device to `spec` (a JSON
/// runtime spec), with their cgroup rules; privileged containers may use any device, as Docker's.
pub fn apply(spec: &mut Value, devices: &[String], privileged: bool) -> Result<(), BundleError> {
    let mut entries = Vec::new();
    let mut rules = Vec::new();
    if privileged {
        let mut found = Vec::new();
        walk(Path::new("/dev"), &mut found).map_err(|source| BundleError::Io {
            op: "list host devices in",
            path: "/dev".into(),
            source,
        })?;
        for (path, n) in &found {
            entries.push(device_entry(&path.display().to_string(), n));
        }
        rules.push(json!({"allow": true, "access": "rwm"}));
    }
    for d in devices {
        let m = parse_device(d)?;
        let gather = |reason: String| {
            invalid(format!(
                "error gathering device information while adding custom device {:?}: {reason}",
                m.host.display().to_string()
            ))
        };
        let meta = std::fs::symlink_metadata(&m.host).map_err(|e| gather(e.to_string()))?;
        let mut found = Vec::new();
        if meta.is_dir() {
            walk(&m.host, &mut found).map_err(|e| gather(e.to_string()))?;
        } else {
            match node(&m.host).map_err(|e| gather(e.to_string()))? {
                Some(n) => found.push((m.host.clone(), n)),
                None => return Err(gather("not a device node".into())),
            }
        }
        for (path, n) in &found {
            // A directory's nodes keep their place below the container path.
            let rel = path.strip_prefix(&m.host).unwrap_or(Path::new(""));
            let dst = if rel.as_os_str().is_empty() {
                m.container.clone()
            } else {
                Path::new(&m.container).join(rel).display().to_string()
            };
            entries.push(device_entry(&dst, n));
            rules.push(json!({"allow": true, "type": n.kind, "major": n.major,
                              "minor": n.minor, "access": m.permissions}));
        }
    }
    if entries.is_empty() && rules.is_empty() {
        return Ok(());
    }
    let linux = &mut spec["linux"];
    let mut all: Vec<Value> = linux["devices"].as_array().cloned().unwrap_or_default();
    for e in entries {
        // One node per container path: a later --device wins over a host device of the same path.
        all.retain(|x| x["path"] != e["path"]);
        all.push(e);
    }
    linux["devices"] = Value::Array(all);
    let res = &mut linux["resources"];
    let mut cg: Vec<Value> = res["devices"].as_array().cloned().unwrap_or_default();
    cg.extend(rules);
    res["devices"] = Value::Array(cg);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_specs_as_dockers_client() {
        let d = parse_device("/dev/fuse").unwrap();
        assert_eq!(
            (d.container.as_str(), d.permissions.as_str()),
            ("/dev/fuse", "rwm")
        );
        let d = parse_device("/dev/fuse:r").unwrap();
        assert_eq!(
            (d.container.as_str(), d.permissions.as_str()),
            ("/dev/fuse", "r")
        );
        let d = parse_device("/dev/fuse:/dev/f2").unwrap();
        assert_eq!(d.container, "/dev/f2");
        let d = parse_device("/dev/fuse:/dev/f2:rw").unwrap();
        assert_eq!(d.permissions, "rw");
        for (bad, msg) in [
            ("/a:/b:/c:/d", "invalid device specification"),
            ("/dev/fuse:/x:rwx", "bad mode specified: rwx"),
            ("dev/fuse", "dev/fuse is not an absolute path"),
            ("/dev/fuse:x", "x is not an absolute path"),
        ] {
            let e = parse_device(bad).unwrap_err().to_string();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn devices_go_into_the_spec_with_a_rule() {
        let mut spec =
            json!({"linux": {"resources": {"devices": [{"allow": false, "access": "rwm"}]}}});
        apply(&mut spec, &["/dev/null:/dev/mynull:rw".into()], false).unwrap();
        assert_eq!(spec["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(spec["linux"]["devices"][0]["type"], "c");
        assert_eq!(spec["linux"]["devices"][0]["major"], 1);
        assert_eq!(spec["linux"]["devices"][0]["minor"], 3);
        assert_eq!(spec["linux"]["resources"]["devices"][1]["access"], "rw");
        let e = apply(&mut spec, &["/etc/passwd".into()], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a device node"), "{e}");
        let e = apply(&mut spec, &["/dev/nope-nope".into()], false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "error gathering device information while adding custom device \"/dev/nope-nope\""
            ),
            "{e}"
        );
        let mut p = json!({"linux": {}});
        apply(&mut p, &[], true).unwrap();
        let devs = p["linux"]["devices"].as_array().unwrap();
        assert!(devs.iter().any(|d| d["path"] == "/dev/null"), "{p}");
        assert!(!devs.iter().any(|d| d["path"] == "/dev/console"));
        assert_eq!(
            p["linux"]["resources"]["devices"],
            json!([{"allow": true, "access": "rwm"}])
        );
    }
}
