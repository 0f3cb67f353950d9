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
    hosts_file_for(hostname, None, &[])
}

/// `/etc/hosts` as Docker writes it: the localhost lines, `extra` entries (`--add-host`, other
/// containers of the network) as `IP\tNAME`, then the container's own address with its hostname
/// (`127.0.1.1` when it has none but loopback).
pub fn hosts_file_for(hostname: &str, own_ip: Option<&str>, extra: &[(String, String)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    s.push_str(&format!("{}\t{hostname}\n", own_ip.unwrap_or("127.0.1.1")));
    s
}

/// Replaces the content of the bundle's `hosts` file in place (same inode), so a running
/// container, which has it bind-mounted, sees the change.
pub fn rewrite_hosts(bundle_dir: &Path, content: &str) -> Result<(), BundleError> {
    use std::os::unix::fs::OpenOptionsExt;
    let p = bundle_dir.join("hosts");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&p)
        .map_err(io("open", &p))?;
    f.write_all(content.as_bytes()).map_err(io("write", &p))
}

/// resolv.conf with `--dns` servers and `--dns-search` domains replacing the base file's
/// `nameserver` and `search` lines (a base without nameservers gets Docker's defaults).
pub fn resolv_conf_with(base: &str, dns: &[String], search: &[String]) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in base.lines() {
        let first = line.split_whitespace().next();
        if first == Some("nameserver") {
            if !dns.is_empty() {
                continue;
            }
            servers += 1;
        }
        if (first == Some("search") || first == Some("domain")) && !search.is_empty() {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    for d in dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    if dns.is_empty() && servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    out
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

/// Replaces a bundle file durably, readable by the container's users (`/etc/hosts` and the
/// others are bind-mounted into it).
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), BundleError> {
    crate::atomic_file::replace(path, data, mode, crate::atomic_file::Durability::Fsync)
        .map_err(io("write", path))
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
    let net = &opts.network;
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let (hosts, resolv) = if net.namespace == super::NetNamespace::Host {
        // The host's own files: its loopback resolvers are reachable from its namespace.
        let mut hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
        for (name, ip) in &net.extra_hosts {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        (
            hosts,
            resolv_conf_with(&host_resolv, &net.dns, &net.dns_search),
        )
    } else {
        (
            hosts_file_for(&hostname, None, &net.extra_hosts),
            resolv_conf_with(&resolv_conf(&host_resolv), &net.dns, &net.dns_search),
        )
    };
    let resolv = super::pod::with_dns_options(resolv, &opts.pod.dns_options);
    let files = [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ];
    let root = Root::open(&rootfs).map_err(io("open", &rootfs))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (name, content) in &files {
        let p = match &net.share_files_from {
            Some(other) => other.join(name),
            None => {
                let p = bundle_dir.join(name);
                write_atomic(&p, content.as_bytes(), 0o644)?;
                p
            }
        };
        ensure_mountpoint(&root, name)?;
        mounts.push(defaults::bind(
            &p,
            &Path::new("/etc").join(name),
            opts.read_only,
        )?);
    }
    if opts.init {
        // The bundle's own copy: removed with the container, never shared or replaced under a
        // running one.
        let bin = bundle_dir.join(super::init::INIT_FILE);
        write_atomic(&bin, super::init::INIT, 0o755)?;
        let rel = RelPath::parse(Path::new(super::init::INIT_PATH))
            .ok_or_else(|| BundleError::Spec("init path".into()))?;
        let sbin =
            RelPath::parse(Path::new("/sbin")).ok_or_else(|| BundleError::Spec("sbin".into()))?;
        root.mkdir_all(&sbin, |_| DirMeta::default())
            .map_err(io("create", &rootfs.join("sbin")))?;
        match root.ensure_regular(&rel, 0o755) {
            Ok(()) | Err(FileError::Symlink { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        mounts.push(defaults::bind(
            &bin,
            Path::new(super::init::INIT_PATH),
            true,
        )?);
        if let Some(p) = spec.process_mut() {
            let args = p.args().clone().unwrap_or_default();
            p.set_args(Some(super::init::wrap(&args)));
        }
    }
    spec.set_mounts(Some(mounts));
    if let Some(cwd) = spec.process().as_ref().map(|p| p.cwd().clone()) {
        if let Some(rel) = RelPath::parse(&cwd) {
            root.mkdir_all(&rel, |_| DirMeta::default())
                .map_err(io("create working directory", &cwd))?;
        }
    }
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| BundleError::Spec(e.to_string()))?;
    write_atomic(&bundle_dir.join("config.json"), &json, 0o644)?;
    Ok(spec)
}
