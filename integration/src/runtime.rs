//! Running the runtime under test (`BERTH_TEST_RUNTIME`) and other commands with captured output.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long any single command may run before the harness kills it (a hang is a failure).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The OCI runtime binary under test: `BERTH_TEST_RUNTIME` = `berth-runc` (default), `runc`,
/// or an absolute path.
pub fn runtime_under_test() -> PathBuf {
    let choice = std::env::var("BERTH_TEST_RUNTIME").unwrap_or_else(|_| "berth-runc".into());
    if choice == "berth-runc" {
        return crate::bin_path("berth-runc");
    }
    let p = PathBuf::from(&choice);
    if p.is_absolute() {
        return p;
    }
    which(&choice).unwrap_or(p)
}

/// True when the runtime under test is runc itself (used only to annotate messages).
pub fn testing_runc() -> bool {
    runtime_under_test().file_name() == Some(OsStr::new("runc"))
}

/// Looks a program up in `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Fails the test unless every program in `tools` is in `PATH`; `install` says how to get
/// them (e.g. `apt-get install containerd umoci`).
#[track_caller]
pub fn require_tools(tools: &[&str], install: &str) {
    for tool in tools {
        assert!(which(tool).is_some(), "{tool} not installed ({install})");
    }
}

/// The stdout of `<tool> <args>`, finished as `out`; panics with its exit code, stdout and
/// stderr unless it succeeded.
#[track_caller]
pub fn success_stdout(tool: &str, args: &[&str], out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{tool} {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Captured result of a finished command.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code, `None` if killed by a signal.
    pub code: Option<i32>,
    /// Signal that killed the command, if any.
    pub signal: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
    /// The command line, for assertion messages.
    pub cmdline: String,
}

impl Output {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the full output unless the command succeeded; returns self for chaining.
    #[track_caller]
    pub fn assert_success(self) -> Self {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Panics with the full output if the command succeeded; returns self for chaining.
    #[track_caller]
    pub fn fails(self) -> Self {
        assert!(
            self.code.is_some() && !self.success(),
            "command should have failed with a non-zero exit: {self}"
        );
        self
    }

    /// stdout and stderr together (runtimes differ in which one carries an error).
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` -> code {:?} signal {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.signal, self.stdout, self.stderr
        )
    }
}

static CAPTURE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Runs `cmd` to completion with stdout/stderr captured through files in `dir`.
///
/// Files rather than pipes: a container created by the command inherits its stdio and may
/// outlive it, and a pipe would then never reach EOF. Stdin is /dev/null unless set by the
/// caller. Kills the command (only that pid) if it exceeds `timeout`.
pub fn run_captured(cmd: &mut Command, dir: &Path, timeout: Duration) -> Output {
    let n = CAPTURE_COUNTER.fetch_add(1, Ordering::SeqCst);
    let out_path = dir.join(format!(".out-{n}"));
    let err_path = dir.join(format!(".err-{n}"));
    let out = File::create(&out_path).expect("create stdout capture file");
    let err = File::create(&err_path).expect("create stderr capture file");
    cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
    let cmdline = format!("{cmd:?}");
    let mut child = spawn_retrying_etxtbsy(cmd).unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    let status = wait_or_kill(&mut child, timeout).unwrap_or_else(|| {
        let so = std::fs::read_to_string(&out_path).unwrap_or_default();
        let se = std::fs::read_to_string(&err_path).unwrap_or_default();
        panic!("command timed out after {timeout:?}: {cmdline}\nstdout:\n{so}\nstderr:\n{se}");
    });
    use std::os::unix::process::ExitStatusExt;
    let stdout =
        String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()).into_owned();
    let stderr =
        String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    Output {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        cmdline,
    }
}

/// A runtime binary bound to one `--root` state directory.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The runtime binary.
    pub bin: PathBuf,
    /// The `--root` state directory.
    pub root: PathBuf,
    /// Where capture files go.
    pub scratch: PathBuf,
}

impl Runtime {
    /// A `Command` for `<bin> --root <root> <args>`, stdin from /dev/null.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root);
        c.args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs `<bin> --root <root> <args>` and captures its output.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        run_captured(&mut self.command(args), &self.scratch, COMMAND_TIMEOUT)
    }
}

/// Waits for `child` up to `timeout`; on timeout kills it (our own child) and panics.
pub fn wait_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::process::ExitStatus {
    wait_or_kill(child, timeout)
        .unwrap_or_else(|| panic!("child {} did not exit within {timeout:?}", child.id()))
}

/// Waits for `child` (our own) up to `limit`; past it, kills and reaps it and returns `None`.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait for child") {
            return Some(st);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns `cmd`, retrying for a while on ETXTBSY: a binary the test just copied (e.g. the
/// runtime copy of the security tests) stays "busy" while a child forked by another test
/// thread still holds the copy's write fd, until that child execs.
pub fn spawn_retrying_etxtbsy(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
