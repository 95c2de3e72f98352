//! Where the machine's traffic for the internet goes when it leaves through another VPC: AWS's
//! centralized egress, where a VPC's default route points at a transit gateway and the transit gateway's
//! default route at an egress VPC holding the NAT and internet gateways, maybe through an inspection VPC
//! first
//! (<https://docs.aws.amazon.com/whitepapers/latest/building-scalable-secure-multi-vpc-network-infrastructure/centralized-egress-to-internet.html>).
//! The run's calls to AWS then go out through those VPCs too, and their seal (their ACLs, route tables,
//! internet gateway, their account's Block Public Access) would cut the run off midway.
//!
//! Read, as the account whose cuts are judged sees it:
//! 1. the route table of the machine's subnet (DescribeRouteTables, `association.subnet-id`), or, for a
//!    subnet with none of its own, its VPC's main table (`association.main`): "a subnet that is not
//!    explicitly associated with a route table uses the main route table"
//!    (<https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html>,
//!    <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRouteTables.html>);
//! 2. its default route (`0.0.0.0/0`; the SDK calls AWS over IPv4 unless dual-stack endpoints are
//!    asked for): to a transit gateway it leaves the VPC; to a NAT gateway, the NAT gateway's own
//!    subnet's default route is read in turn (a private NAT gateway sends on to a transit gateway); to a
//!    Cloud WAN core network, where it leads is not read (unknown); any other target (an internet
//!    gateway, an appliance's endpoint) stays in the VPC as far as this read goes. A peering connection
//!    carries no traffic to the internet: a peered VPC's internet or NAT gateway serves only its own VPC
//!    (<https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html>);
//! 3. the VPC's attachments to that transit gateway (DescribeTransitGatewayAttachments) and the route
//!    table each is associated with, whose default route (SearchTransitGatewayRoutes,
//!    `route-search.exact-match`) names the attachments it leaves by: a VPC attachment's VPC is a way
//!    out, and its own associated table is read in turn (an inspection VPC's traffic goes on to the
//!    egress VPC), as is a `network-function` attachment's (AWS Network Firewall attached to the
//!    gateway); a VPN or Direct Connect attachment leaves AWS's VPCs; a peering or Connect attachment
//!    is not followed (unknown)
//!    (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTransitGatewayAttachments.html>,
//!    <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SearchTransitGatewayRoutes.html>).
//!
//! Where the judged account cannot read the way (the spoke is another account's and this account sees
//! no attachment of it; or the transit gateway is another account's, shared with it, whose routes it
//! may not search), its own VPCs attached to that transit gateway (any, when the gateway is not known)
//! that have an internet gateway are taken as where the traffic may leave: an egress VPC needs one, and
//! leaving their seal out keeps the run alive, saying why. A read that fails otherwise leaves the way out
//! unknown, with why, which apply warns of and `watch --recut` takes as a reason not to re-seal in the
//! machine's region. Not read: a Gateway Load Balancer endpoint's appliance VPC, and a route more
//! specific than the default that some AWS addresses take. (A proxy the run's calls go through is a
//! machine of its own on the run's path: [`super::proxy`].)

use std::collections::HashSet;

use aws_sdk_ec2::types::{Filter, TransitGatewayAttachmentResourceType as AttachedKind};

use super::VpcOwner;
use crate::services::common::ec2::{attachment_carries_traffic, filter};

/// The route every address with no more specific route takes: the way to the internet.
const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// How many transit gateway route tables one read follows at most: a loop of routes ends there.
const MOST_TABLES: usize = 16;

/// Where the machine's traffic for the internet leaves AWS's network, as far as its VPC goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayOut {
    /// Through its own VPC's gateways (or no way at all), or through no VPC of the judged account's: the
    /// VPC's own cuts are its path.
    OwnVpc,
    /// Through a transit gateway to these VPCs (same region), each with its owner as the judged account
    /// sees it; none when the gateway's default route leaves by no VPC (a VPN, Direct Connect) or there
    /// is none.
    TransitGateway {
        /// The transit gateways it goes through (more than one only where the VPC is attached to
        /// several and its route was not read).
        ids: Vec<String>,
        egress_vpcs: Vec<(String, VpcOwner)>,
        /// Why the gateway's routes were not read, when `egress_vpcs` are the judged account's VPCs
        /// attached to it with an internet gateway, taken as where the traffic may leave; `None` when
        /// its routes named them.
        unread: Option<String>,
    },
    /// Could not be read, with why.
    Unknown(String),
}

/// The VPCs a read found, before their owners are read.
#[derive(Debug, PartialEq)]
struct Found {
    gateways: Vec<String>,
    vpcs: Vec<String>,
    unread: Option<String>,
}

/// Reads where `subnet` (of `vpc`) sends its traffic for the internet, with `ec2` (that of `account`,
/// the judged account, in the machine's region). See the module's documentation for the steps.
pub async fn read(ec2: &aws_sdk_ec2::Client, account: &str, vpc: &str, subnet: &str) -> WayOut {
    match read_transit(ec2, account, vpc, subnet).await {
        Ok(None) => WayOut::OwnVpc,
        Ok(Some(found)) => {
            let owners = futures_util::future::join_all(
                found
                    .vpcs
                    .iter()
                    .map(|egress| super::vpc_owner(ec2, egress)),
            )
            .await;
            WayOut::TransitGateway {
                ids: found.gateways,
                egress_vpcs: found.vpcs.into_iter().zip(owners).collect(),
                unread: found.unread,
            }
        }
        Err(why) => WayOut::Unknown(why),
    }
}

/// The transit gateway `subnet`'s traffic for the internet leads to and the VPCs it leaves by; `None`
/// when it stays in `vpc` or leaves by no VPC of this account's.
async fn read_transit(
    ec2: &aws_sdk_ec2::Client,
    account: &str,
    vpc: &str,
    subnet: &str,
) -> Result<Option<Found>, String> {
    let Some(table) = table_of(ec2, vpc, subnet).await? else {
        // Another account's VPC: the attachments of it this account sees (the gateway's owner sees
        // them all), its route not read.
        let attached =
            routing(attachments(ec2, vec![filter("resource-id", vpc), vpc_kind()]).await?);
        if attached.is_empty() {
            // A gateway of this account's own would show the VPC's attachment: only a gateway
            // another account shares with it can carry the VPC's traffic into this account's VPCs.
            let why =
                format!("{vpc} is another account's VPC, whose routes this account cannot read");
            return may_leave_by(
                ec2,
                vpc,
                Candidates::OnSharedGateways(account),
                why,
                Vec::new(),
            )
            .await;
        }
        return follow_or_may_leave_by(ec2, vpc, &attached).await;
    };
    let tgw = match default_target(&table)? {
        Target::Stays => return Ok(None),
        Target::TransitGateway(tgw) => tgw,
        Target::NatGateway(nat) => match nat_gateway_route(ec2, &nat).await? {
            Some(tgw) => tgw,
            None => return Ok(None),
        },
    };
    let attached = routing(
        attachments(
            ec2,
            vec![
                filter("resource-id", vpc),
                vpc_kind(),
                filter("transit-gateway-id", &tgw),
            ],
        )
        .await?,
    );
    if attached.is_empty() {
        // A gateway another account shares: the VPC's attachment, or the table it is associated
        // with, is not this account's to read.
        let why = format!(
            "this account sees no attachment of {vpc} to {tgw} associated with a route table"
        );
        return may_leave_by(ec2, vpc, Candidates::On(vec![tgw]), why, Vec::new()).await;
    }
    follow_or_may_leave_by(ec2, vpc, &attached).await
}

/// The attachments that route: associated with a route table.
fn routing(attached: Vec<Attachment>) -> Vec<Attachment> {
    attached.into_iter().filter(|a| a.table.is_some()).collect()
}

/// Follows `from`'s attachments; where a read on the way fails, what was found so far and this
/// account's VPCs with an internet gateway on the same gateways are where the traffic may leave.
async fn follow_or_may_leave_by(
    ec2: &aws_sdk_ec2::Client,
    from: &str,
    attached: &[Attachment],
) -> Result<Option<Found>, String> {
    match follow(ec2, from, attached).await {
        Ok(found) => Ok(Some(found)),
        Err(Unfollowed::NotFollowed(why)) => Err(why),
        Err(Unfollowed::Unread { why, found }) => {
            let gateways = attached.iter().map(|a| a.transit_gateway.clone()).collect();
            may_leave_by(ec2, from, Candidates::On(gateways), why, found).await
        }
    }
}

/// Where a route table's default route goes, as far as this read follows it.
#[derive(Debug, PartialEq)]
enum Target {
    Stays,
    TransitGateway(String),
    NatGateway(String),
}

/// The target of a route table's default route (a blackhole route carries nothing).
fn default_target(table: &aws_sdk_ec2::types::RouteTable) -> Result<Target, String> {
    let Some(route) = table.routes().iter().find(|route| {
        route.destination_cidr_block() == Some(DEFAULT_ROUTE)
            && route.state() != Some(&aws_sdk_ec2::types::RouteState::Blackhole)
    }) else {
        return Ok(Target::Stays);
    };
    if let Some(tgw) = route.transit_gateway_id() {
        Ok(Target::TransitGateway(tgw.to_string()))
    } else if let Some(nat) = route.nat_gateway_id() {
        Ok(Target::NatGateway(nat.to_string()))
    } else if let Some(network) = route.core_network_arn() {
        Err(format!(
            "its route to the internet leads to Cloud WAN core network {network}, which hikkonuki does not follow"
        ))
    } else {
        Ok(Target::Stays)
    }
}

/// The transit gateway a NAT gateway's own subnet sends the internet's traffic to, if it does (a
/// private NAT gateway in front of a transit gateway); a public one's goes to its VPC's internet
/// gateway.
async fn nat_gateway_route(ec2: &aws_sdk_ec2::Client, nat: &str) -> Result<Option<String>, String> {
    let answer = ec2
        .describe_nat_gateways()
        .nat_gateway_ids(nat)
        .send()
        .await
        .map_err(|err| failed("ec2:DescribeNatGateways", err))?;
    let gateway = answer.nat_gateways().first();
    let (Some(vpc), Some(subnet)) = (
        gateway.and_then(|g| g.vpc_id()),
        gateway.and_then(|g| g.subnet_id()),
    ) else {
        return Err(format!(
            "its route to the internet leads to NAT gateway {nat}, whose subnet EC2 does not name"
        ));
    };
    let Some(table) = table_of(ec2, vpc, subnet).await? else {
        return Err(format!(
            "its route to the internet leads to NAT gateway {nat}, whose subnet's route table this account does not see"
        ));
    };
    match default_target(&table)? {
        Target::TransitGateway(tgw) => Ok(Some(tgw)),
        Target::Stays => Ok(None),
        Target::NatGateway(next) => Err(format!(
            "its route to the internet leads to NAT gateway {nat}, whose subnet sends it on to NAT gateway {next}, which hikkonuki does not follow"
        )),
    }
}

fn vpc_kind() -> Filter {
    filter("resource-type", "vpc")
}

fn failed<E, R>(operation: &str, err: aws_sdk_ec2::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::service_error::ServiceError::from_sdk(operation, err).to_string()
}

/// The route table `subnet` uses: its own, or its VPC's main one; `None` when this account sees
/// neither (the VPC is another account's).
async fn table_of(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnet: &str,
) -> Result<Option<aws_sdk_ec2::types::RouteTable>, String> {
    let own = ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", subnet))
        .send()
        .await
        .map_err(|err| failed("ec2:DescribeRouteTables", err))?;
    if let Some(table) = own.route_tables().first() {
        return Ok(Some(table.clone()));
    }
    let mains = ec2
        .describe_route_tables()
        .filters(filter("vpc-id", vpc))
        .filters(filter("association.main", "true"))
        .send()
        .await
        .map_err(|err| failed("ec2:DescribeRouteTables", err))?;
    Ok(mains.route_tables().first().cloned())
}

/// A transit gateway attachment this account sees.
#[derive(Debug, Clone, PartialEq)]
struct Attachment {
    id: String,
    transit_gateway: String,
    /// The VPC (or other resource) attached.
    resource: String,
    /// The account that owns the transit gateway.
    gateway_owner: Option<String>,
    /// The route table it is associated with: `None` routes nothing.
    table: Option<String>,
}

/// The attachments matching `filters` that carry traffic ([`attachment_carries_traffic`]).
async fn attachments(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
) -> Result<Vec<Attachment>, String> {
    attachments_asked(ec2, filters, Vec::new()).await
}

async fn attachments_asked(
    ec2: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
    ids: Vec<String>,
) -> Result<Vec<Attachment>, String> {
    let mut found = Vec::new();
    let mut pages = ec2
        .describe_transit_gateway_attachments()
        .set_filters(Some(filters))
        .set_transit_gateway_attachment_ids((!ids.is_empty()).then_some(ids))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| failed("ec2:DescribeTransitGatewayAttachments", err))?;
        for attachment in page.transit_gateway_attachments() {
            if !attachment_carries_traffic(attachment.state()) {
                continue;
            }
            let table = attachment
                .association()
                .filter(|association| {
                    association.state()
                        != Some(&aws_sdk_ec2::types::TransitGatewayAssociationState::Disassociated)
                })
                .and_then(|association| association.transit_gateway_route_table_id())
                .map(str::to_string);
            if let (Some(id), Some(tgw)) = (
                attachment.transit_gateway_attachment_id(),
                attachment.transit_gateway_id(),
            ) {
                found.push(Attachment {
                    id: id.to_string(),
                    transit_gateway: tgw.to_string(),
                    resource: attachment.resource_id().unwrap_or_default().to_string(),
                    gateway_owner: attachment.transit_gateway_owner_id().map(str::to_string),
                    table,
                });
            }
        }
    }
    Ok(found)
}

/// Why a way through a transit gateway was not followed to its end.
enum Unfollowed {
    /// Its routes (or the attachments they name) could not be read here: another account's gateway,
    /// a refused or failed read; with the VPCs found before.
    Unread { why: String, found: Vec<String> },
    /// It goes on by a way this read does not follow (a peering, a Connect attachment).
    NotFollowed(String),
}

/// Follows the default routes of the route tables `from`'s attachments are associated with, hop by
/// hop: the VPCs they leave by (but `from`), and each VPC or network function attachment's own table
/// in turn.
async fn follow(
    ec2: &aws_sdk_ec2::Client,
    from: &str,
    attached: &[Attachment],
) -> Result<Found, Unfollowed> {
    let mut gateways: Vec<String> = attached.iter().map(|a| a.transit_gateway.clone()).collect();
    gateways.sort();
    gateways.dedup();
    let mut tables: Vec<String> = attached.iter().filter_map(|a| a.table.clone()).collect();
    let mut read: HashSet<String> = HashSet::new();
    let mut vpcs: Vec<String> = Vec::new();
    while let Some(table) = tables.pop() {
        if !read.insert(table.clone()) {
            continue;
        }
        if read.len() > MOST_TABLES {
            return Err(Unfollowed::NotFollowed(format!(
                "its way to the internet goes through more than {MOST_TABLES} transit gateway route tables, which hikkonuki does not follow"
            )));
        }
        let answer = ec2
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(&table)
            .filters(filter("route-search.exact-match", DEFAULT_ROUTE))
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                return Err(Unfollowed::Unread {
                    why: failed("ec2:SearchTransitGatewayRoutes", err),
                    found: vpcs,
                });
            }
        };
        let hop = next_hop(answer.routes(), from, &table).map_err(Unfollowed::NotFollowed)?;
        vpcs.extend(hop.vpcs);
        if !hop.onward.is_empty() {
            match attachments_asked(ec2, Vec::new(), hop.onward).await {
                Ok(onward) => tables.extend(onward.into_iter().filter_map(|a| a.table)),
                Err(why) => return Err(Unfollowed::Unread { why, found: vpcs }),
            }
        }
    }
    vpcs.sort();
    vpcs.dedup();
    Ok(Found {
        gateways,
        vpcs,
        unread: None,
    })
}

/// What one transit gateway route table's default routes lead to.
#[derive(Debug, Default, PartialEq)]
struct Hop {
    /// The VPCs the traffic leaves by (but the one it came from).
    vpcs: Vec<String>,
    /// The attachments whose own route tables the traffic goes on by: VPCs' and network functions'.
    onward: Vec<String>,
}

/// The next hop of active default routes in `table`: the VPCs they leave by but `from`, and the
/// attachments to follow on; an attachment this read does not follow (a peering, a Connect one) makes
/// the way out unknown.
fn next_hop(
    routes: &[aws_sdk_ec2::types::TransitGatewayRoute],
    from: &str,
    table: &str,
) -> Result<Hop, String> {
    let mut hop = Hop::default();
    let leaving = routes
        .iter()
        .filter(|route| route.destination_cidr_block() == Some(DEFAULT_ROUTE))
        .filter(|route| {
            route.state() != Some(&aws_sdk_ec2::types::TransitGatewayRouteState::Blackhole)
        })
        .flat_map(|route| route.transit_gateway_attachments());
    for attachment in leaving {
        let id = attachment
            .transit_gateway_attachment_id()
            .unwrap_or_default();
        let resource = attachment.resource_id().unwrap_or_default();
        match attachment.resource_type() {
            Some(AttachedKind::Vpc) if resource == from => {}
            Some(AttachedKind::Vpc) => {
                hop.vpcs.push(resource.to_string());
                hop.onward.push(id.to_string());
            }
            Some(AttachedKind::NetworkFunction) => hop.onward.push(id.to_string()),
            // Out of AWS's VPCs, to a network of the customer's.
            Some(
                AttachedKind::Vpn
                | AttachedKind::DirectConnectGateway
                | AttachedKind::VpnConcentrator,
            ) => {}
            other => {
                return Err(format!(
                    "transit gateway route table {table} sends the internet's traffic on by {} attachment {id}, which hikkonuki does not follow",
                    other.map(|kind| kind.as_str()).unwrap_or("an unnamed")
                ));
            }
        }
    }
    Ok(hop)
}

/// Which of this account's transit gateway attachments may carry a way that could not be read.
enum Candidates<'a> {
    /// Those to these gateways.
    On(Vec<String>),
    /// Those to gateways another account than this one (`.0`) owns and shares with it.
    OnSharedGateways(&'a str),
}

/// How many VPC IDs one DescribeInternetGateways filter is given at once.
const VPCS_PER_FILTER: usize = 200;

/// Where the way cannot be read: `found` (the VPCs a read got to before it failed), and this account's
/// VPCs attached to the `candidates` gateways that have an internet gateway (an egress VPC needs one),
/// but `from`, are taken as where the traffic may leave, saying `why`; with none, nothing of this
/// account's carries it.
async fn may_leave_by(
    ec2: &aws_sdk_ec2::Client,
    from: &str,
    candidates: Candidates<'_>,
    why: String,
    found: Vec<String>,
) -> Result<Option<Found>, String> {
    let mut filters = vec![vpc_kind()];
    if let Candidates::On(gateways) = &candidates {
        filters.push(
            Filter::builder()
                .name("transit-gateway-id")
                .set_values(Some(gateways.clone()))
                .build(),
        );
    }
    let attached: Vec<Attachment> = attachments(ec2, filters)
        .await?
        .into_iter()
        .filter(|a| a.resource != from)
        .filter(|a| match &candidates {
            Candidates::On(_) => true,
            Candidates::OnSharedGateways(account) => a.gateway_owner.as_deref() != Some(account),
        })
        .collect();
    let mut vpcs: Vec<String> = attached.iter().map(|a| a.resource.clone()).collect();
    vpcs.sort();
    vpcs.dedup();
    let mut with_gateway: HashSet<String> = HashSet::new();
    for some in vpcs.chunks(VPCS_PER_FILTER) {
        let gateways = ec2
            .describe_internet_gateways()
            .filters(
                Filter::builder()
                    .name("attachment.vpc-id")
                    .set_values(Some(some.to_vec()))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| failed("ec2:DescribeInternetGateways", err))?;
        with_gateway.extend(
            gateways
                .internet_gateways()
                .iter()
                .flat_map(|gateway| gateway.attachments())
                .filter_map(|attachment| attachment.vpc_id())
                .map(str::to_string),
        );
    }
    vpcs.retain(|vpc| with_gateway.contains(vpc));
    let mut gateways: Vec<String> = attached
        .iter()
        .filter(|a| vpcs.contains(&a.resource))
        .map(|a| a.transit_gateway.clone())
        .collect();
    vpcs.extend(found);
    vpcs.sort();
    vpcs.dedup();
    if vpcs.is_empty() {
        return Ok(None);
    }
    if let Candidates::On(on) = candidates {
        gateways.extend(on);
    }
    gateways.sort();
    gateways.dedup();
    Ok(Some(Found {
        gateways,
        vpcs,
        unread: Some(why),
    }))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
    use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::operation::describe_transit_gateway_attachments::DescribeTransitGatewayAttachmentsOutput;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
    use aws_sdk_ec2::operation::search_transit_gateway_routes::{
        SearchTransitGatewayRoutesError, SearchTransitGatewayRoutesOutput,
    };
    use aws_sdk_ec2::types::{
        InternetGateway, InternetGatewayAttachment, NatGateway, Route, RouteTable,
        TransitGatewayAttachment, TransitGatewayAttachmentAssociation,
        TransitGatewayAttachmentState, TransitGatewayRoute, TransitGatewayRouteAttachment,
        TransitGatewayRouteState, Vpc,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    const SPOKE: &str = "vpc-0spoke";
    const SUBNET: &str = "subnet-0spoke";
    const EGRESS: &str = "vpc-0egress";
    const INSPECTION: &str = "vpc-0inspection";

    fn has_filter(filters: &[Filter], name: &str, value: &str) -> bool {
        filters
            .iter()
            .any(|f| f.name() == Some(name) && f.values().iter().any(|v| v == value))
    }

    fn table(route: Route) -> RouteTable {
        RouteTable::builder().routes(route).build()
    }

    /// The subnet's own route table answers `route` (none: the subnet has no table of its own).
    fn subnet_table(subnet: &'static str, route: Option<fn() -> Route>) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_route_tables)
            .match_requests(move |req| has_filter(req.filters(), "association.subnet-id", subnet))
            .then_output(move || {
                let answer = DescribeRouteTablesOutput::builder();
                match route {
                    Some(route) => answer.route_tables(table(route())).build(),
                    None => answer.build(),
                }
            })
    }

    /// The spoke's main table answers `route` (none: this account sees no table of the VPC).
    fn main_table(route: Option<fn() -> Route>) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_route_tables)
            .match_requests(|req| {
                has_filter(req.filters(), "vpc-id", SPOKE)
                    && has_filter(req.filters(), "association.main", "true")
            })
            .then_output(move || {
                let answer = DescribeRouteTablesOutput::builder();
                match route {
                    Some(route) => answer.route_tables(table(route())).build(),
                    None => answer.build(),
                }
            })
    }

    fn default_to(
        target: fn(
            aws_sdk_ec2::types::builders::RouteBuilder,
        ) -> aws_sdk_ec2::types::builders::RouteBuilder,
    ) -> Route {
        target(Route::builder().destination_cidr_block("0.0.0.0/0")).build()
    }

    fn to_hub() -> Route {
        default_to(|r| r.transit_gateway_id("tgw-0hub"))
    }

    /// Each transit gateway route table's default route: the attachments it leaves by (id, kind,
    /// resource).
    type Tables = &'static [(
        &'static str,
        &'static [(&'static str, AttachedKind, &'static str)],
    )];

    /// An attachment (id, gateway, VPC, associated route table).
    type Attached = (&'static str, &'static str, &'static str, &'static str);

    const SPOKE_ON_HUB: Attached = ("tgw-attach-0spoke", "tgw-0hub", SPOKE, "tgw-rtb-0spokes");
    const SPOKE_ON_OTHER: Attached = ("tgw-attach-0other", "tgw-0other", SPOKE, "tgw-rtb-0other");
    const EGRESS_ON_HUB: Attached = ("tgw-attach-0egress", "tgw-0hub", EGRESS, "tgw-rtb-0egress");
    const INSPECTION_ON_HUB: Attached = (
        "tgw-attach-0inspection",
        "tgw-0hub",
        INSPECTION,
        "tgw-rtb-0inspection",
    );

    fn attachment((id, tgw, vpc, table): Attached) -> TransitGatewayAttachment {
        let associated = TransitGatewayAttachmentAssociation::builder()
            .transit_gateway_route_table_id(table)
            .state(aws_sdk_ec2::types::TransitGatewayAssociationState::Associated)
            .build();
        TransitGatewayAttachment::builder()
            .transit_gateway_attachment_id(id)
            .transit_gateway_id(tgw)
            .transit_gateway_owner_id(if tgw == "tgw-0hub" { NETWORK } else { JUDGED })
            .resource_id(vpc)
            .resource_type(AttachedKind::Vpc)
            .state(TransitGatewayAttachmentState::Available)
            // An empty table: associated with none (what a spoke sees of a shared gateway's).
            .set_association((!table.is_empty()).then_some(associated))
            .build()
    }

    /// DescribeTransitGatewayAttachments as this account sees `visible`, filters and IDs applied.
    fn attachments_seen(visible: &'static [Attached]) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_transit_gateway_attachments).then_compute_output(
            move |req| {
                let wanted = |(id, tgw, vpc, _): &Attached| {
                    let f = req.filters();
                    (req.transit_gateway_attachment_ids().is_empty()
                        || req.transit_gateway_attachment_ids().iter().any(|i| i == id))
                        && f.iter().all(|filter| match filter.name() {
                            Some("resource-id") => has_filter(f, "resource-id", vpc),
                            Some("transit-gateway-id") => has_filter(f, "transit-gateway-id", tgw),
                            // Every attachment here is a VPC's.
                            Some("resource-type") => has_filter(f, "resource-type", "vpc"),
                            _ => false,
                        })
                };
                let mut answer = DescribeTransitGatewayAttachmentsOutput::builder();
                for seen in visible.iter().filter(|a| wanted(a)) {
                    answer = answer.transit_gateway_attachments(attachment(*seen));
                }
                answer.build()
            },
        )
    }

    /// SearchTransitGatewayRoutes: each table's default route leaves by these attachments (id, kind,
    /// resource); a table not listed has no default route.
    fn routes(tables: Tables) -> Rule {
        mock!(aws_sdk_ec2::Client::search_transit_gateway_routes)
            .match_requests(|req| {
                has_filter(req.filters(), "route-search.exact-match", "0.0.0.0/0")
            })
            .then_compute_output(move |req| {
                let mut answer = SearchTransitGatewayRoutesOutput::builder();
                let asked = req.transit_gateway_route_table_id().unwrap_or_default();
                if let Some((_, leaving)) = tables.iter().find(|(table, _)| *table == asked) {
                    let mut route = TransitGatewayRoute::builder()
                        .destination_cidr_block("0.0.0.0/0")
                        .state(TransitGatewayRouteState::Active);
                    for (id, kind, resource) in leaving.iter() {
                        route = route.transit_gateway_attachments(
                            TransitGatewayRouteAttachment::builder()
                                .transit_gateway_attachment_id(*id)
                                .resource_type(kind.clone())
                                .resource_id(*resource)
                                .build(),
                        );
                    }
                    answer = answer.routes(route.build());
                }
                answer.build()
            })
    }

    fn owned_by(owner: &'static str) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_vpcs).then_compute_output(move |req| {
            DescribeVpcsOutput::builder()
                .vpcs(
                    Vpc::builder()
                        .vpc_id(&req.vpc_ids()[0])
                        .owner_id(owner)
                        .build(),
                )
                .build()
        })
    }

    /// The internet gateways attached to `vpcs`, as DescribeInternetGateways answers its
    /// `attachment.vpc-id` filter.
    fn internet_gateways_of(vpcs: &'static [&'static str]) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_internet_gateways).then_compute_output(move |req| {
            let mut answer = DescribeInternetGatewaysOutput::builder();
            for vpc in vpcs
                .iter()
                .filter(|vpc| has_filter(req.filters(), "attachment.vpc-id", vpc))
            {
                answer = answer.internet_gateways(
                    InternetGateway::builder()
                        .internet_gateway_id(format!("igw-of-{vpc}"))
                        .attachments(InternetGatewayAttachment::builder().vpc_id(*vpc).build())
                        .build(),
                );
            }
            answer.build()
        })
    }

    /// The account whose cuts are judged.
    const JUDGED: &str = "111122223333";
    /// The account that owns `tgw-0hub` (a network account) and shares it.
    const NETWORK: &str = "555566667777";

    async fn read_with(rules: &[&Rule]) -> WayOut {
        read_as(JUDGED, rules).await
    }

    async fn read_as(account: &str, rules: &[&Rule]) -> WayOut {
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules);
        read(&ec2, account, SPOKE, SUBNET).await
    }

    fn through(vpcs: &[&str], owner: &str, unread: Option<&str>) -> WayOut {
        WayOut::TransitGateway {
            ids: vec!["tgw-0hub".into()],
            egress_vpcs: vpcs
                .iter()
                .map(|vpc| (vpc.to_string(), VpcOwner::Account(owner.into())))
                .collect(),
            unread: unread.map(str::to_string),
        }
    }

    const HUB_TO_EGRESS: Tables = &[(
        "tgw-rtb-0spokes",
        &[
            ("tgw-attach-0egress", AttachedKind::Vpc, EGRESS),
            ("tgw-attach-0vpn", AttachedKind::Vpn, "vpn-0onprem"),
        ],
    )];

    /// Centralized egress: the subnet's default route to the hub; of the spoke's attachments (one to
    /// another gateway too), the hub's is associated with a table whose default route leaves by the
    /// egress VPC (and a VPN, which is no VPC); the egress VPC's own table has no default route. The
    /// egress VPC, with its owner. Without a table of its own, the subnet's is the VPC's main table.
    #[tokio::test]
    async fn mocked_a_default_route_to_a_transit_gateway_leads_to_its_egress_vpc() {
        let (table, seen, hub, owner) = (
            subnet_table(SUBNET, Some(to_hub)),
            attachments_seen(&[SPOKE_ON_OTHER, SPOKE_ON_HUB, EGRESS_ON_HUB]),
            routes(HUB_TO_EGRESS),
            owned_by("444455556666"),
        );
        assert_eq!(
            read_with(&[&table, &seen, &hub, &owner]).await,
            through(&[EGRESS], "444455556666", None)
        );
        // tgw-rtb-0spokes, then the egress VPC's own table: not the other gateway's.
        assert_eq!(hub.num_calls(), 2);
        let (none, main) = (subnet_table(SUBNET, None), main_table(Some(to_hub)));
        assert_eq!(
            read_with(&[&none, &main, &seen, &hub, &owner]).await,
            through(&[EGRESS], "444455556666", None)
        );
        assert_eq!(main.num_calls(), 1);
    }

    /// An inspection VPC first (AWS Network Firewall in a VPC): the spokes' table leaves by it, and its
    /// own table by the egress VPC. Both are ways out. A route back to the spoke is none.
    #[tokio::test]
    async fn mocked_an_inspection_vpc_is_followed_to_the_egress_vpc_behind_it() {
        let (table, seen, owner) = (
            subnet_table(SUBNET, Some(to_hub)),
            attachments_seen(&[SPOKE_ON_HUB, INSPECTION_ON_HUB, EGRESS_ON_HUB]),
            owned_by("111122223333"),
        );
        let hub = routes(&[
            (
                "tgw-rtb-0spokes",
                &[("tgw-attach-0inspection", AttachedKind::Vpc, INSPECTION)],
            ),
            (
                "tgw-rtb-0inspection",
                &[
                    ("tgw-attach-0egress", AttachedKind::Vpc, EGRESS),
                    ("tgw-attach-0spoke", AttachedKind::Vpc, SPOKE),
                ],
            ),
        ]);
        assert_eq!(
            read_with(&[&table, &seen, &hub, &owner]).await,
            through(&[EGRESS, INSPECTION], "111122223333", None)
        );
    }

    /// A default route to the VPC's own internet gateway stays in it: no transit gateway is read; nor
    /// by a blackholed route to the hub; nor by a public NAT gateway whose subnet goes out by the
    /// internet gateway. A private NAT gateway whose subnet goes to the hub leads to the egress VPC.
    #[tokio::test]
    async fn mocked_a_default_route_within_the_vpc_reads_no_transit_gateway() {
        let seen = attachments_seen(&[SPOKE_ON_HUB, EGRESS_ON_HUB]);
        let to_igw = subnet_table(SUBNET, Some(|| default_to(|r| r.gateway_id("igw-0spoke"))));
        assert_eq!(read_with(&[&to_igw, &seen]).await, WayOut::OwnVpc);
        assert_eq!(seen.num_calls(), 0);
        let blackholed = subnet_table(
            SUBNET,
            Some(|| {
                default_to(|r| {
                    r.transit_gateway_id("tgw-0hub")
                        .state(aws_sdk_ec2::types::RouteState::Blackhole)
                })
            }),
        );
        assert_eq!(read_with(&[&blackholed, &seen]).await, WayOut::OwnVpc);

        let to_nat = subnet_table(
            SUBNET,
            Some(|| default_to(|r| r.nat_gateway_id("nat-0spoke"))),
        );
        let nat = mock!(aws_sdk_ec2::Client::describe_nat_gateways).then_output(|| {
            DescribeNatGatewaysOutput::builder()
                .nat_gateways(
                    NatGateway::builder()
                        .nat_gateway_id("nat-0spoke")
                        .vpc_id(SPOKE)
                        .subnet_id("subnet-0nat")
                        .build(),
                )
                .build()
        });
        let public = subnet_table(
            "subnet-0nat",
            Some(|| default_to(|r| r.gateway_id("igw-0spoke"))),
        );
        assert_eq!(
            read_with(&[&to_nat, &nat, &public, &seen]).await,
            WayOut::OwnVpc
        );
        let private = subnet_table("subnet-0nat", Some(to_hub));
        let (hub, owner) = (routes(HUB_TO_EGRESS), owned_by("111122223333"));
        assert_eq!(
            read_with(&[&to_nat, &nat, &private, &seen, &hub, &owner]).await,
            through(&[EGRESS], "111122223333", None)
        );
    }

    /// Another account's VPC (no route table of it seen): the transit gateway owner still sees the
    /// spoke's attachment, and its default route's egress VPC is judged, the subnet's route unread.
    /// An account that sees no attachment of it takes its own VPCs attached to a transit gateway with an
    /// internet gateway as where the traffic may leave (the egress account of an organization), saying
    /// why; with none such, nothing of its own carries it.
    #[tokio::test]
    async fn mocked_a_vpc_whose_route_tables_are_not_seen_is_judged_by_what_this_account_sees() {
        let (none, main) = (subnet_table(SUBNET, None), main_table(None));
        let (seen, hub, owner) = (
            attachments_seen(&[SPOKE_ON_HUB, EGRESS_ON_HUB]),
            routes(HUB_TO_EGRESS),
            owned_by("111122223333"),
        );
        assert_eq!(
            read_with(&[&none, &main, &seen, &hub, &owner]).await,
            through(&[EGRESS], "111122223333", None)
        );
        let egress_account = attachments_seen(&[EGRESS_ON_HUB, INSPECTION_ON_HUB]);
        let gateways = internet_gateways_of(&[EGRESS]);
        assert_eq!(
            read_with(&[&none, &main, &egress_account, &gateways, &owner]).await,
            through(
                &[EGRESS],
                "111122223333",
                Some("vpc-0spoke is another account's VPC, whose routes this account cannot read")
            )
        );
        // The hub's owner (a tooling account's spoke on no gateway of its own): it would see the
        // spoke's attachment were the spoke on its gateway, so its own VPCs are no way of the spoke's.
        assert_eq!(
            read_as(NETWORK, &[&none, &main, &egress_account, &gateways, &owner]).await,
            WayOut::OwnVpc
        );
        let no_gateway = internet_gateways_of(&[]);
        assert_eq!(
            read_with(&[&none, &main, &egress_account, &no_gateway]).await,
            WayOut::OwnVpc
        );
        let unattached = attachments_seen(&[]);
        assert_eq!(
            read_with(&[&none, &main, &unattached]).await,
            WayOut::OwnVpc
        );
    }

    /// A transit gateway another account shares: this account sees no attachment of the spoke to it
    /// associated with a table, or may not search its routes. Its own VPCs attached to that gateway with
    /// an internet gateway are taken as where the traffic may leave, saying why; with none, nothing of
    /// this account's carries it.
    #[tokio::test]
    async fn mocked_a_shared_transit_gateway_is_judged_by_this_accounts_vpcs_on_it() {
        let (table, owner, gateways) = (
            subnet_table(SUBNET, Some(to_hub)),
            owned_by("111122223333"),
            internet_gateways_of(&[EGRESS]),
        );
        let only_egress = attachments_seen(&[EGRESS_ON_HUB, SPOKE_ON_OTHER]);
        assert_eq!(
            read_with(&[&table, &only_egress, &gateways, &owner]).await,
            through(
                &[EGRESS],
                "111122223333",
                Some(
                    "this account sees no attachment of vpc-0spoke to tgw-0hub associated with a route table"
                )
            )
        );
        let refused = mock!(aws_sdk_ec2::Client::search_transit_gateway_routes).then_error(|| {
            SearchTransitGatewayRoutesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code("InvalidRouteTableID.NotFound")
                    .message("The transitGatewayRouteTable ID 'tgw-rtb-0spokes' does not exist")
                    .build(),
            )
        });
        let both = attachments_seen(&[SPOKE_ON_HUB, EGRESS_ON_HUB]);
        let WayOut::TransitGateway {
            egress_vpcs,
            unread: Some(why),
            ..
        } = read_with(&[&table, &both, &refused, &gateways, &owner]).await
        else {
            panic!("not taken as may leave");
        };
        assert_eq!(
            egress_vpcs,
            [(EGRESS.to_string(), VpcOwner::Account("111122223333".into()))]
        );
        assert!(why.contains("InvalidRouteTableID.NotFound"), "{why}");
        let spoke_only = attachments_seen(&[SPOKE_ON_HUB]);
        assert_eq!(
            read_with(&[&table, &spoke_only, &refused]).await,
            WayOut::OwnVpc
        );
        // The spoke's attachment seen without its association (the gateway's table is the sharer's):
        // it routes nothing this account can read, and the egress VPC on the gateway is taken.
        let unassociated =
            attachments_seen(&[("tgw-attach-0spoke", "tgw-0hub", SPOKE, ""), EGRESS_ON_HUB]);
        let WayOut::TransitGateway {
            egress_vpcs,
            unread: Some(_),
            ..
        } = read_with(&[&table, &unassociated, &gateways, &owner]).await
        else {
            panic!("not taken as may leave");
        };
        assert_eq!(egress_vpcs.len(), 1);
    }

    /// A read that fails midway keeps what it found: the inspection VPC the spokes' table leads to is a
    /// way out though its own table could not be searched; the egress VPC, with an internet gateway on
    /// the same gateway, may be. Read in full, a loop of tables (a network function's table that is
    /// the spokes' again) is read once each.
    #[tokio::test]
    async fn mocked_a_read_failing_midway_keeps_the_vpcs_it_found() {
        let (table, owner, gateways) = (
            subnet_table(SUBNET, Some(to_hub)),
            owned_by(JUDGED),
            internet_gateways_of(&[EGRESS]),
        );
        let seen = attachments_seen(&[
            SPOKE_ON_HUB,
            INSPECTION_ON_HUB,
            EGRESS_ON_HUB,
            ("tgw-attach-0firewall", "tgw-0hub", "", "tgw-rtb-0spokes"),
        ]);
        let looping = routes(&[
            (
                "tgw-rtb-0spokes",
                &[("tgw-attach-0inspection", AttachedKind::Vpc, INSPECTION)],
            ),
            (
                "tgw-rtb-0inspection",
                &[("tgw-attach-0firewall", AttachedKind::NetworkFunction, "")],
            ),
        ]);
        assert_eq!(
            read_with(&[&table, &seen, &looping, &owner]).await,
            through(&[INSPECTION], JUDGED, None)
        );
        assert_eq!(looping.num_calls(), 2);
        let failing = mock!(aws_sdk_ec2::Client::search_transit_gateway_routes)
            .match_requests(|req| {
                req.transit_gateway_route_table_id() == Some("tgw-rtb-0inspection")
            })
            .then_error(|| {
                SearchTransitGatewayRoutesError::generic(
                    aws_sdk_ec2::error::ErrorMetadata::builder()
                        .code("RequestLimitExceeded")
                        .message("Request limit exceeded.")
                        .build(),
                )
            });
        let WayOut::TransitGateway {
            egress_vpcs,
            unread: Some(why),
            ..
        } = read_with(&[&table, &seen, &failing, &looping, &gateways, &owner]).await
        else {
            panic!("not taken as may leave");
        };
        let vpcs: Vec<&str> = egress_vpcs.iter().map(|(vpc, _)| vpc.as_str()).collect();
        assert_eq!(vpcs, [EGRESS, INSPECTION]);
        assert!(why.contains("RequestLimitExceeded"), "{why}");
    }

    /// Ways this read does not follow leave the way out unknown, with why: a default route to a
    /// Cloud WAN core network, a transit gateway route that goes on by a peering attachment.
    #[tokio::test]
    async fn mocked_a_way_this_read_does_not_follow_is_unknown() {
        let to_cloud_wan = subnet_table(
            SUBNET,
            Some(|| {
                default_to(|r| {
                    r.core_network_arn(
                        "arn:aws:networkmanager::111122223333:core-network/core-network-0abc",
                    )
                })
            }),
        );
        let WayOut::Unknown(why) = read_with(&[&to_cloud_wan]).await else {
            panic!("not unknown");
        };
        assert!(why.contains("Cloud WAN core network"), "{why}");
        let (table, seen) = (
            subnet_table(SUBNET, Some(to_hub)),
            attachments_seen(&[SPOKE_ON_HUB]),
        );
        let peered = routes(&[(
            "tgw-rtb-0spokes",
            &[("tgw-attach-0peer", AttachedKind::Peering, "tgw-0peer")],
        )]);
        let WayOut::Unknown(why) = read_with(&[&table, &seen, &peered]).await else {
            panic!("not unknown");
        };
        assert_eq!(
            why,
            "transit gateway route table tgw-rtb-0spokes sends the internet's traffic on by peering attachment tgw-attach-0peer, which hikkonuki does not follow"
        );
    }
}
