//! Building the container subsystem from the daemon's configuration and stores, recovering it
//! after a restart, and the gRPC services it adds.

use crate::api::{ContainersService, TasksService};
use crate::config::Config;
use crate::containers::rootfs_backend::ImageRootfs;
use crate::containers::store::ContainerStore;
use crate::containers::task_backend::{exit_info, ManagedTasks};
use crate::containers::Containers;
use crate::events::{EventBus, EventsService};
use crate::images::usage::{ImageUsage, ImageUser};
use crate::images::ImageService;
use crate::metadata::Metadata;
use crate::tasks::{TaskManager, TaskManagerConfig};
use crate::unpack::UnpackLimits;
use berth_proto::v1::{
    containers_server::ContainersServer, events_server::EventsServer, tasks_server::TasksServer,
};
use std::sync::Arc;

/// Failures building the container subsystem.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// The task manager could not be set up (runtime or monitor binary missing, state dir).
    #[error("task manager: {0}")]
    Tasks(#[from] crate::tasks::TaskError),
    /// The snapshotter could not be opened.
    #[error("snapshotter: {0}")]
    Snapshots(#[from] crate::snapshots::SnapshotError),
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(#[from] crate::metadata::MetadataError),
    /// The network subsystem could not be set up (bad `[network]` settings).
    #[error("network: {0}")]
    Network(#[from] crate::network::NetworkError),
    /// A bad `[logs]` section.
    #[error("config: {0}")]
    Logs(#[from] crate::containers::ContainerError),
}

/// Containers, tasks and events of one daemon.
#[derive(Clone)]
pub struct ContainerSystem {
    /// The container manager.
    pub containers: Arc<Containers>,
    /// The event bus (images publish pulls/deletes here too).
    pub events: EventBus,
    /// Container networking.
    pub networks: Arc<crate::network::Networks>,
    tasks: TaskManager,
}

/// Tells the image service which containers use an image (so `rmi` refuses them).
struct ContainerImageUsage(ContainerStore);

impl ImageUsage for ContainerImageUsage {
    fn users(&self, name: &str) -> Result<Vec<ImageUser>, String> {
        let all = self.0.list().map_err(|e| e.to_string())?;
        Ok(all
            .into_iter()
            .filter(|r| r.image == name)
            .map(|r| ImageUser {
                running: r
                    .last_run
                    .as_ref()
                    .is_some_and(|l| l.started_at.is_some() && l.finished_at.is_none()),
                container_id: r.id,
            })
            .collect())
    }
}

impl ContainerSystem {
    /// Builds everything from the config; call inside the tokio runtime.
    pub fn open(
        config: &Config,
        metadata: &Metadata,
        images: &ImageService,
        snapshotter: Arc<dyn crate::snapshots::Snapshotter>,
    ) -> Result<Self, WiringError> {
        let events = EventBus::new();
        let tm = TaskManager::new(TaskManagerConfig::new(&config.state, &config.runtime)?)?;
        let store = ContainerStore::new(metadata.clone())?;
        images.set_usage(Arc::new(ContainerImageUsage(store.clone())));
        let containers = Containers::new(
            store,
            config.root.clone(),
            config.runtime.clone(),
            Arc::new(ImageRootfs::new(
                images.clone(),
                snapshotter,
                UnpackLimits {
                    max_layer_size: config.unpack.max_layer_size,
                    max_layer_ratio: config.unpack.max_layer_ratio,
                },
            )),
            Arc::new(ManagedTasks::new(tm.clone())),
            events.clone(),
        );
        // Before the network is touched: a bad `[logs]` stops berthd with nothing set up.
        containers.set_log_defaults(config.logs.log_opts())?;
        let networks = crate::network::Networks::open(config, metadata)?;
        let records = ContainerStore::new(metadata.clone())?;
        networks.set_records(Box::new(move || records.list().unwrap_or_default()));
        containers.set_network(Arc::clone(&networks));
        containers.spawn_exit_handler();
        Ok(Self {
            containers,
            events,
            networks,
            tasks: tm,
        })
    }

    /// Picks up tasks of a previous berthd: live ones are watched again, exits that happened
    /// meanwhile are recorded on their containers (and `--rm` ones removed).
    pub async fn recover(&self) -> Result<(), WiringError> {
        for t in self.tasks.recover().await? {
            match t.exit {
                Some(exit) => {
                    self.containers
                        .on_exit(&t.info.id, &exit_info(&exit, t.info.pid))
                        .await
                }
                None => self.containers.adopt_execs(&t.info.id).await,
            }
        }
        // Networks of containers that are gone or stopped while berthd was down.
        let mut live = std::collections::HashSet::new();
        for rec in self.containers.records().unwrap_or_default() {
            if self.containers.is_live(&rec.id).await.unwrap_or(false) {
                live.insert(rec.id);
            }
        }
        self.networks.cleanup(&|id| live.contains(id)).await;
        self.containers.restart_on_boot().await;
        Ok(())
    }

    /// The Networks gRPC service.
    pub fn networks_service(
        &self,
    ) -> berth_proto::v1::networks_server::NetworksServer<crate::api::NetworksService> {
        berth_proto::v1::networks_server::NetworksServer::new(crate::api::NetworksService::new(
            Arc::clone(&self.networks),
            Arc::clone(&self.containers),
        ))
    }

    /// The Containers gRPC service.
    pub fn containers_service(&self) -> ContainersServer<ContainersService> {
        ContainersServer::new(ContainersService::new(Arc::clone(&self.containers)))
    }

    /// The Tasks gRPC service.
    pub fn tasks_service(&self) -> TasksServer<TasksService> {
        TasksServer::new(TasksService::new(Arc::clone(&self.containers)))
    }

    /// The Observe gRPC service (`stats`, `top`).
    pub fn observe_service(
        &self,
    ) -> berth_proto::v1::observe_server::ObserveServer<crate::api::ObserveService> {
        berth_proto::v1::observe_server::ObserveServer::new(crate::api::ObserveService::new(
            Arc::clone(&self.containers),
        ))
    }

    /// The Files gRPC service (`cp`).
    pub fn files_service(
        &self,
    ) -> berth_proto::v1::files_server::FilesServer<crate::api::FilesService> {
        berth_proto::v1::files_server::FilesServer::new(crate::api::FilesService::new(Arc::clone(
            &self.containers,
        )))
    }

    /// What the CRI front door shares with the berth.v1 API: the same images and containers.
    pub fn cri_context(
        &self,
        config: &Config,
        metadata: &Metadata,
        images: &ImageService,
    ) -> crate::cri::CriContext {
        let tasks = self.tasks.config();
        crate::cri::CriContext {
            runtime_binary: tasks.runtime.clone(),
            runtime_root: tasks.runtime_root.clone(),
            metadata: metadata.clone(),
            images: images.clone(),
            containers: Arc::clone(&self.containers),
            networks: Arc::clone(&self.networks),
            root: config.root.clone(),
            runtime: config.runtime.clone(),
            version: super::version::VERSION.to_string(),
        }
    }

    /// The Events gRPC service.
    pub fn events_service(&self) -> EventsServer<EventsService> {
        EventsServer::new(EventsService::new(self.events.clone()))
    }
}
