//! ContainerStats / ListContainerStats / PodSandboxStats / ListPodSandboxStats, read from the
//! cgroups of the running processes with [`crate::observe`] (what `berth stats` reads), plus
//! the container's writable layer (its overlay upper directory) and the pod's network counters.
//! `usage_nano_cores` is the CPU rate since the previous sample of the same container or pod.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use k8s_cri::v1 as cri;
use tonic::Status;

use super::store::{matches_labels, CriStore};
use super::CriContext;
use crate::metadata::cri::{CriContainerRecord, SandboxRecord};
use crate::observe::cgroup::CgroupPaths;

/// Previous CPU samples: id → (unix nanoseconds, cumulative CPU nanoseconds).
#[derive(Default)]
pub struct CpuHistory(Mutex<HashMap<String, (i64, u64)>>);

impl CpuHistory {
    /// CPU nanoseconds per second since the last sample of `id` (0 for the first one).
    fn rate(&self, id: &str, now: i64, cpu: u64) -> u64 {
        let Ok(mut m) = self.0.lock() else {
            return 0;
        };
        let prev = m.insert(id.to_string(), (now, cpu));
        match prev {
            Some((t, c)) if now > t && cpu >= c => {
                ((u128::from(cpu - c) * 1_000_000_000) / (now - t) as u128) as u64
            }
            _ => 0,
        }
    }

    /// Forgets ids that are gone.
    fn retain(&self, keep: &dyn Fn(&str) -> bool) {
        if let Ok(mut m) = self.0.lock() {
            m.retain(|k, _| keep(k));
        }
    }
}

fn val(v: u64) -> Option<cri::UInt64Value> {
    Some(cri::UInt64Value { value: v })
}

/// Counters of a set of processes' cgroups, summed.
#[derive(Default, Clone)]
struct Counters {
    cpu_ns: u64,
    working_set: u64,
    usage: u64,
    rss: u64,
    page_faults: u64,
    major_page_faults: u64,
    limit: u64,
    pids: u64,
}

fn stat_fields(dir: &Path, keys: &[&str]) -> Vec<u64> {
    let text = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
    keys.iter()
        .map(|k| {
            text.lines()
                .find_map(|l| {
                    let (name, v) = l.split_once(' ')?;
                    (name == *k).then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0)
        })
        .collect()
}

/// Reads the cgroup counters of process `pid` (None when it is gone).
fn read(pid: u32) -> Option<Counters> {
    let cg = CgroupPaths::of_pid(pid).ok()?;
    let s = cg.read().ok()?;
    let mut c = Counters {
        cpu_ns: s.cpu_total_ns,
        working_set: s.memory_usage,
        usage: s.memory_usage,
        limit: s.memory_limit,
        pids: s.pids,
        ..Default::default()
    };
    // The same counters under each version's names: usage, then rss and page faults.
    let (dir, usage_file, stat_keys) = match &cg {
        CgroupPaths::V1 {
            memory: Some(d), ..
        } => (
            d,
            "memory.usage_in_bytes",
            ["total_rss", "total_pgfault", "total_pgmajfault"],
        ),
        CgroupPaths::V2(d) => (d, "memory.current", ["anon", "pgfault", "pgmajfault"]),
        CgroupPaths::V1 { memory: None, .. } => return Some(c),
    };
    c.usage = std::fs::read_to_string(dir.join(usage_file))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(c.usage);
    let f = stat_fields(dir, &stat_keys);
    (c.rss, c.page_faults, c.major_page_faults) = (f[0], f[1], f[2]);
    Some(c)
}

fn cpu(history: &CpuHistory, id: &str, now: i64, c: Option<&Counters>) -> cri::CpuUsage {
    let total = c.map_or(0, |c| c.cpu_ns);
    cri::CpuUsage {
        timestamp: now,
        usage_core_nano_seconds: val(total),
        usage_nano_cores: val(c.map_or(0, |_| history.rate(id, now, total))),
    }
}

fn memory(now: i64, c: Option<&Counters>) -> cri::MemoryUsage {
    let c = c.cloned().unwrap_or_default();
    cri::MemoryUsage {
        timestamp: now,
        working_set_bytes: val(c.working_set),
        available_bytes: val(c.limit.saturating_sub(c.working_set)),
        usage_bytes: val(c.usage),
        rss_bytes: val(c.rss),
        page_faults: val(c.page_faults),
        major_page_faults: val(c.major_page_faults),
    }
}

/// The upper directory of the overlay mounted on `rootfs` (the container's writable layer).
fn upper_dir(rootfs: &Path) -> Option<PathBuf> {
    let mounts = berth_mountinfo::read_self().ok()?;
    let m = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == rootfs && m.fs_type == "overlay")?;
    m.super_options
        .split(',')
        .find_map(|o| o.strip_prefix("upperdir="))
        .map(|p| PathBuf::from(berth_mountinfo::unescape(p)))
}

/// Bytes (allocated blocks) and inodes under `dir`, without following symlinks or leaving
/// its filesystem.
fn usage(dir: &Path) -> (u64, u64) {
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return (0, 0);
    };
    let (mut bytes, mut inodes) = (0u64, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            bytes += m.blocks() * 512;
            inodes += 1;
            if m.is_dir() && m.dev() == top.dev() {
                stack.push(e.path());
            }
        }
    }
    (bytes + top.blocks() * 512, inodes + 1)
}

fn writable_layer(ctx: &CriContext, id: &str, now: i64) -> Option<cri::FilesystemUsage> {
    let rec = ctx.containers.resolve(id).ok()?;
    let upper = upper_dir(&rec.bundle_dir.join("rootfs"))?;
    let (bytes, inodes) = usage(&upper);
    Some(cri::FilesystemUsage {
        timestamp: now,
        fs_id: Some(cri::FilesystemIdentifier {
            mountpoint: upper.display().to_string(),
        }),
        used_bytes: val(bytes),
        inodes_used: val(inodes),
    })
}

/// The pid of `id`'s running process.
async fn running_pid(ctx: &CriContext, id: &str) -> Option<u32> {
    super::sandboxes::pause_pid(ctx, id).await
}

/// Stats of one container (zero counters while it does not run).
async fn container(
    ctx: &CriContext,
    history: &CpuHistory,
    c: &CriContainerRecord,
) -> cri::ContainerStats {
    let pid = running_pid(ctx, &c.id).await;
    let (ctx2, id) = (ctx.clone(), c.id.clone());
    let read = tokio::task::spawn_blocking(move || {
        let now = crate::metadata::now_nanos();
        let counters = pid.and_then(read);
        (now, counters, writable_layer(&ctx2, &id, now))
    })
    .await
    .unwrap_or_default();
    let (now, counters, layer) = read;
    cri::ContainerStats {
        attributes: Some(cri::ContainerAttributes {
            id: c.id.clone(),
            metadata: Some(cri::ContainerMetadata {
                name: c.name.clone(),
                attempt: c.attempt,
            }),
            labels: c.labels.clone().into_iter().collect(),
            annotations: c.annotations.clone().into_iter().collect(),
        }),
        cpu: Some(cpu(history, &c.id, now, counters.as_ref())),
        memory: Some(memory(now, counters.as_ref())),
        writable_layer: layer,
        swap: None,
    }
}

/// ContainerStats.
pub async fn container_stats(
    ctx: &CriContext,
    store: &CriStore,
    history: &CpuHistory,
    q: &str,
) -> Result<cri::ContainerStats, Status> {
    let c = store.container(q)?;
    Ok(container(ctx, history, &c).await)
}

/// ListContainerStats with its filter (id and sandbox prefixes, labels).
pub async fn list_container_stats(
    ctx: &CriContext,
    store: &CriStore,
    history: &CpuHistory,
    filter: Option<cri::ContainerStatsFilter>,
) -> Result<Vec<cri::ContainerStats>, Status> {
    let f = filter.unwrap_or_default();
    let all = store.containers()?;
    let mut out = Vec::new();
    for c in all.iter().filter(|c| {
        c.id.starts_with(&f.id)
            && c.sandbox_id.starts_with(&f.pod_sandbox_id)
            && matches_labels(&c.labels, &f.label_selector)
    }) {
        out.push(container(ctx, history, c).await);
    }
    forget_gone(store, history);
    Ok(out)
}

fn forget_gone(store: &CriStore, history: &CpuHistory) {
    let (Ok(cs), Ok(ss)) = (store.containers(), store.sandboxes()) else {
        return;
    };
    history.retain(&|id| {
        let id = id.strip_prefix("pod:").unwrap_or(id);
        cs.iter().any(|c| c.id == id) || ss.iter().any(|s| s.id == id)
    });
}

/// Stats of a sandbox: its processes' counters summed (pause and containers), the pod's network.
async fn sandbox(
    ctx: &CriContext,
    store: &CriStore,
    history: &CpuHistory,
    sb: &SandboxRecord,
) -> Result<cri::PodSandboxStats, Status> {
    let members: Vec<CriContainerRecord> = store
        .containers()?
        .into_iter()
        .filter(|c| c.sandbox_id == sb.id)
        .collect();
    let mut containers = Vec::new();
    let mut pids = Vec::new();
    for c in &members {
        containers.push(container(ctx, history, c).await);
        if let Some(p) = running_pid(ctx, &c.id).await {
            pids.push(p);
        }
    }
    let pause = running_pid(ctx, &sb.id).await;
    pids.extend(pause);
    let host_network = sb.host_network;
    let (now, total, net) = tokio::task::spawn_blocking(move || {
        let now = crate::metadata::now_nanos();
        let mut total: Option<Counters> = None;
        for c in pids.into_iter().filter_map(read) {
            let t = total.get_or_insert_with(|| Counters {
                limit: c.limit,
                ..Default::default()
            });
            t.cpu_ns += c.cpu_ns;
            t.working_set += c.working_set;
            t.usage += c.usage;
            t.rss += c.rss;
            t.page_faults += c.page_faults;
            t.major_page_faults += c.major_page_faults;
            t.pids += c.pids;
            t.limit = t.limit.max(c.limit);
        }
        let net = pause
            .filter(|_| !host_network)
            .and_then(|p| crate::observe::net::counters(p).ok());
        (now, total, net)
    })
    .await
    .map_err(|e| Status::internal(format!("reading pod {} counters: {e}", sb.id)))?;
    let key = format!("pod:{}", sb.id);
    let network = net.map(|(rx, tx)| {
        let eth0 = cri::NetworkInterfaceUsage {
            name: "eth0".into(),
            rx_bytes: val(rx),
            rx_errors: val(0),
            tx_bytes: val(tx),
            tx_errors: val(0),
        };
        cri::NetworkUsage {
            timestamp: now,
            default_interface: Some(eth0.clone()),
            interfaces: vec![eth0],
        }
    });
    Ok(cri::PodSandboxStats {
        attributes: Some(cri::PodSandboxAttributes {
            id: sb.id.clone(),
            metadata: Some(cri::PodSandboxMetadata {
                name: sb.name.clone(),
                uid: sb.uid.clone(),
                namespace: sb.namespace.clone(),
                attempt: sb.attempt,
            }),
            labels: sb.labels.clone().into_iter().collect(),
            annotations: sb.annotations.clone().into_iter().collect(),
        }),
        linux: Some(cri::LinuxPodSandboxStats {
            cpu: Some(cpu(history, &key, now, total.as_ref())),
            memory: Some(memory(now, total.as_ref())),
            network,
            process: Some(cri::ProcessUsage {
                timestamp: now,
                process_count: val(total.as_ref().map_or(0, |t| t.pids)),
            }),
            containers,
        }),
        windows: None,
    })
}

/// PodSandboxStats.
pub async fn pod_sandbox_stats(
    ctx: &CriContext,
    store: &CriStore,
    history: &CpuHistory,
    q: &str,
) -> Result<cri::PodSandboxStats, Status> {
    let sb = store.sandbox(q)?;
    sandbox(ctx, store, history, &sb).await
}

/// ListPodSandboxStats with its filter (id prefix, labels).
pub async fn list_pod_sandbox_stats(
    ctx: &CriContext,
    store: &CriStore,
    history: &CpuHistory,
    filter: Option<cri::PodSandboxStatsFilter>,
) -> Result<Vec<cri::PodSandboxStats>, Status> {
    let f = filter.unwrap_or_default();
    let mut out = Vec::new();
    for sb in store
        .sandboxes()?
        .iter()
        .filter(|s| s.id.starts_with(&f.id) && matches_labels(&s.labels, &f.label_selector))
    {
        out.push(sandbox(ctx, store, history, sb).await?);
    }
    forget_gone(store, history);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_rate_from_two_samples() {
        let h = CpuHistory::default();
        assert_eq!(h.rate("a", 1_000_000_000, 100), 0);
        // 0.5 s of CPU in 1 s: half a core.
        assert_eq!(h.rate("a", 2_000_000_000, 500_000_100), 500_000_000);
        h.retain(&|_| false);
        assert_eq!(h.rate("a", 3_000_000_000, 1), 0);
    }

    #[test]
    fn usage_counts_files_and_dirs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/f"), vec![1u8; 10_000]).unwrap();
        let (bytes, inodes) = usage(d.path());
        assert_eq!(inodes, 3);
        assert!(bytes >= 10_000, "{bytes}");
    }
}
