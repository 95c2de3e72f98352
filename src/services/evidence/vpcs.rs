//! Which VPCs the evidence kinds record: those the network kinds cut. The rule, stated in every evidence
//! cut's reason: a VPC is recorded when it has a way out of itself, that is, a route to anything but
//! `local` (an internet or egress-only gateway, a NAT gateway, a virtual private or transit gateway, a
//! peering connection, a gateway endpoint, an appliance), an attached internet or virtual private
//! gateway, a VPC endpoint, an active peering connection or a transit gateway attachment. Those are the
//! paths `route_remove`, `igw_detach`, `vgw_detach`, `nacl_deny`, `vpce_*` and `sg_revoke` close; a VPC
//! with none of them has nothing to cut and no traffic leaving it to record.

use std::collections::BTreeMap;

use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// A VPC with a way out, and what those ways are, in words (`route to igw-1`, `endpoint vpce-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcWithAWayOut {
    pub vpc_id: String,
    pub ways_out: Vec<String>,
}

impl VpcWithAWayOut {
    /// The ways out for a reason: at most three, then how many more.
    pub fn summary(&self) -> String {
        let mut text = self
            .ways_out
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.ways_out.len() > 3 {
            text.push_str(&format!(" and {} more", self.ways_out.len() - 3));
        }
        text
    }
}

/// The rule in one sentence, for reasons.
pub const RULE: &str = "the VPCs with a way out (a route other than `local`, an attached internet or VPN gateway, a VPC endpoint, a peering connection or a transit gateway attachment), whose paths the network kinds cut";

/// Every VPC of the region with a way out, by VPC ID; read once per region and run for both evidence
/// kinds that need it.
pub async fn with_a_way_out(ctx: &RegionCtx) -> Result<Vec<VpcWithAWayOut>, ServiceError> {
    ctx.once("evidence:vpcs_with_a_way_out", || read(ctx)).await
}

async fn read(ctx: &RegionCtx) -> Result<Vec<VpcWithAWayOut>, ServiceError> {
    let ec2 = ctx.ec2();
    let mut ways: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |vpc: Option<&str>, way: String| {
        if let Some(vpc) = vpc {
            let list = ways.entry(vpc.to_string()).or_default();
            if !list.contains(&way) {
                list.push(way);
            }
        }
    };
    let tables = crate::services::network::vpc::route_tables(ctx).await?;
    for table in &tables {
        for route in table.routes() {
            let target = route
                .gateway_id()
                .or(route.nat_gateway_id())
                .or(route.transit_gateway_id())
                .or(route.vpc_peering_connection_id())
                .or(route.egress_only_internet_gateway_id())
                .or(route.network_interface_id())
                .or(route.instance_id())
                .or(route.carrier_gateway_id())
                .or(route.local_gateway_id())
                .or(route.core_network_arn());
            match target {
                Some("local") => {}
                Some(target) => add(table.vpc_id(), format!("route to {target}")),
                None => {}
            }
        }
    }
    let gateways: Vec<_> = ec2
        .describe_internet_gateways()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeInternetGateways", err))?;
    for gateway in &gateways {
        for attachment in gateway.attachments() {
            add(
                attachment.vpc_id(),
                format!(
                    "internet gateway {}",
                    gateway.internet_gateway_id().unwrap_or("?")
                ),
            );
        }
    }
    let vpn_gateways = ec2
        .describe_vpn_gateways()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpnGateways", err))?;
    for gateway in vpn_gateways.vpn_gateways() {
        for attachment in gateway.vpc_attachments() {
            if attachment.state().map(|s| s.as_str()) == Some("attached") {
                add(
                    attachment.vpc_id(),
                    format!("VPN gateway {}", gateway.vpn_gateway_id().unwrap_or("?")),
                );
            }
        }
    }
    let endpoints: Vec<_> = ec2
        .describe_vpc_endpoints()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcEndpoints", err))?;
    for endpoint in &endpoints {
        let state = endpoint
            .state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_default();
        if !["deleted", "deleting", "failed", "rejected"].contains(&state.as_str()) {
            add(
                endpoint.vpc_id(),
                format!("endpoint {}", endpoint.vpc_endpoint_id().unwrap_or("?")),
            );
        }
    }
    let peerings: Vec<_> = ec2
        .describe_vpc_peering_connections()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcPeeringConnections", err))?;
    for peering in &peerings {
        let active = peering.status().and_then(|s| s.code()).map(|c| c.as_str()) == Some("active");
        if active {
            let id = peering.vpc_peering_connection_id().unwrap_or("?");
            for side in [peering.requester_vpc_info(), peering.accepter_vpc_info()]
                .into_iter()
                .flatten()
            {
                add(side.vpc_id(), format!("peering {id}"));
            }
        }
    }
    let attachments: Vec<_> = ec2
        .describe_transit_gateway_attachments()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeTransitGatewayAttachments", err))?;
    for attachment in &attachments {
        let vpc = attachment.resource_type().map(|t| t.as_str()) == Some("vpc");
        let live = crate::services::common::ec2::attachment_carries_traffic(attachment.state());
        if vpc && live {
            add(
                attachment.resource_id(),
                format!(
                    "transit gateway {}",
                    attachment.transit_gateway_id().unwrap_or("?")
                ),
            );
        }
    }
    // A peering connection names the VPC at its other end, which may be another account's or another
    // region's: only this account's VPCs in this region are recorded here.
    let own: Vec<_> = ec2
        .describe_vpcs()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcs", err))?;
    Ok(ways
        .into_iter()
        .filter(|(vpc_id, _)| own.iter().any(|vpc| vpc.vpc_id() == Some(vpc_id.as_str())))
        .map(|(vpc_id, ways_out)| VpcWithAWayOut { vpc_id, ways_out })
        .collect())
}
