//! `watch --recut` under SIGKILL: after apply, every cut of the network scenario is put back behind the
//! tool's back; the re-cut is killed right after each chosen mutating call (the first and last of each
//! action), and restore must give back exactly the account as seeded. The kill leaves the re-cut in
//! flight with its intent journaled and no completion: restore undoes that generation from live state,
//! then the cut apply made.

use super::{KilledCommand, REGION, Scenario, kill_at_each_point_then_restore, seed_and_plan};
use crate::emulator::Emulator;
use crate::watch::undo_behind_the_tools_back;

/// Seeds, plans and applies the network scenario as `plans/{name}.yaml`, then undoes every cut behind
/// the tool's back. Returns the account as seeded.
async fn applied_then_reopened(emulator: &Emulator, name: &str) -> String {
    let original = seed_and_plan(emulator, name).await;
    emulator
        .apply(&format!("plans/{name}.yaml"))
        .assert()
        .code(0);
    let undone =
        undo_behind_the_tools_back(emulator, &format!("plans/{name}.rollback.yaml"), &[REGION])
            .await;
    assert!(!undone.is_empty());
    original
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_recut_killed_after_each_of_its_calls_then_restore_gives_back_the_account() {
    kill_at_each_point_then_restore(
        KilledCommand {
            what: "watch --recut",
            prefix: "w",
            scenario: Scenario::Network,
            args: |name| {
                let rollback = format!("plans/{name}.rollback.yaml");
                ["watch", &rollback, "--once", "--recut"]
                    .map(String::from)
                    .to_vec()
            },
            cuts_every_kind: false,
        },
        &|emulator, name| Box::pin(async move { applied_then_reopened(emulator, &name).await }),
    )
    .await;
}
