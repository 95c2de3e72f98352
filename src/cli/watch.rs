//! `hikkonuki watch`: hands each look to the engine ([`crate::engine::watch`]) and renders what it found;
//! without `--once`, looks again every `--interval` until Ctrl-C.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::args::WatchArgs;
use super::exit;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine::watch::{self, Verdict, WatchReport, WatchRequest};
use crate::journal::keys::KeyStore;
use crate::report::escape::field;
use crate::report::{Event, Reporter, Tally};
use crate::services::Registry;

/// Exit code of a look that found a cut no longer in force.
pub const REOPENED: u8 = 2;

pub async fn watch_command(
    args: &WatchArgs,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let session = AwsSession::load(&settings.connection).await?;
    let request = WatchRequest {
        rollback: args.rollback.clone(),
        keys: KeyStore::from_environment(),
        recut: args.recut,
        parallelism: settings.parallelism,
    };
    let stop = Arc::new(AtomicBool::new(false));
    if !args.once {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
            }
        });
    }
    loop {
        let report = watch::check(&session, registry, &request, reporter).await?;
        let code = render(settings, reporter, args, &report);
        if args.once {
            return Ok(code);
        }
        // Sleep in short steps, so Ctrl-C ends the watch within a second.
        let deadline = std::time::Instant::now() + args.interval;
        while std::time::Instant::now() < deadline {
            if stop.load(Ordering::SeqCst) {
                return Ok(code);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(code);
        }
    }
}

fn render(
    settings: &Settings,
    reporter: &dyn Reporter,
    args: &WatchArgs,
    report: &WatchReport,
) -> u8 {
    // One count per outcome, read by the summary line, the exit code and the `finished` event alike.
    let outcome_of = |item: &watch::Watched| match item.verdict {
        Verdict::Held => "held",
        Verdict::Reopened(_) => "reopened",
        Verdict::Changed(_) => "changed",
        Verdict::Unreadable(_) => "unreadable",
    };
    let counts = ["held", "reopened", "changed", "unreadable"]
        .into_iter()
        .fold(Tally::default(), |counts, outcome| {
            counts.count(
                outcome,
                report
                    .watched
                    .iter()
                    .filter(|item| outcome_of(item) == outcome)
                    .map(|item| item.cut.id.as_str()),
            )
        })
        .count(
            "recut",
            report
                .watched
                .iter()
                .filter(|item| matches!(item.recut, Some(Ok(()))))
                .map(|item| item.cut.id.as_str()),
        );
    let counted = |outcome: &str| counts.by_outcome.get(outcome).copied().unwrap_or(0);
    let (held, reopened, changed, unreadable, recut) = (
        counted("held"),
        counted("reopened"),
        counted("changed"),
        counted("unreadable"),
        counted("recut"),
    );
    for item in &report.watched {
        if let Verdict::Changed(live) = &item.verdict {
            say!(
                settings,
                "changed   {}: as cut versus live:\n{}",
                field(&item.cut.id),
                crate::report::diff::unified(
                    &item.cut.after.value(),
                    live,
                    "cut",
                    "live",
                    settings.color
                )
            );
        }
    }
    let summary = format!(
        "{} cut(s) in force in {}: {held} held, {reopened} reopened, {changed} changed, {unreadable} unreadable{}",
        report.watched.len(),
        args.rollback.display(),
        if args.recut {
            format!("; {recut} cut again")
        } else {
            String::new()
        }
    );
    say!(settings, "{summary}");
    let open = report.open();
    if open > 0 && !args.recut && reopened > 0 {
        say!(
            settings,
            "To cut the reopened ones again: hikkonuki watch {} --once --recut",
            args.rollback.display()
        );
    }
    let ok = open == 0 && unreadable == 0;
    reporter.event(&Event::Finished {
        command: "watch".into(),
        ok,
        summary,
        tally: counts,
    });
    if open > 0 {
        REOPENED
    } else if unreadable > 0 {
        exit::FAILURE
    } else {
        exit::SUCCESS
    }
}
