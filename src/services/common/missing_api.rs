//! Telling "this endpoint does not implement the operation" apart from a real failure.
//!
//! Some operations are missing from the emulator the tests run against (ECR Public and CodeCommit
//! ListRepositories answer HTTP 500, and moto without the test harness's model answers SESv2 GetAccount
//! with HTTP 404, all with an HTML body and no AWS error code). AWS itself always answers with a modelled error code, so a bare 404/500/501 with no code means
//! the endpoint lacks the API. Checks that meet it report a finding saying what could not be read
//! ([`unread_finding`]), instead of failing the whole plan; every other failure still fails discovery.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::retry::RetryConfig;

use crate::plan::{Finding, Severity};

/// True when the endpoint answered, without an AWS error code, that it has no such operation.
pub fn is_missing_operation<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    // A body that is not the protocol's error shape (HTML) surfaces as a response error, not a service
    // error; both carry the raw response.
    let status = match err {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => match err.raw_response() {
            Some(raw) => raw.status().as_u16(),
            None => return false,
        },
        _ => return false,
    };
    err.code().is_none() && matches!(status, 404 | 500 | 501)
}

/// When the endpoint does not implement the operation at all (as opposed to an AWS error about the
/// request), what it answered, for the operator: an HTTP error page with no AWS error code (see
/// [`is_missing_operation`]), or an explicit "not implemented" code. Timeouts and connection failures are
/// not this: they are reported as they are.
pub fn missing_operation<E: ProvideErrorMetadata>(
    err: &SdkError<E, HttpResponse>,
) -> Option<String> {
    if is_missing_operation(err) {
        let status = err.raw_response().map(|r| r.status().as_u16());
        return Some(format!(
            "HTTP {} with no AWS error code",
            status.unwrap_or_default()
        ));
    }
    match err.code() {
        Some(code @ ("NotImplemented" | "InvalidAction" | "UnknownOperationException")) => {
            Some(format!("error code {code}"))
        }
        _ => None,
    }
}

/// The finding an inspection reports, instead of failing the plan, when the endpoint lacks the API it
/// reads: `message` says what could not be read and what to check by hand, so the gap stays in the plan
/// for the responder rather than passing in silence.
pub fn unread_finding(
    check: &str,
    region: &str,
    resource: &str,
    severity: Severity,
    message: impl Into<String>,
) -> Finding {
    Finding {
        check: check.to_string(),
        region: region.to_string(),
        resource: resource.to_string(),
        severity,
        message: message.into(),
    }
}

/// Retries for clients of operations an emulator may lack. Against an endpoint override (an emulator) a
/// missing operation answers 500 every time, and six attempts with backoff would only add seconds to every
/// plan; against AWS the standard retries stay, since a 500 there is transient.
pub fn retry_config(endpoint_url: Option<&str>) -> Option<RetryConfig> {
    endpoint_url.map(|_| RetryConfig::disabled())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn service_error(status: u16, code: Option<&str>) -> SdkError<ErrorMetadata, HttpResponse> {
        let mut meta = ErrorMetadata::builder().message("m");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        SdkError::service_error(
            meta.build(),
            HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn only_a_codeless_404_or_500_counts_as_a_missing_operation() {
        assert!(is_missing_operation(&service_error(404, None)));
        assert!(is_missing_operation(&service_error(500, None)));
        assert!(!is_missing_operation(&service_error(
            500,
            Some("InternalFailure")
        )));
        assert!(!is_missing_operation(&service_error(
            404,
            Some("NotFoundException")
        )));
        assert!(!is_missing_operation(&service_error(403, None)));
    }

    #[test]
    fn the_answer_of_an_endpoint_lacking_the_operation_is_described_for_the_operator() {
        assert_eq!(
            missing_operation(&service_error(404, None)).as_deref(),
            Some("HTTP 404 with no AWS error code")
        );
        assert_eq!(
            missing_operation(&service_error(400, Some("InvalidAction"))).as_deref(),
            Some("error code InvalidAction")
        );
        assert_eq!(
            missing_operation(&service_error(500, Some("InternalFailure"))),
            None
        );
        assert_eq!(missing_operation(&service_error(403, None)), None);
    }

    #[test]
    fn retries_are_off_only_against_an_endpoint_override() {
        assert_eq!(retry_config(None), None);
        assert_eq!(
            retry_config(Some("http://127.0.0.1:5000")),
            Some(RetryConfig::disabled())
        );
    }
}
