//! The CRI streaming server, driven by crictl (client-go's SPDY `remotecommand` and
//! `portforward` clients): exec with stdout, stderr and the exit code, exec with stdin, exec
//! with a tty (whose size reaches the process through the resize stream), and port-forward to a
//! server listening only on the pod's loopback. Attach is left to critest's attach spec:
//! crictl 1.31.1's `attach` fails before connecting ("get executor: unknown transport: ",
//! whatever `--transport` says).

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use berth_integration::berthd_env::{code, stderr, stdout, BerthdEnv};
use berth_integration::crictl::{cri_tool, write_config, Crictl};
use serde_json::json;

fn pod_config(env: &BerthdEnv, name: &str) -> serde_json::Value {
    json!({
        "metadata": { "name": name, "namespace": "cri-stream", "uid": format!("uid-{name}"), "attempt": 0 },
        "hostname": name,
        "log_directory": env.tmp().join("pods").join(name).display().to_string(),
        "linux": {}
    })
}

fn container_config(name: &str, script: &str, stdin: bool, tty: bool) -> serde_json::Value {
    json!({
        "metadata": { "name": name },
        "image": { "image": "busybox" },
        "command": ["sh", "-c", script],
        "log_path": format!("{name}.log"),
        "stdin": stdin,
        "stdin_once": stdin,
        "tty": tty,
        "linux": {}
    })
}

/// crictl with the test berthd's endpoint, for runs that need their own stdio.
fn crictl(env: &BerthdEnv) -> Command {
    let ep = format!("unix://{}", env.dirs.state.join("cri.sock").display());
    let mut c = Command::new(cri_tool("crictl"));
    c.args([
        "--runtime-endpoint",
        &ep,
        "--image-endpoint",
        &ep,
        "--timeout",
        "60s",
    ]);
    c
}

/// Runs `cmd` with `input` on its stdin, killed (by its own pid) if it outlives `bound`.
fn run_with_input(mut cmd: Command, input: &[u8], bound: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning crictl");
    let mut sin = child.stdin.take().unwrap();
    sin.write_all(input).unwrap();
    drop(sin);
    wait_bounded(child, bound)
}

fn wait_bounded(mut child: Child, bound: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > bound {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "crictl did not finish within {bound:?}\nstdout: {}\nstderr: {}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A pod with one running busybox container; returns (pod id, container id).
fn pod_with(env: &BerthdEnv, cri: &Crictl, name: &str, ctr: serde_json::Value) -> (String, String) {
    let dir = env.tmp().join(format!("cri-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let pod_json = write_config(&dir, "pod.json", &pod_config(env, name));
    let ctr_json = write_config(&dir, "ctr.json", &ctr);
    let pod = cri.ok(&["runp", &pod_json]).trim().to_string();
    let c = cri
        .ok(&["create", &pod, &ctr_json, &pod_json])
        .trim()
        .to_string();
    cri.ok(&["start", &c]);
    (pod, c)
}

#[test]
fn exec_reports_stdout_stderr_exit_code_stdin_and_a_sized_tty() {
    let env = BerthdEnv::start();
    let cri = Crictl::for_env(&env);
    cri.ok(&["pull", "busybox"]);
    let (pod, c) = pod_with(
        &env,
        &cri,
        "execpod",
        container_config("sleeper", "exec sleep 600", false, false),
    );

    // crictl 1.31 exits 1 on any failure; the code client-go decoded from the error stream's
    // status is in its message.
    let out = cri.run(&["exec", &c, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(stdout(&out), "out\n");
    assert!(stderr(&out).starts_with("err\n"), "{}", stderr(&out));
    assert_ne!(code(&out), 0);
    assert!(
        stderr(&out).contains("command terminated with exit code 3"),
        "{}",
        stderr(&out)
    );

    let ok = cri.run(&["exec", &c, "true"]);
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));

    // Stdin reaches the process and its end closes the process's stdin.
    let mut cmd = crictl(&env);
    cmd.args(["exec", "-i", &c, "sh", "-c", "tr a-z A-Z; echo done"]);
    let out = run_with_input(cmd, b"hello stdin\n", Duration::from_secs(60));
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "HELLO STDIN\ndone\n");

    // With -it (crictl wants a terminal for -t) on a pty of a known size: the process has a
    // terminal, and client-go sends the size on the resize stream.
    let ws = nix::pty::Winsize {
        ws_row: 33,
        ws_col: 97,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let mut cmd = crictl(&env);
    cmd.args([
        "exec",
        "-it",
        &c,
        "sh",
        "-c",
        "sleep 1; tty; stty size; exit 5",
    ]);
    let slave = std::fs::File::from(pty.slave);
    let child = cmd
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Every copy of the slave must be closed for the master's reads to end.
    drop(cmd);
    drop(slave);
    let out = wait_bounded(child, Duration::from_secs(60));
    assert!(stderr(&out).contains("exit code 5"), "{}", stderr(&out));
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The slave is closed: reads end with EIO once everything was read.
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.contains("/dev/pts/"), "tty in the exec: {seen:?}");
    assert!(
        seen.contains("33 97\r\n"),
        "stty size in the exec: {seen:?}"
    );

    // Bad requests get CRI's codes.
    let err = cri.fails(&["exec", "0123456789abcdef", "true"]);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );

    cri.ok(&["stop", "--timeout", "1", &c]);
    let err = cri.fails(&["exec", &c, "true"]);
    assert!(err.contains("not running"), "{err}");
    cri.ok(&["stopp", &pod]);
    cri.ok(&["rmp", &pod]);
}

/// A port free on 127.0.0.1 now (the listener is dropped at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child by its own pid when dropped.
struct Reaped(Child);

/// `crictl port-forward POD LOCAL:PORT` in the background, killed (by its pid) on drop.
fn port_forward(env: &BerthdEnv, pod: &str, local: u16, port: u16) -> Reaped {
    let child = crictl(env)
        .args(["port-forward", pod, &format!("{local}:{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Reaped(child)
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: pod\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn port_forward_reaches_a_server_on_the_pods_loopback() {
    let env = BerthdEnv::start();
    let cri = Crictl::for_env(&env);
    cri.ok(&["pull", "busybox"]);
    // Listening on the pod's 127.0.0.1 only: nothing but a connection made inside the pod's
    // network namespace reaches it.
    let (pod, c) = pod_with(
        &env,
        &cri,
        "pfpod",
        container_config(
            "web",
            "mkdir -p /tmp/w && echo forwarded-ok > /tmp/w/index.html && exec httpd -f -p 127.0.0.1:8081 -h /tmp/w",
            false,
            false,
        ),
    );
    let local = free_port();
    let _pf = port_forward(&env, &pod, local, 8081);
    let start = Instant::now();
    let body = loop {
        match http_get(local) {
            Ok(b) if !b.is_empty() => break b,
            r => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no answer through the port-forward: {r:?}"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert!(body.contains("forwarded-ok"), "{body}");
    // A second connection goes through the same session.
    let again = http_get(local).unwrap();
    assert!(again.contains("forwarded-ok"), "{again}");
    // A port nothing listens on: the connection is closed and the error is reported.
    drop(_pf);
    let closed = free_port();
    let _pf2 = port_forward(&env, &pod, closed, 9);
    let start = Instant::now();
    loop {
        match http_get(closed) {
            Ok(b) => {
                assert!(!b.contains("forwarded-ok"), "{b}");
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "crictl never listened"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(_) => break,
        }
    }
    cri.ok(&["stop", "--timeout", "1", &c]);
    cri.ok(&["stopp", &pod]);
    cri.ok(&["rmp", &pod]);
}
