//! `nacl_deny` and `route_remove` end to end on the emulator: plan → apply → restore through the built
//! binary, with the full description of every network ACL and route table compared before apply and after
//! restore, and restores that meet later changes (which must be left alone and reported).
//!
//! The plan holds every kind; all of it is applied, and only network ACLs and route tables are compared.

use std::collections::BTreeMap;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, RESPONDER_CIDR, SeededRegion};

const REGION: &str = "us-east-1";

async fn seeded_emulator() -> (Emulator, SeededRegion) {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let mut regions = leaky_account::seed(&config, &[REGION])
        .await
        .expect("seeding the leaky account");
    (emulator, regions.remove(0))
}

fn sorted_tags(tags: &[aws_sdk_ec2::types::Tag]) -> Vec<(Option<String>, Option<String>)> {
    let mut tags: Vec<_> = tags
        .iter()
        .map(|t| (t.key().map(str::to_string), t.value().map(str::to_string)))
        .collect();
    tags.sort();
    tags
}

/// Every network ACL of the region, fully described (every field of every entry and association), one
/// line each, sorted: AWS returns entries in no promised order.
pub async fn network_acls(ec2: &aws_sdk_ec2::Client) -> BTreeMap<String, Vec<String>> {
    let out = ec2
        .describe_network_acls()
        .send()
        .await
        .expect("DescribeNetworkAcls");
    out.network_acls()
        .iter()
        .map(|acl| {
            let mut lines = vec![format!(
                "acl vpc={:?} default={:?} owner={:?} tags={:?}",
                acl.vpc_id(),
                acl.is_default(),
                acl.owner_id(),
                sorted_tags(acl.tags())
            )];
            lines.extend(acl.associations().iter().map(|a| format!("{a:?}")));
            lines.extend(acl.entries().iter().map(|e| format!("{e:?}")));
            lines.sort();
            (acl.network_acl_id().unwrap().to_string(), lines)
        })
        .collect()
}

/// Every route table of the region, fully described (routes with every target field, origin and state;
/// associations; propagating gateways), one line each, sorted.
pub async fn route_tables(ec2: &aws_sdk_ec2::Client) -> BTreeMap<String, Vec<String>> {
    let out = ec2
        .describe_route_tables()
        .send()
        .await
        .expect("DescribeRouteTables");
    out.route_tables()
        .iter()
        .map(|table| {
            let mut lines = vec![format!(
                "table vpc={:?} owner={:?} tags={:?} propagating={:?}",
                table.vpc_id(),
                table.owner_id(),
                sorted_tags(table.tags()),
                table.propagating_vgws()
            )];
            lines.extend(table.associations().iter().map(|a| format!("{a:?}")));
            lines.extend(table.routes().iter().map(|r| format!("{r:?}")));
            lines.sort();
            (table.route_table_id().unwrap().to_string(), lines)
        })
        .collect()
}

fn plan(emulator: &Emulator) {
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
        .code(0);
}

fn apply(emulator: &Emulator) {
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains("0 failed"));
}

fn restore(emulator: &Emulator) -> assert_cmd::assert::Assert {
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains("0 failed"))
}

/// The VPC's own blocks, as the plan would allow them.
async fn vpc_blocks(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> Vec<String> {
    let out = ec2.describe_vpcs().vpc_ids(vpc_id).send().await.unwrap();
    let vpc = &out.vpcs()[0];
    let mut blocks: Vec<String> = vpc
        .cidr_block_association_set()
        .iter()
        .filter_map(|a| a.cidr_block().map(str::to_string))
        .collect();
    blocks.extend(
        vpc.ipv6_cidr_block_association_set()
            .iter()
            .filter_map(|a| a.ipv6_cidr_block().map(str::to_string)),
    );
    blocks
}

/// The lowest-numbered `count` entries of one direction, as (action, range).
fn top_entries(
    acl: &aws_sdk_ec2::types::NetworkAcl,
    egress: bool,
    count: usize,
) -> Vec<(String, String)> {
    let mut entries: Vec<_> = acl
        .entries()
        .iter()
        .filter(|e| e.egress() == Some(egress))
        .collect();
    entries.sort_by_key(|e| e.rule_number());
    entries
        .iter()
        .take(count)
        .map(|e| {
            (
                e.rule_action().unwrap().as_str().to_string(),
                e.cidr_block().or(e.ipv6_cidr_block()).unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn nacl_deny_puts_deny_all_atop_every_subnet_acl_and_restore_gives_each_acl_back_exactly() {
    let (emulator, seeded) = seeded_emulator().await;
    let ec2 = emulator.ec2(REGION).await;
    let original = network_acls(&ec2).await;

    plan(&emulator);
    let text = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(text.contains("kind: nacl_deny"), "{text}");
    assert!(
        text.contains("Network ACLs are stateless: unlike security groups, this cuts established connections at once"),
        "{text}"
    );
    assert_eq!(network_acls(&ec2).await, original, "plan changes nothing");
    apply(&emulator);

    // Every subnet of the region (the seeded VPC's and the default VPC's) is behind an ACL that first
    // allows its VPC's own blocks and the responder's range, then denies everything else.
    let subnets = ec2.describe_subnets().send().await.unwrap();
    let acls = ec2.describe_network_acls().send().await.unwrap();
    assert!(subnets.subnets().len() >= 2);
    for subnet in subnets.subnets() {
        let subnet_id = subnet.subnet_id().unwrap();
        let acl = acls
            .network_acls()
            .iter()
            .find(|acl| {
                acl.associations()
                    .iter()
                    .any(|a| a.subnet_id() == Some(subnet_id))
            })
            .unwrap_or_else(|| panic!("{subnet_id} has a network ACL"));
        let mut expected: Vec<(String, String)> = vpc_blocks(&ec2, subnet.vpc_id().unwrap())
            .await
            .into_iter()
            .map(|b| ("allow".to_string(), b))
            .collect();
        expected.push(("allow".into(), RESPONDER_CIDR.into()));
        expected.push(("deny".into(), "0.0.0.0/0".into()));
        expected.push(("deny".into(), "::/0".into()));
        for egress in [false, true] {
            assert_eq!(
                top_entries(acl, egress, expected.len()),
                expected,
                "{subnet_id} egress={egress}"
            );
        }
    }
    let seeded_acl = acls
        .network_acls()
        .iter()
        .find(|acl| acl.vpc_id() == Some(seeded.vpc_id.as_str()))
        .unwrap();
    let top = top_entries(seeded_acl, false, 2);
    assert_eq!(top[0], ("allow".to_string(), "10.20.0.0/16".to_string()));
    assert!(
        top[1].1.contains(':'),
        "the VPC's IPv6 block is allowed: {top:?}"
    );

    restore(&emulator).stderr(contains(
        "removed ingress rule 1 allow all traffic from 10.20.0.0/16",
    ));
    assert_eq!(
        network_acls(&ec2).await,
        original,
        "restore gives back exactly what was there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route_remove_leaves_no_route_out_and_restore_gives_each_table_back_exactly() {
    let (emulator, seeded) = seeded_emulator().await;
    let ec2 = emulator.ec2(REGION).await;
    let original = route_tables(&ec2).await;

    plan(&emulator);
    let text = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(
        text.contains(&format!(
            "id: route_remove/{REGION}/{}",
            seeded.network.public_route_table
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "id: route_remove/{REGION}/{}",
            seeded.network.private_route_table
        )),
        "{text}"
    );
    assert_eq!(route_tables(&ec2).await, original, "plan changes nothing");
    apply(&emulator);

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
    let mut left = Vec::new();
    for table in tables.route_tables() {
        for route in table.routes() {
            let out = route.destination_cidr_block() == Some("0.0.0.0/0")
                || route.destination_ipv6_cidr_block() == Some("::/0")
                || route.nat_gateway_id().is_some()
                || route.egress_only_internet_gateway_id().is_some()
                || route.vpc_peering_connection_id().is_some()
                || route.transit_gateway_id().is_some()
                || route
                    .gateway_id()
                    .is_some_and(|g| g.starts_with("igw-") || g.starts_with("vgw-"));
            if out {
                left.push(format!("{:?}: {route:?}", table.route_table_id()));
            }
        }
    }
    assert_eq!(left, Vec::<String>::new(), "no route out is left");
    // The local routes and the S3 endpoint's route stay.
    let private = tables
        .route_tables()
        .iter()
        .find(|t| t.route_table_id() == Some(seeded.network.private_route_table.as_str()))
        .unwrap();
    assert!(
        private
            .routes()
            .iter()
            .any(|r| r.gateway_id() == Some(seeded.network.s3_endpoint.as_str()))
    );
    assert!(
        private
            .routes()
            .iter()
            .any(|r| r.gateway_id() == Some("local")
                && r.destination_cidr_block() == Some("10.20.0.0/16"))
    );

    restore(&emulator).stderr(contains(format!(
        "re-created 0.0.0.0/0 → internet gateway {}",
        seeded.network.internet_gateway
    )));
    assert_eq!(
        route_tables(&ec2).await,
        original,
        "restore gives back exactly what was there"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nacl_restore_removes_only_its_own_entries_and_reports_one_replaced_since() {
    let (emulator, seeded) = seeded_emulator().await;
    let ec2 = emulator.ec2(REGION).await;
    let original = network_acls(&ec2).await;
    plan(&emulator);
    apply(&emulator);

    let acls = ec2.describe_network_acls().send().await.unwrap();
    let acl = acls
        .network_acls()
        .iter()
        .find(|acl| acl.vpc_id() == Some(seeded.vpc_id.as_str()))
        .unwrap();
    let acl_id = acl.network_acl_id().unwrap().to_string();
    // Rules 1-3 allow the VPC's blocks and the responder's range; rule 4 is the cut's IPv4 deny-all.
    assert_eq!(
        top_entries(acl, false, 4)[3],
        ("deny".to_string(), "0.0.0.0/0".to_string())
    );
    // During the incident someone swaps that deny for a narrow allow, and adds an entry of their own.
    ec2.replace_network_acl_entry()
        .network_acl_id(&acl_id)
        .rule_number(4)
        .egress(false)
        .protocol("6")
        .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
        .cidr_block("198.51.100.0/24")
        .port_range(
            aws_sdk_ec2::types::PortRange::builder()
                .from(443)
                .to(443)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.create_network_acl_entry()
        .network_acl_id(&acl_id)
        .rule_number(50)
        .egress(false)
        .protocol("6")
        .rule_action(aws_sdk_ec2::types::RuleAction::Deny)
        .cidr_block("192.0.2.0/24")
        .port_range(
            aws_sdk_ec2::types::PortRange::builder()
                .from(22)
                .to(22)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let later_changes: Vec<String> = network_acls(&ec2).await[&acl_id]
        .iter()
        .filter(|line| line.contains("198.51.100.0/24") || line.contains("192.0.2.0/24"))
        .cloned()
        .collect();
    assert_eq!(later_changes.len(), 2);

    restore(&emulator)
        .stderr(contains(
            "conflict: ingress rule 4 deny all traffic from 0.0.0.0/0 was added by the cut, but that rule number now holds ingress rule 4 allow protocol 6 port 443 from 198.51.100.0/24; left as it is",
        ))
        .stderr(contains("removed ingress rule 5 deny all traffic from ::/0"));

    let mut expected = original.clone();
    let lines = expected.get_mut(&acl_id).unwrap();
    lines.extend(later_changes);
    lines.sort();
    assert_eq!(
        network_acls(&ec2).await,
        expected,
        "every entry the cut added is gone except the replaced one, and the later changes stay"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn route_restore_recreates_what_was_removed_and_leaves_a_route_changed_since() {
    let (emulator, seeded) = seeded_emulator().await;
    let ec2 = emulator.ec2(REGION).await;
    let original = route_tables(&ec2).await;
    plan(&emulator);
    apply(&emulator);

    let private = &seeded.network.private_route_table;
    // During the incident someone points the private default route at an inspection appliance, and
    // puts the peering route back exactly as it was.
    let eni = ec2
        .create_network_interface()
        .subnet_id(&seeded.network.private_subnet)
        .send()
        .await
        .unwrap();
    let eni_id = eni
        .network_interface()
        .and_then(|n| n.network_interface_id())
        .unwrap()
        .to_string();
    ec2.create_route()
        .route_table_id(private)
        .destination_cidr_block("0.0.0.0/0")
        .network_interface_id(&eni_id)
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(private)
        .destination_cidr_block("10.30.0.0/16")
        .vpc_peering_connection_id(&seeded.network.peering)
        .send()
        .await
        .unwrap();
    let appliance_route: Vec<String> = route_tables(&ec2).await[private]
        .iter()
        .filter(|line| line.contains(&eni_id))
        .cloned()
        .collect();
    assert_eq!(appliance_route.len(), 1);

    restore(&emulator)
        .stderr(contains(format!(
            "conflict: 0.0.0.0/0 → NAT gateway {} was deleted by the cut, but the table now routes 0.0.0.0/0 to network interface {eni_id}; left as it is",
            seeded.network.nat_gateway
        )))
        .stderr(contains(format!(
            "already present: 10.30.0.0/16 → peering connection {}",
            seeded.network.peering
        )))
        .stderr(contains(format!(
            "re-created 172.16.0.0/12 → virtual private gateway {}",
            seeded.network.vpn_gateway
        )));

    let mut expected = original.clone();
    let lines = expected.get_mut(private).unwrap();
    let nat = seeded.network.nat_gateway.as_str();
    let before_len = lines.len();
    lines.retain(|line| !line.contains(nat));
    assert_eq!(lines.len(), before_len - 1, "the NAT route was one line");
    lines.extend(appliance_route);
    lines.sort();
    assert_eq!(
        route_tables(&ec2).await,
        expected,
        "every deleted route is back except the one whose destination was taken since"
    );
}

/// The responder keeps their office ranges in a prefix list of the account's own, and their SSH rule and
/// their VPN route name the list: with `--keep-cidr` over the office, both are kept, and so is the VPN
/// gateway they go through, as the same rule and route written with the ranges would be. The partner's
/// list (198.51.100.0/24, beyond the keep range) is still cut, saying why. Restore gives back exactly the
/// groups and tables there were.
#[tokio::test(flavor = "multi_thread")]
async fn a_prefix_list_of_the_responders_ranges_is_kept_like_the_ranges_and_restore_is_exact() {
    use aws_sdk_ec2::types::{AddPrefixListEntry, IpPermission, PrefixListId};

    let (emulator, seeded) = seeded_emulator().await;
    let ec2 = emulator.ec2(REGION).await;
    let office = ec2
        .create_managed_prefix_list()
        .prefix_list_name("responder-offices")
        .address_family("IPv4")
        .max_entries(5)
        .entries(AddPrefixListEntry::builder().cidr("203.0.113.0/25").build())
        .entries(
            AddPrefixListEntry::builder()
                .cidr("203.0.113.200/32")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let office = office
        .prefix_list()
        .unwrap()
        .prefix_list_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&seeded.bastion_group)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .prefix_list_ids(PrefixListId::builder().prefix_list_id(&office).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.create_route()
        .route_table_id(&seeded.network.private_route_table)
        .destination_prefix_list_id(&office)
        .gateway_id(&seeded.network.vpn_gateway)
        .send()
        .await
        .unwrap();
    let groups_before = crate::snapshot::security_groups(&ec2).await;
    let tables_before = route_tables(&ec2).await;
    let gateways_before = crate::snapshot::vpn_gateways(&ec2).await;

    plan(&emulator);
    let text = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    let plan: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let cut = |id: String| {
        plan["cuts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|c| c["id"].as_str() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no cut {id} in {text}"))
            .clone()
    };
    let bastion = cut(format!("sg_revoke/{REGION}/{}", seeded.bastion_group));
    let kept_lists: Vec<&str> = bastion["after"]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|r| r["prefix_list_id"].as_str())
        .collect();
    assert_eq!(kept_lists, vec![office.as_str()], "{bastion:?}");
    assert!(
        bastion["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("from prefix list {office}")),
        "{bastion:?}"
    );
    let db = cut(format!("sg_revoke/{REGION}/{}", seeded.db_group));
    let db_reason = db["reason"].as_str().unwrap();
    assert!(
        db_reason.contains("Prefix lists cut despite --keep-cidr: pl-")
            && db_reason.contains("(its entries are not the responder's: each inside a keep range or the VPC, one at least inside a keep range)"),
        "{db_reason}"
    );
    let table = cut(format!(
        "route_remove/{REGION}/{}",
        seeded.network.private_route_table
    ));
    let kept_routes: Vec<&str> = table["after"]["routes"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|r| r["destination_prefix_list_id"].as_str())
        .filter(|pl| *pl == office)
        .collect();
    assert_eq!(kept_routes, vec![office.as_str()], "{table:?}");
    let vgw = cut(format!(
        "vgw_detach/{REGION}/{}",
        seeded.network.vpn_gateway
    ));
    assert_eq!(vgw["enabled"].as_bool(), Some(false), "{vgw:?}");
    let because = vgw["reason"].as_str().unwrap_or_default();
    assert!(
        because.contains(&format!(
            "sends prefix list {office} to {}",
            seeded.network.vpn_gateway
        )),
        "{vgw:?}"
    );

    apply(&emulator);
    let groups = crate::snapshot::security_groups(&ec2).await;
    let bastion_rules = groups[&seeded.bastion_group].join("\n");
    assert!(bastion_rules.contains(&office), "{bastion_rules}");
    assert!(!bastion_rules.contains("0.0.0.0/0"), "{bastion_rules}");
    let db_rules = groups[&seeded.db_group].join("\n");
    assert!(
        !db_rules.contains("pl-"),
        "the partner's list is cut: {db_rules}"
    );
    let tables = route_tables(&ec2).await;
    let private = tables[&seeded.network.private_route_table].join("\n");
    assert!(private.contains(&office), "{private}");
    assert!(!private.contains("172.16.0.0/12"), "{private}");
    assert_eq!(
        crate::snapshot::vpn_gateways(&ec2).await,
        gateways_before,
        "the VPN gateway the kept route goes through stays attached"
    );
    crate::watch::watch_once(&emulator)
        .assert()
        .code(0)
        .stdout(contains("0 reopened, 0 changed"));

    // Someone who may edit the list widens it to the whole internet: the kept SSH rule and VPN route look
    // the same, and watch sees the group and the table changed by the list's version.
    let version = ec2
        .describe_managed_prefix_lists()
        .prefix_list_ids(&office)
        .send()
        .await
        .unwrap()
        .prefix_lists()[0]
        .version()
        .unwrap();
    ec2.modify_managed_prefix_list()
        .prefix_list_id(&office)
        .current_version(version)
        .add_entries(AddPrefixListEntry::builder().cidr("0.0.0.0/0").build())
        .send()
        .await
        .unwrap();
    let bastion_cut = format!("sg_revoke/{REGION}/{}", seeded.bastion_group);
    crate::watch::watch_once(&emulator)
        .assert()
        .code(2)
        .stderr(contains(format!("REOPENED  {bastion_cut}: changed")))
        .stderr(contains(format!(
            "REOPENED  route_remove/{REGION}/{}: changed",
            seeded.network.private_route_table
        )))
        .stdout(contains("0 reopened, 2 changed"));

    restore(&emulator);
    assert_eq!(crate::snapshot::security_groups(&ec2).await, groups_before);
    assert_eq!(route_tables(&ec2).await, tables_before);
}

/// The findings of `dns_way_out` in a plan file, as (region, message).
fn dns_findings(emulator: &Emulator, plan: &str) -> Vec<(String, String)> {
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path(plan)).unwrap()).unwrap();
    plan["findings"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "dns_way_out")
        .map(|f| {
            (
                f["region"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The seal leaves DNS through the VPC's resolver open: the plan says so of the seeded VPC, High, with the
/// commands that close it; a VPC whose DNS support is off is not named, and with none on, no finding.
#[tokio::test(flavor = "multi_thread")]
async fn the_plan_reports_dns_as_a_way_out_of_the_vpcs_it_seals_unless_their_dns_support_is_off() {
    let (emulator, seeded) = seeded_emulator().await;
    plan(&emulator);
    let found = dns_findings(&emulator, "plans/p.yaml");
    assert_eq!(found.len(), 1, "{found:?}");
    let (region, message) = &found[0];
    assert_eq!(region, REGION);
    assert!(
        message.contains(&seeded.vpc_id)
            && message.contains("--no-enable-dns-support")
            && message.contains("associate-firewall-rule-group"),
        "{message}"
    );

    let ec2 = emulator.ec2(REGION).await;
    let vpcs = ec2.describe_vpcs().send().await.unwrap();
    for vpc in vpcs.vpcs() {
        ec2.modify_vpc_attribute()
            .vpc_id(vpc.vpc_id().unwrap())
            .enable_dns_support(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(false)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    emulator
        .plan(REGION, "plans/no-dns.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
        .code(0);
    assert_eq!(dns_findings(&emulator, "plans/no-dns.yaml"), []);
}
