//! Go's duration syntax (`1h30m`, `500ms`, `-1.5s`) and Concourse's memory-size syntax
//! (`512MB`, `1Gi`), parsed the way Concourse parses them.

use std::time::Duration;

/// Why a duration did not parse; the message matches Go's `time.ParseDuration`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all.
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    /// A number without a unit (other than `0`).
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    /// A unit Go does not know.
    #[error("time: unknown unit \"{unit}\" in duration \"{text}\"")]
    UnknownUnit {
        /// The offending unit.
        unit: String,
        /// The whole text.
        text: String,
    },
}

/// A parsed duration: Go allows negative ones, which never make sense for us but must parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedDuration {
    /// True for `-...` durations.
    pub negative: bool,
    /// The magnitude.
    pub magnitude: Duration,
}

/// Parses a Go duration string.
pub fn parse_duration(text: &str) -> Result<SignedDuration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(SignedDuration {
            negative,
            magnitude: Duration::ZERO,
        });
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(text.to_owned()));
        }
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            _ => {
                return Err(DurationError::UnknownUnit {
                    unit: unit.to_owned(),
                    text: text.to_owned(),
                });
            }
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| invalid())?
        };
        let mut part = whole.checked_mul(unit_nanos).ok_or_else(invalid)?;
        let mut scale = unit_nanos;
        for digit in fraction.bytes() {
            scale /= 10;
            part += u128::from(digit - b'0') * scale;
        }
        total_nanos = total_nanos.checked_add(part).ok_or_else(invalid)?;
    }
    if total_nanos > u128::from(u64::MAX) {
        return Err(invalid());
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| invalid())?;
    Ok(SignedDuration {
        negative,
        magnitude: Duration::from_nanos(nanos),
    })
}

/// Parses a memory limit string: digits, optionally followed by K, M or G (binary, 1024-based),
/// an optional `i` and an optional `B`, case-insensitive.
pub fn parse_memory(text: &str) -> Option<u64> {
    let digits_len = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits_len == 0 {
        return None;
    }
    let number: u64 = text[..digits_len].parse().ok()?;
    let suffix = text[digits_len..].to_ascii_uppercase();
    let multiplier: u64 = match suffix.as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KI" | "KIB" => 1 << 10,
        "M" | "MB" | "MI" | "MIB" => 1 << 20,
        "G" | "GB" | "GI" | "GIB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let secs = |text: &str| parse_duration(text).map(|d| d.magnitude.as_secs_f64());
        assert_eq!(secs("1h30m"), Ok(5400.0));
        assert_eq!(secs("500ms"), Ok(0.5));
        assert_eq!(secs("1.5s"), Ok(1.5));
        assert_eq!(secs("0"), Ok(0.0));
        assert_eq!(parse_duration("-2m").map(|d| d.negative), Ok(true));
        assert_eq!(
            parse_duration("5").unwrap_err().to_string(),
            "time: missing unit in duration \"5\""
        );
        assert_eq!(
            parse_duration("1y").unwrap_err().to_string(),
            "time: unknown unit \"y\" in duration \"1y\""
        );
        assert_eq!(
            parse_duration("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration("abc").unwrap_err().to_string(),
            "time: invalid duration \"abc\""
        );
    }

    #[test]
    fn parses_memory_sizes() {
        assert_eq!(parse_memory("1024"), Some(1024));
        assert_eq!(parse_memory("1KB"), Some(1024));
        assert_eq!(parse_memory("2gi"), Some(2 << 30));
        assert_eq!(parse_memory("5MiB"), Some(5 << 20));
        assert_eq!(parse_memory("5TB"), None);
        assert_eq!(parse_memory("MB"), None);
    }
}
