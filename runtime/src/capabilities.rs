//! The five capability sets of `process.capabilities`.

use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

use crate::{Error, Result};

/// Converts the spec's names (`CAP_KILL`) to the caps crate's set; capabilities unknown to this kernel
/// are skipped, as runc does.
fn convert(set: &Option<oci_spec::runtime::Capabilities>) -> CapsHashSet {
    let known = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    set.iter()
        .flatten()
        .filter_map(|c| {
            let name = c.to_string();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            Capability::from_str(&name).ok()
        })
        .filter(|c| known.contains(c))
        .collect()
}

fn err(what: &str, e: caps::errors::CapsError) -> Error {
    Error::InvalidArgument(format!("set {what} capabilities: {e}"))
}

/// Drops every capability not in the bounding set (needs CAP_SETPCAP: done before the uid change).
pub fn drop_bounding(c: Option<&LinuxCapabilities>) -> Result<()> {
    let keep = convert(&c.and_then(|c| c.bounding().clone()));
    let current = caps::read(None, CapSet::Bounding).map_err(|e| err("bounding", e))?;
    for cap in current.difference(&keep) {
        caps::drop(None, CapSet::Bounding, *cap).map_err(|e| err("bounding", e))?;
    }
    Ok(())
}

/// Sets inheritable, effective, permitted and ambient sets (after the uid change, with keep-caps on).
pub fn apply(c: Option<&LinuxCapabilities>) -> Result<()> {
    let permitted_now = caps::read(None, CapSet::Permitted).map_err(|e| err("permitted", e))?;
    // A uid change cleared the effective set; raise it again so CAP_SETPCAP allows setting inheritable.
    caps::set(None, CapSet::Effective, &permitted_now).map_err(|e| err("effective", e))?;
    let get = |f: fn(&LinuxCapabilities) -> &Option<oci_spec::runtime::Capabilities>| {
        convert(&c.and_then(|c| f(c).clone()))
    };
    caps::set(None, CapSet::Inheritable, &get(|c| c.inheritable()))
        .map_err(|e| err("inheritable", e))?;
    let effective = get(|c| c.effective());
    let permitted = get(|c| c.permitted());
    caps::set(
        None,
        CapSet::Effective,
        &effective.intersection(&permitted_now).copied().collect(),
    )
    .map_err(|e| err("effective", e))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(|e| err("permitted", e))?;
    caps::set(None, CapSet::Effective, &effective).map_err(|e| err("effective", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient", e))?;
    // The kernel only allows ambient capabilities that are permitted and inheritable; like runc, the
    // others in the list are left out instead of failing the container.
    let inheritable = get(|c| c.inheritable());
    for cap in get(|c| c.ambient()) {
        if permitted.contains(&cap) && inheritable.contains(&cap) {
            caps::raise(None, CapSet::Ambient, cap).map_err(|e| err("ambient", e))?;
        }
    }
    Ok(())
}
