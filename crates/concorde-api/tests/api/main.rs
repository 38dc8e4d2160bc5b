//! API tests: `router(state).oneshot(request)` against a real store, every case on SQLite and
//! on PostgreSQL (the PostgreSQL half is skipped loudly when no server binaries exist).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod support;

mod auth;
mod badges;
mod builds;
mod config;
mod events;
mod jobs;
mod malformed;
mod pipelines;
mod resources;
mod workers;
