//! Concourse's container placement strategies (`--container-placement-strategy`): the
//! workers that fit a step are shuffled, then sorted by each strategy of the chain from the
//! last to the first (stable sorts, so the first strategy is the main key), then asked in
//! that order to take the step.

use std::collections::HashMap;
use std::str::FromStr;

use concorde_engine::StepNeeds;
use concorde_store::{Worker, WorkerName};

/// One way of ordering the workers that fit a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementStrategy {
    /// Most of the step's inputs already there first.
    VolumeLocality,
    /// Fewest containers of builds first.
    FewestBuildContainers,
    /// For tasks: fewest running tasks first, and a worker at the limit takes none.
    LimitActiveTasks,
    /// No order beyond the shuffle.
    Random,
}

impl PlacementStrategy {
    /// Every strategy, by its flag value.
    pub const ALL: [(&'static str, PlacementStrategy); 4] = [
        ("volume-locality", PlacementStrategy::VolumeLocality),
        (
            "fewest-build-containers",
            PlacementStrategy::FewestBuildContainers,
        ),
        ("limit-active-tasks", PlacementStrategy::LimitActiveTasks),
        ("random", PlacementStrategy::Random),
    ];
}

impl FromStr for PlacementStrategy {
    type Err = String;

    fn from_str(text: &str) -> Result<PlacementStrategy, String> {
        PlacementStrategy::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, strategy)| *strategy)
            .ok_or_else(|| {
                let names: Vec<&str> = PlacementStrategy::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "invalid container placement strategy '{text}' (one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// How a node places steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementConfig {
    /// The chain, main key first.
    pub strategies: Vec<PlacementStrategy>,
    /// `--max-active-tasks-per-worker` for limit-active-tasks (0: no limit).
    pub max_active_tasks: i64,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        PlacementConfig {
            strategies: vec![PlacementStrategy::VolumeLocality],
            max_active_tasks: 0,
        }
    }
}

impl PlacementConfig {
    /// Whether placing `needs` takes a task slot on the worker.
    pub fn limits_tasks(&self, needs: &StepNeeds) -> bool {
        needs.step_type == "task"
            && self
                .strategies
                .contains(&PlacementStrategy::LimitActiveTasks)
    }

    /// Whether ordering needs each worker's count of build containers.
    pub fn counts_build_containers(&self) -> bool {
        self.strategies
            .contains(&PlacementStrategy::FewestBuildContainers)
    }
}

/// Orders `candidates` for `needs`: `seed` shuffles them, then each strategy sorts them, last
/// first. `build_containers` holds each worker's containers of builds (for
/// fewest-build-containers).
pub(crate) fn order_candidates(
    candidates: &mut [Worker],
    needs: &StepNeeds,
    config: &PlacementConfig,
    build_containers: &HashMap<WorkerName, i64>,
    seed: u64,
) {
    shuffle(candidates, seed);
    for strategy in config.strategies.iter().rev() {
        match strategy {
            PlacementStrategy::VolumeLocality => {
                let local = |worker: &Worker| {
                    needs
                        .input_workers
                        .iter()
                        .filter(|name| name.as_str() == worker.name.as_str())
                        .count()
                };
                candidates.sort_by_key(|worker| std::cmp::Reverse(local(worker)));
            }
            PlacementStrategy::FewestBuildContainers => candidates
                .sort_by_key(|worker| build_containers.get(&worker.name).copied().unwrap_or(0)),
            PlacementStrategy::LimitActiveTasks if needs.step_type == "task" => {
                candidates.sort_by_key(|worker| worker.active_tasks);
            }
            PlacementStrategy::LimitActiveTasks | PlacementStrategy::Random => {}
        }
    }
}

/// Fisher-Yates with a xorshift generator: placement needs spread, not secrecy.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(name: &str, active_tasks: i64) -> Worker {
        Worker {
            name: WorkerName::new(name),
            addr: None,
            baggageclaim_url: None,
            state: concorde_store::WorkerState::Running,
            expires: None,
            stalled_since: None,
            team_id: None,
            platform: "linux".to_owned(),
            tags: Vec::new(),
            resource_types: Vec::new(),
            version: String::new(),
            ephemeral: false,
            start_time: concorde_store::Timestamp(0),
            active_containers: 0,
            active_volumes: 0,
            active_tasks,
        }
    }

    fn names(workers: &[Worker]) -> Vec<&str> {
        workers.iter().map(|worker| worker.name.as_str()).collect()
    }

    fn task(inputs: &[&str]) -> StepNeeds {
        StepNeeds {
            step_type: "task",
            input_workers: inputs.iter().map(|name| (*name).to_owned()).collect(),
            ..StepNeeds::default()
        }
    }

    #[test]
    fn volume_locality_prefers_the_worker_with_most_inputs() {
        let config = PlacementConfig::default();
        for seed in 0..20 {
            let mut workers = vec![worker("a", 0), worker("b", 0), worker("c", 0)];
            let needs = task(&["c", "b", "c"]);
            order_candidates(&mut workers, &needs, &config, &HashMap::new(), seed);
            assert_eq!(names(&workers)[..2], ["c", "b"]);
        }
    }

    #[test]
    fn chains_break_ties_with_later_strategies() {
        let config = PlacementConfig {
            strategies: vec![
                PlacementStrategy::VolumeLocality,
                PlacementStrategy::FewestBuildContainers,
            ],
            max_active_tasks: 0,
        };
        let counts: HashMap<WorkerName, i64> = [
            (WorkerName::new("a"), 5),
            (WorkerName::new("b"), 1),
            (WorkerName::new("c"), 3),
        ]
        .into();
        for seed in 0..20 {
            let mut workers = vec![worker("a", 0), worker("b", 0), worker("c", 0)];
            order_candidates(&mut workers, &task(&["a"]), &config, &counts, seed);
            assert_eq!(names(&workers), ["a", "b", "c"]);
        }
    }

    #[test]
    fn limit_active_tasks_orders_only_tasks() {
        let config = PlacementConfig {
            strategies: vec![PlacementStrategy::LimitActiveTasks],
            max_active_tasks: 2,
        };
        let mut workers = vec![worker("a", 2), worker("b", 0), worker("c", 1)];
        order_candidates(&mut workers, &task(&[]), &config, &HashMap::new(), 7);
        assert_eq!(names(&workers), ["b", "c", "a"]);
        let get = StepNeeds {
            step_type: "get",
            ..StepNeeds::default()
        };
        assert!(config.limits_tasks(&task(&[])));
        assert!(!config.limits_tasks(&get));
    }

    #[test]
    fn random_spreads_steps_over_every_worker() {
        let config = PlacementConfig {
            strategies: vec![PlacementStrategy::Random],
            max_active_tasks: 0,
        };
        let mut firsts = std::collections::HashSet::new();
        for seed in 0..50 {
            let mut workers = vec![worker("a", 0), worker("b", 0), worker("c", 0)];
            order_candidates(&mut workers, &task(&[]), &config, &HashMap::new(), seed);
            firsts.insert(workers[0].name.as_str().to_owned());
        }
        assert_eq!(firsts.len(), 3);
    }

    #[test]
    fn strategies_parse_by_their_flag_names() {
        assert_eq!(
            "fewest-build-containers".parse::<PlacementStrategy>(),
            Ok(PlacementStrategy::FewestBuildContainers)
        );
        let err = "nearest".parse::<PlacementStrategy>().unwrap_err();
        assert!(
            err.contains("volume-locality, fewest-build-containers"),
            "{err}"
        );
    }
}
