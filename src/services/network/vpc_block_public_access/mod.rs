//! `vpc_block_public_access`: AWS's own switch for a whole region. `ModifyVpcBlockPublicAccessOptions`
//! with `InternetGatewayBlockMode=block-bidirectional` stops all traffic through every internet gateway
//! and egress-only internet gateway of the account in the region, whatever routes, network ACLs and
//! security groups say, so it seals a region in one call. It runs first of the sealing kinds.
//!
//! What it does not block, as AWS documents (VPC BPA basics,
//! <https://docs.aws.amazon.com/vpc/latest/userguide/security-vpc-bpa-basics.html>): traffic over private
//! connections (VPC peering, transit gateways, Site-to-Site VPN and Direct Connect through virtual private
//! gateways) and to VPC endpoints. `nacl_deny`, `route_remove`, `vgw_detach` and the endpoint kinds stay
//! for those; the plan's reason says so.
//!
//! The responder's way in: `--keep-subnet SUBNET` and `--keep-vpc VPC` (repeatable) become exclusions
//! (`CreateVpcBlockPublicAccessExclusion`, `allow-bidirectional`), created before the block so the
//! bastion never loses its path. `--keep-cidr` cannot be an exclusion (exclusions name VPCs and subnets,
//! not address ranges): the plan names the subnets whose route to an internet gateway carries a kept
//! range, which would need one (`--keep-subnet`/`--keep-vpc`) if the responder comes in through them.
//!
//! The switch is asynchronous: apply waits, bounded, until the options report the new mode as
//! `update-complete` before the cut is journaled done and the region counts as sealed. The wait only
//! reads, so it does not hold back the per-resource cuts (key deactivation, session revocation), which
//! start once AWS has answered the switch's call. When an organization's declarative policy manages
//! the setting (`ManagedBy` is not `account`), the account cannot change it: the cut is proposed disabled.
//!
//! Undo: the prior mode exactly, and deletion of the exclusions this cut created, which carry the tag
//! `hikkonuki:cut` = the cut's id (so exclusions that existed before, or were made by anyone else, are never
//! touched). A mode changed since the cut is reported, never overwritten.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, InternetGatewayBlockMode, InternetGatewayExclusionMode, ResourceType, Tag,
    TagSpecification, VpcBlockPublicAccessExclusion, VpcBlockPublicAccessOptions,
    VpcBlockPublicAccessState,
};
use serde::{Deserialize, Serialize};

use super::ways_in::FILTER_VALUES_MAX;
use crate::aws::RegionCtx;
use crate::net::Cidr;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, PlanOption, Proposal,
    ServiceError, TypedCut, UndoOutcome,
};

pub struct VpcBlockPublicAccess;

static INFO: KindInfo = KindInfo {
    name: "vpc_block_public_access",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Seal,
    global: false,
    footprint: Footprint::VpcSeal,
};

/// The mode the cut sets.
pub const BLOCK_BIDIRECTIONAL: &str = "block-bidirectional";
/// The mode of the exclusions the cut creates.
pub const ALLOW_BIDIRECTIONAL: &str = "allow-bidirectional";
/// The tag that marks an exclusion as created by a cut; its value is the cut's id.
pub const CUT_TAG: &str = "hikkonuki:cut";
/// VPC Block Public Access exclusions per account per Region, by default (adjustable), from the Amazon VPC
/// quotas page: <https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html>.
pub const EXCLUSIONS_PER_REGION: usize = 50;

/// `--keep-subnet SUBNET` (repeatable).
pub const KEEP_SUBNET: PlanOption = PlanOption {
    flag: "keep-subnet",
    value_name: Some("SUBNET"),
    help: "Keep this subnet reachable from the internet when VPC Block Public Access seals its region (an allow-bidirectional exclusion, removed by restore); repeatable",
    check: check_subnet_ids,
    repeatable: true,
};

/// `--keep-vpc VPC` (repeatable).
pub const KEEP_VPC: PlanOption = PlanOption {
    flag: "keep-vpc",
    value_name: Some("VPC"),
    help: "Keep this VPC reachable from the internet when VPC Block Public Access seals its region (an allow-bidirectional exclusion, removed by restore); repeatable",
    check: check_vpc_ids,
    repeatable: true,
};

static OPTIONS: [PlanOption; 2] = [KEEP_SUBNET, KEEP_VPC];

fn check_ids(flag: &str, prefix: &str, example: &str, joined: &str) -> Result<(), String> {
    for id in joined.split(PlanOption::SEPARATOR) {
        let hex = id.strip_prefix(prefix).unwrap_or_default();
        if hex.is_empty() || hex.len() > 17 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "--{flag} `{id}` is not a {prefix}… id\n  fix: give one id per flag, e.g. --{flag} {example} (repeat the flag for more)"
            ));
        }
    }
    Ok(())
}

fn check_subnet_ids(joined: &str) -> Result<(), String> {
    check_ids("keep-subnet", "subnet-", "subnet-0a1b2c3d4e5f67890", joined)
}

fn check_vpc_ids(joined: &str) -> Result<(), String> {
    check_ids("keep-vpc", "vpc-", "vpc-0a1b2c3d4e5f67890", joined)
}

/// One exclusion, as the region's state records it. Exclusion ids are left out: those the cut creates are
/// unknown until apply, and the tag tells restore which are its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// `vpc-…` or `subnet-…`.
    pub resource: String,
    /// `allow-bidirectional` or `allow-egress`.
    pub mode: String,
}

/// The region's VPC Block Public Access, as `before` and `after` record it. The asynchronous `State`
/// (`update-in-progress`…) is left out: it is a step on the way, not a setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionBlock {
    pub account_id: String,
    /// `off`, `block-ingress` or `block-bidirectional`.
    pub internet_gateway_block_mode: String,
    /// `account`, or `declarative-policy` when an organization's declarative policy manages it.
    pub managed_by: String,
    /// `allowed` or `not-allowed` (set by a declarative policy).
    pub exclusions_allowed: String,
    /// Exclusions not deleted, sorted.
    pub exclusions: Vec<Exclusion>,
}

/// What restore needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub account_id: String,
    /// The mode to put back.
    pub prior_mode: String,
    /// The mode the cut set: restore puts the prior mode back only while this one is still in place.
    pub set_mode: String,
    /// The `hikkonuki:cut` tag value of the exclusions the cut created: restore deletes those, and only those.
    pub cut_id: String,
    /// The resources the cut created exclusions for, for the operator.
    pub excluded: Vec<String>,
}

/// How long and how often apply waits for the asynchronous switch.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub first: Duration,
    pub longest: Duration,
    pub limit: Duration,
}

/// AWS documents no duration for the change; five minutes is generous, and the error says what was seen.
pub const WAIT: Wait = Wait {
    first: Duration::from_millis(200),
    longest: Duration::from_secs(5),
    limit: Duration::from_secs(300),
};

fn mode_text(mode: Option<&InternetGatewayBlockMode>) -> String {
    mode.map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "off".into())
}

/// `vpc-…` or `subnet-…` from an exclusion's ARN (`arn:aws:ec2:REGION:ACCOUNT:subnet/subnet-…`).
fn resource_of(exclusion: &VpcBlockPublicAccessExclusion) -> Option<String> {
    exclusion
        .resource_arn()?
        .rsplit_once('/')
        .map(|(_, id)| id.to_string())
}

/// Deleted exclusions stay listed for a while (`delete-in-progress`, `delete-complete`).
fn is_deleted(exclusion: &VpcBlockPublicAccessExclusion) -> bool {
    exclusion
        .state()
        .is_some_and(|s| s.as_str().starts_with("delete-"))
}

/// An exclusion that keeps nothing open: its creation or last change failed (`create-failed`,
/// `update-failed`; the API reference lists no `delete-failed`:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcBlockPublicAccessExclusion.html>), or it
/// is disabled (`disable-in-progress`, `disable-complete`: what an organization's declarative policy that
/// disallows exclusions does to the account's exclusions, which then stay listed but exempt nothing:
/// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_declarative_syntax.html>).
/// The region's state leaves it out like a deleted one: a kept resource that has only such an exclusion
/// gets a new one from the cut, or, where exclusions are not allowed, the cut is proposed disabled, naming
/// the resource the block would cut off.
fn keeps_nothing_open(exclusion: &VpcBlockPublicAccessExclusion) -> bool {
    exclusion.state().is_some_and(|s| {
        let state = s.as_str();
        state.ends_with("-failed") || state.starts_with("disable-")
    })
}

fn tagged_by(exclusion: &VpcBlockPublicAccessExclusion, cut_id: &str) -> bool {
    exclusion
        .tags()
        .iter()
        .any(|tag| tag.key() == Some(CUT_TAG) && tag.value() == Some(cut_id))
}

async fn describe_options(ctx: &RegionCtx) -> Result<VpcBlockPublicAccessOptions, ServiceError> {
    let out = ctx
        .ec2()
        .describe_vpc_block_public_access_options()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcBlockPublicAccessOptions", err))?;
    out.vpc_block_public_access_options()
        .cloned()
        .ok_or_else(|| {
            ServiceError::local(
                "ec2:DescribeVpcBlockPublicAccessOptions",
                "the answer holds no VpcBlockPublicAccessOptions",
            )
        })
}

async fn describe_exclusions(
    ctx: &RegionCtx,
) -> Result<Vec<VpcBlockPublicAccessExclusion>, ServiceError> {
    let mut exclusions = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .ec2()
            .describe_vpc_block_public_access_exclusions()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|err| {
                ServiceError::from_sdk("ec2:DescribeVpcBlockPublicAccessExclusions", err)
            })?;
        exclusions.extend(out.vpc_block_public_access_exclusions().iter().cloned());
        match out.next_token().filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(exclusions),
        }
    }
}

/// The region's state from what AWS described.
pub fn region_block(
    account_id: &str,
    options: &VpcBlockPublicAccessOptions,
    exclusions: &[VpcBlockPublicAccessExclusion],
) -> RegionBlock {
    let mut recorded: Vec<Exclusion> = exclusions
        .iter()
        .filter(|e| !is_deleted(e) && !keeps_nothing_open(e))
        .filter_map(|e| {
            Some(Exclusion {
                resource: resource_of(e)?,
                mode: e
                    .internet_gateway_exclusion_mode()
                    .map(|m| m.as_str().to_string())
                    .unwrap_or_default(),
            })
        })
        .collect();
    recorded.sort();
    RegionBlock {
        account_id: options.aws_account_id().unwrap_or(account_id).to_string(),
        internet_gateway_block_mode: mode_text(options.internet_gateway_block_mode()),
        // AWS always reports both; a missing one is read as the default of an account without a policy.
        managed_by: options
            .managed_by()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "account".into()),
        exclusions_allowed: options
            .exclusions_allowed()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "allowed".into()),
        exclusions: recorded,
    }
}

async fn live_block(ctx: &RegionCtx, account_id: &str) -> Result<RegionBlock, ServiceError> {
    let (options, exclusions) = options_and_exclusions(ctx).await?;
    Ok(region_block(account_id, &options, &exclusions))
}

/// The region's options and its exclusions, read side by side: neither read needs the other, and
/// apply's live check waits for the slowest region's (one round trip, where it took two).
async fn options_and_exclusions(
    ctx: &RegionCtx,
) -> Result<
    (
        VpcBlockPublicAccessOptions,
        Vec<VpcBlockPublicAccessExclusion>,
    ),
    ServiceError,
> {
    futures_util::future::try_join(describe_options(ctx), describe_exclusions(ctx)).await
}

/// An exclusion in a failed or disabled state, which the region's state leaves out, for the plan's reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailedExclusion {
    /// `vpc-…` or `subnet-…`.
    pub resource: String,
    pub exclusion_id: String,
    /// `create-failed`, `update-failed`, `disable-in-progress` or `disable-complete`.
    pub state: String,
    /// AWS's reason for the state, when it gives one.
    pub reason: Option<String>,
}

/// The exclusions among those AWS described that keep nothing open (deleted ones aside), sorted.
pub fn failed_exclusions(exclusions: &[VpcBlockPublicAccessExclusion]) -> Vec<FailedExclusion> {
    let mut failed: Vec<FailedExclusion> = exclusions
        .iter()
        .filter(|e| keeps_nothing_open(e) && !is_deleted(e))
        .filter_map(|e| {
            Some(FailedExclusion {
                resource: resource_of(e)?,
                exclusion_id: e.exclusion_id().unwrap_or("?").to_string(),
                state: e.state()?.as_str().to_string(),
                reason: e.reason().filter(|r| !r.is_empty()).map(str::to_string),
            })
        })
        .collect();
    failed.sort();
    failed
}

/// The kept subnets and VPCs that exist in this region (the flags name ids of every region).
async fn kept_here(
    ctx: &RegionCtx,
    subnets: &[&str],
    vpcs: &[&str],
) -> Result<Vec<String>, ServiceError> {
    let mut found = Vec::new();
    found.extend(
        super::ways_in::subnets_here(ctx, subnets)
            .await?
            .into_iter()
            .map(|(subnet, _vpc)| subnet),
    );
    for chunk in vpcs.chunks(FILTER_VALUES_MAX) {
        let out = ctx
            .ec2()
            .describe_vpcs()
            .filters(
                Filter::builder()
                    .name("vpc-id")
                    .set_values(Some(chunk.iter().map(|s| s.to_string()).collect()))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcs", err))?;
        found.extend(out.iter().filter_map(|v| v.vpc_id().map(str::to_string)));
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// A subnet whose internet path carries a kept range, and its VPC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SubnetForKeptRange {
    pub subnet_id: String,
    pub vpc_id: String,
}

/// The subnets whose route table sends a kept range to an internet gateway (explicitly associated, or
/// through their VPC's main route table): the responder's path, which only an exclusion keeps open.
///
/// A route to a prefix list of the account's own whose entries all lie within kept ranges is such a path
/// too, as route_remove keeps it ([`super::prefix_lists`]).
async fn subnets_for_kept_ranges(
    ctx: &RegionCtx,
    keep_cidrs: &[Cidr],
    account: &str,
) -> Result<Vec<SubnetForKeptRange>, ServiceError> {
    let tables = super::vpc::route_tables(ctx).await?;
    let lists =
        super::prefix_lists::read(ctx, super::prefix_lists::named_by_routes(&tables), account)
            .await;
    let subnets = ctx
        .ec2()
        .describe_subnets()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSubnets", err))?;
    let carries_kept_range = |table: &aws_sdk_ec2::types::RouteTable| {
        table.routes().iter().any(|route| {
            let to_list = || {
                route
                    .destination_prefix_list_id()
                    .is_some_and(|list| lists.carries_kept_range(list, keep_cidrs))
            };
            route.gateway_id().is_some_and(|g| g.starts_with("igw-"))
                && (route
                    .destination_cidr_block()
                    .or(route.destination_ipv6_cidr_block())
                    .and_then(|d| d.parse::<Cidr>().ok())
                    .is_some_and(|dest| keep_cidrs.iter().any(|keep| dest.contains(keep)))
                    || to_list())
        })
    };
    let mut found = Vec::new();
    for subnet in &subnets {
        let (Some(subnet_id), Some(vpc_id)) = (subnet.subnet_id(), subnet.vpc_id()) else {
            continue;
        };
        let explicit = tables.iter().find(|t| {
            t.associations()
                .iter()
                .any(|a| a.subnet_id() == Some(subnet_id))
        });
        let table = explicit.or_else(|| {
            tables.iter().find(|t| {
                t.vpc_id() == Some(vpc_id)
                    && t.associations().iter().any(|a| a.main() == Some(true))
            })
        });
        if table.is_some_and(carries_kept_range) {
            found.push(SubnetForKeptRange {
                subnet_id: subnet_id.to_string(),
                vpc_id: vpc_id.to_string(),
            });
        }
    }
    found.sort();
    Ok(found)
}

/// What discovery learned besides the region's state, for the proposal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keeping {
    /// `--keep-subnet`/`--keep-vpc` ids found in this region.
    pub kept: Vec<String>,
    /// `--keep-subnet`/`--keep-vpc` ids not found in this region: named in the reason, so an id that is in no
    /// region (a typo) is not dropped without a word.
    pub not_here: Vec<String>,
    /// `--keep-cidr` ranges given.
    pub keep_cidrs: Vec<String>,
    /// Subnets whose internet route carries a kept range.
    pub subnets_for_kept_ranges: Vec<SubnetForKeptRange>,
    /// Exclusions failed or disabled: not in the region's state (they keep nothing open), named in the reason.
    pub failed_exclusions: Vec<FailedExclusion>,
}

const NOT_BLOCKED: &str = "VPC Block Public Access does not block VPC peering, transit gateways, Site-to-Site VPN or Direct Connect (virtual private gateways), nor VPC endpoints (https://docs.aws.amazon.com/vpc/latest/userguide/security-vpc-bpa-basics.html): nacl_deny, route_remove, vgw_detach and the VPC endpoint kinds stay for those.";

/// The proposal for one region, or nothing when it is already blocked both ways.
pub fn propose(
    region: &str,
    before: &RegionBlock,
    keeping: &Keeping,
) -> Option<Proposal<RegionBlock>> {
    if before.internet_gateway_block_mode == BLOCK_BIDIRECTIONAL {
        return None;
    }
    let mut after = before.clone();
    after.internet_gateway_block_mode = BLOCK_BIDIRECTIONAL.into();
    let mut created = Vec::new();
    for resource in &keeping.kept {
        if !before.exclusions.iter().any(|e| &e.resource == resource) {
            after.exclusions.push(Exclusion {
                resource: resource.clone(),
                mode: ALLOW_BIDIRECTIONAL.into(),
            });
            created.push(resource.clone());
        }
    }
    after.exclusions.sort();

    let mut reason = format!(
        "Region {region} lets traffic through its internet gateways and egress-only internet gateways (VPC Block Public Access mode `{}`). Setting block-bidirectional stops all of it in one call, whatever routes, network ACLs and security groups allow; apply waits until AWS reports the change complete. Restore puts back `{}`.",
        before.internet_gateway_block_mode, before.internet_gateway_block_mode
    );
    if !created.is_empty() {
        reason.push_str(&format!(
            " Kept reachable by new allow-bidirectional exclusions (created first, deleted by restore): {}.",
            created.join(", ")
        ));
    }
    let already: Vec<String> = keeping
        .kept
        .iter()
        .filter_map(|r| before.exclusions.iter().find(|e| &e.resource == r))
        .map(|e| format!("{} ({})", e.resource, e.mode))
        .collect();
    if !already.is_empty() {
        reason.push_str(&format!(
            " Already excluded, left as is: {}.",
            already.join(", ")
        ));
    }
    // An allow-egress exclusion lets out only outbound traffic and its responses: under
    // block-bidirectional, connections from the internet into it are blocked
    // (API reference, VpcBlockPublicAccessExclusion:
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcBlockPublicAccessExclusion.html).
    let egress_only: Vec<&str> = keeping
        .kept
        .iter()
        .filter(|r| {
            before
                .exclusions
                .iter()
                .any(|e| &e.resource == *r && e.mode != ALLOW_BIDIRECTIONAL)
        })
        .map(String::as_str)
        .collect();
    if !egress_only.is_empty() {
        reason.push_str(&format!(
            " Careful: the existing exclusion of {} is not allow-bidirectional, so the block still stops connections from the internet into it; if the responder comes in that way, change that exclusion to allow-bidirectional before apply (it is not this cut's to change).",
            egress_only.join(", ")
        ));
    }
    // A failed exclusion is not in `before`, so a kept resource that has one got a new exclusion above.
    // Whether AWS accepts a second exclusion for a resource whose first one failed is not documented; if it
    // refuses, apply stops at that exclusion, before anything is blocked.
    if !keeping.failed_exclusions.is_empty() {
        reason.push_str(&format!(
            " Exclusions failed or disabled keep nothing open and are counted as absent: {}.",
            keeping
                .failed_exclusions
                .iter()
                .map(|f| match &f.reason {
                    Some(why) => format!("{} ({}, {}: {why})", f.exclusion_id, f.resource, f.state),
                    None => format!("{} ({}, {})", f.exclusion_id, f.resource, f.state),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let replaced: Vec<&FailedExclusion> = keeping
            .failed_exclusions
            .iter()
            .filter(|f| created.contains(&f.resource))
            .collect();
        if !replaced.is_empty() {
            reason.push_str(&format!(
                " Apply creates a new exclusion for {}; should AWS refuse a second exclusion for the same resource, apply stops there before anything is blocked: delete the failed exclusion (`aws ec2 delete-vpc-block-public-access-exclusion --exclusion-id ID`, for {}) and run apply again.",
                replaced
                    .iter()
                    .map(|f| f.resource.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                replaced
                    .iter()
                    .map(|f| f.exclusion_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if !keeping.not_here.is_empty() {
        reason.push_str(&format!(
            " Not in {region} (kept only in the region that holds them; check the ids if they are in no region of this plan): {}.",
            keeping.not_here.join(", ")
        ));
    }
    let other_exclusions: Vec<String> = before
        .exclusions
        .iter()
        .filter(|e| !keeping.kept.contains(&e.resource))
        .map(|e| format!("{} ({})", e.resource, e.mode))
        .collect();
    if !other_exclusions.is_empty() {
        reason.push_str(&format!(
            " Existing exclusions stay open to the internet: {}; the other network kinds cover them.",
            other_exclusions.join(", ")
        ));
    }
    let live_after = after.exclusions.len();
    if live_after > EXCLUSIONS_PER_REGION {
        reason.push_str(&format!(
            " The region would hold {live_after} exclusions, over the default quota of {EXCLUSIONS_PER_REGION} per account and Region: unless the quota was raised, creating them fails and nothing is blocked."
        ));
    }
    let uncovered: Vec<&SubnetForKeptRange> = keeping
        .subnets_for_kept_ranges
        .iter()
        .filter(|s| {
            !after
                .exclusions
                .iter()
                .any(|e| e.resource == s.subnet_id || e.resource == s.vpc_id)
        })
        .collect();
    if !uncovered.is_empty() {
        reason.push_str(&format!(
            // One sentence, its point first: the review quotes the start of each sentence naming
            // --keep-cidr.
            " The block cuts the responder's path through the subnets that route a --keep-cidr range ({}) to an internet gateway, as an exclusion names a VPC or a subnet, never an address range: {}; if the responder comes in through one, make a new plan with --keep-subnet (or --keep-vpc) for it.",
            keeping.keep_cidrs.join(", "),
            uncovered
                .iter()
                .map(|s| format!("{} (in {})", s.subnet_id, s.vpc_id))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    reason.push(' ');
    reason.push_str(NOT_BLOCKED);

    let disabled_because = if before.managed_by != "account" {
        Some(format!(
            "VPC Block Public Access in {region} is managed by `{}` (an organization's declarative policy), not by the account: the account cannot change it. Ask the organization's management account to set block-bidirectional in the policy; the other network kinds of this plan still seal the region.",
            before.managed_by
        ))
    } else if !created.is_empty() && before.exclusions_allowed != "allowed" {
        Some(format!(
            "exclusions are `{}` in {region} (a declarative policy), so {} would lose internet access with the block: drop --keep-subnet/--keep-vpc for this region or have the policy allow exclusions.",
            before.exclusions_allowed,
            created.join(", ")
        ))
    } else {
        None
    };
    Some(Proposal {
        target: before.account_id.clone(),
        reason,
        before: before.clone(),
        after,
        disabled_because,
    })
}

/// The resources the cut creates exclusions for: in `after`, not in `before`.
pub fn created_exclusions(before: &RegionBlock, after: &RegionBlock) -> Vec<Exclusion> {
    after
        .exclusions
        .iter()
        .filter(|e| !before.exclusions.iter().any(|b| b.resource == e.resource))
        .cloned()
        .collect()
}

/// Polls the options until `done` holds for them, at most `wait.limit`; returns them, or an error saying
/// what was last seen.
pub async fn wait_for_options(
    ctx: &RegionCtx,
    wait: &Wait,
    what: &str,
    done: impl Fn(&VpcBlockPublicAccessOptions) -> bool,
) -> Result<VpcBlockPublicAccessOptions, ServiceError> {
    let started = tokio::time::Instant::now();
    let mut interval = wait.first;
    loop {
        let options = describe_options(ctx).await?;
        if done(&options) {
            return Ok(options);
        }
        if started.elapsed() >= wait.limit {
            return Err(ServiceError::local(
                "ec2:DescribeVpcBlockPublicAccessOptions",
                format!(
                    "waited {} s for {what} in {}, and AWS still reports mode `{}` in state `{}`; run apply again to keep waiting (the cut resumes), or restore to put the prior mode back",
                    wait.limit.as_secs(),
                    ctx.region,
                    mode_text(options.internet_gateway_block_mode()),
                    options.state().map(|s| s.as_str()).unwrap_or("unknown")
                ),
            ));
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(wait.longest);
    }
}

fn settled(options: &VpcBlockPublicAccessOptions) -> bool {
    options.state() != Some(&VpcBlockPublicAccessState::UpdateInProgress)
}

/// Waits until every exclusion tagged with `cut_id` is `create-complete`, so the kept resources are open
/// before the block lands.
async fn wait_for_exclusions(
    ctx: &RegionCtx,
    wait: &Wait,
    cut_id: &str,
) -> Result<(), ServiceError> {
    let started = tokio::time::Instant::now();
    let mut interval = wait.first;
    loop {
        let pending: Vec<String> = describe_exclusions(ctx)
            .await?
            .iter()
            .filter(|e| tagged_by(e, cut_id) && !is_deleted(e))
            .filter(|e| e.state().map(|s| s.as_str()) != Some("create-complete"))
            .map(|e| {
                format!(
                    "{} ({})",
                    e.exclusion_id().unwrap_or("?"),
                    e.state().map(|s| s.as_str()).unwrap_or("unknown")
                )
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if pending.iter().any(|p| p.contains("failed")) || started.elapsed() >= wait.limit {
            return Err(ServiceError::local(
                "ec2:DescribeVpcBlockPublicAccessExclusions",
                format!(
                    "the exclusions for the kept subnets and VPCs in {} did not complete: {}; the block was not set, so nothing is sealed yet (restore deletes them)",
                    ctx.region,
                    pending.join(", ")
                ),
            ));
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(wait.longest);
    }
}

async fn create_exclusion(
    ctx: &RegionCtx,
    resource: &str,
    cut_id: &str,
    dry_run: bool,
) -> Result<(), ServiceError> {
    let request = ctx
        .ec2()
        .create_vpc_block_public_access_exclusion()
        .internet_gateway_exclusion_mode(InternetGatewayExclusionMode::AllowBidirectional)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::VpcBlockPublicAccessExclusion)
                .tags(Tag::builder().key(CUT_TAG).value(cut_id).build())
                .build(),
        )
        .dry_run(dry_run);
    let request = if resource.starts_with("subnet-") {
        request.subnet_id(resource)
    } else {
        request.vpc_id(resource)
    };
    request.send().await.map_err(|err| {
        let mut err = ServiceError::from_sdk("ec2:CreateVpcBlockPublicAccessExclusion", err);
        if err.code.as_deref().is_some_and(|c| c.ends_with("LimitExceeded")) {
            err.message.push_str(&format!(
                " (the account's quota of VPC Block Public Access exclusions in {} is {EXCLUSIONS_PER_REGION} by default: raise it through Service Quotas, or keep fewer subnets and VPCs; nothing was blocked)",
                ctx.region
            ));
        }
        err
    })?;
    Ok(())
}

async fn modify_mode(ctx: &RegionCtx, mode: &str, dry_run: bool) -> Result<(), ServiceError> {
    ctx.ec2()
        .modify_vpc_block_public_access_options()
        .internet_gateway_block_mode(InternetGatewayBlockMode::from(mode))
        .dry_run(dry_run)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:ModifyVpcBlockPublicAccessOptions", err))?;
    Ok(())
}

impl VpcBlockPublicAccess {
    /// The cut, waiting as `wait` says (tests wait not at all).
    pub async fn apply_with(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<RegionBlock>,
        wait: &Wait,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        let to_create = created_exclusions(&cut.before, &cut.after);
        // Read only when there is something to create: without exclusions the switch is the whole cut,
        // and the seal waits on it.
        let live = if to_create.is_empty() {
            Vec::new()
        } else {
            describe_exclusions(ctx).await?
        };
        for exclusion in to_create {
            // A resumed apply may find the exclusion it made before a crash.
            let exists = live.iter().any(|e| {
                tagged_by(e, &cut.id)
                    && !is_deleted(e)
                    && resource_of(e).as_deref() == Some(exclusion.resource.as_str())
            });
            if !exists {
                create_exclusion(ctx, &exclusion.resource, &cut.id, false).await?;
            }
        }
        if !undo.excluded.is_empty() {
            wait_for_exclusions(ctx, wait, &cut.id).await?;
        }
        wait_for_options(ctx, wait, "an earlier change to settle", settled).await?;
        modify_mode(ctx, BLOCK_BIDIRECTIONAL, false).await?;
        Ok(undo)
    }

    /// Waits, as `wait` says, until AWS reports the block `update-complete`: the region is sealed only
    /// then. Reads only, so the engine lets the per-resource cuts start meanwhile
    /// ([`crate::services::Containment::take_effect`]).
    pub async fn take_effect_with(&self, ctx: &RegionCtx, wait: &Wait) -> Result<(), ServiceError> {
        wait_for_options(ctx, wait, "block-bidirectional to take effect", |o| {
            o.internet_gateway_block_mode() == Some(&InternetGatewayBlockMode::BlockBidirectional)
                && o.state() == Some(&VpcBlockPublicAccessState::UpdateComplete)
        })
        .await?;
        Ok(())
    }

    /// The undo, waiting as `wait` says for a change still in progress.
    pub async fn undo_with(
        &self,
        ctx: &RegionCtx,
        undo: &UndoRecord,
        wait: &Wait,
    ) -> Result<UndoOutcome, ServiceError> {
        let mut notes = Vec::new();
        let region = &ctx.region;
        let options = wait_for_options(ctx, wait, "an earlier change to settle", settled).await?;
        let live_mode = mode_text(options.internet_gateway_block_mode());
        if live_mode == undo.prior_mode {
            notes.push(format!(
                "VPC Block Public Access in {region} already `{live_mode}`, as before the cut"
            ));
        } else if live_mode != undo.set_mode {
            notes.push(format!(
                "conflict: VPC Block Public Access in {region} was changed after the cut to `{live_mode}`; left alone (it was `{}` before the cut)",
                undo.prior_mode
            ));
        } else {
            modify_mode(ctx, &undo.prior_mode, false).await?;
            notes.push(format!(
                "VPC Block Public Access in {region} set back to `{}`",
                undo.prior_mode
            ));
        }
        // A cut that made no exclusion has none to delete (only those it made are, below): no call.
        if undo.excluded.is_empty() {
            return Ok(UndoOutcome { notes });
        }
        // After the mode, so the kept resources stay open until the block is lifted.
        for exclusion in describe_exclusions(ctx).await? {
            // Ours: tagged with this cut's id (which anyone can read off the plan and put on another
            // exclusion) and for a resource the cut made one for.
            let made_by_the_cut = tagged_by(&exclusion, &undo.cut_id)
                && resource_of(&exclusion).is_some_and(|r| undo.excluded.contains(&r));
            if !made_by_the_cut || is_deleted(&exclusion) {
                continue;
            }
            let Some(id) = exclusion.exclusion_id() else {
                continue;
            };
            ctx.ec2()
                .delete_vpc_block_public_access_exclusion()
                .exclusion_id(id)
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk("ec2:DeleteVpcBlockPublicAccessExclusion", err)
                })?;
            notes.push(format!(
                "exclusion {id} ({}) deleted",
                resource_of(&exclusion).unwrap_or_default()
            ));
        }
        Ok(UndoOutcome { notes })
    }
}

#[async_trait]
impl CutKind for VpcBlockPublicAccess {
    type State = RegionBlock;
    type Undo = UndoRecord;

    /// One cut per region, whose undo touches only that region's switch and the exclusions tagged with
    /// its own id: restore may undo several regions at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// An exclusion the cut keeps (or makes, `--keep-vpc`) for the whole VPC: either mode lets the
    /// VPC's own outbound calls and their answers through (`allow-egress` is outbound only, which is
    /// all a run's calls to AWS need:
    /// <https://docs.aws.amazon.com/vpc/latest/userguide/security-vpc-bpa-basics.html>). A subnet's
    /// exclusion is not enough: the way out may be a NAT gateway in another subnet.
    fn spares_vpc(&self, after: &RegionBlock, vpc: &str) -> bool {
        after
            .exclusions
            .iter()
            .any(|exclusion| exclusion.resource == vpc)
    }

    fn plan_options(&self) -> &'static [PlanOption] {
        &OPTIONS
    }

    fn check_states(&self, cut: &TypedCut<RegionBlock>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.account_id != cut.target || after.account_id != cut.target {
            return Err(format!(
                "account_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.internet_gateway_block_mode != BLOCK_BIDIRECTIONAL {
            return Err(format!(
                "`after.internet_gateway_block_mode` must be `{BLOCK_BIDIRECTIONAL}`"
            ));
        }
        if before.managed_by != after.managed_by
            || before.exclusions_allowed != after.exclusions_allowed
        {
            return Err(
                "`after` must keep `managed_by` and `exclusions_allowed` as in `before`: the cut does not change them"
                    .into(),
            );
        }
        if let Some(missing) = before
            .exclusions
            .iter()
            .find(|e| !after.exclusions.contains(e))
        {
            return Err(format!(
                "`after.exclusions` must keep every exclusion of `before`; {} is missing (the cut deletes none)",
                missing.resource
            ));
        }
        for created in created_exclusions(before, after) {
            let id_like =
                created.resource.starts_with("subnet-") || created.resource.starts_with("vpc-");
            if created.mode != ALLOW_BIDIRECTIONAL || !id_like {
                return Err(format!(
                    "`after.exclusions`: the cut creates only {ALLOW_BIDIRECTIONAL} exclusions for subnets and VPCs, not `{}` for `{}`",
                    created.mode, created.resource
                ));
            }
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<RegionBlock>>, ServiceError> {
        let (options, described) = options_and_exclusions(ctx).await?;
        let before = region_block(&scope.caller.account, &options, &described);
        if before.internet_gateway_block_mode == BLOCK_BIDIRECTIONAL {
            return Ok(Vec::new());
        }
        let subnets = scope.option_values(KEEP_SUBNET.flag);
        let vpcs = scope.option_values(KEEP_VPC.flag);
        let kept = if subnets.is_empty() && vpcs.is_empty() {
            Vec::new()
        } else {
            kept_here(ctx, &subnets, &vpcs).await?
        };
        let mut not_here: Vec<String> = subnets
            .iter()
            .chain(&vpcs)
            .filter(|id| !kept.iter().any(|k| k == *id))
            .map(|id| id.to_string())
            .collect();
        not_here.dedup();
        let subnets_for_kept_ranges = if scope.keep_cidrs.is_empty() {
            Vec::new()
        } else {
            subnets_for_kept_ranges(ctx, &scope.keep_cidrs, &scope.caller.account).await?
        };
        let keeping = Keeping {
            kept,
            not_here,
            keep_cidrs: scope.keep_cidrs.iter().map(|c| c.to_string()).collect(),
            subnets_for_kept_ranges,
            failed_exclusions: failed_exclusions(&described),
        };
        Ok(propose(&ctx.region, &before, &keeping)
            .into_iter()
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<RegionBlock>,
    ) -> Result<Option<RegionBlock>, ServiceError> {
        Ok(Some(live_block(ctx, &cut.target).await?))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<RegionBlock>,
    ) -> Result<UndoRecord, ServiceError> {
        self.apply_with(ctx, cut, &WAIT).await
    }

    async fn take_effect(
        &self,
        ctx: &RegionCtx,
        _cut: &TypedCut<RegionBlock>,
    ) -> Result<(), ServiceError> {
        self.take_effect_with(ctx, &WAIT).await
    }

    fn undo_record_for(&self, cut: &TypedCut<RegionBlock>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            account_id: cut.target.clone(),
            prior_mode: cut.before.internet_gateway_block_mode.clone(),
            set_mode: cut.after.internet_gateway_block_mode.clone(),
            cut_id: cut.id.clone(),
            excluded: created_exclusions(&cut.before, &cut.after)
                .into_iter()
                .map(|e| e.resource)
                .collect(),
        })
    }

    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<RegionBlock>,
    ) -> PermissionCheck {
        if let Some(first) = created_exclusions(&cut.before, &cut.after).first() {
            match PermissionCheck::from_dry_run(
                create_exclusion(ctx, &first.resource, &cut.id, true).await,
            ) {
                PermissionCheck::Allowed => {}
                other => return other,
            }
        }
        PermissionCheck::from_dry_run(modify_mode(ctx, BLOCK_BIDIRECTIONAL, true).await)
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        self.undo_with(ctx, undo, &WAIT).await
    }
}

#[cfg(test)]
mod tests;
