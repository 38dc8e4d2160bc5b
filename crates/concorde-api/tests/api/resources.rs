//! Resource routes: lists, versions with pagination and metadata visibility, enable/disable,
//! pin/unpin with comment, check requests and the webhook.

use axum::http::{Method, StatusCode};
use concorde_store::{NewVersion, Timestamp, Topic};
use serde_json::json;

use crate::both_backends;
use crate::support::{Harness, PIPELINE};

both_backends!(
    versions_pins_and_switches,
    checks_and_webhook,
    builds_of_a_version
);

const RESOURCES: &str = "/api/v1/teams/main/pipelines/p/resources";

/// Saves versions a, b, c (c newest) for `repo`; returns their ids, newest first.
async fn versions(h: &Harness) -> Vec<i64> {
    let store = h.store();
    let pipeline = h.pipeline_ref().await;
    let resource = store.list_resources(pipeline.id).await.unwrap().remove(0);
    let now = Timestamp::now();
    let config = store
        .find_or_create_resource_config("git", "git", &serde_json::Map::new(), now)
        .await
        .unwrap();
    let scope = store
        .find_or_create_scope(config, Some(resource.id))
        .await
        .unwrap();
    store
        .set_resource_scope(resource.id, config, scope, now)
        .await
        .unwrap();
    let versions: Vec<NewVersion> = ["a", "b", "c"]
        .iter()
        .map(|name| NewVersion {
            version: [("ref".to_owned(), (*name).to_owned())].into(),
            metadata: serde_json::json!([{"name": "commit", "value": name}]),
        })
        .collect();
    store
        .save_check_versions(scope, &versions, now)
        .await
        .unwrap();
    let listed = h
        .get(&format!("{RESOURCES}/repo/versions"), Some(&h.admin))
        .await
        .json();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}

async fn versions_pins_and_switches(h: &Harness) {
    h.pipeline().await;
    let ids = versions(h).await;
    let listed = h
        .get(&format!("{RESOURCES}/repo/versions"), Some(&h.admin))
        .await
        .json();
    assert_eq!(
        listed[0],
        json!({"id": ids[0], "version": {"ref": "c"}, "metadata": [{"name": "commit", "value": "c"}], "enabled": true})
    );
    assert_eq!(listed[2]["version"], json!({"ref": "a"}));
    let page = h
        .get(
            &format!("{RESOURCES}/repo/versions?limit=1&to={}", ids[1]),
            Some(&h.admin),
        )
        .await;
    assert_eq!(page.json()[0]["version"], json!({"ref": "b"}));
    let links = page.headers.get_all("link").iter().count();
    assert_eq!(links, 2, "both neighbours exist");
    let filtered = h
        .get(
            &format!("{RESOURCES}/repo/versions?filter=ref:a"),
            Some(&h.admin),
        )
        .await
        .json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    // Public pipeline, private resource: versions without metadata.
    h.put("/api/v1/teams/main/pipelines/p/expose", Some(&h.admin))
        .await;
    let anonymous = h
        .get(&format!("{RESOURCES}/repo/versions"), None)
        .await
        .json();
    assert!(anonymous[0].get("metadata").is_none());

    let b = ids[1];
    assert_eq!(
        h.put(
            &format!("{RESOURCES}/repo/versions/{b}/disable"),
            Some(&h.admin)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        h.get(&format!("{RESOURCES}/repo/versions/{b}"), Some(&h.admin))
            .await
            .json()["enabled"],
        false
    );
    assert_eq!(
        h.put(
            &format!("{RESOURCES}/repo/versions/{b}/enable"),
            Some(&h.admin)
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        h.get(&format!("{RESOURCES}/repo/versions/{b}"), Some(&h.admin))
            .await
            .json()["enabled"],
        true
    );
    assert_eq!(
        h.get(&format!("{RESOURCES}/repo/versions/0"), Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let a = ids[2];
    assert_eq!(
        h.put(
            &format!("{RESOURCES}/repo/versions/{a}/pin"),
            Some(&h.admin)
        )
        .await
        .status,
        StatusCode::OK
    );
    let comment = json!({"pin_comment": "hold"});
    assert_eq!(
        h.put_json(
            &format!("{RESOURCES}/repo/pin_comment"),
            Some(&h.admin),
            comment
        )
        .await
        .status,
        StatusCode::OK
    );
    let resource = h
        .get(&format!("{RESOURCES}/repo"), Some(&h.admin))
        .await
        .json();
    assert_eq!(resource["pinned_version"], json!({"ref": "a"}));
    assert_eq!(resource["pin_comment"], "hold");
    assert!(resource.get("pinned_in_config").is_none());
    assert_eq!(resource["type"], "git");
    assert_eq!(
        h.put(&format!("{RESOURCES}/repo/unpin"), Some(&h.admin))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        h.get(&format!("{RESOURCES}/repo"), Some(&h.admin))
            .await
            .json()
            .get("pinned_version")
            .is_none()
    );
    assert_eq!(
        h.put(&format!("{RESOURCES}/repo/unpin"), Some(&h.bob))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn checks_and_webhook(h: &Harness) {
    let pipeline = h.pipeline().await;
    let resource = h
        .store()
        .list_resources(pipeline.id)
        .await
        .unwrap()
        .remove(0);
    let mut checks = h.store().listen(&[Topic::CheckRequested]).await.unwrap();

    let reply = h
        .call(
            Method::POST,
            &format!("{RESOURCES}/repo/check"),
            Some(&h.admin),
            Some(("application/json", br#"{"from":null}"#.to_vec())),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let check = reply.json();
    assert_eq!(
        (&check["name"], &check["resource_name"], &check["status"]),
        (&json!("check"), &json!("repo"), &json!("pending"))
    );
    let id = check["id"].as_i64().expect("a check build id");
    let note = concorde_store::testing::next_named_notification(&mut checks).await;
    assert_eq!(note.payload, id.to_string());
    assert_eq!(
        h.get(&format!("/api/v1/builds/{id}"), Some(&h.admin))
            .await
            .json(),
        check,
        "the answer is the build the API serves"
    );
    let shown = h
        .get(&format!("{RESOURCES}/repo"), Some(&h.admin))
        .await
        .json();
    assert_eq!(
        (&shown["build"]["id"], &shown["build"]["status"]),
        (&json!(id), &json!("pending"))
    );
    assert_eq!(
        h.store()
            .build(concorde_store::BuildId(id))
            .await
            .unwrap()
            .resource_id,
        Some(resource.id)
    );
    let bad = h
        .call(
            Method::POST,
            &format!("{RESOURCES}/repo/check"),
            Some(&h.admin),
            Some(("application/json", b"{".to_vec())),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.post(&format!("{RESOURCES}/nope/check"), Some(&h.admin))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let webhook = format!("{RESOURCES}/repo/check/webhook");
    assert_eq!(h.post(&webhook, None).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.post(&format!("{webhook}?webhook_token=wrong"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let hooked = h
        .post(&format!("{webhook}?webhook_token=s3cret"), None)
        .await;
    assert_eq!(hooked.status, StatusCode::CREATED);
    let hooked_id = hooked.json()["id"].as_i64().expect("a check build id");
    assert!(hooked_id > id);
    let note = concorde_store::testing::next_notification(&mut checks).await;
    assert_eq!(note.payload, hooked_id.to_string());

    assert_eq!(
        h.get(
            "/api/v1/teams/main/pipelines/p/resource-types",
            Some(&h.admin)
        )
        .await
        .json(),
        json!([])
    );
    assert_eq!(
        h.get("/api/v1/resources", Some(&h.admin))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A webhook token left as an unresolved var: its literal text opens nothing.
    let unresolved = PIPELINE.replace("webhook_token: s3cret", "webhook_token: ((hook))");
    let reply = h.save_config("q", &unresolved, None).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(
        h.post(
            "/api/v1/teams/main/pipelines/q/resources/repo/check/webhook?webhook_token=((hook))",
            None
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
}

/// `input_to` and `output_of`: the builds that took a version and the ones that made it.
async fn builds_of_a_version(h: &Harness) {
    h.pipeline().await;
    let ids = versions(h).await;
    let store = h.store();
    let pipeline = h.pipeline_ref().await;
    let repo = store.list_resources(pipeline.id).await.unwrap().remove(0);
    let job = store.job_by_name(pipeline.id, "build").await.unwrap();
    let build = store
        .create_job_build(&concorde_store::NewBuild {
            job: job.id,
            manually_triggered: true,
            created_by: None,
            now: Timestamp::now(),
        })
        .await
        .unwrap();
    let newest: concorde_config::model::VersionMap = [("ref".to_owned(), "c".to_owned())].into();
    let (_, digest) = concorde_store::version_digest(&newest).unwrap();
    store
        .start_build(&concorde_store::StartBuild {
            id: build.id,
            inputs: &[concorde_store::RecordedVersion {
                name: "repo".into(),
                resource_id: repo.id,
                version_digest: digest,
            }],
            pipes: &[],
            plan: &json!({"id": "1", "do": []}),
            now: Timestamp::now(),
        })
        .await
        .unwrap();
    let listed = |route: String| async move {
        let reply = h.get(&route, Some(&h.admin)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let version = format!("{RESOURCES}/repo/versions/{}", ids[0]);
    assert_eq!(listed(format!("{version}/input_to")).await, [build.id.0]);
    assert_eq!(
        listed(format!("{version}/output_of")).await,
        Vec::<i64>::new()
    );
    let older = format!("{RESOURCES}/repo/versions/{}", ids[1]);
    assert_eq!(listed(format!("{older}/input_to")).await, Vec::<i64>::new());
}
