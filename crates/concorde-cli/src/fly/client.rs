//! The HTTP client for Concourse's API: one blocking `ureq` agent per target, the bearer token
//! on every request, and the status codes fly treats specially turned into typed errors.

use std::io::{BufRead, BufReader, Read as _};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::targets::{TargetName, Token};

/// The largest JSON answer read into memory (the build event stream is read incrementally).
const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Everything that can go wrong talking to a target, with the messages fly prints.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No `-t` was given.
    #[error(
        "no target specified. specify the target with -t or log in like so:\n\n    concorde -t (alias) login -c (concorde url)"
    )]
    NoTarget,
    /// `-t` names a target that is not in the targets file.
    #[error("unknown target: {0}")]
    UnknownTarget(TargetName),
    /// The server answered 401: the token is missing, expired or revoked.
    #[error("not authorized. run the following to log in:\n\n    concorde -t {0} login")]
    Unauthorized(TargetName),
    /// The server answered 403: the user lacks the role for this action.
    #[error("forbidden")]
    Forbidden,
    /// The server answered 404.
    #[error("resource not found")]
    NotFound,
    /// The server answered 409, e.g. an archived pipeline or a disabled manual trigger.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The server could not be reached at all.
    #[error(
        "could not reach the Concorde server called {target}:\n\n    {message}\n\nis the targeted Concorde running? better go catch it lol"
    )]
    Unreachable {
        /// The target's name.
        target: TargetName,
        /// What the network stack said.
        message: String,
    },
    /// Any other non-success status.
    #[error("unexpected response code: {status}, response body: {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The response body, as text.
        body: String,
    },
    /// A success response whose body was not the JSON expected.
    #[error("could not decode the response of {path}: {source}")]
    Decode {
        /// The request path.
        path: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The target's URL or a request could not be built.
    #[error("invalid request: {0}")]
    Request(String),
}

/// An HTTP method the CLI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

/// A request body with its content type.
#[derive(Debug, Clone)]
pub struct Body {
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Body {
    /// A JSON body.
    pub fn json(value: &serde_json::Value) -> Body {
        Body {
            content_type: "application/json",
            bytes: value.to_string().into_bytes(),
        }
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The path below the target URL, starting with `/`.
    pub path: &'a str,
    /// Query parameters (encoded by the client).
    pub query: Vec<(String, String)>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<Body>,
}

impl<'a> Request<'a> {
    /// A request without query, headers or body.
    pub fn new(method: Method, path: &'a str) -> Request<'a> {
        Request {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds query parameters.
    pub fn queries(mut self, pairs: Vec<(String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    /// Sets a header.
    pub fn header(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((key, value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }
}

/// A complete response.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// `X-Concourse-Config-Version`, when present.
    pub config_version: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Turns error statuses into [`ClientError`]s.
    pub fn ok(self) -> Result<Reply, ClientError> {
        match self.status {
            200..=299 => Ok(self),
            403 => Err(ClientError::Forbidden),
            404 => Err(ClientError::NotFound),
            409 => Err(ClientError::Conflict(
                String::from_utf8_lossy(&self.body).into_owned(),
            )),
            status => Err(ClientError::Unexpected {
                status,
                body: String::from_utf8_lossy(&self.body).into_owned(),
            }),
        }
    }

    /// Decodes the body as JSON.
    pub fn json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|source| ClientError::Decode {
            path: path.to_owned(),
            source,
        })
    }
}

/// A client for one target.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// The target URL without a trailing slash.
    pub url: String,
    authorization: Option<String>,
    target: TargetName,
}

impl Client {
    /// A client for the target at `url`, sending `token` when it is set.
    pub fn new(
        target: &TargetName,
        url: &str,
        insecure: bool,
        token: Option<&Token>,
    ) -> Result<Client, ClientError> {
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(insecure)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .tls_config(tls)
            .build();
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            url: url.trim_end_matches('/').to_owned(),
            authorization: token.filter(|token| token.is_set()).map(Token::header),
            target: target.clone(),
        })
    }

    /// Sends a request and reads the whole answer. 401 is always an error; other statuses are
    /// left to the caller (see [`Reply::ok`]).
    pub fn send(&self, request: Request<'_>) -> Result<Reply, ClientError> {
        let mut response = self.call(request)?;
        let config_version = header(&response, "x-concourse-config-version");
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|err| self.unreachable(&err))?;
        Ok(Reply {
            status,
            config_version,
            body,
        })
    }

    /// GETs `path` and decodes the JSON answer; error statuses become errors.
    pub fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Vec<(String, String)>,
    ) -> Result<T, ClientError> {
        self.send(Request::new(Method::Get, path).queries(query))?
            .ok()?
            .json(path)
    }

    /// Sends a request expecting success, ignoring the body.
    pub fn act(&self, request: Request<'_>) -> Result<Reply, ClientError> {
        self.send(request)?.ok()
    }

    /// POSTs the bytes `body` yields as it is read (an artifact upload), without holding them
    /// in memory; reads the answer.
    pub fn upload(&self, path: &str, body: &mut dyn std::io::Read) -> Result<Reply, ClientError> {
        let url = format!("{}{path}", self.url);
        let request = Request::new(Method::Post, path);
        let mut builder = self.agent.post(&url);
        for (key, value) in self.headers(&request) {
            builder = builder.header(key, value);
        }
        let mut response = builder
            .content_type("application/octet-stream")
            .send(ureq::SendBody::from_reader(body))
            .map_err(|err| self.unreachable(&err))?;
        let status = response.status().as_u16();
        if status == 401 {
            return Err(ClientError::Unauthorized(self.target.clone()));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|err| self.unreachable(&err))?;
        Reply {
            status,
            config_version: None,
            body,
        }
        .ok()
    }

    /// GETs `path` as a byte stream (an artifact download), read as it arrives.
    pub fn download(&self, path: &str) -> Result<Box<dyn std::io::Read + Send>, ClientError> {
        Ok(Box::new(self.stream(Request::new(Method::Get, path))?))
    }

    /// Opens a build's event stream, for [`super::events`] to read line by line.
    pub fn build_events(&self, build_id: i64) -> Result<Box<dyn BufRead + Send>, ClientError> {
        let path = format!("/api/v1/builds/{build_id}/events");
        let request = Request::new(Method::Get, &path).header("Accept", "text/event-stream");
        Ok(Box::new(BufReader::new(self.stream(request)?)))
    }

    /// Sends `request` and hands back its body to read as it arrives; an error status is the
    /// usual typed error (with the start of the body).
    fn stream(&self, request: Request<'_>) -> Result<Download, ClientError> {
        let response = self.call(request)?;
        let status = response.status().as_u16();
        let mut reader = response.into_body().into_reader();
        if !(200..300).contains(&status) {
            let mut body = Vec::new();
            // The body only decorates the error; a failure to read it changes nothing.
            let _ = (&mut reader).take(64 * 1024).read_to_end(&mut body);
            Reply {
                status,
                config_version: None,
                body,
            }
            .ok()?;
        }
        Ok(Download(reader))
    }

    fn call(&self, request: Request<'_>) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
        let url = format!(
            "{}{}{}",
            self.url,
            request.path,
            encode_query(&request.query)
        );
        let result = match request.method {
            Method::Get | Method::Delete => {
                let mut builder = if request.method == Method::Get {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                for (key, value) in self.headers(&request) {
                    builder = builder.header(key, value);
                }
                builder.call()
            }
            Method::Put | Method::Post => {
                let mut builder = if request.method == Method::Put {
                    self.agent.put(&url)
                } else {
                    self.agent.post(&url)
                };
                for (key, value) in self.headers(&request) {
                    builder = builder.header(key, value);
                }
                match request.body {
                    Some(body) => builder
                        .content_type(body.content_type)
                        .send(&body.bytes[..]),
                    None => builder.send_empty(),
                }
            }
        };
        let response = result.map_err(|err| match err {
            ureq::Error::BadUri(message) => ClientError::Request(message),
            other => self.unreachable(&other),
        })?;
        if response.status().as_u16() == 401 {
            return Err(ClientError::Unauthorized(self.target.clone()));
        }
        Ok(response)
    }

    fn headers(&self, request: &Request<'_>) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect();
        if let Some(authorization) = &self.authorization
            && !request
                .headers
                .iter()
                .any(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        {
            headers.push(("Authorization".to_owned(), authorization.clone()));
        }
        headers
    }

    fn unreachable(&self, err: &ureq::Error) -> ClientError {
        ClientError::Unreachable {
            target: self.target.clone(),
            message: err.to_string(),
        }
    }
}

/// A streamed body (a download, an event stream), with a nameable type behind the box.
struct Download(ureq::BodyReader<'static>);

impl std::io::Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `?k=v&...` with form-style percent-encoding, or nothing.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}={}", percent(key), percent(value)))
        .collect();
    format!("?{}", encoded.join("&"))
}

/// Percent-encodes everything but unreserved characters.
pub fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
