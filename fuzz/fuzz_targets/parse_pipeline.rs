//! Fuzz target: arbitrary bytes through the whole config path (parse, static vars, decode,
//! validate, format) must never panic, and a formatted pipeline must load again.
//!
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_pipeline -- -max_total_time=300` from `fuzz/`.

#![no_main]

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, format_pipeline, load_pipeline, load_task_config, validate_pipeline};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut vars = StaticVars::default();
    let _ = vars.add_string("x=y");
    if let Ok(loaded) = load_pipeline(data, &vars, UnknownKeys::Ignore) {
        let _ = validate_pipeline(&loaded.pipeline);
        if let Ok(formatted) = format_pipeline(&loaded.pipeline) {
            assert!(
                load_pipeline(formatted.as_bytes(), &StaticVars::default(), UnknownKeys::Reject).is_ok(),
                "formatted output must load:\n{formatted}"
            );
        }
    }
    let _ = load_task_config(data);
});
