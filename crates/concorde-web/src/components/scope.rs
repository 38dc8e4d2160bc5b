//! A resource's type, effective source and version scope: shared by the checker (where to
//! save what a check found) and the tracker (where to save what a put produced).

use concorde_config::model::{JsonMap, Pipeline};
use concorde_engine::PlanId;
use concorde_engine::plan::TypeImage;
use concorde_store::{Resource, ScopeId, Store};

/// How to run and where to store one resource.
pub struct ResourceScope {
    /// The scope its versions live in (private to the resource, as in Concourse without
    /// global resources).
    pub scope: ScopeId,
    /// Its type's image, for running scripts.
    pub image: TypeImage,
    /// Its source, laid over its type's defaults.
    pub source: JsonMap,
}

/// Finds or creates the resource's config and scope and points the resource at it.
pub async fn ensure_scope(
    store: &Store,
    model: &Pipeline,
    resource: &Resource,
    plan_id: &PlanId,
) -> anyhow::Result<ResourceScope> {
    let config = crate::pipeline_model::resource(model, &resource.name).ok_or_else(|| {
        anyhow::anyhow!("resource {} is not in its pipeline's config", resource.name)
    })?;
    let types = concorde_engine::resource_type_plans(model);
    let source = concorde_engine::effective_source(
        &types,
        &config.kind,
        &config.source.clone().unwrap_or_default(),
    );
    let image = concorde_engine::type_image(&types, &config.kind, plan_id);
    let now = crate::now();
    let config_id = store
        .find_or_create_resource_config(&image.base_type, &config.kind, &source, now)
        .await?;
    let scope = store
        .find_or_create_scope(config_id, Some(resource.id))
        .await?;
    if resource.scope_id != Some(scope) {
        store
            .set_resource_scope(resource.id, config_id, scope, now)
            .await?;
    }
    Ok(ResourceScope {
        scope,
        image,
        source,
    })
}
