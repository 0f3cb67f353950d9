//! `probe-open LIST`: tries to open every path listed (one per line) read-only, without following
//! a final symlink and without blocking, and prints `OK <path>` or `ERR <errno> <path>` for each.
//! The private-directory tests run it as `nobody` (through `setpriv`) against berthd's dirs.

use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;

fn main() {
    let Some(list) = std::env::args_os().nth(1) else {
        eprintln!("usage: probe-open LIST");
        std::process::exit(2);
    };
    let file = match std::fs::File::open(&list) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("probe-open: {}: {e}", std::path::Path::new(&list).display());
            std::process::exit(2);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in std::io::BufReader::new(file).split(b'\n') {
        let Ok(line) = line else { break };
        if line.is_empty() {
            continue;
        }
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&line));
        let r = nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_NOFOLLOW
                | nix::fcntl::OFlag::O_NONBLOCK
                | nix::fcntl::OFlag::O_NOCTTY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        let _ = match r {
            Ok(_fd) => writeln!(out, "OK {}", path.display()),
            Err(e) => writeln!(out, "ERR {} {}", e as i32, path.display()),
        };
    }
    let _ = out.flush();
}
