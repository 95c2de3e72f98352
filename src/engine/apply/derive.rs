//! A cut's effect is derived, never read (issue 12). A plan is a file anyone with write access to it can
//! edit; the drift check proves each `before` is the live state, and this proves each `after` is what the
//! kind's own rule makes of that live state, under the plan's reviewed parameters (`keep_cidrs`, the kinds'
//! options, the planner). It asks each kind to discover again where the plan has enabled cuts and
//! compares the `after` it proposes now with the plan's, field by field. An edited `after` (a security
//! group cut that would also revoke the responder's kept rule, a network ACL entry turned into an allow)
//! can then only lead to a refusal naming the cut and the field.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::Progress;
use crate::aws::{AwsSession, CallerIdentity};
use crate::net::Cidr;
use crate::plan::Plan;
use crate::plan::compare::{brief, first_difference};
use crate::services::{DiscoveryScope, Registry};

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
        },
        keep_cidrs,
        options: plan.options.clone(),
        created: plan.created.clone(),
        member_role: plan
            .role
            .clone()
            .unwrap_or_else(|| crate::plan::DEFAULT_MEMBER_ROLE.into()),
    })
}

/// Re-derives every enabled cut not started by an earlier run; returns the cuts whose `after` differs.
pub async fn check_derivation(
    session: &AwsSession,
    registry: &Registry,
    plan: &Plan,
    resumed: &HashMap<String, Progress>,
    parallelism: usize,
) -> Vec<Underived> {
    let scope = match scope_of(plan, registry) {
        Ok(scope) => scope,
        Err(problems) => return problems,
    };
    let batches = super::fresh_batches(plan, resumed);
    let scope = &scope;
    let checked: Vec<Vec<Underived>> = stream::iter(batches)
        .map(|((region, kind), cuts)| async move {
            let kind = registry
                .get(&kind)
                .expect("validated plans hold only known kinds");
            let ctx = session.region(&region);
            let proposed = match kind.discover(&ctx, scope).await {
                Ok(proposed) => proposed,
                Err(err) => {
                    return cuts
                        .iter()
                        .map(|cut| Underived {
                            id: cut.id.clone(),
                            problem: format!("its effect could not be derived again from the live account: {err}"),
                        })
                        .collect();
                }
            };
            let by_target: HashMap<&str, &Value> = proposed
                .iter()
                .map(|p| (p.target.as_str(), &p.after))
                .collect();
            cuts.iter()
                .filter_map(|cut| {
                    let problem = match by_target.get(cut.target.as_str()) {
                        None => "the kind no longer proposes this cut for the live resource (it is gone, already cut, or now excluded)".to_string(),
                        Some(derived) => {
                            let (path, planned, derived) =
                                first_difference(&cut.after, derived, "after")?;
                            format!(
                                "`{path}` is {} in the plan, but the kind derives {} from the live resource",
                                brief(&planned),
                                brief(&derived)
                            )
                        }
                    };
                    Some(Underived {
                        id: cut.id.clone(),
                        problem,
                    })
                })
                .collect()
        })
        .buffered(parallelism.max(1))
        .collect()
        .await;
    checked.into_iter().flatten().collect()
}
