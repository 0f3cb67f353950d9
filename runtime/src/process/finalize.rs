//! The last steps before a container process runs its program, shared by the container init and
//! by `exec` (a process joining a running container), so both get the same rlimits, user, groups,
//! capabilities, cwd, environment and no-new-privileges.
//!
//! Both callers are already inside the container (after pivot_root, or after joining its mount
//! namespace), so `/` is the container's root and paths resolve inside it.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::prctl;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, execve, setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::Process;

use crate::error::Context;
use crate::{capabilities, rlimits, Error, Result};

/// The user program, resolved inside the container and ready for execve.
#[derive(Debug)]
pub struct Program {
    exe: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

/// The points in [`prepare`] where the caller's `at` hook runs: where the seccomp filter is
/// loaded (runc loads it before the user change when no_new_privs is off, so that the filter
/// load still has CAP_SYS_ADMIN, and otherwise as late as possible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// After the program lookup, before groups, uid and capabilities change.
    BeforeUserChange,
    /// After everything else, just before [`exec`].
    Last,
}

/// rlimits, oomScoreAdj, program lookup (so a missing program fails before anything runs), groups,
/// gid, uid and capabilities, cwd, no_new_privs and umask. `userns`: the process is in a user
/// namespace (where setgroups may be denied). `at` runs at each [`Stage`].
pub fn prepare(
    process: &Process,
    userns: bool,
    at: &mut dyn FnMut(Stage) -> Result<()>,
) -> Result<Program> {
    rlimits::apply(process.rlimits().as_deref().unwrap_or_default())?;
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .ctx(|| "write /proc/self/oom_score_adj".into())?;
    }
    let mut env_list = environment(process.env().as_deref().unwrap_or_default())?;
    if !crate::passwd::has_home(&env_list) {
        // As runc: HOME from the container's passwd entry of the uid, "/" when there is none.
        let home = crate::passwd::home_of(crate::passwd::PASSWD, process.user().uid());
        env_list.push(format!("HOME={home}"));
    }
    let args = process.args().as_deref().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| Error::InvalidArgument("process args cannot be empty".into()))?;
    let exe = find_executable(arg0, &env_list)?;

    at(Stage::BeforeUserChange)?;
    // runc's order: chdir as the runtime's user first (it may enter what the process's user may
    // not), and only on EACCES/EPERM again once the process's user is set (it may enter what
    // root cannot, e.g. a root-squashed volume owned by that user).
    let cwd_err = |source| Error::Sys {
        context: format!("chdir to cwd ({:?}) set in config.json", process.cwd()),
        source,
    };
    let cwd_done = match chdir(process.cwd()) {
        Ok(()) => true,
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => false,
        Err(e) => return Err(cwd_err(e)),
    };
    crate::console::fix_stdio_owner(process.user().uid())?;
    set_user(process, userns)?;
    if !cwd_done {
        chdir(process.cwd()).map_err(cwd_err)?;
    }
    check_cwd_inside_root()?;
    if process.no_new_privileges().unwrap_or(false) {
        prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())?;
    }
    umask(Mode::from_bits_truncate(
        process.user().umask().unwrap_or(0o022),
    ));
    at(Stage::Last)?;

    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| {
            Error::InvalidArgument(format!("NUL byte in {:?}", String::from_utf8_lossy(s)))
        })
    };
    Ok(Program {
        exe: cstr(exe.as_os_str().as_bytes())?,
        args: args
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<_>>()?,
        env: env_list
            .iter()
            .map(|e| cstr(e.as_bytes()))
            .collect::<Result<_>>()?,
    })
}

/// The environment as runc builds it: each `NAME=value` checked, and a repeated name keeps its
/// first position with its last value (what setenv in order gives).
fn environment(env: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    for kv in env {
        let Some((name, _)) = kv.split_once('=') else {
            return Err(Error::InvalidArgument(format!(
                "invalid environment variable: {kv:?}"
            )));
        };
        if name.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "environment variable name can't be empty: {kv:?}"
            )));
        }
        match out
            .iter_mut()
            .find(|e| e.split_once('=').is_some_and(|(n, _)| n == name))
        {
            Some(slot) => slot.clone_from(kv),
            None => out.push(kv.clone()),
        }
    }
    Ok(out)
}

/// Default signal dispositions and an empty mask, then execve; returns only on error.
pub fn exec(p: &Program) -> Result<Infallible> {
    reset_signals();
    execve(&p.exe, &p.args, &p.env).ctx(|| format!("exec {:?}", p.exe))
}

/// Closes every inherited fd except stdio, `3..3+preserve` and `keep`, and makes the preserved
/// ones inheritable, so the program gets nothing of the runtime's (CVE-2024-21626: no host
/// directory fd can serve as a cwd).
pub fn close_fds_except(preserve: u32, keep: &[RawFd]) -> Result<()> {
    let keep_until = 3 + preserve as RawFd;
    let dir = std::fs::read_dir("/proc/self/fd").ctx(|| "read /proc/self/fd".into())?;
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in fds {
        if fd < 3 || keep.contains(&fd) {
            continue;
        }
        if fd < keep_until {
            let _ = crate::syscall::clear_cloexec(fd);
        } else {
            // The read_dir fd itself is already closed here; EBADF is fine.
            let _ = nix::unistd::close(fd);
        }
    }
    Ok(())
}

/// After chdir: a cwd outside the container's root (through a leaked host fd) shows up as unreachable.
fn check_cwd_inside_root() -> Result<()> {
    match std::env::current_dir() {
        Ok(p) if p.is_absolute() && !p.starts_with("(unreachable)") => Ok(()),
        Ok(p) => Err(Error::InvalidArgument(format!(
            "cwd {} is outside the container root",
            p.display()
        ))),
        Err(e) => Err(Error::Io {
            context: "cwd is outside the container root".into(),
            source: e,
        }),
    }
}

/// Groups, gids, uid and capabilities, in the order the kernel allows.
fn set_user(process: &Process, userns: bool) -> Result<()> {
    let user = process.user();
    let caps = process.capabilities().as_ref();
    capabilities::drop_bounding(caps)?;
    let groups: Vec<Gid> = user
        .additional_gids()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    let setgroups_denied = userns
        && std::fs::read_to_string("/proc/self/setgroups")
            .map(|s| s.trim() == "deny")
            .unwrap_or(false);
    if !setgroups_denied {
        setgroups(&groups).ctx(|| format!("setgroups {groups:?}"))?;
    }
    prctl::set_keepcaps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    setresgid(gid, gid, gid).ctx(|| format!("setresgid {gid}"))?;
    setresuid(uid, uid, uid).ctx(|| format!("setresuid {uid}"))?;
    capabilities::apply(caps)?;
    prctl::set_keepcaps(false).ctx(|| "prctl(PR_SET_KEEPCAPS, 0)".into())
}

/// Resolves the program like execvp, inside the container, with the process's PATH.
fn find_executable(arg0: &str, env: &[String]) -> Result<PathBuf> {
    let not_found = || {
        Error::InvalidArgument(format!(
            "exec: {arg0:?}: executable file not found in $PATH"
        ))
    };
    if arg0.contains('/') {
        return match std::fs::metadata(arg0) {
            Ok(m) if is_executable(&m) => Ok(PathBuf::from(arg0)),
            Ok(_) => Err(Error::InvalidArgument(format!(
                "exec: {arg0:?}: permission denied"
            ))),
            Err(e) => Err(Error::Io {
                context: format!("exec: {arg0:?}"),
                source: e,
            }),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .ok_or_else(not_found)?;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        if let Ok(m) = std::fs::metadata(&candidate) {
            if is_executable(&m) {
                return Ok(candidate);
            }
        }
    }
    Err(not_found())
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.is_file() && m.permissions().mode() & 0o111 != 0
}

/// Restores default dispositions (Rust ignores SIGPIPE) and an empty signal mask for the user program.
fn reset_signals() {
    crate::syscall::reset_signal_dispositions();
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

#[cfg(test)]
mod tests {
    use super::environment;
    use crate::passwd::home_in as passwd_home;

    #[test]
    fn environment_is_checked_and_deduplicated() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            environment(&v(&["A=1", "B=2", "A=3", "C="])).unwrap(),
            v(&["A=3", "B=2", "C="])
        );
        assert!(environment(&v(&["FOO"])).is_err());
        assert!(environment(&v(&["=x"])).is_err());
    }

    #[test]
    fn home_comes_from_the_matching_uid() {
        let text = "root:x:0:0:root:/root:/bin/sh\nbad line\nuser:x:1000:1000::/home/u:/bin/sh\n";
        assert_eq!(passwd_home(text, 0).as_deref(), Some("/root"));
        assert_eq!(passwd_home(text, 1000).as_deref(), Some("/home/u"));
        assert_eq!(passwd_home(text, 5), None);
    }
}
