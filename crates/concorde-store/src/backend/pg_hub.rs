//! A PostgreSQL node's one LISTEN session. It listens on every Concorde channel and relays what
//! it hears onto the node's in-process bus, where each [`crate::Listener`] picks its topics. The
//! session has its own one-connection pool, so listeners never take a connection that queries
//! need, however many build-event streams are open.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::backend::notify::{Bus, Notification, PG_CHANNELS, Signal, new_bus};
use crate::error::StoreResult;

/// Longest wait between attempts to re-establish a lost LISTEN session.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The running relay; dropping it stops the relay.
pub(crate) struct PgHub {
    bus: Bus,
    pool: sqlx::PgPool,
    relay: JoinHandle<()>,
}

impl PgHub {
    /// Opens the LISTEN session and starts relaying. Returns once the node is listening, so a
    /// notification sent after this is heard.
    pub(crate) async fn start(options: &PgConnectOptions) -> StoreResult<PgHub> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options.clone());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen_all(PG_CHANNELS).await?;
        let bus = new_bus();
        let relay = tokio::spawn(relay(listener, bus.clone()));
        Ok(PgHub { bus, pool, relay })
    }

    /// A new receiver on the node's bus.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.bus.subscribe()
    }

    /// Stops relaying and closes the session.
    pub(crate) async fn close(&self) {
        self.relay.abort();
        self.pool.close().await;
    }
}

impl Drop for PgHub {
    fn drop(&mut self) {
        self.relay.abort();
    }
}

/// Relays notifications until aborted. When the session drops, notifications sent meanwhile
/// are lost, so once it is back every listener is told to look again.
async fn relay(mut listener: PgListener, bus: Bus) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match listener.try_recv().await {
            Ok(Some(message)) => {
                backoff = Duration::from_millis(100);
                if let Some(note) = Notification::from_pg(message.channel(), message.payload()) {
                    // No subscriber is fine: nobody is waiting.
                    let _receivers = bus.send(Signal::Heard(note));
                }
            }
            Ok(None) => {
                // The session was lost and has been re-established, listening again.
                tracing::warn!("LISTEN session re-established; listeners look again");
                let _receivers = bus.send(Signal::Resync);
            }
            Err(err) => {
                tracing::warn!(error = %err, "LISTEN session lost; reconnecting");
                loop {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    // Any statement reconnects the listener and re-issues its LISTENs.
                    match sqlx::query("SELECT 1").execute(&mut listener).await {
                        Ok(_) => break,
                        Err(err) => tracing::debug!(error = %err, "LISTEN session still down"),
                    }
                }
                tracing::info!("LISTEN session re-established; listeners look again");
                let _receivers = bus.send(Signal::Resync);
            }
        }
    }
}
