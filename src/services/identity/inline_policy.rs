//! Inline policies on an IAM user or role: read, write, delete, and whether the principal exists. The
//! kinds that put a deny of their own on principals (`iam_session_revoke`, `ses_send_deny`) share these,
//! so the user and role variants of each IAM call live in one place.

use super::{decode_policy_document, is_no_such_entity};
use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// An IAM user or role, by name: what an inline policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder<'a> {
    User(&'a str),
    Role(&'a str),
}

impl Holder<'_> {
    /// The IAM action for `verb` (Get, Put, Delete) on this holder's inline policies.
    fn action(self, verb: &str) -> String {
        match self {
            Holder::User(_) => format!("iam:{verb}UserPolicy"),
            Holder::Role(_) => format!("iam:{verb}RolePolicy"),
        }
    }
}

/// The inline policy `policy` as JSON text, or `None` when there is none (or the principal is gone: IAM
/// says NoSuchEntity for both).
pub async fn get(
    ctx: &RegionCtx,
    holder: Holder<'_>,
    policy: &str,
) -> Result<Option<String>, ServiceError> {
    let action = holder.action("Get");
    let result = match holder {
        Holder::User(user) => ctx
            .iam()
            .get_user_policy()
            .user_name(user)
            .policy_name(policy)
            .send()
            .await
            .map(|out| out.policy_document().to_string())
            .map_err(|err| ServiceError::from_sdk(&action, err)),
        Holder::Role(role) => ctx
            .iam()
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map(|out| out.policy_document().to_string())
            .map_err(|err| ServiceError::from_sdk(&action, err)),
    };
    match result {
        Ok(raw) => Ok(Some(decode_policy_document(&raw))),
        Err(err) if is_no_such_entity(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

pub async fn put(
    ctx: &RegionCtx,
    holder: Holder<'_>,
    policy: &str,
    document: &str,
) -> Result<(), ServiceError> {
    let action = holder.action("Put");
    match holder {
        Holder::User(user) => ctx
            .iam()
            .put_user_policy()
            .user_name(user)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk(&action, err)),
        Holder::Role(role) => ctx
            .iam()
            .put_role_policy()
            .role_name(role)
            .policy_name(policy)
            .policy_document(document)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk(&action, err)),
    }
}

pub async fn delete(ctx: &RegionCtx, holder: Holder<'_>, policy: &str) -> Result<(), ServiceError> {
    let action = holder.action("Delete");
    match holder {
        Holder::User(user) => ctx
            .iam()
            .delete_user_policy()
            .user_name(user)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk(&action, err)),
        Holder::Role(role) => ctx
            .iam()
            .delete_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk(&action, err)),
    }
}

/// Whether the principal exists: GetUserPolicy cannot tell a missing user from a missing policy.
pub async fn exists(ctx: &RegionCtx, holder: Holder<'_>) -> Result<bool, ServiceError> {
    let result = match holder {
        Holder::User(user) => ctx
            .iam()
            .get_user()
            .user_name(user)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("iam:GetUser", err)),
        Holder::Role(role) => ctx
            .iam()
            .get_role()
            .role_name(role)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("iam:GetRole", err)),
    };
    match result {
        Ok(()) => Ok(true),
        Err(err) if is_no_such_entity(&err) => Ok(false),
        Err(err) => Err(err),
    }
}
