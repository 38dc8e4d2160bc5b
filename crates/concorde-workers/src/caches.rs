//! Resource caches and task caches on record: a fetched version is found through the store
//! (its resource config, the cache of that version and params, the worker's volume for it), so
//! a cache outlives the process that filled it and every node finds it; a job's task cache is
//! one volume per worker, step and path.

use std::time::Duration;

use concorde_config::model::{JsonMap, VersionMap};
use concorde_engine::{CacheIdentity, CachedFetch, MetadataField};
use concorde_store::{
    CacheUser, NewResourceCache, NewVolume, ResourceCache, ResourceConfigId, StoreError, Timestamp,
    VolumeOwner,
};
use concorde_worker::{VolumeHandle, VolumeStrategy, WorkerError};

use crate::build_client::BuildClient;
use crate::recorded::{random_suffix, recording, store_volume};

/// How long to wait for another build making the same task cache volume to finish making it.
const TASK_CACHE_WAIT: Duration = Duration::from_secs(10);

impl BuildClient {
    /// The resource config a cache of `identity` belongs to; `None` for a custom type whose
    /// image is not itself a resource cache (nothing to key it by).
    async fn resource_config(
        &self,
        identity: &CacheIdentity,
    ) -> Result<Option<ResourceConfigId>, WorkerError> {
        let store = self.worker.store();
        let source = source_map(identity);
        let now = Timestamp::now();
        if let Some(image) = &identity.type_image {
            let volume = store
                .volume(&store_volume(image))
                .await
                .map_err(recording)?;
            let Some(image_cache) = volume.resource_cache_id else {
                return Ok(None);
            };
            let digest = concorde_config::resource_config_digest(&identity.type_name, &source);
            return store
                .find_or_create_custom_resource_config(image_cache, &digest, now)
                .await
                .map(Some)
                .map_err(recording);
        }
        let base = identity.base_type.as_deref().unwrap_or(&identity.type_name);
        store
            .find_or_create_resource_config(base, &identity.type_name, &source, now)
            .await
            .map(Some)
            .map_err(recording)
    }

    /// The cache of `identity`, used by this build from now on.
    async fn resource_cache(
        &self,
        identity: &CacheIdentity,
    ) -> Result<Option<ResourceCache>, WorkerError> {
        let Some(config) = self.resource_config(identity).await? else {
            return Ok(None);
        };
        let new = NewResourceCache {
            config,
            version: identity.version.clone(),
            params: identity.params.clone(),
        };
        self.worker
            .store()
            .find_or_create_resource_cache(&new, CacheUser::Build(self.owner.build))
            .await
            .map(Some)
            .map_err(recording)
    }

    pub(crate) async fn find_cache(
        &self,
        identity: &CacheIdentity,
    ) -> Result<Option<CachedFetch>, WorkerError> {
        let Some(cache) = self.resource_cache(identity).await? else {
            return Ok(None);
        };
        let store = self.worker.store();
        let Some(volume) = store
            .find_resource_cache_volume(self.worker.name(), cache.id)
            .await
            .map_err(recording)?
        else {
            return Ok(None);
        };
        let handle = VolumeHandle(volume.handle.0.clone());
        if self
            .worker
            .transport()
            .lookup_volume(&handle)
            .await?
            .is_none()
        {
            // The record outlived the volume: drop it, so a new fetch can take its place.
            self.worker.destroy_volume(&handle).await?;
            return Ok(None);
        }
        let metadata = cache
            .metadata
            .map(serde_json::from_value::<Vec<MetadataField>>)
            .transpose()
            .map_err(|err| WorkerError::Recording(format!("corrupt cache metadata: {err}")))?
            .unwrap_or_default();
        Ok(Some(CachedFetch {
            volume: handle,
            version: cache.version,
            metadata,
        }))
    }

    pub(crate) async fn init_cache(
        &self,
        volume: &VolumeHandle,
        identity: &CacheIdentity,
        _fetched: &VersionMap,
        metadata: &[MetadataField],
    ) -> Result<(), WorkerError> {
        let Some(cache) = self.resource_cache(identity).await? else {
            return Ok(());
        };
        let store = self.worker.store();
        let metadata = serde_json::to_value(metadata)
            .map_err(|err| WorkerError::Recording(err.to_string()))?;
        store
            .save_resource_cache_metadata(cache.id, &metadata)
            .await
            .map_err(recording)?;
        // `false`: another build filled the same cache on this worker first; this volume stays
        // the build's own and goes with it.
        store
            .init_resource_cache_volume(&store_volume(volume), cache.id)
            .await
            .map(|_| ())
            .map_err(recording)
    }

    pub(crate) async fn job_task_cache(
        &self,
        step_name: &str,
        path: &str,
    ) -> Result<Option<VolumeHandle>, WorkerError> {
        let Some(job) = self.owner.job else {
            return Ok(None);
        };
        let store = self.worker.store();
        let cache = store
            .find_or_create_task_cache(job, step_name, path, Timestamp::now())
            .await
            .map_err(recording)?;
        let waited = tokio::time::Instant::now();
        loop {
            if let Some(volume) = store
                .find_task_cache_volume(self.worker.name(), cache.id)
                .await
                .map_err(recording)?
            {
                let handle = VolumeHandle(volume.handle.0.clone());
                if self
                    .worker
                    .transport()
                    .lookup_volume(&handle)
                    .await?
                    .is_some()
                {
                    return Ok(Some(handle));
                }
                self.worker.destroy_volume(&handle).await?;
            }
            let handle = VolumeHandle(format!("taskcache-{}-{}", cache.id.0, random_suffix()));
            let new = NewVolume {
                handle: store_volume(&handle),
                worker: self.worker.name().clone(),
                owner: VolumeOwner::TaskCache(cache.id),
                team: Some(self.owner.team),
                path: path.to_owned(),
                parent: None,
                now: Timestamp::now(),
            };
            match store.create_volume(&new).await {
                Ok(_) => {
                    self.worker
                        .make_recorded_volume(&new, VolumeStrategy::Empty)
                        .await?;
                    return Ok(Some(handle));
                }
                // Another build is making this worker's volume for the cache: poll until it is
                // made (or gave up).
                Err(StoreError::AlreadyExists { .. }) if waited.elapsed() < TASK_CACHE_WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => return Err(recording(err)),
            }
        }
    }
}

fn source_map(identity: &CacheIdentity) -> JsonMap {
    identity.source.as_object().cloned().unwrap_or_default()
}
