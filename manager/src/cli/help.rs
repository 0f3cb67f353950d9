//! `--help` laid out as Docker's: `Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]`, the
//! command's description, then its options, and Docker's usage line for each command.

use clap::{CommandFactory, FromArgMatches};

use super::Cli;

/// Docker's usage line of each top-level command (its words, with `berth` for `docker`).
const USAGE: &[(&str, &str)] = &[
    ("pull", "berth pull [OPTIONS] NAME[:TAG|@DIGEST]"),
    ("images", "berth images [OPTIONS] [REPOSITORY[:TAG]]"),
    ("rmi", "berth rmi [OPTIONS] IMAGE [IMAGE...]"),
    ("image", "berth image COMMAND"),
    ("load", "berth load [OPTIONS]"),
    ("push", "berth push [OPTIONS] NAME[:TAG]"),
    ("tag", "berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
    ("login", "berth login [OPTIONS] [SERVER]"),
    ("version", "berth version [OPTIONS]"),
    ("info", "berth info [OPTIONS]"),
    ("completion", "berth completion bash|zsh|fish"),
    ("run", "berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"),
    ("create", "berth create [OPTIONS] IMAGE [COMMAND] [ARG...]"),
    ("start", "berth start [OPTIONS] CONTAINER [CONTAINER...]"),
    ("stop", "berth stop [OPTIONS] CONTAINER [CONTAINER...]"),
    ("restart", "berth restart [OPTIONS] CONTAINER [CONTAINER...]"),
    ("update", "berth update [OPTIONS] CONTAINER [CONTAINER...]"),
    ("exec", "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]"),
    ("kill", "berth kill [OPTIONS] CONTAINER [CONTAINER...]"),
    ("wait", "berth wait CONTAINER [CONTAINER...]"),
    ("rm", "berth rm [OPTIONS] CONTAINER [CONTAINER...]"),
    ("ps", "berth ps [OPTIONS]"),
    ("logs", "berth logs [OPTIONS] CONTAINER"),
    ("inspect", "berth inspect [OPTIONS] NAME|ID [NAME|ID...]"),
    ("events", "berth events [OPTIONS]"),
    ("port", "berth port CONTAINER [PRIVATE_PORT[/PROTO]]"),
    ("stats", "berth stats [OPTIONS] [CONTAINER...]"),
    ("top", "berth top CONTAINER [ps OPTIONS]"),
    ("pause", "berth pause CONTAINER [CONTAINER...]"),
    ("unpause", "berth unpause CONTAINER [CONTAINER...]"),
    ("rename", "berth rename CONTAINER NEW_NAME"),
    (
        "cp",
        "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    ),
    ("network", "berth network COMMAND"),
    ("container", "berth container COMMAND"),
    ("system", "berth system COMMAND"),
];

const TEMPLATE: &str = "Usage:  {usage}\n\n{about-with-newline}\n{all-args}{after-help}";

/// The whole command tree with Docker's help layout.
pub fn command() -> clap::Command {
    let root = Cli::command()
        .override_usage("berth [OPTIONS] COMMAND")
        .after_help("\nRun 'berth COMMAND --help' for more information on a command.");
    let root = USAGE.iter().fold(root, |c, (name, usage)| {
        c.mut_subcommand(name, |s| s.override_usage(*usage))
    });
    docker_layout(root)
}

fn docker_layout(cmd: clap::Command) -> clap::Command {
    cmd.help_template(TEMPLATE).mut_subcommands(docker_layout)
}

/// Parses the process's arguments against [`command`]. Help and version are printed as clap
/// prints them; a usage error as Docker's CLI reports one: one line, where to find help, exit 125.
pub fn parse() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if is_display(&e) => e.exit(),
        Err(e) => {
            eprintln!("{}", usage_error(&e, &args));
            std::process::exit(125);
        }
    }
}

fn parse_from(args: &[std::ffi::OsString]) -> Result<Cli, clap::Error> {
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

fn is_display(e: &clap::Error) -> bool {
    use clap::error::ErrorKind::*;
    matches!(
        e.kind(),
        DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
    )
}

/// `berth: <what is wrong>` and `See 'berth run --help'.` for the deepest command named in `args`.
fn usage_error(e: &clap::Error, args: &[std::ffi::OsString]) -> String {
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ");
    let mut path = vec!["berth".to_string()];
    let mut cmd = command();
    for a in args.iter().skip(1).filter_map(|a| a.to_str()) {
        match cmd.find_subcommand(a).cloned() {
            Some(sub) => {
                path.push(a.to_string());
                cmd = sub;
            }
            None if a.starts_with('-') => continue,
            None => break,
        }
    }
    format!("berth: {first}\nSee '{} --help'.", path.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(args: &[&str]) -> String {
        let err = command()
            .try_get_matches_from(args)
            .expect_err("--help ends parsing");
        err.render().to_string()
    }

    #[test]
    fn run_help_reads_as_dockers() {
        let h = help(&["berth", "run", "--help"]);
        assert!(
            h.starts_with(
                "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n"
            ),
            "{h}"
        );
        assert!(h.contains("-d, --detach"), "{h}");
    }

    #[test]
    fn usage_errors_name_the_command_to_ask_for_help() {
        let args: Vec<std::ffi::OsString> = ["berth", "container", "ls", "--bogus"]
            .iter()
            .map(Into::into)
            .collect();
        let e = parse_from(&args).expect_err("unknown flag");
        assert!(!is_display(&e));
        let msg = usage_error(&e, &args);
        assert_eq!(
            msg,
            "berth: unexpected argument '--bogus' found\nSee 'berth container ls --help'."
        );
    }

    #[test]
    fn every_listed_command_exists_and_root_help_points_to_it() {
        let root = command();
        for (name, _) in USAGE {
            assert!(
                root.find_subcommand(name).is_some(),
                "{name} has a usage line but no command"
            );
        }
        let h = help(&["berth", "--help"]);
        assert!(h.starts_with("Usage:  berth [OPTIONS] COMMAND\n"), "{h}");
        assert!(
            h.trim_end()
                .ends_with("Run 'berth COMMAND --help' for more information on a command."),
            "{h}"
        );
    }
}
