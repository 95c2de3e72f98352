//! `dns_way_out` (a finding; changes nothing): the VPCs whose network the plan cuts still resolve names
//! through the Amazon-provided resolver, and DNS is a way out no route, network ACL or security group
//! closes. Queries to the resolver at the VPC's `+2` address (or 169.254.169.253) never pass a network
//! ACL or a security group, and the resolver forwards a query for any public name to that name's
//! servers: whoever runs a domain's name server reads whatever an instance encodes in the names it asks
//! for. AWS says both: the resolver "performs recursive lookups against public name servers for all other
//! domain names" (the Route 53 Resolver API reference's introduction), and security groups, network ACLs
//! and AWS Network Firewall "do not apply to DNS queries provided by Route 53 Resolver, potentially
//! allowing bad-actors to exfiltrate data using DNS", DNS Firewall being the control that filters them
//! (<https://aws.amazon.com/blogs/networking-and-content-delivery/secure-your-amazon-vpc-dns-resolution-with-amazon-route-53-resolver-dns-firewall/>).
//!
//! hikkonuki neither reads nor sets DNS Firewall: a VPC the plan cuts (named by a network cut, or any VPC
//! of a region whose VPC Block Public Access the plan switches on) whose DNS support is on
//! (DescribeVpcAttribute `enableDnsSupport`, on by default) is reported High, with the two ways to close
//! it by hand; one whose setting cannot be read is reported too, saying so.

use async_trait::async_trait;
use aws_sdk_ec2::types::VpcAttributeName;
use serde_json::Value;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub struct DnsWayOut;

const NAME: &str = "dns_way_out";

/// The kinds that cut a VPC's network paths, whose `before` names the VPC (`vpc_id`, or the gateway's
/// `attachments[].vpc_id`).
const NETWORK_KINDS: [&str; 5] = [
    "nacl_deny",
    "route_remove",
    "igw_detach",
    "vgw_detach",
    "sg_revoke",
];

/// Whether the plan switches on VPC Block Public Access in `region`, which cuts every VPC of it (but
/// those it excludes) without naming one.
pub fn blocks_region(region: &str, cuts: &[Cut]) -> bool {
    cuts.iter()
        .any(|cut| cut.enabled && cut.region == region && cut.kind == "vpc_block_public_access")
}

/// The VPCs of `region` that the plan's enabled network cuts cut, sorted.
pub fn cut_vpcs(region: &str, cuts: &[Cut]) -> Vec<String> {
    let mut vpcs: Vec<String> = cuts
        .iter()
        .filter(|cut| {
            cut.enabled && cut.region == region && NETWORK_KINDS.contains(&cut.kind.as_str())
        })
        .flat_map(|cut| {
            let before = cut.before.value();
            let own = before["vpc_id"].as_str().map(str::to_string);
            let attached: Vec<String> = before["attachments"]
                .as_array()
                .map(|attachments| {
                    attachments
                        .iter()
                        .filter_map(|a| a.get("vpc_id").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            own.into_iter().chain(attached)
        })
        .collect();
    vpcs.sort();
    vpcs.dedup();
    vpcs
}

/// The finding for a region, given each VPC the plan cuts and whether its DNS support is on (`Err`: the
/// setting could not be read). None when every VPC resolves no names.
pub fn judge(region: &str, vpcs: &[(String, Result<bool, String>)]) -> Option<Finding> {
    let resolving: Vec<&str> = vpcs
        .iter()
        .filter(|(_, on)| matches!(on, Ok(true)))
        .map(|(vpc, _)| vpc.as_str())
        .collect();
    let unread: Vec<String> = vpcs
        .iter()
        .filter_map(|(vpc, on)| on.as_ref().err().map(|why| format!("{vpc} ({why})")))
        .collect();
    if resolving.is_empty() && unread.is_empty() {
        return None;
    }
    let mut which = Vec::new();
    if !resolving.is_empty() {
        which.push(format!("DNS support is on in {}", resolving.join(", ")));
    }
    if !unread.is_empty() {
        which.push(format!(
            "whether it is on could not be read for {}",
            unread.join(", ")
        ));
    }
    Some(Finding {
        check: NAME.into(),
        region: region.to_string(),
        resource: "vpc-dns".into(),
        severity: Severity::High,
        message: format!(
            "DNS is a way out the plan's network cuts leave open: {}. Instances there can still ask the Amazon-provided resolver for any public name, which no route, network ACL or security group filters, and the resolver asks that name's servers: data encoded in the names reaches whoever runs the domain. hikkonuki does not read or set Route 53 Resolver DNS Firewall. To close it by hand: associate a DNS Firewall rule group that blocks every domain the workloads do not need (aws route53resolver create-firewall-rule-group, create-firewall-rule, associate-firewall-rule-group --vpc-id VPC --region {region}), or, where nothing needs names, turn DNS support off (aws ec2 modify-vpc-attribute --vpc-id VPC --no-enable-dns-support --region {region}; --enable-dns-support gives it back). Resolver outbound endpoints and forwarding rules also carry queries out of the VPC.",
            which.join("; ")
        ),
    })
}

/// Whether the VPC's DNS support is on
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcAttribute.html>).
async fn dns_support(ctx: &RegionCtx, vpc: &str) -> Result<bool, String> {
    ctx.ec2()
        .describe_vpc_attribute()
        .vpc_id(vpc)
        .attribute(VpcAttributeName::EnableDnsSupport)
        .send()
        .await
        .map(|answer| {
            answer
                .enable_dns_support()
                .and_then(|value| value.value())
                // Absent means AWS's default: on.
                .unwrap_or(true)
        })
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcAttribute", err).to_string())
}

#[async_trait]
impl Inspection for DnsWayOut {
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
        cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let mut vpcs = cut_vpcs(&ctx.region, cuts);
        if blocks_region(&ctx.region, cuts) {
            let every: Vec<aws_sdk_ec2::types::Vpc> = ctx
                .ec2()
                .describe_vpcs()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcs", err))?;
            vpcs.extend(
                every
                    .iter()
                    .filter_map(|vpc| vpc.vpc_id().map(str::to_string)),
            );
            vpcs.sort();
            vpcs.dedup();
        }
        let read =
            futures_util::future::join_all(vpcs.iter().map(|vpc| dns_support(ctx, vpc))).await;
        let judged: Vec<(String, Result<bool, String>)> = vpcs.into_iter().zip(read).collect();
        Ok(judge(&ctx.region, &judged).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::Client;
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::describe_vpc_attribute::{
        DescribeVpcAttributeError, DescribeVpcAttributeOutput,
    };
    use aws_sdk_ec2::types::AttributeBooleanValue;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;

    use super::*;

    fn cut(kind: &str, region: &str, enabled: bool, before: Value) -> Cut {
        Cut {
            id: format!("{kind}/{region}/x"),
            kind: kind.into(),
            region: region.into(),
            target: "x".into(),
            enabled,
            reversible: true,
            reason: String::new(),
            before: before.clone().into(),
            after: before.into(),
        }
    }

    #[test]
    fn the_vpcs_are_those_the_enabled_network_cuts_of_the_region_name() {
        let cuts = [
            cut("nacl_deny", "us-east-1", true, json!({"vpc_id": "vpc-b"})),
            cut(
                "route_remove",
                "us-east-1",
                true,
                json!({"vpc_id": "vpc-a"}),
            ),
            cut(
                "igw_detach",
                "us-east-1",
                true,
                json!({"attachments": [{"vpc_id": "vpc-c"}]}),
            ),
            cut(
                "sg_revoke",
                "us-east-1",
                false,
                json!({"vpc_id": "vpc-off"}),
            ),
            cut("nacl_deny", "eu-west-1", true, json!({"vpc_id": "vpc-eu"})),
            cut(
                "rds_public_off",
                "us-east-1",
                true,
                json!({"vpc_id": "vpc-db"}),
            ),
            cut("sg_revoke", "us-east-1", true, json!({"vpc_id": "vpc-a"})),
        ];
        assert_eq!(cut_vpcs("us-east-1", &cuts), ["vpc-a", "vpc-b", "vpc-c"]);
    }

    #[test]
    fn a_region_blocked_by_vpc_block_public_access_has_every_vpc_cut() {
        let blocked = [cut(
            "vpc_block_public_access",
            "us-east-1",
            true,
            json!({"mode": "off"}),
        )];
        assert!(blocks_region("us-east-1", &blocked));
        assert!(!blocks_region("eu-west-1", &blocked));
        let off = [cut(
            "vpc_block_public_access",
            "us-east-1",
            false,
            json!({"mode": "off"}),
        )];
        assert!(!blocks_region("us-east-1", &off));
    }

    #[test]
    fn a_vpc_with_dns_support_off_everywhere_is_no_finding_and_an_unread_one_is() {
        assert_eq!(judge("us-east-1", &[("vpc-a".into(), Ok(false))]), None);
        assert_eq!(judge("us-east-1", &[]), None);
        let finding = judge(
            "us-east-1",
            &[
                ("vpc-a".into(), Ok(true)),
                ("vpc-b".into(), Ok(false)),
                ("vpc-c".into(), Err("AccessDenied".into())),
            ],
        )
        .unwrap();
        assert_eq!(finding.severity, Severity::High);
        assert!(
            finding.message.starts_with(
                "DNS is a way out the plan's network cuts leave open: DNS support is on in vpc-a; whether it is on could not be read for vpc-c (AccessDenied)."
            ),
            "{}",
            finding.message
        );
        assert!(
            finding
                .message
                .contains("--no-enable-dns-support --region us-east-1")
        );
    }

    /// DescribeVpcAttribute as the API reference answers it (`EnableDnsSupport: {Value}`), and a denied
    /// read, which is reported rather than taken for off.
    #[tokio::test]
    async fn mocked_each_cut_vpcs_dns_support_is_read() {
        let on = mock!(Client::describe_vpc_attribute)
            .match_requests(|req| req.vpc_id() == Some("vpc-a"))
            .then_output(|| {
                DescribeVpcAttributeOutput::builder()
                    .vpc_id("vpc-a")
                    .enable_dns_support(AttributeBooleanValue::builder().value(true).build())
                    .build()
            });
        let off = mock!(Client::describe_vpc_attribute)
            .match_requests(|req| req.vpc_id() == Some("vpc-b"))
            .then_output(|| {
                DescribeVpcAttributeOutput::builder()
                    .vpc_id("vpc-b")
                    .enable_dns_support(AttributeBooleanValue::builder().value(false).build())
                    .build()
            });
        let denied = mock!(Client::describe_vpc_attribute)
            .match_requests(|req| req.vpc_id() == Some("vpc-c"))
            .then_error(|| {
                DescribeVpcAttributeError::generic(
                    ErrorMetadata::builder()
                        .code("UnauthorizedOperation")
                        .message("You are not authorized to perform this operation.")
                        .build(),
                )
            });
        let ctx = RegionCtx::with_ec2(
            "us-east-1",
            mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&on, &off, &denied]),
        );
        let cuts = [
            cut("nacl_deny", "us-east-1", true, json!({"vpc_id": "vpc-a"})),
            cut("nacl_deny", "us-east-1", true, json!({"vpc_id": "vpc-b"})),
            cut("nacl_deny", "us-east-1", true, json!({"vpc_id": "vpc-c"})),
        ];
        let found = DnsWayOut
            .inspect(&ctx, &DiscoveryScope::for_tests(), &cuts)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("DNS support is on in vpc-a;")
                && found[0].message.contains("could not be read for vpc-c (")
                && !found[0].message.contains("vpc-b"),
            "{}",
            found[0].message
        );
        assert_eq!(
            (on.num_calls(), off.num_calls(), denied.num_calls()),
            (1, 1, 1)
        );
    }
}
