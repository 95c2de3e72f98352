//! `route_remove`: delete, from every route table, the routes that lead out of the VPC: to an internet
//! gateway, an egress-only internet gateway, a NAT gateway, a virtual private gateway (VPN, Direct Connect),
//! a transit gateway, a peering connection or a Gateway Load Balancer endpoint, for destinations outside
//! the VPC's own blocks.
//!
//! A Gateway Load Balancer endpoint (and an AWS Network Firewall endpoint, which is one) hands traffic to
//! an inspection appliance that forwards it on: out through the firewall subnets' own routes when the
//! firewall is in this VPC (this kind cuts those too), or from the appliance's VPC, possibly in another
//! account, where no cut of this plan reaches. So a route sending traffic for an outside destination to
//! such an endpoint is a way out, and is deleted and re-created (CreateRoute `VpcEndpointId`, "Supported
//! for Gateway Load Balancer endpoints only":
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRoute.html>). Both kinds of endpoint
//! appear as a `vpce-` gateway in DescribeRouteTables; a gateway endpoint (S3, DynamoDB) is told apart by
//! its destination, always the service's prefix list
//! (<https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html>).
//!
//! A subnet whose table has no route out cannot reach anything beyond the VPC, whatever its security groups
//! and network ACLs say, and gateways stay in place for the kinds that detach them. Left alone, and named in
//! the reason: the local route; routes to gateway endpoints (the endpoint manages them; endpoint kinds
//! handle endpoints); routes propagated by a virtual private gateway (DeleteRoute cannot remove them);
//! routes to instances and network interfaces (an appliance may forward traffic out and must be contained
//! on its own); routes to destinations inside the responder's `--keep-cidr` ranges, written out or as a
//! prefix list of the account's own whose every entry lies there ([`prefix_lists`]); and, in a table the
//! responder comes in through (`--keep-subnet`, `--keep-vpc`: [`ways_in`]), routes to an internet gateway.
//!
//! Restore re-creates each deleted route with its recorded target, unless a route for the same destination
//! exists again: the same target is "already present", another target is a conflict, left as it is and
//! reported. A route a virtual private gateway propagates for that destination counts as neither: it was
//! there beside the deleted one all along ([`plan_recreation`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_ec2::types::RouteTable;
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::net::Cidr;
use crate::services::common::unclassified;
use crate::services::network::prefix_lists::{self, ListVerdict, OwnedPrefixLists};
use crate::services::network::{vpc, ways_in};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct RouteRemove;

static INFO: KindInfo = KindInfo {
    name: "route_remove",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Seal,
    global: false,
    footprint: Footprint::VpcSeal,
};

/// The route origin AWS gives routes that a virtual private gateway propagates.
const PROPAGATED: &str = "EnableVgwRoutePropagation";

/// What a route sends traffic to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Local,
    InternetGateway,
    EgressOnlyInternetGateway,
    NatGateway,
    VirtualPrivateGateway,
    TransitGateway,
    VpcPeeringConnection,
    /// A gateway endpoint (S3, DynamoDB): the endpoint manages its routes.
    GatewayEndpoint,
    /// A Gateway Load Balancer endpoint, such as an AWS Network Firewall endpoint.
    GatewayLoadBalancerEndpoint,
    Instance,
    NetworkInterface,
    LocalGateway,
    CarrierGateway,
    CoreNetwork,
    OdbNetwork,
    /// A `gateway_id` of a kind this hikkonuki does not know.
    OtherGateway,
    /// No target in the description.
    None,
}

impl TargetKind {
    /// The targets that lead out of the VPC and that DeleteRoute / CreateRoute handle.
    pub fn leads_out(self) -> bool {
        matches!(
            self,
            TargetKind::InternetGateway
                | TargetKind::EgressOnlyInternetGateway
                | TargetKind::NatGateway
                | TargetKind::VirtualPrivateGateway
                | TargetKind::TransitGateway
                | TargetKind::VpcPeeringConnection
                | TargetKind::GatewayLoadBalancerEndpoint
        )
    }

    fn words(self) -> &'static str {
        match self {
            TargetKind::Local => "local",
            TargetKind::InternetGateway => "internet gateway",
            TargetKind::EgressOnlyInternetGateway => "egress-only internet gateway",
            TargetKind::NatGateway => "NAT gateway",
            TargetKind::VirtualPrivateGateway => "virtual private gateway",
            TargetKind::TransitGateway => "transit gateway",
            TargetKind::VpcPeeringConnection => "peering connection",
            TargetKind::GatewayEndpoint => "gateway endpoint",
            TargetKind::GatewayLoadBalancerEndpoint => "Gateway Load Balancer endpoint",
            TargetKind::Instance => "instance",
            TargetKind::NetworkInterface => "network interface",
            TargetKind::LocalGateway => "local gateway",
            TargetKind::CarrierGateway => "carrier gateway",
            TargetKind::CoreNetwork => "core network",
            TargetKind::OdbNetwork => "ODB network",
            TargetKind::OtherGateway => "gateway",
            TargetKind::None => "no target",
        }
    }
}

/// One route as `before` and `after` record it: exactly one destination, and its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ipv6_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_prefix_list_id: Option<String>,
    pub target_kind: TargetKind,
    /// The target's ID (`local` for the local route; an ARN for a core network).
    pub target_id: String,
    /// `CreateRouteTable`, `CreateRoute` or `EnableVgwRoutePropagation`.
    pub origin: String,
    /// `active` or `blackhole`.
    pub state: String,
}

impl Route {
    fn destination_count(&self) -> usize {
        [
            self.destination_cidr_block.is_some(),
            self.destination_ipv6_cidr_block.is_some(),
            self.destination_prefix_list_id.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count()
    }

    /// The destination as written, e.g. `0.0.0.0/0`, `::/0` or `pl-63a5400a`.
    pub fn destination(&self) -> &str {
        self.destination_cidr_block
            .as_deref()
            .or(self.destination_ipv6_cidr_block.as_deref())
            .or(self.destination_prefix_list_id.as_deref())
            .unwrap_or("(no destination)")
    }

    /// The route in words, e.g. `0.0.0.0/0 → internet gateway igw-1`.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} → {} {}",
            self.destination(),
            self.target_kind.words(),
            self.target_id
        );
        if self.state != "active" {
            text.push_str(&format!(" ({})", self.state));
        }
        text
    }

    /// Two routes the table was given cannot share a destination; a propagated route can share one
    /// with either ([`plan_recreation`]).
    fn same_destination(&self, other: &Route) -> bool {
        self.destination_cidr_block == other.destination_cidr_block
            && self.destination_ipv6_cidr_block == other.destination_ipv6_cidr_block
            && self.destination_prefix_list_id == other.destination_prefix_list_id
    }

    fn same_target(&self, other: &Route) -> bool {
        self.target_kind == other.target_kind && self.target_id == other.target_id
    }

    /// IPv4, then IPv6, then prefix lists, each by destination.
    fn sort_key(&self) -> (u8, &str, TargetKind, &str) {
        let family = if self.destination_cidr_block.is_some() {
            0
        } else if self.destination_ipv6_cidr_block.is_some() {
            1
        } else {
            2
        };
        (
            family,
            self.destination(),
            self.target_kind,
            self.target_id.as_str(),
        )
    }
}

fn sort_routes(routes: &mut [Route]) {
    routes.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Where a table is used: the VPC's main table, a subnet, or an edge (gateway) association.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Association {
    pub main: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<String>,
}

/// A route table as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableState {
    pub route_table_id: String,
    pub vpc_id: String,
    /// The VPC's own IPv4 and IPv6 blocks: destinations inside them are internal and stay.
    pub vpc_cidrs: Vec<String>,
    /// Sorted: the main association first, then subnets, then gateways.
    pub associations: Vec<Association>,
    /// Every route of the table, sorted.
    pub routes: Vec<Route>,
    /// The prefix lists the cut keeps routes to for the responder (`--keep-cidr`), each with the version
    /// whose entries it judged (0: the list is gone), as `sg_revoke` records them: a list edited since is
    /// drift to apply and a change to `watch`. Absent where no route to a list was kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_lists: BTreeMap<String, i64>,
}

impl TableState {
    /// Where the table is used, for [`ways_in`].
    fn table_use(&self) -> ways_in::TableUse<'_> {
        ways_in::TableUse {
            table_id: &self.route_table_id,
            vpc_id: &self.vpc_id,
            main: self.associations.iter().any(|a| a.main),
            subnets: self
                .associations
                .iter()
                .filter_map(|a| a.subnet_id.as_deref())
                .collect(),
        }
    }
}

/// Whether the cut takes the table's way in from the internet: it deletes a route to an internet gateway
/// and keeps none in use (one kept for a `--keep-cidr` range still lets the responder in from there).
fn cuts_the_way_in(before: &TableState, after: &TableState) -> bool {
    let to_an_internet_gateway = |route: &Route| route.target_kind == TargetKind::InternetGateway;
    removed_routes(before, after)
        .iter()
        .any(to_an_internet_gateway)
        && !after
            .routes
            .iter()
            .any(|route| to_an_internet_gateway(route) && route.state == "active")
}

/// The kept subnets (`--keep-subnet`) that use this table though it is no way in ([`ways_in`]): it is
/// their VPC's main table (explicitly, or as theirs for want of a table of their own), or other subnets
/// share it. Their route to the internet gateway goes with the others', so the reason says so, with the
/// fix; "" when none.
fn kept_subnets_losing_their_route(
    state: &TableState,
    table: &ways_in::TableUse<'_>,
    ways_in: &ways_in::WaysIn,
    on_main_tables: &[(String, String)],
) -> String {
    if ways_in.keeps(table) {
        return String::new();
    }
    let mut kept: Vec<&str> = table
        .subnets
        .iter()
        .copied()
        .filter(|subnet| ways_in.names_subnet(subnet))
        .collect();
    if table.main {
        kept.extend(
            on_main_tables
                .iter()
                .filter(|(_, vpc)| *vpc == state.vpc_id)
                .map(|(subnet, _)| subnet.as_str()),
        );
    }
    kept.sort_unstable();
    kept.dedup();
    if kept.is_empty() {
        return String::new();
    }
    let shared = if table.main {
        "is its VPC's main table, shared by every subnet without a table of its own"
    } else {
        "subnets not kept share"
    };
    let vpc = &state.vpc_id;
    match kept.as_slice() {
        [subnet] => format!(
            " --keep-subnet {subnet} uses this table, which {shared}: its route to the internet gateway is deleted with theirs, so the responder cannot come in through it. Give it a route table of its own with that route (or pass --keep-vpc {vpc}), then plan again."
        ),
        _ => format!(
            " The kept subnets {} (--keep-subnet) use this table, which {shared}: their route to the internet gateway is deleted with the others', so the responder cannot come in through them. Give them a route table of their own with that route (or pass --keep-vpc {vpc}), then plan again.",
            kept.join(", ")
        ),
    }
}

/// What restore needs: the table and the routes that were deleted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub route_table_id: String,
    pub removed: Vec<Route>,
}

/// Why a route is removed or left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Remove,
    KeepLocal,
    KeepGatewayEndpoint,
    KeepPropagated,
    KeepInstanceOrInterface,
    KeepInsideVpc,
    KeepResponderRange,
    /// A blackhole: its target is gone or detached, so it carries nothing. Removing it could only widen
    /// what the table lets out after restore, which cannot re-create it (AWS refuses a route to a
    /// missing target), while a broader route it overrode comes back.
    KeepBlackhole,
    /// Targets that are not a way out this kind handles (local and carrier gateways, core networks…).
    KeepOtherTarget,
}

/// Decides one route. A destination CIDR that does not parse is treated as outside: when in doubt, cut.
/// A destination prefix list counts by its entries when the account owns it ([`prefix_lists`]), and is
/// outside otherwise (AWS services' ranges, or another account's list).
pub fn classify(
    route: &Route,
    vpc_cidrs: &[Cidr],
    keep_cidrs: &[Cidr],
    lists: &OwnedPrefixLists,
) -> Verdict {
    match route.target_kind {
        TargetKind::Local => return Verdict::KeepLocal,
        TargetKind::GatewayEndpoint => return Verdict::KeepGatewayEndpoint,
        _ => {}
    }
    if route.origin == PROPAGATED {
        return Verdict::KeepPropagated;
    }
    match route.target_kind {
        TargetKind::Instance | TargetKind::NetworkInterface => {
            return Verdict::KeepInstanceOrInterface;
        }
        kind if !kind.leads_out() => return Verdict::KeepOtherTarget,
        _ => {}
    }
    if route.state.eq_ignore_ascii_case("blackhole") {
        return Verdict::KeepBlackhole;
    }
    if let Some(list) = &route.destination_prefix_list_id {
        return match lists.verdict(list, vpc_cidrs, keep_cidrs) {
            ListVerdict::ResponderRange => Verdict::KeepResponderRange,
            ListVerdict::Outside => Verdict::Remove,
        };
    }
    let Some(cidr) = route
        .destination_cidr_block
        .as_ref()
        .or(route.destination_ipv6_cidr_block.as_ref())
    else {
        return Verdict::Remove; // no destination AWS describes: when in doubt, cut
    };
    match cidr.parse::<Cidr>() {
        Ok(block) if block.is_within_any(vpc_cidrs) => Verdict::KeepInsideVpc,
        Ok(block) if block.is_within_any(keep_cidrs) => Verdict::KeepResponderRange,
        _ => Verdict::Remove,
    }
}

fn parse_all(blocks: &[String]) -> Vec<Cidr> {
    blocks.iter().filter_map(|c| c.parse().ok()).collect()
}

/// For a table with no route this kind removes (so no proposal whose reason would say so): the routes
/// that may still lead out through a target it does not handle (an instance or interface forwarding
/// traffic, a local or carrier gateway, a core network), said as what to check. None when there are
/// none, or when the table has a proposal.
pub fn ways_out_left_unsaid(
    state: &TableState,
    keep_cidrs: &[Cidr],
    lists: &OwnedPrefixLists,
) -> Option<String> {
    let vpc_cidrs = parse_all(&state.vpc_cidrs);
    let verdicts: Vec<(Verdict, &Route)> = state
        .routes
        .iter()
        .map(|route| (classify(route, &vpc_cidrs, keep_cidrs, lists), route))
        .collect();
    if verdicts.iter().any(|(v, _)| *v == Verdict::Remove) {
        return None;
    }
    let unhandled: Vec<String> = verdicts
        .iter()
        .filter(|(v, route)| {
            matches!(
                v,
                Verdict::KeepInstanceOrInterface | Verdict::KeepOtherTarget
            )
            // A blackhole whose gateway can be attached again (a NAT gateway or peering deleted is gone
            // for good) is a way out waiting for one call.
            || (*v == Verdict::KeepBlackhole
                && matches!(
                    route.target_kind,
                    TargetKind::InternetGateway
                        | TargetKind::EgressOnlyInternetGateway
                        | TargetKind::VirtualPrivateGateway
                        | TargetKind::TransitGateway
                ))
        })
        // A target this hikkonuki does not know, or none, is reported as unclassified already.
        .filter(|(_, route)| {
            !matches!(
                route.target_kind,
                TargetKind::OtherGateway | TargetKind::None
            )
        })
        .map(|(_, route)| route.summary())
        .collect();
    (!unhandled.is_empty()).then(|| {
        format!(
            "route table {} (VPC {}) has no route this kind removes, but {} may lead out through a target it does not handle (an instance or interface forwarding traffic, a local or carrier gateway, a core network, or a blackhole's gateway attached again): check by hand, and contain it separately",
            state.route_table_id,
            state.vpc_id,
            unhandled.join(", ")
        )
    })
}

/// What the reason says of the routes kept to the responder's `--keep-cidr` ranges.
const KEPT_FOR_THE_RESPONDER: &str = "Kept for the responder (--keep-cidr): routes to its ranges";

/// A route a table of the responder's way in keeps: the internet gateway's (whatever `classify` says of
/// any other table's).
fn kept_as_way_in(route: &Route, way_in: bool) -> bool {
    way_in
        && route.target_kind == TargetKind::InternetGateway
        && route.origin != PROPAGATED
        && !route.state.eq_ignore_ascii_case("blackhole")
}

/// Builds the proposal for one table, or nothing when no route leads out. `way_in`: the table is the
/// responder's way in ([`ways_in`]), whose routes to an internet gateway stay.
pub fn propose(
    state: &TableState,
    keep_cidrs: &[Cidr],
    lists: &OwnedPrefixLists,
    way_in: bool,
) -> Option<Proposal<TableState>> {
    let vpc_cidrs = parse_all(&state.vpc_cidrs);
    let mut removed: Vec<&Route> = Vec::new();
    let mut remaining: Vec<Route> = Vec::new();
    let mut left: HashMap<&'static str, Vec<String>> = HashMap::new();
    let mut kept_lists = BTreeMap::new();
    for route in &state.routes {
        let verdict = classify(route, &vpc_cidrs, keep_cidrs, lists);
        if verdict == Verdict::KeepResponderRange
            && let Some(list) = &route.destination_prefix_list_id
            && let Some(version) = lists.version(list)
        {
            kept_lists.insert(list.clone(), version);
        }
        let note = match verdict {
            Verdict::Remove if kept_as_way_in(route, way_in) => Some(
                "routes to an internet gateway of a table only the responder's way in uses (--keep-subnet/--keep-vpc): its network ACL and security-group cuts still apply",
            ),
            Verdict::Remove => {
                removed.push(route);
                continue;
            }
            Verdict::KeepLocal | Verdict::KeepInsideVpc => None,
            Verdict::KeepGatewayEndpoint => Some(
                "routes to gateway endpoints (S3, DynamoDB), which the endpoint manages (vpce_policy_deny and vpce_delete handle those endpoints)",
            ),
            Verdict::KeepPropagated => Some(
                "routes propagated by a virtual private gateway, which DeleteRoute cannot remove (detach the gateway or disable propagation to close them)",
            ),
            Verdict::KeepInstanceOrInterface => Some(
                "routes to instances or network interfaces: an appliance there may forward traffic out, contain it separately",
            ),
            Verdict::KeepResponderRange => Some(KEPT_FOR_THE_RESPONDER),
            Verdict::KeepBlackhole => Some(
                "blackhole routes, whose gateway is gone or detached, so they carry nothing now (removed, they could not be put back, and a broader route would then carry what they dropped); attaching their gateway again, or a transit gateway attachment, makes them live: check them by hand",
            ),
            Verdict::KeepOtherTarget => Some(
                "routes to targets this kind does not handle (local or carrier gateways, core networks): check by hand whether they lead out",
            ),
        };
        if let Some(note) = note {
            left.entry(note).or_default().push(route.summary());
        }
        remaining.push(route.clone());
    }
    if removed.is_empty() {
        return None;
    }
    let used_by: Vec<String> = state
        .associations
        .iter()
        .map(|a| {
            if a.main {
                "main table of the VPC".to_string()
            } else if let Some(subnet) = &a.subnet_id {
                subnet.clone()
            } else {
                format!("gateway {}", a.gateway_id.as_deref().unwrap_or("?"))
            }
        })
        .collect();
    let mut reason = format!(
        "{} (VPC {}, {}) has {} route(s) leading out of the VPC: {}. Deleting them leaves its subnets {} whatever their security groups say; restore re-creates them with the same targets.",
        state.route_table_id,
        state.vpc_id,
        if used_by.is_empty() {
            "not associated with any subnet yet".to_string()
        } else {
            format!("used by {}", used_by.join(", "))
        },
        removed.len(),
        removed
            .iter()
            .map(|r| r.summary())
            .collect::<Vec<_>>()
            .join("; "),
        if remaining.iter().any(|r| kept_as_way_in(r, way_in)) {
            "no routed way out but the responder's way in through the internet gateway (DNS through the VPC's resolver aside, which no route carries: see the dns_way_out finding)"
        } else {
            "no routed way out (DNS through the VPC's resolver aside, which no route carries: see the dns_way_out finding)"
        },
    );
    let mut left: Vec<(&str, Vec<String>)> = left.into_iter().collect();
    left.sort();
    for (why, routes) in left {
        if why == KEPT_FOR_THE_RESPONDER {
            // Begun as every kind begins what it keeps for the responder, which the review lists apart.
            reason.push_str(&format!(" {why}: {}.", routes.join("; ")));
        } else {
            reason.push_str(&format!(" Left: {why}: {}.", routes.join("; ")));
        }
    }
    if removed
        .iter()
        .any(|r| r.target_kind == TargetKind::GatewayLoadBalancerEndpoint)
    {
        reason.push_str(
            " A Gateway Load Balancer endpoint (an AWS Network Firewall endpoint is one) hands traffic to an inspection appliance that forwards it on, possibly from its own VPC or account where no other cut reaches, so routes to it are ways out too.",
        );
    }
    if !keep_cidrs.is_empty() {
        reason.push_str(
            " A --keep-cidr range reached only through a deleted route loses that path too.",
        );
        reason.push_str(&prefix_lists::why_not_kept(
            removed
                .iter()
                .filter_map(|r| r.destination_prefix_list_id.as_deref()),
            lists,
        ));
    }
    let before = TableState {
        kept_lists,
        ..state.clone()
    };
    let after = TableState {
        routes: remaining,
        ..before.clone()
    };
    Some(Proposal {
        target: state.route_table_id.clone(),
        reason,
        before,
        after,
        disabled_because: None,
    })
}

/// The routes present in `before` and gone from `after`: exactly what the cut deletes.
fn removed_routes(before: &TableState, after: &TableState) -> Vec<Route> {
    before
        .routes
        .iter()
        .filter(|route| !after.routes.contains(route))
        .cloned()
        .collect()
}

/// Which deleted routes to create again, and notes on the ones left alone because a route for the same
/// destination exists again.
pub struct Recreation<'a> {
    pub to_create: Vec<&'a Route>,
    pub notes: Vec<String>,
}

///
/// A route a virtual private gateway propagates is neither the deleted route present again nor a
/// conflict: AWS lists it beside a route the table was given for the same destination, which takes
/// priority over it (<https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html>). The
/// cut deletes only the latter (DeleteRoute cannot remove a propagated route), so the propagated one is
/// still there at restore, and the deleted route is created again beside it.
pub fn plan_recreation<'a>(removed: &'a [Route], live: &[Route]) -> Recreation<'a> {
    let mut to_create = Vec::new();
    let mut notes = Vec::new();
    for route in removed {
        let present = live
            .iter()
            .find(|l| l.origin != PROPAGATED && l.same_destination(route));
        match present {
            None => to_create.push(route),
            Some(now) if now.same_target(route) => {
                notes.push(format!("already present: {}", route.summary()))
            }
            Some(now) => notes.push(format!(
                "conflict: {} was deleted by the cut, but the table now routes {} to {} {}; left as it is",
                route.summary(),
                now.destination(),
                now.target_kind.words(),
                now.target_id
            )),
        }
    }
    Recreation { to_create, notes }
}

fn route_from_sdk(route: &aws_sdk_ec2::types::Route) -> Route {
    let (target_kind, target_id) = if let Some(id) = route.nat_gateway_id() {
        (TargetKind::NatGateway, id)
    } else if let Some(id) = route.transit_gateway_id() {
        (TargetKind::TransitGateway, id)
    } else if let Some(id) = route.vpc_peering_connection_id() {
        (TargetKind::VpcPeeringConnection, id)
    } else if let Some(id) = route.egress_only_internet_gateway_id() {
        (TargetKind::EgressOnlyInternetGateway, id)
    } else if let Some(id) = route.instance_id() {
        // AWS also reports the instance's interface; the instance is what was targeted.
        (TargetKind::Instance, id)
    } else if let Some(id) = route.network_interface_id() {
        (TargetKind::NetworkInterface, id)
    } else if let Some(id) = route.local_gateway_id() {
        (TargetKind::LocalGateway, id)
    } else if let Some(id) = route.carrier_gateway_id() {
        (TargetKind::CarrierGateway, id)
    } else if let Some(id) = route.core_network_arn() {
        (TargetKind::CoreNetwork, id)
    } else if let Some(id) = route.odb_network_arn() {
        (TargetKind::OdbNetwork, id)
    } else if let Some(id) = route.gateway_id() {
        let kind = if id == "local" {
            TargetKind::Local
        } else if id.starts_with("igw-") {
            TargetKind::InternetGateway
        } else if id.starts_with("vgw-") {
            TargetKind::VirtualPrivateGateway
        } else if id.starts_with("vpce-") && route.destination_prefix_list_id().is_some() {
            TargetKind::GatewayEndpoint
        } else if id.starts_with("vpce-") {
            TargetKind::GatewayLoadBalancerEndpoint
        } else {
            TargetKind::OtherGateway
        };
        (kind, id)
    } else {
        (TargetKind::None, "")
    };
    Route {
        destination_cidr_block: route.destination_cidr_block().map(str::to_string),
        destination_ipv6_cidr_block: route.destination_ipv6_cidr_block().map(str::to_string),
        destination_prefix_list_id: route.destination_prefix_list_id().map(str::to_string),
        target_kind,
        target_id: target_id.to_string(),
        origin: route
            .origin()
            .map(|o| o.as_str().to_string())
            .unwrap_or_default(),
        state: route
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    }
}

fn state_from_sdk(table: &RouteTable, vpc_cidrs: Vec<String>) -> Option<TableState> {
    let mut associations: Vec<Association> = table
        .associations()
        .iter()
        .filter(|a| {
            // Associations on their way out no longer route anything.
            a.association_state()
                .and_then(|s| s.state())
                .map(|s| matches!(s.as_str(), "associated" | "associating"))
                .unwrap_or(true)
        })
        .map(|a| Association {
            main: a.main().unwrap_or(false),
            subnet_id: a.subnet_id().map(str::to_string),
            gateway_id: a.gateway_id().map(str::to_string),
        })
        .collect();
    // Main first (true sorts after false, so reverse that field), then subnets, then gateways.
    associations.sort_by(|a, b| {
        (!a.main, a.subnet_id.is_none(), &a.subnet_id, &a.gateway_id).cmp(&(
            !b.main,
            b.subnet_id.is_none(),
            &b.subnet_id,
            &b.gateway_id,
        ))
    });
    let mut routes: Vec<Route> = table.routes().iter().map(route_from_sdk).collect();
    sort_routes(&mut routes);
    Some(TableState {
        route_table_id: table.route_table_id()?.to_string(),
        vpc_id: table.vpc_id().unwrap_or_default().to_string(),
        vpc_cidrs,
        associations,
        routes,
        kept_lists: BTreeMap::new(),
    })
}

const NOT_FOUND: &[&str] = &["InvalidRouteTableID.NotFound"];

/// Region-wide discovery: one paginated describe each for VPCs and route tables, whatever the count.
async fn describe_region(ctx: &RegionCtx) -> Result<Vec<TableState>, ServiceError> {
    let tables = vpc::with_region_blocks(ctx, vpc::route_tables(ctx), RouteTable::vpc_id).await?;
    let mut states: Vec<TableState> = Vec::with_capacity(tables.len());
    for (table, blocks) in tables {
        match state_from_sdk(&table, blocks) {
            Some(state) => {
                report_unknown_targets(ctx, &state).await;
                states.push(state);
            }
            None => {
                unclassified::report(
                    ctx,
                    INFO.name,
                    &ctx.region,
                    &format!(
                        "a route table of VPC {} with {} route(s)",
                        table.vpc_id().unwrap_or("(none given)"),
                        table.routes().len()
                    ),
                    "DescribeRouteTables returned it without its RouteTableId, so none of its routes can be deleted",
                )
                .await
            }
        }
    }
    states.sort_by(|a, b| a.route_table_id.cmp(&b.route_table_id));
    Ok(states)
}

/// Routes whose target this hikkonuki cannot tell: none of the target fields it knows is set (a target
/// type newer than its SDK), or a gateway ID of no known kind. They are kept by the cut (DeleteRoute and
/// CreateRoute need the target's kind to restore it exactly), so each is said, whether or not the table
/// has other routes to cut.
async fn report_unknown_targets(ctx: &RegionCtx, state: &TableState) {
    let unknown: Vec<String> = state
        .routes
        .iter()
        .filter(|r| matches!(r.target_kind, TargetKind::None | TargetKind::OtherGateway))
        .map(|r| match r.target_kind {
            TargetKind::None => format!("{} (no target this hikkonuki knows)", r.destination()),
            _ => format!(
                "{} via {} (a gateway of unknown kind)",
                r.destination(),
                r.target_id
            ),
        })
        .collect();
    if !unknown.is_empty() {
        unclassified::report(
            ctx,
            INFO.name,
            &ctx.region,
            &state.route_table_id,
            format!(
                "route(s) {} lead to a target it cannot classify and are left in place; they may lead out of VPC {}",
                unknown.join("; "),
                state.vpc_id
            ),
        )
        .await;
    }
}

/// The table as it is now; None when it no longer exists.
async fn live_table(ctx: &RegionCtx, table_id: &str) -> Result<Option<RouteTable>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_route_tables()
        .route_table_ids(table_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeRouteTables", err));
    Ok(vpc::unless_not_found(described, NOT_FOUND)?
        .and_then(|out| out.route_tables().first().cloned()))
}

/// Names the route and the table in an AWS error, so the operator knows which route failed.
fn about(route: &Route, table: &str, mut err: ServiceError) -> ServiceError {
    err.message = format!("route {} in {table}: {}", route.summary(), err.message);
    err
}

/// DeleteRoute for one recorded route, or its dry run (`apply --check`; AWS answers a permitted dry run
/// with `DryRunOperation`, <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteRoute.html>).
/// An error names the route and the table.
async fn delete_route(
    ctx: &RegionCtx,
    table_id: &str,
    route: &Route,
    dry_run: bool,
) -> Result<(), ServiceError> {
    ctx.ec2()
        .delete_route()
        .route_table_id(table_id)
        .set_destination_cidr_block(route.destination_cidr_block.clone())
        .set_destination_ipv6_cidr_block(route.destination_ipv6_cidr_block.clone())
        .set_destination_prefix_list_id(route.destination_prefix_list_id.clone())
        .dry_run(dry_run)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            about(
                route,
                table_id,
                ServiceError::from_sdk("ec2:DeleteRoute", err),
            )
        })
}

#[async_trait]
impl CutKind for RouteRemove {
    type State = TableState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own route table: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    /// The responder's way in keeps its routes to an internet gateway ([`ways_in`]).
    fn plan_options(&self) -> &'static [crate::services::PlanOption] {
        &ways_in::OPTIONS
    }

    fn vpcs(&self, state: &TableState) -> Vec<String> {
        vec![state.vpc_id.clone()]
    }

    fn check_states(&self, cut: &TypedCut<TableState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.route_table_id != cut.target || after.route_table_id != cut.target {
            return Err(format!(
                "route_table_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.vpc_id != after.vpc_id
            || before.vpc_cidrs != after.vpc_cidrs
            || before.associations != after.associations
        {
            return Err(
                "`after` must have the same vpc_id, vpc_cidrs and associations as `before`".into(),
            );
        }
        for route in before.routes.iter().chain(&after.routes) {
            if route.destination_count() != 1 {
                return Err(format!(
                    "route to {} must have exactly one of destination_cidr_block, destination_ipv6_cidr_block, destination_prefix_list_id",
                    route.target_id
                ));
            }
        }
        if after
            .routes
            .iter()
            .any(|route| !before.routes.contains(route))
        {
            return Err(
                "`after` holds a route that `before` does not: a cut only deletes routes".into(),
            );
        }
        prefix_lists::check_kept_lists(
            &before.kept_lists,
            &after.kept_lists,
            after
                .routes
                .iter()
                .filter_map(|route| route.destination_prefix_list_id.as_deref()),
            "route",
        )?;
        let removed = removed_routes(before, after);
        if removed.is_empty() {
            return Err("`after` deletes no route: there would be nothing to apply".into());
        }
        // Only these can be deleted and re-created exactly; anything else was edited in.
        if let Some(route) = removed
            .iter()
            .find(|r| !r.target_kind.leads_out() || r.origin == PROPAGATED)
        {
            return Err(format!(
                "route {} cannot be deleted by this kind: only created routes to internet, egress-only, NAT, virtual private and transit gateways, peering connections and Gateway Load Balancer endpoints are",
                route.summary()
            ));
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<TableState>>, ServiceError> {
        let states = describe_region(ctx).await?;
        let named: BTreeSet<String> = states
            .iter()
            .flat_map(|state| &state.routes)
            .filter(|route| route.target_kind != TargetKind::GatewayEndpoint)
            .filter_map(|route| route.destination_prefix_list_id.clone())
            .collect();
        let lists = prefix_lists::read(ctx, named, &scope.caller.account).await;
        for state in &states {
            if let Some(what) = ways_out_left_unsaid(state, &scope.keep_cidrs, &lists) {
                crate::services::common::unclassified::report(
                    ctx,
                    INFO.name,
                    &ctx.region,
                    &state.route_table_id,
                    what,
                )
                .await;
            }
        }
        let ways_in = ways_in::WaysIn::of(scope);
        let uses: Vec<ways_in::TableUse> = states.iter().map(TableState::table_use).collect();
        let on_main_tables = if ways_in.is_empty() {
            Vec::new()
        } else {
            ways_in.on_main_tables(ctx, &uses).await?
        };
        Ok(states
            .iter()
            .zip(&uses)
            .filter_map(|(state, table)| {
                let mut proposal = propose(state, &scope.keep_cidrs, &lists, ways_in.keeps(table))?;
                if cuts_the_way_in(&proposal.before, &proposal.after) {
                    proposal.reason.push_str(&kept_subnets_losing_their_route(
                        state,
                        table,
                        &ways_in,
                        &on_main_tables,
                    ));
                }
                Some(proposal)
            })
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TableState>,
    ) -> Result<Option<TableState>, ServiceError> {
        let Some(table) = live_table(ctx, &cut.target).await? else {
            return Ok(None);
        };
        let vpc_cidrs = vpc::blocks_of(ctx, table.vpc_id()).await?;
        let Some(state) = state_from_sdk(&table, vpc_cidrs) else {
            return Ok(None);
        };
        Ok(Some(TableState {
            kept_lists: prefix_lists::kept_lists_now(ctx, &cut.before.kept_lists).await?,
            ..state
        }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TableState>,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        for route in &undo.removed {
            delete_route(ctx, &undo.route_table_id, route, false).await?;
        }
        Ok(undo)
    }

    /// Dry-runs the first DeleteRoute apply would send: permission is per route table, so one answers
    /// for all of the table's routes.
    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TableState>,
    ) -> PermissionCheck {
        let undo = match self.undo_record_for(cut) {
            Ok(undo) => undo,
            Err(err) => return PermissionCheck::Failed(err),
        };
        match undo.removed.first() {
            Some(route) => PermissionCheck::from_dry_run(
                delete_route(ctx, &undo.route_table_id, route, true).await,
            ),
            None => PermissionCheck::Allowed,
        }
    }

    fn undo_record_for(&self, cut: &TypedCut<TableState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            route_table_id: cut.before.route_table_id.clone(),
            removed: removed_routes(&cut.before, &cut.after),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let Some(table) = live_table(ctx, &undo.route_table_id).await? else {
            return Err(ServiceError::local(
                "ec2:DescribeRouteTables",
                format!(
                    "route table {} no longer exists; these deleted routes cannot be re-created: {}",
                    undo.route_table_id,
                    undo.removed
                        .iter()
                        .map(Route::summary)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ));
        };
        let live: Vec<Route> = table.routes().iter().map(route_from_sdk).collect();
        let plan = plan_recreation(&undo.removed, &live);
        let mut outcome = UndoOutcome { notes: plan.notes };
        // Every route is tried: one AWS refuses (its gateway not attached again, say) must not keep the
        // table's others from coming back. The refusals are returned together once all were tried.
        let mut refused: Vec<ServiceError> = Vec::new();
        let mut recreated: Vec<String> = Vec::new();
        for route in plan.to_create {
            let request = ctx
                .ec2()
                .create_route()
                .route_table_id(&undo.route_table_id)
                .set_destination_cidr_block(route.destination_cidr_block.clone())
                .set_destination_ipv6_cidr_block(route.destination_ipv6_cidr_block.clone())
                .set_destination_prefix_list_id(route.destination_prefix_list_id.clone());
            let id = route.target_id.clone();
            let request = match route.target_kind {
                TargetKind::EgressOnlyInternetGateway => {
                    request.egress_only_internet_gateway_id(id)
                }
                TargetKind::NatGateway => request.nat_gateway_id(id),
                TargetKind::TransitGateway => request.transit_gateway_id(id),
                TargetKind::VpcPeeringConnection => request.vpc_peering_connection_id(id),
                TargetKind::InternetGateway | TargetKind::VirtualPrivateGateway => {
                    request.gateway_id(id)
                }
                TargetKind::GatewayLoadBalancerEndpoint => request.vpc_endpoint_id(id),
                other => {
                    return Err(ServiceError::local(
                        "ec2:CreateRoute",
                        format!(
                            "route {} in {}: a route to a {} is never deleted by route_remove, so the undo record was altered; re-create it by hand if it is really missing",
                            route.summary(),
                            undo.route_table_id,
                            other.words()
                        ),
                    ));
                }
            };
            match request.send().await {
                Ok(_) => {
                    recreated.push(route.summary());
                    outcome
                        .notes
                        .push(format!("re-created {}", route.summary()));
                }
                // A route that was already a blackhole pointed at a gateway that is gone: nothing can be
                // put back, and the rest of the table must still be restored.
                Err(err) if route.state == "blackhole" => outcome.notes.push(format!(
                    "not re-created: {} was already a blackhole when cut, and AWS refused it: {}",
                    route.summary(),
                    ServiceError::from_sdk("ec2:CreateRoute", err)
                )),
                Err(err) => refused.push(about(
                    route,
                    &undo.route_table_id,
                    ServiceError::from_sdk("ec2:CreateRoute", err),
                )),
            }
        }
        outcome.unless_refused(
            refused,
            "the table's other routes were re-created",
            &recreated,
        )
    }
}

#[cfg(test)]
mod tests;
