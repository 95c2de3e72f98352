//! RDS DB snapshots and DB cluster snapshots: the `restore` attribute (DescribeDBSnapshotAttributes /
//! ModifyDBSnapshotAttribute, and the cluster equivalents). Its values are account IDs, or `all` for a
//! public snapshot (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSnapshotAttribute.html>).
//!
//! Only manual snapshots can be shared: "You can't share automated DB snapshots"; "You can share a
//! manual DB snapshot with up to 20 other AWS accounts"
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ShareSnapshot.html>). So discovery reads
//! the attribute of every snapshot but the automated ones, and undo, which adds accounts back, can meet
//! `SharedSnapshotQuotaExceeded` when accounts were added since the cut; its error then says so.

use aws_sdk_rds::types::DbSnapshotAttribute;

use super::{Grantee, Reading, ResourceType, SharingState};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

/// Snapshots read at a time.
const CONCURRENCY: usize = 8;

/// The attribute that lists who may restore a snapshot.
const RESTORE: &str = "restore";

/// The documented maximum of accounts a manual snapshot is shared with (USER_ShareSnapshot.html).
pub const MAX_SHARED_ACCOUNTS: usize = 20;

/// DB snapshot or DB cluster snapshot: the same attribute behind two sets of calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    Instance,
    Cluster,
}

impl Snapshot {
    fn resource_type(self) -> ResourceType {
        match self {
            Snapshot::Instance => ResourceType::DbSnapshot,
            Snapshot::Cluster => ResourceType::DbClusterSnapshot,
        }
    }

    fn modify_action(self) -> &'static str {
        match self {
            Snapshot::Instance => "rds:ModifyDBSnapshotAttribute",
            Snapshot::Cluster => "rds:ModifyDBClusterSnapshotAttribute",
        }
    }
}

fn shared(readings: Vec<Reading>) -> Vec<Reading> {
    readings
        .into_iter()
        .filter(|r| !r.state.shared_with.is_empty() || !r.unclassified.is_empty())
        .collect()
}

/// Whether a snapshot of this type can be shared at all: every type but `automated`.
fn shareable(snapshot_type: Option<&str>) -> bool {
    snapshot_type != Some("automated")
}

pub async fn shared_db_snapshots(ctx: &RegionCtx) -> Result<Vec<Reading>, ServiceError> {
    let snapshots: Vec<aws_sdk_rds::types::DbSnapshot> = ctx
        .rds()
        .describe_db_snapshots()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("rds:DescribeDBSnapshots", err))?;
    let ids: Vec<String> = snapshots
        .iter()
        .filter(|s| shareable(s.snapshot_type()))
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
        .collect();
    let readings = gather(ids, CONCURRENCY, |id| async move {
        Ok(read(ctx, Snapshot::Instance, &id)
            .await?
            .into_iter()
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(shared(readings))
}

pub async fn shared_db_cluster_snapshots(ctx: &RegionCtx) -> Result<Vec<Reading>, ServiceError> {
    let snapshots: Vec<aws_sdk_rds::types::DbClusterSnapshot> = ctx
        .rds()
        .describe_db_cluster_snapshots()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("rds:DescribeDBClusterSnapshots", err))?;
    let ids: Vec<String> = snapshots
        .iter()
        .filter(|s| shareable(s.snapshot_type()))
        .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_string))
        .collect();
    let readings = gather(ids, CONCURRENCY, |id| async move {
        Ok(read(ctx, Snapshot::Cluster, &id)
            .await?
            .into_iter()
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(shared(readings))
}

fn reading(resource_type: ResourceType, id: &str, attributes: &[DbSnapshotAttribute]) -> Reading {
    let mut grantees = Vec::new();
    let mut unclassified = Vec::new();
    for attribute in attributes
        .iter()
        .filter(|a| a.attribute_name() == Some(RESTORE))
    {
        for value in attribute.attribute_values() {
            match Grantee::from_account_value(value) {
                Some(grantee) => grantees.push(grantee),
                None => unclassified.push(format!("restore: {value}")),
            }
        }
    }
    Reading {
        state: SharingState::new(resource_type, id, grantees),
        unclassified,
    }
}

/// The snapshot's sharing; `None` when it no longer exists.
pub async fn read(
    ctx: &RegionCtx,
    snapshot: Snapshot,
    id: &str,
) -> Result<Option<Reading>, ServiceError> {
    let resource_type = snapshot.resource_type();
    match snapshot {
        Snapshot::Instance => {
            let result = ctx
                .rds()
                .describe_db_snapshot_attributes()
                .db_snapshot_identifier(id)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("rds:DescribeDBSnapshotAttributes", err));
            match result {
                Ok(out) => Ok(Some(reading(
                    resource_type,
                    id,
                    out.db_snapshot_attributes_result()
                        .map(|r| r.db_snapshot_attributes())
                        .unwrap_or_default(),
                ))),
                Err(err) if is_not_found(&err) => Ok(None),
                Err(err) => Err(err),
            }
        }
        Snapshot::Cluster => {
            let result = ctx
                .rds()
                .describe_db_cluster_snapshot_attributes()
                .db_cluster_snapshot_identifier(id)
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk("rds:DescribeDBClusterSnapshotAttributes", err)
                });
            match result {
                Ok(out) => {
                    // The cluster result has its own attribute type, with the same two fields.
                    let attributes: Vec<DbSnapshotAttribute> = out
                        .db_cluster_snapshot_attributes_result()
                        .map(|r| r.db_cluster_snapshot_attributes())
                        .unwrap_or_default()
                        .iter()
                        .map(|a| {
                            DbSnapshotAttribute::builder()
                                .set_attribute_name(a.attribute_name().map(str::to_string))
                                .set_attribute_values(Some(a.attribute_values().to_vec()))
                                .build()
                        })
                        .collect();
                    Ok(Some(reading(resource_type, id, &attributes)))
                }
                Err(err) if is_not_found(&err) => Ok(None),
                Err(err) => Err(err),
            }
        }
    }
}

/// AWS answers `DBSnapshotNotFound` and `DBClusterSnapshotNotFoundFault`
/// (API_DescribeDBSnapshotAttributes.html, API_DescribeDBClusterSnapshotAttributes.html, Errors); the
/// emulator spells the first `DBSnapshotNotFoundFault`.
fn is_not_found(err: &ServiceError) -> bool {
    matches!(
        err.code.as_deref(),
        Some("DBSnapshotNotFound" | "DBSnapshotNotFoundFault" | "DBClusterSnapshotNotFoundFault")
    )
}

fn values(grantees: &[Grantee]) -> Result<Vec<String>, ServiceError> {
    grantees
        .iter()
        .map(|g| match g {
            Grantee::Everyone => Ok("all".to_string()),
            Grantee::Account(id) => Ok(id.clone()),
            other => Err(ServiceError::local(
                "rds:ModifyDBSnapshotAttribute",
                format!("RDS snapshots cannot be shared with {other:?}"),
            )),
        })
        .collect()
}

/// AWS's refusal to share a snapshot with more accounts, in words the operator can act on.
fn about_quota(id: &str, mut err: ServiceError) -> ServiceError {
    if err
        .code
        .as_deref()
        .is_some_and(|c| c.starts_with("SharedSnapshotQuotaExceeded"))
    {
        err.message = format!(
            "{} (RDS shares a manual snapshot with at most {MAX_SHARED_ACCOUNTS} accounts: {id} was shared with other accounts since the cut, so the ones the cut removed no longer fit. Remove the accounts added since, if they are not wanted, and run restore again)",
            err.message
        );
    }
    err
}

async fn modify(
    ctx: &RegionCtx,
    snapshot: Snapshot,
    id: &str,
    to_add: Vec<String>,
    to_remove: Vec<String>,
) -> Result<(), ServiceError> {
    let action = snapshot.modify_action();
    let result = match snapshot {
        Snapshot::Instance => ctx
            .rds()
            .modify_db_snapshot_attribute()
            .db_snapshot_identifier(id)
            .attribute_name(RESTORE)
            .set_values_to_add(Some(to_add).filter(|v| !v.is_empty()))
            .set_values_to_remove(Some(to_remove).filter(|v| !v.is_empty()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk(action, err)),
        Snapshot::Cluster => ctx
            .rds()
            .modify_db_cluster_snapshot_attribute()
            .db_cluster_snapshot_identifier(id)
            .attribute_name(RESTORE)
            .set_values_to_add(Some(to_add).filter(|v| !v.is_empty()))
            .set_values_to_remove(Some(to_remove).filter(|v| !v.is_empty()))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk(action, err)),
    };
    result.map_err(|err| about_quota(id, err))
}

pub async fn remove(
    ctx: &RegionCtx,
    snapshot: Snapshot,
    id: &str,
    grantees: &[Grantee],
) -> Result<(), ServiceError> {
    modify(ctx, snapshot, id, Vec::new(), values(grantees)?).await
}

pub async fn add(
    ctx: &RegionCtx,
    snapshot: Snapshot,
    id: &str,
    grantees: &[Grantee],
) -> Result<(), ServiceError> {
    modify(ctx, snapshot, id, values(grantees)?, Vec::new()).await
}
