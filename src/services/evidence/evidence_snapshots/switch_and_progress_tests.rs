//! `evidence_snapshots`: `--no-evidence-snapshots` proposes every instance disabled, the reasons carry the
//! count and size, and the snapshots' progress read with DescribeSnapshots, against its documented
//! answers (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html>,
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html>): `pending` with its
//! `progress`, `completed`, `error` with its `stateMessage`, and `InvalidSnapshot.NotFound` for an ID
//! that no longer exists
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::describe_snapshots::{DescribeSnapshotsError, DescribeSnapshotsOutput};
use aws_sdk_ec2::types::{EbsInstanceBlockDevice, InstanceBlockDeviceMapping};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

fn instance(id: &str, volumes: &[&str]) -> Instance {
    volumes
        .iter()
        .fold(
            Instance::builder().instance_id(id).vpc_id("vpc-1"),
            |builder, volume| {
                builder.block_device_mappings(
                    InstanceBlockDeviceMapping::builder()
                        .device_name(format!("/dev/{volume}"))
                        .ebs(EbsInstanceBlockDevice::builder().volume_id(*volume).build())
                        .build(),
                )
            },
        )
        .build()
}

fn discovered(left_out: bool) -> Vec<Proposal<SnapshotState>> {
    let vpcs = [VpcWithAWayOut {
        vpc_id: "vpc-1".into(),
        ways_out: vec!["internet gateway igw-1".into()],
    }];
    let instances = [
        instance("i-web", &["vol-a", "vol-b"]),
        instance("i-db", &["vol-c"]),
        instance("i-ephemeral", &[]),
    ];
    let sizes = HashMap::from([
        ("vol-a".to_string(), 8),
        ("vol-b".to_string(), 20),
        ("vol-c".to_string(), 100),
    ]);
    proposals("us-east-1", &vpcs, &instances, &sizes, "INC-7", left_out)
}

fn proposed<'a>(
    proposals: &'a [Proposal<SnapshotState>],
    target: &str,
) -> &'a Proposal<SnapshotState> {
    proposals.iter().find(|p| p.target == target).unwrap()
}

#[test]
fn the_reason_gives_the_instances_volumes_and_size_and_the_regions_total() {
    let proposals = discovered(false);
    let web = proposed(&proposals, "i-web");
    assert_eq!(web.disabled_because, None);
    assert!(
        web.reason
            .contains("snapshots of its 2 EBS volume(s), 28 GiB"),
        "{}",
        web.reason
    );
    for proposal in &proposals {
        assert!(
            proposal.reason.contains(
                "All evidence snapshots in us-east-1: 3 instance(s), 3 EBS volume(s), 128 GiB."
            ),
            "{}",
            proposal.reason
        );
    }
    assert!(
        proposed(&proposals, "i-db")
            .reason
            .contains("its 1 EBS volume(s), 100 GiB")
    );
}

#[test]
fn no_evidence_snapshots_proposes_every_instance_disabled_with_the_flag_and_changes_nothing_else() {
    let taken = discovered(false);
    let left_out = discovered(true);
    assert_eq!(
        taken.len(),
        left_out.len(),
        "every instance is still listed"
    );
    for (taken, left_out) in taken.iter().zip(&left_out) {
        // Switching one back on in the plan applies exactly what a plan without the flag would.
        assert_eq!(
            (&taken.target, &taken.before, &taken.after),
            (&left_out.target, &left_out.before, &left_out.after)
        );
    }
    for target in ["i-web", "i-db"] {
        let because = proposed(&left_out, target)
            .disabled_because
            .as_deref()
            .unwrap();
        assert_eq!(because, LEFT_OUT);
        assert!(because.contains("--no-evidence-snapshots"));
    }
    // An instance EBS cannot snapshot keeps saying why, flag or not.
    for proposals in [&taken, &left_out] {
        assert!(
            proposed(proposals, "i-ephemeral")
                .disabled_because
                .as_deref()
                .unwrap()
                .contains("no EBS volume")
        );
    }
}

#[test]
fn the_switch_is_declared_without_a_value_and_read_from_the_scope() {
    assert!(NO_SNAPSHOTS.is_switch());
    assert!(!INCIDENT.is_switch());
    let mut scope = DiscoveryScope::for_tests();
    assert!(
        !scope.switch(NO_SNAPSHOTS.flag),
        "absent in plans of before"
    );
    scope.options.insert(
        NO_SNAPSHOTS.flag.into(),
        crate::services::PlanOption::SWITCH_ON.into(),
    );
    assert!(scope.switch(NO_SNAPSHOTS.flag));
    (NO_SNAPSHOTS.check)("true").unwrap();
    let refused = (NO_SNAPSHOTS.check)("false").unwrap_err();
    assert!(
        refused.contains("switch") && refused.contains("fix:"),
        "{refused}"
    );
}

fn recorded_undo(ids: &[&str]) -> SnapshotUndo {
    SnapshotUndo {
        instance_id: "i-web".into(),
        incident: "INC-7".into(),
        snapshot_ids: Some(ids.iter().map(|id| id.to_string()).collect()),
    }
}

fn snapshot(id: &str, state: AwsSnapshotState) -> Snapshot {
    Snapshot::builder().snapshot_id(id).state(state).build()
}

fn not_found(id: &str) -> DescribeSnapshotsError {
    DescribeSnapshotsError::generic(
        ErrorMetadata::builder()
            .code("InvalidSnapshot.NotFound")
            .message(format!("The snapshot '{id}' does not exist."))
            .build(),
    )
}

#[test]
fn show_lists_the_recorded_ids_or_how_to_find_them() {
    let listed = EvidenceSnapshots
        .recorded(&recorded_undo(&["snap-1", "snap-2"]))
        .unwrap();
    assert!(
        listed.starts_with("snapshots snap-1, snap-2 (incident INC-7), kept by restore"),
        "{listed}"
    );
    let crashed = EvidenceSnapshots
        .recorded(&SnapshotUndo {
            snapshot_ids: None,
            ..recorded_undo(&[])
        })
        .unwrap();
    assert!(
        crashed.contains("hikkonuki:incident=INC-7")
            && crashed.contains("hikkonuki:instance=i-web"),
        "{crashed}"
    );
}

#[tokio::test]
async fn mocked_progress_reads_pending_with_its_percentage_and_completed_in_one_call() {
    let describe = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids() == ["snap-1", "snap-2"])
        .then_output(|| {
            DescribeSnapshotsOutput::builder()
                // AWS answers in its own order, not the order asked.
                .snapshots(
                    Snapshot::builder()
                        .snapshot_id("snap-2")
                        .state(AwsSnapshotState::Pending)
                        .progress("40%")
                        .build(),
                )
                .snapshots(snapshot("snap-1", AwsSnapshotState::Completed))
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let read = EvidenceSnapshots
        .progress(&ctx, &recorded_undo(&["snap-1", "snap-2"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, "snap-1 completed, snap-2 pending 40%");
    assert_eq!(describe.num_calls(), 1);
}

#[tokio::test]
async fn mocked_progress_says_a_snapshot_failed_with_awss_message() {
    let describe = mock!(Client::describe_snapshots).then_output(|| {
        DescribeSnapshotsOutput::builder()
            .snapshots(
                Snapshot::builder()
                    .snapshot_id("snap-1")
                    .state(AwsSnapshotState::Error)
                    .state_message("Given key ID is not accessible")
                    .build(),
            )
            .build()
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let read = EvidenceSnapshots
        .progress(&ctx, &recorded_undo(&["snap-1"]))
        .await
        .unwrap()
        .unwrap();
    assert!(
        read.starts_with("snap-1 ERROR: Given key ID is not accessible"),
        "{read}"
    );
}

#[tokio::test]
async fn mocked_a_deleted_snapshot_is_gone_and_the_others_are_still_read() {
    // Asked together, AWS answers for none of them; asked one by one, it tells which is gone.
    let together = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids().len() == 2)
        .then_error(|| not_found("snap-2"));
    let first = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids() == ["snap-1"])
        .then_output(|| {
            DescribeSnapshotsOutput::builder()
                .snapshots(snapshot("snap-1", AwsSnapshotState::Completed))
                .build()
        });
    let second = mock!(Client::describe_snapshots)
        .match_requests(|req| req.snapshot_ids() == ["snap-2"])
        .then_error(|| not_found("snap-2"));
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&together, &first, &second]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let read = EvidenceSnapshots
        .progress(&ctx, &recorded_undo(&["snap-1", "snap-2"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, "snap-1 completed, snap-2 gone");
    assert_eq!(
        (together.num_calls(), first.num_calls(), second.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn mocked_progress_that_cannot_be_read_is_an_error_with_ec2s_code() {
    let describe = mock!(Client::describe_snapshots).then_error(|| {
        DescribeSnapshotsError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        )
    });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let err = EvidenceSnapshots
        .progress(&ctx, &recorded_undo(&["snap-1"]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("UnauthorizedOperation"));
    assert_eq!(err.operation, "ec2:DescribeSnapshots");
}

#[tokio::test]
async fn mocked_progress_after_a_crash_finds_the_snapshots_by_tag() {
    let describe = mock!(Client::describe_snapshots)
        .match_requests(|req| {
            req.snapshot_ids().is_empty()
                && req
                    .filters()
                    .iter()
                    .any(|f| f.name() == Some("tag:hikkonuki:instance") && f.values() == ["i-web"])
        })
        .then_output(|| {
            DescribeSnapshotsOutput::builder()
                .snapshots(
                    Snapshot::builder()
                        .snapshot_id("snap-9")
                        .state(AwsSnapshotState::Pending)
                        .progress("3%")
                        .build(),
                )
                .build()
        });
    let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&describe]);
    let ctx = RegionCtx::with_ec2("us-east-1", ec2);
    let crashed = SnapshotUndo {
        snapshot_ids: None,
        ..recorded_undo(&[])
    };
    let read = EvidenceSnapshots
        .progress(&ctx, &crashed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, "snap-9 pending 3%");
}
