//! Deleting containers: task (if forced), snapshot, bundle, logs, record; and pruning.

use super::backend::TaskState;
use super::{ContainerError, Containers};
use berth_proto::v1 as pb;

impl Containers {
    /// Deletes a container. A live task is refused unless `force`, which kills it first.
    /// Returns the full id.
    pub async fn delete(&self, query: &str, force: bool) -> Result<String, ContainerError> {
        let rec = self.resolve(query)?;
        let _guard = self.lock.lock().await;
        // A forced remove kills the task: its exit must not start it again. Only a policy
        // that restarts needs the mark on the record (for an exit racing the kill, and for
        // `restart_on_boot` if this delete fails midway); for the others, every `--rm`
        // container among them, it would be one more commit to a record about to go.
        if force {
            let policy = super::restart::RestartPolicy::parse(&rec.options.restart_policy);
            if matches!(policy, Ok(super::restart::RestartPolicy::No)) {
                self.cancel_restart(&rec.id);
            } else {
                self.suspend_restart(&rec.id)?;
            }
        }
        if let Some(task) = self.tasks.get(&rec.id).await? {
            if task.state != TaskState::Stopped {
                if !force {
                    let what = if task.state == TaskState::Paused {
                        "paused"
                    } else {
                        "running"
                    };
                    return Err(ContainerError::Precondition(format!(
                        "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                        rec.id
                    )));
                }
                let paused = task.state == TaskState::Paused;
                super::stop::kill_task(&*self.tasks, &rec.id, paused).await?;
            }
            self.tasks.delete(&rec.id).await?;
            self.events
                .publish(pb::envelope::Event::TaskDelete(pb::TaskDelete {
                    container_id: rec.id.clone(),
                }));
        }
        self.detach_network(&rec.id).await;
        self.rootfs
            .remove(&rec.snapshot_key, &rec.bundle_dir)
            .await?;
        let dir = self.dir.join(&rec.id);
        if let Err(source) = std::fs::remove_dir_all(&dir) {
            if source.kind() != std::io::ErrorKind::NotFound {
                return Err(ContainerError::Io { path: dir, source });
            }
        }
        self.store.remove(&rec.id)?;
        self.events
            .publish(pb::envelope::Event::ContainerDelete(pb::ContainerDelete {
                id: rec.id.clone(),
                name: rec.name.clone(),
            }));
        Ok(rec.id)
    }

    /// Deletes every container without a live task; returns ids and bytes freed.
    pub async fn prune(&self) -> Result<(Vec<String>, u64), ContainerError> {
        let mut deleted = Vec::new();
        let mut bytes = 0;
        for rec in self.store.list()? {
            if self.is_live(&rec.id).await? {
                continue;
            }
            let size = self.rootfs.usage(&rec.snapshot_key).await.unwrap_or(0)
                + super::logs::chain_size(&rec.log_path);
            match self.delete(&rec.id, false).await {
                Ok(id) => {
                    deleted.push(id);
                    bytes += size;
                }
                // Started meanwhile: not ours to prune.
                Err(ContainerError::Precondition(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((deleted, bytes))
    }

    /// Disk usage per container.
    pub async fn usage(&self) -> Result<Vec<pb::ContainerUsage>, ContainerError> {
        let mut out = Vec::new();
        for rec in self.store.list()? {
            out.push(pb::ContainerUsage {
                id: rec.id.clone(),
                rw_bytes: self.rootfs.usage(&rec.snapshot_key).await.unwrap_or(0),
                log_bytes: super::logs::chain_size(&rec.log_path),
                active: self.is_live(&rec.id).await?,
            });
        }
        Ok(out)
    }
}
