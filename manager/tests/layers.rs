//! The import rule of berth-manager's modules (docs/architecture.md): every top-level module has
//! a layer, and a module may name (`crate::<module>`) only modules of a lower layer. Same-layer
//! and upward imports fail here, so the module graph stays a one-way stack without cycles.
//! Test code (`tests.rs`, `*_tests.rs`, inline `mod tests { … }`) and comments are not checked.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of `manager/src` and its layer; higher layers may import lower ones.
/// A new module gets a line here: the lowest layer above everything it imports.
const LAYERS: &[(&str, u8)] = &[
    // Filesystem primitives: directories under the root/state dirs that only root can reach,
    // files replaced atomically,
    // files inside an image tree opened without following, blocking or unbounded reads.
    ("private_dir", 0),
    ("atomic_file", 0),
    ("rootfs_fs", 0),
    // Unit-test fixtures shared between modules (compiled only for tests).
    ("test_support", 0),
    // Leaves: configuration, blobs, tar unpacking, reference grammar, the OCI runtime's CLI
    // client, the event bus, the resource limits record.
    ("children", 1),
    ("config", 1),
    ("content", 1),
    ("events", 1),
    ("explain", 1),
    ("limits", 1),
    ("oci_runtime", 1),
    ("observe", 1),
    ("reference", 1),
    ("unpack", 1),
    // Plain records and their storage; bundles; the per-container monitor.
    ("bundle", 2),
    ("container_fs", 2),
    ("metadata", 2),
    ("monitor", 2),
    // Snapshotters (prepare, commit, remove layers); tasks (monitors + runtime binary); networking (CNI).
    ("network", 3),
    ("snapshots", 3),
    ("tasks", 3),
    // Garbage collection: roots from image and container records and leases; sweeps blobs and
    // snapshots.
    ("gc", 4),
    // Image records, the platform matcher, image rootfs from layers.
    ("images", 5),
    // The container/task model and its rules; registry clients behind images' trait.
    ("containers", 6),
    ("registry", 6),
    // gRPC fronts of the container model (thin).
    ("api", 7),
    // The Kubernetes CRI front door, beside api (neither imports the other); its streaming
    // server (cri/streaming) is inside it, under the same rule.
    ("cri", 7),
    // Daemon assembly: builds and wires everything.
    ("daemon", 8),
    // The command-line client.
    ("cli", 9),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Top-level modules: `src/<m>.rs` or `src/<m>/`, except the crate root and binaries.
fn modules() -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir(src_dir()).expect("reading manager/src") {
        let entry = entry.expect("reading manager/src entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let module = name.strip_suffix(".rs").unwrap_or(&name).to_string();
        if module != "lib" && module != "bin" {
            out.push(module);
        }
    }
    out.sort();
    out
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).expect("reading module dir") {
            rust_files(&entry.expect("module dir entry").path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

fn is_test_file(path: &Path) -> bool {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem == "tests" || stem.ends_with("_tests")
}

/// The modules a file names as `crate::<module>`, outside comments and inline test modules.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut cfg_test = false;
    for line in text.lines() {
        let code = line.trim();
        if code.starts_with("//") {
            continue;
        }
        if code.starts_with("#[cfg(test)]") {
            cfg_test = true;
            continue;
        }
        // An inline test module runs to the end of the file by convention.
        if cfg_test && code.starts_with("mod ") && code.ends_with('{') {
            break;
        }
        cfg_test = false;
        let code = code.split(" //").next().unwrap_or(code);
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let preceded_by_ident = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            rest = &rest[at + "crate::".len()..];
            if preceded_by_ident {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::X, b}`: every first segment in the group.
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name = item.trim().split("::").next().unwrap_or("").trim();
                    if !name.is_empty() {
                        out.insert(name.to_string());
                    }
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let missing: Vec<String> = modules()
        .into_iter()
        .filter(|m| layer(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in manager/tests/layers.rs LAYERS: {missing:?}"
    );
}

#[test]
fn modules_import_only_lower_layers() {
    let src = src_dir();
    let mut violations = Vec::new();
    for module in modules() {
        let Some(own) = layer(&module) else { continue };
        let mut files = Vec::new();
        rust_files(&src.join(&module), &mut files);
        rust_files(&src.join(format!("{module}.rs")), &mut files);
        for file in files.iter().filter(|f| !is_test_file(f)) {
            let text = fs::read_to_string(file).expect("reading a source file");
            for imported in imports(&text) {
                if imported == module {
                    continue;
                }
                match layer(&imported) {
                    Some(l) if l < own => {}
                    Some(l) => violations.push(format!(
                        "{} (layer {own}) imports crate::{imported} (layer {l})",
                        file.strip_prefix(&src).unwrap_or(file).display()
                    )),
                    // Not a module (a macro or a crate-root item): nothing to check.
                    None => {}
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layer order (manager/tests/layers.rs):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_imports_and_skips_comments_and_tests() {
    let text = "use crate::tasks::TaskManager;\n\
                // crate::daemon is not an import\n\
                let x = crate::metadata::open(); // crate::cli in a comment\n\
                use crate::{config::Config, events};\n\
                #[cfg(test)]\n\
                mod tests {\n\
                    use crate::api;\n\
                }\n";
    let got: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(got, ["config", "events", "metadata", "tasks"]);
}
