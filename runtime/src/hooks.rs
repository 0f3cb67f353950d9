//! Running lifecycle hooks: the state JSON on stdin, the hook's env, its timeout; output captured for
//! the error message.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::memfd::{memfd_create, MFdFlags};
use oci_spec::runtime::Hook;

use crate::{Error, Result};

/// Runs `hooks` in order; the first failure stops the run. `stage` names the hook kind for errors.
pub fn run(stage: &str, hooks: &[Hook], state_json: &str) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run_one(hook, state_json).map_err(|msg| {
            Error::Hook(format!(
                "error running {stage} hook #{i} ({}): {msg}",
                hook.path().display()
            ))
        })?;
    }
    Ok(())
}

/// Runs one hook; the error text carries the exit status and the hook's output.
fn run_one(hook: &Hook, state_json: &str) -> std::result::Result<(), String> {
    let capture = || -> std::result::Result<File, String> {
        memfd_create("berth-hook-output", MFdFlags::MFD_CLOEXEC)
            .map(File::from)
            .map_err(|e| format!("memfd_create: {e}"))
    };
    let (mut out, mut errf) = (capture()?, capture()?);
    let args = hook.args().as_deref().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(arg0) = args.first() {
        cmd.arg0(arg0);
    }
    cmd.args(args.iter().skip(1))
        .env_clear()
        .envs(
            hook.env()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter_map(|kv| kv.split_once('=')),
        )
        .stdin(Stdio::piped())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(errf.try_clone().map_err(|e| e.to_string())?);
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE is ignored).
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut pause = Duration::from_micros(200);
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", hook.timeout().unwrap_or(0)));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    };
    if status.success() {
        return Ok(());
    }
    let read = |f: &mut File| {
        let mut s = String::new();
        let _ = f.rewind();
        let _ = f.read_to_string(&mut s);
        s
    };
    Err(format!(
        "{status}, stdout: {}, stderr: {}",
        read(&mut out).trim_end(),
        read(&mut errf).trim_end()
    ))
}
