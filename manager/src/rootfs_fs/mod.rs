//! Files inside a directory tree that came from an image: a layer being unpacked or a container's
//! mounted rootfs. Everything berthd reads, writes or creates in such a tree goes through here.
//!
//! - [`Root`] resolves every path with `openat2(RESOLVE_IN_ROOT)`, so `..` and symlinks (absolute
//!   or relative) can never lead out of the tree.
//! - [`Root::read_regular`] and [`Root::ensure_regular`] touch only regular files: the last
//!   component is never followed, FIFOs, devices and sockets are refused before they are opened
//!   for I/O (so a FIFO cannot block the daemon and a device node is never opened), and reads
//!   are bounded (a 1 GiB `/etc/passwd` is refused from its size, without reading it).

mod file;
mod resolve;

pub use file::{kind_of, FileError, MAX_ETC_FILE};
pub use resolve::*;
