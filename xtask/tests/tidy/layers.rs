//! The crate layering: ARCHITECTURE.md's "Layers" table, lowest layer first, must say exactly
//! which in-house crates each crate's `[dependencies]` name, and every edge must point to a
//! crate listed above (downwards).

use std::collections::{BTreeMap, BTreeSet};

/// Crate name to the in-house crates it depends on, in table order.
type Layering = Vec<(String, BTreeSet<String>)>;

/// Reads the table rows `| `crate` | `dep`, `dep` |` under the `### Layers` heading.
fn documented_layers(architecture: &str) -> Layering {
    let mut rows = Vec::new();
    let mut in_section = false;
    for line in architecture.lines() {
        if line.starts_with('#') {
            in_section = line.trim() == "### Layers";
            continue;
        }
        if !in_section || !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let names = |cell: &str| -> BTreeSet<String> {
            cell.split(',')
                .map(|name| name.trim().trim_matches('`').to_owned())
                .filter(|name| !name.is_empty())
                .collect()
        };
        let name = cells[0].trim_matches('`').to_owned();
        let deps = cells.get(1).map(|cell| names(cell)).unwrap_or_default();
        rows.push((name, deps));
    }
    rows
}

/// The in-house crates named in a manifest's `[dependencies]` (not dev or build ones).
fn manifest_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut in_section = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[dependencies]";
            continue;
        }
        if in_section && line.starts_with("concorde-") {
            let name = line.split(['.', ' ', '=']).next().unwrap_or_default();
            deps.insert(name.to_owned());
        }
    }
    deps
}

fn manifest_layers() -> BTreeMap<String, BTreeSet<String>> {
    let crates = crate::repo_root().join("crates");
    let mut layers = BTreeMap::new();
    for entry in std::fs::read_dir(&crates)
        .expect("crates/ is readable")
        .flatten()
    {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        layers.insert(name, manifest_dependencies(&text));
    }
    layers
}

#[test]
fn architecture_layers_match_every_manifest() {
    let architecture = std::fs::read_to_string(crate::repo_root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md is readable");
    let documented = documented_layers(&architecture);
    assert!(
        !documented.is_empty(),
        "ARCHITECTURE.md has no \"### Layers\" table"
    );
    let actual = manifest_layers();
    let documented_map: BTreeMap<_, _> = documented.iter().cloned().collect();
    assert_eq!(
        documented_map, actual,
        "ARCHITECTURE.md's Layers table (left) differs from the manifests (right)"
    );
    for (position, (name, deps)) in documented.iter().enumerate() {
        let below: BTreeSet<&String> = documented[..position].iter().map(|(n, _)| n).collect();
        for dep in deps {
            assert!(
                below.contains(dep),
                "{name} depends on {dep}, which is not listed below it: dependencies must point downwards"
            );
        }
    }
}

#[test]
fn reads_tables_and_manifests() {
    let table = "### Layers\n\n| crate | depends on |\n|---|---|\n| `a` | |\n| `b` | `a` |\n\n## Next\n| `c` | `b` |\n";
    let rows = documented_layers(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].1, BTreeSet::from(["a".to_owned()]));
    let manifest = "[dependencies]\nconcorde-a.workspace = true\nserde = \"1\"\n\n[dev-dependencies]\nconcorde-b = { path = \"x\" }\n";
    assert_eq!(
        manifest_dependencies(manifest),
        BTreeSet::from(["concorde-a".to_owned()])
    );
}
