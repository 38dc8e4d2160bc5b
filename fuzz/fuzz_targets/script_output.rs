//! Fuzz target: whatever a resource script prints on stdout (`check`, `in`, `out`), the
//! engine's parsing never panics, and versions it accepts have a digest the store can key on.
//!
//! Run: `cargo xtask fuzz --seconds 300 script_output`.

#![no_main]

use concorde_engine::{parse_check_output, parse_version_result};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|stdout: &[u8]| {
    if let Ok(versions) = parse_check_output(stdout) {
        for version in &versions {
            assert!(!version.is_empty(), "an empty version was accepted");
            let _ = concorde_config::json_digest(&serde_json::json!(version));
        }
    }
    if let Ok((version, _metadata)) = parse_version_result(stdout, "/opt/resource/in") {
        assert!(!version.is_empty(), "an empty version was accepted");
    }
});
