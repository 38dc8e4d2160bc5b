//! The build event stream: exact SSE framing, the `end` message, `Last-Event-ID` resume,
//! live push of events saved while watching, and its 4xx.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use concorde_store::{BuildStatus, NewBuildEvent, Timestamp};

use crate::both_backends;
use crate::builds::new_build;
use crate::support::{Harness, read_until_end};

both_backends!(finished_build_stream_and_resume, live_events_are_pushed);

fn log(text: &str) -> NewBuildEvent {
    NewBuildEvent::Log {
        origin: "6f2a1c0b#stdout".into(),
        time: Timestamp(1_700_000_000_000),
        output: text.as_bytes().to_vec(),
    }
}

fn status(status: &str) -> NewBuildEvent {
    NewBuildEvent::Other {
        kind: concorde_store::EventKind::Status,
        data: serde_json::json!({"status": status, "time": 1_700_000_001}),
    }
}

fn request(
    build: concorde_store::BuildId,
    token: &str,
    last_event_id: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1/builds/{build}/events"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        builder = builder.header("Last-Event-ID", id);
    }
    builder.body(Body::empty()).unwrap()
}

async fn finished_build_stream_and_resume(h: &Harness) {
    h.pipeline().await;
    let build = new_build(h).await;
    let store = h.store();
    h.start_build(build.id, &serde_json::json!({})).await;
    store
        .append_build_events(build.id, &[log("hello\n\u{1b}[1mbold\u{1b}[0m\n")])
        .await
        .unwrap();
    store
        .append_build_events(build.id, &[status("succeeded")])
        .await
        .unwrap();
    store
        .finish_build(build.id, BuildStatus::Succeeded, Timestamp::now())
        .await
        .unwrap();

    let response = h.send(request(build.id, &h.admin, None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/event-stream; charset=utf-8"
    );
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "no-cache, no-store, must-revalidate"
    );
    assert_eq!(headers["x-accel-buffering"], "no");
    assert_eq!(headers["x-atc-stream-version"], "2.0");
    let text = read_until_end(response.into_body(), Duration::from_secs(10)).await;
    let expected = concat!(
        "id: 0\nevent: event\n",
        r#"data: {"data":{"time":1700000000,"origin":{"id":"6f2a1c0b","source":"stdout"},"payload":"hello\n\u001b[1mbold\u001b[0m\n"},"event":"log","version":"5.1","event_id":"0"}"#,
        "\n\n",
        "id: 1\nevent: event\n",
        r#"data: {"data":{"status":"succeeded","time":1700000001},"event":"status","version":"1.0","event_id":"1"}"#,
        "\n\n",
        "id: 2\nevent: end\ndata\n\n",
    );
    assert_eq!(text, expected);

    let resumed = h.send(request(build.id, &h.admin, Some("0"))).await;
    let text = read_until_end(resumed.into_body(), Duration::from_secs(10)).await;
    assert!(text.starts_with("id: 1\nevent: event\n"), "{text}");
    assert!(text.ends_with("id: 2\nevent: end\ndata\n\n"), "{text}");

    assert_eq!(
        h.send(request(build.id, &h.admin, Some("x")))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.send(request(build.id, &h.bob, None)).await.status(),
        StatusCode::FORBIDDEN
    );
    let unknown = request(concorde_store::BuildId(999_999), &h.admin, None);
    assert_eq!(h.send(unknown).await.status(), StatusCode::NOT_FOUND);
}

async fn live_events_are_pushed(h: &Harness) {
    h.pipeline().await;
    let build = new_build(h).await;
    let store = h.store().clone();
    h.start_build(build.id, &serde_json::json!({})).await;
    store
        .append_build_events(build.id, &[log("first\n")])
        .await
        .unwrap();
    let response = h.send(request(build.id, &h.admin, None)).await;
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        store
            .append_build_events(build.id, &[log("second\n")])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        store
            .append_build_events(build.id, &[status("failed")])
            .await
            .unwrap();
        store
            .finish_build(build.id, BuildStatus::Failed, Timestamp::now())
            .await
            .unwrap();
    });
    // Notifications wake the stream well before its 5 s safety poll.
    let text = read_until_end(response.into_body(), Duration::from_secs(4)).await;
    writer.await.unwrap();
    let ids: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("id: "))
        .collect();
    assert_eq!(ids, ["id: 0", "id: 1", "id: 2", "id: 3"]);
    assert!(text.contains(r#""payload":"second\n""#), "{text}");
    assert!(text.contains(r#""status":"failed""#), "{text}");
}
