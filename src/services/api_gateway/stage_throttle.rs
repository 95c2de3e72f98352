//! `apigw_stage_throttle`: throttling 0 on every API Gateway stage, so every request is refused with 429
//! before it reaches a backend. It covers what a resource policy cannot: HTTP and WebSocket APIs (API
//! Gateway v2) have no resource policies, so throttling is their only switch.
//!
//! - REST API stages: method settings `*/*` get rateLimit 0 and burstLimit 0. Undo writes the recorded
//!   values back, or removes the `*/*` settings when there were none.
//! - HTTP and WebSocket API stages: the default route settings get ThrottlingRateLimit 0 and
//!   ThrottlingBurstLimit 0, the stage's other route settings kept. Undo writes the recorded values back.
//!   The v2 API cannot unset a stage's throttling once set, so a stage that had none gets the account's
//!   default quota (10,000 requests per second, burst 5,000), which is what applied to it before; restore
//!   says so.
//!
//! The emulator has no v2 UpdateStage, and ignores the removal of REST `*/*` settings: those paths are
//! proven with mocks, and undo re-reads a REST stage after the removal so an endpoint that ignored it is
//! reported rather than taken for a restored stage.

use async_trait::async_trait;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_sdk_apigatewayv2::types::RouteSettings;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{READ_CONCURRENCY, is_not_found, replace, rest_apis};
use crate::aws::RegionCtx;
use crate::plan::Cut;
use crate::services::{
    Containment, DiscoveryScope, KindInfo, Phase, ProposedCut, ServiceError, UndoOutcome, gather,
};

pub struct ApiGatewayStageThrottle;

static INFO: KindInfo = KindInfo {
    name: "apigw_stage_throttle",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
};

/// AWS's default account-level throttling quota per region, what a v2 stage without its own limits gets.
pub const ACCOUNT_DEFAULT_RATE: f64 = 10_000.0;
pub const ACCOUNT_DEFAULT_BURST: i32 = 5_000;

const REST_RATE_PATH: &str = "/*/*/throttling/rateLimit";
const REST_BURST_PATH: &str = "/*/*/throttling/burstLimit";

/// Which API family a stage belongs to: their stages are read and written through different APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFamily {
    /// API Gateway v1.
    Rest,
    /// API Gateway v2 (HTTP and WebSocket).
    Http,
}

/// A stage's throttling as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageThrottle {
    pub family: ApiFamily,
    pub api_id: String,
    pub stage_name: String,
    /// None: the stage sets no limit of its own.
    pub rate_limit: Option<f64>,
    pub burst_limit: Option<i32>,
}

impl StageThrottle {
    fn target(&self) -> String {
        format!("{}/{}", self.api_id, self.stage_name)
    }

    fn is_closed(&self) -> bool {
        self.rate_limit == Some(0.0) && self.burst_limit == Some(0)
    }

    fn limits(&self) -> String {
        match (self.rate_limit, self.burst_limit) {
            (None, None) => "no limits of its own".to_string(),
            (rate, burst) => format!(
                "rate {} and burst {}",
                rate.map_or("unset".into(), |r| r.to_string()),
                burst.map_or("unset".into(), |b| b.to_string())
            ),
        }
    }
}

/// The REST stage's `*/*` throttling (None when the stage has no `*/*` method settings).
fn rest_limits(stage: &aws_sdk_apigateway::types::Stage) -> (Option<f64>, Option<i32>) {
    match stage.method_settings().and_then(|m| m.get("*/*")) {
        Some(setting) => (
            Some(setting.throttling_rate_limit()),
            Some(setting.throttling_burst_limit()),
        ),
        None => (None, None),
    }
}

async fn rest_stages(ctx: &RegionCtx, api_id: &str) -> Result<Vec<StageThrottle>, ServiceError> {
    let out = ctx
        .apigateway()
        .get_stages()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis/{id}/stages", err))?;
    Ok(out
        .item()
        .iter()
        .filter_map(|stage| {
            let (rate_limit, burst_limit) = rest_limits(stage);
            Some(StageThrottle {
                family: ApiFamily::Rest,
                api_id: api_id.to_string(),
                stage_name: stage.stage_name()?.to_string(),
                rate_limit,
                burst_limit,
            })
        })
        .collect())
}

/// Every v2 API's ID, following NextToken.
async fn http_api_ids(ctx: &RegionCtx) -> Result<Vec<String>, ServiceError> {
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

fn http_stage_state(api_id: &str, name: &str, settings: Option<&RouteSettings>) -> StageThrottle {
    StageThrottle {
        family: ApiFamily::Http,
        api_id: api_id.to_string(),
        stage_name: name.to_string(),
        rate_limit: settings.and_then(RouteSettings::throttling_rate_limit),
        burst_limit: settings.and_then(RouteSettings::throttling_burst_limit),
    }
}

async fn http_stages(ctx: &RegionCtx, api_id: &str) -> Result<Vec<StageThrottle>, ServiceError> {
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
        stages.extend(out.items().iter().filter_map(|stage| {
            Some(http_stage_state(
                api_id,
                stage.stage_name()?,
                stage.default_route_settings(),
            ))
        }));
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(stages)
}

/// One stage's live throttling and, for v2 stages, its other default route settings (kept when
/// writing); `Ok(None)` when the API or stage no longer exists.
async fn read(
    ctx: &RegionCtx,
    family: ApiFamily,
    api_id: &str,
    stage: &str,
) -> Result<Option<(StageThrottle, Option<RouteSettings>)>, ServiceError> {
    let result = match family {
        ApiFamily::Rest => ctx
            .apigateway()
            .get_stage()
            .rest_api_id(api_id)
            .stage_name(stage)
            .send()
            .await
            .map(|out| {
                let (rate_limit, burst_limit) =
                    match out.method_settings().and_then(|m| m.get("*/*")) {
                        Some(s) => (
                            Some(s.throttling_rate_limit()),
                            Some(s.throttling_burst_limit()),
                        ),
                        None => (None, None),
                    };
                (
                    StageThrottle {
                        family,
                        api_id: api_id.to_string(),
                        stage_name: stage.to_string(),
                        rate_limit,
                        burst_limit,
                    },
                    None,
                )
            })
            .map_err(|err| {
                ServiceError::from_sdk("apigateway:GET /restapis/{id}/stages/{stage}", err)
            }),
        ApiFamily::Http => ctx
            .apigatewayv2()
            .get_stage()
            .api_id(api_id)
            .stage_name(stage)
            .send()
            .await
            .map(|out| {
                let settings = out.default_route_settings().cloned();
                (http_stage_state(api_id, stage, settings.as_ref()), settings)
            })
            .map_err(|err| {
                ServiceError::from_sdk("apigateway:GET /v2/apis/{id}/stages/{stage}", err)
            }),
    };
    match result {
        Ok(found) => Ok(Some(found)),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The REST patch that sets the limits, or removes the `*/*` settings when `limits` is None.
pub fn rest_patch(limits: Option<(f64, i32)>) -> Vec<PatchOperation> {
    match limits {
        Some((rate, burst)) => vec![
            replace(REST_RATE_PATH, rate.to_string()),
            replace(REST_BURST_PATH, burst.to_string()),
        ],
        None => vec![
            PatchOperation::builder()
                .op(Op::Remove)
                .path("/*/*")
                .build(),
        ],
    }
}

/// The v2 default route settings with new limits, every other setting kept.
pub fn http_settings(current: Option<&RouteSettings>, rate: f64, burst: i32) -> RouteSettings {
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

async fn write(
    ctx: &RegionCtx,
    state: &StageThrottle,
    limits: Option<(f64, i32)>,
    current: Option<&RouteSettings>,
) -> Result<(), ServiceError> {
    match state.family {
        ApiFamily::Rest => {
            ctx.apigateway()
                .update_stage()
                .rest_api_id(&state.api_id)
                .stage_name(&state.stage_name)
                .set_patch_operations(Some(rest_patch(limits)))
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk("apigateway:PATCH /restapis/{id}/stages/{stage}", err)
                })?;
        }
        ApiFamily::Http => {
            let (rate, burst) = limits.unwrap_or((ACCOUNT_DEFAULT_RATE, ACCOUNT_DEFAULT_BURST));
            ctx.apigatewayv2()
                .update_stage()
                .api_id(&state.api_id)
                .stage_name(&state.stage_name)
                .default_route_settings(http_settings(current, rate, burst))
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk("apigateway:PATCH /v2/apis/{id}/stages/{stage}", err)
                })?;
        }
    }
    Ok(())
}

/// The limits to write back: both recorded values, or None when the stage had none. A stage with only
/// one of the two set keeps the other at what AWS shows for it once one is set.
fn prior_limits(prior: &StageThrottle) -> Option<(f64, i32)> {
    match (prior.rate_limit, prior.burst_limit) {
        (None, None) => None,
        (rate, burst) => Some((
            rate.unwrap_or(ACCOUNT_DEFAULT_RATE),
            burst.unwrap_or(ACCOUNT_DEFAULT_BURST),
        )),
    }
}

/// The proposal for one stage, or nothing when it is already closed.
pub fn propose(state: &StageThrottle) -> Option<ProposedCut> {
    if state.is_closed() {
        return None;
    }
    let after = StageThrottle {
        rate_limit: Some(0.0),
        burst_limit: Some(0),
        ..state.clone()
    };
    let restore = match (state.family, prior_limits(state)) {
        (_, Some(_)) => format!("restore puts back its {}", state.limits()),
        (ApiFamily::Rest, None) => {
            "restore removes the stage-wide method settings again (it has none now)".to_string()
        }
        (ApiFamily::Http, None) => format!(
            "it has no limits of its own, and the v2 API cannot unset them once set, so restore sets the account's default quota (rate {ACCOUNT_DEFAULT_RATE}, burst {ACCOUNT_DEFAULT_BURST})"
        ),
    };
    Some(ProposedCut {
        target: state.target(),
        reason: format!(
            "{} API {} stage {} accepts requests ({}): throttling it to 0 refuses every request with 429 before any backend runs; {restore}.",
            match state.family {
                ApiFamily::Rest => "REST",
                ApiFamily::Http => "HTTP/WebSocket",
            },
            state.api_id,
            state.stage_name,
            state.limits()
        ),
        before: serde_json::to_value(state).expect("stage serializes"),
        after: serde_json::to_value(after).expect("stage serializes"),
        disabled_because: None,
    })
}

fn decode_states(cut: &Cut) -> Result<(StageThrottle, StageThrottle), String> {
    let before: StageThrottle =
        serde_json::from_value(cut.before.clone()).map_err(|err| format!("`before`: {err}"))?;
    let after: StageThrottle =
        serde_json::from_value(cut.after.clone()).map_err(|err| format!("`after`: {err}"))?;
    Ok((before, after))
}

#[async_trait]
impl Containment for ApiGatewayStageThrottle {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        let (before, after) = decode_states(cut)?;
        if before.target() != cut.target
            || after.target() != cut.target
            || before.family != after.family
        {
            return Err(format!(
                "api_id/stage_name must be the cut's target `{}`, the same family before and after",
                cut.target
            ));
        }
        if !after.is_closed() {
            return Err("`after` must have rate_limit 0 and burst_limit 0".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<ProposedCut>, ServiceError> {
        let mut stages = gather(rest_apis(ctx).await?, READ_CONCURRENCY, |api| async move {
            rest_stages(ctx, &api.id).await
        })
        .await?;
        stages.extend(
            gather(
                http_api_ids(ctx).await?,
                READ_CONCURRENCY,
                |api| async move { http_stages(ctx, &api).await },
            )
            .await?,
        );
        Ok(stages.iter().filter_map(propose).collect())
    }

    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        let (before, _) =
            decode_states(cut).map_err(|problem| ServiceError::local(INFO.name, problem))?;
        Ok(
            match read(ctx, before.family, &before.api_id, &before.stage_name).await? {
                Some((state, _)) => serde_json::to_value(state).expect("stage serializes"),
                None => Value::Null,
            },
        )
    }

    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let (before, _) =
            decode_states(cut).map_err(|problem| ServiceError::local(INFO.name, problem))?;
        // The v2 write replaces the default route settings: read the others to keep them.
        let current = match before.family {
            ApiFamily::Http => read(ctx, before.family, &before.api_id, &before.stage_name)
                .await?
                .and_then(|(_, settings)| settings),
            ApiFamily::Rest => None,
        };
        write(ctx, &before, Some((0.0, 0)), current.as_ref()).await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError> {
        let (before, _) =
            decode_states(cut).map_err(|problem| ServiceError::local(INFO.name, problem))?;
        Ok(serde_json::to_value(before).expect("stage serializes"))
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError> {
        let prior: StageThrottle = serde_json::from_value(undo.clone()).map_err(|err| {
            ServiceError::local(INFO.name, format!("the undo record does not decode: {err}"))
        })?;
        let target = prior.target();
        let Some((now, settings)) =
            read(ctx, prior.family, &prior.api_id, &prior.stage_name).await?
        else {
            return Err(ServiceError::local(
                INFO.name,
                format!("stage {target} no longer exists; its throttling cannot be restored"),
            ));
        };
        if now.rate_limit == prior.rate_limit && now.burst_limit == prior.burst_limit {
            return Ok(UndoOutcome {
                notes: vec![format!("{target}: throttling already as before")],
            });
        }
        if !now.is_closed() {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "conflict: the throttling of {target} was changed after the cut (now {}); left alone",
                    now.limits()
                )],
            });
        }
        let limits = prior_limits(&prior);
        write(ctx, &prior, limits, settings.as_ref()).await?;
        let note = match (prior.family, limits) {
            (_, Some(_)) => format!("{target}: {} put back", prior.limits()),
            (ApiFamily::Rest, None) => {
                // Some endpoints accept the removal and ignore it: check.
                match read(ctx, prior.family, &prior.api_id, &prior.stage_name).await? {
                    Some((after, _)) if after.is_closed() => {
                        return Err(ServiceError::local(
                            "apigateway:PATCH /restapis/{id}/stages/{stage}",
                            format!(
                                "the endpoint accepted the removal of {target}'s */* method settings but kept them: the stage is still throttled to 0; remove them by hand"
                            ),
                        ));
                    }
                    _ => format!("{target}: stage-wide method settings removed, as before"),
                }
            }
            (ApiFamily::Http, None) => format!(
                "{target}: throttling set to the account's default quota (rate {ACCOUNT_DEFAULT_RATE}, burst {ACCOUNT_DEFAULT_BURST}); it had no limits of its own, which the v2 API cannot restore exactly"
            ),
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_apigatewayv2::Client as V2;
    use aws_sdk_apigatewayv2::operation::get_stage::GetStageOutput;
    use aws_sdk_apigatewayv2::operation::update_stage::UpdateStageOutput;
    use aws_sdk_apigatewayv2::types::LoggingLevel;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn http_stage(rate: Option<f64>, burst: Option<i32>) -> StageThrottle {
        StageThrottle {
            family: ApiFamily::Http,
            api_id: "h77api".into(),
            stage_name: "$default".into(),
            rate_limit: rate,
            burst_limit: burst,
        }
    }

    fn cut_of(state: &StageThrottle) -> Cut {
        let proposed = propose(state).unwrap();
        Cut {
            id: format!("apigw_stage_throttle/us-east-1/{}", proposed.target),
            kind: INFO.name.into(),
            region: "us-east-1".into(),
            target: proposed.target,
            enabled: true,
            reversible: true,
            reason: proposed.reason,
            before: proposed.before,
            after: proposed.after,
        }
    }

    #[test]
    fn rest_patches_set_both_limits_or_remove_the_stage_wide_settings() {
        let ops = rest_patch(Some((0.0, 0)));
        let ops: Vec<_> = ops
            .iter()
            .map(|op| {
                (
                    op.op().unwrap().as_str(),
                    op.path().unwrap(),
                    op.value().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ops,
            vec![
                ("replace", "/*/*/throttling/rateLimit", "0"),
                ("replace", "/*/*/throttling/burstLimit", "0")
            ]
        );
        let remove = rest_patch(None);
        assert_eq!(remove[0].op().unwrap().as_str(), "remove");
        assert_eq!(remove[0].path(), Some("/*/*"));
        assert_eq!(propose(&http_stage(Some(0.0), Some(0))), None);
        let cut = cut_of(&http_stage(None, None));
        assert!(cut.reason.contains("cannot unset"), "{}", cut.reason);
        assert_eq!(ApiGatewayStageThrottle.check_states(&cut), Ok(()));
    }

    fn get_stage(rate: Option<f64>, burst: Option<i32>) -> GetStageOutput {
        let mut settings = RouteSettings::builder()
            .detailed_metrics_enabled(true)
            .logging_level(LoggingLevel::Error);
        if let Some(rate) = rate {
            settings = settings.throttling_rate_limit(rate);
        }
        if let Some(burst) = burst {
            settings = settings.throttling_burst_limit(burst);
        }
        GetStageOutput::builder()
            .stage_name("$default")
            .default_route_settings(settings.build())
            .build()
    }

    /// The emulator has no v2 UpdateStage: the cut and its undo are checked on the requests they send.
    #[tokio::test]
    async fn mocked_http_api_stage_is_throttled_to_zero_and_restored_keeping_other_route_settings()
    {
        let state = http_stage(Some(250.0), Some(100));
        let cut = cut_of(&state);

        let open = mock!(V2::get_stage).then_output(|| get_stage(Some(250.0), Some(100)));
        let close = mock!(V2::update_stage)
            .match_requests(|req| {
                let s = req.default_route_settings().unwrap();
                req.api_id() == Some("h77api")
                    && req.stage_name() == Some("$default")
                    && s.throttling_rate_limit() == Some(0.0)
                    && s.throttling_burst_limit() == Some(0)
                    && s.detailed_metrics_enabled() == Some(true)
                    && s.logging_level() == Some(&LoggingLevel::Error)
            })
            .then_output(|| UpdateStageOutput::builder().build());
        let client = mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&open, &close]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
        let record = ApiGatewayStageThrottle.apply(&ctx, &cut).await.unwrap();
        assert_eq!(close.num_calls(), 1);

        let closed = mock!(V2::get_stage).then_output(|| get_stage(Some(0.0), Some(0)));
        let reopen = mock!(V2::update_stage)
            .match_requests(|req| {
                let s = req.default_route_settings().unwrap();
                s.throttling_rate_limit() == Some(250.0)
                    && s.throttling_burst_limit() == Some(100)
                    && s.detailed_metrics_enabled() == Some(true)
            })
            .then_output(|| UpdateStageOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            &[&closed, &reopen]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
        let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!(reopen.num_calls(), 1, "{outcome:?}");

        // Changed after the cut: left alone.
        let changed = mock!(V2::get_stage).then_output(|| get_stage(Some(5.0), Some(5)));
        let untouched =
            mock!(V2::update_stage).then_output(|| UpdateStageOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            &[&changed, &untouched]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
        let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!(untouched.num_calls(), 0);
        assert!(outcome.notes[0].starts_with("conflict"), "{outcome:?}");
    }

    /// The emulator ignores the removal of `*/*` method settings: the request is checked here.
    #[tokio::test]
    async fn mocked_rest_stage_without_prior_limits_has_its_stage_wide_settings_removed() {
        use aws_sdk_apigateway::Client as V1;
        use aws_sdk_apigateway::operation::get_stage::GetStageOutput as RestStage;
        use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput as RestUpdate;
        use aws_sdk_apigateway::types::MethodSetting;

        let state = StageThrottle {
            family: ApiFamily::Rest,
            api_id: "r3st".into(),
            stage_name: "prod".into(),
            rate_limit: None,
            burst_limit: None,
        };
        let record = ApiGatewayStageThrottle
            .undo_record_for(&cut_of(&state))
            .unwrap();
        let closed = mock!(V1::get_stage)
            .sequence()
            .output(|| {
                RestStage::builder()
                    .stage_name("prod")
                    .method_settings(
                        "*/*",
                        MethodSetting::builder()
                            .throttling_rate_limit(0.0)
                            .throttling_burst_limit(0)
                            .build(),
                    )
                    .build()
            })
            .output(|| RestStage::builder().stage_name("prod").build())
            .build();
        let remove = mock!(V1::update_stage)
            .match_requests(|req| {
                let ops = req.patch_operations();
                ops.len() == 1 && ops[0].op() == Some(&Op::Remove) && ops[0].path() == Some("/*/*")
            })
            .then_output(|| RestUpdate::builder().build());
        let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&closed, &remove]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!(remove.num_calls(), 1);
        assert!(
            outcome.notes[0].contains("removed, as before"),
            "{outcome:?}"
        );
    }
}
