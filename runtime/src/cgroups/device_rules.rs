//! Device access rules (`linux.resources.devices`) in one form that both v1 files and the v2 eBPF program use.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

/// `mknod` access bit (same values as the kernel's `BPF_DEVCG_ACC_*`).
pub const ACC_MKNOD: u32 = 1;
/// `read` access bit.
pub const ACC_READ: u32 = 2;
/// `write` access bit.
pub const ACC_WRITE: u32 = 4;

/// Which device nodes a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKind {
    /// Block and character devices.
    All,
    /// Block devices (`BPF_DEVCG_DEV_BLOCK` = 1).
    Block,
    /// Character devices (`BPF_DEVCG_DEV_CHAR` = 2).
    Char,
}

/// One device rule; `None` major or minor is a wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// Allow (`true`) or deny.
    pub allow: bool,
    /// Device kind.
    pub kind: DevKind,
    /// Major number, `None` for any.
    pub major: Option<u32>,
    /// Minor number, `None` for any.
    pub minor: Option<u32>,
    /// Access bits (`ACC_*`), never 0.
    pub access: u32,
}

fn number(v: Option<i64>, what: &str) -> Result<Option<u32>, CgroupError> {
    match v {
        None => Ok(None),
        // runc and containerd write -1 for "any".
        Some(n) if n < 0 => Ok(None),
        Some(n) => i32::try_from(n).map(|n| Some(n as u32)).map_err(|_| {
            CgroupError::Invalid(format!(
                "linux.resources.devices {what} {n} is out of range"
            ))
        }),
    }
}

/// Parses an access string of `r`, `w` and `m`.
pub fn parse_access(s: &str) -> Result<u32, CgroupError> {
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(CgroupError::Invalid(format!(
                    "linux.resources.devices access {s:?}: only r, w and m are allowed"
                )))
            }
        };
    }
    if bits == 0 {
        return Err(CgroupError::Invalid(
            "linux.resources.devices access is empty".into(),
        ));
    }
    Ok(bits)
}

/// Converts the spec's rules, in order.
pub fn rules_from_spec(spec: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    spec.iter()
        .map(|d| {
            let kind =
                match d.typ().unwrap_or(LinuxDeviceType::A) {
                    LinuxDeviceType::A => DevKind::All,
                    LinuxDeviceType::B => DevKind::Block,
                    LinuxDeviceType::C | LinuxDeviceType::U => DevKind::Char,
                    LinuxDeviceType::P => return Err(CgroupError::Unsupported(
                        "linux.resources.devices type \"p\" (the device cgroup has no FIFO rules)"
                            .into(),
                    )),
                };
            let access = match d.access() {
                Some(a) => parse_access(a)?,
                None => ACC_READ | ACC_WRITE | ACC_MKNOD,
            };
            Ok(DeviceRule {
                allow: d.allow(),
                kind,
                major: number(d.major(), "major")?,
                minor: number(d.minor(), "minor")?,
                access,
            })
        })
        .collect()
}

impl DeviceRule {
    /// The line v1's `devices.allow` / `devices.deny` take, e.g. `c 1:3 rwm` or `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let t = match self.kind {
            DevKind::All => 'a',
            DevKind::Block => 'b',
            DevKind::Char => 'c',
        };
        let n = |v: Option<u32>| v.map_or("*".to_string(), |n| n.to_string());
        let mut acc = String::new();
        if self.access & ACC_READ != 0 {
            acc.push('r');
        }
        if self.access & ACC_WRITE != 0 {
            acc.push('w');
        }
        if self.access & ACC_MKNOD != 0 {
            acc.push('m');
        }
        format!("{t} {}:{} {acc}", n(self.major), n(self.minor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    #[test]
    fn converts_containerd_default_rules() {
        let spec = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(136)
                .minor(-1)
                .access("rw")
                .build()
                .unwrap(),
        ];
        let r = rules_from_spec(&spec).unwrap();
        assert_eq!(r[0].v1_line(), "a *:* rwm");
        assert!(!r[0].allow);
        assert_eq!(r[1].v1_line(), "c 1:3 rwm");
        assert_eq!(r[2].v1_line(), "c 136:* rw");
    }

    #[test]
    fn rejects_bad_access_and_fifo() {
        assert!(parse_access("rx").is_err());
        assert!(parse_access("").is_err());
        let fifo = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::P)
            .build()
            .unwrap();
        assert!(matches!(
            rules_from_spec(&[fifo]),
            Err(CgroupError::Unsupported(_))
        ));
    }
}
