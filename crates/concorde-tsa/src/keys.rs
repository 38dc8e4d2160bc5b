//! SSH keys as Concourse's flags take them: a private key file (OpenSSH or PEM), files of
//! public keys (one `authorized_keys` line each), and `generate-key`, which writes RSA key
//! pairs as Concourse's does (`-t ssh`: OpenSSH private key and `FILE.pub`; `-t rsa`: a PKCS#1
//! PEM private key).

use std::path::Path;

use russh::keys::{Algorithm, PrivateKey, PublicKey};

/// What went wrong with a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no usable key.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// Which key `generate-key` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyType {
    /// An RSA key in OpenSSH format, with its public key in `FILE.pub`.
    Ssh,
    /// An RSA key as PKCS#1 PEM.
    Rsa,
}

/// Reads a private key (OpenSSH, or PEM as `ssh-keygen -m PEM` and Concourse write them).
pub fn load_private_key(path: &Path) -> Result<PrivateKey, KeyError> {
    russh::keys::load_secret_key(path, None).map_err(|err| KeyError::Invalid {
        path: path.display().to_string(),
        reason: format!("not a private key: {err}"),
    })
}

/// Reads public keys, one `<type> <base64> [comment]` line each; blank lines and `#` comments
/// are skipped, and a bad line is an error naming its number.
pub fn load_public_keys(path: &Path) -> Result<Vec<PublicKey>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut keys = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = PublicKey::from_openssh(line).map_err(|err| KeyError::Invalid {
            path: path.display().to_string(),
            reason: format!("line {}: not a public key: {err}", number + 1),
        })?;
        keys.push(key);
    }
    Ok(keys)
}

/// Writes a new RSA key pair of `bits` bits to `path` (private, mode 0600) and, for
/// [`KeyType::Ssh`], `path.pub`.
pub fn generate_key(kind: KeyType, bits: usize, path: &Path) -> Result<(), KeyError> {
    let invalid = |reason: String| KeyError::Invalid {
        path: path.display().to_string(),
        reason,
    };
    let keypair = russh::keys::ssh_key::private::RsaKeypair::random(&mut rand::rng(), bits)
        .map_err(|err| invalid(format!("could not generate a key: {err}")))?;
    let private = match kind {
        KeyType::Ssh => {
            let key =
                PrivateKey::new(keypair.into(), "").map_err(|err| invalid(err.to_string()))?;
            let public = key
                .public_key()
                .to_openssh()
                .map_err(|err| invalid(err.to_string()))?;
            write(
                &path.with_extension(pub_extension(path)),
                format!("{public}\n").as_bytes(),
                0o644,
            )?;
            key.to_openssh(russh::keys::ssh_key::LineEnding::LF)
                .map_err(|err| invalid(err.to_string()))?
                .to_string()
        }
        KeyType::Rsa => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let key =
                rsa::PrivateKey::try_from(&keypair).map_err(|err| invalid(err.to_string()))?;
            key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
                .map_err(|err| invalid(err.to_string()))?
                .to_string()
        }
    };
    write(path, private.as_bytes(), 0o600)
}

/// `id_rsa` → `id_rsa.pub`; `key.pem` → `key.pem.pub`.
fn pub_extension(path: &Path) -> String {
    match path.extension() {
        Some(ext) => format!("{}.pub", ext.to_string_lossy()),
        None => "pub".to_owned(),
    }
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)
}

/// Whether `key` is one of `keys` (compared by key data, not comment).
pub(crate) fn contains(keys: &[PublicKey], key: &PublicKey) -> bool {
    keys.iter().any(|known| known.key_data() == key.key_data())
}

/// The algorithm to sign with for `key`: RSA keys sign with SHA-256, as Concourse's do.
pub(crate) fn signing_hash(key: &PrivateKey) -> Option<russh::keys::HashAlg> {
    matches!(key.algorithm(), Algorithm::Rsa { .. }).then_some(russh::keys::HashAlg::Sha256)
}
