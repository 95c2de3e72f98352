//! `igw_detach` killed mid-run. The network crash scenario never detaches a gateway (its VPC's NAT
//! gateway holds an Elastic IP, so the cut is proposed disabled), so this one seeds two quiet VPCs, each
//! with its internet gateway: SIGKILL right after the first and after the last DetachInternetGateway
//! (the gateway detached, its completion never journaled) must still let restore attach each gateway to
//! its VPC again; and restore killed after its first and last AttachInternetGateway, then run again,
//! must finish the job.

use super::{
    REGION, Writes, kill_apply_and_restore_at_both_ends, reset, uncut_apply, uncut_restore,
};
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

/// The internet gateways as the crash test compares them.
async fn gateways(emulator: &Emulator) -> String {
    format!(
        "{:?}",
        snapshot::internet_gateways(&emulator.ec2(REGION).await).await
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn igw_detach_apply_and_restore_killed_after_first_and_last_call_give_back_every_gateway() {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;

    // Uncut runs tell where the detaches and attaches come.
    let original = seed_and_plan(&emulator, &ec2, "full").await;
    let apply_calls = uncut_apply(&emulator);
    assert_ne!(
        gateways(&emulator).await,
        original,
        "the gateways were detached"
    );
    let restore_calls = uncut_restore(&emulator, &[]);
    assert_eq!(gateways(&emulator).await, original);

    kill_apply_and_restore_at_both_ends(
        &emulator,
        Writes {
            calls: &apply_calls,
            of: &[DETACH],
        },
        Writes {
            calls: &restore_calls,
            of: &[ATTACH],
        },
        &[],
        &|emulator, name| {
            Box::pin(
                async move { seed_and_plan(emulator, &emulator.ec2(REGION).await, &name).await },
            )
        },
        &|emulator| Box::pin(async move { gateways(emulator).await }),
    )
    .await;
}
