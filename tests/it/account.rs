//! The whole leaky account, two regions, every kind at once: after apply no network path leads out, after
//! restore every touched resource's full description equals what it was.

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, RESPONDER_CIDR, SeededAccount, SeededRegion};
use crate::{api_gateway, cloudfront, database, identity, lambda, mail, network, snapshot};

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

/// Every seeded region's state, in seeding order.
async fn region_states(emulator: &Emulator, seeded: &SeededAccount) -> Vec<RegionState> {
    let mut states = Vec::new();
    for region in &seeded.regions {
        states.push(region_state(emulator, region).await);
    }
    states
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

/// Everything account-wide and serverless the seed made, read with the SDK.
#[derive(Debug, PartialEq)]
struct AccountState {
    iam: std::collections::BTreeMap<String, String>,
    mail_and_storage: std::collections::BTreeMap<String, String>,
    lambda: std::collections::BTreeMap<String, String>,
    api: std::collections::BTreeMap<String, String>,
    distribution: aws_sdk_cloudfront::types::DistributionConfig,
}

async fn account_state(emulator: &Emulator, seeded: &SeededAccount) -> AccountState {
    let config = emulator.sdk_config(REGIONS[0]).await;
    AccountState {
        iam: identity::iam_state(&aws_sdk_iam::Client::new(&config), &seeded.identity).await,
        mail_and_storage: mail::state(emulator, &seeded.mail).await,
        lambda: lambda::lambda_state(&aws_sdk_lambda::Client::new(&config), &seeded.serverless)
            .await,
        api: api_gateway::api_state(&aws_sdk_apigateway::Client::new(&config), &seeded.api).await,
        distribution: cloudfront::config_of(
            &aws_sdk_cloudfront::Client::new(&config),
            &seeded.edge,
        )
        .await,
    }
}

/// The "done means": after apply, none of the seeded paths is open as before.
fn assert_cut(emulator_state: &AccountState, seeded: &SeededAccount) {
    let state = emulator_state;
    for key in &seeded.identity.keys {
        let keys = &state.iam[&format!("user/{} access keys", key.user)];
        assert!(!keys.contains("Active"), "{keys}");
    }
    let git = &state.iam["user/ci-deploy service credentials"];
    assert!(
        git.contains(&seeded.identity.service_credential_id) && git.contains("Inactive"),
        "{git}"
    );
    assert!(
        state.mail_and_storage["ses account us-east-1"].starts_with("sending_enabled: false,"),
        "{:?}",
        state.mail_and_storage
    );
    assert_eq!(state.mail_and_storage["identity policies"], "{}");
    assert!(state.mail_and_storage["account public access block"].contains("Some(true)"));
    let function = &seeded.serverless.public_function;
    assert_eq!(state.lambda[&format!("{function} concurrency")], "Some(0)");
    assert!(state.lambda[&format!("{function} url")].contains("AwsIam"));
    assert!(state.api["policy"].contains("HikkonukiDenyAllInvocations"));
    assert!(!state.distribution.enabled());
}

/// Restores the whole rollback file, lifting the session revocations and stopping the evidence too so
/// the whole account can be compared, and checks every region and the account are back exactly.
async fn restore_all_and_compare(
    emulator: &Emulator,
    seeded: &SeededAccount,
    (original, original_account): (&[RegionState], &AccountState),
) {
    emulator
        .restore("plans/p.rollback.yaml")
        .args(["--lift-session-revocation", "--stop-evidence"])
        .assert()
        .code(0)
        .stdout(contains(" 0 failed."));
    for (region, before) in seeded.regions.iter().zip(original) {
        assert_eq!(
            &region_state(emulator, region).await,
            before,
            "{} is back exactly",
            region.region
        );
    }
    assert_eq!(&account_state(emulator, seeded).await, original_account);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_whole_account_is_sealed_in_two_regions_and_restored_exactly() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGIONS[0]).await;
    let seeded = leaky_account::seed_account(&config, &REGIONS)
        .await
        .unwrap();
    let original = region_states(&emulator, &seeded).await;
    let original_account = account_state(&emulator, &seeded).await;

    emulator
        .plan(&REGIONS.join(","), "plans/p.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
        .code(0)
        .stdout(contains("~ nacl_deny/eu-west-1/"))
        .stdout(contains("~ route_remove/eu-west-1/"))
        .stdout(contains("~ vgw_detach/us-east-1/"))
        .stdout(contains("~ vpce_policy_deny/us-east-1/"))
        .stdout(contains("~ rds_public_off/eu-west-1/"))
        .stdout(contains("~ iam_key_deactivate/global/"))
        .stdout(contains(format!(
            "~ iam_service_credential_deactivate/global/{}",
            seeded.identity.service_credential_id
        )))
        .stdout(contains("~ ses_sending_pause/us-east-1/ses-account"))
        .stdout(contains("~ iam_session_revoke/global/"))
        .stdout(contains("~ ses_identity_policy_remove/us-east-1/"))
        .stdout(contains("~ s3_public_access_block/global/"))
        .stdout(contains("~ lambda_url_restrict/us-east-1/"))
        .stdout(contains("~ apigw_deny_policy/us-east-1/"))
        .stdout(contains("~ cloudfront_disable/global/"))
        .stdout(contains("cloudtrail_not_logging [us-east-1"))
        .stdout(contains("route53_public_records [global"));
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains("Sealed in "))
        .stderr(contains("sealed in "));
    for region in &seeded.regions {
        assert_sealed(&emulator, region).await;
    }
    assert_cut(&account_state(&emulator, &seeded).await, &seeded);

    restore_all_and_compare(&emulator, &seeded, (&original, &original_account)).await;
}

/// The account as a re-cut leaves it, beside what a cut leaves: two things are the re-cut's own by
/// design. A session revocation denies sessions issued before the moment it is (re-)applied, so its
/// time is the re-cut's; an API's deny takes effect by a deployment, so the re-cut's is a new one.
fn as_recut(mut state: AccountState) -> AccountState {
    for values in [&mut state.iam, &mut state.mail_and_storage] {
        for value in values.values_mut() {
            if value.contains("TokenIssueTime") {
                *value = "a deny of sessions issued before the (re-)cut".into();
            }
        }
    }
    state.api.retain(|key, _| key == "policy");
    state
}

/// Every kind's "reopened": after apply, each cut is put back behind the tool's back; `watch` sees each
/// one reopened (none merely "changed"), `--recut` cuts them all again (the account as apply left it),
/// and restore, undoing every generation, gives back exactly what was there.
#[tokio::test(flavor = "multi_thread")]
async fn every_cut_put_back_behind_the_tools_back_is_seen_reopened_cut_again_and_restored_exactly()
{
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGIONS[0]).await;
    let seeded = leaky_account::seed_account(&config, &REGIONS)
        .await
        .unwrap();
    let original = region_states(&emulator, &seeded).await;
    let original_account = account_state(&emulator, &seeded).await;
    emulator
        .plan(&REGIONS.join(","), "plans/p.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
        .code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    let as_cut = region_states(&emulator, &seeded).await;
    let as_cut_account = account_state(&emulator, &seeded).await;

    let undone =
        crate::watch::undo_behind_the_tools_back(&emulator, "plans/p.rollback.yaml", &REGIONS)
            .await;
    let output = crate::watch::watch_once(&emulator)
        .args(["--output", "json"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let verdicts: std::collections::BTreeMap<String, String> = String::from_utf8_lossy(&output)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] == "cut-reopened")
        .map(|event| {
            (
                event["id"].as_str().unwrap().to_string(),
                event["how"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Evidence snapshots are never taken back (their undo changes nothing), so they still hold.
    let not_reopened: Vec<String> = undone
        .iter()
        .filter(|id| !id.starts_with("evidence_snapshots/"))
        .filter(|id| {
            !verdicts
                .get(*id)
                .is_some_and(|how| how.starts_with("reopened"))
        })
        .map(|id| format!("{id}: {:?}", verdicts.get(id)))
        .collect();
    assert!(
        not_reopened.is_empty(),
        "every cut put back must be seen reopened:\n{}",
        not_reopened.join("\n")
    );

    crate::watch::watch_once(&emulator)
        .arg("--recut")
        .assert()
        .code(0);
    for (region, cut) in seeded.regions.iter().zip(&as_cut) {
        assert_eq!(
            &region_state(&emulator, region).await,
            cut,
            "{} is as apply left it",
            region.region
        );
    }
    assert_eq!(
        as_recut(account_state(&emulator, &seeded).await),
        as_recut(as_cut_account)
    );

    restore_all_and_compare(&emulator, &seeded, (&original, &original_account)).await;
}
