//! `--init`: `berth-init` (built from `manager/pause/init.c` by the build script and embedded in
//! berthd) is written into the bundle and bind-mounted read-only at [`INIT_PATH`], where Docker
//! puts its docker-init; the container's command runs as its child (`init -- CMD...`).

/// The static init binary.
pub const INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where the init is mounted in the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The init's file name in the bundle directory.
pub const INIT_FILE: &str = "init";

/// `cmd` run by the init: `[INIT_PATH, "--", cmd...]`.
pub fn wrap(cmd: &[String]) -> Vec<String> {
    let mut out = vec![INIT_PATH.to_string(), "--".to_string()];
    out.extend_from_slice(cmd);
    out
}

/// The command the user gave, without the init in front (for `ps`, `inspect`).
pub fn unwrap(args: &[String]) -> &[String] {
    match args {
        [init, dash, rest @ ..] if init == INIT_PATH && dash == "--" => rest,
        _ => args,
    }
}
