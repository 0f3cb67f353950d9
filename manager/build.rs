//! Builds `berth-pause` (pause/pause.c), the static binary of CRI pod sandboxes, which berthd
//! embeds and puts into its pause image: a project-built pause, not one pulled from a registry.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=pause/pause.c");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bin = out.join("berth-pause");
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".into());
    let status = Command::new(&cc)
        .args(["-static", "-Os", "-s", "-Wall", "-o"])
        .arg(&bin)
        .arg("pause/pause.c")
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{cc} -static pause/pause.c failed ({s}); needs gcc and libc6-dev"),
        Err(e) => panic!("cannot run {cc} to build pause/pause.c: {e}; needs gcc and libc6-dev"),
    }
}
