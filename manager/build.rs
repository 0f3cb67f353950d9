//! Builds the static helper binaries berthd embeds: `berth-pause` (pause/pause.c), the process of
//! CRI pod sandboxes, put into its pause image; and `berth-init` (pause/init.c), pid 1 of
//! `berth run --init` containers. Project-built, not pulled from a registry.

use std::path::PathBuf;
use std::process::Command;

fn build(cc: &str, out: &std::path::Path, name: &str, src: &str) {
    println!("cargo:rerun-if-changed={src}");
    let bin = out.join(name);
    let status = Command::new(cc)
        .args(["-static", "-Os", "-s", "-Wall", "-o"])
        .arg(&bin)
        .arg(src)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("{cc} -static {src} failed ({s}); needs gcc and libc6-dev"),
        Err(e) => panic!("cannot run {cc} to build {src}: {e}; needs gcc and libc6-dev"),
    }
}

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "gcc".into());
    build(&cc, &out, "berth-pause", "pause/pause.c");
    build(&cc, &out, "berth-init", "pause/init.c");
}
