//! The layer unpacker (`berth_manager::unpack::apply_layer`) on hostile layers, in a sandbox
//! that turns any write outside the target into a crash (see `berth_fuzz::sandbox`).
//!
//! Input: one flag byte, then either a structured layer (bit 1 set: decoded with `arbitrary`
//! into entries with hostile paths, links, whiteouts and PAX records, see `berth_fuzz::layer`)
//! or the raw layer blob (bit 1 clear: a tar, or gzip when bits 2-3 are both set).
//! Bit 0 chooses overlay whiteouts (empty target and a lower dir) over delete whiteouts (a
//! pre-filled target).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use berth_fuzz::layer::Layer;
use berth_fuzz::sandbox::{self, Job};
use berth_manager::unpack::{sha256_digest, WhiteoutMode};
use libfuzzer_sys::fuzz_target;

const TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let whiteouts = if flags & 1 != 0 {
        WhiteoutMode::Overlay
    } else {
        WhiteoutMode::Delete
    };
    let (blob, media_type) = if flags & 2 != 0 {
        let u = Unstructured::new(rest);
        let Ok(layer) = Layer::arbitrary_take_rest(u) else {
            return;
        };
        (layer.to_tar(), TAR)
    } else if flags & 0b1100 == 0b1100 {
        (rest.to_vec(), GZIP)
    } else {
        (rest.to_vec(), TAR)
    };
    // The diffID of a tar is its digest: a successful apply then also checks the stats. For gzip
    // it is not known without decompressing, and the entries are applied before it is checked.
    let diff_id = if media_type == TAR {
        sha256_digest(&blob)
    } else {
        format!("sha256:{}", "0".repeat(64))
    };
    let len = blob.len() as u64;
    let r = sandbox::apply(Job {
        blob,
        media_type,
        diff_id: diff_id.clone(),
        whiteouts,
    });
    if let Ok(stats) = r {
        assert_eq!(stats.diff_id, diff_id);
        assert_eq!(stats.uncompressed_size, len, "the whole stream is hashed");
    }
});
