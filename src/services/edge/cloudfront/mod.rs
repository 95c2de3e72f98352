//! Containment of CloudFront distributions, the account's public web edge. Exactly one of two kinds is
//! proposed for each enabled distribution:
//!
//! - [`cloudfront_disable`]: the distribution stops serving (viewers get errors).
//! - [`cloudfront_maintenance`], when the plan is made with `--maintenance-origin DOMAIN`:
//!   every cache behaviour is pointed at that origin instead, keeping certificate and aliases, so viewers
//!   see a notice and nothing reaches the real origins.
//!
//! CloudFront is global. Every change goes through GetDistributionConfig → UpdateDistribution with the
//! ETag just read (`If-Match`), so a change made by someone else in between is never overwritten: the
//! update fails with PreconditionFailed, and is retried once on a fresh read, which re-checks the state.
//! A change made before that read is the kind's to judge: `cloudfront_maintenance`, whose undo record is
//! the plan's `before`, refuses a read that no longer routes as `before`; `cloudfront_disable` writes
//! only `Enabled` onto what it read and restore puts back only `Enabled`, so such a change is kept.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::DistributionConfig;

use crate::aws::RegionCtx;
use crate::services::common::unclassified;
use crate::services::{PlanOption, ServiceError};

/// How many distributions are read at once during discovery.
pub const READ_CONCURRENCY: usize = 4;

pub mod cloudfront_disable;
pub mod cloudfront_maintenance;
pub mod edge_cache;
#[cfg(test)]
mod tests;

pub use cloudfront_disable::CloudFrontDisable;
pub use cloudfront_maintenance::CloudFrontMaintenance;

/// `--maintenance-origin DOMAIN`: CloudFront sends viewers to this domain instead of being disabled. Both
/// CloudFront kinds read it: `cloudfront_maintenance` proposes its cuts only with it, `cloudfront_disable`
/// only without it.
pub const MAINTENANCE_ORIGIN: PlanOption = PlanOption {
    flag: "maintenance-origin",
    value_name: Some("DOMAIN"),
    help: "Instead of disabling CloudFront distributions, point every behaviour at this origin (a host serving a maintenance page over HTTPS)",
    check: check_origin_domain,
    repeatable: false,
};

/// `--maintenance-origin` becomes a CloudFront origin's domain name: a bare host name, checked before
/// anything is read from the account.
fn check_origin_domain(domain: &str) -> Result<(), String> {
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    // CloudFront takes no IP address as an origin; an all-digit last label also is no top-level domain.
    let ends_in_name = domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    if domain.len() > 253 || !domain.contains('.') || !labels_ok || !ends_in_name {
        return Err(format!(
            "--maintenance-origin `{domain}` is not a host name\n  fix: give only the domain that serves the maintenance page over HTTPS, e.g. --maintenance-origin maintenance.example.com (no https://, no path, no IP address)"
        ));
    }
    Ok(())
}

/// A distribution's ID and domain, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionSummary {
    pub id: String,
    pub domain_name: String,
}

/// Every distribution of the account, sorted by ID.
pub async fn distributions(ctx: &RegionCtx) -> Result<Vec<DistributionSummary>, ServiceError> {
    let pages: Vec<_> = ctx
        .cloudfront()
        .list_distributions()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudfront:ListDistributions", err))?;
    let mut found: Vec<DistributionSummary> = pages
        .iter()
        .filter_map(|page| page.distribution_list())
        .flat_map(|list| list.items())
        .map(|d| DistributionSummary {
            id: d.id().to_string(),
            domain_name: d.domain_name().to_string(),
        })
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// A distribution's configuration and the ETag that goes with it.
pub struct VersionedConfig {
    pub config: DistributionConfig,
    pub etag: String,
}

/// CloudFront's answer for a distribution that does not exist.
pub fn is_not_found(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("NoSuchDistribution")
}

/// The configuration, or `Ok(None)` when the distribution no longer exists.
pub async fn read_config(
    ctx: &RegionCtx,
    id: &str,
) -> Result<Option<VersionedConfig>, ServiceError> {
    let result = ctx
        .cloudfront()
        .get_distribution_config()
        .id(id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudfront:GetDistributionConfig", err));
    match result {
        Ok(out) => {
            let config = out
                .distribution_config()
                .cloned()
                .ok_or_else(|| ServiceError {
                    code: Some(NO_CONFIGURATION.into()),
                    ..ServiceError::local(
                        "cloudfront:GetDistributionConfig",
                        format!("distribution {id} returned no configuration"),
                    )
                })?;
            Ok(Some(VersionedConfig {
                config,
                etag: out.e_tag().unwrap_or_default().to_string(),
            }))
        }
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// What a change function decided: write this configuration, or leave the distribution as it is.
/// The code [`read_config`] gives its error when GetDistributionConfig answers without a configuration,
/// which it documents as always returned
/// (<https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_GetDistributionConfig.html>).
const NO_CONFIGURATION: &str = "NoDistributionConfig";

/// [`read_config`] for discovery: a distribution answered without its configuration is reported for
/// `kind` and passed over, so one odd answer does not take every other distribution's cut with it.
pub async fn read_config_for_discovery(
    ctx: &RegionCtx,
    kind: &str,
    summary: &DistributionSummary,
) -> Result<Option<VersionedConfig>, ServiceError> {
    match read_config(ctx, &summary.id).await {
        Err(err) if err.code.as_deref() == Some(NO_CONFIGURATION) => {
            unclassified::report(
                ctx,
                kind,
                crate::plan::GLOBAL_REGION,
                &format!("{} ({})", summary.id, summary.domain_name),
                "GetDistributionConfig answered without its configuration, so whether it serves and from where is not known",
            )
            .await;
            Ok(None)
        }
        other => other,
    }
}

pub enum Change<T> {
    Write(Box<DistributionConfig>, T),
    Leave(T),
}

/// Reads the configuration, lets `change` decide on it, and writes the result with the ETag just read.
/// If someone else updated the distribution in between (PreconditionFailed), reads and decides once
/// more, so the decision is always made on the state that is overwritten; a second PreconditionFailed is
/// returned as the error. `Ok(None)` when the distribution no longer exists.
pub async fn update<T>(
    ctx: &RegionCtx,
    id: &str,
    change: impl Fn(&DistributionConfig) -> Change<T>,
) -> Result<Option<T>, ServiceError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let Some(current) = read_config(ctx, id).await? else {
            return Ok(None);
        };
        let (config, outcome) = match change(&current.config) {
            Change::Leave(outcome) => return Ok(Some(outcome)),
            Change::Write(config, outcome) => (config, outcome),
        };
        let result = ctx
            .cloudfront()
            .update_distribution()
            .id(id)
            .if_match(&current.etag)
            .distribution_config(*config)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("cloudfront:UpdateDistribution", err));
        match result {
            Ok(_) => return Ok(Some(outcome)),
            Err(err) if err.code.as_deref() == Some("PreconditionFailed") && attempts < 2 => {
                continue;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The error for a cut whose distribution was deleted between the plan and the cut.
pub fn gone(id: &str) -> ServiceError {
    ServiceError::local(
        "cloudfront:GetDistributionConfig",
        format!("distribution {id} no longer exists; make a new plan"),
    )
}

/// The distribution's aliases (alternate domain names), for the plan.
pub fn aliases(config: &DistributionConfig) -> Vec<String> {
    config
        .aliases()
        .map(|a| a.items().to_vec())
        .unwrap_or_default()
}

/// Each origin's ID and domain, for the plan: where the distribution's requests go.
pub fn origin_domains(config: &DistributionConfig) -> BTreeMap<String, String> {
    config
        .origins()
        .map(|o| o.items())
        .unwrap_or_default()
        .iter()
        .map(|o| (o.id().to_string(), o.domain_name().to_string()))
        .collect()
}

/// The certificate viewers see, in one line: the cuts keep it, and the plan shows it.
pub fn certificate_summary(config: &DistributionConfig) -> String {
    let Some(cert) = config.viewer_certificate() else {
        return "CloudFront default certificate".into();
    };
    // An unset certificate may come back as an empty string rather than absent.
    fn set(value: Option<&str>) -> Option<&str> {
        value.filter(|v| !v.is_empty())
    }
    let source = match (
        set(cert.acm_certificate_arn()),
        set(cert.iam_certificate_id()),
    ) {
        (Some(arn), _) => format!("ACM certificate {arn}"),
        (None, Some(id)) => format!("IAM server certificate {id}"),
        // The settings below only apply to a custom certificate.
        (None, None) => return "CloudFront default certificate".into(),
    };
    let details: Vec<&str> = [
        cert.ssl_support_method().map(|m| m.as_str()),
        cert.minimum_protocol_version().map(|v| v.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if details.is_empty() {
        source
    } else {
        format!("{source} ({})", details.join(", "))
    }
}
