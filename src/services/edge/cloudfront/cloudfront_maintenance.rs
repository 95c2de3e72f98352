//! `cloudfront_maintenance`, proposed instead of `cloudfront_disable` when the plan is made with
//! `--maintenance-origin DOMAIN`: the distribution gets an origin `hikkonuki-maintenance` (that domain,
//! HTTPS only) and every cache behaviour, the default and each path pattern, is pointed at it. The
//! distribution stays enabled with its certificate and aliases, so viewers of every URL get the notice
//! page the maintenance origin serves instead of an error, and no request reaches the real origins.
//!
//! Code at the edge is detached too. A Lambda@Edge function or CloudFront Function associated with a
//! behaviour runs on every request it serves and can answer the request itself or send it to another
//! origin (an origin-request Lambda@Edge function may rewrite the origin; a CloudFront Function may call
//! `updateRequestOrigin`), so a behaviour pointed at the maintenance origin with its code still attached
//! could still reach the real origins. The cut removes every association, recorded in `before` in
//! AWS's order, and the update is the same single UpdateDistribution, so a crash leaves either the old
//! configuration or the new one.
//!
//! What the edge locations already cached from the real origins would still be served until its TTL
//! runs out, so once the update is answered every cached copy is invalidated ([`super::edge_cache`],
//! which says what that leaves); the cut is recorded done only then.
//!
//! Undo points each behaviour back at the origin it had, attaches its recorded code again, and removes
//! the maintenance origin once nothing uses it. A behaviour someone re-pointed, or given other code,
//! since is left alone and reported. The notice page cached at the edge is invalidated the same way.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    CustomOriginConfig, DistributionConfig, EventType, FunctionAssociation, FunctionAssociations,
    LambdaFunctionAssociation, LambdaFunctionAssociations, Origin, OriginProtocolPolicy,
};
use serde::{Deserialize, Serialize};

use super::{
    Change, READ_CONCURRENCY, aliases, distributions, edge_cache, gone, read_config,
    read_config_for_discovery, update,
};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome, gather,
};

pub struct CloudFrontMaintenance;

static INFO: KindInfo = KindInfo {
    name: "cloudfront_maintenance",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::CloudFront,
};

/// The ID of the origin the cut adds.
pub const MAINTENANCE_ORIGIN_ID: &str = "hikkonuki-maintenance";

/// Where a distribution's behaviours send requests, as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Routing {
    pub distribution_id: String,
    pub domain_name: String,
    pub aliases: Vec<String>,
    /// The default behaviour's origin.
    pub default_target: String,
    /// Each path-pattern behaviour's origin.
    pub behavior_targets: BTreeMap<String, String>,
    /// The domain of the `hikkonuki-maintenance` origin, when the distribution has one.
    pub maintenance_origin: Option<String>,
    /// The default behaviour's edge code. Absent from plans made before edge code was recorded, and
    /// from any distribution without it.
    #[serde(default, skip_serializing_if = "EdgeCode::is_empty")]
    pub default_edge_code: EdgeCode,
    /// The edge code of each path-pattern behaviour that has some.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub behavior_edge_code: BTreeMap<String, EdgeCode>,
}

/// The code a behaviour runs at the edge, each association as CloudFront lists it, in its order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeCode {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda_edge: Vec<LambdaEdge>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloudfront_functions: Vec<CloudFrontFunction>,
}

/// A Lambda@Edge association: a numbered function version run on one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaEdge {
    /// `viewer-request`, `origin-request`, `origin-response` or `viewer-response`.
    pub event_type: String,
    pub lambda_function_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_body: Option<bool>,
}

/// A CloudFront Functions association: a function run on one viewer event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudFrontFunction {
    pub event_type: String,
    pub function_arn: String,
}

impl EdgeCode {
    pub fn is_empty(&self) -> bool {
        self.lambda_edge.is_empty() && self.cloudfront_functions.is_empty()
    }

    fn of(
        lambda: Option<&LambdaFunctionAssociations>,
        functions: Option<&FunctionAssociations>,
    ) -> EdgeCode {
        EdgeCode {
            lambda_edge: lambda
                .map(|l| l.items())
                .unwrap_or_default()
                .iter()
                .map(|a| LambdaEdge {
                    event_type: a.event_type().as_str().to_string(),
                    lambda_function_arn: a.lambda_function_arn().to_string(),
                    include_body: a.include_body(),
                })
                .collect(),
            cloudfront_functions: functions
                .map(|f| f.items())
                .unwrap_or_default()
                .iter()
                .map(|a| CloudFrontFunction {
                    event_type: a.event_type().as_str().to_string(),
                    function_arn: a.function_arn().to_string(),
                })
                .collect(),
        }
    }

    /// The associations CloudFront takes back, in the recorded order.
    fn associations(&self) -> (LambdaFunctionAssociations, FunctionAssociations) {
        let lambda: Vec<LambdaFunctionAssociation> = self
            .lambda_edge
            .iter()
            .map(|a| {
                LambdaFunctionAssociation::builder()
                    .event_type(EventType::from(a.event_type.as_str()))
                    .lambda_function_arn(&a.lambda_function_arn)
                    .set_include_body(a.include_body)
                    .build()
                    .expect("every required field is set")
            })
            .collect();
        let functions: Vec<FunctionAssociation> = self
            .cloudfront_functions
            .iter()
            .map(|a| {
                FunctionAssociation::builder()
                    .event_type(EventType::from(a.event_type.as_str()))
                    .function_arn(&a.function_arn)
                    .build()
                    .expect("every required field is set")
            })
            .collect();
        (
            LambdaFunctionAssociations::builder()
                .quantity(lambda.len() as i32)
                .set_items((!lambda.is_empty()).then_some(lambda))
                .build()
                .expect("every required field is set"),
            FunctionAssociations::builder()
                .quantity(functions.len() as i32)
                .set_items((!functions.is_empty()).then_some(functions))
                .build()
                .expect("every required field is set"),
        )
    }

    /// The code in words, e.g. `Lambda@Edge origin-request arn:…:1; CloudFront Function viewer-request arn:…`.
    fn summary(&self) -> String {
        self.lambda_edge
            .iter()
            .map(|a| format!("Lambda@Edge {} {}", a.event_type, a.lambda_function_arn))
            .chain(
                self.cloudfront_functions
                    .iter()
                    .map(|a| format!("CloudFront Function {} {}", a.event_type, a.function_arn)),
            )
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Routing {
    pub fn of(id: &str, domain_name: &str, config: &DistributionConfig) -> Routing {
        Routing {
            distribution_id: id.to_string(),
            domain_name: domain_name.to_string(),
            aliases: aliases(config),
            default_target: config
                .default_cache_behavior()
                .map(|b| b.target_origin_id().to_string())
                .unwrap_or_default(),
            behavior_targets: config
                .cache_behaviors()
                .map(|b| b.items())
                .unwrap_or_default()
                .iter()
                .map(|b| {
                    (
                        b.path_pattern().to_string(),
                        b.target_origin_id().to_string(),
                    )
                })
                .collect(),
            maintenance_origin: config
                .origins()
                .map(|o| o.items())
                .unwrap_or_default()
                .iter()
                .find(|o| o.id() == MAINTENANCE_ORIGIN_ID)
                .map(|o| o.domain_name().to_string()),
            default_edge_code: config
                .default_cache_behavior()
                .map(|b| EdgeCode::of(b.lambda_function_associations(), b.function_associations()))
                .unwrap_or_default(),
            behavior_edge_code: config
                .cache_behaviors()
                .map(|b| b.items())
                .unwrap_or_default()
                .iter()
                .map(|b| {
                    (
                        b.path_pattern().to_string(),
                        EdgeCode::of(b.lambda_function_associations(), b.function_associations()),
                    )
                })
                .filter(|(_, code)| !code.is_empty())
                .collect(),
        }
    }

    /// Every behaviour's edge code, the default's under `default behaviour`, in words.
    fn edge_code_summary(&self) -> Vec<String> {
        std::iter::once(("the default behaviour".to_string(), &self.default_edge_code))
            .chain(
                self.behavior_edge_code
                    .iter()
                    .map(|(path, code)| (format!("behaviour {path}"), code)),
            )
            .filter(|(_, code)| !code.is_empty())
            .map(|(what, code)| format!("{what}: {}", code.summary()))
            .collect()
    }

    fn has_edge_code(&self) -> bool {
        !self.default_edge_code.is_empty() || !self.behavior_edge_code.is_empty()
    }

    fn all_on_maintenance(&self) -> bool {
        self.default_target == MAINTENANCE_ORIGIN_ID
            && self
                .behavior_targets
                .values()
                .all(|t| t == MAINTENANCE_ORIGIN_ID)
    }
}

/// The proposal for one enabled distribution, or nothing when it already serves the maintenance page.
pub fn propose(state: &Routing, maintenance_domain: &str) -> Option<Proposal<Routing>> {
    if state.all_on_maintenance() && !state.has_edge_code() {
        return None;
    }
    // An origin of that name for another domain is someone else's, or left by an earlier cut whose
    // restore met a conflict: the cut keeps it as it is, so it would not send viewers where asked.
    let disabled_because = state
        .maintenance_origin
        .as_deref()
        .filter(|existing| *existing != maintenance_domain)
        .map(|existing| {
            format!(
                "the distribution already has an origin `{MAINTENANCE_ORIGIN_ID}` for {existing}, which this cut would keep; plan with --maintenance-origin {existing}, or remove that origin first"
            )
        });
    let after = Routing {
        default_target: MAINTENANCE_ORIGIN_ID.into(),
        behavior_targets: state
            .behavior_targets
            .keys()
            .map(|path| (path.clone(), MAINTENANCE_ORIGIN_ID.to_string()))
            .collect(),
        maintenance_origin: Some(maintenance_domain.to_string()),
        default_edge_code: EdgeCode::default(),
        behavior_edge_code: BTreeMap::new(),
        ..state.clone()
    };
    let edge_code = state.edge_code_summary();
    let edge_code = if edge_code.is_empty() {
        String::new()
    } else {
        format!(
            " Its edge code is detached too, since it can answer requests itself or send them to other origins: {}; restore attaches it again.",
            edge_code.join("; ")
        )
    };
    let again = edge_cache::invalidate_once_deployed(&state.distribution_id);
    Some(Proposal {
        target: state.distribution_id.clone(),
        reason: format!(
            "CloudFront distribution {} serves {} to the internet from origin(s) {}. Every behaviour is pointed at the maintenance origin {maintenance_domain} (HTTPS only), keeping its certificate and aliases: viewers of every URL see that notice, and nothing reaches the real origins. What the edge cached from them is invalidated (/*) once the update is answered; an edge location not yet updated then may cache from them again, so invalidate once more when it is deployed: {again}. Restore points each behaviour back.{edge_code}",
            state.distribution_id,
            std::iter::once(state.domain_name.clone())
                .chain(state.aliases.iter().cloned())
                .collect::<Vec<_>>()
                .join(", "),
            std::iter::once(state.default_target.clone())
                .chain(state.behavior_targets.values().cloned())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        ),
        before: state.clone(),
        after,
        disabled_because,
    })
}

fn maintenance_origin(domain: &str) -> Origin {
    Origin::builder()
        .id(MAINTENANCE_ORIGIN_ID)
        .domain_name(domain)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                .build()
                .expect("every required field is set"),
        )
        .build()
        .expect("every required field is set")
}

/// The configuration with the maintenance origin added and every behaviour pointed at it. A
/// maintenance origin the distribution already has is kept as it is (the plan refuses one for another
/// domain), so restore, which keeps it too, gives back exactly what was there.
pub fn to_maintenance(config: &DistributionConfig, domain: &str) -> DistributionConfig {
    let mut config = config.clone();
    if let Some(origins) = config.origins.as_mut()
        && !origins
            .items
            .iter()
            .any(|o| o.id() == MAINTENANCE_ORIGIN_ID)
    {
        origins.items.push(maintenance_origin(domain));
        origins.quantity = origins.items.len() as i32;
    }
    if let Some(default) = config.default_cache_behavior.as_mut() {
        default.target_origin_id = MAINTENANCE_ORIGIN_ID.into();
        detach(
            &mut default.lambda_function_associations,
            &mut default.function_associations,
        );
    }
    if let Some(behaviors) = config.cache_behaviors.as_mut() {
        for behavior in behaviors.items.iter_mut().flatten() {
            behavior.target_origin_id = MAINTENANCE_ORIGIN_ID.into();
            detach(
                &mut behavior.lambda_function_associations,
                &mut behavior.function_associations,
            );
        }
    }
    config
}

/// Empties a behaviour's associations. Lists that hold nothing are left exactly as they are, so a
/// behaviour without edge code is written back unchanged.
fn detach(
    lambda: &mut Option<LambdaFunctionAssociations>,
    functions: &mut Option<FunctionAssociations>,
) {
    let (no_lambda, no_functions) = EdgeCode::default().associations();
    if lambda.as_ref().is_some_and(|l| !l.items().is_empty()) {
        *lambda = Some(no_lambda);
    }
    if functions.as_ref().is_some_and(|f| !f.items().is_empty()) {
        *functions = Some(no_functions);
    }
}

/// Puts recorded code back on a behaviour that has none. Only the lists that held something are
/// written, so an empty list stays exactly as the cut left it, as it was before.
fn attach(
    code: &EdgeCode,
    lambda: &mut Option<LambdaFunctionAssociations>,
    functions: &mut Option<FunctionAssociations>,
) {
    let (recorded_lambda, recorded_functions) = code.associations();
    if !code.lambda_edge.is_empty() {
        *lambda = Some(recorded_lambda);
    }
    if !code.cloudfront_functions.is_empty() {
        *functions = Some(recorded_functions);
    }
}

/// What restore does with one behaviour's edge code, given where the behaviour points now.
fn restore_edge_code(
    what: &str,
    id: &str,
    pointed_back: bool,
    live: &EdgeCode,
    prior: &EdgeCode,
    notes: &mut Vec<String>,
) -> Option<EdgeCode> {
    if live == prior || prior.is_empty() && !pointed_back {
        return None;
    }
    if pointed_back && live.is_empty() {
        return Some(prior.clone());
    }
    notes.push(if live.is_empty() {
        format!(
            "conflict: {what} of distribution {id} was taken off the maintenance origin after the cut, without its edge code; left alone. Attach it by hand if it belongs there: {}",
            prior.summary()
        )
    } else {
        format!(
            "conflict: {what} of distribution {id} was given other edge code after the cut ({}); left alone. Its edge code before the cut: {}",
            live.summary(),
            if prior.is_empty() { "none".to_string() } else { prior.summary() }
        )
    });
    None
}

/// The configuration with each behaviour still on the maintenance origin pointed back where `prior`
/// says, and the maintenance origin removed once unused. Returns the notes for the operator, and None
/// when nothing needs to change.
pub fn from_maintenance(
    config: &DistributionConfig,
    prior: &Routing,
) -> (Option<DistributionConfig>, Vec<String>) {
    let id = &prior.distribution_id;
    let mut notes = Vec::new();
    let mut new = config.clone();
    let mut changed = false;
    // Points a behaviour back and says whether it did; its edge code follows it back.
    let mut back = |what: &str,
                    target: &mut String,
                    prior_target: &str,
                    notes: &mut Vec<String>| {
        if target == MAINTENANCE_ORIGIN_ID {
            *target = prior_target.to_string();
            changed = true;
            true
        } else {
            if target != prior_target {
                notes.push(format!(
                    "conflict: {what} of distribution {id} was pointed at {target} after the cut; left alone"
                ));
            }
            false
        }
    };
    let mut code_changed = false;
    if let Some(default) = new.default_cache_behavior.as_mut() {
        let what = "the default behaviour";
        let pointed_back = back(
            what,
            &mut default.target_origin_id,
            &prior.default_target,
            &mut notes,
        );
        let live = EdgeCode::of(
            default.lambda_function_associations(),
            default.function_associations(),
        );
        if let Some(code) = restore_edge_code(
            what,
            id,
            pointed_back,
            &live,
            &prior.default_edge_code,
            &mut notes,
        ) {
            attach(
                &code,
                &mut default.lambda_function_associations,
                &mut default.function_associations,
            );
            code_changed = true;
        }
    }
    if let Some(behaviors) = new.cache_behaviors.as_mut() {
        for behavior in behaviors.items.iter_mut().flatten() {
            let Some(prior_target) = prior.behavior_targets.get(&behavior.path_pattern) else {
                continue;
            };
            let what = format!("behaviour {}", behavior.path_pattern);
            let pointed_back = back(
                &what,
                &mut behavior.target_origin_id,
                prior_target,
                &mut notes,
            );
            let prior_code = prior
                .behavior_edge_code
                .get(&behavior.path_pattern)
                .cloned()
                .unwrap_or_default();
            let live = EdgeCode::of(
                behavior.lambda_function_associations(),
                behavior.function_associations(),
            );
            if let Some(code) =
                restore_edge_code(&what, id, pointed_back, &live, &prior_code, &mut notes)
            {
                attach(
                    &code,
                    &mut behavior.lambda_function_associations,
                    &mut behavior.function_associations,
                );
                code_changed = true;
            }
        }
    }
    changed |= code_changed;
    let still_used = Routing::of(id, &prior.domain_name, &new);
    let uses_maintenance = still_used.default_target == MAINTENANCE_ORIGIN_ID
        || still_used
            .behavior_targets
            .values()
            .any(|t| t == MAINTENANCE_ORIGIN_ID);
    if !uses_maintenance
        && prior.maintenance_origin.is_none()
        && let Some(origins) = new.origins.as_mut()
    {
        let count = origins.items.len();
        origins.items.retain(|o| o.id() != MAINTENANCE_ORIGIN_ID);
        if origins.items.len() != count {
            origins.quantity = origins.items.len() as i32;
            changed = true;
        }
    }
    if changed {
        notes.insert(
            0,
            format!("distribution {id}: behaviours pointed back at their origins"),
        );
        (Some(new), notes)
    } else {
        (None, notes)
    }
}

/// The error for a cut whose distribution no longer routes as the plan recorded when apply reads it.
fn changed_since_the_plan(id: &str) -> ServiceError {
    ServiceError::local(
        "cloudfront:GetDistributionConfig",
        format!(
            "distribution {id} changed since the plan was made (its behaviours, their origins or their edge code are not as recorded); nothing written: plan again"
        ),
    )
}

#[async_trait]
impl CutKind for CloudFrontMaintenance {
    type State = Routing;
    /// The undo record is `before`: where each behaviour pointed.
    type Undo = Routing;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn plan_options(&self) -> &'static [crate::services::PlanOption] {
        &[super::MAINTENANCE_ORIGIN]
    }

    fn check_states(&self, cut: &TypedCut<Routing>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.distribution_id != cut.target || after.distribution_id != cut.target {
            return Err(format!(
                "distribution_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if !after.all_on_maintenance() || after.maintenance_origin.is_none() {
            return Err(format!(
                "`after` must point every behaviour at {MAINTENANCE_ORIGIN_ID} and name its domain"
            ));
        }
        if after.has_edge_code() {
            return Err(
                "`after` must have no edge code: the cut detaches every Lambda@Edge and CloudFront Functions association"
                    .into(),
            );
        }
        if before
            .behavior_targets
            .keys()
            .ne(after.behavior_targets.keys())
        {
            return Err("`after.behavior_targets` must name the same paths as `before`".into());
        }
        if before.maintenance_origin.is_some()
            && before.maintenance_origin != after.maintenance_origin
        {
            return Err(format!(
                "`after.maintenance_origin` must be the domain of the distribution's existing `{MAINTENANCE_ORIGIN_ID}` origin"
            ));
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<Routing>>, ServiceError> {
        let Some(domain) = scope.option(super::MAINTENANCE_ORIGIN.flag) else {
            return Ok(vec![]);
        };
        gather(
            distributions(ctx).await?,
            READ_CONCURRENCY,
            |summary| async move {
                Ok(
                    match read_config_for_discovery(ctx, INFO.name, &summary).await? {
                        // A disabled distribution serves nothing: there is nothing to redirect.
                        Some(current) if current.config.enabled() => {
                            let routing =
                                Routing::of(&summary.id, &summary.domain_name, &current.config);
                            propose(&routing, domain).into_iter().collect()
                        }
                        _ => vec![],
                    },
                )
            },
        )
        .await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Routing>,
    ) -> Result<Option<Routing>, ServiceError> {
        Ok(read_config(ctx, &cut.target)
            .await?
            .map(|current| Routing::of(&cut.target, &cut.before.domain_name, &current.config)))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Routing>,
    ) -> Result<Routing, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let domain = cut.after.maintenance_origin.as_deref().unwrap_or_default();
        // The undo record is the plan's `before`, while the write rewrites whatever is live: a behaviour
        // added, re-pointed or given other edge code after the drift check would be sent to maintenance
        // and never given back. So every read the write is made from, the retry's too, must still route
        // as `before`.
        update(ctx, &cut.target, |config| {
            let live = Routing::of(&cut.target, &cut.before.domain_name, config);
            if live == cut.before {
                Change::Write(Box::new(to_maintenance(config, domain)), Ok(()))
            } else {
                Change::Leave(Err(changed_since_the_plan(&cut.target)))
            }
        })
        .await?
        .ok_or_else(|| gone(&cut.target))??;
        Ok(record)
    }

    /// The routing is written; what the edge locations already cached from the real origins is still
    /// served until dropped ([`edge_cache`]). Done here, not in `apply`, so a resumed apply that finds the
    /// routing written (its completion never journaled) drops them too.
    async fn take_effect(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Routing>,
    ) -> Result<(), ServiceError> {
        match edge_cache::drop_cached_copies(ctx, &cut.target, "maintenance").await? {
            edge_cache::Dropped::Gone => Err(gone(&cut.target)),
            // What is left to do once deployed, the plan's reason says.
            edge_cache::Dropped::Deployed | edge_cache::Dropped::StillDeploying => Ok(()),
        }
    }

    fn undo_record_for(&self, cut: &TypedCut<Routing>) -> Result<Routing, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(&self, ctx: &RegionCtx, prior: &Routing) -> Result<UndoOutcome, ServiceError> {
        let notes = update(
            ctx,
            &prior.distribution_id,
            |config| match from_maintenance(config, prior) {
                (Some(new), notes) => Change::Write(Box::new(new), notes),
                (None, mut notes) => {
                    notes.push(format!(
                        "distribution {} already routes as before",
                        prior.distribution_id
                    ));
                    Change::Leave(notes)
                }
            },
        )
        .await?;
        let Some(mut notes) = notes else {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "conflict: distribution {} was deleted after the cut; nothing to point back",
                    prior.distribution_id
                )],
            });
        };
        // The notice page cached at the edge under the real URLs would be served until its TTL runs
        // out. Also when the routing was already given back: a restore stopped between the two calls
        // finds it so.
        let id = &prior.distribution_id;
        match edge_cache::drop_cached_copies(ctx, id, "restore").await? {
            edge_cache::Dropped::Gone => {}
            edge_cache::Dropped::Deployed => notes.push(format!(
                "distribution {id}: every copy cached at the edge invalidated (/*)"
            )),
            edge_cache::Dropped::StillDeploying => notes.push(format!(
                "distribution {id}: every copy cached at the edge invalidated (/*), while the change is still deploying: an edge location not yet updated may cache the notice page again, so invalidate once more when it is deployed: {}",
                edge_cache::invalidate_once_deployed(id)
            )),
        }
        Ok(UndoOutcome { notes })
    }
}
