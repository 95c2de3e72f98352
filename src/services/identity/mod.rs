//! Identity containment: stolen keys and sessions. Network cuts do nothing against an attacker who holds
//! an access key, an SSH key for CodeCommit, a Git password or a session token: those reach AWS's public
//! APIs from anywhere. Four kinds of cut close them, all account-wide (IAM is global):
//!
//! - `iam_key_deactivate`, `iam_ssh_key_deactivate`, `iam_service_credential_deactivate`
//!   ([`iam_credential_deactivate`]): every Active credential of every IAM user becomes Inactive; restore makes it
//!   Active again.
//! - `iam_session_revoke` ([`iam_session_revoke`]): a deny on `aws:TokenIssueTime` earlier than the apply,
//!   so sessions already issued from stolen keys stop working too (deactivating a key does not end
//!   them). Restore keeps it unless `--lift-session-revocation` is passed.
//!
//! The kinds that write a deny on principals (this one and `ses_send_deny`) share [`inline_policy`] (the
//! IAM calls, and what IAM's refusals mean), [`policy_room`] (whether the deny fits inline under IAM's
//! quotas) and [`managed_policy`] (the customer-managed policy it goes in when it does not). Roles AWS
//! protects ([`ProtectedRole`]) take no policy at all and are left out.
//!
//! [`crate::services::findings::identity`] holds the checks that report and change nothing: root without MFA, keys AWS found exposed,
//! IAM Identity Center (a way in no IAM cut closes), and which principal the cuts leave alone because
//! hikkonuki runs as it.
//!
//! The caller is never cut: [`CallerPrincipal`] says which user, role and access key that is.

use crate::aws::CallerIdentity;
use crate::services::ServiceError;

pub mod iam_credential_deactivate;
pub mod iam_session_revoke;
pub mod inline_policy;
pub mod listing;
pub mod managed_policy;
pub mod policy_room;

#[cfg(test)]
pub(crate) mod tests;

pub use iam_credential_deactivate::{CredentialDeactivate, CredentialType};
pub use iam_session_revoke::SessionRevoke;

/// The principal hikkonuki runs as, in the terms identity cuts exclude: cutting it would stop the run
/// half-way (and lock the responder out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerPrincipal {
    /// The IAM user, when the caller signs as one.
    pub user: Option<String>,
    /// The IAM role, when the caller is an assumed-role session.
    pub role: Option<String>,
    /// The access key the run signs with.
    pub access_key_id: Option<String>,
    /// The long-term key a role profile assumes the run's role with, and its user in this account: the
    /// responder's way back into the role once the session expires ([`crate::aws::SourceCredentials`]).
    pub source_access_key_id: Option<String>,
    pub source_user: Option<String>,
    /// The roles of this account the profile's chain assumes on its way to the caller's role
    /// ([`crate::aws::CallerIdentity::profile_roles`]), by name: renewing the session assumes each
    /// again, so they are the caller's as much as its own role is.
    pub chain_roles: Vec<String>,
}

impl CallerPrincipal {
    /// Reads the caller's ARN: `arn:aws:iam::ACCT:user/PATH/NAME` is a user, and
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` (or `arn:aws:iam::ACCT:role/PATH/NAME`) a role. The
    /// emulator's default caller `arn:aws:sts::ACCT:user/moto` reads as user `moto`; excluding a user
    /// that does not exist harms nothing. Root and federated users name no IAM user or role.
    pub fn from_identity(caller: &CallerIdentity) -> CallerPrincipal {
        let mut principal = CallerPrincipal {
            access_key_id: caller.access_key_id.clone().filter(|k| !k.is_empty()),
            ..CallerPrincipal::default()
        };
        let resource = caller.arn.splitn(6, ':').nth(5).unwrap_or_default();
        let mut segments = resource.split('/');
        match segments.next() {
            // User and role names cannot contain '/', so the last segment is the name, whatever the path.
            Some("user") => principal.user = resource.rsplit('/').next().map(str::to_string),
            Some("role") => principal.role = resource.rsplit('/').next().map(str::to_string),
            Some("assumed-role") => principal.role = segments.next().map(str::to_string),
            _ => {}
        }
        principal.user = principal.user.filter(|n| !n.is_empty());
        principal.role = principal.role.filter(|n| !n.is_empty());
        if let Some(source) = &caller.source {
            principal.source_access_key_id = Some(source.access_key_id.clone());
            principal.source_user = source.user_name.clone().filter(|n| !n.is_empty());
        }
        principal.chain_roles = caller
            .profile_roles
            .iter()
            .filter_map(|arn| same_account_role(arn, &caller.account))
            .collect();
        principal
    }

    /// The caller's user, or the user whose key the caller's role is assumed with.
    pub fn is_user(&self, name: &str) -> bool {
        self.user.as_deref() == Some(name) || self.source_user.as_deref() == Some(name)
    }

    /// The caller's role, or one its profile's chain assumes on the way to it.
    pub fn is_role(&self, name: &str) -> bool {
        self.role.as_deref() == Some(name) || self.chain_roles.iter().any(|role| role == name)
    }

    pub fn is_access_key(&self, id: &str) -> bool {
        self.access_key_id.as_deref() == Some(id)
            || self.source_access_key_id.as_deref() == Some(id)
    }
}

/// The name of a role in `account_id` that a principal value names (`arn:…:iam::ACCT:role/PATH/NAME` or
/// `arn:…:sts::ACCT:assumed-role/NAME/SESSION`), if it names one.
pub fn same_account_role(value: &str, account_id: &str) -> Option<String> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let ["arn", _, service, "", account, resource] = parts.as_slice() else {
        return None;
    };
    if *account != account_id {
        return None;
    }
    match (*service, resource.split_once('/')) {
        ("iam", Some(("role", rest))) => rest.rsplit('/').next().map(str::to_string),
        ("sts", Some(("assumed-role", rest))) => rest.split('/').next().map(str::to_string),
        _ => None,
    }
    .filter(|name| !name.is_empty())
}

/// A role AWS keeps for itself: IAM answers `UnmodifiableEntity` to every policy written on it
/// (PutRolePolicy, AttachRolePolicy), so no deny of ours can go there.
/// https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html (Errors: UnmodifiableEntity);
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html;
/// https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedRole {
    /// Path `/aws-service-role/`: created for an AWS service, assumable only by it.
    ServiceLinked,
    /// Path `/aws-reserved/sso.amazonaws.com/`: IAM Identity Center made it from a permission set, and
    /// only Identity Center changes it.
    IdentityCenter,
}

impl ProtectedRole {
    /// Which protected role a role's path makes it, if any.
    pub fn of_path(path: &str) -> Option<ProtectedRole> {
        if path.starts_with("/aws-service-role/") {
            Some(ProtectedRole::ServiceLinked)
        } else if path.starts_with("/aws-reserved/sso.amazonaws.com/") {
            Some(ProtectedRole::IdentityCenter)
        } else {
            None
        }
    }
}

/// IAM's answer for a user, role, key or policy that does not exist.
pub fn is_no_such_entity(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("NoSuchEntity")
}

/// IAM returns policy documents URL-encoded (RFC 3986); some endpoints return them as plain JSON. Both are
/// turned into the JSON text.
pub fn decode_policy_document(raw: &str) -> String {
    if raw.trim_start().starts_with('{') {
        return raw.to_string();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // RFC 3986: only %XX is special ('+' is a literal plus, not a space).
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An SDK timestamp as RFC 3339 UTC, the form plans use.
pub fn rfc3339(date: &aws_smithy_types::DateTime) -> Option<String> {
    date.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
}

/// An RFC 3339 time (a policy condition's `aws:TokenIssueTime`) as a timestamp, to compare as times.
pub fn from_rfc3339(text: &str) -> Option<aws_smithy_types::DateTime> {
    aws_smithy_types::DateTime::from_str(text, aws_smithy_types::date_time::Format::DateTime).ok()
}
