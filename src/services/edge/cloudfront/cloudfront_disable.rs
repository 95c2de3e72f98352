//! `cloudfront_disable`: a distribution is disabled (`Enabled=false`) so it stops serving anything: its
//! domain and aliases answer with errors, and no request reaches its origins. Everything else in its
//! configuration stays, so restore only turns it back on. AWS takes some minutes to deploy either change.
//! Restore enables it only while it is still disabled: one enabled or deleted since the cut is left
//! alone and reported.
//!
//! Not proposed when the plan is made with `--maintenance-origin`: `cloudfront_maintenance` then
//! handles every distribution.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_cloudfront::types::DistributionConfig;
use serde::{Deserialize, Serialize};

use super::{
    Change, READ_CONCURRENCY, aliases, certificate_summary, distributions, gone, origin_domains,
    read_config, read_config_for_discovery, update,
};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome, gather,
};

pub struct CloudFrontDisable;

static INFO: KindInfo = KindInfo {
    name: "cloudfront_disable",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::CloudFront,
};

/// A distribution as `before`, `after` and the undo record hold it: whether it serves, and what it
/// serves (names, certificate, origins), so the plan shows what goes dark and apply refuses a
/// distribution that was re-pointed since the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributionState {
    pub distribution_id: String,
    pub domain_name: String,
    pub aliases: Vec<String>,
    pub enabled: bool,
    /// The origin the default cache behaviour sends requests to.
    pub default_target: String,
    /// Origin ID → origin domain.
    pub origins: BTreeMap<String, String>,
    pub certificate: String,
}

impl DistributionState {
    pub fn of(id: &str, domain_name: &str, config: &DistributionConfig) -> DistributionState {
        DistributionState {
            distribution_id: id.to_string(),
            domain_name: domain_name.to_string(),
            aliases: aliases(config),
            enabled: config.enabled(),
            default_target: config
                .default_cache_behavior()
                .map(|b| b.target_origin_id().to_string())
                .unwrap_or_default(),
            origins: origin_domains(config),
            certificate: certificate_summary(config),
        }
    }
}

/// The whole configuration with only `Enabled` changed, or None when it already is `enabled`.
/// UpdateDistribution replaces the whole configuration, so everything else is sent back as read.
pub fn with_enabled(config: &DistributionConfig, enabled: bool) -> Option<DistributionConfig> {
    if config.enabled() == enabled {
        return None;
    }
    let mut config = config.clone();
    config.enabled = enabled;
    Some(config)
}

/// The proposal for one distribution, or nothing when it is already disabled.
pub fn propose(state: &DistributionState) -> Option<Proposal<DistributionState>> {
    if !state.enabled {
        return None;
    }
    let after = DistributionState {
        enabled: false,
        ..state.clone()
    };
    let names = if state.aliases.is_empty() {
        state.domain_name.clone()
    } else {
        format!("{} and {}", state.domain_name, state.aliases.join(", "))
    };
    Some(Proposal {
        target: state.distribution_id.clone(),
        reason: format!(
            "CloudFront distribution {} serves {names} to the internet. Disabling it stops it serving anything (viewers get errors; to show a notice instead, plan with --maintenance-origin DOMAIN); its configuration is kept, and restore enables it again. AWS deploys either change within minutes.",
            state.distribution_id
        ),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

async fn read(
    ctx: &RegionCtx,
    id: &str,
    domain_name: &str,
) -> Result<Option<DistributionState>, ServiceError> {
    Ok(read_config(ctx, id)
        .await?
        .map(|c| DistributionState::of(id, domain_name, &c.config)))
}

/// Sets `Enabled`, leaving the distribution alone when it already is so: Some(true) when it was
/// changed, Some(false) when it already was, None when the distribution no longer exists.
async fn set_enabled(
    ctx: &RegionCtx,
    id: &str,
    enabled: bool,
) -> Result<Option<bool>, ServiceError> {
    update(ctx, id, |config| match with_enabled(config, enabled) {
        Some(config) => Change::Write(Box::new(config), true),
        None => Change::Leave(false),
    })
    .await
}

#[async_trait]
impl CutKind for CloudFrontDisable {
    type State = DistributionState;
    /// The undo record is `before`: the distribution to enable again.
    type Undo = DistributionState;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn plan_options(&self) -> &'static [crate::services::PlanOption] {
        &[super::MAINTENANCE_ORIGIN]
    }

    fn check_states(&self, cut: &TypedCut<DistributionState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.distribution_id != cut.target || after.distribution_id != cut.target {
            return Err(format!(
                "distribution_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if !before.enabled || after.enabled {
            return Err("`before.enabled` must be true and `after.enabled` false".into());
        }
        if (DistributionState {
            enabled: true,
            ..after.clone()
        }) != *before
        {
            return Err("`after` may differ from `before` only in `enabled`".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<DistributionState>>, ServiceError> {
        if scope.option(super::MAINTENANCE_ORIGIN.flag).is_some() {
            return Ok(vec![]);
        }
        gather(
            distributions(ctx).await?,
            READ_CONCURRENCY,
            |summary| async move {
                Ok(read_config_for_discovery(ctx, INFO.name, &summary)
                    .await?
                    .map(|c| DistributionState::of(&summary.id, &summary.domain_name, &c.config))
                    .as_ref()
                    .and_then(propose)
                    .into_iter()
                    .collect())
            },
        )
        .await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<DistributionState>,
    ) -> Result<Option<DistributionState>, ServiceError> {
        read(ctx, &cut.target, &cut.before.domain_name).await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<DistributionState>,
    ) -> Result<DistributionState, ServiceError> {
        let record = self.undo_record_for(cut)?;
        set_enabled(ctx, &cut.target, false)
            .await?
            .ok_or_else(|| gone(&cut.target))?;
        Ok(record)
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<DistributionState>,
    ) -> Result<DistributionState, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &DistributionState,
    ) -> Result<UndoOutcome, ServiceError> {
        let id = &prior.distribution_id;
        let note = match set_enabled(ctx, id, true).await? {
            Some(true) => format!("distribution {id} enabled again"),
            Some(false) => format!(
                "distribution {id} was already enabled (by someone since the cut, or by an earlier restore); left as it is"
            ),
            None => {
                format!("conflict: distribution {id} was deleted after the cut; nothing to enable")
            }
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}
