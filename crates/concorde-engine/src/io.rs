//! Writers that processes' output streams go to: build log events, and a capped buffer.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::event::{BuildEvent, EventSink, Origin, now_unix};
use crate::plan::PlanId;

/// Turns written bytes into `log` events of one step and stream. A write is taken only when
/// the previous event has been accepted by the sink, so a full sink stops the process's output
/// from being read (back-pressure) instead of dropping or piling up events.
pub(crate) struct LogWriter {
    events: Arc<dyn EventSink>,
    origin: Origin,
    /// Bytes of an incomplete UTF-8 character carried to the next write.
    pending: Vec<u8>,
    /// The event being handed to the sink.
    in_flight: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
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
            in_flight: None,
        }
    }

    /// Drives the event in flight; ready once the sink has taken it.
    fn poll_in_flight(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(sending) = self.in_flight.as_mut() {
            std::task::ready!(sending.as_mut().poll(cx));
            self.in_flight = None;
        }
        Poll::Ready(())
    }

    /// Starts handing `bytes` to the sink as one `log` event.
    fn send(&mut self, cx: &mut Context<'_>, bytes: &[u8]) {
        let event = BuildEvent::Log {
            origin: self.origin.clone(),
            payload: String::from_utf8_lossy(bytes).into_owned(),
            time: now_unix(),
        };
        let events = self.events.clone();
        self.in_flight = Some(Box::pin(async move { events.emit(event).await }));
        // Start it now; if the sink is full it finishes on the next write, flush or shutdown.
        let _ = self.poll_in_flight(cx);
    }
}

impl AsyncWrite for LogWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_in_flight(cx));
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(buf);
        // Keep a trailing partial character for the next write, so multi-byte characters split
        // across reads are not mangled.
        let valid_up_to = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(err) if err.error_len().is_none() => err.valid_up_to(),
            Err(_) => bytes.len(),
        };
        self.pending = bytes.split_off(valid_up_to);
        if !bytes.is_empty() {
            self.send(cx, &bytes);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_in_flight(cx));
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_in_flight(cx));
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.send(cx, &rest);
            std::task::ready!(self.poll_in_flight(cx));
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
