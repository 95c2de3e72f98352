//! The leaky account's network: every kind of way out that network containment must close.

use aws_sdk_ec2::types::{DomainType, GatewayType, VpcEndpointType};

use super::SeedResult;

/// What was created around the leaky VPC in one region.
#[derive(Debug, Clone)]
pub struct SeededNetwork {
    pub public_subnet: String,
    pub private_subnet: String,
    pub internet_gateway: String,
    pub egress_only_gateway: String,
    pub nat_gateway: String,
    pub vpn_gateway: String,
    pub s3_endpoint: String,
    pub peer_vpc: String,
    pub peering: String,
    /// Routes 0.0.0.0/0 and ::/0 to the internet gateway; associated with the public subnet.
    pub public_route_table: String,
    /// Routes to the NAT gateway, the egress-only gateway (::/0), the VPN gateway (on-premises
    /// 172.16.0.0/12), the peer VPC, and the S3 gateway endpoint; associated with the private subnet.
    pub private_route_table: String,
}

/// Seeds, in the VPC `vpc_id` (10.20.0.0/16 with an Amazon IPv6 block): a public and a private subnet, an
/// internet gateway, an egress-only gateway, a NAT gateway with an Elastic IP, a VPN gateway, an S3
/// gateway endpoint, and a peering connection to a second VPC (10.30.0.0/16), with route tables that use
/// them all.
pub async fn seed(
    ec2: &aws_sdk_ec2::Client,
    region: &str,
    vpc_id: &str,
) -> SeedResult<SeededNetwork> {
    let subnet = |cidr: &'static str| {
        let ec2 = ec2.clone();
        let vpc_id = vpc_id.to_string();
        async move {
            let out = ec2
                .create_subnet()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .send()
                .await?;
            SeedResult::Ok(
                out.subnet()
                    .and_then(|s| s.subnet_id())
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    let public_subnet = subnet("10.20.1.0/24").await?;
    let private_subnet = subnet("10.20.2.0/24").await?;

    let igw = ec2.create_internet_gateway().send().await?;
    let internet_gateway = igw
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap_or_default()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&internet_gateway)
        .vpc_id(vpc_id)
        .send()
        .await?;

    let eigw = ec2
        .create_egress_only_internet_gateway()
        .vpc_id(vpc_id)
        .send()
        .await?;
    let egress_only_gateway = eigw
        .egress_only_internet_gateway()
        .and_then(|g| g.egress_only_internet_gateway_id())
        .unwrap_or_default()
        .to_string();

    let eip = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await?;
    let nat = ec2
        .create_nat_gateway()
        .subnet_id(&public_subnet)
        .allocation_id(eip.allocation_id().unwrap_or_default())
        .send()
        .await?;
    let nat_gateway = nat
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .unwrap_or_default()
        .to_string();

    let vgw = ec2
        .create_vpn_gateway()
        .r#type(GatewayType::Ipsec1)
        .send()
        .await?;
    let vpn_gateway = vgw
        .vpn_gateway()
        .and_then(|g| g.vpn_gateway_id())
        .unwrap_or_default()
        .to_string();
    ec2.attach_vpn_gateway()
        .vpn_gateway_id(&vpn_gateway)
        .vpc_id(vpc_id)
        .send()
        .await?;

    let peer = ec2.create_vpc().cidr_block("10.30.0.0/16").send().await?;
    let peer_vpc = peer
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_string();
    let pcx = ec2
        .create_vpc_peering_connection()
        .vpc_id(vpc_id)
        .peer_vpc_id(&peer_vpc)
        .send()
        .await?;
    let peering = pcx
        .vpc_peering_connection()
        .and_then(|p| p.vpc_peering_connection_id())
        .unwrap_or_default()
        .to_string();
    ec2.accept_vpc_peering_connection()
        .vpc_peering_connection_id(&peering)
        .send()
        .await?;

    let route_table = |subnet: String| {
        let ec2 = ec2.clone();
        let vpc_id = vpc_id.to_string();
        async move {
            let out = ec2.create_route_table().vpc_id(vpc_id).send().await?;
            let id = out
                .route_table()
                .and_then(|t| t.route_table_id())
                .unwrap_or_default()
                .to_string();
            ec2.associate_route_table()
                .route_table_id(&id)
                .subnet_id(subnet)
                .send()
                .await?;
            SeedResult::Ok(id)
        }
    };
    let public_route_table = route_table(public_subnet.clone()).await?;
    let private_route_table = route_table(private_subnet.clone()).await?;

    ec2.create_route()
        .route_table_id(&public_route_table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&internet_gateway)
        .send()
        .await?;
    ec2.create_route()
        .route_table_id(&public_route_table)
        .destination_ipv6_cidr_block("::/0")
        .gateway_id(&internet_gateway)
        .send()
        .await?;
    ec2.create_route()
        .route_table_id(&private_route_table)
        .destination_cidr_block("0.0.0.0/0")
        .nat_gateway_id(&nat_gateway)
        .send()
        .await?;
    ec2.create_route()
        .route_table_id(&private_route_table)
        .destination_ipv6_cidr_block("::/0")
        .egress_only_internet_gateway_id(&egress_only_gateway)
        .send()
        .await?;
    ec2.create_route()
        .route_table_id(&private_route_table)
        .destination_cidr_block("172.16.0.0/12")
        .gateway_id(&vpn_gateway)
        .send()
        .await?;
    // The office's routes also come by propagation (`vgw_detach` records it, and restore puts it back).
    ec2.enable_vgw_route_propagation()
        .gateway_id(&vpn_gateway)
        .route_table_id(&private_route_table)
        .send()
        .await?;
    ec2.create_route()
        .route_table_id(&private_route_table)
        .destination_cidr_block("10.30.0.0/16")
        .vpc_peering_connection_id(&peering)
        .send()
        .await?;

    let endpoint = ec2
        .create_vpc_endpoint()
        .vpc_id(vpc_id)
        .service_name(format!("com.amazonaws.{region}.s3"))
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .route_table_ids(&private_route_table)
        .send()
        .await?;
    let s3_endpoint = endpoint
        .vpc_endpoint()
        .and_then(|e| e.vpc_endpoint_id())
        .unwrap_or_default()
        .to_string();

    Ok(SeededNetwork {
        public_subnet,
        private_subnet,
        internet_gateway,
        egress_only_gateway,
        nat_gateway,
        vpn_gateway,
        s3_endpoint,
        peer_vpc,
        peering,
        public_route_table,
        private_route_table,
    })
}
