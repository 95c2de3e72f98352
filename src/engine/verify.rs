//! `hikkonuki verify`: after apply, ask AWS itself whether the sealed VPCs can still be reached from the
//! internet. Watch compares each cut with what it left; verify asks the question the cuts were for, with
//! VPC Reachability Analyzer: for each VPC a cut in force is in, a path from each internet gateway
//! attached to it to each instance running in it.
//!
//! Each path is **reachable** (the analyzer found a way in: the components it goes through are reported),
//! **sealed** (no way in: the analyzer's explanations say what blocks it), or not answered (the analysis
//! failed or timed out, an AWS call failed, or the gateway or instance vanished meanwhile). A VPC whose
//! internet gateway the plan detached has no gateway left to analyze from, and says so.
//!
//! The file is read and authenticated exactly as watch does (an edited file is refused, the account must
//! be the credentials'). Verify never changes the account: the analyzer's own paths and analyses, tagged
//! with the run, are all it creates, and it deletes them afterwards whatever the outcome.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use futures_util::{StreamExt, stream};

use super::{EngineError, verify_account};
use crate::aws::AwsSession;
use crate::engine::restore;
use crate::journal;
use crate::journal::keys::KeyStore;
use crate::journal::lock::RollbackFile;
use crate::plan::KindCatalog;
use crate::report::{Event, Reporter};
use crate::services::Registry;
use crate::services::network::reachability::{self, PathVerdict, Polling, Until, VpcEntrances};

pub struct VerifyRequest {
    pub rollback: PathBuf,
    pub keys: KeyStore,
    /// How long every analysis together may take; what is still running then is reported as timed out.
    pub timeout: Duration,
    pub polling: Polling,
    /// VPCs read at once.
    pub parallelism: usize,
    /// Only the VPCs of the cuts in force matching one of these (IDs, or patterns with `*`); all when
    /// empty.
    pub only_vpcs: Vec<String>,
}

/// What one path, or one VPC with no path to analyze, came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Analyzed(PathVerdict),
    /// No internet gateway is attached to the VPC (e.g. the plan detached it).
    NoInternetGateway,
    /// An internet gateway is attached, but no instance runs in the VPC.
    NoRunningInstance,
    /// The VPC's gateways or instances could not be read.
    Unreadable(String),
}

impl Outcome {
    /// The outcome's name in events and counts.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Analyzed(PathVerdict::Reachable { .. }) => "reachable",
            Outcome::Analyzed(PathVerdict::Sealed { .. }) => "sealed",
            Outcome::Analyzed(PathVerdict::AnalysisFailed { .. }) => "analysis_failed",
            Outcome::Analyzed(PathVerdict::TimedOut { .. }) => "timed_out",
            Outcome::Analyzed(PathVerdict::Stopped { .. }) => "stopped",
            Outcome::Analyzed(PathVerdict::Gone { .. }) => "gone",
            Outcome::Analyzed(PathVerdict::Error { .. }) => "error",
            Outcome::NoInternetGateway => "no_internet_gateway",
            Outcome::NoRunningInstance => "no_running_instance",
            Outcome::Unreadable(_) => "unreadable",
        }
    }

    /// The question was not answered for this path or VPC.
    pub fn is_unanswered(&self) -> bool {
        matches!(
            self,
            Outcome::Analyzed(
                PathVerdict::AnalysisFailed { .. }
                    | PathVerdict::TimedOut { .. }
                    | PathVerdict::Stopped { .. }
                    | PathVerdict::Error { .. }
            ) | Outcome::Unreadable(_)
        )
    }

    /// What the outcome says, line by line, for people and the event's `details`.
    pub fn details(&self) -> Vec<String> {
        match self {
            Outcome::Analyzed(PathVerdict::Reachable { hops }) => {
                vec![format!("path: {}", hops.join(" -> "))]
            }
            Outcome::Analyzed(PathVerdict::Sealed { blocked_by }) => blocked_by
                .iter()
                .map(|why| format!("blocked: {why}"))
                .collect(),
            Outcome::Analyzed(
                PathVerdict::AnalysisFailed { message }
                | PathVerdict::TimedOut { message }
                | PathVerdict::Stopped { message }
                | PathVerdict::Gone { message }
                | PathVerdict::Error { message },
            ) => vec![message.clone()],
            Outcome::NoInternetGateway => {
                vec!["no internet gateway attached: nothing to analyze from the internet".into()]
            }
            Outcome::NoRunningInstance => {
                vec!["no running instance: nothing to analyze the path to".into()]
            }
            Outcome::Unreadable(error) => vec![error.clone()],
        }
    }
}

/// One path analyzed (`gateway` and `instance` both set), or one VPC with nothing to analyze.
#[derive(Debug, Clone)]
pub struct Verified {
    pub region: String,
    pub vpc: String,
    pub gateway: Option<String>,
    pub instance: Option<String>,
    pub outcome: Outcome,
    pub cleanup_failures: Vec<String>,
}

impl Verified {
    /// `region/vpc[/gateway/instance]`: how the path is named in counts and lines.
    pub fn id(&self) -> String {
        match (&self.gateway, &self.instance) {
            (Some(gateway), Some(instance)) => {
                format!("{}/{}/{gateway}/{instance}", self.region, self.vpc)
            }
            (Some(gateway), None) => format!("{}/{}/{gateway}", self.region, self.vpc),
            _ => format!("{}/{}", self.region, self.vpc),
        }
    }
}

#[derive(Debug, Default)]
pub struct VerifyReport {
    pub account: String,
    /// The value of the `hikkonuki:verify` tag on everything this run created.
    pub run: String,
    pub vpcs: usize,
    pub verified: Vec<Verified>,
}

impl VerifyReport {
    pub fn reachable(&self) -> usize {
        self.count(|outcome| outcome.name() == "reachable")
    }

    pub fn unanswered(&self) -> usize {
        self.count(Outcome::is_unanswered)
    }

    pub fn cleanup_failures(&self) -> usize {
        self.verified
            .iter()
            .map(|item| item.cleanup_failures.len())
            .sum()
    }

    fn count(&self, test: impl Fn(&Outcome) -> bool) -> usize {
        self.verified
            .iter()
            .filter(|item| test(&item.outcome))
            .count()
    }
}

/// Reads and authenticates the rollback file as watch does, then analyzes every path into each VPC of
/// the cuts in force. Changes nothing in the account but the analyzer's own, deleted, resources. `stop`
/// (Ctrl-C) ends the waiting at once; what was created is deleted all the same.
pub async fn check(
    session: &AwsSession,
    registry: &Registry,
    request: &VerifyRequest,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<VerifyReport, EngineError> {
    super::organization::one_file_at_a_time(&request.rollback, "verify")?;
    let (account, vpcs, entered) = {
        // Locked only while read: the analyses can take minutes, and a restore started meanwhile must
        // not wait for them.
        let rollback = RollbackFile::open_existing(&request.rollback)?;
        if rollback.is_empty() {
            return Ok(VerifyReport::default());
        }
        let (contents, warnings) = match journal::read(&rollback, &request.keys, false) {
            // Apply was stopped before its header: nothing was cut, so there is nothing to verify.
            Err(journal::JournalError::NothingRecorded { .. }) => {
                return Ok(VerifyReport::default());
            }
            read => read?,
        };
        for message in warnings {
            reporter.event(&Event::Warning { message });
        }
        let account = restore::rollback_account(&contents, &request.rollback)?;
        // A member's file of a run over an organization: its account, entered as apply entered it.
        let entered = super::organization::session_for_file(session, &contents, &account).await?;
        verify_account(&entered, &account, "rollback file").await?;
        reporter.account(&account);
        let work = restore::pending(&contents, registry, &[])?;
        if !work.unverified.is_empty() {
            return Err(EngineError::Refused {
                message: format!(
                    "{}: {} entr(ies) do not match the cut they complete: the file was edited\n  fix: verify the rollback file exactly as apply wrote it",
                    request.rollback.display(),
                    work.unverified.len()
                ),
            });
        }
        // The VPCs of every cut in force (the cuts watch looks at), each once, by region. Evidence cuts
        // name their VPC (a flow log records it) but seal nothing, and stay in force after restore: a VPC
        // only they name is not one the plan cut.
        let vpcs: BTreeSet<(String, String)> = work
            .in_force()
            .into_iter()
            .filter(|cut| {
                registry
                    .get(&cut.kind)
                    .is_some_and(|kind| kind.info().phase != crate::services::Phase::Evidence)
            })
            .flat_map(|cut| {
                registry
                    .vpcs_of(cut)
                    .into_iter()
                    .map(|vpc| (cut.region.clone(), vpc))
            })
            .filter(|(_, vpc)| {
                request.only_vpcs.is_empty()
                    || request
                        .only_vpcs
                        .iter()
                        .any(|pattern| crate::plan::select::matches(pattern, vpc))
            })
            .collect();
        (account, vpcs, entered)
    };
    let session: &AwsSession = &entered;
    let run = crate::report::run_id();
    static NEVER_STOPPED: AtomicBool = AtomicBool::new(false);
    let until = Until {
        deadline: tokio::time::Instant::now() + request.timeout,
        stop: stop.unwrap_or(&NEVER_STOPPED),
    };
    let entrances: Vec<(String, String, Result<VpcEntrances, String>)> =
        stream::iter(vpcs.iter().cloned())
            .map(|(region, vpc)| async move {
                let ctx = session.region(&region);
                let found = reachability::vpc_entrances(&ctx, &vpc)
                    .await
                    .map_err(|err| err.to_string());
                (region, vpc, found)
            })
            .buffered(request.parallelism.max(1))
            .collect()
            .await;
    let mut verified = Vec::new();
    let mut paths = Vec::new();
    for (region, vpc, found) in entrances {
        let without_path = |outcome| Verified {
            region: region.clone(),
            vpc: vpc.clone(),
            gateway: None,
            instance: None,
            outcome,
            cleanup_failures: Vec::new(),
        };
        match found {
            Err(error) => verified.push(without_path(Outcome::Unreadable(error))),
            Ok(found) if found.internet_gateways.is_empty() => {
                verified.push(without_path(Outcome::NoInternetGateway))
            }
            Ok(found) if found.running_instances.is_empty() => {
                for gateway in &found.internet_gateways {
                    verified.push(Verified {
                        gateway: Some(gateway.clone()),
                        ..without_path(Outcome::NoRunningInstance)
                    });
                }
            }
            Ok(found) => {
                for gateway in &found.internet_gateways {
                    for instance in &found.running_instances {
                        paths.push((
                            region.clone(),
                            vpc.clone(),
                            gateway.clone(),
                            instance.clone(),
                        ));
                    }
                }
            }
        }
    }
    for item in &verified {
        report(reporter, item);
    }
    // The paths to analyze, for progress (`done/total` on a terminal): analyses take seconds to minutes.
    reporter.event(&Event::Started {
        command: "verify".into(),
        total: paths.len(),
        by_kind: [("reachability".to_string(), paths.len())].into(),
        dry_run: false,
    });
    let run_ref = run.as_str();
    let analyzed: Vec<Verified> = stream::iter(paths)
        .map(|(region, vpc, gateway, instance)| async move {
            let ctx = session.region(&region);
            let analysis = reachability::analyze_path(
                &ctx,
                &gateway,
                &instance,
                run_ref,
                until,
                request.polling,
            )
            .await;
            let item = Verified {
                region,
                vpc,
                gateway: Some(gateway),
                instance: Some(instance),
                outcome: Outcome::Analyzed(analysis.verdict),
                cleanup_failures: analysis.cleanup_failures,
            };
            report(reporter, &item);
            item
        })
        .buffered(reachability::CONCURRENT_ANALYSES)
        .collect()
        .await;
    verified.extend(analyzed);
    Ok(VerifyReport {
        account,
        run,
        vpcs: vpcs.len(),
        verified,
    })
}

fn report(reporter: &dyn Reporter, item: &Verified) {
    reporter.event(&Event::PathVerified {
        region: item.region.clone(),
        vpc: item.vpc.clone(),
        source: item.gateway.clone(),
        destination: item.instance.clone(),
        outcome: item.outcome.name().to_string(),
        details: item.outcome.details(),
        cleanup_failures: item.cleanup_failures.clone(),
    });
}

#[cfg(test)]
mod tests;
