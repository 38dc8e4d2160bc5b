//! The entry point: split a job's inputs into resolvers, run each, and assemble the result
//! (SEMANTICS 3, 4 and 6).

use crate::explain::{ExplainEvent, Explainer, NoExplainer};
use crate::group::resolve_group;
use crate::ids::{BuildId, JobId, VersionDigest};
use crate::input::{InputConfig, InputError, Resolution, ResolvedInput};
use crate::view::VersionsView;

/// Chooses the versions for the next build of `current_job`, one per input config.
///
/// Errors are view failures only; an input that cannot be resolved gets its `InputError` in
/// the returned `Resolution`.
pub fn resolve_inputs<V: VersionsView>(
    view: &V,
    current_job: JobId,
    inputs: &[InputConfig],
) -> Result<Resolution, V::Error> {
    resolve_inputs_explained(view, current_job, inputs, &mut NoExplainer)
}

/// `resolve_inputs`, telling `explainer` why candidates were passed over.
pub fn resolve_inputs_explained<V: VersionsView, X: Explainer>(
    view: &V,
    current_job: JobId,
    inputs: &[InputConfig],
    explainer: &mut X,
) -> Result<Resolution, V::Error> {
    let mut outcomes: Vec<Result<Chosen, InputError>> =
        vec![Err(InputError::NoSatisfiableBuilds); inputs.len()];
    let mut has_next = false;
    let mut groups: Vec<Group> = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        if input.passed.is_empty() {
            let outcome = resolve_single(view, current_job, input, index, explainer)?;
            if let Ok(chosen) = &outcome {
                has_next |= chosen.has_next;
            }
            outcomes[index] = outcome;
            continue;
        }
        // Concourse picks among overlapping groups by map order; the first-created group is
        // our deterministic choice.
        let joined = groups.iter_mut().find(|group| {
            input
                .passed
                .iter()
                .any(|job| group.jobs.binary_search(job).is_ok())
        });
        match joined {
            Some(group) => {
                group.members.push(index);
                group.jobs.extend(&input.passed);
                group.jobs.sort_unstable();
                group.jobs.dedup();
            }
            None => groups.push(Group {
                jobs: input.passed.clone(),
                members: vec![index],
            }),
        }
    }
    for group in &groups {
        match resolve_group(view, current_job, inputs, &group.members, explainer)? {
            Ok(choices) => {
                for (&index, choice) in group.members.iter().zip(choices) {
                    has_next |= choice.has_next;
                    outcomes[index] = Ok(Chosen {
                        digest: choice.digest,
                        sources: choice.sources,
                        has_next: choice.has_next,
                    });
                }
            }
            Err(error) => {
                for &index in &group.members {
                    outcomes[index] = Err(error.clone());
                }
            }
        }
    }
    let mut results = Vec::with_capacity(inputs.len());
    for (input, outcome) in inputs.iter().zip(outcomes) {
        results.push(match outcome {
            Ok(chosen) => {
                let consumed =
                    view.has_consumed_as(current_job, &input.name, input.resource, &chosen.digest)?;
                Ok(ResolvedInput {
                    digest: chosen.digest,
                    first_occurrence: !consumed,
                    passed_build_ids: chosen.sources,
                })
            }
            Err(error) => Err(error),
        });
    }
    Ok(Resolution {
        inputs: results,
        has_next,
    })
}

/// Inputs with passed constraints that share jobs, in input order.
struct Group {
    /// Every job of every member, sorted.
    jobs: Vec<JobId>,
    members: Vec<usize>,
}

/// A version chosen by one resolver, before first occurrence is known.
#[derive(Clone, Debug)]
struct Chosen {
    digest: VersionDigest,
    sources: Vec<BuildId>,
    has_next: bool,
}

/// Resolves an input without passed constraints: pinned, every, or latest (SEMANTICS 4).
fn resolve_single<V: VersionsView, X: Explainer>(
    view: &V,
    current_job: JobId,
    input: &InputConfig,
    index: usize,
    explainer: &mut X,
) -> Result<Result<Chosen, InputError>, V::Error> {
    let chosen = |digest: VersionDigest, has_next: bool| Chosen {
        digest,
        sources: Vec::new(),
        has_next,
    };
    let outcome = if let Some(pin) = &input.pin {
        match view.version_containing(input.resource, pin)? {
            Some(version) => Ok(chosen(version.digest, false)),
            None => {
                explainer.record(index, || ExplainEvent::PinNotFound(pin.clone()));
                Err(InputError::PinnedVersionNotFound(pin.clone()))
            }
        }
    } else if input.every {
        resolve_every(view, current_job, input, index, explainer)?
            .map(|(digest, has_next)| chosen(digest, has_next))
    } else {
        match view.latest_enabled_version(input.resource, None)? {
            Some(version) => Ok(chosen(version.digest, false)),
            None => {
                explainer.record(index, || ExplainEvent::NoVersions);
                Err(InputError::LatestVersionNotFound)
            }
        }
    };
    if let Ok(chosen) = &outcome {
        explainer.record(index, || ExplainEvent::Chosen(chosen.digest.clone()));
    }
    Ok(outcome)
}

/// `version: every` without passed: one version past the newest the job consumed (4.3).
fn resolve_every<V: VersionsView, X: Explainer>(
    view: &V,
    current_job: JobId,
    input: &InputConfig,
    index: usize,
    explainer: &mut X,
) -> Result<Result<(VersionDigest, bool), InputError>, V::Error> {
    let Some(consumed) = view.newest_consumed_version(current_job, input.resource)? else {
        return Ok(match view.latest_enabled_version(input.resource, None)? {
            Some(version) => Ok((version.digest, false)),
            None => {
                explainer.record(index, || ExplainEvent::NoVersions);
                Err(InputError::VersionNotFound)
            }
        });
    };
    let newer = view.enabled_versions_after(input.resource, consumed.check_order, 2)?;
    if let Some(next) = newer.first() {
        return Ok(Ok((next.digest.clone(), newer.len() > 1)));
    }
    Ok(
        match view.latest_enabled_version(input.resource, Some(consumed.check_order))? {
            Some(version) => Ok((version.digest, false)),
            None => {
                explainer.record(index, || ExplainEvent::NoVersions);
                Err(InputError::VersionNotFound)
            }
        },
    )
}
