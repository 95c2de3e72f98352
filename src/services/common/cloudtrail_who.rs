//! Who changed a resource, as CloudTrail tells it: for `watch`, which reports a cut someone undid.
//!
//! `LookupEvents` reads the region's 90-day management event history, whether or not a trail logs it,
//! filtered on one resource name, newest first
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html>). It is slow to
//! see events (typically within 15 minutes of the call) and limited to 2 requests per second per account
//! and region, so it is asked once per reopened cut, one page, and any failure leaves the answer empty:
//! who did it is a help to the responder, never a condition.

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use crate::aws::RegionCtx;

/// The most events named per resource.
const EVENTS_NAMED: i32 = 5;

/// `EventName by Username at EventTime` for the changes to `resource` since `since` (an RFC 3339 time,
/// the cut's completion), newest first; empty when CloudTrail has none or cannot be asked.
pub async fn who_changed(ctx: &RegionCtx, resource: &str, since: Option<&str>) -> Vec<String> {
    let Ok(attribute) = LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::ResourceName)
        .attribute_value(resource)
        .build()
    else {
        return Vec::new();
    };
    let mut request = ctx
        .cloudtrail()
        .lookup_events()
        .lookup_attributes(attribute)
        .max_results(EVENTS_NAMED);
    if let Some(since) = since.and_then(|at| DateTime::from_str(at, Format::DateTime).ok()) {
        request = request.start_time(since);
    }
    let Ok(answer) = request.send().await else {
        return Vec::new();
    };
    answer
        .events()
        .iter()
        // Reads (`Describe…`, `Get…`, `List…`) change nothing: hikkonuki's own watch makes them.
        .filter(|event| {
            event
                .read_only()
                .is_none_or(|read_only| read_only != "true")
        })
        .map(|event| {
            format!(
                "{} by {} at {}",
                event.event_name().unwrap_or("an unnamed call"),
                event.username().unwrap_or("an unnamed principal"),
                event
                    .event_time()
                    .and_then(|time| time.fmt(Format::DateTime).ok())
                    .unwrap_or_else(|| "an unknown time".into())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput;
    use aws_sdk_cloudtrail::types::Event;
    use aws_smithy_mocks::{mock, mock_client};

    #[tokio::test]
    async fn the_changes_since_the_cut_are_named_newest_first_and_reads_left_out() {
        let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events)
            .match_requests(|request| {
                request.lookup_attributes()[0].attribute_value() == "sg-1"
                    && request.start_time()
                        == Some(
                            &DateTime::from_str("2026-11-30T10:00:00Z", Format::DateTime).unwrap(),
                        )
            })
            .then_output(|| {
                LookupEventsOutput::builder()
                    .events(
                        Event::builder()
                            .event_name("AuthorizeSecurityGroupIngress")
                            .username("deploy-bot")
                            .read_only("false")
                            .event_time(DateTime::from_secs(1_795_000_000))
                            .build(),
                    )
                    .events(
                        Event::builder()
                            .event_name("DescribeSecurityGroups")
                            .username("hikkonuki")
                            .read_only("true")
                            .build(),
                    )
                    .build()
            });
        let ctx = RegionCtx::for_tests("us-east-1")
            .mock_cloudtrail(mock_client!(aws_sdk_cloudtrail, [&lookup]));
        assert_eq!(
            who_changed(&ctx, "sg-1", Some("2026-11-30T10:00:00Z")).await,
            ["AuthorizeSecurityGroupIngress by deploy-bot at 2026-11-18T11:06:40Z"]
        );
    }

    #[tokio::test]
    async fn cloudtrail_refusing_leaves_the_answer_empty() {
        // A responder's role without cloudtrail:LookupEvents: AWS answers AccessDeniedException.
        let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_error(|| {
            aws_sdk_cloudtrail::operation::lookup_events::LookupEventsError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .build(),
            )
        });
        let ctx = RegionCtx::for_tests("us-east-1")
            .mock_cloudtrail(mock_client!(aws_sdk_cloudtrail, [&lookup]));
        assert!(who_changed(&ctx, "sg-1", None).await.is_empty());
    }
}
