use serde_json::json;

use super::*;

fn header() -> Entry {
    Entry::Header {
        format: FORMAT_VERSION,
        account: "123456789012".into(),
        caller: "arn:aws:iam::123456789012:user/responder".into(),
        plan: "plans/p.yaml".into(),
        plan_sha256: "00".into(),
        tool_version: "0.1.0".into(),
    }
}

fn cut(id: &str) -> Cut {
    Cut {
        id: id.into(),
        kind: "sg_revoke".into(),
        region: "us-east-1".into(),
        target: "sg-1".into(),
        enabled: true,
        reversible: true,
        reason: "r".into(),
        before: json!({"a": 1}),
        after: json!({"a": 0}),
    }
}

/// A rollback file with a header, one completed cut and one intent.
fn write_sample(path: &Path) {
    let mut journal = Journal::create(path, header()).unwrap();
    journal.append(Entry::Intent { cut: cut("c1") }).unwrap();
    journal
        .append(Entry::Done {
            id: "c1".into(),
            undo: json!({"revoked": [1]}),
        })
        .unwrap();
    journal.append(Entry::Intent { cut: cut("c2") }).unwrap();
}

#[test]
fn entries_read_back_in_order_with_an_intact_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let (contents, warnings) = read(&path, false).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(contents.records.len(), 4);
    assert_eq!(contents.account(), Some("123456789012"));
    assert_eq!(
        contents.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(matches!(&contents.records[2].entry, Entry::Done { id, .. } if id == "c1"));
}

#[test]
fn the_file_is_private_and_valid_yaml() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let as_yaml: serde_yaml::Value = serde_yaml::from_slice(&fs::read(&path).unwrap()).unwrap();
    assert_eq!(as_yaml.as_sequence().unwrap().len(), 4);
}

#[test]
fn an_existing_rollback_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let before = fs::read(&path).unwrap();
    assert!(matches!(
        Journal::create(&path, header()),
        Err(JournalError::Exists { .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_torn_last_line_is_dropped_with_a_warning_and_appending_continues_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"- {\"seq\":4,\"prev\":\"ab").unwrap();
    drop(file);

    let (contents, warnings) = read(&path, false).unwrap();
    assert_eq!(contents.records.len(), 4);
    assert!(contents.torn_tail.is_some());
    assert!(warnings[0].contains("torn by a crash"), "{warnings:?}");

    let mut journal = Journal::reopen(&contents).unwrap();
    journal
        .append(Entry::RestoreIntent { id: "c1".into() })
        .unwrap();
    let (contents, warnings) = read(&path, false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(contents.records.len(), 5);
    assert_eq!(contents.records[4].seq, 4);
}

#[test]
fn an_added_entry_breaks_the_chain_and_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    // Forge a completion for c2 that apply never wrote, with a plausible sequence number.
    let forged = format!(
        "{text}- {}\n",
        serde_json::to_string(&Record {
            seq: 4,
            prev: "0".repeat(64),
            at: "2026-11-28T00:00:00Z".into(),
            entry: Entry::Done {
                id: "c2".into(),
                undo: json!({"revoked": [1, 2, 3]}),
            },
        })
        .unwrap()
    );
    fs::write(&path, forged).unwrap();
    let err = read(&path, false).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("line 7"), "{message}");
    assert!(
        message.contains("hash of the previous entry does not match"),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");

    let (contents, warnings) = read(&path, true).unwrap();
    assert_eq!(contents.records.len(), 5);
    assert!(
        warnings[0].contains("accepted because of --force"),
        "{warnings:?}"
    );
}

#[test]
fn an_edited_entry_breaks_the_chain_at_the_next_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("\"revoked\":[1]", "\"revoked\":[1,2]")).unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(err.contains("line 6"), "{err}");
}

#[test]
fn a_removed_entry_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|line| !line.contains("\"entry\":\"done\""))
        .collect();
    fs::write(&path, kept.join("\n") + "\n").unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(err.contains("entry number 3 where 2 was expected"), "{err}");
}

#[test]
fn garbage_in_the_middle_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(4, "oops: not an entry");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = read(&path, true).unwrap_err().to_string();
    assert!(err.contains("line 5: is not a rollback entry"), "{err}");
}

#[test]
fn a_plan_is_not_taken_for_a_rollback_file() {
    let err = parse(b"version: 1\ncuts: []\n", Path::new("p.yaml"), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is not a rollback entry"), "{err}");
    let err = parse(b"# only a comment\n", Path::new("p.yaml"), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not start with a header entry"), "{err}");
}

/// A cheap, deterministic stand-in for the fuzz target (scripts/fuzz.sh): every prefix of a rollback
/// file, and the file with any one byte flipped, gives entries or an error, never a panic.
#[test]
fn truncated_or_flipped_rollback_files_never_panic_the_parser() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let bytes = fs::read(&path).unwrap();
    for end in 0..bytes.len() {
        let _ = parse(&bytes[..end], &path, false);
    }
    for at in (0..bytes.len()).step_by(7) {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x5a;
        let _ = parse(&flipped, &path, false);
        let _ = parse(&flipped, &path, true);
    }
}
