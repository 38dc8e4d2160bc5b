//! The build event stream's wire format: the JSON envelope in each SSE `data:` line, and the
//! one-string encoding of a log event's origin that the store keeps.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The SSE event name of every build event (the real type is the envelope's `event`).
pub const SSE_EVENT: &str = "event";

/// The SSE event name of the final message of a finished build's stream.
pub const END_EVENT: &str = "end";

/// Value of the `X-ATC-Stream-Version` response header of the event stream.
pub const EVENT_STREAM_VERSION: &str = "2.0";

/// One build event as sent in an SSE `data:` line:
/// `{"data":<payload>,"event":<type>,"version":<"major.minor">,"event_id":<"n">}`.
///
/// `data` is kept as raw JSON so the stored payload goes out verbatim, key order included.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// The event's payload object.
    pub data: Box<RawValue>,
    /// The event type, e.g. `log`, `status`, `finish-task`.
    pub event: String,
    /// The event schema version, e.g. `5.1`; clients match on the major part.
    pub version: String,
    /// The per-build event number, 0-based, as a string.
    pub event_id: String,
}

impl EventEnvelope {
    /// Wraps a payload (JSON text); fails when `data` is not JSON.
    pub fn new(
        data: String,
        event: &str,
        version: &str,
        event_id: i64,
    ) -> Result<Self, serde_json::Error> {
        Ok(EventEnvelope {
            data: RawValue::from_string(data)?,
            event: event.to_owned(),
            version: version.to_owned(),
            event_id: event_id.to_string(),
        })
    }
}

/// Where a log line came from: a plan node and the stream (`stdout` or `stderr`).
///
/// The store keeps a log event's origin as one string; [`LogOrigin::encode`] writes
/// `<plan id>` or `<plan id>#<source>` and [`LogOrigin::decode`] reads it back. Plan ids never
/// contain `#`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOrigin {
    /// The plan node's id.
    pub id: String,
    /// `stdout` or `stderr`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl LogOrigin {
    /// The one-string form the store keeps.
    pub fn encode(&self) -> String {
        match &self.source {
            Some(source) => format!("{}#{source}", self.id),
            None => self.id.clone(),
        }
    }

    /// Reads the one-string form; a string without `#` is a plan id without a source.
    pub fn decode(text: &str) -> Self {
        match text.rsplit_once('#') {
            Some((id, source)) => LogOrigin {
                id: id.to_owned(),
                source: Some(source.to_owned()),
            },
            None => LogOrigin {
                id: text.to_owned(),
                source: None,
            },
        }
    }

    /// The `data` of a `log` event (version 5.1): `{"time":..,"origin":{..},"payload":..}`.
    pub fn log_event_data(&self, time_secs: i64, payload: &str) -> String {
        #[derive(Serialize)]
        struct LogData<'a> {
            time: i64,
            origin: &'a LogOrigin,
            payload: &'a str,
        }
        // A struct of strings and integers always serializes.
        serde_json::to_string(&LogData {
            time: time_secs,
            origin: self,
            payload,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
mod tests {
    use super::*;

    #[test]
    fn envelope_keeps_payload_verbatim_and_key_order() {
        let envelope =
            EventEnvelope::new(r#"{"z":1,"a":"x\ny"}"#.to_owned(), "log", "5.1", 7).unwrap();
        let line = serde_json::to_string(&envelope).unwrap();
        assert_eq!(
            line,
            r#"{"data":{"z":1,"a":"x\ny"},"event":"log","version":"5.1","event_id":"7"}"#
        );
        let back: EventEnvelope = serde_json::from_str(&line).unwrap();
        assert_eq!(back.data.get(), r#"{"z":1,"a":"x\ny"}"#);
        assert_eq!(back.event_id, "7");
    }

    #[test]
    fn log_origin_round_trips_and_renders_concourse_shape() {
        let origin = LogOrigin {
            id: "6f2a1c0b/image-get".into(),
            source: Some("stderr".into()),
        };
        assert_eq!(LogOrigin::decode(&origin.encode()), origin);
        let plain = LogOrigin::decode("abc");
        assert_eq!(plain.source, None);
        assert_eq!(
            origin.log_event_data(1_700_000_000, "hi\n"),
            r#"{"time":1700000000,"origin":{"id":"6f2a1c0b/image-get","source":"stderr"},"payload":"hi\n"}"#
        );
    }
}
