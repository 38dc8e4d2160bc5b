//! Store benchmarks (`cargo bench -p concorde-store`), printed as figures rather than asserted:
//! durable log ingestion on PostgreSQL (lines/s, stored bytes per line), and the
//! relint-versions-2 dump imported into each backend and its regression case resolved through
//! the SQL versions view, checked against the in-memory view's answer.

#[path = "support/relint.rs"]
mod relint;

use std::time::Instant;

use concorde_store::testing::{Flavour, TestStore, postgres_store, sqlite_store};
use concorde_store::{NewBuildEvent, Timestamp};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let db = postgres_store(Flavour::Durable).await;
        log_ingestion(&db).await;
        db.cleanup().await;
        let sqlite = sqlite_store().await;
        relint::bench(&sqlite).await;
        sqlite.cleanup().await;
        let db = postgres_store(Flavour::Fast).await;
        relint::bench(&db).await;
        db.cleanup().await;
    });
}

/// 4 writers, each appending 50 batches of 1,000 lines of ~80 characters to its own build,
/// every batch committed durably (fsync on).
async fn log_ingestion(db: &TestStore) {
    let store = &db.store;
    let team = store
        .create_team("bench", false, &serde_json::json!({}))
        .await
        .expect("team");
    let (writers, batches, batch_lines) = (4, 50, 1000);
    let mut builds = Vec::new();
    for _ in 0..writers {
        builds.push(
            store
                .create_one_off_build(&concorde_store::NewOneOffBuild {
                    team: team.id,
                    pipeline: None,
                    plan: &serde_json::json!({}),
                    private_plan: &serde_json::json!({}),
                    created_by: None,
                    now: Timestamp::now(),
                })
                .await
                .expect("build")
                .id,
        );
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (writer, build) in builds.into_iter().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seed = 0x9e37_79b9_u64 + writer as u64;
            for batch in 0..batches {
                let events: Vec<NewBuildEvent> = (0..batch_lines)
                    .map(|line| NewBuildEvent::Log {
                        origin: "5f3c2a1b".into(),
                        time: Timestamp(
                            1_700_000_000_000 + (batch * batch_lines + line) as i64 * 3,
                        ),
                        output: log_line(&mut seed, batch * batch_lines + line).into_bytes(),
                    })
                    .collect();
                store
                    .append_build_events(build, &events)
                    .await
                    .expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let elapsed = started.elapsed();
    let lines = (writers * batches * batch_lines) as f64;
    let pool = sqlx::PgPool::connect(&db.location).await.expect("connect");
    let bytes: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('build_event_chunks')")
        .fetch_one(&pool)
        .await
        .expect("size");
    pool.close().await;
    println!(
        "log ingestion (postgres, fsync on, batches of {batch_lines}, {writers} writers): {:.0} lines/s, {:.1} stored bytes/line ({} lines in {:.2?})",
        lines / elapsed.as_secs_f64(),
        bytes as f64 / lines,
        lines,
        elapsed
    );
}

/// A plausible build-log line: a timestamp-ish prefix, a few words, a counter, random hex.
fn log_line(seed: &mut u64, n: usize) -> String {
    const WORDS: &[&str] = &[
        "compiling",
        "running",
        "test",
        "ok",
        "downloading",
        "package",
        "resolving",
        "deltas",
        "warning:",
        "unused",
        "variable",
        "in",
        "src/main.rs",
        "finished",
        "step",
        "fetching",
    ];
    let mut next = || {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    };
    let mut line = format!("[{:>6}] ", n);
    for _ in 0..6 {
        line.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
        line.push(' ');
    }
    line.push_str(&format!("{:016x}{:08x}\n", next(), next() as u32));
    line
}
