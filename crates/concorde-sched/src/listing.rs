//! Walking a listing of a passed job's builds page by page, including the two-phase `every`
//! listing ("unused builds after the last used one").

use crate::ids::{BuildId, BuildPosition, BuildRef, JobId};
use crate::view::{BuildListing, OutputConstraints, VersionsView};

/// A build that a listing offers, with the `has_next` flag its vouches carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OfferedBuild {
    pub(crate) build: BuildId,
    /// True for builds from the unused backlog (phase 1 of an `every` listing).
    pub(crate) has_next: bool,
}

/// A lazily paged sequence of builds of one job.
pub(crate) struct BuildCursor {
    job: JobId,
    phases: Vec<(BuildListing, bool)>,
    phase_index: usize,
    page: Vec<BuildRef>,
    page_index: usize,
    last_position: Option<BuildPosition>,
    phase_exhausted: bool,
}

/// The listing rule chosen for one (input, job) pair (SEMANTICS 5.4).
pub(crate) enum ListingChoice {
    /// All succeeded builds, newest first.
    Plain,
    /// Rows containing the constraints, newest first.
    Constrained(OutputConstraints),
    /// Unused builds after `last_used`; phase 2 is constrained when `Some`.
    Every {
        last_used: BuildRef,
        phase_two_constraints: Option<OutputConstraints>,
    },
}

impl BuildCursor {
    pub(crate) fn new(job: JobId, choice: ListingChoice) -> BuildCursor {
        let phases = match choice {
            ListingChoice::Plain => {
                vec![(
                    BuildListing::SucceededNewestFirst { at_or_below: None },
                    false,
                )]
            }
            ListingChoice::Constrained(constraints) => vec![(
                BuildListing::OutputsContainingNewestFirst {
                    constraints,
                    at_or_below: None,
                },
                false,
            )],
            ListingChoice::Every {
                last_used,
                phase_two_constraints,
            } => {
                let phase_one = BuildListing::SucceededOldestFirst {
                    above: newer_than(last_used),
                };
                let at_or_below = Some(last_used.position());
                let phase_two = match phase_two_constraints {
                    Some(constraints) => BuildListing::OutputsContainingNewestFirst {
                        constraints,
                        at_or_below,
                    },
                    None => BuildListing::SucceededNewestFirst { at_or_below },
                };
                vec![(phase_one, true), (phase_two, false)]
            }
        };
        BuildCursor {
            job,
            phases,
            phase_index: 0,
            page: Vec::new(),
            page_index: 0,
            last_position: None,
            phase_exhausted: false,
        }
    }

    /// The next build of the listing, fetching a page when the current one is used up.
    pub(crate) fn next<V: VersionsView>(
        &mut self,
        view: &V,
    ) -> Result<Option<OfferedBuild>, V::Error> {
        loop {
            let Some((listing, has_next)) = self.phases.get(self.phase_index) else {
                return Ok(None);
            };
            if let Some(build) = self.page.get(self.page_index) {
                self.page_index += 1;
                self.last_position = Some(build.position());
                return Ok(Some(OfferedBuild {
                    build: build.id,
                    has_next: *has_next,
                }));
            }
            if !self.phase_exhausted {
                // A listing ends only at an empty page, never at a short one: an empty page
                // is where a view holding legacy builds migrates more of them.
                self.page = view.list_builds(self.job, listing, self.last_position)?;
                self.page_index = 0;
                self.phase_exhausted = self.page.is_empty();
                if !self.page.is_empty() {
                    continue;
                }
            }
            self.phase_index += 1;
            self.page.clear();
            self.page_index = 0;
            self.last_position = None;
            self.phase_exhausted = false;
        }
    }
}

/// The lower bound (exclusive) of "newer than `cursor`": an original build's own reruns are
/// neither newer nor older than it.
fn newer_than(cursor: BuildRef) -> BuildPosition {
    match cursor.rerun_of {
        Some(original) => BuildPosition {
            rank: original,
            id: cursor.id,
        },
        None => BuildPosition {
            rank: cursor.id,
            id: BuildId(i64::MAX),
        },
    }
}
