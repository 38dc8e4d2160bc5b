//! Concourse's step semantics, run for real on the host runtime: outcomes, hooks, modifiers,
//! abort, artifacts between tasks, local vars and set_pipeline.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Harness, job, task};
use concorde_engine::{BuildStatus, PipelineSetter, SetPipelineOutcome, SetPipelineRequest};

#[tokio::test]
async fn a_task_succeeds_and_its_output_is_logged() {
    let harness = Harness::new();
    let finished = harness
        .run(1, &job(&task("hello", "echo hello world", "")), |_| {})
        .await;
    assert_eq!(finished.status, BuildStatus::Succeeded);
    assert_eq!(finished.log, "hello world\n");
    let types = finished.event_types();
    assert_eq!(types.first(), Some(&"status"));
    assert!(
        types.contains(&"initialize-task")
            && types.contains(&"start-task")
            && types.contains(&"finish-task")
    );
    assert_eq!(types.last(), Some(&"status"));
}

#[tokio::test]
async fn a_failing_task_fails_the_build_and_stops_the_plan() {
    let harness = Harness::new();
    let plan = format!(
        "{}{}",
        task("bad", "echo before; exit 3", ""),
        task("never", "echo never", "")
    );
    let finished = harness.run(1, &job(&plan), |_| {}).await;
    assert_eq!(finished.status, BuildStatus::Failed);
    assert_eq!(finished.log, "before\n");
}

#[tokio::test]
async fn outputs_become_inputs_with_mappings() {
    let harness = Harness::new();
    let plan = format!(
        "{}{}",
        task(
            "make",
            "echo artifact-content > out/file",
            "      outputs: [{name: out}]\n"
        ),
        task("use", "cat in/file", "      inputs: [{name: in}]\n")
            .replace("    config:", "    input_mapping: {in: out}\n    config:")
    );
    let finished = harness.run(1, &job(&plan), |_| {}).await;
    assert_eq!(finished.status, BuildStatus::Succeeded, "{}", finished.log);
    assert_eq!(finished.log, "artifact-content\n");
}

#[tokio::test]
async fn a_missing_input_errors_the_build() {
    let harness = Harness::new();
    let finished = harness
        .run(
            1,
            &job(&task("t", "true", "      inputs: [{name: nowhere}]\n")),
            |_| {},
        )
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    assert_eq!(finished.errors(), vec!["missing inputs: nowhere"]);
}

#[tokio::test]
async fn hooks_follow_the_outcome() {
    let harness = Harness::new();
    let with_hooks = |script: &str| {
        let mut step = task("main", script, "");
        step.push_str("    on_success: {task: s, config: {platform: linux, run: {path: sh, args: [-c, echo success-hook]}}}\n");
        step.push_str("    on_failure: {task: f, config: {platform: linux, run: {path: sh, args: [-c, echo failure-hook]}}}\n");
        step.push_str("    on_error: {task: e, config: {platform: linux, run: {path: sh, args: [-c, echo error-hook]}}}\n");
        step.push_str("    ensure: {task: en, config: {platform: linux, run: {path: sh, args: [-c, echo ensure-hook]}}}\n");
        job(&step)
    };
    let succeeded = harness.run(1, &with_hooks("true"), |_| {}).await;
    assert_eq!(succeeded.status, BuildStatus::Succeeded);
    assert_eq!(succeeded.log, "success-hook\nensure-hook\n");
    let failed = harness.run(2, &with_hooks("false"), |_| {}).await;
    assert_eq!(failed.status, BuildStatus::Failed);
    assert_eq!(failed.log, "failure-hook\nensure-hook\n");
    let errored = harness
        .run(
            3,
            &with_hooks("true").replace(
                "      platform: linux\n      run:",
                "      platform: linux\n      inputs: [{name: gone}]\n      run:",
            ),
            |_| {},
        )
        .await;
    assert_eq!(errored.status, BuildStatus::Errored);
    assert_eq!(errored.log, "error-hook\nensure-hook\n");
}

#[tokio::test]
async fn a_failing_on_success_hook_fails_the_step() {
    let harness = Harness::new();
    let mut step = task("main", "true", "");
    step.push_str("    on_success: {task: s, config: {platform: linux, run: {path: sh, args: [-c, exit 1]}}}\n");
    assert_eq!(
        harness.run(1, &job(&step), |_| {}).await.status,
        BuildStatus::Failed
    );
}

#[tokio::test]
async fn try_turns_failure_and_error_into_success() {
    let harness = Harness::new();
    let plan = "  - try: {task: f, config: {platform: linux, run: {path: sh, args: [-c, exit 1]}}}\n  - try: {task: e, config: {platform: linux, inputs: [{name: x}], run: {path: 'true'}}}\n";
    let finished = harness.run(1, &job(plan), |_| {}).await;
    assert_eq!(finished.status, BuildStatus::Succeeded);
}

#[tokio::test]
async fn attempts_retry_until_success() {
    let harness = Harness::new();
    let counter = harness.dir.path().join("count");
    let script = format!(
        "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; echo attempt $n; [ $n -ge 3 ]",
        counter.display()
    );
    let mut step = task("flaky", &script, "");
    step.push_str("    attempts: 5\n");
    let finished = harness.run(1, &job(&step), |_| {}).await;
    assert_eq!(finished.status, BuildStatus::Succeeded);
    assert_eq!(finished.log, "attempt 1\nattempt 2\nattempt 3\n");
    let mut never = task("never", "exit 1", "");
    never.push_str("    attempts: 2\n");
    assert_eq!(
        harness.run(2, &job(&never), |_| {}).await.status,
        BuildStatus::Failed
    );
}

#[tokio::test]
async fn a_timeout_fails_the_step_and_runs_on_failure() {
    let harness = Harness::new();
    let mut step = task("slow", "sleep 30", "");
    step.push_str("    timeout: 300ms\n    on_failure: {task: f, config: {platform: linux, run: {path: sh, args: [-c, echo timed-out]}}}\n");
    let started = std::time::Instant::now();
    let finished = harness.run(1, &job(&step), |_| {}).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the process was killed"
    );
    assert_eq!(finished.status, BuildStatus::Failed);
    assert_eq!(finished.errors(), vec!["timeout exceeded"]);
    assert_eq!(finished.log, "timed-out\n");
    let wrapper = "  - timeout: 200ms\n    do:\n    - {task: s, config: {platform: linux, run: {path: sleep, args: ['30']}}}\n";
    assert_eq!(
        harness.run(2, &job(wrapper), |_| {}).await.status,
        BuildStatus::Failed
    );
}

#[tokio::test]
async fn abort_interrupts_the_build_and_runs_on_abort_and_ensure() {
    let harness = Harness::new();
    let mut step = task("slow", "sleep 30", "");
    step.push_str("    on_abort: {task: a, config: {platform: linux, run: {path: sh, args: [-c, echo abort-hook]}}}\n");
    step.push_str("    ensure: {task: en, config: {platform: linux, run: {path: sh, args: [-c, echo ensure-hook]}}}\n");
    let started = std::time::Instant::now();
    let finished = harness
        .run(1, &job(&step), |env| {
            let abort = env.abort.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                abort.cancel();
            });
        })
        .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(finished.status, BuildStatus::Aborted);
    assert_eq!(finished.log, "abort-hook\nensure-hook\n");
}

#[tokio::test]
async fn in_parallel_runs_concurrently_and_fail_fast_stops_siblings() {
    let harness = Harness::new();
    let parallel = "  - in_parallel:\n    - {task: a, config: {platform: linux, run: {path: sleep, args: ['1']}}}\n    - {task: b, config: {platform: linux, run: {path: sleep, args: ['1']}}}\n    - {task: c, config: {platform: linux, run: {path: sleep, args: ['1']}}}\n";
    let started = std::time::Instant::now();
    assert_eq!(
        harness.run(1, &job(parallel), |_| {}).await.status,
        BuildStatus::Succeeded
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "ran concurrently: {:?}",
        started.elapsed()
    );
    let fail_fast = "  - in_parallel:\n      fail_fast: true\n      steps:\n      - {task: a, config: {platform: linux, run: {path: sh, args: [-c, exit 1]}}}\n      - {task: b, config: {platform: linux, run: {path: sleep, args: ['30']}}}\n";
    let started = std::time::Instant::now();
    let finished = harness.run(2, &job(fail_fast), |_| {}).await;
    assert_eq!(finished.status, BuildStatus::Failed);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "sibling was stopped"
    );
    let limited = "  - in_parallel:\n      limit: 1\n      steps:\n      - {task: a, config: {platform: linux, run: {path: sleep, args: ['0.4']}}}\n      - {task: b, config: {platform: linux, run: {path: sleep, args: ['0.4']}}}\n";
    let started = std::time::Instant::now();
    assert_eq!(
        harness.run(3, &job(limited), |_| {}).await.status,
        BuildStatus::Succeeded
    );
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "limit 1 runs one at a time"
    );
}

#[tokio::test]
async fn load_var_and_across_provide_local_vars() {
    let harness = Harness::new();
    let plan = format!(
        "{}  - load_var: names\n    file: out/names.json\n  - across:\n    - var: name\n      values: ((.:names))\n    - var: num\n      values: [1, 2]\n    task: greet\n    config:\n      platform: linux\n      run: {{path: sh, args: [-c, 'echo ((.:name))-((.:num))']}}\n",
        task(
            "make",
            "echo '[\"a\", \"b\"]' > out/names.json",
            "      outputs: [{name: out}]\n"
        )
    );
    let finished = harness.run(1, &job(&plan), |_| {}).await;
    assert_eq!(
        finished.status,
        BuildStatus::Succeeded,
        "{} {:?}",
        finished.log,
        finished.errors()
    );
    assert_eq!(finished.log, "a-1\na-2\nb-1\nb-2\n");
    assert!(finished.event_types().contains(&"across-substeps"));
}

#[tokio::test]
async fn undefined_vars_error_the_step() {
    let harness = Harness::new();
    let finished = harness
        .run(1, &job(&task("t", "echo ((missing))", "")), |_| {})
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    assert_eq!(finished.errors(), vec!["undefined vars: missing"]);
}

#[tokio::test]
async fn task_params_become_environment_and_caches_persist() {
    let harness = Harness::new();
    let step = task(
        "t",
        "echo $GREETING $COUNT; cat cache/seen 2>/dev/null; echo seen > cache/seen",
        "      params: {GREETING: hi, COUNT: 3}\n      caches: [{path: cache}]\n",
    );
    let first = harness.run(1, &job(&step), |_| {}).await;
    assert_eq!(first.log, "hi 3\n");
    let second = harness.run(2, &job(&step), |_| {}).await;
    assert_eq!(second.log, "hi 3\nseen\n");
}

#[derive(Default)]
struct RecordingSetter {
    requests: Mutex<Vec<SetPipelineRequest>>,
}

#[async_trait::async_trait]
impl PipelineSetter for RecordingSetter {
    async fn set_pipeline(
        &self,
        request: SetPipelineRequest,
    ) -> Result<SetPipelineOutcome, String> {
        let mut requests = self.requests.lock().map_err(|err| err.to_string())?;
        let unchanged = requests
            .last()
            .is_some_and(|last| last.config == request.config);
        requests.push(request);
        Ok(if unchanged {
            SetPipelineOutcome::Unchanged
        } else {
            SetPipelineOutcome::Saved
        })
    }
}

#[tokio::test]
async fn set_pipeline_validates_and_saves_with_vars() {
    let harness = Harness::new();
    // The task writing the file must not contain `((` itself, or its own config would be
    // interpolated: it writes `[[job_name]]` and turns the brackets into parentheses.
    let pipeline = "jobs:\n- name: [[job_name]]\n  plan: [{task: t, config: {platform: linux, run: {path: ls}}}]\n";
    let plan = format!(
        "{}  - set_pipeline: child\n    file: out/p.yml\n    vars: {{job_name: generated}}\n",
        task(
            "make",
            &format!(
                "printf '{}' | sed -e 's/\\[\\[/((/g' -e 's/\\]\\]/))/g' > out/p.yml",
                pipeline.replace('\n', "\\n")
            ),
            "      outputs: [{name: out}]\n"
        )
    );
    let setter = Arc::new(RecordingSetter::default());
    let finished = harness
        .run(1, &job(&plan), |env| {
            env.pipeline_setter = Some(setter.clone())
        })
        .await;
    assert_eq!(
        finished.status,
        BuildStatus::Succeeded,
        "{} {:?}",
        finished.log,
        finished.errors()
    );
    assert!(finished.log.contains("setting pipeline: child\n"));
    {
        let requests = setter.requests.lock().expect("lock");
        assert_eq!(requests[0].name, "child");
        assert_eq!(requests[0].config.jobs[0].name, "generated");
    }
    let again = harness
        .run(2, &job(&plan), |env| {
            env.pipeline_setter = Some(setter.clone())
        })
        .await;
    assert!(again.log.contains("no changes to apply."));
    let invalid = plan.replace("vars: {job_name: generated}", "vars: {job_name: ''}");
    let finished = harness
        .run(3, &job(&invalid), |env| {
            env.pipeline_setter = Some(setter.clone())
        })
        .await;
    assert_eq!(finished.status, BuildStatus::Errored);
    assert!(
        finished.errors()[0].starts_with("invalid pipeline:"),
        "{:?}",
        finished.errors()
    );
}
