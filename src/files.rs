//! Opening the files the tool reads (plans, rollback files) as untrusted input: whoever can write a path
//! can put a FIFO there (which blocks a plain `open` forever), a device (`/dev/zero` reads without end) or a
//! file large enough to exhaust memory. Every document is opened without blocking, checked to be a regular
//! file and read with a bound; directories the tool creates are private.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The largest plan or rollback file read. A plan of a very large account (thousands of cuts with their
/// full states) is a few MiB; anything near this bound is not a document the tool wrote.
pub const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("is {what}, not a regular file; plans and rollback files are regular files")]
    NotRegular { what: &'static str },
    #[error(
        "is {size} bytes, more than the {MAX_DOCUMENT_BYTES} bytes a plan or rollback file can be; it is not one the tool wrote"
    )]
    TooLarge { size: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn describe(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Opens `path` with `options` plus `O_NONBLOCK` (so a FIFO cannot block the open), then refuses anything
/// but a regular file of at most [`MAX_DOCUMENT_BYTES`]. The checks are made on the opened file itself, so
/// swapping the path afterwards changes nothing.
pub fn open_document(path: &Path, options: &mut OpenOptions) -> Result<File, FileError> {
    let file = options.custom_flags(libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular {
            what: describe(meta.file_type()),
        });
    }
    if meta.len() > MAX_DOCUMENT_BYTES {
        return Err(FileError::TooLarge { size: meta.len() });
    }
    Ok(file)
}

/// Reads an opened document from its start, never more than [`MAX_DOCUMENT_BYTES`] (a file that grows
/// while being read is cut off there and refused).
pub fn read_bounded(file: &File) -> Result<Vec<u8>, FileError> {
    use std::io::{Seek, SeekFrom};
    let mut reader = file;
    reader.seek(SeekFrom::Start(0))?;
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(FileError::TooLarge {
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// Opens and reads a whole document read-only.
pub fn read_document(path: &Path) -> Result<Vec<u8>, FileError> {
    let file = open_document(path, OpenOptions::new().read(true))?;
    read_bounded(&file)
}

/// Creates `dir` and its missing parents with mode 0700, whatever the umask: plans and rollback files
/// describe the account's weak points and its way back.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The owner of an opened file when it is neither the user running the tool nor root: a file put there
/// by someone else.
pub fn foreign_owner(file: &File) -> io::Result<Option<u32>> {
    let owner = file.metadata()?.uid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    Ok((owner != me && owner != 0).then_some(owner))
}

/// Whether `text` reads as a rollback file rather than a plan: its first line that is not a comment is a
/// journal entry (`- {…}`), where a plan's is a mapping key; anything else is read as a plan. Only to
/// say which file was given where the other was wanted; reading it still checks everything.
pub fn looks_like_rollback(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.starts_with("- {"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("plan.yaml");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = read_document(&fifo).unwrap_err();
        assert!(err.to_string().contains("a FIFO (named pipe)"), "{err}");
    }

    #[test]
    fn a_device_is_refused_before_reading() {
        let err = read_document(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("a character device"), "{err}");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_document(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn an_oversized_file_is_refused_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        let file = File::create(&big).unwrap();
        // A sparse file: its size is what counts, nothing is written.
        file.set_len(MAX_DOCUMENT_BYTES + 1).unwrap();
        let err = read_document(&big).unwrap_err();
        assert!(matches!(err, FileError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn a_regular_file_reads_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.yaml");
        fs::write(&path, "format: 1\n").unwrap();
        assert_eq!(read_document(&path).unwrap(), b"format: 1\n");
    }

    #[test]
    fn created_directories_are_private() {
        // The mode asked for is 0700, which a umask (000 included) can only narrow. The umask is not
        // changed here: it is process-wide and other tests create files meanwhile.
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        for path in [dir.path().join("a"), nested] {
            let mode = fs::metadata(&path).unwrap().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", path.display());
        }
    }
}
