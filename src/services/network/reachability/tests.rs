//! Reachability Analyzer as its API reference documents it: `CreateNetworkInsightsPath` answers the path
//! (`networkInsightsPathId`), `StartNetworkInsightsAnalysis` the analysis in status `running`,
//! `DescribeNetworkInsightsAnalyses` the analysis until it is `succeeded` (with `networkPathFound`, the
//! `forwardPathComponentSet` of a path found or the `explanationSet` of one not found) or `failed` (with
//! `statusMessage`), and the two `Delete…` calls the deleted ID. The emulator implements none of these:
//! these mocks are all that tests the analysis.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_ec2::operation::create_network_insights_path::{
    CreateNetworkInsightsPathError, CreateNetworkInsightsPathOutput,
};
use aws_sdk_ec2::operation::delete_network_insights_analysis::{
    DeleteNetworkInsightsAnalysisError, DeleteNetworkInsightsAnalysisOutput,
};
use aws_sdk_ec2::operation::delete_network_insights_path::DeleteNetworkInsightsPathOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
use aws_sdk_ec2::operation::describe_network_insights_analyses::DescribeNetworkInsightsAnalysesOutput;
use aws_sdk_ec2::operation::start_network_insights_analysis::StartNetworkInsightsAnalysisOutput;
use aws_sdk_ec2::types::{
    AnalysisComponent, AnalysisStatus, Explanation, Instance, InternetGateway,
    InternetGatewayAttachment, NetworkInsightsAnalysis, NetworkInsightsPath, PathComponent,
    Reservation,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_types::error::ErrorMetadata;

use super::*;

const GATEWAY: &str = "igw-0e6ce2bc1d4b9c2ad";
const INSTANCE: &str = "i-0495d385ad28331c7";
const PATH: &str = "nip-0b26f224f1d131fa8";
const ANALYSIS: &str = "nia-02207aa13eb480c7a";
const RUN: &str = "18f0c2a-1f2e";

fn component(id: &str) -> AnalysisComponent {
    AnalysisComponent::builder()
        .id(id)
        .arn(format!("arn:aws:ec2:us-east-1:123456789012:{id}"))
        .build()
}

fn analysis(status: AnalysisStatus) -> NetworkInsightsAnalysis {
    NetworkInsightsAnalysis::builder()
        .network_insights_analysis_id(ANALYSIS)
        .network_insights_path_id(PATH)
        .status(status)
        .build()
}

/// CreateNetworkInsightsPath for the gateway and the instance, TCP, tagged with the run.
fn create_path() -> Rule {
    mock!(aws_sdk_ec2::Client::create_network_insights_path)
        .match_requests(|request| {
            request.source() == Some(GATEWAY)
                && request.destination() == Some(INSTANCE)
                && request.protocol() == Some(&Protocol::Tcp)
                && request.tag_specifications().iter().any(|spec| {
                    spec.resource_type() == Some(&ResourceType::NetworkInsightsPath)
                        && spec
                            .tags()
                            .iter()
                            .any(|tag| tag.key() == Some(VERIFY_TAG) && tag.value() == Some(RUN))
                })
        })
        .then_output(|| {
            CreateNetworkInsightsPathOutput::builder()
                .network_insights_path(
                    NetworkInsightsPath::builder()
                        .network_insights_path_id(PATH)
                        .source(GATEWAY)
                        .destination(INSTANCE)
                        .protocol(Protocol::Tcp)
                        .build(),
                )
                .build()
        })
}

fn start_analysis() -> Rule {
    mock!(aws_sdk_ec2::Client::start_network_insights_analysis)
        .match_requests(|request| {
            request.network_insights_path_id() == Some(PATH)
                && request.tag_specifications().iter().any(|spec| {
                    spec.resource_type() == Some(&ResourceType::NetworkInsightsAnalysis)
                })
        })
        .then_output(|| {
            StartNetworkInsightsAnalysisOutput::builder()
                .network_insights_analysis(analysis(AnalysisStatus::Running))
                .build()
        })
}

/// DescribeNetworkInsightsAnalyses: `running` `still_running` times, then `finished`.
fn describe(still_running: usize, finished: NetworkInsightsAnalysis) -> Rule {
    let asked = Arc::new(AtomicUsize::new(0));
    mock!(aws_sdk_ec2::Client::describe_network_insights_analyses)
        .match_requests(|request| request.network_insights_analysis_ids() == [ANALYSIS])
        .then_compute_output(move |_| {
            let analysis = if asked.fetch_add(1, Ordering::SeqCst) < still_running {
                analysis(AnalysisStatus::Running)
            } else {
                finished.clone()
            };
            DescribeNetworkInsightsAnalysesOutput::builder()
                .network_insights_analyses(analysis)
                .build()
        })
}

fn delete_analysis() -> Rule {
    mock!(aws_sdk_ec2::Client::delete_network_insights_analysis)
        .match_requests(|request| request.network_insights_analysis_id() == Some(ANALYSIS))
        .then_output(|| {
            DeleteNetworkInsightsAnalysisOutput::builder()
                .network_insights_analysis_id(ANALYSIS)
                .build()
        })
}

fn delete_path() -> Rule {
    mock!(aws_sdk_ec2::Client::delete_network_insights_path)
        .match_requests(|request| request.network_insights_path_id() == Some(PATH))
        .then_output(|| {
            DeleteNetworkInsightsPathOutput::builder()
                .network_insights_path_id(PATH)
                .build()
        })
}

fn ctx(rules: &[&Rule]) -> RegionCtx {
    RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, rules),
    )
}

const FAST: Polling = Polling {
    first: Duration::from_millis(5),
    longest: Duration::from_millis(20),
};

static GOING_ON: AtomicBool = AtomicBool::new(false);

async fn analyze(ctx: &RegionCtx, within: Duration) -> PathAnalysis {
    let until = Until {
        deadline: Instant::now() + within,
        stop: &GOING_ON,
    };
    analyze_path(ctx, GATEWAY, INSTANCE, RUN, until, FAST).await
}

#[tokio::test]
async fn a_path_found_is_reachable_with_its_components_in_order_and_both_resources_are_deleted() {
    // The documented example of a path found: internet gateway, network ACL, security group, ENI,
    // instance (sequence numbers given out of order here: the answer is read by them).
    let found = NetworkInsightsAnalysis::builder()
        .network_path_found(true)
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(2)
                .component(component("acl-0a8f8b48b2a3a1d07"))
                .build(),
        )
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(1)
                .component(component(GATEWAY))
                .build(),
        )
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(3)
                .component(component("sg-0c8a9f3d1e2b4a567"))
                .build(),
        )
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(4)
                .component(component("eni-0b3d1c2a4e5f67890"))
                .build(),
        )
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(5)
                .component(component(INSTANCE))
                .build(),
        )
        .status(AnalysisStatus::Succeeded)
        .network_insights_analysis_id(ANALYSIS)
        .build();
    let (create, start, described, delete_a, delete_p) = (
        create_path(),
        start_analysis(),
        describe(2, found),
        delete_analysis(),
        delete_path(),
    );
    let ctx = ctx(&[&create, &start, &described, &delete_a, &delete_p]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert_eq!(
        outcome,
        PathAnalysis {
            verdict: PathVerdict::Reachable {
                hops: vec![
                    GATEWAY.to_string(),
                    "acl-0a8f8b48b2a3a1d07".into(),
                    "sg-0c8a9f3d1e2b4a567".into(),
                    "eni-0b3d1c2a4e5f67890".into(),
                    INSTANCE.into(),
                ]
            },
            cleanup_failures: vec![],
        }
    );
    assert_eq!(described.num_calls(), 3, "asked until no longer running");
    assert_eq!((delete_a.num_calls(), delete_p.num_calls()), (1, 1));
}

#[tokio::test]
async fn no_path_found_is_sealed_with_the_analyzers_explanations() {
    // An explanation as documented for a security group that allows nothing in
    // (https://docs.aws.amazon.com/vpc/latest/reachability/explanation-codes.html).
    let sealed = NetworkInsightsAnalysis::builder()
        .network_path_found(false)
        .explanations(
            Explanation::builder()
                .explanation_code("ENI_SG_RULES_MISMATCH")
                .direction("ingress")
                .network_interface(component("eni-0b3d1c2a4e5f67890"))
                .security_groups(component("sg-0c8a9f3d1e2b4a567"))
                .build(),
        )
        .status(AnalysisStatus::Succeeded)
        .build();
    let (create, start, described, delete_a, delete_p) = (
        create_path(),
        start_analysis(),
        describe(0, sealed),
        delete_analysis(),
        delete_path(),
    );
    let ctx = ctx(&[&create, &start, &described, &delete_a, &delete_p]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert_eq!(
        outcome.verdict,
        PathVerdict::Sealed {
            blocked_by: vec![
                "ENI_SG_RULES_MISMATCH (ingress): eni-0b3d1c2a4e5f67890, sg-0c8a9f3d1e2b4a567"
                    .into()
            ]
        }
    );
    assert!(outcome.cleanup_failures.is_empty());
    assert_eq!((delete_a.num_calls(), delete_p.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_failed_analysis_reports_its_status_message_and_is_still_cleaned_up() {
    // A status message from the troubleshooting page
    // (https://docs.aws.amazon.com/vpc/latest/reachability/reachability-analyzer-troubleshooting.html).
    let failed = NetworkInsightsAnalysis::builder()
        .status(AnalysisStatus::Failed)
        .status_message(
            "The request failed due to modifications in network resources during the analysis",
        )
        .build();
    let (create, start, described, delete_a, delete_p) = (
        create_path(),
        start_analysis(),
        describe(1, failed),
        delete_analysis(),
        delete_path(),
    );
    let ctx = ctx(&[&create, &start, &described, &delete_a, &delete_p]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert_eq!(
        outcome.verdict,
        PathVerdict::AnalysisFailed {
            message:
                "The request failed due to modifications in network resources during the analysis"
                    .into()
        }
    );
    assert_eq!((delete_a.num_calls(), delete_p.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_analysis_still_running_at_the_deadline_times_out_and_is_still_cleaned_up() {
    let (create, start, described, delete_a, delete_p) = (
        create_path(),
        start_analysis(),
        describe(usize::MAX, analysis(AnalysisStatus::Running)),
        delete_analysis(),
        delete_path(),
    );
    let ctx = ctx(&[&create, &start, &described, &delete_a, &delete_p]);
    let started = std::time::Instant::now();
    let outcome = analyze(&ctx, Duration::from_millis(150)).await;
    assert!(
        matches!(&outcome.verdict, PathVerdict::TimedOut { message } if message.contains(ANALYSIS)),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the deadline"
    );
    assert!(
        described.num_calls() >= 2,
        "polled with backoff until the deadline"
    );
    assert_eq!((delete_a.num_calls(), delete_p.num_calls()), (1, 1));
}

#[tokio::test]
async fn ctrl_c_stops_the_wait_at_once_and_the_analysis_is_still_cleaned_up() {
    let (create, start, described, delete_a, delete_p) = (
        create_path(),
        start_analysis(),
        describe(usize::MAX, analysis(AnalysisStatus::Running)),
        delete_analysis(),
        delete_path(),
    );
    let ctx = ctx(&[&create, &start, &described, &delete_a, &delete_p]);
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop.store(true, Ordering::SeqCst);
        })
    };
    let started = std::time::Instant::now();
    let until = Until {
        deadline: Instant::now() + Duration::from_secs(600),
        stop: &stop,
    };
    // Polled every 30 s: the stop is heeded without waiting for the next poll.
    let slow = Polling {
        first: Duration::from_secs(30),
        longest: Duration::from_secs(30),
    };
    let outcome = analyze_path(&ctx, GATEWAY, INSTANCE, RUN, until, slow).await;
    stopper.await.unwrap();
    assert!(
        matches!(&outcome.verdict, PathVerdict::Stopped { message } if message.contains(ANALYSIS)),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((delete_a.num_calls(), delete_p.num_calls()), (1, 1));
}

#[tokio::test]
async fn past_the_deadline_nothing_is_created() {
    let create = create_path();
    let ctx = ctx(&[&create]);
    let outcome = analyze(&ctx, Duration::ZERO).await;
    assert!(matches!(outcome.verdict, PathVerdict::TimedOut { .. }));
    assert_eq!(create.num_calls(), 0);
}

fn create_fails(code: &'static str, message: &'static str) -> Rule {
    mock!(aws_sdk_ec2::Client::create_network_insights_path).then_error(move || {
        CreateNetworkInsightsPathError::generic(
            ErrorMetadata::builder().code(code).message(message).build(),
        )
    })
}

#[tokio::test]
async fn an_instance_terminated_since_it_was_listed_is_gone_and_nothing_is_left_to_delete() {
    let create = create_fails(
        "InvalidInstanceID.NotFound",
        "The instance ID 'i-0495d385ad28331c7' does not exist",
    );
    let (delete_a, delete_p) = (delete_analysis(), delete_path());
    let ctx = ctx(&[&create, &delete_a, &delete_p]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert_eq!(
        outcome.verdict,
        PathVerdict::Gone {
            message: format!(
                "instance {INSTANCE} no longer exists: The instance ID 'i-0495d385ad28331c7' does not exist"
            )
        }
    );
    assert_eq!((delete_a.num_calls(), delete_p.num_calls()), (0, 0));
}

#[tokio::test]
async fn a_gateway_deleted_since_it_was_listed_is_gone() {
    let create = create_fails(
        "InvalidInternetGatewayID.NotFound",
        "The internetGateway ID 'igw-0e6ce2bc1d4b9c2ad' does not exist",
    );
    let ctx = ctx(&[&create]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert!(
        matches!(&outcome.verdict, PathVerdict::Gone { message } if message.starts_with(&format!("internet gateway {GATEWAY} no longer exists"))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_missing_permission_is_named() {
    let create = create_fails(
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
    );
    let ctx = ctx(&[&create]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert!(
        matches!(&outcome.verdict, PathVerdict::Error { message } if message.contains("missing permission: ec2:CreateNetworkInsightsPath")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn throttling_beyond_the_retries_and_a_quota_reached_say_what_to_do() {
    let throttled = create_fails("RequestLimitExceeded", "Request limit exceeded.");
    let outcome = analyze(&ctx(&[&throttled]), Duration::from_secs(10)).await;
    assert!(
        matches!(&outcome.verdict, PathVerdict::Error { message } if message.contains("RequestLimitExceeded") && message.contains("throttled")),
        "{outcome:?}"
    );
    let quota = create_fails(
        "NetworkInsightsPathLimitExceeded",
        "You have reached the limit of network insights paths.",
    );
    let outcome = analyze(&ctx(&[&quota]), Duration::from_secs(10)).await;
    assert!(
        matches!(&outcome.verdict, PathVerdict::Error { message } if message.contains("quota was reached")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_analysis_that_cannot_be_deleted_is_reported_with_its_id_and_the_path_still_deleted() {
    let sealed = NetworkInsightsAnalysis::builder()
        .network_path_found(false)
        .status(AnalysisStatus::Succeeded)
        .build();
    let delete_a = mock!(aws_sdk_ec2::Client::delete_network_insights_analysis).then_error(|| {
        DeleteNetworkInsightsAnalysisError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        )
    });
    let (create, start, described, delete_p) = (
        create_path(),
        start_analysis(),
        describe(0, sealed),
        delete_path(),
    );
    let ctx = ctx(&[&create, &start, &described, &delete_a, &delete_p]);
    let outcome = analyze(&ctx, Duration::from_secs(10)).await;
    assert_eq!(outcome.verdict, PathVerdict::Sealed { blocked_by: vec![] });
    assert_eq!(outcome.cleanup_failures.len(), 1, "{outcome:?}");
    let failure = &outcome.cleanup_failures[0];
    assert!(
        failure.contains("ec2:DeleteNetworkInsightsAnalysis"),
        "{failure}"
    );
    assert!(failure.contains(ANALYSIS) && failure.contains(&format!("{VERIFY_TAG}={RUN}")));
    assert_eq!(delete_p.num_calls(), 1, "the path is deleted all the same");
}

#[tokio::test]
async fn a_vpc_whose_gateway_was_detached_has_no_entrance_from_the_internet() {
    // DescribeInternetGateways filtered on attachment.vpc-id lists only gateways attached to the VPC:
    // after igw_detach, none.
    let gateways = mock!(aws_sdk_ec2::Client::describe_internet_gateways)
        .match_requests(|request| {
            request.filters().iter().any(|filter| {
                filter.name() == Some("attachment.vpc-id") && filter.values() == ["vpc-1"]
            })
        })
        .then_output(|| DescribeInternetGatewaysOutput::builder().build());
    let instances = mock!(aws_sdk_ec2::Client::describe_instances)
        .match_requests(|request| {
            let filtered = |name: &str, value: &str| {
                request
                    .filters()
                    .iter()
                    .any(|filter| filter.name() == Some(name) && filter.values() == [value])
            };
            filtered("vpc-id", "vpc-1") && filtered("instance-state-name", "running")
        })
        .then_output(|| {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(Instance::builder().instance_id(INSTANCE).build())
                        .build(),
                )
                .build()
        });
    let ctx = ctx(&[&gateways, &instances]);
    assert_eq!(
        vpc_entrances(&ctx, "vpc-1").await.unwrap(),
        VpcEntrances {
            internet_gateways: vec![],
            running_instances: vec![INSTANCE.into()],
        }
    );
}

#[tokio::test]
async fn an_attached_gateway_and_the_running_instances_are_the_entrances() {
    let gateways = mock!(aws_sdk_ec2::Client::describe_internet_gateways).then_output(|| {
        DescribeInternetGatewaysOutput::builder()
            .internet_gateways(
                InternetGateway::builder()
                    .internet_gateway_id(GATEWAY)
                    .attachments(
                        InternetGatewayAttachment::builder()
                            .vpc_id("vpc-1")
                            .state(aws_sdk_ec2::types::AttachmentStatus::Attached)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let instances = mock!(aws_sdk_ec2::Client::describe_instances).then_output(|| {
        DescribeInstancesOutput::builder()
            .reservations(
                Reservation::builder()
                    .instances(Instance::builder().instance_id("i-2").build())
                    .instances(Instance::builder().instance_id("i-1").build())
                    .build(),
            )
            .build()
    });
    let ctx = ctx(&[&gateways, &instances]);
    assert_eq!(
        vpc_entrances(&ctx, "vpc-1").await.unwrap(),
        VpcEntrances {
            internet_gateways: vec![GATEWAY.into()],
            running_instances: vec!["i-1".into(), "i-2".into()],
        }
    );
}
