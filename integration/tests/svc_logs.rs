//! Log rotation (`--log-opt max-size/max-file`, `[logs]` in config.toml): the monitor keeps at
//! most max-file files of about max-size each, `berth logs` reads across them in order (with
//! `--tail`, `--since`) and `logs -f` follows across rotations; the settings survive a berthd
//! restart and a container restart; bad options are refused before anything is created.

use berth_integration::berthd_env::{code, stderr, BerthdEnv, TestNet};
use berth_integration::daemon::Daemon;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

/// Lines the test containers print once told to: `line NNNN` and padding, paced in batches so
/// that a follower polling every 100 ms is never several files behind.
const LINES: usize = 600;
const SCRIPT: &str = "echo ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; i=0; \
    while [ $i -lt 600 ]; do printf 'line %04d padding-padding-padding-padding\\n' $i; \
    i=$((i+1)); [ $((i % 20)) -eq 0 ] && sleep 0.1; done; true";
/// max-size=4k in bytes (decimal, as Docker's units.FromHumanSize).
const MAX_SIZE: u64 = 4000;

/// `log` and its rotated files `<log>.N` that exist.
fn log_files(log: &Path) -> Vec<PathBuf> {
    let dir = log.parent().unwrap();
    let name = log.file_name().unwrap().to_str().unwrap().to_string();
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let f = p.file_name().unwrap().to_str().unwrap();
                    f == name
                        || f.strip_prefix(&format!("{name}."))
                            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Asserts at most `max_file` files, each bounded by max-size plus one entry.
#[track_caller]
fn assert_bounded(log: &Path, max_file: usize) {
    let files = log_files(log);
    assert!(
        !files.is_empty() && files.len() <= max_file,
        "{} files: {files:?}",
        files.len()
    );
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= MAX_SIZE + 200, "{} has {len} bytes", f.display());
    }
}

/// The numbers of the `line NNNN` lines of `text`, in order.
fn numbers(text: &str) -> Vec<usize> {
    text.lines()
        .filter_map(|l| l.strip_prefix("line "))
        .map(|l| l[..4].parse().unwrap())
        .collect()
}

/// Asserts `n` is a run of consecutive numbers ending at the last line.
#[track_caller]
fn assert_newest_in_order(n: &[usize]) {
    assert!(!n.is_empty(), "no lines");
    assert!(
        n.windows(2).all(|w| w[1] == w[0] + 1),
        "lines out of order, missing or repeated: {n:?}"
    );
    assert_eq!(*n.last().unwrap(), LINES - 1);
}

/// A `berth logs -f` child writing into a file; killed on drop if still running.
struct Follower {
    child: Child,
    out: PathBuf,
}

impl Follower {
    fn start(env: &BerthdEnv, name: &str, out: PathBuf) -> Follower {
        let file = std::fs::File::create(&out).unwrap();
        let child = env
            .daemon()
            .berth_command(&["logs", "-f", name])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Follower { child, out }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn run_printer(env: &BerthdEnv, img: &str, name: &str, opts: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--network", "none", "--name", name];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[img, "sh", "-c", SCRIPT]);
    env.ok(&args).trim().to_string()
}

#[test]
fn rotates_reads_in_order_and_follows_across_rotations() {
    let env = BerthdEnv::start();
    let img = env.busybox();

    // Bad options: one clear error, exit 125, nothing created.
    for (opt, words) in [
        (vec!["--log-opt", "max-size=abc"], "invalid size: 'abc'"),
        (
            vec!["--log-opt", "max-size=1k", "--log-opt", "max-file=0"],
            "max-file cannot be less than 1",
        ),
        (
            vec!["--log-opt", "foo=bar"],
            "unknown log opt 'foo' for json-file log driver",
        ),
    ] {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(&opt);
        args.extend_from_slice(&[&img, "true"]);
        let out = env.berth(&args);
        assert_eq!(code(&out), 125, "{opt:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(words), "{opt:?}: {}", stderr(&out));
        assert_eq!(
            stderr(&out).trim().lines().count(),
            1,
            "{opt:?}: {}",
            stderr(&out)
        );
    }
    assert!(env.all_ids().is_empty(), "a refused run left a container");

    let id = run_printer(
        &env,
        &img,
        "rot",
        &["--log-opt", "max-size=4k", "--log-opt", "max-file=3"],
    );
    let j = env.inspect("rot");
    assert_eq!(j["HostConfig"]["LogConfig"]["Config"]["max-size"], "4k");
    assert_eq!(j["HostConfig"]["LogConfig"]["Config"]["max-file"], "3");

    // Follow from before the first rotation.
    let live_log = env.task_dir(&id).join("container.log");
    let mut follower = Follower::start(&env, "rot", env.tmp().join("follow.out"));
    env.eventually("logs -f shows the first line", || {
        follower.text().contains("ready")
    });
    env.ok(&["exec", "rot", "touch", "/tmp/go"]);
    env.eventually("the printer exits", || {
        env.inspect("rot")["State"]["Status"] == "exited"
    });
    env.eventually("logs -f ends after the exit", || {
        follower.child.try_wait().ok().flatten().is_some()
    });
    let followed = follower.text();
    assert!(followed.starts_with("ready\n"), "{followed:.200}");
    let n = numbers(&followed);
    assert_eq!(
        n,
        (0..LINES).collect::<Vec<_>>(),
        "logs -f lost or repeated lines"
    );

    // At most 3 files, each about max-size; the older output is gone.
    assert_bounded(&live_log, 3);
    let all = env.ok(&["logs", "rot"]);
    let n = numbers(&all);
    assert_newest_in_order(&n);
    assert!(n[0] > 0, "nothing was rotated away: {} lines", n.len());
    assert!(!all.contains("ready"), "the first file was not dropped");

    // --tail counts across files; --since starts at a line's own time.
    let tail = env.ok(&["logs", "--tail", "5", "rot"]);
    assert_eq!(numbers(&tail), (LINES - 5..LINES).collect::<Vec<_>>());
    let stamped = env.ok(&["logs", "-t", "rot"]);
    let middle = stamped.lines().nth(stamped.lines().count() / 2).unwrap();
    let time = middle.split_once(' ').unwrap().0;
    // Lines read in one chunk share a time: --since starts at the first line of that time.
    let first = stamped
        .lines()
        .find(|l| l.starts_with(&format!("{time} ")))
        .unwrap();
    let text = first.split_once(' ').unwrap().1;
    let since = env.ok(&["logs", "--since", time, "rot"]);
    assert!(
        since.starts_with(text),
        "--since {time}: {:.80} (wanted {text})",
        since
    );
    assert_newest_in_order(&numbers(&since));

    // Restarting the container archives the rotated log, rotated the same way. /tmp/go is
    // still in its filesystem, so the second run prints everything at once.
    env.ok(&["start", "rot"]);
    env.eventually("the second run exits", || {
        env.inspect("rot")["State"]["Status"] == "exited"
    });
    let archive = PathBuf::from(env.inspect("rot")["LogPath"].as_str().unwrap());
    assert_bounded(&archive, 3);
    assert_bounded(&live_log, 3);
    let n = numbers(&env.ok(&["logs", "rot"]));
    let cut = n
        .windows(2)
        .position(|w| w[1] < w[0])
        .expect("two runs in the log");
    assert_newest_in_order(&n[..=cut]);
    assert_newest_in_order(&n[cut + 1..]);
    env.ok(&["rm", "-f", "rot"]);
    assert!(
        log_files(&archive).is_empty(),
        "rm left {:?}",
        log_files(&archive)
    );
}

#[test]
fn config_defaults_apply_and_survive_a_daemon_restart() {
    let mut env =
        BerthdEnv::start_custom("", "", "[logs]\nmax_size = \"4k\"\nmax_file = 2\n", |_| {});
    let img = env.busybox();
    let id = run_printer(&env, &img, "dflt", &[]);
    let j = env.inspect("dflt");
    assert_eq!(j["HostConfig"]["LogConfig"]["Config"]["max-size"], "4k");
    assert_eq!(j["HostConfig"]["LogConfig"]["Config"]["max-file"], "2");
    // --log-opt replaces the defaults.
    run_printer(&env, &img, "own", &["--log-opt", "max-size=10m"]);
    let j = env.inspect("own");
    assert_eq!(j["HostConfig"]["LogConfig"]["Config"]["max-size"], "10m");
    assert!(j["HostConfig"]["LogConfig"]["Config"]["max-file"].is_null());
    env.ok(&["rm", "-f", "own"]);

    env.eventually("the printer is waiting", || {
        env.ok(&["logs", "dflt"]).contains("ready")
    });
    // berthd goes away and comes back; the monitor keeps running with its settings.
    env.kill_daemon();
    env.restart_daemon();
    env.ok(&["exec", "dflt", "touch", "/tmp/go"]);
    env.eventually("the printer exits", || {
        env.inspect("dflt")["State"]["Status"] == "exited"
    });
    let live_log = env.task_dir(&id).join("container.log");
    assert_bounded(&live_log, 2);
    assert!(log_files(&live_log).len() == 2, "never rotated");
    assert_newest_in_order(&numbers(&env.ok(&["logs", "dflt"])));
    env.ok(&["rm", "-f", "dflt"]);
}

#[test]
fn a_bad_logs_section_stops_berthd() {
    // Its own bridge and subnet, although berthd must stop before the network is set up.
    let net = TestNet::pick("svc_logs_bad_config");
    for (logs, words) in [
        ("max_size = \"abc\"", "invalid size: 'abc'"),
        (
            "max_size = \"1m\"\nmax_file = 0",
            "max-file cannot be less than 1",
        ),
    ] {
        let config = format!(
            "[network]\nbridge = \"{}\"\nsubnet = \"{}0/24\"\n\n[logs]\n{logs}\n",
            net.bridge, net.prefix
        );
        let err = Daemon::start_with_config(&config).expect_err("berthd started");
        assert!(err.to_string().contains(words), "{logs}: {err}");
    }
}

/// The output of a detached exec is kept in its exec directory under the container's rotation:
/// a chatty `exec -d` cannot fill the disk (its log was unbounded).
#[test]
fn a_detached_exec_log_rotates_as_the_container_log() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    let id = env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "exlog",
        "--log-opt",
        "max-size=4k",
        "--log-opt",
        "max-file=2",
        &img,
        "sleep",
        "300",
    ]);
    let id = id.trim();
    // About 40 kB of output, ten times max-size.
    env.ok(&[
        "exec",
        "-d",
        "exlog",
        "sh",
        "-c",
        "i=0; while [ $i -lt 800 ]; do echo \"exec line $i padding-padding-padding\"; i=$((i+1)); done",
    ]);
    // berthd's task state: <state>/tasks/<id>/exec/<exec id>/.
    let exec_dir = env.task_dir(id).join("exec");
    let log = || -> Option<PathBuf> {
        let dir = std::fs::read_dir(&exec_dir).ok()?.flatten().next()?.path();
        dir.join("exit.json")
            .exists()
            .then(|| dir.join("container.log"))
    };
    env.eventually("the exec ended", || log().is_some());
    let log = log().unwrap();
    assert_bounded(&log, 2);
    assert_eq!(
        log_files(&log).len(),
        2,
        "never rotated: {:?}",
        log_files(&log)
    );
    env.ok(&["rm", "-f", "exlog"]);
}
