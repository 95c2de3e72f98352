//! `igw_detach` killed mid-run. The network crash scenario never detaches a gateway (its VPC's NAT
//! gateway holds an Elastic IP, so the cut is proposed disabled), so this one seeds two quiet VPCs, each
//! with its internet gateway: SIGKILL right after the first and after the last DetachInternetGateway
//! (the gateway detached, its completion never journaled) must still let restore attach each gateway to
//! its VPC again; and restore killed after its first and last AttachInternetGateway, then run again,
//! must finish the job.

use super::{
    REGION, apply_killed_then_restored, first_and_last, reset, restore_killed_then_restored,
};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::gateways::quiet_vpc_with_gateway;
use crate::snapshot;

const DETACH: &str = "DetachInternetGateway";
const ATTACH: &str = "AttachInternetGateway";

/// Two VPCs, each with an internet gateway and nothing holding a public address; planned for
/// `igw_detach` alone as `plans/{name}.yaml`. Returns the gateways as seeded.
async fn seed_and_plan(emulator: &Emulator, ec2: &aws_sdk_ec2::Client, name: &str) -> String {
    reset(emulator);
    for cidr in ["10.40.0.0/16", "10.41.0.0/16"] {
        quiet_vpc_with_gateway(ec2, cidr).await;
    }
    let seeded = format!("{:?}", snapshot::internet_gateways(ec2).await);
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--kinds", "igw_detach"])
        .assert()
        .code(0);
    seeded
}

#[tokio::test(flavor = "multi_thread")]
async fn igw_detach_apply_and_restore_killed_after_first_and_last_call_give_back_every_gateway() {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;

    // Uncut runs tell where the detaches and attaches come.
    let original = seed_and_plan(&emulator, &ec2, "full").await;
    let (status, apply_calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    assert_ne!(
        format!("{:?}", snapshot::internet_gateways(&ec2).await),
        original,
        "the gateways were detached"
    );
    let (status, restore_calls, output) = run_through_proxy(
        &emulator,
        &["restore", "plans/full.rollback.yaml", "--yes"],
        None,
        "full.restore.log",
    );
    assert!(status.success(), "an uncut restore succeeds:\n{output}");
    assert_eq!(
        format!("{:?}", snapshot::internet_gateways(&ec2).await),
        original
    );

    for n in first_and_last(&apply_calls, &[DETACH]) {
        let name = format!("a{n}");
        let original = seed_and_plan(&emulator, &ec2, &name).await;
        let killed = apply_killed_then_restored(&emulator, &name, n);
        let what = &killed.what;
        assert_eq!(
            killed.seen.last().map(String::as_str),
            Some(DETACH),
            "{what}"
        );
        assert_eq!(
            format!("{:?}", snapshot::internet_gateways(&ec2).await),
            original,
            "{what}, then restore"
        );
    }

    for k in first_and_last(&restore_calls, &[ATTACH]) {
        let name = format!("r{k}");
        let original = seed_and_plan(&emulator, &ec2, &name).await;
        let killed = restore_killed_then_restored(&emulator, &name, k, &[]);
        let what = &killed.what;
        assert_eq!(
            killed.seen.last().map(String::as_str),
            Some(ATTACH),
            "{what}"
        );
        assert_eq!(
            format!("{:?}", snapshot::internet_gateways(&ec2).await),
            original,
            "{what}, then restore again"
        );
    }
}
