//! `evidence_snapshots` beyond the evidence phase's round trip (issue 17): `plan --no-evidence-snapshots`
//! lists each instance disabled, so apply takes no snapshot until one is switched back on in the plan; and
//! `show ROLLBACK` lists the snapshot IDs from the file while `show ROLLBACK --live` asks the emulator how
//! far each has got, "gone" once one is deleted.

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::evidence::{seed, snapshot_ids};
use hikkonuki::plan::{self, Cut, Plan};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const PLAN: &str = "plans/p.yaml";
const ROLLBACK: &str = "plans/p.rollback.yaml";

fn read_plan(emulator: &Emulator, path: &str) -> Plan {
    plan::file::read(&emulator.path(path), &hikkonuki::services::registry()).unwrap()
}

fn snapshot_cut<'a>(plan: &'a Plan, instance: &str) -> &'a Cut {
    let id = Cut::expected_id("evidence_snapshots", REGION, instance);
    plan.cuts
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("the plan has no cut {id}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn no_evidence_snapshots_lists_each_instance_disabled_and_apply_takes_none_until_one_is_switched_on()
 {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args([
            "--kinds",
            "evidence_snapshots",
            "--incident",
            "INC-8",
            "--no-evidence-snapshots",
        ])
        .assert()
        .code(0)
        // The review groups what is left out, and why.
        .stdout(contains("Disabled, apply skips them (1):"))
        .stdout(contains(
            "1 × evidence_snapshots: left out by --no-evidence-snapshots",
        ));
    let plan = read_plan(&emulator, PLAN);
    assert_eq!(
        plan.options
            .get("no-evidence-snapshots")
            .map(String::as_str),
        Some("true")
    );
    let cut = snapshot_cut(&plan, &seeded.instance);
    assert!(!cut.enabled);
    assert!(
        cut.reason.contains("2 EBS volume(s), 28 GiB")
            && cut
                .reason
                .contains("Disabled: left out by --no-evidence-snapshots"),
        "{}",
        cut.reason
    );

    emulator.apply(PLAN).assert().code(0);
    assert_eq!(snapshot_ids(&config).await, Vec::<String>::new());

    // The operator switches the instance back on in a copy of the plan: apply derives the same cut
    // under the switch and takes both disks.
    let mut switched_on = plan.clone();
    switched_on
        .cuts
        .iter_mut()
        .find(|c| c.id == cut.id)
        .unwrap()
        .enabled = true;
    plan::file::write(&emulator.path("plans/q.yaml"), &switched_on).unwrap();
    emulator.apply("plans/q.yaml").assert().code(0);
    assert_eq!(snapshot_ids(&config).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn show_lists_the_snapshot_ids_and_show_live_reads_their_state_then_gone_once_deleted() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = seed(&config).await;
    emulator
        .plan(REGION, PLAN)
        .args(["--kinds", "evidence_snapshots", "--incident", "INC-9"])
        .assert()
        .code(0);
    emulator.apply(PLAN).assert().code(0);
    let taken = snapshot_ids(&config).await;
    assert_eq!(taken.len(), 2, "{taken:?}");
    let id = Cut::expected_id("evidence_snapshots", REGION, &seeded.instance);

    // From the file alone: the IDs, without a call.
    let shown = emulator
        .hikkonuki()
        .args(["show", ROLLBACK])
        .assert()
        .code(0)
        .stdout(contains("Recorded by the completed cuts:"))
        .get_output()
        .stdout
        .clone();
    let shown = String::from_utf8(shown).unwrap();
    for snapshot in &taken {
        assert!(shown.contains(snapshot.as_str()), "{shown}");
    }
    assert!(!shown.contains("Live, read from"), "{shown}");
    // And in the incident report for the ticket.
    let report = emulator
        .hikkonuki()
        .args(["show", ROLLBACK, "--format", "markdown"])
        .assert()
        .code(0)
        .stdout(contains("## Recorded by the completed cuts"))
        .get_output()
        .stdout
        .clone();
    let report = String::from_utf8(report).unwrap();
    for snapshot in &taken {
        assert!(report.contains(snapshot.as_str()), "{report}");
    }

    // Live: the emulator completes snapshots at once.
    let live = emulator
        .hikkonuki()
        .args(["show", ROLLBACK, "--live"])
        .assert()
        .code(0)
        .stdout(contains(format!(
            "Live, read from account {ACCOUNT} now (read-only):"
        )))
        .get_output()
        .stdout
        .clone();
    let live = String::from_utf8(live).unwrap();
    let line = live
        .lines()
        .find(|line| line.starts_with(&format!("  {id}: snap-")))
        .unwrap_or_else(|| panic!("no live line for {id}:\n{live}"));
    for snapshot in &taken {
        assert!(line.contains(&format!("{snapshot} completed")), "{line}");
    }

    // Someone deletes one: it is gone, the other is still read.
    let (deleted, kept) = (&taken[0], &taken[1]);
    aws_sdk_ec2::Client::new(&config)
        .delete_snapshot()
        .snapshot_id(deleted)
        .send()
        .await
        .unwrap();
    emulator
        .hikkonuki()
        .args(["show", ROLLBACK, "--live"])
        .assert()
        .code(0)
        .stdout(contains(format!("{deleted} gone")))
        .stdout(contains(format!("{kept} completed")));

    // The same as JSON, for scripts: the records and one live entry per cut that can tell.
    let json = emulator
        .hikkonuki()
        .args(["show", ROLLBACK, "--live", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["live"][0]["id"], id.as_str());
    assert!(
        json["live"][0]["read"]
            .as_str()
            .unwrap()
            .contains(&format!("{deleted} gone")),
        "{json}"
    );
    assert!(json["records"].as_array().unwrap().len() > 2);

    // Credentials for another account (an assumed role in 222222222222) are refused before any read.
    let assumed = aws_sdk_sts::Client::new(&config)
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/responder")
        .role_session_name("other-account")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    emulator
        .hikkonuki()
        .args(["show", ROLLBACK, "--live"])
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env("AWS_SESSION_TOKEN", creds.session_token())
        .assert()
        .code(1)
        .stdout(predicates::str::is_empty())
        .stderr(contains(format!(
            "the rollback file was made for account {ACCOUNT}, but the credentials in use belong to account 222222222222"
        )));

    // A plan is not a rollback file: --live refuses it, having called nothing.
    emulator
        .hikkonuki()
        .args(["show", PLAN, "--live"])
        .assert()
        .code(1)
        .stderr(contains("--live reads a rollback file"));
}
