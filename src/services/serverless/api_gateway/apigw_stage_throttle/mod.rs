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
//! A stage with many methods or routes of its own is written in batches of [`LIMITS_PER_UPDATE`]: AWS
//! refuses a REST UpdateStage whose patch is too large ("Update size too large. Try updating stage in
//! multiple UpdateStage operations", a BadRequestException). The stage-wide limits go in the first batch,
//! so the stage closes for every method without limits of its own at once. Each batch is one UpdateStage
//! that happened or did not, and both apply and undo decide what to write per part, from `before` and the
//! live stage: after a crash between batches, the undo (from [`CutKind::undo_record_for`], which is
//! `before`) puts back exactly the parts at 0 and leaves the others, which never changed, alone.
//!
//! The emulator has no v2 UpdateStage, and ignores the removal of REST `*/*` settings (it accepts the
//! request and keeps them): those paths are proven with mocks, and undo re-reads a REST stage after the
//! removal so an endpoint that ignored it is reported rather than taken for a restored stage.

use std::collections::{BTreeMap, VecDeque};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{READ_CONCURRENCY, is_not_found, rest_apis};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome, gather,
};

mod http;
mod rest;
#[cfg(test)]
mod tests;

use http::V2Settings;

pub struct ApiGatewayStageThrottle;

static INFO: KindInfo = KindInfo {
    name: "apigw_stage_throttle",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::ApiGateway,
};

/// AWS's default account-level throttling quota per region, what a v2 stage without its own limits gets.
pub const ACCOUNT_DEFAULT_RATE: f64 = 10_000.0;
pub const ACCOUNT_DEFAULT_BURST: i32 = 5_000;

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

/// One stage's live throttling and, for v2 stages, its route settings (kept when writing); `Ok(None)`
/// when the API or stage no longer exists.
async fn read(
    ctx: &RegionCtx,
    family: ApiFamily,
    api_id: &str,
    stage: &str,
) -> Result<Option<(StageThrottle, V2Settings)>, ServiceError> {
    let result = match family {
        ApiFamily::Rest => rest::read_stage(ctx, api_id, stage)
            .await
            .map(|state| (state, V2Settings::default())),
        ApiFamily::Http => http::read_stage(ctx, api_id, stage).await,
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
    pub fn is_empty(&self) -> bool {
        self.stage_wide == StageWide::Keep && self.overrides.is_empty()
    }

    /// How many limits (the stage-wide ones, each method's or route's) it writes.
    pub fn len(&self) -> usize {
        usize::from(self.stage_wide != StageWide::Keep) + self.overrides.len()
    }

    /// The same writes split into batches of at most `size` limits, the stage-wide ones in the first. A
    /// method's or route's rate and burst always travel together, so no batch leaves one half-written.
    pub fn batches(&self, size: usize) -> Vec<LimitWrites> {
        let size = size.max(1);
        let mut batches = Vec::new();
        let mut batch = LimitWrites {
            stage_wide: self.stage_wide,
            overrides: BTreeMap::new(),
        };
        for (key, limits) in &self.overrides {
            if batch.len() == size {
                batches.push(std::mem::take(&mut batch));
            }
            batch.overrides.insert(key.clone(), *limits);
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        batches
    }
}

/// Limits written per UpdateStage: the stage-wide pair or one method's or route's pair each, so at most
/// 40 REST patch operations. AWS documents no exact bound for "Update size too large"; 80 operations per
/// request is what others found to pass (serverless-api-gateway-caching batches at 80), and a batch AWS
/// still refuses as too large is halved and sent again.
pub const LIMITS_PER_UPDATE: usize = 20;

/// AWS's answer to an UpdateStage patch it finds too large: BadRequestException (HTTP 400), "Update size
/// too large. Try updating stage in multiple UpdateStage operations".
pub fn is_update_too_large(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("BadRequestException")
        && err
            .message
            .to_ascii_lowercase()
            .contains("update size too large")
}

/// The account's throttling quota in the region (API Gateway GetAccount's `throttleSettings`,
/// <https://docs.aws.amazon.com/apigateway/latest/api/API_GetAccount.html>), with where it came from;
/// AWS's documented default when it cannot be read.
async fn account_quota(ctx: &RegionCtx) -> (f64, i32, String) {
    let fallback = |why: String| {
        (
            ACCOUNT_DEFAULT_RATE,
            ACCOUNT_DEFAULT_BURST,
            format!(
                "AWS's default, since {why}: if the account's quota was raised, set it by hand"
            ),
        )
    };
    match ctx.apigateway().get_account().send().await {
        Ok(out) => match out.throttle_settings() {
            Some(quota) if quota.rate_limit() > 0.0 && quota.burst_limit() > 0 => (
                quota.rate_limit(),
                quota.burst_limit(),
                "as GetAccount reports it".to_string(),
            ),
            _ => fallback("GetAccount reported no throttle settings".to_string()),
        },
        Err(err) => fallback(format!(
            "GetAccount could not be read ({})",
            ServiceError::from_sdk("apigateway:GET /account", err)
        )),
    }
}

async fn write(
    ctx: &RegionCtx,
    stage: &StageThrottle,
    writes: &LimitWrites,
    current: &V2Settings,
) -> Result<(), ServiceError> {
    match stage.family {
        ApiFamily::Rest => rest::write(ctx, stage, writes).await,
        ApiFamily::Http => http::write(ctx, stage, writes, current).await,
    }
}

/// Writes `writes` in batches of [`LIMITS_PER_UPDATE`], the stage-wide limits first; a batch refused as
/// too large is split in two and each half sent in its place. Stops at the first other error, with the
/// batches before it written (which the undo, working part by part, handles).
async fn write_in_batches(
    ctx: &RegionCtx,
    stage: &StageThrottle,
    writes: &LimitWrites,
    current: &V2Settings,
) -> Result<(), ServiceError> {
    let mut queue: VecDeque<LimitWrites> = writes.batches(LIMITS_PER_UPDATE).into();
    while let Some(batch) = queue.pop_front() {
        match write(ctx, stage, &batch, current).await {
            Ok(()) => {}
            Err(err) if is_update_too_large(&err) && batch.len() > 1 => {
                for half in batch.batches(batch.len().div_ceil(2)).into_iter().rev() {
                    queue.push_front(half);
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// The proposal for one stage, or nothing when it is already closed.
pub fn propose(state: &StageThrottle) -> Option<Proposal<StageThrottle>> {
    if state.is_closed() {
        return None;
    }
    let restore = match (state.family, state.stage_wide().to_write()) {
        (_, Some(_)) => format!("restore puts back its {}", state.stage_wide().describe()),
        (ApiFamily::Rest, None) => {
            "restore removes the stage-wide method settings again (it has none now)".to_string()
        }
        (ApiFamily::Http, None) => format!(
            "it has no limits of its own, and the v2 API cannot unset them once set, so restore sets the account's quota in the region as the stage's own (as GetAccount reports it then; AWS's default is rate {ACCOUNT_DEFAULT_RATE}, burst {ACCOUNT_DEFAULT_BURST})"
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
    Some(Proposal {
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
        before: state.clone(),
        after: state.closed(),
        disabled_because: None,
    })
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
impl CutKind for ApiGatewayStageThrottle {
    type State = StageThrottle;
    /// The undo record is `before`: the limits to write back.
    type Undo = StageThrottle;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<StageThrottle>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
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
    ) -> Result<Vec<Proposal<StageThrottle>>, ServiceError> {
        let mut stages = gather(
            rest_apis(ctx, INFO.name).await?,
            READ_CONCURRENCY,
            |api| async move { rest::rest_stages(ctx, &api.id).await },
        )
        .await?;
        stages.extend(
            gather(
                http::http_api_ids(ctx).await?,
                READ_CONCURRENCY,
                |api| async move { http::http_stages(ctx, &api).await },
            )
            .await?,
        );
        Ok(stages.iter().filter_map(propose).collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<StageThrottle>,
    ) -> Result<Option<StageThrottle>, ServiceError> {
        let before = &cut.before;
        Ok(read(ctx, before.family, &before.api_id, &before.stage_name)
            .await?
            .map(|(state, _)| state))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<StageThrottle>,
    ) -> Result<StageThrottle, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let before = &cut.before;
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
        write_in_batches(ctx, before, &writes, &current).await?;
        Ok(record)
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<StageThrottle>,
    ) -> Result<StageThrottle, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &StageThrottle,
    ) -> Result<UndoOutcome, ServiceError> {
        let target = prior.target();
        let Some((now, settings)) =
            read(ctx, prior.family, &prior.api_id, &prior.stage_name).await?
        else {
            return Err(ServiceError::local(
                INFO.name,
                format!("stage {target} no longer exists; its throttling cannot be restored"),
            ));
        };
        let (writes, mut notes) = undo_writes(prior, &now);
        if writes.is_empty() {
            if notes.is_empty() {
                notes.push(format!("{target}: throttling already as before"));
            }
            return Ok(UndoOutcome { notes });
        }
        // A v2 stage without limits of its own runs under the account's quota in the region, which the
        // v2 API cannot go back to once the stage has limits: the stage gets that quota as its own, read
        // now (accounts may have it raised), else AWS's documented default.
        let mut writes = writes;
        let mut quota_note = None;
        if prior.family == ApiFamily::Http && writes.stage_wide == StageWide::Unset {
            let (rate, burst, whence) = account_quota(ctx).await;
            writes.stage_wide = StageWide::Set(rate, burst);
            quota_note = Some(format!(
                "{target}: throttling set to the account's quota in the region, {whence} (rate {rate}, burst {burst}); it had no limits of its own, which the v2 API cannot restore exactly"
            ));
        }
        write_in_batches(ctx, prior, &writes, &settings).await?;
        if let Some(note) = quota_note {
            notes.push(note);
            writes.stage_wide = StageWide::Keep;
        }
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
            // A v2 stage was given the account's quota above, and said so.
            (ApiFamily::Http, StageWide::Unset) => {}
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
