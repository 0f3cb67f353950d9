//! The bundle directory: `config.json`, the `rootfs` mount point, and `hostname`, `hosts` and
//! `resolv.conf` files that are bind-mounted over the container's /etc files (as Docker does,
//! so the image's own files are never modified).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::Spec;

use super::{defaults, generate, BundleError, RunOptions};
use crate::rootfs_fs::{DirMeta, FileError, RelPath, Root};

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BundleError + 'a {
    move |source| BundleError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `bundle_dir` and its empty `rootfs` mount point (mount the snapshot there);
/// returns the rootfs path.
pub fn create_bundle_dir(bundle_dir: &Path) -> Result<PathBuf, BundleError> {
    let rootfs = bundle_dir.join("rootfs");
    crate::private_dir::create_all(&rootfs).map_err(io("create", &rootfs))?;
    Ok(rootfs)
}

/// `/etc/hosts` for a container whose network namespace has only loopback.
pub fn hosts_file(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
    )
}

/// The host's resolv.conf without loopback nameservers (unreachable from the container's netns).
pub fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            if let Some(ip) = f.next() {
                if ip.starts_with("127.") || ip == "::1" {
                    continue;
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), BundleError> {
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io("create", &tmp))?;
    f.write_all(data).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("fsync", &tmp))?;
    fs::rename(&tmp, path).map_err(io("rename", path))
}

/// Makes sure `/etc/<name>` exists in the rootfs so it can be bind-mounted over (created inside
/// the container's own writable layer). A symlink there is left alone: berthd never follows
/// it, and the runtime resolves mount destinations inside the rootfs. Anything else that is not
/// a regular file (a FIFO, a device, a directory) makes the bundle fail.
fn ensure_mountpoint(root: &Root, name: &str) -> Result<(), BundleError> {
    let rel = RelPath::parse(Path::new("etc").join(name).as_path())
        .ok_or_else(|| BundleError::Spec(format!("bad file name {name}")))?;
    let etc = RelPath::parse(Path::new("etc")).ok_or_else(|| BundleError::Spec("etc".into()))?;
    let p = root.path().join("etc").join(name);
    root.mkdir_all(&etc, |_| DirMeta::default())
        .map_err(io("create", &p))?;
    match root.ensure_regular(&rel, 0o644) {
        Ok(()) => Ok(()),
        Err(FileError::Symlink { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the bundle in `bundle_dir` (its `rootfs` must already hold the mounted snapshot):
/// generates the spec, writes the /etc files and bind-mounts them, creates the working
/// directory in the rootfs if missing (as Docker does), and writes `config.json` atomically.
pub fn write_bundle(
    bundle_dir: &Path,
    image_config: &ImageConfiguration,
    opts: &RunOptions,
) -> Result<Spec, BundleError> {
    let rootfs = bundle_dir.join("rootfs");
    let mut spec = generate(image_config, &rootfs, opts)?;
    let hostname = spec.hostname().clone().unwrap_or_default();
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let files = [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts_file(&hostname)),
        ("resolv.conf", resolv_conf(&host_resolv)),
    ];
    let root = Root::open(&rootfs).map_err(io("open", &rootfs))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (name, content) in &files {
        let p = bundle_dir.join(name);
        write_atomic(&p, content.as_bytes())?;
        ensure_mountpoint(&root, name)?;
        mounts.push(defaults::bind(
            &p,
            &Path::new("/etc").join(name),
            opts.read_only,
        )?);
    }
    spec.set_mounts(Some(mounts));
    if let Some(cwd) = spec.process().as_ref().map(|p| p.cwd().clone()) {
        if let Some(rel) = RelPath::parse(&cwd) {
            root.mkdir_all(&rel, |_| DirMeta::default())
                .map_err(io("create working directory", &cwd))?;
        }
    }
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| BundleError::Spec(e.to_string()))?;
    write_atomic(&bundle_dir.join("config.json"), &json)?;
    Ok(spec)
}
