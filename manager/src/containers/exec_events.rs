//! What an exec tells the rest of berthd: Docker's `exec_create`, `exec_start` and `exec_die`
//! events (topics `/tasks/exec-added`, `/tasks/exec-started`, `/tasks/exec-exited`), and the
//! ids of the execs still running, for `inspect`'s `ExecIDs`.

use super::Containers;
use berth_proto::v1::{self as pb, envelope::Event};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Running execs per container id: exec id → command line. Rebuilt at recovery from the exec
/// monitors that still run ([`Containers::adopt_execs`]).
#[derive(Default)]
pub struct RunningExecs(Mutex<BTreeMap<String, BTreeMap<String, Vec<String>>>>);

impl RunningExecs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<String, Vec<String>>>> {
        // A panic while holding the lock cannot leave the map half-updated: use it as is.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Containers {
    /// `exec_create`: the exec was asked for.
    pub(super) fn exec_added(&self, container_id: &str, exec_id: &str, args: &[String]) {
        self.events.publish(Event::TaskExecAdded(pb::TaskExecAdded {
            container_id: container_id.to_string(),
            exec_id: exec_id.to_string(),
            args: args.to_vec(),
        }));
    }

    /// `exec_start`: the process runs. Lists it until its exit, which a task of its own waits
    /// for and publishes as `exec_die`.
    pub(super) fn exec_started(
        &self,
        container_id: &str,
        exec_id: &str,
        pid: u32,
        args: &[String],
    ) {
        self.events
            .publish(Event::TaskExecStarted(pb::TaskExecStarted {
                container_id: container_id.to_string(),
                exec_id: exec_id.to_string(),
                pid,
                args: args.to_vec(),
            }));
        self.watch_exec(container_id, exec_id, pid, args);
    }

    /// At recovery: lists the execs of a previous berthd that still run in container `id`
    /// and waits for their exits (`exec_die`); their `exec_start` was that berthd's.
    pub async fn adopt_execs(&self, id: &str) {
        match self.tasks.live_execs(id).await {
            Ok(execs) => {
                for e in execs {
                    self.watch_exec(id, &e.exec_id, e.pid, &e.args);
                }
            }
            Err(e) => {
                tracing::warn!(container = id, error = %e.message, "listing the execs still running")
            }
        }
    }

    /// Lists exec `exec_id` until a task of its own has seen it end and published `exec_die`.
    fn watch_exec(&self, container_id: &str, exec_id: &str, pid: u32, args: &[String]) {
        self.running_execs
            .lock()
            .entry(container_id.to_string())
            .or_default()
            .insert(exec_id.to_string(), args.to_vec());
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let (container_id, exec_id, args) =
            (container_id.to_string(), exec_id.to_string(), args.to_vec());
        tokio::spawn(async move {
            let code = match me.tasks.wait_exec(&container_id, &exec_id).await {
                Ok(exit) => exit.code,
                Err(e) => {
                    tracing::warn!(container = %container_id, exec = %exec_id, error = %e.message,
                        "waiting for an exec'd process");
                    None
                }
            };
            me.exec_ended(&container_id, &exec_id, pid, code, &args);
        });
    }

    /// `exec_die`: the process ended (or never ran: `pid` 0 and the 126/127 of the failure).
    pub(super) fn exec_ended(
        &self,
        container_id: &str,
        exec_id: &str,
        pid: u32,
        code: Option<i32>,
        args: &[String],
    ) {
        {
            let mut running = self.running_execs.lock();
            if let Some(execs) = running.get_mut(container_id) {
                execs.remove(exec_id);
                if execs.is_empty() {
                    running.remove(container_id);
                }
            }
        }
        self.events.publish(Event::TaskExecExit(pb::TaskExecExit {
            container_id: container_id.to_string(),
            exec_id: exec_id.to_string(),
            pid,
            exit_code: code.unwrap_or(0),
            exit_code_known: code.is_some(),
            args: args.to_vec(),
        }));
    }

    /// Ids of the execs running in container `id`, oldest id order (Docker's `ExecIDs`).
    pub fn exec_ids(&self, id: &str) -> Vec<String> {
        self.running_execs
            .lock()
            .get(id)
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    }
}
