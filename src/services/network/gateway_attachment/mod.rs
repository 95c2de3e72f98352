//! What `igw_detach` and `vgw_detach` share: a gateway attached to VPCs, the attachments a detach takes
//! away, and how to put them back without overriding what changed since. Both kinds of gateway attach to
//! one VPC at a time, and a VPC takes one gateway of each kind, so restore must look before it attaches.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::AttachmentStatus;
use serde::{Deserialize, Serialize};

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
/// an attached VPC as `available`, virtual private gateways as `attached`.
pub fn carries_traffic(state: &str) -> bool {
    matches!(state, "available" | "attached" | "attaching")
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

#[cfg(test)]
mod tests;
