//! Pure logic of the identity kinds and findings, and, with aws-smithy-mocks, the paths the emulator
//! lacks (the Support API, an endpoint without the service-specific credential API) or cannot show
//! (an assumed-role caller, protected roles, URL-encoded policy documents, service-specific credentials
//! over several pages, which hikkonuki's model of that API leaves out).

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
    ConsolePasswords, ExposedAccessKeys, ProtectedRoles, RootWithoutMfa, caller_kept_finding,
    exposed_key_finding, identity_center_finding, protected_roles_findings, root_mfa_finding,
};
use crate::services::identity::inline_policy;
use crate::services::{CutKind, DiscoveryScope, Inspection, Proposal, TypedCut};

fn caller(arn: &str, key: Option<&str>) -> CallerIdentity {
    CallerIdentity {
        account: "123456789012".into(),
        arn: arn.into(),
        user_id: "AIDA".into(),
        access_key_id: key.map(str::to_string),
        source: None,
        entered_by: None,
        profile_roles: Vec::new(),
    }
}

fn scope(arn: &str, key: Option<&str>) -> DiscoveryScope {
    DiscoveryScope {
        caller: caller(arn, key),
        keep_cidrs: vec![],
        options: Default::default(),
        member_role: crate::plan::DEFAULT_MEMBER_ROLE.into(),
        created: "2026-11-30T11:54:00Z".into(),
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
        before: serde_json::to_value(proposed.before).unwrap().into(),
        after: serde_json::to_value(proposed.after).unwrap().into(),
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
            ..CallerPrincipal::default()
        }
    );
    // A role profile's source key and its user, in this account, are the responder's way back in.
    let mut through_role = caller(
        "arn:aws:sts::123456789012:assumed-role/IncidentResponder/botocore-session-1",
        Some("ASIATEMP"),
    );
    through_role.source = Some(crate::aws::SourceCredentials {
        access_key_id: "AKIABOB".into(),
        user_name: Some("bob".into()),
    });
    // Its chain of role profiles: the roles of this account it assumes on the way are the caller's
    // too; one of another account, or an ARN that is not a role's, names none here.
    through_role.profile_roles = vec![
        "arn:aws:iam::123456789012:role/IncidentResponder".into(),
        "arn:aws:iam::123456789012:role/jump/Broker".into(),
        "arn:aws:iam::999999999999:role/Elsewhere".into(),
        "arn:aws:iam::123456789012:user/NotARole".into(),
    ];
    let bob = CallerPrincipal::from_identity(&through_role);
    assert!(bob.is_user("bob") && bob.is_access_key("AKIABOB") && bob.is_access_key("ASIATEMP"));
    assert!(!bob.is_user("alice") && bob.is_role("IncidentResponder"));
    assert!(bob.is_role("Broker"), "a role the profile chain assumes");
    assert!(!bob.is_role("Elsewhere") && !bob.is_role("NotARole"));
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
    unknown_field
        .before
        .edit(|state| state["secret"] = json!("x"));
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

/// A principal as a plan made before the room was measured records it.
fn revocation_state(principal: &str, existing: Option<Value>) -> RevocationState {
    RevocationState {
        principal: principal.into(),
        policy_name: POLICY_NAME.into(),
        existing_policy: existing,
        room: None,
        managed_policy: None,
    }
}

/// The caller's ARN the test scopes use: it names the account for managed policies.
const ACCOUNT_ARN: &str = "arn:aws:iam::123456789012:user/r";

fn propose_revocation(state: &RevocationState) -> Proposal<Revocation> {
    iam_session_revoke::propose(state, ACCOUNT_ARN)
}

/// A revocation holds only with a cut-off no earlier than the one apply wrote: one moved back to before
/// apply (by whoever can write the principal's policies) has our shape and revokes no session issued
/// since; `watch` took it for the cut. A later one (a re-cut) holds.
#[test]
fn a_revocation_whose_cut_off_was_moved_back_does_not_hold() {
    let cut = cut_of(
        "iam_session_revoke",
        propose_revocation(&revocation_state("role/app", None)),
    );
    let written = revocation_document("2026-12-02T07:00:00Z");
    let undo = UndoRecord {
        principal: "role/app".into(),
        policy_name: POLICY_NAME.into(),
        policy_document: Some(written),
        managed_policy_arn: None,
    };
    let live_with_cutoff = |time: &str| {
        let mut live = revocation_state("role/app", None);
        live.existing_policy = Some(serde_json::from_str(&revocation_document(time)).unwrap());
        Revocation::Current(live)
    };
    for (time, holds) in [
        ("2026-12-02T07:00:00Z", true),
        ("2026-12-02T09:30:00Z", true),
        ("2000-01-01T00:00:00Z", false),
        ("2026-12-02T06:59:59Z", false),
    ] {
        let live = live_with_cutoff(time);
        assert!(
            SessionRevoke.holds(&cut, &live),
            "our shape, whatever the time"
        );
        assert_eq!(
            SessionRevoke.holds_as_written(&cut, &live, &undo),
            holds,
            "{time}"
        );
    }
    // Recorded before the document was: the shape is all there is to go by.
    let unrecorded = UndoRecord {
        policy_document: None,
        ..undo
    };
    assert!(SessionRevoke.holds_as_written(
        &cut,
        &live_with_cutoff("2000-01-01T00:00:00Z"),
        &unrecorded
    ));
}

#[test]
fn a_session_cut_names_its_gate_and_leaves_the_time_to_apply() {
    let proposed = propose_revocation(&revocation_state("role/app", None));
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
    let proposed = propose_revocation(&revocation_state("role/app", None));
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
    plan_cut
        .before
        .edit(|state| state["denies"] = json!("nothing"));
    assert!(
        crate::services::Containment::check_states(&SessionRevoke, &plan_cut)
            .unwrap_err()
            .starts_with("`before`")
    );
}

#[test]
fn an_existing_policy_of_that_name_is_never_overwritten() {
    // One dated long ago, as an intruder would place to pass for a revocation: the reason names the
    // cut-off, so no one reads it as sessions revoked now.
    let ours = serde_json::from_str(&revocation_document("2000-01-01T00:00:00Z")).unwrap();
    let earlier = propose_revocation(&revocation_state("user/bob", Some(ours)));
    let why = earlier.disabled_because.unwrap();
    assert!(why.contains("earlier session revocation"), "{why}");
    assert!(
        why.contains(
            "revokes only the sessions issued before 2000-01-01T00:00:00Z, and none issued since"
        ),
        "{why}"
    );
    let foreign = propose_revocation(&revocation_state(
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
        managed_policy_arn: None,
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
    let root_user = crate::services::findings::identity::root_arn("us-east-1", "123456789012");
    assert_eq!(root_user, "arn:aws:iam::123456789012:root");
    assert_eq!(
        crate::services::findings::identity::root_arn("us-gov-west-1", "123456789012"),
        "arn:aws-us-gov:iam::123456789012:root",
        "named in the partition the account is in"
    );
    let root = root_mfa_finding(&root_user, Some(0)).unwrap();
    assert_eq!(root.severity, Severity::High);
    assert_eq!(root.resource, "arn:aws:iam::123456789012:root");
    assert!(root.message.contains("Enable MFA on root"));
    assert_eq!(root_mfa_finding(&root_user, Some(1)), None);
    assert_eq!(root_mfa_finding(&root_user, None), None);

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
    assert!(
        center
            .message
            .starts_with("IAM Identity Center is a way in that IAM key cuts do not close:")
    );
    assert!(
        center
            .message
            .contains("identity_center_session_revoke ends the sessions issued before apply")
    );
    assert!(center.message.contains("disable compromised users"));

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

pub(crate) fn user(name: &str) -> User {
    User::builder()
        .path("/")
        .user_name(name)
        .user_id(format!("AIDA{name}"))
        .arn(format!("arn:aws:iam::123456789012:user/{name}"))
        .create_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

pub(crate) fn role(name: &str, path: &str) -> Role {
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
pub(crate) fn no_such_entity() -> aws_sdk_iam::types::error::NoSuchEntityException {
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

/// A credential marked Expired after the cut (UpdateServiceSpecificCredential documents Active, Inactive
/// and Expired, <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateServiceSpecificCredential.html>)
/// is not what the cut left: restore must not revive it, and says so as a conflict. The same holds for
/// access keys and SSH keys, which share the undo.
#[tokio::test]
async fn mocked_service_credential_undo_leaves_one_marked_expired_after_the_cut_alone() {
    use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsOutput;
    use aws_sdk_iam::operation::update_service_specific_credential::UpdateServiceSpecificCredentialOutput;

    let expired = mock!(Client::list_service_specific_credentials).then_output(|| {
        ListServiceSpecificCredentialsOutput::builder()
            .service_specific_credentials(git_credential("alice", "ACCAGIT", StatusType::Expired))
            .build()
    });
    let update = mock!(Client::update_service_specific_credential)
        .then_output(|| UpdateServiceSpecificCredentialOutput::builder().build());
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&expired, &update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let record = json!({"user_name": "alice", "id": "ACCAGIT"});
    let outcome = crate::services::Containment::undo(&SERVICE, &ctx, &record)
        .await
        .unwrap();
    assert_eq!(
        update.num_calls(),
        0,
        "an Expired credential is not revived"
    );
    assert_eq!(
        outcome.notes,
        vec![
            "conflict: service-specific credential ACCAGIT of alice is Expired now, not Inactive as the cut left it; left alone (make it Active by hand if it should work again)"
        ]
    );
    assert_eq!(
        crate::services::UndoOutcome::conflicts(&outcome.notes).len(),
        1
    );
}

/// NoSuchEntity, as IAM documents it for ListServiceSpecificCredentials and
/// UpdateServiceSpecificCredential
/// (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListServiceSpecificCredentials.html>,
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateServiceSpecificCredential.html>): a user
/// deleted between ListUsers and the listing has nothing to cut; a credential deleted between plan and
/// apply fails its cut with AWS's code and words, naming the call; and restore of a credential whose user
/// is gone says it no longer exists.
#[tokio::test]
async fn mocked_service_credentials_of_a_deleted_user_or_id_meet_iams_no_such_entity() {
    use aws_sdk_iam::operation::list_service_specific_credentials::ListServiceSpecificCredentialsError;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;
    use aws_sdk_iam::operation::update_service_specific_credential::UpdateServiceSpecificCredentialError;

    let users = mock!(Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .users(user("alice"))
            .build()
            .unwrap()
    });
    let user_gone = mock!(Client::list_service_specific_credentials).then_error(|| {
        ListServiceSpecificCredentialsError::NoSuchEntityException(no_such_entity())
    });
    let credential_gone = mock!(Client::update_service_specific_credential).then_error(|| {
        UpdateServiceSpecificCredentialError::NoSuchEntityException(
            aws_sdk_iam::types::error::NoSuchEntityException::builder()
                .message("The Service Specific Credential with id ACCAGONE cannot be found.")
                .meta(
                    aws_sdk_iam::error::ErrorMetadata::builder()
                        .code("NoSuchEntity")
                        .message(
                            "The Service Specific Credential with id ACCAGONE cannot be found.",
                        )
                        .build(),
                )
                .build(),
        )
    });
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&users, &user_gone, &credential_gone]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let scope = scope("arn:aws:sts::123456789012:user/moto", None);
    assert_eq!(SERVICE.discover(&ctx, &scope).await, Ok(vec![]));
    assert_eq!(user_gone.num_calls(), 1);

    let credential = CredentialState {
        service_name: Some("codecommit.amazonaws.com".into()),
        service_user_name: Some("alice-at-123456789012".into()),
        ..key("alice", "ACCAGONE", "Active")
    };
    let cut = TypedCut {
        id: Cut::expected_id("iam_service_credential_deactivate", "global", "ACCAGONE"),
        region: "global".into(),
        target: "ACCAGONE".into(),
        before: credential.clone(),
        after: CredentialState {
            status: "Inactive".into(),
            ..credential
        },
    };
    let err = CutKind::apply(&SERVICE, &ctx, &cut).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NoSuchEntity"));
    assert!(
        err.to_string().starts_with(
            "iam:UpdateServiceSpecificCredential failed: NoSuchEntity: The Service Specific Credential with id ACCAGONE"
        ),
        "{err}"
    );

    let record = json!({"user_name": "alice", "id": "ACCAGONE"});
    let err = crate::services::Containment::undo(&SERVICE, &ctx, &record)
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("service-specific credential ACCAGONE of IAM user alice no longer exists"),
        "{err}"
    );
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

/// IAM's account summary as AWS returns it for an account with the default quotas
/// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html).
pub(crate) fn account_summary() -> aws_smithy_mocks::Rule {
    use aws_sdk_iam::operation::get_account_summary::GetAccountSummaryOutput;
    use aws_sdk_iam::types::SummaryKeyType;

    mock!(Client::get_account_summary).then_output(|| {
        GetAccountSummaryOutput::builder()
            .summary_map(SummaryKeyType::UserPolicySizeQuota, 2_048)
            .summary_map(SummaryKeyType::RolePolicySizeQuota, 10_240)
            .summary_map(SummaryKeyType::GroupPolicySizeQuota, 5_120)
            .summary_map(SummaryKeyType::AttachedPoliciesPerUserQuota, 10)
            .summary_map(SummaryKeyType::AttachedPoliciesPerRoleQuota, 10)
            .summary_map(SummaryKeyType::PolicySizeQuota, 6_144)
            .build()
    })
}

/// An allow policy of about `characters` characters (whitespace not counted).
pub(crate) fn policy_of_size(characters: usize) -> String {
    let frame = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::"}]}"#;
    let bucket = "b".repeat(characters.saturating_sub(frame.len()));
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}"}}]}}"#
    )
}

/// How IAM answers the reads of one principal's policies: its inline policies with their documents,
/// and the managed policies attached to it (by ARN).
pub(crate) fn principal_reads(
    holder: inline_policy::Holder<'static>,
    inline: &[(&'static str, String)],
    attached: &[&'static str],
) -> Vec<aws_smithy_mocks::Rule> {
    use aws_sdk_iam::operation::get_role_policy::GetRolePolicyOutput;
    use aws_sdk_iam::operation::get_user_policy::GetUserPolicyOutput;
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::operation::list_attached_user_policies::ListAttachedUserPoliciesOutput;
    use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
    use aws_sdk_iam::operation::list_user_policies::ListUserPoliciesOutput;
    use aws_sdk_iam::types::AttachedPolicy;

    let names: Vec<String> = inline.iter().map(|(name, _)| name.to_string()).collect();
    let attached: Vec<AttachedPolicy> = attached
        .iter()
        .map(|arn| {
            AttachedPolicy::builder()
                .policy_arn(*arn)
                .policy_name(arn.rsplit('/').next().unwrap())
                .build()
        })
        .collect();
    let mut rules = Vec::new();
    match holder {
        inline_policy::Holder::User(user) => {
            rules.push(
                mock!(Client::list_user_policies)
                    .match_requests(move |r| r.user_name() == Some(user))
                    .then_output(move || {
                        ListUserPoliciesOutput::builder()
                            .set_policy_names(Some(names.clone()))
                            .build()
                            .unwrap()
                    }),
            );
            rules.push(
                mock!(Client::list_attached_user_policies)
                    .match_requests(move |r| r.user_name() == Some(user))
                    .then_output(move || {
                        ListAttachedUserPoliciesOutput::builder()
                            .set_attached_policies(Some(attached.clone()))
                            .build()
                    }),
            );
            for (name, document) in inline.iter().cloned() {
                rules.push(
                    mock!(Client::get_user_policy)
                        .match_requests(move |r| {
                            r.user_name() == Some(user) && r.policy_name() == Some(name)
                        })
                        .then_output(move || {
                            GetUserPolicyOutput::builder()
                                .user_name(user)
                                .policy_name(name)
                                .policy_document(document.clone())
                                .build()
                                .unwrap()
                        }),
                );
            }
        }
        inline_policy::Holder::Role(role) => {
            rules.push(
                mock!(Client::list_role_policies)
                    .match_requests(move |r| r.role_name() == Some(role))
                    .then_output(move || {
                        ListRolePoliciesOutput::builder()
                            .set_policy_names(Some(names.clone()))
                            .build()
                            .unwrap()
                    }),
            );
            rules.push(
                mock!(Client::list_attached_role_policies)
                    .match_requests(move |r| r.role_name() == Some(role))
                    .then_output(move || {
                        ListAttachedRolePoliciesOutput::builder()
                            .set_attached_policies(Some(attached.clone()))
                            .build()
                    }),
            );
            for (name, document) in inline.iter().cloned() {
                rules.push(
                    mock!(Client::get_role_policy)
                        .match_requests(move |r| {
                            r.role_name() == Some(role) && r.policy_name() == Some(name)
                        })
                        .then_output(move || {
                            GetRolePolicyOutput::builder()
                                .role_name(role)
                                .policy_name(name)
                                .policy_document(document.clone())
                                .build()
                                .unwrap()
                        }),
                );
            }
        }
    }
    rules
}

/// GetPolicy on a managed policy that does not exist: NoSuchEntity, as IAM answers.
pub(crate) fn no_managed_policy() -> aws_smithy_mocks::Rule {
    use aws_sdk_iam::operation::get_policy::GetPolicyError;
    mock!(Client::get_policy).then_error(|| GetPolicyError::NoSuchEntityException(no_such_entity()))
}

#[tokio::test]
async fn mocked_session_revocation_spares_the_assumed_role_caller_and_protected_roles() {
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
    // Only alice and app are read: a read of any other principal finds no answer and fails the test.
    let mut rules = vec![users, roles, account_summary(), no_managed_policy()];
    rules.extend(principal_reads(
        inline_policy::Holder::User("alice"),
        &[],
        &[],
    ));
    rules.extend(principal_reads(
        inline_policy::Holder::Role("app"),
        &[],
        &[],
    ));
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
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
    assert_eq!(
        serde_json::to_value(&proposed[1].before).unwrap(),
        json!({
            "principal": "role/app",
            "policy_name": POLICY_NAME,
            "existing_policy": null,
            "room": {"inline_characters": 0, "inline_quota": 10_240, "attached_policies": 0, "attached_quota": 10},
        })
    );
    assert_eq!(
        serde_json::to_value(&proposed[1].after).unwrap()["placement"],
        "inline"
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
        managed_policy_arn: None,
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

/// Apply asks these of the principal actually applying (issue 12): its user, its signing key, its role.
#[test]
fn the_applying_principal_is_recognised_by_user_key_and_role() {
    let typed = |user: &str, id: &str| TypedCut {
        id: Cut::expected_id("iam_key_deactivate", "global", id),
        region: "global".into(),
        target: id.into(),
        before: key(user, id, "Active"),
        after: key(user, id, "Inactive"),
    };
    let keys = CredentialDeactivate(CredentialType::AccessKey);
    let alice = caller("arn:aws:iam::123456789012:user/alice", Some("AKIAALICE"));
    assert!(CutKind::cuts_off(
        &keys,
        &typed("alice", "AKIAOTHER"),
        &alice
    ));
    assert!(CutKind::cuts_off(&keys, &typed("bob", "AKIAALICE"), &alice));
    assert!(!CutKind::cuts_off(&keys, &typed("bob", "AKIABOB"), &alice));
    let ssh = CredentialDeactivate(CredentialType::SshPublicKey);
    assert!(CutKind::cuts_off(&ssh, &typed("alice", "APKA1"), &alice));
    assert!(
        !CutKind::cuts_off(&ssh, &typed("bob", "AKIAALICE"), &alice),
        "an SSH key ID is not a signing key"
    );

    let session = |target: &str| {
        let state = Revocation::Current(RevocationState {
            principal: target.into(),
            policy_name: POLICY_NAME.into(),
            existing_policy: None,
            room: None,
            managed_policy: None,
        });
        TypedCut {
            id: Cut::expected_id("iam_session_revoke", "global", target),
            region: "global".into(),
            target: target.into(),
            before: state.clone(),
            after: state,
        }
    };
    let responder = caller("arn:aws:sts::123456789012:assumed-role/Responder/me", None);
    assert!(CutKind::cuts_off(
        &SessionRevoke,
        &session("role/Responder"),
        &responder
    ));
    assert!(!CutKind::cuts_off(
        &SessionRevoke,
        &session("role/Other"),
        &responder
    ));
    assert!(!CutKind::cuts_off(
        &SessionRevoke,
        &session("user/Responder"),
        &responder
    ));
}

/// UnmodifiableEntity as IAM sends it for a protected role (code and message as AWS returns them for
/// PutRolePolicy and AttachRolePolicy on an Identity Center or service-linked role).
pub(crate) fn unmodifiable(role: &str) -> aws_sdk_iam::types::error::UnmodifiableEntityException {
    let message = format!(
        "Cannot perform the operation on the protected role '{role}' - this role is only modifiable by AWS"
    );
    aws_sdk_iam::types::error::UnmodifiableEntityException::builder()
        .message(&message)
        .meta(
            aws_sdk_iam::error::ErrorMetadata::builder()
                .code("UnmodifiableEntity")
                .message(&message)
                .build(),
        )
        .build()
}

#[test]
fn protected_roles_are_read_from_their_paths() {
    assert_eq!(
        ProtectedRole::of_path("/aws-service-role/support.amazonaws.com/"),
        Some(ProtectedRole::ServiceLinked)
    );
    assert_eq!(
        ProtectedRole::of_path("/aws-reserved/sso.amazonaws.com/eu-west-1/"),
        Some(ProtectedRole::IdentityCenter)
    );
    for ordinary in ["/", "/app/", "/aws-reserved/other/", "/service-role/"] {
        assert_eq!(ProtectedRole::of_path(ordinary), None, "{ordinary}");
    }
}

#[test]
fn protected_roles_are_named_in_a_finding_saying_where_to_act() {
    let findings = protected_roles_findings(&[
        (
            "AWSServiceRoleForSupport".into(),
            ProtectedRole::ServiceLinked,
        ),
        (
            "AWSReservedSSO_Admin_0123".into(),
            ProtectedRole::IdentityCenter,
        ),
        (
            "AWSReservedSSO_Audit_4567".into(),
            ProtectedRole::IdentityCenter,
        ),
    ]);
    assert_eq!(findings.len(), 2);
    let sso = &findings[0];
    assert_eq!(
        (sso.check.as_str(), sso.severity),
        ("identity_protected_roles", Severity::Medium)
    );
    assert!(
        sso.message
            .contains("AWSReservedSSO_Admin_0123, AWSReservedSSO_Audit_4567"),
        "{}",
        sso.message
    );
    assert!(sso.message.contains("UnmodifiableEntity"));
    assert!(sso.message.contains("Act in IAM Identity Center"));
    let linked = &findings[1];
    assert_eq!(linked.severity, Severity::Info);
    assert!(linked.message.contains("AWSServiceRoleForSupport"));
    assert!(protected_roles_findings(&[]).is_empty());
}

#[tokio::test]
async fn mocked_protected_roles_are_a_finding_and_other_roles_are_not() {
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;

    let roles = mock!(Client::list_roles).then_output(|| {
        ListRolesOutput::builder()
            .roles(role("app", "/"))
            .roles(role(
                "AWSReservedSSO_Admin_0123",
                "/aws-reserved/sso.amazonaws.com/",
            ))
            .build()
            .unwrap()
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&roles]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let findings = ProtectedRoles
        .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
        .await
        .unwrap();
    assert_eq!(findings.len(), 1);
    assert!(findings[0].message.contains("AWSReservedSSO_Admin_0123"));
    assert!(!findings[0].message.contains("app,"));
}

/// A user with a console password signs in again after every cut: each is a High finding naming it.
/// A user without one answers NoSuchEntity (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetLoginProfile.html,
/// Errors), and the responder's own user is not read at all. Any other answer is not taken for "no
/// password": the inspection fails, and the plan names it as incomplete.
#[tokio::test]
async fn mocked_users_with_a_console_password_are_each_a_high_finding() {
    use aws_sdk_iam::operation::get_login_profile::{GetLoginProfileError, GetLoginProfileOutput};
    use aws_sdk_iam::operation::list_users::ListUsersOutput;
    use aws_sdk_iam::types::LoginProfile;

    let users = || {
        mock!(Client::list_users).then_output(|| {
            ListUsersOutput::builder()
                .users(user("alice"))
                .users(user("bob"))
                .users(user("responder"))
                .build()
                .unwrap()
        })
    };
    let alice = mock!(Client::get_login_profile)
        .match_requests(|r| r.user_name() == Some("alice"))
        .then_output(|| {
            GetLoginProfileOutput::builder()
                .login_profile(
                    LoginProfile::builder()
                        .user_name("alice")
                        .create_date(DateTime::from_secs(0))
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let bob = mock!(Client::get_login_profile)
        .match_requests(|r| r.user_name() == Some("bob"))
        .then_error(|| GetLoginProfileError::NoSuchEntityException(no_such_entity()));
    let responder = mock!(Client::get_login_profile)
        .match_requests(|r| r.user_name() == Some("responder"))
        .then_output(|| GetLoginProfileOutput::builder().build());
    let listed = users();
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&listed, &alice, &bob, &responder]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let findings = ConsolePasswords
        .inspect(
            &ctx,
            &scope("arn:aws:iam::123456789012:user/responder", Some("AKIAR")),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].check, "iam_console_password");
    assert_eq!(findings[0].severity, Severity::High);
    assert_eq!(findings[0].resource, "arn:aws:iam::123456789012:user/alice");
    assert!(
        findings[0]
            .message
            .contains("delete-login-profile --user-name alice")
    );
    assert_eq!(
        responder.num_calls(),
        0,
        "the responder's own user is not read"
    );

    let denied = mock!(Client::get_login_profile).then_error(|| {
        GetLoginProfileError::unhandled(Box::new(std::io::Error::other("AccessDenied")))
    });
    let listed = users();
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&listed, &denied]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let err = ConsolePasswords
        .inspect(
            &ctx,
            &scope("arn:aws:iam::123456789012:user/responder", Some("AKIAR")),
            &[],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("iam:GetLoginProfile"), "{err}");
}

/// A plan made before protected roles were left out (or a role AWS protects without the path showing
/// it) meets AWS's UnmodifiableEntity at apply: the cut fails with AWS's code, saying where to act.
#[tokio::test]
async fn mocked_unmodifiable_entity_at_apply_fails_the_cut_saying_where_to_act() {
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::operation::put_role_policy::PutRolePolicyError;

    let name = "AWSReservedSSO_Admin_0123";
    let get = mock!(Client::get_role).then_output(move || {
        GetRoleOutput::builder()
            .role(role(name, "/aws-reserved/sso.amazonaws.com/"))
            .build()
    });
    let put = mock!(Client::put_role_policy)
        .then_error(move || PutRolePolicyError::UnmodifiableEntityException(unmodifiable(name)));
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get, &put]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let cut = cut_of(
        "iam_session_revoke",
        propose_revocation(&revocation_state(&format!("role/{name}"), None)),
    );
    let err = SessionRevoke.apply(&ctx, &cut).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("UnmodifiableEntity"));
    assert_eq!(err.operation, "iam:PutRolePolicy");
    assert!(err.message.contains("only modifiable by AWS"), "{err}");
    assert!(err.message.contains("IAM Identity Center"), "{err}");
    assert!(err.message.contains("nothing was changed"), "{err}");
}

#[test]
fn the_cut_off_is_the_second_after_awss_date_header() {
    assert_eq!(
        iam_session_revoke::cutoff_from_date_header("Sun, 29 Nov 2026 00:09:40 GMT").as_deref(),
        Some("2026-11-29T00:09:41Z")
    );
    assert_eq!(
        iam_session_revoke::cutoff_from_date_header("Tue, 31 Dec 2030 23:59:59 GMT").as_deref(),
        Some("2031-01-01T00:00:00Z")
    );
    assert_eq!(
        iam_session_revoke::cutoff_from_date_header("yesterday"),
        None
    );
    assert_eq!(iam_session_revoke::cutoff_from_date_header(""), None);
}

/// The cut-off comes from AWS's clock: the `Date` header of IAM's answer to the GetUser made at apply,
/// here years away from this machine's clock, decides it.
#[tokio::test]
async fn mocked_the_cut_off_is_taken_from_awss_date_header_not_the_local_clock() {
    use aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput;

    const GET_USER: &str = r#"<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <GetUserResult>
    <User>
      <UserId>AIDABOB</UserId>
      <Path>/</Path>
      <UserName>bob</UserName>
      <Arn>arn:aws:iam::123456789012:user/bob</Arn>
      <CreateDate>2019-01-01T00:00:00Z</CreateDate>
    </User>
  </GetUserResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</GetUserResponse>"#;
    let get = mock!(Client::get_user)
        .match_requests(|r| r.user_name() == Some("bob"))
        .then_http_response(|| {
            let mut response =
                HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(GET_USER));
            response.headers_mut().insert("Content-Type", "text/xml");
            response
                .headers_mut()
                .insert("Date", "Sun, 01 Mar 2020 10:20:30 GMT");
            response
        });
    let expected = revocation_document("2020-03-01T10:20:31Z");
    let put = {
        let expected = expected.clone();
        mock!(Client::put_user_policy)
            .match_requests(move |r| {
                r.user_name() == Some("bob") && r.policy_document() == Some(expected.as_str())
            })
            .then_output(|| PutUserPolicyOutput::builder().build())
    };
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get, &put]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let cut = cut_of(
        "iam_session_revoke",
        propose_revocation(&revocation_state("user/bob", None)),
    );
    let record = SessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!((get.num_calls(), put.num_calls()), (1, 1));
    assert_eq!(record.policy_document, Some(expected));
}

#[test]
fn the_reason_warns_that_every_session_ends_workloads_included() {
    let role = propose_revocation(&revocation_state("role/app", None));
    for words in [
        "not only stolen ones",
        "EC2 instance profiles, Lambda functions, ECS tasks",
        "fetch fresh credentials",
        "AWS's clock",
    ] {
        assert!(role.reason.contains(words), "{words}: {}", role.reason);
    }
    let user = propose_revocation(&revocation_state("user/bob", None));
    assert!(
        user.reason
            .contains("must sign in (or call GetSessionToken) again")
    );
}

// ---------------------------------------------------------------------------------------------------------
// Room for the deny: IAM's inline-size and attachment quotas
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)
// ---------------------------------------------------------------------------------------------------------

/// LimitExceeded as IAM sends it (HTTP 409), with AWS's message for the quota at hand.
pub(crate) fn limit_exceeded(message: &str) -> aws_sdk_iam::types::error::LimitExceededException {
    aws_sdk_iam::types::error::LimitExceededException::builder()
        .message(message)
        .meta(
            aws_sdk_iam::error::ErrorMetadata::builder()
                .code("LimitExceeded")
                .message(message)
                .build(),
        )
        .build()
}

/// The managed policy hikkonuki creates for `principal`'s session revocation, in the test account.
fn revocation_arn(principal: &str) -> String {
    format!(
        "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-session-revocation-{}",
        principal.replace('/', "-")
    )
}

/// A principal whose inline policies leave no room gets the deny as a managed policy attached to it; one
/// with no free managed-policy slot either is proposed disabled, saying why; roles have more room.
#[tokio::test]
async fn mocked_discovery_places_the_revocation_where_iams_quotas_leave_room() {
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;
    use aws_sdk_iam::operation::list_users::ListUsersOutput;

    let revocation = iam_session_revoke::revocation_characters();
    let users = mock!(Client::list_users).then_output(|| {
        ListUsersOutput::builder()
            .users(user("roomy"))
            .users(user("crowded"))
            .users(user("full"))
            .build()
            .unwrap()
    });
    let roles = mock!(Client::list_roles).then_output(|| {
        ListRolesOutput::builder()
            .roles(role("app", "/"))
            .build()
            .unwrap()
    });
    let ten_attached: Vec<&'static str> = (0..10)
        .map(|i| &*Box::leak(format!("arn:aws:iam::123456789012:policy/team-{i}").into_boxed_str()))
        .collect();
    let mut rules = vec![users, roles, account_summary(), no_managed_policy()];
    // Exactly enough room left for the revocation: inline.
    rules.extend(principal_reads(
        inline_policy::Holder::User("roomy"),
        &[("team", policy_of_size(2_048 - revocation))],
        &[],
    ));
    // One character short: a managed policy. hikkonuki's own earlier policies take no room.
    rules.extend(principal_reads(
        inline_policy::Holder::User("crowded"),
        &[
            ("team", policy_of_size(2_048 - revocation + 1)),
            (
                "hikkonuki-ses-send-deny",
                crate::services::mail::ses_send_deny::deny_document(),
            ),
        ],
        &["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    ));
    // No inline room and ten managed policies attached: nowhere.
    rules.extend(principal_reads(
        inline_policy::Holder::User("full"),
        &[("team", policy_of_size(2_000))],
        &ten_attached,
    ));
    // The same 2,000 characters on a role leave plenty of its 10,240.
    rules.extend(principal_reads(
        inline_policy::Holder::Role("app"),
        &[("team", policy_of_size(2_000))],
        &[],
    ));
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let proposed = SessionRevoke
        .discover(&ctx, &scope(ACCOUNT_ARN, None))
        .await
        .unwrap();
    let by_target = |target: &str| {
        proposed
            .iter()
            .find(|p| p.target == target)
            .unwrap_or_else(|| panic!("{target} proposed: {proposed:?}"))
    };
    let after = |target: &str| serde_json::to_value(&by_target(target).after).unwrap();

    assert_eq!(after("user/roomy")["placement"], "inline");
    assert_eq!(by_target("user/roomy").disabled_because, None);

    let crowded = by_target("user/crowded");
    assert_eq!(crowded.disabled_because, None);
    assert_eq!(after("user/crowded")["placement"], "managed");
    assert_eq!(
        after("user/crowded")["managed_policy_arn"],
        revocation_arn("user/crowded")
    );
    assert!(
        crowded.reason.contains("customer-managed policy")
            && crowded.reason.contains("restore detaches and deletes"),
        "{}",
        crowded.reason
    );
    let Revocation::Current(before) = &crowded.before else {
        panic!("{:?}", crowded.before)
    };
    assert_eq!(
        before.room,
        Some(policy_room::PolicyRoom {
            inline_characters: 2_048 - revocation + 1,
            inline_quota: 2_048,
            attached_policies: 1,
            attached_quota: 10,
        })
    );
    assert_eq!(
        SessionRevoke.check_states(&cut_of("iam_session_revoke", crowded.clone())),
        Ok(())
    );

    let full = by_target("user/full");
    let why = full.disabled_because.as_deref().unwrap();
    assert!(
        why.contains("no deny fits") && why.contains("10 of its 10 managed-policy slots"),
        "{why}"
    );

    assert_eq!(after("role/app")["placement"], "inline");
}

/// AWS's answer when the inline total would pass the quota, as PutUserPolicy gives it: the cut fails with
/// AWS's code, saying that nothing changed and to plan again.
#[tokio::test]
async fn mocked_limit_exceeded_on_the_inline_policy_fails_the_cut_saying_to_plan_again() {
    use aws_sdk_iam::operation::put_user_policy::PutUserPolicyError;

    let put = mock!(Client::put_user_policy).then_error(|| {
        PutUserPolicyError::LimitExceededException(limit_exceeded(
            "Maximum policy size of 2048 bytes exceeded for user bob",
        ))
    });
    let get = mock!(Client::get_user).then_output(|| {
        aws_sdk_iam::operation::get_user::GetUserOutput::builder()
            .user(user("bob"))
            .build()
    });
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get, &put]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let cut = cut_of(
        "iam_session_revoke",
        propose_revocation(&revocation_state("user/bob", None)),
    );
    let err = SessionRevoke.apply(&ctx, &cut).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("LimitExceeded"));
    assert!(
        err.message
            .contains("Maximum policy size of 2048 bytes exceeded"),
        "{err}"
    );
    assert!(
        err.message.contains("nothing was changed") && err.message.contains("plan again"),
        "{err}"
    );
}

/// A revocation proposed switched off because an inline policy of hikkonuki's name is already there
/// (someone's, or an earlier revocation) is refused whoever switches it on: apply leaves it out before
/// journaling anything, since PutUserPolicy would overwrite that policy and restore would then delete it.
#[test]
fn a_revocation_over_an_existing_policy_is_refused_whoever_enables_it() {
    let theirs = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    ]});
    let proposal = propose_revocation(&revocation_state("user/bob", Some(theirs)));
    assert!(proposal.disabled_because.is_some(), "proposed switched off");
    let cut = cut_of("iam_session_revoke", proposal);
    let why = SessionRevoke.refuses(&cut).expect("refused");
    assert!(
        why.starts_with(
            "an inline policy named hikkonuki-session-revocation is already there for user/bob"
        ) && why.contains("restore would then remove it"),
        "{why}"
    );
    let clean = cut_of(
        "iam_session_revoke",
        propose_revocation(&revocation_state("user/bob", None)),
    );
    assert_eq!(SessionRevoke.refuses(&clean), None);
}

/// A cut placed in a managed policy: apply creates it under /hikkonuki/ with the revocation and attaches
/// it; restore detaches and deletes exactly that policy, and only while its document is ours.
#[tokio::test]
async fn mocked_a_managed_revocation_is_created_attached_then_detached_and_deleted() {
    use aws_sdk_iam::operation::attach_user_policy::AttachUserPolicyOutput;
    use aws_sdk_iam::operation::create_policy::CreatePolicyOutput;
    use aws_sdk_iam::operation::delete_policy::DeletePolicyOutput;
    use aws_sdk_iam::operation::detach_user_policy::DetachUserPolicyOutput;
    use aws_sdk_iam::operation::get_policy::GetPolicyOutput;
    use aws_sdk_iam::operation::get_policy_version::GetPolicyVersionOutput;
    use aws_sdk_iam::operation::get_user::GetUserOutput;
    use aws_sdk_iam::types::{Policy, PolicyVersion};

    let arn = revocation_arn("user/bob");
    let state = RevocationState {
        room: Some(policy_room::PolicyRoom {
            inline_characters: 2_000,
            inline_quota: 2_048,
            attached_policies: 2,
            attached_quota: 10,
        }),
        ..revocation_state("user/bob", None)
    };
    let cut = cut_of("iam_session_revoke", propose_revocation(&state));
    assert_eq!(SessionRevoke.check_states(&cut), Ok(()));

    let get_user =
        mock!(Client::get_user).then_output(|| GetUserOutput::builder().user(user("bob")).build());
    let created = {
        let arn = arn.clone();
        mock!(Client::create_policy)
            .match_requests(|r| {
                r.path() == Some("/hikkonuki/")
                    && r.policy_name() == Some("hikkonuki-session-revocation-user-bob")
                    && r.policy_document().is_some_and(|doc| {
                        is_revocation_document(&serde_json::from_str(doc).unwrap())
                    })
            })
            .then_output(move || {
                CreatePolicyOutput::builder()
                    .policy(Policy::builder().arn(arn.clone()).build())
                    .build()
            })
    };
    let attach = {
        let arn = arn.clone();
        mock!(Client::attach_user_policy)
            .match_requests(move |r| {
                r.user_name() == Some("bob") && r.policy_arn() == Some(arn.as_str())
            })
            .then_output(|| AttachUserPolicyOutput::builder().build())
    };
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&get_user, &created, &attach]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let record = SessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!((created.num_calls(), attach.num_calls()), (1, 1));
    assert_eq!(record.managed_policy_arn.as_deref(), Some(arn.as_str()));
    let written = record.policy_document.clone().unwrap();

    let undo_rules = |document: String| {
        let arn = arn.clone();
        let get_policy = mock!(Client::get_policy).then_output(move || {
            GetPolicyOutput::builder()
                .policy(
                    Policy::builder()
                        .arn(arn.clone())
                        .default_version_id("v1")
                        .build(),
                )
                .build()
        });
        let get_version = mock!(Client::get_policy_version).then_output(move || {
            GetPolicyVersionOutput::builder()
                .policy_version(
                    PolicyVersion::builder()
                        .version_id("v1")
                        .is_default_version(true)
                        .document(document.clone())
                        .build(),
                )
                .build()
        });
        let detach = mock!(Client::detach_user_policy)
            .then_output(|| DetachUserPolicyOutput::builder().build());
        let delete =
            mock!(Client::delete_policy).then_output(|| DeletePolicyOutput::builder().build());
        (get_policy, get_version, detach, delete)
    };

    let (get_policy, get_version, detach, delete) = undo_rules(written);
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&get_policy, &get_version, &detach, &delete]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SessionRevoke.undo(&ctx, &record).await.unwrap();
    assert_eq!((detach.num_calls(), delete.num_calls()), (1, 1));
    assert_eq!(
        outcome.notes,
        vec![format!(
            "session revocation lifted on user/bob: managed policy {arn} detached and deleted"
        )]
    );

    // Someone moved the cut-off in a new default version since: left alone, not even detached.
    let (get_policy, get_version, detach, delete) =
        undo_rules(revocation_document("2031-01-01T00:00:00Z"));
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&get_policy, &get_version, &detach, &delete]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SessionRevoke.undo(&ctx, &record).await.unwrap();
    assert_eq!((detach.num_calls(), delete.num_calls()), (0, 0));
    assert!(outcome.notes[0].starts_with("conflict:"), "{outcome:?}");
}

/// A crash between CreatePolicy and AttachUserPolicy journals the intent only: the undo record derived
/// from the plan names the policy, and restore deletes it although it was never attached.
#[tokio::test]
async fn mocked_a_crash_between_create_and_attach_is_cleaned_up_from_the_plan_alone() {
    use aws_sdk_iam::operation::delete_policy::DeletePolicyOutput;
    use aws_sdk_iam::operation::detach_user_policy::DetachUserPolicyError;
    use aws_sdk_iam::operation::get_policy::GetPolicyOutput;
    use aws_sdk_iam::operation::get_policy_version::GetPolicyVersionOutput;
    use aws_sdk_iam::types::{Policy, PolicyVersion};

    let arn = revocation_arn("user/bob");
    let state = RevocationState {
        room: Some(policy_room::PolicyRoom {
            inline_characters: 2_040,
            inline_quota: 2_048,
            attached_policies: 0,
            attached_quota: 10,
        }),
        ..revocation_state("user/bob", None)
    };
    let cut = cut_of("iam_session_revoke", propose_revocation(&state));
    let record = SessionRevoke.undo_record_for(&cut).unwrap();
    assert_eq!(record.managed_policy_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(record.policy_document, None);

    let get_policy = {
        let arn = arn.clone();
        mock!(Client::get_policy).then_output(move || {
            GetPolicyOutput::builder()
                .policy(
                    Policy::builder()
                        .arn(arn.clone())
                        .default_version_id("v1")
                        .build(),
                )
                .build()
        })
    };
    let get_version = mock!(Client::get_policy_version).then_output(|| {
        GetPolicyVersionOutput::builder()
            .policy_version(
                PolicyVersion::builder()
                    .version_id("v1")
                    .document(revocation_document("2026-11-28T20:05:20Z"))
                    .build(),
            )
            .build()
    });
    // Never attached: IAM answers NoSuchEntity to the detach.
    let detach = mock!(Client::detach_user_policy)
        .then_error(|| DetachUserPolicyError::NoSuchEntityException(no_such_entity()));
    let delete = {
        let arn = arn.clone();
        mock!(Client::delete_policy)
            .match_requests(move |r| r.policy_arn() == Some(arn.as_str()))
            .then_output(|| DeletePolicyOutput::builder().build())
    };
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&get_policy, &get_version, &detach, &delete]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SessionRevoke.undo(&ctx, &record).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert!(
        outcome.notes[0].contains("detached and deleted"),
        "{outcome:?}"
    );

    // Run again once it is gone: nothing to do, no error.
    let gone = no_managed_policy();
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&gone]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let outcome = SessionRevoke.undo(&ctx, &record).await.unwrap();
    assert!(outcome.notes[0].contains("nothing to lift"), "{outcome:?}");
}

/// AWS's answer when the principal's managed-policy slots are full (AttachUserPolicy, LimitExceeded
/// "Cannot exceed quota for PoliciesPerUser: 10"): the cut fails saying so, and the policy it had just
/// created is deleted again, so nothing is left behind.
#[tokio::test]
async fn mocked_limit_exceeded_on_attach_fails_the_cut_and_deletes_the_policy_just_created() {
    use aws_sdk_iam::operation::attach_user_policy::AttachUserPolicyError;
    use aws_sdk_iam::operation::create_policy::CreatePolicyOutput;
    use aws_sdk_iam::operation::delete_policy::DeletePolicyOutput;
    use aws_sdk_iam::operation::get_user::GetUserOutput;
    use aws_sdk_iam::types::Policy;

    let arn = revocation_arn("user/bob");
    let state = RevocationState {
        room: Some(policy_room::PolicyRoom {
            inline_characters: 2_040,
            inline_quota: 2_048,
            attached_policies: 9,
            attached_quota: 10,
        }),
        ..revocation_state("user/bob", None)
    };
    let cut = cut_of("iam_session_revoke", propose_revocation(&state));
    let get_user =
        mock!(Client::get_user).then_output(|| GetUserOutput::builder().user(user("bob")).build());
    let created = {
        let arn = arn.clone();
        mock!(Client::create_policy).then_output(move || {
            CreatePolicyOutput::builder()
                .policy(Policy::builder().arn(arn.clone()).build())
                .build()
        })
    };
    let attach = mock!(Client::attach_user_policy).then_error(|| {
        AttachUserPolicyError::LimitExceededException(limit_exceeded(
            "Cannot exceed quota for PoliciesPerUser: 10",
        ))
    });
    let delete = {
        let arn = arn.clone();
        mock!(Client::delete_policy)
            .match_requests(move |r| r.policy_arn() == Some(arn.as_str()))
            .then_output(|| DeletePolicyOutput::builder().build())
    };
    let client = mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&get_user, &created, &attach, &delete]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let err = SessionRevoke.apply(&ctx, &cut).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("LimitExceeded"));
    assert_eq!(err.operation, "iam:AttachUserPolicy");
    assert!(err.message.contains("PoliciesPerUser: 10"), "{err}");
    assert!(err.message.contains("plan again"), "{err}");
    assert_eq!(delete.num_calls(), 1, "the policy just created is deleted");
}

/// A plan's states must agree on where the deny goes: a managed placement names hikkonuki's policy for
/// this very principal; old plans (no room, no placement) still pass.
#[test]
fn placement_and_room_must_agree_in_the_plan() {
    let legacy = cut_of(
        "iam_session_revoke",
        propose_revocation(&revocation_state("user/bob", None)),
    );
    assert_eq!(SessionRevoke.check_states(&legacy), Ok(()));
    let measured = RevocationState {
        room: Some(policy_room::PolicyRoom {
            inline_characters: 2_040,
            inline_quota: 2_048,
            attached_policies: 0,
            attached_quota: 10,
        }),
        ..revocation_state("user/bob", None)
    };
    let managed = cut_of("iam_session_revoke", propose_revocation(&measured));
    assert_eq!(SessionRevoke.check_states(&managed), Ok(()));

    let mut no_placement = managed.clone();
    let Revocation::Planned(after) = &mut no_placement.after else {
        panic!()
    };
    after.placement = None;
    after.managed_policy_arn = None;
    assert!(
        SessionRevoke
            .check_states(&no_placement)
            .unwrap_err()
            .contains("go together")
    );
    let mut elsewhere = managed.clone();
    let Revocation::Planned(after) = &mut elsewhere.after else {
        panic!()
    };
    after.managed_policy_arn = Some(revocation_arn("user/alice"));
    assert!(
        SessionRevoke
            .check_states(&elsewhere)
            .unwrap_err()
            .contains("for this principal")
    );
    // The new fields belong to their own state: one in the other is refused naming them.
    let mut mixed = serde_json::to_value(&managed.after).unwrap();
    mixed["room"] = serde_json::to_value(&measured.room).unwrap();
    assert!(
        serde_json::from_value::<Revocation>(mixed)
            .unwrap_err()
            .to_string()
            .contains("room")
    );
}

/// AWS's answer when the account's customer-managed policies are at their quota (CreatePolicy,
/// LimitExceeded "Cannot exceed quota for PoliciesPerAccount: 1500"): the cut fails saying so, and
/// nothing is attached.
#[tokio::test]
async fn mocked_limit_exceeded_on_create_policy_fails_the_cut_before_anything_changes() {
    use aws_sdk_iam::operation::create_policy::CreatePolicyError;
    use aws_sdk_iam::operation::get_user::GetUserOutput;

    let state = RevocationState {
        room: Some(policy_room::PolicyRoom {
            inline_characters: 2_040,
            inline_quota: 2_048,
            attached_policies: 0,
            attached_quota: 10,
        }),
        ..revocation_state("user/bob", None)
    };
    let cut = cut_of("iam_session_revoke", propose_revocation(&state));
    let get_user =
        mock!(Client::get_user).then_output(|| GetUserOutput::builder().user(user("bob")).build());
    let create = mock!(Client::create_policy).then_error(|| {
        CreatePolicyError::LimitExceededException(limit_exceeded(
            "Cannot exceed quota for PoliciesPerAccount: 1500",
        ))
    });
    // No attach rule: an attach would find no answer and fail the test.
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get_user, &create]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let err = SessionRevoke.apply(&ctx, &cut).await.unwrap_err();
    assert_eq!(
        (err.operation.as_str(), err.code.as_deref()),
        ("iam:CreatePolicy", Some("LimitExceeded"))
    );
    assert!(
        err.message.contains("PoliciesPerAccount: 1500")
            && err.message.contains("customer-managed policies"),
        "{err}"
    );
}

/// A key deleted between plan and apply: IAM answers UpdateAccessKey and UpdateSSHPublicKey with
/// `NoSuchEntity` (documented for both: <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccessKey.html>,
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateSSHPublicKey.html>). The cut fails
/// with AWS's code and words, naming the call, so the summary says which key was not deactivated.
#[tokio::test]
async fn mocked_a_key_deleted_before_its_cut_fails_it_with_iams_no_such_entity() {
    use aws_sdk_iam::operation::update_access_key::UpdateAccessKeyError;
    use aws_sdk_iam::operation::update_ssh_public_key::UpdateSSHPublicKeyError;
    use aws_sdk_iam::types::error::NoSuchEntityException;

    let gone = |what: &str| {
        NoSuchEntityException::builder()
            .message(format!("The {what} with id X cannot be found."))
            .meta(
                aws_sdk_iam::error::ErrorMetadata::builder()
                    .code("NoSuchEntity")
                    .message(format!("The {what} with id X cannot be found."))
                    .build(),
            )
            .build()
    };
    let access = mock!(Client::update_access_key)
        .then_error(move || UpdateAccessKeyError::NoSuchEntityException(gone("Access Key")));
    let ssh = mock!(Client::update_ssh_public_key)
        .then_error(move || UpdateSSHPublicKeyError::NoSuchEntityException(gone("Public Key")));
    let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&access, &ssh]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
    let typed = |kind: &str, id: &str| TypedCut {
        id: Cut::expected_id(kind, "global", id),
        region: "global".into(),
        target: id.into(),
        before: key("alice", id, "Active"),
        after: key("alice", id, "Inactive"),
    };
    let err = CutKind::apply(&KEYS, &ctx, &typed("iam_key_deactivate", "AKIAGONE"))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NoSuchEntity"));
    assert!(
        err.to_string()
            .starts_with("iam:UpdateAccessKey failed: NoSuchEntity: The Access Key"),
        "{err}"
    );
    let ssh_keys = CredentialDeactivate(CredentialType::SshPublicKey);
    let err = CutKind::apply(
        &ssh_keys,
        &ctx,
        &typed("iam_ssh_key_deactivate", "APKAGONE"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NoSuchEntity"));
    assert!(err.to_string().contains("The Public Key"), "{err}");
}
