//! v1 `devices`: rules written in order to `devices.allow` / `devices.deny`.
//!
//! containerd's default spec starts with a deny-all (`a *:* rwm` to devices.deny, which also clears the
//! inherited allow-all) followed by the allow-list, so writing rules in order gives the intended result.

use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use super::super::device_rules::rules_from_spec;
use super::super::{fs, CgroupError};

/// Applies `linux.resources.devices`.
pub(crate) fn set(dir: &Path, spec: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    for rule in rules_from_spec(spec)? {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        fs::write(dir, file, &rule.v1_line())?;
    }
    Ok(())
}
