//! Plan text that YAML 1.1 tools read back as written.
//!
//! serde_yaml writes YAML 1.2 (core schema): it quotes a string only when a 1.2 reader would take it for a
//! number, a boolean or null. The tools operators edit plans with (PyYAML, Ruby's Psych, Go's yaml.v2
//! and the `yq`s built on them) read YAML 1.1, where many more plain scalars are not strings: timestamps
//! (`2026-11-29T00:09:40.43273Z`, which PyYAML hands back as `2026-11-29 00:09:40.432730+00:00`),
//! `yes`/`no`/`on`/`off`/`y`/`n` in any case (Psych), sexagesimal `1:20`, octal `0123`, `1_000` and (in
//! Psych) `1,000`, `.inf`, `=`, `<<`, and Psych's symbols (`:name`). Loaded and dumped again, such a
//! string comes back as another type or in another format, and the plan no longer matches the account.
//!
//! [`portable`] rewrites serde_yaml's output, scalar by scalar: a plain scalar that serde_yaml reads as
//! a string but a 1.1 reader might not is single-quoted (a string for every reader); a float that 1.1
//! readers would take for a string (`1e20`) is written as `1.0e+20`. Nothing else changes.

use std::borrow::Cow;

/// The words YAML 1.1 reads as booleans or null (Psych compares them case-insensitively).
const WORDS: &[&str] = &[
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
];

/// Whether some YAML 1.1 reader could take the plain scalar `text` for anything but this string. Errs
/// towards yes: quoting a string that needed none changes nothing for any reader.
pub fn yaml11_may_not_read_as_string(text: &str) -> bool {
    if WORDS.iter().any(|word| text.eq_ignore_ascii_case(word)) {
        return true;
    }
    // The 1.1 value and merge keys; Psych's symbols.
    if text == "=" || text == "<<" || (text.starts_with(':') && text.len() > 1) {
        return true;
    }
    // Numbers in any 1.1 notation (decimal, 0b, 0x, octal, sexagesimal, underscores, Psych's commas,
    // exponents, .inf and .nan) and timestamps all start with a digit or a dot after an optional sign,
    // and hold nothing but alphanumerics and `_ , . : + -`, spaces or tabs.
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let numeric_start = unsigned
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.');
    numeric_start
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_,.:+- \t".contains(c))
}

/// Whether YAML 1.1 (PyYAML's resolver) reads `text` as a float.
fn yaml11_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // [0-9][0-9_]*)?\.[0-9_]*([eE][-+][0-9]+)?
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let Some((whole, fraction)) = mantissa.split_once('.') else {
        return false;
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    let whole_ok =
        whole.is_empty() || (whole.starts_with(|c: char| c.is_ascii_digit()) && digits(whole));
    let exponent_ok = exponent.is_none_or(|e| {
        e.strip_prefix(['+', '-'])
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    });
    whole_ok && digits(fraction) && exponent_ok
}

/// A float as serde_yaml writes it (`1e20`, `1e-7`), in the notation YAML 1.1 requires: a dot in the
/// mantissa and a signed exponent (`1.0e+20`). YAML 1.2 reads both as the same number.
fn yaml11_float_notation(text: &str) -> String {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mut out = mantissa.to_string();
    if !out.contains('.') {
        out.push_str(".0");
    }
    if let Some(exponent) = exponent {
        out.push('e');
        if !exponent.starts_with(['+', '-']) {
            out.push('+');
        }
        out.push_str(exponent);
    }
    out
}

/// A plain scalar as it must be written for YAML 1.1 readers to read what serde_yaml reads.
fn portable_scalar(plain: &str) -> Cow<'_, str> {
    if !yaml11_may_not_read_as_string(plain) {
        return Cow::Borrowed(plain);
    }
    match serde_yaml::from_str::<serde_yaml::Value>(plain) {
        Ok(serde_yaml::Value::String(_)) => Cow::Owned(format!("'{}'", plain.replace('\'', "''"))),
        Ok(serde_yaml::Value::Number(n)) if n.is_f64() && !yaml11_float(plain) => {
            Cow::Owned(yaml11_float_notation(plain))
        }
        // A real number, boolean or null, which 1.1 reads alike.
        _ => Cow::Borrowed(plain),
    }
}

/// The length of the quoted scalar at the start of `text` (which starts with its quote), closing quote
/// included; `None` if it does not close on this line.
fn quoted_len(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let (_, quote) = chars.next()?;
    let mut escaped = false;
    let mut chars = chars.peekable();
    while let Some((at, c)) = chars.next() {
        if quote == '"' {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return Some(at + 1);
            }
        } else if c == '\'' {
            // '' is an escaped quote inside a single-quoted scalar.
            if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                chars.next();
            } else {
                return Some(at + 1);
            }
        }
    }
    None
}

/// A scalar in value position: rewritten if plain. Returns whether it opens a block scalar (`|`, `>`),
/// whose lines follow.
fn push_value(out: &mut String, value: &str) -> bool {
    match value.chars().next() {
        None => false,
        Some('|' | '>') => {
            out.push_str(value);
            true
        }
        // Quoted already, an empty flow collection, a tag, an anchor or alias: left as it is.
        Some('\'' | '"' | '[' | '{' | '!' | '&' | '*') => {
            out.push_str(value);
            false
        }
        Some(_) => {
            out.push_str(&portable_scalar(value));
            false
        }
    }
}

/// Rewrites one line of block-style YAML as serde_yaml emits it (one node per line, never folded). Returns
/// the column of the node a block scalar opened on this line belongs to, if one did: its content lines
/// are indented deeper than that.
fn portable_line(line: &str, out: &mut String) -> Option<usize> {
    let mut at = line.len() - line.trim_start_matches(' ').len();
    out.push_str(&line[..at]);
    let mut node_column = at;
    // Sequence entries: `- `, possibly nested (`- - x`).
    while line[at..].starts_with("- ") {
        out.push_str("- ");
        node_column = at;
        at += 2;
    }
    let rest = &line[at..];
    // A complex key (`? key`) or its value (`: value`), which libyaml writes for keys over 128 characters.
    if let Some(value) = rest.strip_prefix("? ").or_else(|| rest.strip_prefix(": ")) {
        out.push_str(&rest[..2]);
        return push_value(out, value).then_some(at);
    }
    let key_len = match rest.chars().next() {
        Some('\'' | '"') => {
            quoted_len(rest).filter(|&len| rest[len..].starts_with(": ") || &rest[len..] == ":")
        }
        Some(_) => rest
            .find(": ")
            .or_else(|| rest.ends_with(':').then_some(rest.len().saturating_sub(1))),
        None => None,
    };
    match key_len {
        // A mapping entry: its key, then its value if on this line.
        Some(len) => {
            let key = &rest[..len];
            match key.chars().next() {
                Some('\'' | '"') => out.push_str(key),
                _ => out.push_str(&portable_scalar(key)),
            }
            out.push(':');
            let value = rest[len + 1..].strip_prefix(' ');
            match value {
                Some(value) => {
                    out.push(' ');
                    push_value(out, value).then_some(at)
                }
                None => None,
            }
        }
        // A sequence entry's scalar (or `-` alone, before a nested block).
        None => push_value(out, rest).then_some(node_column),
    }
}

/// serde_yaml's block-style output, with every scalar written so that YAML 1.1 readers read it as
/// serde_yaml does (see the module documentation).
pub fn portable(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + yaml.len() / 16);
    // The column of the node whose block scalar is being copied.
    let mut block_of: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let (text, newline) = match line.strip_suffix('\n') {
            Some(text) => (text, "\n"),
            None => (line, ""),
        };
        if let Some(column) = block_of {
            let indent = text.len() - text.trim_start_matches(' ').len();
            if text.trim().is_empty() || indent > column {
                out.push_str(line);
                continue;
            }
        }
        block_of = portable_line(text, &mut out);
        out.push_str(newline);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(value: &serde_json::Value) -> String {
        portable(&serde_yaml::to_string(value).unwrap())
    }

    /// What the plan reader makes of `yaml`; serde_yaml, a second YAML 1.2 reader, must agree.
    fn read_back(yaml: &str) -> serde_json::Value {
        let ours: serde_json::Value = crate::plan::reader::from_yaml(yaml).unwrap();
        let theirs: serde_json::Value = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(ours, theirs, "{yaml}");
        ours
    }

    /// Strings a YAML 1.1 reader takes for something else, in the forms PyYAML, Psych and yaml.v2 know.
    const NOT_STRINGS_IN_YAML11: &[&str] = &[
        "2026-11-29T00:09:40.43273Z",
        "2026-11-29 00:09:40.432730+00:00",
        "2001-12-14 21:59:43.10 -5",
        "2026-11-29",
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "N",
        "Yes",
        "yEs",
        "TRUE",
        "False",
        "tRUE",
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "0123",
        "0o17",
        "0x1F",
        "0b101",
        "1_000",
        "1,000",
        "+1",
        "-0",
        "1:20",
        "190:20:30",
        "1:20.5",
        "1e3",
        "1.5",
        ".5",
        "1.",
        "6.8523015e+5",
        ".inf",
        "-.inf",
        "+.INF",
        ".nan",
        ".NaN",
        "=",
        "<<",
        ":symbol",
        "::/0",
        "0.1.0",
    ];

    #[test]
    fn every_string_yaml11_reads_otherwise_is_quoted_and_reads_back_the_same() {
        for &text in NOT_STRINGS_IN_YAML11 {
            assert!(yaml11_may_not_read_as_string(text), "{text}");
            let value = json!({ "value": text, text: [text] });
            let yaml = render(&value);
            let quoted = format!("'{}'", text.replace('\'', "''"));
            let double = format!("\"{text}\"");
            assert!(
                yaml.contains(&format!("value: {quoted}\n"))
                    || yaml.contains(&format!("value: {double}\n")),
                "{text}: {yaml}"
            );
            assert!(
                yaml.contains(&format!("\n{quoted}:\n"))
                    || yaml.contains(&format!("\n{double}:\n")),
                "{text} as a key: {yaml}"
            );
            assert!(
                yaml.contains(&format!("- {quoted}\n")) || yaml.contains(&format!("- {double}\n"))
            );
            let back = read_back(&yaml);
            assert_eq!(back, value, "{yaml}");
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for text in [
            "0.0.0.0/0",
            "10.20.0.0/16",
            "sg-0123456789abcdef0",
            "us-east-1",
            "arn:aws:iam::123456789012:user/moto",
            "yesterday",
            "none",
            "tcp",
            "high",
            "pl-63a5400a",
        ] {
            assert!(!yaml11_may_not_read_as_string(text), "{text}");
            assert_eq!(render(&json!({ "k": text })), format!("k: {text}\n"));
        }
    }

    #[test]
    fn numbers_booleans_and_null_stay_what_they_are() {
        let value = json!({"version": 1, "port": -1, "on": true, "off": false, "none": null,
                           "rate": 10000.0, "small": 0.5});
        let yaml = render(&value);
        assert!(yaml.contains("version: 1\n"), "{yaml}");
        assert!(yaml.contains("port: -1\n"), "{yaml}");
        assert!(
            yaml.contains("'on': true\n"),
            "the key is quoted, the value is not: {yaml}"
        );
        assert!(yaml.contains("'off': false\n"), "{yaml}");
        assert!(yaml.contains("none: null\n"), "{yaml}");
        assert!(yaml.contains("rate: 10000.0\n"), "{yaml}");
        assert_eq!(read_back(&yaml), value);
    }

    #[test]
    fn floats_get_the_notation_yaml11_reads_as_floats() {
        assert!(!yaml11_float("1e20"));
        assert!(yaml11_float("1.0e+20"));
        assert!(yaml11_float("-1.5e-7"));
        assert!(yaml11_float("0.5"));
        let value = json!({"big": 1e20, "tiny": 1e-7, "neg": -2.5e-9});
        let yaml = render(&value);
        assert!(yaml.contains("big: 1.0e+20\n"), "{yaml}");
        assert!(yaml.contains("tiny: 1.0e-7\n"), "{yaml}");
        assert!(yaml.contains("neg: -2.5e-9\n"), "{yaml}");
        assert_eq!(read_back(&yaml), value);
    }

    #[test]
    fn block_scalars_are_copied_untouched() {
        let value = json!({
            "text": "line one\nyes\n2026-11-29\n- no\nkey: on\n",
            "list": ["a\nyes: no\n  on", "on"],
            "after": "off",
            "nested": [{"deep": "x\n~\n", "k": "y"}],
        });
        let yaml = render(&value);
        assert!(
            yaml.contains("\n  yes\n  2026-11-29\n  - no\n  key: on\n"),
            "{yaml}"
        );
        assert!(yaml.contains("after: 'off'\n"), "{yaml}");
        assert!(yaml.contains("- 'on'\n"), "{yaml}");
        assert!(yaml.contains("k: 'y'\n"), "{yaml}");
        assert_eq!(read_back(&yaml), value);
    }

    #[test]
    fn quoted_keys_and_values_and_long_keys_are_handled() {
        let long_key = format!("{}:x", "k".repeat(200));
        let value = json!({
            "it's": "yes",
            "a: b": "on",
            "with \"quotes\"": "2026-01-01",
            long_key.clone(): "no",
            "esc\u{1b}": "y",
            "empty": [],
            "map": {},
            "": "off",
        });
        let yaml = render(&value);
        assert_eq!(read_back(&yaml), value, "{yaml}");
        for quoted in ["'yes'", "'on'", "'2026-01-01'", "'no'", "'y'", "'off'"] {
            assert!(yaml.contains(quoted), "{quoted} in {yaml}");
        }
    }

    #[test]
    fn nested_sequences_and_mappings_in_sequences() {
        let value = json!([["yes", ["1:20", {"k": "on"}]], {"a": "no", "b": ["off"]}]);
        let yaml = render(&value);
        assert_eq!(
            yaml,
            "- - 'yes'\n  - - '1:20'\n    - k: 'on'\n- a: 'no'\n  b:\n  - 'off'\n"
        );
        assert_eq!(read_back(&yaml), value);
    }
}
