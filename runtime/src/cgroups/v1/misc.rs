//! v1 controllers with one or two knobs each: `hugetlb`, `net_cls`, `net_prio` (`pids` and
//! `rdma` have the same files as in v2: `v2::misc`).

use std::path::Path;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxNetwork};

use super::super::{fs, CgroupError, V1Hierarchy};
use super::need;

/// Applies `linux.resources.hugepageLimits` through v1's `hugetlb.<size>.limit_in_bytes`.
pub(crate) fn set_hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        let size = super::super::v2::misc::page_size(l.page_size())?;
        fs::write(
            dir,
            &format!("hugetlb.{size}.limit_in_bytes"),
            &l.limit().to_string(),
        )?;
    }
    Ok(())
}

/// Applies `linux.resources.network` (class id and interface priorities).
pub(crate) fn set_network(hs: &[V1Hierarchy], n: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(id) = n.class_id() {
        let dir = need(hs, "net_cls", "linux.resources.network.classID")?;
        fs::write(dir, "net_cls.classid", &id.to_string())?;
    }
    for p in n.priorities().iter().flatten() {
        let dir = need(hs, "net_prio", "linux.resources.network.priorities")?;
        if p.name().contains(char::is_whitespace) || p.name().is_empty() {
            return Err(CgroupError::Invalid(format!(
                "linux.resources.network.priorities: interface name {:?}",
                p.name()
            )));
        }
        fs::write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}
