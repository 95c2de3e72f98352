//! `ses_send_deny`: an inline deny policy (`hikkonuki-ses-send-deny`) on every IAM user and role whose own
//! identity policies let it send mail through SES, so stolen credentials of those principals cannot send
//! even where the account-level pause is not possible (or is lifted early). An explicit deny beats every
//! allow, and the principal keeps all its other rights.
//!
//! A principal whose inline policies leave no room for it (IAM caps their total size) gets the same deny
//! as a customer-managed policy attached to it, after the session revocation has taken its share of the
//! room; with room for neither the cut is proposed disabled, saying why (see
//! [`crate::services::identity::policy_room`]).
//!
//! Undo deletes exactly that policy (detaches and deletes a managed one), and only while its document is
//! still ours: a policy edited since is someone's decision and is left alone, with a note. The caller's
//! own principal is listed but never cut. Not covered: rights granted through IAM groups (the user-level
//! deny would still apply to the user, but group-only senders are not discovered) and resource policies
//! on identities (`ses_identity_policy_remove` handles those).

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::same_document;
use crate::aws::{CallerIdentity, RegionCtx};
use crate::services::common::policy_principals::{action_matches, statements, strings};
use crate::services::identity::inline_policy::{self, Holder};
use crate::services::identity::managed_policy::{self, ManagedPolicyState, Removal};
use crate::services::identity::policy_room::{
    self, Placement, Policies, PolicyRoom, Quotas, READ_CONCURRENCY, policy_size,
};
use crate::services::identity::{ProtectedRole, iam_session_revoke, is_no_such_entity, listing};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct SesSendDeny;

static INFO: KindInfo = KindInfo {
    name: "ses_send_deny",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::Identity,
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
    /// What the principal's own policies hold against IAM's quotas. Absent in plans made before it was
    /// measured, whose deny goes inline as it always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<PolicyRoom>,
    /// hikkonuki's managed send deny for this principal: none before the cut; after it, when the inline
    /// room lacks and the deny goes there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policy: Option<ManagedPolicyState>,
}

/// What restore needs: which principal's policy to remove, and which managed policy when the deny went
/// in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub principal_type: PrincipalType,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policy_arn: Option<String>,
}

fn target(kind: PrincipalType, name: &str) -> String {
    format!("{}/{name}", kind.word())
}

/// True when an identity policy allows at least one sending action (by name, `ses:Send*`, `ses:*`, `*`, or
/// a NotAction that leaves sending out of its exclusions).
pub fn grants_sending(document: &Value) -> bool {
    statements(document).into_iter().any(|statement| {
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

/// The managed policy's name for a principal, when the deny goes there.
pub fn managed_policy_name(kind: PrincipalType, name: &str) -> String {
    managed_policy::name_for(POLICY_NAME, holder(kind, name))
}

/// Where the send deny goes on a principal with this room. The session revocation is placed first: it
/// goes on every principal hikkonuki cuts and ends stolen sessions, so it has first claim on the room.
/// The error says why neither fits.
fn placement_in(room: &PolicyRoom) -> Result<Placement, String> {
    room.place(&revocation_claim(room), policy_size(&deny_document()))
}

/// The room the session revocation takes first on a principal, in [`PolicyRoom::place`]'s terms.
fn revocation_claim(room: &PolicyRoom) -> Vec<(Placement, usize)> {
    match iam_session_revoke::placement_in(Some(room)) {
        Some(Ok(placement)) => vec![(placement, iam_session_revoke::revocation_characters())],
        _ => vec![],
    }
}

/// The proposal for one principal allowed to send; `account_arn` is any ARN in the account (the
/// caller's), for the managed policy's ARN.
pub fn propose(
    before: PrincipalState,
    granted_by: &[String],
    is_the_caller: bool,
    account_arn: &str,
) -> Proposal<PrincipalState> {
    let (kind, name) = (before.principal_type, before.name.clone());
    let managed_name = managed_policy_name(kind, &name);
    let managed_arn = managed_policy::arn_for(account_arn, &managed_name);
    // A cut proposed disabled for lack of room is tried inline if the operator enables it anyway, and
    // IAM's answer then says why not.
    let (managed, no_room) = match before.room.as_ref().map(placement_in) {
        Some(Ok(Placement::Managed)) => match &managed_arn {
            Some(arn) => (Some(arn.clone()), None),
            None => (
                None,
                Some(format!(
                    "its inline policies leave no room for the deny, and no managed policy can be named in the account of `{account_arn}`."
                )),
            ),
        },
        Some(Err(why)) => (None, Some(why)),
        Some(Ok(Placement::Inline)) | None => (None, None),
    };
    let after = match &managed {
        Some(arn) => PrincipalState {
            managed_policy: Some(ManagedPolicyState {
                arn: arn.clone(),
                document: deny_document(),
                attached: true,
            }),
            ..before.clone()
        },
        None => PrincipalState {
            deny_policy: Some(deny_document()),
            ..before.clone()
        },
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
    } else if let Some(existing) = &before.managed_policy {
        Some(if our_deny(&existing.document).is_some() {
            format!(
                "hikkonuki's managed policy {} already exists (an earlier apply not yet restored){}.",
                existing.arn,
                if existing.attached {
                    ": it already denies sending"
                } else {
                    ", detached: restore the earlier apply, or delete it, then plan again"
                }
            )
        } else {
            format!(
                "a managed policy {} exists that hikkonuki did not write; it is not overwritten: delete or rename it, then plan again.",
                existing.arn
            )
        })
    } else {
        no_room
    };
    let (holder_of_deny, why_managed) = match (&managed, &before.room) {
        (Some(arn), Some(room)) => {
            let earlier = revocation_claim(room)
                .iter()
                .filter(|(placement, _)| *placement == Placement::Inline)
                .map(|(_, size)| size)
                .sum();
            (
                format!("A customer-managed policy {managed_name} ({arn}) attached to it"),
                format!(
                    " It is not inline because {}.",
                    room.why_managed(earlier, policy_size(&deny_document()))
                ),
            )
        }
        _ => (format!("An inline {POLICY_NAME} policy"), String::new()),
    };
    Proposal {
        target: target(kind, &name),
        reason: format!(
            "IAM {} {name} may send mail through SES ({}). {holder_of_deny} denies {} to it; everything else it may do is untouched.{why_managed}",
            kind.word(),
            granted_by.join(", "),
            SEND_ACTIONS.join(", ")
        ),
        before,
        after,
        disabled_because,
    }
}

/// Our deny in the exact text this version writes when a document is one; any other as it is.
fn as_written(document: String) -> String {
    our_deny(&document).unwrap_or(document)
}

/// The principal's state from its policies: our inline deny, the room its own policies leave, and our
/// managed deny (named from `account_arn`, any ARN in the account).
async fn state_of(
    ctx: &RegionCtx,
    kind: PrincipalType,
    name: &str,
    policies: &Policies,
    account_arn: &str,
    quotas: Quotas,
) -> Result<PrincipalState, ServiceError> {
    let managed_policy =
        match managed_policy::arn_for(account_arn, &managed_policy_name(kind, name)) {
            Some(arn) => {
                managed_policy::document(ctx, &arn)
                    .await?
                    .map(|document| ManagedPolicyState {
                        attached: policies.is_attached(&arn),
                        arn,
                        document: as_written(document),
                    })
            }
            None => None,
        };
    Ok(PrincipalState {
        principal_type: kind,
        name: name.to_string(),
        deny_policy: policies
            .inline_document(POLICY_NAME)
            .map(|document| as_written(document.to_string())),
        room: Some(PolicyRoom::of(holder(kind, name), quotas, policies)),
        managed_policy,
    })
}

/// The live state of one cut's principal in the shape its `before` has; `None` when it is gone.
async fn observe_one(
    ctx: &RegionCtx,
    cut: &TypedCut<PrincipalState>,
    quotas: Option<Quotas>,
) -> Result<Option<PrincipalState>, ServiceError> {
    let before = &cut.before;
    let principal = holder(before.principal_type, &before.name);
    let Some(quotas) = quotas.filter(|_| before.room.is_some()) else {
        // A plan made before the room was measured: its deny is inline only.
        if !inline_policy::exists(ctx, principal).await? {
            return Ok(None);
        }
        return Ok(Some(PrincipalState {
            deny_policy: inline_policy::get(ctx, principal, POLICY_NAME).await?,
            ..before.clone()
        }));
    };
    let Some(arn) = inline_policy::arn(ctx, principal).await? else {
        return Ok(None);
    };
    let policies = match policy_room::read(ctx, principal).await {
        Ok(policies) => policies,
        Err(err) if is_no_such_entity(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    state_of(
        ctx,
        before.principal_type,
        &before.name,
        &policies,
        &arn,
        quotas,
    )
    .await
    .map(Some)
}

/// The labels of the policies that let a principal send, empty when none does: its inline policies, and
/// the default version of each managed policy attached to it. Every one is read, hikkonuki's own names
/// and path included: those hold denies, which grant nothing, and a policy that only takes such a name
/// or path (which anyone who can write IAM policies can give one) must not hide a grant.
pub(crate) async fn sending_grants(
    ctx: &RegionCtx,
    policies: &Policies,
) -> Result<Vec<String>, ServiceError> {
    let mut grants: Vec<String> = policies
        .inline
        .iter()
        .filter_map(|(policy, document)| {
            sending_grant(document).map(|grant| format!("inline {policy}{grant}"))
        })
        .collect();
    for attached in &policies.attached {
        if let Some(grant) = managed_policy::document(ctx, &attached.arn)
            .await?
            .and_then(|document| sending_grant(&document))
        {
            grants.push(format!("attached {}{grant}", attached.arn));
        }
    }
    Ok(grants)
}

/// Whether a policy lets its holder send: `Some("")` when it does, `Some(note)` when it does not parse
/// (what it allows cannot be read, so it counts as allowing: the deny is harmless if it does not, and a
/// principal passed over would keep sending; issue 11), `None` when it does not.
fn sending_grant(document: &str) -> Option<&'static str> {
    match serde_json::from_str::<Value>(document) {
        Ok(doc) => grants_sending(&doc).then_some(""),
        Err(_) => Some(" (does not parse as a policy, so it is counted as letting it send)"),
    }
}

/// The principal as inline policies name it.
fn holder(kind: PrincipalType, name: &str) -> Holder<'_> {
    match kind {
        PrincipalType::User => Holder::User(name),
        PrincipalType::Role => Holder::Role(name),
    }
}

/// The managed policy a cut creates and attaches, when its deny goes there: `after` names one that
/// `before` does not have.
fn managed_target(cut: &TypedCut<PrincipalState>) -> Option<&ManagedPolicyState> {
    cut.after
        .managed_policy
        .as_ref()
        .filter(|after| cut.before.managed_policy.as_ref() != Some(*after))
}

#[async_trait]
impl CutKind for SesSendDeny {
    type State = PrincipalState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// A policy already at hikkonuki's name (an earlier apply's deny not yet restored, or someone's;
    /// discovery proposes the cut switched off) would be overwritten, or CreatePolicy refused after the
    /// intent, and restore would then remove what the cut never wrote.
    fn refuses(&self, cut: &TypedCut<PrincipalState>) -> Option<String> {
        let before = &cut.before;
        let existing = match (&before.deny_policy, &before.managed_policy) {
            (Some(_), _) => format!("an inline policy named {POLICY_NAME}"),
            (None, Some(managed)) => format!("the managed policy {}", managed.arn),
            (None, None) => return None,
        };
        Some(format!(
            "{existing} is already on {}: writing the deny would overwrite or collide with it, and restore would then remove it (remove or rename it, or restore the earlier apply, then plan again)",
            cut.target
        ))
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
        if after.room != before.room {
            return Err("`after.room` must be `before.room`: the cut changes none of the principal's own policies".into());
        }
        match managed_target(cut) {
            None => {
                if after.deny_policy.as_deref().and_then(our_deny).is_none() {
                    return Err(format!(
                        "`after.deny_policy` must be hikkonuki's own deny document {}",
                        deny_document()
                    ));
                }
            }
            Some(managed) => {
                let name = managed_policy_name(before.principal_type, &before.name);
                if before.room.is_none()
                    || !managed.attached
                    || our_deny(&managed.document).is_none()
                    || !managed
                        .arn
                        .ends_with(&format!(":policy{}{name}", managed_policy::PATH))
                    || after.deny_policy != before.deny_policy
                {
                    return Err(format!(
                        "`after.managed_policy` must be hikkonuki's policy {}{name}, attached, with its own deny document {} (and only where `before.room` was measured)",
                        managed_policy::PATH,
                        deny_document()
                    ));
                }
            }
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<PrincipalState>>, ServiceError> {
        let (users, roles) = futures_util::try_join!(listing::users(ctx), listing::roles(ctx))?;
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
        let quotas = policy_room::quotas(ctx).await?;
        let account_arn = scope.caller.arn.as_str();
        let found: Vec<Option<Proposal<PrincipalState>>> = stream::iter(principals)
            .map(|(kind, name, arn)| async move {
                let policies = match policy_room::read(ctx, holder(kind, &name)).await {
                    Ok(policies) => policies,
                    // Deleted since it was listed.
                    Err(err) if is_no_such_entity(&err) => return Ok(None),
                    Err(err) => return Err(err),
                };
                let granted_by = sending_grants(ctx, &policies).await?;
                if granted_by.is_empty() {
                    return Ok(None);
                }
                let before = state_of(ctx, kind, &name, &policies, account_arn, quotas).await?;
                Ok(Some(propose(
                    before,
                    &granted_by,
                    is_caller(&scope.caller, kind, &name, &arn),
                    account_arn,
                )))
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut proposed: Vec<_> = found.into_iter().flatten().collect();
        proposed.sort_by(|a, b| a.target.cmp(&b.target));
        Ok(proposed)
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PrincipalState>,
    ) -> Result<Option<PrincipalState>, ServiceError> {
        let quotas = match cut.before.room {
            Some(_) => Some(policy_room::quotas(ctx).await?),
            None => None,
        };
        observe_one(ctx, cut, quotas).await
    }

    /// The account's quotas are read once for all the cuts, and the principals a few at a time.
    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[TypedCut<PrincipalState>],
    ) -> Vec<Result<Option<PrincipalState>, ServiceError>> {
        policy_room::observe_with_quotas(
            ctx,
            cuts,
            |cut| cut.before.room.is_some(),
            |cut, quotas| observe_one(ctx, cut, quotas),
        )
        .await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PrincipalState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let before = &cut.before;
        let principal = holder(before.principal_type, &before.name);
        // The deny the plan shows, in our exact text: a plan written before the deny named
        // SendCustomVerificationEmail puts the deny its operator reviewed.
        let not_ours = || {
            ServiceError::local(
                INFO.name,
                format!("{}: `after` does not hold hikkonuki's deny", cut.id),
            )
        };
        match managed_target(cut) {
            Some(managed) => {
                let deny = our_deny(&managed.document).ok_or_else(not_ours)?;
                managed_policy::create_and_attach(
                    ctx,
                    principal,
                    &managed.arn,
                    &managed_policy_name(before.principal_type, &before.name),
                    &deny,
                    &format!(
                        "hikkonuki: denies sending mail through SES to {}; restore removes it",
                        principal.target()
                    ),
                )
                .await?;
            }
            None => {
                let deny = cut
                    .after
                    .deny_policy
                    .as_deref()
                    .and_then(our_deny)
                    .ok_or_else(not_ours)?;
                inline_policy::put(ctx, principal, POLICY_NAME, &deny).await?;
            }
        }
        Ok(record)
    }

    /// The plan names the managed policy's ARN before apply, so a crash between CreatePolicy and the
    /// attach still leaves restore everything it needs to find and remove it.
    fn undo_record_for(&self, cut: &TypedCut<PrincipalState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            principal_type: cut.before.principal_type,
            name: cut.before.name.clone(),
            managed_policy_arn: managed_target(cut).map(|managed| managed.arn.clone()),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let who = format!("IAM {} {}", undo.principal_type.word(), undo.name);
        let principal = holder(undo.principal_type, &undo.name);
        if let Some(arn) = &undo.managed_policy_arn {
            let removal =
                managed_policy::remove(ctx, principal, arn, |live| our_deny(live).is_some())
                    .await?;
            let note = match removal {
                Removal::Gone => format!("managed policy {arn} already removed ({who})"),
                Removal::Changed => format!(
                    "conflict: managed policy {arn} ({who}) was changed after the cut; left in place, attached or not (detach and delete it by hand if it should go)"
                ),
                Removal::Removed => {
                    format!("removed managed policy {arn} from {who} (detached and deleted)")
                }
                Removal::DetachedOnly(why) => format!(
                    "detached managed policy {arn} from {who}, but did not delete it ({why}); delete it by hand once nothing else uses it"
                ),
            };
            return Ok(UndoOutcome { notes: vec![note] });
        }
        if !inline_policy::exists(ctx, principal).await? {
            return Ok(UndoOutcome {
                notes: vec![format!("{who} no longer exists; nothing to remove")],
            });
        }
        let note = match inline_policy::get(ctx, principal, POLICY_NAME).await? {
            None => format!("{POLICY_NAME} already removed from {who}"),
            Some(document) if our_deny(&document).is_some() => {
                inline_policy::delete(ctx, principal, POLICY_NAME).await?;
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

    #[tokio::test]
    async fn a_grant_under_hikkonukis_policy_name_is_read_like_any_other() {
        let ctx = RegionCtx::for_tests("us-east-1");
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
        let posing = Policies {
            inline: vec![("hikkonuki-session-revocation".into(), allow.into())],
            attached: vec![],
        };
        assert_eq!(
            sending_grants(&ctx, &posing).await.unwrap(),
            ["inline hikkonuki-session-revocation"]
        );
        // The real one denies, and grants nothing.
        let ours = Policies {
            inline: vec![(
                "hikkonuki-session-revocation".into(),
                crate::services::identity::iam_session_revoke::revocation_document(
                    "2026-11-30T00:00:00Z",
                ),
            )],
            attached: vec![],
        };
        assert!(sending_grants(&ctx, &ours).await.unwrap().is_empty());
    }
    use crate::services::identity::tests as fixtures;

    /// An inline policy that lets its holder send.
    const SEND: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}"#;

    /// The caller's ARN the test scopes use: it names the account for managed policies.
    const ACCOUNT_ARN: &str = "arn:aws:iam::123456789012:user/r";

    /// A proposal as a plan made before the room was measured holds it (the deny inline).
    fn legacy_proposal(
        kind: PrincipalType,
        name: &str,
        existing: Option<String>,
        is_the_caller: bool,
    ) -> Proposal<PrincipalState> {
        propose(
            PrincipalState {
                principal_type: kind,
                name: name.to_string(),
                deny_policy: existing,
                room: None,
                managed_policy: None,
            },
            &["inline send".into()],
            is_the_caller,
            ACCOUNT_ARN,
        )
    }

    fn caller(arn: &str) -> CallerIdentity {
        CallerIdentity {
            account: "123456789012".into(),
            arn: arn.into(),
            user_id: "AIDA".into(),
            access_key_id: None,
            source: None,
            entered_by: None,
            profile_roles: Vec::new(),
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
        let proposed = legacy_proposal(PrincipalType::User, "alice", None, true);
        assert!(
            proposed
                .disabled_because
                .unwrap()
                .contains("caller's own principal")
        );
        let other = legacy_proposal(PrincipalType::User, "bob", None, false);
        assert_eq!(other.disabled_because, None);
        assert_eq!(other.target, "user/bob");
        // Ours already there (applied, not restored) versus someone else's policy of that name.
        let ours = legacy_proposal(PrincipalType::User, "bob", Some(deny_document()), false);
        assert!(
            ours.disabled_because
                .unwrap()
                .contains("already denies sending")
        );
        let theirs = legacy_proposal(
            PrincipalType::User,
            "bob",
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
        let proposed = legacy_proposal(PrincipalType::User, name, None, false);
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
        use aws_sdk_iam::operation::list_roles::ListRolesOutput;
        use aws_sdk_iam::operation::list_users::ListUsersOutput;

        let users = mock!(Client::list_users).then_output(|| {
            ListUsersOutput::builder()
                .set_users(Some(vec![]))
                .build()
                .unwrap()
        });
        let roles = mock!(Client::list_roles).then_output(move || {
            ListRolesOutput::builder()
                .roles(fixtures::role("app", "/"))
                .roles(fixtures::role(
                    "AWSReservedSSO_Admin_0123",
                    "/aws-reserved/sso.amazonaws.com/",
                ))
                .roles(fixtures::role(
                    "AWSServiceRoleForSupport",
                    "/aws-service-role/support.amazonaws.com/",
                ))
                .build()
                .unwrap()
        });
        let mut rules = vec![
            users,
            roles,
            fixtures::account_summary(),
            fixtures::no_managed_policy(),
        ];
        rules.extend(fixtures::principal_reads(
            Holder::Role("app"),
            &[("send", SEND.to_string())],
            &[],
        ));
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
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
        let proposed = legacy_proposal(PrincipalType::Role, name, None, false);
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

    /// A deny proposed switched off because an inline policy of hikkonuki's name is already on the
    /// principal is refused whoever switches it on (apply leaves it out before journaling anything):
    /// PutUserPolicy would overwrite that policy and restore would then delete it.
    #[test]
    fn a_deny_over_an_existing_policy_is_refused_whoever_enables_it() {
        let theirs = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"}]}"#;
        let proposed = legacy_proposal(PrincipalType::User, "mailer", Some(theirs.into()), false);
        assert!(proposed.disabled_because.is_some(), "proposed switched off");
        let cut = TypedCut {
            id: "ses_send_deny/global/user/mailer".into(),
            region: "global".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let why = SesSendDeny.refuses(&cut).expect("refused");
        assert!(
            why.starts_with(
                "an inline policy named hikkonuki-ses-send-deny is already on user/mailer"
            ) && why.contains("restore would then remove it"),
            "{why}"
        );
        let clean = legacy_proposal(PrincipalType::User, "mailer", None, false);
        let cut = TypedCut {
            id: "ses_send_deny/global/user/mailer".into(),
            region: "global".into(),
            target: clean.target,
            before: clean.before,
            after: clean.after,
        };
        assert_eq!(SesSendDeny.refuses(&cut), None);
    }

    /// The SES deny is placed after the session revocation, which has first claim on the room: a
    /// principal with room for the revocation alone gets the deny as a managed policy; one whose last
    /// managed-policy slot goes to the revocation gets the deny proposed disabled, saying why.
    #[tokio::test]
    async fn mocked_discovery_places_the_deny_after_the_session_revocation() {
        use aws_sdk_iam::operation::list_roles::ListRolesOutput;
        use aws_sdk_iam::operation::list_users::ListUsersOutput;

        let revocation = iam_session_revoke::revocation_characters();
        let deny = policy_size(&deny_document());
        let send = policy_size(SEND);
        let users = mock!(Client::list_users).then_output(|| {
            ListUsersOutput::builder()
                .users(fixtures::user("roomy"))
                .users(fixtures::user("crowded"))
                .users(fixtures::user("full"))
                .build()
                .unwrap()
        });
        let roles = mock!(Client::list_roles).then_output(|| {
            ListRolesOutput::builder()
                .set_roles(Some(vec![]))
                .build()
                .unwrap()
        });
        let nine_attached: Vec<&'static str> = (0..9)
            .map(|i| {
                &*Box::leak(format!("arn:aws:iam::123456789012:policy/team-{i}").into_boxed_str())
            })
            .collect();
        let mut rules = vec![
            users,
            roles,
            fixtures::account_summary(),
            fixtures::no_managed_policy(),
        ];
        rules.extend(fixtures::principal_reads(
            Holder::User("roomy"),
            &[("send", SEND.to_string())],
            &[],
        ));
        // Room for the revocation and one character short of room for the deny too.
        rules.extend(fixtures::principal_reads(
            Holder::User("crowded"),
            &[
                ("send", SEND.to_string()),
                (
                    "team",
                    fixtures::policy_of_size(2_048 - revocation - deny - send + 1),
                ),
            ],
            &[],
        ));
        // No inline room, and the revocation takes the last managed-policy slot.
        rules.extend(fixtures::principal_reads(
            Holder::User("full"),
            &[
                ("send", SEND.to_string()),
                ("team", fixtures::policy_of_size(2_000)),
            ],
            &nine_attached,
        ));
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let proposed = SesSendDeny
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        let by_target = |target: &str| {
            proposed
                .iter()
                .find(|p| p.target == target)
                .unwrap_or_else(|| panic!("{target}: {proposed:?}"))
        };

        let roomy = by_target("user/roomy");
        assert_eq!(roomy.after.deny_policy, Some(deny_document()));
        assert_eq!(roomy.after.managed_policy, None);

        let crowded = by_target("user/crowded");
        assert_eq!(crowded.disabled_because, None);
        assert_eq!(crowded.after.deny_policy, None);
        assert_eq!(
            crowded.after.managed_policy,
            Some(ManagedPolicyState {
                arn: "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-ses-send-deny-user-crowded"
                    .into(),
                document: deny_document(),
                attached: true,
            })
        );
        assert!(
            crowded
                .reason
                .contains("plus hikkonuki's session revocation"),
            "{}",
            crowded.reason
        );
        let cut = TypedCut {
            id: "ses_send_deny/global/user/crowded".into(),
            region: "global".into(),
            target: crowded.target.clone(),
            before: crowded.before.clone(),
            after: crowded.after.clone(),
        };
        assert_eq!(SesSendDeny.check_states(&cut), Ok(()));

        let full = by_target("user/full");
        let why = full.disabled_because.as_deref().unwrap();
        assert!(
            why.contains("no deny fits") && why.contains("session revocation"),
            "{why}"
        );
    }

    fn managed_cut() -> TypedCut<PrincipalState> {
        let proposed = propose(
            PrincipalState {
                principal_type: PrincipalType::User,
                name: "mailer".into(),
                deny_policy: None,
                room: Some(PolicyRoom {
                    inline_characters: 2_000,
                    inline_quota: 2_048,
                    attached_policies: 0,
                    attached_quota: 10,
                }),
                managed_policy: None,
            },
            &["inline send".into()],
            false,
            ACCOUNT_ARN,
        );
        TypedCut {
            id: "ses_send_deny/global/user/mailer".into(),
            region: "global".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    const MANAGED_ARN: &str =
        "arn:aws:iam::123456789012:policy/hikkonuki/hikkonuki-ses-send-deny-user-mailer";

    /// GetPolicy and GetPolicyVersion answering with `document` as the default version.
    fn managed_policy_reads(document: String) -> Vec<aws_smithy_mocks::Rule> {
        use aws_sdk_iam::operation::get_policy::GetPolicyOutput;
        use aws_sdk_iam::operation::get_policy_version::GetPolicyVersionOutput;
        use aws_sdk_iam::types::{Policy, PolicyVersion};

        vec![
            mock!(Client::get_policy)
                .match_requests(|r| r.policy_arn() == Some(MANAGED_ARN))
                .then_output(|| {
                    GetPolicyOutput::builder()
                        .policy(
                            Policy::builder()
                                .arn(MANAGED_ARN)
                                .default_version_id("v1")
                                .build(),
                        )
                        .build()
                }),
            mock!(Client::get_policy_version).then_output(move || {
                GetPolicyVersionOutput::builder()
                    .policy_version(
                        PolicyVersion::builder()
                            .version_id("v1")
                            .document(document.clone())
                            .build(),
                    )
                    .build()
            }),
        ]
    }

    #[tokio::test]
    async fn mocked_a_managed_deny_is_created_attached_and_removed_exactly() {
        use aws_sdk_iam::operation::attach_user_policy::AttachUserPolicyOutput;
        use aws_sdk_iam::operation::create_policy::CreatePolicyOutput;
        use aws_sdk_iam::operation::delete_policy::DeletePolicyOutput;
        use aws_sdk_iam::operation::detach_user_policy::DetachUserPolicyOutput;
        use aws_sdk_iam::types::Policy;

        let cut = managed_cut();
        assert_eq!(SesSendDeny.check_states(&cut), Ok(()));
        let created = mock!(Client::create_policy)
            .match_requests(|r| {
                r.path() == Some("/hikkonuki/")
                    && r.policy_name() == Some("hikkonuki-ses-send-deny-user-mailer")
                    && r.policy_document() == Some(deny_document().as_str())
            })
            .then_output(|| {
                CreatePolicyOutput::builder()
                    .policy(Policy::builder().arn(MANAGED_ARN).build())
                    .build()
            });
        let attach = mock!(Client::attach_user_policy)
            .match_requests(|r| {
                r.user_name() == Some("mailer") && r.policy_arn() == Some(MANAGED_ARN)
            })
            .then_output(|| AttachUserPolicyOutput::builder().build());
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&created, &attach]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let record = SesSendDeny.apply(&ctx, &cut).await.unwrap();
        assert_eq!((created.num_calls(), attach.num_calls()), (1, 1));
        // What a crash before the completion was journaled leaves restore: the same record.
        assert_eq!(SesSendDeny.undo_record_for(&cut).unwrap(), record);
        assert_eq!(record.managed_policy_arn.as_deref(), Some(MANAGED_ARN));

        let detach = mock!(Client::detach_user_policy)
            .match_requests(|r| {
                r.user_name() == Some("mailer") && r.policy_arn() == Some(MANAGED_ARN)
            })
            .then_output(|| DetachUserPolicyOutput::builder().build());
        let delete = mock!(Client::delete_policy)
            .match_requests(|r| r.policy_arn() == Some(MANAGED_ARN))
            .then_output(|| DeletePolicyOutput::builder().build());
        let mut rules = managed_policy_reads(deny_document());
        rules.extend([detach.clone(), delete.clone()]);
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let outcome = SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!((detach.num_calls(), delete.num_calls()), (1, 1));
        assert_eq!(
            outcome.notes,
            vec![format!(
                "removed managed policy {MANAGED_ARN} from IAM user mailer (detached and deleted)"
            )]
        );

        // Edited since: left in place, attached.
        let mut rules = managed_policy_reads(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        rules.extend([detach.clone(), delete.clone()]);
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let outcome = SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!((detach.num_calls(), delete.num_calls()), (1, 1));
        assert!(outcome.notes[0].starts_with("conflict:"), "{outcome:?}");
    }

    /// AWS's answer when IAM refuses to delete the policy because it is attached elsewhere too
    /// (DeletePolicy, DeleteConflict): ours is detached from the principal and the rest is reported.
    #[tokio::test]
    async fn mocked_a_managed_deny_attached_elsewhere_too_is_detached_and_reported() {
        use aws_sdk_iam::operation::delete_policy::DeletePolicyError;
        use aws_sdk_iam::operation::detach_user_policy::DetachUserPolicyOutput;

        let record = SesSendDeny.undo_record_for(&managed_cut()).unwrap();
        let message = "Cannot delete a policy attached to entities.";
        let detach = mock!(Client::detach_user_policy)
            .then_output(|| DetachUserPolicyOutput::builder().build());
        let delete = mock!(Client::delete_policy).then_error(move || {
            DeletePolicyError::DeleteConflictException(
                aws_sdk_iam::types::error::DeleteConflictException::builder()
                    .message(message)
                    .meta(
                        aws_sdk_iam::error::ErrorMetadata::builder()
                            .code("DeleteConflict")
                            .message(message)
                            .build(),
                    )
                    .build(),
            )
        });
        let mut rules = managed_policy_reads(deny_document());
        rules.extend([detach.clone(), delete]);
        let client = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &rules);
        let ctx = RegionCtx::for_tests("us-east-1").mock_iam(client);
        let outcome = SesSendDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(detach.num_calls(), 1);
        assert!(
            outcome.notes[0].contains("did not delete it")
                && outcome.notes[0].contains("attached to entities"),
            "{outcome:?}"
        );
    }
}
