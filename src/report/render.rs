//! Whole documents rendered for people: a plan with a diff per cut, a rollback file as a timeline.
//!
//! Every string from the plan or the rollback file is escaped ([`escape`]) as it is written into the
//! document: a reason, an ID or an error can neither move the cursor nor start a line of its own.

use std::fmt::Write;
use std::path::Path;

use super::diff;
use super::escape::{self, field as f};
use crate::journal::{Entry, JournalContents, Record};
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
        format!("~ {}", f(&cut.id))
    } else {
        format!("~ {} ({})", f(&cut.id), flags.join("; "))
    }
}

/// One cut: heading, reason and the before/after diff of its resource.
pub fn cut_text(cut: &Cut, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", cut_heading(cut));
    let _ = writeln!(out, "  {}", f(&cut.reason));
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
        f(&plan.account),
        f(&plan.caller),
        f(&plan.created),
        f(&plan.regions.join(", "))
    );
    if !plan.keep_cidrs.is_empty() {
        let _ = writeln!(
            out,
            "Kept reachable (--keep-cidr): {}",
            f(&plan.keep_cidrs.join(", "))
        );
    }
    if !plan.options.is_empty() {
        // Part of the rule apply derives each cut from, so reviewed with the plan.
        let options: Vec<String> = plan
            .options
            .iter()
            .map(|(flag, value)| format!("--{flag} {value}"))
            .collect();
        let _ = writeln!(out, "Kind options: {}", f(&options.join(", ")));
    }
    if !plan.selection.is_empty() {
        let _ = writeln!(
            out,
            "Only the cuts selected by {}: other cuts were not planned",
            f(&plan.selection.join(" "))
        );
    }
    if plan.is_multi_account() {
        let _ = writeln!(
            out,
            "Organization {}: {} account(s), entered through role {}",
            f(plan.organization.as_deref().unwrap_or("?")),
            plan.members.len() + 1,
            f(plan
                .role
                .as_deref()
                .unwrap_or(crate::plan::DEFAULT_MEMBER_ROLE))
        );
        for account in plan.per_account() {
            let _ = writeln!(
                out,
                "\n=== Account {} (as {}) ===",
                f(&account.account),
                f(&account.caller)
            );
            account_body(&account, color, &mut out);
        }
        let _ = writeln!(out, "\n{}", accounts_by_kind(plan));
    } else {
        account_body(plan, color, &mut out);
    }
    let _ = writeln!(out, "\n{}", plan.summary());
    out
}

/// One account's discovery errors, findings and cuts.
fn account_body(plan: &Plan, color: bool, out: &mut String) {
    if !plan.discovery_errors.is_empty() {
        let _ = writeln!(
            out,
            "\nINCOMPLETE: discovery failed here, so the plan cuts nothing there:"
        );
        for err in &plan.discovery_errors {
            let _ = writeln!(
                out,
                "  {} in {}: {}",
                f(&err.kind),
                f(&err.region),
                f(&err.error)
            );
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
                f(&finding.check),
                f(&finding.region),
                f(&finding.resource),
                f(&finding.message)
            );
        }
    }
    for cut in &plan.cuts {
        out.push('\n');
        out.push_str(&cut_text(cut, color));
    }
}

/// Cuts per account and kind (enabled of proposed), the review's one-screen summary of a plan over
/// several accounts.
pub fn accounts_by_kind(plan: &Plan) -> String {
    let mut counts: std::collections::BTreeMap<(&str, &str), (usize, usize)> =
        std::collections::BTreeMap::new();
    for (account, cut) in plan.all_cuts() {
        let entry = counts.entry((account, cut.kind.as_str())).or_default();
        entry.1 += 1;
        if cut.enabled {
            entry.0 += 1;
        }
    }
    let mut out = String::from("Cuts per account and kind (enabled/proposed):");
    let mut last = "";
    for ((account, kind), (enabled, proposed)) in &counts {
        if *account != last {
            let _ = write!(out, "\n  {}:", f(account));
            last = account;
        }
        let _ = write!(out, " {} {enabled}/{proposed}", f(kind));
    }
    out
}

/// The rollback file as a timeline of what apply and restore did.
pub fn journal_text(contents: &JournalContents) -> String {
    timeline(&contents.records, contents.torn_tail.as_deref())
}

fn timeline(records: &[Record], torn_tail: Option<&str>) -> String {
    let mut out = String::new();
    for record in records {
        let line = match &record.entry {
            Entry::Header {
                account,
                caller,
                plan,
                ..
            } => format!(
                "apply of {} on account {} by {}",
                f(plan),
                f(account),
                f(caller)
            ),
            Entry::Intent { cut } => format!("cutting   {}", f(&cut.id)),
            Entry::Done { id, .. } => format!("cut       {}", f(id)),
            Entry::Failed { id, error } => format!("FAILED    {}: {}", f(id), f(error)),
            Entry::Skipped { id, reason } => format!("skipped   {}: {}", f(id), f(reason)),
            Entry::RestoreIntent { id } => format!("restoring {}", f(id)),
            Entry::Restored { id, notes } => {
                let mut line = format!("restored  {}", f(id));
                for note in notes {
                    let _ = write!(line, "\n{:32}{}", "", f(note));
                }
                line
            }
            Entry::RestoreFailed { id, error } => {
                format!("FAILED    restore of {}: {}", f(id), f(error))
            }
        };
        let _ = writeln!(out, "{:<30}  {line}", f(&record.at));
    }
    if let Some(torn) = torn_tail {
        let _ = writeln!(
            out,
            "(a last entry was torn by a crash and is ignored: {} bytes)",
            torn.len()
        );
    }
    out
}

/// A rollback file as an incident report in Markdown: who cut what and when, what failed, what was
/// restored. Ready to paste into the incident ticket. Every string from the file is Markdown-escaped, so
/// it can neither format, link nor break the table.
pub fn incident_report(contents: &JournalContents, warnings: &[String]) -> String {
    report_markdown(
        &contents.records,
        &contents.path,
        contents.torn_tail.is_some(),
        warnings,
    )
}

fn report_markdown(
    records: &[Record],
    path: &Path,
    torn_tail: bool,
    warnings: &[String],
) -> String {
    let md = escape::markdown_text;
    let code = escape::markdown_code;
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
    for record in records {
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
                    "- **Account:** {}\n- **By:** {}\n- **Plan:** {} (SHA-256 {})\n- **Tool:** hikkonuki {}\n",
                    md(account),
                    md(caller),
                    code(plan),
                    code(plan_sha256),
                    md(tool_version)
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
    let mut out = String::new();
    let _ = writeln!(out, "# Containment report\n");
    out.push_str(&header);
    let _ = writeln!(
        out,
        "- **From:** {} **to:** {}",
        md(&first_at.unwrap_or_default()),
        md(&last_at.unwrap_or_default())
    );
    let _ = writeln!(
        out,
        "- **Rollback file:** {}\n",
        code(&path.display().to_string())
    );

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
            format!("skipped: {}", md(reason))
        } else if let Some(at) = &r.restored_at {
            format!("restored {}", md(at))
        } else if let Some(error) = &r.restore_failed {
            format!("**restore failed:** {}", md(error))
        } else if let Some(error) = &r.failed {
            format!("**failed:** {}", md(error))
        } else if r.cut_at.is_some() && !r.reversible {
            "cut (irreversible)".to_string()
        } else if r.cut_at.is_some() {
            "cut".to_string()
        } else {
            "started, completion not recorded (a crash): restore checks live state".to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {status} |",
            code(id),
            md(&r.kind),
            md(&r.region),
            code(&r.target),
            r.cut_at.as_deref().map(md).unwrap_or_else(|| "—".into()),
        );
    }
    let with_notes: Vec<&String> = order
        .iter()
        .filter(|id| !rows[*id].notes.is_empty())
        .collect();
    if !with_notes.is_empty() {
        let _ = writeln!(out, "\n## Restore notes\n");
        for id in with_notes {
            let _ = writeln!(out, "- {}", code(id));
            for note in &rows[id].notes {
                let _ = writeln!(out, "  - {}", md(note));
            }
        }
    }
    if !warnings.is_empty() || torn_tail {
        let _ = writeln!(out, "\n## Warnings about the rollback file\n");
        for warning in warnings {
            let _ = writeln!(out, "- {}", md(warning));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Finding, Severity};
    use crate::report::escape::{HOSTILE, assert_nothing_hidden};
    use serde_json::json;

    fn hostile_cut() -> Cut {
        Cut {
            id: format!("apigw_deny_policy/us-east-1/{HOSTILE}"),
            kind: "apigw_deny_policy".into(),
            region: "us-east-1".into(),
            target: HOSTILE.into(),
            enabled: true,
            reversible: true,
            reason: format!("API {HOSTILE} is public\n~ sg_revoke/us-east-1/sg-1 (looks harmless)"),
            before: json!({"api_id": HOSTILE, "name": "a\u{202e}b", "policy": null}),
            after: json!({"api_id": HOSTILE, "name": "a\u{202e}b", "policy": "deny"}),
        }
    }

    fn hostile_plan() -> Plan {
        Plan {
            version: 1,
            account: "123456789012".into(),
            created: HOSTILE.into(),
            tool_version: HOSTILE.into(),
            regions: vec!["us-east-1".into()],
            caller: format!("arn:aws:iam::123456789012:user/{HOSTILE}"),
            keep_cidrs: vec![HOSTILE.into()],
            options: [(HOSTILE.to_string(), HOSTILE.to_string())].into(),
            selection: vec![HOSTILE.into()],
            organization: Some(HOSTILE.into()),
            role: Some(HOSTILE.into()),
            discovery_errors: vec![crate::plan::DiscoveryError {
                region: "us-east-1".into(),
                kind: "apigw_deny_policy".into(),
                error: format!("{HOSTILE}{}", "x".repeat(18_000)),
            }],
            findings: vec![Finding {
                check: "route53_public_records".into(),
                region: "global".into(),
                resource: HOSTILE.into(),
                severity: Severity::High,
                message: format!("record {HOSTILE}\n# fake heading"),
            }],
            cuts: vec![hostile_cut()],
            members: vec![],
        }
    }

    fn record(seq: u64, entry: Entry) -> Record {
        Record {
            seq,
            prev: String::new(),
            at: format!("2026-01-01T00:00:0{seq}Z"),
            entry,
            mac: None,
        }
    }

    fn hostile_records() -> Vec<Record> {
        let cut = hostile_cut();
        vec![
            record(
                0,
                Entry::Header {
                    format: 1,
                    account: HOSTILE.into(),
                    caller: HOSTILE.into(),
                    plan: format!("plans/{HOSTILE}.yaml"),
                    plan_sha256: HOSTILE.into(),
                    tool_version: HOSTILE.into(),
                    key: Some(HOSTILE.into()),
                },
            ),
            record(1, Entry::Intent { cut: cut.clone() }),
            record(
                2,
                Entry::Failed {
                    id: cut.id.clone(),
                    error: format!("{HOSTILE}\n| fake | row |{}", "<p>".repeat(6_000)),
                },
            ),
            record(
                3,
                Entry::Skipped {
                    id: HOSTILE.into(),
                    reason: HOSTILE.into(),
                },
            ),
            record(4, Entry::RestoreIntent { id: HOSTILE.into() }),
            record(
                5,
                Entry::Restored {
                    id: HOSTILE.into(),
                    notes: vec![format!("note {HOSTILE}\n## heading")],
                },
            ),
            record(
                6,
                Entry::RestoreFailed {
                    id: HOSTILE.into(),
                    error: HOSTILE.into(),
                },
            ),
        ]
    }

    #[test]
    fn plan_text_shows_every_hostile_field_escaped() {
        let text = plan_text(&hostile_plan(), false);
        assert_nothing_hidden(&text);
        assert!(text.contains("\\u{1b}]0;owned\\u{7}"), "{text}");
        assert!(
            text.contains("more characters left out"),
            "the error is capped"
        );
        // The reason's newline is shown, not obeyed: the fake heading stays on the reason's line.
        assert!(
            !text
                .lines()
                .any(|line| line.starts_with("~ sg_revoke/us-east-1/sg-1")),
            "{text}"
        );
        assert!(!text.lines().any(|line| line.starts_with("# fake heading")));
    }

    #[test]
    fn cut_text_shows_the_heading_reason_and_diff_escaped_with_or_without_colour() {
        for color in [false, true] {
            let text = cut_text(&hostile_cut(), color);
            let own_colours_removed = ["\x1b[31m", "\x1b[32m", "\x1b[36m", "\x1b[0m"]
                .iter()
                .fold(text.clone(), |text, colour| text.replace(colour, ""));
            assert_nothing_hidden(&own_colours_removed);
            assert!(text.starts_with("~ apigw_deny_policy/us-east-1/api\\u{1b}[1A"));
        }
    }

    #[test]
    fn journal_text_shows_every_entry_escaped() {
        let text = timeline(&hostile_records(), Some("torn"));
        assert_nothing_hidden(&text);
        // One line per entry, and one more for the restore note, which is indented under its entry.
        assert_eq!(text.lines().count(), hostile_records().len() + 2, "{text}");
        assert!(
            text.contains("more characters left out"),
            "the error is capped"
        );
    }

    #[test]
    fn the_incident_report_cannot_be_reformatted_by_what_it_quotes() {
        let warnings = vec![format!("warning {HOSTILE}\n# not a heading")];
        let text = report_markdown(
            &hostile_records(),
            Path::new("plans/p.rollback.yaml"),
            false,
            &warnings,
        );
        assert_nothing_hidden(&text);
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            headings,
            [
                "# Containment report",
                "## Restore notes",
                "## Warnings about the rollback file"
            ]
        );
        let table_rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        // Heading, rule and two cuts (the failed one, and the skipped/restore-failed hostile id).
        assert_eq!(table_rows.len(), 4, "{text}");
        for row in &table_rows {
            let borders = row.replace("\\|", "").matches('|').count();
            assert_eq!(borders, 7, "a quoted `|` must not add a cell: {row}");
        }
        assert!(
            text.contains("more characters left out"),
            "the error is capped"
        );
    }
}
