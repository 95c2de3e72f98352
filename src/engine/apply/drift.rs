//! Before any cut: is the plan still a true picture of the account? Each enabled cut's resource is observed
//! and compared with its recorded `before`; and, for `apply --check`, each cut's permission is asked for
//! where the API has a dry run.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::Progress;
use crate::aws::AwsSession;
use crate::plan::compare::same_state;
use crate::plan::{Cut, Plan};
use crate::services::{PermissionCheck, Registry, ServiceError};

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

    /// The cuts this check could not prove current: drifted, or unreadable.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.drifted
            .iter()
            .map(|d| d.id.as_str())
            .chain(self.unverifiable.iter().map(|(id, _)| id.as_str()))
    }
}

/// Observes every enabled cut's resource not started by an earlier run, and compares it with its
/// recorded `before`.
pub async fn check_drift(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    resumed: &HashMap<String, Progress>,
    parallelism: usize,
) -> DriftCheck {
    // Cuts an earlier run started are no longer in their `before` state; execute() checks those itself.
    let batches = super::fresh_batches(plan, resumed);
    let observed: Vec<Vec<(&Cut, Result<Value, ServiceError>)>> = stream::iter(batches)
        .map(|((region, kind), cuts)| async move {
            let kind = registry
                .get(&kind)
                .expect("validated plans hold only known kinds");
            let ctx = session.region(&region);
            let states = kind.observe_many(&ctx, &cuts).await;
            cuts.into_iter().zip(states).collect()
        })
        .buffered(parallelism.max(1))
        .collect()
        .await;
    let observations: Vec<(&Cut, Result<Value, ServiceError>)> =
        observed.into_iter().flatten().collect();
    let mut check = DriftCheck::default();
    for (cut, observed) in observations {
        record_drift(cut, observed, &mut check);
    }
    check
}

/// Records the cut as drifted (or unverifiable) unless `live` is its `before`; true when it is.
pub(super) fn record_drift(
    cut: &Cut,
    live: Result<Value, ServiceError>,
    drift: &mut DriftCheck,
) -> bool {
    match live {
        // Compared by meaning: a YAML tool may have re-written a timestamp or a number's notation.
        Ok(live) if same_state(&cut.before.value(), &live) => true,
        Ok(live) => {
            drift.drifted.push(Drift {
                id: cut.id.clone(),
                planned: cut.before.value(),
                live,
            });
            false
        }
        Err(err) => {
            drift.unverifiable.push((cut.id.clone(), err));
            false
        }
    }
}

/// Asks AWS, for every enabled cut, whether it would be permitted (`apply --check`). Changes nothing.
pub async fn check_permissions(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    parallelism: usize,
) -> Vec<(String, PermissionCheck)> {
    stream::iter(plan.enabled_cuts())
        .map(|cut| async move {
            let kind = registry
                .get(&cut.kind)
                .expect("validated plans hold only known kinds");
            let ctx = session.region(&cut.region);
            (cut.id.clone(), kind.check_permission(&ctx, cut).await)
        })
        .buffered(parallelism.max(1))
        .collect()
        .await
}
