//! `exec`: run a new process in a created or running container, with runc 1.1's flags.
//!
//! The process is the container's `process` from the bundle's config.json (runc 1.1 reads it
//! there too) with the flags applied, or the `--process` file alone. It joins every namespace of
//! the container init that differs from ours and the container's cgroup (or a sub-cgroup given
//! with `--cgroup`) before it runs any user code; see [`crate::process::setns`].

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxNamespaceType, Process};

use super::run::{raw_console, wait_init, Restore};
use crate::cgroups::{Cgroup, CgroupError, Mode};
use crate::error::Context;
use crate::process::setns::{self, ExecCtx};
use crate::state_dir::{self, State, Status};
use crate::{config, Error, Result};

/// `exec` flags, as runc 1.1 has them.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process FILE`: the whole process (the other process flags are then ignored, as in runc).
    pub process_file: Option<PathBuf>,
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `-t/--tty`.
    pub tty: bool,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `-d/--detach`.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--cwd`.
    pub cwd: Option<PathBuf>,
    /// `-e/--env`, appended to the container's environment.
    pub env: Vec<String>,
    /// `-u uid[:gid]`.
    pub user: Option<String>,
    /// `-g/--additional-gids`.
    pub additional_gids: Vec<i64>,
    /// `-c/--cap`: added to the bounding, effective, permitted and ambient sets.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
    /// `--ignore-paused`.
    pub ignore_paused: bool,
    /// `--cgroup [<controller>[,<controller>]:]<path>`, repeatable.
    pub cgroups: Vec<String>,
    /// `--process-label`.
    pub process_label: Option<String>,
    /// `--apparmor`.
    pub apparmor: Option<String>,
}

/// The namespace types in the order they are joined: the user namespace first (it grants the
/// rights to join the others), mount late, as runc's nsexec does.
const JOIN_ORDER: [(LinuxNamespaceType, &str); 8] = [
    (LinuxNamespaceType::User, "user"),
    (LinuxNamespaceType::Ipc, "ipc"),
    (LinuxNamespaceType::Uts, "uts"),
    (LinuxNamespaceType::Network, "net"),
    (LinuxNamespaceType::Pid, "pid"),
    (LinuxNamespaceType::Mount, "mnt"),
    (LinuxNamespaceType::Cgroup, "cgroup"),
    (LinuxNamespaceType::Time, "time"),
];

/// Runs a process in container `id`; returns its exit code (128+signal when killed), or 0 with
/// `--detach` once it runs.
pub fn exec(root: &Path, id: &str, opts: &ExecOptions) -> Result<i32> {
    let st = State::load(root, id)?;
    match st.status(&state_dir::container_dir(root, id)) {
        Status::Stopped => {
            return Err(Error::WrongState(
                "cannot exec in a stopped container".into(),
            ))
        }
        Status::Paused if !opts.ignore_paused => {
            return Err(Error::WrongState(
                "cannot exec in a paused container (use --ignore-paused to override)".into(),
            ))
        }
        Status::Creating => {
            return Err(Error::WrongState(
                "cannot exec in a container that is still being created".into(),
            ))
        }
        _ => {}
    }
    if opts.process_file.is_none() && opts.args.is_empty() {
        return Err(Error::InvalidArgument(
            "process args cannot be empty".into(),
        ));
    }
    let bundle = config::load(&st.bundle)?;
    let process = build_process(&bundle, opts)?;
    let cgroup = st
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument(format!("container {id} has no cgroup")))?;
    let target = sub_cgroup(cgroup, &opts.cgroups)?;
    let terminal = process.terminal().unwrap_or(false);
    if opts.detach && terminal && opts.console_socket.is_none() {
        return Err(Error::InvalidArgument(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        ));
    }
    if (!opts.detach || !terminal) && opts.console_socket.is_some() {
        return Err(Error::InvalidArgument(
            "cannot use console socket if runc will not detach or allocate tty".into(),
        ));
    }
    check_preserved_fds(opts.preserve_fds)?;
    let namespaces = open_namespaces(&st)?;

    // Foreground: block every signal before the process exists so none is lost; the process
    // resets its own mask before exec.
    let mut restore = None;
    let mut blocked = SigSet::all();
    blocked.remove(Signal::SIGKILL);
    blocked.remove(Signal::SIGSTOP);
    if !opts.detach {
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), Some(&mut old))
            .ctx(|| "sigprocmask".into())?;
        restore = Some(Restore {
            mask: old,
            termios: None,
        });
    }
    let own_pty = terminal && opts.console_socket.is_none();
    let (ours, socket): (Option<UnixStream>, Option<OwnedFd>) = if own_pty {
        let (a, b) = UnixStream::pair().ctx(|| "socketpair for console".into())?;
        (Some(a), Some(OwnedFd::from(b)))
    } else if let Some(path) = &opts.console_socket {
        let s = UnixStream::connect(path)
            .ctx(|| format!("connect to console socket {}", path.display()))?;
        (None, Some(OwnedFd::from(s)))
    } else {
        (None, None)
    };
    let ctx = ExecCtx {
        id,
        process: &process,
        spec: &bundle.spec,
        bundle: &bundle.dir,
        init_pid: st.init_pid,
        namespaces: &namespaces,
        console_socket: socket.as_ref().map(|s| s.as_raw_fd()),
        preserve_fds: opts.preserve_fds,
    };
    let place = |pid: Pid| join_cgroup(&target, cgroup, &st, pid);
    let pid = setns::spawn(&ctx, &place)?;
    drop(socket);
    drop(namespaces);
    let kill_it = |e: Error| {
        let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        e
    };
    let master = match &ours {
        Some(sock) => Some(crate::console::recv_master(sock.as_raw_fd()).map_err(kill_it)?),
        None => None,
    };
    if let Some(pid_file) = &opts.pid_file {
        state_dir::write_atomic(pid_file, pid.to_string().as_bytes(), 0o644).map_err(kill_it)?;
    }
    if opts.detach {
        return Ok(0);
    }
    if let (Some(m), Some(r)) = (&master, restore.as_mut()) {
        if let Some(t) = raw_console(m) {
            r.termios = Some(t);
        }
    }
    let code = wait_init(pid, &blocked, master.as_ref())?;
    drop(restore);
    Ok(code)
}

/// The process to run: `--process` as given, or the container's process with the flags applied.
fn build_process(bundle: &config::Bundle, opts: &ExecOptions) -> Result<Process> {
    let p = match &opts.process_file {
        Some(path) => {
            let bytes =
                std::fs::read(path).ctx(|| format!("open --process file {}", path.display()))?;
            serde_json::from_slice::<Process>(&bytes).map_err(|e| Error::Config {
                path: path.clone(),
                msg: format!("invalid --process file: {e}"),
            })?
        }
        None => {
            let mut p = bundle.spec.process().clone().ok_or_else(|| {
                Error::InvalidArgument("the container's config has no process".into())
            })?;
            apply_flags(&mut p, opts)?;
            p
        }
    };
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::InvalidArgument("args must not be empty".into()));
    }
    if p.cwd().as_os_str().is_empty() {
        return Err(Error::InvalidArgument(
            "Cwd property must not be empty".into(),
        ));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::InvalidArgument(
            "Cwd must be an absolute path".into(),
        ));
    }
    if p.selinux_label().as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(if Path::new("/sys/fs/selinux/enforce").exists() {
            Error::Unsupported("selinux (--process-label)".into())
        } else {
            Error::InvalidArgument(
                "selinux label is specified in config, but selinux is disabled or not supported"
                    .into(),
            )
        });
    }
    if p.apparmor_profile().as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(Error::Unsupported("apparmor (--apparmor)".into()));
    }
    Ok(p)
}

/// Applies the process flags to the container's process, as runc's `exec` does.
fn apply_flags(p: &mut Process, opts: &ExecOptions) -> Result<()> {
    p.set_args(Some(opts.args.clone()));
    if let Some(cwd) = &opts.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(a) = &opts.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &opts.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    if !opts.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let extra: Vec<Capability> = opts
            .caps
            .iter()
            .map(|c| parse_cap(c))
            .collect::<Result<_>>()?;
        add_caps(&mut caps, &extra);
        p.set_capabilities(Some(caps));
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(opts.env.iter().cloned());
    p.set_env(Some(env));
    p.set_terminal(Some(opts.tty));
    if opts.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(u) = &opts.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        if let Some(g) = gid {
            p.user_mut().set_gid(g);
        }
    }
    if !opts.additional_gids.is_empty() {
        let mut gids = p.user().additional_gids().clone().unwrap_or_default();
        for g in &opts.additional_gids {
            let g = u32::try_from(*g).map_err(|_| {
                Error::InvalidArgument(format!("additional-gids must be a positive number {g}"))
            })?;
            gids.push(g);
        }
        p.user_mut().set_additional_gids(Some(gids));
    }
    Ok(())
}

/// A `-c` name (`CAP_SYS_ADMIN` or `SYS_ADMIN`, any case), as config.json's are parsed.
fn parse_cap(name: &str) -> Result<Capability> {
    serde_json::from_value::<Capability>(serde_json::Value::String(name.to_string())).map_err(
        |_| {
            Error::InvalidArgument(format!(
                "--cap {name:?}: no such capability (see capabilities(7))"
            ))
        },
    )
}

/// Adds `extra` to the bounding, effective, permitted and ambient sets (runc 1.1.5 leaves the
/// inheritable set alone since CVE-2022-29162).
fn add_caps(caps: &mut LinuxCapabilities, extra: &[Capability]) {
    let add = |set: &Option<oci_spec::runtime::Capabilities>| {
        let mut s = set.clone().unwrap_or_default();
        s.extend(extra.iter().copied());
        Some(s)
    };
    let (b, e, p, a) = (
        add(caps.bounding()),
        add(caps.effective()),
        add(caps.permitted()),
        add(caps.ambient()),
    );
    caps.set_bounding(b);
    caps.set_effective(e);
    caps.set_permitted(p);
    caps.set_ambient(a);
}

/// `-u uid[:gid]`, numeric as in runc.
fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let num = |s: &str, field: &str| {
        s.parse::<u32>().map_err(|e| {
            Error::InvalidArgument(format!(
                "--user {u:?}: parsing {s:?} as int for {field} failed: {e}"
            ))
        })
    };
    Ok((num(uid, "uid")?, gid.map(|g| num(g, "gid")).transpose()?))
}

/// Fails unless fds 3..3+n are open (they are passed to the process), as runc checks them.
fn check_preserved_fds(n: u32) -> Result<()> {
    for i in 0..n {
        let fd = 3 + u64::from(i);
        std::fs::metadata(format!("/proc/self/fd/{fd}")).map_err(|e| {
            Error::InvalidArgument(format!("unable to stat preserved-fd {i} (of {n}): {e}"))
        })?;
    }
    Ok(())
}

/// Opens the init's namespaces that differ from ours, in join order, then checks the init is
/// still the recorded process (so a reused pid cannot hand us someone else's namespaces).
fn open_namespaces(st: &State) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    let mut out = Vec::new();
    for (typ, name) in JOIN_ORDER {
        let theirs_path = format!("/proc/{}/ns/{name}", st.init_pid);
        let ours = match std::fs::metadata(format!("/proc/self/ns/{name}")) {
            Ok(m) => m,
            // A kernel without this namespace type.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).ctx(|| format!("stat /proc/self/ns/{name}")),
        };
        let f = std::fs::File::open(&theirs_path)
            .ctx(|| format!("open {theirs_path} (container {})", st.id))?;
        let m = f.metadata().ctx(|| format!("stat {theirs_path}"))?;
        if (m.dev(), m.ino()) != (ours.dev(), ours.ino()) {
            out.push((typ, OwnedFd::from(f)));
        }
    }
    if !st.init_alive() {
        return Err(Error::WrongState(
            "cannot exec in a stopped container".into(),
        ));
    }
    Ok(out)
}

/// The cgroup the process joins: the container's, or its sub-cgroups given with `--cgroup`
/// (`path` for every hierarchy, `ctrl[,ctrl]:path` for some), parsed and checked as runc does.
fn sub_cgroup(cg: &Cgroup, args: &[String]) -> Result<Cgroup> {
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for a in args {
        let parts: Vec<&str> = a.splitn(3, ':').collect();
        match parts.as_slice() {
            [path] => {
                if args.len() != 1 {
                    return Err(Error::InvalidArgument(format!(
                        "invalid --cgroup argument: {a} (missing <controller>: prefix)"
                    )));
                }
                paths.insert(String::new(), path.to_string());
            }
            [ctrls, path] => {
                for c in ctrls.split(',') {
                    paths.insert(c.to_string(), path.to_string());
                }
            }
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "invalid --cgroup argument: {a}"
                )))
            }
        }
    }
    let mut out = cg.clone();
    if paths.is_empty() {
        return Ok(out);
    }
    if let Some(add) = paths.get("") {
        for h in &mut out.v1 {
            h.dir = join_sub(&h.dir, add)?;
        }
        if let Some(u) = &out.unified {
            out.unified = Some(join_sub(u, add)?);
        }
        return Ok(out);
    }
    for (ctrl, add) in &paths {
        let h = out
            .v1
            .iter_mut()
            .find(|h| h.controllers.iter().any(|c| c == ctrl))
            .ok_or_else(|| {
                Error::InvalidArgument(format!("unknown controller {ctrl} in SubCgroupPaths"))
            })?;
        h.dir = join_sub(&h.dir, add)?;
    }
    Ok(out)
}

/// `base/add` with `..` resolved lexically; it must stay below `base`.
fn join_sub(base: &Path, add: &str) -> Result<PathBuf> {
    let mut out = base.to_path_buf();
    for c in Path::new(add).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    if !out.starts_with(base) {
        return Err(Error::InvalidArgument(format!(
            "{add} is not a sub cgroup path"
        )));
    }
    Ok(out)
}

/// Moves `pid` into `target`. On cgroup2, a container cgroup that has become an inner node
/// (controllers enabled for children) refuses processes with EBUSY; runc then joins the init's
/// own cgroup, and so do we.
fn join_cgroup(target: &Cgroup, cg: &Cgroup, st: &State, pid: Pid) -> Result<()> {
    let err = match target.add_process(pid) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let busy = matches!(&err, CgroupError::Io { source, .. } if source.raw_os_error() == Some(libc::EBUSY));
    if busy && target.mode == Mode::Unified && target.unified == cg.unified {
        if let Some(fallback) = init_cgroup_v2(cg, st.init_pid) {
            if fallback.add_process(pid).is_ok() {
                return Ok(());
            }
        }
    }
    Err(Error::Init(format!(
        "error adding pid {pid} to cgroups: {err}"
    )))
}

/// The init's own cgroup2 directory, from /proc/<init>/cgroup.
fn init_cgroup_v2(cg: &Cgroup, init_pid: i32) -> Option<Cgroup> {
    let text = std::fs::read_to_string(format!("/proc/{init_pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mount = cg.unified_mount.as_ref()?;
    let mut out = cg.clone();
    out.unified = Some(mount.join(rel.trim_start_matches('/')));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flag_is_numeric() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:5").unwrap(), (1000, Some(5)));
        let e = parse_user("foo").unwrap_err().to_string();
        assert!(e.contains("for uid"), "{e}");
        let e = parse_user("1:x").unwrap_err().to_string();
        assert!(e.contains("for gid"), "{e}");
    }

    #[test]
    fn cap_names_are_checked() {
        assert_eq!(parse_cap("CAP_SYS_ADMIN").unwrap(), Capability::SysAdmin);
        assert_eq!(parse_cap("sys_admin").unwrap(), Capability::SysAdmin);
        assert!(parse_cap("CAP_FOO")
            .unwrap_err()
            .to_string()
            .contains("CAP_FOO"));
    }

    #[test]
    fn sub_cgroup_paths_stay_below() {
        let base = Path::new("/sys/fs/cgroup/memory/c");
        assert_eq!(join_sub(base, "a/b").unwrap(), base.join("a/b"));
        assert_eq!(join_sub(base, "a/../b").unwrap(), base.join("b"));
        assert!(join_sub(base, "../..").is_err());
    }
}
