//! Manifests and indexes from a registry or the content store: the registry's parser and
//! platform selection (`berth_manager::images::oci`), the rootfs reader
//! (`images::rootfs::read_image`, which follows an index to the host's manifest and reads its
//! config), the image facts `berth images` shows (`images::manifest::resolve`), and `--platform`
//! values (`images::platform`).
//!
//! Input: up to three documents separated by NUL bytes (never valid inside JSON): the top
//! manifest or index, a config, and a second manifest. Each is stored under its own digest and
//! under an alias (`sha256:000…`, `sha256:111…`, `sha256:222…`) that documents can name, since
//! the fuzzer cannot compute digests.

#![no_main]

use std::cell::Cell;
use std::io::Read;
use std::path::PathBuf;
use std::sync::OnceLock;

use berth_manager::content::{ContentStore, Digest};
use berth_manager::images::manifest::resolve;
use berth_manager::images::oci::{
    detect_media_type, parse, select_platform, Document, ACCEPTED_MANIFESTS, DOCKER_MANIFEST,
    OCI_MANIFEST,
};
use berth_manager::images::platform::Platform;
use berth_manager::images::rootfs::{read_image, select_in_index, BlobSource};
use berth_manager::metadata::images::Descriptor;
use berth_manager::unpack::Compression;
use libfuzzer_sys::fuzz_target;

/// Blobs read per input by the rootfs reader: aliases let an index name itself through
/// another alias, a cycle real digests cannot make.
const MAX_OPENS: u32 = 16;

struct Env {
    store: ContentStore,
    rt: tokio::runtime::Runtime,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-fuzz-manifest-{}", std::process::id()));
        let store = ContentStore::open(&dir).unwrap_or_else(|e| {
            eprintln!(
                "manifest fuzz target: content store in {}: {e}",
                dir.display()
            );
            std::process::exit(2)
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| {
                eprintln!("manifest fuzz target: tokio runtime: {e}");
                std::process::exit(2)
            });
        Env { store, rt }
    })
}

fn alias(i: usize) -> Digest {
    let hex = char::from(b'0' + i as u8).to_string().repeat(64);
    Digest::parse(&format!("sha256:{hex}")).unwrap_or_else(|_| unreachable!())
}

/// The content store with the number of opens bounded (see [`MAX_OPENS`]).
struct Bounded<'a> {
    store: &'a ContentStore,
    opens: Cell<u32>,
}

impl BlobSource for Bounded<'_> {
    fn open_blob(&self, digest: &str) -> std::io::Result<Box<dyn Read + '_>> {
        self.opens.set(self.opens.get() + 1);
        if self.opens.get() > MAX_OPENS {
            return Err(std::io::Error::other("fuzz: too many blobs read"));
        }
        self.store.open_blob(digest)
    }
}

fn platforms() -> Vec<Platform> {
    let mut v = vec![Platform::host()];
    for p in [
        "linux/amd64",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm/v7",
        "linux/arm/v6",
        "windows/amd64",
    ] {
        v.extend(Platform::parse(p).ok());
    }
    v
}

/// The registry's view: detection, parsing under every media type, platform selection.
fn registry(body: &[u8]) {
    let detected = detect_media_type(None, body);
    for mt in detected
        .iter()
        .map(String::as_str)
        .chain(ACCEPTED_MANIFESTS)
    {
        match parse("fuzz", mt, body) {
            Ok(Document::Manifest(m)) => {
                for l in m.layers() {
                    let lt = l.media_type().to_string();
                    // What a pull accepts, the unpacker must be able to apply.
                    assert!(
                        Compression::from_media_type(&lt).is_ok(),
                        "layer media type {lt:?} is pulled but cannot be unpacked"
                    );
                }
            }
            Ok(Document::Index(index)) => {
                for wanted in platforms() {
                    if let Ok(d) = select_platform(&index, &wanted) {
                        let p = Platform::from_oci(
                            d.platform()
                                .as_ref()
                                .expect("a selected entry has a platform"),
                        );
                        assert!(wanted.accepts(&p), "{wanted} selected {p}");
                        assert!(index.manifests().iter().any(|e| std::ptr::eq(e, d)));
                    }
                }
                for e in index.manifests() {
                    let Some(p) = e.platform().as_ref().map(Platform::from_oci) else {
                        continue;
                    };
                    assert!(p.accepts(&p), "{p} does not accept itself");
                    if matches!(
                        e.media_type().to_string().as_str(),
                        OCI_MANIFEST | DOCKER_MANIFEST
                    ) {
                        // An entry for exactly the wanted platform always wins.
                        match select_platform(&index, &p) {
                            Ok(d) => assert_eq!(
                                d.platform().as_ref().map(Platform::from_oci).as_ref(),
                                Some(&p)
                            ),
                            Err(err) => panic!("{p} is listed but not selected: {err}"),
                        }
                    }
                }
            }
            Err(_) => {}
        }
    }
}

fn platform_syntax(s: &str) {
    if let Ok(p) = Platform::parse(s) {
        let again = Platform::parse(&p.to_string()).expect("a printed platform parses");
        assert_eq!(again, p);
        assert!(p.accepts(&p));
    }
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    let parts: Vec<&[u8]> = data.splitn(3, |&b| b == 0).collect();
    registry(parts[0]);
    if let Ok(s) = std::str::from_utf8(parts[0]) {
        platform_syntax(s);
    }

    let mut stored: Vec<PathBuf> = Vec::new();
    let mut digests = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let real = Digest::of(part);
        for d in [real.clone(), alias(i)] {
            let path = env.store.blob_path(&d);
            if std::fs::write(&path, part).is_err() {
                eprintln!("manifest fuzz target: cannot write {}", path.display());
                std::process::exit(2);
            }
            stored.push(path);
        }
        digests.push(real);
    }
    let top = &digests[0];

    let src = Bounded {
        store: &env.store,
        opens: Cell::new(0),
    };
    if let Ok(img) = read_image(&src, top.as_str()) {
        let n = img.manifest.layers().len();
        assert_eq!(img.chain_ids.len(), n);
        assert_eq!(img.config.rootfs().diff_ids().len(), n);
        if let Some(first) = img.config.rootfs().diff_ids().first() {
            assert_eq!(
                img.chain_ids.first(),
                Some(first),
                "the bottom chain ID is its diffID"
            );
        }
        assert_eq!(img.top(), img.chain_ids.last().map(String::as_str));
    }
    if let Ok((chosen, _size)) = select_in_index(parts[0], top.as_str()) {
        let index = oci_spec::image::ImageIndex::from_reader(parts[0]).expect("it was an index");
        let host = Platform::host();
        assert!(index
            .manifests()
            .iter()
            .any(|m| m.digest().to_string() == chosen
                && m.platform()
                    .as_ref()
                    .is_some_and(|p| host.accepts(&Platform::from_oci(p)))));
    }

    for media_type in [
        String::new(),
        "application/vnd.oci.image.index.v1+json".to_string(),
        OCI_MANIFEST.to_string(),
    ] {
        let target = Descriptor {
            media_type,
            digest: top.clone(),
            size: parts[0].len() as u64,
        };
        let facts = env.rt.block_on(resolve(&env.store, &target));
        if let Some(m) = &facts.manifest_digest {
            assert!(digests.contains(m) || (0..3).any(|i| &alias(i) == m), "{m}");
        }
    }
    for p in stored {
        let _ = std::fs::remove_file(p);
    }
});
