//! hikkonuki's customer-managed deny policies: where a deny goes when a principal's inline policies leave
//! no room for it ([`super::policy_room`]). Each is named after the kind and the principal, under the path
//! `/hikkonuki/` (`arn:aws:iam::ACCOUNT:policy/hikkonuki/hikkonuki-session-revocation-role-app`), so the
//! plan knows its ARN before apply. An undo record derived from the plan alone (a crash between
//! CreatePolicy and AttachRolePolicy, whose completion was never journaled) therefore finds it and
//! removes it; nothing depends on an ARN only AWS's answer held.
//!
//! A managed policy holds up to 6,144 characters and is attached to up to 10 principals' slots each by
//! default (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); a deny of ours is
//! a few hundred characters and goes on one principal.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::inline_policy::{Holder, explain_refusal};
use super::{decode_policy_document, is_no_such_entity};
use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// The path every managed policy hikkonuki creates lives under.
pub const PATH: &str = "/hikkonuki/";

/// The managed policy's name for a kind's deny (`prefix` is its inline name) on a principal:
/// `hikkonuki-session-revocation-user-alice`. User and role names (at most 64 characters, of
/// `[\w+=,.@-]`) are valid in policy names (at most 128).
pub fn name_for(prefix: &str, holder: Holder<'_>) -> String {
    format!("{prefix}-{}", holder.target().replace('/', "-"))
}

/// The ARN of the policy `name` under [`PATH`] in the account (and partition) of `any_arn`, an ARN in
/// that account such as the caller's or the principal's; `None` when `any_arn` is not an ARN.
pub fn arn_for(any_arn: &str, name: &str) -> Option<String> {
    let mut fields = any_arn.split(':');
    let (Some("arn"), Some(partition), _, _, Some(account)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    (!partition.is_empty() && !account.is_empty())
        .then(|| format!("arn:{partition}:iam::{account}:policy{PATH}{name}"))
}

/// Whether an attached policy is one hikkonuki created (by its path).
pub fn is_own(arn: &str) -> bool {
    arn.splitn(6, ':')
        .nth(5)
        .is_some_and(|resource| resource.starts_with(&format!("policy{PATH}")))
}

/// hikkonuki's managed policy for a principal, as a state records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedPolicyState {
    pub arn: String,
    /// Its default version's document, as JSON text.
    pub document: String,
    /// Whether it is attached to the principal.
    pub attached: bool,
}

/// The default version's document of the managed policy `arn`, or `None` when there is no such policy.
pub async fn document(ctx: &RegionCtx, arn: &str) -> Result<Option<String>, ServiceError> {
    let policy = match ctx.iam().get_policy().policy_arn(arn).send().await {
        Ok(out) => out,
        Err(err) => {
            let err = ServiceError::from_sdk("iam:GetPolicy", err);
            return if is_no_such_entity(&err) {
                Ok(None)
            } else {
                Err(err)
            };
        }
    };
    let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
        return Err(ServiceError::local(
            "iam:GetPolicy",
            format!("{arn} has no default version"),
        ));
    };
    match ctx
        .iam()
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .policy_version()
            .and_then(|v| v.document())
            .map(decode_policy_document)),
        Err(err) => {
            let err = ServiceError::from_sdk("iam:GetPolicyVersion", err);
            if is_no_such_entity(&err) {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Creates the policy `name` under [`PATH`] and attaches it to `holder` as `arn` (the ARN the plan
/// named). When the attach fails, the policy just created is deleted again, so a failed cut leaves
/// nothing behind; an `EntityAlreadyExists` from CreatePolicy (a policy of that name appeared since the
/// plan) fails the cut without touching that policy.
pub async fn create_and_attach(
    ctx: &RegionCtx,
    holder: Holder<'_>,
    arn: &str,
    name: &str,
    document: &str,
    description: &str,
) -> Result<(), ServiceError> {
    let created = ctx
        .iam()
        .create_policy()
        .policy_name(name)
        .path(PATH)
        .policy_document(document)
        .description(description)
        .send()
        .await
        .map_err(|err| explain_create(ServiceError::from_sdk("iam:CreatePolicy", err), arn))?;
    let created_arn = created
        .policy()
        .and_then(|p| p.arn())
        .unwrap_or(arn)
        .to_string();
    if let Err(err) = attach(ctx, holder, arn).await {
        // Best effort: the error that matters is the attach's; a policy left behind is found by restore
        // from the intent, whose undo record names the same ARN.
        let _ = delete(ctx, &created_arn).await;
        return Err(err);
    }
    Ok(())
}

/// Says what CreatePolicy's refusals mean here, keeping AWS's code and message
/// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html).
fn explain_create(err: ServiceError, arn: &str) -> ServiceError {
    let why = match err.code.as_deref() {
        Some("EntityAlreadyExists") => format!(
            "a policy {arn} appeared after the plan was made; it is not touched and nothing was changed: restore an earlier apply that left it, or delete it if it is not needed, then plan again"
        ),
        Some("LimitExceeded") => "the account's quota of customer-managed policies (1,500 by default) is full; nothing was changed: delete unused policies or raise the quota, then run apply again".to_string(),
        _ => return err,
    };
    ServiceError {
        message: format!("{} ({why})", err.message),
        ..err
    }
}

/// Attaches `arn` to `holder`. IAM is eventually consistent: a policy created a moment ago may not be
/// visible yet to AttachUserPolicy, which then answers NoSuchEntity
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency),
/// so that answer is retried a few times before it counts.
async fn attach(ctx: &RegionCtx, holder: Holder<'_>, arn: &str) -> Result<(), ServiceError> {
    let mut wait = Duration::from_millis(500);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attached = match holder {
            Holder::User(user) => ctx
                .iam()
                .attach_user_policy()
                .user_name(user)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| ServiceError::from_sdk("iam:AttachUserPolicy", err)),
            Holder::Role(role) => ctx
                .iam()
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| ServiceError::from_sdk("iam:AttachRolePolicy", err)),
        };
        match attached {
            Err(err) if is_no_such_entity(&err) && attempts < 4 => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            other => return other.map_err(|err| explain_refusal(err, holder)),
        }
    }
}

/// Detaches `arn` from `holder`; false when it was not attached (or the principal is gone: IAM answers
/// NoSuchEntity for both).
async fn detach(ctx: &RegionCtx, holder: Holder<'_>, arn: &str) -> Result<bool, ServiceError> {
    let detached = match holder {
        Holder::User(user) => ctx
            .iam()
            .detach_user_policy()
            .user_name(user)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("iam:DetachUserPolicy", err)),
        Holder::Role(role) => ctx
            .iam()
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("iam:DetachRolePolicy", err)),
    };
    match detached {
        Ok(()) => Ok(true),
        Err(err) if is_no_such_entity(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// Deletes the policy; false when it was already gone.
async fn delete(ctx: &RegionCtx, arn: &str) -> Result<bool, ServiceError> {
    match ctx.iam().delete_policy().policy_arn(arn).send().await {
        Ok(_) => Ok(true),
        Err(err) => {
            let err = ServiceError::from_sdk("iam:DeletePolicy", err);
            if is_no_such_entity(&err) {
                Ok(false)
            } else {
                Err(err)
            }
        }
    }
}

/// What undoing a managed deny found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// There is no such policy: nothing to do.
    Gone,
    /// Its document is no longer ours: left alone, attached or not.
    Changed,
    /// Detached from the principal (when it was attached) and deleted.
    Removed,
    /// Detached, but IAM refused to delete it (`DeleteConflict`: attached to other principals too, or it
    /// has versions someone added); the reason is kept for the operator.
    DetachedOnly(String),
}

/// Removes hikkonuki's managed policy `arn` from `holder`, only while its document is ours (`is_ours`
/// decides): detach, then delete. Safe to run again at any point: a policy already detached or deleted
/// is not an error.
pub async fn remove(
    ctx: &RegionCtx,
    holder: Holder<'_>,
    arn: &str,
    is_ours: impl Fn(&str) -> bool,
) -> Result<Removal, ServiceError> {
    let Some(live) = document(ctx, arn).await? else {
        return Ok(Removal::Gone);
    };
    if !is_ours(&live) {
        return Ok(Removal::Changed);
    }
    detach(ctx, holder, arn).await?;
    match delete(ctx, arn).await {
        Ok(_) => Ok(Removal::Removed),
        // https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html: the policy must be
        // detached from every principal and have no version but the default.
        Err(err) if err.code.as_deref() == Some("DeleteConflict") => {
            Ok(Removal::DetachedOnly(err.message))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns_are_derived_from_the_principal_and_the_account() {
        let name = name_for("hikkonuki-session-revocation", Holder::Role("app"));
        assert_eq!(name, "hikkonuki-session-revocation-role-app");
        assert_eq!(
            arn_for("arn:aws:sts::123456789012:assumed-role/Responder/s", &name).as_deref(),
            Some(
                "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-session-revocation-role-app"
            )
        );
        assert_eq!(
            arn_for("arn:aws-cn:iam::210987654321:user/ops/alice", "p").as_deref(),
            Some("arn:aws-cn:iam::210987654321:policy/hikkonuki/p")
        );
        assert_eq!(arn_for("not an arn", "p"), None);
        assert_eq!(arn_for("arn:aws:iam:::root", "p"), None);
        // The longest names IAM allows still make a valid policy name.
        let longest = name_for(
            "hikkonuki-session-revocation",
            Holder::User(&"u".repeat(64)),
        );
        assert!(longest.len() <= 128, "{}", longest.len());
    }

    #[test]
    fn only_policies_under_hikkonukis_path_are_its_own() {
        assert!(is_own(
            "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-ses-send-deny-user-a"
        ));
        assert!(!is_own("arn:aws:iam::123456789012:policy/hikkonuki-x"));
        assert!(!is_own("arn:aws:iam::aws:policy/AdministratorAccess"));
    }
}
