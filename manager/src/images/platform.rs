//! Platforms (`os/arch[/variant]`): the host's, `--platform` values, and which index entries
//! can run on a platform. The one platform table and matcher of berthd: pulls (registry), image
//! facts (images) and rootfs preparation (snapshots) all use it.

use serde::{Deserialize, Serialize};

/// A `--platform` value that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform \"{0}\": expected os/arch[/variant]")]
pub struct PlatformError(pub String);

/// An os/architecture[/variant] triple.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture in Go's names (`amd64`, `arm64`, `arm`).
    pub architecture: String,
    /// CPU variant (`v7`, `v8`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of the running host.
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]` (as given to `--platform`).
    pub fn parse(s: &str) -> Result<Self, PlatformError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_lowercase(),
                architecture: arch.to_lowercase(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: os.to_lowercase(),
                architecture: arch.to_lowercase(),
                variant: Some(variant.to_lowercase()),
            }),
            _ => Err(PlatformError(s.to_string())),
        }
    }

    /// The platform an image index entry (or image config) names.
    pub fn from_oci(p: &oci_spec::image::Platform) -> Self {
        Platform {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone(),
        }
    }

    /// The same platform as an OCI descriptor's `platform` field.
    pub fn to_oci(&self) -> oci_spec::image::Platform {
        let mut p = oci_spec::image::Platform::default();
        p.set_os(self.os.as_str().into());
        p.set_architecture(self.architecture.as_str().into());
        p.set_variant(self.variant.clone());
        p
    }

    /// Whether an index entry for `other` can run here; arm64's variant v8 is its default.
    pub fn accepts(&self, other: &Platform) -> bool {
        let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", Some("v8")) => None,
            (_, v) => v.map(str::to_string),
        };
        if self.os != other.os || self.architecture != other.architecture {
            return false;
        }
        match norm(self) {
            None => true,
            Some(v) => norm(other).is_none_or(|o| o == v),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The host's platform in OCI notation without variant ("linux/amd64").
pub fn host_platform() -> String {
    let host = Platform::host();
    format!("{}/{}", host.os, host.architecture)
}
