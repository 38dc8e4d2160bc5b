//! The targets file `~/.concorderc`: the same YAML shape as fly's `~/.flyrc`, so a user's saved
//! targets read the same way in both tools.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// The file's name inside the home directory.
pub const FILE_NAME: &str = ".concorderc";

/// A target's name, as given with `-t`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TargetName(pub String);

impl std::fmt::Display for TargetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The whole file. Fields are declared in alphabetical order because fly writes keys sorted.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Targets {
    /// Every saved target by name; a `BTreeMap` so the file lists them sorted.
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
}

/// One saved target.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// The server's URL, without a trailing slash.
    pub api: String,
    /// A PEM CA certificate to trust for this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Skip TLS verification; omitted when false, as fly does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// The team; empty means `main`.
    #[serde(default)]
    pub team: String,
    /// The saved token; a logged-out target keeps an empty one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
}

/// A bearer token as the token endpoint returned it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Token {
    /// The scheme, e.g. `bearer`; sent as `Authorization: <type> <value>`.
    #[serde(rename = "type", default)]
    pub token_type: String,
    /// The opaque token.
    #[serde(default)]
    pub value: String,
}

/// Why the targets file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    /// `HOME` is not set, so there is nowhere to keep targets.
    #[error("HOME is not set, so the targets file cannot be found")]
    NoHome,
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

impl Targets {
    /// Reads the file in `home`; a missing file is an empty set of targets.
    pub fn load(home: Option<&Path>) -> Result<Targets, TargetsError> {
        let path = file_path(home)?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Targets::default()),
            Err(source) => return Err(TargetsError::Io { path, source }),
        };
        if text.trim().is_empty() {
            return Ok(Targets::default());
        }
        serde_saphyr::from_str(&text).map_err(|err| TargetsError::Parse {
            path,
            message: err.to_string(),
        })
    }

    /// Rewrites the whole file with mode 0600, through a temporary file so that a crash never
    /// leaves half of it.
    pub fn save(&self, home: Option<&Path>) -> Result<(), TargetsError> {
        let path = file_path(home)?;
        let text = serde_saphyr::to_string(self).map_err(|err| TargetsError::Parse {
            path: path.clone(),
            message: err.to_string(),
        })?;
        let temporary = path.with_extension("tmp");
        let io_error = |source| TargetsError::Io {
            path: temporary.clone(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary).map_err(io_error)?;
        file.write_all(text.as_bytes()).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        std::fs::rename(&temporary, &path).map_err(|source| TargetsError::Io { path, source })
    }

    /// The target called `name`.
    pub fn get(&self, name: &TargetName) -> Option<&Target> {
        self.targets.get(&name.0)
    }
}

fn file_path(home: Option<&Path>) -> Result<PathBuf, TargetsError> {
    Ok(home.ok_or(TargetsError::NoHome)?.join(FILE_NAME))
}

impl Token {
    /// Whether this token can be sent at all (logout leaves both fields empty).
    pub fn is_set(&self) -> bool {
        !self.token_type.is_empty() && !self.value.is_empty()
    }

    /// The `Authorization` header value.
    pub fn header(&self) -> String {
        format!("{} {}", self.token_type, self.value)
    }
}

/// The expiry column of `targets`: the opaque token is unpadded base64 of 20 random bytes and a
/// little-endian Unix expiry time.
pub fn token_expiry(token: Option<&Token>) -> String {
    let Some(token) = token.filter(|token| token.is_set()) else {
        return "n/a".to_owned();
    };
    let bytes =
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(token.value.trim_end_matches('='));
    let Ok(bytes) = bytes else {
        return "n/a: invalid token".to_owned();
    };
    let Ok(expiry) = <[u8; 8]>::try_from(bytes.get(20..).unwrap_or_default()) else {
        return "n/a: invalid token".to_owned();
    };
    let Ok(seconds) = i64::try_from(u64::from_le_bytes(expiry)) else {
        return "n/a: invalid token".to_owned();
    };
    match jiff::Timestamp::from_second(seconds) {
        Ok(time) => time.strftime("%a, %d %b %Y %H:%M:%S UTC").to_string(),
        Err(_) => "n/a: invalid token".to_owned(),
    }
}
