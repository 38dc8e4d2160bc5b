//! The relint-versions-2 regression case through the SQL versions view: import the dump the
//! way the conformance harness does (FORMAT.md §7.2, successful build outputs filled up
//! front), resolve case `regression/006`, and compare with the in-memory view.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use concorde_sched::fixture::{Case, load_dump_case};
use concorde_store::testing::TestStore;
use serde_json::Value;

const CASE_ID: &str = "regression/006";

fn shared() -> PathBuf {
    std::env::var_os("CONCORDE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"))
}

/// Imports the dump into `db`, resolves the case through the view, prints timings.
pub async fn bench(db: &TestStore) {
    let algorithm = shared().join("conformance/algorithm");
    let cases: Value =
        serde_json::from_slice(&std::fs::read(algorithm.join("cases.json")).expect("cases.json"))
            .expect("json");
    let list = cases
        .get("cases")
        .unwrap_or(&cases)
        .as_array()
        .expect("case list");
    let case = list
        .iter()
        .find(|c| c["id"] == CASE_ID)
        .expect("relint case");
    let case: Case = serde_json::from_value(case.clone()).expect("case");
    let mut dump = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(algorithm.join("dumps/relint-versions-2.json.gz")).expect("dump"),
    )
    .read_to_end(&mut dump)
    .expect("gunzip");
    let loaded = load_dump_case(&case, &dump).expect("load dump");
    let expected = concorde_sched::resolve_inputs(&loaded.view, loaded.current_job, &loaded.inputs)
        .expect("memory");
    let dump: Value = serde_json::from_slice(&dump).expect("dump json");

    let started = Instant::now();
    let rows = import(db, &dump, loaded.current_job.0).await;
    let imported = started.elapsed();
    let mut timings = Vec::new();
    let mut resolution = None;
    for _ in 0..5 {
        let started = Instant::now();
        resolution = Some(
            db.store
                .resolve_inputs(loaded.current_job, loaded.inputs.clone())
                .await
                .expect("resolve"),
        );
        timings.push(started.elapsed());
    }
    let resolution = resolution.expect("ran");
    assert_eq!(
        format!("{resolution:?}"),
        format!("{expected:?}"),
        "SQL view disagrees with the memory view"
    );
    // The first run pays for cold caches and statement preparation; report it apart.
    let first = timings[0];
    timings.sort();
    println!(
        "relint-versions-2 on {}: import {rows} rows in {imported:.2?}; resolve {CASE_ID} (matches memory view, {} runs): first {first:.2?}, median {:.2?}, slowest {:.2?}",
        db.store.backend_kind(),
        timings.len(),
        timings[timings.len() / 2],
        timings[timings.len() - 1],
    );
}

fn int(row: &Value, key: &str) -> i64 {
    row[key].as_i64().unwrap_or(0)
}

macro_rules! insert_rows {
    ($tx:expr, $db:ty, $head:expr, $rows:expr, |$b:ident, $row:ident| $push:block) => {{
        for chunk in $rows.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::<$db>::new($head);
            qb.push_values(chunk, |mut $b, $row| $push);
            qb.push(" ON CONFLICT DO NOTHING");
            qb.build().execute(&mut *$tx).await.expect($head);
        }
    }};
}

macro_rules! import_into {
    ($pool:expr, $db:ty, $dump:expr, $current:expr) => {{
        let dump = $dump;
        let mut tx = $pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO teams (id, name) VALUES (1, 'main')").execute(&mut *tx).await.expect("team");
        sqlx::query("INSERT INTO pipelines (id, team_id, name, instance_key, config, config_version, ordering, last_updated) VALUES (1, 1, 'relint', '', '{}', 1, 1, 0)")
            .execute(&mut *tx).await.expect("pipeline");
        sqlx::query("INSERT INTO base_resource_types (id, name) VALUES (1, 'imported')").execute(&mut *tx).await.expect("base");
        let mut jobs: Vec<(String, i64)> = dump["JobIDs"].as_object().expect("jobs").iter().map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0))).collect();
        jobs.push(("current".into(), $current));
        insert_rows!(tx, $db, "INSERT INTO jobs (id, pipeline_id, name, config) ", jobs, |b, job| { b.push_bind(job.1).push_bind(1_i64).push_bind(job.0.clone()).push_bind("{}"); });
        let resources: Vec<(String, i64)> = dump["ResourceIDs"].as_object().expect("resources").iter().map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(0))).collect();
        insert_rows!(tx, $db, "INSERT INTO resource_configs (id, base_resource_type_id, source_hash, last_referenced) ", resources, |b, r| { b.push_bind(r.1).push_bind(1_i64).push_bind(r.1.to_string()).push_bind(0_i64); });
        insert_rows!(tx, $db, "INSERT INTO resources (id, pipeline_id, name, type, config, resource_config_id, scope_id) ", resources, |b, r| { b.push_bind(r.1).push_bind(1_i64).push_bind(r.0.clone()).push_bind("imported").push_bind("{}").push_bind(r.1).push_bind(r.1); });
        insert_rows!(tx, $db, "INSERT INTO resource_config_scopes (id, resource_config_id, resource_id) ", resources, |b, r| { b.push_bind(r.1).push_bind(r.1).push_bind(r.1); });
        let versions = dump["ResourceVersions"].as_array().expect("versions");
        insert_rows!(tx, $db, "INSERT INTO resource_config_versions (id, scope_id, version, version_digest, check_order) ", versions, |b, v| {
            let scope = if int(v, "ScopeID") == 0 { int(v, "ResourceID") } else { int(v, "ScopeID") };
            b.push_bind(int(v, "VersionID")).push_bind(scope).push_bind("{}").push_bind(int(v, "VersionID").to_string()).push_bind(int(v, "CheckOrder"));
        });
        let outputs = dump["BuildOutputs"].as_array().expect("outputs");
        let inputs = dump["BuildInputs"].as_array().expect("inputs");
        let mut builds: Vec<(i64, i64, &str)> = Vec::new();
        let mut seen = HashMap::new();
        for (rows, status) in [(outputs, "succeeded"), (inputs, "failed")] {
            for row in rows {
                if seen.insert(int(row, "BuildID"), ()).is_none() {
                    builds.push((int(row, "BuildID"), int(row, "JobID"), status));
                }
            }
        }
        insert_rows!(tx, $db, "INSERT INTO builds (id, name, status, team_id, pipeline_id, job_id, completed, create_time) ", builds, |b, build| {
            b.push_bind(build.0).push_bind(build.0.to_string()).push_bind(build.2).push_bind(1_i64).push_bind(1_i64).push_bind(build.1).push_bind(true).push_bind(0_i64);
        });
        insert_rows!(tx, $db, "INSERT INTO build_outputs (build_id, job_id, resource_id, version_digest, name) ", outputs, |b, o| {
            b.push_bind(int(o, "BuildID")).push_bind(int(o, "JobID")).push_bind(int(o, "ResourceID")).push_bind(int(o, "VersionID").to_string()).push_bind(int(o, "ResourceID").to_string());
        });
        let indexed: Vec<(usize, &Value)> = inputs.iter().enumerate().collect();
        insert_rows!(tx, $db, "INSERT INTO build_inputs (build_id, job_id, resource_id, version_digest, name) ", indexed, |b, i| {
            b.push_bind(int(i.1, "BuildID")).push_bind(int(i.1, "JobID")).push_bind(int(i.1, "ResourceID")).push_bind(int(i.1, "VersionID").to_string()).push_bind(i.0.to_string());
        });
        // Successful build outputs, filled up front: every build seen, outputs then inputs.
        insert_rows!(tx, $db, "INSERT INTO successful_build_outputs (build_id, job_id, rerun_of, rank) ", builds, |b, build| {
            b.push_bind(build.0).push_bind(build.1).push_bind(None::<i64>).push_bind(build.0);
        });
        let mut entries: Vec<(i64, i64, i64, String)> = Vec::new();
        let mut next_idx: HashMap<i64, i64> = HashMap::new();
        for row in outputs.iter().chain(inputs.iter()) {
            let idx = next_idx.entry(int(row, "BuildID")).or_insert(0);
            *idx += 1;
            entries.push((int(row, "BuildID"), *idx, int(row, "ResourceID"), int(row, "VersionID").to_string()));
        }
        insert_rows!(tx, $db, "INSERT INTO successful_build_output_entries (build_id, idx, resource_id, version_digest) ", entries, |b, e| {
            b.push_bind(e.0).push_bind(e.1).push_bind(e.2).push_bind(e.3.clone());
        });
        // Builds made later through the store take ids after the imported ones.
        sqlx::query("UPDATE counters SET value = (SELECT MAX(id) FROM builds) WHERE name = 'build_id'")
            .execute(&mut *tx)
            .await
            .expect("build id counter");
        tx.commit().await.expect("commit");
        versions.len() + builds.len() + outputs.len() + inputs.len() + entries.len()
    }};
}

async fn import(db: &TestStore, dump: &Value, current_job: i64) -> usize {
    if db.store.backend_kind() == "postgres" {
        let pool = sqlx::PgPool::connect(&db.location).await.expect("connect");
        let rows = import_into!(pool, sqlx::Postgres, dump, current_job);
        sqlx::raw_sql("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
        pool.close().await;
        rows
    } else {
        let url = format!("sqlite:{}/concorde.db", db.location);
        let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
        let rows = import_into!(pool, sqlx::Sqlite, dump, current_job);
        sqlx::raw_sql("ANALYZE")
            .execute(&pool)
            .await
            .expect("analyze");
        pool.close().await;
        rows
    }
}
