//! Steering without editing YAML, on the emulator: `--kinds`, `--exclude-kinds` and `--target` on `plan`
//! and `apply`, `apply --skip-drifted`, and `restore --dry-run`, each through the built binary with the
//! security groups' full state compared.

use std::collections::BTreeMap;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, RESPONDER_CIDR};
use crate::snapshot;

const REGION: &str = "us-east-1";

async fn seeded() -> (Emulator, leaky_account::SeededRegion) {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let mut regions = leaky_account::seed(&config, &[REGION])
        .await
        .expect("seeding the leaky account");
    (emulator, regions.remove(0))
}

async fn groups(emulator: &Emulator) -> BTreeMap<String, Vec<String>> {
    snapshot::security_groups(&emulator.ec2(REGION).await).await
}

/// `plans/p.yaml`: the security-group cuts only.
async fn plan_security_groups(emulator: &Emulator) {
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR, "--kinds", "sg_revoke"])
        .assert()
        .code(0);
}

/// A change behind the tool's back after the plan: `port` opened to the world on `group`.
async fn open_to_the_world(emulator: &Emulator, group: &str, port: i32) {
    emulator
        .ec2(REGION)
        .await
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
}

fn planned_kinds(emulator: &Emulator, plan: &str) -> Vec<String> {
    let path = emulator.path(plan);
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = hikkonuki::plan::parse(&text, &path, &hikkonuki::services::registry()).unwrap();
    let mut kinds: Vec<String> = plan.cuts.iter().map(|c| c.kind.clone()).collect();
    kinds.dedup();
    kinds
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_and_an_apply_narrowed_by_flags_take_only_the_selected_cuts() {
    let (emulator, seeded) = seeded().await;
    let original = groups(&emulator).await;

    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .args(["--kinds", "sg_revoke,nacl_deny", "--target", "sg-*"])
        .assert()
        .code(0)
        .stdout(contains(
            "Only the cuts selected by --kinds sg_revoke,nacl_deny --target sg-*",
        ));
    assert_eq!(planned_kinds(&emulator, "plans/p.yaml"), ["sg_revoke"]);

    // `--region` without `--regions` does not narrow the plan the way the AWS CLI's would: it says so.
    emulator
        .hikkonuki()
        .args([
            "plan",
            "--region",
            REGION,
            "--kinds",
            "sg_revoke",
            "--out",
            "plans/all.yaml",
        ])
        .assert()
        .code(0)
        .stdout(contains("Covering every region enabled for the account ("))
        .stdout(contains("pass --regions to narrow"));

    // A typo selects nothing in silence: it is refused before any call.
    emulator
        .plan(REGION, "plans/typo.yaml")
        .args(["--kinds", "sg_revok"])
        .assert()
        .code(1)
        .stderr(contains("--kinds: `sg_revok` is not a kind"));
    assert!(!emulator.path("plans/typo.yaml").exists());

    // A pattern that takes nothing is said, at plan and at apply: an empty run is not an account with
    // nothing open.
    emulator
        .plan(REGION, "plans/none.yaml")
        .args(["--target", "sg-doesnotexist*"])
        .assert()
        .code(0)
        .stderr(contains(
            "warning: --target sg-doesnotexist* matches no cut discovery proposes",
        ));
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--check", "--vpc", "vpc-nowhere"])
        .assert()
        .stderr(contains(
            "warning: --vpc vpc-nowhere matches no enabled cut of the plan",
        ));
    // Regression: a kind the plan has no cut of ended in "Nothing to apply" with no word of why, where
    // an unmatched --target was warned about.
    emulator
        .apply("plans/p.yaml")
        .args(["--kinds", "nacl_deny"])
        .assert()
        .code(0)
        .stderr(contains(
            "warning: --kinds nacl_deny matches no enabled cut of the plan",
        ))
        .stdout(contains("Nothing to apply"));
    assert!(!emulator.path("plans/p.rollback.yaml").exists());

    // From the reviewed plan, only the web group's cut. The others are counted, not listed: one event
    // or line each would list the plan again.
    let applied = emulator
        .apply("plans/p.yaml")
        .args(["--target", &seeded.web_group, "--output", "json"])
        .assert()
        .code(0)
        .stderr(contains("Left out: 5 enabled cut(s)"))
        .stderr(contains(format!(
            "not selected by --target {}",
            seeded.web_group
        )));
    let events = json_events(&applied.get_output().stdout);
    assert_eq!(
        events[0]["event"], "started",
        "the totals first: {events:?}"
    );
    assert_eq!(events[0]["total"], 1);
    assert!(
        !events.iter().any(|e| e["event"] == "cut-skipped"),
        "{events:?}"
    );
    let finished = events.last().unwrap();
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["outcomes"]["done"], 1);
    assert_eq!(finished["outcomes"]["not_selected"], 5);
    assert_eq!(finished["outcomes"]["skipped"], 0);
    let after = groups(&emulator).await;
    assert_ne!(after[&seeded.web_group], original[&seeded.web_group]);
    for group in [&seeded.db_group, &seeded.bastion_group] {
        assert_eq!(after[group], original[group], "{group} is not selected");
    }

    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(groups(&emulator).await, original);

    // Done already: said, and ended with `finished` for a script too.
    let again = emulator
        .restore("plans/p.rollback.yaml")
        .args(["--output", "json"])
        .assert()
        .code(0)
        .stderr(contains("Nothing to restore"));
    let events = json_events(&again.get_output().stdout);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["finished"], "{events:?}");
    assert_eq!(events[0]["ok"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_drifted_cuts_the_rest_and_a_restore_dry_run_changes_nothing() {
    let (emulator, seeded) = seeded().await;
    plan_security_groups(&emulator).await;
    // Someone opens the bastion group further after the plan.
    open_to_the_world(&emulator, &seeded.bastion_group, 3389).await;
    let drifted = groups(&emulator).await;

    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains("drift"));
    assert_eq!(groups(&emulator).await, drifted, "refused: nothing changed");

    // The check previews each: a problem without the flag, left out with it.
    let drift_line = format!("drift      sg_revoke/{REGION}/{}", seeded.bastion_group);
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--check"])
        .assert()
        .code(1)
        .stdout(contains(format!(
            "{drift_line}: no longer matches the plan (make a new plan, or pass --skip-drifted"
        )));
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--check", "--skip-drifted"])
        .assert()
        .code(0)
        .stdout(contains(format!(
            "{drift_line}: no longer matches the plan (apply leaves it out"
        )))
        .stdout(contains("0 problem(s)"));
    let checked = emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--check", "--output", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let events = json_events(&checked);
    assert_eq!(events[0]["event"], "started", "{events:?}");
    assert_eq!(events[0]["command"], "apply --check");
    assert_eq!(events[0]["dry_run"], true);
    let finished = events.last().unwrap();
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["outcomes"]["drifted"], 1, "{finished}");
    assert_eq!(
        events[0]["total"],
        finished["outcomes"]["allowed"].as_u64().unwrap()
            + finished["outcomes"]["unchecked"].as_u64().unwrap(),
        "every cut of the plan is checked: {events:?}"
    );
    assert_eq!(groups(&emulator).await, drifted, "checked: nothing changed");

    // Only the drifted cut selected: nothing to apply, and a script still reads the run's totals first
    // (none), the cut left out, then `finished`.
    let nothing = emulator
        .apply("plans/p.yaml")
        .args(["--skip-drifted", "--output", "json", "--target"])
        .arg(format!("sg_revoke/{REGION}/{}", seeded.bastion_group))
        .assert()
        .code(0)
        .stderr(contains("Nothing to apply"));
    let events = json_events(&nothing.get_output().stdout);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["started", "cut-skipped", "finished"], "{events:?}");
    assert_eq!(events[0]["command"], "apply");
    assert_eq!(events[0]["total"], 0, "{events:?}");
    assert_eq!(events[2]["ok"], true);
    assert_eq!(
        groups(&emulator).await,
        drifted,
        "nothing to apply: nothing changed"
    );

    let applied = emulator
        .apply("plans/p.yaml")
        .args(["--skip-drifted", "--output", "json"])
        .assert()
        .code(0)
        .stderr(contains(format!(
            "Left out (--skip-drifted): sg_revoke/{REGION}/{} changed since the plan",
            seeded.bastion_group
        )))
        .stderr(contains("3389"));
    // The drifted cut is an event of the run, after its totals, and counted as skipped.
    let events = json_events(&applied.get_output().stdout);
    assert_eq!(events[0]["event"], "started", "{events:?}");
    let skipped: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "cut-skipped")
        .collect();
    assert!(
        skipped.iter().any(
            |e| e["id"] == format!("sg_revoke/{REGION}/{}", seeded.bastion_group)
                && e["reason"].as_str().unwrap().starts_with("drifted")
        ),
        "{skipped:?}"
    );
    assert_eq!(
        events.last().unwrap()["outcomes"]["skipped"],
        skipped.len(),
        "{events:?}"
    );
    let cut = groups(&emulator).await;
    assert_ne!(cut[&seeded.web_group], drifted[&seeded.web_group]);
    assert_eq!(
        cut[&seeded.bastion_group], drifted[&seeded.bastion_group],
        "the drifted group is left as it is"
    );

    let rollback = emulator.path("plans/p.rollback.yaml");
    let journal = std::fs::read(&rollback).unwrap();
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--dry-run")
        .assert()
        .code(0)
        .stdout(contains("Restore would reconnect"))
        .stdout(contains("Cuts restore would undo, per kind and region:"))
        .stdout(contains(format!("sg_revoke/{REGION}/{}", seeded.web_group)))
        .stdout(contains("Dry run: nothing was changed"));
    // For scripts: the totals first, marked a dry run, then each undo with the states it goes between.
    let dry_run = emulator
        .restore("plans/p.rollback.yaml")
        .args(["--dry-run", "--output", "json"])
        .assert()
        .code(0)
        .stderr(contains("Dry run: nothing was changed"))
        .get_output()
        .stdout
        .clone();
    let events = json_events(&dry_run);
    assert_eq!(events[0]["event"], "started", "{events:?}");
    assert_eq!(events[0]["command"], "restore");
    assert_eq!(events[0]["dry_run"], true);
    let undos: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "would-restore")
        .collect();
    assert_eq!(events[0]["total"], undos.len(), "{events:?}");
    assert_eq!(
        events.last().unwrap()["outcomes"]["would_restore"],
        undos.len()
    );
    let web = undos
        .iter()
        .find(|e| e["id"] == format!("sg_revoke/{REGION}/{}", seeded.web_group))
        .expect("the web group's undo is listed");
    assert_eq!(web["account"], "123456789012");
    assert!(
        web["as_restored"].to_string().contains("0.0.0.0/0")
            && !web["as_cut"].to_string().contains("0.0.0.0/0"),
        "the undo puts the open rules back: {web}"
    );
    assert!(
        !undos
            .iter()
            .any(|e| e["id"] == format!("sg_revoke/{REGION}/{}", seeded.bastion_group)),
        "the drifted group was not cut: {undos:?}"
    );
    assert_eq!(groups(&emulator).await, cut, "a dry run changes nothing");
    assert_eq!(std::fs::read(&rollback).unwrap(), journal);

    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(groups(&emulator).await, drifted);
}

fn read_plan(emulator: &Emulator, plan: &str) -> hikkonuki::plan::Plan {
    let path = emulator.path(plan);
    let text = std::fs::read_to_string(&path).unwrap();
    hikkonuki::plan::parse(&text, &path, &hikkonuki::services::registry()).unwrap()
}

/// The JSON events a command printed (`--output json`), one per line.
pub fn json_events(output: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vpc_narrows_plan_and_apply_to_the_cuts_of_resources_in_it() {
    use hikkonuki::plan::KindCatalog;
    let (emulator, seeded) = seeded().await;
    let registry = hikkonuki::services::registry();
    let original = groups(&emulator).await;
    let in_seeded_vpc = |cut: &hikkonuki::plan::Cut| registry.vpcs_of(cut).contains(&seeded.vpc_id);

    emulator
        .plan(REGION, "plans/all.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
        .code(0);
    let whole = read_plan(&emulator, "plans/all.yaml");
    let expected: Vec<&str> = whole
        .cuts
        .iter()
        .filter(|cut| in_seeded_vpc(cut))
        .map(|cut| cut.id.as_str())
        .collect();
    // The seeded VPC's groups, ACL, routes and gateways, and its flow log (its traffic recorded before
    // it is cut); outside it, the default VPC (moto makes one) and the account-wide cuts.
    for kind in [
        "sg_revoke",
        "nacl_deny",
        "route_remove",
        "igw_detach",
        "evidence_flow_logs",
    ] {
        assert!(
            expected.iter().any(|id| id.starts_with(kind)),
            "{kind} in {expected:?}"
        );
    }
    assert!(whole.cuts.iter().any(|cut| cut.region == "global"));
    assert!(
        whole
            .cuts
            .iter()
            .any(|cut| cut.region != "global" && !in_seeded_vpc(cut)),
        "the default VPC has cuts too"
    );

    emulator
        .plan(REGION, "plans/vpc.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR, "--vpc", &seeded.vpc_id])
        .assert()
        .code(0)
        .stdout(contains(format!("selected by --vpc {}", seeded.vpc_id)));
    let narrowed: Vec<String> = read_plan(&emulator, "plans/vpc.yaml")
        .cuts
        .into_iter()
        .map(|cut| cut.id)
        .collect();
    assert_eq!(narrowed, expected);

    // From the whole reviewed plan, only the VPC's cuts are performed; the events say which.
    let applied = emulator
        .apply("plans/all.yaml")
        .args(["--vpc", &seeded.vpc_id, "--output", "json"])
        .assert()
        .code(0)
        // Before asking: what each cut's effect is derived from, as the plan file says it.
        .stderr(contains(format!(
            "Kept reachable (--keep-cidr): {RESPONDER_CIDR}"
        )))
        .stderr(contains("Kind options: none"));
    let output = applied.get_output().stdout.clone();
    let events = json_events(&output);
    let mut done: Vec<&str> = events
        .iter()
        .filter(|event| event["event"] == "cut-done")
        .map(|event| event["id"].as_str().unwrap())
        .collect();
    done.sort();
    let mut enabled: Vec<&str> = whole
        .cuts
        .iter()
        .filter(|cut| cut.enabled && in_seeded_vpc(cut))
        .map(|cut| cut.id.as_str())
        .collect();
    enabled.sort();
    assert_eq!(done, enabled);
    let finished = events.last().unwrap();
    assert_eq!(finished["event"], "finished", "{finished}");
    assert_eq!(finished["ok"], true);
    assert_eq!(finished["outcomes"]["done"], enabled.len());
    assert_eq!(finished["outcomes"]["failed"], 0);
    assert_eq!(
        finished["by_kind"]["sg_revoke"]["done"],
        enabled
            .iter()
            .filter(|id| id.starts_with("sg_revoke/"))
            .count()
    );
    assert!(finished["schema"].is_u64() && finished["run"].is_string());

    emulator.restore("plans/all.rollback.yaml").assert().code(0);
    assert_eq!(groups(&emulator).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_is_an_event_followed_by_finished() {
    let (emulator, seeded) = seeded().await;
    plan_security_groups(&emulator).await;
    open_to_the_world(&emulator, &seeded.web_group, 8443).await;
    let output = emulator
        .apply("plans/p.yaml")
        .args(["--output", "json"])
        .assert()
        .code(1)
        .stderr(contains("drift"))
        .get_output()
        .stdout
        .clone();
    let events = json_events(&output);
    let names: Vec<&str> = events
        .iter()
        .map(|event| event["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names[names.len() - 2..],
        ["refused", "finished"],
        "{names:?}"
    );
    let refused = &events[events.len() - 2];
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("no longer match the account"),
        "{refused}"
    );
    assert_eq!(events.last().unwrap()["ok"], false);
    assert!(!emulator.path("plans/p.rollback.yaml").exists());

    // An error that is not a refusal (a plan that is not there) is an `error` event.
    let output = emulator
        .apply("plans/missing.yaml")
        .args(["--output", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let names: Vec<String> = json_events(&output)
        .iter()
        .map(|event| event["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.last().map(String::as_str), Some("finished"));
    assert!(
        names
            .iter()
            .any(|name| name == "error" || name == "refused"),
        "{names:?}"
    );
}
