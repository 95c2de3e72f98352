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

    /// `user/NAME` or `role/NAME`.
    pub fn target(self) -> String {
        match self {
            Holder::User(name) => format!("user/{name}"),
            Holder::Role(name) => format!("role/{name}"),
        }
    }
}

/// Says what an IAM refusal to write a policy on `holder` means for the operator, keeping AWS's code and
/// message. `UnmodifiableEntity` is IAM's answer for the roles AWS protects (service-linked roles, and
/// the roles IAM Identity Center creates: https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html,
/// API_AttachRolePolicy.html); discovery leaves those out, so meeting it at apply means a plan from an
/// older version, or a role AWS protects in a way its path does not show. `LimitExceeded` is a quota:
/// the principal's inline policies or managed-policy attachments are full
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
pub fn explain_refusal(err: ServiceError, holder: Holder<'_>) -> ServiceError {
    let target = holder.target();
    let why = match err.code.as_deref() {
        Some("UnmodifiableEntity") => format!(
            "AWS protects {target} (a service-linked role, or one IAM Identity Center created) and lets no policy be written on it; nothing was changed. Contain it where AWS lets you: for an Identity Center role, in IAM Identity Center (a deny in the permission set's inline policy, then re-provision it, or remove the account assignment); for a service-linked role, through the service that owns it. Plan again: discovery leaves protected roles out and names them in a finding."
        ),
        Some("LimitExceeded") => format!(
            "IAM's quota for {target} is full (its inline policies' total size, or its managed-policy attachments); nothing was changed. Its policies grew since the plan was made: plan again, and the plan will put the deny where it fits or say why it cannot."
        ),
        _ => return err,
    };
    ServiceError {
        message: format!("{} ({why})", err.message),
        ..err
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
    let written = match holder {
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
    };
    written.map_err(|err| explain_refusal(err, holder))
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

/// The principal's ARN (GetUser or GetRole), or `None` when it no longer exists.
pub async fn arn(ctx: &RegionCtx, holder: Holder<'_>) -> Result<Option<String>, ServiceError> {
    let arn = match holder {
        Holder::User(user) => ctx
            .iam()
            .get_user()
            .user_name(user)
            .send()
            .await
            .map(|out| out.user().map(|u| u.arn().to_string()))
            .map_err(|err| ServiceError::from_sdk("iam:GetUser", err)),
        Holder::Role(role) => ctx
            .iam()
            .get_role()
            .role_name(role)
            .send()
            .await
            .map(|out| out.role().map(|r| r.arn().to_string()))
            .map_err(|err| ServiceError::from_sdk("iam:GetRole", err)),
    };
    match arn {
        Ok(Some(arn)) => Ok(Some(arn)),
        Ok(None) => Err(ServiceError::local(
            holder.action("Get").trim_end_matches("Policy"),
            format!("IAM described {} without its ARN", holder.target()),
        )),
        Err(err) if is_no_such_entity(&err) => Ok(None),
        Err(err) => Err(err),
    }
}
