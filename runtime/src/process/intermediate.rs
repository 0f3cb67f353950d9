//! The intermediate process: joins and creates namespaces, then clones the init as a sibling
//! (CLONE_PARENT) so the init's parent is `berth-runc` itself, and exits.

use nix::sched::{unshare, CloneFlags};
use nix::unistd::{setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType;

use super::channel::Channel;
use super::message::Message;
use super::{init, CreateCtx, STAGE_FAILED};
use crate::error::Context;
use crate::{namespaces, Error, Result};

/// Runs the intermediate stage; never returns.
pub fn main(ctx: &CreateCtx<'_>, chan: &Channel) -> ! {
    match stage(ctx, chan) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            let _ = chan.send(&Message::Error(e.to_string()));
            std::process::exit(STAGE_FAILED)
        }
    }
}

fn stage(ctx: &CreateCtx<'_>, chan: &Channel) -> Result<()> {
    chan.expect(&Message::Go)?;
    let linux = ctx.linux()?;
    namespaces::join_paths(linux)?;
    if namespaces::creates(linux, LinuxNamespaceType::User) {
        unshare(CloneFlags::CLONE_NEWUSER).ctx(|| "unshare(CLONE_NEWUSER)".into())?;
        // Only the parent (root in the parent user namespace) may write our maps.
        chan.send(&Message::MapRequest)?;
        chan.expect(&Message::MapDone)?;
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .ctx(|| "setresgid(0) in user namespace".into())?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .ctx(|| "setresuid(0) in user namespace".into())?;
    }
    namespaces::unshare_new(linux)?;
    if namespaces::creates(linux, LinuxNamespaceType::Time) {
        namespaces::write_time_offsets(linux)?;
    }
    match crate::syscall::clone_parent().ctx(|| "clone(CLONE_PARENT) container init".into())? {
        None => init::main(ctx, chan),
        Some(pid) => chan.send(&Message::InitPid(pid.as_raw())),
    }
    .map_err(|e: Error| e)
}
