//! EBS snapshots: the `createVolumePermission` attribute (DescribeSnapshotAttribute /
//! ModifySnapshotAttribute). Its entries are the group `all` (public) or an account's `UserId`
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolumePermission.html>). Permissions
//! are changed with `OperationType` and the `UserIds` / `GroupNames` lists, one call for all of them
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html>); undo adds
//! `all` in a call of its own, after the accounts ([`super::public_block`]).

use aws_sdk_ec2::types::{OperationType, Snapshot, SnapshotAttributeName};

use super::{Grantee, Reading, ResourceType, SharingState};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

/// Snapshots read at a time: one DescribeSnapshotAttribute each, within EC2's request rate.
const CONCURRENCY: usize = 8;

/// The account's snapshots in this region shared with anyone.
pub async fn shared_snapshots(
    ctx: &RegionCtx,
    account: &str,
) -> Result<Vec<Reading>, ServiceError> {
    let snapshots: Vec<Snapshot> = ctx
        .ec2()
        .describe_snapshots()
        .owner_ids("self")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSnapshots", err))?;
    // Only the account's own snapshots can have their sharing changed; `self` already says so on AWS,
    // and the check keeps an endpoint that ignores the filter from proposing others'.
    let ids: Vec<String> = snapshots
        .iter()
        .filter(|s| s.owner_id() == Some(account))
        .filter_map(|s| s.snapshot_id().map(str::to_string))
        .collect();
    let readings = gather(ids, CONCURRENCY, |id| async move {
        Ok(read(ctx, &id).await?.into_iter().collect::<Vec<_>>())
    })
    .await?;
    Ok(readings
        .into_iter()
        .filter(|r| !r.state.shared_with.is_empty() || !r.unclassified.is_empty())
        .collect())
}

fn is_not_found(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("InvalidSnapshot.NotFound")
}

/// The snapshot's sharing; `None` when it no longer exists.
pub async fn read(ctx: &RegionCtx, id: &str) -> Result<Option<Reading>, ServiceError> {
    let result = ctx
        .ec2()
        .describe_snapshot_attribute()
        .snapshot_id(id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSnapshotAttribute", err));
    let out = match result {
        Ok(out) => out,
        Err(err) if is_not_found(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut grantees = Vec::new();
    let mut unclassified = Vec::new();
    for permission in out.create_volume_permissions() {
        let grantee = match (permission.group(), permission.user_id()) {
            (Some(group), None) if group.as_str() == "all" => Some(Grantee::Everyone),
            (None, Some(user)) => Grantee::from_account_value(user),
            _ => None,
        };
        match grantee {
            Some(grantee) => grantees.push(grantee),
            None => unclassified.push(format!("{permission:?}")),
        }
    }
    Ok(Some(Reading {
        state: SharingState::new(ResourceType::EbsSnapshot, id, grantees),
        unclassified,
    }))
}

async fn modify(
    ctx: &RegionCtx,
    id: &str,
    operation: OperationType,
    grantees: &[Grantee],
    dry_run: bool,
) -> Result<(), ServiceError> {
    let mut call = ctx
        .ec2()
        .modify_snapshot_attribute()
        .snapshot_id(id)
        .attribute(SnapshotAttributeName::CreateVolumePermission)
        .operation_type(operation)
        .dry_run(dry_run);
    for grantee in grantees {
        call = match grantee {
            Grantee::Everyone => call.group_names("all"),
            Grantee::Account(account) => call.user_ids(account),
            other => {
                return Err(ServiceError::local(
                    "ec2:ModifySnapshotAttribute",
                    format!("EBS snapshots cannot be shared with {other:?}"),
                ));
            }
        };
    }
    call.send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:ModifySnapshotAttribute", err))?;
    Ok(())
}

pub async fn remove(ctx: &RegionCtx, id: &str, grantees: &[Grantee]) -> Result<(), ServiceError> {
    modify(ctx, id, OperationType::Remove, grantees, false).await
}

/// The removal's dry run (`apply --check`): AWS answers `DryRunOperation` when it would be permitted
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html>).
pub async fn check_remove(
    ctx: &RegionCtx,
    id: &str,
    grantees: &[Grantee],
) -> Result<(), ServiceError> {
    modify(ctx, id, OperationType::Remove, grantees, true).await
}

pub async fn add(ctx: &RegionCtx, id: &str, grantees: &[Grantee]) -> Result<(), ServiceError> {
    modify(ctx, id, OperationType::Add, grantees, false).await
}
