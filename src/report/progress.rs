//! The progress display for a terminal: one spinner line saying what is being cut or restored now, with
//! finished steps printed above it. Used only when standard error is a terminal; otherwise plain lines.

use indicatif::{ProgressBar, ProgressStyle};

use super::{Event, Reporter};

pub struct ProgressReporter {
    bar: ProgressBar,
}

impl ProgressReporter {
    pub fn new() -> ProgressReporter {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {pos} done, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        ProgressReporter { bar }
    }
}

impl Default for ProgressReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for ProgressReporter {
    fn event(&self, event: &Event) {
        match event {
            Event::DiscoveryStarted { region } => {
                self.bar.set_message(format!("discovering {region}"))
            }
            Event::CutStarted { id } => self.bar.set_message(format!("cutting {id}")),
            Event::RestoreStarted { id } => self.bar.set_message(format!("restoring {id}")),
            Event::CutDone { .. } | Event::Restored { .. } => self.bar.inc(1),
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
