//! Asking AWS whether a sealed VPC is still reachable from the internet, for `hikkonuki verify`: VPC
//! Reachability Analyzer, one path from each internet gateway attached to the VPC to each running instance
//! in it.
//!
//! Reachability Analyzer builds a model of the network configuration (routes, network ACLs, security
//! groups, gateways) and says whether a path exists; it sends no packet
//! (<https://docs.aws.amazon.com/vpc/latest/reachability/how-reachability-analyzer-works.html>). A path is
//! a resource (`CreateNetworkInsightsPath`), each run of it another (`StartNetworkInsightsAnalysis`), which
//! is asynchronous: `DescribeNetworkInsightsAnalyses` reports `running`, then `succeeded` (with
//! `NetworkPathFound`) or `failed` (with `StatusMessage`)
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NetworkInsightsAnalysis.html>). Both are
//! tagged `hikkonuki:verify=<run>` and deleted afterwards whatever the outcome
//! (`DeleteNetworkInsightsAnalysis`, `DeleteNetworkInsightsPath`): verify never changes anything but its
//! own analyzer resources, and a deletion that fails is reported with the ID to delete by hand.
//!
//! The emulator the tests run against does not implement these operations: the analysis is tested with
//! mocks of the documented answers only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_ec2::error::SdkError;
use aws_sdk_ec2::types::{
    AnalysisComponent, AnalysisStatus, Explanation, NetworkInsightsAnalysis, PathComponent,
    Protocol, ResourceType, Tag, TagSpecification,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::Instant;

use crate::aws::RegionCtx;
use crate::services::ServiceError;
use crate::services::common::ec2::filter;
use crate::services::common::missing_api::missing_operation;

/// The tag every analyzer resource verify creates carries, with the run's ID as its value: what to
/// search for if a run was killed before it could delete them.
pub const VERIFY_TAG: &str = "hikkonuki:verify";

/// Analyses run at once, in all: a conservative choice, not a number AWS documents. Reachability
/// Analyzer's own quotas (<https://docs.aws.amazon.com/vpc/latest/reachability/reachability-analyzer-limits.html>)
/// bound the paths and analyses an account may have, and a quota reached is reported per path with what to
/// do (`failed`, below); each analysis also reads the VPC's whole configuration through the account's shared
/// describe budget, and an analysis starved of it fails ("The request failed due to throttling errors
/// from …": <https://docs.aws.amazon.com/vpc/latest/reachability/reachability-analyzer-troubleshooting.html>).
/// A few at a time stays clear of both during an incident, when other tools draw on the same budget.
pub const CONCURRENT_ANALYSES: usize = 4;

/// How often an analysis still `running` is asked about again: first after `first`, then each wait
/// twice the last, up to `longest`.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub first: Duration,
    pub longest: Duration,
}

impl Default for Polling {
    /// Sparing, since each describe draws on the account's shared budget: 5 s, then 10, 20, 30, 30, ...
    fn default() -> Polling {
        Polling {
            first: Duration::from_secs(5),
            longest: Duration::from_secs(30),
        }
    }
}

/// Where the internet can come into a VPC, and what it could reach there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcEntrances {
    /// Internet gateways attached to the VPC (a gateway the plan detached is not among them).
    pub internet_gateways: Vec<String>,
    /// Instances running in the VPC.
    pub running_instances: Vec<String>,
}

/// The internet gateways attached to `vpc_id` and its running instances, read with
/// `DescribeInternetGateways` (filter `attachment.vpc-id`) and `DescribeInstances` (filters `vpc-id`,
/// `instance-state-name=running`).
pub async fn vpc_entrances(ctx: &RegionCtx, vpc_id: &str) -> Result<VpcEntrances, ServiceError> {
    let gateways = ctx
        .ec2()
        .describe_internet_gateways()
        .filters(filter("attachment.vpc-id", vpc_id))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeInternetGateways", err))?;
    let pages = ctx
        .ec2()
        .describe_instances()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("instance-state-name", "running"))
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeInstances", err))?;
    let mut internet_gateways: Vec<String> = gateways
        .iter()
        .filter_map(|gateway| gateway.internet_gateway_id().map(str::to_string))
        .collect();
    let mut running_instances: Vec<String> = pages
        .iter()
        .flat_map(|page| page.reservations())
        .flat_map(|reservation| reservation.instances())
        .filter_map(|instance| instance.instance_id().map(str::to_string))
        .collect();
    internet_gateways.sort();
    internet_gateways.dedup();
    running_instances.sort();
    running_instances.dedup();
    Ok(VpcEntrances {
        internet_gateways,
        running_instances,
    })
}

/// What Reachability Analyzer said about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathVerdict {
    /// A path exists: the components it goes through, in order (`igw-… → acl-… → sg-… → eni-…`).
    Reachable { hops: Vec<String> },
    /// No path: why, as the analyzer explains it (explanation code and the components it names).
    Sealed { blocked_by: Vec<String> },
    /// The analysis itself failed (`status: failed`): its status message.
    AnalysisFailed { message: String },
    /// Still `running` when the time given ran out (or not started before it did).
    TimedOut { message: String },
    /// Still `running`, or not started, when the operator stopped the run (Ctrl-C).
    Stopped { message: String },
    /// The gateway or the instance no longer exists (deleted or terminated since it was listed).
    Gone { message: String },
    /// An AWS call failed: throttled beyond the SDK's retries, a quota reached, a permission missing,
    /// or an endpoint that lacks Reachability Analyzer.
    Error { message: String },
}

/// One path analyzed, and what could not be cleaned up after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathAnalysis {
    pub verdict: PathVerdict,
    /// Each analyzer resource this run created and could not delete, with why and how to delete it.
    pub cleanup_failures: Vec<String>,
}

/// When to stop waiting for an analysis: at `deadline`, or as soon as `stop` is set (Ctrl-C).
#[derive(Debug, Clone, Copy)]
pub struct Until<'a> {
    pub deadline: Instant,
    pub stop: &'a AtomicBool,
}

impl Until<'_> {
    /// Why not to go on, if so.
    fn reached(&self, waiting_for: &str) -> Option<PathVerdict> {
        if self.stop.load(Ordering::SeqCst) {
            Some(PathVerdict::Stopped {
                message: format!("{waiting_for} when the run was stopped (Ctrl-C)"),
            })
        } else if Instant::now() >= self.deadline {
            Some(PathVerdict::TimedOut {
                message: format!("{waiting_for} when the time given ran out (--timeout)"),
            })
        } else {
            None
        }
    }

    /// Sleeps `wait`, or less if the deadline comes first or `stop` is set meanwhile (checked every
    /// 200 ms, so Ctrl-C is heeded within a fraction of a second).
    async fn sleep(&self, wait: Duration) {
        let until = (Instant::now() + wait).min(self.deadline);
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if now >= until {
                return;
            }
            tokio::time::sleep((until - now).min(Duration::from_millis(200))).await;
        }
    }
}

/// Analyzes the path from `gateway` to `instance` (TCP, any port): creates the path, starts the analysis,
/// polls it until it is no longer `running` or `until` says to stop waiting, then deletes the analysis
/// and the path whatever happened.
pub async fn analyze_path(
    ctx: &RegionCtx,
    gateway: &str,
    instance: &str,
    run: &str,
    until: Until<'_>,
    polling: Polling,
) -> PathAnalysis {
    let mut created = Created::default();
    let verdict =
        match run_analysis(ctx, gateway, instance, run, until, polling, &mut created).await {
            Ok(verdict) => verdict,
            Err(verdict) => verdict,
        };
    let cleanup_failures = clean_up(ctx, &created, run).await;
    PathAnalysis {
        verdict,
        cleanup_failures,
    }
}

/// The analyzer resources made so far for one path, to delete afterwards.
#[derive(Debug, Default)]
struct Created {
    path: Option<String>,
    analysis: Option<String>,
}

async fn run_analysis(
    ctx: &RegionCtx,
    gateway: &str,
    instance: &str,
    run: &str,
    until: Until<'_>,
    polling: Polling,
    created: &mut Created,
) -> Result<PathVerdict, PathVerdict> {
    if let Some(verdict) = until.reached("not started: still waiting for its turn") {
        return Err(verdict);
    }
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkInsightsPath.html: the
    // source and destination by ID, the protocol required; no destination port is given, so the analysis
    // is not narrowed to one port.
    let path = ctx
        .ec2()
        .create_network_insights_path()
        .source(gateway)
        .destination(instance)
        .protocol(Protocol::Tcp)
        .tag_specifications(tagged(ResourceType::NetworkInsightsPath, run))
        .customize()
        .config_override(no_retries_on_emulator(ctx))
        .send()
        .await
        .map_err(|err| failed("ec2:CreateNetworkInsightsPath", err, gateway, instance))?;
    let path_id = path
        .network_insights_path()
        .and_then(|path| path.network_insights_path_id())
        .ok_or_else(|| PathVerdict::Error {
            message: "ec2:CreateNetworkInsightsPath answered without a path ID".into(),
        })?
        .to_string();
    created.path = Some(path_id.clone());
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StartNetworkInsightsAnalysis.html
    let started = ctx
        .ec2()
        .start_network_insights_analysis()
        .network_insights_path_id(&path_id)
        .tag_specifications(tagged(ResourceType::NetworkInsightsAnalysis, run))
        .customize()
        .config_override(no_retries_on_emulator(ctx))
        .send()
        .await
        .map_err(|err| failed("ec2:StartNetworkInsightsAnalysis", err, gateway, instance))?;
    let mut analysis = started
        .network_insights_analysis()
        .cloned()
        .ok_or_else(|| PathVerdict::Error {
            message: "ec2:StartNetworkInsightsAnalysis answered without an analysis".into(),
        })?;
    let analysis_id = analysis
        .network_insights_analysis_id()
        .ok_or_else(|| PathVerdict::Error {
            message: "ec2:StartNetworkInsightsAnalysis answered without an analysis ID".into(),
        })?
        .to_string();
    created.analysis = Some(analysis_id.clone());
    let mut wait = polling.first;
    while is_running(&analysis) {
        if let Some(verdict) = until.reached(&format!("analysis {analysis_id} was still running")) {
            return Err(verdict);
        }
        until.sleep(wait).await;
        wait = (wait * 2).min(polling.longest);
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInsightsAnalyses.html
        let described = ctx
            .ec2()
            .describe_network_insights_analyses()
            .network_insights_analysis_ids(&analysis_id)
            .send()
            .await
            .map_err(|err| {
                failed(
                    "ec2:DescribeNetworkInsightsAnalyses",
                    err,
                    gateway,
                    instance,
                )
            })?;
        analysis = described
            .network_insights_analyses()
            .first()
            .cloned()
            .ok_or_else(|| PathVerdict::Error {
                message: format!(
                    "ec2:DescribeNetworkInsightsAnalyses no longer lists analysis {analysis_id}"
                ),
            })?;
    }
    Ok(verdict_of(&analysis))
}

fn is_running(analysis: &NetworkInsightsAnalysis) -> bool {
    matches!(analysis.status(), Some(AnalysisStatus::Running) | None)
}

/// What a finished analysis says.
fn verdict_of(analysis: &NetworkInsightsAnalysis) -> PathVerdict {
    match analysis.status() {
        Some(AnalysisStatus::Succeeded) => match analysis.network_path_found() {
            Some(true) => PathVerdict::Reachable {
                hops: hops(analysis.forward_path_components()),
            },
            Some(false) => PathVerdict::Sealed {
                blocked_by: analysis.explanations().iter().map(explain).collect(),
            },
            None => PathVerdict::AnalysisFailed {
                message: "the analysis succeeded but did not say whether a path was found".into(),
            },
        },
        Some(AnalysisStatus::Failed) => PathVerdict::AnalysisFailed {
            message: analysis
                .status_message()
                .unwrap_or("the analysis failed without a status message")
                .to_string(),
        },
        other => PathVerdict::AnalysisFailed {
            message: format!(
                "the analysis ended in an unknown status `{}`",
                other.map(|status| status.as_str()).unwrap_or("none")
            ),
        },
    }
}

/// The components of a path found, in sequence, each once.
fn hops(components: &[PathComponent]) -> Vec<String> {
    let mut ordered: Vec<&PathComponent> = components.iter().collect();
    ordered.sort_by_key(|component| component.sequence_number().unwrap_or(i32::MAX));
    let mut hops: Vec<String> = Vec::new();
    for name in ordered
        .iter()
        .filter_map(|component| component.component().and_then(name_of))
    {
        if hops.last() != Some(&name) {
            hops.push(name);
        }
    }
    hops
}

fn name_of(component: &AnalysisComponent) -> Option<String> {
    component
        .id()
        .or(component.name())
        .or(component.arn())
        .map(str::to_string)
}

/// One explanation of why there is no path: its code
/// (<https://docs.aws.amazon.com/vpc/latest/reachability/explanation-codes.html>), its direction, and the
/// components it names.
fn explain(explanation: &Explanation) -> String {
    let named: Vec<String> = [
        explanation.component(),
        explanation.internet_gateway(),
        explanation.route_table(),
        explanation.acl(),
        explanation.security_group(),
        explanation.subnet(),
        explanation.network_interface(),
        explanation.vpc(),
    ]
    .into_iter()
    .flatten()
    .chain(explanation.security_groups())
    .filter_map(name_of)
    .fold(Vec::new(), |mut named, name| {
        // The same component can be named in two fields (as `component` and as `acl`, say).
        if !named.contains(&name) {
            named.push(name);
        }
        named
    });
    let mut line = explanation
        .explanation_code()
        .unwrap_or("UNEXPLAINED")
        .to_string();
    if let Some(direction) = explanation.direction() {
        line.push_str(&format!(" ({direction})"));
    }
    if !named.is_empty() {
        line.push_str(&format!(": {}", named.join(", ")));
    }
    line
}

fn tagged(resource: ResourceType, run: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(VERIFY_TAG).value(run).build())
        .build()
}

/// The emulator lacks Reachability Analyzer and answers 500 to each call: retrying six times with
/// backoff would only delay the answer. AWS keeps the standard retries (throttling included).
fn no_retries_on_emulator(ctx: &RegionCtx) -> aws_sdk_ec2::config::Builder {
    let mut overrides = aws_sdk_ec2::config::Builder::default();
    overrides.set_retry_config(crate::services::common::missing_api::retry_config(
        ctx.endpoint_url.as_deref(),
    ));
    overrides
}

/// A failed call, read for the operator. The codes are EC2's documented ones
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>).
fn failed<E>(
    operation: &str,
    err: SdkError<E, HttpResponse>,
    gateway: &str,
    instance: &str,
) -> PathVerdict
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(answer) = missing_operation(&err) {
        return PathVerdict::Error {
            message: format!(
                "{operation}: the endpoint does not implement Reachability Analyzer ({answer}); nothing could be analyzed here"
            ),
        };
    }
    let error = ServiceError::from_sdk(operation, err);
    match error.code.as_deref() {
        Some("InvalidInternetGatewayID.NotFound") => PathVerdict::Gone {
            message: format!(
                "internet gateway {gateway} no longer exists: {}",
                error.message
            ),
        },
        Some("InvalidInstanceID.NotFound") => PathVerdict::Gone {
            message: format!("instance {instance} no longer exists: {}", error.message),
        },
        // Throttling is retried by the SDK (standard mode, six attempts) before it comes here.
        Some("RequestLimitExceeded" | "Throttling" | "ThrottlingException") => PathVerdict::Error {
            message: format!(
                "{error} (EC2 throttled the account beyond the SDK's retries: run verify again when other tools are quieter)"
            ),
        },
        Some(code) if code.ends_with("LimitExceeded") || code.contains("QuotaExceeded") => {
            PathVerdict::Error {
                message: format!(
                    "{error} (a Reachability Analyzer quota was reached: delete unused network insights paths and analyses, or ask for a higher quota)"
                ),
            }
        }
        // UnauthorizedOperation: ServiceError's own text names the missing ec2:* permission.
        _ => PathVerdict::Error {
            message: error.to_string(),
        },
    }
}

/// Deletes the analysis, then the path (a path cannot be deleted while an analysis of it exists), each
/// attempted whatever happened before; returns what could not be deleted.
async fn clean_up(ctx: &RegionCtx, created: &Created, run: &str) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(analysis) = &created.analysis {
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNetworkInsightsAnalysis.html
        if let Err(err) = ctx
            .ec2()
            .delete_network_insights_analysis()
            .network_insights_analysis_id(analysis)
            .send()
            .await
        {
            failures.push(format!(
                "{} (delete analysis {analysis} by hand; it is tagged {VERIFY_TAG}={run})",
                ServiceError::from_sdk("ec2:DeleteNetworkInsightsAnalysis", err)
            ));
        }
    }
    if let Some(path) = &created.path {
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNetworkInsightsPath.html
        if let Err(err) = ctx
            .ec2()
            .delete_network_insights_path()
            .network_insights_path_id(path)
            .send()
            .await
        {
            failures.push(format!(
                "{} (delete path {path} by hand; it is tagged {VERIFY_TAG}={run})",
                ServiceError::from_sdk("ec2:DeleteNetworkInsightsPath", err)
            ));
        }
    }
    failures
}

#[cfg(test)]
mod tests;
