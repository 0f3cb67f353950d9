//! Parsing `/proc/<pid>/mountinfo` (proc(5)): one mount per line,
//! `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`,
//! with spaces, tabs, newlines and backslashes in paths written as octal escapes (`\040`).
//!
//! The one parser of the workspace: berth-runc (cgroup hierarchies, the mount holding the rootfs),
//! berthd (is a rootfs mounted) and the end-to-end tests (mounts left behind) all read it here.
//! std only, so the runtime binary stays small.

use std::path::{Path, PathBuf};

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Unique id of the mount.
    pub id: u32,
    /// Id of the parent mount.
    pub parent_id: u32,
    /// The directory of the file system that forms this mount's root (`/` unless a bind mount or
    /// namespace narrows it).
    pub root: PathBuf,
    /// Where it is mounted, relative to the reading process's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw`, `nosuid`, …).
    pub options: String,
    /// File system type (`cgroup2`, `overlay`, …).
    pub fs_type: String,
    /// Mount source (`none`, a device, …).
    pub source: String,
    /// Per-superblock options (for a cgroup v1 mount: its controllers among them).
    pub super_options: String,
}

/// Parses mountinfo text; lines that do not have the documented shape are skipped.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The mounts of the calling process's mount namespace (`/proc/self/mountinfo`).
pub fn read_self() -> std::io::Result<Vec<Mount>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// Whether `path` is a mount point in `mounts`.
pub fn is_mount_point(mounts: &[Mount], path: &Path) -> bool {
    mounts.iter().any(|m| m.mount_point == path)
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut left = left.split(' ');
    let id = left.next()?.parse().ok()?;
    let parent_id = left.next()?.parse().ok()?;
    let _dev = left.next()?;
    let root = PathBuf::from(unescape(left.next()?));
    let mount_point = PathBuf::from(unescape(left.next()?));
    let options = left.next()?.to_string();
    let mut right = right.split(' ');
    Some(Mount {
        id,
        parent_id,
        root,
        mount_point,
        options,
        fs_type: unescape(right.next()?),
        source: unescape(right.next()?),
        super_options: right.next().unwrap_or("").to_string(),
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011` tab, `\012` newline, `\134` `\`).
pub fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = u32::from(digits[0] - b'0') * 64
                    + u32::from(digits[1] - b'0') * 8
                    + u32::from(digits[2] - b'0');
                if let Ok(byte) = u8::try_from(v) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_optional_tags() {
        let m = parse(concat!(
            "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:5 - cgroup cgroup rw,memory\n",
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n",
            "not a mountinfo line\n",
        ));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].id, 35);
        assert_eq!(m[0].parent_id, 31);
        assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(m[0].fs_type, "cgroup");
        assert_eq!(m[0].super_options, "rw,memory");
        assert_eq!(m[1].fs_type, "cgroup2");
        assert!(is_mount_point(&m, Path::new("/sys/fs/cgroup/unified")));
        assert!(!is_mount_point(&m, Path::new("/sys/fs/cgroup")));
    }

    #[test]
    fn unescapes_paths() {
        let m = parse("1 2 0:1 /a\\040b /x\\011y\\134z rw - cgroup2 cgroup2 rw\n");
        assert_eq!(m[0].root, PathBuf::from("/a b"));
        assert_eq!(m[0].mount_point, PathBuf::from("/x\ty\\z"));
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
