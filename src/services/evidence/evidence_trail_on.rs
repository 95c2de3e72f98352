//! `evidence_trail_on`: every region's API calls on record before anything is cut. Read from the home
//! region, where every multi-region trail of the account is visible (a multi-region trail made elsewhere as
//! a shadow trail):
//! - a logging multi-region trail (or organization trail) already records every region: nothing to do;
//! - else a stopped multi-region trail whose home is this region is started (`StartLogging`);
//! - else a multi-region trail `hikkonuki-evidence` is created, with log file validation on, delivering to
//!   this plan's evidence bucket in the home region (public access blocked, the bucket policy CloudTrail
//!   needs), and started.
//!
//! A stopped single-region trail is not started instead: it would record one region, and an intruder
//! moves to another. The reason names such trails, so the responder can start them too.
//!
//! Restore keeps the trail logging (the record of the incident must survive it) unless `restore
//! --stop-evidence`: then a started trail is stopped again, and a created one is deleted, with its bucket
//! if that is still empty (delivered logs are never deleted).

use async_trait::async_trait;
use aws_sdk_cloudtrail::types::Trail;
use serde::{Deserialize, Serialize};

use super::{STOP_EVIDENCE_GATE, TRAIL_NAME};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, RestoreGate, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct EvidenceTrailOn;

static INFO: KindInfo = KindInfo {
    name: "evidence_trail_on",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Evidence,
    global: true,
    footprint: Footprint::Evidence,
};

/// "You can create up to five trails for each region. ... A trail that applies to all regions exists in
/// each region and is counted as one trail in each region."
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/WhatIsCloudTrail-Limits.html>)
pub const TRAILS_PER_REGION: usize = 5;

/// A trail as the cut sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailState {
    /// The trail's ARN.
    pub trail: String,
    pub exists: bool,
    pub logging: bool,
    /// A multi-region trail logs every region.
    pub multi_region: bool,
    /// Where it delivers: for the trail hikkonuki creates, this plan's evidence bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
}

/// What the cut did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrailAction {
    /// Started an existing trail's logging: undo stops it.
    Started,
    /// Created the trail (and perhaps its bucket): undo deletes the trail, and the bucket while empty.
    Created,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailUndo {
    pub trail: String,
    pub action: TrailAction,
    /// The evidence bucket the created trail delivers to; for a started trail, where it delivered (absent
    /// in rollback files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
}

/// The parts of a CloudTrail trail ARN, `arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME`.
fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("trail/")?;
    (service == "cloudtrail").then_some((region, account, name))
}

fn trail_arn(region: &str, account: &str, name: &str) -> String {
    let partition = crate::services::common::regions::partition_of_region(region);
    format!("arn:{partition}:cloudtrail:{region}:{account}:trail/{name}")
}

/// A trail visible in the region, with whether it is logging (`None` when its status cannot be read).
#[derive(Debug, Clone)]
struct Seen {
    trail: Trail,
    logging: Option<bool>,
    /// Why it does not record the account's management write events (the API calls an intruder makes),
    /// when it does not: its event selectors leave them out, or they could not be read. Such a trail
    /// logs, and still keeps no record of the incident.
    blind: Option<String>,
    /// Why the record it delivers is not this account's to keep, when it is not: a trail of this account
    /// (not the organization's) delivering to a bucket the account does not own, another account's or
    /// one deleted whose name anyone may take ([`super::OwnBuckets::not_own`]). An intruder gets there
    /// with `UpdateTrail`, and the trail goes on logging into their hands.
    foreign: Option<String>,
}

impl Seen {
    fn arn(&self) -> &str {
        self.trail.trail_arn().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.trail.name().unwrap_or_default()
    }
    /// Logs every region of the account: multi-region, or the organization's trail.
    fn covers_every_region(&self) -> bool {
        self.trail.is_multi_region_trail().unwrap_or(false)
            || self.trail.is_organization_trail().unwrap_or(false)
    }

    /// Records every region's management write events where this account keeps them: what evidence
    /// needs of a trail.
    fn records_every_region(&self) -> bool {
        self.covers_every_region() && self.blind.is_none() && self.foreign.is_none()
    }
}

/// Why a trail's event selectors (GetEventSelectors) leave out management write events, or `None` when
/// they record them. An intruder who can write the trail narrows these (`PutEventSelectors`
/// `IncludeManagementEvents=false`, or data events only) and the trail goes on logging, recording
/// nothing of what they do. Basic selectors record them with `IncludeManagementEvents` (true when absent)
/// and `ReadWriteType` `All` or `WriteOnly` (`All` when absent); advanced ones with a selector whose
/// `eventCategory` equals `Management` and whose `readOnly`, if any, is not only `true`
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/logging-management-events-with-cloudtrail.html>,
/// <https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_GetEventSelectors.html>). A trail
/// with neither has CloudTrail's default, all management events.
pub fn blind_to_management_writes(
    basic: &[aws_sdk_cloudtrail::types::EventSelector],
    advanced: &[aws_sdk_cloudtrail::types::AdvancedEventSelector],
) -> Option<String> {
    use aws_sdk_cloudtrail::types::ReadWriteType;
    if basic.is_empty() && advanced.is_empty() {
        return None;
    }
    if !advanced.is_empty() {
        let records = advanced.iter().any(|selector| {
            let fields = selector.field_selectors();
            let field = |name: &str| fields.iter().find(|f| f.field() == name);
            let management = field("eventCategory")
                .is_some_and(|f| f.equals().iter().any(|v| v == "Management"));
            let only_reads = field("readOnly")
                .is_some_and(|f| !f.equals().is_empty() && f.equals().iter().all(|v| v == "true"));
            management && !only_reads
        });
        return (!records)
            .then(|| "its advanced event selectors record no management write events".to_string());
    }
    let records = basic.iter().any(|selector| {
        selector.include_management_events().unwrap_or(true)
            && !matches!(selector.read_write_type(), Some(ReadWriteType::ReadOnly))
    });
    (!records).then(|| {
        "its event selectors leave management write events out (IncludeManagementEvents false, or ReadOnly)"
            .to_string()
    })
}

/// Every trail visible in the region (shadow trails included), with its status. An organization trail
/// whose status a member account cannot read counts as logging, as the `cloudtrail_not_logging` finding
/// counts it; any other unreadable status counts as not known to log.
async fn trails(ctx: &RegionCtx) -> Result<Vec<Seen>, ServiceError> {
    let cloudtrail = ctx.cloudtrail();
    let described = cloudtrail
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudtrail:DescribeTrails", err))?;
    let mut seen = Vec::new();
    for trail in described.trail_list() {
        let Some(id) = trail.trail_arn().or(trail.name()) else {
            continue;
        };
        let logging = match cloudtrail.get_trail_status().name(id).send().await {
            Ok(status) => Some(status.is_logging().unwrap_or(false)),
            Err(_) if trail.is_organization_trail().unwrap_or(false) => Some(true),
            Err(_) => None,
        };
        seen.push(Seen {
            trail: trail.clone(),
            logging,
            blind: None,
            foreign: None,
        });
    }
    Ok(seen)
}

/// For discovery: what each trail covering every region records ([`blind_to_management_writes`]). Only
/// such a trail could stand for the evidence. An organization trail whose selectors a member account
/// cannot read is counted as recording, as its status is; any other unreadable selectors count as
/// recording nothing, so the plan makes a trail of its own rather than trust one it cannot read.
async fn read_selectors(ctx: &RegionCtx, seen: &mut [Seen]) {
    for trail in seen.iter_mut().filter(|t| t.covers_every_region()) {
        let organization = trail.trail.is_organization_trail().unwrap_or(false);
        let id = trail.arn().to_string();
        trail.blind = match ctx
            .cloudtrail()
            .get_event_selectors()
            .trail_name(id)
            .send()
            .await
        {
            Ok(out) => {
                blind_to_management_writes(out.event_selectors(), out.advanced_event_selectors())
            }
            Err(_) if organization => None,
            Err(err) => Some(format!(
                "its event selectors could not be read ({})",
                ServiceError::from_sdk("cloudtrail:GetEventSelectors", err)
            )),
        };
    }
}

/// For discovery: whether each trail of this account covering every region delivers to a bucket the
/// account owns. Another account's organization trail is left out: seen from a member account its
/// bucket is the organization's (a log archive account's, as a landing zone sets it up), which the member
/// cannot change. The management account's own organization trail is asked like any other: this
/// account can point it elsewhere. ListBuckets is read only when such a trail is there.
async fn read_buckets(ctx: &RegionCtx, seen: &mut [Seen], account: &str) {
    let mut own = None;
    for trail in seen.iter_mut().filter(|t| bucket_asked(t, account)) {
        let Some(bucket) = trail.trail.s3_bucket_name().map(str::to_string) else {
            trail.foreign = Some("it names no bucket to deliver to".into());
            continue;
        };
        if own.is_none() {
            own = Some(super::own_buckets(ctx).await);
        }
        trail.foreign = own.as_ref().and_then(|own| own.not_own(&bucket));
    }
}

/// Whether [`read_buckets`] asks who owns the trail's bucket: every trail covering every region but
/// another account's organization trail.
fn bucket_asked(trail: &Seen, account: &str) -> bool {
    let theirs = trail.trail.is_organization_trail().unwrap_or(false)
        && arn_parts(trail.arn()).is_none_or(|(_, owner, _)| owner != account);
    trail.covers_every_region() && !theirs
}

/// The proposal for the home region `region`, given the trails visible there.
fn propose(
    region: &str,
    account: &str,
    stamp: &str,
    seen: &[Seen],
) -> Option<Proposal<TrailState>> {
    if seen
        .iter()
        .any(|t| t.records_every_region() && t.logging == Some(true))
    {
        return None;
    }
    let single_region: Vec<String> = seen
        .iter()
        .filter(|t| !t.covers_every_region())
        .map(|t| {
            let state = match t.logging {
                Some(true) => "logging",
                Some(false) => "stopped",
                None => "status unreadable",
            };
            format!("{} ({state})", t.name())
        })
        .collect();
    let aside = if single_region.is_empty() {
        String::new()
    } else {
        format!(
            " Single-region trails here ({}) record one region only, and an intruder can move to another.",
            single_region.join(", ")
        )
    };
    let blind: Vec<String> = seen
        .iter()
        .filter(|t| t.covers_every_region())
        .filter_map(|t| Some(format!("{} ({})", t.name(), t.blind.as_ref()?)))
        .collect();
    let aside = if blind.is_empty() {
        aside
    } else {
        format!(
            "{aside} Trails that cover every region but keep no record of the intruder's API calls: {}. Someone may have narrowed them to hide what they do: check who changed their event selectors (PutEventSelectors in the trail's history).",
            blind.join("; ")
        )
    };
    let foreign: Vec<String> = seen
        .iter()
        .filter(|t| t.covers_every_region() && t.blind.is_none())
        .filter_map(|t| Some(format!("{} ({})", t.name(), t.foreign.as_ref()?)))
        .collect();
    let aside = if foreign.is_empty() {
        aside
    } else {
        format!(
            "{aside} Trails that cover every region but deliver where this account cannot keep the record: {}. Check who pointed them there (UpdateTrail or CreateTrail in the trail's history).",
            foreign.join("; ")
        )
    };
    let keep = "Restore leaves it logging (the record of the incident must survive restore) unless `restore --stop-evidence`.";
    let stopped_here = seen.iter().find(|t| {
        t.records_every_region()
            && t.logging == Some(false)
            && t.trail.home_region() == Some(region)
            && !t.trail.is_organization_trail().unwrap_or(false)
    });
    if let Some(stopped) = stopped_here {
        let before = TrailState {
            trail: stopped.arn().to_string(),
            exists: true,
            logging: false,
            multi_region: true,
            bucket: stopped.trail.s3_bucket_name().map(str::to_string),
        };
        return Some(Proposal {
            target: before.trail.clone(),
            reason: format!(
                "No trail is recording every region: the cuts, and whatever the intruder does meanwhile, would leave no record. Evidence first: start logging the stopped multi-region trail {} (StartLogging), before anything is cut.{aside} {keep}",
                stopped.name()
            ),
            after: TrailState {
                logging: true,
                ..before.clone()
            },
            before,
            disabled_because: None,
        });
    }
    let bucket = super::bucket_name(account, stamp, region);
    let before = TrailState {
        trail: trail_arn(region, account, TRAIL_NAME),
        exists: false,
        logging: false,
        multi_region: false,
        bucket: None,
    };
    let after = TrailState {
        exists: true,
        logging: true,
        multi_region: true,
        bucket: Some(bucket.clone()),
        ..before.clone()
    };
    let own_here = seen
        .iter()
        .filter(|t| t.trail.home_region() == Some(region) || t.covers_every_region())
        .count();
    let disabled_because = if seen.iter().any(|t| t.name() == TRAIL_NAME) {
        Some(format!(
            "a trail named {TRAIL_NAME} exists already but does not log every region: start it (aws cloudtrail start-logging --name {TRAIL_NAME}) or delete it, and plan again"
        ))
    } else if own_here >= TRAILS_PER_REGION {
        Some(format!(
            "{region} has {own_here} trails, and CloudTrail allows {TRAILS_PER_REGION} per region (MaximumNumberOfTrailsExceededException): start one of them, or delete one, and plan again"
        ))
    } else {
        None
    };
    Some(Proposal {
        target: before.trail.clone(),
        reason: format!(
            "No trail is recording every region: the cuts, and whatever the intruder does meanwhile, would leave no record. Evidence first: create the multi-region trail {TRAIL_NAME} (log file validation on) delivering to a new bucket {bucket} (public access blocked, a policy letting only CloudTrail and flow logs deliver), and start it, before anything is cut.{aside} {keep}"
        ),
        before,
        after,
        disabled_because,
    })
}

/// The trail's live state, by ARN; `exists: false` when it is gone.
async fn read(ctx: &RegionCtx, arn: &str) -> Result<TrailState, ServiceError> {
    let seen = trails(ctx).await?;
    let Some(found) = seen.iter().find(|t| t.arn() == arn) else {
        return Ok(TrailState {
            trail: arn.to_string(),
            exists: false,
            logging: false,
            multi_region: false,
            bucket: None,
        });
    };
    Ok(TrailState {
        trail: arn.to_string(),
        exists: true,
        logging: found.logging.ok_or_else(|| {
            ServiceError::local(
                "cloudtrail:GetTrailStatus",
                format!("the status of trail {arn} cannot be read"),
            )
        })?,
        multi_region: found.covers_every_region(),
        bucket: found.trail.s3_bucket_name().map(str::to_string),
    })
}

async fn start_logging(ctx: &RegionCtx, arn: &str) -> Result<(), ServiceError> {
    ctx.cloudtrail()
        .start_logging()
        .name(arn)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudtrail:StartLogging", err))?;
    Ok(())
}

/// Creates the evidence trail (and its bucket) and starts it. A trail of that name already delivering to
/// this plan's bucket is an earlier, interrupted run's: it is taken as is. One delivering elsewhere is
/// someone else's, and the cut fails rather than take it over.
async fn create(ctx: &RegionCtx, arn: &str, bucket: &str) -> Result<(), ServiceError> {
    let account = arn_parts(arn)
        .map(|(_, account, _)| account)
        .ok_or_else(|| {
            ServiceError::local(INFO.name, format!("{arn} is not a CloudTrail trail ARN"))
        })?;
    super::ensure_bucket_once(ctx, bucket, account).await?;
    // CreateTrail: https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html
    let created = ctx
        .cloudtrail()
        .create_trail()
        .name(TRAIL_NAME)
        .s3_bucket_name(bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .send()
        .await;
    if let Err(err) = created {
        let err = ServiceError::from_sdk("cloudtrail:CreateTrail", err);
        if err.code.as_deref() != Some("TrailAlreadyExistsException") {
            return Err(err);
        }
        let live = read(ctx, arn).await?;
        if live.bucket.as_deref() != Some(bucket) {
            return Err(ServiceError {
                message: format!(
                    "a trail named {TRAIL_NAME} exists already, delivering to {}, not to this plan's bucket {bucket}: it is not hikkonuki's to start. {}",
                    live.bucket.as_deref().unwrap_or("no bucket"),
                    err.message
                ),
                ..err
            });
        }
    }
    start_logging(ctx, arn).await
}

#[async_trait]
impl CutKind for EvidenceTrailOn {
    type State = TrailState;
    type Undo = TrailUndo;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<TrailState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.trail != cut.target || after.trail != cut.target {
            return Err(format!(
                "`before` and `after` must both name the target trail {}",
                cut.target
            ));
        }
        if arn_parts(&cut.target).is_none() {
            return Err(format!("{} is not a CloudTrail trail ARN", cut.target));
        }
        if before.logging || !after.logging || !after.exists {
            return Err("the cut takes a trail from not logging to logging".into());
        }
        if before.exists {
            if after.multi_region != before.multi_region || after.bucket != before.bucket {
                return Err(
                    "starting a trail changes only `logging`: `multi_region` and `bucket` stay"
                        .into(),
                );
            }
            return Ok(());
        }
        let name = arn_parts(&cut.target).map(|(_, _, name)| name);
        if name != Some(TRAIL_NAME) {
            return Err(format!("the only trail hikkonuki creates is {TRAIL_NAME}"));
        }
        match &after.bucket {
            Some(bucket) if after.multi_region && super::is_evidence_bucket(bucket) => Ok(()),
            _ => Err(
                "the trail hikkonuki creates is multi-region and delivers to a hikkonuki-evidence-… bucket"
                    .into(),
            ),
        }
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<TrailState>>, ServiceError> {
        let mut seen = trails(ctx).await?;
        read_selectors(ctx, &mut seen).await;
        read_buckets(ctx, &mut seen, &scope.caller.account).await;
        Ok(propose(
            &ctx.region,
            &scope.caller.account,
            &super::plan_stamp(scope)?,
            &seen,
        )
        .into_iter()
        .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TrailState>,
    ) -> Result<Option<TrailState>, ServiceError> {
        Ok(Some(read(ctx, &cut.target).await?))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TrailState>,
    ) -> Result<TrailUndo, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        match (undo.action, &undo.bucket) {
            (TrailAction::Created, Some(bucket)) => create(ctx, &cut.target, bucket).await?,
            _ => start_logging(ctx, &cut.target).await?,
        }
        Ok(undo)
    }

    fn undo_record_for(&self, cut: &TypedCut<TrailState>) -> Result<TrailUndo, ServiceError> {
        Ok(if cut.before.exists {
            // Where the started trail delivered: a trail pointed elsewhere since (central logging the
            // team relies on now) is not stopped by `restore --stop-evidence`.
            TrailUndo {
                trail: cut.target.clone(),
                action: TrailAction::Started,
                bucket: cut.before.bucket.clone(),
            }
        } else {
            TrailUndo {
                trail: cut.target.clone(),
                action: TrailAction::Created,
                bucket: cut.after.bucket.clone(),
            }
        })
    }

    /// As implied by the cut; a started trail's record may lack the bucket (written before it was
    /// recorded), and is then undone as it always was.
    fn check_undo(&self, cut: &TypedCut<TrailState>, undo: &TrailUndo) -> Result<(), String> {
        let implied = self.undo_record_for(cut).map_err(|err| err.to_string())?;
        let older = TrailUndo {
            bucket: None,
            ..implied.clone()
        };
        if *undo == implied || (implied.action == TrailAction::Started && *undo == older) {
            Ok(())
        } else {
            Err(format!(
                "the undo record is not the one the cut implies ({implied:?}): it names {undo:?}"
            ))
        }
    }

    fn restore_gate(&self) -> Option<RestoreGate> {
        Some(STOP_EVIDENCE_GATE)
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &TrailUndo) -> Result<UndoOutcome, ServiceError> {
        let live = read(ctx, &undo.trail).await?;
        let mut notes = Vec::new();
        match undo.action {
            TrailAction::Started => {
                if !live.exists {
                    notes.push(format!("trail {} is gone: nothing to stop", undo.trail));
                } else if undo.bucket.is_some() && live.bucket != undo.bucket {
                    notes.push(format!(
                        "conflict: trail {} now delivers to {}, not where it did when the cut started it: left logging",
                        undo.trail,
                        live.bucket.as_deref().unwrap_or("no bucket")
                    ));
                } else if live.logging {
                    ctx.cloudtrail()
                        .stop_logging()
                        .name(&undo.trail)
                        .send()
                        .await
                        .map_err(|err| ServiceError::from_sdk("cloudtrail:StopLogging", err))?;
                    notes.push(format!(
                        "trail {} stopped logging again, as before the cut; the logs it delivered are kept",
                        undo.trail
                    ));
                } else {
                    notes.push(format!(
                        "trail {} was already stopped again, as before the cut",
                        undo.trail
                    ));
                }
            }
            TrailAction::Created => {
                if !live.exists {
                    notes.push(format!("trail {} already gone", undo.trail));
                } else if live.bucket != undo.bucket {
                    notes.push(format!(
                        "conflict: trail {} now delivers to {}, not to the evidence bucket it was created with: left alone",
                        undo.trail,
                        live.bucket.as_deref().unwrap_or("no bucket")
                    ));
                    return Ok(UndoOutcome { notes });
                } else {
                    // By name: AWS takes the name or the ARN in the trail's home region, where this runs
                    // (API_DeleteTrail), and the emulator finds the trail by name only.
                    let name = arn_parts(&undo.trail).map_or(TRAIL_NAME, |(_, _, name)| name);
                    ctx.cloudtrail()
                        .delete_trail()
                        .name(name)
                        .send()
                        .await
                        .map_err(|err| ServiceError::from_sdk("cloudtrail:DeleteTrail", err))?;
                    notes.push(format!("trail {} deleted", undo.trail));
                }
                if let Some(bucket) = &undo.bucket {
                    notes.push(super::remove_bucket_if_empty(ctx, bucket).await?);
                }
            }
        }
        Ok(UndoOutcome { notes })
    }
}

#[cfg(test)]
mod tests;
