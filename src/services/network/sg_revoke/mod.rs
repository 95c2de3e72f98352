//! `sg_revoke`: revoke every security-group rule that lets traffic in from, or out to, somewhere outside the
//! group's VPC (CIDRs beyond the VPC's own blocks, `0.0.0.0/0`, `::/0`, prefix lists of AWS, of other
//! accounts, or with an entry beyond).
//!
//! Rules that reference other security groups of the account in the same VPC stay, so traffic inside the
//! account keeps flowing, and so do rules whose range lies inside a `--keep-cidr`, so the responder keeps
//! their own way in: a range written out, or a prefix list of the account's own whose every entry lies
//! there ([`prefix_lists`]). A rule that references a group in another account (its `UserId`) or in another VPC
//! (through a peering connection, or a transit gateway's security-group referencing) lets that group's
//! members in or out, which is a way out of the VPC: it is revoked like an open range. Restore
//! re-authorizes exactly the revoked rules with their descriptions and tags; AWS gives them new rule IDs.
//!
//! Security groups are stateful: revoking a rule does not end connections that are already tracked. NACL
//! deny entries cut those; the reason text says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup,
    SecurityGroupRule, Tag, TagSpecification, UserIdGroupPair,
};
use serde::{Deserialize, Serialize};

use crate::aws::{CallerIdentity, RegionCtx};
use crate::net::Cidr;
use crate::plan::Cut;
use crate::services::common::{keep_each, unclassified};
use crate::services::network::prefix_lists::{self, ListVerdict, OwnedPrefixLists};
use crate::services::network::{vpc, vpc_endpoint};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct SecurityGroupRevoke;

static INFO: KindInfo = KindInfo {
    name: "sg_revoke",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::SecurityGroups,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

/// One rule as AWS describes it: one protocol and port range, and exactly one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The `sgr-` ID. It changes when restore re-creates the rule.
    pub id: String,
    pub direction: Direction,
    /// `tcp`, `udp`, `icmp`, a protocol number, or `-1` for all.
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referenced_group: Option<ReferencedGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferencedGroup {
    pub group_id: String,
    /// The account that owns the referenced group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The referenced group's VPC, when AWS names it (a group in another VPC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The peering connection the reference goes through, for a group in a peered VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_peering_connection_id: Option<String>,
}

impl ReferencedGroup {
    /// Why the referenced group lies outside the rule's own group's account and VPC, if it does.
    fn outside(&self, home: &Home) -> Option<String> {
        if let Some(peering) = &self.vpc_peering_connection_id {
            return Some(format!("a peered VPC, through {peering}"));
        }
        if let (Some(owner), Some(account)) = (&self.user_id, home.account)
            && owner != account
        {
            return Some(format!("account {owner}"));
        }
        if let (Some(vpc), Some(own)) = (&self.vpc_id, home.vpc_id)
            && vpc != own
        {
            return Some(format!("VPC {vpc}"));
        }
        None
    }
}

/// Where a group lives: the account that owns it and its VPC. A referenced group elsewhere is outside.
#[derive(Debug, Clone, Copy, Default)]
pub struct Home<'a> {
    pub account: Option<&'a str>,
    pub vpc_id: Option<&'a str>,
}

/// A security group as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupState {
    pub group_id: String,
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// The VPC's own IPv4 and IPv6 blocks: sources inside them are internal and stay.
    pub vpc_cidrs: Vec<String>,
    /// Every rule of the group, sorted.
    pub rules: Vec<Rule>,
    /// The prefix lists the cut keeps rules of for the responder (`--keep-cidr`), each with the version
    /// whose entries it judged (0: the list is gone). A list is an address set anyone who may edit it
    /// can widen: edited since, its version differs, and the drift check and `watch` see the group
    /// changed, where they read the rules alone and would not. Absent where no rule was kept by a list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_lists: BTreeMap<String, i64>,
}

/// What restore needs: the group and the rules that were revoked from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub group_id: String,
    pub revoked: Vec<Rule>,
}

/// Why a rule is kept or revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Revoke,
    KeepInsideVpc,
    KeepReferencedGroup,
    KeepResponderRange,
}

impl Rule {
    fn peer_count(&self) -> usize {
        [
            self.cidr_ipv4.is_some(),
            self.cidr_ipv6.is_some(),
            self.prefix_list_id.is_some(),
            self.referenced_group.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count()
    }

    /// The peer in words, e.g. `0.0.0.0/0` or `prefix list pl-123`.
    pub fn peer(&self) -> String {
        if let Some(cidr) = self.cidr_ipv4.as_ref().or(self.cidr_ipv6.as_ref()) {
            cidr.clone()
        } else if let Some(pl) = &self.prefix_list_id {
            format!("prefix list {pl}")
        } else if let Some(group) = &self.referenced_group {
            format!("group {}", group.group_id)
        } else {
            "(no peer)".into()
        }
    }

    /// The peer in words with where a referenced group lives, e.g. `group sg-1 (account 111122223333, via
    /// pcx-1)`. Only for people: `peer` stays what rules are sorted and matched by.
    fn peer_in_words(&self) -> String {
        let Some(group) = &self.referenced_group else {
            return self.peer();
        };
        let whereabouts: Vec<String> = [
            group.user_id.as_ref().map(|u| format!("account {u}")),
            group.vpc_id.clone(),
            group
                .vpc_peering_connection_id
                .as_ref()
                .map(|p| format!("via {p}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if whereabouts.is_empty() {
            self.peer()
        } else {
            format!("{} ({})", self.peer(), whereabouts.join(", "))
        }
    }

    /// The rule in words, e.g. `ingress tcp/443 from 0.0.0.0/0`.
    pub fn summary(&self) -> String {
        let ports = match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", _, _) => "all traffic".to_string(),
            (proto, Some(from), Some(to)) if from == to => format!("{proto}/{from}"),
            (proto, Some(from), Some(to)) => format!("{proto}/{from}-{to}"),
            (proto, _, _) => proto.to_string(),
        };
        match self.direction {
            Direction::Ingress => format!("ingress {ports} from {}", self.peer_in_words()),
            Direction::Egress => format!("egress {ports} to {}", self.peer_in_words()),
        }
    }

    /// Whether the rule lets HTTPS in: an inbound rule for every protocol, or for TCP with port
    /// [`HTTPS_PORT`] in its range (a TCP rule AWS describes without ports counts, erring towards it).
    fn admits_https(&self) -> bool {
        self.direction == Direction::Ingress
            && match self.protocol.as_str() {
                "-1" => true,
                "tcp" | "6" => match (self.from_port, self.to_port) {
                    (Some(from), Some(to)) => from <= HTTPS_PORT && HTTPS_PORT <= to,
                    _ => true,
                },
                _ => false,
            }
    }

    /// Ingress before egress, then by protocol, ports and peer, so a group reads the same way every time.
    fn sort_key(&self) -> (Direction, &str, Option<i32>, Option<i32>, String, &str) {
        (
            self.direction,
            self.protocol.as_str(),
            self.from_port,
            self.to_port,
            self.peer(),
            self.id.as_str(),
        )
    }

    /// The same rule but for its ID, which AWS assigns anew when a rule is authorized again.
    fn is_same_except_id(&self, other: &Rule) -> bool {
        self.identity() == other.identity()
            && self.description == other.description
            && self.tags == other.tags
    }

    /// What AWS treats as the same rule: authorizing it again while this exists is a duplicate.
    fn identity(&self) -> (Direction, &str, Option<i32>, Option<i32>, String) {
        (
            self.direction,
            self.protocol.as_str(),
            self.from_port,
            self.to_port,
            self.peer(),
        )
    }
}

fn sort_rules(rules: &mut [Rule]) {
    rules.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Decides one rule. CIDRs that do not parse are treated as outside: when in doubt, cut. A referenced
/// group is outside when it belongs to another account or lives in another VPC
/// (<https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-security-groups.html>: rules may reference
/// security groups in a peered VPC, in the same or another account).
/// A prefix list counts by its entries when the group's account owns it ([`prefix_lists`]), and is outside
/// otherwise (AWS services' ranges, or another account's list).
pub fn classify(
    rule: &Rule,
    vpc_cidrs: &[Cidr],
    keep_cidrs: &[Cidr],
    home: &Home,
    lists: &OwnedPrefixLists,
) -> Verdict {
    if let Some(group) = &rule.referenced_group {
        return match group.outside(home) {
            Some(_) => Verdict::Revoke,
            None => Verdict::KeepReferencedGroup,
        };
    }
    if let Some(list) = &rule.prefix_list_id {
        return match lists.verdict(list, vpc_cidrs, keep_cidrs) {
            ListVerdict::ResponderRange => Verdict::KeepResponderRange,
            ListVerdict::Outside => Verdict::Revoke,
        };
    }
    let Some(cidr) = rule.cidr_ipv4.as_ref().or(rule.cidr_ipv6.as_ref()) else {
        return Verdict::Revoke; // no peer AWS describes: when in doubt, cut
    };
    match cidr.parse::<Cidr>() {
        Ok(block) if block.is_within_any(vpc_cidrs) => Verdict::KeepInsideVpc,
        Ok(block) if block.is_within_any(keep_cidrs) => Verdict::KeepResponderRange,
        _ => Verdict::Revoke,
    }
}

/// Builds the proposal for one group, or nothing when no rule reaches outside. `owner` is the account
/// that owns the group (DescribeSecurityGroups `OwnerId`).
pub fn propose(
    state: &GroupState,
    keep_cidrs: &[Cidr],
    owner: Option<&str>,
    lists: &OwnedPrefixLists,
) -> Option<Proposal<GroupState>> {
    let vpc_cidrs: Vec<Cidr> = state
        .vpc_cidrs
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let home = Home {
        account: owner,
        vpc_id: state.vpc_id.as_deref(),
    };
    let mut revoked = Vec::new();
    let mut kept_for_responder = Vec::new();
    let mut remaining = Vec::new();
    let mut kept_lists = BTreeMap::new();
    for rule in &state.rules {
        match classify(rule, &vpc_cidrs, keep_cidrs, &home, lists) {
            Verdict::Revoke => revoked.push(rule),
            Verdict::KeepResponderRange => {
                kept_for_responder.push(rule.summary());
                remaining.push(rule.clone());
                if let Some(list) = &rule.prefix_list_id
                    && let Some(version) = lists.version(list)
                {
                    kept_lists.insert(list.clone(), version);
                }
            }
            Verdict::KeepInsideVpc | Verdict::KeepReferencedGroup => remaining.push(rule.clone()),
        }
    }
    if revoked.is_empty() {
        return None;
    }
    let mut reason = format!(
        "{} ({}) has {} rule(s) open to outside its VPC: {}. Rules inside the VPC and rules referencing other groups of this account in the same VPC stay; rules referencing groups in other accounts or other VPCs are ways out and go.",
        state.group_id,
        state.group_name,
        revoked.len(),
        revoked
            .iter()
            .map(|r| r.summary())
            .collect::<Vec<_>>()
            .join("; ")
    );
    if !kept_for_responder.is_empty() {
        reason.push_str(&format!(
            " Kept for the responder (--keep-cidr): {}.",
            kept_for_responder.join("; ")
        ));
    }
    if !keep_cidrs.is_empty() {
        reason.push_str(&prefix_lists::why_not_kept(
            revoked.iter().filter_map(|r| r.prefix_list_id.as_deref()),
            lists,
        ));
    }
    reason.push_str(" Connections already established may stay open until they go idle: security groups are stateful.");
    let before = GroupState {
        kept_lists,
        ..state.clone()
    };
    let after = GroupState {
        rules: remaining,
        ..before.clone()
    };
    Some(Proposal {
        target: state.group_id.clone(),
        reason,
        before,
        after,
        disabled_because: None,
    })
}

/// The rules of `live` the plan never saw that are each a rule the cut revokes, gone from `live`, come
/// back under a new ID (re-authorized: the same peer, ports, description and tags), each revoked rule
/// matched once.
fn reauthorized_copies<'a>(
    revoked: &[Rule],
    before: &GroupState,
    live: &'a GroupState,
) -> Vec<&'a Rule> {
    let seen: BTreeSet<&str> = before.rules.iter().map(|rule| rule.id.as_str()).collect();
    let left: BTreeSet<&str> = live.rules.iter().map(|rule| rule.id.as_str()).collect();
    let mut gone: Vec<&Rule> = revoked
        .iter()
        .filter(|rule| !left.contains(rule.id.as_str()))
        .collect();
    let mut copies = Vec::new();
    for rule in live
        .rules
        .iter()
        .filter(|rule| !seen.contains(rule.id.as_str()))
    {
        if let Some(at) = gone.iter().position(|gone| gone.is_same_except_id(rule)) {
            gone.swap_remove(at);
            copies.push(rule);
        }
    }
    copies
}

/// The rules present in `before` and gone from `after`: exactly what the cut revokes.
fn revoked_rules(before: &GroupState, after: &GroupState) -> Vec<Rule> {
    before
        .rules
        .iter()
        .filter(|rule| !after.rules.contains(rule))
        .cloned()
        .collect()
}

/// The only port an interface endpoint serves: its security group "must allow inbound traffic on
/// port 443 from the resources in your VPC" that call the service through it
/// (<https://docs.aws.amazon.com/vpc/latest/privatelink/create-interface-endpoint.html>).
const HTTPS_PORT: i32 = 443;

/// Why the cut of `before` to `after` would cut off the run's own calls, when the group guards an
/// interface endpoint they go through (`groups`, by group ID:
/// [`vpc_endpoint::groups_carrying_the_runs_calls`]) and the cut revokes a rule that lets HTTPS in.
/// Pure, so it is tested without AWS or DNS. Which rule the calls pass by is not known (the run's own
/// address may be a laptop's behind a VPN, translated or not on the way), so every such rule counts,
/// even where a rule the cut keeps (the VPC's own ranges) may let them in too.
fn on_the_runs_endpoint(
    before: &GroupState,
    after: &GroupState,
    groups: &BTreeMap<String, String>,
) -> Option<String> {
    let how = groups.get(&before.group_id)?;
    let admitting: Vec<String> = revoked_rules(before, after)
        .iter()
        .filter(|rule| rule.admits_https())
        .map(Rule::summary)
        .collect();
    if admitting.is_empty() {
        return None;
    }
    Some(format!(
        "{how}; the cut revokes {} rule(s) that let those calls in ({}), so the run would cut itself off part-way, every later cut left undone and no restore possible from there. Cut it from a machine whose calls do not go through the endpoint (where the service's name does not resolve to it, and no AWS_ENDPOINT_URL_… names it)",
        admitting.len(),
        admitting.join("; ")
    ))
}

/// Whether the cut revokes a rule that lets HTTPS in: the cuts [`on_the_runs_endpoint`] may leave out,
/// before any read.
fn revokes_https_ingress(before: &GroupState, after: &GroupState) -> bool {
    revoked_rules(before, after).iter().any(Rule::admits_https)
}

/// For each of `cuts` (target, before, after) whose group guards an endpoint the run's calls go
/// through, why it is left out. Reads the region's endpoints only where a cut revokes a rule letting
/// HTTPS in and this machine says some call of the run may lead to an endpoint
/// ([`vpc_endpoint::own_route::may_go_through_an_endpoint`]). Where they cannot be read then, the
/// error comes with the IDs of the cuts revoking HTTPS: which group guards the endpoint is not known.
async fn cut_off_at_the_runs_endpoints<'c>(
    ctx: &RegionCtx,
    cuts: impl IntoIterator<Item = (&'c str, &'c GroupState, &'c GroupState)>,
) -> Result<Vec<(&'c str, String)>, (Vec<&'c str>, ServiceError)> {
    let candidates: Vec<_> = cuts
        .into_iter()
        .filter(|(_, before, after)| revokes_https_ingress(before, after))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    match vpc_endpoint::groups_carrying_the_runs_calls(ctx).await {
        Ok(groups) => Ok(candidates
            .into_iter()
            .filter_map(|(id, before, after)| {
                on_the_runs_endpoint(before, after, &groups).map(|why| (id, why))
            })
            .collect()),
        Err(err) => Err((candidates.into_iter().map(|(id, _, _)| id).collect(), err)),
    }
}

/// Why a cut revoking HTTPS is left out where the endpoints the run's calls may go through could not
/// be read.
fn endpoints_unread(err: &ServiceError) -> String {
    format!(
        "this run's calls may go through an interface endpoint in this region (as this machine's resolver or environment tells) and which security groups guard the endpoints could not be read ({err}; that needs ec2:DescribeVpcEndpoints): this group may be one of them, and the cut revokes a rule that lets HTTPS in. Cut it from outside the VPC, or once the endpoints can be read"
    )
}

fn rule_from_sdk(rule: &SecurityGroupRule) -> Rule {
    let mut tags: BTreeMap<String, String> = BTreeMap::new();
    for tag in rule.tags() {
        if let (Some(key), Some(value)) = (tag.key(), tag.value()) {
            tags.insert(key.to_string(), value.to_string());
        }
    }
    Rule {
        id: rule
            .security_group_rule_id()
            .unwrap_or_default()
            .to_string(),
        direction: if rule.is_egress().unwrap_or(false) {
            Direction::Egress
        } else {
            Direction::Ingress
        },
        protocol: rule.ip_protocol().unwrap_or("-1").to_string(),
        from_port: rule.from_port(),
        to_port: rule.to_port(),
        cidr_ipv4: rule.cidr_ipv4().map(str::to_string),
        cidr_ipv6: rule.cidr_ipv6().map(str::to_string),
        prefix_list_id: rule.prefix_list_id().map(str::to_string),
        referenced_group: rule.referenced_group_info().and_then(|group| {
            group.group_id().map(|id| ReferencedGroup {
                group_id: id.to_string(),
                user_id: group.user_id().map(str::to_string),
                vpc_id: group.vpc_id().map(str::to_string),
                vpc_peering_connection_id: group.vpc_peering_connection_id().map(str::to_string),
            })
        }),
        description: rule.description().map(str::to_string),
        tags,
    }
}

/// The IpPermission that re-creates exactly one rule.
fn permission_for(rule: &Rule) -> IpPermission {
    let mut permission = IpPermission::builder()
        .ip_protocol(&rule.protocol)
        .set_from_port(rule.from_port)
        .set_to_port(rule.to_port);
    let description = rule.description.clone();
    if let Some(cidr) = &rule.cidr_ipv4 {
        permission = permission.ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .set_description(description)
                .build(),
        );
    } else if let Some(cidr) = &rule.cidr_ipv6 {
        permission = permission.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(cidr)
                .set_description(description)
                .build(),
        );
    } else if let Some(pl) = &rule.prefix_list_id {
        permission = permission.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(pl)
                .set_description(description)
                .build(),
        );
    } else if let Some(group) = &rule.referenced_group {
        permission = permission.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(&group.group_id)
                .set_user_id(group.user_id.clone())
                .set_description(description)
                .build(),
        );
    }
    permission.build()
}

const NOT_FOUND: &[&str] = &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"];

/// Region-wide discovery: one paginated describe each for VPCs, groups and rules, whatever the count.
async fn describe_region(ctx: &RegionCtx) -> Result<Vec<GroupState>, ServiceError> {
    Ok(describe_region_with_owners(ctx)
        .await?
        .into_iter()
        .map(|(state, _)| state)
        .collect())
}

/// Revokes `rules` from the group by their rule IDs, exactly the reviewed rules: one call per direction,
/// ingress first.
async fn revoke(ctx: &RegionCtx, group_id: &str, rules: &[Rule]) -> Result<(), ServiceError> {
    for (direction, ids) in ids_by_direction(rules) {
        revoke_ids(ctx, group_id, direction, ids, false).await?;
    }
    Ok(())
}

/// The rules' IDs per direction, ingress first; a direction without any is left out.
fn ids_by_direction(rules: &[Rule]) -> Vec<(Direction, Vec<String>)> {
    [Direction::Ingress, Direction::Egress]
        .into_iter()
        .map(|direction| {
            let ids = rules
                .iter()
                .filter(|rule| rule.direction == direction)
                .map(|rule| rule.id.clone())
                .collect::<Vec<_>>();
            (direction, ids)
        })
        .filter(|(_, ids)| !ids.is_empty())
        .collect()
}

/// One revoke call, for the cut or, with `dry_run`, for `apply --check` (AWS then answers
/// `DryRunOperation` where it would be permitted).
async fn revoke_ids(
    ctx: &RegionCtx,
    group_id: &str,
    direction: Direction,
    ids: Vec<String>,
    dry_run: bool,
) -> Result<(), ServiceError> {
    match direction {
        Direction::Ingress => ctx
            .ec2()
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(ids))
            .set_dry_run(dry_run.then_some(true))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("ec2:RevokeSecurityGroupIngress", err)),
        Direction::Egress => ctx
            .ec2()
            .revoke_security_group_egress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(ids))
            .set_dry_run(dry_run.then_some(true))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("ec2:RevokeSecurityGroupEgress", err)),
    }
}

/// What the region-wide listing keeps of a security group: the SDK's shape also carries all its rules,
/// which the rules listing gives in the form a cut records.
struct ListedGroup {
    group_id: Option<String>,
    group_name: Option<String>,
    vpc_id: Option<String>,
    owner_id: Option<String>,
}

impl ListedGroup {
    fn from_sdk(group: SecurityGroup) -> ListedGroup {
        ListedGroup {
            group_id: group.group_id,
            group_name: group.group_name,
            vpc_id: group.vpc_id,
            owner_id: group.owner_id,
        }
    }
}

/// A rule as the region-wide listing keeps it, with whose it is (AWS may not say).
struct ListedRule {
    group_id: Option<String>,
    rule_id: Option<String>,
    rule: Rule,
}

impl ListedRule {
    fn from_sdk(rule: SecurityGroupRule) -> ListedRule {
        ListedRule {
            rule: rule_from_sdk(&rule),
            group_id: rule.group_id,
            rule_id: rule.security_group_rule_id,
        }
    }
}

/// As [`describe_region`], with the account that owns each group.
async fn describe_region_with_owners(
    ctx: &RegionCtx,
) -> Result<Vec<(GroupState, Option<String>)>, ServiceError> {
    // The region's rules do not depend on its groups, nor either on its VPCs (read for each group's own
    // blocks): the three lists are read at once, one round trip where the groups once waited for the
    // VPCs before apply's first cut (and in every plan). Each item is cut down to what is kept as its
    // page arrives (common::keep_each).
    let groups = vpc::with_region_blocks(
        ctx,
        async {
            let pages = ctx
                .ec2()
                .describe_security_groups()
                .into_paginator()
                .items()
                .send();
            keep_each(pages, ListedGroup::from_sdk)
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeSecurityGroups", err))
        },
        |group: &ListedGroup| group.vpc_id.as_deref(),
    );
    let rules = async {
        let pages = ctx
            .ec2()
            .describe_security_group_rules()
            .into_paginator()
            .items()
            .send();
        keep_each(pages, ListedRule::from_sdk)
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeSecurityGroupRules", err))
    };
    let (groups, rules) = futures_util::try_join!(groups, rules)?;

    let mut rules_by_group: HashMap<String, Vec<Rule>> = HashMap::new();
    for ListedRule {
        group_id,
        rule_id,
        rule,
    } in rules
    {
        match group_id {
            Some(group_id) => rules_by_group.entry(group_id).or_default().push(rule),
            // Revoking needs the group's ID: a rule that does not say whose it is cannot be cut.
            None => {
                unclassified::report(
                    ctx,
                    INFO.name,
                    &ctx.region,
                    &format!(
                        "security group rule {}",
                        rule_id.as_deref().unwrap_or("(no ID given)")
                    ),
                    format!(
                        "DescribeSecurityGroupRules returned it without its GroupId ({})",
                        rule.summary()
                    ),
                )
                .await
            }
        }
    }
    for (group, _) in groups.iter().filter(|(g, _)| g.group_id.is_none()) {
        unclassified::report(
            ctx,
            INFO.name,
            &ctx.region,
            &format!(
                "security group {} of VPC {}",
                group.group_name.as_deref().unwrap_or("(no name given)"),
                group.vpc_id.as_deref().unwrap_or("(none given)")
            ),
            "DescribeSecurityGroups returned it without its GroupId, so none of its rules can be revoked",
        )
        .await;
    }
    let mut states: Vec<(GroupState, Option<String>)> = groups
        .into_iter()
        .filter_map(|(group, vpc_cidrs)| {
            let group_id = group.group_id?;
            let mut rules = rules_by_group.remove(&group_id).unwrap_or_default();
            sort_rules(&mut rules);
            Some((
                GroupState {
                    vpc_cidrs,
                    group_id,
                    group_name: group.group_name.unwrap_or_default(),
                    vpc_id: group.vpc_id,
                    rules,
                    kept_lists: BTreeMap::new(),
                },
                group.owner_id,
            ))
        })
        .collect();
    states.sort_by(|a, b| a.0.group_id.cmp(&b.0.group_id));
    Ok(states)
}

/// The group's rules now, sorted; None when the group no longer exists.
async fn live_rules(ctx: &RegionCtx, group_id: &str) -> Result<Option<Vec<Rule>>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group_id).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSecurityGroupRules", err));
    Ok(vpc::unless_not_found(described, NOT_FOUND)?.map(|rules| {
        let mut rules: Vec<Rule> = rules.iter().map(rule_from_sdk).collect();
        sort_rules(&mut rules);
        rules
    }))
}

#[async_trait]
impl CutKind for SecurityGroupRevoke {
    type State = GroupState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own security group: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn vpcs(&self, state: &GroupState) -> Vec<String> {
        state.vpc_id.iter().cloned().collect()
    }

    fn check_states(&self, cut: &TypedCut<GroupState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.group_id != cut.target || after.group_id != cut.target {
            return Err(format!(
                "group_id must be the cut's target `{}`",
                cut.target
            ));
        }
        for rule in before.rules.iter().chain(&after.rules) {
            if rule.peer_count() != 1 {
                return Err(format!(
                    "rule `{}` must have exactly one of cidr_ipv4, cidr_ipv6, prefix_list_id, referenced_group",
                    rule.id
                ));
            }
        }
        if after.rules.iter().any(|rule| !before.rules.contains(rule)) {
            return Err(
                "`after` holds a rule that `before` does not: a cut only removes rules".into(),
            );
        }
        prefix_lists::check_kept_lists(
            &before.kept_lists,
            &after.kept_lists,
            after
                .rules
                .iter()
                .filter_map(|rule| rule.prefix_list_id.as_deref()),
            "rule",
        )
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<GroupState>>, ServiceError> {
        let states = describe_region_with_owners(ctx).await?;
        // The lists read are the caller's account's: only that account's groups count by them.
        let named: BTreeSet<String> = states
            .iter()
            .flat_map(|(state, _)| &state.rules)
            .filter_map(|rule| rule.prefix_list_id.clone())
            .collect();
        let lists = prefix_lists::read(ctx, named, &scope.caller.account).await;
        let no_lists = OwnedPrefixLists::default();
        let mut proposals: Vec<Proposal<GroupState>> = states
            .iter()
            .filter_map(|(state, owner)| {
                // A group's owner is normally in its description; the caller's account stands in.
                let owner = owner.as_deref().unwrap_or(&scope.caller.account);
                let lists = if owner == scope.caller.account {
                    &lists
                } else {
                    &no_lists
                };
                propose(state, &scope.keep_cidrs, Some(owner), lists)
            })
            .collect();
        // Planned from where the run's calls go through an interface endpoint, its group's cut is
        // proposed switched off, as the endpoint's own cuts are. Where the endpoints cannot be read,
        // the cuts stay proposed: apply judges again where it runs, and leaves them out if it cannot.
        let off: BTreeMap<String, String> = cut_off_at_the_runs_endpoints(
            ctx,
            proposals
                .iter()
                .map(|p| (p.target.as_str(), &p.before, &p.after)),
        )
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(target, why)| (target.to_string(), why))
        .collect();
        for proposal in &mut proposals {
            if let Some(why) = off.get(&proposal.target) {
                proposal.disabled_because = Some(why.clone());
            }
        }
        Ok(proposals)
    }

    /// Where apply runs from may not be where the plan was made: the cut of a group guarding an
    /// interface endpoint this run's calls go through is left out where it revokes a rule that lets
    /// them in ([`on_the_runs_endpoint`]).
    async fn cuts_off_live(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
        _caller: &CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        // A cut whose states do not decode never gets here: reading the plan refuses it.
        let typed: Vec<TypedCut<GroupState>> = cuts
            .iter()
            .filter_map(|cut| TypedCut::decode(cut).ok())
            .collect();
        let judged = cut_off_at_the_runs_endpoints(
            ctx,
            typed
                .iter()
                .map(|cut| (cut.id.as_str(), &cut.before, &cut.after)),
        )
        .await;
        Ok(match judged {
            Ok(out) => out
                .into_iter()
                .map(|(id, why)| (id.to_string(), why))
                .collect(),
            Err((ids, err)) => {
                let why = endpoints_unread(&err);
                ids.into_iter()
                    .map(|id| (id.to_string(), why.clone()))
                    .collect()
            }
        })
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GroupState>,
    ) -> Result<Option<GroupState>, ServiceError> {
        let described = ctx
            .ec2()
            .describe_security_groups()
            .group_ids(&cut.target)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeSecurityGroups", err));
        let Some(group) = vpc::unless_not_found(described, NOT_FOUND)?
            .and_then(|out| out.security_groups().first().cloned())
        else {
            return Ok(None);
        };
        let Some(rules) = live_rules(ctx, &cut.target).await? else {
            return Ok(None);
        };
        let vpc_cidrs = vpc::blocks_of(ctx, group.vpc_id()).await?;
        Ok(Some(GroupState {
            group_id: group.group_id().unwrap_or(&cut.before.group_id).to_string(),
            group_name: group.group_name().unwrap_or_default().to_string(),
            vpc_id: group.vpc_id().map(str::to_string),
            vpc_cidrs,
            rules,
            kept_lists: prefix_lists::kept_lists_now(ctx, &cut.before.kept_lists).await?,
        }))
    }

    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[TypedCut<GroupState>],
    ) -> Vec<Result<Option<GroupState>, ServiceError>> {
        // The same three region-wide describes as discovery, however many groups are checked, and one
        // describe of the lists kept rules name.
        let named: BTreeSet<String> = cuts
            .iter()
            .flat_map(|cut| cut.before.kept_lists.keys().cloned())
            .collect();
        // The lists' versions failing to read leaves unread only the cuts that keep a list.
        let versions = prefix_lists::current_versions(ctx, named).await;
        match describe_region(ctx).await {
            Ok(states) => {
                let by_id: HashMap<&str, &GroupState> =
                    states.iter().map(|s| (s.group_id.as_str(), s)).collect();
                cuts.iter()
                    .map(|cut| {
                        let kept_lists = if cut.before.kept_lists.is_empty() {
                            BTreeMap::new()
                        } else {
                            let versions = versions.as_ref().map_err(Clone::clone)?;
                            prefix_lists::kept_now(&cut.before.kept_lists, versions)
                        };
                        Ok(by_id.get(cut.target.as_str()).map(|&state| GroupState {
                            kept_lists,
                            ..state.clone()
                        }))
                    })
                    .collect()
            }
            Err(err) => cuts.iter().map(|_| Err(err.clone())).collect(),
        }
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GroupState>,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        revoke(ctx, &undo.group_id, &undo.revoked).await?;
        Ok(undo)
    }

    /// Re-authorized, a revoked rule comes back under a new rule ID: a rewind of a cut stopped between
    /// its ingress and egress revokes would open the inbound rules again, and the plan's IDs could not
    /// revoke them once more.
    fn finishes_in_place(&self) -> bool {
        true
    }

    /// The earlier run's part shows (a rule the plan revokes is gone) and every rule the plan revokes
    /// that is left is as the plan recorded it: the rest can be revoked by its IDs, and restore gives
    /// back exactly what the plan recorded. What changed beside it since (a rule added, a rule the plan
    /// keeps removed or edited, a kept prefix list edited, the VPC's blocks) is named and left as it is.
    /// A reviewed rule edited in place (ModifySecurityGroupRules keeps its ID) is not revoked: restore
    /// would give back the plan's version of it, not the one revoked.
    fn finishable(&self, cut: &TypedCut<GroupState>, live: &GroupState) -> Option<Vec<String>> {
        let before = &cut.before;
        if live.group_id != before.group_id
            || live.group_name != before.group_name
            || live.vpc_id != before.vpc_id
        {
            return None;
        }
        let revoked = revoked_rules(before, &cut.after);
        let live_by_id: BTreeMap<&str, &Rule> = live
            .rules
            .iter()
            .map(|rule| (rule.id.as_str(), rule))
            .collect();
        let begun = revoked
            .iter()
            .any(|rule| !live_by_id.contains_key(rule.id.as_str()));
        let reviewed_intact = revoked.iter().all(|rule| {
            live_by_id
                .get(rule.id.as_str())
                .is_none_or(|left| *left == rule)
        });
        if !begun || !reviewed_intact {
            return None;
        }
        let planned: BTreeMap<&str, &Rule> = before
            .rules
            .iter()
            .map(|rule| (rule.id.as_str(), rule))
            .collect();
        let copies = reauthorized_copies(&revoked, before, live);
        let mut unreviewed = Vec::new();
        for rule in &live.rules {
            match planned.get(rule.id.as_str()) {
                // Revoked again by the finish, as `watch --recut` would.
                None if copies.iter().any(|copy| copy.id == rule.id) => {}
                None => unreviewed.push(format!(
                    "rule {} ({}) was added to {}",
                    rule.id,
                    rule.summary(),
                    before.group_id
                )),
                Some(kept) if *kept != rule => unreviewed.push(format!(
                    "rule {}, kept by the plan as {}, is now {}",
                    rule.id,
                    kept.summary(),
                    rule.summary()
                )),
                Some(_) => {}
            }
        }
        for kept in &cut.after.rules {
            if !live_by_id.contains_key(kept.id.as_str()) {
                unreviewed.push(format!(
                    "rule {} ({}), kept by the plan, was removed",
                    kept.id,
                    kept.summary()
                ));
            }
        }
        if live.kept_lists != before.kept_lists {
            unreviewed.push(
                "a prefix list the plan keeps rules of was edited (its version differs)".into(),
            );
        }
        if live.vpc_cidrs != before.vpc_cidrs {
            unreviewed.push(format!(
                "the VPC's address blocks are now {} (the plan judged rules against {})",
                live.vpc_cidrs.join(", "),
                before.vpc_cidrs.join(", ")
            ));
        }
        Some(unreviewed)
    }

    /// The rules the plan revokes that the earlier run left (by their IDs, still the plan's), and any
    /// it revoked that came back since under a new ID (the cut reopened: revoked again, as `watch
    /// --recut` would); nothing else. The undo record is the whole cut's, so restore gives every revoked
    /// rule back, once.
    async fn finish(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GroupState>,
        live: &GroupState,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        let left: BTreeSet<&str> = live.rules.iter().map(|rule| rule.id.as_str()).collect();
        let mut rest: Vec<Rule> = undo
            .revoked
            .iter()
            .filter(|rule| left.contains(rule.id.as_str()))
            .cloned()
            .collect();
        rest.extend(
            reauthorized_copies(&undo.revoked, &cut.before, live)
                .into_iter()
                .cloned(),
        );
        revoke(ctx, &undo.group_id, &rest).await?;
        Ok(undo)
    }

    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<GroupState>,
    ) -> PermissionCheck {
        let undo = match self.undo_record_for(cut) {
            Ok(undo) => undo,
            Err(err) => return PermissionCheck::Failed(err),
        };
        for (direction, ids) in ids_by_direction(&undo.revoked) {
            let result = revoke_ids(ctx, &undo.group_id, direction, ids, true).await;
            match PermissionCheck::from_dry_run(result) {
                PermissionCheck::Allowed => {}
                other => return other,
            }
        }
        PermissionCheck::Allowed
    }

    /// Revoked rules re-authorized exactly as they were (protocol, ports, peer, description and tags)
    /// come back under new rule IDs, so the group is never again its recorded `before`: the rules the
    /// cut kept all still there, unchanged, and every other rule one the cut revoked, is the cut
    /// reopened (in whole or in part). The re-cut revokes exactly those, by their new IDs. A rule
    /// re-authorized with another description, or any rule the cut never saw, is a change no one
    /// reviewed.
    fn reopened(&self, cut: &TypedCut<GroupState>, live: &GroupState) -> Option<GroupState> {
        let (before, after) = (&cut.before, &cut.after);
        let same_group = live.group_id == after.group_id
            && live.group_name == after.group_name
            && live.vpc_id == after.vpc_id
            && live.vpc_cidrs == after.vpc_cidrs
            && live.kept_lists == after.kept_lists;
        if !same_group || !after.rules.iter().all(|kept| live.rules.contains(kept)) {
            return None;
        }
        let mut revoked: Vec<Rule> = revoked_rules(before, after);
        let mut back = 0;
        for rule in live.rules.iter().filter(|rule| !after.rules.contains(rule)) {
            let was = revoked
                .iter()
                .position(|revoked| revoked.is_same_except_id(rule))?;
            revoked.swap_remove(was);
            back += 1;
        }
        (back > 0).then(|| live.clone())
    }

    fn undo_record_for(&self, cut: &TypedCut<GroupState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            group_id: cut.before.group_id.clone(),
            revoked: revoked_rules(&cut.before, &cut.after),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let Some(live) = live_rules(ctx, &undo.group_id).await? else {
            return Err(ServiceError::local(
                "ec2:DescribeSecurityGroupRules",
                format!(
                    "security group {} no longer exists; these revoked rules cannot be re-added: {}",
                    undo.group_id,
                    undo.revoked
                        .iter()
                        .map(Rule::summary)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ));
        };
        let plan = plan_reauthorization(&undo.revoked, &live);
        let mut outcome = UndoOutcome { notes: plan.notes };
        // Every rule is tried. AWS takes or refuses a call's rules together, so one it refuses (a rule
        // whose referenced group was deleted since) would keep the batch's others out: a refused batch
        // is tried again one rule at a time, and the refusals are returned together once all were tried.
        let mut refused: Vec<ServiceError> = Vec::new();
        let mut back: Vec<String> = Vec::new();
        for ((direction, tags), rules) in plan.to_add {
            let tag_spec = (!tags.is_empty()).then(|| {
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroupRule)
                    .set_tags(Some(
                        tags.iter()
                            .map(|(k, v)| Tag::builder().key(k).value(v).build())
                            .collect(),
                    ))
                    .build()
            });
            let permissions: Vec<IpPermission> = rules.iter().map(|r| permission_for(r)).collect();
            let batch = authorize(ctx, &undo.group_id, direction, permissions, &tag_spec).await;
            match batch {
                Ok(()) => back.extend(rules.iter().map(|r| r.summary())),
                Err(_) if rules.len() > 1 => {
                    for rule in rules {
                        let one = vec![permission_for(rule)];
                        match authorize(ctx, &undo.group_id, direction, one, &tag_spec).await {
                            Ok(()) => back.push(rule.summary()),
                            Err(err) => refused.push(about_rule(rule, &undo.group_id, err)),
                        }
                    }
                }
                Err(err) => refused.extend(
                    rules
                        .first()
                        .map(|rule| about_rule(rule, &undo.group_id, err)),
                ),
            }
        }
        outcome
            .notes
            .extend(back.iter().map(|rule| format!("re-authorized {rule}")));
        outcome.unless_refused(refused, "the group's other rules were re-authorized", &back)
    }
}

/// One AuthorizeSecurityGroupIngress or Egress call for `permissions`, with their tags.
async fn authorize(
    ctx: &RegionCtx,
    group_id: &str,
    direction: Direction,
    permissions: Vec<IpPermission>,
    tag_spec: &Option<TagSpecification>,
) -> Result<(), ServiceError> {
    let tags = tag_spec.clone().map(|t| vec![t]);
    match direction {
        Direction::Ingress => ctx
            .ec2()
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .set_tag_specifications(tags)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("ec2:AuthorizeSecurityGroupIngress", err)),
        Direction::Egress => ctx
            .ec2()
            .authorize_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .set_tag_specifications(tags)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("ec2:AuthorizeSecurityGroupEgress", err)),
    }
}

/// A refusal, naming the rule and its group.
fn about_rule(rule: &Rule, group_id: &str, mut err: ServiceError) -> ServiceError {
    err.message = format!("rule {} of {group_id}: {}", rule.summary(), err.message);
    err
}

/// Which revoked rules to authorize again, batched by direction and tag set (tags are given per call),
/// and notes on the ones left alone because an equal rule exists again.
struct Reauthorization<'a> {
    to_add: BTreeMap<(Direction, BTreeMap<String, String>), Vec<&'a Rule>>,
    notes: Vec<String>,
}

fn plan_reauthorization<'a>(revoked: &'a [Rule], live: &[Rule]) -> Reauthorization<'a> {
    let mut to_add: BTreeMap<(Direction, BTreeMap<String, String>), Vec<&Rule>> = BTreeMap::new();
    let mut notes = Vec::new();
    for rule in revoked {
        match live.iter().find(|l| l.identity() == rule.identity()) {
            Some(existing)
                if existing.description == rule.description && existing.tags == rule.tags =>
            {
                notes.push(format!("already present: {}", rule.summary()));
            }
            Some(existing) => notes.push(format!(
                "conflict: {} exists again as {} with a different description or tags; left as it is",
                rule.summary(),
                existing.id
            )),
            None => to_add
                .entry((rule.direction, rule.tags.clone()))
                .or_default()
                .push(rule),
        }
    }
    Reauthorization { to_add, notes }
}

#[cfg(test)]
mod tests;
