//! Steps of a job's plan: the core steps and the wrappers (hooks, `across`, `attempts`,
//! `timeout`) that Concourse's parse order builds around them.

use crate::model::{JsonMap, Location, TaskConfig, VersionMap};

/// One step as written in the plan: a core step, possibly inside wrappers.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What the step does.
    pub body: StepBody,
    /// Keys of the step's YAML map that no step type consumed, sorted. The validator reports
    /// them as `unknown fields [...]`.
    pub unknown_fields: Vec<String>,
    /// Where the step's map starts.
    pub location: Location,
}

/// The kinds of step, wrappers included. Wrappers own the step they wrap.
#[derive(Clone, Debug, PartialEq)]
pub enum StepBody {
    /// `get`.
    Get(GetStep),
    /// `put`.
    Put(PutStep),
    /// `task`.
    Task(TaskStep),
    /// `set_pipeline`.
    SetPipeline(SetPipelineStep),
    /// `load_var`.
    LoadVar(LoadVarStep),
    /// `in_parallel`.
    InParallel(InParallelStep),
    /// `do`.
    Do(DoStep),
    /// `try`.
    Try(TryStep),
    /// `run` (experimental prototypes).
    Run(RunStep),
    /// A `timeout` wrapper (on steps that have no `timeout` field of their own).
    Timeout(TimeoutStep),
    /// `attempts`.
    Retry(RetryStep),
    /// `across`.
    Across(AcrossStep),
    /// `on_success`, `on_failure`, `on_abort`, `on_error` or `ensure`.
    Hook(HookStep),
}

/// `get`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GetStep {
    /// The artifact name.
    pub name: String,
    /// The resource; `None` means the same as `name`.
    pub resource: Option<String>,
    /// Jobs (or globs) whose succeeded builds the version must have gone through.
    pub passed: Vec<String>,
    /// New versions trigger builds.
    pub trigger: bool,
    /// Which version to fetch.
    pub version: Option<GetVersion>,
    /// Params for the resource's `in`.
    pub params: Option<JsonMap>,
    /// Worker tags.
    pub tags: Vec<String>,
    /// Step timeout, as written.
    pub timeout: Option<String>,
}

impl GetStep {
    /// The resource this step fetches.
    pub fn resource_name(&self) -> &str {
        self.resource.as_deref().unwrap_or(&self.name)
    }
}

/// `get.version`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetVersion {
    /// The newest version (the default).
    Latest,
    /// Every version, one build each.
    Every,
    /// One specific version (possibly partial).
    Pinned(VersionMap),
}

/// `put.inputs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutInputs {
    /// Every artifact of the build.
    All,
    /// Artifacts named by the first path segment of string params (the default).
    Detect,
    /// Exactly these artifacts.
    List(Vec<String>),
}

/// `put`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PutStep {
    /// The step name, also the implicit get's artifact name.
    pub name: String,
    /// The resource; `None` means the same as `name`.
    pub resource: Option<String>,
    /// Params for the resource's `out`.
    pub params: Option<JsonMap>,
    /// Which artifacts to mount.
    pub inputs: Option<PutInputs>,
    /// Params for the implicit get.
    pub get_params: Option<JsonMap>,
    /// Skip the implicit get.
    pub no_get: bool,
    /// Worker tags.
    pub tags: Vec<String>,
    /// Step timeout, as written.
    pub timeout: Option<String>,
}

impl PutStep {
    /// The resource this step writes to.
    pub fn resource_name(&self) -> &str {
        self.resource.as_deref().unwrap_or(&self.name)
    }
}

/// `task`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskStep {
    /// The task's name.
    pub name: String,
    /// `file`: `<artifact>/<path>` of a task config.
    pub file: Option<String>,
    /// `config`: an inline task config.
    pub config: Option<TaskConfig>,
    /// `image`: an artifact to use as the rootfs.
    pub image: Option<String>,
    /// Run the container privileged.
    pub privileged: bool,
    /// Env overrides for the config's params.
    pub params: Option<JsonMap>,
    /// Static vars for a `file:` config.
    pub vars: Option<JsonMap>,
    /// Task input name to build artifact name.
    pub input_mapping: Option<std::collections::BTreeMap<String, String>>,
    /// Task output name to build artifact name.
    pub output_mapping: Option<std::collections::BTreeMap<String, String>>,
    /// CPU and memory overrides.
    pub container_limits: Option<crate::model::ContainerLimits>,
    /// No outbound network (containerd only).
    pub hermetic: bool,
    /// Worker tags.
    pub tags: Vec<String>,
    /// Step timeout, as written.
    pub timeout: Option<String>,
}

/// `set_pipeline`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetPipelineStep {
    /// The pipeline name, or `self`.
    pub name: String,
    /// `<artifact>/<path>` of the config.
    pub file: Option<String>,
    /// Static vars.
    pub vars: Option<JsonMap>,
    /// `<artifact>/<path>` var files.
    pub var_files: Vec<String>,
    /// Target team.
    pub team: Option<String>,
    /// Instance vars of an instanced pipeline.
    pub instance_vars: Option<JsonMap>,
}

/// `load_var`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadVarStep {
    /// The local var's name.
    pub name: String,
    /// `<artifact>/<path>` of the file.
    pub file: Option<String>,
    /// `json`, `yaml`, `yml`, `trim` or `raw`; `None` means from the extension.
    pub format: Option<String>,
    /// Show the value in build logs.
    pub reveal: bool,
}

/// `in_parallel`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InParallelStep {
    /// The steps.
    pub steps: Vec<Step>,
    /// At most this many at once; `None` or below 1 means unlimited.
    pub limit: Option<i64>,
    /// Cancel the rest after the first failure.
    pub fail_fast: bool,
    /// Whether the list form (`in_parallel: [...]`) was used; kept so formatting round-trips.
    pub list_form: bool,
    /// Default worker tags for the nested steps.
    pub tags: Vec<String>,
}

/// `do`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DoStep {
    /// The steps, run in sequence.
    pub steps: Vec<Step>,
    /// Default worker tags for the nested steps.
    pub tags: Vec<String>,
}

/// `try`.
#[derive(Clone, Debug, PartialEq)]
pub struct TryStep {
    /// The step whose failure is ignored.
    pub step: Box<Step>,
}

/// `run` (experimental).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStep {
    /// The message sent to the prototype.
    pub message: String,
    /// The prototype's name.
    pub prototype: String,
    /// Params for the prototype.
    pub params: Option<JsonMap>,
    /// Run privileged.
    pub privileged: bool,
    /// Worker tags.
    pub tags: Vec<String>,
    /// CPU and memory limits.
    pub container_limits: Option<crate::model::ContainerLimits>,
    /// Step timeout, as written.
    pub timeout: Option<String>,
}

/// A `timeout` wrapper.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeoutStep {
    /// The wrapped step.
    pub step: Box<Step>,
    /// The duration, as written.
    pub duration: String,
}

/// `attempts`.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryStep {
    /// The wrapped step.
    pub step: Box<Step>,
    /// How many times to try; must be above 0.
    pub attempts: i64,
}

/// `across[].max_in_flight`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaxInFlight {
    /// `all`: every value at once.
    All,
    /// A number of values at once.
    Count(i64),
}

/// `across[].values`.
#[derive(Clone, Debug, PartialEq)]
pub enum AcrossValues {
    /// A literal list.
    List(Vec<serde_json::Value>),
    /// A `((var))` resolved at run time to a list.
    Var(String),
}

/// One `across` var.
#[derive(Clone, Debug, PartialEq)]
pub struct AcrossVar {
    /// The local var's name.
    pub var: String,
    /// Its values.
    pub values: AcrossValues,
    /// Parallelism for this var; `None` means 1.
    pub max_in_flight: Option<MaxInFlight>,
    /// Where the var entry is.
    pub location: Location,
}

/// `across`.
#[derive(Clone, Debug, PartialEq)]
pub struct AcrossStep {
    /// The wrapped step.
    pub step: Box<Step>,
    /// The vars; the cartesian product of their values is run.
    pub vars: Vec<AcrossVar>,
    /// Cancel the rest after the first failure.
    pub fail_fast: bool,
}

/// Which hook a [`HookStep`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// `ensure`: always runs.
    Ensure,
    /// `on_error`: runs when the step errored.
    OnError,
    /// `on_abort`: runs when the build was aborted.
    OnAbort,
    /// `on_failure`: runs when the step failed.
    OnFailure,
    /// `on_success`: runs when the step succeeded.
    OnSuccess,
}

impl HookKind {
    /// Hooks in Concourse's parse precedence, outermost first.
    pub const ALL: [HookKind; 5] = [
        HookKind::Ensure,
        HookKind::OnError,
        HookKind::OnAbort,
        HookKind::OnFailure,
        HookKind::OnSuccess,
    ];

    /// The YAML key.
    pub fn key(self) -> &'static str {
        match self {
            HookKind::Ensure => "ensure",
            HookKind::OnError => "on_error",
            HookKind::OnAbort => "on_abort",
            HookKind::OnFailure => "on_failure",
            HookKind::OnSuccess => "on_success",
        }
    }
}

/// A hook around a step.
#[derive(Clone, Debug, PartialEq)]
pub struct HookStep {
    /// Which hook.
    pub kind: HookKind,
    /// The step the hook watches.
    pub step: Box<Step>,
    /// The hook itself.
    pub hook: Box<Step>,
}

impl Step {
    /// Calls `visit` on this step and every step nested in it (wrapped steps and hooks).
    pub fn for_each<'a>(&'a self, visit: &mut dyn FnMut(&'a Step)) {
        visit(self);
        match &self.body {
            StepBody::InParallel(parallel) => parallel.steps.iter().for_each(|s| s.for_each(visit)),
            StepBody::Do(sequence) => sequence.steps.iter().for_each(|s| s.for_each(visit)),
            StepBody::Try(inner) => inner.step.for_each(visit),
            StepBody::Timeout(inner) => inner.step.for_each(visit),
            StepBody::Retry(inner) => inner.step.for_each(visit),
            StepBody::Across(inner) => inner.step.for_each(visit),
            StepBody::Hook(hook) => {
                hook.step.for_each(visit);
                hook.hook.for_each(visit);
            }
            StepBody::Get(_)
            | StepBody::Put(_)
            | StepBody::Task(_)
            | StepBody::SetPipeline(_)
            | StepBody::LoadVar(_)
            | StepBody::Run(_) => {}
        }
    }
}
