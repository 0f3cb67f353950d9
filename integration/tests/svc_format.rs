//! `--format` on ps, images, inspect; `--filter` on ps and images; `ps -n/-l/-s`;
//! `berth completion`.

use berth_integration::berthd_env::{code, BerthdEnv};

#[test]
fn formats_and_filters_as_docker() {
    let env = BerthdEnv::start();
    let img = env.busybox();
    env.ok(&["run", "--name", "fmt-ok", "-l", "tier=batch", &img, "true"]);
    env.ok(&[
        "run", "-d", "--name", "fmt-up", "-l", "tier=web", &img, "sleep", "1000",
    ]);
    let out = env.berth(&["run", "--name", "fmt-three", &img, "sh", "-c", "exit 3"]);
    assert_eq!(code(&out), 3);

    // Templates and json.
    let names = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(names, "fmt-three\nfmt-up\nfmt-ok\n");
    let st = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    assert!(
        st.lines()
            .any(|l| l.starts_with("fmt-three exited Exited (3)")),
        "{st}"
    );
    assert!(
        st.lines().any(|l| l.starts_with("fmt-up running Up")),
        "{st}"
    );
    let json = env.ok(&["ps", "--format", "json"]);
    let row: serde_json::Value =
        serde_json::from_str(json.trim()).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(row["Names"], "fmt-up");
    assert_eq!(row["Labels"], "tier=web");
    assert_eq!(row["ID"].as_str().unwrap().len(), 12);
    let table = env.ok(&["ps", "--format", "table {{.ID}}\\t{{.Names}}"]);
    let mut lines = table.lines();
    assert!(
        lines.next().unwrap().starts_with("CONTAINER ID   NAMES"),
        "{table}"
    );
    assert!(lines.next().unwrap().ends_with("   fmt-up"), "{table}");

    // Filters (same key OR, different keys AND; status/exited look at every container).
    let f = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        env.ok(&a)
    };
    assert_eq!(f(&["--filter", "status=exited"]), "fmt-three\nfmt-ok\n");
    assert_eq!(f(&["--filter", "exited=3"]), "fmt-three\n");
    assert_eq!(f(&["--filter", "exited=0"]), "fmt-ok\n");
    assert_eq!(f(&["-a", "--filter", "label=tier=web"]), "fmt-up\n");
    assert_eq!(f(&["-a", "--filter", "label=tier"]), "fmt-up\nfmt-ok\n");
    assert_eq!(f(&["-a", "--filter", "name=fmt-o"]), "fmt-ok\n");
    assert_eq!(
        f(&["-a", "--filter", "name=fmt-ok", "--filter", "name=fmt-up"]),
        "fmt-up\nfmt-ok\n"
    );
    assert_eq!(
        f(&["-a", "--filter", "name=fmt", "--filter", "status=running"]),
        "fmt-up\n"
    );
    assert_eq!(
        f(&["-a", "--filter", &format!("ancestor={img}")])
            .lines()
            .count(),
        3
    );
    assert_eq!(f(&["-a", "--filter", "ancestor=nosuchimage"]), "");
    env.fails_with(&["ps", "--filter", "bogus=1"], 1, "invalid filter 'bogus'");

    // -n, -l, -s.
    assert_eq!(f(&["-n", "2"]), "fmt-three\nfmt-up\n");
    assert_eq!(f(&["-l"]), "fmt-three\n");
    let sized = env.ok(&["ps", "-a", "-s"]);
    assert!(sized.lines().next().unwrap().ends_with("SIZE"), "{sized}");
    assert_eq!(sized.lines().count(), 4, "{sized}");

    // inspect --format.
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.State.ExitCode}}", "fmt-three"]),
        "3\n"
    );
    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{.Name}} {{.State.Running}}",
            "fmt-up",
            "fmt-ok"
        ]),
        "fmt-up true\nfmt-ok false\n"
    );
    let state = env.ok(&["inspect", "-f", "{{json .State}}", "fmt-three"]);
    let state: serde_json::Value = serde_json::from_str(state.trim()).unwrap();
    assert_eq!(state["ExitCode"], 3);
    env.fails_with(
        &["inspect", "-f", "{{.Nope}}", "fmt-ok"],
        1,
        "can't evaluate field Nope",
    );

    // images --format / --filter.
    let repo = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(repo.trim(), img, "{repo}");
    assert_eq!(
        env.ok(&["images", "--filter", "dangling=true", "--format", "{{.ID}}"]),
        ""
    );
    let by_ref = env.ok(&[
        "images",
        "--filter",
        "reference=*busybox*",
        "--format",
        "json",
    ]);
    let image: serde_json::Value = serde_json::from_str(by_ref.trim()).unwrap();
    assert_eq!(image["Tag"], "latest");
    assert_eq!(
        env.ok(&["images", "--filter", "reference=alpine", "-q"]),
        ""
    );

    // Completion scripts know the commands.
    for shell in ["bash", "zsh", "fish"] {
        let script = env.ok(&["completion", shell]);
        assert!(
            script.contains("stats") && script.contains("format"),
            "{shell}"
        );
    }
    env.ok(&["rm", "-f", "fmt-up"]);
}
