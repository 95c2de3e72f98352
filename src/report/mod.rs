//! Events the engine emits, and their renderings for people. The engine never prints: it hands every
//! [`Event`] to a [`Reporter`], so a terminal, a log and a test can all listen.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub mod diff;
pub mod render;

/// Something the engine did or found, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    DiscoveryStarted {
        region: String,
    },
    DiscoveryFailed {
        region: String,
        kind: String,
        error: String,
    },
    CutStarted {
        id: String,
    },
    CutDone {
        id: String,
        elapsed: Duration,
    },
    CutFailed {
        id: String,
        error: String,
    },
    CutSkipped {
        id: String,
        reason: String,
    },
    /// The last sealing cut completed this long after apply started.
    Sealed {
        elapsed: Duration,
    },
    RestoreStarted {
        id: String,
    },
    Restored {
        id: String,
        notes: Vec<String>,
    },
    RestoreFailed {
        id: String,
        error: String,
    },
    RestoreSkipped {
        id: String,
        reason: String,
    },
    Warning {
        message: String,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
}

/// Writes one plain line per event to standard error, so standard output stays for documents and diffs.
pub struct LineReporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl LineReporter {
    pub fn stderr() -> LineReporter {
        LineReporter {
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }
}

impl Reporter for LineReporter {
    fn event(&self, event: &Event) {
        let line = match event {
            Event::DiscoveryStarted { region } => format!("discovering {region}"),
            Event::DiscoveryFailed {
                region,
                kind,
                error,
            } => format!("error: discovery of {kind} in {region} failed: {error}"),
            Event::CutStarted { id } => format!("cutting   {id}"),
            Event::CutDone { id, elapsed } => {
                format!("cut       {id} ({:.1} s)", elapsed.as_secs_f64())
            }
            Event::CutFailed { id, error } => format!("FAILED    {id}: {error}"),
            Event::CutSkipped { id, reason } => format!("skipped   {id}: {reason}"),
            Event::Sealed { elapsed } => format!("sealed in {:.1} s", elapsed.as_secs_f64()),
            Event::RestoreStarted { id } => format!("restoring {id}"),
            Event::Restored { id, notes } => {
                let mut line = format!("restored  {id}");
                for note in notes {
                    line.push_str(&format!("\n            {note}"));
                }
                line
            }
            Event::RestoreFailed { id, error } => format!("FAILED    restore of {id}: {error}"),
            Event::RestoreSkipped { id, reason } => format!("skipped   {id}: {reason}"),
            Event::Warning { message } => format!("warning: {message}"),
        };
        let mut out = self.out.lock().expect("reporter lock poisoned");
        let _ = writeln!(out, "{line}");
    }
}

/// Keeps every event, for tests.
#[derive(Default)]
pub struct RecordingReporter {
    pub events: Mutex<Vec<Event>>,
}

impl Reporter for RecordingReporter {
    fn event(&self, event: &Event) {
        self.events
            .lock()
            .expect("reporter lock poisoned")
            .push(event.clone());
    }
}
