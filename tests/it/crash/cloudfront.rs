//! `cloudfront_maintenance` killed mid-run (no other crash scenario plans with `--maintenance-origin`):
//! each cut is one UpdateDistribution, then the invalidation of what the edge cached, so SIGKILL right after the first and the last of apply's writes
//! (the distribution pointed at the notice, its completion never journaled) must still let restore give
//! the whole configuration back; and restore killed after its first and last write (the routing given
//! back, then its invalidation), then run again, must finish the job.

use super::{
    REGION, apply_killed_then_restored, reset, restore_killed_then_restored, uncut_apply,
    uncut_restore,
};
use crate::cloudfront::{config_of, invalidations};
use crate::emulator::Emulator;
use crate::leaky_account::edge::{self, SeededEdge};

const MAINTENANCE: &str = "maintenance.leaky.example";

/// The first and last position (1-based) among a run's mutating calls.
fn first_and_last_write(calls: &[String]) -> Vec<usize> {
    assert!(!calls.is_empty(), "the run writes the distribution");
    let mut points = vec![1, calls.len()];
    points.dedup();
    points
}

/// The distribution seeded afresh, planned for `cloudfront_maintenance` alone as `plans/{name}.yaml`.
/// Returns its configuration as seeded.
async fn seed_and_plan(
    emulator: &Emulator,
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
) -> (SeededEdge, String) {
    reset(emulator);
    let seeded = edge::seed(&emulator.sdk_config(REGION).await)
        .await
        .expect("seeding CloudFront");
    let original = format!("{:?}", config_of(cloudfront, &seeded).await);
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--kinds", "cloudfront_maintenance"])
        .args(["--maintenance-origin", MAINTENANCE])
        .assert()
        .code(0);
    (seeded, original)
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudfront_maintenance_killed_after_its_first_and_last_write_is_given_back_exactly() {
    let emulator = Emulator::start();
    let cloudfront = aws_sdk_cloudfront::Client::new(&emulator.sdk_config(REGION).await);

    // Uncut runs tell where the writes come, in apply and in restore.
    let (seeded, original) = seed_and_plan(&emulator, &cloudfront, "full").await;
    let apply_calls = uncut_apply(&emulator);
    assert_ne!(
        format!("{:?}", config_of(&cloudfront, &seeded).await),
        original,
        "the distribution was pointed at the notice"
    );
    let restore_calls = uncut_restore(&emulator, &[]);
    assert_eq!(
        format!("{:?}", config_of(&cloudfront, &seeded).await),
        original
    );
    assert_eq!(
        (apply_calls.len(), restore_calls.len()),
        (2, 2),
        "each run writes the distribution, then invalidates the edge: {apply_calls:?} {restore_calls:?}"
    );

    for n in first_and_last_write(&apply_calls) {
        let name = format!("a{n}");
        let (seeded, original) = seed_and_plan(&emulator, &cloudfront, &name).await;
        let killed = apply_killed_then_restored(&emulator, &name, n);
        assert_eq!(
            format!("{:?}", config_of(&cloudfront, &seeded).await),
            original,
            "{}, then restore",
            killed.what
        );
    }

    for k in first_and_last_write(&restore_calls) {
        let name = format!("r{k}");
        let (seeded, original) = seed_and_plan(&emulator, &cloudfront, &name).await;
        let killed = restore_killed_then_restored(&emulator, &name, k, &[]);
        assert_eq!(
            format!("{:?}", config_of(&cloudfront, &seeded).await),
            original,
            "{}, then restore again",
            killed.what
        );
        // Killed before its invalidation, restore run again finds the routing given back and still
        // drops the notice page the edge cached.
        assert!(
            invalidations(&cloudfront, &seeded.distribution_id)
                .await
                .iter()
                .any(|(purpose, _)| purpose == "hikkonuki-restore"),
            "{}, then restore again: the edge was invalidated",
            killed.what
        );
    }
}
