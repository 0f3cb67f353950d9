//! berth: the command-line client of berthd.

use std::process::ExitCode;

use berth_manager::cli::{Cli, CliContext, DaemonUnreachable, Reported};
use clap::Parser;

fn main() -> ExitCode {
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
