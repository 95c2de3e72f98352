//! `iam_trust_deny`: a role whose trust policy lets in someone outside the account (another account, `*`,
//! a federated identity provider such as GitHub Actions' OIDC issuer or a SAML provider) can be assumed
//! again by that outsider after every session revocation. The cut adds Deny statements to the trust
//! policy for exactly those outsiders, on the STS actions that hand out a session
//! (`sts:AssumeRole`, `sts:AssumeRoleWithWebIdentity`, `sts:AssumeRoleWithSAML`) and the two that ride
//! along with them (`sts:TagSession`, `sts:SetSourceIdentity`). An explicit Deny wins over every Allow,
//! so nothing that was there needs to be removed, and service principals and this account's own
//! principals keep working:
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>.
//!
//! Who is outside is read by [`crate::services::common::policy_principals`] (with the account's
//! organization as inside). The deny is written in up to three statements, each with a fixed Sid:
//! - [`SID_NAMED`]: the outside principals as the policy names them (`AWS` ARNs or account IDs,
//!   `Federated` providers), without conditions;
//! - [`SID_OUTSIDE`]: for grants to `*` or through `NotPrincipal`, everyone whose `aws:PrincipalAccount` is
//!   not this account, except AWS services. With `StringNotEquals`, a key missing from the request makes
//!   the condition true, so web-identity and SAML callers (whose unsigned requests carry no principal
//!   account) are denied; `aws:PrincipalIsAWSService` is tested with `BoolIfExists`, so a request without
//!   it is denied too and only a service principal (`true`) escapes:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>
//!   ("If the key … is not present … and the policy condition requires that the key is not matched, such
//!   as StringNotLike or ArnNotLike, … the condition is true"; "…IfExists");
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>;
//! - [`SID_SERVICES`]: for a service principal granted on behalf of another account (`aws:SourceAccount`
//!   naming it), that service when `aws:SourceAccount` is present and not this account.
//!
//! Never cut: the role hikkonuki runs as, and the same-account roles its session may have come through
//! (those named in the caller role's trust policy, followed transitively): the responder may need to come
//! back through them. Roles AWS protects (service-linked, IAM Identity Center's) answer
//! `UnmodifiableEntity` and are left out. Each of these that trusts outsiders is a High finding
//! ([`findings`]), as is a role without room for the deny under the trust-policy size quota (2,048
//! characters by default, whitespace not counted; the account's value is `AssumeRolePolicySizeQuota` in
//! GetAccountSummary): <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>. Such
//! a role is still proposed, disabled, with the reason.
//!
//! Undo writes back the trust policy from before the cut, only while the live one is still (as JSON, in
//! statement order) the one apply wrote; anything else is a conflict, reported and left alone. The cut is
//! one call (UpdateAssumeRolePolicy), so the undo record is known from the plan alone and a crash between
//! the call and its journal entry leaves restore all it needs.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_iam::types::{Role, SummaryKeyType};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::aws::{CallerIdentity, RegionCtx};
use crate::plan::Cut;
use crate::services::common::organization;
use crate::services::common::policy_principals::{Home, PolicyReading, read_policy};
use crate::services::identity::policy_room::policy_size;
use crate::services::identity::{
    CallerPrincipal, ProtectedRole, decode_policy_document, is_no_such_entity, listing,
    same_account_role,
};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub mod findings;

#[cfg(test)]
mod tests;

pub use findings::TrustFindings;

pub struct TrustDeny;

pub const KIND: &str = "iam_trust_deny";

static INFO: KindInfo = KindInfo {
    name: KIND,
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::Identity,
};

/// The statement denying the outside principals the policy names.
pub const SID_NAMED: &str = "HikkonukiTrustDeny";
/// The statement denying everyone outside the account (for grants to `*` and `NotPrincipal`).
pub const SID_OUTSIDE: &str = "HikkonukiTrustDenyOutsideAccount";
/// The statement denying services acting for other accounts.
pub const SID_SERVICES: &str = "HikkonukiTrustDenyServicesForOtherAccounts";
const OWN_SIDS: [&str; 3] = [SID_NAMED, SID_OUTSIDE, SID_SERVICES];

/// What the deny covers: the calls that hand out a role session, and the two that ride along with
/// AssumeRole (session tags, source identity), so a trust policy that allowed them to outsiders does
/// not leave them working alone.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html>
pub const DENIED_ACTIONS: [&str; 5] = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
    "sts:TagSession",
    "sts:SetSourceIdentity",
];

/// IAM's default maximum size of a role trust policy, in characters, whitespace not counted.
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>
pub const DEFAULT_TRUST_POLICY_QUOTA: usize = 2_048;

/// A role's trust policy, as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustState {
    /// The role's name.
    pub role: String,
    /// The trust policy as IAM returned it (URL-decoded), key and statement order kept.
    pub trust_policy: Value,
}

/// What restore needs: the trust policy to write back, and the one apply wrote, so a policy changed
/// since is recognised and left alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustUndo {
    pub role: String,
    pub before: Value,
    pub after: Value,
}

/// `role/NAME`, the cut's target.
pub fn target(role: &str) -> String {
    format!("role/{role}")
}

fn role_of_target(target: &str) -> Option<&str> {
    target.strip_prefix("role/").filter(|name| !name.is_empty())
}

/// The deny statements for what a reading found outside, for the account `account_id`.
pub fn deny_statements(reading: &PolicyReading, account_id: &str) -> Vec<Value> {
    let mut aws = BTreeSet::new();
    let mut federated = BTreeSet::new();
    let mut services = BTreeSet::new();
    let mut anyone = false;
    for grant in &reading.outside {
        let principal = &grant.principal;
        match principal.key.as_str() {
            "AWS" if principal.value != "*" => {
                aws.insert(principal.value.clone());
            }
            "Federated" => {
                federated.insert(principal.value.clone());
            }
            "Service" => {
                services.insert(principal.value.clone());
            }
            // `*`, `{"AWS": "*"}`, `NotPrincipal`, and any principal type the reading may learn later:
            // denied with everyone outside the account, which fails closed.
            _ => anyone = true,
        }
    }
    let actions: Vec<&str> = DENIED_ACTIONS.to_vec();
    let mut statements = Vec::new();
    let mut named = serde_json::Map::new();
    // Everyone outside the account is denied below when `*` is granted, which covers other accounts'
    // principals by `aws:PrincipalAccount`; federated providers stay named either way.
    if !anyone && !aws.is_empty() {
        named.insert("AWS".into(), json!(aws));
    }
    if !federated.is_empty() {
        named.insert("Federated".into(), json!(federated));
    }
    if !named.is_empty() {
        statements.push(json!({
            "Sid": SID_NAMED,
            "Effect": "Deny",
            "Principal": named,
            "Action": actions,
        }));
    }
    if anyone {
        statements.push(json!({
            "Sid": SID_OUTSIDE,
            "Effect": "Deny",
            "Principal": "*",
            "Action": actions,
            "Condition": {
                "StringNotEquals": {"aws:PrincipalAccount": account_id},
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
            },
        }));
    }
    if !services.is_empty() {
        statements.push(json!({
            "Sid": SID_SERVICES,
            "Effect": "Deny",
            "Principal": {"Service": services},
            "Action": actions,
            "Condition": {
                "StringNotEquals": {"aws:SourceAccount": account_id},
                "Null": {"aws:SourceAccount": "false"},
            },
        }));
    }
    statements
}

/// The policy's statements as a list, whether it holds a list or a single statement object.
fn statements_of(policy: &Value) -> Vec<Value> {
    crate::services::common::policy_principals::statements(policy)
        .into_iter()
        .cloned()
        .collect()
}

/// The trust policy with the deny statements appended, everything else as it was.
pub fn with_denies(policy: &Value, denies: &[Value]) -> Value {
    let mut after = policy.clone();
    let mut statements = statements_of(policy);
    statements.extend(denies.iter().cloned());
    if let Some(object) = after.as_object_mut() {
        object.insert("Statement".into(), Value::Array(statements));
    }
    after
}

/// Whether a statement is one this kind writes: a Deny with one of its Sids.
fn is_own_statement(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Deny")
        && statement
            .get("Sid")
            .and_then(Value::as_str)
            .is_some_and(|sid| OWN_SIDS.contains(&sid))
}

/// The Sids of this kind already in a policy (an earlier apply not restored).
fn own_sids_in(policy: &Value) -> Vec<String> {
    statements_of(policy)
        .iter()
        .filter_map(|s| s.get("Sid").and_then(Value::as_str))
        .filter(|sid| OWN_SIDS.contains(sid))
        .map(str::to_string)
        .collect()
}

/// The text UpdateAssumeRolePolicy is given: the document compact, key order kept.
fn policy_text(policy: &Value) -> Result<String, ServiceError> {
    serde_json::to_string(policy).map_err(|err| {
        ServiceError::local(KIND, format!("the trust policy cannot be written: {err}"))
    })
}

/// The account's trust-policy size quota: `AssumeRolePolicySizeQuota` from GetAccountSummary, or the
/// documented default when the summary lacks it.
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html>
pub fn trust_quota_from_summary(summary: Option<&HashMap<SummaryKeyType, i32>>) -> usize {
    summary
        .and_then(|map| map.get(&SummaryKeyType::AssumeRolePolicySizeQuota))
        .and_then(|&value| usize::try_from(value).ok())
        .filter(|&value| value > 0)
        .unwrap_or(DEFAULT_TRUST_POLICY_QUOTA)
}

async fn trust_quota(ctx: &RegionCtx) -> Result<usize, ServiceError> {
    let out = ctx
        .iam()
        .get_account_summary()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("iam:GetAccountSummary", err))?;
    Ok(trust_quota_from_summary(out.summary_map()))
}

/// One role as ListRoles (or GetRole) gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedRole {
    pub name: String,
    pub path: String,
    /// The decoded trust policy text; `None` when IAM returned none.
    pub trust_policy: Option<String>,
}

/// Every role with its trust policy, listed now (the drift check reads the roles as they are).
async fn list_roles(ctx: &RegionCtx) -> Result<Vec<ListedRole>, ServiceError> {
    listed_roles(ctx, &listing::every_role(ctx).await?).await
}

/// `roles` with their trust policies decoded, sorted by name.
async fn listed_roles(ctx: &RegionCtx, roles: &[Role]) -> Result<Vec<ListedRole>, ServiceError> {
    let mut listed: Vec<ListedRole> = roles
        .iter()
        .map(|role| ListedRole {
            name: role.role_name().to_string(),
            path: role.path().to_string(),
            trust_policy: role
                .assume_role_policy_document()
                .map(decode_policy_document),
        })
        .collect();
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    // ListRoles documents AssumeRolePolicyDocument for every role; a role listed without it is read on
    // its own rather than judged without its policy.
    for role in listed.iter_mut().filter(|r| r.trust_policy.is_none()) {
        role.trust_policy = live_trust_text(ctx, &role.name).await?;
    }
    // Deleted since it was listed: nothing to judge.
    listed.retain(|r| r.trust_policy.is_some());
    Ok(listed)
}

/// A role's live trust policy text, decoded; `None` when the role is gone.
async fn live_trust_text(ctx: &RegionCtx, role: &str) -> Result<Option<String>, ServiceError> {
    let out = match ctx.iam().get_role().role_name(role).send().await {
        Ok(out) => out,
        Err(err) => {
            let err = ServiceError::from_sdk("iam:GetRole", err);
            return if is_no_such_entity(&err) {
                Ok(None)
            } else {
                Err(err)
            };
        }
    };
    out.role()
        .and_then(|r| r.assume_role_policy_document())
        .map(|raw| Some(decode_policy_document(raw)))
        .ok_or_else(|| {
            ServiceError::local(
                "iam:GetRole",
                format!("role {role} came back without a trust policy"),
            )
        })
}

/// A role's live trust policy; `None` when the role is gone.
async fn live_trust_policy(ctx: &RegionCtx, role: &str) -> Result<Option<Value>, ServiceError> {
    let Some(text) = live_trust_text(ctx, role).await? else {
        return Ok(None);
    };
    serde_json::from_str(&text).map(Some).map_err(|err| {
        ServiceError::local(
            "iam:GetRole",
            format!("role {role}'s trust policy is not JSON ({err})"),
        )
    })
}

/// The same-account roles a trust policy's Allow statements name.
fn roles_named_in(policy: &Value, account_id: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for statement in statements_of(policy) {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let Some(Value::Object(principal)) = statement.get("Principal") else {
            continue;
        };
        let values: Vec<&Value> = match principal.get("AWS") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
            None => vec![],
        };
        names.extend(
            values
                .into_iter()
                .filter_map(Value::as_str)
                .filter_map(|v| same_account_role(v, account_id)),
        );
    }
    names
}

/// The roles of `account_id` named in `own`'s trust policy, in theirs, and so on, each with its trust
/// policy, read one GetRole at a time. Bounded, as a loop of trust cannot be followed for ever.
async fn chain_of_roles(
    ctx: &RegionCtx,
    own: &str,
    account_id: &str,
) -> Result<Vec<ListedRole>, ServiceError> {
    const MOST_ROLES: usize = 100;
    let mut read: Vec<ListedRole> = Vec::new();
    let mut waiting = vec![own.to_string()];
    while let Some(name) = waiting.pop() {
        if read.len() >= MOST_ROLES || read.iter().any(|role| role.name == name) {
            continue;
        }
        // A role deleted since it was named is no way in.
        let Some(text) = live_trust_text(ctx, &name).await? else {
            continue;
        };
        if let Ok(policy) = serde_json::from_str::<Value>(&text) {
            waiting.extend(roles_named_in(&policy, account_id));
        }
        read.push(ListedRole {
            name,
            path: String::new(),
            trust_policy: Some(text),
        });
    }
    Ok(read)
}

/// Why a role is kept whatever it trusts, by role name: the caller's own role, and the roles its
/// session may have come through (named in a kept role's trust policy, transitively).
pub fn kept_roles(
    caller: &CallerPrincipal,
    roles: &[ListedRole],
    account_id: &str,
) -> Vec<(String, String)> {
    let Some(own) = &caller.role else {
        return vec![];
    };
    let policies: HashMap<&str, Value> = roles
        .iter()
        .filter_map(|role| {
            let text = role.trust_policy.as_deref()?;
            Some((role.name.as_str(), serde_json::from_str(text).ok()?))
        })
        .collect();
    let mut kept = vec![(
        own.clone(),
        "hikkonuki runs as this role: denying its trust could lock the responder out of it. Where it is the role member accounts are entered through, an organization quarantine (org_quarantine) lets it through by name, so whoever it trusts passes the quarantine too"
            .to_string(),
    )];
    let mut seen: HashSet<String> = HashSet::from([own.clone()]);
    // The roles the responder's profile assumes on its way here (`source_profile` chain): each is
    // assumed again when the session is renewed, whatever its trust policy names.
    for role in &caller.chain_roles {
        if seen.insert(role.clone()) {
            kept.push((
                role.clone(),
                "the profile hikkonuki runs with assumes this role on its way to the caller's (source_profile chain): denying its trust would lock the responder out when the session is renewed".to_string(),
            ));
        }
    }
    let mut index = 0;
    while index < kept.len() {
        let from = kept[index].0.clone();
        if let Some(policy) = policies.get(from.as_str()) {
            for name in roles_named_in(policy, account_id) {
                if seen.insert(name.clone()) {
                    kept.push((
                        name,
                        format!(
                            "role {from}'s trust policy names it, so the session hikkonuki runs in may have come through it (role chaining)"
                        ),
                    ));
                }
            }
        }
        index += 1;
    }
    kept
}

/// What the plan does about one role that trusts someone outside the account, or whose trust policy has
/// parts that cannot be classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A cut is proposed (perhaps disabled, saying why).
    Cut(Box<Proposal<TrustState>>),
    /// Never cut: the caller's role or one its session came through.
    Kept(String),
    /// AWS protects the role; IAM refuses changes to it.
    Protected(ProtectedRole),
    /// The trust policy is not a JSON document: nothing can be written into it.
    Unreadable,
}

/// One role whose trust policy lets outsiders in or could not be classified.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleTrust {
    pub role: String,
    pub reading: PolicyReading,
    pub decision: Decision,
}

/// Every role's trust as discovery and the findings see it, read once per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub roles: Vec<RoleTrust>,
    /// The roles whose trust policy lets IAM Roles Anywhere in (`rolesanywhere.amazonaws.com`): anyone
    /// holding a certificate from one of the account's trust anchors gets their sessions from anywhere,
    /// and no trust deny here binds a service principal. Reported, never cut.
    pub roles_anywhere: Vec<String>,
}

/// The service principal IAM Roles Anywhere assumes roles as
/// (https://docs.aws.amazon.com/rolesanywhere/latest/userguide/trust-model.html).
const ROLES_ANYWHERE: &str = "rolesanywhere.amazonaws.com";

/// Whether a trust policy's Allow statements name IAM Roles Anywhere as a principal.
fn trusts_roles_anywhere(policy: &Value) -> bool {
    statements_of(policy).into_iter().any(|statement| {
        statement.get("Effect").and_then(Value::as_str) == Some("Allow")
            && match statement.get("Principal").and_then(|p| p.get("Service")) {
                Some(Value::String(service)) => service == ROLES_ANYWHERE,
                Some(Value::Array(services)) => services
                    .iter()
                    .any(|service| service.as_str() == Some(ROLES_ANYWHERE)),
                _ => false,
            }
    })
}

/// Reads every role and decides about each (shared by the kind and [`TrustFindings`] through
/// [`RegionCtx::once`], so ListRoles is walked once per plan).
pub async fn survey(ctx: &RegionCtx, scope: &DiscoveryScope) -> Result<Survey, ServiceError> {
    ctx.once("iam_trust_deny: survey", || async {
        // The run's one ListRoles walk, shared with the other kinds that read the roles.
        let roles = listed_roles(ctx, &listing::roles(ctx).await?).await?;
        let home = organization::home(ctx, &scope.caller.account).await;
        let quota = trust_quota(ctx).await?;
        let caller = CallerPrincipal::from_identity(&scope.caller);
        Ok::<Survey, ServiceError>(decide(&roles, &home, quota, &caller))
    })
    .await
}

/// The decision for every role, from what was read: pure, so the rules are tested without AWS.
pub fn decide(roles: &[ListedRole], home: &Home, quota: usize, caller: &CallerPrincipal) -> Survey {
    let kept: HashMap<String, String> = kept_roles(caller, roles, &home.account_id)
        .into_iter()
        .collect();
    let mut surveyed = Vec::new();
    let mut roles_anywhere = Vec::new();
    for role in roles {
        let Some(text) = &role.trust_policy else {
            surveyed.push(RoleTrust {
                role: role.name.clone(),
                reading: PolicyReading {
                    outside: vec![],
                    unclassified: vec!["IAM listed the role without its trust policy".into()],
                },
                decision: Decision::Unreadable,
            });
            continue;
        };
        let policy: Value = match serde_json::from_str(text) {
            Ok(policy) => policy,
            Err(err) => {
                surveyed.push(RoleTrust {
                    role: role.name.clone(),
                    reading: PolicyReading {
                        outside: vec![],
                        unclassified: vec![format!("the trust policy is not valid JSON ({err})")],
                    },
                    decision: Decision::Unreadable,
                });
                continue;
            }
        };
        if trusts_roles_anywhere(&policy) {
            roles_anywhere.push(role.name.clone());
        }
        let reading = read_policy(&policy, home);
        if !reading.opens_outside() && reading.unclassified.is_empty() {
            continue;
        }
        let decision = if let Some(protected) = ProtectedRole::of_path(&role.path) {
            Decision::Protected(protected)
        } else if let Some(why) = kept.get(&role.name) {
            Decision::Kept(why.clone())
        } else if reading.opens_outside() {
            Decision::Cut(Box::new(propose(
                &role.name, &policy, &reading, home, quota,
            )))
        } else {
            // Only unclassified parts: the finding reports them; no deny can be written for them.
            surveyed.push(RoleTrust {
                role: role.name.clone(),
                reading,
                decision: Decision::Unreadable,
            });
            continue;
        };
        surveyed.push(RoleTrust {
            role: role.name.clone(),
            reading,
            decision,
        });
    }
    Survey {
        roles: surveyed,
        roles_anywhere,
    }
}

/// The cut for one role that trusts outsiders.
pub fn propose(
    role: &str,
    policy: &Value,
    reading: &PolicyReading,
    home: &Home,
    quota: usize,
) -> Proposal<TrustState> {
    let denies = deny_statements(reading, &home.account_id);
    let after = with_denies(policy, &denies);
    let outsiders: Vec<String> = reading.outsiders().iter().map(|o| o.to_string()).collect();
    let reason = format!(
        "role {role} trusts {}: they can assume it again after any session revocation. The cut adds a Deny for exactly them on sts:AssumeRole, AssumeRoleWithWebIdentity, AssumeRoleWithSAML, TagSession and SetSourceIdentity; service principals and this account's principals keep working.",
        outsiders.join(", ")
    );
    let size = serde_json::to_string(&after)
        .map(|text| policy_size(&text))
        .unwrap_or(usize::MAX);
    let earlier = own_sids_in(policy);
    let disabled_because = if !earlier.is_empty() {
        Some(format!(
            "its trust policy already holds hikkonuki's deny ({}), most likely from an apply that was not restored: restore that rollback file first, then plan again.",
            earlier.join(", ")
        ))
    } else if size > quota {
        Some(format!(
            "with the deny its trust policy would be {size} characters (whitespace not counted), over the account's trust-policy quota of {quota} (AssumeRolePolicySizeQuota; https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). Shorten the trust policy, or raise the quota (up to 4,096) through Service Quotas and plan again; until then remove the outside principals from it by hand."
        ))
    } else {
        None
    };
    Proposal {
        target: target(role),
        reason,
        before: TrustState {
            role: role.to_string(),
            trust_policy: policy.clone(),
        },
        after: TrustState {
            role: role.to_string(),
            trust_policy: after,
        },
        disabled_because,
    }
}

/// AWS's refusals of UpdateAssumeRolePolicy, said in the incident's terms (the call changed nothing).
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html> (Errors).
fn explain(mut err: ServiceError, role: &str) -> ServiceError {
    let hint = match err.code.as_deref() {
        Some("UnmodifiableEntity") => format!(
            " Role {role} is protected by AWS (service-linked, or created by IAM Identity Center): its trust policy cannot be changed, and nothing was changed. Contain it where AWS allows: for Identity Center, in the permission set (identity_center_session_revoke) or its account assignments."
        ),
        Some("LimitExceeded") => format!(
            " The trust policy of {role} with the deny is over the account's trust-policy size quota (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html); nothing was changed. Plan again (the cut is then proposed disabled, with the sizes), shorten the trust policy, or raise the quota."
        ),
        Some("MalformedPolicyDocument") => format!(
            " IAM refused the trust policy of {role} with the deny; nothing was changed. The document sent is the plan's `after`: check it, or remove the outside principals from the trust policy by hand."
        ),
        Some("NoSuchEntity") => format!(" Role {role} no longer exists; nothing was changed."),
        _ => return err,
    };
    err.message.push_str(&hint);
    err
}

async fn update(ctx: &RegionCtx, role: &str, policy: &Value) -> Result<(), ServiceError> {
    ctx.iam()
        .update_assume_role_policy()
        .role_name(role)
        .policy_document(policy_text(policy)?)
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            explain(
                ServiceError::from_sdk("iam:UpdateAssumeRolePolicy", err),
                role,
            )
        })
}

fn undo_record(cut: &TypedCut<TrustState>) -> TrustUndo {
    TrustUndo {
        role: cut.before.role.clone(),
        before: cut.before.trust_policy.clone(),
        after: cut.after.trust_policy.clone(),
    }
}

/// The role gone after the cut: nothing can be written back; the prior document is given for a
/// re-creation.
fn role_gone(undo: &TrustUndo) -> ServiceError {
    ServiceError::local(
        "iam:GetRole",
        format!(
            "role {} no longer exists (deleted after the cut); its trust policy cannot be given back. If it is re-created, its trust policy before the cut was: {}",
            undo.role,
            serde_json::to_string(&undo.before).unwrap_or_default()
        ),
    )
}

#[async_trait]
impl CutKind for TrustDeny {
    type State = TrustState;
    type Undo = TrustUndo;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// The cut only appends this kind's Deny statements: everything in `before` stays in `after`, in
    /// order, so applying a plan never removes or weakens a grant (a Deny lets no one in).
    fn check_states(&self, cut: &TypedCut<TrustState>) -> Result<(), String> {
        let role = role_of_target(&cut.target)
            .ok_or_else(|| format!("target `{}` must be role/NAME", cut.target))?;
        if cut.before.role != role || cut.after.role != role {
            return Err(format!("`role` must be the target's role `{role}`"));
        }
        let (before, after) = (&cut.before.trust_policy, &cut.after.trust_policy);
        let (Some(before_object), Some(after_object)) = (before.as_object(), after.as_object())
        else {
            return Err("`trust_policy` must be a JSON object in `before` and `after`".into());
        };
        for (key, value) in before_object {
            if key != "Statement" && after_object.get(key) != Some(value) {
                return Err(format!("`after.trust_policy.{key}` must be as in `before`"));
            }
        }
        if after_object.len()
            != before_object.len() + usize::from(!before_object.contains_key("Statement"))
        {
            return Err("`after.trust_policy` must hold exactly `before`'s fields".into());
        }
        let kept = statements_of(before);
        let Some(Value::Array(statements)) = after.get("Statement") else {
            return Err("`after.trust_policy.Statement` must be a list".into());
        };
        if statements.len() <= kept.len() || statements[..kept.len()] != kept[..] {
            return Err(
                "`after.trust_policy` must hold `before`'s statements, in order, then hikkonuki's denies".into(),
            );
        }
        let expected_actions = json!(DENIED_ACTIONS);
        for added in &statements[kept.len()..] {
            if !is_own_statement(added) || added.get("Action") != Some(&expected_actions) {
                return Err(format!(
                    "`after.trust_policy` may only add Deny statements with Sid {} on {}: found {added}",
                    OWN_SIDS.join(" / "),
                    DENIED_ACTIONS.join(", ")
                ));
            }
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<TrustState>>, ServiceError> {
        Ok(survey(ctx, scope)
            .await?
            .roles
            .into_iter()
            .filter_map(|role| match role.decision {
                Decision::Cut(proposal) => Some(*proposal),
                _ => None,
            })
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TrustState>,
    ) -> Result<Option<TrustState>, ServiceError> {
        Ok(live_trust_policy(ctx, &cut.before.role)
            .await?
            .map(|trust_policy| TrustState {
                role: cut.before.role.clone(),
                trust_policy,
            }))
    }

    /// One ListRoles walk for all the cuts, instead of a GetRole each.
    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[TypedCut<TrustState>],
    ) -> Vec<Result<Option<TrustState>, ServiceError>> {
        let roles = match list_roles(ctx).await {
            Ok(roles) => roles,
            Err(err) => return cuts.iter().map(|_| Err(err.clone())).collect(),
        };
        let by_name: HashMap<&str, &ListedRole> =
            roles.iter().map(|r| (r.name.as_str(), r)).collect();
        let mut states = Vec::with_capacity(cuts.len());
        for cut in cuts {
            let role = &cut.before.role;
            states.push(match by_name.get(role.as_str()) {
                None => Ok(None),
                Some(ListedRole {
                    trust_policy: Some(text),
                    ..
                }) => serde_json::from_str(text)
                    .map(|trust_policy| {
                        Some(TrustState {
                            role: role.clone(),
                            trust_policy,
                        })
                    })
                    .map_err(|err| {
                        ServiceError::local(
                            "iam:ListRoles",
                            format!("role {role}'s trust policy is not JSON ({err})"),
                        )
                    }),
                // Listed without its document: ask for the role itself.
                Some(_) => self.observe(ctx, cut).await,
            });
        }
        states
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<TrustState>,
    ) -> Result<TrustUndo, ServiceError> {
        update(ctx, &cut.after.role, &cut.after.trust_policy).await?;
        Ok(undo_record(cut))
    }

    /// Everything restore needs is in the plan: a crash between UpdateAssumeRolePolicy and its journal
    /// entry leaves the same record, and undo tells "cut" from "not cut" by the live document.
    fn undo_record_for(&self, cut: &TypedCut<TrustState>) -> Result<TrustUndo, ServiceError> {
        Ok(undo_record(cut))
    }

    fn cuts_off(&self, cut: &TypedCut<TrustState>, caller: &CallerIdentity) -> bool {
        CallerPrincipal::from_identity(caller).is_role(&cut.before.role)
    }

    /// The roles an applier's session may have come through are named in its role's trust policy, read
    /// live: the plan holds only roles that open to outsiders, and discovery kept the planner's chain,
    /// not the applier's. Denying such a role's trust would leave the responder no way back into it
    /// once the session expires. The chain is followed role by role from the applier's (GetRole each, a
    /// call or three where a ListRoles walk would be one per hundred roles before the first cut), and
    /// judged by discovery's rule ([`kept_roles`]).
    async fn cuts_off_live(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
        caller: &CallerIdentity,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let principal = CallerPrincipal::from_identity(caller);
        let Some(own) = principal.role.clone().filter(|_| !cuts.is_empty()) else {
            return Ok(Vec::new());
        };
        let roles = chain_of_roles(ctx, &own, &caller.account).await?;
        let kept: HashMap<String, String> = kept_roles(&principal, &roles, &caller.account)
            .into_iter()
            .collect();
        // A cut that does not decode never runs (the plan is refused).
        Ok(cuts
            .iter()
            .filter_map(|cut| {
                let typed = TypedCut::<TrustState>::decode(cut).ok()?;
                let why = kept.get(&typed.before.role)?;
                Some((cut.id.clone(), format!("role {}: {why}", typed.before.role)))
            })
            .collect())
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &TrustUndo) -> Result<UndoOutcome, ServiceError> {
        let role = &undo.role;
        let note = |text: String| Ok(UndoOutcome { notes: vec![text] });
        let Some(live) = live_trust_policy(ctx, role).await? else {
            return Err(role_gone(undo));
        };
        if live == undo.before {
            return note(format!(
                "trust policy of role {role} is already as it was before the cut"
            ));
        }
        if live != undo.after {
            return note(format!(
                "conflict: trust policy of role {role} was changed after apply; left alone (its trust policy before the cut was {})",
                serde_json::to_string(&undo.before).unwrap_or_default()
            ));
        }
        match update(ctx, role, &undo.before).await {
            Ok(()) => note(format!(
                "trust policy of role {role} given back as it was before the cut"
            )),
            Err(err) if is_no_such_entity(&err) => Err(role_gone(undo)),
            Err(err) => Err(err),
        }
    }
}
