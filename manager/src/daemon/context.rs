//! `Context`: the daemon's shared state, built once at startup and handed to every service.

use std::sync::Arc;

use super::wiring::ContainerSystem;
use crate::config::Config;
use crate::content::ContentStore;
use crate::images::ImageService;
use crate::metadata::Metadata;
use crate::snapshots::{self, Snapshotter};

/// Everything services share. Add a field here for a new subsystem (snapshotter, tasks, events) and
/// build it in [`Context::open`].
#[derive(Clone)]
pub struct Context {
    /// The effective configuration.
    pub config: Arc<Config>,
    /// The metadata database.
    pub metadata: Metadata,
    /// The content-addressable blob store.
    pub content: ContentStore,
    /// Image logic (records, pull/push through the registry code).
    pub images: ImageService,
    /// Containers, tasks and events.
    pub containers: ContainerSystem,
    /// The snapshotter (overlayfs when the root's filesystem supports it, else copying).
    pub snapshotter: Arc<dyn Snapshotter>,
    /// Garbage collection of blobs and snapshots.
    pub collector: crate::gc::Collector,
}

impl Context {
    /// Opens the stores under the configured root.
    pub fn open(config: Config) -> Result<Self, super::DaemonError> {
        let content = ContentStore::open(&config.root)?;
        let metadata = Metadata::open(&config.metadata_path())?;
        let images = ImageService::new(metadata.clone(), content.clone());
        let registry =
            crate::registry::distribution::RegistryDistribution::new(&config, content.clone())
                .map_err(super::DaemonError::RegistryConfig)?;
        images.set_distribution(Arc::new(registry));
        let snapshotter = snapshots::open(&config.root, snapshots::Choice::Auto)?;
        for key in crate::images::rootfs::remove_stale_extractions(&*snapshotter)? {
            tracing::info!(
                key,
                "removed a layer snapshot left by an interrupted unpack"
            );
        }
        tracing::info!(snapshotter = snapshotter.name(), "snapshotter ready");
        let collector = crate::gc::Collector::new(
            metadata.clone(),
            content.clone(),
            Some(snapshotter.clone()),
            images.leases().clone(),
        );
        images.set_collector(collector.clone());
        let containers = ContainerSystem::open(&config, &metadata, &images, snapshotter.clone())?;
        Ok(Context {
            config: Arc::new(config),
            metadata,
            content,
            images,
            containers,
            snapshotter,
            collector,
        })
    }
}
