//! Containment of Amazon API Gateway, the public front door of many serverless applications:
//!
//! - [`apigw_deny_policy`]: a resource policy on each REST API denying every invocation,
//!   deployed to each stage so it takes effect.
//! - [`apigw_stage_throttle`]: throttling 0 on every stage of REST APIs (method
//!   settings `*/*`) and of HTTP and WebSocket APIs (default route settings), so every request is refused
//!   with 429 even where a resource policy cannot be used.

use aws_sdk_apigateway::types::{Op, PatchOperation};
use serde_json::Value;

use crate::aws::RegionCtx;
use crate::services::ServiceError;
use crate::services::common::unclassified;

/// How many APIs are read at once during discovery: API Gateway's control plane allows only a few
/// requests per second per account.
pub const READ_CONCURRENCY: usize = 4;

pub mod apigw_deny_policy;
pub mod apigw_stage_throttle;

pub use apigw_deny_policy::ApiGatewayDenyPolicy;
pub use apigw_stage_throttle::ApiGatewayStageThrottle;

/// A REST API as discovery sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestApiSummary {
    pub id: String,
    pub name: String,
    /// The resource policy as JSON text, unescaped (see [`policy_text`]).
    pub policy: Option<String>,
}

/// Every REST API in the region, sorted by ID.
pub async fn rest_apis(ctx: &RegionCtx, kind: &str) -> Result<Vec<RestApiSummary>, ServiceError> {
    let apis: Vec<_> = ctx
        .apigateway()
        .get_rest_apis()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis", err))?;
    // Every call about an API names its ID: one listed without it cannot be cut.
    for unnamed in apis.iter().filter(|api| api.id().is_none()) {
        unclassified::report(
            ctx,
            kind,
            &ctx.region,
            &format!("REST API {}", unnamed.name().unwrap_or("(no name given)")),
            "GetRestApis returned it without its id, so it cannot be read or cut",
        )
        .await;
    }
    let mut apis: Vec<RestApiSummary> = apis
        .iter()
        .filter_map(|api| {
            Some(RestApiSummary {
                id: api.id()?.to_string(),
                name: api.name().unwrap_or_default().to_string(),
                policy: api.policy().and_then(policy_text),
            })
        })
        .collect();
    apis.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(apis)
}

/// One REST API's current resource policy (None when it has none); a missing API is an error with code
/// `NotFoundException`.
pub async fn rest_api_policy(
    ctx: &RegionCtx,
    api_id: &str,
) -> Result<Option<String>, ServiceError> {
    let out = ctx
        .apigateway()
        .get_rest_api()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis/{id}", err))?;
    Ok(out.policy().and_then(policy_text))
}

/// API Gateway returns a REST API's policy with its quotes backslash-escaped (`{\"Version\":…}`); the
/// emulator returns plain JSON. Both become the JSON text; an empty policy is none.
pub fn policy_text(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if serde_json::from_str::<Value>(raw).is_ok() {
        return Some(raw.to_string());
    }
    match serde_json::from_str::<String>(&format!("\"{raw}\"")) {
        Ok(unescaped) if serde_json::from_str::<Value>(&unescaped).is_ok() => Some(unescaped),
        _ => Some(raw.to_string()),
    }
}

/// Policies are compared by meaning: API Gateway may reformat the text.
pub fn same_policy(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => crate::services::mail::same_document(a, b),
        (None, None) => true,
        _ => false,
    }
}

pub fn replace(path: &str, value: impl Into<String>) -> PatchOperation {
    PatchOperation::builder()
        .op(Op::Replace)
        .path(path)
        .value(value)
        .build()
}

/// API Gateway's answer for an API, stage or deployment that does not exist.
/// Reports the stages GetStages answered without a name (`stageName` in REST, `StageName` in HTTP and
/// WebSocket APIs): every call that changes a stage names it, so no cut can reach them. `what_for` says
/// which call, e.g. "which UpdateStage cannot name". Never silently skipped (issue 11).
pub async fn report_unnamed_stages(
    ctx: &RegionCtx,
    kind: &str,
    api_id: &str,
    unnamed: usize,
    field: &str,
    what_for: &str,
) {
    if unnamed > 0 {
        unclassified::report(
            ctx,
            kind,
            &ctx.region,
            api_id,
            format!("GetStages returned {unnamed} stage(s) without a {field}, {what_for}"),
        )
        .await;
    }
}

pub fn is_not_found(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("NotFoundException")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_and_plain_policies_read_the_same() {
        let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
        let escaped = r#"{\"Version\":\"2012-10-17\",\"Statement\":[]}"#;
        assert_eq!(policy_text(plain).as_deref(), Some(plain));
        assert_eq!(policy_text(escaped).as_deref(), Some(plain));
        assert_eq!(policy_text(""), None);
        assert!(same_policy(Some(plain), policy_text(escaped).as_deref()));
    }
}
