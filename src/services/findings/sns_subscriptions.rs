//! `sns_subscriptions_outside` (a finding; changes nothing): SNS subscriptions that deliver a topic's
//! messages out of the account. A topic's policy decides who may call `Publish` or `Subscribe`; delivery
//! to a subscription already made is no such call, so no deny on the topic (`resource_policy_deny`) and no
//! credential cut stops it: whatever the account publishes keeps flowing to an endpoint an intruder
//! subscribed. Only the subscription's removal does (`Unsubscribe`, which the topic's owner may call:
//! https://docs.aws.amazon.com/sns/latest/api/API_Unsubscribe.html), and that cannot be given back, since
//! a new subscription to an endpoint outside must be confirmed from that endpoint
//! (https://docs.aws.amazon.com/sns/latest/dg/sns-create-subscribe-endpoint-to-topic.html). So the
//! responder is told, with the command.
//!
//! Read with `ListSubscriptions` (every subscription of the region, a hundred a page:
//! https://docs.aws.amazon.com/sns/latest/api/API_ListSubscriptions.html). What goes out:
//! - `sqs`, `lambda`, `firehose`: an ARN of another account (High); this account's are inside.
//! - `http`, `https`: a web endpoint, anyone's (High).
//! - `email`, `email-json`, `sms`, `application` (mobile push): people and devices, often the team's own
//!   alerts (Medium: check they are yours).
//! - Anything else, or an endpoint that is not the ARN its protocol needs: cannot be told (High).

use async_trait::async_trait;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub struct SnsSubscriptionsOutside;

const NAME: &str = "sns_subscriptions_outside";

/// Where one subscription delivers, as far as this account is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A resource of this account.
    Inside,
    /// Another account's resource, or a web endpoint.
    OutsideAws,
    /// An address of a person or a device.
    Person,
    /// A protocol or endpoint this reading does not know.
    Unclassified,
}

/// Classifies a subscription by its protocol and endpoint (see the module documentation).
pub fn delivery(protocol: &str, endpoint: &str, account: &str) -> Delivery {
    match protocol {
        "sqs" | "lambda" | "firehose" => {
            let parts: Vec<&str> = endpoint.splitn(6, ':').collect();
            match parts.as_slice() {
                ["arn", _, _, _, owner, _] if owner.len() == 12 => {
                    if *owner == account {
                        Delivery::Inside
                    } else {
                        Delivery::OutsideAws
                    }
                }
                _ => Delivery::Unclassified,
            }
        }
        "http" | "https" => Delivery::OutsideAws,
        "email" | "email-json" | "sms" | "application" => Delivery::Person,
        _ => Delivery::Unclassified,
    }
}

/// One subscription as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub subscription_arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
}

/// The finding for one subscription, if it delivers out of the account.
pub fn finding(region: &str, account: &str, listed: &Listed) -> Option<Finding> {
    let Listed {
        subscription_arn,
        topic_arn,
        protocol,
        endpoint,
        owner,
    } = listed;
    // A subscription not yet confirmed has no ARN of its own; it delivers once its endpoint confirms it.
    let pending = subscription_arn == "PendingConfirmation" || subscription_arn.is_empty();
    let delivers = if pending {
        "will deliver, once its endpoint confirms it,"
    } else {
        "delivers"
    };
    let (severity, what) = match delivery(protocol, endpoint, account) {
        Delivery::Inside => return None,
        Delivery::OutsideAws => (
            Severity::High,
            format!(
                "{delivers} every message published to it to {protocol} endpoint {endpoint}, outside this account"
            ),
        ),
        Delivery::Person => (
            Severity::Medium,
            format!(
                "{delivers} every message published to it to {protocol} address {endpoint}: check it is your own"
            ),
        ),
        Delivery::Unclassified => (
            Severity::High,
            format!(
                "{delivers} to {protocol} endpoint {endpoint}, which hikkonuki cannot tell is inside this account"
            ),
        ),
    };
    let (resource, remove) = if pending {
        (
            format!("{topic_arn} {protocol}:{endpoint}"),
            format!(
                "it awaits confirmation from its endpoint; remove it once confirmed (aws sns unsubscribe --region {region} --subscription-arn ARN), or check the topic's subscriptions again after the cuts"
            ),
        )
    } else {
        (
            subscription_arn.clone(),
            format!(
                "if it is not yours, remove it: aws sns unsubscribe --region {region} --subscription-arn {subscription_arn} (it cannot be given back: a new subscription must be confirmed from its endpoint)"
            ),
        )
    };
    let made_by = if owner.is_empty() || owner == account {
        String::new()
    } else {
        format!(" It was made by account {owner}.")
    };
    Some(Finding {
        check: NAME.into(),
        region: region.to_string(),
        resource,
        severity,
        message: format!(
            "A subscription to topic {topic_arn} {what}. No cut stops it: the topic's policy governs who may publish and subscribe, not delivery to a subscription already made, and cutting credentials leaves it too.{made_by} Check what the topic carries; {remove}."
        ),
    })
}

#[async_trait]
impl Inspection for SnsSubscriptionsOutside {
    fn name(&self) -> &'static str {
        NAME
    }

    fn global(&self) -> bool {
        false
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let subscriptions: Vec<aws_sdk_sns::types::Subscription> = ctx
            .sns()
            .list_subscriptions()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("sns:ListSubscriptions", err))?;
        let account = &scope.caller.account;
        Ok(subscriptions
            .iter()
            .map(|sub| Listed {
                subscription_arn: sub.subscription_arn().unwrap_or_default().to_string(),
                topic_arn: sub.topic_arn().unwrap_or_default().to_string(),
                protocol: sub.protocol().unwrap_or_default().to_string(),
                endpoint: sub.endpoint().unwrap_or_default().to_string(),
                owner: sub.owner().unwrap_or_default().to_string(),
            })
            .filter_map(|listed| finding(&ctx.region, account, &listed))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::Client;
    use aws_sdk_sns::operation::list_subscriptions::ListSubscriptionsOutput;
    use aws_sdk_sns::types::Subscription;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const US: &str = "123456789012";

    #[test]
    fn deliveries_are_told_by_protocol_and_the_endpoints_account() {
        let cases = [
            (
                "sqs",
                "arn:aws:sqs:us-east-1:123456789012:ours",
                Delivery::Inside,
            ),
            (
                "sqs",
                "arn:aws:sqs:us-east-1:999988887777:exfil",
                Delivery::OutsideAws,
            ),
            (
                "lambda",
                "arn:aws:lambda:us-east-1:999988887777:function:f",
                Delivery::OutsideAws,
            ),
            (
                "firehose",
                "arn:aws:iam::123456789012:role/delivery",
                Delivery::Inside,
            ),
            ("sqs", "not-an-arn", Delivery::Unclassified),
            (
                "sqs",
                "arn:aws:sqs:us-east-1::no-account",
                Delivery::Unclassified,
            ),
            (
                "https",
                "https://collector.example/in",
                Delivery::OutsideAws,
            ),
            ("http", "http://203.0.113.9/", Delivery::OutsideAws),
            ("email", "oncall@example.com", Delivery::Person),
            ("sms", "+15555550100", Delivery::Person),
            (
                "application",
                "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/app/1",
                Delivery::Person,
            ),
            ("carrier-pigeon", "roof", Delivery::Unclassified),
        ];
        for (protocol, endpoint, expected) in cases {
            assert_eq!(
                delivery(protocol, endpoint, US),
                expected,
                "{protocol} {endpoint}"
            );
        }
    }

    fn subscription(arn: &str, protocol: &str, endpoint: &str, owner: &str) -> Subscription {
        Subscription::builder()
            .subscription_arn(arn)
            .topic_arn("arn:aws:sns:us-east-1:123456789012:orders")
            .protocol(protocol)
            .endpoint(endpoint)
            .owner(owner)
            .build()
    }

    /// Every page is read; what stays inside is not reported; what goes out is, with the command that
    /// removes it (or, not yet confirmed, what to do), and who made it when it was another account.
    #[tokio::test]
    async fn mocked_subscriptions_delivering_outside_are_reported_on_every_page() {
        let first = mock!(Client::list_subscriptions)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListSubscriptionsOutput::builder()
                    .subscriptions(subscription(
                        "arn:aws:sns:us-east-1:123456789012:orders:1",
                        "sqs",
                        "arn:aws:sqs:us-east-1:123456789012:orders-audit",
                        US,
                    ))
                    .subscriptions(subscription(
                        "arn:aws:sns:us-east-1:123456789012:orders:2",
                        "sqs",
                        "arn:aws:sqs:us-east-1:999988887777:exfil",
                        "999988887777",
                    ))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_subscriptions)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListSubscriptionsOutput::builder()
                    .subscriptions(subscription(
                        "PendingConfirmation",
                        "https",
                        "https://collector.example/in",
                        US,
                    ))
                    .subscriptions(subscription(
                        "arn:aws:sns:us-east-1:123456789012:orders:4",
                        "email",
                        "oncall@example.com",
                        US,
                    ))
                    .build()
            });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&first, &second]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sns(client);
        let findings = SnsSubscriptionsOutside
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        let seen: Vec<(&str, Severity)> = findings
            .iter()
            .map(|f| (f.resource.as_str(), f.severity))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "arn:aws:sns:us-east-1:123456789012:orders:2",
                    Severity::High
                ),
                (
                    "arn:aws:sns:us-east-1:123456789012:orders https:https://collector.example/in",
                    Severity::High
                ),
                (
                    "arn:aws:sns:us-east-1:123456789012:orders:4",
                    Severity::Medium
                ),
            ]
        );
        assert!(findings[0].message.contains(
            "aws sns unsubscribe --region us-east-1 --subscription-arn arn:aws:sns:us-east-1:123456789012:orders:2"
        ));
        assert!(findings[0].message.contains("made by account 999988887777"));
        assert!(findings[1].message.contains("awaits confirmation"));
        assert!(!findings[2].message.contains("made by account"));
    }
}
