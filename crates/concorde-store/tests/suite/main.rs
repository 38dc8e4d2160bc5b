//! The store suite: every test body runs twice, on SQLite and on PostgreSQL, through the same
//! domain API (`store_test!` generates one `sqlite` and one `postgres` test per body).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use concorde_store::testing::TestStore;

/// Declares `mod $name { sqlite, postgres }` running the async fn `$name(&TestStore)`.
macro_rules! store_test {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = concorde_store::testing::sqlite_store().await;
                super::$name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let flavour = concorde_store::testing::Flavour::Fast;
                let db = concorde_store::testing::postgres_store(flavour).await;
                super::$name(&db).await;
                db.cleanup().await;
            }
        }
    )*};
}

mod atomicity;
mod builds;
mod caches;
mod check_builds;
mod children;
mod containers;
mod fixtures;
mod gc;
mod migrations;
mod one_off_builds;
mod pipelines;
mod renames;
mod teams;
mod volumes;
mod workers;

#[allow(unused_imports)]
pub(crate) use store_test;

#[allow(dead_code)]
fn _assert_type(_: &TestStore) {}
