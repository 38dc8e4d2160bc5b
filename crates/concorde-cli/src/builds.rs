//! `concorde builds`: fly's `builds`, recent builds of a job, a pipeline, teams or everything
//! visible, as a table or JSON.

use concorde_proto::{Build, Team};

use crate::fly::Ctx;
use crate::fly::client::{ClientError, percent};
use crate::fly::flags::{PipelineChild, PipelineRef, job_arg, pipeline_arg};
use crate::fly::table::{Cell, Table};
use crate::fly::times::{build_duration, build_time, parse_local};

/// Arguments of `builds`.
#[derive(Debug, clap::Args)]
pub struct BuildsArgs {
    /// Show builds for all the teams that the user has access to.
    #[arg(short = 'a', long = "all-teams")]
    pub all_teams: bool,
    /// Number of builds you want to limit the return to.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub count: usize,
    /// Show builds for the currently targeted team.
    #[arg(long = "current-team")]
    pub current_team: bool,
    /// Name of a job to get builds for.
    #[arg(short = 'j', long, value_name = "PIPELINE/JOB", value_parser = job_arg)]
    pub job: Option<PipelineChild>,
    /// Print command result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Name of a pipeline to get builds for.
    #[arg(short = 'p', long, value_name = "PIPELINE", value_parser = pipeline_arg)]
    pub pipeline: Option<PipelineRef>,
    /// Show builds for these teams.
    #[arg(short = 'n', long = "team")]
    pub teams: Vec<String>,
    /// Start of the range to filter builds (`yyyy-mm-dd HH:mm:ss`, local time).
    #[arg(long)]
    pub since: Option<String>,
    /// End of the range to filter builds (`yyyy-mm-dd HH:mm:ss`, local time).
    #[arg(long)]
    pub until: Option<String>,
}

/// Lists builds.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &BuildsArgs) -> anyhow::Result<u8> {
    let session = ctx.session()?;
    let since = parse_time(ctx, args.since.as_deref(), "Since")?;
    let until = parse_time(ctx, args.until.as_deref(), "Until")?;
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        anyhow::bail!("Cannot have --since after --until");
    }
    if args.pipeline.is_some() && args.job.is_some() {
        anyhow::bail!("Cannot specify both --pipeline and --job");
    }
    if args.current_team && args.all_teams {
        anyhow::bail!("Cannot specify both --all-teams and --current-team");
    }
    if !args.teams.is_empty() && args.all_teams {
        anyhow::bail!("Cannot specify both --all-teams and --team");
    }
    let mut page = vec![("limit".to_owned(), args.count.to_string())];
    if since.is_some() || until.is_some() {
        page.push(("timestamps".to_owned(), "true".to_owned()));
    }
    if let Some(since) = since {
        page.push(("from".to_owned(), since.to_string()));
    }
    if let Some(until) = until {
        page.push(("to".to_owned(), until.to_string()));
    }
    let team_builds = |team: &str| format!("/api/v1/teams/{}/builds", percent(team));
    let mut raw: Vec<serde_json::Value> = Vec::new();
    if let Some(pipeline) = &args.pipeline {
        let path = format!("{}/builds", pipeline.path(&session.team));
        let mut query = page.clone();
        query.extend(pipeline.query());
        raw = match session.client.get(&path, query) {
            Err(ClientError::NotFound) => anyhow::bail!("pipeline not found"),
            other => other?,
        };
    } else if let Some(job) = &args.job {
        let path = format!("{}/builds", job.path(&session.team, "jobs"));
        let mut query = page.clone();
        query.extend(job.pipeline.query());
        raw = match session.client.get(&path, query) {
            Err(ClientError::NotFound) => anyhow::bail!("pipeline/job not found"),
            other => other?,
        };
    } else if args.all_teams || args.current_team || !args.teams.is_empty() {
        let mut teams = args.teams.clone();
        if args.current_team {
            teams.insert(0, session.team.clone());
        }
        if args.all_teams {
            let listed: Vec<Team> = session.client.get("/api/v1/teams", Vec::new())?;
            teams = listed.into_iter().map(|team| team.name).collect();
        }
        for team in teams {
            let builds: Vec<serde_json::Value> =
                session.client.get(&team_builds(&team), page.clone())?;
            raw.extend(builds);
        }
    } else {
        raw = session.client.get("/api/v1/builds", page)?;
    }
    raw.truncate(args.count);
    if args.json {
        ctx.print_json(&serde_json::Value::Array(raw))?;
        return Ok(0);
    }
    let mut table = Table::new(&[
        "id",
        "name",
        "status",
        "start",
        "end",
        "duration",
        "team",
        "created by",
    ]);
    for value in raw {
        let build: Build = serde_json::from_value(value)?;
        let zone = &ctx.io.time_zone;
        table.rows.push(vec![
            Cell::plain(build.id.to_string()),
            Cell::plain(build_name(&build)),
            Cell::status(build.status.as_str()),
            Cell::plain(build_time(build.start_time, zone)),
            Cell::plain(build_time(build.end_time, zone)),
            Cell::plain(build_duration(build.start_time, build.end_time, ctx.io.now)),
            Cell::plain(build.team_name.as_str()),
            Cell::plain(build.created_by.as_deref().unwrap_or("system")),
        ]);
    }
    ctx.render(&table)?;
    Ok(0)
}

/// `pipeline[/instance vars]/job/build`, `pipeline/resource/check`, or a one-off's number.
fn build_name(build: &Build) -> String {
    let Some(pipeline_name) = &build.pipeline_name else {
        return build.name.clone();
    };
    let pipeline = PipelineRef {
        name: pipeline_name.clone(),
        instance_vars: build.pipeline_instance_vars.clone().unwrap_or_default(),
    };
    match (&build.job_name, &build.resource_name) {
        (Some(job), _) => format!("{pipeline}/{job}/{}", build.name),
        (None, Some(resource)) => format!("{pipeline}/{resource}/{}", build.name),
        (None, None) => build.name.clone(),
    }
}

/// Parses `--since`/`--until` in the local zone into Unix seconds.
fn parse_time(ctx: &Ctx<'_, '_>, text: Option<&str>, which: &str) -> anyhow::Result<Option<i64>> {
    let Some(text) = text else { return Ok(None) };
    match parse_local(text, &ctx.io.time_zone) {
        Some(seconds) => Ok(Some(seconds)),
        None => anyhow::bail!("{which} time should be in the format: 2006-01-02 15:04:05"),
    }
}
