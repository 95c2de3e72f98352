//! Before/after diffs of a resource's state, rendered as YAML so they read like the plan file itself.
//!
//! The YAML emitter escapes control characters inside strings but writes bidirectional overrides and
//! zero-width characters as they are, so every line is escaped again before it is shown
//! ([`escape::visible`]); lines are not capped, because the reviewer must see the whole state.

use similar::{ChangeTag, TextDiff};

use super::escape;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

fn as_yaml(value: &serde_json::Value) -> String {
    if value.is_null() {
        return "(absent)\n".to_string();
    }
    serde_yaml::to_string(value).unwrap_or_else(|err| format!("(cannot render: {err})\n"))
}

/// A unified diff from `before` to `after`, with a few lines of context. `left` and `right` label the two
/// sides (e.g. "before" and "after", or "plan" and "live").
pub fn unified(
    before: &serde_json::Value,
    after: &serde_json::Value,
    left: &str,
    right: &str,
    color: bool,
) -> String {
    let old = as_yaml(before);
    let new = as_yaml(after);
    let diff = TextDiff::from_lines(&old, &new);
    let mut out = String::new();
    out.push_str(&paint(&format!("--- {left}\n+++ {right}\n"), CYAN, color));
    let old_lines = old.lines().count();
    // Where the previous hunk ended in the old text: lines between hunks are left out, and said so, so
    // two hunks never read as one.
    let mut shown_up_to = 0;
    for group in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (old_range, new_range) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        left_out_marker(&mut out, old_range.start - shown_up_to);
        out.push_str(&paint(
            &format!(
                "@@ -{},{} +{},{} @@\n",
                old_range.start + 1,
                old_range.len(),
                new_range.start + 1,
                new_range.len()
            ),
            CYAN,
            color,
        ));
        shown_up_to = old_range.end;
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, colour) = match change.tag() {
                    ChangeTag::Delete => ("-", Some(RED)),
                    ChangeTag::Insert => ("+", Some(GREEN)),
                    ChangeTag::Equal => (" ", None),
                };
                let text = change.value();
                let line = format!(
                    "{sign} {}\n",
                    escape::visible(text.strip_suffix('\n').unwrap_or(text))
                );
                match colour {
                    Some(c) => out.push_str(&paint(&line, c, color)),
                    None => out.push_str(&line),
                }
            }
        }
    }
    left_out_marker(&mut out, old_lines.saturating_sub(shown_up_to));
    out
}

fn left_out_marker(out: &mut String, unchanged: usize) {
    if unchanged > 0 {
        out.push_str(&format!("  ... {unchanged} unchanged line(s) left out\n"));
    }
}

fn paint(text: &str, colour: &str, color: bool) -> String {
    if color {
        format!("{colour}{}{RESET}\n", text.trim_end_matches('\n'))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_removed_rule_shows_as_deleted_lines_without_colour() {
        let before = json!({"rules": [{"cidr_ipv4": "0.0.0.0/0"}, {"cidr_ipv4": "10.0.0.0/16"}]});
        let after = json!({"rules": [{"cidr_ipv4": "10.0.0.0/16"}]});
        let text = unified(&before, &after, "before", "after", false);
        assert!(text.starts_with("--- before\n+++ after\n"));
        assert!(text.contains("- - cidr_ipv4: 0.0.0.0/0\n"), "{text}");
        assert!(text.contains("  - cidr_ipv4: 10.0.0.0/16\n"), "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn separate_hunks_have_their_own_headers_and_the_lines_between_are_marked_left_out() {
        let mut before = serde_json::Map::new();
        for n in 0..20 {
            before.insert(format!("k{n:02}"), json!(n));
        }
        let mut after = before.clone();
        after.insert("k01".into(), json!("changed"));
        after.insert("k18".into(), json!("changed"));
        let text = unified(&before.into(), &after.into(), "before", "after", false);
        let headers: Vec<&str> = text.lines().filter(|l| l.starts_with("@@")).collect();
        assert_eq!(headers, ["@@ -1,5 +1,5 @@", "@@ -16,5 +16,5 @@"], "{text}");
        assert!(
            text.contains("  ... 10 unchanged line(s) left out\n"),
            "{text}"
        );
        assert!(!text.contains("... 0 unchanged"), "{text}");
    }

    #[test]
    fn colour_wraps_changed_lines_only_when_asked() {
        let text = unified(&json!({"a": 1}), &json!({"a": 2}), "x", "y", true);
        assert!(text.contains("\x1b[31m- a: 1\x1b[0m\n"), "{text:?}");
        assert!(text.contains("\x1b[32m+ a: 2\x1b[0m\n"), "{text:?}");
    }

    #[test]
    fn string_values_in_states_cannot_reach_the_terminal_raw() {
        let before = json!({"name": crate::report::escape::HOSTILE, "rules": ["a\u{202e}b"]});
        let after = json!({"name": crate::report::escape::HOSTILE, "rules": []});
        for color in [false, true] {
            let text = unified(&before, &after, "before", "after", color);
            let without_own_colours = text
                .replace(RED, "")
                .replace(GREEN, "")
                .replace(CYAN, "")
                .replace(RESET, "");
            crate::report::escape::assert_nothing_hidden(&without_own_colours);
            assert!(text.contains("a\\u{202e}b"), "{text}");
        }
    }

    #[test]
    fn an_absent_resource_is_named_as_such() {
        let text = unified(
            &json!({"a": 1}),
            &serde_json::Value::Null,
            "plan",
            "live",
            false,
        );
        assert!(text.contains("+ (absent)"), "{text}");
    }
}
