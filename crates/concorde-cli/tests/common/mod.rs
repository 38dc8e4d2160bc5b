//! Test harness for fly's commands: a small real HTTP server that serves canned API answers and
//! records every request, and a runner that drives a command in-process with buffers for
//! stdin/stdout/stderr, a temporary home and a fixed clock.

#![allow(dead_code, reason = "each test binary uses part of the harness")]
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use clap::Parser;
use concorde_cli::{Command, GlobalArgs, Io};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A build event stream: each `(event, version, data)` as one SSE message, then `end`.
    pub fn events(events: &[(&str, &str, serde_json::Value)], end: bool) -> Reply {
        let mut text = String::new();
        for (index, (event, version, data)) in events.iter().enumerate() {
            let envelope = serde_json::json!({"data": data, "event": event, "version": version, "event_id": index.to_string()});
            text.push_str(&format!("id: {index}\nevent: event\ndata: {envelope}\n\n"));
        }
        if end {
            text.push_str(&format!("id: {}\nevent: end\ndata\n\n", events.len()));
        }
        Reply {
            status: 200,
            headers: vec![(
                "Content-Type".into(),
                "text/event-stream; charset=utf-8".into(),
            )],
            body: text.into_bytes(),
        }
    }
}

type Routes = Arc<Mutex<Vec<(String, String, Reply)>>>;

/// The fake API server. Routes match on method and exact path (query ignored); the first
/// matching route answers; unmatched requests get 404.
pub struct Server {
    pub url: String,
    routes: Routes,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let routes: Routes = Arc::default();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let (routes_for_thread, requests_for_thread) = (routes.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (routes, requests) = (routes_for_thread.clone(), requests_for_thread.clone());
                std::thread::spawn(move || serve(stream, &routes, &requests));
            }
        });
        Server {
            url,
            routes,
            requests,
        }
    }

    pub fn route(&self, method: &str, path: &str, reply: Reply) {
        self.routes
            .lock()
            .unwrap()
            .push((method.into(), path.into(), reply));
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The recorded requests with this method and path.
    pub fn find(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.method == method && request.path == path)
            .collect()
    }
}

/// Answers one request per connection (`Connection: close`), which keeps the fake simple.
fn serve(stream: TcpStream, routes: &Routes, requests: &Arc<Mutex<Vec<Recorded>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let (path, query) = target
            .split_once('?')
            .map_or((target.clone(), String::new()), |(p, q)| {
                (p.to_owned(), q.to_owned())
            });
        requests.lock().unwrap().push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query,
            headers,
            body,
        });
        let reply = routes
            .lock()
            .unwrap()
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .map(|(_, _, reply)| reply.clone())
            .unwrap_or_else(|| Reply::json(404, serde_json::json!({"errors": ["not found"]})));
        let mut out = stream.try_clone().unwrap();
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(&reply.body).unwrap();
        out.flush().unwrap();
    }
}

/// The parsed command line, as the `concorde` binary parses it.
#[derive(Debug, Parser)]
#[command(name = "concorde")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// A temporary home with a targets file, and options for the fake terminal.
pub struct Env {
    pub home: tempfile::TempDir,
    pub tty: bool,
    pub now: jiff::Timestamp,
}

/// 2023-11-14T22:13:20Z, a fixed "now".
pub const NOW: i64 = 1_700_000_000;

impl Env {
    pub fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
            tty: false,
            now: jiff::Timestamp::from_second(NOW).unwrap(),
        }
    }

    /// A home whose targets file has target `ci` pointing at `url` with a bearer token.
    pub fn with_target(url: &str) -> Env {
        let env = Env::new();
        env.write_targets(&format!(
            "targets:\n  ci:\n    api: {url}\n    team: main\n    token:\n      type: bearer\n      value: TOKEN\n"
        ));
        env
    }

    pub fn write_targets(&self, text: &str) {
        std::fs::write(self.home.path().join(".concorderc"), text).unwrap();
    }

    pub fn read_targets(&self) -> String {
        std::fs::read_to_string(self.home.path().join(".concorderc")).unwrap()
    }

    /// Runs `concorde ARGS` with `stdin` as input.
    pub fn run_with_input(&self, args: &[&str], stdin: &str) -> Output {
        let cli =
            Cli::try_parse_from(std::iter::once("concorde").chain(args.iter().copied())).unwrap();
        let mut input = stdin.as_bytes();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut io = Io {
            stdin: &mut input,
            stdout: &mut stdout,
            stderr: &mut stderr,
            stdout_tty: self.tty,
            home: Some(self.home.path().to_owned()),
            time_zone: jiff::tz::TimeZone::UTC,
            now: self.now,
        };
        let code = concorde_cli::run_in(&cli.global, cli.command, &mut io);
        Output {
            code,
            stdout: String::from_utf8(stdout).unwrap(),
            stderr: String::from_utf8(stderr).unwrap(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, "")
    }
}

/// Checks the whole command tree (every subcommand, global `-t` included) for clap conflicts.
pub fn assert_command_tree() {
    use clap::CommandFactory as _;
    Cli::command().debug_assert();
}

/// Parses a command line and returns clap's error text, for flag-level checks.
pub fn parse_error(args: &[&str]) -> String {
    Cli::try_parse_from(std::iter::once("concorde").chain(args.iter().copied()))
        .unwrap_err()
        .to_string()
}
