//! `vpce_policy_deny`: replace each endpoint's policy with a deny-all, so nothing in the VPC can use the
//! endpoint, while the endpoint itself, its ID, routes and DNS names stay. Restore writes back the exact
//! policy document that was recorded, and only while the live policy is still our deny-all.
//!
//! Only endpoints whose service enforces the policy get the cut ([`PolicySupport`]): for the others a
//! deny-all would change nothing while the plan called them closed, so the `vpce_policy_ignored` finding
//! names them instead, and `vpce_delete` is the cut that closes them.

use async_trait::async_trait;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{
    EndpointDescription, PolicySupport, carries_calls_by_route, classified_region, live_endpoint,
    own_routes_among,
};
use crate::aws::{CallerIdentity, RegionCtx};
use crate::plan::Cut;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct VpcEndpointPolicyDeny;

static INFO: KindInfo = KindInfo {
    name: "vpce_policy_deny",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::VpcEndpoints,
};

/// The policy the cut puts on every endpoint.
pub const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// An endpoint's policy as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyState {
    pub vpc_endpoint_id: String,
    pub vpc_endpoint_type: String,
    pub service_name: String,
    pub vpc_id: String,
    pub state: String,
    /// Exactly as AWS returns it: restore writes this very string back. A plan's states always hold one
    /// (decoding refuses a missing or null policy, as it always has); only a live endpoint whose policy
    /// went away since is observed without, so the drift report shows the policy gone.
    #[serde(deserialize_with = "a_policy", skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
}

fn a_policy<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// What restore needs: the endpoint, the policy to put back, and the policy the cut put in its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub vpc_endpoint_id: String,
    pub original_policy: String,
    pub deny_policy: String,
}

/// Whether two policy documents say the same thing. AWS may return a policy with other spacing or key
/// order than it was given, so documents that parse are compared as JSON.
pub fn same_policy(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The policy state of an endpoint; without a policy when its service takes none.
pub fn policy_state(endpoint: &EndpointDescription) -> PolicyState {
    PolicyState {
        vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
        vpc_endpoint_type: endpoint.vpc_endpoint_type.clone(),
        service_name: endpoint.service_name.clone(),
        vpc_id: endpoint.vpc_id.clone(),
        state: endpoint.state.clone(),
        policy_document: endpoint.policy_document.clone(),
    }
}

/// Builds the proposal for one endpoint, or nothing when it takes no policy, already denies all, or its
/// service ignores endpoint policies (the `vpce_policy_ignored` finding names those).
pub fn propose(
    endpoint: &EndpointDescription,
    support: &PolicySupport,
) -> Option<Proposal<PolicyState>> {
    if let PolicySupport::Ignored(_) = support {
        return None;
    }
    let before = policy_state(endpoint);
    if same_policy(before.policy_document.as_deref()?, DENY_ALL) {
        return None;
    }
    let mut reason = format!(
        "{}: anything in the VPC reaches the service through it without an internet gateway. Its policy is replaced by a deny-all, so the endpoint stays (same ID, routes and DNS names) but serves no request; restore writes the recorded policy back exactly.",
        endpoint.summary()
    );
    if endpoint.vpc_endpoint_type.eq_ignore_ascii_case("Interface") {
        // The policy is checked per request: a long request already under way is not cut short.
        reason.push_str(" Requests already under way through its network interfaces may finish.");
    }
    if let PolicySupport::Unknown(why) = support {
        reason.push_str(&format!(
            " Whether AWS enforces this endpoint's policy could not be told ({why}); if it does not, the endpoint stays open and only vpce_delete closes it (see the vpce_policy_ignored finding)."
        ));
    }
    let after = PolicyState {
        policy_document: Some(DENY_ALL.to_string()),
        ..before.clone()
    };
    Some(Proposal {
        target: before.vpc_endpoint_id.clone(),
        reason,
        before,
        after,
        disabled_because: None,
    })
}

/// What an undo does with the policy it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRestore {
    /// The live policy is still our deny-all: write the original back.
    PutBack,
    /// The live policy already says what the original said.
    AlreadyRestored,
    /// Someone changed it since, or the endpoint is gone: left alone, with the note saying so.
    Conflict(String),
}

/// Decides the undo from the endpoint's live policy (`live` is None when the endpoint is gone).
pub fn plan_restore(undo: &UndoRecord, live: Option<&EndpointDescription>) -> PolicyRestore {
    let Some(live) = live else {
        return PolicyRestore::Conflict(format!(
            "conflict: {} no longer exists (deleted since the cut, perhaps by vpce_delete); its policy cannot be put back. If it is rebuilt, its policy was: {}",
            undo.vpc_endpoint_id, undo.original_policy
        ));
    };
    match live.policy_document.as_deref() {
        Some(policy) if same_policy(policy, &undo.original_policy) => {
            PolicyRestore::AlreadyRestored
        }
        Some(policy) if same_policy(policy, &undo.deny_policy) => PolicyRestore::PutBack,
        other => PolicyRestore::Conflict(format!(
            "conflict: the policy of {} was changed after the cut (it is now {}); left as it is. The policy before the cut was: {}",
            undo.vpc_endpoint_id,
            other.unwrap_or("absent"),
            undo.original_policy
        )),
    }
}

/// A recorded state's policy. Decoding guarantees one, so only a state built by hand can lack it; the
/// error is the one decoding such a state always gave.
fn recorded_policy(state: &PolicyState, which: &str) -> Result<String, ServiceError> {
    state.policy_document.clone().ok_or_else(|| {
        ServiceError::local(
            INFO.name,
            format!("`{which}`: missing field `policy_document`"),
        )
    })
}

async fn put_policy(ctx: &RegionCtx, endpoint_id: &str, policy: &str) -> Result<(), ServiceError> {
    send_policy(ctx, endpoint_id, policy, false).await
}

/// ModifyVpcEndpoint with `policy`, or its dry run (`apply --check`; AWS answers `DryRunOperation` when it
/// would be permitted, <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcEndpoint.html>).
async fn send_policy(
    ctx: &RegionCtx,
    endpoint_id: &str,
    policy: &str,
    dry_run: bool,
) -> Result<(), ServiceError> {
    let out = ctx
        .ec2()
        .modify_vpc_endpoint()
        .vpc_endpoint_id(endpoint_id)
        .policy_document(policy)
        .dry_run(dry_run)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:ModifyVpcEndpoint", err))?;
    if out.r#return() == Some(false) {
        return Err(ServiceError::local(
            "ec2:ModifyVpcEndpoint",
            format!(
                "AWS answered false for the policy of {endpoint_id}; check the endpoint in the console and run again"
            ),
        ));
    }
    Ok(())
}

#[async_trait]
impl CutKind for VpcEndpointPolicyDeny {
    type State = PolicyState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own endpoint: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn vpcs(&self, state: &PolicyState) -> Vec<String> {
        vec![state.vpc_id.clone()]
    }

    fn carries_calls_from_vpc(&self, cut: &TypedCut<PolicyState>) -> Option<String> {
        let endpoint = &cut.before;
        carries_calls_by_route(
            &endpoint.vpc_endpoint_type,
            &endpoint.service_name,
            &cut.target,
            &cut.region,
        )
    }

    fn check_states(&self, cut: &TypedCut<PolicyState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.vpc_endpoint_id != cut.target || after.vpc_endpoint_id != cut.target {
            return Err(format!(
                "vpc_endpoint_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.policy_document.as_deref() != Some(DENY_ALL) {
            return Err(format!(
                "`after` must hold the deny-all policy {DENY_ALL}: the cut writes nothing else"
            ));
        }
        let unchanged = PolicyState {
            policy_document: before.policy_document.clone(),
            ..after.clone()
        };
        if &unchanged != before {
            return Err("`after` may differ from `before` only in policy_document".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<PolicyState>>, ServiceError> {
        Ok(classified_region(ctx)
            .await?
            .each()
            .filter_map(|(endpoint, support, own)| {
                let mut proposal = propose(endpoint, support)?;
                if let Some(own) = own {
                    proposal.disabled_because = Some(own);
                }
                Some(proposal)
            })
            .collect())
    }

    /// Where apply runs from may not be where the plan was made: an endpoint this run's own calls go
    /// through is left out ([`super::own_route`]).
    async fn cuts_off_live(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
        _caller: &CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        own_routes_among(ctx, cuts).await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PolicyState>,
    ) -> Result<Option<PolicyState>, ServiceError> {
        Ok(live_endpoint(ctx, &cut.target)
            .await?
            .as_ref()
            .map(policy_state))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PolicyState>,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        put_policy(ctx, &undo.vpc_endpoint_id, &undo.deny_policy).await?;
        Ok(undo)
    }

    /// Dry-runs the ModifyVpcEndpoint apply would send (`apply --check`).
    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PolicyState>,
    ) -> PermissionCheck {
        let undo = match self.undo_record_for(cut) {
            Ok(undo) => undo,
            Err(err) => return PermissionCheck::Failed(err),
        };
        PermissionCheck::from_dry_run(
            send_policy(ctx, &undo.vpc_endpoint_id, &undo.deny_policy, true).await,
        )
    }

    fn undo_record_for(&self, cut: &TypedCut<PolicyState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            vpc_endpoint_id: cut.before.vpc_endpoint_id.clone(),
            original_policy: recorded_policy(&cut.before, "before")?,
            deny_policy: recorded_policy(&cut.after, "after")?,
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let live = live_endpoint(ctx, &undo.vpc_endpoint_id).await?;
        let note = match plan_restore(undo, live.as_ref()) {
            PolicyRestore::PutBack => {
                put_policy(ctx, &undo.vpc_endpoint_id, &undo.original_policy).await?;
                format!("put the original policy back on {}", undo.vpc_endpoint_id)
            }
            PolicyRestore::AlreadyRestored => format!(
                "already restored: {} has its original policy",
                undo.vpc_endpoint_id
            ),
            PolicyRestore::Conflict(note) => note,
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}
