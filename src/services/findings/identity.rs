//! Identity checks that report and change nothing: what a responder must know about ways in that the
//! identity cuts do not close, or that they deliberately leave open.
//!
//! - `root_without_mfa`: the root user cannot be restricted by any IAM policy; without MFA its password
//!   alone opens the whole account.
//! - `exposed_access_keys`: AWS's own Trusted Advisor check for access keys found in public places
//!   (through the Support API, which needs a Business or Enterprise support plan).
//! - `identity_center`: IAM Identity Center users sign in through their own directory and get role
//!   sessions; no IAM key cut touches them (`identity_center_session_revoke` revokes the sessions of the
//!   permission sets it can see). Looked for in every enabled region; for an account in an organization,
//!   the organization's instance managed from another account, invisible here, is named out of reach.
//! - `identity_caller_kept`: the principal hikkonuki runs as, which every identity cut leaves alone.
//! - `identity_protected_roles`: the roles AWS protects (IAM Identity Center's and service-linked roles),
//!   on which no deny can be written, so the policy-writing cuts leave them out.
//! - `iam_console_password`: IAM users with a console password. Key deactivation leaves passwords, and
//!   the session revocation denies only sessions issued before apply: whoever holds a password signs in
//!   to a fresh session after every cut.

use async_trait::async_trait;
use aws_config::Region;
use aws_sdk_iam::types::SummaryKeyType;

use aws_sdk_support::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, GLOBAL_REGION, Severity};
use crate::services::common::missing_api::{missing_operation, retry_config, unread_finding};
use crate::services::common::organization::organization;
use crate::services::common::policy_principals::Organization;
use crate::services::common::regions::enabled_regions;
use crate::services::identity::{CallerPrincipal, ProtectedRole, is_no_such_entity};
use crate::services::{DiscoveryScope, Inspection, ServiceError, gather};

fn finding(check: &str, resource: &str, severity: Severity, message: String) -> Finding {
    Finding {
        check: check.to_string(),
        region: GLOBAL_REGION.to_string(),
        resource: resource.to_string(),
        severity,
        message,
    }
}

/// The root user's ARN, in the region's partition (`arn:aws-us-gov:iam::…:root` in GovCloud).
pub fn root_arn(region: &str, account: &str) -> String {
    let partition = crate::services::common::regions::partition_of_region(region);
    format!("arn:{partition}:iam::{account}:root")
}

/// `root_without_mfa`: IAM GetAccountSummary `AccountMFAEnabled == 0`.
pub struct RootWithoutMfa;

/// The finding for an account summary's `AccountMFAEnabled` value.
/// `root` is the root user's ARN ([`root_arn`]).
pub fn root_mfa_finding(root: &str, mfa_enabled: Option<i32>) -> Option<Finding> {
    (mfa_enabled == Some(0)).then(|| {
        finding(
            "root_without_mfa",
            root,
            Severity::High,
            "The root user has no MFA: its password alone opens the whole account, and no IAM policy or cut here can restrict root. Enable MFA on root now (a hardware key), change its password, and check CloudTrail for root sign-ins.".into(),
        )
    })
}

/// The finding for an account summary's `AccountAccessKeysPresent` value: 1 when the root user has an
/// access key (docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html, SummaryMap). Root
/// keys are outside every cut here: `iam_key_deactivate` lists IAM users' keys, and no IAM policy binds
/// root; only root itself can deactivate or delete them.
pub fn root_keys_finding(root: &str, keys_present: Option<i32>) -> Option<Finding> {
    (keys_present.is_some_and(|present| present > 0)).then(|| {
        finding(
            "root_access_keys",
            root,
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
        let root = root_arn(&ctx.region, &scope.caller.account);
        Ok(
            root_mfa_finding(&root, value(SummaryKeyType::AccountMfaEnabled))
                .into_iter()
                .chain(root_keys_finding(
                    &root,
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

/// `identity_center`: SSO Admin ListInstances, in every enabled region. IAM Identity Center is a regional
/// service: an instance lives in the region it was enabled in, and ListInstances answers for its own
/// region only ("IAM Identity Center … is available in … Regions. You can enable it in one Region",
/// <https://docs.aws.amazon.com/singlesignon/latest/userguide/regions.html>), so the home region alone
/// misses an organization's instance, or an account instance, enabled elsewhere.
pub struct IdentityCenter;

/// How many regions are asked at once.
const IDENTITY_CENTER_CONCURRENCY: usize = 4;

/// The finding for one IAM Identity Center instance, in the region that holds it.
pub fn identity_center_finding(
    region: &str,
    instance_arn: &str,
    identity_store: Option<&str>,
) -> Finding {
    let store = identity_store
        .map(|s| format!(" Its identity store is {s}."))
        .unwrap_or_default();
    Finding {
        region: region.to_string(),
        ..finding(
            "identity_center",
            instance_arn,
            Severity::Medium,
            format!(
                "IAM Identity Center is a way in that IAM key cuts do not close: its users sign in through its own directory and get sessions of the roles it provisions, which AWS protects (path /aws-reserved/sso.amazonaws.com/), so iam_session_revoke cannot put its deny on them. identity_center_session_revoke ends the sessions issued before apply through each permission set of this instance provisioned to this account (a deny in the permission set's inline policy); new sign-ins still work, so also review the assignments and disable compromised users in its directory.{store}"
            ),
        )
    }
}

/// For an account in an organization: the organization's instance may be managed from another account,
/// and is then invisible from here. ListInstances "lists the details of the organization and account
/// instances of IAM Identity Center that were created in or visible to the account calling this API"
/// (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListInstances.html>); an
/// organization instance is administered from the management account or a delegated administrator
/// (<https://docs.aws.amazon.com/singlesignon/latest/userguide/delegated-admin.html>).
pub fn organization_instance_finding(organization_id: &str) -> Finding {
    finding(
        "identity_center",
        &format!("organization {organization_id}"),
        Severity::Medium,
        format!(
            "This account belongs to organization {organization_id}. If the organization's IAM Identity Center instance is managed from another account (the management account, or a delegated administrator for IAM Identity Center), that instance is not visible from here, and identity_center_session_revoke cannot cut the permission sets it assigns to this account: there, add a statement denying everything when aws:TokenIssueTime is before now to each permission set assigned to this account, then provision it (or remove the assignments)."
        ),
    )
}

/// What one region answered: its instances (ARN, identity store), or the error.
pub type RegionInstances = (String, Result<Vec<(String, Option<String>)>, ServiceError>);

/// The findings for every region's answer: one per instance, in its region, and one naming the regions
/// that could not be read, so an instance there does not pass in silence.
pub fn identity_center_findings(answers: Vec<RegionInstances>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut unread = Vec::new();
    for (region, answer) in answers {
        match answer {
            Ok(instances) => findings.extend(
                instances
                    .iter()
                    .map(|(arn, store)| identity_center_finding(&region, arn, store.as_deref())),
            ),
            Err(err) => unread.push(format!("{region} ({err})")),
        }
    }
    if !unread.is_empty() {
        findings.push(finding(
            "identity_center",
            "sso:ListInstances",
            Severity::Medium,
            format!(
                "IAM Identity Center instances could not be listed in {}: an instance there would be a way in no IAM cut closes. Check those regions by hand (IAM Identity Center console, or `aws sso-admin list-instances --region …`).",
                unread.join(", ")
            ),
        ));
    }
    findings
}

/// The instances of one region, through every page, with an SSO Admin client for that region built from
/// the home region's (same credentials, HTTP client and pacing).
async fn instances_in(
    ctx: &RegionCtx,
    region: &str,
) -> Result<Vec<(String, Option<String>)>, ServiceError> {
    let config = ctx
        .ssoadmin()
        .config()
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    let instances: Vec<_> = aws_sdk_ssoadmin::Client::from_conf(config)
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
            Some((
                i.instance_arn()?.to_string(),
                i.identity_store_id().map(str::to_string),
            ))
        })
        .collect())
}

#[async_trait]
impl Inspection for IdentityCenter {
    fn name(&self) -> &'static str {
        "identity_center"
    }

    fn global(&self) -> bool {
        true
    }

    /// Asks every region enabled for the account. When the regions cannot be listed, the home region is
    /// still asked and the finding for unread regions says why the others were not.
    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let (regions, mut answers): (Vec<String>, Vec<RegionInstances>) =
            match enabled_regions(ctx).await {
                Ok(regions) if !regions.is_empty() => (regions, vec![]),
                Ok(_) => (vec![ctx.region.clone()], vec![]),
                Err(err) => (
                    vec![ctx.region.clone()],
                    vec![("the other regions".to_string(), Err(err))],
                ),
            };
        let asked = gather(regions, IDENTITY_CENTER_CONCURRENCY, |region| async move {
            let answer = instances_in(ctx, &region).await;
            Ok(vec![(region, answer)])
        })
        .await?;
        answers.splice(0..0, asked);
        let mut findings = identity_center_findings(answers);
        if let Organization::Member(id) = organization(ctx).await {
            findings.push(organization_instance_finding(&id));
        }
        Ok(findings)
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
    if let Some(key) = &caller.source_access_key_id {
        kept.push(match &caller.source_user {
            Some(user) => format!(
                "IAM user {user}, whose access key {key} the profile assumes the role with, keeps all its credentials, so the role can be assumed again when this session expires"
            ),
            None => format!(
                "access key {key}, which the profile assumes the role with, stays Active (it is not a key of this account, or IAM would not say whose it is)"
            ),
        });
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
        let roles = crate::services::identity::listing::roles(ctx).await?;
        let protected: Vec<(String, ProtectedRole)> = roles
            .iter()
            .filter_map(|role| {
                ProtectedRole::of_path(role.path()).map(|kind| (role.role_name().to_string(), kind))
            })
            .collect();
        Ok(protected_roles_findings(&protected))
    }
}

/// `iam_console_password`: IAM ListUsers, then GetLoginProfile for each user (read live: IAM's credential
/// report, which holds the same in one call, may be up to four hours old, and would miss a password an
/// intruder set since: https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateCredentialReport.html).
pub struct ConsolePasswords;

const CONSOLE_PASSWORD: &str = "iam_console_password";

/// How many GetLoginProfile calls at once: IAM's reads share one account-wide budget.
const LOGIN_PROFILE_CONCURRENCY: usize = 4;

/// The finding for a user with a console password.
pub fn console_password_finding(user_arn: &str, user: &str) -> Finding {
    finding(
        CONSOLE_PASSWORD,
        user_arn,
        Severity::High,
        format!(
            "IAM user {user} has a console password: deactivating keys leaves it, and the session revocation denies only sessions issued before apply, so whoever holds the password signs in to a fresh session after every cut. Check CloudTrail for its ConsoleLogin events; if it may be compromised, remove the password (aws iam delete-login-profile --user-name {user}: it cannot be given back, a new one is set later) or deny the user everything with an inline policy until the incident is over."
        ),
    )
}

#[async_trait]
impl Inspection for ConsolePasswords {
    fn name(&self) -> &'static str {
        CONSOLE_PASSWORD
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
        let caller = CallerPrincipal::from_identity(&scope.caller);
        let users = crate::services::identity::listing::users(ctx).await?;
        // The responder's own user is theirs to sign in with (the caller-kept finding names it).
        let users: Vec<(String, String)> = users
            .iter()
            .filter(|user| !caller.is_user(user.user_name()))
            .map(|user| (user.user_name().to_string(), user.arn().to_string()))
            .collect();
        gather(users, LOGIN_PROFILE_CONCURRENCY, |(user, arn)| async move {
            match ctx.iam().get_login_profile().user_name(&user).send().await {
                Ok(_) => Ok(vec![console_password_finding(&arn, &user)]),
                Err(err) => match ServiceError::from_sdk("iam:GetLoginProfile", err) {
                    // No password (or the user was deleted since it was listed): no way in by one.
                    err if is_no_such_entity(&err) => Ok(vec![]),
                    err => Err(err),
                },
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_regions::DescribeRegionsOutput;
    use aws_sdk_organizations::operation::describe_organization::{
        DescribeOrganizationError, DescribeOrganizationOutput,
    };
    use aws_sdk_organizations::types::error::AwsOrganizationsNotInUseException;
    use aws_sdk_ssoadmin::operation::list_instances::{ListInstancesError, ListInstancesOutput};
    use aws_sdk_ssoadmin::types::InstanceMetadata;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    /// DescribeRegions with AllRegions, as EC2 documents it: regions that need no opt-in, one opted
    /// into, one not opted into (which the account cannot use).
    fn regions() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_ec2::Client::describe_regions)
            .match_requests(|req| req.all_regions() == Some(true))
            .then_output(|| {
                let region = |name: &str, status: &str| {
                    aws_sdk_ec2::types::Region::builder()
                        .region_name(name)
                        .opt_in_status(status)
                        .build()
                };
                DescribeRegionsOutput::builder()
                    .regions(region("us-east-1", "opt-in-not-required"))
                    .regions(region("ap-east-1", "not-opted-in"))
                    .regions(region("eu-west-1", "opted-in"))
                    .build()
            })
    }

    /// ListInstances as SSO Admin documents it: the instance ARN and its identity store.
    fn one_instance() -> ListInstancesOutput {
        ListInstancesOutput::builder()
            .instances(
                InstanceMetadata::builder()
                    .instance_arn("arn:aws:sso:::instance/ssoins-7223a9b5a1f8a3f0")
                    .identity_store_id("d-9067c2f5a1")
                    .build(),
            )
            .build()
    }

    /// The documented answer of DescribeOrganization for an account in no organization.
    fn no_organization() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
            DescribeOrganizationError::AwsOrganizationsNotInUseException(
                AwsOrganizationsNotInUseException::builder()
                    .message("Your account is not a member of an organization.")
                    .build(),
            )
        })
    }

    fn ctx(regions: &aws_smithy_mocks::Rule, instances: &aws_smithy_mocks::Rule) -> RegionCtx {
        ctx_in(regions, instances, &no_organization())
    }

    fn ctx_in(
        regions: &aws_smithy_mocks::Rule,
        instances: &aws_smithy_mocks::Rule,
        organization: &aws_smithy_mocks::Rule,
    ) -> RegionCtx {
        RegionCtx::for_tests("us-east-1")
            .mock_ec2(mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[regions]))
            .mock_ssoadmin(mock_client!(
                aws_sdk_ssoadmin,
                RuleMode::MatchAny,
                &[instances]
            ))
            .mock_organizations(mock_client!(aws_sdk_organizations, [organization]))
    }

    /// From a member account an organization instance managed elsewhere is invisible: the finding says
    /// where to act, and nothing else changes.
    #[tokio::test]
    async fn mocked_a_member_account_is_told_the_organization_instance_is_out_of_sight() {
        let regions = regions();
        let instances = mock!(aws_sdk_ssoadmin::Client::list_instances)
            .then_output(|| ListInstancesOutput::builder().build());
        let member =
            mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
                DescribeOrganizationOutput::builder()
                    .organization(
                        aws_sdk_organizations::types::Organization::builder()
                            .id("o-exampleorgid")
                            .build(),
                    )
                    .build()
            });
        let findings = IdentityCenter
            .inspect(
                &ctx_in(&regions, &instances, &member),
                &DiscoveryScope::for_tests(),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].resource, "organization o-exampleorgid");
        assert!(findings[0].message.contains("management account"));
        assert!(findings[0].message.contains("aws:TokenIssueTime"));
    }

    #[tokio::test]
    async fn mocked_identity_center_is_looked_for_in_every_enabled_region_not_only_the_home_one() {
        let regions = regions();
        let instances = mock!(aws_sdk_ssoadmin::Client::list_instances).then_output(one_instance);
        let ctx = ctx(&regions, &instances);
        let findings = IdentityCenter
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(
            instances.num_calls(),
            2,
            "us-east-1 and eu-west-1; not ap-east-1, which is not opted into"
        );
        let mut found: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.region.as_str(), f.resource.as_str()))
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                (
                    "eu-west-1",
                    "arn:aws:sso:::instance/ssoins-7223a9b5a1f8a3f0"
                ),
                (
                    "us-east-1",
                    "arn:aws:sso:::instance/ssoins-7223a9b5a1f8a3f0"
                )
            ]
        );
        assert!(findings.iter().all(|f| f.severity == Severity::Medium
            && f.message.contains("Its identity store is d-9067c2f5a1.")));
    }

    #[tokio::test]
    async fn mocked_a_region_that_cannot_be_read_is_named_in_a_finding_and_the_others_still_count()
    {
        let regions = regions();
        let instances = mock!(aws_sdk_ssoadmin::Client::list_instances)
            .sequence()
            .output(one_instance)
            .error(|| {
                ListInstancesError::generic(
                    aws_sdk_ssoadmin::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("User is not authorized to perform: sso:ListInstances")
                        .build(),
                )
            })
            .build();
        let ctx = ctx(&regions, &instances);
        let findings = IdentityCenter
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(findings.len(), 2, "{findings:?}");
        let unread = findings
            .iter()
            .find(|f| f.resource == "sso:ListInstances")
            .expect("the unread region is named");
        assert!(unread.message.contains("could not be listed in"));
        assert!(
            unread.message.contains("AccessDeniedException"),
            "{}",
            unread.message
        );
    }

    #[test]
    fn each_instance_is_reported_in_its_own_region() {
        let findings = identity_center_findings(vec![
            ("us-east-1".into(), Ok(vec![])),
            (
                "eu-central-1".into(),
                Ok(vec![("arn:aws:sso:::instance/ssoins-2".into(), None)]),
            ),
            (
                "ap-south-2".into(),
                Err(ServiceError::local("sso:ListInstances", "timed out")),
            ),
        ]);
        assert_eq!(findings.len(), 2);
        assert_eq!(
            (findings[0].region.as_str(), findings[0].resource.as_str()),
            ("eu-central-1", "arn:aws:sso:::instance/ssoins-2")
        );
        assert!(findings[1].message.contains("ap-south-2"));
    }
}
