//! `across`: the wrapped step once per combination of var values, with nested parallelism.

use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use concorde_config::vars::{Missing, interpolate_json};

use crate::event::{BuildEvent, Origin, now_unix};
use crate::exec::composite::combine;
use crate::exec::{Exec, StepError, StepResult, run_plan};
use crate::plan::{AcrossPlan, Plan, PlanId};
use crate::scope::VarScope;

pub(crate) async fn run_across(exec: &Exec, id: &PlanId, across: &AcrossPlan) -> StepResult {
    let mut value_lists = Vec::with_capacity(across.vars.len());
    for var in &across.vars {
        let mut values = var.values.clone();
        interpolate_json(&mut values, &exec.vars(), Missing::Error)
            .map_err(|err| StepError::Errored(err.to_string()))?;
        match values {
            Json::Array(list) => value_lists.push(list),
            other => {
                return Err(StepError::Errored(format!(
                    "across var '{}' values must be a list, got {other}",
                    var.name
                )));
            }
        }
    }
    let combinations = cartesian(&value_lists);
    let substeps: Vec<Plan> = (0..combinations.len())
        .map(|index| with_id_suffix(&across.substep_template, &format!("/{index}")))
        .collect();
    let substeps_json: Vec<Json> = substeps
        .iter()
        .zip(&combinations)
        .map(|(plan, values)| serde_json::json!({"step": plan.public(), "values": values}))
        .collect();
    exec.emit(BuildEvent::AcrossSubsteps {
        origin: Origin::step(id),
        substeps: Json::Array(substeps_json),
        time: now_unix(),
    })
    .await;
    let failed_fast = exec.cancel.child_token();
    let run = AcrossRun {
        exec: exec.with_cancel(failed_fast.clone()),
        across,
        value_lists: &value_lists,
        substeps: &substeps,
        failed_fast,
    };
    let results = run.level(0, 0, Vec::new()).await;
    combine(exec, &results)
}

struct AcrossRun<'a> {
    exec: Exec,
    across: &'a AcrossPlan,
    value_lists: &'a [Vec<Json>],
    substeps: &'a [Plan],
    failed_fast: CancellationToken,
}

impl AcrossRun<'_> {
    /// Runs every value of var `level`; `offset` is the index of the first combination below.
    fn level(
        &self,
        level: usize,
        offset: usize,
        chosen: Vec<Json>,
    ) -> BoxFuture<'_, Vec<StepResult>> {
        Box::pin(async move {
            let Some(values) = self.value_lists.get(level) else {
                return vec![self.leaf(offset, chosen).await];
            };
            let below: usize = self.value_lists[level + 1..].iter().map(Vec::len).product();
            let concurrency = match self.across.vars[level].max_in_flight {
                0 => values.len().max(1),
                limit => limit,
            };
            let runs: Vec<BoxFuture<'_, Vec<StepResult>>> = values
                .iter()
                .enumerate()
                .map(|(index, value)| {
                    let mut chosen = chosen.clone();
                    chosen.push(value.clone());
                    self.level(level + 1, offset + index * below, chosen)
                })
                .collect();
            let nested: Vec<Vec<StepResult>> = futures::stream::iter(runs)
                .buffered(concurrency)
                .collect()
                .await;
            nested.into_iter().flatten().collect()
        })
    }

    async fn leaf(&self, index: usize, values: Vec<Json>) -> StepResult {
        let scope = VarScope::child(&self.exec.scope);
        for (var, value) in self.across.vars.iter().zip(values) {
            scope.set(&var.name, value, true);
        }
        let result = run_plan(&self.exec.with_scope(scope), &self.substeps[index]).await;
        if self.across.fail_fast && result != Ok(true) && result != Err(StepError::Interrupted) {
            self.failed_fast.cancel();
        }
        result
    }
}

/// Every combination, the last var varying fastest.
fn cartesian(lists: &[Vec<Json>]) -> Vec<Vec<Json>> {
    lists.iter().fold(vec![Vec::new()], |combinations, list| {
        combinations
            .iter()
            .flat_map(|prefix| {
                list.iter().map(move |value| {
                    let mut next = prefix.clone();
                    next.push(value.clone());
                    next
                })
            })
            .collect()
    })
}

/// A copy of `plan` whose ids (at every depth) end with `suffix`, so events of different
/// combinations have different origins.
fn with_id_suffix(plan: &Plan, suffix: &str) -> Plan {
    let mut copy = plan.clone();
    copy.for_each_id_mut(&mut |id| id.0.push_str(suffix));
    copy
}
