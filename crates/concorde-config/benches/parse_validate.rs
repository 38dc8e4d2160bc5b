//! Benchmark: parse, decode and validate a generated 2,000-line pipeline (target: under 20 ms).
//!
//! Run with `cargo bench -p concorde-config`. Prints the median and the fastest of many runs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use concorde_config::vars::StaticVars;
use concorde_config::{UnknownKeys, load_pipeline, validate_pipeline};

/// A pipeline shaped like real ones: git resources, jobs chained by `passed`, tasks with
/// inline configs, hooks and parallel steps.
fn generated_pipeline(target_lines: usize) -> String {
    let mut yaml = String::from("resources:\n");
    let jobs = target_lines.div_ceil(35);
    for index in 0..jobs {
        let _ = write!(
            yaml,
            "- name: repo-{index}\n  type: git\n  icon: github\n  source:\n    uri: https://example.com/repo-{index}.git\n    branch: main\n"
        );
    }
    yaml.push_str("jobs:\n");
    for index in 0..jobs {
        let passed = if index == 0 {
            String::new()
        } else {
            format!("\n      passed: [job-{}]", index - 1)
        };
        let previous_get = if index == 0 {
            String::new()
        } else {
            format!(
                "\n  - get: repo-{}\n    trigger: true\n    passed: [job-{}]",
                index - 1,
                index - 1
            )
        };
        let _ = write!(
            yaml,
            "- name: job-{index}\n  serial: true\n  plan:\n  - in_parallel:\n    - get: repo-{index}\n      trigger: true{passed}\n    - get: repo-{next}\n  {previous_get}\n  - task: unit\n    attempts: 2\n    timeout: 1h\n    config:\n      platform: linux\n      image_resource:\n        type: registry-image\n        source: {{repository: busybox}}\n      inputs:\n      - name: repo-{index}\n      params:\n        FOO: bar\n      run:\n        path: sh\n        args: [-c, 'echo hi']\n    on_failure:\n      put: repo-{index}\n      params: {{repository: repo-{index}}}\n",
            next = (index + 1) % jobs,
        );
    }
    yaml
}

fn main() {
    let yaml = generated_pipeline(2_000);
    let lines = yaml.lines().count();
    let vars = StaticVars::default();
    let run = || {
        let loaded = load_pipeline(yaml.as_bytes(), &vars, UnknownKeys::Ignore)
            .expect("generated pipeline loads");
        let diagnostics = validate_pipeline(&loaded.pipeline);
        assert!(
            diagnostics
                .iter()
                .all(|d| d.severity == concorde_config::Severity::Warning),
            "generated pipeline is valid: {diagnostics:?}"
        );
    };
    for _ in 0..5 {
        run();
    }
    let mut samples: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    samples.sort();
    println!(
        "parse+validate {lines}-line pipeline: median {:.2} ms, fastest {:.2} ms (target < 20 ms)",
        samples[samples.len() / 2].as_secs_f64() * 1e3,
        samples[0].as_secs_f64() * 1e3
    );
}
