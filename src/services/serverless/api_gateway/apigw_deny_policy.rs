//! `apigw_deny_policy`: a resource policy on a REST API that denies `execute-api:Invoke` to everyone,
//! replacing whatever policy it had. A REST API's policy only takes effect once deployed, so the cut
//! creates one deployment (described as hikkonuki's) and points every stage at it.
//!
//! The new deployment is created without a stage and the stages are then pointed at it, rather than
//! with CreateDeployment's stage name: that keeps each stage's settings untouched on every endpoint
//! (the emulator replaces a stage named in CreateDeployment wholesale).
//!
//! CreateDeployment is limited to one request every 5 seconds per account, a quota AWS does not raise
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html>). hikkonuki paces it
//! account-wide ([`crate::pacing::fixed_quota`]), so N APIs take about 5·(N−1) seconds to deploy; the plan
//! says how long in a finding, and `apigw_stage_throttle`, which takes effect without a deployment, runs
//! first. A deployment another client of the account got in first answers `TooManyRequestsException`:
//! the cut waits its turn rather than failing, since an undeployed deny leaves the API open.
//!
//! Undo writes the prior policy back (or clears it), points each stage back at the deployment it had,
//! and deletes hikkonuki's deployments no stage uses any more, so the API is left as it was. A policy or
//! stage someone changed since the cut is left alone and reported.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{READ_CONCURRENCY, is_not_found, replace, rest_api_policy, rest_apis, same_policy};
use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, GLOBAL_REGION, Severity};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome, gather,
};

pub struct ApiGatewayDenyPolicy;

static INFO: KindInfo = KindInfo {
    name: "apigw_deny_policy",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::ApiGateway,
};

/// The policy the cut puts on every REST API.
pub const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"HikkonukiDenyAllInvocations","Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}"#;

/// How hikkonuki's deployments are recognised, so undo can clean up even after a crash mid-apply.
pub const DEPLOYMENT_DESCRIPTION: &str = "hikkonuki: deny-all resource policy in effect";

/// `after.stage_deployments` values: the deployment ID is only known once apply has run.
pub const REDEPLOYED: &str = "redeployed by hikkonuki";

/// CreateDeployment's fixed quota: one request every 5 seconds per account (limits.html, above).
pub const DEPLOYMENT_INTERVAL: Duration = Duration::from_secs(5);

/// How long a cut keeps asking for its deployment while AWS answers TooManyRequestsException (someone
/// else in the account deploying too). Beyond it the cut fails, with the policy written but not deployed.
pub const DEPLOYMENT_PATIENCE: Duration = Duration::from_secs(180);

/// A REST API as `before` and `after` hold it (the undo record is [`DenyUndo`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiState {
    pub rest_api_id: String,
    pub name: String,
    /// The resource policy as JSON text; None when the API has none.
    pub policy: Option<String>,
    /// Each stage's deployment ID.
    pub stage_deployments: BTreeMap<String, String>,
}

/// What restore needs: the API as it was, and the deployment this cut made.
///
/// The deployment is named by the ID CreateDeployment answered, never found by its description: anyone
/// allowed to deploy the API can describe a deployment as hikkonuki's, and restore would then point
/// stages at, or delete, what it never made. A rollback file written before this field existed, or a cut
/// whose completion a crash left unrecorded, has none: see [`CutKind::undo`] below for that case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyUndo {
    pub rest_api_id: String,
    pub name: String,
    pub policy: Option<String>,
    pub stage_deployments: BTreeMap<String, String>,
    /// The deployment apply created; None when the API had no stages (nothing is deployed) or when
    /// apply's answer was never recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_made: Option<String>,
}

impl DenyUndo {
    fn of(prior: &ApiState, deployment_made: Option<String>) -> Self {
        Self {
            rest_api_id: prior.rest_api_id.clone(),
            name: prior.name.clone(),
            policy: prior.policy.clone(),
            stage_deployments: prior.stage_deployments.clone(),
            deployment_made,
        }
    }
}

/// A stage as discovery and the undo see it.
struct StageNow {
    deployment_id: String,
    /// A canary's deployment and its share of the stage's traffic, when the stage has one.
    canary: Option<(String, f64)>,
}

/// What the cut cannot reach on a stage with a canary: the canary's share of traffic runs its own
/// deployment, made with the policy of its time, whichever deployment the stage points at
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/canary-release.html>). Redeploying the
/// stage leaves it serving, so the deny-all is not in force for that share; said as what to do.
fn canary_left_open(api_id: &str, stage: &str, canary: &(String, f64)) -> String {
    let (deployment, percent) = canary;
    format!(
        "stage {stage} has a canary: {percent}% of its traffic runs deployment {deployment}, with the resource policy it was deployed with, which the deny-all this plan deploys to the stage does not reach. Remove the canary (aws apigateway update-stage --rest-api-id {api_id} --stage-name {stage} --patch-operations op=remove,path=/canarySettings) or promote it once the deny is deployed"
    )
}

async fn stages(ctx: &RegionCtx, api_id: &str) -> Result<BTreeMap<String, StageNow>, ServiceError> {
    let out = ctx
        .apigateway()
        .get_stages()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis/{id}/stages", err))?;
    let unnamed = out
        .item()
        .iter()
        .filter(|s| s.stage_name().is_none())
        .count();
    // The deny policy takes effect on a stage only once it is redeployed, by name.
    super::report_unnamed_stages(
        ctx,
        INFO.name,
        api_id,
        unnamed,
        "stageName",
        "which the deny policy cannot be deployed to",
    )
    .await;
    Ok(out
        .item()
        .iter()
        .filter_map(|stage| {
            Some((
                stage.stage_name()?.to_string(),
                StageNow {
                    deployment_id: stage.deployment_id().unwrap_or_default().to_string(),
                    canary: stage.canary_settings().map(|canary| {
                        (
                            canary.deployment_id().unwrap_or("(unnamed)").to_string(),
                            canary.percent_traffic(),
                        )
                    }),
                },
            ))
        })
        .collect())
}

/// The IDs of the API's deployments described as hikkonuki's. A description is anyone's to write: this
/// only narrows what a crashed cut may have made (see the undo) and what discovery takes for an earlier
/// apply's deployment; it never proves a deployment is hikkonuki's.
async fn described_as_ours(ctx: &RegionCtx, api_id: &str) -> Result<Vec<String>, ServiceError> {
    let deployments: Vec<_> = ctx
        .apigateway()
        .get_deployments()
        .rest_api_id(api_id)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis/{id}/deployments", err))?;
    Ok(deployments
        .iter()
        .filter(|d| d.description() == Some(DEPLOYMENT_DESCRIPTION))
        .filter_map(|d| d.id().map(str::to_string))
        .collect())
}

async fn read(ctx: &RegionCtx, api_id: &str, name: &str) -> Result<Option<ApiState>, ServiceError> {
    let policy = match rest_api_policy(ctx, api_id).await {
        Ok(policy) => policy,
        Err(err) if is_not_found(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(Some(ApiState {
        rest_api_id: api_id.to_string(),
        name: name.to_string(),
        policy,
        stage_deployments: stages(ctx, api_id)
            .await?
            .into_iter()
            .map(|(name, stage)| (name, stage.deployment_id))
            .collect(),
    }))
}

async fn set_policy(
    ctx: &RegionCtx,
    api_id: &str,
    policy: Option<&str>,
) -> Result<(), ServiceError> {
    ctx.apigateway()
        .update_rest_api()
        .rest_api_id(api_id)
        // An empty value removes the policy: AWS accepts it (Terraform deletes REST API policies this
        // way), while `remove /policy` is not implemented by the emulator. The emulator then returns
        // the policy as "", which `policy_text` reads as none.
        .patch_operations(replace("/policy", policy.unwrap_or_default()))
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:PATCH /restapis/{id}", err))?;
    Ok(())
}

async fn point_stage(
    ctx: &RegionCtx,
    api_id: &str,
    stage: &str,
    deployment_id: &str,
) -> Result<(), ServiceError> {
    ctx.apigateway()
        .update_stage()
        .rest_api_id(api_id)
        .stage_name(stage)
        .patch_operations(replace("/deploymentId", deployment_id))
        .send()
        .await
        .map_err(|err| {
            ServiceError::from_sdk("apigateway:PATCH /restapis/{id}/stages/{stage}", err)
        })?;
    Ok(())
}

/// Creates hikkonuki's deployment of the API (no stage named: the stages are pointed at it afterwards)
/// and returns its ID. The call is paced at the documented rate; when AWS still answers
/// TooManyRequestsException (HTTP 429, "Retry after the specified time period",
/// <https://docs.aws.amazon.com/apigateway/latest/api/API_CreateDeployment.html>), it waits the
/// `Retry-After` AWS gives (at least the quota's interval) and asks again, for up to
/// [`DEPLOYMENT_PATIENCE`].
async fn create_deployment(ctx: &RegionCtx, api_id: &str) -> Result<String, ServiceError> {
    use aws_sdk_apigateway::operation::create_deployment::CreateDeploymentError;

    let mut waited = Duration::ZERO;
    loop {
        let err = match ctx
            .apigateway()
            .create_deployment()
            .rest_api_id(api_id)
            .description(DEPLOYMENT_DESCRIPTION)
            .send()
            .await
        {
            Ok(deployment) => return Ok(deployment.id().unwrap_or_default().to_string()),
            Err(err) => err,
        };
        let retry_after = match err.as_service_error() {
            Some(CreateDeploymentError::TooManyRequestsException(throttled)) => Some(
                throttled
                    .retry_after_seconds()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or_default()
                    .max(DEPLOYMENT_INTERVAL),
            ),
            _ => None,
        };
        match retry_after {
            Some(wait) if waited + wait <= DEPLOYMENT_PATIENCE => {
                tokio::time::sleep(wait).await;
                waited += wait;
            }
            _ => {
                let mut err =
                    ServiceError::from_sdk("apigateway:POST /restapis/{id}/deployments", err);
                if retry_after.is_some() {
                    err.message.push_str(&format!(
                        " (still throttled after waiting {} s for a turn: another client of the account keeps deploying; the deny policy is written but not deployed, so the API stays open until it is)",
                        waited.as_secs()
                    ));
                }
                return Err(err);
            }
        }
    }
}

/// What the plan says of the deployments apply will make: CreateDeployment's fixed quota makes them
/// wait their turn, one every 5 seconds for the whole account.
pub fn deployment_time_finding(deployments: usize) -> Option<Finding> {
    if deployments < 2 {
        return None;
    }
    let seconds = (deployments as u64 - 1) * DEPLOYMENT_INTERVAL.as_secs();
    Some(Finding {
        check: INFO.name.to_string(),
        region: GLOBAL_REGION.to_string(),
        resource: "apigateway:CreateDeployment".to_string(),
        severity: Severity::Info,
        message: format!(
            "{deployments} REST API deployments at one per {} s (CreateDeployment's fixed quota per account, which AWS does not raise) take about {seconds} s: until its deployment, an API's deny policy is written but not in effect. apigw_stage_throttle closes every stage first, without a deployment.",
            DEPLOYMENT_INTERVAL.as_secs()
        ),
    })
}

/// For an API that carries the deny-all policy: the stages that run a deployment hikkonuki did not make,
/// where the policy may not be in force (an apply stopped between writing it and deploying, or the
/// policy written by hand), said as what to do. None when every stage runs one of `ours`.
pub fn undeployed_deny(state: &ApiState, ours: &[String]) -> Option<String> {
    let stale: Vec<String> = state
        .stage_deployments
        .iter()
        .filter(|(_, deployment)| !ours.contains(deployment))
        .map(|(stage, deployment)| format!("{stage} (deployment {deployment})"))
        .collect();
    (!stale.is_empty()).then(|| {
        format!(
            "it carries the deny-all policy, but stage(s) {} run a deployment hikkonuki did not make, made perhaps before the policy: a REST API's resource policy takes effect only once deployed, so the API may still answer. Deploy each stage again (aws apigateway create-deployment --rest-api-id {} --stage-name STAGE)",
            stale.join(", "),
            state.rest_api_id
        )
    })
}

/// The proposal for one API, or nothing when it already carries the deny policy.
pub fn propose(state: &ApiState) -> Option<Proposal<ApiState>> {
    if same_policy(state.policy.as_deref(), Some(DENY_ALL)) {
        return None;
    }
    let after = ApiState {
        policy: Some(DENY_ALL.to_string()),
        stage_deployments: state
            .stage_deployments
            .keys()
            .map(|stage| (stage.clone(), REDEPLOYED.to_string()))
            .collect(),
        ..state.clone()
    };
    let stages = if state.stage_deployments.is_empty() {
        "it has no stages yet".to_string()
    } else {
        format!(
            "stage(s) {} are redeployed so it takes effect (deployments are paced at AWS's one per 5 s per account)",
            state
                .stage_deployments
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Some(Proposal {
        target: state.rest_api_id.clone(),
        reason: format!(
            "REST API {} ({}) answers {}: a resource policy denying execute-api:Invoke to everyone makes every call fail with 403, whatever its authorizers say; {stages}. A private API is cut too (its calls through VPC endpoints are denied), while the VPC endpoints' own policies are left as they are. Restore puts back {} and each stage's prior deployment.",
            state.name,
            state.rest_api_id,
            if state.policy.is_some() {
                "the callers its resource policy allows"
            } else {
                "anyone its authorizers let in (it has no resource policy)"
            },
            if state.policy.is_some() {
                "the exact prior policy"
            } else {
                "no policy"
            }
        ),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

#[async_trait]
impl CutKind for ApiGatewayDenyPolicy {
    type State = ApiState;
    /// `before` (the policy and deployments to put back) and the deployment apply made, by its ID.
    type Undo = DenyUndo;

    /// The stage throttles close the APIs at once; a deny policy is in effect only once deployed, and
    /// deployments go one per 5 s per account. So the deny policies start once every throttle is
    /// answered: the throttles are not queued behind them, and no deny writes to an API while its stages
    /// are being throttled (API Gateway refuses a second change to an API in progress, see
    /// [`crate::services::common::concurrent_modification`]).
    fn cuts_after(&self) -> &'static [&'static str] {
        &["apigw_stage_throttle"]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<ApiState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.rest_api_id != cut.target || after.rest_api_id != cut.target {
            return Err(format!(
                "rest_api_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.policy.as_deref() != Some(DENY_ALL) {
            return Err("`after.policy` must be hikkonuki's deny-all policy".into());
        }
        if before
            .stage_deployments
            .keys()
            .ne(after.stage_deployments.keys())
        {
            return Err("`after.stage_deployments` must name the same stages as `before`".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<ApiState>>, ServiceError> {
        let apis = rest_apis(ctx, INFO.name).await?;
        gather(apis, READ_CONCURRENCY, |api| async move {
            let now = stages(ctx, &api.id).await?;
            for (stage, canary) in now
                .iter()
                .filter_map(|(name, stage)| Some((name, stage.canary.as_ref()?)))
            {
                crate::services::common::unclassified::report(
                    ctx,
                    INFO.name,
                    &ctx.region,
                    &format!("REST API {}", api.id),
                    canary_left_open(&api.id, stage, canary),
                )
                .await;
            }
            let state = ApiState {
                stage_deployments: now
                    .into_iter()
                    .map(|(name, stage)| (name, stage.deployment_id))
                    .collect(),
                rest_api_id: api.id,
                name: api.name,
                policy: api.policy,
            };
            // The deny-all already there is no cut proposed; but a REST API's policy is in force only
            // once deployed, so it is checked that hikkonuki's deployment is what each stage runs.
            if same_policy(state.policy.as_deref(), Some(DENY_ALL))
                && !state.stage_deployments.is_empty()
            {
                let ours = described_as_ours(ctx, &state.rest_api_id).await?;
                if let Some(what) = undeployed_deny(&state, &ours) {
                    let resource = format!("REST API {}", state.rest_api_id);
                    crate::services::common::unclassified::report(
                        ctx,
                        INFO.name,
                        &ctx.region,
                        &resource,
                        what,
                    )
                    .await;
                }
            }
            Ok(propose(&state).into_iter().collect())
        })
        .await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<ApiState>,
    ) -> Result<Option<ApiState>, ServiceError> {
        let before = &cut.before;
        Ok(read(ctx, &cut.target, &before.name)
            .await?
            .map(|mut state| {
                // The text may be reformatted by AWS: report the recorded one when they mean the same.
                if same_policy(state.policy.as_deref(), before.policy.as_deref()) {
                    state.policy = before.policy.clone();
                }
                state
            }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<ApiState>,
    ) -> Result<DenyUndo, ServiceError> {
        let before = &cut.before;
        set_policy(ctx, &before.rest_api_id, Some(DENY_ALL)).await?;
        if before.stage_deployments.is_empty() {
            return Ok(DenyUndo::of(before, None));
        }
        let deployment_id = create_deployment(ctx, &before.rest_api_id).await?;
        for stage in before.stage_deployments.keys() {
            point_stage(ctx, &before.rest_api_id, stage, &deployment_id).await?;
        }
        Ok(DenyUndo::of(before, Some(deployment_id)))
    }

    /// The deployment apply makes has an ID only known then (`after` says [`REDEPLOYED`]): the cut holds
    /// while the deny policy is on the API and each stage it redeployed runs a deployment other than the
    /// one it ran before.
    fn holds(&self, cut: &TypedCut<ApiState>, live: &ApiState) -> bool {
        live.rest_api_id == cut.after.rest_api_id
            && crate::services::common::same_json_document(
                live.policy.as_deref(),
                cut.after.policy.as_deref(),
            )
            && live.stage_deployments.len() == cut.after.stage_deployments.len()
            && cut.after.stage_deployments.iter().all(|(stage, after)| {
                live.stage_deployments.get(stage).is_some_and(|now| {
                    if after == REDEPLOYED {
                        cut.before.stage_deployments.get(stage) != Some(now)
                    } else {
                        now == after
                    }
                })
            })
    }

    /// Stopped between its calls (the policy written, some stages pointed at the new deployment), the
    /// API holds the policy of `before` or `after` (by meaning: API Gateway re-formats it), the same
    /// stages, and each stage on its deployment from before or, where the cut redeploys, on another
    /// (the one the earlier run made, whose ID the plan cannot know). Anything else was changed since.
    fn partly_cut(&self, cut: &TypedCut<ApiState>, live: &ApiState) -> bool {
        let same = crate::services::common::same_json_document;
        live.rest_api_id == cut.before.rest_api_id
            && (live.policy == cut.before.policy
                || same(live.policy.as_deref(), cut.before.policy.as_deref())
                || same(live.policy.as_deref(), cut.after.policy.as_deref()))
            && live.stage_deployments.len() == cut.before.stage_deployments.len()
            && cut.before.stage_deployments.iter().all(|(stage, before)| {
                live.stage_deployments.get(stage).is_some_and(|now| {
                    now == before
                        || cut.after.stage_deployments.get(stage).map(String::as_str)
                            == Some(REDEPLOYED)
                })
            })
    }

    /// Holds, and each redeployed stage runs the deployment apply made: a stage pointed back at any
    /// other deployment (`update-stage path=/deploymentId`), one made before the deny, serves the API
    /// without it, REST API resource policies taking effect only when deployed, while the policy still
    /// reads as cut. Another deployment made since (with the deny on) is reported for review, not held.
    fn holds_as_written(&self, cut: &TypedCut<ApiState>, live: &ApiState, undo: &DenyUndo) -> bool {
        if !self.holds(cut, live) {
            return false;
        }
        let Some(made) = undo.deployment_made.as_deref() else {
            // A crash left the deployment unrecorded: any deployment other than the one before holds.
            return true;
        };
        cut.after.stage_deployments.iter().all(|(stage, after)| {
            after != REDEPLOYED
                || live.stage_deployments.get(stage).map(String::as_str) == Some(made)
        })
    }

    /// A crash left the deployment's ID unrecorded: the undo falls back to descriptions.
    fn undo_record_for(&self, cut: &TypedCut<ApiState>) -> Result<DenyUndo, ServiceError> {
        Ok(DenyUndo::of(&cut.before, None))
    }

    /// Everything but the deployment apply made is `before`; the deployment is checked against live
    /// state when restore uses it.
    fn check_undo(&self, cut: &TypedCut<ApiState>, undo: &DenyUndo) -> Result<(), String> {
        let implied = DenyUndo::of(&cut.before, undo.deployment_made.clone());
        if *undo != implied {
            return Err(
                "the undo record must be the cut's `before` and the deployment apply made".into(),
            );
        }
        if undo.deployment_made.is_some() && cut.before.stage_deployments.is_empty() {
            return Err("`deployment_made` names a deployment, but apply deploys only an API that has stages".into());
        }
        Ok(())
    }

    /// Puts the prior policy back, points each stage hikkonuki moved back at its prior deployment, and
    /// deletes hikkonuki's deployment once no stage uses it.
    ///
    /// hikkonuki's deployment is the one apply recorded, if its description is still hikkonuki's (a
    /// recorded ID that names another deployment is not touched). Only when no ID was recorded is it
    /// taken from the description: apply's answer never journaled (a crash between CreateDeployment and
    /// the journal), a cut that failed after its deployment, a resumed apply that found the cut already
    /// made, or a rollback file from before IDs were recorded. Then a deployment someone else described
    /// so is treated as hikkonuki's, which the note says.
    async fn undo(&self, ctx: &RegionCtx, record: &DenyUndo) -> Result<UndoOutcome, ServiceError> {
        let prior = record;
        let api = &prior.rest_api_id;
        let mut notes = Vec::new();
        let current = match rest_api_policy(ctx, api).await {
            Ok(policy) => policy,
            Err(err) if is_not_found(&err) => {
                return Err(ServiceError::local(
                    "apigateway:GET /restapis/{id}",
                    format!("REST API {api} no longer exists; its policy cannot be restored"),
                ));
            }
            Err(err) => return Err(err),
        };
        if same_policy(current.as_deref(), Some(DENY_ALL)) {
            set_policy(ctx, api, prior.policy.as_deref()).await?;
            notes.push(match &prior.policy {
                Some(_) => format!("{api}: prior resource policy put back"),
                None => format!("{api}: deny policy removed (it had none)"),
            });
        } else if same_policy(current.as_deref(), prior.policy.as_deref()) {
            notes.push(format!("{api}: resource policy already as before"));
        } else {
            notes.push(format!(
                "conflict: the resource policy of {api} was changed after the cut; left alone"
            ));
        }

        let described = described_as_ours(ctx, api).await?;
        let ours: Vec<String> = match &record.deployment_made {
            Some(made) if described.contains(made) => vec![made.clone()],
            Some(made) => {
                notes.push(format!(
                    "the deployment {made} apply made is gone or no longer described as hikkonuki's; no deployment of {api} was deleted"
                ));
                Vec::new()
            }
            None if prior.stage_deployments.is_empty() => Vec::new(),
            None => {
                if !described.is_empty() {
                    notes.push(format!(
                        "the cut's deployment was not recorded (a crash mid-cut, a cut that failed or was found made by a resumed apply, or a rollback file from an older hikkonuki): deployments of {api} described as hikkonuki's ({}) were taken for it",
                        described.join(", ")
                    ));
                }
                described.clone()
            }
        };
        let now = stages(ctx, api).await?;
        for (stage, deployment) in &prior.stage_deployments {
            match now.get(stage) {
                None => notes.push(format!(
                    "stage {stage} of {api} no longer exists; not recreated"
                )),
                Some(s) if &s.deployment_id == deployment => {}
                Some(s) if ours.contains(&s.deployment_id) => {
                    point_stage(ctx, api, stage, deployment).await?;
                }
                Some(s) => notes.push(format!(
                    "conflict: stage {stage} of {api} was redeployed after the cut (now {}); left alone",
                    s.deployment_id
                )),
            }
        }
        // Deployments hikkonuki made that no stage uses any more.
        let in_use: Vec<String> = stages(ctx, api)
            .await?
            .into_values()
            .map(|s| s.deployment_id)
            .collect();
        for deployment in ours.iter().filter(|d| !in_use.contains(d)) {
            ctx.apigateway()
                .delete_deployment()
                .rest_api_id(api)
                .deployment_id(deployment)
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk(
                        "apigateway:DELETE /restapis/{id}/deployments/{deployment_id}",
                        err,
                    )
                })?;
        }
        // Others described as hikkonuki's that no stage uses are said, not deleted: an earlier cut's
        // deployment when watch cut the API again (restore holds the newest cut's record), or anyone's.
        let unrecorded: Vec<&String> = described
            .iter()
            .filter(|d| !ours.contains(d) && !in_use.contains(d))
            .collect();
        if !unrecorded.is_empty() {
            notes.push(format!(
                "deployment(s) {} of {api}, described as hikkonuki's and used by no stage, were left: this restore did not record making them (an earlier cut that watch made again, or someone else's); delete them if they are hikkonuki's (aws apigateway delete-deployment --rest-api-id {api} --deployment-id ID)",
                unrecorded
                    .iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(UndoOutcome { notes })
    }
}

/// The plan-level word on how long the deployments take: it counts every proposed cut of the account,
/// across regions, as the quota does.
#[async_trait]
impl Inspection for ApiGatewayDenyPolicy {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        _ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let deployments = cuts
            .iter()
            .filter(|cut| cut.kind == INFO.name && cut.enabled)
            .filter(|cut| {
                // Apply deploys only an API that has stages.
                TypedCut::<ApiState>::decode(cut)
                    .is_ok_and(|typed| !typed.before.stage_deployments.is_empty())
            })
            .count();
        Ok(deployment_time_finding(deployments).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {

    /// A stage with a canary: the cut is still proposed (it closes the stage's main deployment), and a
    /// High finding says the canary's share keeps the policy it was deployed with, and how to close it.
    #[tokio::test]
    async fn mocked_a_canary_the_deny_does_not_reach_is_a_high_finding() {
        use aws_sdk_apigateway::Client;
        use aws_sdk_apigateway::operation::get_rest_apis::GetRestApisOutput;
        use aws_sdk_apigateway::operation::get_stages::GetStagesOutput;
        use aws_sdk_apigateway::types::{CanarySettings, RestApi, Stage};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let apis = mock!(Client::get_rest_apis).then_output(|| {
            GetRestApisOutput::builder()
                .items(RestApi::builder().id("api-1").name("orders").build())
                .build()
        });
        let stages = mock!(Client::get_stages).then_output(|| {
            GetStagesOutput::builder()
                .item(
                    Stage::builder()
                        .stage_name("prod")
                        .deployment_id("dep-main")
                        .canary_settings(
                            CanarySettings::builder()
                                .deployment_id("dep-canary")
                                .percent_traffic(10.0)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&apis, &stages]
        ));
        let proposed = ApiGatewayDenyPolicy
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(
            proposed.len(),
            1,
            "the stage's main deployment is still cut"
        );
        let findings = crate::services::common::unclassified::reported(&ctx).await;
        let canary = findings
            .iter()
            .find(|f| f.message.contains("has a canary"))
            .unwrap_or_else(|| panic!("{findings:#?}"));
        assert_eq!(canary.severity, crate::plan::Severity::High);
        assert!(
            canary
                .message
                .contains("10% of its traffic runs deployment dep-canary")
                && canary.message.contains("op=remove,path=/canarySettings"),
            "{}",
            canary.message
        );
    }

    /// `watch`: the deployment ID is known only at apply, so any deployment other than the one before
    /// holds the cut while the deny policy is on; the old deployment back, or the policy gone, does not.
    #[test]
    fn a_new_deployment_with_the_deny_holds_the_cut_and_the_old_one_does_not() {
        let state = |policy: Option<&str>, deployment: &str| ApiState {
            rest_api_id: "a1".into(),
            name: "orders".into(),
            policy: policy.map(str::to_string),
            stage_deployments: [("prod".to_string(), deployment.to_string())].into(),
        };
        let cut = TypedCut {
            id: "apigw_deny_policy/us-east-1/a1".into(),
            region: "us-east-1".into(),
            target: "a1".into(),
            before: state(None, "d-old"),
            after: state(Some(DENY_ALL), REDEPLOYED),
        };
        let spaced = DENY_ALL.replace(',', ", ");
        assert!(CutKind::holds(
            &ApiGatewayDenyPolicy,
            &cut,
            &state(Some(&spaced), "d-new")
        ));
        assert!(!CutKind::holds(
            &ApiGatewayDenyPolicy,
            &cut,
            &state(Some(DENY_ALL), "d-old")
        ));
        assert!(!CutKind::holds(
            &ApiGatewayDenyPolicy,
            &cut,
            &state(None, "d-new")
        ));
        // Knowing the deployment apply made, a stage pointed at another, older one (made before the
        // deny, serving the API without it) does not hold.
        let undo = DenyUndo::of(&cut.before, Some("d-new".into()));
        let holds = |deployment: &str| {
            CutKind::holds_as_written(
                &ApiGatewayDenyPolicy,
                &cut,
                &state(Some(DENY_ALL), deployment),
                &undo,
            )
        };
        assert!(holds("d-new"));
        assert!(!holds("d-older"));
        assert!(!holds("d-old"));
    }
    use aws_sdk_apigateway::Client;
    use aws_sdk_apigateway::operation::create_deployment::CreateDeploymentOutput;
    use aws_sdk_apigateway::operation::delete_deployment::DeleteDeploymentOutput;
    use aws_sdk_apigateway::operation::get_deployments::GetDeploymentsOutput;
    use aws_sdk_apigateway::operation::get_rest_api::GetRestApiOutput;
    use aws_sdk_apigateway::operation::get_stages::GetStagesOutput;
    use aws_sdk_apigateway::operation::update_rest_api::UpdateRestApiOutput;
    use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput;
    use aws_sdk_apigateway::types::{Deployment, Op, PatchOperation, Stage};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::Value;

    use super::*;

    fn state(policy: Option<&str>) -> ApiState {
        ApiState {
            rest_api_id: "a1b2c3".into(),
            name: "orders".into(),
            policy: policy.map(str::to_string),
            stage_deployments: BTreeMap::from([
                ("prod".to_string(), "dep1".to_string()),
                ("test".to_string(), "dep2".to_string()),
            ]),
        }
    }

    #[test]
    fn a_deny_all_policy_is_checked_to_be_deployed_on_every_stage() {
        let denied = state(Some(DENY_ALL));
        // Both stages on hikkonuki's deployments: in force.
        assert_eq!(
            undeployed_deny(&denied, &["dep1".into(), "dep2".into()]),
            None
        );
        // One still on a deployment made before (an apply stopped before deploying, or a hand-written
        // policy): said, naming the stage and the command.
        let why = undeployed_deny(&denied, &["dep1".into()]).expect("test is not deployed");
        assert!(why.contains("stage(s) test (deployment dep2)"), "{why}");
        assert!(
            why.contains("aws apigateway create-deployment --rest-api-id a1b2c3"),
            "{why}"
        );
    }

    fn cut_of(state: &ApiState) -> TypedCut<ApiState> {
        let proposed = propose(state).unwrap();
        TypedCut {
            id: "apigw_deny_policy/us-east-1/a1b2c3".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    /// Stopped between its calls, the API holds the deny (or still none) and some stages on a new
    /// deployment: partly cut, so a resumed apply puts it back and cuts again. A stage added, or a policy
    /// neither state's, is someone else's change, left as it is.
    #[test]
    fn a_deny_written_and_one_stage_redeployed_is_partly_cut_and_other_changes_are_not() {
        let cut = cut_of(&state(None));
        let mut half = state(None);
        half.policy = cut.after.policy.clone();
        half.stage_deployments
            .insert("prod".into(), "dep-new".into());
        assert!(ApiGatewayDenyPolicy.partly_cut(&cut, &half));
        assert!(ApiGatewayDenyPolicy.partly_cut(&cut, &state(None)));
        let mut added = half.clone();
        added.stage_deployments.insert("beta".into(), "dep3".into());
        assert!(!ApiGatewayDenyPolicy.partly_cut(&cut, &added));
        let mut opened = half.clone();
        opened.policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        assert!(!ApiGatewayDenyPolicy.partly_cut(&cut, &opened));
    }

    /// The single patch operation of a request, as (op, path, value).
    fn only_op(ops: &[PatchOperation]) -> Option<(&Op, &str, Option<&str>)> {
        match ops {
            [op] => Some((op.op()?, op.path()?, op.value())),
            _ => None,
        }
    }

    #[test]
    fn an_api_already_denied_is_not_proposed_and_edits_of_after_are_refused() {
        assert_eq!(propose(&state(Some(DENY_ALL))), None);
        let proposed = propose(&state(None)).unwrap();
        assert!(proposed.reason.contains("no policy"), "{}", proposed.reason);
        assert!(
            proposed
                .reason
                .contains("VPC endpoints' own policies are left"),
            "{}",
            proposed.reason
        );
        let mut cut = cut_of(&state(None));
        assert_eq!(ApiGatewayDenyPolicy.check_states(&cut), Ok(()));
        assert_eq!(cut.after.stage_deployments["prod"], REDEPLOYED);
        cut.after.policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        assert!(ApiGatewayDenyPolicy.check_states(&cut).is_err());
    }

    #[test]
    fn the_deny_policy_denies_every_invocation_to_everyone() {
        let policy: Value = serde_json::from_str(DENY_ALL).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1);
        let deny = &statements[0];
        assert_eq!(
            (
                &deny["Effect"],
                &deny["Principal"],
                &deny["Action"],
                &deny["Resource"]
            ),
            (
                &Value::from("Deny"),
                &Value::from("*"),
                &Value::from("execute-api:Invoke"),
                &Value::from("execute-api:/*")
            )
        );
    }

    /// Apply puts the deny, deploys it once and points every stage at that deployment; undo of an API
    /// that had no policy clears it with an empty value, points each stage back at its own deployment
    /// and deletes hikkonuki's.
    #[tokio::test]
    async fn mocked_apply_and_undo_send_exactly_the_policy_and_deployment_patches() {
        let cut = cut_of(&state(None));
        let put_deny = mock!(Client::update_rest_api)
            .match_requests(|req| {
                req.rest_api_id() == Some("a1b2c3")
                    && only_op(req.patch_operations())
                        == Some((&Op::Replace, "/policy", Some(DENY_ALL)))
            })
            .then_output(|| UpdateRestApiOutput::builder().build());
        let deploy = mock!(Client::create_deployment)
            .match_requests(|req| {
                req.rest_api_id() == Some("a1b2c3")
                    && req.description() == Some(DEPLOYMENT_DESCRIPTION)
                    && req.stage_name().is_none()
            })
            .then_output(|| CreateDeploymentOutput::builder().id("hk1").build());
        let point = mock!(Client::update_stage)
            .match_requests(|req| {
                matches!(req.stage_name(), Some("prod" | "test"))
                    && only_op(req.patch_operations())
                        == Some((&Op::Replace, "/deploymentId", Some("hk1")))
            })
            .then_output(|| UpdateStageOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&put_deny, &deploy, &point]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let record = ApiGatewayDenyPolicy.apply(&ctx, &cut).await.unwrap();
        assert_eq!(
            (put_deny.num_calls(), deploy.num_calls(), point.num_calls()),
            (1, 1, 2)
        );
        assert_eq!(record, DenyUndo::of(&cut.before, Some("hk1".into())));
        assert_eq!(ApiGatewayDenyPolicy.check_undo(&cut, &record), Ok(()));

        // AWS returns the policy with its quotes escaped.
        let denied = mock!(Client::get_rest_api).then_output(|| {
            GetRestApiOutput::builder()
                .id("a1b2c3")
                .policy(DENY_ALL.replace('"', "\\\""))
                .build()
        });
        let clear = mock!(Client::update_rest_api)
            .match_requests(|req| {
                only_op(req.patch_operations()) == Some((&Op::Replace, "/policy", Some("")))
            })
            .then_output(|| UpdateRestApiOutput::builder().build());
        let deployments = mock!(Client::get_deployments).then_output(|| {
            GetDeploymentsOutput::builder()
                .items(Deployment::builder().id("dep1").build())
                .items(Deployment::builder().id("dep2").build())
                .items(
                    Deployment::builder()
                        .id("hk1")
                        .description(DEPLOYMENT_DESCRIPTION)
                        .build(),
                )
                .build()
        });
        let stages = |prod: &str, test: &str| {
            GetStagesOutput::builder()
                .item(
                    Stage::builder()
                        .stage_name("prod")
                        .deployment_id(prod)
                        .build(),
                )
                .item(
                    Stage::builder()
                        .stage_name("test")
                        .deployment_id(test)
                        .build(),
                )
                .build()
        };
        let stages_now = mock!(Client::get_stages)
            .sequence()
            .output(move || stages("hk1", "hk1"))
            .output(move || stages("dep1", "dep2"))
            .build();
        let point_back = mock!(Client::update_stage)
            .match_requests(|req| {
                let wanted = match req.stage_name() {
                    Some("prod") => "dep1",
                    Some("test") => "dep2",
                    _ => return false,
                };
                only_op(req.patch_operations())
                    == Some((&Op::Replace, "/deploymentId", Some(wanted)))
            })
            .then_output(|| UpdateStageOutput::builder().build());
        let delete = mock!(Client::delete_deployment)
            .match_requests(|req| req.deployment_id() == Some("hk1"))
            .then_output(|| DeleteDeploymentOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[
                &denied,
                &clear,
                &deployments,
                &stages_now,
                &point_back,
                &delete
            ]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let outcome = ApiGatewayDenyPolicy.undo(&ctx, &record).await.unwrap();
        assert_eq!(
            (
                clear.num_calls(),
                point_back.num_calls(),
                delete.num_calls()
            ),
            (1, 2, 1)
        );
        assert_eq!(
            outcome.notes,
            vec!["a1b2c3: deny policy removed (it had none)".to_string()]
        );
    }

    /// The deployments of an API whose policy is already the deny-all, and its stages now: `hk1` is the
    /// deployment apply recorded, `decoy` one someone else described as hikkonuki's after the cut.
    fn decoyed_api(
        stages_now: [(&'static str, &'static str); 2],
    ) -> (
        aws_smithy_mocks::Rule,
        aws_smithy_mocks::Rule,
        aws_smithy_mocks::Rule,
        aws_smithy_mocks::Rule,
    ) {
        let denied = mock!(Client::get_rest_api).then_output(|| {
            GetRestApiOutput::builder()
                .id("a1b2c3")
                .policy(DENY_ALL)
                .build()
        });
        let clear =
            mock!(Client::update_rest_api).then_output(|| UpdateRestApiOutput::builder().build());
        let deployments = mock!(Client::get_deployments).then_output(|| {
            let described = |id: &str| {
                Deployment::builder()
                    .id(id)
                    .description(DEPLOYMENT_DESCRIPTION)
                    .build()
            };
            GetDeploymentsOutput::builder()
                .items(Deployment::builder().id("dep1").build())
                .items(Deployment::builder().id("dep2").build())
                .items(described("hk1"))
                .items(described("decoy"))
                .build()
        });
        let stages = mock!(Client::get_stages).then_output(move || {
            let mut out = GetStagesOutput::builder();
            for (stage, deployment) in stages_now {
                out = out.item(
                    Stage::builder()
                        .stage_name(stage)
                        .deployment_id(deployment)
                        .build(),
                );
            }
            out.build()
        });
        (denied, clear, deployments, stages)
    }

    /// A description is anyone's to write: with the deployment apply made recorded, restore points back
    /// only the stage that runs it and deletes only it. A deployment someone described as hikkonuki's
    /// is neither deleted nor taken for hikkonuki's (the stage running it is a conflict).
    #[tokio::test]
    async fn mocked_only_the_recorded_deployment_is_undone_not_one_described_as_hikkonukis() {
        let (denied, clear, deployments, stages) =
            decoyed_api([("prod", "hk1"), ("test", "decoy")]);
        let point_back = mock!(Client::update_stage)
            .match_requests(|req| {
                req.stage_name() == Some("prod")
                    && only_op(req.patch_operations())
                        == Some((&Op::Replace, "/deploymentId", Some("dep1")))
            })
            .then_output(|| UpdateStageOutput::builder().build());
        // Only hk1 may be deleted: a request for any other deployment matches no rule and fails the undo.
        let delete = mock!(Client::delete_deployment)
            .match_requests(|req| req.deployment_id() == Some("hk1"))
            .then_output(|| DeleteDeploymentOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&denied, &clear, &deployments, &stages, &point_back, &delete]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let record = DenyUndo::of(&state(None), Some("hk1".into()));
        let outcome = ApiGatewayDenyPolicy.undo(&ctx, &record).await.unwrap();
        assert_eq!((point_back.num_calls(), delete.num_calls()), (1, 0));
        assert_eq!(
            UndoOutcome::conflicts(&outcome.notes),
            vec![
                "conflict: stage test of a1b2c3 was redeployed after the cut (now decoy); left alone"
            ]
        );
    }

    /// A record without the deployment (a crash before apply's answer was journaled, or a rollback file
    /// from before IDs were recorded) still reads, and falls back to descriptions, saying so.
    #[tokio::test]
    async fn mocked_an_unrecorded_deployment_falls_back_to_descriptions_and_says_so() {
        let old_format = "rest_api_id: a1b2c3\nname: orders\npolicy: null\nstage_deployments:\n  prod: dep1\n  test: dep2\n";
        let record: DenyUndo = serde_yaml::from_str(old_format).unwrap();
        assert_eq!(record, DenyUndo::of(&state(None), None));
        assert_eq!(
            record,
            ApiGatewayDenyPolicy
                .undo_record_for(&cut_of(&state(None)))
                .unwrap()
        );

        let (denied, clear, deployments, stages) =
            decoyed_api([("prod", "hk1"), ("test", "decoy")]);
        let point_back =
            mock!(Client::update_stage).then_output(|| UpdateStageOutput::builder().build());
        let delete = mock!(Client::delete_deployment)
            .then_output(|| DeleteDeploymentOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&denied, &clear, &deployments, &stages, &point_back, &delete]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let outcome = ApiGatewayDenyPolicy.undo(&ctx, &record).await.unwrap();
        assert_eq!(point_back.num_calls(), 2);
        assert!(
            outcome.notes.iter().any(|note| note
                == "the cut's deployment was not recorded (a crash mid-cut, a cut that failed or was found made by a resumed apply, or a rollback file from an older hikkonuki): deployments of a1b2c3 described as hikkonuki's (hk1, decoy) were taken for it"),
            "{:?}",
            outcome.notes
        );
    }

    /// The rollback file may name the deployment apply made, and nothing else beyond `before`.
    #[test]
    fn an_undo_record_differing_from_before_or_naming_a_deployment_for_no_stage_is_refused() {
        let cut = cut_of(&state(Some("{}")));
        let made = DenyUndo::of(&cut.before, Some("hk1".into()));
        assert_eq!(ApiGatewayDenyPolicy.check_undo(&cut, &made), Ok(()));
        let widened = DenyUndo {
            policy: Some(r#"{"Statement":[{"Effect":"Allow","Principal":"*"}]}"#.into()),
            ..made.clone()
        };
        assert!(ApiGatewayDenyPolicy.check_undo(&cut, &widened).is_err());
        let stageless = cut_of(&ApiState {
            stage_deployments: BTreeMap::new(),
            ..state(None)
        });
        let invented = DenyUndo::of(&stageless.before, Some("someone-elses".into()));
        assert!(
            ApiGatewayDenyPolicy
                .check_undo(&stageless, &invented)
                .unwrap_err()
                .contains("only an API that has stages")
        );
    }

    /// A prior policy goes back as the exact text recorded.
    #[tokio::test]
    async fn mocked_undo_puts_back_the_exact_prior_policy_text() {
        let prior = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}]}"#;
        let record = ApiGatewayDenyPolicy
            .undo_record_for(&cut_of(&ApiState {
                stage_deployments: BTreeMap::new(),
                ..state(Some(prior))
            }))
            .unwrap();
        let denied = mock!(Client::get_rest_api)
            .then_output(|| GetRestApiOutput::builder().policy(DENY_ALL).build());
        let put_back = mock!(Client::update_rest_api)
            .match_requests(move |req| {
                only_op(req.patch_operations()) == Some((&Op::Replace, "/policy", Some(prior)))
            })
            .then_output(|| UpdateRestApiOutput::builder().build());
        let deployments =
            mock!(Client::get_deployments).then_output(|| GetDeploymentsOutput::builder().build());
        let stages = mock!(Client::get_stages).then_output(|| GetStagesOutput::builder().build());
        let client = mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&denied, &put_back, &deployments, &stages]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
        let outcome = ApiGatewayDenyPolicy.undo(&ctx, &record).await.unwrap();
        assert_eq!(put_back.num_calls(), 1);
        assert_eq!(
            outcome.notes,
            vec!["a1b2c3: prior resource policy put back".to_string()]
        );
    }

    /// API Gateway's answer once the account's deployment quota is spent: HTTP 429
    /// TooManyRequestsException, with the seconds to wait in `Retry-After` (API_CreateDeployment.html,
    /// "Errors"; restJson1 carries the code in `x-amzn-ErrorType`).
    fn too_many_requests(
        retry_after: &str,
    ) -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;

        let mut response = HttpResponse::new(
            StatusCode::try_from(429).unwrap(),
            SdkBody::from(r#"{"message":"Too Many Requests"}"#),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", "TooManyRequestsException");
        response
            .headers_mut()
            .insert("Retry-After", retry_after.to_string());
        response
            .headers_mut()
            .insert("Content-Type", "application/json");
        response
    }

    /// A client without the SDK's own retries, so the kind's waiting is what is measured.
    fn without_sdk_retries(rules: &[&aws_smithy_mocks::Rule]) -> Client {
        mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, rules, |conf| conf
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled()))
    }

    /// Someone else in the account deployed first: the cut waits the Retry-After AWS gives (never less
    /// than the quota's 5 s) and deploys, instead of failing with the API left open.
    #[tokio::test(start_paused = true)]
    async fn mocked_a_throttled_deployment_waits_its_turn_instead_of_failing() {
        let cut = cut_of(&state(None));
        let put_deny =
            mock!(Client::update_rest_api).then_output(|| UpdateRestApiOutput::builder().build());
        let deploy = mock!(Client::create_deployment)
            .sequence()
            .http_response(|| too_many_requests("12"))
            .http_response(|| too_many_requests("1"))
            .output(|| CreateDeploymentOutput::builder().id("hk1").build())
            .build();
        let point = mock!(Client::update_stage)
            .match_requests(|req| {
                only_op(req.patch_operations())
                    == Some((&Op::Replace, "/deploymentId", Some("hk1")))
            })
            .then_output(|| UpdateStageOutput::builder().build());
        let ctx = RegionCtx::for_tests("us-east-1")
            .mock_apigateway(without_sdk_retries(&[&put_deny, &deploy, &point]));
        let start = tokio::time::Instant::now();
        ApiGatewayDenyPolicy.apply(&ctx, &cut).await.unwrap();
        assert_eq!(deploy.num_calls(), 3);
        assert_eq!(point.num_calls(), 2, "both stages on the new deployment");
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(12 + 5),
            "Retry-After 12, then the quota's 5 s for a shorter Retry-After"
        );
    }

    /// A quota someone else keeps using: after DEPLOYMENT_PATIENCE the cut fails and says the policy is
    /// written but not deployed.
    #[tokio::test(start_paused = true)]
    async fn mocked_a_deployment_throttled_past_patience_fails_saying_the_api_stays_open() {
        let cut = cut_of(&state(None));
        let put_deny =
            mock!(Client::update_rest_api).then_output(|| UpdateRestApiOutput::builder().build());
        let deploy = mock!(Client::create_deployment)
            .sequence()
            .http_response(|| too_many_requests("5"))
            .repeatedly()
            .build();
        let ctx = RegionCtx::for_tests("us-east-1")
            .mock_apigateway(without_sdk_retries(&[&put_deny, &deploy]));
        let err = ApiGatewayDenyPolicy.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("TooManyRequestsException"));
        assert!(err.message.contains("written but not deployed"), "{err}");
        let attempts = (DEPLOYMENT_PATIENCE.as_secs() / DEPLOYMENT_INTERVAL.as_secs()) as usize + 1;
        assert_eq!(deploy.num_calls(), attempts);
    }

    fn plan_cut(api: &str, stages: &[&str], enabled: bool) -> Cut {
        let state = ApiState {
            rest_api_id: api.into(),
            name: api.into(),
            policy: None,
            stage_deployments: stages
                .iter()
                .map(|s| (s.to_string(), "dep".to_string()))
                .collect(),
        };
        let proposed = propose(&state).unwrap();
        Cut {
            id: Cut::expected_id(INFO.name, "us-east-1", api),
            kind: INFO.name.into(),
            region: "us-east-1".into(),
            target: api.into(),
            enabled,
            reversible: true,
            reason: proposed.reason,
            before: serde_json::to_value(&proposed.before).unwrap().into(),
            after: serde_json::to_value(&proposed.after).unwrap().into(),
        }
    }

    /// The plan says how long the account's deployments take: enabled cuts of APIs with stages, in every
    /// region, one per 5 s after the first.
    #[tokio::test]
    async fn the_plan_says_how_long_the_deployments_take() {
        assert_eq!(deployment_time_finding(0), None);
        assert_eq!(deployment_time_finding(1), None, "one goes at once");
        let cuts = vec![
            plan_cut("a1", &["prod"], true),
            plan_cut("a2", &["prod", "test"], true),
            plan_cut("a3", &["prod"], true),
            plan_cut("a4", &[], true),
            plan_cut("a5", &["prod"], false),
        ];
        let findings = ApiGatewayDenyPolicy
            .inspect(
                &RegionCtx::for_tests("us-east-1"),
                &DiscoveryScope::for_tests(),
                &cuts,
            )
            .await
            .unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Info);
        assert_eq!(findings[0].region, GLOBAL_REGION);
        assert!(
            findings[0]
                .message
                .starts_with("3 REST API deployments at one per 5 s (CreateDeployment's fixed quota per account, which AWS does not raise) take about 10 s"),
            "{findings:?}"
        );
        assert!(
            cuts[0].reason.contains("one per 5 s per account"),
            "{}",
            cuts[0].reason
        );
    }
}
