//! Reading and writing cgroup files, with errors that name the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::Pid;

use super::CgroupError;

/// How often and how long `remove_dir` retries while the last processes of a cgroup exit.
const RMDIR_TRIES: u32 = 100;
const RMDIR_WAIT: Duration = Duration::from_millis(10);

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_err(path: impl Into<PathBuf>, source: std::io::Error) -> CgroupError {
    CgroupError::Io {
        path: path.into(),
        source,
    }
}

/// Writes `value` to the existing cgroup file `dir/file` in one write(2), as cgroupfs expects.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    // No O_CREAT: a missing file means a missing controller or knob, which must be reported, not created.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    f.write_all(value.as_bytes()).map_err(|e| io_err(&path, e))
}

/// Reads the cgroup file `dir/file`.
pub(crate) fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))
}

/// Whether the cgroup file `dir/file` exists (knobs depend on kernel version and config).
pub(crate) fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// Reads the pids listed in `dir/cgroup.procs`.
pub(crate) fn procs(dir: &Path) -> Result<Vec<Pid>, CgroupError> {
    let text = read(dir, "cgroup.procs")?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim().parse::<i32>().map(Pid::from_raw).map_err(|_| {
                CgroupError::Invalid(format!(
                    "{}: unexpected line {l:?}",
                    dir.join("cgroup.procs").display()
                ))
            })
        })
        .collect()
}

/// Creates `dir` and its missing parents under `root`, calling `on_create(parent, new_dir)` for each directory
/// it creates (cpuset needs values copied down; v2 needs controllers enabled before the child exists).
pub(crate) fn create_under(
    root: &Path,
    dir: &Path,
    mut before_create: impl FnMut(&Path) -> Result<(), CgroupError>,
    mut after_create: impl FnMut(&Path, &Path) -> Result<(), CgroupError>,
) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(root).map_err(|_| {
        CgroupError::Invalid(format!(
            "{} is not under the cgroup mount {}",
            dir.display(),
            root.display()
        ))
    })?;
    let mut current = root.to_path_buf();
    for comp in rel.components() {
        let parent = current.clone();
        current.push(comp);
        before_create(&parent)?;
        match std::fs::create_dir(&current) {
            Ok(()) => after_create(&parent, &current)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&current, e)),
        }
    }
    Ok(())
}

/// Removes the cgroup directory `dir`; missing is fine, EBUSY is retried briefly while processes exit.
pub(crate) fn remove_dir(dir: &Path) -> Result<(), CgroupError> {
    let mut tries = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < RMDIR_TRIES => {
                tries += 1;
                std::thread::sleep(RMDIR_WAIT);
            }
            Err(e) => return Err(io_err(dir, e)),
        }
    }
}
