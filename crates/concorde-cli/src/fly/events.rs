//! A build's event stream: reads the server-sent events line by line as they arrive and renders
//! them as fly does (logs verbatim, step headers in bold, the final status in its color), then
//! says which exit code the command ends with.

use std::io::{BufRead, Write};

use concorde_proto::{BuildStatus, END_EVENT, EventEnvelope, EventKind};
use serde_json::Value;

use super::style::Style;

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Prefix each line with the event's local time (`--timestamps`).
    pub timestamps: bool,
    /// Skip events of unknown types or versions instead of stopping.
    pub ignore_parse_errors: bool,
    /// Use colors and bold.
    pub color: bool,
    /// The zone of `--timestamps`.
    pub time_zone: jiff::tz::TimeZone,
}

/// Why one SSE message could not be turned into an event.
#[derive(Debug, thiserror::Error)]
enum ParseError {
    #[error("unknown event type: {0}")]
    UnknownType(String),
    #[error("unknown version for '{event}': {version}")]
    UnknownVersion { event: String, version: String },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl ParseError {
    /// Whether `--ignore-event-parsing-errors` skips this error.
    fn ignorable(&self) -> bool {
        matches!(
            self,
            ParseError::UnknownType(_) | ParseError::UnknownVersion { .. }
        )
    }
}

/// Renders the stream until the build's final status or the end of the stream, and returns
/// fly's exit code: the last non-zero task exit status, else 1 failed, 2 errored, 3 aborted,
/// 0 succeeded, 255 for an unknown status or an unparseable event.
pub fn render(
    source: &mut dyn BufRead,
    out: &mut dyn Write,
    options: &RenderOptions,
) -> std::io::Result<u8> {
    let mut renderer = Renderer {
        out,
        options,
        exit_status: 0,
        at_line_start: true,
        time: 0,
    };
    let mut event_name = String::new();
    let mut data = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if source.read_line(&mut line)? == 0 {
            return Ok(renderer.exit_status);
        }
        let field = line.trim_end_matches(['\r', '\n']);
        if field.is_empty() {
            if event_name == END_EVENT {
                return Ok(renderer.exit_status);
            }
            if !data.is_empty()
                && let Some(code) = renderer.message(&data)?
            {
                return Ok(code);
            }
            event_name.clear();
            data.clear();
            continue;
        }
        let (name, value) = field
            .split_once(':')
            .map_or((field, ""), |(name, value)| (name, value));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match name {
            "event" => value.clone_into(&mut event_name),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
}

struct Renderer<'a> {
    out: &'a mut dyn Write,
    options: &'a RenderOptions,
    /// The last `finish-task` exit status.
    exit_status: u8,
    /// Whether the next byte starts a line (for `--timestamps`).
    at_line_start: bool,
    /// The time of the event being written, 0 when it has none.
    time: i64,
}

impl Renderer<'_> {
    /// Handles one message; `Some(code)` when rendering stops.
    fn message(&mut self, data: &str) -> std::io::Result<Option<u8>> {
        match parse(data) {
            Ok((event, payload)) => self.event(event, &payload),
            Err(err) if self.options.ignore_parse_errors && err.ignorable() => Ok(None),
            Err(err) => {
                self.time = 0;
                let message = Style::BoldRed.paint(&err.to_string(), self.options.color);
                self.write(&format!("failed to parse next event: {message}\n"))?;
                Ok(Some(255))
            }
        }
    }

    fn event(&mut self, event: EventKind, payload: &Value) -> std::io::Result<Option<u8>> {
        let color = self.options.color;
        let bold = |text: &str| Style::Bold.paint(text, color);
        let text = |key: &str| {
            payload
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        self.time = payload.get("time").and_then(Value::as_i64).unwrap_or(0);
        match event {
            EventKind::Log => self.write(&text("payload"))?,
            EventKind::WaitingForWorker => self.write(&format!(
                "{}\n",
                bold("no suitable workers found, waiting for worker...")
            ))?,
            EventKind::SelectedWorker => self.write(&format!(
                "{} {}\n",
                bold("selected worker:"),
                text("selected_worker")
            ))?,
            EventKind::StreamingVolume => self.write(&format!(
                "{} {} {} {}\n",
                bold("streaming volume"),
                text("volume"),
                bold("from worker"),
                text("source_worker")
            ))?,
            EventKind::WaitingForStreamedVolume => self.write(&format!(
                "{} {} {}\n",
                bold("waiting for volume"),
                text("volume"),
                bold("to be streamed by another step")
            ))?,
            EventKind::InitializeCheck => self.write(&format!(
                "{} {}\n",
                bold("initializing check:"),
                text("name")
            ))?,
            EventKind::InitializeTask => self.write(&format!("{}\n", bold("initializing")))?,
            EventKind::StartTask => {
                let run = payload.pointer("/config/run");
                let path = run
                    .and_then(|run| run.get("path"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let mut argv = vec![path.to_owned()];
                let args = run
                    .and_then(|run| run.get("args"))
                    .and_then(Value::as_array);
                argv.extend(
                    args.into_iter()
                        .flatten()
                        .map(|arg| arg.as_str().unwrap_or_default().to_owned()),
                );
                self.write(&format!(
                    "{}\n",
                    bold(&format!("running {}", argv.join(" ")))
                ))?;
            }
            EventKind::FinishTask => {
                let status = payload
                    .get("exit_status")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                // Exit statuses above 255 cannot be a process exit code; keep them non-zero.
                self.exit_status = u8::try_from(status).unwrap_or(255);
            }
            EventKind::Error => {
                self.time = 0;
                self.write(&format!(
                    "{}\n",
                    Style::BoldRed.paint(&text("message"), color)
                ))?;
            }
            EventKind::Status => return self.status(&text("status")),
            _ => {}
        }
        Ok(None)
    }

    fn status(&mut self, status: &str) -> std::io::Result<Option<u8>> {
        let fallback = match status.parse() {
            Ok(BuildStatus::Pending | BuildStatus::Started) => return Ok(None),
            Ok(BuildStatus::Succeeded) => 0,
            Ok(BuildStatus::Failed) => 1,
            Ok(BuildStatus::Errored) => 2,
            Ok(BuildStatus::Aborted) => 3,
            Err(_) => {
                self.write(&format!("unknown status: {status}"))?;
                return Ok(Some(255));
            }
        };
        if self.exit_status == 0 {
            self.exit_status = fallback;
        }
        let line = Style::for_status(status).paint(status, self.options.color);
        self.write(&format!("{line}\n"))?;
        Ok(Some(self.exit_status))
    }

    /// Writes text, prefixing each new line with the event time under `--timestamps`, and
    /// flushes so that logs show as they arrive.
    fn write(&mut self, text: &str) -> std::io::Result<()> {
        if !self.options.timestamps {
            self.out.write_all(text.as_bytes())?;
            return self.out.flush();
        }
        let prefix = Some(self.time)
            .filter(|time| *time > 0)
            .and_then(|time| super::times::clock(time, &self.options.time_zone))
            .map_or_else(|| " ".repeat(10), |clock| format!("{clock}  "));
        for piece in text.split_inclusive('\n') {
            if self.at_line_start {
                self.out.write_all(prefix.as_bytes())?;
            }
            self.out.write_all(piece.as_bytes())?;
            self.at_line_start = piece.ends_with('\n');
        }
        self.out.flush()
    }
}

/// Decodes a `data:` line into the event type and its payload, checking the version: fly
/// understands every version with the major it knows.
fn parse(data: &str) -> Result<(EventKind, Value), ParseError> {
    let envelope: EventEnvelope = serde_json::from_str(data)?;
    let Ok(kind) = envelope.event.parse::<EventKind>() else {
        return Err(ParseError::UnknownType(envelope.event));
    };
    if envelope.version.split('.').next() != Some(kind.major()) {
        return Err(ParseError::UnknownVersion {
            event: envelope.event,
            version: envelope.version,
        });
    }
    let payload: Value = serde_json::from_str(envelope.data.get())?;
    Ok((kind, payload))
}
