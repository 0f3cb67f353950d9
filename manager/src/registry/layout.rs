//! `load`: import an OCI image layout (a directory with `oci-layout`, `index.json` and
//! `blobs/`, or a tar archive of one) into the content store, verifying every blob.
//!
//! The path is the user's (a symlink to it is followed), but what it holds is not trusted:
//! - Only a directory or a regular file is read; a FIFO or device is refused before it is
//!   opened for reading (an `O_PATH` descriptor, type-checked, then reopened).
//! - A directory is read through [`Root`]: every name resolved inside it, the last component
//!   never followed, nothing but regular files opened.
//! - An archive is never extracted. One pass over its headers (extension headers bounded, as
//!   the layer unpacker does; file data is seeked over, not read) records where each regular
//!   file's data lies; entries that leave the archive (`..`, links pointing out of it) refuse
//!   the whole archive; links, devices and FIFOs inside it are never read. Blobs are then read
//!   from the archive file at their offsets.
//! - Every document read into memory has a bound (oci-layout, index.json, manifests, indexes,
//!   configs) and the size its descriptor gives; layers are streamed; indexes nest at most
//!   [`manifest::MAX_INDEX_DEPTH`] deep and each blob is imported once.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::SeekFrom;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::RegistryError;
use super::store::{BlobStore, BlobWriter};
use crate::images::oci::{self as manifest, Descriptor, Document};
use crate::reference::{valid_digest, Reference};
use crate::rootfs_fs::{kind_of, RelPath, Root};
use crate::unpack::limits::TarHeaderGuard;

/// The annotation naming an image in a layout's index.json.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation carrying the full image name.
const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";
const CHUNK: usize = 256 * 1024;
/// Largest `oci-layout` file read (the real one is 30 bytes).
pub const MAX_OCI_LAYOUT: u64 = 64 * 1024;
/// Most entries an archive may have (a `docker save` has a handful per layer): the entry table
/// is kept in memory.
pub const MAX_ARCHIVE_ENTRIES: usize = 100_000;

/// One image found in a layout's index.json.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The full name, if the annotations carry one (a bare tag like `latest` does not).
    pub reference: Option<Reference>,
    /// The raw `org.opencontainers.image.ref.name` value, if any.
    pub ref_name: Option<String>,
    /// The root descriptor (manifest or index), now in the store.
    pub target: Descriptor,
}

/// What an archive entry is, as far as `load` cares.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// A regular file: where its data starts in the archive and how long it is.
    File { offset: u64, size: u64 },
    /// Anything else (link, FIFO, device, sparse file): never read.
    Other(&'static str),
}

/// Where the layout's files are.
enum Source {
    /// A layout directory.
    Dir(Root),
    /// A tar archive of one and its entry table.
    Tar {
        file: File,
        path: PathBuf,
        entries: HashMap<RelPath, Entry>,
    },
}

/// One file of the layout, open for reading from `offset`, `size` bytes long.
struct Opened {
    file: File,
    offset: u64,
    size: u64,
}

fn layout_err(path: &Path, message: impl Into<String>) -> RegistryError {
    RegistryError::Layout {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// A new open file description for the inode behind `fd` (own offset; `O_NONBLOCK` so that
/// nothing can block even if the inode were not what fstat said).
fn reopen(fd: &impl AsRawFd, flags: OFlag) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        flags | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

impl Source {
    /// Opens the user's path: a directory or a regular file (an archive), nothing else.
    fn open(path: &Path) -> Result<Source, RegistryError> {
        let err = |m: String| layout_err(path, m);
        // O_PATH: a FIFO does not block, a device's driver is not called; the symlink the user
        // may have given is followed.
        let fd = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| err(format!("open: {e}")))?;
        let st = fstat(fd.as_fd()).map_err(|e| err(format!("fstat: {e}")))?;
        match kind_of(&st) {
            None => {
                let file = File::from(
                    reopen(&fd, OFlag::O_RDONLY).map_err(|e| err(format!("open: {e}")))?,
                );
                Ok(Source::Tar {
                    file,
                    path: path.to_path_buf(),
                    entries: HashMap::new(),
                })
            }
            Some("directory") => {
                let dir = reopen(&fd, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                    .map_err(|e| err(format!("open: {e}")))?;
                Ok(Source::Dir(Root::from_fd(dir, path)))
            }
            Some(kind) => Err(err(format!(
                "is a {kind}, not an OCI layout directory or a tar archive"
            ))),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Source::Dir(root) => root.path(),
            Source::Tar { path, .. } => path,
        }
    }

    /// Opens the layout file `rel`; `None` when there is none.
    fn open_file(&self, rel: &RelPath) -> Result<Option<Opened>, RegistryError> {
        let err = |m: String| layout_err(self.path(), format!("{}: {m}", rel.to_path().display()));
        match self {
            Source::Dir(root) => Ok(root
                .open_regular(rel)
                .map_err(|e| layout_err(root.path(), e.to_string()))?
                .map(|(file, size)| Opened {
                    file,
                    offset: 0,
                    size,
                })),
            Source::Tar { file, entries, .. } => match entries.get(rel) {
                None => Ok(None),
                Some(Entry::Other(kind)) => Err(err(format!("is a {kind}, not a regular file"))),
                Some(Entry::File { offset, size }) => {
                    let file = File::from(
                        reopen(file, OFlag::O_RDONLY).map_err(|e| err(format!("open: {e}")))?,
                    );
                    Ok(Some(Opened {
                        file,
                        offset: *offset,
                        size: *size,
                    }))
                }
            },
        }
    }

    /// Reads the layout file `rel` whole if it is at most `limit` bytes (and exactly
    /// `expected` when given); `None` when there is none.
    async fn read_small(
        &self,
        rel: &RelPath,
        limit: u64,
        expected: Option<u64>,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let err = |m: String| layout_err(self.path(), format!("{}: {m}", rel.to_path().display()));
        let Some(opened) = self.open_file(rel)? else {
            return Ok(None);
        };
        if opened.size > limit {
            return Err(err(format!(
                "{} bytes, more than the {limit} bytes allowed",
                opened.size
            )));
        }
        if let Some(n) = expected.filter(|n| *n != opened.size) {
            return Err(err(format!(
                "{} bytes, the descriptor says {n}",
                opened.size
            )));
        }
        let mut r = stream(opened)
            .await
            .map_err(|e| err(format!("read: {e}")))?;
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)
            .await
            .map_err(|e| err(format!("read: {e}")))?;
        Ok(Some(buf))
    }
}

/// The bytes of an opened layout file, as an async reader that ends at its size.
async fn stream(o: Opened) -> std::io::Result<tokio::io::Take<tokio::fs::File>> {
    let mut f = tokio::fs::File::from_std(o.file);
    f.seek(SeekFrom::Start(o.offset)).await?;
    Ok(f.take(o.size))
}

/// Whether the link `target` of the entry at `at` leads out of the archive's root.
fn link_escapes(at: &RelPath, target: &Path) -> bool {
    let mut depth = at.components().len().saturating_sub(1);
    for c in target.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return true,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            Component::Normal(_) => depth += 1,
        }
    }
    false
}

/// One pass over the archive's headers: where each regular file's data is. Refuses entries
/// that leave the archive, links pointing out of it, and more than [`MAX_ARCHIVE_ENTRIES`].
fn scan_tar(file: &File, path: &Path) -> Result<HashMap<RelPath, Entry>, String> {
    use tar::EntryType as T;
    let archive_size = file.metadata().map_err(|e| format!("fstat: {e}"))?.len();
    let reader = File::from(reopen(file, OFlag::O_RDONLY).map_err(|e| format!("open: {e}"))?);
    let mut archive = tar::Archive::new(TarHeaderGuard::new(std::io::BufReader::new(reader)));
    let mut entries = HashMap::new();
    let bad = |e: std::io::Error| format!("not a readable tar archive: {e}");
    // Seeks over file data: the scan reads headers only, not the layers.
    for entry in archive.entries_with_seek().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if entries.len() >= MAX_ARCHIVE_ENTRIES {
            return Err(format!(
                "more than {MAX_ARCHIVE_ENTRIES} entries: not an image archive"
            ));
        }
        let name_bytes = entry.path_bytes();
        let name = Path::new(OsStr::from_bytes(&name_bytes));
        let Some(rel) = RelPath::parse(name) else {
            return Err(format!(
                "entry {} leaves the archive (a \"..\" component)",
                name.display()
            ));
        };
        let kind = entry.header().entry_type();
        let item = match kind {
            T::Regular | T::Continuous => {
                let (offset, size) = (entry.raw_file_position(), entry.size());
                if offset
                    .checked_add(size)
                    .is_none_or(|end| end > archive_size)
                {
                    return Err(format!(
                        "entry {} claims {size} bytes, past the end of the archive",
                        name.display()
                    ));
                }
                Entry::File { offset, size }
            }
            T::Directory => continue,
            T::Symlink | T::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| OsStr::from_bytes(&b).to_os_string())
                    .unwrap_or_default();
                let target = Path::new(&target);
                // A hard link names a path from the archive's root, a symlink one from its dir.
                let escapes = if kind == T::Link {
                    RelPath::parse(target).is_none()
                } else {
                    link_escapes(&rel, target)
                };
                if escapes {
                    return Err(format!(
                        "entry {} links to {}, outside the archive",
                        name.display(),
                        target.display()
                    ));
                }
                Entry::Other(if kind == T::Link {
                    "hard link"
                } else {
                    "symbolic link"
                })
            }
            T::Fifo => Entry::Other("FIFO"),
            T::Char => Entry::Other("character device"),
            T::Block => Entry::Other("block device"),
            T::GNUSparse => Entry::Other("sparse file"),
            _ => Entry::Other("special entry"),
        };
        entries.insert(rel, item);
    }
    tracing::debug!(archive = %path.display(), entries = entries.len(), "scanned image archive");
    Ok(entries)
}

/// Imports a layout directory or a tar archive of one. A failure may leave blobs it already
/// stored (referenced by nothing: the caller's lease ends and a collection removes them).
pub async fn load_layout<S: BlobStore>(
    path: &Path,
    store: &S,
) -> Result<Vec<LoadedImage>, RegistryError> {
    let mut src = Source::open(path)?;
    if let Source::Tar { file, entries, .. } = &mut src {
        let scan = file
            .try_clone()
            .map_err(|e| layout_err(path, format!("dup: {e}")))?;
        let owned = path.to_path_buf();
        *entries = tokio::task::spawn_blocking(move || scan_tar(&scan, &owned))
            .await
            .map_err(|e| layout_err(path, format!("reading the archive: {e}")))?
            .map_err(|m| layout_err(path, m))?;
    }
    load_from(&src, store).await
}

async fn load_from<S: BlobStore>(
    src: &Source,
    store: &S,
) -> Result<Vec<LoadedImage>, RegistryError> {
    let err = |message: String| layout_err(src.path(), message);
    let rel = |p: &str| RelPath::parse(Path::new(p)).ok_or_else(|| err(format!("bad name {p}")));
    let marker = src
        .read_small(&rel("oci-layout")?, MAX_OCI_LAYOUT, None)
        .await?
        .ok_or_else(|| err("no oci-layout file: not an OCI image layout".into()))?;
    let marker: serde_json::Value =
        serde_json::from_slice(&marker).map_err(|e| err(format!("oci-layout: {e}")))?;
    if marker.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        return Err(err("oci-layout: imageLayoutVersion is not 1.0.0".into()));
    }
    let index = src
        .read_small(&rel("index.json")?, manifest::MAX_MANIFEST_SIZE, None)
        .await?
        .ok_or_else(|| err("index.json: no such file".into()))?;
    let index: oci_spec::image::ImageIndex =
        serde_json::from_slice(&index).map_err(|e| err(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    let mut done = HashSet::new();
    for entry in index.manifests().iter().cloned() {
        import_tree(src, &entry, store, &mut done).await?;
        let annotations = entry.annotations().clone().unwrap_or_default();
        let ref_name = annotations.get(REF_NAME_ANNOTATION).cloned();
        let reference = annotations
            .get(CONTAINERD_NAME_ANNOTATION)
            .or(ref_name.as_ref())
            .filter(|n| n.contains('/') || n.contains(':') || n.contains('@'))
            .and_then(|n| Reference::parse(n).ok());
        out.push(LoadedImage {
            reference,
            ref_name,
            target: entry,
        });
    }
    Ok(out)
}

fn blob_rel(src: &Source, digest: &str) -> Result<RelPath, RegistryError> {
    if !valid_digest(digest) {
        return Err(layout_err(
            src.path(),
            format!("invalid digest \"{digest}\""),
        ));
    }
    let (alg, hex) = digest.split_once(':').unwrap_or(("", digest));
    RelPath::parse(&Path::new("blobs").join(alg).join(hex))
        .ok_or_else(|| layout_err(src.path(), format!("invalid digest \"{digest}\"")))
}

/// What a descriptor in the tree names, for its size bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A manifest or index (index.json entries, index children).
    Document,
    /// A manifest's config: read whole later, so bounded like a document.
    Config,
    /// A layer: streamed, any size.
    Layer,
}

/// Imports a manifest or index and everything it references, children before parents; each
/// digest once (`done`), indexes at most [`manifest::MAX_INDEX_DEPTH`] deep.
async fn import_tree<S: BlobStore>(
    src: &Source,
    desc: &Descriptor,
    store: &S,
    done: &mut HashSet<String>,
) -> Result<(), RegistryError> {
    let mut stack = vec![(desc.clone(), Role::Document, false, 0usize)];
    while let Some((d, role, children_done, depth)) = stack.pop() {
        let digest = d.digest().to_string();
        if !children_done && done.contains(&digest) {
            continue;
        }
        let is_manifest =
            role == Role::Document && manifest::is_manifest_type(d.media_type().as_ref());
        if role == Role::Config && d.size() > crate::content::MAX_DOCUMENT_SIZE {
            return Err(RegistryError::BadManifest {
                what: digest,
                message: format!(
                    "image config of {} bytes exceeds the {}-byte limit",
                    d.size(),
                    crate::content::MAX_DOCUMENT_SIZE
                ),
            });
        }
        if !is_manifest || children_done {
            import_blob(src, &d, store).await?;
            done.insert(digest);
            continue;
        }
        if d.size() > manifest::MAX_MANIFEST_SIZE {
            return Err(RegistryError::ManifestTooLarge {
                reference: digest,
                size: d.size(),
                limit: manifest::MAX_MANIFEST_SIZE,
            });
        }
        let rel = blob_rel(src, &digest)?;
        let body = src
            .read_small(&rel, manifest::MAX_MANIFEST_SIZE, Some(d.size()))
            .await?
            .ok_or_else(|| layout_err(src.path(), format!("blob {digest} is missing")))?;
        stack.push((d.clone(), role, true, depth));
        match manifest::parse(&digest, d.media_type().as_ref(), &body)? {
            Document::Manifest(m) => {
                stack.push((m.config().clone(), Role::Config, false, depth + 1));
                stack.extend(
                    m.layers()
                        .iter()
                        .cloned()
                        .map(|l| (l, Role::Layer, false, depth + 1)),
                );
            }
            Document::Index(i) => {
                if depth + 1 >= manifest::MAX_INDEX_DEPTH {
                    return Err(RegistryError::BadManifest {
                        what: desc.digest().to_string(),
                        message: format!(
                            "indexes nest more than {} deep",
                            manifest::MAX_INDEX_DEPTH
                        ),
                    });
                }
                stack.extend(
                    i.manifests()
                        .iter()
                        .cloned()
                        .map(|c| (c, Role::Document, false, depth + 1)),
                )
            }
        }
    }
    Ok(())
}

/// Streams one blob into the store; the store's writer checks size and digest.
async fn import_blob<S: BlobStore>(
    src: &Source,
    desc: &Descriptor,
    store: &S,
) -> Result<(), RegistryError> {
    let digest = desc.digest().to_string();
    let rel = blob_rel(src, &digest)?;
    let wrap = |source| RegistryError::Store {
        digest: digest.clone(),
        source,
    };
    let _guard = store.lock(&digest).await.map_err(wrap)?;
    if store.exists(&digest).await.map_err(wrap)? {
        return Ok(());
    }
    let name = || format!("{}", rel.to_path().display());
    let io_err = |e: std::io::Error| {
        layout_err(
            src.path(),
            format!("{}: read: {e}", rel.to_path().display()),
        )
    };
    let opened = src
        .open_file(&rel)?
        .ok_or_else(|| layout_err(src.path(), format!("blob {digest} is missing")))?;
    if opened.size != desc.size() {
        return Err(RegistryError::Verification {
            digest: digest.clone(),
            message: format!(
                "{} is {} bytes, the descriptor says {}",
                name(),
                opened.size,
                desc.size()
            ),
        });
    }
    let mut file = stream(opened).await.map_err(io_err)?;
    let mut writer = store.writer(&digest, desc.size()).await.map_err(wrap)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(io_err)?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n]).await.map_err(wrap)?;
    }
    writer
        .commit()
        .await
        .map_err(|source| RegistryError::Verification {
            digest: digest.clone(),
            message: format!("{} does not match its digest: {source}", name()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(p: &str) -> RelPath {
        RelPath::parse(Path::new(p)).unwrap()
    }

    #[test]
    fn links_leaving_the_archive_are_recognised() {
        // docker save's legacy layer links stay inside.
        assert!(!link_escapes(
            &rel("0123/layer.tar"),
            Path::new("../blobs/sha256/ab")
        ));
        assert!(!link_escapes(&rel("a/b/c"), Path::new("../../x")));
        assert!(link_escapes(&rel("a/b/c"), Path::new("../../../x")));
        assert!(link_escapes(&rel("top"), Path::new("../x")));
        assert!(link_escapes(&rel("a/b"), Path::new("/etc/shadow")));
        assert!(link_escapes(&rel("a/b"), Path::new("x/../../../y")));
    }

    #[test]
    fn archive_scan_refuses_dotdot_and_records_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, entries: &[(&[u8], &[u8])]| {
            let p = dir.path().join(name);
            let mut b = tar::Builder::new(File::create(&p).unwrap());
            for (n, data) in entries {
                let mut h = tar::Header::new_old();
                h.as_old_mut().name[..n.len()].copy_from_slice(n);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            b.into_inner().unwrap();
            p
        };
        let ok = write("ok.tar", &[(b"./oci-layout", b"{}"), (b"blobs/x", b"abc")]);
        let entries = scan_tar(&File::open(&ok).unwrap(), &ok).unwrap();
        let Some(Entry::File { offset, size }) = entries.get(&rel("blobs/x")) else {
            panic!("{entries:?}");
        };
        let all = std::fs::read(&ok).unwrap();
        assert_eq!(&all[*offset as usize..(*offset + *size) as usize], b"abc");
        // Entries after a large one (skipped by seeking) are found at the right offsets.
        let big = vec![7u8; 3 * 1024 * 1024 + 5];
        let long = write(
            "long.tar",
            &[(b"blobs/big", &big), (b"blobs/y", b"after"), (b"z", b"")],
        );
        let entries = scan_tar(&File::open(&long).unwrap(), &long).unwrap();
        let all = std::fs::read(&long).unwrap();
        for (name, want) in [("blobs/big", &big[..]), ("blobs/y", b"after"), ("z", b"")] {
            let Some(Entry::File { offset, size }) = entries.get(&rel(name)) else {
                panic!("{name}: {entries:?}");
            };
            assert_eq!(
                &all[*offset as usize..(*offset + *size) as usize],
                want,
                "{name}"
            );
        }
        // A GNU long name (an extension entry, read through the guard) between seeks.
        let name = format!("blobs/{}", "n".repeat(200));
        let p = dir.path().join("gnu.tar");
        let mut b = tar::Builder::new(File::create(&p).unwrap());
        for (n, data) in [
            ("a", &big[..]),
            (name.as_str(), &b"long"[..]),
            ("b", &b"end"[..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, n, data).unwrap();
        }
        b.into_inner().unwrap();
        let entries = scan_tar(&File::open(&p).unwrap(), &p).unwrap();
        let all = std::fs::read(&p).unwrap();
        for (n, want) in [(name.as_str(), &b"long"[..]), ("b", &b"end"[..])] {
            let Some(Entry::File { offset, size }) = entries.get(&rel(n)) else {
                panic!("{n}: {entries:?}");
            };
            assert_eq!(
                &all[*offset as usize..(*offset + *size) as usize],
                want,
                "{n}"
            );
        }
        let bad = write("bad.tar", &[(b"a/../../x", b"abc")]);
        let e = scan_tar(&File::open(&bad).unwrap(), &bad).unwrap_err();
        assert!(e.contains("leaves the archive"), "{e}");
    }
}
