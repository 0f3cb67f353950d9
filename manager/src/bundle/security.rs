//! `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt no-new-privileges`, `--group-add`
//! written into the spec the way Docker's daemon does (its default set is
//! [`super::defaults::DEFAULT_CAPABILITIES`]).

use super::BundleError;
use serde_json::{json, Value};

/// Every capability name in kernel order (`CAP_CHOWN` is bit 0).
pub const ALL_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// What the flags ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// `--cap-add` (names with or without `CAP_`, any case; `ALL`).
    pub cap_add: Vec<String>,
    /// `--cap-drop` (likewise).
    pub cap_drop: Vec<String>,
    /// `--privileged`: every capability the host allows, nothing masked, writable /sys.
    pub privileged: bool,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--group-add` group ids.
    pub group_add: Vec<u32>,
    /// The seccomp profile (`--privileged` overrides it: no filter, as Docker).
    pub seccomp: super::seccomp::Choice,
    /// `--security-opt systempaths=unconfined`: nothing masked, nothing read-only in /proc.
    pub systempaths_unconfined: bool,
}

/// What `--security-opt` values ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    /// `no-new-privileges[=true]` (the last value wins).
    pub no_new_privileges: bool,
    /// `seccomp=unconfined` → `Some(Unconfined)`, `seccomp=builtin` → `Some(DockerDefault)`,
    /// `seccomp=<JSON>` (the client puts a file's content there) → `Some(Profile)`.
    pub seccomp: Option<super::seccomp::Choice>,
    /// `systempaths=unconfined`.
    pub systempaths_unconfined: bool,
}

/// A `--security-opt` value's key and value: `KEY=VALUE`, or the deprecated `KEY:VALUE` when
/// there is no `=` (a JSON profile after `=` may hold colons).
pub fn split_security_opt(opt: &str) -> Option<(&str, &str)> {
    if opt.contains('=') {
        opt.split_once('=')
    } else {
        opt.split_once(':')
    }
}

/// Parses `--security-opt` values with the Docker daemon's rules and messages (`KEY=VALUE`, or
/// the deprecated `KEY:VALUE`); a seccomp profile is only parsed here, see
/// [`super::seccomp::check`].
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, String> {
    use super::seccomp::Choice;
    let mut out = SecurityOpts::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        let Some((k, v)) = split_security_opt(opt) else {
            return Err(format!("invalid --security-opt 1: {opt:?}"));
        };
        match k {
            "seccomp" => {
                out.seccomp = Some(match v {
                    "unconfined" => Choice::Unconfined,
                    "builtin" | "" => Choice::DockerDefault,
                    json => Choice::Profile(json.to_string()),
                })
            }
            "no-new-privileges" => {
                out.no_new_privileges = match v {
                    "true" | "1" | "t" | "T" | "TRUE" | "True" => true,
                    "false" | "0" | "f" | "F" | "FALSE" | "False" => false,
                    _ => return Err(format!("invalid --security-opt 2: {opt:?}")),
                }
            }
            "systempaths" if v == "unconfined" => out.systempaths_unconfined = true,
            _ => return Err(format!("invalid --security-opt 2: {opt:?}")),
        }
    }
    Ok(out)
}

/// `net_admin` → `CAP_NET_ADMIN`; `ALL` stays `ALL`; unknown names fail as Docker's daemon does.
pub fn normalize_cap(name: &str) -> Result<String, String> {
    let up = name.to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    if ALL_CAPABILITIES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(format!("unknown capability: \"{full}\""))
    }
}

/// Every capability in the bounding set of this process (all known ones if it cannot be read):
/// a container cannot be given one the host took away.
pub fn host_capabilities() -> Vec<&'static str> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| bounding & (1u64 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

fn invalid(reason: String) -> BundleError {
    BundleError::InvalidOption {
        option: "--cap-add/--cap-drop".into(),
        reason,
    }
}

/// Writes `s` into the spec (a JSON object of the runtime spec).
pub fn apply(spec: &mut Value, s: &Security) -> Result<(), BundleError> {
    let adds = s
        .cap_add
        .iter()
        .map(|c| normalize_cap(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let drops = s
        .cap_drop
        .iter()
        .map(|c| normalize_cap(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let host = host_capabilities();
    let current: Vec<String> = super::string_array(&spec["process"]["capabilities"]["bounding"]);
    let mut caps: Vec<String> = if s.privileged || adds.iter().any(|a| a == "ALL") {
        host.iter().map(|c| c.to_string()).collect()
    } else if drops.iter().any(|d| d == "ALL") {
        Vec::new()
    } else {
        current
    };
    if !s.privileged {
        for a in adds.iter().filter(|a| *a != "ALL") {
            if !caps.contains(a) && host.contains(&a.as_str()) {
                caps.push(a.clone());
            }
        }
        if !drops.iter().any(|d| d == "ALL") {
            caps.retain(|c| !drops.contains(c));
        } else {
            caps.retain(|c| adds.contains(c));
        }
    }
    if !adds.is_empty() || !drops.is_empty() || s.privileged {
        spec["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps,
            "inheritable": [], "ambient": [],
        });
    }
    if s.no_new_privileges {
        spec["process"]["noNewPrivileges"] = json!(true);
    }
    if !s.group_add.is_empty() {
        let user = &mut spec["process"]["user"];
        let mut gids: Vec<u64> = user["additionalGids"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        for g in &s.group_add {
            if !gids.contains(&u64::from(*g)) {
                gids.push(u64::from(*g));
            }
        }
        user["additionalGids"] = json!(gids);
    }
    if s.privileged || s.systempaths_unconfined {
        if let Some(o) = spec["linux"].as_object_mut() {
            o.remove("maskedPaths");
            o.remove("readonlyPaths");
        }
    }
    // After the capabilities: the profile's rules depend on the final bounding set.
    let seccomp = if s.privileged {
        &super::seccomp::Choice::Unconfined
    } else {
        &s.seccomp
    };
    super::seccomp::apply(spec, seccomp)?;
    if s.privileged {
        if let Some(mounts) = spec["mounts"].as_array_mut() {
            for m in mounts
                .iter_mut()
                .filter(|m| m["destination"] == "/sys" || m["destination"] == "/sys/fs/cgroup")
            {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "ro");
                    opts.push(json!("rw"));
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
    fn caps_as_docker() {
        let mut spec = json!({"process": {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]},
            "user": {"uid": 0, "gid": 0}}});
        let s = Security {
            cap_add: vec!["net_admin".into()],
            cap_drop: vec!["KILL".into()],
            group_add: vec![44],
            ..Default::default()
        };
        apply(&mut spec, &s).unwrap();
        let caps = &spec["process"]["capabilities"]["effective"];
        if host_capabilities().contains(&"CAP_NET_ADMIN") {
            assert_eq!(caps, &json!(["CAP_CHOWN", "CAP_NET_ADMIN"]));
        }
        assert_eq!(spec["process"]["user"]["additionalGids"], json!([44]));
        let mut spec2 = json!({"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}});
        let all = Security {
            cap_drop: vec!["ALL".into()],
            ..Default::default()
        };
        apply(&mut spec2, &all).unwrap();
        assert_eq!(spec2["process"]["capabilities"]["effective"], json!([]));
        assert!(normalize_cap("CAP_NOPE").is_err());
    }
}
