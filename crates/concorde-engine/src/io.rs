//! Writers that processes' output streams go to: build log events, and a capped buffer.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::event::{BuildEvent, EventSink, Origin, now_unix};
use crate::plan::PlanId;

/// Turns written bytes into `log` events of one step and stream.
pub(crate) struct LogWriter {
    events: Arc<dyn EventSink>,
    origin: Origin,
    /// Bytes of an incomplete UTF-8 character carried to the next write.
    pending: Vec<u8>,
}

impl LogWriter {
    pub fn new(events: Arc<dyn EventSink>, id: &PlanId, source: &'static str) -> LogWriter {
        LogWriter {
            events,
            origin: Origin {
                id: id.clone(),
                source: Some(source),
            },
            pending: Vec::new(),
        }
    }
}

impl AsyncWrite for LogWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(buf);
        // Keep a trailing partial character for the next write, so multi-byte characters split
        // across reads are not mangled.
        let valid_up_to = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(err) if err.error_len().is_none() => err.valid_up_to(),
            Err(_) => bytes.len(),
        };
        let rest = bytes.split_off(valid_up_to);
        self.pending = rest;
        if !bytes.is_empty() {
            let payload = String::from_utf8_lossy(&bytes).into_owned();
            self.events.emit(BuildEvent::Log {
                origin: self.origin.clone(),
                payload,
                time: now_unix(),
            });
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.pending.is_empty() {
            let payload = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            self.events.emit(BuildEvent::Log {
                origin: self.origin.clone(),
                payload,
                time: now_unix(),
            });
        }
        Poll::Ready(Ok(()))
    }
}

/// Collects bytes up to a cap; past it, further bytes are dropped and `overflowed` is set.
#[derive(Clone, Default)]
pub(crate) struct CappedBuffer {
    inner: Arc<Mutex<(Vec<u8>, bool)>>,
    cap: usize,
}

impl CappedBuffer {
    pub fn new(cap: usize) -> CappedBuffer {
        CappedBuffer {
            inner: Arc::default(),
            cap,
        }
    }

    /// The bytes, and whether any were dropped.
    pub fn take(&self) -> (Vec<u8>, bool) {
        self.inner
            .lock()
            .map(|mut inner| (std::mem::take(&mut inner.0), inner.1))
            .unwrap_or_default()
    }
}

impl AsyncWrite for CappedBuffer {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Ok(mut inner) = self.inner.lock() {
            let room = self.cap.saturating_sub(inner.0.len());
            if buf.len() > room {
                inner.1 = true;
            }
            inner.0.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
