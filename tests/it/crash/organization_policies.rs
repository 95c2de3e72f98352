//! The organization kinds under SIGKILL: apply killed right after the first and last of each of their
//! mutating calls (the policy created, attached, the RCP type enabled), and restore killed after the first
//! and last of each of its own (detached, deleted, the type disabled), then restore run again must give the
//! organization's policies, their content and targets and the root's policy types back exactly.
//!
//! An account cut makes two calls when it is the first to need its policy (CreatePolicy, then
//! AttachPolicy), and its undo two (DetachPolicy, then DeletePolicy once nothing holds the policy): killed
//! between them, the rollback file holds the intent only, and the undo derived from the plan detaches if
//! attached and deletes the policy only when no target is left, so no policy hikkonuki made stays behind.

use super::{
    apply_killed_then_restored, first_and_last, reset, restore_killed_then_restored, uncut_apply,
    uncut_restore,
};
use crate::emulator::Emulator;
use crate::organization_policies::{plan, policy_state, seed};

const ACTIONS: [&str; 3] = ["CreatePolicy", "AttachPolicy", "EnablePolicyType"];
const UNDO_ACTIONS: [&str; 3] = ["DetachPolicy", "DeletePolicy", "DisablePolicyType"];

/// An emptied emulator seeded with the organization and planned; returns its policy state as seeded.
async fn seed_and_plan(
    emulator: &Emulator,
    name: &str,
) -> std::collections::BTreeMap<String, String> {
    reset(emulator);
    let org = seed(emulator).await;
    plan(emulator, &org, name);
    policy_state(emulator).await
}

#[tokio::test(flavor = "multi_thread")]
async fn organization_policies_killed_after_each_of_their_calls_are_given_back_exactly() {
    let emulator = Emulator::start();

    let original = seed_and_plan(&emulator, "full").await;
    let calls = uncut_apply(&emulator);
    for action in ACTIONS {
        assert!(calls.iter().any(|c| c == action), "{action} in {calls:?}");
    }
    let undo_calls = uncut_restore(&emulator, &[]);
    assert_eq!(
        policy_state(&emulator).await,
        original,
        "uncut apply + restore"
    );
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
        assert_eq!(
            policy_state(&emulator).await,
            original,
            "{what}, then restore"
        );
    }

    for k in first_and_last(&undo_calls, &UNDO_ACTIONS) {
        let name = format!("r{k}");
        let original = seed_and_plan(&emulator, &name).await;
        let killed = restore_killed_then_restored(&emulator, &name, k, &[]);
        let what = &killed.what;
        assert_eq!(killed.seen.len(), k, "{what}: {:?}", killed.seen);
        assert_eq!(
            policy_state(&emulator).await,
            original,
            "{what}, then restore again"
        );
    }
}
