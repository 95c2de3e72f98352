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

use serde_json::Value;

use crate::aws::RegionCtx;
use crate::services::common::unclassified;
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

/// Every function's name in the region, sorted. A function listed without its name cannot be read or
/// cut (every call names it): it is reported for `kind`, with its ARN when it has one.
pub async fn function_names(ctx: &RegionCtx, kind: &str) -> Result<Vec<String>, ServiceError> {
    let functions: Vec<_> = ctx
        .lambda()
        .list_functions()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:ListFunctions", err))?;
    for unnamed in functions.iter().filter(|f| f.function_name().is_none()) {
        unclassified::report(
            ctx,
            kind,
            &ctx.region,
            &format!(
                "a Lambda function ({})",
                unnamed.function_arn().unwrap_or("no ARN given")
            ),
            "ListFunctions returned it without its FunctionName",
        )
        .await;
    }
    let mut names: Vec<String> = functions
        .iter()
        .filter_map(|f| f.function_name().map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Runs `read` for every function of the region, a few at a time, and gathers what each found, in
/// function-name order.
pub async fn per_function<T, F, Fut>(
    ctx: &RegionCtx,
    kind: &str,
    read: F,
) -> Result<Vec<T>, ServiceError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ServiceError>>,
{
    gather(function_names(ctx, kind).await?, READ_CONCURRENCY, read).await
}

/// A function's aliases, sorted. An alias listed without its name cannot be read (its URL and policy are
/// asked for by name): it is reported for `kind`.
pub async fn aliases(
    ctx: &RegionCtx,
    kind: &str,
    function: &str,
) -> Result<Vec<String>, ServiceError> {
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
    for unnamed in aliases.iter().filter(|a| a.name().is_none()) {
        unclassified::report(
            ctx,
            kind,
            &ctx.region,
            &format!(
                "an alias of Lambda function {function} ({})",
                unnamed.alias_arn().unwrap_or("no ARN given")
            ),
            "ListAliases returned it without its Name, so its function URL and resource policy cannot be read",
        )
        .await;
    }
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
    kind: &str,
    function: &str,
) -> Result<Vec<Option<String>>, ServiceError> {
    Ok(std::iter::once(None)
        .chain(aliases(ctx, kind, function).await?.into_iter().map(Some))
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

/// The values a statement's conditions give `key` under `operator` (both matched without regard to
/// case, as IAM reads them).
fn condition_values<'a>(statement: &'a Value, operator: &str, key: &str) -> Vec<&'a Value> {
    let Some(operators) = statement.get("Condition").and_then(Value::as_object) else {
        return vec![];
    };
    operators
        .iter()
        .filter(|(op, _)| op.eq_ignore_ascii_case(operator))
        .filter_map(|(_, keys)| keys.as_object())
        .flat_map(|keys| keys.iter())
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, value)| value)
        .collect()
}

/// A condition value read as a boolean: `"true"`, `true`, or a list of exactly one of them.
pub fn condition_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        Value::Array(items) if items.len() == 1 => condition_bool(&items[0]),
        _ => None,
    }
}

/// The statement's `Bool` condition on `lambda:InvokedViaFunctionUrl`, if it has one. Since October
/// 2025 a function URL needs `lambda:InvokeFunction` as well as `lambda:InvokeFunctionUrl`; AWS grants
/// the former to a URL's callers with this condition, so the statement applies only to calls made
/// through the URL (<https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>).
pub fn invoked_via_function_url(statement: &Value) -> Option<bool> {
    condition_values(statement, "Bool", "lambda:InvokedViaFunctionUrl")
        .into_iter()
        .find_map(condition_bool)
}

/// The statement's `StringEquals` condition on `lambda:FunctionUrlAuthType`, if any (upper case). The
/// emulator records it as a field of the statement instead.
pub fn function_url_auth_type(statement: &Value) -> Option<String> {
    condition_values(statement, "StringEquals", "lambda:FunctionUrlAuthType")
        .into_iter()
        .find_map(|v| match v {
            Value::String(s) => Some(s.to_ascii_uppercase()),
            Value::Array(items) if items.len() == 1 => {
                items[0].as_str().map(str::to_ascii_uppercase)
            }
            _ => None,
        })
        .or_else(|| {
            statement
                .get("FunctionUrlAuthType")
                .and_then(Value::as_str)
                .map(str::to_ascii_uppercase)
        })
}

fn actions(statement: &Value) -> Vec<&str> {
    match statement.get("Action") {
        Some(Value::String(action)) => vec![action.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// Whether the statement grants a part of calling the function through its URL:
/// `lambda:InvokeFunctionUrl`, or `lambda:InvokeFunction` limited to URL calls by
/// `lambda:InvokedViaFunctionUrl`.
pub fn is_url_invoke(statement: &Value) -> bool {
    let actions = actions(statement);
    let has = |wanted: &str| actions.iter().any(|a| a.eq_ignore_ascii_case(wanted));
    has("lambda:InvokeFunctionUrl")
        || (has("lambda:InvokeFunction") && invoked_via_function_url(statement) == Some(true))
}

/// Lambda's documented ResourceNotFoundException (404), as the SDK hands it over, for mock tests.
#[cfg(test)]
pub(crate) fn not_found(message: &str) -> aws_sdk_lambda::types::error::ResourceNotFoundException {
    aws_sdk_lambda::types::error::ResourceNotFoundException::builder()
        .message(message)
        .meta(
            aws_sdk_lambda::error::ErrorMetadata::builder()
                .code("ResourceNotFoundException")
                .message(message)
                .build(),
        )
        .build()
}
