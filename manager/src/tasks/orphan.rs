//! Watching a task until its exit is known, also when its monitor dies first.
//!
//! While the monitor lives it is the init's parent (a child subreaper) and records the exit.
//! When it dies without a record, the init is orphaned: the kernel reparents it to the nearest
//! living subreaper among the monitor's ancestors — berthd itself, which is one (see
//! [`become_subreaper`]), as long as the berthd that started the monitor still runs; else pid 1.
//! berthd holds a pidfd on every live init (opened while its identity was certain), so it
//! sees the exit in every case, and gets the real status by reaping the init when it is the
//! parent, or from the kernel (`PIDFD_INFO_EXIT`) after pid 1 reaped it. To also learn an exit
//! that happens while berthd is down, it starts an adopting monitor (`berth-monitor --adopt`)
//! that holds its own pidfd and writes the same exit record. Where nothing can tell the status,
//! it stays unknown: no code and no time are invented.

use super::exit::{is_monitor_of, read_exit_file, wait_pidfd};
use super::manager::{write_atomic, Entry, TaskManager};
use super::spawn::spawn_monitor;
use super::types::{ExitStatus, TaskInfo};
use crate::monitor::args::MonitorArgs;
use crate::monitor::layout::TASK_FILE;
use crate::monitor::pidfd::{start_time, Exit, PidFd, REAP_WAIT};
use crate::monitor::ExitRecord;
use crate::oci_runtime::{Runtime, RuntimeStatus};
use nix::errno::Errno;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long an adopting monitor may take to report that it watches the init.
const ADOPT_REPORT_WAIT: Duration = Duration::from_secs(10);
/// How long the exit is held back for the adopting monitor to finish after the record exists.
const ADOPTER_EXIT_WAIT: Duration = Duration::from_secs(5);
/// Interval of the checks while waiting for an orphaned init to be reaped by its parent.
const REAP_POLL: Duration = Duration::from_millis(100);

/// Makes berthd a child subreaper (`PR_SET_CHILD_SUBREAPER`): monitors it starts become its
/// children when their launcher exits, and so do the container inits of monitors that die, so
/// that berthd can collect their real exit status. Call once at daemon start.
pub fn become_subreaper() -> Result<(), Errno> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Opens the pidfd berthd keeps on a task's init, making sure it is that init: by the start
/// time recorded at create, or, for tasks recorded without one, by the runtime still reporting
/// the container alive with this pid (the runtime checks the start time itself).
pub(crate) async fn open_init(info: &TaskInfo, runtime: &Runtime) -> Option<PidFd> {
    let pid = i32::try_from(info.pid).ok()?;
    if let Some(start) = info.init_start_time {
        return PidFd::open(pid, Some(start)).ok().flatten();
    }
    let fd = PidFd::open(pid, None).ok().flatten()?;
    let st = runtime.state(&info.id).await.ok()?;
    (st.status != RuntimeStatus::Stopped && i64::from(st.pid) == i64::from(info.pid)).then_some(fd)
}

/// The start time to record for a freshly created init.
pub(crate) fn init_start_time(pid: u32) -> Option<u64> {
    start_time(i32::try_from(pid).ok()?)
}

/// Waits until the task's exit is known and publishes it (see the module docs).
pub(crate) async fn watch_exit(entry: Arc<Entry>, tm: TaskManager) {
    let dir = entry.info.state_dir.clone();
    wait_monitor(entry.monitor_pid.load(Ordering::SeqCst), &dir).await;
    if let Some(status) = read_exit_file(&dir).await.ok().flatten() {
        entry.settle(status, &tm.inner.events);
        return;
    }
    // The monitor died without recording the exit.
    let Some(init) = entry.init.as_ref() else {
        tracing::warn!(task = entry.info.id, "monitor gone without an exit record and the init cannot be watched; exit status unknown");
        entry.settle(ExitStatus::unknown(), &tm.inner.events);
        return;
    };
    tracing::warn!(
        task = entry.info.id,
        init = init.pid(),
        "monitor gone without an exit record; berthd follows the init"
    );
    let adopter = if init.exited() {
        None
    } else {
        adopt(&entry, &tm).await
    };
    let status = follow(&entry, init).await;
    if let Some(pid) = adopter {
        // The adopter exits once the record exists; reap it (it became our child) before the
        // exit is published, so that a delete that follows never races its last writes into
        // the task's dir. Bounded: a wedged adopter must not hide the exit.
        if tokio::time::timeout(ADOPTER_EXIT_WAIT, wait_monitor(pid, &dir))
            .await
            .is_err()
        {
            tracing::warn!(
                task = entry.info.id,
                monitor = pid,
                "adopting monitor still runs after the exit was recorded"
            );
        }
    }
    entry.settle(status, &tm.inner.events);
}

/// Waits until monitor `pid` of the task in `dir` is gone, and reaps it if it is our child.
async fn wait_monitor(pid: u32, dir: &std::path::Path) {
    let Ok(raw) = i32::try_from(pid) else {
        return;
    };
    let Ok(Some(monitor)) = PidFd::open(raw, None) else {
        return;
    };
    // The pidfd pins the process: once it is known to be the monitor, reaping it is safe.
    if !is_monitor_of(pid, dir) {
        return;
    }
    match monitor.fd().try_clone_to_owned() {
        Ok(watch) => {
            if wait_pidfd(watch).await.is_err() {
                poll_gone(pid, dir).await;
            }
        }
        Err(_) => poll_gone(pid, dir).await,
    }
    let _ = monitor.try_reap();
}

/// Reaps process `pid` once it has exited, if it is our child (a monitor that failed, which
/// berthd does not track).
pub(crate) async fn reap_when_gone(pid: u32) {
    let Some(fd) = i32::try_from(pid)
        .ok()
        .and_then(|p| PidFd::open(p, None).ok().flatten())
    else {
        return;
    };
    // Only our own child can be reaped, and a child's pid is not reused before it is.
    if let Ok(watch) = fd.fd().try_clone_to_owned() {
        if wait_pidfd(watch).await.is_ok() {
            let _ = fd.try_reap();
        }
    }
}

/// Polls until the monitor's process is gone (when its pidfd cannot be watched).
async fn poll_gone(pid: u32, dir: &std::path::Path) {
    while is_monitor_of(pid, dir) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts an adopting monitor for the task's live init; returns its pid. On failure berthd
/// still follows the init itself (only an exit while berthd is down would then be lost).
async fn adopt(entry: &Entry, tm: &TaskManager) -> Option<u32> {
    let info = &entry.info;
    let (pid, start) = (i32::try_from(info.pid).ok()?, entry.init_start?);
    let config = &tm.inner.config;
    let args = MonitorArgs {
        id: info.id.clone(),
        bundle: info.bundle.clone(),
        state_dir: info.state_dir.clone(),
        runtime: config.runtime.clone(),
        runtime_root: config.runtime_root.clone(),
        tty: info.stdio.tty,
        stdin: info.stdio.stdin,
        sync_fd: 3,
        create_timeout_secs: config.create_timeout.as_secs().max(1),
        adopt: Some((pid, start)),
        exec: None,
        wait_attach: false,
        attach_timeout_secs: crate::monitor::args::DEFAULT_ATTACH_TIMEOUT_SECS,
        log_max_size: info.log_max_size,
        log_max_file: info.log_max_file.max(1),
    };
    let report = match spawn_monitor(&config.monitor, &args, ADOPT_REPORT_WAIT).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(task = info.id, error = %e, "cannot start an adopting monitor");
            return None;
        }
    };
    entry
        .monitor_pid
        .store(report.monitor_pid, Ordering::SeqCst);
    // A restarted berthd finds the adopting monitor through task.json.
    let mut recorded = info.clone();
    recorded.monitor_pid = report.monitor_pid;
    recorded.init_start_time = Some(start);
    let written = match serde_json::to_vec_pretty(&recorded) {
        Ok(json) => write_atomic(&info.state_dir.join(TASK_FILE), &json).await,
        Err(e) => Err(super::error::TaskError::Io {
            what: format!("encode task info of {}", info.id),
            source: e.into(),
        }),
    };
    if let Err(e) = written {
        tracing::warn!(task = info.id, error = %e, "cannot record the adopting monitor");
    }
    tracing::info!(
        task = info.id,
        monitor = report.monitor_pid,
        "adopting monitor watches the init"
    );
    Some(report.monitor_pid)
}

/// Waits for the orphaned init to exit and learns how; records it in `exit.json` unless an
/// adopting monitor did first, and returns what the record says.
async fn follow(entry: &Entry, init: &PidFd) -> ExitStatus {
    let dir = &entry.info.state_dir;
    match init.fd().try_clone_to_owned() {
        Ok(fd) => {
            if wait_pidfd(fd).await.is_err() {
                while !init.exited() {
                    tokio::time::sleep(REAP_POLL).await;
                }
            }
        }
        Err(_) => {
            while !init.exited() {
                tokio::time::sleep(REAP_POLL).await;
            }
        }
    }
    let exited_at = SystemTime::now();
    let deadline = Instant::now() + REAP_WAIT;
    let exit: Exit = loop {
        // Not our child (ECHILD): its parent (pid 1, or berthd before a restart) reaps it.
        if let Ok(Some(e)) = init.try_reap() {
            break e;
        }
        if let Some(e) = init.reaped_exit() {
            break e;
        }
        if let Ok(Some(recorded)) = read_exit_file(dir).await {
            return recorded;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                task = entry.info.id,
                init = init.pid(),
                "the init exited but its status never became available; exit status unknown"
            );
            return ExitStatus::unknown();
        }
        tokio::time::sleep(REAP_POLL).await;
    };
    let record = ExitRecord {
        pid: init.pid(),
        code: exit.code,
        signal: exit.signal,
        exited_at,
        oom: false,
    };
    let write_dir = dir.clone();
    let written = tokio::task::spawn_blocking(move || record.write_new(&write_dir)).await;
    if !matches!(written, Ok(Ok(_))) {
        tracing::warn!(task = entry.info.id, "cannot write the exit record");
    }
    match read_exit_file(dir).await {
        Ok(Some(recorded)) => recorded,
        _ => ExitStatus {
            code: Some(exit.code),
            signal: exit.signal,
            exited_at: Some(exited_at),
            oom: false,
        },
    }
}
