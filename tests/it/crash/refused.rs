//! A cut AWS refuses outright changes nothing, and the rollback file says so: restore then leaves the
//! resource alone, so a rule the team removed by hand after the failure stays removed. A cut refused
//! after one of its writes went through still has that write put back. The refusal is the proxy's
//! ([`super::kill_proxy::run_refusing`]): EC2's `UnauthorizedOperation`, the call never reaching the
//! emulator.

use aws_sdk_ec2::types::{IpPermission, IpRange};

use super::kill_proxy::run_refusing;
use crate::emulator::Emulator;
use crate::snapshot;

const REGION: &str = "us-east-1";

/// A security group open to the internet on SSH and HTTPS (and, as every group, out to anywhere), planned
/// alone as `plans/{name}.yaml`. Returns the group.
async fn open_group_planned(emulator: &Emulator, name: &str) -> String {
    let ec2 = emulator.ec2(REGION).await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.40.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap();
    let group = ec2
        .create_security_group()
        .group_name(format!("open-{name}"))
        .description("open to the internet")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    for port in [22, 443] {
        ec2.authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(world(port))
            .send()
            .await
            .unwrap();
    }
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--kinds", "sg_revoke", "--target", &group])
        .assert()
        .code(0);
    group
}

fn world(port: i32) -> IpPermission {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build()
}

/// The group's rules, one line each, as the snapshot helper reads them.
async fn rules_of(emulator: &Emulator, group: &str) -> Vec<String> {
    snapshot::security_groups(&emulator.ec2(REGION).await).await[group].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_aws_refused_outright_is_not_restored_over_a_rule_removed_by_hand_since() {
    let emulator = Emulator::start();
    let group = open_group_planned(&emulator, "refused").await;
    let original = rules_of(&emulator, &group).await;

    let (status, forwarded, refused, output) = run_refusing(
        &emulator,
        &["apply", "plans/refused.yaml", "--yes"],
        1,
        "refused.apply.log",
    );
    assert_eq!(status.code(), Some(1), "the cut failed:\n{output}");
    assert!(forwarded.is_empty(), "{forwarded:?}");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        output.contains("AWS refused every write of this cut: nothing was changed"),
        "{output}"
    );
    assert_eq!(rules_of(&emulator, &group).await, original);
    emulator
        .hikkonuki()
        .args(["show", "plans/refused.rollback.yaml"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "AWS refused every write of this cut: nothing was changed",
        ));

    // The team closes SSH by hand meanwhile; restore must not open it again.
    emulator
        .ec2(REGION)
        .await
        .revoke_security_group_ingress()
        .group_id(&group)
        .ip_permissions(world(22))
        .send()
        .await
        .unwrap();
    let closed_by_hand = rules_of(&emulator, &group).await;
    // Its permission and its rule, one line each.
    assert_eq!(
        closed_by_hand.len() + 2,
        original.len(),
        "{closed_by_hand:?}"
    );
    emulator
        .restore("plans/refused.rollback.yaml")
        .assert()
        .code(0);
    assert_eq!(rules_of(&emulator, &group).await, closed_by_hand);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_refused_after_one_of_its_writes_went_through_is_restored_exactly() {
    let emulator = Emulator::start();
    let group = open_group_planned(&emulator, "partly").await;
    let original = rules_of(&emulator, &group).await;

    let (status, forwarded, refused, output) = run_refusing(
        &emulator,
        &["apply", "plans/partly.yaml", "--yes"],
        2,
        "partly.apply.log",
    );
    assert_eq!(status.code(), Some(1), "the cut failed:\n{output}");
    assert_eq!(
        (forwarded.len(), refused.len()),
        (1, 1),
        "{forwarded:?} {refused:?}"
    );
    assert!(
        !output.contains("nothing was changed"),
        "one write went through:\n{output}"
    );
    assert_ne!(rules_of(&emulator, &group).await, original, "half cut");
    emulator
        .restore("plans/partly.rollback.yaml")
        .assert()
        .code(0);
    assert_eq!(rules_of(&emulator, &group).await, original);
}

/// A run stopped early (here `--fail-fast` after a refused cut) says to run the same command again, and
/// gives it whole: the rollback file and selection it was given, not just the plan, since the plan alone
/// would write a second rollback file and take every cut. Run again as given, it resumes in the same file,
/// and restore of that file gives both groups back.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_stopped_early_gives_back_its_whole_command_and_that_command_finishes_the_job() {
    let emulator = Emulator::start();
    let first = open_group_planned(&emulator, "first").await;
    let second = open_group_planned(&emulator, "second").await;
    let originals = (
        rules_of(&emulator, &first).await,
        rules_of(&emulator, &second).await,
    );
    emulator
        .plan(REGION, "plans/stopped.yaml")
        .args([
            "--kinds",
            "sg_revoke",
            "--target",
            &first,
            "--target",
            &second,
        ])
        .assert()
        .code(0);
    let command = [
        "apply",
        "plans/stopped.yaml",
        "--yes",
        "--fail-fast",
        "--rollback",
        "kept here.rollback.yaml",
        "--kinds",
        "sg_revoke",
    ];

    let (status, _, refused, output) = run_refusing(&emulator, &command, 1, "stopped.apply.log");
    assert_eq!(status.code(), Some(1), "{output}");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        output.contains("To continue, run the same command again")
            && output.contains(
                "apply plans/stopped.yaml --yes --fail-fast --rollback 'kept here.rollback.yaml' --kinds sg_revoke --parallelism 1"
            ),
        "{output}"
    );

    emulator
        .hikkonuki()
        .args(command)
        .args(["--parallelism", "1"])
        .assert()
        .success();
    assert!(
        !emulator.path("plans/stopped.rollback.yaml").exists(),
        "no second rollback file"
    );
    assert_ne!(rules_of(&emulator, &second).await, originals.1, "cut");
    emulator
        .restore("kept here.rollback.yaml")
        .assert()
        .success();
    assert_eq!(
        (
            rules_of(&emulator, &first).await,
            rules_of(&emulator, &second).await
        ),
        originals
    );
}
