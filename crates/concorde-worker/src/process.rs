//! Running one OS process to completion: its standard streams pumped as they flow, stdin fed
//! then closed, and cancellation as a polite signal followed by a forced kill after a grace.
//!
//! Both backends spawn a child (`runc run`, or the task's own executable) and hand it to
//! [`drive`]; only how a process is stopped differs, which the [`Stopper`] says.

use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{ProcessIo, WorkerError};

/// How long output may keep flowing after the process exited (a grandchild holding the pipe).
const OUTPUT_DRAIN: Duration = Duration::from_secs(5);

/// Stops a running process for [`drive`].
pub(crate) trait Stopper: Sync {
    /// Asks the process to stop (SIGTERM); `false` when it is known to ignore that, so
    /// waiting for the grace would only delay the kill.
    fn terminate(&self) -> bool;
    /// Makes it stop (SIGKILL).
    fn kill(&self) -> impl Future<Output = ()> + Send;
    /// Called once the process has exited, to clean up what it may have left running.
    fn reap(&self) {}
}

/// How a driven process ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Finished {
    /// Its exit code, or 128 plus the signal that killed it.
    pub code: i32,
    /// It was stopped because the run was cancelled.
    pub cancelled: bool,
}

/// Runs `child` (spawned with piped stdin, stdout and stderr) to completion.
pub(crate) async fn drive(
    mut child: Child,
    io: ProcessIo,
    cancel: &CancellationToken,
    grace: Duration,
    stopper: &impl Stopper,
) -> Result<Finished, WorkerError> {
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(stdout, io.stdout, "stdout")));
    }
    if let Some(stderr) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(stderr, io.stderr, "stderr")));
    }
    let feeder = child
        .stdin
        .take()
        .map(|stdin| tokio::spawn(feed(io.stdin, stdin)));

    let waited = tokio::select! {
        status = child.wait() => status.map(|status| (status, false)),
        () = cancel.cancelled() => {
            let grace = if stopper.terminate() { grace } else { Duration::ZERO };
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(status) => status.map(|status| (status, true)),
                Err(_elapsed) => {
                    stopper.kill().await;
                    child.wait().await.map(|status| (status, true))
                }
            }
        }
    };
    stopper.reap();
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    let drained = tokio::time::timeout(OUTPUT_DRAIN, async {
        for pump in &mut pumps {
            // A pump that panicked has nothing more to deliver; the exit status still counts.
            let _ = pump.await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!("process output still open after exit; dropping the rest");
        for pump in &pumps {
            pump.abort();
        }
    }
    let (status, cancelled) = waited?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Finished { code, cancelled })
}

/// Copies a child's output to its destination chunk by chunk, flushing each so readers see it
/// as it comes. When the destination fails the rest is read and dropped, so the child never
/// blocks on a full pipe.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: Box<dyn AsyncWrite + Send + Unpin>,
    stream: &'static str,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut delivering = true;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) => {
                tracing::warn!(stream, error = %err, "reading process output failed");
                break;
            }
        };
        if delivering {
            let written = async {
                to.write_all(&buf[..n]).await?;
                to.flush().await
            };
            if let Err(err) = written.await {
                tracing::warn!(stream, error = %err, "process output destination failed; discarding the rest");
                delivering = false;
            }
        }
    }
    if delivering {
        // Shutting down hands over what the destination still holds (a log writer's trailing
        // partial character, an event waiting for room).
        let _ = to.shutdown().await;
    }
}

/// Writes the stdin bytes, then closes stdin by dropping it. A process that exits without
/// reading them is not an error.
async fn feed(
    from: Option<Box<dyn AsyncRead + Send + Unpin>>,
    mut stdin: tokio::process::ChildStdin,
) {
    if let Some(mut from) = from {
        match tokio::io::copy(&mut from, &mut stdin).await {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(err) => tracing::warn!(error = %err, "writing process stdin failed"),
        }
    }
    let _ = stdin.shutdown().await;
}
