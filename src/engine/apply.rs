//! Apply: check that the plan still describes the account, then perform each enabled cut, journaling an
//! intent before every AWS call and its completion after it.

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::EngineError;
use crate::aws::{AwsSession, CallerIdentity};
use crate::journal::{Entry, Journal};
use crate::plan::{Cut, Plan};
use crate::report::{Event, Reporter};
use crate::services::{Phase, Registry, ServiceError};

/// Checks that the credentials in use belong to `expected`; `what` names the document ("plan",
/// "rollback file") in the refusal.
pub async fn verify_account(
    session: &AwsSession,
    expected: &str,
    what: &'static str,
) -> Result<CallerIdentity, EngineError> {
    let caller = session
        .caller_identity()
        .await
        .map_err(EngineError::Identity)?;
    if caller.account != expected {
        return Err(EngineError::WrongAccount {
            what,
            expected: expected.to_string(),
            actual: caller.account.clone(),
            caller: caller.arn.clone(),
        });
    }
    Ok(caller)
}

/// A cut whose resource no longer looks as the plan recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub id: String,
    pub planned: Value,
    /// `Null` when the resource is gone.
    pub live: Value,
}

#[derive(Debug, Default)]
pub struct DriftCheck {
    pub drifted: Vec<Drift>,
    /// Cuts whose live state could not be read: apply cannot prove they are current.
    pub unverifiable: Vec<(String, ServiceError)>,
}

impl DriftCheck {
    pub fn is_clean(&self) -> bool {
        self.drifted.is_empty() && self.unverifiable.is_empty()
    }
}

/// Observes every enabled cut's resource and compares it with its recorded `before`.
pub async fn check_drift(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    parallelism: usize,
) -> DriftCheck {
    let observations: Vec<_> = stream::iter(plan.enabled_cuts())
        .map(|cut| async move {
            let kind = registry
                .get(&cut.kind)
                .expect("validated plans hold only known kinds");
            let ctx = session.region(&cut.region);
            (cut, kind.observe(&ctx, cut).await)
        })
        .buffered(parallelism.max(1))
        .collect()
        .await;
    let mut check = DriftCheck::default();
    for (cut, observed) in observations {
        match observed {
            Ok(live) if live == cut.before => {}
            Ok(live) => check.drifted.push(Drift {
                id: cut.id.clone(),
                planned: cut.before.clone(),
                live,
            }),
            Err(err) => check.unverifiable.push((cut.id.clone(), err)),
        }
    }
    check
}

/// The order apply walks: sealing cuts first so the account is closed as early as possible, then the
/// per-resource cuts, each group in plan order.
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

#[derive(Debug, Default)]
pub struct ApplyOutcome {
    pub done: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    /// Time from the start of apply until the last sealing cut completed, when there was one.
    pub sealed_after: Option<Duration>,
    pub elapsed: Duration,
}

/// Performs the plan's enabled cuts in [`apply_order`], journaling each. A failed cut is recorded and the
/// rest go on; a failed journal write stops at once.
pub async fn execute(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<ApplyOutcome, EngineError> {
    let started = Instant::now();
    let mut outcome = ApplyOutcome::default();
    let order = apply_order(plan, registry);
    let last_seal = order.iter().rposition(|cut| {
        cut.enabled
            && registry
                .get(&cut.kind)
                .is_some_and(|k| k.info().phase == Phase::Seal)
    });
    for (index, cut) in order.iter().enumerate() {
        if !cut.enabled {
            let reason = "disabled in the plan (enabled: false)".to_string();
            journal.append(Entry::Skipped {
                id: cut.id.clone(),
                reason: reason.clone(),
            })?;
            reporter.event(&Event::CutSkipped {
                id: cut.id.clone(),
                reason,
            });
            outcome.skipped.push(cut.id.clone());
            continue;
        }
        let kind = registry
            .get(&cut.kind)
            .expect("validated plans hold only known kinds");
        let ctx = session.region(&cut.region);
        journal.append(Entry::Intent {
            cut: (*cut).clone(),
        })?;
        reporter.event(&Event::CutStarted { id: cut.id.clone() });
        let cut_started = Instant::now();
        match kind.apply(&ctx, cut).await {
            Ok(undo) => {
                journal.append(Entry::Done {
                    id: cut.id.clone(),
                    undo,
                })?;
                reporter.event(&Event::CutDone {
                    id: cut.id.clone(),
                    elapsed: cut_started.elapsed(),
                });
                outcome.done.push(cut.id.clone());
            }
            Err(err) => {
                journal.append(Entry::Failed {
                    id: cut.id.clone(),
                    error: err.to_string(),
                })?;
                reporter.event(&Event::CutFailed {
                    id: cut.id.clone(),
                    error: err.to_string(),
                });
                outcome.failed.push((cut.id.clone(), err.to_string()));
            }
        }
        if Some(index) == last_seal {
            let elapsed = started.elapsed();
            reporter.event(&Event::Sealed { elapsed });
            outcome.sealed_after = Some(elapsed);
        }
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}
