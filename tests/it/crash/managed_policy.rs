//! A deny that goes in a customer-managed policy takes two calls, CreatePolicy then AttachUserPolicy (or
//! AttachRolePolicy). Killed right after CreatePolicy, apply leaves a policy that exists, attached to
//! nobody, whose cut has an intent and no completion in the rollback file. The plan named that policy's
//! ARN, so restore finds and deletes it from the plan alone, and a resumed apply rewinds and cuts again.

use super::{REGION, assert_killed, restore_directly, rollback_file};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::identity::{
    ROOMLESS_ROLES, ROOMLESS_USERS, policies_state, seed_principals_without_inline_room,
};
use predicates::str::contains;

#[tokio::test(flavor = "multi_thread")]
async fn apply_killed_between_create_policy_and_attach_is_undone_or_resumed_from_the_plan() {
    let emulator = Emulator::start();
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config(REGION).await);
    seed_principals_without_inline_room(&iam).await;
    let original = policies_state(&iam, &ROOMLESS_USERS, &ROOMLESS_ROLES).await;
    let state = || policies_state(&iam, &ROOMLESS_USERS, &ROOMLESS_ROLES);

    // An uncut run tells where the first CreatePolicy comes.
    emulator.plan(REGION, "plans/full.yaml").assert().code(0);
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    let create = calls
        .iter()
        .position(|call| call == "CreatePolicy")
        .unwrap_or_else(|| panic!("the managed path creates a policy: {calls:?}"))
        + 1;
    assert!(
        calls
            .get(create)
            .is_some_and(|call| call.starts_with("Attach")),
        "the attach follows the create: {calls:?}"
    );
    restore_directly(&emulator, "plans/full.rollback.yaml", "uncut apply");
    assert_eq!(state().await, original, "uncut apply + restore");

    // Killed after CreatePolicy: restore deletes the policy no one attached.
    emulator.plan(REGION, "plans/killed.yaml").assert().code(0);
    let (status, seen, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/killed.yaml", "--yes"],
        Some(create),
        "killed.apply.log",
    );
    let what = "apply killed after CreatePolicy";
    assert_killed(status, what, &output);
    assert_eq!(seen.last().map(String::as_str), Some("CreatePolicy"));
    let left = state().await;
    assert_ne!(left, original, "{what}: the policy exists, unattached");
    let journal = rollback_file(&emulator, "plans/killed.rollback.yaml");
    // The kernel released the killed run's lock: nothing to remove by hand.
    let stdout = restore_directly(&emulator, "plans/killed.rollback.yaml", what);
    assert!(
        stdout.contains("its completion was not recorded"),
        "{what}: restore knows it is unsure\n{stdout}\n{journal}"
    );
    assert_eq!(state().await, original, "{what}, then restore");

    // Killed there again, then the same apply run again: it rewinds the half-done cut and cuts again.
    emulator.plan(REGION, "plans/resumed.yaml").assert().code(0);
    let (status, _, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/resumed.yaml", "--yes"],
        Some(create),
        "resumed.apply.log",
    );
    assert_killed(status, what, &output);
    // The kernel released the killed run's lock: nothing to remove by hand.
    emulator
        .apply("plans/resumed.yaml")
        .assert()
        .code(0)
        .stdout(contains(" 0 failed, "));
    let cut = state().await;
    for principal in ["user/big-sender", "role/big-role"] {
        let arn = format!(
            "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-session-revocation-{}",
            principal.replace('/', "-")
        );
        let attached = &cut[&format!("{principal} attached")];
        assert!(attached.contains(&arn), "{principal}: {cut:?}");
    }
    restore_directly(&emulator, "plans/resumed.rollback.yaml", "resumed apply");
    assert_eq!(state().await, original, "resumed apply, then restore");
}
