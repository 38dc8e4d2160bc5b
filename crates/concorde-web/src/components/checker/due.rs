//! When a resource is due for a check (`check_every`) and how long a check may run
//! (`check_timeout`), with Concourse's defaults; a setting that is not a duration is the
//! check's error, shown on the resource, never a silent default.

use std::time::Duration;

use concorde_config::model::CheckEvery;
use concorde_store::{Resource, Timestamp};

/// The default `check_every`.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// The default `check_timeout`.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(3600);

/// A resource's `check_timeout`, or the default; the check's error message when it is not a
/// duration.
pub fn check_timeout(text: Option<&str>) -> Result<Duration, String> {
    match text {
        None => Ok(DEFAULT_CHECK_TIMEOUT),
        Some(text) => concorde_config::parse_duration(text)
            .map(|parsed| parsed.magnitude)
            .map_err(|err| format!("invalid check_timeout {text:?}: {err}")),
    }
}

/// A resource's `check_every` interval (`None`: never), or the check's error message when it
/// is not a duration (say, an unresolved var).
pub fn check_interval(every: Option<&CheckEvery>) -> Result<Option<Duration>, String> {
    match every {
        None => Ok(Some(DEFAULT_CHECK_INTERVAL)),
        Some(CheckEvery::Never) => Ok(None),
        Some(CheckEvery::Interval(text)) => concorde_config::parse_duration(text)
            .map(|parsed| Some(parsed.magnitude))
            .map_err(|err| format!("invalid check_every {text:?}: {err}")),
    }
}

/// Whether `check_every` has passed since the last check started (`never`: never due). A
/// `check_every` that is not a duration checks at the default interval, and each of those
/// checks fails with the reason, so the resource shows it.
pub fn is_due(resource: &Resource, now: Timestamp) -> bool {
    let interval = match check_interval(resource.check_every.as_ref()) {
        Ok(None) => return false,
        Ok(Some(interval)) => interval,
        Err(_) => DEFAULT_CHECK_INTERVAL,
    };
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    resource
        .last_check_start
        .is_none_or(|last| now.0 - last.0 >= interval_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use concorde_store::{PipelineId, ResourceId};

    #[test]
    fn check_timeouts_default_parse_or_fail_visibly() {
        assert_eq!(check_timeout(None), Ok(DEFAULT_CHECK_TIMEOUT));
        assert_eq!(check_timeout(Some("90s")), Ok(Duration::from_secs(90)));
        let err = check_timeout(Some("((timeout))")).unwrap_err();
        assert!(
            err.starts_with("invalid check_timeout \"((timeout))\": "),
            "{err}"
        );
    }

    fn resource(check_every: Option<&str>, last: Option<i64>) -> Resource {
        Resource {
            id: ResourceId(1),
            pipeline_id: PipelineId(1),
            name: "r".to_owned(),
            type_name: "git".to_owned(),
            config: serde_json::json!({}),
            active: true,
            check_every: check_every.map(|text| CheckEvery::from_text(text.to_owned())),
            resource_config_id: None,
            scope_id: None,
            last_check_start: last.map(Timestamp),
            last_check_end: None,
            last_check_error: None,
            last_check_build_id: None,
            api_pinned_version: None,
            pin_comment: None,
            config_pinned_version: None,
        }
    }

    #[test]
    fn due_follows_check_every() {
        let now = Timestamp(1_000_000);
        assert!(is_due(&resource(None, None), now));
        assert!(!is_due(&resource(None, Some(now.0 - 59_000)), now));
        assert!(is_due(&resource(None, Some(now.0 - 60_000)), now));
        assert!(is_due(&resource(Some("10s"), Some(now.0 - 10_000)), now));
        assert!(!is_due(&resource(Some("never"), None), now));
        assert!(is_due(
            &resource(Some("((every))"), Some(now.0 - 60_000)),
            now
        ));
        let err = check_interval(Some(&CheckEvery::from_text("((every))".into()))).unwrap_err();
        assert!(
            err.starts_with("invalid check_every \"((every))\": "),
            "{err}"
        );
    }
}
