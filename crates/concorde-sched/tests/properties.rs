//! Property tests over generated histories: whatever the history, resolution is
//! deterministic, respects pins and disabled versions, only takes versions that every passed
//! job vouched for, and keeps correlated inputs consistent with their common builds.

mod support;

use std::collections::HashMap;

use concorde_sched::{
    BuildId, InputConfig, JobId, MemoryView, Resolution, VersionDigest, VersionsView,
    resolve_inputs,
};
use proptest::prelude::*;
use support::{BuildSpec, History, input, pin};

const CURRENT: JobId = JobId(9);
const RESOURCES: [i64; 2] = [1, 2];

#[derive(Clone, Debug)]
struct GeneratedBuild {
    job: i64,
    succeeded: bool,
    rerun: bool,
    /// (resource, version index) produced.
    outputs: Vec<(i64, usize)>,
}

#[derive(Clone, Debug)]
struct GeneratedInput {
    resource: i64,
    passed: Vec<i64>,
    every: bool,
    /// A version index; an index past the last version pins to nothing.
    pin: Option<usize>,
}

/// A build of the current job: the (resource, version index) it consumed and the indexes of
/// the upstream builds piped into it.
type CurrentBuild = (Vec<(i64, usize)>, Vec<usize>);

#[derive(Clone, Debug)]
struct Spec {
    version_counts: Vec<usize>,
    disabled: Vec<(i64, usize)>,
    builds: Vec<GeneratedBuild>,
    /// The current job's builds: consumed (resource, version index) and pipes from builds.
    current_builds: Vec<CurrentBuild>,
    inputs: Vec<GeneratedInput>,
}

fn version_name(resource: i64, index: usize) -> String {
    format!("r{resource}v{}", index + 1)
}

fn spec_strategy(with_pins_and_disabled: bool) -> impl Strategy<Value = Spec> {
    let resource = prop::sample::select(RESOURCES.to_vec());
    let entry = (resource.clone(), 0..5usize);
    let build = (
        1..=3i64,
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.2),
        prop::collection::vec(entry.clone(), 0..3),
    )
        .prop_map(|(job, succeeded, rerun, outputs)| GeneratedBuild {
            job,
            succeeded,
            rerun,
            outputs,
        });
    let pin_strategy = if with_pins_and_disabled {
        prop::option::weighted(0.3, 0..6usize).boxed()
    } else {
        Just(None).boxed()
    };
    let generated_input = (
        resource.clone(),
        prop::collection::vec(1..=3i64, 0..3),
        any::<bool>(),
        pin_strategy,
    )
        .prop_map(|(resource, passed, every, pin)| GeneratedInput {
            resource,
            passed,
            every,
            pin,
        });
    let disabled_count = if with_pins_and_disabled {
        0..3usize
    } else {
        0..1usize
    };
    (
        prop::collection::vec(1..5usize, 2),
        prop::collection::vec(entry.clone(), disabled_count),
        prop::collection::vec(build, 0..14),
        prop::collection::vec(
            (
                prop::collection::vec(entry, 0..3),
                prop::collection::vec(0..14usize, 0..3),
            ),
            0..3,
        ),
        prop::collection::vec(generated_input, 1..4),
    )
        .prop_map(
            |(version_counts, disabled, builds, current_builds, inputs)| Spec {
                version_counts,
                disabled,
                builds,
                current_builds,
                inputs,
            },
        )
}

impl Spec {
    fn count(&self, resource: i64) -> usize {
        self.version_counts[(resource - 1) as usize]
    }

    /// The name of version `index` of `resource`, wrapped into the existing versions.
    fn existing(&self, resource: i64, index: usize) -> String {
        version_name(resource, index % self.count(resource))
    }

    fn view(&self) -> MemoryView {
        let mut history = History::new();
        for resource in RESOURCES {
            let names: Vec<String> = (0..self.count(resource))
                .map(|index| version_name(resource, index))
                .collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            history.versions(resource, &names);
        }
        for &(resource, index) in &self.disabled {
            history.disable(resource, &self.existing(resource, index));
        }
        let mut last_original: HashMap<i64, i64> = HashMap::new();
        for (index, build) in self.builds.iter().enumerate() {
            let id = index as i64 + 1;
            let rerun_of = if build.rerun {
                last_original.get(&build.job).copied()
            } else {
                None
            };
            if rerun_of.is_none() {
                last_original.insert(build.job, id);
            }
            let names: Vec<(i64, String)> = build
                .outputs
                .iter()
                .map(|&(resource, index)| (resource, self.existing(resource, index)))
                .collect();
            let outputs: Vec<(i64, &str)> = names
                .iter()
                .map(|(resource, name)| (*resource, name.as_str()))
                .collect();
            history.build(BuildSpec {
                id,
                job: build.job,
                succeeded: build.succeeded,
                rerun_of,
                outputs: &outputs,
                inputs: &[],
            });
        }
        for (index, (consumed, pipes)) in self.current_builds.iter().enumerate() {
            let id = 100 + index as i64;
            let names: Vec<(i64, String, String)> = consumed
                .iter()
                .map(|&(resource, index)| {
                    (
                        resource,
                        self.existing(resource, index),
                        format!("in{resource}"),
                    )
                })
                .collect();
            let inputs: Vec<(i64, &str, &str)> = names
                .iter()
                .map(|(resource, name, input)| (*resource, name.as_str(), input.as_str()))
                .collect();
            history.build(BuildSpec {
                id,
                job: CURRENT.0,
                succeeded: true,
                rerun_of: None,
                outputs: &[],
                inputs: &inputs,
            });
            for &from in pipes {
                if from < self.builds.len() {
                    history.pipe(from as i64 + 1, id);
                }
            }
        }
        history.finish()
    }

    fn inputs(&self) -> Vec<InputConfig> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(index, generated)| {
                let mut config =
                    input(&format!("in{index}"), generated.resource, &generated.passed);
                config.every = generated.every;
                config.pin = generated
                    .pin
                    .map(|index| pin(&version_name(generated.resource, index)));
                config
            })
            .collect()
    }

    fn build_job(&self, build: BuildId) -> Option<i64> {
        self.builds
            .get((build.0 - 1) as usize)
            .map(|generated| generated.job)
    }
}

fn resolve(view: &MemoryView, inputs: &[InputConfig]) -> Resolution {
    resolve_inputs(view, CURRENT, inputs).expect("the memory view cannot fail on these histories")
}

/// The groups the resolver forms: each passed input joins the first group sharing a job.
fn groups(inputs: &[InputConfig]) -> Vec<usize> {
    let mut group_jobs: Vec<Vec<JobId>> = Vec::new();
    let mut group_of = vec![usize::MAX; inputs.len()];
    for (index, input) in inputs
        .iter()
        .enumerate()
        .filter(|(_, input)| !input.passed.is_empty())
    {
        let found = group_jobs
            .iter()
            .position(|jobs| input.passed.iter().any(|job| jobs.contains(job)));
        let group = found.unwrap_or_else(|| {
            group_jobs.push(Vec::new());
            group_jobs.len() - 1
        });
        group_jobs[group].extend(&input.passed);
        group_of[index] = group;
    }
    group_of
}

fn check_invariants(spec: &Spec, check_correlation: bool) -> Result<(), TestCaseError> {
    let view = spec.view();
    let inputs = spec.inputs();
    let resolution = resolve(&view, &inputs);
    prop_assert_eq!(
        &resolution,
        &resolve(&view, &inputs),
        "same view, same result"
    );
    prop_assert_eq!(
        &resolution,
        &resolve(&spec.view(), &inputs),
        "rebuilt view, same result"
    );
    for (config, result) in inputs.iter().zip(&resolution.inputs) {
        let Ok(resolved) = result else { continue };
        if let Some(pin) = &config.pin {
            prop_assert_eq!(
                Some(resolved.digest.as_str()),
                pin.0.get("ver").map(String::as_str),
                "pinned input got another version"
            );
        }
        if config.pin.is_none() || !config.passed.is_empty() {
            prop_assert!(
                !view
                    .is_disabled(config.resource, &resolved.digest)
                    .unwrap_or(true),
                "chose a disabled version"
            );
        }
        for build in &resolved.passed_build_ids {
            let job = spec.build_job(*build).map(JobId);
            prop_assert!(
                job.is_some_and(|job| config.passed.contains(&job)),
                "build {build} is not of a passed job"
            );
            let row = view
                .successful_build_outputs(*build)
                .unwrap_or_else(|_| Vec::new().into());
            let vouches = row
                .iter()
                .any(|entry| entry.resource == config.resource && entry.digest == resolved.digest);
            prop_assert!(vouches, "build {} does not hold {}", build, resolved.digest);
        }
        for job in &config.passed {
            let vouched = resolved
                .passed_build_ids
                .iter()
                .any(|build| spec.build_job(*build) == Some(job.0));
            prop_assert!(vouched, "job {} did not vouch for {}", job, resolved.digest);
        }
    }
    if check_correlation {
        check_correlated(spec, &view, &inputs, &resolution)?;
    }
    Ok(())
}

/// For inputs a and b of one group sharing job J, every build of J that vouched for a lists,
/// first among its entries for b's resource, b's version (when it lists that resource).
fn check_correlated(
    spec: &Spec,
    view: &MemoryView,
    inputs: &[InputConfig],
    resolution: &Resolution,
) -> Result<(), TestCaseError> {
    let group_of = groups(inputs);
    for (a, a_config) in inputs.iter().enumerate() {
        let Ok(a_resolved) = &resolution.inputs[a] else {
            continue;
        };
        for (b, b_config) in inputs.iter().enumerate() {
            let Ok(b_resolved) = &resolution.inputs[b] else {
                continue;
            };
            if a == b || group_of[a] != group_of[b] || group_of[a] == usize::MAX {
                continue;
            }
            for build in &a_resolved.passed_build_ids {
                let Some(job) = spec.build_job(*build) else {
                    continue;
                };
                if !b_config.passed.contains(&JobId(job)) || !a_config.passed.contains(&JobId(job))
                {
                    continue;
                }
                let row = view
                    .successful_build_outputs(*build)
                    .unwrap_or_else(|_| Vec::new().into());
                let first: Option<&VersionDigest> = row
                    .iter()
                    .find(|entry| entry.resource == b_config.resource)
                    .map(|entry| &entry.digest);
                if let Some(first) = first {
                    prop_assert_eq!(
                        first,
                        &b_resolved.digest,
                        "build {} of shared job {} disagrees with input {}",
                        build,
                        job,
                        b
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn resolution_respects_pins_disabling_and_passed_jobs(spec in spec_strategy(true)) {
        check_invariants(&spec, false)?;
    }

    #[test]
    fn correlated_inputs_agree_with_their_common_builds(spec in spec_strategy(false)) {
        check_invariants(&spec, true)?;
    }
}
