//! What the resolver is asked (one `InputConfig` per `get` step) and what it answers.

use crate::ids::{BuildId, InputName, JobId, PinnedVersion, ResourceId, VersionDigest};

/// One `get` step of the job being scheduled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputConfig {
    /// The input name, unique within the job.
    pub name: InputName,
    /// The resource the step fetches.
    pub resource: ResourceId,
    /// Jobs whose succeeded builds must have vouched for the version. Kept sorted ascending
    /// and free of duplicates by `InputConfig::with_passed`.
    pub passed: Vec<JobId>,
    /// `version: every`.
    pub every: bool,
    /// The pin (from the step's `version:` or the resource's pin), if any.
    pub pin: Option<PinnedVersion>,
}

impl InputConfig {
    /// An input that takes the latest version of `resource`, with no constraints.
    pub fn latest(name: &str, resource: ResourceId) -> InputConfig {
        InputConfig {
            name: InputName(name.to_owned()),
            resource,
            passed: Vec::new(),
            every: false,
            pin: None,
        }
    }

    /// The same input with `passed` set (sorted, without duplicates).
    pub fn with_passed(mut self, passed: impl IntoIterator<Item = JobId>) -> InputConfig {
        let mut passed: Vec<JobId> = passed.into_iter().collect();
        passed.sort_unstable();
        passed.dedup();
        self.passed = passed;
        self
    }

    /// The same input with `version: every`.
    pub fn with_every(mut self) -> InputConfig {
        self.every = true;
        self
    }

    /// The same input pinned to `pin`.
    pub fn with_pin(mut self, pin: PinnedVersion) -> InputConfig {
        self.pin = Some(pin);
        self
    }
}

/// Why an input could not be resolved. The messages are Concourse's, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// No passed, no pin, not every: the resource has no scope or no enabled version.
    #[error("latest version of resource not found")]
    LatestVersionNotFound,
    /// `version: every` without passed found nothing.
    #[error("version of resource not found")]
    VersionNotFound,
    /// A pin matched no version (this input's pin or, in a group, the first failing pin).
    #[error("pinned version{} not found", pin_fields(.0))]
    PinnedVersionNotFound(PinnedVersion),
    /// The search over passed constraints found no consistent set of builds.
    #[error("no satisfiable builds from passed jobs found for set of inputs")]
    NoSatisfiableBuilds,
}

fn pin_fields(pin: &PinnedVersion) -> String {
    pin.0
        .iter()
        .map(|(key, value)| format!(" {key}:{value}"))
        .collect()
}

/// The version chosen for one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedInput {
    /// The chosen version.
    pub digest: VersionDigest,
    /// True when no build of the current job has consumed this version of this resource
    /// under this input name.
    pub first_occurrence: bool,
    /// The upstream builds that vouched for the version, one per vouch (duplicates
    /// possible). Empty for inputs without passed constraints.
    pub passed_build_ids: Vec<BuildId>,
}

/// The outcome of one resolution: a result per input config, in input order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// One entry per input config, in the order they were given.
    pub inputs: Vec<Result<ResolvedInput, InputError>>,
    /// True when a version was chosen while newer `every` material was still waiting; the
    /// scheduler then asks for another run soon.
    pub has_next: bool,
}

impl Resolution {
    /// True when every input resolved.
    pub fn ok(&self) -> bool {
        self.inputs.iter().all(Result::is_ok)
    }
}
