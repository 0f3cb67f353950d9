//! The JSON `runtime state ID` prints (OCI runtime spec "state", plus runc's extra fields).

use serde::Deserialize;
use std::path::PathBuf;

/// Container status as the runtime reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeStatus {
    /// Created, init waiting for `start`.
    Creating,
    /// Created, init waiting for `start`.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init has exited.
    Stopped,
}

/// Parsed `state` output.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeState {
    /// Container id.
    pub id: String,
    /// Init pid (0 once stopped for some runtimes).
    #[serde(default)]
    pub pid: i32,
    /// Status.
    pub status: RuntimeStatus,
    /// Bundle directory.
    #[serde(default)]
    pub bundle: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_runc_state() {
        let s = r#"{"ociVersion":"1.0.2-dev","id":"c1","pid":42,"status":"running",
            "bundle":"/b","rootfs":"/b/rootfs","created":"2026-11-23T18:00:00Z","owner":""}"#;
        let st: RuntimeState = serde_json::from_str(s).unwrap();
        assert_eq!((st.pid, st.status), (42, RuntimeStatus::Running));
        assert_eq!(st.bundle, PathBuf::from("/b"));
    }
}
