//! `berth cp` to and from a container: paths resolved inside the container root, escapes
//! through `..` or symlinks refused (exit 125) and the container left as it was.

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
    env.ok(&["cp", "cp-one:/data/abs", &l("viaabs")]);
    assert_eq!(
        std::fs::read_to_string(local.join("viaabs")).unwrap(),
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
    // A link to a host path is resolved in the container, where nothing is there.
    let out = env.berth(&["cp", "cp-one:/data/hostlink", &l("secret")]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Could not find the file"),
        "{}",
        stderr(&out)
    );
    assert!(!local.join("secret").exists());
    // A missing path: Docker's message and exit 1.
    let out = env.berth(&["cp", "cp-one:/nope", &l("nope")]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("Could not find the file /nope in container cp-one"),
        "{}",
        stderr(&out)
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
