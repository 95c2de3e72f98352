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
    let text = fs::read_to_string(path).map_err(|err| PlanError {
        file: path.to_path_buf(),
        field: "(file)".into(),
        problem: format!("cannot be read: {err}"),
        fix: "check the path; plans are written by `hikkonuki plan` (default under plans/)".into(),
    })?;
    super::parse(&text, path, catalog)
}

/// Serializes the plan with its explanatory header.
pub fn render(plan: &Plan) -> String {
    let body = serde_yaml::to_string(plan).expect("a plan always serializes");
    format!("{HEADER}{body}")
}

pub fn write(path: &Path, plan: &Plan) -> std::io::Result<()> {
    write_private_atomically(path, render(plan).as_bytes())
}

/// Writes to a temporary file beside `path` with mode 0600, fsyncs it, then renames it into place.
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
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
