//! A smart-HTTP git server for the tests: `git http-backend` behind a loopback listener that
//! demands Basic credentials, so https-style `username`/`password` sources are exercised
//! through git's real credential prompts (answered by the resource's askpass script).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `alice:wonderland` in base64.
const BASIC: &str = "Basic YWxpY2U6d29uZGVybGFuZA==";

/// Serves the repositories under `root` at `http://<addr>/<name>` until the test process ends.
pub fn serve(root: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let root = root.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(stream, &root);
        }
    });
    addr
}

fn handle(stream: TcpStream, root: &PathBuf) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim_end().is_empty() {
            break;
        }
        headers.push(line.trim_end().to_owned());
    }
    let header = |name: &str| {
        headers.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let mut body = vec![
        0;
        header("content-length")
            .and_then(|length| length.parse().ok())
            .unwrap_or(0)
    ];
    reader.read_exact(&mut body).unwrap();
    let mut client = stream;
    if header("authorization").as_deref() != Some(BASIC) {
        let _ = client.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", header("git-protocol").unwrap_or_default())
        .env("REMOTE_USER", "alice")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let output = child.wait_with_output().unwrap();
    let split = output
        .stdout
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(0, |at| at + 4);
    let cgi_head = String::from_utf8_lossy(&output.stdout[..split]).into_owned();
    let status = cgi_head
        .lines()
        .find_map(|line| line.strip_prefix("Status: "))
        .unwrap_or("200 OK")
        .to_owned();
    let mut response = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        output.stdout.len() - split
    );
    for line in cgi_head
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with("Status: "))
    {
        response.push_str(line);
        response.push_str("\r\n");
    }
    response.push_str("\r\n");
    let _ = client
        .write_all(response.as_bytes())
        .and_then(|()| client.write_all(&output.stdout[split..]));
}
