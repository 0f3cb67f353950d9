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
    let spec: Spec =
        serde_json::from_slice(&bytes).map_err(|e| bad(&path, format!("invalid config: {e}")))?;
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

/// Rejects configs that are incomplete or ask for something berth-runc does not implement.
pub fn check(path: &Path, spec: &Spec) -> Result<()> {
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
    if linux.seccomp().is_some() {
        return Err(Error::Unsupported("seccomp".into()));
    }
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
    fn default_spec_is_accepted() {
        spec_with(|_| {}).unwrap();
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(spec_with(|v| v["process"]["args"] = serde_json::json!([])).is_err());
        assert!(spec_with(
            |v| v["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"})
        )
        .unwrap_err()
        .to_string()
        .contains("seccomp is not supported yet"));
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
}
