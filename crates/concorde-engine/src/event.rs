//! Build events, in the shapes of Concourse's event stream, and the sink the engine emits to.
//!
//! The engine never stores events itself: it hands each one to an [`EventSink`] (the store, in
//! the web node; a collecting sink in tests), in the order they happen.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use concorde_config::model::VersionMap;
use concorde_core::{BuildStatus, EventKind};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::plan::PlanId;

/// Where a step event comes from: the plan node, and for logs the stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The plan node's id.
    pub id: PlanId,
    /// `stdout` or `stderr` for logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'static str>,
}

impl Origin {
    /// An origin without a stream.
    pub fn step(id: &PlanId) -> Origin {
        Origin {
            id: id.clone(),
            source: None,
        }
    }
}

/// One `{name, value}` metadata entry of a resource version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MetadataField {
    /// The field name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A build event. The API wraps each as `{"data":..., "event":..., "version":...}`.
#[derive(Clone, Debug, PartialEq)]
pub enum BuildEvent {
    /// `status`: the build started or finished.
    Status {
        /// `started`, or how the build finished.
        status: BuildStatus,
        /// Unix seconds.
        time: i64,
    },
    /// `log`: output of a step.
    Log {
        /// The step and stream.
        origin: Origin,
        /// The bytes, as text (lossy for invalid UTF-8).
        payload: String,
        /// Unix seconds.
        time: i64,
    },
    /// `error`: a step errored, timed out or was interrupted.
    Error {
        /// The step.
        origin: Origin,
        /// What went wrong.
        message: String,
        /// Unix seconds.
        time: i64,
    },
    /// A step lifecycle event without extra fields (`initialize`, `start`, `initialize-get`, ...).
    Lifecycle {
        /// The event type.
        kind: EventKind,
        /// The step.
        origin: Origin,
        /// Unix seconds.
        time: i64,
    },
    /// `finish`: a generic step finished.
    Finish {
        /// The step.
        origin: Origin,
        /// Whether it succeeded.
        succeeded: bool,
        /// Unix seconds.
        time: i64,
    },
    /// `finish-get` / `finish-put`.
    FinishResource {
        /// `finish-get` or `finish-put`.
        kind: EventKind,
        /// The step.
        origin: Origin,
        /// The script's exit status.
        exit_status: i32,
        /// The version, `None` when the script failed.
        version: Option<VersionMap>,
        /// The metadata.
        metadata: Vec<MetadataField>,
        /// Unix seconds.
        time: i64,
    },
    /// `initialize-task` / `start-task`.
    TaskConfig {
        /// `initialize-task` or `start-task`.
        kind: EventKind,
        /// The step.
        origin: Origin,
        /// `{platform, image, run{path,args,dir}, inputs[{name,path}]}`.
        config: Json,
        /// Unix seconds.
        time: i64,
    },
    /// `finish-task`.
    FinishTask {
        /// The step.
        origin: Origin,
        /// The process's exit status.
        exit_status: i32,
        /// Unix seconds.
        time: i64,
    },
    /// `waiting-for-worker`: no worker fits the step (yet); it waits for one.
    WaitingForWorker {
        /// The step.
        origin: Origin,
        /// Unix seconds.
        time: i64,
    },
    /// `selected-worker`: the worker a step runs on.
    SelectedWorker {
        /// The step.
        origin: Origin,
        /// The worker's name.
        worker: String,
        /// Unix seconds.
        time: i64,
    },
    /// `streaming-volume`: an input of the step is copied from the worker it is on.
    StreamingVolume {
        /// The step.
        origin: Origin,
        /// The volume streamed.
        volume: String,
        /// The worker it is on.
        source_worker: String,
        /// The step's worker.
        dest_worker: String,
        /// Unix seconds.
        time: i64,
    },
    /// `initialize-check`: a check build's step, with what it checks.
    InitializeCheck {
        /// The step.
        origin: Origin,
        /// The resource's or resource type's name.
        name: String,
        /// Unix seconds.
        time: i64,
    },
    /// `set-pipeline-changed`.
    SetPipelineChanged {
        /// The step.
        origin: Origin,
        /// Whether the config changed.
        changed: bool,
    },
    /// `across-substeps`.
    AcrossSubsteps {
        /// The step.
        origin: Origin,
        /// `[{"step": <plan>, "values": [...]}]`.
        substeps: Json,
        /// Unix seconds.
        time: i64,
    },
}

impl BuildEvent {
    /// The event's kind (`log`, `finish-get`, ...), which also says its version.
    pub fn kind(&self) -> EventKind {
        match self {
            BuildEvent::Status { .. } => EventKind::Status,
            BuildEvent::Log { .. } => EventKind::Log,
            BuildEvent::Error { .. } => EventKind::Error,
            BuildEvent::Lifecycle { kind, .. }
            | BuildEvent::FinishResource { kind, .. }
            | BuildEvent::TaskConfig { kind, .. } => *kind,
            BuildEvent::Finish { .. } => EventKind::Finish,
            BuildEvent::FinishTask { .. } => EventKind::FinishTask,
            BuildEvent::WaitingForWorker { .. } => EventKind::WaitingForWorker,
            BuildEvent::SelectedWorker { .. } => EventKind::SelectedWorker,
            BuildEvent::StreamingVolume { .. } => EventKind::StreamingVolume,
            BuildEvent::InitializeCheck { .. } => EventKind::InitializeCheck,
            BuildEvent::SetPipelineChanged { .. } => EventKind::SetPipelineChanged,
            BuildEvent::AcrossSubsteps { .. } => EventKind::AcrossSubsteps,
        }
    }

    /// The `data` object of the event.
    pub fn data(&self) -> Json {
        match self {
            BuildEvent::Status { status, time } => json!({"status": status, "time": time}),
            BuildEvent::Log {
                origin,
                payload,
                time,
            } => json!({"time": time, "origin": origin, "payload": payload}),
            BuildEvent::Error {
                origin,
                message,
                time,
            } => json!({"message": message, "origin": origin, "time": time}),
            BuildEvent::Lifecycle { origin, time, .. } => json!({"origin": origin, "time": time}),
            BuildEvent::Finish {
                origin,
                succeeded,
                time,
            } => {
                json!({"origin": origin, "time": time, "succeeded": succeeded})
            }
            BuildEvent::FinishResource {
                origin,
                exit_status,
                version,
                metadata,
                time,
                ..
            } => {
                let mut data = json!({"origin": origin, "time": time, "exit_status": exit_status, "version": version});
                if !metadata.is_empty()
                    && let Some(map) = data.as_object_mut()
                {
                    map.insert("metadata".to_owned(), json!(metadata));
                }
                data
            }
            BuildEvent::TaskConfig {
                origin,
                config,
                time,
                ..
            } => json!({"origin": origin, "time": time, "config": config}),
            BuildEvent::FinishTask {
                origin,
                exit_status,
                time,
            } => {
                json!({"origin": origin, "time": time, "exit_status": exit_status})
            }
            BuildEvent::WaitingForWorker { origin, time } => {
                json!({"origin": origin, "time": time})
            }
            BuildEvent::SelectedWorker {
                origin,
                worker,
                time,
            } => {
                json!({"origin": origin, "time": time, "selected_worker": worker})
            }
            BuildEvent::StreamingVolume {
                origin,
                volume,
                source_worker,
                dest_worker,
                time,
            } => json!({
                "origin": origin,
                "time": time,
                "volume": volume,
                "source_worker": source_worker,
                "dest_worker": dest_worker,
            }),
            BuildEvent::InitializeCheck { origin, name, time } => {
                json!({"origin": origin, "time": time, "name": name})
            }
            BuildEvent::SetPipelineChanged { origin, changed } => {
                json!({"origin": origin, "changed": changed})
            }
            BuildEvent::AcrossSubsteps {
                origin,
                substeps,
                time,
            } => {
                json!({"origin": origin, "time": time, "substeps": substeps})
            }
        }
    }

    /// The whole envelope without `event_id` (the store assigns it).
    pub fn envelope(&self) -> Json {
        let kind = self.kind();
        json!({"data": self.data(), "event": kind.name(), "version": kind.version()})
    }
}

/// The current time in unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        })
}

/// Receives a build's events in order. `emit` may wait: that is the back-pressure that holds
/// a chatty step (its output streams stop being read) while the events already taken are
/// stored, so no event is ever dropped.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Records one event, waiting while the sink is full.
    async fn emit(&self, event: BuildEvent);
}

/// A sink that keeps every event in memory (tests, `fly execute`-style local runs).
#[derive(Debug, Default)]
pub struct CollectingSink {
    events: Mutex<Vec<BuildEvent>>,
}

impl CollectingSink {
    /// A copy of every event so far.
    pub fn events(&self) -> Vec<BuildEvent> {
        self.events
            .lock()
            .map(|events| events.clone())
            .unwrap_or_default()
    }

    /// All log output so far, concatenated.
    pub fn log_text(&self) -> String {
        self.events()
            .into_iter()
            .filter_map(|event| match event {
                BuildEvent::Log { payload, .. } => Some(payload),
                _ => None,
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl EventSink for CollectingSink {
    async fn emit(&self, event: BuildEvent) {
        // A poisoned lock means a test already panicked; dropping the event is harmless then.
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}
