//! Layer tars built from structured fuzz input: paths, link targets and PAX records are drawn
//! from the shapes that attack an unpacker (`..`, absolute paths, links into the sandbox's
//! canary and lower dirs, whiteouts of every kind, long names) as well as raw bytes.

use arbitrary::Arbitrary;

use crate::sandbox::OUTER;

/// Names the structured paths are made of: overlapping on purpose, so entries replace, link
/// to and white out each other, and collide with what the sandbox prepared.
const NAMES: [&str; 14] = [
    "a", "b", "c", "etc", "passwd", "usr", "bin", "sh", "canary", "lower", "work", "root", "up",
    "escape",
];

fn name(i: u8) -> &'static str {
    NAMES[usize::from(i) % NAMES.len()]
}

/// One path component.
#[derive(Arbitrary, Debug, Clone)]
pub enum Component {
    /// One of [`NAMES`].
    Name(u8),
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// `.wh.<name>`: a whiteout.
    Whiteout(u8),
    /// `.wh..wh..opq`: the opaque-directory marker.
    Opaque,
    /// `.wh..wh.plnk`: AUFS bookkeeping.
    Aufs,
    /// `.wh.` alone.
    BareWhiteout,
    /// Anything (may hold `/` or NUL).
    Raw(Vec<u8>),
}

/// A path inside the layer.
#[derive(Arbitrary, Debug, Clone)]
pub struct LayerPath {
    /// Starts with `/`.
    pub absolute: bool,
    /// The components.
    pub components: Vec<Component>,
    /// Ends with `/`.
    pub trailing_slash: bool,
}

impl LayerPath {
    /// The path as written in the tar.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.absolute {
            out.push(b'/');
        }
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            match c {
                Component::Name(n) => out.extend_from_slice(name(*n).as_bytes()),
                Component::Dot => out.push(b'.'),
                Component::DotDot => out.extend_from_slice(b".."),
                Component::Whiteout(n) => {
                    out.extend_from_slice(b".wh.");
                    out.extend_from_slice(name(*n).as_bytes());
                }
                Component::Opaque => out.extend_from_slice(b".wh..wh..opq"),
                Component::Aufs => out.extend_from_slice(b".wh..wh.plnk"),
                Component::BareWhiteout => out.extend_from_slice(b".wh."),
                Component::Raw(b) => out.extend_from_slice(b),
            }
        }
        if self.trailing_slash {
            out.push(b'/');
        }
        out
    }
}

/// Where a symlink or hardlink points.
#[derive(Arbitrary, Debug, Clone)]
pub enum LinkTarget {
    /// A path in the layer's own terms.
    Path(LayerPath),
    /// An absolute host path outside the target: the sandbox's canary and lower dirs, the
    /// target's parents, and host files (read-only in the sandbox).
    Outside(u8),
    /// `../` repeated, then a name.
    Up(u8, u8),
    /// Anything.
    Raw(Vec<u8>),
}

impl LinkTarget {
    /// The target as written in the tar.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            LinkTarget::Path(p) => p.bytes(),
            LinkTarget::Outside(i) => {
                let spots = [
                    String::from("/"),
                    OUTER.to_string(),
                    format!("{OUTER}/canary"),
                    format!("{OUTER}/canary/file"),
                    format!("{OUTER}/canary/dir"),
                    format!("{OUTER}/lower"),
                    format!("{OUTER}/lower/etc"),
                    format!("{OUTER}/lower/etc/passwd"),
                    format!("{OUTER}/work"),
                    format!("{OUTER}/work/root"),
                    "/etc".into(),
                    "/etc/passwd".into(),
                    "/proc/self/root".into(),
                    "/proc/self/cwd".into(),
                    "/proc/self/fd/0".into(),
                    "/dev/null".into(),
                ];
                spots[usize::from(*i) % spots.len()].clone().into_bytes()
            }
            LinkTarget::Up(n, leaf) => {
                let mut s = "../".repeat(usize::from(*n % 8));
                s.push_str(name(*leaf));
                s.into_bytes()
            }
            LinkTarget::Raw(b) => b.clone(),
        }
    }
}

/// The tar typeflag of an entry.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Kind {
    /// `5`
    Directory,
    /// `0`
    Regular,
    /// `\0` (old regular file)
    OldRegular,
    /// `7`
    Contiguous,
    /// `2`
    Symlink,
    /// `1`
    Hardlink,
    /// `3`
    Char,
    /// `4`
    Block,
    /// `6`
    Fifo,
    /// Any other byte.
    Other(u8),
}

impl Kind {
    fn typeflag(self) -> u8 {
        match self {
            Kind::Directory => b'5',
            Kind::Regular => b'0',
            Kind::OldRegular => 0,
            Kind::Contiguous => b'7',
            Kind::Symlink => b'2',
            Kind::Hardlink => b'1',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Fifo => b'6',
            Kind::Other(b) => b,
        }
    }
}

/// A PAX record key.
#[derive(Arbitrary, Debug, Clone)]
pub enum PaxKey {
    /// `path`
    Path,
    /// `linkpath`
    Linkpath,
    /// `uid`
    Uid,
    /// `gid`
    Gid,
    /// `mtime`
    Mtime,
    /// `size`
    Size,
    /// `SCHILY.xattr.user.fuzz`
    UserXattr,
    /// `SCHILY.xattr.trusted.overlay.opaque` (a layer forging an opaque dir)
    OverlayOpaque,
    /// `SCHILY.xattr.trusted.overlay.redirect`
    OverlayRedirect,
    /// `SCHILY.xattr.security.capability`
    Capability,
    /// `SCHILY.xattr.<anything>`
    Xattr(String),
    /// Anything.
    Raw(String),
}

impl PaxKey {
    fn key(&self) -> String {
        match self {
            PaxKey::Path => "path".into(),
            PaxKey::Linkpath => "linkpath".into(),
            PaxKey::Uid => "uid".into(),
            PaxKey::Gid => "gid".into(),
            PaxKey::Mtime => "mtime".into(),
            PaxKey::Size => "size".into(),
            PaxKey::UserXattr => "SCHILY.xattr.user.fuzz".into(),
            PaxKey::OverlayOpaque => "SCHILY.xattr.trusted.overlay.opaque".into(),
            PaxKey::OverlayRedirect => "SCHILY.xattr.trusted.overlay.redirect".into(),
            PaxKey::Capability => "SCHILY.xattr.security.capability".into(),
            PaxKey::Xattr(k) => format!("SCHILY.xattr.{k}"),
            PaxKey::Raw(k) => k.clone(),
        }
    }
}

/// One tar entry.
#[derive(Arbitrary, Debug, Clone)]
pub struct Entry {
    /// Its path.
    pub path: LayerPath,
    /// Its type.
    pub kind: Kind,
    /// Symlink or hardlink target (written for every type, as a hostile tar may).
    pub link: Option<LinkTarget>,
    /// Permission bits (all 16 of them).
    pub mode: u16,
    /// Owner.
    pub uid: u16,
    /// Group.
    pub gid: u16,
    /// Modification time.
    pub mtime: u32,
    /// Device numbers.
    pub major: u8,
    /// Device numbers.
    pub minor: u8,
    /// Content (written for every type).
    pub data: Vec<u8>,
    /// PAX records before the header.
    pub pax: Vec<(PaxKey, Vec<u8>)>,
    /// Write the header in GNU format (else ustar).
    pub gnu: bool,
}

/// A structured layer: its entries, in order.
#[derive(Arbitrary, Debug, Clone)]
pub struct Layer {
    /// The entries.
    pub entries: Vec<Entry>,
}

/// Longest name the old tar header holds.
const NAME_LEN: usize = 100;

impl Layer {
    /// Serialises the layer. Names too long for the header go into PAX `path`/`linkpath`
    /// records, as Go's archive/tar writes them.
    pub fn to_tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in &self.entries {
            let path = e.path.bytes();
            let link = e.link.as_ref().map(LinkTarget::bytes).unwrap_or_default();
            let mut pax: Vec<(String, Vec<u8>)> =
                e.pax.iter().map(|(k, v)| (k.key(), v.clone())).collect();
            if path.len() > NAME_LEN {
                pax.push(("path".into(), path.clone()));
            }
            if link.len() > NAME_LEN {
                pax.push(("linkpath".into(), link.clone()));
            }
            if !pax.is_empty() {
                // Writing to a Vec fails only on a key the writer cannot format: skip the entry.
                if b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
                    .is_err()
                {
                    continue;
                }
            }
            let mut h = if e.gnu {
                tar::Header::new_gnu()
            } else {
                tar::Header::new_ustar()
            };
            let n = path.len().min(NAME_LEN);
            h.as_old_mut().name[..n].copy_from_slice(&path[..n]);
            let n = link.len().min(NAME_LEN);
            h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
            h.set_entry_type(tar::EntryType::new(e.kind.typeflag()));
            h.set_mode(u32::from(e.mode));
            h.set_uid(u64::from(e.uid));
            h.set_gid(u64::from(e.gid));
            h.set_mtime(u64::from(e.mtime));
            h.set_size(e.data.len() as u64);
            // Both header formats have device fields; an error would only mean "not set".
            let _ = h.set_device_major(u32::from(e.major));
            let _ = h.set_device_minor(u32::from(e.minor));
            h.set_cksum();
            if b.append(&h, e.data.as_slice()).is_err() {
                continue;
            }
        }
        b.into_inner().unwrap_or_default()
    }
}
