//! Events the engine emits, and their renderings for people. The engine never prints: it hands every
//! [`Event`] to a [`Reporter`], so a terminal, a log and a test can all listen.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

pub mod diff;
pub mod escape;
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
    /// `plan`: one kind's discovery, or one inspection, in one region answered: how many cuts it proposes
    /// (before the selection's `--target` and `--vpc`), or how many findings the inspection reports. One
    /// of the `started` event's `total`; a step that fails is a `DiscoveryFailed` instead.
    Discovered {
        region: String,
        kind: String,
        found: usize,
    },
    /// `plan` over several accounts: a member account that could not be entered; its `steps`, counted
    /// in the `started` event's `total`, will not run. The plan's `account_not_entered` finding says the
    /// same, with how to fix it.
    DiscoverySkipped {
        steps: usize,
        reason: String,
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
        /// Whether the cut is one of the `started` total: a resumed cut whose earlier call went through
        /// is this run's to record; a cut disabled, left out, or done by an earlier run is not. Only the
        /// progress line reads it.
        in_total: bool,
    },
    /// The last sealing cut completed this long after apply started.
    /// Every sealing cut the run took is in place. `already_in_place`: an earlier run of the plan made
    /// them all (a resumed apply), this one none.
    Sealed {
        elapsed: Duration,
        already_in_place: bool,
    },
    /// Apply or restore begins one of its phases (`evidence`, `organization`, `sealing`, `per-resource`;
    /// restore takes them in reverse), with how many of this run's cuts (or undos) it holds.
    PhaseStarted {
        phase: String,
        total: usize,
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
    /// An undo restore did not attempt: an older generation of a cut whose newer generation's undo
    /// failed, left pending in the rollback file.
    RestoreSkipped {
        id: String,
        reason: String,
    },
    /// `restore --dry-run`: one cut restore would undo, newest first, with the state the cut left and
    /// the state restore would put back (the one recorded before the cut). `note`: how sure the rollback
    /// file is that the cut happened, and whether it is a re-cut by `watch`; empty when neither.
    WouldRestore {
        id: String,
        note: String,
        as_cut: serde_json::Value,
        as_restored: serde_json::Value,
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
    /// What this run will work through, in all and per kind, before it starts, for progress: apply's and
    /// restore's cuts (or undos; a resumed run counts only what is left), `restore --dry-run`'s undos and
    /// `apply --check`'s cuts (`dry_run`: nothing will be changed), plan's discoveries (one per kind or
    /// inspection and region), verify's paths.
    Started {
        command: String,
        total: usize,
        by_kind: std::collections::BTreeMap<String, usize>,
        dry_run: bool,
    },
    /// `watch`: a cut no longer in force (reopened, changed, or unreadable), who changed it as far as
    /// CloudTrail tells, and the outcome of cutting it again (`--recut`).
    CutReopened {
        id: String,
        how: String,
        who: Vec<String>,
        recut: Option<Result<(), String>>,
    },
    /// `verify`: one path from an internet gateway to an instance, as Reachability Analyzer answered it
    /// (`outcome`: `reachable`, `sealed`, `analysis_failed`, `timed_out`, `stopped`, `gone`, `error`), or
    /// one VPC with
    /// no path to analyze (`no_internet_gateway`, `no_running_instance`, `unreadable`; `destination`, and
    /// for the first `source`, absent). `cleanup_failures`: the analyzer resources this run could not
    /// delete.
    PathVerified {
        region: String,
        vpc: String,
        source: Option<String>,
        destination: Option<String>,
        outcome: String,
        details: Vec<String>,
        cleanup_failures: Vec<String>,
    },
    /// The engine refused the command (a gate: the wrong account, drift, an edited plan): nothing was
    /// changed by it. Followed by `Finished`.
    Refused {
        message: String,
    },
    /// The command failed for another reason (a file, the network, credentials). Followed by `Finished`.
    Error {
        message: String,
    },
    /// One look of a `watch` that goes on (without `--once`): what `finished` says, for each look;
    /// `finished` itself comes once, when the watch ends.
    Looked {
        command: String,
        ok: bool,
        summary: String,
        tally: Tally,
    },
    /// A command's outcome, last: a sentence for people and the counts for scripts.
    Finished {
        command: String,
        ok: bool,
        summary: String,
        tally: Tally,
    },
}

/// Counts by outcome, in all and per kind, for the `finished` event: what a script reads instead of the
/// summary sentence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub by_outcome: std::collections::BTreeMap<String, usize>,
    pub by_kind: std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>,
}

impl Tally {
    /// Counts `ids` (cut IDs, `kind/region/target`) under `outcome`; the outcome is listed even when
    /// nothing had it, so a script finds every key it expects.
    pub fn count<'a>(mut self, outcome: &str, ids: impl IntoIterator<Item = &'a str>) -> Tally {
        let mut counted = 0;
        for id in ids {
            counted += 1;
            let (kind, _, _) = crate::plan::Cut::id_parts(id);
            *self
                .by_kind
                .entry(kind.to_string())
                .or_default()
                .entry(outcome.to_string())
                .or_default() += 1;
        }
        *self.by_outcome.entry(outcome.to_string()).or_default() += counted;
        self
    }

    /// Both tallies together (a run over several accounts).
    pub fn plus(mut self, other: &Tally) -> Tally {
        for (outcome, count) in &other.by_outcome {
            *self.by_outcome.entry(outcome.clone()).or_default() += count;
        }
        for (kind, outcomes) in &other.by_kind {
            let mine = self.by_kind.entry(kind.clone()).or_default();
            for (outcome, count) in outcomes {
                *mine.entry(outcome.clone()).or_default() += count;
            }
        }
        self
    }
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
            Event::Discovered {
                region,
                kind,
                found,
            } => json!({"event": "discovered", "region": region, "kind": kind, "found": found}),
            Event::DiscoverySkipped { steps, reason } => {
                json!({"event": "discovery-skipped", "steps": steps, "reason": reason})
            }
            Event::CutStarted { id } => json!({"event": "cut-started", "id": id}),
            Event::CutDone { id, elapsed } => {
                json!({"event": "cut-done", "id": id, "elapsed_ms": ms(elapsed)})
            }
            Event::CutFailed { id, error } => {
                json!({"event": "cut-failed", "id": id, "error": error})
            }
            Event::CutSkipped { id, reason, .. } => {
                json!({"event": "cut-skipped", "id": id, "reason": reason})
            }
            Event::Sealed {
                elapsed,
                already_in_place,
            } => json!({
                "event": "sealed",
                "elapsed_ms": ms(elapsed),
                "already_in_place": already_in_place
            }),
            Event::PhaseStarted { phase, total } => {
                json!({"event": "phase-started", "phase": phase, "total": total})
            }
            Event::RestoreStarted { id } => json!({"event": "restore-started", "id": id}),
            Event::Restored { id, notes } => json!({"event": "restored", "id": id, "notes": notes}),
            Event::RestoreFailed { id, error } => {
                json!({"event": "restore-failed", "id": id, "error": error})
            }
            Event::RestoreSkipped { id, reason } => {
                json!({"event": "restore-skipped", "id": id, "reason": reason})
            }
            Event::WouldRestore {
                id,
                note,
                as_cut,
                as_restored,
            } => json!({"event": "would-restore", "id": id, "note": note, "as_cut": as_cut,
                        "as_restored": as_restored}),
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
            Event::Started {
                command,
                total,
                by_kind,
                dry_run,
            } => json!({"event": "started", "command": command, "total": total, "by_kind": by_kind,
                        "dry_run": dry_run}),
            Event::CutReopened {
                id,
                how,
                who,
                recut,
            } => {
                let recut = match recut {
                    None => serde_json::Value::Null,
                    Some(Ok(())) => json!("done"),
                    Some(Err(error)) => json!({"failed": error}),
                };
                json!({"event": "cut-reopened", "id": id, "how": how, "who": who, "recut": recut})
            }
            Event::PathVerified {
                region,
                vpc,
                source,
                destination,
                outcome,
                details,
                cleanup_failures,
            } => json!({"event": "path-verified", "region": region, "vpc": vpc, "source": source,
                        "destination": destination, "outcome": outcome, "details": details,
                        "cleanup_failures": cleanup_failures}),
            Event::Refused { message } => json!({"event": "refused", "message": message}),
            Event::Error { message } => json!({"event": "error", "message": message}),
            Event::Looked {
                command,
                ok,
                summary,
                tally,
            } => json!({"event": "looked", "command": command, "ok": ok, "summary": summary,
                        "outcomes": tally.by_outcome, "by_kind": tally.by_kind}),
            Event::Finished {
                command,
                ok,
                summary,
                tally,
            } => json!({"event": "finished", "command": command, "ok": ok, "summary": summary,
                        "outcomes": tally.by_outcome, "by_kind": tally.by_kind}),
        }
    }

    /// The event as one line for people; `None` for events only machines need. Every field is escaped
    /// ([`escape::field`]): IDs and reasons carry names from the account and the plan, errors carry
    /// whatever AWS or an HTTP body said, and none of it may move the cursor or fake a line.
    pub fn to_line(&self) -> Option<String> {
        use escape::field as f;
        Some(match self {
            Event::DiscoveryStarted { region } => format!("discovering {}", f(region)),
            Event::DiscoveryFailed {
                region,
                kind,
                error,
            } => format!(
                "error: discovery of {} in {} failed: {}",
                f(kind),
                f(region),
                f(error)
            ),
            Event::DiscoverySkipped { steps, reason } => {
                format!("skipped   {steps} discovery step(s): {}", f(reason))
            }
            Event::CutStarted { id } => format!("cutting   {}", f(id)),
            Event::CutDone { id, elapsed } => {
                format!("cut       {} ({:.1} s)", f(id), elapsed.as_secs_f64())
            }
            Event::CutFailed { id, error } => format!("FAILED    {}: {}", f(id), f(error)),
            Event::CutSkipped { id, reason, .. } => format!("skipped   {}: {}", f(id), f(reason)),
            Event::Sealed {
                already_in_place: true,
                ..
            } => "sealed: every sealing cut was already in place".to_string(),
            Event::Sealed { elapsed, .. } => format!("sealed in {:.1} s", elapsed.as_secs_f64()),
            Event::PhaseStarted { phase, total } => format!("phase     {} ({total})", f(phase)),
            Event::RestoreStarted { id } => format!("restoring {}", f(id)),
            Event::Restored { id, notes } => {
                let mut line = format!("restored  {}", f(id));
                for note in notes {
                    line.push_str(&format!("\n            {}", f(note)));
                }
                line
            }
            Event::RestoreFailed { id, error } => {
                format!("FAILED    restore of {}: {}", f(id), f(error))
            }
            Event::RestoreSkipped { id, reason } => format!("skipped   {}: {}", f(id), f(reason)),
            Event::Warning { message } => format!("warning: {}", f(message)),
            Event::CutReopened { id, how, who, recut } => {
                let mut line = format!("REOPENED  {}: {}", f(id), f(how));
                for change in who {
                    line.push_str(&format!("\n            {}", f(change)));
                }
                match recut {
                    None => {}
                    Some(Ok(())) => line.push_str("\n            cut again (--recut)"),
                    Some(Err(error)) => {
                        line.push_str(&format!("\n            cutting it again failed: {}", f(error)))
                    }
                }
                line
            }
            Event::PathVerified {
                region,
                vpc,
                source,
                destination,
                outcome,
                details,
                cleanup_failures,
            } => {
                let label = match outcome.as_str() {
                    "reachable" => "REACHABLE",
                    "sealed" => "sealed   ",
                    "gone" | "no_internet_gateway" | "no_running_instance" => "nothing  ",
                    _ => "FAILED   ",
                };
                let path = match (source, destination) {
                    (Some(source), Some(destination)) => {
                        format!("{} -> {} in ", f(source), f(destination))
                    }
                    (Some(source), None) => format!("{} in ", f(source)),
                    _ => String::new(),
                };
                let mut line = format!("{label} {path}{} ({})", f(vpc), f(region));
                for detail in details {
                    line.push_str(&format!("\n            {}", f(detail)));
                }
                for failure in cleanup_failures {
                    line.push_str(&format!("\n            cleanup failed: {}", f(failure)));
                }
                line
            }
            // The plan's text shows these already (a discovery counts on the progress line; the dry
            // run prints each undo's change).
            Event::Discovered { .. }
            | Event::WouldRestore { .. }
            | Event::Finding { .. }
            | Event::CutProposed { .. }
            | Event::Started { .. }
            // The command's own error line says these.
            | Event::Refused { .. }
            | Event::Error { .. }
            | Event::Looked { .. }
            | Event::Finished { .. } => {
                return None;
            }
        })
    }
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);

    /// The account the run works on, once the engine has checked the credentials belong to it: JSON
    /// events carry it from then on.
    fn account(&self, _account: &str) {}

    /// Runs `ask` with any live display (a spinner) taken off the screen, so a question and what the
    /// operator types stay visible.
    fn suspend(&self, ask: &mut dyn FnMut()) {
        ask()
    }

    /// An event of one account in a run over several ([`InAccount`]): JSON events carry that account,
    /// lines name it.
    fn event_in(&self, _account: &str, event: &Event) {
        self.event(event)
    }
}

/// The reporter one account of a run over several works through: its events say which account they are
/// about, since the same cut ID can exist in two accounts.
pub struct InAccount<'a> {
    inner: &'a dyn Reporter,
    account: String,
}

impl<'a> InAccount<'a> {
    pub fn new(inner: &'a dyn Reporter, account: &str) -> InAccount<'a> {
        InAccount {
            inner,
            account: account.to_string(),
        }
    }
}

impl Reporter for InAccount<'_> {
    fn event(&self, event: &Event) {
        self.inner.event_in(&self.account, event)
    }

    /// The account is fixed: the run's own reporter keeps the account it was told.
    fn account(&self, _account: &str) {}

    fn suspend(&self, ask: &mut dyn FnMut()) {
        self.inner.suspend(ask)
    }

    fn event_in(&self, account: &str, event: &Event) {
        self.inner.event_in(account, event)
    }
}

/// The version of the JSON event shape (`--output json`): fields are added within a version, never
/// renamed or removed.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// Writes one plain line per event to standard error, so standard output stays for documents and diffs.
pub struct LineReporter {
    out: Mutex<Box<dyn Write + Send>>,
    /// Each line starts with the time (UTC): standard error off a terminal is a log, read later.
    timestamps: bool,
}

impl LineReporter {
    /// For standard error that is not a terminal (a log file, CI): every line carries its time.
    pub fn stderr() -> LineReporter {
        LineReporter {
            out: Mutex::new(Box::new(std::io::stderr())),
            timestamps: true,
        }
    }

    fn write(&self, account: Option<&str>, line: &str) {
        let mut prefix = String::new();
        if self.timestamps {
            prefix.push_str(&log_time());
            prefix.push(' ');
        }
        if let Some(account) = account {
            prefix.push_str(&format!("[{}] ", escape::field(account)));
        }
        let mut out = self.out.lock().expect("reporter lock poisoned");
        let _ = writeln!(out, "{prefix}{line}");
    }
}

/// The time of a log line: UTC, to the millisecond (`2026-11-30T12:34:56.789Z`).
fn log_time() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

impl Reporter for LineReporter {
    fn event(&self, event: &Event) {
        if let Some(line) = event.to_line() {
            self.write(None, &line);
        }
    }

    fn event_in(&self, account: &str, event: &Event) {
        if let Some(line) = event.to_line() {
            self.write(Some(account), &line);
        }
    }
}

/// `--output json`: one JSON object per event on standard output, flushed at once so a pipeline sees each
/// cut as it happens. Every event carries `schema` ([`EVENT_SCHEMA_VERSION`]), `time` (RFC 3339, UTC),
/// `run` (one ID per command run, to tell interleaved runs apart) and, once known, `account`.
pub struct JsonReporter {
    out: Mutex<Box<dyn Write + Send>>,
    run: String,
    account: Mutex<Option<String>>,
}

impl JsonReporter {
    pub fn stdout() -> JsonReporter {
        JsonReporter::to(Box::new(std::io::stdout()))
    }

    pub fn to(out: Box<dyn Write + Send>) -> JsonReporter {
        JsonReporter {
            out: Mutex::new(out),
            run: run_id(),
            account: Mutex::new(None),
        }
    }
}

/// An ID for this run: the start time in nanoseconds and the process ID, in hex. Unique enough to tell
/// runs apart in one log; not a secret.
pub fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{nanos:x}-{:x}", std::process::id())
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl JsonReporter {
    fn write(&self, event: &Event, account: Option<String>) {
        let mut json = event.to_json();
        if let Some(object) = json.as_object_mut() {
            object.insert("schema".into(), EVENT_SCHEMA_VERSION.into());
            object.insert("time".into(), now_rfc3339().into());
            object.insert("run".into(), self.run.clone().into());
            if let Some(account) = account {
                object.insert("account".into(), account.into());
            }
        }
        let json = escape::json_visible(&json.to_string()).into_owned();
        let mut out = self.out.lock().expect("reporter lock poisoned");
        let _ = writeln!(out, "{json}");
        let _ = out.flush();
    }
}

impl Reporter for JsonReporter {
    fn event(&self, event: &Event) {
        let account = self.account.lock().expect("reporter lock poisoned").clone();
        self.write(event, account);
    }

    fn event_in(&self, account: &str, event: &Event) {
        self.write(event, Some(account.to_string()));
    }

    fn account(&self, account: &str) {
        *self.account.lock().expect("reporter lock poisoned") = Some(account.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::escape::{HOSTILE, assert_nothing_hidden};
    use std::sync::Arc;

    /// A writer the test can read back after the reporter wrote to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn every_event_with(text: &str) -> Vec<Event> {
        let s = || text.to_string();
        vec![
            Event::DiscoveryStarted { region: s() },
            Event::DiscoveryFailed {
                region: s(),
                kind: s(),
                error: s(),
            },
            Event::CutStarted { id: s() },
            Event::CutDone {
                id: s(),
                elapsed: Duration::from_millis(1),
            },
            Event::CutFailed {
                id: s(),
                error: s(),
            },
            Event::CutSkipped {
                id: s(),
                reason: s(),
                in_total: false,
            },
            Event::PhaseStarted {
                phase: s(),
                total: 1,
            },
            Event::RestoreStarted { id: s() },
            Event::Restored {
                id: s(),
                notes: vec![s(), s()],
            },
            Event::RestoreFailed {
                id: s(),
                error: s(),
            },
            Event::RestoreSkipped {
                id: s(),
                reason: s(),
            },
            Event::Warning { message: s() },
            Event::Started {
                command: s(),
                total: 1,
                by_kind: [(s(), 1)].into_iter().collect(),
                dry_run: false,
            },
            Event::Discovered {
                region: s(),
                kind: s(),
                found: 1,
            },
            Event::DiscoverySkipped {
                steps: 1,
                reason: s(),
            },
            Event::WouldRestore {
                id: s(),
                note: s(),
                as_cut: serde_json::json!({ "name": s() }),
                as_restored: serde_json::json!([s()]),
            },
            Event::CutReopened {
                id: s(),
                how: s(),
                who: vec![s()],
                recut: Some(Err(s())),
            },
            Event::PathVerified {
                region: s(),
                vpc: s(),
                source: Some(s()),
                destination: Some(s()),
                outcome: s(),
                details: vec![s()],
                cleanup_failures: vec![s()],
            },
            Event::Refused { message: s() },
            Event::Error { message: s() },
            Event::Looked {
                command: s(),
                ok: true,
                summary: s(),
                tally: Tally::default().count(&s(), [text]),
            },
            Event::Finished {
                command: s(),
                ok: false,
                summary: s(),
                tally: Tally::default().count(&s(), [text]),
            },
        ]
    }

    #[test]
    fn log_lines_off_a_terminal_start_with_their_time() {
        let out = Shared::default();
        let reporter = LineReporter {
            out: Mutex::new(Box::new(out.clone())),
            timestamps: true,
        };
        reporter.event_in(
            "111122223333",
            &Event::CutStarted {
                id: "sg_revoke/us-east-1/sg-1".into(),
            },
        );
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let (time, rest) = written.split_once(' ').unwrap();
        assert!(
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{written}"
        );
        assert_eq!(rest, "[111122223333] cutting   sg_revoke/us-east-1/sg-1\n");
    }

    #[test]
    fn the_finished_event_counts_outcomes_in_all_and_per_kind() {
        let tally = Tally::default()
            .count(
                "done",
                [
                    "sg_revoke/us-east-1/sg-1",
                    "sg_revoke/eu-west-1/sg-2",
                    "nacl_deny/us-east-1/acl-1",
                ],
            )
            .count("failed", ["sg_revoke/us-east-1/sg-3"])
            .count("not_attempted", []);
        let other = Tally::default().count("done", ["nacl_deny/eu-west-1/acl-2"]);
        let json = Event::Finished {
            command: "apply".into(),
            ok: false,
            summary: "3 cut, 1 failed".into(),
            tally: tally.plus(&other),
        }
        .to_json();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "finished", "command": "apply", "ok": false, "summary": "3 cut, 1 failed",
                "outcomes": {"done": 4, "failed": 1, "not_attempted": 0},
                "by_kind": {"sg_revoke": {"done": 2, "failed": 1}, "nacl_deny": {"done": 2}},
            })
        );
        assert_eq!(
            Event::Refused {
                message: "drift".into()
            }
            .to_json(),
            serde_json::json!({"event": "refused", "message": "drift"})
        );
    }

    #[test]
    fn every_progress_line_escapes_what_it_quotes() {
        let out = Shared::default();
        let reporter = LineReporter {
            out: Mutex::new(Box::new(out.clone())),
            timestamps: false,
        };
        let hostile = format!("{HOSTILE}\nFAILED    sg_revoke/us-east-1/sg-1: fake");
        let events = every_event_with(&hostile);
        for event in &events {
            reporter.event(event);
        }
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_nothing_hidden(&written);
        // One line per event shown to people, and one more per restore note: a newline in a field adds
        // none.
        let shown = events.iter().filter(|e| e.to_line().is_some()).count();
        // Restore notes (2), the reopened cut's change and re-cut failure (2), and the verified path's
        // detail and cleanup failure (2) are indented lines.
        assert_eq!(written.lines().count(), shown + 6, "{written}");
        assert!(
            !written
                .lines()
                .any(|l| l.starts_with("FAILED    sg_revoke"))
        );
    }

    #[test]
    fn an_error_line_is_capped_with_a_marker() {
        // An HTTP body as an error message, as AWS endpoints and proxies send them.
        let body = format!(
            "{HOSTILE}<html>{}</html>",
            "<p>blocked</p>\r\n".repeat(1_200)
        );
        let line = Event::CutFailed {
            id: "sg_revoke/us-east-1/sg-1".into(),
            error: body.clone(),
        }
        .to_line()
        .unwrap();
        assert_nothing_hidden(&line);
        assert!(line.len() < 2_200, "{}", line.len());
        assert!(line.contains("more characters left out]"), "{line}");
        let json = Event::CutFailed {
            id: "x".into(),
            error: body.clone(),
        }
        .to_json();
        assert_eq!(
            json["error"], body,
            "JSON keeps the whole error: JSON escapes it"
        );
    }

    #[test]
    fn json_events_carry_the_schema_the_time_the_run_and_once_known_the_account() {
        let buffer = Shared::default();
        let reporter = JsonReporter::to(Box::new(buffer.clone()));
        reporter.event(&Event::DiscoveryStarted {
            region: "us-east-1".into(),
        });
        reporter.account("123456789012");
        reporter.event(&Event::Warning {
            message: "w".into(),
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let events: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(events.len(), 2);
        for event in &events {
            assert_eq!(event["schema"], EVENT_SCHEMA_VERSION);
            assert!(
                time::OffsetDateTime::parse(
                    event["time"].as_str().unwrap(),
                    &time::format_description::well_known::Rfc3339
                )
                .is_ok(),
                "{event}"
            );
        }
        assert_eq!(events[0]["run"], events[1]["run"], "one run, one ID");
        assert!(!events[0]["run"].as_str().unwrap().is_empty());
        assert!(events[0].get("account").is_none(), "not yet known");
        assert_eq!(events[1]["account"], "123456789012");
        assert_eq!(events[1]["event"], "warning");
    }
}
