//! OCI runtime bundles: a `config.json` generated from an image config and run options (with
//! Docker's defaults and rules), and the bundle directory around it (see [`files`]).

pub mod defaults;
pub mod devices;
pub mod files;
pub mod init;
pub mod pod;
pub mod process;
pub mod resources;
pub mod seccomp;
pub mod security;
pub mod tmpfs;
pub mod user;
pub mod volumes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::limits::ResourceLimits;
use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{LinuxBuilder, ProcessBuilder, RootBuilder, Spec, UserBuilder};

pub use files::{create_bundle_dir, write_bundle};

/// What `berth run` / `create` asks for on top of the image's defaults.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The container id (required).
    pub container_id: String,
    /// Arguments replacing the image's Cmd (empty: keep Cmd).
    pub args: Vec<String>,
    /// `--entrypoint`: replaces the image's Entrypoint and drops its Cmd (`Some(vec![])` clears).
    pub entrypoint: Option<Vec<String>>,
    /// `-e KEY=VALUE` entries, added to (or replacing) the image's Env.
    pub env: Vec<String>,
    /// `-v SRC:DST[:ro|rw]` bind mounts.
    pub volumes: Vec<String>,
    /// `--user name|uid[:group|gid]` (default: the image's User, else root).
    pub user: Option<String>,
    /// `--workdir` (default: the image's WorkingDir, else `/`).
    pub workdir: Option<String>,
    /// `--hostname` (default: the first 12 characters of the container id).
    pub hostname: Option<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// `--read-only`: mount the rootfs read-only.
    pub read_only: bool,
    /// Labels, written as annotations.
    pub labels: HashMap<String, String>,
    /// cgroups path (default: `/berth/<id>`).
    pub cgroups_path: Option<String>,
    /// Network namespace and the /etc files that describe the network.
    pub network: NetworkSetup,
    /// Other namespaces entered by path instead of created: (`ipc` | `uts` | `pid`, path),
    /// e.g. a CRI pod's sandbox's; an empty path means the host's (no namespace of that type).
    pub join_namespaces: Vec<(String, PathBuf)>,
    /// `--memory`, `--cpus`, `--ulimit`, … (see [`resources`]).
    pub resources: ResourceLimits,
    /// `--cap-add`, `--privileged`, … (see [`security`]).
    pub security: security::Security,
    /// `--group-add` names, resolved from the image's /etc/group into more additional gids.
    pub group_add_names: Vec<String>,
    /// `--tmpfs PATH[:OPTIONS]` values (see [`tmpfs`]).
    pub tmpfs: Vec<String>,
    /// `--device HOST[:CONTAINER][:PERMISSIONS]` values (see [`devices`]).
    pub devices: Vec<String>,
    /// `--init`: [`init`]'s binary runs as pid 1 with the command as its child.
    pub init: bool,
    /// A CRI pod member's sysctls, devices, seccomp, … (see [`pod`]).
    pub pod: pod::PodSpec,
}

/// The strings of a JSON array in a spec (`process.env`, capability sets); anything else is empty.
pub fn string_array(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Which network namespace the container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetNamespace {
    /// A new one made by the runtime (loopback only, and down).
    #[default]
    New,
    /// An existing one, entered by path (berthd's pinned namespaces, another container's).
    Join(PathBuf),
    /// The host's (`--network host`): no network namespace.
    Host,
}

/// The network side of a bundle (`--network`, `--add-host`, `--dns`, `--dns-search`).
#[derive(Debug, Clone, Default)]
pub struct NetworkSetup {
    /// The namespace.
    pub namespace: NetNamespace,
    /// `--add-host NAME:IP` entries, as (name, ip).
    pub extra_hosts: Vec<(String, String)>,
    /// `--dns` servers (replace the host's).
    pub dns: Vec<String>,
    /// `--dns-search` domains (replace the host's search list).
    pub dns_search: Vec<String>,
    /// `--network container:NAME`: that container's bundle, whose hostname, hosts and
    /// resolv.conf are bind-mounted instead of this container's own.
    pub share_files_from: Option<PathBuf>,
}

/// Bundle generation failures.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Neither the image nor the options give a command.
    #[error(
        "no command specified: the image has no Entrypoint or Cmd and no arguments were given"
    )]
    NoCommand,
    /// The user is not in the image's /etc/passwd and is not numeric.
    #[error("unable to find user {user:?}: {reason}")]
    UnknownUser {
        /// The user asked for.
        user: String,
        /// Why it was not found.
        reason: String,
    },
    /// The group is not in the image's /etc/group and is not numeric.
    #[error("unable to find group {group:?}: no matching entry in the image's /etc/group")]
    UnknownGroup {
        /// The group asked for.
        group: String,
    },
    /// A `-v` value is malformed or its source is missing.
    #[error("invalid volume {spec:?}: {reason}")]
    InvalidVolume {
        /// The value as given.
        spec: String,
        /// Why.
        reason: String,
    },
    /// Another option is malformed.
    #[error("invalid {option}: {reason}")]
    InvalidOption {
        /// Which option.
        option: String,
        /// Why.
        reason: String,
    },
    /// An option refused with the Docker daemon's or client's own message.
    #[error("{0}")]
    Refused(String),
    /// oci-spec refused to build part of the spec.
    #[error("building the runtime spec: {0}")]
    Spec(String),
    /// A file the bundle needs from the image (`/etc/passwd`, a mount point) is unusable.
    #[error("image file: {0}")]
    ImageFile(#[from] crate::rootfs_fs::FileError),
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn spec_err(e: impl std::fmt::Display) -> BundleError {
    BundleError::Spec(e.to_string())
}

/// Docker's default hostname: the first 12 characters of the container id.
pub fn default_hostname(id: &str) -> String {
    id.chars().take(12).collect()
}

/// The working directory: option, image, `/`; must be absolute.
fn working_dir(image: Option<&str>, opt: Option<&str>) -> Result<String, BundleError> {
    let wd = opt.or(image).filter(|s| !s.is_empty()).unwrap_or("/");
    if !wd.starts_with('/') {
        return Err(BundleError::InvalidOption {
            option: "workdir".into(),
            reason: format!("{wd:?} is not an absolute path"),
        });
    }
    Ok(wd.to_string())
}

/// Generates the runtime spec for a container of `image_config` whose rootfs is mounted at
/// `rootfs_mount` (read for /etc/passwd and /etc/group, and used as `root.path`).
pub fn generate(
    image_config: &ImageConfiguration,
    rootfs_mount: &Path,
    opts: &RunOptions,
) -> Result<Spec, BundleError> {
    if opts.container_id.is_empty() {
        return Err(BundleError::InvalidOption {
            option: "container id".into(),
            reason: "empty".into(),
        });
    }
    let empty = oci_spec::image::Config::default();
    let ic = image_config.config().as_ref().unwrap_or(&empty);
    let none: Vec<String> = Vec::new();
    let args = process::command(
        ic.entrypoint().as_ref().unwrap_or(&none),
        ic.cmd().as_ref().unwrap_or(&none),
        opts.entrypoint.as_deref(),
        &opts.args,
    )?;
    let user_spec = opts
        .user
        .clone()
        .or_else(|| ic.user().clone())
        .unwrap_or_default();
    let user = user::resolve_user(rootfs_mount, &user_spec)?;
    let hostname = opts
        .hostname
        .clone()
        .unwrap_or_else(|| default_hostname(&opts.container_id));
    let mut defaults = vec![
        ("HOSTNAME", hostname.as_str()),
        ("HOME", user.home.as_str()),
    ];
    if opts.tty {
        defaults.push(("TERM", "xterm"));
    }
    let env = process::environment(ic.env().as_ref().unwrap_or(&none), &opts.env, &defaults)?;
    let cwd = working_dir(ic.working_dir().as_deref(), opts.workdir.as_deref())?;

    let mut mounts = defaults::mounts()?;
    for v in &opts.volumes {
        let v = volumes::parse_volume(v)?;
        mounts.push(defaults::bind(&v.source, &v.destination, v.read_only)?);
    }
    for t in &opts.tmpfs {
        let t = tmpfs::parse_tmpfs(t)?;
        mounts.push(
            oci_spec::runtime::MountBuilder::default()
                .destination(&t.destination)
                .typ("tmpfs")
                .source("tmpfs")
                .options(t.options)
                .build()
                .map_err(spec_err)?,
        );
    }

    let process = ProcessBuilder::default()
        .terminal(opts.tty)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids.clone())
                .build()
                .map_err(spec_err)?,
        )
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(defaults::capabilities()?)
        .rlimits(defaults::rlimits()?)
        .no_new_privileges(false)
        .build()
        .map_err(spec_err)?;
    let cgroups_path = opts
        .cgroups_path
        .clone()
        .unwrap_or_else(|| format!("/berth/{}", opts.container_id));
    let mut namespaces = defaults::namespaces()?;
    match &opts.network.namespace {
        NetNamespace::New => {}
        NetNamespace::Host => {
            namespaces.retain(|n| n.typ() != oci_spec::runtime::LinuxNamespaceType::Network)
        }
        NetNamespace::Join(path) => {
            for n in namespaces.iter_mut() {
                if n.typ() == oci_spec::runtime::LinuxNamespaceType::Network {
                    n.set_path(Some(path.clone()));
                }
            }
        }
    }
    for (kind, path) in &opts.join_namespaces {
        use oci_spec::runtime::LinuxNamespaceType as T;
        let typ = match kind.as_str() {
            "ipc" => T::Ipc,
            "uts" => T::Uts,
            "pid" => T::Pid,
            other => {
                return Err(BundleError::InvalidOption {
                    option: "namespace".into(),
                    reason: format!("cannot join a {other} namespace by path"),
                })
            }
        };
        if path.as_os_str().is_empty() {
            // No path: share the host's (runtimes join a host namespace by not creating one).
            namespaces.retain(|n| n.typ() != typ);
            continue;
        }
        for n in namespaces.iter_mut() {
            if n.typ() == typ {
                n.set_path(Some(path.clone()));
            }
        }
    }
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(
            defaults::MASKED_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            defaults::READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        )
        .cgroups_path(PathBuf::from(cgroups_path))
        .resources(defaults::resources()?)
        .build()
        .map_err(spec_err)?;
    let root = RootBuilder::default()
        .path(rootfs_mount)
        .readonly(opts.read_only)
        .build()
        .map_err(spec_err)?;

    let mut spec = Spec::default();
    spec.set_version("1.0.2".to_string());
    spec.set_root(Some(root));
    spec.set_process(Some(process));
    spec.set_hostname(Some(hostname));
    spec.set_mounts(Some(mounts));
    spec.set_linux(Some(linux));
    spec.set_hooks(None);
    spec.set_annotations((!opts.labels.is_empty()).then(|| opts.labels.clone()));
    let mut sec = opts.security.clone();
    for gid in user::resolve_groups(rootfs_mount, &opts.group_add_names)? {
        if !sec.group_add.contains(&gid) {
            sec.group_add.push(gid);
        }
    }
    if opts.resources != ResourceLimits::default()
        || sec != security::Security::default()
        || !opts.devices.is_empty()
        || opts.pod != pod::PodSpec::default()
    {
        let mut j = serde_json::to_value(&spec).map_err(spec_err)?;
        resources::apply(&mut j, &opts.resources)?;
        security::apply(&mut j, &sec)?;
        devices::apply(&mut j, &opts.devices, sec.privileged)?;
        pod::apply(&mut j, &opts.pod)?;
        spec = serde_json::from_value(j).map_err(spec_err)?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests;
