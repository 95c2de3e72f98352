//! `hikkonuki restore`: hands the rollback file to the engine, which checks it and the account, keeps what
//! the kinds' restore gates keep unless lifted, asks, and undoes; renders what came back.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::ERROR_LINES;
use super::args::RestoreArgs;
use super::exit;
use super::prompt::TerminalOperator;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine;
use crate::engine::restore::{RestoreRequest, RestoreRun, RestoreWork};
use crate::journal::keys::KeyStore;
use crate::report::escape::{field, lines};
use crate::report::{Event, Reporter, Tally, diff, render};
use crate::services::Registry;

pub async fn restore_command(
    args: &RestoreArgs,
    lifted_gates: &[String],
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let restore_started = std::time::Instant::now();
    if let Some(role) = &args.role
        && !crate::plan::is_role_name(role)
    {
        anyhow::bail!(
            "--role: `{}` is not an IAM role name (letters, digits and +=,.@_- up to 64)",
            field(role)
        );
    }
    let session = AwsSession::load(&settings.connection).await?;
    let request = RestoreRequest {
        rollback: args.rollback.clone(),
        force: args.force,
        lifted: lifted_gates.to_vec(),
        keys: KeyStore::from_environment(),
        dry_run: args.dry_run,
        parallelism: settings.parallelism,
        role: args.role.clone(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let operator = TerminalOperator::new(settings, reporter, args.yes, stop.clone());
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
        RestoreRun::NothingToRestore { work } => {
            let why = format!(
                "Nothing to restore: {} records no cut that is not already restored",
                args.rollback.display()
            );
            say!(settings, "{why}.");
            reporter.event(&Event::Finished {
                command: "restore".into(),
                ok: true,
                summary: why,
                tally: tally_of(&work, Some(&Default::default())),
            });
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
                tally: tally_of(&work, None),
            });
            return Ok(exit::SUCCESS);
        }
        RestoreRun::Restored { work, outcome } => (work, outcome),
        RestoreRun::RestoredAccounts { accounts, dry_run } => {
            return accounts_restored(
                args,
                settings,
                reporter,
                &session,
                restore_started,
                accounts,
                dry_run,
            );
        }
    };
    say!(
        settings,
        "\nRestore finished: {} restored{}, {} failed{}.",
        outcome.restored.len(),
        conflict_note(&outcome),
        outcome.failed.len(),
        kept_note(&work)
    );
    print_conflicts(settings, &outcome);
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
            "{} restored ({} with conflicts), {} failed, {} not attempted, {} kept in place",
            outcome.restored.len(),
            conflicted_cuts(&outcome).len(),
            outcome.failed.len(),
            outcome.not_attempted.len(),
            work.kept.len()
        ),
        tally: tally_of(&work, Some(&outcome)),
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

/// A directory of several accounts' rollback files: one block per account, then one summary. Any account
/// not fully restored makes the command fail, and says how to go on.
fn accounts_restored(
    args: &RestoreArgs,
    settings: &Settings,
    reporter: &dyn Reporter,
    session: &AwsSession,
    started: std::time::Instant,
    accounts: Vec<crate::engine::restore::AccountRestored>,
    dry_run: bool,
) -> anyhow::Result<u8> {
    let (mut restored, mut failed, mut kept, mut broken) = (0, 0, 0, 0);
    for item in &accounts {
        let account = field(&item.account);
        match &item.result {
            Err(err) => {
                broken += 1;
                say!(
                    settings,
                    "\nAccount {account} ({}): NOT restored: {}",
                    item.rollback.display(),
                    // Composed by hikkonuki (an error and its `fix:` line): each line escaped.
                    lines(&err.to_string(), ERROR_LINES)
                );
            }
            Ok((work, None)) if dry_run && !work.pending.is_empty() => {
                say!(
                    settings,
                    "\nAccount {account} ({}):",
                    item.rollback.display()
                );
                show_dry_run(settings, work);
            }
            Ok((work, None)) => {
                kept += work.kept.len();
                say!(
                    settings,
                    "\nAccount {account}: nothing to restore{}.",
                    kept_note(work)
                );
            }
            Ok((work, Some(outcome))) => {
                restored += outcome.restored.len();
                failed += outcome.failed.len() + outcome.not_attempted.len();
                kept += work.kept.len();
                say!(
                    settings,
                    "\nAccount {account}: {} restored{}, {} failed{}.",
                    outcome.restored.len(),
                    conflict_note(outcome),
                    outcome.failed.len(),
                    kept_note(work)
                );
                print_conflicts(settings, outcome);
                for (id, error) in &outcome.failed {
                    say!(settings, "  failed: {}: {}", field(id), field(error));
                }
            }
        }
    }
    settings.report_stats(session, started, None);
    let ok = failed == 0 && broken == 0;
    let summary = if dry_run {
        format!(
            "dry run over {} account(s); nothing was changed",
            accounts.len()
        )
    } else {
        format!(
            "{} account(s): {restored} restored, {failed} failed or not attempted, {kept} kept in place, {broken} account(s) not restored",
            accounts.len()
        )
    };
    say!(settings, "\nRestore finished: {summary}.");
    let mut tally = accounts
        .iter()
        .filter_map(|item| item.result.as_ref().ok())
        .fold(Tally::default(), |tally, (work, outcome)| {
            tally.plus(&tally_of(work, outcome.as_ref()))
        });
    tally
        .by_outcome
        .insert("accounts_not_restored".into(), broken);
    reporter.event(&Event::Finished {
        command: "restore".into(),
        ok,
        summary,
        tally,
    });
    if !ok {
        say!(
            settings,
            "Run `hikkonuki restore {}` again (after fixing the cause): what is restored stays restored, and each account's file can also be restored on its own.",
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
    // 295 cuts make some 8,000 lines of diffs: the counts come first, as in the plan's summary.
    say!(
        settings,
        "{}",
        render::restore_counts(work.pending.iter().map(|item| &item.cut)).trim_end()
    );
    print_pending_diffs(settings, work);
    if !work.refused.is_empty() {
        say!(
            settings,
            "\nLeft out even with --force, as entries apply never writes ({}):",
            work.refused.len()
        );
        for item in &work.refused {
            say!(settings, "  {}: {}", field(&item.id), field(&item.problem));
        }
    }
    say!(
        settings,
        "\nDry run: nothing was changed{}. Restore checks each resource first and leaves alone what changed since the cut (reported as a conflict).",
        kept_note(work)
    );
}

/// Each pending cut as the change from the state the cut left to the state recorded before it: what
/// restore puts back, rule by rule.
pub(super) fn print_pending_diffs(settings: &Settings, work: &RestoreWork) {
    for item in &work.pending {
        let note = item.note();
        say!(
            settings,
            "\n{}{note}\n{}",
            field(&item.cut.id),
            diff::unified(
                &item.cut.after.value(),
                &item.cut.before.value(),
                "as cut",
                "as restored",
                settings.color
            )
        );
    }
}

/// How many restored cuts left something alone because it changed after the cut, said beside the
/// restored count: restore did not give that back.
fn conflict_note(outcome: &crate::engine::restore::RestoreOutcome) -> String {
    let cuts = conflicted_cuts(outcome);
    if cuts.is_empty() {
        String::new()
    } else {
        format!(
            " ({} of them left something alone that changed after the cut, listed as conflicts: not given back)",
            cuts.len()
        )
    }
}

fn conflicted_cuts(outcome: &crate::engine::restore::RestoreOutcome) -> Vec<&str> {
    let mut cuts: Vec<&str> = outcome
        .conflicts
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    cuts.dedup();
    cuts
}

/// Each conflict on its own line, after the summary, so none is lost among the notes above.
fn print_conflicts(settings: &Settings, outcome: &crate::engine::restore::RestoreOutcome) {
    for (id, note) in &outcome.conflicts {
        let note = note
            .strip_prefix(crate::services::UndoOutcome::CONFLICT)
            .unwrap_or(note)
            .trim_start();
        say!(settings, "  conflict: {}: {}", field(id), field(note));
    }
}

/// What restore did (or, without an outcome, would do) by outcome and kind, for the `finished` event.
/// `conflict` counts, of the restored cuts, those that left something alone (a subset of `restored`).
fn tally_of(
    work: &crate::engine::restore::RestoreWork,
    outcome: Option<&crate::engine::restore::RestoreOutcome>,
) -> Tally {
    let kept = work.kept.iter().map(|(cut, _)| cut.id.as_str());
    let irreversible = work.irreversible.iter().map(|cut| cut.id.as_str());
    let tally = Tally::default()
        .count("kept", kept)
        .count("irreversible", irreversible);
    match outcome {
        None => tally
            .count(
                "would_restore",
                work.pending.iter().map(|item| item.cut.id.as_str()),
            )
            .count("refused", work.refused.iter().map(|item| item.id.as_str())),
        Some(outcome) => tally
            .count("restored", outcome.restored.iter().map(String::as_str))
            .count("conflict", conflicted_cuts(outcome))
            .count("failed", outcome.failed.iter().map(|(id, _)| id.as_str()))
            .count(
                "not_attempted",
                outcome.not_attempted.iter().map(String::as_str),
            ),
    }
}
