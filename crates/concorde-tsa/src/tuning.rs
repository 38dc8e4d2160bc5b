//! SSH settings both ends share, for throughput: artifacts between workers cross two tunnels,
//! so every byte is encrypted and decrypted twice. AES-GCM goes first (hardware AES where the
//! CPU has it, several times faster than ChaCha20 there), channel windows and packets are
//! large, and tunnelled bytes are copied in large buffers.

use std::borrow::Cow;

use russh::Preferred;
use russh::cipher;

/// Bytes a peer may send on a channel before it must wait for the window to grow.
pub(crate) const WINDOW: u32 = 16 * 1024 * 1024;
/// Largest channel data packet (russh's ceiling).
pub(crate) const PACKET: u32 = 65535;
/// Buffer for each direction of a tunnelled TCP connection.
pub(crate) const COPY_BUFFER: usize = 256 * 1024;

const CIPHERS: &[cipher::Name] = &[
    cipher::AES_256_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];

/// The algorithms to offer: russh's defaults with AES-GCM first.
pub(crate) fn preferred() -> Preferred {
    Preferred {
        cipher: Cow::Borrowed(CIPHERS),
        ..Preferred::DEFAULT
    }
}

/// Copies both ways between a tunnelled connection and its channel until both end.
pub(crate) async fn splice<A, B>(a: &mut A, b: &mut B)
where
    A: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + ?Sized,
{
    let _ = tokio::io::copy_bidirectional_with_sizes(a, b, COPY_BUFFER, COPY_BUFFER).await;
}
