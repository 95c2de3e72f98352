//! `identity_center_session_revoke` writes twice per cut: PutInlinePolicyToPermissionSet, then
//! ProvisionPermissionSet (followed until it succeeds). Killed right after the first write, the
//! permission set holds the statement, no account has it yet, and the rollback file has the cut's intent
//! only; killed right after the last, every write happened and its completion was never recorded. Either
//! way restore (lifting the revocation) recognises the statement from the plan alone, puts the exact prior
//! inline policy back (or deletes it) and provisions again. Restore killed after its first and last write,
//! then run again, finishes the job.

use super::{
    REGION, assert_killed, first_and_last, reset, restore_directly, restore_killed_then_restored,
    rollback_file,
};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::identity_center::identity_center_state;
use crate::leaky_account::identity_center;

/// Seeds the permission sets into an emptied emulator, plans as `plans/{name}.yaml`, and returns what
/// the seed made and its state.
async fn seed_and_plan(
    emulator: &Emulator,
    name: &str,
) -> (
    identity_center::SeededIdentityCenter,
    std::collections::BTreeMap<String, String>,
) {
    reset(emulator);
    let config = emulator.sdk_config(REGION).await;
    let seeded = identity_center::seed(&config).await.unwrap();
    let state = identity_center_state(&aws_sdk_ssoadmin::Client::new(&config), &seeded).await;
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .assert()
        .code(0);
    (seeded, state)
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_center_apply_or_restore_killed_after_its_first_and_last_write_then_restore_gives_back_the_permission_sets()
 {
    let emulator = Emulator::start();
    let sso = aws_sdk_ssoadmin::Client::new(&emulator.sdk_config(REGION).await);

    // An uncut run tells where this kind's writes come among the plan's calls.
    let (seeded, original) = seed_and_plan(&emulator, "full").await;
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    let first = calls
        .iter()
        .position(|call| call == "PutInlinePolicyToPermissionSet")
        .unwrap_or_else(|| panic!("the cut writes the inline policy: {calls:?}"))
        + 1;
    let last = calls
        .iter()
        .rposition(|call| call == "ProvisionPermissionSet")
        .unwrap_or_else(|| panic!("the cut provisions: {calls:?}"))
        + 1;
    assert_eq!(
        calls
            .iter()
            .filter(|call| call.contains("PermissionSet"))
            .count(),
        4,
        "two permission sets, two writes each: {calls:?}"
    );
    restore_directly(&emulator, "plans/full.rollback.yaml", "uncut apply");
    assert_eq!(identity_center_state(&sso, &seeded).await, original);

    for n in [first, last] {
        let name = format!("p{n}");
        let (seeded, original) = seed_and_plan(&emulator, &name).await;
        let rollback = format!("plans/{name}.rollback.yaml");
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &["apply", &format!("plans/{name}.yaml"), "--yes"],
            Some(n),
            &format!("{name}.apply.log"),
        );
        let what = format!(
            "apply killed after mutating call {n} ({})",
            seen.last().map(String::as_str).unwrap_or("?")
        );
        assert_killed(status, &what, &output);
        assert_eq!(
            seen.get(n - 1),
            calls.get(n - 1),
            "{what}: the same call as uncut"
        );
        assert_ne!(
            identity_center_state(&sso, &seeded).await,
            original,
            "{what}: the statement is in place"
        );
        let journal = rollback_file(&emulator, &rollback);
        let stdout = restore_directly(&emulator, &rollback, &what);
        assert!(
            stdout.contains("its completion was not recorded"),
            "{what}: restore knows it is unsure\n{stdout}\n{journal}"
        );
        assert_eq!(
            identity_center_state(&sso, &seeded).await,
            original,
            "{what}, then restore\n{journal}"
        );
    }

    // Restore: an uncut one tells where its writes come (the prior inline policy put back or deleted,
    // then each permission set provisioned again).
    let (seeded, original) = seed_and_plan(&emulator, "full-restore").await;
    emulator.apply("plans/full-restore.yaml").assert().code(0);
    let (status, restore_calls, output) = run_through_proxy(
        &emulator,
        &[
            "restore",
            "plans/full-restore.rollback.yaml",
            "--yes",
            "--lift-session-revocation",
        ],
        None,
        "full.restore.log",
    );
    assert!(status.success(), "an uncut restore succeeds:\n{output}");
    assert_eq!(identity_center_state(&sso, &seeded).await, original);
    let writes = [
        "PutInlinePolicyToPermissionSet",
        "DeleteInlinePolicyFromPermissionSet",
        "ProvisionPermissionSet",
    ];
    for k in first_and_last(&restore_calls, &writes) {
        let name = format!("r{k}");
        let (seeded, original) = seed_and_plan(&emulator, &name).await;
        let killed =
            restore_killed_then_restored(&emulator, &name, k, &["--lift-session-revocation"]);
        let what = &killed.what;
        assert_eq!(
            killed.seen.get(k - 1),
            restore_calls.get(k - 1),
            "{what}: the same call as uncut"
        );
        assert_eq!(
            identity_center_state(&sso, &seeded).await,
            original,
            "{what}, then restore again"
        );
    }
}

/// Both permission sets edited (their session duration) and never provisioned, so the plan names the
/// account out of date in each. Apply killed right after its first write (the statement in one
/// permission set, not provisioned), then run again: the resumed apply rewinds that cut, whose undo
/// provisions and so brings the account up to date (no longer the plan's `before` exactly, but as near
/// it as any undo comes and as the plan said), and cuts it again. Before, it was refused as "could not be
/// put back as planned", its revocation left lifted by the rewind.
#[tokio::test(flavor = "multi_thread")]
async fn identity_center_apply_killed_after_its_first_write_with_an_edit_never_provisioned_resumes_and_cuts()
 {
    let emulator = Emulator::start();
    let sso = aws_sdk_ssoadmin::Client::new(&emulator.sdk_config(REGION).await);

    // An uncut run tells where this kind's first write comes among the plan's calls.
    seed_and_plan(&emulator, "full").await;
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    let first = calls
        .iter()
        .position(|call| call == "PutInlinePolicyToPermissionSet")
        .unwrap_or_else(|| panic!("the cut writes the inline policy: {calls:?}"))
        + 1;

    reset(&emulator);
    let config = emulator.sdk_config(REGION).await;
    let seeded = identity_center::seed(&config).await.unwrap();
    for (_, arn) in &seeded.permission_sets {
        sso.update_permission_set()
            .instance_arn(&seeded.instance_arn)
            .permission_set_arn(arn)
            .session_duration("PT12H")
            .send()
            .await
            .unwrap();
    }
    let original = identity_center_state(&sso, &seeded).await;
    emulator.plan(REGION, "plans/stale.yaml").assert().code(0);
    let (status, _, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/stale.yaml", "--yes"],
        Some(first),
        "stale.apply.log",
    );
    assert_killed(status, "apply killed after its first write", &output);

    emulator
        .apply("plans/stale.yaml")
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "Resuming the apply recorded in plans/stale.rollback.yaml",
        ))
        .stdout(predicates::str::contains(" 0 failed, "));
    let cut = identity_center_state(&sso, &seeded).await;
    for (name, _) in &seeded.permission_sets {
        assert!(
            cut[&format!("{name} inline policy")]
                .contains("HikkonukiRevokeIdentityCenterSessionsIssuedBeforeApply"),
            "{name} is cut: {cut:?}"
        );
    }

    restore_directly(&emulator, "plans/stale.rollback.yaml", "resumed apply");
    assert_eq!(identity_center_state(&sso, &seeded).await, original);
}
