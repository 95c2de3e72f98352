//! The rollback file: the only record restore trusts.
//!
//! It is a YAML sequence written one line per entry (`- {json}`), so that appending an entry is appending a
//! line and a crash can tear at most the last line. Every entry is fsynced before the AWS call it announces
//! or after the call it records, and a failed write stops the run: the journal is never behind the account.
//!
//! Each entry carries its sequence number and the SHA-256 of the previous entry's line, so an entry added,
//! removed or edited by hand breaks the chain and restore refuses to act on it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::Cut;

pub mod lock;

pub const FORMAT_VERSION: u32 = 1;

const PREAMBLE: &str = "\
# hikkonuki rollback file. `hikkonuki restore` reads it to reconnect what apply cut.
# Do not edit: every entry is chained to the one before it, and restore refuses a broken chain.
";

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
    },
    /// Written before the AWS call: the whole cut, so that restore can recover without the plan if the call
    /// went through but its completion was never recorded.
    Intent {
        cut: Cut,
    },
    /// Written after the call succeeded: everything needed to undo it.
    Done {
        id: String,
        undo: serde_json::Value,
    },
    /// The call failed; the cut may have partly taken effect, so restore treats it like an intent.
    Failed {
        id: String,
        error: String,
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
    #[error("{path}: cannot be read: {source}\n  fix: check the path of the rollback file")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {problem}\n  fix: {fix}")]
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
    pub records: Vec<Record>,
    /// Set when the last line was torn by a crash and dropped.
    pub torn_tail: Option<String>,
    /// Length in bytes of the well-formed prefix; appending starts here.
    valid_len: u64,
    /// Hash of the last well-formed entry line, which the next entry chains to.
    last_line_hash: String,
}

impl JournalContents {
    pub fn header(&self) -> Option<&Entry> {
        self.records.first().map(|record| &record.entry)
    }

    pub fn account(&self) -> Option<&str> {
        match self.header() {
            Some(Entry::Header { account, .. }) => Some(account),
            _ => None,
        }
    }
}

/// An open rollback file that entries are appended to.
pub struct Journal {
    path: PathBuf,
    file: File,
    next_seq: u64,
    last_hash: String,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("UTC timestamps always format")
}

fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

impl Journal {
    /// Creates a new rollback file (mode 0600). Refuses to overwrite one: it may be the only way back.
    pub fn create(path: &Path, header: Entry) -> Result<Journal, JournalError> {
        let write_error = |source| JournalError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(write_error)?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|err| {
                if err.kind() == std::io::ErrorKind::AlreadyExists {
                    JournalError::Exists {
                        path: path.to_path_buf(),
                    }
                } else {
                    write_error(err)
                }
            })?;
        file.write_all(PREAMBLE.as_bytes()).map_err(write_error)?;
        // The directory entry must survive a crash too, or the file could vanish with the cuts it records.
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            next_seq: 0,
            last_hash: String::new(),
        };
        journal.append(header)?;
        Ok(journal)
    }

    /// Reopens a rollback file that was read, for restore to record its progress. A torn tail is cut off
    /// first so the next entry starts on a clean line.
    pub fn reopen(contents: &JournalContents) -> Result<Journal, JournalError> {
        let write_error = |source| JournalError::Write {
            path: contents.path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .open(&contents.path)
            .map_err(write_error)?;
        file.set_len(contents.valid_len).map_err(write_error)?;
        let mut file = OpenOptions::new()
            .append(true)
            .open(&contents.path)
            .map_err(write_error)?;
        file.flush().map_err(write_error)?;
        let last = contents.records.last();
        Ok(Journal {
            path: contents.path.clone(),
            file,
            next_seq: last.map(|r| r.seq + 1).unwrap_or(0),
            last_hash: contents.last_line_hash.clone(),
        })
    }

    /// Appends one entry and waits until it is on disk.
    pub fn append(&mut self, entry: Entry) -> Result<(), JournalError> {
        let record = Record {
            seq: self.next_seq,
            prev: self.last_hash.clone(),
            at: now(),
            entry,
        };
        let json = serde_json::to_string(&record).expect("journal entries always serialize");
        let line = format!("- {json}");
        let write_error = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .map_err(write_error)?;
        self.file.sync_data().map_err(write_error)?;
        self.next_seq += 1;
        self.last_hash = line_hash(&line);
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How strictly to read: `force` accepts a broken chain (with the problems returned as warnings).
pub fn read(path: &Path, force: bool) -> Result<(JournalContents, Vec<String>), JournalError> {
    let bytes = fs::read(path).map_err(|source| JournalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path, force)
}

pub fn parse(
    bytes: &[u8],
    path: &Path,
    force: bool,
) -> Result<(JournalContents, Vec<String>), JournalError> {
    let invalid = |line: usize, problem: String, fix: &str| JournalError::Invalid {
        path: path.to_path_buf(),
        line,
        problem,
        fix: fix.to_string(),
    };
    const FIX_CHAIN: &str = "use the rollback file exactly as apply wrote it; if you are sure it is intact apart from this, run restore with --force";

    let mut records: Vec<Record> = Vec::new();
    let mut warnings = Vec::new();
    let mut torn_tail = None;
    let mut last_hash = String::new();
    let mut valid_len: u64 = 0;
    let mut offset: u64 = 0;

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
                let expected_seq = records.last().map(|r| r.seq + 1).unwrap_or(0);
                let mut chain_problems = Vec::new();
                if record.seq != expected_seq {
                    chain_problems.push(format!(
                        "entry number {} where {expected_seq} was expected: an entry was added or removed",
                        record.seq
                    ));
                }
                if record.prev != last_hash {
                    chain_problems.push(
                        "its hash of the previous entry does not match: an entry before it was edited, added or removed"
                            .to_string(),
                    );
                }
                for problem in chain_problems {
                    if force {
                        warnings.push(format!(
                            "line {number}: {problem} (accepted because of --force)"
                        ));
                    } else {
                        return Err(invalid(number, problem, FIX_CHAIN));
                    }
                }
                last_hash = line_hash(&text);
                records.push(record);
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
                return Err(invalid(
                    number,
                    problem,
                    "use the rollback file exactly as apply wrote it",
                ));
            }
        }
    }

    match records.first().map(|r| &r.entry) {
        Some(Entry::Header { format, .. }) if *format == FORMAT_VERSION => {}
        Some(Entry::Header { format, .. }) => {
            return Err(invalid(
                1,
                format!(
                    "rollback format {format} is not supported: this hikkonuki reads format {FORMAT_VERSION}"
                ),
                "restore with the hikkonuki version that wrote the file",
            ));
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
    Ok((
        JournalContents {
            path: path.to_path_buf(),
            records,
            torn_tail,
            valid_len,
            last_line_hash: last_hash,
        },
        warnings,
    ))
}

#[cfg(test)]
mod tests;
