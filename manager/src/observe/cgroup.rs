//! A process's cgroup counters, from cgroup v1 (one hierarchy per controller, as on this
//! project's hybrid hosts) or v2 (the unified hierarchy), found through `/proc/<pid>/cgroup` and
//! the cgroup mounts of `/proc/self/mountinfo`.

use super::{read, ObserveError, Sample};
use std::path::{Path, PathBuf};

/// Directories of one process's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPaths {
    /// cgroup v1: the directory in each controller's hierarchy.
    V1 {
        /// `cpuacct` hierarchy.
        cpuacct: Option<PathBuf>,
        /// `memory` hierarchy.
        memory: Option<PathBuf>,
        /// `blkio` hierarchy.
        blkio: Option<PathBuf>,
        /// `pids` hierarchy.
        pids: Option<PathBuf>,
    },
    /// cgroup v2: the one directory.
    V2(PathBuf),
}

impl CgroupPaths {
    /// The cgroup of process `pid`.
    pub fn of_pid(pid: u32) -> Result<Self, ObserveError> {
        let own = read(PathBuf::from(format!("/proc/{pid}/cgroup")))?;
        let mounts = berth_mountinfo::read_self().map_err(|source| ObserveError::Read {
            path: "/proc/self/mountinfo".into(),
            source,
        })?;
        Ok(Self::resolve(&own, &mounts))
    }

    /// Joins the lines of `/proc/<pid>/cgroup` with the cgroup mounts.
    fn resolve(own: &str, mounts: &[berth_mountinfo::Mount]) -> Self {
        let v1 = |controller: &str| v1_dir(own, mounts, controller);
        let memory = v1("memory");
        if memory.is_some() {
            return CgroupPaths::V1 {
                cpuacct: v1("cpuacct"),
                memory,
                blkio: v1("blkio"),
                pids: v1("pids"),
            };
        }
        let rel = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/");
        let dir = v2_dir(rel, mounts)
            .unwrap_or_else(|| Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/')));
        CgroupPaths::V2(dir)
    }

    /// The processes in the cgroup (`cgroup.procs`).
    pub fn procs(&self) -> Result<Vec<u32>, ObserveError> {
        let dir = match self {
            CgroupPaths::V1 { pids, memory, .. } => pids.as_ref().or(memory.as_ref()),
            CgroupPaths::V2(d) => Some(d),
        };
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        Ok(read(dir.join("cgroup.procs"))?
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    /// Reads CPU, memory, block I/O and pids counters (network and host CPU are not here).
    pub fn read(&self) -> Result<Sample, ObserveError> {
        let mut s = Sample::default();
        let host_mem = host_memory()?;
        match self {
            CgroupPaths::V1 {
                cpuacct,
                memory,
                blkio,
                pids,
            } => {
                s.cgroup_version = 1;
                if let Some(d) = cpuacct {
                    s.cpu_total_ns = number(d.join("cpuacct.usage"))?;
                }
                if let Some(d) = memory {
                    let usage = number(d.join("memory.usage_in_bytes"))?;
                    let inactive = stat_field(d.join("memory.stat"), "total_inactive_file")?;
                    s.memory_usage = usage.saturating_sub(inactive);
                    s.memory_limit = number(d.join("memory.limit_in_bytes"))?.min(host_mem);
                }
                if let Some(d) = blkio {
                    (s.block_read, s.block_write) = blkio_v1(d)?;
                }
                s.pids = match pids.as_ref().or(memory.as_ref()) {
                    Some(d) => pids_in(d, "tasks")?,
                    None => 0,
                };
            }
            CgroupPaths::V2(d) => {
                s.cgroup_version = 2;
                s.cpu_total_ns = stat_field(d.join("cpu.stat"), "usage_usec")?.saturating_mul(1000);
                let usage = number(d.join("memory.current"))?;
                let inactive = stat_field(d.join("memory.stat"), "inactive_file")?;
                s.memory_usage = usage.saturating_sub(inactive);
                s.memory_limit = match read(d.join("memory.max"))?.trim() {
                    "max" => host_mem,
                    v => parse_u64(&d.join("memory.max"), v)?.min(host_mem),
                };
                (s.block_read, s.block_write) = io_v2(&read(d.join("io.stat"))?);
                s.pids = pids_in(d, "cgroup.threads")?;
            }
        }
        Ok(s)
    }
}

/// Whether process `pid`'s cgroup is frozen (`pause`): the freezer state an OCI runtime reads
/// for its `state`, read without running the runtime. `None` when it cannot be read.
pub fn frozen(pid: u32) -> Option<bool> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let mounts = berth_mountinfo::read_self().ok()?;
    let (file, value) = freezer_file(&own, &mounts)?;
    let text = std::fs::read_to_string(file).ok()?;
    Some(value(text.trim()))
}

/// How a freezer file's value says frozen.
type FrozenIf = fn(&str) -> bool;

/// The freezer file of a process's cgroup (v1 `freezer.state`, else v2 `cgroup.freeze`) and how
/// to read its value: FREEZING counts as frozen, as nothing runs an exec there either.
fn freezer_file(own: &str, mounts: &[berth_mountinfo::Mount]) -> Option<(PathBuf, FrozenIf)> {
    // Listed but not mounted: no answer (not v2's, which a v1 freezer does not set).
    let listed = own.lines().any(|l| {
        l.split(':')
            .nth(1)
            .is_some_and(|ctl| ctl.split(',').any(|c| c == "freezer"))
    });
    if listed {
        let dir = v1_dir(own, mounts, "freezer")?;
        return Some((dir.join("freezer.state"), |v| v != "THAWED"));
    }
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some((v2_dir(rel, mounts)?.join("cgroup.freeze"), |v| v == "1"))
}

/// The directory of a process's cgroup (`own`: its `/proc/<pid>/cgroup`) in the v1 hierarchy of
/// `controller`, if it is listed and that hierarchy is mounted.
fn v1_dir(own: &str, mounts: &[berth_mountinfo::Mount], controller: &str) -> Option<PathBuf> {
    let rel = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        ctl.split(',').any(|c| c == controller).then_some(path)
    })?;
    let m = mounts
        .iter()
        .find(|m| m.fs_type == "cgroup" && m.super_options.split(',').any(|o| o == controller))?;
    Some(join(m, rel))
}

/// The directory of cgroup v2 path `rel` under the cgroup2 mount, if there is one.
fn v2_dir(rel: &str, mounts: &[berth_mountinfo::Mount]) -> Option<PathBuf> {
    let m = mounts.iter().find(|m| m.fs_type == "cgroup2")?;
    Some(join(m, rel))
}

fn join(m: &berth_mountinfo::Mount, rel: &str) -> PathBuf {
    // A mount of a sub-tree (cgroup namespaces, bind mounts) has that sub-tree as its root.
    let root = m.root.to_string_lossy();
    let rel = rel
        .strip_prefix(root.trim_end_matches('/'))
        .unwrap_or(rel)
        .trim_start_matches('/');
    m.mount_point.join(rel)
}

/// `pids.current`, or (the root cgroup has none) the number of tasks listed in `list`.
fn pids_in(dir: &Path, list: &str) -> Result<u64, ObserveError> {
    match number(dir.join("pids.current")) {
        Err(ObserveError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(read(dir.join(list))?.lines().count() as u64)
        }
        other => other,
    }
}

fn parse_u64(path: &Path, v: &str) -> Result<u64, ObserveError> {
    v.trim().parse().map_err(|_| ObserveError::Parse {
        path: path.to_path_buf(),
        what: format!("not a number: {v:?}"),
    })
}

fn number(path: PathBuf) -> Result<u64, ObserveError> {
    let text = read(path.clone())?;
    parse_u64(&path, &text)
}

/// A `key value` line of a stat file (0 when the key is absent: older kernels lack some).
fn stat_field(path: PathBuf, key: &str) -> Result<u64, ObserveError> {
    let text = read(path)?;
    Ok(text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(0))
}

/// Read and write bytes from the first blkio file the kernel offers.
fn blkio_v1(dir: &Path) -> Result<(u64, u64), ObserveError> {
    for name in [
        "blkio.throttle.io_service_bytes_recursive",
        "blkio.throttle.io_service_bytes",
        "blkio.io_service_bytes_recursive",
    ] {
        let path = dir.join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Ok(blkio_v1_text(&text));
        }
    }
    Ok((0, 0))
}

/// `MAJ:MIN Read N` / `MAJ:MIN Write N` lines (the `Total` lines are left out).
fn blkio_v1_text(text: &str) -> (u64, u64) {
    let ops = text
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [dev, op, n] if dev.contains(':') => Some((op, n)),
            _ => None,
        });
    sum_read_write(ops, "Read", "Write")
}

/// `MAJ:MIN rbytes=N wbytes=N …` lines of io.stat.
fn io_v2(text: &str) -> (u64, u64) {
    let counters = text
        .lines()
        .flat_map(|l| l.split_whitespace().skip(1))
        .filter_map(|kv| kv.split_once('='));
    sum_read_write(counters, "rbytes", "wbytes")
}

/// The sums of the `read` and of the `write` counters among `(name, value)` pairs, over all
/// devices; a value that does not parse counts 0.
fn sum_read_write<'a>(
    counters: impl Iterator<Item = (&'a str, &'a str)>,
    read: &str,
    write: &str,
) -> (u64, u64) {
    counters.fold((0, 0), |(r, w), (name, value)| {
        let n: u64 = value.parse().unwrap_or(0);
        if name == read {
            (r.saturating_add(n), w)
        } else if name == write {
            (r, w.saturating_add(n))
        } else {
            (r, w)
        }
    })
}

fn host_memory() -> Result<u64, ObserveError> {
    let path = PathBuf::from("/proc/meminfo");
    let text = read(path.clone())?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or(ObserveError::Parse {
            path,
            what: "no MemTotal".into(),
        })
}

/// All CPU time of the host since boot, nanoseconds (the `cpu` line of `/proc/stat`).
pub fn system_cpu_ns() -> Result<u64, ObserveError> {
    let path = PathBuf::from("/proc/stat");
    let text = read(path.clone())?;
    let ticks: u64 = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|f| f.parse::<u64>().ok())
                .sum()
        })
        .ok_or(ObserveError::Parse {
            path,
            what: "no cpu line".into(),
        })?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|hz| *hz > 0)
        .unwrap_or(100) as u64;
    Ok(ticks.saturating_mul(1_000_000_000) / hz)
}

/// CPUs online: the `cpuN` lines of `/proc/stat`.
pub fn online_cpus() -> u32 {
    std::fs::read_to_string("/proc/stat")
        .map(|t| {
            t.lines()
                .filter(|l| {
                    l.strip_prefix("cpu")
                        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
                })
                .count() as u32
        })
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(
        fs_type: &str,
        point: &str,
        root: &str,
        super_options: &str,
    ) -> berth_mountinfo::Mount {
        berth_mountinfo::Mount {
            id: 1,
            parent_id: 0,
            root: root.into(),
            mount_point: point.into(),
            options: "rw".into(),
            fs_type: fs_type.into(),
            source: "cgroup".into(),
            super_options: super_options.into(),
        }
    }

    #[test]
    fn the_freezer_file_is_v1s_where_there_is_one_else_v2s() {
        let mounts = [
            mount("cgroup", "/sys/fs/cgroup/freezer", "/", "rw,freezer"),
            mount("cgroup2", "/sys/fs/cgroup/unified", "/", "rw"),
        ];
        let hybrid = "7:freezer:/berth/abc\n0::/berth/abc\n";
        let (file, frozen) = freezer_file(hybrid, &mounts).unwrap();
        assert_eq!(
            file,
            PathBuf::from("/sys/fs/cgroup/freezer/berth/abc/freezer.state")
        );
        assert!(frozen("FROZEN") && frozen("FREEZING") && !frozen("THAWED"));
        let (file, frozen) = freezer_file("0::/berth/abc\n", &mounts[1..]).unwrap();
        assert_eq!(
            file,
            PathBuf::from("/sys/fs/cgroup/unified/berth/abc/cgroup.freeze")
        );
        assert!(frozen("1") && !frozen("0"));
        assert_eq!(freezer_file("0::/x\n", &[]), None);
    }

    #[test]
    fn v1_hierarchies_are_found_per_controller() {
        let own = "9:name=systemd:/\n4:memory:/berth/abc\n2:cpu,cpuacct:/berth/abc\n8:pids:/berth/abc\n0::/\n";
        let mounts = [
            mount("cgroup", "/sys/fs/cgroup/memory", "/", "rw,memory"),
            mount(
                "cgroup",
                "/sys/fs/cgroup/cpu,cpuacct",
                "/",
                "rw,cpu,cpuacct",
            ),
            mount("cgroup", "/sys/fs/cgroup/pids", "/", "rw,pids"),
            mount("cgroup2", "/sys/fs/cgroup/unified", "/", "rw"),
        ];
        match CgroupPaths::resolve(own, &mounts) {
            CgroupPaths::V1 {
                cpuacct,
                memory,
                blkio,
                pids,
            } => {
                assert_eq!(
                    memory.unwrap(),
                    Path::new("/sys/fs/cgroup/memory/berth/abc")
                );
                assert_eq!(
                    cpuacct.unwrap(),
                    Path::new("/sys/fs/cgroup/cpu,cpuacct/berth/abc")
                );
                assert_eq!(pids.unwrap(), Path::new("/sys/fs/cgroup/pids/berth/abc"));
                assert!(blkio.is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn v2_is_the_unified_directory() {
        let mounts = [mount("cgroup2", "/sys/fs/cgroup", "/", "rw")];
        assert_eq!(
            CgroupPaths::resolve("0::/berth/abc\n", &mounts),
            CgroupPaths::V2("/sys/fs/cgroup/berth/abc".into())
        );
        // Inside a cgroup namespace the mount's root is a sub-tree.
        let mounts = [mount("cgroup2", "/sys/fs/cgroup", "/outer", "rw")];
        assert_eq!(
            CgroupPaths::resolve("0::/outer/x\n", &mounts),
            CgroupPaths::V2("/sys/fs/cgroup/x".into())
        );
    }

    #[test]
    fn block_io_counts_reads_and_writes() {
        assert_eq!(
            blkio_v1_text("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 1\n8:16 Read 4\nTotal 9999\n"),
            (4100, 512)
        );
        assert_eq!(
            io_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n"),
            (11, 22)
        );
    }
}
