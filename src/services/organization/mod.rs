//! The organization's door: policies the management account attaches to member accounts, each of which
//! closes a whole account in one call. [`org_quarantine`] attaches a service control policy (SCP) that
//! denies every action to everyone but the responder; [`org_resource_perimeter`] attaches a resource
//! control policy (RCP) that denies principals outside the organization on the services RCPs cover.
//!
//! What both share lives here: reading the organization from its management account, the per-account
//! state, and the attach/detach of one named policy per organization with its exact undo.
//!
//! - One policy per organization and kind, by name (policy names are unique in an organization: a second
//!   `CreatePolicy` with the same name answers `DuplicatePolicyException`,
//!   <https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreatePolicy.html>). The first cut
//!   that needs it creates it; each cut attaches it to its account.
//! - Discovery refuses (proposes disabled) every cut while a policy by that name already exists: hikkonuki
//!   never adopts a policy it did not create, so the one restore deletes is always one apply made.
//! - Undo detaches from the cut's account, then deletes the policy once nothing is attached to it and its
//!   content is still what hikkonuki wrote; a policy edited since is left, attached, and reported.
//! - Neither kind of policy applies to the management account ("SCPs don't affect users or roles in the
//!   management account", <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html>;
//!   "RCPs don't affect resources in the management account",
//!   <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html>).
//! - Limits (<https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>): at
//!   most 5 SCPs and 5 RCPs attached directly to an account (the AWS-managed `FullAWSAccess` and
//!   `RCPFullAWSAccess` count), and a policy document of at most 5,120 characters.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::operation::attach_policy::AttachPolicyError;
use aws_sdk_organizations::types::{PolicyType, PolicyTypeStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::RegionCtx;
use crate::services::{DiscoveryScope, PlanOption, ServiceError, TypedCut, UndoOutcome};

pub mod org_quarantine;
pub mod org_resource_perimeter;

pub use org_quarantine::OrgQuarantine;
pub use org_resource_perimeter::OrgResourcePerimeter;

/// At most this many policies of one type attached directly to a root, OU or account.
pub const POLICIES_PER_TARGET: usize = 5;
/// A service control or resource control policy document holds at most this many characters.
pub const POLICY_SIZE_MAX: usize = 5_120;
const LIMITS_PAGE: &str =
    "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html";

/// The type of organization policy a kind attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyKind {
    /// `SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`.
    pub policy_type: &'static str,
    /// The policy's name in the organization.
    pub policy_name: &'static str,
    pub description: &'static str,
    /// `SCP` or `RCP`, for the operator.
    pub short: &'static str,
    /// The page saying the type does not apply to the management account.
    pub management_page: &'static str,
    /// The AWS-managed policy AWS attaches to every target while the type is enabled and that cannot be
    /// detached (`RCPFullAWSAccess`), if any: left out of the states, since enabling the type attaches it
    /// and a plan made before that would otherwise see every account drift; counted by the limit check.
    pub always_attached: Option<&'static str>,
}

impl PolicyKind {
    fn sdk_type(&self) -> PolicyType {
        PolicyType::from(self.policy_type)
    }
}

/// A 12-digit account ID, as `--quarantine` and `--resource-perimeter` take it.
pub fn check_account_ids(flag: &str, joined: &str) -> Result<(), String> {
    for id in joined.split(PlanOption::SEPARATOR) {
        if id.len() != 12 || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "--{flag} `{id}` is not an AWS account ID (12 digits)\n  fix: give one account per flag, e.g. --{flag} 111122223333 (repeat the flag for more)"
            ));
        }
    }
    Ok(())
}

/// The accounts named by a repeatable account option, each once, in the order given.
pub fn named_accounts(scope: &DiscoveryScope, flag: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    scope
        .option_values(flag)
        .into_iter()
        .filter(|id| seen.insert(id.to_string()))
        .map(str::to_string)
        .collect()
}

/// A policy attached to a target, as the states record it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    pub id: String,
    pub name: String,
}

/// One account's policies of the kind's type, as `before` and `after` record them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPolicies {
    pub account_id: String,
    /// The policies of this type attached directly to the account, hikkonuki's own left out, sorted by id.
    pub attached: Vec<PolicyRef>,
    /// Whether a policy with hikkonuki's name is attached to the account.
    pub own_attached: bool,
    /// The name of hikkonuki's policy.
    pub policy_name: String,
    /// The document hikkonuki writes (minified JSON): the same in `before` and `after`, so restore and a
    /// resumed apply know exactly what the policy must hold to be hikkonuki's.
    pub policy_content: String,
}

/// What restore needs to take an account's policy off again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountUndo {
    pub account_id: String,
    pub policy_name: String,
    /// The policy is deleted only while its content is still this.
    pub policy_content: String,
}

/// The organization as its management account sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgView {
    pub id: String,
    pub management_account: String,
    pub feature_set: String,
    pub root_id: String,
    /// The root's policy types and their status (`ENABLED`, `PENDING_ENABLE`, `PENDING_DISABLE`).
    pub root_policy_types: Vec<(String, String)>,
    pub accounts: BTreeSet<String>,
}

impl OrgView {
    /// The root's status for a policy type; `DISABLED` when the root does not list it.
    pub fn type_status(&self, policy_type: &str) -> String {
        self.root_policy_types
            .iter()
            .find(|(t, _)| t == policy_type)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| DISABLED.into())
    }
}

pub const DISABLED: &str = "DISABLED";
pub const ENABLED: &str = "ENABLED";

/// Reads the organization from the caller's account. `Ok(Err(reason))` when the organization cannot be
/// acted on from here: the reason disables the cuts the operator asked for (never dropped in silence).
pub async fn read_organization(
    ctx: &RegionCtx,
    caller_account: &str,
) -> Result<Result<OrgView, String>, ServiceError> {
    let org = match ctx.organizations().describe_organization().send().await {
        Ok(out) => out.organization().cloned(),
        Err(err) => {
            let code = err.code().unwrap_or_default().to_string();
            // The documented answers of an account in no organization and of a caller without the
            // permission: https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeOrganization.html
            return match code.as_str() {
                "AWSOrganizationsNotInUseException" => Ok(Err(format!(
                    "account {caller_account} is in no organization (DescribeOrganization: AWSOrganizationsNotInUseException): there is no organization policy to attach; run plan from the organization's management account"
                ))),
                "AccessDeniedException" => Ok(Err(format!(
                    "DescribeOrganization was denied ({}): the organization cannot be read; run plan from the management account with organizations:Describe*/List* permissions",
                    err.message().unwrap_or("AccessDeniedException")
                ))),
                _ => Err(ServiceError::from_sdk(
                    "organizations:DescribeOrganization",
                    err,
                )),
            };
        }
    };
    let Some(org) = org else {
        return Err(ServiceError::local(
            "organizations:DescribeOrganization",
            "the answer holds no organization",
        ));
    };
    let management = org.master_account_id().unwrap_or_default().to_string();
    if management != caller_account {
        return Ok(Err(format!(
            "account {caller_account} is not the organization's management account ({management}): only the management account attaches organization policies; run plan from the management account"
        )));
    }
    let roots: Vec<_> = roots(ctx).await?;
    let Some(root) = roots.first() else {
        return Err(ServiceError::local(
            "organizations:ListRoots",
            "the organization lists no root",
        ));
    };
    let accounts = crate::services::common::org_accounts::all_accounts(ctx).await?;
    Ok(Ok(OrgView {
        id: org.id().unwrap_or_default().to_string(),
        management_account: management,
        feature_set: org
            .feature_set()
            .map(|f| f.as_str().to_string())
            .unwrap_or_default(),
        root_id: root.id().unwrap_or_default().to_string(),
        root_policy_types: root
            .policy_types()
            .iter()
            .map(|t| {
                (
                    t.r#type()
                        .map(|t| t.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    t.status()
                        .map(|s| s.as_str())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect(),
        accounts: accounts
            .iter()
            .filter_map(|a| a.id().map(str::to_string))
            .collect(),
    }))
}

/// The organization's roots (one, today), every page of ListRoots.
async fn roots(ctx: &RegionCtx) -> Result<Vec<aws_sdk_organizations::types::Root>, ServiceError> {
    Ok(ctx
        .organizations()
        .list_roots()
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| ServiceError::from_sdk("organizations:ListRoots", err))?
        .iter()
        .flat_map(|page| page.roots().to_vec())
        .collect())
}

/// The root's status for a policy type, read afresh.
/// `root_id` None reads the organization's one root.
pub async fn root_type_status(
    ctx: &RegionCtx,
    root_id: Option<&str>,
    policy_type: &str,
) -> Result<String, ServiceError> {
    let roots: Vec<_> = roots(ctx).await?;
    let root = roots
        .iter()
        .find(|r| root_id.is_none() || r.id() == root_id)
        .ok_or_else(|| {
            ServiceError::local(
                "organizations:ListRoots",
                format!("the root {} is not listed", root_id.unwrap_or_default()),
            )
        })?;
    Ok(root
        .policy_types()
        .iter()
        .find(|t| t.r#type().map(|t| t.as_str()) == Some(policy_type))
        .and_then(|t| t.status())
        .map(|s: &PolicyTypeStatus| s.as_str().to_string())
        .unwrap_or_else(|| DISABLED.into()))
}

/// The policies of `kind`'s type attached directly to `target`, sorted by id.
pub async fn attached_policies(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    target: &str,
) -> Result<Vec<PolicyRef>, ServiceError> {
    let listed = ctx
        .organizations()
        .list_policies_for_target()
        .target_id(target)
        .filter(kind.sdk_type())
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map(|pages| {
            pages
                .iter()
                .flat_map(|page| page.policies().to_vec())
                .collect::<Vec<_>>()
        });
    let listed = match listed {
        Ok(listed) => listed,
        // While the type is not enabled on the root nothing of it is attached; enabling it attaches the
        // AWS-managed full-access policy everywhere (counted by the limit check).
        Err(err) if err.code() == Some("PolicyTypeNotEnabledException") => Vec::new(),
        Err(err) => {
            return Err(ServiceError::from_sdk(
                "organizations:ListPoliciesForTarget",
                err,
            ));
        }
    };
    let mut refs: Vec<PolicyRef> = listed
        .iter()
        .filter(|p| !(p.aws_managed() && p.name().is_some() && p.name() == kind.always_attached))
        .map(|p| PolicyRef {
            id: p.id().unwrap_or_default().to_string(),
            name: p.name().unwrap_or_default().to_string(),
        })
        .collect();
    refs.sort();
    Ok(refs)
}

/// An account's state before its cut, as discovery reads it: what is attached, read whenever the account
/// is one of the organization's members, also while the organization blocks the kind (`blocked`). A
/// resumed apply derives the accounts it has not cut yet from discovery again, and by then the policy
/// an earlier part of the same run created is what blocks: their `before` must be what is attached, as
/// the plan recorded it, not blank, or every one of them reads as drift and the rest of the quarantine is
/// refused. While the organization is blocked for another reason the list may not be readable: then it
/// is blank, and the cut is proposed disabled anyway.
pub async fn account_before(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    org: &OrgView,
    account: &str,
    own: &OwnPolicy,
    blocked: bool,
) -> Result<AccountPolicies, ServiceError> {
    let member = account != org.management_account && org.accounts.contains(account);
    if !member {
        return Ok(account_state(account, Vec::new(), own));
    }
    match attached_policies(ctx, kind, account).await {
        Ok(listed) => Ok(account_state(account, listed, own)),
        Err(_) if blocked => Ok(account_state(account, Vec::new(), own)),
        Err(err) => Err(err),
    }
}

/// An account's state as a cut records it: hikkonuki's policy taken out of the attached list.
pub fn account_state(account_id: &str, listed: Vec<PolicyRef>, own: &OwnPolicy) -> AccountPolicies {
    let own_attached = listed.iter().any(|p| p.name == own.name);
    AccountPolicies {
        account_id: account_id.to_string(),
        attached: listed.into_iter().filter(|p| p.name != own.name).collect(),
        own_attached,
        policy_name: own.name.clone(),
        policy_content: own.content.clone(),
    }
}

/// hikkonuki's policy: its name and the document it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPolicy {
    pub name: String,
    pub content: String,
}

/// Every policy of one type in the organization, every page of ListPolicies.
pub async fn policies_of_type(
    ctx: &RegionCtx,
    policy_type: PolicyType,
) -> Result<Vec<aws_sdk_organizations::types::PolicySummary>, ServiceError> {
    Ok(ctx
        .organizations()
        .list_policies()
        .filter(policy_type)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|err| ServiceError::from_sdk("organizations:ListPolicies", err))?
        .iter()
        .flat_map(|page| page.policies().to_vec())
        .collect())
}

/// The policy of `kind`'s type named `name`, if the organization holds one: its id.
pub async fn find_policy(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    name: &str,
) -> Result<Option<String>, ServiceError> {
    let listed = policies_of_type(ctx, kind.sdk_type()).await?;
    Ok(listed
        .iter()
        .find(|p| p.name() == Some(name))
        .and_then(|p| p.id().map(str::to_string)))
}

/// A policy's document as the organization holds it.
pub async fn policy_content(ctx: &RegionCtx, policy_id: &str) -> Result<String, ServiceError> {
    let out = ctx
        .organizations()
        .describe_policy()
        .policy_id(policy_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("organizations:DescribePolicy", err))?;
    Ok(out
        .policy()
        .and_then(|p| p.content())
        .unwrap_or_default()
        .to_string())
}

/// Two policy documents say the same, whatever their white space or key order.
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Why an account cannot take the policy, or None. `org` is the organization read from the caller.
pub fn account_blocked(
    kind: &PolicyKind,
    org: &OrgView,
    account_id: &str,
    attached: &[PolicyRef],
    own: &OwnPolicy,
) -> Option<String> {
    if account_id == org.management_account {
        return Some(format!(
            "{account_id} is the organization's management account: {}s do not apply to the management account ({}); contain it with the account-level kinds instead",
            kind.short, kind.management_page
        ));
    }
    if !org.accounts.contains(account_id) {
        return Some(format!(
            "account {account_id} is not in the organization {} (ListAccounts): check the account ID",
            org.id
        ));
    }
    // The AWS-managed full-access policy the type keeps on every account counts, attached already or
    // attached by enabling the type.
    let count = attached.len() + usize::from(kind.always_attached.is_some());
    if count >= POLICIES_PER_TARGET {
        return Some(format!(
            "account {account_id} already has {count} {}s attached directly ({}), the most an account can take ({LIMITS_PAGE}): AttachPolicy would fail with ConstraintViolationException; detach one, or attach the policy to the account's OU instead",
            kind.short,
            attached
                .iter()
                .map(|p| format!("{} {}", p.id, p.name))
                .chain(kind.always_attached.map(str::to_string))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if own.content.chars().count() > POLICY_SIZE_MAX {
        return Some(format!(
            "the {} document is {} characters, more than the {POLICY_SIZE_MAX} an organization policy may hold ({LIMITS_PAGE}): name fewer --keep-principal ARNs",
            kind.short,
            own.content.chars().count()
        ));
    }
    None
}

/// Why no cut of the kind can work in this organization as a whole, or None.
pub async fn organization_blocked(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    org: &OrgView,
) -> Result<Option<String>, ServiceError> {
    // Organization policies need all features
    // (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_org_support-all-features.html).
    if org.feature_set != "ALL" {
        return Ok(Some(format!(
            "the organization {} has only consolidated billing features (`{}`): {}s need all features enabled",
            org.id, org.feature_set, kind.short
        )));
    }
    if let Some(id) = find_policy(ctx, kind, kind.policy_name).await? {
        return Ok(Some(format!(
            "a {} named `{}` already exists in the organization ({id}): hikkonuki never adopts a policy it did not create; if an earlier containment left it, restore that first, else rename or delete it",
            kind.short, kind.policy_name
        )));
    }
    Ok(None)
}

/// Checks an account cut's states: same account, same policy, and only the policy attached.
pub fn check_account_states(
    kind: &PolicyKind,
    target: &str,
    before: &AccountPolicies,
    after: &AccountPolicies,
) -> Result<(), String> {
    if before.account_id != target || after.account_id != target {
        return Err(format!("account_id must be the cut's target `{target}`"));
    }
    if before.policy_name != kind.policy_name || after.policy_name != kind.policy_name {
        return Err(format!("policy_name must be `{}`", kind.policy_name));
    }
    if after.policy_content != before.policy_content {
        return Err("`after.policy_content` must be as in `before`".into());
    }
    let document: Value = serde_json::from_str(&before.policy_content)
        .map_err(|err| format!("`policy_content` is not a JSON policy document: {err}"))?;
    if !document.is_object() {
        return Err("`policy_content` must be a JSON object".into());
    }
    if before.own_attached || !after.own_attached {
        return Err(
            "`own_attached` must be false in `before` and true in `after`: the cut attaches the policy"
                .into(),
        );
    }
    if after.attached != before.attached {
        return Err(
            "`after.attached` must be as in `before`: the cut attaches only its own policy".into(),
        );
    }
    Ok(())
}

/// The account's live state in the cut's shape; None when the account has left the organization.
pub async fn observe_account(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    before: &AccountPolicies,
) -> Result<Option<AccountPolicies>, ServiceError> {
    let own = OwnPolicy {
        name: before.policy_name.clone(),
        content: before.policy_content.clone(),
    };
    match attached_policies(ctx, kind, &before.account_id).await {
        Ok(listed) => {
            // The attached policy's document is read too: one rewritten since (an exemption widened, an
            // action dropped) no longer holds the cut, and watch must say so. Read as the organization
            // holds it, and recorded as the cut's own when it says the same in other white space.
            let own_policy = listed
                .iter()
                .find(|p| p.name == own.name)
                .map(|p| p.id.clone());
            let mut state = account_state(&before.account_id, listed, &own);
            if let Some(id) = own_policy {
                let live = policy_content(ctx, &id).await?;
                if !same_document(&live, &own.content) {
                    state.policy_content = live;
                }
            }
            Ok(Some(state))
        }
        Err(err)
            if matches!(
                err.code.as_deref(),
                Some("AccountNotFoundException" | "TargetNotFoundException")
            ) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// The undo record an account cut implies.
pub fn account_undo(cut: &TypedCut<AccountPolicies>) -> AccountUndo {
    AccountUndo {
        account_id: cut.before.account_id.clone(),
        policy_name: cut.before.policy_name.clone(),
        policy_content: cut.before.policy_content.clone(),
    }
}

/// The id of hikkonuki's policy, creating it when the organization holds none. A policy by that name with
/// other content is someone else's: refused, never adopted. Returns the id and whether this call created it.
async fn own_policy_id(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    own: &OwnPolicy,
) -> Result<(String, bool), ServiceError> {
    if let Some(id) = find_policy(ctx, kind, &own.name).await? {
        return Ok((checked_own(ctx, kind, own, id).await?, false));
    }
    let created = ctx
        .organizations()
        .create_policy()
        .name(&own.name)
        .description(kind.description)
        .content(&own.content)
        .r#type(kind.sdk_type())
        .send()
        .await;
    match created {
        Ok(out) => out
            .policy()
            .and_then(|p| p.policy_summary())
            .and_then(|s| s.id())
            .map(|id| (id.to_string(), true))
            .ok_or_else(|| {
                ServiceError::local(
                    "organizations:CreatePolicy",
                    "the answer names no policy id",
                )
            }),
        // Another cut of this plan, running at the same time, created it first; anything else by that
        // name is refused by the content check.
        Err(err) if err.code() == Some("DuplicatePolicyException") => {
            match find_policy(ctx, kind, &own.name).await? {
                Some(id) => Ok((checked_own(ctx, kind, own, id).await?, false)),
                None => Err(ServiceError::from_sdk("organizations:CreatePolicy", err)),
            }
        }
        Err(err) => Err(ServiceError::from_sdk("organizations:CreatePolicy", err)),
    }
}

async fn checked_own(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    own: &OwnPolicy,
    id: String,
) -> Result<String, ServiceError> {
    let content = policy_content(ctx, &id).await?;
    if same_document(&content, &own.content) {
        Ok(id)
    } else {
        Err(ServiceError::local(
            "organizations:CreatePolicy",
            format!(
                "a {} named `{}` ({id}) exists with other content than this plan writes: it is not hikkonuki's, and hikkonuki never adopts it; rename or delete it, then plan again",
                kind.short, own.name
            ),
        ))
    }
}

/// Creates hikkonuki's policy if needed and attaches it to the cut's account.
pub async fn attach_to_account(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    cut: &TypedCut<AccountPolicies>,
) -> Result<AccountUndo, ServiceError> {
    let own = OwnPolicy {
        name: cut.before.policy_name.clone(),
        content: cut.before.policy_content.clone(),
    };
    let (id, created) = own_policy_id(ctx, kind, &own).await?;
    let attached = ctx
        .organizations()
        .attach_policy()
        .policy_id(&id)
        .target_id(&cut.before.account_id)
        .send()
        .await;
    match attached {
        Ok(_) => {}
        // Attached already (an earlier, interrupted run): the cut's effect is in place.
        Err(err) if err.code() == Some("DuplicatePolicyAttachmentException") => {}
        Err(err) => {
            let failure = attach_error(kind, &cut.before.account_id, err);
            // Leave no policy behind that nothing uses: the cut did not happen.
            if created {
                let _ = delete_if_unused(ctx, &id).await;
            }
            return Err(failure);
        }
    }
    Ok(account_undo(cut))
}

/// AttachPolicy's documented refusals, said so the operator knows what blocks the cut
/// (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_AttachPolicy.html>): a
/// ConstraintViolationException names its limit in `Reason` (`POLICY_NUMBER_LIMIT_EXCEEDED`,
/// `MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED`, …).
fn attach_error<R: std::fmt::Debug + 'static>(
    kind: &PolicyKind,
    account_id: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<AttachPolicyError, R>,
) -> ServiceError {
    let limit = match err.as_service_error() {
        Some(AttachPolicyError::ConstraintViolationException(violation)) => Some(
            violation
                .reason()
                .map(|r| r.as_str().to_string())
                .unwrap_or_else(|| "no reason given".into()),
        ),
        _ => None,
    };
    let mut failure = ServiceError::from_sdk("organizations:AttachPolicy", err);
    if let Some(reason) = limit {
        failure.message = format!(
            "{} (reason {reason}: account {account_id} holds the most {}s it can take, or the organization's limit is reached: {LIMITS_PAGE})",
            failure.message, kind.short
        );
    } else if failure.code.as_deref() == Some("PolicyTypeNotEnabledException") {
        failure.message = format!(
            "{} ({}s are not enabled on the organization's root: enable the policy type first)",
            failure.message, kind.short
        );
    }
    failure
}

/// Deletes a policy once nothing is attached to it. Returns the targets still attached, if any.
async fn delete_if_unused(ctx: &RegionCtx, policy_id: &str) -> Result<Vec<String>, ServiceError> {
    let targets = ctx
        .organizations()
        .list_targets_for_policy()
        .policy_id(policy_id)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map(|pages| {
            pages
                .iter()
                .flat_map(|page| page.targets().to_vec())
                .collect::<Vec<_>>()
        })
        .map_err(|err| ServiceError::from_sdk("organizations:ListTargetsForPolicy", err))?;
    let remaining: Vec<String> = targets
        .iter()
        .filter_map(|t| t.target_id().map(str::to_string))
        .collect();
    if !remaining.is_empty() {
        return Ok(remaining);
    }
    match ctx
        .organizations()
        .delete_policy()
        .policy_id(policy_id)
        .send()
        .await
    {
        Ok(_) => Ok(Vec::new()),
        Err(err) if err.code() == Some("PolicyNotFoundException") => Ok(Vec::new()),
        Err(err) => Err(ServiceError::from_sdk("organizations:DeletePolicy", err)),
    }
}

/// Takes hikkonuki's policy off the account, and deletes it once no target remains and its content is
/// still what hikkonuki wrote. Safe after a crash anywhere in apply or in an earlier undo: a policy never
/// attached is simply not detached, one already deleted is gone.
pub async fn detach_from_account(
    ctx: &RegionCtx,
    kind: &PolicyKind,
    undo: &AccountUndo,
) -> Result<UndoOutcome, ServiceError> {
    let account = &undo.account_id;
    let name = &undo.policy_name;
    let Some(id) = find_policy(ctx, kind, name).await? else {
        return Ok(UndoOutcome {
            notes: vec![format!(
                "the {} `{name}` no longer exists: nothing attached to account {account}",
                kind.short
            )],
        });
    };
    let live = policy_content(ctx, &id).await?;
    if !same_document(&live, &undo.policy_content) {
        return Ok(UndoOutcome {
            notes: vec![format!(
                "conflict: the {} `{name}` ({id}) was edited after the cut; left attached to account {account} and not deleted (its content is no longer what hikkonuki wrote: detach and delete it yourself if it should go)",
                kind.short
            )],
        });
    }
    let mut notes = Vec::new();
    match ctx
        .organizations()
        .detach_policy()
        .policy_id(&id)
        .target_id(account)
        .send()
        .await
    {
        Ok(_) => notes.push(format!(
            "the {} `{name}` ({id}) detached from account {account}",
            kind.short
        )),
        // Documented when the policy is not attached to the target: already as before the cut.
        Err(err) if err.code() == Some("PolicyNotAttachedException") => notes.push(format!(
            "the {} `{name}` was not attached to account {account}",
            kind.short
        )),
        Err(err)
            if matches!(
                err.code(),
                Some("AccountNotFoundException" | "TargetNotFoundException")
            ) =>
        {
            notes.push(format!(
                "account {account} is no longer in the organization: nothing to detach"
            ))
        }
        Err(err) => return Err(ServiceError::from_sdk("organizations:DetachPolicy", err)),
    }
    let remaining = delete_if_unused(ctx, &id).await?;
    if remaining.is_empty() {
        notes.push(format!("the {} `{name}` ({id}) deleted", kind.short));
    } else {
        notes.push(format!(
            "the {} `{name}` ({id}) kept: still attached to {} (other cuts of this plan are restored in turn; anything still attached once they are was attached after the cut and is left as it is)",
            kind.short,
            remaining.join(", ")
        ));
    }
    Ok(UndoOutcome { notes })
}

/// How long an account cut waits for its policy type to be enabled on the root (the type's enable cut
/// runs at the same time, and `EnablePolicyType` completes in the background: the root lists the type as
/// `PENDING_ENABLE` first, <https://docs.aws.amazon.com/organizations/latest/APIReference/API_PolicyTypeSummary.html>).
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub every: Duration,
    pub limit: Duration,
}

pub const TYPE_WAIT: Wait = Wait {
    every: Duration::from_millis(500),
    limit: Duration::from_secs(120),
};

/// Waits until the root lists `policy_type` as `ENABLED`; the error says what was seen.
pub async fn wait_for_type(
    ctx: &RegionCtx,
    policy_type: &str,
    wait: Wait,
) -> Result<(), ServiceError> {
    let started = std::time::Instant::now();
    loop {
        let status = root_type_status(ctx, None, policy_type).await?;
        if status == ENABLED {
            return Ok(());
        }
        if started.elapsed() >= wait.limit {
            return Err(ServiceError::local(
                "organizations:AttachPolicy",
                format!(
                    "the organization's root lists {policy_type} as `{status}` after {} s: the policy cannot be attached until the type is enabled (the plan's cut for the root `r-…` enables it; apply it too)",
                    wait.limit.as_secs()
                ),
            ));
        }
        tokio::time::sleep(wait.every).await;
    }
}

#[cfg(test)]
mod tests;
