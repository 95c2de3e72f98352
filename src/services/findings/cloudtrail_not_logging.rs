//! `cloudtrail_not_logging` (a finding; changes nothing): a region where no trail is logging. Without a
//! logging trail the cuts, and whatever the intruder does meanwhile, leave no record: evidence comes
//! first, so the responder should start logging before cutting.

use async_trait::async_trait;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub struct CloudTrailNotLogging;

const NAME: &str = "cloudtrail_not_logging";

/// The finding for a region, given each trail visible there and whether it logs.
pub fn judge(region: &str, trails: &[(String, bool)]) -> Option<Finding> {
    if trails.iter().any(|(_, logging)| *logging) {
        return None;
    }
    let what = if trails.is_empty() {
        "no CloudTrail trail covers this region".to_string()
    } else {
        format!(
            "no trail is logging here ({} stopped)",
            trails
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Some(Finding {
        check: NAME.into(),
        region: region.to_string(),
        resource: "cloudtrail".into(),
        severity: Severity::High,
        message: format!(
            "{what}: the cuts and anything the intruder does now leave no record. Evidence first: start logging before cutting (aws cloudtrail start-logging --name TRAIL --region {region}, or create a multi-region trail)."
        ),
    })
}

#[async_trait]
impl Inspection for CloudTrailNotLogging {
    fn name(&self) -> &'static str {
        NAME
    }

    fn global(&self) -> bool {
        false
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let cloudtrail = ctx.cloudtrail();
        // Shadow trails (multi-region trails made in another region) cover this region too.
        let described = cloudtrail
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("cloudtrail:DescribeTrails", err))?;
        let mut trails = Vec::new();
        for trail in described.trail_list() {
            let Some(id) = trail.trail_arn().or(trail.name()) else {
                continue;
            };
            let status = cloudtrail
                .get_trail_status()
                .name(id)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("cloudtrail:GetTrailStatus", err))?;
            trails.push((
                trail.name().unwrap_or(id).to_string(),
                status.is_logging().unwrap_or(false),
            ));
        }
        Ok(judge(&ctx.region, &trails).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_reported_only_when_no_trail_logs() {
        assert_eq!(
            judge("us-east-1", &[("a".into(), false), ("org".into(), true)]),
            None
        );
        let stopped = judge("us-east-1", &[("a".into(), false)]).unwrap();
        assert_eq!(stopped.severity, Severity::High);
        assert!(stopped.message.contains("Evidence first"));
        assert!(stopped.message.contains("a stopped"));
        assert!(
            judge("eu-west-1", &[])
                .unwrap()
                .message
                .contains("no CloudTrail trail covers")
        );
    }
}
