//! `vpce_delete`: delete the endpoint. Irreversible and off by default: a re-created endpoint gets a new
//! ID and new DNS names, so whatever refers to the old ones breaks, and restore does not try. The plan and
//! the rollback file keep the endpoint's full description for whoever rebuilds it. Prefer
//! `vpce_policy_deny`, which restore reverses; this cut is for endpoints whose policy cannot be trusted
//! to hold, or whose service takes no policy.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EndpointDescription, candidates, describe_region, live_endpoint, to_value};
use crate::aws::RegionCtx;
use crate::plan::Cut;
use crate::services::{
    Containment, DiscoveryScope, KindInfo, Phase, ProposedCut, ServiceError, UndoOutcome,
};

pub struct VpcEndpointDelete;

static INFO: KindInfo = KindInfo {
    name: "vpce_delete",
    reversible: false,
    enabled_by_default: false,
    phase: Phase::PerResource,
    global: false,
};

/// The state the cut leaves: the endpoint is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    pub vpc_endpoint_id: String,
    /// Always `deleted`.
    pub state: String,
}

/// Builds the proposal for one endpoint.
pub fn propose(endpoint: &EndpointDescription) -> ProposedCut {
    let mut reason = format!(
        "Deletes {}. This CANNOT be undone: a re-created endpoint gets a new ID and new DNS names, and restore will not rebuild it; its full description is recorded here and in the rollback file for rebuilding by hand. Off by default: `apply` performs it only when it is set to `enabled: true` and `--allow-irreversible` is given. Prefer vpce_policy_deny, which restore reverses.",
        endpoint.summary()
    );
    if endpoint.policy_document.is_none() {
        reason.push_str(
            " This endpoint's service takes no endpoint policy, so deleting it is the only cut that closes it.",
        );
    }
    ProposedCut {
        target: endpoint.vpc_endpoint_id.clone(),
        reason,
        before: to_value(endpoint),
        after: to_value(&Deleted {
            vpc_endpoint_id: endpoint.vpc_endpoint_id.clone(),
            state: "deleted".into(),
        }),
        disabled_because: None,
    }
}

fn decode_states(cut: &Cut) -> Result<(EndpointDescription, Deleted), String> {
    let before: EndpointDescription =
        serde_json::from_value(cut.before.clone()).map_err(|err| format!("`before`: {err}"))?;
    let after: Deleted =
        serde_json::from_value(cut.after.clone()).map_err(|err| format!("`after`: {err}"))?;
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
impl Containment for VpcEndpointDelete {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        let (before, after) = decode_states(cut)?;
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
    ) -> Result<Vec<ProposedCut>, ServiceError> {
        let endpoints = describe_region(ctx).await?;
        Ok(candidates(&endpoints).iter().map(propose).collect())
    }

    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        Ok(live_endpoint(ctx, &cut.target)
            .await?
            .map(|e| to_value(&e))
            .unwrap_or(Value::Null))
    }

    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
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

    /// The endpoint's recorded description: nothing can undo the cut, but the rollback file keeps what
    /// is needed to rebuild it by hand.
    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError> {
        let (before, _) =
            decode_states(cut).map_err(|problem| ServiceError::local("vpce_delete", problem))?;
        Ok(to_value(&before))
    }

    async fn undo(&self, _ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError> {
        let description = serde_json::from_value::<EndpointDescription>(undo.clone())
            .map(|d| {
                format!(
                    "{}; rebuild it by hand from its recorded description: {}",
                    d.summary(),
                    d.rebuild_hint()
                )
            })
            .unwrap_or_else(|_| "the recorded endpoint".to_string());
        Err(ServiceError::local(
            "vpce_delete",
            format!(
                "a deleted VPC endpoint cannot be restored (a re-created one gets a new ID): {description}"
            ),
        ))
    }
}
