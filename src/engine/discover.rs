//! Discovery: ask every kind of cut, in every requested region, what it would cut. Read-only by
//! construction: only `Containment::discover` is called.

use futures_util::stream::{self, StreamExt};

use crate::aws::{AwsSession, CallerIdentity};
use crate::net::Cidr;
use crate::plan::select::Selection;
use crate::plan::{Cut, DiscoveryError, FORMAT_VERSION, Finding, GLOBAL_REGION, Plan};
use crate::report::{Event, Reporter};
use crate::services::{Containment, DiscoveryScope, Inspection, PlanOptions, Registry};

/// Which kinds an account's discovery runs, by phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountPart {
    /// Every kind: a one-account plan, or the management account chosen in a plan over several.
    Whole,
    /// Only the organization-level kinds ([`crate::services::Phase::Organization`]), and no inspections:
    /// the management account's part of a plan over several accounts that does not include it.
    OrganizationLevel,
    /// Every kind but the organization-level ones, which act from the management account only: a member
    /// account's part.
    Member,
}

#[derive(Clone)]
pub struct PlanRequest {
    pub caller: CallerIdentity,
    pub regions: Vec<String>,
    pub keep_cidrs: Vec<Cidr>,
    /// The values of the kinds' plan options, already checked.
    pub options: PlanOptions,
    pub parallelism: usize,
    /// The cuts asked for (`--kinds`, `--exclude-kinds`, `--target`): other kinds are not discovered,
    /// other cuts not kept. Inspections all run: findings are about the account, not the selection.
    pub selection: Selection,
    /// `--role`: the role member accounts are entered through, when not the default.
    pub member_role: Option<String>,
    /// Which kinds this account's part of the plan takes ([`AccountPart`]).
    pub part: AccountPart,
    /// The plan's moment (RFC 3339) when this is one account's part of a plan over several, which all
    /// share the plan's `created` (kinds name what they make after it); `None`: now.
    pub created: Option<String>,
}

/// A plan of one account: its steps counted first (`started`, for progress), then discovered. A plan
/// over several accounts counts every account's steps itself ([`crate::engine::organization::make_plan`]).
pub async fn plan_account(
    session: &AwsSession,
    registry: &Registry,
    request: PlanRequest,
    reporter: &dyn Reporter,
) -> Plan {
    reporter.event(&super::apply::started(
        "plan",
        false,
        steps_by_kind(registry, &request).into_iter(),
    ));
    make_plan(session, registry, request, reporter).await
}

/// Discovers every region concurrently (bounded) and assembles the plan. A region or kind whose discovery
/// fails is recorded in `discovery_errors` and the rest goes on.
pub async fn make_plan(
    session: &AwsSession,
    registry: &Registry,
    request: PlanRequest,
    reporter: &dyn Reporter,
) -> Plan {
    // The plan's moment, taken before discovery: kinds name what they will make after it.
    let created = request.created.clone().unwrap_or_else(now_rfc3339);
    let scope = DiscoveryScope {
        created: created.clone(),
        caller: request.caller.clone(),
        keep_cidrs: request.keep_cidrs.clone(),
        options: request.options.clone(),
        member_role: request
            .member_role
            .clone()
            .unwrap_or_else(|| crate::plan::DEFAULT_MEMBER_ROLE.into()),
    };
    for region in &request.regions {
        reporter.event(&Event::DiscoveryStarted {
            region: region.clone(),
        });
    }
    let results: Vec<_> = stream::iter(discovery_steps(registry, &request))
        .map(|(region, kind)| {
            let scope = &scope;
            async move {
                let ctx = session.region(&region);
                let found = kind.discover(&ctx, scope).await;
                if let Ok(proposed) = &found {
                    reporter.event(&Event::Discovered {
                        region: region.clone(),
                        kind: kind.info().name.to_string(),
                        found: proposed.len(),
                    });
                }
                (region, kind, found)
            }
        })
        .buffered(request.parallelism.max(1))
        .collect()
        .await;

    let mut cuts = Vec::new();
    let mut discovery_errors = Vec::new();
    for (region, kind, found) in results {
        let info = kind.info();
        match found {
            Ok(proposed) => cuts.extend(proposed.into_iter().map(|p| {
                // A cut that cannot work as the account stands is still listed, switched off, with
                // what blocks it in the reason: the operator sees the path and what to do about it.
                let (enabled, reason) = match &p.disabled_because {
                    None => (info.enabled_by_default, p.reason),
                    Some(because) => (false, format!("{} Disabled: {because}", p.reason)),
                };
                Cut {
                    id: Cut::expected_id(info.name, &region, &p.target),
                    kind: info.name.to_string(),
                    region: region.clone(),
                    target: p.target,
                    enabled,
                    reversible: info.reversible,
                    reason,
                    before: p.before,
                    after: p.after,
                }
            })),
            Err(err) => {
                reporter.event(&Event::DiscoveryFailed {
                    region: region.clone(),
                    kind: info.name.to_string(),
                    error: err.to_string(),
                });
                discovery_errors.push(DiscoveryError {
                    region,
                    kind: info.name.to_string(),
                    error: err.to_string(),
                });
            }
        }
    }

    for flag in request.selection.unmatched(&cuts, registry) {
        reporter.event(&Event::Warning {
            message: format!(
                "{flag} matches no cut discovery proposes (in the kinds selected): check the ID or pattern. A resource with nothing to cut is not proposed."
            ),
        });
    }
    cuts.retain(|cut| request.selection.takes(cut, registry));
    let findings = inspect(
        session,
        registry,
        &request,
        &scope,
        &cuts,
        &mut discovery_errors,
        reporter,
    )
    .await;

    Plan {
        version: FORMAT_VERSION,
        account: request.caller.account.clone(),
        created,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        regions: request.regions,
        caller: request.caller.arn,
        keep_cidrs: request.keep_cidrs.iter().map(|c| c.to_string()).collect(),
        options: request.options.clone(),
        selection: request.selection.flags(),
        organization: None,
        role: request.member_role.clone(),
        discovery_errors,
        findings,
        cuts,
        members: vec![],
    }
}

/// Each (region, kind) pair discovery asks, one step each.
fn discovery_steps<'r>(
    registry: &'r Registry,
    request: &PlanRequest,
) -> Vec<(String, &'r dyn Containment)> {
    let kinds = registry
        .all()
        .filter(|kind| request.selection.takes_kind(kind.info().name))
        .filter(|kind| {
            let organization_level = kind.info().phase == crate::services::Phase::Organization;
            match request.part {
                AccountPart::Whole => true,
                AccountPart::OrganizationLevel => organization_level,
                AccountPart::Member => !organization_level,
            }
        });
    in_each_region(kinds, |kind| kind.info().global, &request.regions)
}

/// Each (region, inspection) pair run after discovery, one step each. The management account's
/// organization-level part inspects nothing: its findings would be about an account the operator did
/// not choose.
fn inspection_steps<'r>(
    registry: &'r Registry,
    request: &PlanRequest,
) -> Vec<(String, &'r dyn Inspection)> {
    if request.part == AccountPart::OrganizationLevel {
        return Vec::new();
    }
    in_each_region(
        registry.inspections(),
        |inspection| inspection.global(),
        &request.regions,
    )
}

/// Each item once per region, or once in the home region ([`GLOBAL_REGION`]) when it is global.
fn in_each_region<'r, T: ?Sized>(
    items: impl Iterator<Item = &'r T>,
    global: impl Fn(&T) -> bool,
    regions: &[String],
) -> Vec<(String, &'r T)> {
    let mut steps = Vec::new();
    for item in items {
        if global(item) {
            steps.push((GLOBAL_REGION.to_string(), item));
        } else {
            steps.extend(regions.iter().map(|region| (region.clone(), item)));
        }
    }
    steps
}

/// The steps of an account's plan, per kind or inspection: what its `started` event counts.
pub(super) fn steps_by_kind(registry: &Registry, request: &PlanRequest) -> Vec<&'static str> {
    let kinds = discovery_steps(registry, request)
        .into_iter()
        .map(|(_, kind)| kind.info().name);
    let inspections = inspection_steps(registry, request)
        .into_iter()
        .map(|(_, inspection)| inspection.name());
    kinds.chain(inspections).collect()
}

/// Runs every inspection (global ones once, regional ones per region), concurrently and bounded. A failed
/// inspection is recorded with the discovery errors.
async fn inspect(
    session: &AwsSession,
    registry: &Registry,
    request: &PlanRequest,
    scope: &DiscoveryScope,
    cuts: &[Cut],
    discovery_errors: &mut Vec<DiscoveryError>,
    reporter: &dyn Reporter,
) -> Vec<Finding> {
    let results: Vec<_> = stream::iter(inspection_steps(registry, request))
        .map(|(region, inspection)| async move {
            let ctx = session.region(&region);
            let found = inspection.inspect(&ctx, scope, cuts).await;
            if let Ok(findings) = &found {
                reporter.event(&Event::Discovered {
                    region: region.clone(),
                    kind: inspection.name().to_string(),
                    found: findings.len(),
                });
            }
            (region, inspection, found)
        })
        .buffered(request.parallelism.max(1))
        .collect()
        .await;
    let mut findings = Vec::new();
    for (region, inspection, found) in results {
        match found {
            Ok(found) => findings.extend(found),
            Err(err) => {
                reporter.event(&Event::DiscoveryFailed {
                    region: region.clone(),
                    kind: inspection.name().to_string(),
                    error: err.to_string(),
                });
                discovery_errors.push(DiscoveryError {
                    region,
                    kind: inspection.name().to_string(),
                    error: err.to_string(),
                });
            }
        }
    }
    findings.sort_by(|a, b| {
        (a.severity, &a.check, &a.region, &a.resource).cmp(&(
            b.severity,
            &b.check,
            &b.region,
            &b.resource,
        ))
    });
    findings
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}
