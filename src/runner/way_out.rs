//! Where the machine's traffic for the internet goes when it leaves through another VPC: AWS's
//! centralized egress, where a VPC's default route points at a transit gateway and the transit gateway's
//! default route at an egress VPC holding the NAT and internet gateways
//! (<https://docs.aws.amazon.com/whitepapers/latest/building-scalable-secure-multi-vpc-network-infrastructure/centralized-egress-to-internet.html>).
//! The run's calls to AWS then go out through that VPC too, and its seal (its ACLs, its route tables,
//! its internet gateway, its account's Block Public Access) would cut the run off midway.
//!
//! Read, as the account whose cuts are judged sees it:
//! 1. the route table of the machine's subnet (DescribeRouteTables, `association.subnet-id`), or, for a
//!    subnet with none of its own, its VPC's main table (`association.main`): "a subnet that is not
//!    explicitly associated with a route table uses the main route table"
//!    (<https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html>,
//!    <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRouteTables.html>);
//! 2. its default route (`0.0.0.0/0`): one to a transit gateway leaves the VPC, any other target (an
//!    internet or NAT gateway, an appliance's endpoint) stays in it as far as this read goes. A peering
//!    connection carries no traffic to the internet: a peered VPC's internet or NAT gateway serves only
//!    its own VPC (edge-to-edge routing is not supported:
//!    <https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html>);
//! 3. the VPC's attachment to that transit gateway (DescribeTransitGatewayAttachments, `resource-id`)
//!    and the route table it is associated with, whose default route (SearchTransitGatewayRoutes,
//!    `route-search.exact-match`) names the attachments it leaves by: each VPC one is an egress VPC.
//!    (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeTransitGatewayAttachments.html>,
//!    <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SearchTransitGatewayRoutes.html>).
//!
//! An account that sees no route table of the machine's VPC (the VPC is another account's) reads step 3
//! for every attachment of that VPC it sees: the transit gateway's owner sees them all, and an egress VPC
//! of its own is judged in its cuts though the subnet's route was not read. A read that fails leaves the
//! way out unknown, with why, which apply warns of and `watch --recut` takes as a reason not to re-seal
//! in the machine's region. Not read: an HTTPS proxy the run is told to use, a Gateway Load Balancer
//! endpoint's appliance VPC, and a route more specific than the default that some AWS addresses take.

use aws_sdk_ec2::types::Filter;

use super::VpcOwner;

/// The route every address with no more specific route takes: the way to the internet.
const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Where the machine's traffic for the internet leaves AWS's network, as far as its VPC goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayOut {
    /// Through its own VPC's gateways (or no way at all): the VPC's own cuts are its path.
    OwnVpc,
    /// Through a transit gateway to these VPCs (same region), each with its owner as the judged
    /// account sees it; none when the transit gateway's default route leaves by no VPC (a VPN, Direct
    /// Connect, another transit gateway) or there is none.
    TransitGateway {
        id: String,
        egress_vpcs: Vec<(String, VpcOwner)>,
    },
    /// Could not be read, with why.
    Unknown(String),
}

/// Reads where `subnet` (of `vpc`) sends its traffic for the internet, with `ec2` (the judged account's,
/// in the machine's region). See the module's documentation for the steps.
pub async fn read(ec2: &aws_sdk_ec2::Client, vpc: &str, subnet: &str) -> WayOut {
    match read_transit(ec2, vpc, subnet).await {
        Ok(None) => WayOut::OwnVpc,
        Ok(Some((id, vpcs))) => {
            let owners = futures_util::future::join_all(
                vpcs.iter().map(|egress| super::vpc_owner(ec2, egress)),
            )
            .await;
            WayOut::TransitGateway {
                id,
                egress_vpcs: vpcs.into_iter().zip(owners).collect(),
            }
        }
        Err(why) => WayOut::Unknown(why),
    }
}

/// The transit gateway `subnet`'s default route leads to and the VPCs it leaves by; `None` when its
/// default route stays in `vpc`.
async fn read_transit(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnet: &str,
) -> Result<Option<(String, Vec<String>)>, String> {
    let table = match route_tables(ec2, "association.subnet-id", subnet).await? {
        Some(table) => Some(table),
        None => {
            let mains = ec2
                .describe_route_tables()
                .filters(filter("vpc-id", vpc))
                .filters(filter("association.main", "true"))
                .send()
                .await
                .map_err(|err| failed("ec2:DescribeRouteTables", err))?;
            mains.route_tables().first().cloned()
        }
    };
    // The subnet's route read: a default route to no transit gateway stays in the VPC.
    let via = match &table {
        Some(table) => match default_route_transit_gateway(table) {
            None => return Ok(None),
            Some(tgw) => Some(tgw),
        },
        None => None,
    };
    let attachments = attachments_of(ec2, vpc).await?;
    let leading: Vec<&(String, String)> = match via {
        Some(tgw) => {
            let leading: Vec<_> = attachments.iter().filter(|(of, _)| *of == tgw).collect();
            if leading.is_empty() {
                // A transit gateway another account shares: its attachment of the VPC, or the
                // attachment's route table, is not this account's to read.
                return Err(format!(
                    "its route to the internet leads to transit gateway {tgw}, and this account sees no attachment of {vpc} to it associated with a route table"
                ));
            }
            leading
        }
        // Another account's VPC: every attachment of it this account sees, its route not read.
        None => attachments.iter().collect(),
    };
    if leading.is_empty() {
        return Ok(None);
    }
    let mut gateways: Vec<&str> = leading.iter().map(|(tgw, _)| tgw.as_str()).collect();
    gateways.sort();
    gateways.dedup();
    let mut vpcs = Vec::new();
    for (_, route_table) in &leading {
        vpcs.extend(egress_vpcs(ec2, route_table, vpc).await?);
    }
    vpcs.sort();
    vpcs.dedup();
    Ok(Some((gateways.join(", "), vpcs)))
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn failed<E, R>(operation: &str, err: aws_sdk_ec2::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::service_error::ServiceError::from_sdk(operation, err).to_string()
}

async fn route_tables(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    value: &str,
) -> Result<Option<aws_sdk_ec2::types::RouteTable>, String> {
    let answer = ec2
        .describe_route_tables()
        .filters(filter(name, value))
        .send()
        .await
        .map_err(|err| failed("ec2:DescribeRouteTables", err))?;
    Ok(answer.route_tables().first().cloned())
}

/// The transit gateway a route table's default route targets, if it does (a blackhole route carries
/// nothing).
pub fn default_route_transit_gateway(table: &aws_sdk_ec2::types::RouteTable) -> Option<String> {
    table
        .routes()
        .iter()
        .find(|route| route.destination_cidr_block() == Some(DEFAULT_ROUTE))
        .filter(|route| route.state() != Some(&aws_sdk_ec2::types::RouteState::Blackhole))
        .and_then(|route| route.transit_gateway_id())
        .map(str::to_string)
}

/// `vpc`'s attachments to transit gateways that this account sees and that are associated with a route
/// table: (transit gateway, its route table). An attachment with no association routes nothing.
async fn attachments_of(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut found = Vec::new();
    let mut pages = ec2
        .describe_transit_gateway_attachments()
        .filters(filter("resource-id", vpc))
        .filters(filter("resource-type", "vpc"))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| failed("ec2:DescribeTransitGatewayAttachments", err))?;
        for attachment in page.transit_gateway_attachments() {
            let live = !matches!(
                attachment.state(),
                Some(
                    aws_sdk_ec2::types::TransitGatewayAttachmentState::Deleted
                        | aws_sdk_ec2::types::TransitGatewayAttachmentState::Deleting
                        | aws_sdk_ec2::types::TransitGatewayAttachmentState::Rejected
                        | aws_sdk_ec2::types::TransitGatewayAttachmentState::Failed
                )
            );
            let table = attachment
                .association()
                .and_then(|association| association.transit_gateway_route_table_id());
            if let (true, Some(tgw), Some(table)) = (live, attachment.transit_gateway_id(), table) {
                found.push((tgw.to_string(), table.to_string()));
            }
        }
    }
    Ok(found)
}

/// The VPCs a transit gateway route table's default route leaves by, but `from` (traffic does not
/// return to the VPC it came from as a way out).
async fn egress_vpcs(
    ec2: &aws_sdk_ec2::Client,
    route_table: &str,
    from: &str,
) -> Result<Vec<String>, String> {
    let answer = ec2
        .search_transit_gateway_routes()
        .transit_gateway_route_table_id(route_table)
        .filters(filter("route-search.exact-match", DEFAULT_ROUTE))
        .send()
        .await
        .map_err(|err| failed("ec2:SearchTransitGatewayRoutes", err))?;
    Ok(leaving_vpcs(answer.routes(), from))
}

/// The VPCs active default routes leave by, but `from`.
pub fn leaving_vpcs(routes: &[aws_sdk_ec2::types::TransitGatewayRoute], from: &str) -> Vec<String> {
    routes
        .iter()
        .filter(|route| route.destination_cidr_block() == Some(DEFAULT_ROUTE))
        .filter(|route| {
            route.state() != Some(&aws_sdk_ec2::types::TransitGatewayRouteState::Blackhole)
        })
        .flat_map(|route| route.transit_gateway_attachments())
        .filter(|attachment| {
            attachment.resource_type()
                == Some(&aws_sdk_ec2::types::TransitGatewayAttachmentResourceType::Vpc)
        })
        .filter_map(|attachment| attachment.resource_id())
        .filter(|vpc| *vpc != from)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::operation::describe_transit_gateway_attachments::DescribeTransitGatewayAttachmentsOutput;
    use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
    use aws_sdk_ec2::operation::search_transit_gateway_routes::{
        SearchTransitGatewayRoutesError, SearchTransitGatewayRoutesOutput,
    };
    use aws_sdk_ec2::types::{
        Route, RouteTable, TransitGatewayAttachment, TransitGatewayAttachmentAssociation,
        TransitGatewayAttachmentResourceType, TransitGatewayAttachmentState, TransitGatewayRoute,
        TransitGatewayRouteAttachment, TransitGatewayRouteState, Vpc,
    };
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    const SPOKE: &str = "vpc-0spoke";
    const SUBNET: &str = "subnet-0spoke";
    const EGRESS: &str = "vpc-0egress";

    fn has_filter(filters: &[Filter], name: &str, value: &str) -> bool {
        filters
            .iter()
            .any(|f| f.name() == Some(name) && f.values().iter().any(|v| v == value))
    }

    /// The subnet's own route table, with a default route built by `route`.
    fn subnet_table(route: fn() -> Route) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_route_tables)
            .match_requests(|req| has_filter(req.filters(), "association.subnet-id", SUBNET))
            .then_output(move || {
                DescribeRouteTablesOutput::builder()
                    .route_tables(RouteTable::builder().vpc_id(SPOKE).routes(route()).build())
                    .build()
            })
    }

    /// No table of this account's is associated with the subnet, nor any main one (another
    /// account's VPC), or `main` has the default route.
    fn no_subnet_table(main: Option<fn() -> Route>) -> [Rule; 2] {
        [
            mock!(aws_sdk_ec2::Client::describe_route_tables)
                .match_requests(|req| has_filter(req.filters(), "association.subnet-id", SUBNET))
                .then_output(|| DescribeRouteTablesOutput::builder().build()),
            mock!(aws_sdk_ec2::Client::describe_route_tables)
                .match_requests(|req| {
                    has_filter(req.filters(), "vpc-id", SPOKE)
                        && has_filter(req.filters(), "association.main", "true")
                })
                .then_output(move || {
                    let mut answer = DescribeRouteTablesOutput::builder();
                    if let Some(route) = main {
                        answer = answer.route_tables(
                            RouteTable::builder().vpc_id(SPOKE).routes(route()).build(),
                        );
                    }
                    answer.build()
                }),
        ]
    }

    fn to_hub() -> Route {
        Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .transit_gateway_id("tgw-0hub")
            .build()
    }

    fn to_internet_gateway() -> Route {
        Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id("igw-0spoke")
            .build()
    }

    /// The spoke's attachment to the hub, associated with `tgw-rtb-0spokes`.
    fn attached() -> Rule {
        mock!(aws_sdk_ec2::Client::describe_transit_gateway_attachments)
            .match_requests(|req| {
                has_filter(req.filters(), "resource-id", SPOKE)
                    && has_filter(req.filters(), "resource-type", "vpc")
            })
            .then_output(|| {
                DescribeTransitGatewayAttachmentsOutput::builder()
                    .transit_gateway_attachments(
                        TransitGatewayAttachment::builder()
                            .transit_gateway_attachment_id("tgw-attach-0spoke")
                            .transit_gateway_id("tgw-0hub")
                            .resource_id(SPOKE)
                            .resource_type(TransitGatewayAttachmentResourceType::Vpc)
                            .state(TransitGatewayAttachmentState::Available)
                            .association(
                                TransitGatewayAttachmentAssociation::builder()
                                    .transit_gateway_route_table_id("tgw-rtb-0spokes")
                                    .state("associated".into())
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
    }

    fn not_attached() -> Rule {
        mock!(aws_sdk_ec2::Client::describe_transit_gateway_attachments)
            .then_output(|| DescribeTransitGatewayAttachmentsOutput::builder().build())
    }

    /// The spokes' table: its default route leaves by the egress VPC's attachment (and a VPN's).
    fn hub_routes() -> Rule {
        let attachment = |id: &str, kind: TransitGatewayAttachmentResourceType, resource: &str| {
            TransitGatewayRouteAttachment::builder()
                .transit_gateway_attachment_id(id)
                .resource_type(kind)
                .resource_id(resource)
                .build()
        };
        mock!(aws_sdk_ec2::Client::search_transit_gateway_routes)
            .match_requests(|req| {
                req.transit_gateway_route_table_id() == Some("tgw-rtb-0spokes")
                    && has_filter(req.filters(), "route-search.exact-match", "0.0.0.0/0")
            })
            .then_output(move || {
                SearchTransitGatewayRoutesOutput::builder()
                    .routes(
                        TransitGatewayRoute::builder()
                            .destination_cidr_block("0.0.0.0/0")
                            .state(TransitGatewayRouteState::Active)
                            .transit_gateway_attachments(attachment(
                                "tgw-attach-0egress",
                                TransitGatewayAttachmentResourceType::Vpc,
                                EGRESS,
                            ))
                            .transit_gateway_attachments(attachment(
                                "tgw-attach-0vpn",
                                TransitGatewayAttachmentResourceType::Vpn,
                                "vpn-0onprem",
                            ))
                            .build(),
                    )
                    .build()
            })
    }

    fn egress_owned_by(owner: &'static str) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_vpcs)
            .match_requests(|req| req.vpc_ids() == [EGRESS])
            .then_output(move || {
                DescribeVpcsOutput::builder()
                    .vpcs(Vpc::builder().vpc_id(EGRESS).owner_id(owner).build())
                    .build()
            })
    }

    async fn read_with(rules: &[&Rule]) -> WayOut {
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules);
        read(&ec2, SPOKE, SUBNET).await
    }

    fn through_hub(owner: &str) -> WayOut {
        WayOut::TransitGateway {
            id: "tgw-0hub".into(),
            egress_vpcs: vec![(EGRESS.into(), VpcOwner::Account(owner.into()))],
        }
    }

    /// Centralized egress: the subnet's default route to the transit gateway, the spoke's attachment
    /// associated with a table whose default route leaves by the egress VPC (and a VPN, which is no
    /// VPC): the egress VPC, with its owner. Without a table of its own, the subnet's is the VPC's main
    /// table.
    #[tokio::test]
    async fn mocked_a_default_route_to_a_transit_gateway_leads_to_its_egress_vpc() {
        let (table, attachments, routes) = (subnet_table(to_hub), attached(), hub_routes());
        let owner = egress_owned_by("444455556666");
        assert_eq!(
            read_with(&[&table, &attachments, &routes, &owner]).await,
            through_hub("444455556666")
        );
        let [none, main] = no_subnet_table(Some(to_hub));
        assert_eq!(
            read_with(&[&none, &main, &attachments, &routes, &owner]).await,
            through_hub("444455556666")
        );
        assert_eq!(main.num_calls(), 1);
    }

    /// A default route to the VPC's own internet gateway stays in it: no transit gateway is read. A
    /// blackholed route to one carries nothing either.
    #[tokio::test]
    async fn mocked_a_default_route_within_the_vpc_reads_no_transit_gateway() {
        let (table, attachments) = (subnet_table(to_internet_gateway), attached());
        assert_eq!(read_with(&[&table, &attachments]).await, WayOut::OwnVpc);
        assert_eq!(attachments.num_calls(), 0);
        let blackholed = subnet_table(|| {
            Route::builder()
                .destination_cidr_block("0.0.0.0/0")
                .transit_gateway_id("tgw-0hub")
                .state(aws_sdk_ec2::types::RouteState::Blackhole)
                .build()
        });
        assert_eq!(
            read_with(&[&blackholed, &attachments]).await,
            WayOut::OwnVpc
        );
    }

    /// Another account's VPC (no route table of it seen): the transit gateway owner still sees the
    /// spoke's attachment, and its default route's egress VPC is judged, the subnet's route unread. Not
    /// attached to any gateway it sees: its way out is none of this account's.
    #[tokio::test]
    async fn mocked_a_vpc_whose_route_tables_are_not_seen_is_judged_by_its_attachments() {
        let [none, main] = no_subnet_table(None);
        let (attachments, routes) = (attached(), hub_routes());
        let owner = egress_owned_by("111122223333");
        assert_eq!(
            read_with(&[&none, &main, &attachments, &routes, &owner]).await,
            through_hub("111122223333")
        );
        let unattached = not_attached();
        assert_eq!(
            read_with(&[&none, &main, &unattached]).await,
            WayOut::OwnVpc
        );
    }

    /// A route to a transit gateway whose attachment this account does not see (a gateway another
    /// account shares), or whose routes it may not search: where the traffic leaves is unknown, with
    /// why, never taken for the VPC's own way out.
    #[tokio::test]
    async fn mocked_a_transit_gateway_that_cannot_be_read_leaves_the_way_out_unknown() {
        let (table, unattached) = (subnet_table(to_hub), not_attached());
        let WayOut::Unknown(why) = read_with(&[&table, &unattached]).await else {
            panic!("not unknown");
        };
        assert!(
            why.contains("leads to transit gateway tgw-0hub, and this account sees no attachment of vpc-0spoke"),
            "{why}"
        );
        let refused = mock!(aws_sdk_ec2::Client::search_transit_gateway_routes).then_error(|| {
            SearchTransitGatewayRoutesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code("InvalidRouteTableID.NotFound")
                    .message("The transitGatewayRouteTable ID 'tgw-rtb-0spokes' does not exist")
                    .build(),
            )
        });
        let attachments = attached();
        let WayOut::Unknown(why) = read_with(&[&table, &attachments, &refused]).await else {
            panic!("not unknown");
        };
        assert!(why.contains("InvalidRouteTableID.NotFound"), "{why}");
    }
}
