//! `identity_center_session_revoke`: IAM Identity Center hands out role sessions through the roles it
//! provisions in each account (`AWSReservedSSO_<permission set>_…`). AWS protects those roles
//! (`UnmodifiableEntity`), so `iam_session_revoke` cannot put its deny on them; the permission set they
//! come from can take it. For every permission set provisioned to this account, the cut adds one
//! statement to the permission set's inline policy, denying everything to sessions whose token was issued
//! before the apply (`aws:TokenIssueTime`, the cut-off read from AWS's clock as `iam_session_revoke` does),
//! then provisions the permission set again and waits until AWS says the roles carry it.
//!
//! # Provisioning to every account the permission set is provisioned to
//! A permission set is one definition; its inline policy is written once and provisioned to each account
//! as a role policy. The cut provisions with `TargetType: ALL_PROVISIONED_ACCOUNTS`, not to this account
//! alone: an account left on the old version shows as out of date, and the next provisioning by anyone
//! (an administrator, a new assignment) would push apply's deny there at a moment nobody planned, or
//! restore's lifting of it. So the accounts the permission set is provisioned to are part of `before`:
//! the plan shows the whole reach, and a change to it since the plan refuses the apply.
//!
//! # Edits to the permission set never provisioned
//! Provisioning takes the permission set as it stands, whole: ProvisionPermissionSet names a permission
//! set and a target, never a version or a part
//! (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ProvisionPermissionSet.html>). And AWS
//! does not provision an edit by itself: "If the permission set is subsequently updated, the corresponding
//! IAM policies attached to roles in your accounts will not be updated automatically. In this case, you
//! must call ProvisionPermissionSet to make these updates"
//! (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_CreateAccountAssignment.html>). So an
//! account the permission set was edited for and not provisioned to since (its managed policies, customer
//! managed policy references, permissions boundary, session duration, inline policy) gets those edits
//! with the deny, and restore, which can only provision the permission set as it then stands, cannot take
//! them back. Discovery asks AWS which accounts are out of date (ListAccountsForProvisionedPermissionSet
//! with `ProvisioningStatus: LATEST_PERMISSION_SET_NOT_PROVISIONED`,
//! <https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ListAccountsForProvisionedPermissionSet.html>):
//! `before.out_of_date_in` records them, the reason names them and says restore cannot un-provision
//! them, and `after` has none. A change to that list since the plan (an account newly out of date, or one brought up to date) is
//! drift; apply reads it again right before writing, and refuses an account the plan did not name. The
//! list names accounts, not edits: a permission set out of date everywhere at plan time and edited again
//! after it leaves the list as it was. So `before.definition` records the permission set as provisioning
//! would carry it ([`definition`]: description, session duration, relay state, managed policies, customer
//! managed policy references, permissions boundary; the inline policy is `before.inline_policy`), an
//! edit to it since the plan is drift, and apply reads it again right before writing and refuses one.
//!
//! Such a cut stays enabled (see [`propose`]): the deny reaches the roles only by provisioning, and
//! the door it closes, a stolen Identity Center session, matters more in an incident than an edit someone
//! had not provisioned yet; the reason tells the responder, who can disable the cut knowing why.
//!
//! # What AWS documents and this kind minds
//! - The inline policy: at most 32,768 bytes and 10,240 non-whitespace characters, one per permission set
//!   (<https://docs.aws.amazon.com/singlesignon/latest/userguide/limits.html>): a permission set without
//!   room is proposed disabled, saying so.
//! - Provisioning is asynchronous: ProvisionPermissionSet answers a request ID and a status, which
//!   DescribePermissionSetProvisioningStatus follows to SUCCEEDED or FAILED with a reason
//!   (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_ProvisionPermissionSet.html>,
//!   <https://docs.aws.amazon.com/singlesignon/latest/APIReference/API_DescribePermissionSetProvisioningStatus.html>).
//!   The wait is bounded, and logged while it lasts; FAILED fails the cut with AWS's reason.
//! - One IAM role (permission set) per account is updated at a time (same quotas page), and a write AWS
//!   has not propagated yet answers ConflictException, for which "a retry (with appropriate backoff
//!   logic) is the recommended response"
//!   (<https://docs.aws.amazon.com/singlesignon/latest/APIReference/CommonErrors.html>, the SDK's
//!   `ConflictException`). So this kind's writes run one at a time within a run, and ConflictException
//!   and ThrottlingException are retried with backoff, a bounded number of times.
//!
//! # Crash safety and restore
//! Apply makes two writes (the inline policy, then the provisioning). Killed between them, the rollback
//! file has the cut's intent only: restore knows the prior policy from the plan and recognises the
//! statement as ours by its shape (its Sid, and everything else as the plan's policy plus the statement),
//! puts the prior policy back exactly (or deletes it when there was none) and provisions again. A policy
//! that was changed after the cut is a conflict, reported and left alone. Restore keeps the statement
//! unless `restore --lift-session-revocation` is passed: the same gate as `iam_session_revoke`, because
//! lifting it revives every session issued before the apply, stolen ones included. Restore that
//! provisions says so of the accounts that were out of date: their edits stay. A resumed apply that finds
//! the statement written and not provisioned rewinds the cut (the same undo) and cuts again; the rewind's
//! provisioning brings the accounts the plan named out of date up to date, as the cut would, and that
//! counts as back as planned.
//!
//! What cannot be cut here: permission sets of an organization's instance are visible only from its
//! management account or delegated administrator; from a member account the `identity_center` finding
//! says so.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::Region;
use aws_sdk_ssoadmin::types::{
    PermissionSetProvisioningStatus, ProvisionTargetType, ProvisioningStatus, StatusValues,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::aws::{CallerIdentity, RegionCtx};
use crate::report::escape;
use crate::services::common::regions::enabled_regions;
use crate::services::identity::iam_session_revoke::{
    AT_APPLY, ResponseDate, SESSION_REVOCATION_GATE, cutoff_from_date_header, now_utc,
};
use crate::services::identity::policy_room::policy_size;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, RestoreGate, ServiceError,
    TypedCut, UndoOutcome, gather,
};

mod definition;
#[cfg(test)]
mod tests;

pub use definition::Definition;
use definition::{definition_of, edited_since};

pub struct IdentityCenterSessionRevoke;

static INFO: KindInfo = KindInfo {
    name: "identity_center_session_revoke",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    // Identity Center instances live in any region; discovery looks in every enabled one, and each cut
    // records its instance's region.
    global: true,
    footprint: Footprint::Identity,
};

/// The statement ID that marks the statement as ours.
pub const SID: &str = "HikkonukiRevokeIdentityCenterSessionsIssuedBeforeApply";

/// "Maximum size of inline policy per permission set: 32,768 bytes. Maximum size of non-whitespace
/// characters in the inline policy per permission set is 10,240 bytes."
/// (<https://docs.aws.amazon.com/singlesignon/latest/userguide/limits.html>)
pub const MAX_POLICY_BYTES: usize = 32_768;
pub const MAX_POLICY_CHARACTERS: usize = 10_240;

/// The most accounts a reason or a note names; `before` lists them all.
const NAMED_ACCOUNTS: usize = 10;

/// How long apply and restore wait for a provisioning request before giving up on it.
const PROVISIONING_WAIT: Duration = Duration::from_secs(300);
/// After this long, the wait is reported (a warning), so a stalled run says what it waits for.
const PROVISIONING_SLOW: Duration = Duration::from_secs(30);
/// The longest pause between two status reads or two retries.
const LONGEST_PAUSE: Duration = Duration::from_secs(10);
/// Writes tried at most this often when AWS answers ConflictException or ThrottlingException.
const WRITE_ATTEMPTS: u32 = 6;
/// Regions asked at once during discovery.
const REGION_CONCURRENCY: usize = 4;

/// One run provisions one permission set at a time: AWS updates one role per account at a time.
static PROVISIONING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A permission set provisioned to this account, as `before` records it and `observe` reports it; `after`
/// is the same with the statement added (its cut-off written as [`AT_APPLY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetState {
    /// The region of the Identity Center instance.
    pub region: String,
    pub instance_arn: String,
    /// The cut's target.
    pub permission_set_arn: String,
    pub name: String,
    /// The inline policy exactly as GetInlinePolicyForPermissionSet returns it; none when empty.
    #[serde(default)]
    pub inline_policy: Option<String>,
    /// The rest of what provisioning carries into the roles: an edit to it since the plan is drift.
    /// Plans made before it was recorded read as an empty definition, so a permission set with any
    /// shows as drift at their apply.
    #[serde(default, skip_serializing_if = "Definition::is_empty")]
    pub definition: Definition,
    /// Every account the permission set is provisioned to, sorted: where provisioning carries the change.
    pub provisioned_to: Vec<String>,
    /// The accounts among those that do not carry the permission set's latest version (edits never
    /// provisioned there, which the cut's provisioning puts in force for good), sorted. None after the
    /// cut: provisioning brings every account up to date. Plans made before it was recorded read as none,
    /// so a permission set out of date somewhere shows as drift at their apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_date_in: Vec<String>,
}

/// What restore needs: where the permission set is, the inline policy to put back, and the document apply
/// wrote, so a policy changed since is recognised and left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub region: String,
    pub instance_arn: String,
    pub permission_set_arn: String,
    /// The inline policy before the cut, exactly; none when there was none (restore then deletes it).
    #[serde(default)]
    pub prior_inline_policy: Option<String>,
    /// The document apply wrote; absent when apply was interrupted before recording it, in which case a
    /// live policy counts as ours when it is the prior one plus our statement, whatever its cut-off.
    #[serde(default)]
    pub written_policy: Option<String>,
    /// The accounts that were out of date before the cut (`before.out_of_date_in`): restore says their
    /// edits stay, since it cannot un-provision them. Absent in rollback files written before it was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_date_in: Vec<String>,
    /// The permission set's definition as the plan recorded it (`before.definition`): an undo finding
    /// it edited since does not provision, which would put that edit in force unreviewed (a resumed
    /// apply's rewind, or restore). Absent in rollback files written before it was: not checked then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
}

/// The cut-off of our statement in an inline policy's text, as a time.
fn our_cutoff(policy: &str) -> Option<aws_smithy_types::DateTime> {
    let document = serde_json::from_str::<Value>(policy).ok()?;
    crate::services::identity::from_rfc3339(our_statement_cutoff(&document)?)
}

/// The cut-off of our statement (by its `Sid`) in a policy document.
fn our_statement_cutoff(document: &Value) -> Option<&str> {
    crate::services::common::policy_principals::statements(document)
        .into_iter()
        .find(|statement| statement["Sid"] == SID)?
        .pointer("/Condition/DateLessThan/aws:TokenIssueTime")?
        .as_str()
}

fn revocation_statement(cutoff: &str) -> Value {
    json!({
        "Sid": SID,
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}},
    })
}

/// Whether a policy text holds a statement of ours.
fn carries_revocation(document: &Value) -> bool {
    let has_sid = |statement: &Value| statement.get("Sid").and_then(Value::as_str) == Some(SID);
    match document.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().any(has_sid),
        Some(statement) => has_sid(statement),
        None => false,
    }
}

/// What the statement under our Sid is: a revocation this kind writes, with its cut-off, or something
/// else placed under that Sid. Named in the reason, so a revocation dated long ago (or a statement passing
/// for one) is not read as sessions revoked now.
fn existing_revocation(document: &Value) -> String {
    let ours = |statement: &&Value| statement.get("Sid").and_then(Value::as_str) == Some(SID);
    let statement = match document.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().find(ours),
        Some(single) => Some(single).filter(ours),
        None => None,
    };
    let cutoff = statement
        .and_then(|s| s.pointer("/Condition/DateLessThan/aws:TokenIssueTime"))
        .and_then(Value::as_str);
    match (statement, cutoff) {
        (Some(statement), Some(cutoff)) if *statement == revocation_statement(cutoff) => format!(
            "an earlier session revocation ({SID}), which revokes only the sessions issued before {cutoff} and none issued since"
        ),
        _ => format!("a statement under the Sid {SID} that is not a revocation hikkonuki writes"),
    }
}

/// The inline policy with the revocation added: the prior document's statements in their order, then
/// ours (a single statement object becomes a list of two). The error says why no statement can be added.
pub fn with_revocation(prior: Option<&str>, cutoff: &str) -> Result<String, String> {
    let mut document = match prior {
        None => json!({"Version": "2012-10-17", "Statement": []}),
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|err| format!("its inline policy is not JSON ({err})"))?,
    };
    if carries_revocation(&document) {
        return Err(format!(
            "its inline policy already holds {}; if that is not an apply of yours, remove it, or restore the earlier apply with --lift-session-revocation, then plan again to move the cut-off to now",
            existing_revocation(&document)
        ));
    }
    let ours = revocation_statement(cutoff);
    let Some(object) = document.as_object_mut() else {
        return Err("its inline policy is not a JSON object".into());
    };
    match object.get_mut("Statement") {
        Some(Value::Array(statements)) => statements.push(ours),
        Some(single @ Value::Object(_)) => {
            let first = single.take();
            *single = Value::Array(vec![first, ours]);
        }
        None => {
            object.insert("Statement".into(), Value::Array(vec![ours]));
        }
        Some(_) => {
            return Err("its inline policy's Statement is neither a statement nor a list".into());
        }
    }
    serde_json::to_string(&document).map_err(|err| err.to_string())
}

/// The cut-off of a live policy that is exactly `prior` plus our statement, if it is.
fn revocation_cutoff_in(prior: Option<&str>, live: &Value) -> Option<String> {
    let last = match live.get("Statement")? {
        Value::Array(statements) => statements.last()?,
        _ => return None,
    };
    let cutoff = last
        .pointer("/Condition/DateLessThan/aws:TokenIssueTime")?
        .as_str()?;
    let expected = with_revocation(prior, cutoff).ok()?;
    (serde_json::from_str::<Value>(&expected).ok()? == *live).then(|| cutoff.to_string())
}

/// Two inline policies compared as data (JSON, statement order kept); text that does not parse compares
/// as text.
fn same_policy(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (
            serde_json::from_str::<Value>(a),
            serde_json::from_str::<Value>(b),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        },
        _ => false,
    }
}

/// Whether the live policy is the one the cut wrote.
fn is_ours(undo: &UndoRecord, live: &str) -> bool {
    match &undo.written_policy {
        Some(written) => same_policy(Some(written), Some(live)),
        None => serde_json::from_str::<Value>(live)
            .ok()
            .and_then(|live| revocation_cutoff_in(undo.prior_inline_policy.as_deref(), &live))
            .is_some(),
    }
}

/// Why a policy with the revocation would not fit, if it would not: AWS's two documented limits.
fn no_room(document: &str) -> Option<String> {
    let bytes = document.len();
    let characters = policy_size(document);
    if bytes > MAX_POLICY_BYTES || characters > MAX_POLICY_CHARACTERS {
        Some(format!(
            "with the revocation its inline policy would be {bytes} bytes, {characters} of them not whitespace; Identity Center allows {MAX_POLICY_BYTES} bytes and {MAX_POLICY_CHARACTERS} non-whitespace characters (https://docs.aws.amazon.com/singlesignon/latest/userguide/limits.html): shorten the inline policy (or move part of it to a managed policy), then plan again"
        ))
    } else {
        None
    }
}

/// The permission set's name inside an Identity Center role name (`AWSReservedSSO_<name>_<suffix>`).
fn permission_set_of_role(role: &str) -> Option<&str> {
    role.strip_prefix("AWSReservedSSO_")?
        .rsplit_once('_')
        .map(|(name, _)| name)
}

/// The session of the caller's that comes through this permission set, if any: its own, or, in an
/// account entered through a role, the operator's that entered it (a permission set is provisioned to
/// every account it is assigned in, and the revocation ends its sessions in all of them).
fn callers_session_through<'a>(
    caller: &'a CallerIdentity,
    permission_set_name: &str,
) -> Option<&'a str> {
    [Some(caller.arn.as_str()), caller.entered_by.as_deref()]
        .into_iter()
        .flatten()
        .find(|arn| caller_comes_through(arn, permission_set_name))
}

/// Whether the caller signs in through this permission set: its session is one of those the cut ends.
fn caller_comes_through(caller_arn: &str, permission_set_name: &str) -> bool {
    // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    caller_arn
        .split_once(":assumed-role/")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(permission_set_of_role)
        == Some(permission_set_name)
}

/// An SSO Admin client for `region`, built from the home region's (same credentials, HTTP client and
/// pacing): an Identity Center instance answers in its own region only.
fn client_in(ctx: &RegionCtx, region: &str) -> aws_sdk_ssoadmin::Client {
    if region == ctx.region {
        return ctx.ssoadmin().clone();
    }
    let config = ctx
        .ssoadmin()
        .config()
        .to_builder()
        .region(Region::new(region.to_string()))
        .build();
    aws_sdk_ssoadmin::Client::from_conf(config)
}

fn is_not_found(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("ResourceNotFoundException")
}

/// Answers worth waiting out: a write not propagated yet, another provisioning in flight, throttling.
fn is_transient(err: &ServiceError) -> bool {
    matches!(
        err.code.as_deref(),
        Some("ConflictException") | Some("ThrottlingException")
    )
}

/// Runs `call` until it gives something else than a transient answer, pausing longer each time, at
/// most [`WRITE_ATTEMPTS`] times.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, ServiceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    let mut pause = Duration::from_secs(1);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(err) if is_transient(&err) && attempt < WRITE_ATTEMPTS => {
                tracing::warn!("{err}; trying again in {} s", pause.as_secs());
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The permission set's inline policy; none when AWS answers none or an empty one (the API reference
/// notes an empty policy may be returned for a permission set without one). `date` keeps the answer's
/// `Date` header: AWS's clock, for the cut-off.
async fn inline_policy(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
    date: Option<&ResponseDate>,
) -> Result<Option<String>, ServiceError> {
    let request = client
        .get_inline_policy_for_permission_set()
        .instance_arn(instance_arn)
        .permission_set_arn(permission_set_arn);
    let answer = match date {
        Some(date) => request.customize().interceptor(date.clone()).send().await,
        None => request.send().await,
    }
    .map_err(|err| ServiceError::from_sdk("sso:GetInlinePolicyForPermissionSet", err))?;
    Ok(answer
        .inline_policy()
        .filter(|policy| !policy.is_empty())
        .map(str::to_string))
}

/// Every account the permission set is provisioned to, sorted, once each; with `status`, only those
/// where its provisioning is in that state (`LatestPermissionSetNotProvisioned`: out of date).
async fn provisioned_to(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
    status: Option<ProvisioningStatus>,
) -> Result<Vec<String>, ServiceError> {
    let pages: Vec<_> = client
        .list_accounts_for_provisioned_permission_set()
        .instance_arn(instance_arn)
        .permission_set_arn(permission_set_arn)
        .set_provisioning_status(status)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| {
            ServiceError::from_sdk("sso:ListAccountsForProvisionedPermissionSet", err)
        })?;
    let mut accounts: Vec<String> = pages
        .iter()
        .flat_map(|page| page.account_ids().iter().cloned())
        .collect();
    accounts.sort();
    accounts.dedup();
    Ok(accounts)
}

/// The accounts the permission set is provisioned to that do not carry its latest version.
async fn out_of_date_in(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<Vec<String>, ServiceError> {
    provisioned_to(
        client,
        instance_arn,
        permission_set_arn,
        Some(ProvisioningStatus::LatestPermissionSetNotProvisioned),
    )
    .await
}

/// The permission set as `before` records it; ResourceNotFoundException when it is gone.
async fn state_of(
    client: &aws_sdk_ssoadmin::Client,
    region: &str,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<PermissionSetState, ServiceError> {
    // Described first: a permission set gone answers ResourceNotFoundException there, where the
    // permissions boundary's read would take that answer for no boundary.
    let (name, definition) = definition_of(client, instance_arn, permission_set_arn).await?;
    let (inline_policy, provisioned_to, out_of_date_in) = tokio::try_join!(
        inline_policy(client, instance_arn, permission_set_arn, None),
        provisioned_to(client, instance_arn, permission_set_arn, None),
        out_of_date_in(client, instance_arn, permission_set_arn),
    )?;
    Ok(PermissionSetState {
        region: region.to_string(),
        instance_arn: instance_arn.to_string(),
        permission_set_arn: permission_set_arn.to_string(),
        name,
        inline_policy,
        definition,
        provisioned_to,
        out_of_date_in,
    })
}

/// The instances of one region that this account can see.
async fn instances_in(client: &aws_sdk_ssoadmin::Client) -> Result<Vec<String>, ServiceError> {
    let instances: Vec<_> = client
        .list_instances()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("sso:ListInstances", err))?;
    Ok(instances
        .iter()
        .filter_map(|instance| instance.instance_arn().map(str::to_string))
        .collect())
}

/// The permission sets of one instance provisioned to `account`, once each.
async fn provisioned_to_account(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    account: &str,
) -> Result<Vec<String>, ServiceError> {
    let pages: Vec<_> = client
        .list_permission_sets_provisioned_to_account()
        .instance_arn(instance_arn)
        .account_id(account)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("sso:ListPermissionSetsProvisionedToAccount", err))?;
    let mut sets: Vec<String> = Vec::new();
    for set in pages.iter().flat_map(|page| page.permission_sets()) {
        if !sets.contains(set) {
            sets.push(set.clone());
        }
    }
    Ok(sets)
}

/// Every permission set provisioned to `account` in one region's instances.
async fn states_in(
    ctx: &RegionCtx,
    region: &str,
    account: &str,
) -> Result<Vec<PermissionSetState>, ServiceError> {
    let client = client_in(ctx, region);
    let mut states = Vec::new();
    for instance in instances_in(&client).await? {
        for set in provisioned_to_account(&client, &instance, account).await? {
            match state_of(&client, region, &instance, &set).await {
                Ok(state) => states.push(state),
                // Deleted since it was listed.
                Err(err) if is_not_found(&err) => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(states)
}

/// Accounts as a reason or a note names them: escaped (they come from AWS or a file), at most
/// [`NAMED_ACCOUNTS`], then how many more and where `before` lists them all (`field`).
fn named_accounts<A: AsRef<str>>(accounts: &[A], field: &str) -> String {
    let named: Vec<String> = accounts
        .iter()
        .take(NAMED_ACCOUNTS)
        .map(|account| escape::visible(account.as_ref()).into_owned())
        .collect();
    match accounts.len().saturating_sub(NAMED_ACCOUNTS) {
        0 => named.join(", "),
        more => format!(
            "{} and {more} more, all listed in `before.{field}`",
            named.join(", ")
        ),
    }
}

/// What the reason says of the accounts out of date, if any: that apply puts the permission set's
/// unprovisioned edits in force there, that restore cannot take them back, and why the cut stays enabled.
fn out_of_date_warning(state: &PermissionSetState) -> Option<String> {
    let accounts = &state.out_of_date_in;
    (!accounts.is_empty()).then(|| {
        format!(
            " Applying also provisions edits never provisioned before: permission set {name} is not on its latest version in {count} of those accounts ({named}; ListAccountsForProvisionedPermissionSet, ProvisioningStatus LATEST_PERMISSION_SET_NOT_PROVISIONED), so whatever was changed in it since it was last provisioned there (managed policies, customer managed policy references, permissions boundary, session duration, inline policy) goes live there with the deny, since provisioning takes the permission set whole, and restore cannot un-provision it: restore provisions the permission set as it then stands, edits included. The plan records the permission set as it stands now (`before.definition`, `before.inline_policy`), and apply refuses it if it is edited again before the cut. The cut stays enabled because a stolen Identity Center session is the door it closes, and only provisioning closes it; review what is pending on the permission set before applying, and to keep it out, revert it and plan again, or set this cut to `enabled: false`, which leaves those sessions valid.",
            name = state.name,
            count = accounts.len(),
            named = named_accounts(accounts, "out_of_date_in"),
        )
    })
}

/// The proposal for one permission set. One that cannot take the statement (already revoked, no room,
/// a policy that is not a JSON object) or through which the caller signs in is listed but disabled,
/// saying why.
///
/// One whose latest version is not provisioned everywhere stays enabled, its reason saying which accounts
/// get the unprovisioned edits and that restore cannot take them back. Disabling it would leave every
/// stolen session of the permission set valid for up to 12 hours, to spare edits an administrator of the
/// same Identity Center instance made and meant to provision; the responder reads the reason, and can
/// revert the edits or switch the cut off, where a cut switched off by default would more likely be left
/// off in the rush. `after` has no account out of date: provisioning brings them all up to date.
pub fn propose(state: &PermissionSetState, caller_arn: &str) -> Proposal<PermissionSetState> {
    let planned = with_revocation(state.inline_policy.as_deref(), AT_APPLY);
    let disabled_because = match &planned {
        Err(why) => Some(format!("permission set {}: {why}", state.name)),
        Ok(_) if caller_comes_through(caller_arn, &state.name) => Some(format!(
            "hikkonuki runs as {caller_arn}, a session of permission set {}: the revocation would end this run's own session; run as another principal to cut it",
            state.name
        )),
        // The size with a real cut-off, which is one character longer than the placeholder.
        Ok(_) => with_revocation(state.inline_policy.as_deref(), "2000-01-01T00:00:00Z")
            .ok()
            .and_then(|document| no_room(&document))
            .map(|why| format!("permission set {}: {why}", state.name)),
    };
    let after = match planned {
        Ok(planned) => PermissionSetState {
            inline_policy: Some(planned),
            out_of_date_in: Vec::new(),
            ..state.clone()
        },
        Err(_) => state.clone(),
    };
    Proposal {
        target: state.permission_set_arn.clone(),
        reason: format!(
            "Sessions issued through IAM Identity Center permission set {name} (instance {instance} in {region}) before apply stay valid for the rest of their session duration (up to 12 hours) even once the user is disabled in the directory, and AWS protects the roles it provisions, so no IAM cut reaches them. A statement {SID} added to the permission set's inline policy denies everything to tokens issued before the apply time (aws:TokenIssueTime, read from AWS's clock when the cut runs); sessions started after apply work. The permission set is then provisioned again to every account it is provisioned to ({accounts}), waiting until AWS reports SUCCEEDED: every current session of its users in those accounts ends, not only stolen ones, and they sign in again. Restore keeps the statement unless `restore --lift-session-revocation` is passed, because lifting it revives every session issued before the apply, stolen ones included.{out_of_date}",
            name = state.name,
            instance = state.instance_arn,
            region = state.region,
            accounts = named_accounts(&state.provisioned_to, "provisioned_to"),
            out_of_date = out_of_date_warning(state).unwrap_or_default(),
        ),
        before: state.clone(),
        after,
        disabled_because,
    }
}

/// Provisions the permission set to every account it is provisioned to and waits for AWS's verdict.
async fn provision(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<(), ServiceError> {
    let answer = retrying(|| async move {
        client
            .provision_permission_set()
            .instance_arn(instance_arn)
            .permission_set_arn(permission_set_arn)
            .target_type(ProvisionTargetType::AllProvisionedAccounts)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("sso:ProvisionPermissionSet", err))
    })
    .await?;
    let status = answer
        .permission_set_provisioning_status()
        .cloned()
        .unwrap_or_else(|| PermissionSetProvisioningStatus::builder().build());
    wait_for(client, instance_arn, permission_set_arn, status).await
}

/// Follows a provisioning request until AWS reports SUCCEEDED (done) or FAILED (an error with AWS's
/// reason), at most [`PROVISIONING_WAIT`].
pub async fn wait_for(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
    mut status: PermissionSetProvisioningStatus,
) -> Result<(), ServiceError> {
    const OPERATION: &str = "sso:ProvisionPermissionSet";
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_secs(1);
    let mut reported = false;
    loop {
        match status.status() {
            Some(StatusValues::Succeeded) => return Ok(()),
            Some(StatusValues::Failed) => {
                return Err(ServiceError::local(
                    OPERATION,
                    format!(
                        "provisioning {permission_set_arn} FAILED (request {}): {}",
                        status.request_id().unwrap_or("without an ID"),
                        status.failure_reason().unwrap_or("AWS gave no reason")
                    ),
                ));
            }
            _ => {}
        }
        let Some(request_id) = status.request_id().map(str::to_string) else {
            return Err(ServiceError::local(
                OPERATION,
                format!(
                    "provisioning {permission_set_arn} answered no request ID to follow; check the permission set in the IAM Identity Center console"
                ),
            ));
        };
        let waited = started.elapsed();
        if waited >= PROVISIONING_WAIT {
            return Err(ServiceError::local(
                OPERATION,
                format!(
                    "provisioning {permission_set_arn} (request {request_id}) was still in progress after {} s; follow it with DescribePermissionSetProvisioningStatus",
                    waited.as_secs()
                ),
            ));
        }
        if waited >= PROVISIONING_SLOW && !reported {
            tracing::warn!(
                "still provisioning {permission_set_arn} (request {request_id}) after {} s; waiting up to {} s",
                waited.as_secs(),
                PROVISIONING_WAIT.as_secs()
            );
            reported = true;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
        let id = request_id.as_str();
        let answer = retrying(|| async move {
            client
                .describe_permission_set_provisioning_status()
                .instance_arn(instance_arn)
                .provision_permission_set_request_id(id)
                .send()
                .await
                .map_err(|err| {
                    ServiceError::from_sdk("sso:DescribePermissionSetProvisioningStatus", err)
                })
        })
        .await?;
        status = answer
            .permission_set_provisioning_status()
            .cloned()
            .unwrap_or_else(|| {
                PermissionSetProvisioningStatus::builder()
                    .request_id(request_id)
                    .build()
            });
    }
}

async fn put_policy(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
    document: &str,
) -> Result<(), ServiceError> {
    retrying(|| async move {
        client
            .put_inline_policy_to_permission_set()
            .instance_arn(instance_arn)
            .permission_set_arn(permission_set_arn)
            .inline_policy(document)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("sso:PutInlinePolicyToPermissionSet", err))
    })
    .await
}

async fn delete_policy(
    client: &aws_sdk_ssoadmin::Client,
    instance_arn: &str,
    permission_set_arn: &str,
) -> Result<(), ServiceError> {
    retrying(|| async move {
        client
            .delete_inline_policy_from_permission_set()
            .instance_arn(instance_arn)
            .permission_set_arn(permission_set_arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| ServiceError::from_sdk("sso:DeleteInlinePolicyFromPermissionSet", err))
    })
    .await
}

fn undo_record(cut: &TypedCut<PermissionSetState>, written: Option<String>) -> UndoRecord {
    UndoRecord {
        region: cut.before.region.clone(),
        instance_arn: cut.before.instance_arn.clone(),
        permission_set_arn: cut.before.permission_set_arn.clone(),
        prior_inline_policy: cut.before.inline_policy.clone(),
        written_policy: written,
        out_of_date_in: cut.before.out_of_date_in.clone(),
        definition: Some(cut.before.definition.clone()),
    }
}

/// What restore tells of the accounts that were out of date before the cut, once it has provisioned:
/// the edits they got stay.
fn edits_kept_note(undo: &UndoRecord) -> Option<String> {
    (!undo.out_of_date_in.is_empty()).then(|| {
        format!(
            "permission set {}: {} did not carry its latest version before the cut; provisioning put the edits pending there in force, and they stay: restore can only provision the permission set as it stands",
            undo.permission_set_arn,
            named_accounts(&undo.out_of_date_in, "out_of_date_in")
        )
    })
}

#[async_trait]
impl CutKind for IdentityCenterSessionRevoke {
    type State = PermissionSetState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<PermissionSetState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.permission_set_arn != cut.target {
            return Err(format!(
                "`before`: permission_set_arn must be the cut's target `{}`",
                cut.target
            ));
        }
        let unchanged = PermissionSetState {
            inline_policy: before.inline_policy.clone(),
            out_of_date_in: before.out_of_date_in.clone(),
            ..after.clone()
        };
        if &unchanged != before {
            return Err(
                "`after` must name the same permission set, instance, region and accounts as `before`: only the inline policy changes, and the accounts out of date are brought up to date"
                    .into(),
            );
        }
        match with_revocation(before.inline_policy.as_deref(), AT_APPLY) {
            Ok(planned) if after.inline_policy.as_deref() == Some(planned.as_str()) => {
                if after.out_of_date_in.is_empty() {
                    Ok(())
                } else {
                    Err("`after`: out_of_date_in must be empty: provisioning brings every account up to date".into())
                }
            }
            Ok(_) => Err(format!(
                "`after`: inline_policy must be `before`'s with the statement {SID} added last (cut-off `{AT_APPLY}`), and nothing else changed"
            )),
            // A permission set that cannot take the statement is proposed disabled, unchanged.
            Err(_) if after == before => Ok(()),
            Err(why) => Err(format!("`after`: {why}")),
        }
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<PermissionSetState>>, ServiceError> {
        let mut regions = enabled_regions(ctx).await?;
        if regions.is_empty() {
            regions.push(ctx.region.clone());
        }
        let account = scope.caller.account.as_str();
        let states = gather(regions, REGION_CONCURRENCY, |region| async move {
            states_in(ctx, &region, account).await
        })
        .await?;
        Ok(states
            .iter()
            .map(|state| {
                propose(
                    state,
                    callers_session_through(&scope.caller, &state.name)
                        .unwrap_or(&scope.caller.arn),
                )
            })
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PermissionSetState>,
    ) -> Result<Option<PermissionSetState>, ServiceError> {
        let before = &cut.before;
        let client = client_in(ctx, &before.region);
        match state_of(
            &client,
            &before.region,
            &before.instance_arn,
            &before.permission_set_arn,
        )
        .await
        {
            Ok(state) => Ok(Some(state)),
            Err(err) if is_not_found(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PermissionSetState>,
    ) -> Result<UndoRecord, ServiceError> {
        let before = &cut.before;
        let local = |why: String| ServiceError::local(INFO.name, format!("{}: {why}", cut.id));
        let client = client_in(ctx, &before.region);
        let _turn = PROVISIONING.lock().await;
        // Provisioning carries the permission set whole: only as the plan recorded it. The live check
        // read it before the run's cuts began, and this cut may have waited for others' provisioning.
        if let Some(edited) = edited_since(
            &client,
            &before.instance_arn,
            &before.permission_set_arn,
            &before.definition,
        )
        .await?
        {
            return Err(local(format!(
                "permission set {} was edited since the plan was made ({edited}), and the cut's provisioning would put the edit in force; nothing written: plan again",
                before.name,
            )));
        }
        // Provisioning puts in force whatever edits are pending: only in accounts the plan named. One
        // named and up to date since was provisioned by someone (or by the rewind of this cut): its edits
        // are in force already. Read first, so the cut-off below stays next to the write.
        let out_of_date =
            out_of_date_in(&client, &before.instance_arn, &before.permission_set_arn).await?;
        let unplanned: Vec<&String> = out_of_date
            .iter()
            .filter(|account| !before.out_of_date_in.contains(account))
            .collect();
        if !unplanned.is_empty() {
            return Err(local(format!(
                "permission set {} now has edits never provisioned to {}, which the plan does not name (it was edited since the plan was made), and the cut's provisioning would put them in force; nothing written: plan again",
                before.name,
                named_accounts(&unplanned, "out_of_date_in")
            )));
        }
        // Read again right before writing: the policy written is the plan's plus the statement, so it
        // must still be the plan's; the answer's Date is AWS's clock, the cut-off.
        let date = ResponseDate::default();
        let live = inline_policy(
            &client,
            &before.instance_arn,
            &before.permission_set_arn,
            Some(&date),
        )
        .await?;
        if live != before.inline_policy {
            return Err(local(format!(
                "the inline policy of permission set {} changed since the plan was made; nothing written: plan again",
                before.name
            )));
        }
        let cutoff = date
            .take()
            .as_deref()
            .and_then(cutoff_from_date_header)
            .unwrap_or_else(now_utc);
        let written = with_revocation(before.inline_policy.as_deref(), &cutoff).map_err(local)?;
        put_policy(
            &client,
            &before.instance_arn,
            &before.permission_set_arn,
            &written,
        )
        .await?;
        provision(&client, &before.instance_arn, &before.permission_set_arn).await?;
        Ok(undo_record(cut, Some(written)))
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<PermissionSetState>,
    ) -> Result<UndoRecord, ServiceError> {
        Ok(undo_record(cut, None))
    }

    /// Apply records the document it wrote (its cut-off is only known then): everything else must be
    /// what the cut implies, and the document must be the prior policy plus our statement, so restore
    /// never takes anything else for ours.
    fn check_undo(
        &self,
        cut: &TypedCut<PermissionSetState>,
        undo: &UndoRecord,
    ) -> Result<(), String> {
        let implied = undo_record(cut, None);
        let recorded = UndoRecord {
            written_policy: None,
            // A rollback file written before the definition was recorded has none.
            definition: undo.definition.clone().or(implied.definition.clone()),
            ..undo.clone()
        };
        if recorded != implied {
            return Err(
                "the undo record names another permission set, instance, region or prior inline policy than the cut"
                    .into(),
            );
        }
        match &undo.written_policy {
            Some(written)
                if serde_json::from_str::<Value>(written)
                    .ok()
                    .and_then(|live| {
                        revocation_cutoff_in(undo.prior_inline_policy.as_deref(), &live)
                    })
                    .is_none() =>
            {
                Err("the undo record's written policy is not the prior policy plus the session revocation".into())
            }
            _ => Ok(()),
        }
    }

    fn cuts_off(&self, cut: &TypedCut<PermissionSetState>, caller: &CallerIdentity) -> bool {
        callers_session_through(caller, &cut.before.name).is_some()
    }

    /// Apply writes the inline policy, then provisions it to the accounts; observation reads the
    /// policy only. Killed in between, the revocation was never in force: a resumed apply rewinds the
    /// cut and makes it again, which provisions.
    fn holding_is_complete(&self) -> bool {
        false
    }

    /// The cut-off is only known at apply (`after` says [`AT_APPLY`]): the cut holds while the inline
    /// policy is `before`'s with the revocation added, at whatever time apply wrote, and nothing else
    /// changed. Whatever accounts are out of date and whatever else the definition holds: an edit made
    /// since apply leaves the deny in the permission set (and, not provisioned, in the roles), and one
    /// that took the statement out is seen in the inline policy.
    fn holds(&self, cut: &TypedCut<PermissionSetState>, live: &PermissionSetState) -> bool {
        let Some(document) = live
            .inline_policy
            .as_deref()
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
        else {
            return false;
        };
        let Some(cutoff) = our_statement_cutoff(&document) else {
            return false;
        };
        let expected = with_revocation(cut.before.inline_policy.as_deref(), cutoff)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        let unchanged_otherwise = PermissionSetState {
            inline_policy: None,
            definition: Definition::default(),
            out_of_date_in: Vec::new(),
            ..live.clone()
        } == PermissionSetState {
            inline_policy: None,
            definition: Definition::default(),
            out_of_date_in: Vec::new(),
            ..cut.after.clone()
        };
        expected == Some(document) && unchanged_otherwise
    }

    /// A rewind puts the prior inline policy back and provisions, which brings the accounts the plan
    /// named out of date up to date, as the cut itself would: back as planned when nothing else differs
    /// and no account the plan did not name is out of date.
    fn back_as_planned(
        &self,
        cut: &TypedCut<PermissionSetState>,
        live: &PermissionSetState,
    ) -> bool {
        let before = &cut.before;
        live.out_of_date_in
            .iter()
            .all(|account| before.out_of_date_in.contains(account))
            && PermissionSetState {
                out_of_date_in: Vec::new(),
                ..live.clone()
            } == PermissionSetState {
                out_of_date_in: Vec::new(),
                ..before.clone()
            }
    }

    /// Reopened, for `watch`: the statement taken out and the permission set provisioned, which brought
    /// the accounts the plan named out of date up to date; the re-cut starts from there. An account out
    /// of date that the plan did not name is a change no one reviewed (a re-cut would put its edits in
    /// force): a new plan names it.
    fn reopened(
        &self,
        cut: &TypedCut<PermissionSetState>,
        live: &PermissionSetState,
    ) -> Option<PermissionSetState> {
        self.back_as_planned(cut, live).then(|| live.clone())
    }

    /// Holds, and with a cut-off no earlier than the one written: whoever can edit the permission set
    /// could move our statement's cut-off back to before apply, revoking no session issued since.
    fn holds_as_written(
        &self,
        cut: &TypedCut<PermissionSetState>,
        live: &PermissionSetState,
        undo: &UndoRecord,
    ) -> bool {
        if !self.holds(cut, live) {
            return false;
        }
        let Some(written) = undo.written_policy.as_deref() else {
            // Apply was interrupted before recording it: the shape is all there is to go by.
            return true;
        };
        match (
            live.inline_policy.as_deref().and_then(our_cutoff),
            our_cutoff(written),
        ) {
            (Some(live), Some(written)) => live >= written,
            _ => false,
        }
    }

    fn restore_gate(&self) -> Option<RestoreGate> {
        Some(SESSION_REVOCATION_GATE)
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let target = &undo.permission_set_arn;
        let note = |text: String| Ok(UndoOutcome { notes: vec![text] });
        // Once restore has provisioned, the edits the accounts out of date got at apply are said to stay.
        let notes = |text: String| {
            Ok(UndoOutcome {
                notes: std::iter::once(text).chain(edits_kept_note(undo)).collect(),
            })
        };
        let client = client_in(ctx, &undo.region);
        let _turn = PROVISIONING.lock().await;
        let live = match inline_policy(&client, &undo.instance_arn, target, None).await {
            Ok(live) => live,
            Err(err) if is_not_found(&err) => {
                return note(format!(
                    "permission set {target} no longer exists: nothing to put back"
                ));
            }
            Err(err) => return Err(err),
        };
        // Every way on provisions, which carries the permission set whole: not an edit made since the
        // plan, which no one reviewed (a resumed apply rewinding a cut stopped before its provisioning
        // would otherwise put it in force before finding the permission set no longer as planned).
        if let Some(planned) = &undo.definition
            && let Some(edited) = edited_since(&client, &undo.instance_arn, target, planned).await?
        {
            return note(format!(
                "conflict: permission set {target} was edited since the plan was made ({edited}), and provisioning it would put that edit in force, which no one reviewed: left alone and not provisioned (review the edit; then, if the revocation should be lifted, remove the statement {SID} and provision by hand)"
            ));
        }
        if same_policy(live.as_deref(), undo.prior_inline_policy.as_deref()) {
            // Our statement is not there: the cut never reached AWS, or an earlier restore put the policy
            // back and may have stopped before provisioning. Provisioning again leaves every account with
            // the permission set as it stands.
            provision(&client, &undo.instance_arn, target).await?;
            return notes(format!(
                "permission set {target}: its inline policy is as before the cut; provisioned again to every account it is provisioned to"
            ));
        }
        if !live.as_deref().is_some_and(|live| is_ours(undo, live)) {
            return note(format!(
                "conflict: the inline policy of permission set {target} was changed after apply; left alone and not provisioned (remove the statement {SID} by hand, then provision, if the revocation should be lifted)"
            ));
        }
        let put_back = match &undo.prior_inline_policy {
            Some(prior) => {
                put_policy(&client, &undo.instance_arn, target, prior).await?;
                "inline policy put back exactly"
            }
            None => {
                delete_policy(&client, &undo.instance_arn, target).await?;
                "inline policy deleted (there was none)"
            }
        };
        provision(&client, &undo.instance_arn, target).await?;
        notes(format!(
            "session revocation lifted on permission set {target}: {put_back}, and provisioned again to every account it is provisioned to"
        ))
    }
}
