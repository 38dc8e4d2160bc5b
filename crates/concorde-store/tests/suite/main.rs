//! The store suite: every test body runs twice, on SQLite and on PostgreSQL, through the same
//! domain API (`store_test!` generates one `sqlite` and one `postgres` test per body).

#![allow(clippy::unwrap_used, clippy::expect_used)]

// `store_test!` (exported by the store's `testing` module) in every module of the suite.
#[macro_use]
extern crate concorde_store;

use concorde_store::testing::TestStore;

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

#[allow(dead_code)]
fn _assert_type(_: &TestStore) {}
