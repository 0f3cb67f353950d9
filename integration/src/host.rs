//! Inspecting and cleaning host state: mounts, cgroup directories, processes; host commands.

use std::path::{Path, PathBuf};

/// Mount points of the host mount namespace (this process's), in mount order.
pub fn mount_points() -> Vec<PathBuf> {
    berth_mountinfo::read_self()
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.mount_point)
        .collect()
}

/// Host mount points at or under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    mount_points()
        .into_iter()
        .filter(|m| m.starts_with(dir))
        .collect()
}

/// Lazily unmounts everything at or under `dir`, deepest (latest) first.
pub fn unmount_all_under(dir: &Path) {
    for _ in 0..8 {
        let ms = mounts_under(dir);
        if ms.is_empty() {
            return;
        }
        for m in ms.iter().rev() {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// Names of the entries of directory `dir` (none if it does not exist), in no particular order.
pub fn file_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// True on a cgroup2-only host (the unified hierarchy mounted at `/sys/fs/cgroup` itself).
pub fn cgroup2_only() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Host path of `file` for controller `ctrl` (v1) in cgroup `cg`, or the unified path on v2.
pub fn cgroup_file(ctrl: &str, cg: &str, file: &str) -> PathBuf {
    let rel = cg.trim_start_matches('/');
    if cgroup2_only() {
        Path::new("/sys/fs/cgroup").join(rel).join(file)
    } else {
        Path::new("/sys/fs/cgroup").join(ctrl).join(rel).join(file)
    }
}

/// The value in `file` of cgroup `cg` (see [`cgroup_file`]), trimmed; panics naming the file
/// if unreadable.
pub fn read_cgroup_file(ctrl: &str, cg: &str, file: &str) -> String {
    read_trimmed(&cgroup_file(ctrl, cg, file))
}

/// The contents of `p` without surrounding white space; panics naming the file if unreadable.
pub fn read_trimmed(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Every cgroup hierarchy root on this host: each v1 hierarchy, the hybrid `unified` mount,
/// or `/sys/fs/cgroup` itself on a cgroup2-only host.
pub fn cgroup_roots() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    let mut roots = Vec::new();
    if let Ok(rd) = std::fs::read_dir(base) {
        for e in rd.flatten() {
            let p = e.path();
            // cpu,cpuacct style symlinks point at a hierarchy we already list.
            if p.is_dir() && !e.file_type().map(|t| t.is_symlink()).unwrap_or(false) {
                roots.push(p);
            }
        }
    }
    roots.sort();
    roots
}

/// Directories for cgroup path `cg` (as in linux.cgroupsPath) that exist in any hierarchy.
pub fn cgroup_dirs(cg: &str) -> Vec<PathBuf> {
    let rel = cg.trim_start_matches('/');
    if rel.is_empty() {
        return Vec::new();
    }
    cgroup_roots()
        .into_iter()
        .map(|r| r.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Pids listed in `cgroup.procs` of `dir` and its descendants.
pub fn cgroup_pids(dir: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    if let Ok(s) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                pids.extend(cgroup_pids(&e.path()));
            }
        }
    }
    pids
}

/// Removes a cgroup directory tree depth-first (cgroup dirs are removed with rmdir).
pub fn remove_cgroup_tree(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// SIGKILLs every process in cgroup path `cg` (in any hierarchy, sub-cgroups included): they
/// were started by the test's containers, whose unique cgroup it is.
pub fn kill_cgroup_procs(cg: &str) {
    for d in cgroup_dirs(cg) {
        for pid in cgroup_pids(&d) {
            kill_pid(pid);
        }
    }
}

/// Removes cgroup path `cg` in every hierarchy, retrying (for up to about a second) while its
/// killed processes are still exiting.
pub fn remove_cgroup_retrying(cg: &str) {
    for _ in 0..50 {
        let dirs = cgroup_dirs(cg);
        if dirs.is_empty() {
            break;
        }
        for d in dirs {
            remove_cgroup_tree(&d);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs a host command (`ip`, `nsenter`, a runtime) and asserts that it succeeded, with its
/// stderr in the message.
pub fn run_ok(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            // State is the field after the parenthesised comm.
            let state = s
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Waits up to `limit` for `pid` to exit (or become a zombie); true if it did. The caller
/// asserts on the result with its own message.
pub fn wait_pid_gone(pid: i32, limit: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    while pid_alive(pid) && start.elapsed() < limit {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    !pid_alive(pid)
}

/// Sends SIGKILL to `pid` (which the caller started) and ignores errors.
pub fn kill_pid(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Pids of every process whose /proc/<pid>/cmdline mentions `needle` (used to assert a
/// test's unique id is gone; never to kill).
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let me = std::process::id() as i32;
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                if String::from_utf8_lossy(&c).contains(needle) && pid_alive(pid) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

/// Reads a field like `CapEff:` from a `/proc/<pid>/status` text.
pub fn status_field<'a>(status: &'a str, field: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
}

/// The shared libraries (and loader) the dynamic executable `bin` loads, by absolute path, as
/// `ldd` lists them; through the loader's own `--list` where `ldd` (a bash script) is missing,
/// as in the cgroup2 guest.
pub fn shared_libraries(bin: &Path) -> Vec<PathBuf> {
    let list = std::process::Command::new("ldd")
        .arg(bin)
        .output()
        .or_else(|_| {
            std::process::Command::new("/lib64/ld-linux-x86-64.so.2")
                .arg("--list")
                .arg(bin)
                .output()
        })
        .expect("run ldd or ld.so --list");
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with('/')))
        .map(PathBuf::from)
        .collect()
}
