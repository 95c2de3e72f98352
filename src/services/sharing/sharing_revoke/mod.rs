//! `sharing_revoke`: copies of the account's data that other accounts can take. An EBS snapshot, an AMI, an
//! RDS DB snapshot or DB cluster snapshot, or an SSM document owned by the account and shared publicly
//! (`all`) or with other accounts (for AMIs also with organizations and organizational units) can be copied
//! or launched by them whatever the network and key cuts do: an intruder who shared a snapshot with an
//! account of theirs keeps the data. One cut per resource removes every outside permission in one call
//! (two for an SSM document shared both ways, one per 20 accounts beyond that), leaving the permissions
//! inside the account's organization as they are.
//!
//! `before` records the exact permissions; `after` the ones kept. The plan's reason names who the resource
//! was shared with (an intruder's account ID is evidence). Undo adds back exactly the removed permissions
//! that are missing now; anything shared since the cut is reported and left alone.
//!
//! A public share is given back in a call of its own, after the named accounts, organizations and OUs:
//! while the account's block public access for the resource type is on, AWS refuses a new public share
//! ([`public_block`]), and a refusal must not keep the named grantees from coming back. Restore then fails
//! the cut naming the switch and how to lift it, and restore again adds only what is still missing. When
//! the switch is on as the plan is made (its own kind then proposes nothing), the cut's reason says so.
//!
//! One small adapter per resource type reads, removes and adds permissions:
//! [`ebs`] (createVolumePermission), [`ami`] (launchPermission), [`rds`] (the `restore` attribute of DB
//! snapshots and DB cluster snapshots) and [`ssm`] (document `Share` permissions). Permissions an adapter
//! cannot read as a grantee are never dropped: the `sharing_unclassified` inspection reports each as a
//! High finding naming the resource.

pub mod ami;
pub mod ebs;
pub mod public_block;
pub mod rds;
pub mod ssm;

#[cfg(test)]
mod tests;

use crate::plan::is_account_id;
use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::organization;
use crate::services::common::policy_principals::{Home, Organization};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, PermissionCheck, Phase, Proposal,
    ServiceError, TypedCut, UndoOutcome,
};
use public_block::Block;

pub struct SharingRevoke;

static INFO: KindInfo = KindInfo {
    name: "sharing_revoke",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Sharing,
};

/// The kinds of resource whose sharing this kind revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceType {
    EbsSnapshot,
    Image,
    DbSnapshot,
    DbClusterSnapshot,
    SsmDocument,
}

impl ResourceType {
    pub const ALL: [ResourceType; 5] = [
        ResourceType::EbsSnapshot,
        ResourceType::Image,
        ResourceType::DbSnapshot,
        ResourceType::DbClusterSnapshot,
        ResourceType::SsmDocument,
    ];

    /// The name used in targets and the plan (`ebs_snapshot`, …).
    pub fn name(self) -> &'static str {
        match self {
            ResourceType::EbsSnapshot => "ebs_snapshot",
            ResourceType::Image => "image",
            ResourceType::DbSnapshot => "db_snapshot",
            ResourceType::DbClusterSnapshot => "db_cluster_snapshot",
            ResourceType::SsmDocument => "ssm_document",
        }
    }

    /// For people: what the resource is and what a grantee can do with it.
    fn described(self) -> (&'static str, &'static str) {
        match self {
            ResourceType::EbsSnapshot => ("EBS snapshot", "create volumes from it"),
            ResourceType::Image => ("AMI", "launch instances from it and copy it"),
            ResourceType::DbSnapshot => {
                ("RDS DB snapshot", "copy it or restore a database from it")
            }
            ResourceType::DbClusterSnapshot => (
                "RDS DB cluster snapshot",
                "copy it or restore a cluster from it",
            ),
            ResourceType::SsmDocument => ("SSM document", "read and run it"),
        }
    }

    /// The call that changes its permissions, for reasons and errors.
    fn modify_call(self) -> &'static str {
        match self {
            ResourceType::EbsSnapshot => "ModifySnapshotAttribute",
            ResourceType::Image => "ModifyImageAttribute",
            ResourceType::DbSnapshot => "ModifyDBSnapshotAttribute",
            ResourceType::DbClusterSnapshot => "ModifyDBClusterSnapshotAttribute",
            ResourceType::SsmDocument => "ModifyDocumentPermission",
        }
    }

    /// The cut's target: `<type>/<id>`, unique in a region across types.
    pub fn target(self, id: &str) -> String {
        format!("{}/{id}", self.name())
    }
}

/// Who a resource is shared with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// Public: the group `all` (every AWS account).
    Everyone,
    /// One AWS account by ID.
    Account(String),
    /// An organization by ARN (AMIs only).
    Organization(String),
    /// An organizational unit by ARN (AMIs only).
    OrganizationalUnit(String),
}

impl Grantee {
    /// A 12-digit account ID, or `all`, as RDS, EBS and SSM write them; anything else is not a grantee
    /// this kind knows how to remove and put back.
    pub fn from_account_value(value: &str) -> Option<Grantee> {
        if value.eq_ignore_ascii_case("all") {
            Some(Grantee::Everyone)
        } else if is_account_id(value) {
            Some(Grantee::Account(value.to_string()))
        } else {
            None
        }
    }

    fn described(&self) -> String {
        match self {
            Grantee::Everyone => "everyone (public)".into(),
            Grantee::Account(id) => format!("account {id}"),
            Grantee::Organization(arn) => format!("organization {arn}"),
            Grantee::OrganizationalUnit(arn) => format!("organizational unit {arn}"),
        }
    }
}

/// The organization an organization or OU ARN belongs to: `…:organization/o-x` or `…:ou/o-x/ou-y`
/// (<https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html#awsorganizations-resources-for-iam-policies>).
pub fn organization_of(arn: &str) -> Option<&str> {
    let resource = arn.strip_prefix("arn:")?.split(':').nth(4)?;
    let rest = resource
        .strip_prefix("organization/")
        .or_else(|| resource.strip_prefix("ou/"))?;
    rest.split('/').next().filter(|id| id.starts_with("o-"))
}

/// A resource's sharing, as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingState {
    pub resource_type: ResourceType,
    pub resource_id: String,
    /// Sorted, each once.
    pub shared_with: Vec<Grantee>,
    /// SSM only: the document version shared with each account (or `all`), which undo shares again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared_document_versions: BTreeMap<String, String>,
}

impl SharingState {
    pub fn new(resource_type: ResourceType, resource_id: &str, grantees: Vec<Grantee>) -> Self {
        let shared_with: BTreeSet<Grantee> = grantees.into_iter().collect();
        SharingState {
            resource_type,
            resource_id: resource_id.to_string(),
            shared_with: shared_with.into_iter().collect(),
            shared_document_versions: BTreeMap::new(),
        }
    }

    fn target(&self) -> String {
        self.resource_type.target(&self.resource_id)
    }
}

/// One resource as discovery read it: its sharing, and what it is shared with that no [`Grantee`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub state: SharingState,
    /// Raw permission entries that are neither `all`, an account ID, nor an organization or OU ARN.
    pub unclassified: Vec<String>,
}

/// What the rollback file keeps: which permissions the cut removed and which it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub resource_type: ResourceType,
    pub resource_id: String,
    pub removed: Vec<Grantee>,
    pub kept: Vec<Grantee>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared_document_versions: BTreeMap<String, String>,
}

/// Whether a grantee is inside: this account, or this account's organization or one of its OUs. An
/// organization that could not be read ([`Organization::Unknown`]) makes every organization grantee
/// outside: revoking a share with the account's own organization is undone by restore, leaving an
/// unknown one in place is not undone by anything.
pub fn is_inside(grantee: &Grantee, home: &Home) -> bool {
    match grantee {
        Grantee::Everyone => false,
        Grantee::Account(id) => *id == home.account_id,
        Grantee::Organization(arn) | Grantee::OrganizationalUnit(arn) => {
            match (&home.organization, organization_of(arn)) {
                (Organization::Member(own), Some(theirs)) => own == theirs,
                _ => false,
            }
        }
    }
}

/// The proposal for one resource, or nothing when it is shared with no one outside.
pub fn propose(reading: &Reading, home: &Home) -> Option<Proposal<SharingState>> {
    let before = &reading.state;
    let (kept, removed): (Vec<Grantee>, Vec<Grantee>) = before
        .shared_with
        .iter()
        .cloned()
        .partition(|g| is_inside(g, home));
    if removed.is_empty() {
        return None;
    }
    let mut after = before.clone();
    after.shared_with = kept.clone();
    after.shared_document_versions.retain(|grantee, _| {
        kept.iter()
            .any(|k| version_key(k) == Some(grantee.as_str()))
    });
    let (what, can) = before.resource_type.described();
    let names: Vec<String> = removed.iter().map(Grantee::described).collect();
    let mut reason = format!(
        "{what} {} is shared with {}: they can {can} whatever else is cut. {} removes those permissions; restore shares it again with exactly them.",
        before.resource_id,
        names.join(", "),
        before.resource_type.modify_call(),
    );
    if !kept.is_empty() {
        let kept: Vec<String> = kept.iter().map(Grantee::described).collect();
        reason.push_str(&format!(
            " Kept, being inside the account's organization: {}.",
            kept.join(", ")
        ));
    }
    let organization_grantees = removed
        .iter()
        .any(|g| matches!(g, Grantee::Organization(_) | Grantee::OrganizationalUnit(_)));
    if let (true, Organization::Unknown(why)) = (organization_grantees, &home.organization) {
        reason.push_str(&format!(
            " The account's own organization could not be read ({why}), so every organization and organizational unit is treated as outside."
        ));
    }
    Some(Proposal {
        target: before.target(),
        reason,
        before: before.clone(),
        after,
        disabled_because: None,
    })
}

/// The key of [`SharingState::shared_document_versions`] for a grantee.
fn version_key(grantee: &Grantee) -> Option<&str> {
    match grantee {
        Grantee::Everyone => Some("all"),
        Grantee::Account(id) => Some(id),
        _ => None,
    }
}

/// The High finding for one resource shared with something no grantee reads.
pub fn unclassified_finding(region: &str, reading: &Reading) -> Finding {
    let (what, can) = reading.state.resource_type.described();
    Finding {
        check: UNCLASSIFIED.into(),
        region: region.to_string(),
        resource: reading.state.target(),
        severity: Severity::High,
        message: format!(
            "{what} {} has sharing permissions hikkonuki cannot read as a public, account, organization or organizational-unit grant: {}. Whoever they name may {can}; sharing_revoke does not remove them. Check and remove them by hand ({}).",
            reading.state.resource_id,
            reading.unclassified.join(", "),
            reading.state.resource_type.modify_call()
        ),
    }
}

const UNCLASSIFIED: &str = "sharing_unclassified";

/// Every resource of the account in this region that is shared with anyone, read once per region and run
/// (discovery and the `sharing_unclassified` inspection both use it).
pub async fn survey(ctx: &RegionCtx, account: &str) -> Result<Vec<Reading>, ServiceError> {
    let account = account.to_string();
    ctx.once("sharing_revoke.survey", || async move {
        let mut readings = Vec::new();
        readings.extend(ebs::shared_snapshots(ctx, &account).await?);
        readings.extend(ami::shared_images(ctx, &account).await?);
        readings.extend(rds::shared_db_snapshots(ctx).await?);
        readings.extend(rds::shared_db_cluster_snapshots(ctx).await?);
        readings.extend(ssm::shared_documents(ctx).await?);
        Ok::<_, ServiceError>(readings)
    })
    .await
}

/// The resource's sharing now; `None` when the resource is gone.
pub async fn read(
    ctx: &RegionCtx,
    resource_type: ResourceType,
    id: &str,
) -> Result<Option<Reading>, ServiceError> {
    match resource_type {
        ResourceType::EbsSnapshot => ebs::read(ctx, id).await,
        ResourceType::Image => ami::read(ctx, id).await,
        ResourceType::DbSnapshot => rds::read(ctx, rds::Snapshot::Instance, id).await,
        ResourceType::DbClusterSnapshot => rds::read(ctx, rds::Snapshot::Cluster, id).await,
        ResourceType::SsmDocument => ssm::read(ctx, id).await,
    }
}

/// Removes `grantees`' permissions.
async fn remove(
    ctx: &RegionCtx,
    resource_type: ResourceType,
    id: &str,
    grantees: &[Grantee],
) -> Result<(), ServiceError> {
    match resource_type {
        ResourceType::EbsSnapshot => ebs::remove(ctx, id, grantees).await,
        ResourceType::Image => ami::remove(ctx, id, grantees).await,
        ResourceType::DbSnapshot => rds::remove(ctx, rds::Snapshot::Instance, id, grantees).await,
        ResourceType::DbClusterSnapshot => {
            rds::remove(ctx, rds::Snapshot::Cluster, id, grantees).await
        }
        ResourceType::SsmDocument => ssm::remove(ctx, id, grantees).await,
    }
}

/// Grants `grantees` their permissions again (SSM: each with the document version it had).
async fn add(
    ctx: &RegionCtx,
    resource_type: ResourceType,
    id: &str,
    grantees: &[Grantee],
    versions: &BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    match resource_type {
        ResourceType::EbsSnapshot => ebs::add(ctx, id, grantees).await,
        ResourceType::Image => ami::add(ctx, id, grantees).await,
        ResourceType::DbSnapshot => rds::add(ctx, rds::Snapshot::Instance, id, grantees).await,
        ResourceType::DbClusterSnapshot => {
            rds::add(ctx, rds::Snapshot::Cluster, id, grantees).await
        }
        ResourceType::SsmDocument => ssm::add(ctx, id, grantees, versions).await,
    }
}

fn removed_by(cut: &TypedCut<SharingState>) -> Vec<Grantee> {
    cut.before
        .shared_with
        .iter()
        .filter(|g| !cut.after.shared_with.contains(g))
        .cloned()
        .collect()
}

fn describe_all<'g>(grantees: impl IntoIterator<Item = &'g Grantee>) -> String {
    grantees
        .into_iter()
        .map(Grantee::described)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What undo does given what is live now: the removed grantees to add back, named ones first and the
/// public share last (see the module documentation), and notes for the operator (already back, shared
/// since the cut with others, kept ones gone). What it did add is said once AWS has answered.
pub fn undo_steps(undo: &UndoRecord, live: &[Grantee]) -> (Vec<Grantee>, Vec<String>) {
    let target = undo.resource_type.target(&undo.resource_id);
    let (public, named): (Vec<Grantee>, Vec<Grantee>) = undo
        .removed
        .iter()
        .filter(|g| !live.contains(g))
        .cloned()
        .partition(|g| *g == Grantee::Everyone);
    let missing: Vec<Grantee> = named.into_iter().chain(public).collect();
    let describe = |grantees: Vec<&Grantee>| describe_all(grantees);
    let mut notes = Vec::new();
    let already: Vec<&Grantee> = undo.removed.iter().filter(|g| live.contains(g)).collect();
    if !already.is_empty() {
        notes.push(format!(
            "{target} was already shared again with {}",
            describe(already)
        ));
    }
    let since: Vec<&Grantee> = live
        .iter()
        .filter(|g| !undo.removed.contains(g) && !undo.kept.contains(g))
        .collect();
    if !since.is_empty() {
        notes.push(format!(
            "conflict: {target} was shared since the cut with {}; left as it is (restore removes nothing)",
            describe(since)
        ));
    }
    let kept_gone: Vec<&Grantee> = undo.kept.iter().filter(|g| !live.contains(g)).collect();
    if !kept_gone.is_empty() {
        notes.push(format!(
            "conflict: {target} is no longer shared with {}, which the cut had left in place; left as it is",
            describe(kept_gone)
        ));
    }
    (missing, notes)
}

#[async_trait]
impl CutKind for SharingRevoke {
    type State = SharingState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own snapshot, image or document: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<SharingState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.target() != cut.target || after.target() != cut.target {
            return Err(format!(
                "resource_type and resource_id must be those of the cut's target `{}`",
                cut.target
            ));
        }
        if let Some(added) = after
            .shared_with
            .iter()
            .find(|g| !before.shared_with.contains(g))
        {
            return Err(format!(
                "`after` shares with {} which `before` does not: the cut only removes",
                added.described()
            ));
        }
        if after.shared_with == before.shared_with {
            return Err("`after` removes no permission".into());
        }
        if after.shared_with.contains(&Grantee::Everyone) {
            return Err("`after` must not be public".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<SharingState>>, ServiceError> {
        let readings = survey(ctx, &scope.caller.account).await?;
        let needs_organization = readings.iter().any(|r| {
            r.state
                .shared_with
                .iter()
                .any(|g| matches!(g, Grantee::Organization(_) | Grantee::OrganizationalUnit(_)))
        });
        // DescribeOrganization only when an organization grant needs classifying.
        let home = if needs_organization {
            organization::home(ctx, &scope.caller.account).await
        } else {
            Home {
                account_id: scope.caller.account.clone(),
                organization: Organization::None,
            }
        };
        let mut proposals: Vec<Proposal<SharingState>> =
            readings.iter().filter_map(|r| propose(r, &home)).collect();
        for proposal in &mut proposals {
            if !proposal.before.shared_with.contains(&Grantee::Everyone) {
                continue;
            }
            let resource_type = proposal.before.resource_type;
            let block = Block::for_plan(ctx, resource_type, &scope.caller.account).await;
            if let Some(note) = block.plan_note(&ctx.region, resource_type.described().0) {
                proposal.reason.push_str(&note);
            }
        }
        Ok(proposals)
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SharingState>,
    ) -> Result<Option<SharingState>, ServiceError> {
        Ok(read(ctx, cut.before.resource_type, &cut.before.resource_id)
            .await?
            .map(|reading| reading.state))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SharingState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        remove(
            ctx,
            record.resource_type,
            &record.resource_id,
            &record.removed,
        )
        .await?;
        Ok(record)
    }

    /// EBS snapshots and AMIs are asked with EC2's `DryRun` (`apply --check`); RDS and SSM have no dry
    /// run, so their cuts are listed as unchecked.
    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SharingState>,
    ) -> PermissionCheck {
        let record = match self.undo_record_for(cut) {
            Ok(record) => record,
            Err(err) => return PermissionCheck::Failed(err),
        };
        let (id, removed) = (&record.resource_id, &record.removed);
        match record.resource_type {
            ResourceType::EbsSnapshot => {
                PermissionCheck::from_dry_run(ebs::check_remove(ctx, id, removed).await)
            }
            ResourceType::Image => {
                PermissionCheck::from_dry_run(ami::check_remove(ctx, id, removed).await)
            }
            _ => PermissionCheck::NotCheckable(format!(
                "{} has no dry run",
                record.resource_type.modify_call()
            )),
        }
    }

    fn undo_record_for(&self, cut: &TypedCut<SharingState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            resource_type: cut.before.resource_type,
            resource_id: cut.before.resource_id.clone(),
            removed: removed_by(cut),
            kept: cut.after.shared_with.clone(),
            shared_document_versions: cut.before.shared_document_versions.clone(),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let (what, _) = undo.resource_type.described();
        let Some(live) = read(ctx, undo.resource_type, &undo.resource_id).await? else {
            return Err(ServiceError::local(
                undo.resource_type.modify_call(),
                format!(
                    "{what} {} no longer exists; it cannot be shared again with {}",
                    undo.resource_id,
                    undo.removed
                        .iter()
                        .map(Grantee::described)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        let (missing, notes) = undo_steps(undo, &live.state.shared_with);
        let (public, named): (Vec<Grantee>, Vec<Grantee>) =
            missing.into_iter().partition(|g| *g == Grantee::Everyone);
        let (id, versions) = (&undo.resource_id, &undo.shared_document_versions);
        let mut back: Vec<Grantee> = Vec::new();
        let mut refused: Vec<ServiceError> = Vec::new();
        // Named grantees first, then the public share in a call of its own: AWS refuses a new public
        // share while the account's block public access for the type is on, and takes or refuses a
        // call's permissions together.
        if !named.is_empty() {
            match add(ctx, undo.resource_type, id, &named, versions).await {
                Ok(()) => back.extend(named),
                Err(err) => refused.push(err),
            }
        }
        if !public.is_empty() {
            match add(ctx, undo.resource_type, id, &public, versions).await {
                Ok(()) => back.extend(public),
                Err(err) => {
                    let block = Block::now(ctx, undo.resource_type).await;
                    refused.push(block.refusal(&ctx.region, what, id, err));
                }
            }
        }
        let target = undo.resource_type.target(id);
        let mut outcome = UndoOutcome { notes };
        if !back.is_empty() {
            outcome.notes.insert(
                0,
                format!("shared {target} again with {}", describe_all(&back)),
            );
        }
        let came_back: Vec<String> = back.iter().map(Grantee::described).collect();
        outcome.unless_refused(
            refused,
            &format!("{target} was shared again with"),
            &came_back,
        )
    }
}

/// `sharing_unclassified`: resources shared with something none of the adapters can read as a grantee.
#[async_trait]
impl Inspection for SharingRevoke {
    fn name(&self) -> &'static str {
        UNCLASSIFIED
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
        let readings = survey(ctx, &scope.caller.account).await?;
        Ok(readings
            .iter()
            .filter(|r| !r.unclassified.is_empty())
            .map(|r| unclassified_finding(&ctx.region, r))
            .collect())
    }
}
