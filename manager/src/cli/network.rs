//! `berth network create|ls|inspect|rm|prune` and `berth port`.

use super::daemon_error;
use super::prune::confirm;
use berth_proto::v1::{
    self as pb, containers_client::ContainersClient, networks_client::NetworksClient,
};
use clap::Subcommand;
use serde_json::json;
use tonic::transport::Channel;

/// `berth network ...`.
#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls,
    /// Display detailed information on one or more networks.
    Inspect(NamesArgs),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
}

/// `network create` flags.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Subnet in CIDR format (default: a free /24 of the daemon's pool).
    #[arg(long)]
    pub subnet: Option<String>,
    /// Gateway for the subnet (default: its first address).
    #[arg(long)]
    pub gateway: Option<String>,
    /// Driver (only "bridge").
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Network name.
    pub name: String,
}

/// Network names.
#[derive(Debug, clap::Args)]
pub struct NamesArgs {
    /// Networks (name, id or id prefix).
    #[arg(required = true)]
    pub networks: Vec<String>,
}

/// `network prune` flags.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `berth port` arguments.
#[derive(Debug, clap::Args)]
pub struct PortArgs {
    /// Container.
    pub container: String,
    /// Only this container port: PORT[/PROTO].
    pub port: Option<String>,
}

impl NetworkCommand {
    /// Runs it; the result is the exit code.
    pub async fn run(self, ch: Channel) -> anyhow::Result<i32> {
        let mut c = NetworksClient::new(ch);
        match self {
            NetworkCommand::Create(a) => {
                if a.driver != "bridge" {
                    anyhow::bail!("Error response from daemon: plugin \"{}\" not found (berth networks use the bridge driver)", a.driver);
                }
                let n = c
                    .create(pb::CreateNetworkRequest {
                        name: a.name,
                        subnet: a.subnet.unwrap_or_default(),
                        gateway: a.gateway.unwrap_or_default(),
                    })
                    .await
                    .map_err(daemon_error)?
                    .into_inner()
                    .network
                    .unwrap_or_default();
                println!("{}", n.id);
                Ok(0)
            }
            NetworkCommand::Ls => {
                let nets = c
                    .list(pb::ListNetworksRequest {})
                    .await
                    .map_err(daemon_error)?
                    .into_inner()
                    .networks;
                println!(
                    "{:<15}{:<20}{:<10}{:<20}SCOPE",
                    "NETWORK ID", "NAME", "DRIVER", "SUBNET"
                );
                for n in nets {
                    println!(
                        "{:<15}{:<20}{:<10}{:<20}local",
                        &n.id[..12.min(n.id.len())],
                        n.name,
                        n.driver,
                        n.subnet
                    );
                }
                Ok(0)
            }
            NetworkCommand::Inspect(a) => {
                let mut out = Vec::new();
                let mut code = 0;
                for name in a.networks {
                    match c.get(pb::GetNetworkRequest { name }).await {
                        Ok(r) => out.push(to_json(&r.into_inner().network.unwrap_or_default())),
                        Err(s) => {
                            eprintln!("{:#}", daemon_error(s));
                            code = 1;
                        }
                    }
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
                Ok(code)
            }
            NetworkCommand::Rm(a) => {
                let mut code = 0;
                for name in a.networks {
                    match c
                        .remove(pb::RemoveNetworkRequest { name: name.clone() })
                        .await
                    {
                        Ok(_) => println!("{name}"),
                        Err(s) => {
                            eprintln!("{:#}", daemon_error(s));
                            code = 1;
                        }
                    }
                }
                Ok(code)
            }
            NetworkCommand::Prune(a) => {
                if !a.force
                    && !confirm("WARNING! This will remove all custom networks not used by at least one container.")?
                {
                    return Ok(0);
                }
                let deleted = prune_networks(&mut c).await?;
                if !deleted.is_empty() {
                    println!("Deleted Networks:");
                    for d in deleted {
                        println!("{d}");
                    }
                }
                Ok(0)
            }
        }
    }
}

/// Removes unused user networks; returns their names.
pub async fn prune_networks(c: &mut NetworksClient<Channel>) -> anyhow::Result<Vec<String>> {
    Ok(c.prune(pb::PruneNetworksRequest {})
        .await
        .map_err(daemon_error)?
        .into_inner()
        .deleted)
}

fn to_json(n: &pb::Network) -> serde_json::Value {
    let containers: serde_json::Map<String, serde_json::Value> = n
        .containers
        .iter()
        .map(|c| {
            (
                c.id.clone(),
                json!({"IPv4Address": c.ipv4_address, "MacAddress": c.mac_address}),
            )
        })
        .collect();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created_at.as_ref().map(|t| chrono::DateTime::<chrono::Utc>::from(super::format::to_system_time(t)).to_rfc3339()),
        "Driver": n.driver,
        "Bridge": n.bridge,
        "IPAM": {"Driver": "host-local", "Config": [{"Subnet": n.subnet, "Gateway": n.gateway}]},
        "Containers": containers,
        "Users": n.users,
        "Builtin": n.builtin,
    })
}

/// The container's published ports as `ps` shows them (only while its network is up).
pub fn ports_text(c: &pb::Container) -> String {
    match &c.network_settings {
        Some(ns) if ns.attached => ns
            .ports
            .iter()
            .map(|p| {
                format!(
                    "{}:{}->{}/{}",
                    p.host_ip, p.host_port, p.container_port, p.protocol
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// `berth port CONTAINER [PORT[/PROTO]]`: `80/tcp -> 0.0.0.0:8080` lines.
pub async fn port(ch: Channel, a: PortArgs) -> anyhow::Result<i32> {
    let c = ContainersClient::new(ch)
        .get(pb::GetContainerRequest {
            id: a.container.clone(),
        })
        .await
        .map_err(daemon_error)?
        .into_inner()
        .container
        .unwrap_or_default();
    let ns = c.network_settings.clone().unwrap_or_default();
    let want = a.port.as_deref().map(|p| {
        let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        (port.to_string(), proto.to_string())
    });
    let mut found = false;
    if ns.attached {
        for p in &ns.ports {
            if let Some((port, proto)) = &want {
                if &p.container_port.to_string() != port || &p.protocol != proto {
                    continue;
                }
                println!("{}:{}", p.host_ip, p.host_port);
            } else {
                println!(
                    "{}/{} -> {}:{}",
                    p.container_port, p.protocol, p.host_ip, p.host_port
                );
            }
            found = true;
        }
    }
    if !found {
        if let Some((port, proto)) = want {
            anyhow::bail!(
                "Error: No public port '{port}/{proto}' published for {}",
                a.container
            );
        }
    }
    Ok(0)
}
