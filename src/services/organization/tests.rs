//! `org_quarantine` and the organization door's shared attach/detach, against AWS Organizations' documented
//! answers (aws-smithy-mocks): the API reference pages of DescribeOrganization, AttachPolicy, CreatePolicy
//! and DetachPolicy list the errors reproduced here.

use aws_sdk_organizations::operation::attach_policy::{AttachPolicyError, AttachPolicyOutput};
use aws_sdk_organizations::operation::create_policy::{CreatePolicyError, CreatePolicyOutput};
use aws_sdk_organizations::operation::delete_policy::DeletePolicyOutput;
use aws_sdk_organizations::operation::describe_organization::{
    DescribeOrganizationError, DescribeOrganizationOutput,
};
use aws_sdk_organizations::operation::describe_policy::DescribePolicyOutput;
use aws_sdk_organizations::operation::detach_policy::{DetachPolicyError, DetachPolicyOutput};
use aws_sdk_organizations::operation::list_accounts::ListAccountsOutput;
use aws_sdk_organizations::operation::list_policies::ListPoliciesOutput;
use aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput;
use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
use aws_sdk_organizations::operation::list_targets_for_policy::ListTargetsForPolicyOutput;
use aws_sdk_organizations::types::error::{
    AccessDeniedException, AwsOrganizationsNotInUseException, ConstraintViolationException,
    DuplicatePolicyException, PolicyNotAttachedException,
};
use aws_sdk_organizations::types::{
    Account, ConstraintViolationExceptionReason, Organization, OrganizationFeatureSet, Policy,
    PolicySummary, PolicyTargetSummary, PolicyType, PolicyTypeStatus, PolicyTypeSummary, Root,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

use super::org_quarantine::{self, OrgQuarantine};
use super::*;
use crate::services::CutKind;
use crate::services::Proposal;

pub const MANAGEMENT: &str = "123456789012";
pub const MEMBER: &str = "111111111111";
pub const CROWDED: &str = "222222222222";
pub const ROOT: &str = "r-ab12";
pub const ORG: &str = "o-exampleorgid";

pub fn ctx(rules: Vec<&Rule>) -> RegionCtx {
    let client = mock_client!(aws_sdk_organizations, RuleMode::MatchAny, rules);
    RegionCtx::for_tests("global").mock_organizations(client)
}

pub fn scope_with(options: &[(&str, &str)]) -> DiscoveryScope {
    let mut scope = DiscoveryScope::for_tests();
    for (flag, value) in options {
        scope.options.insert(flag.to_string(), value.to_string());
    }
    scope
}

pub fn summary(id: &str, name: &str, aws_managed: bool) -> PolicySummary {
    PolicySummary::builder()
        .id(id)
        .name(name)
        .aws_managed(aws_managed)
        .build()
}

/// The organization seen from its management account: root `r-ab12` with `types` enabled, the
/// management account and the members `MEMBER` and `CROWDED`.
pub fn organization_rules(types: &[PolicyType]) -> Vec<Rule> {
    let types: Vec<PolicyType> = types.to_vec();
    vec![
        mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
            DescribeOrganizationOutput::builder()
                .organization(
                    Organization::builder()
                        .id(ORG)
                        .master_account_id(MANAGEMENT)
                        .feature_set(OrganizationFeatureSet::All)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_organizations::Client::list_roots).then_output(move || {
            let mut root = Root::builder().id(ROOT);
            for t in &types {
                root = root.policy_types(
                    PolicyTypeSummary::builder()
                        .r#type(t.clone())
                        .status(PolicyTypeStatus::Enabled)
                        .build(),
                );
            }
            ListRootsOutput::builder().roots(root.build()).build()
        }),
        mock!(aws_sdk_organizations::Client::list_accounts).then_output(|| {
            ListAccountsOutput::builder()
                .accounts(Account::builder().id(MANAGEMENT).build())
                .accounts(Account::builder().id(MEMBER).build())
                .accounts(Account::builder().id(CROWDED).build())
                .build()
        }),
        // MEMBER holds FullAWSAccess only; CROWDED holds five SCPs, the most an account can take.
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(|r| r.target_id() == Some(MEMBER))
            .then_output(|| {
                ListPoliciesForTargetOutput::builder()
                    .policies(summary("p-FullAWSAccess", "FullAWSAccess", true))
                    .build()
            }),
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(|r| r.target_id() == Some(CROWDED))
            .then_output(|| {
                let mut out = ListPoliciesForTargetOutput::builder().policies(summary(
                    "p-FullAWSAccess",
                    "FullAWSAccess",
                    true,
                ));
                for n in 1..5 {
                    out =
                        out.policies(summary(&format!("p-guard{n}"), &format!("guard{n}"), false));
                }
                out.build()
            }),
    ]
}

fn no_policies() -> Rule {
    mock!(aws_sdk_organizations::Client::list_policies)
        .then_output(|| ListPoliciesOutput::builder().build())
}

async fn discover(rules: Vec<&Rule>, options: &[(&str, &str)]) -> Vec<Proposal<AccountPolicies>> {
    OrgQuarantine
        .discover(&ctx(rules), &scope_with(options))
        .await
        .unwrap()
}

#[tokio::test]
async fn without_quarantine_nothing_is_proposed_and_nothing_is_read() {
    assert!(discover(vec![], &[]).await.is_empty());
}

#[tokio::test]
async fn each_named_account_gets_a_cut_and_the_management_account_is_refused_with_the_reason() {
    let org = organization_rules(&[PolicyType::ServiceControlPolicy]);
    let none = no_policies();
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&none);
    let joined = format!("{MEMBER},{CROWDED},{MANAGEMENT},333333333333");
    let proposals = discover(
        rules,
        &[
            ("quarantine", &joined),
            (
                "keep-principal",
                "arn:aws:iam::999999999999:role/BreakGlass",
            ),
        ],
    )
    .await;
    let by_target = |t: &str| proposals.iter().find(|p| p.target == t).unwrap();

    let member = by_target(MEMBER);
    assert_eq!(member.disabled_because, None);
    assert_eq!(
        member.before.attached,
        vec![PolicyRef {
            id: "p-FullAWSAccess".into(),
            name: "FullAWSAccess".into()
        }]
    );
    assert!(!member.before.own_attached && member.after.own_attached);
    let document: serde_json::Value = serde_json::from_str(&member.before.policy_content).unwrap();
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "*");
    assert_eq!(
        statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
        serde_json::json!([
            "arn:aws:iam::*:role/OrganizationAccountAccessRole",
            "arn:aws:iam::999999999999:role/BreakGlass",
            "arn:aws:iam::123456789012:user/r"
        ])
    );
    assert_eq!(
        OrgQuarantine.check_states(&TypedCut {
            id: format!("org_quarantine/global/{MEMBER}"),
            region: "global".into(),
            target: MEMBER.into(),
            before: member.before.clone(),
            after: member.after.clone(),
        }),
        Ok(())
    );

    let crowded = by_target(CROWDED).disabled_because.as_deref().unwrap();
    assert!(crowded.contains("already has 5 SCPs"), "{crowded}");
    assert!(crowded.contains("orgs_reference_limits.html"), "{crowded}");
    let management = by_target(MANAGEMENT).disabled_because.as_deref().unwrap();
    assert!(management.contains("management account"), "{management}");
    assert!(
        management.contains("orgs_manage_policies_scps.html"),
        "{management}"
    );
    let stranger = by_target("333333333333")
        .disabled_because
        .as_deref()
        .unwrap();
    assert!(stranger.contains("not in the organization"), "{stranger}");
}

#[tokio::test]
async fn from_a_member_account_the_cut_is_proposed_disabled_saying_where_to_run_plan() {
    let describe = mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
        DescribeOrganizationOutput::builder()
            .organization(
                Organization::builder()
                    .id(ORG)
                    .master_account_id("999999999999")
                    .feature_set(OrganizationFeatureSet::All)
                    .build(),
            )
            .build()
    });
    let proposals = discover(vec![&describe], &[("quarantine", MEMBER)]).await;
    assert_eq!(proposals.len(), 1);
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(
        why.contains("run plan from the management account"),
        "{why}"
    );
}

#[tokio::test]
async fn no_organization_or_a_denied_read_disables_the_cut_with_the_answer() {
    let not_in_use = mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
        DescribeOrganizationError::AwsOrganizationsNotInUseException(
            AwsOrganizationsNotInUseException::builder()
                .message("Your account is not a member of an organization.")
                .meta(meta("AWSOrganizationsNotInUseException"))
                .build(),
        )
    });
    let proposals = discover(vec![&not_in_use], &[("quarantine", MEMBER)]).await;
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(why.contains("AWSOrganizationsNotInUseException"), "{why}");

    let denied = mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
        DescribeOrganizationError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("You don't have permissions to access this resource.")
                .meta(meta("AccessDeniedException"))
                .build(),
        )
    });
    let proposals = discover(vec![&denied], &[("quarantine", MEMBER)]).await;
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(why.contains("was denied"), "{why}");
}

#[tokio::test]
async fn scps_not_enabled_on_the_root_disable_the_cut_with_the_command_that_enables_them() {
    let org = organization_rules(&[]);
    let none = no_policies();
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&none);
    let joined = format!("{MEMBER},{MANAGEMENT}");
    let proposals = discover(rules, &[("quarantine", &joined)]).await;
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(why.contains("enable-policy-type --root-id r-ab12"), "{why}");
    // Enabling SCPs would not make the management account quarantinable: that reason comes first.
    let why = proposals[1].disabled_because.as_deref().unwrap();
    assert!(why.contains("management account"), "{why}");
}

#[tokio::test]
async fn a_policy_already_named_hikkonuki_quarantine_is_never_adopted() {
    let org = organization_rules(&[PolicyType::ServiceControlPolicy]);
    let listed = mock!(aws_sdk_organizations::Client::list_policies).then_output(|| {
        ListPoliciesOutput::builder()
            .policies(summary("p-theirs", "hikkonuki-quarantine", false))
            .build()
    });
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&listed);
    let proposals = discover(rules, &[("quarantine", MEMBER)]).await;
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(why.contains("never adopts"), "{why}");
    // What is attached is still read: a resumed apply derives the accounts it has not cut yet from
    // discovery again, while the policy it created for the first ones already exists, and compares
    // them with the plan's `before`.
    let attached: Vec<&str> = proposals[0]
        .before
        .attached
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(attached, ["FullAWSAccess"]);
    assert!(!proposals[0].before.own_attached);
}

#[tokio::test]
async fn a_document_over_5120_characters_is_refused_before_apply() {
    let org = organization_rules(&[PolicyType::ServiceControlPolicy]);
    let none = no_policies();
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&none);
    let many: Vec<String> = (0..120)
        .map(|n| format!("arn:aws:iam::999999999999:role/break-glass-role-number-{n:03}"))
        .collect();
    let joined = many.join(",");
    let proposals = discover(
        rules,
        &[("quarantine", MEMBER), ("keep-principal", &joined)],
    )
    .await;
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(why.contains("more than the 5120"), "{why}");
}

#[test]
fn the_caller_is_let_through_as_its_role_and_only_iam_principals_are_accepted() {
    assert_eq!(
        org_quarantine::caller_principals("arn:aws:sts::123456789012:assumed-role/Responder/alice"),
        vec![
            "arn:aws:iam::123456789012:role/Responder",
            "arn:aws:iam::123456789012:role/*/Responder"
        ]
    );
    assert_eq!(
        org_quarantine::caller_principals("arn:aws:iam::123456789012:user/r"),
        vec!["arn:aws:iam::123456789012:user/r"]
    );
    assert!(org_quarantine::caller_principals("arn:aws:iam::123456789012:root").is_empty());
    let check = org_quarantine::KEEP_PRINCIPAL.check;
    assert!(check("arn:aws:iam::111122223333:role/BreakGlass,arn:aws:iam::*:role/Admin").is_ok());
    assert!(check("arn:aws:sts::111122223333:assumed-role/R/s").is_err());
    assert!(check("BreakGlass").is_err());
    assert!((org_quarantine::QUARANTINE.check)("12345").is_err());
    assert!((org_quarantine::QUARANTINE.check)("111122223333,444455556666").is_ok());
}

/// Apply never quarantines the account the operator works from when the document does not let the
/// operator through: entered into the management account from that member, they would lose every
/// call there, the roles into the other accounts and restore included. The management account's own
/// caller is never bound, and an operator the document keeps (the planner) goes ahead.
#[test]
fn the_quarantine_of_the_account_the_operator_entered_from_cuts_them_off_unless_it_keeps_them() {
    let document = org_quarantine::document(&[
        "arn:aws:iam::*:role/OrganizationAccountAccessRole".to_string(),
        format!("arn:aws:iam::{MEMBER}:role/Planner"),
        format!("arn:aws:iam::{MEMBER}:role/*/Planner"),
        format!("arn:aws:iam::{MEMBER}:user/break-?lass"),
    ]);
    let cut = account_cut(&document);
    let entered_by = |operator: &str| crate::aws::CallerIdentity {
        account: "999999999999".into(),
        arn: "arn:aws:sts::999999999999:assumed-role/OrganizationAccountAccessRole/hikkonuki"
            .into(),
        user_id: "AROA".into(),
        access_key_id: None,
        source: None,
        entered_by: Some(operator.to_string()),
        profile_roles: Vec::new(),
    };
    let cuts_off = |operator: &str| CutKind::cuts_off(&OrgQuarantine, &cut, &entered_by(operator));
    assert!(cuts_off(&format!(
        "arn:aws:sts::{MEMBER}:assumed-role/Responder/bob"
    )));
    assert!(cuts_off(&format!("arn:aws:iam::{MEMBER}:user/bob")));
    assert!(cuts_off(&format!("arn:aws:iam::{MEMBER}:root")));
    assert!(!cuts_off(&format!(
        "arn:aws:sts::{MEMBER}:assumed-role/Planner/alice"
    )));
    assert!(!cuts_off(&format!(
        "arn:aws:iam::{MEMBER}:user/break-glass"
    )));
    // Working from another account, the quarantine binds no one of theirs.
    assert!(!cuts_off(
        "arn:aws:sts::222222222222:assumed-role/Responder/bob"
    ));
    // Only the role without a path kept: the operator's role may have one, which the session hides.
    let no_path = account_cut(&org_quarantine::document(&[format!(
        "arn:aws:iam::{MEMBER}:role/Planner"
    )]));
    assert!(CutKind::cuts_off(
        &OrgQuarantine,
        &no_path,
        &entered_by(&format!("arn:aws:sts::{MEMBER}:assumed-role/Planner/alice"))
    ));
}

pub fn account_cut(own_content: &str) -> TypedCut<AccountPolicies> {
    let before = AccountPolicies {
        account_id: MEMBER.into(),
        attached: vec![],
        own_attached: false,
        policy_name: "hikkonuki-quarantine".into(),
        policy_content: own_content.into(),
    };
    TypedCut {
        id: format!("org_quarantine/global/{MEMBER}"),
        region: "global".into(),
        target: MEMBER.into(),
        after: AccountPolicies {
            own_attached: true,
            ..before.clone()
        },
        before,
    }
}

const CONTENT: &str =
    r#"{"Statement":[{"Action":"*","Effect":"Deny","Resource":"*"}],"Version":"2012-10-17"}"#;

fn listed_own(id: &'static str) -> Rule {
    mock!(aws_sdk_organizations::Client::list_policies).then_output(move || {
        ListPoliciesOutput::builder()
            .policies(summary(id, "hikkonuki-quarantine", false))
            .build()
    })
}

fn described(content: &'static str) -> Rule {
    mock!(aws_sdk_organizations::Client::describe_policy).then_output(move || {
        DescribePolicyOutput::builder()
            .policy(Policy::builder().content(content).build())
            .build()
    })
}

fn targets(ids: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_organizations::Client::list_targets_for_policy).then_output(move || {
        let mut out = ListTargetsForPolicyOutput::builder();
        for id in ids {
            out = out.targets(PolicyTargetSummary::builder().target_id(*id).build());
        }
        out.build()
    })
}

#[tokio::test]
async fn apply_creates_the_policy_and_attaches_it_and_a_refused_attach_leaves_no_policy_behind() {
    let none = no_policies();
    let create = mock!(aws_sdk_organizations::Client::create_policy)
        .match_requests(|r| {
            r.name() == Some("hikkonuki-quarantine") && r.content() == Some(CONTENT)
        })
        .then_output(|| {
            CreatePolicyOutput::builder()
                .policy(
                    Policy::builder()
                        .policy_summary(PolicySummary::builder().id("p-new").build())
                        .build(),
                )
                .build()
        });
    let attach = mock!(aws_sdk_organizations::Client::attach_policy)
        .match_requests(|r| r.policy_id() == Some("p-new") && r.target_id() == Some(MEMBER))
        .then_output(|| AttachPolicyOutput::builder().build());
    let cut = account_cut(CONTENT);
    let undo = OrgQuarantine
        .apply(&ctx(vec![&none, &create, &attach]), &cut)
        .await
        .unwrap();
    assert_eq!(undo, OrgQuarantine.undo_record_for(&cut).unwrap());
    assert_eq!((create.num_calls(), attach.num_calls()), (1, 1));

    // The documented refusal of a sixth SCP on the account: the error names the reason, and the policy
    // this call created (attached nowhere) is deleted again.
    let refused = mock!(aws_sdk_organizations::Client::attach_policy).then_error(|| {
        AttachPolicyError::ConstraintViolationException(
            ConstraintViolationException::builder()
                .reason(ConstraintViolationExceptionReason::PolicyNumberLimitExceeded)
                .message("You have attached the maximum number of policies")
                .meta(meta("ConstraintViolationException"))
                .build(),
        )
    });
    let unused = targets(&[]);
    let delete = mock!(aws_sdk_organizations::Client::delete_policy)
        .match_requests(|r| r.policy_id() == Some("p-new"))
        .then_output(|| DeletePolicyOutput::builder().build());
    let err = OrgQuarantine
        .apply(&ctx(vec![&none, &create, &refused, &unused, &delete]), &cut)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ConstraintViolationException"));
    assert!(
        err.message.contains("POLICY_NUMBER_LIMIT_EXCEEDED"),
        "{err}"
    );
    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn someone_elses_policy_by_our_name_at_create_is_refused_not_adopted() {
    // Created by someone else between plan and apply: CreatePolicy answers DuplicatePolicyException, and
    // the policy by that name holds other content.
    let lists = mock!(aws_sdk_organizations::Client::list_policies)
        .sequence()
        .output(|| ListPoliciesOutput::builder().build())
        .output(|| {
            ListPoliciesOutput::builder()
                .policies(summary("p-theirs", "hikkonuki-quarantine", false))
                .build()
        })
        .build();
    let duplicate = mock!(aws_sdk_organizations::Client::create_policy).then_error(|| {
        CreatePolicyError::DuplicatePolicyException(
            DuplicatePolicyException::builder()
                .message("A policy with the same name already exists.")
                .meta(meta("DuplicatePolicyException"))
                .build(),
        )
    });
    let theirs = described(r#"{"Version":"2012-10-17","Statement":[]}"#);
    let attach = mock!(aws_sdk_organizations::Client::attach_policy)
        .then_output(|| AttachPolicyOutput::builder().build());
    let err = OrgQuarantine
        .apply(
            &ctx(vec![&lists, &duplicate, &theirs, &attach]),
            &account_cut(CONTENT),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("never adopts"), "{err}");
    assert_eq!(attach.num_calls(), 0);
}

#[tokio::test]
async fn undo_after_a_crash_before_the_attach_deletes_the_unattached_policy() {
    // Killed between CreatePolicy and AttachPolicy: the policy exists, attached nowhere. DetachPolicy
    // answers PolicyNotAttachedException (documented), which is fine; then the policy goes.
    let listed = listed_own("p-new");
    let ours = described(CONTENT);
    let not_attached = mock!(aws_sdk_organizations::Client::detach_policy).then_error(|| {
        DetachPolicyError::PolicyNotAttachedException(
            PolicyNotAttachedException::builder()
                .message("The policy isn't attached to the specified target.")
                .meta(meta("PolicyNotAttachedException"))
                .build(),
        )
    });
    let unused = targets(&[]);
    let delete = mock!(aws_sdk_organizations::Client::delete_policy)
        .then_output(|| DeletePolicyOutput::builder().build());
    let cut = account_cut(CONTENT);
    let undo = OrgQuarantine.undo_record_for(&cut).unwrap();
    let outcome = OrgQuarantine
        .undo(
            &ctx(vec![&listed, &ours, &not_attached, &unused, &delete]),
            &undo,
        )
        .await
        .unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert!(
        outcome.notes[0].contains("was not attached"),
        "{:?}",
        outcome.notes
    );
    assert!(outcome.notes[1].contains("deleted"), "{:?}", outcome.notes);
}

#[tokio::test]
async fn undo_keeps_a_policy_still_attached_elsewhere_and_one_edited_since_the_cut() {
    let listed = listed_own("p-new");
    let ours = described(CONTENT);
    let detach = mock!(aws_sdk_organizations::Client::detach_policy)
        .then_output(|| DetachPolicyOutput::builder().build());
    let elsewhere = targets(&["444444444444"]);
    let delete = mock!(aws_sdk_organizations::Client::delete_policy)
        .then_output(|| DeletePolicyOutput::builder().build());
    let undo = OrgQuarantine
        .undo_record_for(&account_cut(CONTENT))
        .unwrap();
    let outcome = OrgQuarantine
        .undo(
            &ctx(vec![&listed, &ours, &detach, &elsewhere, &delete]),
            &undo,
        )
        .await
        .unwrap();
    assert_eq!((detach.num_calls(), delete.num_calls()), (1, 0));
    assert!(
        outcome.notes[1].contains("still attached to 444444444444"),
        "{:?}",
        outcome.notes
    );

    let edited = described(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
    );
    let detach = mock!(aws_sdk_organizations::Client::detach_policy)
        .then_output(|| DetachPolicyOutput::builder().build());
    let outcome = OrgQuarantine
        .undo(&ctx(vec![&listed, &edited, &detach]), &undo)
        .await
        .unwrap();
    assert_eq!(detach.num_calls(), 0);
    assert!(
        outcome.notes[0].starts_with("conflict:"),
        "{:?}",
        outcome.notes
    );
}

/// Watch reads the attached quarantine's document, not only that it is attached: one rewritten since (its
/// actions narrowed) reads as a change; one AWS gives back in other white space reads as the cut.
#[tokio::test]
async fn mocked_a_quarantine_rewritten_since_the_cut_no_longer_reads_as_held() {
    let cut = account_cut(CONTENT);
    let attached = || {
        mock!(aws_sdk_organizations::Client::list_policies_for_target).then_output(|| {
            aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput::builder()
                .policies(summary("p-new", "hikkonuki-quarantine", false))
                .build()
        })
    };
    let (listed, rewritten) = (
        attached(),
        described(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#,
        ),
    );
    let live = OrgQuarantine
        .observe(&ctx(vec![&listed, &rewritten]), &cut)
        .await
        .unwrap()
        .unwrap();
    assert!(live.own_attached);
    assert_ne!(live, cut.after, "a rewritten policy is not the cut");
    assert!(live.policy_content.contains("s3:*"), "{live:?}");

    let (listed, reformatted) = (
        attached(),
        described(
            r#"{ "Version": "2012-10-17", "Statement": [ { "Resource": "*", "Effect": "Deny", "Action": "*" } ] }"#,
        ),
    );
    let live = OrgQuarantine
        .observe(&ctx(vec![&listed, &reformatted]), &cut)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        live, cut.after,
        "the same document in other white space is the cut"
    );
}

#[tokio::test]
async fn undo_of_a_policy_already_gone_changes_nothing() {
    let none = no_policies();
    let undo = OrgQuarantine
        .undo_record_for(&account_cut(CONTENT))
        .unwrap();
    let outcome = OrgQuarantine.undo(&ctx(vec![&none]), &undo).await.unwrap();
    assert!(
        outcome.notes[0].contains("no longer exists"),
        "{:?}",
        outcome.notes
    );
}

#[test]
fn states_that_attach_more_than_the_policy_or_change_its_content_are_refused() {
    let mut cut = account_cut(CONTENT);
    assert_eq!(OrgQuarantine.check_states(&cut), Ok(()));
    cut.after.attached.push(PolicyRef {
        id: "p-x".into(),
        name: "x".into(),
    });
    assert!(OrgQuarantine.check_states(&cut).is_err());
    let mut cut = account_cut(CONTENT);
    cut.after.policy_content = "{}".into();
    assert!(OrgQuarantine.check_states(&cut).is_err());
    let mut cut = account_cut(CONTENT);
    cut.before.own_attached = true;
    assert!(OrgQuarantine.check_states(&cut).is_err());
}

/// The error metadata the SDK reads off AWS's answer (its `__type`), which a mocked exception lacks.
pub fn meta(code: &str) -> aws_sdk_organizations::error::ErrorMetadata {
    aws_sdk_organizations::error::ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} (documented answer)"))
        .build()
}

#[test]
fn the_quarantine_lets_through_the_member_role_given_with_role_in_the_callers_partition() {
    let mut scope = scope_with(&[(
        "keep-principal",
        "arn:aws-cn:iam::111122223333:role/BreakGlass",
    )]);
    scope.member_role = "IncidentResponder".into();
    scope.caller.arn = "arn:aws-cn:sts::123456789012:assumed-role/Responder/alice".into();
    assert_eq!(
        org_quarantine::kept_principals(&scope),
        [
            "arn:aws-cn:iam::*:role/IncidentResponder",
            "arn:aws-cn:iam::111122223333:role/BreakGlass",
            "arn:aws-cn:iam::123456789012:role/Responder",
            "arn:aws-cn:iam::123456789012:role/*/Responder"
        ]
    );
}
