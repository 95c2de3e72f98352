//! Pure logic of the identity kinds and findings, and, with aws-smithy-mocks, the paths the emulator
//! lacks (service-specific credentials, the Support API) or cannot show (an assumed-role caller,
//! protected roles, URL-encoded policy documents).

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Role, ServiceSpecificCredentialMetadata, StatusType, User};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};

use super::iam_credential_deactivate::{CredentialState, propose};
use super::iam_session_revoke::{
    AT_APPLY, POLICY_NAME, Principal, Revocation, RevocationState, UndoRecord,
    is_revocation_document, now_utc, revocation_document, undo_matches,
};
use super::*;
use crate::aws::{CallerIdentity, RegionCtx};
use crate::plan::{Cut, Severity};
use crate::services::findings::identity::{
    ExposedAccessKeys, RootWithoutMfa, caller_kept_finding, exposed_key_finding,
    identity_center_finding, root_mfa_finding,
};
use crate::services::{CutKind, DiscoveryScope, Inspection, Proposal, TypedCut};

fn caller(arn: &str, key: Option<&str>) -> CallerIdentity {
    CallerIdentity {
        account: "123456789012".into(),
        arn: arn.into(),
        user_id: "AIDA".into(),
        access_key_id: key.map(str::to_string),
    }
}

fn scope(arn: &str, key: Option<&str>) -> DiscoveryScope {
    DiscoveryScope {
        caller: caller(arn, key),
        keep_cidrs: vec![],
        options: Default::default(),
    }
}

fn key(user: &str, id: &str, status: &str) -> CredentialState {
    CredentialState {
        user_name: user.into(),
        id: id.into(),
        status: status.into(),
        created: Some("2026-01-02T03:04:05Z".into()),
        service_name: None,
        service_user_name: None,
    }
}

fn cut_of<S>(kind: &str, proposed: Proposal<S>) -> TypedCut<S> {
    TypedCut {
        id: Cut::expected_id(kind, "global", &proposed.target),
        region: "global".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// The same cut as a plan holds it, for the checks the engine's adapter makes on raw documents.
fn plan_cut_of<S: serde::Serialize>(kind: &str, proposed: Proposal<S>) -> Cut {
    Cut {
        id: Cut::expected_id(kind, "global", &proposed.target),
        kind: kind.into(),
        region: "global".into(),
        target: proposed.target,
        enabled: true,
        reversible: true,
        reason: proposed.reason,
        before: serde_json::to_value(proposed.before).unwrap(),
        after: serde_json::to_value(proposed.after).unwrap(),
    }
}

const KEYS: CredentialDeactivate = CredentialDeactivate(CredentialType::AccessKey);
const SERVICE: CredentialDeactivate = CredentialDeactivate(CredentialType::ServiceSpecific);

#[test]
fn the_caller_is_read_from_user_assumed_role_and_role_arns() {
    let user = CallerPrincipal::from_identity(&caller(
        "arn:aws:iam::123456789012:user/ops/alice",
        Some("AKIAALICE"),
    ));
    assert_eq!(
        user,
        CallerPrincipal {
            user: Some("alice".into()),
            role: None,
            access_key_id: Some("AKIAALICE".into()),
        }
    );
    let session = CallerPrincipal::from_identity(&caller(
        "arn:aws:sts::123456789012:assumed-role/IncidentResponder/bob@example.com",
        Some("ASIATEMP"),
    ));
    assert_eq!(session.role.as_deref(), Some("IncidentResponder"));
    assert_eq!(session.user, None);
    let role = CallerPrincipal::from_identity(&caller(
        "arn:aws:iam::123456789012:role/service/Deployer",
        None,
    ));
    assert_eq!(role.role.as_deref(), Some("Deployer"));
    // The emulator's default caller is not an IAM user there; excluding the name harms nothing.
    let moto =
        CallerPrincipal::from_identity(&caller("arn:aws:sts::123456789012:user/moto", Some("")));
    assert_eq!(moto.user.as_deref(), Some("moto"));
    assert_eq!(moto.access_key_id, None);
    for nobody in [
        "arn:aws:iam::123456789012:root",
        "arn:aws:sts::123456789012:federated-user/carol",
        "not an arn",
    ] {
        let principal = CallerPrincipal::from_identity(&caller(nobody, None));
        assert_eq!((principal.user, principal.role), (None, None), "{nobody}");
    }
}

#[test]
fn the_callers_key_and_every_key_of_the_callers_user_are_never_proposed() {
    let caller = CallerPrincipal::from_identity(&caller(
        "arn:aws:iam::123456789012:user/alice",
        Some("AKIAALICE1"),
    ));
    let kind = CredentialType::AccessKey;
    assert_eq!(
        propose(kind, &caller, &key("alice", "AKIAALICE1", "Active")),
        None
    );
    assert_eq!(
        propose(kind, &caller, &key("alice", "AKIAALICE2", "Active")),
        None
    );
    assert!(propose(kind, &caller, &key("bob", "AKIABOB", "Active")).is_some());
    // A role session signs with a temporary key no user holds; its ID alone still protects it.
    let session = CallerPrincipal::from_identity(&super::tests::caller(
        "arn:aws:sts::123456789012:assumed-role/Responder/s",
        Some("AKIAODD"),
    ));
    assert_eq!(
        propose(kind, &session, &key("bob", "AKIAODD", "Active")),
        None
    );
    // SSH keys of the caller's user are left alone too: every identity cut spares the caller.
    assert_eq!(
        propose(
            CredentialType::SshPublicKey,
            &caller,
            &key("alice", "APKA1", "Active")
        ),
        None
    );
}

#[test]
fn an_active_key_is_cut_to_inactive_and_nothing_else_changes() {
    let nobody = CallerPrincipal::default();
    assert_eq!(
        propose(
            CredentialType::AccessKey,
            &nobody,
            &key("bob", "AKIABOB", "Inactive")
        ),
        None
    );
    let proposed = propose(
        CredentialType::AccessKey,
        &nobody,
        &key("bob", "AKIABOB", "Active"),
    )
    .unwrap();
    assert_eq!(proposed.target, "AKIABOB");
    assert!(
        proposed
            .reason
            .contains("SES SMTP credentials are access keys")
    );
    assert!(proposed.reason.contains("iam_session_revoke"));
    assert_eq!(proposed.after, key("bob", "AKIABOB", "Inactive"));
    let cut = cut_of("iam_key_deactivate", proposed);
    assert_eq!(KEYS.check_states(&cut), Ok(()));
    assert_eq!(
        serde_json::to_value(KEYS.undo_record_for(&cut).unwrap()).unwrap(),
        json!({"user_name": "bob", "id": "AKIABOB"})
    );
}

#[test]
fn states_that_cut_nothing_or_touch_another_credential_are_refused() {
    let proposed = propose(
        CredentialType::AccessKey,
        &CallerPrincipal::default(),
        &key("bob", "AKIABOB", "Active"),
    )
    .unwrap();
    let cut = cut_of("iam_key_deactivate", proposed.clone());
    let mut still_active = cut.clone();
    still_active.after = key("bob", "AKIABOB", "Active");
    assert!(
        KEYS.check_states(&still_active)
            .unwrap_err()
            .contains("Inactive")
    );
    let mut other_user = cut.clone();
    other_user.after = key("mallory", "AKIABOB", "Inactive");
    assert!(
        KEYS.check_states(&other_user)
            .unwrap_err()
            .contains("only in its status")
    );
    let mut other_target = cut.clone();
    other_target.target = "AKIAOTHER".into();
    assert!(
        KEYS.check_states(&other_target)
            .unwrap_err()
            .contains("target")
    );
    let mut unknown_field = plan_cut_of("iam_key_deactivate", proposed);
    unknown_field.before["secret"] = json!("x");
    assert!(crate::services::Containment::check_states(&KEYS, &unknown_field).is_err());
}

#[test]
fn the_revocation_denies_everything_to_tokens_issued_before_the_apply_time() {
    let document: Value =
        serde_json::from_str(&revocation_document("2026-11-28T20:05:19Z")).unwrap();
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    assert_eq!(statement["Resource"], "*");
    assert_eq!(
        statement["Condition"],
        json!({"DateLessThan": {"aws:TokenIssueTime": "2026-11-28T20:05:19Z"}})
    );
    assert!(is_revocation_document(&document));
    let mut widened = document.clone();
    widened["Statement"][0]["Effect"] = json!("Allow");
    assert!(!is_revocation_document(&widened));
    let mut extra = document.clone();
    extra["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}));
    assert!(!is_revocation_document(&extra));
    assert!(!is_revocation_document(&json!({"Version": "2012-10-17"})));

    let now = now_utc();
    assert!(now.ends_with('Z') && !now.contains('.'), "{now}");
    time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339).unwrap();
}

fn revocation_state(principal: &str, existing: Option<Value>) -> RevocationState {
    RevocationState {
        principal: principal.into(),
        policy_name: POLICY_NAME.into(),
        existing_policy: existing,
    }
}

#[test]
fn a_session_cut_names_its_gate_and_leaves_the_time_to_apply() {
    let proposed = iam_session_revoke::propose(&revocation_state("role/app", None));
    assert_eq!(proposed.target, "role/app");
    assert_eq!(proposed.disabled_because, None);
    assert!(proposed.reason.contains("--lift-session-revocation"));
    assert!(proposed.reason.contains("revives every session"));
    assert_eq!(
        serde_json::to_value(&proposed.after).unwrap()["token_issued_before"],
        AT_APPLY
    );
    let cut = cut_of("iam_session_revoke", proposed);
    assert_eq!(cut.id, "iam_session_revoke/global/role/app");
    assert_eq!(SessionRevoke.check_states(&cut), Ok(()));
    let gate = SessionRevoke.restore_gate().unwrap();
    assert_eq!(gate.flag, "--lift-session-revocation");
    assert!(gate.why.contains("stolen"));
    // An interrupted apply has no recorded document: undo recognises ours by its shape.
    assert_eq!(
        serde_json::to_value(SessionRevoke.undo_record_for(&cut).unwrap()).unwrap(),
        json!({"principal": "role/app", "policy_name": POLICY_NAME, "policy_document": null})
    );

    let mut fixed_time = cut.clone();
    let Revocation::Planned(after) = &mut fixed_time.after else {
        panic!("`after` is the planned deny: {:?}", fixed_time.after);
    };
    after.token_issued_before = "2020-01-01T00:00:00Z".into();
    assert!(
        SessionRevoke
            .check_states(&fixed_time)
            .unwrap_err()
            .contains(AT_APPLY)
    );
    let mut other_name = cut.clone();
    let Revocation::Current(before) = &mut other_name.before else {
        panic!("`before` is the current state: {:?}", other_name.before);
    };
    before.policy_name = "AdminAccess".into();
    assert!(SessionRevoke.check_states(&other_name).is_err());

    // `before` and `after` record different things: swapped, neither passes.
    let swapped = TypedCut {
        before: cut.after.clone(),
        after: cut.before.clone(),
        ..cut.clone()
    };
    assert!(
        SessionRevoke
            .check_states(&swapped)
            .unwrap_err()
            .starts_with("`before`")
    );
    let both_before = TypedCut {
        after: cut.before.clone(),
        ..cut
    };
    assert!(
        SessionRevoke
            .check_states(&both_before)
            .unwrap_err()
            .starts_with("`after`")
    );
}

/// Plans written before the states were typed read back as the same states, are written again byte for
/// byte, and a document that fits neither state is refused naming the field at fault.
#[test]
fn session_states_keep_their_plan_shape() {
    let before =
        json!({"principal": "role/app", "policy_name": POLICY_NAME, "existing_policy": null});
    let after = json!({
        "principal": "role/app",
        "policy_name": POLICY_NAME,
        "denies": "every action on every resource",
        "token_issued_before": AT_APPLY,
    });
    let proposed = iam_session_revoke::propose(&revocation_state("role/app", None));
    for (document, state) in [(&before, &proposed.before), (&after, &proposed.after)] {
        let read: Revocation = serde_json::from_value(document.clone()).unwrap();
        assert_eq!(&read, state);
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            serde_json::to_string(document).unwrap()
        );
    }
    // `existing_policy` may be left out of `before`, as before.
    let short: Revocation =
        serde_json::from_value(json!({"principal": "role/app", "policy_name": POLICY_NAME}))
            .unwrap();
    assert_eq!(short, proposed.before);

    let refused = |document: Value| {
        serde_json::from_value::<Revocation>(document)
            .unwrap_err()
            .to_string()
    };
    let mut extra = before.clone();
    extra["secret"] = json!("x");
    assert!(refused(extra).contains("unknown field `secret`"));
    let mut no_time = after.clone();
    no_time
        .as_object_mut()
        .unwrap()
        .remove("token_issued_before");
    assert!(refused(no_time).contains("missing field `token_issued_before`"));
    let mut mixed = after.clone();
    mixed["existing_policy"] = Value::Null;
    assert!(refused(mixed).contains("existing_policy"));

    let mut plan_cut = plan_cut_of("iam_session_revoke", proposed);
    plan_cut.before["denies"] = json!("nothing");
    assert!(
        crate::services::Containment::check_states(&SessionRevoke, &plan_cut)
            .unwrap_err()
            .starts_with("`before`")
    );
}

#[test]
fn an_existing_policy_of_that_name_is_never_overwritten() {
    let ours = serde_json::from_str(&revocation_document("2026-01-01T00:00:00Z")).unwrap();
    let earlier = iam_session_revoke::propose(&revocation_state("user/bob", Some(ours)));
    assert!(
        earlier
            .disabled_because
            .unwrap()
            .contains("earlier session revocation")
    );
    let foreign = iam_session_revoke::propose(&revocation_state(
        "user/bob",
        Some(json!({"Version": "2012-10-17", "Statement": []})),
    ));
    assert!(foreign.disabled_because.unwrap().contains("did not write"));
}

#[test]
fn undo_lifts_only_the_document_apply_wrote() {
    let written = revocation_document("2026-11-28T20:05:19Z");
    let record = UndoRecord {
        principal: "user/bob".into(),
        policy_name: POLICY_NAME.into(),
        policy_document: Some(written.clone()),
    };
    // IAM may return the same document re-spaced: compared as JSON.
    let respaced: Value = serde_json::from_str(&written).unwrap();
    assert!(undo_matches(&record, &respaced));
    let moved = serde_json::from_str(&revocation_document("2026-11-29T00:00:00Z")).unwrap();
    assert!(!undo_matches(&record, &moved));
    let unrecorded = UndoRecord {
        policy_document: None,
        ..record
    };
    assert!(undo_matches(&unrecorded, &moved));
    assert!(!undo_matches(
        &unrecorded,
        &json!({"Version": "2012-10-17", "Statement": []})
    ));
}

#[test]
fn principals_round_trip_through_their_targets() {
    for target in ["user/alice", "role/app"] {
        assert_eq!(Principal::parse(target).unwrap().target(), target);
    }
    for bad in ["group/admins", "user/", "alice", ""] {
        assert_eq!(Principal::parse(bad), None, "{bad}");
    }
}

#[test]
fn policy_documents_are_read_url_encoded_or_plain() {
    let plain = r#"{"Version":"2012-10-17","Statement":[]}"#;
    assert_eq!(decode_policy_document(plain), plain);
    assert_eq!(
        decode_policy_document("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"),
        plain
    );
    // RFC 3986: a plus sign is a plus sign; a stray percent stays.
    assert_eq!(decode_policy_document("a+b%2"), "a+b%2");
}

#[test]
fn findings_say_what_was_found_and_what_to_do() {
    let root = root_mfa_finding("123456789012", Some(0)).unwrap();
    assert_eq!(root.severity, Severity::High);
    assert_eq!(root.resource, "arn:aws:iam::123456789012:root");
    assert!(root.message.contains("Enable MFA on root"));
    assert_eq!(root_mfa_finding("123456789012", Some(1)), None);
    assert_eq!(root_mfa_finding("123456789012", None), None);

    let exposed = exposed_key_finding(&[
        Some("AKIAEXPOSED".into()),
        Some("ci-deploy".into()),
        Some("Exposed".into()),
        Some("case-1".into()),
        None,
        Some("https://github.com/x/y".into()),
    ]);
    assert_eq!(exposed.severity, Severity::High);
    assert_eq!(exposed.resource, "AKIAEXPOSED");
    assert!(exposed.message.contains("ci-deploy"));
    assert!(exposed.message.contains("https://github.com/x/y"));

    let center =
        identity_center_finding("eu-west-1", "arn:aws:sso:::instance/ssoins-1", Some("d-1"));
    assert_eq!(center.region, "eu-west-1");
    assert_eq!(center.severity, Severity::Medium);
    assert!(center.message.starts_with(
        "IAM Identity Center is a way in that IAM key cuts do not close: review permission sets and assignments"
    ));

    let arn = "arn:aws:iam::123456789012:user/alice";
    let kept = caller_kept_finding(
        arn,
        &CallerPrincipal::from_identity(&caller(arn, Some("AKIAALICE1"))),
    )
    .unwrap();
    assert_eq!(kept.severity, Severity::Info);
    assert!(
        kept.message
            .contains("access key AKIAALICE1 (this run signs with it)")
    );
    assert!(
        kept.message
            .contains("IAM user alice keeps all its access keys")
    );
    assert_eq!(
        caller_kept_finding(
            "arn:aws:iam::123456789012:root",
            &CallerPrincipal::default()
        ),
        None
    );
}

fn user(name: &str) -> User {
    User::builder()
        .path("/")
        .user_name(name)
        .user_id(format!("AIDA{name}"))
        .arn(format!("arn:aws:iam::123456789012:user/{name}"))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn role(name: &str, path: &str) -> Role {
    Role::builder()
        .path(path)
        .role_name(name)
        .role_id(format!("AROA{name}"))
        .arn(format!("arn:aws:iam::123456789012:role{path}{name}"))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn git_credential(user: &str, id: &str, status: StatusType) -> ServiceSpecificCredentialMetadata {
    ServiceSpecificCredentialMetadata::builder()
        .user_name(user)
        .status(status)
        .service_user_name(format!("{user}-at-123456789012"))
        .create_date(DateTime::from_secs(1_767_225_600))
        .service_specific_credential_id(id)
        .service_name("codecommit.amazonaws.com")
        .build()
        .unwrap()
}

/// NoSuchEntity as IAM sends it: the modelled error with its code in the metadata.
fn no_such_entity() -> aws_sdk_iam::types::error::NoSuchEntityException {
    aws_sdk_iam::types::error::NoSuchEntityException::builder()
        .message("The user with name alice cannot be found.")
        .meta(
            aws_sdk_iam::error::ErrorMetadata::builder()
                .code("NoSuchEntity")
                .build(),
        )
        .build()
}

/// A context as against the emulator: an endpoint override is set, so calls to operations an emulator
/// may lack are not retried.
fn emulator_like_ctx() -> RegionCtx {
    RegionCtx::new(
        "us-east-1",
        aws_config::SdkConfig::builder().build(),
        Some("http://127.0.0.1:9".into()),
    )
}

#[tokio::test]
async fn mocked_service_credentials_are_listed_on_every_page_cut_and_restored() {
    use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;
    use aws_sdk_iam::operation::update_service_specific_credential::UpdateServiceSpecificCredentialOutput;

    let users = mock!(Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .users(user("alice"))
            .users(user("responder"))
            .build()
            .unwrap()
    });
    let first = mock!(Client::list_service_specific_credentials)
        .match_requests(|r| r.user_name() == Some("alice") && r.marker().is_none())
        .then_output(|| {
            ListServiceSpecificCredentialsOutput::builder()
                .service_specific_credentials(git_credential(
                    "alice",
                    "ACCAOLD",
                    StatusType::Inactive,
                ))
                .is_truncated(true)
                .marker("page-2")
                .build()
        });
    let second = mock!(Client::list_service_specific_credentials)
        .match_requests(|r| r.user_name() == Some("alice") && r.marker() == Some("page-2"))
        .then_output(|| {
            ListServiceSpecificCredentialsOutput::builder()
                .service_specific_credentials(git_credential(
                    "alice",
                    "ACCAGIT",
                    StatusType::Active,
                ))
                .build()
        });
    let callers_own = mock!(Client::list_service_specific_credentials)
        .match_requests(|r| r.user_name() == Some("responder"))
        .then_output(|| ListServiceSpecificCredentialsOutput::builder().build());
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&users, &first, &second, &callers_own]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let proposed = SERVICE
        .discover(
            &ctx,
            &scope("arn:aws:iam::123456789012:user/responder", Some("AKIAR")),
        )
        .await
        .unwrap();
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(
        callers_own.num_calls(),
        0,
        "the caller's user is not even listed"
    );
    assert_eq!(proposed.len(), 1);
    assert!(proposed[0].reason.contains("codecommit.amazonaws.com"));
    assert_eq!(
        serde_json::to_value(&proposed[0].before).unwrap(),
        json!({
            "user_name": "alice",
            "id": "ACCAGIT",
            "status": "Active",
            "created": "2026-01-01T00:00:00Z",
            "service_name": "codecommit.amazonaws.com",
            "service_user_name": "alice-at-123456789012",
        })
    );
    let cut = cut_of("iam_service_credential_deactivate", proposed[0].clone());
    assert_eq!(SERVICE.check_states(&cut), Ok(()));

    let deactivate = mock!(Client::update_service_specific_credential)
        .match_requests(|r| {
            r.user_name() == Some("alice")
                && r.service_specific_credential_id() == Some("ACCAGIT")
                && r.status() == Some(&StatusType::Inactive)
        })
        .then_output(|| UpdateServiceSpecificCredentialOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&deactivate]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let record = SERVICE.apply(&ctx, &cut).await.unwrap();
    assert_eq!(deactivate.num_calls(), 1);

    let inactive = mock!(Client::list_service_specific_credentials)
        .match_requests(|r| r.user_name() == Some("alice"))
        .then_output(|| {
            ListServiceSpecificCredentialsOutput::builder()
                .service_specific_credentials(git_credential(
                    "alice",
                    "ACCAGIT",
                    StatusType::Inactive,
                ))
                .build()
        });
    let reactivate = mock!(Client::update_service_specific_credential)
        .match_requests(|r| {
            r.user_name() == Some("alice")
                && r.service_specific_credential_id() == Some("ACCAGIT")
                && r.status() == Some(&StatusType::Active)
        })
        .then_output(|| UpdateServiceSpecificCredentialOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&inactive, &reactivate]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SERVICE.undo(&ctx, &record).await.unwrap();
    assert_eq!(reactivate.num_calls(), 1);
    assert_eq!(
        outcome.notes,
        vec!["service-specific credential ACCAGIT of alice made Active again"]
    );
}

#[tokio::test]
async fn mocked_service_credential_undo_leaves_an_active_one_alone_and_refuses_a_deleted_one() {
    use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput;

    // As the rollback file holds it, through the engine's adapter.
    let record = json!({"user_name": "alice", "id": "ACCAGIT"});
    let active = mock!(Client::list_service_specific_credentials).then_output(|| {
        ListServiceSpecificCredentialsOutput::builder()
            .service_specific_credentials(git_credential("alice", "ACCAGIT", StatusType::Active))
            .build()
    });
    let update = mock!(Client::update_service_specific_credential).then_output(|| {
        aws_sdk_iam::operation::update_service_specific_credential::UpdateServiceSpecificCredentialOutput::builder()
            .build()
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&active, &update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = crate::services::Containment::undo(&SERVICE, &ctx, &record)
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 0);
    assert_eq!(
        outcome.notes,
        vec!["service-specific credential ACCAGIT of alice is already Active"]
    );

    let gone = mock!(Client::list_service_specific_credentials)
        .then_output(|| ListServiceSpecificCredentialsOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&gone, &update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let err = crate::services::Containment::undo(&SERVICE, &ctx, &record)
        .await
        .unwrap_err();
    assert!(err.message.contains("no longer exists"), "{err}");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn mocked_an_endpoint_without_the_service_credential_api_is_a_finding_not_a_discovery_error()
{
    use aws_sdk_iam::operation::list_users::ListUsersOutput;

    let users = mock!(Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .users(user("alice"))
            .build()
            .unwrap()
    });
    let missing = mock!(Client::list_service_specific_credentials).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(500).unwrap(),
            SdkBody::from("<!doctype html><title>500 Internal Server Error</title>"),
        )
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&users, &missing]);
    let ctx = emulator_like_ctx().mock_iam(client);
    let scope = scope("arn:aws:sts::123456789012:user/moto", None);
    assert_eq!(SERVICE.discover(&ctx, &scope).await, Ok(vec![]));
    assert_eq!(missing.num_calls(), 1, "not retried against an emulator");

    let findings = SERVICE.inspect(&ctx, &scope, &[]).await.unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].check, "iam_service_credential_deactivate");
    assert_eq!(findings[0].severity, Severity::High);
    assert!(
        findings[0].message.contains(
            "does not implement ListServiceSpecificCredentials (HTTP 500 with no AWS error code)"
        ),
        "{findings:?}"
    );
    // The other credential types have nothing to say here.
    let keys = CredentialDeactivate(CredentialType::AccessKey);
    assert_eq!(keys.inspect(&ctx, &scope, &[]).await.unwrap(), vec![]);
}

#[tokio::test]
async fn mocked_session_revocation_spares_the_assumed_role_caller_and_protected_roles() {
    use aws_sdk_iam::operation::get_role_policy::GetRolePolicyError;
    use aws_sdk_iam::operation::get_user_policy::GetUserPolicyError;
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;

    let users = mock!(Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .users(user("alice"))
            .build()
            .unwrap()
    });
    let roles = mock!(Client::list_roles).then_output(|| {
        ListRolesOutput::builder()
            .roles(role("IncidentResponder", "/"))
            .roles(role("app", "/"))
            .roles(role(
                "AWSServiceRoleForSupport",
                "/aws-service-role/support.amazonaws.com/",
            ))
            .roles(role(
                "AWSReservedSSO_Admin_0123",
                "/aws-reserved/sso.amazonaws.com/",
            ))
            .build()
            .unwrap()
    });
    let no_user_policy = mock!(Client::get_user_policy)
        .then_error(|| GetUserPolicyError::NoSuchEntityException(no_such_entity()));
    let no_role_policy = mock!(Client::get_role_policy)
        .match_requests(|r| r.role_name() == Some("app") && r.policy_name() == Some(POLICY_NAME))
        .then_error(|| GetRolePolicyError::NoSuchEntityException(no_such_entity()));
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&users, &roles, &no_user_policy, &no_role_policy]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let proposed = SessionRevoke
        .discover(
            &ctx,
            &scope(
                "arn:aws:sts::123456789012:assumed-role/IncidentResponder/responder",
                Some("ASIATEMP"),
            ),
        )
        .await
        .unwrap();
    let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(targets, vec!["user/alice", "role/app"]);
    assert_eq!(no_role_policy.num_calls(), 1, "only role/app is read");
    assert_eq!(
        serde_json::to_value(&proposed[1].before).unwrap(),
        json!({"principal": "role/app", "policy_name": POLICY_NAME, "existing_policy": null})
    );
}

#[tokio::test]
async fn mocked_undo_reads_the_url_encoded_document_and_deletes_only_ours() {
    use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
    use aws_sdk_iam::operation::get_role_policy::GetRolePolicyOutput;

    let written = revocation_document("2026-11-28T20:05:19Z");
    let encoded: String = written
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let record = UndoRecord {
        principal: "role/app".into(),
        policy_name: POLICY_NAME.into(),
        policy_document: Some(written.clone()),
    };

    let get = {
        let encoded = encoded.clone();
        mock!(Client::get_role_policy)
            .match_requests(|r| {
                r.role_name() == Some("app") && r.policy_name() == Some(POLICY_NAME)
            })
            .then_output(move || {
                GetRolePolicyOutput::builder()
                    .role_name("app")
                    .policy_name(POLICY_NAME)
                    .policy_document(encoded.clone())
                    .build()
                    .unwrap()
            })
    };
    let delete = mock!(Client::delete_role_policy)
        .match_requests(|r| r.role_name() == Some("app") && r.policy_name() == Some(POLICY_NAME))
        .then_output(|| DeleteRolePolicyOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get, &delete]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SessionRevoke.undo(&ctx, &record).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(
        outcome.notes,
        vec![format!(
            "session revocation lifted on role/app: inline policy {POLICY_NAME} deleted"
        )]
    );

    // Someone moved the cut-off since: their document is left alone and reported.
    let changed = mock!(Client::get_role_policy).then_output(|| {
        GetRolePolicyOutput::builder()
            .role_name("app")
            .policy_name(POLICY_NAME)
            .policy_document(revocation_document("2026-12-01T00:00:00Z"))
            .build()
            .unwrap()
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&changed, &delete]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SessionRevoke.undo(&ctx, &record).await.unwrap();
    assert_eq!(delete.num_calls(), 1, "no second delete");
    assert!(
        outcome.notes[0].starts_with("conflict:"),
        "{:?}",
        outcome.notes
    );
}

mod support {
    use aws_sdk_support::Client;
    use aws_sdk_support::operation::describe_trusted_advisor_check_result::DescribeTrustedAdvisorCheckResultOutput;
    use aws_sdk_support::operation::describe_trusted_advisor_checks::{
        DescribeTrustedAdvisorChecksError, DescribeTrustedAdvisorChecksOutput,
    };
    use aws_sdk_support::types::{
        TrustedAdvisorCategorySpecificSummary, TrustedAdvisorCheckDescription,
        TrustedAdvisorCheckResult, TrustedAdvisorResourceDetail, TrustedAdvisorResourcesSummary,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::ExposedAccessKeys;
    use crate::aws::RegionCtx;
    use crate::plan::Severity;
    use crate::services::{DiscoveryScope, Inspection};

    fn check(id: &str, name: &str) -> TrustedAdvisorCheckDescription {
        TrustedAdvisorCheckDescription::builder()
            .id(id)
            .name(name)
            .description("d")
            .category("security")
            .set_metadata(Some(vec![
                Some("Access Key ID".into()),
                Some("User Name (IAM or Root)".into()),
            ]))
            .build()
            .unwrap()
    }

    fn flagged(key: &str, user: &str, suppressed: bool) -> TrustedAdvisorResourceDetail {
        TrustedAdvisorResourceDetail::builder()
            .status("error")
            .resource_id(format!("r-{key}"))
            .is_suppressed(suppressed)
            .set_metadata(Some(vec![
                Some(key.into()),
                Some(user.into()),
                Some("Exposed".into()),
                Some("case-7".into()),
                Some("2026-11-28".into()),
                Some("https://github.com/acme/leak".into()),
            ]))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn mocked_exposed_keys_are_each_a_high_finding() {
        let checks = mock!(Client::describe_trusted_advisor_checks)
            .match_requests(|r| r.language() == Some("en"))
            .then_output(|| {
                DescribeTrustedAdvisorChecksOutput::builder()
                    .checks(check("Qch7DwouX1", "Low Utilization Amazon EC2 Instances"))
                    .checks(check("12Fnkpl8Y5", "Exposed Access Keys"))
                    .build()
                    .unwrap()
            });
        let result = mock!(Client::describe_trusted_advisor_check_result)
            .match_requests(|r| r.check_id() == Some("12Fnkpl8Y5") && r.language() == Some("en"))
            .then_output(|| {
                DescribeTrustedAdvisorCheckResultOutput::builder()
                    .result(
                        TrustedAdvisorCheckResult::builder()
                            .check_id("12Fnkpl8Y5")
                            .timestamp("2026-11-28T20:00:00Z")
                            .status("error")
                            .resources_summary(
                                TrustedAdvisorResourcesSummary::builder()
                                    .resources_processed(2)
                                    .resources_flagged(2)
                                    .resources_ignored(0)
                                    .resources_suppressed(1)
                                    .build(),
                            )
                            .category_specific_summary(
                                TrustedAdvisorCategorySpecificSummary::builder().build(),
                            )
                            .flagged_resources(flagged("AKIALEAKED", "ci-deploy", false))
                            .flagged_resources(flagged("AKIAOLDCASE", "legacy", true))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_support, RuleMode::MatchAny, &[&checks, &result]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_support(client);
        let findings = ExposedAccessKeys
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(result.num_calls(), 1);
        assert_eq!(findings.len(), 1, "suppressed entries are not reported");
        assert_eq!(findings[0].severity, Severity::High);
        assert_eq!(findings[0].resource, "AKIALEAKED");
        assert!(findings[0].message.contains("ci-deploy"));
        assert!(findings[0].message.contains("case-7"));
    }

    #[tokio::test]
    async fn mocked_a_support_plan_without_trusted_advisor_is_an_info_finding_not_an_error() {
        let refused = mock!(Client::describe_trusted_advisor_checks).then_error(|| {
            DescribeTrustedAdvisorChecksError::generic(
                aws_sdk_support::error::ErrorMetadata::builder()
                    .code("SubscriptionRequiredException")
                    .message("AWS Premium Support Subscription is required to use this service.")
                    .build(),
            )
        });
        let result = mock!(Client::describe_trusted_advisor_check_result)
            .then_output(|| DescribeTrustedAdvisorCheckResultOutput::builder().build());
        let client = mock_client!(aws_sdk_support, RuleMode::MatchAny, &[&refused, &result]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_support(client);
        let findings = ExposedAccessKeys
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(result.num_calls(), 0);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].message.contains("could not run"));
        assert!(findings[0].message.contains("support plan"));
    }

    #[tokio::test]
    async fn mocked_access_denied_on_the_support_api_is_still_an_error() {
        let denied = mock!(Client::describe_trusted_advisor_checks).then_error(|| {
            DescribeTrustedAdvisorChecksError::generic(
                aws_sdk_support::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("no")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_support, RuleMode::MatchAny, &[&denied]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_support(client);
        let err = ExposedAccessKeys
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap_err();
        assert!(err.is_access_denied());
        assert_eq!(err.operation, "support:DescribeTrustedAdvisorChecks");
    }
}

#[tokio::test]
async fn mocked_root_without_mfa_is_read_from_the_account_summary() {
    use aws_sdk_iam::operation::get_account_summary::GetAccountSummaryOutput;
    use aws_sdk_iam::types::SummaryKeyType;

    for (mfa, expected) in [(0, 1), (1, 0)] {
        let summary = mock!(Client::get_account_summary).then_output(move || {
            GetAccountSummaryOutput::builder()
                .summary_map(SummaryKeyType::AccountMfaEnabled, mfa)
                .summary_map(SummaryKeyType::Users, 3)
                .build()
        });
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&summary]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let findings = RootWithoutMfa
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(findings.len(), expected, "AccountMFAEnabled={mfa}");
    }
}

/// AWS reports root access keys only through the account summary (`AccountAccessKeysPresent`); no cut can
/// deactivate them, so the plan must say so loudly.
#[tokio::test]
async fn mocked_root_access_keys_are_a_high_finding_beside_root_without_mfa() {
    use aws_sdk_iam::operation::get_account_summary::GetAccountSummaryOutput;
    use aws_sdk_iam::types::SummaryKeyType;

    for (keys, mfa, checks) in [
        (1, 1, vec!["root_access_keys"]),
        (1, 0, vec!["root_without_mfa", "root_access_keys"]),
        (0, 1, vec![]),
    ] {
        let summary = mock!(Client::get_account_summary).then_output(move || {
            GetAccountSummaryOutput::builder()
                .summary_map(SummaryKeyType::AccountMfaEnabled, mfa)
                .summary_map(SummaryKeyType::AccountAccessKeysPresent, keys)
                .build()
        });
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&summary]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let findings = RootWithoutMfa
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(
            findings
                .iter()
                .map(|f| f.check.as_str())
                .collect::<Vec<_>>(),
            checks,
            "AccountAccessKeysPresent={keys} AccountMFAEnabled={mfa}"
        );
        assert!(findings.iter().all(|f| f.severity == Severity::High));
        assert!(
            findings
                .iter()
                .all(|f| f.resource == "arn:aws:iam::123456789012:root")
        );
    }
}
