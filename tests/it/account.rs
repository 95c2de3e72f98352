//! The whole leaky account, two regions, every kind at once: after apply no network path leads out, after
//! restore every touched resource's full description equals what it was.

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, RESPONDER_CIDR, SeededRegion};
use crate::{database, network, snapshot};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

/// Everything the cuts touch in one region, read with the SDK.
#[derive(Debug, PartialEq)]
struct RegionState {
    security_groups: std::collections::BTreeMap<String, Vec<String>>,
    network_acls: std::collections::BTreeMap<String, Vec<String>>,
    route_tables: std::collections::BTreeMap<String, Vec<String>>,
    internet_gateways: std::collections::BTreeMap<String, String>,
    vpn_gateways: std::collections::BTreeMap<String, String>,
    vpc_endpoints: std::collections::BTreeMap<String, String>,
    database: String,
}

async fn region_state(emulator: &Emulator, seeded: &SeededRegion) -> RegionState {
    let ec2 = emulator.ec2(&seeded.region).await;
    let rds = aws_sdk_rds::Client::new(&emulator.sdk_config(&seeded.region).await);
    RegionState {
        security_groups: snapshot::security_groups(&ec2).await,
        network_acls: network::network_acls(&ec2).await,
        route_tables: network::route_tables(&ec2).await,
        internet_gateways: snapshot::internet_gateways(&ec2).await,
        vpn_gateways: snapshot::vpn_gateways(&ec2).await,
        vpc_endpoints: snapshot::vpc_endpoints(&ec2).await,
        database: database::describe(&rds, &seeded.database).await,
    }
}

/// Checks, with the SDK, that the seeded VPC of a region has no way out left.
async fn assert_sealed(emulator: &Emulator, seeded: &SeededRegion) {
    let region = &seeded.region;
    let ec2 = emulator.ec2(region).await;
    let tables = ec2
        .describe_route_tables()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&seeded.vpc_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for table in tables.route_tables() {
        for route in table.routes() {
            let outward = route
                .gateway_id()
                .is_some_and(|g| g.starts_with("igw-") || g.starts_with("vgw-"))
                || route.nat_gateway_id().is_some()
                || route.egress_only_internet_gateway_id().is_some()
                || route.transit_gateway_id().is_some()
                || route.vpc_peering_connection_id().is_some();
            assert!(
                !outward,
                "{region}: route out left in {:?}: {route:?}",
                table.route_table_id()
            );
        }
    }
    let vgws = ec2.describe_vpn_gateways().send().await.unwrap();
    for vgw in vgws.vpn_gateways() {
        assert!(
            vgw.vpc_attachments()
                .iter()
                .all(|a| a.state().map(|s| s.as_str()) != Some("attached")),
            "{region}: VPN gateway still attached: {vgw:?}"
        );
    }
    let acls = ec2.describe_network_acls().send().await.unwrap();
    for acl in acls
        .network_acls()
        .iter()
        .filter(|a| !a.associations().is_empty())
    {
        for egress in [false, true] {
            let mut entries: Vec<_> = acl
                .entries()
                .iter()
                .filter(|e| e.egress() == Some(egress))
                .collect();
            entries.sort_by_key(|e| e.rule_number());
            let first_deny = entries
                .iter()
                .position(|e| e.rule_action().map(|a| a.as_str()) == Some("deny"))
                .expect("a deny entry");
            assert!(
                entries[..first_deny]
                    .iter()
                    .all(|e| e.cidr_block() != Some("0.0.0.0/0")
                        && e.ipv6_cidr_block() != Some("::/0")),
                "{region}: only the VPC's own and the responder's ranges come before the deny: {entries:?}"
            );
        }
    }
    let endpoint = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&seeded.network.s3_endpoint)
        .send()
        .await
        .unwrap();
    let policy = endpoint.vpc_endpoints()[0]
        .policy_document()
        .unwrap_or_default();
    assert!(
        policy.contains("Deny"),
        "{region}: endpoint policy is not a deny: {policy}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_account_is_sealed_in_two_regions_and_restored_exactly() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = leaky_account::seed(&config, &REGIONS).await.unwrap();
    let mut original = Vec::new();
    for region in &seeded {
        original.push(region_state(&emulator, region).await);
    }

    emulator
        .hikkonuki()
        .args([
            "plan",
            "--regions",
            &REGIONS.join(","),
            "--keep-cidr",
            RESPONDER_CIDR,
            "--out",
            "plans/p.yaml",
        ])
        .assert()
        .code(0)
        .stdout(contains("~ nacl_deny/eu-west-1/"))
        .stdout(contains("~ route_remove/eu-west-1/"))
        .stdout(contains("~ vgw_detach/us-east-1/"))
        .stdout(contains("~ vpce_policy_deny/us-east-1/"))
        .stdout(contains("~ rds_public_off/eu-west-1/"));
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--yes"])
        .assert()
        .code(0)
        .stdout(contains("Sealed in "))
        .stderr(contains("sealed in "));
    for region in &seeded {
        assert_sealed(&emulator, region).await;
    }

    emulator
        .hikkonuki()
        .args(["restore", "plans/p.rollback.yaml", "--yes"])
        .assert()
        .code(0)
        .stdout(contains(" 0 failed."));
    for (region, before) in seeded.iter().zip(&original) {
        assert_eq!(
            &region_state(&emulator, region).await,
            before,
            "{} is back exactly",
            region.region
        );
    }
}
