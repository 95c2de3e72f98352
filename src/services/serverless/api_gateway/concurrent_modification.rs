//! API Gateway applies one change at a time to each API. A second change to the same API while the first is
//! still being applied is refused with `ConflictException` (HTTP 409) and the message "Unable to complete
//! operation due to concurrent modification. Please try again later." Apply runs the stage throttles and
//! the deny policies of one API side by side, so this answer is expected. The API reference lists
//! `ConflictException` for UpdateStage, UpdateRestApi and CreateDeployment
//! (<https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateStage.html>), without naming this case.
//! Terraform's AWS provider retries this answer for every REST API operation
//! (hashicorp/terraform-provider-aws#776, #16439) and for HTTP and WebSocket APIs (#18018, #29735).
//!
//! The SDK's standard retry does not count it as transient, so this classifier marks it retryable for the
//! API Gateway clients. The answer is then retried with the session's backoff and attempt budget, like
//! throttling. Any other `ConflictException` ("Stage already exists") is left as it is: it would fail the
//! same way on every attempt.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::retry::ErrorKind;

use crate::aws::RegionCtx;

/// The phrase API Gateway's concurrent-modification answer carries, in either API version.
const CONCURRENT_MODIFICATION: &str = "concurrent modification";

/// Marks API Gateway's concurrent-modification refusal as a transient error.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConcurrentModificationRetried;

impl ClassifyRetry for ConcurrentModificationRetried {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return RetryAction::NoActionIndicated;
        }
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        if response.status().as_u16() != 409 {
            return RetryAction::NoActionIndicated;
        }
        match response.body().bytes() {
            Some(body) if is_concurrent_modification(body) => {
                RetryAction::retryable_error(ErrorKind::TransientError)
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "API Gateway concurrent modification"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::transient_error_classifier()
    }
}

/// Whether an error body is the concurrent-modification answer (the phrase, in any case).
pub fn is_concurrent_modification(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains(CONCURRENT_MODIFICATION)
}

/// The REST API client with the classifier (see [`crate::aws`]).
pub fn retried_v1(
    builder: aws_sdk_apigateway::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_apigateway::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried)
}

/// The HTTP and WebSocket API client with the classifier.
pub fn retried_v2(
    builder: aws_sdk_apigatewayv2::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_apigatewayv2::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried)
}

#[cfg(test)]
mod tests {
    use aws_sdk_apigateway::Client;
    use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn answer(status: u16, error_type: &str, message: &str) -> HttpResponse {
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", error_type.to_string());
        response
    }

    fn client(rule: &aws_smithy_mocks::Rule) -> Client {
        mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[rule], |config| {
            config
                .retry_config(
                    aws_sdk_apigateway::config::retry::RetryConfig::standard()
                        .with_max_attempts(4)
                        .with_initial_backoff(std::time::Duration::from_millis(1)),
                )
                .retry_classifier(ConcurrentModificationRetried)
        })
    }

    #[tokio::test]
    async fn mocked_a_concurrent_modification_is_retried_until_the_change_goes_through() {
        let update = mock!(Client::update_stage)
            .sequence()
            .http_response(|| {
                answer(
                    409,
                    "ConflictException",
                    "Unable to complete operation due to concurrent modification. Please try again later.",
                )
            })
            .times(2)
            .output(|| UpdateStageOutput::builder().stage_name("prod").build())
            .build();
        let out = client(&update)
            .update_stage()
            .rest_api_id("a1")
            .stage_name("prod")
            .send()
            .await
            .unwrap();
        assert_eq!(out.stage_name(), Some("prod"));
        assert_eq!(update.num_calls(), 3, "two refusals, then the change");
    }

    #[tokio::test]
    async fn mocked_another_conflict_is_not_retried() {
        let update = mock!(Client::update_stage)
            .then_http_response(|| answer(409, "ConflictException", "Stage already exists"));
        let err = client(&update)
            .update_stage()
            .rest_api_id("a1")
            .stage_name("prod")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_apigateway::error::ProvideErrorMetadata::code(&err),
            Some("ConflictException")
        );
        assert_eq!(update.num_calls(), 1);
    }

    #[test]
    fn the_phrase_is_found_in_any_case() {
        assert!(is_concurrent_modification(
            br#"{"message":"Unable to complete operation due to Concurrent Modification."}"#
        ));
        assert!(!is_concurrent_modification(
            br#"{"message":"Stage already exists"}"#
        ));
    }
}
