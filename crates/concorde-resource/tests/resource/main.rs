//! Integration tests of the built-in resource types, driven through `run_with_context` exactly
//! as the `concorde resource` command drives them: JSON on stdin, JSON on stdout, logs on stderr.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod bad_input;
mod bearer_proxy;
mod git;
mod git_http;
mod mock;
mod registry;
mod registry_fixture;
mod support;
mod time;
mod type_dir;
