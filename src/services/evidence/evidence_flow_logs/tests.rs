//! `evidence_flow_logs`: which VPCs already record everything, and, with aws-smithy-mocks, EC2's documented
//! per-resource refusals of CreateFlowLogs (returned in `Unsuccessful`, the call itself succeeding:
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateFlowLogs.html>; the codes from
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>) and undo's rule of
//! deleting only the flow logs to this plan's bucket.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::create_flow_logs::CreateFlowLogsOutput;
use aws_sdk_ec2::operation::delete_flow_logs::DeleteFlowLogsOutput;
use aws_sdk_ec2::operation::describe_flow_logs::DescribeFlowLogsOutput;
use aws_sdk_ec2::types::{UnsuccessfulItem, UnsuccessfulItemError};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput;
use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
use aws_sdk_s3::types::Object;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

const REGION: &str = "us-east-1";

fn bucket() -> String {
    super::super::bucket_name("123456789012", "20261130-115400", REGION)
}

fn flow_log(id: &str, vpc: &str, traffic: &str, destination: Option<&str>) -> FlowLog {
    let log = FlowLog::builder()
        .flow_log_id(id)
        .resource_id(vpc)
        .flow_log_status("ACTIVE")
        .traffic_type(TrafficType::from(traffic));
    match destination {
        Some(destination) => log
            .log_destination_type(LogDestinationType::S3)
            .log_destination(destination)
            .build(),
        None => log
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name("flows")
            .build(),
    }
}

fn vpc(id: &str) -> VpcWithAWayOut {
    VpcWithAWayOut {
        vpc_id: id.into(),
        ways_out: vec!["route to igw-1".into()],
    }
}

fn cut() -> TypedCut<FlowLogState> {
    let proposal = propose(&vpc("vpc-1"), &bucket(), &[], 0);
    TypedCut {
        id: "evidence_flow_logs/us-east-1/vpc-1".into(),
        region: REGION.into(),
        target: proposal.target,
        before: proposal.before,
        after: proposal.after,
    }
}

#[test]
fn a_vpc_already_recording_all_its_traffic_gets_no_evidence_flow_log_and_a_rejects_only_one_does() {
    let vpcs = [vpc("vpc-all"), vpc("vpc-rejects"), vpc("vpc-none")];
    let logs = [
        flow_log("fl-1", "vpc-all", "ALL", None),
        flow_log("fl-2", "vpc-rejects", "REJECT", Some("arn:aws:s3:::x")),
    ];
    let (to_record, recorded) = split(&vpcs, &logs, ACCOUNT, &owning(&["x"]));
    assert_eq!(
        to_record
            .iter()
            .map(|(v, _)| v.vpc_id.as_str())
            .collect::<Vec<_>>(),
        ["vpc-rejects", "vpc-none"]
    );
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0.vpc_id, "vpc-all");
    assert_eq!(recorded[0].1, ["fl-1 to cloud-watch-logs"]);
}

const ACCOUNT: &str = "123456789012";

fn owning(buckets: &[&str]) -> OwnBuckets {
    OwnBuckets::Listed(std::sync::Arc::new(
        buckets.iter().map(|b| b.to_string()).collect(),
    ))
}

/// What `split` makes of one flow log of all of `vpc-1`'s traffic: `Ok` recorded, `Err` left out,
/// with why.
fn judged(log: FlowLog, own: &OwnBuckets) -> Result<String, String> {
    let vpcs = [vpc("vpc-1")];
    let (to_record, recorded) = split(&vpcs, std::slice::from_ref(&log), ACCOUNT, own);
    match (to_record.as_slice(), recorded.as_slice()) {
        ([(_, left_out)], []) => Err(left_out.join("; ")),
        ([], [(_, existing)]) => Ok(existing.join("; ")),
        other => panic!("one VPC, judged once: {other:?}"),
    }
}

/// A flow log of all of `vpc-1`'s traffic to `destination`, changed by `edit`.
fn all_traffic_to(destination: Option<&str>, edit: impl FnOnce(&mut FlowLog)) -> FlowLog {
    let mut log = flow_log("fl-1", "vpc-1", "ALL", destination);
    edit(&mut log);
    log
}

/// An intruder with `ec2:CreateFlowLogs` makes a flow log of all traffic that keeps no record the
/// responder holds: delivery failing, another account's bucket (or one deleted, whose name anyone may
/// take), another account's log group or stream, a Firehose stream (which only forwards), or a format
/// without the addresses. None stands for the evidence: the VPC gets a flow log of its own and the
/// reason says which was left out and why.
#[test]
fn a_flow_log_failing_foreign_or_without_addresses_is_not_taken_for_evidence() {
    let ours = owning(&["team-flow-logs"]);
    let to_ours = Some("arn:aws:s3:::team-flow-logs/vpc");
    assert_eq!(
        judged(all_traffic_to(to_ours, |_| {}), &ours),
        Ok("fl-1 to s3".to_string())
    );

    let failing = all_traffic_to(to_ours, |log| {
        log.deliver_logs_status = Some("FAILED".into());
        log.deliver_logs_error_message = Some("Access error".into());
    });
    assert_eq!(
        judged(failing, &ours),
        Err("fl-1 (its delivery fails: Access error)".to_string())
    );

    let foreign = judged(
        all_traffic_to(Some("arn:aws:s3:::attacker-logs/x"), |_| {}),
        &ours,
    )
    .unwrap_err();
    assert!(
        foreign
            .starts_with("fl-1 (it delivers to attacker-logs, a bucket this account does not own"),
        "{foreign}"
    );
    let unread = judged(
        all_traffic_to(to_ours, |_| {}),
        &OwnBuckets::Unread("s3:ListBuckets: AccessDenied".into()),
    )
    .unwrap_err();
    assert!(
        unread.contains(
            "could not be read (s3:ListBuckets: AccessDenied; needs s3:ListAllMyBuckets)"
        ),
        "{unread}"
    );

    let other_group = all_traffic_to(None, |log| {
        log.log_destination = Some("arn:aws:logs:us-east-1:999999999999:log-group:flows".into());
    });
    assert_eq!(
        judged(other_group, &ours),
        Err("fl-1 (it delivers to account 999999999999)".to_string())
    );
    let own_group = all_traffic_to(None, |log| {
        log.log_destination = Some(format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:flows"));
    });
    assert!(judged(own_group, &ours).is_ok());
    // A Firehose stream keeps nothing: of this account or another's, its records go where it forwards
    // them, which is not read.
    let own_stream = all_traffic_to(None, |log| {
        log.log_destination_type = Some(LogDestinationType::KinesisDataFirehose);
        log.log_group_name = None;
        log.log_destination = Some(format!(
            "arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/to-siem"
        ));
    });
    assert_eq!(
        judged(own_stream, &ours),
        Err("fl-1 (it delivers through the Firehose stream to-siem, which keeps no record itself and forwards it to a destination not checked here)".to_string())
    );
    let own_role = all_traffic_to(None, |log| {
        log.deliver_cross_account_role = Some(format!("arn:aws:iam::{ACCOUNT}:role/deliver"));
    });
    assert!(judged(own_role, &ours).is_ok());
    let through_role = all_traffic_to(None, |log| {
        log.deliver_cross_account_role = Some("arn:aws:iam::999999999999:role/deliver".into());
    });
    assert_eq!(
        judged(through_role, &ours),
        Err("fl-1 (it delivers to another account, through the role arn:aws:iam::999999999999:role/deliver)".to_string())
    );

    let without_addresses = all_traffic_to(to_ours, |log| {
        log.log_format = Some("${version} ${interface-id} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action}".into());
    });
    assert_eq!(
        judged(without_addresses, &ours),
        Err("fl-1 (its format leaves out ${srcaddr} ${dstaddr})".to_string())
    );
    let default_and_more = all_traffic_to(to_ours, |log| {
        log.log_format = Some("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id}".into());
    });
    assert!(judged(default_and_more, &ours).is_ok());

    let vpcs = [vpc("vpc-1")];
    let logs = [all_traffic_to(Some("arn:aws:s3:::attacker-logs"), |_| {})];
    let (to_record, _) = split(&vpcs, &logs, ACCOUNT, &ours);
    let proposal = propose(to_record[0].0, &bucket(), &to_record[0].1, 1);
    assert_eq!(proposal.disabled_because, None);
    assert!(
        proposal.reason.contains(
            "Its flow logs of all traffic not taken for evidence: fl-1 (it delivers to attacker-logs, a bucket this account does not own"
        ),
        "{}",
        proposal.reason
    );
}

/// AWS allows two flow logs per VPC and refuses a third (`FlowLogsLimitExceeded`; the quota cannot be
/// raised). A VPC whose two flow logs are both no evidence (here one failing, one through Firehose, and
/// a third VPC's log that does not count) gets its cut proposed disabled, saying what to delete, so the
/// review shows the evidence missing rather than apply failing on it.
#[test]
fn a_vpc_at_awss_two_flow_logs_gets_its_cut_disabled_saying_what_to_delete() {
    let ours = owning(&["team-flow-logs"]);
    let failing = all_traffic_to(Some("arn:aws:s3:::team-flow-logs"), |log| {
        log.deliver_logs_status = Some("FAILED".into());
    });
    let mut through_firehose = flow_log("fl-2", "vpc-1", "ALL", None);
    through_firehose.log_destination_type = Some(LogDestinationType::KinesisDataFirehose);
    through_firehose.log_destination = Some(format!(
        "arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/to-siem"
    ));
    let elsewhere = flow_log("fl-3", "vpc-2", "REJECT", None);
    let vpcs = [vpc("vpc-1")];
    let logs = [failing, through_firehose, elsewhere];
    let (to_record, recorded) = split(&vpcs, &logs, ACCOUNT, &ours);
    assert!(recorded.is_empty());
    assert_eq!(on_the_vpc(&logs, &vpcs[0]), 2);
    let proposal = propose(to_record[0].0, &bucket(), &to_record[0].1, 2);
    assert_eq!(
        proposal.disabled_because.as_deref(),
        Some(
            "vpc-1 has 2 flow logs already, and AWS allows 2 per VPC (a quota that cannot be raised): delete one of them that is no evidence (aws ec2 delete-flow-logs --flow-log-ids ID), and plan again"
        )
    );
    assert!(proposal.reason.contains("fl-1 (its delivery fails"));
    assert!(
        proposal
            .reason
            .contains("fl-2 (it delivers through the Firehose stream to-siem")
    );
}

#[test]
fn the_proposal_names_the_rule_the_way_out_and_the_bucket_and_checks() {
    let cut = cut();
    EvidenceFlowLogs.check_states(&cut).unwrap();
    let proposal = propose(&vpc("vpc-1"), &bucket(), &[], 0);
    assert!(proposal.reason.contains("route to igw-1"));
    assert!(proposal.reason.contains(&bucket()));
    assert!(proposal.reason.contains(vpcs::RULE));
    let mut elsewhere = cut.clone();
    elsewhere.after.bucket = "someone-elses".into();
    elsewhere.before.bucket = "someone-elses".into();
    assert!(EvidenceFlowLogs.check_states(&elsewhere).is_err());
}

fn refused(code: &'static str) -> CreateFlowLogsOutput {
    CreateFlowLogsOutput::builder()
        .unsuccessful(
            UnsuccessfulItem::builder()
                .resource_id("vpc-1")
                .error(
                    UnsuccessfulItemError::builder()
                        .code(code)
                        .message(format!("{code} (mocked)"))
                        .build(),
                )
                .build(),
        )
        .build()
}

/// Applies the cut with CreateFlowLogs answering `created` and DescribeFlowLogs `then`, the bucket
/// existing already.
async fn apply_answered(
    created: CreateFlowLogsOutput,
    then: Vec<FlowLog>,
) -> Result<FlowLogState, ServiceError> {
    let create = mock!(Client::create_flow_logs).then_output(move || created.clone());
    let describe = mock!(Client::describe_flow_logs).then_output(move || {
        DescribeFlowLogsOutput::builder()
            .set_flow_logs(Some(then.clone()))
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create, &describe]);
    // S3's documented answer for a bucket this account owns already (outside us-east-1).
    let create = mock!(aws_sdk_s3::Client::create_bucket).then_error(|| {
        aws_sdk_s3::operation::create_bucket::CreateBucketError::BucketAlreadyOwnedByYou(
            aws_sdk_s3::types::error::BucketAlreadyOwnedByYou::builder()
                .meta(
                    aws_sdk_s3::error::ErrorMetadata::builder()
                        .code("BucketAlreadyOwnedByYou")
                        .build(),
                )
                .build(),
        )
    });
    let block = mock!(aws_sdk_s3::Client::put_public_access_block)
        .then_output(|| PutPublicAccessBlockOutput::builder().build());
    let policy = mock!(aws_sdk_s3::Client::put_bucket_policy)
        .then_output(|| PutBucketPolicyOutput::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&create, &block, &policy]);
    let ctx = RegionCtx::with_ec2(REGION, ec2).mock_s3(s3);
    let result = EvidenceFlowLogs.apply(&ctx, &cut()).await;
    assert_eq!(
        (block.num_calls(), policy.num_calls()),
        (1, 1),
        "the bucket is blocked and given its policy before any flow log delivers to it"
    );
    result
}

#[tokio::test]
async fn mocked_the_flow_log_limit_fails_the_cut_with_ec2s_code() {
    let err = apply_answered(refused("FlowLogsLimitExceeded"), vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("FlowLogsLimitExceeded"));
    assert_eq!(err.operation, "ec2:CreateFlowLogs");
    assert!(err.message.contains("vpc-1"), "{}", err.message);
}

#[tokio::test]
async fn mocked_the_same_flow_log_made_by_an_earlier_run_is_the_cut_done() {
    let ours = flow_log(
        "fl-9",
        "vpc-1",
        "ALL",
        Some(&destination("us-east-1", &bucket())),
    );
    let undo = apply_answered(refused("FlowLogAlreadyExists"), vec![ours])
        .await
        .unwrap();
    assert_eq!(undo, cut().after);
}

#[tokio::test]
async fn mocked_flow_log_already_exists_without_ours_is_a_failure_not_a_success() {
    let theirs = flow_log("fl-8", "vpc-1", "ALL", Some("arn:aws:s3:::theirs"));
    let err = apply_answered(refused("FlowLogAlreadyExists"), vec![theirs])
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("FlowLogAlreadyExists"));
}

#[tokio::test]
async fn mocked_undo_deletes_only_the_flow_logs_to_this_plans_bucket_and_keeps_a_bucket_with_logs()
{
    let ours = flow_log(
        "fl-ours",
        "vpc-1",
        "ALL",
        Some(&format!("{}/", destination("us-east-1", &bucket()))),
    );
    let theirs = flow_log("fl-theirs", "vpc-1", "ALL", Some("arn:aws:s3:::theirs"));
    let describe = mock!(Client::describe_flow_logs).then_output(move || {
        DescribeFlowLogsOutput::builder()
            .flow_logs(ours.clone())
            .flow_logs(theirs.clone())
            .build()
    });
    let delete = mock!(Client::delete_flow_logs)
        .match_requests(|req| req.flow_log_ids() == ["fl-ours".to_string()])
        .then_output(|| DeleteFlowLogsOutput::builder().build());
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe, &delete]);
    let list = mock!(aws_sdk_s3::Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(
                Object::builder()
                    .key("AWSLogs/123456789012/x.log.gz")
                    .build(),
            )
            .build()
    });
    let remove = mock!(aws_sdk_s3::Client::delete_bucket).then_output(|| {
        aws_sdk_s3::operation::delete_bucket::DeleteBucketOutput::builder().build()
    });
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&list, &remove]);
    let ctx = RegionCtx::with_ec2(REGION, ec2).mock_s3(s3);
    let outcome = EvidenceFlowLogs.undo(&ctx, &cut().after).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
    assert_eq!(remove.num_calls(), 0, "a bucket holding logs is evidence");
    assert!(
        outcome.notes[0].contains("fl-ours deleted"),
        "{:?}",
        outcome.notes
    );
    assert!(
        outcome.notes[1].contains("kept") && outcome.notes[1].contains("aws s3 rb"),
        "{:?}",
        outcome.notes
    );
}

/// `apply --check` lists these cuts as unchecked, saying why (as the README does): the bucket their
/// flow logs go to is made by apply, not by a check.
#[tokio::test]
async fn a_check_lists_the_cut_as_unchecked_because_its_bucket_is_not_made_yet() {
    let ctx = RegionCtx::for_tests(REGION);
    let verdict = CutKind::check_permission(&EvidenceFlowLogs, &ctx, &cut()).await;
    assert!(
        matches!(&verdict, PermissionCheck::NotCheckable(why) if why.contains("evidence bucket apply makes first")),
        "{verdict:?}"
    );
}
