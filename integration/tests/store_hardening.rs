//! The image store under hostile images and a failing disk (issue 8, items 4–6): gzip bombs
//! stop at the configured limits, a full disk during unpack leaves nothing and does not wedge
//! berthd, and layer snapshots and blobs are garbage-collected.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};

use berth_integration::host;
use berth_integration::oci_layout::{gzip_layer, tar_of, write_image};
use berth_integration::registry::TestRegistry;
use std::path::{Path, PathBuf};

/// Layer snapshot directories (one per snapshot) under the daemon's root.
fn snapshot_dirs(env: &BerthdEnv) -> Vec<String> {
    host::file_names(&env.dirs.root.join("snapshots/overlay/snapshots"))
}

/// Blob files in the content store.
fn blob_files(env: &BerthdEnv) -> Vec<String> {
    host::file_names(&env.dirs.root.join("blobs/sha256"))
}

/// A layout dir in the test's temp dir.
fn layout_dir(env: &BerthdEnv, name: &str) -> PathBuf {
    let p = env.tmp().join(format!("layout-{name}"));
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// The `Layer snapshots` row of `system df`: (total, active).
fn df_snapshots(env: &BerthdEnv) -> (u64, u64) {
    let df = env.ok(&["system", "df"]);
    let row = df
        .lines()
        .find(|l| l.starts_with("Layer snapshots"))
        .unwrap_or_else(|| panic!("no Layer snapshots row in:\n{df}"));
    let nums: Vec<u64> = row["Layer snapshots".len()..]
        .split_whitespace()
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

fn busybox_layout() -> PathBuf {
    TestRegistry::layout("busybox")
}

/// Number of layers of the seeded busybox image.
fn busybox_layers() -> usize {
    let dir = busybox_layout();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let m = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("blobs/sha256").join(&m["sha256:".len()..])).unwrap(),
    )
    .unwrap();
    manifest["layers"].as_array().unwrap().len()
}

#[test]
fn gzip_bomb_layer_fails_cleanly_naming_the_layer() {
    let env = BerthdEnv::start();
    // 64 MiB of zeros: about 64 KiB gzipped, a ratio near 1000 (the default limit is 200).
    let bomb = gzip_layer(&tar_of(&[("zeros", &vec![0u8; 64 * 1024 * 1024])]));
    let bomb_digest = berth_integration::oci_layout::sha256(&bomb.blob);
    let dir = layout_dir(&env, "bomb");
    write_image(&dir, "docker.io/library/bomb:latest", None, &[bomb]);
    env.ok(&["load", "-i", dir.to_str().unwrap()]);
    let out = env.berth(&["create", "--name", "bomb", "bomb", "/bin/true"]);
    assert_ne!(code(&out), 0, "the bomb was unpacked: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains(&bomb_digest), "names the layer: {err}");
    assert!(err.contains("max_layer_ratio"), "says which limit: {err}");
    // Nothing partial: no snapshot, no container.
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "");
    // The image can go, and everything with it.
    env.ok(&["rmi", "bomb"]);
    assert!(blob_files(&env).is_empty(), "{:?}", blob_files(&env));
}

#[test]
fn max_layer_size_from_config_is_honoured() {
    let env = BerthdEnv::start_custom("", "", "\n[unpack]\nmax_layer_size = 1048576\n", |_| {});
    let big = gzip_layer(&tar_of(&[("big", &vec![1u8; 2 * 1024 * 1024])]));
    let big_digest = berth_integration::oci_layout::sha256(&big.blob);
    let dir = layout_dir(&env, "big");
    write_image(&dir, "docker.io/library/big:latest", None, &[big]);
    env.ok(&["load", "-i", dir.to_str().unwrap()]);
    let out = env.berth(&["create", "big", "/bin/true"]);
    assert_ne!(code(&out), 0);
    let err = stderr(&out);
    assert!(
        err.contains(&big_digest) && err.contains("1048576"),
        "{err}"
    );
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
}

/// Mounts a tmpfs of `size` on the daemon root before berthd starts (undone by BerthdEnv's drop).
fn tmpfs_root(size: &'static str) -> impl FnOnce(&berth_integration::daemon::DaemonDirs) {
    move |dirs| {
        std::fs::create_dir_all(&dirs.root).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &dirs.root,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={size},mode=0711").as_str()),
        )
        .unwrap();
    }
}

#[test]
fn full_disk_during_unpack_does_not_wedge_the_store() {
    // Ratio check off, so the layer reaches the disk limit rather than the bomb limit.
    let env = BerthdEnv::start_custom(
        "",
        "",
        "\n[unpack]\nmax_layer_ratio = 0\n",
        tmpfs_root("24m"),
    );
    let big = gzip_layer(&tar_of(&[("fill", &vec![0u8; 48 * 1024 * 1024])]));
    let dir = layout_dir(&env, "full");
    write_image(&dir, "docker.io/library/full:latest", None, &[big]);
    env.ok(&["load", "-i", dir.to_str().unwrap()]);
    env.fails_saying(
        &["create", "--name", "full", "full", "/bin/true"],
        "no space left",
    );
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
    // Without a restart: the image goes, another one comes and runs, and goes too.
    env.ok(&["rmi", "full"]);
    env.ok(&["images"]);
    let busybox = env.busybox();
    let out = env.ok(&["run", "--rm", &busybox, "echo", "still works"]);
    assert_eq!(out.trim(), "still works");
    env.ok(&["rmi", &busybox]);
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
    assert!(blob_files(&env).is_empty(), "{:?}", blob_files(&env));
}

/// Loads two images that share busybox's layer, each with a layer of its own.
fn load_pair(env: &BerthdEnv) {
    let dir = layout_dir(env, "pair");
    let base: &Path = &busybox_layout();
    write_image(
        &dir,
        "docker.io/library/one:latest",
        Some(base),
        &[gzip_layer(&tar_of(&[("one", b"1")]))],
    );
    write_image(
        &dir,
        "docker.io/library/two:latest",
        Some(base),
        &[gzip_layer(&tar_of(&[("two", b"2")]))],
    );
    env.ok(&["load", "-i", dir.to_str().unwrap()]);
}

#[test]
fn rmi_collects_unshared_layers_and_the_last_rmi_everything() {
    let env = BerthdEnv::start();
    load_pair(&env);
    // Unpack both (a container each, removed again).
    for img in ["one", "two"] {
        let out = env.ok(&["run", "--rm", img, "cat", &format!("/{img}")]);
        assert_eq!(out.trim(), if img == "one" { "1" } else { "2" });
    }
    let base = busybox_layers();
    assert_eq!(snapshot_dirs(&env).len(), base + 2, "busybox's + one + two");
    assert_eq!(df_snapshots(&env), (base as u64 + 2, base as u64 + 2));
    env.ok(&["rmi", "one"]);
    assert_eq!(
        snapshot_dirs(&env).len(),
        base + 1,
        "the shared layers stay: {:?}",
        snapshot_dirs(&env)
    );
    assert_eq!(df_snapshots(&env), (base as u64 + 1, base as u64 + 1));
    env.ok(&["rmi", "two"]);
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
    assert!(blob_files(&env).is_empty(), "{:?}", blob_files(&env));
    assert_eq!(df_snapshots(&env), (0, 0));
}

#[test]
fn system_prune_collects_layers_a_removed_container_kept() {
    let env = BerthdEnv::start();
    load_pair(&env);
    let id = env.ok(&["create", "one", "true"]).trim().to_string();
    // Forced removal of an image a stopped container uses: its layers stay for the container.
    env.ok(&["rmi", "-f", "one"]);
    env.ok(&["rmi", "two"]);
    let base = busybox_layers();
    assert_eq!(
        snapshot_dirs(&env).len(),
        base + 2,
        "busybox's + one + the container's"
    );
    env.ok(&["rm", &id]);
    let (total, active) = df_snapshots(&env);
    assert_eq!(
        (total, active),
        (base as u64 + 1, 0),
        "unreferenced layers are reclaimable"
    );
    let out = env.ok(&["system", "prune", "-a", "-f"]);
    assert!(out.contains("deleted snapshot"), "{out}");
    assert!(snapshot_dirs(&env).is_empty(), "{:?}", snapshot_dirs(&env));
    assert!(blob_files(&env).is_empty(), "{:?}", blob_files(&env));
}
