//! `berth cp`: copy files between a container and the local file system, as tar streams
//! (Docker's `cp`). The container side is resolved by berthd inside the container root; the
//! local side is written with the same confined walker, rooted at the destination directory.

use super::exit_code::ExitCodeError;
use crate::container_fs::{archive, extract, stream};
use crate::rootfs_fs::{RelPath, Root};
use anyhow::Context;
use berth_proto::v1::{self as pb, copy_to_request, files_client::FilesClient};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tonic::transport::Channel;

/// `berth cp` arguments.
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"
)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Source: CONTAINER:SRC_PATH, a local path, or - (a tar on stdin)
    pub src: String,
    /// Destination: CONTAINER:DEST_PATH, a local path, or - (a tar on stdout)
    pub dest: String,
}

/// `CONTAINER:PATH` split, or `None` for a local path (one with a `/` before any `:`).
fn container_path(arg: &str) -> Option<(&str, &str)> {
    let (c, p) = arg.split_once(':')?;
    if c.is_empty() || c.contains('/') {
        return None;
    }
    Some((c, p))
}

/// A daemon error as `cp` exits with it: 125 for a refused path (escape), 1 otherwise.
fn cp_error(s: tonic::Status) -> anyhow::Error {
    let code = if s.code() == tonic::Code::InvalidArgument {
        125
    } else {
        1
    };
    anyhow::Error::new(ExitCodeError {
        code,
        message: format!("Error response from daemon: {}", s.message()),
    })
}

/// The directory a local path is in: `.` for a bare name.
fn local_parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

fn usage_error(msg: &str) -> anyhow::Error {
    anyhow::Error::new(ExitCodeError {
        code: 1,
        message: msg.to_string(),
    })
}

/// `berth cp`.
pub async fn cp(ch: Channel, args: CpArgs) -> anyhow::Result<i32> {
    match (container_path(&args.src), container_path(&args.dest)) {
        (Some((c, p)), None) => copy_from(ch, c, p, &args.dest, &args).await,
        (None, Some((c, p))) => copy_to(ch, &args.src, c, p, &args).await,
        (Some(_), Some(_)) => Err(usage_error("copying between containers is not supported")),
        (None, None) => Err(usage_error("must specify at least one container source")),
    }
}

async fn copy_from(
    ch: Channel,
    container: &str,
    path: &str,
    dest: &str,
    opts: &CpArgs,
) -> anyhow::Result<i32> {
    let quiet = opts.quiet;
    let mut s = FilesClient::new(ch)
        .copy_from(pb::CopyFromRequest {
            container_id: container.to_string(),
            path: path.to_string(),
            follow_link: opts.follow_link,
        })
        .await
        .map_err(cp_error)?
        .into_inner();
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let dest_owned = dest.to_string();
    let sink = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut input = stream::ChannelReader::new(rx);
        if dest_owned == "-" {
            std::io::copy(&mut input, &mut std::io::stdout().lock())
                .context("writing to stdout")?;
            return Ok(());
        }
        let d = Path::new(&dest_owned);
        let (dir, rename): (PathBuf, Option<OsString>) = if d.is_dir() {
            (d.to_path_buf(), None)
        } else {
            let parent = local_parent(d);
            let name = d
                .file_name()
                .with_context(|| format!("invalid destination {dest_owned}"))?;
            (parent.to_path_buf(), Some(name.to_os_string()))
        };
        let root =
            Root::open(&dir).with_context(|| format!("destination directory {}", dir.display()))?;
        let top = RelPath::parse(Path::new("/")).context("root path")?;
        // As Docker's client: what lands on the local side belongs to whoever runs `cp`.
        extract::extract_tar(
            &root,
            &top,
            rename.as_deref(),
            extract::Owners::Caller,
            input,
        )?;
        Ok(())
    });
    let mut bytes = 0u64;
    let mut failed = None;
    loop {
        match s.message().await {
            Ok(Some(c)) => {
                bytes += c.data.len() as u64;
                if tx.send(c.data).await.is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(st) => {
                failed = Some(st);
                break;
            }
        }
    }
    drop(tx);
    let local = sink.await.context("copy task")?;
    if let Some(st) = failed {
        return Err(cp_error(st));
    }
    local?;
    if !quiet && dest != "-" {
        eprintln!(
            "Successfully copied {} to {dest}",
            super::format::human_size(bytes)
        );
    }
    Ok(0)
}

async fn copy_to(
    ch: Channel,
    src: &str,
    container: &str,
    path: &str,
    opts: &CpArgs,
) -> anyhow::Result<i32> {
    let quiet = opts.quiet;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let src_owned = src.to_string();
    let follow = opts.follow_link;
    let producer = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut w = stream::ChannelWriter::new(tx);
        if src_owned == "-" {
            std::io::copy(&mut std::io::stdin().lock(), &mut w).context("reading stdin")?;
        } else {
            let given = Path::new(&src_owned);
            let name = given
                .file_name()
                .with_context(|| format!("invalid source {src_owned}"))?;
            // -L: the link's target is archived under the link's name (Docker's rebase).
            let target;
            let p = if follow && given.is_symlink() {
                target = std::fs::canonicalize(given)
                    .with_context(|| format!("following the link {src_owned}"))?;
                target.as_path()
            } else {
                given
            };
            let parent = local_parent(p);
            let root = Root::open(parent)
                .with_context(|| format!("source directory {}", parent.display()))?;
            let own = p.file_name().unwrap_or(name);
            let rel = RelPath::parse(Path::new(own)).context("source name")?;
            w = archive::write_tar(&root, &rel, Path::new(name), &src_owned, "(local)", w)
                .map_err(|e| match e {
                    crate::container_fs::CopyError::NotFound { .. } => {
                        anyhow::anyhow!("lstat {src_owned}: no such file or directory")
                    }
                    other => other.into(),
                })?;
        }
        std::io::Write::flush(&mut w).context("sending the archive")?;
        Ok(())
    });
    let (out_tx, out_rx) = tokio::sync::mpsc::channel::<pb::CopyToRequest>(4);
    out_tx
        .send(pb::CopyToRequest {
            msg: Some(copy_to_request::Msg::Open(pb::CopyToOpen {
                container_id: container.to_string(),
                path: path.to_string(),
                copy_uid_gid: opts.archive,
            })),
        })
        .await
        .context("opening the copy")?;
    let forward = tokio::spawn(async move {
        let mut rx = rx;
        let mut bytes = 0u64;
        while let Some(data) = rx.recv().await {
            bytes += data.len() as u64;
            let msg = pb::CopyToRequest {
                msg: Some(copy_to_request::Msg::Data(data)),
            };
            if out_tx.send(msg).await.is_err() {
                break;
            }
        }
        bytes
    });
    let result = FilesClient::new(ch)
        .copy_to(tokio_stream::wrappers::ReceiverStream::new(out_rx))
        .await;
    let local = producer.await.context("copy task")?;
    let bytes = forward.await.unwrap_or(0);
    local.map_err(|e| usage_error(&format!("{e:#}")))?;
    result.map_err(cp_error)?;
    if !quiet && src != "-" {
        eprintln!(
            "Successfully copied {} to {container}:{path}",
            super::format::human_size(bytes)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn container_paths_are_told_from_local_ones() {
        assert_eq!(super::container_path("web:/etc"), Some(("web", "/etc")));
        assert_eq!(super::container_path("./a:b"), None);
        assert_eq!(super::container_path("/tmp/x"), None);
        assert_eq!(super::container_path(":x"), None);
    }
}
