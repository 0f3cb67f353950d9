//! berth-manager: the library behind `berthd` (the daemon), `berth` (its CLI) and `berth-monitor`.
//!
//! Modules, top layer first (a module imports only modules of lower layers; `tests/layers.rs`
//! checks it, `docs/architecture.md` draws it):
//! - [`cli`]: the `berth` command-line client.
//! - [`daemon`]: startup, root lock, gRPC server on a unix socket, wiring of the subsystems
//!   (`daemon/wiring.rs`), shutdown.
//! - [`api`]: the Containers and Tasks gRPC services, thin over [`containers`].
//! - [`cri`]: the Kubernetes CRI v1 services on their own socket, beside [`api`].
//! - [`containers`]: container records and the rules of their tasks (create, start, stop, exit
//!   codes, `--rm`), over narrow backends for rootfs and tasks.
//! - [`registry`]: pull, push, login against OCI registries; loading OCI layouts.
//! - [`images`]: image records, the platform matcher, image rootfs preparation, Images service.
//! - [`gc`]: garbage collection of blobs and layer snapshots, with leases.
//! - [`network`]: container networking on the CNI plugins (bridges, ports, namespaces).
//! - [`snapshots`]: snapshotters (overlayfs, copying) and the Snapshots service.
//! - [`tasks`]: the task manager: one `berth-monitor` per container and the OCI runtime binary.
//! - [`monitor`]: the per-container monitor process (`berth-monitor`).
//! - [`metadata`]: the embedded transactional database (redb) with one module per record kind.
//! - [`container_fs`]: `berth cp`: paths resolved inside a container root, tars out and in.
//! - [`bundle`]: OCI runtime bundles (config.json) from an image config and run options.
//! - [`content`]: the content-addressable blob store.
//! - [`unpack`]: applying an OCI layer tar to a directory, safely.
//! - [`rootfs_fs`]: files inside an image's tree, resolved in it and opened without following,
//!   blocking or unbounded reads.
//! - [`oci_runtime`]: the client of a runc-compatible runtime binary (`berth-runc`, runc, crun).
//! - [`events`]: the in-process event bus and the Events service.
//! - [`private_dir`]: the directories berthd keeps data in, and their modes.
//! - [`atomic_file`]: replacing a file atomically, each writer with its own temporary file.
//! - [`observe`]: cgroup, netns and process counters of running containers (`stats`, `top`).
//! - [`explain`]: timed steps of a request, for `berth run --explain`.
//! - [`reference`]: image references as Docker writes them.
//! - [`config`]: berthd's TOML configuration.
//! - [`limits`]: the resource limits a container asks for.
//! - [`children`]: which child processes berthd waits for itself; reaping the other orphans.

pub mod api;
pub mod atomic_file;
pub mod bundle;
pub mod children;
pub mod cli;
pub mod config;
pub mod container_fs;
pub mod containers;
pub mod content;
pub mod cri;
pub mod daemon;
pub mod events;
pub mod explain;
pub mod gc;
pub mod images;
pub mod limits;
pub mod metadata;
pub mod monitor;
pub mod network;
pub mod observe;
pub mod oci_runtime;
pub mod private_dir;
pub mod reference;
pub mod registry;
pub mod rootfs_fs;
pub mod snapshots;
pub mod tasks;
#[cfg(test)]
mod test_support;
pub mod unpack;
