//! A small leaky account, seeded into the emulator through the SDK: what the demo contains and what the
//! emulator tests compare before apply and after restore. Shared by `examples/seed_leaky_account.rs` and
//! the integration tests, so both exercise the same account.

#![allow(dead_code)]

pub mod api;
pub mod database;
pub mod edge;
pub mod identity;
pub mod identity_center;
pub mod mail;
pub mod network;
pub mod organization;
pub mod resource_policies;
pub mod serverless;
pub mod sharing;
pub mod trust;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{
    AddPrefixListEntry, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag,
    TagSpecification, UserIdGroupPair,
};

/// What was created in one region.
#[derive(Debug, Clone)]
pub struct SeededRegion {
    pub region: String,
    pub vpc_id: String,
    pub web_group: String,
    pub db_group: String,
    pub bastion_group: String,
    pub network: network::SeededNetwork,
    /// A publicly accessible RDS instance.
    pub database: String,
}

/// The responder's own range in the seeded account: the bastion's SSH rule allows it, and the demo keeps it.
pub const RESPONDER_CIDR: &str = "203.0.113.0/24";

pub type SeedResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Seeds one VPC (IPv4 and IPv6) with three security groups in each region:
/// - `web`: HTTPS from 0.0.0.0/0 and ::/0 (tagged, with descriptions), HTTP from inside the VPC;
/// - `db`: PostgreSQL from the web group only, and from a partner prefix list;
/// - `bastion`: SSH from the responder's range and from 0.0.0.0/0.
///
/// Every group also has the default egress to 0.0.0.0/0 and ::/0. Around the VPC, [`network::seed`] adds
/// every kind of way out: internet, egress-only, NAT and VPN gateways, a peering connection and an S3
/// gateway endpoint, with the routes that use them.
pub async fn seed(config: &SdkConfig, regions: &[&str]) -> SeedResult<Vec<SeededRegion>> {
    let mut seeded = Vec::new();
    for region in regions {
        let regional = config
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build();
        seeded.push(seed_region(&regional, region).await?);
    }
    Ok(seeded)
}

/// The whole leaky account, as the demo seeds it: every region's network and database, then, once in the
/// first region, what lives account-wide or needs to exist only once: IAM users with keys, the mail side
/// (an SES identity delegating sending, a sender, a public DNS zone, a trail that is not logging), a
/// Lambda function with a public URL, a public REST API
/// and a CloudFront distribution; and roles outsiders can assume (a vendor's account, GitHub Actions).
#[derive(Debug, Clone)]
pub struct SeededAccount {
    pub regions: Vec<SeededRegion>,
    pub identity: identity::SeededIdentity,
    pub mail: mail::SeededMail,
    pub serverless: serverless::SeededServerless,
    pub api: api::SeededApi,
    pub edge: edge::SeededEdge,
    pub trust: trust::SeededTrust,
    pub resource_policies: resource_policies::SeededResourcePolicies,
    /// Two IAM Identity Center permission sets assigned to the account.
    pub identity_center: identity_center::SeededIdentityCenter,
    pub sharing: sharing::SeededSharing,
}

pub async fn seed_account(config: &SdkConfig, regions: &[&str]) -> SeedResult<SeededAccount> {
    let seeded_regions = seed(config, regions).await?;
    let first = config
        .to_builder()
        .region(aws_config::Region::new(regions[0].to_string()))
        .build();
    Ok(SeededAccount {
        regions: seeded_regions,
        identity: identity::seed(&first).await?,
        // After the regions: its DNS record points at the first region's public database.
        mail: mail::seed(&first).await?,
        serverless: serverless::seed(&first).await?,
        api: api::seed(&first).await?,
        edge: edge::seed(&first).await?,
        trust: trust::seed(&first).await?,
        resource_policies: resource_policies::seed(&first).await?,
        identity_center: identity_center::seed(&first).await?,
        sharing: sharing::seed(&first).await?,
    })
}

async fn seed_region(config: &SdkConfig, region: &str) -> SeedResult<SeededRegion> {
    let ec2 = &aws_sdk_ec2::Client::new(config);
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .amazon_provided_ipv6_cidr_block(true)
        .send()
        .await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_string();

    let group = |name: &'static str| {
        let ec2 = ec2.clone();
        let vpc_id = vpc_id.clone();
        async move {
            let out = ec2
                .create_security_group()
                .group_name(name)
                .description(format!("{name} tier"))
                .vpc_id(vpc_id)
                .send()
                .await?;
            SeedResult::Ok(out.group_id().unwrap_or_default().to_string())
        }
    };
    let web = group("web").await?;
    let db = group("db").await?;
    let bastion = group("bastion").await?;

    let partner = ec2
        .create_managed_prefix_list()
        .prefix_list_name("partner-offices")
        .address_family("IPv4")
        .max_entries(5)
        .entries(
            AddPrefixListEntry::builder()
                .cidr("198.51.100.0/24")
                .build(),
        )
        .send()
        .await?;
    let partner_id = partner
        .prefix_list()
        .and_then(|p| p.prefix_list_id())
        .unwrap_or_default()
        .to_string();

    let owner_tag = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroupRule)
        .tags(Tag::builder().key("owner").value("storefront").build())
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("public https")
                        .build(),
                )
                .ipv6_ranges(
                    Ipv6Range::builder()
                        .cidr_ipv6("::/0")
                        .description("public https v6")
                        .build(),
                )
                .build(),
        )
        .tag_specifications(owner_tag)
        .send()
        .await?;
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(80)
                .to_port(80)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("10.20.0.0/16")
                        .description("load balancer health checks")
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;
    ec2.authorize_security_group_ingress()
        .group_id(&db)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .user_id_group_pairs(
                    UserIdGroupPair::builder()
                        .group_id(&web)
                        .description("app servers")
                        .build(),
                )
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .prefix_list_ids(
                    PrefixListId::builder()
                        .prefix_list_id(&partner_id)
                        .description("partner reporting")
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;
    ec2.authorize_security_group_ingress()
        .group_id(&bastion)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("203.0.113.10/32")
                        .description("responder laptop")
                        .build(),
                )
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description("temporary: vendor access")
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;

    let network = network::seed(ec2, region, &vpc_id).await?;
    let database = database::seed(&aws_sdk_rds::Client::new(config)).await?;

    Ok(SeededRegion {
        network,
        database,
        region: region.to_string(),
        vpc_id,
        web_group: web,
        db_group: db,
        bastion_group: bastion,
    })
}
