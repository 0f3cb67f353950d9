//! The image commands of `berth` as users see them: quiet pull, the images table, inspect JSON,
//! removal by name and by ID (with content cleanup), and errors for unknown images.

use std::process::Output;

use berth_integration::daemon::Daemon;
use berth_integration::registry::TestRegistry;

fn ok(o: Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "failed: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn blob_count(d: &Daemon) -> usize {
    std::fs::read_dir(d.dirs.root.join("blobs/sha256"))
        .map(|r| r.count())
        .unwrap_or(0)
}

#[test]
fn images_inspect_tag_and_rmi() {
    let reg = TestRegistry::seeded();
    let d = Daemon::start_with_config(&format!(
        "[registries.\"docker.io\"]\nmirrors = [\"http://{0}\"]\n[registries.\"{0}\"]\nplain_http = true\n",
        reg.host
    ))
    .unwrap();

    // Quiet pull prints only the full name.
    let out = ok(d.berth(&["pull", "-q", "hello-world"]));
    assert_eq!(out, "docker.io/library/hello-world:latest\n");

    // Inspect gives the image ID, which `images -q` and the table abbreviate to 12 hex digits.
    let json: serde_json::Value =
        serde_json::from_str(&ok(d.berth(&["image", "inspect", "hello-world"]))).unwrap();
    let id = json[0]["Id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{json}");
    assert_eq!(json[0]["RepoTags"][0], "hello-world:latest");
    let short = &id[7..19];
    assert_eq!(ok(d.berth(&["images", "-q"])), format!("{short}\n"));

    ok(d.berth(&["tag", "hello-world", "example.test/team/hello:v1"]));
    let table = ok(d.berth(&["images"]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("REPOSITORY "), "{table}");
    assert!(
        lines[0].contains("IMAGE ID") && lines[0].ends_with("SIZE"),
        "{table}"
    );
    assert_eq!(lines.len(), 3, "{table}");
    for name in ["hello-world ", "example.test/team/hello "] {
        let row = lines
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(row.contains(short) && row.contains(" ago "), "{row}");
        assert!(row.ends_with("B"), "size with a unit: {row}");
    }
    let info = ok(d.berth(&["info"]));
    assert!(info.contains("Images: 2"), "{info}");

    // By ID with two names: refused without -f, and nothing is removed.
    let o = d.berth(&["rmi", short]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("must be forced"), "{err}");
    assert!(blob_count(&d) >= 3);

    // Removing one name keeps the content the other name uses.
    let out = ok(d.berth(&["rmi", "example.test/team/hello:v1"]));
    assert_eq!(out, "Untagged: example.test/team/hello:v1\n");
    assert!(blob_count(&d) >= 3);

    // The last name takes the blobs with it.
    ok(d.berth(&["tag", "hello-world", "again"]));
    let out = ok(d.berth(&["rmi", "-f", short]));
    assert!(out.contains("Untagged: hello-world:latest"), "{out}");
    assert!(out.contains("Untagged: again:latest"), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert_eq!(blob_count(&d), 0);
    assert_eq!(ok(d.berth(&["images", "-q"])), "");
}

#[test]
fn unknown_images_are_clear_errors() {
    let d = Daemon::start().unwrap();
    for args in [
        &["rmi", "nope"][..],
        &["image", "inspect", "nope"][..],
        &["tag", "nope", "other"][..],
    ] {
        let o = d.berth(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("Error response from daemon: No such image: nope"),
            "{args:?}: {err}"
        );
    }
    let o = d.berth(&["pull", "UPPER"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid reference format"));
}
