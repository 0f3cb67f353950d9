//! The thread the unpacker target applies layers on, confined so that an escape is both
//! harmless and detected.
//!
//! The thread gets its own mount namespace (mount namespaces belong to threads, so libFuzzer's
//! thread keeps writing corpus and crash files normally) in which every host mount is
//! read-only and `/tmp` is a fresh small tmpfs holding [`OUTER`]:
//!
//! ```text
//! OUTER/canary/   file, dir/, link -> file         never to be touched
//! OUTER/lower/    a lower layer (overlay mode): etc/passwd, escape -> OUTER/canary, up -> ../canary
//! OUTER/work/root the target, emptied (overlay mode) or refilled (delete mode) per input
//! ```
//!
//! After each layer, every node of `OUTER` but the target is compared with its state before
//! (inode, type, mode, owner, links, size, mtime, ctime: ctime also moves on chmod, chown,
//! link and xattr changes), and `work` must hold only `root`. A write that reached a host path
//! fails with EROFS, and a link across mounts with EXDEV: either in the unpacker's error is
//! reported as an escape too.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::OnceLock;

use berth_manager::unpack::{
    apply_layer, ApplyTarget, LayerBlob, UnpackError, UnpackLimits, WhiteoutMode,
};

/// Where the sandbox lives (inside the thread's own tmpfs on `/tmp`).
pub const OUTER: &str = "/tmp/berth-fuzz";

/// The layer and how to apply it.
pub struct Job {
    /// The layer blob.
    pub blob: Vec<u8>,
    /// Its media type.
    pub media_type: &'static str,
    /// The expected diffID.
    pub diff_id: String,
    /// Overlay (empty target, one lower) or delete (target pre-filled) whiteouts.
    pub whiteouts: WhiteoutMode,
}

type Reply = Result<berth_manager::unpack::ApplyStats, UnpackError>;

struct Worker {
    jobs: mpsc::SyncSender<Job>,
    replies: std::sync::Mutex<mpsc::Receiver<Reply>>,
}

static WORKER: OnceLock<Worker> = OnceLock::new();

fn target() -> PathBuf {
    Path::new(OUTER).join("work/root")
}

/// Applies `job` on the sandbox thread and checks nothing outside the target changed. Panics
/// (a crash for libFuzzer) on any escape; returns the unpacker's own verdict otherwise.
pub fn apply(job: Job) -> Reply {
    let w = WORKER.get_or_init(start);
    if w.jobs.send(job).is_err() {
        panic!("the sandbox thread died");
    }
    let replies = w.replies.lock().unwrap_or_else(|e| e.into_inner());
    match replies.recv() {
        Ok(r) => r,
        Err(_) => panic!("the sandbox thread died"),
    }
}

fn start() -> Worker {
    let (jobs, job_rx) = mpsc::sync_channel::<Job>(0);
    let (reply_tx, replies) = mpsc::sync_channel::<Reply>(0);
    let (ready_tx, ready_rx) = mpsc::sync_channel::<Result<(), String>>(0);
    std::thread::spawn(move || {
        let baseline = match setup() {
            Ok(b) => {
                let _ = ready_tx.send(Ok(()));
                b
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
                return;
            }
        };
        for job in job_rx {
            let r = run(&job, &baseline);
            if reply_tx.send(r).is_err() {
                return;
            }
        }
    });
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            // Not a finding: the machine cannot host the target (it needs root).
            eprintln!("unpack fuzz target: cannot set up its sandbox: {e}");
            std::process::exit(2);
        }
        Err(_) => panic!("the sandbox thread died during setup"),
    }
    Worker {
        jobs,
        replies: std::sync::Mutex::new(replies),
    }
}

fn sys(what: &str, r: nix::Result<()>) -> Result<(), String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn io(what: &str, r: std::io::Result<()>) -> Result<(), String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// `mount_setattr(path, AT_RECURSIVE, +RDONLY)`: every mount at and below `path` read-only.
fn make_readonly(path: &str) -> Result<(), String> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let c = CString::new(path).map_err(|e| e.to_string())?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `c` is a NUL-terminated path and `attr` a mount_attr of the size passed; the
    // kernel only reads both.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            c.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "mount_setattr {path} read-only: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn setup() -> Result<Fingerprint, String> {
    use nix::mount::{mount, MsFlags};
    sys(
        "unshare(CLONE_NEWNS)",
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS),
    )?;
    sys(
        "make / private",
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        ),
    )?;
    make_readonly("/")?;
    sys(
        "mount tmpfs on /tmp",
        mount(
            Some("tmpfs"),
            "/tmp",
            Some("tmpfs"),
            MsFlags::MS_NOSUID,
            Some("size=64m,mode=0755"),
        ),
    )?;
    let outer = Path::new(OUTER);
    let mk = |p: &str| io(p, fs::create_dir_all(outer.join(p)));
    mk("canary/dir")?;
    mk("lower/etc")?;
    mk("work")?;
    io(
        "canary/file",
        fs::write(outer.join("canary/file"), b"canary\n"),
    )?;
    io("canary/link", symlink("file", outer.join("canary/link")))?;
    io(
        "lower/etc/passwd",
        fs::write(
            outer.join("lower/etc/passwd"),
            b"root:x:0:0::/root:/bin/sh\n",
        ),
    )?;
    io(
        "lower/etc mode",
        fs::set_permissions(outer.join("lower/etc"), fs::Permissions::from_mode(0o750)),
    )?;
    io(
        "lower/escape",
        symlink(format!("{OUTER}/canary"), outer.join("lower/escape")),
    )?;
    io("lower/up", symlink("../canary", outer.join("lower/up")))?;
    Ok(fingerprint(outer))
}

/// What is compared of a node: everything an escape could change but atime.
#[derive(Debug, PartialEq, Eq)]
struct Node {
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    size: u64,
    rdev: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    link: Option<PathBuf>,
}

type Fingerprint = BTreeMap<PathBuf, Node>;

/// Every node under `outer` except the target's subtree.
fn fingerprint(outer: &Path) -> Fingerprint {
    let mut out = BTreeMap::new();
    let skip = target();
    let mut stack = vec![outer.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() && p != skip {
            if let Ok(rd) = fs::read_dir(&p) {
                stack.extend(rd.flatten().map(|e| e.path()));
            }
        }
        // The target's own inode is replaced for every input; its parent's times with it.
        if p == skip || p == skip.parent().unwrap_or(&skip) {
            continue;
        }
        out.insert(
            p.clone(),
            Node {
                ino: m.ino(),
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                nlink: m.nlink(),
                size: m.size(),
                rdev: m.rdev(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
                link: fs::read_link(&p).ok(),
            },
        );
    }
    out
}

/// A merged tree as a copying snapshotter holds it: what delete-mode whiteouts act on,
/// including links an earlier layer left pointing out of the tree.
fn prefill(root: &Path) -> std::io::Result<()> {
    fs::create_dir_all(root.join("etc"))?;
    fs::create_dir_all(root.join("usr/bin"))?;
    fs::create_dir_all(root.join("a/b/c"))?;
    fs::write(root.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\n")?;
    fs::write(root.join("usr/bin/sh"), b"#!\n")?;
    fs::write(root.join("a/b/c/file"), b"x")?;
    symlink("usr/bin", root.join("bin"))?;
    symlink(format!("{OUTER}/canary"), root.join("escape"))?;
    symlink("../../canary", root.join("up"))?;
    symlink("/", root.join("root"))?;
    Ok(())
}

fn run(job: &Job, baseline: &Fingerprint) -> Reply {
    let root = target();
    let work = root.parent().unwrap_or(&root).to_path_buf();
    // Removal does not follow links; a failure leaves a stale tree that the checks report.
    let _ = fs::remove_dir_all(&root);
    if let Err(e) = fs::create_dir(&root) {
        panic!("sandbox: recreating {}: {e}", root.display());
    }
    let lowers = match job.whiteouts {
        WhiteoutMode::Overlay => vec![Path::new(OUTER).join("lower")],
        WhiteoutMode::Delete => {
            if let Err(e) = prefill(&root) {
                panic!("sandbox: prefilling {}: {e}", root.display());
            }
            vec![]
        }
    };
    let t = ApplyTarget {
        dir: root.clone(),
        whiteouts: job.whiteouts,
        lowers,
    };
    let layer = LayerBlob {
        media_type: job.media_type,
        size: job.blob.len() as u64,
        diff_id: &job.diff_id,
    };
    let r = apply_layer(&job.blob[..], &layer, &UnpackLimits::default(), &t);
    if let Err(UnpackError::Io {
        source, op, path, ..
    }) = &r
    {
        if matches!(source.raw_os_error(), Some(libc::EROFS) | Some(libc::EXDEV)) {
            panic!("escape: {op} {path:?} reached outside the target: {source}");
        }
    }
    let names: Vec<String> = fs::read_dir(&work)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        names,
        ["root"],
        "escape: something was written next to the target"
    );
    match fs::symlink_metadata(&root) {
        Ok(m) if m.is_dir() => {}
        other => panic!("escape: the target itself was replaced: {other:?}"),
    }
    let now = fingerprint(Path::new(OUTER));
    if &now != baseline {
        let changed: Vec<_> = now
            .iter()
            .filter(|(p, n)| baseline.get(*p) != Some(n))
            .map(|(p, _)| p.display().to_string())
            .chain(
                baseline
                    .keys()
                    .filter(|p| !now.contains_key(*p))
                    .map(|p| format!("{} (removed)", p.display())),
            )
            .collect();
        panic!("escape: nodes outside the target changed: {changed:?}");
    }
    r
}
