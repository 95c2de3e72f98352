//! The identity kinds end to end on the emulator: access keys, SSH keys and session revocation, plan →
//! apply → restore, with the full IAM state of the seeded users and role compared before and after.
//!
//! The emulator lacks the service-specific credential API, so with IAM users present every plan here
//! reports a High finding saying those credentials were not checked (the rest of the plan is made and
//! applies); that kind's cut and undo are proven with mocks in `src/services/identity/tests.rs`. The emulator does not
//! authenticate, so only control-plane state is checked: an Inactive key still works against it.

use std::collections::BTreeMap;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::identity::{self, SeededIdentity};

const POLICY: &str = "hikkonuki-session-revocation";

/// Everything IAM says about the seeded users and role that the identity cuts could touch: access keys,
/// SSH keys, inline policies with their documents.
pub async fn iam_state(
    iam: &aws_sdk_iam::Client,
    seeded: &SeededIdentity,
) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for user in &seeded.users {
        let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
        state.insert(
            format!("user/{user} access keys"),
            format!("{:?}", keys.access_key_metadata()),
        );
        let ssh = iam
            .list_ssh_public_keys()
            .user_name(user)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("user/{user} ssh keys"),
            format!("{:?}", ssh.ssh_public_keys()),
        );
        let names = iam
            .list_user_policies()
            .user_name(user)
            .send()
            .await
            .unwrap();
        for name in names.policy_names() {
            let policy = iam
                .get_user_policy()
                .user_name(user)
                .policy_name(name)
                .send()
                .await
                .unwrap();
            state.insert(
                format!("user/{user} policy {name}"),
                policy.policy_document().to_string(),
            );
        }
        state.insert(
            format!("user/{user} policy names"),
            format!("{:?}", names.policy_names()),
        );
    }
    let names = iam
        .list_role_policies()
        .role_name(&seeded.role)
        .send()
        .await
        .unwrap();
    state.insert(
        format!("role/{} policy names", seeded.role),
        format!("{:?}", names.policy_names()),
    );
    state
}

async fn key_status(iam: &aws_sdk_iam::Client, user: &str, id: &str) -> String {
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    keys.access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(id))
        .and_then(|k| k.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "gone".into())
}

/// The revocation policy on a user, parsed, if any.
async fn user_revocation(iam: &aws_sdk_iam::Client, user: &str) -> Option<serde_json::Value> {
    let out = iam
        .get_user_policy()
        .user_name(user)
        .policy_name(POLICY)
        .send()
        .await
        .ok()?;
    let raw = out.policy_document();
    let text = if raw.starts_with('{') {
        raw.to_string()
    } else {
        // AWS URL-encodes policy documents; the emulator may too.
        let mut bytes = Vec::new();
        let mut rest = raw.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'%' && tail.len() >= 2 {
                bytes.push(
                    u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap(),
                );
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        String::from_utf8(bytes).unwrap()
    };
    Some(serde_json::from_str(&text).unwrap())
}

async fn role_has_revocation(iam: &aws_sdk_iam::Client, role: &str) -> bool {
    let names = iam
        .list_role_policies()
        .role_name(role)
        .send()
        .await
        .unwrap();
    names.policy_names().iter().any(|n| n == POLICY)
}

fn plan(emulator: &Emulator) -> assert_cmd::assert::Assert {
    // The emulator has no service-specific credential API: the plan says so as a finding (so the
    // responder checks them by hand) and plans everything else.
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
        .stdout(contains("INCOMPLETE").not())
        .stdout(contains(
            "iam_service_credential_deactivate [global iam]: the IAM endpoint does not implement ListServiceSpecificCredentials",
        ))
}

#[tokio::test(flavor = "multi_thread")]
async fn stolen_keys_and_sessions_are_cut_and_restored_exactly_the_revocation_only_when_lifted() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity::seed(&config).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&config);
    let original = iam_state(&iam, &seeded).await;

    let mut planned = plan(&emulator);
    for key in &seeded.keys {
        planned = planned.stdout(contains(format!(
            "iam_key_deactivate/global/{}",
            key.access_key_id
        )));
    }
    planned
        .stdout(contains(format!(
            "iam_ssh_key_deactivate/global/{}",
            seeded.ssh_key_id
        )))
        .stdout(contains("iam_session_revoke/global/user/ci-deploy"))
        .stdout(contains("iam_session_revoke/global/user/mailer"))
        .stdout(contains("iam_session_revoke/global/role/app-runtime"))
        .stdout(contains("token_issued_before: the moment of apply"))
        .stdout(contains("HIGH   root_without_mfa"))
        .stdout(contains("MEDIUM identity_center"))
        .stdout(contains("INFO   exposed_access_keys"))
        .stdout(contains("INFO   identity_caller_kept"));

    let before_apply = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    emulator.apply("plans/p.yaml").assert().code(0);
    for key in &seeded.keys {
        assert_eq!(
            key_status(&iam, &key.user, &key.access_key_id).await,
            "Inactive"
        );
    }
    let ssh = iam
        .list_ssh_public_keys()
        .user_name("ci-deploy")
        .send()
        .await
        .unwrap();
    assert_eq!(ssh.ssh_public_keys()[0].status().as_str(), "Inactive");
    for user in &seeded.users {
        let document = user_revocation(&iam, user).await.expect("revocation put");
        let statement = &document["Statement"][0];
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(
            (&statement["Action"], &statement["Resource"]),
            (&"*".into(), &"*".into())
        );
        let cutoff = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            .as_str()
            .unwrap();
        let cutoff =
            time::OffsetDateTime::parse(cutoff, &time::format_description::well_known::Rfc3339)
                .unwrap();
        // AWS's time (the emulator's Date header, on this machine's clock) at apply, rounded up to the
        // second after it.
        assert!(
            cutoff > before_apply
                && cutoff <= time::OffsetDateTime::now_utc() + time::Duration::seconds(1),
            "the cut-off is the apply time: {cutoff}"
        );
    }
    assert!(role_has_revocation(&iam, &seeded.role).await);

    // A plain restore gives the keys back and keeps the revocation.
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stdout(contains(
            "Kept in place: iam_session_revoke/global/user/mailer (lifting it revives every session issued before the apply, stolen ones included). Pass --lift-session-revocation to lift it.",
        ))
        .stderr(contains(format!(
            "access key {} of mailer made Active again",
            seeded.keys[2].access_key_id
        )));
    let kept = iam_state(&iam, &seeded).await;
    for (name, value) in &original {
        if !name.contains("polic") {
            assert_eq!(kept.get(name), Some(value), "{name}");
        }
    }
    assert!(user_revocation(&iam, "mailer").await.is_some());
    assert!(role_has_revocation(&iam, &seeded.role).await);

    // The gated cuts are still pending: lifting them later gives back the state from before apply.
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "session revocation lifted on role/app-runtime: inline policy {POLICY} deleted"
        )));
    assert_eq!(iam_state(&iam, &seeded).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn running_as_a_seeded_users_key_spares_that_user_and_the_plan_says_so() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity::seed(&config).await.unwrap();
    let own = &seeded.keys[0];
    let other = &seeded.keys[1];
    assert_eq!(
        (own.user.as_str(), other.user.as_str()),
        ("ci-deploy", "ci-deploy")
    );

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .env("AWS_ACCESS_KEY_ID", &own.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &own.secret_access_key)
        .assert()
        .success()
        .stdout(contains(
            "by arn:aws:iam::123456789012:user/ci-deploy",
        ))
        .stdout(contains(format!(
            "INFO   identity_caller_kept [global arn:aws:iam::123456789012:user/ci-deploy]: hikkonuki runs as arn:aws:iam::123456789012:user/ci-deploy, so the identity cuts leave it alone: access key {} (this run signs with it) stays Active; IAM user ci-deploy keeps all its access keys, SSH public keys and service-specific credentials, and its sessions are not revoked.",
            own.access_key_id
        )));
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let targets: Vec<&str> = plan["cuts"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|c| c["kind"].as_str().unwrap().starts_with("iam_"))
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        vec![
            seeded.keys[2].access_key_id.as_str(),
            "user/mailer",
            "role/app-runtime"
        ],
        "nothing of ci-deploy: neither key, nor its SSH key, nor its sessions"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_changes_made_after_the_cut_alone_and_reports_them() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity::seed(&config).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&config);
    plan(&emulator);
    emulator.apply("plans/p.yaml").assert().code(0);

    // After the cut, responders re-enable mailer's key, move mailer's cut-off by hand, and delete one of
    // ci-deploy's keys for good.
    let mailer_key = &seeded.keys[2].access_key_id;
    iam.update_access_key()
        .user_name("mailer")
        .access_key_id(mailer_key)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    let by_hand = r#"{"Version":"2012-10-17","Statement":[{"Sid":"HikkonukiRevokeSessionsIssuedBeforeApply","Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2030-01-01T00:00:00Z"}}}]}"#;
    iam.put_user_policy()
        .user_name("mailer")
        .policy_name(POLICY)
        .policy_document(by_hand)
        .send()
        .await
        .unwrap();
    let deleted = &seeded.keys[1].access_key_id;
    iam.delete_access_key()
        .user_name("ci-deploy")
        .access_key_id(deleted)
        .send()
        .await
        .unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "access key {mailer_key} of mailer is already Active"
        )))
        .stderr(contains(format!(
            "conflict: inline policy {POLICY} on user/mailer was changed after apply; left alone"
        )))
        .stdout(contains(format!(
            "failed: iam_key_deactivate/global/{deleted}"
        )))
        .stdout(contains("no longer exists (deleted after the cut)"));
    assert_eq!(
        user_revocation(&iam, "mailer").await,
        Some(serde_json::from_str(by_hand).unwrap())
    );
    assert_eq!(
        key_status(&iam, "ci-deploy", &seeded.keys[0].access_key_id).await,
        "Active"
    );
    assert!(user_revocation(&iam, "ci-deploy").await.is_none());
}
