//! What the operator and their automation see: JSON Lines events, call statistics, the incident report.

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account;
use crate::steer::json_events;

async fn planned_emulator() -> Emulator {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    emulator
}

#[tokio::test(flavor = "multi_thread")]
async fn output_json_gives_one_event_per_cut_and_nothing_else_on_stdout() {
    let emulator = planned_emulator().await;
    let out = emulator
        .apply("plans/p.yaml")
        .args(["--output", "json"])
        .assert()
        .code(0)
        .stderr(contains("Apply finished"))
        .get_output()
        .stdout
        .clone();
    let events = json_events(&out);
    let count = |name: &str| events.iter().filter(|e| e["event"] == name).count();
    assert!(count("cut-started") > 0);
    // The changes open with their totals: one `started`, counting every cut the run then starts.
    let started: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["event"] == "started").collect();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["total"], count("cut-started"));
    assert_eq!(
        started[0]["by_kind"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        count("cut-started") as u64
    );
    assert_eq!(
        count("cut-started"),
        count("cut-done"),
        "every started cut is done"
    );
    assert_eq!(count("sealed"), 1);
    // The phases in apply's order, each before its cuts, together holding every cut the run starts.
    let phases = phases_of(&events);
    let apply_order = ["evidence", "organization", "sealing", "per-resource"];
    let rank = |phase: &str| apply_order.iter().position(|p| *p == phase).unwrap();
    assert!(
        phases.windows(2).all(|w| rank(&w[0].0) < rank(&w[1].0)),
        "{phases:?}"
    );
    assert!(
        phases.iter().any(|(phase, _)| phase == "sealing"),
        "{phases:?}"
    );
    assert_eq!(
        phases.iter().map(|(_, total)| total).sum::<u64>(),
        count("cut-started") as u64
    );
    let first_phase = events.iter().position(|e| e["event"] == "phase-started");
    let first_cut = events.iter().position(|e| e["event"] == "cut-started");
    assert!(first_phase < first_cut, "{events:?}");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "finished");
    assert_eq!(last["command"], "apply");
    assert_eq!(last["ok"], true);
    // Every event is stamped; each cut event names the account the credentials were checked against.
    for event in &events {
        assert_eq!(event["schema"], 1, "{event}");
        assert!(
            event["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{event}"
        );
        assert_eq!(event["run"], events[0]["run"], "{event}");
    }
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "cut-done")
            .all(|e| e["account"] == "123456789012")
    );

    let out = emulator
        .restore("plans/p.rollback.yaml")
        .args(["--output", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let events = json_events(&out);
    assert!(events.iter().any(|e| e["event"] == "restored"));
    assert_eq!(events.last().unwrap()["command"], "restore");
    // Restore takes the phases in reverse: the per-resource cuts first, the evidence last.
    let phases = phases_of(&events);
    assert!(
        phases.windows(2).all(|w| rank(&w[0].0) > rank(&w[1].0)),
        "{phases:?}"
    );
    let started = events.iter().find(|e| e["event"] == "started").unwrap();
    assert_eq!(
        phases.iter().map(|(_, total)| total).sum::<u64>(),
        started["total"].as_u64().unwrap()
    );
}

/// The `phase-started` events, in order: each phase's name and how many cuts or undos it holds.
fn phases_of(events: &[serde_json::Value]) -> Vec<(String, u64)> {
    events
        .iter()
        .filter(|e| e["event"] == "phase-started")
        .map(|e| {
            (
                e["phase"].as_str().unwrap().to_string(),
                e["total"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_the_calls_per_operation_and_the_time_to_seal() {
    let emulator = planned_emulator().await;
    emulator
        .apply("plans/p.yaml")
        .arg("--stats")
        .assert()
        .code(0)
        .stdout(contains("AWS calls: "))
        .stdout(contains("ec2:RevokeSecurityGroupIngress"))
        .stdout(contains("sts:GetCallerIdentity"))
        .stdout(contains("Time to seal: "))
        .stdout(contains("Total time: "));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_incident_report_says_what_was_cut_and_restored() {
    let emulator = planned_emulator().await;
    emulator.apply("plans/p.yaml").assert().code(0);
    emulator
        .hikkonuki()
        .args(["show", "plans/p.rollback.yaml", "--format", "markdown"])
        .assert()
        .code(0)
        .stdout(contains("# Containment report"))
        .stdout(contains("- **Account:** 123456789012"))
        .stdout(contains("| `sg_revoke/us-east-1/"))
        .stdout(contains("| cut |"));
    // The evidence stopped too: a plain restore keeps it, still cut.
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--stop-evidence")
        .assert()
        .code(0);
    emulator
        .hikkonuki()
        .args(["show", "plans/p.rollback.yaml", "--format", "markdown"])
        .assert()
        .code(0)
        .stdout(contains(" 0 still cut."))
        .stdout(contains("## Restore notes"));
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_output_json_gives_the_findings_before_the_proposed_cuts() {
    let emulator = planned_emulator().await;
    let out = emulator
        .plan("us-east-1", "plans/again.yaml")
        .args(["--output", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let events = json_events(&out);
    let first = |name: &str| events.iter().position(|e| e["event"] == name);
    // The totals first: one step per kind (or inspection) and region, each answered by one event.
    assert_eq!(events[0]["event"], "started", "{events:?}");
    assert_eq!(events[0]["command"], "plan");
    assert_eq!(events[0]["dry_run"], false);
    let steps = events
        .iter()
        .filter(|e| e["event"] == "discovered" || e["event"] == "discovery-failed")
        .count();
    assert!(steps > 20, "{events:?}");
    assert_eq!(events[0]["total"], steps, "{events:?}");
    assert_eq!(
        events[0]["by_kind"]["sg_revoke"], 1,
        "one region: {events:?}"
    );
    let sg = events
        .iter()
        .find(|e| e["event"] == "discovered" && e["kind"] == "sg_revoke")
        .unwrap();
    assert_eq!(sg["region"], "us-east-1");
    assert_eq!(
        sg["found"],
        events
            .iter()
            .filter(|e| e["event"] == "cut-proposed" && e["kind"] == "sg_revoke")
            .count(),
        "{sg}"
    );
    let root = events
        .iter()
        .find(|e| e["event"] == "finding" && e["check"] == "root_without_mfa")
        .expect("the emulator's root has no MFA: a finding event");
    assert_eq!(root["severity"], "high");
    assert_eq!(root["region"], "global");
    assert!(
        root["message"]
            .as_str()
            .unwrap()
            .contains("Enable MFA on root"),
        "{root}"
    );
    assert!(
        first("finding").unwrap() < first("cut-proposed").unwrap(),
        "findings come first: {events:?}"
    );
}
