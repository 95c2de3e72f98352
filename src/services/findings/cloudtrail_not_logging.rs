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

/// A trail whose status could not be read. An organization trail is run by the organization's management
/// account, and a member account cannot always read its status; it still records this account's events,
/// so it counts as logging, with a finding asking to confirm it in the management account. Any other
/// unreadable status is a High finding (never a failed plan: every other finding and cut still matters).
/// GetTrailStatus: "If the trail is an organization trail and you are a member account in the
/// organization ..., you must provide the full ARN of that trail" (docs.aws.amazon.com/awscloudtrail/
/// latest/APIReference/API_GetTrailStatus.html); the ARN is what is sent.
pub fn unreadable_status(region: &str, trail: &str, organization: bool, error: &str) -> Finding {
    let (severity, message) = if organization {
        (
            Severity::Medium,
            format!(
                "the status of organization trail {trail} cannot be read from this account ({error}): it is counted as logging this region. Confirm in the organization's management account that it is logging."
            ),
        )
    } else {
        (
            Severity::High,
            format!(
                "the status of trail {trail} cannot be read ({error}): this region may not be logged. Evidence first: check the trail and start logging before cutting (aws cloudtrail start-logging --name {trail} --region {region})."
            ),
        )
    };
    Finding {
        check: NAME.into(),
        region: region.to_string(),
        resource: trail.to_string(),
        severity,
        message,
    }
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
        let mut unreadable = Vec::new();
        for trail in described.trail_list() {
            let Some(id) = trail.trail_arn().or(trail.name()) else {
                continue;
            };
            let name = trail.name().unwrap_or(id).to_string();
            let organization = trail.is_organization_trail().unwrap_or(false);
            match cloudtrail.get_trail_status().name(id).send().await {
                Ok(status) => trails.push((name, status.is_logging().unwrap_or(false))),
                Err(err) => {
                    let err = ServiceError::from_sdk("cloudtrail:GetTrailStatus", err);
                    unreadable.push(unreadable_status(
                        &ctx.region,
                        &name,
                        organization,
                        &err.to_string(),
                    ));
                    if organization {
                        trails.push((name, true));
                    }
                }
            }
        }
        // With no readable trail, "no trail covers this region" would be untrue: the unreadable ones say
        // what is known.
        let mut findings = unreadable;
        if !trails.is_empty() || findings.is_empty() {
            findings.extend(judge(&ctx.region, &trails));
        }
        Ok(findings)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudtrail::Client;
    use aws_sdk_cloudtrail::error::ErrorMetadata;
    use aws_sdk_cloudtrail::operation::describe_trails::DescribeTrailsOutput;
    use aws_sdk_cloudtrail::operation::get_trail_status::GetTrailStatusError;
    use aws_sdk_cloudtrail::types::Trail;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn trail(name: &str, account: &str, organization: bool) -> Trail {
        Trail::builder()
            .name(name)
            .trail_arn(format!(
                "arn:aws:cloudtrail:us-east-1:{account}:trail/{name}"
            ))
            .is_organization_trail(organization)
            .build()
    }

    async fn inspect_with(trails: Vec<Trail>) -> Result<Vec<Finding>, ServiceError> {
        let describe = mock!(Client::describe_trails).then_output(move || {
            DescribeTrailsOutput::builder()
                .set_trail_list(Some(trails.clone()))
                .build()
        });
        // What a member account meets on its organization's trail (and any account on a trail it may
        // not read): an error, not a status.
        let status = mock!(Client::get_trail_status).then_error(|| {
            GetTrailStatusError::generic(
                ErrorMetadata::builder()
                    .code("TrailNotFoundException")
                    .message("Unknown trail")
                    .build(),
            )
        });
        let client = mock_client!(
            aws_sdk_cloudtrail,
            RuleMode::MatchAny,
            &[&describe, &status]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_cloudtrail(client);
        CloudTrailNotLogging
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
    }

    #[tokio::test]
    async fn mocked_an_organization_trail_whose_status_a_member_cannot_read_counts_as_logging() {
        let findings = inspect_with(vec![trail("org-trail", "999999999999", true)])
            .await
            .unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].severity, Severity::Medium);
        assert_eq!(findings[0].resource, "org-trail");
        assert!(findings[0].message.contains("management account"));
        assert!(findings[0].message.contains("TrailNotFoundException"));
    }

    #[tokio::test]
    async fn mocked_an_unreadable_trail_status_is_a_high_finding_not_a_failed_plan() {
        let findings = inspect_with(vec![trail("audit", "123456789012", false)])
            .await
            .unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].severity, Severity::High);
        assert!(
            findings[0]
                .message
                .contains("status of trail audit cannot be read")
        );
        assert!(!findings[0].message.contains("no CloudTrail trail covers"));
    }

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
