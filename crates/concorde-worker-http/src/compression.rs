//! How volume streams are compressed on the wire (`--streaming-artifacts-compression`, as
//! Concourse's): the sender compresses the tar, the receiver decompresses it, and whatever sits
//! between (the TSA's tunnels, the web node relaying) carries fewer bytes.

use std::str::FromStr;

use async_compression::Level;
use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder, ZstdDecoder, ZstdEncoder};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, BufReader};

/// A stream's compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// As is.
    #[default]
    Raw,
    /// gzip, fastest level.
    Gzip,
    /// zstd, fastest level.
    Zstd,
}

/// A boxed byte stream.
pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// Bytes read ahead of the (de)compressor.
const BUFFER: usize = 256 * 1024;

impl Compression {
    /// Its name on the wire and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Raw => "raw",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// `raw` compressed.
    pub(crate) fn encode(self, raw: Reader) -> Reader {
        let buffered = BufReader::with_capacity(BUFFER, raw);
        match self {
            Compression::Raw => Box::new(buffered),
            Compression::Gzip => Box::new(GzipEncoder::with_quality(buffered, Level::Fastest)),
            Compression::Zstd => Box::new(ZstdEncoder::with_quality(buffered, Level::Fastest)),
        }
    }

    /// `compressed` decompressed.
    pub(crate) fn decode(self, compressed: Reader) -> Reader {
        let buffered = BufReader::with_capacity(BUFFER, compressed);
        match self {
            Compression::Raw => Box::new(buffered),
            Compression::Gzip => Box::new(GzipDecoder::new(buffered)),
            Compression::Zstd => Box::new(ZstdDecoder::new(buffered)),
        }
    }
}

impl FromStr for Compression {
    type Err = String;

    fn from_str(text: &str) -> Result<Compression, String> {
        match text {
            "raw" => Ok(Compression::Raw),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            other => Err(format!(
                "unknown compression '{other}' (one of: raw, gzip, zstd)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn every_compression_gives_back_what_went_in() {
        let original: Vec<u8> = (0..100_000)
            .flat_map(|n| format!("line {n} of a build log\n").into_bytes())
            .collect();
        for compression in [Compression::Raw, Compression::Gzip, Compression::Zstd] {
            let mut compressed = Vec::new();
            compression
                .encode(Box::new(std::io::Cursor::new(original.clone())))
                .read_to_end(&mut compressed)
                .await
                .expect("compresses");
            if compression != Compression::Raw {
                assert!(compressed.len() < original.len() / 2, "{compression:?}");
            }
            let mut back = Vec::new();
            compression
                .decode(Box::new(std::io::Cursor::new(compressed)))
                .read_to_end(&mut back)
                .await
                .expect("decompresses");
            assert_eq!(back, original, "{compression:?}");
            assert_eq!(compression.name().parse::<Compression>(), Ok(compression));
        }
    }
}
