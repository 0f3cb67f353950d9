//! A CRI container's security context mapped onto berth's options: run-as user and group,
//! supplemental groups, privileged, capabilities (ambient ones too), no-new-privs, masked /
//! read-only paths and the seccomp profile (RuntimeDefault, Unconfined, Localhost: a
//! Docker-format profile file on the host, rendered to the OCI form for the container's
//! capabilities).

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use k8s_cri::v1 as cri;
use tonic::Status;

use crate::bundle::security::{host_capabilities, normalize_cap};
use crate::metadata::containers::PodSeccomp;

/// Largest Localhost seccomp profile read (Docker's default is about 20 KiB).
const MAX_PROFILE: u64 = 1 << 20;

/// What the security context sets, in berth's terms.
#[derive(Debug, Default, PartialEq)]
pub struct Mapped {
    /// `uid[:gid]` or `name[:gid]` ("" keeps the image's user).
    pub user: String,
    /// Supplemental group ids.
    pub group_add: Vec<u32>,
    /// Capabilities added (`CAP_` names or `ALL`).
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// Ambient capabilities (only those the host has).
    pub ambient: Vec<String>,
    /// Privileged container.
    pub privileged: bool,
    /// `no-new-privileges` when asked for.
    pub security_opt: Vec<String>,
    /// Masked paths replacing the defaults (None: keep them).
    pub masked_paths: Option<Vec<String>>,
    /// Read-only paths replacing the defaults.
    pub readonly_paths: Option<Vec<String>>,
    /// The seccomp filter.
    pub seccomp: PodSeccomp,
}

/// `uid[:gid]` or `name[:gid]` from the security context ("" keeps the image's user); a group
/// without a user is refused, as containerd refuses it (which user would it apply to?).
fn user(sc: &cri::LinuxContainerSecurityContext) -> Result<String, Status> {
    let u = if !sc.run_as_username.is_empty() {
        sc.run_as_username.clone()
    } else if let Some(uid) = &sc.run_as_user {
        uid.value.to_string()
    } else {
        String::new()
    };
    match (&sc.run_as_group, u.is_empty()) {
        (Some(g), true) => Err(Status::invalid_argument(format!(
            "user group {} is specified without user",
            g.value
        ))),
        (Some(g), false) => Ok(format!("{u}:{}", g.value)),
        (None, _) => Ok(u),
    }
}

fn names(v: &[String], what: &str) -> Result<Vec<String>, Status> {
    v.iter()
        .map(|c| normalize_cap(c).map_err(|e| Status::invalid_argument(format!("{what}: {e}"))))
        .collect()
}

/// The capabilities the container's process ends up with (for a profile's `includes.caps`).
fn effective_caps(privileged: bool, add: &[String], drop: &[String]) -> Vec<String> {
    let host: Vec<String> = host_capabilities().iter().map(|c| c.to_string()).collect();
    if privileged || add.iter().any(|a| a == "ALL") {
        return host;
    }
    let mut caps: Vec<String> = if drop.iter().any(|d| d == "ALL") {
        Vec::new()
    } else {
        // The spec's serialized names (`CAP_CHOWN`) are the kernel's.
        crate::bundle::defaults::DEFAULT_CAPABILITIES
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .filter_map(|v| v.as_str().map(str::to_string))
            .filter(|c| host.contains(c))
            .collect()
    };
    for a in add {
        if !caps.contains(a) && host.contains(a) {
            caps.push(a.clone());
        }
    }
    caps.retain(|c| !drop.contains(c));
    caps
}

/// Maps the security context of a container in a sandbox that is (or is not) privileged.
pub fn map(
    sc: &cri::LinuxContainerSecurityContext,
    sandbox_privileged: bool,
) -> Result<Mapped, Status> {
    if sc.privileged && !sandbox_privileged {
        return Err(Status::invalid_argument(
            "no privileged container allowed in a sandbox that is not privileged",
        ));
    }
    let caps = sc.capabilities.clone().unwrap_or_default();
    let cap_add = names(&caps.add_capabilities, "add_capabilities")?;
    let cap_drop = names(&caps.drop_capabilities, "drop_capabilities")?;
    let host = host_capabilities();
    let ambient = names(&caps.add_ambient_capabilities, "add_ambient_capabilities")?
        .into_iter()
        .filter(|c| c != "ALL" && host.contains(&c.as_str()))
        .collect();
    let mut group_add = Vec::new();
    for g in &sc.supplemental_groups {
        group_add.push(u32::try_from(*g).map_err(|_| {
            Status::invalid_argument(format!("supplemental group {g} is not a valid gid"))
        })?);
    }
    let seccomp = if sc.privileged {
        // A privileged container runs unfiltered, as with containerd and CRI-O.
        PodSeccomp::Unconfined
    } else {
        seccomp(sc, &effective_caps(false, &cap_add, &cap_drop))?
    };
    // A privileged container sees everything: berth's privileged mode drops the masks itself.
    let paths = |v: &Vec<String>| (!sc.privileged && !v.is_empty()).then(|| v.clone());
    Ok(Mapped {
        user: user(sc)?,
        group_add,
        cap_add,
        cap_drop,
        ambient,
        privileged: sc.privileged,
        security_opt: if sc.no_new_privs {
            vec!["no-new-privileges".into()]
        } else {
            Vec::new()
        },
        masked_paths: paths(&sc.masked_paths),
        readonly_paths: paths(&sc.readonly_paths),
        seccomp,
    })
}

/// The seccomp filter the context asks for: the `seccomp` field, else the deprecated
/// `seccomp_profile_path` (`runtime/default`, `docker/default`, `unconfined`,
/// `localhost/<path>`); neither means unconfined (kubelet's default).
#[allow(deprecated)]
fn seccomp(sc: &cri::LinuxContainerSecurityContext, caps: &[String]) -> Result<PodSeccomp, Status> {
    use cri::security_profile::ProfileType;
    if let Some(p) = &sc.seccomp {
        return match ProfileType::try_from(p.profile_type) {
            Ok(ProfileType::RuntimeDefault) => Ok(PodSeccomp::RuntimeDefault),
            Ok(ProfileType::Unconfined) => Ok(PodSeccomp::Unconfined),
            Ok(ProfileType::Localhost) => localhost(Path::new(&p.localhost_ref), caps),
            Err(_) => Err(Status::invalid_argument(format!(
                "unknown seccomp profile type {}",
                p.profile_type
            ))),
        };
    }
    match sc.seccomp_profile_path.as_str() {
        "" | "unconfined" => Ok(PodSeccomp::Unconfined),
        "runtime/default" | "docker/default" => Ok(PodSeccomp::RuntimeDefault),
        other => match other.strip_prefix("localhost/") {
            Some(path) => localhost(Path::new(path), caps),
            None => Err(Status::invalid_argument(format!(
                "unknown seccomp profile path {other:?}"
            ))),
        },
    }
}

/// A Localhost profile: a Docker-format (or OCI-format) JSON file at an absolute host path.
fn localhost(path: &Path, caps: &[String]) -> Result<PodSeccomp, Status> {
    if !path.is_absolute() {
        return Err(Status::invalid_argument(format!(
            "seccomp profile {} is not an absolute path",
            path.display()
        )));
    }
    let bad =
        |e: String| Status::invalid_argument(format!("seccomp profile {}: {e}", path.display()));
    // Opened without blocking (a FIFO at the path must not hang the CRI call), checked as a
    // regular file on the open descriptor, and read no further than the cap.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| bad(e.to_string()))?;
    let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() || meta.len() > MAX_PROFILE {
        return Err(bad(format!(
            "not a regular file of at most {MAX_PROFILE} bytes"
        )));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_PROFILE), &mut text)
        .map_err(|e| bad(e.to_string()))?;
    // The same rendering as `berth run --security-opt seccomp=FILE` (conditions on caps,
    // arch and kernel resolved for this container).
    let oci =
        crate::bundle::seccomp::resolve(&text, caps, &crate::bundle::seccomp::Host::current())
            .map_err(bad)?;
    Ok(PodSeccomp::Profile(oci.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn docker_profile_rendered_for_caps_and_arch() {
        let docker = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
                {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_CHOWN"]}},
                {"name": "sethostname", "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
            ]
        });
        let host = crate::bundle::seccomp::Host {
            arch: "amd64",
            seccomp_arch: "SCMP_ARCH_X86_64",
            kernel: (6, 1),
        };
        let resolve = |v: &Value, caps: &[String]| {
            crate::bundle::seccomp::resolve(&v.to_string(), caps, &host)
        };
        let oci = resolve(&docker, &["CAP_CHOWN".into()]).unwrap();
        assert_eq!(
            oci["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        let kept: Vec<Vec<String>> = oci["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| crate::bundle::string_array(&r["names"]))
            .collect();
        assert_eq!(
            kept,
            vec![
                vec!["read".to_string(), "write".into()],
                vec!["arch_prctl".into()],
                vec!["sethostname".into()]
            ]
        );
        assert_eq!(oci["syscalls"][2]["errnoRet"], 1);
        assert!(resolve(&json!({}), &[]).is_err());
    }

    #[test]
    fn context_mapping_and_refusals() {
        let mut sc = cri::LinuxContainerSecurityContext {
            run_as_group: Some(cri::Int64Value { value: 5 }),
            ..Default::default()
        };
        assert_eq!(
            map(&sc, false).unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
        sc.run_as_user = Some(cri::Int64Value { value: 1000 });
        sc.supplemental_groups = vec![44, 45];
        sc.no_new_privs = true;
        sc.capabilities = Some(cri::Capability {
            add_capabilities: vec!["NET_ADMIN".into()],
            drop_capabilities: vec!["chown".into()],
            ..Default::default()
        });
        let m = map(&sc, false).unwrap();
        assert_eq!(m.user, "1000:5");
        assert_eq!(m.group_add, vec![44, 45]);
        assert_eq!(m.cap_add, vec!["CAP_NET_ADMIN"]);
        assert_eq!(m.cap_drop, vec!["CAP_CHOWN"]);
        assert_eq!(m.security_opt, vec!["no-new-privileges"]);
        assert_eq!(m.seccomp, PodSeccomp::Unconfined);
        sc.seccomp = Some(cri::SecurityProfile::default());
        assert_eq!(map(&sc, false).unwrap().seccomp, PodSeccomp::RuntimeDefault);
        sc.privileged = true;
        assert!(map(&sc, false).is_err());
        let p = map(&sc, true).unwrap();
        assert_eq!(p.seccomp, PodSeccomp::Unconfined);
        let caps = effective_caps(false, &[], &[]);
        if host_capabilities().contains(&"CAP_NET_BIND_SERVICE") {
            assert!(
                caps.contains(&"CAP_NET_BIND_SERVICE".to_string()),
                "{caps:?}"
            );
        }
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
    }
}
