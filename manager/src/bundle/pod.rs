//! Spec settings only a CRI pod asks for, beyond Docker's flags: the pod's sysctls, devices by
//! host path, the security context's masked/read-only paths and seccomp profile, bind mount
//! propagation and resolv.conf `options`. Applied after [`super::security`], so a CRI value
//! replaces Docker's default.

use super::BundleError;
use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// The seccomp choice of a pod member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Seccomp {
    /// What every berth container gets.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// This OCI `linux.seccomp` object (JSON text).
    Profile(String),
    /// Docker's default profile ([`super::seccomp`]) resolved against the final capabilities.
    RuntimeDefault,
}

/// A host device to create in the container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// Device node on the host.
    pub host_path: String,
    /// Where it appears in the container (empty: the host path).
    pub container_path: String,
    /// cgroup access: any of `r`, `w`, `m` (empty: `rwm`).
    pub permissions: String,
}

/// What a pod member asks for; empty / `None` / `Default` means berth's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpec {
    /// `linux.sysctl` entries.
    pub sysctls: Vec<(String, String)>,
    /// Devices by host path.
    pub devices: Vec<Device>,
    /// Replaces `linux.maskedPaths` when set.
    pub masked_paths: Option<Vec<String>>,
    /// Replaces `linux.readonlyPaths` when set.
    pub readonly_paths: Option<Vec<String>>,
    /// Seccomp filter.
    pub seccomp: Seccomp,
    /// Bind mount propagation by destination: (`/data`, `rprivate` | `rslave` | `rshared`).
    pub propagation: Vec<(String, String)>,
    /// resolv.conf `options` (e.g. `ndots:5`).
    pub dns_options: Vec<String>,
    /// Ambient capabilities (`CAP_` names): a non-root process keeps them across exec, so they
    /// go into every set.
    pub ambient_capabilities: Vec<String>,
}

fn invalid(option: &str, reason: String) -> BundleError {
    BundleError::InvalidOption {
        option: option.into(),
        reason,
    }
}

/// The capability sets of an OCI process; an ambient capability must be in all of them.
const CAPABILITY_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "permitted",
    "inheritable",
    "ambient",
];

/// The array at `v`, which becomes an empty one first if it is anything else (a base spec
/// may lack the list, or have null there).
fn array_at(v: &mut Value) -> Option<&mut Vec<Value>> {
    if !v.is_array() {
        *v = json!([]);
    }
    v.as_array_mut()
}

/// The OCI device entry and cgroup rule for a host device node.
fn device(d: &Device) -> Result<(Value, Value), BundleError> {
    let meta = std::fs::metadata(&d.host_path).map_err(|source| BundleError::Io {
        op: "stat device",
        path: d.host_path.clone().into(),
        source,
    })?;
    let ft = meta.file_type();
    let typ = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err(invalid(
            "device",
            format!("{} is not a character or block device", d.host_path),
        ));
    };
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let access = if d.permissions.is_empty() {
        "rwm".to_string()
    } else if d.permissions.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        d.permissions.clone()
    } else {
        return Err(invalid(
            "device",
            format!(
                "{}: permissions {:?} are not a subset of \"rwm\"",
                d.host_path, d.permissions
            ),
        ));
    };
    let path = if d.container_path.is_empty() {
        d.host_path.clone()
    } else {
        d.container_path.clone()
    };
    if !path.starts_with('/') {
        return Err(invalid(
            "device",
            format!("container path {path:?} is not absolute"),
        ));
    }
    Ok((
        json!({"path": path, "type": typ, "major": major, "minor": minor,
               "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid()}),
        json!({"allow": true, "type": typ, "major": major, "minor": minor, "access": access}),
    ))
}

/// Writes `p` into the spec (a JSON object of the runtime spec).
pub fn apply(spec: &mut Value, p: &PodSpec) -> Result<(), BundleError> {
    if !spec["linux"].is_object() {
        spec["linux"] = json!({});
    }
    let linux = &mut spec["linux"];
    if !p.sysctls.is_empty() {
        let map: serde_json::Map<String, Value> = p
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        linux["sysctl"] = Value::Object(map);
    }
    if let Some(m) = &p.masked_paths {
        linux["maskedPaths"] = json!(m);
    }
    if let Some(r) = &p.readonly_paths {
        linux["readonlyPaths"] = json!(r);
    }
    match &p.seccomp {
        // Resolved last, once the capabilities below are final.
        Seccomp::Default | Seccomp::RuntimeDefault => {}
        Seccomp::Unconfined => {
            if let Some(o) = linux.as_object_mut() {
                o.remove("seccomp");
            }
        }
        Seccomp::Profile(text) => {
            let v: Value = serde_json::from_str(text)
                .map_err(|e| invalid("seccomp profile", e.to_string()))?;
            linux["seccomp"] = v;
        }
    }
    for d in &p.devices {
        let (node, rule) = device(d)?;
        if let Some(a) = array_at(&mut linux["devices"]) {
            a.push(node);
        }
        if !linux["resources"].is_object() {
            linux["resources"] = json!({});
        }
        if let Some(a) = array_at(&mut linux["resources"]["devices"]) {
            a.push(rule);
        }
    }
    if !p.ambient_capabilities.is_empty() {
        let caps = &mut spec["process"]["capabilities"];
        for set in CAPABILITY_SETS {
            if let Some(a) = array_at(&mut caps[set]) {
                for c in &p.ambient_capabilities {
                    if !a.iter().any(|x| x == c.as_str()) {
                        a.push(json!(c));
                    }
                }
            }
        }
    }
    let mut root_propagation: Option<&str> = None;
    for (dest, prop) in &p.propagation {
        if !matches!(prop.as_str(), "rprivate" | "rslave" | "rshared") {
            return Err(invalid(
                "mount propagation",
                format!("{prop:?} for {dest} (rprivate, rslave or rshared)"),
            ));
        }
        let Some(mounts) = spec["mounts"].as_array_mut() else {
            continue;
        };
        for m in mounts
            .iter_mut()
            .filter(|m| m["destination"] == dest.as_str())
        {
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| {
                    !matches!(
                        o.as_str(),
                        Some("private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared")
                    )
                });
                opts.push(json!(prop));
            }
        }
        // Mount events reach a bind mount only through its parents: the container's root must
        // propagate at least as much (runc's and containerd's rule).
        root_propagation = match (root_propagation, prop.as_str()) {
            (_, "rshared") | (Some("rshared"), _) => Some("rshared"),
            (_, "rslave") | (Some("rslave"), _) => Some("rslave"),
            (other, _) => other,
        };
    }
    if let Some(rp) = root_propagation {
        spec["linux"]["rootfsPropagation"] = json!(rp);
    }
    if p.seccomp == Seccomp::RuntimeDefault {
        super::seccomp::apply(spec, &super::seccomp::Choice::DockerDefault)?;
    }
    Ok(())
}

/// `resolv` with an `options` line for `options` (a base `options` line is replaced).
pub fn with_dns_options(resolv: String, options: &[String]) -> String {
    if options.is_empty() {
        return resolv;
    }
    let mut out: String = resolv
        .lines()
        .filter(|l| l.split_whitespace().next() != Some("options"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("options {}\n", options.join(" ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_settings_replace_defaults() {
        let mut spec = json!({
            "linux": {"maskedPaths": ["/proc/kcore"], "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}},
            "mounts": [{"destination": "/data", "type": "bind", "source": "/x",
                        "options": ["rbind", "rprivate"]}],
        });
        let p = PodSpec {
            sysctls: vec![("kernel.shm_rmid_forced".into(), "1".into())],
            devices: vec![Device {
                host_path: "/dev/null".into(),
                container_path: "/dev/mynull".into(),
                permissions: "rw".into(),
            }],
            masked_paths: Some(vec![]),
            seccomp: Seccomp::Unconfined,
            propagation: vec![("/data".into(), "rslave".into())],
            ..Default::default()
        };
        apply(&mut spec, &p).unwrap();
        assert_eq!(spec["linux"]["sysctl"]["kernel.shm_rmid_forced"], "1");
        assert_eq!(spec["linux"]["maskedPaths"], json!([]));
        assert!(spec["linux"].get("seccomp").is_none());
        assert_eq!(spec["linux"]["devices"][0]["path"], "/dev/mynull");
        assert_eq!(spec["linux"]["devices"][0]["type"], "c");
        assert_eq!(spec["linux"]["devices"][0]["major"], 1);
        assert_eq!(spec["linux"]["devices"][0]["minor"], 3);
        assert_eq!(spec["linux"]["resources"]["devices"][0]["access"], "rw");
        assert_eq!(spec["mounts"][0]["options"], json!(["rbind", "rslave"]));
        assert_eq!(spec["linux"]["rootfsPropagation"], "rslave");

        let bad = PodSpec {
            devices: vec![Device {
                host_path: "/etc/hostname".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(apply(&mut json!({}), &bad).is_err());
        let profile = PodSpec {
            seccomp: Seccomp::Profile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.into()),
            ..Default::default()
        };
        let mut s = json!({});
        apply(&mut s, &profile).unwrap();
        assert_eq!(s["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        let mut c = json!({"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}});
        let ambient = PodSpec {
            ambient_capabilities: vec!["CAP_NET_BIND_SERVICE".into()],
            ..Default::default()
        };
        apply(&mut c, &ambient).unwrap();
        for set in CAPABILITY_SETS {
            assert!(
                c["process"]["capabilities"][set]
                    .as_array()
                    .unwrap()
                    .contains(&json!("CAP_NET_BIND_SERVICE")),
                "{set}: {c}"
            );
        }
        assert_eq!(c["process"]["capabilities"]["bounding"][0], "CAP_CHOWN");
    }

    #[test]
    fn dns_options_line() {
        let r = with_dns_options(
            "nameserver 10.0.0.1\noptions rotate\n".into(),
            &["ndots:5".into()],
        );
        assert_eq!(r, "nameserver 10.0.0.1\noptions ndots:5\n");
        assert_eq!(with_dns_options("x\n".into(), &[]), "x\n");
    }
}
