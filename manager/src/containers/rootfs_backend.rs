//! [`RootfsBackend`] over the image store, the snapshotter and the bundle generator: a container's
//! rootfs is an active snapshot on its image's top layer, mounted at `<bundle>/rootfs`, and its
//! `config.json` comes from the image config plus the run options.

use super::backend::{BackendError, ImageInfo, PreparedRootfs, RootfsBackend};
use super::record::RunOptions;
use crate::bundle;
use crate::content::{ContentStore, Digest};
use crate::explain;
use crate::images::rootfs::{self, BlobSource};
use crate::images::ImageService;
use crate::snapshots::{self, Snapshotter};
use crate::unpack::UnpackLimits;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reads blobs straight from the content store's files (the snapshotter reads synchronously).
struct ContentBlobs(ContentStore);

impl BlobSource for ContentBlobs {
    fn open_blob(&self, digest: &str) -> std::io::Result<Box<dyn Read + '_>> {
        let d = Digest::parse(digest)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok(Box::new(std::fs::File::open(self.0.blob_path(&d))?))
    }
}

/// The real rootfs backend.
pub struct ImageRootfs {
    images: ImageService,
    snapshotter: Arc<dyn Snapshotter>,
    limits: UnpackLimits,
}

impl ImageRootfs {
    /// Prepares rootfs snapshots of images from `images` with `snapshotter`, unpacking layers
    /// within `limits`.
    pub fn new(
        images: ImageService,
        snapshotter: Arc<dyn Snapshotter>,
        limits: UnpackLimits,
    ) -> Self {
        Self {
            images,
            snapshotter,
            limits,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> BackendError {
    BackendError::internal(e.to_string())
}

/// The bundle generator's options for a container.
fn bundle_options(id: &str, o: &RunOptions) -> Result<bundle::RunOptions, BackendError> {
    Ok(bundle::RunOptions {
        container_id: id.to_string(),
        args: o.cmd.clone(),
        entrypoint: (!o.entrypoint.is_empty()).then(|| o.entrypoint.clone()),
        env: o.env.clone(),
        volumes: o
            .mounts
            .iter()
            .map(|m| {
                format!(
                    "{}:{}:{}",
                    m.source.display(),
                    m.destination,
                    if m.readonly { "ro" } else { "rw" }
                )
            })
            .collect(),
        user: (!o.user.is_empty()).then(|| o.user.clone()),
        workdir: (!o.workdir.is_empty()).then(|| o.workdir.clone()),
        hostname: (!o.hostname.is_empty())
            .then(|| o.hostname.clone())
            .or_else(|| o.network_plan.as_ref().and_then(|p| p.hostname.clone())),
        tty: o.tty,
        network: o
            .network_plan
            .as_ref()
            .map(crate::network::bundle_setup)
            .unwrap_or_default(),
        read_only: o.read_only || o.pod.read_only,
        cgroups_path: o.pod.cgroups_path.clone(),
        join_namespaces: o.pod.join_namespaces.clone(),
        resources: o.resources.clone(),
        security: security(o)?,
        group_add_names: o.group_add_names.clone(),
        tmpfs: o.tmpfs.clone(),
        devices: o.devices.clone(),
        init: o.init,
        pod: pod_spec(&o.pod),
        ..Default::default()
    })
}

/// The security settings of a container: its flags, and the seccomp profile: the one its
/// `--security-opt seccomp=` names, else Docker's default for containers made through the
/// berth API (CRI containers follow their pod's security context, which has none here).
fn security(o: &RunOptions) -> Result<bundle::security::Security, BackendError> {
    let opts =
        bundle::security::parse_security_opts(&o.security_opt).map_err(|message| BackendError {
            code: tonic::Code::InvalidArgument,
            message,
        })?;
    let default = if o.default_seccomp {
        bundle::seccomp::Choice::DockerDefault
    } else {
        bundle::seccomp::Choice::Unconfined
    };
    Ok(bundle::security::Security {
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        privileged: o.privileged,
        no_new_privileges: opts.no_new_privileges,
        group_add: o.group_add.clone(),
        seccomp: opts.seccomp.unwrap_or(default),
        systempaths_unconfined: opts.systempaths_unconfined,
    })
}

/// The bundle generator's form of a CRI pod member's spec settings.
fn pod_spec(p: &crate::metadata::containers::PodOptions) -> bundle::pod::PodSpec {
    use crate::metadata::containers::PodSeccomp;
    bundle::pod::PodSpec {
        sysctls: p.sysctls.clone(),
        devices: p
            .devices
            .iter()
            .map(|(host, ctr, perms)| bundle::pod::Device {
                host_path: host.clone(),
                container_path: ctr.clone(),
                permissions: perms.clone(),
            })
            .collect(),
        masked_paths: p.masked_paths.clone(),
        readonly_paths: p.readonly_paths.clone(),
        seccomp: match &p.seccomp {
            PodSeccomp::Default => bundle::pod::Seccomp::Default,
            PodSeccomp::Unconfined => bundle::pod::Seccomp::Unconfined,
            PodSeccomp::Profile(j) => bundle::pod::Seccomp::Profile(j.clone()),
            PodSeccomp::RuntimeDefault => bundle::pod::Seccomp::RuntimeDefault,
        },
        propagation: p.propagation.clone(),
        dns_options: p.dns_options.clone(),
        ambient_capabilities: p.ambient_capabilities.clone(),
    }
}

/// The lease that protects a container's rootfs while it is being created.
fn create_lease(id: &str) -> String {
    format!("create-{id}")
}

/// Unmounts `<bundle>/rootfs` if mounted and removes snapshot `key` (absent is fine).
fn teardown(
    snapshotter: &dyn Snapshotter,
    key: &str,
    bundle_dir: &Path,
) -> Result<(), BackendError> {
    let rootfs = bundle_dir.join("rootfs");
    if is_mountpoint(&rootfs) {
        snapshots::mount::unmount(&rootfs).map_err(internal)?;
    }
    match snapshotter.remove(key) {
        Ok(()) | Err(snapshots::SnapshotError::NotFound(_)) => Ok(()),
        Err(e) => Err(internal(e)),
    }
}

/// Whether `path` is a mount point, per `/proc/self/mountinfo` (bind mounts from the same
/// filesystem have the same device, so comparing devices is not enough).
fn is_mountpoint(path: &Path) -> bool {
    berth_mountinfo::read_self().is_ok_and(|mounts| berth_mountinfo::is_mount_point(&mounts, path))
}

#[tonic::async_trait]
impl RootfsBackend for ImageRootfs {
    async fn resolve_image(&self, reference: &str) -> Result<ImageInfo, BackendError> {
        let view = self.images.get(reference).await.map_err(|e| match e {
            crate::images::ImageError::NotFound(_) => {
                BackendError::not_found(format!("No such image: {reference}"))
            }
            other => BackendError {
                code: tonic::Code::InvalidArgument,
                message: other.to_string(),
            },
        })?;
        let digest = view.facts.manifest_digest.as_ref().ok_or_else(|| {
            BackendError::not_found(format!(
                "No such image: {reference} (no manifest for this platform in the content store)"
            ))
        })?;
        let exposed_ports = view
            .facts
            .config
            .as_deref()
            .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok())
            .and_then(|v| {
                v.get("config")?
                    .get("ExposedPorts")?
                    .as_object()
                    .map(|m| m.keys().cloned().collect())
            })
            .unwrap_or_default();
        Ok(ImageInfo {
            name: view.record.name.clone(),
            digest: digest.as_str().to_string(),
            exposed_ports,
        })
    }

    async fn prepare(
        &self,
        id: &str,
        image: &ImageInfo,
        options: &RunOptions,
        bundle_dir: &Path,
    ) -> Result<PreparedRootfs, BackendError> {
        let blobs = ContentBlobs(self.images.content().clone());
        let snapshotter = Arc::clone(&self.snapshotter);
        let (id, digest, bundle_dir) = (
            id.to_string(),
            image.digest.clone(),
            bundle_dir.to_path_buf(),
        );
        let opts = bundle_options(&id, options)?;
        let limits = self.limits.clone();
        // Until the container record exists nothing else refers to its snapshot or (if the image
        // is removed meanwhile) its layers: a lease keeps them; it goes with the snapshot, or
        // right away when the prepare fails.
        let lease = self
            .images
            .leases()
            .create_named(&create_lease(&id), crate::gc::lease::DEFAULT_TTL);
        // The steps are timed on the blocking thread and recorded back on the request's task.
        let mut steps: Vec<(&'static str, String, Duration)> = Vec::new();
        let result = tokio::task::spawn_blocking(move || {
            lease.add_snapshot_blocking(&id);
            if let Ok(layers) = rootfs::read_image(&blobs, &digest) {
                lease.add_blob_blocking(&digest);
                lease.add_blob_blocking(layers.manifest.config().digest().as_ref());
                for l in layers.manifest.layers() {
                    lease.add_blob_blocking(l.digest().as_ref());
                }
                for c in &layers.chain_ids {
                    lease.add_snapshot_blocking(c);
                }
            }
            let t = Instant::now();
            let prepared = rootfs::prepare_image_rootfs(
                &blobs,
                snapshotter.as_ref(),
                &digest,
                &id,
                Default::default(),
                &limits,
            )
            .map_err(|e| internal(format!("preparing rootfs of container {id}: {e}")))?;
            steps.push((
                "snapshot prepared",
                format!(
                    "{} image layer(s) unpacked or reused, active snapshot {id} on top",
                    prepared.image.chain_ids.len()
                ),
                t.elapsed(),
            ));
            let rootfs = bundle_dir.join("rootfs");
            let t = Instant::now();
            let done = crate::private_dir::create_all(&rootfs)
                .map_err(|e| internal(format!("creating {}: {e}", rootfs.display())))
                .and_then(|()| {
                    snapshots::mount::mount_all(&prepared.mounts, &rootfs)
                        .map(|g| g.keep())
                        .map_err(|e| internal(format!("mounting rootfs of container {id}: {e}")))
                });
            steps.push((
                "rootfs mounted",
                format!(
                    "{} mount(s) ({}) at {}",
                    prepared.mounts.len(),
                    prepared
                        .mounts
                        .iter()
                        .map(|m| m.typ.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    rootfs.display()
                ),
                t.elapsed(),
            ));
            let t = Instant::now();
            let done = done.and_then(|()| {
                bundle::write_bundle(&bundle_dir, &prepared.image.config, &opts).map_err(|e| {
                    BackendError {
                        code: tonic::Code::InvalidArgument,
                        message: e.to_string(),
                    }
                })
            });
            if done.is_ok() {
                steps.push((
                    "bundle written",
                    format!("{}", bundle_dir.join("config.json").display()),
                    t.elapsed(),
                ));
            }
            match done {
                Ok(spec) => {
                    // Kept until the container is removed; a failed prepare drops it here.
                    lease.detach();
                    Ok((
                        PreparedRootfs {
                            snapshot_key: id.clone(),
                            args: {
                                let args = spec
                                    .process()
                                    .as_ref()
                                    .and_then(|p| p.args().clone())
                                    .unwrap_or_default();
                                // The command as given: the init in front is not part of it.
                                if opts.init {
                                    bundle::init::unwrap(&args).to_vec()
                                } else {
                                    args
                                }
                            },
                        },
                        steps,
                    ))
                }
                Err(e) => {
                    if let Err(t) = teardown(snapshotter.as_ref(), &id, &bundle_dir) {
                        tracing::error!(container = id, error = %t, "cleaning up failed rootfs");
                    }
                    Err(e)
                }
            }
        })
        .await
        .map_err(internal)?;
        let (prepared, steps) = result?;
        for (name, detail, elapsed) in steps {
            explain::record(name, detail, elapsed);
        }
        Ok(prepared)
    }

    async fn remove(&self, snapshot_key: &str, bundle_dir: &Path) -> Result<(), BackendError> {
        self.images.leases().delete(&create_lease(snapshot_key));
        let snapshotter = Arc::clone(&self.snapshotter);
        let (key, dir) = (snapshot_key.to_string(), bundle_dir.to_path_buf());
        tokio::task::spawn_blocking(move || teardown(snapshotter.as_ref(), &key, &dir))
            .await
            .map_err(internal)?
    }

    async fn usage(&self, snapshot_key: &str) -> Result<u64, BackendError> {
        let snapshotter = Arc::clone(&self.snapshotter);
        let key = snapshot_key.to_string();
        tokio::task::spawn_blocking(move || snapshotter.usage(&key).map(|u| u.size))
            .await
            .map_err(internal)?
            .map_err(internal)
    }
}
