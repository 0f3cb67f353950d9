//! ExecSync: runs a command in a running container through the OCI runtime's `exec` (the same
//! binary and state root the task manager uses), collecting its output, with the request's
//! timeout (DeadlineExceeded when it passes; the runtime's exec process is killed).

use std::process::Stdio;
use std::time::Duration;

use k8s_cri::v1 as cri;
use tonic::Status;

use super::store::CriStore;
use super::CriContext;

/// Output kept per stream (kubelet's probes need little; a runaway command must not eat memory).
const MAX_OUTPUT: usize = 16 << 20;
/// How long the runtime's exec gets to report a killed command before it is killed too.
const EXEC_KILL_WAIT: Duration = Duration::from_secs(5);

/// ExecSync.
pub async fn exec_sync(
    ctx: &CriContext,
    store: &CriStore,
    req: cri::ExecSyncRequest,
) -> Result<cri::ExecSyncResponse, Status> {
    if req.cmd.is_empty() {
        return Err(Status::invalid_argument("ExecSync: cmd is required"));
    }
    let c = store.container(&req.container_id)?;
    if !super::containers::is_running(ctx, &c.id).await {
        return Err(Status::failed_precondition(format!(
            "container {} is not running",
            c.id
        )));
    }
    let scratch = tempfile::tempdir()
        .map_err(|e| Status::internal(format!("temp dir for exec pid file: {e}")))?;
    let pid_file = scratch.path().join("exec.pid");
    let mut cmd = tokio::process::Command::new(&ctx.runtime_binary);
    cmd.arg("--root")
        .arg(&ctx.runtime_root)
        .arg("exec")
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&c.id)
        .args(&req.cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| {
        Status::internal(format!(
            "running {} exec: {e}",
            ctx.runtime_binary.display()
        ))
    })?;
    let mut wait = Box::pin(child.wait_with_output());
    let out = if req.timeout > 0 {
        match tokio::time::timeout(Duration::from_secs(req.timeout as u64), &mut wait).await {
            Ok(r) => r,
            Err(_) => {
                // Kill the command itself, not only the runtime's exec: an orphaned command
                // would outlive its container, and one left in a pod's shared pid namespace keeps
                // the sandbox's pause from ever being reaped. The pid cannot have been reused:
                // the runtime's exec is still waiting for it.
                if let Some(pid) = std::fs::read_to_string(&pid_file)
                    .ok()
                    .and_then(|s| s.trim().parse::<i32>().ok())
                    .filter(|p| *p > 1)
                {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = tokio::time::timeout(EXEC_KILL_WAIT, &mut wait).await;
                return Err(Status::deadline_exceeded(format!(
                    "command {:?} in container {} timed out after {}s",
                    req.cmd, c.id, req.timeout
                )));
            }
        }
    } else {
        wait.await
    }
    .map_err(|e| Status::internal(format!("waiting for exec in {}: {e}", c.id)))?;
    let mut stdout = out.stdout;
    let mut stderr = out.stderr;
    stdout.truncate(MAX_OUTPUT);
    stderr.truncate(MAX_OUTPUT);
    let exit_code = out.status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt;
        128 + out.status.signal().unwrap_or(0)
    });
    Ok(cri::ExecSyncResponse {
        stdout,
        stderr,
        exit_code,
    })
}
