//! cgroup v2: the unified hierarchy, one file per controller here, device rules as an eBPF program.

use std::collections::BTreeSet;
use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::{fs, CgroupError};

mod bpf;
mod cpu;
pub mod devices;
mod io;
mod memory;
pub mod misc;
pub mod unified;

pub use cpu::shares_to_weight;
pub use io::blkio_weight_to_io_weight;
pub use memory::swap_to_v2;

fn words(text: &str) -> BTreeSet<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// The controllers that `r` needs enabled for the container's cgroup.
pub fn needed_controllers(r: Option<&LinuxResources>) -> Result<BTreeSet<String>, CgroupError> {
    let mut n = BTreeSet::new();
    let Some(r) = r else { return Ok(n) };
    let mut add = |c: &str| {
        n.insert(c.to_string());
    };
    if r.memory().is_some() {
        add("memory");
    }
    if let Some(c) = r.cpu() {
        if c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.idle().is_some()
        {
            add("cpu");
        }
        if c.cpus().as_deref().is_some_and(|s| !s.is_empty())
            || c.mems().as_deref().is_some_and(|s| !s.is_empty())
        {
            add("cpuset");
        }
    }
    if r.pids().is_some() {
        add("pids");
    }
    if r.block_io().is_some() {
        add("io");
    }
    if r.hugepage_limits().as_ref().is_some_and(|l| !l.is_empty()) {
        add("hugetlb");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        add("rdma");
    }
    if let Some(u) = r.unified() {
        for key in u.keys() {
            if let Some(c) = unified::controller_of(key)? {
                add(c);
            }
        }
    }
    Ok(n)
}

/// Enables controllers in `parent`'s `cgroup.subtree_control` for its children: with `all`, every available one,
/// as runc does on cgroup2 hosts (so the container sees them); otherwise only `needed`. Fails only if one that
/// `needed` names cannot be enabled.
fn enable_in(parent: &Path, needed: &BTreeSet<String>, all: bool) -> Result<(), CgroupError> {
    let available = words(&fs::read(parent, "cgroup.controllers")?);
    let enabled = words(&fs::read(parent, "cgroup.subtree_control")?);
    let wanted = if all { available } else { needed.clone() };
    let missing: Vec<&String> = wanted.difference(&enabled).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let all = missing
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    if fs::write(parent, "cgroup.subtree_control", &all).is_ok() {
        return Ok(());
    }
    for c in missing {
        let r = fs::write(parent, "cgroup.subtree_control", &format!("+{c}"));
        if needed.contains(c) {
            r?;
        }
    }
    Ok(())
}

/// Creates `dir` below the cgroup2 mount `mount`, enabling controllers in every ancestor (all available ones
/// with `all`, else just `needed`: on hybrid hosts runc only joins the unified hierarchy and enables nothing).
pub fn create(
    mount: &Path,
    dir: &Path,
    needed: &BTreeSet<String>,
    all: bool,
) -> Result<(), CgroupError> {
    let available = words(&fs::read(mount, "cgroup.controllers")?);
    if let Some(c) = needed.iter().find(|c| !available.contains(*c)) {
        return Err(CgroupError::Unsupported(format!(
            "the cgroup v2 {c} controller (not in {}/cgroup.controllers)",
            mount.display()
        )));
    }
    fs::create_under(
        mount,
        dir,
        |parent| enable_in(parent, needed, all),
        |_, _| Ok(()),
    )
}

/// Applies every field of `r` to the cgroup2 directory `dir`; `unified` keys go last and so win.
pub fn set(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        memory::set(dir, m)?;
    }
    if let Some(c) = r.cpu() {
        cpu::set(dir, c)?;
    }
    if let Some(p) = r.pids() {
        misc::set_pids(dir, p)?;
    }
    if let Some(b) = r.block_io() {
        io::set(dir, b)?;
    }
    if let Some(l) = r.hugepage_limits() {
        misc::set_hugetlb(dir, l)?;
    }
    if let Some(rdma) = r.rdma() {
        if !rdma.is_empty() {
            misc::set_rdma(dir, rdma)?;
        }
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(CgroupError::Unsupported(
                "linux.resources.network on cgroup v2 (net_cls and net_prio exist only in v1)"
                    .into(),
            ));
        }
    }
    if let Some(d) = r.devices() {
        devices::apply(dir, d)?;
    }
    if let Some(u) = r.unified() {
        unified::set(dir, u)?;
    }
    Ok(())
}

/// On a hybrid host, applies what lives in the unified hierarchy: hugetlb (when v1 lacks it) and `unified` keys.
pub fn set_hybrid_extras(
    dir: &Path,
    r: &LinuxResources,
    needs: &BTreeSet<String>,
) -> Result<(), CgroupError> {
    if needs.contains("hugetlb") {
        if let Some(l) = r.hugepage_limits() {
            misc::set_hugetlb(dir, l)?;
        }
    }
    if let Some(u) = r.unified() {
        unified::set(dir, u)?;
    }
    Ok(())
}
