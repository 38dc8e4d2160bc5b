//! End-to-end tests: a real `concorde quickstart` process, real HTTP, the real CLI, real git
//! repositories and real processes, on SQLite and on PostgreSQL.

mod archiving;
mod check_builds;
mod cluster;
mod execute;
mod flows;
#[path = "../support/follow_events.rs"]
mod follow_events;
mod harness;
mod huge_log;
mod placement;
mod process_cleanup;
#[path = "../support/processes.rs"]
mod processes;
mod remote_workers;
mod watch;
mod worker_records;

/// Declares each flow once per backend.
macro_rules! on_both_backends {
    ($($flow:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $flow() { crate::flows::$flow(crate::harness::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $flow() { crate::flows::$flow(crate::harness::Backend::Postgres) })*
        }
    };
}

on_both_backends!(
    webhook_commit_triggers_the_job_and_watch_shows_it,
    a_passed_chain_carries_the_version_downstream,
    pin_disable_and_pause_steer_the_scheduler,
    rerun_reuses_the_original_inputs,
    abort_stops_a_running_build,
    a_restart_mid_build_fails_it_cleanly_and_the_node_carries_on,
    a_resource_types_directory_provides_base_types,
    the_local_worker_is_registered_and_listed,
    anonymous_callers_see_only_the_public_plan,
    a_login_flood_is_bounded_and_answered_429,
    two_hundred_event_streams_starve_nothing,
    no_process_outlives_its_step,
    a_huge_log_read_by_eight_followers_holds_little_memory,
    check_resource_runs_a_real_check_build,
    execute_runs_local_inputs_and_brings_outputs_back,
    ctrl_c_aborts_an_executed_build,
    instances_are_set_with_dash_i_and_archived_one_by_one,
    watch_waits_for_a_jobs_first_build,
    containers_and_volumes_show_what_exists,
    a_worker_registers_through_the_tsa_and_runs_builds,
    land_and_prune_follow_the_worker_lifecycle,
    a_worker_killed_mid_build_errors_the_build_naming_it,
    tags_steer_builds_to_the_workers_that_have_them,
    a_restarted_worker_sweeps_what_a_killed_build_left,
    land_and_retire_from_the_worker_end_its_process,
    an_artifact_crosses_workers_to_a_tagged_step,
    limit_active_tasks_makes_a_task_wait_for_a_slot,
    peer_workers_take_artifacts_straight_from_each_other,
);
