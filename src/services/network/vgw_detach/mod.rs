//! `vgw_detach`: detach every virtual private gateway from the VPCs it is attached to. A virtual private
//! gateway is the VPC's end of Site-to-Site VPN and Direct Connect links, so detaching it cuts the paths
//! to on-premises networks (and through them, often, to the internet) without touching the VPN
//! connections or Direct Connect interfaces themselves.
//!
//! Restore attaches the same gateway to the same VPC, unless the VPC has another one by then. Static routes
//! to the gateway stay in the route tables (as blackholes) while it is detached and work again once it is
//! back. Route propagation (the gateway's VPN and Direct Connect routes entered into a route table) is
//! recorded in `before`, per route table: AWS's documentation does not say whether a detach keeps it,
//! so restore, once the gateway is attached again, turns it back on in each table that had it and no
//! longer does, and says so
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableVgwRoutePropagation.html>).
//!
//! The responder may reach the account over the same VPN or Direct Connect link (`--keep-cidr`): a
//! gateway that a route to a kept range goes through, one the table was given or one the gateway
//! propagates, is proposed switched off, naming the route, as `igw_detach` does for its gateways
//! ([`gateway_attachment::carries_a_kept_range`]).

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, VpnGateway};
use serde::{Deserialize, Serialize};

use super::gateway_attachment::{self, Attachment, GatewayCalls};
use super::prefix_lists::{self, OwnedPrefixLists};
use super::vpc;
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct VpnGatewayDetach;

static INFO: KindInfo = KindInfo {
    name: "vgw_detach",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Seal,
    global: false,
    footprint: Footprint::VpcSeal,
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
    /// The route tables of the attached VPCs the gateway propagates its routes to, sorted. Absent from
    /// plans made before it was recorded (restore then leaves propagation as AWS left it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagates_to: Vec<String>,
}

/// What restore needs: the gateway, the VPCs it was detached from, and the route tables it propagated to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub vpn_gateway_id: String,
    pub detached_from: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagates_to: Vec<String>,
}

/// How long restore waits for a gateway it attached again to report `attached` before turning route
/// propagation back on: AWS attaches asynchronously (`attaching` first), and propagation is a setting
/// of an attached gateway's VPC.
const ATTACHED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);
const ATTACHED_POLL: std::time::Duration = std::time::Duration::from_secs(2);

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
        propagates_to: Vec::new(),
    })
}

/// Every route table of `vpc_ids` (none asked for when there are none).
async fn route_tables(
    ctx: &RegionCtx,
    vpc_ids: &[String],
) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, ServiceError> {
    if vpc_ids.is_empty() {
        return Ok(Vec::new());
    }
    ctx.ec2()
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("vpc-id")
                .set_values(Some(vpc_ids.to_vec()))
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeRouteTables", err))
}

/// The tables among `tables` that `gateway_id` propagates routes to (`PropagatingVgws`), sorted: only
/// tables of `vpcs`, the VPCs it is attached to, whose setting restore can turn back on (a table of a VPC
/// it left, if AWS kept the setting there, is not the gateway's to restore).
fn propagation(
    tables: &[aws_sdk_ec2::types::RouteTable],
    gateway_id: &str,
    vpcs: &[String],
) -> Vec<String> {
    let mut found: Vec<String> = tables
        .iter()
        .filter(|table| {
            table
                .vpc_id()
                .is_some_and(|vpc| vpcs.iter().any(|v| v == vpc))
        })
        .filter(|table| {
            table
                .propagating_vgws()
                .iter()
                .any(|g| g.gateway_id() == Some(gateway_id))
        })
        .filter_map(|table| table.route_table_id().map(str::to_string))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The VPCs the gateways are attached to, sorted, once each.
fn attached_vpcs<'a>(states: impl IntoIterator<Item = &'a GatewayState>) -> Vec<String> {
    let mut vpcs: Vec<String> = states
        .into_iter()
        .flat_map(|state| state.attachments.iter().map(|a| a.vpc_id.clone()))
        .collect();
    vpcs.sort();
    vpcs.dedup();
    vpcs
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
        dry_run: bool,
    ) -> Result<(), ServiceError> {
        ctx.ec2()
            .detach_vpn_gateway()
            .vpn_gateway_id(gateway_id)
            .vpc_id(vpc_id)
            .dry_run(dry_run)
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
        if before.propagates_to != after.propagates_to {
            return Err(
                "`after.propagates_to` must be `before.propagates_to`: the cut does not change route propagation".into(),
            );
        }
        gateway_attachment::check_detach(&before.attachments, &after.attachments)
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
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
        let tables = route_tables(ctx, &attached_vpcs(&states)).await?;
        // Only a plan that keeps ranges reachable asks what the routes' prefix lists hold.
        let lists = if scope.keep_cidrs.is_empty() {
            OwnedPrefixLists::default()
        } else {
            let named = prefix_lists::named_by_routes(&tables);
            prefix_lists::read(ctx, named, &scope.caller.account).await
        };
        for state in &mut states {
            state.propagates_to =
                propagation(&tables, &state.vpn_gateway_id, &attached_vpcs([&*state]));
        }
        Ok(states
            .iter()
            .filter_map(|state| {
                let mut proposal = propose(state)?;
                proposal.disabled_because = gateway_attachment::carries_a_kept_range(
                    &state.vpn_gateway_id,
                    &state.attachments,
                    &tables,
                    &scope.keep_cidrs,
                    &lists,
                );
                Some(proposal)
            })
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GatewayState>,
    ) -> Result<Option<GatewayState>, ServiceError> {
        let Some(mut state) = live_gateway(ctx, &cut.target)
            .await?
            .as_ref()
            .and_then(state_of)
        else {
            return Ok(None);
        };
        let vpcs = attached_vpcs([&state]);
        state.propagates_to = propagation(
            &route_tables(ctx, &vpcs).await?,
            &state.vpn_gateway_id,
            &vpcs,
        );
        // Attached again as planned, with only part of the recorded propagation (a detach may end it,
        // which AWS does not document): that is the gateway as `before` has it, the cut undone, and not
        // a change no one reviewed. Restore turns the recorded propagation back on in any case, and watch
        // and a resumed apply then see a reopened or uncut gateway, as they would have before.
        if state.attachments == cut.before.attachments
            && state
                .propagates_to
                .iter()
                .all(|table| cut.before.propagates_to.contains(table))
        {
            state.propagates_to = cut.before.propagates_to.clone();
        }
        Ok(Some(state))
    }

    /// Whether AWS keeps a detached gateway's route propagation is not documented: the cut holds while
    /// the gateway's attachments are as `after` says, whatever the route tables now show.
    fn holds(&self, cut: &TypedCut<GatewayState>, live: &GatewayState) -> bool {
        live.vpn_gateway_id == cut.after.vpn_gateway_id && live.attachments == cut.after.attachments
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

    /// Dry-runs the detach from each VPC (`apply --check`).
    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GatewayState>,
    ) -> PermissionCheck {
        let detached =
            gateway_attachment::detached_vpcs(&cut.before.attachments, &cut.after.attachments);
        gateway_attachment::check_detach_all(self, ctx, &cut.before.vpn_gateway_id, &detached).await
    }

    fn undo_record_for(&self, cut: &TypedCut<GatewayState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            vpn_gateway_id: cut.before.vpn_gateway_id.clone(),
            detached_from: gateway_attachment::detached_vpcs(
                &cut.before.attachments,
                &cut.after.attachments,
            ),
            propagates_to: cut.before.propagates_to.clone(),
        })
    }

    /// Attaches the gateway again, and waits until it reports `attached` in each VPC before saying it is
    /// back: AttachVpnGateway answers `attaching`
    /// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AttachVpnGateway.html>), and restore
    /// puts the routes through the gateway back (`route_remove`, the same footprint, undone next) once
    /// this undo returns, where a route to a gateway still attaching may be refused. Then, once attached,
    /// the route propagation the detach ended.
    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let mut outcome =
            gateway_attachment::reattach(self, ctx, &undo.vpn_gateway_id, &undo.detached_from)
                .await?;
        if undo.detached_from.is_empty() || !UndoOutcome::conflicts(&outcome.notes).is_empty() {
            // Nothing was detached, or the gateway was not attached again (another took its place).
            return Ok(outcome);
        }
        let gateway_id = &undo.vpn_gateway_id;
        if !wait_until_attached(ctx, undo).await? {
            if !undo.propagates_to.is_empty() {
                return Err(ServiceError::local(
                    "ec2:DescribeVpnGateways",
                    format!(
                        "{gateway_id} was attached again but did not report `attached` within {} s, so route propagation to {} was not turned back on; once it is attached, run restore again (or aws ec2 enable-vgw-route-propagation --gateway-id {gateway_id} --route-table-id TABLE)",
                        ATTACHED_PATIENCE.as_secs(),
                        undo.propagates_to.join(", "),
                    ),
                ));
            }
            outcome.notes.push(format!(
                "{gateway_id} was attached again but did not report `attached` within {} s: a route through it that restore puts back may be refused until it does; if one is, run restore again once `aws ec2 describe-vpn-gateways --vpn-gateway-ids {gateway_id}` says attached",
                ATTACHED_PATIENCE.as_secs(),
            ));
            return Ok(outcome);
        }
        if !undo.propagates_to.is_empty() {
            outcome.notes.extend(restore_propagation(ctx, undo).await?);
        }
        Ok(outcome)
    }
}

/// Polls until the gateway reports `attached` in every VPC it was detached from, at most
/// [`ATTACHED_PATIENCE`]; whether it did.
async fn wait_until_attached(ctx: &RegionCtx, undo: &UndoRecord) -> Result<bool, ServiceError> {
    let gateway_id = &undo.vpn_gateway_id;
    let mut waited = std::time::Duration::ZERO;
    loop {
        let attached = live_gateway(ctx, gateway_id)
            .await?
            .as_ref()
            .and_then(state_of)
            .is_some_and(|state| {
                undo.detached_from.iter().all(|vpc| {
                    state
                        .attachments
                        .iter()
                        .any(|a| &a.vpc_id == vpc && a.state == "attached")
                })
            });
        if attached {
            return Ok(true);
        }
        if waited >= ATTACHED_PATIENCE {
            return Ok(false);
        }
        tokio::time::sleep(ATTACHED_POLL).await;
        waited += ATTACHED_POLL;
    }
}

/// Turns route propagation on in each recorded table that no longer has it, the gateway attached. A
/// table deleted since is said, not recreated.
async fn restore_propagation(
    ctx: &RegionCtx,
    undo: &UndoRecord,
) -> Result<Vec<String>, ServiceError> {
    let gateway_id = &undo.vpn_gateway_id;
    let tables = route_tables(ctx, &undo.detached_from).await?;
    let propagating_now = propagation(&tables, gateway_id, &undo.detached_from);
    let tables_now: Vec<&str> = tables.iter().filter_map(|t| t.route_table_id()).collect();
    let mut notes = Vec::new();
    for table in &undo.propagates_to {
        if propagating_now.contains(table) {
            notes.push(format!("{gateway_id} propagates to {table} as before"));
        } else if !tables_now.contains(&table.as_str()) {
            notes.push(format!(
                "route table {table} no longer exists; {gateway_id}'s route propagation to it was not restored"
            ));
        } else {
            ctx.ec2()
                .enable_vgw_route_propagation()
                .gateway_id(gateway_id)
                .route_table_id(table)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:EnableVgwRoutePropagation", err))?;
            notes.push(format!(
                "route propagation from {gateway_id} to {table} was off once the gateway was back; turned on again as before the cut"
            ));
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests;
