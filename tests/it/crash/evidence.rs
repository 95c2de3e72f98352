//! The evidence phase under SIGKILL: apply killed right after the first and the last call of each of its
//! mutating actions (the evidence bucket's creation, public access block and policy, CreateTrail,
//! StartLogging, CreateFlowLogs, CreateSnapshots), then `restore --stop-evidence` must leave the account
//! exactly as seeded, but for the snapshots taken, which restore never deletes.
//!
//! A kill inside the trail's cut (after its bucket is made, or after CreateTrail but before StartLogging)
//! leaves the rollback file with the cut's intent only: restore derives the undo from the plan (delete
//! the trail named in it if it delivers to the plan's bucket, then that bucket while empty).

use super::{REGION, assert_killed, reset, rollback_file};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::evidence::{evidence_state, seed};

const KINDS: &str = "evidence_trail_on,evidence_flow_logs,evidence_snapshots";

/// The 1-based positions of the first and last call of each distinct mutating call, in order.
fn first_and_last(calls: &[String]) -> Vec<usize> {
    let mut points = Vec::new();
    for call in calls {
        let first = calls.iter().position(|c| c == call).unwrap();
        let last = calls.iter().rposition(|c| c == call).unwrap();
        points.extend([first + 1, last + 1]);
    }
    points.sort();
    points.dedup();
    points
}

/// Seeds an emptied emulator and plans the evidence phase; returns the state as seeded.
async fn seed_and_plan(emulator: &Emulator, name: &str) -> Vec<String> {
    reset(emulator);
    let config = emulator.sdk_config(REGION).await;
    seed(&config).await;
    let original = evidence_state(&config).await;
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--kinds", KINDS, "--incident", "INC-9"])
        .assert()
        .code(0);
    original
}

fn without_snapshots(state: &[String]) -> Vec<String> {
    state
        .iter()
        .filter(|line| !line.starts_with("snapshot "))
        .cloned()
        .collect()
}

fn stop_evidence(emulator: &Emulator, rollback: &str, what: &str) {
    let output = emulator
        .restore(rollback)
        .arg("--stop-evidence")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what}: restore failed ({:?})\nstdout:\n{}\nstderr:\n{}\nrollback file:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        rollback_file(emulator, rollback)
    );
}

/// The snapshots left after a restore are evidence of this incident, nothing else.
fn assert_only_evidence_snapshots(state: &[String], what: &str) {
    for line in state.iter().filter(|l| l.starts_with("snapshot ")) {
        assert!(line.contains("hikkonuki:incident=INC-9"), "{what}: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_apply_killed_after_each_of_its_calls_then_stop_evidence_gives_back_the_account() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;

    // An uncut run: which calls apply makes, in order.
    let original = seed_and_plan(&emulator, "full").await;
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    for action in [
        "CreateTrail",
        "StartLogging",
        "CreateFlowLogs",
        "CreateSnapshots",
    ] {
        assert!(calls.iter().any(|c| c == action), "{action} in {calls:?}");
    }
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("PUT /hikkonuki-evidence-")),
        "the bucket is made: {calls:?}"
    );
    stop_evidence(&emulator, "plans/full.rollback.yaml", "uncut");
    let restored = evidence_state(&config).await;
    assert_eq!(
        without_snapshots(&restored),
        original,
        "uncut apply + restore"
    );

    for n in first_and_last(&calls) {
        let name = format!("e{n}");
        let original = seed_and_plan(&emulator, &name).await;
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &["apply", &format!("plans/{name}.yaml"), "--yes"],
            Some(n),
            &format!("{name}.apply.log"),
        );
        let what = format!("apply killed after call {n} ({})", calls[n - 1]);
        assert_killed(status, &what, &output);
        assert_eq!(seen.len(), n, "{what}: {seen:?}");
        stop_evidence(&emulator, &format!("plans/{name}.rollback.yaml"), &what);
        let restored = evidence_state(&config).await;
        assert_eq!(
            without_snapshots(&restored),
            original,
            "{what}, then restore"
        );
        assert_only_evidence_snapshots(&restored, &what);
    }
}
