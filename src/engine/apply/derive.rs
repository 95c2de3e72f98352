//! A cut's effect is derived, never read (issue 12). A plan is a file anyone with write access to it can
//! edit; the drift check proves each `before` is the live state, and this proves each `after` is what the
//! kind's own rule makes of that live state, under the plan's reviewed parameters (`keep_cidrs`, the kinds'
//! options, the planner). It asks each kind to discover again where the plan has enabled cuts and
//! compares the `after` it proposes now with the plan's, field by field. An edited `after` (a security
//! group cut that would also revoke the responder's kept rule, a network ACL entry turned into an allow)
//! can then only lead to a refusal naming the cut and the field. The same discovery answers the drift
//! check for every resource it still proposes a cut for ([`check_live`]).

use std::collections::{HashMap, HashSet};

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::drift::record_drift;
use super::{DriftCheck, Progress};
use crate::aws::{AwsSession, CallerIdentity, RegionCtx};
use crate::net::Cidr;
use crate::plan::compare::{brief, first_difference};
use crate::plan::{Cut, Plan};
use crate::services::{Containment, DiscoveryScope, ProposedCut, Registry};

/// Why a cut's `after` is not what apply would derive.
#[derive(Debug, Clone, PartialEq)]
pub struct Underived {
    pub id: String,
    pub problem: String,
}

/// The scope discovery had when the plan was made, rebuilt from the plan's reviewed parameters. The
/// options are checked as `plan` checks them: a plan cannot bring an option no kind declares.
fn scope_of(plan: &Plan, registry: &Registry) -> Result<DiscoveryScope, Vec<Underived>> {
    let mut problems = Vec::new();
    let mut keep_cidrs = Vec::new();
    for keep in &plan.keep_cidrs {
        match keep.parse::<Cidr>() {
            Ok(cidr) => keep_cidrs.push(cidr),
            Err(err) => problems.push(format!("keep_cidrs: {err}")),
        }
    }
    let declared = registry.plan_options();
    for (flag, value) in &plan.options {
        match declared.iter().find(|option| option.flag == flag) {
            None => problems.push(format!(
                "options.{flag}: no kind of this hikkonuki has that option"
            )),
            Some(option) => {
                if let Err(err) = (option.check)(value) {
                    problems.push(format!("options.{flag}: {err}"));
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|problem| Underived {
                id: "(plan)".into(),
                problem,
            })
            .collect());
    }
    Ok(DiscoveryScope {
        caller: CallerIdentity {
            account: plan.account.clone(),
            arn: plan.caller.clone(),
            user_id: String::new(),
            access_key_id: None,
            source: None,
            entered_by: None,
            profile_roles: Vec::new(),
        },
        keep_cidrs,
        options: plan.options.clone(),
        created: plan.created.clone(),
        member_role: plan.member_role().to_string(),
    })
}

/// Both questions apply asks of the live account before any cut, for every enabled cut not started by
/// an earlier run: is its `before` still the resource's state (drift), and is its `after` still what the
/// kind's rule makes of that state (derivation)?
///
/// One discovery per (region, kind) answers both for every resource the kind still proposes a cut for:
/// the proposal's `before` is the state `observe` reads (the plan's `before` came from it), its `after`
/// what the rule derives now. Only the cuts discovery no longer proposes are observed apart, to tell a
/// changed or vanished resource (drift) from an unchanged one the rule now leaves alone (underived).
/// Asked separately, the two questions read each region twice at the same moment (for security groups:
/// every group, VPC and rule), for the same answer.
///
/// The underived cuts it returns leave out the drifted ones: a drifted resource's cut is derived again
/// from its changed state, so it differs too, and goes (or is refused) with the drift. Any other
/// difference is an edited plan, refused whatever the flags.
pub async fn check_live(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    resumed: &HashMap<String, Progress>,
    parallelism: usize,
) -> (DriftCheck, Vec<Underived>) {
    let scope = match scope_of(plan, registry) {
        Ok(scope) => scope,
        Err(problems) => {
            // The plan's parameters are refused before anything is derived; drift is still checked.
            let drift = super::check_drift(session, registry, plan, resumed, parallelism).await;
            return (drift, problems);
        }
    };
    let batches = super::fresh_batches(plan, resumed);
    let scope = &scope;
    let checked: Vec<(DriftCheck, Vec<Underived>)> = stream::iter(batches)
        .map(|((region, kind), cuts)| async move {
            let kind = registry
                .get(&kind)
                .expect("validated plans hold only known kinds");
            let ctx = session.region(&region);
            check_batch(kind, &ctx, scope, &cuts).await
        })
        .buffered(parallelism.max(1))
        .collect()
        .await;
    let mut drift = DriftCheck::default();
    let mut underived = Vec::new();
    for (batch_drift, batch_underived) in checked {
        drift.drifted.extend(batch_drift.drifted);
        drift.unverifiable.extend(batch_drift.unverifiable);
        underived.extend(batch_underived);
    }
    let drifted: HashSet<&str> = drift.ids().collect();
    underived.retain(|u| !drifted.contains(u.id.as_str()));
    (drift, underived)
}

/// [`check_live`] for one region's cuts of one kind.
async fn check_batch(
    kind: &dyn Containment,
    ctx: &RegionCtx,
    scope: &DiscoveryScope,
    cuts: &[&Cut],
) -> (DriftCheck, Vec<Underived>) {
    let mut drift = DriftCheck::default();
    let mut underived = Vec::new();
    let proposed = match kind.discover(ctx, scope).await {
        Ok(proposed) => proposed,
        Err(err) => {
            // Nothing can be derived; whether the resources drifted is still observed, as it always was.
            underived.extend(cuts.iter().map(|cut| Underived {
                id: cut.id.clone(),
                problem: format!(
                    "its effect could not be derived again from the live account: {err}"
                ),
            }));
            let observed = kind.observe_many(ctx, cuts).await;
            for (cut, live) in cuts.iter().zip(observed) {
                record_drift(cut, live, &mut drift);
            }
            return (drift, underived);
        }
    };
    let by_target: HashMap<&str, &ProposedCut> =
        proposed.iter().map(|p| (p.target.as_str(), p)).collect();
    let mut not_proposed: Vec<&Cut> = Vec::new();
    for &cut in cuts {
        match by_target.get(cut.target.as_str()) {
            None => not_proposed.push(cut),
            Some(proposal) => {
                if record_drift(cut, Ok(proposal.before.value()), &mut drift) {
                    underived.extend(underived_after(cut, &proposal.after.value()));
                }
            }
        }
    }
    if !not_proposed.is_empty() {
        let observed = kind.observe_many(ctx, &not_proposed).await;
        for (cut, live) in not_proposed.into_iter().zip(observed) {
            if record_drift(cut, live, &mut drift) {
                underived.push(Underived {
                    id: cut.id.clone(),
                    problem: "the kind no longer proposes this cut for the live resource (it is gone, already cut, or now excluded)".to_string(),
                });
            }
        }
        // Reported in plan order, whichever way each was read.
        let position: HashMap<&str, usize> = cuts
            .iter()
            .enumerate()
            .map(|(at, cut)| (cut.id.as_str(), at))
            .collect();
        drift.drifted.sort_by_key(|d| position[d.id.as_str()]);
        drift
            .unverifiable
            .sort_by_key(|(id, _)| position[id.as_str()]);
        underived.sort_by_key(|u| position[u.id.as_str()]);
    }
    (drift, underived)
}

/// Why the plan's `after` is not the one the kind derives now, if it is not.
fn underived_after(cut: &Cut, derived: &Value) -> Option<Underived> {
    let (path, planned, derived) = first_difference(&cut.after.value(), derived, "after")?;
    Some(Underived {
        id: cut.id.clone(),
        problem: format!(
            "`{path}` is {} in the plan, but the kind derives {} from the live resource",
            brief(&planned),
            brief(&derived)
        ),
    })
}
