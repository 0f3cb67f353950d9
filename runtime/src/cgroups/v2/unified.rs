//! `linux.resources.unified`: raw cgroup2 file names and values, checked before they are written.

use std::collections::HashMap;
use std::path::Path;

use super::super::{fs, CgroupError};

/// Core files that move or kill processes: writing them from a config would bypass the runtime.
const FORBIDDEN: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.kill",
    "cgroup.subtree_control",
];

/// Validates a key and returns the controller it belongs to (`None` for `cgroup.*` core files).
pub fn controller_of(key: &str) -> Result<Option<&str>, CgroupError> {
    let valid = !key.is_empty()
        && !key.starts_with('.')
        && key.contains('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    if !valid {
        return Err(CgroupError::Invalid(format!(
            "linux.resources.unified key {key:?} is not a cgroup2 file name"
        )));
    }
    if FORBIDDEN.contains(&key) {
        return Err(CgroupError::Invalid(format!(
            "linux.resources.unified key {key:?} may not be set from the config"
        )));
    }
    let prefix = key.split('.').next().unwrap_or(key);
    Ok(if prefix == "cgroup" {
        None
    } else {
        Some(prefix)
    })
}

/// Writes each key's value into `dir`, in sorted key order for determinism.
pub(crate) fn set(dir: &Path, u: &HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        controller_of(k)?;
        if !fs::exists(dir, k) {
            return Err(CgroupError::Unsupported(format!(
                "linux.resources.unified key {k:?}: {} does not exist",
                dir.join(k).display()
            )));
        }
        fs::write(dir, k, &u[k])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_keys() {
        assert_eq!(controller_of("memory.high").unwrap(), Some("memory"));
        assert_eq!(controller_of("hugetlb.2MB.max").unwrap(), Some("hugetlb"));
        assert_eq!(controller_of("cgroup.max.depth").unwrap(), None);
        assert!(controller_of("../memory.max").is_err());
        assert!(controller_of("memory/max").is_err());
        assert!(controller_of("cgroup.procs").is_err());
        assert!(controller_of("nodot").is_err());
    }
}
