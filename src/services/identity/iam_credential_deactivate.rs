//! Three kinds of cut that turn an IAM user's long-lived credentials Inactive, one cut per credential:
//!
//! - `iam_key_deactivate`: access keys (which are also SES SMTP credentials: an SMTP password is derived
//!   from an access key);
//! - `iam_ssh_key_deactivate`: SSH public keys (git over SSH to CodeCommit);
//! - `iam_service_credential_deactivate`: service-specific credentials (CodeCommit HTTPS Git passwords,
//!   Amazon Keyspaces, Bedrock and CloudWatch Logs API keys).
//!
//! Inactive is exactly reversible: the credential, its ID and its secret stay; restore makes it Active
//! again if it is still Inactive (one marked Expired since is left so, reported as a conflict). The three
//! share one implementation because they differ only in the IAM calls that list and update them. The
//! caller's own access key, and every credential of the caller's user, are left alone.

use async_trait::async_trait;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::StatusType;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{CallerPrincipal, is_no_such_entity, rfc3339};
use crate::aws::{CallerIdentity, RegionCtx};
use crate::plan::{Cut, Finding, GLOBAL_REGION, Severity};
use crate::services::common::missing_api::{missing_operation, retry_config, unread_finding};
use crate::services::common::unclassified;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub const ACTIVE: &str = "Active";
pub const INACTIVE: &str = "Inactive";

/// How many users' credentials are listed at once: enough to make discovery of a large account quick,
/// few enough to stay under IAM's account-wide request rate.
const LIST_CONCURRENCY: usize = 4;

/// Which credential a [`CredentialDeactivate`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialType {
    AccessKey,
    SshPublicKey,
    ServiceSpecific,
}

/// One kind of credential cut; the registry holds one per [`CredentialType`].
pub struct CredentialDeactivate(pub CredentialType);

static ACCESS_KEY_INFO: KindInfo = KindInfo {
    name: "iam_key_deactivate",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::Identity,
};

static SSH_KEY_INFO: KindInfo = KindInfo {
    name: "iam_ssh_key_deactivate",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::Identity,
};

static SERVICE_CREDENTIAL_INFO: KindInfo = KindInfo {
    name: "iam_service_credential_deactivate",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::Identity,
};

/// A credential as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialState {
    pub user_name: String,
    /// The access key ID, SSH public key ID or service-specific credential ID: the cut's target.
    pub id: String,
    /// `Active` or `Inactive` (service-specific credentials may also be `Expired`).
    pub status: String,
    /// Creation (access keys, service credentials) or upload (SSH keys) time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Service-specific credentials: the service it signs in to, e.g. `codecommit.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// Service-specific credentials: the user name it signs in with (not the IAM user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user_name: Option<String>,
}

/// What restore needs: whose credential to make Active again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub user_name: String,
    pub id: String,
}

impl CredentialType {
    fn info(self) -> &'static KindInfo {
        match self {
            CredentialType::AccessKey => &ACCESS_KEY_INFO,
            CredentialType::SshPublicKey => &SSH_KEY_INFO,
            CredentialType::ServiceSpecific => &SERVICE_CREDENTIAL_INFO,
        }
    }

    /// For people: "access key", "SSH public key", "service-specific credential".
    pub fn noun(self) -> &'static str {
        match self {
            CredentialType::AccessKey => "access key",
            CredentialType::SshPublicKey => "SSH public key",
            CredentialType::ServiceSpecific => "service-specific credential",
        }
    }

    fn list_action(self) -> &'static str {
        match self {
            CredentialType::AccessKey => "iam:ListAccessKeys",
            CredentialType::SshPublicKey => "iam:ListSSHPublicKeys",
            CredentialType::ServiceSpecific => "iam:ListServiceSpecificCredentials",
        }
    }

    fn update_action(self) -> &'static str {
        match self {
            CredentialType::AccessKey => "iam:UpdateAccessKey",
            CredentialType::SshPublicKey => "iam:UpdateSSHPublicKey",
            CredentialType::ServiceSpecific => "iam:UpdateServiceSpecificCredential",
        }
    }

    /// Every credential of this type that `user` holds.
    pub async fn list(
        self,
        ctx: &RegionCtx,
        user: &str,
    ) -> Result<Vec<CredentialState>, ServiceError> {
        let status = |s: &StatusType| s.as_str().to_string();
        match self {
            CredentialType::AccessKey => {
                let keys: Vec<_> = ctx
                    .iam()
                    .list_access_keys()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|err| ServiceError::from_sdk(self.list_action(), err))?;
                // A key listed without its ID cannot be deactivated (UpdateAccessKey names it).
                let unnamed = keys.iter().filter(|k| k.access_key_id().is_none()).count();
                if unnamed > 0 {
                    unclassified::report(
                        ctx,
                        self.info().name,
                        GLOBAL_REGION,
                        &format!("{unnamed} access key(s) of IAM user {user}"),
                        "ListAccessKeys returned them without their AccessKeyId, so they cannot be deactivated",
                    )
                    .await;
                }
                Ok(keys
                    .iter()
                    .filter_map(|k| {
                        Some(CredentialState {
                            user_name: k.user_name().unwrap_or(user).to_string(),
                            id: k.access_key_id()?.to_string(),
                            status: k.status().map(status).unwrap_or_default(),
                            created: k.create_date().and_then(rfc3339),
                            service_name: None,
                            service_user_name: None,
                        })
                    })
                    .collect())
            }
            CredentialType::SshPublicKey => {
                let keys: Vec<_> = ctx
                    .iam()
                    .list_ssh_public_keys()
                    .user_name(user)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|err| ServiceError::from_sdk(self.list_action(), err))?;
                Ok(keys
                    .iter()
                    .map(|k| CredentialState {
                        user_name: k.user_name().to_string(),
                        id: k.ssh_public_key_id().to_string(),
                        status: status(k.status()),
                        created: rfc3339(k.upload_date()),
                        service_name: None,
                        service_user_name: None,
                    })
                    .collect())
            }
            CredentialType::ServiceSpecific => {
                // The SDK has no paginator for this operation: follow the markers by hand.
                let mut credentials = Vec::new();
                let mut marker: Option<String> = None;
                loop {
                    let out = ctx
                        .iam()
                        .list_service_specific_credentials()
                        .user_name(user)
                        .set_marker(marker.clone())
                        .customize()
                        .config_override(no_retries_on_emulator(ctx))
                        .send()
                        .await
                        .map_err(|err| service_credential_error(self.list_action(), err))?;
                    credentials.extend(out.service_specific_credentials().iter().map(|c| {
                        CredentialState {
                            user_name: c.user_name().to_string(),
                            id: c.service_specific_credential_id().to_string(),
                            status: status(c.status()),
                            created: rfc3339(c.create_date()),
                            service_name: Some(c.service_name().to_string()),
                            service_user_name: Some(c.service_user_name().to_string()),
                        }
                    }));
                    match out.marker() {
                        Some(next) if out.is_truncated() && !next.is_empty() => {
                            marker = Some(next.to_string())
                        }
                        _ => break,
                    }
                }
                Ok(credentials)
            }
        }
    }

    async fn set_status(
        self,
        ctx: &RegionCtx,
        user: &str,
        id: &str,
        status: StatusType,
    ) -> Result<(), ServiceError> {
        let action = self.update_action();
        match self {
            CredentialType::AccessKey => ctx
                .iam()
                .update_access_key()
                .user_name(user)
                .access_key_id(id)
                .status(status)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| ServiceError::from_sdk(action, err)),
            CredentialType::SshPublicKey => ctx
                .iam()
                .update_ssh_public_key()
                .user_name(user)
                .ssh_public_key_id(id)
                .status(status)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| ServiceError::from_sdk(action, err)),
            CredentialType::ServiceSpecific => ctx
                .iam()
                .update_service_specific_credential()
                .user_name(user)
                .service_specific_credential_id(id)
                .status(status)
                .customize()
                .config_override(no_retries_on_emulator(ctx))
                .send()
                .await
                .map(|_| ())
                .map_err(|err| service_credential_error(action, err)),
        }
    }

    /// Why this credential is cut, for the plan.
    pub fn reason(self, state: &CredentialState) -> String {
        let created = state
            .created
            .as_deref()
            .map(|c| format!(", created {c}"))
            .unwrap_or_default();
        let (what, effect) = match self {
            CredentialType::AccessKey => (
                "anyone holding its secret can call AWS as this user, and SES SMTP credentials are access keys too, so it may also be an SMTP password for sending mail",
                "Deactivating it refuses new requests signed with it, API and SMTP alike. Sessions already issued from it live on until iam_session_revoke cuts them.",
            ),
            CredentialType::SshPublicKey => (
                "it lets its holder use git over SSH to CodeCommit as this user",
                "Deactivating it refuses those connections.",
            ),
            CredentialType::ServiceSpecific => (
                "it signs in to an AWS service directly (CodeCommit HTTPS Git, Keyspaces, Bedrock, CloudWatch Logs) as this user",
                "Deactivating it refuses those sign-ins.",
            ),
        };
        let service = match (&state.service_name, &state.service_user_name) {
            (Some(service), Some(login)) => format!(" for {service} (login {login})"),
            (Some(service), None) => format!(" for {service}"),
            _ => String::new(),
        };
        format!(
            "{noun} {id}{service} of IAM user {user}{created} is Active: {what}. {effect} The credential and its secret are kept; restore makes it Active again.",
            noun = capitalize(self.noun()),
            id = state.id,
            user = state.user_name,
        )
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// An emulator without the service-specific credential API (moto has none; the test harness adds a model
/// of it) answers 500 every time: retrying it six times would only slow every plan of an account with
/// users. AWS keeps the standard retries.
fn no_retries_on_emulator(ctx: &RegionCtx) -> aws_sdk_iam::config::Builder {
    let mut overrides = aws_sdk_iam::config::Builder::default();
    overrides.set_retry_config(retry_config(ctx.endpoint_url.as_deref()));
    overrides
}

/// The code given to "this endpoint has no such operation": never an AWS error code.
const ENDPOINT_LACKS_OPERATION: &str = "EndpointLacksOperation";

/// An endpoint without the service-specific credential API (moto, unless the test harness's model of it
/// is loaded) answers with an error page, not an IAM error: say what was not checked and what to check by hand. Discovery turns it
/// into a finding (see the `Inspection` below), as the SES and ECR Public kinds do, so a path the endpoint
/// never had does not fail the whole plan. Other failures are reported as they are.
fn service_credential_error<E>(action: &str, err: SdkError<E, HttpResponse>) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match missing_operation(&err) {
        Some(answer) => ServiceError {
            operation: action.to_string(),
            code: Some(ENDPOINT_LACKS_OPERATION.into()),
            message: format!(
                "the IAM endpoint does not implement {} ({answer}): service-specific credentials (CodeCommit HTTPS Git, Keyspaces, Bedrock, CloudWatch Logs) were not checked; review each user's in the IAM console",
                action.trim_start_matches("iam:")
            ),
        },
        None => ServiceError::from_sdk(action, err),
    }
}

/// The statuses IAM documents for every credential type: Active, Inactive, and Expired
/// (<https://docs.aws.amazon.com/IAM/latest/APIReference/API_AccessKeyMetadata.html>, `Status`).
const KNOWN_STATUSES: [&str; 3] = [ACTIVE, INACTIVE, "Expired"];

/// What is odd about a credential's status, when it is neither documented nor present: such a credential
/// is not proposed (only Active ones are, and restore makes them Active again), so it is reported.
pub fn unclassified_status(state: &CredentialState) -> Option<String> {
    if KNOWN_STATUSES.contains(&state.status.as_str()) {
        return None;
    }
    Some(if state.status.is_empty() {
        "IAM returned it without its Status, so whether it still works is not known".into()
    } else {
        format!(
            "IAM returned it with status `{}`, which this hikkonuki does not know, so whether it still works is not known",
            state.status
        )
    })
}

/// The proposal for one credential, or nothing when it is not Active or belongs to the caller.
pub fn propose(
    kind: CredentialType,
    caller: &CallerPrincipal,
    state: &CredentialState,
) -> Option<Proposal<CredentialState>> {
    if state.status != ACTIVE || caller.is_user(&state.user_name) {
        return None;
    }
    if kind == CredentialType::AccessKey && caller.is_access_key(&state.id) {
        return None;
    }
    let after = CredentialState {
        status: INACTIVE.to_string(),
        ..state.clone()
    };
    Some(Proposal {
        target: state.id.clone(),
        reason: kind.reason(state),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

/// Every IAM user name in the account (from the run's one ListUsers walk, [`super::listing`]).
pub async fn user_names(ctx: &RegionCtx) -> Result<Vec<String>, ServiceError> {
    let users = super::listing::users(ctx).await?;
    let mut names: Vec<String> = users.iter().map(|u| u.user_name().to_string()).collect();
    names.sort();
    Ok(names)
}

/// Only the "cannot be listed" case: an endpoint without the service-specific credential API. Listing
/// one user's credentials is enough to tell; every other outcome is the kind's discovery, so nothing is
/// reported twice. The other credential types report nothing here.
#[async_trait]
impl Inspection for CredentialDeactivate {
    fn name(&self) -> &'static str {
        self.info().name
    }

    fn global(&self) -> bool {
        true
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        if self.0 != CredentialType::ServiceSpecific {
            return Ok(vec![]);
        }
        let caller = CallerPrincipal::from_identity(&scope.caller);
        let users = user_names(ctx).await?;
        let Some(user) = users.iter().find(|u| !caller.is_user(u)) else {
            return Ok(vec![]);
        };
        Ok(match self.0.list(ctx, user).await {
            Err(err) if err.code.as_deref() == Some(ENDPOINT_LACKS_OPERATION) => {
                vec![unread_finding(
                    self.info().name,
                    GLOBAL_REGION,
                    "iam",
                    Severity::High,
                    err.message,
                )]
            }
            _ => vec![],
        })
    }
}

impl CredentialDeactivate {
    /// The credential's live state, or `None` when it (or its user) no longer exists.
    async fn live(
        &self,
        ctx: &RegionCtx,
        user: &str,
        id: &str,
    ) -> Result<Option<CredentialState>, ServiceError> {
        match self.0.list(ctx, user).await {
            Ok(all) => Ok(all.into_iter().find(|c| c.id == id)),
            Err(err) if is_no_such_entity(&err) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

#[async_trait]
impl CutKind for CredentialDeactivate {
    type State = CredentialState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        self.0.info()
    }

    /// Each cut's undo touches only its own credential: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<CredentialState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.id != cut.target || after.id != cut.target {
            return Err(format!("id must be the cut's target `{}`", cut.target));
        }
        if after.status != INACTIVE {
            return Err(format!("`after` must have status: {INACTIVE}"));
        }
        if (CredentialState {
            status: before.status.clone(),
            ..after.clone()
        }) != *before
        {
            return Err("`after` may differ from `before` only in its status".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<CredentialState>>, ServiceError> {
        let caller = CallerPrincipal::from_identity(&scope.caller);
        let kind = self.0;
        let users: Vec<String> = user_names(ctx)
            .await?
            .into_iter()
            .filter(|u| !caller.is_user(u))
            .collect();
        let listed: Result<Vec<Vec<CredentialState>>, ServiceError> = stream::iter(users)
            .map(|user| async move {
                match kind.list(ctx, &user).await {
                    // Deleted between ListUsers and now: nothing left to cut.
                    Err(err) if is_no_such_entity(&err) => Ok(Vec::new()),
                    other => other,
                }
            })
            .buffered(LIST_CONCURRENCY)
            .try_collect()
            .await;
        let per_user = match listed {
            // Reported by the inspection as a finding naming what to check by hand.
            Err(err) if err.code.as_deref() == Some(ENDPOINT_LACKS_OPERATION) => return Ok(vec![]),
            other => other?,
        };
        for state in per_user.iter().flatten() {
            if let Some(odd) = unclassified_status(state) {
                unclassified::report(
                    ctx,
                    kind.info().name,
                    GLOBAL_REGION,
                    &format!(
                        "{} {} of IAM user {}",
                        kind.noun(),
                        state.id,
                        state.user_name
                    ),
                    odd,
                )
                .await;
            }
        }
        Ok(per_user
            .iter()
            .flatten()
            .filter_map(|state| propose(kind, &caller, state))
            .collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<CredentialState>,
    ) -> Result<Option<CredentialState>, ServiceError> {
        self.live(ctx, &cut.before.user_name, &cut.before.id).await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<CredentialState>,
    ) -> Result<UndoRecord, ServiceError> {
        let undo = self.undo_record_for(cut)?;
        self.0
            .set_status(ctx, &undo.user_name, &undo.id, StatusType::Inactive)
            .await?;
        Ok(undo)
    }

    fn cuts_off(&self, cut: &TypedCut<CredentialState>, caller: &CallerIdentity) -> bool {
        let caller = CallerPrincipal::from_identity(caller);
        caller.is_user(&cut.before.user_name)
            || (self.0 == CredentialType::AccessKey && caller.is_access_key(&cut.before.id))
    }

    fn undo_record_for(&self, cut: &TypedCut<CredentialState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            user_name: cut.before.user_name.clone(),
            id: cut.before.id.clone(),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let noun = self.0.noun();
        let (user, id) = (&undo.user_name, &undo.id);
        match self.live(ctx, user, id).await? {
            None => Err(ServiceError::local(
                self.0.list_action(),
                format!(
                    "{noun} {id} of IAM user {user} no longer exists (deleted after the cut); it cannot be made Active again: issue a new one if the user still needs it"
                ),
            )),
            Some(state) if state.status == ACTIVE => Ok(UndoOutcome {
                notes: vec![format!("{noun} {id} of {user} is already Active")],
            }),
            // Only what the cut left is given back: a credential since marked Expired (the API accepts
            // the status; AWS sets it when a Bedrock API key's time runs out) would be revived by making
            // it Active.
            Some(state) if state.status != INACTIVE => {
                let now = if state.status.is_empty() {
                    "has no status now".to_string()
                } else {
                    format!("is {} now", state.status)
                };
                Ok(UndoOutcome {
                    notes: vec![format!(
                        "{} {noun} {id} of {user} {now}, not {INACTIVE} as the cut left it; left alone (make it Active by hand if it should work again)",
                        UndoOutcome::CONFLICT
                    )],
                })
            }
            Some(_) => {
                self.0.set_status(ctx, user, id, StatusType::Active).await?;
                Ok(UndoOutcome {
                    notes: vec![format!("{noun} {id} of {user} made Active again")],
                })
            }
        }
    }
}
