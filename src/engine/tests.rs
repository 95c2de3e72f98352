//! The engine's gates, proven without the CLI: a second caller (a runner over many accounts, a library
//! user) gets the same refusals, and nothing is changed or journaled before the operator confirms.
//! The kinds here are in-memory stand-ins, so each test states exactly what the account holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde::{Deserialize, Serialize};

use super::apply::{self, ApplyConfirmation, ApplyRequest, ApplyRun};
use super::restore::{self, RestoreRequest, RestoreRun, RestoreWork};
use super::{EngineError, Operator};
use crate::aws::{AwsSession, RegionCtx};
use crate::plan::{Cut, FORMAT_VERSION, Plan};
use crate::report::RecordingReporter;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, Registry, RestoreGate,
    ServiceError, TypedCut, UndoOutcome,
};

const ACCOUNT: &str = "123456789012";

/// What the stand-in account holds: a value per target.
type Live = Arc<Mutex<BTreeMap<String, String>>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setting {
    value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBack {
    target: String,
    value: String,
}

/// A kind that sets a target's value from `before` to `after`, and back.
struct Switch {
    info: &'static KindInfo,
    live: Live,
    gate: Option<RestoreGate>,
    /// How many resources were observed one by one (not through discovery).
    observed: Arc<std::sync::atomic::AtomicUsize>,
}

static SWITCH: KindInfo = KindInfo {
    name: "switch_off",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::SecurityGroups,
};

static DELETE: KindInfo = KindInfo {
    name: "delete_forever",
    reversible: false,
    enabled_by_default: false,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::VpcEndpoints,
};

static GATED: KindInfo = KindInfo {
    name: "gated_switch",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Identity,
};

#[async_trait]
impl CutKind for Switch {
    type State = Setting;
    type Undo = PutBack;

    fn info(&self) -> &'static KindInfo {
        self.info
    }

    fn check_states(&self, _cut: &TypedCut<Setting>) -> Result<(), String> {
        Ok(())
    }

    /// The stand-in's rule: `on` is switched `off`, `here` made `gone`, `open` made `shut`.
    async fn discover(
        &self,
        _ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<Setting>>, ServiceError> {
        let live = self.live.lock().unwrap();
        Ok(live
            .iter()
            .filter_map(|(target, value)| {
                let after = match value.as_str() {
                    "on" => "off",
                    "here" => "gone",
                    "open" => "shut",
                    _ => return None,
                };
                Some(Proposal {
                    target: target.clone(),
                    reason: "test".into(),
                    before: Setting {
                        value: value.clone(),
                    },
                    after: Setting {
                        value: after.into(),
                    },
                    disabled_because: None,
                })
            })
            .collect())
    }

    async fn observe(
        &self,
        _ctx: &RegionCtx,
        cut: &TypedCut<Setting>,
    ) -> Result<Option<Setting>, ServiceError> {
        self.observed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let live = self.live.lock().unwrap();
        // A value `unreadable` stands for a read AWS fails (throttled, or the network).
        if live
            .get(&cut.target)
            .is_some_and(|value| value == "unreadable")
        {
            return Err(ServiceError::local(
                "test:Read",
                "Throttling: Rate exceeded",
            ));
        }
        Ok(live.get(&cut.target).map(|value| Setting {
            value: value.clone(),
        }))
    }

    async fn apply(
        &self,
        _ctx: &RegionCtx,
        cut: &TypedCut<Setting>,
    ) -> Result<PutBack, ServiceError> {
        // A target `denied` stands for a cut AWS refuses.
        if cut.target == "denied" {
            return Err(ServiceError::local("test:Cut", "AccessDenied"));
        }
        let undo = self.undo_record_for(cut)?;
        self.live
            .lock()
            .unwrap()
            .insert(cut.target.clone(), cut.after.value.clone());
        Ok(undo)
    }

    fn undo_record_for(&self, cut: &TypedCut<Setting>) -> Result<PutBack, ServiceError> {
        Ok(PutBack {
            target: cut.target.clone(),
            value: cut.before.value.clone(),
        })
    }

    fn restore_gate(&self) -> Option<RestoreGate> {
        self.gate
    }

    /// A target naming a principal's ARN stands for that principal's own access.
    fn cuts_off(&self, cut: &TypedCut<Setting>, caller: &crate::aws::CallerIdentity) -> bool {
        cut.target == caller.arn
    }

    /// A target `unrestorable` stands for a cut restore could not give back.
    fn refuses(&self, cut: &TypedCut<Setting>) -> Option<String> {
        (cut.target == "unrestorable").then(|| "restore could not give it back".to_string())
    }

    /// A target `<principal ARN>/chain` stands for a role that principal came through, which only a live
    /// read shows; a target `cannot-tell` for a live read that fails (when the test's responder asks it;
    /// anyone else can read it).
    async fn cuts_off_live(
        &self,
        _ctx: &RegionCtx,
        cuts: &[&crate::plan::Cut],
        caller: &crate::aws::CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        if cuts.iter().any(|cut| cut.target == "cannot-tell") && caller.arn.ends_with("/responder")
        {
            return Err(ServiceError::local("test:Read", "denied"));
        }
        Ok(cuts
            .iter()
            .filter(|cut| cut.target == format!("{}/chain", caller.arn))
            .map(|cut| (cut.id.clone(), "the applier came through it".to_string()))
            .collect())
    }

    /// Each target is its own resource.
    fn undoes_independently(&self) -> bool {
        true
    }

    /// As AWS reads back a cut whose `after` is only known at apply (a session revocation's cut-off):
    /// `off@<anything>` holds a cut to `off`.
    fn holds(&self, cut: &TypedCut<Setting>, live: &Setting) -> bool {
        live.value
            .strip_prefix(&format!("{}@", cut.after.value))
            .is_some()
    }

    /// The stand-in's resources come back under new identifiers: `on-2` is `on` re-created.
    fn reopened(&self, cut: &TypedCut<Setting>, live: &Setting) -> Option<Setting> {
        live.value
            .strip_prefix(&format!("{}-", cut.before.value))
            .map(|_| live.clone())
    }

    async fn undo(&self, _ctx: &RegionCtx, undo: &PutBack) -> Result<UndoOutcome, ServiceError> {
        self.live
            .lock()
            .unwrap()
            .insert(undo.target.clone(), undo.value.clone());
        Ok(UndoOutcome::default())
    }
}

const GATE: RestoreGate = RestoreGate {
    flag: "--lift-the-gate",
    why: "the test says so",
    help: "lift it",
};

fn registry(live: &Live) -> Registry {
    let kind = |info: &'static KindInfo, gate| -> Box<dyn crate::services::Containment> {
        Box::new(Switch {
            info,
            live: live.clone(),
            gate,
            observed: Default::default(),
        })
    };
    Registry::of_kinds(vec![
        kind(&SWITCH, None),
        kind(&DELETE, None),
        kind(&GATED, Some(GATE)),
    ])
}

fn session_as(account: &'static str) -> AwsSession {
    session_of(account, "responder")
}

/// A session of IAM user `user` in `account`.
fn session_of(account: &'static str, user: &'static str) -> AwsSession {
    let who = mock!(aws_sdk_sts::Client::get_caller_identity).then_output(move || {
        GetCallerIdentityOutput::builder()
            .account(account)
            .arn(format!("arn:aws:iam::{account}:user/{user}"))
            .user_id("AIDA")
            .build()
    });
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[&who]);
    // Watch asks CloudTrail who changed a reopened cut: no one, as far as this history tells.
    let history = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(|| {
        aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput::builder().build()
    });
    let cloudtrail = mock_client!(aws_sdk_cloudtrail, RuleMode::MatchAny, &[&history]);
    AwsSession::with_regions(
        "us-east-1",
        vec![
            RegionCtx::for_tests("us-east-1")
                .mock_sts(sts)
                .mock_cloudtrail(cloudtrail),
        ],
    )
}

fn cut(kind: &str, target: &str, before: &str, after: &str, enabled: bool) -> Cut {
    Cut {
        id: Cut::expected_id(kind, "us-east-1", target),
        kind: kind.into(),
        region: "us-east-1".into(),
        target: target.into(),
        enabled,
        reversible: kind != DELETE.name,
        reason: "test".into(),
        before: serde_json::json!({ "value": before }).into(),
        after: serde_json::json!({ "value": after }).into(),
    }
}

fn write_plan(dir: &Path, cuts: Vec<Cut>) -> PathBuf {
    write_plan_by(dir, cuts, &format!("arn:aws:iam::{ACCOUNT}:user/responder"))
}

fn write_plan_by(dir: &Path, cuts: Vec<Cut>, caller: &str) -> PathBuf {
    let path = dir.join("plan.yaml");
    crate::plan::file::write(&path, &plan_of(cuts, caller)).unwrap();
    path
}

fn plan_of(cuts: Vec<Cut>, caller: &str) -> Plan {
    Plan {
        version: FORMAT_VERSION,
        account: ACCOUNT.into(),
        created: "2026-11-29T00:00:00Z".into(),
        tool_version: "0".into(),
        regions: vec!["us-east-1".into()],
        caller: caller.into(),
        keep_cidrs: vec![],
        options: Default::default(),
        selection: vec![],
        organization: None,
        role: None,
        discovery_errors: vec![],
        findings: vec![],
        cuts,
        members: vec![],
    }
}

/// An operator who answers as told and remembers what it was asked.
#[derive(Default)]
struct Scripted {
    decline: bool,
    asked: Mutex<Vec<String>>,
}

impl Operator for Scripted {
    fn review_apply(&self, _plan: &Plan, _left_out: &[crate::engine::apply::LeftOut]) {
        self.asked.lock().unwrap().push("review apply".into());
    }

    fn confirm_apply(&self, confirmation: &ApplyConfirmation<'_>) -> Result<(), String> {
        self.asked.lock().unwrap().push(format!(
            "confirm apply (irreversible: {:?}, resuming: {})",
            confirmation.irreversible,
            confirmation.resuming.is_some()
        ));
        if self.decline {
            Err("declined".into())
        } else {
            Ok(())
        }
    }

    fn review_restore(&self, work: &RestoreWork) {
        self.asked
            .lock()
            .unwrap()
            .push(format!("review restore ({} kept)", work.kept.len()));
    }

    fn confirm_restore(&self, _account: &str, work: &RestoreWork) -> Result<(), String> {
        // For a file that did not authenticate: how many pending cuts still have their states, to be
        // shown whole.
        let whole = if work.unauthenticated {
            let shown = work
                .pending
                .iter()
                .filter(|item| !item.cut.before.is_null())
                .count();
            format!(", unauthenticated, {shown} shown whole")
        } else {
            String::new()
        };
        self.asked.lock().unwrap().push(format!(
            "confirm restore ({} pending{whole})",
            work.pending.len()
        ));
        if self.decline {
            Err("declined".into())
        } else {
            Ok(())
        }
    }
}

fn live_with(pairs: &[(&str, &str)]) -> Live {
    Arc::new(Mutex::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    ))
}

/// Each test's rollback keys live in its own directory, never in the user's state directory.
fn keys_beside(path: &Path) -> crate::journal::keys::KeyStore {
    crate::journal::keys::KeyStore::in_dir(&path.parent().unwrap().join("keys"))
}

fn request(plan: &Path) -> ApplyRequest {
    ApplyRequest {
        plan: plan.to_path_buf(),
        parallelism: super::Parallelism::AtMost(2),
        keys: keys_beside(plan),
        ..ApplyRequest::default()
    }
}

async fn apply_run(
    live: &Live,
    account: &'static str,
    request: &ApplyRequest,
    operator: &Scripted,
) -> Result<ApplyRun, EngineError> {
    apply::run(
        &session_as(account),
        &registry(live),
        request,
        operator,
        None,
        &RecordingReporter::default(),
    )
    .await
}

/// Applies the plan at `plan` as the test account's caller, expecting a run that applied: its outcome,
/// and the warnings it gave on the way.
async fn applied_with_warnings(live: &Live, plan: &Path) -> (apply::ApplyOutcome, Vec<String>) {
    let reporter = RecordingReporter::default();
    let run = apply::run(
        &session_as(ACCOUNT),
        &registry(live),
        &request(plan),
        &Scripted::default(),
        None,
        &reporter,
    )
    .await
    .unwrap();
    let ApplyRun::Applied { outcome, .. } = run else {
        panic!("expected the other cuts to be applied: {run:?}");
    };
    (outcome, warnings_of(&reporter))
}

/// The messages of the warnings `reporter` was given, in order.
fn warnings_of(reporter: &RecordingReporter) -> Vec<String> {
    reporter
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|event| match event {
            crate::report::Event::Warning { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn drift_is_refused_before_the_operator_is_asked_and_nothing_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("switch_off", "b", "on", "off", true),
        ],
    );
    // `b` changed after the plan was made.
    let live = live_with(&[("a", "on"), ("b", "changed")]);
    let operator = Scripted::default();
    let err = apply_run(&live, ACCOUNT, &request(&plan), &operator)
        .await
        .unwrap_err();
    let EngineError::Drift { drift, .. } = &err else {
        panic!("expected a drift refusal, got {err}");
    };
    assert_eq!(drift.drifted.len(), 1);
    assert_eq!(drift.drifted[0].id, "switch_off/us-east-1/b");
    assert!(err.to_string().contains("Nothing was changed"), "{err}");
    assert!(operator.asked.lock().unwrap().is_empty());
    assert!(!apply::default_rollback_path(&plan).exists());
    assert_eq!(live.lock().unwrap()["a"], "on");
}

#[tokio::test]
async fn another_accounts_credentials_are_refused_before_anything_is_observed() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    let operator = Scripted::default();
    let err = apply_run(&live, "999999999999", &request(&plan), &operator)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::WrongAccount { actual, .. } if actual == "999999999999"),
        "{err}"
    );
    assert!(operator.asked.lock().unwrap().is_empty());
    assert!(!apply::default_rollback_path(&plan).exists());
}

#[tokio::test]
async fn an_enabled_irreversible_cut_is_refused_unless_allowed_and_then_named_in_the_confirmation()
{
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("delete_forever", "b", "here", "gone", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("b", "here")]);
    let operator = Scripted::default();
    let err = apply_run(&live, ACCOUNT, &request(&plan), &operator)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Irreversible { ids, .. } if ids == &["delete_forever/us-east-1/b"]),
        "{err}"
    );
    // Shown the plan (the refusal refers to it), never asked to confirm; nothing changed.
    assert_eq!(*operator.asked.lock().unwrap(), ["review apply"]);
    assert_eq!(live.lock().unwrap()["b"], "here");
    assert!(!apply::default_rollback_path(&plan).exists());

    let allowed = ApplyRequest {
        allow_irreversible: true,
        ..request(&plan)
    };
    let operator = Scripted::default();
    let run = apply_run(&live, ACCOUNT, &allowed, &operator)
        .await
        .unwrap();
    assert!(matches!(run, ApplyRun::Applied { .. }));
    assert_eq!(
        operator.asked.lock().unwrap()[1],
        "confirm apply (irreversible: [\"delete_forever/us-east-1/b\"], resuming: false)"
    );
    assert_eq!(live.lock().unwrap()["b"], "gone");
}

#[tokio::test]
async fn a_declined_confirmation_changes_nothing_and_writes_no_rollback_file() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    let operator = Scripted {
        decline: true,
        ..Scripted::default()
    };
    let err = apply_run(&live, ACCOUNT, &request(&plan), &operator)
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Declined(_)), "{err}");
    assert_eq!(live.lock().unwrap()["a"], "on");
    assert!(!apply::default_rollback_path(&plan).exists());
}

#[tokio::test]
async fn a_plan_with_every_cut_disabled_applies_nothing_and_asks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", false)]);
    let live = live_with(&[("a", "on")]);
    let operator = Scripted::default();
    let run = apply_run(&live, ACCOUNT, &request(&plan), &operator)
        .await
        .unwrap();
    assert!(matches!(run, ApplyRun::NothingToApply { .. }));
    assert_eq!(*operator.asked.lock().unwrap(), ["review apply"]);
    assert!(!apply::default_rollback_path(&plan).exists());
}

#[tokio::test]
async fn the_journal_records_the_hash_of_the_plan_bytes_that_were_applied() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let bytes = std::fs::read(&plan).unwrap();
    let live = live_with(&[("a", "on")]);
    let run = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let ApplyRun::Applied {
        rollback, outcome, ..
    } = run
    else {
        panic!("expected the cut to be applied");
    };
    assert_eq!(outcome.done, ["switch_off/us-east-1/a"]);
    let (contents, _) =
        crate::journal::read_path(&rollback, &keys_beside(&rollback), false).unwrap();
    let Some(crate::journal::Entry::Header { plan_sha256, .. }) = contents.header() else {
        panic!("the rollback file starts with its header");
    };
    assert_eq!(
        plan_sha256,
        &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
}

#[tokio::test]
async fn a_rollback_file_of_another_plan_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    // The same path now holds another plan: the rollback file beside it is not this plan's.
    let other = write_plan(dir.path(), vec![cut("switch_off", "b", "on", "off", true)]);
    live.lock().unwrap().insert("b".into(), "on".into());
    let operator = Scripted::default();
    let err = apply_run(&live, ACCOUNT, &request(&other), &operator)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::NotResumable { why, .. } if why.contains("another plan")),
        "{err}"
    );
    assert!(operator.asked.lock().unwrap().is_empty());
    assert_eq!(live.lock().unwrap()["b"], "on");
}

/// A restore of `rollback` with the key apply wrote beside it.
fn restore_request(rollback: &Path) -> RestoreRequest {
    RestoreRequest {
        rollback: rollback.to_path_buf(),
        keys: keys_beside(rollback),
        ..RestoreRequest::default()
    }
}

async fn restore_run(
    live: &Live,
    request: &RestoreRequest,
    operator: &Scripted,
) -> Result<RestoreRun, EngineError> {
    restore::run(
        &session_as(ACCOUNT),
        &registry(live),
        request,
        operator,
        None,
        &RecordingReporter::default(),
    )
    .await
}

#[tokio::test]
async fn restore_keeps_gated_cuts_unless_their_flag_is_given_and_asks_before_undoing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("gated_switch", "g", "open", "shut", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("g", "open")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let rollback = apply::default_rollback_path(&plan);

    let declining = Scripted {
        decline: true,
        ..Scripted::default()
    };
    let request = restore_request(&rollback);
    let err = restore_run(&live, &request, &declining).await.unwrap_err();
    assert!(matches!(err, EngineError::Declined(_)), "{err}");
    assert_eq!(live.lock().unwrap()["a"], "off");

    let operator = Scripted::default();
    let run = restore_run(&live, &request, &operator).await.unwrap();
    let RestoreRun::Restored { work, outcome } = run else {
        panic!("expected a restore");
    };
    assert_eq!(outcome.restored, ["switch_off/us-east-1/a"]);
    assert_eq!(work.kept.len(), 1);
    assert_eq!(live.lock().unwrap()["a"], "on");
    assert_eq!(live.lock().unwrap()["g"], "shut");

    let lifted = RestoreRequest {
        lifted: vec![GATE.flag.to_string()],
        ..request
    };
    let run = restore_run(&live, &lifted, &Scripted::default())
        .await
        .unwrap();
    assert!(matches!(run, RestoreRun::Restored { .. }));
    assert_eq!(live.lock().unwrap()["g"], "open");
}

/// Issue 12: a plan made by one principal and applied by another used to deactivate the applier's own
/// key. The applier's own access is left out, said in a warning and in the cut's reason.
#[tokio::test]
async fn the_applying_principal_is_never_cut_whoever_made_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let applier = format!("arn:aws:iam::{ACCOUNT}:user/responder");
    let plan = write_plan_by(
        dir.path(),
        vec![
            cut("switch_off", &applier, "on", "off", true),
            cut("switch_off", "a", "on", "off", true),
        ],
        &format!("arn:aws:iam::{ACCOUNT}:user/planner"),
    );
    let live = live_with(&[(applier.as_str(), "on"), ("a", "on")]);
    let (outcome, warnings) = applied_with_warnings(&live, &plan).await;
    assert_eq!(outcome.done, ["switch_off/us-east-1/a"]);
    assert_eq!(
        live.lock().unwrap()[&applier],
        "on",
        "the applier keeps its access"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("but the plan was made by arn:aws:iam::123456789012:user/planner")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("is left out: it would cut the access of")),
        "{warnings:?}"
    );
}

/// A plan the planner made, of the test's responder's chain (`<responder ARN>/chain`, a role only a live
/// read shows their session came through), `a`, a gated kind's `cannot-tell` (whose live read fails for
/// the responder) and `gated` of the same kind; and the account with all of them open.
fn planned_around_the_responders_chain(dir: &Path, gated: &[&str]) -> (PathBuf, String, Live) {
    let chain = format!("arn:aws:iam::{ACCOUNT}:user/responder/chain");
    let mut cuts = vec![
        cut("switch_off", &chain, "on", "off", true),
        cut("switch_off", "a", "on", "off", true),
        cut("gated_switch", "cannot-tell", "open", "shut", true),
    ];
    let mut open = vec![(chain.as_str(), "on"), ("a", "on"), ("cannot-tell", "open")];
    for target in gated {
        cuts.push(cut("gated_switch", target, "open", "shut", true));
        open.push((target, "open"));
    }
    let plan = write_plan_by(dir, cuts, &format!("arn:aws:iam::{ACCOUNT}:user/planner"));
    let live = live_with(&open);
    (plan, chain, live)
}

/// What only a live read shows (a role the applier's session came through, named in its role's trust
/// policy) is asked of each kind when the applier is not the planner: such a cut is left out with the
/// kind's reason, and a kind that cannot tell has all its cuts left out, while other kinds' cuts go ahead.
#[tokio::test]
async fn cuts_a_live_read_shows_would_cut_off_the_applier_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let applier = format!("arn:aws:iam::{ACCOUNT}:user/responder");
    let (plan, chain, live) = planned_around_the_responders_chain(dir.path(), &["g"]);
    let (outcome, warnings) = applied_with_warnings(&live, &plan).await;
    assert_eq!(outcome.done, ["switch_off/us-east-1/a"]);
    let live = live.lock().unwrap();
    assert_eq!(
        live[&chain], "on",
        "the role the applier came through stays"
    );
    assert_eq!(live["g"], "open", "a kind that cannot tell cuts nothing");
    assert!(
        warnings.contains(&format!(
            "switch_off/us-east-1/{chain} is left out: the applier came through it"
        )),
        "{warnings:?}"
    );
    assert!(
        warnings.contains(&format!(
            "gated_switch/us-east-1/g is left out: whether it would cut the access of {applier}, who is applying, could not be read (test:Read failed: denied)"
        )),
        "{warnings:?}"
    );
}

/// A cut its kind refuses whoever applies (restore could not give back what it would overwrite) is left
/// out before anything is journaled: no intent of it is in the rollback file, so restore never undoes
/// it, and its resource is untouched; the other cuts go ahead.
#[tokio::test]
async fn a_cut_its_kind_refuses_is_left_out_before_anything_is_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "unrestorable", "on", "off", true),
            cut("switch_off", "a", "on", "off", true),
        ],
    );
    let live = live_with(&[("unrestorable", "on"), ("a", "on")]);
    let (outcome, warnings) = applied_with_warnings(&live, &plan).await;
    assert_eq!(outcome.done, ["switch_off/us-east-1/a"]);
    assert_eq!(live.lock().unwrap()["unrestorable"], "on");
    let journal = std::fs::read_to_string(dir.path().join("plan.rollback.yaml")).unwrap();
    assert!(
        !journal
            .lines()
            .any(|line| line.contains("\"entry\":\"intent\"")
                && line.contains("switch_off/us-east-1/unrestorable")),
        "no intent of it, only its skip: {journal}"
    );
    assert!(
        warnings.contains(
            &"switch_off/us-east-1/unrestorable is left out: restore could not give it back"
                .to_string()
        ),
        "{warnings:?}"
    );
}

/// Issue 12: an `after` edited in the plan used to be obeyed. Apply derives each cut's effect from the
/// live resource by the kind's rule, and refuses a plan that says otherwise, naming the cut and field.
#[tokio::test]
async fn an_edited_after_is_refused_naming_the_cut_and_the_field_and_nothing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("switch_off", "b", "on", "wide open", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("b", "on")]);
    let operator = Scripted::default();
    let err = apply_run(&live, ACCOUNT, &request(&plan), &operator)
        .await
        .unwrap_err();
    let EngineError::Underived { underived, .. } = &err else {
        panic!("expected a refusal of the edited cut, got {err}");
    };
    assert_eq!(underived.len(), 1, "{err}");
    assert_eq!(underived[0].id, "switch_off/us-east-1/b");
    let message = err.to_string();
    assert!(
        message
            .contains("`after.value` is \"wide open\" in the plan, but the kind derives \"off\""),
        "{message}"
    );
    assert_eq!(live.lock().unwrap()["a"], "on", "nothing was cut");
    assert!(
        operator.asked.lock().unwrap().is_empty(),
        "refused before asking"
    );
    assert!(!apply::default_rollback_path(&plan).exists());
}

/// A rollback file at `rollback` with only its header: the test account's, by the test's responder.
fn new_rollback_file(rollback: &Path) -> crate::journal::Journal {
    use crate::journal::{Entry, Journal, lock::RollbackFile};
    Journal::create(
        RollbackFile::open_or_create(rollback).unwrap(),
        Entry::Header {
            format: crate::journal::FORMAT_VERSION,
            account: ACCOUNT.into(),
            caller: format!("arn:aws:iam::{ACCOUNT}:user/responder"),
            plan: "plan.yaml".into(),
            plan_sha256: "0".into(),
            tool_version: "0".into(),
            key: None,
            member_role: None,
        },
        &keys_beside(rollback),
    )
    .unwrap()
}

/// Issue 12: restore followed a `done` entry's undo record as written. Even in an authenticated file (a
/// key that leaked, a bug), an undo record that is not the one its cut implies (another target, another
/// value) is refused, naming the entry, and nothing is put back.
#[tokio::test]
async fn an_undo_record_that_is_not_the_one_its_cut_implies_is_refused() {
    use crate::journal::Entry;
    let dir = tempfile::tempdir().unwrap();
    let rollback = dir.path().join("p.rollback.yaml");
    let planned = cut("switch_off", "a", "on", "off", true);
    let mut journal = new_rollback_file(&rollback);
    journal.append(Entry::Intent { cut: planned }).unwrap();
    journal
        .append(Entry::Done {
            id: "switch_off/us-east-1/a".into(),
            undo: serde_json::json!({"target": "other", "value": "wide open"}).into(),
        })
        .unwrap();
    drop(journal);
    let live = live_with(&[("a", "off"), ("other", "shut")]);
    let request = restore_request(&rollback);
    let err = restore_run(&live, &request, &Scripted::default())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("entry 2 (completion of switch_off/us-east-1/a)"),
        "{message}"
    );
    assert!(
        message
            .contains("`undo.target` is \"other\" in the rollback file, but the cut implies \"a\""),
        "{message}"
    );
    assert_eq!(
        live.lock().unwrap()["other"],
        "shut",
        "nothing was put back"
    );
    assert_eq!(live.lock().unwrap()["a"], "off");
}

/// The kinds of a rollback file's entries, in order: what a run journaled, told at a glance.
fn entry_kinds(rollback: &std::path::Path) -> Vec<&'static str> {
    use crate::journal::Entry;
    crate::journal::read_path(rollback, &keys_beside(rollback), false)
        .unwrap()
        .0
        .records
        .iter()
        .map(|record| match record.entry {
            Entry::Header { .. } => "header",
            Entry::Intent { .. } => "intent",
            Entry::Done { .. } => "done",
            Entry::Failed { .. } => "failed",
            _ => "other",
        })
        .collect()
}

/// Three applies of one plan: the first cuts it, the second finds it changed since and journals it
/// failed, the third finds it cut again. That failure, after the completion with no intent between, does
/// not make the cut uncertain (which a resumed run may rewind): the third run checks it as done and skips
/// it. Restore gives the cut back: the file is the one apply wrote. (A second completion is still
/// checked as the first: the next test.)
#[tokio::test]
async fn a_cut_found_changed_since_then_cut_again_stays_done_and_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    for value_before_the_run in ["on", "changed", "off"] {
        live.lock()
            .unwrap()
            .insert("a".into(), value_before_the_run.into());
        apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
            .await
            .unwrap();
    }
    let rollback = dir.path().join("plan.rollback.yaml");
    assert_eq!(
        entry_kinds(&rollback),
        ["header", "intent", "done", "failed"]
    );

    let restored = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap();
    let RestoreRun::Restored { outcome, .. } = restored else {
        panic!("restore ran: {restored:?}");
    };
    assert_eq!(
        outcome.restored,
        [Cut::expected_id("switch_off", "us-east-1", "a")]
    );
    assert_eq!(live.lock().unwrap()["a"], "on");
}

/// A resumed apply that cannot read a cut the rollback file records done reports it unchecked and
/// journals nothing over the completion: before, it journaled the cut failed, and the next resume took
/// the cut for one never completed, which it may rewind.
#[tokio::test]
async fn a_done_cut_that_cannot_be_read_on_resume_stays_done_in_the_journal() {
    // The temporary directory stays bound: dropped, it would take the plan and rollback file with it.
    let AppliedSwitch {
        _dir,
        plan,
        rollback,
        live,
        ..
    } = AppliedSwitch::new().await;
    let entries = || entry_kinds(&rollback);
    assert_eq!(entries(), ["header", "intent", "done"]);
    live.lock().unwrap().insert("a".into(), "unreadable".into());
    let run = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default()).await;
    let Ok(ApplyRun::Applied { outcome, .. }) = &run else {
        panic!("the run goes on, the cut reported: {run:?}");
    };
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert!(
        outcome.failed[0]
            .1
            .contains("could not be read to confirm it"),
        "{outcome:?}"
    );
    assert_eq!(
        entries(),
        ["header", "intent", "done"],
        "nothing journaled over the completion: {run:?}"
    );
    live.lock().unwrap().insert("a".into(), "off".into());
    let run = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let ApplyRun::Applied { outcome, .. } = run else {
        panic!("applied: {run:?}");
    };
    assert_eq!(
        outcome.already_done,
        [Cut::expected_id("switch_off", "us-east-1", "a")]
    );
    assert_eq!(entries(), ["header", "intent", "done"]);
}

/// A second completion of a cut is checked against the cut itself, as the first is: one whose undo
/// record names another resource is refused, for what it is, and `--force` leaves the cut out as the
/// refusal says.
#[tokio::test]
async fn a_second_completion_that_is_not_the_one_its_cut_implies_is_refused_even_with_force() {
    use crate::journal::Entry;
    let dir = tempfile::tempdir().unwrap();
    let rollback = dir.path().join("p.rollback.yaml");
    let id = Cut::expected_id("switch_off", "us-east-1", "a");
    let mut journal = new_rollback_file(&rollback);
    for entry in [
        Entry::Intent {
            cut: cut("switch_off", "a", "on", "off", true),
        },
        Entry::Done {
            id: id.clone(),
            undo: serde_json::json!({"target": "a", "value": "on"}).into(),
        },
        Entry::Failed {
            id: id.clone(),
            error: "changed since".into(),
            changed_nothing: false,
        },
        Entry::Done {
            id: id.clone(),
            undo: serde_json::json!({"target": "other", "value": "wide open"}).into(),
        },
    ] {
        journal.append(entry).unwrap();
    }
    drop(journal);
    let live = live_with(&[("a", "off"), ("other", "shut")]);

    let err = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("entry 4 (completion of switch_off/us-east-1/a)"),
        "{message}"
    );
    assert!(
        message
            .contains("`undo.target` is \"other\" in the rollback file, but the cut implies \"a\""),
        "{message}"
    );
    assert!(
        message.contains("even --force does not carry it out"),
        "{message}"
    );

    let forced = RestoreRequest {
        force: true,
        ..restore_request(&rollback)
    };
    let run = restore_run(&live, &forced, &Scripted::default())
        .await
        .unwrap();
    let RestoreRun::NothingToRestore { work } = run else {
        panic!("expected the cut left out, and nothing else to restore: {run:?}");
    };
    let refused: Vec<&str> = work.refused.iter().map(|item| item.id.as_str()).collect();
    assert_eq!(refused, [id.as_str()]);
    let live = live.lock().unwrap();
    assert_eq!(
        (live["a"].as_str(), live["other"].as_str()),
        ("off", "shut"),
        "nothing was put back"
    );
}

/// An apply killed while creating its rollback file (older hikkonuki wrote the comment at its top and its
/// header apart) left only the comment, perhaps with the header's line cut short: nothing was recorded,
/// so nothing was cut. Restore finds nothing to restore and apply starts the file afresh, where both
/// refused it; a file whose first whole entry is not a header is still refused by both.
#[tokio::test]
async fn a_rollback_file_holding_only_its_preamble_is_nothing_to_restore_and_applied_afresh() {
    use crate::journal::PREAMBLE;
    for left in [
        PREAMBLE.to_string(),
        format!("{PREAMBLE}- {{\"seq\":0,\"prev\":\"\",\"at\":\"2026-"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
        let live = live_with(&[("a", "on")]);
        let rollback = dir.path().join("plan.rollback.yaml");
        std::fs::write(&rollback, &left).unwrap();

        let run = restore_run(&live, &restore_request(&rollback), &Scripted::default())
            .await
            .unwrap();
        assert!(
            matches!(run, RestoreRun::NothingToRestore { .. }),
            "{run:?}"
        );
        let applied = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
            .await
            .unwrap();
        assert!(matches!(applied, ApplyRun::Applied { .. }), "{applied:?}");
        assert_eq!(live.lock().unwrap()["a"], "off");
        let restored = restore_run(&live, &restore_request(&rollback), &Scripted::default())
            .await
            .unwrap();
        assert!(
            matches!(restored, RestoreRun::Restored { .. }),
            "{restored:?}"
        );
        assert_eq!(live.lock().unwrap()["a"], "on");
    }

    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    let rollback = dir.path().join("plan.rollback.yaml");
    let not_a_header = format!(
        "{PREAMBLE}- {{\"seq\":0,\"prev\":\"\",\"at\":\"2026-01-01T00:00:00Z\",\"entry\":\"restored\",\"id\":\"x\",\"notes\":[]}}\n"
    );
    std::fs::write(&rollback, &not_a_header).unwrap();
    let err = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not start with a header entry"),
        "{err}"
    );
    let err = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotResumable { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&rollback).unwrap(), not_a_header);
    assert_eq!(live.lock().unwrap()["a"], "on", "nothing was cut");
}

/// Apply's look before any cut reads each (region, kind) through one discovery, which answers both the
/// drift check and the derivation for every resource it still proposes a cut for. Only the cuts it no
/// longer proposes are observed one by one: each is drift (changed or gone) or underived (unchanged,
/// but the rule now leaves it alone).
#[tokio::test]
async fn the_live_check_observes_only_the_cuts_discovery_no_longer_proposes() {
    let live = live_with(&[
        ("same", "on"),
        ("changed_still_proposed", "open"),
        ("changed_not_proposed", "changed"),
        ("unchanged_not_proposed", "off"),
        ("edited", "on"),
    ]);
    let observed: Arc<std::sync::atomic::AtomicUsize> = Default::default();
    let registry = Registry::of_kinds(vec![Box::new(Switch {
        info: &SWITCH,
        live: live.clone(),
        gate: None,
        observed: observed.clone(),
    })]);
    let plan = plan_of(
        vec![
            cut("switch_off", "same", "on", "off", true),
            cut("switch_off", "changed_still_proposed", "on", "off", true),
            cut("switch_off", "changed_not_proposed", "on", "off", true),
            cut("switch_off", "unchanged_not_proposed", "off", "x", true),
            cut("switch_off", "gone", "on", "off", true),
            cut("switch_off", "edited", "on", "shut", true),
        ],
        &format!("arn:aws:iam::{ACCOUNT}:user/responder"),
    );
    let (drift, underived) = apply::check_live(
        &session_as(ACCOUNT),
        &registry,
        &plan,
        &Default::default(),
        2,
    )
    .await;
    let id = |target: &str| Cut::expected_id("switch_off", "us-east-1", target);
    let drifted: Vec<(&str, &serde_json::Value)> = drift
        .drifted
        .iter()
        .map(|d| (d.id.as_str(), &d.live))
        .collect();
    assert_eq!(
        drifted,
        [
            (
                id("changed_still_proposed").as_str(),
                &serde_json::json!({"value": "open"})
            ),
            (
                id("changed_not_proposed").as_str(),
                &serde_json::json!({"value": "changed"})
            ),
            (id("gone").as_str(), &serde_json::Value::Null),
        ]
    );
    assert!(drift.unverifiable.is_empty());
    let underived: Vec<(&str, &str)> = underived
        .iter()
        .map(|u| (u.id.as_str(), u.problem.as_str()))
        .collect();
    assert_eq!(underived.len(), 2, "{underived:?}");
    assert_eq!(underived[0].0, id("unchanged_not_proposed"));
    assert!(
        underived[0].1.contains("no longer proposes"),
        "{underived:?}"
    );
    assert_eq!(underived[1].0, id("edited"));
    assert!(underived[1].1.contains("`after.value`"), "{underived:?}");
    assert_eq!(
        observed.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "only the three cuts discovery no longer proposes are observed"
    );
}

/// `--skip-drifted`: the drifted cut is left out, named with what changed, and the rest is applied and
/// journaled; restore then gives back exactly what was cut.
#[tokio::test]
async fn with_skip_drifted_a_drifted_cut_is_left_out_and_the_rest_applied() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("switch_off", "b", "on", "off", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("b", "changed")]);
    let skipping = ApplyRequest {
        skip_drifted: true,
        ..request(&plan)
    };
    let operator = Scripted::default();
    let run = apply_run(&live, ACCOUNT, &skipping, &operator)
        .await
        .unwrap();
    let ApplyRun::Applied {
        outcome,
        left_out,
        rollback,
        ..
    } = run
    else {
        panic!("expected an apply");
    };
    assert_eq!(outcome.done, ["switch_off/us-east-1/a"]);
    assert_eq!(left_out.len(), 1);
    assert_eq!(left_out[0].id, "switch_off/us-east-1/b");
    let apply::LeftOutBecause::Drifted(drift) = &left_out[0].because else {
        panic!("left out as drifted: {:?}", left_out[0]);
    };
    assert_eq!(drift.live, serde_json::json!({ "value": "changed" }));
    assert_eq!(live.lock().unwrap()["a"], "off");
    assert_eq!(live.lock().unwrap()["b"], "changed", "never touched");
    let journal = std::fs::read_to_string(&rollback).unwrap();
    assert!(!journal.contains("us-east-1/b"), "{journal}");

    let request = restore_request(&rollback);
    restore_run(&live, &request, &Scripted::default())
        .await
        .unwrap();
    assert_eq!(live.lock().unwrap()["a"], "on");
    assert_eq!(live.lock().unwrap()["b"], "changed");
}

/// `--skip-drifted` never covers an edited plan: an `after` the kind would not derive from an unchanged
/// resource is refused as before.
#[tokio::test]
async fn skip_drifted_still_refuses_a_cut_whose_effect_was_edited() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "ON AND MORE", true),
            cut("switch_off", "b", "on", "off", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("b", "changed")]);
    let skipping = ApplyRequest {
        skip_drifted: true,
        ..request(&plan)
    };
    let err = apply_run(&live, ACCOUNT, &skipping, &Scripted::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Underived { underived, .. } if underived.len() == 1 && underived[0].id == "switch_off/us-east-1/a"),
        "{err}"
    );
    assert_eq!(live.lock().unwrap()["a"], "on");
    assert!(!apply::default_rollback_path(&plan).exists());
}

/// A selection takes only matching enabled cuts, never a disabled one; the rest are left out and
/// neither observed (their drift does not matter) nor journaled.
#[tokio::test]
async fn a_selection_applies_only_the_matching_enabled_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a1", "on", "off", true),
            cut("switch_off", "a2", "on", "off", false),
            cut("switch_off", "b", "on", "off", true),
            cut("gated_switch", "a3", "open", "shut", true),
        ],
    );
    // `b` drifted, but it is not selected: the plan is still applied.
    let live = live_with(&[("a1", "on"), ("a2", "on"), ("b", "changed"), ("a3", "open")]);
    let known = ["switch_off", "delete_forever", "gated_switch"];
    let selected = ApplyRequest {
        selection: crate::plan::select::Selection::new(
            Some("switch_off"),
            None,
            &["a*".into()],
            &known,
        )
        .unwrap(),
        ..request(&plan)
    };
    let run = apply_run(&live, ACCOUNT, &selected, &Scripted::default())
        .await
        .unwrap();
    let ApplyRun::Applied {
        outcome, left_out, ..
    } = run
    else {
        panic!("expected an apply");
    };
    assert_eq!(outcome.done, ["switch_off/us-east-1/a1"]);
    let mut left: Vec<&str> = left_out.iter().map(|l| l.id.as_str()).collect();
    left.sort();
    assert_eq!(
        left,
        ["gated_switch/us-east-1/a3", "switch_off/us-east-1/b"],
        "the disabled a2 is not counted: the plan already leaves it out"
    );
    assert!(
        left_out[0]
            .because
            .describe()
            .contains("not selected by --kinds switch_off --target a*")
    );
    assert_eq!(live.lock().unwrap()["a2"], "on");
    assert_eq!(live.lock().unwrap()["a3"], "open");
}

/// `restore --dry-run` runs every check, shows what would be put back, and changes nothing: neither the
/// account nor the rollback file.
#[tokio::test]
async fn a_restore_dry_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    let run = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let ApplyRun::Applied { rollback, .. } = run else {
        panic!("expected an apply");
    };
    let journal_before = std::fs::read(&rollback).unwrap();
    let dry = RestoreRequest {
        dry_run: true,
        ..restore_request(&rollback)
    };
    let operator = Scripted::default();
    let run = restore_run(&live, &dry, &operator).await.unwrap();
    let RestoreRun::DryRun { work } = run else {
        panic!("expected a dry run");
    };
    assert_eq!(work.pending.len(), 1);
    assert_eq!(
        work.pending[0].cut.before,
        serde_json::json!({ "value": "on" })
    );
    assert_eq!(*operator.asked.lock().unwrap(), ["review restore (0 kept)"]);
    assert_eq!(live.lock().unwrap()["a"], "off");
    assert_eq!(std::fs::read(&rollback).unwrap(), journal_before);
}

fn watch_request(rollback: &Path, recut: bool) -> super::watch::WatchRequest {
    super::watch::WatchRequest {
        rollback: rollback.to_path_buf(),
        keys: keys_beside(rollback),
        recut,
        parallelism: super::Parallelism::AtMost(2),
    }
}

#[tokio::test]
async fn a_cut_reopened_under_a_new_identifier_is_re_cut_as_a_new_generation_and_restore_undoes_both()
 {
    use super::watch::{self, Verdict};
    let AppliedSwitch {
        _dir,
        rollback,
        live,
        id,
        ..
    } = AppliedSwitch::new().await;

    // Someone re-creates what was cut; it comes back under a new identifier.
    live.lock().unwrap().insert("a".into(), "on-2".into());
    let looked = watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, false),
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        looked.watched[0].verdict,
        Verdict::Reopened(serde_json::json!({"value": "on-2"}))
    );
    assert_eq!(
        live.lock().unwrap()["a"],
        "on-2",
        "watch alone changes nothing"
    );

    let recut = watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, true),
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(recut.watched[0].recut, Some(Ok(())));
    assert_eq!(live.lock().unwrap()["a"], "off");

    // Two generations, newest first: the re-cut (from `on-2`), then apply's cut (from `on`).
    let contents = crate::journal::read_path(&rollback, &keys_beside(&rollback), false)
        .unwrap()
        .0;
    let work = restore::pending(&contents, &registry(&live), &[]).unwrap();
    let generations: Vec<(usize, serde_json::Value)> = work
        .pending
        .iter()
        .map(|item| (item.generation, item.cut.before.value()))
        .collect();
    assert_eq!(
        generations,
        vec![
            (2, serde_json::json!({"value": "on-2"})),
            (1, serde_json::json!({"value": "on"}))
        ]
    );
    assert_eq!(work.in_force().len(), 1, "watch looks at the newest only");
    assert_eq!(work.in_force()[0].id, id);

    // Watch again: the newest generation holds.
    let held = watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, false),
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(held.watched.len(), 1);
    assert_eq!(held.watched[0].verdict, Verdict::Held);

    // Restore undoes both, newest first, and ends where apply began.
    let restored = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap();
    let RestoreRun::Restored { outcome, .. } = restored else {
        panic!("restore ran: {restored:?}");
    };
    assert_eq!(outcome.restored, vec![id.clone(), id.clone()]);
    assert_eq!(live.lock().unwrap()["a"], "on");
    let contents = crate::journal::read_path(&rollback, &keys_beside(&rollback), false)
        .unwrap()
        .0;
    assert!(
        restore::pending(&contents, &registry(&live), &[])
            .unwrap()
            .pending
            .is_empty()
    );
}

/// Rewrites the rollback file's entries of one cut with `edit` (the key's codes no longer match).
fn edit_entries(rollback: &Path, id: &str, edit: impl Fn(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(rollback).unwrap();
    let edited: String = text
        .lines()
        .map(|line| match line.strip_prefix("- ") {
            Some(json) => {
                let mut record: serde_json::Value = serde_json::from_str(json).unwrap();
                let of_cut = record["id"] == id || record["cut"]["id"] == id;
                if of_cut {
                    edit(&mut record);
                }
                format!("- {record}\n")
            }
            None => format!("{line}\n"),
        })
        .collect();
    assert_ne!(edited, text, "{id} has entries to edit");
    std::fs::write(rollback, edited).unwrap();
}

#[tokio::test]
async fn force_restores_an_unauthenticated_file_but_never_an_entry_apply_could_not_have_written() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("switch_off", "b", "on", "off", true),
            cut("switch_off", "c", "on", "off", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("b", "on"), ("c", "on")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let rollback = dir.path().join("plan.rollback.yaml");
    // a: the completion's undo record puts back more than the cut took.
    edit_entries(&rollback, "switch_off/us-east-1/a", |record| {
        if record["entry"] == "done" {
            record["undo"]["value"] = "wide-open".into();
        }
    });
    // b: its intent moved to a "region" that is none, ID and completion along with it.
    edit_entries(&rollback, "switch_off/us-east-1/b", |record| {
        if record["entry"] == "intent" {
            record["cut"]["region"] = "evil.example/x".into();
            record["cut"]["id"] = "switch_off/evil.example/x/b".into();
        } else {
            record["id"] = "switch_off/evil.example/x/b".into();
        }
    });

    let err = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not authenticated"), "{err}");

    let forced = RestoreRequest {
        force: true,
        ..restore_request(&rollback)
    };
    let dry = restore_run(
        &live,
        &RestoreRequest {
            dry_run: true,
            ..forced.clone()
        },
        &Scripted::default(),
    )
    .await
    .unwrap();
    let RestoreRun::DryRun { work } = dry else {
        panic!("expected a dry run: {dry:?}");
    };
    let refused: Vec<&str> = work.refused.iter().map(|item| item.id.as_str()).collect();
    assert_eq!(
        refused,
        ["switch_off/us-east-1/a", "switch_off/evil.example/x/b"]
    );
    assert!(
        work.refused[0].problem.contains("wide-open"),
        "{:?}",
        work.refused
    );
    assert!(
        work.refused[1].problem.contains("evil.example/x"),
        "{:?}",
        work.refused
    );

    assert!(work.unauthenticated);
    let operator = Scripted::default();
    let run = restore_run(&live, &forced, &operator).await.unwrap();
    let RestoreRun::Restored { outcome, .. } = run else {
        panic!("expected a restore: {run:?}");
    };
    assert_eq!(
        operator.asked.lock().unwrap()[1],
        "confirm restore (1 pending, unauthenticated, 1 shown whole)",
        "the question comes with what each cut puts back, whole"
    );
    assert_eq!(outcome.restored, ["switch_off/us-east-1/c"]);
    let failed: Vec<&str> = outcome.failed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        failed,
        ["switch_off/us-east-1/a", "switch_off/evil.example/x/b"],
        "left out, and the run does not report success"
    );
    let live = live.lock().unwrap();
    assert_eq!(
        (live["a"].as_str(), live["b"].as_str(), live["c"].as_str()),
        ("off", "off", "on"),
        "only the entry apply wrote is carried out"
    );
}

#[tokio::test]
async fn a_completed_cut_that_holds_in_another_form_is_already_done_for_every_later_apply() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
    let live = live_with(&[("a", "on")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    // What observation reads back of the completed cut is not the recorded `after` itself.
    live.lock().unwrap().insert("a".into(), "off@12:00".into());
    let id = Cut::expected_id("switch_off", "us-east-1", "a");
    for run in 0..3 {
        let again = apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
            .await
            .unwrap();
        let ApplyRun::Applied { outcome, .. } = again else {
            panic!("run {run}: {again:?}");
        };
        assert_eq!(outcome.already_done, std::slice::from_ref(&id), "run {run}");
        assert!(outcome.failed.is_empty(), "run {run}: {:?}", outcome.failed);
        assert_eq!(
            live.lock().unwrap()["a"],
            "off@12:00",
            "run {run}: never undone to be cut again"
        );
    }
}

#[tokio::test]
async fn a_rollback_file_cut_back_before_restores_entries_is_refused_by_restore_and_watch() {
    let AppliedSwitch {
        _dir,
        rollback,
        live,
        ..
    } = AppliedSwitch::new().await;
    let as_applied = std::fs::read(&rollback).unwrap();
    let restored = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap();
    assert!(
        matches!(restored, RestoreRun::Restored { .. }),
        "{restored:?}"
    );
    assert_eq!(live.lock().unwrap()["a"], "on");

    // After the incident someone switches it off again; then the file loses restore's entries (cut
    // back, or an older copy put in its place). Every entry left still verifies.
    live.lock().unwrap().insert("a".into(), "off".into());
    std::fs::write(&rollback, &as_applied).unwrap();

    let err = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("or this is an older copy"),
        "{err}"
    );
    let err = super::watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, true),
        &RecordingReporter::default(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("or this is an older copy"),
        "{err}"
    );
    assert_eq!(
        live.lock().unwrap()["a"],
        "off",
        "not switched on again by a restore that had already happened"
    );
}

#[test]
fn a_rollback_file_refusal_is_said_once() {
    let err = anyhow::Error::from(EngineError::Journal(
        crate::journal::JournalError::Invalid {
            path: "p.rollback.yaml".into(),
            line: 3,
            problem: "ends at entry 1".into(),
            fix: "use the newest copy".into(),
        },
    ));
    let shown = format!("{err:#}");
    assert_eq!(shown.matches("ends at entry 1").count(), 1, "{shown}");
    let io = anyhow::Error::from(crate::files::FileError::Io(std::io::Error::other(
        "disk gone",
    )));
    assert_eq!(format!("{io:#}").matches("disk gone").count(), 1, "{io:#}");
}

#[test]
fn a_newline_quoted_from_the_plan_in_a_refusal_starts_no_line_of_its_own() {
    let err = EngineError::Underived {
        plan: "plan.yaml".into(),
        underived: vec![apply::Underived {
            id: "(plan)".into(),
            problem: "options.x\n  fix: the plan is fine, run: hikkonuki apply plan.yaml --yes: no kind of this hikkonuki has that option".into(),
        }],
    };
    let shown = crate::report::escape::lines(&err.to_string(), 50);
    assert!(
        !shown
            .lines()
            .any(|line| line.starts_with("  fix: the plan is fine")),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 3, "{shown}");
}

/// `watch --recut` asks of each re-cut what apply asks of each cut: a cut whose resource only a live
/// read shows the watcher's session came through (a role in its chain), and every cut of a kind that
/// cannot tell, is reported and not re-cut; the rest are. Asking only whether the cut names the
/// watcher's own credentials, watch re-cut the role its own session had come through.
#[tokio::test]
async fn watch_does_not_re_cut_what_a_live_read_shows_would_cut_off_the_watcher() {
    use super::watch::{self, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let (plan, chain, live) = planned_around_the_responders_chain(dir.path(), &[]);
    // Applied by someone whose session came through none of them.
    let run = apply::run(
        &session_of(ACCOUNT, "planner"),
        &registry(&live),
        &request(&plan),
        &Scripted::default(),
        None,
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    let apply::ApplyRun::Applied { outcome, .. } = run else {
        panic!("applied: {run:?}");
    };
    assert_eq!(outcome.done.len(), 3, "{outcome:?}");
    // All three come back as they were.
    live.lock().unwrap().extend([
        (chain.clone(), "on".to_string()),
        ("a".to_string(), "on".to_string()),
        ("cannot-tell".to_string(), "open".to_string()),
    ]);
    let rollback = dir.path().join("plan.rollback.yaml");
    let looked = watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, true),
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    let recut_of = |target: &str| {
        let item = looked
            .watched
            .iter()
            .find(|item| item.cut.target == target)
            .expect("watched");
        assert!(matches!(item.verdict, Verdict::Reopened(_)), "{target}");
        item.recut.clone()
    };
    assert_eq!(
        recut_of(&chain),
        Some(Err("not re-cut: the applier came through it".to_string()))
    );
    let Some(Err(why)) = recut_of("cannot-tell") else {
        panic!("a kind that cannot tell is not re-cut");
    };
    assert!(why.contains("could not be read"), "{why}");
    assert_eq!(recut_of("a"), Some(Ok(())));
    let live = live.lock().unwrap();
    assert_eq!(
        (
            live[&chain].as_str(),
            live["a"].as_str(),
            live["cannot-tell"].as_str()
        ),
        ("on", "off", "open")
    );
}

/// A cut apply's call failed for is as it was before, cut by no one: watch says so and does not watch
/// it, where it reported it reopened and `--recut` made the cut apply never did. The cut apply made
/// beside it is watched as ever.
#[tokio::test]
async fn watch_leaves_out_a_cut_whose_apply_failed_and_never_makes_it() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "denied", "on", "off", true),
            cut("switch_off", "a", "on", "off", true),
        ],
    );
    let live = live_with(&[("denied", "on"), ("a", "on")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let rollback = dir.path().join("plan.rollback.yaml");
    let reporter = RecordingReporter::default();
    let looked = super::watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, true),
        &reporter,
    )
    .await
    .unwrap();
    let watched: Vec<&str> = looked
        .watched
        .iter()
        .map(|w| w.cut.target.as_str())
        .collect();
    assert_eq!(watched, ["a"]);
    let warnings = warnings_of(&reporter);
    assert!(
        warnings
            .iter()
            .any(|w| w
                .contains("switch_off/us-east-1/denied: not watched: apply's call for it failed")),
        "{warnings:?}"
    );
    assert_eq!(live.lock().unwrap()["denied"], "on");
}

/// Which cuts watch leaves out as never made: every attempt ended `failed`, none `done`. A cut done once
/// stays watched, whether a resumed apply later journaled `failed` for it or a re-cut by watch failed.
#[test]
fn a_cut_is_never_made_only_when_no_attempt_of_it_was_done() {
    use crate::journal::{Entry, Record};
    let record = |entry: Entry| Record {
        seq: 0,
        prev: String::new(),
        at: "2026-12-02T07:00:00Z".into(),
        entry,
        mac: None,
    };
    let intent = |target: &str| {
        record(Entry::Intent {
            cut: cut("switch_off", target, "on", "off", true),
        })
    };
    let id = |target: &str| Cut::expected_id("switch_off", "us-east-1", target);
    let failed = |target: &str| {
        record(Entry::Failed {
            id: id(target),
            error: "denied".into(),
            changed_nothing: false,
        })
    };
    let done = |target: &str| {
        record(Entry::Done {
            id: id(target),
            undo: serde_json::json!({"value": "on"}).into(),
        })
    };
    let records = vec![
        intent("refused"),
        failed("refused"),
        intent("recut-failed"),
        done("recut-failed"),
        intent("recut-failed"),
        failed("recut-failed"),
        intent("changed-since"),
        done("changed-since"),
        failed("changed-since"),
        intent("refused-then-made"),
        failed("refused-then-made"),
        intent("refused-then-made"),
        done("refused-then-made"),
    ];
    let never_made = super::watch::failed_at_apply(&records);
    assert_eq!(
        never_made,
        [id("refused")].iter().map(String::as_str).collect()
    );
}

#[tokio::test]
async fn watch_reports_a_reopened_irreversible_cut_and_never_repeats_it() {
    use super::watch::{self, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![cut("delete_forever", "b", "here", "gone", true)],
    );
    let live = live_with(&[("b", "here")]);
    let allowed = ApplyRequest {
        allow_irreversible: true,
        ..request(&plan)
    };
    apply_run(&live, ACCOUNT, &allowed, &Scripted::default())
        .await
        .unwrap();
    assert_eq!(live.lock().unwrap()["b"], "gone");
    let rollback = dir.path().join("plan.rollback.yaml");
    let journal = std::fs::read(&rollback).unwrap();

    // Someone re-creates what was deleted, exactly as it was.
    live.lock().unwrap().insert("b".into(), "here".into());
    let reporter = RecordingReporter::default();
    let looked = watch::check(
        &session_as(ACCOUNT),
        &registry(&live),
        &watch_request(&rollback, true),
        &reporter,
    )
    .await
    .unwrap();
    assert_eq!(
        looked.watched[0].verdict,
        Verdict::Reopened(serde_json::json!({"value": "here"}))
    );
    let Some(Err(why)) = &looked.watched[0].recut else {
        panic!("expected a refused re-cut: {:?}", looked.watched[0].recut);
    };
    assert!(
        why.contains("irreversible") && why.contains("--allow-irreversible"),
        "{why}"
    );
    assert_eq!(live.lock().unwrap()["b"], "here", "not deleted again");
    assert_eq!(
        std::fs::read(&rollback).unwrap(),
        journal,
        "nothing journaled: nothing was attempted"
    );
}

/// One `switch_off` cut of `a` applied, with its rollback file at hand, for tests that write further
/// entries to it as a later run would.
struct AppliedSwitch {
    _dir: tempfile::TempDir,
    plan: std::path::PathBuf,
    rollback: std::path::PathBuf,
    keys: crate::journal::keys::KeyStore,
    live: Live,
    id: String,
    /// The cut as its intent recorded it.
    applied: Cut,
}

impl AppliedSwitch {
    async fn new() -> AppliedSwitch {
        let dir = tempfile::tempdir().unwrap();
        let plan = write_plan(dir.path(), vec![cut("switch_off", "a", "on", "off", true)]);
        let live = live_with(&[("a", "on")]);
        apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
            .await
            .unwrap();
        let rollback = dir.path().join("plan.rollback.yaml");
        let keys = keys_beside(&rollback);
        let mut applied = AppliedSwitch {
            _dir: dir,
            plan,
            rollback,
            keys,
            live,
            id: Cut::expected_id("switch_off", "us-east-1", "a"),
            applied: cut("switch_off", "a", "on", "off", true),
        };
        applied.applied = applied
            .read()
            .records
            .iter()
            .find_map(|record| match &record.entry {
                crate::journal::Entry::Intent { cut } => Some(cut.clone()),
                _ => None,
            })
            .unwrap();
        applied
    }

    fn read(&self) -> crate::journal::JournalContents {
        crate::journal::read_path(&self.rollback, &self.keys, false)
            .unwrap()
            .0
    }

    /// Appends `entries`, authenticated as the file's own.
    fn append(&self, entries: Vec<crate::journal::Entry>) {
        let file = crate::journal::lock::RollbackFile::open_existing(&self.rollback).unwrap();
        let mut journal = crate::journal::Journal::reopen(file, &self.read()).unwrap();
        for entry in entries {
            journal.append(entry).unwrap();
        }
    }

    fn pending(&self) -> restore::RestoreWork {
        restore::pending(&self.read(), &registry(&self.live), &[]).unwrap()
    }
}

#[tokio::test]
async fn a_restore_stopped_between_generations_leaves_the_older_one_pending() {
    use crate::journal::Entry;
    let switch = AppliedSwitch::new().await;
    let id = switch.id.clone();

    // The same cut journaled again (a resumed apply, a re-cut of a cut back exactly as it was) is the
    // same generation: one undo gives it all back.
    switch.append(vec![Entry::Intent {
        cut: switch.applied.clone(),
    }]);
    assert_eq!(switch.pending().pending.len(), 1);

    // A re-cut from another state is a second generation; one `restored` entry ends only it.
    let second = Cut {
        before: serde_json::json!({"value": "on-2"}).into(),
        ..switch.applied.clone()
    };
    switch.append(vec![
        Entry::Intent { cut: second },
        Entry::RestoreIntent { id: id.clone() },
        Entry::Restored { id, notes: vec![] },
    ]);
    let work = switch.pending();
    assert_eq!(work.pending.len(), 1);
    assert_eq!(work.pending[0].generation, 1);
    assert_eq!(
        work.pending[0].cut.before,
        serde_json::json!({"value": "on"})
    );
}

#[tokio::test]
async fn a_parallel_restore_still_undoes_each_cuts_generations_newest_first() {
    use super::watch;
    let dir = tempfile::tempdir().unwrap();
    let targets = ["a", "b", "c"];
    let plan = write_plan(
        dir.path(),
        targets
            .iter()
            .map(|t| cut("switch_off", t, "on", "off", true))
            .collect(),
    );
    let live = live_with(&[("a", "on"), ("b", "on"), ("c", "on")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let rollback = dir.path().join("plan.rollback.yaml");
    // Two rounds of reopening and re-cutting: three generations of every cut.
    for round in ["on-2", "on-2-b"] {
        for target in targets {
            live.lock().unwrap().insert(target.into(), round.into());
        }
        watch::check(
            &session_as(ACCOUNT),
            &registry(&live),
            &watch_request(&rollback, true),
            &RecordingReporter::default(),
        )
        .await
        .unwrap();
    }
    let restored = restore_run(
        &live,
        &RestoreRequest {
            parallelism: super::Parallelism::AtMost(8),
            ..restore_request(&rollback)
        },
        &Scripted::default(),
    )
    .await
    .unwrap();
    let RestoreRun::Restored { outcome, .. } = restored else {
        panic!("restore ran: {restored:?}");
    };
    assert_eq!(outcome.restored.len(), 9, "{outcome:?}");
    assert!(outcome.failed.is_empty());
    for target in targets {
        assert_eq!(
            live.lock().unwrap()[target],
            "on",
            "{target}: the oldest generation is undone last"
        );
    }
}

#[test]
fn the_default_width_is_eight_per_region_at_most_sixty_four_and_an_explicit_one_is_the_whole_runs()
{
    use super::Parallelism;
    assert_eq!(
        Parallelism::PerRegion.over(0),
        8,
        "a run of no region still has a worker"
    );
    assert_eq!(Parallelism::PerRegion.over(1), 8);
    assert_eq!(Parallelism::PerRegion.over(4), 32);
    assert_eq!(Parallelism::PerRegion.over(17), 64, "capped in all");
    assert_eq!(
        Parallelism::AtMost(1).over(8),
        1,
        "--parallelism 1 stays one at a time"
    );
    assert_eq!(Parallelism::AtMost(3).over(8), 3);
    assert_eq!(Parallelism::AtMost(0).over(2), 1);
    let cuts = [
        plan_cut("a", "us-east-1"),
        plan_cut("b", "us-east-1"),
        plan_cut("c", "eu-west-1"),
    ];
    assert_eq!(Parallelism::PerRegion.over_regions_of(cuts.iter()), 16);
}

#[test]
fn accounts_side_by_side_share_one_width_and_one_account_keeps_its_own() {
    use super::Parallelism;
    use super::organization::side_by_side;
    assert_eq!(
        side_by_side(Parallelism::PerRegion, 1),
        (1, Parallelism::PerRegion)
    );
    assert_eq!(
        side_by_side(Parallelism::PerRegion, 4),
        (4, Parallelism::AtMost(2))
    );
    assert_eq!(
        side_by_side(Parallelism::AtMost(8), 20),
        (8, Parallelism::AtMost(1))
    );
    assert_eq!(
        side_by_side(Parallelism::AtMost(1), 3),
        (1, Parallelism::AtMost(1))
    );
}

fn plan_cut(id: &str, region: &str) -> crate::plan::Cut {
    crate::plan::Cut {
        id: id.into(),
        kind: "switch".into(),
        region: region.into(),
        target: id.into(),
        enabled: true,
        reversible: true,
        reason: String::new(),
        before: serde_json::Value::Null.into(),
        after: serde_json::Value::Null.into(),
    }
}

/// A restore that will undo keeps of a completed cut only its undo record: its states and reason are not
/// needed, and a large rollback file is never held whole. A cut whose completion was not recorded keeps
/// its states, from which its undo is derived; a dry run keeps every cut's states, to show them. Every
/// cut is given back all the same.
#[tokio::test]
async fn restore_keeps_only_the_undo_of_a_completed_cut_and_the_states_of_an_unsure_one() {
    use crate::journal::{Entry, Journal};
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        vec![
            cut("switch_off", "a", "on", "off", true),
            cut("switch_off", "b", "on", "off", true),
        ],
    );
    let live = live_with(&[("a", "on"), ("b", "on"), ("c", "off")]);
    apply_run(&live, ACCOUNT, &request(&plan), &Scripted::default())
        .await
        .unwrap();
    let rollback = dir.path().join("plan.rollback.yaml");
    let keys = keys_beside(&rollback);
    // A third cut whose call went through but whose completion was never journaled (a crash).
    let contents = crate::journal::read_path(&rollback, &keys, false)
        .unwrap()
        .0;
    let file = crate::journal::lock::RollbackFile::open_existing(&rollback).unwrap();
    let mut journal = Journal::reopen(file, &contents).unwrap();
    journal
        .append(Entry::Intent {
            cut: cut("switch_off", "c", "on", "off", true),
        })
        .unwrap();
    drop(journal);
    let states = |work: &RestoreWork| -> Vec<(String, serde_json::Value, bool)> {
        let mut states: Vec<_> = work
            .pending
            .iter()
            .map(|item| {
                (
                    item.cut.target.clone(),
                    item.cut.before.value(),
                    item.undo.is_some(),
                )
            })
            .collect();
        states.sort_by(|a, b| a.0.cmp(&b.0));
        states
    };
    let on = serde_json::json!({"value": "on"});

    let dry = restore_run(
        &live,
        &RestoreRequest {
            dry_run: true,
            ..restore_request(&rollback)
        },
        &Scripted::default(),
    )
    .await
    .unwrap();
    let RestoreRun::DryRun { work } = dry else {
        panic!("a dry run: {dry:?}");
    };
    assert_eq!(
        states(&work),
        [
            ("a".to_string(), on.clone(), true),
            ("b".to_string(), on.clone(), true),
            ("c".to_string(), on.clone(), false)
        ]
    );

    let restored = restore_run(&live, &restore_request(&rollback), &Scripted::default())
        .await
        .unwrap();
    let RestoreRun::Restored { work, outcome } = restored else {
        panic!("restore ran: {restored:?}");
    };
    assert_eq!(
        states(&work),
        [
            ("a".to_string(), serde_json::Value::Null, true),
            ("b".to_string(), serde_json::Value::Null, true),
            ("c".to_string(), on.clone(), false)
        ]
    );
    assert!(
        work.pending
            .iter()
            .all(|item| item.undo.is_none() || item.cut.reason.is_empty())
    );
    assert_eq!(outcome.restored.len(), 3);
    let live = live.lock().unwrap();
    assert_eq!(
        (live["a"].as_str(), live["b"].as_str(), live["c"].as_str()),
        ("on", "on", "on")
    );
}

/// A cut whose every write AWS refused is journaled `changed_nothing` ([`crate::call_outcomes`]): restore
/// has nothing of it to put back, and a resumed apply begins it afresh. It ends only the generation whose
/// intent it follows, never one recorded done, and a failure that may have changed something (without
/// the flag) leaves the cut to restore as before.
#[tokio::test]
async fn a_cut_aws_refused_outright_is_not_restored_and_its_earlier_generation_still_is() {
    use crate::journal::Entry;
    let switch = AppliedSwitch::new().await;
    let (id, applied) = (switch.id.clone(), switch.applied.clone());
    let generations = || -> Vec<(usize, serde_json::Value, restore::Certainty)> {
        switch
            .pending()
            .pending
            .iter()
            .map(|item| (item.generation, item.cut.before.value(), item.certainty))
            .collect()
    };
    let failed = |changed_nothing: bool| Entry::Failed {
        id: id.clone(),
        error: "UnauthorizedOperation".into(),
        changed_nothing,
    };

    // A re-cut from another state, refused outright: only apply's cut is left to undo.
    let recut = Cut {
        before: serde_json::json!({"value": "on-2"}).into(),
        ..applied.clone()
    };
    switch.append(vec![Entry::Intent { cut: recut.clone() }, failed(true)]);
    let apply_only = vec![(
        1,
        serde_json::json!({"value": "on"}),
        restore::Certainty::Completed,
    )];
    assert_eq!(generations(), apply_only);

    // A flag after a completion (no intent between) ends nothing: the cut was made.
    switch.append(vec![failed(true)]);
    assert_eq!(generations(), apply_only);

    // The very cut again (a resumed apply finding it back as before), refused: the completed
    // generation it took over is given back as it was.
    switch.append(vec![
        Entry::Intent {
            cut: applied.clone(),
        },
        failed(true),
    ]);
    assert_eq!(generations(), apply_only);

    // The same re-cut failing in a way that may have changed something stays, uncertain.
    switch.append(vec![Entry::Intent { cut: recut }, failed(false)]);
    assert_eq!(
        generations(),
        vec![
            (
                2,
                serde_json::json!({"value": "on-2"}),
                restore::Certainty::Uncertain
            ),
            apply_only[0].clone(),
        ]
    );

    // A resumed apply reads a refused attempt as not made: the cut not begun, or done by the attempt
    // before; and a possibly partial one as uncertain.
    let progress = |entries: Vec<Entry>| {
        let records: Vec<crate::journal::Record> = entries
            .into_iter()
            .map(|entry| crate::journal::Record {
                seq: 0,
                prev: String::new(),
                at: "2026-12-02T07:00:00Z".into(),
                entry,
                mac: None,
            })
            .collect();
        super::apply::progress_of(&records).get(&id).cloned()
    };
    assert_eq!(
        progress(vec![
            Entry::Intent {
                cut: applied.clone()
            },
            failed(true)
        ]),
        None
    );
    assert_eq!(
        progress(vec![
            Entry::Intent {
                cut: applied.clone()
            },
            failed(false)
        ]),
        Some(super::apply::Progress::Uncertain)
    );
    assert_eq!(
        progress(vec![
            Entry::Intent {
                cut: applied.clone()
            },
            Entry::Done {
                id: id.clone(),
                undo: serde_json::json!({"value": "on"}).into(),
            },
            Entry::Intent { cut: applied },
            failed(true)
        ]),
        Some(super::apply::Progress::Done)
    );
}
