use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_vpc_endpoint_services::DescribeVpcEndpointServicesOutput;
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
use aws_sdk_ec2::types::{
    SecurityGroupIdentifier, ServiceType, ServiceTypeDetail, State, Tag, UnsuccessfulItem,
    UnsuccessfulItemError, VpcEndpointType,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::vpce_delete::EndpointState;
use super::vpce_policy_deny::{DENY_ALL, PolicyRestore, UndoRecord, plan_restore, same_policy};
use super::*;
use super::{vpce_delete, vpce_policy_deny};
use crate::plan::Cut;
use crate::plan::Severity;
use crate::services::{Containment, CutKind, DiscoveryScope, Inspection, Proposal, TypedCut};

const DEFAULT_POLICY: &str = r#"{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#;

fn gateway_endpoint(id: &str) -> VpcEndpoint {
    VpcEndpoint::builder()
        .vpc_endpoint_id(id)
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .service_name("com.amazonaws.us-east-1.s3")
        .vpc_id("vpc-1")
        .state(State::from("available"))
        .policy_document(DEFAULT_POLICY)
        .route_table_ids("rtb-2")
        .route_table_ids("rtb-1")
        .build()
}

fn interface_endpoint(id: &str) -> VpcEndpoint {
    VpcEndpoint::builder()
        .vpc_endpoint_id(id)
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .service_name("com.amazonaws.us-east-1.ssm")
        .vpc_id("vpc-1")
        .state(State::from("available"))
        .policy_document(DEFAULT_POLICY)
        .subnet_ids("subnet-1")
        .groups(SecurityGroupIdentifier::builder().group_id("sg-1").build())
        .private_dns_enabled(true)
        .tags(Tag::builder().key("Name").value("ssm").build())
        .build()
}

fn cut<S>(kind: &str, proposed: Proposal<S>) -> TypedCut<S> {
    TypedCut {
        id: format!("{kind}/us-east-1/{}", proposed.target),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// The same cut as a plan holds it, for what the engine's adapter does with raw documents.
fn plan_cut<S: serde::Serialize>(kind: &str, cut: TypedCut<S>, reversible: bool) -> Cut {
    Cut {
        id: cut.id,
        kind: kind.into(),
        region: cut.region,
        target: cut.target,
        enabled: true,
        reversible,
        reason: String::new(),
        before: serde_json::to_value(cut.before).unwrap().into(),
        after: serde_json::to_value(cut.after).unwrap().into(),
    }
}

#[test]
fn only_available_endpoints_of_policy_types_are_candidates() {
    let deleted = VpcEndpoint::builder()
        .vpc_endpoint_id("vpce-deleted")
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .state(State::from("deleted"))
        .build();
    let gwlb = VpcEndpoint::builder()
        .vpc_endpoint_id("vpce-gwlb")
        .vpc_endpoint_type(VpcEndpointType::GatewayLoadBalancer)
        .state(State::from("available"))
        .build();
    let found = candidates(&[
        interface_endpoint("vpce-b"),
        deleted,
        gwlb,
        gateway_endpoint("vpce-a"),
    ]);
    let ids: Vec<&str> = found.iter().map(|e| e.vpc_endpoint_id.as_str()).collect();
    assert_eq!(ids, vec!["vpce-a", "vpce-b"]);
    assert_eq!(found[0].route_table_ids, vec!["rtb-1", "rtb-2"], "sorted");
    assert_eq!(found[1].security_group_ids, vec!["sg-1"]);
    assert_eq!(found[1].tags["Name"], "ssm");
}

#[test]
fn endpoints_no_cut_closes_are_reported_never_passed_over() {
    let network = VpcEndpoint::builder()
        .vpc_endpoint_id("vpce-net")
        .vpc_endpoint_type(VpcEndpointType::from("ServiceNetwork"))
        .service_network_arn("arn:aws:vpc-lattice:us-east-1:210987654321:servicenetwork/sn-1")
        .state(State::from("available"))
        .build();
    let pending = VpcEndpoint::builder()
        .state(State::from("pendingAcceptance"))
        .vpc_endpoint_id("vpce-pending")
        .vpc_endpoint_type(VpcEndpointType::Interface)
        .service_name("com.amazonaws.vpce.us-east-1.vpce-svc-0abc")
        .build();
    let deleted_gwlb = VpcEndpoint::builder()
        .vpc_endpoint_id("vpce-old")
        .vpc_endpoint_type(VpcEndpointType::GatewayLoadBalancer)
        .state(State::from("deleted"))
        .build();
    // Regression: an endpoint still being created, or only partly available, got neither a cut (only
    // available endpoints are candidates) nor a word.
    let mut creating = interface_endpoint("vpce-creating");
    creating.state = Some(State::from("pending"));
    let mut partial = gateway_endpoint("vpce-partial");
    partial.state = Some(State::from("partial"));
    let reported = passed_over_endpoints(&[
        network,
        pending,
        deleted_gwlb,
        interface_endpoint("vpce-cut"),
        creating,
        partial,
    ]);
    let ids: Vec<&str> = reported.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["vpce-net", "vpce-pending", "vpce-creating", "vpce-partial"],
        "{reported:?}"
    );
    for (_, what) in &reported[2..] {
        assert!(
            what.contains("not yet (or not fully) available, so no cut was proposed")
                && what.contains("Plan again once it is available"),
            "{reported:?}"
        );
    }
    assert!(
        reported[0].1.contains("ServiceNetwork endpoint to arn:aws:vpc-lattice:us-east-1:210987654321:servicenetwork/sn-1")
            && reported[0].1.contains("aws ec2 delete-vpc-endpoints --vpc-endpoint-ids vpce-net"),
        "{reported:?}"
    );
    assert!(
        reported[1].1.contains("awaiting acceptance"),
        "{reported:?}"
    );
}

#[test]
fn the_policy_cut_records_the_exact_original_document_and_writes_deny_all() {
    let endpoint = describe(&gateway_endpoint("vpce-a")).unwrap();
    let proposed = vpce_policy_deny::propose(&endpoint, &PolicySupport::Enforced).unwrap();
    assert_eq!(
        proposed.before.policy_document.as_deref(),
        Some(DEFAULT_POLICY),
        "byte for byte"
    );
    assert_eq!(proposed.after.policy_document.as_deref(), Some(DENY_ALL));
    assert!(
        proposed.reason.starts_with(
            "Gateway endpoint vpce-a for com.amazonaws.us-east-1.s3 in vpc-1: anything"
        ),
        "{}",
        proposed.reason
    );

    let cut = cut("vpce_policy_deny", proposed);
    assert_eq!(CutKind::check_states(&VpcEndpointPolicyDeny, &cut), Ok(()));
    let undo = CutKind::undo_record_for(&VpcEndpointPolicyDeny, &cut).unwrap();
    assert_eq!(undo.original_policy, DEFAULT_POLICY);
    assert_eq!(undo.deny_policy, DENY_ALL);
}

#[test]
fn endpoints_that_already_deny_all_or_take_no_policy_get_no_policy_cut() {
    let mut endpoint = describe(&gateway_endpoint("vpce-a")).unwrap();
    endpoint.policy_document =
        Some(r#"{ "Statement": [{"Resource":"*","Action":"*","Principal":"*","Effect":"Deny"}], "Version": "2012-10-17" }"#.into());
    assert_eq!(
        vpce_policy_deny::propose(&endpoint, &PolicySupport::Enforced),
        None
    );
    endpoint.policy_document = None;
    assert_eq!(
        vpce_policy_deny::propose(&endpoint, &PolicySupport::Enforced),
        None
    );
}

#[test]
fn policies_are_compared_as_json_not_as_text() {
    assert!(same_policy(DENY_ALL, &DENY_ALL.replace(',', ", ")));
    assert!(!same_policy(DENY_ALL, DEFAULT_POLICY));
    assert!(same_policy("not json", "not json"));
    assert!(!same_policy("not json", "not json either"));
}

fn undo_record() -> UndoRecord {
    UndoRecord {
        vpc_endpoint_id: "vpce-a".into(),
        original_policy: DEFAULT_POLICY.into(),
        deny_policy: DENY_ALL.into(),
    }
}

fn live_with(policy: Option<&str>) -> EndpointDescription {
    let mut live = describe(&gateway_endpoint("vpce-a")).unwrap();
    live.policy_document = policy.map(str::to_string);
    live
}

#[test]
fn restore_puts_the_policy_back_only_over_our_deny_all() {
    let undo = undo_record();
    assert_eq!(
        plan_restore(&undo, Some(&live_with(Some(DENY_ALL)))),
        PolicyRestore::PutBack
    );
    assert_eq!(
        plan_restore(&undo, Some(&live_with(Some(DEFAULT_POLICY)))),
        PolicyRestore::AlreadyRestored
    );
    let someone_elses = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::evidence/*"}]}"#;
    match plan_restore(&undo, Some(&live_with(Some(someone_elses)))) {
        PolicyRestore::Conflict(note) => {
            assert!(note.starts_with("conflict: the policy of vpce-a was changed after the cut"));
            assert!(
                note.contains("evidence"),
                "the live policy is shown: {note}"
            );
            assert!(
                note.contains(DEFAULT_POLICY),
                "the original is shown: {note}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    match plan_restore(&undo, None) {
        PolicyRestore::Conflict(note) => {
            assert!(note.contains("vpce-a no longer exists"), "{note}");
            assert!(note.contains(DEFAULT_POLICY), "{note}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn policy_state_checks_reject_anything_but_the_deny_all_swap() {
    let endpoint = describe(&gateway_endpoint("vpce-a")).unwrap();
    let cut = cut(
        "vpce_policy_deny",
        vpce_policy_deny::propose(&endpoint, &PolicySupport::Enforced).unwrap(),
    );

    let mut softer = cut.clone();
    softer.after.policy_document = Some(DEFAULT_POLICY.into());
    assert!(
        CutKind::check_states(&VpcEndpointPolicyDeny, &softer)
            .unwrap_err()
            .contains("deny-all")
    );

    let mut moved = cut.clone();
    moved.after.vpc_id = "vpc-other".into();
    assert!(
        CutKind::check_states(&VpcEndpointPolicyDeny, &moved)
            .unwrap_err()
            .contains("only in policy_document")
    );

    let mut other_target = cut.clone();
    other_target.target = "vpce-z".into();
    assert!(
        CutKind::check_states(&VpcEndpointPolicyDeny, &other_target)
            .unwrap_err()
            .contains("vpc_endpoint_id")
    );

    // A plan's states always hold a policy: a missing one is refused as it always was.
    let mut no_policy = plan_cut("vpce_policy_deny", cut, true);
    no_policy.after.edit(|state| {
        state.as_object_mut().unwrap().remove("policy_document");
    });
    assert_eq!(
        Containment::check_states(&VpcEndpointPolicyDeny, &no_policy),
        Err("`after`: missing field `policy_document`".into())
    );
}

#[test]
fn an_endpoint_that_lost_its_policy_is_observed_without_one() {
    let endpoint = describe(&gateway_endpoint("vpce-a")).unwrap();
    let proposed = vpce_policy_deny::propose(&endpoint, &PolicySupport::Enforced).unwrap();
    let mut lost = endpoint;
    lost.policy_document = None;
    let observed = serde_json::to_value(vpce_policy_deny::policy_state(&lost)).unwrap();
    let mut expected = serde_json::to_value(&proposed.before).unwrap();
    expected.as_object_mut().unwrap().remove("policy_document");
    assert_eq!(observed, expected, "the drift report shows the policy gone");
}

#[test]
fn the_delete_cut_records_what_rebuilding_needs_and_says_it_cannot_be_undone() {
    let endpoint = describe(&interface_endpoint("vpce-b")).unwrap();
    let proposed = vpce_delete::propose(&endpoint, &PolicySupport::Enforced);
    assert!(
        proposed.reason.contains("CANNOT be undone"),
        "{}",
        proposed.reason
    );
    assert!(proposed.reason.contains("--allow-irreversible"));
    assert_eq!(
        proposed.disabled_because, None,
        "the kind itself is off by default"
    );
    let EndpointState::Described(before) = &proposed.before else {
        panic!("`before` is the description: {:?}", proposed.before);
    };
    assert_eq!(**before, endpoint);
    assert_eq!(before.subnet_ids, vec!["subnet-1"]);
    assert_eq!(before.private_dns_enabled, Some(true));
    assert_eq!(
        serde_json::to_value(&proposed.before).unwrap(),
        serde_json::to_value(&endpoint).unwrap(),
        "recorded as the description itself"
    );

    let cut = cut("vpce_delete", proposed);
    assert_eq!(CutKind::check_states(&VpcEndpointDelete, &cut), Ok(()));
    let plan_cut = plan_cut("vpce_delete", cut.clone(), false);
    assert_eq!(
        Containment::undo_record_for(&VpcEndpointDelete, &plan_cut).unwrap(),
        plan_cut.before.value(),
        "the rollback file keeps the full description"
    );
    assert!(!CutKind::info(&VpcEndpointDelete).reversible);
    assert!(!CutKind::info(&VpcEndpointDelete).enabled_by_default);

    let mut not_deleted = cut.clone();
    if let EndpointState::Deleted(after) = &mut not_deleted.after {
        after.state = "available".into();
    }
    assert!(
        CutKind::check_states(&VpcEndpointDelete, &not_deleted)
            .unwrap_err()
            .contains("must be `deleted`")
    );

    // Each state in its place: the description before, the deletion after.
    let mut swapped = cut.clone();
    std::mem::swap(&mut swapped.before, &mut swapped.after);
    assert!(
        CutKind::check_states(&VpcEndpointDelete, &swapped)
            .unwrap_err()
            .starts_with("`before`")
    );
    let mut garbage = plan_cut;
    garbage.after = serde_json::json!({"vpc_endpoint_id": "vpce-b"}).into();
    assert!(
        Containment::check_states(&VpcEndpointDelete, &garbage)
            .unwrap_err()
            .starts_with("`after`")
    );
}

#[test]
fn an_endpoint_without_a_policy_is_still_proposed_for_deletion_saying_why() {
    let mut endpoint = describe(&interface_endpoint("vpce-b")).unwrap();
    endpoint.policy_document = None;
    let proposed = vpce_delete::propose(&endpoint, &PolicySupport::Enforced);
    assert!(proposed.reason.contains("takes no endpoint policy"));
}

#[tokio::test]
async fn undoing_a_delete_is_an_error_that_says_how_to_rebuild() {
    let endpoint = describe(&gateway_endpoint("vpce-a")).unwrap();
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[]),
    );
    let err = Containment::undo(
        &VpcEndpointDelete,
        &ctx,
        &serde_json::to_value(&endpoint).unwrap(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("cannot be restored"), "{text}");
    assert!(text.contains("route tables rtb-1, rtb-2"), "{text}");
    assert!(
        text.contains("service com.amazonaws.us-east-1.s3"),
        "{text}"
    );

    // A record that is not a description still gets the same refusal, not a decoding error.
    let err = Containment::undo(&VpcEndpointDelete, &ctx, &serde_json::json!({"edited": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "a deleted VPC endpoint cannot be restored (a re-created one gets a new ID): the recorded endpoint"
    );
}

#[test]
fn an_unsuccessful_delete_is_an_error_naming_the_endpoint_and_aws_reason() {
    let failures = vec![
        UnsuccessfulItem::builder()
            .resource_id("vpce-a")
            .error(
                UnsuccessfulItemError::builder()
                    .code("InvalidVpcEndpoint.NotFound")
                    .message("The VPC endpoint does not exist")
                    .build(),
            )
            .build(),
    ];
    let err = vpce_delete::unsuccessful_error("vpce-a", &failures).unwrap();
    assert_eq!(err.code.as_deref(), Some("InvalidVpcEndpoint.NotFound"));
    assert!(err.message.starts_with("vpce-a was not deleted"));
    assert_eq!(vpce_delete::unsuccessful_error("vpce-a", &[]), None);
    assert_eq!(vpce_delete::unsuccessful_error("vpce-b", &failures), None);
}

/// The emulator never paginates DescribeVpcEndpoints: an endpoint on the second page must still be cut.
#[tokio::test]
async fn mocked_discovery_follows_every_page_of_endpoints() {
    let first = mock!(Client::describe_vpc_endpoints)
        .match_requests(|req| req.next_token().is_none())
        .then_output(|| {
            DescribeVpcEndpointsOutput::builder()
                .vpc_endpoints(gateway_endpoint("vpce-a"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::describe_vpc_endpoints)
        .match_requests(|req| req.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeVpcEndpointsOutput::builder()
                .vpc_endpoints(interface_endpoint("vpce-b"))
                .build()
        });
    let services = mock!(Client::describe_vpc_endpoint_services).then_output(|| {
        DescribeVpcEndpointServicesOutput::builder()
            .service_details(aws_service(
                "com.amazonaws.us-east-1.s3",
                ServiceType::Gateway,
                true,
            ))
            .service_details(aws_service(
                "com.amazonaws.us-east-1.ssm",
                ServiceType::Interface,
                true,
            ))
            .build()
    });
    // Where the run's own calls go is judged from the endpoints' interfaces (none here answer).
    let enis = no_interfaces();
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&first, &second, &services, &enis]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();
    let policy_cuts = CutKind::discover(&VpcEndpointPolicyDeny, &ctx, &scope)
        .await
        .unwrap();
    let delete_cuts = CutKind::discover(&VpcEndpointDelete, &ctx, &scope)
        .await
        .unwrap();
    // Both pages read once: the region's endpoints are described once for both kinds.
    assert_eq!(first.num_calls(), 1);
    assert_eq!(second.num_calls(), 1);
    let policy_targets: Vec<&str> = policy_cuts.iter().map(|p| p.target.as_str()).collect();
    let delete_targets: Vec<&str> = delete_cuts.iter().map(|p| p.target.as_str()).collect();
    for targets in [policy_targets, delete_targets] {
        assert_eq!(targets, vec!["vpce-a", "vpce-b"]);
    }
}

/// A ServiceDetail as DescribeVpcEndpointServices documents it for an AWS service: `Owner` is `amazon`
/// (docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ServiceDetail.html).
fn aws_service(name: &str, service_type: ServiceType, policies: bool) -> ServiceDetail {
    ServiceDetail::builder()
        .service_name(name)
        .service_id("vpce-svc-0aws")
        .service_type(
            ServiceTypeDetail::builder()
                .service_type(service_type)
                .build(),
        )
        .owner("amazon")
        .vpc_endpoint_policy_supported(policies)
        .acceptance_required(false)
        .build()
}

/// A PrivateLink service another account offers: `Owner` is that account's ID. Its detail may even say
/// it supports policies; AWS still allows full access to endpoints of services that are not AWS's.
fn partner_service(name: &str) -> ServiceDetail {
    ServiceDetail::builder()
        .service_name(name)
        .service_id("vpce-svc-0123456789abcdef0")
        .service_type(
            ServiceTypeDetail::builder()
                .service_type(ServiceType::Interface)
                .build(),
        )
        .owner("111122223333")
        .vpc_endpoint_policy_supported(true)
        .acceptance_required(true)
        .build()
}

const NO_POLICIES: &str = "com.amazonaws.us-east-1.service-without-policies";
const PARTNER: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

fn interface_endpoint_for(id: &str, service: &str) -> VpcEndpoint {
    let mut endpoint = interface_endpoint(id);
    endpoint.service_name = Some(service.into());
    endpoint
}

#[test]
fn only_aws_services_that_support_endpoint_policies_enforce_them() {
    let s3 = aws_service("com.amazonaws.us-east-1.s3", ServiceType::Gateway, true);
    assert_eq!(
        policy_support("com.amazonaws.us-east-1.s3", Some(&s3)),
        PolicySupport::Enforced
    );
    let without = aws_service(NO_POLICIES, ServiceType::Interface, false);
    assert!(matches!(
        policy_support(NO_POLICIES, Some(&without)),
        PolicySupport::Ignored(why) if why.contains("VpcEndpointPolicySupported is false")
    ));
    assert!(matches!(
        policy_support(PARTNER, Some(&partner_service(PARTNER))),
        PolicySupport::Ignored(why) if why.contains("account 111122223333")
    ));
    // Not listed: a PrivateLink service's name still says it is not AWS's; anything else is unknown.
    assert!(matches!(
        policy_support(PARTNER, None),
        PolicySupport::Ignored(why) if why.contains("PrivateLink endpoint service")
    ));
    assert!(
        matches!(
            policy_support("cn.com.amazonaws.vpce.cn-north-1.vpce-svc-0123456789abcdef0", None),
            PolicySupport::Ignored(why) if why.contains("PrivateLink endpoint service")
        ),
        "China's PrivateLink services are named cn.com.amazonaws.vpce.…"
    );
    assert!(matches!(
        policy_support("com.amazonaws.us-east-1.ssm", None),
        PolicySupport::Unknown(why) if why.contains("does not list")
    ));
    // A detail without the fields that decide is not taken for enforcement.
    let silent = ServiceDetail::builder()
        .service_name("x")
        .owner("amazon")
        .build();
    assert!(matches!(
        policy_support("x", Some(&silent)),
        PolicySupport::Unknown(_)
    ));
    let ownerless = ServiceDetail::builder()
        .service_name("x")
        .vpc_endpoint_policy_supported(true)
        .build();
    assert!(matches!(
        policy_support("x", Some(&ownerless)),
        PolicySupport::Unknown(_)
    ));
}

/// DescribeVpcEndpoints and DescribeVpcEndpointServices as AWS answers them for an account with an S3
/// gateway endpoint, an endpoint of an AWS service without endpoint-policy support and one of a
/// partner's PrivateLink service.
fn mixed_region() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
    let endpoints = mock!(Client::describe_vpc_endpoints).then_output(|| {
        DescribeVpcEndpointsOutput::builder()
            .vpc_endpoints(gateway_endpoint("vpce-a"))
            .vpc_endpoints(interface_endpoint_for("vpce-b", NO_POLICIES))
            .vpc_endpoints(interface_endpoint_for("vpce-c", PARTNER))
            .build()
    });
    let services = mock!(Client::describe_vpc_endpoint_services)
        .match_requests(|req| {
            let filter = &req.filters()[0];
            let mut names = filter.values().to_vec();
            names.sort();
            filter.name() == Some("service-name")
                && names == ["com.amazonaws.us-east-1.s3", NO_POLICIES, PARTNER]
                && req.service_names().is_empty()
        })
        .then_output(|| {
            DescribeVpcEndpointServicesOutput::builder()
                .service_details(aws_service(
                    "com.amazonaws.us-east-1.s3",
                    ServiceType::Gateway,
                    true,
                ))
                .service_details(aws_service(
                    "com.amazonaws.us-east-1.s3",
                    ServiceType::Interface,
                    true,
                ))
                .service_details(aws_service(NO_POLICIES, ServiceType::Interface, false))
                .service_details(partner_service(PARTNER))
                .build()
        });
    (endpoints, services)
}

#[tokio::test]
async fn mocked_endpoints_whose_service_ignores_policies_get_no_policy_cut_but_a_high_finding_and_the_delete()
 {
    let (endpoints, services) = mixed_region();
    let enis = no_interfaces();
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&endpoints, &services, &enis]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();

    let policy_cuts = CutKind::discover(&VpcEndpointPolicyDeny, &ctx, &scope)
        .await
        .unwrap();
    let targets: Vec<&str> = policy_cuts.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(
        targets,
        ["vpce-a"],
        "a deny-all on the others would change nothing"
    );

    let delete_cuts = CutKind::discover(&VpcEndpointDelete, &ctx, &scope)
        .await
        .unwrap();
    let targets: Vec<&str> = delete_cuts.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(targets, ["vpce-a", "vpce-b", "vpce-c"]);
    assert!(!delete_cuts[0].reason.contains("only cut that closes it"));
    assert!(
        delete_cuts[1]
            .reason
            .contains("whatever its policy says (its service does not support endpoint policies"),
        "{}",
        delete_cuts[1].reason
    );
    assert!(delete_cuts[2].reason.contains("account 111122223333"));
    assert!(
        delete_cuts.iter().all(|cut| cut.disabled_because.is_none()),
        "vpce_delete stays off by default through its kind, not disabled"
    );

    let findings = PolicyIgnored.inspect(&ctx, &scope, &[]).await.unwrap();
    let named: Vec<(&str, Severity)> = findings
        .iter()
        .map(|f| (f.resource.as_str(), f.severity))
        .collect();
    assert_eq!(
        named,
        [("vpce-b", Severity::High), ("vpce-c", Severity::High)]
    );
    assert!(findings.iter().all(|f| f.check == "vpce_policy_ignored"
        && f.region == "us-east-1"
        && f.message.contains("Only vpce_delete closes it")));
    assert_eq!(
        (endpoints.num_calls(), services.num_calls()),
        (1, 1),
        "the region is described once for both kinds and the inspection"
    );
}

#[tokio::test]
async fn mocked_services_that_cannot_be_described_leave_the_policy_cut_proposed_and_say_so() {
    let endpoints = mock!(Client::describe_vpc_endpoints).then_output(|| {
        DescribeVpcEndpointsOutput::builder()
            .vpc_endpoints(gateway_endpoint("vpce-a"))
            .build()
    });
    let denied = mock!(Client::describe_vpc_endpoint_services).then_error(|| {
        aws_sdk_ec2::operation::describe_vpc_endpoint_services::DescribeVpcEndpointServicesError::generic(
            aws_sdk_ec2::error::ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&endpoints, &denied]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();
    let policy_cuts = CutKind::discover(&VpcEndpointPolicyDeny, &ctx, &scope)
        .await
        .unwrap();
    assert_eq!(policy_cuts.len(), 1);
    assert!(policy_cuts[0].disabled_because.is_none());
    assert!(
        policy_cuts[0]
            .reason
            .contains("could not be told (its service could not be described"),
        "{}",
        policy_cuts[0].reason
    );
    let findings = PolicyIgnored.inspect(&ctx, &scope, &[]).await.unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].severity, Severity::High);
    assert!(
        findings[0].message.contains("UnauthorizedOperation"),
        "{}",
        findings[0].message
    );
}

#[test]
fn an_enforcing_endpoint_without_a_policy_is_a_finding_not_a_silent_skip() {
    let mut endpoint = describe(&interface_endpoint("vpce-b")).unwrap();
    assert_eq!(
        policy_finding("us-east-1", &endpoint, &PolicySupport::Enforced),
        None
    );
    endpoint.policy_document = None;
    let finding = policy_finding("us-east-1", &endpoint, &PolicySupport::Enforced).unwrap();
    assert_eq!(finding.severity, Severity::High);
    assert!(finding.message.contains("returned no policy"));
}

/// DescribeNetworkInterfaces for endpoint interfaces, answering none.
fn no_interfaces() -> aws_smithy_mocks::Rule {
    mock!(Client::describe_network_interfaces).then_output(|| {
        aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput::builder()
            .build()
    })
}

/// `apply --check` dry-runs ModifyVpcEndpoint with the deny policy, and DeleteVpcEndpoints for the delete
/// cut, reading EC2's `DryRunOperation` as permitted and `UnauthorizedOperation` as denied.
#[tokio::test]
async fn mocked_check_dry_runs_the_policy_swap_and_the_delete() {
    use crate::services::PermissionCheck;
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::delete_vpc_endpoints::DeleteVpcEndpointsError;
    use aws_sdk_ec2::operation::modify_vpc_endpoint::ModifyVpcEndpointError;

    let answer = |code: &str| ErrorMetadata::builder().code(code).message(code).build();
    let endpoint = describe(&gateway_endpoint("vpce-a")).unwrap();
    let policy_cut = cut(
        "vpce_policy_deny",
        vpce_policy_deny::propose(&endpoint, &PolicySupport::Enforced).unwrap(),
    );
    let modify = mock!(Client::modify_vpc_endpoint)
        .match_requests(|req| {
            req.dry_run() == Some(true)
                && req.vpc_endpoint_id() == Some("vpce-a")
                && req.policy_document() == Some(DENY_ALL)
        })
        .then_error(move || ModifyVpcEndpointError::generic(answer("DryRunOperation")));
    let delete_endpoint = describe(&interface_endpoint("vpce-b")).unwrap();
    let delete_cut = cut(
        "vpce_delete",
        vpce_delete::propose(&delete_endpoint, &PolicySupport::Enforced),
    );
    let delete = mock!(Client::delete_vpc_endpoints)
        .match_requests(|req| req.dry_run() == Some(true) && req.vpc_endpoint_ids() == ["vpce-b"])
        .then_error(move || DeleteVpcEndpointsError::generic(answer("UnauthorizedOperation")));
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&modify, &delete]),
    );
    let verdict = CutKind::check_permission(&VpcEndpointPolicyDeny, &ctx, &policy_cut).await;
    assert!(matches!(verdict, PermissionCheck::Allowed), "{verdict:?}");
    let verdict = CutKind::check_permission(&VpcEndpointDelete, &ctx, &delete_cut).await;
    assert!(matches!(verdict, PermissionCheck::Denied(_)), "{verdict:?}");
    assert_eq!((modify.num_calls(), delete.num_calls()), (1, 1));
}

/// An S3 gateway endpoint carries the calls hikkonuki makes to S3 from inside its VPC, by routing
/// whatever DNS says: both its cuts say so, for apply run from inside that VPC to leave them out. An
/// interface endpoint (judged by DNS instead) and a DynamoDB gateway endpoint (a service hikkonuki
/// never calls) carry none of them.
#[test]
fn only_an_s3_gateway_endpoints_cuts_close_a_way_the_runs_own_calls_go() {
    let carried = |endpoint: VpcEndpoint| {
        let described = describe(&endpoint).unwrap();
        let policy = vpce_policy_deny::propose(&described, &PolicySupport::Enforced)
            .map(|proposed| cut("vpce_policy_deny", proposed))
            .map(|typed| plan_cut("vpce_policy_deny", typed, true));
        let delete = plan_cut(
            "vpce_delete",
            cut(
                "vpce_delete",
                vpce_delete::propose(&described, &PolicySupport::Enforced),
            ),
            false,
        );
        (
            policy.and_then(|c| Containment::carries_calls_from_vpc(&VpcEndpointPolicyDeny, &c)),
            Containment::carries_calls_from_vpc(&VpcEndpointDelete, &delete),
        )
    };

    let (policy, delete) = carried(gateway_endpoint("vpce-a"));
    for why in [&policy, &delete] {
        let why = why
            .as_deref()
            .expect("an S3 gateway endpoint carries the run's S3 calls");
        assert!(
            why.starts_with(
                "vpce-a is its VPC's gateway endpoint for S3, which the run's calls to S3"
            ),
            "{why}"
        );
    }
    let (policy, delete) = carried(interface_endpoint_for(
        "vpce-s3",
        "com.amazonaws.us-east-1.s3",
    ));
    assert_eq!(
        (policy, delete),
        (None, None),
        "an interface endpoint is judged by DNS"
    );
    let dynamodb = VpcEndpoint::builder()
        .service_name("com.amazonaws.us-east-1.dynamodb")
        .vpc_endpoint_id("vpce-d")
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .vpc_id("vpc-1")
        .state(State::from("available"))
        .policy_document(DEFAULT_POLICY)
        .route_table_ids("rtb-1")
        .build();
    assert_eq!(carried(dynamodb), (None, None));
    // Associated with no route table, it carries no one's calls; the policy cut's state does not
    // record the tables, so it is still left out there.
    let mut unrouted = gateway_endpoint("vpce-u");
    unrouted.route_table_ids = None;
    let (policy, delete) = carried(unrouted);
    assert!(
        policy.is_some() && delete.is_none(),
        "{policy:?} {delete:?}"
    );

    // In China S3's gateway service keeps the `com.amazonaws.` name.
    assert!(
        carries_calls_by_route(
            "Gateway",
            "com.amazonaws.cn-north-1.s3",
            "vpce-c",
            "cn-north-1"
        )
        .is_some()
    );
    assert!(
        carries_calls_by_route(
            "Gateway",
            "com.amazonaws.us-east-1.s3",
            "vpce-c",
            "us-west-2"
        )
        .is_none()
    );
}

#[test]
fn the_groups_on_the_endpoints_the_runs_calls_go_through_are_named_with_the_endpoint() {
    let endpoint = |id: &str, groups: &[&str]| EndpointDescription {
        vpc_endpoint_id: id.into(),
        vpc_endpoint_type: "Interface".into(),
        security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
        route_table_ids: vec![],
        ..live_with(None)
    };
    let classified = Classified {
        endpoints: vec![
            (
                endpoint("vpce-sts", &["sg-a", "sg-b"]),
                PolicySupport::Enforced,
            ),
            (endpoint("vpce-logs", &["sg-c"]), PolicySupport::Enforced),
        ],
        own_routes: BTreeMap::from([(
            "vpce-sts".to_string(),
            "sts.us-east-1.amazonaws.com resolves here to 10.0.1.25, this endpoint's addresses"
                .to_string(),
        )]),
    };
    let groups = groups_of(&classified.carrying());
    assert_eq!(groups.keys().collect::<Vec<_>>(), ["sg-a", "sg-b"]);
    assert_eq!(
        groups["sg-a"],
        "sg-a guards the network interfaces of vpce-sts, which this run's calls go through (sts.us-east-1.amazonaws.com resolves here to 10.0.1.25, this endpoint's addresses)"
    );
}
