//! `org_quarantine`: a service control policy `hikkonuki-quarantine` that denies every action to every
//! principal of an account except the responder's ways in, attached to each account named with
//! `--quarantine ACCOUNT`, from the organization's management account. One call closes a whole account,
//! whatever its IAM policies say.
//!
//! Let through (`ArnNotLike aws:PrincipalArn`): the role hikkonuki enters member accounts through
//! (`plan --role`, by default `OrganizationAccountAccessRole`) in every account, the `--keep-principal`
//! ARNs (break-glass roles), and the plan's caller when it is an IAM role or user.
//!
//! What it cannot do, as AWS documents (<https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html>):
//! SCPs never apply to the management account (the plan refuses to quarantine it and says why), nor to
//! service-linked roles; they limit principals of the account, not outsiders reaching its resources
//! (`org_resource_perimeter` does that for the services RCPs cover).
//!
//! Undo detaches the policy from the account and deletes it once no account holds it (see
//! [`super`]).

use async_trait::async_trait;
use serde_json::json;

use super::{AccountPolicies, AccountUndo, OwnPolicy, PolicyKind};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, PlanOption, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct OrgQuarantine;

static INFO: KindInfo = KindInfo {
    name: "org_quarantine",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Organization,
    global: true,
    footprint: Footprint::Organization,
};

pub const POLICY: PolicyKind = PolicyKind {
    policy_type: "SERVICE_CONTROL_POLICY",
    policy_name: "hikkonuki-quarantine",
    description: "hikkonuki quarantine: denies every action but the responder's; removed by hikkonuki restore",
    short: "SCP",
    management_page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html",
    // FullAWSAccess can be detached (and replaced by an allow list): it is an ordinary entry.
    always_attached: None,
};

/// `--quarantine ACCOUNT` (repeatable).
pub const QUARANTINE: PlanOption = PlanOption {
    flag: "quarantine",
    value_name: Some("ACCOUNT"),
    help: "Quarantine this member account with a service control policy denying everything but the responder's role (org_quarantine; plan from the management account); repeatable",
    check: check_quarantine,
    repeatable: true,
};

/// `--keep-principal ARN` (repeatable).
pub const KEEP_PRINCIPAL: PlanOption = PlanOption {
    flag: "keep-principal",
    value_name: Some("ARN"),
    help: "An IAM role or user ARN the quarantine lets through (a break-glass role; `*` may stand for the account); repeatable",
    check: check_principals,
    repeatable: true,
};

static OPTIONS: [PlanOption; 2] = [QUARANTINE, KEEP_PRINCIPAL];

fn check_quarantine(joined: &str) -> Result<(), String> {
    super::check_account_ids("quarantine", joined)
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME` or `…:user/NAME`, ACCOUNT 12 digits or `*`.
fn is_iam_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let account_ok = account == "*" || crate::plan::is_account_id(account);
    let name_ok = resource
        .strip_prefix("role/")
        .or_else(|| resource.strip_prefix("user/"))
        .is_some_and(|name| {
            !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '"')
        });
    prefix == "arn"
        && partition.starts_with("aws")
        && service == "iam"
        && region.is_empty()
        && account_ok
        && name_ok
}

fn check_principals(joined: &str) -> Result<(), String> {
    for arn in joined.split(PlanOption::SEPARATOR) {
        if !is_iam_principal_arn(arn) {
            return Err(format!(
                "--keep-principal `{arn}` is not an IAM role or user ARN\n  fix: give one ARN per flag, e.g. --keep-principal arn:aws:iam::111122223333:role/BreakGlass (repeat the flag for more)"
            ));
        }
    }
    Ok(())
}

/// The caller's ARN as `aws:PrincipalArn` sees it: an IAM user or role ARN as is; an assumed-role session
/// (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`) becomes its role, whose path the session ARN does
/// not carry, hence the second, path-wildcard form. Anything else (the root user, a federated user)
/// matches no IAM role or user: nothing.
pub fn caller_principals(caller_arn: &str) -> Vec<String> {
    if is_iam_principal_arn(caller_arn) {
        return vec![caller_arn.to_string()];
    }
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    if let ["arn", partition, "sts", "", account, resource] = parts[..]
        && let Some((role, _session)) = resource
            .strip_prefix("assumed-role/")
            .and_then(|rest| rest.split_once('/'))
        && !role.is_empty()
    {
        return vec![
            format!("arn:{partition}:iam::{account}:role/{role}"),
            format!("arn:{partition}:iam::{account}:role/*/{role}"),
        ];
    }
    Vec::new()
}

/// Whether the quarantine `document` attached to `account` denies the principal whose session has
/// `caller_arn`. Only principals of that account are bound. The document lets through the principals
/// matching its `ArnNotLike aws:PrincipalArn` patterns (`*` any run of characters, `?` one:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>).
/// An assumed role's session ARN does not say its role's path, and `aws:PrincipalArn` carries it, so
/// such a principal counts as let through only when the patterns let its role through with a path and
/// without one. A document that does not read as ours denies.
fn denies(document: &str, account: &str, caller_arn: &str) -> bool {
    if caller_arn.split(':').nth(4) != Some(account) {
        return false;
    }
    let Some(kept) = kept_in(document) else {
        return true;
    };
    let candidates: Vec<String> = if is_iam_principal_arn(caller_arn) {
        vec![caller_arn.to_string()]
    } else {
        match caller_principals(caller_arn).first() {
            Some(role_arn) => {
                let (prefix, name) = role_arn.rsplit_once('/').unwrap_or((role_arn, ""));
                vec![role_arn.clone(), format!("{prefix}/any-path/{name}")]
            }
            // The root user, a federated user: never let through.
            None => return true,
        }
    };
    !candidates.iter().all(|arn| {
        kept.iter()
            .any(|pattern| crate::services::common::policy_principals::arn_like(pattern, arn))
    })
}

/// The patterns the quarantine document lets through.
fn kept_in(document: &str) -> Option<Vec<String>> {
    let document: serde_json::Value = serde_json::from_str(document).ok()?;
    let patterns = document
        .get("Statement")?
        .get(0)?
        .get("Condition")?
        .get("ArnNotLike")?
        .get("aws:PrincipalArn")?;
    match patterns {
        serde_json::Value::String(one) => Some(vec![one.clone()]),
        serde_json::Value::Array(many) => many
            .iter()
            .map(|p| p.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// The principals the quarantine lets through, in order, each once.
pub fn kept_principals(scope: &DiscoveryScope) -> Vec<String> {
    // The member role in the caller's partition (`aws`, `aws-cn`, `aws-us-gov`): the organization's
    // accounts are all in the management account's partition.
    let partition = scope
        .caller
        .arn
        .split(':')
        .nth(1)
        .filter(|p| p.starts_with("aws"))
        .unwrap_or("aws");
    let mut kept = vec![format!("arn:{partition}:iam::*:role/{}", scope.member_role)];
    kept.extend(
        scope
            .option_values("keep-principal")
            .into_iter()
            .map(str::to_string),
    );
    kept.extend(caller_principals(&scope.caller.arn));
    let mut seen = std::collections::BTreeSet::new();
    kept.retain(|p| seen.insert(p.clone()));
    kept
}

/// The SCP document, minified (AWS counts every character of the document as submitted).
pub fn document(kept: &[String]) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "HikkonukiQuarantine",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": kept}}
        }]
    })
    .to_string()
}

fn reason(account: &str, kept: &[String]) -> String {
    format!(
        "Quarantines account {account}: the service control policy `{}` denies every action to every principal of the account except {} (SCPs do not bind service-linked roles). Restore detaches it, and deletes it once no account holds it.",
        POLICY.policy_name,
        kept.join(", ")
    )
}

/// The proposals for the named accounts, given the organization as read (or why it cannot be used).
pub async fn propose(
    ctx: &RegionCtx,
    scope: &DiscoveryScope,
    accounts: &[String],
) -> Result<Vec<Proposal<AccountPolicies>>, ServiceError> {
    let kept = kept_principals(scope);
    let own = OwnPolicy {
        name: POLICY.policy_name.into(),
        content: document(&kept),
    };
    let blank = |account: &str| super::account_state(account, Vec::new(), &own);
    let proposal = |before: AccountPolicies, disabled_because: Option<String>| {
        let after = AccountPolicies {
            own_attached: true,
            ..before.clone()
        };
        Proposal {
            target: before.account_id.clone(),
            reason: reason(&before.account_id, &kept),
            before,
            after,
            disabled_because,
        }
    };
    let org = match super::read_organization(ctx, &scope.caller.account).await? {
        Ok(org) => org,
        Err(why) => {
            return Ok(accounts
                .iter()
                .map(|a| proposal(blank(a), Some(why.clone())))
                .collect());
        }
    };
    let mut whole = super::organization_blocked(ctx, &POLICY, &org).await?;
    let status = org.type_status(POLICY.policy_type);
    if whole.is_none() && status != super::ENABLED {
        // AttachPolicy answers PolicyTypeNotEnabledException while the root does not list the type as
        // enabled (https://docs.aws.amazon.com/organizations/latest/APIReference/API_AttachPolicy.html).
        // Enabling SCPs attaches FullAWSAccess everywhere and changes the whole organization: left to the
        // operator, not done as a side effect of a quarantine.
        whole = Some(format!(
            "service control policies are `{status}` on the organization's root {}: enable them first (organizations enable-policy-type --root-id {} --policy-type SERVICE_CONTROL_POLICY), then plan again",
            org.root_id, org.root_id
        ));
    }
    let mut proposals = Vec::new();
    for account in accounts {
        let before =
            super::account_before(ctx, &POLICY, &org, account, &own, whole.is_some()).await?;
        // What is wrong with the account itself first (the management account, one outside the
        // organization): fixing the organization and planning again would not help those.
        let blocked = super::account_blocked(&POLICY, &org, account, &before.attached, &own)
            .or_else(|| whole.clone());
        proposals.push(proposal(before, blocked));
    }
    Ok(proposals)
}

#[async_trait]
impl CutKind for OrgQuarantine {
    type State = AccountPolicies;
    type Undo = AccountUndo;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn plan_options(&self) -> &'static [PlanOption] {
        &OPTIONS
    }

    fn check_states(&self, cut: &TypedCut<AccountPolicies>) -> Result<(), String> {
        super::check_account_states(&POLICY, &cut.target, &cut.before, &cut.after)
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<AccountPolicies>>, ServiceError> {
        let accounts = super::named_accounts(scope, QUARANTINE.flag);
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        propose(ctx, scope, &accounts).await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<AccountPolicies>,
    ) -> Result<Option<AccountPolicies>, ServiceError> {
        super::observe_account(ctx, &POLICY, &cut.before).await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<AccountPolicies>,
    ) -> Result<AccountUndo, ServiceError> {
        super::attach_to_account(ctx, &POLICY, cut).await
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<AccountPolicies>,
    ) -> Result<AccountUndo, ServiceError> {
        Ok(super::account_undo(cut))
    }

    /// Whether the quarantine would deny whoever applies: the caller in the management account never
    /// (SCPs do not bind it), but the operator who entered it from a member account may work from the
    /// very account quarantined ([`crate::aws::CallerIdentity::entered_by`]): not kept, they would lose
    /// every call there, the AssumeRole into the other accounts included, and restore with it. The
    /// planner is kept by the document; another applier is kept only when the document lets them through.
    fn cuts_off(
        &self,
        cut: &TypedCut<AccountPolicies>,
        caller: &crate::aws::CallerIdentity,
    ) -> bool {
        [Some(caller.arn.as_str()), caller.entered_by.as_deref()]
            .into_iter()
            .flatten()
            .any(|arn| denies(&cut.after.policy_content, &cut.after.account_id, arn))
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &AccountUndo) -> Result<UndoOutcome, ServiceError> {
        super::detach_from_account(ctx, &POLICY, undo).await
    }
}
