//! `berth exec`: run a command in a running container (Tasks.ExecProcess).

use super::tty::RawMode;
use anyhow::Context;
use berth_proto::v1::{
    self as pb, exec_process_request, exec_process_response, tasks_client::TasksClient,
    ExecProcessRequest,
};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use tonic::transport::Channel;

/// `berth exec [OPTIONS] CONTAINER COMMAND [ARG...]`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Container name or id.
    pub container: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `KEY=VALUE` entries: `--env-file` lines first, then `-e` (Docker's order); `KEY` alone takes
/// the client's value and is dropped when unset.
fn environment(a: &ExecArgs) -> anyhow::Result<Vec<String>> {
    let mut entries = Vec::new();
    for f in &a.env_file {
        entries.extend(read_env_file(f)?);
    }
    entries.extend(a.env.iter().cloned());
    Ok(super::container_opts::expand_env(&entries))
}

/// The entries of an env file: one per line, blank lines and `#` comments skipped.
fn read_env_file(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {}", path.display()))?;
    Ok(parse_env_file(&text))
}

fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Runs the exec; the result is the command's exit code.
pub async fn exec(ch: Channel, a: ExecArgs) -> anyhow::Result<i32> {
    let env = environment(&a)?;
    let mut tasks = TasksClient::new(ch);
    let (tx, rx) = mpsc::channel::<ExecProcessRequest>(64);
    let size = if a.tty {
        super::attach::window_size()
    } else {
        None
    };
    tx.send(ExecProcessRequest {
        msg: Some(exec_process_request::Msg::Start(pb::ExecStart {
            container_id: a.container.clone(),
            args: a.command.clone(),
            env,
            user: a.user.clone().unwrap_or_default(),
            workdir: a.workdir.clone().unwrap_or_default(),
            tty: a.tty,
            stdin: a.interactive && !a.detach,
            detach: a.detach,
            privileged: a.privileged,
            size,
        })),
    })
    .await
    .context("opening exec stream")?;
    let mut inbound = tasks
        .exec_process(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(super::run::start_error)?
        .into_inner();
    // The start is only known to have succeeded with the first message.
    match inbound.message().await.map_err(super::run::start_error)? {
        Some(pb::ExecProcessResponse {
            msg: Some(exec_process_response::Msg::Started(_)),
        }) => {}
        _ => anyhow::bail!("Error response from daemon: exec ended before it started"),
    }
    if a.detach {
        return Ok(0);
    }
    let _raw = if a.tty && a.interactive {
        RawMode::enter()?
    } else {
        None
    };
    if a.tty {
        super::attach::spawn_resize_forwarder(tx.clone(), |size| ExecProcessRequest {
            msg: Some(exec_process_request::Msg::Resize(size)),
        });
    }
    if a.interactive {
        super::attach::spawn_stdin_forwarder(
            tx.clone(),
            |b| ExecProcessRequest {
                msg: Some(exec_process_request::Msg::Stdin(b)),
            },
            || ExecProcessRequest {
                msg: Some(exec_process_request::Msg::CloseStdin(true)),
            },
        );
    }
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut exit = None;
    while let Some(msg) = inbound.message().await.map_err(super::daemon_error)? {
        match msg.msg {
            Some(exec_process_response::Msg::Stdout(b)) => {
                super::write_flushed(&mut stdout, &b).await?;
            }
            Some(exec_process_response::Msg::Stderr(b)) => {
                super::write_flushed(&mut stderr, &b).await?;
            }
            Some(exec_process_response::Msg::Exit(e)) => {
                exit = Some(e);
                break;
            }
            _ => {}
        }
    }
    drop(tx);
    Ok(match exit {
        Some(e) if e.known => e.exit_code,
        _ => 125,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_skip_comments_and_blank_lines() {
        assert_eq!(
            parse_env_file("# c\nA=1\n\n  B=2\nC\n"),
            vec!["A=1", "B=2", "C"]
        );
    }
}
