//! cgroup v1 (and the v1 side of hybrid hosts): one hierarchy per controller, one file per controller here.

use std::collections::BTreeSet;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{fs, CgroupError, V1Hierarchy};

mod blkio;
mod cpu;
mod devices;
mod memory;
mod misc;

/// The container's directory in the hierarchy that carries `controller`, if one is mounted.
pub fn find<'a>(hs: &'a [V1Hierarchy], controller: &str) -> Option<&'a Path> {
    hs.iter()
        .find(|h| h.controllers.iter().any(|c| c == controller))
        .map(|h| h.dir.as_path())
}

/// Like `find`, but a missing hierarchy is an error naming the config field that needs it.
pub(crate) fn need<'a>(
    hs: &'a [V1Hierarchy],
    controller: &str,
    field: &str,
) -> Result<&'a Path, CgroupError> {
    find(hs, controller).ok_or_else(|| {
        CgroupError::Unsupported(format!(
            "{field}: the cgroup v1 {controller} controller is not mounted on this host"
        ))
    })
}

/// Creates the container's directory in every hierarchy, named ones (`name=systemd`) included.
pub fn create(hs: &[V1Hierarchy]) -> Result<(), CgroupError> {
    for h in hs {
        if h.controllers.iter().any(|c| c == "cpuset") {
            // A new v1 cpuset starts with empty cpus/mems and refuses tasks (ENOSPC) until they are
            // filled in; so may an existing ancestor someone else made. Like runc, every level from
            // the top down gets its parent's values where it has none.
            let fill = |d: &Path| match d.parent() {
                Some(parent) if d != h.mount.as_path() => cpu::copy_cpuset_from_parent(parent, d),
                _ => Ok(()),
            };
            fs::create_under(&h.mount, &h.dir, fill, cpu::copy_cpuset_from_parent)?;
            fill(&h.dir)?;
        } else {
            fs::create_under(&h.mount, &h.dir, |_| Ok(()), |_, _| Ok(()))?;
        }
    }
    Ok(())
}

/// The cgroup2 controllers a hybrid host must provide for `r`: what v1 lacks and v2 can do (hugetlb), and the
/// controllers behind the raw `unified` keys.
pub fn unified_needs(
    hs: &[V1Hierarchy],
    r: &LinuxResources,
) -> Result<BTreeSet<String>, CgroupError> {
    let mut needs = BTreeSet::new();
    if r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()) && find(hs, "hugetlb").is_none()
    {
        needs.insert("hugetlb".to_string());
    }
    if let Some(u) = r.unified() {
        for key in u.keys() {
            if let Some(c) = super::v2::unified::controller_of(key)? {
                needs.insert(c.to_string());
            }
        }
    }
    Ok(needs)
}

/// Applies every field of `r` to the v1 hierarchies; fields handled on the unified side are skipped here.
pub fn set(hs: &[V1Hierarchy], r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        memory::set(need(hs, "memory", "linux.resources.memory")?, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::set(hs, c)?;
    }
    if let Some(p) = r.pids() {
        super::v2::misc::set_pids(need(hs, "pids", "linux.resources.pids")?, p)?;
    }
    if let Some(b) = r.block_io() {
        blkio::set(need(hs, "blkio", "linux.resources.blockIO")?, b)?;
    }
    if let Some(l) = r.hugepage_limits() {
        if let Some(dir) = find(hs, "hugetlb") {
            misc::set_hugetlb(dir, l)?;
        }
    }
    if let Some(n) = r.network() {
        misc::set_network(hs, n)?;
    }
    if let Some(rdma) = r.rdma() {
        if !rdma.is_empty() {
            super::v2::misc::set_rdma(need(hs, "rdma", "linux.resources.rdma")?, rdma)?;
        }
    }
    if let Some(d) = r.devices() {
        devices::set(need(hs, "devices", "linux.resources.devices")?, d)?;
    }
    Ok(())
}
