//! Named network namespaces: a namespace kept alive by a bind mount of its nsfs file on
//! `<state>/netns/<container id>` (what `ip netns add` does under /run/netns), so that CNI
//! plugins and the runtime can enter it by path before and after the container's processes.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Failures creating or removing a named namespace.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A filesystem or syscall step failed.
    #[error("network namespace {path}: {op}: {source}")]
    Sys {
        /// The namespace file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

fn sys<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> NetnsError + 'a {
    move |source| NetnsError::Sys {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Creates a new network namespace with `lo` up and pins it at `path` (whose parent must exist).
pub fn create(path: &Path) -> Result<(), NetnsError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(sys(path, "create"))?;
    let target = path.to_path_buf();
    // unshare(CLONE_NEWNET) changes only the calling thread: a short-lived thread moves into the
    // new namespace, brings its `lo` up, pins it with the bind mount and ends, leaving berthd's
    // threads where they were. `lo` up here is what CNI's loopback plugin did, a Go binary
    // started twice per run (ADD and DEL) for one ioctl.
    let pinned = std::thread::spawn(move || -> Result<(), std::io::Error> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
        loopback_up()?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(std::io::Error::from)
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")));
    if let Err(e) = pinned {
        let _ = std::fs::remove_file(path);
        return Err(sys(path, "unshare, lo up and bind-mount")(e));
    }
    Ok(())
}

/// Sets `IFF_UP` on `lo` of the calling thread's network namespace (SIOCGIFFLAGS + SIOCSIFFLAGS
/// on a socket made in it; a socket stays in the namespace it was created in).
fn loopback_up() -> Result<(), std::io::Error> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain data; all-zero is a valid value (empty name, zero flags).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the NUL-terminated name in `req` and writes its flags member;
    // `req` is a live, correctly sized ifreq for the duration of the call.
    if unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the flags member of the union is the one SIOCGIFFLAGS just wrote.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and flags from `req`, live and correctly sized.
    if unsafe {
        libc::ioctl(
            sock.as_raw_fd(),
            libc::SIOCSIFFLAGS,
            &req as *const libc::ifreq,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Unpins and removes the namespace at `path`; an absent one is not an error. The namespace
/// itself ends when its last process (the container's) is gone too.
pub fn remove(path: &Path) -> Result<(), NetnsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(sys(path, "unmount")(e.into())),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(sys(path, "remove")(e)),
    }
}

/// The namespace files under `dir` (leftovers are found at start-up by listing them).
pub fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_pins_a_new_namespace_and_remove_unpins_it() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns1");
        create(&p).unwrap();
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap();
        let pinned = std::fs::metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(ours.ino(), pinned.ino(), "pinned namespace is berthd's own");
        assert!(create(&p).is_err(), "a second create on one path must fail");
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
