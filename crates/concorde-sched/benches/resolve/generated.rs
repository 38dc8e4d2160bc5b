//! A generated pipeline for the benchmark: 1,000 jobs in 10 layers of 100, 10 resources, and a
//! history of builds that pass versions down the layers, so that the scheduled job's passed
//! constraints must be correlated across upstream builds.
//!
//! Job `(layer, i)` uses resources `i % 10` and `(i + 1) % 10`. Layer 0 takes the newest
//! versions; a later layer copies the versions of the newest succeeded build of job
//! `(layer - 1, i)`. Jobs run in waves; one build in ten fails, so chains drift apart and the
//! search must look past recent builds. A xorshift generator keeps it reproducible.

use std::collections::BTreeMap;

use concorde_sched::{
    BuildId, BuildRef, CheckOrder, InputConfig, InputName, JobId, MemoryView, OutputEntry,
    ResourceId, ScopeId,
};

const RESOURCES: usize = 10;
const LAYERS: usize = 10;
const JOBS_PER_LAYER: usize = 100;
/// Versions that appear between two scheduling ticks.
const VERSIONS_PER_TICK: usize = 100;

/// The history and the inputs of the job to schedule.
pub struct GeneratedPipeline {
    pub view: MemoryView,
    pub current_job: JobId,
    /// Inputs that a recent build satisfies.
    pub inputs: Vec<InputConfig>,
    /// Inputs no build can satisfy (job `(9, 5)` never has resource 0), so the search walks
    /// every build of job `(9, 0)`: the worst case, linear in history.
    pub unsatisfiable_inputs: Vec<InputConfig>,
    pub builds: usize,
}

fn job_id(layer: usize, index: usize) -> JobId {
    JobId((layer * JOBS_PER_LAYER + index + 1) as i64)
}

fn resource_id(resource: usize) -> ResourceId {
    ResourceId(resource as i64 + 1)
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

/// Generates a history with `total_versions` versions (spread evenly over the resources).
pub fn generate(total_versions: usize) -> GeneratedPipeline {
    let mut builder = MemoryView::builder();
    for resource in 0..RESOURCES {
        builder.resource(resource_id(resource), Some(ScopeId(resource as i64 + 1)));
    }
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut newest: Vec<usize> = vec![0; RESOURCES];
    let mut last_succeeded: Vec<Option<[usize; 2]>> = vec![None; LAYERS * JOBS_PER_LAYER];
    let mut next_build = 1_i64;
    let mut version_count = 0;
    while version_count < total_versions {
        for _ in 0..VERSIONS_PER_TICK.min(total_versions - version_count) {
            let resource = version_count % RESOURCES;
            version_count += 1;
            newest[resource] = version_count;
            let digest = version_count.to_string();
            let fields = BTreeMap::from([("ver".to_owned(), digest.clone())]);
            builder.version(
                ScopeId(resource as i64 + 1),
                &digest,
                CheckOrder(version_count as i64),
                fields,
            );
        }
        // One tick in ten starts a wave that runs the pipeline down its layers, as a commit
        // would; within a wave each job is skipped one time in ten.
        if !random.chance(10) {
            continue;
        }
        for layer in 0..LAYERS {
            for index in 0..JOBS_PER_LAYER {
                if random.chance(10) {
                    continue;
                }
                let resources = [index % RESOURCES, (index + 1) % RESOURCES];
                let versions = if layer == 0 {
                    [newest[resources[0]], newest[resources[1]]]
                } else {
                    match last_succeeded[(layer - 1) * JOBS_PER_LAYER + index] {
                        Some(versions) => versions,
                        None => continue,
                    }
                };
                if versions.contains(&0) {
                    continue;
                }
                let build = BuildId(next_build);
                next_build += 1;
                let succeeded = !random.chance(10);
                let job = job_id(layer, index);
                builder.build(
                    BuildRef {
                        id: build,
                        rerun_of: None,
                    },
                    job,
                    succeeded,
                    false,
                );
                let mut entries = Vec::new();
                for (resource, version) in resources.iter().zip(versions) {
                    let digest = version.to_string();
                    let name = InputName(format!("r{resource}"));
                    builder.input(build, resource_id(*resource), &digest, name);
                    let digest = builder.digest(&digest);
                    entries.push(OutputEntry {
                        resource: resource_id(*resource),
                        digest,
                    });
                }
                if succeeded {
                    builder.successful_build_outputs(
                        BuildRef {
                            id: build,
                            rerun_of: None,
                        },
                        job,
                        entries,
                    );
                    last_succeeded[layer * JOBS_PER_LAYER + index] = Some(versions);
                }
            }
        }
    }
    let last = LAYERS - 1;
    let inputs = vec![
        InputConfig::latest("x", resource_id(0)).with_passed([job_id(last, 0)]),
        InputConfig::latest("y", resource_id(1)).with_passed([job_id(last, 0), job_id(last, 1)]),
        InputConfig::latest("z", resource_id(2)).with_passed([job_id(last, 1)]),
        InputConfig::latest("w", resource_id(5)),
        InputConfig::latest("e", resource_id(4))
            .with_passed([job_id(last, 3)])
            .with_every(),
    ];
    let unsatisfiable_inputs = vec![
        InputConfig::latest("x", resource_id(0)).with_passed([job_id(last, 0), job_id(last, 5)]),
    ];
    GeneratedPipeline {
        view: builder.finish(),
        unsatisfiable_inputs,
        current_job: JobId((LAYERS * JOBS_PER_LAYER + 1) as i64),
        inputs,
        builds: (next_build - 1) as usize,
    }
}
