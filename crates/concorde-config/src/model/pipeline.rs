//! The top-level pipeline config and its plain sections: resources, resource types, groups,
//! var sources, display and jobs.

use crate::model::{JsonMap, Location, Step, VersionMap};

/// A whole pipeline config. Unknown top-level keys are dropped when decoding, as Concourse does.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pipeline {
    /// `groups`: UI tabs that partition the jobs.
    pub groups: Vec<Group>,
    /// `var_sources`: per-pipeline credential managers.
    pub var_sources: Vec<VarSource>,
    /// `resources`: the external versioned state the jobs use.
    pub resources: Vec<Resource>,
    /// `resource_types`: custom resource types.
    pub resource_types: Vec<ResourceType>,
    /// `prototypes`: the experimental prototypes used by `run` steps (same shape as types).
    pub prototypes: Vec<ResourceType>,
    /// `jobs`: at least one is required.
    pub jobs: Vec<Job>,
    /// `display`: UI decoration.
    pub display: Option<Display>,
    /// `user_data`: opaque, stored and returned verbatim.
    pub user_data: Option<serde_json::Value>,
}

/// `groups[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    /// The group's identifier.
    pub name: String,
    /// Job name globs (`*`, `?`, `[abc]`, `{a,b}`).
    pub jobs: Vec<String>,
    /// Resource names shown in the group.
    pub resources: Vec<String>,
    /// Where the group is defined.
    pub location: Location,
}

/// `var_sources[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VarSource {
    /// The source's identifier, used as `((name:var))`.
    pub name: String,
    /// The credential manager type (`vault`, `dummy`, `ssm`, ...).
    pub kind: String,
    /// The manager's configuration.
    pub config: Option<serde_json::Value>,
    /// Where the var source is defined.
    pub location: Location,
}

/// `display`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Display {
    /// An http, https or relative URL.
    pub background_image: Option<String>,
    /// A CSS filter string.
    pub background_filter: Option<String>,
    /// Where the display section is.
    pub location: Location,
}

/// How often a resource is checked: a Go duration, or `never`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckEvery {
    /// The periodic checker never checks this resource.
    Never,
    /// The text of a duration (kept as written; it may hold an unresolved `((var))`).
    Interval(String),
}

impl CheckEvery {
    /// As written: `never` or the duration's text.
    pub fn as_str(&self) -> &str {
        match self {
            CheckEvery::Never => "never",
            CheckEvery::Interval(interval) => interval,
        }
    }

    /// What `text` (as [`CheckEvery::as_str`] writes it) says.
    pub fn from_text(text: String) -> CheckEvery {
        if text == "never" {
            CheckEvery::Never
        } else {
            CheckEvery::Interval(text)
        }
    }
}

/// `resources[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    /// The resource's identifier.
    pub name: String,
    /// A previous name whose history this resource inherits.
    pub old_name: Option<String>,
    /// The resource type's name.
    pub kind: String,
    /// Passed verbatim to the resource scripts.
    pub source: Option<JsonMap>,
    /// Check interval; `None` means the web node's default.
    pub check_every: Option<CheckEvery>,
    /// Per-check timeout as a duration string.
    pub check_timeout: Option<String>,
    /// Enables the check webhook.
    pub webhook_token: Option<String>,
    /// A Material Design icon name.
    pub icon: Option<String>,
    /// A version pinned from config.
    pub version: Option<VersionMap>,
    /// Worker tags for check containers.
    pub tags: Vec<String>,
    /// Whether version metadata is public on an exposed pipeline.
    pub public: bool,
    /// Whether put steps get `BUILD_CREATED_BY`.
    pub expose_build_created_by: bool,
    /// Where the resource is defined.
    pub location: Location,
}

/// `resource_types[]` and `prototypes[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceType {
    /// The type's identifier.
    pub name: String,
    /// The type of the image resource (usually `registry-image`).
    pub kind: String,
    /// Source for fetching the image.
    pub source: Option<JsonMap>,
    /// `get` params for fetching the image.
    pub params: Option<JsonMap>,
    /// Containers of this type run privileged.
    pub privileged: bool,
    /// Interval for checking the type's image.
    pub check_every: Option<CheckEvery>,
    /// Worker tags for fetching the image.
    pub tags: Vec<String>,
    /// Source keys merged under every resource of this type.
    pub defaults: Option<JsonMap>,
    /// Where the type is defined.
    pub location: Location,
}

/// `jobs[].build_log_retention`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildLogRetention {
    /// Keep logs of this many most recent builds (0 = no limit).
    pub builds: i64,
    /// Keep at least this many succeeded builds' logs.
    pub minimum_succeeded_builds: i64,
    /// Keep logs of builds younger than this many days.
    pub days: i64,
}

/// `jobs[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Job {
    /// The job's identifier.
    pub name: String,
    /// A previous name whose build history this job inherits.
    pub old_name: Option<String>,
    /// Build logs visible without a role on an exposed pipeline.
    pub public: bool,
    /// The API refuses manual triggers.
    pub disable_manual_trigger: bool,
    /// The API refuses reruns.
    pub disable_reruns: bool,
    /// At most one build at a time.
    pub serial: bool,
    /// Worker landing does not wait for this job's builds.
    pub interruptible: bool,
    /// Jobs sharing a group name run one build at a time across the group.
    pub serial_groups: Vec<String>,
    /// Maximum concurrent builds; 0 means unlimited.
    pub max_in_flight: i64,
    /// Log retention policy.
    pub build_log_retention: Option<BuildLogRetention>,
    /// Deprecated retention: a number of builds.
    pub build_logs_to_retain: Option<i64>,
    /// Default worker tags for the job's steps.
    pub tags: Vec<String>,
    /// Job-level hook: after a successful build.
    pub on_success: Option<Box<Step>>,
    /// Job-level hook: after a failed build.
    pub on_failure: Option<Box<Step>>,
    /// Job-level hook: after an aborted build.
    pub on_abort: Option<Box<Step>>,
    /// Job-level hook: after an errored build.
    pub on_error: Option<Box<Step>>,
    /// Job-level hook: always.
    pub ensure: Option<Box<Step>>,
    /// The steps, run in sequence.
    pub plan: Vec<Step>,
    /// Where the job is defined.
    pub location: Location,
}

impl Job {
    /// The plan's steps followed by the job-level hooks, in that order.
    pub fn top_level_steps(&self) -> impl Iterator<Item = &Step> {
        let hooks = [
            &self.on_success,
            &self.on_failure,
            &self.on_abort,
            &self.on_error,
            &self.ensure,
        ];
        self.plan
            .iter()
            .chain(hooks.into_iter().filter_map(|hook| hook.as_deref()))
    }

    /// Every `get` step anywhere in the job (plan and hooks), in plan order: the job's inputs
    /// as the scheduler sees them.
    pub fn get_steps(&self) -> Vec<&crate::model::GetStep> {
        let mut gets = Vec::new();
        for step in self.top_level_steps() {
            step.for_each(&mut |inner| {
                if let crate::model::StepBody::Get(get) = &inner.body {
                    gets.push(get);
                }
            });
        }
        gets
    }

    /// How many builds of the job (together with the jobs sharing a serial group with it) may
    /// run at once: one with `serial` or `serial_groups`, else `max_in_flight`; `None` when
    /// unlimited.
    pub fn max_running_builds(&self) -> Option<i64> {
        if self.serial || !self.serial_groups.is_empty() {
            Some(1)
        } else {
            Some(self.max_in_flight).filter(|limit| *limit > 0)
        }
    }
}

impl Pipeline {
    /// The other jobs sharing a serial group with `job`: their running builds count against
    /// its limit.
    pub fn jobs_sharing_serial_groups<'a>(&'a self, job: &Job) -> Vec<&'a Job> {
        self.jobs
            .iter()
            .filter(|other| other.name != job.name)
            .filter(|other| {
                other
                    .serial_groups
                    .iter()
                    .any(|group| job.serial_groups.contains(group))
            })
            .collect()
    }

    /// The names of the jobs a `passed` entry names: a plain name matches itself; an entry with
    /// glob characters (Go's `path.Match`) is expanded against the pipeline's jobs.
    pub fn jobs_matching(&self, entry: &str) -> Vec<&str> {
        let is_glob = crate::glob::has_glob_meta(entry);
        self.jobs
            .iter()
            .filter(|job| {
                if is_glob {
                    crate::glob::path_match(entry, &job.name).unwrap_or(false)
                } else {
                    job.name == entry
                }
            })
            .map(|job| job.name.as_str())
            .collect()
    }
}
