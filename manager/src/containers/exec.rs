//! `exec`: the rules for running an extra process in a container, Docker's way. The process is
//! the container's own (from its bundle's config.json: environment, user, working directory,
//! capabilities, limits) with the request's overrides; only a running container accepts one.

use super::backend::{ExecIo, ExecSpec, TaskState};
use super::exit_code::start_failure_code;
use super::{names, ContainerError, Containers};
use crate::bundle::security::host_capabilities;
use crate::bundle::user::resolve_user;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What to run (the API's `ExecStart` in the model's terms).
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// Program and arguments.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries replacing or adding to the container's environment.
    pub env: Vec<String>,
    /// `user[:group]`; the container's user when empty.
    pub user: String,
    /// Working directory; the container's when empty.
    pub workdir: String,
    /// Allocate a terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin: bool,
    /// Do not attach.
    pub detach: bool,
    /// Every capability.
    pub privileged: bool,
    /// Initial terminal size (columns, rows).
    pub size: Option<(u16, u16)>,
}

/// A started exec: its id, and what the backend returned.
pub struct StartedExec {
    /// Full container id.
    pub container_id: String,
    /// Exec id.
    pub exec_id: String,
    /// Pid and stdio.
    pub io: ExecIo,
}

impl Containers {
    /// Runs `req` in container `q`, which must be running (Docker's messages otherwise). A
    /// program that cannot be executed fails with [`ContainerError::StartFailed`] carrying
    /// 126/127; the container is not changed.
    pub async fn exec(&self, q: &str, req: &ExecRequest) -> Result<StartedExec, ContainerError> {
        let rec = self.resolve(q)?;
        if req.args.is_empty() {
            return Err(ContainerError::Invalid("No exec command specified".into()));
        }
        match self.task(&rec.id).await?.map(|t| t.state) {
            Some(TaskState::Running) => {}
            Some(TaskState::Paused) => {
                return Err(ContainerError::Precondition(format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                )))
            }
            _ => {
                return Err(ContainerError::Precondition(format!(
                    "container {} is not running",
                    rec.id
                )))
            }
        }
        let process = exec_process(&rec.bundle_dir, req)?;
        let exec_id = names::new_id().map_err(|e| ContainerError::Io {
            path: "/dev/urandom".into(),
            source: e,
        })?;
        let spec = ExecSpec {
            exec_id: exec_id.clone(),
            process,
            tty: req.tty,
            stdin: req.stdin,
            detach: req.detach,
        };
        self.exec_added(&rec.id, &exec_id, &req.args);
        let io = match self.tasks.exec(&rec.id, &spec).await {
            Ok(io) => io,
            Err(e) if e.code == tonic::Code::FailedPrecondition => {
                let code = start_failure_code(&e.message);
                self.exec_ended(&rec.id, &exec_id, 0, Some(code), &req.args);
                return Err(ContainerError::StartFailed {
                    code,
                    message: e.message,
                });
            }
            Err(e) => {
                self.exec_ended(&rec.id, &exec_id, 0, None, &req.args);
                return Err(e.into());
            }
        };
        self.exec_started(&rec.id, &exec_id, io.pid, &req.args);
        Ok(StartedExec {
            container_id: rec.id,
            exec_id,
            io,
        })
    }
}

/// The container's process from `bundle_dir/config.json` with the request applied.
fn exec_process(bundle_dir: &Path, req: &ExecRequest) -> Result<Value, ContainerError> {
    let path = bundle_dir.join("config.json");
    let bytes = std::fs::read(&path).map_err(|e| ContainerError::Io {
        path: path.clone(),
        source: e,
    })?;
    let spec: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ContainerError::Invalid(format!("{}: {e}", path.display())))?;
    let mut p = spec.get("process").cloned().unwrap_or_else(|| json!({}));
    p["args"] = json!(req.args);
    p["terminal"] = json!(req.tty);
    if let (true, Some((cols, rows))) = (req.tty, req.size) {
        p["consoleSize"] = json!({"height": rows, "width": cols});
    } else if let Some(o) = p.as_object_mut() {
        o.remove("consoleSize");
    }
    let mut env: Vec<String> = crate::bundle::string_array(&p["env"]);
    if !req.user.is_empty() {
        let rootfs = match spec["root"]["path"].as_str() {
            Some(r) if Path::new(r).is_absolute() => PathBuf::from(r),
            Some(r) => bundle_dir.join(r),
            None => bundle_dir.join("rootfs"),
        };
        let u = resolve_user(&rootfs, &req.user)
            .map_err(|e| ContainerError::Precondition(e.to_string()))?;
        p["user"] = json!({"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids});
        set_env(&mut env, &format!("HOME={}", u.home));
    }
    for kv in &req.env {
        set_env(&mut env, kv);
    }
    p["env"] = json!(env);
    if !req.workdir.is_empty() {
        if !req.workdir.starts_with('/') {
            return Err(ContainerError::Invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                req.workdir
            )));
        }
        p["cwd"] = json!(req.workdir);
    }
    if req.privileged {
        let all = host_capabilities();
        p["capabilities"] = json!({
            "bounding": all, "effective": all, "permitted": all,
            "inheritable": [], "ambient": [],
        });
    }
    Ok(p)
}

/// Sets `KEY=VALUE` in `env`, replacing an entry for the same key.
fn set_env(env: &mut Vec<String>, kv: &str) {
    let key = kv.split_once('=').map_or(kv, |(k, _)| k);
    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
    env.push(kv.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_process_fields() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/",
                "env":["PATH=/bin","A=1"],"user":{"uid":0,"gid":0}}}"#,
        )
        .unwrap();
        let req = ExecRequest {
            args: vec!["env".into()],
            env: vec!["A=2".into(), "B=3".into()],
            workdir: "/tmp".into(),
            ..Default::default()
        };
        let p = exec_process(dir.path(), &req).unwrap();
        assert_eq!(p["args"], json!(["env"]));
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(p["cwd"], json!("/tmp"));
        assert_eq!(p["terminal"], json!(false));
        let bad = ExecRequest {
            workdir: "tmp".into(),
            ..req
        };
        assert!(exec_process(dir.path(), &bad).is_err());
    }
}
