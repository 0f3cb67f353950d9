//! Which of berthd's children berthd waits for itself, and reaping all the others.
//!
//! berthd is a child subreaper (see `tasks::orphan`), so every process orphaned below it — a
//! monitor whose launcher exited, a dead monitor's container init, whatever an OCI runtime or a
//! hook leaves behind — becomes its child and, unless someone waits for it, stays a zombie.
//! Most of them nobody waits for. A few have an owner that needs the exit status: a
//! `tokio::process` / `std::process` child (its `wait` fails with ECHILD if another waiter
//! took the status first), or a process watched through a pidfd (the init whose status
//! berthd records after its monitor died).
//!
//! [`reap_unclaimed`] reaps a zombie child only when both hold:
//! - no owner *claims* its pid: [`claim`], [`spawn`], [`run_std`], and `monitor::pidfd::PidFd`
//!   for the process it opens, for as long as the owner may still wait for it. Spawning holds
//!   the reaper's lock, so a child that exits at once is claimed before the reaper sees it;
//! - it is not in berthd's session. berthd's own forks (every `Command` it spawns, also in
//!   modules below this one such as `oci_runtime`, and any spawn that bypasses the claims)
//!   start in its session, while what is orphaned to it comes from monitors and containers,
//!   which each start a session of their own (setsid). An orphan that stayed in berthd's
//!   session (a grandchild of a CNI plugin) is therefore left alone rather than risk taking a
//!   status someone waits for.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, MutexGuard};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Claimed pids, each with the number of its claims.
static CLAIMS: Mutex<BTreeMap<i32, usize>> = Mutex::new(BTreeMap::new());

/// Woken when a claim is released: the pid may already be an unclaimed zombie.
static RELEASED: tokio::sync::Notify = tokio::sync::Notify::const_new();

fn claims() -> MutexGuard<'static, BTreeMap<i32, usize>> {
    // A panic while holding the lock leaves the map consistent (every update is one insert or
    // remove), so a poisoned lock is still usable.
    CLAIMS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pid whose exit status its holder will collect; released on drop.
#[derive(Debug)]
pub struct Claim {
    pid: i32,
}

impl Claim {
    /// The claimed pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        {
            let mut map = claims();
            if let Some(n) = map.get_mut(&self.pid) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&self.pid);
                }
            }
        }
        RELEASED.notify_one();
    }
}

fn add(map: &mut BTreeMap<i32, usize>, pid: i32) -> Claim {
    *map.entry(pid).or_insert(0) += 1;
    Claim { pid }
}

/// Claims `pid` (a process berthd will wait for, or holds a pidfd on).
pub fn claim(pid: i32) -> Claim {
    add(&mut claims(), pid)
}

/// Spawns `cmd` and claims the child before the reaper can see it. Keep the claim until the
/// child has been waited for (or dropped: tokio then reaps or forgets it itself).
pub fn spawn(cmd: &mut tokio::process::Command) -> io::Result<(tokio::process::Child, Claim)> {
    let mut map = claims();
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| io::Error::other("spawned child has no pid"))?;
    Ok((child, add(&mut map, pid)))
}

/// Runs `cmd` to completion (blocking) with the child claimed while it runs.
pub fn run_std(cmd: &mut std::process::Command) -> io::Result<std::process::ExitStatus> {
    let (mut child, claim) = {
        let mut map = claims();
        let child = cmd.spawn()?;
        let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
        let claim = add(&mut map, pid);
        (child, claim)
    };
    let status = child.wait();
    drop(claim);
    status
}

/// Reaps every zombie child of this process that no one claims and that is not in our session
/// (see the module docs); returns their pids.
pub fn reap_unclaimed() -> Vec<i32> {
    let Ok(session) = nix::unistd::getsid(None) else {
        return Vec::new();
    };
    reap_unclaimed_among(&children(), session.as_raw())
}

/// [`reap_unclaimed`] limited to `candidates` (pids of our children); `session` is ours.
fn reap_unclaimed_among(candidates: &[i32], session: i32) -> Vec<i32> {
    let map = claims();
    let mut reaped = Vec::new();
    for &pid in candidates {
        if map.contains_key(&pid) {
            continue;
        }
        match stat_fields(pid) {
            Some(s) if s.state == 'Z' && s.session != session => {}
            _ => continue,
        }
        // A zombie's pid cannot be reused before it is reaped, and no claimed spawn can start
        // while we hold the lock: this is the process we looked at.
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => {}
            Ok(_) => reaped.push(pid),
        }
    }
    reaped
}

/// Resolves when a claim was released since the last call (or at once if one was).
pub async fn released() {
    RELEASED.notified().await;
}

/// Our children's pids: from `/proc/self/task/*/children` (a reparented orphan may sit under
/// any of our threads), or a scan of every `/proc/<pid>/stat` when the kernel lacks that file.
fn children() -> Vec<i32> {
    let me = std::process::id();
    let mut out = Vec::new();
    let mut have_children_files = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                have_children_files = true;
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
    }
    if have_children_files {
        return out;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if stat_fields(pid).is_some_and(|s| s.ppid == me) {
            out.push(pid);
        }
    }
    out
}

/// The fields of `/proc/<pid>/stat` the reaper looks at.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    state: char,
    ppid: u32,
    session: i32,
}

fn stat_fields(pid: i32) -> Option<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

/// Fields 3 (state), 4 (ppid) and 6 (session).
fn parse_stat(stat: &str) -> Option<Stat> {
    // The command name may contain spaces and parentheses: the fields after it start after
    // the last ')'.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let _pgrp = rest.next()?;
    let session = rest.next()?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        session,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_odd_command_name() {
        assert_eq!(
            parse_stat("42 (a) b (c) Z 7 42 43 0 -1"),
            Some(Stat {
                state: 'Z',
                ppid: 7,
                session: 43
            })
        );
        assert_eq!(parse_stat("42 (x"), None);
    }

    /// A child that starts a session of its own and exits at once (an orphan's shape).
    fn own_session_child() -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("true");
        // SAFETY: setsid is async-signal-safe and touches no memory.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    #[test]
    fn only_unclaimed_zombies_of_other_sessions_are_reaped() {
        let session = nix::unistd::getsid(None).unwrap().as_raw();
        let (mut claimed, claim) = {
            let mut map = claims();
            let c = own_session_child();
            let claim = add(&mut map, c.id() as i32);
            (c, claim)
        };
        let stray = own_session_child();
        let mut ours = std::process::Command::new("true").spawn().unwrap();
        let pids = [stray.id() as i32, claim.pid(), ours.id() as i32];
        let zombie = |pid: i32| stat_fields(pid).is_some_and(|s| s.state == 'Z');
        let mut reaped = Vec::new();
        for _ in 0..500 {
            // Only among ours: other tests in this process have children of their own.
            reaped.extend(reap_unclaimed_among(&pids, session));
            if reaped.contains(&pids[0]) && zombie(pids[1]) && zombie(pids[2]) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(reaped, vec![pids[0]]);
        // The owners still get their status.
        assert!(claimed.wait().unwrap().success());
        assert!(ours.wait().unwrap().success());
        drop(claim);
        drop(stray);
    }
}
