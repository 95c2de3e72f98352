//! `vpce_delete`: delete the endpoint. Irreversible and off by default: a re-created endpoint gets a new
//! ID and new DNS names, so whatever refers to the old ones breaks, and restore does not try. The plan and
//! the rollback file keep the endpoint's full description for whoever rebuilds it. Prefer
//! `vpce_policy_deny`, which restore reverses; this cut is for endpoints whose policy cannot be trusted
//! to hold, or whose service takes no policy.

use async_trait::async_trait;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

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

pub struct VpcEndpointDelete;

static INFO: KindInfo = KindInfo {
    name: "vpce_delete",
    reversible: false,
    enabled_by_default: false,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::VpcEndpoints,
};

/// The state the cut leaves: the endpoint is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    pub vpc_endpoint_id: String,
    /// Always `deleted`.
    pub state: String,
}

/// What `before` and `after` record: the endpoint's description before the cut, its deletion after.
/// Untagged, so each is written exactly as the description or the deletion alone; the two shapes share
/// no required field, so a document reads as one of them at most.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "neither an endpoint's full description nor a deleted endpoint (`vpc_endpoint_id` and `state` only)"
)]
pub enum EndpointState {
    Described(Box<EndpointDescription>),
    Deleted(Deleted),
}

/// What the rollback file keeps: the endpoint's description, for whoever rebuilds it. Restore fails
/// either way, so a record that does not read as a description is still accepted, and gets the same
/// error without the rebuilding hint, as it always has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UndoRecord {
    Described(Box<EndpointDescription>),
    /// Only ever read from a rollback file; apply always writes a description.
    #[serde(skip_serializing)]
    Unreadable(IgnoredAny),
}

/// Builds the proposal for one endpoint.
pub fn propose(endpoint: &EndpointDescription, support: &PolicySupport) -> Proposal<EndpointState> {
    let mut reason = format!(
        "Deletes {}. This CANNOT be undone: a re-created endpoint gets a new ID and new DNS names, and restore will not rebuild it; its full description is recorded here and in the rollback file for rebuilding by hand. Off by default: `apply` performs it only when it is set to `enabled: true` and `--allow-irreversible` is given. Prefer vpce_policy_deny, which restore reverses.",
        endpoint.summary()
    );
    if let PolicySupport::Ignored(why) = support {
        reason.push_str(&format!(
            " AWS allows full access through this endpoint whatever its policy says ({why}), so deleting it is the only cut that closes it."
        ));
    } else if endpoint.policy_document.is_none() {
        reason.push_str(
            " This endpoint's service takes no endpoint policy, so deleting it is the only cut that closes it.",
        );
    }
    Proposal {
        target: endpoint.vpc_endpoint_id.clone(),
        reason,
        before: EndpointState::Described(Box::new(endpoint.clone())),
        after: EndpointState::Deleted(Deleted {
            vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
            state: "deleted".into(),
        }),
        disabled_because: None,
    }
}

/// The cut's states in their places: the description before, the deletion after.
fn states(cut: &TypedCut<EndpointState>) -> Result<(&EndpointDescription, &Deleted), String> {
    let EndpointState::Described(before) = &cut.before else {
        return Err(
            "`before` must be the endpoint's full description, not a deleted endpoint".into(),
        );
    };
    let EndpointState::Deleted(after) = &cut.after else {
        return Err(
            "`after` must be the deleted endpoint (`vpc_endpoint_id` and `state` only), not a description"
                .into(),
        );
    };
    Ok((before, after))
}

/// The error for an endpoint AWS did not delete, from DeleteVpcEndpoints' `Unsuccessful` list.
pub fn unsuccessful_error(
    endpoint_id: &str,
    failures: &[aws_sdk_ec2::types::UnsuccessfulItem],
) -> Option<ServiceError> {
    let failure = failures
        .iter()
        .find(|f| f.resource_id().is_none_or(|id| id == endpoint_id))?;
    let error = failure.error();
    Some(ServiceError {
        operation: "ec2:DeleteVpcEndpoints".into(),
        code: error.and_then(|e| e.code()).map(str::to_string),
        message: format!(
            "{endpoint_id} was not deleted: {}",
            error
                .and_then(|e| e.message())
                .unwrap_or("AWS listed it as unsuccessful without a message")
        ),
    })
}

#[async_trait]
impl CutKind for VpcEndpointDelete {
    type State = EndpointState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn vpcs(&self, state: &EndpointState) -> Vec<String> {
        match state {
            EndpointState::Described(endpoint) => vec![endpoint.vpc_id.clone()],
            EndpointState::Deleted(_) => Vec::new(),
        }
    }

    fn carries_calls_from_vpc(&self, cut: &TypedCut<EndpointState>) -> Option<String> {
        match &cut.before {
            // Associated with no route table, it carries no one's calls.
            EndpointState::Described(endpoint) if endpoint.route_table_ids.is_empty() => None,
            EndpointState::Described(endpoint) => carries_calls_by_route(
                &endpoint.vpc_endpoint_type,
                &endpoint.service_name,
                &cut.target,
                &cut.region,
            ),
            EndpointState::Deleted(_) => None,
        }
    }

    fn check_states(&self, cut: &TypedCut<EndpointState>) -> Result<(), String> {
        let (before, after) = states(cut)?;
        if before.vpc_endpoint_id != cut.target || after.vpc_endpoint_id != cut.target {
            return Err(format!(
                "vpc_endpoint_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.state != "deleted" {
            return Err(format!(
                "`after.state` must be `deleted`, not `{}`: the cut deletes the endpoint",
                after.state
            ));
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<EndpointState>>, ServiceError> {
        Ok(classified_region(ctx)
            .await?
            .each()
            .map(|(endpoint, support, own)| {
                let mut proposal = propose(endpoint, support);
                if let Some(own) = own {
                    proposal.disabled_because = Some(own);
                }
                proposal
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
        cut: &TypedCut<EndpointState>,
    ) -> Result<Option<EndpointState>, ServiceError> {
        Ok(live_endpoint(ctx, &cut.target)
            .await?
            .map(|endpoint| EndpointState::Described(Box::new(endpoint))))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<EndpointState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let out = ctx
            .ec2()
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&cut.target)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DeleteVpcEndpoints", err))?;
        if let Some(err) = unsuccessful_error(&cut.target, out.unsuccessful()) {
            return Err(err);
        }
        Ok(record)
    }

    /// Dry-runs DeleteVpcEndpoints (`apply --check`; `DryRunOperation` when it would be permitted,
    /// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteVpcEndpoints.html>).
    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<EndpointState>,
    ) -> PermissionCheck {
        PermissionCheck::from_dry_run(
            ctx.ec2()
                .delete_vpc_endpoints()
                .vpc_endpoint_ids(&cut.target)
                .dry_run(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| ServiceError::from_sdk("ec2:DeleteVpcEndpoints", err)),
        )
    }

    /// The endpoint's recorded description: nothing can undo the cut, but the rollback file keeps what
    /// is needed to rebuild it by hand.
    fn undo_record_for(&self, cut: &TypedCut<EndpointState>) -> Result<UndoRecord, ServiceError> {
        let (before, _) = states(cut).map_err(|problem| ServiceError::local(INFO.name, problem))?;
        Ok(UndoRecord::Described(Box::new(before.clone())))
    }

    async fn undo(&self, _ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let description = match undo {
            UndoRecord::Described(d) => format!(
                "{}; rebuild it by hand from its recorded description: {}",
                d.summary(),
                d.rebuild_hint()
            ),
            UndoRecord::Unreadable(_) => "the recorded endpoint".to_string(),
        };
        Err(ServiceError::local(
            "vpce_delete",
            format!(
                "a deleted VPC endpoint cannot be restored (a re-created one gets a new ID): {description}"
            ),
        ))
    }
}
