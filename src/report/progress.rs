//! The progress display for a terminal: one spinner line saying what is being cut or restored now, with
//! finished steps printed above it. Used only when standard error is a terminal; otherwise plain lines.

use indicatif::{ProgressBar, ProgressStyle};

use super::escape;
use super::{Event, Reporter};

/// How often the spinner turns.
const TICK: std::time::Duration = std::time::Duration::from_millis(120);

/// How many steps of the run's `total` `event` ends: a cut or undo done or failed, an undo left pending
/// behind a failed one, a resumed cut found already made, a discovery answered or failed (one each), or an account's discoveries that will not
/// run (all of them).
fn steps_done(event: &Event) -> u64 {
    match event {
        Event::CutDone { .. }
        | Event::CutFailed { .. }
        | Event::CutSkipped { in_total: true, .. }
        | Event::Restored { .. }
        | Event::RestoreFailed { .. }
        | Event::RestoreSkipped { .. }
        | Event::Discovered { .. }
        | Event::DiscoveryFailed { .. } => 1,
        Event::DiscoverySkipped { steps, .. } => *steps as u64,
        _ => 0,
    }
}

pub struct ProgressReporter {
    bar: ProgressBar,
    /// The phase apply or restore is in (`sealing: `), said before what is being cut or restored; in a
    /// run over several accounts, each account's own (they run side by side, each in its phase).
    phase: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Taken off the screen for a question ([`Reporter::suspend`]) and not drawn since.
    asked: std::sync::atomic::AtomicBool,
}

impl ProgressReporter {
    pub fn new() -> ProgressReporter {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {pos} done, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        // Until the first step says what it is (the checks before any cut or discovery).
        bar.set_message("checking");
        bar.enable_steady_tick(TICK);
        ProgressReporter {
            bar,
            phase: std::sync::Mutex::new(std::collections::HashMap::new()),
            asked: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Default for ProgressReporter {
    fn default() -> Self {
        Self::new()
    }
}

/// What the spinner line says while `event` is in progress; escaped like every line (the ID carries
/// names from the account).
fn spinner_message(event: &Event) -> Option<String> {
    match event {
        Event::DiscoveryStarted { region } => {
            Some(format!("discovering {}", escape::field(region)))
        }
        Event::PhaseStarted { .. } => Some("starting".into()),
        Event::CutStarted { id } => Some(format!("cutting {}", escape::field(id))),
        Event::RestoreStarted { id } => Some(format!("restoring {}", escape::field(id))),
        Event::Discovered { region, kind, .. } => Some(format!(
            "discovered {} in {}",
            escape::field(kind),
            escape::field(region)
        )),
        _ => None,
    }
}

impl ProgressReporter {
    /// Says on the spinner line what `event` starts, after the phase it is in and, in a run over
    /// several accounts, the account.
    fn show(&self, account: Option<&str>, event: &Event) {
        // Back after the question once the run goes on (a declined one says `refused`, then
        // `finished`). Its clock restarts with the work.
        let goes_on = matches!(
            event,
            Event::Started { .. }
                | Event::PhaseStarted { .. }
                | Event::CutStarted { .. }
                | Event::RestoreStarted { .. }
        );
        if goes_on && self.asked.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.bar.reset();
            self.bar.enable_steady_tick(TICK);
        }
        let mut phases = self.phase.lock().expect("progress lock poisoned");
        let phase = phases
            .entry(account.unwrap_or_default().to_string())
            .or_default();
        if let Event::PhaseStarted { phase: started, .. } = event {
            *phase = format!("{}: ", escape::field(started));
        }
        if let Some(message) = spinner_message(event) {
            let account = account
                .map(|account| format!("[{}] ", escape::field(account)))
                .unwrap_or_default();
            self.bar.set_message(format!("{account}{phase}{message}"));
        }
    }

    /// Counts `steps` done. A run may find more work than its total said (a cut an earlier run made,
    /// found reverted and cut again): the total then grows with it, so the line never reads past it.
    fn count(&self, steps: u64) {
        self.bar.inc(steps);
        if let Some(total) = self.bar.length()
            && self.bar.position() > total
        {
            self.bar.set_length(self.bar.position());
        }
    }
}

impl Reporter for ProgressReporter {
    /// The spinner ticks on its own thread: without this it would redraw over the confirmation prompt.
    /// It stays off the screen after the answer until the run goes on (its next event): a question
    /// answered wrong, or Ctrl-C, ends the command with no frame drawn under the answer.
    fn suspend(&self, ask: &mut dyn FnMut()) {
        self.bar.finish_and_clear();
        self.asked.store(true, std::sync::atomic::Ordering::SeqCst);
        ask()
    }

    fn event_in(&self, account: &str, event: &Event) {
        self.show(Some(account), event);
        match event {
            Event::CutStarted { .. }
            | Event::RestoreStarted { .. }
            | Event::DiscoveryStarted { .. } => {}
            _ if steps_done(event) > 0 => {
                self.count(steps_done(event));
                if let Some(line) = event.to_line() {
                    self.bar
                        .println(format!("[{}] {line}", escape::field(account)));
                }
            }
            other => match other.to_line() {
                Some(line) => self
                    .bar
                    .println(format!("[{}] {line}", escape::field(account))),
                None => self.event(other),
            },
        }
    }

    fn event(&self, event: &Event) {
        self.show(None, event);
        match event {
            // A dry run works through nothing one by one: its line keeps saying what it checks.
            Event::Started { dry_run: true, .. } => {}
            Event::Started { total, .. } => {
                // From here the line counts against the run's own total: done/total.
                self.bar.set_length(*total as u64);
                self.bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed}] {pos}/{len} done, {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
            }
            _ if steps_done(event) > 0 => self.count(steps_done(event)),
            // `verify`: a path analyzed (a VPC with no path is not one of the `total`).
            Event::PathVerified {
                destination: Some(_),
                ..
            } => self.bar.inc(1),
            Event::Finished { .. } => self.bar.finish_and_clear(),
            _ => {}
        }
        match event {
            Event::CutStarted { .. }
            | Event::RestoreStarted { .. }
            | Event::DiscoveryStarted { .. } => {}
            other => {
                if let Some(line) = other.to_line() {
                    self.bar.println(line);
                }
            }
        }
    }
}

impl Drop for ProgressReporter {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::escape::{HOSTILE, assert_nothing_hidden};

    #[test]
    fn the_spinner_and_the_lines_above_it_show_a_hostile_id_escaped() {
        let id = format!("apigw_deny_policy/us-east-1/{HOSTILE}");
        for event in [
            Event::CutStarted { id: id.clone() },
            Event::RestoreStarted { id: id.clone() },
            Event::DiscoveryStarted {
                region: HOSTILE.into(),
            },
            Event::Discovered {
                region: HOSTILE.into(),
                kind: HOSTILE.into(),
                found: 1,
            },
        ] {
            let message = spinner_message(&event).expect("a spinner message");
            assert!(message.contains("\\u{1b}[1A"), "{message}");
            assert_nothing_hidden(&message);
        }
        let failed = Event::CutFailed {
            id,
            error: format!("{HOSTILE}\n{}", "<html>".repeat(3_000)),
        };
        let line = failed.to_line().expect("a line");
        assert_nothing_hidden(&line);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("more characters left out"), "{line}");
    }

    fn started(total: usize, dry_run: bool) -> Event {
        Event::Started {
            command: "plan".into(),
            total,
            by_kind: [("sg_revoke".to_string(), total)].into(),
            dry_run,
        }
    }

    fn discovered(region: &str, found: usize) -> Event {
        Event::Discovered {
            region: region.into(),
            kind: "sg_revoke".into(),
            found,
        }
    }

    #[test]
    fn a_plan_counts_each_discovery_answered_or_failed_against_its_total() {
        let progress = ProgressReporter::new();
        progress.event(&started(3, false));
        progress.event(&discovered("us-east-1", 4));
        progress.event_in("111122223333", &discovered("eu-west-1", 0));
        progress.event(&Event::DiscoveryFailed {
            region: "ap-south-1".into(),
            kind: "sg_revoke".into(),
            error: "denied".into(),
        });
        assert_eq!(progress.bar.length(), Some(3));
        assert_eq!(progress.bar.position(), 3);
        assert_eq!(
            progress.bar.message(),
            "[111122223333] discovered sg_revoke in eu-west-1"
        );
    }

    #[test]
    fn an_account_not_entered_counts_all_its_steps_so_a_plan_ends_at_its_total() {
        let progress = ProgressReporter::new();
        progress.event(&started(5, false));
        progress.event(&discovered("us-east-1", 4));
        progress.event_in(
            "111122223333",
            &Event::DiscoverySkipped {
                steps: 4,
                reason: "AccessDenied".into(),
            },
        );
        assert_eq!(progress.bar.position(), 5);
        assert_eq!(progress.bar.length(), Some(5));
    }

    #[test]
    fn the_spinner_says_the_phase_before_what_is_being_cut() {
        let progress = ProgressReporter::new();
        progress.event(&Event::PhaseStarted {
            phase: "sealing".into(),
            total: 2,
        });
        assert_eq!(progress.bar.message(), "sealing: starting");
        progress.event(&Event::CutStarted {
            id: "nacl_deny/us-east-1/acl-1".into(),
        });
        assert_eq!(
            progress.bar.message(),
            "sealing: cutting nacl_deny/us-east-1/acl-1"
        );
        progress.event_in(
            "111122223333",
            &Event::PhaseStarted {
                phase: format!("per-resource{HOSTILE}"),
                total: 1,
            },
        );
        progress.event_in(
            "111122223333",
            &Event::CutStarted {
                id: "sg_revoke/us-east-1/sg-1".into(),
            },
        );
        let message = progress.bar.message();
        assert!(
            message.starts_with("[111122223333] per-resource")
                && message.ends_with(": cutting sg_revoke/us-east-1/sg-1"),
            "{message}"
        );
        assert_nothing_hidden(&message);
    }

    /// Accounts of one run go side by side, each in its own phase: one still sealing while another is
    /// on its per-resource cuts is said to be sealing. With one phase for the run, the account that
    /// started a phase last renamed every other's.
    #[test]
    fn each_account_of_a_run_is_said_to_be_in_its_own_phase() {
        let progress = ProgressReporter::new();
        let phase = |account: &str, phase: &str| {
            progress.event_in(
                account,
                &Event::PhaseStarted {
                    phase: phase.into(),
                    total: 1,
                },
            )
        };
        phase("111111111111", "sealing");
        phase("222222222222", "sealing");
        phase("222222222222", "per-resource");
        progress.event_in(
            "111111111111",
            &Event::CutStarted {
                id: "nacl_deny/us-east-1/acl-1".into(),
            },
        );
        assert_eq!(
            progress.bar.message(),
            "[111111111111] sealing: cutting nacl_deny/us-east-1/acl-1"
        );
        progress.event_in(
            "222222222222",
            &Event::CutStarted {
                id: "sg_revoke/us-east-1/sg-1".into(),
            },
        );
        assert_eq!(
            progress.bar.message(),
            "[222222222222] per-resource: cutting sg_revoke/us-east-1/sg-1"
        );
    }

    /// Apply's line ends at its total whatever became of each cut: done, failed, or, resumed, found
    /// made by the earlier run's call. A cut done by an earlier run and left out of the total is not
    /// counted when skipped; found reverted and cut again, it grows the total rather than pass it.
    #[test]
    fn apply_counts_every_cut_of_its_total_and_grows_the_total_for_one_cut_again() {
        let progress = ProgressReporter::new();
        progress.event(&Event::Started {
            command: "apply".into(),
            total: 3,
            by_kind: [("sg_revoke".to_string(), 3)].into(),
            dry_run: false,
        });
        let id = |n: u32| format!("sg_revoke/us-east-1/sg-{n}");
        progress.event(&Event::CutSkipped {
            id: id(0),
            reason: "already cut by the earlier run".into(),
            in_total: false,
        });
        progress.event(&Event::CutSkipped {
            id: id(9),
            reason: "disabled in the plan (enabled: false)".into(),
            in_total: false,
        });
        assert_eq!(progress.bar.position(), 0);
        progress.event(&Event::CutDone {
            id: id(1),
            elapsed: std::time::Duration::from_millis(5),
        });
        progress.event(&Event::CutFailed {
            id: id(2),
            error: "denied".into(),
        });
        progress.event(&Event::CutSkipped {
            id: id(3),
            reason: "the earlier run's call went through; its completion is now recorded".into(),
            in_total: true,
        });
        assert_eq!(
            (progress.bar.position(), progress.bar.length()),
            (3, Some(3))
        );
        progress.event(&Event::CutDone {
            id: id(4),
            elapsed: std::time::Duration::from_millis(5),
        });
        assert_eq!(
            (progress.bar.position(), progress.bar.length()),
            (4, Some(4))
        );
    }

    /// Restore's line ends at its total when an undo fails.
    #[test]
    fn restore_counts_a_failed_undo() {
        let progress = ProgressReporter::new();
        progress.event(&Event::Started {
            command: "restore".into(),
            total: 2,
            by_kind: [("sg_revoke".to_string(), 2)].into(),
            dry_run: false,
        });
        progress.event(&Event::Restored {
            id: "sg_revoke/us-east-1/sg-1".into(),
            notes: vec![],
        });
        progress.event(&Event::RestoreFailed {
            id: "sg_revoke/us-east-1/sg-2".into(),
            error: "denied".into(),
        });
        assert_eq!(
            (progress.bar.position(), progress.bar.length()),
            (2, Some(2))
        );
    }

    #[test]
    fn after_a_question_the_line_comes_back_only_when_the_run_goes_on() {
        let progress = ProgressReporter::new();
        progress.event(&started(4, false));
        let mut asked = false;
        progress.suspend(&mut || asked = true);
        assert!(asked);
        assert!(progress.bar.is_finished(), "nothing drawn after the answer");
        progress.event(&Event::CutStarted {
            id: "sg_revoke/us-east-1/sg-1".into(),
        });
        assert!(!progress.bar.is_finished());
        assert_eq!(progress.bar.message(), "cutting sg_revoke/us-east-1/sg-1");
        progress.event(&Event::CutDone {
            id: "sg_revoke/us-east-1/sg-1".into(),
            elapsed: std::time::Duration::from_millis(5),
        });
        assert_eq!(progress.bar.position(), 1);
        assert_eq!(progress.bar.length(), Some(4));
        // Declined: the command ends, and the line stays off.
        let declined = ProgressReporter::new();
        declined.suspend(&mut || {});
        declined.event(&Event::Refused {
            message: "confirmation did not match".into(),
        });
        assert!(declined.bar.is_finished());
        declined.event(&Event::Finished {
            command: "apply".into(),
            ok: false,
            summary: "refused".into(),
            tally: Default::default(),
        });
        assert!(declined.bar.is_finished());
    }

    #[test]
    fn a_dry_run_keeps_its_spinner_rather_than_a_count_that_never_moves() {
        let progress = ProgressReporter::new();
        progress.event(&started(5, true));
        assert_eq!(progress.bar.length(), None);
    }
}
