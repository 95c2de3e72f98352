//! `evidence_snapshots`: the disks of every instance in a VPC the plan cuts ([`super::vpcs::RULE`]), kept
//! as EBS snapshots before anything is cut: one `CreateSnapshots` per instance, which snapshots all its
//! attached volumes at the same moment (crash-consistent across them:
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html>). Each snapshot is
//! tagged `hikkonuki:incident=<--incident, by default the plan's stamp>` and `hikkonuki:instance=<id>`,
//! and keeps the volume's own tags. The plan shows each instance's volume count and size.
//!
//! Apply never waits for the snapshots to complete: AWS takes the point in time when the call returns,
//! and completes the copy in the background while the cuts go on. The snapshot IDs are in the rollback
//! file: `show ROLLBACK` lists them, and `show ROLLBACK --live` asks AWS how far each has got.
//!
//! Restore never deletes evidence snapshots: their undo changes nothing and names them, with how to delete
//! them once the incident is closed, and names as a conflict any recorded snapshot deleted since apply.
//! `plan --no-evidence-snapshots` leaves them out: each instance is still proposed, disabled, so the
//! review shows what is not kept (`--exclude-kinds evidence_snapshots` drops them from the plan
//! altogether).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    CopyTagsFromSource, Filter, Instance, InstanceSpecification, ResourceType, Snapshot,
    SnapshotState as AwsSnapshotState, Tag, TagSpecification,
};
use serde::{Deserialize, Serialize};

use super::INCIDENT_TAG;
use super::vpcs::{self, VpcWithAWayOut};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, PlanOption, Proposal,
    ServiceError, TypedCut, UndoOutcome,
};

pub struct EvidenceSnapshots;

static INFO: KindInfo = KindInfo {
    name: "evidence_snapshots",
    // Nothing is taken away, so there is nothing to give back: restore keeps the snapshots and says so.
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Evidence,
    global: false,
    footprint: Footprint::Evidence,
};

/// The tag key naming the instance a snapshot was taken of.
pub const INSTANCE_TAG: &str = "hikkonuki:instance";

/// `--incident ID`.
pub const INCIDENT: PlanOption = PlanOption {
    flag: "incident",
    value_name: Some("ID"),
    help: "The incident the evidence snapshots are tagged with (hikkonuki:incident=ID); by default the plan's time, YYYYMMDD-HHMMSS",
    check: check_incident,
    repeatable: false,
};

/// `--no-evidence-snapshots`: the instances are still listed, each cut proposed disabled, so the review
/// shows what is left out and the operator can switch any back on (`enabled: true`) without a new plan.
pub const NO_SNAPSHOTS: PlanOption = PlanOption {
    flag: "no-evidence-snapshots",
    value_name: None,
    help: "Leave the evidence snapshots out: each instance's snapshot cut is still listed in the plan, disabled, so the review shows what is not kept; set `enabled: true` on one to take it after all",
    check: PlanOption::check_switch,
    repeatable: false,
};

/// Why a cut is disabled under `--no-evidence-snapshots`: one text for every instance, so the review
/// groups them all on one line.
pub const LEFT_OUT: &str = "left out by --no-evidence-snapshots; set `enabled: true` on a cut to snapshot that instance after all";

static OPTIONS: [PlanOption; 2] = [INCIDENT, NO_SNAPSHOTS];

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

/// "2 EBS volume(s), 28 GiB": what a set of snapshots costs, for the review.
fn volumes_and_size(volumes: &[Volume]) -> String {
    format!(
        "{} EBS volume(s), {} GiB",
        volumes.len(),
        gib_total(volumes)
    )
}

/// One proposal per instance found in a VPC with a way out, from what discovery read: each reason names
/// the instance's volume count and size and the region's total; under `--no-evidence-snapshots`
/// (`left_out`) every one is proposed disabled, so the review still shows what is not kept.
fn proposals(
    region: &str,
    vpcs: &[VpcWithAWayOut],
    instances: &[Instance],
    sizes: &HashMap<String, i32>,
    incident: &str,
    left_out: bool,
) -> Vec<Proposal<SnapshotState>> {
    let volumes_of = |instance: &Instance| -> Vec<Volume> {
        attached_volumes(instance)
            .into_iter()
            .map(|volume_id| Volume {
                size_gib: sizes.get(&volume_id).copied().unwrap_or(0),
                volume_id,
            })
            .collect()
    };
    // The region's whole bill, repeated in each reason so the review (`plan --diff`) shows what the
    // kind takes here in all, not only per instance.
    let region_volumes: Vec<Volume> = instances.iter().flat_map(volumes_of).collect();
    let region_total = format!(
        "All evidence snapshots in {region}: {} instance(s), {}.",
        instances.len(),
        volumes_and_size(&region_volumes)
    );
    let mut proposals = Vec::new();
    for instance in instances {
        let Some(instance_id) = instance.instance_id() else {
            continue;
        };
        let vpc = vpcs
            .iter()
            .find(|v| Some(v.vpc_id.as_str()) == instance.vpc_id());
        let before = SnapshotState {
            instance_id: instance_id.to_string(),
            incident: incident.to_string(),
            volumes: volumes_of(instance),
            snapshotted: false,
        };
        // An instance with nothing EBS can snapshot says so even when snapshots are left out: the
        // operator switching it back on must learn it cannot work.
        let disabled_because = if before.volumes.is_empty() {
            Some("the instance has no EBS volume (instance store only), which EBS cannot snapshot: keep its disks by hand (an image from inside the instance) before it is stopped".to_string())
        } else {
            left_out.then(|| LEFT_OUT.to_string())
        };
        proposals.push(Proposal {
            target: instance_id.to_string(),
            reason: format!(
                "{instance_id} is in {} (a way out: {}): evidence first, crash-consistent snapshots of its {}, tagged {INCIDENT_TAG}={incident}, before it is cut off. {region_total} Apply does not wait for them to complete; `show ROLLBACK --live` reports their progress. Restore never deletes them; delete them once the incident is closed. Recorded: {}; leave snapshots out with `plan --no-evidence-snapshots`.",
                vpc.map(|v| v.vpc_id.as_str()).unwrap_or("?"),
                vpc.map(VpcWithAWayOut::summary).unwrap_or_default(),
                volumes_and_size(&before.volumes),
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
    proposals
}

/// The CreateSnapshots request of the cut: every disk of the instance, tagged with the incident.
fn snapshots_of(
    ctx: &RegionCtx,
    cut: &TypedCut<SnapshotState>,
) -> aws_sdk_ec2::operation::create_snapshots::builders::CreateSnapshotsFluentBuilder {
    let incident = &cut.after.incident;
    ctx.ec2()
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
}

#[async_trait]
impl CutKind for EvidenceSnapshots {
    type State = SnapshotState;
    type Undo = SnapshotUndo;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// The snapshots are found by their incident tag, and EC2's describes reach a new resource and its
    /// tags only eventually ("it can take time for the results of an API command that affects your
    /// resources to be visible to all subsequent commands":
    /// <https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html>, which gives no bound).
    /// Looked at too soon, the snapshots just taken could read as gone and `watch --recut` take a second
    /// set: within this while watch says it cannot tell yet.
    fn reads_back_late(&self) -> Option<std::time::Duration> {
        Some(SNAPSHOTS_LISTED_WITHIN)
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
        Ok(proposals(
            &ctx.region,
            &vpcs,
            &instances,
            &sizes,
            &incident(scope)?,
            scope.switch(NO_SNAPSHOTS.flag),
        ))
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
        let out = snapshots_of(ctx, cut)
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

    /// Dry-runs the CreateSnapshots apply would send (`apply --check`; `DryRunOperation` when it would
    /// be permitted, <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSnapshots.html>).
    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SnapshotState>,
    ) -> PermissionCheck {
        PermissionCheck::from_dry_run(
            snapshots_of(ctx, cut)
                .dry_run(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| ServiceError::from_sdk("ec2:CreateSnapshots", err)),
        )
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

    /// Keeps the snapshots: evidence is never deleted by restore. Names those that still exist, with how
    /// to delete them, and each recorded one deleted since apply as a conflict: evidence lost, which
    /// restore cannot take again, listed in restore's summary. Whether the recorded snapshots exist is
    /// read as `show --live` reads it; a refused read is said, not a failed restore, as nothing changes.
    async fn undo(
        &self,
        ctx: &RegionCtx,
        undo: &SnapshotUndo,
    ) -> Result<UndoOutcome, ServiceError> {
        let mut deleted = Vec::new();
        let mut unread = None;
        let ids = match &undo.snapshot_ids {
            Some(ids) => match by_id(ctx, ids).await {
                Ok(read) => read
                    .into_iter()
                    .filter_map(|(id, snapshot)| match snapshot {
                        Some(_) => Some(id),
                        None => {
                            deleted.push(id);
                            None
                        }
                    })
                    .collect(),
                Err(err) => {
                    unread = Some(err);
                    ids.clone()
                }
            },
            None => tagged(ctx, undo)
                .await?
                .iter()
                .filter_map(|s| s.snapshot_id().map(str::to_string))
                .collect(),
        };
        let mut notes = Vec::new();
        if !ids.is_empty() {
            notes.push(format!(
                "{}: evidence snapshots {} (incident {}) are kept: restore never deletes evidence. Once the incident is closed: aws ec2 delete-snapshot --region {} --snapshot-id ID, for each",
                undo.instance_id,
                ids.join(", "),
                undo.incident,
                ctx.region
            ));
        } else if deleted.is_empty() {
            notes.push(format!(
                "{}: no evidence snapshot tagged {INCIDENT_TAG}={} was found; nothing is deleted by restore",
                undo.instance_id, undo.incident
            ));
        }
        if let Some(err) = unread {
            notes.push(format!(
                "{}: whether they all still exist could not be read ({err})",
                undo.instance_id
            ));
        }
        notes.extend(deleted.iter().map(|id| {
            format!(
                "conflict: evidence snapshot {id} of {} (incident {}) was deleted after the cut; restore neither deletes nor takes snapshots",
                undo.instance_id, undo.incident
            )
        }));
        Ok(UndoOutcome { notes })
    }

    /// The snapshot IDs, which `show` lists without asking AWS.
    fn recorded(&self, undo: &SnapshotUndo) -> Option<String> {
        Some(match &undo.snapshot_ids {
            Some(ids) if !ids.is_empty() => format!(
                "snapshots {} (incident {}), kept by restore; `show --live` reports their progress",
                ids.join(", "),
                undo.incident
            ),
            Some(_) => {
                "no snapshot: CreateSnapshots returned none (the instance had no EBS volume left)"
                    .to_string()
            }
            None => format!(
                "snapshot IDs never heard back (the run was interrupted); the snapshots are tagged {INCIDENT_TAG}={} and {INSTANCE_TAG}={}, which `show --live` and restore look up",
                undo.incident, undo.instance_id
            ),
        })
    }

    /// Each snapshot's state now: "snap-1 completed, snap-2 pending 40%", "gone" for a deleted one, and
    /// an error state with AWS's message.
    async fn progress(
        &self,
        ctx: &RegionCtx,
        undo: &SnapshotUndo,
    ) -> Option<Result<String, ServiceError>> {
        Some(progress_of(ctx, undo).await)
    }
}

/// The incident's snapshots of the undo record's instance, found by their tags (for a run killed before
/// CreateSnapshots answered).
async fn tagged(ctx: &RegionCtx, undo: &SnapshotUndo) -> Result<Vec<Snapshot>, ServiceError> {
    ctx.ec2()
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
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSnapshots", err))
}

/// What DescribeSnapshots answers when one of the IDs asked for does not exist (it answers for none of
/// them): <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html> ("If you
/// specify an invalid snapshot ID, an error is returned"), the code from
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>.
const SNAPSHOT_NOT_FOUND: &str = "InvalidSnapshot.NotFound";

/// How long after the cut [`EvidenceSnapshots`]' snapshots may still be missing from a describe by tag:
/// AWS states no bound, and minutes cover what EC2's consistency is seen to take.
const SNAPSHOTS_LISTED_WITHIN: std::time::Duration = std::time::Duration::from_secs(5 * 60);

async fn describe_ids(ctx: &RegionCtx, ids: &[String]) -> Result<Vec<Snapshot>, ServiceError> {
    ctx.ec2()
        .describe_snapshots()
        .set_snapshot_ids(Some(ids.to_vec()))
        .send()
        .await
        .map(|out| out.snapshots().to_vec())
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeSnapshots", err))
}

/// Each recorded snapshot as AWS describes it now, in the recorded order; `None` for one that is gone.
async fn by_id(
    ctx: &RegionCtx,
    ids: &[String],
) -> Result<Vec<(String, Option<Snapshot>)>, ServiceError> {
    let is_not_found = |err: &ServiceError| err.code.as_deref() == Some(SNAPSHOT_NOT_FOUND);
    let found = match describe_ids(ctx, ids).await {
        Ok(found) => found,
        // Some are gone, and the error does not say which: ask for each, so the rest are still shown.
        Err(err) if is_not_found(&err) => {
            let mut found = Vec::new();
            for id in ids {
                match describe_ids(ctx, std::slice::from_ref(id)).await {
                    Ok(one) => found.extend(one),
                    Err(err) if is_not_found(&err) => {}
                    Err(err) => return Err(err),
                }
            }
            found
        }
        Err(err) => return Err(err),
    };
    Ok(ids
        .iter()
        .map(|id| {
            let snapshot = found
                .iter()
                .find(|s| s.snapshot_id() == Some(id.as_str()))
                .cloned();
            (id.clone(), snapshot)
        })
        .collect())
}

/// One snapshot's state in a few words. States from
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Snapshot.html>: `pending` carries its
/// `progress` (a percentage), `error` its `stateMessage`.
fn state_of(id: &str, snapshot: Option<&Snapshot>) -> String {
    let Some(snapshot) = snapshot else {
        return format!("{id} gone");
    };
    match snapshot.state() {
        Some(AwsSnapshotState::Completed) => format!("{id} completed"),
        Some(AwsSnapshotState::Pending) => match snapshot.progress() {
            Some(progress) => format!("{id} pending {progress}"),
            None => format!("{id} pending"),
        },
        Some(AwsSnapshotState::Error) => format!(
            "{id} ERROR: {} (the snapshot failed; take it again by hand before the instance changes further)",
            snapshot.state_message().unwrap_or("AWS gives no reason")
        ),
        Some(other) => format!("{id} {}", other.as_str()),
        None => format!("{id} in no state AWS reports"),
    }
}

async fn progress_of(ctx: &RegionCtx, undo: &SnapshotUndo) -> Result<String, ServiceError> {
    let states: Vec<String> = match &undo.snapshot_ids {
        Some(ids) => by_id(ctx, ids)
            .await?
            .iter()
            .map(|(id, snapshot)| state_of(id, snapshot.as_ref()))
            .collect(),
        None => tagged(ctx, undo)
            .await?
            .iter()
            .map(|snapshot| state_of(snapshot.snapshot_id().unwrap_or("?"), Some(snapshot)))
            .collect(),
    };
    if states.is_empty() {
        return Ok(format!(
            "no evidence snapshot of {} (tagged {INCIDENT_TAG}={}) exists",
            undo.instance_id, undo.incident
        ));
    }
    Ok(states.join(", "))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod switch_and_progress_tests;
