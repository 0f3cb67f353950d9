//! Container manager logic against fake backends (no root needed).

use super::backend::*;
use super::record::RunOptions;
use super::store::ContainerStore;
use super::{ContainerError, Containers};
use crate::events::EventBus;
use berth_proto::v1 as pb;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct FakeRootfs {
    prepared: Mutex<Vec<String>>,
    fail_prepare: bool,
}

#[tonic::async_trait]
impl RootfsBackend for FakeRootfs {
    async fn resolve_image(&self, reference: &str) -> Result<ImageInfo, BackendError> {
        if reference == "busybox" {
            Ok(ImageInfo {
                name: "docker.io/library/busybox:latest".into(),
                digest: "sha256:00".into(),
                exposed_ports: vec![],
            })
        } else {
            Err(BackendError::not_found(format!(
                "No such image: {reference}"
            )))
        }
    }
    async fn prepare(
        &self,
        id: &str,
        _image: &ImageInfo,
        options: &RunOptions,
        bundle_dir: &Path,
    ) -> Result<PreparedRootfs, BackendError> {
        if self.fail_prepare {
            return Err(BackendError::internal("unpack: No space left on device"));
        }
        std::fs::write(bundle_dir.join("config.json"), b"{}").unwrap();
        self.prepared.lock().unwrap().push(id.to_string());
        Ok(PreparedRootfs {
            snapshot_key: id.to_string(),
            args: if options.cmd.is_empty() {
                vec!["sh".into()]
            } else {
                options.cmd.clone()
            },
        })
    }
    async fn remove(&self, key: &str, _bundle: &Path) -> Result<(), BackendError> {
        self.prepared.lock().unwrap().retain(|k| k != key);
        Ok(())
    }
    async fn usage(&self, _key: &str) -> Result<u64, BackendError> {
        Ok(10)
    }
}

struct FakeTasks {
    tasks: Mutex<HashMap<String, TaskInfo>>,
    exits: tokio::sync::broadcast::Sender<ExitEvent>,
    /// The init exits on its own just before a kill reaches the runtime, which then refuses it.
    exit_before_kill: std::sync::atomic::AtomicBool,
}

impl FakeTasks {
    fn new() -> Self {
        Self {
            tasks: Mutex::new(HashMap::new()),
            exits: tokio::sync::broadcast::channel(16).0,
            exit_before_kill: Default::default(),
        }
    }
    fn exit(&self, id: &str, code: i32) {
        let exit = ExitInfo {
            code: Some(code),
            exited_at: Some(std::time::SystemTime::now()),
            oom: false,
            pid: 42,
        };
        let mut t = self.tasks.lock().unwrap();
        let task = t.get_mut(id).unwrap();
        task.state = TaskState::Stopped;
        task.exit = Some(exit.clone());
        let _ = self.exits.send(ExitEvent {
            id: id.into(),
            exit,
        });
    }
}

#[tonic::async_trait]
impl TaskBackend for FakeTasks {
    async fn create(&self, spec: &TaskSpec) -> Result<u32, BackendError> {
        self.tasks.lock().unwrap().insert(
            spec.id.clone(),
            TaskInfo {
                id: spec.id.clone(),
                pid: 42,
                state: TaskState::Created,
                started_at: None,
                exit: None,
                log_path: None,
            },
        );
        Ok(42)
    }
    async fn start(&self, id: &str) -> Result<u32, BackendError> {
        let mut t = self.tasks.lock().unwrap();
        let task = t.get_mut(id).ok_or_else(|| BackendError::not_found(id))?;
        task.state = TaskState::Running;
        task.started_at = Some(std::time::SystemTime::now());
        Ok(42)
    }
    async fn get(&self, id: &str) -> Result<Option<TaskInfo>, BackendError> {
        Ok(self.tasks.lock().unwrap().get(id).cloned())
    }
    async fn list(&self) -> Result<Vec<TaskInfo>, BackendError> {
        Ok(self.tasks.lock().unwrap().values().cloned().collect())
    }
    async fn wait(&self, id: &str) -> Result<ExitInfo, BackendError> {
        self.tasks
            .lock()
            .unwrap()
            .get(id)
            .and_then(|t| t.exit.clone())
            .ok_or_else(|| BackendError::precondition("still running"))
    }
    async fn kill(&self, id: &str, signal: i32, _all: bool) -> Result<(), BackendError> {
        if self
            .exit_before_kill
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            self.exit(id, 1);
            return Err(BackendError::internal(format!(
                "berth-runc kill {id}: container not running"
            )));
        }
        self.exit(id, 128 + signal);
        Ok(())
    }
    async fn delete(&self, id: &str) -> Result<Option<ExitInfo>, BackendError> {
        Ok(self.tasks.lock().unwrap().remove(id).and_then(|t| t.exit))
    }
    async fn pause(&self, _id: &str) -> Result<(), BackendError> {
        Ok(())
    }
    async fn resume(&self, _id: &str) -> Result<(), BackendError> {
        Ok(())
    }
    async fn attach(&self, id: &str, _stdin: bool) -> Result<AttachIo, BackendError> {
        Err(BackendError::precondition(format!(
            "no attach in fake for {id}"
        )))
    }
    async fn resize(&self, _id: &str, _c: u16, _r: u16) -> Result<(), BackendError> {
        Ok(())
    }
    fn subscribe_exits(&self) -> tokio::sync::broadcast::Receiver<ExitEvent> {
        self.exits.subscribe()
    }
}

struct Fixture {
    root: PathBuf,
    rootfs: Arc<FakeRootfs>,
    tasks: Arc<FakeTasks>,
    c: Arc<Containers>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn fixture(fail_prepare: bool) -> Fixture {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let root = std::env::temp_dir().join(format!(
        "berth-containers-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&root).unwrap();
    let db = crate::metadata::Metadata::open(&root.join("meta.redb")).unwrap();
    let rootfs = Arc::new(FakeRootfs {
        fail_prepare,
        ..Default::default()
    });
    let tasks = Arc::new(FakeTasks::new());
    let c = Containers::new(
        ContainerStore::new(db).unwrap(),
        root.clone(),
        "berth-runc".into(),
        rootfs.clone(),
        tasks.clone(),
        EventBus::new(),
    );
    Fixture {
        root,
        rootfs,
        tasks,
        c,
    }
}

fn req(name: &str, image: &str) -> pb::CreateContainerRequest {
    pb::CreateContainerRequest {
        name: name.into(),
        image: image.into(),
        options: Some(pb::RunOptions::default()),
        labels: Default::default(),
    }
}

#[tokio::test]
async fn create_names_and_conflicts() {
    let f = fixture(false);
    let a = f.c.create(req("web", "busybox")).await.unwrap();
    assert_eq!(a.name, "web");
    assert_eq!(a.id.len(), 64);
    assert_eq!(a.args, vec!["sh".to_string()]);
    let err = f.c.create(req("web", "busybox")).await.unwrap_err();
    assert!(matches!(err, ContainerError::Conflict(_)));
    assert!(err
        .to_string()
        .contains("The container name \"/web\" is already in use by container"));
    let b = f.c.create(req("", "busybox")).await.unwrap();
    assert!(b.name.contains('_'), "{}", b.name);
    assert_eq!(f.c.list(true).await.unwrap().len(), 2);
    assert_eq!(f.c.list(false).await.unwrap().len(), 0);
    // prefix addressing
    assert_eq!(f.c.get(&a.id[..10]).await.unwrap().id, a.id);
    let status = f.c.get("web").await.unwrap().status.unwrap();
    assert_eq!(status.state, pb::ContainerState::Created as i32);
}

#[tokio::test]
async fn bad_input_leaves_nothing_behind() {
    let f = fixture(false);
    let err = f.c.create(req("x1", "nosuch")).await.unwrap_err();
    assert_eq!(tonic::Status::from(err).code(), tonic::Code::NotFound);
    let mut r = req("x2", "busybox");
    r.options.as_mut().unwrap().mounts.push(pb::BindMount {
        source: "/definitely/not/here".into(),
        destination: "/mnt".into(),
        readonly: false,
    });
    let err = f.c.create(r).await.unwrap_err();
    assert!(err
        .to_string()
        .contains("bind source path does not exist: /definitely/not/here"));
    let err = f.c.create(req("-bad", "busybox")).await.unwrap_err();
    assert!(err.to_string().contains("Invalid container name"));
    assert!(f.c.list(true).await.unwrap().is_empty());
    let dirs: Vec<_> = std::fs::read_dir(f.root.join("containers"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(dirs.is_empty(), "{dirs:?}");

    let g = fixture(true);
    let err = g.c.create(req("full", "busybox")).await.unwrap_err();
    assert!(err.to_string().contains("No space left on device"));
    assert!(g.c.list(true).await.unwrap().is_empty());
    assert!(std::fs::read_dir(g.root.join("containers"))
        .unwrap()
        .next()
        .is_none());
    // the name is free again
    assert!(g.c.create(req("full", "nosuch")).await.is_err());
}

/// Creates and starts the fake task of container `a`.
async fn start_task(f: &Fixture, a: &pb::Container) {
    f.tasks
        .create(&TaskSpec {
            id: a.id.clone(),
            bundle_dir: a.bundle_dir.clone().into(),
            tty: false,
            open_stdin: false,
            log_path: a.log_path.clone().into(),
            log: Default::default(),
        })
        .await
        .unwrap();
    f.tasks.start(&a.id).await.unwrap();
}

#[tokio::test]
async fn delete_refuses_running_unless_forced_and_cleans_up() {
    let f = fixture(false);
    let a = f.c.create(req("web", "busybox")).await.unwrap();
    start_task(&f, &a).await;
    assert_eq!(f.c.list(false).await.unwrap().len(), 1);
    let err = f.c.delete("web", false).await.unwrap_err();
    assert!(err
        .to_string()
        .starts_with("You cannot remove a running container"));
    f.c.delete("web", true).await.unwrap();
    assert!(f.c.list(true).await.unwrap().is_empty());
    assert!(f.rootfs.prepared.lock().unwrap().is_empty());
    assert!(!f.root.join("containers").join(&a.id).exists());
}

/// `rm -f` of a container whose process exits between the look at its task and the kill: the
/// runtime refuses the signal ("container not running"), and the remove still completes.
#[tokio::test]
async fn forced_delete_survives_an_exit_racing_its_kill() {
    let f = fixture(false);
    let a = f.c.create(req("flap", "busybox")).await.unwrap();
    start_task(&f, &a).await;
    f.tasks
        .exit_before_kill
        .store(true, std::sync::atomic::Ordering::SeqCst);
    f.c.delete("flap", true).await.unwrap();
    assert!(f.c.list(true).await.unwrap().is_empty());
    assert!(f.rootfs.prepared.lock().unwrap().is_empty());
}

#[tokio::test]
async fn exits_are_recorded_and_auto_remove_works() {
    let f = fixture(false);
    f.c.spawn_exit_handler();
    let mut events = f.c.events().subscribe();
    let a = f.c.create(req("keep", "busybox")).await.unwrap();
    let mut r = req("gone", "busybox");
    r.options.as_mut().unwrap().auto_remove = true;
    let b = f.c.create(r).await.unwrap();
    for id in [&a.id, &b.id] {
        f.tasks
            .create(&TaskSpec {
                id: id.clone(),
                bundle_dir: PathBuf::new(),
                tty: false,
                open_stdin: false,
                log_path: PathBuf::new(),
                log: Default::default(),
            })
            .await
            .unwrap();
        f.tasks.start(id).await.unwrap();
        f.c.update_last_run(id, |r| r.started_at = Some(1)).unwrap();
        f.tasks.exit(id, 3);
    }
    // wait for both exits to be handled (container delete event for the --rm one)
    let mut saw_delete = false;
    while !saw_delete {
        let e = events.recv().await.unwrap();
        saw_delete = e.topic == "/containers/delete";
    }
    let all = f.c.list(true).await.unwrap();
    assert_eq!(all.len(), 1);
    f.tasks.delete(&a.id).await.unwrap();
    let st = f.c.get("keep").await.unwrap().status.unwrap();
    assert_eq!(st.state, pb::ContainerState::Exited as i32);
    assert_eq!((st.exit_code, st.exit_code_known), (3, true));
}
