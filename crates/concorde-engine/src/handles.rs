//! How the engine names the containers and volumes a build makes: after the build, the step's
//! plan id and what the thing is, plus a number this process never gives twice, so steps run
//! again (`attempts`, `across`) and the build's later steps never collide. Build ids are never
//! reused, so names never collide across processes either.

use std::sync::atomic::{AtomicU64, Ordering};

use concorde_worker::{ContainerHandle, VolumeHandle};

use crate::plan::PlanId;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn name(build_id: i64, plan: &PlanId, what: &str) -> String {
    let nonce = COUNTER.fetch_add(1, Ordering::Relaxed);
    let plan: String = plan
        .0
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let what: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{build_id}-{plan}-{what}-{nonce}")
}

/// A new container's handle.
pub(crate) fn new_container_handle(build_id: i64, plan: &PlanId, what: &str) -> ContainerHandle {
    ContainerHandle(name(build_id, plan, what))
}

/// A new volume's handle.
pub(crate) fn new_volume_handle(build_id: i64, plan: &PlanId, what: &str) -> VolumeHandle {
    VolumeHandle(name(build_id, plan, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_valid_and_never_repeat() {
        let plan = PlanId("3/across.1".to_owned());
        let first = new_volume_handle(7, &plan, "input-my repo");
        let second = new_volume_handle(7, &plan, "input-my repo");
        assert_ne!(first, second);
        assert!(first.0.starts_with("7-3_across_1-input-my_repo-"));
        assert!(
            first
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        );
    }
}
