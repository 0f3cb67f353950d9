//! `Context`: the daemon's shared state, built once at startup and handed to every service.

use std::sync::Arc;

use crate::config::Config;
use crate::content::ContentStore;
use crate::images::ImageService;
use crate::metadata::Metadata;

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
        Ok(Context {
            config: Arc::new(config),
            metadata,
            content,
            images,
        })
    }
}
