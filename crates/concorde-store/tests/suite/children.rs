//! Pipelines set by `set_pipeline` steps remember their job and build, and are archived when
//! a later successful build of that job stops setting them, when the job leaves the config,
//! and when the parent pipeline is archived or destroyed; a user's set-pipeline takes a child
//! over.

use concorde_store::testing::TestStore;
use concorde_store::{
    BuildStatus, JobId, NewBuild, Pipeline, SetBy, SetPipeline, Store, Team, Timestamp,
};

use crate::fixtures::{config, set_by_user, simple_config, simple_pipeline};

store_test!(children_are_archived_when_their_parent_stops_setting_them);

async fn set_child(
    store: &Store,
    team: &Team,
    name: &str,
    job: JobId,
    build: &concorde_store::Build,
) -> Pipeline {
    let child = simple_config("");
    store
        .set_pipeline(&SetPipeline {
            team: team.id,
            name,
            instance_vars: None,
            config: &child,
            set_by: SetBy::Step {
                team: team.id,
                parent: Some((job, build.id)),
            },
            now: Timestamp(5),
        })
        .await
        .unwrap()
        .pipeline
}

async fn archived(store: &Store, pipeline: &Pipeline) -> bool {
    store.pipeline(pipeline.id).await.unwrap().archived
}

async fn children_are_archived_when_their_parent_stops_setting_them(db: &TestStore) {
    let store = &db.store;
    let (team, parent) = simple_pipeline(store).await;
    let unit = store.job_by_name(parent.id, "unit").await.unwrap();
    let deploy = store.job_by_name(parent.id, "deploy").await.unwrap();
    let build = |job: JobId| NewBuild {
        job,
        manually_triggered: true,
        created_by: None,
        now: Timestamp(4),
    };

    let first = store.create_job_build(&build(unit.id)).await.unwrap();
    let kept = set_child(store, &team, "kept", unit.id, &first).await;
    let dropped = set_child(store, &team, "dropped", unit.id, &first).await;
    assert_eq!(
        (kept.parent_job_id, kept.parent_build_id),
        (Some(unit.id), Some(first.id))
    );
    store
        .finish_build(first.id, BuildStatus::Succeeded, Timestamp(6))
        .await
        .unwrap();
    assert!(!archived(store, &kept).await && !archived(store, &dropped).await);

    // The next build sets `kept` again (unchanged) but not `dropped`.
    let second = store.create_job_build(&build(unit.id)).await.unwrap();
    set_child(store, &team, "kept", unit.id, &second).await;
    store
        .finish_build(second.id, BuildStatus::Succeeded, Timestamp(7))
        .await
        .unwrap();
    assert!(
        !archived(store, &kept).await,
        "set again by the latest build"
    );
    assert!(archived(store, &dropped).await, "no longer set by the job");

    // The job leaves the parent's config: its children go.
    let without_unit = config(
        "resources:\n- name: repo\n  type: git\n  source: {uri: x}\njobs:\n- name: deploy\n  plan:\n  - get: repo\n",
    );
    let by_deploy = store.create_job_build(&build(deploy.id)).await.unwrap();
    let deploys_child = set_child(store, &team, "from-deploy", deploy.id, &by_deploy).await;
    set_by_user(store, &team, "p", &without_unit, 1)
        .await
        .unwrap();
    assert!(archived(store, &kept).await, "its job is gone");
    assert!(
        !archived(store, &deploys_child).await,
        "deploy is still there"
    );

    // A user takes a child over: no job archives it any more.
    let taken = set_by_user(
        store,
        &team,
        "from-deploy",
        &simple_config("serial: true"),
        1,
    )
    .await
    .unwrap();
    assert_eq!((taken.parent_job_id, taken.parent_build_id), (None, None));

    // Archiving or destroying the parent archives what its jobs set.
    let second_child = set_child(store, &team, "second", deploy.id, &by_deploy).await;
    store
        .archive_pipeline(parent.id, Timestamp(8))
        .await
        .unwrap();
    assert!(archived(store, &second_child).await);
    assert!(!archived(store, &taken).await);
    let other = set_by_user(store, &team, "other", &simple_config(""), 0)
        .await
        .unwrap();
    let other_job = store.job_by_name(other.id, "unit").await.unwrap();
    let other_build = store.create_job_build(&build(other_job.id)).await.unwrap();
    let orphan = set_child(store, &team, "orphan", other_job.id, &other_build).await;
    store.delete_pipeline(other.id).await.unwrap();
    assert!(
        archived(store, &orphan).await,
        "a destroyed parent's child stays, archived"
    );
}
