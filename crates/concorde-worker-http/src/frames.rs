//! The framing of a process's streams over HTTP bodies. A run request's body is the process
//! spec's JSON length (4 bytes, big-endian), the JSON, then stdin's bytes to the end. A run
//! response is a sequence of frames `[kind: u8][length: u32 BE][payload]`: the process id
//! first, then stdout and stderr chunks as they come, then exactly one of exit, cancelled or
//! error.

/// The first frame: the worker's id for the process (for `stop`).
pub(crate) const STARTED: u8 = 0;
/// A chunk of stdout.
pub(crate) const STDOUT: u8 = 1;
/// A chunk of stderr.
pub(crate) const STDERR: u8 = 2;
/// The process exited: its code as 4 bytes, big-endian.
pub(crate) const EXITED: u8 = 3;
/// The process was stopped by a `stop` request.
pub(crate) const CANCELLED: u8 = 4;
/// Running failed: a JSON [`crate::wire::WireError`].
pub(crate) const FAILED: u8 = 5;

/// Largest frame either side accepts.
pub(crate) const MAX_FRAME: usize = 1024 * 1024;

/// One frame, encoded.
pub(crate) fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(kind);
    // Payloads are chunks of at most MAX_FRAME bytes; the cast cannot truncate.
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Splits complete frames off the front of `buffer`.
#[derive(Debug, Default)]
pub(crate) struct FrameReader {
    buffer: Vec<u8>,
}

impl FrameReader {
    /// Adds received bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, if one has arrived; an error for a frame over [`MAX_FRAME`].
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, String> {
        if self.buffer.len() < 5 {
            return Ok(None);
        }
        let mut length = [0u8; 4];
        length.copy_from_slice(&self.buffer[1..5]);
        let length = u32::from_be_bytes(length) as usize;
        if length > MAX_FRAME {
            return Err(format!("a frame of {length} bytes is too large"));
        }
        if self.buffer.len() < 5 + length {
            return Ok(None);
        }
        let kind = self.buffer[0];
        let payload = self.buffer[5..5 + length].to_vec();
        self.buffer.drain(..5 + length);
        Ok(Some((kind, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_come_out_whole() {
        let mut bytes = encode(STDOUT, b"hello");
        bytes.extend(encode(EXITED, &7i32.to_be_bytes()));
        let mut reader = FrameReader::default();
        let mut frames = Vec::new();
        for byte in bytes {
            reader.push(&[byte]);
            while let Some(frame) = reader.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(
            frames,
            vec![
                (STDOUT, b"hello".to_vec()),
                (EXITED, 7i32.to_be_bytes().to_vec())
            ]
        );
    }

    #[test]
    fn an_oversize_frame_is_refused() {
        let mut reader = FrameReader::default();
        reader.push(&[STDOUT, 0xff, 0xff, 0xff, 0xff]);
        assert!(reader.next_frame().is_err());
    }
}
