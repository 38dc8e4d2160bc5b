//! Components: the named background loops, their interval, pause switch and last run.

use crate::error::{StoreError, StoreResult};
use crate::ids::Timestamp;
use crate::teams::expect_one;
use crate::{Store, with_db};

/// A background loop's persisted state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Component {
    /// Unique name, e.g. `scheduler`.
    pub name: String,
    /// How often it runs, in milliseconds.
    pub interval_ms: i64,
    /// Whether an operator paused it.
    pub paused: bool,
    /// When it last finished a run without error.
    pub last_ran: Option<Timestamp>,
}

impl Store {
    /// Registers a component at start-up: sets the interval, keeps `paused` and `last_ran`.
    pub async fn register_component(&self, name: &str, interval_ms: i64) -> StoreResult<Component> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_as::<_, Component>(
                "INSERT INTO components (name, interval_ms) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET interval_ms = excluded.interval_ms
                 RETURNING name, interval_ms, paused, last_ran",
            )
            .bind(name)
            .bind(interval_ms)
            .fetch_one(pool)
            .await?)
        })
    }

    /// Every component, by name.
    pub async fn list_components(&self) -> StoreResult<Vec<Component>> {
        with_db!(self, |pool, pg| {
            Ok(sqlx::query_as::<_, Component>(
                "SELECT name, interval_ms, paused, last_ran FROM components ORDER BY name",
            )
            .fetch_all(pool)
            .await?)
        })
    }

    /// One component.
    pub async fn component(&self, name: &str) -> StoreResult<Component> {
        with_db!(self, |pool, pg| {
            sqlx::query_as::<_, Component>(
                "SELECT name, interval_ms, paused, last_ran FROM components WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| StoreError::not_found("component", name))
        })
    }

    /// Pauses or resumes a component.
    pub async fn set_component_paused(&self, name: &str, paused: bool) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE components SET paused = $1 WHERE name = $2")
                .bind(paused)
                .bind(name)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "component", name)
        })
    }

    /// Records a successful run.
    pub async fn mark_component_ran(&self, name: &str, at: Timestamp) -> StoreResult<()> {
        with_db!(self, |pool, pg| {
            let res = sqlx::query("UPDATE components SET last_ran = $1 WHERE name = $2")
                .bind(at)
                .bind(name)
                .execute(pool)
                .await?;
            expect_one(res.rows_affected(), "component", name)
        })
    }
}
