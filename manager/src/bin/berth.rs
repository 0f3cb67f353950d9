//! berth: the command-line client of berthd.

use std::process::ExitCode;

use berth_manager::cli::{Cli, CliContext, DaemonUnreachable, Reported};
use clap::Parser;

/// Restores the default SIGPIPE action so `berth images | head` ends quietly, as Unix tools do,
/// instead of panicking on a failed print (Rust ignores SIGPIPE by default).
fn default_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installs the default disposition (no handler code runs in signal context) before any
    // other thread exists.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn main() -> ExitCode {
    default_sigpipe();
    let cli = Cli::parse();
    let ctx = CliContext {
        address: cli.address.clone(),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli.command.run(&ctx)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<Reported>().is_none() {
                if let Some(u) = e.downcast_ref::<DaemonUnreachable>() {
                    eprintln!("{u}");
                } else {
                    eprintln!("{e:#}");
                }
            }
            ExitCode::FAILURE
        }
    }
}
