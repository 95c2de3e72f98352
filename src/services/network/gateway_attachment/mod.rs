//! What `igw_detach` and `vgw_detach` share: a gateway attached to VPCs, the attachments a detach takes
//! away, and how to put them back without overriding what changed since. Both kinds of gateway attach to
//! one VPC at a time, and a VPC takes one gateway of each kind, so restore must look before it attaches.
//! Each kind gives its own EC2 calls ([`GatewayCalls`]); the detach and the undo around them are here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{AttachmentStatus, RouteOrigin, RouteTable};
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::net::Cidr;
use crate::services::network::prefix_lists::OwnedPrefixLists;
use crate::services::{PermissionCheck, ServiceError, UndoOutcome};

/// One attachment of a gateway to a VPC, as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub vpc_id: String,
    /// `available` (internet gateways) or `attached` (virtual private gateways) when in use; `attaching`
    /// and `detaching` in between.
    pub state: String,
}

/// States in which a gateway carries, or is about to carry, the VPC's traffic. Internet gateways report
/// an attached VPC as `available`, virtual private gateways as `attached`. Every state but the two on the
/// way out counts: a state AWS did not return, or one this hikkonuki's SDK does not know, is read as
/// carrying traffic, so the gateway is proposed for a detach rather than passed over (issue 11). The
/// documented values are attaching | attached | detaching | detached
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InternetGatewayAttachment.html>,
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcAttachment.html>).
pub fn carries_traffic(state: &str) -> bool {
    !matches!(state, "detached" | "detaching")
}

/// The attachments worth recording, sorted: `detached` ones are history (AWS lists them for a while and
/// then drops them), so recording them would make a plan look stale for no reason.
pub fn live_attachments<'a>(
    raw: impl IntoIterator<Item = (Option<&'a str>, Option<&'a AttachmentStatus>)>,
) -> Vec<Attachment> {
    let mut attachments: Vec<Attachment> = raw
        .into_iter()
        .filter_map(|(vpc_id, state)| {
            let state = state.map(|s| s.as_str()).unwrap_or_default();
            (state != "detached").then_some(Attachment {
                vpc_id: vpc_id?.to_string(),
                state: state.to_string(),
            })
        })
        .collect();
    attachments.sort();
    attachments
}

/// How many attachments name no VPC and are not `detached`: the gateway may carry a VPC's traffic that no
/// detach can name (DetachInternetGateway and DetachVpnGateway need the VPC ID), so they are reported.
pub fn attachments_without_vpc<'a>(
    raw: impl IntoIterator<Item = (Option<&'a str>, Option<&'a AttachmentStatus>)>,
) -> usize {
    raw.into_iter()
        .filter(|(vpc_id, state)| {
            vpc_id.is_none() && state.map(|s| s.as_str()).unwrap_or_default() != "detached"
        })
        .count()
}

/// What a gateway kind's discovery reads of one gateway, to report what it cannot detach.
pub struct DescribedGateway<'a> {
    /// The kind reporting (`igw_detach`, `vgw_detach`).
    pub kind: &'a str,
    /// What the gateway is called in a sentence (`an internet gateway`).
    pub noun: &'a str,
    /// The describe call and the ID field it left out (`DescribeInternetGateways`, `InternetGatewayId`).
    pub operation: &'a str,
    pub id_field: &'a str,
    pub id: Option<&'a str>,
    /// Each attachment's VPC and state, as described.
    pub attachments: Vec<(Option<&'a str>, Option<&'a AttachmentStatus>)>,
}

/// Reports, as unclassified, a gateway no detach can name (no ID: every call names it) and attachments
/// without their VPC (the detach names the VPC). Both gateway kinds describe the same shapes.
pub async fn report_unclassified(ctx: &RegionCtx, gateway: DescribedGateway<'_>) {
    use crate::services::common::unclassified;
    let Some(id) = gateway.id else {
        let vpcs: Vec<&str> = gateway
            .attachments
            .iter()
            .filter_map(|(vpc, _)| *vpc)
            .collect();
        unclassified::report(
            ctx,
            gateway.kind,
            &ctx.region,
            &format!(
                "{} attached to {}",
                gateway.noun,
                if vpcs.is_empty() {
                    "no VPC it names".to_string()
                } else {
                    vpcs.join(", ")
                }
            ),
            format!(
                "{} returned it without its {}, so it cannot be detached",
                gateway.operation, gateway.id_field
            ),
        )
        .await;
        return;
    };
    let unnamed = attachments_without_vpc(gateway.attachments.iter().copied());
    if unnamed > 0 {
        unclassified::report(
            ctx,
            gateway.kind,
            &ctx.region,
            id,
            format!(
                "{} returned {unnamed} attachment(s) without a VpcId, which no detach can name",
                gateway.operation
            ),
        )
        .await;
    }
}

/// The VPCs a detach takes the gateway from: those it is attached to in a state that carries traffic.
pub fn vpcs_carrying_traffic(attachments: &[Attachment]) -> Vec<&str> {
    attachments
        .iter()
        .filter(|a| carries_traffic(&a.state))
        .map(|a| a.vpc_id.as_str())
        .collect()
}

/// Why detaching `gateway_id` would cut the path the plan keeps reachable (`--keep-cidr`), naming the
/// route and the kept range; None when no kept route goes through it. Only route tables of the VPCs the
/// gateway carries traffic for count.
///
/// A route the table was given (CreateRoute) is the kept path when its destination lies inside a kept
/// range: route_remove leaves exactly those in place for the responder, and removes the wider ones (the
/// default route), so a wider one is no kept path. A route a virtual private gateway propagates is the
/// kept path when it overlaps a kept range either way: route_remove cannot delete it, so a wider one
/// (the on-premises network's `10.0.0.0/8`) stays the way to the kept range until the gateway goes.
/// AWS lists propagated routes in the table beside the others, with origin `EnableVgwRoutePropagation`
/// and the gateway as target
/// (<https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html>).
///
/// A route to a prefix list of the account's own whose every entry lies within a kept range is a kept
/// path too, as route_remove keeps it ([`prefix_lists`]).
pub fn carries_a_kept_range(
    gateway_id: &str,
    attachments: &[Attachment],
    tables: &[RouteTable],
    keep_cidrs: &[Cidr],
    lists: &OwnedPrefixLists,
) -> Option<String> {
    if keep_cidrs.is_empty() {
        return None;
    }
    let attached = vpcs_carrying_traffic(attachments);
    for table in tables {
        if !table.vpc_id().is_some_and(|vpc| attached.contains(&vpc)) {
            continue;
        }
        for route in table.routes() {
            if route.gateway_id() != Some(gateway_id) {
                continue;
            }
            let table_id = table.route_table_id().unwrap_or("?");
            if let Some(list) = route.destination_prefix_list_id() {
                if lists.carries_kept_range(list, keep_cidrs) {
                    return Some(format!(
                        "route table {table_id} sends prefix list {list} to {gateway_id}, the way to the list's ranges, which name what the plan keeps reachable (--keep-cidr): detaching the gateway would cut that path. Route table, network ACL and security-group cuts still close everything else; enable this cut only if the kept path may go"
                    ));
                }
                continue;
            }
            let Some(destination) = route
                .destination_cidr_block()
                .or(route.destination_ipv6_cidr_block())
            else {
                continue;
            };
            let Ok(block) = destination.parse::<Cidr>() else {
                continue;
            };
            let propagated = route.origin() == Some(&RouteOrigin::EnableVgwRoutePropagation);
            let kept = keep_cidrs
                .iter()
                .find(|keep| keep.contains(&block) || (propagated && block.contains(keep)));
            let Some(kept) = kept else {
                continue;
            };
            return Some(if propagated {
                format!(
                    "route table {table_id} sends {destination} to {gateway_id}, a route the gateway propagates there, the way to {kept}, which the plan keeps reachable (--keep-cidr): detaching the gateway would cut that path. Network ACL and security-group cuts still close everything else (route_remove cannot delete a propagated route); enable this cut only if the kept path may go"
                )
            } else {
                format!(
                    "route table {table_id} sends {destination} to {gateway_id}, the way to {kept}, which the plan keeps reachable (--keep-cidr): detaching the gateway would cut that path. Route table, network ACL and security-group cuts still close everything else; enable this cut only if the kept path may go"
                )
            });
        }
    }
    None
}

/// The VPCs of the attachments in `before` that are gone from `after`: what the cut detaches, and what
/// the undo record names.
pub fn detached_vpcs(before: &[Attachment], after: &[Attachment]) -> Vec<String> {
    before
        .iter()
        .filter(|a| !after.contains(a))
        .map(|a| a.vpc_id.clone())
        .collect()
}

/// The attachments a detach leaves in place (those already on their way out).
pub fn remaining_after_detach(attachments: &[Attachment]) -> Vec<Attachment> {
    attachments
        .iter()
        .filter(|a| !carries_traffic(&a.state))
        .cloned()
        .collect()
}

/// Checks a detach cut's `before`/`after` pair: `after` keeps only attachments of `before` that carry no
/// traffic, and at least one attachment is detached.
pub fn check_detach(before: &[Attachment], after: &[Attachment]) -> Result<(), String> {
    if let Some(extra) = after.iter().find(|a| !before.contains(a)) {
        return Err(format!(
            "`after` holds an attachment to {} that `before` does not: a detach only removes attachments",
            extra.vpc_id
        ));
    }
    if let Some(kept) = after.iter().find(|a| carries_traffic(&a.state)) {
        return Err(format!(
            "`after` keeps the attachment to {} in state `{}`: the cut detaches every attachment that carries traffic",
            kept.vpc_id, kept.state
        ));
    }
    if !before.iter().any(|a| carries_traffic(&a.state)) {
        return Err("`before` has no attachment that carries traffic: nothing to detach".into());
    }
    Ok(())
}

/// What an undo will attach again, and notes on what it leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reattachment {
    pub to_attach: Vec<String>,
    pub notes: Vec<String>,
}

/// Decides, for each VPC the cut detached `gateway_id` from, whether to attach it again. `live` is the
/// gateway's attachments now; `others` maps a VPC to the other gateways of the same kind attached to it
/// now. `noun` names the kind of gateway in notes ("internet gateway").
pub fn plan_reattachment(
    noun: &str,
    gateway_id: &str,
    detached: &[String],
    live: &[Attachment],
    others: &BTreeMap<String, Vec<String>>,
) -> Reattachment {
    let mut plan = Reattachment::default();
    let attached_elsewhere: Vec<&str> = live
        .iter()
        .filter(|a| carries_traffic(&a.state) && !detached.contains(&a.vpc_id))
        .map(|a| a.vpc_id.as_str())
        .collect();
    for vpc_id in detached {
        let here = live
            .iter()
            .any(|a| &a.vpc_id == vpc_id && carries_traffic(&a.state));
        let rivals: Vec<&str> = others
            .get(vpc_id)
            .map(|ids| {
                ids.iter()
                    .map(String::as_str)
                    .filter(|id| *id != gateway_id)
                    .collect()
            })
            .unwrap_or_default();
        if here {
            plan.notes
                .push(format!("already attached: {gateway_id} to {vpc_id}"));
        } else if !rivals.is_empty() {
            plan.notes.push(format!(
                "conflict: {vpc_id} now has {noun} {} attached; {gateway_id} was left detached (a VPC takes one {noun}). Detach that one first if {gateway_id} should come back",
                rivals.join(", ")
            ));
        } else if !attached_elsewhere.is_empty() {
            plan.notes.push(format!(
                "conflict: {gateway_id} is now attached to {}; it was not moved back to {vpc_id} (a {noun} attaches to one VPC)",
                attached_elsewhere.join(", ")
            ));
        } else {
            plan.to_attach.push(vpc_id.clone());
        }
    }
    plan
}

/// For each VPC, the gateways attached to it (in a state that carries traffic), from each gateway's ID and
/// attachments.
pub fn attached_by_vpc(
    gateways: impl IntoIterator<Item = (String, Vec<Attachment>)>,
) -> BTreeMap<String, Vec<String>> {
    let mut by_vpc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (gateway_id, attachments) in gateways {
        for attachment in attachments {
            if carries_traffic(&attachment.state) {
                by_vpc
                    .entry(attachment.vpc_id)
                    .or_default()
                    .push(gateway_id.clone());
            }
        }
    }
    by_vpc
}

/// One kind of gateway's EC2 calls: all that differs between detaching and re-attaching an internet
/// gateway and a virtual private gateway.
#[async_trait]
pub trait GatewayCalls: Sync {
    /// Names the kind of gateway in notes, e.g. `internet gateway`.
    const NOUN: &'static str;

    /// The gateway's attachments now, or None when it no longer exists.
    async fn live_attachments(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
    ) -> Result<Option<Vec<Attachment>>, ServiceError>;

    /// Every gateway of this kind attached to one of these VPCs now, with its attachments.
    async fn attached_to(
        &self,
        ctx: &RegionCtx,
        vpc_ids: &[String],
    ) -> Result<Vec<(String, Vec<Attachment>)>, ServiceError>;

    /// Detaches the gateway from the VPC, or with `dry_run` asks only whether it would be permitted
    /// (`apply --check`: AWS answers `DryRunOperation` when it would).
    async fn detach(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
        dry_run: bool,
    ) -> Result<(), ServiceError>;

    async fn attach(
        &self,
        ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), ServiceError>;

    /// The error for an undo whose gateway no longer exists, saying what to do instead.
    fn gone(&self, gateway_id: &str, detached_from: &[String]) -> ServiceError;
}

/// The cut: detaches the gateway from each VPC, in order, stopping at the first refusal.
pub async fn detach_all(
    calls: &impl GatewayCalls,
    ctx: &RegionCtx,
    gateway_id: &str,
    vpc_ids: &[String],
) -> Result<(), ServiceError> {
    for vpc_id in vpc_ids {
        calls.detach(ctx, gateway_id, vpc_id, false).await?;
    }
    Ok(())
}

/// `apply --check`: dry-runs the detach from each VPC (permission is per gateway and VPC); the first
/// answer other than "would be permitted" is the verdict.
pub async fn check_detach_all(
    calls: &impl GatewayCalls,
    ctx: &RegionCtx,
    gateway_id: &str,
    vpc_ids: &[String],
) -> PermissionCheck {
    for vpc_id in vpc_ids {
        match PermissionCheck::from_dry_run(calls.detach(ctx, gateway_id, vpc_id, true).await) {
            PermissionCheck::Allowed => {}
            other => return other,
        }
    }
    PermissionCheck::Allowed
}

/// The undo: attaches the gateway again to each VPC it was detached from, unless the gateway is gone (an
/// error), already back, attached elsewhere since, or the VPC has another gateway of its kind now (notes).
pub async fn reattach<G: GatewayCalls>(
    calls: &G,
    ctx: &RegionCtx,
    gateway_id: &str,
    detached_from: &[String],
) -> Result<UndoOutcome, ServiceError> {
    let Some(live) = calls.live_attachments(ctx, gateway_id).await? else {
        return Err(calls.gone(gateway_id, detached_from));
    };
    let others = if detached_from.is_empty() {
        Vec::new()
    } else {
        calls.attached_to(ctx, detached_from).await?
    };
    let plan = plan_reattachment(
        G::NOUN,
        gateway_id,
        detached_from,
        &live,
        &attached_by_vpc(others),
    );
    let mut outcome = UndoOutcome { notes: plan.notes };
    for vpc_id in plan.to_attach {
        calls.attach(ctx, gateway_id, &vpc_id).await?;
        outcome
            .notes
            .push(format!("attached {gateway_id} to {vpc_id} again"));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
