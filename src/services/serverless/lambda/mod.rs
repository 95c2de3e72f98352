//! Containment of Lambda functions that the outside world can reach or that keep running on their own:
//!
//! - [`lambda_throttle`]: reserved concurrency 0, so no invocation runs at all.
//! - [`lambda_url_restrict`]: a function URL open to anyone (auth type NONE) requires IAM auth.
//! - [`lambda_permission_remove`]: resource-policy statements that let anyone invoke.
//!
//! URLs and resource policies belong to the function or to one of its aliases, each with its own: both
//! are read (numbered versions can carry policies too, but are not read). Reserved concurrency is per
//! function, so throttling covers every version and alias.

use std::future::Future;

use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

/// How many functions are read at once during discovery: a region with hundreds of functions is read
/// in seconds, while staying well under Lambda's control-plane request rate.
const READ_CONCURRENCY: usize = 8;

pub mod lambda_permission_remove;
pub mod lambda_throttle;
pub mod lambda_url_restrict;

pub use lambda_permission_remove::LambdaPermissionRemove;
pub use lambda_throttle::LambdaThrottle;
pub use lambda_url_restrict::LambdaUrlRestrict;

/// Every function's name in the region, sorted.
pub async fn function_names(ctx: &RegionCtx) -> Result<Vec<String>, ServiceError> {
    let functions: Vec<_> = ctx
        .lambda()
        .list_functions()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:ListFunctions", err))?;
    let mut names: Vec<String> = functions
        .iter()
        .filter_map(|f| f.function_name().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `read` for every function of the region, a few at a time, and gathers what each found, in
/// function-name order.
pub async fn per_function<T, F, Fut>(ctx: &RegionCtx, read: F) -> Result<Vec<T>, ServiceError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ServiceError>>,
{
    gather(function_names(ctx).await?, READ_CONCURRENCY, read).await
}

/// A function's aliases, sorted.
pub async fn aliases(ctx: &RegionCtx, function: &str) -> Result<Vec<String>, ServiceError> {
    let aliases: Vec<_> = ctx
        .lambda()
        .list_aliases()
        .function_name(function)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:ListAliases", err))?;
    let mut names: Vec<String> = aliases
        .iter()
        .filter_map(|a| a.name().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// The function itself, then each alias: what a URL or a resource policy can belong to.
pub async fn qualifiers(
    ctx: &RegionCtx,
    function: &str,
) -> Result<Vec<Option<String>>, ServiceError> {
    Ok(std::iter::once(None)
        .chain(aliases(ctx, function).await?.into_iter().map(Some))
        .collect())
}

/// `function` or `function:alias`, as Lambda writes a qualified name.
pub fn qualified(function: &str, alias: Option<&str>) -> String {
    match alias {
        Some(alias) => format!("{function}:{alias}"),
        None => function.to_string(),
    }
}

/// Lambda's answer for a function, URL or policy that does not exist.
pub fn is_not_found(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("ResourceNotFoundException")
}
