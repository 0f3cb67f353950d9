//! v2 `io`: weights (BFQ's io.bfq.weight or io.weight) and io.max throttling.

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use super::super::{fs, CgroupError};

/// Converts a v1 blkio weight (10..1000) to io.weight (1..10000) with runc's formula; 0 stays 0.
pub fn blkio_weight_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// Writes a weight (`prefix` is "default" or "maj:min"), to io.bfq.weight as is when BFQ is there.
fn weight(dir: &Path, prefix: &str, w: u16, field: &str) -> Result<(), CgroupError> {
    if fs::exists(dir, "io.bfq.weight") {
        let v = if prefix == "default" {
            w.to_string()
        } else {
            format!("{prefix} {w}")
        };
        fs::write(dir, "io.bfq.weight", &v)
    } else if fs::exists(dir, "io.weight") {
        fs::write(
            dir,
            "io.weight",
            &format!("{prefix} {}", blkio_weight_to_io_weight(w)),
        )
    } else {
        Err(CgroupError::Unsupported(format!(
            "{field}: neither io.bfq.weight nor io.weight exists in {}",
            dir.display()
        )))
    }
}

/// Applies `linux.resources.blockIO`.
pub(crate) fn set(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|d| d.leaf_weight().is_some())
    {
        return Err(CgroupError::Unsupported(
            "linux.resources.blockIO leafWeight on cgroup v2".into(),
        ));
    }
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        weight(dir, "default", w, "linux.resources.blockIO.weight")?;
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let dev = format!("{}:{}", d.major(), d.minor());
            weight(dir, &dev, w, "linux.resources.blockIO.weightDevice")?;
        }
    }
    let lists = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, devs) in lists {
        for d in devs.iter().flatten() {
            fs::write(
                dir,
                "io.max",
                &format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_converts_like_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }
}
