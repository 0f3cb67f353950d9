//! `update`: change a live container's memory, cpu, cpuset, pids and blkio-weight limits, as
//! `runc update` does (flags or a `-r` JSON document), and record them in state.json.
//!
//! A zero means "unchanged", as in runc. The new values are merged into the resources recorded at
//! `create`, the merged sections are written through the cgroup writers, and state.json is saved
//! only when every write succeeded; on a failed write the previous values are written back.

use std::path::Path;

use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};
use serde_json::Value;

use crate::state_dir::{self as state, State, Status};
use crate::{Error, Result};

/// The values one `update` changes; `None` (or zero) leaves a value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceUpdate {
    /// `--memory`, `memory.limit` (bytes; -1 unlimited).
    pub memory_limit: Option<i64>,
    /// `--memory-reservation`, `memory.reservation` (bytes; -1 unlimited).
    pub memory_reservation: Option<i64>,
    /// `--memory-swap`, `memory.swap` (memory+swap bytes; -1 unlimited).
    pub memory_swap: Option<i64>,
    /// `--cpu-share`, `cpu.shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpu-quota`, `cpu.quota` (µs; -1 unlimited).
    pub cpu_quota: Option<i64>,
    /// `--cpu-period`, `cpu.period` (µs).
    pub cpu_period: Option<u64>,
    /// `--cpu-rt-runtime`, `cpu.realtimeRuntime` (µs; -1 unlimited).
    pub cpu_rt_runtime: Option<i64>,
    /// `--cpu-rt-period`, `cpu.realtimePeriod` (µs).
    pub cpu_rt_period: Option<u64>,
    /// `--cpuset-cpus`, `cpu.cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`, `cpu.mems`.
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`, `pids.limit` (-1 unlimited).
    pub pids_limit: Option<i64>,
    /// `--blkio-weight`, `blockIO.weight` (10–1000).
    pub blkio_weight: Option<u16>,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("invalid value for {field}: {why}"))
}

/// A signed value where -1 means "unlimited" and other negatives are refused.
fn check_signed(field: &str, v: i64) -> Result<i64> {
    if v < -1 {
        return Err(invalid(
            field,
            format!("{v} is negative (only -1, unlimited, is allowed)"),
        ));
    }
    Ok(v)
}

/// Go's strconv error text, which runc's messages carry.
fn strconv_err(func: &str, s: &str, e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind;
    let why = match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    };
    format!("strconv.{func}: parsing {s:?}: {why}")
}

/// Parses an unsigned decimal flag value (`--cpu-share`, `--cpu-period`, ...).
pub fn parse_unsigned(field: &str, s: &str) -> Result<u64> {
    s.parse::<u64>()
        .map_err(|e| invalid(field, strconv_err("ParseUint", s, &e)))
}

/// Parses a signed decimal flag value where -1 means unlimited (`--cpu-quota`, `--pids-limit`).
pub fn parse_signed(field: &str, s: &str) -> Result<i64> {
    let v = s
        .parse::<i64>()
        .map_err(|e| invalid(field, strconv_err("ParseInt", s, &e)))?;
    check_signed(field, v)
}

/// Parses a byte size as runc does (docker's RAMInBytes: `512`, `64m`, `1.5GiB`, binary units),
/// or `-1` for unlimited.
pub fn parse_size(field: &str, s: &str) -> Result<i64> {
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let bad = || invalid(field, format!("invalid size: '{s}'"));
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, rest) = t.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) || num.ends_with('.') {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mut unit = rest.trim_start_matches(' ').to_ascii_lowercase();
    if unit.ends_with('b') {
        unit.pop();
    }
    if unit.len() == 2 && unit.ends_with('i') {
        unit.pop();
    }
    let shift = match unit.as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(invalid(field, format!("{s:?} is too large")));
    }
    Ok(bytes as i64)
}

impl ResourceUpdate {
    /// Reads runc's `-r` document: `{"memory": {"limit", "reservation", "swap"}, "cpu": {"shares",
    /// "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems"}, "blockIO":
    /// {"weight"}, "pids": {"limit"}}`; other keys are ignored, as runc ignores them.
    pub fn from_json(text: &str) -> Result<ResourceUpdate> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("resources: invalid JSON: {e}")))?;
        if !v.is_object() {
            return Err(Error::InvalidArgument(
                "resources: expected a JSON object".into(),
            ));
        }
        let get = |sect: &str, key: &str| {
            v.get(sect)
                .and_then(|s| s.get(key))
                .filter(|x| !x.is_null())
        };
        let signed = |sect: &str, key: &str| -> Result<Option<i64>> {
            let field = format!("{sect}.{key}");
            get(sect, key)
                .map(|x| {
                    x.as_i64()
                        .ok_or_else(|| invalid(&field, format!("{x} is not an integer")))
                        .and_then(|n| check_signed(&field, n))
                })
                .transpose()
        };
        let unsigned = |sect: &str, key: &str| -> Result<Option<u64>> {
            let field = format!("{sect}.{key}");
            get(sect, key)
                .map(|x| {
                    x.as_u64().ok_or_else(|| {
                        invalid(&field, format!("{x} is not a non-negative integer"))
                    })
                })
                .transpose()
        };
        let string = |sect: &str, key: &str| -> Result<Option<String>> {
            get(sect, key)
                .map(|x| {
                    x.as_str().map(str::to_string).ok_or_else(|| {
                        invalid(&format!("{sect}.{key}"), format!("{x} is not a string"))
                    })
                })
                .transpose()
        };
        let blkio_weight = unsigned("blockIO", "weight")?
            .map(|w| {
                u16::try_from(w)
                    .map_err(|_| invalid("blockIO.weight", format!("{w} is out of range")))
            })
            .transpose()?;
        let u = ResourceUpdate {
            memory_limit: signed("memory", "limit")?,
            memory_reservation: signed("memory", "reservation")?,
            memory_swap: signed("memory", "swap")?,
            cpu_shares: unsigned("cpu", "shares")?,
            cpu_quota: signed("cpu", "quota")?,
            cpu_period: unsigned("cpu", "period")?,
            cpu_rt_runtime: signed("cpu", "realtimeRuntime")?,
            cpu_rt_period: unsigned("cpu", "realtimePeriod")?,
            cpuset_cpus: string("cpu", "cpus")?,
            cpuset_mems: string("cpu", "mems")?,
            pids_limit: signed("pids", "limit")?,
            blkio_weight,
        };
        u.validate()?;
        Ok(u)
    }

    /// Range checks that do not depend on the host.
    pub fn validate(&self) -> Result<()> {
        if let Some(w) = self.blkio_weight.filter(|w| *w != 0) {
            if !(10..=1000).contains(&w) {
                return Err(invalid("blkio-weight", format!("{w} is outside 10..1000")));
            }
        }
        Ok(())
    }
}

/// `Some(v)` unless `v` is absent or zero (runc's "unchanged").
fn changed<T: PartialEq + Default + Copy>(v: Option<T>) -> Option<T> {
    v.filter(|x| *x != T::default())
}

/// The recorded resources with `u` laid over them.
pub fn merge(old: Option<&LinuxResources>, u: &ResourceUpdate) -> Result<LinuxResources> {
    let mut r = old.cloned().unwrap_or_default();
    let build = |what: &str, e: oci_spec::OciSpecError| {
        Error::InvalidArgument(format!("update: build {what}: {e}"))
    };
    let m = r.memory().unwrap_or_default();
    let mut mem = LinuxMemoryBuilder::default();
    if let Some(v) = changed(u.memory_limit).or(m.limit()) {
        mem = mem.limit(v);
    }
    if let Some(v) = changed(u.memory_reservation).or(m.reservation()) {
        mem = mem.reservation(v);
    }
    if let Some(v) = changed(u.memory_swap).or(m.swap()) {
        mem = mem.swap(v);
    }
    // An unlimited memory limit without a swap value: swap becomes unlimited too (runc's fix-up
    // for "unable to set swap limit without memory limit").
    if u.memory_limit == Some(-1) && changed(u.memory_swap).is_none() {
        mem = mem.swap(-1);
    }
    let mut mem = mem.build().map_err(|e| build("memory", e))?;
    mem.set_kernel(m.kernel());
    mem.set_kernel_tcp(m.kernel_tcp());
    mem.set_swappiness(m.swappiness());
    mem.set_disable_oom_killer(m.disable_oom_killer());
    mem.set_use_hierarchy(m.use_hierarchy());
    if r.memory().is_some()
        || mem.limit().is_some()
        || mem.reservation().is_some()
        || mem.swap().is_some()
    {
        r.set_memory(Some(mem));
    }

    let c = r.cpu().clone().unwrap_or_default();
    let mut cpu = LinuxCpuBuilder::default();
    if let Some(v) = changed(u.cpu_shares).or(c.shares()) {
        cpu = cpu.shares(v);
    }
    if let Some(v) = changed(u.cpu_quota).or(c.quota()) {
        cpu = cpu.quota(v);
    }
    if let Some(v) = changed(u.cpu_period).or(c.period()) {
        cpu = cpu.period(v);
    }
    if let Some(v) = changed(u.cpu_rt_runtime).or(c.realtime_runtime()) {
        cpu = cpu.realtime_runtime(v);
    }
    if let Some(v) = changed(u.cpu_rt_period).or(c.realtime_period()) {
        cpu = cpu.realtime_period(v);
    }
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    if let Some(v) = non_empty(&u.cpuset_cpus).or(c.cpus().clone()) {
        cpu = cpu.cpus(v);
    }
    if let Some(v) = non_empty(&u.cpuset_mems).or(c.mems().clone()) {
        cpu = cpu.mems(v);
    }
    let mut cpu = cpu.build().map_err(|e| build("cpu", e))?;
    cpu.set_burst(c.burst());
    cpu.set_idle(c.idle());
    if r.cpu().is_some() || cpu != Default::default() {
        r.set_cpu(Some(cpu));
    }

    if let Some(l) = changed(u.pids_limit) {
        r.set_pids(Some(
            LinuxPidsBuilder::default()
                .limit(l)
                .build()
                .map_err(|e| build("pids", e))?,
        ));
    }
    if let Some(w) = changed(u.blkio_weight) {
        let mut b = r.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

/// The sections `update` writes (memory, cpu, pids, blkio weight), taken from `r`. Devices,
/// hugetlb, network and the rest are left as `create` wrote them.
pub fn writable_part(r: &LinuxResources) -> Result<LinuxResources> {
    let mut b = LinuxResourcesBuilder::default();
    let out_cpu = r.cpu().clone();
    if let Some(m) = r.memory() {
        // Only what update changes: re-writing kernelTCP, useHierarchy or the OOM killer switch
        // on a populated cgroup fails (EBUSY) or is refused on v2.
        let mut mem = LinuxMemoryBuilder::default();
        if let Some(v) = m.limit() {
            mem = mem.limit(v);
        }
        if let Some(v) = m.reservation() {
            mem = mem.reservation(v);
        }
        if let Some(v) = m.swap() {
            mem = mem.swap(v);
        }
        let mem = mem
            .build()
            .map_err(|e| Error::InvalidArgument(format!("update: build memory: {e}")))?;
        if mem.limit().is_some() || mem.reservation().is_some() || mem.swap().is_some() {
            b = b.memory(mem);
        }
    }
    if let Some(c) = out_cpu {
        b = b.cpu(c);
    }
    if let Some(p) = r.pids() {
        b = b.pids(*p);
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        b = b.block_io(
            LinuxBlockIoBuilder::default()
                .weight(w)
                .build()
                .map_err(|e| Error::InvalidArgument(format!("update: build blockIO: {e}")))?,
        );
    }
    b.build()
        .map_err(|e| Error::InvalidArgument(format!("update: build resources: {e}")))
}

/// Applies `u` to container `id` and records the result in its state.json.
pub fn update(root: &Path, id: &str, u: &ResourceUpdate) -> Result<()> {
    u.validate()?;
    let mut st = State::load(root, id)?;
    let dir = state::container_dir(root, id);
    match st.status(&dir) {
        Status::Created | Status::Running | Status::Paused => {}
        // runc's words for both.
        Status::Stopped | Status::Creating => {
            return Err(Error::WrongState("container not running".into()))
        }
    }
    let cg = st
        .cgroup
        .clone()
        .ok_or_else(|| Error::WrongState(format!("container {id} has no cgroup recorded")))?;
    let merged = merge(st.resources.as_ref(), u)?;
    let new = writable_part(&merged)?;
    if let Err(e) = cg.set_resources(Some(&new)) {
        // Put back what was there, as runc does; the first error is the one reported.
        if let Some(old) = st.resources.as_ref() {
            if let Ok(old) = writable_part(old) {
                let _ = cg.set_resources(Some(&old));
            }
        }
        return Err(e.into());
    }
    st.resources = Some(merged);
    st.save(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_rams_in_bytes() {
        assert_eq!(parse_size("memory", "512").unwrap(), 512);
        assert_eq!(parse_size("memory", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("memory", "64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("memory", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("memory", "2 kb").unwrap(), 2048);
        assert_eq!(parse_size("memory", "-1").unwrap(), -1);
        for bad in ["-5", "abc", "", "12x", ".5m", "1..2"] {
            let e = parse_size("memory", bad).unwrap_err().to_string();
            assert!(e.contains("invalid value for memory"), "{bad}: {e}");
        }
    }

    #[test]
    fn numbers_name_the_field() {
        assert!(parse_unsigned("cpu-share", "-3")
            .unwrap_err()
            .to_string()
            .contains("cpu-share"));
        assert!(parse_signed("cpu-quota", "-7")
            .unwrap_err()
            .to_string()
            .contains("cpu-quota"));
        assert_eq!(parse_signed("cpu-quota", "-1").unwrap(), -1);
    }

    #[test]
    fn json_document_is_read_and_checked() {
        let u = ResourceUpdate::from_json(
            r#"{"memory":{"limit":1048576,"swap":-1},"cpu":{"shares":512,"cpus":"0"},"pids":{"limit":7},"x":1}"#,
        )
        .unwrap();
        assert_eq!(u.memory_limit, Some(1 << 20));
        assert_eq!(u.memory_swap, Some(-1));
        assert_eq!(u.cpu_shares, Some(512));
        assert_eq!(u.cpuset_cpus.as_deref(), Some("0"));
        assert_eq!(u.pids_limit, Some(7));
        let e = ResourceUpdate::from_json(r#"{"cpu":{"shares":-5}}"#).unwrap_err();
        assert!(e.to_string().contains("cpu.shares"), "{e}");
        let e = ResourceUpdate::from_json(r#"{"memory":{"limit":"lots"}}"#).unwrap_err();
        assert!(e.to_string().contains("memory.limit"), "{e}");
        let e = ResourceUpdate::from_json(r#"{"blockIO":{"weight":5}}"#).unwrap_err();
        assert!(e.to_string().contains("blkio-weight"), "{e}");
    }

    #[test]
    fn merge_keeps_unchanged_values() {
        let old = merge(
            None,
            &ResourceUpdate {
                memory_limit: Some(100),
                cpu_shares: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        let new = merge(
            Some(&old),
            &ResourceUpdate {
                memory_limit: Some(0),
                cpu_quota: Some(5000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(new.memory().as_ref().unwrap().limit(), Some(100));
        assert_eq!(new.cpu().as_ref().unwrap().shares(), Some(2));
        assert_eq!(new.cpu().as_ref().unwrap().quota(), Some(5000));
        assert!(new.pids().is_none());
    }
}
