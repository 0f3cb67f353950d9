//! Fixtures shared by the unit tests of several modules (compiled only for tests).

use std::path::Path;

/// A tmpfs of a given size mounted on a temp dir, unmounted (lazily) on drop: a disk that fills up.
pub(crate) struct SmallFs(tempfile::TempDir);

impl SmallFs {
    /// Mounts a tmpfs of `size` (tmpfs's `size=` syntax, e.g. `64k`, `2m`).
    pub(crate) fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().expect("creating a temp dir for the tmpfs");
        nix::mount::mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={size}").as_str()),
        )
        .expect("mounting a small tmpfs (the tests run as root)");
        SmallFs(dir)
    }

    /// Where the tmpfs is mounted.
    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.0.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}
