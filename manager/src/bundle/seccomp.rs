//! Seccomp profiles in Docker's format (rules with `includes`/`excludes` by capability,
//! architecture and kernel version, an `archMap`), resolved for one container into the OCI
//! `linux.seccomp` section when its bundle is generated, as Docker's daemon does: the rules kept
//! are those whose conditions hold for the container's bounding set and the host.
//!
//! [`DOCKER_DEFAULT`] is Docker's default profile (moby's `profiles/seccomp/default.json`),
//! kept as data.

use serde::Deserialize;
use serde_json::{json, Value};

/// Docker's default seccomp profile, in Docker's format.
pub const DOCKER_DEFAULT: &str = include_str!("seccomp_default.json");

/// Which profile a container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Choice {
    /// No filter (`seccomp=unconfined`, `--privileged`, CRI containers without a profile).
    #[default]
    Unconfined,
    /// [`DOCKER_DEFAULT`].
    DockerDefault,
    /// A profile given as JSON (`--security-opt seccomp=FILE`, read by the client).
    Profile(String),
}

/// A profile as Docker reads it (`types.Seccomp`); unknown fields are ignored, as Docker does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<ArchMap>>,
    flags: Option<Vec<String>>,
    listener_path: Option<String>,
    listener_metadata: Option<String>,
    syscalls: Option<Vec<Syscall>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Syscall {
    name: Option<String>,
    names: Option<Vec<String>>,
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<Value>>,
    includes: Option<Filter>,
    excludes: Option<Filter>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// What the rules' conditions are checked against besides the capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The architecture as Docker names it in `arches` (Go's `GOARCH`: `amd64`, `arm64`, …).
    pub arch: &'static str,
    /// Its libseccomp name (`SCMP_ARCH_X86_64`), matched against `archMap`.
    pub seccomp_arch: &'static str,
    /// The running kernel's version and major revision (`6.1.0-…` → `(6, 1)`).
    pub kernel: (u32, u32),
}

impl Host {
    /// This machine.
    pub fn current() -> Self {
        let (arch, seccomp_arch) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
            "x86" => ("386", "SCMP_ARCH_X86"),
            "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
            "arm" => ("arm", "SCMP_ARCH_ARM"),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", "SCMP_ARCH_PPC64LE"),
            "powerpc64" => ("ppc64", "SCMP_ARCH_PPC64"),
            "s390x" => ("s390x", "SCMP_ARCH_S390X"),
            "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
            "mips64" if cfg!(target_endian = "little") => ("mips64le", "SCMP_ARCH_MIPSEL64"),
            "mips64" => ("mips64", "SCMP_ARCH_MIPS64"),
            _ => ("", ""),
        };
        let kernel = nix::sys::utsname::uname()
            .ok()
            .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
            .unwrap_or((0, 0));
        Self {
            arch,
            seccomp_arch,
            kernel,
        }
    }
}

/// `6.1.0-13-amd64` → `(6, 1)`.
fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(|c: char| !c.is_ascii_digit());
    let kernel = it.next()?.parse().ok()?;
    let major = it.next()?.parse().ok()?;
    Some((kernel, major))
}

/// Whether the host kernel is at least `min` (`"4.8"`); a malformed version is an error, as
/// Docker's.
fn kernel_at_least(host: &Host, min: &str) -> Result<bool, String> {
    let want = parse_kernel(min)
        .filter(|_| min.split('.').count() == 2)
        .ok_or_else(|| format!("invalid kernel version: {min}"))?;
    Ok(host.kernel >= want)
}

/// Parses a profile in Docker's format, with the daemon's message for a malformed one.
fn parse(profile: &str) -> Result<Profile, String> {
    serde_json::from_str(profile).map_err(|e| format!("Decoding seccomp profile failed: {e}"))
}

/// The OCI `linux.seccomp` for a container whose bounding set is `bounding`, from `profile`
/// (Docker's format), with Docker's rules: `archMap` entries of the host's architecture (with
/// their sub-architectures), and each rule kept unless an `excludes` condition holds or an
/// `includes` condition does not.
pub fn resolve(profile: &str, bounding: &[String], host: &Host) -> Result<Value, String> {
    let p = parse(profile)?;
    let mut arches: Vec<String> = p.architectures.clone().unwrap_or_default();
    if let Some(map) = &p.arch_map {
        if !arches.is_empty() {
            return Err("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'".into());
        }
        for a in map.iter().filter(|a| a.architecture == host.seccomp_arch) {
            arches.push(a.architecture.clone());
            arches.extend(a.sub_architectures.iter().flatten().cloned());
        }
    }
    let has_cap = |c: &String| bounding.iter().any(|b| b == c);
    let mut rules = Vec::new();
    for call in p.syscalls.iter().flatten() {
        let names = match (&call.name, &call.names) {
            (Some(_), Some(n)) if !n.is_empty() => {
                return Err(
                    "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"
                        .into(),
                )
            }
            (Some(n), _) => vec![n.clone()],
            (None, n) => n.clone().unwrap_or_default(),
        };
        if let Some(ex) = &call.excludes {
            if ex.arches.iter().flatten().any(|a| a == host.arch)
                || ex.caps.iter().flatten().any(has_cap)
            {
                continue;
            }
            if let Some(k) = &ex.min_kernel {
                if kernel_at_least(host, k)? {
                    continue;
                }
            }
        }
        if let Some(inc) = &call.includes {
            if inc.arches.as_ref().is_some_and(|a| !a.is_empty())
                && !inc.arches.iter().flatten().any(|a| a == host.arch)
            {
                continue;
            }
            if !inc.caps.iter().flatten().all(has_cap) {
                continue;
            }
            if let Some(k) = &inc.min_kernel {
                if !kernel_at_least(host, k)? {
                    continue;
                }
            }
        }
        let mut rule = json!({"names": names, "action": call.action});
        if let Some(e) = call.errno_ret {
            rule["errnoRet"] = json!(e);
        }
        if let Some(args) = call.args.as_ref().filter(|a| !a.is_empty()) {
            rule["args"] = json!(args);
        }
        rules.push(rule);
    }
    let mut out = json!({"defaultAction": p.default_action, "syscalls": rules});
    if let Some(e) = p.default_errno_ret {
        out["defaultErrnoRet"] = json!(e);
    }
    if !arches.is_empty() {
        out["architectures"] = json!(arches);
    }
    if let Some(f) = p.flags.filter(|f| !f.is_empty()) {
        out["flags"] = json!(f);
    }
    if let Some(l) = p.listener_path.filter(|l| !l.is_empty()) {
        out["listenerPath"] = json!(l);
    }
    if let Some(m) = p.listener_metadata.filter(|m| !m.is_empty()) {
        out["listenerMetadata"] = json!(m);
    }
    // The runtime spec's types are the final check (actions, operators, architectures).
    serde_json::from_value::<oci_spec::runtime::LinuxSeccomp>(out.clone())
        .map_err(|e| format!("Decoding seccomp profile failed: {e}"))?;
    Ok(out)
}

/// Checks a profile given with `--security-opt seccomp=` before anything is created: it must
/// parse and resolve for Docker's default capabilities on this host.
pub fn check(profile: &str) -> Result<(), String> {
    let caps: Vec<String> = super::defaults::DEFAULT_CAPABILITIES
        .iter()
        .map(|c| format!("CAP_{}", c.to_string().trim_start_matches("CAP_")))
        .collect();
    resolve(profile, &caps, &Host::current()).map(|_| ())
}

/// Writes the profile `choice` resolves to into `spec` (a JSON runtime spec whose capabilities
/// are final); [`Choice::Unconfined`] removes any.
pub fn apply(spec: &mut Value, choice: &Choice) -> Result<(), super::BundleError> {
    let profile = match choice {
        Choice::Unconfined => {
            if let Some(l) = spec["linux"].as_object_mut() {
                l.remove("seccomp");
            }
            return Ok(());
        }
        Choice::DockerDefault => DOCKER_DEFAULT,
        Choice::Profile(p) => p.as_str(),
    };
    let bounding: Vec<String> = super::string_array(&spec["process"]["capabilities"]["bounding"]);
    let resolved = resolve(profile, &bounding, &Host::current()).map_err(|reason| {
        super::BundleError::InvalidOption {
            option: "--security-opt seccomp".into(),
            reason,
        }
    })?;
    spec["linux"]["seccomp"] = resolved;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64(kernel: (u32, u32)) -> Host {
        Host {
            arch: "amd64",
            seccomp_arch: "SCMP_ARCH_X86_64",
            kernel,
        }
    }

    fn default_caps() -> Vec<String> {
        super::super::defaults::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| format!("CAP_{}", c.to_string().trim_start_matches("CAP_")))
            .collect()
    }

    /// The default profile resolved for Docker's default capabilities on amd64 has exactly the
    /// rules of the profile Docker generates there (integration/testdata, used by the runtime's
    /// tests; it comes from a moby release that listed the chroot rule earlier, and the order of
    /// rules does not change a filter).
    #[test]
    fn default_profile_resolves_as_docker_on_amd64() {
        let mut want: Value = serde_json::from_str(include_str!(
            "../../../integration/testdata/seccomp-docker-default.json"
        ))
        .unwrap();
        let mut got = resolve(DOCKER_DEFAULT, &default_caps(), &amd64((6, 1))).unwrap();
        for v in [&mut want, &mut got] {
            if let Some(rules) = v["syscalls"].as_array_mut() {
                rules.sort_by_key(|r| r.to_string());
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn conditions_follow_caps_arch_and_kernel() {
        let names = |v: &Value| -> Vec<String> {
            v["syscalls"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r["names"].as_array().unwrap().clone())
                .map(|n| n.as_str().unwrap().to_string())
                .collect()
        };
        let mut caps = default_caps();
        let plain = names(&resolve(DOCKER_DEFAULT, &caps, &amd64((6, 1))).unwrap());
        assert!(!plain.contains(&"mount".to_string()));
        assert!(!plain.contains(&"unshare".to_string()));
        caps.push("CAP_SYS_ADMIN".into());
        let admin = resolve(DOCKER_DEFAULT, &caps, &amd64((6, 1))).unwrap();
        let admin_names = names(&admin);
        assert!(admin_names.contains(&"mount".to_string()));
        // The clone argument filter and clone3's ENOSYS go with CAP_SYS_ADMIN.
        assert!(!admin["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["names"] == json!(["clone3"])));
        let old = names(&resolve(DOCKER_DEFAULT, &default_caps(), &amd64((4, 4))).unwrap());
        assert!(!old.contains(&"process_vm_readv".to_string()));
        let arm = Host {
            arch: "arm64",
            seccomp_arch: "SCMP_ARCH_AARCH64",
            kernel: (6, 1),
        };
        let a = resolve(DOCKER_DEFAULT, &default_caps(), &arm).unwrap();
        assert_eq!(
            a["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert!(names(&a).contains(&"set_tls".to_string()));
        assert!(!names(&a).contains(&"arch_prctl".to_string()));
    }

    #[test]
    fn malformed_profiles_fail_with_dockers_message() {
        for bad in [
            "{",
            "[]",
            r#"{"defaultAction": 5}"#,
            r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": []}"#,
        ] {
            let e = resolve(bad, &[], &amd64((6, 1))).unwrap_err();
            assert!(
                e.contains("seccomp profile"),
                "{bad}: {e} does not name the profile"
            );
        }
        assert!(check(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).is_ok());
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel("6.1.0-13-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("5.15"), Some((5, 15)));
        assert!(kernel_at_least(&amd64((4, 9)), "4.8").unwrap());
        assert!(!kernel_at_least(&amd64((4, 7)), "4.8").unwrap());
        assert!(kernel_at_least(&amd64((4, 7)), "4.8.1").is_err());
    }
}
