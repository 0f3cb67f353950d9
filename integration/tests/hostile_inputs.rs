//! Inputs built to hurt the daemon other than image layers: `berth load` of a FIFO, of layout
//! directories with FIFOs or symlinks out of them, of archives with `..` entries, links out of
//! the archive, absurd sizes, an oversized index.json and indexes nested without end. Each must
//! fail promptly with an error naming the problem and leave nothing: no image, no new blob, no
//! ingest file. A well-formed archive with a docker-save style relative symlink still loads.
//!
//! Also: an exec monitor (`berth-monitor --exec --wait-attach`) whose client never connects
//! gives up after `--attach-timeout`, never runs the process, and exits.

use berth_integration::berthd_env::{code, stderr, BerthdEnv as Env};
use berth_integration::host;
use berth_integration::oci_image::{host_arch, index_of_one};
use berth_integration::oci_layout::sha256;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Bound for one `berth` call: a hang (the bug) must fail the test, not block it forever.
const CALL_BOUND: Duration = Duration::from_secs(90);

/// `berth ARGS`, failing the test if it hangs past [`CALL_BOUND`].
fn berth_bounded(env: &Env, args: &[&str]) -> Output {
    env.berth_bounded(args, CALL_BOUND)
}

/// The files of a one-image OCI layout, path → contents, built so that tests can change any of
/// them (or the descriptors) before writing.
struct Layout {
    files: Vec<(String, Vec<u8>)>,
    layer: String,
    config: String,
    manifest: String,
}

fn blob_name(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

impl Layout {
    /// One image `name` of one small layer; `layer_size` overrides the layer descriptor's size.
    fn new(name: &str, layer_size: Option<u64>) -> Layout {
        let layer = {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = tar::Header::new_ustar();
            h.set_size(5);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, "hello", &b"hello"[..]).unwrap();
            b.into_inner().unwrap()
        };
        let layer_d = sha256(&layer);
        let config = serde_json::json!({
            "architecture": host_arch(), "os": "linux",
            "config": {"Cmd": ["true"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_d]},
        })
        .to_string()
        .into_bytes();
        let config_d = sha256(&config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_d, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_d, "size": layer_size.unwrap_or(layer.len() as u64)}],
        })
        .to_string()
        .into_bytes();
        let manifest_d = sha256(&manifest);
        let index = index_of_one(&manifest_d, manifest.len(), name)
            .to_string()
            .into_bytes();
        Layout {
            files: vec![
                (
                    "oci-layout".into(),
                    br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
                ),
                ("index.json".into(), index),
                (blob_name(&layer_d), layer),
                (blob_name(&config_d), config),
                (blob_name(&manifest_d), manifest),
            ],
            layer: layer_d,
            config: config_d,
            manifest: manifest_d,
        }
    }

    fn remove(&mut self, path: &str) -> Vec<u8> {
        let i = self.files.iter().position(|(p, _)| p == path).unwrap();
        self.files.remove(i).1
    }

    fn set(&mut self, path: &str, data: Vec<u8>) {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.to_string(), data));
    }

    /// Writes it as a directory.
    fn write_dir(&self, dir: &Path) {
        for (p, data) in &self.files {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, data).unwrap();
        }
    }

    /// Writes it as a tar archive, then `extra` raw entries (name bytes written as given).
    fn write_tar(&self, file: &Path, extra: &[RawEntry]) {
        let mut b = tar::Builder::new(std::fs::File::create(file).unwrap());
        for (p, data) in &self.files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, p, &data[..]).unwrap();
        }
        // Raw entries go before the end-of-archive blocks that `into_inner` writes.
        let f = b.get_mut();
        for e in extra {
            let mut h = tar::Header::new_old();
            h.as_old_mut().name[..e.name.len()].copy_from_slice(e.name.as_bytes());
            h.set_entry_type(e.kind);
            h.set_mode(0o644);
            h.set_size(e.size);
            if let Some(t) = &e.link {
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
            }
            h.set_cksum();
            f.write_all(h.as_bytes()).unwrap();
            if e.with_data {
                let padded = e.size.div_ceil(512) * 512;
                f.write_all(&vec![b'x'; padded as usize]).unwrap();
            }
        }
        b.into_inner().unwrap();
    }
}

/// A tar entry written header by header (paths the `tar` crate's builder refuses).
struct RawEntry {
    name: String,
    kind: tar::EntryType,
    size: u64,
    link: Option<String>,
    /// Write `size` bytes of data after the header (else the archive claims more than it has).
    with_data: bool,
}

/// Blob files in the daemon's content store.
fn blobs(env: &Env) -> BTreeSet<String> {
    host::file_names(&env.dirs.root.join("blobs/sha256"))
        .into_iter()
        .collect()
}

/// Files left in the content store's ingest dir.
fn ingest_left(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(env.dirs.root.join("ingest"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// `berth load -i PATH` must fail naming `what`, and leave no image, blob or ingest file.
fn assert_load_refused(env: &Env, path: &Path, name: &str, what: &str) {
    let before = blobs(env);
    let out = berth_bounded(env, &["load", "-q", "-i", path.to_str().unwrap()]);
    assert_ne!(code(&out), 0, "load of {} succeeded", path.display());
    assert!(
        stderr(&out).contains(what),
        "error should mention {what:?}: {}",
        stderr(&out)
    );
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(
        !images.contains(name.split(':').next().unwrap()),
        "an image record was left: {images}"
    );
    let after = blobs(env);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.is_empty(), "blobs left by a failed load: {new:?}");
    assert!(
        ingest_left(env).is_empty(),
        "ingest files left: {:?}",
        ingest_left(env)
    );
}

#[test]
fn load_refuses_fifos_and_links_out_of_a_layout_directory() {
    let env = Env::start();
    let tmp = env.tmp().to_path_buf();

    // The path itself is a FIFO: used to block berthd's reader forever.
    let fifo = tmp.join("load-input.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert_load_refused(&env, &fifo, "hostile-inputs.test/fifo", "FIFO");
    // A device is never opened for reading either.
    assert_load_refused(
        &env,
        Path::new("/dev/zero"),
        "hostile-inputs.test/dev",
        "character device",
    );

    // A layer blob that is a FIFO inside a layout directory: the same hang, one level down.
    let name = "hostile-inputs.test/blobfifo:latest";
    let mut l = Layout::new(name, None);
    let layer = blob_name(&l.layer.clone());
    l.remove(&layer);
    let dir = tmp.join("layout-blobfifo");
    l.write_dir(&dir);
    nix::unistd::mkfifo(
        &dir.join(&layer),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    assert_load_refused(&env, &dir, name, "FIFO");

    // index.json is a symlink to a file outside the layout (a host file berthd would read).
    let name = "hostile-inputs.test/indexlink:latest";
    let mut l = Layout::new(name, None);
    let index = l.remove("index.json");
    let outside = tmp.join("outside-index.json");
    std::fs::write(&outside, index).unwrap();
    let dir = tmp.join("layout-indexlink");
    l.write_dir(&dir);
    std::os::unix::fs::symlink(&outside, dir.join("index.json")).unwrap();
    assert_load_refused(&env, &dir, name, "symbolic link");

    // The same layout without tricks loads.
    let name = "hostile-inputs.test/plain-dir:latest";
    let dir = tmp.join("layout-plain");
    Layout::new(name, None).write_dir(&dir);
    env.ok(&["load", "-q", "-i", dir.to_str().unwrap()]);
    env.ok(&["rmi", name]);
}

#[test]
fn load_refuses_hostile_archives_and_leaves_nothing() {
    let env = Env::start();
    let tmp = env.tmp().to_path_buf();
    let archive = |n: &str| tmp.join(format!("{n}.tar"));

    // A `..` entry: the old extractor skipped it silently and loaded the rest.
    let escape = tmp.join("escaped-by-load");
    let name = "hostile-inputs.test/dotdot:latest";
    Layout::new(name, None).write_tar(
        &archive("dotdot"),
        &[RawEntry {
            name: "../escaped-by-load".into(),
            kind: tar::EntryType::Regular,
            size: 3,
            link: None,
            with_data: true,
        }],
    );
    assert_load_refused(&env, &archive("dotdot"), name, "leaves the archive");
    assert!(!escape.exists());

    // The config blob is a symlink to a host file with the right bytes: it used to be read.
    let name = "hostile-inputs.test/linkout:latest";
    let mut l = Layout::new(name, None);
    let config = blob_name(&l.config.clone());
    let bytes = l.remove(&config);
    let host_file = tmp.join("host-config.json");
    std::fs::write(&host_file, bytes).unwrap();
    l.write_tar(
        &archive("linkout"),
        &[RawEntry {
            name: config.clone(),
            kind: tar::EntryType::Symlink,
            size: 0,
            link: Some(host_file.display().to_string()),
            with_data: false,
        }],
    );
    assert_load_refused(&env, &archive("linkout"), name, "outside the archive");

    // An entry claiming a terabyte that the archive does not have.
    let name = "hostile-inputs.test/absurd:latest";
    Layout::new(name, None).write_tar(
        &archive("absurd"),
        &[RawEntry {
            name: "manifest.json".into(),
            kind: tar::EntryType::Regular,
            size: 1 << 40,
            link: None,
            with_data: false,
        }],
    );
    assert_load_refused(
        &env,
        &archive("absurd"),
        name,
        "past the end of the archive",
    );

    // A 5 MiB index.json (valid JSON: padded with spaces) is refused from its size.
    let name = "hostile-inputs.test/bigindex:latest";
    let mut l = Layout::new(name, None);
    let mut index = l.remove("index.json");
    index.extend(std::iter::repeat_n(b' ', 5 << 20));
    l.set("index.json", index);
    l.write_tar(&archive("bigindex"), &[]);
    assert_load_refused(&env, &archive("bigindex"), name, "bytes allowed");

    // A layer descriptor claiming 2^50 bytes.
    let name = "hostile-inputs.test/layersize:latest";
    Layout::new(name, Some(1 << 50)).write_tar(&archive("layersize"), &[]);
    assert_load_refused(&env, &archive("layersize"), name, "the descriptor says");

    // Indexes nested six deep, each pointing at the next.
    let name = "hostile-inputs.test/nested:latest";
    let mut l = Layout::new(name, None);
    let (mut top, mut top_size) = (l.manifest.clone(), {
        let m = blob_name(&l.manifest);
        l.files.iter().find(|(p, _)| *p == m).unwrap().1.len()
    });
    for _ in 0..6 {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                           "digest": top, "size": top_size}],
        })
        .to_string()
        .into_bytes();
        top = sha256(&index);
        top_size = index.len();
        l.set(&blob_name(&top), index);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                       "digest": top, "size": top_size,
                       "annotations": {"org.opencontainers.image.ref.name": name}}],
    });
    l.set("index.json", index.to_string().into_bytes());
    l.write_tar(&archive("nested"), &[]);
    assert_load_refused(&env, &archive("nested"), name, "nest more than");

    // A docker-save style archive: a relative symlink to a blob inside it is fine (never read).
    let name = "hostile-inputs.test/plain-tar:latest";
    let l = Layout::new(name, None);
    let layer = blob_name(&l.layer);
    l.write_tar(
        &archive("plain"),
        &[RawEntry {
            name: "0123abcd/layer.tar".into(),
            kind: tar::EntryType::Symlink,
            size: 0,
            link: Some(format!("../{layer}")),
            with_data: false,
        }],
    );
    env.ok(&["load", "-q", "-i", archive("plain").to_str().unwrap()]);
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(images.contains("hostile-inputs.test/plain-tar"), "{images}");
    env.ok(&["rmi", name]);
}

#[test]
fn exec_monitor_without_client_gives_up_and_never_runs_the_process() {
    berth_integration::require_root();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exec");
    std::fs::create_dir(&dir).unwrap();
    // A runtime that only records that it was asked to run something.
    let ran = tmp.path().join("runtime-ran");
    let runtime = tmp.path().join("fake-runtime");
    std::fs::write(
        &runtime,
        format!("#!/bin/sh\necho \"$@\" >> {}\nexit 1\n", ran.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let process = dir.join("process.json");
    std::fs::write(&process, r#"{"args":["true"],"cwd":"/"}"#).unwrap();
    let sync = tmp.path().join("sync");
    let monitor = berth_integration::task_env::monitor_binary();
    // fd 3 is the sync descriptor; the create timeout is long so that only the attach bound
    // can end the wait.
    let script = format!(
        "exec 3>>'{}'; exec '{}' --id hostile-exec --bundle '{}' --state-dir '{}' --runtime '{}' \
         --runtime-root '{}' --sync-fd 3 --create-timeout 3600 --exec '{}' --wait-attach \
         --attach-timeout 1",
        sync.display(),
        monitor.display(),
        tmp.path().display(),
        dir.display(),
        runtime.display(),
        tmp.path().join("rt-root").display(),
        process.display(),
    );
    let status = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(status.success(), "launcher: {status:?}");
    let text = std::fs::read_to_string(&sync).unwrap();
    let pid: i32 = text
        .lines()
        .find_map(|l| l.strip_prefix("monitor "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no monitor line: {text:?}"));
    // The detached monitor (its parent is gone) must end on its own.
    let start = Instant::now();
    while berth_integration::host::pid_alive(pid) {
        if start.elapsed() > CALL_BOUND {
            berth_integration::host::kill_pid(pid);
            panic!("the exec monitor {pid} still waits for a client");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&sync).unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("error ") && l.contains("no client connected within 1 s")),
        "{text:?}"
    );
    assert!(!ran.exists(), "the runtime was run without a client");
    assert!(!dir.join("attach.sock").exists(), "attach.sock left behind");
}
