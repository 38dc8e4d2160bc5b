//! The JSON shapes of the resource protocol and the helpers every type shares: the request
//! read from stdin, the `in`/`out` output, key validation of `source` and `params`, the stderr
//! log, and Go's duration syntax (Concourse's resources parse `1h30m` with Go's `time`).

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ResourceError;

/// A version: a flat map of strings to strings, as the ATC requires.
pub type Version = BTreeMap<String, String>;

/// The object on a script's stdin. `version` is absent on a first check and on `out`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Request {
    /// The resource's `source`, merged over its type's defaults by the ATC.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub source: Map<String, Value>,
    /// The check cursor, or the version to fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// The step's `params`.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Map::is_empty"
    )]
    pub params: Map<String, Value>,
}

/// One `{name, value}` metadata entry. `type` is an extra key git-resource adds for the UI
/// (`time`, `message`); the ATC ignores it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MetadataField {
    /// The entry's name.
    pub name: String,
    /// The entry's value.
    pub value: String,
    /// A display hint.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl MetadataField {
    /// A plain entry.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> MetadataField {
        MetadataField {
            name: name.into(),
            value: value.into(),
            kind: None,
        }
    }

    /// An entry with a display hint.
    pub fn typed(name: impl Into<String>, value: impl Into<String>, kind: &str) -> MetadataField {
        MetadataField {
            name: name.into(),
            value: value.into(),
            kind: Some(kind.to_owned()),
        }
    }
}

/// What `in` and `out` print.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Output {
    /// The fetched or created version; never empty.
    pub version: Version,
    /// Facts about it.
    #[serde(default)]
    pub metadata: Vec<MetadataField>,
}

impl Request {
    /// Parses stdin. Only the first JSON value counts, like the ATC's own decoding.
    pub fn parse(input: &[u8]) -> Result<Request, ResourceError> {
        let mut stream = serde_json::Deserializer::from_slice(input).into_iter::<Request>();
        match stream.next() {
            Some(request) => request.map_err(ResourceError::InvalidRequest),
            None => Err(ResourceError::InvalidRequest(serde::de::Error::custom(
                "empty input, expected an object",
            ))),
        }
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Which keys a type accepts in one section, and what to do with the rest.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys {
    /// `source` or `params`.
    pub section: &'static str,
    /// Keys this implementation honours.
    pub supported: &'static [&'static str],
    /// Keys Concourse's implementation knows and we ignore, with a warning.
    pub ignored: &'static [&'static str],
    /// Whether other keys fail the script (git-resource) or only warn.
    pub reject_unknown: bool,
}

impl Keys {
    /// Checks the keys of `map`, then decodes it into `T`.
    pub fn parse<T: DeserializeOwned>(
        &self,
        map: &Map<String, Value>,
        log: &mut Log<'_>,
    ) -> Result<T, ResourceError> {
        let mut unknown = Vec::new();
        for key in map.keys() {
            if self.supported.contains(&key.as_str()) {
                continue;
            }
            if self.ignored.contains(&key.as_str()) {
                log.line(&format!(
                    "warning: {}.{key} is not supported by concorde and is ignored",
                    self.section
                ));
            } else {
                unknown.push(key.clone());
            }
        }
        if !unknown.is_empty() {
            if self.reject_unknown {
                unknown.sort();
                return Err(ResourceError::UnknownKeys {
                    section: self.section,
                    keys: unknown,
                });
            }
            log.line(&format!(
                "warning: ignoring unknown keys in {}: {}",
                self.section,
                unknown.join(", ")
            ));
        }
        serde_json::from_value(Value::Object(map.clone())).map_err(|err| {
            ResourceError::InvalidKey {
                section: self.section,
                key: self.section.to_owned(),
                reason: err.to_string(),
            }
        })
    }
}

/// The script's stderr: every human-readable line goes here.
pub struct Log<'a> {
    out: &'a mut dyn Write,
}

impl<'a> Log<'a> {
    /// Wraps stderr.
    pub fn new(out: &'a mut dyn Write) -> Log<'a> {
        Log { out }
    }

    /// Writes one line.
    pub fn line(&mut self, line: &str) {
        // A log that cannot be written must not fail the resource; the result still matters.
        let _ = writeln!(self.out, "{line}");
    }

    /// Forwards a child process's stderr verbatim.
    pub fn raw(&mut self, bytes: &[u8]) {
        // As in `line`: losing log output is not a reason to fail.
        let _ = self.out.write_all(bytes);
    }
}

/// Parses Go's duration syntax (`300ms`, `1.5h`, `2h45m`), as Concourse's resources accept it.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("5 minutes"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn request_takes_the_first_json_value() {
        let request =
            Request::parse(br#"{"source":{"a":"b"},"version":{"ref":"x"}} {"ignored":true}"#)
                .expect("first value is a request");
        assert_eq!(
            request
                .version
                .expect("version")
                .get("ref")
                .map(String::as_str),
            Some("x")
        );
        assert!(Request::parse(b"not json").is_err());
        assert!(Request::parse(b"").is_err());
        assert!(
            Request::parse(br#"{"version":{"n":1}}"#).is_err(),
            "versions are string maps"
        );
        let request = Request::parse(br#"{"source":null,"params":null}"#).expect("nulls are empty");
        assert!(request.source.is_empty() && request.params.is_empty());
    }
}
