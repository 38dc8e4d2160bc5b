//! Times and durations in the formats fly prints them (Go's layouts and `Duration.String`).

use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

fn zoned(seconds: i64, time_zone: &TimeZone) -> Option<ZonedDateTime> {
    Timestamp::from_second(seconds)
        .ok()
        .map(|time| time.to_zoned_datetime(time_zone.clone()))
}

/// `HH:MM:SS` in the zone, for `watch --timestamps`.
pub fn clock(seconds: i64, time_zone: &TimeZone) -> Option<String> {
    zoned(seconds, time_zone).map(|time| time.strftime("%H:%M:%S").to_string())
}

/// Parses `yyyy-mm-dd HH:mm:ss` in the zone into Unix seconds.
pub fn parse_local(text: &str, time_zone: &TimeZone) -> Option<i64> {
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", text).ok()?;
    Some(
        civil
            .to_zoned_datetime(time_zone.clone())
            .ok()?
            .timestamp()
            .as_second(),
    )
}

/// A build's start or end as `2006-01-02@15:04:05-0700`, `n/a` when unset.
pub fn build_time(seconds: Option<i64>, time_zone: &TimeZone) -> String {
    seconds
        .filter(|seconds| *seconds > 0)
        .and_then(|seconds| zoned(seconds, time_zone))
        .map_or_else(
            || "n/a".to_owned(),
            |time| time.strftime("%Y-%m-%d@%H:%M:%S%z").to_string(),
        )
}

/// Go's `time.Time.String()` without sub-seconds: `2006-01-02 15:04:05 -0700 MST`.
pub fn go_time(seconds: i64, time_zone: &TimeZone) -> String {
    zoned(seconds, time_zone).map_or_else(
        || "n/a".to_owned(),
        |time| time.strftime("%Y-%m-%d %H:%M:%S %z %Z").to_string(),
    )
}

/// Go's `Duration.String()` for whole seconds: `0s`, `45s`, `1m23s`, `2h0m5s`.
pub fn go_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{rest}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{rest}s")
    } else {
        format!("{sign}{rest}s")
    }
}

/// The duration column of `builds`: end − start, `<elapsed>+` while running, `n/a` for a build
/// that never started (even one that ended, errored or aborted while pending).
pub fn build_duration(start: Option<i64>, end: Option<i64>, now: Timestamp) -> String {
    match (start.filter(|start| *start > 0), end.filter(|end| *end > 0)) {
        (None, _) => "n/a".to_owned(),
        (Some(start), Some(end)) => go_duration(end - start),
        (Some(start), None) => format!("{}+", go_duration(now.as_second() - start)),
    }
}

/// A worker's age: `<d>d`, `<h>h<m>m`, `<m>m<s>s` or `<s>s`; `n/a` without a start time.
pub fn age(start: i64, now: Timestamp) -> String {
    if start <= 0 {
        return "n/a".to_owned();
    }
    let seconds = (now.as_second() - start).max(0);
    let (days, hours, minutes, rest) = (
        seconds / 86_400,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
    );
    if days > 0 {
        format!("{days}d")
    } else if hours > 0 {
        format!("{hours}h{minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m{rest}s")
    } else {
        format!("{rest}s")
    }
}

#[cfg(test)]
mod duration_tests {
    use super::*;

    #[test]
    fn a_build_that_never_started_has_no_duration() {
        let now = Timestamp::from_second(1_796_000_000).unwrap();
        assert_eq!(build_duration(None, Some(1_795_999_990), now), "n/a");
        assert_eq!(build_duration(None, None, now), "n/a");
        assert_eq!(
            build_duration(Some(1_795_999_000), Some(1_795_999_090), now),
            "1m30s"
        );
        assert_eq!(build_duration(Some(1_795_999_990), None, now), "10s+");
    }
}
