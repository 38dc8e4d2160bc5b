//! ANSI styles with the codes fly's color library emits, applied only when asked to (stdout is
//! a terminal).

/// A text style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No styling.
    Plain,
    /// Bold: table headers, step headers.
    Bold,
    /// Faint: `none` cells.
    Faint,
    /// Red.
    Red,
    /// Bold red: errored builds and error events.
    BoldRed,
    /// Green: succeeded builds, added diff lines.
    Green,
    /// Yellow: started builds, diff headers.
    Yellow,
    /// Magenta: aborted builds.
    Magenta,
    /// Cyan: paused things and "on" switches.
    Cyan,
    /// White: pending builds.
    White,
}

impl Style {
    /// The escape sequence that starts this style.
    fn code(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "\x1b[1m",
            Style::Faint => "\x1b[2m",
            Style::Red => "\x1b[31m",
            Style::BoldRed => "\x1b[31;1m",
            Style::Green => "\x1b[32m",
            Style::Yellow => "\x1b[33m",
            Style::Magenta => "\x1b[35m",
            Style::Cyan => "\x1b[36m",
            Style::White => "\x1b[37m",
        }
    }

    /// `text` in this style, or unchanged when `enabled` is false.
    pub fn paint(self, text: &str, enabled: bool) -> String {
        if !enabled || self == Style::Plain {
            return text.to_owned();
        }
        format!("{}{text}\x1b[0m", self.code())
    }

    /// The style fly gives a build status.
    pub fn for_status(status: &str) -> Style {
        match status {
            "pending" => Style::White,
            "started" => Style::Yellow,
            "succeeded" => Style::Green,
            "failed" => Style::Red,
            "errored" => Style::BoldRed,
            "aborted" => Style::Magenta,
            "paused" => Style::Cyan,
            _ => Style::Plain,
        }
    }
}
