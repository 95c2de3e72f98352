//! `evidence_flow_logs`: a VPC flow log of all traffic, to this plan's evidence bucket in the region, for
//! every VPC the plan cuts ([`super::vpcs::RULE`]), so traffic that still moves, or tries to, after the
//! cuts is on record. A VPC that already has an active flow log of all its traffic (to S3, CloudWatch
//! Logs) keeps that one and gets none: an Info finding says so. Such a flow log counts only when its
//! record is one ([`unfit`]): delivered (not `FAILED`), kept in this account (a bucket it owns, or its
//! own log group; not a Firehose stream, which only forwards), and carrying who talked to whom, when
//! ([`EVIDENCE_FIELDS`]); otherwise the VPC gets one of its own and the reason names the flow log left
//! out and why.
//!
//! Restore keeps the flow logs recording unless `restore --stop-evidence`: then the flow logs delivering
//! to this plan's bucket are deleted (`DeleteFlowLogs`), and the bucket too while it is still empty.

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    DestinationOptionsRequest, FlowLog, FlowLogsResourceType, LogDestinationType, TrafficType,
};
use serde::{Deserialize, Serialize};

use super::vpcs::{self, VpcWithAWayOut};
use super::{OwnBuckets, STOP_EVIDENCE_GATE};
use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, PermissionCheck, Phase, Proposal,
    RestoreGate, ServiceError, TypedCut, UndoOutcome,
};

pub struct EvidenceFlowLogs;

/// Why `apply --check` does not dry-run these cuts (as the README says it).
const NOT_CHECKABLE: &str = "the flow logs go to the evidence bucket apply makes first, which a check does not make: the permission is known only when the cut runs";

static INFO: KindInfo = KindInfo {
    name: "evidence_flow_logs",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Evidence,
    global: false,
    footprint: Footprint::Evidence,
};

/// Flow log records are aggregated over at most this many seconds before delivery: the shortest interval
/// AWS offers (60 or 600:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateFlowLogs.html>), for the finest record.
const AGGREGATION_SECONDS: i32 = 60;

/// One VPC's evidence flow log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowLogState {
    pub vpc_id: String,
    /// This plan's evidence bucket in the region.
    pub bucket: String,
    /// Whether a flow log of the VPC delivers to that bucket.
    pub recording: bool,
}

/// The bucket's ARN in the partition of `region`, the bucket's and the flow log's.
fn destination(region: &str, bucket: &str) -> String {
    let partition = crate::services::common::regions::partition_of_region(region);
    format!("arn:{partition}:s3:::{bucket}")
}

/// A flow log delivering to `bucket` (its destination is the bucket, or a folder in it).
pub(super) fn delivers_to(region: &str, log: &FlowLog, bucket: &str) -> bool {
    let arn = destination(region, bucket);
    log.log_destination()
        .is_some_and(|d| d == arn || d.starts_with(&format!("{arn}/")))
}

/// An active flow log recording all of the resource's traffic, wherever it delivers.
fn records_everything(log: &FlowLog) -> bool {
    log.flow_log_status() == Some("ACTIVE") && log.traffic_type().map(|t| t.as_str()) == Some("ALL")
}

/// The fields a record must carry to say which interface talked to whom, when, how much and whether it
/// passed: the default format's but its version, account and log status
/// (<https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html#flow-logs-default>). A custom
/// format (`LogFormat`) may leave any of them out.
pub const EVIDENCE_FIELDS: [&str; 11] = [
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
];

/// The bucket an S3 flow log delivers to: `arn:PARTITION:s3:::BUCKET[/FOLDER]`.
fn s3_bucket(log: &FlowLog) -> Option<&str> {
    let (_, rest) = log.log_destination()?.split_once(":s3:::")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Why an active flow log of all traffic is still no evidence, or `None` when it is: its delivery
/// fails (`DeliverLogsStatus` `FAILED`, with AWS's message:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_FlowLog.html>); it delivers to another
/// account (a cross-account role, a log group or stream of another account, or a bucket `account` does
/// not own, per `own`), where whoever holds it can read and delete the record; it delivers through a
/// Firehose stream, which keeps nothing and forwards the record to a destination not read here; or its
/// format leaves out [`EVIDENCE_FIELDS`]. An intruder with `ec2:CreateFlowLogs` can make any of these,
/// and the VPC would otherwise get no record of its own.
fn unfit(log: &FlowLog, account: &str, own: &OwnBuckets) -> Option<String> {
    if log.deliver_logs_status() == Some("FAILED") {
        return Some(format!(
            "its delivery fails: {}",
            log.deliver_logs_error_message()
                .unwrap_or("DeliverLogsStatus FAILED")
        ));
    }
    if let Some(role) = log
        .deliver_cross_account_role()
        .filter(|role| !role.is_empty() && role.split(':').nth(4) != Some(account))
    {
        return Some(format!(
            "it delivers to another account, through the role {role}"
        ));
    }
    if let Some(bucket) = s3_bucket(log) {
        if let Some(why) = own.not_own(bucket) {
            return Some(why);
        }
    } else if let Some(other) = log
        .log_destination()
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|owner| !owner.is_empty() && *owner != account)
    {
        return Some(format!("it delivers to account {other}"));
    }
    // A Firehose stream keeps nothing itself: it forwards each record to its own destination (a bucket,
    // an HTTP endpoint, another service, possibly another account's), which this kind does not read. The
    // record is then not known to be kept by this account, so the VPC gets a flow log of its own.
    if log.log_destination_type() == Some(&LogDestinationType::KinesisDataFirehose) {
        let stream = log
            .log_destination()
            .and_then(|arn| arn.rsplit_once('/'))
            .map(|(_, name)| name)
            .unwrap_or("?");
        return Some(format!(
            "it delivers through the Firehose stream {stream}, which keeps no record itself and forwards it to a destination not checked here"
        ));
    }
    let missing: Vec<&str> = match log.log_format() {
        Some(format) => EVIDENCE_FIELDS
            .iter()
            .copied()
            .filter(|field| !format.contains(&format!("${{{field}}}")))
            .collect(),
        None => Vec::new(),
    };
    (!missing.is_empty()).then(|| {
        format!(
            "its format leaves out {}",
            missing
                .iter()
                .map(|field| format!("${{{field}}}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    })
}

/// Every flow log of the region, read once per region and run.
async fn flow_logs(ctx: &RegionCtx) -> Result<Vec<FlowLog>, ServiceError> {
    ctx.once("evidence:flow_logs", || every_flow_log(ctx)).await
}

/// Every flow log of the region, live.
pub(super) async fn every_flow_log(ctx: &RegionCtx) -> Result<Vec<FlowLog>, ServiceError> {
    described(ctx, None).await
}

/// The flow logs of one VPC, live.
async fn flow_logs_of(ctx: &RegionCtx, vpc_id: &str) -> Result<Vec<FlowLog>, ServiceError> {
    let of_the_vpc = aws_sdk_ec2::types::Filter::builder()
        .name("resource-id")
        .values(vpc_id)
        .build();
    described(ctx, Some(of_the_vpc)).await
}

/// DescribeFlowLogs through every page, with the filter given.
async fn described(
    ctx: &RegionCtx,
    filter: Option<aws_sdk_ec2::types::Filter>,
) -> Result<Vec<FlowLog>, ServiceError> {
    ctx.ec2()
        .describe_flow_logs()
        .set_filter(filter.map(|filter| vec![filter]))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeFlowLogs", err))
}

/// A VPC with flow logs, each named with where it delivers or why it is left out.
type VpcAndLogs<'a> = (&'a VpcWithAWayOut, Vec<String>);

/// The VPCs to record (with the flow logs of all their traffic left out, and why) and those that
/// already record everything (with their flow logs).
fn split<'a>(
    vpcs: &'a [VpcWithAWayOut],
    logs: &[FlowLog],
    account: &str,
    own: &OwnBuckets,
) -> (Vec<VpcAndLogs<'a>>, Vec<VpcAndLogs<'a>>) {
    let mut to_record = Vec::new();
    let mut recorded = Vec::new();
    for vpc in vpcs {
        let mut left_out = Vec::new();
        let mut existing = Vec::new();
        let everything = logs.iter().filter(|log| {
            log.resource_id() == Some(vpc.vpc_id.as_str()) && records_everything(log)
        });
        for log in everything {
            let id = log.flow_log_id().unwrap_or("?");
            match unfit(log, account, own) {
                Some(why) => left_out.push(format!("{id} ({why})")),
                None => existing.push(format!(
                    "{id} to {}",
                    log.log_destination_type()
                        .map(|t| t.as_str())
                        .unwrap_or("cloud-watch-logs")
                )),
            }
        }
        if existing.is_empty() {
            to_record.push((vpc, left_out));
        } else {
            recorded.push((vpc, existing));
        }
    }
    (to_record, recorded)
}

/// [`split`] on the region's flow logs, reading which buckets the account owns only when an S3 flow log
/// of all of a VPC's traffic needs it.
async fn assess<'a>(
    ctx: &RegionCtx,
    vpcs: &'a [VpcWithAWayOut],
    logs: &[FlowLog],
    account: &str,
) -> (Vec<VpcAndLogs<'a>>, Vec<VpcAndLogs<'a>>) {
    let needs_buckets = logs.iter().any(|log| {
        records_everything(log)
            && s3_bucket(log).is_some()
            && vpcs
                .iter()
                .any(|vpc| log.resource_id() == Some(vpc.vpc_id.as_str()))
    });
    let own = if needs_buckets {
        super::own_buckets(ctx).await
    } else {
        // Asked of no bucket.
        OwnBuckets::Listed(Default::default())
    };
    split(vpcs, logs, account, &own)
}

/// "Flow logs per single network interface, single subnet, or single VPC in a Region: 2. This limit
/// cannot be increased." (Amazon VPC quotas, Flow logs:
/// <https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-flow-logs>.)
pub const FLOW_LOGS_PER_VPC: usize = 2;

/// How many flow logs the VPC has, of any traffic type or state: what AWS counts against
/// [`FLOW_LOGS_PER_VPC`].
fn on_the_vpc(logs: &[FlowLog], vpc: &VpcWithAWayOut) -> usize {
    logs.iter()
        .filter(|log| log.resource_id() == Some(vpc.vpc_id.as_str()))
        .count()
}

/// The cut for a VPC none of whose flow logs stands for the evidence. `on_the_vpc` counts every flow
/// log the VPC has, of any traffic type: at AWS's quota a third is refused, so the cut is proposed
/// disabled, saying which to delete, rather than fail at apply.
fn propose(
    vpc: &VpcWithAWayOut,
    bucket: &str,
    left_out: &[String],
    on_the_vpc: usize,
) -> Proposal<FlowLogState> {
    let before = FlowLogState {
        vpc_id: vpc.vpc_id.clone(),
        bucket: bucket.to_string(),
        recording: false,
    };
    let (none, aside) = if left_out.is_empty() {
        ("no flow log recording all its traffic", String::new())
    } else {
        (
            "no flow log of all its traffic whose record this account keeps",
            format!(
                " Its flow logs of all traffic not taken for evidence: {}.",
                left_out.join("; ")
            ),
        )
    };
    Proposal {
        target: vpc.vpc_id.clone(),
        reason: format!(
            "{} has a way out ({}) and {none}: evidence first, a flow log of all traffic (aggregated per minute) to the evidence bucket {bucket}, so what still moves, or tries to, after the cuts is on record. Recorded: {}.{aside} Restore leaves it recording unless `restore --stop-evidence`.",
            vpc.vpc_id,
            vpc.summary(),
            vpcs::RULE
        ),
        after: FlowLogState {
            recording: true,
            ..before.clone()
        },
        before,
        disabled_because: (on_the_vpc >= FLOW_LOGS_PER_VPC).then(|| {
            format!(
                "{} has {on_the_vpc} flow logs already, and AWS allows {FLOW_LOGS_PER_VPC} per VPC (a quota that cannot be raised): delete one of them that is no evidence (aws ec2 delete-flow-logs --flow-log-ids ID), and plan again",
                vpc.vpc_id
            )
        }),
    }
}

async fn read(ctx: &RegionCtx, vpc_id: &str, bucket: &str) -> Result<FlowLogState, ServiceError> {
    let logs = flow_logs_of(ctx, vpc_id).await?;
    Ok(FlowLogState {
        vpc_id: vpc_id.to_string(),
        bucket: bucket.to_string(),
        recording: logs.iter().any(|log| delivers_to(&ctx.region, log, bucket)),
    })
}

/// The unsuccessful items of a CreateFlowLogs or DeleteFlowLogs answer, as one error: EC2 reports a
/// refusal for one resource there, with the call itself succeeding.
fn unsuccessful(
    operation: &str,
    items: &[aws_sdk_ec2::types::UnsuccessfulItem],
) -> Option<ServiceError> {
    let first = items.first()?;
    let error = first.error();
    Some(ServiceError {
        operation: operation.to_string(),
        code: error.and_then(|e| e.code()).map(str::to_string),
        message: items
            .iter()
            .map(|item| {
                format!(
                    "{}: {}",
                    item.resource_id().unwrap_or("?"),
                    item.error().and_then(|e| e.message()).unwrap_or("refused")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    })
}

#[async_trait]
impl CutKind for EvidenceFlowLogs {
    type State = FlowLogState;
    /// The cut's own state: the VPC and the bucket whose flow logs undo deletes.
    type Undo = FlowLogState;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// The VPC recorded: `--vpc` takes its flow log with the VPC's other cuts, so cutting one VPC still
    /// records its traffic first.
    fn vpcs(&self, state: &FlowLogState) -> Vec<String> {
        vec![state.vpc_id.clone()]
    }

    /// CreateFlowLogs takes `DryRun`, but these flow logs deliver to the evidence bucket apply makes
    /// first in the same phase, which a check does not make: AWS would answer about a bucket that is not
    /// there yet.
    async fn check_permission(
        &self,
        _ctx: &RegionCtx,
        _cut: &TypedCut<FlowLogState>,
    ) -> PermissionCheck {
        PermissionCheck::NotCheckable(NOT_CHECKABLE.into())
    }

    fn check_states(&self, cut: &TypedCut<FlowLogState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.vpc_id != cut.target || after.vpc_id != cut.target {
            return Err(format!(
                "`before` and `after` must both name the target VPC {}",
                cut.target
            ));
        }
        if before.bucket != after.bucket || !super::is_evidence_bucket(&after.bucket) {
            return Err("the flow log delivers to one hikkonuki-evidence-… bucket".into());
        }
        if super::bucket_account(&after.bucket).is_none() {
            return Err(format!(
                "{} is not named as hikkonuki names evidence buckets",
                after.bucket
            ));
        }
        if before.recording || !after.recording {
            return Err("the cut takes the VPC from not recording to recording".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<FlowLogState>>, ServiceError> {
        let vpcs = vpcs::with_a_way_out(ctx).await?;
        if vpcs.is_empty() {
            return Ok(vec![]);
        }
        let logs = flow_logs(ctx).await?;
        let bucket = super::bucket_name(
            &scope.caller.account,
            &super::plan_stamp(scope)?,
            &ctx.region,
        );
        let (to_record, _) = assess(ctx, &vpcs, &logs, &scope.caller.account).await;
        Ok(to_record
            .into_iter()
            .map(|(vpc, left_out)| propose(vpc, &bucket, &left_out, on_the_vpc(&logs, vpc)))
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<FlowLogState>,
    ) -> Result<Option<FlowLogState>, ServiceError> {
        let exists = ctx
            .ec2()
            .describe_vpcs()
            .vpc_ids(&cut.target)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcs", err));
        if crate::services::network::vpc::unless_not_found(exists, &["InvalidVpcID.NotFound"])?
            .is_none()
        {
            return Ok(None);
        }
        Ok(Some(read(ctx, &cut.target, &cut.before.bucket).await?))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<FlowLogState>,
    ) -> Result<FlowLogState, ServiceError> {
        let bucket = &cut.after.bucket;
        let account = super::bucket_account(bucket).ok_or_else(|| {
            ServiceError::local(INFO.name, format!("{bucket} is not an evidence bucket"))
        })?;
        super::ensure_bucket_once(ctx, bucket, account).await?;
        // CreateFlowLogs: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateFlowLogs.html
        let out = ctx
            .ec2()
            .create_flow_logs()
            .resource_ids(&cut.target)
            .resource_type(FlowLogsResourceType::Vpc)
            .traffic_type(TrafficType::All)
            .log_destination_type(LogDestinationType::S3)
            .log_destination(destination(&ctx.region, bucket))
            .max_aggregation_interval(AGGREGATION_SECONDS)
            .destination_options(
                DestinationOptionsRequest::builder()
                    .per_hour_partition(false)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:CreateFlowLogs", err))?;
        if let Some(err) = unsuccessful("ec2:CreateFlowLogs", out.unsuccessful()) {
            // The same flow log, made by an earlier run this one resumes, is the cut done.
            let resumed = err.code.as_deref() == Some("FlowLogAlreadyExists")
                && read(ctx, &cut.target, bucket).await?.recording;
            if !resumed {
                return Err(err);
            }
        }
        self.undo_record_for(cut)
    }

    fn undo_record_for(&self, cut: &TypedCut<FlowLogState>) -> Result<FlowLogState, ServiceError> {
        Ok(cut.after.clone())
    }

    fn restore_gate(&self) -> Option<RestoreGate> {
        Some(STOP_EVIDENCE_GATE)
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        undo: &FlowLogState,
    ) -> Result<UndoOutcome, ServiceError> {
        let ours: Vec<String> = flow_logs_of(ctx, &undo.vpc_id)
            .await?
            .iter()
            .filter(|log| delivers_to(&ctx.region, log, &undo.bucket))
            .filter_map(|log| log.flow_log_id().map(str::to_string))
            .collect();
        let mut notes = Vec::new();
        if ours.is_empty() {
            notes.push(format!(
                "{}: no flow log to {} any more: nothing to delete",
                undo.vpc_id, undo.bucket
            ));
        } else {
            let out = ctx
                .ec2()
                .delete_flow_logs()
                .set_flow_log_ids(Some(ours.clone()))
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DeleteFlowLogs", err))?;
            if let Some(err) = unsuccessful("ec2:DeleteFlowLogs", out.unsuccessful()) {
                return Err(err);
            }
            notes.push(format!(
                "{}: flow log {} deleted; the records it delivered to {} are kept",
                undo.vpc_id,
                ours.join(", "),
                undo.bucket
            ));
        }
        notes.push(super::remove_bucket_if_empty(ctx, &undo.bucket).await?);
        Ok(UndoOutcome { notes })
    }
}

/// Says which VPCs the plan cuts already record all their traffic, so no evidence flow log is proposed
/// for them: the responder knows where that record is.
#[async_trait]
impl Inspection for EvidenceFlowLogs {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn global(&self) -> bool {
        false
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let vpcs = vpcs::with_a_way_out(ctx).await?;
        if vpcs.is_empty() {
            return Ok(vec![]);
        }
        let logs = flow_logs(ctx).await?;
        let (_, recorded) = assess(ctx, &vpcs, &logs, &scope.caller.account).await;
        Ok(recorded
            .into_iter()
            .map(|(vpc, existing)| Finding {
                check: INFO.name.into(),
                region: ctx.region.clone(),
                resource: vpc.vpc_id.clone(),
                severity: Severity::Info,
                message: format!(
                    "{} already records all its traffic (flow log {}): no evidence flow log is added; keep that flow log and its records until the incident is closed.",
                    vpc.vpc_id,
                    existing.join(", ")
                ),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
