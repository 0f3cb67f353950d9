//! berth-manager: the library behind `berthd` (the daemon), `berth` (its CLI) and `berth-monitor`.
//!
//! - [`config`]: berthd's TOML configuration.
//! - [`daemon`]: startup, root lock, gRPC server on a unix socket, shutdown.
//! - [`metadata`]: the embedded transactional database (redb) with one module per record kind.
//! - [`content`]: the content-addressable blob store.
//! - [`images`]: image records and the Images gRPC service.
//! - [`snapshots`]: snapshotters (overlayfs, copying), image rootfs preparation, Snapshots service.
//! - [`unpack`]: applying an OCI layer tar to a directory, safely.
//! - [`rootfs_fs`]: files inside an image's tree, resolved in it and opened without following,
//!   blocking or unbounded reads.
//! - [`bundle`]: OCI runtime bundles (config.json) from an image config and run options.
//! - [`private_dir`]: the directories berthd keeps data in, and their modes.
//! - [`cli`]: the `berth` command-line client.
//! - [`reference`]: image references as Docker writes them.
//! - [`registry`]: pull, push, login against OCI registries; loading OCI layouts.

pub mod bundle;
pub mod cli;
pub mod config;
pub mod containers;
pub mod content;
pub mod daemon;
pub mod events;
pub mod images;
pub mod metadata;
pub mod monitor;
pub mod private_dir;
pub mod reference;
pub mod registry;
pub mod rootfs_fs;
pub mod runtime;
pub mod snapshots;
pub mod tasks;
pub mod unpack;
