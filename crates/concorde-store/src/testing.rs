//! Test support: throwaway databases for the store's own suite, its benchmarks, and other
//! crates' tests. SQLite gets a temporary directory; PostgreSQL gets a fresh database in one
//! throwaway cluster shared by every test process of the run.
//!
//! The cluster lives under `$TMPDIR/concorde-test-pg-<flavour>` (override the parent with
//! `CONCORDE_TEST_PG_DIR`). The first process to need it runs `initdb` (as the `postgres`
//! user when we are root) and `pg_ctl start` with fsync off and only a unix socket, holding
//! a file lock so concurrent nextest processes start it once. Every test touches a heartbeat
//! file; a detached watchdog stops the cluster and deletes it once the heartbeat is a minute
//! old and no client is connected, so the postmaster never outlives the run for long.
//! When no PostgreSQL server binaries are installed the PostgreSQL half of a suite fails: it
//! never skips.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::{Store, StoreConfig};

/// Whether the throwaway cluster syncs to disk. Tests use `Fast`; the durability benchmark
/// uses `Durable` so its figures mean something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// fsync off, synchronous_commit off.
    Fast,
    /// PostgreSQL's durable defaults.
    Durable,
}

/// A store on a throwaway database; call [`TestStore::cleanup`] at the end of the test.
#[derive(Debug)]
pub struct TestStore {
    /// The store under test.
    pub store: Store,
    /// The connection URL (PostgreSQL) or data directory (SQLite) of this database.
    pub location: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Dir(PathBuf),
    Database { cluster: PathBuf, name: String },
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A migrated store on a fresh SQLite file in a new temporary directory.
pub async fn sqlite_store() -> TestStore {
    let dir = std::env::temp_dir().join(format!("concorde-test-sqlite-{}", unique_suffix()));
    let store = Store::open(&StoreConfig::Sqlite {
        data_dir: dir.clone(),
    })
    .await
    .unwrap_or_else(|err| panic!("opening a test SQLite store in {dir:?}: {err}"));
    TestStore {
        store,
        location: dir.display().to_string(),
        cleanup: Cleanup::Dir(dir),
    }
}

/// A migrated store on a fresh database of the shared throwaway cluster. Panics when the
/// PostgreSQL server binaries are missing: the PostgreSQL half of a suite never skips.
pub async fn postgres_store(flavour: Flavour) -> TestStore {
    let cluster = Cluster::ensure(flavour);
    let name = format!("t_{}", unique_suffix());
    let mut admin = cluster.connect("postgres").await;
    sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|err| panic!("creating test database {name}: {err}"));
    let _closed = admin.close().await;
    let url = cluster.url(&name);
    let store = Store::open(&StoreConfig::Postgres { url: url.clone() })
        .await
        .unwrap_or_else(|err| panic!("opening test PostgreSQL store {url}: {err}"));
    TestStore {
        store,
        location: url,
        cleanup: Cleanup::Database {
            cluster: cluster.dir,
            name,
        },
    }
}

impl TestStore {
    /// Opens a second, independent store on the same database (a second "node").
    pub async fn second_node(&self) -> Store {
        let config = match &self.cleanup {
            Cleanup::Dir(dir) => StoreConfig::Sqlite {
                data_dir: dir.clone(),
            },
            Cleanup::Database { .. } => StoreConfig::Postgres {
                url: self.location.clone(),
            },
        };
        Store::open(&config)
            .await
            .unwrap_or_else(|err| panic!("opening a second node: {err}"))
    }

    /// Closes the store and deletes its database.
    pub async fn cleanup(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Dir(dir) => {
                let _removed = fs::remove_dir_all(dir);
            }
            Cleanup::Database { cluster, name } => {
                let cluster = Cluster { dir: cluster };
                let mut admin = cluster.connect("postgres").await;
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _dropped = sqlx::raw_sql(&sql).execute(&mut admin).await;
                let _closed = admin.close().await;
            }
        }
    }
}

struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn socket_dir(&self) -> PathBuf {
        self.dir.join("sock")
    }

    fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}",
            self.socket_dir().display()
        )
    }

    async fn connect(&self, database: &str) -> PgConnection {
        let options = PgConnectOptions::new()
            .socket(self.socket_dir())
            .username("postgres")
            .database(database);
        PgConnection::connect_with(&options)
            .await
            .unwrap_or_else(|err| panic!("connecting to the test cluster in {:?}: {err}", self.dir))
    }

    /// Makes sure the cluster of this flavour runs, starting it if needed.
    fn ensure(flavour: Flavour) -> Cluster {
        let Some(bin) = find_pg_bin() else {
            panic!(
                "PostgreSQL server binaries not found: install postgresql-15 or set CONCORDE_PG_BIN"
            );
        };
        let parent =
            std::env::var_os("CONCORDE_TEST_PG_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let tag = match flavour {
            Flavour::Fast => "fast",
            Flavour::Durable => "durable",
        };
        let dir = parent.join(format!("concorde-test-pg-{tag}"));
        let cluster = Cluster { dir };
        cluster.start_locked(&bin, flavour);
        cluster
    }

    fn start_locked(&self, bin: &Path, flavour: Flavour) {
        fs::create_dir_all(self.socket_dir())
            .unwrap_or_else(|err| panic!("creating {:?}: {err}", self.dir));
        open_to_postgres_user(&self.dir);
        open_to_postgres_user(&self.socket_dir());
        let lock =
            File::create(self.dir.join("lock")).unwrap_or_else(|err| panic!("lock file: {err}"));
        lock.lock()
            .unwrap_or_else(|err| panic!("locking the test cluster: {err}"));
        touch(&self.dir.join("heartbeat"));
        let data = self.dir.join("data");
        if self.is_ready(bin) {
            return;
        }
        if !data.join("PG_VERSION").exists() {
            let _removed = fs::remove_dir_all(&data);
            as_postgres(bin.join("initdb"))
                .args(["-D"])
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ])
                .stdout(Stdio::null())
                .run("initdb");
        }
        let fsync = if flavour == Flavour::Fast {
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        } else {
            ""
        };
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories={} -c max_connections=300 {fsync}",
            self.socket_dir().display()
        );
        as_postgres(bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.dir.join("postgres.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .run("pg_ctl start");
        self.spawn_watchdog(bin);
        drop(lock);
    }

    fn is_ready(&self, bin: &Path) -> bool {
        Command::new(bin.join("pg_isready"))
            .arg("-q")
            .arg("-h")
            .arg(self.socket_dir())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// A detached shell loop that stops and deletes the cluster once tests stop touching the
    /// heartbeat and no client is connected.
    fn spawn_watchdog(&self, bin: &Path) {
        let script = format!(
            r#"cd "{dir}" || exit 0
while sleep 10; do
  [ -f data/postmaster.pid ] || exit 0
  age=$(( $(date +%s) - $(stat -c %Y heartbeat 2>/dev/null || echo 0) ))
  [ "$age" -lt 60 ] && continue
  clients=$({as_pg} "{bin}/psql" -h "{dir}/sock" -U postgres -d postgres -Atc "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()" 2>/dev/null || echo 0)
  [ "$clients" -gt 0 ] && continue
  exec flock lock sh -c '{as_pg} "{bin}/pg_ctl" -D data -m fast stop >/dev/null 2>&1; rm -rf data'
done"#,
            dir = self.dir.display(),
            bin = bin.display(),
            as_pg = if running_as_root() {
                "runuser -u postgres --"
            } else {
                ""
            },
        );
        let spawned = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Err(err) = spawned {
            eprintln!("warning: no watchdog for the test cluster ({err}); stop it with pg_ctl");
        }
    }
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CONCORDE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates.pop()
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A command that runs as the `postgres` user when we are root (`initdb` refuses root).
fn as_postgres(program: PathBuf) -> Command {
    if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn open_to_postgres_user(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // The cluster directory is shared between us (maybe root) and the postgres user.
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o777));
}

fn touch(path: &Path) {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path);
    if let Ok(file) = file {
        let _ = file.set_modified(SystemTime::now());
    }
}

trait RunChecked {
    fn run(&mut self, what: &str);
}

impl RunChecked for Command {
    fn run(&mut self, what: &str) {
        let status = self
            .status()
            .unwrap_or_else(|err| panic!("{what}: cannot start: {err}"));
        assert!(status.success(), "{what} failed with {status}");
    }
}

/// How long a test may wait for a notification before failing.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The next notification `listener` hears. Panics after [`NOTIFY_TIMEOUT`], on an error, and
/// on a "may have missed some" wake-up, which no test provokes.
pub async fn next_notification(listener: &mut crate::Listener) -> crate::Notification {
    tokio::time::timeout(NOTIFY_TIMEOUT, listener.recv())
        .await
        .expect("a notification within NOTIFY_TIMEOUT")
        .expect("the listener works")
        .expect("a notification, not a missed-notifications wake-up")
}

/// The next notification `listener` hears that names something, skipping bare wake-ups
/// (empty payload), such as the one setting a pipeline sends, which on PostgreSQL may reach a
/// listener made after the pipeline was set.
pub async fn next_named_notification(listener: &mut crate::Listener) -> crate::Notification {
    loop {
        let note = next_notification(listener).await;
        if !note.payload.is_empty() {
            return note;
        }
    }
}

/// Declares `mod $name { sqlite, postgres }` running the async fn `$name(&TestStore)` of the
/// enclosing module on a fresh store of each backend, cleaned up afterwards: how every suite
/// over a bare store runs each test body on both backends.
#[macro_export]
macro_rules! store_test {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testing::sqlite_store().await;
                super::$name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let flavour = $crate::testing::Flavour::Fast;
                let db = $crate::testing::postgres_store(flavour).await;
                super::$name(&db).await;
                db.cleanup().await;
            }
        }
    )*};
}
