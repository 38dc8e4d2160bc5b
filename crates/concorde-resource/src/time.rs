//! The `time` resource type: a new version when an interval has elapsed or a daily window
//! opens, as Concourse's time resource does.
//!
//! Source keys: `interval` (Go duration), `start` and `stop` (times of day such as `8:00 AM`,
//! `3PM`, `14:00` or `1400`; both or neither), `location` (IANA zone, default UTC; the zone
//! database is bundled so images without `/usr/share/zoneinfo` work), `days` (weekday names)
//! and `initial_version` (the first check yields a version even outside the window).
//!
//! `check` returns the cursor (if any) followed by "now" when a new version is due: the day is
//! allowed, now is inside the window, and either there is no cursor, the interval has elapsed
//! since it, or (without an interval) the cursor predates the current window's opening. A window
//! whose stop is at or before its start wraps past midnight, and its weekday is the day it
//! opened. "Now" comes from [`Context::now`], so tests pin it.

use std::path::Path;
use std::time::Duration;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use serde::Deserialize;

use crate::protocol::{Keys, Log, parse_go_duration};
use crate::{Context, Output, Request, ResourceError, Version};

const SOURCE_KEYS: Keys = Keys {
    section: "source",
    supported: &[
        "interval",
        "start",
        "stop",
        "location",
        "days",
        "initial_version",
    ],
    ignored: &[],
    reject_unknown: false,
};

#[derive(Debug, Default, Deserialize)]
struct RawSource {
    interval: Option<String>,
    start: Option<String>,
    stop: Option<String>,
    location: Option<String>,
    #[serde(default)]
    days: Vec<String>,
    #[serde(default)]
    initial_version: bool,
}

/// A validated time source.
#[derive(Debug, Clone)]
struct TimeSource {
    interval: Option<Duration>,
    window: Option<(Time, Time)>,
    zone: TimeZone,
    days: Vec<Weekday>,
    initial_version: bool,
}

fn invalid(key: &str, reason: String) -> ResourceError {
    ResourceError::InvalidKey {
        section: "source",
        key: key.to_owned(),
        reason,
    }
}

impl TimeSource {
    fn parse(request: &Request, log: &mut Log<'_>) -> Result<TimeSource, ResourceError> {
        let raw: RawSource = SOURCE_KEYS.parse(&request.source, log)?;
        let interval = match &raw.interval {
            Some(text) => Some(parse_go_duration(text).ok_or_else(|| {
                invalid(
                    "interval",
                    format!("{text:?} is not a duration such as 10m or 1h30m"),
                )
            })?),
            None => None,
        };
        let window = match (&raw.start, &raw.stop) {
            (Some(start), Some(stop)) => Some((
                parse_time_of_day("start", start)?,
                parse_time_of_day("stop", stop)?,
            )),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "start",
                    "start and stop must be given together".to_owned(),
                ));
            }
        };
        let zone = match &raw.location {
            Some(name) => TimeZone::get(name)
                .map_err(|err| invalid("location", format!("{name:?}: {err}")))?,
            None => TimeZone::UTC,
        };
        let days = raw
            .days
            .iter()
            .map(|day| parse_weekday(day))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TimeSource {
            interval,
            window,
            zone,
            days,
            initial_version: raw.initial_version,
        })
    }

    /// The window containing `now` or the most recent one before it, as `[open, close)`.
    fn window_around(
        &self,
        now: &ZonedDateTime,
    ) -> Result<Option<(ZonedDateTime, ZonedDateTime)>, ResourceError> {
        let Some((start, stop)) = self.window else {
            return Ok(None);
        };
        let today = now.date();
        let open_day = if stop > start || now.time() >= start {
            today
        } else {
            previous_day(today)?
        };
        let close_day = if stop > start {
            open_day
        } else {
            next_day(open_day)?
        };
        let at = |date: Date, time: Time| {
            date.to_datetime(time)
                .to_zoned_datetime(self.zone.clone())
                .map_err(|err| invalid("start", err.to_string()))
        };
        Ok(Some((at(open_day, start)?, at(close_day, stop)?)))
    }

    /// Whether a new version is due at `now`, given the latest one.
    fn is_due(&self, now: Timestamp, previous: Option<Timestamp>) -> Result<bool, ResourceError> {
        let now = now.to_zoned_datetime(self.zone.clone());
        let window = self.window_around(&now)?;
        let day = window
            .as_ref()
            .map_or(now.weekday(), |(open, _)| open.weekday());
        if !self.days.is_empty() && !self.days.contains(&day) {
            return Ok(false);
        }
        if window
            .as_ref()
            .is_some_and(|(open, close)| now < *open || now >= *close)
        {
            return Ok(false);
        }
        let Some(previous) = previous else {
            return Ok(true);
        };
        if let Some(interval) = self.interval {
            let elapsed = now.timestamp().duration_since(previous);
            return Ok(elapsed.as_secs_f64() >= interval.as_secs_f64());
        }
        Ok(window.is_some_and(|(open, _)| previous < open.timestamp()))
    }
}

fn previous_day(date: Date) -> Result<Date, ResourceError> {
    date.yesterday()
        .map_err(|err| invalid("start", err.to_string()))
}

fn next_day(date: Date) -> Result<Date, ResourceError> {
    date.tomorrow()
        .map_err(|err| invalid("stop", err.to_string()))
}

/// Parses `3:04 PM`, `3PM`, `3 pm`, `15:04` and `1504`.
fn parse_time_of_day(key: &str, text: &str) -> Result<Time, ResourceError> {
    let bad = || {
        invalid(
            key,
            format!("{text:?} is not a time of day such as 8:00 AM or 14:00"),
        )
    };
    let upper = text.trim().to_ascii_uppercase();
    let (body, pm) = match (upper.strip_suffix("AM"), upper.strip_suffix("PM")) {
        (Some(body), _) => (body.trim(), Some(false)),
        (_, Some(body)) => (body.trim(), Some(true)),
        _ => (upper.as_str(), None),
    };
    let (hour, minute) = match body.split_once(':') {
        Some((hour, minute)) if minute.len() == 2 => (hour, minute),
        Some(_) => return Err(bad()),
        None if body.len() == 4 && body.is_ascii() && pm.is_none() => body.split_at(2),
        None => (body, "0"),
    };
    let hour: i8 = hour.parse().map_err(|_| bad())?;
    let minute: i8 = minute.parse().map_err(|_| bad())?;
    let hour = match pm {
        Some(_) if !(1..=12).contains(&hour) => return Err(bad()),
        Some(is_pm) => hour % 12 + if is_pm { 12 } else { 0 },
        None => hour,
    };
    Time::new(hour, minute, 0, 0).map_err(|_| bad())
}

fn parse_weekday(text: &str) -> Result<Weekday, ResourceError> {
    let lower = text.trim().to_ascii_lowercase();
    let days = [
        ("sunday", Weekday::Sunday),
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
    ];
    days.iter()
        .find(|(name, _)| *name == lower || (lower.len() == 3 && name.starts_with(&lower)))
        .map(|(_, day)| *day)
        .ok_or_else(|| invalid("days", format!("{text:?} is not a weekday name")))
}

fn time_version(now: Timestamp) -> Version {
    Version::from([("time".to_owned(), now.to_string())])
}

/// `check`: the cursor, then "now" if a new version is due.
pub(crate) fn check(
    ctx: &Context,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Vec<Version>, ResourceError> {
    let source = TimeSource::parse(request, log)?;
    let now = ctx.now();
    let previous = request
        .version
        .as_ref()
        .and_then(|version| version.get("time"));
    let previous = match previous.map(|text| text.parse::<Timestamp>()) {
        Some(Ok(time)) => Some(time),
        Some(Err(err)) => {
            log.line(&format!(
                "ignoring the cursor, its time is not RFC 3339: {err}"
            ));
            None
        }
        None => None,
    };
    let mut versions = Vec::new();
    match (&request.version, previous) {
        (Some(cursor), Some(_)) => versions.push(cursor.clone()),
        _ if source.initial_version => return Ok(vec![time_version(now)]),
        _ => {}
    }
    if source.is_due(now, previous)? {
        versions.push(time_version(now));
    }
    Ok(versions)
}

/// `in`: write the request to `input`, as Concourse's time resource does.
pub(crate) fn get(
    _ctx: &Context,
    dir: &Path,
    request: &Request,
    _log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    let version = request.version.clone().ok_or(ResourceError::MissingKey {
        section: "version",
        key: "time",
    })?;
    let path = dir.join("input");
    std::fs::write(&path, serde_json::to_vec(request)?)
        .map_err(|err| ResourceError::io(&path, err))?;
    Ok(Output {
        version,
        metadata: Vec::new(),
    })
}

/// `out`: a version for the current time.
pub(crate) fn put(
    ctx: &Context,
    _dir: &Path,
    request: &Request,
    log: &mut Log<'_>,
) -> Result<Output, ResourceError> {
    TimeSource::parse(request, log)?;
    Ok(Output {
        version: time_version(ctx.now()),
        metadata: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        let parse = |text| {
            parse_time_of_day("start", text)
                .ok()
                .map(|time| time.to_string())
        };
        assert_eq!(parse("8:00 AM").as_deref(), Some("08:00:00"));
        assert_eq!(parse("3PM").as_deref(), Some("15:00:00"));
        assert_eq!(parse("12:30 am").as_deref(), Some("00:30:00"));
        assert_eq!(parse("12 PM").as_deref(), Some("12:00:00"));
        assert_eq!(parse("14:00").as_deref(), Some("14:00:00"));
        assert_eq!(parse("1405").as_deref(), Some("14:05:00"));
        assert_eq!(parse("13 PM"), None);
        assert_eq!(parse("25:00"), None);
        assert_eq!(parse("noon"), None);
        assert_eq!(parse("é12"), None);
    }

    #[test]
    fn weekdays() {
        assert_eq!(parse_weekday("Monday").ok(), Some(Weekday::Monday));
        assert_eq!(parse_weekday("sat").ok(), Some(Weekday::Saturday));
        assert!(parse_weekday("Funday").is_err());
    }
}
