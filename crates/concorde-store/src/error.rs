//! The store's one error type: domain failures first, then the wrapped driver errors.

use std::path::PathBuf;

/// Shorthand for results of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the caller named does not exist (or was deleted meanwhile).
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked up: `"team"`, `"job"`, `"build"`, ...
        kind: &'static str,
        /// The identifier as given.
        id: String,
    },
    /// A row with the same identity already exists.
    #[error("{kind} {name:?} already exists")]
    AlreadyExists {
        /// What was being created.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// Optimistic concurrency: the pipeline changed since the caller read it.
    #[error("pipeline config version is {actual}, the save expected {expected}")]
    ConfigVersionMismatch {
        /// The version the caller based its change on (0 for a new pipeline).
        expected: i64,
        /// The version currently stored.
        actual: i64,
    },
    /// A pipeline config has validation errors; nothing was saved.
    #[error("invalid pipeline config:\n{}", errors.join("\n"))]
    InvalidConfig {
        /// Every error, with Concourse's message.
        errors: Vec<String>,
    },
    /// A `set_pipeline` step of a team other than main tried to set another team's pipeline.
    #[error("only main team can set another team's pipeline")]
    SetOtherTeamsPipeline,
    /// A configuration document exceeds [`crate::MAX_CONFIG_BYTES`].
    #[error("config is {size} bytes, larger than the {max} bytes allowed")]
    ConfigTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A log line is not valid UTF-8.
    #[error("log output of event {index} is not valid UTF-8 (at byte {valid_up_to})")]
    InvalidUtf8 {
        /// Index of the offending event in the batch.
        index: usize,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// A resource version document is empty (`{}`).
    #[error("resource version is empty")]
    EmptyVersion,
    /// A JSON document given to the store does not parse, or is not of the expected shape.
    #[error("invalid {what}: {source}")]
    InvalidJson {
        /// Which document.
        what: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A state machine refused a transition (container, volume, build).
    #[error("{kind} {id} cannot go from {from} to {to}")]
    InvalidTransition {
        /// `"container"`, `"volume"` or `"build"`.
        kind: &'static str,
        /// Its identifier.
        id: String,
        /// Current state.
        from: String,
        /// Requested state.
        to: String,
    },
    /// A volume cannot be destroyed while copy-on-write children still point at it.
    #[error("volume {handle} cannot be destroyed as children are present")]
    VolumeHasChildren {
        /// The parent volume's handle.
        handle: String,
    },
    /// The database was migrated by a newer Concorde; this binary must not touch it.
    #[error(
        "database schema is at version {database}, newer than the version {binary} this binary \
         knows; upgrade concorde (migrations are forward-only)"
    )]
    DatabaseTooNew {
        /// Latest migration applied to the database.
        database: i64,
        /// Latest migration this binary carries.
        binary: i64,
    },
    /// A stored value could not be decoded (corrupt row or schema drift).
    #[error("corrupt stored {what}: {detail}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The SQLite database file could not be created or made owner-only.
    #[error("cannot create or restrict the database file {path}: {source}")]
    DatabaseFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Any other database failure (connection, I/O, constraint not mapped above).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<concorde_core::UnknownName> for StoreError {
    fn from(unknown: concorde_core::UnknownName) -> Self {
        StoreError::Corrupt {
            what: unknown.what,
            detail: unknown.text,
        }
    }
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, id: impl std::fmt::Display) -> Self {
        StoreError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

/// Maps a foreign-key violation to `NotFound` for the referenced `kind`, leaving other errors.
pub(crate) fn fk_to_not_found(
    kind: &'static str,
    id: impl std::fmt::Display,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::not_found(kind, id)
        }
        _ => StoreError::Database(err),
    }
}

/// Maps a unique violation to `AlreadyExists`, leaving other errors.
pub(crate) fn unique_to_exists(
    kind: &'static str,
    name: impl std::fmt::Display,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists {
            kind,
            name: name.to_string(),
        },
        _ => StoreError::Database(err),
    }
}
