//! `iam_trust_deny` end to end on the emulator: the seeded roles trusted by a vendor's account and by
//! GitHub Actions' OIDC provider, plan → apply → restore with the trust policies compared as JSON; a
//! trust policy changed after the cut is left alone on restore; the role hikkonuki runs as, and the role
//! its session came through, are kept and named in findings.
//!
//! The emulator stores trust policies and never evaluates them: these tests prove the documents written
//! and given back, not that AWS denies the outsiders. AWS's refusals (quota, protected roles, malformed
//! documents) are mocked in `src/services/trust/iam_trust_deny/tests.rs`.

use std::collections::BTreeMap;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{Value, json};

use crate::emulator::Emulator;
use crate::leaky_account::trust::{self, SeededTrust, VENDOR_ACCOUNT};

/// A role's trust policy as IAM returns it, decoded and parsed.
pub async fn trust_policy(iam: &aws_sdk_iam::Client, role: &str) -> Value {
    let out = iam.get_role().role_name(role).send().await.unwrap();
    let raw = out.role().unwrap().assume_role_policy_document().unwrap();
    serde_json::from_str(&hikkonuki::services::identity::decode_policy_document(raw)).unwrap()
}

/// What the trust cut could touch: every role's trust policy and inline policy names (the session
/// revocation goes there too), and the identity providers.
pub async fn trust_state(iam: &aws_sdk_iam::Client) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for role in iam.list_roles().send().await.unwrap().roles() {
        let name = role.role_name();
        state.insert(
            format!("role {name} trust"),
            trust_policy(iam, name).await.to_string(),
        );
        let inline = iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("role {name} inline policies"),
            format!("{:?}", inline.policy_names()),
        );
    }
    let providers = iam.list_open_id_connect_providers().send().await.unwrap();
    state.insert(
        "oidc providers".into(),
        format!("{:?}", providers.open_id_connect_provider_list()),
    );
    state
}

fn deny_statements(policy: &Value) -> Vec<Value> {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .cloned()
        .collect()
}

const DENIED: [&str; 5] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
    "sts:TagSession",
    "sts:SetSourceIdentity",
];

async fn seeded(emulator: &Emulator) -> (aws_sdk_iam::Client, SeededTrust) {
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = trust::seed(&config).await.unwrap();
    (aws_sdk_iam::Client::new(&config), seeded)
}

#[tokio::test(flavor = "multi_thread")]
async fn outsiders_trust_is_denied_and_the_exact_documents_are_given_back() {
    let emulator = Emulator::start();
    let (iam, seeded) = seeded(&emulator).await;
    let original = trust_state(&iam).await;
    for (role, document) in &seeded.trust_policies {
        let seeded_document: Value = serde_json::from_str(document).unwrap();
        assert_eq!(trust_policy(&iam, role).await, seeded_document);
    }

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
        .stdout(contains("iam_trust_deny/global/role/vendor-audit"))
        .stdout(contains("iam_trust_deny/global/role/github-deploy"))
        .stdout(contains(format!(
            "MEDIUM iam_identity_providers [global {}]",
            seeded.oidc_provider
        )))
        .stdout(contains("iam_trust_not_cut").not());

    emulator.apply("plans/p.yaml").assert().code(0);
    let vendor = trust_policy(&iam, &seeded.vendor_role).await;
    assert_eq!(
        deny_statements(&vendor),
        vec![json!({"Sid": "HikkonukiTrustDeny", "Effect": "Deny",
            "Principal": {"AWS": [format!("arn:aws:iam::{VENDOR_ACCOUNT}:root")]}, "Action": DENIED})]
    );
    let ci = trust_policy(&iam, &seeded.ci_role).await;
    assert_eq!(
        deny_statements(&ci),
        vec![json!({"Sid": "HikkonukiTrustDeny", "Effect": "Deny",
            "Principal": {"Federated": [seeded.oidc_provider.clone()]}, "Action": DENIED})],
        "the OIDC provider only: lambda.amazonaws.com keeps working"
    );
    // Everything that was there is still there, in order, before the deny.
    for (role, document) in &seeded.trust_policies {
        let seeded_document: Value = serde_json::from_str(document).unwrap();
        let now = trust_policy(&iam, role).await;
        let kept = seeded_document["Statement"].as_array().unwrap();
        assert_eq!(
            &now["Statement"].as_array().unwrap()[..kept.len()],
            &kept[..],
            "{role}"
        );
    }

    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(0)
        .stderr(contains(
            "trust policy of role vendor-audit given back as it was before the cut",
        ));
    assert_eq!(trust_state(&iam).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trust_policy_changed_after_the_cut_is_reported_and_left_alone() {
    let emulator = Emulator::start();
    let (iam, seeded) = seeded(&emulator).await;
    let original = trust_state(&iam).await;
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    emulator.apply("plans/p.yaml").assert().code(0);

    // A responder narrows the vendor's trust by hand after the cut.
    let by_hand = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{VENDOR_ACCOUNT}:role/auditor")},
        "Action": "sts:AssumeRole"}]});
    iam.update_assume_role_policy()
        .role_name(&seeded.vendor_role)
        .policy_document(by_hand.to_string())
        .send()
        .await
        .unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .stderr(contains(
            "conflict: trust policy of role vendor-audit was changed after apply; left alone",
        ))
        .stderr(contains(
            "trust policy of role github-deploy given back as it was before the cut",
        ))
        // The summary says apart what was not given back, and lists it again after itself.
        .stdout(contains(
            "of them left something alone that changed after the cut, listed as conflicts: not given back)",
        ))
        .stdout(contains(
            "  conflict: iam_trust_deny/global/role/vendor-audit: trust policy of role vendor-audit was changed after apply; left alone",
        ));
    assert_eq!(trust_policy(&iam, &seeded.vendor_role).await, by_hand);
    let now = trust_state(&iam).await;
    let ci = format!("role {} trust", seeded.ci_role);
    assert_eq!(now[&ci], original[&ci]);
}

/// The responder assumed `responder` (trusted by the security account) after coming through
/// `github-deploy` (named in `responder`'s trust policy): both are kept, each with a High finding, and
/// the vendor's role is still cut.
#[tokio::test(flavor = "multi_thread")]
async fn the_callers_role_and_the_role_its_session_came_through_are_kept_and_named() {
    let emulator = Emulator::start();
    let (iam, seeded) = seeded(&emulator).await;
    let responder_trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/github-deploy"}, "Action": "sts:AssumeRole"}
    ]});
    iam.create_role()
        .role_name("responder")
        .assume_role_policy_document(responder_trust.to_string())
        .send()
        .await
        .unwrap();
    let config = emulator.sdk_config("us-east-1").await;
    let session = aws_sdk_sts::Client::new(&config)
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/responder")
        .role_session_name("incident")
        .send()
        .await
        .unwrap();
    let credentials = session.credentials().unwrap();

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .env("AWS_ACCESS_KEY_ID", credentials.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key())
        .env("AWS_SESSION_TOKEN", credentials.session_token())
        .assert()
        .success()
        .stdout(contains("assumed-role/responder/incident"))
        .stdout(contains("iam_trust_deny/global/role/vendor-audit"))
        .stdout(contains("iam_trust_deny/global/role/github-deploy").not())
        .stdout(contains("iam_trust_deny/global/role/responder").not())
        .stdout(contains(
            "HIGH   iam_trust_not_cut [global role/responder]: Role responder trusts account 999988887777, and this plan does not cut that trust: it is kept: hikkonuki runs as this role",
        ))
        .stdout(contains(format!(
            "HIGH   iam_trust_not_cut [global role/github-deploy]: Role github-deploy trusts federated {}, and this plan does not cut that trust: it is kept: role responder's trust policy names it",
            seeded.oidc_provider
        )))
        .stdout(contains(format!(
            "HIGH   iam_identity_providers [global {}]",
            seeded.oidc_provider
        )));
}

/// The same responder applies a plan someone else made (as the emulator's default caller), which
/// proposes denying `github-deploy`'s trust: the applier's role names `github-deploy` in its trust
/// policy, which the plan does not hold, so apply reads it live and leaves that cut out; the vendor's
/// role is still cut, and restore has nothing of `github-deploy` to give back.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_the_appliers_session_came_through_is_left_out_of_a_plan_made_by_another() {
    let emulator = Emulator::start();
    let (iam, _seeded) = seeded(&emulator).await;
    let responder_trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/github-deploy"}, "Action": "sts:AssumeRole"}
    ]});
    iam.create_role()
        .role_name("responder")
        .assume_role_policy_document(responder_trust.to_string())
        .send()
        .await
        .unwrap();
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .args(["--kinds", "iam_trust_deny"])
        .assert()
        .success()
        .stdout(contains("iam_trust_deny/global/role/github-deploy"))
        .stdout(contains("iam_trust_deny/global/role/vendor-audit"));
    let before = trust_state(&iam).await;

    let config = emulator.sdk_config("us-east-1").await;
    let session = aws_sdk_sts::Client::new(&config)
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/responder")
        .role_session_name("incident")
        .send()
        .await
        .unwrap();
    let credentials = session.credentials().unwrap();
    emulator
        .apply("plans/p.yaml")
        .env("AWS_ACCESS_KEY_ID", credentials.access_key_id())
        .env("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key())
        .env("AWS_SESSION_TOKEN", credentials.session_token())
        .assert()
        .success()
        .stderr(contains(
            "iam_trust_deny/global/role/github-deploy is left out: role github-deploy: role responder's trust policy names it, so the session hikkonuki runs in may have come through it (role chaining)",
        ));
    let cut = trust_state(&iam).await;
    assert_eq!(
        cut["role github-deploy trust"], before["role github-deploy trust"],
        "the role the applier came through keeps its trust"
    );
    assert_ne!(
        cut["role vendor-audit trust"], before["role vendor-audit trust"],
        "the other trust cuts go ahead"
    );

    emulator.restore("plans/p.rollback.yaml").assert().success();
    assert_eq!(
        trust_state(&iam).await,
        before,
        "restore gives back exactly what was cut"
    );
}
