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

/// A rollback file as an incident report in Markdown: who cut what and when, what failed, what was
/// restored. Ready to paste into the incident ticket.
pub fn incident_report(contents: &JournalContents, warnings: &[String]) -> String {
    #[derive(Default)]
    struct CutRow {
        kind: String,
        region: String,
        target: String,
        reversible: bool,
        started: Option<String>,
        cut_at: Option<String>,
        failed: Option<String>,
        skipped: Option<String>,
        restored_at: Option<String>,
        restore_failed: Option<String>,
        notes: Vec<String>,
    }
    let mut order: Vec<String> = Vec::new();
    let mut rows: std::collections::HashMap<String, CutRow> = std::collections::HashMap::new();
    let mut header = String::new();
    let mut first_at = None;
    let mut last_at = None;
    for record in &contents.records {
        first_at.get_or_insert_with(|| record.at.clone());
        last_at = Some(record.at.clone());
        fn row<'a>(
            rows: &'a mut std::collections::HashMap<String, CutRow>,
            order: &mut Vec<String>,
            id: &str,
        ) -> &'a mut CutRow {
            if !rows.contains_key(id) {
                order.push(id.to_string());
            }
            rows.entry(id.to_string()).or_default()
        }
        match &record.entry {
            Entry::Header {
                account,
                caller,
                plan,
                plan_sha256,
                tool_version,
                ..
            } => {
                header = format!(
                    "- **Account:** {account}\n- **By:** {caller}\n- **Plan:** `{plan}` (SHA-256 `{plan_sha256}`)\n- **Tool:** hikkonuki {tool_version}\n"
                );
            }
            Entry::Intent { cut } => {
                let r = row(&mut rows, &mut order, &cut.id);
                r.kind = cut.kind.clone();
                r.region = cut.region.clone();
                r.target = cut.target.clone();
                r.reversible = cut.reversible;
                r.started.get_or_insert_with(|| record.at.clone());
            }
            Entry::Done { id, .. } => {
                row(&mut rows, &mut order, id).cut_at = Some(record.at.clone())
            }
            Entry::Failed { id, error } => {
                row(&mut rows, &mut order, id).failed = Some(error.clone())
            }
            Entry::Skipped { id, reason } => {
                row(&mut rows, &mut order, id).skipped = Some(reason.clone())
            }
            Entry::RestoreIntent { .. } => {}
            Entry::Restored { id, notes } => {
                let r = row(&mut rows, &mut order, id);
                r.restored_at = Some(record.at.clone());
                r.restore_failed = None;
                r.notes.extend(notes.iter().cloned());
            }
            Entry::RestoreFailed { id, error } => {
                row(&mut rows, &mut order, id).restore_failed = Some(error.clone())
            }
        }
    }
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    let _ = writeln!(out, "# Containment report\n");
    out.push_str(&header);
    let _ = writeln!(
        out,
        "- **From:** {} **to:** {}",
        first_at.unwrap_or_default(),
        last_at.unwrap_or_default()
    );
    let _ = writeln!(out, "- **Rollback file:** `{}`\n", contents.path.display());

    let count = |pred: &dyn Fn(&CutRow) -> bool| rows.values().filter(|r| pred(r)).count();
    let _ = writeln!(
        out,
        "**{} cut, {} failed, {} skipped, {} restored, {} still cut.**\n",
        count(&|r| r.cut_at.is_some()),
        count(&|r| r.failed.is_some() && r.cut_at.is_none()),
        count(&|r| r.skipped.is_some()),
        count(&|r| r.restored_at.is_some()),
        count(&|r| r.cut_at.is_some() && r.restored_at.is_none()),
    );
    let _ = writeln!(out, "| cut | kind | region | target | cut at | status |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for id in &order {
        let r = &rows[id];
        let status = if let Some(reason) = &r.skipped {
            format!("skipped: {reason}")
        } else if let Some(at) = &r.restored_at {
            format!("restored {at}")
        } else if let Some(error) = &r.restore_failed {
            format!("**restore failed:** {error}")
        } else if let Some(error) = &r.failed {
            format!("**failed:** {error}")
        } else if r.cut_at.is_some() && !r.reversible {
            "cut (irreversible)".to_string()
        } else if r.cut_at.is_some() {
            "cut".to_string()
        } else {
            "started, completion not recorded (a crash): restore checks live state".to_string()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | `{}` | {} | {} |",
            cell(id),
            cell(&r.kind),
            cell(&r.region),
            cell(&r.target),
            r.cut_at.as_deref().unwrap_or("—"),
            cell(&status)
        );
    }
    let with_notes: Vec<&String> = order
        .iter()
        .filter(|id| !rows[*id].notes.is_empty())
        .collect();
    if !with_notes.is_empty() {
        let _ = writeln!(out, "\n## Restore notes\n");
        for id in with_notes {
            let _ = writeln!(out, "- `{id}`");
            for note in &rows[id].notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
    }
    if !warnings.is_empty() || contents.torn_tail.is_some() {
        let _ = writeln!(out, "\n## Warnings about the rollback file\n");
        for warning in warnings {
            let _ = writeln!(out, "- {warning}");
        }
    }
    out
}
