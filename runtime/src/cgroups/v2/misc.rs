//! Small controllers shared in shape by v1 and v2: `pids`, `hugetlb`, `rdma`.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxPids, LinuxRdma};

use super::super::{fs, CgroupError};

/// Applies `linux.resources.pids` (0 or below: no limit).
pub(crate) fn set_pids(dir: &Path, p: &LinuxPids) -> Result<(), CgroupError> {
    let v = if p.limit() > 0 {
        p.limit().to_string()
    } else {
        "max".to_string()
    };
    fs::write(dir, "pids.max", &v)
}

/// Validates a hugepage size as used in file names (`64KB`, `2MB`, `1GB`) and returns it.
pub fn page_size(s: &str) -> Result<&str, CgroupError> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && matches!(unit, "KB" | "MB" | "GB");
    if ok {
        Ok(s)
    } else {
        Err(CgroupError::Invalid(format!(
            "linux.resources.hugepageLimits pageSize {s:?} (want e.g. 2MB or 1GB)"
        )))
    }
}

/// Applies `linux.resources.hugepageLimits` through v2's `hugetlb.<size>.max`.
pub(crate) fn set_hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        let size = page_size(l.page_size())?;
        fs::write(dir, &format!("hugetlb.{size}.max"), &l.limit().to_string())?;
    }
    Ok(())
}

/// Applies `linux.resources.rdma` to `rdma.max` (same format in v1 and v2).
pub(crate) fn set_rdma(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    for (dev, l) in rdma {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(CgroupError::Invalid(format!(
                "linux.resources.rdma device {dev:?}"
            )));
        }
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        fs::write(dir, "rdma.max", &line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size("2MB").unwrap(), "2MB");
        assert_eq!(page_size("1GB").unwrap(), "1GB");
        assert!(page_size("2M").is_err());
        assert!(page_size("../x").is_err());
        assert!(page_size("MB").is_err());
    }
}
