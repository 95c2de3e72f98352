//! Identity checks that report and change nothing: what a responder must know about ways in that the
//! identity cuts do not close, or that they deliberately leave open.
//!
//! - `root_without_mfa`: the root user cannot be restricted by any IAM policy; without MFA its password
//!   alone opens the whole account.
//! - `exposed_access_keys`: AWS's own Trusted Advisor check for access keys found in public places
//!   (through the Support API, which needs a Business or Enterprise support plan).
//! - `identity_center`: IAM Identity Center users sign in through their own directory and get role
//!   sessions; no IAM key cut touches them.
//! - `identity_caller_kept`: the principal hikkonuki runs as, which every identity cut leaves alone.
//! - `identity_protected_roles`: the roles AWS protects (IAM Identity Center's and service-linked roles),
//!   on which no deny can be written, so the policy-writing cuts leave them out.

use async_trait::async_trait;
use aws_config::Region;
use aws_sdk_iam::types::SummaryKeyType;

use aws_sdk_support::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, GLOBAL_REGION, Severity};
use crate::services::common::missing_api::{missing_operation, retry_config, unread_finding};
use crate::services::identity::{CallerPrincipal, ProtectedRole};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

fn finding(check: &str, resource: &str, severity: Severity, message: String) -> Finding {
    Finding {
        check: check.to_string(),
        region: GLOBAL_REGION.to_string(),
        resource: resource.to_string(),
        severity,
        message,
    }
}

/// `root_without_mfa`: IAM GetAccountSummary `AccountMFAEnabled == 0`.
pub struct RootWithoutMfa;

/// The finding for an account summary's `AccountMFAEnabled` value.
pub fn root_mfa_finding(account: &str, mfa_enabled: Option<i32>) -> Option<Finding> {
    (mfa_enabled == Some(0)).then(|| {
        finding(
            "root_without_mfa",
            &format!("arn:aws:iam::{account}:root"),
            Severity::High,
            "The root user has no MFA: its password alone opens the whole account, and no IAM policy or cut here can restrict root. Enable MFA on root now (a hardware key), change its password, and check CloudTrail for root sign-ins.".into(),
        )
    })
}

/// The finding for an account summary's `AccountAccessKeysPresent` value: 1 when the root user has an
/// access key (docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html, SummaryMap). Root
/// keys are outside every cut here: `iam_key_deactivate` lists IAM users' keys, and no IAM policy binds
/// root; only root itself can deactivate or delete them.
pub fn root_keys_finding(account: &str, keys_present: Option<i32>) -> Option<Finding> {
    (keys_present.is_some_and(|present| present > 0)).then(|| {
        finding(
            "root_access_keys",
            &format!("arn:aws:iam::{account}:root"),
            Severity::High,
            "The root user has access keys: they can do anything in the account from anywhere, and no cut here touches them (IAM key cuts cover IAM users, and no policy restricts root). Sign in as root, deactivate and then delete them (Security credentials), and check CloudTrail for calls made with them.".into(),
        )
    })
}

#[async_trait]
impl Inspection for RootWithoutMfa {
    fn name(&self) -> &'static str {
        "root_without_mfa"
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let out = ctx
            .iam()
            .get_account_summary()
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("iam:GetAccountSummary", err))?;
        // One summary answers both root checks.
        let value = |key: SummaryKeyType| out.summary_map().and_then(|m| m.get(&key)).copied();
        let account = &scope.caller.account;
        Ok(
            root_mfa_finding(account, value(SummaryKeyType::AccountMfaEnabled))
                .into_iter()
                .chain(root_keys_finding(
                    account,
                    value(SummaryKeyType::AccountAccessKeysPresent),
                ))
                .collect(),
        )
    }
}

/// `exposed_access_keys`: Trusted Advisor's "Exposed Access Keys" check.
pub struct ExposedAccessKeys;

/// The check's name in DescribeTrustedAdvisorChecks.
pub const EXPOSED_KEYS_CHECK: &str = "Exposed Access Keys";

/// The Support API has a single endpoint, in us-east-1.
const SUPPORT_REGION: &str = "us-east-1";

const EXPOSED: &str = "exposed_access_keys";

/// One flagged key: the check's metadata columns are Access Key ID, User Name (IAM or Root), Fraud
/// Type, Case ID, Time Updated, Location, Deadline, Usage (USD per Day).
pub fn exposed_key_finding(metadata: &[Option<String>]) -> Finding {
    let column = |i: usize| metadata.get(i).cloned().flatten().filter(|v| !v.is_empty());
    let key = column(0).unwrap_or_else(|| "(key ID not given)".into());
    let user = column(1).unwrap_or_else(|| "an unnamed user".into());
    let mut detail = Vec::new();
    if let Some(fraud) = column(2) {
        detail.push(format!("fraud type {fraud}"));
    }
    if let Some(case) = column(3) {
        detail.push(format!("support case {case}"));
    }
    if let Some(location) = column(5) {
        detail.push(format!("found at {location}"));
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join(", "))
    };
    finding(
        EXPOSED,
        &key,
        Severity::High,
        format!(
            "AWS lists access key {key} of {user} as exposed{detail}: treat its secret as public. iam_key_deactivate cuts it (unless it is the key hikkonuki runs with); delete it and issue a new one once the incident allows."
        ),
    )
}

/// The Info finding when the check cannot run, saying plainly why.
pub fn exposed_keys_not_run(why: &str) -> Finding {
    unread_finding(
        EXPOSED,
        GLOBAL_REGION,
        "trusted-advisor",
        Severity::Info,
        format!(
            "The Trusted Advisor \"Exposed Access Keys\" check could not run: {why}. Keys AWS may have found in public places were not looked up; check the AWS Health dashboard and the root user's email for exposure notices."
        ),
    )
}

/// Reads a Support API failure: a support plan without Trusted Advisor access, or an endpoint that
/// does not implement the Support API (as the emulator answers), means the check could not run, which
/// is an Info finding: the check is advisory, and failing the plan for it would cost more than it tells.
/// Any other failure (AccessDenied names the missing permission) is an error the operator can fix.
fn support_failure<E>(
    action: &str,
    err: SdkError<E, HttpResponse>,
) -> Result<Vec<Finding>, ServiceError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if err.code() == Some("SubscriptionRequiredException") {
        Ok(vec![exposed_keys_not_run(
            "the account's support plan does not include the Support API (Business or Enterprise support is needed)",
        )])
    } else if let Some(answer) = missing_operation(&err) {
        Ok(vec![exposed_keys_not_run(&format!(
            "the endpoint does not implement {} ({answer})",
            action.trim_start_matches("support:")
        ))])
    } else {
        Err(ServiceError::from_sdk(action, err))
    }
}

/// Per-call settings for the Support API: its one region, and no retries against an endpoint override
/// (an emulator without the Support API answers 500 every time; see `missing_api`).
fn support_overrides(ctx: &RegionCtx) -> aws_sdk_support::config::Builder {
    let mut overrides =
        aws_sdk_support::config::Builder::default().region(Region::new(SUPPORT_REGION));
    overrides.set_retry_config(retry_config(ctx.endpoint_url.as_deref()));
    overrides
}

#[async_trait]
impl Inspection for ExposedAccessKeys {
    fn name(&self) -> &'static str {
        EXPOSED
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let checks = ctx
            .support()
            .describe_trusted_advisor_checks()
            .language("en")
            .customize()
            .config_override(support_overrides(ctx))
            .send()
            .await;
        let checks = match checks {
            Ok(out) => out,
            Err(err) => return support_failure("support:DescribeTrustedAdvisorChecks", err),
        };
        let Some(check_id) = checks
            .checks()
            .iter()
            .find(|c| c.name() == EXPOSED_KEYS_CHECK)
            .map(|c| c.id().to_string())
        else {
            return Ok(vec![exposed_keys_not_run(
                "Trusted Advisor does not list the check for this account",
            )]);
        };
        let result = ctx
            .support()
            .describe_trusted_advisor_check_result()
            .check_id(&check_id)
            .language("en")
            .customize()
            .config_override(support_overrides(ctx))
            .send()
            .await;
        let result = match result {
            Ok(out) => out,
            Err(err) => return support_failure("support:DescribeTrustedAdvisorCheckResult", err),
        };
        Ok(result
            .result()
            .map(|r| r.flagged_resources())
            .unwrap_or_default()
            .iter()
            .filter(|r| !r.is_suppressed())
            .map(|r| exposed_key_finding(r.metadata()))
            .collect())
    }
}

/// `identity_center`: SSO Admin ListInstances.
pub struct IdentityCenter;

/// The finding for one IAM Identity Center instance.
pub fn identity_center_finding(instance_arn: &str, identity_store: Option<&str>) -> Finding {
    let store = identity_store
        .map(|s| format!(" Its identity store is {s}."))
        .unwrap_or_default();
    finding(
        "identity_center",
        instance_arn,
        Severity::Medium,
        format!(
            "IAM Identity Center is a way in that IAM key cuts do not close: review permission sets and assignments, and disable compromised users in its directory.{store} AWS protects the roles it creates (path /aws-reserved/sso.amazonaws.com/), so iam_session_revoke cannot put its deny on them: end those sessions in Identity Center (remove the assignment, or add a deny to the permission set)."
        ),
    )
}

#[async_trait]
impl Inspection for IdentityCenter {
    fn name(&self) -> &'static str {
        "identity_center"
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let instances: Vec<_> = ctx
            .ssoadmin()
            .list_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("sso:ListInstances", err))?;
        Ok(instances
            .iter()
            .filter_map(|i| {
                Some(identity_center_finding(
                    i.instance_arn()?,
                    i.identity_store_id(),
                ))
            })
            .collect())
    }
}

/// `identity_caller_kept`: says, in the plan, which principal the identity cuts leave alone.
pub struct CallerKept;

/// What the identity cuts leave alone because hikkonuki runs as it, or nothing when the caller names no
/// user, role or key.
pub fn caller_kept_finding(arn: &str, caller: &CallerPrincipal) -> Option<Finding> {
    let mut kept = Vec::new();
    if let Some(key) = &caller.access_key_id {
        kept.push(format!(
            "access key {key} (this run signs with it) stays Active"
        ));
    }
    if let Some(user) = &caller.user {
        kept.push(format!(
            "IAM user {user} keeps all its access keys, SSH public keys and service-specific credentials, and its sessions are not revoked"
        ));
    }
    if let Some(role) = &caller.role {
        kept.push(format!("sessions of IAM role {role} are not revoked"));
    }
    if kept.is_empty() {
        return None;
    }
    Some(finding(
        "identity_caller_kept",
        arn,
        Severity::Info,
        format!(
            "hikkonuki runs as {arn}, so the identity cuts leave it alone: {}. If this principal may be compromised too, rotate its credentials by hand once the rest is contained.",
            kept.join("; ")
        ),
    ))
}

#[async_trait]
impl Inspection for CallerKept {
    fn name(&self) -> &'static str {
        "identity_caller_kept"
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        _ctx: &RegionCtx,
        scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let caller = CallerPrincipal::from_identity(&scope.caller);
        Ok(caller_kept_finding(&scope.caller.arn, &caller)
            .into_iter()
            .collect())
    }
}

/// `identity_protected_roles`: IAM ListRoles, the roles whose path marks them as AWS's own.
pub struct ProtectedRoles;

const PROTECTED: &str = "identity_protected_roles";

/// The findings for the protected roles found, by kind: IAM answers `UnmodifiableEntity` to every policy
/// written on them (https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html), so
/// `iam_session_revoke` and `ses_send_deny` leave them out, and the responder must act elsewhere.
/// Identity Center roles are Medium: people sign in to them, and their sessions live on; service-linked
/// roles are Info: only their AWS service can assume them.
pub fn protected_roles_findings(roles: &[(String, ProtectedRole)]) -> Vec<Finding> {
    let names = |wanted: ProtectedRole| -> Vec<&str> {
        let mut names: Vec<&str> = roles
            .iter()
            .filter(|(_, kind)| *kind == wanted)
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort();
        names
    };
    let mut findings = Vec::new();
    let sso = names(ProtectedRole::IdentityCenter);
    if !sso.is_empty() {
        findings.push(finding(
            PROTECTED,
            "/aws-reserved/sso.amazonaws.com/",
            Severity::Medium,
            format!(
                "IAM Identity Center roles {} are protected: IAM refuses every policy on them (UnmodifiableEntity), so iam_session_revoke and ses_send_deny leave them out, and sessions signed in through Identity Center keep working. Act in IAM Identity Center: add a deny to the permission set's inline policy (a Deny of everything when aws:TokenIssueTime is earlier than now ends the sessions already issued) and re-provision it to this account, or remove the account assignments; disable compromised users in its directory.",
                sso.join(", ")
            ),
        ));
    }
    let linked = names(ProtectedRole::ServiceLinked);
    if !linked.is_empty() {
        findings.push(finding(
            PROTECTED,
            "/aws-service-role/",
            Severity::Info,
            format!(
                "Service-linked roles {} are protected: IAM refuses every policy on them (UnmodifiableEntity), so iam_session_revoke and ses_send_deny leave them out. Only their AWS services can assume them, so stolen keys do not reach their sessions directly; if a service itself is misused, contain it through that service (or delete its service-linked role through it).",
                linked.join(", ")
            ),
        ));
    }
    findings
}

#[async_trait]
impl Inspection for ProtectedRoles {
    fn name(&self) -> &'static str {
        PROTECTED
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let roles: Vec<_> = ctx
            .iam()
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("iam:ListRoles", err))?;
        let protected: Vec<(String, ProtectedRole)> = roles
            .iter()
            .filter_map(|role| {
                ProtectedRole::of_path(role.path()).map(|kind| (role.role_name().to_string(), kind))
            })
            .collect();
        Ok(protected_roles_findings(&protected))
    }
}
