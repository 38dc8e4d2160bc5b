//! The public form of a plan: the same tree with each step cut down to what is not secret
//! (names, types, resources, versions, durations), as Concourse shows it to anyone who may see
//! the build. Sources, params, vars, task configs and files never appear in it. It is what the
//! API's `GET /builds/:id/plan` answers and what `across-substeps` events carry.

use serde_json::{Map, Value as Json, json};

use crate::plan::{Plan, PlanStep, TypeImage};

impl Plan {
    /// The public form of this plan.
    pub fn public(&self) -> Json {
        let mut node = Map::new();
        node.insert("id".to_owned(), json!(self.id.0));
        if !self.attempts.is_empty() {
            node.insert("attempts".to_owned(), json!(self.attempts));
        }
        let (key, body) = public_step(&self.step);
        node.insert(key.to_owned(), body);
        Json::Object(node)
    }
}

fn public_step(step: &PlanStep) -> (&'static str, Json) {
    match step {
        PlanStep::Get(get) => {
            let mut body = resource_step(&get.name, &get.kind, get.resource.as_deref(), &get.image);
            if let Some(version) = &get.version {
                body.insert("version".to_owned(), json!(version));
            }
            ("get", Json::Object(body))
        }
        PlanStep::Put(put) => {
            let body = resource_step(&put.name, &put.kind, Some(&put.resource), &put.image);
            ("put", Json::Object(body))
        }
        PlanStep::Task(task) => (
            "task",
            json!({"name": task.name, "privileged": task.privileged, "hermetic": false}),
        ),
        PlanStep::SetPipeline(set) => (
            "set_pipeline",
            json!({"name": set.name, "team": set.team, "instance_vars": set.instance_vars}),
        ),
        PlanStep::LoadVar(load) => ("load_var", json!({"name": load.name})),
        PlanStep::ArtifactInput(input) => (
            "artifact_input",
            json!({"artifact_id": input.artifact_id, "name": input.name}),
        ),
        PlanStep::ArtifactOutput(output) => ("artifact_output", json!({"name": output.name})),
        PlanStep::Do(steps) => ("do", public_list(steps)),
        PlanStep::Retry(steps) => ("retry", public_list(steps)),
        PlanStep::InParallel(parallel) => {
            let mut body = Map::new();
            body.insert("steps".to_owned(), public_list(&parallel.steps));
            if parallel.limit > 0 {
                body.insert("limit".to_owned(), json!(parallel.limit));
            }
            if parallel.fail_fast {
                body.insert("fail_fast".to_owned(), json!(true));
            }
            ("in_parallel", Json::Object(body))
        }
        PlanStep::Across(across) => {
            let vars: Vec<Json> = across
                .vars
                .iter()
                .map(|var| json!({"name": var.name}))
                .collect();
            let mut body = Map::new();
            body.insert("vars".to_owned(), Json::Array(vars));
            if across.fail_fast {
                body.insert("fail_fast".to_owned(), json!(true));
            }
            ("across", Json::Object(body))
        }
        PlanStep::Try(inner) => ("try", json!({"step": inner.step.public()})),
        PlanStep::Timeout(inner) => (
            "timeout",
            json!({"step": inner.step.public(), "duration": inner.duration}),
        ),
        PlanStep::OnSuccess(hook) => hook_step("on_success", &hook.step, &hook.on_success),
        PlanStep::OnFailure(hook) => hook_step("on_failure", &hook.step, &hook.on_failure),
        PlanStep::OnError(hook) => hook_step("on_error", &hook.step, &hook.on_error),
        PlanStep::OnAbort(hook) => hook_step("on_abort", &hook.step, &hook.on_abort),
        PlanStep::Ensure(hook) => hook_step("ensure", &hook.step, &hook.ensure),
    }
}

fn resource_step(
    name: &str,
    kind: &str,
    resource: Option<&str>,
    image: &TypeImage,
) -> Map<String, Json> {
    let mut body = Map::new();
    body.insert("name".to_owned(), json!(name));
    body.insert("type".to_owned(), json!(kind));
    if let Some(resource) = resource {
        body.insert("resource".to_owned(), json!(resource));
    }
    if let Some(get_plan) = &image.get_plan {
        body.insert("image_get_plan".to_owned(), get_plan.public());
    }
    body
}

fn public_list(steps: &[Plan]) -> Json {
    Json::Array(steps.iter().map(Plan::public).collect())
}

fn hook_step(key: &'static str, step: &Plan, hook: &Plan) -> (&'static str, Json) {
    let mut body = Map::new();
    body.insert("step".to_owned(), step.public());
    body.insert(key.to_owned(), hook.public());
    (key, Json::Object(body))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use concorde_config::vars::StaticVars;
    use concorde_config::{UnknownKeys, load_pipeline};

    use crate::compile_job_plan;

    #[test]
    fn the_public_plan_keeps_names_and_drops_sources_params_and_configs() {
        let yaml = "
resource_types:
- name: custom
  type: registry-image
  source: {repository: example/custom, password: type-secret}
resources:
- name: repo
  type: custom
  source: {uri: x, private_key: source-secret}
jobs:
- name: job
  plan:
  - get: repo
    params: {token: get-secret}
  - across:
    - var: v
      values: [a, b]
    do:
    - task: t
      params: {TOKEN: task-secret}
      config:
        platform: linux
        params: {OTHER: config-secret}
        run: {path: sh, args: [-c, 'echo ((.:v)) args-secret']}
  - put: repo
    params: {message: put-secret}
";
        let pipeline = load_pipeline(yaml.as_bytes(), &StaticVars::default(), UnknownKeys::Reject)
            .unwrap()
            .pipeline;
        let versions = BTreeMap::from([(
            "repo".to_owned(),
            BTreeMap::from([("ref".to_owned(), "abc".to_owned())]),
        )]);
        let plan = compile_job_plan(&pipeline, &pipeline.jobs[0], &versions).unwrap();
        let private = serde_json::to_string(&plan).unwrap();
        assert!(
            private.contains("source-secret"),
            "the private plan has them"
        );
        let public = plan.public().to_string();
        for secret in ["secret", "\"source\"", "\"params\"", "\"config\""] {
            assert!(!public.contains(secret), "{secret} in {public}");
        }
        let steps = &plan.public()["do"];
        assert_eq!(steps[0]["get"]["name"], "repo");
        assert_eq!(steps[0]["get"]["type"], "custom");
        assert_eq!(steps[0]["get"]["version"]["ref"], "abc");
        assert_eq!(
            steps[0]["get"]["image_get_plan"]["get"]["type"],
            "registry-image"
        );
        assert_eq!(steps[1]["across"]["vars"][0]["name"], "v");
    }
}
