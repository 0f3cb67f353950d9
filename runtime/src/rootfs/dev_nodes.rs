//! /dev inside the container: the default devices, `linux.devices`, and the standard symlinks.
//! In a user namespace mknod is not allowed, so host device nodes are bind-mounted instead.

use std::path::Path;

use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::{chown, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Mount};

use super::mounts::create_target;
use super::securejoin::secure_join;
use crate::error::Context;
use crate::{Error, Result};

/// A device node to create: path, type, major, minor, mode, uid, gid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Container path.
    pub path: String,
    /// `c`, `b` or `p`.
    pub kind: char,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The devices every container gets (runc's list).
pub fn default_devices() -> Vec<Device> {
    [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/tty", 5, 0),
        ("/dev/urandom", 1, 9),
        ("/dev/random", 1, 8),
    ]
    .into_iter()
    .map(|(p, ma, mi)| Device {
        path: p.into(),
        kind: 'c',
        major: ma,
        minor: mi,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// Converts a `linux.devices` entry.
pub fn from_spec(d: &LinuxDevice) -> Result<Device> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::P => 'p',
        LinuxDeviceType::A => {
            return Err(Error::InvalidArgument(format!(
                "device {}: type \"a\" cannot be created",
                d.path().display()
            )))
        }
    };
    Ok(Device {
        path: d.path().to_string_lossy().into_owned(),
        kind,
        major: u64::try_from(d.major()).unwrap_or(0),
        minor: u64::try_from(d.minor()).unwrap_or(0),
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// True unless the config bind-mounts its own /dev (then runc leaves /dev alone).
pub fn needs_dev_setup(mounts: &[Mount]) -> bool {
    !mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

/// Creates `dev` under `rootfs`, by mknod, or by bind-mounting the host node in a user namespace.
pub fn create(rootfs: &Path, dev: &Device, userns: bool) -> Result<()> {
    let dest = secure_join(rootfs, Path::new(&dev.path))?;
    if userns {
        create_target(&dest, false)?;
        return mount(
            Some(dev.path.as_str()),
            &dest,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("bind mount device {} on {}", dev.path, dest.display()));
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).ctx(|| format!("mkdir {}", parent.display()))?;
    }
    let kind = match dev.kind {
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    match mknod(
        &dest,
        kind,
        Mode::from_bits_truncate(dev.mode),
        makedev(dev.major, dev.minor),
    ) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => {
            return Err(Error::Sys {
                context: format!("mknod {}", dest.display()),
                source: e,
            })
        }
    }
    // mknod applied the umask; set the exact mode.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &dest,
        Mode::from_bits_truncate(dev.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| format!("chmod {}", dest.display()))?;
    chown(
        &dest,
        Some(Uid::from_raw(dev.uid)),
        Some(Gid::from_raw(dev.gid)),
    )
    .ctx(|| format!("chown {}", dest.display()))
}

/// The /dev symlinks runc creates, plus /dev/ptmx → pts/ptmx.
pub fn create_symlinks(rootfs: &Path) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let dest = secure_join(rootfs, Path::new(link))?;
        match std::os::unix::fs::symlink(target, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(Error::Io {
                    context: format!("symlink {}", dest.display()),
                    source: e,
                })
            }
        }
    }
    let ptmx = secure_join(rootfs, Path::new("/dev/ptmx"))?;
    let _ = std::fs::remove_file(&ptmx);
    std::os::unix::fs::symlink("pts/ptmx", &ptmx).ctx(|| format!("symlink {}", ptmx.display()))
}

/// The device cgroup rules the container gets: the config's rules, then (as runc appends them) the
/// default devices, /dev/console, /dev/pts/*, /dev/ptmx, /dev/net/tun and mknod of anything.
pub fn cgroup_rules(linux: &oci_spec::runtime::Linux) -> Result<oci_spec::runtime::LinuxResources> {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
    let mut res: LinuxResources = linux.resources().clone().unwrap_or_default();
    let mut rules: Vec<LinuxDeviceCgroup> = res.devices().clone().unwrap_or_default();
    let rule = |typ: &str,
                major: Option<i64>,
                minor: Option<i64>,
                access: &str|
     -> Result<LinuxDeviceCgroup> {
        serde_json::from_value(serde_json::json!({"allow": true, "type": typ, "major": major, "minor": minor, "access": access}))
            .map_err(|e| Error::InvalidArgument(format!("device rule: {e}")))
    };
    rules.push(rule("c", None, None, "m")?);
    rules.push(rule("b", None, None, "m")?);
    for d in default_devices() {
        rules.push(rule(
            "c",
            Some(d.major as i64),
            Some(d.minor as i64),
            "rwm",
        )?);
    }
    rules.push(rule("c", Some(5), Some(1), "rwm")?);
    rules.push(rule("c", Some(136), None, "rwm")?);
    rules.push(rule("c", Some(5), Some(2), "rwm")?);
    rules.push(rule("c", Some(10), Some(200), "rwm")?);
    // `linux.devices` entries get no rule of their own, as in runc: the config's rules say what
    // may be done with them (`--device /dev/x:/dev/x:r` is an `r` rule and stays one).
    res.set_devices(Some(rules));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_devices_match_runc() {
        let names: Vec<_> = default_devices().into_iter().map(|d| d.path).collect();
        assert_eq!(
            names,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/tty",
                "/dev/urandom",
                "/dev/random"
            ]
        );
    }

    #[test]
    fn own_dev_bind_skips_setup() {
        let m: Mount = serde_json::from_str(
            r#"{"destination":"/dev","type":"bind","source":"/dev","options":["rbind"]}"#,
        )
        .unwrap();
        assert!(!needs_dev_setup(&[m]));
        let t: Mount =
            serde_json::from_str(r#"{"destination":"/dev","type":"tmpfs","source":"tmpfs"}"#)
                .unwrap();
        assert!(needs_dev_setup(&[t]));
    }
}
