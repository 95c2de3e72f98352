//! `route53_public_records` (a finding; changes nothing): records in public hosted zones that point at
//! something the plan cuts, or at an address no resource in the plan holds.
//!
//! The first kind tells the responder which public names will stop answering once the plan is applied
//! (so whoever owns them can be told). The second is a name that sends the public somewhere the plan does
//! not touch: possibly outside the account, where whoever controls the address receives the traffic (a
//! dangling record after an incident is a takeover risk). Only A, AAAA and CNAME values and alias
//! targets are compared; the check cannot see which addresses the account owns beyond the plan's cuts,
//! so the second message says "no resource in this plan" rather than "outside the account".

use std::collections::BTreeSet;

use async_trait::async_trait;
use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use serde_json::Value;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub struct Route53PublicRecords;

const NAME: &str = "route53_public_records";

/// A record reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub zone: String,
    pub name: String,
    pub record_type: String,
    /// Values or the alias target, lower-case, without the final dot.
    pub values: Vec<String>,
    pub alias: bool,
}

fn normalize(value: &str) -> String {
    value.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn view(zone: &str, record: &ResourceRecordSet) -> Option<RecordView> {
    let record_type = record.r#type();
    if !matches!(record_type, RrType::A | RrType::Aaaa | RrType::Cname) {
        return None;
    }
    let (values, alias) = match record.alias_target() {
        Some(alias) => (vec![normalize(alias.dns_name())], true),
        None => (
            record
                .resource_records()
                .iter()
                .map(|r| normalize(r.value()))
                .collect(),
            false,
        ),
    };
    Some(RecordView {
        zone: zone.to_string(),
        name: normalize(record.name()),
        record_type: record_type.as_str().to_string(),
        values,
        alias,
    })
}

/// The strings of a recorded state that can name where a resource answers: not the free text the
/// account's owner (or an intruder) writes there (descriptions, tags, names), which could otherwise make
/// any record read as one this plan cuts, and its finding drop from Medium to Info.
fn collect_strings(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::String(s) => {
            into.insert(normalize(s));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, into)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !is_free_text(key))
            .for_each(|(_, v)| collect_strings(v, into)),
        _ => {}
    }
}

fn is_free_text(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("description") || key.contains("tag") || key == "name" || key == "comment"
}

/// The cut a value belongs to: the value is the cut's target or one of the host names / addresses in its
/// recorded state (a CloudFront domain, an IP), or its first DNS label is the target (an RDS endpoint
/// `<instance>.<hash>.<region>.rds.amazonaws.com`).
fn cut_for<'a>(value: &str, cuts: &'a [Cut]) -> Option<&'a Cut> {
    let first_label = value.split('.').next().unwrap_or_default();
    cuts.iter().find(|cut| {
        let target = normalize(&cut.target);
        // The first label names the resource only in AWS's own host names (an RDS endpoint): a name
        // anyone registers (`api.attacker.example`) says nothing of which resource it is.
        if value == target || (is_aws_name(value) && first_label == target) {
            return true;
        }
        let mut strings = BTreeSet::new();
        collect_strings(&cut.before.value(), &mut strings);
        strings.contains(value)
    })
}

/// AWS service names that resolve inside AWS: not "an address no resource holds", just not in the plan.
/// China's regions have their own domains (`.amazonaws.com.cn`, CloudFront's `.cloudfront.cn`).
fn is_aws_name(value: &str) -> bool {
    [
        ".amazonaws.com",
        ".amazonaws.com.cn",
        ".cloudfront.net",
        ".cloudfront.cn",
        ".aws",
        ".awsglobalaccelerator.com",
    ]
    .iter()
    .any(|domain| value.ends_with(domain))
}

/// The finding for one record, if any.
pub fn classify(record: &RecordView, cuts: &[Cut]) -> Option<Finding> {
    for value in &record.values {
        if let Some(cut) = cut_for(value, cuts) {
            return Some(Finding {
                check: NAME.into(),
                region: crate::plan::GLOBAL_REGION.into(),
                resource: format!(
                    "{} {} (zone {})",
                    record.name, record.record_type, record.zone
                ),
                severity: Severity::Info,
                message: format!(
                    "public record {} {} points at {value}, which this plan cuts ({}): the name will stop answering after apply; tell whoever relies on it",
                    record.name, record.record_type, cut.id
                ),
            });
        }
    }
    let outside: Vec<&String> = record.values.iter().filter(|v| !is_aws_name(v)).collect();
    if outside.is_empty() || record.alias {
        return None;
    }
    Some(Finding {
        check: NAME.into(),
        region: crate::plan::GLOBAL_REGION.into(),
        resource: format!(
            "{} {} (zone {})",
            record.name, record.record_type, record.zone
        ),
        severity: Severity::Medium,
        message: format!(
            "public record {} {} points at {}, which no resource in this plan holds: if it is outside the account, whoever controls it receives this name's traffic; check it, and remove or repoint the record if it is not yours",
            record.name,
            record.record_type,
            outside
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

async fn zone_records(
    ctx: &RegionCtx,
    zone_id: &str,
) -> Result<Vec<ResourceRecordSet>, ServiceError> {
    let mut records = Vec::new();
    let mut start: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut request = ctx
            .route53()
            .list_resource_record_sets()
            .hosted_zone_id(zone_id);
        if let Some((name, record_type, identifier)) = &start {
            request = request
                .start_record_name(name)
                .start_record_type(record_type.clone())
                .set_start_record_identifier(identifier.clone());
        }
        let page = request
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("route53:ListResourceRecordSets", err))?;
        records.extend(page.resource_record_sets().iter().cloned());
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(name), Some(record_type)) => {
                start = Some((
                    name.to_string(),
                    record_type.clone(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => break,
        }
    }
    Ok(records)
}

#[async_trait]
impl Inspection for Route53PublicRecords {
    fn name(&self) -> &'static str {
        NAME
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let zones = ctx
            .route53()
            .list_hosted_zones()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("route53:ListHostedZones", err))?;
        let mut findings = Vec::new();
        for zone in zones {
            if zone.config().is_some_and(|c| c.private_zone()) {
                continue;
            }
            let zone_name = normalize(zone.name());
            for record in zone_records(ctx, zone.id()).await? {
                if let Some(finding) =
                    view(&zone_name, &record).and_then(|view| classify(&view, cuts))
                {
                    findings.push(finding);
                }
            }
        }
        Ok(findings)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_route53::Client;
    use aws_sdk_route53::operation::list_hosted_zones::ListHostedZonesOutput;
    use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
    use aws_sdk_route53::types::{HostedZone, HostedZoneConfig, ResourceRecord};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn rds_cut() -> Cut {
        Cut {
            id: "rds_public_off/us-east-1/orders".into(),
            kind: "rds_public_off".into(),
            region: "us-east-1".into(),
            target: "orders".into(),
            enabled: true,
            reversible: true,
            reason: String::new(),
            before: serde_json::json!({"db_instance_identifier": "orders"}).into(),
            after: serde_json::json!({}).into(),
        }
    }

    fn record(name: &str, kind: &str, values: &[&str]) -> RecordView {
        RecordView {
            zone: "example.com".into(),
            name: name.into(),
            record_type: kind.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: false,
        }
    }

    #[test]
    fn a_record_pointing_at_a_cut_resource_is_info_and_names_the_cut() {
        let found = classify(
            &record(
                "db.example.com",
                "CNAME",
                &["orders.abcdefghij.us-east-1.rds.amazonaws.com"],
            ),
            &[rds_cut()],
        )
        .unwrap();
        assert_eq!(found.severity, Severity::Info);
        assert!(found.message.contains("rds_public_off/us-east-1/orders"));
    }

    #[test]
    fn an_address_no_cut_holds_is_medium_and_aws_names_are_not_reported() {
        let found = classify(&record("www.example.com", "A", &["198.51.100.7"]), &[]).unwrap();
        assert_eq!(found.severity, Severity::Medium);
        assert!(found.message.contains("198.51.100.7"));
        assert_eq!(
            classify(
                &record("cdn.example.com", "CNAME", &["d111.cloudfront.net"]),
                &[]
            ),
            None
        );
        // China's AWS names are AWS names too.
        for name in [
            "orders.abcdefghij.rds.cn-north-1.amazonaws.com.cn",
            "d111.cloudfront.cn",
        ] {
            assert_eq!(
                classify(&record("cn.example.com", "CNAME", &[name]), &[]),
                None
            );
        }
    }

    #[test]
    fn names_and_descriptions_in_the_account_cannot_make_a_record_read_as_cut() {
        // A name anyone registers, whose first label is a cut resource's name.
        let found = classify(
            &record("shop.example.com", "CNAME", &["orders.attacker.example"]),
            &[rds_cut()],
        )
        .unwrap();
        assert_eq!(found.severity, Severity::Medium, "{}", found.message);
        // An address written into a rule's description and a tag of a cut resource.
        let mut described = rds_cut();
        described.before = serde_json::json!({
            "db_instance_identifier": "orders",
            "rules": [{"cidr_ipv4": "10.0.0.0/8", "description": "203.0.113.9"}],
            "tags": {"Owner": "203.0.113.9"}
        })
        .into();
        let found = classify(
            &record("www.example.com", "A", &["203.0.113.9"]),
            &[described],
        )
        .unwrap();
        assert_eq!(found.severity, Severity::Medium, "{}", found.message);
    }

    /// ListResourceRecordSets pages by (name, type); the emulator returns one page for small zones.
    #[tokio::test]
    async fn mocked_inspection_follows_record_pages_and_skips_private_zones() {
        let zones = mock!(Client::list_hosted_zones).then_output(|| {
            ListHostedZonesOutput::builder()
                .hosted_zones(
                    HostedZone::builder()
                        .id("/hostedzone/PUB")
                        .name("example.com.")
                        .caller_reference("a")
                        .build()
                        .unwrap(),
                )
                .hosted_zones(
                    HostedZone::builder()
                        .id("/hostedzone/PRIV")
                        .name("internal.")
                        .caller_reference("b")
                        .config(HostedZoneConfig::builder().private_zone(true).build())
                        .build()
                        .unwrap(),
                )
                .is_truncated(false)
                .marker("")
                .max_items(100)
                .build()
                .unwrap()
        });
        let first = mock!(Client::list_resource_record_sets)
            .match_requests(|r| {
                r.hosted_zone_id() == Some("PUB") && r.start_record_name().is_none()
            })
            .then_output(|| {
                ListResourceRecordSetsOutput::builder()
                    .resource_record_sets(
                        ResourceRecordSet::builder()
                            .name("www.example.com.")
                            .r#type(RrType::A)
                            .ttl(60)
                            .resource_records(
                                ResourceRecord::builder()
                                    .value("198.51.100.7")
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .is_truncated(true)
                    .next_record_name("db.example.com.")
                    .next_record_type(RrType::Cname)
                    .max_items(1)
                    .build()
                    .unwrap()
            });
        let second = mock!(Client::list_resource_record_sets)
            .match_requests(|r| {
                r.start_record_name() == Some("db.example.com.")
                    && r.start_record_type() == Some(&RrType::Cname)
            })
            .then_output(|| {
                ListResourceRecordSetsOutput::builder()
                    .resource_record_sets(
                        ResourceRecordSet::builder()
                            .name("db.example.com.")
                            .r#type(RrType::Cname)
                            .ttl(60)
                            .resource_records(
                                ResourceRecord::builder()
                                    .value("orders.abcdefghij.us-east-1.rds.amazonaws.com")
                                    .build()
                                    .unwrap(),
                            )
                            .build()
                            .unwrap(),
                    )
                    .is_truncated(false)
                    .max_items(1)
                    .build()
                    .unwrap()
            });
        let client = mock_client!(
            aws_sdk_route53,
            RuleMode::MatchAny,
            &[&zones, &first, &second]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_route53(client);
        let scope = DiscoveryScope::for_tests();
        let findings = Route53PublicRecords
            .inspect(&ctx, &scope, &[rds_cut()])
            .await
            .unwrap();
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
        let severities: Vec<(Severity, &str)> = findings
            .iter()
            .map(|f| (f.severity, f.resource.as_str()))
            .collect();
        assert_eq!(
            severities,
            vec![
                (Severity::Medium, "www.example.com A (zone example.com)"),
                (Severity::Info, "db.example.com CNAME (zone example.com)"),
            ]
        );
    }
}
