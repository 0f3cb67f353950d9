//! berth-runtime: the library behind `berth-runc`, an OCI runtime (runtime-spec 1.2, Linux).
//!
//! The library never prints and never exits; the `berth-runc` binary is a thin CLI over it.
//! See `docs/runtime.md` for the process stages, the state directory and the hook order.

pub mod capabilities;
pub mod cgroups;
pub mod config;
pub mod console;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod id;
pub mod namespaces;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod selfclone;
pub mod signal;
pub mod spec;
pub mod state_dir;
pub mod syscall;

pub use error::{Error, Result};

/// The runtime-spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";
