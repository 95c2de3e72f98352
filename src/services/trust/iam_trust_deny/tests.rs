//! `iam_trust_deny` without AWS: the deny written for each way a trust policy lets outsiders in, the
//! roles kept and why, the size quota, the findings; and, with aws-smithy-mocks, AWS's documented answers
//! the emulator does not give (MalformedPolicyDocument, LimitExceeded, UnmodifiableEntity, NoSuchEntity
//! on undo) and URL-encoded documents as IAM returns them.

use aws_sdk_iam::Client;
use aws_sdk_iam::operation::get_account_summary::GetAccountSummaryOutput;
use aws_sdk_iam::operation::get_role::{GetRoleError, GetRoleOutput};
use aws_sdk_iam::operation::list_roles::ListRolesOutput;
use aws_sdk_iam::operation::update_assume_role_policy::{
    UpdateAssumeRolePolicyError, UpdateAssumeRolePolicyOutput,
};
use aws_sdk_iam::types::Role;
use aws_sdk_organizations::operation::describe_organization::DescribeOrganizationError;
use aws_sdk_organizations::types::error::AwsOrganizationsNotInUseException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::DateTime;
use serde_json::{Value, json};

use super::findings::{
    NOT_CUT, PROVIDERS, ROLES_ANYWHERE, UNCLASSIFIED, provider_findings, role_findings,
    roles_anywhere_findings,
};
use super::*;
use crate::aws::{CallerIdentity, RegionCtx};
use crate::plan::{Cut, Severity};
use crate::services::common::policy_principals::Organization;
use crate::services::identity::tests::{limit_exceeded, unmodifiable};
use crate::services::{Containment, CutKind, DiscoveryScope};

const US: &str = "123456789012";
const VENDOR: &str = "210987654321";
const GITHUB: &str = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com";

fn home() -> Home {
    Home {
        account_id: US.into(),
        organization: Organization::None,
    }
}

fn trust(statements: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn vendor_trust() -> Value {
    trust(
        json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{VENDOR}:root")},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "vendor-7"}}}]),
    )
}

fn github_trust() -> Value {
    trust(
        json!([{"Effect": "Allow", "Principal": {"Federated": GITHUB},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                      "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/app:*"}}}]),
    )
}

fn listed(name: &str, path: &str, policy: &Value) -> ListedRole {
    ListedRole {
        name: name.into(),
        path: path.into(),
        trust_policy: Some(policy.to_string()),
    }
}

/// A session of role `responder`, reached through `profile_roles` (the profile's `source_profile` chain).
fn responder_session(profile_roles: Vec<String>) -> CallerPrincipal {
    CallerPrincipal::from_identity(&CallerIdentity {
        account: US.into(),
        arn: format!("arn:aws:sts::{US}:assumed-role/responder/incident"),
        user_id: "AROA:incident".into(),
        access_key_id: None,
        source: None,
        entered_by: None,
        profile_roles,
    })
}

fn nobody() -> CallerPrincipal {
    CallerPrincipal {
        user: Some("responder".into()),
        ..CallerPrincipal::default()
    }
}

fn proposal_for(policy: &Value) -> Proposal<TrustState> {
    let reading = read_policy(policy, &home());
    propose("r", policy, &reading, &home(), DEFAULT_TRUST_POLICY_QUOTA)
}

fn typed(proposal: &Proposal<TrustState>) -> TypedCut<TrustState> {
    TypedCut {
        id: Cut::expected_id(KIND, "global", &proposal.target),
        region: "global".into(),
        target: proposal.target.clone(),
        before: proposal.before.clone(),
        after: proposal.after.clone(),
    }
}

fn plan_cut(proposal: &Proposal<TrustState>, enabled: bool) -> Cut {
    Cut {
        id: Cut::expected_id(KIND, "global", &proposal.target),
        kind: KIND.into(),
        region: "global".into(),
        target: proposal.target.clone(),
        enabled,
        reversible: true,
        reason: proposal.reason.clone(),
        before: serde_json::to_value(&proposal.before).unwrap().into(),
        after: serde_json::to_value(&proposal.after).unwrap().into(),
    }
}

fn added(proposal: &Proposal<TrustState>) -> Vec<Value> {
    let before = statements_of(&proposal.before.trust_policy).len();
    proposal.after.trust_policy["Statement"].as_array().unwrap()[before..].to_vec()
}

// ---------------------------------------------------------------------------------------------------------
// The deny
// ---------------------------------------------------------------------------------------------------------

#[test]
fn another_accounts_principal_is_denied_by_name_and_the_rest_of_the_policy_is_kept() {
    let policy = trust(json!([
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{US}:role/ops"), format!("arn:aws:iam::{VENDOR}:role/auditor"), VENDOR]}, "Action": "sts:AssumeRole"}
    ]));
    let proposal = proposal_for(&policy);
    assert_eq!(proposal.target, "role/r");
    assert_eq!(proposal.disabled_because, None);
    assert!(
        proposal.reason.contains("account 210987654321"),
        "{}",
        proposal.reason
    );
    assert_eq!(
        added(&proposal),
        vec![json!({"Sid": "HikkonukiTrustDeny", "Effect": "Deny",
            "Principal": {"AWS": [VENDOR, format!("arn:aws:iam::{VENDOR}:role/auditor")]},
            "Action": DENIED_ACTIONS})],
        "exactly the outsiders: not the service, not this account's role"
    );
    assert_eq!(
        proposal.after.trust_policy["Statement"].as_array().unwrap()[..2],
        policy["Statement"].as_array().unwrap()[..]
    );
    assert_eq!(CutKind::check_states(&TrustDeny, &typed(&proposal)), Ok(()));
}

#[test]
fn a_federated_provider_is_denied_by_name() {
    let proposal = proposal_for(&github_trust());
    assert_eq!(
        added(&proposal),
        vec![
            json!({"Sid": SID_NAMED, "Effect": "Deny", "Principal": {"Federated": [GITHUB]},
            "Action": DENIED_ACTIONS})
        ]
    );
}

/// `*` and `NotPrincipal` grants are closed for everyone outside the account: `aws:PrincipalAccount`
/// not ours (true as well when the key is missing, as for web-identity and SAML callers), unless the
/// caller is an AWS service.
#[test]
fn a_grant_to_anyone_is_denied_to_everyone_outside_the_account_but_services() {
    let expected = json!({"Sid": SID_OUTSIDE, "Effect": "Deny", "Principal": "*", "Action": DENIED_ACTIONS,
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": US},
                      "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}});
    for grant in [
        json!({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}),
        json!({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
            "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}),
        json!({"Effect": "Allow", "NotPrincipal": {"AWS": format!("arn:aws:iam::{US}:root")}, "Action": "sts:AssumeRole"}),
    ] {
        // A named other account alongside is covered by the account condition.
        let policy = trust(json!([grant.clone(),
            {"Effect": "Allow", "Principal": {"AWS": VENDOR}, "Action": "sts:AssumeRole"}]));
        assert_eq!(
            added(&proposal_for(&policy)),
            vec![expected.clone()],
            "{grant}"
        );
    }
}

#[test]
fn a_service_acting_for_another_account_is_denied_only_for_other_accounts() {
    let policy = trust(
        json!([{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": VENDOR}}}]),
    );
    assert_eq!(
        added(&proposal_for(&policy)),
        vec![
            json!({"Sid": SID_SERVICES, "Effect": "Deny", "Principal": {"Service": ["s3.amazonaws.com"]},
            "Action": DENIED_ACTIONS,
            "Condition": {"StringNotEquals": {"aws:SourceAccount": US}, "Null": {"aws:SourceAccount": "false"}}})
        ]
    );
}

#[test]
fn a_single_statement_object_becomes_a_list_with_the_deny_after_it() {
    let policy = json!({"Version": "2012-10-17", "Statement":
        {"Effect": "Allow", "Principal": {"AWS": VENDOR}, "Action": "sts:AssumeRole"}});
    let proposal = proposal_for(&policy);
    let statements = proposal.after.trust_policy["Statement"].as_array().unwrap();
    assert_eq!(statements[0], policy["Statement"]);
    assert_eq!(statements.len(), 2);
    assert_eq!(CutKind::check_states(&TrustDeny, &typed(&proposal)), Ok(()));
}

/// IAM counts a trust policy against `AssumeRolePolicySizeQuota` (2,048 characters by default, whitespace
/// not counted): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html.
#[test]
fn a_role_without_room_for_the_deny_is_proposed_disabled_with_the_sizes() {
    let policy = vendor_trust();
    let reading = read_policy(&policy, &home());
    let fits = propose("r", &policy, &reading, &home(), 2_048);
    let size = policy_size(&serde_json::to_string(&fits.after.trust_policy).unwrap());
    assert_eq!(fits.disabled_because, None);
    assert_eq!(
        propose("r", &policy, &reading, &home(), size).disabled_because,
        None
    );
    let tight = propose("r", &policy, &reading, &home(), size - 1);
    let because = tight.disabled_because.unwrap();
    assert!(
        because.contains(&format!("would be {size} characters")),
        "{because}"
    );
    assert!(
        because.contains(&format!("quota of {}", size - 1)),
        "{because}"
    );
    assert!(because.contains("reference_iam-quotas.html"), "{because}");
    // Whitespace in the role's own document does not count.
    let spaced: Value =
        serde_json::from_str(&serde_json::to_string_pretty(&policy).unwrap()).unwrap();
    assert_eq!(
        propose("r", &spaced, &reading, &home(), size).disabled_because,
        None
    );
}

#[test]
fn the_quota_is_the_accounts_assume_role_policy_size_max_else_the_default() {
    use std::collections::HashMap;
    assert_eq!(trust_quota_from_summary(None), 2_048);
    let raised = HashMap::from([(SummaryKeyType::AssumeRolePolicySizeQuota, 4_096)]);
    assert_eq!(trust_quota_from_summary(Some(&raised)), 4_096);
    let odd = HashMap::from([(SummaryKeyType::AssumeRolePolicySizeQuota, 0)]);
    assert_eq!(trust_quota_from_summary(Some(&odd)), 2_048);
}

#[test]
fn a_policy_already_holding_the_deny_is_proposed_disabled() {
    let cut_before = proposal_for(&vendor_trust()).after.trust_policy;
    let again = proposal_for(&cut_before);
    let because = again.disabled_because.unwrap();
    assert!(
        because.contains(SID_NAMED) && because.contains("restore"),
        "{because}"
    );
}

#[test]
fn check_states_refuses_an_after_that_removes_or_grants_anything() {
    let proposal = proposal_for(&vendor_trust());
    let mut dropped = typed(&proposal);
    dropped.after.trust_policy["Statement"]
        .as_array_mut()
        .unwrap()
        .remove(0);
    assert!(CutKind::check_states(&TrustDeny, &dropped).is_err());
    let mut granted = typed(&proposal);
    granted.after.trust_policy["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": SID_NAMED, "Effect": "Allow", "Principal": "*", "Action": DENIED_ACTIONS}));
    assert!(CutKind::check_states(&TrustDeny, &granted).is_err());
    let mut versioned = typed(&proposal);
    versioned.after.trust_policy["Version"] = json!("2008-10-17");
    assert!(CutKind::check_states(&TrustDeny, &versioned).is_err());
    let mut other = typed(&proposal);
    other.after.role = "someone-else".into();
    assert!(CutKind::check_states(&TrustDeny, &other).is_err());
    let mut nothing_added = typed(&proposal);
    nothing_added.after = nothing_added.before.clone();
    assert!(CutKind::check_states(&TrustDeny, &nothing_added).is_err());
}

// ---------------------------------------------------------------------------------------------------------
// Who is kept, and the decisions
// ---------------------------------------------------------------------------------------------------------

#[test]
fn the_callers_role_and_the_roles_its_session_came_through_are_kept_transitively() {
    let roles = vec![
        // The responder came from the security account into `entry`, then into `hop`, then `responder`.
        listed(
            "entry",
            "/",
            &trust(
                json!([{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]),
            ),
        ),
        listed(
            "hop",
            "/",
            &trust(
                json!([{"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:sts::{US}:assumed-role/entry/s")}, "Action": "sts:AssumeRole"}]),
            ),
        ),
        listed(
            "responder",
            "/",
            &trust(
                json!([{"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{US}:role/team/hop"), format!("arn:aws:iam::{VENDOR}:root")]}, "Action": "sts:AssumeRole"}]),
            ),
        ),
        listed("vendor", "/", &vendor_trust()),
    ];
    let caller = responder_session(Vec::new());
    let kept = kept_roles(&caller, &roles, US);
    let names: Vec<&str> = kept.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["responder", "hop", "entry"]);
    assert!(
        kept[2].1.contains("role hop's trust policy names it"),
        "{}",
        kept[2].1
    );

    let survey = decide(&roles, &home(), DEFAULT_TRUST_POLICY_QUOTA, &caller);
    let decisions: Vec<(&str, bool)> = survey
        .roles
        .iter()
        .map(|r| (r.role.as_str(), matches!(r.decision, Decision::Kept(_))))
        .collect();
    // `hop` trusts only inside the account: nothing to decide about it.
    assert_eq!(
        decisions,
        [("entry", true), ("responder", true), ("vendor", false)]
    );
    assert!(kept_roles(&nobody(), &roles, US).is_empty());

    // The responder's profile reaches `responder` through `vendor` (a `source_profile` chain whose
    // keys are the vendor account's): `vendor` trusts an outsider, and is named in no kept role's
    // trust policy, yet denying its trust would lock the responder out when the session is renewed.
    let chained = responder_session(vec![
        format!("arn:aws:iam::{US}:role/responder"),
        format!("arn:aws:iam::{US}:role/vendor"),
    ]);
    let kept = kept_roles(&chained, &roles, US);
    let vendor = kept
        .iter()
        .find(|(name, _)| name == "vendor")
        .expect("the chain's role is kept");
    // The caller's own role: kept, and its finding says an outsider it trusts also passes a quarantine
    // that exempts it by name (the member role hikkonuki enters accounts through).
    let own = kept
        .iter()
        .find(|(name, _)| name == "responder")
        .expect("the caller's role is kept");
    assert!(own.1.contains("lets it through by name"), "{}", own.1);
    assert!(vendor.1.contains("source_profile chain"), "{}", vendor.1);
    let survey = decide(&roles, &home(), DEFAULT_TRUST_POLICY_QUOTA, &chained);
    assert!(
        survey
            .roles
            .iter()
            .any(|r| r.role == "vendor" && matches!(r.decision, Decision::Kept(_))),
        "no cut of the chain's role is proposed"
    );
}

#[test]
fn protected_unreadable_and_inside_only_roles_are_not_cut() {
    let sso_trust = trust(json!([{"Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{US}:saml-provider/AWSSSO_0123_DO_NOT_DELETE")},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"]}]));
    let roles = vec![
        listed(
            "AWSReservedSSO_Admin_0123",
            "/aws-reserved/sso.amazonaws.com/",
            &sso_trust,
        ),
        listed(
            "app",
            "/",
            &trust(
                json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
            ),
        ),
        ListedRole {
            name: "broken".into(),
            path: "/".into(),
            trust_policy: Some("{not json".into()),
        },
        listed(
            "odd",
            "/",
            &trust(
                json!([{"Effect": "Allow", "Principal": {"CanonicalUser": "abc"}, "Action": "sts:AssumeRole"}]),
            ),
        ),
        listed("vendor", "/", &vendor_trust()),
    ];
    let survey = decide(&roles, &home(), DEFAULT_TRUST_POLICY_QUOTA, &nobody());
    let names: Vec<&str> = survey.roles.iter().map(|r| r.role.as_str()).collect();
    assert_eq!(
        names,
        ["AWSReservedSSO_Admin_0123", "broken", "odd", "vendor"]
    );
    assert_eq!(
        survey.roles[0].decision,
        Decision::Protected(ProtectedRole::IdentityCenter)
    );
    assert_eq!(survey.roles[1].decision, Decision::Unreadable);
    assert_eq!(survey.roles[2].decision, Decision::Unreadable);
    assert!(matches!(survey.roles[3].decision, Decision::Cut(_)));

    // The findings: the protected and unclassified roles are High; the cut role is not reported.
    let vendor_cut = match &survey.roles[3].decision {
        Decision::Cut(proposal) => plan_cut(proposal, true),
        _ => unreachable!(),
    };
    let findings = role_findings(&survey, std::slice::from_ref(&vendor_cut));
    let seen: Vec<(&str, &str, Severity)> = findings
        .iter()
        .map(|f| (f.check.as_str(), f.resource.as_str(), f.severity))
        .collect();
    assert_eq!(
        seen,
        [
            (NOT_CUT, "role/AWSReservedSSO_Admin_0123", Severity::High),
            (UNCLASSIFIED, "role/broken", Severity::High),
            (UNCLASSIFIED, "role/odd", Severity::High),
        ]
    );
    assert!(
        findings[0]
            .message
            .contains("identity_center_session_revoke"),
        "{}",
        findings[0].message
    );
    assert!(
        findings[2].message.contains("canonical user"),
        "{}",
        findings[2].message
    );

    // Switched off (or disabled for lack of room), the vendor role is a High finding too.
    let off = role_findings(
        &survey,
        &[Cut {
            enabled: false,
            ..vendor_cut
        }],
    );
    assert!(off.iter().any(|f| f.check == NOT_CUT
        && f.resource == "role/vendor"
        && f.message.contains("account 210987654321")));
}

#[test]
fn identity_providers_weigh_by_whether_a_role_trusting_them_stays_open() {
    let roles = vec![
        listed("ci", "/", &github_trust()),
        listed(
            "kept",
            "/",
            &trust(
                json!([{"Effect": "Allow", "Principal": {"Federated": format!("arn:aws:iam::{US}:saml-provider/Okta")}, "Action": "sts:AssumeRoleWithSAML"}]),
            ),
        ),
    ];
    let caller = CallerPrincipal {
        role: Some("kept".into()),
        ..CallerPrincipal::default()
    };
    let survey = decide(&roles, &home(), DEFAULT_TRUST_POLICY_QUOTA, &caller);
    let ci_cut = match &survey.roles[0].decision {
        Decision::Cut(proposal) => plan_cut(proposal, true),
        other => panic!("{other:?}"),
    };
    let providers = [
        ("OIDC", GITHUB.to_string()),
        ("SAML", format!("arn:aws:iam::{US}:saml-provider/Okta")),
        (
            "OIDC",
            format!("arn:aws:iam::{US}:oidc-provider/unused.example.com"),
        ),
    ];
    let findings = provider_findings(&providers, &survey, &[ci_cut]);
    let severities: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
    assert_eq!(
        severities,
        [Severity::Medium, Severity::High, Severity::Info]
    );
    assert!(findings.iter().all(|f| f.check == PROVIDERS));
    assert!(
        findings[1].message.contains("kept"),
        "{}",
        findings[1].message
    );
    assert!(
        findings[0].message.contains("ci"),
        "{}",
        findings[0].message
    );
}

#[test]
fn the_caller_role_is_never_cut_at_apply() {
    let proposal = proposal_for(&vendor_trust());
    let as_role = |arn: &str| CallerIdentity {
        account: US.into(),
        arn: arn.into(),
        user_id: "AROA".into(),
        access_key_id: None,
        source: None,
        entered_by: None,
        profile_roles: Vec::new(),
    };
    assert!(CutKind::cuts_off(
        &TrustDeny,
        &typed(&proposal),
        &as_role(&format!("arn:aws:sts::{US}:assumed-role/r/s"))
    ));
    assert!(!CutKind::cuts_off(
        &TrustDeny,
        &typed(&proposal),
        &as_role(&format!("arn:aws:iam::{US}:user/r"))
    ));
}

// ---------------------------------------------------------------------------------------------------------
// AWS's answers, mocked
// ---------------------------------------------------------------------------------------------------------

fn role_with(name: &str, path: &str, encoded_trust: &str) -> Role {
    Role::builder()
        .path(path)
        .role_name(name)
        .role_id(format!("AROA{name}"))
        .arn(format!("arn:aws:iam::{US}:role{path}{name}"))
        .create_date(DateTime::from_secs(0))
        .assume_role_policy_document(encoded_trust)
        .build()
        .unwrap()
}

/// RFC 3986 percent-encoding, as IAM returns policy documents.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn get_role_rule(name: &'static str, policy: Value) -> aws_smithy_mocks::Rule {
    let encoded = url_encoded(&policy.to_string());
    mock!(Client::get_role)
        .match_requests(move |r| r.role_name() == Some(name))
        .then_output(move || {
            GetRoleOutput::builder()
                .role(role_with(name, "/", &encoded))
                .build()
        })
}

fn error_meta(code: &str, message: &str) -> aws_sdk_iam::error::ErrorMetadata {
    aws_sdk_iam::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}

async fn apply_failing_with(
    error: impl Fn() -> UpdateAssumeRolePolicyError + Send + Sync + 'static,
) -> ServiceError {
    let rule = mock!(Client::update_assume_role_policy).then_error(error);
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(aws_sdk_iam, &[&rule]));
    let err = CutKind::apply(&TrustDeny, &ctx, &typed(&proposal_for(&vendor_trust())))
        .await
        .unwrap_err();
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(err.operation, "iam:UpdateAssumeRolePolicy");
    err
}

/// https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html (Errors): the
/// policy is refused as malformed (AWS checks that named principals exist).
#[tokio::test]
async fn mocked_malformed_policy_document_fails_the_cut_saying_nothing_changed() {
    let message = "Invalid principal in policy: \"AWS\":\"arn:aws:iam::210987654321:role/gone\"";
    let err = apply_failing_with(move || {
        UpdateAssumeRolePolicyError::MalformedPolicyDocumentException(
            aws_sdk_iam::types::error::MalformedPolicyDocumentException::builder()
                .message(message)
                .meta(error_meta("MalformedPolicyDocument", message))
                .build(),
        )
    })
    .await;
    assert_eq!(err.code.as_deref(), Some("MalformedPolicyDocument"));
    assert!(
        err.message.contains("Invalid principal") && err.message.contains("nothing was changed"),
        "{err}"
    );
}

/// The trust policy over `AssumeRolePolicySizeQuota`: IAM answers LimitExceeded with the quota's name
/// (ACLSizePerRole) and the size.
#[tokio::test]
async fn mocked_limit_exceeded_fails_the_cut_pointing_at_the_quota() {
    let err = apply_failing_with(|| {
        UpdateAssumeRolePolicyError::LimitExceededException(limit_exceeded(
            "Cannot exceed quota for ACLSizePerRole: 2048",
        ))
    })
    .await;
    assert_eq!(err.code.as_deref(), Some("LimitExceeded"));
    assert!(
        err.message.contains("ACLSizePerRole") && err.message.contains("reference_iam-quotas.html"),
        "{err}"
    );
}

#[tokio::test]
async fn mocked_unmodifiable_entity_fails_the_cut_saying_where_to_act() {
    let err = apply_failing_with(|| {
        UpdateAssumeRolePolicyError::UnmodifiableEntityException(unmodifiable("r"))
    })
    .await;
    assert_eq!(err.code.as_deref(), Some("UnmodifiableEntity"));
    assert!(
        err.message.contains("only modifiable by AWS") && err.message.contains("Identity Center"),
        "{err}"
    );
}

#[tokio::test]
async fn mocked_apply_sends_the_after_document_and_undo_writes_back_the_before_one() {
    let proposal = proposal_for(&vendor_trust());
    let after_text = serde_json::to_string(&proposal.after.trust_policy).unwrap();
    let before_text = serde_json::to_string(&proposal.before.trust_policy).unwrap();
    let cut = plan_cut(&proposal, true);

    let sent = after_text.clone();
    let update = mock!(Client::update_assume_role_policy)
        .match_requests(move |r| {
            r.role_name() == Some("r") && r.policy_document() == Some(sent.as_str())
        })
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(aws_sdk_iam, &[&update]));
    let undo = Containment::apply(&TrustDeny, &ctx, &cut).await.unwrap();
    assert_eq!(
        undo,
        Containment::undo_record_for(&TrustDeny, &cut).unwrap(),
        "the record is known from the plan"
    );
    assert_eq!(Containment::check_undo(&TrustDeny, &cut, &undo), Ok(()));

    // Live is what apply wrote (URL-encoded by IAM): undo writes back the exact prior document.
    let live = get_role_rule("r", proposal.after.trust_policy.clone());
    let back = before_text.clone();
    let restore = mock!(Client::update_assume_role_policy)
        .match_requests(move |r| r.policy_document() == Some(back.as_str()))
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&live, &restore]
    ));
    let outcome = Containment::undo(&TrustDeny, &ctx, &undo).await.unwrap();
    assert_eq!(restore.num_calls(), 1);
    assert_eq!(
        outcome.notes,
        ["trust policy of role r given back as it was before the cut"]
    );

    // Never cut (a crash before the call): nothing to write.
    let live = get_role_rule("r", proposal.before.trust_policy.clone());
    let untouched = mock!(Client::update_assume_role_policy)
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&live, &untouched]
    ));
    let outcome = Containment::undo(&TrustDeny, &ctx, &undo).await.unwrap();
    assert_eq!(untouched.num_calls(), 0);
    assert!(
        outcome.notes[0].contains("already as it was"),
        "{:?}",
        outcome.notes
    );
}

#[tokio::test]
async fn mocked_undo_leaves_a_trust_policy_changed_after_the_cut_alone() {
    let proposal = proposal_for(&vendor_trust());
    let undo = CutKind::undo_record_for(&TrustDeny, &typed(&proposal)).unwrap();
    // Someone added a statement after the cut (popping ours would give back `before`, which is not a
    // change but a restore done by hand).
    let mut changed = proposal.after.trust_policy.clone();
    changed["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole"
        }));
    let live = get_role_rule("r", changed);
    let update = mock!(Client::update_assume_role_policy)
        .then_output(|| UpdateAssumeRolePolicyOutput::builder().build());
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(
        aws_sdk_iam,
        RuleMode::MatchAny,
        &[&live, &update]
    ));
    let outcome = CutKind::undo(&TrustDeny, &ctx, &undo).await.unwrap();
    assert_eq!(update.num_calls(), 0, "never overwritten");
    assert!(
        outcome.notes[0]
            .starts_with("conflict: trust policy of role r was changed after apply; left alone"),
        "{:?}",
        outcome.notes
    );
}

/// The role deleted after the cut: GetRole answers NoSuchEntity; restore fails that cut, giving the
/// document to re-create it with.
#[tokio::test]
async fn mocked_no_such_entity_on_undo_fails_the_undo_with_the_prior_document() {
    let proposal = proposal_for(&vendor_trust());
    let undo = CutKind::undo_record_for(&TrustDeny, &typed(&proposal)).unwrap();
    let message = "The role with name r cannot be found.";
    let gone = mock!(Client::get_role).then_error(move || {
        GetRoleError::NoSuchEntityException(
            aws_sdk_iam::types::error::NoSuchEntityException::builder()
                .message(message)
                .meta(error_meta("NoSuchEntity", message))
                .build(),
        )
    });
    let ctx = RegionCtx::for_tests("us-east-1").mock_iam(mock_client!(aws_sdk_iam, &[&gone]));
    let err = CutKind::undo(&TrustDeny, &ctx, &undo).await.unwrap_err();
    assert!(
        err.message
            .contains("no longer exists (deleted after the cut)"),
        "{err}"
    );
    assert!(
        err.message.contains("sts:ExternalId"),
        "the prior document is given: {err}"
    );
}

/// Discovery end to end over mocked IAM: ListRoles' URL-encoded documents, the account's quota, and an
/// account in no organization.
#[tokio::test]
async fn mocked_discovery_reads_url_encoded_trust_policies_and_proposes_one_cut_per_outside_role() {
    let vendor = url_encoded(&vendor_trust().to_string());
    let github = url_encoded(&github_trust().to_string());
    let inside = url_encoded(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
    );
    let list = mock!(Client::list_roles).then_output(move || {
        ListRolesOutput::builder()
            .roles(role_with("vendor-audit", "/", &vendor))
            .roles(role_with("ci-deploy", "/ci/", &github))
            .roles(role_with("app", "/", &inside))
            .build()
            .unwrap()
    });
    let summary = mock!(Client::get_account_summary).then_output(|| {
        GetAccountSummaryOutput::builder()
            .summary_map(SummaryKeyType::AssumeRolePolicySizeQuota, 2_048)
            .build()
    });
    let org = mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
        DescribeOrganizationError::AwsOrganizationsNotInUseException(
            AwsOrganizationsNotInUseException::builder()
                .message("Your account is not a member of an organization.")
                .build(),
        )
    });
    let ctx = RegionCtx::for_tests("us-east-1")
        .mock_iam(mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            &[&list, &summary]
        ))
        .mock_organizations(mock_client!(aws_sdk_organizations, &[&org]));
    let scope = DiscoveryScope::for_tests();
    let proposals = CutKind::discover(&TrustDeny, &ctx, &scope).await.unwrap();
    let targets: Vec<&str> = proposals.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(targets, ["role/ci-deploy", "role/vendor-audit"]);
    assert_eq!(
        proposals[1].before.trust_policy,
        vendor_trust(),
        "decoded, exactly"
    );
    // The findings reuse the same reading: ListRoles was walked once.
    let survey_again = survey(&ctx, &scope).await.unwrap();
    assert_eq!(survey_again.roles.len(), 2);
    assert_eq!(list.num_calls(), 1);
}

/// A role IAM Roles Anywhere may assume (the documented trust: the service principal with
/// AssumeRole, TagSession and SetSourceIdentity) is a way in from outside AWS that no cut here closes:
/// a High finding, whether or not the role also trusts outsiders. A service principal of another
/// service, or a Deny naming Roles Anywhere, is none.
#[test]
fn a_role_roles_anywhere_may_assume_is_a_high_finding() {
    let anywhere = trust(json!([{"Effect": "Allow",
        "Principal": {"Service": "rolesanywhere.amazonaws.com"},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": {"ArnEquals": {"aws:SourceArn": format!("arn:aws:rolesanywhere:us-east-1:{US}:trust-anchor/ta-1")}}}]));
    let both = trust(json!([
        {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "rolesanywhere.amazonaws.com"]}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{VENDOR}:root")}, "Action": "sts:AssumeRole"}
    ]));
    let ec2 = trust(
        json!([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
    );
    let denied = trust(
        json!([{"Effect": "Deny", "Principal": {"Service": "rolesanywhere.amazonaws.com"}, "Action": "sts:AssumeRole"}]),
    );
    let roles = vec![
        listed("workload", "/", &anywhere),
        listed("mixed", "/", &both),
        listed("instance", "/", &ec2),
        listed("refuses", "/", &denied),
    ];
    let survey = decide(&roles, &home(), DEFAULT_TRUST_POLICY_QUOTA, &nobody());
    assert_eq!(survey.roles_anywhere, ["workload", "mixed"]);
    let findings = roles_anywhere_findings(&survey);
    assert_eq!(findings.len(), 2);
    assert!(
        findings
            .iter()
            .all(|f| f.check == ROLES_ANYWHERE && f.severity == Severity::High)
    );
    assert!(
        findings[0]
            .message
            .contains("Role workload trusts IAM Roles Anywhere"),
        "{}",
        findings[0].message
    );
    assert!(findings[0].message.contains("disable-trust-anchor"));
    assert!(
        survey
            .roles
            .iter()
            .any(|r| r.role == "mixed" && matches!(r.decision, Decision::Cut(_))),
        "the vendor's trust is still cut"
    );
}
