//! Kinds of cut. Each module holds one kind's discovery, the cut and its exact undo behind
//! [`Containment`]; this is the only layer where `aws_sdk_*` types appear. SDK errors are turned into
//! [`ServiceError`] at this boundary and never leak upward.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use serde_json::Value;

use crate::aws::{CallerIdentity, RegionCtx};
use crate::net::Cidr;
use crate::plan::{Cut, Finding, KindCatalog, KindFacts};

pub mod api_gateway;
pub mod cloudfront;
pub mod cloudtrail_not_logging;
pub mod codecommit_repositories;
pub mod ecr_public;
pub mod gateway_attachment;
pub mod identity;
pub mod internet_gateway;
pub mod lambda;
pub mod mail;
pub mod missing_api;
pub mod network_acl;
pub mod rds;
pub mod regions;
pub mod route53_public_records;
pub mod route_table;
pub mod s3_public_access_block;
pub mod security_group;
pub mod vpc;
pub mod vpc_endpoint;
pub mod vpn_gateway;

/// When a kind runs during apply. Sealing cuts close whole paths out of a network and run first, so the
/// account is sealed as early as possible; per-resource cuts follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Seal,
    PerResource,
}

/// What a kind is, independent of any resource.
#[derive(Debug)]
pub struct KindInfo {
    pub name: &'static str,
    pub reversible: bool,
    /// Irreversible kinds are proposed with `enabled: false`.
    pub enabled_by_default: bool,
    pub phase: Phase,
    /// True for account-wide resources (region `global`).
    pub global: bool,
}

/// What discovery needs to know besides the region.
#[derive(Debug, Clone)]
pub struct DiscoveryScope {
    pub caller: CallerIdentity,
    /// Ranges that stay reachable: the responder's own way in.
    pub keep_cidrs: Vec<Cidr>,
    /// `--maintenance-origin`: where CloudFront should send viewers instead of being disabled.
    pub maintenance_origin: Option<String>,
}

/// A cut as a service proposes it; the engine gives it its id, kind, region and enabled flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProposedCut {
    pub target: String,
    pub reason: String,
    pub before: Value,
    pub after: Value,
    /// Set when this cut cannot work as the account stands (for example AWS would refuse it): the cut is
    /// still listed, so the operator sees the path, but proposed with `enabled: false` and this text in
    /// its reason, saying what blocks it and what to do instead.
    pub disabled_because: Option<String>,
}

/// What an undo did, for the operator: conflicts with later changes are listed, never overwritten.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UndoOutcome {
    pub notes: Vec<String>,
}

/// An AWS call that failed, reduced to what the operator needs: which call, the AWS error code, the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    pub operation: String,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.operation, self.message)?,
            None => write!(f, "{} failed: {}", self.operation, self.message)?,
        }
        if self.is_access_denied() {
            write!(
                f,
                " (missing permission: {}; grant it to the responder's role, or have someone who holds it run this)",
                self.operation
            )?;
        }
        Ok(())
    }
}

impl ServiceError {
    /// `operation` is the IAM action, e.g. `ec2:RevokeSecurityGroupIngress`, so an AccessDenied names
    /// exactly the permission that is missing.
    pub fn from_sdk<E, R>(operation: &str, err: aws_sdk_ec2::error::SdkError<E, R>) -> ServiceError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let code = err.code().map(str::to_string);
        let message = match err.message() {
            Some(message) => message.to_string(),
            None => aws_sdk_ec2::error::DisplayErrorContext(&err).to_string(),
        };
        ServiceError {
            operation: operation.to_string(),
            code,
            message,
        }
    }

    /// The caller lacks the IAM permission for this operation.
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("AccessDenied")
                | Some("AccessDeniedException")
                | Some("UnauthorizedOperation")
                | Some("AuthorizationError")
        )
    }

    /// The credentials in use are expired or no longer valid: every later call would fail the same way.
    pub fn is_credentials_problem(&self) -> bool {
        match self.code.as_deref() {
            Some(code) => matches!(
                code,
                "ExpiredToken"
                    | "ExpiredTokenException"
                    | "RequestExpired"
                    | "InvalidClientTokenId"
                    | "UnrecognizedClientException"
                    | "AuthFailure"
            ),
            // The SDK reports a provider that could not refresh as a dispatch failure without a code.
            None => self.message.to_ascii_lowercase().contains("credentials"),
        }
    }

    /// A problem found without calling AWS (for example a state that does not decode).
    pub fn local(operation: &str, message: impl Into<String>) -> ServiceError {
        ServiceError {
            operation: operation.to_string(),
            code: None,
            message: message.into(),
        }
    }
}

/// What `apply --check` learned about one cut.
#[derive(Debug, Clone, PartialEq)]
pub enum PermissionCheck {
    Allowed,
    Denied(ServiceError),
    NotCheckable(String),
    /// The check itself failed for another reason.
    Failed(ServiceError),
}

impl PermissionCheck {
    /// Reads the answer to a `DryRun` call: AWS signals "would have succeeded" as a `DryRunOperation` error.
    pub fn from_dry_run(result: Result<(), ServiceError>) -> PermissionCheck {
        match result {
            Err(err) if err.code.as_deref() == Some("DryRunOperation") => PermissionCheck::Allowed,
            Err(err) if err.is_access_denied() => PermissionCheck::Denied(err),
            Err(err) => PermissionCheck::Failed(err),
            // A dry run that "succeeds" was executed for real: say so loudly rather than call it allowed.
            Ok(()) => PermissionCheck::Failed(ServiceError::local(
                "DryRun",
                "the endpoint performed the call instead of dry-running it",
            )),
        }
    }
}

/// One kind of cut: how to find what to cut, how to cut it, and how to put it back exactly.
#[async_trait]
pub trait Containment: Send + Sync {
    fn info(&self) -> &'static KindInfo;

    /// Checks that a cut's `before` and `after` have this kind's shape.
    fn check_states(&self, cut: &Cut) -> Result<(), String>;

    /// Proposes cuts for one region, each with the resource's state now.
    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<ProposedCut>, ServiceError>;

    /// The resource's live state in the same shape as `before`, so apply can refuse drift.
    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError>;

    /// The live state of several cuts' resources at once (all of this kind, in one region), in order.
    /// The default observes each; kinds with a region-wide describe override it, so checking a thousand
    /// cuts for drift costs a few calls, not thousands.
    async fn observe_many(
        &self,
        ctx: &RegionCtx,
        cuts: &[&Cut],
    ) -> Vec<Result<Value, ServiceError>> {
        let mut states = Vec::with_capacity(cuts.len());
        for cut in cuts {
            states.push(self.observe(ctx, cut).await);
        }
        states
    }

    /// Performs the cut and returns everything needed to undo it.
    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError>;

    /// The undo record apply would have returned, for a cut whose completion was never journaled (a
    /// crash mid-call). [`Containment::undo`] must be safe to run with it whether or not the cut happened.
    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError>;

    /// Asks AWS whether the cut would be permitted, without performing it (EC2 `DryRun`). Kinds whose API
    /// has no dry run say so rather than guess.
    async fn check_permission(&self, _ctx: &RegionCtx, _cut: &Cut) -> PermissionCheck {
        PermissionCheck::NotCheckable(
            "this kind's API has no dry run; permissions are only known when the cut runs".into(),
        )
    }

    /// When restore must keep this kind's cuts unless the operator passes a flag (for example, lifting a
    /// session revocation revives stolen sessions).
    fn restore_gate(&self) -> Option<RestoreGate> {
        None
    }

    /// Puts back what the cut took, and only that: whatever changed since is left alone and reported.
    /// Running it twice is harmless.
    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError>;
}

/// A restore that must not happen by default, and the flag that allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreGate {
    /// The `restore` flag that lifts the gate, e.g. `--lift-session-revocation`.
    pub flag: &'static str,
    /// Why restore keeps the cut unless asked, for the operator.
    pub why: &'static str,
}

/// A check that reports what the responder should know and no cut changes (CloudTrail off, root without
/// MFA, a back door). Inspections never change the account.
#[async_trait]
pub trait Inspection: Send + Sync {
    fn name(&self) -> &'static str;
    /// True for account-wide checks, run once from the home region.
    fn global(&self) -> bool;
    /// `cuts` are those proposed so far, for checks that relate to them (e.g. DNS records pointing at
    /// something the plan cuts).
    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError>;
}

/// A cut's `before` and `after` in a kind's own state type; the error names which one does not fit.
pub fn decode_states<T: serde::de::DeserializeOwned>(cut: &Cut) -> Result<(T, T), String> {
    let before =
        serde_json::from_value(cut.before.clone()).map_err(|err| format!("`before`: {err}"))?;
    let after =
        serde_json::from_value(cut.after.clone()).map_err(|err| format!("`after`: {err}"))?;
    Ok((before, after))
}

/// Runs `read` on each item, `concurrency` at a time, and gathers what each found, in item order: how
/// kinds read hundreds of functions, APIs or distributions in seconds without exceeding a service's
/// request rate.
pub async fn gather<I, T, F, Fut>(
    items: Vec<I>,
    concurrency: usize,
    read: F,
) -> Result<Vec<T>, ServiceError>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, ServiceError>>,
{
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let found: Vec<Vec<T>> = stream::iter(items)
        .map(read)
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// Every kind this hikkonuki knows, in apply order within a phase.
pub struct Registry {
    kinds: Vec<Box<dyn Containment>>,
    inspections: Vec<Box<dyn Inspection>>,
}

impl Registry {
    pub fn standard() -> Registry {
        Registry {
            kinds: vec![
                Box::new(network_acl::NetworkAclDeny),
                Box::new(route_table::RouteRemove),
                Box::new(internet_gateway::InternetGatewayDetach),
                Box::new(vpn_gateway::VpnGatewayDetach),
                Box::new(security_group::SecurityGroupRevoke),
                Box::new(vpc_endpoint::VpcEndpointPolicyDeny),
                Box::new(vpc_endpoint::VpcEndpointDelete),
                Box::new(rds::RdsPublicOff),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::AccessKey,
                )),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::SshPublicKey,
                )),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::ServiceSpecific,
                )),
                Box::new(identity::SessionRevoke),
                Box::new(mail::sending_pause::SesSendingPause),
                Box::new(mail::send_deny::SesSendDeny),
                Box::new(mail::identity_policy::SesIdentityPolicyRemove),
                Box::new(s3_public_access_block::S3PublicAccessBlock),
                Box::new(ecr_public::EcrPublicDelete),
                Box::new(lambda::LambdaThrottle),
                Box::new(lambda::LambdaUrlRestrict),
                Box::new(lambda::LambdaPermissionRemove),
                Box::new(api_gateway::ApiGatewayDenyPolicy),
                Box::new(api_gateway::ApiGatewayStageThrottle),
                Box::new(cloudfront::CloudFrontDisable),
                Box::new(cloudfront::CloudFrontMaintenance),
            ],
            inspections: vec![
                Box::new(mail::sending_pause::SesSendingPause),
                Box::new(ecr_public::EcrPublicDelete),
                Box::new(cloudtrail_not_logging::CloudTrailNotLogging),
                Box::new(codecommit_repositories::CodeCommitRepositories),
                Box::new(route53_public_records::Route53PublicRecords),
                Box::new(identity::RootWithoutMfa),
                Box::new(identity::ExposedAccessKeys),
                Box::new(identity::IdentityCenter),
                Box::new(identity::CallerKept),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::ServiceSpecific,
                )),
            ],
        }
    }

    pub fn get(&self, kind: &str) -> Option<&dyn Containment> {
        self.kinds
            .iter()
            .find(|k| k.info().name == kind)
            .map(|k| k.as_ref())
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Containment> {
        self.kinds.iter().map(|k| k.as_ref())
    }

    pub fn inspections(&self) -> impl Iterator<Item = &dyn Inspection> {
        self.inspections.iter().map(|i| i.as_ref())
    }
}

/// The standard registry.
pub fn registry() -> Registry {
    Registry::standard()
}

impl KindCatalog for Registry {
    fn lookup(&self, kind: &str) -> Option<KindFacts> {
        self.get(kind).map(|k| KindFacts {
            reversible: k.info().reversible,
            global: k.info().global,
        })
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        match self.get(&cut.kind) {
            Some(kind) => kind.check_states(cut),
            None => Err(format!("unknown kind `{}`", cut.kind)),
        }
    }

    fn kind_names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.info().name).collect()
    }
}
