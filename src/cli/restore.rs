//! `hikkonuki restore`: hands the rollback file to the engine, which checks it and the account, keeps what
//! the kinds' restore gates keep unless lifted, asks, and undoes; renders what came back.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::args::RestoreArgs;
use super::exit;
use super::prompt::TerminalOperator;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine;
use crate::engine::restore::{RestoreRequest, RestoreRun};
use crate::journal::keys::KeyStore;
use crate::report::escape::field;
use crate::report::{Event, Reporter};
use crate::services::Registry;

pub async fn restore_command(
    args: &RestoreArgs,
    lifted_gates: &[String],
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let restore_started = std::time::Instant::now();
    let session = AwsSession::load(&settings.connection).await?;
    let request = RestoreRequest {
        rollback: args.rollback.clone(),
        force: args.force,
        lifted: lifted_gates.to_vec(),
        keys: KeyStore::from_environment(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let operator = TerminalOperator {
        settings,
        yes: args.yes,
        stop: stop.clone(),
    };
    let run = engine::restore::run(
        &session,
        registry,
        &request,
        &operator,
        Some(&stop),
        reporter,
    )
    .await?;
    let outcome = match run {
        RestoreRun::NothingToRestore { .. } => {
            say!(
                settings,
                "Nothing to restore: {} records no cut that is not already restored.",
                args.rollback.display()
            );
            return Ok(exit::SUCCESS);
        }
        RestoreRun::Restored { outcome, .. } => outcome,
    };
    say!(
        settings,
        "\nRestore finished: {} restored, {} failed.",
        outcome.restored.len(),
        outcome.failed.len()
    );
    for (id, error) in &outcome.failed {
        say!(settings, "  failed: {}: {}", field(id), field(error));
    }
    if !outcome.not_attempted.is_empty() {
        say!(
            settings,
            "Stopped early: {} cut(s) not yet restored.",
            outcome.not_attempted.len()
        );
    }
    settings.report_stats(&session, restore_started, None);
    let ok = outcome.failed.is_empty() && outcome.not_attempted.is_empty();
    reporter.event(&Event::Finished {
        command: "restore".into(),
        ok,
        summary: format!(
            "{} restored, {} failed, {} not attempted",
            outcome.restored.len(),
            outcome.failed.len(),
            outcome.not_attempted.len()
        ),
    });
    if !ok {
        say!(
            settings,
            "Run `hikkonuki restore {}` again (after fixing the cause of any failure): what is restored stays restored.",
            args.rollback.display()
        );
        return Ok(exit::FAILURE);
    }
    Ok(exit::SUCCESS)
}
