//! Creating a container: validate, prepare snapshot and bundle, store the record. Any failure
//! undoes what was done, so no half-created container, snapshot or directory is left behind.

use super::record::{ContainerRecord, RunOptions};
use super::{names, ContainerError, Containers};
use crate::explain;
use crate::metadata::now_nanos;
use berth_proto::v1 as pb;

/// Undoes a partial create unless disarmed.
struct Undo<'a> {
    containers: &'a Containers,
    dir: std::path::PathBuf,
    snapshot: Option<(String, std::path::PathBuf)>,
    armed: bool,
}

impl Undo<'_> {
    async fn run(mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        // Reverse order of creation: mount and snapshot, then the directories.
        if let Some((key, bundle)) = self.snapshot.take() {
            if let Err(e) = self.containers.rootfs.remove(&key, &bundle).await {
                // The rootfs may still be mounted: removing the directory would delete through it.
                tracing::error!(snapshot = key, dir = %self.dir.display(), error = %e,
                    "cleaning up after failed create; the container directory is kept");
                return;
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::error!(dir = %self.dir.display(), error = %e, "cleaning up after failed create");
            }
        }
    }
}

impl Containers {
    /// Checks the request's name and options before anything is allocated.
    fn validate(&self, req: &pb::CreateContainerRequest) -> Result<RunOptions, ContainerError> {
        if !req.name.is_empty() && !names::valid_name(req.name.trim_start_matches('/')) {
            return Err(ContainerError::Invalid(format!(
                "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                req.name
            )));
        }
        if req.image.is_empty() {
            return Err(ContainerError::Invalid("no image given".into()));
        }
        let options: RunOptions = req.options.as_ref().map(Into::into).unwrap_or_default();
        let policy = super::restart::RestartPolicy::parse(&options.restart_policy)
            .map_err(ContainerError::Invalid)?;
        if options.auto_remove && policy != super::restart::RestartPolicy::No {
            // Docker's rule: a container that removes itself when it ends cannot be restarted.
            return Err(ContainerError::Invalid(
                "Conflicting options: --restart and --rm".into(),
            ));
        }
        super::log_opts::rotation(&options.log_opts).map_err(ContainerError::Invalid)?;
        super::limits::validate(&options.resources)?;
        super::limits::validate_security(&options)?;
        for m in &options.mounts {
            if !m.source.is_absolute() || !m.destination.starts_with('/') {
                return Err(ContainerError::Invalid(format!(
                    "invalid mount config for type \"bind\": paths must be absolute: {}:{}",
                    m.source.display(),
                    m.destination
                )));
            }
            if !m.source.exists() {
                return Err(ContainerError::Invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source.display()
                )));
            }
        }
        for e in &options.env {
            if e.starts_with('=') || e.is_empty() {
                return Err(ContainerError::Invalid(format!(
                    "invalid environment variable: {e}"
                )));
            }
        }
        Ok(options)
    }

    /// Picks the requested name (refusing one in use) or generates a free one.
    fn choose_name(&self, requested: &str) -> Result<String, ContainerError> {
        let all = self.store.list()?;
        let mut pending = self
            .pending_names
            .lock()
            .map_err(|_| ContainerError::Invalid("internal: name lock poisoned".into()))?;
        if !requested.is_empty() {
            let name = requested.trim_start_matches('/').to_string();
            if let Some(other) = all.iter().find(|r| r.name == name) {
                return Err(ContainerError::Conflict(format!(
                    "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
            if !pending.insert(name.clone()) {
                return Err(ContainerError::Conflict(format!(
                    "Conflict. The container name \"/{name}\" is already in use by a container being created. You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            return Ok(name);
        }
        for attempt in 0..100 {
            let name = names::generate_name(attempt / 10).map_err(|source| ContainerError::Io {
                path: "/dev/urandom".into(),
                source,
            })?;
            if !all.iter().any(|r| r.name == name) && pending.insert(name.clone()) {
                return Ok(name);
            }
        }
        Err(ContainerError::Conflict(
            "could not generate a free container name".into(),
        ))
    }

    /// Creates a container from a local image. The work runs in its own task, so that it
    /// finishes (or rolls back completely) even when the caller goes away: a create dropped
    /// halfway would leave a mount, a snapshot and directories that no record names.
    pub async fn create(
        self: &std::sync::Arc<Self>,
        req: pb::CreateContainerRequest,
    ) -> Result<pb::Container, ContainerError> {
        let me = std::sync::Arc::clone(self);
        crate::explain::spawn_carrying(async move { me.create_detached(req).await })
            .await
            .map_err(|e| {
                ContainerError::Invalid(format!("internal: container create failed: {e}"))
            })?
    }

    async fn create_detached(
        &self,
        mut req: pb::CreateContainerRequest,
    ) -> Result<pb::Container, ContainerError> {
        // Docker's daemon-wide log options apply to containers created without their own (not
        // to CRI ones: kubelet reads and rotates their logs itself).
        let options = req.options.get_or_insert_with(Default::default);
        if options.log_opts.is_empty() {
            options.log_opts = self.log_defaults().into_iter().collect();
        }
        self.create_with(req, Default::default(), true).await
    }

    /// Creates a container with CRI pod settings (sandbox namespaces, cgroup parent).
    pub async fn create_in_pod(
        &self,
        req: pb::CreateContainerRequest,
        pod: crate::metadata::containers::PodOptions,
    ) -> Result<pb::Container, ContainerError> {
        self.create_with(req, pod, false).await
    }

    /// Creates a container; `default_seccomp`: Docker's default profile applies unless its
    /// options choose another (berth.v1 containers, not CRI ones).
    async fn create_with(
        &self,
        req: pb::CreateContainerRequest,
        pod: crate::metadata::containers::PodOptions,
        default_seccomp: bool,
    ) -> Result<pb::Container, ContainerError> {
        let mut options = self.validate(&req)?;
        options.pod = pod;
        options.default_seccomp = default_seccomp;
        let image = explain::timed(
            "image found locally",
            self.rootfs.resolve_image(&req.image),
            |r| match r {
                Ok(i) => format!("{} ({})", i.name, i.digest),
                Err(e) => format!("not found: {e}"),
            },
        )
        .await?;
        // Network options are checked (and -P ports chosen) before anything is allocated.
        let id = names::new_id().map_err(|source| ContainerError::Io {
            path: "/dev/urandom".into(),
            source,
        })?;
        if let Some(net) = self.network() {
            let all = self.store.list()?;
            if let Some(q) = options.network.strip_prefix("container:") {
                let other = super::resolve::resolve(&all, q)
                    .map_err(|_| ContainerError::Invalid(format!("No such container: {q}")))?;
                options.network = format!("container:{}", other.id);
            }
            let plan = net
                .plan(&id, &options, &image.exposed_ports, &all)
                .map_err(super::network_error)?;
            options.network_plan = Some(plan);
        }
        let name = {
            let _guard = self.lock.lock().await;
            self.choose_name(&req.name)?
        };
        let result = self
            .create_named(req, options, image, name.clone(), id)
            .await;
        if let Ok(mut pending) = self.pending_names.lock() {
            pending.remove(&name);
        }
        result
    }

    async fn create_named(
        &self,
        req: pb::CreateContainerRequest,
        options: RunOptions,
        image: super::backend::ImageInfo,
        name: String,
        id: String,
    ) -> Result<pb::Container, ContainerError> {
        let dir = self.dir.join(&id);
        let bundle_dir = dir.join("bundle");
        let mut undo = Undo {
            containers: self,
            dir: dir.clone(),
            snapshot: None,
            armed: true,
        };
        if let Err(source) = crate::private_dir::create_all(&bundle_dir) {
            undo.run().await;
            return Err(ContainerError::Io {
                path: bundle_dir,
                source,
            });
        }
        // Armed before prepare: the backend's removal is idempotent (nothing mounted, no such
        // snapshot are fine), and a prepare that failed to clean up after itself must not leave
        // a mount below a directory the undo would then delete through.
        undo.snapshot = Some((id.clone(), bundle_dir.clone()));
        let prepared = match self
            .rootfs
            .prepare(&id, &image, &options, &bundle_dir)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                undo.run().await;
                return Err(e.into());
            }
        };
        undo.snapshot = Some((prepared.snapshot_key.clone(), bundle_dir.clone()));
        let rec = ContainerRecord {
            id: id.clone(),
            name,
            image: image.name.clone(),
            image_digest: image.digest.clone(),
            args: prepared.args,
            created_at: now_nanos(),
            labels: req.labels.into_iter().collect(),
            options,
            snapshot_key: prepared.snapshot_key,
            bundle_dir,
            log_path: dir.join("container.log"),
            runtime: self.runtime.clone(),
            last_run: None,
        };
        let put = std::time::Instant::now();
        let stored = self.store.put(&rec);
        explain::record(
            "container recorded",
            format!("{} named {} in the metadata store", rec.id, rec.name),
            put.elapsed(),
        );
        if let Err(e) = stored {
            undo.run().await;
            return Err(e.into());
        }
        undo.armed = false;
        self.events
            .publish(pb::envelope::Event::ContainerCreate(pb::ContainerCreate {
                id: rec.id.clone(),
                name: rec.name.clone(),
                image: rec.image.clone(),
            }));
        Ok(rec.to_proto(rec.stored_status()))
    }
}
