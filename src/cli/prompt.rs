//! Asking the operator: the typed confirmation, Ctrl-C handling, and the terminal's side of the engine's
//! [`Operator`]: it shows what apply or restore is about to do and asks before anything changes.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};

use super::settings::Settings;
use crate::engine::Operator;
use crate::engine::apply::{ApplyConfirmation, LeftOut, LeftOutBecause};
use crate::engine::restore::RestoreWork;
use crate::plan::Plan;
use crate::report::escape::field;
use crate::report::{diff, render};

/// Asks the operator to type the account ID. Refuses without a terminal, unless `--yes`.
pub fn confirm(account: &str, action: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "{action} needs confirmation, and there is no terminal to ask on. Review the output above, then run again with --yes"
        );
    }
    // The account comes from the plan or the rollback file: shown escaped, compared as stored. A run
    // over several accounts is confirmed with the organization's ID (`o-…`).
    let shown = field(account);
    let what = if account.starts_with("o-") {
        "organization"
    } else {
        "account"
    };
    let typed: String = dialoguer::Input::new()
        .with_prompt(format!("To {action} {what} {shown}, type its {what} ID"))
        .allow_empty(true)
        .interact_text()
        .context("reading the confirmation")?;
    if typed.trim() != account {
        bail!("confirmation did not match {what} {shown}: nothing was changed");
    }
    Ok(())
}

/// Sets `flag` on the first Ctrl-C, so the engine stops after the call in flight with the
/// rollback file complete; a second Ctrl-C exits at once (the journal is consistent at every moment).
fn stop_on_ctrl_c(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!("interrupted: stopping after the call in flight (Ctrl-C again to quit now)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}

/// The operator at this terminal. Confirmation is typed (the account ID) unless `--yes`; once confirmed,
/// the first Ctrl-C stops the run after the call in flight (see [`stop_on_ctrl_c`]), not before: until
/// then (the checks, the prompt), Ctrl-C ends the process with nothing changed.
pub struct TerminalOperator<'a> {
    pub settings: &'a Settings,
    /// Its spinner, if any, is taken off the screen while the operator is asked.
    pub reporter: &'a dyn crate::report::Reporter,
    pub yes: bool,
    /// Set by Ctrl-C once the operator has confirmed.
    pub stop: Arc<AtomicBool>,
    /// Until the operator has confirmed: Ctrl-C ends the process, leaving nothing behind.
    before_confirmation: tokio::task::AbortHandle,
}

impl<'a> TerminalOperator<'a> {
    /// From now until the operator confirms, Ctrl-C ends the process, which runs no destructor: the
    /// rollback file this run created (locked, still empty) is removed first, so nothing is left
    /// behind (nothing in the account changes before the confirmation).
    pub fn new(
        settings: &'a Settings,
        reporter: &'a dyn crate::report::Reporter,
        yes: bool,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let interrupt = tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                crate::journal::lock::remove_unwritten();
                eprintln!("\ninterrupted before the confirmation: nothing was changed");
                std::process::exit(130);
            }
        });
        TerminalOperator {
            settings,
            reporter,
            yes,
            stop,
            before_confirmation: interrupt.abort_handle(),
        }
    }

    fn confirmed(&self, account: &str, action: &str) -> Result<(), String> {
        let mut answer = Ok(());
        self.reporter
            .suspend(&mut || answer = confirm(account, action, self.yes));
        answer.map_err(|err| format!("{err:#}"))?;
        self.before_confirmation.abort();
        stop_on_ctrl_c(self.stop.clone());
        Ok(())
    }
}

impl Drop for TerminalOperator<'_> {
    fn drop(&mut self) {
        self.before_confirmation.abort();
    }
}

/// The enabled cuts this run leaves out: unselected ones counted with the flags, drifted ones each with
/// what changed, so the operator sees what stays open.
fn review_left_out(settings: &Settings, left_out: &[LeftOut]) {
    let unselected: Vec<&LeftOut> = left_out.iter().filter(|item| item.not_selected()).collect();
    if let Some(first) = unselected.first() {
        say!(
            settings,
            "\nLeft out: {} enabled cut(s) {} (they stay open).",
            unselected.len(),
            first.because.describe()
        );
    }
    for item in left_out {
        match &item.because {
            LeftOutBecause::NotSelected(_) => {}
            LeftOutBecause::Drifted(drift) => say!(
                settings,
                "\nLeft out (--skip-drifted): {} changed since the plan, so it stays open:\n{}",
                field(&item.id),
                diff::unified(&drift.planned, &drift.live, "plan", "live", settings.color)
            ),
            LeftOutBecause::Unverifiable(err) => say!(
                settings,
                "\nLeft out (--skip-drifted): {} could not be read, so it stays open: {}",
                field(&item.id),
                field(err)
            ),
            LeftOutBecause::Protected(why) => say!(
                settings,
                "\nLeft out by apply: {} stays open: {}",
                field(&item.id),
                field(why)
            ),
        }
    }
}

/// What a rollback file that does not authenticate (`--force`) puts back, whole, before the question:
/// nothing vouches for what it says was there, so it is shown also with --yes, and the run's output
/// records what was put back. `file` names it ("The rollback file", or an account's).
fn unauthenticated_whole(settings: &Settings, file: &str, work: &RestoreWork) {
    say!(
        settings,
        "{file} could not be authenticated (--force): restore puts back what it says, shown here whole. Read it before confirming."
    );
    super::restore::print_pending_diffs(settings, work);
}

impl Operator for TerminalOperator<'_> {
    /// What this run is about to carry out, in one screen: the plan was reviewed when it was made (and
    /// `hikkonuki show --diff` prints it whole), so it is not printed again.
    fn review_apply(&self, plan: &Plan, left_out: &[LeftOut]) {
        let settings = self.settings;
        say!(
            settings,
            "Apply will carry out, in account {} (planned by {}, {}):",
            field(&plan.account),
            field(&plan.caller),
            field(&plan.created)
        );
        // What each cut's effect is derived from, read from the plan file like everything else in it.
        settings.say_inline(&render::settings_lines(plan, true));
        settings.say_inline(&render::review_summary(plan));
        review_left_out(settings, left_out);
        say!(settings, "\n{}", plan.summary());
    }

    fn confirm_apply(&self, confirmation: &ApplyConfirmation<'_>) -> Result<(), String> {
        let settings = self.settings;
        if !confirmation.irreversible.is_empty() {
            say!(
                settings,
                "WARNING: {} cut(s) cannot be undone by restore (--allow-irreversible): {}",
                confirmation.irreversible.len(),
                field(&confirmation.irreversible.join(", "))
            );
        }
        if let Some((rollback, started)) = confirmation.resuming {
            say!(
                settings,
                "Resuming the apply recorded in {}: {started} cut(s) already started there.",
                rollback.display()
            );
        }
        match confirmation.organization {
            Some(organization) => {
                say!(
                    settings,
                    "This cuts {} account(s) of organization {}.",
                    confirmation.plan.members.len() + 1,
                    field(organization)
                );
                self.confirmed(organization, "cut off accounts of")
            }
            None => self.confirmed(&confirmation.plan.account, "cut off"),
        }
    }

    fn review_accounts(&self, accounts: &[(&Plan, &[LeftOut])]) {
        let settings = self.settings;
        for (plan, left_out) in accounts {
            say!(settings, "\n=== Account {} ===", field(&plan.account));
            self.review_apply(plan, left_out);
        }
        let whole = Plan::from_accounts(accounts.iter().map(|(plan, _)| (*plan).clone()).collect());
        say!(settings, "\n{}", render::accounts_by_kind(&whole));
        say!(settings, "{}", whole.summary());
    }

    fn review_restore(&self, work: &RestoreWork) {
        let settings = self.settings;
        for (cut, gate) in &work.kept {
            say!(
                settings,
                "Kept in place: {} ({}). Pass {} to lift it.",
                field(&cut.id),
                gate.why,
                gate.flag
            );
        }
        for cut in &work.irreversible {
            say!(
                settings,
                "Cannot be restored: {} is irreversible; its state before the cut is recorded in the rollback file.",
                field(&cut.id)
            );
        }
    }

    fn review_unauthenticated(&self, account: &str, work: &RestoreWork) {
        say!(self.settings, "");
        unauthenticated_whole(
            self.settings,
            &format!("Account {}: its rollback file", field(account)),
            work,
        );
    }

    fn confirm_restore(&self, account: &str, work: &RestoreWork) -> Result<(), String> {
        let settings = self.settings;
        if work.unauthenticated {
            unauthenticated_whole(settings, "The rollback file", work);
            say!(settings, "");
        }
        say!(settings, "Restore will reconnect, newest cut first:");
        for item in &work.pending {
            let note = item.note();
            say!(settings, "  {}{note}", field(&item.cut.id));
        }
        self.confirmed(account, "reconnect")
    }
}
