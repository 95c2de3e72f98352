//! How restore orders its undos around each other ([`super::restore::execute`]), with in-memory stand-in
//! kinds and paused time: kinds of different footprints are undone side by side, kinds of one footprint
//! and the phases one after the other, never more undos at once than the run's width, and with a width of
//! one, one undo after the other.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::restore::{Certainty, PendingRestore, RestoreOutcome, Undoing, execute};
use crate::aws::{AwsSession, RegionCtx};
use crate::engine::apply::tests::{keys_of, new_journal};
use crate::journal::{self, Entry};
use crate::plan::Cut;
use crate::report::RecordingReporter;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, Registry, ServiceError,
    TypedCut, UndoOutcome,
};

/// What the stand-ins' undos did, in order.
type Log = Arc<Mutex<Vec<String>>>;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Switched {
    on: bool,
}

/// What every stand-in undo shares with the test.
#[derive(Default, Clone)]
struct Shared {
    log: Log,
    /// Undos in flight now, and the most there ever were.
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

/// An undo that takes a second (paused time: it only orders the log), or, for `meet`, waits up to a
/// minute for as many undos to be waiting with it: they meet only if they run at once (a barrier counts
/// a waiter that gave up, so each test meets once).
struct StandIn {
    info: &'static KindInfo,
    shared: Shared,
    meet: Option<Arc<tokio::sync::Barrier>>,
    independent: bool,
    /// Set when the undo starts, as Ctrl-C would be.
    stops: Option<Arc<AtomicBool>>,
    /// While set, the undo is refused until the later phases are undone (as RDS refuses an instance
    /// public while its VPC has no gateway).
    refused_while: Option<Arc<AtomicBool>>,
    /// Cleared by the undo (the gateway attached again).
    clears: Option<Arc<AtomicBool>>,
    /// The undo of this record is refused, whatever the phase (as AWS refuses a rule whose group was
    /// deleted since).
    refuses_record: Option<Switched>,
    /// The undo is one call on VPC endpoints' small bucket (4, then one every 3.3 s) of this pacer.
    paced: Option<Arc<crate::pacing::Pacer>>,
}

const fn info(name: &'static str, phase: Phase, footprint: Footprint) -> KindInfo {
    KindInfo {
        name,
        reversible: true,
        enabled_by_default: true,
        phase,
        global: false,
        footprint,
    }
}

static RULES: KindInfo = info("rules_back", Phase::PerResource, Footprint::SecurityGroups);
static SWITCH: KindInfo = info("switch_back", Phase::PerResource, Footprint::Sharing);
static SHARES: KindInfo = info("shares_back", Phase::PerResource, Footprint::Sharing);
static KEYS: KindInfo = info("keys_back", Phase::PerResource, Footprint::Identity);
static SEAL: KindInfo = info("seal_lifted", Phase::Seal, Footprint::VpcSeal);
static ENDPOINTS: KindInfo = info(
    "endpoints_back",
    Phase::PerResource,
    Footprint::VpcEndpoints,
);

#[async_trait::async_trait]
impl CutKind for StandIn {
    type State = Switched;
    type Undo = Switched;

    fn info(&self) -> &'static KindInfo {
        self.info
    }

    fn undoes_independently(&self) -> bool {
        self.independent
    }

    fn refused_until_later_phases(&self, err: &ServiceError) -> bool {
        err.code.as_deref() == Some("NotYet")
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
        Ok(None)
    }

    async fn apply(
        &self,
        _ctx: &RegionCtx,
        cut: &TypedCut<Switched>,
    ) -> Result<Switched, ServiceError> {
        Ok(cut.before.clone())
    }

    fn undo_record_for(&self, cut: &TypedCut<Switched>) -> Result<Switched, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(&self, _ctx: &RegionCtx, undo: &Switched) -> Result<UndoOutcome, ServiceError> {
        let name = self.info.name;
        let shared = &self.shared;
        if let Some(pacer) = &self.paced {
            let modify = crate::pacing::Call::new("EC2", "ModifyVpcEndpoint", "us-east-1");
            let _answered = pacer.admit(&modify).await;
            shared.log.lock().unwrap().push(format!("end {name}"));
            return Ok(UndoOutcome::default());
        }
        let now = shared.in_flight.fetch_add(1, SeqCst) + 1;
        shared.most_in_flight.fetch_max(now, SeqCst);
        shared.log.lock().unwrap().push(format!("start {name}"));
        if let Some(stop) = &self.stops {
            stop.store(true, SeqCst);
        }
        if self.refused_while.as_ref().is_some_and(|f| f.load(SeqCst)) {
            shared.log.lock().unwrap().push(format!("refused {name}"));
            shared.in_flight.fetch_sub(1, SeqCst);
            return Err(ServiceError {
                operation: "test:Undo".into(),
                code: Some("NotYet".into()),
                message: "a later phase's cut is in force".into(),
            });
        }
        if self.refuses_record.as_ref() == Some(undo) {
            shared.log.lock().unwrap().push(format!("failed {name}"));
            shared.in_flight.fetch_sub(1, SeqCst);
            return Err(ServiceError {
                operation: "test:Undo".into(),
                code: Some("NotFound".into()),
                message: "the resource was deleted since".into(),
            });
        }
        if let Some(flag) = &self.clears {
            flag.store(false, SeqCst);
        }
        match &self.meet {
            Some(meet) => {
                let met = tokio::time::timeout(Duration::from_secs(60), meet.wait()).await;
                let how = if met.is_ok() { "met" } else { "alone" };
                shared.log.lock().unwrap().push(format!("{how} {name}"));
            }
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
        shared.log.lock().unwrap().push(format!("end {name}"));
        shared.in_flight.fetch_sub(1, SeqCst);
        Ok(UndoOutcome::default())
    }
}

impl StandIn {
    /// A kind whose undos take a second each, several at once.
    fn plain(info: &'static KindInfo, shared: &Shared) -> StandIn {
        StandIn {
            info,
            shared: shared.clone(),
            meet: None,
            independent: true,
            stops: None,
            refused_while: None,
            clears: None,
            refuses_record: None,
            paced: None,
        }
    }
}

fn stand_in(
    info: &'static KindInfo,
    shared: &Shared,
    meet: Option<&Arc<tokio::sync::Barrier>>,
) -> Box<dyn crate::services::Containment> {
    Box::new(StandIn {
        meet: meet.cloned(),
        ..StandIn::plain(info, shared)
    })
}

fn pending(kind: &str, target: &str) -> PendingRestore {
    PendingRestore {
        cut: Cut {
            id: Cut::expected_id(kind, "us-east-1", target),
            kind: kind.into(),
            region: "us-east-1".into(),
            target: target.into(),
            enabled: true,
            reversible: true,
            reason: "test".into(),
            before: json!({"on": true}).into(),
            after: json!({"on": false}).into(),
        },
        certainty: Certainty::Completed,
        undo: Some(json!({"on": true}).into()),
        generation: 1,
    }
}

/// Restores `pending` (in restore's order, as [`super::restore::pending`] sorts it) with the kinds of
/// `registry`, `parallelism` at once, in a fresh journal.
async fn restore(
    registry: &Registry,
    work: Vec<PendingRestore>,
    parallelism: usize,
) -> RestoreOutcome {
    restore_with(registry, work, parallelism, None, false)
        .await
        .0
        .unwrap()
}

/// As [`restore`], with a stop flag (Ctrl-C), and a journal whose first write fails (a full disk).
async fn restore_with(
    registry: &Registry,
    mut work: Vec<PendingRestore>,
    parallelism: usize,
    stop: Option<&AtomicBool>,
    journal_fails: bool,
) -> (
    Result<RestoreOutcome, crate::engine::EngineError>,
    Vec<String>,
) {
    work.sort_by_key(|item| registry.restore_rank(&item.cut.kind));
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    journal.fail_next_write = journal_fails;
    let session = AwsSession::with_regions("us-east-1", vec![RegionCtx::for_tests("us-east-1")]);
    let outcome = execute(
        &session,
        registry,
        &work,
        &mut journal,
        &Undoing { stop, parallelism },
        &RecordingReporter::default(),
    )
    .await;
    drop(journal);
    let journaled = match journal::read_path(&path, &keys_of(&path), false) {
        Ok((contents, _)) => contents
            .records
            .into_iter()
            .filter_map(|record| match record.entry {
                Entry::RestoreIntent { id } => Some(format!("intent {id}")),
                Entry::Restored { id, .. } => Some(format!("restored {id}")),
                Entry::RestoreFailed { id, .. } => Some(format!("failed {id}")),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    (outcome, journaled)
}

fn log_of(shared: &Shared) -> Vec<String> {
    shared.log.lock().unwrap().clone()
}

/// Restores `work` with plain stand-ins of `kinds` (declared in this order), `parallelism` at once: the
/// outcome, and what the undos did.
async fn restore_plain(
    kinds: &[&'static KindInfo],
    work: Vec<PendingRestore>,
    parallelism: usize,
) -> (RestoreOutcome, Shared) {
    let shared = Shared::default();
    let registry = Registry::of_kinds(
        kinds
            .iter()
            .map(|info| stand_in(info, &shared, None))
            .collect(),
    );
    let outcome = restore(&registry, work, parallelism).await;
    (outcome, shared)
}

#[tokio::test(start_paused = true)]
async fn kinds_of_different_footprints_are_undone_side_by_side() {
    let shared = Shared::default();
    let meet = Arc::new(tokio::sync::Barrier::new(3));
    let registry = Registry::of_kinds(vec![
        stand_in(&RULES, &shared, Some(&meet)),
        stand_in(&SWITCH, &shared, Some(&meet)),
        stand_in(&KEYS, &shared, Some(&meet)),
    ]);
    let outcome = restore(
        &registry,
        vec![
            pending("rules_back", "sg-1"),
            pending("switch_back", "region"),
            pending("keys_back", "AKIA1"),
        ],
        8,
    )
    .await;
    assert_eq!(outcome.restored.len(), 3, "{outcome:?}");
    let log = log_of(&shared);
    for kind in ["rules_back", "switch_back", "keys_back"] {
        assert!(log.contains(&format!("met {kind}")), "{log:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn with_a_width_of_one_every_undo_is_alone_and_in_restore_order() {
    let (outcome, shared) = restore_plain(
        &[&RULES, &KEYS],
        vec![
            pending("rules_back", "sg-1"),
            pending("rules_back", "sg-2"),
            pending("keys_back", "AKIA1"),
        ],
        1,
    )
    .await;
    assert_eq!(outcome.restored.len(), 3, "{outcome:?}");
    assert_eq!(shared.most_in_flight.load(SeqCst), 1);
    // Restore's order: the reverse of the declared one.
    assert_eq!(
        log_of(&shared),
        [
            "start keys_back",
            "end keys_back",
            "start rules_back",
            "end rules_back",
            "start rules_back",
            "end rules_back",
        ]
    );
}

/// A block lifted before the shares it would refuse (as the snapshot and image switches before
/// `sharing_revoke`): kinds of one footprint wait for each other, while another footprint goes on.
#[tokio::test(start_paused = true)]
async fn kinds_of_one_footprint_are_undone_one_after_the_other_in_restore_order() {
    let (outcome, shared) = restore_plain(
        &[&SHARES, &SWITCH, &RULES],
        vec![
            pending("shares_back", "snap-1"),
            pending("shares_back", "snap-2"),
            pending("switch_back", "region"),
            pending("rules_back", "sg-1"),
        ],
        8,
    )
    .await;
    assert_eq!(outcome.restored.len(), 4, "{outcome:?}");
    let log = log_of(&shared);
    let at = |line: &str| {
        log.iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("{line}: {log:?}"))
    };
    let first_share = log.iter().position(|l| l == "start shares_back").unwrap();
    assert!(at("end switch_back") < first_share, "{log:?}");
    assert!(
        at("start rules_back") < at("end switch_back"),
        "the rules do not wait for the switch: {log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_seal_is_lifted_only_once_every_per_resource_undo_has_ended() {
    let (outcome, shared) = restore_plain(
        &[&SEAL, &RULES, &KEYS],
        vec![
            pending("seal_lifted", "region"),
            pending("rules_back", "sg-1"),
            pending("keys_back", "AKIA1"),
        ],
        8,
    )
    .await;
    assert_eq!(outcome.restored.len(), 3, "{outcome:?}");
    let log = log_of(&shared);
    assert_eq!(
        log[4..],
        ["start seal_lifted", "end seal_lifted"],
        "{log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_lanes_together_never_have_more_undos_in_flight_than_the_width() {
    let work: Vec<PendingRestore> = ["rules_back", "switch_back", "keys_back"]
        .iter()
        .flat_map(|kind| (1..=4).map(move |n| pending(kind, &format!("t-{n}"))))
        .collect();
    let (outcome, shared) = restore_plain(&[&RULES, &SWITCH, &KEYS], work, 3).await;
    assert_eq!(outcome.restored.len(), 12, "{outcome:?}");
    assert_eq!(shared.most_in_flight.load(SeqCst), 3);
}

/// Ctrl-C while one lane undoes: the other lanes start nothing more (each undo looks before it starts),
/// and what was not started is reported not attempted, for a second restore to finish.
#[tokio::test(start_paused = true)]
async fn a_stop_during_one_lane_keeps_the_other_lanes_from_starting_more() {
    let shared = Shared::default();
    let stop = Arc::new(AtomicBool::new(false));
    let registry = Registry::of_kinds(vec![
        Box::new(StandIn {
            independent: false,
            ..StandIn::plain(&RULES, &shared)
        }),
        Box::new(StandIn {
            stops: Some(stop.clone()),
            ..StandIn::plain(&KEYS, &shared)
        }),
    ]);
    let outcome = restore_with(
        &registry,
        vec![
            pending("rules_back", "sg-1"),
            pending("rules_back", "sg-2"),
            pending("keys_back", "AKIA1"),
        ],
        8,
        Some(&stop),
        false,
    )
    .await
    .0
    .unwrap();
    assert_eq!(log_of(&shared), ["start keys_back", "end keys_back"]);
    assert_eq!(outcome.restored, ["keys_back/us-east-1/AKIA1"]);
    assert_eq!(
        outcome.not_attempted,
        ["rules_back/us-east-1/sg-1", "rules_back/us-east-1/sg-2"]
    );
}

/// A journal that cannot be written stops the run: no undo in any lane makes a call it could not
/// record, and restore answers with the journal's error.
#[tokio::test(start_paused = true)]
async fn a_journal_that_fails_lets_no_lane_undo_anything() {
    let shared = Shared::default();
    let registry = Registry::of_kinds(vec![
        stand_in(&RULES, &shared, None),
        stand_in(&SWITCH, &shared, None),
        stand_in(&KEYS, &shared, None),
    ]);
    let work: Vec<PendingRestore> = ["rules_back", "switch_back", "keys_back"]
        .iter()
        .flat_map(|kind| (1..=2).map(move |n| pending(kind, &format!("t-{n}"))))
        .collect();
    let (result, _) = restore_with(&registry, work, 8, None, true).await;
    assert!(
        matches!(result, Err(crate::engine::EngineError::Journal(_))),
        "{result:?}"
    );
    assert!(log_of(&shared).is_empty(), "{:?}", log_of(&shared));
}

fn refusing(
    info: &'static KindInfo,
    shared: &Shared,
    gateway_detached: &Arc<AtomicBool>,
) -> StandIn {
    StandIn {
        refused_while: Some(gateway_detached.clone()),
        ..StandIn::plain(info, shared)
    }
}

/// A seal whose undo attaches a gateway again (`gateway_detached` cleared) and keys whose undo AWS refuses
/// while the gateway is detached.
fn seal_and_keys_refused_while_it_holds(
    shared: &Shared,
    gateway_detached: &Arc<AtomicBool>,
) -> Registry {
    Registry::of_kinds(vec![
        Box::new(StandIn {
            clears: Some(gateway_detached.clone()),
            ..StandIn::plain(&SEAL, shared)
        }),
        Box::new(refusing(&KEYS, shared, gateway_detached)),
    ])
}

/// An undo AWS refuses while a cut of a later phase is in force (an RDS instance made public again
/// while the seal still holds its VPC's gateway detached) is tried once more after every phase, so one
/// restore gives everything back; the journal keeps the refusal and the second try.
#[tokio::test(start_paused = true)]
async fn an_undo_refused_until_a_later_phase_is_undone_is_tried_again_after_it() {
    let shared = Shared::default();
    let gateway_detached = Arc::new(AtomicBool::new(true));
    let registry = seal_and_keys_refused_while_it_holds(&shared, &gateway_detached);
    for parallelism in [8, 1] {
        gateway_detached.store(true, SeqCst);
        shared.log.lock().unwrap().clear();
        let (outcome, journaled) = restore_with(
            &registry,
            vec![
                pending("seal_lifted", "region"),
                pending("keys_back", "AKIA1"),
            ],
            parallelism,
            None,
            false,
        )
        .await;
        let outcome = outcome.unwrap();
        assert_eq!(
            journaled,
            [
                "intent keys_back/us-east-1/AKIA1",
                "failed keys_back/us-east-1/AKIA1",
                "intent seal_lifted/us-east-1/region",
                "restored seal_lifted/us-east-1/region",
                "intent keys_back/us-east-1/AKIA1",
                "restored keys_back/us-east-1/AKIA1",
            ]
        );
        assert!(outcome.failed.is_empty(), "{outcome:?}");
        assert_eq!(
            outcome.restored,
            ["seal_lifted/us-east-1/region", "keys_back/us-east-1/AKIA1"],
            "parallelism {parallelism}: the second try counts last"
        );
        assert_eq!(
            log_of(&shared),
            [
                "start keys_back",
                "refused keys_back",
                "start seal_lifted",
                "end seal_lifted",
                "start keys_back",
                "end keys_back",
            ],
            "parallelism {parallelism}"
        );
    }
}

/// Refused again on the second try: failed, with AWS's answer, and tried no more.
#[tokio::test(start_paused = true)]
async fn an_undo_still_refused_after_the_later_phases_fails_once_tried_twice() {
    let shared = Shared::default();
    let gateway_detached = Arc::new(AtomicBool::new(true));
    let registry = Registry::of_kinds(vec![
        stand_in(&SEAL, &shared, None),
        Box::new(refusing(&KEYS, &shared, &gateway_detached)),
    ]);
    let outcome = restore(
        &registry,
        vec![
            pending("seal_lifted", "region"),
            pending("keys_back", "AKIA1"),
        ],
        8,
    )
    .await;
    assert_eq!(outcome.restored, ["seal_lifted/us-east-1/region"]);
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert!(
        outcome.failed[0]
            .1
            .contains("a later phase's cut is in force"),
        "{outcome:?}"
    );
    let refused = log_of(&shared)
        .iter()
        .filter(|line| *line == "refused keys_back")
        .count();
    assert_eq!(refused, 2);
}

/// A lane whose undos wait for a slow bucket (VPC endpoints: 4 at once, then one every 3.3 s) leaves
/// the width to the other lanes meanwhile: the restore lasts as long as the security groups' rules
/// alone need (16 undos of a second, two at once: 8 s), the endpoints going back between them. Held by
/// the waiting undos, the width left the rules 3.4 s short (11.4 s).
#[tokio::test(start_paused = true)]
async fn a_lane_waiting_for_a_slow_bucket_leaves_the_width_to_the_others() {
    let shared = Shared::default();
    let pacer = Arc::new(crate::pacing::Pacer::new(Some(
        crate::pacing::PacingLimits::default(),
    )));
    let registry = Registry::of_kinds(vec![
        Box::new(StandIn {
            paced: Some(pacer),
            ..StandIn::plain(&ENDPOINTS, &shared)
        }),
        stand_in(&RULES, &shared, None),
    ]);
    let mut work: Vec<PendingRestore> = (1..=6)
        .map(|n| pending("endpoints_back", &format!("vpce-{n}")))
        .collect();
    work.extend((1..=16).map(|n| pending("rules_back", &format!("sg-{n}"))));
    let start = tokio::time::Instant::now();
    let outcome = restore(&registry, work, 2).await;
    let took = start.elapsed();
    assert_eq!(outcome.restored.len(), 22, "{outcome:?}");
    assert!(took < Duration::from_millis(8100), "{took:?}");
}

/// The generations of `id` restore still sees pending in the file at `path`, newest first, each with
/// the state its undo puts back.
fn pending_generations(
    path: &std::path::Path,
    registry: &Registry,
    id: &str,
) -> Vec<(usize, serde_json::Value)> {
    let contents = journal::read_path(path, &keys_of(path), false).unwrap().0;
    super::restore::pending(&contents, registry, &[])
        .unwrap()
        .pending
        .into_iter()
        .filter(|item| item.cut.id == id)
        .map(|item| (item.generation, item.cut.before.value()))
        .collect()
}

/// A `restored` entry closes the newest generation of its cut still open. When the undo of a re-cut
/// fails, the older generation is not undone after it (that `restored` would close the re-cut, and the
/// next restore would undo the older one again and never retry the re-cut): the chain stops there, the
/// older generation is reported left pending, and both stay pending, in order, for the next restore.
/// Other cuts go on.
#[tokio::test(start_paused = true)]
async fn a_cuts_generations_stop_at_the_first_undo_that_fails_and_stay_pending_in_order() {
    let shared = Shared::default();
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    let cut = pending("keys_back", "AKIA1").cut;
    // Apply's cut puts back `on`; watch's re-cut, from the state the key came back in, `off`.
    let recut = Cut {
        before: json!({"on": false}).into(),
        ..cut.clone()
    };
    let other = pending("keys_back", "AKIA2").cut;
    for (cut, undo) in [
        (&cut, json!({"on": true})),
        (&other, json!({"on": true})),
        (&recut, json!({"on": false})),
    ] {
        journal.append(Entry::Intent { cut: cut.clone() }).unwrap();
        journal
            .append(Entry::Done {
                id: cut.id.clone(),
                undo: undo.into(),
            })
            .unwrap();
    }
    drop(journal);
    let refusing_the_recut = Registry::of_kinds(vec![Box::new(StandIn {
        refuses_record: Some(Switched { on: false }),
        ..StandIn::plain(&KEYS, &shared)
    })]);
    let both = vec![(2, json!({"on": false})), (1, json!({"on": true}))];
    assert_eq!(
        pending_generations(&path, &refusing_the_recut, &cut.id),
        both
    );

    let contents = journal::read_path(&path, &keys_of(&path), false).unwrap().0;
    let work = super::restore::pending(&contents, &refusing_the_recut, &[]).unwrap();
    let mut journal = crate::journal::Journal::reopen(
        crate::journal::lock::RollbackFile::open_existing(&path).unwrap(),
        &contents,
    )
    .unwrap();
    let reporter = RecordingReporter::default();
    let session = AwsSession::with_regions("us-east-1", vec![RegionCtx::for_tests("us-east-1")]);
    let outcome = execute(
        &session,
        &refusing_the_recut,
        &work.pending,
        &mut journal,
        &Undoing {
            stop: None,
            parallelism: 8,
        },
        &reporter,
    )
    .await
    .unwrap();
    drop(journal);
    assert_eq!(outcome.restored, std::slice::from_ref(&other.id));
    let failed: Vec<&str> = outcome.failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(failed, [cut.id.as_str(), cut.id.as_str()], "{outcome:?}");
    let log = log_of(&shared);
    assert_eq!(
        log.iter().filter(|line| line.starts_with("start")).count(),
        2,
        "the re-cut and the other cut, never the older generation: {log:?}"
    );
    let left_pending: Vec<String> = reporter
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event {
            crate::report::Event::RestoreSkipped { id, reason } if *id == cut.id => {
                Some(reason.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(left_pending.len(), 1, "{left_pending:?}");
    assert!(
        left_pending[0].contains("the cut apply made is left pending"),
        "{left_pending:?}"
    );
    assert_eq!(
        pending_generations(&path, &refusing_the_recut, &cut.id),
        both
    );

    // Once the re-cut's undo goes through, the next restore undoes both, newest first.
    let registry = Registry::of_kinds(vec![stand_in(&KEYS, &shared, None)]);
    let contents = journal::read_path(&path, &keys_of(&path), false).unwrap().0;
    let work = super::restore::pending(&contents, &registry, &[]).unwrap();
    let mut journal = crate::journal::Journal::reopen(
        crate::journal::lock::RollbackFile::open_existing(&path).unwrap(),
        &contents,
    )
    .unwrap();
    let outcome = execute(
        &session,
        &registry,
        &work.pending,
        &mut journal,
        &Undoing {
            stop: None,
            parallelism: 8,
        },
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    drop(journal);
    assert_eq!(outcome.restored, [cut.id.clone(), cut.id.clone()]);
    assert!(pending_generations(&path, &registry, &cut.id).is_empty());
}

/// A re-cut whose undo waits for the later phases takes its cut's older generations with it: they are
/// undone after it, once those phases are, never before it.
#[tokio::test(start_paused = true)]
async fn a_cuts_older_generations_wait_behind_a_newer_one_tried_again_after_the_later_phases() {
    let shared = Shared::default();
    let gateway_detached = Arc::new(AtomicBool::new(true));
    let registry = seal_and_keys_refused_while_it_holds(&shared, &gateway_detached);
    let newest = PendingRestore {
        generation: 2,
        ..pending("keys_back", "AKIA1")
    };
    let (outcome, journaled) = restore_with(
        &registry,
        vec![
            pending("seal_lifted", "region"),
            newest,
            pending("keys_back", "AKIA1"),
        ],
        8,
        None,
        false,
    )
    .await;
    let outcome = outcome.unwrap();
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    assert_eq!(
        journaled,
        [
            "intent keys_back/us-east-1/AKIA1",
            "failed keys_back/us-east-1/AKIA1",
            "intent seal_lifted/us-east-1/region",
            "restored seal_lifted/us-east-1/region",
            "intent keys_back/us-east-1/AKIA1",
            "restored keys_back/us-east-1/AKIA1",
            "intent keys_back/us-east-1/AKIA1",
            "restored keys_back/us-east-1/AKIA1",
        ]
    );
}
