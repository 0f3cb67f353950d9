//! `berth run` and `berth create`.

use super::attach::{attach_and_wait, AttachOptions};
use super::container_opts::ContainerFlags;
use super::daemon_error;
use crate::containers::exit_code as start_failure;
use anyhow::Context;
use berth_proto::v1::{self as pb, containers_client::ContainersClient, tasks_client::TasksClient};
use tonic::transport::Channel;

/// `berth run` flags.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Container options, image and command.
    #[command(flatten)]
    pub flags: ContainerFlags,
}

/// `berth create` flags.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Container options, image and command.
    #[command(flatten)]
    pub flags: ContainerFlags,
}

/// The reference as Docker prints it in "Unable to find image": with `:latest` when untagged.
pub fn display_reference(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Creates the container, pulling its image first when it is not present locally.
async fn create_pulling(
    ch: &Channel,
    ctx: &super::CliContext,
    flags: &ContainerFlags,
) -> anyhow::Result<pb::Container> {
    let req = flags.to_request()?;
    let mut containers = ContainersClient::new(ch.clone());
    match containers.create(req.clone()).await {
        Ok(resp) => {
            return resp
                .into_inner()
                .container
                .context("daemon returned no container")
        }
        Err(s) if s.code() == tonic::Code::NotFound && s.message().contains("No such image") => {}
        Err(s) => return Err(create_error(s)),
    }
    eprintln!(
        "Unable to find image '{}' locally",
        display_reference(&flags.image)
    );
    super::pull::pull_image(ctx, &display_reference(&flags.image), None, false)
        .await
        .map_err(|e| {
            anyhow::Error::new(super::exit_code::ExitCodeError {
                code: 125,
                message: format!("{e:#}"),
            })
        })?;
    let resp = containers.create(req).await.map_err(create_error)?;
    resp.into_inner()
        .container
        .context("daemon returned no container")
}

/// A create the daemon refused (bad option, name or port in use): Docker's exit code 125.
fn create_error(s: tonic::Status) -> anyhow::Error {
    anyhow::Error::new(super::exit_code::ExitCodeError {
        code: 125,
        message: format!("{:#}", daemon_error(s)),
    })
}

/// `berth create`: prints the new id.
pub async fn create(ch: Channel, ctx: &super::CliContext, args: CreateArgs) -> anyhow::Result<i32> {
    let c = create_pulling(&ch, ctx, &args.flags).await?;
    println!("{}", c.id);
    Ok(0)
}

/// `berth run`: create, start, and (unless `-d`) stream output and exit with the container's code.
pub async fn run(ch: Channel, ctx: &super::CliContext, args: RunArgs) -> anyhow::Result<i32> {
    let c = create_pulling(&ch, ctx, &args.flags)
        .await
        .map_err(create_failed)?;
    let mut tasks = TasksClient::new(ch.clone());
    if args.detach {
        tasks
            .start(pb::StartTaskRequest {
                container_id: c.id.clone(),
            })
            .await
            .map_err(start_error)?;
        println!("{}", c.id);
        return Ok(0);
    }
    tasks
        .create(pb::CreateTaskRequest {
            container_id: c.id.clone(),
        })
        .await
        .map_err(start_error)?;
    let code = attach_and_wait(
        ch.clone(),
        AttachOptions {
            id: c.id.clone(),
            stdin: args.flags.interactive,
            tty: args.flags.tty,
            start: true,
        },
    )
    .await?;
    if args.flags.rm {
        wait_removed(&ch, &c.id).await;
    }
    Ok(code)
}

/// Waits (bounded) until the daemon has removed a `--rm` container, so that when `run` returns
/// the container is gone, as with Docker.
async fn wait_removed(ch: &Channel, id: &str) {
    let mut containers = ContainersClient::new(ch.clone());
    for _ in 0..600 {
        match containers
            .get(pb::GetContainerRequest { id: id.to_string() })
            .await
        {
            Err(s) if s.code() == tonic::Code::NotFound => return,
            Err(_) => return,
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

/// A `run` whose container could not be created exits 125, as Docker's (the daemon's refusal,
/// e.g. an unusable image file); an unreachable daemon keeps its own message and code.
fn create_failed(e: anyhow::Error) -> anyhow::Error {
    if e.is::<super::exit_code::ExitCodeError>() || e.is::<super::DaemonUnreachable>() {
        return e;
    }
    anyhow::Error::new(super::exit_code::ExitCodeError {
        code: 125,
        message: format!("{e:#}"),
    })
}

/// A failed start exits with the code berthd decided (Docker's 127 for a missing program, 126
/// for one that cannot run, 125 otherwise), carried in the status; 125 when it carries none. The
/// code travels in the error for `main` to use.
pub fn start_error(s: tonic::Status) -> anyhow::Error {
    let code = start_failure::code_of(&s).unwrap_or(start_failure::RUNTIME_FAILED);
    anyhow::Error::new(super::exit_code::ExitCodeError {
        code,
        message: format!("Error response from daemon: {}", s.message()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_get_latest() {
        assert_eq!(display_reference("hello-world"), "hello-world:latest");
        assert_eq!(
            display_reference("127.0.0.1:5000/busybox"),
            "127.0.0.1:5000/busybox:latest"
        );
        assert_eq!(display_reference("busybox:1.36"), "busybox:1.36");
        assert_eq!(display_reference("a/b@sha256:00"), "a/b@sha256:00");
    }

    // The rule's own assertions moved with it to containers/exit_code.rs; here the client
    // takes the code from the status, not from the text.
    #[test]
    fn start_errors_exit_with_the_code_berthd_sent() {
        let code = |s| crate::cli::exit_code::exit_code_of(&start_error(s), 0);
        assert_eq!(
            code(start_failure::start_failure_status(126, "anything".into())),
            126
        );
        assert_eq!(
            code(tonic::Status::failed_precondition(
                "exec: \"foo\": executable file not found in $PATH"
            )),
            125
        );
    }
}
