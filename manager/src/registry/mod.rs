//! The registry side of images: talking to OCI distribution registries (pull, push, login),
//! and importing OCI image layouts. Everything lands in the daemon's content store through
//! the [`store::BlobStore`] trait.

pub mod auth;
pub mod client;
pub mod distribution;
pub mod error;
pub mod hosts;
pub mod layout;
pub mod progress;
pub mod pull;
pub mod push;
pub mod store;

pub use crate::images::oci::Descriptor;
pub use crate::images::platform::Platform;
pub use auth::login;
pub use client::Credentials;
pub use error::RegistryError;
pub use hosts::{HostConfig, RegistryContext};
pub use layout::{load_layout, LoadedImage};
pub use progress::{PullEvent, PullStatus};
pub use pull::{pull, pulling_from_line, PullOptions, PulledImage};
pub use push::push;
