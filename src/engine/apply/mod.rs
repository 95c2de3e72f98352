//! Apply: the safety sequence from a plan file to the cuts. [`run`] is the only way in, and walks every
//! gate in this order:
//!
//! 1. read the plan once, validate it, and hash exactly the bytes parsed;
//! 2. take the rollback file's lock, and decide whether this run resumes an earlier one (only a rollback
//!    file written for this account and these plan bytes can be resumed);
//! 3. check that the credentials belong to the plan's account;
//! 4. take only the cuts the operator selected (`--kinds`, `--exclude-kinds`, `--target`), then observe
//!    every enabled cut not started earlier and refuse the plan if any resource drifted, or, with
//!    `--skip-drifted`, leave those cuts out; a cut whose effect is not what the kind derives from the
//!    live account is refused either way;
//! 5. show the operator the plan and what was left out; stop when nothing is enabled;
//! 6. refuse enabled irreversible cuts unless allowed;
//! 7. ask the operator;
//! 8. write the journal header (or reopen the journal), then cut ([`execute`]).
//!
//! [`check`] is `apply --check`: steps 1, 3 and 4 plus a dry run of each cut where the API has one.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

mod derive;
mod drift;
mod execute;
pub(crate) mod own_path;

pub use crate::journal::{default_rollback_dir, default_rollback_path};
pub use derive::{Underived, check_live};
pub use drift::{Drift, DriftCheck, check_drift, check_permissions};
#[cfg(test)]
pub(crate) use execute::progress_of;
pub use execute::{ApplyOptions, ApplyOutcome, Progress, apply_order, execute, progress_from};

use super::{EngineError, Operator, Parallelism, verify_account, warn_if_shared};
use crate::aws::{AwsSession, CallerIdentity};
use crate::journal::keys::KeyStore;
use crate::journal::lock::RollbackFile;
use crate::journal::{self, Entry, Journal, JournalContents};
use crate::plan::select::Selection;
use crate::plan::{self, Plan};
use crate::report::{Event, Reporter};
use crate::services::{PermissionCheck, Phase, Registry};

/// What the operator asked apply to do.
#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    /// The plan file, as written by `hikkonuki plan`.
    pub plan: PathBuf,
    /// Where to journal; `None` for the default beside the plan ([`default_rollback_path`]).
    pub rollback: Option<PathBuf>,
    /// Perform enabled cuts that restore cannot undo.
    pub allow_irreversible: bool,
    /// Stop at the first failed cut.
    pub fail_fast: bool,
    /// How many cuts (and drift observations) at once: resolved over the plan's regions.
    pub parallelism: Parallelism,
    /// Where the rollback file's authentication key is made (and, when resuming, found).
    pub keys: KeyStore,
    /// The plan's cuts to take; the default takes them all. Never switches on a disabled cut.
    pub selection: Selection,
    /// Leave out drifted (or unverifiable) cuts and apply the rest, instead of refusing the plan.
    pub skip_drifted: bool,
    /// A plan over several accounts: leave out the accounts that cannot be entered (each reported as
    /// stopped, nothing there cut) and apply the rest, instead of refusing the plan.
    pub skip_unreachable_accounts: bool,
}

/// An enabled cut of the plan that this run leaves out, and why.
#[derive(Debug)]
pub struct LeftOut {
    pub id: String,
    pub because: LeftOutBecause,
}

impl LeftOut {
    /// Not taken by the selection flags: not this run's cut at all, so it is counted, never listed one
    /// by one (that would list the plan again); the others stay open for a reason of their own.
    pub fn not_selected(&self) -> bool {
        matches!(self.because, LeftOutBecause::NotSelected(_))
    }
}

#[derive(Debug)]
pub enum LeftOutBecause {
    /// Not among the cuts selected by these flags.
    NotSelected(Vec<String>),
    /// `--skip-drifted`: its resource no longer looks as the plan recorded.
    Drifted(Drift),
    /// `--skip-drifted`: its resource could not be read, so the plan cannot be proven current for it.
    Unverifiable(String),
    /// Apply itself leaves it out, whatever the plan says: it would cut the applier's own access, or its
    /// kind refuses it (restore could not give back what it takes); why, in words.
    Protected(String),
}

impl LeftOutBecause {
    /// One line, for the journal of events and the operator.
    pub fn describe(&self) -> String {
        match self {
            LeftOutBecause::NotSelected(flags) if flags.is_empty() => "not selected".into(),
            LeftOutBecause::NotSelected(flags) => format!("not selected by {}", flags.join(" ")),
            LeftOutBecause::Drifted(_) => {
                "drifted: its resource changed since the plan (--skip-drifted)".into()
            }
            LeftOutBecause::Unverifiable(err) => {
                format!("could not be verified (--skip-drifted): {err}")
            }
            LeftOutBecause::Protected(why) => format!("left out by apply: {why}"),
        }
    }
}

/// What the operator is asked to confirm, once every gate has passed.
#[derive(Debug)]
pub struct ApplyConfirmation<'a> {
    pub plan: &'a Plan,
    /// Enabled irreversible cuts the operator allowed (`--allow-irreversible`).
    pub irreversible: Vec<&'a str>,
    /// When resuming: the rollback file, and how many cuts the earlier run had started.
    pub resuming: Option<(&'a Path, usize)>,
    /// For a plan over several accounts: the organization, whose ID the operator types, and `plan` is the
    /// whole plan.
    pub organization: Option<&'a str>,
}

/// How a run ended when no gate refused it.
#[derive(Debug)]
pub enum ApplyRun {
    /// Every cut is disabled or left out, or the plan has none: nothing was asked, nothing journaled.
    NothingToApply { plan: Plan, left_out: Vec<LeftOut> },
    Applied {
        plan: Plan,
        rollback: PathBuf,
        outcome: ApplyOutcome,
        /// Enabled cuts of the plan this run did not take (selection, `--skip-drifted`).
        left_out: Vec<LeftOut>,
    },
    /// A plan over several accounts: each account cut with its own rollback file in `rollback_dir`.
    AppliedAccounts {
        plan: Plan,
        rollback_dir: PathBuf,
        accounts: Vec<AccountApplied>,
    },
}

/// How one account of a plan over several accounts went. One account's failure never stops another.
#[derive(Debug)]
pub struct AccountApplied {
    pub account: String,
    pub rollback: PathBuf,
    pub result: Result<ApplyOutcome, EngineError>,
    pub left_out: Vec<LeftOut>,
}

/// `<dir>/<account>.rollback.yaml`.
pub fn account_rollback_path(dir: &Path, account: &str) -> PathBuf {
    dir.join(format!("{account}.rollback.yaml"))
}

/// Walks the whole sequence (see the module documentation). `stop` is checked between cuts (Ctrl-C). A
/// plan over several accounts goes through [`crate::engine::organization::apply`], which walks the same
/// gates for every account before any cut.
pub async fn run(
    session: &AwsSession,
    registry: &Registry,
    request: &ApplyRequest,
    operator: &dyn Operator,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<ApplyRun, EngineError> {
    let (plan, plan_sha256) = plan::file::read_with_digest(&request.plan, registry)?;
    warn_if_shared(&request.plan, reporter);
    if plan.is_multi_account() {
        return crate::engine::organization::apply(
            session,
            registry,
            request,
            plan,
            plan_sha256,
            operator,
            stop,
            reporter,
        )
        .await;
    }
    let rollback_path = request
        .rollback
        .clone()
        .unwrap_or_else(|| default_rollback_path(&request.plan));
    let prepared = prepare(
        session,
        registry,
        request,
        plan,
        &plan_sha256,
        rollback_path,
        reporter,
    )
    .await?;

    operator.review_apply(&prepared.plan, &prepared.left_out);
    if prepared.plan.enabled_cuts().next().is_none() {
        return Ok(ApplyRun::NothingToApply {
            plan: prepared.plan,
            left_out: prepared.left_out,
        });
    }
    let irreversible = irreversible_ids(&prepared.plan);
    if !irreversible.is_empty() && !request.allow_irreversible {
        return Err(EngineError::Irreversible {
            plan: request.plan.clone(),
            ids: irreversible,
        });
    }
    operator
        .confirm_apply(&ApplyConfirmation {
            plan: &prepared.plan,
            irreversible: irreversible.iter().map(String::as_str).collect(),
            resuming: prepared
                .resuming()
                .then_some((prepared.rollback_path.as_path(), prepared.progress.len())),
            organization: None,
        })
        .map_err(EngineError::Declined)?;
    reporter.event(&started("apply", false, prepared.remaining_kinds()));
    let (plan, rollback, outcome, left_out) =
        perform(session, registry, request, prepared, stop, reporter).await?;
    Ok(ApplyRun::Applied {
        plan,
        rollback,
        outcome,
        left_out,
    })
}

/// One account's apply with every gate before the operator's review passed: the rollback file locked
/// (and, when resuming, read), the account checked, the plan narrowed to the cuts this run takes.
pub struct Prepared {
    /// The account's plan as this run performs it: selected, the applier's own access left out, drifted
    /// cuts removed under `--skip-drifted`.
    pub plan: Plan,
    pub left_out: Vec<LeftOut>,
    pub rollback_path: PathBuf,
    rollback: RollbackFile,
    progress: HashMap<String, Progress>,
    contents: Option<JournalContents>,
    caller: CallerIdentity,
    plan_sha256: String,
    /// `request.parallelism` over the regions of the plan's cuts.
    parallelism: usize,
    /// Sealing cuts the run leaves out for a reason of its own ([`ApplyOptions::seal_left_out`]).
    seal_left_out: usize,
}

impl Prepared {
    /// Whether an earlier run's rollback file is being resumed.
    pub fn resuming(&self) -> bool {
        self.contents.is_some()
    }

    /// How many cuts the earlier run had started, when resuming.
    pub fn started_before(&self) -> usize {
        self.progress.len()
    }

    /// The kinds of the enabled cuts not completed by an earlier run, one entry per cut.
    pub fn remaining_kinds(&self) -> impl Iterator<Item = &str> {
        self.plan
            .cuts
            .iter()
            .filter(|cut| execute::still_to_cut(cut, &self.progress))
            .map(|cut| cut.kind.as_str())
    }
}

/// The enabled cuts restore cannot undo.
pub fn irreversible_ids(plan: &Plan) -> Vec<String> {
    plan.enabled_cuts()
        .filter(|cut| !cut.reversible)
        .map(|cut| cut.id.clone())
        .collect()
}

/// Gates 2 to 4 for one account's plan (read and hashed by the caller): lock the rollback file, decide
/// whether to resume, check the account, select, and refuse drift or an edited plan.
pub async fn prepare(
    session: &AwsSession,
    registry: &Registry,
    request: &ApplyRequest,
    plan: Plan,
    plan_sha256: &str,
    rollback_path: PathBuf,
    reporter: &dyn Reporter,
) -> Result<Prepared, EngineError> {
    let rollback = RollbackFile::open_or_create(&rollback_path)?;
    // An empty file too: one another user put there first (in a shared directory) would receive the
    // account's way back.
    rollback.check_owner(false)?;
    warn_if_shared(&rollback_path, reporter);
    let (progress, contents) = if rollback.is_empty() {
        (HashMap::new(), None)
    } else {
        match resumable_progress(&rollback, &request.keys, &plan, plan_sha256)? {
            Some((progress, contents)) => (progress, Some(contents)),
            None => {
                reporter.event(&Event::Warning {
                    message: format!(
                        "{}: an earlier apply was stopped before it recorded anything in this rollback file, so it cut nothing: the file is started afresh",
                        rollback_path.display()
                    ),
                });
                (HashMap::new(), None)
            }
        }
    };
    let caller = verify_account(session, &plan.account, "plan").await?;
    reporter.account(&caller.account);
    warn_unmatched(&plan, &request.selection, registry, reporter);
    let sealing: HashSet<String> = plan
        .enabled_cuts()
        .filter(|cut| {
            registry
                .get(&cut.kind)
                .is_some_and(|kind| kind.info().phase == Phase::Seal)
        })
        .map(|cut| cut.id.clone())
        .collect();
    // Selected first: only the cuts this run takes are asked about the applier's access (live reads).
    let (plan, mut left_out) = select(plan, &request.selection, registry);
    let (plan, mut protected) =
        protect_applying_principal(plan, session, registry, &caller, reporter).await;
    left_out.append(&mut protected);
    let parallelism = request.parallelism.over_regions_of(plan.enabled_cuts());

    let (drift, underived) = check_live(session, registry, &plan, &progress, parallelism).await;
    if !drift.is_clean() && !request.skip_drifted {
        return Err(EngineError::Drift {
            plan: request.plan.clone(),
            drift,
        });
    }
    // Drifted cuts aside (check_live leaves them out), any cut whose effect is not what its kind
    // derives is an edited plan: refused whatever the flags.
    if !underived.is_empty() {
        return Err(EngineError::Underived {
            plan: request.plan.clone(),
            underived,
        });
    }
    let plan = leave_out_drifted(plan, drift, &mut left_out);
    // Not the cuts the flags did not select: the operator chose to leave those for now.
    let seal_left_out = left_out
        .iter()
        .filter(|item| !item.not_selected() && sealing.contains(&item.id))
        .count();
    Ok(Prepared {
        plan,
        left_out,
        rollback_path,
        rollback,
        progress,
        contents,
        caller,
        plan_sha256: plan_sha256.to_string(),
        parallelism,
        seal_left_out,
    })
}

/// Gate 8, once the operator has confirmed: write the journal header (or reopen the journal), then cut.
pub async fn perform(
    session: &AwsSession,
    registry: &Registry,
    request: &ApplyRequest,
    prepared: Prepared,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<(Plan, PathBuf, ApplyOutcome, Vec<LeftOut>), EngineError> {
    let Prepared {
        plan,
        left_out,
        rollback_path,
        rollback,
        progress,
        contents,
        caller,
        plan_sha256,
        parallelism,
        seal_left_out,
    } = prepared;
    report_left_out(&left_out, reporter);
    let mut journal = match contents {
        Some(contents) => Journal::reopen(rollback, &contents)?,
        None => Journal::create(
            rollback,
            Entry::Header {
                format: journal::FORMAT_VERSION,
                account: plan.account.clone(),
                caller: caller.arn.clone(),
                plan: request.plan.display().to_string(),
                plan_sha256,
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                key: None,
                // Restore enters the account again the way apply did: recorded for every account of
                // a run over an organization (the operator's own is entered with its own session).
                member_role: plan
                    .organization
                    .as_ref()
                    .map(|_| plan.member_role().to_string()),
            },
            &request.keys,
        )?,
    };
    let options = ApplyOptions {
        seal_left_out,
        progress,
        fail_fast: request.fail_fast,
        stop,
        parallelism,
    };
    let outcome = execute(session, registry, &plan, &mut journal, &options, reporter).await?;
    Ok((plan, rollback_path, outcome, left_out))
}

/// A `cut-skipped` event for each enabled cut this run leaves out for a reason of its own (drifted,
/// unverifiable, the applier's own access), once the run has started: those stay open, each said. Cuts
/// the flags did not select are not this run's; the summary counts them (`not_selected`), one event
/// each would list the plan again.
pub fn report_left_out(left_out: &[LeftOut], reporter: &dyn Reporter) {
    for item in left_out {
        if !item.not_selected() {
            reporter.event(&Event::CutSkipped {
                id: item.id.clone(),
                reason: item.because.describe(),
                in_total: false,
            });
        }
    }
}

/// The event that opens the changes: how many this run works through, per kind.
pub(crate) fn started<'k>(
    command: &str,
    dry_run: bool,
    kinds: impl Iterator<Item = &'k str>,
) -> Event {
    let mut by_kind = std::collections::BTreeMap::new();
    for kind in kinds {
        *by_kind.entry(kind.to_string()).or_insert(0) += 1;
    }
    Event::Started {
        command: command.into(),
        total: by_kind.values().sum(),
        by_kind,
        dry_run,
    }
}

/// Warns of each `--kinds` kind, `--target` or `--vpc` that takes none of the plan's enabled cuts: a
/// typo, or a plan made without that kind, would otherwise read as a plan with nothing left to cut.
fn warn_unmatched(
    plan: &Plan,
    selection: &Selection,
    registry: &Registry,
    reporter: &dyn Reporter,
) {
    for kind in selection.kinds_without(plan.enabled_cuts()) {
        reporter.event(&Event::Warning {
            message: format!(
                "--kinds {kind} matches no enabled cut of the plan: it has no cut of that kind switched on (none was proposed, or each is `enabled: false`)"
            ),
        });
    }
    for flag in selection.unmatched(plan.enabled_cuts(), registry) {
        reporter.event(&Event::Warning {
            message: format!(
                "{flag} matches no enabled cut of the plan (in the kinds selected): check the ID or pattern"
            ),
        });
    }
}

/// The plan with only the selected cuts; the enabled ones left out are listed. A cut left out is not in
/// the plan this run performs at all, so it is neither observed nor journaled.
pub(crate) fn select(
    mut plan: Plan,
    selection: &Selection,
    registry: &Registry,
) -> (Plan, Vec<LeftOut>) {
    let mut left_out = Vec::new();
    plan.cuts.retain(|cut| {
        let taken = selection.takes(cut, registry);
        if !taken && cut.enabled {
            left_out.push(LeftOut {
                id: cut.id.clone(),
                because: LeftOutBecause::NotSelected(selection.flags()),
            });
        }
        taken
    });
    (plan, left_out)
}

/// `--skip-drifted`: the plan without the cuts whose resource drifted or could not be read.
fn leave_out_drifted(mut plan: Plan, drift: DriftCheck, left_out: &mut Vec<LeftOut>) -> Plan {
    let mut out: Vec<LeftOut> = drift
        .drifted
        .into_iter()
        .map(|d| LeftOut {
            id: d.id.clone(),
            because: LeftOutBecause::Drifted(d),
        })
        .chain(drift.unverifiable.into_iter().map(|(id, err)| LeftOut {
            id,
            because: LeftOutBecause::Unverifiable(err.to_string()),
        }))
        .collect();
    let out_ids: HashSet<&str> = out.iter().map(|item| item.id.as_str()).collect();
    plan.cuts.retain(|cut| !out_ids.contains(cut.id.as_str()));
    left_out.append(&mut out);
    plan
}

/// Apply runs as whoever holds the credentials now, and where the operator is now, which may not be who
/// or where the plan was made (another responder, another role, another machine). Discovery left out
/// the planner's own access; this leaves out the applier's: each cut
/// that would take away the applying principal's credentials, sessions or role, or a role its session
/// may have come through (read live, [`crate::services::Containment::cuts_off_live`]), is taken out of
/// the run, with the reason, before the plan is shown, so it is never performed and the operator sees
/// why. So is each cut its kind refuses whoever applies ([`crate::services::Containment::refuses`]): one
/// restore could not give back.
async fn protect_applying_principal(
    mut plan: Plan,
    session: &AwsSession,
    registry: &Registry,
    caller: &CallerIdentity,
    reporter: &dyn Reporter,
) -> (Plan, Vec<LeftOut>) {
    let mut left_out: Vec<(String, String)> = Vec::new();
    for cut in plan.cuts.iter().filter(|cut| cut.enabled) {
        // Before anything is journaled: a refused cut's intent would have restore undo it, and its undo
        // could take what the cut never touched.
        if let Some(why) = registry
            .get(&cut.kind)
            .and_then(|kind| kind.leaves_out(cut, caller))
        {
            left_out.push((cut.id.clone(), why));
        }
    }
    if caller.arn != plan.caller {
        reporter.event(&Event::Warning {
            message: format!(
                "apply runs as {}, but the plan was made by {}: cuts of {}'s own access are left out",
                caller.arn, plan.caller, caller.arn
            ),
        });
    }
    left_out.extend(cut_off_live(&plan, session, registry, caller).await);
    // Where apply runs now, and the proxy its calls go through: inside the VPCs it seals, the run
    // would lose AWS midway.
    let regions = crate::runner::regions_judged(plan.enabled_cuts());
    for located in crate::runner::path_for(&plan.account, session, &regions).await {
        match located {
            Ok(runner) => {
                left_out.extend(own_path::on_runners_path(&plan, registry, &runner));
                // Said only where the plan seals in the machine's region: elsewhere no cut can
                // close it.
                let seals_there = plan.enabled_cuts().any(|cut| {
                    registry
                        .get(&cut.kind)
                        .is_some_and(|kind| own_path::seals_in_runners_region(kind, cut, &runner))
                });
                if let Some(message) =
                    crate::runner::unknown_way_out_warning(&runner).filter(|_| seals_there)
                {
                    reporter.event(&Event::Warning { message });
                }
            }
            Err(what) => reporter.event(&Event::Warning {
                message: crate::runner::unknown_location_warning(&what),
            }),
        }
    }
    // Taken out of the run, as unselected cuts are: the review lists each with why, and the journal
    // records nothing of them (a skip would say "disabled in the plan", which it was not).
    // Sets, not scans: a kind that cannot tell leaves out all its cuts, and a plan over an organization
    // holds tens of thousands; a scan of the plan for each would be quadratic.
    let enabled: HashSet<&str> = plan
        .cuts
        .iter()
        .filter(|cut| cut.enabled)
        .map(|cut| cut.id.as_str())
        .collect();
    let mut protected_ids: HashSet<String> = HashSet::new();
    let mut protected: Vec<LeftOut> = Vec::new();
    for (id, why) in left_out {
        if !enabled.contains(id.as_str()) || !protected_ids.insert(id.clone()) {
            continue;
        }
        reporter.event(&Event::Warning {
            message: format!("{id} is left out: {why}"),
        });
        protected.push(LeftOut {
            id,
            because: LeftOutBecause::Protected(why),
        });
    }
    plan.cuts.retain(|cut| !protected_ids.contains(&cut.id));
    (plan, protected)
}

/// The enabled cuts that only a live read shows would cut the applier off, each with why; a kind that
/// cannot tell has all its cuts left out, saying so.
async fn cut_off_live(
    plan: &Plan,
    session: &AwsSession,
    registry: &Registry,
    caller: &CallerIdentity,
) -> Vec<(String, String)> {
    // Each kind's read in each region stands alone: they go at once, so a slow one (a resolver that
    // does not answer, a denied read's retries) holds up none of the others before the first cut; the
    // answers keep the batches' order.
    let reads = fresh_batches(plan, &HashMap::new()).into_iter().filter_map(
        |((region, kind_name), cuts)| {
            let kind = registry.get(&kind_name)?;
            Some(async move {
                let ctx = session.region(&region);
                cut_off_live_among(kind, &ctx, &cuts, caller, "who is applying").await
            })
        },
    );
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Among `cuts` (one kind's, in `ctx`'s region), those a live read shows would cut off `caller`
/// ([`crate::services::Containment::cuts_off_live`]), each with why; all of them when the read fails,
/// since it cannot tell which are safe. `who` says what `caller` is doing (`who is applying`). Apply
/// asks it of its cuts, and `watch --recut` of each re-cut.
pub(crate) async fn cut_off_live_among(
    kind: &dyn crate::services::Containment,
    ctx: &crate::aws::RegionCtx,
    cuts: &[&plan::Cut],
    caller: &CallerIdentity,
    who: &str,
) -> Vec<(String, String)> {
    match kind.cuts_off_live(ctx, cuts, caller).await {
        Ok(found) => found,
        Err(err) => cuts
            .iter()
            .map(|cut| {
                (
                    cut.id.clone(),
                    format!(
                        "whether it would cut the access of {}, {who}, could not be read ({err})",
                        caller.arn
                    ),
                )
            })
            .collect(),
    }
}

/// What a resumed apply takes from its rollback file: how far the earlier run got with each cut, and the
/// file as read.
type Resumed = (HashMap<String, Progress>, JournalContents);

/// An existing rollback file may be resumed only by the run that wrote it: same account, same plan bytes.
/// `None` for a file that records nothing (an apply stopped while creating it), which is started afresh.
fn resumable_progress(
    rollback: &RollbackFile,
    keys: &KeyStore,
    plan: &Plan,
    plan_sha256: &str,
) -> Result<Option<Resumed>, EngineError> {
    let not_resumable = |why: String| EngineError::NotResumable {
        rollback: rollback.path().to_path_buf(),
        why,
    };
    // Never with `force`: a file apply did not write (or that was edited) must not decide what is skipped.
    let (contents, _) = match journal::read(rollback, keys, false) {
        Ok(read) => read,
        Err(journal::JournalError::NothingRecorded { .. }) => return Ok(None),
        Err(err) => return Err(not_resumable(format!("it cannot be resumed: {err}"))),
    };
    match contents.header() {
        Some(Entry::Header {
            account,
            plan_sha256: recorded,
            ..
        }) if account == &plan.account && recorded == plan_sha256 => {
            Ok(Some((progress_from(&contents), contents)))
        }
        _ => Err(not_resumable(
            "it was written for another plan, or for this plan before it was edited".into(),
        )),
    }
}

/// What `apply --check` found. Nothing was changed and no rollback file written.
#[derive(Debug)]
pub struct CheckReport {
    pub plan: Plan,
    pub drift: DriftCheck,
    /// Cuts whose effect is not what their kind derives from the live account (an edited plan), drifted
    /// ones aside: apply refuses the plan over them.
    pub underived: Vec<Underived>,
    pub permissions: Vec<(String, PermissionCheck)>,
}

impl CheckReport {
    /// What would stop apply: drifted or unverifiable cuts (unless `skip_drifted`, with which apply
    /// leaves them out, and their permissions do not matter), edited cuts, denied permissions and failed
    /// checks.
    pub fn problems(&self, skip_drifted: bool) -> usize {
        let drifted: HashSet<&str> = self.drift.ids().collect();
        let left_out = |id: &str| skip_drifted && drifted.contains(id);
        (if skip_drifted { 0 } else { drifted.len() })
            + self.underived.len()
            + self
                .permissions
                .iter()
                .filter(|(id, check)| {
                    !left_out(id)
                        && matches!(
                            check,
                            PermissionCheck::Denied(_) | PermissionCheck::Failed(_)
                        )
                })
                .count()
    }
}

/// `apply --check`: everything apply verifies before cutting, plus a dry run of each cut where the API has
/// one. Never changes the account, never writes a rollback file.
pub async fn check(
    session: &AwsSession,
    registry: &Registry,
    plan_path: &Path,
    selection: &Selection,
    parallelism: Parallelism,
    reporter: &dyn Reporter,
) -> Result<CheckReport, EngineError> {
    let whole = plan::file::read(plan_path, registry)?;
    warn_if_shared(plan_path, reporter);
    if whole.is_multi_account() {
        return crate::engine::organization::check(
            session,
            registry,
            whole,
            selection,
            parallelism.over(1),
            reporter,
        )
        .await;
    }
    warn_unmatched(&whole, selection, registry, reporter);
    let (plan, _) = select(whole, selection, registry);
    let parallelism = parallelism.over_regions_of(plan.enabled_cuts());
    verify_account(session, &plan.account, "plan").await?;
    reporter.event(&started(
        "apply --check",
        true,
        plan.enabled_cuts().map(|cut| cut.kind.as_str()),
    ));
    let (drift, underived) =
        check_live(session, registry, &plan, &HashMap::new(), parallelism).await;
    let permissions = check_permissions(session, registry, &plan, parallelism).await;
    Ok(CheckReport {
        plan,
        drift,
        underived,
        permissions,
    })
}

/// The plan's enabled cuts that no earlier run started (those are no longer in their `before` state and
/// are checked as they are resumed), one batch per (region, kind) in plan order: so the drift check and
/// the derivation check can let each kind read its resources with region-wide describes.
fn fresh_batches<'p>(
    plan: &'p Plan,
    resumed: &HashMap<String, Progress>,
) -> Vec<((String, String), Vec<&'p plan::Cut>)> {
    let mut batches: Vec<((String, String), Vec<&plan::Cut>)> = Vec::new();
    for cut in plan
        .enabled_cuts()
        .filter(|cut| !resumed.contains_key(&cut.id))
    {
        let key = (cut.region.clone(), cut.kind.clone());
        match batches.iter_mut().find(|(k, _)| *k == key) {
            Some((_, cuts)) => cuts.push(cut),
            None => batches.push((key, vec![cut])),
        }
    }
    batches
}

#[cfg(test)]
pub(crate) mod tests;
