//! One apply or restore at a time per rollback file. Two runs appending to the same journal would
//! interleave entries and could undo each other's cuts.
//!
//! The lock is an advisory lock the operating system holds on the rollback file itself (`flock`, through
//! `File::try_lock`): every path to the file (a symlink, a hard link, `./x` and `x`) meets the same lock,
//! and when its holder dies, even by `kill -9`, the kernel releases it, so a crash never needs a lock
//! file removed by hand. The file is read and appended through the handle that holds the lock, never
//! reopened by name, so a path swapped meanwhile changes nothing.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::files::{self, FileError};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{rollback}: another hikkonuki {holder} is working on this rollback file\n  fix: wait for it to finish; two runs on one rollback file would interleave their entries"
    )]
    Held { rollback: PathBuf, holder: String },
    #[error(
        "{rollback}: does not exist\n  fix: give the rollback file apply wrote (default: <plan>.rollback.yaml beside the plan)"
    )]
    Missing { rollback: PathBuf },
    #[error("{rollback}: {source}\n  fix: give the rollback file apply wrote")]
    Unusable {
        rollback: PathBuf,
        #[source]
        source: FileError,
    },
    #[error(
        "{rollback}: is owned by user {owner}, not by you: someone else may have put it there\n  fix: check where it came from; if it is the file apply wrote, copy it (`cp`) so that you own it and use the copy, or restore with --force"
    )]
    ForeignOwner { rollback: PathBuf, owner: u32 },
    #[error("{rollback}: cannot be opened or locked: {source}")]
    Io {
        rollback: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A rollback file opened and locked for this process: dropped, the lock goes with it.
#[derive(Debug)]
pub struct RollbackFile {
    path: PathBuf,
    file: File,
    /// True when this process created the file (apply on a fresh path): if nothing was written to it, it
    /// is removed again on drop, so a refused apply leaves no empty rollback file behind.
    created: bool,
}

/// The rollback files this process created and has not written to yet (path, device, inode): what an
/// interrupt before the first entry removes ([`remove_unwritten`]), since `Drop` does not run when the
/// process is ended by a signal.
static UNWRITTEN: std::sync::Mutex<Vec<(PathBuf, u64, u64)>> = std::sync::Mutex::new(Vec::new());

fn unwritten() -> std::sync::MutexGuard<'static, Vec<(PathBuf, u64, u64)>> {
    UNWRITTEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes every rollback file this process created and left empty: for an interrupt at the
/// confirmation prompt (Ctrl-C), which ends the process without unwinding. A file is removed only while
/// its path still names the same file and nothing has been written to it.
pub fn remove_unwritten() {
    remove_unwritten_under(Path::new("/"));
}

/// [`remove_unwritten`] for the files under `dir` only (tests share one process).
fn remove_unwritten_under(dir: &Path) {
    let mut registered = unwritten();
    let (chosen, others): (Vec<_>, Vec<_>) = registered
        .drain(..)
        .partition(|(path, _, _)| path.starts_with(dir));
    *registered = others;
    drop(registered);
    for (path, dev, ino) in chosen {
        if fs::symlink_metadata(&path)
            .is_ok_and(|meta| meta.dev() == dev && meta.ino() == ino && meta.len() == 0)
        {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Who holds the lock, as far as the system says: `apply (PID 1234)`. Linux lists flock holders in
/// `/proc/locks` by device and inode; elsewhere, or if it cannot be read, the holder is unnamed.
fn holder_of(file: &File) -> String {
    let Ok(meta) = file.metadata() else {
        return "run".into();
    };
    let (major, minor) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let wanted = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let holders: Vec<(u32, String)> = fs::read_to_string("/proc/locks")
        .map(|locks| {
            locks
                .lines()
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`; waiting entries have a `->` field.
                    match fields.as_slice() {
                        [_, "FLOCK", _, _, pid, id, ..] => {
                            Some((pid.parse::<u32>().ok()?, (*id).to_string()))
                        }
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // The kernel names the lock by the device and inode of the file it locked. On a layered file
    // system (overlayfs in a container) that is the lower file, not what `stat` shows us, so when no
    // entry matches exactly, a flock holder is taken as ours only if it has our file open (checked
    // through its descriptors, which `stat` follows to the same file we see).
    let pid = holders
        .iter()
        .find(|(_, id)| *id == wanted)
        .map(|(pid, _)| *pid)
        .or_else(|| {
            holders
                .iter()
                .map(|(pid, _)| *pid)
                .find(|pid| has_open(*pid, meta.dev(), meta.ino()))
        });
    match pid {
        Some(pid) => {
            let command = fs::read(format!("/proc/{pid}/cmdline"))
                .ok()
                .and_then(|cmdline| {
                    let args: Vec<String> = cmdline
                        .split(|&b| b == 0)
                        .map(|arg| String::from_utf8_lossy(arg).into_owned())
                        .collect();
                    args.iter()
                        .find(|arg| *arg == "apply" || *arg == "restore")
                        .cloned()
                });
            format!("{} (PID {pid})", command.as_deref().unwrap_or("run"))
        }
        None => "run".into(),
    }
}

/// Whether process `pid` has a descriptor open on the file with this device and inode.
fn has_open(pid: u32, dev: u64, ino: u64) -> bool {
    let Ok(descriptors) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    descriptors
        .flatten()
        .any(|fd| fs::metadata(fd.path()).is_ok_and(|open| open.dev() == dev && open.ino() == ino))
}

impl RollbackFile {
    /// For apply: opens the rollback file, creating it (mode 0600, in a private directory) if absent, and
    /// locks it. An empty file is a fresh journal; one with entries is resumed or refused by the caller.
    pub fn open_or_create(path: &Path) -> Result<RollbackFile, LockError> {
        let io = |source| LockError::Io {
            rollback: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            files::create_private_dir_all(dir).map_err(io)?;
        }
        loop {
            let (file, created) = match open(path, false) {
                Ok(file) => (file, false),
                Err(LockError::Missing { .. }) => match open(path, true) {
                    Ok(file) => (file, true),
                    // A symbolic link to nothing: the first open finds no file, and creating one
                    // through the link is refused (O_EXCL) every time. Said, where it looped forever.
                    Err(LockError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists
                            && fs::symlink_metadata(path)
                                .is_ok_and(|m| m.file_type().is_symlink()) =>
                    {
                        return Err(LockError::Unusable {
                            rollback: path.to_path_buf(),
                            source: FileError::NotRegular {
                                what: "a symbolic link to a file that does not exist",
                            },
                        });
                    }
                    // Another run created it between the two opens: lock that one.
                    Err(LockError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        continue;
                    }
                    Err(err) => return Err(err),
                },
                Err(err) => return Err(err),
            };
            let locked = lock(path, file, created)?;
            // A run that created the file and was refused removes it again; if that happened while this
            // one waited, the handle now names a removed file. Open the path again rather than journal
            // into a file no one can find.
            if still_at(path, &locked.file) {
                return Ok(locked);
            }
            drop(locked.disarm());
        }
    }

    /// For restore: opens an existing rollback file and locks it.
    pub fn open_existing(path: &Path) -> Result<RollbackFile, LockError> {
        let file = open(path, false)?;
        lock(path, file, false)
    }

    /// Refuses a file another user owns, unless `force` (then the caller warns).
    pub fn check_owner(&self, force: bool) -> Result<Option<String>, LockError> {
        match files::foreign_owner(&self.file).map_err(|source| LockError::Io {
            rollback: self.path.clone(),
            source,
        })? {
            None => Ok(None),
            Some(owner) if force => Ok(Some(format!(
                "{} is owned by user {owner}, not by you; used anyway because of --force",
                self.path.display()
            ))),
            Some(owner) => Err(LockError::ForeignOwner {
                rollback: self.path.clone(),
                owner,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn file(&self) -> &File {
        &self.file
    }

    /// True while nothing has been written: a fresh rollback file.
    pub fn is_empty(&self) -> bool {
        self.file
            .metadata()
            .map(|meta| meta.len() == 0)
            .unwrap_or(false)
    }

    /// Keeps the file on drop even if empty (it now belongs to a journal).
    pub(super) fn keep(&mut self) {
        self.created = false;
        self.forget_unwritten();
    }

    fn disarm(mut self) -> RollbackFile {
        self.created = false;
        self.forget_unwritten();
        self
    }

    fn forget_unwritten(&self) {
        if let Ok(meta) = self.file.metadata() {
            unwritten().retain(|(_, dev, ino)| (*dev, *ino) != (meta.dev(), meta.ino()));
        }
    }
}

fn open(path: &Path, create: bool) -> Result<File, LockError> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).mode(0o600);
    if create {
        options.create_new(true);
    }
    files::open_document(path, &mut options).map_err(|err| match err {
        FileError::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
            LockError::Missing {
                rollback: path.to_path_buf(),
            }
        }
        FileError::Io(source) => LockError::Io {
            rollback: path.to_path_buf(),
            source,
        },
        other => LockError::Unusable {
            rollback: path.to_path_buf(),
            source: other,
        },
    })
}

fn lock(path: &Path, file: File, created: bool) -> Result<RollbackFile, LockError> {
    match file.try_lock() {
        Ok(()) => {
            if created && let Ok(meta) = file.metadata() {
                // Registered by its directory's canonical path (the default `<plan stem>.rollback.yaml`
                // is relative when the plan's path is): the removal picks files by the directory
                // they are under.
                let canonical = path
                    .parent()
                    .map(|dir| {
                        if dir.as_os_str().is_empty() {
                            Path::new(".")
                        } else {
                            dir
                        }
                    })
                    .and_then(|dir| dir.canonicalize().ok())
                    .zip(path.file_name())
                    .map(|(dir, name)| dir.join(name))
                    .unwrap_or_else(|| path.to_path_buf());
                unwritten().push((canonical, meta.dev(), meta.ino()));
            }
            Ok(RollbackFile {
                path: path.to_path_buf(),
                file,
                created,
            })
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held {
            rollback: path.to_path_buf(),
            holder: holder_of(&file),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(LockError::Io {
            rollback: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether `path` still names the file `file` is open on.
fn still_at(path: &Path, file: &File) -> bool {
    match (fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

impl Drop for RollbackFile {
    fn drop(&mut self) {
        self.forget_unwritten();
        // Removed while still locked, and only if the path still names this (empty) file.
        if self.created && self.is_empty() && still_at(&self.path, &self.file) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link to nothing where the rollback file goes (planted in a shared directory, or left by a
    /// target that is not mounted): apply names it and stops, where it tried to create the file through
    /// the link forever.
    #[test]
    fn a_dangling_link_at_the_rollback_path_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.rollback.yaml");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &path).unwrap();
        let err = RollbackFile::open_or_create(&path).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("plan.rollback.yaml")
                && text.contains("a symbolic link to a file that does not exist"),
            "{text}"
        );
        assert!(
            !dir.path().join("nowhere").exists(),
            "nothing created through the link"
        );
    }

    #[test]
    fn a_second_holder_is_refused_and_named_while_the_first_runs_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let rollback = dir.path().join("p.rollback.yaml");
        fs::write(&rollback, "- {}\n").unwrap();
        let held = RollbackFile::open_existing(&rollback).unwrap();
        let err = RollbackFile::open_existing(&rollback).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err}");
        // Naming the holder needs the kernel's list of locks. Where it lists our flock (Linux, and any
        // sandbox that implements /proc/locks), the holder must be named by PID; where it does not, the
        // message says "another hikkonuki run" without a PID rather than guessing one.
        let pid = std::process::id();
        let kernel_lists_ours = fs::read_to_string("/proc/locks").is_ok_and(|locks| {
            locks.lines().any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                matches!(fields.as_slice(), [_, "FLOCK", _, _, p, ..] if *p == pid.to_string())
            })
        });
        if kernel_lists_ours {
            assert!(
                err.to_string().contains(&format!("(PID {pid})")),
                "the holder is named by PID: {err}"
            );
        } else {
            assert!(
                err.to_string().contains("another hikkonuki run is working"),
                "an unnamed holder is still refused plainly: {err}"
            );
        }
        drop(held);
        RollbackFile::open_existing(&rollback).unwrap();
    }

    #[test]
    fn a_symlink_and_a_hard_link_meet_the_same_lock() {
        let dir = tempfile::tempdir().unwrap();
        let rollback = dir.path().join("p.rollback.yaml");
        fs::write(&rollback, "- {}\n").unwrap();
        let symlink = dir.path().join("other-name.yaml");
        std::os::unix::fs::symlink(&rollback, &symlink).unwrap();
        let hard = dir.path().join("hard.yaml");
        fs::hard_link(&rollback, &hard).unwrap();
        let _held = RollbackFile::open_or_create(&rollback).unwrap();
        for other in [&symlink, &hard] {
            let err = RollbackFile::open_existing(other).unwrap_err();
            assert!(
                matches!(err, LockError::Held { .. }),
                "{}: {err}",
                other.display()
            );
        }
    }

    #[test]
    fn a_lock_dies_with_its_holder_and_leaves_nothing_to_remove() {
        // The lock belongs to the open file: a killed process's files are closed by the kernel, which is
        // what closing the handle does here. No file beside the rollback file is ever created.
        let dir = tempfile::tempdir().unwrap();
        let rollback = dir.path().join("p.rollback.yaml");
        fs::write(&rollback, "- {}\n").unwrap();
        let held = RollbackFile::open_existing(&rollback).unwrap();
        drop(held);
        RollbackFile::open_existing(&rollback).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("p.rollback.yaml")]);
    }

    #[test]
    fn a_fresh_file_left_empty_is_removed_and_a_missing_one_is_not_made_by_restore() {
        let dir = tempfile::tempdir().unwrap();
        let rollback = dir.path().join("plans/p.rollback.yaml");
        let created = RollbackFile::open_or_create(&rollback).unwrap();
        assert!(created.is_empty());
        drop(created);
        assert!(
            !rollback.exists(),
            "an apply refused before writing leaves no file"
        );
        let err = RollbackFile::open_existing(&rollback).unwrap_err();
        assert!(matches!(err, LockError::Missing { .. }), "{err}");
        assert!(!rollback.exists());
    }

    #[test]
    fn non_regular_files_are_refused_before_reading() {
        let err = RollbackFile::open_existing(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
    }

    /// `path` (absolute) as the working directory reaches it with `..`: tests must not change the
    /// process's working directory, which they share.
    fn relative_to_working_dir(path: &Path) -> PathBuf {
        let cwd = std::env::current_dir().unwrap();
        let mut relative = PathBuf::new();
        for _ in cwd.components().skip(1) {
            relative.push("..");
        }
        relative.join(path.strip_prefix("/").unwrap())
    }

    #[test]
    fn an_interrupt_before_the_first_entry_removes_the_created_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.rollback.yaml");
        let existing = dir.path().join("existing.rollback.yaml");
        fs::write(&existing, b"").unwrap();
        let held_fresh = RollbackFile::open_or_create(&fresh).unwrap();
        let held_existing = RollbackFile::open_or_create(&existing).unwrap();
        assert!(fresh.exists());
        // What the Ctrl-C handler does before the process ends: Drop never runs.
        remove_unwritten_under(dir.path());
        assert!(!fresh.exists(), "the file this run created is gone");
        assert!(existing.exists(), "a file this run did not create stays");
        std::mem::forget(held_fresh);
        drop(held_existing);

        // The default rollback file is named relative to the working directory when the plan is.
        let relative = relative_to_working_dir(&dir.path().join("relative.rollback.yaml"));
        assert!(relative.is_relative(), "{relative:?}");
        let held_relative = RollbackFile::open_or_create(&relative).unwrap();
        assert!(relative.exists());
        remove_unwritten_under(dir.path());
        assert!(!relative.exists(), "a relative path is removed as well");
        std::mem::forget(held_relative);

        // Once written, a created file is a journal and stays.
        let written = dir.path().join("written.rollback.yaml");
        let mut held = RollbackFile::open_or_create(&written).unwrap();
        held.keep();
        use std::io::Write;
        held.file().write_all(b"- {}\n").unwrap();
        remove_unwritten_under(dir.path());
        assert!(written.exists());
    }
}
