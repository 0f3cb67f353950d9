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

/// Writes `value` into the weight file `base` or its BFQ twin (see [`weight_file`]).
fn write_weight(dir: &Path, base: &str, field: &str, value: &str) -> Result<(), CgroupError> {
    let f = weight_file(dir, base, field)?;
    fs::write(dir, &f, value)
}

/// Applies `linux.resources.blockIO`.
pub(crate) fn set(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    if let Some(w) = b.weight() {
        write_weight(
            dir,
            "blkio.weight",
            "linux.resources.blockIO.weight",
            &w.to_string(),
        )?;
    }
    if let Some(w) = b.leaf_weight() {
        write_weight(
            dir,
            "blkio.leaf_weight",
            "linux.resources.blockIO.leafWeight",
            &w.to_string(),
        )?;
    }
    for d in b.weight_device().iter().flatten() {
        let line = |w: u16| format!("{}:{} {w}", d.major(), d.minor());
        if let Some(w) = d.weight() {
            write_weight(
                dir,
                "blkio.weight_device",
                "linux.resources.blockIO.weightDevice",
                &line(w),
            )?;
        }
        if let Some(w) = d.leaf_weight() {
            write_weight(
                dir,
                "blkio.leaf_weight_device",
                "linux.resources.blockIO.weightDevice.leafWeight",
                &line(w),
            )?;
        }
    }
    let lists = [
        ("read_bps_device", b.throttle_read_bps_device()),
        ("write_bps_device", b.throttle_write_bps_device()),
        ("read_iops_device", b.throttle_read_iops_device()),
        ("write_iops_device", b.throttle_write_iops_device()),
    ];
    for (name, devs) in lists {
        throttle(dir, &format!("blkio.throttle.{name}"), devs)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
    };

    #[test]
    fn weights_go_to_the_bfq_files_and_throttles_to_their_own() {
        let dir = std::env::temp_dir().join(format!("berth-blkio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = [
            "blkio.bfq.weight",
            "blkio.bfq.weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ];
        for f in files {
            std::fs::write(dir.as_path().join(f), "").unwrap();
        }
        let throttle = |rate: u64| {
            vec![LinuxThrottleDeviceBuilder::default()
                .major(8)
                .minor(0)
                .rate(rate)
                .build()
                .unwrap()]
        };
        let b = LinuxBlockIoBuilder::default()
            .weight(300u16)
            .weight_device(vec![LinuxWeightDeviceBuilder::default()
                .major(8)
                .minor(16)
                .weight(200u16)
                .build()
                .unwrap()])
            .throttle_read_bps_device(throttle(1))
            .throttle_write_bps_device(throttle(2))
            .throttle_read_iops_device(throttle(3))
            .throttle_write_iops_device(throttle(4))
            .build()
            .unwrap();
        set(dir.as_path(), &b).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.as_path().join(f)).unwrap();
        assert_eq!(read("blkio.bfq.weight"), "300");
        assert_eq!(read("blkio.bfq.weight_device"), "8:16 200");
        assert_eq!(read("blkio.throttle.read_bps_device"), "8:0 1");
        assert_eq!(read("blkio.throttle.write_bps_device"), "8:0 2");
        assert_eq!(read("blkio.throttle.read_iops_device"), "8:0 3");
        assert_eq!(read("blkio.throttle.write_iops_device"), "8:0 4");
        let leaf = LinuxBlockIoBuilder::default()
            .leaf_weight(10u16)
            .build()
            .unwrap();
        assert!(matches!(
            set(dir.as_path(), &leaf),
            Err(CgroupError::Unsupported(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
