//! The engine's side of verify, with a stand-in kind whose cuts are each in one VPC and mocked AWS
//! answers (the emulator lacks Reachability Analyzer): which VPCs are asked about, what is reported for
//! each, and that the file's account is checked before any EC2 call.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_sdk_ec2::operation::create_network_insights_path::CreateNetworkInsightsPathOutput;
use aws_sdk_ec2::operation::delete_network_insights_analysis::DeleteNetworkInsightsAnalysisOutput;
use aws_sdk_ec2::operation::delete_network_insights_path::DeleteNetworkInsightsPathOutput;
use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
use aws_sdk_ec2::operation::describe_network_insights_analyses::DescribeNetworkInsightsAnalysesOutput;
use aws_sdk_ec2::operation::start_network_insights_analysis::StartNetworkInsightsAnalysisOutput;
use aws_sdk_ec2::types::{
    AnalysisComponent, AnalysisStatus, Instance, InternetGateway, NetworkInsightsAnalysis,
    NetworkInsightsPath, PathComponent, Reservation,
};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde::{Deserialize, Serialize};

use super::*;
use crate::aws::RegionCtx;
use crate::journal::keys::KeyStore;
use crate::journal::{Entry, FORMAT_VERSION, Journal};
use crate::plan::Cut;
use crate::report::RecordingReporter;
use crate::services::{
    DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut, UndoOutcome,
};

const ACCOUNT: &str = "123456789012";

/// A cut of something inside one VPC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InVpc {
    vpc: String,
    open: bool,
}

struct Fence;

static FENCE: KindInfo = KindInfo {
    name: "fence",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::VpcSeal,
};

#[async_trait]
impl crate::services::CutKind for Fence {
    type State = InVpc;
    type Undo = InVpc;

    fn info(&self) -> &'static KindInfo {
        &FENCE
    }

    fn check_states(&self, _cut: &TypedCut<InVpc>) -> Result<(), String> {
        Ok(())
    }

    async fn discover(
        &self,
        _ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<InVpc>>, ServiceError> {
        Ok(Vec::new())
    }

    async fn observe(
        &self,
        _ctx: &RegionCtx,
        cut: &TypedCut<InVpc>,
    ) -> Result<Option<InVpc>, ServiceError> {
        Ok(Some(cut.after.clone()))
    }

    async fn apply(&self, _ctx: &RegionCtx, cut: &TypedCut<InVpc>) -> Result<InVpc, ServiceError> {
        self.undo_record_for(cut)
    }

    fn undo_record_for(&self, cut: &TypedCut<InVpc>) -> Result<InVpc, ServiceError> {
        Ok(cut.before.clone())
    }

    fn vpcs(&self, state: &InVpc) -> Vec<String> {
        vec![state.vpc.clone()]
    }

    async fn undo(&self, _ctx: &RegionCtx, _undo: &InVpc) -> Result<UndoOutcome, ServiceError> {
        Ok(UndoOutcome::default())
    }
}

fn fence(target: &str, vpc: &str) -> Cut {
    Cut {
        id: Cut::expected_id(FENCE.name, "us-east-1", target),
        kind: FENCE.name.into(),
        region: "us-east-1".into(),
        target: target.into(),
        enabled: true,
        reversible: true,
        reason: "test".into(),
        before: serde_json::json!({"vpc": vpc, "open": true}).into(),
        after: serde_json::json!({"vpc": vpc, "open": false}).into(),
    }
}

/// A rollback file as apply writes it, recording each cut as done.
fn rollback_with(dir: &std::path::Path, cuts: &[Cut]) -> (PathBuf, KeyStore) {
    let path = dir.join("p.rollback.yaml");
    let keys = KeyStore::in_dir(&dir.join("keys"));
    let mut journal = Journal::create(
        RollbackFile::open_or_create(&path).unwrap(),
        Entry::Header {
            format: FORMAT_VERSION,
            account: ACCOUNT.into(),
            caller: format!("arn:aws:iam::{ACCOUNT}:user/responder"),
            plan: "plans/p.yaml".into(),
            plan_sha256: "00".into(),
            tool_version: "0.1.0".into(),
            key: None,
            member_role: None,
        },
        &keys,
    )
    .unwrap();
    for cut in cuts {
        journal.append(Entry::Intent { cut: cut.clone() }).unwrap();
        journal
            .append(Entry::Done {
                id: cut.id.clone(),
                undo: cut.before.clone(),
            })
            .unwrap();
    }
    (path, keys)
}

fn session(account: &'static str, ec2: aws_sdk_ec2::Client) -> AwsSession {
    let who = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
        GetCallerIdentityOutput::builder()
            .account(account)
            .arn(format!("arn:aws:iam::{account}:user/responder"))
            .user_id("AIDA")
            .build()
    });
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[&who]);
    AwsSession::with_regions(
        "us-east-1",
        vec![
            RegionCtx::for_tests("us-east-1")
                .mock_sts(sts)
                .mock_ec2(ec2),
        ],
    )
}

/// `vpc-open` has igw-1 attached and i-1 running; `vpc-detached` has no gateway left. Counts the
/// gateway reads per VPC.
fn account_rules(asked: Arc<AtomicUsize>) -> Vec<Rule> {
    let component = |id: &str| AnalysisComponent::builder().id(id).build();
    let reachable = NetworkInsightsAnalysis::builder()
        .network_insights_analysis_id("nia-1")
        .status(AnalysisStatus::Succeeded)
        .network_path_found(true)
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(1)
                .component(component("igw-1"))
                .build(),
        )
        .forward_path_components(
            PathComponent::builder()
                .sequence_number(2)
                .component(component("i-1"))
                .build(),
        )
        .build();
    vec![
        mock!(aws_sdk_ec2::Client::describe_internet_gateways).then_compute_output(
            move |request| {
                asked.fetch_add(1, Ordering::SeqCst);
                let open = request
                    .filters()
                    .iter()
                    .any(|filter| filter.values() == ["vpc-open"]);
                let mut out = DescribeInternetGatewaysOutput::builder();
                if open {
                    out = out.internet_gateways(
                        InternetGateway::builder()
                            .internet_gateway_id("igw-1")
                            .build(),
                    );
                }
                out.build()
            },
        ),
        mock!(aws_sdk_ec2::Client::describe_instances).then_output(|| {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(Instance::builder().instance_id("i-1").build())
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ec2::Client::create_network_insights_path).then_output(|| {
            CreateNetworkInsightsPathOutput::builder()
                .network_insights_path(
                    NetworkInsightsPath::builder()
                        .network_insights_path_id("nip-1")
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ec2::Client::start_network_insights_analysis).then_output(|| {
            StartNetworkInsightsAnalysisOutput::builder()
                .network_insights_analysis(
                    NetworkInsightsAnalysis::builder()
                        .network_insights_analysis_id("nia-1")
                        .status(AnalysisStatus::Running)
                        .build(),
                )
                .build()
        }),
        mock!(aws_sdk_ec2::Client::describe_network_insights_analyses).then_output(move || {
            DescribeNetworkInsightsAnalysesOutput::builder()
                .network_insights_analyses(reachable.clone())
                .build()
        }),
        mock!(aws_sdk_ec2::Client::delete_network_insights_analysis)
            .then_output(|| DeleteNetworkInsightsAnalysisOutput::builder().build()),
        mock!(aws_sdk_ec2::Client::delete_network_insights_path)
            .then_output(|| DeleteNetworkInsightsPathOutput::builder().build()),
    ]
}

fn request(rollback: PathBuf, keys: KeyStore) -> VerifyRequest {
    VerifyRequest {
        rollback,
        keys,
        timeout: Duration::from_secs(10),
        polling: Polling {
            first: Duration::from_millis(5),
            longest: Duration::from_millis(5),
        },
        parallelism: 2,
        only_vpcs: Vec::new(),
    }
}

#[tokio::test]
async fn each_vpc_of_the_cuts_in_force_is_asked_about_once_and_each_answer_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Two cuts in the same VPC: its gateways are read once.
    let (rollback, keys) = rollback_with(
        dir.path(),
        &[
            fence("sg-1", "vpc-open"),
            fence("sg-2", "vpc-open"),
            fence("igw-9", "vpc-detached"),
        ],
    );
    let asked = Arc::new(AtomicUsize::new(0));
    let rules = account_rules(asked.clone());
    let rules: Vec<&Rule> = rules.iter().collect();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let registry = Registry::of_kinds(vec![Box::new(Fence)]);
    let reporter = RecordingReporter::default();
    let report = check(
        &session(ACCOUNT, ec2),
        &registry,
        &request(rollback, keys),
        None,
        &reporter,
    )
    .await
    .unwrap();
    assert_eq!(report.account, ACCOUNT);
    assert_eq!(report.vpcs, 2);
    assert_eq!(asked.load(Ordering::SeqCst), 2, "one read per VPC");
    let outcomes: Vec<(String, &str)> = report
        .verified
        .iter()
        .map(|item| (item.id(), item.outcome.name()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("us-east-1/vpc-detached".to_string(), "no_internet_gateway"),
            ("us-east-1/vpc-open/igw-1/i-1".to_string(), "reachable"),
        ]
    );
    assert_eq!(report.reachable(), 1);
    assert_eq!(report.unanswered(), 0);
    let events = reporter.events.lock().unwrap();
    assert!(
        events.contains(&Event::Started {
            command: "verify".into(),
            total: 1,
            by_kind: [("reachability".to_string(), 1)].into(),
            dry_run: false,
        }),
        "the paths to analyze are counted first, for progress: {events:?}"
    );
    assert!(events.contains(&Event::PathVerified {
        region: "us-east-1".into(),
        vpc: "vpc-detached".into(),
        source: None,
        destination: None,
        outcome: "no_internet_gateway".into(),
        details: vec!["no internet gateway attached: nothing to analyze from the internet".into()],
        cleanup_failures: vec![],
    }));
    assert!(events.contains(&Event::PathVerified {
        region: "us-east-1".into(),
        vpc: "vpc-open".into(),
        source: Some("igw-1".into()),
        destination: Some("i-1".into()),
        outcome: "reachable".into(),
        details: vec!["path: igw-1 -> i-1".into()],
        cleanup_failures: vec![],
    }));
}

#[tokio::test]
async fn vpc_narrows_the_question_to_the_vpcs_named() {
    let dir = tempfile::tempdir().unwrap();
    let (rollback, keys) = rollback_with(
        dir.path(),
        &[fence("sg-1", "vpc-open"), fence("igw-9", "vpc-detached")],
    );
    let asked = Arc::new(AtomicUsize::new(0));
    let rules = account_rules(asked.clone());
    let rules: Vec<&Rule> = rules.iter().collect();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let registry = Registry::of_kinds(vec![Box::new(Fence)]);
    let request = VerifyRequest {
        only_vpcs: vec!["vpc-det*".into()],
        ..request(rollback, keys)
    };
    let report = check(
        &session(ACCOUNT, ec2),
        &registry,
        &request,
        None,
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.vpcs, 1);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(report.verified.len(), 1);
    assert_eq!(report.verified[0].vpc, "vpc-detached");
}

#[tokio::test]
async fn a_file_of_another_account_is_refused_before_any_ec2_call() {
    let dir = tempfile::tempdir().unwrap();
    let (rollback, keys) = rollback_with(dir.path(), &[fence("sg-1", "vpc-open")]);
    let asked = Arc::new(AtomicUsize::new(0));
    let rules = account_rules(asked.clone());
    let rules: Vec<&Rule> = rules.iter().collect();
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &rules);
    let registry = Registry::of_kinds(vec![Box::new(Fence)]);
    let refused = check(
        &session("210987654321", ec2),
        &registry,
        &request(rollback, keys),
        None,
        &RecordingReporter::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(refused, EngineError::WrongAccount { .. }),
        "{refused}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert!(rules.iter().all(|rule| rule.num_calls() == 0));
}
