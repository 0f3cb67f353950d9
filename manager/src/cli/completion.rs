//! `berth completion bash|zsh|fish`: the shell completion script, generated from the command
//! definitions by clap_complete so it never drifts from the real flags.

use clap::CommandFactory;

/// Shells a completion script can be generated for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    /// bash (source it, or put it in /etc/bash_completion.d/berth)
    Bash,
    /// zsh (put it in a directory of $fpath as _berth)
    Zsh,
    /// fish (put it in ~/.config/fish/completions/berth.fish)
    Fish,
}

/// `berth completion` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate the script for
    pub shell: Shell,
}

/// Prints the script on stdout.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = super::Cli::command();
    clap_complete::generate(shell, &mut cmd, "berth", &mut std::io::stdout());
    Ok(())
}
