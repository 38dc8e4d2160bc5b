//! Local users (`--add-local-user NAME:PASSWORD`): the name and an argon2 hash of the
//! password, and checking a password against it in memory the caller owns.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use concorde_store::StoreError;

/// A local user: a name and an argon2 hash of the password. The password itself is dropped
/// as soon as it is hashed.
#[derive(Clone)]
pub struct LocalUser {
    /// The login name.
    pub name: String,
    password_hash: String,
}

impl std::fmt::Debug for LocalUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why the API could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A `--add-local-user` value is not `NAME:PASSWORD`.
    #[error("invalid local user {0:?}: expected NAME:PASSWORD with a non-empty name and password")]
    InvalidLocalUser(String),
    /// Hashing a password failed.
    #[error("cannot hash the password of local user {name:?}: {detail}")]
    Hash {
        /// The user.
        name: String,
        /// What argon2 said.
        detail: String,
    },
    /// The `main` team could not be created or updated.
    #[error("cannot set up the main team: {0}")]
    Store(#[from] StoreError),
}

impl LocalUser {
    /// Parses `NAME:PASSWORD` and hashes the password.
    pub fn parse(spec: &str) -> Result<LocalUser, SetupError> {
        let (name, password) = spec
            .split_once(':')
            .filter(|(name, password)| !name.is_empty() && !password.is_empty())
            .ok_or_else(|| {
                SetupError::InvalidLocalUser(spec.split(':').next().unwrap_or_default().to_owned())
            })?;
        LocalUser::new(name, password)
    }

    /// A user with this name and password.
    pub fn new(name: &str, password: &str) -> Result<LocalUser, SetupError> {
        let mut salt = [0_u8; 16];
        let hash_error = |detail: String| SetupError::Hash {
            name: name.to_owned(),
            detail,
        };
        getrandom::fill(&mut salt).map_err(|err| hash_error(err.to_string()))?;
        let salt = SaltString::encode_b64(&salt).map_err(|err| hash_error(err.to_string()))?;
        let password_hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|err| hash_error(err.to_string()))?
            .to_string();
        Ok(LocalUser {
            name: name.to_owned(),
            password_hash,
        })
    }

    /// Whether `password` is this user's password, hashing in `memory` (grown to the hash's
    /// memory cost and kept by the caller): a thread that checks passwords reuses one buffer
    /// instead of allocating argon2's memory per check, which the allocator would keep.
    pub fn verify_in(&self, password: &str, memory: &mut Vec<argon2::Block>) -> bool {
        let Ok(hash) = PasswordHash::new(&self.password_hash) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
            return false;
        };
        let (Ok(params), Ok(algorithm)) = (
            argon2::Params::try_from(&hash),
            argon2::Algorithm::new(hash.algorithm),
        ) else {
            return false;
        };
        let version = hash
            .version
            .and_then(|version| argon2::Version::try_from(version).ok())
            .unwrap_or_default();
        let mut salt_bytes = [0_u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        memory.resize(params.block_count(), argon2::Block::default());
        let expected = expected.as_bytes();
        let mut actual = vec![0_u8; expected.len()];
        let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut actual,
            memory.as_mut_slice(),
        );
        // Compare every byte whatever the first difference, so timing says nothing.
        hashed.is_ok()
            && actual
                .iter()
                .zip(expected)
                .fold(0_u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}
