//! Wire-shape tests: key names, key order and omission rules match Concourse's JSON.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use concorde_proto::*;
use expect_test::expect;

fn build() -> Build {
    Build {
        id: BuildId(12),
        team_name: "main".into(),
        name: "5".into(),
        status: BuildStatus::Pending,
        api_url: "/api/v1/builds/12".into(),
        comment: None,
        job_name: Some("j".into()),
        resource_name: None,
        pipeline_id: Some(PipelineId(1)),
        pipeline_name: Some("p".into()),
        pipeline_instance_vars: None,
        start_time: None,
        end_time: None,
        reap_time: None,
        rerun_number: None,
        rerun_of: None,
        created_by: Some("admin".into()),
    }
}

#[test]
fn build_omits_absent_fields() {
    let json = serde_json::to_string(&build()).unwrap();
    expect![[r#"{"id":12,"team_name":"main","name":"5","status":"pending","api_url":"/api/v1/builds/12","job_name":"j","pipeline_id":1,"pipeline_name":"p","created_by":"admin"}"#]]
        .assert_eq(&json);
    let back: Build = serde_json::from_str(&json).unwrap();
    assert_eq!(back, build());
}

#[test]
fn job_keeps_null_builds_and_trigger_false_but_summary_omits_them() {
    let job = Job {
        id: JobId(1),
        name: "j".into(),
        team_name: "main".into(),
        pipeline_id: PipelineId(1),
        pipeline_name: "p".into(),
        pipeline_instance_vars: None,
        paused: false,
        paused_by: None,
        paused_at: None,
        has_new_inputs: false,
        groups: vec![],
        first_logged_build_id: None,
        disable_manual_trigger: false,
        disable_reruns: false,
        next_build: None,
        finished_build: None,
        inputs: vec![JobInput {
            name: "repo".into(),
            resource: "repo".into(),
            trigger: false,
            passed: vec![],
        }],
        outputs: vec![],
    };
    expect![[r#"{"id":1,"name":"j","team_name":"main","pipeline_id":1,"pipeline_name":"p","next_build":null,"finished_build":null,"inputs":[{"name":"repo","resource":"repo","trigger":false}]}"#]]
        .assert_eq(&serde_json::to_string(&job).unwrap());
    let summary = JobSummary {
        id: JobId(1),
        name: "j".into(),
        team_name: "main".into(),
        pipeline_id: PipelineId(1),
        pipeline_name: "p".into(),
        pipeline_instance_vars: None,
        paused: true,
        paused_by: None,
        paused_at: None,
        has_new_inputs: false,
        groups: vec![],
        finished_build: None,
        next_build: None,
        transition_build: None,
        inputs: vec![JobSummaryInput {
            name: "repo".into(),
            resource: "repo".into(),
            passed: vec!["a".into()],
            trigger: false,
        }],
        outputs: vec![JobOutput {
            name: "out".into(),
            resource: "out".into(),
        }],
    };
    expect![[r#"{"id":1,"name":"j","team_name":"main","pipeline_id":1,"pipeline_name":"p","paused":true,"inputs":[{"name":"repo","resource":"repo","passed":["a"]}],"outputs":[{"name":"out","resource":"out"}]}"#]]
        .assert_eq(&serde_json::to_string(&summary).unwrap());
}

#[test]
fn save_config_response_is_empty_object_without_warnings() {
    assert_eq!(
        serde_json::to_string(&SaveConfigResponse::default()).unwrap(),
        "{}"
    );
    let response = SaveConfigResponse {
        errors: vec![],
        warnings: vec![ConfigWarning {
            kind: "invalid_identifier".into(),
            message: "m".into(),
        }],
    };
    expect![[r#"{"warnings":[{"type":"invalid_identifier","message":"m"}]}"#]]
        .assert_eq(&serde_json::to_string(&response).unwrap());
}

#[test]
fn pipeline_and_resource_version_shapes() {
    let pipeline = Pipeline {
        id: PipelineId(1),
        name: "p".into(),
        instance_vars: None,
        paused: true,
        paused_by: None,
        paused_at: None,
        public: false,
        archived: false,
        groups: vec![],
        team_name: "main".into(),
        display: None,
        user_data: None,
        parent_build_id: None,
        parent_job_id: None,
        last_updated: 1_700_000_000,
    };
    expect![[r#"{"id":1,"name":"p","paused":true,"public":false,"archived":false,"team_name":"main","last_updated":1700000000}"#]]
        .assert_eq(&serde_json::to_string(&pipeline).unwrap());
    let version = ResourceVersion {
        id: VersionId(42),
        version: [("ref".to_owned(), "abc".to_owned())].into(),
        metadata: vec![],
        enabled: true,
    };
    expect![[r#"{"id":42,"version":{"ref":"abc"},"enabled":true}"#]]
        .assert_eq(&serde_json::to_string(&version).unwrap());
}

#[test]
fn info_and_token_shapes() {
    let info = Info {
        version: "7.11.0".into(),
        worker_version: "2.5".into(),
        feature_flags: FeatureFlags {
            build_rerun: true,
            ..FeatureFlags::default()
        },
        external_url: Some("http://localhost:8080".into()),
        cluster_name: None,
    };
    expect![[r#"{"version":"7.11.0","worker_version":"2.5","feature_flags":{"global_resources":false,"build_rerun":true,"cache_streamed_volumes":false,"resource_causality":false},"external_url":"http://localhost:8080"}"#]]
        .assert_eq(&serde_json::to_string(&info).unwrap());
    let token: TokenResponse =
        serde_json::from_str(r#"{"access_token":"abc","token_type":"bearer","expires_in":86400}"#)
            .unwrap();
    assert_eq!(token.id_token, None);
}
