//! Runs that meet a lock: only one apply or restore at a time per rollback file, and a lock left by a dead
//! process is reported rather than taken.

use std::fs;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account;
use crate::snapshot;

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lock_from_a_dead_apply_is_reported_and_nothing_changes_until_it_is_removed() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let ec2 = emulator.ec2("us-east-1").await;
    let original = snapshot::security_groups(&ec2).await;
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    let lock = emulator.path("plans/p.rollback.yaml.lock");
    fs::write(
        &lock,
        "pid=99999999\nstarted=2026-11-28T10:00:00Z\ncommand=apply\n",
    )
    .unwrap();

    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains("a lock was left by hikkonuki apply (PID 99999999, started 2026-11-28T10:00:00Z), which is no longer running"))
        .stderr(contains("remove"));
    assert_eq!(snapshot::security_groups(&ec2).await, original);
    assert!(lock.exists(), "the stale lock is the operator's to remove");

    fs::remove_file(&lock).unwrap();
    emulator.apply("plans/p.yaml").assert().code(0);
    assert!(!lock.exists(), "apply releases its lock");
    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert!(!lock.exists(), "restore releases its lock");
    assert_eq!(snapshot::security_groups(&ec2).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_with_another_plans_rollback_file_refuses_to_mix_them() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    for name in ["a", "b"] {
        emulator
            .plan("us-east-1", &format!("plans/{name}.yaml"))
            .assert()
            .code(0);
    }
    emulator
        .apply("plans/a.yaml")
        .args(["--rollback", "plans/shared.rollback.yaml"])
        .assert()
        .code(0);
    let before = fs::read_to_string(emulator.path("plans/shared.rollback.yaml")).unwrap();
    emulator
        .apply("plans/b.yaml")
        .args(["--rollback", "plans/shared.rollback.yaml"])
        .assert()
        .code(1)
        .stderr(contains("already exists and may hold the way back"));
    assert_eq!(
        fs::read_to_string(emulator.path("plans/shared.rollback.yaml")).unwrap(),
        before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_run_again_after_it_finished_resumes_with_nothing_left_to_do() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    let ec2 = emulator.ec2("us-east-1").await;
    let cut = snapshot::security_groups(&ec2).await;
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains(
            "Resuming the apply recorded in plans/p.rollback.yaml",
        ))
        .stderr(contains("already cut by the earlier run"));
    assert_eq!(snapshot::security_groups(&ec2).await, cut);
}
