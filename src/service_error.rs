//! The one error type every AWS call is reduced to, whatever the service: the call (as its IAM action),
//! AWS's error code and message. It lives apart from both [`crate::aws`] and [`crate::services`] because
//! both use it: the session asks STS who the caller is, the kinds make every other call. Every service
//! crate's `SdkError` is smithy's one generic type, so one conversion serves them all.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// An AWS call that failed, reduced to what the operator needs: which call, the AWS error code, the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.operation, self.message)?,
            None => write!(f, "{} failed: {}", self.operation, self.message)?,
        }
        if self.is_access_denied() {
            write!(
                f,
                " (missing permission: {}; grant it to the responder's role, or have someone who holds it run this)",
                self.operation
            )?;
        }
        Ok(())
    }
}

impl ServiceError {
    /// `operation` is the IAM action, e.g. `ec2:RevokeSecurityGroupIngress`, so an AccessDenied names
    /// exactly the permission that is missing.
    pub fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> ServiceError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let code = err.code().map(str::to_string);
        let message = match err.message() {
            Some(message) => message.to_string(),
            None => DisplayErrorContext(&err).to_string(),
        };
        ServiceError {
            operation: operation.to_string(),
            code,
            message,
        }
    }

    /// The caller lacks the IAM permission for this operation.
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("AccessDenied")
                | Some("AccessDeniedException")
                | Some("UnauthorizedOperation")
                | Some("AuthorizationError")
        )
    }

    /// The credentials in use are expired or no longer valid: every later call would fail the same way.
    pub fn is_credentials_problem(&self) -> bool {
        match self.code.as_deref() {
            Some(code) => matches!(
                code,
                "ExpiredToken"
                    | "ExpiredTokenException"
                    | "RequestExpired"
                    | "InvalidClientTokenId"
                    | "UnrecognizedClientException"
                    | "AuthFailure"
            ),
            // The SDK reports a provider that could not refresh as a dispatch failure without a code.
            None => self.message.to_ascii_lowercase().contains("credentials"),
        }
    }

    /// A problem found without calling AWS (for example a state that does not decode).
    pub fn local(operation: &str, message: impl Into<String>) -> ServiceError {
        ServiceError {
            operation: operation.to_string(),
            code: None,
            message: message.into(),
        }
    }
}
