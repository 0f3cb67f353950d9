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

/// Most lines a `uid_map` or `gid_map` may have (the kernel's limit since Linux 4.15).
pub const MAX_ID_MAP_LINES: usize = 340;

/// An id mapping whose arithmetic does not fit the 32-bit id space, or that the kernel refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} mapping {container_id} {host_id} {size}: {reason}")]
pub struct IdMapError {
    /// `uidMappings` or `gidMappings`.
    pub kind: &'static str,
    /// The mapping's containerID.
    pub container_id: u32,
    /// The mapping's hostID.
    pub host_id: u32,
    /// The mapping's size.
    pub size: u32,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Ids are 32 bits and `u32::MAX` is the invalid id (-1): a range may end at 2^32 - 1 at most.
const ID_SPACE: u64 = u32::MAX as u64;

/// Checks a whole `uidMappings`/`gidMappings` list: every range non-empty and inside the id space
/// on both sides (so that no `host_id + offset` can wrap), no two container ranges overlapping,
/// and no more lines than the kernel takes.
pub fn check_id_maps(
    kind: &'static str,
    maps: &[LinuxIdMapping],
) -> std::result::Result<(), IdMapError> {
    let err = |m: &LinuxIdMapping, reason| IdMapError {
        kind,
        container_id: m.container_id(),
        host_id: m.host_id(),
        size: m.size(),
        reason,
    };
    if let Some(m) = maps.get(MAX_ID_MAP_LINES) {
        return Err(err(m, "more than 340 mappings (the kernel's limit)"));
    }
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(err(m, "size is 0"));
        }
        if u64::from(m.container_id()) + u64::from(m.size()) > ID_SPACE {
            return Err(err(m, "containerID + size is beyond the 32-bit id space"));
        }
        if u64::from(m.host_id()) + u64::from(m.size()) > ID_SPACE {
            return Err(err(m, "hostID + size is beyond the 32-bit id space"));
        }
        let overlaps = maps[..i].iter().any(|o| {
            u64::from(o.container_id()) < u64::from(m.container_id()) + u64::from(m.size())
                && u64::from(m.container_id()) < u64::from(o.container_id()) + u64::from(o.size())
        });
        if overlaps {
            return Err(err(m, "its container range overlaps an earlier mapping"));
        }
    }
    Ok(())
}

/// Maps container id `id` to the host through `maps` (identity when there are no maps);
/// `Ok(None)` when no mapping covers it. A mapping whose host range leaves the id space is an
/// error: wrapping would hand out a host id (often 0) that nobody asked for.
pub fn host_id(
    kind: &'static str,
    maps: Option<&[LinuxIdMapping]>,
    id: u32,
) -> std::result::Result<Option<u32>, IdMapError> {
    let Some(maps) = maps.filter(|m| !m.is_empty()) else {
        return Ok(Some(id));
    };
    for m in maps {
        let Some(offset) = id.checked_sub(m.container_id()).filter(|o| *o < m.size()) else {
            continue;
        };
        let host = u64::from(m.host_id()) + u64::from(offset);
        return match u32::try_from(host)
            .ok()
            .filter(|h| u64::from(*h) < ID_SPACE)
        {
            Some(h) => Ok(Some(h)),
            None => Err(IdMapError {
                kind,
                container_id: m.container_id(),
                host_id: m.host_id(),
                size: m.size(),
                reason: "hostID + size is beyond the 32-bit id space",
            }),
        };
    }
    Ok(None)
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
        assert_eq!(host_id("uid", Some(&maps), 0), Ok(Some(100000)));
        assert_eq!(host_id("uid", Some(&maps), 1000), Ok(Some(101000)));
        assert_eq!(host_id("uid", Some(&maps), 65536), Ok(None));
        assert_eq!(host_id("uid", None, 5), Ok(Some(5)));
        assert_eq!(check_id_maps("uidMappings", &maps), Ok(()));
    }

    fn map(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(s)
            .build()
            .unwrap()
    }

    #[test]
    fn overflowing_maps_are_errors_not_wraps() {
        // host 4294967295 + 1 wrapped to host uid 0 (or panicked in a debug build).
        let maps = vec![map(0, u32::MAX, 2)];
        assert!(host_id("uid", Some(&maps), 1).is_err());
        assert!(host_id("uid", Some(&maps), 0).is_err());
        let e = check_id_maps("uidMappings", &maps).unwrap_err();
        assert!(e.to_string().contains("hostID + size"), "{e}");
        let e = check_id_maps("gidMappings", &[map(u32::MAX - 1, 1000, 10)]).unwrap_err();
        assert!(e.to_string().contains("containerID + size"), "{e}");
        assert!(check_id_maps("uidMappings", &[map(0, 1000, 0)]).is_err());
        assert!(check_id_maps("uidMappings", &[map(0, 1000, 10), map(5, 2000, 10)]).is_err());
        let many: Vec<_> = (0..341).map(|i| map(i, 1000 + i, 1)).collect();
        assert!(check_id_maps("uidMappings", &many).is_err());
        assert!(check_id_maps("uidMappings", &many[..340]).is_ok());
        // The largest legal range: ids up to 2^32 - 2.
        assert_eq!(check_id_maps("uidMappings", &[map(0, 0, u32::MAX)]), Ok(()));
        assert_eq!(
            host_id("uid", Some(&[map(0, 0, u32::MAX)]), u32::MAX - 1),
            Ok(Some(u32::MAX - 1))
        );
    }
}
