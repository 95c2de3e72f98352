//! The one error type every AWS call is reduced to, whatever the service: the call (as its IAM action),
//! AWS's error code and message. It lives apart from both [`crate::aws`] and [`crate::services`] because
//! both use it: the session asks STS who the caller is, the kinds make every other call. Every service
//! crate's `SdkError` is smithy's one generic type, so one conversion serves them all.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
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
        R: fmt::Debug + 'static,
    {
        let code = err.code().map(str::to_string);
        let message = match err.message() {
            Some(message) => message.to_string(),
            None if missing_credentials(&err) => NO_CREDENTIALS.to_string(),
            None => error_chain(&err),
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

    /// No credentials were found anywhere the SDK looks (environment, profile, web identity, container,
    /// instance role): nothing was sent.
    pub fn is_missing_credentials(&self) -> bool {
        self.code.is_none() && self.message == NO_CREDENTIALS
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

/// The message of a call that found no credentials to sign with.
const NO_CREDENTIALS: &str = "no AWS credentials were found";

/// Whether the call failed because no credentials provider found any: the SDK reports it as a dispatch
/// failure whose cause, some way down, is `CredentialsNotLoaded`.
fn missing_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    use aws_credential_types::provider::error::CredentialsError;
    let mut cause = Some(err);
    while let Some(err) = cause {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) =
            err.downcast_ref::<CredentialsError>()
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// An error and its causes in words, `outer: inner: …`, each said once: the people reading it are
/// responders, and the SDK's own rendering (`DisplayErrorContext`) ends with the whole chain's `Debug`,
/// raw HTTP answers included.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut said: Vec<String> = Vec::new();
    let mut cause = Some(err);
    while let Some(err) = cause {
        let text = err.to_string();
        if !text.is_empty() && !said.iter().any(|earlier| earlier.contains(&text)) {
            said.push(text);
        }
        cause = err.source();
    }
    said.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    type Failed =
        SdkError<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError, HttpResponse>;

    /// A call the SDK could not send (here, a refused connection) reads as its causes in words, without
    /// the SDK's `Debug` of each (`DispatchFailure(DispatchFailure { source: ConnectorError { …`).
    #[test]
    fn an_unsent_call_is_said_in_words() {
        let refused =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err: Failed = SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let said = ServiceError::from_sdk("sts:GetCallerIdentity", err);
        assert_eq!(said.code, None);
        assert!(said.message.contains("Connection refused"), "{said}");
        for debug in ["DispatchFailure(", "ConnectorError {", "source:"] {
            assert!(!said.message.contains(debug), "{said}");
        }
        assert!(!said.is_missing_credentials());
    }

    /// No credentials anywhere: one short message, not the provider chain's every attempt.
    #[test]
    fn a_call_without_credentials_is_told_apart() {
        use aws_credential_types::provider::error::CredentialsError;
        let not_loaded = CredentialsError::not_loaded(
            "no credentials found in chain. Attempted:\n  Environment: environment variable not set",
        );
        let err: Failed =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(not_loaded), None));
        let said = ServiceError::from_sdk("sts:GetCallerIdentity", err);
        assert!(said.is_missing_credentials(), "{said}");
        assert!(said.is_credentials_problem());
        assert_eq!(
            said.to_string(),
            "sts:GetCallerIdentity failed: no AWS credentials were found"
        );
    }
}
