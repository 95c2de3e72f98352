//! Performing the cuts: each enabled cut, sealing kinds first, journaling an intent before every AWS call
//! and its completion after it. Only [`super::run`] calls this, after every gate has passed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use crate::aws::{AwsSession, RegionCtx};
use crate::engine::EngineError;
use crate::journal::{Entry, Journal, JournalContents};
use crate::plan::compare::same_state;
use crate::plan::{Cut, Plan};
use crate::report::{Event, Reporter};
use crate::services::{Containment, Phase, Registry, ServiceError};

/// The order apply walks: the evidence kinds (recording starts before anything is cut), organization-level
/// cuts, then sealing cuts, so the account is closed as early as possible, then the per-resource cuts,
/// each group in plan order. [`execute`] then hands each phase's cuts to its workers spread over their
/// buckets ([`schedule`]).
pub fn apply_order<'a>(plan: &'a Plan, registry: &Registry) -> Vec<&'a Cut> {
    let mut cuts: Vec<&Cut> = plan.cuts.iter().collect();
    cuts.sort_by_key(|cut| {
        registry
            .get(&cut.kind)
            .map(|k| k.info().phase)
            .unwrap_or(Phase::PerResource)
    });
    cuts
}

/// The order one phase's cuts are started in: spread over (region, kind), one of each in turn, each
/// region and kind's cuts in plan order ([`crate::pacing::spread_over_buckets`]). AWS throttles per
/// region and action, and a kind's cuts make the same calls, so in plan order (one region after the
/// other) every worker would wait on one region's bucket while the others' sit full. Cuts of one phase
/// run concurrently and depend on nothing in the same phase, so starting them in another order
/// changes no guarantee; the phases still run one after the other.
pub fn schedule<'a>(phase_cuts: &[&'a Cut]) -> Vec<&'a Cut> {
    crate::pacing::spread_over_buckets(phase_cuts.iter().copied(), |cut| {
        (cut.region.as_str(), cut.kind.as_str())
    })
}

/// How far an earlier, interrupted apply got with each cut, read back from its rollback file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Its completion is journaled: skip it.
    Done,
    /// Its intent is journaled but not its completion (a crash), or it failed: live state decides.
    Uncertain,
}

/// Reads an existing rollback file's progress, cut by cut. Restored cuts count as not started.
pub fn progress_from(contents: &JournalContents) -> HashMap<String, Progress> {
    let mut progress = HashMap::new();
    for record in &contents.records {
        match &record.entry {
            Entry::Intent { cut } => {
                progress.insert(cut.id.clone(), Progress::Uncertain);
            }
            Entry::Done { id, .. } => {
                progress.insert(id.clone(), Progress::Done);
            }
            Entry::Failed { id, .. } => {
                progress.insert(id.clone(), Progress::Uncertain);
            }
            Entry::Restored { id, .. } => {
                progress.remove(id);
            }
            Entry::Header { .. }
            | Entry::Skipped { .. }
            | Entry::RestoreIntent { .. }
            | Entry::RestoreFailed { .. } => {}
        }
    }
    progress
}

/// What to do with the cuts of a run, beyond the plan itself.
#[derive(Debug, Default)]
pub struct ApplyOptions<'a> {
    /// From an earlier run's rollback file, when resuming.
    pub progress: HashMap<String, Progress>,
    /// Stop at the first failed cut instead of going on with the others.
    pub fail_fast: bool,
    /// Set (by Ctrl-C) to stop after the call in flight.
    pub stop: Option<&'a AtomicBool>,
    /// How many cuts of one phase run at once (0 counts as 1).
    pub parallelism: usize,
}

#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub done: Vec<String>,
    /// Cuts an earlier run had already completed.
    pub already_done: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    /// Time from the start of apply until the last sealing cut completed, when there was one.
    pub sealed_after: Option<Duration>,
    pub elapsed: Duration,
    /// The run stopped early (Ctrl-C, --fail-fast, expired credentials); these cuts were not attempted.
    pub not_attempted: Vec<String>,
    /// The run stopped because the credentials expired and could not be refreshed.
    pub credentials_expired: bool,
}

/// Whether a cut whose earlier attempt is uncertain happened, judging by live state.
enum Recovery {
    NotApplied,
    Applied,
    Partial,
}

async fn recover(
    kind: &dyn Containment,
    ctx: &RegionCtx,
    cut: &Cut,
) -> Result<Recovery, ServiceError> {
    let live = kind.observe(ctx, cut).await?;
    Ok(if same_state(&cut.before, &live) {
        Recovery::NotApplied
    } else if same_state(&cut.after, &live) {
        Recovery::Applied
    } else {
        Recovery::Partial
    })
}

/// Undoes a half-done cut and reports whether the resource is back to the plan's `before`.
async fn rewind(kind: &dyn Containment, ctx: &RegionCtx, cut: &Cut) -> bool {
    let Ok(undo) = kind.undo_record_for(cut) else {
        return false;
    };
    if kind.undo(ctx, &undo).await.is_err() {
        return false;
    }
    matches!(kind.observe(ctx, cut).await, Ok(live) if same_state(&cut.before, &live))
}

/// What happened to one cut in this run.
enum CutResult {
    Done,
    AlreadyDone,
    Failed(String, bool),
    Skipped,
    NotAttempted,
}

/// Performs the plan's enabled cuts, phase by phase (sealing first), the cuts of one phase concurrently up
/// to `options.parallelism`, started spread over their buckets ([`schedule`]); the outcome lists them in
/// plan order. Every cut journals its intent before its AWS call and its outcome after; a
/// failed cut is recorded and the rest go on (unless `fail_fast`); a failed journal write stops the run.
/// When resuming, completed cuts are skipped and uncertain ones are checked against live state first.
pub async fn execute(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    journal: &mut Journal,
    options: &ApplyOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<ApplyOutcome, EngineError> {
    let started = Instant::now();
    let mut outcome = ApplyOutcome::default();
    let order = apply_order(plan, registry);
    let journal = Mutex::new(journal);
    // Set on a failure that should stop the run: --fail-fast, or credentials that no longer work.
    let halt = AtomicBool::new(false);
    let phase_of = |cut: &Cut| {
        registry
            .get(&cut.kind)
            .map(|k| k.info().phase)
            .unwrap_or(Phase::PerResource)
    };
    let mut journal_error = None;
    for phase in [
        Phase::Evidence,
        Phase::Organization,
        Phase::Seal,
        Phase::PerResource,
    ] {
        let cuts: Vec<&Cut> = order
            .iter()
            .copied()
            .filter(|c| phase_of(c) == phase)
            .collect();
        let results: Vec<(String, Result<CutResult, EngineError>)> = stream::iter(schedule(&cuts))
            .map(|cut| {
                let journal = &journal;
                let halt = &halt;
                async move {
                    let result =
                        run_cut(session, registry, cut, journal, halt, options, reporter).await;
                    (cut.id.clone(), result)
                }
            })
            .buffer_unordered(options.parallelism.max(1))
            .collect()
            .await;
        let mut by_id: HashMap<String, Result<CutResult, EngineError>> =
            results.into_iter().collect();
        for cut in &cuts {
            match by_id.remove(&cut.id) {
                Some(Ok(CutResult::Done)) => outcome.done.push(cut.id.clone()),
                Some(Ok(CutResult::AlreadyDone)) => outcome.already_done.push(cut.id.clone()),
                Some(Ok(CutResult::Failed(error, credentials))) => {
                    outcome.credentials_expired |= credentials;
                    outcome.failed.push((cut.id.clone(), error));
                }
                Some(Ok(CutResult::Skipped)) => outcome.skipped.push(cut.id.clone()),
                Some(Ok(CutResult::NotAttempted)) => outcome.not_attempted.push(cut.id.clone()),
                Some(Err(err)) => {
                    journal_error.get_or_insert(err);
                }
                None => {}
            }
        }
        if let Some(err) = journal_error {
            return Err(err);
        }
        if phase == Phase::Seal && cuts.iter().any(|c| c.enabled) {
            let elapsed = started.elapsed();
            reporter.event(&Event::Sealed { elapsed });
            outcome.sealed_after = Some(elapsed);
        }
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// One cut: skip, recover or perform it, journaling as it goes.
async fn run_cut(
    session: &AwsSession,
    registry: &Registry,
    cut: &Cut,
    journal: &Mutex<&mut Journal>,
    halt: &AtomicBool,
    options: &ApplyOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<CutResult, EngineError> {
    let append = |entry: Entry| -> Result<(), EngineError> {
        journal.lock().expect("journal lock").append(entry)?;
        Ok(())
    };
    let stopping =
        halt.load(Ordering::SeqCst) || options.stop.is_some_and(|stop| stop.load(Ordering::SeqCst));
    if !cut.enabled {
        let reason = "disabled in the plan (enabled: false)".to_string();
        append(Entry::Skipped {
            id: cut.id.clone(),
            reason: reason.clone(),
        })?;
        reporter.event(&Event::CutSkipped {
            id: cut.id.clone(),
            reason,
        });
        return Ok(CutResult::Skipped);
    }
    if stopping {
        return Ok(CutResult::NotAttempted);
    }
    let kind = registry
        .get(&cut.kind)
        .expect("validated plans hold only known kinds");
    let ctx = session.region(&cut.region);
    // A `done` entry is a claim about the account, not proof: the resource is looked at before the cut
    // is skipped. Cut: skipped. Back as before (reverted since, or the entry was never true): cut again.
    // Anything else: reported, not touched.
    if options.progress.get(&cut.id) == Some(&Progress::Done) {
        match recover(kind, &ctx, cut).await {
            Ok(Recovery::Applied) => {
                reporter.event(&Event::CutSkipped {
                    id: cut.id.clone(),
                    reason: "already cut by the earlier run".into(),
                });
                return Ok(CutResult::AlreadyDone);
            }
            Ok(Recovery::NotApplied) => reporter.event(&Event::Warning {
                message: format!(
                    "{}: the rollback file records it as cut, but the resource is back as the plan recorded it before the cut: cutting it again",
                    cut.id
                ),
            }),
            Ok(Recovery::Partial) | Err(_) => {
                let error = "the rollback file records this cut as done, but the resource is neither as planned nor as cut (changed since): it is not retried. Check it, and make a new plan".to_string();
                append(Entry::Failed {
                    id: cut.id.clone(),
                    error: error.clone(),
                })?;
                reporter.event(&Event::CutFailed {
                    id: cut.id.clone(),
                    error: error.clone(),
                });
                if options.fail_fast {
                    halt.store(true, Ordering::SeqCst);
                }
                return Ok(CutResult::Failed(error, false));
            }
        }
    }
    if options.progress.get(&cut.id) == Some(&Progress::Uncertain) {
        match recover(kind, &ctx, cut).await {
            Ok(Recovery::NotApplied) => {}
            Ok(Recovery::Applied) => {
                let undo = kind
                    .undo_record_for(cut)
                    .map_err(|err| EngineError::Refused {
                        message: crate::report::escape::visible(&err.to_string()).into_owned(),
                    })?;
                append(Entry::Done {
                    id: cut.id.clone(),
                    undo,
                })?;
                reporter.event(&Event::CutSkipped {
                    id: cut.id.clone(),
                    reason: "the earlier run's call went through; its completion is now recorded"
                        .into(),
                });
                return Ok(CutResult::AlreadyDone);
            }
            // Half-done (a kind that makes several calls per cut was stopped between them): put back what
            // the earlier run changed, and cut from the recorded `before` if that gives it back exactly.
            Ok(Recovery::Partial) if rewind(kind, &ctx, cut).await => {}
            Ok(Recovery::Partial) | Err(_) => {
                let error = "the earlier run left this resource neither as planned nor as cut (partly cut, or changed since): it is not retried. `hikkonuki restore` puts back what was removed; then make a new plan".to_string();
                append(Entry::Failed {
                    id: cut.id.clone(),
                    error: error.clone(),
                })?;
                reporter.event(&Event::CutFailed {
                    id: cut.id.clone(),
                    error: error.clone(),
                });
                if options.fail_fast {
                    halt.store(true, Ordering::SeqCst);
                }
                return Ok(CutResult::Failed(error, false));
            }
        }
    }
    append(Entry::Intent { cut: cut.clone() })?;
    reporter.event(&Event::CutStarted { id: cut.id.clone() });
    let cut_started = Instant::now();
    match kind.apply(&ctx, cut).await {
        Ok(undo) => {
            append(Entry::Done {
                id: cut.id.clone(),
                undo,
            })?;
            reporter.event(&Event::CutDone {
                id: cut.id.clone(),
                elapsed: cut_started.elapsed(),
            });
            Ok(CutResult::Done)
        }
        Err(err) => {
            append(Entry::Failed {
                id: cut.id.clone(),
                error: err.to_string(),
            })?;
            reporter.event(&Event::CutFailed {
                id: cut.id.clone(),
                error: err.to_string(),
            });
            // Every later call would fail the same way when the credentials are gone.
            let credentials = err.is_credentials_problem();
            if options.fail_fast || credentials {
                halt.store(true, Ordering::SeqCst);
            }
            Ok(CutResult::Failed(err.to_string(), credentials))
        }
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod schedule_tests;
