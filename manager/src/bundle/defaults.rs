//! The default container profile, as Docker's: capabilities, masked and read-only paths,
//! standard mounts, rlimits and namespaces. No seccomp section (the runtime has no seccomp yet).

use oci_spec::runtime::{
    Capability, LinuxCapabilities, LinuxCapabilitiesBuilder, LinuxDeviceCgroupBuilder,
    LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxResources,
    LinuxResourcesBuilder, Mount, MountBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType,
};

use super::BundleError;

/// Docker's default capability set.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths hidden from the container (Docker's list).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths made read-only (Docker's list).
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// RLIMIT_NOFILE soft and hard, as Docker and containerd set it.
pub const NOFILE_LIMIT: u64 = 1_048_576;

fn spec_err(e: impl std::fmt::Display) -> BundleError {
    BundleError::Spec(e.to_string())
}

/// Bounding, effective and permitted get the default set; inheritable and ambient stay empty.
pub fn capabilities() -> Result<LinuxCapabilities, BundleError> {
    let set: std::collections::HashSet<Capability> = DEFAULT_CAPABILITIES.into_iter().collect();
    LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .inheritable(std::collections::HashSet::new())
        .ambient(std::collections::HashSet::new())
        .build()
        .map_err(spec_err)
}

fn mount(dst: &str, typ: &str, src: &str, opts: &[&str]) -> Result<Mount, BundleError> {
    MountBuilder::default()
        .destination(dst)
        .typ(typ)
        .source(src)
        .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err)
}

/// proc, /dev tmpfs, devpts, shm, mqueue, sysfs (ro) and cgroup (ro).
pub fn mounts() -> Result<Vec<Mount>, BundleError> {
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )?,
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        )?,
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        )?,
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        )?,
    ])
}

/// A bind mount (`rbind`, `rprivate`, optionally `ro`).
pub fn bind(src: &std::path::Path, dst: &std::path::Path, ro: bool) -> Result<Mount, BundleError> {
    let mut opts = vec!["rbind".to_string(), "rprivate".to_string()];
    if ro {
        opts.push("ro".into());
    }
    MountBuilder::default()
        .destination(dst)
        .typ("bind")
        .source(src)
        .options(opts)
        .build()
        .map_err(spec_err)
}

/// The RLIMIT_NOFILE to ask for: [`NOFILE_LIMIT`], unless this process could not grant it.
/// Raising a hard limit needs CAP_SYS_RESOURCE (some sandboxes drop it) and never goes past
/// `fs.nr_open`; asking for more makes the runtime fail with EPERM, so clamp instead.
pub fn nofile_limit_for(has_sys_resource: bool, current_hard: u64, nr_open: Option<u64>) -> u64 {
    let mut l = NOFILE_LIMIT;
    if !has_sys_resource {
        l = l.min(current_hard);
    }
    if let Some(n) = nr_open {
        l = l.min(n);
    }
    l
}

/// [`nofile_limit_for`] with this process's capabilities and limits.
pub fn nofile_limit() -> u64 {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let has_cap = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0);
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(_, h)| h)
        .unwrap_or(NOFILE_LIMIT);
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    nofile_limit_for(has_cap, hard, nr_open)
}

/// RLIMIT_NOFILE soft = hard = [`nofile_limit`] (1048576 on a normal host).
pub fn rlimits() -> Result<Vec<PosixRlimit>, BundleError> {
    let l = nofile_limit();
    Ok(vec![PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(l)
        .hard(l)
        .build()
        .map_err(spec_err)?])
}

/// New pid, ipc, uts, mount and network namespaces (the network one has only loopback).
pub fn namespaces() -> Result<Vec<LinuxNamespace>, BundleError> {
    [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
    ]
    .into_iter()
    .map(|t| {
        LinuxNamespaceBuilder::default()
            .typ(t)
            .build()
            .map_err(spec_err)
    })
    .collect()
}

/// Device cgroup: deny everything; the runtime adds its default devices (null, zero, full,
/// random, urandom, tty, console, ptmx) to the allow list, as runc does.
pub fn resources() -> Result<LinuxResources, BundleError> {
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(spec_err)?;
    LinuxResourcesBuilder::default()
        .devices(vec![deny_all])
        .build()
        .map_err(spec_err)
}
