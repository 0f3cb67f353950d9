//! Layer media types and the decompressor each one needs.

use std::io::Read;

use super::UnpackError;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (possibly several members).
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// The compression a layer media type names (OCI and Docker schema 2, distributable or not).
    pub fn from_media_type(media_type: &str) -> Result<Compression, UnpackError> {
        let c = match media_type {
            "application/vnd.oci.image.layer.v1.tar"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar"
            | "application/vnd.docker.image.rootfs.diff.tar" => Compression::None,
            "application/vnd.oci.image.layer.v1.tar+gzip"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
            | "application/vnd.docker.image.rootfs.diff.tar.gzip"
            | "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => Compression::Gzip,
            "application/vnd.oci.image.layer.v1.tar+zstd"
            | "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => Compression::Zstd,
            other => return Err(UnpackError::UnsupportedMediaType(other.to_string())),
        };
        Ok(c)
    }

    /// Wraps `r` so that reading it yields the uncompressed tar stream.
    pub fn decoder<'a, R: Read + 'a>(self, r: R) -> Result<Box<dyn Read + 'a>, UnpackError> {
        Ok(match self {
            Compression::None => Box::new(r),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(r).map_err(UnpackError::Decompress)?)
            }
        })
    }
}
