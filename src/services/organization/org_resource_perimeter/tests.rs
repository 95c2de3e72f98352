//! `org_resource_perimeter` against AWS Organizations' documented answers (aws-smithy-mocks).

use std::time::Duration;

use aws_sdk_organizations::operation::attach_policy::AttachPolicyError;
use aws_sdk_organizations::operation::disable_policy_type::DisablePolicyTypeOutput;
use aws_sdk_organizations::operation::enable_policy_type::{
    EnablePolicyTypeError, EnablePolicyTypeOutput,
};
use aws_sdk_organizations::operation::list_policies::ListPoliciesOutput;
use aws_sdk_organizations::operation::list_roots::ListRootsOutput;
use aws_sdk_organizations::operation::list_targets_for_policy::ListTargetsForPolicyOutput;
use aws_sdk_organizations::types::error::{
    PolicyTypeAlreadyEnabledException, PolicyTypeNotEnabledException,
};
use aws_sdk_organizations::types::{
    PolicyTargetSummary, PolicyType, PolicyTypeStatus, PolicyTypeSummary, Root,
};
use aws_smithy_mocks::{Rule, mock};

use super::*;
use crate::services::organization::tests::meta;
use crate::services::organization::tests::{
    MANAGEMENT, MEMBER, ORG, ROOT, ctx, organization_rules, scope_with, summary,
};
use crate::services::organization::{Wait, wait_for_type};

fn no_policies() -> Rule {
    mock!(aws_sdk_organizations::Client::list_policies)
        .then_output(|| ListPoliciesOutput::builder().build())
}

fn roots(status: Option<PolicyTypeStatus>) -> Rule {
    mock!(aws_sdk_organizations::Client::list_roots).then_output(move || {
        let mut root = Root::builder().id(ROOT);
        if let Some(status) = &status {
            root = root.policy_types(
                PolicyTypeSummary::builder()
                    .r#type(PolicyType::ResourceControlPolicy)
                    .status(status.clone())
                    .build(),
            );
        }
        ListRootsOutput::builder().roots(root.build()).build()
    })
}

#[tokio::test]
async fn rcps_not_enabled_are_enabled_by_a_cut_of_their_own_listed_first() {
    let org = organization_rules(&[PolicyType::ServiceControlPolicy]);
    let none = no_policies();
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&none);
    let joined = format!("{MEMBER},{MANAGEMENT}");
    let proposals = OrgResourcePerimeter
        .discover(&ctx(rules), &scope_with(&[("resource-perimeter", &joined)]))
        .await
        .unwrap();
    assert_eq!(
        proposals
            .iter()
            .map(|p| p.target.as_str())
            .collect::<Vec<_>>(),
        [ROOT, MEMBER, MANAGEMENT]
    );
    let root = &proposals[0];
    assert_eq!(root.disabled_because, None);
    assert_eq!(
        root.before,
        PerimeterState::Root(RootPolicyType {
            root_id: ROOT.into(),
            resource_control_policy: "DISABLED".into()
        })
    );
    let PerimeterState::Account(member) = &proposals[1].before else {
        panic!("an account cut");
    };
    assert_eq!(proposals[1].disabled_because, None);
    let document: serde_json::Value = serde_json::from_str(&member.policy_content).unwrap();
    let statement = &document["Statement"][0];
    assert_eq!(statement["Principal"], "*");
    assert_eq!(
        statement["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalOrgID"],
        ORG
    );
    assert_eq!(
        statement["Condition"]["BoolIfExists"]["aws:PrincipalIsAWSService"],
        "false"
    );
    for service in [
        "s3:*",
        "sqs:*",
        "kms:*",
        "secretsmanager:*",
        "sts:AssumeRole",
    ] {
        assert!(
            statement["Action"]
                .as_array()
                .unwrap()
                .contains(&service.into()),
            "{service}"
        );
    }
    let management = proposals[2].disabled_because.as_deref().unwrap();
    assert!(
        management.contains("orgs_manage_policies_rcps.html"),
        "{management}"
    );
    for p in &proposals {
        let cut = TypedCut {
            id: format!("org_resource_perimeter/global/{}", p.target),
            region: "global".into(),
            target: p.target.clone(),
            before: p.before.clone(),
            after: p.after.clone(),
        };
        assert_eq!(
            OrgResourcePerimeter.check_states(&cut),
            Ok(()),
            "{}",
            p.target
        );
    }
}

#[tokio::test]
async fn the_enable_cut_is_disabled_when_no_account_can_be_fenced_and_absent_when_rcps_are_on() {
    let org = organization_rules(&[
        PolicyType::ServiceControlPolicy,
        PolicyType::ResourceControlPolicy,
    ]);
    let none = no_policies();
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&none);
    let proposals = OrgResourcePerimeter
        .discover(&ctx(rules), &scope_with(&[("resource-perimeter", MEMBER)]))
        .await
        .unwrap();
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0].target, MEMBER);

    let org = organization_rules(&[]);
    let mut rules: Vec<&Rule> = org.iter().collect();
    rules.push(&none);
    let proposals = OrgResourcePerimeter
        .discover(
            &ctx(rules),
            &scope_with(&[("resource-perimeter", MANAGEMENT)]),
        )
        .await
        .unwrap();
    assert_eq!(proposals[0].target, ROOT);
    let why = proposals[0].disabled_because.as_deref().unwrap();
    assert!(
        why.contains("nothing needs resource control policies"),
        "{why}"
    );
}

fn root_cut() -> TypedCut<PerimeterState> {
    let before = RootPolicyType {
        root_id: ROOT.into(),
        resource_control_policy: "DISABLED".into(),
    };
    TypedCut {
        id: format!("org_resource_perimeter/global/{ROOT}"),
        region: "global".into(),
        target: ROOT.into(),
        after: PerimeterState::Root(RootPolicyType {
            resource_control_policy: "ENABLED".into(),
            ..before.clone()
        }),
        before: PerimeterState::Root(before),
    }
}

#[tokio::test]
async fn enabling_rcps_found_enabled_already_is_not_undone() {
    let enable = mock!(aws_sdk_organizations::Client::enable_policy_type)
        .match_requests(|r| {
            r.root_id() == Some(ROOT) && r.policy_type() == Some(&PolicyType::ResourceControlPolicy)
        })
        .then_output(|| EnablePolicyTypeOutput::builder().build());
    let cut = root_cut();
    let undo = OrgResourcePerimeter
        .apply(&ctx(vec![&enable]), &cut)
        .await
        .unwrap();
    assert_eq!(undo, OrgResourcePerimeter.undo_record_for(&cut).unwrap());
    assert_eq!(enable.num_calls(), 1);

    let already = mock!(aws_sdk_organizations::Client::enable_policy_type).then_error(|| {
        EnablePolicyTypeError::PolicyTypeAlreadyEnabledException(
            PolicyTypeAlreadyEnabledException::builder()
                .message("The specified policy type is already enabled.")
                .meta(meta("PolicyTypeAlreadyEnabledException"))
                .build(),
        )
    });
    let undo = OrgResourcePerimeter
        .apply(&ctx(vec![&already]), &cut)
        .await
        .unwrap();
    assert_eq!(
        undo,
        PerimeterUndo::Root(RootUndo {
            root_id: ROOT.into(),
            enabled_by_apply: false
        })
    );
    assert_eq!(OrgResourcePerimeter.check_undo(&cut, &undo), Ok(()));
    let disable = mock!(aws_sdk_organizations::Client::disable_policy_type)
        .then_output(|| DisablePolicyTypeOutput::builder().build());
    let outcome = OrgResourcePerimeter
        .undo(&ctx(vec![&disable]), &undo)
        .await
        .unwrap();
    assert_eq!(disable.num_calls(), 0);
    assert!(
        outcome.notes[0].contains("left enabled"),
        "{:?}",
        outcome.notes
    );
}

#[tokio::test]
async fn restore_disables_rcps_only_while_no_one_elses_rcp_is_attached() {
    let enabled = roots(Some(PolicyTypeStatus::Enabled));
    let listed = mock!(aws_sdk_organizations::Client::list_policies).then_output(|| {
        ListPoliciesOutput::builder()
            .policies(summary("p-RCPFullAWSAccess", "RCPFullAWSAccess", true))
            .policies(summary("p-theirs", "their-rcp", false))
            .policies(summary("p-ours", "hikkonuki-resource-perimeter", false))
            .build()
    });
    let attached = mock!(aws_sdk_organizations::Client::list_targets_for_policy)
        .match_requests(|r| r.policy_id() == Some("p-theirs"))
        .then_output(|| {
            ListTargetsForPolicyOutput::builder()
                .targets(PolicyTargetSummary::builder().target_id(MEMBER).build())
                .build()
        });
    let unattached = mock!(aws_sdk_organizations::Client::list_targets_for_policy)
        .then_output(|| ListTargetsForPolicyOutput::builder().build());
    let disable = mock!(aws_sdk_organizations::Client::disable_policy_type)
        .then_output(|| DisablePolicyTypeOutput::builder().build());
    let undo = OrgResourcePerimeter.undo_record_for(&root_cut()).unwrap();
    let outcome = OrgResourcePerimeter
        .undo(
            &ctx(vec![&enabled, &listed, &attached, &unattached, &disable]),
            &undo,
        )
        .await
        .unwrap();
    assert_eq!(disable.num_calls(), 0);
    assert!(
        outcome.notes[0].starts_with("conflict:"),
        "{:?}",
        outcome.notes
    );
    assert!(outcome.notes[0].contains("p-theirs"), "{:?}", outcome.notes);

    OrgResourcePerimeter
        .undo(&ctx(vec![&enabled, &listed, &unattached, &disable]), &undo)
        .await
        .unwrap();
    assert_eq!(disable.num_calls(), 1);
}

/// Organizations' List* calls may answer an empty page with a NextToken when more results follow (the
/// API reference of ListTargetsForPolicy says so): the target on the second page is still found, and
/// the type is not disabled under someone else's attached RCP.
#[tokio::test]
async fn mocked_an_rcp_whose_first_page_of_targets_is_empty_still_counts_as_attached() {
    let enabled = roots(Some(PolicyTypeStatus::Enabled));
    let listed = mock!(aws_sdk_organizations::Client::list_policies).then_output(|| {
        ListPoliciesOutput::builder()
            .policies(summary("p-theirs", "their-rcp", false))
            .build()
    });
    let empty_first = mock!(aws_sdk_organizations::Client::list_targets_for_policy)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            ListTargetsForPolicyOutput::builder()
                .next_token("more")
                .build()
        });
    let second = mock!(aws_sdk_organizations::Client::list_targets_for_policy)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(|| {
            ListTargetsForPolicyOutput::builder()
                .targets(PolicyTargetSummary::builder().target_id(MEMBER).build())
                .build()
        });
    let disable = mock!(aws_sdk_organizations::Client::disable_policy_type)
        .then_output(|| DisablePolicyTypeOutput::builder().build());
    let undo = OrgResourcePerimeter.undo_record_for(&root_cut()).unwrap();
    let outcome = OrgResourcePerimeter
        .undo(
            &ctx(vec![&enabled, &listed, &empty_first, &second, &disable]),
            &undo,
        )
        .await
        .unwrap();
    assert_eq!(second.num_calls(), 1, "the second page is read");
    assert_eq!(disable.num_calls(), 0);
    assert!(
        outcome.notes[0].starts_with("conflict:") && outcome.notes[0].contains("p-theirs"),
        "{:?}",
        outcome.notes
    );
}

#[tokio::test]
async fn an_account_cut_waits_for_the_type_and_says_what_it_saw() {
    let disabled = roots(None);
    let err = wait_for_type(
        &ctx(vec![&disabled]),
        "RESOURCE_CONTROL_POLICY",
        Wait {
            every: Duration::from_millis(1),
            limit: Duration::from_millis(5),
        },
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("`DISABLED`"), "{err}");

    let pending_then_enabled = mock!(aws_sdk_organizations::Client::list_roots)
        .sequence()
        .output(|| {
            ListRootsOutput::builder()
                .roots(
                    Root::builder()
                        .id(ROOT)
                        .policy_types(
                            PolicyTypeSummary::builder()
                                .r#type(PolicyType::ResourceControlPolicy)
                                .status(PolicyTypeStatus::PendingEnable)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .output(|| {
            ListRootsOutput::builder()
                .roots(
                    Root::builder()
                        .id(ROOT)
                        .policy_types(
                            PolicyTypeSummary::builder()
                                .r#type(PolicyType::ResourceControlPolicy)
                                .status(PolicyTypeStatus::Enabled)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    wait_for_type(
        &ctx(vec![&pending_then_enabled]),
        "RESOURCE_CONTROL_POLICY",
        Wait {
            every: Duration::from_millis(1),
            limit: Duration::from_secs(5),
        },
    )
    .await
    .unwrap();
    assert_eq!(pending_then_enabled.num_calls(), 2);
}

#[tokio::test]
async fn an_attach_refused_for_a_type_not_enabled_says_to_enable_it() {
    let enabled = roots(Some(PolicyTypeStatus::Enabled));
    let ours = mock!(aws_sdk_organizations::Client::list_policies).then_output(|| {
        ListPoliciesOutput::builder()
            .policies(summary("p-ours", "hikkonuki-resource-perimeter", false))
            .build()
    });
    let content = super::document(ORG);
    let described = {
        let content = content.clone();
        mock!(aws_sdk_organizations::Client::describe_policy).then_output(move || {
            aws_sdk_organizations::operation::describe_policy::DescribePolicyOutput::builder()
                .policy(
                    aws_sdk_organizations::types::Policy::builder()
                        .content(content.clone())
                        .build(),
                )
                .build()
        })
    };
    let refused = mock!(aws_sdk_organizations::Client::attach_policy).then_error(|| {
        AttachPolicyError::PolicyTypeNotEnabledException(
            PolicyTypeNotEnabledException::builder()
                .message("This operation can be performed only for enabled policy types.")
                .meta(meta("PolicyTypeNotEnabledException"))
                .build(),
        )
    });
    let before = AccountPolicies {
        account_id: MEMBER.into(),
        attached: vec![],
        own_attached: false,
        policy_name: "hikkonuki-resource-perimeter".into(),
        policy_content: content,
    };
    let cut = TypedCut {
        id: format!("org_resource_perimeter/global/{MEMBER}"),
        region: "global".into(),
        target: MEMBER.into(),
        after: PerimeterState::Account(AccountPolicies {
            own_attached: true,
            ..before.clone()
        }),
        before: PerimeterState::Account(before),
    };
    let err = OrgResourcePerimeter
        .apply(&ctx(vec![&enabled, &ours, &described, &refused]), &cut)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("PolicyTypeNotEnabledException"));
    assert!(err.message.contains("enable the policy type"), "{err}");
}

/// RCPFullAWSAccess is on every account while RCPs are enabled and cannot be detached: the states leave it
/// out (enabling the type would otherwise make every planned account drift), the limit counts it.
#[tokio::test]
async fn rcp_full_aws_access_is_counted_by_the_limit_but_left_out_of_the_state() {
    let describe = mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
        aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput::builder()
            .organization(
                aws_sdk_organizations::types::Organization::builder()
                    .id(ORG)
                    .master_account_id(MANAGEMENT)
                    .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
                    .build(),
            )
            .build()
    });
    let enabled = roots(Some(PolicyTypeStatus::Enabled));
    let accounts = mock!(aws_sdk_organizations::Client::list_accounts).then_output(|| {
        aws_sdk_organizations::operation::list_accounts::ListAccountsOutput::builder()
            .accounts(
                aws_sdk_organizations::types::Account::builder()
                    .id(MEMBER)
                    .build(),
            )
            .accounts(
                aws_sdk_organizations::types::Account::builder()
                    .id(FULL)
                    .build(),
            )
            .build()
    });
    let rcps = |target: &'static str, guards: usize| {
        mock!(aws_sdk_organizations::Client::list_policies_for_target)
            .match_requests(move |r| {
                r.target_id() == Some(target)
                    && r.filter() == Some(&PolicyType::ResourceControlPolicy)
            })
            .then_output(move || {
                let mut out = aws_sdk_organizations::operation::list_policies_for_target::ListPoliciesForTargetOutput::builder()
                    .policies(summary("p-RCPFullAWSAccess", "RCPFullAWSAccess", true));
                for n in 0..guards {
                    out = out.policies(summary(&format!("p-g{n}"), &format!("guard{n}"), false));
                }
                out.build()
            })
    };
    let member = rcps(MEMBER, 3);
    let full = rcps(FULL, 4);
    let none = no_policies();
    let joined = format!("{MEMBER},{FULL}");
    let proposals = OrgResourcePerimeter
        .discover(
            &ctx(vec![&describe, &enabled, &accounts, &member, &full, &none]),
            &scope_with(&[("resource-perimeter", &joined)]),
        )
        .await
        .unwrap();
    assert_eq!(proposals.len(), 2, "RCPs are enabled: no enable cut");
    let PerimeterState::Account(state) = &proposals[0].before else {
        panic!("an account cut");
    };
    assert_eq!(
        state
            .attached
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["guard0", "guard1", "guard2"]
    );
    assert_eq!(proposals[0].disabled_because, None);
    let why = proposals[1].disabled_because.as_deref().unwrap();
    assert!(why.contains("already has 5 RCPs"), "{why}");
    assert!(why.contains("RCPFullAWSAccess"), "{why}");
}

const FULL: &str = "333333333333";
