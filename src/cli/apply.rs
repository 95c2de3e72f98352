//! `hikkonuki apply`: hands the request to the engine, which walks every safety gate, and renders what
//! came back. `--check` asks the engine for a report instead and changes nothing.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::ERROR_LINES;
use super::args::ApplyArgs;
use super::exit;
use super::prompt::TerminalOperator;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine::apply::{ApplyRequest, ApplyRun, LeftOut};
use crate::engine::{self, EngineError};
use crate::journal::keys::KeyStore;
use crate::plan::select::Selection;
use crate::report::escape::{field, lines};
use crate::report::{Event, Reporter, Tally, diff};
use crate::services::{PermissionCheck, Registry};

pub async fn apply_command(
    args: &ApplyArgs,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let apply_started = std::time::Instant::now();
    // The flags are checked before any call to AWS.
    let selection = args.select.selection(registry)?;
    let session = AwsSession::load(&settings.connection).await?;
    if args.check {
        return check_command(args, &selection, &session, settings, registry, reporter).await;
    }
    let request = ApplyRequest {
        plan: args.plan.clone(),
        rollback: args.rollback.clone(),
        allow_irreversible: args.allow_irreversible,
        fail_fast: args.fail_fast,
        parallelism: settings.parallelism,
        keys: KeyStore::from_environment(),
        selection,
        skip_drifted: args.skip_drifted,
        skip_unreachable_accounts: args.skip_unreachable_accounts,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let operator = TerminalOperator::new(settings, reporter, args.yes, stop.clone());
    let run = engine::apply::run(
        &session,
        registry,
        &request,
        &operator,
        Some(&stop),
        reporter,
    )
    .await;
    let (rollback_path, outcome, left_out) = match run {
        Ok(ApplyRun::NothingToApply { left_out, .. }) => {
            let why = format!(
                "Nothing to apply: every cut is disabled{}, or the plan has none",
                if left_out.is_empty() {
                    ""
                } else {
                    " or left out"
                }
            );
            say!(settings, "{why}.");
            // A script reads the run's totals first, whatever follows: here none.
            reporter.event(&engine::apply::started("apply", false, std::iter::empty()));
            engine::apply::report_left_out(&left_out, reporter);
            reporter.event(&Event::Finished {
                command: "apply".into(),
                ok: true,
                summary: why,
                tally: tally_of(&Default::default(), &left_out),
            });
            return Ok(exit::SUCCESS);
        }
        Ok(ApplyRun::Applied {
            rollback,
            outcome,
            left_out,
            ..
        }) => {
            if !left_out.is_empty() {
                say!(
                    settings,
                    "Left out of this run: {} enabled cut(s) of the plan (see above); they stay open.",
                    left_out.len()
                );
            }
            (rollback, outcome, left_out)
        }
        Ok(ApplyRun::AppliedAccounts {
            rollback_dir,
            accounts,
            ..
        }) => {
            return accounts_applied(
                settings,
                reporter,
                &session,
                apply_started,
                &rollback_dir,
                accounts,
            );
        }
        Err(EngineError::Accounts { plan, refusals }) => {
            for (account, err) in &refusals {
                if let EngineError::Drift { drift, .. } = err {
                    show_drift(settings, Some(account), drift);
                }
            }
            return Err(EngineError::Accounts { plan, refusals }.into());
        }
        Err(EngineError::Drift { plan, drift }) => {
            show_drift(settings, None, &drift);
            return Err(EngineError::Drift { plan, drift }.into());
        }
        Err(err) => return Err(err.into()),
    };

    say!(
        settings,
        "\nApply finished in {:.1} s: {}.",
        outcome.elapsed.as_secs_f64(),
        counts_of(&outcome, &left_out)
    );
    if let Some(seal) = seal_of(&outcome) {
        say!(settings, "{seal}.");
    }
    for (id, error) in &outcome.failed {
        say!(settings, "  failed: {}: {}", field(id), field(error));
    }
    say!(settings, "Rollback file: {}", rollback_path.display());
    if outcome.credentials_expired {
        say!(
            settings,
            "Stopped: the credentials expired or were revoked and could not be refreshed. Renew them (e.g. `aws sso login`), then run the same apply again to resume:\n  {}",
            field(&settings.command_line)
        );
    }
    if !outcome.not_attempted.is_empty() {
        say!(
            settings,
            "Stopped early: {} cut(s) not attempted. The rollback file is complete.\n  To continue, run the same command again (the same rollback file and selection; it resumes where this run stopped):\n  {}",
            outcome.not_attempted.len(),
            field(&settings.command_line)
        );
    }
    say!(
        settings,
        "To reconnect after the incident: hikkonuki restore {}",
        rollback_path.display()
    );
    settings.report_stats(&session, apply_started, outcome.sealed_after);
    let ok = outcome.failed.is_empty() && outcome.not_attempted.is_empty();
    reporter.event(&Event::Finished {
        command: "apply".into(),
        ok,
        summary: format!(
            "{}, {} not attempted{}; rollback file {}",
            counts_of(&outcome, &left_out),
            outcome.not_attempted.len(),
            seal_of(&outcome)
                .map(|seal| format!("; {}", seal.to_lowercase()))
                .unwrap_or_default(),
            rollback_path.display()
        ),
        tally: tally_of(&outcome, &left_out),
    });
    Ok(if ok { exit::SUCCESS } else { exit::FAILURE })
}

/// "12 cut, 0 failed, 1 skipped": the cuts this run made, and those an earlier run of the plan had
/// already made when there are any (a resumed apply), counted apart. Skipped: disabled in the plan, or
/// left out by this run for a reason of its own (drifted, the applier's own access); the cuts the flags
/// did not select are counted apart.
fn counts_of(outcome: &crate::engine::apply::ApplyOutcome, left_out: &[LeftOut]) -> String {
    let earlier = match outcome.already_done.len() {
        0 => String::new(),
        n => format!(", {n} already in place"),
    };
    let (not_selected, skipped) = left_out_counts(left_out);
    let unselected = match not_selected {
        0 => String::new(),
        n => format!(", {n} not selected"),
    };
    format!(
        "{} cut{earlier}, {} failed, {} skipped{unselected}",
        outcome.done.len(),
        outcome.failed.len(),
        outcome.skipped.len() + skipped
    )
}

/// The cuts left out as not selected, and those left out for any other reason.
fn left_out_counts(left_out: &[LeftOut]) -> (usize, usize) {
    let not_selected = left_out.iter().filter(|item| item.not_selected()).count();
    (not_selected, left_out.len() - not_selected)
}

/// Whether the run sealed the account, when it took sealing cuts: never "sealed" while one of them
/// failed or was not attempted, or one the plan holds was left out for a reason of its own (the way out
/// of the machine apply runs on, a drifted resource with `--skip-drifted`; not one the flags did not
/// select, which the operator chose).
fn seal_of(outcome: &crate::engine::apply::ApplyOutcome) -> Option<String> {
    if outcome.seal_incomplete > 0 || outcome.seal_left_out > 0 {
        let mut why = Vec::new();
        if outcome.seal_incomplete > 0 {
            why.push(format!(
                "{} sealing cut(s) failed or were not attempted",
                outcome.seal_incomplete
            ));
        }
        if outcome.seal_left_out > 0 {
            why.push(format!(
                "{} sealing cut(s) were left out",
                outcome.seal_left_out
            ));
        }
        return Some(format!(
            "Not sealed: {} (see above); the ways out they close are still open",
            why.join(", and ")
        ));
    }
    let sealed = outcome.sealed_after?;
    Some(if outcome.sealed_earlier {
        "Sealed: every sealing cut was already in place".to_string()
    } else {
        format!("Sealed in {:.1} s", sealed.as_secs_f64())
    })
}

/// The cuts of a run by outcome and kind, for the `finished` event.
fn tally_of(outcome: &crate::engine::apply::ApplyOutcome, left_out: &[LeftOut]) -> Tally {
    fn ids(list: &[String]) -> impl Iterator<Item = &str> {
        list.iter().map(String::as_str)
    }
    let (not_selected, other): (Vec<&LeftOut>, Vec<&LeftOut>) =
        left_out.iter().partition(|item| item.not_selected());
    Tally::default()
        .count("done", ids(&outcome.done))
        .count("already_done", ids(&outcome.already_done))
        .count("failed", outcome.failed.iter().map(|(id, _)| id.as_str()))
        .count(
            "skipped",
            ids(&outcome.skipped).chain(other.iter().map(|item| item.id.as_str())),
        )
        .count("not_attempted", ids(&outcome.not_attempted))
        .count(
            "not_selected",
            not_selected.iter().map(|item| item.id.as_str()),
        )
}

fn show_drift(
    settings: &Settings,
    account: Option<&str>,
    drift: &crate::engine::apply::DriftCheck,
) {
    let prefix = account
        .map(|account| format!("account {}: ", field(account)))
        .unwrap_or_default();
    for item in &drift.drifted {
        eprintln!(
            "{prefix}drift: {} no longer matches the plan:\n{}",
            field(&item.id),
            diff::unified(&item.planned, &item.live, "plan", "live", settings.color)
        );
    }
    for (id, err) in &drift.unverifiable {
        eprintln!(
            "{prefix}cannot verify {}: {}",
            field(id),
            field(&err.to_string())
        );
    }
}

/// A plan over several accounts: one block per account, then the one summary and the way back.
fn accounts_applied(
    settings: &Settings,
    reporter: &dyn Reporter,
    session: &AwsSession,
    started: std::time::Instant,
    rollback_dir: &std::path::Path,
    accounts: Vec<crate::engine::apply::AccountApplied>,
) -> anyhow::Result<u8> {
    let (mut cut, mut failed, mut not_attempted, mut broken) = (0, 0, 0, 0);
    let mut tally = Tally::default();
    for item in &accounts {
        let account = field(&item.account);
        match &item.result {
            Ok(outcome) => {
                tally = tally.plus(&tally_of(outcome, &item.left_out));
                cut += outcome.done.len() + outcome.already_done.len();
                failed += outcome.failed.len();
                not_attempted += outcome.not_attempted.len();
                say!(
                    settings,
                    "Account {account}: {}{} (rollback file {})",
                    counts_of(outcome, &item.left_out),
                    seal_of(outcome)
                        .map(|seal| format!("; {}", seal.to_lowercase()))
                        .unwrap_or_default(),
                    item.rollback.display()
                );
                for (id, error) in &outcome.failed {
                    say!(settings, "  failed: {}: {}", field(id), field(error));
                }
            }
            Err(err @ EngineError::NotEntered { .. }) => {
                broken += 1;
                say!(
                    settings,
                    "Account {account}: STOPPED, {}",
                    lines(&err.to_string(), ERROR_LINES)
                );
            }
            Err(err) => {
                broken += 1;
                say!(
                    settings,
                    "Account {account}: STOPPED (its rollback file {} holds what was cut): {}",
                    item.rollback.display(),
                    // Composed by hikkonuki (an error and its `fix:` line): each line escaped.
                    lines(&err.to_string(), ERROR_LINES)
                );
            }
        }
    }
    let summary = format!(
        "{} account(s): {cut} cut, {failed} failed, {not_attempted} not attempted, {broken} account(s) stopped; rollback files in {}",
        accounts.len(),
        rollback_dir.display()
    );
    say!(
        settings,
        "\nApply finished in {:.1} s: {summary}.",
        started.elapsed().as_secs_f64()
    );
    if not_attempted > 0 || broken > 0 {
        say!(
            settings,
            "To continue, run the same command again (each account resumes where it stopped):\n  {}",
            field(&settings.command_line)
        );
    }
    say!(
        settings,
        "To reconnect after the incident: hikkonuki restore {}",
        rollback_dir.display()
    );
    settings.report_stats(session, started, None);
    let ok = failed == 0 && not_attempted == 0 && broken == 0;
    tally.by_outcome.insert("accounts_stopped".into(), broken);
    reporter.event(&Event::Finished {
        command: "apply".into(),
        ok,
        summary,
        tally,
    });
    Ok(if ok { exit::SUCCESS } else { exit::FAILURE })
}

/// `apply --check`: renders the engine's check report. Never changes the account, never writes a
/// rollback file.
async fn check_command(
    args: &ApplyArgs,
    selection: &Selection,
    session: &AwsSession,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let report = engine::apply::check(
        session,
        registry,
        &args.plan,
        selection,
        settings.parallelism,
        reporter,
    )
    .await?;
    // With --skip-drifted, apply leaves drifted cuts out instead of refusing: so does the check.
    let drifted_then = if args.skip_drifted {
        "apply leaves it out (--skip-drifted), so it stays open"
    } else {
        "make a new plan, or pass --skip-drifted to leave it out"
    };
    for item in &report.drift.drifted {
        say!(
            settings,
            "drift      {}: no longer matches the plan ({drifted_then})",
            field(&item.id)
        );
    }
    for (id, err) in &report.drift.unverifiable {
        say!(
            settings,
            "unverified {}: {} ({drifted_then})",
            field(id),
            field(&err.to_string())
        );
    }
    for item in &report.underived {
        say!(
            settings,
            "EDITED     {}: {} (apply refuses the plan: make a new plan)",
            field(&item.id),
            field(&item.problem)
        );
    }
    for (id, check) in &report.permissions {
        let id = field(id);
        match check {
            PermissionCheck::Allowed => say!(settings, "allowed    {id}"),
            PermissionCheck::Denied(err) => {
                say!(settings, "DENIED     {id}: {}", field(&err.to_string()))
            }
            PermissionCheck::NotCheckable(why) => {
                say!(settings, "unchecked  {id}: {}", field(why))
            }
            PermissionCheck::Failed(err) => say!(
                settings,
                "FAILED     {id}: the check itself failed: {}",
                field(&err.to_string())
            ),
        }
    }
    let problems = report.problems(args.skip_drifted);
    let unchecked = report
        .permissions
        .iter()
        .filter(|(_, check)| matches!(check, PermissionCheck::NotCheckable(_)))
        .count();
    // "0 problems" alone would read as "every cut will work" when some had no dry run to ask.
    let verdict = format!(
        "{problems} problem(s); {} of {} cut(s) checked by a dry run, {unchecked} not checkable (listed as unchecked: their permission is known only when apply runs them). Nothing was changed",
        report.permissions.len() - unchecked,
        report.permissions.len()
    );
    say!(settings, "\nCheck of {}: {verdict}.", args.plan.display());
    let permission = |wanted: fn(&PermissionCheck) -> bool| {
        report
            .permissions
            .iter()
            .filter(move |(_, check)| wanted(check))
            .map(|(id, _)| id.as_str())
    };
    reporter.event(&Event::Finished {
        command: "apply --check".into(),
        ok: problems == 0,
        summary: verdict,
        tally: Tally::default()
            .count(
                "drifted",
                report.drift.drifted.iter().map(|d| d.id.as_str()),
            )
            .count(
                "unverifiable",
                report.drift.unverifiable.iter().map(|(id, _)| id.as_str()),
            )
            .count("edited", report.underived.iter().map(|u| u.id.as_str()))
            .count(
                "allowed",
                permission(|c| matches!(c, PermissionCheck::Allowed)),
            )
            .count(
                "denied",
                permission(|c| matches!(c, PermissionCheck::Denied(_))),
            )
            .count(
                "check_failed",
                permission(|c| matches!(c, PermissionCheck::Failed(_))),
            )
            .count(
                "unchecked",
                permission(|c| matches!(c, PermissionCheck::NotCheckable(_))),
            ),
    });
    Ok(if problems == 0 {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}
