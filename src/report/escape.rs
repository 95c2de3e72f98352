//! Text from a plan, a rollback file or the account, made safe to show a person.
//!
//! Names, IDs, reasons and error messages come from people who may mean harm: whoever names a resource in
//! the account, whoever writes a plan or a rollback file, whatever answers an HTTP call. Printed raw, a
//! control sequence in them moves the cursor and erases lines (`ESC[1A ESC[2K`), sets the terminal's
//! title (`ESC]0;…BEL`), or, through a bidirectional override (U+202E), shows text in another order than
//! it is stored; a newline inside one field fakes a line, or a heading in Markdown. Everything such text
//! reaches a terminal, a text document or a Markdown report through is escaped here, in one place:
//! every hidden character becomes a visible escape like `\u{1b}`, so the person sees that something was
//! there and what it was. Backslashes are left alone, which keeps escaping idempotent (escaped text
//! escapes to itself) and paths readable.
//!
//! JSON output escapes C0 controls itself; the other hidden characters (bidirectional overrides,
//! zero-width characters, C1 controls) JSON leaves raw, so a terminal showing the JSON would reorder or
//! hide text. [`json_visible`] writes those as `\uXXXX` escapes: the same data to a JSON reader, the exact
//! text once decoded, and visible to a person reading the output.

use std::borrow::Cow;
use std::fmt::Write;

/// The most characters of one field (an error, a message) shown before the rest is left out: an AWS
/// error can carry a whole HTTP body (18 KB have been seen), which would bury everything else.
pub const FIELD_CAP: usize = 2_000;

/// Characters that change what a terminal or a Markdown reader shows without being shown themselves.
fn is_hidden(c: char) -> bool {
    matches!(c,
        // C0 controls (newline, tab and ESC among them), DEL, C1 controls (CSI 0x9b, NEL 0x85).
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Soft hyphen, Arabic letter mark, Mongolian vowel separator: invisible format characters.
        | '\u{ad}' | '\u{61c}' | '\u{180e}'
        // Zero-width space/non-joiner/joiner, left-to-right and right-to-left marks.
        | '\u{200b}'..='\u{200f}'
        // Line and paragraph separators, bidirectional embeddings and overrides (U+202A–U+202E).
        | '\u{2028}'..='\u{202e}'
        // Word joiner, invisible operators, bidirectional isolates (U+2066–U+2069), deprecated format
        // characters.
        | '\u{2060}'..='\u{206f}'
        // Byte order mark (zero-width no-break space), interlinear annotation controls.
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        // Tag characters: invisible copies of ASCII.
        | '\u{e0000}'..='\u{e007f}'
    )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Serialized JSON with every hidden character JSON leaves raw (all but the C0 controls) written as a `\uXXXX` escape (a
/// surrogate pair above U+FFFF). Such characters only occur inside JSON strings, where the escape decodes
/// to the same character. Borrowed when there were none.
pub fn json_visible(json: &str) -> Cow<'_, str> {
    // C0 controls outside strings are the JSON's own whitespace (pretty output's newlines), and inside
    // strings JSON has escaped them already.
    let left_raw = |c: char| c > '\u{7e}' && is_hidden(c);
    if !json.chars().any(left_raw) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if left_raw(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", unit);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` with every hidden character (controls, newlines included, bidirectional and zero-width
/// characters) replaced by a visible escape such as `\u{1b}` or `\n`. Borrowed when nothing needed it.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_hidden(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`visible`], and at most `max_chars` characters: a longer text keeps its beginning and says how much
/// was left out. The result, marker included, is never longer than `max_chars`, so capping twice changes
/// nothing.
pub fn capped(text: &str, max_chars: usize) -> Cow<'_, str> {
    let shown = visible(text);
    let total = shown.chars().count();
    if total <= max_chars {
        return shown;
    }
    // The marker's length depends on the number it gives; reserve room for the longest it can be.
    let reserve = format!(" … [{total} more characters left out]")
        .chars()
        .count();
    let keep = max_chars.saturating_sub(reserve);
    let kept: String = shown.chars().take(keep).collect();
    let left_out = total - keep;
    Cow::Owned(format!("{kept} … [{left_out} more characters left out]"))
}

/// One field that may be huge, such as an error: [`capped`] at [`FIELD_CAP`].
pub fn field(text: &str) -> Cow<'_, str> {
    capped(text, FIELD_CAP)
}

/// A message of several lines composed by hikkonuki (such as an error and its `fix:` line), which may
/// quote foreign text: each line is escaped and capped on its own, and at most `max_lines` are shown.
/// Only a newline separates lines; any other line break (CR, NEL, U+2028) is escaped.
pub fn lines(text: &str, max_lines: usize) -> String {
    let all: Vec<&str> = text.split('\n').collect();
    let mut out = all
        .iter()
        .take(max_lines)
        .map(|line| field(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    if all.len() > max_lines {
        let _ = write!(out, "\n… [{} more lines left out]", all.len() - max_lines);
    }
    out
}

/// Text for the body of a Markdown document (a table cell, a list item): [`field`], with every character
/// Markdown would read as formatting, a link, HTML or a table border backslash-escaped, so the text reads
/// exactly as it is stored.
pub fn markdown_text(text: &str) -> String {
    let shown = field(text);
    let chars: Vec<char> = shown.chars().collect();
    let mut out = String::with_capacity(shown.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        // CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that act. An
        // underscore between letters or digits cannot open or close emphasis, so `sg_revoke` stays as it
        // reads.
        let acts = match c {
            '_' => {
                let word = |j: Option<usize>| {
                    j.and_then(|j| chars.get(j))
                        .is_some_and(|c| c.is_alphanumeric())
                };
                !(word(i.checked_sub(1)) && word(Some(i + 1)))
            }
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' | '#' | '~' | '&' => true,
            _ => false,
        };
        if acts {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text as a Markdown code span: [`field`], fenced with more backticks than any run inside it (padded
/// with spaces when it starts or ends with one), so a backtick in a name cannot close the span early.
/// Inside a table, `|` is still a cell border and is escaped.
pub fn markdown_code(text: &str) -> String {
    let shown = field(text).replace('|', "\\|");
    let longest_run = shown
        .split(|c: char| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    if shown.starts_with('`') || shown.ends_with('`') || shown.is_empty() {
        format!("{fence} {shown} {fence}")
    } else {
        format!("{fence}{shown}{fence}")
    }
}

/// A name as an intruder might set it: cursor up and erase line, an OSC window title ended by BEL, a C1
/// CSI, a right-to-left override.
#[cfg(test)]
pub(crate) const HOSTILE: &str = "api\x1b[1A\x1b[2Kname\x1b]0;owned\x07\u{9b}31m\u{202e}gnp.exe";

/// Fails if `text` holds any character a terminal or a Markdown reader would act on without showing it
/// (newlines between lines aside).
#[cfg(test)]
pub(crate) fn assert_nothing_hidden(text: &str) {
    let hidden: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && is_hidden(c))
        .collect();
    assert!(
        hidden.is_empty(),
        "hidden characters {hidden:?} in {text:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_its_data_and_shows_what_it_left_raw() {
        let value = serde_json::json!({"name": HOSTILE, "tag": "a\u{e0041}b", "plain": "x"});
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let shown = json_visible(&pretty);
        assert_nothing_hidden(&shown);
        assert!(
            shown.contains("\\u202e") && shown.contains("\\u009b"),
            "{shown}"
        );
        assert!(
            shown.contains("a\\udb40\\udc41b"),
            "a tag character as a surrogate pair: {shown}"
        );
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value, "the same data to a JSON reader");
        assert!(matches!(json_visible("{\n  \"a\": 1\n}"), Cow::Borrowed(_)));
    }

    #[test]
    fn hostile_sequences_become_visible_escapes() {
        assert_eq!(
            visible(HOSTILE),
            "api\\u{1b}[1A\\u{1b}[2Kname\\u{1b}]0;owned\\u{7}\\u{9b}31m\\u{202e}gnp.exe"
        );
    }

    #[test]
    fn every_listed_control_is_escaped() {
        for c in ['\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9b}', '\u{9f}']
            .into_iter()
            .chain('\u{202a}'..='\u{202e}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200e}', '\u{200f}', '\u{61c}', '\u{2028}', '\u{feff}'])
        {
            let text = format!("a{c}b");
            let shown = visible(&text);
            assert!(!shown.contains(c), "{c:?} survived: {shown:?}");
            assert_eq!(shown, format!("a\\u{{{:x}}}b", c as u32));
        }
    }

    #[test]
    fn a_newline_inside_a_field_cannot_start_a_line() {
        assert_eq!(
            visible("reason\n# Heading\r\tx"),
            "reason\\n# Heading\\r\\tx"
        );
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let text = "sg-0123 tcp/22 from 0.0.0.0/0 — ポート 「web」 C:\\path é";
        assert!(matches!(visible(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn escaping_is_idempotent() {
        let once = visible(HOSTILE).into_owned();
        assert_eq!(visible(&once), once);
    }

    #[test]
    fn a_huge_field_is_capped_and_says_how_much_was_left_out() {
        let body = "x".repeat(18_000);
        let shown = field(&body);
        assert!(shown.chars().count() <= FIELD_CAP, "{}", shown.len());
        let kept = shown.chars().take_while(|&c| c == 'x').count();
        assert!(shown.ends_with(&format!(" … [{} more characters left out]", 18_000 - kept)));
        assert!(kept > FIELD_CAP - 60, "{kept}");
        assert_eq!(field(&shown), shown, "capping twice changes nothing");
        assert_eq!(capped("short", 10), "short");
    }

    #[test]
    fn lines_keeps_the_lines_it_was_given_and_escapes_inside_them() {
        let text = format!("error: {HOSTILE}\n  fix: do this");
        let shown = lines(&text, 10);
        assert_eq!(shown.lines().count(), 2);
        assert!(shown.ends_with("\n  fix: do this"));
        assert_nothing_hidden(&shown);
        let many = "a\n".repeat(50);
        let shown = lines(&many, 5);
        assert_eq!(shown.lines().count(), 6);
        assert!(shown.ends_with("… [46 more lines left out]"), "{shown}");
    }

    #[test]
    fn markdown_text_cannot_format_link_or_break_the_table() {
        assert_eq!(markdown_text("sg_revoke _x_"), "sg_revoke \\_x\\_");
        let shown = markdown_text("a|b [x](http://e) **y** <img> `c` \n## h");
        assert_eq!(
            shown,
            "a\\|b \\[x\\](http://e) \\*\\*y\\*\\* \\<img\\> \\`c\\` \\\\n\\#\\# h"
        );
    }

    #[test]
    fn markdown_code_spans_outlast_backticks_inside() {
        assert_eq!(markdown_code("sg-1"), "`sg-1`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x``"), "``` `x`` ```");
        assert_eq!(markdown_code("a|b"), "`a\\|b`");
        assert_nothing_hidden(&markdown_code(HOSTILE));
    }
}
