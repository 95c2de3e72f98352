//! `evidence_trail_on`'s choice of trail, and, with aws-smithy-mocks, CloudTrail's documented refusals
//! (API_CreateTrail: <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html>)
//! and undo's conflict rule.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::ErrorMetadata;
use aws_sdk_cloudtrail::operation::create_trail::CreateTrailError;
use aws_sdk_cloudtrail::operation::delete_trail::DeleteTrailOutput;
use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusOutput;
use aws_sdk_cloudtrail::operation::start_logging::StartLoggingOutput;
use aws_sdk_cloudtrail::types::Trail;
use aws_sdk_s3::operation::create_bucket::CreateBucketOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput;
use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

use super::*;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

fn trail(name: &str, home: &str, multi_region: bool, bucket: &str) -> Trail {
    Trail::builder()
        .name(name)
        .trail_arn(trail_arn(home, ACCOUNT, name))
        .home_region(home)
        .is_multi_region_trail(multi_region)
        .is_organization_trail(false)
        .s3_bucket_name(bucket)
        .build()
}

fn seen(trail: Trail, logging: bool) -> Seen {
    Seen {
        trail,
        logging: Some(logging),
        blind: None,
        foreign: None,
    }
}

fn typed(proposal: Proposal<TrailState>) -> TypedCut<TrailState> {
    TypedCut {
        id: format!("evidence_trail_on/global/{}", proposal.target),
        region: "global".into(),
        target: proposal.target,
        before: proposal.before,
        after: proposal.after,
    }
}

#[test]
fn with_no_trail_a_multi_region_trail_is_created_to_the_plans_bucket() {
    let proposal = propose(REGION, ACCOUNT, "20261130-115400", &[]).unwrap();
    assert_eq!(
        proposal.target,
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/hikkonuki-evidence"
    );
    assert!(!proposal.before.exists);
    assert_eq!(
        proposal.after.bucket.as_deref(),
        Some("hikkonuki-evidence-123456789012-20261130-115400-us-east-1")
    );
    assert!(proposal.after.multi_region && proposal.after.logging);
    assert_eq!(proposal.disabled_because, None);
    assert!(
        proposal.reason.contains("--stop-evidence"),
        "{}",
        proposal.reason
    );
    let cut = typed(proposal);
    EvidenceTrailOn.check_states(&cut).unwrap();
    assert_eq!(
        EvidenceTrailOn.undo_record_for(&cut).unwrap().action,
        TrailAction::Created
    );
}

#[test]
fn a_stopped_multi_region_trail_homed_here_is_started_rather_than_a_new_one_made() {
    let stopped = trail("audit", REGION, true, "audit-bucket");
    let proposal = propose(REGION, ACCOUNT, "s", &[seen(stopped, false)]).unwrap();
    assert_eq!(
        proposal.target,
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/audit"
    );
    assert!(proposal.before.exists && !proposal.before.logging && proposal.after.logging);
    assert_eq!(proposal.after.bucket.as_deref(), Some("audit-bucket"));
    assert!(proposal.reason.contains("StartLogging"));
    let cut = typed(proposal);
    EvidenceTrailOn.check_states(&cut).unwrap();
    assert_eq!(
        EvidenceTrailOn.undo_record_for(&cut).unwrap().action,
        TrailAction::Started
    );
}

#[test]
fn a_logging_multi_region_trail_means_nothing_to_do_and_single_region_ones_do_not_count() {
    let everywhere = trail("org", "eu-west-1", true, "b");
    assert_eq!(
        propose(REGION, ACCOUNT, "s", &[seen(everywhere, true)]),
        None
    );
    let here_only = trail("local", REGION, false, "b");
    let proposal = propose(REGION, ACCOUNT, "s", &[seen(here_only, true)]).unwrap();
    assert!(!proposal.before.exists);
    assert!(
        proposal.reason.contains("local (logging)") && proposal.reason.contains("one region"),
        "{}",
        proposal.reason
    );
}

#[test]
fn a_stopped_multi_region_trail_homed_elsewhere_is_not_started_from_here() {
    // StartLogging on a multi-region trail must be called in its home region; the new trail covers all.
    let elsewhere = trail("audit", "eu-west-1", true, "b");
    let proposal = propose(REGION, ACCOUNT, "s", &[seen(elsewhere, false)]).unwrap();
    assert!(!proposal.before.exists);
}

#[test]
fn five_trails_in_the_region_propose_the_trail_switched_off_with_the_limit_named() {
    let trails: Vec<Seen> = (0..TRAILS_PER_REGION)
        .map(|n| seen(trail(&format!("t{n}"), REGION, false, "b"), false))
        .collect();
    let proposal = propose(REGION, ACCOUNT, "s", &trails).unwrap();
    let because = proposal.disabled_because.unwrap();
    assert!(
        because.contains("MaximumNumberOfTrailsExceededException") && because.contains('5'),
        "{because}"
    );
}

#[test]
fn a_trail_already_named_hikkonuki_evidence_that_logs_one_region_is_not_created_again() {
    let existing = trail(TRAIL_NAME, REGION, false, "b");
    let proposal = propose(REGION, ACCOUNT, "s", &[seen(existing, false)]).unwrap();
    assert!(
        proposal
            .disabled_because
            .unwrap()
            .contains("exists already")
    );
}

#[test]
fn check_states_refuses_a_created_trail_with_another_name_or_bucket() {
    let mut cut = typed(propose(REGION, ACCOUNT, "s", &[]).unwrap());
    cut.after.bucket = Some("someone-elses-bucket".into());
    assert!(EvidenceTrailOn.check_states(&cut).is_err());
    let mut cut = typed(propose(REGION, ACCOUNT, "s", &[]).unwrap());
    cut.target = trail_arn(REGION, ACCOUNT, "other");
    cut.before.trail = cut.target.clone();
    cut.after.trail = cut.target.clone();
    assert!(EvidenceTrailOn.check_states(&cut).is_err());
}

fn cloudtrail_error(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} (mocked)"))
        .build()
}

/// The S3 side of a first creation: the bucket is made, blocked and given its policy.
fn fresh_bucket_rules() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_s3::Client::create_bucket)
            .then_output(|| CreateBucketOutput::builder().build()),
        mock!(aws_sdk_s3::Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build()),
        mock!(aws_sdk_s3::Client::put_bucket_policy)
            .then_output(|| PutBucketPolicyOutput::builder().build()),
    ]
}

async fn apply_creation_answered(
    code: &'static str,
    trails_then: Vec<Trail>,
) -> Result<TrailUndo, ServiceError> {
    let cut = typed(propose(REGION, ACCOUNT, "20261130-115400", &[]).unwrap());
    let create = mock!(Client::create_trail)
        .then_error(move || CreateTrailError::generic(cloudtrail_error(code)));
    let describe = mock!(Client::describe_trails).then_output(move || {
        DescribeTrailsOutput::builder()
            .set_trail_list(Some(trails_then.clone()))
            .build()
    });
    let status = mock!(Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(false).build());
    let start = mock!(Client::start_logging).then_output(|| StartLoggingOutput::builder().build());
    let cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        &[&create, &describe, &status, &start]
    );
    let s3_rules = fresh_bucket_rules();
    let s3_refs: Vec<&Rule> = s3_rules.iter().collect();
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &s3_refs);
    let ctx = RegionCtx::for_tests(REGION)
        .mock_cloudtrail(cloudtrail)
        .mock_s3(s3);
    let result = EvidenceTrailOn.apply(&ctx, &cut).await;
    assert_eq!(
        start.num_calls(),
        0,
        "a trail that was not made is not started"
    );
    result
}

#[tokio::test]
async fn mocked_the_five_trail_limit_fails_the_cut_with_cloudtrails_code() {
    let err = apply_creation_answered("MaximumNumberOfTrailsExceededException", vec![])
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("MaximumNumberOfTrailsExceededException")
    );
    assert_eq!(err.operation, "cloudtrail:CreateTrail");
}

#[tokio::test]
async fn mocked_an_insufficient_bucket_policy_fails_the_cut_with_cloudtrails_code() {
    let err = apply_creation_answered("InsufficientS3BucketPolicyException", vec![])
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("InsufficientS3BucketPolicyException")
    );
}

#[tokio::test]
async fn mocked_a_trail_of_that_name_delivering_elsewhere_is_not_taken_over() {
    let theirs = trail(TRAIL_NAME, REGION, true, "their-bucket");
    let err = apply_creation_answered("TrailAlreadyExistsException", vec![theirs])
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("TrailAlreadyExistsException"));
    assert!(
        err.message.contains("their-bucket") && err.message.contains("not hikkonuki's"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn mocked_undo_leaves_a_created_trail_alone_once_it_delivers_elsewhere() {
    let undo = TrailUndo {
        trail: trail_arn(REGION, ACCOUNT, TRAIL_NAME),
        action: TrailAction::Created,
        bucket: Some(bucket_name_for_tests()),
    };
    let moved = trail(TRAIL_NAME, REGION, true, "moved-elsewhere");
    let describe = mock!(Client::describe_trails).then_output(move || {
        DescribeTrailsOutput::builder()
            .trail_list(moved.clone())
            .build()
    });
    let status = mock!(Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let delete = mock!(Client::delete_trail).then_output(|| DeleteTrailOutput::builder().build());
    let cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        &[&describe, &status, &delete]
    );
    let list = mock!(aws_sdk_s3::Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&list]);
    let ctx = RegionCtx::for_tests(REGION)
        .mock_cloudtrail(cloudtrail)
        .mock_s3(s3);
    let outcome = EvidenceTrailOn.undo(&ctx, &undo).await.unwrap();
    assert_eq!(delete.num_calls(), 0);
    assert_eq!(list.num_calls(), 0, "its bucket is not touched either");
    assert!(
        outcome.notes[0].starts_with("conflict:") && outcome.notes[0].contains("moved-elsewhere"),
        "{:?}",
        outcome.notes
    );
}

/// `restore --stop-evidence` of a trail the cut started: stopped again while it delivers where it did;
/// pointed elsewhere since (central logging the team relies on now), left logging as a conflict. A
/// rollback file written before the bucket was recorded still checks, and is undone as before.
#[tokio::test]
async fn mocked_a_started_trail_pointed_elsewhere_since_is_left_logging() {
    let stopped = Seen {
        trail: trail("audit", REGION, true, "audit-bucket"),
        logging: Some(false),
        blind: None,
        foreign: None,
    };
    let cut = typed(propose(REGION, ACCOUNT, "20261130-115400", &[stopped]).unwrap());
    let undo = EvidenceTrailOn.undo_record_for(&cut).unwrap();
    assert_eq!(undo.bucket.as_deref(), Some("audit-bucket"));
    assert_eq!(EvidenceTrailOn.check_undo(&cut, &undo), Ok(()));
    let older = TrailUndo {
        bucket: None,
        ..undo.clone()
    };
    assert_eq!(
        EvidenceTrailOn.check_undo(&cut, &older),
        Ok(()),
        "an older file"
    );
    let forged = TrailUndo {
        bucket: Some("elsewhere".into()),
        ..undo.clone()
    };
    assert!(EvidenceTrailOn.check_undo(&cut, &forged).is_err());

    let moved = trail("audit", REGION, true, "central-logging");
    let describe = mock!(Client::describe_trails).then_output(move || {
        DescribeTrailsOutput::builder()
            .trail_list(moved.clone())
            .build()
    });
    let status = mock!(Client::get_trail_status)
        .then_output(|| GetTrailStatusOutput::builder().is_logging(true).build());
    let stop = mock!(Client::stop_logging).then_output(|| {
        aws_sdk_cloudtrail::operation::stop_logging::StopLoggingOutput::builder().build()
    });
    let cloudtrail = mock_client!(
        aws_sdk_cloudtrail,
        RuleMode::MatchAny,
        &[&describe, &status, &stop]
    );
    let ctx = RegionCtx::for_tests(REGION).mock_cloudtrail(cloudtrail);
    let outcome = EvidenceTrailOn.undo(&ctx, &undo).await.unwrap();
    assert_eq!(stop.num_calls(), 0, "left logging");
    assert!(
        outcome.notes[0].starts_with("conflict:") && outcome.notes[0].contains("central-logging"),
        "{:?}",
        outcome.notes
    );
    // The older record, without the bucket, stops it as before.
    EvidenceTrailOn.undo(&ctx, &older).await.unwrap();
    assert_eq!(stop.num_calls(), 1);
}

fn bucket_name_for_tests() -> String {
    crate::services::evidence::bucket_name(ACCOUNT, "20261130-115400", REGION)
}

/// A bucket of this plan's name made by another account (squatted, to receive the account's logs): S3
/// answers `BucketAlreadyExists`, and the cut fails before the bucket is touched or a trail points at it.
#[tokio::test]
async fn mocked_a_bucket_name_taken_by_another_account_fails_the_cut_before_any_trail_is_made() {
    let cut = typed(propose(REGION, ACCOUNT, "20261130-115400", &[]).unwrap());
    let create_bucket = mock!(aws_sdk_s3::Client::create_bucket).then_error(|| {
        aws_sdk_s3::operation::create_bucket::CreateBucketError::BucketAlreadyExists(
            aws_sdk_s3::types::error::BucketAlreadyExists::builder()
                .meta(
                    aws_sdk_s3::error::ErrorMetadata::builder()
                        .code("BucketAlreadyExists")
                        .build(),
                )
                .build(),
        )
    });
    let block = mock!(aws_sdk_s3::Client::put_public_access_block)
        .then_output(|| PutPublicAccessBlockOutput::builder().build());
    let policy = mock!(aws_sdk_s3::Client::put_bucket_policy)
        .then_output(|| PutBucketPolicyOutput::builder().build());
    let s3 = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        &[&create_bucket, &block, &policy]
    );
    let create_trail = mock!(Client::create_trail).then_output(|| {
        aws_sdk_cloudtrail::operation::create_trail::CreateTrailOutput::builder().build()
    });
    let cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[&create_trail]);
    let ctx = RegionCtx::for_tests(REGION)
        .mock_cloudtrail(cloudtrail)
        .mock_s3(s3);
    let err = EvidenceTrailOn.apply(&ctx, &cut).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("BucketAlreadyExists"), "{err}");
    assert_eq!(err.operation, "s3:CreateBucket");
    assert_eq!(
        (
            block.num_calls(),
            policy.num_calls(),
            create_trail.num_calls()
        ),
        (0, 0, 0)
    );
}

#[test]
fn a_trail_whose_selectors_leave_out_management_writes_records_nothing_of_the_intruder() {
    use aws_sdk_cloudtrail::types::{
        AdvancedEventSelector, AdvancedFieldSelector, EventSelector, ReadWriteType,
    };
    let basic = |include: Option<bool>, rw: Option<ReadWriteType>| {
        EventSelector::builder()
            .set_include_management_events(include)
            .set_read_write_type(rw)
            .build()
    };
    let field = |name: &str, values: &[&str]| {
        let mut f = AdvancedFieldSelector::builder().field(name);
        for v in values {
            f = f.equals(*v);
        }
        f.build().unwrap()
    };
    let advanced = |fields: Vec<AdvancedFieldSelector>| {
        AdvancedEventSelector::builder()
            .set_field_selectors(Some(fields))
            .build()
            .unwrap()
    };
    // CloudTrail's default, written out or not.
    assert_eq!(blind_to_management_writes(&[], &[]), None);
    assert_eq!(blind_to_management_writes(&[basic(None, None)], &[]), None);
    assert_eq!(
        blind_to_management_writes(&[basic(Some(true), Some(ReadWriteType::WriteOnly))], &[]),
        None
    );
    // Narrowed: no management events, or reads only.
    assert!(blind_to_management_writes(&[basic(Some(false), None)], &[]).is_some());
    assert!(
        blind_to_management_writes(&[basic(Some(true), Some(ReadWriteType::ReadOnly))], &[])
            .is_some()
    );
    // Advanced: management (writes) recorded, or only data events, or management reads only.
    let management = advanced(vec![field("eventCategory", &["Management"])]);
    let writes = advanced(vec![
        field("eventCategory", &["Management"]),
        field("readOnly", &["false"]),
    ]);
    let reads = advanced(vec![
        field("eventCategory", &["Management"]),
        field("readOnly", &["true"]),
    ]);
    let data = advanced(vec![
        field("eventCategory", &["Data"]),
        field("resources.type", &["AWS::S3::Object"]),
    ]);
    assert_eq!(blind_to_management_writes(&[], &[management]), None);
    assert_eq!(blind_to_management_writes(&[], &[writes]), None);
    assert!(blind_to_management_writes(&[], &[reads]).is_some());
    assert!(blind_to_management_writes(&[], std::slice::from_ref(&data)).is_some());
}

/// The only multi-region trail logs, but an intruder narrowed its selectors: it is no evidence, so the
/// plan creates a trail of its own, saying why, rather than starting or trusting that one.
#[test]
fn a_logging_trail_blind_to_management_writes_is_not_taken_for_evidence() {
    let mut blind = seen(trail("org-audit", REGION, true, "audit-bucket"), true);
    blind.blind = Some("its event selectors leave management write events out".into());
    let proposal = propose(REGION, ACCOUNT, "20261130-115400", &[blind.clone()])
        .expect("a trail of hikkonuki's own is proposed");
    assert!(!proposal.before.exists, "{proposal:?}");
    assert!(
        proposal.reason.contains("keep no record of the intruder's API calls: org-audit (its event selectors leave management write events out)"),
        "{}",
        proposal.reason
    );
    // Stopped and blind: not the one to start either.
    blind.logging = Some(false);
    let proposal = propose(REGION, ACCOUNT, "20261130-115400", &[blind]).unwrap();
    assert!(!proposal.before.exists, "{proposal:?}");
}

/// A logging multi-region trail of this account whose bucket the account does not own (pointed at
/// another account's by `UpdateTrail`, or its bucket deleted so that anyone may create it) keeps its
/// record in someone else's hands: the plan creates a trail of its own and names that one, and does not
/// start it when it is stopped. An organization trail's bucket is the organization's, and is not asked.
#[test]
fn a_trail_delivering_to_a_bucket_this_account_does_not_own_is_not_taken_for_evidence() {
    let mut foreign = seen(trail("audit", REGION, true, "attacker-logs"), true);
    foreign.foreign = Some(
        super::super::OwnBuckets::Listed(Default::default())
            .not_own("attacker-logs")
            .unwrap(),
    );
    let proposal = propose(REGION, ACCOUNT, "20261130-115400", &[foreign.clone()])
        .expect("a trail of hikkonuki's own is proposed");
    assert!(!proposal.before.exists, "{proposal:?}");
    assert!(
        proposal.reason.contains("deliver where this account cannot keep the record: audit (it delivers to attacker-logs, a bucket this account does not own"),
        "{}",
        proposal.reason
    );
    foreign.logging = Some(false);
    let proposal = propose(REGION, ACCOUNT, "20261130-115400", &[foreign]).unwrap();
    assert!(!proposal.before.exists, "{proposal:?}");
}

/// Another account's organization trail (the management account's, seen from a member) delivers where
/// the member cannot change it, and is not asked about; the management account's own can be pointed
/// anywhere by it, and is asked like any trail; a single-region trail never stands for evidence anyway.
#[test]
fn only_a_trail_this_account_can_repoint_has_its_bucket_asked_about() {
    let organization = |home_account: &str| {
        let mut trail = trail("org", REGION, true, "log-archive");
        trail.is_organization_trail = Some(true);
        trail.trail_arn = Some(trail_arn(REGION, home_account, "org"));
        seen(trail, true)
    };
    assert!(!bucket_asked(&organization("999999999999"), ACCOUNT));
    assert!(bucket_asked(&organization(ACCOUNT), ACCOUNT));
    assert!(bucket_asked(
        &seen(trail("audit", REGION, true, "audit"), true),
        ACCOUNT
    ));
    assert!(!bucket_asked(
        &seen(trail("one", REGION, false, "audit"), true),
        ACCOUNT
    ));
}
