//! Test helpers: a compact way to write a history and to print a resolution, shared by the
//! semantics tests and the property tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use concorde_sched::{
    BuildId, BuildRef, CheckOrder, InputConfig, InputName, JobId, MemoryView, MemoryViewBuilder,
    OutputEntry, PinnedVersion, Resolution, ResourceId, ScopeId,
};

/// A history under construction. Resources 1 to 4 exist, each with its own scope; version
/// names double as digests and as the `ver` field.
pub struct History {
    pub builder: MemoryViewBuilder,
}

/// One build of a `History`.
pub struct BuildSpec<'a> {
    pub id: i64,
    pub job: i64,
    pub succeeded: bool,
    pub rerun_of: Option<i64>,
    /// (resource, version) produced.
    pub outputs: &'a [(i64, &'a str)],
    /// (resource, version, input name) consumed.
    pub inputs: &'a [(i64, &'a str, &'a str)],
}

impl History {
    pub fn new() -> History {
        let mut builder = MemoryView::builder();
        builder.page_size(2);
        for resource in 1..=4 {
            builder.resource(ResourceId(resource), Some(ScopeId(resource)));
        }
        History { builder }
    }

    /// Adds versions `names` to `resource`, with check orders 1, 2, ...
    pub fn versions(&mut self, resource: i64, names: &[&str]) -> &mut Self {
        for (index, name) in names.iter().enumerate() {
            let fields = BTreeMap::from([("ver".to_owned(), (*name).to_owned())]);
            self.builder.version(
                ScopeId(resource),
                name,
                CheckOrder(index as i64 + 1),
                fields,
            );
        }
        self
    }

    pub fn disable(&mut self, resource: i64, name: &str) -> &mut Self {
        self.builder.disable(ResourceId(resource), name);
        self
    }

    /// Adds a build, its records and (when it succeeded) its successful-build-outputs row.
    pub fn build(&mut self, spec: BuildSpec<'_>) -> &mut Self {
        let build = BuildRef {
            id: BuildId(spec.id),
            rerun_of: spec.rerun_of.map(BuildId),
        };
        self.builder
            .build(build, JobId(spec.job), spec.succeeded, false);
        let mut entries = Vec::new();
        for (resource, version) in spec.outputs {
            self.builder
                .output(build.id, ResourceId(*resource), version);
            let digest = self.builder.digest(version);
            entries.push(OutputEntry {
                resource: ResourceId(*resource),
                digest,
            });
        }
        for (resource, version, name) in spec.inputs {
            self.builder.input(
                build.id,
                ResourceId(*resource),
                version,
                InputName((*name).to_owned()),
            );
            let digest = self.builder.digest(version);
            entries.push(OutputEntry {
                resource: ResourceId(*resource),
                digest,
            });
        }
        if spec.succeeded {
            self.builder
                .successful_build_outputs(build, JobId(spec.job), entries);
        }
        self
    }

    /// A succeeded original build with outputs only.
    pub fn outputs(&mut self, id: i64, job: i64, outputs: &[(i64, &str)]) -> &mut Self {
        self.build(BuildSpec {
            id,
            job,
            succeeded: true,
            rerun_of: None,
            outputs,
            inputs: &[],
        })
    }

    pub fn pipe(&mut self, from: i64, to: i64) -> &mut Self {
        self.builder.pipe(BuildId(from), BuildId(to));
        self
    }

    pub fn finish(self) -> MemoryView {
        self.builder.finish()
    }
}

impl Default for History {
    fn default() -> Self {
        History::new()
    }
}

/// An input on `resource` passed through `passed`.
pub fn input(name: &str, resource: i64, passed: &[i64]) -> InputConfig {
    InputConfig::latest(name, ResourceId(resource)).with_passed(passed.iter().map(|&id| JobId(id)))
}

/// The pin `{"ver": version}`.
pub fn pin(version: &str) -> PinnedVersion {
    PinnedVersion(BTreeMap::from([("ver".to_owned(), version.to_owned())]))
}

/// One line per input, then `has_next`: the shape the expect tests compare.
pub fn render(inputs: &[InputConfig], resolution: &Resolution) -> String {
    let mut out = String::new();
    for (input, result) in inputs.iter().zip(&resolution.inputs) {
        match result {
            Ok(resolved) => {
                let ids: Vec<i64> = resolved.passed_build_ids.iter().map(|id| id.0).collect();
                let first = if resolved.first_occurrence {
                    " first"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "{}: {} from {ids:?}{first}\n",
                    input.name, resolved.digest
                ));
            }
            Err(error) => out.push_str(&format!("{}: error: {error}\n", input.name)),
        }
    }
    out.push_str(&format!("has_next: {}\n", resolution.has_next));
    out
}
