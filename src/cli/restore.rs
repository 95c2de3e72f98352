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
use crate::engine::restore::{Certainty, RestoreRequest, RestoreRun, RestoreWork};
use crate::journal::keys::KeyStore;
use crate::report::escape::field;
use crate::report::{Event, Reporter, diff};
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
        dry_run: args.dry_run,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let operator = TerminalOperator {
        settings,
        reporter,
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
    let (work, outcome) = match run {
        RestoreRun::NothingToRestore { .. } => {
            say!(
                settings,
                "Nothing to restore: {} records no cut that is not already restored.",
                args.rollback.display()
            );
            return Ok(exit::SUCCESS);
        }
        RestoreRun::DryRun { work } => {
            show_dry_run(settings, &work);
            reporter.event(&Event::Finished {
                command: "restore".into(),
                ok: true,
                summary: format!(
                    "dry run: {} would be restored, {} kept in place, {} irreversible; nothing was changed",
                    work.pending.len(),
                    work.kept.len(),
                    work.irreversible.len()
                ),
            });
            return Ok(exit::SUCCESS);
        }
        RestoreRun::Restored { work, outcome } => (work, outcome),
    };
    say!(
        settings,
        "\nRestore finished: {} restored, {} failed{}.",
        outcome.restored.len(),
        outcome.failed.len(),
        kept_note(&work)
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
            "{} restored, {} failed, {} not attempted, {} kept in place",
            outcome.restored.len(),
            outcome.failed.len(),
            outcome.not_attempted.len(),
            work.kept.len()
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

/// ", 2 kept in place (pass --lift-session-revocation to lift)" when restore keeps cuts on purpose.
fn kept_note(work: &RestoreWork) -> String {
    if work.kept.is_empty() {
        return String::new();
    }
    let mut flags: Vec<&str> = work.kept.iter().map(|(_, gate)| gate.flag).collect();
    flags.sort_unstable();
    flags.dedup();
    format!(
        ", {} kept in place on purpose (pass {} to lift)",
        work.kept.len(),
        flags.join(", ")
    )
}

/// `restore --dry-run`: what restore would put back, cut by cut, as the change from the state the cut
/// left to the state recorded before it. Restore itself reads each resource first and leaves alone what
/// changed since the cut, so the account may need less than this.
fn show_dry_run(settings: &Settings, work: &RestoreWork) {
    say!(
        settings,
        "Restore would reconnect, newest cut first ({} cut(s)):",
        work.pending.len()
    );
    for item in &work.pending {
        let note = match item.certainty {
            Certainty::Completed => "",
            Certainty::Uncertain => {
                " (its completion was not recorded: live state decides what is put back)"
            }
        };
        say!(
            settings,
            "\n{}{note}\n{}",
            field(&item.cut.id),
            diff::unified(
                &item.cut.after,
                &item.cut.before,
                "as cut",
                "as restored",
                settings.color
            )
        );
    }
    say!(
        settings,
        "\nDry run: nothing was changed{}. Restore checks each resource first and leaves alone what changed since the cut (reported as a conflict).",
        kept_note(work)
    );
}
