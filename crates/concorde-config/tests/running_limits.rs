//! The running-build limit of a job and the jobs sharing its serial groups, as the tracker
//! and the build preparation route read them from the config.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, load_pipeline};

#[test]
fn running_build_limits_and_serial_group_partners() {
    let yaml = "jobs:
- {name: free, plan: [{task: t, config: {platform: linux, run: {path: x}}}]}
- {name: capped, max_in_flight: 3, plan: [{task: t, config: {platform: linux, run: {path: x}}}]}
- {name: one, serial: true, plan: [{task: t, config: {platform: linux, run: {path: x}}}]}
- {name: a, serial_groups: [deploy], plan: [{task: t, config: {platform: linux, run: {path: x}}}]}
- {name: b, serial_groups: [deploy, other], plan: [{task: t, config: {platform: linux, run: {path: x}}}]}
";
    let pipeline = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Reject)
        .unwrap()
        .pipeline;
    let job = |name: &str| pipeline.jobs.iter().find(|j| j.name == name).unwrap();
    let limits: Vec<Option<i64>> = ["free", "capped", "one", "a"]
        .iter()
        .map(|name| job(name).max_running_builds())
        .collect();
    assert_eq!(limits, [None, Some(3), Some(1), Some(1)]);
    let partners: Vec<&str> = pipeline
        .jobs_sharing_serial_groups(job("a"))
        .iter()
        .map(|j| j.name.as_str())
        .collect();
    assert_eq!(partners, ["b"]);
    assert!(pipeline.jobs_sharing_serial_groups(job("one")).is_empty());
}
