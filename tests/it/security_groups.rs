//! `sg_revoke` end to end on the emulator: plan → apply → restore through the built binary, with the full
//! state of every security group compared before apply and after restore, and a restore that meets rules
//! opened again since the cut (left alone and reported).

use std::fs;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::{self, RESPONDER_CIDR};
use crate::snapshot;

const REGIONS: &str = "us-east-1,eu-west-1";

struct Seeded {
    emulator: Emulator,
    regions: Vec<leaky_account::SeededRegion>,
}

async fn seeded_emulator() -> Seeded {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let regions = leaky_account::seed(&config, &["us-east-1", "eu-west-1"])
        .await
        .expect("seeding the leaky account");
    Seeded { emulator, regions }
}

async fn all_groups(
    emulator: &Emulator,
) -> Vec<(String, std::collections::BTreeMap<String, Vec<String>>)> {
    let mut state = Vec::new();
    for region in ["us-east-1", "eu-west-1"] {
        state.push((
            region.to_string(),
            snapshot::security_groups(&emulator.ec2(region).await).await,
        ));
    }
    state
}

fn plan(emulator: &Emulator, out: &str) -> assert_cmd::assert::Assert {
    emulator
        .plan(REGIONS, out)
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
}

/// Whether any rule of the region still lets traffic in from, or out to, the internet.
async fn open_rules(emulator: &Emulator, region: &str) -> Vec<String> {
    let ec2 = emulator.ec2(region).await;
    let rules = ec2.describe_security_group_rules().send().await.unwrap();
    rules
        .security_group_rules()
        .iter()
        .filter(|r| {
            r.cidr_ipv4() == Some("0.0.0.0/0")
                || r.cidr_ipv6() == Some("::/0")
                || r.prefix_list_id().is_some()
        })
        .map(|r| format!("{:?} {:?}", r.group_id(), r.security_group_rule_id()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_apply_restore_gives_every_security_group_back_exactly() {
    let Seeded { emulator, regions } = seeded_emulator().await;
    let original = all_groups(&emulator).await;

    let output = emulator
        .plan(REGIONS, "plans/incident.yaml")
        .args(["--keep-cidr", RESPONDER_CIDR])
        .assert()
        .code(0)
        .stdout(contains("Plan: "))
        .get_output()
        .stdout
        .clone();
    let stdout = String::from_utf8(output).unwrap();
    assert!(
        stdout.contains(&format!("~ sg_revoke/us-east-1/{}", regions[0].web_group)),
        "{stdout}"
    );
    assert!(
        stdout.contains("- - cidr_ipv4: 0.0.0.0/0")
            || stdout.contains("-   cidr_ipv4: 0.0.0.0/0")
            || stdout.contains("cidr_ipv4: 0.0.0.0/0")
    );
    assert!(
        stdout
            .contains("Kept for the responder (--keep-cidr): ingress tcp/22 from 203.0.113.10/32"),
        "{stdout}"
    );
    assert_eq!(
        all_groups(&emulator).await,
        original,
        "plan must not change the account"
    );

    let plan_path = emulator.path("plans/incident.yaml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&plan_path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    emulator
        .apply("plans/incident.yaml")
        .assert()
        .code(0)
        .stdout(contains(" 0 failed, "))
        .stdout(contains("hikkonuki restore plans/incident.rollback.yaml"));

    for region in ["us-east-1", "eu-west-1"] {
        assert_eq!(
            open_rules(&emulator, region).await,
            Vec::<String>::new(),
            "{region} is sealed"
        );
    }
    // What must survive: traffic inside the VPC, group references, and the responder's own range.
    let us = &snapshot::security_groups(&emulator.ec2("us-east-1").await).await;
    let web = us[&regions[0].web_group].join("\n");
    assert!(web.contains("v4=Some(\"10.20.0.0/16\")"), "{web}");
    let db = us[&regions[0].db_group].join("\n");
    assert!(
        db.contains(&format!("group=Some(\"{}\")", regions[0].web_group)),
        "{db}"
    );
    let bastion = us[&regions[0].bastion_group].join("\n");
    assert!(
        bastion.contains("v4=Some(\"203.0.113.10/32\")"),
        "{bastion}"
    );
    assert!(!bastion.contains("0.0.0.0/0"), "{bastion}");

    let rollback = emulator.path("plans/incident.rollback.yaml");
    assert_eq!(
        fs::metadata(&rollback).unwrap().permissions().mode() & 0o777,
        0o600
    );

    emulator
        .restore("plans/incident.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains("0 failed"));
    assert_eq!(
        all_groups(&emulator).await,
        original,
        "restore gives back exactly what was there"
    );

    // A second restore is a harmless no-op.
    emulator
        .restore("plans/incident.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains("Nothing to restore"));
    assert_eq!(all_groups(&emulator).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn detailed_exitcode_says_2_when_cuts_are_proposed() {
    let Seeded { emulator, .. } = seeded_emulator().await;
    emulator
        .hikkonuki()
        .args(["plan", "--regions", "us-east-1", "--detailed-exitcode"])
        .assert()
        .code(2)
        .stdout(contains("Plan written to plans/123456789012-"));
    let plans: Vec<_> = fs::read_dir(emulator.path("plans")).unwrap().collect();
    assert_eq!(
        plans.len(),
        1,
        "the default plan path is plans/<account>-<timestamp>.yaml"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_plan_is_refused_naming_the_drifted_group_and_changes_nothing() {
    let Seeded { emulator, regions } = seeded_emulator().await;
    plan(&emulator, "plans/p.yaml").code(0);

    // Someone changes a group after the plan was made.
    let ec2 = emulator.ec2("us-east-1").await;
    ec2.authorize_security_group_ingress()
        .group_id(&regions[0].web_group)
        .ip_protocol("tcp")
        .from_port(8443)
        .to_port(8443)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let changed = all_groups(&emulator).await;

    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "drift: sg_revoke/us-east-1/{} no longer matches the plan",
            regions[0].web_group
        )))
        .stderr(contains("8443"))
        .stderr(contains("The plan is stale: make a new one"))
        .stderr(contains("Nothing was changed"));
    assert_eq!(all_groups(&emulator).await, changed);
    assert!(!emulator.path("plans/p.rollback.yaml").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_made_in_another_account_is_refused_and_changes_nothing() {
    let Seeded { emulator, .. } = seeded_emulator().await;
    // Credentials for account 222222222222, as an assumed role: the emulator keeps its state apart.
    let sts = aws_sdk_sts::Client::new(&emulator.sdk_config("us-east-1").await);
    let assumed = sts
        .assume_role()
        .role_arn("arn:aws:iam::222222222222:role/responder")
        .role_session_name("other-account")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    emulator
        .plan("us-east-1", "plans/other.yaml")
        .env("AWS_ACCESS_KEY_ID", creds.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", creds.secret_access_key())
        .env("AWS_SESSION_TOKEN", creds.session_token())
        .assert()
        .code(0);
    let text = fs::read_to_string(emulator.path("plans/other.yaml")).unwrap();
    assert!(text.contains("account: '222222222222'"), "{text}");

    let before = all_groups(&emulator).await;
    emulator
        .apply("plans/other.yaml")
        .assert()
        .code(1)
        .stderr(contains("the plan was made for account 222222222222, but the credentials in use belong to account 123456789012"));
    assert_eq!(all_groups(&emulator).await, before);
    assert!(!emulator.path("plans/other.rollback.yaml").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_without_a_terminal_or_yes_refuses_and_changes_nothing() {
    let Seeded { emulator, .. } = seeded_emulator().await;
    plan(&emulator, "plans/p.yaml").code(0);
    let before = all_groups(&emulator).await;
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml"])
        .write_stdin("123456789012\n")
        .assert()
        .code(1)
        .stderr(contains(
            "needs confirmation, and there is no terminal to ask on",
        ));
    assert_eq!(all_groups(&emulator).await, before);
    assert!(!emulator.path("plans/p.rollback.yaml").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_cuts_are_skipped_reported_and_left_untouched() {
    let Seeded { emulator, regions } = seeded_emulator().await;
    plan(&emulator, "plans/p.yaml").code(0);
    let path = emulator.path("plans/p.yaml");
    let text = fs::read_to_string(&path).unwrap();
    // Disable the cut of the us-east-1 web group only.
    let marker = format!("id: sg_revoke/us-east-1/{}", regions[0].web_group);
    let at = text.find(&marker).unwrap();
    let enabled_at = at + text[at..].find("enabled: true").unwrap();
    let edited = format!(
        "{}enabled: false{}",
        &text[..enabled_at],
        &text[enabled_at + "enabled: true".len()..]
    );
    fs::write(&path, edited).unwrap();

    let web_before = snapshot::security_groups(&emulator.ec2("us-east-1").await).await
        [&regions[0].web_group]
        .clone();
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains(format!(
            "sg_revoke: switched off in the plan (enabled: false)\n      {}",
            regions[0].web_group
        )))
        .stderr(contains(format!(
            "skipped   sg_revoke/us-east-1/{}",
            regions[0].web_group
        )));
    let web_after = snapshot::security_groups(&emulator.ec2("us-east-1").await).await
        [&regions[0].web_group]
        .clone();
    assert_eq!(web_after, web_before);
    let bastion = &snapshot::security_groups(&emulator.ec2("us-east-1").await).await
        [&regions[0].bastion_group];
    assert!(
        !bastion.join("\n").contains("0.0.0.0/0"),
        "enabled cuts still ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_whose_completion_was_never_journaled_is_still_restored() {
    let Seeded { emulator, .. } = seeded_emulator().await;
    let original = all_groups(&emulator).await;
    plan(&emulator, "plans/p.yaml").code(0);
    emulator.apply("plans/p.yaml").assert().code(0);

    // As if apply had died after the last AWS call but before journaling its completion: the file ends
    // with an intent (dropping the final entry keeps the chain intact, exactly as a crash would).
    let rollback = emulator.path("plans/p.rollback.yaml");
    let text = fs::read_to_string(&rollback).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().contains("\"entry\":\"done\""));
    lines.pop();
    fs::write(&rollback, lines.join("\n") + "\n").unwrap();
    // Nor is the mark of how far the file got left, which only a journal that closes writes.
    fs::remove_dir_all(emulator.path(".local/state/hikkonuki/rollback-keys/heads")).unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains(
            "(its completion was not recorded: live state decides what is put back)",
        ));
    assert_eq!(all_groups(&emulator).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_refuses_a_rollback_file_with_a_forged_entry() {
    let Seeded { emulator, .. } = seeded_emulator().await;
    plan(&emulator, "plans/p.yaml").code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    let rollback = emulator.path("plans/p.rollback.yaml");
    let text = fs::read_to_string(&rollback).unwrap();
    // An attacker widens what restore would open: 10.20.0.0/16 becomes 0.0.0.0/0 in one undo record.
    fs::write(
        &rollback,
        text.replacen(
            "\"cidr_ipv4\":\"0.0.0.0/0\"",
            "\"cidr_ipv4\":\"0.0.0.0/1\"",
            1,
        ),
    )
    .unwrap();
    let before = all_groups(&emulator).await;
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(1)
        .stderr(contains("is not authenticated by the key"));
    assert_eq!(all_groups(&emulator).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn show_renders_the_rollback_file_as_text_and_json() {
    let Seeded { emulator, .. } = seeded_emulator().await;
    plan(&emulator, "plans/p.yaml").code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    emulator
        .hikkonuki()
        .args(["show", "plans/p.rollback.yaml"])
        .assert()
        .code(0)
        .stdout(contains("apply of plans/p.yaml on account 123456789012"))
        .stdout(contains("cut       sg_revoke/us-east-1/"));
    let json = emulator
        .hikkonuki()
        .args(["show", "plans/p.rollback.yaml", "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let records: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(records[0]["entry"], "header");
    assert_eq!(records[1]["entry"], "intent");
    emulator
        .hikkonuki()
        .args(["show", "plans/p.yaml"])
        .assert()
        .code(0)
        .stdout(contains("Plan: "));
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_check_dry_runs_the_cuts_and_changes_nothing() {
    let Seeded { emulator, regions } = seeded_emulator().await;
    plan(&emulator, "plans/p.yaml").code(0);
    let before = all_groups(&emulator).await;
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--check"])
        .assert()
        .code(0)
        .stdout(contains(format!(
            "allowed    sg_revoke/us-east-1/{}",
            regions[0].web_group
        )))
        .stdout(contains("0 problem(s); "))
        .stdout(contains(" not checkable (listed as unchecked"))
        .stdout(contains("Nothing was changed."));
    assert_eq!(all_groups(&emulator).await, before);
    assert!(!emulator.path("plans/p.rollback.yaml").exists());
}

/// `tests/emulator/server_speed.py` makes moto answer faster and must change no answer: its
/// `DescribeSecurityGroupRules` by group is checked against moto's own (see the script).
#[test]
fn the_emulators_faster_rule_describe_answers_as_motos_own() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/emulator/check_server_speed.py");
    let out = std::process::Command::new(crate::emulator::venv_python())
        .arg(&script)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the emulator's python runs");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("4 filters answered as moto answers them"),
        "{said}"
    );
}

/// Of one group's snapshot lines, those that describe its rule `tcp/port` from 0.0.0.0/0: the permission
/// line and the rule line.
fn public_v4_lines(lines: &[String], port: i32) -> Vec<String> {
    lines
        .iter()
        .filter(|line| {
            line.contains(&format!("Some({port})-Some({port})")) && line.contains("\"0.0.0.0/0\"")
        })
        .cloned()
        .collect()
}

/// Someone opens two of the revoked rules again during the incident: the web group's public HTTPS under
/// another description, and the bastion's vendor SSH exactly as it was. Restore adds neither a second
/// time: the first is a conflict, left with the description it has now, the second is already as before;
/// every other revoked rule, in both regions, is re-authorized exactly.
#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_rules_opened_again_after_the_cut_alone_and_restores_the_rest() {
    use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};

    let Seeded { emulator, regions } = seeded_emulator().await;
    let original = all_groups(&emulator).await;
    plan(&emulator, "plans/p.yaml").code(0);
    emulator.apply("plans/p.yaml").assert().code(0);

    let ec2 = emulator.ec2("us-east-1").await;
    let (web, bastion) = (&regions[0].web_group, &regions[0].bastion_group);
    let reopen = |group: &str, port: i32, description: &str| {
        ec2.authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port)
                    .to_port(port)
                    .ip_ranges(
                        IpRange::builder()
                            .cidr_ip("0.0.0.0/0")
                            .description(description)
                            .build(),
                    )
                    .build(),
            )
            .send()
    };
    reopen(web, 443, "public https, reopened for the launch")
        .await
        .unwrap();
    reopen(bastion, 22, "temporary: vendor access")
        .await
        .unwrap();
    let rules = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(web).build())
        .send()
        .await
        .unwrap();
    let reopened = rules
        .security_group_rules()
        .iter()
        .find(|r| r.cidr_ipv4() == Some("0.0.0.0/0") && r.from_port() == Some(443))
        .and_then(|r| r.security_group_rule_id())
        .unwrap()
        .to_string();
    let reopened_web = public_v4_lines(&snapshot::security_groups(&ec2).await[web.as_str()], 443);
    assert_eq!(reopened_web.len(), 2, "{reopened_web:?}");

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "conflict: ingress tcp/443 from 0.0.0.0/0 exists again as {reopened} with a different description or tags; left as it is"
        )))
        .stderr(contains("already present: ingress tcp/22 from 0.0.0.0/0"))
        .stderr(contains("re-authorized ingress tcp/443 from ::/0"))
        .stdout(contains(format!(
            "  conflict: sg_revoke/us-east-1/{web}: ingress tcp/443 from 0.0.0.0/0 exists again as {reopened} with a different description or tags; left as it is"
        )));

    // Everything is as before the cut, but the web group's public HTTPS rule, which keeps the description
    // (and the lack of tags) it was opened again with.
    let mut expected = original.clone();
    let us = &mut expected[0].1;
    let web_lines = us.get_mut(web.as_str()).unwrap();
    let replaced = public_v4_lines(web_lines, 443);
    assert_eq!(replaced.len(), 2, "{replaced:?}");
    web_lines.retain(|line| !replaced.contains(line));
    web_lines.extend(reopened_web);
    web_lines.sort();
    assert_eq!(all_groups(&emulator).await, expected);
}
