//! `identity_center_session_revoke` on data and on mocked SSO Admin answers, each built from the API
//! reference: ProvisionPermissionSet answering IN_PROGRESS then DescribePermissionSetProvisioningStatus
//! SUCCEEDED, FAILED with a FailureReason, ConflictException while another provisioning runs, and
//! ThrottlingException (https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ProvisionPermissionSet.html,
//! https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_DescribePermissionSetProvisioningStatus.html).

use aws_sdk_ssoadmin::config::retry::RetryConfig;
use aws_sdk_ssoadmin::error::ErrorMetadata;
use aws_sdk_ssoadmin::operation::delete_inline_policy_from_permission_set::DeleteInlinePolicyFromPermissionSetOutput;
use aws_sdk_ssoadmin::operation::describe_permission_set::DescribePermissionSetOutput;
use aws_sdk_ssoadmin::operation::describe_permission_set_provisioning_status::{
    DescribePermissionSetProvisioningStatusError, DescribePermissionSetProvisioningStatusOutput,
};
use aws_sdk_ssoadmin::operation::get_inline_policy_for_permission_set::GetInlinePolicyForPermissionSetOutput;
use aws_sdk_ssoadmin::operation::list_accounts_for_provisioned_permission_set::ListAccountsForProvisionedPermissionSetOutput;
use aws_sdk_ssoadmin::operation::list_instances::ListInstancesOutput;
use aws_sdk_ssoadmin::operation::list_permission_sets_provisioned_to_account::ListPermissionSetsProvisionedToAccountOutput;
use aws_sdk_ssoadmin::operation::provision_permission_set::{
    ProvisionPermissionSetError, ProvisionPermissionSetOutput,
};
use aws_sdk_ssoadmin::operation::put_inline_policy_to_permission_set::{
    PutInlinePolicyToPermissionSetError, PutInlinePolicyToPermissionSetOutput,
};
use aws_sdk_ssoadmin::types::error::{ConflictException, ThrottlingException};
use aws_sdk_ssoadmin::types::{InstanceMetadata, PermissionSet};
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
        provisioned_to: vec!["123456789012".into(), "210987654321".into()],
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

fn ctx_with(rules: &[&Rule]) -> RegionCtx {
    // No SDK retries: the kind's own retries are what these tests look at.
    let client = mock_client!(aws_sdk_ssoadmin, RuleMode::MatchAny, rules, |config| {
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

#[tokio::test]
async fn mocked_discovery_proposes_each_permission_set_provisioned_to_this_account() {
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
    let provisioned = mock!(aws_sdk_ssoadmin::Client::list_permission_sets_provisioned_to_account)
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
    let accounts = mock!(aws_sdk_ssoadmin::Client::list_accounts_for_provisioned_permission_set)
        .then_output(|| {
            ListAccountsForProvisionedPermissionSetOutput::builder()
                .account_ids("210987654321")
                .account_ids("123456789012")
                .build()
        });
    let policy = live_policy(None);
    let ctx = ctx_with(&[&instances, &provisioned, &described, &accounts, &policy])
        .mock_ec2(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&regions]));
    let proposals = IdentityCenterSessionRevoke
        .discover(&ctx, &DiscoveryScope::for_tests())
        .await
        .unwrap();
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].before, state(None));
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
    let ctx = ctx_with(&[&policy, &put, &provision, &follow]);
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
    let ctx = ctx_with(&[&policy, &put, &provision, &follow]);
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
    let ctx = ctx_with(&[&policy, &put, &provision]);
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
    let ctx = ctx_with(&[&policy, &put, &provision, &follow]);
    let cut = cut_of(&propose(&state(None), "arn:aws:iam::123456789012:user/r"));
    IdentityCenterSessionRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!((put.num_calls(), follow.num_calls()), (2, 2));

    let policy = live_policy(None);
    let always =
        mock!(aws_sdk_ssoadmin::Client::put_inline_policy_to_permission_set).then_error(throttled);
    let ctx = ctx_with(&[&policy, &always]);
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
    let ctx = ctx_with(&[&policy, &put]);
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
        provisioned_to: vec!["123456789012".into()],
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
