//! `identity_center_session_revoke` end to end on the emulator: plan → apply → restore, with each seeded
//! permission set's inline policy (exact text) and provisioning compared before and after.
//!
//! moto has no DescribePermissionSetProvisioningStatus: our model of it (tests/emulator/aws_model/
//! sso_admin.py, not AWS) answers IN_PROGRESS to ProvisionPermissionSet and SUCCEEDED when followed, so
//! the wait runs. moto ignores ProvisioningStatus; the model keeps a permission set edited since it was
//! provisioned out of date, so the plan's naming of such edits runs too. FAILED, ConflictException, throttling and the size limits are proven with mocks in
//! src/services/trust/identity_center_session_revoke/tests.rs. The emulator does not authenticate: that
//! the deny ends sessions cannot be shown here, only that the documents and provisioning are right.

use std::collections::BTreeMap;

use predicates::str::contains;
use serde_json::Value;

use crate::emulator::Emulator;
use crate::leaky_account::identity_center::{self, DATA_ENGINEERS_POLICY, SeededIdentityCenter};

const SID: &str = "HikkonukiRevokeIdentityCenterSessionsIssuedBeforeApply";

/// Everything the cut could touch: each permission set's inline policy as text, the rest of its
/// definition (description, session duration, managed policies, customer managed policy references,
/// permissions boundary), the accounts it is provisioned to, and the permission sets provisioned to the
/// account.
pub async fn identity_center_state(
    sso: &aws_sdk_ssoadmin::Client,
    seeded: &SeededIdentityCenter,
) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    let instance = &seeded.instance_arn;
    for (name, arn) in &seeded.permission_sets {
        let policy = sso
            .get_inline_policy_for_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("{name} inline policy"),
            policy.inline_policy().unwrap_or_default().to_string(),
        );
        state.insert(
            format!("{name} definition"),
            definition(sso, instance, arn).await,
        );
        let accounts = sso
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("{name} provisioned to"),
            accounts.account_ids().join(","),
        );
    }
    let provisioned = sso
        .list_permission_sets_provisioned_to_account()
        .instance_arn(instance)
        .account_id("123456789012")
        .send()
        .await
        .unwrap();
    let mut sets: Vec<&str> = provisioned
        .permission_sets()
        .iter()
        .map(String::as_str)
        .collect();
    sets.sort();
    state.insert("provisioned to the account".into(), sets.join(","));
    state
}

/// The permission set's definition besides its inline policy, as one line to compare.
async fn definition(sso: &aws_sdk_ssoadmin::Client, instance: &str, arn: &str) -> String {
    let described = sso
        .describe_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap();
    let set = described.permission_set().unwrap();
    let managed = sso
        .list_managed_policies_in_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap();
    let references = sso
        .list_customer_managed_policy_references_in_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap();
    // Our model of GetPermissionsBoundaryForPermissionSet answers ResourceNotFoundException for none.
    let boundary = sso
        .get_permissions_boundary_for_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .ok()
        .and_then(|answer| answer.permissions_boundary().cloned());
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        set.description(),
        set.session_duration(),
        set.relay_state(),
        managed
            .attached_managed_policies()
            .iter()
            .map(|policy| policy.arn())
            .collect::<Vec<_>>(),
        references.customer_managed_policy_references(),
        boundary
    )
}

fn arn_of<'a>(seeded: &'a SeededIdentityCenter, name: &str) -> &'a str {
    &seeded
        .permission_sets
        .iter()
        .find(|(n, _)| n == name)
        .unwrap()
        .1
}

fn cut_in_plan<'a>(plan: &'a serde_yaml::Value, id: &str) -> &'a serde_yaml::Value {
    plan["cuts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|cut| cut["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no cut {id} in the plan"))
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_sets_are_revoked_and_restored_exactly_the_revocation_only_when_lifted() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity_center::seed(&config).await.unwrap();
    let sso = aws_sdk_ssoadmin::Client::new(&config);
    let original = identity_center_state(&sso, &seeded).await;
    let engineers = arn_of(&seeded, "DataEngineers");
    let break_glass = arn_of(&seeded, "BreakGlass");
    let engineers_cut = format!("identity_center_session_revoke/global/{engineers}");
    let break_glass_cut = format!("identity_center_session_revoke/global/{break_glass}");

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains(&engineers_cut))
        .stdout(contains(&break_glass_cut));
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let cut = cut_in_plan(&plan, &engineers_cut);
    assert_eq!(cut["enabled"].as_bool(), Some(true));
    assert_eq!(
        cut["before"]["inline_policy"].as_str(),
        Some(DATA_ENGINEERS_POLICY)
    );
    assert_eq!(
        cut["before"]["provisioned_to"],
        serde_yaml::from_str::<serde_yaml::Value>("['123456789012']").unwrap()
    );
    let planned: Value =
        serde_json::from_str(cut["after"]["inline_policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        planned["Statement"][1]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        "the moment of apply"
    );
    assert!(
        cut_in_plan(&plan, &break_glass_cut)["before"]["inline_policy"].is_null(),
        "BreakGlass has no inline policy"
    );

    let before_apply = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    emulator.apply("plans/p.yaml").assert().code(0);
    let cut_state = identity_center_state(&sso, &seeded).await;
    let original_statement: Value =
        serde_json::from_str::<Value>(DATA_ENGINEERS_POLICY).unwrap()["Statement"][0].clone();
    for (name, prior_statements) in [("DataEngineers", 1), ("BreakGlass", 0)] {
        let document: Value =
            serde_json::from_str(&cut_state[&format!("{name} inline policy")]).unwrap();
        let statements = document["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), prior_statements + 1, "{name}: {document}");
        if prior_statements == 1 {
            assert_eq!(
                statements[0], original_statement,
                "the prior statement is kept first"
            );
        }
        let ours = statements.last().unwrap();
        assert_eq!(ours["Sid"], SID);
        assert_eq!(
            (&ours["Effect"], &ours["Action"], &ours["Resource"]),
            (&"Deny".into(), &"*".into(), &"*".into())
        );
        let cutoff = time::OffsetDateTime::parse(
            ours["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
                .as_str()
                .unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        // The emulator's Date header at apply (this machine's clock), rounded up to the next second.
        assert!(
            cutoff > before_apply
                && cutoff <= time::OffsetDateTime::now_utc() + time::Duration::seconds(1),
            "{name}: the cut-off is the apply time: {cutoff}"
        );
        assert_eq!(
            cut_state[&format!("{name} provisioned to")],
            original[&format!("{name} provisioned to")],
            "{name} is still provisioned where it was"
        );
    }
    assert_eq!(
        cut_state["provisioned to the account"],
        original["provisioned to the account"]
    );

    // A plan made now proposes nothing more: the revocation is there, and says so.
    emulator
        .plan("us-east-1", "plans/again.yaml")
        .assert()
        .code(0)
        .stdout(contains("already holds an earlier session revocation"));

    // A plain restore keeps the revocation.
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains(format!(
            "Kept in place: {engineers_cut} (lifting it revives every session issued before the apply, stolen ones included). Pass --lift-session-revocation to lift it."
        )));
    assert_eq!(identity_center_state(&sso, &seeded).await, cut_state);

    // Lifted later: the exact text from before apply, and no inline policy where there was none.
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "session revocation lifted on permission set {engineers}: inline policy put back exactly"
        )))
        .stderr(contains(format!(
            "session revocation lifted on permission set {break_glass}: inline policy deleted (there was none)"
        )));
    assert_eq!(identity_center_state(&sso, &seeded).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_permission_set_changed_after_the_cut_alone_and_reports_it() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity_center::seed(&config).await.unwrap();
    let sso = aws_sdk_ssoadmin::Client::new(&config);
    let original = identity_center_state(&sso, &seeded).await;
    let engineers = arn_of(&seeded, "DataEngineers");
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    emulator.apply("plans/p.yaml").assert().code(0);

    // After the cut, a responder widens DataEngineers' policy by hand, keeping the revocation.
    let cut_policy =
        identity_center_state(&sso, &seeded).await["DataEngineers inline policy"].clone();
    let mut by_hand: Value = serde_json::from_str(&cut_policy).unwrap();
    by_hand["Statement"][0]["Action"] = "s3:*".into();
    let by_hand = by_hand.to_string();
    sso.put_inline_policy_to_permission_set()
        .instance_arn(&seeded.instance_arn)
        .permission_set_arn(engineers)
        .inline_policy(&by_hand)
        .send()
        .await
        .unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .stderr(contains(format!(
            "conflict: the inline policy of permission set {engineers} was changed after apply; left alone"
        )));
    let now = identity_center_state(&sso, &seeded).await;
    assert_eq!(now["DataEngineers inline policy"], by_hand);
    assert_eq!(
        now["BreakGlass inline policy"], original["BreakGlass inline policy"],
        "the other permission set is given back"
    );
}

/// The permission set's session duration, as DescribePermissionSet answers it.
async fn session_duration(sso: &aws_sdk_ssoadmin::Client, instance: &str, arn: &str) -> String {
    sso.describe_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .send()
        .await
        .unwrap()
        .permission_set()
        .and_then(|set| set.session_duration())
        .unwrap_or_default()
        .to_string()
}

/// The accounts where the permission set's latest version is not provisioned (our model of AWS's
/// ProvisioningStatus filter, tests/emulator/aws_model/sso_admin.py).
async fn out_of_date(sso: &aws_sdk_ssoadmin::Client, instance: &str, arn: &str) -> Vec<String> {
    sso.list_accounts_for_provisioned_permission_set()
        .instance_arn(instance)
        .permission_set_arn(arn)
        .provisioning_status(
            aws_sdk_ssoadmin::types::ProvisioningStatus::LatestPermissionSetNotProvisioned,
        )
        .send()
        .await
        .unwrap()
        .account_ids()
        .to_vec()
}

/// An administrator edits DataEngineers (its session duration) and does not provision the edit. A plan
/// made before refuses to apply (drift: the plan never said the edit would go live); a plan made after
/// names the account, apply provisions the edit with the deny, and restore gives the inline policies
/// back, saying the edit stays, as it does.
#[tokio::test(flavor = "multi_thread")]
async fn an_edit_never_provisioned_is_named_by_the_plan_and_restore_says_it_stays() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity_center::seed(&config).await.unwrap();
    let sso = aws_sdk_ssoadmin::Client::new(&config);
    let instance = &seeded.instance_arn;
    let engineers = arn_of(&seeded, "DataEngineers");
    let engineers_cut = format!("identity_center_session_revoke/global/{engineers}");
    emulator
        .plan("us-east-1", "plans/before.yaml")
        .assert()
        .code(0);

    sso.update_permission_set()
        .instance_arn(instance)
        .permission_set_arn(engineers)
        .session_duration("PT12H")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out_of_date(&sso, instance, engineers).await,
        ["123456789012"]
    );
    let original = identity_center_state(&sso, &seeded).await;

    emulator
        .apply("plans/before.yaml")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "drift: {engineers_cut} no longer matches the plan"
        )))
        .stderr(contains("Nothing was changed"));
    assert_eq!(identity_center_state(&sso, &seeded).await, original);

    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let cut = cut_in_plan(&plan, &engineers_cut);
    assert_eq!(cut["enabled"].as_bool(), Some(true));
    assert_eq!(
        cut["before"]["out_of_date_in"],
        serde_yaml::from_str::<serde_yaml::Value>("['123456789012']").unwrap()
    );
    assert!(
        cut["after"]["out_of_date_in"].is_null(),
        "after: up to date"
    );
    let reason = cut["reason"].as_str().unwrap();
    assert!(
        reason.contains("Applying also provisions edits never provisioned before")
            && reason.contains("(123456789012;")
            && reason.contains("restore cannot un-provision it"),
        "{reason}"
    );
    let break_glass_cut = format!(
        "identity_center_session_revoke/global/{}",
        arn_of(&seeded, "BreakGlass")
    );
    assert!(
        cut_in_plan(&plan, &break_glass_cut)["before"]["out_of_date_in"].is_null(),
        "BreakGlass is up to date"
    );
    assert_eq!(
        cut["before"]["definition"]["session_duration"].as_str(),
        Some("PT12H"),
        "the definition as provisioning would carry it"
    );
    assert_eq!(
        cut["before"]["definition"]["managed_policies"][0].as_str(),
        Some(identity_center::DATA_ENGINEERS_MANAGED_POLICY)
    );
    assert_eq!(
        cut_in_plan(&plan, &break_glass_cut)["before"]["definition"]["permissions_boundary"]
            .as_str(),
        Some(identity_center::BREAK_GLASS_BOUNDARY)
    );

    // Edited again after the plan: out of date in the same account as before, so only the definition
    // the plan recorded shows the edit. Apply refuses it and changes nothing; undone, the plan applies.
    sso.attach_managed_policy_to_permission_set()
        .instance_arn(instance)
        .permission_set_arn(engineers)
        .managed_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out_of_date(&sso, instance, engineers).await,
        ["123456789012"],
        "the list alone does not show the edit"
    );
    let edited = identity_center_state(&sso, &seeded).await;
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "drift: {engineers_cut} no longer matches the plan"
        )))
        .stderr(contains("AdministratorAccess"))
        .stderr(contains("Nothing was changed"));
    assert_eq!(identity_center_state(&sso, &seeded).await, edited);
    sso.detach_managed_policy_from_permission_set()
        .instance_arn(instance)
        .permission_set_arn(engineers)
        .managed_policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    assert_eq!(identity_center_state(&sso, &seeded).await, original);

    emulator.apply("plans/p.yaml").assert().code(0);
    assert!(out_of_date(&sso, instance, engineers).await.is_empty());
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "permission set {engineers}: 123456789012 did not carry its latest version before the cut; provisioning put the edits pending there in force, and they stay"
        )));
    let restored = identity_center_state(&sso, &seeded).await;
    assert_eq!(restored, original, "the inline policies and provisioning");
    assert_eq!(
        session_duration(&sso, instance, engineers).await,
        "PT12H",
        "the edit stays, provisioned"
    );
    assert!(out_of_date(&sso, instance, engineers).await.is_empty());
}
