//! Checking: every check runs on its own task, so a check script that never returns delays
//! neither the other resources' checks nor a later tick's manual check.

use concorde_store::ResourceId;
use concorde_web::components::Component;

use crate::harness::{Harness, eventually};

component_test!(a_hung_check_delays_no_other_check);

async fn a_hung_check_delays_no_other_check(h: &Harness) {
    // `hung`'s versions file is a FIFO nobody writes: its check blocks opening it.
    let fifo = h.versions_file("hung");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let yaml = format!(
        "resources:\n{}{}jobs:\n- name: j\n  plan:\n  - get: hung\n  - get: r\n",
        h.resource("hung"),
        h.resource("r")
    );
    let pipeline = h.set_running_pipeline("p", &yaml).await;
    let resources = h.store.list_resources(pipeline.id).await.unwrap();
    let id = |name: &str| resources.iter().find(|r| r.name == name).unwrap().id;
    let (hung, r) = (id("hung"), id("r"));
    h.write_versions("r", &["1"]);
    let node = h.node().await;
    node.checker.tick().await.unwrap();
    eventually("r's check beside the hung one", || async {
        versions(h, r).await == 1
    })
    .await;
    let stuck = h.store.resource(hung).await.unwrap();
    assert!(
        stuck.last_check_start.is_some() && stuck.last_check_end.is_none(),
        "hung's check is still running"
    );

    // A manual check of r, on a later tick, is not held behind the hung check either.
    h.write_versions("r", &["1", "2"]);
    h.request_check(r).await;
    eventually("the manual check of r", || async {
        node.checker.tick().await.unwrap();
        versions(h, r).await == 2
    })
    .await;

    // Let the hung check end (its script reads the FIFO to its end). No tick follows: with
    // `check_every: 0s` it would start another check, blocked on the FIFO for good.
    std::fs::write(&fifo, "[]").unwrap();
    eventually("the hung check to finish", || async {
        h.store
            .resource(hung)
            .await
            .unwrap()
            .last_check_end
            .is_some()
    })
    .await;
}

/// How many versions `resource` has.
async fn versions(h: &Harness, resource: ResourceId) -> usize {
    let Some(scope) = h.store.resource(resource).await.unwrap().scope_id else {
        return 0;
    };
    h.store.list_versions(scope, None, 10).await.unwrap().len()
}
