//! The regional switches under SIGKILL: apply killed right after each of the switches' first and last
//! mutating calls (the bastion's exclusion, the VPC block, the snapshot and AMI blocks), and restore killed
//! after each of its own, then restore run again must give every switch and exclusion back exactly.
//!
//! `vpc_block_public_access` makes several calls (exclusions first, then the block): killed between them,
//! the rollback file holds its intent only, and restore derives the undo from the plan (the prior mode, and
//! the exclusions carrying the cut's tag).

use super::{
    REGION, apply_killed_then_restored, first_and_last, reset, restore_killed_then_restored,
    uncut_apply, uncut_restore,
};
use crate::block_public_access::{seed, switches};
use crate::emulator::Emulator;

const ACTIONS: [&str; 4] = [
    "CreateVpcBlockPublicAccessExclusion",
    "ModifyVpcBlockPublicAccessOptions",
    "EnableSnapshotBlockPublicAccess",
    "EnableImageBlockPublicAccess",
];

const UNDO_ACTIONS: [&str; 4] = [
    "ModifyVpcBlockPublicAccessOptions",
    "DeleteVpcBlockPublicAccessExclusion",
    "DisableSnapshotBlockPublicAccess",
    "DisableImageBlockPublicAccess",
];

/// Seeds an emptied emulator and plans with the bastion's subnet kept; returns the switches as seeded.
async fn seed_and_plan(
    emulator: &Emulator,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    reset(emulator);
    let seeded = seed(emulator).await;
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--keep-subnet", &seeded.bastion_subnet])
        .assert()
        .code(0);
    switches(&emulator.ec2(REGION).await).await
}

#[tokio::test(flavor = "multi_thread")]
async fn switches_killed_after_each_of_their_calls_in_apply_or_restore_are_given_back_exactly() {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;

    // An uncut run: which calls apply and restore make, in order.
    let original = seed_and_plan(&emulator, "full").await;
    let calls = uncut_apply(&emulator);
    for action in ACTIONS {
        assert!(calls.iter().any(|c| c == action), "{action} in {calls:?}");
    }
    let undo_calls = uncut_restore(&emulator, &[]);
    assert_eq!(switches(&ec2).await, original, "uncut apply + restore");
    for action in UNDO_ACTIONS {
        assert!(
            undo_calls.iter().any(|c| c == action),
            "{action} in {undo_calls:?}"
        );
    }

    for n in first_and_last(&calls, &ACTIONS) {
        let name = format!("a{n}");
        let original = seed_and_plan(&emulator, &name).await;
        let killed = apply_killed_then_restored(&emulator, &name, n);
        let what = &killed.what;
        assert_eq!(killed.seen.len(), n, "{what}: {:?}", killed.seen);
        assert_eq!(switches(&ec2).await, original, "{what}, then restore");
    }

    for k in first_and_last(&undo_calls, &UNDO_ACTIONS) {
        let name = format!("r{k}");
        let original = seed_and_plan(&emulator, &name).await;
        let killed = restore_killed_then_restored(&emulator, &name, k, &[]);
        let what = &killed.what;
        assert_eq!(killed.seen.len(), k, "{what}: {:?}", killed.seen);
        assert_eq!(switches(&ec2).await, original, "{what}, then restore again");
    }
}
