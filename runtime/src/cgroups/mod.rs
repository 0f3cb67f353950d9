//! Control groups: placing the container in `linux.cgroupsPath` on cgroup v1 (and hybrid) and v2 hosts.
//!
//! INTERFACE CONTRACT (the lifecycle code calls only these items; the bodies are filled in by the cgroups work).

use std::path::PathBuf;

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub mod v1;
pub mod v2;

/// Errors from cgroup operations; each names the cgroup file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A cgroup file or directory operation failed.
    #[error("cgroup {path}: {source}")]
    Io {
        /// The file or directory that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The config asks for something this runtime does not implement on this host.
    #[error("cgroup: {0} is not supported")]
    Unsupported(String),
    /// The config's cgroup settings are invalid.
    #[error("cgroup: invalid configuration: {0}")]
    Invalid(String),
}

/// A container's cgroup, on whichever cgroup version the host runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    /// The resolved cgroup path (absolute within the hierarchy, e.g. `/berth-runc/abc`).
    pub path: PathBuf,
}

impl Cgroup {
    /// Resolves `linux.cgroupsPath` (or the default for `id` when absent) without touching the filesystem.
    pub fn new(cgroups_path: Option<&std::path::Path>, id: &str) -> Result<Self, CgroupError> {
        let _ = (cgroups_path, id);
        Err(CgroupError::Unsupported("cgroups (not yet implemented)".into()))
    }

    /// Creates the cgroup directories, applies `resources`, and moves `pid` into the cgroup.
    pub fn apply(&self, pid: Pid, resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
        let _ = (pid, resources);
        Err(CgroupError::Unsupported("cgroups (not yet implemented)".into()))
    }

    /// Lists the pids currently in the cgroup.
    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        Err(CgroupError::Unsupported("cgroups (not yet implemented)".into()))
    }

    /// Removes the cgroup directories; a cgroup that is already gone is not an error.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        Err(CgroupError::Unsupported("cgroups (not yet implemented)".into()))
    }
}
