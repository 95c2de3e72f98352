//! `apigw_stage_throttle`: throttling 0 on every API Gateway stage, so every request is refused with 429
//! before it reaches a backend. It covers what a resource policy cannot: HTTP and WebSocket APIs (API
//! Gateway v2) have no resource policies, so throttling is their only switch.
//!
//! - REST API stages: method settings `*/*` get rateLimit 0 and burstLimit 0. Undo writes the recorded
//!   values back, or removes the `*/*` settings when there were none.
//! - HTTP and WebSocket API stages: the default route settings get ThrottlingRateLimit 0 and
//!   ThrottlingBurstLimit 0, the stage's other route settings kept. Undo writes the recorded values back.
//!   A limit the stage did not set (neither, or only one of the two) cannot be unset again once the cut
//!   set it ([`Quota`] says why), so restore sets the account's quota in the region there, which is
//!   what applied to it before, and says so.
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

/// The account's throttling quota in a region, and where the figures came from ([`account_quota`]).
///
/// What restore writes where a v2 stage or route set no limit of its own. A limit it does not set is the
/// account's: "By default, API Gateway limits the steady-state requests per second (RPS) across all APIs
/// within an AWS account, per Region", and so the burst; stage and route limits override those
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html>). The cut sets
/// both limits, and the v2 API offers no way back to "not set": its reference documents none (a
/// RouteSettings limit is a value or absent, and what UpdateStage makes of an absent one is not
/// documented), DeleteRouteSettings drops a route's whole settings object (its logging and metrics too)
/// and has no counterpart for the default route settings, and users report that a stage keeps limits once
/// given them, -1 refused, until the stage is deleted
/// (<https://github.com/hashicorp/terraform-provider-aws/issues/14742>). So restore writes both limits of
/// every part it gives back, the account's quota read at restore for one the part did not set, and says
/// so: the part then runs under the same figures, but as its own, and a later raise of the account's
/// quota no longer reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub rate: f64,
    pub burst: i32,
    /// "as GetAccount reports it", or why AWS's default stands in.
    pub whence: String,
}

impl Quota {
    /// AWS's documented default quota, `whence` saying why it stands in.
    fn aws_default(whence: String) -> Quota {
        Quota {
            rate: ACCOUNT_DEFAULT_RATE,
            burst: ACCOUNT_DEFAULT_BURST,
            whence,
        }
    }
}

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

    /// Whether it sets either limit.
    fn is_set(&self) -> bool {
        self.rate_limit.is_some() || self.burst_limit.is_some()
    }

    /// Whether it sets one limit and not the other.
    fn is_partial(&self) -> bool {
        self.rate_limit.is_some() != self.burst_limit.is_some()
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

    /// The values to write back: each recorded value, and the account's quota for one not set.
    fn filled(self, quota: &Quota) -> (f64, i32) {
        (
            self.rate_limit.unwrap_or(quota.rate),
            self.burst_limit.unwrap_or(quota.burst),
        )
    }

    /// What restore says it wrote for this part, `part` naming it ("api/stage:" for the stage,
    /// "api/stage: route KEY" for a route), having written `written`: the recorded limits put back, and
    /// for a limit not set before, that it now has the account's quota as its own.
    fn put_back(self, part: &str, written: (f64, i32), quota: &Quota) -> String {
        let (rate, burst) = written;
        let cannot = "which the v2 API cannot restore exactly";
        match (self.rate_limit, self.burst_limit) {
            (Some(_), Some(_)) => format!("{part} {} put back", self.describe()),
            (Some(set), None) => format!(
                "{part} rate {set} put back; it set no burst of its own, {cannot}: burst set to the account's quota in the region, {} ({burst})",
                quota.whence
            ),
            (None, Some(set)) => format!(
                "{part} burst {set} put back; it set no rate of its own, {cannot}: rate set to the account's quota in the region, {} ({rate})",
                quota.whence
            ),
            (None, None) => format!(
                "{part} throttling set to the account's quota in the region, {} (rate {rate}, burst {burst}); it had no limits of its own, {cannot}",
                quota.whence
            ),
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
    /// Back to no limits of the stage's own: REST removes the `*/*` settings. Undo never asks it of a v2
    /// stage, which cannot unset them: it sets the account's quota read at restore instead ([`Quota`]);
    /// a v2 write given it writes AWS's default quota.
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
async fn account_quota(ctx: &RegionCtx) -> Quota {
    let fallback = |why: String| {
        Quota::aws_default(format!(
            "AWS's default, since {why}: if the account's quota was raised, set it by hand"
        ))
    };
    match ctx.apigateway().get_account().send().await {
        Ok(out) => match out.throttle_settings() {
            Some(quota) if quota.rate_limit() > 0.0 && quota.burst_limit() > 0 => Quota {
                rate: quota.rate_limit(),
                burst: quota.burst_limit(),
                whence: "as GetAccount reports it".to_string(),
            },
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
    let stage_wide = state.stage_wide();
    let restore = match (state.family, stage_wide.rate_limit, stage_wide.burst_limit) {
        (_, Some(_), Some(_)) => format!("restore puts back its {}", stage_wide.describe()),
        (ApiFamily::Rest, None, None) => {
            "restore removes the stage-wide method settings again (it has none now)".to_string()
        }
        (_, None, None) => format!(
            "it has no limits of its own, and the v2 API cannot unset them once set, so restore sets the account's quota in the region as the stage's own (as GetAccount reports it then; AWS's default is rate {ACCOUNT_DEFAULT_RATE}, burst {ACCOUNT_DEFAULT_BURST})"
        ),
        (_, Some(rate), None) => format!(
            "restore puts back its rate {rate}; it sets no burst of its own, and the v2 API cannot unset one once set, so restore sets the account's burst quota in the region as the stage's own (as GetAccount reports it then; AWS's default is {ACCOUNT_DEFAULT_BURST})"
        ),
        (_, None, Some(burst)) => format!(
            "restore puts back its burst {burst}; it sets no rate of its own, and the v2 API cannot unset one once set, so restore sets the account's rate quota in the region as the stage's own (as GetAccount reports it then; AWS's default is {ACCOUNT_DEFAULT_RATE})"
        ),
    };
    let partial: Vec<&str> = state
        .overrides
        .iter()
        .filter(|(_, limits)| limits.is_partial())
        .map(|(key, _)| key.as_str())
        .collect();
    let partial = if partial.is_empty() {
        String::new()
    } else {
        format!(
            " Of those, {} set only one of rate and burst: restore sets the other to the account's quota in the region (as GetAccount reports it then), which the v2 API cannot unset.",
            partial.join(", ")
        )
    };
    let overrides = if state.overrides.is_empty() {
        String::new()
    } else {
        format!(
            " Its {} {} set throttling of their own, which overrides the stage's: each is set to 0 too, and restore puts back each one's limits.{partial}",
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

/// What undo gives back, part by part, as recorded, before anything is written: the parts still at 0
/// (the others changed since the cut and are left alone, each with a note).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToRestore {
    /// The stage-wide limits as recorded, when they are given back.
    pub stage_wide: Option<Limits>,
    /// Each method's or route's limits as recorded, for those given back.
    pub overrides: BTreeMap<String, Limits>,
    /// What was left alone, each note beginning with [`UndoOutcome::CONFLICT`].
    pub conflicts: Vec<String>,
}

impl ToRestore {
    fn is_empty(&self) -> bool {
        self.stage_wide.is_none() && self.overrides.is_empty()
    }

    /// Whether writing it back needs the account's quota: a part given back sets a limit and not the other
    /// (only v2 stages and routes can), or a v2 stage had no limits of its own (a REST stage's `*/*`
    /// settings are removed instead).
    pub fn needs_quota(&self, family: ApiFamily) -> bool {
        self.overrides.values().any(Limits::is_partial)
            || self
                .stage_wide
                .is_some_and(|was| was.is_partial() || (family == ApiFamily::Http && !was.is_set()))
    }

    /// The writes that give it back, a limit not set before taking `quota` ([`Quota`] says why).
    pub fn writes(&self, family: ApiFamily, quota: &Quota) -> LimitWrites {
        LimitWrites {
            stage_wide: match self.stage_wide {
                None => StageWide::Keep,
                Some(was) if family == ApiFamily::Rest && !was.is_set() => StageWide::Unset,
                Some(was) => {
                    let (rate, burst) = was.filled(quota);
                    StageWide::Set(rate, burst)
                }
            },
            overrides: self
                .overrides
                .iter()
                .map(|(key, was)| (key.clone(), was.filled(quota)))
                .collect(),
        }
    }
}

/// What undo gives back, given the recorded and the live throttling: a part is given back only while it
/// is still at 0.
pub fn to_restore(prior: &StageThrottle, now: &StageThrottle) -> ToRestore {
    let target = prior.target();
    let mut restore = ToRestore::default();
    let conflicts = &mut restore.conflicts;
    let (was, is) = (prior.stage_wide(), now.stage_wide());
    if is != was {
        if is.is_closed() {
            restore.stage_wide = Some(was);
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
                restore.overrides.insert(key.clone(), *was);
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
    restore
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
        let restore = to_restore(prior, &now);
        let mut notes = restore.conflicts.clone();
        if restore.is_empty() {
            if notes.is_empty() {
                notes.push(format!("{target}: throttling already as before"));
            }
            return Ok(UndoOutcome { notes });
        }
        // Read now, and only when a part given back set a limit not of its own (accounts may have the
        // quota raised); AWS's documented default when GetAccount does not answer.
        let quota = if restore.needs_quota(prior.family) {
            account_quota(ctx).await
        } else {
            Quota::aws_default("not read: every limit given back was the part's own".into())
        };
        let writes = restore.writes(prior.family, &quota);
        write_in_batches(ctx, prior, &writes, &settings).await?;
        match (restore.stage_wide, writes.stage_wide) {
            (Some(was), StageWide::Set(rate, burst)) => {
                notes.push(was.put_back(&format!("{target}:"), (rate, burst), &quota))
            }
            (_, StageWide::Unset) => {
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
            _ => {}
        }
        for (key, written) in &writes.overrides {
            let part = format!("{target}: {} {key}", prior.family.override_word());
            notes.push(restore.overrides[key].put_back(&part, *written, &quota));
        }
        Ok(UndoOutcome { notes })
    }
}
