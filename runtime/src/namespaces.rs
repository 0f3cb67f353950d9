//! Namespaces: joining existing ones by path (setns), creating new ones (unshare), id maps, time offsets.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};

use crate::error::Context;
use crate::Result;

/// The clone flag for a namespace type.
pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The config's namespaces.
pub fn list(linux: &Linux) -> &[LinuxNamespace] {
    linux.namespaces().as_deref().unwrap_or_default()
}

/// True when the config asks for a namespace of type `typ` (new or joined).
pub fn has(linux: &Linux, typ: LinuxNamespaceType) -> bool {
    list(linux).iter().any(|n| n.typ() == typ)
}

/// True when the config creates a new namespace of type `typ`.
pub fn creates(linux: &Linux, typ: LinuxNamespaceType) -> bool {
    list(linux)
        .iter()
        .any(|n| n.typ() == typ && n.path().is_none())
}

/// Joins every namespace given by `path`, the user namespace first (it grants the rights for the rest).
pub fn join_paths(linux: &Linux) -> Result<()> {
    let mut files = Vec::new();
    for ns in list(linux) {
        if let Some(path) = ns.path() {
            let f = File::open(path)
                .ctx(|| format!("open {} namespace {}", ns.typ(), path.display()))?;
            files.push((ns.typ(), path, f));
        }
    }
    files.sort_by_key(|(t, _, _)| *t != LinuxNamespaceType::User);
    for (typ, path, f) in &files {
        setns(f.as_fd(), clone_flag(*typ))
            .ctx(|| format!("setns {} namespace {}", typ, path.display()))?;
    }
    Ok(())
}

/// Unshares every new namespace except the user namespace (created separately, before the maps).
pub fn unshare_new(linux: &Linux) -> Result<()> {
    let mut flags = CloneFlags::empty();
    for ns in list(linux) {
        if ns.path().is_none() && ns.typ() != LinuxNamespaceType::User {
            flags |= clone_flag(ns.typ());
        }
    }
    if !flags.is_empty() {
        unshare(flags).ctx(|| format!("unshare({flags:?})"))?;
    }
    Ok(())
}

/// Writes `/proc/<pid>/{uid_map,gid_map}` for a process that just created a user namespace.
pub fn write_id_maps(pid: Pid, linux: &Linux) -> Result<()> {
    let fmt = |maps: &Option<Vec<LinuxIdMapping>>| {
        maps.as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    for (file, text) in [
        ("uid_map", fmt(linux.uid_mappings())),
        ("gid_map", fmt(linux.gid_mappings())),
    ] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).ctx(|| format!("write {path}"))?;
    }
    Ok(())
}

/// Writes `linux.timeOffsets` to `/proc/self/timens_offsets` (after unsharing the time namespace,
/// before any process enters it).
pub fn write_time_offsets(linux: &Linux) -> Result<()> {
    let Some(offsets) = linux.time_offsets() else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text)
            .ctx(|| "write /proc/self/timens_offsets".into())?;
    }
    Ok(())
}

/// Maps container id `id` to the host through `maps` (identity when there are no maps).
pub fn host_id(maps: Option<&[LinuxIdMapping]>, id: u32) -> Option<u32> {
    let Some(maps) = maps.filter(|m| !m.is_empty()) else {
        return Some(id);
    };
    maps.iter().find_map(|m| {
        (id >= m.container_id() && id - m.container_id() < m.size())
            .then(|| m.host_id() + (id - m.container_id()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    #[test]
    fn maps_ids_to_host() {
        let maps = vec![LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(100000u32)
            .size(65536u32)
            .build()
            .unwrap()];
        assert_eq!(host_id(Some(&maps), 0), Some(100000));
        assert_eq!(host_id(Some(&maps), 1000), Some(101000));
        assert_eq!(host_id(Some(&maps), 65536), None);
        assert_eq!(host_id(None, 5), Some(5));
    }
}
