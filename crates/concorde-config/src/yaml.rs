//! Reading YAML source text into a [`Node`] tree, safely.
//!
//! Every limit a hostile or broken file could hit is enforced here, before any recursion of our
//! own: size, nesting depth, alias expansion, duplicate keys (Concourse rejects those before it
//! applies any template), and bytes that are not UTF-8.

use crate::node::{Location, Node, Value};

/// Largest configuration file we read. Concourse's own largest pipelines are a few hundred
/// kilobytes; 16 MiB leaves room for generated configs and refuses accidental binaries early.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// Most nodes (maps, lists and scalars) in one document. The API takes pipelines of up to
/// 4 MiB, and the densest YAML (`[1,1,1,...]`) spends two bytes a node: a body the API accepts
/// is never refused for its node count, and parsing the worst of them peaks near a few hundred
/// megabytes, not more.
pub const MAX_NODES: usize = 2_200_000;

/// Deepest nesting of maps and lists accepted. Real pipelines nest a few dozen levels at most;
/// the limit keeps every recursive walk over the tree far from the stack's end.
pub const MAX_DEPTH: usize = 200;

/// Why a YAML source could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum YamlError {
    /// The source is larger than [`MAX_SOURCE_BYTES`].
    #[error("file is too large: {size} bytes (the limit is {limit} bytes)")]
    TooLarge {
        /// Size of the rejected source.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The bytes are not UTF-8 text.
    #[error("file is not valid UTF-8 text: invalid byte at offset {offset}")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The YAML parser rejected the text.
    #[error("{message}")]
    Syntax {
        /// The parser's explanation.
        message: String,
        /// Where the parser stopped, when it knows.
        location: Location,
    },
}

impl YamlError {
    /// Where in the source the problem is, when known.
    pub fn location(&self) -> Location {
        match self {
            YamlError::Syntax { location, .. } => *location,
            YamlError::TooLarge { .. } | YamlError::NotUtf8 { .. } => Location::UNKNOWN,
        }
    }
}

/// Parses bytes as one YAML document. An empty document is `null`.
pub fn parse_yaml_bytes(bytes: &[u8]) -> Result<Node, YamlError> {
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(YamlError::TooLarge {
            size: bytes.len(),
            limit: MAX_SOURCE_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|err| YamlError::NotUtf8 {
        offset: err.valid_up_to(),
    })?;
    parse_yaml(text)
}

/// Parses text as one YAML document. An empty document is `null`.
pub fn parse_yaml(text: &str) -> Result<Node, YamlError> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(YamlError::TooLarge {
            size: text.len(),
            limit: MAX_SOURCE_BYTES,
        });
    }
    if text.contains('\0') {
        let offset = text.find('\0').unwrap_or(0);
        return Err(YamlError::Syntax {
            message: format!("file contains a NUL byte at offset {offset}: is it a binary file?"),
            location: Location::UNKNOWN,
        });
    }
    if is_blank_document(text) {
        return Ok(Node {
            value: Value::Null,
            location: Location { line: 1, column: 1 },
        });
    }
    serde_saphyr::from_str_with_options::<Node>(text, options()).map_err(|err| {
        let location = err
            .location()
            .map(|loc| Location {
                line: saturate(loc.line()),
                column: saturate(loc.column()),
            })
            .unwrap_or(Location::UNKNOWN);
        YamlError::Syntax {
            message: first_line(&err.to_string()),
            location,
        }
    })
}

fn options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    // Every node is at most two parser events (start and end), plus the document's own.
    budget.max_events = 2 * MAX_NODES + 16;
    budget.max_reader_input_bytes = Some(MAX_SOURCE_BYTES);
    options.budget = Some(budget);
    options
}

/// Only comments, whitespace and document markers: YAML for "nothing".
fn is_blank_document(text: &str) -> bool {
    text.lines().all(|line| {
        let trimmed = line.trim();
        trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed == "..."
    })
}

fn saturate(number: u64) -> u32 {
    u32::try_from(number).unwrap_or(u32::MAX)
}

/// The parser's messages can carry a rendered snippet after the first line; the location is
/// reported separately, so one line is enough.
fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_owned()
}
