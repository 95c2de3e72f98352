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
        let (code, look) = render(settings, args, &report);
        if args.once {
            reporter.event(&look.finished());
            return Ok(code);
        }
        // A watch that goes on reports each look as `looked`, and `finished` (the last look's) once, when
        // it ends: a script reading events stops at `finished`.
        reporter.event(&look.looked());
        // Sleep in short steps, so Ctrl-C ends the watch within a second.
        let deadline = std::time::Instant::now() + args.interval;
        let mut stopped = stop.load(Ordering::SeqCst);
        while !stopped && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            stopped = stop.load(Ordering::SeqCst);
        }
        if stopped {
            reporter.event(&look.finished());
            return Ok(code);
        }
    }
}

/// One look's outcome, as the `looked` and `finished` events carry it.
struct Look {
    ok: bool,
    summary: String,
    tally: Tally,
}

impl Look {
    fn looked(&self) -> Event {
        Event::Looked {
            command: "watch".into(),
            ok: self.ok,
            summary: self.summary.clone(),
            tally: self.tally.clone(),
        }
    }

    fn finished(&self) -> Event {
        Event::Finished {
            command: "watch".into(),
            ok: self.ok,
            summary: self.summary.clone(),
            tally: self.tally.clone(),
        }
    }
}

fn render(settings: &Settings, args: &WatchArgs, report: &WatchReport) -> (u8, Look) {
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
    let code = if open > 0 {
        REOPENED
    } else if unreadable > 0 {
        exit::FAILURE
    } else {
        exit::SUCCESS
    };
    (
        code,
        Look {
            ok,
            summary,
            tally: counts,
        },
    )
}
