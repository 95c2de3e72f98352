//! `hikkonuki verify` on the emulator, against real rollback files of the seeded account.
//!
//! The emulator (moto 5.2.5) does not implement VPC Reachability Analyzer: `CreateNetworkInsightsPath`
//! and the rest are unknown to it. What this proves is everything around the analysis: the rollback file
//! read and authenticated, the VPCs of the cuts in force found, their internet gateways and running
//! instances listed, a VPC whose gateway the plan detached reported as having nothing to analyze from the
//! internet, an endpoint lacking the analyzer reported as such (exit 1, never "sealed"), and nothing in
//! the account changed. The analysis itself (reachable, sealed, failed, timed out, clean-up) is tested
//! only with mocks of AWS's documented answers (`src/services/network/reachability/tests.rs`).

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, RESPONDER_CIDR};
use crate::snapshot;

const REGION: &str = "us-east-1";

async fn running_instance(ec2: &aws_sdk_ec2::Client, subnet: &str) -> String {
    ec2.run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string()
}

/// A VPC with an internet gateway attached, a running instance, and a security group open to SSH from
/// anywhere on the instance: one `sg_revoke` and one `igw_detach` to plan. Returns the VPC.
async fn small_vpc(ec2: &aws_sdk_ec2::Client) -> String {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.40.1.0/24")
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string();
    let gateway = ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_string();
    ec2.attach_internet_gateway()
        .internet_gateway_id(&gateway)
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let group = ec2
        .create_security_group()
        .group_name("verify-ssh")
        .description("ssh from anywhere")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(
            aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    aws_sdk_ec2::types::IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    ec2.run_instances()
        .image_id("ami-12c6146b")
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet)
        .security_group_ids(&group)
        .send()
        .await
        .unwrap();
    vpc
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_lists_the_paths_into_the_cut_vpcs_and_says_plainly_the_emulator_cannot_analyze_them()
 {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = leaky_account::seed(&config, &[REGION])
        .await
        .unwrap()
        .remove(0);
    let ec2 = emulator.ec2(REGION).await;
    let instance = running_instance(&ec2, &seeded.network.public_subnet).await;
    let small = small_vpc(&ec2).await;

    // The seeded VPC's open rules are revoked; its internet gateway stays attached (the NAT gateway's
    // address keeps AWS from detaching it).
    emulator
        .plan(REGION, "plans/rules.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR, "--kinds", "sg_revoke"])
        .args(["--vpc", &seeded.vpc_id])
        .assert()
        .code(0);
    emulator.apply("plans/rules.yaml").assert().code(0);
    let groups_before = snapshot::security_groups(&ec2).await;

    let output = emulator
        .hikkonuki()
        .args(["verify", "plans/rules.rollback.yaml", "--output", "json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let events = crate::steer::json_events(&output.stdout);
    let path = events
        .iter()
        .find(|event| {
            event["event"] == "path-verified"
                && event["source"] == seeded.network.internet_gateway.as_str()
                && event["destination"] == instance.as_str()
        })
        .unwrap_or_else(|| panic!("no event for the path into the seeded VPC: {events:?}"));
    assert_eq!(path["vpc"], seeded.vpc_id.as_str());
    assert_eq!(path["outcome"], "error", "{path}");
    assert!(
        path["details"][0].as_str().unwrap().contains(
            "ec2:CreateNetworkInsightsPath: the endpoint does not implement Reachability Analyzer"
        ),
        "{path}"
    );
    assert!(path["cleanup_failures"].as_array().unwrap().is_empty());
    let finished = events.last().unwrap();
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["command"], "verify");
    assert_eq!(finished["ok"], false);
    assert_eq!(finished["outcomes"]["reachable"], 0);
    assert!(
        finished["outcomes"]["error"].as_u64().unwrap() >= 1,
        "{finished}"
    );
    assert!(
        !events.iter().any(|event| event["outcome"] == "sealed"),
        "nothing is called sealed that was not analyzed: {events:?}"
    );
    assert_eq!(
        snapshot::security_groups(&ec2).await,
        groups_before,
        "verify changes nothing"
    );

    // The same, for people: one line per path, and the summary.
    emulator
        .hikkonuki()
        .args(["verify", "plans/rules.rollback.yaml"])
        .assert()
        .code(1)
        .stderr(contains(format!(
            "FAILED    {} -> {instance} in {} ({REGION})",
            seeded.network.internet_gateway, seeded.vpc_id
        )))
        .stderr(contains("does not implement Reachability Analyzer"))
        .stdout(contains("path(s) from the internet into 1 VPC(s) of the cuts in force in plans/rules.rollback.yaml: 1 error"));

    // A VPC whose internet gateway the plan detached: nothing to analyze from the internet, and so
    // nothing asked of the analyzer (exit 0).
    emulator
        .plan(REGION, "plans/gateway.yaml")
        .args(["--kinds", "sg_revoke,igw_detach", "--vpc", &small])
        .assert()
        .code(0);
    emulator.apply("plans/gateway.yaml").assert().code(0);
    let output = emulator
        .hikkonuki()
        .args(["verify", "plans/gateway.rollback.yaml", "--output", "json"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let events = crate::steer::json_events(&output.stdout);
    let verified: Vec<&serde_json::Value> = events
        .iter()
        .filter(|event| event["event"] == "path-verified")
        .collect();
    assert_eq!(verified.len(), 1, "{events:?}");
    assert_eq!(verified[0]["vpc"], small.as_str());
    assert_eq!(verified[0]["outcome"], "no_internet_gateway");
    assert!(verified[0]["source"].is_null() && verified[0]["destination"].is_null());
    assert_eq!(
        verified[0]["details"][0],
        "no internet gateway attached: nothing to analyze from the internet"
    );
    assert_eq!(events.last().unwrap()["ok"], true);
    emulator
        .hikkonuki()
        .args(["verify", "plans/gateway.rollback.yaml"])
        .assert()
        .code(0)
        .stderr(contains(format!(
            "nothing   {small} ({REGION})\n            no internet gateway attached: nothing to analyze from the internet"
        )));

    // A --vpc that takes none of the cut VPCs (a typo) verified nothing: an error, not "nothing open".
    emulator
        .hikkonuki()
        .args(["verify", "plans/gateway.rollback.yaml", "--vpc", "vpc-typo"])
        .assert()
        .code(1)
        .stdout(contains("is in a VPC matching --vpc: nothing to verify"))
        .stdout(contains("fix: give a VPC of the cuts in force"));

    // Once restored, no cut is in force: nothing to verify.
    emulator
        .restore("plans/gateway.rollback.yaml")
        .assert()
        .code(0);
    emulator
        .hikkonuki()
        .args(["verify", "plans/gateway.rollback.yaml"])
        .assert()
        .code(0)
        .stdout(contains("no cut in force"));
    // An evidence flow log names its VPC (for --vpc) but seals nothing, and restore keeps it: once the
    // rules it was made for are restored, it is the file's only cut in force, and there is no VPC to
    // verify (nothing asked of the analyzer).
    emulator
        .plan(REGION, "plans/evidence.yaml")
        .args(["--kinds", "sg_revoke,evidence_flow_logs", "--vpc", &small])
        .assert()
        .code(0);
    emulator.apply("plans/evidence.yaml").assert().code(0);
    emulator
        .restore("plans/evidence.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains("kept in place"));
    let output = emulator
        .hikkonuki()
        .args(["verify", "plans/evidence.rollback.yaml", "--output", "json"])
        .assert()
        .code(0)
        .stderr(contains("is in a VPC: nothing to verify"))
        .get_output()
        .clone();
    let events = crate::steer::json_events(&output.stdout);
    assert!(
        !events.iter().any(|event| event["event"] == "path-verified"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_refuses_a_rollback_file_that_was_edited() {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;
    let small = small_vpc(&ec2).await;
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--kinds", "sg_revoke", "--vpc", &small])
        .assert()
        .code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    let path = emulator.path("plans/p.rollback.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // Someone widens what the file says was cut: the entry no longer authenticates.
    let edited = text.replacen("0.0.0.0/0", "0.0.0.0/1", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    emulator
        .hikkonuki()
        .args(["verify", "plans/p.rollback.yaml"])
        .assert()
        .code(1)
        .stderr(contains("plans/p.rollback.yaml"));
}
