//! Wake-up notifications between nodes. Every node has one in-process bus that its listeners
//! subscribe to: on SQLite the store publishes straight onto it; on PostgreSQL it publishes with
//! NOTIFY and the node's single LISTEN session ([`super::pg_hub`]) relays what it hears onto
//! the bus, so a thousand listeners cost one database connection, not a thousand.
//!
//! Notifications are hints ("look again"), never the data itself: a listener that misses one
//! still finds the work on its next look, and is told when it may have missed some.

use tokio::sync::broadcast;

use crate::Store;
use crate::backend::Backend;
use crate::error::{StoreError, StoreResult};
use crate::ids::BuildId;

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Events were appended to this build (or it finished).
    BuildEvents(BuildId),
    /// Some job needs scheduling; the payload names it.
    JobScheduling,
    /// A resource check was requested; the payload names the resource.
    CheckRequested,
    /// Abort was requested for this build.
    BuildAbort(BuildId),
}

/// One delivered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What it is about.
    pub topic: Topic,
    /// Free-form detail, e.g. the job id for [`Topic::JobScheduling`].
    pub payload: String,
}

/// What travels on a node's bus.
#[derive(Debug, Clone)]
pub(crate) enum Signal {
    Heard(Notification),
    /// Notifications may have been lost (the LISTEN session was re-established): every
    /// listener should look again.
    Resync,
}

/// A node's in-process bus.
pub(crate) type Bus = broadcast::Sender<Signal>;

/// A new bus. Its capacity bounds memory only: a listener that falls further behind is told
/// it missed notifications rather than slowing anyone down.
pub(crate) fn new_bus() -> Bus {
    broadcast::channel(1024).0
}

const BUILD_EVENTS: &str = "concorde_build_events";
const JOB_SCHEDULING: &str = "concorde_job_scheduling";
const CHECK_REQUESTED: &str = "concorde_check_requested";
const BUILD_ABORT: &str = "concorde_build_abort";

/// The PostgreSQL channels, one per kind of topic; build topics carry the build id first in
/// their payload so that one LISTEN session hears every build.
pub(crate) const PG_CHANNELS: [&str; 4] =
    [BUILD_EVENTS, JOB_SCHEDULING, CHECK_REQUESTED, BUILD_ABORT];

impl Topic {
    /// The PostgreSQL channel and payload that carry `payload` on this topic.
    fn pg_message(&self, payload: &str) -> (&'static str, String) {
        match self {
            Topic::BuildEvents(id) => (BUILD_EVENTS, format!("{id}:{payload}")),
            Topic::JobScheduling => (JOB_SCHEDULING, payload.to_owned()),
            Topic::CheckRequested => (CHECK_REQUESTED, payload.to_owned()),
            Topic::BuildAbort(id) => (BUILD_ABORT, format!("{id}:{payload}")),
        }
    }
}

impl Notification {
    /// The notification a PostgreSQL message carries; `None` for a channel or payload this
    /// node does not know (a newer node's, say).
    pub(crate) fn from_pg(channel: &str, payload: &str) -> Option<Notification> {
        let for_build = |wrap: fn(BuildId) -> Topic| {
            let (id, rest) = payload.split_once(':')?;
            Some(Notification {
                topic: wrap(BuildId(id.parse().ok()?)),
                payload: rest.to_owned(),
            })
        };
        let plain = |topic| {
            Some(Notification {
                topic,
                payload: payload.to_owned(),
            })
        };
        match channel {
            BUILD_EVENTS => for_build(Topic::BuildEvents),
            BUILD_ABORT => for_build(Topic::BuildAbort),
            JOB_SCHEDULING => plain(Topic::JobScheduling),
            CHECK_REQUESTED => plain(Topic::CheckRequested),
            _ => None,
        }
    }
}

/// A subscription to some topics; dropping it unsubscribes. It holds no database connection.
pub struct Listener {
    rx: broadcast::Receiver<Signal>,
    topics: Vec<Topic>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Sends a notification to every listener of its topic, on every node.
    pub async fn notify(&self, topic: Topic, payload: &str) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(db) => {
                // No receivers is fine: nobody is waiting.
                let _receivers = db.shared.bus.send(Signal::Heard(Notification {
                    topic,
                    payload: payload.into(),
                }));
            }
            Backend::Postgres(db) => {
                let (channel, payload) = topic.pg_message(payload);
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(channel)
                    .bind(payload)
                    .execute(&db.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Subscribes to `topics`. Notifications sent after this returns are delivered.
    pub async fn listen(&self, topics: &[Topic]) -> StoreResult<Listener> {
        let rx = match &self.backend {
            Backend::Sqlite(db) => db.shared.bus.subscribe(),
            Backend::Postgres(db) => db.hub.subscribe(),
        };
        Ok(Listener {
            rx,
            topics: topics.to_vec(),
        })
    }
}

impl Listener {
    /// Waits for the next notification on a subscribed topic. `Ok(None)` says notifications
    /// may have been missed (this listener fell behind, or the database connection was
    /// re-established): look again at whatever this listener watches.
    pub async fn recv(&mut self) -> StoreResult<Option<Notification>> {
        loop {
            match self.rx.recv().await {
                Ok(Signal::Heard(note)) if self.topics.contains(&note.topic) => {
                    return Ok(Some(note));
                }
                Ok(Signal::Heard(_)) => {}
                Ok(Signal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Ok(None);
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(StoreError::Database(sqlx::Error::PoolClosed));
                }
            }
        }
    }
}
