//! Persistence for Concorde: the one data model on embedded SQLite and on PostgreSQL.
//!
//! This is the only crate that speaks SQL. Callers see a [`Store`] with domain methods
//! (`create_job_build`, `save_check_versions`, `append_build_events`, ...), typed IDs and
//! typed errors; they never see a query, a pool or a backend. Each backend lives in its own
//! module under `backend/` (connection set-up, locks, notifications); the domain methods are
//! written once and compiled for both pools through the private `with_db!` macro, so the same
//! SQL text runs on both backends and one test suite proves it.

#![warn(missing_docs)]

mod backend;
mod build_records;
mod builds;
mod caches;
mod check_builds;
mod components;
mod containers;
mod error;
mod events;
mod gc;
mod ids;
mod jobs;
mod json_column;
mod migrate;
mod next_inputs;
mod one_off_builds;
mod pipeline_model;
mod pipeline_spec;
mod pipelines;
mod placement;
mod put_outputs;
mod reports;
mod resources;
mod set_pipeline;
mod start_build;
mod states;
mod teams;
pub mod testing;
mod versions;
mod versions_view;
mod volumes;
mod worker_lifecycle;
mod worker_records;
mod workers;

use std::path::PathBuf;

pub use backend::lock::{Lock, LockKey};
pub use backend::notify::{Listener, Notification, Topic};
pub use builds::{Build, BuildStatus, NewBuild, RecordedVersion};
pub use caches::{CacheUser, NewResourceCache, ResourceCache, TaskCache, params_hash};
pub use check_builds::{CHECK_PLAN_ID, CheckBuild, CheckTarget, NewCheckBuild};
pub use components::Component;
pub use containers::{
    Container, ContainerFilter, ContainerMeta, ContainerOwner, ContainerState, NewContainer,
};
pub use error::{StoreError, StoreResult};
pub use events::{BuildEvent, EventKind, EventPayload, LogRetention, NewBuildEvent, PAGE_BYTES};
pub use gc::{GcPolicy, OrphanedContainers};
pub use ids::{
    ArtifactId, BuildId, ContainerHandle, ContainerId, JobId, PipelineId, ResourceCacheId,
    ResourceConfigId, ResourceId, ResourceTypeId, ScopeId, TaskCacheId, TeamId, Timestamp,
    VersionId, VolumeHandle, VolumeId, WorkerName,
};
pub use jobs::Job;
pub use migrate::{LATEST_SCHEMA_VERSION, MigrateReport, MigrateTarget, migrate_command};
pub use next_inputs::NextBuildInput;
pub use one_off_builds::{Artifact, NewOneOffBuild, OneOffBuild};
pub use pipelines::{Pipeline, PipelineRef};
pub use placement::PlacementQuery;
pub use put_outputs::PutOutput;
pub use reports::ReportOutcome;
pub use resources::{CheckOutcome, Resource, ResourceType};
pub use set_pipeline::{MAIN_TEAM, PipelineSet, SetBy, SetOutcome, SetPipeline};
pub use start_build::StartBuild;
pub use teams::{AccessToken, Team, User};
pub use versions::{NewVersion, ResourceVersion, SaveVersionsOutcome, VersionKey, version_digest};
pub use versions_view::{SqlVersionsView, VIEW_PAGE_SIZE};
pub use volumes::{
    NewVolume, Volume, VolumeDisplay, VolumeFilter, VolumeKind, VolumeOwner, VolumeState,
};
pub use worker_lifecycle::{DrainedWorkers, ExpiredWorkers};
pub use workers::{Heartbeat, Worker, WorkerResourceType, WorkerSpec, WorkerState};

/// Largest pipeline or job configuration document the store accepts, in bytes.
pub const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;

/// Where the data lives: an embedded SQLite file in a data directory, or a PostgreSQL URL.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// One SQLite file, `concorde.db`, inside this directory (created if missing), in WAL mode.
    Sqlite {
        /// The data directory.
        data_dir: PathBuf,
    },
    /// A PostgreSQL database, e.g. `postgres://user@host/db` or with `?host=/socket/dir`.
    Postgres {
        /// The connection URL.
        url: String,
    },
}

/// Handle to the database: cheap to clone, shared by every component of a node.
///
/// Opening a store applies pending migrations, so every `Store` speaks the latest schema.
#[derive(Clone)]
pub struct Store {
    backend: backend::Backend,
    /// Decoded pipeline configs, shared by every clone of this store.
    models: std::sync::Arc<pipeline_model::ModelCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.kind())
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    ///
    /// Fails with [`StoreError::DatabaseTooNew`] when the database was migrated by a newer
    /// Concorde than this binary.
    pub async fn open(config: &StoreConfig) -> StoreResult<Self> {
        let backend = backend::Backend::connect(config).await?;
        let store = Store {
            backend,
            models: std::sync::Arc::default(),
        };
        migrate::apply_pending(&store).await?;
        Ok(store)
    }

    /// Which backend this store runs on: `"sqlite"` or `"postgres"`.
    pub fn backend_kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        self.backend.close().await;
    }
}

/// Runs `$body` once per backend with `$pool` bound to that backend's pool and `$pg` telling
/// whether it is PostgreSQL. The body is compiled twice, once per pool type, which is how one
/// piece of SQL text serves both backends.
macro_rules! with_db {
    ($store:expr, |$pool:ident, $pg:ident| $body:block) => {
        match &$store.backend {
            $crate::backend::Backend::Sqlite(db) => {
                #[allow(unused_variables)]
                let $pg = false;
                let $pool = &db.pool;
                $body
            }
            $crate::backend::Backend::Postgres(db) => {
                #[allow(unused_variables)]
                let $pg = true;
                let $pool = &db.pool;
                $body
            }
        }
    };
}
pub(crate) use with_db;
