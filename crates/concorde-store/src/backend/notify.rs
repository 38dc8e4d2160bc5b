//! Wake-up notifications between nodes: LISTEN/NOTIFY on PostgreSQL, an in-process broadcast
//! channel on SQLite. Notifications are hints ("look again"), never the data itself: a listener
//! that misses one still finds the work on its next poll.

use sqlx::postgres::PgListener;
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

impl Topic {
    fn channel(&self) -> String {
        match self {
            Topic::BuildEvents(id) => format!("concorde_build_events_{id}"),
            Topic::JobScheduling => "concorde_job_scheduling".to_owned(),
            Topic::CheckRequested => "concorde_check_requested".to_owned(),
            Topic::BuildAbort(id) => format!("concorde_build_abort_{id}"),
        }
    }

    fn from_channel(channel: &str) -> Option<Topic> {
        let build = |rest: &str| rest.parse().ok().map(BuildId);
        if let Some(rest) = channel.strip_prefix("concorde_build_events_") {
            build(rest).map(Topic::BuildEvents)
        } else if let Some(rest) = channel.strip_prefix("concorde_build_abort_") {
            build(rest).map(Topic::BuildAbort)
        } else {
            match channel {
                "concorde_job_scheduling" => Some(Topic::JobScheduling),
                "concorde_check_requested" => Some(Topic::CheckRequested),
                _ => None,
            }
        }
    }
}

/// A subscription to some topics; dropping it unsubscribes.
pub struct Listener {
    inner: ListenerInner,
}

enum ListenerInner {
    Pg(PgListener),
    Local {
        rx: broadcast::Receiver<Notification>,
        topics: Vec<Topic>,
    },
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Store {
    /// Sends a notification to every listener of its topic, on every node.
    pub async fn notify(&self, topic: Topic, payload: &str) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(db) => {
                // No receivers is fine: nobody is waiting.
                let _receivers = db.shared.bus.send(Notification {
                    topic,
                    payload: payload.into(),
                });
            }
            Backend::Postgres(db) => {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(topic.channel())
                    .bind(payload)
                    .execute(&db.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Subscribes to `topics`. Notifications sent after this returns are delivered.
    pub async fn listen(&self, topics: &[Topic]) -> StoreResult<Listener> {
        let inner = match &self.backend {
            Backend::Sqlite(db) => ListenerInner::Local {
                rx: db.shared.bus.subscribe(),
                topics: topics.to_vec(),
            },
            Backend::Postgres(db) => {
                let mut listener = PgListener::connect_with(&db.pool).await?;
                let channels: Vec<String> = topics.iter().map(Topic::channel).collect();
                listener
                    .listen_all(channels.iter().map(String::as_str))
                    .await?;
                ListenerInner::Pg(listener)
            }
        };
        Ok(Listener { inner })
    }
}

impl Listener {
    /// Waits for the next notification on a subscribed topic.
    pub async fn recv(&mut self) -> StoreResult<Notification> {
        match &mut self.inner {
            ListenerInner::Pg(listener) => loop {
                let received = listener.recv().await?;
                if let Some(topic) = Topic::from_channel(received.channel()) {
                    return Ok(Notification {
                        topic,
                        payload: received.payload().to_owned(),
                    });
                }
            },
            ListenerInner::Local { rx, topics } => loop {
                match rx.recv().await {
                    Ok(note) if topics.contains(&note.topic) => return Ok(note),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(StoreError::Database(sqlx::Error::PoolClosed));
                    }
                }
            },
        }
    }
}
