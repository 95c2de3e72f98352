//! `hikkonuki verify`: hands the question to the engine ([`crate::engine::verify`]) and renders the answer:
//! exit 0 when no path is reachable and every one was answered, 2 when some path is reachable, 1 when a
//! path could not be answered (or on error).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::args::VerifyArgs;
use super::exit;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine::verify::{self, VerifyReport, VerifyRequest};
use crate::journal::keys::KeyStore;
use crate::report::{Event, Reporter, Tally};
use crate::services::Registry;
use crate::services::network::reachability::{Polling, VERIFY_TAG};

/// Exit code of a run that found a path from the internet.
pub const REACHABLE: u8 = 2;

/// Every outcome a path or a VPC can have, in the order the summary names them.
const OUTCOMES: [&str; 10] = [
    "reachable",
    "sealed",
    "no_internet_gateway",
    "no_running_instance",
    "gone",
    "analysis_failed",
    "timed_out",
    "stopped",
    "error",
    "unreadable",
];

pub async fn verify_command(
    args: &VerifyArgs,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let session = AwsSession::load(&settings.connection).await?;
    let request = VerifyRequest {
        rollback: args.rollback.clone(),
        keys: KeyStore::from_environment(),
        timeout: args.timeout,
        polling: Polling::default(),
        parallelism: settings.parallelism.over(1),
        only_vpcs: args.vpcs.clone(),
    };
    // Ctrl-C stops the waiting; the analyses and paths created are still deleted before exiting.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
            }
        });
    }
    let report = verify::check(&session, registry, &request, Some(&stop), reporter).await?;
    Ok(render(settings, reporter, args, &report))
}

fn render(
    settings: &Settings,
    reporter: &dyn Reporter,
    args: &VerifyArgs,
    report: &VerifyReport,
) -> u8 {
    let counts = OUTCOMES
        .into_iter()
        .fold(Tally::default(), |counts, outcome| {
            counts.count(
                outcome,
                report
                    .verified
                    .iter()
                    .filter(|item| item.outcome.name() == outcome)
                    // Counted under one "kind", so `by_kind` carries the same counts as `outcomes`.
                    .map(|_| "reachability"),
            )
        })
        .count(
            "cleanup_failed",
            report
                .verified
                .iter()
                .flat_map(|item| item.cleanup_failures.iter())
                .map(|_| "reachability"),
        );
    let counted = |outcome: &str| counts.by_outcome.get(outcome).copied().unwrap_or(0);
    let named: Vec<String> = OUTCOMES
        .iter()
        .filter(|outcome| counted(outcome) > 0)
        .map(|outcome| format!("{} {}", counted(outcome), outcome.replace('_', " ")))
        .collect();
    let paths = report
        .verified
        .iter()
        .filter(|item| item.instance.is_some())
        .count();
    let summary = if report.vpcs == 0 && !args.vpcs.is_empty() {
        format!(
            "no cut in force in {} is in a VPC matching --vpc: nothing to verify",
            args.rollback.display()
        )
    } else if report.vpcs == 0 {
        format!(
            "no cut in force in {} is in a VPC: nothing to verify",
            args.rollback.display()
        )
    } else {
        format!(
            "{paths} path(s) from the internet into {} VPC(s) of the cuts in force in {}: {}",
            report.vpcs,
            args.rollback.display(),
            named.join(", ")
        )
    };
    say!(settings, "{summary}");
    if report.reachable() > 0 {
        say!(
            settings,
            "The internet still reaches those instances: `hikkonuki watch {0} --once` says whether a cut was undone; `hikkonuki plan` again cuts what no cut covers",
            args.rollback.display()
        );
    }
    if report.cleanup_failures() > 0 {
        say!(
            settings,
            "{} analyzer resource(s) could not be deleted: each is named above and tagged {VERIFY_TAG}={}",
            report.cleanup_failures(),
            report.run
        );
    }
    let reachable = report.reachable();
    let unanswered = report.unanswered();
    // A --vpc that takes no VPC of the cuts in force (a typo, or the wrong file) verified nothing: it
    // must not read as an account with nothing open.
    let missed = report.vpcs == 0 && !args.vpcs.is_empty();
    if missed {
        say!(
            settings,
            "  fix: give a VPC of the cuts in force (`hikkonuki show {}` lists them), or leave --vpc out",
            args.rollback.display()
        );
    }
    reporter.event(&Event::Finished {
        command: "verify".into(),
        ok: reachable == 0 && unanswered == 0 && !missed,
        summary,
        tally: counts,
    });
    if reachable > 0 {
        REACHABLE
    } else if unanswered > 0 || missed {
        exit::FAILURE
    } else {
        exit::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::verify::{Outcome, Verified};
    use crate::report::RecordingReporter;
    use crate::services::network::reachability::PathVerdict;

    fn settings() -> Settings {
        Settings {
            connection: Default::default(),
            color: false,
            parallelism: crate::engine::Parallelism::AtMost(1),
            stats: false,
            json: false,
            command_line: "hikkonuki verify".into(),
        }
    }

    fn args() -> VerifyArgs {
        VerifyArgs {
            rollback: "plans/p.rollback.yaml".into(),
            timeout: std::time::Duration::from_secs(300),
            vpcs: Vec::new(),
        }
    }

    fn path(instance: &str, verdict: PathVerdict) -> Verified {
        Verified {
            region: "us-east-1".into(),
            vpc: "vpc-1".into(),
            gateway: Some("igw-1".into()),
            instance: Some(instance.into()),
            outcome: Outcome::Analyzed(verdict),
            cleanup_failures: Vec::new(),
        }
    }

    fn vpc_without_gateway(vpc: &str) -> Verified {
        Verified {
            region: "us-east-1".into(),
            vpc: vpc.into(),
            gateway: None,
            instance: None,
            outcome: Outcome::NoInternetGateway,
            cleanup_failures: Vec::new(),
        }
    }

    fn rendered(verified: Vec<Verified>) -> (u8, Event) {
        let report = VerifyReport {
            account: "123456789012".into(),
            run: "run-1".into(),
            vpcs: 2,
            verified,
        };
        let reporter = RecordingReporter::default();
        let code = render(&settings(), &reporter, &args(), &report);
        let finished = reporter.events.lock().unwrap().last().cloned().unwrap();
        (code, finished)
    }

    fn sealed() -> PathVerdict {
        PathVerdict::Sealed {
            blocked_by: vec!["ENI_SG_RULES_MISMATCH (ingress): sg-1".into()],
        }
    }

    #[test]
    fn a_reachable_path_exits_2_even_beside_one_not_answered() {
        let (code, finished) = rendered(vec![
            path(
                "i-1",
                PathVerdict::Reachable {
                    hops: vec!["igw-1".into(), "i-1".into()],
                },
            ),
            path(
                "i-2",
                PathVerdict::TimedOut {
                    message: "still running".into(),
                },
            ),
            vpc_without_gateway("vpc-2"),
        ]);
        assert_eq!(code, REACHABLE);
        let Event::Finished {
            command,
            ok,
            summary,
            tally,
        } = finished
        else {
            panic!("{finished:?}")
        };
        assert_eq!(command, "verify");
        assert!(!ok);
        assert_eq!(
            summary,
            "2 path(s) from the internet into 2 VPC(s) of the cuts in force in plans/p.rollback.yaml: 1 reachable, 1 no internet gateway, 1 timed out"
        );
        assert_eq!(tally.by_outcome["reachable"], 1);
        assert_eq!(tally.by_outcome["timed_out"], 1);
        assert_eq!(tally.by_outcome["no_internet_gateway"], 1);
        assert_eq!(tally.by_outcome["sealed"], 0, "every outcome is listed");
    }

    #[test]
    fn a_path_not_answered_exits_1_and_is_never_counted_sealed() {
        let (code, finished) = rendered(vec![
            path("i-1", sealed()),
            path(
                "i-2",
                PathVerdict::Error {
                    message: "ec2:CreateNetworkInsightsPath failed".into(),
                },
            ),
        ]);
        assert_eq!(code, exit::FAILURE);
        let Event::Finished { ok, tally, .. } = finished else {
            panic!("{finished:?}")
        };
        assert!(!ok);
        assert_eq!(
            (tally.by_outcome["sealed"], tally.by_outcome["error"]),
            (1, 1)
        );
    }

    #[test]
    fn sealed_paths_and_vpcs_without_a_gateway_exit_0_even_with_a_cleanup_failure() {
        let mut with_leftover = path("i-1", sealed());
        with_leftover.cleanup_failures =
            vec!["ec2:DeleteNetworkInsightsPath failed (delete path nip-1 by hand)".into()];
        let (code, finished) = rendered(vec![with_leftover, vpc_without_gateway("vpc-2")]);
        assert_eq!(code, exit::SUCCESS);
        let Event::Finished { ok, tally, .. } = finished else {
            panic!("{finished:?}")
        };
        assert!(ok, "what is left of the analyzer does not open the account");
        assert_eq!(tally.by_outcome["cleanup_failed"], 1);
    }
}
