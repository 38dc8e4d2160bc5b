//! The time type with a pinned clock: intervals, daily windows in a time zone, weekdays.

use concorde_resource::Context;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::support::{context, run};

fn at(ctx: &Context, rfc3339: &str) -> Context {
    ctx.clone().with_now(rfc3339.parse::<Timestamp>().unwrap())
}

fn check(ctx: &Context, source: Value, cursor: Option<&str>) -> Value {
    let mut request = json!({"source": source});
    if let Some(cursor) = cursor {
        request["version"] = json!({"time": cursor});
    }
    run(ctx, "time", "check", None, &request).json()
}

#[test]
fn interval_yields_a_version_once_it_has_elapsed() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = at(&context(tmp.path()), "2024-06-03T12:00:00Z");
    let source = json!({"interval": "1h"});
    assert_eq!(
        check(&ctx, source.clone(), None),
        json!([{"time": "2024-06-03T12:00:00Z"}])
    );
    assert_eq!(
        check(&ctx, source.clone(), Some("2024-06-03T11:30:00Z")),
        json!([{"time": "2024-06-03T11:30:00Z"}])
    );
    assert_eq!(
        check(&ctx, source, Some("2024-06-03T10:59:59.5Z")),
        json!([{"time": "2024-06-03T10:59:59.5Z"}, {"time": "2024-06-03T12:00:00Z"}])
    );
}

#[test]
fn window_in_a_time_zone_fires_once_per_opening() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let source = json!({"start": "9:00 AM", "stop": "5:00 PM", "location": "America/New_York"});
    // 14:00Z is 10:00 in New York (EDT): inside the window.
    let inside = at(&ctx, "2024-06-03T14:00:00Z");
    assert_eq!(
        check(&inside, source.clone(), None),
        json!([{"time": "2024-06-03T14:00:00Z"}])
    );
    // Already fired in this window (at 13:30Z = 9:30 EDT): nothing new.
    assert_eq!(
        check(&inside, source.clone(), Some("2024-06-03T13:30:00Z"))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The last version is from yesterday's window: fire again.
    assert_eq!(
        check(&inside, source.clone(), Some("2024-06-02T15:00:00Z"))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // 22:00Z is 18:00 EDT: outside; only the cursor comes back.
    let outside = at(&ctx, "2024-06-03T22:00:00Z");
    assert_eq!(
        check(&outside, source.clone(), Some("2024-06-02T15:00:00Z")),
        json!([{"time": "2024-06-02T15:00:00Z"}])
    );
    assert_eq!(check(&outside, source.clone(), None), json!([]));
    // initial_version gives a first version even outside the window.
    let mut initial = source;
    initial["initial_version"] = json!(true);
    assert_eq!(
        check(&outside, initial, None),
        json!([{"time": "2024-06-03T22:00:00Z"}])
    );
}

#[test]
fn windows_wrap_past_midnight_and_days_filter_by_the_opening_day() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let source = json!({"start": "22:00", "stop": "0200", "days": ["Friday"]});
    // 2024-06-08 is a Saturday; 01:00 belongs to Friday's window.
    assert_eq!(
        check(&at(&ctx, "2024-06-08T01:00:00Z"), source.clone(), None)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Saturday 23:00 is in Saturday's window, which is not allowed.
    assert_eq!(
        check(&at(&ctx, "2024-06-08T23:00:00Z"), source.clone(), None),
        json!([])
    );
    // Friday 21:00 is before the window.
    assert_eq!(
        check(&at(&ctx, "2024-06-07T21:00:00Z"), source, None),
        json!([])
    );
}

#[test]
fn in_writes_the_request_and_out_names_now() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = at(&context(tmp.path()), "2024-06-03T12:00:00Z");
    let dest = tmp.path().join("get");
    let request =
        json!({"source": {"interval": "1h"}, "version": {"time": "2024-06-03T11:00:00Z"}});
    let output = run(&ctx, "time", "in", Some(&dest), &request).json();
    assert_eq!(
        output,
        json!({"version": {"time": "2024-06-03T11:00:00Z"}, "metadata": []})
    );
    let input: Value =
        serde_json::from_str(&std::fs::read_to_string(dest.join("input")).unwrap()).unwrap();
    assert_eq!(input, request);
    let put = run(
        &ctx,
        "time",
        "out",
        Some(tmp.path()),
        &json!({"source": {"interval": "1h"}}),
    )
    .json();
    assert_eq!(put["version"], json!({"time": "2024-06-03T12:00:00Z"}));
}

#[test]
fn bad_sources_fail_with_the_key_named() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let fail = |source: Value, needle: &str| {
        run(&ctx, "time", "check", None, &json!({"source": source})).assert_failed_with(needle)
    };
    fail(json!({"location": "Mars/Olympus_Mons"}), "source.location");
    fail(json!({"interval": "ten minutes"}), "source.interval");
    fail(json!({"start": "9AM"}), "start and stop");
    fail(json!({"start": "25:00", "stop": "26:00"}), "source.start");
    fail(json!({"days": ["Caturday"]}), "source.days");
}
