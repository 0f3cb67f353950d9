//! berth-monitor: the per-container monitor process started by berthd (see docs/monitor.md).

use berth_manager::monitor::{args::MonitorArgs, run, Role};

fn main() {
    let args = match MonitorArgs::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            std::process::exit(2);
        }
    };
    match run(&args) {
        Ok(Role::Launcher) | Ok(Role::Monitor) => {}
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            std::process::exit(1);
        }
    }
}
