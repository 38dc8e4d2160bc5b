//! `concorde check-resource-type`: fly's `check-resource-type`, the same flow as
//! `check-resource` against a resource type.

use crate::check_resource::{Check, run_check};
use crate::fly::Ctx;
use crate::fly::flags::{PipelineChild, resource_type_arg};

/// Arguments of `check-resource-type`.
#[derive(Debug, clap::Args)]
pub struct CheckResourceTypeArgs {
    /// Name of a resource type to check.
    #[arg(short = 'r', long = "resource-type", value_name = "PIPELINE/RESOURCE-TYPE", value_parser = resource_type_arg)]
    pub resource_type: PipelineChild,
    /// Version of the resource type to check from.
    #[arg(short = 'f', long = "from", value_name = "VERSION")]
    pub from: Vec<String>,
    /// Return the check without waiting for its result.
    #[arg(short = 'a', long = "async")]
    pub run_async: bool,
    /// Check the resource type itself only.
    #[arg(long)]
    pub shallow: bool,
    /// Team of the pipeline, if not the target's.
    #[arg(long)]
    pub team: Option<String>,
}

/// Checks the resource type.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &CheckResourceTypeArgs) -> anyhow::Result<u8> {
    let check = Check {
        target: &args.resource_type,
        collection: "resource-types",
        from: &args.from,
        run_async: args.run_async,
        shallow: args.shallow,
        team: &args.team,
    };
    run_check(ctx, &check, "resource type")
}
