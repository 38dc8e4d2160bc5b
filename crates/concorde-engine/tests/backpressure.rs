//! A sink that takes events slower than a step writes them: the engine waits for it (the
//! step's output stops being read) and every log line arrives, in order, before the build ends.

mod common;

use std::sync::{Arc, Mutex};

use common::{Harness, job, task};
use concorde_engine::{BuildEvent, BuildStatus, EventSink, RunEnv, compile_job_plan, run_build};
use tokio::sync::mpsc;

/// Hands each event to a consumer through a one-slot queue, so `emit` waits for the consumer.
struct SlowSink {
    queue: mpsc::Sender<BuildEvent>,
    /// Most events waiting at once (the slot plus the one being handed over).
    accepted: Mutex<usize>,
}

#[async_trait::async_trait]
impl EventSink for SlowSink {
    async fn emit(&self, event: BuildEvent) {
        self.queue.send(event).await.expect("consumer runs");
        if let Ok(mut accepted) = self.accepted.lock() {
            *accepted += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_sink_holds_the_step_back_and_loses_nothing() {
    let harness = Harness::new();
    let lines = 20_000;
    let yaml = job(&task(
        "chatty",
        &format!("i=0; while [ $i -lt {lines} ]; do echo line-$i; i=$((i+1)); done"),
        "",
    ));
    let pipeline = concorde_config::load_pipeline(
        yaml.as_bytes(),
        &concorde_config::vars::StaticVars::default(),
        concorde_config::UnknownKeys::Reject,
    )
    .expect("pipeline loads")
    .pipeline;
    let plan = compile_job_plan(&pipeline, &pipeline.jobs[0], &Default::default()).unwrap();
    let (queue, mut received) = mpsc::channel(1);
    let sink = Arc::new(SlowSink {
        queue,
        accepted: Mutex::new(0),
    });
    let consumer = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = received.recv().await {
            // Slower than the writer: give every other task a turn per event.
            tokio::task::yield_now().await;
            events.push(event);
        }
        events
    });
    let env = RunEnv::new(
        harness.env(1, Arc::default()).context,
        harness.placer(),
        sink.clone(),
        harness.cache_locks.clone(),
    );
    let status = run_build(Arc::new(env), &plan).await;
    let accepted = *sink.accepted.lock().unwrap();
    drop(sink);
    let events = consumer.await.unwrap();
    assert_eq!(status, BuildStatus::Succeeded);
    assert_eq!(
        events.len(),
        accepted,
        "every accepted event reached the consumer"
    );
    let log: String = events
        .iter()
        .filter_map(|event| match event {
            BuildEvent::Log { payload, .. } => Some(payload.as_str()),
            _ => None,
        })
        .collect();
    let expected: String = (0..lines).map(|i| format!("line-{i}\n")).collect();
    assert!(log == expected, "the log has every line in order");
    assert!(matches!(
        events.last(),
        Some(BuildEvent::Status {
            status: BuildStatus::Succeeded,
            ..
        })
    ));
}
