//! What the trust cut leaves open, for the responder: roles trusting outsiders that the plan cannot or
//! will not cut (no room under the quota, protected by AWS, kept because hikkonuki runs through them),
//! trust policies with parts that cannot be classified, and the federated identity providers (OIDC,
//! SAML) that exist in the account, each weighed by whether a role trusting it stays open.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Decision, KIND, Survey, survey, target};
use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, GLOBAL_REGION, Severity};
use crate::services::common::policy_principals::Outsider;
use crate::services::identity::ProtectedRole;
use crate::services::{DiscoveryScope, Inspection, ServiceError};

/// The trust findings (`iam_trust_not_cut`, `iam_trust_unclassified`, `iam_identity_providers`,
/// `iam_roles_anywhere`).
pub struct TrustFindings;

pub const NOT_CUT: &str = "iam_trust_not_cut";
pub const UNCLASSIFIED: &str = "iam_trust_unclassified";
pub const PROVIDERS: &str = "iam_identity_providers";
pub const ROLES_ANYWHERE: &str = "iam_roles_anywhere";

/// One High finding per role IAM Roles Anywhere may assume: a way in from outside AWS (a certificate
/// and its private key, stolen or issued by a trust anchor the intruder added), which neither the trust
/// deny (it never binds a service principal) nor a session revocation (it spares sessions issued after
/// apply) closes.
pub fn roles_anywhere_findings(survey: &Survey) -> Vec<Finding> {
    survey
        .roles_anywhere
        .iter()
        .map(|role| {
            finding(
                ROLES_ANYWHERE,
                target(role),
                Severity::High,
                format!(
                    "Role {role} trusts IAM Roles Anywhere (rolesanywhere.amazonaws.com): whoever holds a certificate and private key a trust anchor of this account accepts gets sessions of it from anywhere, after every cut (the trust deny leaves AWS service principals working, and the session revocation spares sessions issued after apply). Check CloudTrail for rolesanywhere CreateSession calls and the trust anchors (aws rolesanywhere list-trust-anchors in each region: one added recently is the intruder's); to close it, disable the trust anchors or the profiles naming this role (aws rolesanywhere disable-trust-anchor --trust-anchor-id ID; enable-trust-anchor gives it back)."
                ),
            )
        })
        .collect()
}

fn finding(check: &str, resource: String, severity: Severity, message: String) -> Finding {
    Finding {
        check: check.to_string(),
        region: GLOBAL_REGION.to_string(),
        resource,
        severity,
        message,
    }
}

/// Whether the plan cuts `role`'s trust (an enabled `iam_trust_deny` cut on it).
fn is_cut(cuts: &[Cut], role: &str) -> bool {
    let target = target(role);
    cuts.iter()
        .any(|cut| cut.kind == KIND && cut.target == target && cut.enabled)
}

/// The findings on roles, from the survey and the cuts proposed.
pub fn role_findings(survey: &Survey, cuts: &[Cut]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for role in &survey.roles {
        let arn_like = target(&role.role);
        if !role.reading.unclassified.is_empty() {
            findings.push(finding(
                UNCLASSIFIED,
                arn_like.clone(),
                Severity::High,
                format!(
                    "The trust policy of role {} has parts whose effect on who may assume it cannot be told: {}. Nothing is cut for those parts: read the trust policy and remove what lets outsiders in by hand.",
                    role.role,
                    role.reading.unclassified.join("; ")
                ),
            ));
        }
        if !role.reading.opens_outside() {
            continue;
        }
        let outsiders: Vec<String> = role
            .reading
            .outsiders()
            .iter()
            .map(Outsider::to_string)
            .collect();
        let outsiders = outsiders.join(", ");
        let why = match &role.decision {
            Decision::Cut(proposal) => match &proposal.disabled_because {
                None if is_cut(cuts, &role.role) => continue,
                None => "its cut is not in the plan (not selected by the plan's --kinds, --exclude-kinds, --target or --vpc, or its discovery failed)".to_string(),
                Some(because) => format!("its cut is proposed disabled: {because}"),
            },
            Decision::Kept(why) => format!(
                "it is kept: {why}. If the responder does not need it, remove the outside principals from its trust policy by hand once done"
            ),
            Decision::Protected(ProtectedRole::IdentityCenter) => "IAM Identity Center created it and IAM refuses changes to it (UnmodifiableEntity): contain it in Identity Center (identity_center_session_revoke, or remove the account assignment)".to_string(),
            Decision::Protected(ProtectedRole::ServiceLinked) => "it is service-linked and IAM refuses changes to it (UnmodifiableEntity): contain it through its service".to_string(),
            Decision::Unreadable => continue,
        };
        findings.push(finding(
            NOT_CUT,
            arn_like,
            Severity::High,
            format!(
                "Role {} trusts {outsiders}, and this plan does not cut that trust: {why}. They can assume it after every session revocation.",
                role.role
            ),
        ));
    }
    findings
}

/// The findings on identity providers (`(kind, ARN)` pairs): Info when no role trusts the provider,
/// Medium when every role trusting it is cut, High when a role trusting it stays open.
pub fn provider_findings(
    providers: &[(&str, String)],
    survey: &Survey,
    cuts: &[Cut],
) -> Vec<Finding> {
    let mut trusting: BTreeMap<&str, Vec<(&str, bool)>> = BTreeMap::new();
    for role in &survey.roles {
        for grant in &role.reading.outside {
            if let Outsider::Federated(provider) = &grant.outsider {
                let cut = is_cut(cuts, &role.role);
                let entry = trusting.entry(provider.as_str()).or_default();
                if !entry.iter().any(|(name, _)| *name == role.role) {
                    entry.push((role.role.as_str(), cut));
                }
            }
        }
    }
    providers
        .iter()
        .map(|(kind, arn)| {
            let roles = trusting.get(arn.as_str()).cloned().unwrap_or_default();
            let open: Vec<&str> = roles.iter().filter(|(_, cut)| !cut).map(|(r, _)| *r).collect();
            let cut: Vec<&str> = roles.iter().filter(|(_, cut)| *cut).map(|(r, _)| *r).collect();
            let (severity, message) = if roles.is_empty() {
                (
                    Severity::Info,
                    format!(
                        "{kind} identity provider {arn} exists; no role trusts it now, but a role changed to trust it would let its identities in. Delete it if it is not needed."
                    ),
                )
            } else if open.is_empty() {
                (
                    Severity::Medium,
                    format!(
                        "{kind} identity provider {arn} is trusted by {}; iam_trust_deny cuts that trust. Identities it vouches for (a CI pipeline, a SAML directory) come from outside the account: check what they did, and check the provider's configuration before restore.",
                        cut.join(", ")
                    ),
                )
            } else {
                (
                    Severity::High,
                    format!(
                        "{kind} identity provider {arn} is trusted by {}, which this plan does not cut: its identities (a CI pipeline, a SAML directory) can still assume them. See the iam_trust_not_cut findings.",
                        open.join(", ")
                    ),
                )
            };
            finding(PROVIDERS, arn.clone(), severity, message)
        })
        .collect()
}

async fn providers(ctx: &RegionCtx) -> Result<Vec<(&'static str, String)>, ServiceError> {
    let iam = ctx.iam();
    let oidc = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("iam:ListOpenIDConnectProviders", err))?;
    let saml = iam
        .list_saml_providers()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("iam:ListSAMLProviders", err))?;
    let mut found: Vec<(&'static str, String)> = oidc
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn().map(|arn| ("OIDC", arn.to_string())))
        .chain(
            saml.saml_provider_list()
                .iter()
                .filter_map(|p| p.arn().map(|arn| ("SAML", arn.to_string()))),
        )
        .collect();
    found.sort();
    Ok(found)
}

#[async_trait]
impl Inspection for TrustFindings {
    fn name(&self) -> &'static str {
        "iam_trust"
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let survey = survey(ctx, scope).await?;
        let providers = providers(ctx).await?;
        let mut findings = role_findings(&survey, cuts);
        findings.extend(provider_findings(&providers, &survey, cuts));
        findings.extend(roles_anywhere_findings(&survey));
        Ok(findings)
    }
}
