//! `vgw_detach`: detach every virtual private gateway from the VPCs it is attached to. A virtual private
//! gateway is the VPC's end of Site-to-Site VPN and Direct Connect links, so detaching it cuts the paths
//! to on-premises networks (and through them, often, to the internet) without touching the VPN
//! connections or Direct Connect interfaces themselves.
//!
//! Restore attaches the same gateway to the same VPC, unless the VPC has another one by then. Static routes
//! to the gateway stay in the route tables (as blackholes) while it is detached and work again once it is
//! back; route propagation is a route-table setting and comes back with it too.

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, VpnGateway};
use serde::{Deserialize, Serialize};

use super::gateway_attachment::{self, Attachment, GatewayCalls};
use super::vpc;
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, KindInfo, Phase, Proposal, ServiceError, TypedCut, UndoOutcome,
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
pub fn propose(state: &GatewayState) -> Option<Proposal<GatewayState>> {
    let detached = gateway_attachment::vpcs_carrying_traffic(&state.attachments);
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
    Some(Proposal {
        target: state.vpn_gateway_id.clone(),
        reason,
        before: state.clone(),
        after,
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

/// Each gateway that is not deleted, with its attachments.
fn attachments_by_gateway(gateways: &[VpnGateway]) -> Vec<(String, Vec<Attachment>)> {
    gateways
        .iter()
        .filter_map(state_of)
        .map(|state| (state.vpn_gateway_id, state.attachments))
        .collect()
}

/// Gateways discovery cannot propose a detach for: one without its ID (every call names it), and
/// attachments without their VPC (the detach names the VPC). Deleted gateways carry nothing.
async fn report_unclassified(ctx: &RegionCtx, gateways: &[VpnGateway]) {
    for gateway in gateways {
        if matches!(
            gateway.state().map(|s| s.as_str()),
            Some("deleted") | Some("deleting")
        ) {
            continue;
        }
        gateway_attachment::report_unclassified(
            ctx,
            gateway_attachment::DescribedGateway {
                kind: INFO.name,
                noun: "a virtual private gateway",
                operation: "DescribeVpnGateways",
                id_field: "VpnGatewayId",
                id: gateway.vpn_gateway_id(),
                attachments: gateway
                    .vpc_attachments()
                    .iter()
                    .map(|a| (a.vpc_id(), a.state()))
                    .collect(),
            },
        )
        .await;
    }
}

/// The gateway now, or None when it no longer exists (AWS answers NotFound; the emulator an empty list).
async fn live_gateway(
    ctx: &RegionCtx,
    gateway_id: &str,
) -> Result<Option<VpnGateway>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_vpn_gateways()
        .vpn_gateway_ids(gateway_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err));
    Ok(
        vpc::unless_not_found(described, &["InvalidVpnGatewayID.NotFound"])?.and_then(|out| {
            out.vpn_gateways()
                .iter()
                .find(|g| {
                    !matches!(
                        g.state().map(|s| s.as_str()),
                        Some("deleted") | Some("deleting")
                    )
                })
                .cloned()
        }),
    )
}

#[async_trait]
impl GatewayCalls for VpnGatewayDetach {
    const NOUN: &'static str = "virtual private gateway";

    async fn live_attachments(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
    ) -> Result<Option<Vec<Attachment>>, ServiceError> {
        Ok(live_gateway(ctx, gateway_id).await?.map(|gateway| {
            state_of(&gateway)
                .map(|state| state.attachments)
                .unwrap_or_default()
        }))
    }

    async fn attached_to(
        &self,
        ctx: &RegionCtx,
        vpc_ids: &[String],
    ) -> Result<Vec<(String, Vec<Attachment>)>, ServiceError> {
        // DescribeVpnGateways is not paginated: one call answers for every VPC.
        let out = ctx
            .ec2()
            .describe_vpn_gateways()
            .filters(
                Filter::builder()
                    .name("attachment.vpc-id")
                    .set_values(Some(vpc_ids.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err))?;
        Ok(attachments_by_gateway(out.vpn_gateways()))
    }

    async fn detach(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), ServiceError> {
        ctx.ec2()
            .detach_vpn_gateway()
            .vpn_gateway_id(gateway_id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DetachVpnGateway", err))?;
        Ok(())
    }

    async fn attach(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), ServiceError> {
        ctx.ec2()
            .attach_vpn_gateway()
            .vpn_gateway_id(gateway_id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:AttachVpnGateway", err))?;
        Ok(())
    }

    fn gone(&self, gateway_id: &str, detached_from: &[String]) -> ServiceError {
        ServiceError::local(
            "ec2:DescribeVpnGateways",
            format!(
                "virtual private gateway {gateway_id} no longer exists, so it cannot be attached to {} again; create a new one, attach it to that VPC and re-create its VPN connections or Direct Connect virtual interfaces",
                detached_from.join(", ")
            ),
        )
    }
}

#[async_trait]
impl CutKind for VpnGatewayDetach {
    type State = GatewayState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own virtual private gateway: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn vpcs(&self, state: &GatewayState) -> Vec<String> {
        state.attachments.iter().map(|a| a.vpc_id.clone()).collect()
    }

    fn check_states(&self, cut: &TypedCut<GatewayState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
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
    ) -> Result<Vec<Proposal<GatewayState>>, ServiceError> {
        // DescribeVpnGateways is not paginated: one call returns every gateway of the region.
        let out = ctx
            .ec2()
            .describe_vpn_gateways()
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err))?;
        report_unclassified(ctx, out.vpn_gateways()).await;
        let mut states: Vec<GatewayState> =
            out.vpn_gateways().iter().filter_map(state_of).collect();
        states.sort_by(|a, b| a.vpn_gateway_id.cmp(&b.vpn_gateway_id));
        Ok(states.iter().filter_map(propose).collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GatewayState>,
    ) -> Result<Option<GatewayState>, ServiceError> {
        Ok(live_gateway(ctx, &cut.target)
            .await?
            .as_ref()
            .and_then(state_of))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GatewayState>,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        gateway_attachment::detach_all(self, ctx, &undo.vpn_gateway_id, &undo.detached_from)
            .await?;
        Ok(undo)
    }

    fn undo_record_for(&self, cut: &TypedCut<GatewayState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            vpn_gateway_id: cut.before.vpn_gateway_id.clone(),
            detached_from: gateway_attachment::detached_vpcs(
                &cut.before.attachments,
                &cut.after.attachments,
            ),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        gateway_attachment::reattach(self, ctx, &undo.vpn_gateway_id, &undo.detached_from).await
    }
}

#[cfg(test)]
mod tests;
