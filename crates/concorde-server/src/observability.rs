//! Builds the binary's tracing subscriber; libraries only emit events.

use tracing_subscriber::EnvFilter;

/// Logs go to stderr, filtered by `CONCORDE_LOG` (default `warn`), so command output on stdout
/// stays machine-readable.
pub fn init() {
    let filter = EnvFilter::try_from_env("CONCORDE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
