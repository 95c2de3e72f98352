//! `identity_center_session_revoke` on data and on mocked SSO Admin answers, each built from the API
//! reference: ProvisionPermissionSet answering IN_PROGRESS then DescribePermissionSetProvisioningStatus
//! SUCCEEDED, FAILED with a FailureReason, ConflictException while another provisioning runs, and
//! ThrottlingException (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ProvisionPermissionSet.html,
//! https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_DescribePermissionSetProvisioningStatus.html),
//! and ListAccountsForProvisionedPermissionSet answering, with `ProvisioningStatus:
//! LATEST_PERMISSION_SET_NOT_PROVISIONED`, the accounts out of date
//! (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListAccountsForProvisionedPermissionSet.html).

use aws_sdk_ssoadmin::config::retry::RetryConfig;
use aws_sdk_ssoadmin::error::ErrorMetadata;
use aws_sdk_ssoadmin::operation::delete_inline_policy_from_permission_set::DeleteInlinePolicyFromPermissionSetOutput;
use aws_sdk_ssoadmin::operation::describe_permission_set::DescribePermissionSetOutput;
use aws_sdk_ssoadmin::operation::describe_permission_set_provisioning_status::{
    DescribePermissionSetProvisioningStatusError, DescribePermissionSetProvisioningStatusOutput,
};
use aws_sdk_ssoadmin::operation::get_inline_policy_for_permission_set::GetInlinePolicyForPermissionSetOutput;
use aws_sdk_ssoadmin::operation::get_permissions_boundary_for_permission_set::{
    GetPermissionsBoundaryForPermissionSetError, GetPermissionsBoundaryForPermissionSetOutput,
};
use aws_sdk_ssoadmin::operation::list_accounts_for_provisioned_permission_set::ListAccountsForProvisionedPermissionSetOutput;
use aws_sdk_ssoadmin::operation::list_customer_managed_policy_references_in_permission_set::ListCustomerManagedPolicyReferencesInPermissionSetOutput;
use aws_sdk_ssoadmin::operation::list_instances::ListInstancesOutput;
use aws_sdk_ssoadmin::operation::list_managed_policies_in_permission_set::ListManagedPoliciesInPermissionSetOutput;
use aws_sdk_ssoadmin::operation::list_permission_sets_provisioned_to_account::ListPermissionSetsProvisionedToAccountOutput;
use aws_sdk_ssoadmin::operation::provision_permission_set::{
    ProvisionPermissionSetError, ProvisionPermissionSetOutput,
};
use aws_sdk_ssoadmin::operation::put_inline_policy_to_permission_set::{
    PutInlinePolicyToPermissionSetError, PutInlinePolicyToPermissionSetOutput,
};
use aws_sdk_ssoadmin::types::error::{
    ConflictException, ResourceNotFoundException, ThrottlingException,
};
use aws_sdk_ssoadmin::types::{
    AttachedManagedPolicy, CustomerManagedPolicyReference, InstanceMetadata, PermissionSet,
    PermissionsBoundary,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

use super::*;

const INSTANCE: &str = "arn:aws:sso:::instance/ssoins-7223a9b5a1f8a3f0";
const SET: &str = "arn:aws:sso:::permissionSet/ssoins-7223a9b5a1f8a3f0/ps-b1b2c3d4e5f6a7b8";
const REQUEST: &str = "e15466df-b7a2-4481-96ac-f9fef4df5d57";
const PRIOR: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn state(inline_policy: Option<&str>) -> PermissionSetState {
    PermissionSetState {
        region: "us-east-1".into(),
        instance_arn: INSTANCE.into(),
        permission_set_arn: SET.into(),
        name: "AdminAccess".into(),
        inline_policy: inline_policy.map(str::to_string),
        definition: Definition::default(),
        provisioned_to: vec!["123456789012".into(), "210987654321".into()],
        out_of_date_in: Vec::new(),
    }
}

/// ListAccountsForProvisionedPermissionSet without a ProvisioningStatus: every account the permission set
/// is provisioned to.
fn provisioned(accounts: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ssoadmin::Client::list_accounts_for_provisioned_permission_set)
        .match_requests(|r| r.provisioning_status().is_none())
        .then_output(move || {
            ListAccountsForProvisionedPermissionSetOutput::builder()
                .set_account_ids(Some(accounts.iter().map(|a| a.to_string()).collect()))
                .build()
        })
}

/// The same with `ProvisioningStatus: LATEST_PERMISSION_SET_NOT_PROVISIONED`: the accounts that do not
/// carry the permission set's latest version.
fn out_of_date(accounts: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ssoadmin::Client::list_accounts_for_provisioned_permission_set)
        .match_requests(|r| {
            r.provisioning_status() == Some(&ProvisioningStatus::LatestPermissionSetNotProvisioned)
        })
        .then_output(move || {
            ListAccountsForProvisionedPermissionSetOutput::builder()
                .set_account_ids(Some(accounts.iter().map(|a| a.to_string()).collect()))
                .build()
        })
}

/// A state out of date in `accounts`.
fn out_of_date_state(inline_policy: Option<&str>, accounts: &[&str]) -> PermissionSetState {
    PermissionSetState {
        out_of_date_in: accounts.iter().map(|a| a.to_string()).collect(),
        ..state(inline_policy)
    }
}

fn cut_of(proposal: &Proposal<PermissionSetState>) -> TypedCut<PermissionSetState> {
    TypedCut {
        id: format!("identity_center_session_revoke/global/{SET}"),
        region: "global".into(),
        target: proposal.target.clone(),
        before: proposal.before.clone(),
        after: proposal.after.clone(),
    }
}

/// The permission set's definition reads answering as for [`state`]: named AdminAccess, and nothing
/// else set (no permissions boundary answers ResourceNotFoundException). A test's own rules for these
/// calls come first, so they answer instead.
fn plain_definition() -> [Rule; 4] {
    [
        mock!(aws_sdk_ssoadmin::Client::describe_permission_set).then_output(|| {
            DescribePermissionSetOutput::builder()
                .permission_set(
                    PermissionSet::builder()
                        .name("AdminAccess")
                        .permission_set_arn(SET)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ssoadmin::Client::get_permissions_boundary_for_permission_set).then_error(
            || {
                GetPermissionsBoundaryForPermissionSetError::ResourceNotFoundException(
                    ResourceNotFoundException::builder()
                        .message("Could not find PermissionsBoundary")
                        .meta(error_meta(
                            "ResourceNotFoundException",
                            "Could not find PermissionsBoundary",
                        ))
                        .build(),
                )
            },
        ),
        mock!(aws_sdk_ssoadmin::Client::list_managed_policies_in_permission_set)
            .then_output(|| ListManagedPoliciesInPermissionSetOutput::builder().build()),
        mock!(aws_sdk_ssoadmin::Client::list_customer_managed_policy_references_in_permission_set)
            .then_output(|| {
                ListCustomerManagedPolicyReferencesInPermissionSetOutput::builder().build()
            }),
    ]
}

fn ctx_with(rules: &[&Rule]) -> RegionCtx {
    let plain = plain_definition();
    let rules: Vec<&Rule> = rules.iter().copied().chain(plain.iter()).collect();
    // No SDK retries: the kind's own retries are what these tests look at.
    let client = mock_client!(aws_sdk_ssoadmin, RuleMode::MatchAny, &rules, |config| {
        config.retry_config(RetryConfig::disabled())
    });
    RegionCtx::for_tests("us-east-1").mock_ssoadmin(client)
}

fn error_meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

fn live_policy(policy: Option<&'static str>) -> Rule {
    mock!(aws_sdk_ssoadmin::Client::get_inline_policy_for_permission_set).then_output(move || {
        // The API reference: a permission set without one may answer an empty inline policy.
        GetInlinePolicyForPermissionSetOutput::builder()
            .inline_policy(policy.unwrap_or(""))
            .build()
    })
}

fn status(value: StatusValues, reason: Option<&str>) -> PermissionSetProvisioningStatus {
    let builder = PermissionSetProvisioningStatus::builder()
        .status(value)
        .request_id(REQUEST)
        .permission_set_arn(SET);
    match reason {
        Some(reason) => builder.failure_reason(reason).build(),
        None => builder.build(),
    }
}

fn provision_in_progress() -> Rule {
    mock!(aws_sdk_ssoadmin::Client::provision_permission_set)
        .match_requests(|r| {
            r.target_type() == Some(&ProvisionTargetType::AllProvisionedAccounts)
                && r.target_id().is_none()
        })
        .then_output(|| {
            ProvisionPermissionSetOutput::builder()
                .permission_set_provisioning_status(status(StatusValues::InProgress, None))
                .build()
        })
}

fn described(
    value: StatusValues,
    reason: Option<&'static str>,
) -> impl Fn() -> DescribePermissionSetProvisioningStatusOutput + Send + Sync + 'static {
    move || {
        DescribePermissionSetProvisioningStatusOutput::builder()
            .permission_set_provisioning_status(status(value.clone(), reason))
            .build()
    }
}

fn put_accepted() -> Rule {
    mock!(aws_sdk_ssoadmin::Client::put_inline_policy_to_permission_set)
        .then_output(|| PutInlinePolicyToPermissionSetOutput::builder().build())
}

// ---------------------------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------------------------

#[test]
fn the_statement_goes_last_and_the_prior_statements_keep_their_order() {
    let document: Value =
        serde_json::from_str(&with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap())
            .unwrap();
    assert_eq!(
        document,
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                {
                    "Sid": SID,
                    "Effect": "Deny",
                    "Action": "*",
                    "Resource": "*",
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-11-30T03:00:01Z"}},
                },
            ]
        })
    );
    let alone: Value =
        serde_json::from_str(&with_revocation(None, "2026-11-30T03:00:01Z").unwrap()).unwrap();
    assert_eq!(alone["Statement"].as_array().unwrap().len(), 1);
    let single = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}}"#;
    let listed: Value =
        serde_json::from_str(&with_revocation(Some(single), "2026-11-30T03:00:01Z").unwrap())
            .unwrap();
    assert_eq!(listed["Statement"][0]["Action"], "ec2:Describe*");
    assert_eq!(listed["Statement"][1]["Sid"], SID);
}

#[test]
fn a_policy_that_already_revokes_or_is_not_an_object_takes_no_second_statement() {
    let revoked = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let why = with_revocation(Some(&revoked), "2026-11-30T04:00:00Z").unwrap_err();
    assert!(
        why.contains("already holds an earlier session revocation")
            && why.contains("revokes only the sessions issued before 2026-11-30T03:00:01Z"),
        "{why}"
    );
    // A statement under our Sid that is no revocation (an Allow placed to pass for one) says so.
    let decoy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{SID}","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#
    );
    let why = with_revocation(Some(&decoy), "2026-11-30T04:00:00Z").unwrap_err();
    assert!(
        why.contains("that is not a revocation hikkonuki writes"),
        "{why}"
    );
    assert!(with_revocation(Some("not json"), "t").is_err());
    assert!(with_revocation(Some("[1]"), "t").is_err());
}

#[test]
fn only_the_prior_policy_plus_our_statement_counts_as_ours() {
    let written = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let live: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(
        revocation_cutoff_in(Some(PRIOR), &live).as_deref(),
        Some("2026-11-30T03:00:01Z")
    );
    // Another statement added after the cut: no longer ours.
    let mut edited = live.clone();
    edited["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}));
    assert_eq!(revocation_cutoff_in(Some(PRIOR), &edited), None);
    // Our statement on a policy other than the prior one: not ours either.
    assert_eq!(revocation_cutoff_in(None, &live), None);
}

// ---------------------------------------------------------------------------------------------------------
// Proposals
// ---------------------------------------------------------------------------------------------------------

#[test]
fn a_permission_set_is_proposed_with_the_statement_and_the_plan_checks_it() {
    let proposal = propose(&state(Some(PRIOR)), "arn:aws:iam::123456789012:user/r");
    assert_eq!(proposal.disabled_because, None);
    assert_eq!(proposal.target, SET);
    assert!(proposal.reason.contains("123456789012, 210987654321"));
    let cut = cut_of(&proposal);
    assert_eq!(IdentityCenterSessionRevoke.check_states(&cut), Ok(()));
    let after: Value = serde_json::from_str(cut.after.inline_policy.as_deref().unwrap()).unwrap();
    assert_eq!(
        after["Statement"][1]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        AT_APPLY
    );

    // A plan edited to write something else, or to reach fewer accounts, is refused.
    let mut widened = cut.clone();
    widened.after.inline_policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
    assert!(IdentityCenterSessionRevoke.check_states(&widened).is_err());
    let mut narrowed = cut.clone();
    narrowed.after.provisioned_to.pop();
    assert!(IdentityCenterSessionRevoke.check_states(&narrowed).is_err());
}

#[test]
fn a_permission_set_without_room_for_the_statement_is_proposed_disabled_saying_why() {
    // 10,240 non-whitespace characters is the documented limit; this policy leaves less than the
    // statement needs.
    let filler = "x".repeat(10_100);
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{filler}","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#
    );
    let proposal = propose(&state(Some(&big)), "arn:aws:iam::123456789012:user/r");
    let why = proposal.disabled_because.clone().expect("no room");
    assert!(why.contains("10240 non-whitespace characters"), "{why}");
    assert_eq!(
        IdentityCenterSessionRevoke.check_states(&cut_of(&proposal)),
        Ok(())
    );
}

#[test]
fn an_earlier_revocation_still_in_place_is_proposed_disabled_and_unchanged() {
    let revoked = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let proposal = propose(&state(Some(&revoked)), "arn:aws:iam::123456789012:user/r");
    assert!(
        proposal
            .disabled_because
            .as_deref()
            .unwrap()
            .contains("--lift-session-revocation")
    );
    assert_eq!(proposal.after, proposal.before);
    assert_eq!(
        IdentityCenterSessionRevoke.check_states(&cut_of(&proposal)),
        Ok(())
    );
}

#[test]
fn a_caller_signed_in_through_the_permission_set_is_never_cut_off() {
    let caller =
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdminAccess_0123456789abcdef/alice";
    let proposal = propose(&state(None), caller);
    assert!(
        proposal
            .disabled_because
            .as_deref()
            .unwrap()
            .contains("this run's own session")
    );
    let identity = |arn: &str| CallerIdentity {
        account: "123456789012".into(),
        arn: arn.into(),
        user_id: "AROA:alice".into(),
        access_key_id: None,
        source: None,
        entered_by: None,
        profile_roles: Vec::new(),
    };
    let cut = cut_of(&proposal);
    assert!(IdentityCenterSessionRevoke.cuts_off(&cut, &identity(caller)));
    assert!(!IdentityCenterSessionRevoke.cuts_off(
        &cut,
        &identity(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ReadOnly_0123456789abcdef/bob"
        )
    ));
    assert!(!IdentityCenterSessionRevoke.cuts_off(
        &cut,
        &identity("arn:aws:iam::123456789012:user/AdminAccess")
    ));
    // An account entered through a role by an operator signed in through the permission set elsewhere:
    // the revocation is provisioned to every account the set is assigned in, the operator's too.
    let entered = CallerIdentity {
        entered_by: Some(
            "arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_AdminAccess_fedcba9876543210/alice"
                .into(),
        ),
        ..identity("arn:aws:sts::123456789012:assumed-role/OrganizationAccountAccessRole/hikkonuki")
    };
    assert!(IdentityCenterSessionRevoke.cuts_off(&cut, &entered));
    assert_eq!(
        callers_session_through(&entered, "AdminAccess"),
        entered.entered_by.as_deref()
    );
    assert_eq!(callers_session_through(&entered, "ReadOnly"), None);
}

// ---------------------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------------------

/// Discovery over one instance in us-east-1 holding SET, provisioned to this account and 210987654321,
/// out of date in `stale`.
async fn discovered(stale: &'static [&'static str]) -> Vec<Proposal<PermissionSetState>> {
    let regions = mock!(aws_sdk_ec2::Client::describe_regions).then_output(|| {
        aws_sdk_ec2::operation::describe_regions::DescribeRegionsOutput::builder()
            .regions(
                aws_sdk_ec2::types::Region::builder()
                    .region_name("us-east-1")
                    .opt_in_status("opt-in-not-required")
                    .build(),
            )
            .build()
    });
    let instances = mock!(aws_sdk_ssoadmin::Client::list_instances).then_output(|| {
        ListInstancesOutput::builder()
            .instances(InstanceMetadata::builder().instance_arn(INSTANCE).build())
            .build()
    });
    let sets = mock!(aws_sdk_ssoadmin::Client::list_permission_sets_provisioned_to_account)
        .match_requests(|r| r.account_id() == Some("123456789012"))
        .then_output(|| {
            ListPermissionSetsProvisionedToAccountOutput::builder()
                .permission_sets(SET)
                .build()
        });
    let described = mock!(aws_sdk_ssoadmin::Client::describe_permission_set).then_output(|| {
        DescribePermissionSetOutput::builder()
            .permission_set(
                PermissionSet::builder()
                    .name("AdminAccess")
                    .permission_set_arn(SET)
                    .build(),
            )
            .build()
    });
    let accounts = provisioned(&["210987654321", "123456789012"]);
    let stale = out_of_date(stale);
    let policy = live_policy(None);
    let ctx = ctx_with(&[&instances, &sets, &described, &accounts, &stale, &policy])
        .mock_ec2(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&regions]));
    IdentityCenterSessionRevoke
        .discover(&ctx, &DiscoveryScope::for_tests())
        .await
        .unwrap()
}

#[tokio::test]
async fn mocked_discovery_proposes_each_permission_set_provisioned_to_this_account() {
    let proposals = discovered(&[]).await;
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].before, state(None));
    assert!(
        !proposals[0].reason.contains("never provisioned before"),
        "{}",
        proposals[0].reason
    );
}

/// The defect this guards against: the plan recorded only the inline policy and the accounts, so edits
/// to the permission set never provisioned (a managed policy attached, a session duration changed) went
/// live at apply in the accounts that were out of date, and stayed after restore, without a word.
#[tokio::test]
async fn mocked_discovery_names_the_accounts_out_of_date_that_apply_provisions_for_good() {
    let proposals = discovered(&["210987654321"]).await;
    let proposal = &proposals[0];
    assert_eq!(
        proposal.before,
        out_of_date_state(None, &["210987654321"]),
        "before records them"
    );
    assert!(
        proposal.after.out_of_date_in.is_empty(),
        "after: up to date"
    );
    assert_eq!(proposal.disabled_because, None, "the cut stays enabled");
    let reason = &proposal.reason;
    for said in [
        "Applying also provisions edits never provisioned before",
        "in 1 of those accounts (210987654321;",
        "restore cannot un-provision it",
        "The cut stays enabled because a stolen Identity Center session is the door it closes",
    ] {
        assert!(reason.contains(said), "{said:?} in {reason}");
    }
    assert_eq!(
        IdentityCenterSessionRevoke.check_states(&cut_of(proposal)),
        Ok(())
    );
}

// ---------------------------------------------------------------------------------------------------------
// Apply
// ---------------------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn mocked_apply_writes_the_statement_then_waits_from_in_progress_to_succeeded() {
    let policy = live_policy(Some(PRIOR));
    let put = mock!(aws_sdk_ssoadmin::Client::put_inline_policy_to_permission_set)
        .match_requests(|r| {
            r.inline_policy().is_some_and(|text| {
                serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|live| revocation_cutoff_in(Some(PRIOR), &live))
                    .is_some()
            })
        })
        .then_output(|| PutInlinePolicyToPermissionSetOutput::builder().build());
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .match_requests(|r| r.provision_permission_set_request_id() == Some(REQUEST))
        .sequence()
        .output(described(StatusValues::InProgress, None))
        .output(described(StatusValues::Succeeded, None))
        .build();
    let current = out_of_date(&[]);
    let ctx = ctx_with(&[&current, &policy, &put, &provision, &follow]);
    let cut = cut_of(&propose(
        &state(Some(PRIOR)),
        "arn:aws:iam::123456789012:user/r",
    ));
    let record = IdentityCenterSessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!((put.num_calls(), provision.num_calls()), (1, 1));
    assert_eq!(follow.num_calls(), 2, "IN_PROGRESS, then SUCCEEDED");
    assert_eq!(record.prior_inline_policy.as_deref(), Some(PRIOR));
    assert_eq!(
        IdentityCenterSessionRevoke.check_undo(&cut, &record),
        Ok(())
    );
}

#[tokio::test(start_paused = true)]
async fn mocked_provisioning_that_fails_fails_the_cut_with_aws_reason() {
    let policy = live_policy(None);
    let put = put_accepted();
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(
            StatusValues::Failed,
            Some("Received a 404 status error: Not supported policy arn:aws:iam::aws:policy/Missing."),
        ));
    let current = out_of_date(&[]);
    let ctx = ctx_with(&[&current, &policy, &put, &provision, &follow]);
    let cut = cut_of(&propose(&state(None), "arn:aws:iam::123456789012:user/r"));
    let err = IdentityCenterSessionRevoke
        .apply(&ctx, &cut)
        .await
        .unwrap_err();
    assert!(err.message.contains("FAILED"), "{err}");
    assert!(err.message.contains("Not supported policy"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn mocked_conflict_while_another_provisioning_runs_is_retried_with_backoff() {
    let policy = live_policy(None);
    let put = put_accepted();
    let provision = mock!(aws_sdk_ssoadmin::Client::provision_permission_set)
        .sequence()
        .error(|| {
            ProvisionPermissionSetError::ConflictException(
                ConflictException::builder()
                    .message(
                        "Another provisioning operation is in progress for this permission set",
                    )
                    .meta(error_meta(
                        "ConflictException",
                        "Another provisioning operation is in progress for this permission set",
                    ))
                    .build(),
            )
        })
        .times(2)
        .output(|| {
            ProvisionPermissionSetOutput::builder()
                .permission_set_provisioning_status(status(StatusValues::Succeeded, None))
                .build()
        })
        .build();
    let current = out_of_date(&[]);
    let ctx = ctx_with(&[&current, &policy, &put, &provision]);
    let cut = cut_of(&propose(&state(None), "arn:aws:iam::123456789012:user/r"));
    IdentityCenterSessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!(provision.num_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn mocked_throttling_is_retried_and_a_throttle_that_lasts_fails_the_cut() {
    let throttled = || {
        PutInlinePolicyToPermissionSetError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .meta(error_meta("ThrottlingException", "Rate exceeded"))
                .build(),
        )
    };
    let policy = live_policy(None);
    let put = mock!(aws_sdk_ssoadmin::Client::put_inline_policy_to_permission_set)
        .sequence()
        .error(throttled)
        .output(|| PutInlinePolicyToPermissionSetOutput::builder().build())
        .build();
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .sequence()
        .error(|| {
            DescribePermissionSetProvisioningStatusError::ThrottlingException(
                ThrottlingException::builder()
                    .message("Rate exceeded")
                    .meta(error_meta("ThrottlingException", "Rate exceeded"))
                    .build(),
            )
        })
        .output(described(StatusValues::Succeeded, None))
        .build();
    let current = out_of_date(&[]);
    let ctx = ctx_with(&[&current, &policy, &put, &provision, &follow]);
    let cut = cut_of(&propose(&state(None), "arn:aws:iam::123456789012:user/r"));
    IdentityCenterSessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!((put.num_calls(), follow.num_calls()), (2, 2));

    let policy = live_policy(None);
    let always =
        mock!(aws_sdk_ssoadmin::Client::put_inline_policy_to_permission_set).then_error(throttled);
    let current = out_of_date(&[]);
    let ctx = ctx_with(&[&current, &policy, &always]);
    let err = IdentityCenterSessionRevoke
        .apply(&ctx, &cut)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ThrottlingException"));
    assert_eq!(always.num_calls(), WRITE_ATTEMPTS as usize);
}

#[tokio::test]
async fn mocked_apply_refuses_a_policy_changed_since_the_plan_without_writing() {
    let policy = live_policy(Some(r#"{"Version":"2012-10-17","Statement":[]}"#));
    let put = put_accepted();
    let current = out_of_date(&[]);
    let ctx = ctx_with(&[&current, &policy, &put]);
    let cut = cut_of(&propose(
        &state(Some(PRIOR)),
        "arn:aws:iam::123456789012:user/r",
    ));
    let err = IdentityCenterSessionRevoke
        .apply(&ctx, &cut)
        .await
        .unwrap_err();
    assert!(err.message.contains("changed since the plan"), "{err}");
    assert_eq!(put.num_calls(), 0);
}

/// The permission set edited after the plan (apply's drift check passed, then someone changed it while
/// the operator confirmed): AWS now reports an account out of date that the plan did not name, whose
/// edits the provisioning would put in force unannounced. Nothing is written. An account the plan named
/// and that is up to date since (someone provisioned it) is no surprise: the cut goes ahead.
#[tokio::test(start_paused = true)]
async fn mocked_apply_refuses_an_account_out_of_date_that_the_plan_does_not_name() {
    let cut = cut_of(&propose(
        &out_of_date_state(Some(PRIOR), &["210987654321"]),
        "arn:aws:iam::123456789012:user/r",
    ));
    let policy = live_policy(Some(PRIOR));
    let put = put_accepted();
    let stale = out_of_date(&["123456789012", "210987654321"]);
    let ctx = ctx_with(&[&stale, &policy, &put]);
    let err = IdentityCenterSessionRevoke
        .apply(&ctx, &cut)
        .await
        .unwrap_err();
    assert!(
        err.message.contains(
            "now has edits never provisioned to 123456789012, which the plan does not name"
        ),
        "{err}"
    );
    assert!(err.message.contains("nothing written: plan again"), "{err}");
    assert_eq!(put.num_calls(), 0);

    let current = out_of_date(&[]);
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(StatusValues::Succeeded, None));
    let ctx = ctx_with(&[&current, &policy, &put, &provision, &follow]);
    let record = IdentityCenterSessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!((put.num_calls(), provision.num_calls()), (1, 1));
    assert_eq!(record.out_of_date_in, ["210987654321"]);
    assert_eq!(
        IdentityCenterSessionRevoke.check_undo(&cut, &record),
        Ok(())
    );
}

/// Apply's drift check compares the plan's `before` with what `observe` reads: a permission set out of
/// date in another account than the plan recorded (edited since) is drift, as is one out of date where
/// a plan made before this was recorded says nothing (it never told the responder).
#[tokio::test]
async fn mocked_drift_when_the_accounts_out_of_date_changed_since_the_plan() {
    let observed = |stale: &'static [&'static str]| async move {
        let described =
            mock!(aws_sdk_ssoadmin::Client::describe_permission_set).then_output(|| {
                DescribePermissionSetOutput::builder()
                    .permission_set(
                        PermissionSet::builder()
                            .name("AdminAccess")
                            .permission_set_arn(SET)
                            .build(),
                    )
                    .build()
            });
        let policy = live_policy(Some(PRIOR));
        let accounts = provisioned(&["123456789012", "210987654321"]);
        let stale = out_of_date(stale);
        let ctx = ctx_with(&[&described, &policy, &accounts, &stale]);
        let cut = cut_of(&propose(
            &out_of_date_state(Some(PRIOR), &["210987654321"]),
            "arn:aws:iam::123456789012:user/r",
        ));
        let live = IdentityCenterSessionRevoke
            .observe(&ctx, &cut)
            .await
            .unwrap()
            .unwrap();
        serde_json::to_value(live).unwrap()
    };
    let planned = serde_json::to_value(out_of_date_state(Some(PRIOR), &["210987654321"])).unwrap();
    let same = |live: &Value| crate::plan::compare::same_state(&planned, live);
    assert!(same(&observed(&["210987654321"]).await), "unchanged");
    assert!(
        !same(&observed(&["123456789012", "210987654321"]).await),
        "edited since"
    );
    assert!(!same(&observed(&[]).await), "provisioned since");

    // A plan made before the field existed reads, and holds no account out of date.
    let mut old = serde_json::to_value(state(Some(PRIOR))).unwrap();
    assert!(old.get("out_of_date_in").is_none(), "none is not written");
    old.as_object_mut().unwrap().remove("out_of_date_in");
    let read: PermissionSetState = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(read, state(Some(PRIOR)));
    assert!(!crate::plan::compare::same_state(
        &old,
        &observed(&["210987654321"]).await
    ));
    let old_record = json!({
        "region": "us-east-1",
        "instance_arn": INSTANCE,
        "permission_set_arn": SET,
        "prior_inline_policy": PRIOR,
    });
    let read: UndoRecord = serde_json::from_value(old_record).unwrap();
    assert_eq!(
        read,
        UndoRecord {
            definition: None,
            ..record(Some(PRIOR), None)
        }
    );
}

#[test]
fn a_plan_whose_after_leaves_accounts_out_of_date_or_names_others_is_refused() {
    let cut = cut_of(&propose(
        &out_of_date_state(Some(PRIOR), &["210987654321"]),
        "arn:aws:iam::123456789012:user/r",
    ));
    assert_eq!(IdentityCenterSessionRevoke.check_states(&cut), Ok(()));
    let mut still_out_of_date = cut.clone();
    still_out_of_date.after.out_of_date_in = vec!["210987654321".into()];
    assert!(
        IdentityCenterSessionRevoke
            .check_states(&still_out_of_date)
            .is_err()
    );
    // A permission set that cannot take the statement is proposed unchanged, out of date as it is.
    let revoked = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let disabled = cut_of(&propose(
        &out_of_date_state(Some(&revoked), &["210987654321"]),
        "arn:aws:iam::123456789012:user/r",
    ));
    assert_eq!(disabled.after, disabled.before);
    assert_eq!(IdentityCenterSessionRevoke.check_states(&disabled), Ok(()));
    let mut up_to_date = disabled.clone();
    up_to_date.after.out_of_date_in.clear();
    assert!(
        IdentityCenterSessionRevoke
            .check_states(&up_to_date)
            .is_err()
    );
}

#[test]
fn a_reason_names_at_most_ten_accounts_escaped() {
    let accounts: Vec<String> = (0..12).map(|n| format!("1000000000{n:02}")).collect();
    let named = named_accounts(&accounts, "out_of_date_in");
    assert!(
        named.ends_with("100000000009 and 2 more, all listed in `before.out_of_date_in`"),
        "{named}"
    );
    assert!(!named.contains("100000000010"), "{named}");
    // A list from a plan file reaches a person: a control sequence in it is shown, not obeyed.
    let named = named_accounts(&["123\u{1b}[2K"], "out_of_date_in");
    assert_eq!(named, "123\\u{1b}[2K");
}

// ---------------------------------------------------------------------------------------------------------
// Restore
// ---------------------------------------------------------------------------------------------------------

fn record(prior: Option<&str>, written: Option<String>) -> UndoRecord {
    UndoRecord {
        region: "us-east-1".into(),
        instance_arn: INSTANCE.into(),
        permission_set_arn: SET.into(),
        prior_inline_policy: prior.map(str::to_string),
        written_policy: written,
        out_of_date_in: Vec::new(),
        definition: Some(Definition::default()),
    }
}

#[tokio::test(start_paused = true)]
async fn mocked_restore_puts_the_prior_policy_back_exactly_and_provisions() {
    let written = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let live: &'static str = Box::leak(written.clone().into_boxed_str());
    let policy = live_policy(Some(live));
    let put = mock!(aws_sdk_ssoadmin::Client::put_inline_policy_to_permission_set)
        .match_requests(|r| r.inline_policy() == Some(PRIOR))
        .then_output(|| PutInlinePolicyToPermissionSetOutput::builder().build());
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(StatusValues::Succeeded, None));
    let ctx = ctx_with(&[&policy, &put, &provision, &follow]);
    let outcome = IdentityCenterSessionRevoke
        .undo(&ctx, &record(Some(PRIOR), Some(written)))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), provision.num_calls()), (1, 1));
    assert!(outcome.notes[0].contains("put back exactly"), "{outcome:?}");
    assert_eq!(outcome.notes.len(), 1, "no account was out of date");
}

/// Restore gives the inline policy back, not the older version the accounts out of date carried before
/// the cut: it says so, naming them, rather than call the permission set put back.
#[tokio::test(start_paused = true)]
async fn mocked_restore_says_the_edits_provisioned_to_accounts_out_of_date_stay() {
    let written = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let live: &'static str = Box::leak(written.clone().into_boxed_str());
    let policy = live_policy(Some(live));
    let put = put_accepted();
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(StatusValues::Succeeded, None));
    let ctx = ctx_with(&[&policy, &put, &provision, &follow]);
    let undo = UndoRecord {
        out_of_date_in: vec!["210987654321".into()],
        ..record(Some(PRIOR), Some(written))
    };
    let outcome = IdentityCenterSessionRevoke.undo(&ctx, &undo).await.unwrap();
    assert_eq!(outcome.notes.len(), 2, "{outcome:?}");
    assert!(
        outcome.notes[1].contains("210987654321 did not carry its latest version before the cut")
            && outcome.notes[1].contains("they stay"),
        "{outcome:?}"
    );
    assert!(
        !outcome.notes[1].starts_with(UndoOutcome::CONFLICT),
        "nothing was left alone"
    );
}

#[tokio::test(start_paused = true)]
async fn mocked_restore_after_a_crash_recognises_the_statement_by_its_shape_and_deletes_a_policy_that_was_not_there()
 {
    // Apply was killed after PutInlinePolicyToPermissionSet: the undo record comes from the plan alone.
    let live: &'static str = Box::leak(
        with_revocation(None, "2026-11-30T03:00:01Z")
            .unwrap()
            .into_boxed_str(),
    );
    let policy = live_policy(Some(live));
    let delete = mock!(aws_sdk_ssoadmin::Client::delete_inline_policy_from_permission_set)
        .then_output(|| DeleteInlinePolicyFromPermissionSetOutput::builder().build());
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(StatusValues::Succeeded, None));
    let ctx = ctx_with(&[&policy, &delete, &provision, &follow]);
    let cut = cut_of(&propose(&state(None), "arn:aws:iam::123456789012:user/r"));
    let undo = IdentityCenterSessionRevoke.undo_record_for(&cut).unwrap();
    assert_eq!(undo.written_policy, None);
    let outcome = IdentityCenterSessionRevoke.undo(&ctx, &undo).await.unwrap();
    assert_eq!((delete.num_calls(), provision.num_calls()), (1, 1));
    assert!(outcome.notes[0].contains("deleted"), "{outcome:?}");
}

#[tokio::test]
async fn mocked_restore_leaves_a_policy_changed_after_the_cut_alone_and_reports_it() {
    let written = with_revocation(Some(PRIOR), "2026-11-30T03:00:01Z").unwrap();
    let mut changed: Value = serde_json::from_str(&written).unwrap();
    changed["Statement"][0]["Action"] = json!("s3:*");
    let changed: &'static str = Box::leak(changed.to_string().into_boxed_str());
    let policy = live_policy(Some(changed));
    let put = put_accepted();
    let provision = provision_in_progress();
    let ctx = ctx_with(&[&policy, &put, &provision]);
    let outcome = IdentityCenterSessionRevoke
        .undo(&ctx, &record(Some(PRIOR), Some(written)))
        .await
        .unwrap();
    assert!(outcome.notes[0].starts_with("conflict:"), "{outcome:?}");
    assert_eq!((put.num_calls(), provision.num_calls()), (0, 0));
}

#[test]
fn an_undo_record_whose_written_policy_is_not_the_revocation_is_refused() {
    let cut = cut_of(&propose(
        &state(Some(PRIOR)),
        "arn:aws:iam::123456789012:user/r",
    ));
    let forged = record(
        Some(PRIOR),
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into()),
    );
    assert!(
        IdentityCenterSessionRevoke
            .check_undo(&cut, &forged)
            .is_err()
    );
    let other_prior = record(None, None);
    assert!(
        IdentityCenterSessionRevoke
            .check_undo(&cut, &other_prior)
            .is_err()
    );
}

/// A resumed apply rewinds a cut interrupted while provisioning: the prior policy put back and
/// provisioned, which brings the accounts the plan named out of date up to date, as the cut would. That
/// is back as planned, and the cut is made again; anything else changed, or an account out of date that
/// the plan did not name, is not.
#[test]
fn a_rewind_that_brought_the_named_accounts_up_to_date_is_back_as_planned() {
    let cut = cut_of(&propose(
        &out_of_date_state(Some(PRIOR), &["210987654321"]),
        "arn:aws:iam::123456789012:user/r",
    ));
    let back = |live: &PermissionSetState| {
        CutKind::back_as_planned(&IdentityCenterSessionRevoke, &cut, live)
    };
    assert!(back(&state(Some(PRIOR))), "up to date");
    assert!(back(&cut.before), "still out of date");
    assert!(
        !back(&out_of_date_state(Some(PRIOR), &["123456789012"])),
        "another account"
    );
    assert!(!back(&state(None)), "another inline policy");

    // `watch`: the statement taken out and provisioned is the cut reopened, and a re-cut from there
    // passes the plan's checks; with an account out of date the plan did not name, it is a change.
    let reopened = CutKind::reopened(&IdentityCenterSessionRevoke, &cut, &state(Some(PRIOR)))
        .expect("reopened");
    let recut = TypedCut {
        before: reopened,
        ..cut.clone()
    };
    assert_eq!(IdentityCenterSessionRevoke.check_states(&recut), Ok(()));
    assert_eq!(
        CutKind::reopened(
            &IdentityCenterSessionRevoke,
            &cut,
            &out_of_date_state(Some(PRIOR), &["123456789012"])
        ),
        None
    );
}

/// `watch`: the cut-off is written at apply (`after` says "the moment of apply"), so the permission set
/// with the revocation at any time holds the cut; the policy as before, or with the revocation and
/// another statement added, does not.
#[test]
fn the_revocation_at_the_time_apply_wrote_holds_the_cut_and_an_edited_policy_does_not() {
    let prior = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadTheLake","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let state = |policy: Option<String>| PermissionSetState {
        region: "us-east-1".into(),
        instance_arn: "arn:aws:sso:::instance/ssoins-1".into(),
        permission_set_arn: "arn:aws:sso:::instance/ssoins-1/ps-1".into(),
        name: "DataEngineers".into(),
        inline_policy: policy,
        definition: Definition::default(),
        provisioned_to: vec!["123456789012".into()],
        out_of_date_in: Vec::new(),
    };
    let cut = TypedCut {
        id: "identity_center_session_revoke/global/arn:aws:sso:::instance/ssoins-1/ps-1".into(),
        region: "global".into(),
        target: "arn:aws:sso:::instance/ssoins-1/ps-1".into(),
        before: state(Some(prior.into())),
        after: state(Some(with_revocation(Some(prior), AT_APPLY).unwrap())),
    };
    let applied = with_revocation(Some(prior), "2026-11-30T13:13:21Z").unwrap();
    assert!(CutKind::holds(
        &IdentityCenterSessionRevoke,
        &cut,
        &state(Some(applied.clone()))
    ));
    assert!(!CutKind::holds(
        &IdentityCenterSessionRevoke,
        &cut,
        &state(Some(prior.into()))
    ));
    // The permission set edited since apply and not provisioned: the roles still carry the deny.
    assert!(CutKind::holds(
        &IdentityCenterSessionRevoke,
        &cut,
        &PermissionSetState {
            out_of_date_in: vec!["123456789012".into()],
            ..state(Some(applied.clone()))
        }
    ));
    let mut edited: Value = serde_json::from_str(&applied).unwrap();
    edited["Statement"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"Effect": "Allow", "Action": "*", "Resource": "*"}));
    assert!(!CutKind::holds(
        &IdentityCenterSessionRevoke,
        &cut,
        &state(Some(edited.to_string()))
    ));

    // Knowing what apply wrote, a cut-off moved back to before it revokes no session issued since, and
    // does not hold; a later one (a re-cut) does.
    let undo = UndoRecord {
        region: "us-east-1".into(),
        instance_arn: "arn:aws:sso:::instance/ssoins-1".into(),
        permission_set_arn: "arn:aws:sso:::instance/ssoins-1/ps-1".into(),
        prior_inline_policy: Some(prior.into()),
        written_policy: Some(applied.clone()),
        out_of_date_in: Vec::new(),
        definition: None,
    };
    for (cutoff, holds) in [
        ("2026-11-30T13:13:21Z", true),
        ("2026-12-01T00:00:00Z", true),
        ("2000-01-01T00:00:00Z", false),
    ] {
        let live = state(Some(with_revocation(Some(prior), cutoff).unwrap()));
        assert!(CutKind::holds(&IdentityCenterSessionRevoke, &cut, &live));
        assert_eq!(
            CutKind::holds_as_written(&IdentityCenterSessionRevoke, &cut, &live, &undo),
            holds,
            "{cutoff}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// The permission set's definition
// ---------------------------------------------------------------------------------------------------------

/// DescribePermissionSet with a description, session duration and relay state; two AWS managed policies
/// listed out of order; a customer managed policy reference with no path (IAM's default `/`) and one with
/// a path; a customer managed permissions boundary. Answers as the API reference shapes them
/// (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListManagedPoliciesInPermissionSet.html,
/// https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListCustomerManagedPolicyReferencesInPermissionSet.html,
/// https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_GetPermissionsBoundaryForPermissionSet.html).
fn edited_definition_rules() -> [Rule; 4] {
    [
        mock!(aws_sdk_ssoadmin::Client::describe_permission_set).then_output(|| {
            DescribePermissionSetOutput::builder()
                .permission_set(
                    PermissionSet::builder()
                        .name("AdminAccess")
                        .permission_set_arn(SET)
                        .description("Full access for the platform team")
                        .session_duration("PT8H")
                        .relay_state("https://console.aws.amazon.com/s3")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ssoadmin::Client::get_permissions_boundary_for_permission_set).then_output(
            || {
                GetPermissionsBoundaryForPermissionSetOutput::builder()
                    .permissions_boundary(
                        PermissionsBoundary::builder()
                            .customer_managed_policy_reference(
                                CustomerManagedPolicyReference::builder()
                                    .name("Boundary")
                                    .path("/limits/")
                                    .build()
                                    .unwrap(),
                            )
                            .build(),
                    )
                    .build()
            },
        ),
        mock!(aws_sdk_ssoadmin::Client::list_managed_policies_in_permission_set).then_output(
            || {
                ListManagedPoliciesInPermissionSetOutput::builder()
                    .attached_managed_policies(
                        AttachedManagedPolicy::builder()
                            .arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
                            .name("ReadOnlyAccess")
                            .build(),
                    )
                    .attached_managed_policies(
                        AttachedManagedPolicy::builder()
                            .arn("arn:aws:iam::aws:policy/AdministratorAccess")
                            .name("AdministratorAccess")
                            .build(),
                    )
                    .build()
            },
        ),
        mock!(aws_sdk_ssoadmin::Client::list_customer_managed_policy_references_in_permission_set)
            .then_output(|| {
                ListCustomerManagedPolicyReferencesInPermissionSetOutput::builder()
                    .customer_managed_policy_references(
                        CustomerManagedPolicyReference::builder()
                            .name("ReadLogs")
                            .path("/team/")
                            .build()
                            .unwrap(),
                    )
                    .customer_managed_policy_references(
                        CustomerManagedPolicyReference::builder()
                            .name("WriteTickets")
                            .build()
                            .unwrap(),
                    )
                    .build()
            }),
    ]
}

fn edited_definition() -> Definition {
    Definition {
        description: Some("Full access for the platform team".into()),
        session_duration: Some("PT8H".into()),
        relay_state: Some("https://console.aws.amazon.com/s3".into()),
        managed_policies: vec![
            "arn:aws:iam::aws:policy/AdministratorAccess".into(),
            "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        ],
        customer_managed_policies: vec!["/WriteTickets".into(), "/team/ReadLogs".into()],
        permissions_boundary: Some("/limits/Boundary".into()),
    }
}

/// Everything provisioning carries besides the inline policy is read into the state, lists sorted.
#[tokio::test]
async fn mocked_observe_records_the_definition_provisioning_carries() {
    let edited = edited_definition_rules();
    let policy = live_policy(Some(PRIOR));
    let accounts = provisioned(&["123456789012", "210987654321"]);
    let stale = out_of_date(&[]);
    let mut rules: Vec<&Rule> = edited.iter().collect();
    rules.extend([&policy, &accounts, &stale]);
    let ctx = ctx_with(&rules);
    let cut = cut_of(&propose(
        &state(Some(PRIOR)),
        "arn:aws:iam::123456789012:user/r",
    ));
    let live = IdentityCenterSessionRevoke
        .observe(&ctx, &cut)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.definition, edited_definition());
    assert_eq!(
        PermissionSetState {
            definition: Definition::default(),
            ..live
        },
        state(Some(PRIOR)),
        "the rest as before"
    );
}

/// The reference does not say how a permission set without a permissions boundary answers: an empty
/// answer is none, as ResourceNotFoundException is (the plain rules); another error fails the read.
#[tokio::test]
async fn mocked_a_permissions_boundary_answered_empty_is_none_and_a_denied_read_fails() {
    let read = |rule: Rule| async move {
        let ctx = ctx_with(&[&rule]);
        definition_of(ctx.ssoadmin(), INSTANCE, SET).await
    };
    let empty = mock!(aws_sdk_ssoadmin::Client::get_permissions_boundary_for_permission_set)
        .then_output(|| GetPermissionsBoundaryForPermissionSetOutput::builder().build());
    assert_eq!(
        read(empty).await.unwrap(),
        ("AdminAccess".to_string(), Definition::default())
    );
    let denied = mock!(aws_sdk_ssoadmin::Client::get_permissions_boundary_for_permission_set)
        .then_error(|| {
            GetPermissionsBoundaryForPermissionSetError::generic(error_meta(
                "AccessDeniedException",
                "User is not authorized to perform: sso:GetPermissionsBoundaryForPermissionSet",
            ))
        });
    let err = read(denied).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
}

/// The defect this guards against: a permission set out of date in every account it is provisioned to
/// at plan time, edited again after the plan (here: AdministratorAccess attached, the session lengthened),
/// leaves the list of accounts out of date as it was, so neither the drift check nor apply's re-read saw
/// it, and the cut's provisioning put the unreviewed edit in force. Now the live check finds drift, and
/// apply, reading the definition again right before writing, refuses and writes nothing.
#[tokio::test]
async fn mocked_a_permission_set_edited_since_the_plan_is_drift_and_apply_writes_nothing() {
    let everywhere = ["123456789012", "210987654321"];
    let planned = out_of_date_state(Some(PRIOR), &everywhere);
    let cut = cut_of(&propose(&planned, "arn:aws:iam::123456789012:user/r"));
    assert_eq!(IdentityCenterSessionRevoke.check_states(&cut), Ok(()));
    let edited = edited_definition_rules();
    let policy = live_policy(Some(PRIOR));
    let accounts = provisioned(&["123456789012", "210987654321"]);
    let stale = out_of_date(&["123456789012", "210987654321"]);
    let put = put_accepted();
    let mut rules: Vec<&Rule> = edited.iter().collect();
    rules.extend([&policy, &accounts, &stale, &put]);
    let ctx = ctx_with(&rules);

    let live = IdentityCenterSessionRevoke
        .observe(&ctx, &cut)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        live.out_of_date_in, planned.out_of_date_in,
        "the list alone"
    );
    assert!(!crate::plan::compare::same_state(
        &serde_json::to_value(&planned).unwrap(),
        &serde_json::to_value(&live).unwrap()
    ));

    let err = IdentityCenterSessionRevoke
        .apply(&ctx, &cut)
        .await
        .unwrap_err();
    assert!(
        err.message.contains(
            "was edited since the plan was made (description, session duration, relay state, managed policies, customer managed policy references, permissions boundary)"
        ),
        "{err}"
    );
    assert!(err.message.contains("nothing written: plan again"), "{err}");
    assert_eq!(put.num_calls(), 0);

    // Unchanged since the plan, the definition it records lets the cut go ahead.
    let unchanged = cut_of(&propose(
        &PermissionSetState {
            definition: edited_definition(),
            ..planned.clone()
        },
        "arn:aws:iam::123456789012:user/r",
    ));
    assert_eq!(IdentityCenterSessionRevoke.check_states(&unchanged), Ok(()));
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(StatusValues::Succeeded, None));
    rules.extend([&provision, &follow]);
    let ctx = ctx_with(&rules);
    IdentityCenterSessionRevoke
        .apply(&ctx, &unchanged)
        .await
        .unwrap();
    assert_eq!((put.num_calls(), provision.num_calls()), (1, 1));
}

/// The plan says only the inline policy changes: an `after` with another definition is refused. After
/// the cut, an edit to the definition leaves the statement in place, so the cut still holds (`watch`);
/// but a rewind that finds the permission set edited is not back as planned: making the cut again would
/// provision that edit.
#[test]
fn the_definition_is_the_plans_to_keep_and_an_edit_after_the_cut_leaves_it_holding() {
    let cut = cut_of(&propose(
        &state(Some(PRIOR)),
        "arn:aws:iam::123456789012:user/r",
    ));
    let mut edited_after = cut.clone();
    edited_after.after.definition = edited_definition();
    assert!(
        IdentityCenterSessionRevoke
            .check_states(&edited_after)
            .is_err()
    );

    let applied = with_revocation(Some(PRIOR), "2026-11-30T13:13:21Z").unwrap();
    let live = PermissionSetState {
        inline_policy: Some(applied),
        definition: edited_definition(),
        ..state(None)
    };
    assert!(CutKind::holds(&IdentityCenterSessionRevoke, &cut, &live));
    assert!(!CutKind::back_as_planned(
        &IdentityCenterSessionRevoke,
        &cut,
        &PermissionSetState {
            definition: edited_definition(),
            ..state(Some(PRIOR))
        }
    ));
    assert!(CutKind::back_as_planned(
        &IdentityCenterSessionRevoke,
        &cut,
        &state(Some(PRIOR))
    ));

    // Written only when there is one: a plan of a permission set with nothing else set reads as before.
    let written = serde_json::to_value(state(None)).unwrap();
    assert!(written.get("definition").is_none());
}

/// The defect this guards against: apply killed after writing the statement and before provisioning,
/// the permission set edited meanwhile (AdministratorAccess attached, the session lengthened), then apply
/// run again. Its rewind (the undo) put the prior policy back and provisioned the permission set as it
/// then stood to every account: the unreviewed edit went live, and only then was the cut found not back
/// as planned. Now the undo reads the definition first and, edited since the plan, writes nothing and
/// provisions nothing, saying why; restore the same. A record from before the definition was recorded
/// is undone as before.
#[tokio::test(start_paused = true)]
async fn mocked_an_undo_finding_the_permission_set_edited_since_the_plan_provisions_nothing() {
    let written = with_revocation(Some(PRIOR), "2026-11-30T13:13:21Z").unwrap();
    let policy = mock!(aws_sdk_ssoadmin::Client::get_inline_policy_for_permission_set).then_output(
        move || {
            GetInlinePolicyForPermissionSetOutput::builder()
                .inline_policy(with_revocation(Some(PRIOR), "2026-11-30T13:13:21Z").unwrap())
                .build()
        },
    );
    let put = put_accepted();
    let provision = provision_in_progress();
    let follow = mock!(aws_sdk_ssoadmin::Client::describe_permission_set_provisioning_status)
        .then_output(described(StatusValues::Succeeded, None));
    let edited = edited_definition_rules();
    let mut rules: Vec<&Rule> = edited.iter().collect();
    rules.extend([&policy, &put, &provision, &follow]);
    let ctx = ctx_with(&rules);
    for undo in [
        record(Some(PRIOR), Some(written.clone())),
        record(Some(PRIOR), None),
    ] {
        let outcome = IdentityCenterSessionRevoke.undo(&ctx, &undo).await.unwrap();
        assert_eq!(outcome.notes.len(), 1, "{:?}", outcome.notes);
        assert!(
            outcome.notes[0].starts_with(&format!(
                "conflict: permission set {SET} was edited since the plan was made (description, session duration, relay state, managed policies, customer managed policy references, permissions boundary)"
            )),
            "{}",
            outcome.notes[0]
        );
    }
    assert_eq!((put.num_calls(), provision.num_calls()), (0, 0));

    // A rollback file written before the definition was recorded: undone as before, unchecked.
    let old = UndoRecord {
        definition: None,
        ..record(Some(PRIOR), Some(written))
    };
    IdentityCenterSessionRevoke.undo(&ctx, &old).await.unwrap();
    assert_eq!((put.num_calls(), provision.num_calls()), (1, 1));
}
