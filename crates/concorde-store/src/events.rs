//! Build events (log lines and structured events), stored compactly: each append writes one
//! row holding the whole batch, JSON-encoded with short keys and deflated, so per-line
//! overhead (row header, index entry, keys, origin) is paid once per batch, not per line.
//! Event ids are per build, 0-based and gap-free. Per-job retention reaps old builds' logs.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};

pub use concorde_core::EventKind;

use crate::backend::WritePool;
use crate::backend::notify::Topic;
use crate::builds::BuildStatus;
use crate::error::{StoreError, StoreResult};
use crate::ids::{BuildId, JobId, Timestamp};
use crate::{Store, with_db};

/// An event to append. Log output arrives as raw bytes and must be UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewBuildEvent {
    /// Output of a step.
    Log {
        /// The plan id of the step that wrote it.
        origin: String,
        /// When it was written.
        time: Timestamp,
        /// The bytes written (often one line).
        output: Vec<u8>,
    },
    /// Any other event (`status`, `initialize-task`, `finish-get`, ...).
    Other {
        /// Event type; stored with the version [`EventKind::version`] names.
        kind: EventKind,
        /// Event data.
        data: serde_json::Value,
    },
}

/// A stored event's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum EventPayload {
    /// Output of a step.
    #[serde(rename = "l")]
    Log {
        /// Step plan id.
        #[serde(rename = "o")]
        origin: String,
        /// When it was written.
        #[serde(rename = "t")]
        time: Timestamp,
        /// The text.
        #[serde(rename = "x")]
        output: String,
    },
    /// Any other event.
    #[serde(rename = "e")]
    Other {
        /// Event type.
        #[serde(rename = "y")]
        kind: String,
        /// Schema version.
        #[serde(rename = "v")]
        version: String,
        /// Data JSON.
        #[serde(rename = "d")]
        data: String,
    },
}

impl EventPayload {
    /// Roughly how many bytes it holds.
    fn size(&self) -> usize {
        match self {
            EventPayload::Log { origin, output, .. } => origin.len() + output.len(),
            EventPayload::Other { kind, data, .. } => kind.len() + data.len(),
        }
    }
}

/// How much log output one page of [`Store::build_events`] holds at most (plus one event).
pub const PAGE_BYTES: usize = 1024 * 1024;

/// Chunk rows fetched per query while filling a page.
const CHUNKS_PER_READ: i64 = 4;

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEvent {
    /// Per-build sequence number, from 0.
    pub event_id: i64,
    /// Its content.
    pub payload: EventPayload,
}

/// How many builds' logs a job keeps (Concourse's `build_log_retention`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogRetention {
    /// Keep the newest this many finished builds (0 = no count limit).
    pub builds: u32,
    /// Among them, always keep this many succeeded builds.
    pub minimum_succeeded: u32,
    /// Keep builds that ended less than this many days ago (0 = no age limit).
    pub days: u32,
}

impl Store {
    /// Appends a batch of events to a build in one row; returns the id of the first. Fails
    /// with `InvalidUtf8` (nothing written) when any log output is not UTF-8.
    pub async fn append_build_events(
        &self,
        build: BuildId,
        events: &[NewBuildEvent],
    ) -> StoreResult<i64> {
        let payloads = events
            .iter()
            .enumerate()
            .map(|(index, event)| match event {
                NewBuildEvent::Log {
                    origin,
                    time,
                    output,
                } => {
                    let output =
                        std::str::from_utf8(output).map_err(|err| StoreError::InvalidUtf8 {
                            index,
                            valid_up_to: err.valid_up_to(),
                        })?;
                    Ok(EventPayload::Log {
                        origin: origin.clone(),
                        time: *time,
                        output: output.to_owned(),
                    })
                }
                NewBuildEvent::Other { kind, data } => Ok(EventPayload::Other {
                    kind: kind.name().to_owned(),
                    version: kind.version().to_owned(),
                    data: data.to_string(),
                }),
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let Some(count) = i64::try_from(payloads.len()).ok().filter(|n| *n > 0) else {
            return Ok(0);
        };
        let data = encode(&payloads)?;
        let first = with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            if pg {
                // Serializes appenders of one build so event ids stay gap-free and unique.
                let found: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(1 AS BIGINT) FROM builds WHERE id = $1 FOR UPDATE",
                )
                .bind(build)
                .fetch_optional(&mut *tx)
                .await?;
                found.ok_or_else(|| StoreError::not_found("build", build))?;
            }
            let next: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(last_event_id), -1) + 1 FROM build_event_chunks WHERE build_id = $1",
            )
            .bind(build)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO build_event_chunks (build_id, first_event_id, last_event_id, data)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(build)
            .bind(next)
            .bind(next + count - 1)
            .bind(&data)
            .execute(&mut *tx)
            .await
            .map_err(crate::error::fk_to_not_found("build", build))?;
            tx.commit().await?;
            next
        });
        self.notify(Topic::BuildEvents(build), &first.to_string())
            .await?;
        Ok(first)
    }

    /// Up to `limit` events of a build with id `>= from`, in order: a page, which also ends
    /// with the first event that takes its log output past [`PAGE_BYTES`], so a reader of a
    /// huge log holds one page at a time whatever its `limit`. Read on from the last event's
    /// id plus one.
    pub async fn build_events(
        &self,
        build: BuildId,
        from: i64,
        limit: usize,
    ) -> StoreResult<Vec<BuildEvent>> {
        let mut page = Vec::new();
        let mut bytes = 0;
        let mut next = from;
        while page.len() < limit && bytes < PAGE_BYTES {
            let rows: Vec<(i64, Vec<u8>)> = with_db!(self, |pool, pg| {
                sqlx::query_as(
                    "SELECT first_event_id, data FROM build_event_chunks
                     WHERE build_id = $1 AND last_event_id >= $2 ORDER BY first_event_id LIMIT $3",
                )
                .bind(build)
                .bind(next)
                .bind(CHUNKS_PER_READ)
                .fetch_all(pool)
                .await?
            });
            if rows.is_empty() {
                break;
            }
            'rows: for (first, data) in rows {
                for (event_id, payload) in (first..).zip(decode(&data)?) {
                    if event_id < next {
                        continue;
                    }
                    if page.len() >= limit || bytes >= PAGE_BYTES {
                        break 'rows;
                    }
                    bytes += payload.size();
                    next = event_id + 1;
                    page.push(BuildEvent { event_id, payload });
                }
            }
        }
        Ok(page)
    }

    /// Applies a job's log retention: deletes the events of finished builds that the policy
    /// does not keep and marks them reaped. Returns the reaped build ids, newest first.
    pub async fn reap_build_events(
        &self,
        job: JobId,
        retention: LogRetention,
        now: Timestamp,
    ) -> StoreResult<Vec<BuildId>> {
        if retention.builds == 0 && retention.days == 0 {
            return Ok(Vec::new());
        }
        let day_ms = 24 * 60 * 60 * 1000;
        let cutoff = now.plus_millis(-i64::from(retention.days) * day_ms);
        with_db!(self, |pool, pg| {
            let mut tx = pool.begin_write().await?;
            let builds: Vec<(BuildId, String, Option<Timestamp>)> = sqlx::query_as(
                "SELECT id, status, end_time FROM builds
                 WHERE job_id = $1 AND completed AND NOT logs_reaped ORDER BY id DESC",
            )
            .bind(job)
            .fetch_all(&mut *tx)
            .await?;
            let (mut kept, mut kept_succeeded, mut reaped) = (0_u32, 0_u32, Vec::new());
            // Kept by the count or the age rather than as a minimum succeeded build, newest
            // first: the ones the count cap below may still reap.
            let mut kept_by_rule = Vec::new();
            for (id, status, end_time) in builds {
                if retention.builds > 0
                    && BuildStatus::try_from(status)? == BuildStatus::Succeeded
                    && kept_succeeded < retention.minimum_succeeded
                {
                    kept_succeeded += 1;
                    kept += 1;
                } else if (retention.builds > 0 && kept < retention.builds)
                    || (retention.days > 0 && end_time.is_some_and(|end| end > cutoff))
                {
                    kept += 1;
                    kept_by_rule.push(id);
                } else {
                    reaped.push(id);
                }
            }
            // As Concourse's collector: once a pass reaps anything, `builds` caps the total
            // kept (minimum succeeded builds included), so the oldest extra keepers go too.
            if !reaped.is_empty() && retention.builds > 0 && kept > retention.builds {
                let extra = usize::try_from(kept - retention.builds).unwrap_or(usize::MAX);
                reaped.extend(kept_by_rule.iter().rev().take(extra));
                reaped.sort_unstable_by(|a, b| b.cmp(a));
            }
            for id in &reaped {
                sqlx::query("DELETE FROM build_event_chunks WHERE build_id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE builds SET logs_reaped = TRUE WHERE id = $1")
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(reaped)
        })
    }
}

fn encode(payloads: &[EventPayload]) -> StoreResult<Vec<u8>> {
    let json = serde_json::to_vec(payloads).map_err(|err| StoreError::Corrupt {
        what: "build events",
        detail: err.to_string(),
    })?;
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(json.len() / 2), Compression::fast());
    encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .map_err(|err| StoreError::Corrupt {
            what: "build events",
            detail: err.to_string(),
        })
}

fn decode(data: &[u8]) -> StoreResult<Vec<EventPayload>> {
    let mut json = Vec::new();
    DeflateDecoder::new(data)
        .read_to_end(&mut json)
        .map_err(|err| StoreError::Corrupt {
            what: "build events",
            detail: err.to_string(),
        })?;
    serde_json::from_slice(&json).map_err(|err| StoreError::Corrupt {
        what: "build events",
        detail: err.to_string(),
    })
}
