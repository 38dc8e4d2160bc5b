//! What stands between the token endpoint and a password flood. Password hashing is slow and
//! memory-hungry on purpose (argon2: ~19 MiB per check), so it is bounded three ways:
//! - checks run on one dedicated thread per core (so only those threads ever hold argon2's
//!   memory, which the allocator keeps per thread), and only a few more may queue; past that
//!   the endpoint answers 429 at once instead of holding the request;
//! - each client address and each user name may fail a few times freely, then waits twice as
//!   long after every further failure (up to five minutes), answered 429 with `Retry-After`;
//!   a success clears both;
//! - an unknown user name costs the same check as a known one, so timing does not tell which
//!   names exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};

use tokio::sync::oneshot;

use crate::error::{ApiError, ApiResult};
use crate::local_user::LocalUser;

/// Failures a client or a user name may have before back-off starts.
const FREE_FAILURES: u32 = 5;
/// The longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a quiet key's failures are remembered.
const FORGET_AFTER: Duration = Duration::from_secs(900);
/// Keys remembered before quiet ones are dropped (bounds the table under a spray of names).
const MAX_KEYS: usize = 10_000;

/// Who a failure counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(IpAddr),
    User(String),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    blocked_until: Instant,
}

/// A password to check against a user (`None`: an unknown name, checked against a stand-in
/// and always refused).
struct Check {
    user: Option<LocalUser>,
    password: String,
    reply: oneshot::Sender<bool>,
}

/// The token endpoint's limits; one per API state.
#[derive(Debug)]
pub(crate) struct LoginGuard {
    checks: SyncSender<Check>,
    failures: Mutex<HashMap<Key, Failures>>,
}

impl LoginGuard {
    /// Limits sized to this machine: one check thread per core, four queued per core.
    pub fn new() -> LoginGuard {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        LoginGuard::with_threads(cores, 4 * cores)
    }

    fn with_threads(threads: usize, queue: usize) -> LoginGuard {
        let (checks, receiver) = sync_channel::<Check>(queue);
        let receiver = std::sync::Arc::new(Mutex::new(receiver));
        let nobody = LocalUser::new("nobody", "no password matches this").ok();
        for index in 0..threads {
            let receiver = receiver.clone();
            let nobody = nobody.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{index}"))
                .spawn(move || run_checks(&receiver, nobody.as_ref()));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a password check thread");
            }
        }
        LoginGuard {
            checks,
            failures: Mutex::default(),
        }
    }

    /// Whether `password` is `user`'s, checked on a check thread; 429 at once when the queue
    /// is full.
    pub async fn check(&self, user: Option<LocalUser>, password: String) -> ApiResult<bool> {
        let (reply, answer) = oneshot::channel();
        let check = Check {
            user,
            password,
            reply,
        };
        match self.checks.try_send(check) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::TooManyRequests { retry_after: 1 }),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal("no password check threads".into()));
            }
        }
        answer
            .await
            .map_err(|_| ApiError::Internal("a password check thread stopped".into()))
    }

    /// Admits a login attempt of `client` for `user`, counting it as a failure until
    /// [`LoginGuard::succeeded`] clears it (so concurrent attempts cannot all pass before the
    /// first result is known); 429 while either is backing off.
    pub fn attempt(&self, client: Option<IpAddr>, user: &str, now: Instant) -> ApiResult<()> {
        let mut failures = self.failures.lock().map_err(|_| poisoned())?;
        let wait = keys(client, user)
            .filter_map(|key| failures.get(&key))
            .map(|failures| failures.blocked_until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            return Err(ApiError::TooManyRequests {
                retry_after: wait.as_secs().max(1),
            });
        }
        count_failure(&mut failures, client, user, now);
        Ok(())
    }

    /// Clears the failures of `client` and `user` after a successful login.
    pub fn succeeded(&self, client: Option<IpAddr>, user: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            for key in keys(client, user) {
                failures.remove(&key);
            }
        }
    }
}

/// Counts a failure against `client` and `user`, starting or lengthening their back-off.
fn count_failure(
    failures: &mut HashMap<Key, Failures>,
    client: Option<IpAddr>,
    user: &str,
    now: Instant,
) {
    if failures.len() >= MAX_KEYS {
        failures.retain(|_, entry| now.duration_since(entry.last) < FORGET_AFTER);
    }
    if failures.len() >= MAX_KEYS {
        // Still full of recent keys: drop the quietest half rather than grow.
        let mut lasts: Vec<Instant> = failures.values().map(|entry| entry.last).collect();
        lasts.sort();
        let cutoff = lasts[lasts.len() / 2];
        failures.retain(|_, entry| entry.last > cutoff);
    }
    for key in keys(client, user) {
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            blocked_until: now,
        });
        if now.duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count > FREE_FAILURES {
            entry.blocked_until = now + backoff(entry.count - FREE_FAILURES);
        }
    }
}

/// A check thread: takes checks until the guard is dropped.
fn run_checks(receiver: &Mutex<std::sync::mpsc::Receiver<Check>>, nobody: Option<&LocalUser>) {
    let mut memory = Vec::new();
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(check) = next else { return };
        let verified = match &check.user {
            Some(user) => user.verify_in(&check.password, &mut memory),
            None => {
                // The same work as a real check, then a refusal.
                let _ = nobody.map(|nobody| nobody.verify_in(&check.password, &mut memory));
                false
            }
        };
        let _ = check.reply.send(verified);
    }
}

/// One second after the first failure past the free ones, doubling, up to [`MAX_BACKOFF`].
fn backoff(excess: u32) -> Duration {
    let seconds = 1_u64
        .checked_shl(excess.saturating_sub(1))
        .unwrap_or(u64::MAX);
    Duration::from_secs(seconds).min(MAX_BACKOFF)
}

fn keys(client: Option<IpAddr>, user: &str) -> impl Iterator<Item = Key> {
    client
        .map(Key::Client)
        .into_iter()
        .chain(std::iter::once(Key::User(user.to_owned())))
}

fn poisoned() -> ApiError {
    ApiError::Internal("login guard lock poisoned".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_past_the_free_ones_back_off_doubling_and_a_success_clears_them() {
        let guard = LoginGuard::with_threads(1, 1);
        let client = Some(IpAddr::from([10, 0, 0, 1]));
        let start = Instant::now();
        for _ in 0..=FREE_FAILURES {
            guard.attempt(client, "bob", start).unwrap();
        }
        let Err(ApiError::TooManyRequests { retry_after }) = guard.attempt(client, "bob", start)
        else {
            panic!("attempts past the free ones back off");
        };
        assert_eq!(retry_after, 1);
        // The same user from elsewhere waits too; another user from elsewhere does not.
        let other = Some(IpAddr::from([10, 0, 0, 2]));
        assert!(guard.attempt(other, "bob", start).is_err());
        guard.attempt(other, "alice", start).unwrap();
        let later = start + Duration::from_secs(1);
        guard.attempt(client, "bob", later).unwrap();
        let Err(ApiError::TooManyRequests { retry_after }) = guard.attempt(client, "bob", later)
        else {
            panic!("still backing off");
        };
        assert_eq!(retry_after, 2, "the wait doubles");
        guard.succeeded(client, "bob");
        guard.attempt(client, "bob", later).unwrap();
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[tokio::test]
    async fn checks_answer_and_past_the_queue_a_check_is_refused_at_once() {
        let user = LocalUser::new("bob", "right").unwrap();
        let guard = LoginGuard::with_threads(1, 1);
        assert!(
            guard
                .check(Some(user.clone()), "right".into())
                .await
                .unwrap()
        );
        assert!(
            !guard
                .check(Some(user.clone()), "wrong".into())
                .await
                .unwrap()
        );
        assert!(!guard.check(None, "right".into()).await.unwrap());
        // One thread, one queue place: of many checks sent at once, some are refused at once.
        let attempts = (0..16).map(|_| guard.check(Some(user.clone()), "wrong".into()));
        let results = futures::future::join_all(attempts).await;
        assert!(
            results
                .iter()
                .any(|result| matches!(result, Err(ApiError::TooManyRequests { retry_after: 1 }))),
            "{results:?}"
        );
        assert!(results.iter().any(|result| matches!(result, Ok(false))));
    }
}
