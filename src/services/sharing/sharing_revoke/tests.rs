//! `sharing_revoke` on data and on mocked AWS answers, each built from the documented response.

use std::collections::BTreeMap;

use aws_sdk_ec2::operation::describe_image_attribute::DescribeImageAttributeOutput;
use aws_sdk_ec2::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ec2::operation::describe_snapshot_attribute::{
    DescribeSnapshotAttributeError, DescribeSnapshotAttributeOutput,
};
use aws_sdk_ec2::operation::describe_snapshots::DescribeSnapshotsOutput;
use aws_sdk_ec2::operation::get_image_block_public_access_state::GetImageBlockPublicAccessStateOutput;
use aws_sdk_ec2::operation::get_snapshot_block_public_access_state::GetSnapshotBlockPublicAccessStateOutput;
use aws_sdk_ec2::operation::modify_image_attribute::ModifyImageAttributeError;
use aws_sdk_ec2::operation::modify_image_attribute::ModifyImageAttributeOutput;
use aws_sdk_ec2::operation::modify_snapshot_attribute::ModifySnapshotAttributeError;
use aws_sdk_ec2::operation::modify_snapshot_attribute::ModifySnapshotAttributeOutput;
use aws_sdk_ec2::types::{
    CreateVolumePermission, Image, LaunchPermission, OperationType, PermissionGroup,
    Snapshot as Ec2Snapshot, SnapshotBlockPublicAccessState,
};
use aws_sdk_rds::operation::describe_db_snapshot_attributes::DescribeDbSnapshotAttributesOutput;
use aws_sdk_rds::operation::modify_db_snapshot_attribute::ModifyDBSnapshotAttributeError;
use aws_sdk_rds::types::{DbSnapshotAttribute, DbSnapshotAttributesResult};
use aws_sdk_ssm::operation::modify_document_permission::ModifyDocumentPermissionOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;
use crate::services::common::policy_principals::{Home, Organization};

const HOME: &str = "123456789012";
const INTRUDER: &str = "210987654321";
const OWN_ORG: &str = "arn:aws:organizations::111111111111:organization/o-ownorg1234";
const OWN_OU: &str = "arn:aws:organizations::111111111111:ou/o-ownorg1234/ou-ab12-cdef3456";
const OTHER_ORG: &str = "arn:aws:organizations::999999999999:organization/o-theirs5678";

fn home(organization: Organization) -> Home {
    Home {
        account_id: HOME.into(),
        organization,
    }
}

fn reading(resource_type: ResourceType, id: &str, grantees: Vec<Grantee>) -> Reading {
    Reading {
        state: SharingState::new(resource_type, id, grantees),
        unclassified: vec![],
    }
}

fn cut_of(proposal: Proposal<SharingState>) -> TypedCut<SharingState> {
    TypedCut {
        id: format!("sharing_revoke/us-east-1/{}", proposal.target),
        region: "us-east-1".into(),
        target: proposal.target,
        before: proposal.before,
        after: proposal.after,
    }
}

fn account(id: &str) -> Grantee {
    Grantee::Account(id.into())
}

#[test]
fn organization_arns_name_their_organization() {
    assert_eq!(organization_of(OWN_ORG), Some("o-ownorg1234"));
    assert_eq!(organization_of(OWN_OU), Some("o-ownorg1234"));
    assert_eq!(organization_of("arn:aws:iam::123456789012:root"), None);
    assert_eq!(organization_of("o-ownorg1234"), None);
}

#[test]
fn a_public_snapshot_shared_with_an_intruder_loses_both_and_the_reason_names_them() {
    let found = reading(
        ResourceType::EbsSnapshot,
        "snap-1",
        vec![account(INTRUDER), Grantee::Everyone],
    );
    let proposal = propose(&found, &home(Organization::None)).unwrap();
    assert_eq!(proposal.target, "ebs_snapshot/snap-1");
    assert!(proposal.after.shared_with.is_empty());
    assert!(
        proposal.reason.contains("everyone (public)")
            && proposal.reason.contains(&format!("account {INTRUDER}")),
        "{}",
        proposal.reason
    );
    assert!(proposal.reason.contains("ModifySnapshotAttribute"));
    let cut = cut_of(proposal);
    assert_eq!(SharingRevoke.check_states(&cut), Ok(()));
    let undo = SharingRevoke.undo_record_for(&cut).unwrap();
    assert_eq!(undo.removed, vec![Grantee::Everyone, account(INTRUDER)]);
    assert!(undo.kept.is_empty());
}

#[test]
fn an_image_keeps_its_own_organization_and_ous_and_loses_another_organization() {
    let found = reading(
        ResourceType::Image,
        "ami-1",
        vec![
            Grantee::Organization(OWN_ORG.into()),
            Grantee::OrganizationalUnit(OWN_OU.into()),
            Grantee::Organization(OTHER_ORG.into()),
        ],
    );
    let proposal = propose(&found, &home(Organization::Member("o-ownorg1234".into()))).unwrap();
    assert_eq!(
        proposal.after.shared_with,
        vec![
            Grantee::Organization(OWN_ORG.into()),
            Grantee::OrganizationalUnit(OWN_OU.into()),
        ]
    );
    assert!(
        proposal.reason.contains("Kept, being inside"),
        "{}",
        proposal.reason
    );

    // Shared only inside: nothing to cut.
    let inside = reading(
        ResourceType::Image,
        "ami-2",
        vec![Grantee::OrganizationalUnit(OWN_OU.into())],
    );
    assert_eq!(
        propose(&inside, &home(Organization::Member("o-ownorg1234".into()))),
        None
    );
}

#[test]
fn an_organization_that_cannot_be_read_makes_every_organization_grant_outside_and_says_so() {
    let found = reading(
        ResourceType::Image,
        "ami-1",
        vec![Grantee::OrganizationalUnit(OWN_OU.into())],
    );
    let proposal = propose(
        &found,
        &home(Organization::Unknown(
            "DescribeOrganization: AccessDeniedException".into(),
        )),
    )
    .unwrap();
    assert!(proposal.after.shared_with.is_empty());
    assert!(
        proposal
            .reason
            .contains("could not be read (DescribeOrganization: AccessDeniedException)"),
        "{}",
        proposal.reason
    );
}

#[test]
fn states_that_add_a_grantee_or_keep_the_resource_public_are_refused() {
    let found = reading(
        ResourceType::DbSnapshot,
        "orders-final",
        vec![Grantee::Everyone, account(INTRUDER)],
    );
    let cut = cut_of(propose(&found, &home(Organization::None)).unwrap());

    let mut still_public = cut.clone();
    still_public.after.shared_with = vec![Grantee::Everyone];
    assert!(
        SharingRevoke
            .check_states(&still_public)
            .unwrap_err()
            .contains("public")
    );
    let mut adds = cut.clone();
    adds.after.shared_with = vec![account("333333333333")];
    assert!(
        SharingRevoke
            .check_states(&adds)
            .unwrap_err()
            .contains("only removes")
    );
    let mut nothing = cut.clone();
    nothing.after = nothing.before.clone();
    assert!(
        SharingRevoke
            .check_states(&nothing)
            .unwrap_err()
            .contains("removes no")
    );
    let mut elsewhere = cut;
    elsewhere.target = "db_snapshot/other".into();
    assert!(
        SharingRevoke
            .check_states(&elsewhere)
            .unwrap_err()
            .contains("target")
    );
}

#[test]
fn an_ssm_document_keeps_the_versions_of_what_it_keeps_only() {
    let mut found = reading(
        ResourceType::SsmDocument,
        "Deploy",
        vec![account(INTRUDER), account(HOME)],
    );
    found.state.shared_document_versions = BTreeMap::from([
        (INTRUDER.into(), "$DEFAULT".into()),
        (HOME.into(), "2".into()),
    ]);
    let proposal = propose(&found, &home(Organization::None)).unwrap();
    assert_eq!(proposal.after.shared_with, vec![account(HOME)]);
    assert_eq!(
        proposal.after.shared_document_versions,
        BTreeMap::from([(HOME.to_string(), "2".to_string())])
    );
}

fn undo_record() -> UndoRecord {
    UndoRecord {
        resource_type: ResourceType::EbsSnapshot,
        resource_id: "snap-1".into(),
        removed: vec![Grantee::Everyone, account(INTRUDER)],
        kept: vec![account("444444444444")],
        shared_document_versions: BTreeMap::new(),
    }
}

#[test]
fn undo_adds_back_only_what_is_missing_and_reports_what_changed_since() {
    // Right after the cut: both come back, the public share last; nothing else to say.
    let (missing, notes) = undo_steps(&undo_record(), &[account("444444444444")]);
    assert_eq!(missing, vec![account(INTRUDER), Grantee::Everyone]);
    assert!(notes.is_empty(), "{notes:?}");

    // Made public again by hand, shared with a new account, the kept one removed: only the intruder's
    // account is added; the rest is reported, nothing is removed.
    let (missing, notes) = undo_steps(
        &undo_record(),
        &[Grantee::Everyone, account("555555555555")],
    );
    assert_eq!(missing, vec![account(INTRUDER)]);
    let text = notes.join("\n");
    assert!(
        text.contains("already shared again with everyone (public)"),
        "{text}"
    );
    assert!(
        text.contains(
            "conflict: ebs_snapshot/snap-1 was shared since the cut with account 555555555555"
        ),
        "{text}"
    );
    assert!(
        text.contains("no longer shared with account 444444444444"),
        "{text}"
    );
}

#[test]
fn ssm_permissions_go_all_alone_and_accounts_twenty_per_call() {
    let mut grantees = vec![Grantee::Everyone];
    grantees.extend((0..25).map(|n| account(&format!("{:012}", 100_000_000_000u64 + n))));
    let batches = ssm::batches(&grantees);
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![1, 20, 5]
    );
    assert_eq!(batches[0], vec!["all".to_string()]);
}

#[test]
fn an_unclassified_permission_is_a_high_finding_naming_the_resource() {
    let mut found = reading(ResourceType::DbSnapshot, "orders-final", vec![]);
    found.unclassified = vec!["restore: some-future-value".into()];
    let finding = unclassified_finding("us-east-1", &found);
    assert_eq!(finding.severity, Severity::High);
    assert_eq!(finding.resource, "db_snapshot/orders-final");
    assert!(finding.message.contains("some-future-value"));
}

// ---------------------------------------------------------------------------------------------------
// Mocked AWS answers
// ---------------------------------------------------------------------------------------------------

fn snapshot(id: &str, owner: &str) -> Ec2Snapshot {
    Ec2Snapshot::builder()
        .snapshot_id(id)
        .owner_id(owner)
        .build()
}

/// DescribeSnapshotAttribute as documented: `createVolumePermission` entries with `group: all` or a
/// `userId` (API_DescribeSnapshotAttribute.html).
fn volume_permissions(
    id: &'static str,
    public: bool,
    users: &'static [&'static str],
) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ec2::Client::describe_snapshot_attribute)
        .match_requests(move |req| req.snapshot_id() == Some(id))
        .then_output(move || {
            let mut out = DescribeSnapshotAttributeOutput::builder().snapshot_id(id);
            if public {
                out = out.create_volume_permissions(
                    CreateVolumePermission::builder()
                        .group(PermissionGroup::All)
                        .build(),
                );
            }
            for user in users {
                out = out.create_volume_permissions(
                    CreateVolumePermission::builder().user_id(*user).build(),
                );
            }
            out.build()
        })
}

fn empty_image_and_rds_and_ssm() -> (
    aws_sdk_rds::Client,
    aws_sdk_ssm::Client,
    aws_smithy_mocks::Rule,
) {
    let images = mock!(aws_sdk_ec2::Client::describe_images)
        .then_output(|| DescribeImagesOutput::builder().build());
    let db = mock!(aws_sdk_rds::Client::describe_db_snapshots).then_output(|| {
        aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput::builder().build()
    });
    let cluster = mock!(aws_sdk_rds::Client::describe_db_cluster_snapshots).then_output(|| {
        aws_sdk_rds::operation::describe_db_cluster_snapshots::DescribeDbClusterSnapshotsOutput::builder()
            .build()
    });
    let documents = mock!(aws_sdk_ssm::Client::list_documents).then_output(|| {
        aws_sdk_ssm::operation::list_documents::ListDocumentsOutput::builder().build()
    });
    (
        mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&db, &cluster]),
        mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[&documents]),
        images,
    )
}

#[tokio::test]
async fn mocked_discovery_proposes_the_account_s_shared_snapshots_only() {
    let snapshots = mock!(aws_sdk_ec2::Client::describe_snapshots)
        .match_requests(|req| req.owner_ids() == ["self"])
        .then_output(|| {
            DescribeSnapshotsOutput::builder()
                .snapshots(snapshot("snap-public", HOME))
                .snapshots(snapshot("snap-private", HOME))
                // Another account's snapshot, as an endpoint that ignores `self` returns it.
                .snapshots(snapshot("snap-amazon", "801119661308"))
                .build()
        });
    let public = volume_permissions("snap-public", true, &[INTRUDER]);
    let private = volume_permissions("snap-private", false, &[]);
    let switch = snapshot_switch(SnapshotBlockPublicAccessState::Unblocked);
    let (rds, ssm, images) = empty_image_and_rds_and_ssm();
    let ec2 = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&snapshots, &public, &private, &images, &switch]
    );
    let ctx = RegionCtx::for_tests("us-east-1")
        .mock_ec2(ec2)
        .mock_rds(rds)
        .mock_ssm(ssm);
    let scope = DiscoveryScope::for_tests();
    let proposed = SharingRevoke.discover(&ctx, &scope).await.unwrap();
    let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(targets, ["ebs_snapshot/snap-public"]);
    assert_eq!(
        proposed[0].before.shared_with,
        vec![Grantee::Everyone, account(INTRUDER)]
    );
    assert_eq!((public.num_calls(), private.num_calls()), (1, 1));
    assert!(
        !proposed[0].reason.contains("block public access"),
        "the switch is off: {}",
        proposed[0].reason
    );
    // The inspection reads the same survey: no second round of calls, and nothing unclassified.
    let findings = SharingRevoke.inspect(&ctx, &scope, &[]).await.unwrap();
    assert!(findings.is_empty());
    assert_eq!(snapshots.num_calls(), 1);
}

#[tokio::test]
async fn mocked_apply_removes_every_outside_permission_of_a_snapshot_in_one_call() {
    let modify = mock!(aws_sdk_ec2::Client::modify_snapshot_attribute)
        .match_requests(|req| {
            req.snapshot_id() == Some("snap-1")
                && req.operation_type() == Some(&OperationType::Remove)
                && req.group_names() == ["all"]
                && req.user_ids() == [INTRUDER]
        })
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&modify]),
    );
    let cut = cut_of(
        propose(
            &reading(
                ResourceType::EbsSnapshot,
                "snap-1",
                vec![Grantee::Everyone, account(INTRUDER)],
            ),
            &home(Organization::None),
        )
        .unwrap(),
    );
    let undo = SharingRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!(modify.num_calls(), 1);
    assert_eq!(undo, SharingRevoke.undo_record_for(&cut).unwrap());
}

/// A snapshot deleted after the cut: DescribeSnapshotAttribute answers `InvalidSnapshot.NotFound`
/// (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html); undo says it cannot share
/// it again, naming whom.
#[tokio::test]
async fn mocked_undo_of_a_deleted_snapshot_says_it_cannot_be_shared_again() {
    let gone = mock!(aws_sdk_ec2::Client::describe_snapshot_attribute).then_error(|| {
        DescribeSnapshotAttributeError::generic(
            aws_sdk_ec2::error::ErrorMetadata::builder()
                .code("InvalidSnapshot.NotFound")
                .message("The snapshot 'snap-1' does not exist.")
                .build(),
        )
    });
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&gone]),
    );
    let err = SharingRevoke.undo(&ctx, &undo_record()).await.unwrap_err();
    assert!(err.message.contains("snap-1 no longer exists"), "{err}");
    assert!(err.message.contains(INTRUDER), "{err}");
}

/// ModifySnapshotAttribute with `OperationType: add` for the accounts, then for the group `all`.
fn add_snapshot_permission(
    group_names: &'static [&'static str],
    user_ids: &'static [&'static str],
) -> aws_smithy_mocks::RuleBuilder<
    aws_sdk_ec2::operation::modify_snapshot_attribute::ModifySnapshotAttributeInput,
    ModifySnapshotAttributeOutput,
    aws_sdk_ec2::operation::modify_snapshot_attribute::ModifySnapshotAttributeError,
> {
    mock!(aws_sdk_ec2::Client::modify_snapshot_attribute).match_requests(move |req| {
        req.operation_type() == Some(&OperationType::Add)
            && req.group_names() == group_names
            && req.user_ids() == user_ids
    })
}

#[tokio::test]
async fn mocked_undo_shares_a_snapshot_again_with_exactly_the_missing_grantees() {
    let live = volume_permissions("snap-1", false, &["444444444444"]);
    let accounts = add_snapshot_permission(&[], &[INTRUDER])
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let public = add_snapshot_permission(&["all"], &[])
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&live, &accounts, &public]
        ),
    );
    let outcome = SharingRevoke.undo(&ctx, &undo_record()).await.unwrap();
    assert_eq!((accounts.num_calls(), public.num_calls()), (1, 1));
    assert_eq!(
        outcome.notes[0],
        format!("shared ebs_snapshot/snap-1 again with account {INTRUDER}, everyone (public)"),
        "{outcome:?}"
    );
}

/// DescribeImageAttribute with organization and OU entries, and DescribeOrganization naming the
/// account's own organization: only the other organization and the account are revoked, in one
/// ModifyImageAttribute call with a `LaunchPermission.Remove` list.
#[tokio::test]
async fn mocked_an_image_shared_with_organizations_is_classified_by_the_account_s_organization() {
    let images = mock!(aws_sdk_ec2::Client::describe_images)
        .match_requests(|req| req.owners() == ["self"])
        .then_output(|| {
            DescribeImagesOutput::builder()
                .images(Image::builder().image_id("ami-1").owner_id(HOME).build())
                .build()
        });
    let permissions = mock!(aws_sdk_ec2::Client::describe_image_attribute).then_output(|| {
        DescribeImageAttributeOutput::builder()
            .image_id("ami-1")
            .launch_permissions(
                LaunchPermission::builder()
                    .organization_arn(OWN_ORG)
                    .build(),
            )
            .launch_permissions(
                LaunchPermission::builder()
                    .organization_arn(OTHER_ORG)
                    .build(),
            )
            .launch_permissions(LaunchPermission::builder().user_id(INTRUDER).build())
            .build()
    });
    let snapshots = mock!(aws_sdk_ec2::Client::describe_snapshots)
        .then_output(|| DescribeSnapshotsOutput::builder().build());
    let remove = mock!(aws_sdk_ec2::Client::modify_image_attribute)
        .match_requests(|req| {
            req.launch_permission().is_some_and(|m| {
                m.add().is_empty()
                    && m.remove()
                        == [
                            LaunchPermission::builder().user_id(INTRUDER).build(),
                            LaunchPermission::builder()
                                .organization_arn(OTHER_ORG)
                                .build(),
                        ]
            })
        })
        .then_output(|| ModifyImageAttributeOutput::builder().build());
    let organization = mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
        aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput::builder()
            .organization(
                aws_sdk_organizations::types::Organization::builder()
                    .id("o-ownorg1234")
                    .build(),
            )
            .build()
    });
    let (rds, ssm, _) = empty_image_and_rds_and_ssm();
    let ctx = RegionCtx::for_tests("us-east-1")
        .mock_ec2(mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&images, &permissions, &snapshots, &remove]
        ))
        .mock_rds(rds)
        .mock_ssm(ssm)
        .mock_organizations(mock_client!(aws_sdk_organizations, [&organization]));
    let proposed = SharingRevoke
        .discover(&ctx, &DiscoveryScope::for_tests())
        .await
        .unwrap();
    assert_eq!(proposed.len(), 1);
    assert_eq!(
        proposed[0].after.shared_with,
        vec![Grantee::Organization(OWN_ORG.into())]
    );
    let cut = cut_of(proposed.into_iter().next().unwrap());
    SharingRevoke.apply(&ctx, &cut).await.unwrap();
    assert_eq!(remove.num_calls(), 1);
}

fn restore_attribute(values: &'static [&'static str]) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_rds::Client::describe_db_snapshot_attributes).then_output(move || {
        DescribeDbSnapshotAttributesOutput::builder()
            .db_snapshot_attributes_result(
                DbSnapshotAttributesResult::builder()
                    .db_snapshot_identifier("orders-final")
                    .db_snapshot_attributes(
                        DbSnapshotAttribute::builder()
                            .attribute_name("restore")
                            .set_attribute_values(Some(
                                values.iter().map(|v| v.to_string()).collect(),
                            ))
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

/// Twenty accounts were added to the snapshot after the cut; adding the intruder's account back exceeds
/// RDS's documented 20 and ModifyDBSnapshotAttribute answers `SharedSnapshotQuotaExceeded`
/// (API_ModifyDBSnapshotAttribute.html, Errors). The error says why and what to do.
#[tokio::test]
async fn mocked_undo_meeting_the_rds_shared_snapshot_quota_explains_it() {
    let live = restore_attribute(&[
        "300000000001",
        "300000000002",
        "300000000003",
        "300000000004",
        "300000000005",
        "300000000006",
        "300000000007",
        "300000000008",
        "300000000009",
        "300000000010",
        "300000000011",
        "300000000012",
        "300000000013",
        "300000000014",
        "300000000015",
        "300000000016",
        "300000000017",
        "300000000018",
        "300000000019",
        "300000000020",
    ]);
    let refused = mock!(aws_sdk_rds::Client::modify_db_snapshot_attribute).then_error(|| {
        ModifyDBSnapshotAttributeError::generic(
            aws_sdk_rds::error::ErrorMetadata::builder()
                .code("SharedSnapshotQuotaExceeded")
                .message("You have exceeded the maximum number of accounts that you can share a manual DB snapshot with.")
                .build(),
        )
    });
    let ctx = RegionCtx::with_rds(
        "us-east-1",
        mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&live, &refused]),
    );
    let undo = UndoRecord {
        resource_type: ResourceType::DbSnapshot,
        resource_id: "orders-final".into(),
        removed: vec![account(INTRUDER)],
        kept: vec![],
        shared_document_versions: BTreeMap::new(),
    };
    let err = SharingRevoke.undo(&ctx, &undo).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("SharedSnapshotQuotaExceeded"));
    assert!(err.message.contains("at most 20 accounts"), "{err}");
    assert_eq!(refused.num_calls(), 1);
}

#[tokio::test]
async fn mocked_a_public_rds_snapshot_is_read_from_its_restore_attribute() {
    let live = restore_attribute(&["all", INTRUDER]);
    let ctx = RegionCtx::with_rds(
        "us-east-1",
        mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&live]),
    );
    let found = read(&ctx, ResourceType::DbSnapshot, "orders-final")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.state.shared_with,
        vec![Grantee::Everyone, account(INTRUDER)]
    );
}

/// Undo of an SSM document that was public and shared with 21 accounts at two versions: `All` alone, the
/// accounts at most 20 per call, each group with its own `SharedDocumentVersion`.
#[tokio::test]
async fn mocked_ssm_undo_shares_again_in_documented_batches_with_each_version() {
    let live = mock!(aws_sdk_ssm::Client::describe_document_permission).then_output(|| {
        aws_sdk_ssm::operation::describe_document_permission::DescribeDocumentPermissionOutput::builder()
            .build()
    });
    let modify = mock!(aws_sdk_ssm::Client::modify_document_permission)
        .match_requests(|req| {
            req.account_ids_to_remove().is_empty()
                && req.account_ids_to_add().len() <= ssm::ACCOUNTS_PER_CALL
                && (req.account_ids_to_add() == ["all"]
                    || !req.account_ids_to_add().contains(&"all".to_string()))
        })
        .then_output(|| ModifyDocumentPermissionOutput::builder().build());
    let ctx = RegionCtx::for_tests("us-east-1").mock_ssm(mock_client!(
        aws_sdk_ssm,
        RuleMode::MatchAny,
        &[&live, &modify]
    ));
    let accounts: Vec<String> = (0..21)
        .map(|n| format!("{:012}", 100_000_000_000u64 + n))
        .collect();
    let mut removed = vec![Grantee::Everyone];
    removed.extend(accounts.iter().map(|a| account(a)));
    let mut versions: BTreeMap<String, String> = accounts
        .iter()
        .map(|a| (a.clone(), "$DEFAULT".to_string()))
        .collect();
    versions.insert(accounts[0].clone(), "3".into());
    versions.insert("all".into(), "$DEFAULT".into());
    let undo = UndoRecord {
        resource_type: ResourceType::SsmDocument,
        resource_id: "Deploy".into(),
        removed,
        kept: vec![],
        shared_document_versions: versions,
    };
    SharingRevoke.undo(&ctx, &undo).await.unwrap();
    // Version 3: one account. $DEFAULT: 20 accounts, then `all`.
    assert_eq!(modify.num_calls(), 3);
}

/// `apply --check` dry-runs the snapshot's and the image's removal (EC2's `DryRunOperation` is
/// permitted, `UnauthorizedOperation` denied) and lists an RDS snapshot as unchecked: RDS has no dry run.
#[tokio::test]
async fn mocked_check_dry_runs_snapshots_and_images_and_leaves_rds_unchecked() {
    use crate::services::PermissionCheck;
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::modify_image_attribute::ModifyImageAttributeError;
    use aws_sdk_ec2::operation::modify_snapshot_attribute::ModifySnapshotAttributeError;

    let answer = |code: &str| ErrorMetadata::builder().code(code).message(code).build();
    let snapshot = mock!(aws_sdk_ec2::Client::modify_snapshot_attribute)
        .match_requests(|req| req.dry_run() == Some(true) && req.snapshot_id() == Some("snap-1"))
        .then_error(move || ModifySnapshotAttributeError::generic(answer("DryRunOperation")));
    let image = mock!(aws_sdk_ec2::Client::modify_image_attribute)
        .match_requests(|req| req.dry_run() == Some(true) && req.image_id() == Some("ami-1"))
        .then_error(move || ModifyImageAttributeError::generic(answer("UnauthorizedOperation")));
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&snapshot, &image]),
    );
    let cut = |resource_type, id: &str| {
        cut_of(
            propose(
                &reading(resource_type, id, vec![Grantee::Everyone]),
                &home(Organization::None),
            )
            .unwrap(),
        )
    };
    let verdict = SharingRevoke
        .check_permission(&ctx, &cut(ResourceType::EbsSnapshot, "snap-1"))
        .await;
    assert!(matches!(verdict, PermissionCheck::Allowed), "{verdict:?}");
    let verdict = SharingRevoke
        .check_permission(&ctx, &cut(ResourceType::Image, "ami-1"))
        .await;
    assert!(matches!(verdict, PermissionCheck::Denied(_)), "{verdict:?}");
    let verdict = SharingRevoke
        .check_permission(&ctx, &cut(ResourceType::DbSnapshot, "reports-db-final"))
        .await;
    assert!(
        matches!(&verdict, PermissionCheck::NotCheckable(why) if why == "ModifyDBSnapshotAttribute has no dry run"),
        "{verdict:?}"
    );
    assert_eq!((snapshot.num_calls(), image.num_calls()), (1, 1));
}

// ---------------------------------------------------------------------------------------------------
// The account's block public access, on before the plan: the public share cannot be given back
// ---------------------------------------------------------------------------------------------------

/// GetSnapshotBlockPublicAccessState as documented: `State` and `ManagedBy`.
fn snapshot_switch(state: SnapshotBlockPublicAccessState) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ec2::Client::get_snapshot_block_public_access_state).then_output(move || {
        GetSnapshotBlockPublicAccessStateOutput::builder()
            .state(state.clone())
            .managed_by(aws_sdk_ec2::types::ManagedBy::Account)
            .build()
    })
}

/// AWS refuses a new public share while the account's block is on ("users can no longer request public
/// sharing", API_EnableSnapshotBlockPublicAccess.html; "This will block any attempt to publicly share
/// your AMIs", API_EnableImageBlockPublicAccess.html). The documentation names no error code for that
/// refusal; this one is EC2's general `OperationNotPermitted`, and restore depends on no code.
fn refused_as_blocked() -> aws_sdk_ec2::error::ErrorMetadata {
    aws_sdk_ec2::error::ErrorMetadata::builder()
        .code("OperationNotPermitted")
        .message("Public sharing is blocked by block public access in this Region.")
        .build()
}

/// Regression: restore re-added the public share in the same ModifySnapshotAttribute call as the named
/// accounts, so with block public access for snapshots on (on before the plan, so nothing lifts it) AWS's
/// refusal left the intruder's account, which the cut had removed, unshared too. Now the accounts come
/// back in their own call, and the refused public share fails the undo naming the switch and the fix.
/// Restore again, once the block is off, adds only the public share.
#[tokio::test]
async fn mocked_restore_gives_accounts_back_when_aws_refuses_the_public_share_and_names_the_block()
{
    let live = volume_permissions("snap-1", false, &["444444444444"]);
    let accounts = add_snapshot_permission(&[], &[INTRUDER])
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let public = add_snapshot_permission(&["all"], &[])
        .then_error(|| ModifySnapshotAttributeError::generic(refused_as_blocked()));
    let switch = snapshot_switch(SnapshotBlockPublicAccessState::BlockNewSharing);
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&live, &accounts, &public, &switch]
        ),
    );
    let err = SharingRevoke.undo(&ctx, &undo_record()).await.unwrap_err();
    assert_eq!((accounts.num_calls(), public.num_calls()), (1, 1));
    assert_eq!(err.operation, "ec2:ModifySnapshotAttribute");
    assert_eq!(err.code.as_deref(), Some("OperationNotPermitted"));
    for said in [
        "EBS snapshot snap-1 was not made public again",
        "block public access for EBS snapshots in us-east-1 is on (`block-new-sharing`)",
        "turn it off (aws ec2 disable-snapshot-block-public-access --region us-east-1) and run restore again",
        &format!("ebs_snapshot/snap-1 was shared again with: account {INTRUDER}"),
    ] {
        assert!(err.message.contains(said), "{said}: {err}");
    }

    // The block lifted, restore again: the account is back already, only the public share is added.
    let live = volume_permissions("snap-1", false, &["444444444444", INTRUDER]);
    let accounts = add_snapshot_permission(&[], &[INTRUDER])
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let public = add_snapshot_permission(&["all"], &[])
        .then_output(|| ModifySnapshotAttributeOutput::builder().build());
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&live, &accounts, &public]
        ),
    );
    let outcome = SharingRevoke.undo(&ctx, &undo_record()).await.unwrap();
    assert_eq!((accounts.num_calls(), public.num_calls()), (0, 1));
    assert_eq!(
        outcome.notes,
        [
            "shared ebs_snapshot/snap-1 again with everyone (public)".to_string(),
            format!("ebs_snapshot/snap-1 was already shared again with account {INTRUDER}"),
        ]
    );
}

/// The same for an AMI shared publicly, with an account and with another organization: the account and
/// the organization come back in one ModifyImageAttribute call, the refused `all` in its own, and the
/// error names block public access for AMIs.
#[tokio::test]
async fn mocked_restore_gives_an_image_s_named_grantees_back_when_aws_refuses_the_public_share() {
    let live = mock!(aws_sdk_ec2::Client::describe_image_attribute).then_output(|| {
        DescribeImageAttributeOutput::builder()
            .image_id("ami-1")
            .build()
    });
    let adds = |permissions: Vec<LaunchPermission>| {
        mock!(aws_sdk_ec2::Client::modify_image_attribute).match_requests(move |req| {
            req.launch_permission()
                .is_some_and(|m| m.remove().is_empty() && m.add() == permissions.as_slice())
        })
    };
    let named = adds(vec![
        LaunchPermission::builder().user_id(INTRUDER).build(),
        LaunchPermission::builder()
            .organization_arn(OTHER_ORG)
            .build(),
    ])
    .then_output(|| ModifyImageAttributeOutput::builder().build());
    let public = adds(vec![
        LaunchPermission::builder()
            .group(PermissionGroup::All)
            .build(),
    ])
    .then_error(|| ModifyImageAttributeError::generic(refused_as_blocked()));
    let switch =
        mock!(aws_sdk_ec2::Client::get_image_block_public_access_state).then_output(|| {
            GetImageBlockPublicAccessStateOutput::builder()
                .image_block_public_access_state("block-new-sharing")
                .managed_by(aws_sdk_ec2::types::ManagedBy::Account)
                .build()
        });
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&live, &named, &public, &switch]
        ),
    );
    let undo = UndoRecord {
        resource_type: ResourceType::Image,
        resource_id: "ami-1".into(),
        removed: vec![
            Grantee::Everyone,
            account(INTRUDER),
            Grantee::Organization(OTHER_ORG.into()),
        ],
        kept: vec![],
        shared_document_versions: BTreeMap::new(),
    };
    let err = SharingRevoke.undo(&ctx, &undo).await.unwrap_err();
    assert_eq!((named.num_calls(), public.num_calls()), (1, 1));
    assert_eq!(err.operation, "ec2:ModifyImageAttribute");
    assert!(
        err.message
            .contains("block public access for AMIs in us-east-1 is on (`block-new-sharing`)")
            && err
                .message
                .contains("aws ec2 disable-image-block-public-access --region us-east-1"),
        "{err}"
    );
    assert!(
        err.message.contains(&format!(
            "image/ami-1 was shared again with: account {INTRUDER}; organization {OTHER_ORG}"
        )),
        "{err}"
    );
}

/// An SSM document: the accounts' batches go before `all`, and a refused `all` (the service setting
/// `/ssm/documents/console/public-sharing-permission` is `Disable`, documents-ssm-sharing.html) keeps
/// neither of them from coming back; the error names the setting and the command that enables it.
#[tokio::test]
async fn mocked_ssm_restore_shares_with_the_accounts_before_all_and_names_the_setting_when_refused()
{
    use aws_sdk_ssm::operation::get_service_setting::GetServiceSettingOutput;
    use aws_sdk_ssm::operation::modify_document_permission::ModifyDocumentPermissionError;

    let live = mock!(aws_sdk_ssm::Client::describe_document_permission).then_output(|| {
        aws_sdk_ssm::operation::describe_document_permission::DescribeDocumentPermissionOutput::builder()
            .build()
    });
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<String>>::new()));
    let seen = order.clone();
    let accounts = mock!(aws_sdk_ssm::Client::modify_document_permission)
        .match_requests(move |req| {
            seen.lock().unwrap().push(req.account_ids_to_add().to_vec());
            !req.account_ids_to_add().contains(&"all".to_string())
        })
        .then_output(|| ModifyDocumentPermissionOutput::builder().build());
    let public = mock!(aws_sdk_ssm::Client::modify_document_permission)
        .match_requests(|req| req.account_ids_to_add() == ["all"])
        .then_error(|| {
            ModifyDocumentPermissionError::generic(
                aws_sdk_ssm::error::ErrorMetadata::builder()
                    .code("InvalidPermissionType")
                    .message("Public sharing is disabled for this account.")
                    .build(),
            )
        });
    let setting = mock!(aws_sdk_ssm::Client::get_service_setting).then_output(|| {
        GetServiceSettingOutput::builder()
            .service_setting(
                aws_sdk_ssm::types::ServiceSetting::builder()
                    .setting_id(crate::services::sharing::ssm_public_sharing::SETTING_ID)
                    .setting_value("Disable")
                    .build(),
            )
            .build()
    });
    let ctx = RegionCtx::for_tests("us-east-1").mock_ssm(mock_client!(
        aws_sdk_ssm,
        RuleMode::MatchAny,
        &[&live, &accounts, &public, &setting]
    ));
    let undo = UndoRecord {
        resource_type: ResourceType::SsmDocument,
        resource_id: "Deploy".into(),
        removed: vec![Grantee::Everyone, account(INTRUDER)],
        kept: vec![],
        shared_document_versions: BTreeMap::new(),
    };
    let err = SharingRevoke.undo(&ctx, &undo).await.unwrap_err();
    assert_eq!((accounts.num_calls(), public.num_calls()), (1, 1));
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order.first(),
        Some(&vec![INTRUDER.to_string()]),
        "{order:?}"
    );
    assert_eq!(err.operation, "ssm:ModifyDocumentPermission");
    assert!(
        err.message
            .contains("public-sharing-permission) in us-east-1 is on (`Disable`)")
            && err
                .message
                .contains("--setting-value Enable --region us-east-1"),
        "{err}"
    );
}

/// The plan, made while block public access for snapshots is already on (so its own kind proposes
/// nothing to restore later), says in the cut's reason that restore cannot make the snapshot public
/// again while it is on. The switch is read once for both kinds.
#[tokio::test]
async fn mocked_a_plan_made_while_the_block_is_on_says_restore_cannot_give_the_public_share_back() {
    let snapshots = mock!(aws_sdk_ec2::Client::describe_snapshots).then_output(|| {
        DescribeSnapshotsOutput::builder()
            .snapshots(snapshot("snap-public", HOME))
            .build()
    });
    let public = volume_permissions("snap-public", true, &[INTRUDER]);
    let switch = snapshot_switch(SnapshotBlockPublicAccessState::BlockNewSharing);
    let (rds, ssm, images) = empty_image_and_rds_and_ssm();
    let ctx = RegionCtx::for_tests("us-east-1")
        .mock_ec2(mock_client!(
            aws_sdk_ec2,
            RuleMode::MatchAny,
            &[&snapshots, &public, &images, &switch]
        ))
        .mock_rds(rds)
        .mock_ssm(ssm);
    let scope = DiscoveryScope::for_tests();
    let switches = crate::services::sharing::SnapshotBlockPublicAccess
        .discover(&ctx, &scope)
        .await
        .unwrap();
    let proposed = SharingRevoke.discover(&ctx, &scope).await.unwrap();
    assert_eq!(
        switches.len(),
        1,
        "block-new-sharing is proposed block-all-sharing"
    );
    assert_eq!(switch.num_calls(), 1, "one read of the switch per run");
    let reason = &proposed[0].reason;
    for said in [
        "block public access for EBS snapshots in us-east-1 is on (`block-new-sharing`)",
        "restore cannot make the EBS snapshot public again until it is off",
        "turn the block off (aws ec2 disable-snapshot-block-public-access --region us-east-1) and run restore again",
    ] {
        assert!(reason.contains(said), "{said}: {reason}");
    }
}

#[test]
fn a_switch_that_could_not_be_read_is_said_and_rds_has_none() {
    use public_block::{Block, Switch};
    let unread = Block::Unread {
        switch: Switch::SsmDocuments,
        why: "ssm:GetServiceSetting failed: the endpoint answered HTTP 500 with no AWS error code"
            .into(),
    };
    let note = unread.plan_note("us-east-1", "SSM document").unwrap();
    assert!(
        note.contains("could not be read (ssm:GetServiceSetting failed"),
        "{note}"
    );
    assert_eq!(Block::Off.plan_note("us-east-1", "RDS DB snapshot"), None);
    assert_eq!(Switch::of(ResourceType::DbSnapshot), None);
    // Off (or RDS): AWS's error is kept and said to be about the public share.
    let err = Block::Off.refusal(
        "us-east-1",
        "RDS DB snapshot",
        "orders-final",
        ServiceError::local("rds:ModifyDBSnapshotAttribute", "refused"),
    );
    assert_eq!(
        err.message,
        "RDS DB snapshot orders-final was not made public again (refused)"
    );
}
