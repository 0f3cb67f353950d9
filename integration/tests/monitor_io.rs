//! Container output and input through the monitor: the log file (timestamps, partial lines,
//! tail, follow), attach with stdin, and a terminal container.

use berth_integration::task_env::{rss_kb, unique, TaskEnv};
use berth_manager::tasks::{AttachEvent, LogLine, LogOptions, LogStream, StdioOptions};

async fn collect(env: &TaskEnv, id: &str, opts: LogOptions) -> Vec<LogLine> {
    let mut rx = env.manager.logs(id, opts).await.unwrap();
    let mut out = Vec::new();
    while let Some(l) = rx.recv().await {
        out.push(l.unwrap());
    }
    out
}

#[tokio::test]
async fn logs_lines_partials_timestamps_tail() {
    let env = TaskEnv::new("logs");
    let id = unique("logs");
    let script = "echo out1; echo err1 >&2; echo out2; printf 'no-newline'";
    let bundle = env.bundle(&["sh", "-c", script], false);
    env.create_and_start(&id, &bundle).await;
    assert_eq!(env.manager.wait(&id).await.unwrap().code, Some(0));

    let all = collect(
        &env,
        &id,
        LogOptions {
            timestamps: true,
            ..Default::default()
        },
    )
    .await;
    let stdout: Vec<_> = all
        .iter()
        .filter(|l| l.stream == LogStream::Stdout)
        .collect();
    let stderr: Vec<_> = all
        .iter()
        .filter(|l| l.stream == LogStream::Stderr)
        .collect();
    let texts: Vec<_> = stdout
        .iter()
        .map(|l| (l.text.as_slice(), l.partial))
        .collect();
    assert_eq!(
        texts,
        vec![
            (&b"out1"[..], false),
            (&b"out2"[..], false),
            (&b"no-newline"[..], true)
        ]
    );
    assert_eq!(stderr.len(), 1);
    assert_eq!(stderr[0].text, b"err1");
    let restored: Vec<u8> = stdout.iter().flat_map(|l| l.bytes()).collect();
    assert_eq!(restored, b"out1\nout2\nno-newline");
    for l in &all {
        let t = l.time.as_deref().unwrap();
        assert!(t.ends_with('Z') && t.len() == 30, "timestamp {t}");
    }

    let tail = collect(
        &env,
        &id,
        LogOptions {
            tail: Some(1),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(tail.len(), 1);
    assert_eq!(tail[0].text, b"no-newline");
    assert!(tail[0].time.is_none());
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn follow_ends_when_task_exits() {
    let env = TaskEnv::new("follow");
    let id = unique("follow");
    let bundle = env.bundle(
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
        false,
    );
    env.create(&id, &bundle).await;
    let opts = LogOptions {
        follow: true,
        ..Default::default()
    };
    let mut rx = env.manager.logs(&id, opts).await.unwrap();
    env.manager.start(&id).await.unwrap();
    let mut got = Vec::new();
    while let Some(l) = rx.recv().await {
        got.push(String::from_utf8(l.unwrap().text).unwrap());
    }
    assert_eq!(got, vec!["line1", "line2", "line3"]);
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn attach_stdin_echo() {
    let env = TaskEnv::new("attach");
    let id = unique("attach");
    let bundle = env.bundle(
        &[
            "sh",
            "-c",
            "while read l; do echo got:$l; done; echo bye >&2",
        ],
        false,
    );
    let info = env
        .manager
        .create(
            &id,
            &bundle,
            StdioOptions {
                tty: false,
                stdin: true,
            },
        )
        .await
        .unwrap();
    let mut attach = env.manager.attach(&id).await.unwrap();
    env.manager.start(&id).await.unwrap();
    attach.input.write_stdin(b"hello\n").await.unwrap();
    attach.input.write_stdin(b"world\n").await.unwrap();
    let (rss, hwm) = rss_kb(info.monitor_pid);
    println!(
        "monitor {} with an attach client: VmRSS {rss} kB, VmHWM {hwm} kB",
        info.monitor_pid
    );
    attach.input.close_stdin().await.unwrap();
    let (mut out, mut err, mut exit) = (Vec::new(), Vec::new(), None);
    while let Some(ev) = attach.output.next().await.unwrap() {
        match ev {
            AttachEvent::Stdout(b) => out.extend(b),
            AttachEvent::Stderr(b) => err.extend(b),
            AttachEvent::Exit(s) => exit = Some(s),
        }
    }
    assert_eq!(String::from_utf8(out).unwrap(), "got:hello\ngot:world\n");
    assert_eq!(String::from_utf8(err).unwrap(), "bye\n");
    assert_eq!(exit.unwrap().code, Some(0));
    assert_eq!(env.manager.wait(&id).await.unwrap().code, Some(0));
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn terminal_container() {
    let env = TaskEnv::new("tty");
    let id = unique("tty");
    // The shell waits for a line so that the resize (sent first, frames are applied in
    // order) has happened before it asks for the size.
    let bundle = env.bundle(
        &["sh", "-c", "read go; stty size; tty; echo hi-from-tty"],
        true,
    );
    env.manager
        .create(
            &id,
            &bundle,
            StdioOptions {
                tty: true,
                stdin: true,
            },
        )
        .await
        .unwrap();
    let mut attach = env.manager.attach(&id).await.unwrap();
    env.manager.start(&id).await.unwrap();
    attach.input.resize(33, 101).await.unwrap();
    attach.input.write_stdin(b"go\n").await.unwrap();
    let mut out = Vec::new();
    let mut exit = None;
    while let Some(ev) = attach.output.next().await.unwrap() {
        match ev {
            AttachEvent::Stdout(b) => out.extend(b),
            AttachEvent::Stderr(b) => panic!("stderr on a terminal: {b:?}"),
            AttachEvent::Exit(s) => exit = Some(s),
        }
    }
    let text = String::from_utf8_lossy(&out);
    println!("terminal output: {text:?}");
    assert!(text.contains("33 101"), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("hi-from-tty\r\n"), "{text}");
    assert_eq!(exit.unwrap().code, Some(0));
    let mut rx = env.manager.logs(&id, LogOptions::default()).await.unwrap();
    let mut logged = Vec::new();
    while let Some(l) = rx.recv().await {
        logged.extend(l.unwrap().bytes());
    }
    assert!(String::from_utf8_lossy(&logged).contains("hi-from-tty"));
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn monitor_memory_after_heavy_output() {
    let env = TaskEnv::new("rss");
    let id = unique("rss");
    let script =
        "i=0; while [ $i -lt 20000 ]; do echo line $i with some padding text; i=$((i+1)); done; \
                  head -c 100000 /dev/zero | tr '\\0' x; echo; echo done; exec sleep 1000";
    let bundle = env.bundle(&["sh", "-c", script], false);
    let info = env.create(&id, &bundle).await;
    let (rss, hwm) = rss_kb(info.monitor_pid);
    println!(
        "monitor {} after create: VmRSS {rss} kB, VmHWM {hwm} kB",
        info.monitor_pid
    );
    let mut attach = env.manager.attach(&id).await.unwrap();
    env.manager.start(&id).await.unwrap();
    let mut seen = Vec::new();
    while !seen.ends_with(b"done\n") {
        match attach.output.next().await.unwrap() {
            Some(AttachEvent::Stdout(b)) => seen.extend(b),
            other => panic!("unexpected {other:?}"),
        }
    }
    let (rss, hwm) = rss_kb(info.monitor_pid);
    println!(
        "monitor {} after {} bytes of output: VmRSS {rss} kB, VmHWM {hwm} kB",
        info.monitor_pid,
        seen.len()
    );
    let mut rx = env
        .manager
        .logs(
            &id,
            LogOptions {
                tail: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let long = rx.recv().await.unwrap().unwrap();
    // 100000 bytes without a newline: cut into 16 KiB partial entries, then the full rest.
    assert!(!long.partial);
    assert_eq!(long.text.len(), 100_000 % berth_manager::monitor::MAX_LINE);
    assert_eq!(rx.recv().await.unwrap().unwrap().text, b"done");
    env.manager.kill(&id, 9, false).await.unwrap();
    assert_eq!(env.manager.wait(&id).await.unwrap().code, Some(137));
    env.manager.delete(&id, false).await.unwrap();
}

#[tokio::test]
async fn two_clients_see_the_same_output() {
    let env = TaskEnv::new("multi");
    let id = unique("multi");
    let bundle = env.bundle(&["sh", "-c", "read l; echo got:$l"], false);
    let stdio = StdioOptions {
        tty: false,
        stdin: true,
    };
    env.manager.create(&id, &bundle, stdio).await.unwrap();
    let mut a = env.manager.attach(&id).await.unwrap();
    let mut b = env.manager.attach(&id).await.unwrap();
    env.manager.start(&id).await.unwrap();
    b.input.write_stdin(b"from-b\n").await.unwrap();
    for client in [&mut a, &mut b] {
        let mut out = Vec::new();
        let mut code = None;
        while let Some(ev) = client.output.next().await.unwrap() {
            match ev {
                AttachEvent::Stdout(d) => out.extend(d),
                AttachEvent::Stderr(d) => panic!("stderr {d:?}"),
                AttachEvent::Exit(s) => code = s.code,
            }
        }
        assert_eq!(out, b"got:from-b\n");
        assert_eq!(code, Some(0));
    }
    env.manager.delete(&id, false).await.unwrap();
}
