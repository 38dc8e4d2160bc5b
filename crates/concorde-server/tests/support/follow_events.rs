//! Following a build's log as a browser tab does, shared by the end-to-end tests and the node
//! benchmark: one raw HTTP connection per follower, so hundreds cost no thread each.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Opens `GET /api/v1/builds/:id/events` at `address` (`HOST:PORT`) with `token`, checks the
/// answer is 200 and reads until the build's `end` event. Returns the connection still open:
/// as Concourse, the server keeps it open until the client leaves.
pub fn follow_events(address: &str, token: &str, build_id: i64) -> TcpStream {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let request = format!(
        "GET /api/v1/builds/{build_id}/events HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send request");
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    while !String::from_utf8_lossy(&received).contains("event: end") {
        let read = stream.read(&mut buffer).unwrap_or_else(|err| {
            panic!(
                "reading the event stream of build {build_id}: {err}; got {}",
                String::from_utf8_lossy(&received)
            )
        });
        assert!(
            read > 0,
            "the stream closed early: {}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    stream
}
