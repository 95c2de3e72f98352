//! `nacl_deny`: put deny-all entries for `0.0.0.0/0` and `::/0` at the top of every network ACL that guards
//! a subnet, after allow entries for the VPC's own blocks and the responder's `--keep-cidr` ranges.
//!
//! Network ACLs are stateless, so unlike a security-group revoke this ends established connections at once:
//! return traffic is filtered like any other. That is why this kind exists next to `sg_revoke`. The VPC's
//! own blocks are allowed first, or the deny would also cut traffic between subnets inside the VPC.
//!
//! Entries are evaluated lowest rule number first and the first match wins, so every added entry must sit
//! below every existing one; an existing low-numbered allow would otherwise still let traffic through. When
//! there is no room below the lowest existing entry, or the per-direction entry quota would be exceeded,
//! the cut is still proposed (the responder needs to see that this ACL stays open), switched off, saying why
//! it cannot be applied and what to do; apply refuses it before any call, even if someone switches it on,
//! rather than half-sealing the ACL.
//!
//! Restore deletes exactly the entries the cut added, and only where the entry at that rule number is still
//! the one that was added. It never calls DeleteNetworkAclEntry on a missing entry.

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_ec2::types::{NetworkAcl, NetworkAclEntry, RuleAction};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::net::Cidr;
use crate::services::common::unclassified;
use crate::services::network::vpc;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct NetworkAclDeny;

static INFO: KindInfo = KindInfo {
    name: "nacl_deny",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Seal,
    global: false,
    footprint: Footprint::VpcSeal,
};

/// AWS's default quota of entries per direction of one network ACL, enforced separately for IPv4 and
/// IPv6 entries ("you can have 20 ingress rules for IPv4 traffic and 20 ingress rules for IPv6 traffic"),
/// each family's default deny entry included (rule 32767 for IPv4, 32768 for IPv6):
/// <https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html>, "Network ACLs". It can be
/// raised to 40 on request; a raised quota is not visible through the EC2 API, so the default is assumed.
pub const ENTRY_QUOTA_PER_DIRECTION: usize = 20;

/// The address family an entry counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    fn of(entry: &Entry) -> Family {
        if entry.cidr_ipv6.is_some() {
            Family::Ipv6
        } else {
            Family::Ipv4
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// The highest rule number a caller may use; 32767 and above are AWS's default entries.
pub const MAX_RULE_NUMBER: i32 = 32766;

/// Protocol `-1`: the entries this kind adds match all traffic.
const ALL_PROTOCOLS: &str = "-1";

const ANY_IPV4: &str = "0.0.0.0/0";
const ANY_IPV6: &str = "::/0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn is_egress(self) -> bool {
        self == Direction::Egress
    }

    fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    pub from: i32,
    pub to: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IcmpTypeCode {
    #[serde(rename = "type")]
    pub icmp_type: i32,
    pub code: i32,
}

/// One entry of a network ACL as AWS describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub direction: Direction,
    pub rule_number: i32,
    /// `allow` or `deny`.
    pub action: String,
    /// A protocol number, or `-1` for all.
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpTypeCode>,
}

impl Entry {
    fn cidr(&self) -> Option<&str> {
        self.cidr_ipv4.as_deref().or(self.cidr_ipv6.as_deref())
    }

    /// The entry in words, e.g. `ingress rule 3 deny all traffic from 0.0.0.0/0`.
    pub fn summary(&self) -> String {
        let what = match (self.protocol.as_str(), self.port_range) {
            (ALL_PROTOCOLS, _) => "all traffic".to_string(),
            (proto, Some(ports)) if ports.from == ports.to => {
                format!("protocol {proto} port {}", ports.from)
            }
            (proto, Some(ports)) => format!("protocol {proto} ports {}-{}", ports.from, ports.to),
            (proto, None) => format!("protocol {proto}"),
        };
        let peer = self.cidr().unwrap_or("(no range)");
        let preposition = match self.direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        format!(
            "{} rule {} {} {what} {preposition} {peer}",
            self.direction.name(),
            self.rule_number,
            self.action
        )
    }

    /// What undo compares: the entry at a rule number is still ours only if this is unchanged.
    fn matches_added(&self, added: &Entry) -> bool {
        self.action == added.action
            && self.protocol == added.protocol
            && self.cidr() == added.cidr()
    }

    fn sort_key(&self) -> (Direction, i32) {
        (self.direction, self.rule_number)
    }
}

fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by_key(Entry::sort_key);
}

/// A network ACL as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclState {
    pub network_acl_id: String,
    pub vpc_id: String,
    /// The VPC's own IPv4 and IPv6 blocks: traffic to and from them stays allowed.
    pub vpc_cidrs: Vec<String>,
    /// The subnets the ACL guards, sorted.
    pub subnets: Vec<String>,
    /// Every entry, sorted by direction, then rule number.
    pub entries: Vec<Entry>,
}

/// What restore needs: the ACL and the entries the cut added to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub network_acl_id: String,
    pub added: Vec<Entry>,
}

/// The ranges that get an allow entry before the deny-all, in order: the VPC's blocks, then the responder's
/// ranges that the VPC's blocks do not already cover.
pub fn allowed_ranges(vpc_cidrs: &[String], keep_cidrs: &[Cidr]) -> Vec<String> {
    let vpc_blocks: Vec<Cidr> = vpc_cidrs.iter().filter_map(|c| c.parse().ok()).collect();
    let mut ranges: Vec<String> = Vec::new();
    for block in vpc_cidrs {
        if !ranges.contains(block) {
            ranges.push(block.clone());
        }
    }
    for keep in keep_cidrs {
        let keep_text = keep.to_string();
        if !keep.is_within_any(&vpc_blocks) && !ranges.contains(&keep_text) {
            ranges.push(keep_text);
        }
    }
    ranges
}

/// The entries one direction needs, in rule order, with rule numbers still to be chosen (0).
fn needed_entries(direction: Direction, allowed: &[String]) -> Vec<Entry> {
    let entry = |action: &str, cidr: &str| {
        let v6 = cidr.contains(':');
        Entry {
            direction,
            rule_number: 0,
            action: action.to_string(),
            protocol: ALL_PROTOCOLS.to_string(),
            cidr_ipv4: (!v6).then(|| cidr.to_string()),
            cidr_ipv6: v6.then(|| cidr.to_string()),
            port_range: None,
            icmp: None,
        }
    };
    let mut entries: Vec<Entry> = allowed.iter().map(|c| entry("allow", c)).collect();
    entries.push(entry("deny", ANY_IPV4));
    entries.push(entry("deny", ANY_IPV6));
    entries
}

/// The `count` lowest rule numbers not used by `taken`.
pub fn lowest_free_numbers(taken: &BTreeSet<i32>, count: usize) -> Vec<i32> {
    (1..=MAX_RULE_NUMBER)
        .filter(|n| !taken.contains(n))
        .take(count)
        .collect()
}

/// Why the added entries cannot do their job on this ACL, per direction, with what to do about it. Empty
/// when they can. Shared by discovery (for the reason) and apply (to refuse before any call).
pub fn obstacles(before: &AclState, added: &[Entry]) -> Vec<String> {
    let mut problems = Vec::new();
    for direction in [Direction::Ingress, Direction::Egress] {
        let existing: Vec<&Entry> = before
            .entries
            .iter()
            .filter(|e| e.direction == direction)
            .collect();
        let new: Vec<&Entry> = added.iter().filter(|e| e.direction == direction).collect();
        if new.is_empty() {
            continue;
        }
        let lowest_existing = existing.iter().map(|e| e.rule_number).min();
        let highest_new = new.iter().map(|e| e.rule_number).max().unwrap_or(0);
        if let Some(lowest) = lowest_existing
            && highest_new >= lowest
        {
            let below: Vec<String> = existing
                .iter()
                .filter(|e| e.rule_number <= highest_new)
                .map(|e| e.rule_number.to_string())
                .collect();
            problems.push(format!(
                "{}: no room below the lowest existing entry (rule {lowest}): {} entries are needed there, so they would not all come first and an existing entry could still allow traffic out. Fix: renumber the {} entries numbered {} to {} or higher (delete and re-create them), or pass fewer --keep-cidr ranges, then plan again",
                direction.name(),
                new.len(),
                direction.name(),
                below.join(", "),
                new.len() + 1,
            ));
        }
        for family in [Family::Ipv4, Family::Ipv6] {
            let existing = existing.iter().filter(|e| Family::of(e) == family).count();
            let added = new.iter().filter(|e| Family::of(e) == family).count();
            let total = existing + added;
            if added > 0 && total > ENTRY_QUOTA_PER_DIRECTION {
                problems.push(format!(
                    "{} {}: {existing} existing {} entries plus {added} new ones exceed the quota of {ENTRY_QUOTA_PER_DIRECTION} {} entries per direction (the default deny entry counts; IPv4 and IPv6 entries count separately). Fix: delete {} {} {} entries that are no longer needed, or pass fewer --keep-cidr ranges, then plan again",
                    direction.name(),
                    family.name(),
                    family.name(),
                    family.name(),
                    total - ENTRY_QUOTA_PER_DIRECTION,
                    direction.name(),
                    family.name(),
                ));
            }
        }
    }
    problems
}

/// True when the ACL already starts, in both directions, with exactly the entries this cut would add: a
/// previous apply that was not restored. Proposing again would only find no room.
fn already_sealed(state: &AclState, allowed: &[String]) -> bool {
    [Direction::Ingress, Direction::Egress]
        .into_iter()
        .all(|direction| {
            let needed = needed_entries(direction, allowed);
            let first: Vec<&Entry> = state
                .entries
                .iter()
                .filter(|e| e.direction == direction)
                .take(needed.len())
                .collect();
            first.len() == needed.len()
                && first.iter().zip(&needed).all(|(live, want)| {
                    live.matches_added(want) && live.port_range.is_none() && live.icmp.is_none()
                })
        })
}

/// The entries the cut adds to this ACL, numbered at the lowest free rule numbers of each direction.
pub fn entries_to_add(state: &AclState, keep_cidrs: &[Cidr]) -> Vec<Entry> {
    let allowed = allowed_ranges(&state.vpc_cidrs, keep_cidrs);
    let mut added = Vec::new();
    for direction in [Direction::Ingress, Direction::Egress] {
        let taken: BTreeSet<i32> = state
            .entries
            .iter()
            .filter(|e| e.direction == direction)
            .map(|e| e.rule_number)
            .collect();
        let mut needed = needed_entries(direction, &allowed);
        let numbers = lowest_free_numbers(&taken, needed.len());
        for (entry, number) in needed.iter_mut().zip(numbers) {
            entry.rule_number = number;
        }
        added.extend(needed);
    }
    added
}

/// Builds the proposal for one ACL, or nothing when it guards no subnet or is already sealed.
pub fn propose(state: &AclState, keep_cidrs: &[Cidr]) -> Option<Proposal<AclState>> {
    if state.subnets.is_empty() {
        return None;
    }
    let allowed = allowed_ranges(&state.vpc_cidrs, keep_cidrs);
    if already_sealed(state, &allowed) {
        return None;
    }
    let added = entries_to_add(state, keep_cidrs);
    let mut after = state.clone();
    after.entries.extend(added.iter().cloned());
    sort_entries(&mut after.entries);

    // Entries are evaluated lowest number first: the kept ranges' allows come before the denies.
    let numbers = |direction: Direction, action: &str| {
        let numbers: Vec<String> = added
            .iter()
            .filter(|e| e.direction == direction && e.action == action)
            .map(|e| e.rule_number.to_string())
            .collect();
        if numbers.is_empty() {
            "none".to_string()
        } else {
            numbers.join(", ")
        }
    };
    let rules = |action: &str| {
        format!(
            "ingress rules {}; egress rules {}",
            numbers(Direction::Ingress, action),
            numbers(Direction::Egress, action)
        )
    };
    let kept_for_responder: Vec<String> = allowed
        .iter()
        .filter(|r| !state.vpc_cidrs.contains(r))
        .cloned()
        .collect();
    let mut reason = format!(
        "{} (VPC {}) guards subnet(s) {}: first, allow entries for the kept ranges ({}): the VPC's own blocks {}, so traffic inside the VPC keeps flowing",
        state.network_acl_id,
        state.vpc_id,
        state.subnets.join(", "),
        rules("allow"),
        if state.vpc_cidrs.is_empty() {
            "(none recorded)".to_string()
        } else {
            state.vpc_cidrs.join(", ")
        },
    );
    if !kept_for_responder.is_empty() {
        reason.push_str(", and the responder's ranges");
    }
    reason.push_str(&format!(
        "; then, deny all other traffic to and from 0.0.0.0/0 and ::/0 ({}).",
        rules("deny")
    ));
    if !kept_for_responder.is_empty() {
        reason.push_str(&format!(
            " Kept for the responder (--keep-cidr): allow entries for {}, in both directions.",
            kept_for_responder.join(", ")
        ));
    }
    reason.push_str(
        " Network ACLs are stateless: unlike security groups, this cuts established connections at once, replies included.",
    );
    let problems = obstacles(state, &added);
    let disabled_because = (!problems.is_empty()).then(|| {
        format!(
            "this ACL cannot be sealed as it stands, and apply refuses the cut even if enabled, changing nothing on the ACL: {}.",
            problems.join("; ")
        )
    });
    Some(Proposal {
        target: state.network_acl_id.clone(),
        reason,
        before: state.clone(),
        after,
        disabled_because,
    })
}

/// The entries present in `after` and not in `before`: exactly what the cut adds.
fn added_entries(before: &AclState, after: &AclState) -> Vec<Entry> {
    after
        .entries
        .iter()
        .filter(|entry| !before.entries.contains(entry))
        .cloned()
        .collect()
}

/// Which added entries to delete, and notes on the ones left alone. An entry is deleted only if the entry
/// now at its rule number is still the one added; denies go first so traffic inside the VPC is never
/// denied while the allows are being removed.
pub struct Removal<'a> {
    pub to_delete: Vec<&'a Entry>,
    pub notes: Vec<String>,
}

pub fn plan_removal<'a>(added: &'a [Entry], live: &[Entry]) -> Removal<'a> {
    let mut to_delete = Vec::new();
    let mut notes = Vec::new();
    for entry in added {
        let now = live
            .iter()
            .find(|l| l.direction == entry.direction && l.rule_number == entry.rule_number);
        match now {
            None => notes.push(format!("already removed: {}", entry.summary())),
            Some(now) if now.matches_added(entry) => to_delete.push(entry),
            Some(now) => notes.push(format!(
                "conflict: {} was added by the cut, but that rule number now holds {}; left as it is",
                entry.summary(),
                now.summary()
            )),
        }
    }
    to_delete.sort_by_key(|e| (e.action != "deny", e.direction, e.rule_number));
    Removal { to_delete, notes }
}

fn entry_from_sdk(entry: &NetworkAclEntry) -> Entry {
    Entry {
        direction: if entry.egress().unwrap_or(false) {
            Direction::Egress
        } else {
            Direction::Ingress
        },
        rule_number: entry.rule_number().unwrap_or_default(),
        action: entry
            .rule_action()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
        // A missing protocol is recorded as none rather than "all": read as "all", a deny on some other
        // protocol could pass for the deny-all this cut adds, and the ACL be left unsealed as "already
        // sealed".
        protocol: entry.protocol().unwrap_or_default().to_string(),
        cidr_ipv4: entry.cidr_block().map(str::to_string),
        cidr_ipv6: entry.ipv6_cidr_block().map(str::to_string),
        port_range: entry.port_range().and_then(|p| {
            Some(PortRange {
                from: p.from()?,
                to: p.to()?,
            })
        }),
        icmp: entry.icmp_type_code().and_then(|i| {
            Some(IcmpTypeCode {
                icmp_type: i.r#type()?,
                code: i.code()?,
            })
        }),
    }
}

fn state_from_sdk(acl: &NetworkAcl, vpc_cidrs: Vec<String>) -> Option<AclState> {
    let mut subnets: Vec<String> = acl
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id().map(str::to_string))
        .collect();
    subnets.sort();
    subnets.dedup();
    let mut entries: Vec<Entry> = acl.entries().iter().map(entry_from_sdk).collect();
    sort_entries(&mut entries);
    Some(AclState {
        network_acl_id: acl.network_acl_id()?.to_string(),
        vpc_id: acl.vpc_id().unwrap_or_default().to_string(),
        vpc_cidrs,
        subnets,
        entries,
    })
}

/// Moto answers a missing ACL with InvalidRouteTableID.NotFound; AWS with InvalidNetworkAclID.NotFound.
const NOT_FOUND: &[&str] = &[
    "InvalidNetworkAclID.NotFound",
    "InvalidRouteTableID.NotFound",
];

/// Region-wide discovery: one paginated describe each for VPCs and network ACLs, whatever the count.
async fn describe_region(ctx: &RegionCtx) -> Result<Vec<AclState>, ServiceError> {
    let acls = vpc::with_region_blocks(
        ctx,
        async {
            ctx.ec2()
                .describe_network_acls()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeNetworkAcls", err))
        },
        NetworkAcl::vpc_id,
    )
    .await?;
    let mut states: Vec<AclState> = Vec::with_capacity(acls.len());
    for (acl, blocks) in acls {
        match state_from_sdk(&acl, blocks) {
            Some(state) => {
                report_unnamed_associations(ctx, &acl, &state).await;
                states.push(state);
            }
            None => report_without_id(ctx, &acl).await,
        }
    }
    states.sort_by(|a, b| a.network_acl_id.cmp(&b.network_acl_id));
    Ok(states)
}

/// An ACL without its ID cannot be sealed (every entry call names it): reported with what identifies it.
async fn report_without_id(ctx: &RegionCtx, acl: &NetworkAcl) {
    let subnets: Vec<&str> = acl
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    unclassified::report(
        ctx,
        INFO.name,
        &ctx.region,
        &format!(
            "a network ACL of VPC {} (subnets: {})",
            acl.vpc_id().unwrap_or("(none given)"),
            if subnets.is_empty() {
                "none given".to_string()
            } else {
                subnets.join(", ")
            }
        ),
        "DescribeNetworkAcls returned it without its NetworkAclId",
    )
    .await;
}

/// An association without its subnet guards a subnet this plan cannot name; when it is the only one the
/// ACL is not proposed at all (an ACL guarding no subnet closes nothing), so it must be said.
async fn report_unnamed_associations(ctx: &RegionCtx, acl: &NetworkAcl, state: &AclState) {
    let unnamed = acl
        .associations()
        .iter()
        .filter(|a| a.subnet_id().is_none())
        .count();
    if unnamed > 0 {
        unclassified::report(
            ctx,
            INFO.name,
            &ctx.region,
            &state.network_acl_id,
            format!(
                "DescribeNetworkAcls returned {unnamed} association(s) without a SubnetId, so the subnets it guards are not all known"
            ),
        )
        .await;
    }
}

/// The ACL as it is now; None when it no longer exists.
async fn live_acl(ctx: &RegionCtx, acl_id: &str) -> Result<Option<NetworkAcl>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_network_acls()
        .network_acl_ids(acl_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeNetworkAcls", err));
    Ok(vpc::unless_not_found(described, NOT_FOUND)?
        .and_then(|out| out.network_acls().first().cloned()))
}

/// An error on one entry, saying which entry of which ACL.
fn naming_entry(mut err: ServiceError, entry: &Entry, acl_id: &str) -> ServiceError {
    err.message = format!("{} on {acl_id}: {}", entry.summary(), err.message);
    err
}

/// Why apply refuses the cut before any call, if it does: half the entries would leave the ACL looking
/// sealed while it is not.
fn refused_before_any_call(before: &AclState, added: &[Entry]) -> Option<ServiceError> {
    let problems = obstacles(before, added);
    (!problems.is_empty()).then(|| {
        ServiceError::local(
            "ec2:CreateNetworkAclEntry",
            format!(
                "network ACL {} cannot be sealed, nothing was changed on it: {}",
                before.network_acl_id,
                problems.join("; ")
            ),
        )
    })
}

/// Creates one entry; an error names the entry and the ACL.
async fn create_entry(ctx: &RegionCtx, acl_id: &str, entry: &Entry) -> Result<(), ServiceError> {
    send_entry(ctx, acl_id, entry, false).await
}

/// CreateNetworkAclEntry for `entry`, or its dry run (`apply --check`): AWS answers a permitted dry run
/// with `DryRunOperation`
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html>).
async fn send_entry(
    ctx: &RegionCtx,
    acl_id: &str,
    entry: &Entry,
    dry_run: bool,
) -> Result<(), ServiceError> {
    let action = if entry.action == "allow" {
        RuleAction::Allow
    } else {
        RuleAction::Deny
    };
    ctx.ec2()
        .create_network_acl_entry()
        .network_acl_id(acl_id)
        .rule_number(entry.rule_number)
        .egress(entry.direction.is_egress())
        .protocol(&entry.protocol)
        .rule_action(action)
        .set_cidr_block(entry.cidr_ipv4.clone())
        .set_ipv6_cidr_block(entry.cidr_ipv6.clone())
        .dry_run(dry_run)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            naming_entry(
                ServiceError::from_sdk("ec2:CreateNetworkAclEntry", err),
                entry,
                acl_id,
            )
        })
}

/// Calls `call` for every entry of `first` at once and, once AWS has answered them all without error, for
/// every entry of `then` at once. The first error ends it, after the wave it came in has finished (no call
/// is abandoned in flight), so nothing of `then` goes out after a failure in `first`.
async fn in_two_waves<'e, Call, Answer>(
    first: &[&'e Entry],
    then: &[&'e Entry],
    call: Call,
) -> Result<(), ServiceError>
where
    Call: Fn(&'e Entry) -> Answer,
    Answer: std::future::Future<Output = Result<(), ServiceError>>,
{
    for wave in [first, then] {
        let results = join_all(wave.iter().map(|entry| call(entry))).await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            return Err(err);
        }
    }
    Ok(())
}

/// Deletes one entry the cut added; an error names the entry and the ACL.
async fn delete_entry(ctx: &RegionCtx, acl_id: &str, entry: &Entry) -> Result<(), ServiceError> {
    ctx.ec2()
        .delete_network_acl_entry()
        .network_acl_id(acl_id)
        .rule_number(entry.rule_number)
        .egress(entry.direction.is_egress())
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            naming_entry(
                ServiceError::from_sdk("ec2:DeleteNetworkAclEntry", err),
                entry,
                acl_id,
            )
        })
}

#[async_trait]
impl CutKind for NetworkAclDeny {
    type State = AclState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own network ACL: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn vpcs(&self, state: &AclState) -> Vec<String> {
        vec![state.vpc_id.clone()]
    }

    fn check_states(&self, cut: &TypedCut<AclState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.network_acl_id != cut.target || after.network_acl_id != cut.target {
            return Err(format!(
                "network_acl_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.vpc_id != after.vpc_id
            || before.vpc_cidrs != after.vpc_cidrs
            || before.subnets != after.subnets
        {
            return Err(
                "`after` must have the same vpc_id, vpc_cidrs and subnets as `before`".into(),
            );
        }
        for entry in before.entries.iter().chain(&after.entries) {
            if entry.cidr_ipv4.is_some() == entry.cidr_ipv6.is_some() {
                return Err(format!(
                    "{} rule {} must have exactly one of cidr_ipv4, cidr_ipv6",
                    entry.direction.name(),
                    entry.rule_number
                ));
            }
        }
        if let Some(missing) = before.entries.iter().find(|e| !after.entries.contains(e)) {
            return Err(format!(
                "`after` lacks {}: a cut only adds entries",
                missing.summary()
            ));
        }
        let added = added_entries(before, after);
        if added.is_empty() {
            return Err("`after` adds no entry: there would be nothing to apply".into());
        }
        let mut numbers: BTreeSet<(Direction, i32)> = before
            .entries
            .iter()
            .map(|e| (e.direction, e.rule_number))
            .collect();
        for entry in &added {
            // Only whole-traffic allow and deny entries are ever added; anything else was edited in.
            if entry.protocol != ALL_PROTOCOLS
                || entry.port_range.is_some()
                || entry.icmp.is_some()
                || !(entry.action == "allow" || entry.action == "deny")
            {
                return Err(format!(
                    "added entry {} must be an allow or deny of all traffic (protocol -1, no ports)",
                    entry.summary()
                ));
            }
            if let Some(cidr) = entry.cidr()
                && cidr.parse::<Cidr>().is_err()
            {
                return Err(format!(
                    "added entry {} has a range that is not a CIDR block",
                    entry.summary()
                ));
            }
            if !(1..=MAX_RULE_NUMBER).contains(&entry.rule_number) {
                return Err(format!(
                    "added entry {} must have a rule number from 1 to {MAX_RULE_NUMBER}",
                    entry.summary()
                ));
            }
            if !numbers.insert((entry.direction, entry.rule_number)) {
                return Err(format!(
                    "added entry {} reuses a rule number already taken in that direction",
                    entry.summary()
                ));
            }
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<AclState>>, ServiceError> {
        let states = describe_region(ctx).await?;
        Ok(states
            .iter()
            .filter_map(|state| propose(state, &scope.keep_cidrs))
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<AclState>,
    ) -> Result<Option<AclState>, ServiceError> {
        let Some(acl) = live_acl(ctx, &cut.target).await? else {
            return Ok(None);
        };
        let vpc_cidrs = vpc::blocks_of(ctx, acl.vpc_id()).await?;
        Ok(state_from_sdk(&acl, vpc_cidrs))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<AclState>,
    ) -> Result<UndoRecord, ServiceError> {
        let (before, after) = (&cut.before, &cut.after);
        let added = added_entries(before, after);
        if let Some(refused) = refused_before_any_call(before, &added) {
            return Err(refused);
        }
        let undo = self.undo_record_for(cut)?;
        // Allows first: once a deny is in place, traffic inside the VPC must already have its way. So the
        // entries go in two waves, every allow acknowledged by AWS before the first deny is sent, and
        // within a wave at once: each entry has its own rule number and direction, and CreateNetworkAclEntry
        // documents no error for concurrent writes to one ACL
        // (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html>;
        // Terraform creates the `aws_network_acl_rule`s of one ACL in parallel). One after the other, an
        // ACL's eight entries held the whole sealing phase for eight round trips. Should AWS refuse one,
        // the wave still finishes (no call is abandoned in flight), no deny follows a failed allow, and
        // the cut fails with every entry it may have added in its undo record.
        let (allows, denies): (Vec<&Entry>, Vec<&Entry>) =
            added.iter().partition(|e| e.action == "allow");
        in_two_waves(&allows, &denies, |entry| {
            create_entry(ctx, &before.network_acl_id, entry)
        })
        .await?;
        Ok(undo)
    }

    /// Dry-runs the first entry apply would add: permission to CreateNetworkAclEntry is per ACL, so one
    /// answers for all of them. A cut apply would refuse before any call is reported as failing.
    async fn check_permission(&self, ctx: &RegionCtx, cut: &TypedCut<AclState>) -> PermissionCheck {
        let (before, after) = (&cut.before, &cut.after);
        let added = added_entries(before, after);
        if let Some(refused) = refused_before_any_call(before, &added) {
            return PermissionCheck::Failed(refused);
        }
        match added.first() {
            Some(entry) => PermissionCheck::from_dry_run(
                send_entry(ctx, &before.network_acl_id, entry, true).await,
            ),
            None => PermissionCheck::Allowed,
        }
    }

    fn undo_record_for(&self, cut: &TypedCut<AclState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            network_acl_id: cut.before.network_acl_id.clone(),
            added: added_entries(&cut.before, &cut.after),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let Some(acl) = live_acl(ctx, &undo.network_acl_id).await? else {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "network ACL {} no longer exists: the entries the cut added went with it",
                    undo.network_acl_id
                )],
            });
        };
        let live: Vec<Entry> = acl.entries().iter().map(entry_from_sdk).collect();
        let removal = plan_removal(&undo.added, &live);
        let mut outcome = UndoOutcome {
            notes: removal.notes,
        };
        // The mirror of apply's waves: every deny deleted, acknowledged, before the first allow goes, so
        // traffic inside the VPC is never denied while its allows are being removed.
        let (denies, allows): (Vec<&Entry>, Vec<&Entry>) = removal
            .to_delete
            .into_iter()
            .partition(|e| e.action == "deny");
        in_two_waves(&denies, &allows, |entry| {
            delete_entry(ctx, &undo.network_acl_id, entry)
        })
        .await?;
        outcome.notes.extend(
            denies
                .iter()
                .chain(&allows)
                .map(|entry| format!("removed {}", entry.summary())),
        );
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests;
