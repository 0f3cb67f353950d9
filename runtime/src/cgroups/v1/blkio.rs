//! v1 `blkio`: proportional weight (CFQ/BFQ) and throttling.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::super::{fs, CgroupError};

/// The weight file this kernel offers: `blkio.weight` (CFQ) or `blkio.bfq.weight` (BFQ on blk-mq kernels).
fn weight_file(dir: &Path, base: &str, field: &str) -> Result<String, CgroupError> {
    let bfq = base.replacen("blkio.", "blkio.bfq.", 1);
    if fs::exists(dir, base) {
        Ok(base.to_string())
    } else if fs::exists(dir, &bfq) {
        Ok(bfq)
    } else {
        Err(CgroupError::Unsupported(format!(
            "{field}: neither {base} nor {bfq} exists in {} (no proportional-weight I/O scheduler)",
            dir.display()
        )))
    }
}

fn throttle(
    dir: &Path,
    file: &str,
    devs: &Option<Vec<LinuxThrottleDevice>>,
) -> Result<(), CgroupError> {
    for d in devs.iter().flatten() {
        fs::write(
            dir,
            file,
            &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
        )?;
    }
    Ok(())
}

/// Applies `linux.resources.blockIO`.
pub(crate) fn set(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if let Some(w) = b.weight() {
        let f = weight_file(dir, "blkio.weight", "linux.resources.blockIO.weight")?;
        fs::write(dir, &f, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight() {
        let f = weight_file(
            dir,
            "blkio.leaf_weight",
            "linux.resources.blockIO.leafWeight",
        )?;
        fs::write(dir, &f, &w.to_string())?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let f = weight_file(
                dir,
                "blkio.weight_device",
                "linux.resources.blockIO.weightDevice",
            )?;
            fs::write(dir, &f, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
        if let Some(w) = d.leaf_weight() {
            let f = weight_file(
                dir,
                "blkio.leaf_weight_device",
                "linux.resources.blockIO.weightDevice.leafWeight",
            )?;
            fs::write(dir, &f, &format!("{}:{} {w}", d.major(), d.minor()))?;
        }
    }
    throttle(
        dir,
        "blkio.throttle.read_bps_device",
        b.throttle_read_bps_device(),
    )?;
    throttle(
        dir,
        "blkio.throttle.write_bps_device",
        b.throttle_write_bps_device(),
    )?;
    throttle(
        dir,
        "blkio.throttle.read_iops_device",
        b.throttle_read_iops_device(),
    )?;
    throttle(
        dir,
        "blkio.throttle.write_iops_device",
        b.throttle_write_iops_device(),
    )?;
    Ok(())
}
