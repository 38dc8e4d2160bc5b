//! Store rows to wire types: units (milliseconds to unix seconds), names the rows only hold as
//! ids, what the stored configs say (groups, inputs, icons), and pagination of newest-first
//! lists with Concourse's `Link` headers.

use axum::http::{HeaderMap, HeaderValue, header};
use concorde_config::model::{self, StepBody};
use concorde_proto::{self as proto, Page, Pagination};
use concorde_store::{self as store, Timestamp};

/// Unix seconds of a store timestamp.
pub fn secs(time: Timestamp) -> i64 {
    time.0.div_euclid(1000)
}

/// The wire form of a pipeline.
pub fn pipeline(pipeline: &store::Pipeline, team_name: &str) -> proto::Pipeline {
    let config = &pipeline.config;
    let groups = config
        .get("groups")
        .cloned()
        .and_then(|groups| serde_json::from_value(groups).ok());
    let display = config
        .get("display")
        .cloned()
        .and_then(|display| serde_json::from_value(display).ok());
    proto::Pipeline {
        id: pipeline.id,
        name: pipeline.name.clone(),
        instance_vars: pipeline.instance_vars.clone(),
        paused: pipeline.paused,
        paused_by: pipeline.paused_by.clone().filter(|_| pipeline.paused),
        paused_at: None,
        public: pipeline.public,
        archived: pipeline.archived,
        groups: groups.unwrap_or_default(),
        team_name: team_name.to_owned(),
        display,
        user_data: config
            .get("user_data")
            .cloned()
            .filter(|data| !data.is_null()),
        parent_build_id: pipeline.parent_build_id,
        parent_job_id: pipeline.parent_job_id,
        last_updated: secs(pipeline.last_updated),
    }
}

/// The wire form of a build, given the names its row only holds as ids.
pub fn build(
    build: &store::Build,
    team_name: String,
    job_name: Option<String>,
    pipeline: Option<&store::Pipeline>,
    rerun_of: Option<proto::RerunOf>,
) -> proto::Build {
    proto::Build {
        id: build.id,
        team_name,
        name: build.name.clone(),
        status: build.status,
        api_url: format!("/api/v1/builds/{}", build.id),
        comment: None,
        job_name,
        resource_name: None,
        pipeline_id: pipeline.map(|p| p.id),
        pipeline_name: pipeline.map(|p| p.name.clone()),
        pipeline_instance_vars: pipeline.and_then(|p| p.instance_vars.clone()),
        start_time: build.start_time.map(secs),
        end_time: build.end_time.map(secs),
        reap_time: None,
        rerun_number: (build.rerun_number > 0).then_some(build.rerun_number),
        rerun_of,
        created_by: build.created_by.clone(),
    }
}

/// The summary form of a presented build.
pub fn summary(build: &proto::Build) -> proto::BuildSummary {
    proto::BuildSummary {
        id: build.id,
        name: build.name.clone(),
        status: build.status,
        start_time: build.start_time,
        end_time: build.end_time,
        team_name: build.team_name.clone(),
        pipeline_id: build.pipeline_id.unwrap_or(proto::PipelineId(0)),
        pipeline_name: build.pipeline_name.clone().unwrap_or_default(),
        pipeline_instance_vars: build.pipeline_instance_vars.clone(),
        job_name: build.job_name.clone(),
        plan: None,
    }
}

/// A job's get steps (plan and hooks, in plan order) as inputs.
pub fn job_inputs(job: &model::Job) -> Vec<proto::JobInput> {
    job.get_steps()
        .into_iter()
        .map(|get| proto::JobInput {
            name: get.name.clone(),
            resource: get.resource_name().to_owned(),
            trigger: get.trigger,
            passed: get.passed.clone(),
        })
        .collect()
}

/// A job's put steps as outputs.
pub fn job_outputs(job: &model::Job) -> Vec<proto::JobOutput> {
    let mut outputs = Vec::new();
    for step in job.top_level_steps() {
        step.for_each(&mut |inner| {
            if let StepBody::Put(put) = &inner.body {
                outputs.push(proto::JobOutput {
                    name: put.name.clone(),
                    resource: put.resource_name().to_owned(),
                });
            }
        });
    }
    outputs
}

/// Names of the groups whose job globs match the job.
pub fn job_groups(config: &model::Pipeline, job: &str) -> Vec<String> {
    config
        .groups
        .iter()
        .filter(|group| {
            group.jobs.iter().any(|glob| {
                concorde_config::validate::GroupGlob::compile(glob)
                    .is_some_and(|glob| glob.matches(job))
            })
        })
        .map(|group| group.name.clone())
        .collect()
}

/// The wire form of a resource version; metadata only when `show_metadata`.
pub fn resource_version(
    version: &store::ResourceVersion,
    enabled: bool,
    show_metadata: bool,
) -> proto::ResourceVersion {
    let metadata = if show_metadata {
        // Metadata is `null` until a check or put reports some.
        serde_json::from_value(version.metadata.clone()).unwrap_or_default()
    } else {
        Vec::new()
    };
    proto::ResourceVersion {
        id: version.id,
        version: version.version.clone(),
        metadata,
        enabled,
    }
}

/// One page of a newest-first list, and its neighbours, by `id`.
///
/// `to` keeps ids ≤ `to`, `from` keeps ids ≥ `from` (the oldest `limit` of them), neither
/// keeps the newest `limit`.
pub fn paginate<T>(items: Vec<T>, id: impl Fn(&T) -> i64, page: &Page) -> (Vec<T>, Pagination) {
    let limit = usize::try_from(page.limit_or_default()).unwrap_or(usize::MAX);
    let total = items.len();
    let (start, end) = match (page.from, page.to) {
        (Some(from), _) => {
            let end = items
                .iter()
                .position(|item| id(item) < from)
                .unwrap_or(total);
            let start = end.saturating_sub(limit);
            let start = match page.to {
                Some(to) => start.max(
                    items
                        .iter()
                        .position(|item| id(item) <= to)
                        .unwrap_or(total),
                ),
                None => start,
            };
            (start.min(end), end)
        }
        (None, Some(to)) => {
            let start = items
                .iter()
                .position(|item| id(item) <= to)
                .unwrap_or(total);
            (start, (start.saturating_add(limit)).min(total))
        }
        (None, None) => (0, limit.min(total)),
    };
    let limit = Some(page.limit_or_default());
    let mut pagination = Pagination::default();
    // The newer page starts right above the shown items, the older one right below.
    if let Some(newer) = start.checked_sub(1).and_then(|index| items.get(index)) {
        pagination.previous = Some(Page {
            from: Some(id(newer)),
            to: None,
            limit,
        });
    }
    if let Some(older) = items.get(end) {
        pagination.next = Some(Page {
            from: None,
            to: Some(id(older)),
            limit,
        });
    }
    let shown = items.into_iter().skip(start).take(end - start).collect();
    (shown, pagination)
}

/// `Link` headers for a page's neighbours.
pub fn link_headers(external_url: &str, path: &str, pagination: &Pagination) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let links = [(pagination.next, "next"), (pagination.previous, "previous")];
    let path = encode_path(path);
    for (page, rel) in links {
        if let Some(page) = page {
            let value = proto::link_header(external_url.trim_end_matches('/'), &path, &page, rel);
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(header::LINK, value);
            }
        }
    }
    headers
}

/// `path` with each segment percent-encoded (names may hold spaces, `#`, non-ASCII, ...), so a
/// `Link` header is always a valid header value and a valid URL.
fn encode_path(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_paths_are_percent_encoded() {
        assert_eq!(
            encode_path("/api/v1/teams/main/pipelines/my pipe/résumé#1/versions"),
            "/api/v1/teams/main/pipelines/my%20pipe/r%C3%A9sum%C3%A9%231/versions"
        );
        let pagination = Pagination {
            next: Some(Page {
                to: Some(4),
                limit: Some(2),
                from: None,
            }),
            previous: None,
        };
        let headers = link_headers("http://ci", "/x/a b", &pagination);
        let link = headers
            .get(header::LINK)
            .expect("a Link header")
            .to_str()
            .unwrap();
        assert!(link.starts_with("<http://ci/x/a%20b?"), "{link}");
    }
}
