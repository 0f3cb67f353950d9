//! `rename`: a new name for a container, unique like every name (Docker's checks and messages).

use super::{names, ContainerError, Containers};

impl Containers {
    /// Renames container `q` to `new_name`; returns the full id.
    pub async fn rename(&self, q: &str, new_name: &str) -> Result<String, ContainerError> {
        let name = new_name.trim_start_matches('/');
        if name.is_empty() {
            return Err(ContainerError::Invalid(
                "Neither old nor new names may be empty".into(),
            ));
        }
        if !names::valid_name(name) {
            return Err(ContainerError::Invalid(format!(
                "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        // The lock orders renames with creates' name choice and with deletes.
        let _guard = self.lock.lock().await;
        let rec = self.resolve(q)?;
        if rec.name == name {
            return Err(ContainerError::Invalid(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = self.store.list()?.into_iter().find(|r| r.name == name) {
            return Err(ContainerError::Conflict(format!(
                "Error when allocating new name: Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        let pending = self
            .pending_names
            .lock()
            .map_err(|_| ContainerError::Invalid("internal: name lock poisoned".into()))?
            .contains(name);
        if pending {
            return Err(ContainerError::Conflict(format!(
                "Error when allocating new name: Conflict. The container name \"/{name}\" is already in use by a container being created."
            )));
        }
        // Read again just before writing so an exit recorded meanwhile is kept.
        let mut fresh = self
            .store
            .get(&rec.id)?
            .ok_or_else(|| ContainerError::Invalid(format!("No such container: {q}")))?;
        fresh.name = name.to_string();
        self.store.put(&fresh)?;
        Ok(fresh.id)
    }

    /// The host pid of the container's running (or paused) init process, if it has one.
    pub async fn running_pid(
        &self,
        q: &str,
    ) -> Result<(String, String, Option<u32>), ContainerError> {
        let rec = self.resolve(q)?;
        let pid = self.task(&rec.id).await?.and_then(|t| {
            matches!(
                t.state,
                super::backend::TaskState::Running | super::backend::TaskState::Paused
            )
            .then_some(t.pid)
            .filter(|p| *p > 0)
        });
        Ok((rec.id, rec.name, pid))
    }
}

/// Where a copy in or out of a container reaches its files.
#[derive(Debug, Clone)]
pub struct CopyTarget {
    /// The container's id.
    pub id: String,
    /// The host directory where its root filesystem is mounted (it stays mounted from create
    /// to rm, so stopped containers have one too).
    pub rootfs: std::path::PathBuf,
    /// The host pid of its running or paused init, whose root shows the container's mounts.
    pub init: Option<u32>,
}

impl Containers {
    /// What `berth cp` needs of container `q`.
    pub async fn copy_target(&self, q: &str) -> Result<CopyTarget, ContainerError> {
        let rec = self.resolve(q)?;
        let (id, _, init) = self.running_pid(&rec.id).await?;
        Ok(CopyTarget {
            id,
            rootfs: rec.bundle_dir.join("rootfs"),
            init,
        })
    }
}
