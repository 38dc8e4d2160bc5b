//! A token-auth front for the test registry: `/v2/` requests without `Bearer <token>` get a
//! `401` challenge naming a realm on this proxy, `/token` hands out the token for the right
//! Basic credentials, and authorised requests are forwarded to the real registry (Location
//! headers rewritten to point back here). It is the Docker token flow without JWTs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::registry_fixture::{PASSWORD, USER};

const TOKEN: &str = "token-for-concorde";
/// `USER:PASSWORD` in base64.
const BASIC: &str = "Basic Y29uY29yZGU6czNjcmV0";

/// The proxy; the accept loop ends when it is dropped.
pub struct BearerProxy {
    pub addr: String,
    /// The query strings of the token requests it answered.
    pub token_queries: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl BearerProxy {
    /// Listens on a free loopback port in front of `upstream` (`host:port`).
    pub fn start(upstream: &str) -> BearerProxy {
        assert_eq!(
            format!("{USER}:{PASSWORD}"),
            "concorde:s3cret",
            "BASIC matches the fixture's credentials"
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let token_queries = Arc::new(Mutex::new(Vec::new()));
        let (upstream, own, queries, stopping) = (
            upstream.to_owned(),
            addr.clone(),
            token_queries.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, &upstream, &own, &queries);
                }
            }
        });
        BearerProxy {
            addr,
            token_queries,
            stop,
        }
    }
}

impl Drop for BearerProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(stream: TcpStream, upstream: &str, own: &str, queries: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        headers.push(line);
    }
    let header = |name: &str| {
        headers.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut client = stream;
    if let Some(query) = path.strip_prefix("/token?") {
        queries.lock().unwrap().push(query.to_owned());
        if header("authorization").as_deref() == Some(BASIC) {
            let body = format!(r#"{{"token":"{TOKEN}"}}"#);
            respond(
                &mut client,
                "200 OK",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            );
        } else {
            respond(&mut client, "401 Unauthorized", &[], b"bad credentials");
        }
        return;
    }
    if header("authorization").as_deref() != Some(&format!("Bearer {TOKEN}")) {
        let repository = path
            .trim_start_matches("/v2/")
            .split("/manifests/")
            .next()
            .unwrap_or_default()
            .split("/blobs/")
            .next()
            .unwrap_or_default()
            .to_owned();
        let challenge = format!(
            r#"Bearer realm="http://{own}/token",service="concorde-test",scope="repository:{repository}:pull""#
        );
        respond(
            &mut client,
            "401 Unauthorized",
            &[("WWW-Authenticate", &challenge)],
            b"{}",
        );
        return;
    }
    let mut forwarded =
        format!("{method} {path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n");
    for line in &headers {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !["host", "connection", "authorization"].contains(&name.as_str()) {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("\r\n");
    let mut server = TcpStream::connect(upstream).unwrap();
    server.write_all(forwarded.as_bytes()).unwrap();
    server.write_all(&body).unwrap();
    let mut response = Vec::new();
    server.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(response.len(), |at| at + 4);
    let head = String::from_utf8_lossy(&response[..split])
        .replace(&format!("http://{upstream}"), &format!("http://{own}"));
    client.write_all(head.as_bytes()).unwrap();
    client.write_all(&response[split..]).unwrap();
}

fn respond(client: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    // The client may have hung up; the test's own assertions report that.
    let _ = client
        .write_all(head.as_bytes())
        .and_then(|()| client.write_all(body));
}
