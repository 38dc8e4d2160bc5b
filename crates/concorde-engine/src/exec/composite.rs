//! Steps made of steps: `do`, `in_parallel`, `try`, `attempts`, `timeout` and the hooks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;

use crate::exec::{Exec, StepError, StepResult, run_plan};
use crate::plan::{Plan, PlanId};

/// Runs steps in order, stopping at the first that does not succeed.
pub(crate) async fn run_do(exec: &Exec, steps: &[Plan]) -> StepResult {
    for step in steps {
        let result = run_plan(exec, step).await;
        if result != Ok(true) {
            return result;
        }
    }
    Ok(true)
}

/// Runs steps concurrently, at most `limit` at once (0 = all). With `fail_fast`, the first
/// failure or error interrupts the rest; those interruptions are not errors.
pub(crate) async fn run_parallel(
    exec: &Exec,
    steps: &[Plan],
    limit: usize,
    fail_fast: bool,
) -> StepResult {
    let siblings = exec.cancel.child_token();
    let sub = exec.with_cancel(siblings.clone());
    let runs: Vec<BoxFuture<'_, StepResult>> = steps
        .iter()
        .map(|step| {
            let sub = &sub;
            let siblings = &siblings;
            Box::pin(async move {
                let result = run_plan(sub, step).await;
                if fail_fast && result != Ok(true) && result != Err(StepError::Interrupted) {
                    siblings.cancel();
                }
                result
            }) as BoxFuture<'_, StepResult>
        })
        .collect();
    let concurrency = if limit == 0 {
        steps.len().max(1)
    } else {
        limit
    };
    let results: Vec<StepResult> = futures::stream::iter(runs)
        .buffered(concurrency)
        .collect()
        .await;
    combine(exec, &results)
}

/// Combines sibling results: interrupted if the parent was, errored if any errored (messages
/// joined), else succeeded only if all succeeded.
pub(crate) fn combine(exec: &Exec, results: &[StepResult]) -> StepResult {
    if exec.cancel.is_cancelled() {
        return Err(StepError::Interrupted);
    }
    let errors: Vec<&str> = results
        .iter()
        .filter_map(|result| match result {
            Err(StepError::Errored(message)) => Some(message.as_str()),
            _ => None,
        })
        .collect();
    if !errors.is_empty() {
        return Err(StepError::Errored(errors.join("; ")));
    }
    Ok(results.iter().all(|result| *result == Ok(true)))
}

/// Succeeds whatever the step does, unless the interruption came from outside.
pub(crate) async fn run_try(exec: &Exec, step: &Plan) -> StepResult {
    match run_plan(exec, step).await {
        Err(StepError::Interrupted) if exec.cancel.is_cancelled() => Err(StepError::Interrupted),
        _ => Ok(true),
    }
}

/// Tries each attempt until one succeeds; an interruption stops retrying.
pub(crate) async fn run_retry(exec: &Exec, attempts: &[Plan]) -> StepResult {
    let mut last = Ok(false);
    for attempt in attempts {
        last = run_plan(exec, attempt).await;
        if matches!(last, Ok(true) | Err(StepError::Interrupted)) {
            return last;
        }
    }
    last
}

/// The `timeout` wrapper.
pub(crate) async fn run_timeout(exec: &Exec, step: &Plan, duration_text: &str) -> StepResult {
    let duration = match concorde_config::parse_duration(duration_text) {
        Ok(parsed) if !parsed.negative => parsed.magnitude,
        Ok(_) => {
            return Err(StepError::Errored(format!(
                "invalid duration '{duration_text}'"
            )));
        }
        Err(err) => return Err(StepError::Errored(err.to_string())),
    };
    run_with_deadline(exec, &step.id, duration, |sub| async move {
        run_plan(&sub, step).await
    })
    .await
}

/// Runs `work` with a deadline. When it expires, the work is interrupted, `timeout exceeded`
/// is reported on `id`, and the result is a failure (not an error), so `on_failure` runs.
pub(crate) async fn run_with_deadline<F, Fut>(
    exec: &Exec,
    id: &PlanId,
    duration: Duration,
    work: F,
) -> StepResult
where
    F: FnOnce(Exec) -> Fut,
    Fut: std::future::Future<Output = StepResult>,
{
    let child = exec.cancel.child_token();
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = {
        let child = child.clone();
        let timed_out = timed_out.clone();
        async move {
            tokio::time::sleep(duration).await;
            timed_out.store(true, Ordering::SeqCst);
            child.cancel();
        }
    };
    let work = work(exec.with_cancel(child));
    tokio::pin!(work);
    let result = tokio::select! {
        result = &mut work => result,
        () = timer => work.await,
    };
    if timed_out.load(Ordering::SeqCst)
        && !exec.cancel.is_cancelled()
        && result == Err(StepError::Interrupted)
    {
        exec.emit_error(id, "timeout exceeded").await;
        return Ok(false);
    }
    result
}

/// `on_success`: the hook runs after a success, and its result is the result.
pub(crate) async fn run_on_success(exec: &Exec, step: &Plan, hook: &Plan) -> StepResult {
    match run_plan(exec, step).await {
        Ok(true) => run_plan(exec, hook).await,
        other => other,
    }
}

/// `on_failure`: the hook runs after a failure; the result stays failed unless the hook errors.
pub(crate) async fn run_on_failure(exec: &Exec, step: &Plan, hook: &Plan) -> StepResult {
    match run_plan(exec, step).await {
        Ok(false) => match run_plan(exec, hook).await {
            Err(err) => Err(err),
            Ok(_) => Ok(false),
        },
        other => other,
    }
}

/// `on_error`: the hook runs, uninterrupted, after an error; the error stands.
pub(crate) async fn run_on_error(exec: &Exec, step: &Plan, hook: &Plan) -> StepResult {
    let result = run_plan(exec, step).await;
    if matches!(result, Err(StepError::Errored(_))) {
        let _ = run_plan(&exec.fresh(), hook).await;
    }
    result
}

/// `on_abort`: the hook runs, uninterrupted, when the build was aborted.
pub(crate) async fn run_on_abort(exec: &Exec, step: &Plan, hook: &Plan) -> StepResult {
    let result = run_plan(exec, step).await;
    if result == Err(StepError::Interrupted) && exec.env.abort.is_cancelled() {
        let _ = run_plan(&exec.fresh(), hook).await;
    }
    result
}

/// `ensure`: the hook always runs (uninterrupted after an abort); both must succeed.
pub(crate) async fn run_ensure(exec: &Exec, step: &Plan, hook: &Plan) -> StepResult {
    let result = run_plan(exec, step).await;
    let hook_exec = if exec.cancel.is_cancelled() {
        exec.fresh()
    } else {
        exec.clone()
    };
    let hook_result = run_plan(&hook_exec, hook).await;
    match (result, hook_result) {
        (Err(StepError::Interrupted), _) | (_, Err(StepError::Interrupted)) => {
            Err(StepError::Interrupted)
        }
        (Err(StepError::Errored(first)), Err(StepError::Errored(second))) => {
            Err(StepError::Errored(format!("{first}; {second}")))
        }
        (Err(err), _) | (_, Err(err)) => Err(err),
        (Ok(step_ok), Ok(hook_ok)) => Ok(step_ok && hook_ok),
    }
}
