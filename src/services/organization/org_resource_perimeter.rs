//! `org_resource_perimeter`: a resource control policy `hikkonuki-resource-perimeter` that denies
//! principals outside the organization on the services RCPs cover, attached to each account named with
//! `--resource-perimeter ACCOUNT`, from the organization's management account. Where a bucket, queue, key,
//! secret or role trust policy lets an outsider in, the perimeter closes it for the whole account at once.
//!
//! The document is AWS's published data-perimeter pattern ("Resource control policy examples",
//! <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_examples.html>, and
//! the data perimeter policy examples it points to): deny the covered services' actions when
//! `aws:PrincipalOrgID` is not this organization, except for AWS service principals
//! (`aws:PrincipalIsAWSService`). The services are those RCPs were launched for (Amazon S3, AWS STS,
//! AWS KMS, Amazon SQS, AWS Secrets Manager: "List of AWS services that support RCPs",
//! <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html>); of STS,
//! only the actions the pattern names, so web-identity and SAML federation keep working.
//!
//! RCPs must be enabled on the organization's root. When they are not, the plan proposes enabling them as
//! its own cut, `org_resource_perimeter/global/<root-id>`, listed first (the account cuts wait, bounded, for
//! the type to be `ENABLED`); its undo disables the type again, unless an RCP other than hikkonuki's is
//! attached somewhere by then (disabling detaches every RCP: reported, left enabled).
//!
//! What it cannot do: RCPs never apply to the management account (the plan refuses it), nor to
//! service-linked roles or AWS managed KMS keys; they limit who reaches the account's resources, not what
//! its own principals do (`org_quarantine` does that).

use async_trait::async_trait;
use aws_sdk_organizations::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AccountPolicies, AccountUndo, OwnPolicy, PolicyKind};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, PlanOption, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct OrgResourcePerimeter;

static INFO: KindInfo = KindInfo {
    name: "org_resource_perimeter",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::Organization,
    global: true,
    footprint: Footprint::Organization,
};

pub const POLICY: PolicyKind = PolicyKind {
    policy_type: "RESOURCE_CONTROL_POLICY",
    policy_name: "hikkonuki-resource-perimeter",
    description: "hikkonuki resource perimeter: denies principals outside the organization; removed by hikkonuki restore",
    short: "RCP",
    management_page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html",
    // "You cannot detach this policy" (RCP syntax, https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_syntax.html).
    always_attached: Some("RCPFullAWSAccess"),
};

/// `--resource-perimeter ACCOUNT` (repeatable).
pub const RESOURCE_PERIMETER: PlanOption = PlanOption {
    flag: "resource-perimeter",
    value_name: Some("ACCOUNT"),
    help: "Fence this member account's resources (S3, STS, KMS, SQS, Secrets Manager) from principals outside the organization with a resource control policy (org_resource_perimeter; plan from the management account); repeatable",
    check: check_perimeter,
    repeatable: true,
};

static OPTIONS: [PlanOption; 1] = [RESOURCE_PERIMETER];

fn check_perimeter(joined: &str) -> Result<(), String> {
    super::check_account_ids("resource-perimeter", joined)
}

/// The RCP-covered actions the perimeter denies to outsiders.
pub const DENIED_ACTIONS: [&str; 11] = [
    "s3:*",
    "sqs:*",
    "kms:*",
    "secretsmanager:*",
    "sts:AssumeRole",
    "sts:DecodeAuthorizationMessage",
    "sts:GetAccessKeyInfo",
    "sts:GetFederationToken",
    "sts:GetServiceBearerToken",
    "sts:GetSessionToken",
    "sts:SetContext",
];

/// The RCP document for the organization `org_id`, minified.
pub fn document(org_id: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "HikkonukiResourcePerimeter",
            "Effect": "Deny",
            "Principal": "*",
            "Action": DENIED_ACTIONS,
            "Resource": "*",
            "Condition": {
                "StringNotEqualsIfExists": {"aws:PrincipalOrgID": org_id},
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}
            }
        }]
    })
    .to_string()
}

/// The root's status for the RCP type, as the enable cut records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootPolicyType {
    pub root_id: String,
    /// `DISABLED` (not listed), `PENDING_ENABLE`, `ENABLED` or `PENDING_DISABLE`.
    pub resource_control_policy: String,
}

/// A perimeter cut: the RCP type's enablement on the root, or the policy on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PerimeterState {
    Root(RootPolicyType),
    Account(AccountPolicies),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootUndo {
    /// The root whose RCP type the cut enabled.
    pub root_id: String,
    /// Whether apply enabled the type: restore disables it only then. False when the type was found
    /// enabled already (by someone else, after the plan); a crash mid-call is taken as enabled by apply,
    /// since the plan saw it disabled and apply checked that before it started.
    pub enabled_by_apply: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PerimeterUndo {
    Root(RootUndo),
    Account(AccountUndo),
}

fn reason(account: &str) -> String {
    format!(
        "Fences account {account}'s resources: the resource control policy `{}` denies {} to every principal outside the organization, AWS services excepted, whatever the account's bucket, queue, key, secret and trust policies allow (RCPs do not bind service-linked roles or AWS managed keys). Restore detaches it, and deletes it once no account holds it.",
        POLICY.policy_name,
        DENIED_ACTIONS.join(", ")
    )
}

async fn propose(
    ctx: &RegionCtx,
    scope: &DiscoveryScope,
    accounts: &[String],
) -> Result<Vec<Proposal<PerimeterState>>, ServiceError> {
    let account_proposal = |before: AccountPolicies, disabled_because: Option<String>| {
        let after = AccountPolicies {
            own_attached: true,
            ..before.clone()
        };
        Proposal {
            target: before.account_id.clone(),
            reason: reason(&before.account_id),
            before: PerimeterState::Account(before),
            after: PerimeterState::Account(after),
            disabled_because,
        }
    };
    let org = match super::read_organization(ctx, &scope.caller.account).await? {
        Ok(org) => org,
        Err(why) => {
            // Without the organization's ID there is no document to write: the cut says so.
            let own = OwnPolicy {
                name: POLICY.policy_name.into(),
                content: document("unknown"),
            };
            return Ok(accounts
                .iter()
                .map(|a| {
                    account_proposal(super::account_state(a, Vec::new(), &own), Some(why.clone()))
                })
                .collect());
        }
    };
    let own = OwnPolicy {
        name: POLICY.policy_name.into(),
        content: document(&org.id),
    };
    let whole = super::organization_blocked(ctx, &POLICY, &org).await?;
    let status = org.type_status(POLICY.policy_type);
    let to_enable = status != super::ENABLED;
    let mut proposals = Vec::new();
    for account in accounts {
        let before =
            super::account_before(ctx, &POLICY, &org, account, &own, whole.is_some()).await?;
        // What is wrong with the account itself first (the management account, one outside the
        // organization): fixing the organization and planning again would not help those.
        let blocked = super::account_blocked(&POLICY, &org, account, &before.attached, &own)
            .or_else(|| whole.clone());
        proposals.push(account_proposal(before, blocked));
    }
    if to_enable {
        // Listed first: apply starts the cuts of a kind in plan order, and the account cuts wait for it.
        let fenced = proposals.iter().any(|p| p.disabled_because.is_none());
        let before = RootPolicyType {
            root_id: org.root_id.clone(),
            resource_control_policy: status.clone(),
        };
        let disabled_because = if status != super::DISABLED {
            Some(format!(
                "the root lists resource control policies as `{status}`, a change in progress: plan again once it is done"
            ))
        } else if let Some(why) = &whole {
            Some(why.clone())
        } else if !fenced {
            Some(
                "no account's perimeter cut can run, so nothing needs resource control policies"
                    .into(),
            )
        } else {
            None
        };
        proposals.insert(
            0,
            Proposal {
                target: org.root_id.clone(),
                reason: format!(
                    "Enables resource control policies on the organization's root {}, which the perimeter needs. AWS then attaches RCPFullAWSAccess to the root, every OU and every account (it allows everything: nothing changes until an RCP denies). Restore disables the type again, unless an RCP other than hikkonuki's is attached by then.",
                    org.root_id
                ),
                before: PerimeterState::Root(before.clone()),
                after: PerimeterState::Root(RootPolicyType {
                    resource_control_policy: super::ENABLED.into(),
                    ..before
                }),
                disabled_because,
            },
        );
    }
    Ok(proposals)
}

/// RCPs other than AWS's attached somewhere: disabling the type would detach them. hikkonuki's own counts
/// too: restore undoes the enable cut last of this kind (it is applied first), so by then the account cuts
/// have detached it, and one still attached was attached by someone after the cut.
async fn foreign_rcps_in_use(ctx: &RegionCtx) -> Result<Vec<String>, ServiceError> {
    let listed = super::policies_of_type(
        ctx,
        aws_sdk_organizations::types::PolicyType::ResourceControlPolicy,
    )
    .await?;
    let mut in_use = Vec::new();
    for policy in listed {
        if policy.aws_managed() {
            continue;
        }
        let id = policy.id().unwrap_or_default();
        // Every page, until a target: Organizations' List* calls "can occasionally return an empty set
        // of results even when there are more results available"
        // (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListTargetsForPolicy.html>),
        // and an attached RCP taken for unused would be detached by disabling the type.
        let mut pages = ctx
            .organizations()
            .list_targets_for_policy()
            .policy_id(id)
            .into_paginator()
            .send();
        let mut attached = false;
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|err| ServiceError::from_sdk("organizations:ListTargetsForPolicy", err))?;
            if !page.targets().is_empty() {
                attached = true;
                break;
            }
        }
        if attached {
            in_use.push(format!("{id} {}", policy.name().unwrap_or_default()));
        }
    }
    Ok(in_use)
}

async fn undo_root(ctx: &RegionCtx, undo: &RootUndo) -> Result<UndoOutcome, ServiceError> {
    let root = &undo.root_id;
    if !undo.enabled_by_apply {
        return Ok(UndoOutcome {
            notes: vec![format!(
                "resource control policies on the root {root} were enabled by someone else before the cut ran: left enabled"
            )],
        });
    }
    let status = super::root_type_status(ctx, Some(root), POLICY.policy_type).await?;
    if status == super::DISABLED {
        return Ok(UndoOutcome {
            notes: vec![format!(
                "resource control policies already disabled on the root {root}, as before the cut"
            )],
        });
    }
    let in_use = foreign_rcps_in_use(ctx).await?;
    if !in_use.is_empty() {
        return Ok(UndoOutcome {
            notes: vec![format!(
                "conflict: resource control policies left enabled on the root {root}: RCPs attached after the cut ({}) would be detached by disabling the type; disable it yourself once they may go",
                in_use.join(", ")
            )],
        });
    }
    match ctx
        .organizations()
        .disable_policy_type()
        .root_id(root)
        .policy_type(POLICY.sdk_type())
        .send()
        .await
    {
        Ok(_) => {}
        Err(err) if err.code() == Some("PolicyTypeNotEnabledException") => {}
        Err(err) => {
            return Err(ServiceError::from_sdk(
                "organizations:DisablePolicyType",
                err,
            ));
        }
    }
    Ok(UndoOutcome {
        notes: vec![format!(
            "resource control policies disabled on the root {root}, as before the cut"
        )],
    })
}

#[async_trait]
impl CutKind for OrgResourcePerimeter {
    type State = PerimeterState;
    type Undo = PerimeterUndo;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn plan_options(&self) -> &'static [PlanOption] {
        &OPTIONS
    }

    fn check_states(&self, cut: &TypedCut<PerimeterState>) -> Result<(), String> {
        match (&cut.before, &cut.after) {
            (PerimeterState::Account(before), PerimeterState::Account(after)) => {
                super::check_account_states(&POLICY, &cut.target, before, after)
            }
            (PerimeterState::Root(before), PerimeterState::Root(after)) => {
                if before.root_id != cut.target || after.root_id != cut.target {
                    return Err(format!("root_id must be the cut's target `{}`", cut.target));
                }
                if !cut.target.starts_with("r-") {
                    return Err("a root's id starts with `r-`".into());
                }
                if before.resource_control_policy == super::ENABLED
                    || after.resource_control_policy != super::ENABLED
                {
                    return Err("the cut enables resource control policies: `before` must not be ENABLED, `after` must be".into());
                }
                Ok(())
            }
            _ => Err("`before` and `after` must both be `root` or both `account`".into()),
        }
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<PerimeterState>>, ServiceError> {
        let accounts = super::named_accounts(scope, RESOURCE_PERIMETER.flag);
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        propose(ctx, scope, &accounts).await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PerimeterState>,
    ) -> Result<Option<PerimeterState>, ServiceError> {
        match &cut.before {
            PerimeterState::Account(before) => Ok(super::observe_account(ctx, &POLICY, before)
                .await?
                .map(PerimeterState::Account)),
            PerimeterState::Root(before) => {
                let status =
                    super::root_type_status(ctx, Some(&before.root_id), POLICY.policy_type).await?;
                Ok(Some(PerimeterState::Root(RootPolicyType {
                    root_id: before.root_id.clone(),
                    resource_control_policy: status,
                })))
            }
        }
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PerimeterState>,
    ) -> Result<PerimeterUndo, ServiceError> {
        let mut undo = self.undo_record_for(cut)?;
        match &cut.before {
            PerimeterState::Account(before) => {
                super::wait_for_type(ctx, POLICY.policy_type, super::TYPE_WAIT).await?;
                let typed = TypedCut {
                    id: cut.id.clone(),
                    region: cut.region.clone(),
                    target: cut.target.clone(),
                    before: before.clone(),
                    after: AccountPolicies {
                        own_attached: true,
                        ..before.clone()
                    },
                };
                super::attach_to_account(ctx, &POLICY, &typed).await?;
            }
            PerimeterState::Root(before) => {
                match ctx
                    .organizations()
                    .enable_policy_type()
                    .root_id(&before.root_id)
                    .policy_type(POLICY.sdk_type())
                    .send()
                    .await
                {
                    Ok(_) => {}
                    // Enabled since the drift check by someone else: the cut's effect is in place, and
                    // restore must not disable what apply did not enable.
                    Err(err) if err.code() == Some("PolicyTypeAlreadyEnabledException") => {
                        undo = PerimeterUndo::Root(RootUndo {
                            root_id: before.root_id.clone(),
                            enabled_by_apply: false,
                        });
                    }
                    Err(err) => {
                        return Err(ServiceError::from_sdk(
                            "organizations:EnablePolicyType",
                            err,
                        ));
                    }
                }
            }
        }
        Ok(undo)
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<PerimeterState>,
    ) -> Result<PerimeterUndo, ServiceError> {
        Ok(match &cut.before {
            PerimeterState::Account(before) => PerimeterUndo::Account(AccountUndo {
                account_id: before.account_id.clone(),
                policy_name: before.policy_name.clone(),
                policy_content: before.policy_content.clone(),
            }),
            PerimeterState::Root(before) => PerimeterUndo::Root(RootUndo {
                root_id: before.root_id.clone(),
                enabled_by_apply: true,
            }),
        })
    }

    /// Apply records `enabled_by_apply: false` when it found the type enabled already; otherwise the
    /// record is the one the cut implies.
    fn check_undo(
        &self,
        cut: &TypedCut<PerimeterState>,
        undo: &PerimeterUndo,
    ) -> Result<(), String> {
        let implied = self.undo_record_for(cut).map_err(|err| err.to_string())?;
        match (&implied, undo) {
            (PerimeterUndo::Root(implied), PerimeterUndo::Root(recorded))
                if recorded.root_id == implied.root_id =>
            {
                Ok(())
            }
            _ if &implied == undo => Ok(()),
            _ => Err(format!(
                "the rollback file's undo record {undo:?} is not the one the cut implies ({implied:?})"
            )),
        }
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        undo: &PerimeterUndo,
    ) -> Result<UndoOutcome, ServiceError> {
        match undo {
            PerimeterUndo::Account(undo) => super::detach_from_account(ctx, &POLICY, undo).await,
            PerimeterUndo::Root(undo) => undo_root(ctx, undo).await,
        }
    }
}

#[cfg(test)]
mod tests;
