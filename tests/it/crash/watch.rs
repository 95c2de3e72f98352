//! `watch --recut` under SIGKILL: after apply, every cut of the network scenario is put back behind the
//! tool's back; the re-cut is killed right after each chosen mutating call (the first and last of each
//! action), and restore must give back exactly the account as seeded. The kill leaves the re-cut in
//! flight with its intent journaled and no completion: restore undoes that generation from live state,
//! then the cut apply made.

use super::{REGION, Scenario, assert_killed, kill_points, restore_directly, rollback_file};
use super::{seed_and_plan, snapshot::account_state, snapshot::assert_same_account};
use crate::crash::kill_proxy::run_through_proxy;
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
    let emulator = Emulator::start();

    // An uncut re-cut through the proxy: which calls it makes, in order.
    let original = applied_then_reopened(&emulator, "full").await;
    let recut = ["watch", "plans/full.rollback.yaml", "--once", "--recut"];
    let (status, calls, output) = run_through_proxy(&emulator, &recut, None, "full.watch.log");
    assert!(status.success(), "an uncut re-cut succeeds:\n{output}");
    assert!(
        calls.len() >= 2,
        "re-cutting the network makes several mutating calls: {calls:?}"
    );
    restore_directly(&emulator, "plans/full.rollback.yaml", "uncut re-cut");
    assert_same_account(
        &original,
        &account_state(&emulator, Scenario::Network).await,
        "uncut re-cut + restore",
    );
    eprintln!(
        "watch --recut makes {} mutating calls: {calls:?}",
        calls.len()
    );

    let points = kill_points(&calls);
    eprintln!("killing watch --recut after mutating calls {points:?}");
    for n in points {
        let name = format!("w{n}");
        let rollback = format!("plans/{name}.rollback.yaml");
        let original = applied_then_reopened(&emulator, &name).await;
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &["watch", &rollback, "--once", "--recut"],
            Some(n),
            &format!("{name}.watch.log"),
        );
        let what = format!(
            "watch --recut killed after mutating call {n} ({})",
            seen.last().map(String::as_str).unwrap_or("?")
        );
        assert_killed(status, &what, &output);
        assert_eq!(seen.len(), n, "{what}: {seen:?}");
        let journal = rollback_file(&emulator, &rollback);

        let stdout = restore_directly(&emulator, &rollback, &what);
        assert!(
            stdout.contains("its completion was not recorded"),
            "{what}: the re-cut in flight has an intent and no completion\n{stdout}"
        );
        let now = account_state(&emulator, Scenario::Network).await;
        if now != original {
            eprintln!("{what}: the rollback file as the killed re-cut left it:\n{journal}");
        }
        assert_same_account(&original, &now, &what);
    }
}
