//! One apply or restore at a time per rollback file. Two runs appending to the same journal would
//! interleave entries and could undo each other's cuts.
//!
//! The lock is a file beside the rollback file (`<rollback>.lock`) created exclusively, holding the
//! holder's PID and start time. A lock left by a process that no longer runs is reported, not taken over:
//! only the operator can know that nothing else is working on the account.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{rollback}: another hikkonuki {holder} is working on this rollback file\n  fix: wait for it to finish; two runs on one rollback file would interleave their entries"
    )]
    Held { rollback: PathBuf, holder: String },
    #[error(
        "{rollback}: a lock was left by hikkonuki {holder}, which is no longer running (it crashed or was killed)\n  fix: make sure no other hikkonuki works on this file, then remove {lock} and run again; the rollback file itself is intact up to its last complete entry"
    )]
    Stale {
        rollback: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("{lock}: cannot create the lock file: {source}")]
    Io {
        lock: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the process works on a rollback file; removed on drop.
#[derive(Debug)]
pub struct RollbackLock {
    path: PathBuf,
}

pub fn lock_path(rollback: &Path) -> PathBuf {
    let mut name = rollback.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    rollback.with_file_name(name)
}

fn process_is_running(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // Signal 0 checks existence; EPERM means it exists but belongs to someone else.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

impl RollbackLock {
    /// `command` is `apply` or `restore`, recorded for whoever finds the lock.
    pub fn acquire(rollback: &Path, command: &str) -> Result<RollbackLock, LockError> {
        let path = lock_path(rollback);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| LockError::Io {
                lock: path.clone(),
                source,
            })?;
        }
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                let started = time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("UTC timestamps always format");
                let content = format!(
                    "pid={}\nstarted={started}\ncommand={command}\n",
                    std::process::id()
                );
                file.write_all(content.as_bytes())
                    .and_then(|_| file.sync_all())
                    .map_err(|source| LockError::Io {
                        lock: path.clone(),
                        source,
                    })?;
                Ok(RollbackLock { path })
            }
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                let content = fs::read_to_string(&path).unwrap_or_default();
                let field = |name: &str| {
                    content
                        .lines()
                        .find_map(|line| line.strip_prefix(&format!("{name}=")))
                        .unwrap_or("?")
                        .to_string()
                };
                let pid: i32 = field("pid").parse().unwrap_or(0);
                let holder = format!(
                    "{} (PID {}, started {})",
                    field("command"),
                    field("pid"),
                    field("started")
                );
                if process_is_running(pid) {
                    Err(LockError::Held {
                        rollback: rollback.to_path_buf(),
                        holder,
                    })
                } else {
                    Err(LockError::Stale {
                        rollback: rollback.to_path_buf(),
                        lock: path,
                        holder,
                    })
                }
            }
            Err(source) => Err(LockError::Io { lock: path, source }),
        }
    }
}

impl Drop for RollbackLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_while_the_first_runs_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let rollback = dir.path().join("p.rollback.yaml");
        let lock = RollbackLock::acquire(&rollback, "apply").unwrap();
        let text = fs::read_to_string(lock_path(&rollback)).unwrap();
        assert!(text.contains(&format!("pid={}", std::process::id())));
        let err = RollbackLock::acquire(&rollback, "restore").unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err}");
        assert!(
            err.to_string().contains("another hikkonuki apply (PID"),
            "{err}"
        );
        drop(lock);
        assert!(!lock_path(&rollback).exists());
        RollbackLock::acquire(&rollback, "restore").unwrap();
    }

    #[test]
    fn a_lock_left_by_a_dead_process_is_reported_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let rollback = dir.path().join("p.rollback.yaml");
        // PIDs are below 2^22 on Linux: this one cannot be running.
        fs::write(
            lock_path(&rollback),
            "pid=99999999\nstarted=2026-11-28T00:00:00Z\ncommand=apply\n",
        )
        .unwrap();
        let err = RollbackLock::acquire(&rollback, "apply").unwrap_err();
        assert!(matches!(err, LockError::Stale { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("apply (PID 99999999, started 2026-11-28T00:00:00Z)"),
            "{message}"
        );
        assert!(message.contains("no longer running"), "{message}");
        assert!(
            lock_path(&rollback).exists(),
            "a stale lock is left for the operator"
        );
    }
}
