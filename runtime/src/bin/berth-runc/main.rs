//! `berth-runc`: the OCI runtime CLI, with runc's commands, flags, output and exit codes.

mod cli;
mod help;
mod logging;
mod update_cmd;

use std::io::Write;

use anyhow::{anyhow, bail, Context, Result};
use berth_runtime::container::{self, CreateOptions, ExecOptions};
use berth_runtime::{features, selfclone, signal, spec};

use cli::{Cli, Command, CreateArgs};
use logging::Logger;

fn main() {
    use clap::FromArgMatches;
    // Re-exec before clap builds its command tree: this first process only copies and seals
    // itself, so its peak RSS (the highest of `run`'s processes) is the runtime's startup and
    // no clap code or heap. `dispatch` checks again after parsing, for what this scan cannot tell.
    if early_command().is_some_and(needs_sealed_copy) && !selfclone::is_cloned() {
        // An error here is reported by the same attempt in `dispatch`, with the logging flags.
        let _ = selfclone::reexec();
    }
    let cli = match help::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            if !e.use_stderr() {
                // Help and version output are not errors.
                std::process::exit(0);
            }
            // runc logs usage errors to --log too: a caller such as containerd reports only
            // what it finds there.
            let argv0 = std::env::args()
                .next()
                .unwrap_or_else(|| "berth-runc".into());
            let args: Vec<String> = std::env::args().skip(1).collect();
            let (path, format) = logging::log_flags(&args);
            Logger::new(path.as_deref(), format, false)
                .log_only(&logging::usage_message(&e, &argv0, &args));
            // runc (urfave/cli) exits 3 for an unknown command, 1 for other usage errors.
            let unknown = e.kind() == clap::error::ErrorKind::InvalidSubcommand;
            std::process::exit(if unknown { 3 } else { 1 });
        }
    };
    let mut log = Logger::new(cli.log.as_deref(), cli.log_format, cli.debug);
    match dispatch(&cli, &mut log) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let cmd = match &cli.command {
                Some(Command::Create(_)) => "berth-runc create failed: ",
                Some(Command::Run { .. }) => "berth-runc run failed: ",
                Some(Command::Exec(_)) => "exec failed: ",
                _ => "",
            };
            log.error(&format!("{cmd}{}", chain(&e)));
            // runc's exec fails with 255, out of the range of the process's own exit codes.
            let code = if matches!(cli.command, Some(Command::Exec(_))) {
                255
            } else {
                1
            };
            std::process::exit(code);
        }
    }
}

/// Commands whose processes enter the container and so must run from a sealed copy.
fn needs_sealed_copy(command: String) -> bool {
    matches!(command.as_str(), "create" | "run" | "exec")
}

/// The command name from argv without clap: the first argument after runc's global flags (and
/// their values). `None` on a flag this scan does not know.
fn early_command() -> Option<String> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        let a = a.into_string().ok()?;
        if !a.starts_with('-') {
            return Some(a);
        }
        let name = a.split_once('=').map_or(a.as_str(), |(n, _)| n);
        match name {
            "--root" | "--log" | "--log-format" | "--criu" | "--rootless" => {
                if !a.contains('=') {
                    args.next();
                }
            }
            "--debug" | "--systemd-cgroup" => {}
            _ => return None,
        }
    }
    None
}

/// The error and its causes, skipping a cause whose text the previous message already ends with
/// (library errors print their source inline).
fn chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn create_options(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a.console_socket.clone(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        keep: false,
    }
}

fn dispatch(cli: &Cli, log: &mut Logger) -> Result<i32> {
    if cli.version {
        print!("{}", help::version_text());
        return Ok(0);
    }
    if cli.systemd_cgroup {
        bail!(
            "--systemd-cgroup is not supported by berth-runc: cgroups are managed through cgroupfs"
        );
    }
    let Some(cmd) = &cli.command else {
        bail!("no command given; see berth-runc --help");
    };
    if matches!(
        cmd,
        Command::Create(_) | Command::Run { .. } | Command::Exec(_)
    ) && !selfclone::is_cloned()
    {
        // Only returns on error.
        selfclone::reexec().context("re-exec from a sealed copy (CVE-2019-5736 protection)")?;
    }
    let root = &cli.root;
    // `--debug`: what runs, where; runc's debug lines come from the same points (its nsexec
    // stages, the cgroup and state writes).
    log.debug(&format!(
        "berth-runc {} (root {})",
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        root.display()
    ));
    if root.exists() {
        // Close a root another version left open; create does it (and creates) itself.
        if let Err(e) = berth_runtime::state_dir::secure_root(root) {
            log.warn(&format!("{e}"));
        }
    }
    match cmd {
        Command::Create(a) => {
            log.debug(&format!(
                "create {}: bundle {}, root {}",
                a.id,
                a.bundle.display(),
                root.display()
            ));
            let st = container::create(root, &a.id, &create_options(a), &mut |w| log.warn(w))?;
            log.debug(&created_line(&st));
        }
        Command::Start { id } => {
            for w in container::start(root, id)? {
                log.warn(&w);
            }
        }
        Command::Pause { id } => container::pause(root, id)?,
        Command::Resume { id } => container::resume(root, id)?,
        Command::Update(a) => update_cmd::run(root, a)?,
        Command::Events {
            interval,
            stats,
            id,
        } => {
            let mut out = std::io::stdout().lock();
            if *stats {
                container::events::stats(root, id, &mut out)?;
            } else {
                let interval = container::events::parse_duration(interval)?;
                container::events::stream(root, id, interval, &mut out, &mut |w| log.error(w))?;
            }
        }
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(root, id, format, ps_args)?,
        Command::Run {
            detach,
            keep,
            create,
        } => {
            let opts = CreateOptions {
                keep: *keep,
                ..create_options(create)
            };
            let out = container::run(root, &create.id, &opts, *detach, &mut |w| log.warn(w))?;
            for w in out.warnings {
                log.warn(&w);
            }
            return Ok(out.exit_code);
        }
        Command::Exec(a) => {
            let (id, args) = a
                .id_and_command
                .split_first()
                .ok_or_else(|| anyhow!("container id cannot be empty"))?;
            let opts = ExecOptions {
                process_file: a.process.clone(),
                args: args.to_vec(),
                tty: a.tty,
                console_socket: a.console_socket.clone(),
                detach: a.detach,
                pid_file: a.pid_file.clone(),
                cwd: a.cwd.clone(),
                env: a.env.clone(),
                user: a.user.clone(),
                additional_gids: a.additional_gids.clone(),
                caps: a.cap.clone(),
                no_new_privs: a.no_new_privs,
                preserve_fds: a.preserve_fds,
                ignore_paused: a.ignore_paused,
                cgroups: a.cgroup.clone(),
                process_label: a.process_label.clone(),
                apparmor: a.apparmor.clone(),
            };
            return Ok(container::exec(root, id, &opts)?);
        }
        Command::State { id } => {
            let st = container::state(root, id)?;
            print!("{}", serde_json::to_string_pretty(&st)?);
        }
        Command::Kill { all, id, signal: s } => {
            // runc reports a missing container before a bad signal.
            container::state(root, id)?;
            let sig = signal::parse_or_zero(s)?;
            container::kill(root, id, sig, *all)?;
        }
        Command::Delete { force, id } => {
            for w in container::delete(root, id, *force)? {
                log.warn(&w);
            }
        }
        Command::List { format, quiet } => list(root, format, *quiet)?,
        Command::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                bail!("File config.json exists. Remove it first");
            }
            let v = if *rootless {
                spec::rootless_spec(
                    nix::unistd::geteuid().as_raw(),
                    nix::unistd::getegid().as_raw(),
                )
            } else {
                spec::default_spec()
            };
            std::fs::write(&path, spec::to_config_json(&v))
                .with_context(|| format!("write {}", path.display()))?;
        }
        Command::Features => println!("{}", serde_json::to_string_pretty(&features::features())?),
    }
    log.debug("done");
    Ok(0)
}

/// The debug line for a created container: its init and cgroup directories.
fn created_line(st: &berth_runtime::state_dir::State) -> String {
    let dirs: Vec<String> = st
        .cgroup
        .iter()
        .flat_map(|cg| {
            cg.v1
                .iter()
                .map(|h| h.dir.display().to_string())
                .chain(cg.unified.iter().map(|u| u.display().to_string()))
        })
        .collect();
    format!(
        "container {} created: init pid {}, cgroup {}, bundle {}",
        st.id,
        st.init_pid,
        dirs.join(" "),
        st.bundle.display()
    )
}

fn list(root: &std::path::Path, format: &str, quiet: bool) -> Result<()> {
    let entries = container::list(root)?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for e in &entries {
            writeln!(out, "{}", e.state.id)?;
        }
        return Ok(());
    }
    match format {
        "json" => {
            let owner_states: Vec<_> = entries
                .iter()
                .map(|e| {
                    let mut s = e.state.clone();
                    s.owner = user_name(e.owner_uid);
                    s
                })
                .collect();
            if owner_states.is_empty() {
                writeln!(out, "null")?;
            } else {
                writeln!(out, "{}", serde_json::to_string(&owner_states)?)?;
            }
        }
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for e in &entries {
                let s = &e.state;
                rows.push(vec![
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    user_name(e.owner_uid),
                ]);
            }
            write!(out, "{}", container::list::format_table(&rows))?;
        }
        other => return Err(anyhow!("invalid format option {other:?}")),
    }
    Ok(())
}

fn ps(root: &std::path::Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let pids = container::ps::pids(root, id)?;
    let mut out = std::io::stdout().lock();
    match format {
        // runc prints Go's encoding of the pid slice: `null` when there is none.
        "json" if pids.is_empty() => writeln!(out, "null")?,
        "json" => writeln!(out, "{}", serde_json::to_string(&pids)?)?,
        "table" => {
            let args: Vec<&str> = if ps_args.is_empty() {
                vec!["-ef"]
            } else {
                ps_args.iter().map(String::as_str).collect()
            };
            let res = std::process::Command::new("ps")
                .args(&args)
                .output()
                .with_context(|| format!("run ps {}", args.join(" ")))?;
            if !res.status.success() {
                return Err(anyhow!(
                    "ps {} failed ({}): {}",
                    args.join(" "),
                    res.status,
                    String::from_utf8_lossy(&res.stderr).trim()
                ));
            }
            let text = String::from_utf8_lossy(&res.stdout);
            write!(out, "{}", container::ps::filter_ps_output(&text, &pids)?)?;
        }
        other => return Err(anyhow!("invalid format option {other:?}")),
    }
    Ok(())
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}
