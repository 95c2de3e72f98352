//! `igw_detach`: detach every internet gateway from its VPC. One call closes every internet path of the
//! VPC at once, inbound and outbound, IPv4 and IPv6, whatever the routes and security groups say.
//!
//! AWS refuses the detach while anything in the VPC holds a public IPv4 address or an Elastic IP
//! (instances, NAT gateways, load balancers). Discovery looks for those first; when there are any, the
//! cut is still proposed, so the path shows in the plan, but switched off, naming every address that
//! blocks it. Restore attaches the same gateway to the same VPC, unless the VPC has another one by then.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, InternetGateway, NetworkInterface};
use serde::{Deserialize, Serialize};

use super::gateway_attachment::{self, Attachment, GatewayCalls};
use super::{prefix_lists, vpc, ways_in};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct InternetGatewayDetach;

static INFO: KindInfo = KindInfo {
    name: "igw_detach",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Seal,
    global: false,
    footprint: Footprint::VpcSeal,
};

/// EC2 filters take at most 200 values.
const FILTER_VALUES_MAX: usize = 200;

/// A public address held inside a VPC: while one exists, AWS refuses to detach the VPC's internet gateway.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAddress {
    pub vpc_id: String,
    pub network_interface_id: String,
    pub public_ip: String,
    /// What the interface belongs to, in words: `instance i-…`, `NAT gateway nat-…`, or its description.
    pub owner: String,
    /// Set for an Elastic IP (which can be disassociated or released); absent for an auto-assigned address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
}

impl PublicAddress {
    /// E.g. `eni-1 (NAT gateway nat-1) 198.51.100.7, Elastic IP eipalloc-1`.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} ({}) {}",
            self.network_interface_id, self.owner, self.public_ip
        );
        if let Some(allocation) = &self.allocation_id {
            text.push_str(&format!(", Elastic IP {allocation}"));
        }
        text
    }
}

/// An internet gateway as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayState {
    pub internet_gateway_id: String,
    /// Sorted; `detached` attachments are left out.
    pub attachments: Vec<Attachment>,
    /// Every public address in the attached VPCs, sorted. The cut leaves them as they are.
    pub public_addresses: Vec<PublicAddress>,
}

/// What restore needs: the gateway and the VPCs it was detached from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub internet_gateway_id: String,
    pub detached_from: Vec<String>,
}

/// Builds the proposal for one gateway, or nothing when it is attached nowhere.
pub fn propose(state: &GatewayState) -> Option<Proposal<GatewayState>> {
    let detached = gateway_attachment::vpcs_carrying_traffic(&state.attachments);
    if detached.is_empty() {
        return None;
    }
    let vpcs = detached.join(", ");
    let reason = format!(
        "{} connects {vpcs} to the internet. Detaching it closes every internet path of the VPC at once (inbound and outbound, IPv4 and IPv6), whatever routes and security groups allow; routes to it stay and show as blackholes until restore attaches it again.",
        state.internet_gateway_id
    );
    let disabled_because = blocked_because(state);
    let after = GatewayState {
        attachments: gateway_attachment::remaining_after_detach(&state.attachments),
        ..state.clone()
    };
    Some(Proposal {
        target: state.internet_gateway_id.clone(),
        reason,
        before: state.clone(),
        after,
        disabled_because,
    })
}

/// Why AWS would refuse the detach, naming every blocking address and what to do; None when nothing blocks.
pub fn blocked_because(state: &GatewayState) -> Option<String> {
    if state.public_addresses.is_empty() {
        return None;
    }
    Some(format!(
        "AWS refuses to detach {} while its VPC holds public addresses, and it holds {}: {}. To detach it, disassociate or release those Elastic IPs (and stop or re-address instances with public IPs), then make a new plan. Until then route_remove and nacl_deny already cut the path to the internet.",
        state.internet_gateway_id,
        state.public_addresses.len(),
        state
            .public_addresses
            .iter()
            .map(PublicAddress::summary)
            .collect::<Vec<_>>()
            .join("; ")
    ))
}

/// What an interface belongs to, in words. `nat_by_interface` maps NAT gateway interfaces to their NAT
/// gateway, which AWS names only in the interface's description (and the emulator not at all).
pub fn owner_of(eni: &NetworkInterface, nat_by_interface: &HashMap<String, String>) -> String {
    let id = eni.network_interface_id().unwrap_or_default();
    if let Some(nat) = nat_by_interface.get(id) {
        return format!("NAT gateway {nat}");
    }
    if let Some(instance) = eni.attachment().and_then(|a| a.instance_id()) {
        return format!("instance {instance}");
    }
    if let Some(description) = eni.description().filter(|d| !d.is_empty()) {
        return description.to_string();
    }
    match eni.interface_type().map(|t| t.as_str()) {
        Some(kind) if kind != "interface" => kind.to_string(),
        _ => match eni.requester_id() {
            Some(requester) => format!("managed by {requester}"),
            None => "unattached interface".to_string(),
        },
    }
}

/// Every public address the interfaces hold, primary and secondary, sorted and without repeats.
pub fn public_addresses(
    enis: &[NetworkInterface],
    nat_by_interface: &HashMap<String, String>,
) -> Vec<PublicAddress> {
    let mut found: Vec<PublicAddress> = Vec::new();
    for eni in enis {
        let (Some(vpc_id), Some(eni_id)) = (eni.vpc_id(), eni.network_interface_id()) else {
            continue;
        };
        let associations = eni.association().into_iter().chain(
            eni.private_ip_addresses()
                .iter()
                .filter_map(|p| p.association()),
        );
        for association in associations {
            let Some(public_ip) = association.public_ip() else {
                continue;
            };
            let address = PublicAddress {
                vpc_id: vpc_id.to_string(),
                network_interface_id: eni_id.to_string(),
                public_ip: public_ip.to_string(),
                owner: owner_of(eni, nat_by_interface),
                allocation_id: association.allocation_id().map(str::to_string),
            };
            if !found.contains(&address) {
                found.push(address);
            }
        }
    }
    found.sort();
    found
}

const NOT_FOUND: &[&str] = &[
    "InvalidInternetGatewayID.NotFound",
    "InvalidInternetGatewayId.NotFound",
];

fn attachments_of(gateway: &InternetGateway) -> Vec<Attachment> {
    gateway_attachment::live_attachments(
        gateway
            .attachments()
            .iter()
            .map(|a| (a.vpc_id(), a.state())),
    )
}

/// Gateways discovery cannot propose a detach for: one without its ID (every call names it), and
/// attachments without their VPC (the detach names the VPC).
async fn report_unclassified(ctx: &RegionCtx, gateways: &[InternetGateway]) {
    for gateway in gateways {
        gateway_attachment::report_unclassified(
            ctx,
            gateway_attachment::DescribedGateway {
                kind: INFO.name,
                noun: "an internet gateway",
                operation: "DescribeInternetGateways",
                id_field: "InternetGatewayId",
                id: gateway.internet_gateway_id(),
                attachments: gateway
                    .attachments()
                    .iter()
                    .map(|a| (a.vpc_id(), a.state()))
                    .collect(),
            },
        )
        .await;
    }
}

/// The public addresses in these VPCs: one paginated DescribeNetworkInterfaces (and DescribeNatGateways,
/// to name NAT gateways) per 200 VPCs.
async fn addresses_in(
    ctx: &RegionCtx,
    vpc_ids: &[String],
) -> Result<Vec<PublicAddress>, ServiceError> {
    let mut enis: Vec<NetworkInterface> = Vec::new();
    let mut nat_by_interface: HashMap<String, String> = HashMap::new();
    for chunk in vpc_ids.chunks(FILTER_VALUES_MAX) {
        let vpc_filter = Filter::builder()
            .name("vpc-id")
            .set_values(Some(chunk.to_vec()))
            .build();
        let found = ctx
            .ec2()
            .describe_network_interfaces()
            .filters(vpc_filter.clone())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeNetworkInterfaces", err))?;
        enis.extend(found);
        let nats = ctx
            .ec2()
            .describe_nat_gateways()
            .filter(vpc_filter)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeNatGateways", err))?;
        for nat in &nats {
            let Some(nat_id) = nat.nat_gateway_id() else {
                continue;
            };
            for address in nat.nat_gateway_addresses() {
                if let Some(eni) = address.network_interface_id() {
                    nat_by_interface.insert(eni.to_string(), nat_id.to_string());
                }
            }
        }
    }
    Ok(public_addresses(&enis, &nat_by_interface))
}

/// The recorded shape of each gateway, with the public addresses of the VPCs it is attached to.
async fn gateway_states(
    ctx: &RegionCtx,
    gateways: &[InternetGateway],
) -> Result<Vec<GatewayState>, ServiceError> {
    let mut vpc_ids: Vec<String> = gateways
        .iter()
        .flat_map(attachments_of)
        .map(|a| a.vpc_id)
        .collect();
    vpc_ids.sort();
    vpc_ids.dedup();
    let addresses = if vpc_ids.is_empty() {
        Vec::new()
    } else {
        addresses_in(ctx, &vpc_ids).await?
    };
    let mut states: Vec<GatewayState> = gateways
        .iter()
        .filter_map(|gateway| {
            let attachments = attachments_of(gateway);
            Some(GatewayState {
                internet_gateway_id: gateway.internet_gateway_id()?.to_string(),
                public_addresses: addresses
                    .iter()
                    .filter(|p| attachments.iter().any(|a| a.vpc_id == p.vpc_id))
                    .cloned()
                    .collect(),
                attachments,
            })
        })
        .collect();
    states.sort_by(|a, b| a.internet_gateway_id.cmp(&b.internet_gateway_id));
    Ok(states)
}

/// The gateway now, or None when it no longer exists.
async fn live_gateway(
    ctx: &RegionCtx,
    gateway_id: &str,
) -> Result<Option<InternetGateway>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_internet_gateways()
        .internet_gateway_ids(gateway_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeInternetGateways", err));
    Ok(vpc::unless_not_found(described, NOT_FOUND)?
        .and_then(|out| out.internet_gateways().first().cloned()))
}

#[async_trait]
impl GatewayCalls for InternetGatewayDetach {
    const NOUN: &'static str = "internet gateway";

    async fn live_attachments(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
    ) -> Result<Option<Vec<Attachment>>, ServiceError> {
        Ok(live_gateway(ctx, gateway_id)
            .await?
            .map(|gateway| attachments_of(&gateway)))
    }

    async fn attached_to(
        &self,
        ctx: &RegionCtx,
        vpc_ids: &[String],
    ) -> Result<Vec<(String, Vec<Attachment>)>, ServiceError> {
        let gateways = ctx
            .ec2()
            .describe_internet_gateways()
            .filters(
                Filter::builder()
                    .name("attachment.vpc-id")
                    .set_values(Some(vpc_ids.to_vec()))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeInternetGateways", err))?;
        Ok(gateways
            .iter()
            .filter_map(|gateway| {
                Some((
                    gateway.internet_gateway_id()?.to_string(),
                    attachments_of(gateway),
                ))
            })
            .collect())
    }

    async fn detach(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
        dry_run: bool,
    ) -> Result<(), ServiceError> {
        ctx.ec2()
            .detach_internet_gateway()
            .internet_gateway_id(gateway_id)
            .vpc_id(vpc_id)
            .dry_run(dry_run)
            .send()
            .await
            .map_err(|err| {
                let mut err = ServiceError::from_sdk("ec2:DetachInternetGateway", err);
                if err.code.as_deref() == Some("DependencyViolation") {
                    err.message.push_str(&format!(
                        " ({vpc_id} holds a public address: disassociate or release its Elastic IPs and make a new plan, or set this cut to `enabled: false`)"
                    ));
                }
                err
            })?;
        Ok(())
    }

    async fn attach(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), ServiceError> {
        ctx.ec2()
            .attach_internet_gateway()
            .internet_gateway_id(gateway_id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:AttachInternetGateway", err))?;
        Ok(())
    }

    fn gone(&self, gateway_id: &str, detached_from: &[String]) -> ServiceError {
        ServiceError::local(
            "ec2:DescribeInternetGateways",
            format!(
                "internet gateway {gateway_id} no longer exists, so it cannot be attached to {} again; create a new internet gateway, attach it to that VPC and point its routes at it",
                detached_from.join(", ")
            ),
        )
    }
}

/// Why the gateway stays attached when a table of the responder's way in ([`ways_in`]) routes to it:
/// detaching it would cut the path the plan keeps open; None otherwise.
fn way_in_through(
    gateway_id: &str,
    tables: &[aws_sdk_ec2::types::RouteTable],
    ways_in: &ways_in::WaysIn,
) -> Option<String> {
    tables
        .iter()
        .filter(|table| ways_in.keeps(&ways_in::use_of(table)))
        .find_map(|table| {
            let route = table
                .routes()
                .iter()
                .find(|route| route.gateway_id() == Some(gateway_id))?;
            Some(format!(
                "route table {} is the responder's way in (--keep-subnet/--keep-vpc) and sends {} to {gateway_id}: detaching the gateway would cut that path. Network ACL and security-group cuts still close it to all but the --keep-cidr ranges; enable this cut only if the way in may go",
                table.route_table_id().unwrap_or("?"),
                route
                    .destination_cidr_block()
                    .or(route.destination_ipv6_cidr_block())
                    .or(route.destination_prefix_list_id())
                    .unwrap_or("?")
            ))
        })
}

#[async_trait]
impl CutKind for InternetGatewayDetach {
    type State = GatewayState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own internet gateway: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn vpcs(&self, state: &GatewayState) -> Vec<String> {
        state.attachments.iter().map(|a| a.vpc_id.clone()).collect()
    }

    fn check_states(&self, cut: &TypedCut<GatewayState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.internet_gateway_id != cut.target || after.internet_gateway_id != cut.target {
            return Err(format!(
                "internet_gateway_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.public_addresses != after.public_addresses {
            return Err(
                "`after` must list the same public_addresses as `before`: the cut does not touch them"
                    .into(),
            );
        }
        gateway_attachment::check_detach(&before.attachments, &after.attachments)
    }

    /// A gateway the responder's way in routes through stays attached ([`ways_in`]).
    fn plan_options(&self) -> &'static [crate::services::PlanOption] {
        &ways_in::OPTIONS
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<GatewayState>>, ServiceError> {
        let gateways = ctx
            .ec2()
            .describe_internet_gateways()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeInternetGateways", err))?;
        report_unclassified(ctx, &gateways).await;
        let states = gateway_states(ctx, &gateways).await?;
        // Only a plan that keeps ranges or ways in reachable needs the routes.
        let ways_in = ways_in::WaysIn::of(scope);
        let tables = if scope.keep_cidrs.is_empty() && ways_in.is_empty() {
            Vec::new()
        } else {
            vpc::route_tables(ctx).await?
        };
        let lists = prefix_lists::read(
            ctx,
            prefix_lists::named_by_routes(&tables),
            &scope.caller.account,
        )
        .await;
        Ok(states
            .iter()
            .filter_map(|state| {
                let mut proposal = propose(state)?;
                // For IPv6 nothing in AWS refuses the detach that would cut the kept path (it refuses
                // only while the VPC holds public IPv4 addresses).
                if proposal.disabled_because.is_none() {
                    proposal.disabled_because = gateway_attachment::carries_a_kept_range(
                        &state.internet_gateway_id,
                        &state.attachments,
                        &tables,
                        &scope.keep_cidrs,
                        &lists,
                    );
                }
                if proposal.disabled_because.is_none() {
                    proposal.disabled_because =
                        way_in_through(&state.internet_gateway_id, &tables, &ways_in);
                }
                Some(proposal)
            })
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GatewayState>,
    ) -> Result<Option<GatewayState>, ServiceError> {
        let Some(gateway) = live_gateway(ctx, &cut.target).await? else {
            return Ok(None);
        };
        Ok(gateway_states(ctx, &[gateway]).await?.into_iter().next())
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GatewayState>,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        gateway_attachment::detach_all(self, ctx, &undo.internet_gateway_id, &undo.detached_from)
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
        gateway_attachment::check_detach_all(self, ctx, &cut.before.internet_gateway_id, &detached)
            .await
    }

    fn undo_record_for(&self, cut: &TypedCut<GatewayState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            internet_gateway_id: cut.before.internet_gateway_id.clone(),
            detached_from: gateway_attachment::detached_vpcs(
                &cut.before.attachments,
                &cut.after.attachments,
            ),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        gateway_attachment::reattach(self, ctx, &undo.internet_gateway_id, &undo.detached_from)
            .await
    }
}

#[cfg(test)]
mod tests;
