//! Following a build's log as a browser tab does, shared by the end-to-end tests and the node
//! benchmark: one raw HTTP connection per follower, so hundreds cost no thread each.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A followed log, read to its `end` event.
pub struct Followed {
    /// The connection, still open: as Concourse, the server keeps it open until the client
    /// leaves.
    #[allow(dead_code, reason = "held to keep the connection open")]
    pub stream: TcpStream,
    /// How many bytes the answer had, headers included.
    #[allow(dead_code, reason = "not every follower counts")]
    pub bytes: usize,
}

/// Opens `GET /api/v1/builds/:id/events` at `address` (`HOST:PORT`) with `token`, checks the
/// answer is 200 and reads until the build's `end` event, keeping only what it needs to see
/// (the status line and the last bytes), so a huge log costs the reader no memory.
pub fn follow_events(address: &str, token: &str, build_id: i64) -> Followed {
    const END: &[u8] = b"event: end";
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let request = format!(
        "GET /api/v1/builds/{build_id}/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut head = Vec::new();
    let mut window: Vec<u8> = Vec::new();
    let mut bytes = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    while !window.windows(END.len()).any(|found| found == END) {
        let read = stream.read(&mut buffer).unwrap_or_else(|err| {
            panic!(
                "reading the event stream of build {build_id}: {err} after {bytes} bytes; last: {}",
                String::from_utf8_lossy(&window)
            )
        });
        assert!(
            read > 0,
            "the stream closed early after {bytes} bytes: {}",
            String::from_utf8_lossy(&window)
        );
        bytes += read;
        if head.len() < 64 {
            head.extend_from_slice(&buffer[..read.min(64)]);
        }
        // The marker may straddle two reads: keep the end of the previous one.
        let keep = window.len().min(END.len());
        window.drain(..window.len() - keep);
        window.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    Followed { stream, bytes }
}
