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
        &cut.before.value(),
        &cut.after.value(),
        "before",
        "after",
        color,
    ));
    out
}

/// How much of a plan `plan` and `show` print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanView {
    pub color: bool,
    /// Every cut's reason and whole before/after diff (`--diff`), instead of one line per cut.
    pub diffs: bool,
}

/// The plan as `plan` and `show` print it: what it covers, discovery that failed, then the review at a
/// glance ([`review_summary`], the findings, one line per cut) or, with [`PlanView::diffs`], every cut in
/// full; last the totals.
pub fn plan_text(plan: &Plan, view: PlanView) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan for account {} by {}, made {} (regions: {})",
        f(&plan.account),
        f(&plan.caller),
        f(&plan.created),
        f(&plan.regions.join(", "))
    );
    out.push_str(&settings_lines(plan, false));
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
            account_body(&account, view, &mut out);
        }
        let _ = writeln!(out, "\n{}", accounts_by_kind(plan));
    } else {
        account_body(plan, view, &mut out);
    }
    let _ = writeln!(out, "\n{}", plan.summary());
    out
}

/// The plan's settings each cut's effect is derived from (apply derives `after` from them): the ranges
/// kept reachable, the kinds' options and, for a plan over one account, a member role it names. `plan`
/// and `show` print them in the header; apply prints them again before asking, with `none` for an empty
/// list (`always`), so a plan edited to drop the responder's range does not pass unseen.
pub fn settings_lines(plan: &Plan, always: bool) -> String {
    let mut out = String::new();
    if !plan.keep_cidrs.is_empty() || always {
        let kept = if plan.keep_cidrs.is_empty() {
            "none".to_string()
        } else {
            f(&plan.keep_cidrs.join(", ")).into_owned()
        };
        let _ = writeln!(out, "Kept reachable (--keep-cidr): {kept}");
    }
    if !plan.options.is_empty() {
        // Part of the rule apply derives each cut from, so reviewed with the plan.
        let options: Vec<String> = plan
            .options
            .iter()
            .map(|(flag, value)| {
                if value == crate::plan::OPTION_SWITCHED_ON {
                    format!("--{flag}")
                } else {
                    format!("--{flag} {value}")
                }
            })
            .collect();
        let _ = writeln!(out, "Kind options: {}", f(&options.join(", ")));
    } else if always {
        let _ = writeln!(out, "Kind options: none");
    }
    if !plan.is_multi_account()
        && let Some(role) = &plan.role
    {
        let _ = writeln!(out, "Member role (--role): {}", f(role));
    }
    out
}

/// One account's discovery errors, review summary, findings and cuts.
fn account_body(plan: &Plan, view: PlanView, out: &mut String) {
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
    out.push_str(&review_summary(plan));
    findings_by_severity(plan, out);
    if view.diffs {
        for cut in &plan.cuts {
            out.push('\n');
            out.push_str(&cut_text(cut, view.color));
        }
    } else if !plan.cuts.is_empty() {
        cut_lines(plan, out);
    }
}

/// The review at a glance, in one screen whatever the account's size: cuts per kind and region, the
/// cuts apply will skip grouped by why, and the irreversible ones. `apply` prints it (for what it is
/// about to carry out) instead of the whole plan.
pub fn review_summary(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.cuts.is_empty() {
        let _ = writeln!(out, "\nNo cuts proposed.");
        return out;
    }
    counts_by_kind_and_region(plan, &mut out);
    kept_by_keep_cidr(plan, &mut out);
    disabled_by_why(plan, &mut out);
    let irreversible: Vec<&Cut> = plan.cuts.iter().filter(|cut| !cut.reversible).collect();
    if !irreversible.is_empty() {
        let _ = writeln!(
            out,
            "\nIrreversible, restore cannot undo them; apply performs them only with --allow-irreversible ({}):",
            irreversible.len()
        );
        for cut in irreversible {
            let _ = writeln!(
                out,
                "  {}{}",
                f(&cut.id),
                if cut.enabled { "" } else { " (disabled)" }
            );
        }
    }
    out
}

/// A table of enabled cuts per kind (rows) and region (columns): `n` where all are enabled, `n/m` where
/// only n of m are.
fn counts_by_kind_and_region(plan: &Plan, out: &mut String) {
    counts_table(
        &plan.cuts,
        "Cuts per kind and region (enabled; n/m where only n of m are enabled):",
        out,
    );
}

/// `restore --dry-run`'s glance before its cut-by-cut diffs: how many cuts restore would undo, per kind
/// and region, in the plan summary's table.
pub fn restore_counts<'c>(cuts: impl IntoIterator<Item = &'c Cut>) -> String {
    let mut out = String::new();
    counts_table(
        cuts,
        "Cuts restore would undo, per kind and region:",
        &mut out,
    );
    out
}

fn counts_table<'c>(cuts: impl IntoIterator<Item = &'c Cut>, heading: &str, out: &mut String) {
    use std::collections::BTreeMap;
    let mut regions: Vec<&str> = Vec::new();
    let mut counts: BTreeMap<&str, BTreeMap<&str, (usize, usize)>> = BTreeMap::new();
    for cut in cuts {
        if !regions.contains(&cut.region.as_str()) {
            regions.push(&cut.region);
        }
        let cell = counts
            .entry(&cut.kind)
            .or_default()
            .entry(&cut.region)
            .or_default();
        cell.1 += 1;
        cell.0 += usize::from(cut.enabled);
    }
    // `global` first, then the regions in name order.
    regions.sort_by_key(|region| (*region != "global", *region));
    let cell = |(enabled, proposed): (usize, usize)| {
        if proposed == 0 {
            "-".to_string()
        } else if enabled == proposed {
            proposed.to_string()
        } else {
            format!("{enabled}/{proposed}")
        }
    };
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("kind".to_string())
            .chain(regions.iter().map(|r| f(r).into_owned()))
            .chain(std::iter::once("total".to_string()))
            .collect(),
    ];
    for (kind, by_region) in &counts {
        let mut row = vec![f(kind).into_owned()];
        let mut total = (0, 0);
        for region in &regions {
            let counted = by_region.get(region).copied().unwrap_or_default();
            total = (total.0 + counted.0, total.1 + counted.1);
            row.push(cell(counted));
        }
        row.push(cell(total));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let _ = writeln!(out, "\n{heading}");
    for row in rows {
        let mut line = String::from(" ");
        for (column, text) in row.iter().enumerate() {
            let pad = widths[column] - text.chars().count();
            if column == 0 {
                let _ = write!(line, " {text}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, "  {}{text}", " ".repeat(pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// Why a disabled cut is off: what discovery said blocks it, the kind's being irreversible, or the
/// operator's switch.
fn why_disabled(cut: &Cut) -> String {
    match cut.reason.split_once(" Disabled: ") {
        Some((_, because)) => because.to_string(),
        None if !cut.reversible => {
            "irreversible, so off unless enabled in the plan and applied with --allow-irreversible"
                .into()
        }
        None => "switched off in the plan (enabled: false)".into(),
    }
}

/// The most targets named on one line of a group; the rest are counted.
const NAMED_PER_GROUP: usize = 5;

/// The longest a clause of a reason is quoted in the review.
const QUOTED_CLAUSE: usize = 160;

/// What `--keep-cidr` keeps, as the enabled cuts' reasons say it: each kind's sentences that name the
/// flag (the rules a security group keeps, the allow entries a network ACL gets, the paths a switch
/// cannot keep), grouped by cause and counted, the first quoted. The kinds write those clauses; this
/// only finds them, knowing nothing of any service.
fn kept_by_keep_cidr(plan: &Plan, out: &mut String) {
    if plan.keep_cidrs.is_empty() {
        return;
    }
    let mut groups: Vec<((&str, String), usize, String)> = Vec::new();
    for cut in plan.cuts.iter().filter(|cut| cut.enabled) {
        let clauses = cut
            .reason
            .split(". ")
            .filter(|sentence| sentence.contains("--keep-cidr"))
            .map(|sentence| sentence.trim().trim_end_matches('.'));
        for clause in clauses {
            // What is kept differs from cut to cut (each group's rules, ports and addresses): counted
            // together, the first quoted, so a large account's review stays a screen.
            let loose: Vec<&str> = clause
                .split(' ')
                .map(|word| {
                    if word.bytes().any(|b| b.is_ascii_digit()) {
                        "…"
                    } else {
                        word
                    }
                })
                .collect();
            let key = (cut.kind.as_str(), cause_of(&loose.join(" ")));
            match groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, count, _)) => *count += 1,
                None => groups.push((key, 1, clause.to_string())),
            }
        }
    }
    // What a cut keeps for the responder, and what the kinds say --keep-cidr cannot keep (a route or
    // Block Public Access cuts the path whatever the rules allow): apart, so the ranges listed in the
    // header are not read as reachable whatever else the plan cuts.
    let (keeps, does_not): (Vec<_>, Vec<_>) = groups
        .iter()
        .partition(|(_, _, first)| first.starts_with(KEPT_FOR_THE_RESPONDER));
    let _ = writeln!(
        out,
        "\nWhat --keep-cidr keeps, as the cuts say it (--diff prints each whole):"
    );
    if keeps.is_empty() {
        let _ = writeln!(out, "  no enabled cut keeps anything for it here");
    }
    let quote = |out: &mut String, ((kind, _), count, first): &&((&str, String), usize, String)| {
        let quoted: String = first.chars().take(QUOTED_CLAUSE).collect();
        let cut_short = if quoted.len() < first.len() {
            " …"
        } else {
            ""
        };
        let _ = writeln!(out, "  {} ({count}): {}{cut_short}", f(kind), f(&quoted));
    };
    for group in &keeps {
        quote(out, group);
    }
    if !does_not.is_empty() {
        let _ = writeln!(
            out,
            "\nWhat --keep-cidr does not keep: these enabled cuts can still cut the responder's path (to keep it, plan again with --keep-subnet or --keep-vpc for where the responder comes in, or switch them off):"
        );
        for group in &does_not {
            quote(out, group);
        }
    }
}

/// How the kinds begin what a cut keeps for the responder's `--keep-cidr` ranges; any other sentence
/// naming the flag says what it cannot keep.
const KEPT_FOR_THE_RESPONDER: &str = "Kept for the responder (--keep-cidr)";

/// `why` with what names one resource (AWS IDs such as `igw-0ab12cd34`, addresses, counts) said as `…`:
/// the cause shared by the cuts of a kind disabled for the same reason, each naming its own resources.
fn cause_of(why: &str) -> String {
    fn names_one_resource(word: &str) -> bool {
        let is_id = word.split_once('-').is_some_and(|(prefix, rest)| {
            !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_lowercase())
                && rest.len() >= 8
                && rest.bytes().all(|b| b.is_ascii_hexdigit())
        });
        let is_number_or_address = !word.is_empty()
            && word
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/');
        is_id || is_number_or_address
    }
    let mut cause = String::with_capacity(why.len());
    for (index, word) in why.split(' ').enumerate() {
        if index > 0 {
            cause.push(' ');
        }
        let start = word.len() - word.trim_start_matches(['(', '[']).len();
        let core = word[start..].trim_end_matches(['.', ',', ':', ';', ')', ']']);
        if names_one_resource(core) {
            cause.push_str(&word[..start]);
            cause.push('…');
            cause.push_str(&word[start + core.len()..]);
        } else {
            cause.push_str(word);
        }
    }
    cause
}

fn disabled_by_why(plan: &Plan, out: &mut String) {
    let mut groups: Vec<((&str, String), Vec<&str>)> = Vec::new();
    for cut in plan.cuts.iter().filter(|cut| !cut.enabled) {
        let key = (cut.kind.as_str(), cause_of(&why_disabled(cut)));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, targets)) => targets.push(&cut.target),
            None => groups.push((key, vec![&cut.target])),
        }
    }
    if groups.is_empty() {
        return;
    }
    let disabled: usize = groups.iter().map(|(_, targets)| targets.len()).sum();
    let _ = writeln!(out, "\nDisabled, apply skips them ({disabled}):");
    for ((kind, why), targets) in &groups {
        let named: Vec<String> = targets
            .iter()
            .take(NAMED_PER_GROUP)
            .map(|t| f(t).into_owned())
            .collect();
        let more = targets.len().saturating_sub(NAMED_PER_GROUP);
        let _ = writeln!(
            out,
            "  {} × {}: {}\n      {}{}",
            targets.len(),
            f(kind),
            f(why),
            named.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
}

fn findings_by_severity(plan: &Plan, out: &mut String) {
    if plan.findings.is_empty() {
        return;
    }
    let count = |severity: Severity| {
        plan.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    };
    let _ = writeln!(
        out,
        "\nFindings, which apply changes nothing of: {} high, {} medium, {} info",
        count(Severity::High),
        count(Severity::Medium),
        count(Severity::Info)
    );
    for severity in [Severity::High, Severity::Medium, Severity::Info] {
        let label = match severity {
            Severity::High => "HIGH  ",
            Severity::Medium => "MEDIUM",
            Severity::Info => "INFO  ",
        };
        for finding in plan.findings.iter().filter(|f| f.severity == severity) {
            let _ = writeln!(
                out,
                "  {label} {} [{} {}]: {}",
                f(&finding.check),
                f(&finding.region),
                f(&finding.resource),
                f(&finding.message)
            );
        }
    }
}

/// One line per cut, grouped by region and kind: its ID (what `--target` takes) and what it changes.
fn cut_lines(plan: &Plan, out: &mut String) {
    let mut cuts: Vec<&Cut> = plan.cuts.iter().collect();
    cuts.sort_by_key(|cut| {
        (
            cut.region != "global",
            cut.region.as_str(),
            cut.kind.as_str(),
        )
    });
    let _ = writeln!(
        out,
        "\nCuts by region and kind (plan --diff, or show --diff, prints each one's reason and whole diff):"
    );
    let mut region: Option<&str> = None;
    // Sorted by region and kind, so each group is one run: its length is its count.
    for group in cuts.chunk_by(|a, b| a.region == b.region && a.kind == b.kind) {
        let first = group[0];
        if region != Some(first.region.as_str()) {
            let _ = writeln!(out, "  {}", f(&first.region));
            region = Some(&first.region);
        }
        let _ = writeln!(out, "    {} ({})", f(&first.kind), group.len());
        for cut in group {
            let mut flags = String::new();
            if !cut.enabled {
                flags.push_str(" [disabled]");
            }
            if !cut.reversible {
                flags.push_str(" [irreversible]");
            }
            let _ = writeln!(
                out,
                "      ~ {}{flags}  {}",
                f(&cut.id),
                what_changes(&cut.before.value(), &cut.after.value())
            );
        }
    }
}

/// The most changed fields named in a cut's line; the rest are counted.
const CHANGES_NAMED: usize = 3;

/// What a cut changes, in a few words read off its before and after states (whatever their kind):
/// the top-level fields that differ, a list by its length, a value by its old and new value.
pub fn what_changes(before: &serde_json::Value, after: &serde_json::Value) -> String {
    use serde_json::Value;
    match (before, after) {
        _ if before == after => "no change to its state".into(),
        (Value::Null, _) => "created".into(),
        (_, Value::Null) => "removed".into(),
        (Value::Object(old), Value::Object(new)) => named_and_counted(
            changed_keys(old, new)
                .into_iter()
                .map(|(key, was, now)| field_change_at(cut_short(key), was, now, 0)),
        ),
        _ => format!("{} → {}", brief(before), brief(after)),
    }
}

/// The fields that differ between two objects, each with its old and new value (`null` where absent),
/// in the old object's order, then the new fields.
fn changed_keys<'v>(
    old: &'v serde_json::Map<String, serde_json::Value>,
    new: &'v serde_json::Map<String, serde_json::Value>,
) -> Vec<(&'v str, &'v serde_json::Value, &'v serde_json::Value)> {
    let absent = &serde_json::Value::Null;
    let mut keys: Vec<&String> = old.keys().collect();
    keys.extend(new.keys().filter(|key| !old.contains_key(*key)));
    keys.into_iter()
        .map(|key| {
            let (was, now) = (
                old.get(key).unwrap_or(absent),
                new.get(key).unwrap_or(absent),
            );
            (key.as_str(), was, now)
        })
        .filter(|(_, was, now)| was != now)
        .collect()
}

/// The first [`CHANGES_NAMED`] of `items`, joined, and how many more there are.
fn named_and_counted(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let more = items.len().saturating_sub(CHANGES_NAMED);
    let mut text = items
        .into_iter()
        .take(CHANGES_NAMED)
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        let _ = write!(text, " and {more} more");
    }
    text
}

/// How deep a cut's line follows a change into nested documents (a policy's statements, one
/// statement's fields) before it says only that the field changed.
const NESTING_FOLLOWED: usize = 4;

/// One field's change, read into the document it holds: a policy kept as JSON text is read as the
/// document, and where exactly one field or item of a document changed, the line names it by its path
/// (`policy.Statement: 1 → 2 item(s)`), so a policy cut says more than "policy changed". `path` is
/// not yet escaped; every key in it comes from the account.
fn field_change_at(
    path: String,
    was: &serde_json::Value,
    now: &serde_json::Value,
    depth: usize,
) -> String {
    use serde_json::Value;
    let (was, now) = (as_document(was), as_document(now));
    let (was, now) = (was.as_ref(), now.as_ref());
    let nested = |value: &Value| matches!(value, Value::Object(_) | Value::Array(_));
    let key = f(&path);
    match (was, now) {
        (Value::Null, now) if nested(now) => format!("{key} added"),
        (was, Value::Null) if nested(was) => format!("{key} removed"),
        (Value::Object(old), Value::Object(new)) if depth < NESTING_FOLLOWED => {
            match changed_keys(old, new).as_slice() {
                [(only, was, now)] => {
                    field_change_at(format!("{path}.{}", cut_short(only)), was, now, depth + 1)
                }
                changed => {
                    let named = named_and_counted(
                        changed
                            .iter()
                            .map(|(key, _, _)| f(&cut_short(key)).into_owned()),
                    );
                    format!("{key}: {named} changed")
                }
            }
        }
        (Value::Array(was), Value::Array(now)) if was.len() != now.len() => {
            format!("{key}: {} → {} item(s)", was.len(), now.len())
        }
        (Value::Array(old), Value::Array(new)) if depth < NESTING_FOLLOWED => {
            let changed: Vec<usize> = (0..old.len()).filter(|i| old[*i] != new[*i]).collect();
            match changed.as_slice() {
                [only] => field_change_at(
                    format!("{path}[{only}]"),
                    &old[*only],
                    &new[*only],
                    depth + 1,
                ),
                _ => format!("{key}: item(s) changed"),
            }
        }
        // A long text reads as noise cut short: the diff shows it whole.
        (Value::String(text), _) | (_, Value::String(text))
            if text.contains('\n') || text.chars().count() > BRIEF_CHARS =>
        {
            format!("{key} changed")
        }
        (was, now) if nested(was) || nested(now) => format!("{key} changed"),
        _ => format!("{key}: {} → {}", brief(was), brief(now)),
    }
}

/// A value holding a JSON document as text (a policy as AWS returns it) as that document; any other
/// value as it is.
fn as_document(value: &serde_json::Value) -> std::borrow::Cow<'_, serde_json::Value> {
    if let serde_json::Value::String(text) = value {
        let text = text.trim_start();
        if (text.starts_with('{') || text.starts_with('['))
            && let Ok(document) = serde_json::from_str::<serde_json::Value>(text)
        {
            return std::borrow::Cow::Owned(document);
        }
    }
    std::borrow::Cow::Borrowed(value)
}

/// At most [`BRIEF_CHARS`] of `text`, `…` marking what is left out: a value, or a key of a path (keys
/// come from the account, a policy's name). Not escaped.
fn cut_short(text: &str) -> String {
    let mut shown: String = text.chars().take(BRIEF_CHARS).collect();
    if text.chars().count() > BRIEF_CHARS {
        shown.push('…');
    }
    shown
}

/// The most characters of one value shown in a cut's line.
const BRIEF_CHARS: usize = 40;

fn brief(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::Null => "none".to_string(),
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    f(&cut_short(&text)).into_owned()
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
                member_role,
                ..
            } => {
                let mut line = format!(
                    "apply of {} on account {} by {}",
                    f(plan),
                    f(account),
                    f(caller)
                );
                if let Some(role) = member_role {
                    let _ = write!(line, " (accounts entered through role {})", f(role));
                }
                line
            }
            Entry::Intent { cut } => format!("cutting   {}", f(&cut.id)),
            Entry::Done { id, .. } => format!("cut       {}", f(id)),
            Entry::Failed {
                id,
                error,
                changed_nothing,
            } => format!(
                "FAILED    {}: {}{}",
                f(id),
                f(error),
                crate::call_outcomes::refused_suffix(*changed_nothing)
            ),
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
            // A cut with no intent (skipped: disabled or left out) is named by its ID alone,
            // `kind/region/target` (the target may hold slashes, an ARN's).
            rows.entry(id.to_string()).or_insert_with(|| {
                let (kind, region, target) = Cut::id_parts(id);
                CutRow {
                    kind: kind.to_string(),
                    region: region.to_string(),
                    target: target.to_string(),
                    ..CutRow::default()
                }
            })
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
            Entry::Failed {
                id,
                error,
                changed_nothing,
            } => {
                row(&mut rows, &mut order, id).failed =
                    Some(crate::call_outcomes::shown_error(error, *changed_nothing))
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
            before: json!({"api_id": HOSTILE, "name": "a\u{202e}b", "policy": null}).into(),
            after: json!({"api_id": HOSTILE, "name": "a\u{202e}b", "policy": "deny"}).into(),
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
                    member_role: Some(HOSTILE.into()),
                },
            ),
            record(1, Entry::Intent { cut: cut.clone() }),
            record(
                2,
                Entry::Failed {
                    id: cut.id.clone(),
                    error: format!("{HOSTILE}\n| fake | row |{}", "<p>".repeat(6_000)),
                    changed_nothing: false,
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
        for diffs in [false, true] {
            let text = plan_text(
                &hostile_plan(),
                PlanView {
                    color: false,
                    diffs,
                },
            );
            hostile_plan_text_is_escaped(&text);
        }
    }

    fn hostile_plan_text_is_escaped(text: &str) {
        assert_nothing_hidden(text);
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
    fn apply_shows_the_settings_each_cut_is_derived_from_even_when_there_are_none() {
        let mut plan = scaled_plan();
        plan.keep_cidrs.clear();
        plan.options.clear();
        plan.role = None;
        assert_eq!(
            settings_lines(&plan, false),
            "",
            "plan's header leaves them out"
        );
        assert_eq!(
            settings_lines(&plan, true),
            "Kept reachable (--keep-cidr): none\nKind options: none\n"
        );
        plan.keep_cidrs = vec!["203.0.113.7/32".into()];
        plan.role = Some("BreakGlass".into());
        assert_eq!(
            settings_lines(&plan, true),
            "Kept reachable (--keep-cidr): 203.0.113.7/32\nKind options: none\nMember role (--role): BreakGlass\n"
        );
    }

    #[test]
    fn restores_glance_counts_the_cuts_it_would_undo_per_kind_and_region() {
        let pending = [
            cut("sg_revoke", "us-east-1", "sg-1", true, "open"),
            cut("sg_revoke", "eu-west-1", "sg-2", true, "open"),
            cut("sg_revoke", "us-east-1", "sg-3", true, "open"),
            cut("iam_key_deactivate", "global", "AKIA1", true, "stolen"),
        ];
        let table = restore_counts(&pending);
        assert_eq!(
            table.lines().collect::<Vec<_>>(),
            [
                "",
                "Cuts restore would undo, per kind and region:",
                "  kind                global  eu-west-1  us-east-1  total",
                "  iam_key_deactivate       1          -          -      1",
                "  sg_revoke                -          1          2      3",
            ],
            "{table}"
        );
    }

    fn cut(kind: &str, region: &str, target: &str, enabled: bool, reason: &str) -> Cut {
        Cut {
            id: Cut::expected_id(kind, region, target),
            kind: kind.into(),
            region: region.into(),
            target: target.into(),
            enabled,
            reversible: kind != "vpce_delete",
            reason: reason.into(),
            before: json!({"group_id": target, "rules": [1, 2, 3], "state": "open"}).into(),
            after: json!({"group_id": target, "rules": [], "state": "closed"}).into(),
        }
    }

    fn scaled_plan() -> Plan {
        let mut plan = hostile_plan();
        plan.discovery_errors.clear();
        plan.keep_cidrs.clear();
        plan.options.clear();
        plan.selection.clear();
        plan.organization = None;
        plan.role = None;
        plan.created = "2026-11-30T00:00:00Z".into();
        plan.caller = "arn:aws:iam::123456789012:user/r".into();
        plan.findings[0].resource = "example.com".into();
        plan.findings[0].message = "public record".into();
        plan.cuts = Vec::new();
        for region in ["us-east-1", "eu-west-1"] {
            for n in 0..30 {
                // Eight groups in eu-west-1 are blocked by the same rule, one switched off by hand.
                let (enabled, reason) = match (region, n) {
                    ("eu-west-1", 0..8) => {
                        (false, "Open. Disabled: the group is managed by a stack")
                    }
                    ("eu-west-1", 8) => (false, "Open."),
                    _ => (true, "Open."),
                };
                plan.cuts.push(cut(
                    "sg_revoke",
                    region,
                    &format!("sg-{n:03}"),
                    enabled,
                    reason,
                ));
            }
        }
        plan.cuts.push(cut(
            "vpce_delete",
            "us-east-1",
            "vpce-1",
            false,
            "Endpoint.",
        ));
        plan.cuts
            .push(cut("iam_key_deactivate", "global", "AKIA1", true, "Key."));
        plan
    }

    #[test]
    fn a_switch_shows_as_its_flag_and_a_valued_option_with_its_value() {
        let mut plan = scaled_plan();
        plan.options
            .insert("maintenance-origin".into(), "maint.example.com".into());
        plan.options.insert(
            "no-evidence-snapshots".into(),
            crate::plan::OPTION_SWITCHED_ON.into(),
        );
        let text = plan_text(&plan, PlanView::default());
        assert!(
            text.lines().any(|line| line
                == "Kind options: --maintenance-origin maint.example.com, --no-evidence-snapshots"),
            "{text}"
        );
    }

    /// The review says what --keep-cidr keeps, from the sentences the kinds write about it: grouped by
    /// kind and cause, counted, the first quoted; a range no cut names is said to keep nothing.
    #[test]
    fn the_review_says_what_the_kept_ranges_keep() {
        let mut plan = scaled_plan();
        plan.cuts = vec![
            cut(
                "sg_revoke",
                "us-east-1",
                "sg-1",
                true,
                "Open. Kept for the responder (--keep-cidr): ingress tcp/22 from 203.0.113.10/32.",
            ),
            cut(
                "sg_revoke",
                "us-east-1",
                "sg-2",
                true,
                "Open. Kept for the responder (--keep-cidr): ingress tcp/443 from 203.0.113.11/32.",
            ),
            cut(
                "sg_revoke",
                "us-east-1",
                "sg-3",
                false,
                "Off. Kept for the responder (--keep-cidr): ingress tcp/80 from 203.0.113.12/32.",
            ),
            cut(
                "nacl_deny",
                "us-east-1",
                "acl-1",
                true,
                "Seals. Kept for the responder (--keep-cidr): allow entries for 203.0.113.0/24, in both directions.",
            ),
            cut("iam_key_deactivate", "global", "AKIA1", true, "A key."),
            cut(
                "route_remove",
                "us-east-1",
                "rtb-1",
                true,
                "Deletes 0.0.0.0/0. Kept for the responder (--keep-cidr): routes to its ranges: 203.0.113.0/24 → vgw-1. A --keep-cidr range reached only through a deleted route loses that path too.",
            ),
            cut(
                "vpc_block_public_access",
                "us-east-1",
                "us-east-1",
                true,
                "Seals. The block cuts the responder's path through the subnets that route a --keep-cidr range (203.0.113.0/24) to an internet gateway, as an exclusion names a VPC or a subnet, never an address range: subnet-a (in vpc-1); if the responder comes in through one, make a new plan with --keep-subnet (or --keep-vpc) for it.",
            ),
        ];
        let summary = |plan: &Plan| review_summary(plan);
        assert_eq!(
            summary(&plan).matches("What --keep-cidr keeps").count(),
            0,
            "no range, no section"
        );
        plan.keep_cidrs = vec!["203.0.113.0/24".into()];
        let text = summary(&plan);
        assert!(
            text.contains(
                "What --keep-cidr keeps, as the cuts say it (--diff prints each whole):\n  sg_revoke (2): Kept for the responder (--keep-cidr): ingress tcp/22 from 203.0.113.10/32\n  nacl_deny (1): Kept for the responder (--keep-cidr): allow entries for 203.0.113.0/24, in both directions\n  route_remove (1): Kept for the responder (--keep-cidr): routes to its ranges: 203.0.113.0/24 → vgw-1\n"
            ),
            "{text}"
        );
        // What the kinds say --keep-cidr cannot keep is apart, under its own heading, its point first.
        assert!(
            text.contains(
                "\nWhat --keep-cidr does not keep: these enabled cuts can still cut the responder's path (to keep it, plan again with --keep-subnet or --keep-vpc for where the responder comes in, or switch them off):\n  route_remove (1): A --keep-cidr range reached only through a deleted route loses that path too\n  vpc_block_public_access (1): The block cuts the responder's path through the subnets that route a --keep-cidr range (203.0.113.0/24) to an internet gateway, as an exclusion names a VPC or a …\n"
            ),
            "{text}"
        );
        plan.cuts.truncate(0);
        plan.cuts
            .push(cut("iam_key_deactivate", "global", "AKIA1", true, "A key."));
        assert!(
            summary(&plan).contains("  no enabled cut keeps anything for it here"),
            "{}",
            summary(&plan)
        );
    }

    /// Cuts of one kind disabled for one cause are one group, though each reason names its own
    /// resources (here, the gateways the demo account cannot detach).
    #[test]
    fn cuts_disabled_for_one_cause_are_one_group_whatever_resources_they_name() {
        let why = |igw: &str, eni: &str, ip: &str| {
            format!(
                "AWS refuses to detach {igw} while its VPC holds public addresses, and it holds 1: {eni} (NAT gateway nat-8640d13ea48d60638) {ip}, Elastic IP eipalloc-c70ce2a787cf56b3c. To detach it, disassociate or release those Elastic IPs, then make a new plan."
            )
        };
        let first = why(
            "igw-10d096f98359249e0",
            "eni-e53a13bade80594e2",
            "127.112.150.74",
        );
        let second = why("igw-58abbb8d0f4e14746", "eni-0aa1bb2cc3dd4ee5f", "10.0.0.7");
        assert_eq!(cause_of(&first), cause_of(&second));
        assert_eq!(
            cause_of(&first),
            "AWS refuses to detach … while its VPC holds public addresses, and it holds …: … (NAT gateway …) …, Elastic IP …. To detach it, disassociate or release those Elastic IPs, then make a new plan."
        );
        // Words that only look alike stay: a kind's name, a flag, a stack's name.
        assert_eq!(
            cause_of("managed by stack web-tier (sg_revoke, --allow-irreversible)"),
            "managed by stack web-tier (sg_revoke, --allow-irreversible)"
        );
    }

    #[test]
    fn the_review_of_a_large_plan_fits_a_screen_and_names_every_cut_once() {
        let plan = scaled_plan();
        let text = plan_text(&plan, PlanView::default());
        let summary = review_summary(&plan);
        assert!(
            summary.lines().count() < 25,
            "the summary is one screen:\n{summary}"
        );
        assert!(text.contains(&summary), "{text}");
        // The table: global first, n/m where some are disabled.
        let table: Vec<&str> = summary
            .lines()
            .skip_while(|line| !line.starts_with("Cuts per kind and region"))
            .skip(1)
            .take(4)
            .collect();
        assert_eq!(
            table,
            [
                "  kind                global  eu-west-1  us-east-1  total",
                "  iam_key_deactivate       1          -          -      1",
                "  sg_revoke                -      21/30         30  51/60",
                "  vpce_delete              -          -        0/1    0/1",
            ],
            "{summary}"
        );
        assert!(
            summary.contains("Disabled, apply skips them (10):"),
            "{summary}"
        );
        assert!(
            summary.contains(
                "  8 × sg_revoke: the group is managed by a stack\n      sg-000, sg-001, sg-002, sg-003, sg-004 and 3 more\n"
            ),
            "{summary}"
        );
        assert!(
            summary.contains(
                "  1 × sg_revoke: switched off in the plan (enabled: false)\n      sg-008\n"
            ),
            "{summary}"
        );
        assert!(
            summary.contains("1 × vpce_delete: irreversible"),
            "{summary}"
        );
        assert!(
            summary
                .contains("--allow-irreversible (1):\n  vpce_delete/us-east-1/vpce-1 (disabled)"),
            "{summary}"
        );
        assert!(
            text.contains("Findings, which apply changes nothing of: 1 high, 0 medium, 0 info")
        );
        // One line per cut, under its region and kind, with what it changes; no diffs.
        for cut in &plan.cuts {
            let lines = text
                .lines()
                .filter(|line| line.trim_start().starts_with(&format!("~ {} ", cut.id)))
                .count();
            assert_eq!(lines, 1, "{}: {text}", cut.id);
        }
        assert!(
            text.contains("    sg_revoke (30)\n      ~ sg_revoke/eu-west-1/sg-000 [disabled]  rules: 3 → 0 item(s), state: open → closed\n"),
            "{text}"
        );
        assert!(!text.contains("+++ after"), "diffs only with --diff");
        let full = plan_text(
            &plan,
            PlanView {
                color: false,
                diffs: true,
            },
        );
        assert_eq!(full.matches("+++ after").count(), plan.cuts.len());
    }

    #[test]
    fn what_changes_reads_any_kind_of_state() {
        assert_eq!(
            what_changes(&json!({"a": 1}), &json!({"a": 1})),
            "no change to its state"
        );
        assert_eq!(
            what_changes(&json!({"a": 1}), &serde_json::Value::Null),
            "removed"
        );
        assert_eq!(
            what_changes(&serde_json::Value::Null, &json!({"a": 1})),
            "created"
        );
        assert_eq!(
            what_changes(
                &json!({"a": 1, "b": [1], "c": {"x": 1}, "d": "x", "e": 5}),
                &json!({"a": 2, "b": [2], "c": {"x": 2}, "d": "y", "e": 6})
            ),
            "a: 1 → 2, b[0]: 1 → 2, c.x: 1 → 2 and 2 more"
        );
        let long = "x".repeat(100);
        let text = what_changes(&json!({"policy": long}), &json!({"policy": null}));
        assert_eq!(text, "policy changed");
        let text = what_changes(&json!({"name": "a\nb"}), &json!({"name": "c"}));
        assert_eq!(text, "name changed");
        assert_eq!(
            what_changes(&json!([1]), &json!(["x".repeat(50)])),
            format!("[1] → {}…", "[\"".to_string() + &"x".repeat(38))
        );
        let hostile = what_changes(&json!({HOSTILE: HOSTILE}), &json!({HOSTILE: 1}));
        assert_nothing_hidden(&hostile);
    }

    /// A policy kept as JSON text is read as the document: the line names the one part that changed,
    /// where "policy changed" said nothing a responder could check at a glance.
    #[test]
    fn a_policy_change_names_what_changed_inside_the_document() {
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*"}]}"#;
        let allow_then_deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Sid":"HikkonukiDeny","Effect":"Deny","Principal":"*","Action":"*"}]}"#;
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*"}]}"#;
        assert_eq!(
            what_changes(
                &json!({"policy": allow}),
                &json!({"policy": allow_then_deny})
            ),
            "policy.Statement: 1 → 2 item(s)"
        );
        assert_eq!(
            what_changes(&json!({"policy": allow}), &json!({"policy": deny})),
            "policy.Statement[0].Effect: Allow → Deny"
        );
        assert_eq!(
            what_changes(&json!({"policy": null}), &json!({"policy": deny})),
            "policy added"
        );
        assert_eq!(
            what_changes(
                &json!({"policies": {"partner-send": allow}}),
                &json!({"policies": {}})
            ),
            "policies.partner-send removed"
        );
        assert_eq!(
            what_changes(
                &json!({"document": {"Version": "2008-10-17", "Statement": []}}),
                &json!({"document": {"Version": "2012-10-17", "Statement": [1]}})
            ),
            "document: Version, Statement changed"
        );
        // Text that only looks like a document stays text.
        assert_eq!(
            what_changes(&json!({"name": "{not json"}), &json!({"name": "[x"})),
            "name: {not json → [x"
        );
        // Keys from the account are cut short and escaped; nesting is followed only so deep.
        let long_key = format!("{HOSTILE}{}", "k".repeat(80));
        let text = what_changes(
            &json!({"policies": {long_key.clone(): "a"}}),
            &json!({"policies": {long_key: "b"}}),
        );
        assert_nothing_hidden(&text);
        assert!(text.contains("…: a → b"), "{text}");
        let deep = |leaf: i32| json!({"a": {"b": {"c": {"d": {"e": {"f": leaf}}}}}});
        assert_eq!(what_changes(&deep(1), &deep(2)), "a.b.c.d.e changed");
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

    /// A cut skipped by apply has no intent in the file: its row is named from its ID, kind, region and
    /// target (they were empty cells).
    #[test]
    fn a_skipped_cut_is_named_in_the_report_by_its_id() {
        let records = vec![record(
            0,
            Entry::Skipped {
                id: "iam_trust_deny/global/arn:aws:iam::123456789012:role/ci".into(),
                reason: "disabled in the plan (enabled: false)".into(),
            },
        )];
        let text = report_markdown(&records, Path::new("p.rollback.yaml"), false, &[]);
        assert!(
            text.contains(
                "| `iam_trust_deny/global/arn:aws:iam::123456789012:role/ci` | iam_trust_deny | global | `arn:aws:iam::123456789012:role/ci` | — | skipped: disabled in the plan (enabled: false) |"
            ),
            "{text}"
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
