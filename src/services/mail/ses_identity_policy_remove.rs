//! `ses_identity_policy_remove`: delete the sending-authorization policies on an SES email identity. Such
//! a policy lets other accounts or principals send as the identity's address or domain, a path the
//! account's own IAM denies do not close. One cut per identity; restore puts each policy back with its
//! exact recorded document.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::same_document;
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct SesIdentityPolicyRemove;

static INFO: KindInfo = KindInfo {
    name: "ses_identity_policy_remove",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Ses,
};

/// One identity's sending-authorization policies, as `before` and `after` (and the undo record) hold them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPolicies {
    pub identity: String,
    /// Policy name → the exact document string AWS returned.
    pub policies: BTreeMap<String, String>,
}

/// The principals a policy names, for the reason.
fn principals(document: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(document) else {
        return vec![];
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
        None => vec![],
    };
    let mut found = Vec::new();
    for statement in statements {
        match statement.get("Principal") {
            Some(Value::String(s)) => found.push(s.clone()),
            Some(Value::Object(map)) => {
                for value in map.values() {
                    match value {
                        Value::String(s) => found.push(s.clone()),
                        Value::Array(items) => {
                            found.extend(items.iter().filter_map(Value::as_str).map(String::from))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The proposal for one identity, or nothing when it has no policy.
pub fn propose(state: &IdentityPolicies) -> Option<Proposal<IdentityPolicies>> {
    if state.policies.is_empty() {
        return None;
    }
    let mut who: Vec<String> = state
        .policies
        .values()
        .flat_map(|doc| principals(doc))
        .collect();
    who.sort();
    who.dedup();
    let after = IdentityPolicies {
        identity: state.identity.clone(),
        policies: BTreeMap::new(),
    };
    Some(Proposal {
        target: state.identity.clone(),
        reason: format!(
            "SES identity {} delegates sending to others through {} sending-authorization polic{} ({}; principals: {}). Deleting them stops those principals sending as this identity; restore puts each back with its exact document.",
            state.identity,
            state.policies.len(),
            if state.policies.len() == 1 {
                "y"
            } else {
                "ies"
            },
            state
                .policies
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if who.is_empty() {
                "none named".to_string()
            } else {
                who.join(", ")
            }
        ),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

/// The identity's policies now, or None when the identity is gone.
async fn live_policies(
    ctx: &RegionCtx,
    identity: &str,
) -> Result<Option<BTreeMap<String, String>>, ServiceError> {
    match ctx
        .sesv2()
        .get_email_identity_policies()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.policies()
                .map(|map| {
                    map.iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
        )),
        Err(err) => {
            let err = ServiceError::from_sdk("ses:GetEmailIdentityPolicies", err);
            if err.code.as_deref() == Some("NotFoundException") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

#[async_trait]
impl CutKind for SesIdentityPolicyRemove {
    type State = IdentityPolicies;
    /// The policies as they were before the cut: what restore puts back.
    type Undo = IdentityPolicies;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<IdentityPolicies>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.identity != cut.target || after.identity != cut.target {
            return Err(format!(
                "identity must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.policies.is_empty() || !after.policies.is_empty() {
            return Err(
                "`before.policies` must list the policies and `after.policies` must be empty"
                    .into(),
            );
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<IdentityPolicies>>, ServiceError> {
        let mut proposed = Vec::new();
        for identity in super::list_identities(ctx).await? {
            if let Some(policies) = live_policies(ctx, &identity).await? {
                proposed.extend(propose(&IdentityPolicies { identity, policies }));
            }
        }
        Ok(proposed)
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<IdentityPolicies>,
    ) -> Result<Option<IdentityPolicies>, ServiceError> {
        Ok(live_policies(ctx, &cut.target)
            .await?
            .map(|policies| IdentityPolicies {
                identity: cut.target.clone(),
                policies,
            }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<IdentityPolicies>,
    ) -> Result<IdentityPolicies, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let before = &cut.before;
        for name in before.policies.keys() {
            let result = ctx
                .sesv2()
                .delete_email_identity_policy()
                .email_identity(&before.identity)
                .policy_name(name)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ses:DeleteEmailIdentityPolicy", err));
            match result {
                // Gone already (a resumed apply): the cut's aim holds.
                Err(err) if err.code.as_deref() == Some("NotFoundException") => {}
                other => {
                    other?;
                }
            }
        }
        Ok(record)
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<IdentityPolicies>,
    ) -> Result<IdentityPolicies, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        undo: &IdentityPolicies,
    ) -> Result<UndoOutcome, ServiceError> {
        let identity = &undo.identity;
        let Some(live) = live_policies(ctx, identity).await? else {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "SES identity {identity} no longer exists; its policies cannot be put back"
                )],
            });
        };
        let mut notes = Vec::new();
        for (name, document) in &undo.policies {
            match live.get(name) {
                Some(now) if same_document(now, document) => notes.push(format!(
                    "sending policy {name} already present on {identity}"
                )),
                Some(_) => notes.push(format!(
                    "conflict: sending policy {name} on {identity} was recreated with another document after the cut; left alone"
                )),
                None => {
                    ctx.sesv2()
                        .create_email_identity_policy()
                        .email_identity(identity)
                        .policy_name(name)
                        .policy(document)
                        .send()
                        .await
                        .map_err(|err| {
                            ServiceError::from_sdk("ses:CreateEmailIdentityPolicy", err)
                        })?;
                    notes.push(format!("sending policy {name} put back on {identity}"));
                }
            }
        }
        Ok(UndoOutcome { notes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELEGATION: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"ses:SendEmail","Resource":"*"}]}"#;

    /// SES v2 answers DeleteEmailIdentityPolicy with its documented NotFoundException for a policy gone
    /// already (an apply resumed after a crash): the cut's aim holds, and the other policies are still
    /// deleted. Its AccessDeniedException fails the cut, naming the call.
    #[tokio::test]
    async fn mocked_a_policy_gone_already_is_done_and_access_denied_fails_the_cut() {
        use aws_sdk_sesv2::Client;
        use aws_sdk_sesv2::operation::delete_email_identity_policy::{
            DeleteEmailIdentityPolicyError, DeleteEmailIdentityPolicyOutput,
        };
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let error = |code: &'static str| {
            move || {
                DeleteEmailIdentityPolicyError::generic(
                    aws_sdk_sesv2::error::ErrorMetadata::builder()
                        .code(code)
                        .message(code)
                        .build(),
                )
            }
        };
        let cut = TypedCut {
            id: "ses_identity_policy_remove/us-east-1/leaky.example".into(),
            region: "us-east-1".into(),
            target: "leaky.example".into(),
            before: IdentityPolicies {
                identity: "leaky.example".into(),
                policies: BTreeMap::from([
                    ("Gone".to_string(), DELEGATION.to_string()),
                    ("Partner".to_string(), DELEGATION.to_string()),
                ]),
            },
            after: IdentityPolicies {
                identity: "leaky.example".into(),
                policies: BTreeMap::new(),
            },
        };
        let gone = mock!(Client::delete_email_identity_policy)
            .match_requests(|req| req.policy_name() == Some("Gone"))
            .then_error(error("NotFoundException"));
        let deleted = mock!(Client::delete_email_identity_policy)
            .match_requests(|req| req.policy_name() == Some("Partner"))
            .then_output(|| DeleteEmailIdentityPolicyOutput::builder().build());
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(mock_client!(
            aws_sdk_sesv2,
            RuleMode::MatchAny,
            &[&gone, &deleted]
        ));
        let record = SesIdentityPolicyRemove.apply(&ctx, &cut).await.unwrap();
        assert_eq!(record, cut.before, "the undo record holds both documents");
        assert_eq!(deleted.num_calls(), 1);

        let denied =
            mock!(Client::delete_email_identity_policy).then_error(error("AccessDeniedException"));
        let ctx = RegionCtx::for_tests("us-east-1").mock_sesv2(mock_client!(
            aws_sdk_sesv2,
            RuleMode::MatchAny,
            &[&denied]
        ));
        let err = SesIdentityPolicyRemove.apply(&ctx, &cut).await.unwrap_err();
        assert!(err.is_access_denied(), "{err}");
        assert!(
            err.to_string()
                .starts_with("ses:DeleteEmailIdentityPolicy failed: AccessDeniedException"),
            "{err}"
        );
    }

    #[test]
    fn identities_with_policies_are_proposed_naming_the_delegates() {
        let empty = IdentityPolicies {
            identity: "example.com".into(),
            policies: BTreeMap::new(),
        };
        assert_eq!(propose(&empty), None);
        let state = IdentityPolicies {
            identity: "example.com".into(),
            policies: BTreeMap::from([("partner".to_string(), DELEGATION.to_string())]),
        };
        let proposed = propose(&state).unwrap();
        assert!(proposed.reason.contains("arn:aws:iam::999999999999:root"));
        let cut = TypedCut {
            id: "ses_identity_policy_remove/us-east-1/example.com".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(SesIdentityPolicyRemove.check_states(&cut), Ok(()));
        let record = SesIdentityPolicyRemove.undo_record_for(&cut).unwrap();
        assert_eq!(record.policies["partner"], DELEGATION);
    }
}
