//! `evidence_snapshots`: the incident option, and, with aws-smithy-mocks, CreateSnapshots' answers
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html>; error codes from
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>) and an undo that never
//! deletes, and names a snapshot deleted since apply (DescribeSnapshots' `InvalidSnapshot.NotFound`).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::create_snapshots::{CreateSnapshotsError, CreateSnapshotsOutput};
use aws_sdk_ec2::operation::describe_snapshots::{DescribeSnapshotsError, DescribeSnapshotsOutput};
use aws_sdk_ec2::types::{Snapshot, SnapshotInfo};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

fn cut() -> TypedCut<SnapshotState> {
    let before = SnapshotState {
        instance_id: "i-1".into(),
        incident: "INC-7".into(),
        volumes: vec![
            Volume {
                volume_id: "vol-1".into(),
                size_gib: 8,
            },
            Volume {
                volume_id: "vol-2".into(),
                size_gib: 100,
            },
        ],
        snapshotted: false,
    };
    TypedCut {
        id: "evidence_snapshots/us-east-1/i-1".into(),
        region: "us-east-1".into(),
        target: "i-1".into(),
        after: SnapshotState {
            snapshotted: true,
            ..before.clone()
        },
        before,
    }
}

#[test]
fn an_incident_id_is_a_tag_value() {
    check_incident("INC-2041").unwrap();
    check_incident("case 12/7 @ acme").unwrap();
    assert!(check_incident("").is_err());
    assert!(check_incident("no;semicolons").is_err());
    assert!(check_incident(&"x".repeat(257)).is_err());
}

#[test]
fn the_cut_keeps_volumes_and_incident_and_sums_the_size() {
    let cut = cut();
    EvidenceSnapshots.check_states(&cut).unwrap();
    assert_eq!(gib_total(&cut.before.volumes), 108);
    let mut changed = cut.clone();
    changed.after.incident = "other".into();
    assert!(EvidenceSnapshots.check_states(&changed).is_err());
}

#[test]
fn the_undo_record_may_carry_the_snapshot_ids_apply_learned_but_not_another_instance() {
    let cut = cut();
    let learned = SnapshotUndo {
        instance_id: "i-1".into(),
        incident: "INC-7".into(),
        snapshot_ids: Some(vec!["snap-1".into(), "snap-2".into()]),
    };
    EvidenceSnapshots.check_undo(&cut, &learned).unwrap();
    let other = SnapshotUndo {
        instance_id: "i-2".into(),
        ..learned
    };
    assert!(EvidenceSnapshots.check_undo(&cut, &other).is_err());
}

#[tokio::test]
async fn mocked_apply_records_every_snapshot_id_of_the_multi_volume_set_without_waiting() {
    let create = mock!(Client::create_snapshots)
        .match_requests(|req| {
            req.instance_specification()
                .and_then(|spec| spec.instance_id())
                == Some("i-1")
                && req.tag_specifications()[0]
                    .tags()
                    .iter()
                    .any(|t| t.key() == Some(INCIDENT_TAG) && t.value() == Some("INC-7"))
        })
        .then_output(|| {
            CreateSnapshotsOutput::builder()
                .snapshots(
                    SnapshotInfo::builder()
                        .snapshot_id("snap-1")
                        .volume_id("vol-1")
                        .state(aws_sdk_ec2::types::SnapshotState::Pending)
                        .build(),
                )
                .snapshots(
                    SnapshotInfo::builder()
                        .snapshot_id("snap-2")
                        .volume_id("vol-2")
                        .state(aws_sdk_ec2::types::SnapshotState::Pending)
                        .build(),
                )
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let undo = EvidenceSnapshots.apply(&ctx, &cut()).await.unwrap();
    assert_eq!(
        undo.snapshot_ids,
        Some(vec!["snap-1".to_string(), "snap-2".to_string()])
    );
    assert_eq!(
        create.num_calls(),
        1,
        "one call per instance, nothing polled"
    );
}

#[tokio::test]
async fn mocked_the_per_volume_snapshot_rate_fails_the_cut_with_ec2s_code() {
    let create = mock!(Client::create_snapshots).then_error(|| {
        CreateSnapshotsError::generic(
            ErrorMetadata::builder()
                .code("SnapshotCreationPerVolumeRateExceeded")
                .message("The rate limit for creating concurrent snapshots of an EBS volume has been exceeded")
                .build(),
        )
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let err = EvidenceSnapshots.apply(&ctx, &cut()).await.unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("SnapshotCreationPerVolumeRateExceeded")
    );
    assert_eq!(err.operation, "ec2:CreateSnapshots");
}

#[tokio::test]
async fn mocked_undo_after_a_crash_finds_the_snapshots_by_tag_and_deletes_nothing() {
    let describe = mock!(Client::describe_snapshots).then_output(|| {
        DescribeSnapshotsOutput::builder()
            .snapshots(
                Snapshot::builder()
                    .snapshot_id("snap-1")
                    .volume_id("vol-1")
                    .build(),
            )
            .build()
    });
    // Any other call (a DeleteSnapshot) finds no rule and fails the test.
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let undo = EvidenceSnapshots.undo_record_for(&cut()).unwrap();
    assert_eq!(undo.snapshot_ids, None);
    let outcome = EvidenceSnapshots.undo(&ctx, &undo).await.unwrap();
    assert_eq!(describe.num_calls(), 1);
    assert!(
        outcome.notes[0].contains("snap-1") && outcome.notes[0].contains("kept"),
        "{:?}",
        outcome.notes
    );
}

fn recorded(ids: &[&str]) -> SnapshotUndo {
    SnapshotUndo {
        snapshot_ids: Some(ids.iter().map(|id| id.to_string()).collect()),
        ..EvidenceSnapshots.undo_record_for(&cut()).unwrap()
    }
}

fn describe_error(code: &str, message: &str) -> DescribeSnapshotsError {
    DescribeSnapshotsError::generic(ErrorMetadata::builder().code(code).message(message).build())
}

/// A recorded snapshot deleted since apply: asked together, AWS answers `InvalidSnapshot.NotFound` for
/// all; asked one by one, it tells which is gone. The gone one is a conflict (lost evidence), the other
/// is named kept, and nothing is deleted.
#[tokio::test]
async fn mocked_undo_names_a_snapshot_deleted_since_apply_as_a_conflict_and_keeps_the_other() {
    let together = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids().len() == 2)
        .then_error(|| {
            describe_error(
                "InvalidSnapshot.NotFound",
                "The snapshot 'snap-1' does not exist.",
            )
        });
    let second = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids() == ["snap-2"])
        .then_output(|| {
            DescribeSnapshotsOutput::builder()
                .snapshots(Snapshot::builder().snapshot_id("snap-2").build())
                .build()
        });
    let first = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids() == ["snap-1"])
        .then_error(|| {
            describe_error(
                "InvalidSnapshot.NotFound",
                "The snapshot 'snap-1' does not exist.",
            )
        });
    // Any other call (a DeleteSnapshot) finds no rule and fails the test.
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&together, &first, &second]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let outcome = EvidenceSnapshots
        .undo(&ctx, &recorded(&["snap-1", "snap-2"]))
        .await
        .unwrap();
    assert_eq!(
        outcome.notes,
        [
            "i-1: evidence snapshots snap-2 (incident INC-7) are kept: restore never deletes evidence. Once the incident is closed: aws ec2 delete-snapshot --region us-east-1 --snapshot-id ID, for each",
            "conflict: evidence snapshot snap-1 of i-1 (incident INC-7) was deleted after the cut; restore neither deletes nor takes snapshots",
        ]
    );
    assert_eq!(
        UndoOutcome::conflicts(&outcome.notes).len(),
        1,
        "listed in restore's summary"
    );
}

/// Restore changes nothing here, so a refused read does not fail it: the recorded snapshots are named
/// kept, with the refusal.
#[tokio::test]
async fn mocked_undo_that_cannot_read_the_snapshots_names_them_and_the_refusal() {
    let describe = mock!(Client::describe_snapshots).then_error(|| {
        describe_error(
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        )
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let outcome = EvidenceSnapshots
        .undo(&ctx, &recorded(&["snap-1"]))
        .await
        .unwrap();
    assert_eq!(outcome.notes.len(), 2, "{:?}", outcome.notes);
    assert!(
        outcome.notes[0].starts_with("i-1: evidence snapshots snap-1 (incident INC-7) are kept"),
        "{:?}",
        outcome.notes
    );
    assert!(
        outcome.notes[1].starts_with(
            "i-1: whether they all still exist could not be read (ec2:DescribeSnapshots failed: UnauthorizedOperation"
        ),
        "{:?}",
        outcome.notes
    );
}

/// `apply --check` sends apply's CreateSnapshots for the instance as a dry run, and reads EC2's
/// `DryRunOperation` as permitted.
#[tokio::test]
async fn mocked_check_dry_runs_the_instances_snapshots() {
    use crate::services::PermissionCheck;
    use aws_sdk_ec2::operation::create_snapshots::CreateSnapshotsError;

    let dry_run = mock!(Client::create_snapshots)
        .match_requests(|req| {
            req.dry_run() == Some(true)
                && req
                    .instance_specification()
                    .and_then(|spec| spec.instance_id())
                    == Some("i-1")
        })
        .then_error(|| {
            CreateSnapshotsError::generic(crate::services::kind::dry_run_would_succeed())
        });
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&dry_run]),
    );
    let verdict = EvidenceSnapshots.check_permission(&ctx, &cut()).await;
    assert_eq!(dry_run.num_calls(), 1);
    assert!(matches!(verdict, PermissionCheck::Allowed), "{verdict:?}");
}

/// Just taken, the snapshots may be missing from a describe by tag for a while (EC2's eventual
/// consistency): watch must not read them as gone and re-cut a second set then. The kind says how long
/// that may last, which watch honours (`still_reading_back`, tested in the engine).
#[test]
fn watch_waits_for_the_snapshots_to_be_listed_before_calling_them_gone() {
    let late = EvidenceSnapshots
        .reads_back_late()
        .expect("the snapshots may read back late");
    assert!(late >= std::time::Duration::from_secs(60), "{late:?}");
}
