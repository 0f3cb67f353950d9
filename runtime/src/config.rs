//! Loading and checking a bundle's config.json before anything is created.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::{Error, Result};

/// A parsed config.json with the paths `create` needs resolved.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute bundle directory.
    pub dir: PathBuf,
    /// Absolute rootfs directory.
    pub rootfs: PathBuf,
    /// The parsed spec.
    pub spec: Spec,
}

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Reads `<bundle>/config.json`, parses it and rejects what this runtime cannot honour.
pub fn load(bundle: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(bundle).map_err(|e| Error::Io {
        context: format!("bundle {}", bundle.display()),
        source: e,
    })?;
    let path = dir.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| Error::Io {
        context: format!("read {}", path.display()),
        source: e,
    })?;
    let spec = parse(&path, &bytes)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| bad(&path, "root must be set"))?;
    let rootfs = dir.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| Error::Io {
        context: format!("rootfs {}", rootfs.display()),
        source: e,
    })?;
    if !rootfs.is_dir() {
        return Err(bad(
            &path,
            format!("rootfs {} is not a directory", rootfs.display()),
        ));
    }
    check(&path, &spec)?;
    Ok(Bundle { dir, rootfs, spec })
}

/// Parses config.json; `linux.seccomp` is checked on the raw JSON first so that a bad action,
/// operator or index is reported with the path of the field (serde's errors name neither).
/// Public for the fuzz target; `create` reaches it through [`load`].
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Spec> {
    let invalid = |e: serde_json::Error| bad(path, format!("invalid config: {e}"));
    let mut raw: serde_json::Value = serde_json::from_slice(bytes).map_err(invalid)?;
    if let Some(v) = raw.pointer("/linux/seccomp").filter(|v| !v.is_null()) {
        let verdict = crate::seccomp::validate::check(v).map_err(|e| bad(path, e.to_string()))?;
        if verdict == crate::seccomp::validate::Verdict::Disabled {
            // runc treats a profile without defaultAction and syscalls as no seccomp at all.
            if let Some(linux) = raw.get_mut("linux").and_then(|l| l.as_object_mut()) {
                linux.remove("seccomp");
            }
            return serde_json::from_value(raw).map_err(invalid);
        }
    }
    drop(raw);
    serde_json::from_slice(bytes).map_err(invalid)
}

/// The warning for a config whose ociVersion is newer than this runtime implements (a later
/// 1.x), or `None`. Versions 1.0.0 to 1.2.x are silent; other majors are refused by [`check`].
pub fn version_warning(spec: &Spec) -> Option<String> {
    let (major, minor) = parse_version(spec.version())?;
    (major == 1 && minor > 2).then(|| {
        format!(
            "config.json ociVersion {} is newer than the runtime-spec {} berth-runc implements; \
             fields it does not know are ignored",
            spec.version(),
            crate::OCI_VERSION
        )
    })
}

/// `major.minor` of an ociVersion like `1.0.2-dev`.
fn parse_version(v: &str) -> Option<(u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    match parts.next() {
        None => {}
        Some(p) if p.parse::<u64>().is_ok() => {}
        Some(_) => return None,
    }
    parts.next().is_none().then_some((major, minor))
}

/// Rejects configs that are incomplete or ask for something berth-runc does not implement.
pub fn check(path: &Path, spec: &Spec) -> Result<()> {
    match parse_version(spec.version()) {
        Some((1, _)) => {}
        _ => {
            return Err(bad(
                path,
                format!(
                    "ociVersion {:?} is not supported: berth-runc implements runtime-spec 1.x (1.0.0 to {})",
                    spec.version(),
                    crate::OCI_VERSION
                ),
            ))
        }
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| bad(path, "process must be set"))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(bad(path, "process.args must not be empty"));
    }
    if !process.cwd().is_absolute() {
        return Err(bad(
            path,
            format!("process.cwd {:?} must be an absolute path", process.cwd()),
        ));
    }
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| bad(path, "linux must be set"))?;
    if linux.intel_rdt().is_some() {
        return Err(Error::Unsupported("intelRdt".into()));
    }
    if linux.personality().is_some() {
        return Err(Error::Unsupported("linux.personality".into()));
    }
    if process
        .apparmor_profile()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(Error::Unsupported("apparmor".into()));
    }
    if process
        .selinux_label()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(Error::Unsupported("selinux".into()));
    }
    let namespaces = linux.namespaces().as_deref().unwrap_or_default();
    let mut seen = Vec::new();
    for ns in namespaces {
        if seen.contains(&ns.typ()) {
            return Err(bad(path, format!("duplicate namespace {}", ns.typ())));
        }
        seen.push(ns.typ());
    }
    let has = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t);
    if has(LinuxNamespaceType::User)
        && namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none())
    {
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty())
            || linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty())
        {
            return Err(bad(
                path,
                "a new user namespace needs linux.uidMappings and linux.gidMappings",
            ));
        }
    } else if linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(bad(
            path,
            "linux.uidMappings given without a new user namespace",
        ));
    }
    for (kind, maps) in [
        ("uidMappings", linux.uid_mappings()),
        ("gidMappings", linux.gid_mappings()),
    ] {
        crate::namespaces::check_id_maps(kind, maps.as_deref().unwrap_or_default())
            .map_err(|e| bad(path, e.to_string()))?;
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(bad(
            path,
            "unable to set hostname without a private UTS namespace",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(bad(
            path,
            "unable to set domainname without a private UTS namespace",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
        && !has(LinuxNamespaceType::Time)
    {
        return Err(bad(
            path,
            "linux.timeOffsets given without a time namespace",
        ));
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            if key.is_empty() || key.contains("..") || key.starts_with(['/', '.']) {
                return Err(bad(path, format!("invalid sysctl name {key:?}")));
            }
        }
    }
    for m in spec.mounts().as_deref().unwrap_or_default() {
        if !m.destination().is_absolute() {
            return Err(bad(
                path,
                format!("mount destination {:?} must be absolute", m.destination()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(f: impl FnOnce(&mut serde_json::Value)) -> Result<()> {
        let mut v = crate::spec::default_spec();
        f(&mut v);
        let spec: Spec =
            serde_json::from_value(v).map_err(|e| Error::InvalidArgument(e.to_string()))?;
        check(Path::new("config.json"), &spec)
    }

    #[test]
    fn oci_versions() {
        for v in ["1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.2.1"] {
            spec_with(|s| s["ociVersion"] = serde_json::json!(v)).unwrap();
            let mut s = crate::spec::default_spec();
            s["ociVersion"] = serde_json::json!(v);
            let spec: Spec = serde_json::from_value(s).unwrap();
            assert_eq!(version_warning(&spec), None, "{v}");
        }
        let mut s = crate::spec::default_spec();
        s["ociVersion"] = serde_json::json!("1.3.0");
        let spec: Spec = serde_json::from_value(s).unwrap();
        check(Path::new("config.json"), &spec).unwrap();
        assert!(version_warning(&spec).unwrap().contains("1.3.0"));
    }

    #[test]
    fn seccomp_errors_name_the_field() {
        let dir = std::env::temp_dir().join(format!("berth-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let mut v = crate::spec::default_spec();
        v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOPE"}]});
        let e = parse(&path, &serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.seccomp.syscalls[0].action: unknown action"),
            "{e}"
        );
        v["linux"]["seccomp"] = serde_json::json!({});
        let spec = parse(&path, &serde_json::to_vec(&v).unwrap()).unwrap();
        assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn default_spec_is_accepted() {
        spec_with(|_| {}).unwrap();
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(spec_with(|v| v["process"]["args"] = serde_json::json!([])).is_err());
        spec_with(|v| {
            v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"})
        })
        .unwrap();
        assert!(spec_with(|v| v["ociVersion"] = serde_json::json!("2.0.0"))
            .unwrap_err()
            .to_string()
            .contains("ociVersion \"2.0.0\" is not supported"));
        assert!(spec_with(|v| v["ociVersion"] = serde_json::json!("garbage")).is_err());
        assert!(
            spec_with(|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "foo"}])).is_err()
        );
        assert!(
            spec_with(|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]))
                .is_err()
        );
        assert!(
            spec_with(|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}])).is_err()
        );
        assert!(spec_with(|v| v["process"]["cwd"] = serde_json::json!("rel")).is_err());
    }

    #[test]
    fn id_maps_beyond_32_bits_are_refused() {
        let with_maps = |uid: serde_json::Value| {
            spec_with(|v| {
                v["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"type": "user"}));
                v["linux"]["uidMappings"] = uid;
                v["linux"]["gidMappings"] =
                    serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            })
        };
        with_maps(serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]))
            .unwrap();
        let e =
            with_maps(serde_json::json!([{"containerID": 0, "hostID": 4294967295u64, "size": 2}]))
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("uidMappings") && e.contains("beyond the 32-bit"),
            "{e}"
        );
    }
}
