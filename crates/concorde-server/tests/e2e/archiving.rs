//! Instanced pipelines and archiving through the real CLI: `set-pipeline -i` makes an
//! instance (not a plain pipeline), instances of one name are listed apart, and
//! `order-instanced-pipelines` orders them, and `archive-pipeline` archives one of them, which
//! then keeps its builds and runs nothing.

use crate::harness::{Backend, Server};

const PIPELINE: &str = "jobs:\n- name: j\n  plan:\n  - task: t\n    config: {platform: linux, run: {path: echo, args: [((branch))]}}\n";

pub fn instances_are_set_with_dash_i_and_archived_one_by_one(backend: Backend) {
    let server = Server::start(backend);
    let file = server.home.path().join("instanced.yml");
    std::fs::write(&file, PIPELINE).expect("write pipeline");
    let file = file.display().to_string();
    for branch in ["main", "dev"] {
        let set = server.fly_ok(&[
            "set-pipeline",
            "-n",
            "-p",
            "p",
            "-c",
            &file,
            "-i",
            &format!("branch={branch}"),
        ]);
        assert!(set.contains("pipeline instance vars:"), "{set}");
    }
    let listed = server.get_json("/api/v1/teams/main/pipelines");
    let mut instances: Vec<String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["name"].as_str().unwrap_or(""),
                p["instance_vars"]["branch"].as_str().unwrap_or("-")
            )
        })
        .collect();
    instances.sort();
    assert_eq!(instances, ["p/dev", "p/main"], "{listed}");
    let table = server.fly_ok(&["pipelines"]);
    assert!(
        table.contains("p/branch:main") && table.contains("p/branch:dev"),
        "{table}"
    );

    let ordered = |server: &Server| -> Vec<String> {
        server
            .get_json("/api/v1/teams/main/pipelines")
            .as_array()
            .expect("a list")
            .iter()
            .map(|p| {
                p["instance_vars"]["branch"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(
        ordered(&server),
        ["main", "dev"],
        "a new instance comes last in its group"
    );
    let said = server.fly_ok(&[
        "order-instanced-pipelines",
        "-g",
        "p",
        "-p",
        "branch:dev",
        "-p",
        "branch:main",
    ]);
    assert!(said.contains("ordered instanced pipelines"), "{said}");
    assert_eq!(ordered(&server), ["dev", "main"]);
    let unknown = server.fly(&["order-instanced-pipelines", "-g", "p", "-p", "branch:nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));

    server.fly_ok(&["unpause-pipeline", "-p", "p/branch:dev"]);
    let watched = server.fly_ok(&["trigger-job", "-w", "-j", "p/branch:dev/j"]);
    assert!(watched.contains("dev"), "{watched}");

    let archived = server.fly_ok(&["archive-pipeline", "-n", "-p", "p/branch:dev"]);
    assert!(archived.contains("archived 'p/branch:dev'"), "{archived}");
    let table = server.fly_ok(&["pipelines", "--include-archived"]);
    let dev_row = table
        .lines()
        .find(|line| line.contains("p/branch:dev"))
        .unwrap_or_else(|| panic!("{table}"));
    let columns: Vec<&str> = dev_row.split_whitespace().collect();
    assert_eq!(
        columns.get(2..5),
        Some(&["yes", "no", "yes"][..]),
        "paused, public, archived: {table}"
    );
    let refused = server.fly(&["trigger-job", "-j", "p/branch:dev/j"]);
    assert!(
        !refused.status.success(),
        "an archived pipeline runs nothing"
    );
    let history = server.get_json("/api/v1/builds/1");
    assert_eq!(history["status"], "succeeded", "its builds stay: {history}");
    let main_row = server.fly_ok(&["pipelines"]);
    assert!(
        main_row.contains("p/branch:main"),
        "the other instance is untouched: {main_row}"
    );
}
