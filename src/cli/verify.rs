//! `hikkonuki verify`: hands the question to the engine ([`crate::engine::verify`]) and renders the answer:
//! exit 0 when no path is reachable and every one was answered, 2 when some path is reachable, 1 when a
//! path could not be answered (or on error).

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
const OUTCOMES: [&str; 9] = [
    "reachable",
    "sealed",
    "no_internet_gateway",
    "no_running_instance",
    "gone",
    "analysis_failed",
    "timed_out",
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
        parallelism: settings.parallelism,
    };
    let report = verify::check(&session, registry, &request, reporter).await?;
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
    let summary = if report.vpcs == 0 {
        format!(
            "no cut in force in {} is in a VPC: nothing to verify",
            args.rollback.display()
        )
    } else {
        format!(
            "{} VPC(s) of the cuts in force in {}: {}",
            report.vpcs,
            args.rollback.display(),
            named.join(", ")
        )
    };
    say!(settings, "{summary}");
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
    reporter.event(&Event::Finished {
        command: "verify".into(),
        ok: reachable == 0 && unanswered == 0,
        summary,
        tally: counts,
    });
    if reachable > 0 {
        REACHABLE
    } else if unanswered > 0 {
        exit::FAILURE
    } else {
        exit::SUCCESS
    }
}
