//! The `registry-image` resource type (not yet implemented).

use std::path::Path;

use crate::protocol::Log;
use crate::{Context, Output, Request, ResourceError, Version};

pub(crate) fn check(_ctx: &Context, _request: &Request, _log: &mut Log<'_>) -> Result<Vec<Version>, ResourceError> {
    Err(ResourceError::UnknownType("registry-image".to_owned()))
}

pub(crate) fn get(_ctx: &Context, _dir: &Path, _request: &Request, _log: &mut Log<'_>) -> Result<Output, ResourceError> {
    Err(ResourceError::UnknownType("registry-image".to_owned()))
}

pub(crate) fn put(_ctx: &Context, _dir: &Path, _request: &Request, _log: &mut Log<'_>) -> Result<Output, ResourceError> {
    Err(ResourceError::UnknownType("registry-image".to_owned()))
}
