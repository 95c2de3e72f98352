//! `ses_send_deny`: an inline deny policy (`hikkonuki-ses-send-deny`) on every IAM user and role whose own
//! identity policies let it send mail through SES, so stolen credentials of those principals cannot send
//! even where the account-level pause is not possible (or is lifted early). An explicit deny beats every
//! allow, and the principal keeps all its other rights.
//!
//! Undo deletes exactly that policy, and only while its document is still ours: a policy of that name
//! edited since is someone's decision and is left alone, with a note. The caller's own principal is
//! listed but never cut. Not covered: rights granted through IAM groups (the user-level deny would still
//! apply to the user, but group-only senders are not discovered) and resource policies on identities
//! (`ses_identity_policy_remove` handles those).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::same_document;
use crate::aws::{CallerIdentity, RegionCtx};
use crate::services::identity::inline_policy::{self, Holder};
use crate::services::identity::{ProtectedRole, decode_policy_document};
use crate::services::{
    CutKind, DiscoveryScope, KindInfo, Phase, Proposal, ServiceError, TypedCut, UndoOutcome,
};

pub struct SesSendDeny;

static INFO: KindInfo = KindInfo {
    name: "ses_send_deny",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
};

/// The inline policy's name on each principal.
pub const POLICY_NAME: &str = "hikkonuki-ses-send-deny";

/// The actions that send mail, in SES v1 and v2 (both use the `ses:` prefix). SendCustomVerificationEmail
/// mails any address a message from a template the account controls, so it sends too
/// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsimpleemailservice.html,
/// https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html#send-email-verification-custom).
const SEND_ACTIONS: [&str; 6] = [
    "ses:SendEmail",
    "ses:SendRawEmail",
    "ses:SendTemplatedEmail",
    "ses:SendBulkTemplatedEmail",
    "ses:SendBulkEmail",
    "ses:SendCustomVerificationEmail",
];

/// The actions the deny named before SendCustomVerificationEmail joined it: plans and accounts may still
/// hold that document, which stays ours (applied as reviewed, recognised and removed by restore).
const EARLIER_SEND_ACTIONS: [&str; 5] = [
    "ses:SendEmail",
    "ses:SendRawEmail",
    "ses:SendTemplatedEmail",
    "ses:SendBulkTemplatedEmail",
    "ses:SendBulkEmail",
];

fn document_denying(actions: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "HikkonukiSesSendDeny",
            "Effect": "Deny",
            "Action": actions,
            "Resource": "*"
        }]
    })
    .to_string()
}

/// The deny document the cut puts, exactly.
pub fn deny_document() -> String {
    document_denying(&SEND_ACTIONS)
}

/// Our deny in the exact text this version writes, when `document` means the deny of this version or of
/// the earlier one; `None` for anything else.
pub fn our_deny(document: &str) -> Option<String> {
    [deny_document(), document_denying(&EARLIER_SEND_ACTIONS)]
        .into_iter()
        .find(|ours| same_document(document, ours))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalType {
    User,
    Role,
}

impl PrincipalType {
    fn word(self) -> &'static str {
        match self {
            PrincipalType::User => "user",
            PrincipalType::Role => "role",
        }
    }
}

/// One principal, as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalState {
    pub principal_type: PrincipalType,
    pub name: String,
    /// The document of the inline policy named [`POLICY_NAME`], when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_policy: Option<String>,
}

/// What restore needs: which principal's policy to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub principal_type: PrincipalType,
    pub name: String,
}

fn target(kind: PrincipalType, name: &str) -> String {
    format!("{}/{name}", kind.word())
}

/// IAM action patterns: `*` any run of characters, `?` one; case-insensitive.
fn action_matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// True when an identity policy allows at least one sending action (by name, `ses:Send*`, `ses:*`, `*`, or
/// a NotAction that leaves sending out of its exclusions).
pub fn grants_sending(document: &Value) -> bool {
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => vec![],
    };
    statements.into_iter().any(|statement| {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return false;
        }
        if let Some(not_actions) = statement.get("NotAction") {
            let excluded = strings(Some(not_actions));
            return SEND_ACTIONS
                .iter()
                .any(|send| !excluded.iter().any(|p| action_matches(p, send)));
        }
        strings(statement.get("Action")).iter().any(|pattern| {
            SEND_ACTIONS
                .iter()
                .any(|send| action_matches(pattern, send))
        })
    })
}

/// The role name when the caller is an assumed role, the user ARN when it is a user: the principal that
/// must never be cut.
fn is_caller(caller: &CallerIdentity, kind: PrincipalType, name: &str, arn: &str) -> bool {
    match kind {
        PrincipalType::User => caller.arn == arn,
        PrincipalType::Role => caller
            .arn
            .split_once(":assumed-role/")
            .and_then(|(_, rest)| rest.split('/').next())
            .is_some_and(|role| role == name),
    }
}

/// The proposal for one principal allowed to send.
pub fn propose(
    kind: PrincipalType,
    name: &str,
    granted_by: &[String],
    existing: Option<String>,
    is_the_caller: bool,
) -> Proposal<PrincipalState> {
    let before = PrincipalState {
        principal_type: kind,
        name: name.to_string(),
        deny_policy: existing,
    };
    let after = PrincipalState {
        deny_policy: Some(deny_document()),
        ..before.clone()
    };
    let disabled_because = if is_the_caller {
        Some("this is the caller's own principal, which hikkonuki never cuts.".to_string())
    } else if before.deny_policy.as_deref().and_then(our_deny).is_some() {
        Some(format!(
            "hikkonuki's {POLICY_NAME} is already on it (an earlier apply not yet restored): it already denies sending."
        ))
    } else if before.deny_policy.is_some() {
        Some(format!(
            "an inline policy named {POLICY_NAME} already exists on it; remove or rename it first, or restore could not tell ours from it."
        ))
    } else {
        None
    };
    Proposal {
        target: target(kind, name),
        reason: format!(
            "IAM {} {name} may send mail through SES ({}). An inline {POLICY_NAME} policy denies {} to it; everything else it may do is untouched.",
            kind.word(),
            granted_by.join(", "),
            SEND_ACTIONS.join(", ")
        ),
        before,
        after,
        disabled_because,
    }
}

/// Documents of every identity policy on the principal, inline and attached, by a label for the reason.
async fn identity_policies(
    ctx: &RegionCtx,
    kind: PrincipalType,
    name: &str,
) -> Result<Vec<(String, String)>, ServiceError> {
    let iam = ctx.iam();
    let mut documents = Vec::new();
    let (inline, attached) = match kind {
        PrincipalType::User => (
            iam.list_user_policies()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListUserPolicies", err))?,
            iam.list_attached_user_policies()
                .user_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListAttachedUserPolicies", err))?,
        ),
        PrincipalType::Role => (
            iam.list_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListRolePolicies", err))?,
            iam.list_attached_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|err| ServiceError::from_sdk("iam:ListAttachedRolePolicies", err))?,
        ),
    };
    for policy in inline {
        if policy == POLICY_NAME {
            continue;
        }
        if let Some(document) = inline_policy::get(ctx, holder(kind, name), &policy).await? {
            documents.push((format!("inline {policy}"), document));
        }
    }
    for attached in attached {
        let Some(arn) = attached.policy_arn() else {
            continue;
        };
        let policy = iam
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("iam:GetPolicy", err))?;
        let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
            continue;
        };
        let version = iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("iam:GetPolicyVersion", err))?;
        if let Some(document) = version.policy_version().and_then(|v| v.document()) {
            documents.push((format!("attached {arn}"), decode_policy_document(document)));
        }
    }
    Ok(documents)
}

/// The principal as inline policies name it.
fn holder(kind: PrincipalType, name: &str) -> Holder<'_> {
    match kind {
        PrincipalType::User => Holder::User(name),
        PrincipalType::Role => Holder::Role(name),
    }
}

/// The labels of the policies that let a principal send, empty when none does.
async fn sending_grants(
    ctx: &RegionCtx,
    kind: PrincipalType,
    name: &str,
) -> Result<Vec<String>, ServiceError> {
    Ok(identity_policies(ctx, kind, name)
        .await?
        .into_iter()
        .filter(|(_, document)| {
            serde_json::from_str::<Value>(document).is_ok_and(|doc| grants_sending(&doc))
        })
        .map(|(label, _)| label)
        .collect())
}

#[async_trait]
impl CutKind for SesSendDeny {
    type State = PrincipalState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<PrincipalState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if target(before.principal_type, &before.name) != cut.target
            || target(after.principal_type, &after.name) != cut.target
        {
            return Err(format!(
                "principal_type/name must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.deny_policy.as_deref().and_then(our_deny).is_none() {
            return Err(format!(
                "`after.deny_policy` must be hikkonuki's own deny document {}",
                deny_document()
            ));
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<PrincipalState>>, ServiceError> {
        let iam = ctx.iam();
        let users = iam
            .list_users()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("iam:ListUsers", err))?;
        let roles = iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("iam:ListRoles", err))?;
        let mut principals: Vec<(PrincipalType, String, String)> = users
            .iter()
            .map(|u| {
                (
                    PrincipalType::User,
                    u.user_name().to_string(),
                    u.arn().to_string(),
                )
            })
            .collect();
        // AWS refuses every policy on service-linked and IAM Identity Center roles (UnmodifiableEntity):
        // a cut for them could only fail. The `identity_protected_roles` finding names them and says where
        // to act instead.
        principals.extend(
            roles
                .iter()
                .filter(|r| ProtectedRole::of_path(r.path()).is_none())
                .map(|r| {
                    (
                        PrincipalType::Role,
                        r.role_name().to_string(),
                        r.arn().to_string(),
                    )
                }),
        );
        let mut proposed = Vec::new();
        for (kind, name, arn) in principals {
            let granted_by = sending_grants(ctx, kind, &name).await?;
            if granted_by.is_empty() {
                continue;
            }
            let existing = inline_policy::get(ctx, holder(kind, &name), POLICY_NAME).await?;
            proposed.push(propose(
                kind,
                &name,
                &granted_by,
                existing,
                is_caller(&scope.caller, kind, &name, &arn),
            ));
        }
        proposed.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(proposed)
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PrincipalState>,
    ) -> Result<Option<PrincipalState>, ServiceError> {
        let before = &cut.before;
        if !inline_policy::exists(ctx, holder(before.principal_type, &before.name)).await? {
            return Ok(None);
        }
        Ok(Some(PrincipalState {
            deny_policy: inline_policy::get(
                ctx,
                holder(before.principal_type, &before.name),
                POLICY_NAME,
            )
            .await?,
            ..before.clone()
        }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PrincipalState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let before = &cut.before;
        // The deny the plan shows, in our exact text: a plan written before the deny named
        // SendCustomVerificationEmail puts the deny its operator reviewed.
        let deny = cut
            .after
            .deny_policy
            .as_deref()
            .and_then(our_deny)
            .ok_or_else(|| {
                ServiceError::local(
                    INFO.name,
                    format!("{}: `after.deny_policy` is not hikkonuki's deny", cut.id),
                )
            })?;
        inline_policy::put(
            ctx,
            holder(before.principal_type, &before.name),
            POLICY_NAME,
            &deny,
        )
        .await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &TypedCut<PrincipalState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            principal_type: cut.before.principal_type,
            name: cut.before.name.clone(),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let who = format!("IAM {} {}", undo.principal_type.word(), undo.name);
        if !inline_policy::exists(ctx, holder(undo.principal_type, &undo.name)).await? {
            return Ok(UndoOutcome {
                notes: vec![format!("{who} no longer exists; nothing to remove")],
            });
        }
        let note = match inline_policy::get(
            ctx,
            holder(undo.principal_type, &undo.name),
            POLICY_NAME,
        )
        .await?
        {
            None => format!("{POLICY_NAME} already removed from {who}"),
            Some(document) if our_deny(&document).is_some() => {
                inline_policy::delete(ctx, holder(undo.principal_type, &undo.name), POLICY_NAME)
                    .await?;
                format!("removed {POLICY_NAME} from {who}")
            }
            Some(_) => format!(
                "conflict: {POLICY_NAME} on {who} was changed after the cut; left in place (delete it by hand if it should go)"
            ),
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_iam::Client;
    use aws_sdk_iam::operation::delete_user_policy::DeleteUserPolicyOutput;
    use aws_sdk_iam::operation::get_user::GetUserOutput;
    use aws_sdk_iam::operation::get_user_policy::{GetUserPolicyError, GetUserPolicyOutput};
    use aws_sdk_iam::operation::put_user_policy::PutUserPolicyOutput;
    use aws_sdk_iam::types::User;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;

    use super::*;

    fn caller(arn: &str) -> CallerIdentity {
        CallerIdentity {
            account: "123456789012".into(),
            arn: arn.into(),
            user_id: "AIDA".into(),
            access_key_id: None,
        }
    }

    #[test]
    fn sending_grants_are_recognised_by_name_wildcard_and_not_action() {
        let allow = |action: Value| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]});
        assert!(grants_sending(&allow(json!("ses:SendRawEmail"))));
        assert!(grants_sending(&allow(json!(["s3:GetObject", "ses:Send*"]))));
        assert!(grants_sending(&allow(json!("SES:*"))));
        assert!(grants_sending(&allow(json!("*"))));
        assert!(!grants_sending(&allow(json!("ses:GetAccount"))));
        assert!(!grants_sending(&allow(json!("s3:*"))));
        let deny = json!({"Statement": {"Effect": "Deny", "Action": "ses:*", "Resource": "*"}});
        assert!(!grants_sending(&deny));
        let not_action =
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
        assert!(grants_sending(&not_action));
        let not_ses =
            json!({"Statement": [{"Effect": "Allow", "NotAction": "ses:*", "Resource": "*"}]});
        assert!(!grants_sending(&not_ses));
    }

    #[test]
    fn the_deny_covers_custom_verification_emails_and_earlier_denies_stay_ours() {
        let deny: Value = serde_json::from_str(&deny_document()).unwrap();
        let actions = &deny["Statement"][0]["Action"];
        assert!(
            actions
                .as_array()
                .unwrap()
                .contains(&json!("ses:SendCustomVerificationEmail")),
            "{actions}"
        );
        let allow = json!({"Statement": [{"Effect": "Allow", "Action": "ses:SendCustomVerificationEmail", "Resource": "*"}]});
        assert!(grants_sending(&allow));

        // The deny as plans made before it named SendCustomVerificationEmail hold it.
        let earlier = r#"{"Version":"2012-10-17","Statement":[{"Sid":"HikkonukiSesSendDeny","Effect":"Deny","Action":["ses:SendEmail","ses:SendRawEmail","ses:SendTemplatedEmail","ses:SendBulkTemplatedEmail","ses:SendBulkEmail"],"Resource":"*"}]}"#;
        assert_eq!(our_deny(earlier).as_deref(), Some(earlier));
        assert_eq!(
            our_deny(&format!(" {} ", deny_document())),
            Some(deny_document())
        );
        assert_eq!(our_deny(r#"{"Version":"2012-10-17","Statement":[]}"#), None);
        let mut old_plan = cut_for("mailer");
        old_plan.after.deny_policy = Some(earlier.into());
        assert_eq!(SesSendDeny.check_states(&old_plan), Ok(()));
        let mut foreign = cut_for("mailer");
        foreign.after.deny_policy = Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        assert!(SesSendDeny.check_states(&foreign).is_err());
    }

    /// An older plan puts the deny its operator reviewed, and restore removes it as ours.
    #[tokio::test]
    async fn mocked_an_earlier_plans_deny_is_applied_as_reviewed_and_removed_by_restore() {
        let earlier = r#"{"Version":"2012-10-17","Statement":[{"Sid":"HikkonukiSesSendDeny","Effect":"Deny","Action":["ses:SendEmail","ses:SendRawEmail","ses:SendTemplatedEmail","ses:SendBulkTemplatedEmail","ses:SendBulkEmail"],"Resource":"*"}]}"#;
        let put = mock!(Client::put_user_policy)
            .match_requests(move |r| r.policy_document() == Some(earlier))
            .then_output(|| PutUserPolicyOutput::builder().build());
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&put]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let mut cut = cut_for("mailer");
        cut.after.deny_policy = Some(earlier.into());
        let record = SesSendDeny.apply(&ctx, &cut).await.unwrap();
        assert_eq!(put.num_calls(), 1);

        let get_user = mock!(Client::get_user).then_output(|| user("mailer"));
        let ours = mock!(Client::get_user_policy).then_output(move || {
            GetUserPolicyOutput::builder()
                .user_name("mailer")
                .policy_name(POLICY_NAME)
                .policy_document(earlier)
                .build()
                .unwrap()
        });
        let delete = mock!(Client::delete_user_policy)
            .then_output(|| DeleteUserPolicyOutput::builder().build());
        let client = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            &[&get_user, &ours, &delete]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(delete.num_calls(), 1);
    }

    #[test]
    fn the_caller_is_listed_but_switched_off() {
        let me = caller("arn:aws:sts::123456789012:assumed-role/Responder/s1");
        assert!(is_caller(
            &me,
            PrincipalType::Role,
            "Responder",
            "arn:aws:iam::123456789012:role/Responder"
        ));
        assert!(!is_caller(
            &me,
            PrincipalType::Role,
            "Mailer",
            "arn:aws:iam::123456789012:role/Mailer"
        ));
        let user = caller("arn:aws:iam::123456789012:user/ops/alice");
        assert!(is_caller(
            &user,
            PrincipalType::User,
            "alice",
            "arn:aws:iam::123456789012:user/ops/alice"
        ));
        let proposed = propose(
            PrincipalType::User,
            "alice",
            &["inline send".into()],
            None,
            true,
        );
        assert!(
            proposed
                .disabled_because
                .unwrap()
                .contains("caller's own principal")
        );
        let other = propose(
            PrincipalType::User,
            "bob",
            &["inline send".into()],
            None,
            false,
        );
        assert_eq!(other.disabled_because, None);
        assert_eq!(other.target, "user/bob");
        // Ours already there (applied, not restored) versus someone else's policy of that name.
        let ours = propose(
            PrincipalType::User,
            "bob",
            &["inline send".into()],
            Some(deny_document()),
            false,
        );
        assert!(
            ours.disabled_because
                .unwrap()
                .contains("already denies sending")
        );
        let theirs = propose(
            PrincipalType::User,
            "bob",
            &["inline send".into()],
            Some(r#"{"Version":"2012-10-17","Statement":[]}"#.into()),
            false,
        );
        assert!(
            theirs
                .disabled_because
                .unwrap()
                .contains("remove or rename it first")
        );
    }

    fn cut_for(name: &str) -> TypedCut<PrincipalState> {
        let proposed = propose(
            PrincipalType::User,
            name,
            &["inline send".into()],
            None,
            false,
        );
        TypedCut {
            id: format!("ses_send_deny/global/user/{name}"),
            region: "global".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    fn user(name: &str) -> GetUserOutput {
        GetUserOutput::builder()
            .user(
                User::builder()
                    .user_name(name)
                    .user_id("AIDA1")
                    .arn(format!("arn:aws:iam::123456789012:user/{name}"))
                    .path("/")
                    .create_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[tokio::test]
    async fn mocked_apply_puts_exactly_the_deny_and_undo_removes_only_ours() {
        let put = mock!(Client::put_user_policy)
            .match_requests(|r| {
                r.user_name() == Some("mailer")
                    && r.policy_name() == Some(POLICY_NAME)
                    && r.policy_document() == Some(deny_document().as_str())
            })
            .then_output(|| PutUserPolicyOutput::builder().build());
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&put]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let cut = cut_for("mailer");
        assert_eq!(SesSendDeny.check_states(&cut), Ok(()));
        let record = SesSendDeny.apply(&ctx, &cut).await.unwrap();
        assert_eq!(put.num_calls(), 1);

        // Ours, URL-encoded as IAM returns it: removed.
        let get_user = mock!(Client::get_user).then_output(|| user("mailer"));
        let ours = mock!(Client::get_user_policy).then_output(|| {
            let encoded: String = deny_document()
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect();
            GetUserPolicyOutput::builder()
                .user_name("mailer")
                .policy_name(POLICY_NAME)
                .policy_document(encoded)
                .build()
                .unwrap()
        });
        let delete = mock!(Client::delete_user_policy)
            .match_requests(|r| {
                r.user_name() == Some("mailer") && r.policy_name() == Some(POLICY_NAME)
            })
            .then_output(|| DeleteUserPolicyOutput::builder().build());
        let client = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            &[&get_user, &ours, &delete]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let outcome = SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(delete.num_calls(), 1);
        assert_eq!(
            outcome.notes,
            vec![format!("removed {POLICY_NAME} from IAM user mailer")]
        );

        // Edited since: left alone.
        let get_user = mock!(Client::get_user).then_output(|| user("mailer"));
        let edited = mock!(Client::get_user_policy).then_output(|| {
            GetUserPolicyOutput::builder()
                .user_name("mailer")
                .policy_name(POLICY_NAME)
                .policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
                .build()
                .unwrap()
        });
        let delete = mock!(Client::delete_user_policy)
            .then_output(|| DeleteUserPolicyOutput::builder().build());
        let client = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            &[&get_user, &edited, &delete]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let outcome = SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(delete.num_calls(), 0);
        assert!(outcome.notes[0].starts_with("conflict:"));

        // Gone already: nothing to do, twice over.
        let get_user = mock!(Client::get_user).then_output(|| user("mailer"));
        let gone = mock!(Client::get_user_policy).then_error(|| {
            GetUserPolicyError::NoSuchEntityException(
                aws_sdk_iam::types::error::NoSuchEntityException::builder()
                    .message("no")
                    .meta(
                        aws_sdk_iam::error::ErrorMetadata::builder()
                            .code("NoSuchEntity")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&get_user, &gone]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let outcome = SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(
            outcome.notes,
            vec![format!(
                "{POLICY_NAME} already removed from IAM user mailer"
            )]
        );
    }

    /// Identity Center and service-linked roles answer UnmodifiableEntity to any policy: discovery never
    /// reads them, even when their policies allow sending (a read of one here would find no mock and fail).
    #[tokio::test]
    async fn mocked_discovery_leaves_protected_roles_out() {
        use aws_sdk_iam::operation::get_role_policy::{GetRolePolicyError, GetRolePolicyOutput};
        use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
        use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
        use aws_sdk_iam::operation::list_roles::ListRolesOutput;
        use aws_sdk_iam::operation::list_users::ListUsersOutput;
        use aws_sdk_iam::types::Role;

        let role = |name: &str, path: &str| {
            Role::builder()
                .path(path)
                .role_name(name)
                .role_id(format!("AROA{name}"))
                .arn(format!("arn:aws:iam::123456789012:role{path}{name}"))
                .create_date(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .unwrap()
        };
        let users = mock!(Client::list_users).then_output(|| {
            ListUsersOutput::builder()
                .set_users(Some(vec![]))
                .build()
                .unwrap()
        });
        let roles = mock!(Client::list_roles).then_output(move || {
            ListRolesOutput::builder()
                .roles(role("app", "/"))
                .roles(role(
                    "AWSReservedSSO_Admin_0123",
                    "/aws-reserved/sso.amazonaws.com/",
                ))
                .roles(role(
                    "AWSServiceRoleForSupport",
                    "/aws-service-role/support.amazonaws.com/",
                ))
                .build()
                .unwrap()
        });
        let names = mock!(Client::list_role_policies)
            .match_requests(|r| r.role_name() == Some("app"))
            .then_output(|| {
                ListRolePoliciesOutput::builder()
                    .policy_names("send")
                    .build()
                    .unwrap()
            });
        let attached = mock!(Client::list_attached_role_policies)
            .match_requests(|r| r.role_name() == Some("app"))
            .then_output(|| ListAttachedRolePoliciesOutput::builder().build());
        let send = mock!(Client::get_role_policy)
            .match_requests(|r| r.role_name() == Some("app") && r.policy_name() == Some("send"))
            .then_output(|| {
                GetRolePolicyOutput::builder()
                    .role_name("app")
                    .policy_name("send")
                    .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}"#)
                    .build()
                    .unwrap()
            });
        let no_deny = mock!(Client::get_role_policy)
            .match_requests(|r| {
                r.role_name() == Some("app") && r.policy_name() == Some(POLICY_NAME)
            })
            .then_error(|| {
                GetRolePolicyError::NoSuchEntityException(
                    aws_sdk_iam::types::error::NoSuchEntityException::builder()
                        .message("no")
                        .meta(
                            aws_sdk_iam::error::ErrorMetadata::builder()
                                .code("NoSuchEntity")
                                .build(),
                        )
                        .build(),
                )
            });
        let client = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            &[&users, &roles, &names, &attached, &send, &no_deny]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let proposed = SesSendDeny
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
        assert_eq!(targets, vec!["role/app"]);
    }

    /// An older plan may still hold a cut for a protected role: AWS's UnmodifiableEntity fails it with a
    /// message saying where to act instead.
    #[tokio::test]
    async fn mocked_unmodifiable_entity_at_apply_says_where_to_act() {
        use aws_sdk_iam::operation::put_role_policy::PutRolePolicyError;

        let name = "AWSReservedSSO_Admin_0123";
        let put = mock!(Client::put_role_policy).then_error(move || {
            PutRolePolicyError::UnmodifiableEntityException(
                crate::services::identity::tests::unmodifiable(name),
            )
        });
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&put]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let proposed = propose(
            PrincipalType::Role,
            name,
            &["inline send".into()],
            None,
            false,
        );
        let cut = TypedCut {
            id: format!("ses_send_deny/global/role/{name}"),
            region: "global".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let err = SesSendDeny.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("UnmodifiableEntity"));
        assert!(err.message.contains("only modifiable by AWS"), "{err}");
        assert!(err.message.contains("IAM Identity Center"), "{err}");
    }
}
