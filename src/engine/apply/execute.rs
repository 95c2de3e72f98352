//! Performing the cuts: each enabled cut, sealing kinds first, journaling an intent before every AWS call
//! and its completion after it. Only [`super::run`] calls this, after every gate has passed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::{self, FutureExt};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::aws::{AwsSession, RegionCtx};
use crate::engine::EngineError;
use crate::journal::{Entry, Journal, JournalContents};
use crate::pacing::WidthShare;
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

/// A phase's cuts, in [`start_order`], as one lane per kind (in the order the kinds first come), the
/// lanes side by side, each starting up to the run's width of its cuts; the cuts of every lane share
/// the width ([`WidthShare`]), and a cut whose call waits for its bucket's token gives its place back
/// meanwhile. A kind's calls draw on the same buckets (per region and action), so a kind behind a slow
/// one (API Gateway's `CreateDeployment`, one every 5 s in the account; `ModifyVpcEndpoint`, one every
/// 3.3 s) waits in its own lane, and the others' cuts, whose buckets are full, go on: in one list, its
/// cuts would hold every place while they wait, and a dozen APIs would hold back the security groups'
/// revokes for a minute. Only the calls out at AWS count against the width; how many cuts are started
/// is bounded by the kinds times the width, whatever the account's size. At a width of one, the whole
/// phase is one lane: one cut after the other, in start order.
pub fn lanes(in_turn: Vec<(&Cut, Turn)>, parallelism: usize) -> Vec<Vec<(&Cut, Turn)>> {
    if parallelism <= 1 {
        return vec![in_turn];
    }
    crate::pacing::grouped_in_order(in_turn, |(cut, _)| cut.kind.as_str())
}

/// Where a cut stands among its phase's cuts that wait for others ([`Containment::cuts_after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Turn {
    /// A cut of a kind another kind of the phase waits for.
    BeforeOthers,
    /// Starts only once every [`Turn::BeforeOthers`] cut of the phase has been answered.
    AfterOthers,
    /// Waits for nothing, and nothing waits for it.
    Free,
}

/// The order one phase's cuts start in ([`schedule`]'s), except that the cuts other kinds wait for come
/// first and the waiting ones right after them, so they wait no longer than they must and, one cut at a
/// time (`--parallelism 1`), never wait at all. Also how many cuts of each kind waited for there are.
pub fn start_order<'a>(
    phase_cuts: &[&'a Cut],
    registry: &Registry,
) -> (Vec<(&'a Cut, Turn)>, HashMap<&'static str, u32>) {
    let present: std::collections::HashSet<&str> =
        phase_cuts.iter().map(|c| c.kind.as_str()).collect();
    let waits_for = |cut: &Cut| {
        waited_for(registry, cut)
            .iter()
            .copied()
            .filter(|earlier| present.contains(earlier))
    };
    let mut earlier: HashMap<&'static str, u32> = phase_cuts
        .iter()
        .flat_map(|c| waits_for(c))
        .map(|kind| (kind, 0))
        .collect();
    let mut in_turn: Vec<(&Cut, Turn)> = schedule(phase_cuts)
        .into_iter()
        .map(|cut| {
            let turn = if let Some(count) = earlier.get_mut(cut.kind.as_str()) {
                *count += 1;
                Turn::BeforeOthers
            } else if waits_for(cut).next().is_some() {
                Turn::AfterOthers
            } else {
                Turn::Free
            };
            (cut, turn)
        })
        .collect();
    // Stable: each group keeps schedule's order.
    in_turn.sort_by_key(|(_, turn)| *turn);
    (in_turn, earlier)
}

/// For each kind other kinds of a phase wait for, how many cuts of it the phase has and one permit per
/// cut of it answered ([`start_order`]).
struct AnsweredGates<'r> {
    registry: &'r Registry,
    cuts_of: HashMap<&'static str, u32>,
    answered_of: HashMap<&'static str, tokio::sync::Semaphore>,
}

impl<'r> AnsweredGates<'r> {
    fn new(registry: &'r Registry, cuts_of: HashMap<&'static str, u32>) -> AnsweredGates<'r> {
        let answered_of = cuts_of
            .keys()
            .map(|kind| (*kind, tokio::sync::Semaphore::new(0)))
            .collect();
        AnsweredGates {
            registry,
            cuts_of,
            answered_of,
        }
    }

    /// Returns once every cut of the phase that `cut`'s kind waits for has been answered. Those cuts
    /// all start before it ([`start_order`]), so the permits come.
    async fn all_answered_before(&self, cut: &Cut) {
        for kind in waited_for(self.registry, cut).iter().copied() {
            if let (Some(gate), Some(&count)) = (self.answered_of.get(kind), self.cuts_of.get(kind))
            {
                // Given back at once: every other cut waiting for this kind needs the same permits.
                let _all_answered = gate.acquire_many(count).await;
            }
        }
    }

    fn answered(&self, cut: &Cut) {
        if let Some(gate) = self.answered_of.get(cut.kind.as_str()) {
            gate.add_permits(1);
        }
    }
}

/// The kinds a cut's kind cuts after ([`Containment::cuts_after`]).
fn waited_for(registry: &Registry, cut: &Cut) -> &'static [&'static str] {
    registry
        .get(&cut.kind)
        .map(|k| k.cuts_after())
        .unwrap_or_default()
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
    progress_of(&contents.records)
}

/// [`progress_from`] over the entries themselves.
pub(crate) fn progress_of(records: &[crate::journal::Record]) -> HashMap<String, Progress> {
    let mut progress = HashMap::new();
    // Each cut's progress before its latest intent, which a refusal of that attempt leaves as it was.
    let mut before_intent: HashMap<String, Option<Progress>> = HashMap::new();
    for record in records {
        match &record.entry {
            Entry::Intent { cut } => {
                let before = progress.insert(cut.id.clone(), Progress::Uncertain);
                before_intent.insert(cut.id.clone(), before);
            }
            Entry::Done { id, .. } => {
                progress.insert(id.clone(), Progress::Done);
                before_intent.remove(id);
            }
            // An attempt AWS refused outright changed nothing: the cut is where it was before that
            // attempt's intent (not begun, or done by an earlier attempt).
            Entry::Failed {
                id,
                changed_nothing: true,
                ..
            } => match before_intent.remove(id) {
                Some(Some(before)) => {
                    progress.insert(id.clone(), before);
                }
                Some(None) => {
                    progress.remove(id);
                }
                None => {}
            },
            // A failure after an intent leaves that intent uncertain. One recorded after `done` with no
            // new intent (a resumed run could not read the resource, or found it changed) says nothing
            // about the cut AWS answered: it stays done, which a resumed run checks against live state
            // anyway, where taken for uncertain it could be rewound.
            Entry::Failed { id, .. } => {
                before_intent.remove(id);
                if progress.get(id) != Some(&Progress::Done) {
                    progress.insert(id.clone(), Progress::Uncertain);
                }
            }
            Entry::Restored { id, .. } => {
                progress.remove(id);
                before_intent.remove(id);
            }
            Entry::Header { .. }
            | Entry::Skipped { .. }
            | Entry::RestoreIntent { .. }
            | Entry::RestoreFailed { .. } => {}
        }
    }
    progress
}

/// Whether this run works through `cut`: enabled, and not completed by an earlier run (`progress`).
/// What `started` and each phase count.
pub fn still_to_cut(cut: &Cut, progress: &HashMap<String, Progress>) -> bool {
    cut.enabled && progress.get(&cut.id) != Some(&Progress::Done)
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
    /// Sealing cuts of the plan this run leaves out for a reason of its own (the way out of the machine
    /// it runs on, a drifted resource under `--skip-drifted`): while there is one, the account is not
    /// sealed, and no `sealed` event fires.
    pub seal_left_out: usize,
}

#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub done: Vec<String>,
    /// Cuts an earlier run had already completed.
    pub already_done: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    /// Time from the start of apply until the last sealing cut completed, when this run took sealing
    /// cuts and every one of them is in place (none failed, none left unattempted).
    pub sealed_after: Option<Duration>,
    /// Every sealing cut this run took was already in place (an earlier run of the plan made it): the
    /// account is sealed, but not by this run.
    pub sealed_earlier: bool,
    /// Sealing cuts of this run that failed or were not attempted: the account is not sealed.
    pub seal_incomplete: usize,
    /// Sealing cuts of the plan the run left out ([`ApplyOptions::seal_left_out`]): not sealed either.
    pub seal_left_out: usize,
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
    /// Neither: the live state, to tell a cut stopped halfway from a change someone else made.
    Partial(Value),
}

/// `completed`: the earlier run journaled the cut done. A kind whose `after` is not what observation
/// reads back (a session revocation's cut-off, known only at apply; a policy AWS re-formats) is judged by
/// [`Containment::holds`], as watch judges it: compared with `after` alone, a completed revocation looked
/// half-done, and a later run would lift it to cut it again.
async fn recover(
    kind: &dyn Containment,
    ctx: &RegionCtx,
    cut: &Cut,
    completed: bool,
) -> Result<Recovery, ServiceError> {
    let live = kind.observe(ctx, cut).await?;
    let holds = || kind.holds(cut, &live) && (completed || kind.holding_is_complete());
    Ok(if same_state(&cut.before.value(), &live) {
        Recovery::NotApplied
    } else if same_state(&cut.after.value(), &live) || holds() {
        Recovery::Applied
    } else {
        Recovery::Partial(live)
    })
}

/// A resumed cut left neither as planned nor as cut that could not be put back as planned.
const NOT_PUT_BACK: &str = "the earlier run left this resource neither as planned nor as cut (partly cut), and it could not be put back as planned: it is not retried. `hikkonuki restore` puts back what was removed, where nothing changed since the plan (it reports a change as a conflict, leaving that to be put back by hand); then make a new plan";

/// Whether `live` is a cut stopped between its calls: the kind's judgement, or a cut that holds but is
/// not wholly in force ([`Containment::holding_is_complete`]).
fn partly_cut(kind: &dyn Containment, cut: &Cut, live: &Value) -> bool {
    kind.partly_cut(cut, live) || kind.holds(cut, live)
}

/// Undoes a half-done cut and reports whether the resource is back to the plan's `before`, or as near
/// it as the kind says an undo can come ([`Containment::back_as_planned`]).
async fn rewind(kind: &dyn Containment, ctx: &RegionCtx, cut: &Cut) -> bool {
    let Ok(undo) = kind.undo_record_for(cut) else {
        return false;
    };
    if kind.undo(ctx, &undo).await.is_err() {
        return false;
    }
    matches!(kind.observe(ctx, cut).await,
        Ok(live) if same_state(&cut.before.value(), &live) || kind.back_as_planned(cut, &live))
}

/// What happened to one cut in this run.
enum CutResult {
    Done,
    AlreadyDone,
    Failed(String, bool),
    Skipped,
    NotAttempted,
    /// AWS answered the sealing cut's call and the cut now waits, beside the later phases, for its change
    /// to be in force; its result comes from that wait ([`TakingEffect`]).
    TakingEffect,
}

/// The rest of a sealing cut whose call AWS has answered: the wait until its change is in force
/// ([`Containment::take_effect`], which only reads), then its completion in the journal.
type TakingEffect<'a> =
    Pin<Box<dyn Future<Output = (String, Result<CutResult, EngineError>)> + Send + 'a>>;

/// When the account counts as sealed: every sealing cut has been answered and every wait for a sealing
/// change to take effect has ended. The `sealed` event fires once, at that moment, whichever comes last.
#[derive(Default)]
struct SealWatch {
    state: Mutex<SealState>,
}

#[derive(Default)]
struct SealState {
    /// Every cut of the sealing phase has been answered (or skipped, or failed).
    answered: bool,
    /// The run took a sealing cut (one not skipped): without one nothing was sealed, and no event fires.
    any_taken: bool,
    /// This run made a sealing change (rather than finding every one in place).
    any_made: bool,
    /// Sealing cuts that failed, were not attempted, or whose change never came into force: while
    /// there is one, the account is not sealed and no event fires.
    incomplete: usize,
    /// Sealing changes still being waited for.
    waiting: usize,
    /// Sealing cuts of the plan the run left out: while there is one, no event fires.
    left_out: usize,
    sealed_after: Option<Duration>,
}

impl SealState {
    /// Counts one sealing cut's answer. A change AWS is still bringing into force is counted once its
    /// wait ends ([`SealWatch::wait_ended`]); a cut this run does not take (skipped) is not counted.
    fn count(&mut self, result: &CutResult) {
        match result {
            CutResult::Skipped => return,
            CutResult::Done => self.any_made = true,
            CutResult::AlreadyDone | CutResult::TakingEffect => {}
            CutResult::Failed(..) | CutResult::NotAttempted => self.incomplete += 1,
        }
        self.any_taken = true;
    }
}

impl SealWatch {
    fn wait_started(&self) {
        self.state.lock().expect("seal watch").waiting += 1;
    }

    /// `result`: the waiting cut's, once its change is in force (or not).
    fn wait_ended(
        &self,
        result: &Result<CutResult, EngineError>,
        started: Instant,
        reporter: &dyn Reporter,
    ) {
        let mut state = self.state.lock().expect("seal watch");
        state.waiting -= 1;
        match result {
            Ok(result) => state.count(result),
            Err(_) => state.incomplete += 1,
        }
        Self::report_when_sealed(&mut state, started, reporter);
    }

    fn phase_answered<'r>(
        &self,
        results: impl IntoIterator<Item = &'r CutResult>,
        started: Instant,
        reporter: &dyn Reporter,
    ) {
        let mut state = self.state.lock().expect("seal watch");
        state.answered = true;
        for result in results {
            state.count(result);
        }
        Self::report_when_sealed(&mut state, started, reporter);
    }

    /// Sealed once every sealing cut the run took is in place: a run stopped or failed part-way
    /// through the phase never says so (a responder reads "sealed" as "cut off").
    fn report_when_sealed(state: &mut SealState, started: Instant, reporter: &dyn Reporter) {
        if state.answered
            && state.any_taken
            && state.incomplete == 0
            && state.left_out == 0
            && state.waiting == 0
            && state.sealed_after.is_none()
        {
            let elapsed = started.elapsed();
            reporter.event(&Event::Sealed {
                elapsed,
                already_in_place: !state.any_made,
            });
            state.sealed_after = Some(elapsed);
        }
    }

    /// The outcome's `sealed_after`, `sealed_earlier` and `seal_incomplete`.
    fn verdict(&self) -> (Option<Duration>, bool, usize) {
        let state = self.state.lock().expect("seal watch");
        (
            state.sealed_after,
            state.sealed_after.is_some() && !state.any_made,
            state.incomplete,
        )
    }
}

/// Where a sealing cut hands its wait for the change to take effect, so the phase does not hold the
/// per-resource cuts back for it. `None` (the other phases, and `--parallelism 1`, which runs one cut
/// after the other so a crash stops at an exact call) waits in place.
struct LaterWaits<'a, 'w> {
    sender: &'w UnboundedSender<TakingEffect<'a>>,
    seal: &'a SealWatch,
    started: Instant,
}

/// Performs the plan's enabled cuts, phase by phase (sealing first), the cuts of one phase concurrently up
/// to `options.parallelism`, started spread over their buckets ([`schedule`]); the outcome lists them in
/// plan order. Every cut journals its intent before its AWS call and its outcome after; a
/// failed cut is recorded and the rest go on (unless `fail_fast`); a failed journal write stops the run.
/// When resuming, completed cuts are skipped and uncertain ones are checked against live state first.
///
/// A phase starts once every cut of the one before has been answered. A sealing cut whose change AWS
/// brings into force after answering (VPC Block Public Access) waits for it beside the per-resource
/// phase: the seal comes first, but stolen keys are not left active while a switch settles. Its `done`
/// is journaled, and the `sealed` event fires, when the wait ends.
pub async fn execute(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    journal: &mut Journal,
    options: &ApplyOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<ApplyOutcome, EngineError> {
    let started = Instant::now();
    let order = apply_order(plan, registry);
    let journal = Mutex::new(journal);
    let halt = AtomicBool::new(false);
    let seal = SealWatch::default();
    seal.state.lock().expect("seal watch").left_out = options.seal_left_out;
    let phase_of = |cut: &Cut| {
        registry
            .get(&cut.kind)
            .map(|k| k.info().phase)
            .unwrap_or(Phase::PerResource)
    };
    let parallelism = options.parallelism.max(1);
    // One place per cut whose call is out, across the lanes ([`lanes`]).
    let width = std::sync::Arc::new(tokio::sync::Semaphore::new(
        parallelism.min(tokio::sync::Semaphore::MAX_PERMITS),
    ));
    let run = CutRun {
        session,
        registry,
        journal: &journal,
        halt: &halt,
        options,
        reporter,
    };
    // Declared after everything the waits borrow, so it is dropped first.
    let (waits, mut waits_to_run) = tokio::sync::mpsc::unbounded_channel::<TakingEffect<'_>>();
    let phases = async {
        // Dropped when the last phase is answered, which ends the waits' stream below.
        let waits = waits;
        let mut results: HashMap<String, CutResult> = HashMap::new();
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
            let to_go = cuts
                .iter()
                .filter(|cut| still_to_cut(cut, &options.progress))
                .count();
            if to_go > 0 {
                reporter.event(&Event::PhaseStarted {
                    phase: phase.name().into(),
                    total: to_go,
                });
            }
            let later = (phase == Phase::Seal && parallelism > 1).then_some(LaterWaits {
                sender: &waits,
                seal: &seal,
                started,
            });
            let (started_in_turn, earlier) = start_order(&cuts, registry);
            let gates = AnsweredGates::new(registry, earlier);
            let answered: Vec<(String, Result<CutResult, EngineError>)> =
                stream::iter(lanes(started_in_turn, parallelism))
                    .map(|lane| {
                        let (run, later, gates, width) = (&run, later.as_ref(), &gates, &width);
                        stream::iter(lane)
                            .map(move |(cut, turn)| async move {
                                if turn == Turn::AfterOthers {
                                    gates.all_answered_before(cut).await;
                                }
                                // Boxed once the cut has its place: a cut waiting for one is small.
                                let result = WidthShare::run(width, async {
                                    Box::pin(run_cut(run, cut, later)).await
                                })
                                .await;
                                gates.answered(cut);
                                (cut.id.clone(), result)
                            })
                            .buffer_unordered(parallelism)
                            .collect::<Vec<_>>()
                    })
                    .buffer_unordered(usize::MAX)
                    .flat_map(stream::iter)
                    .collect()
                    .await;
            let answered = answered
                .into_iter()
                .map(|(id, result)| result.map(|result| (id, result)))
                .collect::<Result<Vec<_>, _>>()?;
            if phase == Phase::Seal {
                seal.phase_answered(answered.iter().map(|(_, result)| result), started, reporter);
            }
            for (id, result) in answered {
                if !matches!(result, CutResult::TakingEffect) {
                    results.insert(id, result);
                }
            }
        }
        Ok::<_, EngineError>(results)
    };
    let waiting = stream::poll_fn(|cx| waits_to_run.poll_recv(cx))
        .buffer_unordered(usize::MAX)
        .collect::<Vec<_>>()
        .map(Ok);
    // The waits share this task with the later phases' cuts, whose answers (dozens at once) can use up
    // tokio's cooperative budget on every poll of the task: a wait's timer or poll call then stays
    // pending behind them until they end. So the waits are polled first and outside the budget; they
    // are one per region and each poll is brief. Measured before, through the speed proxy at 8 regions
    // × 4 VPCs × 40 groups: Block Public Access's second poll went out 1.4 s late, and the account was
    // reported sealed at 2.1 s instead of 0.9 s (`a_seal_wait_is_not_held_back_by_a_busy_per_resource_phase`).
    let waiting = tokio::task::unconstrained(waiting);
    // A failed journal write ends the run at once; the waits still running only read, so dropping them
    // changes nothing in the account.
    let (waited, mut results) = future::try_join(waiting, phases).await?;
    for (id, result) in waited {
        results.insert(id, result?);
    }
    let mut outcome = ApplyOutcome::default();
    for cut in order {
        let id = cut.id.clone();
        match results.remove(&cut.id) {
            Some(CutResult::Done) => outcome.done.push(id),
            Some(CutResult::AlreadyDone) => outcome.already_done.push(id),
            Some(CutResult::Failed(error, credentials)) => {
                outcome.credentials_expired |= credentials;
                outcome.failed.push((id, error));
            }
            Some(CutResult::Skipped) => outcome.skipped.push(id),
            Some(CutResult::NotAttempted) => outcome.not_attempted.push(id),
            Some(CutResult::TakingEffect) | None => {}
        }
    }
    (
        outcome.sealed_after,
        outcome.sealed_earlier,
        outcome.seal_incomplete,
    ) = seal.verdict();
    outcome.seal_left_out = options.seal_left_out;
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// What every cut of one run shares.
struct CutRun<'a, 'j> {
    session: &'a AwsSession,
    registry: &'a Registry,
    journal: &'a Mutex<&'j mut Journal>,
    /// Set on a failure that should stop the run: --fail-fast, credentials that no longer work, or a
    /// journal write that failed.
    halt: &'a AtomicBool,
    options: &'a ApplyOptions<'a>,
    reporter: &'a dyn Reporter,
}

impl CutRun<'_, '_> {
    /// Journals an entry. A write that fails halts the run: every later write fails too, so no cut may
    /// start (nor a resumed cut rewind, which writes to AWS before its intent is journaled) whose calls
    /// could not be recorded; the cuts of the phase already under way still end.
    fn append(&self, entry: Entry) -> Result<(), EngineError> {
        let written = self.journal.lock().expect("journal lock").append(entry);
        if written.is_err() {
            self.halt.store(true, Ordering::SeqCst);
        }
        Ok(written?)
    }

    /// Whether cuts not yet under way are to be left: the run halted, or the operator stopped it.
    fn stopping(&self) -> bool {
        self.halt.load(Ordering::SeqCst)
            || self
                .options
                .stop
                .is_some_and(|stop| stop.load(Ordering::SeqCst))
    }

    /// Journals and reports a failed cut; stops the run under --fail-fast.
    fn failed(
        &self,
        cut: &Cut,
        error: String,
        credentials: bool,
    ) -> Result<CutResult, EngineError> {
        self.append(Entry::Failed {
            id: cut.id.clone(),
            error: error.clone(),
            changed_nothing: false,
        })?;
        Ok(self.report_failed(cut, error, credentials))
    }

    /// Journals and reports a cut whose every write AWS refused ([`crate::call_outcomes`]): it changed
    /// nothing, which the journal says so that restore leaves the resource alone.
    fn refused(&self, cut: &Cut, err: &ServiceError) -> Result<CutResult, EngineError> {
        self.append(Entry::Failed {
            id: cut.id.clone(),
            error: err.to_string(),
            changed_nothing: true,
        })?;
        let error = crate::call_outcomes::shown_error(&err.to_string(), true);
        Ok(self.report_failed(cut, error, err.is_credentials_problem()))
    }

    /// Reports a failed cut, journaled or not; stops the run under --fail-fast.
    fn report_failed(&self, cut: &Cut, error: String, credentials: bool) -> CutResult {
        self.reporter.event(&Event::CutFailed {
            id: cut.id.clone(),
            error: error.clone(),
        });
        // Every later call would fail the same way when the credentials are gone.
        if self.options.fail_fast || credentials {
            self.halt.store(true, Ordering::SeqCst);
        }
        CutResult::Failed(error, credentials)
    }

    /// Journals and reports a cut whose AWS call failed; credentials that no longer work stop the run.
    fn call_failed(&self, cut: &Cut, err: &ServiceError) -> Result<CutResult, EngineError> {
        self.failed(cut, err.to_string(), err.is_credentials_problem())
    }

    /// A cut whose call AWS answered: waits until its change is in force ([`Containment::take_effect`]),
    /// then journals it done with its undo record, or failed when the change never came into force
    /// (restore then derives the undo from the cut, as for any cut whose completion is not recorded).
    ///
    /// `unreviewed`: a half-done cut finished where someone changed the resource beside it since the
    /// plan ([`Containment::finishable`]), the changes in words. Journaled done all the same, so restore
    /// gives back all the cut took, and reported failed, so the run does not end in success with a
    /// change no one reviewed left in place (a rule added may be a new way out).
    async fn complete(
        &self,
        kind: &dyn Containment,
        ctx: &RegionCtx,
        cut: &Cut,
        undo: Value,
        cut_started: Instant,
        unreviewed: &[String],
    ) -> Result<CutResult, EngineError> {
        if let Err(err) = kind.take_effect(ctx, cut).await {
            return self.call_failed(cut, &err);
        }
        self.append(Entry::Done {
            id: cut.id.clone(),
            undo: undo.into(),
        })?;
        if !unreviewed.is_empty() {
            let error = format!(
                "the rest of the reviewed cut is made and recorded (restore gives back all it took), but {} changed beside the cut since the plan, and that change, which no one reviewed, is left as it is: {}. Check it, and make a new plan to cut what it opens",
                cut.target,
                unreviewed.join("; ")
            );
            return Ok(self.report_failed(cut, error, false));
        }
        self.reporter.event(&Event::CutDone {
            id: cut.id.clone(),
            elapsed: cut_started.elapsed(),
        });
        Ok(CutResult::Done)
    }
}

/// One cut: skip, recover or perform it, journaling as it goes. With `later`, a cut AWS has answered
/// hands its wait for the change to take effect there and returns [`CutResult::TakingEffect`].
async fn run_cut<'a>(
    run: &'a CutRun<'a, '_>,
    cut: &'a Cut,
    later: Option<&LaterWaits<'a, '_>>,
) -> Result<CutResult, EngineError> {
    let options = run.options;
    let stopping = run.stopping();
    if !cut.enabled {
        let reason = "disabled in the plan (enabled: false)".to_string();
        run.append(Entry::Skipped {
            id: cut.id.clone(),
            reason: reason.clone(),
        })?;
        run.reporter.event(&Event::CutSkipped {
            id: cut.id.clone(),
            reason,
            in_total: false,
        });
        return Ok(CutResult::Skipped);
    }
    if stopping {
        return Ok(CutResult::NotAttempted);
    }
    let kind = run
        .registry
        .get(&cut.kind)
        .expect("validated plans hold only known kinds");
    let ctx = run.session.region(&cut.region);
    // A `done` entry is a claim about the account, not proof: the resource is looked at before the cut
    // is skipped. Cut: skipped. Back as before (reverted since, or the entry was never true): cut again.
    // Anything else: reported, not touched.
    if options.progress.get(&cut.id) == Some(&Progress::Done) {
        match recover(kind, &ctx, cut, true).await {
            Ok(Recovery::Applied) => {
                run.reporter.event(&Event::CutSkipped {
                    id: cut.id.clone(),
                    reason: "already cut by the earlier run".into(),
                    in_total: false,
                });
                return Ok(CutResult::AlreadyDone);
            }
            Ok(Recovery::NotApplied) => run.reporter.event(&Event::Warning {
                message: format!(
                    "{}: the rollback file records it as cut, but the resource is back as the plan recorded it before the cut: cutting it again",
                    cut.id
                ),
            }),
            Ok(Recovery::Partial(_)) => {
                let error = "the rollback file records this cut as done, but the resource is neither as planned nor as cut (changed since): it is not retried. Check it, and make a new plan".to_string();
                return run.failed(cut, error, false);
            }
            // Not read: nothing is known against the recorded `done`, so nothing is journaled over it
            // (credentials that no longer work still stop the run).
            Err(err) => {
                let error = format!(
                    "the rollback file records this cut as done, but the resource could not be read to confirm it: {err}. Run apply again to check it"
                );
                return Ok(run.report_failed(cut, error, err.is_credentials_problem()));
            }
        }
    }
    // Once a half-done cut is put back, it is cut again whatever happens meanwhile: left rewound, the
    // resource would be more open than the crash left it.
    let mut rewound = false;
    // A half-done cut of a kind that finishes in place: what the earlier run left, the rest to cut, and
    // what changed beside it since, in words.
    let mut finishing: Option<(Value, Vec<String>)> = None;
    if options.progress.get(&cut.id) == Some(&Progress::Uncertain) {
        match recover(kind, &ctx, cut, false).await {
            Ok(Recovery::NotApplied) => {}
            Ok(Recovery::Applied) => {
                // A cut whose undo cannot be derived fails alone: as an error of the run it ended every
                // later phase, and read as a refusal that changed nothing, where cuts were made.
                let undo = match kind.undo_record_for(cut) {
                    Ok(undo) => undo,
                    Err(err) => return run.failed(cut, err.to_string(), false),
                };
                // The earlier run may have stopped while AWS was still bringing the change into force.
                if let Err(err) = kind.take_effect(&ctx, cut).await {
                    return run.call_failed(cut, &err);
                }
                run.append(Entry::Done {
                    id: cut.id.clone(),
                    undo: undo.into(),
                })?;
                run.reporter.event(&Event::CutSkipped {
                    id: cut.id.clone(),
                    reason: "the earlier run's call went through; its completion is now recorded"
                        .into(),
                    in_total: true,
                });
                return Ok(CutResult::AlreadyDone);
            }
            // The rewind below writes to AWS under the earlier run's intent: not once the run is halting
            // (the reads above took a while, and a journal write may have failed meanwhile).
            Ok(Recovery::Partial(_)) if run.stopping() => return Ok(CutResult::NotAttempted),
            Ok(Recovery::Partial(live)) => {
                // Its undo could not give `before` back (a security-group rule re-authorized gets a new
                // ID): rewound, what the earlier run cut would be open again and the cut could not be
                // made from the plan. The rest is cut from where the earlier run stopped, and what was
                // changed since beside it (a rule added) is left as it is and named: left unfinished,
                // the resource would stay half-cut, and a new plan's apply would refuse it as changed.
                let unreviewed = if kind.finishes_in_place() {
                    kind.finishable(cut, &live)
                } else {
                    None
                };
                if let Some(unreviewed) = unreviewed {
                    finishing = Some((live, unreviewed));
                } else if !partly_cut(kind, cut, &live) {
                    // Changed by someone else since (something neither before nor after the cut holds):
                    // the rewind would undo the earlier run's part of the cut and still not give
                    // `before` back, so the resource is left exactly as it is.
                    let error = "the earlier run left this resource neither as planned nor as cut, and it holds a change neither state has (changed since): it is left as it is and not retried. Check it; `hikkonuki restore` puts back only what the cut removed; then make a new plan".to_string();
                    return run.failed(cut, error, false);
                } else {
                    // Half-done (a kind that makes several calls per cut was stopped between them; or a
                    // cut that holds but is not wholly in force, as Identity Center's revocation written
                    // and its provisioning not made): put back what the earlier run changed, and cut
                    // from the recorded `before` if that gives it back exactly.
                    if !rewind(kind, &ctx, cut).await {
                        return run.failed(cut, NOT_PUT_BACK.to_string(), false);
                    }
                    rewound = true;
                }
            }
            Err(_) => return run.failed(cut, NOT_PUT_BACK.to_string(), false),
        }
    }
    // Ctrl-C (or a halt) while this cut read its resource or waited its turn: it is not begun.
    if run.stopping() && !rewound {
        return Ok(CutResult::NotAttempted);
    }
    run.append(Entry::Intent { cut: cut.clone() })?;
    run.reporter
        .event(&Event::CutStarted { id: cut.id.clone() });
    let cut_started = Instant::now();
    let (applied, writes) = crate::call_outcomes::watching(async {
        match &finishing {
            Some((live, _)) => kind.finish(&ctx, cut, live).await,
            None => kind.apply(&ctx, cut).await,
        }
    })
    .await;
    let unreviewed: Vec<String> = finishing
        .map(|(_, unreviewed)| unreviewed)
        .unwrap_or_default();
    match applied {
        Ok(undo) => match later {
            Some(later) => {
                let seal = later.seal;
                let started = later.started;
                seal.wait_started();
                let waiting: TakingEffect<'a> = Box::pin(async move {
                    let result = run
                        .complete(kind, &ctx, cut, undo, cut_started, &unreviewed)
                        .await;
                    seal.wait_ended(&result, started, run.reporter);
                    (cut.id.clone(), result)
                });
                if let Err(unsent) = later.sender.send(waiting) {
                    // The receiver lives until every phase is answered, which includes this cut; should
                    // it be gone, the wait runs here instead of being lost.
                    let (_, result) = unsent.0.await;
                    return result;
                }
                Ok(CutResult::TakingEffect)
            }
            None => {
                run.complete(kind, &ctx, cut, undo, cut_started, &unreviewed)
                    .await
            }
        },
        Err(err) if writes.changed_nothing() => run.refused(cut, &err),
        Err(err) => run.call_failed(cut, &err),
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod schedule_tests;
