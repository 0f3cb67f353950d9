//! The hook that keeps images in use from being removed: the containers code implements
//! [`ImageUsage`] and the daemon hands it to [`super::ImageService::set_usage`].

/// A container that uses an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// Container id.
    pub container_id: String,
    /// True if the container is running (then even a forced remove is refused, as Docker does).
    pub running: bool,
}

/// Answers which containers use an image.
pub trait ImageUsage: Send + Sync + 'static {
    /// Containers created from the image with full normalized `name`.
    fn users(&self, name: &str) -> Result<Vec<ImageUser>, String>;
}
