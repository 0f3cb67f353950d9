//! `berth cp` to and from a container: paths resolved inside the container root, escapes
//! through `..` or symlinks refused (exit 125) and the container left as it was; a link named
//! last copied as a link unless `-L`; owners kept with `-a`.

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};

#[test]
fn cp_copies_inside_the_root_and_refuses_escapes() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    // A file only the host has; a link to its absolute path inside the container must not reach it.
    let host_secret = env.tmp().join("host-secret");
    std::fs::write(&host_secret, "HOST SECRET\n").unwrap();
    let script = format!(
        "mkdir -p /data/sub && echo hello > /data/file && echo deep > /data/sub/f && \
         ln -s ../../../../../../etc /data/up && ln -s {} /data/hostlink && ln -s /data/file /data/abs && \
         touch /data/ready && sleep 1000",
        host_secret.display()
    );
    env.ok(&["run", "-d", "--name", "cp-one", &img, "sh", "-c", &script]);
    env.eventually("the container prepared /data", || {
        code(&env.berth(&["cp", "cp-one:/data/ready", "-"])) == 0
    });

    let local = env.tmp().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let l = |p: &str| local.join(p).to_string_lossy().into_owned();

    // Out of the container: a file into a directory, a directory to a new name, an absolute
    // link followed inside the root, a tar on stdout.
    env.ok(&["cp", "cp-one:/data/file", &l("")]);
    assert_eq!(
        std::fs::read_to_string(local.join("file")).unwrap(),
        "hello\n"
    );
    env.ok(&["cp", "cp-one:/data", &l("copy")]);
    assert_eq!(
        std::fs::read_to_string(local.join("copy/sub/f")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_link(local.join("copy/up"))
            .unwrap()
            .to_string_lossy(),
        "../../../../../../etc"
    );
    // A link named last is copied as the link (Docker resolves only the parent); -L copies
    // what it names, under the link's name.
    env.ok(&["cp", "cp-one:/data/abs", &l("viaabs")]);
    assert_eq!(
        std::fs::read_link(local.join("viaabs")).unwrap(),
        std::path::Path::new("/data/file")
    );
    env.ok(&["cp", "-L", "cp-one:/data/abs", &l("viaabs-L")]);
    assert_eq!(
        std::fs::read_to_string(local.join("viaabs-L")).unwrap(),
        "hello\n"
    );
    let out = env.berth(&["cp", "cp-one:/data/file", "-"]);
    assert_eq!(code(&out), 0);
    assert!(out.stdout.windows(6).any(|w| w == b"hello\n"));

    // Into the container: a file to a new name, a directory into a directory; read back.
    std::fs::write(local.join("in.txt"), "from host\n").unwrap();
    env.ok(&["cp", &l("in.txt"), "cp-one:/data/renamed.txt"]);
    env.ok(&["cp", &l("copy/sub"), "cp-one:/data/"]);
    env.ok(&["cp", "cp-one:/data/renamed.txt", &l("back.txt")]);
    assert_eq!(
        std::fs::read_to_string(local.join("back.txt")).unwrap(),
        "from host\n"
    );
    let out = env.berth(&["cp", "cp-one:/data/sub/f", "-"]);
    assert_eq!(code(&out), 0);
    let in_container = |script: &str| env.ok(&["exec", "cp-one", "sh", "-c", script]);

    // Owners: root's without -a, the archive's with -a (setuid kept through the chown).
    let owned = local.join("owned");
    std::fs::write(&owned, "mine\n").unwrap();
    std::os::unix::fs::chown(&owned, Some(1234), Some(2345)).unwrap();
    std::fs::set_permissions(&owned, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    env.ok(&["cp", &l("owned"), "cp-one:/data/root-owned"]);
    env.ok(&["cp", "-a", &l("owned"), "cp-one:/data/kept"]);
    assert_eq!(
        in_container("stat -c '%u:%g' /data/root-owned; stat -c '%u:%g %a' /data/kept"),
        "0:0\n1234:2345 4755\n"
    );
    // A local link: copied as a link, or with -L as the file it names.
    std::os::unix::fs::symlink("in.txt", local.join("link.txt")).unwrap();
    env.ok(&["cp", &l("link.txt"), "cp-one:/data/asis"]);
    env.ok(&["cp", "-L", &l("link.txt"), "cp-one:/data/followed"]);
    assert_eq!(
        in_container("readlink /data/asis; cat /data/followed"),
        "in.txt\nfrom host\n"
    );

    // Escapes: one clear error, exit 125, nothing copied.
    for src in [
        "cp-one:/../../../etc/passwd",
        "cp-one:/data/up/passwd",
        "cp-one:/data/../../etc/hostname",
    ] {
        let out = env.berth(&["cp", src, &l("escaped")]);
        assert_eq!(code(&out), 125, "{src}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("escapes the container's root filesystem"),
            "{src}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!local.join("escaped").exists());
    }
    let marker = format!("berth-cp-escape-{}", std::process::id());
    let out = env.berth(&["cp", &l("in.txt"), &format!("cp-one:/data/up/{marker}")]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(!std::path::Path::new("/etc").join(&marker).exists());
    // A link to a host path: copied as a link (its target is only text), and with -L
    // resolved in the container, where nothing is there.
    env.ok(&["cp", "cp-one:/data/hostlink", &l("hostlink")]);
    assert_eq!(
        std::fs::read_link(local.join("hostlink")).unwrap(),
        host_secret
    );
    env.fails_with(
        &["cp", "-L", "cp-one:/data/hostlink", &l("secret")],
        1,
        "Could not find the file",
    );
    assert!(!local.join("secret").exists());
    // A missing path: Docker's message and exit 1.
    env.fails_with(
        &["cp", "cp-one:/nope", &l("nope")],
        1,
        "Could not find the file /nope in container cp-one",
    );

    // The container was left as it was.
    let st = env.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=cp-one"]);
    assert!(st.starts_with("Up"), "{st}");
    // A stopped container can still be copied from.
    env.ok(&["kill", "cp-one"]);
    env.eventually("container exits", || {
        env.ok(&["ps", "-q"]).trim().is_empty()
    });
    assert_eq!(
        stdout(&env.berth(&["cp", "-q", "cp-one:/data/file", &l("after")])),
        ""
    );
    assert_eq!(
        std::fs::read_to_string(local.join("after")).unwrap(),
        "hello\n"
    );
    env.ok(&["rm", "-f", "cp-one"]);
}

/// A running container's volumes and tmpfs mounts are reached as the container sees them (as
/// `docker cp` reaches volumes), with escapes out of the container's root still refused.
#[test]
fn cp_reaches_the_volumes_and_tmpfs_of_a_running_container() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let vol = env.tmp().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("from-host"), "host side\n").unwrap();
    let mount = format!("{}:/vol", vol.display());
    env.ok(&[
        "run",
        "-d",
        "--name",
        "cp-vol",
        "-v",
        &mount,
        "--tmpfs",
        "/scratch",
        &img,
        "sh",
        "-c",
        "echo in tmpfs > /scratch/t && ln -s ../etc/passwd /vol/up && touch /vol/ready \
         && sleep 1000",
    ]);
    env.eventually("the container prepared /vol", || vol.join("ready").exists());
    let local = env.tmp().join("local");
    std::fs::create_dir_all(&local).unwrap();
    let l = |p: &str| local.join(p).to_string_lossy().into_owned();

    // Out of the volume and the tmpfs, which the rootfs directory alone does not have.
    env.ok(&["cp", "cp-vol:/vol/from-host", &l("a")]);
    assert_eq!(
        std::fs::read_to_string(local.join("a")).unwrap(),
        "host side\n"
    );
    env.ok(&["cp", "cp-vol:/scratch/t", &l("t")]);
    assert_eq!(
        std::fs::read_to_string(local.join("t")).unwrap(),
        "in tmpfs\n"
    );
    // Into the volume: the file lands in the host directory behind it.
    std::fs::write(local.join("in"), "copied in\n").unwrap();
    env.ok(&["cp", &l("in"), "cp-vol:/vol/in"]);
    assert_eq!(
        std::fs::read_to_string(vol.join("in")).unwrap(),
        "copied in\n"
    );
    // A link in the volume resolves inside the container: its /etc/passwd, not the host's.
    env.ok(&["cp", "-L", "cp-vol:/vol/up", &l("up")]);
    let theirs = std::fs::read_to_string(local.join("up")).unwrap();
    assert_eq!(theirs, env.ok(&["exec", "cp-vol", "cat", "/etc/passwd"]));
    assert_ne!(theirs, std::fs::read_to_string("/etc/passwd").unwrap());
    // The container's kernel file systems are neither read nor written: a file of its /proc
    // is refused, and so is a copy into its /proc or /sys (nothing is made there).
    let out = env.berth(&["cp", "cp-vol:/proc/1/status", &l("status")]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kernel file system"),
        "{}",
        stderr(&out)
    );
    assert!(!local.join("status").exists());
    std::fs::create_dir_all(local.join("kdir/child")).unwrap();
    for dest in ["cp-vol:/proc/", "cp-vol:/sys/kernel/"] {
        let out = env.berth(&["cp", &l("kdir"), dest]);
        assert_eq!(code(&out), 125, "{dest}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("kernel file system"),
            "{dest}: {}",
            stderr(&out)
        );
    }
    // In a copy of the whole root, /proc is the empty directory `docker cp` shows; the volume's
    // files are there.
    let out = env.berth(&["cp", "cp-vol:/", "-"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut tar = tar::Archive::new(&out.stdout[..]);
    let names: Vec<String> = tar
        .entries()
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path().unwrap().to_string_lossy().into_owned();
            p.trim_start_matches("./").to_string()
        })
        .collect();
    assert!(
        names.iter().any(|n| n.trim_end_matches('/') == "proc"),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("proc/1")), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("vol/from-host")),
        "{names:?}"
    );
    let out = env.berth(&["cp", "cp-vol:/vol/../../../etc/passwd", &l("escaped")]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(!local.join("escaped").exists());
    env.ok(&["rm", "-f", "cp-vol"]);
}
