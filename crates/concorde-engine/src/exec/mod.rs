//! Running a plan: Concourse's outcome semantics for every kind of step.
//!
//! A step returns `Ok(true)` (succeeded), `Ok(false)` (failed) or an error: errored, or
//! interrupted (its cancellation token fired: an abort, a timeout, or a `fail_fast` sibling).
//! Wrappers decide what an interruption means; the build maps the final result to a status.

mod across;
mod artifacts;
mod composite;
mod files;
mod get;
mod load_var;
mod place;
mod put;
pub(crate) mod script;
mod set_pipeline;
mod stream;
mod task;

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::env::RunEnv;
use concorde_core::EventKind;

use crate::event::{BuildEvent, Origin, now_unix};
use crate::plan::{Plan, PlanId, PlanStep};
use crate::scope::VarScope;

pub(crate) use files::read_artifact_file;
pub(crate) use get::fetch_image;
pub(crate) use place::place_step;
pub(crate) use stream::volume_on;

/// Why a step did not finish normally.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// Something went wrong that is not the step's own failure.
    #[error("{0}")]
    Errored(String),
    /// The step's cancellation token fired.
    #[error("interrupted")]
    Interrupted,
}

/// A step's result: `Ok(succeeded)` or why it did not finish.
pub type StepResult = Result<bool, StepError>;

/// What a step runs with.
#[derive(Clone)]
pub(crate) struct Exec {
    pub env: Arc<RunEnv>,
    pub cancel: CancellationToken,
    pub scope: Arc<VarScope>,
}

impl Exec {
    pub async fn emit(&self, event: BuildEvent) {
        self.env.events.emit(event).await;
    }

    pub async fn emit_error(&self, id: &PlanId, message: impl Into<String>) {
        self.emit(BuildEvent::Error {
            origin: Origin::step(id),
            message: message.into(),
            time: now_unix(),
        })
        .await;
    }

    pub async fn emit_lifecycle(&self, id: &PlanId, kind: EventKind) {
        self.emit(BuildEvent::Lifecycle {
            kind,
            origin: Origin::step(id),
            time: now_unix(),
        })
        .await;
    }

    pub fn with_cancel(&self, cancel: CancellationToken) -> Exec {
        Exec {
            cancel,
            ..self.clone()
        }
    }

    pub fn with_scope(&self, scope: Arc<VarScope>) -> Exec {
        Exec {
            scope,
            ..self.clone()
        }
    }

    /// A context for hooks that must run even after an abort.
    pub fn fresh(&self) -> Exec {
        self.with_cancel(CancellationToken::new())
    }

    pub fn vars(&self) -> crate::scope::StepVars<'_> {
        crate::scope::StepVars {
            scope: &self.scope,
            credentials: self.env.credentials.as_ref(),
        }
    }
}

/// Runs one plan node.
pub(crate) fn run_plan<'a>(exec: &'a Exec, plan: &'a Plan) -> BoxFuture<'a, StepResult> {
    Box::pin(async move {
        if exec.cancel.is_cancelled() {
            return Err(StepError::Interrupted);
        }
        let result = match &plan.step {
            PlanStep::Get(get) => get::run_get(exec, &plan.id, get)
                .await
                .map(|fetched| fetched.is_some()),
            PlanStep::Put(put) => put::run_put(exec, &plan.id, put).await,
            PlanStep::Task(task) => task::run_task(exec, &plan.id, task).await,
            PlanStep::SetPipeline(set) => set_pipeline::run_set_pipeline(exec, &plan.id, set).await,
            PlanStep::LoadVar(load) => load_var::run_load_var(exec, &plan.id, load).await,
            PlanStep::Do(steps) => composite::run_do(exec, steps).await,
            PlanStep::InParallel(parallel) => {
                composite::run_parallel(exec, &parallel.steps, parallel.limit, parallel.fail_fast)
                    .await
            }
            PlanStep::Across(across) => across::run_across(exec, &plan.id, across).await,
            PlanStep::Try(inner) => composite::run_try(exec, &inner.step).await,
            PlanStep::Timeout(timeout) => {
                composite::run_timeout(exec, &timeout.step, &timeout.duration).await
            }
            PlanStep::Retry(attempts) => composite::run_retry(exec, attempts).await,
            PlanStep::OnSuccess(hook) => {
                composite::run_on_success(exec, &hook.step, &hook.on_success).await
            }
            PlanStep::OnFailure(hook) => {
                composite::run_on_failure(exec, &hook.step, &hook.on_failure).await
            }
            PlanStep::OnError(hook) => {
                composite::run_on_error(exec, &hook.step, &hook.on_error).await
            }
            PlanStep::OnAbort(hook) => {
                composite::run_on_abort(exec, &hook.step, &hook.on_abort).await
            }
            PlanStep::Ensure(hook) => composite::run_ensure(exec, &hook.step, &hook.ensure).await,
            PlanStep::ArtifactInput(input) => artifacts::run_artifact_input(exec, input).await,
            PlanStep::ArtifactOutput(output) => artifacts::run_artifact_output(exec, output).await,
        };
        if let Err(StepError::Errored(message)) = &result
            && is_leaf(&plan.step)
        {
            exec.emit_error(&plan.id, message.clone()).await;
        }
        result
    })
}

/// Steps that report their own errors (wrappers pass their inner step's through).
fn is_leaf(step: &PlanStep) -> bool {
    matches!(
        step,
        PlanStep::Get(_)
            | PlanStep::Put(_)
            | PlanStep::Task(_)
            | PlanStep::SetPipeline(_)
            | PlanStep::LoadVar(_)
            | PlanStep::ArtifactInput(_)
            | PlanStep::ArtifactOutput(_)
    )
}

/// Runs `work` under a step-level `timeout` field (get, put, task): on expiry the work is
/// interrupted, `timeout exceeded` is reported, and the step fails.
pub(crate) async fn with_step_timeout<F, Fut>(
    exec: &Exec,
    id: &PlanId,
    timeout: Option<&str>,
    work: F,
) -> StepResult
where
    F: FnOnce(Exec) -> Fut,
    Fut: std::future::Future<Output = StepResult>,
{
    let Some(text) = timeout else {
        return work(exec.clone()).await;
    };
    let duration = match concorde_config::parse_duration(text) {
        Ok(parsed) if !parsed.negative => parsed.magnitude,
        Ok(_) => {
            return Err(StepError::Errored(format!(
                "parse timeout: negative duration \"{text}\""
            )));
        }
        Err(err) => return Err(StepError::Errored(format!("parse timeout: {err}"))),
    };
    composite::run_with_deadline(exec, id, duration, work).await
}
