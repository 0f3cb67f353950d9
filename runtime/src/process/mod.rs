//! The processes `create` starts, and the messages between them.
//!
//! `berth-runc create` (the *parent*) forks the *intermediate*, which joins and unshares namespaces and
//! then clones the container *init* with `CLONE_PARENT`, so the init is the parent's child. The init sets
//! the rootfs and process up, reports ready, and blocks on the exec fifo until `start`.

pub mod channel;
pub mod finalize;
pub mod init;
pub mod intermediate;
pub mod message;
pub mod parent;
pub mod setns;

/// Exit status of a child stage that reported its error over the channel.
pub const STAGE_FAILED: i32 = 1;

use std::os::fd::RawFd;
use std::path::PathBuf;

use oci_spec::runtime::{Linux, Process};

use crate::config::Bundle;
use crate::{Error, Result};

/// What every stage of `create` needs; the forked stages read it from their copy of the parent's memory.
#[derive(Debug)]
pub struct CreateCtx<'a> {
    /// Container id.
    pub id: &'a str,
    /// The loaded bundle.
    pub bundle: &'a Bundle,
    /// Host path of the exec fifo (for messages).
    pub fifo: PathBuf,
    /// O_PATH fd of the exec fifo, opened by the parent: the init may not be able to traverse the
    /// state root once it runs as the container's (mapped) root.
    pub fifo_fd: RawFd,
    /// Connected `--console-socket` (or run's own socketpair end) when `process.terminal` is set.
    pub console_socket: Option<RawFd>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
}

impl CreateCtx<'_> {
    /// The config's `linux` section (checked present at load).
    pub fn linux(&self) -> Result<&Linux> {
        self.bundle
            .spec
            .linux()
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("config has no linux section".into()))
    }

    /// The config's `process` section (checked present at load).
    pub fn process(&self) -> Result<&Process> {
        self.bundle
            .spec
            .process()
            .as_ref()
            .ok_or_else(|| Error::InvalidArgument("config has no process section".into()))
    }
}
