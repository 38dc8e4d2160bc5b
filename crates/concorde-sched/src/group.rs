//! The group resolver: inputs with passed constraints that share jobs, resolved together by a
//! depth-first backtracking search over the passed jobs' builds (SEMANTICS 5).

use std::collections::HashMap;

use crate::explain::{ExplainEvent, Explainer};
use crate::ids::{BuildId, BuildRef, JobId, VersionDigest};
use crate::input::{InputConfig, InputError};
use crate::listing::{BuildCursor, ListingChoice, OfferedBuild};
use crate::view::{OutputConstraints, VersionsView};

/// What a successful group search chose for one member input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GroupChoice {
    pub(crate) digest: VersionDigest,
    pub(crate) sources: Vec<BuildId>,
    pub(crate) has_next: bool,
}

/// Resolves the inputs `member_indexes` (indexes into `inputs`, in input order) as one group.
///
/// The outer `Result` carries view failures; the inner one the group's resolution error,
/// which applies to every member.
pub(crate) fn resolve_group<V: VersionsView, X: Explainer>(
    view: &V,
    current_job: JobId,
    inputs: &[InputConfig],
    member_indexes: &[usize],
    explainer: &mut X,
) -> Result<Result<Vec<GroupChoice>, InputError>, V::Error> {
    let members: Vec<&InputConfig> = member_indexes.iter().map(|&index| &inputs[index]).collect();
    let mut pins = Vec::with_capacity(members.len());
    for (member, config) in members.iter().enumerate() {
        let Some(pin) = &config.pin else {
            pins.push(None);
            continue;
        };
        match view.version_containing(config.resource, pin)? {
            Some(version) => pins.push(Some(version.digest)),
            None => {
                explainer.record(member_indexes[member], || {
                    ExplainEvent::PinNotFound(pin.clone())
                });
                return Ok(Err(InputError::PinnedVersionNotFound(pin.clone())));
            }
        }
    }
    let mut search = GroupSearch {
        view,
        current_job,
        members,
        member_indexes,
        pins,
        candidates: vec![None; member_indexes.len()],
        doomed: vec![None; member_indexes.len()],
        last_used: None,
        explainer,
    };
    if !search.satisfy_all()? {
        return Ok(Err(InputError::NoSatisfiableBuilds));
    }
    let mut choices = Vec::with_capacity(search.candidates.len());
    for (member, candidate) in search.candidates.into_iter().enumerate() {
        // Invariant: a successful SATISFY-ALL leaves every member with a candidate, because
        // each member has at least one passed job and SATISFY only succeeds once each of them
        // has vouched (or deferred to a job that then vouched).
        let Some(candidate) = candidate else {
            return Ok(Err(InputError::NoSatisfiableBuilds));
        };
        let digest = candidate.version;
        search.explainer.record(member_indexes[member], || {
            ExplainEvent::Chosen(digest.clone())
        });
        choices.push(GroupChoice {
            digest,
            sources: candidate.sources,
            has_next: candidate.has_next,
        });
    }
    Ok(Ok(choices))
}

/// A version some passed jobs have vouched for, for one member input.
#[derive(Clone, Debug)]
struct Candidate {
    version: VersionDigest,
    /// Jobs that vouched; small, so a vector beats a set.
    vouched: Vec<JobId>,
    /// One build per vouch, in vouch order.
    sources: Vec<BuildId>,
    has_next: bool,
}

/// The state of one group's search. Member indexes (`0..members.len()`) are positions in the
/// group; `member_indexes` maps them back to input indexes for explanations.
struct GroupSearch<'a, V, X> {
    view: &'a V,
    current_job: JobId,
    members: Vec<&'a InputConfig>,
    member_indexes: &'a [usize],
    /// The digest each pinned member must take.
    pins: Vec<Option<VersionDigest>>,
    candidates: Vec<Option<Candidate>>,
    /// The versions of the assignment whose SATISFY-ALL failed most recently.
    doomed: Vec<Option<VersionDigest>>,
    /// Job to the build the current job last used from it; `None` until looked up.
    last_used: Option<HashMap<JobId, BuildRef>>,
    explainer: &'a mut X,
}

impl<V: VersionsView, X: Explainer> GroupSearch<'_, V, X> {
    fn satisfy_all(&mut self) -> Result<bool, V::Error> {
        for member in 0..self.members.len() {
            if !self.satisfy(member)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn satisfy(&mut self, member: usize) -> Result<bool, V::Error> {
        let config = self.members[member];
        for &job in &config.passed {
            if self.candidates[member]
                .as_ref()
                .is_some_and(|c| c.vouched.contains(&job))
            {
                continue;
            }
            let Some(choice) = self.listing_choice(member, job)? else {
                self.explain(member, || ExplainEvent::Deferred { job });
                continue;
            };
            let mut cursor = BuildCursor::new(job, choice);
            while let Some(offered) = cursor.next(self.view)? {
                if self.try_build(member, job, offered)? {
                    return Ok(true);
                }
            }
            self.explain(member, || ExplainEvent::NoBuildOfJob { job });
            return Ok(false);
        }
        Ok(true)
    }

    /// Picks the listing for (member, job), or `None` to defer the job (SEMANTICS 5.4).
    fn listing_choice(
        &mut self,
        member: usize,
        job: JobId,
    ) -> Result<Option<ListingChoice>, V::Error> {
        let config = self.members[member];
        let has_candidate = self.candidates[member].is_some();
        if config.every {
            if self.last_used.is_none() {
                self.last_used = self.look_up_last_used(config)?;
            }
            if let Some(last_used) = &self.last_used {
                if let Some(&cursor) = last_used.get(&job) {
                    let phase_two_constraints = has_candidate.then(|| self.constraints(job));
                    return Ok(Some(ListingChoice::Every {
                        last_used: cursor,
                        phase_two_constraints,
                    }));
                }
                let any_related = config
                    .passed
                    .iter()
                    .any(|passed| last_used.contains_key(passed));
                if !has_candidate && any_related {
                    return Ok(None);
                }
            }
        }
        if has_candidate {
            Ok(Some(ListingChoice::Constrained(self.constraints(job))))
        } else {
            Ok(Some(ListingChoice::Plain))
        }
    }

    /// The upstream builds that fed the current job's build which consumed the newest
    /// version of `config`'s resource; `None` when no build consumed any.
    fn look_up_last_used(
        &self,
        config: &InputConfig,
    ) -> Result<Option<HashMap<JobId, BuildRef>>, V::Error> {
        let Some(consumed) = self
            .view
            .newest_consumed_version(self.current_job, config.resource)?
        else {
            return Ok(None);
        };
        let mut last_used = HashMap::new();
        for upstream in self.view.upstream_builds(consumed.build)? {
            // Two pipes from one job: the later one in the view's order wins (unspecified
            // upstream; any deterministic rule will do).
            last_used.insert(upstream.job, upstream.build);
        }
        Ok(Some(last_used))
    }

    /// The versions already chosen for members that `job` must vouch for.
    fn constraints(&self, job: JobId) -> OutputConstraints {
        let mut constraints = OutputConstraints::default();
        for (config, candidate) in self.members.iter().zip(&self.candidates) {
            if let Some(candidate) = candidate
                && config.passed.binary_search(&job).is_ok()
            {
                constraints.require(config.resource, candidate.version.clone());
            }
        }
        constraints
    }

    /// TRY-BUILD: vouch for every related member from `offered`'s outputs, recurse, and undo
    /// the vouches if the rest cannot be satisfied (SEMANTICS 5.3).
    fn try_build(
        &mut self,
        resolving: usize,
        job: JobId,
        offered: OfferedBuild,
    ) -> Result<bool, V::Error> {
        let build = offered.build;
        let outputs = self.view.successful_build_outputs(build)?;
        let mut changed: Vec<(usize, Option<Candidate>)> = Vec::new();
        let mut mismatch = false;
        'entries: for entry in outputs.iter() {
            for member in 0..self.members.len() {
                let config = self.members[member];
                if config.resource != entry.resource
                    || config.passed.binary_search(&job).is_err()
                    || changed
                        .iter()
                        .any(|(changed_member, _)| *changed_member == member)
                {
                    continue;
                }
                if let Some(candidate) = &self.candidates[member]
                    && candidate.version != entry.digest
                {
                    mismatch = true;
                    if X::ENABLED {
                        let other_digest = candidate.version.clone();
                        let other_input_index = self.member_indexes[member];
                        self.explain(resolving, || ExplainEvent::ConflictsWith {
                            job,
                            build,
                            resource: entry.resource,
                            digest: entry.digest.clone(),
                            other_input_index,
                            other_digest,
                        });
                    }
                    break 'entries;
                }
                if self.view.is_disabled(entry.resource, &entry.digest)? {
                    self.explain(member, || ExplainEvent::Disabled {
                        job,
                        build,
                        digest: entry.digest.clone(),
                    });
                    continue;
                }
                if let Some(pin) = &self.pins[member]
                    && *pin != entry.digest
                {
                    self.explain(member, || ExplainEvent::PinnedToAnother {
                        job,
                        build,
                        digest: entry.digest.clone(),
                    });
                    continue;
                }
                if self.candidates[member].is_none()
                    && !self.view.version_exists(entry.resource, &entry.digest)?
                {
                    self.explain(member, || ExplainEvent::NotAVersion {
                        job,
                        build,
                        digest: entry.digest.clone(),
                    });
                    break 'entries;
                }
                let previous = self.candidates[member].take();
                let vouched = vouch(previous.as_ref(), &entry.digest, job, offered);
                self.candidates[member] = Some(vouched);
                changed.push((member, previous));
            }
        }
        let vouched_for_resolving = self.candidates[resolving]
            .as_ref()
            .is_some_and(|c| c.vouched.contains(&job));
        if vouched_for_resolving && !mismatch {
            if self.assignment_is_doomed() {
                self.explain(resolving, || ExplainEvent::RepeatsFailedAssignment {
                    job,
                    build,
                });
            } else if self.satisfy_all()? {
                return Ok(true);
            } else {
                self.doomed = self
                    .candidates
                    .iter()
                    .map(|c| c.as_ref().map(|c| c.version.clone()))
                    .collect();
                if X::ENABLED {
                    let digest = self.candidates[resolving]
                        .as_ref()
                        .map(|c| c.version.clone());
                    if let Some(digest) = digest {
                        self.explain(resolving, || ExplainEvent::RestUnsatisfiable {
                            job,
                            build,
                            digest,
                        });
                    }
                }
            }
        } else if !mismatch {
            self.explain(resolving, || ExplainEvent::NothingUsable { job, build });
        }
        for (member, previous) in changed {
            self.candidates[member] = previous;
        }
        Ok(false)
    }

    fn assignment_is_doomed(&self) -> bool {
        self.candidates
            .iter()
            .zip(&self.doomed)
            .all(|(candidate, doomed)| match (candidate, doomed) {
                (None, None) => true,
                (Some(candidate), Some(doomed)) => candidate.version == *doomed,
                _ => false,
            })
    }

    #[inline(always)]
    fn explain(&mut self, member: usize, event: impl FnOnce() -> ExplainEvent) {
        if X::ENABLED {
            let input_index = self.member_indexes[member];
            self.explainer.record(input_index, event);
        }
    }
}

/// The candidate after `job` vouches for `digest` through `offered`.
fn vouch(
    previous: Option<&Candidate>,
    digest: &VersionDigest,
    job: JobId,
    offered: OfferedBuild,
) -> Candidate {
    match previous {
        Some(previous) => {
            let mut vouched = previous.vouched.clone();
            if !vouched.contains(&job) {
                vouched.push(job);
            }
            let mut sources = previous.sources.clone();
            sources.push(offered.build);
            Candidate {
                version: digest.clone(),
                vouched,
                sources,
                has_next: previous.has_next || offered.has_next,
            }
        }
        None => Candidate {
            version: digest.clone(),
            vouched: vec![job],
            sources: vec![offered.build],
            has_next: offered.has_next,
        },
    }
}
