//! `berth run` and `berth create`.

use super::attach::{attach_and_wait_traced, AttachOptions};
use super::container_opts::ContainerFlags;
use super::daemon_error;
use super::explain::{ExplainFormat, Trace};
use crate::containers::exit_code as start_failure;
use anyhow::Context;
use berth_proto::v1::{
    self as pb, containers_client::ContainersClient, events_client::EventsClient,
    tasks_client::TasksClient,
};
use std::time::Instant;
use tonic::transport::Channel;

/// `berth run` flags.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Run in the background and print the container id.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// After the container's output, print on stderr what berth and berthd did, step by step,
    /// with each step's milliseconds (`--explain=json` for tools).
    #[arg(
        long,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    pub explain: Option<ExplainFormat>,
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
    create_pulling_traced(ch, ctx, flags, &mut Trace::default()).await
}

/// [`create_pulling`], adding its steps to `trace`.
async fn create_pulling_traced(
    ch: &Channel,
    ctx: &super::CliContext,
    flags: &ContainerFlags,
    trace: &mut Trace,
) -> anyhow::Result<pb::Container> {
    let req = flags.to_request()?;
    let mut containers = ContainersClient::new(ch.clone());
    let t = Instant::now();
    match containers.create(req.clone()).await {
        Ok(resp) => {
            let resp = resp.into_inner();
            trace.call(
                "container created",
                "Containers.Create: image found locally",
                t.elapsed(),
                resp.steps,
            );
            return resp.container.context("daemon returned no container");
        }
        Err(s) if s.code() == tonic::Code::NotFound && s.message().contains("No such image") => {
            trace.step(
                "image not found locally",
                format!("Containers.Create: {}", s.message()),
                Some(t.elapsed()),
            );
        }
        Err(s) => return Err(create_error(s)),
    }
    eprintln!(
        "Unable to find image '{}' locally",
        display_reference(&flags.image)
    );
    let t = Instant::now();
    let (pulled, counts) = super::pull::pull_image_counted(
        ctx,
        &display_reference(&flags.image),
        None,
        super::progress::ProgressView::stderr(),
    )
    .await
    .map_err(|e| {
        anyhow::Error::new(super::exit_code::ExitCodeError {
            code: 125,
            message: format!("{e:#}"),
        })
    })?;
    trace.step(
        "image pulled",
        format!(
            "Images.Pull {} ({}): {} layer(s) downloaded, {}, {} already present",
            pulled.name,
            pulled.digest,
            counts.downloaded_layers,
            super::explain::bytes(counts.downloaded_bytes),
            counts.existing_layers
        ),
        Some(t.elapsed()),
    );
    let t = Instant::now();
    let resp = containers
        .create(req)
        .await
        .map_err(create_error)?
        .into_inner();
    trace.call(
        "container created",
        "Containers.Create with the pulled image",
        t.elapsed(),
        resp.steps,
    );
    resp.container.context("daemon returned no container")
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
    let began = Instant::now();
    let mut trace = Trace::default();
    if let Some(connect) = super::connect::first_connect() {
        trace.step(
            "client -> daemon",
            format!("gRPC connection to unix://{}", ctx.address.display()),
            Some(connect),
        );
    }
    let c = create_pulling_traced(&ch, ctx, &args.flags, &mut trace)
        .await
        .map_err(create_failed)?;
    let mut tasks = TasksClient::new(ch.clone());
    if args.detach {
        let t = Instant::now();
        let resp = tasks
            .start(pb::StartTaskRequest {
                container_id: c.id.clone(),
            })
            .await
            .map_err(start_error)?
            .into_inner();
        trace.call(
            "task created and started",
            format!("Tasks.Start: pid {}", resp.pid),
            t.elapsed(),
            resp.steps,
        );
        println!("{}", c.id);
        trace.step(
            "running in the background",
            format!("berth logs / stop / rm {}", short_id(&c.id)),
            None,
        );
        explain(&args, trace, began);
        return Ok(0);
    }
    let t = Instant::now();
    let created = tasks
        .create(pb::CreateTaskRequest {
            container_id: c.id.clone(),
        })
        .await
        .map_err(start_error)?
        .into_inner();
    trace.call(
        "task created",
        format!("Tasks.Create: pid {} waits to start", created.pid),
        t.elapsed(),
        created.steps,
    );
    let (code, at) = attach_and_wait_traced(
        ch.clone(),
        AttachOptions {
            id: c.id.clone(),
            stdin: args.flags.interactive,
            tty: args.flags.tty,
            start: true,
        },
    )
    .await?;
    trace.step(
        "attached",
        "Tasks.Attach stream to the monitor opened before the start",
        Some(at.attach),
    );
    if let Some(start) = at.start {
        trace.call("task started", "Tasks.Start", start, at.start_steps);
    }
    trace.step(
        "output streamed",
        format!(
            "{} stdout and {} stderr bytes copied until the exit",
            at.stdout_bytes, at.stderr_bytes
        ),
        Some(at.streamed),
    );
    if args.flags.rm {
        let t = Instant::now();
        wait_removed(&ch, &c.id).await;
        trace.step("exit code recorded", format!("exit code {code}"), None);
        trace.step(
            "container removed (--rm)",
            "berthd removed record, snapshot and bundle",
            Some(t.elapsed()),
        );
    } else {
        let t = Instant::now();
        let recorded = ContainersClient::new(ch.clone())
            .get(pb::GetContainerRequest { id: c.id.clone() })
            .await
            .ok()
            .and_then(|r| r.into_inner().container)
            .map(|c| super::format::status_text(c.status.as_ref()));
        trace.step(
            "exit code recorded",
            match recorded {
                Some(status) => format!("Containers.Get: {status}"),
                None => format!("exit code {code} (the record could not be read back)"),
            },
            Some(t.elapsed()),
        );
        trace.step(
            "container kept until rm",
            format!("berth rm {}", short_id(&c.id)),
            None,
        );
    }
    explain(&args, trace, began);
    Ok(code)
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Prints the explanation when asked, after everything the container wrote.
fn explain(args: &RunArgs, mut trace: Trace, began: Instant) {
    let Some(format) = args.explain else { return };
    trace.total = Some(began.elapsed() + super::connect::first_connect().unwrap_or_default());
    eprint!("{}", trace.render(format));
}

/// Waits (bounded) until the daemon has removed a `--rm` container, so that when `run` returns
/// the container is gone, as with Docker. The exit reaches `run` through the attach stream before
/// berthd removes the container, so the removal is awaited as its `ContainerDelete` event
/// (subscribed before the first look, so that a removal in between is not missed) rather than
/// by polling.
async fn wait_removed(ch: &Channel, id: &str) {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
    let mut containers = ContainersClient::new(ch.clone());
    let deletes = EventsClient::new(ch.clone())
        .subscribe(pb::SubscribeRequest {
            topics: vec!["/containers/delete".into()],
        })
        .await
        .ok()
        .map(tonic::Response::into_inner);
    let gone = |r: Result<_, tonic::Status>| r.is_err();
    if gone(
        containers
            .get(pb::GetContainerRequest { id: id.to_string() })
            .await,
    ) {
        return;
    }
    if let Some(mut deletes) = deletes {
        let removed = async {
            // A lagged subscriber may have missed the event: the look below settles it.
            while let Ok(Some(e)) = deletes.message().await {
                match e.event {
                    Some(pb::envelope::Event::ContainerDelete(d)) if d.id == id => return,
                    None if e.lagged > 0 => return,
                    _ => {}
                }
            }
        };
        if tokio::time::timeout(LIMIT, removed).await.is_err() {
            return;
        }
        // Removed, lagged, or the stream ended: the poll below confirms (at once if removed).
    }
    for _ in 0..(LIMIT.as_millis() / 50) {
        if gone(
            containers
                .get(pb::GetContainerRequest { id: id.to_string() })
                .await,
        ) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
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
