//! berth: the command-line client of berthd.

use std::process::ExitCode;

use berth_manager::cli::exit_code::{ExitCodeError, ExitStatus};
use berth_manager::cli::{Cli, CliContext, DaemonUnreachable, Reported};

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
    let cli = Cli::parse_args();
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
    let result = rt.block_on(cli.command.run(&ctx));
    // A stdin forwarder (`run -i`) may still be blocked reading; don't wait for it.
    rt.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A container command's own exit code (`run`, `start -a`): nothing more to print.
            if let Some(s) = e.downcast_ref::<ExitStatus>() {
                return ExitCode::from(s.0.clamp(0, 255) as u8);
            }
            if let Some(c) = e.downcast_ref::<ExitCodeError>() {
                eprintln!("{c}");
                return ExitCode::from(c.code.clamp(0, 255) as u8);
            }
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
