//! `evidence_snapshots`: the disks of every instance in a VPC the plan cuts ([`super::vpcs::RULE`]), kept
//! as EBS snapshots before anything is cut: one `CreateSnapshots` per instance, which snapshots all its
//! attached volumes at the same moment (crash-consistent across them:
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html>). Each snapshot is
//! tagged `hikkonuki:incident=<--incident, by default the plan's stamp>` and `hikkonuki:instance=<id>`,
//! and keeps the volume's own tags. The plan shows each instance's volume count and size.
//!
//! Apply never waits for the snapshots to complete: AWS takes the point in time when the call returns,
//! and completes the copy in the background while the cuts go on. The snapshot IDs are in the rollback
//! file.
//!
//! Restore never deletes evidence snapshots: their undo changes nothing and names them, with how to delete
//! them once the incident is closed. Leave them out with `plan --exclude-kinds evidence_snapshots`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    CopyTagsFromSource, Filter, Instance, InstanceSpecification, ResourceType, Tag,
    TagSpecification,
};
use serde::{Deserialize, Serialize};

use super::INCIDENT_TAG;
use super::vpcs::{self, VpcWithAWayOut};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, KindInfo, Phase, PlanOption, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct EvidenceSnapshots;

static INFO: KindInfo = KindInfo {
    name: "evidence_snapshots",
    // Nothing is taken away, so there is nothing to give back: restore keeps the snapshots and says so.
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Evidence,
    global: false,
};

/// The tag key naming the instance a snapshot was taken of.
pub const INSTANCE_TAG: &str = "hikkonuki:instance";

/// `--incident ID`.
pub const INCIDENT: PlanOption = PlanOption {
    flag: "incident",
    value_name: "ID",
    help: "The incident the evidence snapshots are tagged with (hikkonuki:incident=ID); by default the plan's time, YYYYMMDD-HHMMSS",
    check: check_incident,
    repeatable: false,
};

static OPTIONS: [PlanOption; 1] = [INCIDENT];

/// A tag value: at most 256 characters of letters, digits, spaces and `_ . : / = + - @`
/// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions>).
fn check_incident(value: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    if value.is_empty() || value.chars().count() > 256 || !value.chars().all(allowed) {
        return Err(format!(
            "--incident {value:?}: an incident ID is a tag value, 1 to 256 letters, digits, spaces and _ . : / = + - @\n  fix: give e.g. --incident INC-2041"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub volume_id: String,
    pub size_gib: i32,
}

/// One instance's disks, and whether the incident's snapshots of them exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotState {
    pub instance_id: String,
    pub incident: String,
    /// The attached EBS volumes, by ID.
    pub volumes: Vec<Volume>,
    /// Every volume has a snapshot tagged with the incident.
    pub snapshotted: bool,
}

/// What restore is told: the snapshots taken, which it keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotUndo {
    pub instance_id: String,
    pub incident: String,
    /// The snapshot IDs, as CreateSnapshots returned them; absent when the run was killed before it
    /// heard back (restore then finds them by tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ids: Option<Vec<String>>,
}

/// The incident the snapshots are tagged with.
fn incident(scope: &DiscoveryScope) -> Result<String, ServiceError> {
    match scope.option(INCIDENT.flag) {
        Some(given) => Ok(given.to_string()),
        None => super::plan_stamp(scope),
    }
}

fn attached_volumes(instance: &Instance) -> Vec<String> {
    let mut ids: Vec<String> = instance
        .block_device_mappings()
        .iter()
        .filter_map(|mapping| mapping.ebs().and_then(|ebs| ebs.volume_id()))
        .map(str::to_string)
        .collect();
    ids.sort();
    ids
}

/// The sizes of the given volumes, by ID, in one describe.
async fn sizes(ctx: &RegionCtx, ids: &[String]) -> Result<HashMap<String, i32>, ServiceError> {
    let mut sizes = HashMap::new();
    // EC2 filters take at most 200 values.
    for chunk in ids.chunks(200) {
        let volumes: Vec<_> = ctx
            .ec2()
            .describe_volumes()
            .filters(
                Filter::builder()
                    .name("volume-id")
                    .set_values(Some(chunk.to_vec()))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeVolumes", err))?;
        for volume in volumes {
            if let Some(id) = volume.volume_id() {
                sizes.insert(id.to_string(), volume.size().unwrap_or(0));
            }
        }
    }
    Ok(sizes)
}

/// The incident's snapshots of the given volumes, as (snapshot ID, volume ID).
async fn snapshots(
    ctx: &RegionCtx,
    incident: &str,
    volumes: &[String],
) -> Result<Vec<(String, String)>, ServiceError> {
    if volumes.is_empty() {
        return Ok(vec![]);
    }
    let found: Vec<_> = ctx
        .ec2()
        .describe_snapshots()
        .owner_ids("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{INCIDENT_TAG}"))
                .values(incident)
                .build(),
        )
        .filters(
            Filter::builder()
                .name("volume-id")
                .set_values(Some(volumes.to_vec()))
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSnapshots", err))?;
    Ok(found
        .iter()
        .filter_map(|s| Some((s.snapshot_id()?.to_string(), s.volume_id()?.to_string())))
        .collect())
}

fn describe_instances_in(vpcs: &[VpcWithAWayOut]) -> Vec<Filter> {
    vec![
        Filter::builder()
            .name("vpc-id")
            .set_values(Some(vpcs.iter().map(|v| v.vpc_id.clone()).collect()))
            .build(),
        // A terminated instance has no disks left; the others all may.
        Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .values("stopping")
            .values("stopped")
            .build(),
    ]
}

fn gib_total(volumes: &[Volume]) -> i64 {
    volumes.iter().map(|v| i64::from(v.size_gib)).sum()
}

#[async_trait]
impl CutKind for EvidenceSnapshots {
    type State = SnapshotState;
    type Undo = SnapshotUndo;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn plan_options(&self) -> &'static [PlanOption] {
        &OPTIONS
    }

    fn check_states(&self, cut: &TypedCut<SnapshotState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.instance_id != cut.target || after.instance_id != cut.target {
            return Err(format!(
                "`before` and `after` must both name the target instance {}",
                cut.target
            ));
        }
        if before.incident != after.incident || before.volumes != after.volumes {
            return Err("a snapshot changes no volume and keeps the incident".into());
        }
        check_incident(&after.incident)?;
        if before.snapshotted || !after.snapshotted || after.volumes.is_empty() {
            return Err(
                "the cut takes an instance with EBS volumes from no snapshots to snapshotted"
                    .into(),
            );
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<SnapshotState>>, ServiceError> {
        let vpcs = vpcs::with_a_way_out(ctx).await?;
        if vpcs.is_empty() {
            return Ok(vec![]);
        }
        let mut instances = Vec::new();
        // At most 200 VPC IDs per filter.
        for chunk in vpcs.chunks(200) {
            let found: Vec<_> = ctx
                .ec2()
                .describe_instances()
                .set_filters(Some(describe_instances_in(chunk)))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeInstances", err))?;
            instances.extend(found.into_iter().flat_map(|r| r.instances().to_vec()));
        }
        let all_volumes: Vec<String> = instances.iter().flat_map(attached_volumes).collect();
        let sizes = sizes(ctx, &all_volumes).await?;
        let incident = incident(scope)?;
        let mut proposals = Vec::new();
        for instance in &instances {
            let Some(instance_id) = instance.instance_id() else {
                continue;
            };
            let vpc = vpcs
                .iter()
                .find(|v| Some(v.vpc_id.as_str()) == instance.vpc_id());
            let volumes: Vec<Volume> = attached_volumes(instance)
                .into_iter()
                .map(|volume_id| Volume {
                    size_gib: sizes.get(&volume_id).copied().unwrap_or(0),
                    volume_id,
                })
                .collect();
            let before = SnapshotState {
                instance_id: instance_id.to_string(),
                incident: incident.clone(),
                volumes,
                snapshotted: false,
            };
            let disabled_because = before.volumes.is_empty().then(|| {
                "the instance has no EBS volume (instance store only), which EBS cannot snapshot: keep its disks by hand (an image from inside the instance) before it is stopped".to_string()
            });
            proposals.push(Proposal {
                target: instance_id.to_string(),
                reason: format!(
                    "{instance_id} is in {} (a way out: {}): evidence first, crash-consistent snapshots of its {} EBS volume(s), {} GiB in all, tagged {INCIDENT_TAG}={incident}, before it is cut off. Apply does not wait for them to complete. Restore never deletes them; delete them once the incident is closed. Recorded: {}; leave snapshots out with `plan --exclude-kinds evidence_snapshots`.",
                    vpc.map(|v| v.vpc_id.as_str()).unwrap_or("?"),
                    vpc.map(VpcWithAWayOut::summary).unwrap_or_default(),
                    before.volumes.len(),
                    gib_total(&before.volumes),
                    vpcs::RULE
                ),
                after: SnapshotState {
                    snapshotted: true,
                    ..before.clone()
                },
                before,
                disabled_because,
            });
        }
        Ok(proposals)
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SnapshotState>,
    ) -> Result<Option<SnapshotState>, ServiceError> {
        let described = ctx
            .ec2()
            .describe_instances()
            .instance_ids(&cut.target)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeInstances", err));
        let Some(described) = crate::services::network::vpc::unless_not_found(
            described,
            &["InvalidInstanceID.NotFound"],
        )?
        else {
            return Ok(None);
        };
        let Some(instance) = described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(cut.target.as_str()))
        else {
            return Ok(None);
        };
        let ids = attached_volumes(instance);
        let sizes = sizes(ctx, &ids).await?;
        let taken = snapshots(ctx, &cut.before.incident, &ids).await?;
        Ok(Some(SnapshotState {
            instance_id: cut.target.clone(),
            incident: cut.before.incident.clone(),
            snapshotted: !ids.is_empty()
                && ids
                    .iter()
                    .all(|id| taken.iter().any(|(_, volume)| volume == id)),
            volumes: ids
                .into_iter()
                .map(|volume_id| Volume {
                    size_gib: sizes.get(&volume_id).copied().unwrap_or(0),
                    volume_id,
                })
                .collect(),
        }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SnapshotState>,
    ) -> Result<SnapshotUndo, ServiceError> {
        let incident = &cut.after.incident;
        let out = ctx
            .ec2()
            .create_snapshots()
            .instance_specification(
                InstanceSpecification::builder()
                    .instance_id(&cut.target)
                    .exclude_boot_volume(false)
                    .build(),
            )
            .description(format!(
                "hikkonuki evidence, incident {incident}, instance {}",
                cut.target
            ))
            .copy_tags_from_source(CopyTagsFromSource::Volume)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Snapshot)
                    .tags(Tag::builder().key(INCIDENT_TAG).value(incident).build())
                    .tags(Tag::builder().key(INSTANCE_TAG).value(&cut.target).build())
                    .build(),
            )
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:CreateSnapshots", err))?;
        Ok(SnapshotUndo {
            instance_id: cut.target.clone(),
            incident: incident.clone(),
            snapshot_ids: Some(
                out.snapshots()
                    .iter()
                    .filter_map(|s| s.snapshot_id().map(str::to_string))
                    .collect(),
            ),
        })
    }

    fn undo_record_for(&self, cut: &TypedCut<SnapshotState>) -> Result<SnapshotUndo, ServiceError> {
        Ok(SnapshotUndo {
            instance_id: cut.target.clone(),
            incident: cut.after.incident.clone(),
            snapshot_ids: None,
        })
    }

    /// The IDs are what apply learned; the rest must be the cut's own.
    fn check_undo(&self, cut: &TypedCut<SnapshotState>, undo: &SnapshotUndo) -> Result<(), String> {
        if undo.instance_id != cut.target || undo.incident != cut.after.incident {
            return Err(format!(
                "the undo record names {} (incident {}), but the cut is {} (incident {})",
                undo.instance_id, undo.incident, cut.target, cut.after.incident
            ));
        }
        Ok(())
    }

    /// Keeps the snapshots: evidence is never deleted by restore. Names them, with how to delete them.
    async fn undo(
        &self,
        ctx: &RegionCtx,
        undo: &SnapshotUndo,
    ) -> Result<UndoOutcome, ServiceError> {
        let ids = match &undo.snapshot_ids {
            Some(ids) => ids.clone(),
            None => ctx
                .ec2()
                .describe_snapshots()
                .owner_ids("self")
                .filters(
                    Filter::builder()
                        .name(format!("tag:{INCIDENT_TAG}"))
                        .values(&undo.incident)
                        .build(),
                )
                .filters(
                    Filter::builder()
                        .name(format!("tag:{INSTANCE_TAG}"))
                        .values(&undo.instance_id)
                        .build(),
                )
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeSnapshots", err))?
                .iter()
                .filter_map(|s| s.snapshot_id().map(str::to_string))
                .collect(),
        };
        let note = if ids.is_empty() {
            format!(
                "{}: no evidence snapshot tagged {INCIDENT_TAG}={} was found; nothing is deleted by restore",
                undo.instance_id, undo.incident
            )
        } else {
            format!(
                "{}: evidence snapshots {} (incident {}) are kept: restore never deletes evidence. Once the incident is closed: aws ec2 delete-snapshot --region {} --snapshot-id ID, for each",
                undo.instance_id,
                ids.join(", "),
                undo.incident,
                ctx.region
            )
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}

#[cfg(test)]
mod tests;
