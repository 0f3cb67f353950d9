//! `berth container prune`, `image prune`, `system df`, `system prune`.

use super::daemon_error;
use super::format::human_size;
use berth_proto::v1::{
    self as pb, containers_client::ContainersClient, gc_client::GcClient,
    images_client::ImagesClient,
};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use tonic::transport::Channel;

/// Flags of the prune commands.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// (image/system prune) Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
}

/// Asks `[y/N]` on the terminal; anything but y/yes is no.
pub fn confirm(warning: &str) -> anyhow::Result<bool> {
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim().to_ascii_lowercase();
    Ok(answer == "y" || answer == "yes")
}

/// Deletes stopped containers; returns (ids, bytes).
async fn prune_containers(ch: &Channel) -> anyhow::Result<(Vec<String>, u64)> {
    let r = ContainersClient::new(ch.clone())
        .prune(pb::PruneContainersRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner();
    Ok((r.deleted, r.reclaimed_bytes))
}

/// Removes images no container uses (only untagged ones unless `all`); returns (lines, bytes).
async fn prune_images(ch: &Channel, all: bool) -> anyhow::Result<(Vec<String>, u64)> {
    let containers = super::lifecycle::list(ch, true).await?;
    let used: HashSet<String> = containers
        .iter()
        .flat_map(|c| [c.image.clone(), c.image_digest.clone()])
        .collect();
    let mut images = ImagesClient::new(ch.clone());
    let list = images
        .list(pb::ListImagesRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner()
        .images;
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    for img in list {
        let target = img
            .target
            .as_ref()
            .map(|t| t.digest.clone())
            .unwrap_or_default();
        let in_use =
            used.contains(&img.name) || used.contains(&target) || used.contains(&img.config_digest);
        let dangling = img.repository == "<none>" || img.tag.is_empty();
        if in_use || !(all || dangling) {
            continue;
        }
        let r = images
            .remove(pb::RemoveImageRequest {
                name: img.name.clone(),
                force: false,
            })
            .await
            .map_err(daemon_error)?
            .into_inner();
        lines.extend(r.untagged.iter().map(|u| format!("untagged: {u}")));
        lines.extend(r.deleted.iter().map(|d| format!("deleted: {d}")));
        if !r.deleted.is_empty() {
            bytes += img.size.max(0) as u64;
        }
    }
    Ok((lines, bytes))
}

/// Runs the daemon's garbage collection (snapshots and blobs no image, container or pull in
/// flight refers to); returns (lines, bytes).
async fn collect(ch: &Channel) -> anyhow::Result<(Vec<String>, u64)> {
    let r = GcClient::new(ch.clone())
        .collect(pb::GcCollectRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner();
    let lines = r
        .deleted_snapshots
        .iter()
        .map(|s| format!("deleted snapshot: {s}"))
        .chain(r.deleted_blobs.iter().map(|d| format!("deleted: {d}")))
        .collect();
    Ok((lines, r.reclaimed_bytes))
}

/// The images an image prune removes, as its warning names them.
fn images_scope(all: bool) -> &'static str {
    if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    }
}

/// An image prune: the images, then the snapshots and blobs they alone held; returns (lines,
/// bytes) of both.
async fn prune_images_and_collect(ch: &Channel, all: bool) -> anyhow::Result<(Vec<String>, u64)> {
    let (mut lines, bytes) = prune_images(ch, all).await?;
    let (gc_lines, gc_bytes) = collect(ch).await?;
    lines.extend(gc_lines);
    Ok((lines, bytes + gc_bytes))
}

/// Prints what a prune removed under `title` (nothing when it removed nothing), Docker's layout.
fn print_section(title: &str, removed: &[String]) {
    if removed.is_empty() {
        return;
    }
    println!("{title}");
    for r in removed {
        println!("{r}");
    }
    println!();
}

/// `berth container prune`.
pub async fn container_prune(ch: Channel, args: PruneArgs) -> anyhow::Result<i32> {
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let (ids, bytes) = prune_containers(&ch).await?;
    print_section("Deleted Containers:", &ids);
    println!("Total reclaimed space: {}", human_size(bytes));
    Ok(0)
}

/// `berth image prune`.
pub async fn image_prune(ch: Channel, args: PruneArgs) -> anyhow::Result<i32> {
    let warning = format!("WARNING! This will remove {}.", images_scope(args.all));
    if !args.force && !confirm(&warning)? {
        return Ok(0);
    }
    let (lines, bytes) = prune_images_and_collect(&ch, args.all).await?;
    print_section("Deleted Images:", &lines);
    println!("Total reclaimed space: {}", human_size(bytes));
    Ok(0)
}

/// `berth system prune`: stopped containers, then unused images.
pub async fn system_prune(ch: Channel, args: PruneArgs) -> anyhow::Result<i32> {
    let warning = format!(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - {}",
        images_scope(args.all)
    );
    if !args.force && !confirm(&warning)? {
        return Ok(0);
    }
    let (ids, cbytes) = prune_containers(&ch).await?;
    let nets = super::network::prune_networks(
        &mut berth_proto::v1::networks_client::NetworksClient::new(ch.clone()),
    )
    .await?;
    let (lines, ibytes) = prune_images_and_collect(&ch, args.all).await?;
    print_section("Deleted Containers:", &ids);
    print_section("Deleted Networks:", &nets);
    print_section("Deleted Images:", &lines);
    println!("Total reclaimed space: {}", human_size(cbytes + ibytes));
    Ok(0)
}

/// `berth system df`: images, containers and their sizes.
pub async fn system_df(ch: Channel) -> anyhow::Result<i32> {
    let images = ImagesClient::new(ch.clone())
        .list(pb::ListImagesRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner()
        .images;
    let containers = super::lifecycle::list(&ch, true).await?;
    let gc = GcClient::new(ch.clone())
        .usage(pb::GcUsageRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner();
    let usage = ContainersClient::new(ch)
        .usage(pb::ContainersUsageRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner()
        .containers;
    let used: HashSet<&str> = containers.iter().map(|c| c.image.as_str()).collect();
    let img_total: u64 = images.iter().map(|i| i.size.max(0) as u64).sum();
    let img_active = images
        .iter()
        .filter(|i| used.contains(i.name.as_str()))
        .count();
    let img_reclaimable: u64 = images
        .iter()
        .filter(|i| !used.contains(i.name.as_str()))
        .map(|i| i.size.max(0) as u64)
        .sum();
    let c_total: u64 = usage.iter().map(|u| u.rw_bytes + u.log_bytes).sum();
    let c_active = usage.iter().filter(|u| u.active).count();
    let c_reclaimable: u64 = usage
        .iter()
        .filter(|u| !u.active)
        .map(|u| u.rw_bytes + u.log_bytes)
        .sum();
    let pct = |part: u64, total: u64| (part * 100).checked_div(total).unwrap_or(0);
    println!(
        "{:<16}{:<8}{:<8}{:<12}RECLAIMABLE",
        "TYPE", "TOTAL", "ACTIVE", "SIZE"
    );
    println!(
        "{:<16}{:<8}{:<8}{:<12}{} ({}%)",
        "Images",
        images.len(),
        img_active,
        human_size(img_total),
        human_size(img_reclaimable),
        pct(img_reclaimable, img_total)
    );
    println!(
        "{:<16}{:<8}{:<8}{:<12}{} ({}%)",
        "Containers",
        usage.len(),
        c_active,
        human_size(c_total),
        human_size(c_reclaimable),
        pct(c_reclaimable, c_total)
    );
    // Unpacked layers and container trees: what `rmi` and the prunes collect.
    println!(
        "{:<16}{:<8}{:<8}{:<12}{} ({}%)",
        "Layer snapshots",
        gc.snapshots,
        gc.snapshots_in_use,
        human_size(gc.snapshot_bytes),
        human_size(gc.snapshot_reclaimable_bytes),
        pct(gc.snapshot_reclaimable_bytes, gc.snapshot_bytes)
    );
    Ok(0)
}
