//! `vgw_detach`: detach every virtual private gateway from the VPCs it is attached to. A virtual private
//! gateway is the VPC's end of Site-to-Site VPN and Direct Connect links, so detaching it cuts the paths
//! to on-premises networks (and through them, often, to the internet) without touching the VPN
//! connections or Direct Connect interfaces themselves.
//!
//! Restore attaches the same gateway to the same VPC, unless the VPC has another one by then. Static routes
//! to the gateway stay in the route tables (as blackholes) while it is detached and work again once it is
//! back; route propagation is a route-table setting and comes back with it too.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, VpnGateway};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::gateway_attachment::{self, Attachment};
use crate::aws::RegionCtx;
use crate::plan::Cut;
use crate::services::{
    Containment, DiscoveryScope, KindInfo, Phase, ProposedCut, ServiceError, UndoOutcome,
};

pub struct VpnGatewayDetach;

static INFO: KindInfo = KindInfo {
    name: "vgw_detach",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Seal,
    global: false,
};

/// A virtual private gateway as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayState {
    pub vpn_gateway_id: String,
    /// `ipsec.1`, the only type AWS offers; kept so the plan says what kind of link this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_type: Option<String>,
    /// Sorted; `detached` attachments are left out.
    pub attachments: Vec<Attachment>,
}

/// What restore needs: the gateway and the VPCs it was detached from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub vpn_gateway_id: String,
    pub detached_from: Vec<String>,
}

/// Builds the proposal for one gateway, or nothing when it is attached nowhere.
pub fn propose(state: &GatewayState) -> Option<ProposedCut> {
    let detached: Vec<&str> = state
        .attachments
        .iter()
        .filter(|a| gateway_attachment::carries_traffic(&a.state))
        .map(|a| a.vpc_id.as_str())
        .collect();
    if detached.is_empty() {
        return None;
    }
    let reason = format!(
        "{} links {} to networks outside AWS over Site-to-Site VPN or Direct Connect. Detaching it cuts those paths; the VPN connections and Direct Connect interfaces themselves are left as they are, and routes to the gateway come back into use when restore attaches it again.",
        state.vpn_gateway_id,
        detached.join(", ")
    );
    let after = GatewayState {
        attachments: gateway_attachment::remaining_after_detach(&state.attachments),
        ..state.clone()
    };
    Some(ProposedCut {
        target: state.vpn_gateway_id.clone(),
        reason,
        before: serde_json::to_value(state).expect("gateway state serializes"),
        after: serde_json::to_value(&after).expect("gateway state serializes"),
        disabled_because: None,
    })
}

/// The recorded shape of a gateway; None for one that is deleted or being deleted (nothing to detach).
pub fn state_of(gateway: &VpnGateway) -> Option<GatewayState> {
    let lifecycle = gateway.state().map(|s| s.as_str()).unwrap_or_default();
    if matches!(lifecycle, "deleted" | "deleting") {
        return None;
    }
    Some(GatewayState {
        vpn_gateway_id: gateway.vpn_gateway_id()?.to_string(),
        gateway_type: gateway.r#type().map(|t| t.as_str().to_string()),
        attachments: gateway_attachment::live_attachments(
            gateway
                .vpc_attachments()
                .iter()
                .map(|a| (a.vpc_id(), a.state())),
        ),
    })
}

fn decode_states(cut: &Cut) -> Result<(GatewayState, GatewayState), String> {
    crate::services::decode_states(cut)
}

fn decode_undo(undo: &Value) -> Result<UndoRecord, ServiceError> {
    serde_json::from_value(undo.clone()).map_err(|err| {
        ServiceError::local(
            "vgw_detach",
            format!("the undo record does not decode: {err}"),
        )
    })
}

/// The gateway now, or None when it no longer exists (AWS answers NotFound; the emulator an empty list).
async fn live_gateway(
    ctx: &RegionCtx,
    gateway_id: &str,
) -> Result<Option<VpnGateway>, ServiceError> {
    let result = ctx
        .ec2()
        .describe_vpn_gateways()
        .vpn_gateway_ids(gateway_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err));
    match result {
        Ok(out) => Ok(out
            .vpn_gateways()
            .iter()
            .find(|g| {
                !matches!(
                    g.state().map(|s| s.as_str()),
                    Some("deleted") | Some("deleting")
                )
            })
            .cloned()),
        Err(err) if err.code.as_deref() == Some("InvalidVpnGatewayID.NotFound") => Ok(None),
        Err(err) => Err(err),
    }
}

/// For each VPC, the gateways attached to it now (in a state that carries traffic).
fn attached_by_vpc(gateways: &[VpnGateway]) -> BTreeMap<String, Vec<String>> {
    let mut by_vpc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for state in gateways.iter().filter_map(state_of) {
        for attachment in state.attachments {
            if gateway_attachment::carries_traffic(&attachment.state) {
                by_vpc
                    .entry(attachment.vpc_id)
                    .or_default()
                    .push(state.vpn_gateway_id.clone());
            }
        }
    }
    by_vpc
}

#[async_trait]
impl Containment for VpnGatewayDetach {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        let (before, after) = decode_states(cut)?;
        if before.vpn_gateway_id != cut.target || after.vpn_gateway_id != cut.target {
            return Err(format!(
                "vpn_gateway_id must be the cut's target `{}`",
                cut.target
            ));
        }
        gateway_attachment::check_detach(&before.attachments, &after.attachments)
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<ProposedCut>, ServiceError> {
        // DescribeVpnGateways is not paginated: one call returns every gateway of the region.
        let out = ctx
            .ec2()
            .describe_vpn_gateways()
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err))?;
        let mut states: Vec<GatewayState> =
            out.vpn_gateways().iter().filter_map(state_of).collect();
        states.sort_by(|a, b| a.vpn_gateway_id.cmp(&b.vpn_gateway_id));
        Ok(states.iter().filter_map(propose).collect())
    }

    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        Ok(live_gateway(ctx, &cut.target)
            .await?
            .as_ref()
            .and_then(state_of)
            .map(|state| serde_json::to_value(state).expect("gateway state serializes"))
            .unwrap_or(Value::Null))
    }

    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let undo = decode_undo(&record)?;
        for vpc_id in &undo.detached_from {
            ctx.ec2()
                .detach_vpn_gateway()
                .vpn_gateway_id(&undo.vpn_gateway_id)
                .vpc_id(vpc_id)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DetachVpnGateway", err))?;
        }
        Ok(record)
    }

    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError> {
        let (before, after) =
            decode_states(cut).map_err(|problem| ServiceError::local("vgw_detach", problem))?;
        let record = UndoRecord {
            vpn_gateway_id: before.vpn_gateway_id.clone(),
            detached_from: before
                .attachments
                .iter()
                .filter(|a| !after.attachments.contains(a))
                .map(|a| a.vpc_id.clone())
                .collect(),
        };
        Ok(serde_json::to_value(record).expect("undo record serializes"))
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError> {
        let undo = decode_undo(undo)?;
        let Some(gateway) = live_gateway(ctx, &undo.vpn_gateway_id).await? else {
            return Err(ServiceError::local(
                "ec2:DescribeVpnGateways",
                format!(
                    "virtual private gateway {} no longer exists, so it cannot be attached to {} again; create a new one, attach it to that VPC and re-create its VPN connections or Direct Connect virtual interfaces",
                    undo.vpn_gateway_id,
                    undo.detached_from.join(", ")
                ),
            ));
        };
        let others = if undo.detached_from.is_empty() {
            Vec::new()
        } else {
            let out = ctx
                .ec2()
                .describe_vpn_gateways()
                .filters(
                    Filter::builder()
                        .name("attachment.vpc-id")
                        .set_values(Some(undo.detached_from.clone()))
                        .build(),
                )
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err))?;
            out.vpn_gateways().to_vec()
        };
        let live = state_of(&gateway)
            .map(|s| s.attachments)
            .unwrap_or_default();
        let plan = gateway_attachment::plan_reattachment(
            "virtual private gateway",
            &undo.vpn_gateway_id,
            &undo.detached_from,
            &live,
            &attached_by_vpc(&others),
        );
        let mut outcome = UndoOutcome { notes: plan.notes };
        for vpc_id in plan.to_attach {
            ctx.ec2()
                .attach_vpn_gateway()
                .vpn_gateway_id(&undo.vpn_gateway_id)
                .vpc_id(&vpc_id)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:AttachVpnGateway", err))?;
            outcome.notes.push(format!(
                "attached {} to {vpc_id} again",
                undo.vpn_gateway_id
            ));
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests;
