//! Command line of `berth-monitor`, written by the task manager and parsed by the monitor.
//!
//! Hand-parsed rather than with clap: the monitor stays resident per container, and every page
//! of code it touches counts against its memory.

use std::ffi::OsString;
use std::path::PathBuf;

/// Everything the monitor needs to create and watch one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorArgs {
    /// Container id, passed to the runtime.
    pub id: String,
    /// OCI bundle directory (holds config.json).
    pub bundle: PathBuf,
    /// The task's state directory (see [`super::layout`]); created by the task manager.
    pub state_dir: PathBuf,
    /// Runtime binary (runc-compatible CLI).
    pub runtime: PathBuf,
    /// `--root` given to the runtime.
    pub runtime_root: PathBuf,
    /// Allocate a terminal (`--console-socket`).
    pub tty: bool,
    /// Keep the container's stdin open for attach clients.
    pub stdin: bool,
    /// Descriptor on which the monitor reports `created …` or `error …` (see docs/monitor.md).
    pub sync_fd: i32,
    /// Seconds to wait for `runtime create` before killing it.
    pub create_timeout_secs: u64,
    /// Adopt the running container init `(pid, start time)` whose monitor died, instead of
    /// creating a container: watch it and record its exit (`--adopt PID:START`).
    pub adopt: Option<(i32, u64)>,
    /// Run this process (an OCI `process` JSON file) in the running container with
    /// `runtime exec --detach` instead of creating a container (`--exec FILE`).
    pub exec: Option<PathBuf>,
    /// With `exec`: wait for the first attach client before running the process, so it sees
    /// all of its output (`--wait-attach`).
    pub wait_attach: bool,
    /// With `wait_attach`: seconds to wait for that client (`--attach-timeout`); past them the
    /// exec fails without the process ever running, and the monitor exits.
    pub attach_timeout_secs: u64,
    /// Rotate `container.log` at this many bytes (`--log-max-size`; 0: never).
    pub log_max_size: u64,
    /// Log files kept when rotating, the live one included (`--log-max-file`).
    pub log_max_file: u32,
}

/// Default of `--attach-timeout`: berthd connects as soon as the socket is bound, so a client
/// missing for this long is not coming.
pub const DEFAULT_ATTACH_TIMEOUT_SECS: u64 = 30;

impl MonitorArgs {
    /// Renders the arguments (without the program name) in the form [`MonitorArgs::parse`] reads.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            "--id".into(),
            self.id.clone().into(),
            "--bundle".into(),
            self.bundle.clone().into(),
            "--state-dir".into(),
            self.state_dir.clone().into(),
            "--runtime".into(),
            self.runtime.clone().into(),
            "--runtime-root".into(),
            self.runtime_root.clone().into(),
            "--sync-fd".into(),
            self.sync_fd.to_string().into(),
            "--create-timeout".into(),
            self.create_timeout_secs.to_string().into(),
        ];
        if self.tty {
            v.push("--tty".into());
        }
        if self.stdin {
            v.push("--stdin".into());
        }
        if let Some((pid, start)) = self.adopt {
            v.push("--adopt".into());
            v.push(format!("{pid}:{start}").into());
        }
        if let Some(p) = &self.exec {
            v.push("--exec".into());
            v.push(p.clone().into());
        }
        if self.wait_attach {
            v.push("--wait-attach".into());
            v.push("--attach-timeout".into());
            v.push(self.attach_timeout_secs.to_string().into());
        }
        if self.log_max_size > 0 {
            v.push("--log-max-size".into());
            v.push(self.log_max_size.to_string().into());
            v.push("--log-max-file".into());
            v.push(self.log_max_file.to_string().into());
        }
        v
    }

    /// Parses the arguments after the program name.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, String> {
        let mut it = args.into_iter();
        let (mut id, mut bundle, mut state_dir, mut runtime, mut runtime_root) =
            (None, None, None, None, None);
        let mut out_tty = false;
        let mut out_stdin = false;
        let mut sync_fd = 3;
        let mut create_timeout_secs = 60;
        let mut adopt = None;
        let mut exec = None;
        let mut wait_attach = false;
        let mut attach_timeout_secs = DEFAULT_ATTACH_TIMEOUT_SECS;
        let (mut log_max_size, mut log_max_file) = (0, 1);
        while let Some(flag) = it.next() {
            let flag = flag
                .into_string()
                .map_err(|f| format!("argument {f:?} is not UTF-8"))?;
            match flag.as_str() {
                "--tty" => out_tty = true,
                "--stdin" => out_stdin = true,
                "--wait-attach" => wait_attach = true,
                "--exec" => {
                    exec = Some(PathBuf::from(it.next().ok_or("--exec needs a value")?));
                }
                "--adopt" => {
                    let value = it.next().ok_or("--adopt needs a value")?;
                    let parsed = value.to_str().and_then(|v| {
                        let (pid, start) = v.split_once(':')?;
                        Some((pid.parse::<i32>().ok()?, start.parse::<u64>().ok()?))
                    });
                    adopt =
                        Some(parsed.ok_or_else(|| format!("--adopt {value:?} is not PID:START"))?);
                }
                "--id" | "--bundle" | "--state-dir" | "--runtime" | "--runtime-root"
                | "--sync-fd" | "--create-timeout" | "--attach-timeout" | "--log-max-size"
                | "--log-max-file" => {
                    let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                    match flag.as_str() {
                        "--id" => {
                            id = Some(
                                value
                                    .into_string()
                                    .map_err(|v| format!("--id {v:?} is not UTF-8"))?,
                            )
                        }
                        "--bundle" => bundle = Some(PathBuf::from(value)),
                        "--state-dir" => state_dir = Some(PathBuf::from(value)),
                        "--runtime" => runtime = Some(PathBuf::from(value)),
                        "--runtime-root" => runtime_root = Some(PathBuf::from(value)),
                        _ => {
                            let n = value
                                .to_str()
                                .and_then(|s| s.parse::<u64>().ok())
                                .ok_or_else(|| format!("{flag} {value:?} is not a number"))?;
                            match flag.as_str() {
                                "--sync-fd" => {
                                    sync_fd = i32::try_from(n)
                                        .map_err(|_| format!("--sync-fd {n} is out of range"))?
                                }
                                "--attach-timeout" => attach_timeout_secs = n,
                                "--log-max-size" => log_max_size = n,
                                "--log-max-file" => {
                                    log_max_file =
                                        u32::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(
                                            || format!("--log-max-file {n} is out of range"),
                                        )?
                                }
                                _ => create_timeout_secs = n,
                            }
                        }
                    }
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        let need = |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("{name} is required"));
        Ok(MonitorArgs {
            id: id.ok_or("--id is required")?,
            bundle: need(bundle, "--bundle")?,
            state_dir: need(state_dir, "--state-dir")?,
            runtime: need(runtime, "--runtime")?,
            runtime_root: need(runtime_root, "--runtime-root")?,
            tty: out_tty,
            stdin: out_stdin,
            sync_fd,
            create_timeout_secs,
            adopt,
            exec,
            wait_attach,
            attach_timeout_secs,
            log_max_size,
            log_max_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let a = MonitorArgs {
            id: "c1".into(),
            bundle: "/b".into(),
            state_dir: "/s".into(),
            runtime: "/usr/sbin/runc".into(),
            runtime_root: "/r".into(),
            tty: true,
            stdin: false,
            sync_fd: 3,
            create_timeout_secs: 7,
            adopt: None,
            exec: None,
            wait_attach: false,
            attach_timeout_secs: DEFAULT_ATTACH_TIMEOUT_SECS,
            log_max_size: 0,
            log_max_file: 1,
        };
        assert_eq!(MonitorArgs::parse(a.to_args()).unwrap(), a);
        let rotating = MonitorArgs {
            log_max_size: 4000,
            log_max_file: 3,
            ..a.clone()
        };
        assert_eq!(MonitorArgs::parse(rotating.to_args()).unwrap(), rotating);
        let exec = MonitorArgs {
            exec: Some("/s/exec/e1/process.json".into()),
            wait_attach: true,
            attach_timeout_secs: 2,
            ..a.clone()
        };
        assert_eq!(MonitorArgs::parse(exec.to_args()).unwrap(), exec);
        let adopting = MonitorArgs {
            adopt: Some((1234, 987654321)),
            ..a
        };
        assert_eq!(MonitorArgs::parse(adopting.to_args()).unwrap(), adopting);
    }

    #[test]
    fn missing_and_unknown() {
        assert!(MonitorArgs::parse(vec!["--id".into()]).is_err());
        assert!(MonitorArgs::parse(vec!["--bogus".into()]).is_err());
        assert!(MonitorArgs::parse(Vec::<OsString>::new()).is_err());
    }
}
