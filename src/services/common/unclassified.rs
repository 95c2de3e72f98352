//! What discovery could not classify (issue 11, "Never silently skip"): a resource whose description
//! lacks a field the kind needs to act on it (an ID, a name, a state), an enum value this build's SDK does
//! not know, a document that does not parse. A kind that meets one and cannot propose its cut for it
//! reports it here, while it discovers; the [`Unclassified`] inspection, which runs once every kind has
//! discovered, turns each report into a High finding of the plan. A resource dropped without a word would
//! be a path left open while the plan says all is well.
//!
//! The reports are kept per region in the run's [`RegionCtx`] (under one [`RegionCtx::once`] key), so
//! no kind's signature changes and a kind reports exactly where it already reads. Global kinds run in the
//! home region's context; their reports carry the region `global`.
//!
//! The EC2, IAM, Lambda, API Gateway, RDS and ECR Public API references document almost every field of a
//! description as "Required: No"; these reports are for the ones hikkonuki cannot act without.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

/// The name of the inspection, and of nothing else.
pub const CHECK: &str = "unclassified_resources";

/// The [`RegionCtx::once`] key the reports are kept under.
const KEY: &str = "common::unclassified::reports";

type Reports = Arc<Mutex<Vec<Finding>>>;

async fn reports(ctx: &RegionCtx) -> Reports {
    ctx.once::<Reports, Infallible, _>(KEY, || async { Ok(Reports::default()) })
        .await
        .unwrap_or_else(|never| match never {})
}

/// Records that `kind` could not classify `resource` in `region` (a region name, or `global`), and why;
/// `what` says what was odd and what the operator should do. It becomes a High finding of the plan.
pub async fn report(
    ctx: &RegionCtx,
    kind: &str,
    region: &str,
    resource: &str,
    what: impl Into<String>,
) {
    let finding = Finding {
        check: kind.to_string(),
        region: region.to_string(),
        resource: resource.to_string(),
        severity: Severity::High,
        message: format!(
            "{kind} could not classify {resource}: {}. No cut is proposed for it, so it may be a path left open: look at it by hand.",
            what.into()
        ),
    };
    let reports = reports(ctx).await;
    let mut reports = reports
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Two kinds reading the same description (the VPC endpoint kinds, the Lambda kinds) may meet the
    // same oddity; one finding says it.
    if !reports.contains(&finding) {
        reports.push(finding);
    }
}

/// What has been reported in this context so far, left in place (for tests).
#[cfg(test)]
pub async fn reported(ctx: &RegionCtx) -> Vec<Finding> {
    let reports = reports(ctx).await;
    let reports = reports
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    reports.clone()
}

/// What has been reported in this context, taken out so no second inspection repeats it.
async fn take(ctx: &RegionCtx) -> Vec<Finding> {
    let reports = reports(ctx).await;
    let mut reports = reports
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::mem::take(&mut *reports)
}

/// Turns what discovery reported into findings. Registered twice: regional, for every region of the plan,
/// and global, for the home region's context, where the global kinds discover (the home region need not
/// be among the plan's regions). Each report is taken once, whichever runs first.
pub struct Unclassified {
    pub global: bool,
}

#[async_trait]
impl Inspection for Unclassified {
    fn name(&self) -> &'static str {
        CHECK
    }

    fn global(&self) -> bool {
        self.global
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        Ok(take(ctx).await)
    }
}

#[cfg(test)]
mod tests;
