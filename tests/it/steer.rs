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

    // From the reviewed plan, only the web group's cut.
    emulator
        .apply("plans/p.yaml")
        .args(["--target", &seeded.web_group])
        .assert()
        .code(0)
        .stdout(contains("Left out: "))
        .stdout(contains(format!(
            "not selected by --target {}",
            seeded.web_group
        )));
    let after = groups(&emulator).await;
    assert_ne!(after[&seeded.web_group], original[&seeded.web_group]);
    for group in [&seeded.db_group, &seeded.bastion_group] {
        assert_eq!(after[group], original[group], "{group} is not selected");
    }

    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(groups(&emulator).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_drifted_cuts_the_rest_and_a_restore_dry_run_changes_nothing() {
    let (emulator, seeded) = seeded().await;
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR, "--kinds", "sg_revoke"])
        .assert()
        .code(0);

    // Someone opens the bastion group further after the plan.
    emulator
        .ec2(REGION)
        .await
        .authorize_security_group_ingress()
        .group_id(&seeded.bastion_group)
        .ip_protocol("tcp")
        .from_port(3389)
        .to_port(3389)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let drifted = groups(&emulator).await;

    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains("drift"));
    assert_eq!(groups(&emulator).await, drifted, "refused: nothing changed");

    emulator
        .apply("plans/p.yaml")
        .arg("--skip-drifted")
        .assert()
        .code(0)
        .stdout(contains(format!(
            "Left out (--skip-drifted): sg_revoke/{REGION}/{} changed since the plan",
            seeded.bastion_group
        )))
        .stdout(contains("3389"));
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
        .stdout(contains(format!("sg_revoke/{REGION}/{}", seeded.web_group)))
        .stdout(contains("Dry run: nothing was changed"));
    assert_eq!(groups(&emulator).await, cut, "a dry run changes nothing");
    assert_eq!(std::fs::read(&rollback).unwrap(), journal);

    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(groups(&emulator).await, drifted);
}
