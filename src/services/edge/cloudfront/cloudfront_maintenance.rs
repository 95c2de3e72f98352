//! `cloudfront_maintenance`, proposed instead of `cloudfront_disable` when the plan is made with
//! `--maintenance-origin DOMAIN`: the distribution gets an origin `hikkonuki-maintenance` (that domain,
//! HTTPS only) and every cache behaviour, the default and each path pattern, is pointed at it. The
//! distribution stays enabled with its certificate and aliases, so viewers of every URL get the notice
//! page the maintenance origin serves instead of an error, and no request reaches the real origins.
//!
//! Undo points each behaviour back at the origin it had and removes the maintenance origin once nothing
//! uses it. A behaviour someone re-pointed since is left alone and reported.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::{
    CustomOriginConfig, DistributionConfig, Origin, OriginProtocolPolicy,
};
use serde::{Deserialize, Serialize};

use super::{Change, READ_CONCURRENCY, aliases, distributions, gone, read_config, update};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, KindInfo, Phase, Proposal, ServiceError, TypedCut, UndoOutcome, gather,
};

pub struct CloudFrontMaintenance;

static INFO: KindInfo = KindInfo {
    name: "cloudfront_maintenance",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
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
        }
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
    if state.all_on_maintenance() {
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
        ..state.clone()
    };
    Some(Proposal {
        target: state.distribution_id.clone(),
        reason: format!(
            "CloudFront distribution {} serves {} to the internet from origin(s) {}. Every behaviour is pointed at the maintenance origin {maintenance_domain} (HTTPS only), keeping its certificate and aliases: viewers of every URL see that notice, and nothing reaches the real origins. Cached objects may be served until they expire; restore points each behaviour back.",
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
    }
    if let Some(behaviors) = config.cache_behaviors.as_mut() {
        for behavior in behaviors.items.iter_mut().flatten() {
            behavior.target_origin_id = MAINTENANCE_ORIGIN_ID.into();
        }
    }
    config
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
    let mut back = |what: &str, target: &mut String, prior_target: &str| {
        if target == MAINTENANCE_ORIGIN_ID {
            *target = prior_target.to_string();
            changed = true;
        } else if target != prior_target {
            notes.push(format!(
                "conflict: {what} of distribution {id} was pointed at {target} after the cut; left alone"
            ));
        }
    };
    if let Some(default) = new.default_cache_behavior.as_mut() {
        back(
            "the default behaviour",
            &mut default.target_origin_id,
            &prior.default_target,
        );
    }
    if let Some(behaviors) = new.cache_behaviors.as_mut() {
        for behavior in behaviors.items.iter_mut().flatten() {
            if let Some(prior_target) = prior.behavior_targets.get(&behavior.path_pattern) {
                let what = format!("behaviour {}", behavior.path_pattern);
                back(&what, &mut behavior.target_origin_id, prior_target);
            }
        }
    }
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
                Ok(match read_config(ctx, &summary.id).await? {
                    // A disabled distribution serves nothing: there is nothing to redirect.
                    Some(current) if current.config.enabled() => {
                        let routing =
                            Routing::of(&summary.id, &summary.domain_name, &current.config);
                        propose(&routing, domain).into_iter().collect()
                    }
                    _ => vec![],
                })
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
        update(ctx, &cut.target, |config| {
            Change::Write(Box::new(to_maintenance(config, domain)), ())
        })
        .await?
        .ok_or_else(|| gone(&cut.target))?;
        Ok(record)
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
        .await?
        .unwrap_or_else(|| {
            vec![format!(
                "conflict: distribution {} was deleted after the cut; nothing to point back",
                prior.distribution_id
            )]
        });
        Ok(UndoOutcome { notes })
    }
}
