//! How apply orders a phase's cuts around each other, with in-memory stand-in kinds and paused time: a
//! sealing change AWS brings into force after answering is waited for beside the per-resource cuts
//! ([`crate::services::Containment::take_effect`]), and a kind that cuts after others starts only once
//! theirs are answered ([`crate::services::Containment::cuts_after`]).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use super::*;
use crate::engine::apply::execute::{Turn, start_order};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, Registry, ServiceError,
    TypedCut, UndoOutcome,
};

/// What the stand-in kinds did, in order.
type Log = Arc<Mutex<Vec<String>>>;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Switched {
    on: bool,
    /// What a cut made of several calls takes away one call at a time (the half-done stand-ins').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    parts: Vec<String>,
}

/// What a stand-in kind does when it cuts.
enum Behaviour {
    /// A sealing switch AWS brings into force a minute after answering (as VPC Block Public Access
    /// reports `update-in-progress` first), or never; `off` once cut.
    SlowSwitch {
        never_in_force: bool,
        off: Arc<AtomicBool>,
    },
    /// A sealing switch in force on the first look after answering: its wait is a few budgeted steps
    /// (a timer, a poll call), never idle.
    SwitchInForceSoon,
    /// A change in force when AWS answers (a key deactivated).
    AtOnce,
    /// A per-resource cut whose answers keep coming: `steps` budgeted steps, each ready at once (dozens of
    /// calls answered together), so the task running it is never idle until they end.
    Busy { steps: usize },
    /// An account-wide block that, once on, makes AWS refuse the policy writes (as S3's
    /// `BlockPublicPolicy` refuses a public bucket policy): it cuts after them.
    Block { on: Arc<AtomicBool> },
    /// A policy write AWS refuses while the block is on; each takes a second, so that a block started
    /// beside them would land first.
    Write { block_on: Arc<AtomicBool> },
    /// A cut whose call draws on VPC endpoints' slow bucket (`ModifyVpcEndpoint`: 4 at once, then one
    /// every 3.3 s), through the pacer.
    SlowBucket { pacer: Arc<crate::pacing::Pacer> },
    /// A cut whose call takes a second, its bucket full.
    OneSecond,
    /// A cut an earlier run left half-done: its resource reads as neither `before` nor `after` but between
    /// them (one of the parts the cut takes away is gone), and a resumed apply rewinds it (an undo, a write
    /// to AWS) before cutting it again.
    HalfDone,
    /// As [`Behaviour::HalfDone`], and changed since by someone else: it holds a part neither state has.
    ChangedSince,
    /// A resumed cut whose earlier attempt never reached AWS (its resource reads as `before`), while
    /// Ctrl-C is pressed during that read.
    CtrlCDuringRead { stop: Arc<AtomicBool> },
    /// A resumed cut AWS made (it reads as `after`) whose undo record cannot be derived.
    MadeWithoutUndo,
    /// As [`Behaviour::HalfDone`], its rewind leaving part `a` back and not part `b`, which the kind
    /// accepts as back as planned ([`CutKind::back_as_planned`]), as Identity Center's leaves accounts
    /// that were out of date up to date.
    BackAsPlanned { rewound: Arc<AtomicBool> },
    /// As [`Behaviour::HalfDone`], put back whole by its rewind, during which Ctrl-C is pressed.
    CtrlCDuringRewind {
        stop: Arc<AtomicBool>,
        rewound: Arc<AtomicBool>,
    },
}

struct StandIn {
    info: &'static KindInfo,
    log: Log,
    behaviour: Behaviour,
}

const fn info(name: &'static str, phase: Phase) -> KindInfo {
    KindInfo {
        name,
        reversible: true,
        enabled_by_default: true,
        phase,
        global: false,
        footprint: Footprint::Identity,
    }
}

static SLOW_SWITCH: KindInfo = info("slow_switch", Phase::Seal);
static KEY_OFF: KindInfo = info("key_off", Phase::PerResource);
static ACCOUNT_BLOCK: KindInfo = info("account_block", Phase::PerResource);
static POLICY_WRITE: KindInfo = info("policy_write", Phase::PerResource);
static ENDPOINTS: KindInfo = info("endpoints", Phase::PerResource);
static RULES: KindInfo = info("rules", Phase::PerResource);
static HALF_DONE: KindInfo = info("half_done", Phase::PerResource);

fn note(log: &Log, what: &str) {
    log.lock().unwrap().push(what.into());
}

#[async_trait::async_trait]
impl CutKind for StandIn {
    type State = Switched;
    type Undo = Switched;

    fn info(&self) -> &'static KindInfo {
        self.info
    }

    fn cuts_after(&self) -> &'static [&'static str] {
        match self.behaviour {
            Behaviour::Block { .. } => &["policy_write"],
            _ => &[],
        }
    }

    fn check_states(&self, _cut: &TypedCut<Switched>) -> Result<(), String> {
        Ok(())
    }

    async fn discover(
        &self,
        _ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<Switched>>, ServiceError> {
        Ok(vec![])
    }

    async fn observe(
        &self,
        _ctx: &RegionCtx,
        _cut: &TypedCut<Switched>,
    ) -> Result<Option<Switched>, ServiceError> {
        let cut = match &self.behaviour {
            Behaviour::SlowSwitch { off, .. } => off.load(SeqCst),
            Behaviour::HalfDone => return Ok(Some(parts(&["b"]))),
            Behaviour::ChangedSince => return Ok(Some(parts(&["b", "added-since"]))),
            Behaviour::MadeWithoutUndo => return Ok(Some(parts(&[]))),
            Behaviour::BackAsPlanned { rewound } => {
                return Ok(Some(parts(if rewound.load(SeqCst) {
                    &["a"]
                } else {
                    &["b"]
                })));
            }
            Behaviour::CtrlCDuringRewind { rewound, .. } => {
                return Ok(Some(if rewound.load(SeqCst) {
                    parts(&["a", "b"])
                } else {
                    parts(&["b"])
                }));
            }
            Behaviour::CtrlCDuringRead { stop } => {
                stop.store(true, SeqCst);
                return Ok(Some(parts(&["a", "b"])));
            }
            _ => false,
        };
        Ok(Some(Switched {
            on: !cut,
            parts: Vec::new(),
        }))
    }

    async fn apply(
        &self,
        _ctx: &RegionCtx,
        cut: &TypedCut<Switched>,
    ) -> Result<Switched, ServiceError> {
        match &self.behaviour {
            Behaviour::SlowSwitch { off, .. } => {
                off.store(true, SeqCst);
                note(&self.log, "switch answered");
            }
            Behaviour::SwitchInForceSoon => note(&self.log, "switch answered"),
            Behaviour::AtOnce => note(&self.log, "key off"),
            Behaviour::Busy { steps } => {
                for _ in 0..*steps {
                    tokio::task::coop::consume_budget().await;
                }
                note(&self.log, "busy cut answered");
            }
            Behaviour::Block { on } => {
                on.store(true, SeqCst);
                note(&self.log, "block on");
            }
            Behaviour::SlowBucket { pacer } => {
                let modify = crate::pacing::Call::new("EC2", "ModifyVpcEndpoint", "us-east-1");
                let _answered = pacer.admit(&modify).await;
                note(&self.log, "endpoint cut");
            }
            Behaviour::OneSecond => {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                note(&self.log, "rules cut");
            }
            Behaviour::HalfDone
            | Behaviour::ChangedSince
            | Behaviour::CtrlCDuringRead { .. }
            | Behaviour::MadeWithoutUndo
            | Behaviour::BackAsPlanned { .. }
            | Behaviour::CtrlCDuringRewind { .. } => note(&self.log, "half-done cut made"),
            Behaviour::Write { block_on } => {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                if block_on.load(SeqCst) {
                    note(&self.log, &format!("{} refused", cut.target));
                    return Err(ServiceError::local(
                        "s3:PutBucketPolicy",
                        "AccessDenied: the policy allows public access",
                    ));
                }
                note(&self.log, &format!("{} written", cut.target));
            }
        }
        Ok(cut.before.clone())
    }

    async fn take_effect(
        &self,
        _ctx: &RegionCtx,
        _cut: &TypedCut<Switched>,
    ) -> Result<(), ServiceError> {
        if let Behaviour::SwitchInForceSoon = self.behaviour {
            for _ in 0..3 {
                tokio::task::coop::consume_budget().await;
            }
            note(&self.log, "switch in force");
            return Ok(());
        }
        let Behaviour::SlowSwitch { never_in_force, .. } = &self.behaviour else {
            return Ok(());
        };
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        if *never_in_force {
            note(&self.log, "switch gave up");
            return Err(ServiceError::local(
                "ec2:DescribeVpcBlockPublicAccessOptions",
                "waited 60 s and AWS still reports `update-in-progress`",
            ));
        }
        note(&self.log, "switch in force");
        Ok(())
    }

    fn back_as_planned(&self, _cut: &TypedCut<Switched>, live: &Switched) -> bool {
        matches!(self.behaviour, Behaviour::BackAsPlanned { .. }) && *live == parts(&["a"])
    }

    fn undo_record_for(&self, cut: &TypedCut<Switched>) -> Result<Switched, ServiceError> {
        if let Behaviour::MadeWithoutUndo = self.behaviour {
            return Err(ServiceError::local(
                "test:Undo",
                "no undo record can be derived",
            ));
        }
        Ok(cut.before.clone())
    }

    async fn undo(&self, _ctx: &RegionCtx, _undo: &Switched) -> Result<UndoOutcome, ServiceError> {
        if let Behaviour::HalfDone | Behaviour::ChangedSince = self.behaviour {
            note(&self.log, "half-done cut rewound");
        }
        if let Behaviour::BackAsPlanned { rewound } = &self.behaviour {
            rewound.store(true, SeqCst);
            note(&self.log, "half-done cut rewound");
        }
        if let Behaviour::CtrlCDuringRewind { stop, rewound } = &self.behaviour {
            rewound.store(true, SeqCst);
            stop.store(true, SeqCst);
            note(&self.log, "half-done cut rewound");
        }
        Ok(UndoOutcome::default())
    }
}

fn stand_in(
    info: &'static KindInfo,
    log: &Log,
    behaviour: Behaviour,
) -> Box<dyn crate::services::Containment> {
    Box::new(StandIn {
        info,
        log: log.clone(),
        behaviour,
    })
}

/// The half-done stand-ins' state: on, with these parts left.
fn parts(left: &[&str]) -> Switched {
    Switched {
        on: true,
        parts: left.iter().map(|p| p.to_string()).collect(),
    }
}

/// A cut of the half-done stand-ins: it takes parts a and b away, one call each.
fn cut_in_parts(kind: &str, target: &str) -> Cut {
    Cut {
        before: serde_json::to_value(parts(&["a", "b"])).unwrap().into(),
        after: serde_json::to_value(parts(&[])).unwrap().into(),
        ..cut(kind, "us-east-1", target)
    }
}

fn cut(kind: &str, region: &str, target: &str) -> Cut {
    Cut {
        id: Cut::expected_id(kind, region, target),
        kind: kind.into(),
        region: region.into(),
        target: target.into(),
        enabled: true,
        reversible: true,
        reason: "test".into(),
        before: json!({"on": true}).into(),
        after: json!({"on": false}).into(),
    }
}

/// A plan that switches a region off (sealing) and takes a key off (per resource), and what the run did:
/// the kinds' log, the journal's entries, the reporter's events, the outcome. `resuming`: an earlier run
/// crashed after the switch's call was answered, before its completion was journaled.
async fn switch_and_key(
    parallelism: usize,
    never_in_force: bool,
    resuming: bool,
) -> (
    Vec<String>,
    Vec<Entry>,
    Vec<crate::report::Event>,
    ApplyOutcome,
) {
    let log = Log::default();
    let switch = Behaviour::SlowSwitch {
        never_in_force,
        off: Arc::new(resuming.into()),
    };
    let registry = Registry::of_kinds(vec![
        stand_in(&SLOW_SWITCH, &log, switch),
        stand_in(&KEY_OFF, &log, Behaviour::AtOnce),
    ]);
    // In plan order the key comes first: apply still seals first.
    let plan = Plan {
        cuts: vec![
            cut("key_off", "us-east-1", "AKIA1"),
            cut("slow_switch", "us-east-1", "region"),
        ],
        ..plan_for(&[])
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    let reporter = RecordingReporter::default();
    let session = AwsSession::with_regions("us-east-1", vec![RegionCtx::for_tests("us-east-1")]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions {
            seal_left_out: 0,
            parallelism,
            progress: if resuming {
                [(plan.cuts[1].id.clone(), Progress::Uncertain)].into()
            } else {
                Default::default()
            },
            ..ApplyOptions::default()
        },
        &reporter,
    )
    .await
    .unwrap();
    let (contents, _) = journal::read_path(&path, &keys_of(&path), false).unwrap();
    let entries = contents.records.into_iter().map(|r| r.entry).collect();
    let log = log.lock().unwrap().clone();
    let events = reporter.events.lock().unwrap().clone();
    (log, entries, events, outcome)
}

/// The journal's entries as `intent|done|failed <kind>`, in order.
fn journaled(entries: &[Entry]) -> Vec<String> {
    let kind = |id: &str| id.split('/').next().unwrap_or_default().to_string();
    entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Intent { cut } => Some(format!("intent {}", cut.kind)),
            Entry::Done { id, .. } => Some(format!("done {}", kind(id))),
            Entry::Failed { id, .. } => Some(format!("failed {}", kind(id))),
            _ => None,
        })
        .collect()
}

/// Where the `sealed` event came among the cuts' completions: the kinds of the cuts done before it.
fn done_before_sealed(events: &[crate::report::Event]) -> Vec<String> {
    use crate::report::Event;
    let sealed = events
        .iter()
        .position(|e| matches!(e, Event::Sealed { .. }))
        .expect("the sealed event fired");
    events[..sealed]
        .iter()
        .filter_map(|e| match e {
            Event::CutDone { id, .. } | Event::CutFailed { id, .. } => {
                Some(id.split('/').next().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_seal_waiting_for_its_change_to_take_effect_does_not_hold_back_the_per_resource_cuts() {
    use crate::report::Event;
    let (log, entries, events, outcome) = switch_and_key(2, false, false).await;
    assert_eq!(
        log,
        ["switch answered", "key off", "switch in force"],
        "the key goes once the switch's call is answered, not once AWS reports it in force"
    );
    assert_eq!(
        journaled(&entries),
        [
            "intent slow_switch",
            "intent key_off",
            "done key_off",
            "done slow_switch"
        ],
        "the switch is journaled done only once it is in force"
    );
    assert_eq!(
        done_before_sealed(&events),
        ["key_off", "slow_switch"],
        "sealed fires when the wait ends"
    );
    let phases: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::PhaseStarted { .. } | Event::CutStarted { .. }))
        .collect();
    assert_eq!(
        phases,
        [
            &Event::PhaseStarted {
                phase: "sealing".into(),
                total: 1
            },
            &Event::CutStarted {
                id: "slow_switch/us-east-1/region".into()
            },
            &Event::PhaseStarted {
                phase: "per-resource".into(),
                total: 1
            },
            &Event::CutStarted {
                id: "key_off/us-east-1/AKIA1".into()
            },
        ],
        "each phase is said before its cuts"
    );
    assert_eq!(
        outcome.done,
        ["slow_switch/us-east-1/region", "key_off/us-east-1/AKIA1"],
        "the outcome lists the cuts in apply's order"
    );
    assert!(outcome.sealed_after.is_some());
}

/// The seal's wait shares the run's task with the per-resource cuts. While their answers keep coming they
/// could use up tokio's cooperative budget on every poll of that task, and a wait polled after them would
/// stay pending until they ended: measured through the speed proxy, the account was reported sealed 1.4 s
/// late at 8 regions. The wait is polled first and outside the budget, so it ends while they run.
#[tokio::test]
async fn a_seal_wait_is_not_held_back_by_a_busy_per_resource_phase() {
    let log = Log::default();
    let registry = Registry::of_kinds(vec![
        stand_in(&SLOW_SWITCH, &log, Behaviour::SwitchInForceSoon),
        stand_in(&KEY_OFF, &log, Behaviour::Busy { steps: 20_000 }),
    ]);
    let cuts = vec![
        cut("slow_switch", "us-east-1", "region"),
        cut("key_off", "us-east-1", "AKIA1"),
        cut("key_off", "us-east-1", "AKIA2"),
    ];
    let outcome = apply_stand_ins(&registry, cuts, 2).await;
    assert_eq!(outcome.done.len(), 3, "{outcome:?}");
    assert_eq!(
        log.lock().unwrap().clone(),
        [
            "switch answered",
            "switch in force",
            "busy cut answered",
            "busy cut answered"
        ],
        "the seal is in force while the busy cuts still run"
    );
}

#[tokio::test(start_paused = true)]
async fn with_parallelism_one_the_seal_is_in_force_before_the_next_cut_starts() {
    let (log, entries, events, outcome) = switch_and_key(1, false, false).await;
    assert_eq!(log, ["switch answered", "switch in force", "key off"]);
    assert_eq!(
        journaled(&entries),
        [
            "intent slow_switch",
            "done slow_switch",
            "intent key_off",
            "done key_off"
        ],
        "one cut after the other, so a crash stops at an exact call"
    );
    assert_eq!(done_before_sealed(&events), ["slow_switch"]);
    assert_eq!(outcome.done.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_seal_that_never_takes_effect_is_journaled_failed_and_the_other_cuts_still_go() {
    let (log, entries, events, outcome) = switch_and_key(2, true, false).await;
    assert_eq!(log, ["switch answered", "key off", "switch gave up"]);
    assert_eq!(
        journaled(&entries),
        [
            "intent slow_switch",
            "intent key_off",
            "done key_off",
            "failed slow_switch"
        ],
        "no `done` for a change AWS never reported in force: restore derives its undo from the cut"
    );
    assert_eq!(outcome.done, ["key_off/us-east-1/AKIA1"]);
    assert_eq!(outcome.failed.len(), 1);
    assert!(
        outcome.failed[0].1.contains("update-in-progress"),
        "{:?}",
        outcome.failed
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, crate::report::Event::Sealed { .. })),
        "a switch never in force leaves the account unsealed: {events:?}"
    );
    assert_eq!((outcome.sealed_after, outcome.seal_incomplete), (None, 1));
}

/// A run that left out a sealing cut of the plan (the way out of the machine it runs on) never says the
/// account is sealed, though every sealing cut it took is in place: the cut left out keeps a way out
/// open. (The `sealed` event fired, and `--stats` gave a time to seal, while the summary said "Not
/// sealed".) Without one left out, the same run is sealed.
#[tokio::test(start_paused = true)]
async fn a_run_that_left_out_a_sealing_cut_is_not_reported_sealed() {
    for (left_out, sealed) in [(1, false), (0, true)] {
        let log = Log::default();
        let registry = Registry::of_kinds(vec![
            stand_in(&SLOW_SWITCH, &log, Behaviour::AtOnce),
            stand_in(&KEY_OFF, &log, Behaviour::AtOnce),
        ]);
        let reporter = RecordingReporter::default();
        let options = ApplyOptions {
            seal_left_out: left_out,
            parallelism: 2,
            ..ApplyOptions::default()
        };
        let cuts = vec![
            cut("slow_switch", "us-east-1", "region"),
            cut("key_off", "us-east-1", "AKIA1"),
        ];
        let outcome = apply_stand_ins_with(&registry, cuts, &options, &reporter).await;
        assert_eq!(outcome.done.len(), 2, "{outcome:?}");
        assert_eq!(
            (outcome.sealed_after.is_some(), outcome.seal_left_out),
            (sealed, left_out)
        );
        let events = reporter.events.lock().unwrap().clone();
        assert_eq!(
            events
                .iter()
                .any(|e| matches!(e, crate::report::Event::Sealed { .. })),
            sealed,
            "{events:?}"
        );
    }
}

/// A run stopped before its sealing cuts (Ctrl-C) never says the account is sealed, however little was
/// left to do: the responder reads "sealed" as "cut off".
#[tokio::test(start_paused = true)]
async fn a_run_stopped_before_its_sealing_cuts_is_not_reported_sealed() {
    let log = Log::default();
    let registry = Registry::of_kinds(vec![
        stand_in(&SLOW_SWITCH, &log, Behaviour::AtOnce),
        stand_in(&KEY_OFF, &log, Behaviour::AtOnce),
    ]);
    let reporter = RecordingReporter::default();
    let stop = std::sync::atomic::AtomicBool::new(true);
    let options = ApplyOptions {
        seal_left_out: 0,
        parallelism: 2,
        stop: Some(&stop),
        ..ApplyOptions::default()
    };
    let cuts = vec![
        cut("slow_switch", "us-east-1", "region"),
        cut("key_off", "us-east-1", "AKIA1"),
    ];
    let outcome = apply_stand_ins_with(&registry, cuts, &options, &reporter).await;
    assert_eq!(outcome.not_attempted.len(), 2, "{outcome:?}");
    assert_eq!((outcome.sealed_after, outcome.seal_incomplete), (None, 1));
    let events = reporter.events.lock().unwrap().clone();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, crate::report::Event::Sealed { .. })),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_resumed_seal_whose_call_went_through_is_waited_for_before_its_completion_is_journaled() {
    let (log, entries, events, outcome) = switch_and_key(2, false, true).await;
    assert_eq!(
        log,
        ["switch in force", "key off"],
        "not switched again: the earlier call went through, and AWS is asked whether it is in force"
    );
    assert_eq!(
        journaled(&entries),
        ["done slow_switch", "intent key_off", "done key_off"]
    );
    assert_eq!(outcome.already_done, ["slow_switch/us-east-1/region"]);
    assert_eq!(outcome.done, ["key_off/us-east-1/AKIA1"]);
    // Sealed, by the earlier run's call: said so, not timed as this run's work.
    assert!(outcome.sealed_after.is_some() && outcome.sealed_earlier);
    assert!(
        events.iter().any(|e| matches!(
            e,
            crate::report::Event::Sealed {
                already_in_place: true,
                ..
            }
        )),
        "{events:?}"
    );
}

/// The block and the writes, declared in the order given.
fn block_and_policies_declared(order: [&'static KindInfo; 2]) -> (Registry, Log) {
    let log = Log::default();
    let on = Arc::new(AtomicBool::new(false));
    let kinds = order
        .into_iter()
        .map(|info| {
            let behaviour = if info.name == ACCOUNT_BLOCK.name {
                Behaviour::Block { on: on.clone() }
            } else {
                Behaviour::Write {
                    block_on: on.clone(),
                }
            };
            stand_in(info, &log, behaviour)
        })
        .collect();
    (Registry::of_kinds(kinds), log)
}

/// Declared block first, as s3_public_access_block is declared before resource_policy_deny.
fn block_and_policies() -> (Registry, Log) {
    block_and_policies_declared([&ACCOUNT_BLOCK, &POLICY_WRITE])
}

async fn apply_block_and_policies(parallelism: usize) -> (Vec<String>, ApplyOutcome) {
    let (registry, log) = block_and_policies();
    let cuts = vec![
        cut("account_block", "global", "123456789012"),
        cut("policy_write", "us-east-1", "bucket-a"),
        cut("policy_write", "us-east-1", "bucket-b"),
        cut("policy_write", "us-east-1", "bucket-c"),
    ];
    let outcome = apply_stand_ins(&registry, cuts, parallelism).await;
    let log = log.lock().unwrap().clone();
    (log, outcome)
}

/// Applies `cuts` with the stand-in kinds of `registry`, in a fresh journal, `parallelism` at once.
async fn apply_stand_ins(registry: &Registry, cuts: Vec<Cut>, parallelism: usize) -> ApplyOutcome {
    let options = ApplyOptions {
        seal_left_out: 0,
        parallelism,
        ..ApplyOptions::default()
    };
    apply_stand_ins_with(registry, cuts, &options, &RecordingReporter::default()).await
}

/// As [`apply_stand_ins`], with these options, reporting to `reporter`.
async fn apply_stand_ins_with(
    registry: &Registry,
    cuts: Vec<Cut>,
    options: &ApplyOptions<'_>,
    reporter: &RecordingReporter,
) -> ApplyOutcome {
    let plan = Plan {
        cuts,
        ..plan_for(&[])
    };
    let dir = tempfile::tempdir().unwrap();
    let (_path, mut journal) = new_journal(&dir);
    let session = AwsSession::with_regions(
        "us-east-1",
        vec![
            RegionCtx::for_tests("us-east-1"),
            RegionCtx::for_tests("global"),
        ],
    );
    execute(&session, registry, &plan, &mut journal, options, reporter)
        .await
        .unwrap()
}

/// As [`apply_stand_ins_with`], one cut at a time, resuming a run that left the first of `cuts`
/// uncertain (its intent journaled, not its completion), with Ctrl-C's flag when given.
async fn resume_stand_ins(
    registry: &Registry,
    cuts: Vec<Cut>,
    stop: Option<&AtomicBool>,
    reporter: &RecordingReporter,
) -> ApplyOutcome {
    let uncertain = cuts[0].id.clone();
    let options = ApplyOptions {
        seal_left_out: 0,
        parallelism: 1,
        stop,
        progress: [(uncertain, Progress::Uncertain)].into(),
        ..ApplyOptions::default()
    };
    apply_stand_ins_with(registry, cuts, &options, reporter).await
}

#[tokio::test(start_paused = true)]
async fn a_kind_that_cuts_after_others_starts_once_their_cuts_are_answered() {
    for parallelism in [8, 2, 1] {
        let (log, outcome) = apply_block_and_policies(parallelism).await;
        assert_eq!(
            log.last().map(String::as_str),
            Some("block on"),
            "parallelism {parallelism}: {log:?}"
        );
        assert!(
            log.iter().all(|line| !line.ends_with("refused")),
            "parallelism {parallelism}: no write reached AWS after the block: {log:?}"
        );
        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        assert_eq!(outcome.done.len(), 4);
    }
}

#[test]
fn restore_lifts_a_kind_that_cuts_after_others_before_undoing_them() {
    let (registry, _) = block_and_policies();
    assert!(registry.restore_rank("account_block") < registry.restore_rank("policy_write"));
    // Declared in the other order, the rank is the same way round.
    let (registry, _) = block_and_policies_declared([&POLICY_WRITE, &ACCOUNT_BLOCK]);
    assert!(registry.restore_rank("account_block") < registry.restore_rank("policy_write"));
}

#[test]
fn the_cuts_others_wait_for_start_first_and_the_waiting_ones_right_after() {
    let (registry, _) = block_and_policies();
    let cuts = [
        cut("key_off", "us-east-1", "AKIA1"),
        cut("account_block", "us-east-1", "acct"),
        cut("policy_write", "us-east-1", "bucket-a"),
        cut("key_off", "us-east-1", "AKIA2"),
    ];
    let phase: Vec<&Cut> = cuts.iter().collect();
    let (order, earlier) = start_order(&phase, &registry);
    let order: Vec<(&str, Turn)> = order
        .iter()
        .map(|(cut, turn)| (cut.target.as_str(), *turn))
        .collect();
    assert_eq!(
        order,
        [
            ("bucket-a", Turn::BeforeOthers),
            ("acct", Turn::AfterOthers),
            ("AKIA1", Turn::Free),
            ("AKIA2", Turn::Free)
        ]
    );
    assert_eq!(earlier, [("policy_write", 1)].into());
    // Without a cut to wait for, the block waits for nothing.
    let phase: Vec<&Cut> = vec![&cuts[0], &cuts[1]];
    let (order, earlier) = start_order(&phase, &registry);
    assert!(order.iter().all(|(_, turn)| *turn == Turn::Free));
    assert!(earlier.is_empty());
}

/// Endpoint cuts behind their slow bucket (a fresh pacer) and rule cuts of a second each: the registry
/// and the log of what was cut.
fn endpoints_and_rules() -> (Registry, Log) {
    let log = Log::default();
    let pacer = Arc::new(crate::pacing::Pacer::new(Some(
        crate::pacing::PacingLimits::default(),
    )));
    let registry = Registry::of_kinds(vec![
        stand_in(&ENDPOINTS, &log, Behaviour::SlowBucket { pacer }),
        stand_in(&RULES, &log, Behaviour::OneSecond),
    ]);
    (registry, log)
}

/// A kind whose cuts wait for a slow bucket (VPC endpoints: 4 at once, then one every 3.3 s) leaves the
/// width to the other kinds meanwhile: the apply lasts as long as the security groups' rules alone need
/// (16 cuts of a second, two at once: 8 s), the endpoints cut between them. In one list, the endpoint
/// cuts waiting for their tokens held both places, and the rules waited with them (10.8 s).
#[tokio::test(start_paused = true)]
async fn a_kind_waiting_for_a_slow_bucket_leaves_the_width_to_the_others() {
    let mut cuts: Vec<Cut> = (1..=6)
        .map(|n| cut("endpoints", "us-east-1", &format!("vpce-{n}")))
        .collect();
    cuts.extend((1..=16).map(|n| cut("rules", "us-east-1", &format!("sg-{n}"))));
    let (registry, _) = endpoints_and_rules();
    let start = tokio::time::Instant::now();
    let outcome = apply_stand_ins(&registry, cuts.clone(), 2).await;
    let took = start.elapsed();
    assert_eq!(outcome.done.len(), 22, "{outcome:?}");
    assert!(took < std::time::Duration::from_millis(8100), "{took:?}");

    // One after the other, the width is never shared: every cut in start order.
    let (registry, log) = endpoints_and_rules();
    let outcome = apply_stand_ins(&registry, cuts, 1).await;
    assert_eq!(outcome.done.len(), 22);
    let log = log.lock().unwrap().clone();
    let alternating: Vec<&str> = ["endpoint cut", "rules cut"]
        .into_iter()
        .cycle()
        .take(12)
        .collect();
    assert_eq!(
        log[..12],
        alternating,
        "start order: one of each kind in turn, each waiting for the one before"
    );
}

/// A journal write that fails halts the run: a resumed cut the earlier run left half-done, next in
/// line, is not rewound (its undo is a write to AWS that could no longer be followed by its intent, nor
/// by anything else), nor cut. Before, the run went on through the phase, and the rewind was made.
#[tokio::test(start_paused = true)]
async fn a_failed_journal_write_halts_the_run_before_a_resumed_cut_rewinds() {
    let log = Log::default();
    let registry = Registry::of_kinds(vec![
        stand_in(&KEY_OFF, &log, Behaviour::AtOnce),
        stand_in(&HALF_DONE, &log, Behaviour::HalfDone),
    ]);
    let plan = Plan {
        cuts: vec![
            cut("key_off", "us-east-1", "AKIA1"),
            cut_in_parts("half_done", "thing"),
        ],
        ..plan_for(&[])
    };
    let dir = tempfile::tempdir().unwrap();
    let (_path, mut journal) = new_journal(&dir);
    // The key's intent is the run's first write.
    journal.fail_next_write = true;
    let session = AwsSession::with_regions("us-east-1", vec![RegionCtx::for_tests("us-east-1")]);
    let result = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions {
            seal_left_out: 0,
            parallelism: 1,
            progress: [(plan.cuts[1].id.clone(), Progress::Uncertain)].into(),
            ..ApplyOptions::default()
        },
        &RecordingReporter::default(),
    )
    .await;
    assert!(result.is_err(), "the journal failure ends the run");
    assert_eq!(
        *log.lock().unwrap(),
        Vec::<String>::new(),
        "nothing is written to AWS once the journal has failed"
    );
}

/// A resumed cut the earlier run left between `before` and `after` is rewound and cut again; one that
/// holds a change neither state has (someone changed it since) is left exactly as it is, reported, and
/// nothing is written to AWS for it: a rewind there undid the earlier run's part of the cut and still did
/// not give `before` back, leaving the resource more open than either run left it.
#[tokio::test(start_paused = true)]
async fn a_resumed_cut_changed_since_by_someone_else_is_not_rewound() {
    static CHANGED: KindInfo = info("changed_since", Phase::PerResource);
    for (behaviour, info, rewound) in [
        (Behaviour::HalfDone, &HALF_DONE, true),
        (Behaviour::ChangedSince, &CHANGED, false),
    ] {
        let log = Log::default();
        let registry = Registry::of_kinds(vec![stand_in(info, &log, behaviour)]);
        let outcome = resume_stand_ins(
            &registry,
            vec![cut_in_parts(info.name, "thing")],
            None,
            &RecordingReporter::default(),
        )
        .await;
        let log = log.lock().unwrap().clone();
        if rewound {
            assert_eq!(log, ["half-done cut rewound"], "{}", info.name);
        } else {
            assert_eq!(log, Vec::<String>::new(), "nothing written to AWS");
            assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
            assert!(
                outcome.failed[0].1.contains("it is left as it is"),
                "{outcome:?}"
            );
        }
    }
}

/// A resumed half-done cut whose rewind cannot give `before` back exactly is cut again when the kind
/// says that is as near `before` as an undo comes and as the plan said (Identity Center's rewind
/// provisions, bringing the accounts the plan named as out of date up to date); otherwise it is not
/// retried. Before, an Identity Center revocation interrupted while provisioning stayed lifted by its
/// rewind whenever the plan named an account out of date.
#[tokio::test(start_paused = true)]
async fn a_resumed_cut_rewound_as_near_before_as_the_kind_allows_is_cut_again() {
    static BACK: KindInfo = info("back_as_planned", Phase::PerResource);
    for (behaviour, info, cut_again) in [
        (
            Behaviour::BackAsPlanned {
                rewound: Arc::default(),
            },
            &BACK,
            true,
        ),
        (Behaviour::HalfDone, &HALF_DONE, false),
    ] {
        let log = Log::default();
        let registry = Registry::of_kinds(vec![stand_in(info, &log, behaviour)]);
        let outcome = resume_stand_ins(
            &registry,
            vec![cut_in_parts(info.name, "thing")],
            None,
            &RecordingReporter::default(),
        )
        .await;
        let log = log.lock().unwrap().clone();
        if cut_again {
            assert_eq!(
                log,
                ["half-done cut rewound", "half-done cut made"],
                "{}",
                info.name
            );
            assert_eq!(outcome.done.len(), 1, "{outcome:?}");
        } else {
            assert_eq!(log, ["half-done cut rewound"], "{}", info.name);
            assert!(
                outcome.failed[0]
                    .1
                    .contains("could not be put back as planned"),
                "{outcome:?}"
            );
        }
    }
}

#[test]
fn a_state_lies_between_when_each_value_is_one_of_theirs_and_each_list_is_partly_cut() {
    use crate::plan::compare::lies_between;
    let removed = |rules: &[&str]| json!({"group": "sg-1", "rules": rules});
    let (before, after) = (removed(&["a", "b", "c"]), removed(&["c"]));
    assert!(lies_between(&before, &after, &removed(&["b", "c"])));
    assert!(lies_between(&before, &after, &after));
    assert!(
        !lies_between(&before, &after, &removed(&["b", "c", "x"])),
        "a rule added since"
    );
    assert!(
        !lies_between(&before, &after, &removed(&["b"])),
        "a kept rule removed since"
    );
    // A cut that adds entries one at a time (network ACL denies).
    let added = |entries: &[&str]| json!({"entries": entries});
    let (before, after) = (added(&["allow"]), added(&["allow", "deny-1", "deny-2"]));
    assert!(lies_between(&before, &after, &added(&["allow", "deny-1"])));
    assert!(!lies_between(&before, &after, &added(&["deny-1"])));
    // A deny that goes in a managed policy, created and not yet attached (two calls): between. The
    // policy attached with another document is not.
    let before = json!({"name": "mailer"});
    let managed = |document: &str, attached: bool| json!({"name": "mailer", "managed_policy": {"arn": "arn:p", "document": document, "attached": attached}});
    let after = managed("deny", true);
    assert!(lies_between(&before, &after, &managed("deny", false)));
    assert!(!lies_between(&before, &after, &managed("allow-all", true)));
    // A value that is neither state's, at any depth.
    let mode = |m: &str| json!({"block": {"mode": m}});
    assert!(!lies_between(
        &mode("off"),
        &mode("block-bidirectional"),
        &mode("block-ingress")
    ));
    assert!(
        !lies_between(
            &mode("off"),
            &mode("block-bidirectional"),
            &serde_json::Value::Null
        ),
        "gone"
    );
}

/// Ctrl-C while a resumed cut reads its resource: the cut is not begun (no intent, no call), where the
/// read was the last look at the stop flag and the cut went on to AWS.
#[tokio::test(start_paused = true)]
async fn ctrl_c_during_a_resumed_cuts_read_stops_it_before_its_intent() {
    static READ: KindInfo = info("read_then_cut", Phase::PerResource);
    let log = Log::default();
    let stop = Arc::new(AtomicBool::new(false));
    let registry = Registry::of_kinds(vec![stand_in(
        &READ,
        &log,
        Behaviour::CtrlCDuringRead { stop: stop.clone() },
    )]);
    let reporter = RecordingReporter::default();
    let cuts = vec![cut_in_parts("read_then_cut", "thing")];
    let outcome = resume_stand_ins(&registry, cuts.clone(), Some(&stop), &reporter).await;
    assert_eq!(*log.lock().unwrap(), Vec::<String>::new(), "no call to AWS");
    assert_eq!(outcome.not_attempted, [cuts[0].id.clone()]);
    let events = reporter.events.lock().unwrap();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, crate::report::Event::CutStarted { .. })),
        "not begun (its intent is journaled as it starts): {events:?}"
    );
}

/// A resumed cut AWS made but whose undo record cannot be derived fails alone: the run goes on with the
/// other cuts and reports what it did. Before, it ended the run as an engine error, read as a refusal
/// that "changed nothing" though cuts had been made, and every later phase was dropped.
#[tokio::test(start_paused = true)]
async fn a_resumed_cut_without_an_undo_record_fails_alone_and_the_run_goes_on() {
    static MADE: KindInfo = info("made_without_undo", Phase::Seal);
    let log = Log::default();
    let registry = Registry::of_kinds(vec![
        stand_in(&MADE, &log, Behaviour::MadeWithoutUndo),
        stand_in(&KEY_OFF, &log, Behaviour::AtOnce),
    ]);
    let reporter = RecordingReporter::default();
    let cuts = vec![
        cut_in_parts("made_without_undo", "thing"),
        cut("key_off", "us-east-1", "AKIA1"),
    ];
    let outcome = resume_stand_ins(&registry, cuts.clone(), None, &reporter).await;
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_eq!(outcome.failed[0].0, cuts[0].id);
    assert_eq!(
        outcome.done,
        [cuts[1].id.clone()],
        "the later phase's cut is made"
    );
    assert_eq!(*log.lock().unwrap(), ["key off"]);
}

/// Ctrl-C while a half-done cut is being put back: the cut is still made again, where it was left put
/// back (more open than the crash left it) and reported only as not attempted.
#[tokio::test(start_paused = true)]
async fn ctrl_c_during_a_rewind_still_cuts_again() {
    static REWOUND: KindInfo = info("rewound_then_stopped", Phase::PerResource);
    let log = Log::default();
    let stop = Arc::new(AtomicBool::new(false));
    let registry = Registry::of_kinds(vec![stand_in(
        &REWOUND,
        &log,
        Behaviour::CtrlCDuringRewind {
            stop: stop.clone(),
            rewound: Arc::new(AtomicBool::new(false)),
        },
    )]);
    let reporter = RecordingReporter::default();
    let cuts = vec![cut_in_parts("rewound_then_stopped", "thing")];
    let outcome = resume_stand_ins(&registry, cuts.clone(), Some(&stop), &reporter).await;
    assert_eq!(
        *log.lock().unwrap(),
        ["half-done cut rewound", "half-done cut made"]
    );
    assert_eq!(outcome.done, [cuts[0].id.clone()], "{outcome:?}");
}
