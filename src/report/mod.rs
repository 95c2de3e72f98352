//! Events the engine emits, and their renderings for people. The engine never prints: it hands every
//! [`Event`] to a [`Reporter`], so a terminal, a log and a test can all listen.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub mod diff;
pub mod progress;
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
    /// A cut written into a new plan.
    /// Something the plan reports and no cut changes (emitted before the proposed cuts).
    Finding {
        check: String,
        region: String,
        resource: String,
        severity: String,
        message: String,
    },
    CutProposed {
        id: String,
        kind: String,
        region: String,
        target: String,
        enabled: bool,
        reversible: bool,
    },
    /// A command's outcome, last.
    Finished {
        command: String,
        ok: bool,
        summary: String,
    },
}

impl Event {
    /// The event as one JSON object, for `--output json` (JSON Lines).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let ms = |d: &Duration| d.as_millis() as u64;
        match self {
            Event::DiscoveryStarted { region } => {
                json!({"event": "discovery-started", "region": region})
            }
            Event::DiscoveryFailed {
                region,
                kind,
                error,
            } => {
                json!({"event": "discovery-failed", "region": region, "kind": kind, "error": error})
            }
            Event::CutStarted { id } => json!({"event": "cut-started", "id": id}),
            Event::CutDone { id, elapsed } => {
                json!({"event": "cut-done", "id": id, "elapsed_ms": ms(elapsed)})
            }
            Event::CutFailed { id, error } => {
                json!({"event": "cut-failed", "id": id, "error": error})
            }
            Event::CutSkipped { id, reason } => {
                json!({"event": "cut-skipped", "id": id, "reason": reason})
            }
            Event::Sealed { elapsed } => json!({"event": "sealed", "elapsed_ms": ms(elapsed)}),
            Event::RestoreStarted { id } => json!({"event": "restore-started", "id": id}),
            Event::Restored { id, notes } => json!({"event": "restored", "id": id, "notes": notes}),
            Event::RestoreFailed { id, error } => {
                json!({"event": "restore-failed", "id": id, "error": error})
            }
            Event::RestoreSkipped { id, reason } => {
                json!({"event": "restore-skipped", "id": id, "reason": reason})
            }
            Event::Warning { message } => json!({"event": "warning", "message": message}),
            Event::Finding {
                check,
                region,
                resource,
                severity,
                message,
            } => json!({"event": "finding", "check": check, "region": region,
                        "resource": resource, "severity": severity, "message": message}),
            Event::CutProposed {
                id,
                kind,
                region,
                target,
                enabled,
                reversible,
            } => json!({"event": "cut-proposed", "id": id, "kind": kind, "region": region,
                        "target": target, "enabled": enabled, "reversible": reversible}),
            Event::Finished {
                command,
                ok,
                summary,
            } => json!({"event": "finished", "command": command, "ok": ok, "summary": summary}),
        }
    }

    /// The event as one line for people; `None` for events only machines need.
    pub fn to_line(&self) -> Option<String> {
        Some(match self {
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
            // The plan's text shows these already.
            Event::Finding { .. } | Event::CutProposed { .. } | Event::Finished { .. } => {
                return None;
            }
        })
    }
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
        if let Some(line) = event.to_line() {
            let mut out = self.out.lock().expect("reporter lock poisoned");
            let _ = writeln!(out, "{line}");
        }
    }
}

/// `--output json`: one JSON object per event on standard output, flushed at once so a pipeline sees each
/// cut as it happens.
pub struct JsonReporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonReporter {
    pub fn stdout() -> JsonReporter {
        JsonReporter {
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }
}

impl Reporter for JsonReporter {
    fn event(&self, event: &Event) {
        let mut out = self.out.lock().expect("reporter lock poisoned");
        let _ = writeln!(out, "{}", event.to_json());
        let _ = out.flush();
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
