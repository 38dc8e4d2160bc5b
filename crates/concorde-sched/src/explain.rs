//! Explanations: why the resolver passed over each candidate it considered.
//!
//! The resolver is generic over an `Explainer`. `NoExplainer` has `ENABLED = false` and empty
//! inlined methods, so with it every explanation site compiles away; `RecordingExplainer`
//! keeps the events per input for `concorde debug resolve-inputs --explain` and, later, for
//! the UI's "why did this job not run".

use crate::ids::{BuildId, JobId, PinnedVersion, ResourceId, VersionDigest};
use crate::input::InputConfig;

/// Receives explanation events during a resolution.
pub trait Explainer {
    /// Whether events are wanted at all. Call sites test this constant before building
    /// anything, so a disabled explainer costs nothing.
    const ENABLED: bool;

    /// Records `event` (built lazily) about the input at `input_index`.
    fn record(&mut self, input_index: usize, event: impl FnOnce() -> ExplainEvent);
}

/// The explainer that records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExplainer;

impl Explainer for NoExplainer {
    const ENABLED: bool = false;

    #[inline(always)]
    fn record(&mut self, _input_index: usize, _event: impl FnOnce() -> ExplainEvent) {}
}

/// Keeps every event, grouped by input index.
#[derive(Clone, Debug, Default)]
pub struct RecordingExplainer {
    /// Events per input index, in the order they happened.
    pub events: Vec<Vec<ExplainEvent>>,
}

impl Explainer for RecordingExplainer {
    const ENABLED: bool = true;

    fn record(&mut self, input_index: usize, event: impl FnOnce() -> ExplainEvent) {
        if self.events.len() <= input_index {
            self.events.resize_with(input_index + 1, Vec::new);
        }
        self.events[input_index].push(event());
    }
}

/// One thing the resolver noticed about a candidate for an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExplainEvent {
    /// The resource has no scope or no usable version at all.
    NoVersions,
    /// No version matches the pin.
    PinNotFound(PinnedVersion),
    /// The version that was chosen.
    Chosen(VersionDigest),
    /// Under `version: every`, the newest version the job has consumed, which the search
    /// starts after.
    EveryStartsAfter(VersionDigest),
    /// A build's version of the input's resource is disabled.
    Disabled {
        job: JobId,
        build: BuildId,
        digest: VersionDigest,
    },
    /// A build's version differs from the input's pin.
    PinnedToAnother {
        job: JobId,
        build: BuildId,
        digest: VersionDigest,
    },
    /// A build's version is not a version of the resource's scope.
    NotAVersion {
        job: JobId,
        build: BuildId,
        digest: VersionDigest,
    },
    /// A build disagrees with the version already chosen for another input.
    ConflictsWith {
        job: JobId,
        build: BuildId,
        resource: ResourceId,
        digest: VersionDigest,
        other_input_index: usize,
        other_digest: VersionDigest,
    },
    /// A build has no usable version of the input's resource among its outputs and inputs.
    NothingUsable { job: JobId, build: BuildId },
    /// A build vouched, but the other constraints could not be met together with it.
    RestUnsatisfiable {
        job: JobId,
        build: BuildId,
        digest: VersionDigest,
    },
    /// A build would repeat the assignment that failed last, so it was skipped.
    RepeatsFailedAssignment { job: JobId, build: BuildId },
    /// A job was skipped for now so that other jobs choose first (`every` with passed).
    Deferred { job: JobId },
    /// No (further) succeeded build of a job could vouch for this input.
    NoBuildOfJob { job: JobId },
}

impl ExplainEvent {
    /// A one-line English description, naming inputs through `inputs` and versions through
    /// `version_name`.
    pub fn describe(
        &self,
        inputs: &[InputConfig],
        version_name: &dyn Fn(&VersionDigest) -> String,
    ) -> String {
        let input_name = |index: usize| {
            inputs
                .get(index)
                .map_or_else(|| format!("#{index}"), |input| input.name.0.clone())
        };
        match self {
            ExplainEvent::NoVersions => "the resource has no versions at all".to_owned(),
            ExplainEvent::PinNotFound(pin) => format!("no version matches the pin {:?}", pin.0),
            ExplainEvent::Chosen(digest) => format!("chose version {}", version_name(digest)),
            ExplainEvent::EveryStartsAfter(digest) => {
                format!(
                    "every: the job last consumed {}; looking at newer versions first",
                    version_name(digest)
                )
            }
            ExplainEvent::Disabled { job, build, digest } => {
                format!(
                    "build {build} of job {job}: version {} is disabled",
                    version_name(digest)
                )
            }
            ExplainEvent::PinnedToAnother { job, build, digest } => {
                format!(
                    "build {build} of job {job}: version {} is not the pinned version",
                    version_name(digest)
                )
            }
            ExplainEvent::NotAVersion { job, build, digest } => {
                format!(
                    "build {build} of job {job}: {} is not a known version of the resource",
                    version_name(digest)
                )
            }
            ExplainEvent::ConflictsWith {
                job,
                build,
                resource,
                digest,
                other_input_index,
                other_digest,
            } => format!(
                "build {build} of job {job}: has {} of resource {resource}, which conflicts \
                 with {} chosen for input {}",
                version_name(digest),
                version_name(other_digest),
                input_name(*other_input_index)
            ),
            ExplainEvent::NothingUsable { job, build } => format!(
                "build {build} of job {job}: the version is not an output or input of this build"
            ),
            ExplainEvent::RestUnsatisfiable { job, build, digest } => format!(
                "build {build} of job {job}: vouches for {}, but the other passed \
                 constraints cannot be met with it",
                version_name(digest)
            ),
            ExplainEvent::RepeatsFailedAssignment { job, build } => {
                format!("build {build} of job {job}: repeats the assignment that just failed")
            }
            ExplainEvent::Deferred { job } => {
                format!("job {job}: deferred so that the jobs last used choose first")
            }
            ExplainEvent::NoBuildOfJob { job } => {
                format!("job {job}: no (further) succeeded build vouches for a consistent version")
            }
        }
    }
}
