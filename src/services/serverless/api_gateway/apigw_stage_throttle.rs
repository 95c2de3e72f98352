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
//! Throttling set on one method (REST method settings other than `*/*`) or one route (v2 route settings)
//! overrides the stage-wide limits for that method or route, so a stage-wide 0 alone would leave it open.
//! The cut sets each of those to 0 as well, and undo puts back each one's recorded values.
//!
//! The emulator has no v2 UpdateStage, and ignores the removal of REST `*/*` settings (it accepts the
//! request and keeps them): those paths are proven with mocks, and undo re-reads a REST stage after the
//! removal so an endpoint that ignored it is reported rather than taken for a restored stage.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation};
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

/// The REST method-settings key that applies to every method of a stage.
const REST_STAGE_WIDE: &str = "*/*";

/// Which API family a stage belongs to: their stages are read and written through different APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFamily {
    /// API Gateway v1.
    Rest,
    /// API Gateway v2 (HTTP and WebSocket).
    Http,
}

impl ApiFamily {
    /// What the family calls the unit an override applies to.
    fn override_word(self) -> &'static str {
        match self {
            ApiFamily::Rest => "method",
            ApiFamily::Http => "route",
        }
    }
}

/// One rate and burst limit pair; None where it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub rate_limit: Option<f64>,
    pub burst_limit: Option<i32>,
}

impl Limits {
    const CLOSED: Limits = Limits {
        rate_limit: Some(0.0),
        burst_limit: Some(0),
    };

    fn is_closed(&self) -> bool {
        *self == Limits::CLOSED
    }

    fn describe(&self) -> String {
        match (self.rate_limit, self.burst_limit) {
            (None, None) => "no limits of its own".to_string(),
            (rate, burst) => format!(
                "rate {} and burst {}",
                rate.map_or("unset".into(), |r| r.to_string()),
                burst.map_or("unset".into(), |b| b.to_string())
            ),
        }
    }

    /// The values to write back: both recorded values, or None when neither was set. Once one of the
    /// two is set AWS shows the other as the account default, so that is what a missing one becomes.
    fn to_write(self) -> Option<(f64, i32)> {
        match (self.rate_limit, self.burst_limit) {
            (None, None) => None,
            (rate, burst) => Some((
                rate.unwrap_or(ACCOUNT_DEFAULT_RATE),
                burst.unwrap_or(ACCOUNT_DEFAULT_BURST),
            )),
        }
    }
}

/// A stage's throttling as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageThrottle {
    pub family: ApiFamily,
    pub api_id: String,
    pub stage_name: String,
    /// The stage-wide limits (REST `*/*`, v2 default route settings). None: the stage sets no limit of
    /// its own.
    pub rate_limit: Option<f64>,
    pub burst_limit: Option<i32>,
    /// Methods (REST, keyed as in the stage's method settings, e.g. `orders/GET`) or routes (v2, keyed
    /// by route key, e.g. `GET /orders`) with throttling of their own, which overrides the stage-wide
    /// limits.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, Limits>,
}

impl StageThrottle {
    fn target(&self) -> String {
        format!("{}/{}", self.api_id, self.stage_name)
    }

    fn stage_wide(&self) -> Limits {
        Limits {
            rate_limit: self.rate_limit,
            burst_limit: self.burst_limit,
        }
    }

    fn is_closed(&self) -> bool {
        self.stage_wide().is_closed() && self.overrides.values().all(Limits::is_closed)
    }

    fn closed(&self) -> StageThrottle {
        StageThrottle {
            rate_limit: Some(0.0),
            burst_limit: Some(0),
            overrides: self
                .overrides
                .keys()
                .map(|key| (key.clone(), Limits::CLOSED))
                .collect(),
            ..self.clone()
        }
    }

    fn limits(&self) -> String {
        let mut text = self.stage_wide().describe();
        for (key, limits) in &self.overrides {
            text.push_str(&format!(
                "; {} {key}: {}",
                self.family.override_word(),
                limits.describe()
            ));
        }
        text
    }
}

/// A REST stage's throttling read from its method settings: `*/*` is stage-wide, every other key one
/// method's own settings. AWS always returns both limits of an entry (-1 where unset).
fn rest_throttle(
    api_id: &str,
    stage: &str,
    settings: Option<&HashMap<String, MethodSetting>>,
) -> StageThrottle {
    let limits = |s: &MethodSetting| Limits {
        rate_limit: Some(s.throttling_rate_limit()),
        burst_limit: Some(s.throttling_burst_limit()),
    };
    let settings = settings.cloned().unwrap_or_default();
    let stage_wide = settings.get(REST_STAGE_WIDE).map(limits);
    StageThrottle {
        family: ApiFamily::Rest,
        api_id: api_id.to_string(),
        stage_name: stage.to_string(),
        rate_limit: stage_wide.and_then(|l| l.rate_limit),
        burst_limit: stage_wide.and_then(|l| l.burst_limit),
        // Every method entry, even one showing -1: whether such an entry falls back to `*/*` is not
        // something to rely on while containing, and setting it to 0 and back is exact either way.
        overrides: settings
            .iter()
            .filter(|(key, _)| key.as_str() != REST_STAGE_WIDE)
            .map(|(key, s)| (key.clone(), limits(s)))
            .collect(),
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
            Some(rest_throttle(
                api_id,
                stage.stage_name()?,
                stage.method_settings(),
            ))
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

/// A v2 stage's settings as they are now, kept when writing new limits: the v2 write replaces a route
/// settings object whole.
#[derive(Debug, Clone, Default)]
struct V2Settings {
    default: Option<RouteSettings>,
    routes: HashMap<String, RouteSettings>,
}

fn route_limits(settings: &RouteSettings) -> Limits {
    Limits {
        rate_limit: settings.throttling_rate_limit(),
        burst_limit: settings.throttling_burst_limit(),
    }
}

fn http_throttle(api_id: &str, name: &str, settings: &V2Settings) -> StageThrottle {
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
            .filter(|(_, limits)| limits.to_write().is_some())
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

/// One stage's live throttling and, for v2 stages, its route settings (kept when writing); `Ok(None)`
/// when the API or stage no longer exists.
async fn read(
    ctx: &RegionCtx,
    family: ApiFamily,
    api_id: &str,
    stage: &str,
) -> Result<Option<(StageThrottle, V2Settings)>, ServiceError> {
    let result = match family {
        ApiFamily::Rest => ctx
            .apigateway()
            .get_stage()
            .rest_api_id(api_id)
            .stage_name(stage)
            .send()
            .await
            .map(|out| {
                (
                    rest_throttle(api_id, stage, out.method_settings()),
                    V2Settings::default(),
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
                let settings = v2_settings(out.default_route_settings(), out.route_settings());
                (http_throttle(api_id, stage, &settings), settings)
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

/// What one write does to the stage-wide limits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum StageWide {
    /// Leave them as they are.
    #[default]
    Keep,
    Set(f64, i32),
    /// Back to no limits of the stage's own: REST removes the `*/*` settings; v2, which cannot unset
    /// them, writes the account's default quota.
    Unset,
}

/// The limits one write sets on a stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitWrites {
    pub stage_wide: StageWide,
    /// Per-method (REST) or per-route (v2) limits, by key.
    pub overrides: BTreeMap<String, (f64, i32)>,
}

impl LimitWrites {
    fn is_empty(&self) -> bool {
        self.stage_wide == StageWide::Keep && self.overrides.is_empty()
    }
}

/// The REST patch for `writes`. A method's settings are addressed by their key as GetStage returns it
/// (`/orders/GET/throttling/rateLimit`), as for `*/*`.
pub fn rest_patch(writes: &LimitWrites) -> Vec<PatchOperation> {
    let set = |key: &str, (rate, burst): (f64, i32)| {
        [
            replace(&format!("/{key}/throttling/rateLimit"), rate.to_string()),
            replace(&format!("/{key}/throttling/burstLimit"), burst.to_string()),
        ]
    };
    let mut ops = match writes.stage_wide {
        StageWide::Keep => vec![],
        StageWide::Set(rate, burst) => set(REST_STAGE_WIDE, (rate, burst)).to_vec(),
        StageWide::Unset => vec![
            PatchOperation::builder()
                .op(Op::Remove)
                .path(format!("/{REST_STAGE_WIDE}"))
                .build(),
        ],
    };
    for (key, limits) in &writes.overrides {
        ops.extend(set(key, *limits));
    }
    ops
}

/// v2 route settings with new limits, every other setting kept.
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

async fn write(
    ctx: &RegionCtx,
    stage: &StageThrottle,
    writes: &LimitWrites,
    current: &V2Settings,
) -> Result<(), ServiceError> {
    match stage.family {
        ApiFamily::Rest => {
            ctx.apigateway()
                .update_stage()
                .rest_api_id(&stage.api_id)
                .stage_name(&stage.stage_name)
                .set_patch_operations(Some(rest_patch(writes)))
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk("apigateway:PATCH /restapis/{id}/stages/{stage}", err)
                })?;
        }
        ApiFamily::Http => {
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
        }
    }
    Ok(())
}

/// The proposal for one stage, or nothing when it is already closed.
pub fn propose(state: &StageThrottle) -> Option<ProposedCut> {
    if state.is_closed() {
        return None;
    }
    let restore = match (state.family, state.stage_wide().to_write()) {
        (_, Some(_)) => format!("restore puts back its {}", state.stage_wide().describe()),
        (ApiFamily::Rest, None) => {
            "restore removes the stage-wide method settings again (it has none now)".to_string()
        }
        (ApiFamily::Http, None) => format!(
            "it has no limits of its own, and the v2 API cannot unset them once set, so restore sets the account's default quota (rate {ACCOUNT_DEFAULT_RATE}, burst {ACCOUNT_DEFAULT_BURST})"
        ),
    };
    let overrides = if state.overrides.is_empty() {
        String::new()
    } else {
        format!(
            " Its {} {} set throttling of their own, which overrides the stage's: each is set to 0 too, and restore puts back each one's limits.",
            state.family.override_word(),
            state
                .overrides
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Some(ProposedCut {
        target: state.target(),
        reason: format!(
            "{} API {} stage {} accepts requests ({}): throttling it to 0 refuses every request with 429 before any backend runs; {restore}.{overrides}",
            match state.family {
                ApiFamily::Rest => "REST",
                ApiFamily::Http => "HTTP/WebSocket",
            },
            state.api_id,
            state.stage_name,
            state.limits()
        ),
        before: serde_json::to_value(state).expect("stage serializes"),
        after: serde_json::to_value(state.closed()).expect("stage serializes"),
        disabled_because: None,
    })
}

fn decode_states(cut: &Cut) -> Result<(StageThrottle, StageThrottle), String> {
    crate::services::decode_states(cut)
}

/// What undo writes back, given the recorded and the live throttling, and a note for each part changed
/// since the cut (left alone): a part is written back only while it is still at 0.
pub fn undo_writes(prior: &StageThrottle, now: &StageThrottle) -> (LimitWrites, Vec<String>) {
    let target = prior.target();
    let mut writes = LimitWrites::default();
    let mut conflicts = Vec::new();
    let (was, is) = (prior.stage_wide(), now.stage_wide());
    if is != was {
        if is.is_closed() {
            writes.stage_wide = match was.to_write() {
                Some((rate, burst)) => StageWide::Set(rate, burst),
                None => StageWide::Unset,
            };
        } else {
            conflicts.push(format!(
                "conflict: the throttling of {target} was changed after the cut (now {}); left alone",
                is.describe()
            ));
        }
    }
    let word = prior.family.override_word();
    for (key, was) in &prior.overrides {
        match now.overrides.get(key) {
            Some(is) if is == was => {}
            Some(is) if is.is_closed() => {
                let limits = was
                    .to_write()
                    .unwrap_or((ACCOUNT_DEFAULT_RATE, ACCOUNT_DEFAULT_BURST));
                writes.overrides.insert(key.clone(), limits);
            }
            Some(is) => conflicts.push(format!(
                "conflict: the throttling of {word} {key} of {target} was changed after the cut (now {}); left alone",
                is.describe()
            )),
            None => conflicts.push(format!(
                "conflict: the settings of {word} {key} of {target} were removed after the cut; not recreated"
            )),
        }
    }
    (writes, conflicts)
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
            return Err(
                "`after` must have rate_limit 0 and burst_limit 0, and so must each of its overrides"
                    .into(),
            );
        }
        if before.overrides.keys().ne(after.overrides.keys()) {
            return Err(
                "`after.overrides` must name the same methods or routes as `before`".into(),
            );
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
        // The v2 write replaces each route settings object it names: read them to keep the rest.
        let current = match before.family {
            ApiFamily::Http => read(ctx, before.family, &before.api_id, &before.stage_name)
                .await?
                .map(|(_, settings)| settings)
                .unwrap_or_default(),
            ApiFamily::Rest => V2Settings::default(),
        };
        let writes = LimitWrites {
            stage_wide: StageWide::Set(0.0, 0),
            overrides: before
                .overrides
                .keys()
                .map(|key| (key.clone(), (0.0, 0)))
                .collect(),
        };
        write(ctx, &before, &writes, &current).await?;
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
        let (writes, mut notes) = undo_writes(&prior, &now);
        if writes.is_empty() {
            if notes.is_empty() {
                notes.push(format!("{target}: throttling already as before"));
            }
            return Ok(UndoOutcome { notes });
        }
        write(ctx, &prior, &writes, &settings).await?;
        match (prior.family, writes.stage_wide) {
            (_, StageWide::Keep) => {}
            (_, StageWide::Set(..)) => notes.push(format!(
                "{target}: {} put back",
                prior.stage_wide().describe()
            )),
            (ApiFamily::Rest, StageWide::Unset) => {
                // Some endpoints accept the removal and ignore it (the emulator does): check.
                match read(ctx, prior.family, &prior.api_id, &prior.stage_name).await? {
                    Some((after, _)) if after.stage_wide().is_closed() => {
                        return Err(ServiceError::local(
                            "apigateway:PATCH /restapis/{id}/stages/{stage}",
                            format!(
                                "the endpoint accepted the removal of {target}'s */* method settings but kept them: the stage is still throttled to 0; remove them by hand"
                            ),
                        ));
                    }
                    _ => notes.push(format!(
                        "{target}: stage-wide method settings removed, as before"
                    )),
                }
            }
            (ApiFamily::Http, StageWide::Unset) => notes.push(format!(
                "{target}: throttling set to the account's default quota (rate {ACCOUNT_DEFAULT_RATE}, burst {ACCOUNT_DEFAULT_BURST}); it had no limits of its own, which the v2 API cannot restore exactly"
            )),
        }
        for key in writes.overrides.keys() {
            notes.push(format!(
                "{target}: {} {key} {} put back",
                prior.family.override_word(),
                prior.overrides[key].describe()
            ));
        }
        Ok(UndoOutcome { notes })
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

    const ROUTE: &str = "POST /hooks";

    fn limits(rate: f64, burst: i32) -> Limits {
        Limits {
            rate_limit: Some(rate),
            burst_limit: Some(burst),
        }
    }

    fn http_stage(rate: Option<f64>, burst: Option<i32>) -> StageThrottle {
        StageThrottle {
            family: ApiFamily::Http,
            api_id: "h77api".into(),
            stage_name: "$default".into(),
            rate_limit: rate,
            burst_limit: burst,
            overrides: BTreeMap::new(),
        }
    }

    fn rest_stage(rate: Option<f64>, burst: Option<i32>) -> StageThrottle {
        StageThrottle {
            family: ApiFamily::Rest,
            api_id: "r3st".into(),
            stage_name: "prod".into(),
            rate_limit: rate,
            burst_limit: burst,
            overrides: BTreeMap::new(),
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

    fn ops_of(ops: &[PatchOperation]) -> Vec<(&str, &str, Option<&str>)> {
        ops.iter()
            .map(|op| (op.op().unwrap().as_str(), op.path().unwrap(), op.value()))
            .collect()
    }

    #[test]
    fn rest_patches_set_the_stage_wide_and_each_method_limit_or_remove_the_stage_wide_settings() {
        let cut = LimitWrites {
            stage_wide: StageWide::Set(0.0, 0),
            overrides: BTreeMap::from([("orders/GET".to_string(), (0.0, 0))]),
        };
        assert_eq!(
            ops_of(&rest_patch(&cut)),
            vec![
                ("replace", "/*/*/throttling/rateLimit", Some("0")),
                ("replace", "/*/*/throttling/burstLimit", Some("0")),
                ("replace", "/orders/GET/throttling/rateLimit", Some("0")),
                ("replace", "/orders/GET/throttling/burstLimit", Some("0")),
            ]
        );
        let restore = LimitWrites {
            stage_wide: StageWide::Unset,
            overrides: BTreeMap::from([
                ("orders/GET".to_string(), (-1.0, -1)),
                ("pay/POST".to_string(), (2.5, 7)),
            ]),
        };
        assert_eq!(
            ops_of(&rest_patch(&restore)),
            vec![
                ("remove", "/*/*", None),
                ("replace", "/orders/GET/throttling/rateLimit", Some("-1")),
                ("replace", "/orders/GET/throttling/burstLimit", Some("-1")),
                ("replace", "/pay/POST/throttling/rateLimit", Some("2.5")),
                ("replace", "/pay/POST/throttling/burstLimit", Some("7")),
            ]
        );
        assert!(rest_patch(&LimitWrites::default()).is_empty());
    }

    #[test]
    fn method_settings_of_their_own_are_recorded_and_closed_with_the_stage() {
        let settings = HashMap::from([
            (
                "*/*".to_string(),
                MethodSetting::builder()
                    .throttling_rate_limit(100.0)
                    .throttling_burst_limit(50)
                    .build(),
            ),
            (
                "orders/GET".to_string(),
                MethodSetting::builder()
                    .throttling_rate_limit(-1.0)
                    .throttling_burst_limit(-1)
                    .metrics_enabled(true)
                    .build(),
            ),
        ]);
        let state = rest_throttle("r3st", "prod", Some(&settings));
        assert_eq!(state.stage_wide(), limits(100.0, 50));
        assert_eq!(
            state.overrides,
            BTreeMap::from([("orders/GET".to_string(), limits(-1.0, -1))])
        );
        let cut = cut_of(&state);
        assert!(
            cut.reason
                .contains("method orders/GET set throttling of their own"),
            "{}",
            cut.reason
        );
        let after: StageThrottle = serde_json::from_value(cut.after.clone()).unwrap();
        assert!(after.is_closed());
        assert_eq!(ApiGatewayStageThrottle.check_states(&cut), Ok(()));
        // An after that leaves a method open is refused.
        let mut open = cut.clone();
        open.after["overrides"]["orders/GET"]["rate_limit"] = 5.0.into();
        assert!(ApiGatewayStageThrottle.check_states(&open).is_err());
        // A stage closed stage-wide but with a method still open is proposed.
        let half_closed = StageThrottle {
            overrides: BTreeMap::from([("orders/GET".to_string(), limits(20.0, 10))]),
            ..rest_stage(Some(0.0), Some(0))
        };
        assert!(propose(&half_closed).is_some());
        assert_eq!(propose(&half_closed.closed()), None);
        // Plans written before overrides were recorded still read.
        let old: StageThrottle = serde_json::from_value(serde_json::json!({
            "family": "rest", "api_id": "r3st", "stage_name": "prod", "rate_limit": 100.0, "burst_limit": 50
        }))
        .unwrap();
        assert!(old.overrides.is_empty());
    }

    #[test]
    fn undo_writes_back_only_the_parts_still_at_zero_and_reports_the_others() {
        let prior = StageThrottle {
            overrides: BTreeMap::from([
                ("orders/GET".to_string(), limits(20.0, 10)),
                ("pay/POST".to_string(), limits(-1.0, -1)),
                ("gone/GET".to_string(), limits(1.0, 1)),
            ]),
            ..rest_stage(None, None)
        };
        let mut now = prior.closed();
        now.overrides.insert("pay/POST".into(), limits(3.0, 3));
        now.overrides.remove("gone/GET");
        let (writes, conflicts) = undo_writes(&prior, &now);
        assert_eq!(writes.stage_wide, StageWide::Unset);
        assert_eq!(
            writes.overrides,
            BTreeMap::from([("orders/GET".to_string(), (20.0, 10))])
        );
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
        assert!(conflicts.iter().all(|c| c.starts_with("conflict:")));
        assert!(conflicts[0].contains("gone/GET") && conflicts[1].contains("pay/POST"));

        // Stage-wide opened by hand: kept; already restored: nothing to write.
        let mut reopened = prior.closed();
        reopened.rate_limit = Some(9.0);
        let (writes, conflicts) = undo_writes(&prior, &reopened);
        assert_eq!(writes.stage_wide, StageWide::Keep);
        assert!(
            conflicts[0].contains("now rate 9 and burst 0"),
            "{conflicts:?}"
        );
        let (writes, conflicts) = undo_writes(&prior, &prior);
        assert!(writes.is_empty() && conflicts.is_empty());
        let wide = rest_stage(Some(100.0), Some(50));
        assert_eq!(
            undo_writes(&wide, &wide.closed()).0.stage_wide,
            StageWide::Set(100.0, 50)
        );
    }

    #[test]
    fn http_stages_without_limits_are_proposed_with_the_account_default_on_restore() {
        assert_eq!(propose(&http_stage(Some(0.0), Some(0))), None);
        let cut = cut_of(&http_stage(None, None));
        assert!(cut.reason.contains("cannot unset"), "{}", cut.reason);
        assert_eq!(ApiGatewayStageThrottle.check_states(&cut), Ok(()));
        // Routes without throttling of their own follow the default route settings: not overrides.
        let settings = V2Settings {
            default: None,
            routes: HashMap::from([
                (
                    ROUTE.to_string(),
                    RouteSettings::builder().throttling_rate_limit(40.0).build(),
                ),
                (
                    "GET /".to_string(),
                    RouteSettings::builder()
                        .detailed_metrics_enabled(true)
                        .build(),
                ),
            ]),
        };
        let state = http_throttle("h77api", "$default", &settings);
        assert_eq!(
            state.overrides,
            BTreeMap::from([(
                ROUTE.to_string(),
                Limits {
                    rate_limit: Some(40.0),
                    burst_limit: None
                }
            )])
        );
    }

    fn route(rate: Option<f64>, burst: Option<i32>) -> RouteSettings {
        let mut settings = RouteSettings::builder()
            .detailed_metrics_enabled(true)
            .logging_level(LoggingLevel::Error);
        if let Some(rate) = rate {
            settings = settings.throttling_rate_limit(rate);
        }
        if let Some(burst) = burst {
            settings = settings.throttling_burst_limit(burst);
        }
        settings.build()
    }

    fn get_stage(
        stage: (Option<f64>, Option<i32>),
        hooks: (Option<f64>, Option<i32>),
    ) -> GetStageOutput {
        GetStageOutput::builder()
            .stage_name("$default")
            .default_route_settings(route(stage.0, stage.1))
            .route_settings(ROUTE, route(hooks.0, hooks.1))
            .build()
    }

    fn sends(
        req: &aws_sdk_apigatewayv2::operation::update_stage::UpdateStageInput,
        stage: (f64, i32),
        hooks: (f64, i32),
    ) -> bool {
        let default = req.default_route_settings().unwrap();
        let hook = &req.route_settings().unwrap()[ROUTE];
        req.api_id() == Some("h77api")
            && req.stage_name() == Some("$default")
            && default.throttling_rate_limit() == Some(stage.0)
            && default.throttling_burst_limit() == Some(stage.1)
            && hook.throttling_rate_limit() == Some(hooks.0)
            && hook.throttling_burst_limit() == Some(hooks.1)
            // The other settings are sent back unchanged.
            && default.detailed_metrics_enabled() == Some(true)
            && default.logging_level() == Some(&LoggingLevel::Error)
            && hook.detailed_metrics_enabled() == Some(true)
    }

    /// The emulator has no v2 UpdateStage: the cut and its undo are checked on the requests they send.
    #[tokio::test]
    async fn mocked_http_api_stage_and_its_throttled_route_are_closed_and_restored_keeping_other_settings()
     {
        let state = http_throttle(
            "h77api",
            "$default",
            &V2Settings {
                default: Some(route(Some(250.0), Some(100))),
                routes: HashMap::from([(ROUTE.to_string(), route(Some(40.0), Some(20)))]),
            },
        );
        let cut = cut_of(&state);
        assert!(
            cut.reason.contains(&format!("route {ROUTE}")),
            "{}",
            cut.reason
        );

        let open = mock!(V2::get_stage)
            .then_output(|| get_stage((Some(250.0), Some(100)), (Some(40.0), Some(20))));
        let close = mock!(V2::update_stage)
            .match_requests(|req| sends(req, (0.0, 0), (0.0, 0)))
            .then_output(|| UpdateStageOutput::builder().build());
        let client = mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&open, &close]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
        let record = ApiGatewayStageThrottle.apply(&ctx, &cut).await.unwrap();
        assert_eq!(close.num_calls(), 1);

        let closed = mock!(V2::get_stage)
            .then_output(|| get_stage((Some(0.0), Some(0)), (Some(0.0), Some(0))));
        let reopen = mock!(V2::update_stage)
            .match_requests(|req| sends(req, (250.0, 100), (40.0, 20)))
            .then_output(|| UpdateStageOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            &[&closed, &reopen]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
        let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!(reopen.num_calls(), 1, "{outcome:?}");
        assert_eq!(
            outcome.notes,
            vec![
                "h77api/$default: rate 250 and burst 100 put back".to_string(),
                format!("h77api/$default: route {ROUTE} rate 40 and burst 20 put back"),
            ]
        );

        // Changed after the cut: left alone.
        let changed = mock!(V2::get_stage)
            .then_output(|| get_stage((Some(5.0), Some(5)), (Some(6.0), Some(6))));
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
        assert_eq!(outcome.notes.len(), 2, "{outcome:?}");
        assert!(
            outcome.notes.iter().all(|n| n.starts_with("conflict")),
            "{outcome:?}"
        );
    }

    /// The emulator ignores the removal of `*/*` method settings: the request is checked here.
    #[tokio::test]
    async fn mocked_rest_stage_without_prior_limits_has_its_stage_wide_settings_removed() {
        use aws_sdk_apigateway::Client as V1;
        use aws_sdk_apigateway::operation::get_stage::GetStageOutput as RestStage;
        use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput as RestUpdate;

        let record = ApiGatewayStageThrottle
            .undo_record_for(&cut_of(&rest_stage(None, None)))
            .unwrap();
        let closed_then_removed = || {
            mock!(V1::get_stage)
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
                .build()
        };
        let closed = closed_then_removed();
        let remove = mock!(V1::update_stage)
            .match_requests(|req| {
                let ops = req.patch_operations();
                req.rest_api_id() == Some("r3st")
                    && req.stage_name() == Some("prod")
                    && ops.len() == 1
                    && ops[0].op() == Some(&Op::Remove)
                    && ops[0].path() == Some("/*/*")
            })
            .then_output(|| RestUpdate::builder().build());
        let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&closed, &remove]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!(remove.num_calls(), 1);
        assert_eq!(
            outcome.notes,
            vec!["r3st/prod: stage-wide method settings removed, as before".to_string()]
        );
    }
}
