//! The seam between the engine and the kinds of cut. A kind implements the typed [`CutKind`]; the engine
//! holds every kind as the object-safe [`Containment`], which a blanket adapter implements for each
//! `CutKind` by decoding the plan's `before`/`after` and the rollback file's undo records into the kind's
//! own types, and encoding what the kind returns. Findings come from [`Inspection`]s, which change nothing.

use std::fmt;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::aws::{CallerIdentity, RegionCtx};
use crate::net::Cidr;
use crate::plan::{CompactJson, Cut, Finding};
use crate::service_error::ServiceError;

/// When a kind runs during apply. Sealing cuts close whole paths out of a network and run first, so the
/// account is sealed as early as possible; per-resource cuts follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Puts what happens next on record (a logging trail, flow logs, snapshots) before anything is cut:
    /// the first phase, even before the organization's policies, because a record started after the
    /// cuts misses what the intruder does while they go in. Restore comes to it last, and its kinds
    /// keep their evidence unless asked (a restore gate; snapshots are never deleted).
    Evidence,
    /// Acts on the organization from its management account (a policy attached to member accounts):
    /// the first cuts, since one call there closes a whole account, and lifted last. In a plan over several
    /// accounts (`--accounts`) these are the only kinds discovered in the management account unless it
    /// is one of the accounts chosen.
    Organization,
    Seal,
    PerResource,
}

impl Phase {
    /// The phase as the progress line and the `phase-started` event name it.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Evidence => "evidence",
            Phase::Organization => "organization",
            Phase::Seal => "sealing",
            Phase::PerResource => "per-resource",
        }
    }
}

/// What a kind is, independent of any resource.
#[derive(Debug)]
pub struct KindInfo {
    pub name: &'static str,
    pub reversible: bool,
    /// Irreversible kinds are proposed with `enabled: false`.
    pub enabled_by_default: bool,
    pub phase: Phase,
    /// True for account-wide resources (region `global`).
    pub global: bool,
    /// What the kind's cuts and undos write; restore undoes kinds of different footprints side by side.
    pub footprint: Footprint,
}

/// The AWS resources a kind's cuts and undos write. Kinds of one phase and different footprints never
/// write the same resource, nor need each other's undo first, so restore undoes them side by side (the
/// phases themselves stay one after the other: every per-resource undo ends before the seal lifts). Kinds
/// of one footprint are undone one kind after the other, in restore's order
/// ([`crate::services::Registry::restore_rank`]): their undos may need each other's (a gateway attached
/// again before the routes through it, a block lifted before the policy it refuses) or write one resource
/// (a principal's inline policies, a function's resource policy). A kind placed after another
/// ([`Containment::cuts_after`]) shares its footprint (the registry's tests hold it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Footprint {
    /// Organization policies and their attachments to member accounts.
    Organization,
    /// What seals a VPC: VPC Block Public Access, network ACL entries, routes, gateway attachments.
    VpcSeal,
    SecurityGroups,
    VpcEndpoints,
    RdsInstances,
    /// IAM users and roles (credentials, trust policies, inline and managed policies) and Identity
    /// Center's permission sets, which AWS provisions into roles.
    Identity,
    /// SES's account sending and its identities' policies.
    Ses,
    /// S3's account Block Public Access, and the resource policies of buckets, queues, topics, keys,
    /// secrets and repositories.
    ResourcePolicies,
    /// What shares snapshots, images and documents out, and the account switches that block it.
    Sharing,
    EcrPublic,
    Lambda,
    ApiGateway,
    CloudFront,
    /// The evidence trail and its bucket, flow logs, evidence snapshots.
    Evidence,
}

/// What discovery needs to know besides the region.
#[derive(Debug, Clone)]
pub struct DiscoveryScope {
    pub caller: CallerIdentity,
    /// Ranges that stay reachable: the responder's own way in.
    pub keep_cidrs: Vec<Cidr>,
    /// The values of the plan options kinds declare ([`PlanOption`]), checked, by flag name.
    pub options: PlanOptions,
    /// The role hikkonuki enters member accounts through (`plan --role`, by default
    /// [`crate::plan::DEFAULT_MEMBER_ROLE`]): organization-level denials leave it out, so the responder
    /// can still act in, and restore, the accounts they quarantine.
    pub member_role: String,
    /// When the plan was made (RFC 3339, the plan's `created`). Kinds that name what they make after the
    /// plan (the evidence buckets, the incident) read it here, so apply derives the same names again.
    pub created: String,
}

impl DiscoveryScope {
    /// The value given for a kind's plan option (its flag name without dashes), if any.
    pub fn option(&self, flag: &str) -> Option<&str> {
        self.options.get(flag).map(String::as_str)
    }

    /// A scope for unit tests: the caller `arn:aws:iam::123456789012:user/r`, nothing kept, no options.
    #[cfg(test)]
    pub fn for_tests() -> DiscoveryScope {
        DiscoveryScope {
            caller: CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/r".into(),
                user_id: "AIDA".into(),
                access_key_id: None,
                source: None,
                entered_by: None,
                profile_roles: Vec::new(),
            },
            keep_cidrs: vec![],
            options: PlanOptions::new(),
            member_role: crate::plan::DEFAULT_MEMBER_ROLE.into(),
            created: "2026-11-30T11:54:00Z".into(),
        }
    }
}

/// Plan option values by flag name (e.g. `maintenance-origin`).
pub type PlanOptions = std::collections::BTreeMap<String, String>;

/// An option of `hikkonuki plan` that belongs to one kind (or a few): the kind declares it, the CLI adds
/// the flag and checks the value before anything is read from the account, discovery reads it from
/// [`DiscoveryScope::option`]. So a new kind with an option touches only its own module.
#[derive(Debug, Clone, Copy)]
pub struct PlanOption {
    /// The long flag without dashes, e.g. `maintenance-origin`.
    pub flag: &'static str,
    /// Shown in `--help` as the value's name, e.g. `DOMAIN`. `None` makes the option a switch that takes
    /// no value (`--no-evidence-snapshots`): given or not; the plan keeps [`PlanOption::SWITCH_ON`] when
    /// it was given, and nothing otherwise, so plans made before a switch existed read as "not given".
    pub value_name: Option<&'static str>,
    pub help: &'static str,
    /// Checks a given value; the error is the whole message for the operator (what is wrong and the fix).
    /// A repeatable option's values reach it joined by [`PlanOption::SEPARATOR`], as the plan keeps them.
    /// A switch's check is [`PlanOption::check_switch`].
    pub check: fn(&str) -> Result<(), String>,
    /// May be given several times (`--keep-subnet A --keep-subnet B`); the plan keeps the values joined.
    pub repeatable: bool,
}

impl PlanOption {
    /// Joins a repeatable option's values in the plan's `options` map, which holds one string per flag.
    pub const SEPARATOR: char = ',';

    /// What the plan's `options` map holds for a switch that was given.
    pub const SWITCH_ON: &'static str = crate::plan::OPTION_SWITCHED_ON;

    /// True for an option that takes no value.
    pub fn is_switch(&self) -> bool {
        self.value_name.is_none()
    }

    /// The check of every switch: the plan holds [`PlanOption::SWITCH_ON`] for it, or nothing.
    pub fn check_switch(value: &str) -> Result<(), String> {
        if value == Self::SWITCH_ON {
            Ok(())
        } else {
            Err(format!(
                "{value:?}: this option is a switch, kept in the plan as {:?} when given\n  fix: write {:?}, or remove the option to leave the switch off",
                Self::SWITCH_ON,
                Self::SWITCH_ON
            ))
        }
    }
}

impl DiscoveryScope {
    /// Whether a switch ([`PlanOption::is_switch`]) was given.
    pub fn switch(&self, flag: &str) -> bool {
        self.option(flag) == Some(PlanOption::SWITCH_ON)
    }

    /// Every value given for a repeatable plan option, in the order given; empty when none was.
    pub fn option_values(&self, flag: &str) -> Vec<&str> {
        self.option(flag)
            .map(|joined| {
                joined
                    .split(PlanOption::SEPARATOR)
                    .filter(|value| !value.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A cut as a service proposes it; the engine gives it its id, kind, region and enabled flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProposedCut {
    pub target: String,
    pub reason: String,
    /// Written straight to compact text: discovery holds every proposal of the account until the plan
    /// is written, and a tree per state cost several times its text ([`CompactJson`]).
    pub before: CompactJson,
    pub after: CompactJson,
    /// Set when this cut cannot work as the account stands (for example AWS would refuse it): the cut is
    /// still listed, so the operator sees the path, but proposed with `enabled: false` and this text in
    /// its reason, saying what blocks it and what to do instead.
    pub disabled_because: Option<String>,
}

/// What an undo did, for the operator: conflicts with later changes are listed, never overwritten.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UndoOutcome {
    /// A note that begins with [`UndoOutcome::CONFLICT`] says the resource (or part of it) changed after
    /// the cut and was left alone, so restore did not give it back: restore counts and lists those apart.
    pub notes: Vec<String>,
}

impl UndoOutcome {
    /// How a note that reports a change made after the cut, left alone, begins.
    pub const CONFLICT: &'static str = "conflict:";

    /// The notes that report what was left alone because it changed after the cut.
    pub fn conflicts(notes: &[String]) -> Vec<String> {
        notes
            .iter()
            .filter(|note| note.starts_with(Self::CONFLICT))
            .cloned()
            .collect()
    }

    /// An undo's result once every part was tried (one refused part must not keep the others from
    /// coming back): this outcome when AWS refused none, else the first refusal, its operation and code
    /// kept (an access denial still names the permission), saying what else was refused, the conflicts
    /// this outcome's notes report (a failed undo's notes are not kept), and what came back beside it
    /// (`came_back` introduces the parts in `back`). Restore again redoes only what is still missing.
    pub fn unless_refused(
        self,
        refused: Vec<ServiceError>,
        came_back: &str,
        back: &[String],
    ) -> Result<UndoOutcome, ServiceError> {
        let mut refused = refused.into_iter();
        let Some(mut first) = refused.next() else {
            return Ok(self);
        };
        let others: Vec<String> = refused.map(|err| err.to_string()).collect();
        if !others.is_empty() {
            first.message = format!("{}; also refused: {}", first.message, others.join("; "));
        }
        let conflicts = Self::conflicts(&self.notes);
        if !conflicts.is_empty() {
            first.message = format!("{}; and {}", first.message, conflicts.join("; "));
        }
        if !back.is_empty() {
            first.message = format!("{} ({came_back}: {})", first.message, back.join("; "));
        }
        Err(first)
    }
}

/// What `apply --check` learned about one cut.
#[derive(Debug, Clone, PartialEq)]
pub enum PermissionCheck {
    Allowed,
    Denied(ServiceError),
    NotCheckable(String),
    /// The check itself failed for another reason.
    Failed(ServiceError),
}

impl PermissionCheck {
    /// Reads the answer to a `DryRun` call: AWS signals "would have succeeded" as a `DryRunOperation` error.
    pub fn from_dry_run(result: Result<(), ServiceError>) -> PermissionCheck {
        match result {
            Err(err) if err.code.as_deref() == Some("DryRunOperation") => PermissionCheck::Allowed,
            Err(err) if err.is_access_denied() => PermissionCheck::Denied(err),
            Err(err) => PermissionCheck::Failed(err),
            // A dry run that "succeeds" was executed for real: say so loudly rather than call it allowed.
            Ok(()) => PermissionCheck::Failed(ServiceError::local(
                "DryRun",
                "the endpoint performed the call instead of dry-running it",
            )),
        }
    }
}

/// For mocks: EC2's answer to a dry run of a call the caller may make, the error `DryRunOperation`
/// "Request would have succeeded, but DryRun flag is set."
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>).
#[cfg(test)]
pub fn dry_run_would_succeed() -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code("DryRunOperation")
        .message("Request would have succeeded, but DryRun flag is set.")
        .build()
}

/// One kind of cut as the engine holds it, over the plan's document values. Kinds implement [`CutKind`]
/// and get this through the adapter below; nothing else implements it.
#[async_trait]
pub trait Containment: Send + Sync {
    fn info(&self) -> &'static KindInfo;

    /// Checks that a cut's `before` and `after` have this kind's shape.
    fn check_states(&self, cut: &Cut) -> Result<(), String>;

    /// Proposes cuts for one region, each with the resource's state now.
    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<ProposedCut>, ServiceError>;

    /// The resource's live state in the same shape as `before`, so apply can refuse drift.
    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError>;

    /// The live state of several cuts' resources at once (all of this kind, in one region), in order, so
    /// checking a thousand cuts for drift costs a few calls, not thousands.
    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
    ) -> Vec<Result<Value, ServiceError>>;

    /// Performs the cut and returns everything needed to undo it.
    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError>;

    /// Waits until what [`Containment::apply`] asked of AWS is in force, for a kind whose change AWS
    /// carries out after the call is answered (VPC Block Public Access reports `update-in-progress` first).
    /// Apply journals the cut done only after this returns, and a resumed apply that finds the cut made
    /// (its completion never journaled) runs this again. A sealing cut's wait does not hold back the
    /// per-resource cuts (stolen keys must not stay active while a switch settles), so it must only read:
    /// every change is made in `apply`. A per-resource kind may make here a call that changes nothing
    /// restore puts back and that AWS answers alike when asked twice (CloudFront's invalidation of what
    /// the edge cached). Kinds whose change is in force when the call returns wait for nothing.
    async fn take_effect(&self, ctx: &RegionCtx, cut: &Cut) -> Result<(), ServiceError>;

    /// The undo record apply would have returned, for a cut whose completion was never journaled (a
    /// crash mid-call). [`Containment::undo`] must be safe to run with it whether or not the cut happened.
    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError>;

    /// Asks AWS whether the cut would be permitted, without performing it (EC2 `DryRun`). Kinds whose API
    /// has no dry run say so rather than guess.
    async fn check_permission(&self, ctx: &RegionCtx, cut: &Cut) -> PermissionCheck;

    /// When restore must keep this kind's cuts unless the operator passes a flag (for example, lifting a
    /// session revocation revives stolen sessions).
    fn restore_gate(&self) -> Option<RestoreGate>;

    /// The `plan` options this kind reads from [`DiscoveryScope::option`].
    fn plan_options(&self) -> &'static [PlanOption];

    /// Checks an undo record read from a rollback file against the cut its intent entry names: same
    /// resource, and only what that cut removed. The error says what differs.
    fn check_undo(&self, cut: &Cut, undo: &Value) -> Result<(), String>;

    /// Whether the cut would take away `caller`'s own access (its credentials, sessions or role). Apply
    /// asks it of the principal actually applying, whoever made the plan, and never performs such a cut.
    fn cuts_off(&self, cut: &Cut, caller: &CallerIdentity) -> bool;

    /// Why apply takes this cut out of the run whatever the plan says, when it must: its kind refuses it
    /// ([`CutKind::refuses`]: restore could not give back what it would overwrite or remove), or it would
    /// cut the access of `caller`, who is applying ([`CutKind::cuts_off`]). Apply asks it of every
    /// enabled cut before anything is journaled, so no intent of such a cut is ever undone; the cut's
    /// states are decoded once for both questions.
    fn leaves_out(&self, cut: &Cut, caller: &CallerIdentity) -> Option<String>;

    /// Among `cuts` (this kind's, in `ctx`'s region, as the plan holds them), those that would take away
    /// `caller`'s access in a way only a live read shows, each with why: a role the applier's session may have come through is
    /// named in the trust policy of the applier's role, which the plan need not hold. Apply asks it of
    /// every run, since the applier may not be the planner (whose own discovery kept), and leaves these
    /// cuts out; when it fails, it leaves out all of the kind's cuts, since it cannot tell which are safe.
    async fn cuts_off_live(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
        caller: &CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError>;

    /// The VPCs the cut's resource belongs to (`--vpc`); none for resources outside any VPC.
    fn vpcs(&self, cut: &Cut) -> Vec<String>;

    /// Whether a region-wide sealing cut (one that names no VPC) leaves `vpc`'s way out open as the
    /// cut makes it (an exclusion the plan keeps for it): apply run from inside `vpc` then need not
    /// leave the cut out ([`crate::engine::apply`]'s own path).
    fn spares_vpc(&self, cut: &Cut, vpc: &str) -> bool;

    /// What of its VPC the cut closes that carries the calls hikkonuki makes from inside that VPC, other
    /// than the way out the sealing cuts close (which apply judges by their phase), in words: apply
    /// run from inside the VPC leaves the cut out ([`crate::engine::apply`]'s own path).
    fn carries_calls_from_vpc(&self, cut: &Cut) -> Option<String>;

    /// Whether `live` (as [`Containment::observe`] reads it) still holds the cut, for a kind whose `after`
    /// is not what observation reads back (a deny whose time is only known at apply, a policy AWS
    /// re-formats). `watch` asks it when `live` is neither the recorded `after` nor `before`.
    fn holds(&self, cut: &Cut, live: &Value) -> bool;

    /// Whether `live` (neither `before` nor `after`) is what a cut stopped between its calls leaves, and
    /// nothing else: a resumed apply then puts it back and cuts it again. Otherwise someone changed the
    /// resource since, and it is left as it is: putting back the earlier run's part would only reopen it.
    fn partly_cut(&self, cut: &Cut, live: &Value) -> bool;

    /// Whether `live`, read after a resumed apply rewound a half-done cut (its undo, from the plan), is
    /// the plan's `before` as far as any undo can bring it back, though not `before` itself: a kind whose
    /// undo cannot help changing something the plan recorded, in the way the cut itself would and the
    /// plan said it would (Identity Center's provisioning brings the accounts that were on an older
    /// version of the permission set up to date), says what it accepts, and the cut is made again.
    /// Otherwise the cut is not retried.
    fn back_as_planned(&self, cut: &Cut, live: &Value) -> bool;

    /// Whether a cut stopped between its calls is finished where it stopped ([`Containment::finish`])
    /// rather than put back and made again: for a kind whose undo cannot give the plan's `before` back
    /// (what it re-creates gets new identifiers, as a security-group rule re-authorized gets a new rule
    /// ID), so a rewind would only reopen what the earlier run had cut, and the cut could not be made
    /// again from the plan.
    fn finishes_in_place(&self) -> bool;

    /// For a kind that [`Containment::finishes_in_place`]: whether the rest of the cut can be made from
    /// `live` (neither `before` nor `after`), and the changes made since the plan that finishing leaves
    /// as they are, in words (empty: `live` is [`Containment::partly_cut`] and nothing else). Finishing
    /// writes only what the plan reviewed, so a change beside the earlier run's part (a rule added since)
    /// need not stop it, where a rewind could not give `before` back; left unfinished, the resource stays
    /// half-cut. The cut is then recorded done and reported failed, naming the changes: the resource is
    /// not the reviewed `after`. `None`: the rest cannot be made as reviewed, and the cut is not retried.
    fn finishable(&self, cut: &Cut, live: &Value) -> Option<Vec<String>>;

    /// Makes the rest of a cut an earlier run stopped between its calls, `live` being what it left
    /// ([`Containment::finishable`]), and returns the undo record apply would have: the whole cut's.
    /// Called only for kinds that [`Containment::finishes_in_place`].
    async fn finish(&self, ctx: &RegionCtx, cut: &Cut, live: &Value)
    -> Result<Value, ServiceError>;

    /// As [`Containment::holds`], knowing what apply recorded it did (the `done` entry's undo record):
    /// `watch` asks it of a completed cut. A kind whose `after` leaves a value to apply (a revocation's
    /// cut-off) holds only with a value as strong as the one written: a cut-off moved back to before
    /// apply revokes nothing, whatever its shape.
    fn holds_as_written(&self, cut: &Cut, live: &Value, undo: &Value) -> bool;

    /// Whether a cut found holding ([`Containment::holds`]) after a crash mid-cut is wholly in force, so a
    /// resumed apply records it done. False for a kind whose cut makes a last call that observation does
    /// not see (Identity Center's provisioning of the permission set it wrote): such a cut is rewound and
    /// made again instead.
    fn holding_is_complete(&self) -> bool;

    /// How long after a cut AWS may go on reporting the state from before it: a switch AWS applies
    /// within minutes and meanwhile reads back as it was (the AMI block public access, up to 10
    /// minutes). Within that time of the cut, `watch` takes such a reading for neither held nor reopened
    /// (no false alarm, no re-cut, no false assurance): it cannot tell yet, and says until when. `None`
    /// for kinds whose change reads back at once.
    fn reads_back_late(&self) -> Option<std::time::Duration>;

    /// When `live` (neither the recorded `after` nor `before`) is what the cut took away come back, in
    /// whole or in part, under identifiers AWS assigns anew (a security-group rule re-authorized gets a
    /// new rule ID) and with nothing else changed: the state `watch --recut` cuts again from, as the
    /// re-cut's `before`, to the recorded `after`. `None`: it is a change no one reviewed.
    fn reopened(&self, cut: &Cut, live: &Value) -> Option<Value>;

    /// Whether restore may undo several of this kind's cuts at once: only when each cut's undo touches
    /// nothing another cut of the kind touches (its own group, key or function).
    fn undoes_independently(&self) -> bool;

    /// Kinds of the same phase whose cuts must all be answered before this kind's start, because once
    /// this kind's change is in force AWS refuses theirs (S3 Block Public Access's `BlockPublicPolicy`
    /// refuses to write a public bucket policy back, even with a deny added). Restore lifts this kind's
    /// cuts before undoing theirs, for the same reason ([`crate::services::Registry::restore_rank`]).
    fn cuts_after(&self) -> &'static [&'static str];

    /// Whether AWS refused this kind's undo (`err`) because a cut of a later restore phase is still in
    /// force (RDS makes an instance public only in a VPC whose internet gateway, detached by the seal,
    /// is attached again after the per-resource undos): restore then tries it once more after every
    /// phase, instead of failing it.
    fn refused_until_later_phases(&self, err: &ServiceError) -> bool;

    /// Puts back what the cut took, and only that: whatever changed since is left alone and reported.
    /// Running it twice is harmless.
    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError>;

    /// What a completed cut's undo record holds that the operator needs after apply (the evidence it
    /// made, by ID), in one line; `show` prints it under the timeline. `None` for kinds with nothing
    /// to say beyond the timeline.
    fn recorded(&self, undo: &Value) -> Option<String>;

    /// How far AWS has got with what a completed cut started and finishes in the background (snapshots
    /// being copied), read now, read-only; `show ROLLBACK --live` asks it. `None` for kinds whose cut is
    /// done when its call returns.
    async fn progress(&self, ctx: &RegionCtx, undo: &Value)
    -> Option<Result<String, ServiceError>>;
}

/// A restore that must not happen by default, and the flag that allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreGate {
    /// The `restore` flag that lifts the gate, e.g. `--lift-session-revocation`.
    pub flag: &'static str,
    /// Why restore keeps the cut unless asked, for the operator.
    pub why: &'static str,
    /// The flag's `--help` text: what lifting the gate does, and when it is safe.
    pub help: &'static str,
}

/// A check that reports what the responder should know and no cut changes (CloudTrail off, root without
/// MFA, a back door). Inspections never change the account.
#[async_trait]
pub trait Inspection: Send + Sync {
    fn name(&self) -> &'static str;
    /// True for account-wide checks, run once from the home region.
    fn global(&self) -> bool;
    /// `cuts` are those proposed so far, for checks that relate to them (e.g. DNS records pointing at
    /// something the plan cuts).
    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError>;
}

/// A cut's `before` and `after` in a kind's own state type; the error names which one does not fit.
fn decode_states<T: serde::de::DeserializeOwned>(cut: &Cut) -> Result<(T, T), String> {
    let before = cut
        .before
        .decode()
        .map_err(|err| format!("`before`: {err}"))?;
    let after = cut
        .after
        .decode()
        .map_err(|err| format!("`after`: {err}"))?;
    Ok((before, after))
}

/// A cut as a kind sees it: the plan's cut with its `before` and `after` decoded into the kind's own
/// state type. The engine decodes once, at this boundary; a kind never handles the plan's raw values.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedCut<S> {
    pub id: String,
    /// A region name, or `global`.
    pub region: String,
    pub target: String,
    pub before: S,
    pub after: S,
}

impl<S: DeserializeOwned> TypedCut<S> {
    /// Decodes a plan's cut; the error names which state does not fit the kind's shape.
    pub fn decode(cut: &Cut) -> Result<TypedCut<S>, String> {
        let (before, after) = decode_states(cut)?;
        Ok(TypedCut {
            id: cut.id.clone(),
            region: cut.region.clone(),
            target: cut.target.clone(),
            before,
            after,
        })
    }
}

/// A cut as a typed kind proposes it; [`Proposal::into_proposed`] is the one place its states become the
/// plan's document values.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal<S> {
    pub target: String,
    pub reason: String,
    pub before: S,
    pub after: S,
    /// As [`ProposedCut::disabled_because`].
    pub disabled_because: Option<String>,
}

impl<S: Serialize> Proposal<S> {
    fn into_proposed(self, kind: &str) -> Result<ProposedCut, ServiceError> {
        Ok(ProposedCut {
            before: to_compact_document(kind, "before", &self.before)?,
            after: to_compact_document(kind, "after", &self.after)?,
            target: self.target,
            reason: self.reason,
            disabled_because: self.disabled_because,
        })
    }
}

/// A kind's typed state as compact document text, the same text [`CompactJson`] holds for its tree.
fn to_compact_document<T: Serialize>(
    kind: &str,
    what: &str,
    value: &T,
) -> Result<CompactJson, ServiceError> {
    to_document(kind, what, value).map(CompactJson::from)
}

/// A kind's typed state as a document value. Serializing a derived state cannot fail in practice; if a
/// kind ever holds something serde cannot represent, the cut fails with this error instead of panicking.
fn to_document<T: Serialize>(kind: &str, what: &str, value: &T) -> Result<Value, ServiceError> {
    serde_json::to_value(value).map_err(|err| {
        ServiceError::local(kind, format!("its {what} cannot be written down: {err}"))
    })
}

fn from_document<T: DeserializeOwned>(
    kind: &str,
    what: &str,
    value: &Value,
) -> Result<T, ServiceError> {
    serde_json::from_value(value.clone())
        .map_err(|err| ServiceError::local(kind, format!("the {what} does not decode: {err}")))
}

/// One kind of cut, typed: how to find what to cut, how to cut it, and how to put it back exactly. Its
/// `State` is what a cut's `before` and `after` record, its `Undo` what the rollback file keeps for
/// restore; both are plain serde types, decoded and encoded by the engine's adapter ([`Containment`] is
/// implemented for every `CutKind`), so a kind never touches a document value.
///
/// Adding a kind: see the checklist in [`crate::services`].
#[async_trait]
pub trait CutKind: Send + Sync + 'static {
    type State: Serialize + DeserializeOwned + PartialEq + Clone + fmt::Debug + Send + Sync;
    type Undo: Serialize + DeserializeOwned + Clone + fmt::Debug + Send + Sync;

    fn info(&self) -> &'static KindInfo;

    /// Checks that a cut's `before` and `after` make sense for this kind (same resource as the target, only
    /// what the cut removes missing); the error says what is wrong, for the plan's validation message.
    fn check_states(&self, cut: &TypedCut<Self::State>) -> Result<(), String>;

    /// Proposes cuts for one region, each with the resource's state now.
    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<Self::State>>, ServiceError>;

    /// The resource's live state in the shape of `before`; `None` when the resource is gone.
    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Self::State>,
    ) -> Result<Option<Self::State>, ServiceError>;

    /// As [`Containment::observe_many`]. The default observes each; kinds with a region-wide describe
    /// override it.
    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[TypedCut<Self::State>],
    ) -> Vec<Result<Option<Self::State>, ServiceError>> {
        let mut states = Vec::with_capacity(cuts.len());
        for cut in cuts {
            states.push(self.observe(ctx, cut).await);
        }
        states
    }

    /// Performs the cut and returns everything needed to undo it.
    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Self::State>,
    ) -> Result<Self::Undo, ServiceError>;

    /// As [`Containment::take_effect`]. By default the change is in force once `apply` returns.
    async fn take_effect(
        &self,
        _ctx: &RegionCtx,
        _cut: &TypedCut<Self::State>,
    ) -> Result<(), ServiceError> {
        Ok(())
    }

    /// As [`Containment::undo_record_for`].
    fn undo_record_for(&self, cut: &TypedCut<Self::State>) -> Result<Self::Undo, ServiceError>;

    /// As [`Containment::check_permission`].
    async fn check_permission(
        &self,
        _ctx: &RegionCtx,
        _cut: &TypedCut<Self::State>,
    ) -> PermissionCheck {
        PermissionCheck::NotCheckable(NO_DRY_RUN.into())
    }

    /// As [`Containment::restore_gate`].
    fn restore_gate(&self) -> Option<RestoreGate> {
        None
    }

    /// As [`Containment::plan_options`].
    fn plan_options(&self) -> &'static [PlanOption] {
        &[]
    }

    /// As [`Containment::check_undo`]. The default holds for kinds whose `apply` returns exactly
    /// [`CutKind::undo_record_for`] (everything it needs is known from the cut before the call); a kind
    /// whose undo records what apply learned overrides it with its own rule.
    fn check_undo(&self, cut: &TypedCut<Self::State>, undo: &Self::Undo) -> Result<(), String> {
        let implied = self.undo_record_for(cut).map_err(|err| err.to_string())?;
        let (implied, recorded) = (
            serde_json::to_value(&implied).map_err(|err| err.to_string())?,
            serde_json::to_value(undo).map_err(|err| err.to_string())?,
        );
        match crate::plan::compare::first_difference(&recorded, &implied, "undo") {
            None => Ok(()),
            Some((path, recorded, implied)) => Err(format!(
                "`{path}` is {} in the rollback file, but the cut implies {}",
                crate::plan::compare::brief(&recorded),
                crate::plan::compare::brief(&implied)
            )),
        }
    }

    /// As [`Containment::cuts_off`]. Only kinds that cut credentials, sessions or roles can.
    fn cuts_off(&self, _cut: &TypedCut<Self::State>, _caller: &CallerIdentity) -> bool {
        false
    }

    /// Why apply must not carry out this cut whatever the plan says, when it must not: restore could not
    /// give back what it would overwrite or remove (a policy of hikkonuki's name already there, a
    /// statement AddPermission cannot re-create). Discovery proposes such a cut switched off. By default
    /// every cut restore can undo may run.
    fn refuses(&self, _cut: &TypedCut<Self::State>) -> Option<String> {
        None
    }

    /// As [`Containment::cuts_off_live`]. The cuts come as the plan holds them, undecoded: every apply
    /// asks every kind, and only a kind that reads live decodes what it needs. By default what
    /// [`CutKind::cuts_off`] sees is all there is.
    async fn cuts_off_live(
        &self,
        _ctx: &RegionCtx,
        _cuts: &[&Cut],
        _caller: &CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        Ok(Vec::new())
    }

    /// As [`Containment::vpcs`]. Only kinds whose resources live in a VPC name one.
    fn vpcs(&self, _state: &Self::State) -> Vec<String> {
        Vec::new()
    }

    /// As [`Containment::spares_vpc`], judged from the cut's `after`. By default no VPC is spared.
    fn spares_vpc(&self, _after: &Self::State, _vpc: &str) -> bool {
        false
    }

    /// As [`Containment::carries_calls_from_vpc`]. By default nothing the cut closes carries them.
    fn carries_calls_from_vpc(&self, _cut: &TypedCut<Self::State>) -> Option<String> {
        None
    }

    /// As [`Containment::holds`]. By default only the recorded `after` itself holds the cut (the engine
    /// compares that first), so anything else is reported.
    fn holds(&self, _cut: &TypedCut<Self::State>, _live: &Self::State) -> bool {
        false
    }

    /// As [`Containment::partly_cut`]. By default each of `live`'s values is one of `before`'s or
    /// `after`'s, and each of its lists holds what both hold and nothing neither holds
    /// ([`crate::plan::compare::lies_between`]): a cut that removes rules, or adds entries, one call at a
    /// time. A kind whose calls leave something in between that neither state has (a policy created, not
    /// yet attached) says so itself.
    fn partly_cut(&self, cut: &TypedCut<Self::State>, live: &Self::State) -> bool {
        match (
            serde_json::to_value(&cut.before),
            serde_json::to_value(&cut.after),
            serde_json::to_value(live),
        ) {
            (Ok(before), Ok(after), Ok(live)) => {
                crate::plan::compare::lies_between(&before, &after, &live)
            }
            _ => false,
        }
    }

    /// As [`Containment::back_as_planned`]. By default only `before` itself is (the engine compares that
    /// first).
    fn back_as_planned(&self, _cut: &TypedCut<Self::State>, _live: &Self::State) -> bool {
        false
    }

    /// As [`Containment::finishes_in_place`]. By default a cut stopped midway is rewound and made again.
    fn finishes_in_place(&self) -> bool {
        false
    }

    /// As [`Containment::finishable`]. By default a cut stopped between its calls and changed in
    /// nothing else is.
    fn finishable(&self, cut: &TypedCut<Self::State>, live: &Self::State) -> Option<Vec<String>> {
        self.partly_cut(cut, live).then(Vec::new)
    }

    /// As [`Containment::finish`]; a kind that [`CutKind::finishes_in_place`] implements it.
    async fn finish(
        &self,
        _ctx: &RegionCtx,
        _cut: &TypedCut<Self::State>,
        _live: &Self::State,
    ) -> Result<Self::Undo, ServiceError> {
        Err(ServiceError::local(
            self.info().name,
            "this kind does not finish a cut stopped midway: it is rewound and made again",
        ))
    }

    /// As [`Containment::holds_as_written`]. By default as [`CutKind::holds`]: the undo record says
    /// nothing the cut's `after` does not.
    fn holds_as_written(
        &self,
        cut: &TypedCut<Self::State>,
        live: &Self::State,
        _undo: &Self::Undo,
    ) -> bool {
        self.holds(cut, live)
    }

    /// As [`Containment::holding_is_complete`]. By default what holds is in force.
    fn holding_is_complete(&self) -> bool {
        true
    }

    /// As [`Containment::reads_back_late`]. By default a change reads back at once.
    fn reads_back_late(&self) -> Option<std::time::Duration> {
        None
    }

    /// As [`Containment::cuts_after`]. By default none: the kind's cuts start with the rest of its phase.
    fn cuts_after(&self) -> &'static [&'static str] {
        &[]
    }

    /// As [`Containment::refused_until_later_phases`]. By default no refusal waits for another phase.
    fn refused_until_later_phases(&self, _err: &ServiceError) -> bool {
        false
    }

    /// As [`Containment::undoes_independently`]. By default one undo after the other: kinds whose cuts
    /// share a resource (one organization policy attached to many accounts, whose last detach deletes
    /// it; one evidence trail for every region) would race each other.
    fn undoes_independently(&self) -> bool {
        false
    }

    /// As [`Containment::reopened`]. By default only the recorded `before` itself is the cut reopened
    /// (the engine compares that first): kinds whose resources come back under new IDs, or in part, say
    /// more. What it returns must pass [`CutKind::check_states`] as the re-cut's `before`.
    fn reopened(&self, _cut: &TypedCut<Self::State>, _live: &Self::State) -> Option<Self::State> {
        None
    }

    /// Puts back what the cut took, and only that: whatever changed since is left alone and reported.
    /// Running it twice is harmless.
    async fn undo(&self, ctx: &RegionCtx, undo: &Self::Undo) -> Result<UndoOutcome, ServiceError>;

    /// As [`Containment::recorded`].
    fn recorded(&self, _undo: &Self::Undo) -> Option<String> {
        None
    }

    /// As [`Containment::progress`].
    async fn progress(
        &self,
        _ctx: &RegionCtx,
        _undo: &Self::Undo,
    ) -> Option<Result<String, ServiceError>> {
        None
    }
}

const NO_DRY_RUN: &str =
    "this kind's API has no dry run; permissions are only known when the cut runs";

/// The adapter between the engine, which holds kinds as trait objects over the plan's documents, and a
/// typed kind: decode on the way in, encode on the way out, errors instead of panics.
#[async_trait]
impl<K: CutKind> Containment for K {
    fn info(&self) -> &'static KindInfo {
        CutKind::info(self)
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        CutKind::check_states(self, &TypedCut::decode(cut)?)
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<ProposedCut>, ServiceError> {
        let name = CutKind::info(self).name;
        CutKind::discover(self, ctx, scope)
            .await?
            .into_iter()
            .map(|proposal| proposal.into_proposed(name))
            .collect()
    }

    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        let name = CutKind::info(self).name;
        let typed = decode_cut::<K::State>(name, cut)?;
        match CutKind::observe(self, ctx, &typed).await? {
            Some(state) => to_document(name, "live state", &state),
            None => Ok(Value::Null),
        }
    }

    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
    ) -> Vec<Result<Value, ServiceError>> {
        let name = CutKind::info(self).name;
        // Cuts that do not decode keep their error in their slot; the rest are observed together.
        let mut typed: Vec<TypedCut<K::State>> = Vec::with_capacity(cuts.len());
        let slots: Vec<Option<ServiceError>> = cuts
            .iter()
            .map(|cut| match decode_cut(name, cut) {
                Ok(cut) => {
                    typed.push(cut);
                    None
                }
                Err(err) => Some(err),
            })
            .collect();
        let mut observed = CutKind::observe_many(self, ctx, &typed).await.into_iter();
        slots
            .into_iter()
            .map(|slot| match slot {
                Some(err) => Err(err),
                None => match observed.next() {
                    Some(Ok(Some(state))) => to_document(name, "live state", &state),
                    Some(Ok(None)) => Ok(Value::Null),
                    Some(Err(err)) => Err(err),
                    None => Err(ServiceError::local(
                        name,
                        "the kind observed fewer cuts than asked",
                    )),
                },
            })
            .collect()
    }

    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        let name = CutKind::info(self).name;
        let typed = decode_cut::<K::State>(name, cut)?;
        let undo = CutKind::apply(self, ctx, &typed).await?;
        to_document(name, "undo record", &undo)
    }

    async fn take_effect(&self, ctx: &RegionCtx, cut: &Cut) -> Result<(), ServiceError> {
        let name = CutKind::info(self).name;
        let typed = decode_cut::<K::State>(name, cut)?;
        CutKind::take_effect(self, ctx, &typed).await
    }

    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError> {
        let name = CutKind::info(self).name;
        let typed = decode_cut::<K::State>(name, cut)?;
        to_document(
            name,
            "undo record",
            &CutKind::undo_record_for(self, &typed)?,
        )
    }

    async fn check_permission(&self, ctx: &RegionCtx, cut: &Cut) -> PermissionCheck {
        let name = CutKind::info(self).name;
        match decode_cut::<K::State>(name, cut) {
            Ok(typed) => CutKind::check_permission(self, ctx, &typed).await,
            Err(err) => PermissionCheck::Failed(err),
        }
    }

    fn restore_gate(&self) -> Option<RestoreGate> {
        CutKind::restore_gate(self)
    }

    fn plan_options(&self) -> &'static [PlanOption] {
        CutKind::plan_options(self)
    }

    fn check_undo(&self, cut: &Cut, undo: &Value) -> Result<(), String> {
        let typed = TypedCut::decode(cut)?;
        CutKind::check_states(self, &typed)?;
        let undo: K::Undo = serde_json::from_value(undo.clone())
            .map_err(|err| format!("the undo record does not decode: {err}"))?;
        CutKind::check_undo(self, &typed, &undo)
    }

    fn cuts_off(&self, cut: &Cut, caller: &CallerIdentity) -> bool {
        // A cut that does not decode never runs (the plan is refused), so nothing is hidden by `false`.
        TypedCut::decode(cut).is_ok_and(|typed| CutKind::cuts_off(self, &typed, caller))
    }

    fn leaves_out(&self, cut: &Cut, caller: &CallerIdentity) -> Option<String> {
        // A cut that does not decode never runs (the plan is refused).
        let typed = TypedCut::decode(cut).ok()?;
        CutKind::refuses(self, &typed).or_else(|| {
            CutKind::cuts_off(self, &typed, caller).then(|| match &caller.entered_by {
                Some(operator) => format!(
                    "it would cut the access of {operator}, who is applying (through {})",
                    caller.arn
                ),
                None => format!("it would cut the access of {}, who is applying", caller.arn),
            })
        })
    }

    async fn cuts_off_live(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
        caller: &CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        CutKind::cuts_off_live(self, ctx, cuts, caller).await
    }

    fn holds(&self, cut: &Cut, live: &Value) -> bool {
        let name = CutKind::info(self).name;
        match (
            TypedCut::<K::State>::decode(cut),
            from_document::<K::State>(name, "live state", live),
        ) {
            (Ok(typed), Ok(live)) => CutKind::holds(self, &typed, &live),
            _ => false,
        }
    }

    fn partly_cut(&self, cut: &Cut, live: &Value) -> bool {
        let name = CutKind::info(self).name;
        match (
            TypedCut::<K::State>::decode(cut),
            from_document::<K::State>(name, "live state", live),
        ) {
            (Ok(typed), Ok(live)) => CutKind::partly_cut(self, &typed, &live),
            _ => false,
        }
    }

    fn back_as_planned(&self, cut: &Cut, live: &Value) -> bool {
        let name = CutKind::info(self).name;
        match (
            TypedCut::<K::State>::decode(cut),
            from_document::<K::State>(name, "live state", live),
        ) {
            (Ok(typed), Ok(live)) => CutKind::back_as_planned(self, &typed, &live),
            _ => false,
        }
    }

    fn finishes_in_place(&self) -> bool {
        CutKind::finishes_in_place(self)
    }

    fn finishable(&self, cut: &Cut, live: &Value) -> Option<Vec<String>> {
        let name = CutKind::info(self).name;
        match (
            TypedCut::<K::State>::decode(cut),
            from_document::<K::State>(name, "live state", live),
        ) {
            (Ok(typed), Ok(live)) => CutKind::finishable(self, &typed, &live),
            _ => None,
        }
    }

    async fn finish(
        &self,
        ctx: &RegionCtx,
        cut: &Cut,
        live: &Value,
    ) -> Result<Value, ServiceError> {
        let name = CutKind::info(self).name;
        let typed = decode_cut::<K::State>(name, cut)?;
        let live = from_document::<K::State>(name, "live state", live)?;
        let undo = CutKind::finish(self, ctx, &typed, &live).await?;
        to_document(name, "undo record", &undo)
    }

    fn holds_as_written(&self, cut: &Cut, live: &Value, undo: &Value) -> bool {
        let name = CutKind::info(self).name;
        match (
            TypedCut::<K::State>::decode(cut),
            from_document::<K::State>(name, "live state", live),
            from_document::<K::Undo>(name, "undo record", undo),
        ) {
            (Ok(typed), Ok(live), Ok(undo)) => {
                CutKind::holds_as_written(self, &typed, &live, &undo)
            }
            _ => false,
        }
    }

    fn holding_is_complete(&self) -> bool {
        CutKind::holding_is_complete(self)
    }

    fn reads_back_late(&self) -> Option<std::time::Duration> {
        CutKind::reads_back_late(self)
    }

    fn undoes_independently(&self) -> bool {
        CutKind::undoes_independently(self)
    }

    fn cuts_after(&self) -> &'static [&'static str] {
        CutKind::cuts_after(self)
    }

    fn refused_until_later_phases(&self, err: &ServiceError) -> bool {
        CutKind::refused_until_later_phases(self, err)
    }

    fn reopened(&self, cut: &Cut, live: &Value) -> Option<Value> {
        let name = CutKind::info(self).name;
        let typed = TypedCut::<K::State>::decode(cut).ok()?;
        let live = from_document::<K::State>(name, "live state", live).ok()?;
        let from = CutKind::reopened(self, &typed, &live)?;
        // The re-cut is checked like any cut before it runs: a `before` the kind's own rules refuse
        // (an `after` that is not part of it) is no re-cut.
        let recut = TypedCut {
            before: from,
            ..typed
        };
        CutKind::check_states(self, &recut).ok()?;
        serde_json::to_value(&recut.before).ok()
    }

    fn vpcs(&self, cut: &Cut) -> Vec<String> {
        // A cut that does not decode never runs (the plan is refused), so it belongs to no VPC.
        TypedCut::<K::State>::decode(cut)
            .map(|typed| CutKind::vpcs(self, &typed.before))
            .unwrap_or_default()
    }

    fn spares_vpc(&self, cut: &Cut, vpc: &str) -> bool {
        TypedCut::<K::State>::decode(cut)
            .is_ok_and(|typed| CutKind::spares_vpc(self, &typed.after, vpc))
    }

    fn carries_calls_from_vpc(&self, cut: &Cut) -> Option<String> {
        TypedCut::<K::State>::decode(cut)
            .ok()
            .and_then(|typed| CutKind::carries_calls_from_vpc(self, &typed))
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError> {
        let name = CutKind::info(self).name;
        let undo: K::Undo = from_document(name, "undo record", undo)?;
        CutKind::undo(self, ctx, &undo).await
    }

    fn recorded(&self, undo: &Value) -> Option<String> {
        let name = CutKind::info(self).name;
        match from_document::<K::Undo>(name, "undo record", undo) {
            Ok(undo) => CutKind::recorded(self, &undo),
            // Said rather than hidden: an authenticated file whose record does not decode is news.
            Err(err) => Some(err.to_string()),
        }
    }

    async fn progress(
        &self,
        ctx: &RegionCtx,
        undo: &Value,
    ) -> Option<Result<String, ServiceError>> {
        let name = CutKind::info(self).name;
        match from_document::<K::Undo>(name, "undo record", undo) {
            Ok(undo) => CutKind::progress(self, ctx, &undo).await,
            Err(err) => Some(Err(err)),
        }
    }
}

fn decode_cut<S: DeserializeOwned>(kind: &str, cut: &Cut) -> Result<TypedCut<S>, ServiceError> {
    TypedCut::decode(cut).map_err(|problem| ServiceError::local(kind, problem))
}
