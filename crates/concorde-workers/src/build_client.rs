//! The worker as one build or check sees it: the engine's [`WorkerClient`], recording each
//! container with its owner (a build step, an image fetch or check, a resource check) and each
//! volume made with a container as that container's.

use std::time::Duration;

use concorde_config::model::VersionMap;
use concorde_engine::{
    CacheIdentity, CachedFetch, ContainerPurpose, ContainerRole, ContainerVolume, MetadataField,
    WorkerClient,
};
use concorde_store::{
    BuildId, ContainerMeta, ContainerOwner, JobId, NewContainer, NewVolume, PipelineId, ScopeId,
    TeamId, Timestamp, VolumeOwner,
};
use concorde_worker::{
    ContainerHandle, ContainerSpec, ExitStatus, ProcessIo, ProcessSpec, VolumeHandle,
    VolumeStrategy, WorkerError,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::recorded::{RecordedWorker, recording, store_container, store_volume};

/// How long a check's container is kept for `intercept` after the check, as Concourse keeps a
/// check session's.
const CHECK_CONTAINER_LIFE: Duration = Duration::from_secs(5 * 60);

/// The build (or check) whose containers and volumes a [`BuildClient`] records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOwner {
    /// The build (a check build for checks).
    pub build: BuildId,
    /// Its team.
    pub team: TeamId,
    /// Its pipeline, if any.
    pub pipeline: Option<PipelineId>,
    /// Its job, if any: task caches are kept per job.
    pub job: Option<JobId>,
    /// The pipeline's name, for display.
    pub pipeline_name: Option<String>,
    /// The job's name, for display.
    pub job_name: Option<String>,
    /// The build's name, for display.
    pub build_name: String,
    /// For a check build, the resource config scope it checks: its containers belong to the
    /// check, not to the build.
    pub check_scope: Option<ScopeId>,
}

/// A worker as one build sees it.
#[derive(Debug, Clone)]
pub struct BuildClient {
    pub(crate) worker: RecordedWorker,
    pub(crate) owner: BuildOwner,
}

impl RecordedWorker {
    /// The worker as build (or check) `owner` sees it.
    pub fn for_build(&self, owner: BuildOwner) -> BuildClient {
        BuildClient {
            worker: self.clone(),
            owner,
        }
    }
}

impl BuildClient {
    fn container_owner(&self, purpose: &ContainerPurpose) -> ContainerOwner {
        let build = self.owner.build;
        let plan_id = purpose.plan_id.0.clone();
        match (purpose.role, self.owner.check_scope) {
            (ContainerRole::Step, Some(scope)) => ContainerOwner::Check { scope },
            (ContainerRole::Step, None) => ContainerOwner::BuildStep { build, plan_id },
            (ContainerRole::ImageCheck, _) => ContainerOwner::ImageCheck { build, plan_id },
            (ContainerRole::ImageGet, _) => ContainerOwner::ImageGet { build, plan_id },
        }
    }

    fn meta(&self, purpose: &ContainerPurpose) -> ContainerMeta {
        ContainerMeta {
            step_type: purpose.step_type.to_owned(),
            step_name: purpose.step_name.clone(),
            attempt: String::new(),
            working_directory: purpose.working_directory.clone(),
            user: purpose.user.clone(),
            pipeline_name: self.owner.pipeline_name.clone(),
            job_name: self.owner.job_name.clone(),
            job_id: self.owner.job,
            build_name: Some(self.owner.build_name.clone()),
        }
    }
}

#[async_trait::async_trait]
impl WorkerClient for BuildClient {
    fn name(&self) -> &str {
        self.worker.name().as_str()
    }

    async fn create_container(
        &self,
        purpose: &ContainerPurpose,
        spec: ContainerSpec,
        volumes: Vec<ContainerVolume>,
    ) -> Result<(), WorkerError> {
        let now = Timestamp::now();
        let owner = self.container_owner(purpose);
        let check_expires =
            matches!(owner, ContainerOwner::Check { .. }).then(|| now.plus(CHECK_CONTAINER_LIFE));
        let store = self.worker.store();
        let container = store
            .create_container(&NewContainer {
                handle: store_container(&spec.handle),
                worker: self.worker.name().clone(),
                owner,
                team: Some(self.owner.team),
                pipeline: self.owner.pipeline,
                check_expires,
                meta: self.meta(purpose),
                now,
            })
            .await
            .map_err(recording)?;
        let mut made = Ok(());
        for volume in volumes {
            let parent = match &volume.strategy {
                VolumeStrategy::CopyOnWrite(parent) => Some(store_volume(parent)),
                _ => None,
            };
            let new = NewVolume {
                handle: store_volume(&volume.handle),
                worker: self.worker.name().clone(),
                owner: VolumeOwner::Container(container.id),
                team: Some(self.owner.team),
                path: volume.path.clone(),
                parent,
                now,
            };
            made = self.worker.make_volume(&new, volume.strategy).await;
            if made.is_err() {
                break;
            }
        }
        if made.is_ok() {
            made = self.worker.transport().create_container(spec).await;
        }
        let handle = &container.handle;
        let marked = match &made {
            Ok(()) => store.container_created(handle).await,
            Err(_) => store.container_failed(handle).await,
        };
        made?;
        marked.map_err(recording)
    }

    async fn run(
        &self,
        handle: &ContainerHandle,
        process: ProcessSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, WorkerError> {
        self.worker
            .transport()
            .run(handle, process, io, cancel)
            .await
    }

    async fn create_streamed_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        // Held by an artifact of the build, so it outlives the step that streamed it; it goes
        // (with the artifact) when the build destroys it, or when artifacts expire.
        let store = self.worker.store();
        let now = Timestamp::now();
        let artifact = store
            .create_artifact(self.owner.team, "", None, &handle.0, now)
            .await
            .map_err(recording)?;
        let new = NewVolume {
            handle: store_volume(handle),
            worker: self.worker.name().clone(),
            owner: VolumeOwner::Artifact(artifact.id),
            team: Some(self.owner.team),
            path: String::new(),
            parent: None,
            now,
        };
        self.worker.make_volume(&new, VolumeStrategy::Empty).await
    }

    async fn destroy_container(&self, handle: &ContainerHandle) -> Result<(), WorkerError> {
        self.worker.destroy_container(handle).await
    }

    async fn destroy_volume(&self, handle: &VolumeHandle) -> Result<(), WorkerError> {
        self.worker.destroy_volume(handle).await
    }

    async fn stream_out(
        &self,
        handle: &VolumeHandle,
        path: &str,
        into: Box<dyn AsyncWrite + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        self.worker.transport().stream_out(handle, path, into).await
    }

    async fn stream_in(
        &self,
        handle: &VolumeHandle,
        path: &str,
        tar: Box<dyn AsyncRead + Send + Unpin>,
    ) -> Result<(), WorkerError> {
        self.worker.transport().stream_in(handle, path, tar).await
    }

    async fn p2p_stream_in_url(
        &self,
        handle: &VolumeHandle,
    ) -> Result<Option<String>, WorkerError> {
        if !self.worker.peer_streaming() {
            return Ok(None);
        }
        self.worker.transport().p2p_stream_in_url(handle, ".").await
    }

    async fn stream_p2p_out(&self, handle: &VolumeHandle, url: &str) -> Result<(), WorkerError> {
        self.worker
            .transport()
            .stream_p2p_out(handle, ".", url)
            .await
    }

    async fn find_resource_cache(
        &self,
        identity: &CacheIdentity,
    ) -> Result<Option<CachedFetch>, WorkerError> {
        self.find_cache(identity).await
    }

    async fn init_resource_cache(
        &self,
        volume: &VolumeHandle,
        identity: &CacheIdentity,
        fetched: &VersionMap,
        metadata: &[MetadataField],
    ) -> Result<(), WorkerError> {
        self.init_cache(volume, identity, fetched, metadata).await
    }

    async fn task_cache(
        &self,
        step_name: &str,
        path: &str,
    ) -> Result<Option<VolumeHandle>, WorkerError> {
        self.job_task_cache(step_name, path).await
    }
}
