//! `sg_revoke` killed between a group's two revokes (inbound, then outbound), then the same apply run
//! again. The resumed run revokes the rest where the earlier one stopped: a rewind would have authorized
//! the inbound rules again, under new rule IDs, so the group could never be the plan's `before` again,
//! and the cut was failed with the world's SSH open again and the outbound rules never revoked. Restore
//! then gives the group back exactly, and so where someone added a rule to the half-cut group meanwhile.

use aws_sdk_ec2::types::{IpPermission, IpRange};
use predicates::str::contains;

use super::{REGION, assert_killed, restore_directly, run_through_proxy};
use crate::emulator::Emulator;
use crate::snapshot;

/// The group's rules open to the world, as `direction protocol port` lines.
async fn open_to_the_world(ec2: &aws_sdk_ec2::Client, group: &str) -> Vec<String> {
    let rules = ec2
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut open: Vec<String> = rules
        .security_group_rules()
        .iter()
        .filter(|rule| rule.cidr_ipv4() == Some("0.0.0.0/0"))
        .map(|rule| {
            format!(
                "{} {} {:?}",
                if rule.is_egress() == Some(true) {
                    "egress"
                } else {
                    "ingress"
                },
                rule.ip_protocol().unwrap_or_default(),
                rule.from_port()
            )
        })
        .collect();
    open.sort();
    open
}

/// A rule someone adds to the half-cut group before the apply is run again.
const ADDED_SINCE: &str = "198.51.100.0/24";

#[tokio::test(flavor = "multi_thread")]
async fn a_group_killed_between_its_revokes_is_finished_by_the_resumed_apply_and_restored_exactly()
{
    killed_between_revokes_then_resumed(false).await;
}

/// The defect this guards against: a rule added to the half-cut group before the resumed apply made the
/// group "changed since", so the cut was failed and its outbound rules stayed open to the world. Here the
/// world's SSH is authorized again (the revoked rule back under a new ID) and another range's SSH added:
/// the rest of the reviewed cut is made and the world's SSH revoked again; the other rule, which no one
/// reviewed, is named and left as it is, and the cut is reported failed for it (recorded done, so restore
/// gives back exactly what the cut revoked, once).
#[tokio::test(flavor = "multi_thread")]
async fn a_half_cut_group_given_a_rule_meanwhile_is_finished_and_the_rule_left_and_named() {
    killed_between_revokes_then_resumed(true).await;
}

async fn killed_between_revokes_then_resumed(add_a_rule_meanwhile: bool) {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .and_then(|vpc| vpc.vpc_id())
        .unwrap()
        .to_string();
    // SSH from anywhere, and the outbound rule every new group gets (all traffic to 0.0.0.0/0).
    let group = ec2
        .create_security_group()
        .group_name("bastion")
        .description("SSH from anywhere")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let world_ssh = |cidr: &str| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(world_ssh("0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        open_to_the_world(&ec2, &group).await,
        ["egress -1 Some(-1)", "ingress tcp Some(22)"]
    );
    let original = snapshot::security_groups(&ec2).await;
    emulator
        .plan(REGION, "plans/sg.yaml")
        .args(["--kinds", "sg_revoke", "--target", &group])
        .assert()
        .code(0);

    let (status, seen, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/sg.yaml", "--yes"],
        Some(1),
        "sg.apply.log",
    );
    assert_killed(status, "apply killed after its inbound revoke", &output);
    assert_eq!(seen, ["RevokeSecurityGroupIngress"], "{output}");
    assert_eq!(
        open_to_the_world(&ec2, &group).await,
        ["egress -1 Some(-1)"],
        "half-done: inbound revoked, outbound not yet"
    );

    // The world's SSH authorized again (the revoked rule, under a new ID), then another range's: the
    // latter's ID is the rule no one reviewed.
    let mut added = None;
    for cidr in ["0.0.0.0/0", ADDED_SINCE]
        .into_iter()
        .filter(|_| add_a_rule_meanwhile)
    {
        let answer = ec2
            .authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(world_ssh(cidr))
            .send()
            .await
            .unwrap();
        added = answer.security_group_rules()[0]
            .security_group_rule_id()
            .map(str::to_string);
    }

    let resumed = emulator
        .apply("plans/sg.yaml")
        .assert()
        .code(if added.is_some() { 1 } else { 0 })
        .stdout(contains(
            "Resuming the apply recorded in plans/sg.rollback.yaml",
        ))
        .stdout(contains(if added.is_some() {
            " 1 failed, "
        } else {
            " 0 failed, "
        }));
    assert!(
        open_to_the_world(&ec2, &group).await.is_empty(),
        "the resumed apply finished the cut, and reopened nothing"
    );
    if let Some(added) = &added {
        let output = resumed.get_output();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            printed.contains(&format!(
                "the rest of the reviewed cut is made and recorded (restore gives back all it took), but {group} changed beside the cut since the plan, and that change, which no one reviewed, is left as it is: rule {added} (ingress tcp/22 from {ADDED_SINCE}) was added to {group}. Check it"
            )),
            "{printed}"
        );
        let left = ec2
            .describe_security_group_rules()
            .security_group_rule_ids(added)
            .send()
            .await
            .unwrap();
        assert_eq!(
            left.security_group_rules().len(),
            1,
            "the rule no one reviewed is left as it is"
        );
    }

    restore_directly(&emulator, "plans/sg.rollback.yaml", "resumed apply");
    if let Some(added) = &added {
        ec2.revoke_security_group_ingress()
            .group_id(&group)
            .security_group_rule_ids(added)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(snapshot::security_groups(&ec2).await, original);
}
