//! Component tests of the web node: the checker, scheduler, tracker and reaper driven one
//! `tick()` at a time over a real store, each body run twice, on SQLite and on PostgreSQL
//! (`component_test!` generates one `sqlite` and one `postgres` test per body). Resources are
//! shell-script resource types on the host runtime, and builds that must stay running wait on
//! gate files, so every state a test asserts is reached deterministically.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Declares `mod $name { sqlite, postgres }` running the async fn `$name(&Harness)` of the
/// enclosing module on a fresh store of each backend.
macro_rules! component_test {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use concorde_store::testing::{Flavour, postgres_store, sqlite_store};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::harness::run(sqlite_store().await, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::harness::run(postgres_store(Flavour::Fast).await, super::$name).await;
            }
        }
    )*};
}

mod check_builds;
mod checking;
mod concurrency;
mod harness;
mod orphans;
mod pausing;
mod retention;
mod scheduling;
