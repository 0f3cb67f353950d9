//! A tiny program the seccomp tests copy into a container rootfs: it makes the raw syscalls named
//! on its command line (`name[,arg0[,arg1…]]`, numbers decimal or 0x-hex) and prints one line per
//! call, `<call> = <return value>` or `<call> errno <n>`, so that a filter's verdict is visible
//! exactly; `nr<N>` names a syscall by number. A SIGSYS handler prints `sigsys` (for SCMP_ACT_TRAP). Busybox has no applet for most
//! of these calls (keyctl, raw getppid with arguments).

use std::io::Write;

extern "C" fn on_sigsys(_: libc::c_int) {
    let msg = b"sigsys\n";
    // SAFETY: write(2) is async-signal-safe; the buffer is a static byte string.
    unsafe { libc::write(1, msg.as_ptr().cast(), msg.len()) };
}

fn number(name: &str) -> Option<libc::c_long> {
    Some(match name {
        "getppid" => libc::SYS_getppid,
        "getpgrp" => libc::SYS_getpgrp,
        "kill" => libc::SYS_kill,
        "unshare" => libc::SYS_unshare,
        "keyctl" => libc::SYS_keyctl,
        "add_key" => libc::SYS_add_key,
        "personality" => libc::SYS_personality,
        "clone3" => libc::SYS_clone3,
        "bpf" => libc::SYS_bpf,
        "setns" => libc::SYS_setns,
        "getpid" => libc::SYS_getpid,
        "mount" => libc::SYS_mount,
        _ => return None,
    })
}

fn parse(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse::<i64>().ok().map(|v| v as u64),
    }
}

fn main() {
    // SAFETY: installs a handler that only calls write(2).
    unsafe { libc::signal(libc::SIGSYS, on_sigsys as *const () as libc::sighandler_t) };
    let mut out = std::io::stdout();
    for call in std::env::args().skip(1) {
        let mut parts = call.split(',');
        let name = parts.next().unwrap_or_default();
        // `nr452`: a syscall by number, for ones newer than libc and libseccomp.
        let by_number = name.strip_prefix("nr").and_then(|n| n.parse().ok());
        let Some(nr) = by_number.or_else(|| number(name)) else {
            eprintln!("unknown syscall {name}");
            std::process::exit(2);
        };
        let mut a = [0u64; 6];
        for (i, p) in parts.enumerate().take(6) {
            let Some(v) = parse(p) else {
                eprintln!("bad argument {p:?}");
                std::process::exit(2);
            };
            a[i] = v;
        }
        if name == "mount" {
            // mount("none", "/mnt", "tmpfs", 0, NULL): strings cannot come from the command line.
            a[0] = c"none".as_ptr() as u64;
            a[1] = c"/mnt".as_ptr() as u64;
            a[2] = c"tmpfs".as_ptr() as u64;
        }
        // SAFETY: a raw syscall with integer arguments (or static C strings for mount); the probe
        // exists to make exactly these calls.
        let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
        let line = if r == -1 {
            format!(
                "{call} errno {}",
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
            )
        } else {
            format!("{call} = {r}")
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}
