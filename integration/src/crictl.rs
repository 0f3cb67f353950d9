//! `crictl` (cri-tools, prebuilt in `shared/tools/` beside the checkout) against a test berthd's
//! CRI socket, and the JSON configs it takes.

use crate::berthd_env::BerthdEnv;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A cri-tools binary: `$BERTH_<NAME>` (e.g. `BERTH_CRICTL`) if set, else `shared/tools/<name>`
/// in the nearest ancestor of the workspace that has it.
pub fn cri_tool(name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!("BERTH_{}", name.to_uppercase())) {
        return PathBuf::from(p);
    }
    let root = crate::workspace_root();
    root.ancestors()
        .map(|a| a.join("shared/tools").join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{name} not found in shared/tools above {} (set BERTH_{})",
                root.display(),
                name.to_uppercase()
            )
        })
}

/// crictl talking to one berthd's CRI socket.
pub struct Crictl {
    bin: PathBuf,
    endpoint: String,
}

impl Crictl {
    /// For the berthd of `env` (its socket is `<state>/cri.sock`).
    pub fn for_env(env: &BerthdEnv) -> Crictl {
        Crictl::at(&env.dirs.state.join("cri.sock"))
    }

    /// For the CRI socket at `sock`.
    pub fn at(sock: &Path) -> Crictl {
        Crictl {
            bin: cri_tool("crictl"),
            endpoint: format!("unix://{}", sock.display()),
        }
    }

    /// Runs `crictl ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args(["--runtime-endpoint", &self.endpoint])
            .args(["--image-endpoint", &self.endpoint])
            .args(["--timeout", "60s"])
            .args(args)
            .output()
            .expect("running crictl")
    }

    /// Runs `crictl ARGS`, requires success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        crate::runtime::success_stdout("crictl", args, &self.run(args))
    }

    /// Runs `crictl ARGS`, requires failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "crictl {args:?} succeeded but should have failed\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `crictl inspect*`'s JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("crictl printed JSON")
    }
}

/// Writes `value` as JSON to `dir/name` and returns the path as a string.
pub fn write_config(dir: &Path, name: &str, value: &serde_json::Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    p.display().to_string()
}
