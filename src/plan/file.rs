//! Reading and writing plan files: private (0600) and written atomically, so a crash never leaves half a
//! plan where a whole one was expected.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::{KindCatalog, Plan, PlanError};

const HEADER: &str = "\
# hikkonuki plan. Review every cut before `hikkonuki apply`.
# You may set `enabled: false` on a cut, or delete a whole cut. Any other edit no longer matches the live
# account and apply refuses it as drift: make a new plan instead.
";

pub fn read(path: &Path, catalog: &dyn KindCatalog) -> Result<Plan, PlanError> {
    read_with_digest(path, catalog).map(|(plan, _)| plan)
}

/// Reads a plan once and returns it with the SHA-256 (hex) of exactly the bytes parsed: the hash a
/// rollback file records is then the hash of the plan apply performed, even if the file changes
/// meanwhile.
pub fn read_with_digest(
    path: &Path,
    catalog: &dyn KindCatalog,
) -> Result<(Plan, String), PlanError> {
    let unreadable = |problem: String| PlanError {
        file: path.to_path_buf(),
        field: "(file)".into(),
        problem,
        fix: "check the path; plans are written by `hikkonuki plan` (default under plans/)".into(),
    };
    // Bounded, and never from a FIFO or device: whoever can write the path chose what is there.
    let bytes = crate::files::read_document(path)
        .map_err(|err| unreadable(format!("cannot be read: {err}")))?;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|_| {
        PlanError::new(
            path,
            "(file)",
            "is not UTF-8 text, so not a plan",
            "give the path of a plan written by `hikkonuki plan` (YAML text)",
        )
    })?;
    if crate::files::looks_like_rollback(&text) {
        return Err(PlanError::new(
            path,
            "(file)",
            "is a rollback file (what apply journals), not a plan",
            format!(
                "give the plan it was written for; to reconnect what it records, `hikkonuki restore {0}`; to read it, `hikkonuki show {0}`",
                crate::report::escape::visible(&path.display().to_string())
            ),
        ));
    }
    Ok((super::parse(&text, path, catalog)?, digest))
}

/// Serializes the plan with its explanatory header, every string quoted where a YAML 1.1 tool would read
/// it as another type (see [`super::yaml11`]), so that a plan loaded and dumped again by PyYAML, Psych or
/// `yq` after setting `enabled: false` still matches the account.
pub fn render(plan: &Plan) -> String {
    let body = serde_yaml::to_string(plan).expect("a plan always serializes");
    format!("{HEADER}{}", super::yaml11::portable(&body))
}

pub fn write(path: &Path, plan: &Plan) -> std::io::Result<()> {
    write_private_atomically(path, render(plan).as_bytes())
}

/// Writes to a temporary file beside `path` with mode 0600, fsyncs it, then renames it into place.
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::files::create_private_dir_all(dir)?;
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the path names no file"))?;
    let temp = path.with_file_name(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    let result = file
        .write_all(bytes)
        .and_then(|_| file.sync_all())
        .and_then(|_| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// A file that others may write could have been changed by someone other than the responder.
pub fn writable_by_others(path: &Path) -> bool {
    fs::metadata(path)
        .map(|meta| meta.permissions().mode() & 0o022 != 0)
        .unwrap_or(false)
}
