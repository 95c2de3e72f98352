//! `igw_detach`, `vgw_detach`, `vpce_policy_deny` and `vpce_delete` end to end on the emulator: plan →
//! apply → restore through the built binary, with the SDK's full description of every internet gateway,
//! virtual private gateway and VPC endpoint compared before apply and after restore. The plan holds every
//! kind of cut and all of them are applied; only these four kinds' resources are compared here.

use std::collections::BTreeMap;

use hikkonuki::plan::{self, Cut, Plan};
use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, SeededRegion};
use crate::snapshot;

const REGION: &str = "us-east-1";
const PLAN: &str = "plans/p.yaml";
const ROLLBACK: &str = "plans/p.rollback.yaml";
const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// The leaky account, plus a VPC whose internet gateway AWS would let us detach: nothing in it holds a
/// public address (the leaky VPC's NAT gateway holds an Elastic IP, which blocks its gateway's detach).
struct Account {
    emulator: Emulator,
    ec2: aws_sdk_ec2::Client,
    seeded: SeededRegion,
    quiet_vpc: String,
    quiet_igw: String,
}

async fn seeded_account() -> Account {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = leaky_account::seed(&config, &[REGION])
        .await
        .expect("seeding the leaky account")
        .remove(0);
    let ec2 = emulator.ec2(REGION).await;
    let (quiet_vpc, quiet_igw) = quiet_vpc_with_gateway(&ec2, "10.40.0.0/16").await;
    Account {
        emulator,
        ec2,
        seeded,
        quiet_vpc,
        quiet_igw,
    }
}

/// A VPC with an internet gateway attached and nothing holding a public address, so AWS would let the
/// gateway be detached: its VPC and gateway IDs.
pub async fn quiet_vpc_with_gateway(ec2: &aws_sdk_ec2::Client, cidr: &str) -> (String, String) {
    let vpc = ec2
        .create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap()
        .to_string();
    let igw = create_internet_gateway(ec2).await;
    ec2.attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    (vpc, igw)
}

async fn create_internet_gateway(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap()
        .to_string()
}

type Snapshot = (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
);

/// Every resource these kinds touch, as the SDK describes it.
async fn gateways_and_endpoints(ec2: &aws_sdk_ec2::Client) -> Snapshot {
    (
        snapshot::internet_gateways(ec2).await,
        snapshot::vpn_gateways(ec2).await,
        snapshot::vpc_endpoints(ec2).await,
    )
}

fn make_plan(emulator: &Emulator) -> Plan {
    emulator.plan(REGION, PLAN).assert().code(0);
    read_plan(emulator)
}

fn read_plan(emulator: &Emulator) -> Plan {
    plan::file::read(&emulator.path(PLAN), &hikkonuki::services::registry()).unwrap()
}

fn cut<'a>(plan: &'a Plan, kind: &str, target: &str) -> &'a Cut {
    let id = Cut::expected_id(kind, REGION, target);
    plan.cuts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("the plan has no cut {id}"))
}

/// Sets `enabled` on one cut, as an operator editing the plan would.
fn set_enabled(emulator: &Emulator, kind: &str, target: &str, enabled: bool) {
    let mut plan = read_plan(emulator);
    let id = Cut::expected_id(kind, REGION, target);
    let cut = plan.cuts.iter_mut().find(|c| c.id == id).unwrap();
    cut.enabled = enabled;
    plan::file::write(&emulator.path(PLAN), &plan).unwrap();
}

fn apply(emulator: &Emulator, extra: &[&str]) -> assert_cmd::assert::Assert {
    emulator.apply(PLAN).args(extra).assert()
}

fn restore(emulator: &Emulator) -> assert_cmd::assert::Assert {
    emulator.restore(ROLLBACK).assert()
}

/// The VPCs an internet gateway is attached to now.
async fn igw_vpcs(ec2: &aws_sdk_ec2::Client, igw: &str) -> Vec<String> {
    let out = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(igw)
        .send()
        .await
        .unwrap();
    out.internet_gateways()[0]
        .attachments()
        .iter()
        .map(|a| a.vpc_id().unwrap().to_string())
        .collect()
}

/// The VPCs a virtual private gateway is attached to now (state `attached`).
pub async fn vgw_vpcs(ec2: &aws_sdk_ec2::Client, vgw: &str) -> Vec<String> {
    let out = ec2
        .describe_vpn_gateways()
        .vpn_gateway_ids(vgw)
        .send()
        .await
        .unwrap();
    out.vpn_gateways()[0]
        .vpc_attachments()
        .iter()
        .filter(|a| a.state().map(|s| s.as_str()) == Some("attached"))
        .map(|a| a.vpc_id().unwrap().to_string())
        .collect()
}

/// The gateways propagating routes to a route table (`PropagatingVgws`; the emulator's is our model,
/// `tests/emulator/aws_model/ec2_vgw_route_propagation.py`, where a detach ends propagation).
pub async fn propagating_to(ec2: &aws_sdk_ec2::Client, table: &str) -> Vec<String> {
    ec2.describe_route_tables()
        .route_table_ids(table)
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .propagating_vgws()
        .iter()
        .filter_map(|g| g.gateway_id().map(str::to_string))
        .collect()
}

async fn endpoint(ec2: &aws_sdk_ec2::Client, id: &str) -> aws_sdk_ec2::types::VpcEndpoint {
    ec2.describe_vpc_endpoints()
        .vpc_endpoint_ids(id)
        .send()
        .await
        .unwrap()
        .vpc_endpoints()[0]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn gateways_and_endpoint_policies_are_cut_by_apply_and_given_back_exactly_by_restore() {
    let account = seeded_account().await;
    let (emulator, ec2, network) = (&account.emulator, &account.ec2, &account.seeded.network);
    let original = gateways_and_endpoints(ec2).await;

    let plan = make_plan(emulator);
    assert_eq!(
        gateways_and_endpoints(ec2).await,
        original,
        "plan must not change the account"
    );

    // The leaky VPC's gateway is blocked by the NAT gateway's Elastic IP: listed, off, and the blocker named.
    let blocked = cut(&plan, "igw_detach", &network.internet_gateway);
    assert!(!blocked.enabled, "{blocked:?}");
    assert!(
        blocked.reason.contains("Disabled: AWS refuses to detach"),
        "{}",
        blocked.reason
    );
    assert!(
        blocked
            .reason
            .contains(&format!("(NAT gateway {})", network.nat_gateway)),
        "{}",
        blocked.reason
    );
    assert!(
        blocked.reason.contains("Elastic IP eipalloc-"),
        "{}",
        blocked.reason
    );
    assert!(
        blocked.reason.contains("route_remove and nacl_deny"),
        "{}",
        blocked.reason
    );
    assert!(cut(&plan, "igw_detach", &account.quiet_igw).enabled);
    let vgw_cut = cut(&plan, "vgw_detach", &network.vpn_gateway);
    assert!(vgw_cut.enabled);
    let (table, gateway) = (&network.private_route_table, &network.vpn_gateway);
    assert_eq!(propagating_to(ec2, table).await, vec![gateway.clone()]);
    assert_eq!(
        vgw_cut.before.value()["propagates_to"],
        serde_json::json!([table]),
        "the plan records the route propagation restore must put back: {vgw_cut:?}"
    );
    assert!(cut(&plan, "vpce_policy_deny", &network.s3_endpoint).enabled);
    let delete = cut(&plan, "vpce_delete", &network.s3_endpoint);
    assert!(!delete.enabled && !delete.reversible);
    assert!(
        delete.reason.contains("CANNOT be undone"),
        "{}",
        delete.reason
    );

    apply(emulator, &[])
        .code(0)
        .stdout(contains(format!(
            "vpce_delete/{REGION}/{}",
            network.s3_endpoint
        )))
        .stdout(contains("Disabled, apply skips them ("))
        .stdout(contains(" 0 failed"));

    assert_eq!(
        igw_vpcs(ec2, &account.quiet_igw).await,
        Vec::<String>::new()
    );
    assert_eq!(
        igw_vpcs(ec2, &network.internet_gateway).await,
        vec![account.seeded.vpc_id.clone()],
        "a disabled cut is not applied"
    );
    assert_eq!(
        vgw_vpcs(ec2, &network.vpn_gateway).await,
        Vec::<String>::new()
    );
    assert_eq!(
        propagating_to(ec2, table).await,
        Vec::<String>::new(),
        "the emulator's model ends propagation at a detach"
    );
    let s3 = endpoint(ec2, &network.s3_endpoint).await;
    assert_eq!(s3.policy_document(), Some(DENY_ALL));
    assert_eq!(
        s3.state().map(|s| s.as_str()),
        Some("available"),
        "vpce_delete is off by default"
    );

    restore(emulator)
        .code(0)
        .stdout(contains("0 failed"))
        .stderr(contains(format!(
            "attached {} to {} again",
            account.quiet_igw, account.quiet_vpc
        )))
        .stderr(contains(format!(
            "route propagation from {gateway} to {table} was off once the gateway was back; turned on again as before the cut"
        )))
        .stderr(contains(format!(
            "put the original policy back on {}",
            network.s3_endpoint
        )));
    assert_eq!(
        gateways_and_endpoints(ec2).await,
        original,
        "restore gives back exactly what was there"
    );
    assert_eq!(propagating_to(ec2, table).await, vec![gateway.clone()]);

    // A second restore is a harmless no-op.
    restore(emulator)
        .code(0)
        .stdout(contains("Nothing to restore"));
    assert_eq!(gateways_and_endpoints(ec2).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn vpce_delete_runs_only_when_enabled_with_allow_irreversible_and_restore_says_it_is_gone() {
    let account = seeded_account().await;
    let (emulator, ec2) = (&account.emulator, &account.ec2);
    let endpoint_id = account.seeded.network.s3_endpoint.clone();
    // Proposed off by default: a plan of only disabled cuts is nothing to cut for
    // --detailed-exitcode, as apply would change nothing.
    emulator
        .plan(REGION, "plans/only-disabled.yaml")
        .args(["--kinds", "vpce_delete", "--detailed-exitcode"])
        .assert()
        .code(0)
        .stdout(contains(format!("vpce_delete/{REGION}/{endpoint_id}")))
        .stdout(contains("Every cut is disabled: apply changes nothing"));
    make_plan(emulator);
    set_enabled(emulator, "vpce_delete", &endpoint_id, true);
    let before = gateways_and_endpoints(ec2).await;

    apply(emulator, &[])
        .code(1)
        .stderr(contains("refusing to apply"))
        .stderr(contains(format!("vpce_delete/{REGION}/{endpoint_id}")))
        .stderr(contains("--allow-irreversible"))
        .stderr(contains("Nothing was changed"));
    assert_eq!(gateways_and_endpoints(ec2).await, before);
    assert!(!emulator.path(ROLLBACK).exists());

    apply(emulator, &["--allow-irreversible"])
        .code(0)
        .stdout(contains(
            "cannot be undone by restore (--allow-irreversible)",
        ));
    let deleted = endpoint(ec2, &endpoint_id).await;
    assert_eq!(deleted.state().map(|s| s.as_str()), Some("deleted"));

    let rollback = std::fs::read_to_string(emulator.path(ROLLBACK)).unwrap();
    assert!(
        rollback.contains("com.amazonaws.us-east-1.s3")
            && rollback.contains(&account.seeded.network.private_route_table),
        "the rollback file keeps what rebuilding needs"
    );
    restore(emulator)
        .code(0)
        .stdout(contains(format!(
            "Cannot be restored: vpce_delete/{REGION}/{endpoint_id} is irreversible"
        )))
        // The endpoint's policy cut ran first; with the endpoint gone, its undo reports and moves on.
        .stderr(contains(format!(
            "conflict: {endpoint_id} no longer exists"
        )));
    assert_eq!(
        endpoint(ec2, &endpoint_id)
            .await
            .state()
            .map(|s| s.as_str()),
        Some("deleted")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_alone_a_vpc_that_got_another_internet_gateway_after_the_cut() {
    let account = seeded_account().await;
    let (emulator, ec2) = (&account.emulator, &account.ec2);
    let (before, before_routes) = (
        gateways_and_endpoints(ec2).await,
        entries_and_routes(ec2).await,
    );
    make_plan(emulator);
    apply(emulator, &[]).code(0);
    assert_eq!(
        igw_vpcs(ec2, &account.quiet_igw).await,
        Vec::<String>::new()
    );

    // Someone attaches a new gateway to the VPC during the incident.
    let newcomer = create_internet_gateway(ec2).await;
    ec2.attach_internet_gateway()
        .internet_gateway_id(&newcomer)
        .vpc_id(&account.quiet_vpc)
        .send()
        .await
        .unwrap();

    restore(emulator).code(0).stderr(contains(format!(
        "conflict: {vpc} now has internet gateway {newcomer} attached; {igw} was left detached (a VPC takes one internet gateway). Detach that one first if {igw} should come back",
        vpc = account.quiet_vpc,
        igw = account.quiet_igw
    )));
    assert_eq!(
        igw_vpcs(ec2, &account.quiet_igw).await,
        Vec::<String>::new()
    );
    assert_eq!(
        igw_vpcs(ec2, &newcomer).await,
        vec![account.quiet_vpc.clone()],
        "the later change is left as it is"
    );
    // Everything else the plan cut is back as it was.
    let (mut after, after_routes) = (
        gateways_and_endpoints(ec2).await,
        entries_and_routes(ec2).await,
    );
    let mut expected = before;
    for gateway in [&account.quiet_igw, &newcomer] {
        after.0.remove(gateway.as_str());
        expected.0.remove(gateway.as_str());
    }
    assert_eq!(after, expected);
    assert_eq!(after_routes, before_routes);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_alone_a_vpc_that_got_another_vpn_gateway_after_the_cut() {
    let account = seeded_account().await;
    let (emulator, ec2) = (&account.emulator, &account.ec2);
    let (vgw, vpc) = (&account.seeded.network.vpn_gateway, &account.seeded.vpc_id);
    let (before, before_routes) = (
        gateways_and_endpoints(ec2).await,
        entries_and_routes(ec2).await,
    );
    make_plan(emulator);
    apply(emulator, &[]).code(0);
    assert_eq!(vgw_vpcs(ec2, vgw).await, Vec::<String>::new());

    let newcomer = ec2
        .create_vpn_gateway()
        .r#type(aws_sdk_ec2::types::GatewayType::Ipsec1)
        .send()
        .await
        .unwrap()
        .vpn_gateway()
        .and_then(|g| g.vpn_gateway_id())
        .unwrap()
        .to_string();
    ec2.attach_vpn_gateway()
        .vpn_gateway_id(&newcomer)
        .vpc_id(vpc)
        .send()
        .await
        .unwrap();

    restore(emulator).code(0).stderr(contains(format!(
        "conflict: {vpc} now has virtual private gateway {newcomer} attached; {vgw} was left detached (a VPC takes one virtual private gateway). Detach that one first if {vgw} should come back"
    )));
    assert_eq!(vgw_vpcs(ec2, vgw).await, Vec::<String>::new());
    assert_eq!(vgw_vpcs(ec2, &newcomer).await, vec![vpc.clone()]);
    // Left detached, the gateway propagates nowhere (the emulator's model ended it at the detach):
    // restore turns propagation back on only for a gateway it attached again.
    let table = &account.seeded.network.private_route_table;
    assert_eq!(propagating_to(ec2, table).await, Vec::<String>::new());
    // Everything else the plan cut is back as it was.
    let mut after = gateways_and_endpoints(ec2).await;
    let mut expected = before;
    for gateway in [vgw, &newcomer] {
        after.1.remove(gateway.as_str());
        expected.1.remove(gateway.as_str());
    }
    assert_eq!(after, expected);
    let without_propagation = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|line| {
                line.replace(
                    &format!("PropagatingVgw {{ gateway_id: Some(\"{vgw}\") }}"),
                    "",
                )
            })
            .collect()
    };
    assert_eq!(
        without_propagation(entries_and_routes(ec2).await),
        without_propagation(before_routes)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_alone_an_endpoint_policy_changed_after_the_cut() {
    let account = seeded_account().await;
    let (emulator, ec2) = (&account.emulator, &account.ec2);
    let endpoint_id = &account.seeded.network.s3_endpoint;
    make_plan(emulator);
    apply(emulator, &[]).code(0);
    assert_eq!(
        endpoint(ec2, endpoint_id).await.policy_document(),
        Some(DENY_ALL)
    );

    // A responder narrows the endpoint to one evidence bucket during the incident.
    let narrowed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::evidence/*"}]}"#;
    ec2.modify_vpc_endpoint()
        .vpc_endpoint_id(endpoint_id)
        .policy_document(narrowed)
        .send()
        .await
        .unwrap();

    restore(emulator).code(0).stderr(contains(format!(
        "conflict: the policy of {endpoint_id} was changed after the cut (it is now {narrowed}); left as it is. The policy before the cut was: "
    )));
    assert_eq!(
        endpoint(ec2, endpoint_id).await.policy_document(),
        Some(narrowed),
        "the later change is left as it is"
    );
}

/// Every network ACL's entries and every route table's routes, as the SDK describes them.
async fn entries_and_routes(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    let mut lines = Vec::new();
    for acl in ec2
        .describe_network_acls()
        .send()
        .await
        .unwrap()
        .network_acls()
    {
        lines.push(format!("{:?}: {:?}", acl.network_acl_id(), acl.entries()));
    }
    for table in ec2
        .describe_route_tables()
        .send()
        .await
        .unwrap()
        .route_tables()
    {
        // A table's routes have no order in AWS (the emulator lists them as created).
        let mut routes: Vec<String> = table.routes().iter().map(|r| format!("{r:?}")).collect();
        routes.sort();
        lines.push(format!(
            "{:?}: {routes:?} {:?}",
            table.route_table_id(),
            table.propagating_vgws()
        ));
    }
    lines.sort();
    lines
}

/// `apply --check` asks EC2 with `DryRun` whether each network cut would be permitted: the ACL entries,
/// the route deletions, both gateway detaches and the endpoint policy swap are each answered
/// "allowed" (the emulator's DryRun is our model, `tests/emulator/aws_model/ec2_dry_run.py`), and
/// nothing in the account changes.
#[tokio::test(flavor = "multi_thread")]
async fn apply_check_dry_runs_entries_routes_detaches_and_endpoint_policies_and_changes_nothing() {
    let account = seeded_account().await;
    let (emulator, ec2, network) = (&account.emulator, &account.ec2, &account.seeded.network);
    make_plan(emulator);
    let before = (
        gateways_and_endpoints(ec2).await,
        entries_and_routes(ec2).await,
    );
    let checked = emulator
        .hikkonuki()
        .args(["apply", PLAN, "--check"])
        .assert()
        .code(0)
        .stdout(contains("Nothing was changed."))
        .get_output()
        .stdout
        .clone();
    let checked = String::from_utf8_lossy(&checked);
    for cut in [
        format!("nacl_deny/{REGION}/"),
        format!("route_remove/{REGION}/{}", network.private_route_table),
        format!("igw_detach/{REGION}/{}", account.quiet_igw),
        format!("vgw_detach/{REGION}/{}", network.vpn_gateway),
        format!("vpce_policy_deny/{REGION}/{}", network.s3_endpoint),
    ] {
        assert!(
            checked.contains(&format!("allowed    {cut}")),
            "{cut} is dry-run and allowed:\n{checked}"
        );
    }
    assert!(
        !checked.contains("unchecked  nacl_deny") && !checked.contains("unchecked  route_remove"),
        "{checked}"
    );
    assert_eq!(
        (
            gateways_and_endpoints(ec2).await,
            entries_and_routes(ec2).await
        ),
        before
    );
    assert!(!emulator.path(ROLLBACK).exists());
}
