//! `--help`, `help [COMMAND]` and `--version` in runc's (urfave/cli's) layout: NAME, USAGE,
//! VERSION, COMMANDS, GLOBAL OPTIONS / OPTIONS sections with a three-space indent, and the
//! version lines `NAME version X`, `commit: ...`, `spec: ...` that callers such as Docker parse.

use clap::CommandFactory;

use crate::cli::Cli;

/// The commit berth-runc was built from, when the build passes `BERTH_COMMIT`.
pub const COMMIT: &str = match option_env!("BERTH_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// The `--version` text (also the VERSION section of the top-level help).
pub fn version_text() -> String {
    format!(
        "berth-runc version {}\ncommit: {COMMIT}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        berth_runtime::OCI_VERSION
    )
}

const TOP: &str = "\
NAME:
   {name} - {about}

USAGE:
   {name} [global options] command [command options] [arguments...]

VERSION:
   {version}
commit: COMMIT
spec: SPEC

COMMANDS:
{subcommands}

GLOBAL OPTIONS:
{options}";

const SUB: &str = "\
NAME:
   berth-runc CMD - {about}

USAGE:
   {usage}

OPTIONS:
{options}";

/// The command definition with runc's help layout applied to it and every subcommand.
pub fn command() -> clap::Command {
    let top = TOP
        .replace("COMMIT", COMMIT)
        .replace("SPEC", berth_runtime::OCI_VERSION);
    Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .help_template(top)
        .mut_subcommands(|c| {
            let t = SUB.replace("CMD", c.get_name());
            c.help_template(t)
        })
}
