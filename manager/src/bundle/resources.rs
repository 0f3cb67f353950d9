//! Resource limits of `run`/`create` (`--memory`, `--cpus`, `--pids-limit`, `--ulimit`, …)
//! written into the spec the way Docker's daemon writes them.

use super::BundleError;
use crate::limits::ResourceLimits;
use serde_json::{json, Value};

/// CFS period Docker uses with `--cpus`.
const CPU_PERIOD: u64 = 100_000;

/// `nofile` → `RLIMIT_NOFILE`, for the names Docker accepts.
pub fn rlimit_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "as" => "RLIMIT_AS",
        "core" => "RLIMIT_CORE",
        "cpu" => "RLIMIT_CPU",
        "data" => "RLIMIT_DATA",
        "fsize" => "RLIMIT_FSIZE",
        "locks" => "RLIMIT_LOCKS",
        "memlock" => "RLIMIT_MEMLOCK",
        "msgqueue" => "RLIMIT_MSGQUEUE",
        "nice" => "RLIMIT_NICE",
        "nofile" => "RLIMIT_NOFILE",
        "nproc" => "RLIMIT_NPROC",
        "rss" => "RLIMIT_RSS",
        "rtprio" => "RLIMIT_RTPRIO",
        "rttime" => "RLIMIT_RTTIME",
        "sigpending" => "RLIMIT_SIGPENDING",
        "stack" => "RLIMIT_STACK",
        _ => return None,
    })
}

/// Parses `name=soft[:hard]` into (`RLIMIT_…`, soft, hard).
pub fn parse_ulimit(s: &str) -> Result<(&'static str, u64, u64), String> {
    let bad = || format!("invalid ulimit argument: {s}");
    let (name, values) = s.split_once('=').ok_or_else(bad)?;
    let typ = rlimit_name(name).ok_or_else(|| format!("invalid ulimit type: {name}"))?;
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    let num = |v: &str| -> Result<u64, String> {
        if v == "-1" {
            return Ok(u64::MAX);
        }
        v.parse::<u64>().map_err(|_| bad())
    };
    let (soft, hard) = (num(soft)?, num(hard)?);
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok((typ, soft, hard))
}

fn invalid(option: &str, reason: String) -> BundleError {
    BundleError::InvalidOption {
        option: option.into(),
        reason,
    }
}

/// Writes `limits` into the spec (a JSON object of the runtime spec).
pub fn apply(spec: &mut Value, l: &ResourceLimits) -> Result<(), BundleError> {
    let res = &mut spec["linux"]["resources"];
    if l.memory != 0 || l.memory_reservation != 0 || l.memory_swap != 0 {
        let mut mem = json!({});
        if l.memory > 0 {
            mem["limit"] = json!(l.memory);
            let swap = match l.memory_swap {
                0 => l.memory.saturating_mul(2),
                s => s,
            };
            mem["swap"] = json!(swap);
        }
        if l.memory_reservation > 0 {
            mem["reservation"] = json!(l.memory_reservation);
        }
        res["memory"] = mem;
    }
    if l.nano_cpus != 0 || l.cpu_shares != 0 || !l.cpuset_cpus.is_empty() {
        let mut cpu = json!({});
        if l.nano_cpus > 0 {
            let quota = u64::try_from(l.nano_cpus).unwrap_or(0) * CPU_PERIOD / 1_000_000_000;
            cpu["quota"] = json!(quota);
            cpu["period"] = json!(CPU_PERIOD);
        }
        if l.cpu_shares > 0 {
            cpu["shares"] = json!(l.cpu_shares);
        }
        if !l.cpuset_cpus.is_empty() {
            cpu["cpus"] = json!(l.cpuset_cpus);
        }
        res["cpu"] = cpu;
    }
    if l.pids_limit != 0 {
        res["pids"] = json!({"limit": l.pids_limit});
    }
    let process = &mut spec["process"];
    if let Some(adj) = l.oom_score_adj {
        process["oomScoreAdj"] = json!(adj);
    }
    for u in &l.ulimits {
        let (typ, soft, hard) = parse_ulimit(u).map_err(|r| invalid("--ulimit", r))?;
        let list = process["rlimits"].as_array_mut();
        let entry = json!({"type": typ, "soft": soft, "hard": hard});
        match list {
            Some(list) => {
                list.retain(|r| r["type"] != typ);
                list.push(entry);
            }
            None => process["rlimits"] = json!([entry]),
        }
    }
    if l.shm_size > 0 {
        if let Some(mounts) = spec["mounts"].as_array_mut() {
            for m in mounts.iter_mut().filter(|m| m["destination"] == "/dev/shm") {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| !o.as_str().is_some_and(|o| o.starts_with("size=")));
                    opts.push(json!(format!("size={}", l.shm_size)));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_land_where_docker_puts_them() {
        let mut spec = json!({
            "process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}]},
            "mounts": [{"destination": "/dev/shm", "options": ["nosuid", "size=65536k"]}],
            "linux": {"resources": {"devices": []}},
        });
        let l = ResourceLimits {
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            pids_limit: 50,
            ulimits: vec!["nofile=100:200".into()],
            oom_score_adj: Some(500),
            shm_size: 1 << 20,
            ..Default::default()
        };
        apply(&mut spec, &l).unwrap();
        let r = &spec["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 64 << 20);
        assert_eq!(r["memory"]["swap"], 128 << 20);
        assert_eq!(r["cpu"]["quota"], 150_000);
        assert_eq!(r["pids"]["limit"], 50);
        assert_eq!(spec["process"]["rlimits"][0]["soft"], 100);
        assert_eq!(spec["process"]["oomScoreAdj"], 500);
        assert_eq!(spec["mounts"][0]["options"][1], "size=1048576");
        assert!(parse_ulimit("nofile=2:1").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
    }
}
