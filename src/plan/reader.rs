//! Reading plan text: untrusted input (whoever can write the file can write anything in it).
//!
//! serde-saphyr deserializes while it parses, so a plan costs about its own size in memory to read.
//! serde_yaml 0.9, which still writes plans, first builds a list of every parse event in the document:
//! 12.6 MB of the 24.8 MB peak heap read for a 1.8 MB plan of 8 regions × 4 VPCs × 40 groups (issue 16,
//! measured with heaptrack), so apply's memory grew with the account before it had cut anything.
//!
//! The reader keeps the rules serde_yaml read plans with, and is stricter where a plan is untrusted:
//! - booleans are `true` and `false` only (YAML 1.2's core schema); `enabled: yes` is an error, as it
//!   was, never a silent switch;
//! - a key given twice is an error: a second `enabled:` hidden further down a cut must not decide it;
//! - the document's nesting, node count and alias expansion are bounded, so a crafted file cannot
//!   exhaust the stack or memory;
//! - errors are one line, without a snippet of the file (the caller names the file and the field).

use serde::de::DeserializeOwned;
use serde_saphyr::options::{AliasLimits, DuplicateKeyPolicy};

use crate::files::MAX_DOCUMENT_BYTES;

/// Where in the document reading stopped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// A path into the document (`cuts[3].kind`), or `(document)` when the error is not inside one
    /// field.
    pub field: String,
    pub problem: String,
}

/// Deeper than any plan hikkonuki writes (a policy document inside a cut of a member account nests about
/// 15 levels), and the limit serde_yaml read plans with.
const MAX_DEPTH: usize = 128;

/// Every node takes at least one byte of text, except those an alias replays, which
/// [`MAX_REPLAYED_EVENTS`] bounds: no document the tool reads holds more.
const MAX_NODES: usize = MAX_DOCUMENT_BYTES as usize;

/// Plans hikkonuki writes hold no aliases; an edited one may, within this.
const MAX_REPLAYED_EVENTS: usize = 1_000_000;

fn options(duplicate_keys: DuplicateKeyPolicy) -> serde_saphyr::Options {
    let budget = serde_saphyr::budget! {
        max_depth: MAX_DEPTH,
        max_events: MAX_NODES * 2,
        max_nodes: MAX_NODES,
        max_documents: 1,
    };
    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    serde_saphyr::options! {
        budget: budget,
        duplicate_keys: duplicate_keys,
        alias_limits: alias_limits,
        strict_booleans: true,
        legacy_octal_numbers: false,
        with_snippet: false,
    }
}

/// Reads one YAML document as a `T`, naming the field where it does not fit.
pub fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, ReadError> {
    read(text, DuplicateKeyPolicy::Error)
}

/// As [`from_yaml`], for reading one field of a document [`from_yaml`] refused: a key given twice is
/// left to that refusal, so this fails only on text that is not a YAML mapping holding the field.
pub fn probe_yaml<T: DeserializeOwned>(text: &str) -> Result<T, ReadError> {
    read(text, DuplicateKeyPolicy::LastWins)
}

fn read<T: DeserializeOwned>(
    text: &str,
    duplicate_keys: DuplicateKeyPolicy,
) -> Result<T, ReadError> {
    let mut failed_at: Option<String> = None;
    let result = serde_saphyr::with_deserializer_from_str_with_options(
        text,
        options(duplicate_keys),
        |de| {
            serde_path_to_error::deserialize(de).map_err(|err| {
                failed_at = Some(err.path().to_string());
                err.into_inner()
            })
        },
    );
    result.map_err(|err| ReadError {
        field: field_name(failed_at.as_deref()),
        problem: one_line(&err.render_with_formatter(&serde_saphyr::UserMessageFormatter)),
    })
}

/// serde_path_to_error's path as the errors name fields: `.` (the document itself) and segments it
/// could not name (`?`, a key that is not a string) are left out.
fn field_name(path: Option<&str>) -> String {
    let path = path.unwrap_or(".");
    let named: Vec<&str> = path
        .split('.')
        .take_while(|segment| !segment.is_empty() && !segment.starts_with('?'))
        .collect();
    if named.is_empty() {
        "(document)".to_string()
    } else {
        named.join(".")
    }
}

/// The error's text on one line: the caller prints `file: field: problem` and then the fix.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        enabled: bool,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        kind: String,
        before: serde_json::Value,
    }

    #[test]
    fn a_document_reads_into_its_types() {
        let doc: Doc = from_yaml(
            "enabled: true\nitems:\n- kind: k\n  before:\n    port: 22\n    open: false\n    name: 'yes'\n    none: null\n    list: [1, 'two']\n",
        )
        .unwrap();
        assert!(doc.enabled);
        assert_eq!(
            doc.items[0].before,
            json!({"port": 22, "open": false, "name": "yes", "none": null, "list": [1, "two"]})
        );
    }

    /// The deepest `before` the reader lets through is one serde_json reads back from its own text, so
    /// a plan's states held as [`crate::plan::CompactJson`] always parse again. Run on a thread with the
    /// main thread's 8 MiB stack, where the binary reads plans: a test thread's 2 MiB takes only about 80
    /// levels of the debug build's recursive descent.
    #[test]
    fn the_deepest_state_the_reader_accepts_parses_back_from_compact_text() {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(|| {
                let nested = |depth: usize| {
                    format!(
                        "enabled: true\nitems:\n- kind: k\n  before: {}x{}\n",
                        "[".repeat(depth),
                        "]".repeat(depth)
                    )
                };
                let deepest = (1..200)
                    .take_while(|&depth| from_yaml::<Doc>(&nested(depth)).is_ok())
                    .last()
                    .unwrap();
                assert!(deepest < MAX_DEPTH, "the reader's limit holds: {deepest}");
                let doc: Doc = from_yaml(&nested(deepest)).unwrap();
                let compact = crate::plan::CompactJson::from(&doc.items[0].before);
                assert_eq!(compact.value(), doc.items[0].before);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn only_true_and_false_are_booleans() {
        for word in ["yes", "on", "y", "1"] {
            let err = from_yaml::<Doc>(&format!("enabled: {word}\n")).unwrap_err();
            assert_eq!(err.field, "enabled", "{word}: {err:?}");
        }
    }

    #[test]
    fn a_key_given_twice_is_an_error_not_the_last_one_winning() {
        let err = from_yaml::<Doc>("enabled: false\nitems: []\nenabled: true\n").unwrap_err();
        assert!(err.problem.to_lowercase().contains("duplicate"), "{err:?}");
        // Inside a free-form value too, where no struct would notice.
        let err = from_yaml::<Doc>(
            "enabled: true\nitems:\n- kind: k\n  before: {open: true, open: false}\n",
        )
        .unwrap_err();
        assert!(err.problem.to_lowercase().contains("duplicate"), "{err:?}");
    }

    #[test]
    fn errors_name_the_field_on_one_line() {
        let err = from_yaml::<Doc>("enabled: true\nitems:\n- kind: k\n").unwrap_err();
        assert_eq!(err.field, "items[0]");
        assert!(err.problem.contains("missing field `before`"), "{err:?}");
        assert!(!err.problem.contains('\n'), "{err:?}");
        let err =
            from_yaml::<Doc>("enabled: true\nitems:\n- kind: [1]\n  before: 1\n").unwrap_err();
        assert_eq!(err.field, "items[0].kind");
        let err = from_yaml::<Doc>("enabled: true\nenable: false\n").unwrap_err();
        assert!(err.problem.contains("unknown field `enable`"), "{err:?}");
        let err = from_yaml::<Doc>("enabled: [\n").unwrap_err();
        assert!(!err.problem.is_empty(), "{err:?}");
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused_not_a_stack_overflow() {
        let deep = format!(
            "enabled: true\nitems:\n- kind: k\n  before: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(from_yaml::<Doc>(&deep).is_err());
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from(
            "enabled: true\nitems:\n- kind: k\n  before:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
        );
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            text.push_str(&format!(
                "    a{level}: &a{level} [{}]\n",
                vec![previous; 10].join(", ")
            ));
        }
        assert!(from_yaml::<Doc>(&text).is_err());
    }

    #[test]
    fn fields_are_named_as_far_as_they_have_names() {
        assert_eq!(field_name(None), "(document)");
        assert_eq!(field_name(Some(".")), "(document)");
        assert_eq!(field_name(Some("?")), "(document)");
        assert_eq!(field_name(Some("cuts[3].kind")), "cuts[3].kind");
        assert_eq!(field_name(Some("cuts[3].before.?")), "cuts[3].before");
    }

    #[test]
    fn a_probe_leaves_a_key_given_twice_to_the_refusal() {
        #[derive(Deserialize)]
        struct VersionOnly {
            version: u32,
        }
        let text = "version: 1\nfoo: 1\nfoo: 2\n";
        assert_eq!(probe_yaml::<VersionOnly>(text).unwrap().version, 1);
        assert!(from_yaml::<VersionOnly>(text).is_err());
    }

    #[test]
    fn a_second_document_is_refused() {
        assert!(from_yaml::<Doc>("enabled: true\n---\nenabled: false\n").is_err());
    }
}
