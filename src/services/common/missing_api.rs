//! Telling "this endpoint does not implement the operation" apart from a real failure.
//!
//! Some operations are missing from the emulator the tests run against (SESv2 GetAccount answers HTTP 404,
//! ECR Public and CodeCommit ListRepositories answer HTTP 500, all with an HTML body and no AWS error
//! code). AWS itself always answers with a modelled error code, so a bare 404/500/501 with no code means
//! the endpoint lacks the API. Checks that meet it report a finding saying what could not be read,
//! instead of failing the whole plan; every other failure still fails discovery.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::retry::RetryConfig;

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
    fn retries_are_off_only_against_an_endpoint_override() {
        assert_eq!(retry_config(None), None);
        assert_eq!(
            retry_config(Some("http://127.0.0.1:5000")),
            Some(RetryConfig::disabled())
        );
    }
}
