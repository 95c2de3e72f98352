//! Some services apply one change at a time to a resource. A second change made while the first is still
//! being applied is refused with HTTP 409 and a message saying so. Apply runs a phase's kinds side by
//! side, and several kinds can change one API or one function, so this answer is expected:
//!
//! - **API Gateway** (REST, HTTP and WebSocket APIs): `ConflictException`, "Unable to complete operation due
//!   to concurrent modification. Please try again later." The API reference lists `ConflictException` for
//!   UpdateStage, UpdateRestApi and CreateDeployment
//!   (<https://docs.aws.amazon.com/apigateway/latest/api/API_UpdateStage.html>) without naming this case.
//!   Terraform's AWS provider retries it for every REST API operation (hashicorp/terraform-provider-aws#776,
//!   #16439) and for HTTP and WebSocket APIs (#18018, #29735).
//! - **Lambda**: `ResourceConflictException`, "The operation cannot be performed at this time. An update is
//!   in progress for resource: …" or "The function could not be updated due to a concurrent update
//!   operation." The API reference documents `ResourceConflictException` as "another operation is in
//!   progress" (<https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html>), and
//!   Terraform's provider retries it for function permissions and updates
//!   (hashicorp/terraform-provider-aws#5154, #10049).
//! - **S3**: `OperationAborted`, "A conflicting conditional operation is currently in progress against this
//!   resource. Please try again." (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>,
//!   409). Two configuration changes to one bucket at once draw it: PutBucketPolicy beside
//!   PutPublicAccessBlock (hashicorp/terraform-provider-aws#7628) or PutBucketVersioning (#33552). Ansible
//!   retries it for every bucket call (ansible/ansible#67811).
//! - **IAM**: `ConcurrentModification`, 409, "The request was rejected because multiple requests to change
//!   this object were submitted simultaneously." Apply puts two inline policies on one user side by side
//!   (the SES send deny and the session revocation), beside its keys' deactivation. IAM has answered it
//!   to concurrent changes of one user or role (hashicorp/terraform-provider-aws#34371, #42079), and
//!   Terraform retries it.
//! - **Organizations**: `ConcurrentModificationException`, "The target of the operation is currently being
//!   modified by a different request. Try again later.", listed for AttachPolicy, DetachPolicy and
//!   UpdatePolicy (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_AttachPolicy.html>);
//!   one policy is attached to many accounts side by side. Its status is not documented; the JSON
//!   protocol answers client errors with 400, so 400 counts beside 409.
//!
//! The SDK's standard retry does not count these as transient, so this classifier marks them retryable for
//! those clients ([`crate::aws`]), by the service's own words in the answer's body. They are then retried with the session's backoff and attempt budget,
//! like throttling. The same status with another message ("Stage already exists", "The statement id
//! provided already exists") is left as it is: it would fail the same way on every attempt.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_types::retry::ErrorKind;

use crate::aws::RegionCtx;

/// API Gateway's words for a change refused because another is in progress.
pub const API_GATEWAY: &[&str] = &["concurrent modification"];

/// Lambda's words for the same.
pub const LAMBDA: &[&str] = &["update is in progress", "concurrent update operation"];

/// S3's words for the same.
pub const S3: &[&str] = &["conflicting conditional operation is currently in progress"];

/// IAM's error code for the same, as its XML answer carries it.
pub const IAM: &[&str] = &["<code>concurrentmodification</code>"];

/// Organizations' error type for the same, as its JSON answer carries it.
pub const ORGANIZATIONS: &[&str] = &["concurrentmodificationexception"];

/// Marks a 409 (or 400) answer carrying one of `phrases` (in any case) as a transient error.
#[derive(Debug, Clone, Copy)]
pub struct ConcurrentModificationRetried {
    pub phrases: &'static [&'static str],
}

impl ClassifyRetry for ConcurrentModificationRetried {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return RetryAction::NoActionIndicated;
        }
        let Some(response) = ctx.response() else {
            return RetryAction::NoActionIndicated;
        };
        if !matches!(response.status().as_u16(), 400 | 409) {
            return RetryAction::NoActionIndicated;
        }
        match response.body().bytes() {
            Some(body) if says_in_progress(body, self.phrases) => {
                RetryAction::retryable_error(ErrorKind::TransientError)
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "change refused while another is in progress"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::transient_error_classifier()
    }
}

/// Whether an error body carries one of `phrases`, in any case.
pub fn says_in_progress(body: &[u8], phrases: &[&str]) -> bool {
    let body = String::from_utf8_lossy(body).to_ascii_lowercase();
    phrases.iter().any(|phrase| body.contains(phrase))
}

/// The REST API client with the classifier.
pub fn api_gateway_v1(
    builder: aws_sdk_apigateway::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_apigateway::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried {
        phrases: API_GATEWAY,
    })
}

/// The HTTP and WebSocket API client with the classifier.
pub fn api_gateway_v2(
    builder: aws_sdk_apigatewayv2::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_apigatewayv2::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried {
        phrases: API_GATEWAY,
    })
}

/// The Lambda client with the classifier.
pub fn lambda(
    builder: aws_sdk_lambda::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_lambda::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried { phrases: LAMBDA })
}

/// The IAM client with the classifier.
pub fn iam(
    builder: aws_sdk_iam::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_iam::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried { phrases: IAM })
}

/// The Organizations client with the classifier.
pub fn organizations(
    builder: aws_sdk_organizations::config::Builder,
    _ctx: &RegionCtx,
) -> aws_sdk_organizations::config::Builder {
    builder.retry_classifier(ConcurrentModificationRetried {
        phrases: ORGANIZATIONS,
    })
}

/// The S3 client with the classifier, and buckets addressed by path behind an endpoint override.
pub fn s3(builder: aws_sdk_s3::config::Builder, ctx: &RegionCtx) -> aws_sdk_s3::config::Builder {
    crate::aws::s3_addressing(builder, ctx)
        .retry_classifier(ConcurrentModificationRetried { phrases: S3 })
}

/// AWS's documented error answers, for the tests here and the region clients' test ([`crate::aws`]).
#[cfg(test)]
pub(crate) mod documented {
    /// S3's error document (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).
    pub fn s3_error(code: &str, message: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>R1</RequestId><HostId>H1</HostId></Error>"
        )
    }

    /// IAM's error document (query protocol).
    pub fn iam_error(code: &str, message: &str) -> String {
        format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r1</RequestId></ErrorResponse>"
        )
    }

    /// Organizations' error body (JSON protocol).
    pub fn organizations_error(error_type: &str, message: &str) -> String {
        format!(r#"{{"__type":"{error_type}","Message":"{message}"}}"#)
    }

    pub const S3_OPERATION_ABORTED: &str = "A conflicting conditional operation is currently in progress against this resource. Please try again.";
    pub const IAM_CONCURRENT_MODIFICATION: &str = "The request was rejected because multiple requests to change this object were submitted simultaneously. Wait a few minutes and submit your request again.";
    pub const ORGANIZATIONS_CONCURRENT_MODIFICATION: &str = "AWS Organizations can't complete your request because it conflicts with another attempt to modify the same entity. Try again later.";
}

#[cfg(test)]
mod tests {
    use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput;
    use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::documented::*;
    use super::*;

    /// A mocked `$sdk` client retrying as the session does (fewer attempts, no real backoff) with the
    /// classifier for `$phrases`.
    macro_rules! retrying_client {
        ($sdk:ident, $rules:expr, $phrases:expr) => {
            mock_client!($sdk, RuleMode::MatchAny, $rules, |config| {
                config
                    .retry_config(
                        $sdk::config::retry::RetryConfig::standard()
                            .with_max_attempts(4)
                            .with_initial_backoff(std::time::Duration::from_millis(1)),
                    )
                    .retry_classifier(ConcurrentModificationRetried { phrases: $phrases })
            })
        };
    }

    fn answer(error_type: &str, message: &str) -> HttpResponse {
        let mut response = HttpResponse::new(
            StatusCode::try_from(409).unwrap(),
            SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", error_type.to_string());
        response
    }

    fn api_gateway(rule: &aws_smithy_mocks::Rule) -> aws_sdk_apigateway::Client {
        retrying_client!(aws_sdk_apigateway, &[rule], API_GATEWAY)
    }

    fn lambda_client(rule: &aws_smithy_mocks::Rule) -> aws_sdk_lambda::Client {
        retrying_client!(aws_sdk_lambda, &[rule], LAMBDA)
    }

    async fn update_stage(client: &aws_sdk_apigateway::Client) -> Result<(), String> {
        client
            .update_stage()
            .rest_api_id("a1")
            .stage_name("prod")
            .send()
            .await
            .map(|_| ())
            .map_err(|err| {
                aws_sdk_apigateway::error::ProvideErrorMetadata::code(&err)
                    .unwrap_or_default()
                    .to_string()
            })
    }

    #[tokio::test]
    async fn mocked_an_api_gateway_concurrent_modification_is_retried_until_the_change_goes_through()
     {
        let update = mock!(aws_sdk_apigateway::Client::update_stage)
            .sequence()
            .http_response(|| {
                answer(
                    "ConflictException",
                    "Unable to complete operation due to concurrent modification. Please try again later.",
                )
            })
            .times(2)
            .output(|| UpdateStageOutput::builder().stage_name("prod").build())
            .build();
        assert_eq!(update_stage(&api_gateway(&update)).await, Ok(()));
        assert_eq!(update.num_calls(), 3, "two refusals, then the change");
    }

    #[tokio::test]
    async fn mocked_another_api_gateway_conflict_is_not_retried() {
        let update = mock!(aws_sdk_apigateway::Client::update_stage)
            .then_http_response(|| answer("ConflictException", "Stage already exists"));
        assert_eq!(
            update_stage(&api_gateway(&update)).await,
            Err("ConflictException".to_string())
        );
        assert_eq!(update.num_calls(), 1);
    }

    #[tokio::test]
    async fn mocked_a_lambda_update_in_progress_is_retried_and_an_existing_statement_is_not() {
        let busy = mock!(aws_sdk_lambda::Client::put_function_concurrency)
            .sequence()
            .http_response(|| {
                answer(
                    "ResourceConflictException",
                    "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:f",
                )
            })
            .output(|| {
                PutFunctionConcurrencyOutput::builder()
                    .reserved_concurrent_executions(0)
                    .build()
            })
            .build();
        lambda_client(&busy)
            .put_function_concurrency()
            .function_name("f")
            .reserved_concurrent_executions(0)
            .send()
            .await
            .unwrap();
        assert_eq!(busy.num_calls(), 2);

        let exists = mock!(aws_sdk_lambda::Client::add_permission).then_http_response(|| {
            answer(
                "ResourceConflictException",
                "The statement id (public) provided already exists. Please provide a new statement id, or remove the existing statement.",
            )
        });
        let err = lambda_client(&exists)
            .add_permission()
            .function_name("f")
            .statement_id("public")
            .action("lambda:InvokeFunctionUrl")
            .principal("*")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_lambda::error::ProvideErrorMetadata::code(&err),
            Some("ResourceConflictException")
        );
        assert_eq!(exists.num_calls(), 1);
    }

    fn answer_with(status: u16, body: String) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
    }

    fn s3_answer(code: &str, message: &str) -> HttpResponse {
        answer_with(409, s3_error(code, message))
    }

    fn s3_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_s3::Client {
        retrying_client!(aws_sdk_s3, rules, S3)
    }

    #[tokio::test]
    async fn mocked_an_s3_conflicting_operation_is_retried_and_a_bucket_already_owned_is_not() {
        let policy = mock!(aws_sdk_s3::Client::put_bucket_policy)
            .sequence()
            .http_response(|| s3_answer("OperationAborted", S3_OPERATION_ABORTED))
            .times(2)
            .output(|| {
                aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
            })
            .build();
        s3_client(&[&policy])
            .put_bucket_policy()
            .bucket("b")
            .policy("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(policy.num_calls(), 3, "two refusals, then the change");

        let owned = mock!(aws_sdk_s3::Client::create_bucket).then_http_response(|| {
            s3_answer(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
        });
        let err = s3_client(&[&owned])
            .create_bucket()
            .bucket("b")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
            Some("BucketAlreadyOwnedByYou")
        );
        assert_eq!(owned.num_calls(), 1);
    }

    fn iam_answer(code: &str, message: &str) -> HttpResponse {
        answer_with(409, iam_error(code, message))
    }

    #[tokio::test]
    async fn mocked_an_iam_concurrent_modification_is_retried_and_an_existing_entity_is_not() {
        let put = mock!(aws_sdk_iam::Client::put_user_policy)
            .sequence()
            .http_response(|| iam_answer("ConcurrentModification", IAM_CONCURRENT_MODIFICATION))
            .output(|| {
                aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput::builder().build()
            })
            .build();
        let client = |rule: &aws_smithy_mocks::Rule| retrying_client!(aws_sdk_iam, &[rule], IAM);
        client(&put)
            .put_user_policy()
            .user_name("mailer")
            .policy_name("hikkonuki-session-revocation")
            .policy_document("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(put.num_calls(), 2, "one refusal, then the change");

        let exists = mock!(aws_sdk_iam::Client::create_policy).then_http_response(|| {
            iam_answer(
                "EntityAlreadyExists",
                "A policy called hikkonuki-deny already exists. Duplicate names are not allowed.",
            )
        });
        let err = client(&exists)
            .create_policy()
            .policy_name("hikkonuki-deny")
            .policy_document("{}")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_iam::error::ProvideErrorMetadata::code(&err),
            Some("EntityAlreadyExists")
        );
        assert_eq!(exists.num_calls(), 1);
    }

    #[tokio::test]
    async fn mocked_an_organizations_concurrent_modification_is_retried_and_a_duplicate_attachment_is_not()
     {
        let organizations_answer = |error_type: &str, message: &str| {
            let mut response = answer_with(400, organizations_error(error_type, message));
            response
                .headers_mut()
                .insert("x-amzn-ErrorType", error_type.to_string());
            response
        };
        let attach = mock!(aws_sdk_organizations::Client::attach_policy)
            .sequence()
            .http_response(move || {
                organizations_answer(
                    "ConcurrentModificationException",
                    ORGANIZATIONS_CONCURRENT_MODIFICATION,
                )
            })
            .times(2)
            .output(|| {
                aws_sdk_organizations::operation::attach_policy::AttachPolicyOutput::builder()
                    .build()
            })
            .build();
        let client = |rule: &aws_smithy_mocks::Rule| {
            retrying_client!(aws_sdk_organizations, &[rule], ORGANIZATIONS)
        };
        let send = |client: aws_sdk_organizations::Client| async move {
            client
                .attach_policy()
                .policy_id("p-1")
                .target_id("111111111111")
                .send()
                .await
        };
        send(client(&attach)).await.unwrap();
        assert_eq!(attach.num_calls(), 3, "two refusals, then the attachment");

        let duplicate =
            mock!(aws_sdk_organizations::Client::attach_policy).then_http_response(move || {
                organizations_answer(
                    "DuplicatePolicyAttachmentException",
                    "The selected policy is already attached to the specified target.",
                )
            });
        let err = send(client(&duplicate)).await.unwrap_err();
        assert_eq!(
            aws_sdk_organizations::error::ProvideErrorMetadata::code(&err),
            Some("DuplicatePolicyAttachmentException")
        );
        assert_eq!(duplicate.num_calls(), 1);
    }

    #[test]
    fn the_phrases_are_found_in_any_case() {
        assert!(says_in_progress(
            br#"{"message":"Unable to complete operation due to Concurrent Modification."}"#,
            API_GATEWAY
        ));
        assert!(says_in_progress(
            br#"{"Message":"The function could not be updated due to a concurrent update operation."}"#,
            LAMBDA
        ));
        assert!(!says_in_progress(
            br#"{"message":"Stage already exists"}"#,
            API_GATEWAY
        ));
    }
}
