use serde_json::json;

use std::fs::{self, OpenOptions};

use super::*;

/// Each test's keys live beside its rollback file, in the test's own directory.
fn keys(path: &Path) -> KeyStore {
    KeyStore::in_dir(&path.parent().unwrap_or(Path::new(".")).join("keys"))
}

fn read(path: &Path, force: bool) -> Result<(JournalContents, Vec<String>), JournalError> {
    read_path(path, &keys(path), force)
}

fn parse(
    bytes: &[u8],
    path: &Path,
    force: bool,
) -> Result<(JournalContents, Vec<String>), JournalError> {
    super::parse(bytes, path, &keys(path), force)
}

fn create(path: &Path) -> Result<Journal, JournalError> {
    Journal::create(
        RollbackFile::open_or_create(path).unwrap(),
        header(),
        &keys(path),
    )
}

fn header() -> Entry {
    Entry::Header {
        format: FORMAT_VERSION,
        account: "123456789012".into(),
        caller: "arn:aws:iam::123456789012:user/responder".into(),
        plan: "plans/p.yaml".into(),
        plan_sha256: "00".into(),
        tool_version: "0.1.0".into(),
        key: None,
        member_role: None,
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
        before: json!({"a": 1}).into(),
        after: json!({"a": 0}).into(),
    }
}

/// A rollback file with a header, one completed cut and one intent.
fn write_sample(path: &Path) {
    let mut journal = create(path).unwrap();
    journal.append(Entry::Intent { cut: cut("c1") }).unwrap();
    journal
        .append(Entry::Done {
            id: "c1".into(),
            undo: json!({"revoked": [1]}).into(),
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
    assert!(matches!(create(&path), Err(JournalError::Exists { .. })));
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

    let mut journal =
        Journal::reopen(RollbackFile::open_existing(&path).unwrap(), &contents).unwrap();
    journal
        .append(Entry::RestoreIntent { id: "c1".into() })
        .unwrap();
    let (contents, warnings) = read(&path, false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(contents.records.len(), 5);
    assert_eq!(contents.records[4].seq, 4);
}

/// `text` without its last entry, cut at a line boundary: what is left still verifies entry by entry.
fn without_last_entry(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines
        .iter()
        .rposition(|line| line.starts_with("- "))
        .unwrap();
    lines.remove(last);
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// What a run killed while creating its rollback file could leave (older hikkonuki wrote the comment at
/// the top and the header apart): the comment, or part of it, perhaps followed by the header's line cut
/// short. It records nothing, so nothing was cut, with or without --force. Any other comment is not
/// what apply writes ([`a_plan_is_not_taken_for_a_rollback_file`]).
fn left_by_a_run_killed_while_creating_the_file() -> Vec<String> {
    vec![
        PREAMBLE.to_string(),
        PREAMBLE[..30].to_string(),
        format!("{PREAMBLE}-"),
        format!("{PREAMBLE}- {{\"seq\":0,\"prev\":\"\",\"at\":\"2026-"),
    ]
}

#[test]
fn a_file_holding_only_the_preamble_and_perhaps_a_torn_first_entry_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    for left in left_by_a_run_killed_while_creating_the_file() {
        for force in [false, true] {
            let err = parse(left.as_bytes(), &path, force)
                .unwrap_err()
                .to_string();
            assert!(err.contains("holds no entry"), "{left:?}: {err}");
        }
    }
    // A whole first entry that is not the header is not what apply leaves: refused as before.
    let not_a_header = format!(
        "{PREAMBLE}- {{\"seq\":0,\"prev\":\"\",\"at\":\"2026-01-01T00:00:00Z\",\"entry\":\"restored\",\"id\":\"c1\",\"notes\":[]}}\n"
    );
    for force in [false, true] {
        let err = parse(not_a_header.as_bytes(), &path, force)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not start with a header entry"), "{err}");
    }
}

/// Apply starts afresh a file that records nothing: the comment once, then its own header, chained and
/// authenticated from there. A file with a whole entry in it is never started over.
#[test]
fn create_starts_afresh_a_file_that_records_nothing_and_never_one_with_an_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    for left in left_by_a_run_killed_while_creating_the_file() {
        fs::write(&path, &left).unwrap();
        let mut journal = create(&path).unwrap();
        journal.append(Entry::Intent { cut: cut("c1") }).unwrap();
        drop(journal);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(PREAMBLE), "{text}");
        assert_eq!(text.matches(PREAMBLE).count(), 1, "{text}");
        let (contents, warnings) = read(&path, false).unwrap();
        assert!(warnings.is_empty(), "{left:?}: {warnings:?}");
        assert!(contents.authenticated);
        assert_eq!(contents.records.len(), 2);
        fs::remove_file(&path).unwrap();
    }
    let with_an_entry = format!("{PREAMBLE}- {{}}\n");
    fs::write(&path, &with_an_entry).unwrap();
    assert!(matches!(create(&path), Err(JournalError::Exists { .. })));
    assert_eq!(fs::read_to_string(&path).unwrap(), with_an_entry);
}

#[test]
fn a_file_cut_back_behind_how_far_hikkonuki_left_it_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path); // closed: marked at entry 3
    let whole = fs::read_to_string(&path).unwrap();
    fs::write(&path, without_last_entry(&whole)).unwrap();

    let err = read(&path, false).unwrap_err().to_string();
    assert!(
        err.contains("ends at entry 2, but hikkonuki wrote entries up to 3 into it"),
        "{err}"
    );
    assert!(err.contains("the newest copy"), "{err}");
    let (contents, warnings) = read(&path, true).unwrap();
    assert_eq!(contents.records.len(), 3);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("older copy") && w.contains("accepted because of --force")),
        "{warnings:?}"
    );

    fs::write(&path, &whole).unwrap();
    let (_, warnings) = read(&path, false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn an_older_copy_is_refused_once_the_file_has_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let older = fs::read(&path).unwrap();
    let (contents, _) = read(&path, false).unwrap();
    let mut journal =
        Journal::reopen(RollbackFile::open_existing(&path).unwrap(), &contents).unwrap();
    journal
        .append(Entry::RestoreIntent { id: "c1".into() })
        .unwrap();
    drop(journal);
    assert!(read(&path, false).is_ok(), "the file as it was left");

    fs::write(&path, &older).unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(
        err.contains("ends at entry 3, but hikkonuki wrote entries up to 4"),
        "{err}"
    );
}

#[test]
fn a_failed_write_is_cut_back_and_ends_the_journal_leaving_a_file_that_reads_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let before = fs::read_to_string(&path).unwrap();
    let (contents, _) = read(&path, false).unwrap();
    let mut journal =
        Journal::reopen(RollbackFile::open_existing(&path).unwrap(), &contents).unwrap();
    journal.fail_next_write = true;
    let err = journal
        .append(Entry::Done {
            id: "c2".into(),
            undo: json!({"revoked": [2]}).into(),
        })
        .unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        before,
        "the half line is cut back"
    );
    let err = journal
        .append(Entry::RestoreIntent { id: "c1".into() })
        .unwrap_err();
    assert!(
        err.to_string().contains("an earlier write to it failed"),
        "{err}"
    );
    drop(journal);
    // Read as it was: no entry, no mark from the run whose write failed.
    let (contents, warnings) = read(&path, false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(contents.records.len(), 4);
    // And continued cleanly by the next run.
    let mut journal =
        Journal::reopen(RollbackFile::open_existing(&path).unwrap(), &contents).unwrap();
    journal
        .append(Entry::RestoreIntent { id: "c1".into() })
        .unwrap();
    drop(journal);
    assert_eq!(read(&path, false).unwrap().0.records.len(), 5);
}

#[test]
fn a_key_given_only_by_environment_keeps_no_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    let keys = KeyStore::with_key(&[b'k'; 40]);
    let mut journal = Journal::create(
        RollbackFile::open_or_create(&path).unwrap(),
        header(),
        &keys,
    )
    .unwrap();
    journal.append(Entry::Intent { cut: cut("c1") }).unwrap();
    drop(journal);
    let whole = fs::read_to_string(&path).unwrap();
    fs::write(&path, without_last_entry(&whole)).unwrap();
    // Nowhere to keep it: the cut is not seen (the README says so).
    assert!(super::read_path(&path, &keys, false).is_ok());
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
                undo: json!({"revoked": [1, 2, 3]}).into(),
            },
            mac: None,
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
fn an_edited_entry_is_refused_at_that_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("\"revoked\":[1]", "\"revoked\":[1,2]")).unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("is not authenticated"), "{err}");
}

/// The attack of issue 12: a `done` entry forged with its hash chain recomputed (plain SHA-256, which
/// anyone can compute) used to be obeyed. Without the key it cannot carry a valid code.
#[test]
fn a_forged_entry_with_a_recomputed_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    let last = text.lines().last().unwrap();
    let forged = Record {
        seq: 4,
        prev: line_hash(last),
        at: "2026-11-28T00:00:00Z".into(),
        entry: Entry::Done {
            id: "c2".into(),
            undo: json!({"revoked": [{"cidr": "0.0.0.0/0"}]}).into(),
        },
        // A code made with a key of the forger's own.
        mac: Some("ab".repeat(32)),
    };
    fs::write(
        &path,
        format!("{text}- {}\n", serde_json::to_string(&forged).unwrap()),
    )
    .unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(err.contains("line 7"), "{err}");
    assert!(err.contains("is not authenticated by the key"), "{err}");
    let (_, warnings) = read(&path, true).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("line 7") && w.contains("not authenticated")),
        "--force still names every break: {warnings:?}"
    );
}

/// A whole file planted by someone else, valid under a key of their own, names a key this user does not
/// have (or, naming this user's key ID, fails its codes).
#[test]
fn a_planted_file_made_with_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let planted = elsewhere.path().join("r.rollback.yaml");
    write_sample(&planted);
    let path = dir.path().join("r.rollback.yaml");
    fs::copy(&planted, &path).unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(err.contains("line 3: cannot be authenticated"), "{err}");
    assert!(err.contains("cannot be read"), "{err}");
    assert!(
        err.contains("HIKKONUKI_ROLLBACK_KEY"),
        "the fix is named: {err}"
    );
}

#[test]
fn a_format_1_file_is_read_only_with_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    let header = Record {
        seq: 0,
        prev: String::new(),
        at: "2026-11-28T00:00:00Z".into(),
        entry: Entry::Header {
            format: 1,
            account: "123456789012".into(),
            caller: "arn:aws:iam::123456789012:user/responder".into(),
            plan: "p.yaml".into(),
            plan_sha256: "00".into(),
            tool_version: "0.1.0".into(),
            key: None,
            member_role: None,
        },
        mac: None,
    };
    fs::write(
        &path,
        format!("- {}\n", serde_json::to_string(&header).unwrap()),
    )
    .unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert!(err.contains("format-1 rollback file"), "{err}");
    let (contents, warnings) = read(&path, true).unwrap();
    assert!(!contents.authenticated);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn an_authenticated_file_says_so_and_restore_entries_stay_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let (contents, _) = read(&path, false).unwrap();
    assert!(contents.authenticated);
    let mut journal =
        Journal::reopen(RollbackFile::open_existing(&path).unwrap(), &contents).unwrap();
    journal
        .append(Entry::RestoreIntent { id: "c1".into() })
        .unwrap();
    drop(journal);
    let (contents, warnings) = read(&path, false).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(contents.authenticated);
    assert_eq!(contents.records.len(), 5);
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

/// Regression: `restore plan.yaml` said `line 4: is not a rollback entry`; it is named as a plan, with
/// the rollback file apply wrote for it (a directory for a plan over several accounts).
#[test]
fn a_plan_is_not_taken_for_a_rollback_file() {
    let plan =
        b"# hikkonuki plan. Review every cut\n\nversion: 1\naccount: '123456789012'\ncuts: []\n";
    let err = parse(plan, Path::new("plans/p.yaml"), false).unwrap_err();
    assert!(matches!(err, JournalError::IsAPlan { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "plans/p.yaml: is a plan (what `hikkonuki plan` writes), not a rollback file (what apply journals)\n  fix: give the rollback file apply wrote for it: plans/p.rollback.yaml beside the plan, unless apply was given --rollback; to read the plan, `hikkonuki show plans/p.yaml`"
    );
    let err = parse(
        b"version: 1\ncuts: []\nmembers:\n- account: '210987654321'\n",
        Path::new("org.yaml"),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("fix: give the rollback file apply wrote for it: org.rollback beside"),
        "{err}"
    );
    // Not a plan either: said as the line that is not an entry.
    let err = parse(b"cuts: []\n", Path::new("p.yaml"), false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1: is not a rollback entry"), "{err}");
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

/// A field of the file quoted in an error cannot add a line to it: the message keeps its own two lines
/// (the problem and the fix), whatever newlines the file smuggles into a value serde quotes back.
#[test]
fn a_newline_in_the_file_does_not_add_a_line_to_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    write_sample(&path);
    let text = fs::read_to_string(&path).unwrap();
    let forged = text.replacen(
        "\"entry\":\"intent\"",
        "\"entry\":\"intent\\n  fix: it is safe, run restore --force\"",
        1,
    );
    assert_ne!(forged, text, "the sample has an intent entry to edit");
    fs::write(&path, forged).unwrap();
    let err = read(&path, false).unwrap_err().to_string();
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(err.contains("\\n  fix: it is safe"), "{err}");
}

/// The role apply entered an account through is recorded in the header and read back from a file that
/// authenticates; a file read without its key (`--force`) names no role to enter, since nothing vouches
/// for the one it says. A one-account header records none, and is written as before (no field).
#[test]
fn the_member_role_is_read_back_only_from_a_file_that_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.rollback.yaml");
    let mut with_role = header();
    if let Entry::Header { member_role, .. } = &mut with_role {
        *member_role = Some("IncidentResponder".into());
    }
    Journal::create(
        RollbackFile::open_or_create(&path).unwrap(),
        with_role,
        &keys(&path),
    )
    .unwrap();
    let (contents, _) = read(&path, false).unwrap();
    assert_eq!(contents.member_role(), Some("IncidentResponder"));
    assert!(contents.authenticated);

    fs::remove_dir_all(dir.path().join("keys")).unwrap();
    let (contents, _) = read(&path, true).unwrap();
    assert!(!contents.authenticated);
    assert_eq!(contents.member_role(), None);

    let plain = dir.path().join("plain.rollback.yaml");
    create(&plain).unwrap();
    let text = fs::read_to_string(&plain).unwrap();
    assert!(!text.contains("member_role"), "{text}");
    assert_eq!(read(&plain, false).unwrap().0.member_role(), None);
}
