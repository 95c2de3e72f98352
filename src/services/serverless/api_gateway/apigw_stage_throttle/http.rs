//! HTTP and WebSocket API (API Gateway v2) stages: throttling lives in a stage's default route settings
//! and in the route settings of each route with limits of its own. The v2 UpdateStage replaces each route
//! settings object it names whole, so every write carries the object's other settings as read.

use std::collections::HashMap;

use aws_sdk_apigatewayv2::types::RouteSettings;

use super::{
    ACCOUNT_DEFAULT_BURST, ACCOUNT_DEFAULT_RATE, ApiFamily, LimitWrites, Limits, StageThrottle,
    StageWide,
};
use crate::aws::RegionCtx;
use crate::services::ServiceError;
use crate::services::common::unclassified;

/// Every v2 API's ID, following NextToken.
pub(super) async fn http_api_ids(ctx: &RegionCtx) -> Result<Vec<String>, ServiceError> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .apigatewayv2()
            .get_apis()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("apigateway:GET /v2/apis", err))?;
        for unnamed in out.items().iter().filter(|api| api.api_id().is_none()) {
            unclassified::report(
                ctx,
                super::INFO.name,
                &ctx.region,
                &format!(
                    "{} API {}",
                    unnamed
                        .protocol_type()
                        .map(|p| p.as_str())
                        .unwrap_or("HTTP or WebSocket"),
                    unnamed.name().unwrap_or("(no name given)")
                ),
                "GetApis returned it without its ApiId, so its stages cannot be read or throttled",
            )
            .await;
        }
        ids.extend(
            out.items()
                .iter()
                .filter_map(|api| api.api_id().map(str::to_string)),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    ids.sort();
    Ok(ids)
}

/// A v2 stage's settings as they are now, kept when writing new limits: the v2 write replaces a route
/// settings object whole.
#[derive(Debug, Clone, Default)]
pub(super) struct V2Settings {
    pub(super) default: Option<RouteSettings>,
    pub(super) routes: HashMap<String, RouteSettings>,
}

fn route_limits(settings: &RouteSettings) -> Limits {
    Limits {
        rate_limit: settings.throttling_rate_limit(),
        burst_limit: settings.throttling_burst_limit(),
    }
}

pub(super) fn http_throttle(api_id: &str, name: &str, settings: &V2Settings) -> StageThrottle {
    let stage_wide = settings.default.as_ref().map(route_limits);
    StageThrottle {
        family: ApiFamily::Http,
        api_id: api_id.to_string(),
        stage_name: name.to_string(),
        rate_limit: stage_wide.and_then(|l| l.rate_limit),
        burst_limit: stage_wide.and_then(|l| l.burst_limit),
        // A route whose settings set no throttling is governed by the default route settings.
        overrides: settings
            .routes
            .iter()
            .map(|(key, s)| (key.clone(), route_limits(s)))
            .filter(|(_, limits)| limits.is_set())
            .collect(),
    }
}

fn v2_settings(
    default: Option<&RouteSettings>,
    routes: Option<&HashMap<String, RouteSettings>>,
) -> V2Settings {
    V2Settings {
        default: default.cloned(),
        routes: routes.cloned().unwrap_or_default(),
    }
}

pub(super) async fn http_stages(
    ctx: &RegionCtx,
    api_id: &str,
) -> Result<Vec<StageThrottle>, ServiceError> {
    let mut stages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .apigatewayv2()
            .get_stages()
            .api_id(api_id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("apigateway:GET /v2/apis/{id}/stages", err))?;
        let unnamed = out
            .items()
            .iter()
            .filter(|s| s.stage_name().is_none())
            .count();
        super::super::report_unnamed_stages(
            ctx,
            super::INFO.name,
            api_id,
            unnamed,
            "StageName",
            "which UpdateStage cannot name",
        )
        .await;
        stages.extend(out.items().iter().filter_map(|stage| {
            let settings = v2_settings(stage.default_route_settings(), stage.route_settings());
            Some(http_throttle(api_id, stage.stage_name()?, &settings))
        }));
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(stages)
}

/// One stage's throttling and route settings now; a missing API or stage is an error with code
/// `NotFoundException`.
pub(super) async fn read_stage(
    ctx: &RegionCtx,
    api_id: &str,
    stage: &str,
) -> Result<(StageThrottle, V2Settings), ServiceError> {
    ctx.apigatewayv2()
        .get_stage()
        .api_id(api_id)
        .stage_name(stage)
        .send()
        .await
        .map(|out| {
            let settings = v2_settings(out.default_route_settings(), out.route_settings());
            (http_throttle(api_id, stage, &settings), settings)
        })
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /v2/apis/{id}/stages/{stage}", err))
}

/// v2 route settings with new limits, every other setting kept.
fn http_settings(current: Option<&RouteSettings>, rate: f64, burst: i32) -> RouteSettings {
    let mut settings = RouteSettings::builder()
        .throttling_rate_limit(rate)
        .throttling_burst_limit(burst);
    if let Some(current) = current {
        settings = settings
            .set_data_trace_enabled(current.data_trace_enabled())
            .set_detailed_metrics_enabled(current.detailed_metrics_enabled())
            .set_logging_level(current.logging_level().cloned());
    }
    settings.build()
}

/// The v2 UpdateStage fields for `writes`: the default route settings (None: not sent) and the route
/// settings of the routes written (routes not named keep theirs).
fn http_update(
    writes: &LimitWrites,
    current: &V2Settings,
) -> (Option<RouteSettings>, HashMap<String, RouteSettings>) {
    let default = match writes.stage_wide {
        StageWide::Keep => None,
        StageWide::Set(rate, burst) => Some(http_settings(current.default.as_ref(), rate, burst)),
        StageWide::Unset => Some(http_settings(
            current.default.as_ref(),
            ACCOUNT_DEFAULT_RATE,
            ACCOUNT_DEFAULT_BURST,
        )),
    };
    let routes = writes
        .overrides
        .iter()
        .map(|(key, (rate, burst))| {
            (
                key.clone(),
                http_settings(current.routes.get(key), *rate, *burst),
            )
        })
        .collect();
    (default, routes)
}

pub(super) async fn write(
    ctx: &RegionCtx,
    stage: &StageThrottle,
    writes: &LimitWrites,
    current: &V2Settings,
) -> Result<(), ServiceError> {
    let (default, routes) = http_update(writes, current);
    ctx.apigatewayv2()
        .update_stage()
        .api_id(&stage.api_id)
        .stage_name(&stage.stage_name)
        .set_default_route_settings(default)
        .set_route_settings((!routes.is_empty()).then_some(routes))
        .send()
        .await
        .map_err(|err| {
            ServiceError::from_sdk("apigateway:PATCH /v2/apis/{id}/stages/{stage}", err)
        })?;
    Ok(())
}
