//! `iam_session_revoke`: deactivating an access key does not end the sessions already issued from it
//! (AssumeRole and GetSessionToken credentials live up to 36 hours). An inline policy denying everything
//! to tokens issued before the apply (`aws:TokenIssueTime` earlier than then) makes every such session
//! useless at once, while new sessions, signed in after the apply by people who still hold valid
//! credentials, keep working. It goes on every IAM user and role except the caller's own, and except
//! the roles AWS protects (service-linked roles, and those IAM Identity Center creates), which take no
//! inline policy.
//!
//! IAM limits the total size of a principal's inline policies: a principal with little room left gets
//! the same deny as a customer-managed policy attached to it instead, and one with room for neither is
//! proposed disabled, saying why ([`super::policy_room`], [`super::managed_policy`]). `before` records
//! the room measured, `after` where the deny goes.
//!
//! The plan cannot know the apply time, so `after` holds a placeholder and the real document is recorded
//! in the undo record apply returns. Restore keeps the policy unless `--lift-session-revocation` is
//! passed: lifting it revives every stolen session issued before the apply.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::iam_credential_deactivate::user_names;
use super::inline_policy::{self, Holder};
use super::managed_policy::{self, ManagedPolicyState, Removal};
use super::policy_room::{self, Placement, PolicyRoom, Quotas, READ_CONCURRENCY, policy_size};
use super::{CallerPrincipal, ProtectedRole, is_no_such_entity};
use crate::aws::{CallerIdentity, RegionCtx};
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, RestoreGate, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct SessionRevoke;

static INFO: KindInfo = KindInfo {
    name: "iam_session_revoke",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::Identity,
};

/// The inline policy's name on every principal.
pub const POLICY_NAME: &str = "hikkonuki-session-revocation";

/// What `after` says in place of the apply time, which the plan cannot know.
pub const AT_APPLY: &str = "the moment of apply";

/// The statement ID that marks a document as ours, for undo records written before the apply time was
/// known (a crash mid-call).
const SID: &str = "HikkonukiRevokeSessionsIssuedBeforeApply";

/// The one gate every session revocation shares (this kind's IAM policies, and the statement
/// `identity_center_session_revoke` adds to permission sets): one flag lifts them all, and the registry
/// declares it once.
pub const SESSION_REVOCATION_GATE: RestoreGate = RestoreGate {
    flag: "--lift-session-revocation",
    why: "lifting it revives every session issued before the apply, stolen ones included",
    help: "Also remove the session-revocation denies (iam_session_revoke's policies, identity_center_session_revoke's statements in permission sets). This revives every session issued before the apply, including stolen ones: only after the stolen keys are dealt with.",
};

/// An IAM user or role, as the cut's target names it: `user/NAME` or `role/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(String),
    Role(String),
}

impl Principal {
    pub fn parse(target: &str) -> Option<Principal> {
        match target.split_once('/') {
            Some(("user", name)) if !name.is_empty() => Some(Principal::User(name.to_string())),
            Some(("role", name)) if !name.is_empty() => Some(Principal::Role(name.to_string())),
            _ => None,
        }
    }

    pub fn target(&self) -> String {
        match self {
            Principal::User(name) => format!("user/{name}"),
            Principal::Role(name) => format!("role/{name}"),
        }
    }

    fn noun(&self) -> &'static str {
        match self {
            Principal::User(_) => "IAM user",
            Principal::Role(_) => "IAM role",
        }
    }

    fn name(&self) -> &str {
        match self {
            Principal::User(name) | Principal::Role(name) => name,
        }
    }

    /// Every current session ends, not only stolen ones: what that means for the principal's legitimate
    /// users. Workload credentials come from the service, which hands out the same session until it
    /// renews it (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).
    fn who_else_loses_sessions(&self) -> &'static str {
        match self {
            Principal::User(_) => {
                "Every current session of the user ends, not only stolen ones: people and programs using them must sign in (or call GetSessionToken) again."
            }
            Principal::Role(_) => {
                "Every current session of the role ends, not only stolen ones: workloads running as it (EC2 instance profiles, Lambda functions, ECS tasks) lose theirs too and fail until they fetch fresh credentials (EC2 keeps serving the instance profile's old credentials until it renews them, so restart the instances or re-associate the profile; redeploy ECS tasks; Lambda's new execution environments get new ones), and people who assumed it must assume it again."
            }
        }
    }

    fn holder(&self) -> Holder<'_> {
        match self {
            Principal::User(name) => Holder::User(name),
            Principal::Role(name) => Holder::Role(name),
        }
    }
}

/// A principal as `before` records it, and as `observe` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationState {
    /// `user/NAME` or `role/NAME`: the cut's target.
    pub principal: String,
    pub policy_name: String,
    /// The inline policy of that name already on the principal, parsed; normally none.
    #[serde(default)]
    pub existing_policy: Option<Value>,
    /// What the principal's own policies hold against IAM's quotas. Absent in plans made before it was
    /// measured, whose deny goes inline as it always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<PolicyRoom>,
    /// hikkonuki's managed revocation policy for this principal, when it exists (normally it does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policy: Option<ManagedPolicyState>,
}

/// What the cut leaves, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationAfter {
    pub principal: String,
    pub policy_name: String,
    /// Always `*` on `*`.
    pub denies: String,
    /// [`AT_APPLY`]: the real time is in the undo record.
    pub token_issued_before: String,
    /// Where the deny goes; absent in plans made before this was decided, whose deny goes inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The managed policy hikkonuki creates and attaches, when the deny goes there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policy_arn: Option<String>,
}

/// A cut's `before` or `after`, which record different things: `before` (and `observe`) the principal's
/// inline policy as it stands, `after` the deny the cut puts. Each is written exactly as its struct, so
/// plans keep their shape; reading tells them apart by their fields (see `RevocationDocument`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, try_from = "RevocationDocument")]
pub enum Revocation {
    Current(RevocationState),
    Planned(RevocationAfter),
}

/// Either state as a plan holds it. Read through this rather than by trying each struct in turn, so a
/// document that fits neither is refused naming the field at fault, as when each was read on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevocationDocument {
    principal: String,
    policy_name: String,
    /// Outer `Some` when the field is there at all, even as `null`: it belongs to `before` only.
    #[serde(default, deserialize_with = "present")]
    existing_policy: Option<Option<Value>>,
    #[serde(default)]
    room: Option<PolicyRoom>,
    #[serde(default)]
    managed_policy: Option<ManagedPolicyState>,
    #[serde(default)]
    denies: Option<String>,
    #[serde(default)]
    token_issued_before: Option<String>,
    #[serde(default)]
    placement: Option<Placement>,
    #[serde(default)]
    managed_policy_arn: Option<String>,
}

fn present<'de, D: Deserializer<'de>>(value: D) -> Result<Option<Option<Value>>, D::Error> {
    Option::<Value>::deserialize(value).map(Some)
}

impl TryFrom<RevocationDocument> for Revocation {
    type Error = String;

    fn try_from(doc: RevocationDocument) -> Result<Revocation, String> {
        let RevocationDocument {
            principal,
            policy_name,
            existing_policy,
            room,
            managed_policy,
            denies,
            token_issued_before,
            placement,
            managed_policy_arn,
        } = doc;
        let records_before =
            existing_policy.is_some() || room.is_some() || managed_policy.is_some();
        let records_after = denies.is_some()
            || token_issued_before.is_some()
            || placement.is_some()
            || managed_policy_arn.is_some();
        if records_before && records_after {
            return Err(
                "existing_policy, room and managed_policy record the principal before the cut; denies, token_issued_before, placement and managed_policy_arn the deny after it: a state has one or the other"
                    .into(),
            );
        }
        if !records_after {
            return Ok(Revocation::Current(RevocationState {
                principal,
                policy_name,
                existing_policy: existing_policy.flatten(),
                room,
                managed_policy,
            }));
        }
        match (denies, token_issued_before) {
            (Some(denies), Some(token_issued_before)) => Ok(Revocation::Planned(RevocationAfter {
                principal,
                policy_name,
                denies,
                token_issued_before,
                placement,
                managed_policy_arn,
            })),
            (Some(_), None) => Err("missing field `token_issued_before`".into()),
            (None, _) => Err("missing field `denies`".into()),
        }
    }
}

/// What restore needs: which policy to delete, and the document apply wrote, so a policy changed since
/// is recognised and left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub principal: String,
    pub policy_name: String,
    /// Exactly as written; absent when apply was interrupted before recording it, in which case any
    /// document of our shape counts as ours.
    #[serde(default)]
    pub policy_document: Option<String>,
    /// Set when the deny went in a managed policy: restore detaches and deletes that policy (only while
    /// its document is ours) instead of deleting the inline one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policy_arn: Option<String>,
}

/// The policy that revokes every session issued before `issued_before` (RFC 3339 UTC).
pub fn revocation_document(issued_before: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": SID,
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
        }]
    })
    .to_string()
}

/// Whether a document is a revocation this kind writes, whatever its time.
pub fn is_revocation_document(document: &Value) -> bool {
    let time = document
        .pointer("/Statement/0/Condition/DateLessThan/aws:TokenIssueTime")
        .and_then(Value::as_str);
    match time {
        Some(time) => {
            document["Statement"].as_array().map(Vec::len) == Some(1)
                && serde_json::from_str::<Value>(&revocation_document(time)).ok()
                    == Some(document.clone())
        }
        None => false,
    }
}

/// The cut-off of a revocation document this kind writes: sessions issued before it are revoked.
pub fn revocation_cutoff(document: &Value) -> Option<&str> {
    if !is_revocation_document(document) {
        return None;
    }
    document
        .pointer("/Statement/0/Condition/DateLessThan/aws:TokenIssueTime")
        .and_then(Value::as_str)
}

/// Now, to the second, as RFC 3339 UTC (`2026-11-28T20:05:19Z`): the form IAM condition dates take.
pub fn now_utc() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}

/// Seconds since the epoch as RFC 3339 UTC, the form IAM condition dates take; `None` out of range.
fn rfc3339_at(seconds: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The cut-off the revocation puts, from the `Date` header of an AWS answer received at apply (an HTTP
/// date such as `Sun, 29 Nov 2026 00:09:40 GMT`: AWS's clock, whatever this machine's says). The header
/// is truncated to the second, so the answer left AWS somewhere in that second: the next second is the
/// first one certainly after the call, and every session issued up to the call is denied. `None` when the
/// header is absent or unreadable.
pub fn cutoff_from_date_header(date: &str) -> Option<String> {
    let date = aws_smithy_types::DateTime::from_str(
        date.trim(),
        aws_smithy_types::date_time::Format::HttpDate,
    )
    .ok()?;
    rfc3339_at(date.secs().checked_add(1)?)
}

/// Keeps the `Date` header of the answer to the one call it is attached to.
#[derive(Debug, Clone, Default)]
pub struct ResponseDate(Arc<Mutex<Option<String>>>);

impl ResponseDate {
    pub fn take(&self) -> Option<String> {
        self.0.lock().map(|mut date| date.take()).unwrap_or(None)
    }
}

impl Intercept for ResponseDate {
    fn name(&self) -> &'static str {
        "hikkonuki-response-date"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date")
            && let Ok(mut kept) = self.0.lock()
        {
            *kept = Some(date.to_string());
        }
        Ok(())
    }
}

/// The revocation's cut-off, taken when the cut runs: AWS's own time from the answer to GetUser or
/// GetRole on the principal (which also finds a principal deleted since the plan). A slow local clock
/// would put the cut-off in the past and spare the sessions issued since; AWS's clock does not depend on
/// this machine. The SDK corrects a skewed clock when signing, so a successful call does not prove the
/// local clock right. Only when AWS's answer carries no readable `Date` (every HTTP/1.1 origin server with
/// a clock sends one, RFC 9110 section 6.6.1) is the local clock used.
async fn cutoff_at_apply(ctx: &RegionCtx, principal: &Principal) -> Result<String, ServiceError> {
    let date = ResponseDate::default();
    match principal {
        Principal::User(name) => ctx
            .iam()
            .get_user()
            .user_name(name)
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("iam:GetUser", err))?,
        Principal::Role(name) => ctx
            .iam()
            .get_role()
            .role_name(name)
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("iam:GetRole", err))?,
    }
    Ok(date
        .take()
        .as_deref()
        .and_then(cutoff_from_date_header)
        .unwrap_or_else(now_utc))
}

/// The size of the revocation as IAM counts it against the quotas: the same whatever the cut-off, whose
/// RFC 3339 form is always 20 characters.
pub fn revocation_characters() -> usize {
    policy_size(&revocation_document("2000-01-01T00:00:00Z"))
}

/// The managed policy's name for a principal, when the deny goes there.
pub fn managed_policy_name(principal: &Principal) -> String {
    managed_policy::name_for(POLICY_NAME, principal.holder())
}

/// Where the revocation goes on a principal with this room: it is placed first, before any other deny
/// of hikkonuki's. `None` for a plan made before the room was measured (inline, as then).
pub fn placement_in(room: Option<&PolicyRoom>) -> Option<Result<Placement, String>> {
    room.map(|room| room.place(&[], revocation_characters()))
}

/// The proposal for one principal; `account_arn` is any ARN in the account (the caller's), for the
/// managed policy's ARN. A policy of our name already there (inline or managed: a revocation not lifted,
/// or someone else's) is never overwritten: the cut is listed but disabled, saying so; so is one with
/// room for the deny neither inline nor as a managed policy.
pub fn propose(state: &RevocationState, account_arn: &str) -> Proposal<Revocation> {
    let principal = Principal::parse(&state.principal).expect("built from a principal");
    let managed_name = managed_policy_name(&principal);
    let managed_arn = managed_policy::arn_for(account_arn, &managed_name);
    // Where the deny goes, and why it cannot go anywhere. A cut proposed disabled for lack of room is
    // tried inline if the operator enables it anyway, and IAM's answer then says why not.
    let (placement, no_room) = match placement_in(state.room.as_ref()) {
        None => (None, None),
        Some(Ok(Placement::Managed)) if managed_arn.is_some() => (Some(Placement::Managed), None),
        Some(Ok(Placement::Managed)) => (
            Some(Placement::Inline),
            Some(format!(
                "{}: its inline policies leave no room for the deny, and no managed policy can be named in the account of `{account_arn}`",
                state.principal
            )),
        ),
        Some(Ok(Placement::Inline)) => (Some(Placement::Inline), None),
        Some(Err(why)) => (
            Some(Placement::Inline),
            Some(format!("{}: {why}", state.principal)),
        ),
    };
    let managed_policy_arn = managed_arn.filter(|_| placement == Some(Placement::Managed));
    let after = RevocationAfter {
        principal: state.principal.clone(),
        policy_name: state.policy_name.clone(),
        denies: "every action on every resource".into(),
        token_issued_before: AT_APPLY.into(),
        placement,
        managed_policy_arn: managed_policy_arn.clone(),
    };
    // The earlier cut-off is named: a revocation put there with a date long past (by hand, or by an
    // intruder to pass for one) revokes nothing issued since, which the reason must make plain.
    let existing_inline = state.existing_policy.as_ref().map(|existing| {
        if let Some(cutoff) = revocation_cutoff(existing) {
            format!(
                "an earlier session revocation ({POLICY_NAME}) is still on {}: it revokes only the sessions issued before {cutoff}, and none issued since; if that is not an apply of yours, remove it, or restore the earlier apply with --lift-session-revocation, then plan again to move the cut-off to now",
                state.principal
            )
        } else {
            format!(
                "{} already has an inline policy named {POLICY_NAME} that hikkonuki did not write; it is not overwritten: rename or remove it, then plan again",
                state.principal
            )
        }
    });
    let existing_managed = state.managed_policy.as_ref().map(|existing| {
        let document = parse_policy(&existing.document);
        if let Some(cutoff) = revocation_cutoff(&document) {
            format!(
                "an earlier session revocation (managed policy {}) is still there for {}: it revokes only the sessions issued before {cutoff}, and none issued since; if that is not an apply of yours, remove it, or restore the earlier apply with --lift-session-revocation, then plan again to move the cut-off to now",
                existing.arn, state.principal
            )
        } else {
            format!(
                "a managed policy {} exists that hikkonuki did not write; it is not overwritten: delete or rename it, then plan again",
                existing.arn
            )
        }
    });
    let disabled_because = existing_inline.or(existing_managed).or(no_room);
    let (holder_of_deny, where_it_goes) = match (&state.room, &managed_policy_arn) {
        (Some(room), Some(arn)) => (
            format!("A customer-managed policy {managed_name} ({arn})"),
            format!(
                " It is not inline because {}.",
                room.why_managed(0, revocation_characters())
            ),
        ),
        _ => (format!("An inline policy {POLICY_NAME}"), String::new()),
    };
    Proposal {
        target: state.principal.clone(),
        reason: format!(
            "Sessions of {noun} {name} issued before apply (for example from stolen keys, or roles assumed with them) stay valid for up to 36 hours even after the keys are deactivated. {holder_of_deny} denying everything to tokens issued before the apply time (aws:TokenIssueTime, read from AWS's clock when the cut runs, not this machine's) ends them; sessions started after apply work.{where_it_goes} {everyone} Restore keeps this policy unless `restore --lift-session-revocation` is passed, because lifting it revives every session issued before the apply, stolen ones included.",
            noun = principal.noun(),
            name = principal.name(),
            everyone = principal.who_else_loses_sessions(),
        ),
        before: Revocation::Current(state.clone()),
        after: Revocation::Planned(after),
        disabled_because,
    }
}

/// Parses a policy document; one that does not parse is kept as its text, so it still compares unequal
/// to ours and is never mistaken for it.
fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The principal's state as a plan made before the room was measured records it: our inline policy only.
async fn inline_state_of(
    ctx: &RegionCtx,
    principal: &Principal,
) -> Result<RevocationState, ServiceError> {
    let existing = inline_policy::get(ctx, principal.holder(), POLICY_NAME).await?;
    Ok(RevocationState {
        principal: principal.target(),
        policy_name: POLICY_NAME.to_string(),
        existing_policy: existing.as_deref().map(parse_policy),
        room: None,
        managed_policy: None,
    })
}

/// The principal's state: our inline policy, the room its own policies leave, and our managed policy
/// (named from `account_arn`, any ARN in the account). NoSuchEntity when the principal is gone.
async fn state_of(
    ctx: &RegionCtx,
    principal: &Principal,
    account_arn: &str,
    quotas: Quotas,
) -> Result<RevocationState, ServiceError> {
    let holder = principal.holder();
    let policies = policy_room::read(ctx, holder).await?;
    let managed_policy = match managed_policy::arn_for(account_arn, &managed_policy_name(principal))
    {
        Some(arn) => {
            managed_policy::document(ctx, &arn)
                .await?
                .map(|document| ManagedPolicyState {
                    attached: policies.is_attached(&arn),
                    arn,
                    document,
                })
        }
        None => None,
    };
    Ok(RevocationState {
        principal: principal.target(),
        policy_name: POLICY_NAME.to_string(),
        existing_policy: policies.inline_document(POLICY_NAME).map(parse_policy),
        room: Some(PolicyRoom::of(holder, quotas, &policies)),
        managed_policy,
    })
}

/// The live state of one cut's principal in the shape its `before` has; `None` when it is gone.
async fn observe_one(
    ctx: &RegionCtx,
    cut: &TypedCut<Revocation>,
    quotas: Option<Quotas>,
) -> Result<Option<Revocation>, ServiceError> {
    let (principal, before) = before_of(cut)
        .map_err(|err| ServiceError::local(INFO.name, format!("{}: {err}", cut.id)))?;
    let Some(quotas) = quotas.filter(|_| before.room.is_some()) else {
        let state = inline_state_of(ctx, &principal).await?;
        if state.existing_policy.is_none()
            && !inline_policy::exists(ctx, principal.holder()).await?
        {
            return Ok(None);
        }
        return Ok(Some(Revocation::Current(state)));
    };
    let Some(arn) = inline_policy::arn(ctx, principal.holder()).await? else {
        return Ok(None);
    };
    match state_of(ctx, &principal, &arn, quotas).await {
        Ok(state) => Ok(Some(Revocation::Current(state))),
        Err(err) if is_no_such_entity(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Every principal the cut applies to: all users and roles but the caller's and the protected roles.
pub async fn principals(
    ctx: &RegionCtx,
    caller: &CallerPrincipal,
) -> Result<Vec<Principal>, ServiceError> {
    let mut principals: Vec<Principal> = user_names(ctx)
        .await?
        .into_iter()
        .filter(|u| !caller.is_user(u))
        .map(Principal::User)
        .collect();
    let roles = super::listing::roles(ctx).await?;
    let mut role_names: Vec<String> = roles
        .iter()
        // AWS refuses every policy on these (UnmodifiableEntity); the `identity_protected_roles` finding
        // names them and says where to act instead.
        .filter(|r| ProtectedRole::of_path(r.path()).is_none())
        .map(|r| r.role_name().to_string())
        .filter(|r| !caller.is_role(r))
        .collect();
    role_names.sort();
    principals.extend(role_names.into_iter().map(Principal::Role));
    Ok(principals)
}

/// The cut's `before` and the principal it names; the error says what is wrong with it.
fn before_of(cut: &TypedCut<Revocation>) -> Result<(Principal, &RevocationState), String> {
    let Revocation::Current(before) = &cut.before else {
        return Err(
            "`before` must record the principal's inline policy (principal, policy_name, existing_policy), not a deny"
                .into(),
        );
    };
    let principal = Principal::parse(&before.principal).ok_or_else(|| {
        format!(
            "`before`: principal `{}` must be user/NAME or role/NAME",
            before.principal
        )
    })?;
    Ok((principal, before))
}

/// The principal a cut revokes sessions of, for the calls; the error names the cut.
fn principal_of(cut: &TypedCut<Revocation>) -> Result<Principal, ServiceError> {
    before_of(cut)
        .map(|(principal, _)| principal)
        .map_err(|err| ServiceError::local(INFO.name, format!("{}: {err}", cut.id)))
}

/// The managed policy a cut's `after` says the deny goes in, if any; the error says what is inconsistent.
fn managed_target(cut: &TypedCut<Revocation>) -> Result<Option<&str>, String> {
    let Revocation::Planned(after) = &cut.after else {
        return Err(
            "`after` must be the deny the cut puts (principal, policy_name, denies, token_issued_before)"
                .into(),
        );
    };
    match (after.placement, after.managed_policy_arn.as_deref()) {
        (Some(Placement::Managed), Some(arn)) => Ok(Some(arn)),
        (Some(Placement::Managed), None) => {
            Err("`after`: placement `managed` needs the managed_policy_arn it creates".into())
        }
        (_, Some(_)) => {
            Err("`after`: managed_policy_arn belongs to placement `managed` only".into())
        }
        (_, None) => Ok(None),
    }
}

/// The undo record the cut's plan implies (`policy_document` is what apply will have written, when known).
fn undo_record(
    cut: &TypedCut<Revocation>,
    policy_document: Option<String>,
) -> Result<UndoRecord, ServiceError> {
    let local = |err: String| ServiceError::local(INFO.name, format!("{}: {err}", cut.id));
    Ok(UndoRecord {
        principal: principal_of(cut)?.target(),
        policy_name: POLICY_NAME.to_string(),
        policy_document,
        managed_policy_arn: managed_target(cut).map_err(local)?.map(str::to_string),
    })
}

#[async_trait]
impl CutKind for SessionRevoke {
    type State = Revocation;
    type Undo = UndoRecord;

    /// A session issued between this cut's cut-off time and a stolen key's deactivation, or an outsider's
    /// assumption of a role before its trust is denied, would outlive the revocation: so revocations
    /// start only once every key deactivation and trust deny of the run has been answered, and their
    /// cut-off is later than both.
    fn cuts_after(&self) -> &'static [&'static str] {
        &["iam_key_deactivate", "iam_trust_deny"]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own principal's inline policy: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<Revocation>) -> Result<(), String> {
        let (principal, before) = before_of(cut)?;
        let Revocation::Planned(after) = &cut.after else {
            return Err(
                "`after` must be the deny the cut puts (principal, policy_name, denies, token_issued_before)"
                    .into(),
            );
        };
        if before.principal != cut.target || after.principal != cut.target {
            return Err(format!(
                "principal must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.policy_name != POLICY_NAME || after.policy_name != POLICY_NAME {
            return Err(format!("policy_name must be `{POLICY_NAME}`"));
        }
        if after.token_issued_before != AT_APPLY {
            return Err(format!(
                "`after`: token_issued_before must be `{AT_APPLY}`: the time is taken when the cut runs"
            ));
        }
        if before.room.is_some() != after.placement.is_some() {
            return Err(
                "`before.room` and `after.placement` go together: where the deny goes is decided from the room measured"
                    .into(),
            );
        }
        if let Some(arn) = managed_target(cut)? {
            let name = managed_policy_name(&principal);
            if !arn.ends_with(&format!(":policy{}{name}", managed_policy::PATH)) {
                return Err(format!(
                    "`after`: managed_policy_arn must name hikkonuki's policy {}{name} for this principal",
                    managed_policy::PATH
                ));
            }
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<Revocation>>, ServiceError> {
        let caller = CallerPrincipal::from_identity(&scope.caller);
        let principals = principals(ctx, &caller).await?;
        let quotas = policy_room::quotas(ctx).await?;
        let account_arn = scope.caller.arn.as_str();
        let states: Vec<Option<RevocationState>> = stream::iter(principals)
            .map(|principal| async move {
                match state_of(ctx, &principal, account_arn, quotas).await {
                    Ok(state) => Ok(Some(state)),
                    // Deleted since it was listed.
                    Err(err) if is_no_such_entity(&err) => Ok(None),
                    Err(err) => Err(err),
                }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(states
            .iter()
            .flatten()
            .map(|state| propose(state, account_arn))
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Revocation>,
    ) -> Result<Option<Revocation>, ServiceError> {
        let quotas = match &cut.before {
            Revocation::Current(before) if before.room.is_some() => {
                Some(policy_room::quotas(ctx).await?)
            }
            _ => None,
        };
        observe_one(ctx, cut, quotas).await
    }

    /// The account's quotas are read once for all the cuts, and the principals a few at a time.
    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[TypedCut<Revocation>],
    ) -> Vec<Result<Option<Revocation>, ServiceError>> {
        policy_room::observe_with_quotas(
            ctx,
            cuts,
            |cut| matches!(&cut.before, Revocation::Current(b) if b.room.is_some()),
            |cut, quotas| observe_one(ctx, cut, quotas),
        )
        .await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Revocation>,
    ) -> Result<UndoRecord, ServiceError> {
        let principal = principal_of(cut)?;
        let document = revocation_document(&cutoff_at_apply(ctx, &principal).await?);
        let record = undo_record(cut, Some(document.clone()))?;
        match &record.managed_policy_arn {
            Some(arn) => {
                managed_policy::create_and_attach(
                    ctx,
                    principal.holder(),
                    arn,
                    &managed_policy_name(&principal),
                    &document,
                    &format!(
                        "hikkonuki: revokes the sessions of {} issued before the apply; restore --lift-session-revocation removes it",
                        principal.target()
                    ),
                )
                .await?
            }
            None => inline_policy::put(ctx, principal.holder(), POLICY_NAME, &document).await?,
        }
        Ok(record)
    }

    /// A policy already at hikkonuki's name (an earlier revocation not yet lifted, or someone's policy;
    /// discovery proposes the cut switched off) would be overwritten, or CreatePolicy refused after the
    /// intent, and restore would then remove what the cut never wrote.
    fn refuses(&self, cut: &TypedCut<Revocation>) -> Option<String> {
        let (_, before) = before_of(cut).ok()?;
        let existing = match (&before.existing_policy, &before.managed_policy) {
            (Some(_), _) => format!("an inline policy named {POLICY_NAME}"),
            (None, Some(managed)) => format!("the managed policy {}", managed.arn),
            (None, None) => return None,
        };
        Some(format!(
            "{existing} is already there for {}: writing the revocation would overwrite or collide with it, and restore would then remove it (remove or rename it, or restore the earlier apply with --lift-session-revocation, then plan again)",
            cut.target
        ))
    }

    fn cuts_off(&self, cut: &TypedCut<Revocation>, caller: &CallerIdentity) -> bool {
        let caller = CallerPrincipal::from_identity(caller);
        match Principal::parse(&cut.target) {
            Some(Principal::User(name)) => caller.is_user(&name),
            Some(Principal::Role(name)) => caller.is_role(&name),
            // A target that names no principal is refused when the plan is read.
            None => false,
        }
    }

    /// Apply records the document it wrote (its cut-off time is only known then): everything else must
    /// be what the cut implies, and the document must be a revocation, so restore never deletes or
    /// writes anything else.
    fn check_undo(&self, cut: &TypedCut<Revocation>, undo: &UndoRecord) -> Result<(), String> {
        let implied = undo_record(cut, None).map_err(|err| err.to_string())?;
        let recorded = UndoRecord {
            policy_document: None,
            ..undo.clone()
        };
        if serde_json::to_value(&recorded).ok() != serde_json::to_value(&implied).ok() {
            return Err(format!(
                "the undo record names {} / {} / {:?}, but the cut implies {} / {} / {:?}",
                undo.principal,
                undo.policy_name,
                undo.managed_policy_arn,
                implied.principal,
                implied.policy_name,
                implied.managed_policy_arn
            ));
        }
        match &undo.policy_document {
            Some(document)
                if !serde_json::from_str::<Value>(document)
                    .is_ok_and(|document| is_revocation_document(&document)) =>
            {
                Err("the undo record's policy document is not a session revocation".into())
            }
            _ => Ok(()),
        }
    }

    /// The plan names the managed policy's ARN before apply, so a crash between CreatePolicy and the
    /// attach still leaves restore everything it needs to find and remove it.
    fn undo_record_for(&self, cut: &TypedCut<Revocation>) -> Result<UndoRecord, ServiceError> {
        undo_record(cut, None)
    }

    /// The cut's time is only known at apply, so its `after` says "the moment of apply": the cut holds
    /// while the principal still carries a revocation this kind writes, where the cut put it.
    fn holds(&self, cut: &TypedCut<Revocation>, live: &Revocation) -> bool {
        let (Revocation::Planned(after), Revocation::Current(live)) = (&cut.after, live) else {
            return false;
        };
        match after.placement {
            Some(Placement::Managed) => live.managed_policy.as_ref().is_some_and(|managed| {
                managed.attached
                    && serde_json::from_str::<Value>(&managed.document)
                        .is_ok_and(|document| is_revocation_document(&document))
            }),
            _ => live
                .existing_policy
                .as_ref()
                .is_some_and(is_revocation_document),
        }
    }

    /// The managed placement takes two calls, CreatePolicy then Attach: stopped between them, the
    /// principal is as before but for hikkonuki's revocation policy, created and not attached. That, and
    /// nothing else changed, is a cut to put back and make again; its shape is no state of the plan's, so
    /// the default comparison cannot see it.
    fn partly_cut(&self, cut: &TypedCut<Revocation>, live: &Revocation) -> bool {
        let (Revocation::Current(before), Revocation::Current(live)) = (&cut.before, live) else {
            return false;
        };
        let Some(created) = &live.managed_policy else {
            return false;
        };
        let unattached_revocation = !created.attached
            && serde_json::from_str::<Value>(&created.document)
                .is_ok_and(|document| is_revocation_document(&document));
        unattached_revocation
            && before.managed_policy.is_none()
            && RevocationState {
                managed_policy: None,
                ..live.clone()
            } == *before
    }

    /// Holds, and with a cut-off no earlier than the one written: whoever can write the principal's
    /// policies could move the cut-off back to before apply (a revocation of our shape revoking no session
    /// issued since), which [`CutKind::holds`] alone takes for the cut.
    fn holds_as_written(
        &self,
        cut: &TypedCut<Revocation>,
        live: &Revocation,
        undo: &UndoRecord,
    ) -> bool {
        if !self.holds(cut, live) {
            return false;
        }
        let Some(written) = undo.policy_document.as_deref() else {
            // Apply was interrupted before recording it: the shape is all there is to go by.
            return true;
        };
        let (Revocation::Planned(after), Revocation::Current(live)) = (&cut.after, live) else {
            return false;
        };
        // Where the cut put it, as `holds` looks.
        let live_document = match after.placement {
            Some(Placement::Managed) => live
                .managed_policy
                .as_ref()
                .and_then(|managed| serde_json::from_str::<Value>(&managed.document).ok()),
            _ => live.existing_policy.clone(),
        };
        let written = serde_json::from_str::<Value>(written).ok();
        match (
            live_document
                .as_ref()
                .and_then(revocation_cutoff)
                .and_then(super::from_rfc3339),
            written
                .as_ref()
                .and_then(revocation_cutoff)
                .and_then(super::from_rfc3339),
        ) {
            (Some(live), Some(written)) => live >= written,
            _ => false,
        }
    }

    fn restore_gate(&self) -> Option<RestoreGate> {
        Some(SESSION_REVOCATION_GATE)
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let principal = Principal::parse(&undo.principal).ok_or_else(|| {
            ServiceError::local(
                INFO.name,
                format!(
                    "the undo record names `{}`, which is not user/NAME or role/NAME",
                    undo.principal
                ),
            )
        })?;
        let target = principal.target();
        if let Some(arn) = &undo.managed_policy_arn {
            let removal = managed_policy::remove(ctx, principal.holder(), arn, |live| {
                undo_matches(undo, &parse_policy(live))
            })
            .await?;
            let note = match removal {
                Removal::Gone => format!("no managed policy {arn}: nothing to lift on {target}"),
                Removal::Changed => format!(
                    "conflict: managed policy {arn} was changed after apply; left alone, attached to {target} or not (detach and delete it by hand if the revocation should be lifted)"
                ),
                Removal::Removed => format!(
                    "session revocation lifted on {target}: managed policy {arn} detached and deleted"
                ),
                Removal::DetachedOnly(why) => format!(
                    "session revocation lifted on {target}: managed policy {arn} detached, but not deleted ({why}); delete it by hand once nothing else uses it"
                ),
            };
            return Ok(UndoOutcome { notes: vec![note] });
        }
        let name = &undo.policy_name;
        let Some(live) = inline_policy::get(ctx, principal.holder(), name).await? else {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "no inline policy {name} on {target}: nothing to lift"
                )],
            });
        };
        let live = parse_policy(&live);
        if !undo_matches(undo, &live) {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "conflict: inline policy {name} on {target} was changed after apply; left alone (delete it by hand if the revocation should be lifted)"
                )],
            });
        }
        let deleted = inline_policy::delete(ctx, principal.holder(), name).await;
        match deleted {
            Ok(()) => Ok(UndoOutcome {
                notes: vec![format!(
                    "session revocation lifted on {target}: inline policy {name} deleted"
                )],
            }),
            // Deleted by someone else between the read and now: the goal is reached.
            Err(err) if is_no_such_entity(&err) => Ok(UndoOutcome {
                notes: vec![format!(
                    "no inline policy {name} on {target}: nothing to lift"
                )],
            }),
            Err(err) => Err(err),
        }
    }
}

/// Whether the live document is the one this cut wrote: equal as JSON to the recorded document, or,
/// without one, of the revocation's shape.
pub fn undo_matches(undo: &UndoRecord, live: &Value) -> bool {
    match &undo.policy_document {
        Some(recorded) => &parse_policy(recorded) == live,
        None => is_revocation_document(live),
    }
}
