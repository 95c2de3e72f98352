//! Whole documents rendered for people: a plan with a diff per cut, a rollback file as a timeline.

use std::fmt::Write;

use super::diff;
use crate::journal::{Entry, JournalContents};
use crate::plan::{Cut, Plan, Severity};

fn cut_heading(cut: &Cut) -> String {
    let mut flags = Vec::new();
    if !cut.enabled {
        flags.push("DISABLED: apply skips it");
    }
    if !cut.reversible {
        flags.push("IRREVERSIBLE: restore cannot undo it");
    }
    if flags.is_empty() {
        format!("~ {}", cut.id)
    } else {
        format!("~ {} ({})", cut.id, flags.join("; "))
    }
}

/// One cut: heading, reason and the before/after diff of its resource.
pub fn cut_text(cut: &Cut, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", cut_heading(cut));
    let _ = writeln!(out, "  {}", cut.reason);
    out.push_str(&diff::unified(
        &cut.before,
        &cut.after,
        "before",
        "after",
        color,
    ));
    out
}

/// The plan as `plan` and `show` print it: incomplete discovery first, then every cut, then the summary.
pub fn plan_text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for account {} by {}, made {} (regions: {})",
        plan.account,
        plan.caller,
        plan.created,
        plan.regions.join(", ")
    );
    if !plan.keep_cidrs.is_empty() {
        let _ = writeln!(
            out,
            "Kept reachable (--keep-cidr): {}",
            plan.keep_cidrs.join(", ")
        );
    }
    if !plan.discovery_errors.is_empty() {
        let _ = writeln!(
            out,
            "\nINCOMPLETE: discovery failed here, so the plan cuts nothing there:"
        );
        for err in &plan.discovery_errors {
            let _ = writeln!(out, "  {} in {}: {}", err.kind, err.region, err.error);
        }
    }
    if !plan.findings.is_empty() {
        let _ = writeln!(out, "\nFindings (nothing here is changed by apply):");
        for finding in &plan.findings {
            let severity = match finding.severity {
                Severity::High => "HIGH  ",
                Severity::Medium => "MEDIUM",
                Severity::Info => "INFO  ",
            };
            let _ = writeln!(
                out,
                "  {severity} {} [{} {}]: {}",
                finding.check, finding.region, finding.resource, finding.message
            );
        }
    }
    for cut in &plan.cuts {
        out.push('\n');
        out.push_str(&cut_text(cut, color));
    }
    let _ = writeln!(out, "\n{}", plan.summary());
    out
}

/// The rollback file as a timeline of what apply and restore did.
pub fn journal_text(contents: &JournalContents) -> String {
    let mut out = String::new();
    for record in &contents.records {
        let line = match &record.entry {
            Entry::Header {
                account,
                caller,
                plan,
                ..
            } => format!("apply of {plan} on account {account} by {caller}"),
            Entry::Intent { cut } => format!("cutting   {}", cut.id),
            Entry::Done { id, .. } => format!("cut       {id}"),
            Entry::Failed { id, error } => format!("FAILED    {id}: {error}"),
            Entry::Skipped { id, reason } => format!("skipped   {id}: {reason}"),
            Entry::RestoreIntent { id } => format!("restoring {id}"),
            Entry::Restored { id, notes } => {
                let mut line = format!("restored  {id}");
                for note in notes {
                    let _ = write!(line, "\n{:32}{note}", "");
                }
                line
            }
            Entry::RestoreFailed { id, error } => format!("FAILED    restore of {id}: {error}"),
        };
        let _ = writeln!(out, "{:<30}  {line}", record.at);
    }
    if let Some(torn) = &contents.torn_tail {
        let _ = writeln!(
            out,
            "(a last entry was torn by a crash and is ignored: {} bytes)",
            torn.len()
        );
    }
    out
}
