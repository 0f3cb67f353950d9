//! Picking up tasks after the daemon restarts: scan state dirs, re-watch live monitors, read
//! exit records of tasks that ended meanwhile.

use super::error::{io_err, TaskError};
use super::exit::{is_monitor_of, read_exit_file};
use super::manager::TaskManager;
use super::orphan::open_init;
use super::types::{ExitStatus, TaskInfo};
use crate::monitor::layout::{RUNTIME_LOG, TASK_FILE};

/// A task found by [`TaskManager::recover`].
#[derive(Debug, Clone)]
pub struct RecoveredTask {
    /// What was recorded at create.
    pub info: TaskInfo,
    /// `Some` if it has exited (code `None` when the monitor died without recording it and
    /// nobody saw the exit), `None` if it still runs or its exit is being learned.
    pub exit: Option<ExitStatus>,
}

impl TaskManager {
    /// Scans the tasks directory and tracks every task found there that is not already known.
    /// Directories of creates that never completed (no task.json) are cleaned up.
    pub async fn recover(&self) -> Result<Vec<RecoveredTask>, TaskError> {
        let dir = &self.inner.config.tasks_dir;
        let mut rd = tokio::fs::read_dir(dir)
            .await
            .map_err(io_err(format!("read {}", dir.display())))?;
        let mut found = Vec::new();
        while let Some(ent) = rd
            .next_entry()
            .await
            .map_err(io_err(format!("read {}", dir.display())))?
        {
            if !ent.file_type().await.is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let id = ent.file_name().to_string_lossy().into_owned();
            if self.lookup(&id).is_ok() {
                continue;
            }
            let task_dir = ent.path();
            let runtime = self.inner.runtime.with_log(task_dir.join(RUNTIME_LOG));
            let info: TaskInfo = match tokio::fs::read(task_dir.join(TASK_FILE)).await {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(i) => i,
                    Err(e) => {
                        return Err(TaskError::Io {
                            what: format!("parse {}", task_dir.join(TASK_FILE).display()),
                            source: e.into(),
                        })
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A create interrupted by the daemon's death: undo it.
                    let _ = runtime.delete(&id, true).await;
                    let _ = tokio::fs::remove_dir_all(&task_dir).await;
                    continue;
                }
                Err(e) => {
                    return Err(io_err(format!(
                        "read {}",
                        task_dir.join(TASK_FILE).display()
                    ))(e))
                }
            };
            let mut exit = read_exit_file(&task_dir).await?;
            let mut init = None;
            if exit.is_none() {
                // Whether or not the monitor still runs, berthd watches the init too: if the
                // monitor dies, that is how its exit is still learned.
                init = open_init(&info, &runtime).await;
                // The monitor's command line names the state dir as recorded at create.
                if init.is_none() && !is_monitor_of(info.monitor_pid, &info.state_dir) {
                    // The monitor may have finished between the checks. Otherwise both it and
                    // the init are gone without a record: nothing can tell how it ended.
                    exit = Some(
                        read_exit_file(&task_dir)
                            .await?
                            .unwrap_or_else(ExitStatus::unknown),
                    );
                }
            }
            self.track(info.clone(), runtime, exit.clone(), init);
            found.push(RecoveredTask { info, exit });
        }
        found.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        Ok(found)
    }
}
