//! An organization in one run (issue 15): the emulator's default account is the management account of an
//! organization with three member accounts, each seeded with the leaky account's network, database and
//! IAM keys through the role AWS Organizations creates in them (as the tool enters them). One plan covers
//! the three members, one apply cuts them with one rollback file each, one restore of the directory gives
//! every account back exactly.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::emulator::Emulator;
use crate::{database, leaky_account, network, snapshot};

const REGION: &str = "us-east-1";
const MANAGEMENT: &str = "123456789012";

/// Creates the organization and `count` member accounts; returns the organization ID and the members.
pub async fn organization_with_members(emulator: &Emulator, count: usize) -> (String, Vec<String>) {
    leaky_account::organization::create(&emulator.sdk_config(REGION).await, count)
        .await
        .unwrap()
}

/// Everything the cuts of the seeded network, database and keys touch in one account.
#[derive(Debug, PartialEq)]
pub struct AccountState {
    security_groups: BTreeMap<String, Vec<String>>,
    network_acls: BTreeMap<String, Vec<String>>,
    route_tables: BTreeMap<String, Vec<String>>,
    internet_gateways: BTreeMap<String, String>,
    vpn_gateways: BTreeMap<String, String>,
    vpc_endpoints: BTreeMap<String, String>,
    database: String,
    access_keys: BTreeMap<String, String>,
}

pub async fn account_state(config: &SdkConfig, database_id: &str) -> AccountState {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let rds = aws_sdk_rds::Client::new(config);
    let iam = aws_sdk_iam::Client::new(config);
    let mut access_keys = BTreeMap::new();
    for user in iam.list_users().send().await.unwrap().users() {
        let keys = iam
            .list_access_keys()
            .user_name(user.user_name())
            .send()
            .await
            .unwrap();
        for key in keys.access_key_metadata() {
            access_keys.insert(
                key.access_key_id().unwrap_or_default().to_string(),
                format!("{:?}", key.status()),
            );
        }
    }
    AccountState {
        security_groups: snapshot::security_groups(&ec2).await,
        network_acls: network::network_acls(&ec2).await,
        route_tables: network::route_tables(&ec2).await,
        internet_gateways: snapshot::internet_gateways(&ec2).await,
        vpn_gateways: snapshot::vpn_gateways(&ec2).await,
        vpc_endpoints: snapshot::vpc_endpoints(&ec2).await,
        database: database::describe(&rds, database_id).await,
        access_keys,
    }
}

/// Every member's state, in the order given.
async fn states_of(members: &[SeededMember]) -> Vec<AccountState> {
    let mut states = Vec::new();
    for member in members {
        states.push(account_state(&member.config, &member.database).await);
    }
    states
}

/// A member seeded with the leaky account's network, database and IAM keys.
pub struct SeededMember {
    pub account: String,
    pub config: SdkConfig,
    pub database: String,
    pub web_group: String,
}

pub async fn seed_members(emulator: &Emulator, members: &[String]) -> Vec<SeededMember> {
    leaky_account::organization::seed_members(
        &emulator.sdk_config(REGION).await,
        members,
        &[REGION],
    )
    .await
    .unwrap()
    .into_iter()
    .map(|member| SeededMember {
        account: member.account,
        config: member.config,
        database: member.regions[0].database.clone(),
        web_group: member.regions[0].web_group.clone(),
    })
    .collect()
}

fn plan_over(emulator: &Emulator, accounts: &str, out: &str) -> assert_cmd::Command {
    let mut cmd = emulator.plan(REGION, out);
    cmd.args(["--accounts", accounts]);
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn three_member_accounts_are_planned_cut_and_restored_exactly_in_one_run() {
    let emulator = Emulator::start();
    let (organization, members) = organization_with_members(&emulator, 3).await;
    let seeded = seed_members(&emulator, &members).await;
    // The management account has exposures of its own, which a plan of the members leaves alone.
    let management = emulator.sdk_config(REGION).await;
    let own = leaky_account::seed(&management, &[REGION]).await.unwrap();
    let own_before = account_state(&management, &own[0].database).await;
    let mut before = Vec::new();
    for member in &seeded {
        before.push(account_state(&member.config, &member.database).await);
    }

    let planned = plan_over(&emulator, &members.join(","), "plans/org.yaml")
        .args(["--output", "json"])
        .assert()
        .code(0)
        .stderr(contains(format!(
            "Organization {organization}: 4 account(s)"
        )))
        .get_output()
        .stdout
        .clone();
    // The totals first, over every account: each step then answered in its own account.
    let events = crate::steer::json_events(&planned);
    assert_eq!(events[0]["event"], "started", "{events:?}");
    assert_eq!(events[0]["command"], "plan");
    let steps: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "discovered" || e["event"] == "discovery-failed")
        .collect();
    assert_eq!(events[0]["total"], steps.len(), "{events:?}");
    for member in &members {
        assert!(
            steps
                .iter()
                .any(|e| e["account"] == member.as_str() && e["kind"] == "sg_revoke"),
            "{member}: {steps:?}"
        );
    }
    let plan = hikkonuki::plan::file::read(
        &emulator.path("plans/org.yaml"),
        &hikkonuki::services::Registry::standard(),
    )
    .unwrap();
    assert_eq!(plan.account, MANAGEMENT);
    assert_eq!(plan.organization.as_deref(), Some(organization.as_str()));
    assert!(
        plan.cuts.is_empty(),
        "the management account was not chosen: only organization-level kinds are planned there, and none was asked for: {:?}",
        plan.cuts.iter().map(|c| &c.id).collect::<Vec<_>>()
    );
    let planned: Vec<&str> = plan.members.iter().map(|m| m.account.as_str()).collect();
    let mut expected: Vec<&str> = members.iter().map(String::as_str).collect();
    expected.sort_unstable();
    let mut planned_sorted = planned.clone();
    planned_sorted.sort_unstable();
    assert_eq!(planned_sorted, expected);
    for member in &plan.members {
        assert!(
            member.caller.contains(&member.account)
                && member.caller.contains("OrganizationAccountAccessRole"),
            "discovery ran as the member role: {}",
            member.caller
        );
        assert!(
            member.cuts.iter().all(|cut| !cut.kind.starts_with("org_")),
            "organization-level kinds act from the management account only, never in a member's part"
        );
        for kind in [
            "sg_revoke",
            "nacl_deny",
            "rds_public_off",
            "iam_key_deactivate",
        ] {
            assert!(
                member
                    .cuts
                    .iter()
                    .any(|cut| cut.kind == kind && cut.enabled),
                "{}: a {kind} cut: {:?}",
                member.account,
                member.cuts.iter().map(|c| &c.id).collect::<Vec<_>>()
            );
        }
    }

    emulator
        .apply("plans/org.yaml")
        .assert()
        .code(0)
        .stdout(contains("3 account(s)"));
    for member in &members {
        let rollback = emulator.path(&format!("plans/org.rollback/{member}.rollback.yaml"));
        let (contents, _) =
            hikkonuki::journal::read_path(&rollback, &emulator.rollback_keys(), false).unwrap();
        assert_eq!(
            contents.account(),
            Some(member.as_str()),
            "one file per account"
        );
    }
    assert!(
        !emulator
            .path(&format!("plans/org.rollback/{MANAGEMENT}.rollback.yaml"))
            .exists(),
        "no cut in the management account, so no rollback file there"
    );
    for (member, state) in seeded.iter().zip(&before) {
        let cut = account_state(&member.config, &member.database).await;
        assert_ne!(&cut, state, "{}: cut", member.account);
        assert!(
            cut.access_keys
                .values()
                .all(|status| status.contains("Inactive")),
            "{}: every key deactivated: {:?}",
            member.account,
            cut.access_keys
        );
    }
    assert_eq!(
        account_state(&management, &own[0].database).await,
        own_before,
        "the management account was not touched"
    );

    // A dry run over the directory lists every account's undos, each under its account, and changes
    // nothing.
    let dry_run = emulator
        .restore("plans/org.rollback")
        .args(["--dry-run", "--output", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let events = crate::steer::json_events(&dry_run);
    assert_eq!(events[0]["event"], "started", "{events:?}");
    assert_eq!(events[0]["dry_run"], true);
    let undos: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "would-restore")
        .collect();
    assert_eq!(events[0]["total"], undos.len());
    for member in &members {
        assert!(
            undos
                .iter()
                .any(|e| e["account"] == member.as_str() && e["as_cut"] != e["as_restored"]),
            "{member}: {undos:?}"
        );
    }
    for (member, state) in seeded.iter().zip(&before) {
        assert_ne!(
            &account_state(&member.config, &member.database).await,
            state,
            "{}: still cut after the dry run",
            member.account
        );
    }

    emulator
        .restore("plans/org.rollback")
        .assert()
        .code(0)
        .stdout(contains("Restore finished: 3 account(s)"));
    for (member, state) in seeded.iter().zip(&before) {
        assert_eq!(
            &account_state(&member.config, &member.database).await,
            state,
            "{}: restored exactly",
            member.account
        );
    }
}

/// A member whose role cannot be entered is a High finding naming the role and the error, and the
/// others are still planned; its steps, counted in `started`, are accounted for by one
/// `discovery-skipped`, so the steps still add up to the total.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_that_cannot_be_entered_is_a_finding_and_blocks_no_other() {
    let emulator = Emulator::start();
    let (_, members) = organization_with_members(&emulator, 2).await;
    let seeded = seed_members(&emulator, &members).await;
    // Someone removed the role from the second member (as an intruder might).
    let iam = aws_sdk_iam::Client::new(&seeded[1].config);
    iam.delete_role()
        .role_name("OrganizationAccountAccessRole")
        .send()
        .await
        .unwrap();

    let planned = plan_over(&emulator, "all", "plans/org.yaml")
        .args(["--output", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let events = crate::steer::json_events(&planned);
    assert_eq!(events[0]["event"], "started", "{events:?}");
    let skipped: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "discovery-skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["account"], members[1].as_str());
    assert!(
        skipped[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("OrganizationAccountAccessRole")),
        "{skipped:?}"
    );
    let answered = events
        .iter()
        .filter(|e| e["event"] == "discovered" || e["event"] == "discovery-failed")
        .count();
    assert!(
        !events
            .iter()
            .any(|e| e["account"] == members[1].as_str() && e["event"] == "discovered"),
        "nothing discovered where the tool could not enter"
    );
    let steps = skipped[0]["steps"].as_u64().expect("a count of steps") as usize;
    assert!(steps > 0, "{skipped:?}");
    assert_eq!(
        events[0]["total"].as_u64(),
        Some((answered + steps) as u64),
        "every counted step answered or skipped"
    );
    // The member planned has as many steps as the one skipped.
    let first_member_steps = events
        .iter()
        .filter(|e| {
            e["account"] == members[0].as_str()
                && (e["event"] == "discovered" || e["event"] == "discovery-failed")
        })
        .count();
    assert_eq!(first_member_steps, steps);
    let plan = hikkonuki::plan::file::read(
        &emulator.path("plans/org.yaml"),
        &hikkonuki::services::Registry::standard(),
    )
    .unwrap();
    let finding = plan
        .findings
        .iter()
        .find(|f| f.check == "account_not_entered" && f.resource == members[1])
        .expect("a finding for the member that could not be entered");
    assert!(
        finding.message.contains("OrganizationAccountAccessRole"),
        "{}",
        finding.message
    );
    assert!(
        plan.members
            .iter()
            .any(|m| m.account == members[0] && !m.cuts.is_empty()),
        "the other member is planned"
    );
    assert!(
        !plan.members.iter().any(|m| m.account == members[1]),
        "nothing planned where the tool could not enter"
    );
    assert!(
        !plan.cuts.is_empty(),
        "`all` includes the management account, planned with its own credentials"
    );
}

/// An account ID not in the organization is refused before anything is read.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_not_in_the_organization_is_refused_by_name() {
    let emulator = Emulator::start();
    organization_with_members(&emulator, 1).await;
    plan_over(&emulator, "999999999999", "plans/org.yaml")
        .assert()
        .code(1)
        .stderr(contains("999999999999"))
        .stderr(contains("not accounts of organization"));
    assert!(!emulator.path("plans/org.yaml").exists());
    plan_over(&emulator, "12345", "plans/org.yaml")
        .assert()
        .code(1)
        .stderr(contains("--accounts: `12345` is not a 12-digit account ID"));
}

/// One member changed since the plan: `apply --check` names it, and apply refuses every account, cutting
/// none. Once it is back as planned, apply cuts both; one member's file is restored alone (entered through
/// the role its file records), then the directory restores the other.
#[tokio::test(flavor = "multi_thread")]
async fn drift_in_one_account_refuses_all_and_one_accounts_file_restores_alone() {
    let emulator = Emulator::start();
    let (_, members) = organization_with_members(&emulator, 2).await;
    let seeded = seed_members(&emulator, &members).await;
    let mut before = Vec::new();
    for member in &seeded {
        before.push(account_state(&member.config, &member.database).await);
    }
    plan_over(&emulator, &members.join(","), "plans/org.yaml")
        .args(["--kinds", "sg_revoke,iam_key_deactivate"])
        .assert()
        .code(0);

    let ec2 = aws_sdk_ec2::Client::new(&seeded[0].config);
    let extra = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(8443)
        .to_port(8443)
        .ip_ranges(
            aws_sdk_ec2::types::IpRange::builder()
                .cidr_ip("0.0.0.0/0")
                .build(),
        )
        .build();
    ec2.authorize_security_group_ingress()
        .group_id(&seeded[0].web_group)
        .ip_permissions(extra.clone())
        .send()
        .await
        .unwrap();
    let drifted = account_state(&seeded[0].config, &seeded[0].database).await;

    let check = emulator
        .hikkonuki()
        .args(["apply", "plans/org.yaml", "--check"])
        .assert()
        .code(1);
    let out = String::from_utf8_lossy(&check.get_output().stdout).into_owned();
    assert!(
        out.contains(&format!(
            "drift      {}:sg_revoke/us-east-1/{}",
            members[0], seeded[0].web_group
        )),
        "{out}"
    );
    emulator
        .apply("plans/org.yaml")
        .assert()
        .code(1)
        .stderr(contains(format!("account {}", members[0])))
        .stderr(contains("no account was changed"));
    assert_eq!(
        account_state(&seeded[0].config, &seeded[0].database).await,
        drifted
    );
    assert_eq!(
        account_state(&seeded[1].config, &seeded[1].database).await,
        before[1],
        "the account without drift was not cut either"
    );
    let left: Vec<_> = std::fs::read_dir(emulator.path("plans/org.rollback"))
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "no rollback file left by a refused apply: {left:?}"
    );

    ec2.revoke_security_group_ingress()
        .group_id(&seeded[0].web_group)
        .ip_permissions(extra)
        .send()
        .await
        .unwrap();

    // The organization the operator confirms is read live: a plan edited to name another is refused,
    // and nothing changes.
    let text = std::fs::read_to_string(emulator.path("plans/org.yaml")).unwrap();
    let planned = text
        .lines()
        .find_map(|line| line.strip_prefix("organization: "))
        .expect("the plan names its organization")
        .trim()
        .to_string();
    std::fs::write(
        emulator.path("plans/other-org.yaml"),
        text.replace(
            &format!("organization: {planned}"),
            "organization: o-zzzzzzzzzz",
        ),
    )
    .unwrap();
    let unchanged = [
        account_state(&seeded[0].config, &seeded[0].database).await,
        account_state(&seeded[1].config, &seeded[1].database).await,
    ];
    emulator
        .apply("plans/other-org.yaml")
        .assert()
        .code(1)
        .stderr(contains("the plan names organization o-zzzzzzzzzz"))
        .stderr(contains(format!("in organization {planned}")));
    assert_eq!(
        [
            account_state(&seeded[0].config, &seeded[0].database).await,
            account_state(&seeded[1].config, &seeded[1].database).await,
        ],
        unchanged
    );

    emulator.apply("plans/org.yaml").assert().code(0);

    // The credentials are the management account's: the member is entered through the role apply
    // recorded in its file.
    let second = format!("plans/org.rollback/{}.rollback.yaml", members[1]);
    emulator.restore(&second).assert().code(0);
    assert_eq!(
        account_state(&seeded[1].config, &seeded[1].database).await,
        before[1],
        "restored alone"
    );
    assert_ne!(
        account_state(&seeded[0].config, &seeded[0].database).await,
        before[0],
        "the other account is still cut"
    );
    // The keys lost (another machine): the directory is refused, and restored only with --force, whose
    // question shows every cut whole, as for one file, since nothing vouches for what the files say.
    let keys = emulator.path(".local/state/hikkonuki/rollback-keys");
    let aside = emulator.path("keys-aside");
    std::fs::rename(&keys, &aside).unwrap();
    emulator
        .restore("plans/org.rollback")
        .assert()
        .code(1)
        .stdout(contains("NOT restored").and(contains("cannot be authenticated")))
        .stdout(contains("\\n  fix:").not())
        .stdout(contains("\n  fix: restore on the machine"));
    emulator
        .restore("plans/org.rollback")
        .arg("--force")
        .assert()
        .code(0)
        .stdout(contains(format!(
            "Account {}: its rollback file could not be authenticated (--force): restore puts back what it says, shown here whole.",
            members[0]
        )))
        .stdout(contains("--- as cut\n+++ as restored\n"))
        .stdout(contains(format!("sg_revoke/us-east-1/{}", seeded[0].web_group)));
    assert_eq!(
        account_state(&seeded[0].config, &seeded[0].database).await,
        before[0],
        "restored with --force"
    );
    // The keys stay lost: the entries that restore wrote are not vouched for by them either.
    // A file planted under another account's name (here a restored member's, copied) is refused:
    // restore would act in the account its header names. The others are gone through all the same.
    let planted = emulator.path("plans/org.rollback/999999999999.rollback.yaml");
    std::fs::copy(emulator.path(&second), &planted).unwrap();
    let run = emulator
        .restore("plans/org.rollback")
        .arg("--force")
        .assert()
        .code(1);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.get_output().stdout),
        String::from_utf8_lossy(&run.get_output().stderr)
    );
    assert!(
        said.contains(&format!(
            "named for account 999999999999 but its header names account {}",
            members[1]
        )),
        "{said}"
    );
    std::fs::remove_file(&planted).unwrap();
    emulator
        .restore("plans/org.rollback")
        .arg("--force")
        .assert()
        .code(0);
    for (member, state) in seeded.iter().zip(&before) {
        assert_eq!(
            &account_state(&member.config, &member.database).await,
            state,
            "{}",
            member.account
        );
    }
}

/// A plan made through another role than the default (`plan --role`; here the default role is gone, as in
/// an invited account) is restored through that role without naming it again: apply records it in each
/// account's rollback file. One member's file is restored alone with the management account's
/// credentials, then the directory. A `--role` that differs wins, with a warning naming both.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_made_through_another_role_is_restored_through_it_without_naming_it() {
    let emulator = Emulator::start();
    let (_, members) = organization_with_members(&emulator, 2).await;
    let seeded = seed_members(&emulator, &members).await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{MANAGEMENT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let mut before = Vec::new();
    for member in &seeded {
        let iam = aws_sdk_iam::Client::new(&member.config);
        iam.create_role()
            .role_name("IncidentResponder")
            .assume_role_policy_document(&trust)
            .send()
            .await
            .unwrap();
        iam.delete_role()
            .role_name("OrganizationAccountAccessRole")
            .send()
            .await
            .unwrap();
        before.push(account_state(&member.config, &member.database).await);
    }
    plan_over(&emulator, &members.join(","), "plans/org.yaml")
        .args(["--role", "IncidentResponder"])
        .args(["--kinds", "sg_revoke,iam_key_deactivate"])
        .assert()
        .code(0);
    emulator.apply("plans/org.yaml").assert().code(0);
    let cut = states_of(&seeded).await;
    for (state, planned) in cut.iter().zip(&before) {
        assert_ne!(state, planned, "apply cut every member");
    }
    let second = format!("plans/org.rollback/{}.rollback.yaml", members[1]);
    emulator
        .hikkonuki()
        .args(["show", &second])
        .assert()
        .code(0)
        .stdout(contains("entered through role IncidentResponder"));

    // Watch and verify look at one member's file with the management account's credentials, entering
    // the member through the role its file records; the directory is refused, saying how to go on.
    emulator
        .hikkonuki()
        .args(["watch", &second, "--once"])
        .assert()
        .code(0)
        .stdout(contains("0 reopened, 0 changed"));
    emulator
        .hikkonuki()
        .args(["verify", &second])
        .assert()
        .stderr(contains("was made for account").not())
        .code(0)
        .stdout(contains("path(s) from the internet into 3 VPC(s)"));
    for command in ["watch", "verify"] {
        emulator
            .hikkonuki()
            .args([command, "plans/org.rollback"])
            .assert()
            .code(1)
            .stderr(contains(format!(
                "{command} looks at one account's file at a time"
            )))
            .stderr(contains(format!(
                "fix: hikkonuki {command} plans/org.rollback/<account>.rollback.yaml"
            )));
    }

    // The operator's word wins over the file's, and is warned about: the default role is gone, so
    // nothing is restored.
    emulator
        .restore("plans/org.rollback")
        .args(["--role", "OrganizationAccountAccessRole"])
        .assert()
        .code(1)
        .stderr(contains(
            "through role OrganizationAccountAccessRole (--role), but apply entered it through IncidentResponder",
        ));
    assert_eq!(states_of(&seeded).await, cut);

    emulator.restore(&second).assert().code(0);
    assert_eq!(
        account_state(&seeded[1].config, &seeded[1].database).await,
        before[1],
        "one member's file restored alone, through the role it records"
    );
    emulator.restore("plans/org.rollback").assert().code(0);
    assert_eq!(states_of(&seeded).await, before);
}

/// An intruder deletes the role the tool enters a member through, after the plan: apply refuses the whole
/// plan, naming the account and the flag that goes on without it, and changes nothing. With
/// `--skip-unreachable-accounts` the other member is cut and the one not entered is reported stopped with
/// nothing cut (exit 1, so a script does not read it as contained); restore of the directory gives the
/// cut member back exactly.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_that_can_no_longer_be_entered_refuses_apply_unless_skipped_and_the_rest_is_cut()
{
    let emulator = Emulator::start();
    let (_, members) = organization_with_members(&emulator, 2).await;
    let seeded = seed_members(&emulator, &members).await;
    plan_over(&emulator, &members.join(","), "plans/org.yaml")
        .args(["--kinds", "sg_revoke,iam_key_deactivate"])
        .assert()
        .code(0);
    aws_sdk_iam::Client::new(&seeded[1].config)
        .delete_role()
        .role_name("OrganizationAccountAccessRole")
        .send()
        .await
        .unwrap();
    let before = states_of(&seeded).await;

    emulator
        .apply("plans/org.yaml")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "account {}: cannot enter the account",
            members[1]
        )))
        .stderr(contains("--skip-unreachable-accounts"))
        .stderr(contains("no account was changed"));
    assert_eq!(
        states_of(&seeded).await,
        before,
        "a refused apply changes nothing"
    );

    let applied = emulator
        .apply("plans/org.yaml")
        .arg("--skip-unreachable-accounts")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "account {} is left out (--skip-unreachable-accounts)",
            members[1]
        )))
        .stdout(contains(format!(
            "Account {}: STOPPED, not entered, nothing there was cut",
            members[1]
        )))
        .stdout(contains("2 account(s): "))
        .stdout(contains("1 account(s) stopped"));
    let out = String::from_utf8_lossy(&applied.get_output().stdout).into_owned();
    let after = states_of(&seeded).await;
    assert_ne!(after[0], before[0], "the member entered is cut: {out}");
    assert_eq!(
        after[1], before[1],
        "nothing is cut where the tool could not enter"
    );
    let files: Vec<String> = std::fs::read_dir(emulator.path("plans/org.rollback"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one rollback file, the entered member's: {files:?}"
    );
    assert!(files[0].contains(&members[0]), "{files:?}");

    emulator
        .restore("plans/org.rollback")
        .assert()
        .code(0)
        .stdout(contains("0 failed"));
    assert_eq!(
        states_of(&seeded).await,
        before,
        "restore gives the cut member back exactly"
    );
}
