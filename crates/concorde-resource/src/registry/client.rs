//! A small Docker Registry HTTP API v2 client: manifests, blobs and uploads, with the
//! registry's auth challenges answered by Basic credentials or a Bearer token.
//!
//! ureq (blocking, rustls) is enough here: a resource script does one thing at a time, and it
//! keeps async runtimes and hyper out of the build. Auth works the way the distribution spec
//! describes it: a request without credentials gets `401` with `WWW-Authenticate`; for `Basic`
//! the request is retried with the source's username and password, for `Bearer` a token is
//! fetched from the challenge's realm (with the credentials, if any, as Basic auth) for the
//! challenge's service and scope, then the request is retried and the header kept for later
//! requests. A later `401` (a push needing a wider scope) starts the dance again.

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use ureq::http::{Response, StatusCode};
use ureq::{Body, SendBody};

use super::reference::ImageRef;
use crate::ResourceError;

/// Manifests of every shape we understand, for `Accept`.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest we read into memory; real ones are a few KiB.
const MANIFEST_LIMIT: u64 = 8 << 20;

/// One repository on one registry.
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    repository: String,
    credentials: Option<(String, String)>,
    /// The `Authorization` value that last worked; a script is single-threaded.
    authorization: RefCell<Option<String>>,
}

/// What a request sends.
pub(crate) enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a Path),
}

impl Client {
    /// A client for `image`, over http when `insecure`.
    pub fn new(image: &ImageRef, credentials: Option<(String, String)>, insecure: bool) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(10)
            .build();
        let scheme = if insecure { "http" } else { "https" };
        Client {
            agent: ureq::Agent::new_with_config(config),
            base: format!("{scheme}://{}", image.registry),
            repository: image.repository.clone(),
            credentials,
            authorization: RefCell::new(None),
        }
    }

    /// `/v2/<repository>/<rest>` on this registry.
    pub fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repository)
    }

    /// Resolves a `Location` header, which registries may give relative to the host.
    pub fn resolve(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!("{}/{}", self.base, location.trim_start_matches('/'))
        }
    }

    /// Sends a request, answering one auth challenge; any status comes back as a response.
    pub fn send(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> Result<Response<Body>, ResourceError> {
        let response = self.send_once(method, url, headers, payload)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let challenge = header(&response, "www-authenticate").unwrap_or_default();
        let authorization = self.answer(&challenge)?;
        *self.authorization.borrow_mut() = Some(authorization);
        self.send_once(method, url, headers, payload)
    }

    /// Like [`Client::send`], but a status outside 2xx is an error naming the request.
    pub fn expect(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> Result<Response<Body>, ResourceError> {
        let response = self.send(method, url, headers, payload)?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(status_error(method, url, response))
        }
    }

    /// Reads a small body (a manifest, a config, a token) into memory.
    pub fn read_small(response: Response<Body>) -> Result<Vec<u8>, ResourceError> {
        Ok(response
            .into_body()
            .into_with_config()
            .limit(MANIFEST_LIMIT)
            .read_to_vec()?)
    }

    fn send_once(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
    ) -> Result<Response<Body>, ResourceError> {
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(authorization) = self.authorization.borrow().as_ref() {
            request = request.header("Authorization", authorization);
        }
        let response = match payload {
            Payload::Empty => self
                .agent
                .run(request.body(()).map_err(ureq::Error::from)?)?,
            Payload::Bytes(bytes) => self
                .agent
                .run(request.body(*bytes).map_err(ureq::Error::from)?)?,
            Payload::File(path) => {
                let mut file = File::open(path).map_err(|err| ResourceError::io(path, err))?;
                let length = file
                    .metadata()
                    .map_err(|err| ResourceError::io(path, err))?
                    .len();
                let request = request.header("Content-Length", length.to_string());
                self.agent.run(
                    request
                        .body(SendBody::from_reader(&mut file))
                        .map_err(ureq::Error::from)?,
                )?
            }
        };
        Ok(response)
    }

    /// Turns a `WWW-Authenticate` challenge into an `Authorization` value.
    fn answer(&self, challenge: &str) -> Result<String, ResourceError> {
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            let (username, password) = self.credentials.as_ref().ok_or_else(|| {
                ResourceError::InvalidImage(
                    "the registry wants a username and password (source.username/password)"
                        .to_owned(),
                )
            })?;
            return Ok(basic(username, password));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ResourceError::InvalidImage(format!(
                "unsupported registry auth challenge {challenge:?}"
            )));
        }
        let realm = param(&params, "realm").ok_or_else(|| {
            ResourceError::InvalidImage(format!("bearer challenge without realm: {challenge:?}"))
        })?;
        let mut query = Vec::new();
        for key in ["service", "scope"] {
            if let Some(value) = param(&params, key) {
                query.push(format!("{key}={}", percent_encode(value)));
            }
        }
        let separator = if realm.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            realm.to_owned()
        } else {
            format!("{realm}{separator}{}", query.join("&"))
        };
        let mut request = ureq::http::Request::builder().method("GET").uri(&url);
        if let Some((username, password)) = &self.credentials {
            request = request.header("Authorization", basic(username, password));
        }
        let response = self
            .agent
            .run(request.body(()).map_err(ureq::Error::from)?)?;
        if !response.status().is_success() {
            return Err(status_error("GET", &url, response));
        }
        let body = Client::read_small(response)?;
        let token: serde_json::Value = serde_json::from_slice(&body)?;
        let token = token
            .get("token")
            .or_else(|| token.get("access_token"))
            .and_then(serde_json::Value::as_str);
        let token = token.ok_or_else(|| {
            ResourceError::InvalidImage(format!("the token service at {realm} sent no token"))
        })?;
        Ok(format!("Bearer {token}"))
    }
}

/// A header's value as a string, when present and printable.
pub(crate) fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The error for an unexpected status, with the start of the body (registries explain there).
pub(crate) fn status_error(
    method: &'static str,
    url: &str,
    response: Response<Body>,
) -> ResourceError {
    let status = response.status().as_u16();
    let mut body = String::new();
    // The body only decorates the message; an unreadable one leaves it empty.
    let _ = response
        .into_body()
        .into_reader()
        .take(512)
        .read_to_string(&mut body);
    ResourceError::Registry {
        method,
        url: url.to_owned(),
        status,
        body: body.trim().to_owned(),
    }
}

fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64(format!("{username}:{password}").as_bytes())
    )
}

/// Splits `Bearer realm="...",service="..."` into the scheme and its parameters.
fn parse_challenge(challenge: &str) -> (&str, Vec<(String, String)>) {
    let challenge = challenge.trim();
    let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remainder) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..end].to_owned(),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((key, value));
        rest = remainder.trim_start().trim_start_matches(',');
    }
    (scheme, params)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, byte)| {
            acc | u32::from(*byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            param(&params, "realm"),
            Some("https://auth.example.com/token")
        );
        assert_eq!(param(&params, "service"), Some("registry.example.com"));
        assert_eq!(param(&params, "scope"), Some("repository:a/b:pull,push"));
        let (scheme, params) = parse_challenge(r#"Basic realm="basic-realm""#);
        assert_eq!(
            (scheme, param(&params, "realm")),
            ("Basic", Some("basic-realm"))
        );
    }

    #[test]
    fn base64_and_percent_encoding() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(
            percent_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
