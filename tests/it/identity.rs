//! The identity kinds end to end on the emulator: access keys, SSH keys, service-specific credentials
//! and session revocation, plan → apply → restore, with the full IAM state of the seeded users and role
//! compared before and after.
//!
//! moto has no service-specific credential API: these tests run against hikkonuki's model of it
//! (`tests/emulator/aws_model/iam_service_specific_credentials.py`: our model of AWS, not AWS). What the
//! model leaves out (paging, an endpoint without the API, which the plan reports as a finding) is proven
//! with mocks in `src/services/identity/tests.rs`. The emulator does not authenticate, so only
//! control-plane state is checked: an Inactive key still works against it.

use std::collections::BTreeMap;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::identity::{self, SeededIdentity};

const POLICY: &str = "hikkonuki-session-revocation";

/// Everything IAM says about the seeded users and role that the identity cuts could touch: access keys,
/// SSH keys, service-specific credentials, inline policies with their documents.
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
        state.insert(
            format!("user/{user} service credentials"),
            format!("{:?}", service_credentials(iam, user).await),
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
            format!("{:?}", sorted(names.policy_names())),
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
        format!("{:?}", sorted(names.policy_names())),
    );
    state
}

/// Inline policy names as the set they are: IAM keeps a user's or role's inline policies by name, and
/// the order a list returns them in is not part of the state (moto lists them in the order they were
/// put, so a re-cut putting two back in another order than apply did would read as a difference).
pub fn sorted(names: &[String]) -> Vec<&String> {
    let mut names: Vec<&String> = names.iter().collect();
    names.sort();
    names
}

/// A user's service-specific credentials as IAM lists them.
pub async fn service_credentials(
    iam: &aws_sdk_iam::Client,
    user: &str,
) -> Vec<aws_sdk_iam::types::ServiceSpecificCredentialMetadata> {
    iam.list_service_specific_credentials()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .service_specific_credentials()
        .to_vec()
}

/// The status of one of a user's service-specific credentials, or "gone".
async fn service_credential_status(iam: &aws_sdk_iam::Client, user: &str, id: &str) -> String {
    service_credentials(iam, user)
        .await
        .iter()
        .find(|c| c.service_specific_credential_id() == id)
        .map(|c| c.status().as_str().to_string())
        .unwrap_or_else(|| "gone".into())
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

/// The status of one of a user's SSH public keys, or "gone".
async fn ssh_key_status(iam: &aws_sdk_iam::Client, user: &str, id: &str) -> String {
    let keys = iam
        .list_ssh_public_keys()
        .user_name(user)
        .send()
        .await
        .unwrap();
    keys.ssh_public_keys()
        .iter()
        .find(|k| k.ssh_public_key_id() == id)
        .map(|k| k.status().as_str().to_string())
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
    // Every credential type is listed: no finding says one could not be checked.
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
        .stdout(contains("INCOMPLETE").not())
        .stdout(contains("does not implement ListServiceSpecificCredentials").not())
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
        .stdout(contains(format!(
            "~ iam_service_credential_deactivate/global/{}",
            seeded.service_credential_id
        )))
        .stdout(contains(format!(
            "Service-specific credential {} for codecommit.amazonaws.com (login ci-deploy-at-123456789012) of IAM user ci-deploy",
            seeded.service_credential_id
        )))
        .stdout(contains("iam_session_revoke/global/user/ci-deploy"))
        .stdout(contains("iam_session_revoke/global/user/mailer"))
        .stdout(contains("iam_session_revoke/global/role/app-runtime"))
        .stdout(contains("token_issued_before: the moment of apply"))
        .stdout(contains("HIGH   root_without_mfa"))
        .stdout(contains(
            "HIGH   iam_console_password [global arn:aws:iam::123456789012:user/mailer]: IAM user mailer has a console password",
        ))
        .stdout(contains("user/ci-deploy]: IAM user ci-deploy has a console password").not())
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
    assert_eq!(
        service_credential_status(&iam, "ci-deploy", &seeded.service_credential_id).await,
        "Inactive"
    );
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
        )))
        .stderr(contains(format!(
            "service-specific credential {} of ci-deploy made Active again",
            seeded.service_credential_id
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

/// Issue 12: a plan made by one principal and applied by another never cuts the one applying. The plan
/// (made as the emulator's default caller) proposes cutting user ci-deploy's keys and sessions; applied
/// with ci-deploy's own key, those cuts are left out with a warning, and every other cut goes ahead.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_applied_by_a_principal_it_would_cut_leaves_that_principal_alone() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&config);
    let seeded = identity::seed(&config).await.unwrap();
    let own = &seeded.keys[0];
    let sibling = &seeded.keys[1];
    let stranger = &seeded.keys[2];
    assert_eq!(own.user, "ci-deploy");
    assert_eq!(sibling.user, "ci-deploy");
    assert_ne!(stranger.user, "ci-deploy");

    plan(&emulator);
    let planned = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(
        planned.contains(&own.access_key_id) && planned.contains("user/ci-deploy"),
        "the plan's author is not ci-deploy, so ci-deploy's key and sessions are proposed"
    );

    emulator
        .apply("plans/p.yaml")
        .env("AWS_ACCESS_KEY_ID", &own.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &own.secret_access_key)
        .assert()
        .success()
        .stderr(contains(
            "apply runs as arn:aws:iam::123456789012:user/ci-deploy, but the plan was made by",
        ))
        .stderr(contains(
            "is left out: it would cut the access of arn:aws:iam::123456789012:user/ci-deploy, who is applying",
        ))
        // The review lists it with why, as a cut the run takes out, not one the plan switched off.
        .stdout(contains(format!(
            "Left out by apply: iam_key_deactivate/global/{} stays open: it would cut the access of arn:aws:iam::123456789012:user/ci-deploy, who is applying",
            own.access_key_id
        )));

    assert_eq!(
        key_status(&iam, "ci-deploy", &own.access_key_id).await,
        "Active"
    );
    assert_eq!(
        key_status(&iam, "ci-deploy", &sibling.access_key_id).await,
        "Active",
        "the applying user keeps all its keys"
    );
    assert_eq!(
        user_revocation(&iam, "ci-deploy").await,
        None,
        "the applying user's sessions are not revoked"
    );
    assert_eq!(
        key_status(&iam, &stranger.user, &stranger.access_key_id).await,
        "Inactive",
        "the other cuts go ahead"
    );
}

/// A responder's profile that assumes a role from their own user's key (`role_arn` with
/// `source_profile`, the commonest way in): apply runs as the role's session, and the user's key is how
/// they get back into the role once the session expires, so it is left alone like the session itself.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_profiles_source_user_keeps_its_keys_when_it_applies() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&config);
    let seeded = identity::seed(&config).await.unwrap();
    let own = &seeded.keys[0];
    let stranger = &seeded.keys[2];
    assert_eq!(own.user, "ci-deploy");
    assert_ne!(stranger.user, "ci-deploy");
    iam.create_role()
        .role_name("Responder")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let profiles = emulator.path("responder-config");
    std::fs::write(
        &profiles,
        format!(
            "[profile incident]\nrole_arn = arn:aws:iam::123456789012:role/Responder\nsource_profile = ci\nregion = us-east-1\n\
             [profile ci]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            own.access_key_id, own.secret_access_key
        ),
    )
    .unwrap();

    plan(&emulator);
    let planned = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(
        planned.contains(&own.access_key_id),
        "made as the emulator's default caller, the plan proposes ci-deploy's key"
    );
    emulator
        .apply("plans/p.yaml")
        .args(["--profile", "incident"])
        .env("AWS_CONFIG_FILE", &profiles)
        .assert()
        .success()
        .stderr(contains("assumed-role/Responder/"))
        .stderr(contains(own.access_key_id.as_str()).and(contains("is left out")));
    assert_eq!(
        key_status(&iam, "ci-deploy", &own.access_key_id).await,
        "Active",
        "the key the role is assumed with stays"
    );
    assert_eq!(
        key_status(&iam, &stranger.user, &stranger.access_key_id).await,
        "Inactive",
        "the other cuts go ahead"
    );

    // Planned through the same profile, the key is not proposed at all, and the plan says why.
    emulator
        .plan("us-east-1", "plans/again.yaml")
        .args(["--profile", "incident", "--kinds", "iam_key_deactivate"])
        .env("AWS_CONFIG_FILE", &profiles)
        .assert()
        .success()
        .stdout(contains(format!(
            "IAM user ci-deploy, whose access key {} the profile assumes the role with, keeps all its credentials",
            own.access_key_id
        )));
    let again = std::fs::read_to_string(emulator.path("plans/again.yaml")).unwrap();
    assert!(
        !again.contains(&format!("iam_key_deactivate/global/{}", own.access_key_id))
            && !again.contains("user_name: ci-deploy"),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_changes_made_after_the_cut_alone_and_reports_them() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity::seed(&config).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&config);
    // mailer also holds a Keyspaces password and a CodeCommit HTTPS Git password.
    let mut mailer_credentials = Vec::new();
    for service in ["cassandra.amazonaws.com", "codecommit.amazonaws.com"] {
        let created = iam
            .create_service_specific_credential()
            .user_name("mailer")
            .service_name(service)
            .send()
            .await
            .unwrap();
        mailer_credentials.push(
            created
                .service_specific_credential()
                .unwrap()
                .service_specific_credential_id()
                .to_string(),
        );
    }
    let (expired, deleted_credential) = (&mailer_credentials[0], &mailer_credentials[1]);
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
    // ...and re-enable ci-deploy's SSH key and HTTPS Git password (a deploy must run): restore leaves
    // them, saying so.
    iam.update_ssh_public_key()
        .user_name("ci-deploy")
        .ssh_public_key_id(&seeded.ssh_key_id)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    iam.update_service_specific_credential()
        .user_name("ci-deploy")
        .service_specific_credential_id(&seeded.service_credential_id)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    // mailer's Keyspaces password is marked Expired for good, and its Git password deleted.
    iam.update_service_specific_credential()
        .user_name("mailer")
        .service_specific_credential_id(expired)
        .status(aws_sdk_iam::types::StatusType::Expired)
        .send()
        .await
        .unwrap();
    iam.delete_service_specific_credential()
        .user_name("mailer")
        .service_specific_credential_id(deleted_credential)
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
            "SSH public key {} of ci-deploy is already Active",
            seeded.ssh_key_id
        )))
        .stderr(contains(format!(
            "service-specific credential {} of ci-deploy is already Active",
            seeded.service_credential_id
        )))
        .stderr(contains(format!(
            "conflict: inline policy {POLICY} on user/mailer was changed after apply; left alone"
        )))
        .stdout(contains(format!(
            "  conflict: iam_service_credential_deactivate/global/{expired}: service-specific credential {expired} of mailer is Expired now, not Inactive as the cut left it; left alone"
        )))
        .stdout(contains(format!(
            "failed: iam_key_deactivate/global/{deleted}"
        )))
        .stdout(contains(format!(
            "failed: iam_service_credential_deactivate/global/{deleted_credential}"
        )))
        .stdout(contains("no longer exists (deleted after the cut)"));
    assert_eq!(key_status(&iam, "mailer", mailer_key).await, "Active");
    assert_eq!(key_status(&iam, "ci-deploy", deleted).await, "gone");
    assert_eq!(
        ssh_key_status(&iam, "ci-deploy", &seeded.ssh_key_id).await,
        "Active"
    );
    assert_eq!(
        service_credential_status(&iam, "mailer", expired).await,
        "Expired",
        "an Expired credential is not revived"
    );
    assert_eq!(
        service_credential_status(&iam, "mailer", deleted_credential).await,
        "gone"
    );
    assert_eq!(
        service_credential_status(&iam, "ci-deploy", &seeded.service_credential_id).await,
        "Active"
    );
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

/// An allow document of about `characters` characters (whitespace not counted) granting `action`.
fn policy_of_size(action: &str, characters: usize) -> String {
    let frame = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["{action}","s3:GetObject"],"Resource":"*"}},{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::"}}]}}"#
    );
    let bucket = "b".repeat(characters.saturating_sub(frame.len()));
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["{action}","s3:GetObject"],"Resource":"*"}},{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
    )
}

/// The users and roles [`seed_principals_without_inline_room`] makes.
pub const ROOMLESS_USERS: [&str; 1] = ["big-sender"];
pub const ROOMLESS_ROLES: [&str; 1] = ["big-role"];

/// A sender whose 1,950 characters of inline policy leave room for neither deny inline (of a user's
/// 2,048), and a role with 10,100 of its 10,240.
pub async fn seed_principals_without_inline_room(iam: &aws_sdk_iam::Client) {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    iam.create_user()
        .user_name("big-sender")
        .send()
        .await
        .unwrap();
    iam.put_user_policy()
        .user_name("big-sender")
        .policy_name("send-and-read")
        .policy_document(policy_of_size("ses:SendEmail", 1_950))
        .send()
        .await
        .unwrap();
    iam.create_role()
        .role_name("big-role")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name("big-role")
        .policy_name("wide")
        .policy_document(policy_of_size("s3:PutObject", 10_100))
        .send()
        .await
        .unwrap();
}

/// Everything the deny cuts could touch on the given principals, plus every customer-managed policy in
/// the account: inline policies with their documents, attached policies.
pub async fn policies_state(
    iam: &aws_sdk_iam::Client,
    users: &[&str],
    roles: &[&str],
) -> BTreeMap<String, String> {
    use hikkonuki::services::identity::decode_policy_document;

    let mut state = BTreeMap::new();
    for user in users {
        let names = iam
            .list_user_policies()
            .user_name(*user)
            .send()
            .await
            .unwrap();
        for name in names.policy_names() {
            let policy = iam
                .get_user_policy()
                .user_name(*user)
                .policy_name(name)
                .send()
                .await
                .unwrap();
            state.insert(
                format!("user/{user} inline {name}"),
                decode_policy_document(policy.policy_document()),
            );
        }
        let attached = iam
            .list_attached_user_policies()
            .user_name(*user)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("user/{user} attached"),
            format!("{:?}", attached.attached_policies()),
        );
    }
    for role in roles {
        let names = iam
            .list_role_policies()
            .role_name(*role)
            .send()
            .await
            .unwrap();
        for name in names.policy_names() {
            let policy = iam
                .get_role_policy()
                .role_name(*role)
                .policy_name(name)
                .send()
                .await
                .unwrap();
            state.insert(
                format!("role/{role} inline {name}"),
                decode_policy_document(policy.policy_document()),
            );
        }
        let attached = iam
            .list_attached_role_policies()
            .role_name(*role)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("role/{role} attached"),
            format!("{:?}", attached.attached_policies()),
        );
    }
    let local = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    let mut arns: Vec<&str> = local.policies().iter().filter_map(|p| p.arn()).collect();
    arns.sort();
    state.insert("customer-managed policies".into(), format!("{arns:?}"));
    state
}

/// The managed-policy path changed after the cut: someone makes a new default version of the role's
/// revocation policy and of the sender's send deny (a narrower document of their own). Restore, lifting
/// revocations, leaves both policies in place with their new version, says so as conflicts, and lifts the
/// revocation nobody touched (the sender's), detaching and deleting its policy.
#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_managed_denies_changed_after_the_cut_alone_and_lifts_the_rest() {
    let emulator = Emulator::start();
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config("us-east-1").await);
    seed_principals_without_inline_room(&iam).await;
    let original = policies_state(&iam, &ROOMLESS_USERS, &ROOMLESS_ROLES).await;
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    emulator.apply("plans/p.yaml").assert().code(0);

    let policy = |name: &str| format!("arn:aws:iam::123456789012:policy/hikkonuki/{name}");
    let role_revocation = policy("hikkonuki-session-revocation-role-big-role");
    let user_revocation = policy("hikkonuki-session-revocation-user-big-sender");
    let send_deny = policy("hikkonuki-ses-send-deny-user-big-sender");
    let narrower = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
    for arn in [&role_revocation, &send_deny] {
        iam.create_policy_version()
            .policy_arn(arn.as_str())
            .policy_document(narrower)
            .set_as_default(true)
            .send()
            .await
            .unwrap();
    }
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "conflict: managed policy {role_revocation} was changed after apply; left alone, attached to role/big-role or not"
        )))
        .stderr(contains(format!(
            "conflict: managed policy {send_deny} (IAM user big-sender) was changed after the cut; left in place, attached or not"
        )))
        .stderr(contains(format!(
            "session revocation lifted on user/big-sender: managed policy {user_revocation} detached and deleted"
        )));
    let after = policies_state(&iam, &ROOMLESS_USERS, &ROOMLESS_ROLES).await;
    assert!(
        after["role/big-role attached"].contains(&role_revocation)
            && after["user/big-sender attached"].contains(&send_deny)
            && !after["user/big-sender attached"].contains(&user_revocation),
        "{after:?}"
    );
    for arn in [&role_revocation, &send_deny] {
        let default = iam
            .get_policy()
            .policy_arn(arn.as_str())
            .send()
            .await
            .unwrap()
            .policy()
            .and_then(|p| p.default_version_id().map(str::to_string));
        assert_eq!(
            default.as_deref(),
            Some("v2"),
            "{arn} keeps its new version"
        );
    }
    // Everything but the two policies left in place is as seeded.
    let strip = |state: &std::collections::BTreeMap<String, String>| -> Vec<(String, String)> {
        state
            .iter()
            .filter(|(key, _)| !key.ends_with(" attached") && !key.contains("customer-managed"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(strip(&after), strip(&original));
    let managed = &after["customer-managed policies"];
    assert!(
        managed.contains(&role_revocation)
            && managed.contains(&send_deny)
            && !managed.contains(&user_revocation),
        "{managed}"
    );
}

/// IAM caps the total size of a principal's inline policies (users 2,048 characters, roles 10,240); the
/// emulator does not, so the choice must come from hikkonuki's own measurement. A user and a role whose
/// inline policies leave no room get both denies as customer-managed policies attached to them, and
/// restore detaches and deletes exactly those, giving back every policy as it was.
#[tokio::test(flavor = "multi_thread")]
async fn principals_without_inline_room_get_managed_denies_that_restore_removes_exactly() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let iam = aws_sdk_iam::Client::new(&config);
    // The emulator takes what AWS refuses ("Maximum policy size of 2048 bytes exceeded for user"):
    // two policies of 1,500 characters on one user.
    iam.create_user().user_name("probe").send().await.unwrap();
    for name in ["one", "two"] {
        iam.put_user_policy()
            .user_name("probe")
            .policy_name(name)
            .policy_document(policy_of_size("s3:ListBucket", 1_500))
            .send()
            .await
            .expect("the emulator enforces no inline-size quota");
        iam.delete_user_policy()
            .user_name("probe")
            .policy_name(name)
            .send()
            .await
            .unwrap();
    }
    iam.delete_user().user_name("probe").send().await.unwrap();

    seed_principals_without_inline_room(&iam).await;
    let original = policies_state(&iam, &["big-sender"], &["big-role"]).await;

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
        .stdout(contains("customer-managed policy"));
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let cut = |id: &str| {
        plan["cuts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|c| c["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("{id} in the plan"))
            .clone()
    };
    let revocation_arn = |principal: &str| {
        format!(
            "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-session-revocation-{}",
            principal.replace('/', "-")
        )
    };
    let deny_arn =
        "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-ses-send-deny-user-big-sender";
    for principal in ["user/big-sender", "role/big-role"] {
        let revoke = cut(&format!("iam_session_revoke/global/{principal}"));
        assert_eq!(revoke["enabled"], true, "{revoke:?}");
        assert_eq!(revoke["after"]["placement"], "managed", "{revoke:?}");
        assert_eq!(
            revoke["after"]["managed_policy_arn"].as_str(),
            Some(revocation_arn(principal).as_str())
        );
    }
    let user_room = &cut("iam_session_revoke/global/user/big-sender")["before"]["room"];
    assert_eq!(user_room["inline_quota"], 2_048, "{user_room:?}");
    assert!(user_room["inline_characters"].as_u64().unwrap() >= 1_900);
    let send_deny = cut("ses_send_deny/global/user/big-sender");
    assert_eq!(send_deny["enabled"], true, "{send_deny:?}");
    assert_eq!(send_deny["after"]["managed_policy"]["arn"], deny_arn);
    assert_eq!(send_deny["after"]["managed_policy"]["attached"], true);

    emulator.apply("plans/p.yaml").assert().code(0);
    let cut_state = policies_state(&iam, &["big-sender"], &["big-role"]).await;
    let user_attached = &cut_state["user/big-sender attached"];
    assert!(
        user_attached.contains(&revocation_arn("user/big-sender"))
            && user_attached.contains(deny_arn),
        "{cut_state:?}"
    );
    assert!(
        cut_state["role/big-role attached"].contains(&revocation_arn("role/big-role")),
        "{cut_state:?}"
    );
    assert!(
        !cut_state.keys().any(|k| k.contains("inline hikkonuki")),
        "nothing inline: {cut_state:?}"
    );
    let revocation = iam
        .get_policy_version()
        .policy_arn(revocation_arn("role/big-role"))
        .version_id("v1")
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_str(&hikkonuki::services::identity::decode_policy_document(
            revocation.policy_version().unwrap().document().unwrap(),
        ))
        .unwrap();
    assert!(
        document["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string(),
        "{document}"
    );

    // Restore takes the send deny off; the revocation stays until lifted.
    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    let kept = policies_state(&iam, &["big-sender"], &["big-role"]).await;
    assert!(
        !kept["user/big-sender attached"].contains(deny_arn),
        "{kept:?}"
    );
    assert!(
        kept["user/big-sender attached"].contains(&revocation_arn("user/big-sender")),
        "{kept:?}"
    );
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "managed policy {} detached and deleted",
            revocation_arn("role/big-role")
        )));
    assert_eq!(
        policies_state(&iam, &["big-sender"], &["big-role"]).await,
        original
    );
}
