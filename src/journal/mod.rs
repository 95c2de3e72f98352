//! The rollback file: the only record restore trusts.
//!
//! It is a YAML sequence written one line per entry (`- {json}`), so that appending an entry is appending a
//! line and a crash can tear at most the last line. Every entry is fsynced before the AWS call it announces
//! or after the call it records, and a failed write stops the run: the journal is never behind the account.
//!
//! Each entry carries its sequence number and the SHA-256 of the previous entry's line, so an entry added,
//! removed or edited by hand breaks the chain. Since anyone can recompute SHA-256, each entry (format 2)
//! also ends with an HMAC-SHA256 over the previous entry's code and its own text, under a key kept
//! outside the file ([`keys`]): an edited, forged or planted file is refused whatever its hashes say.
//!
//! The file is opened once, locked by the operating system ([`lock::RollbackFile`]), and read and
//! appended through that one handle.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::{CompactJson, Cut};
use keys::{KeyStore, RollbackKey};
use lock::RollbackFile;

pub mod keys;
pub mod lock;

/// Format 2 authenticates every entry; format 1 files (hash chain only) are read only with `--force`.
pub const FORMAT_VERSION: u32 = 2;
const UNAUTHENTICATED_FORMAT: u32 = 1;

/// How an entry's authentication code ends its line: `- {...,"mac":"<64 hex>"}`.
const MAC_FIELD: &str = ",\"mac\":\"";
const MAC_HEX_LEN: usize = 64;

/// The comment at the top of every rollback file, written in the same write as the header entry.
pub(crate) const PREAMBLE: &str = "\
# hikkonuki rollback file. `hikkonuki restore` reads it to reconnect what apply cut.
# Do not edit: every entry is chained to the one before it, and restore refuses a broken chain.
";

/// `<plan stem>.rollback.yaml` beside the plan: where apply journals a plan of one account unless
/// `--rollback` says otherwise.
pub fn default_rollback_path(plan_path: &Path) -> PathBuf {
    plan_path.with_file_name(format!("{}.rollback.yaml", plan_stem(plan_path)))
}

/// `<plan stem>.rollback/` beside the plan: the directory of a plan over several accounts, one rollback
/// file per account in it (`engine::apply::account_rollback_path`).
pub fn default_rollback_dir(plan_path: &Path) -> PathBuf {
    plan_path.with_file_name(format!("{}.rollback", plan_stem(plan_path)))
}

fn plan_stem(plan_path: &Path) -> String {
    plan_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into())
}

/// One line of the rollback file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// SHA-256 (hex) of the previous entry's line; empty for the first entry.
    pub prev: String,
    /// When the entry was written (RFC 3339, UTC).
    pub at: String,
    #[serde(flatten)]
    pub entry: Entry,
    /// HMAC-SHA256 (hex) of the previous entry's code and this line without it; always the last field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "kebab-case")]
pub enum Entry {
    /// The first entry: whose account this is, and which plan apply ran.
    Header {
        format: u32,
        account: String,
        caller: String,
        plan: String,
        plan_sha256: String,
        tool_version: String,
        /// The ID of the key that authenticates this file ([`keys`]); absent in format 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// In a run over several accounts (a plan with an `organization`), the role apply entered the
        /// member accounts through (`plan --role`, or [`crate::plan::DEFAULT_MEMBER_ROLE`]): restore
        /// enters the account again through it unless `--role` names another. Absent in a one-account
        /// run, and in files written before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member_role: Option<String>,
    },
    /// Written before the AWS call: the whole cut, so that restore can recover without the plan if the call
    /// went through but its completion was never recorded.
    Intent {
        cut: Cut,
    },
    /// Written after the call succeeded: everything needed to undo it.
    Done {
        id: String,
        undo: CompactJson,
    },
    /// The call failed; the cut may have partly taken effect, so restore treats it like an intent,
    /// unless AWS refused every write the cut sent ([`crate::call_outcomes`]): then nothing changed, and
    /// restore leaves the resource alone.
    Failed {
        id: String,
        error: String,
        /// AWS refused every write of the cut: nothing changed. Absent (false) in files written before
        /// it was recorded, and whenever a write may have been carried out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        changed_nothing: bool,
    },
    /// A disabled cut, recorded so the incident report shows it was left alone on purpose.
    Skipped {
        id: String,
        reason: String,
    },
    RestoreIntent {
        id: String,
    },
    Restored {
        id: String,
        notes: Vec<String>,
    },
    RestoreFailed {
        id: String,
        error: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "{path}: cannot write the rollback file: {source}\n  Apply stopped here so that nothing is cut that is not recorded. Free space or fix permissions, then run restore with this file."
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: already exists and may hold the way back from an earlier apply\n  fix: restore it first (`hikkonuki restore {path}`), or choose another file with --rollback"
    )]
    Exists { path: PathBuf },
    /// The file records nothing ([`records_nothing`]): apply was stopped while creating it, so nothing
    /// was cut. Restore has nothing to restore; apply starts the file afresh.
    #[error(
        "{path}: holds no entry: apply was stopped while creating it, before it recorded anything, so it cut nothing\n  fix: there is nothing to restore; applying the plan again starts this file afresh"
    )]
    NothingRecorded { path: PathBuf },
    #[error("{path}: cannot be read: {source}\n  fix: check the path of the rollback file")]
    Read {
        path: PathBuf,
        #[source]
        source: crate::files::FileError,
    },
    #[error("{path}: {problem}")]
    Key { path: PathBuf, problem: String },
    /// A plan given where a rollback file was wanted (`restore plan.yaml`): said as such, with the file
    /// apply wrote for it, not as its first line failing to be an entry.
    #[error(
        "{path}: is a plan (what `hikkonuki plan` writes), not a rollback file (what apply journals)\n  fix: give the rollback file apply wrote for it: {} beside the plan, unless apply was given --rollback; to read the plan, `hikkonuki show {path}`",
        crate::report::escape::visible(&rollback.display().to_string()),
        path = crate::report::escape::visible(&path.display().to_string())
    )]
    IsAPlan { path: PathBuf, rollback: PathBuf },
    // The problem can quote the file (a kind name, serde's view of a field): a newline in it would fake a
    // line of the message, so it is shown escaped.
    #[error("{path}: line {line}: {}\n  fix: {fix}", crate::report::escape::visible(.problem))]
    Invalid {
        path: PathBuf,
        line: usize,
        problem: String,
        fix: String,
    },
}

/// A rollback file as read back, with what was recovered from a torn tail.
#[derive(Debug, Clone)]
pub struct JournalContents {
    pub path: PathBuf,
    /// Every entry in order; empty when the file was read entry by entry ([`read_each`]).
    pub records: Vec<Record>,
    /// The first entry, which names the account and the key.
    header: Option<Entry>,
    /// Set when the last line was torn by a crash and dropped.
    pub torn_tail: Option<String>,
    /// Length in bytes of the well-formed prefix; appending starts here.
    valid_len: u64,
    /// Hash of the last well-formed entry line, which the next entry chains to.
    last_line_hash: String,
    /// The key that authenticated the file, which the next entries are authenticated with; `None` for a
    /// file read without authentication (`--force`).
    key: Option<RollbackKey>,
    /// The last entry's authentication code, which the next entry's code covers.
    last_mac: String,
    /// The number the next entry takes.
    next_seq: u64,
    /// True when every entry was authenticated by the file's key.
    pub authenticated: bool,
    /// Where the file's [`keys::HeadMark`] is kept, for an authenticated file whose keys have a
    /// directory: the journal that continues the file moves it on when it closes.
    head: Option<PathBuf>,
}

impl JournalContents {
    pub fn header(&self) -> Option<&Entry> {
        self.header.as_ref()
    }

    pub fn account(&self) -> Option<&str> {
        match self.header() {
            Some(Entry::Header { account, .. }) => Some(account),
            _ => None,
        }
    }

    /// The role the header records apply entered the account through (a run over several accounts),
    /// when the file authenticates: a role named by a file nothing vouches for is not one to enter.
    pub fn member_role(&self) -> Option<&str> {
        match self.header() {
            Some(Entry::Header {
                member_role: Some(role),
                ..
            }) if self.authenticated => Some(role),
            _ => None,
        }
    }
}

/// An open rollback file that entries are appended to. It holds the file's lock until dropped.
pub struct Journal {
    rollback: RollbackFile,
    next_seq: u64,
    last_hash: String,
    key: Option<RollbackKey>,
    last_mac: String,
    /// Where the mark of how far this file got is kept ([`keys::HeadMark`]); written when the journal
    /// closes, after the entries it names are on disk.
    head: Option<PathBuf>,
    /// Length of the file up to its last entry written whole and synced: a failed write is cut back to it.
    good_len: u64,
    /// A write failed: nothing more is appended (so no call is made that could not be recorded), and no
    /// mark is left for this run.
    failed: bool,
    /// Tests: the next write fails half-way, as on a full disk.
    #[cfg(test)]
    pub(crate) fail_next_write: bool,
}

impl Drop for Journal {
    /// Marks how far the file got. Not after a kill (no drop runs), which leaves the mark behind the
    /// file, never ahead: only a file behind its mark is refused. A mark that cannot be written leaves the
    /// earlier one, with the same effect.
    fn drop(&mut self) {
        if self.failed {
            return;
        }
        if let (Some(head), Some(_), Some(seq)) =
            (&self.head, &self.key, self.next_seq.checked_sub(1))
        {
            let _ = keys::write_head(
                head,
                &keys::HeadMark {
                    seq,
                    mac: self.last_mac.clone(),
                },
            );
        }
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}

fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

/// Whether a rollback file's bytes record nothing, as a run stopped while creating the file leaves it:
/// the preamble, or part of it, perhaps followed by the first entry's line cut short (no newline). Older
/// hikkonuki wrote the preamble apart from the header, and a kill could fall between. No whole entry:
/// apply journals its header, whole and synced, before any cut, so nothing was cut. An empty file
/// records nothing too. (The preamble has never changed, so a file any version left so matches it.)
pub fn records_nothing(bytes: &[u8]) -> bool {
    match bytes.strip_prefix(PREAMBLE.as_bytes()) {
        Some(torn) => {
            !torn.contains(&b'\n') && (torn.starts_with(b"- {") || b"- {".starts_with(torn))
        }
        None => PREAMBLE.as_bytes().starts_with(bytes),
    }
}

/// Splits an entry's JSON into the text its code covers and the code: `{...,"mac":"c"}` → (`{...}`, c).
fn split_mac(json: &str) -> Option<(String, &str)> {
    let suffix_len = MAC_FIELD.len() + MAC_HEX_LEN + 2;
    if json.len() < suffix_len + 2 || !json.is_char_boundary(json.len() - suffix_len) {
        return None;
    }
    let (body, suffix) = json.split_at(json.len() - suffix_len);
    let code = suffix.strip_prefix(MAC_FIELD)?.strip_suffix("\"}")?;
    Some((format!("{body}}}"), code))
}

impl Journal {
    /// Starts a journal in a fresh rollback file: a new key, the preamble, the header. The file is empty,
    /// or records nothing ([`records_nothing`]: a run stopped while creating it), which is started over.
    pub fn create(
        mut rollback: RollbackFile,
        header: Entry,
        keys: &KeyStore,
    ) -> Result<Journal, JournalError> {
        let path = rollback.path().to_path_buf();
        let write_error = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        if !rollback.is_empty() {
            if !records_nothing(&read_locked(&rollback)?) {
                return Err(JournalError::Exists { path: path.clone() });
            }
            rollback.file().set_len(0).map_err(write_error)?;
        }
        let key = keys.new_key().map_err(|problem| JournalError::Key {
            path: rollback.path().to_path_buf(),
            problem,
        })?;
        let mut header = header;
        if let Entry::Header {
            format, key: id, ..
        } = &mut header
        {
            *format = FORMAT_VERSION;
            *id = Some(key.id.clone());
        }
        rollback.keep();
        let mut journal = Journal {
            rollback,
            next_seq: 0,
            last_hash: String::new(),
            key: Some(key),
            last_mac: String::new(),
            head: None,
            good_len: 0,
            failed: false,
            #[cfg(test)]
            fail_next_write: false,
        };
        // The preamble and the header in one write, so that a run killed here leaves no preamble
        // without its header; a failed write leaves the file empty again.
        journal.append_after(PREAMBLE, header)?;
        // The directory entry must survive a crash too, or the file could vanish with the cuts it records.
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        // The header's code names the file: its key and its first line are its own.
        journal.head = keys.head_path(&journal.last_mac);
        Ok(journal)
    }

    /// Continues a rollback file that was read through `rollback`, for restore (or a resumed apply) to
    /// record its progress. A tail torn by a crash is cut off first so the next entry starts on a clean
    /// line; nothing else is ever truncated, and no one else can have written meanwhile: the lock was held
    /// since the file was read.
    pub fn reopen(
        rollback: RollbackFile,
        contents: &JournalContents,
    ) -> Result<Journal, JournalError> {
        let write_error = |source| JournalError::Write {
            path: contents.path.clone(),
            source,
        };
        let length = rollback.file().metadata().map_err(write_error)?.len();
        if length != contents.valid_len {
            if contents.torn_tail.is_none() || length < contents.valid_len {
                return Err(write_error(std::io::Error::other(
                    "the file changed since it was read",
                )));
            }
            rollback
                .file()
                .set_len(contents.valid_len)
                .map_err(write_error)?;
        }
        Ok(Journal {
            rollback,
            next_seq: contents.next_seq,
            last_hash: contents.last_line_hash.clone(),
            key: contents.key.clone(),
            last_mac: contents.last_mac.clone(),
            head: contents.head.clone(),
            good_len: contents.valid_len,
            failed: false,
            #[cfg(test)]
            fail_next_write: false,
        })
    }

    /// Appends one entry and waits until it is on disk.
    ///
    /// Nothing of the journal's own state moves until the entry is on disk. A failed write or sync is
    /// cut back off the file (a half-written line in the middle would make every later entry
    /// unreadable), and every later append is refused: a cut whose intent cannot be recorded is never
    /// made, and an entry that follows a lost one would break the chain.
    pub fn append(&mut self, entry: Entry) -> Result<(), JournalError> {
        self.append_after("", entry)
    }

    /// [`Self::append`], with `text` written just before the entry's line, in the same write.
    fn append_after(&mut self, text: &str, entry: Entry) -> Result<(), JournalError> {
        if self.failed {
            return Err(JournalError::Write {
                path: self.rollback.path().to_path_buf(),
                source: std::io::Error::other(
                    "an earlier write to it failed, so nothing more is recorded there",
                ),
            });
        }
        let record = Record {
            seq: self.next_seq,
            prev: self.last_hash.clone(),
            at: now(),
            entry,
            mac: None,
        };
        let body = serde_json::to_string(&record).expect("journal entries always serialize");
        let (json, code) = match &self.key {
            Some(key) => {
                let code = key.mac(&self.last_mac, &body);
                let json = format!("{}{MAC_FIELD}{code}\"}}", &body[..body.len() - 1]);
                (json, Some(code))
            }
            None => (body, None),
        };
        let line = format!("- {json}");
        if let Err(source) = self.write_line(text, &line) {
            self.failed = true;
            let _ = self.rollback.file().set_len(self.good_len);
            return Err(JournalError::Write {
                path: self.rollback.path().to_path_buf(),
                source,
            });
        }
        self.good_len += (text.len() + line.len() + 1) as u64;
        self.next_seq += 1;
        self.last_hash = line_hash(&line);
        if let Some(code) = code {
            self.last_mac = code;
        }
        Ok(())
    }

    /// One whole line after `text`, in one write, synced.
    fn write_line(&mut self, text: &str, line: &str) -> std::io::Result<()> {
        let written = format!("{text}{line}\n");
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next_write) {
            // As a full disk does: part of the line reaches the file, then the write fails.
            self.rollback
                .file()
                .write_all(&written.as_bytes()[..written.len() / 2])?;
            return Err(std::io::Error::other("No space left on device (injected)"));
        }
        let mut file = self.rollback.file();
        file.write_all(written.as_bytes())?;
        file.sync_data()
    }

    pub fn path(&self) -> &Path {
        self.rollback.path()
    }
}

/// How a warning about a problem the caller chose to accept ends (`force`): restore's `--force`. `show`,
/// which reads any file to show it, says so in its own words.
pub const ACCEPTED_BY_FORCE: &str = " (accepted because of --force)";

/// Reads a locked rollback file through its handle. `force` accepts a broken chain or a file that cannot
/// be authenticated, with every problem returned as a warning.
pub fn read(
    rollback: &RollbackFile,
    keys: &KeyStore,
    force: bool,
) -> Result<(JournalContents, Vec<String>), JournalError> {
    parse(&read_locked(rollback)?, rollback.path(), keys, force)
}

/// The whole of a locked rollback file, bounded.
fn read_locked(rollback: &RollbackFile) -> Result<Vec<u8>, JournalError> {
    crate::files::read_bounded(rollback.file()).map_err(|source| JournalError::Read {
        path: rollback.path().to_path_buf(),
        source,
    })
}

/// As [`read`], handing each entry to `each` as soon as it is read and verified instead of keeping them
/// all (the contents come back without records): restore keeps only what it derives from them. On an
/// error, what `each` was given must be thrown away.
pub fn read_each(
    rollback: &RollbackFile,
    keys: &KeyStore,
    force: bool,
    each: &mut dyn FnMut(Record),
) -> Result<(JournalContents, Vec<String>), JournalError> {
    parse_each(&read_locked(rollback)?, rollback.path(), keys, force, each)
}

/// Reads a rollback file by name without locking it, to show it: bounded, regular files only.
pub fn read_path(
    path: &Path,
    keys: &KeyStore,
    force: bool,
) -> Result<(JournalContents, Vec<String>), JournalError> {
    let bytes = crate::files::read_document(path).map_err(|source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path, keys, force)
}

/// How the entries of a file are authenticated, decided by its header.
enum Authentication {
    /// Every entry must carry a valid code under this key.
    Key(RollbackKey),
    /// Nothing can be checked (format 1, or a key that cannot be found); only read with `--force`.
    Unverifiable,
}

pub fn parse(
    bytes: &[u8],
    path: &Path,
    keys: &KeyStore,
    force: bool,
) -> Result<(JournalContents, Vec<String>), JournalError> {
    let mut records = Vec::new();
    let (mut contents, warnings) =
        parse_each(bytes, path, keys, force, &mut |record| records.push(record))?;
    contents.records = records;
    Ok((contents, warnings))
}

/// [`parse`], handing each verified entry to `each` in order instead of keeping it.
pub fn parse_each(
    bytes: &[u8],
    path: &Path,
    keys: &KeyStore,
    force: bool,
    each: &mut dyn FnMut(Record),
) -> Result<(JournalContents, Vec<String>), JournalError> {
    let invalid = |line: usize, problem: String, fix: &str| JournalError::Invalid {
        path: path.to_path_buf(),
        line,
        problem,
        fix: fix.to_string(),
    };
    const FIX_CHAIN: &str = "use the rollback file exactly as apply wrote it; if you are sure it is intact apart from this, run restore with --force";
    const FIX_KEY: &str = "restore on the machine and as the user that ran apply (the key is in its state directory, ~/.local/state/hikkonuki/rollback-keys), copy the key there, or give the key that apply used in HIKKONUKI_ROLLBACK_KEY; if you are sure the file is the one apply wrote, first see what it would put back with `hikkonuki restore FILE --force --dry-run`, then run restore with --force";

    // What the checks need of the entries already read: the first one, and the last one's number.
    let mut header: Option<Entry> = None;
    let mut last_seq: Option<u64> = None;
    let mut warnings = Vec::new();
    let mut torn_tail = None;
    let mut last_hash = String::new();
    let mut last_mac = String::new();
    let mut valid_len: u64 = 0;
    let mut offset: u64 = 0;
    let mut authentication: Option<Authentication> = None;
    let mut all_authenticated = true;
    // How far hikkonuki last left this file on this machine, once its header is authenticated.
    let mut head: Option<(PathBuf, Option<keys::HeadMark>)> = None;
    const FIX_HEAD: &str = "use the rollback file as hikkonuki last left it (the newest copy); if you are sure this one is right, restore with --force";

    let mut lines = bytes
        .split_inclusive(|&b| b == b'\n')
        .enumerate()
        .peekable();
    while let Some((index, raw)) = lines.next() {
        let number = index + 1;
        let is_last = lines.peek().is_none();
        offset += raw.len() as u64;
        let complete = raw.ends_with(b"\n");
        let parsed = std::str::from_utf8(raw)
            .map_err(|_| "is not UTF-8 text".to_string())
            .and_then(|text| {
                let text = text.trim_end_matches('\n');
                if text.trim().is_empty() || text.starts_with('#') {
                    return Ok(None);
                }
                let json = text.strip_prefix("- ").ok_or_else(|| {
                    "is not a rollback entry (entries start with `- {`)".to_string()
                })?;
                serde_json::from_str::<Record>(json)
                    .map(|record| Some((text.to_string(), record)))
                    .map_err(|err| format!("is not a valid rollback entry: {err}"))
            });
        match parsed {
            Ok(None) => {
                if complete {
                    valid_len = offset;
                }
            }
            Ok(Some((text, record))) if complete => {
                let mut problems: Vec<(String, &str)> = Vec::new();
                if last_seq.is_none() {
                    authentication = Some(match &record.entry {
                        Entry::Header { key: Some(id), .. } => match keys.key(id) {
                            Ok(key) => Authentication::Key(key),
                            Err(why) => {
                                problems.push((
                                    format!("cannot be authenticated: the file {why}"),
                                    FIX_KEY,
                                ));
                                Authentication::Unverifiable
                            }
                        },
                        Entry::Header {
                            format, key: None, ..
                        } if *format == UNAUTHENTICATED_FORMAT => {
                            problems.push((
                                "is a format-1 rollback file, which carries no authentication: hikkonuki cannot tell it from a forged one".into(),
                                "if you are sure it is the file apply wrote, run restore with --force",
                            ));
                            Authentication::Unverifiable
                        }
                        Entry::Header { key: None, .. } => {
                            problems.push((
                                "names no key although its format requires one: it was not written by `hikkonuki apply`".into(),
                                "give the rollback file that apply wrote",
                            ));
                            Authentication::Unverifiable
                        }
                        _ => Authentication::Unverifiable,
                    });
                }
                let expected_seq = last_seq.map(|seq| seq + 1).unwrap_or(0);
                if record.seq != expected_seq {
                    problems.push((format!(
                        "entry number {} where {expected_seq} was expected: an entry was added or removed",
                        record.seq
                    ), FIX_CHAIN));
                }
                if record.prev != last_hash {
                    problems.push((
                        "its hash of the previous entry does not match: an entry before it was edited, added or removed"
                            .to_string(),
                        FIX_CHAIN,
                    ));
                }
                match &authentication {
                    Some(Authentication::Key(key)) => {
                        let json = text.strip_prefix("- ").unwrap_or(&text);
                        let verified = split_mac(json)
                            .is_some_and(|(body, code)| key.verify(&last_mac, &body, code));
                        if verified {
                            last_mac = record.mac.clone().unwrap_or_default();
                            if last_seq.is_none() {
                                head = keys
                                    .head_path(&last_mac)
                                    .map(|path| (path.clone(), keys::read_head(&path)));
                            }
                            if let Some((_, Some(mark))) = &head
                                && mark.seq == record.seq
                                && mark.mac != last_mac
                            {
                                problems.push((
                                    format!("entry {} is not the one hikkonuki last wrote there on this machine: this is another file under the same header", record.seq),
                                    FIX_HEAD,
                                ));
                            }
                        } else {
                            all_authenticated = false;
                            problems.push((
                                "is not authenticated by the key this rollback file was written with: it was edited, forged or added by someone else".into(),
                                FIX_CHAIN,
                            ));
                        }
                    }
                    _ => all_authenticated = false,
                }
                for (problem, fix) in problems {
                    if force {
                        warnings.push(format!("line {number}: {problem}{ACCEPTED_BY_FORCE}"));
                    } else {
                        return Err(invalid(number, problem, fix));
                    }
                }
                last_hash = line_hash(&text);
                if last_seq.is_none() {
                    header = Some(record.entry.clone());
                }
                last_seq = Some(record.seq);
                each(record);
                valid_len = offset;
            }
            // A last line without its newline was being written when the process died: its call, if any,
            // is also announced by an intent that restore checks against live state.
            Ok(Some(_)) | Err(_) if is_last && !complete => {
                torn_tail = Some(String::from_utf8_lossy(raw).into_owned());
                warnings.push(format!(
                    "line {number} was torn by a crash while being written and is ignored"
                ));
            }
            Ok(Some(_)) => unreachable!("complete lines are handled above"),
            Err(problem) => {
                // Before any entry: perhaps the other file of the pair was given. Read whole only here.
                if last_seq.is_none()
                    && let Some(plan) = std::str::from_utf8(bytes)
                        .ok()
                        .and_then(crate::plan::looks_like_plan)
                {
                    return Err(JournalError::IsAPlan {
                        path: path.to_path_buf(),
                        rollback: if plan.over_several_accounts {
                            default_rollback_dir(path)
                        } else {
                            default_rollback_path(path)
                        },
                    });
                }
                return Err(invalid(
                    number,
                    problem,
                    "use the rollback file exactly as apply wrote it",
                ));
            }
        }
    }

    if let (Some((_, Some(mark))), Some(last)) = (&head, last_seq)
        && mark.seq > last
    {
        let problem = format!(
            "ends at entry {last}, but hikkonuki wrote entries up to {} into it on this machine: entries were removed from its end (restore's own among them, which would have restore undo again what it put back), or this is an older copy",
            mark.seq
        );
        if force {
            warnings.push(format!("{problem}{ACCEPTED_BY_FORCE}"));
        } else {
            let lines = bytes.iter().filter(|&&b| b == b'\n').count();
            return Err(invalid(lines.max(1), problem, FIX_HEAD));
        }
    }
    match &header {
        Some(Entry::Header { format, .. })
            if *format == FORMAT_VERSION || *format == UNAUTHENTICATED_FORMAT => {}
        Some(Entry::Header { format, .. }) => {
            return Err(invalid(
                1,
                format!(
                    "rollback format {format} is not supported: this hikkonuki reads formats {UNAUTHENTICATED_FORMAT} and {FORMAT_VERSION}"
                ),
                "restore with the hikkonuki version that wrote the file",
            ));
        }
        None if records_nothing(bytes) => {
            return Err(JournalError::NothingRecorded {
                path: path.to_path_buf(),
            });
        }
        _ => {
            return Err(invalid(
                1,
                "does not start with a header entry: this is not a rollback file written by `hikkonuki apply`"
                    .into(),
                "give the rollback file that apply wrote (default: <plan>.rollback.yaml beside the plan)",
            ));
        }
    }
    let key = match authentication {
        Some(Authentication::Key(key)) if all_authenticated => Some(key),
        _ => None,
    };
    Ok((
        JournalContents {
            path: path.to_path_buf(),
            next_seq: last_seq.map(|seq| seq + 1).unwrap_or(0),
            records: Vec::new(),
            header,
            torn_tail,
            valid_len,
            last_line_hash: last_hash,
            authenticated: key.is_some(),
            head: head.filter(|_| key.is_some()).map(|(path, _)| path),
            key,
            last_mac,
        },
        warnings,
    ))
}

#[cfg(test)]
mod tests;
