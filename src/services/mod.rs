//! Kinds of cut. Each module holds one kind's discovery, the cut and its exact undo behind
//! [`Containment`]; this is the only layer where `aws_sdk_*` types appear. SDK errors are turned into
//! [`ServiceError`] at this boundary and never leak upward.

use std::fmt;

use async_trait::async_trait;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use serde_json::Value;

use crate::aws::{CallerIdentity, RegionCtx};
use crate::net::Cidr;
use crate::plan::{Cut, KindCatalog, KindFacts};

pub mod regions;
pub mod security_group;
pub mod vpc;

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
}

/// A cut as a service proposes it; the engine gives it its id, kind, region and enabled flag.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposedCut {
    pub target: String,
    pub reason: String,
    pub before: Value,
    pub after: Value,
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
            Some(code) => write!(f, "{} failed: {code}: {}", self.operation, self.message),
            None => write!(f, "{} failed: {}", self.operation, self.message),
        }
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

    /// A problem found without calling AWS (for example a state that does not decode).
    pub fn local(operation: &str, message: impl Into<String>) -> ServiceError {
        ServiceError {
            operation: operation.to_string(),
            code: None,
            message: message.into(),
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

    /// Performs the cut and returns everything needed to undo it.
    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError>;

    /// The undo record apply would have returned, for a cut whose completion was never journaled (a
    /// crash mid-call). [`Containment::undo`] must be safe to run with it whether or not the cut happened.
    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError>;

    /// Puts back what the cut took, and only that: whatever changed since is left alone and reported.
    /// Running it twice is harmless.
    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError>;
}

/// Every kind this hikkonuki knows, in apply order within a phase.
pub struct Registry {
    kinds: Vec<Box<dyn Containment>>,
}

impl Registry {
    pub fn standard() -> Registry {
        Registry {
            kinds: vec![Box::new(security_group::SecurityGroupRevoke)],
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
