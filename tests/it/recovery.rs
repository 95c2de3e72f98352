//! Runs that meet a lock: only one apply or restore at a time per rollback file, through whatever path,
//! and a run that died leaves nothing that needs removing by hand.

use std::fs;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account;
use crate::snapshot;

/// The lock is the operating system's, on the rollback file itself: a live holder is refused and named
/// by PID, through any path to the file (issue 12: a restore through a symlink used to run during an
/// apply), and the moment the holder is gone the next run goes ahead with nothing to remove.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_holder_is_refused_through_any_path_and_its_end_leaves_nothing_to_remove() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let ec2 = emulator.ec2("us-east-1").await;
    let original = snapshot::security_groups(&ec2).await;
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    let cut = snapshot::security_groups(&ec2).await;
    let rollback = emulator.path("plans/p.rollback.yaml");
    std::os::unix::fs::symlink(&rollback, emulator.path("other-path.yaml")).unwrap();
    let journal_before = fs::read(&rollback).unwrap();

    // This test process plays the other run, holding the lock as hikkonuki does.
    let holder = fs::File::open(&rollback).unwrap();
    holder.try_lock().unwrap();
    // The holder can be named only where the kernel lists flock holders (/proc/locks); a sandbox that
    // does not gets the refusal without a PID.
    let pid = format!("(PID {})", std::process::id());
    let named = kernel_lists_a_flock_of(std::process::id());
    for path in ["plans/p.rollback.yaml", "other-path.yaml"] {
        let refused = emulator
            .restore(path)
            .assert()
            .code(1)
            .stderr(contains("is working on this rollback file"));
        if named {
            refused.stderr(contains(pid.as_str()));
        }
    }
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains("is working on this rollback file"));
    assert_eq!(snapshot::security_groups(&ec2).await, cut, "nothing ran");
    assert_eq!(fs::read(&rollback).unwrap(), journal_before);

    drop(holder);
    emulator.restore("other-path.yaml").assert().code(0);
    assert_eq!(snapshot::security_groups(&ec2).await, original);
    let leftovers: Vec<String> = fs::read_dir(emulator.path("plans"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".lock"))
        .collect();
    assert!(leftovers.is_empty(), "no lock files: {leftovers:?}");
}

/// Whether the kernel's list of locks shows a flock held by `pid`.
fn kernel_lists_a_flock_of(pid: u32) -> bool {
    fs::read_to_string("/proc/locks").is_ok_and(|locks| {
        locks.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            matches!(fields.as_slice(), [_, "FLOCK", _, _, p, ..] if *p == pid.to_string())
        })
    })
}

/// Killed after creating the rollback file and before writing its header (the first step of apply that
/// touches the disk), apply leaves an empty file and has cut nothing: restore says so and apply starts
/// afresh, with no manual step.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_rollback_file_left_by_a_kill_before_the_header_needs_no_hand_editing() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let ec2 = emulator.ec2("us-east-1").await;
    let original = snapshot::security_groups(&ec2).await;
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    fs::write(emulator.path("plans/p.rollback.yaml"), "").unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains("Nothing to restore"));
    emulator.apply("plans/p.yaml").assert().code(0);
    assert_ne!(snapshot::security_groups(&ec2).await, original);
    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(snapshot::security_groups(&ec2).await, original);
}

/// Killed while creating the rollback file, an older apply (which wrote the comment at the top apart from
/// the header) left the comment alone, or with the header's line cut short: it recorded nothing and cut
/// nothing. Restore says so and apply starts the file afresh, where both refused it.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_file_left_with_only_its_preamble_by_a_kill_needs_no_hand_editing() {
    const PREAMBLE: &str = "\
# hikkonuki rollback file. `hikkonuki restore` reads it to reconnect what apply cut.
# Do not edit: every entry is chained to the one before it, and restore refuses a broken chain.
";
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let ec2 = emulator.ec2("us-east-1").await;
    let original = snapshot::security_groups(&ec2).await;
    let left_by_a_kill = [
        PREAMBLE.to_string(),
        format!("{PREAMBLE}- {{\"seq\":0,\"prev\":\"\",\"at\":\"2026-"),
    ];
    for (n, left) in left_by_a_kill.iter().enumerate() {
        // A plan of its own each time: restore keeps the evidence kinds in place, so the last plan is
        // stale once restored.
        let (plan, rollback) = (
            format!("plans/p{n}.yaml"),
            format!("plans/p{n}.rollback.yaml"),
        );
        emulator.plan("us-east-1", &plan).assert().code(0);
        fs::write(emulator.path(&rollback), left).unwrap();
        emulator
            .restore(&rollback)
            .assert()
            .code(0)
            .stdout(contains("Nothing to restore"));
        emulator
            .apply(&plan)
            .assert()
            .code(0)
            .stderr(contains("the file is started afresh"));
        assert_ne!(snapshot::security_groups(&ec2).await, original);
        emulator.restore(&rollback).assert().code(0);
        assert_eq!(snapshot::security_groups(&ec2).await, original);
    }
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
