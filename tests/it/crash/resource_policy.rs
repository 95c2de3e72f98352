//! `resource_policy_deny` killed mid-apply: each resource's cut is one write (PutBucketPolicy,
//! SetQueueAttributes, SetTopicAttributes, PutKeyPolicy, PutResourcePolicy, SetRepositoryPolicy). Killed
//! right after the kind's first write and after its last, the cut in flight has an intent and no
//! completion; restore derives its undo record from the plan and gives back every document exactly.

use super::{REGION, assert_killed, reset, restore_directly, rollback_file, uncut_apply};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::leaky_account::resource_policies::{self, SeededResourcePolicies};

/// Whether a mutating call is one of this kind's policy writes.
fn writes_a_resource_policy(call: &str) -> bool {
    call.contains("?policy")
        || [
            "SetQueueAttributes",
            "SetTopicAttributes",
            "PutKeyPolicy",
            "PutResourcePolicy",
            "SetRepositoryPolicy",
        ]
        .contains(&call)
}

async fn seed_and_plan(
    emulator: &Emulator,
    name: &str,
) -> (
    SeededResourcePolicies,
    std::collections::BTreeMap<String, String>,
) {
    reset(emulator);
    let config = emulator.sdk_config(REGION).await;
    let seeded = resource_policies::seed(&config).await.expect("seeding");
    let original = resource_policies::policies(&config, &seeded)
        .await
        .expect("reading the policies");
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        // The evidence bucket's policy is a `?policy` write too: this test counts only this kind's.
        .args([
            "--exclude-kinds",
            "evidence_trail_on,evidence_flow_logs,evidence_snapshots",
        ])
        .assert()
        .code(0);
    (seeded, original)
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_policy_cuts_killed_after_the_first_and_last_write_are_restored_exactly() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;

    // An uncut run tells where this kind's writes come.
    let (seeded, original) = seed_and_plan(&emulator, "full").await;
    let calls = uncut_apply(&emulator);
    let ours: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, call)| writes_a_resource_policy(call))
        .map(|(index, _)| index + 1)
        .collect();
    assert_eq!(ours.len(), 6, "one write per open resource: {calls:?}");
    restore_directly(&emulator, "plans/full.rollback.yaml", "uncut apply");
    assert_eq!(
        resource_policies::policies(&config, &seeded).await.unwrap(),
        original,
        "uncut apply + restore"
    );

    for n in [ours[0], ours[ours.len() - 1]] {
        let name = format!("p{n}");
        let (seeded, original) = seed_and_plan(&emulator, &name).await;
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
        assert!(
            seen.last()
                .is_some_and(|call| writes_a_resource_policy(call)),
            "{what}: {seen:?}"
        );
        let rollback = format!("plans/{name}.rollback.yaml");
        let journal = rollback_file(&emulator, &rollback);
        let stdout = restore_directly(&emulator, &rollback, &what);
        assert!(
            stdout.contains("its completion was not recorded"),
            "{what}: restore knows it is unsure\n{stdout}\n{journal}"
        );
        assert_eq!(
            resource_policies::policies(&config, &seeded).await.unwrap(),
            original,
            "{what}, then restore"
        );
    }
}
