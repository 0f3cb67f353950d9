//! `berth-runc`: the OCI runtime CLI, with runc's commands, flags, output and exit codes.

fn main() {
    eprintln!("berth-runc: not yet implemented");
    std::process::exit(1);
}
