//! `hikkonuki show`: render a plan or a rollback file, as text, JSON or (a rollback file) an incident
//! report. Reads the file only; never calls AWS.

use anyhow::{Context, bail};

use super::args::{ShowArgs, ShowFormat};
use super::exit;
use crate::journal;
use crate::journal::keys::KeyStore;
use crate::plan;
use crate::report::{escape, render};
use crate::services::Registry;

/// A rollback file starts (after comments) with a `- {` entry line; anything else is read as a plan.
fn looks_like_rollback(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.starts_with("- {"))
}

pub fn show_command(args: &ShowArgs, registry: &Registry, color: bool) -> anyhow::Result<u8> {
    let bytes = crate::files::read_document(&args.file)
        .with_context(|| format!("{}: cannot be read", args.file.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: is not UTF-8 text", args.file.display()))?;
    if looks_like_rollback(&text) {
        // Shown whatever its state, with every chain or authentication problem listed first.
        let (contents, warnings) = journal::parse(
            text.as_bytes(),
            &args.file,
            &KeyStore::from_environment(),
            true,
        )?;
        let shown = match args.format {
            ShowFormat::Text => {
                let mut shown: String = warnings
                    .iter()
                    .map(|warning| format!("warning: {}\n", escape::field(warning)))
                    .collect();
                shown.push_str(&render::journal_text(&contents));
                shown
            }
            ShowFormat::Json => format!("{}\n", serde_json::to_string_pretty(&contents.records)?),
            ShowFormat::Markdown => render::incident_report(&contents, &warnings),
        };
        write_out(&shown)?;
    } else {
        let plan = plan::parse(&text, &args.file, registry)?;
        let shown = match args.format {
            ShowFormat::Text => render::plan_text(
                &plan,
                render::PlanView {
                    color,
                    diffs: args.diff,
                },
            ),
            ShowFormat::Json => format!("{}\n", serde_json::to_string_pretty(&plan)?),
            ShowFormat::Markdown => bail!(
                "--format markdown renders a rollback file (an incident report); {} is a plan: use text or json",
                args.file.display()
            ),
        };
        write_out(&shown)?;
    }
    Ok(exit::SUCCESS)
}

/// Writes to standard output. A reader that stops early (`hikkonuki show plan.yaml | head`) closes the
/// pipe: that ends the output quietly, as for any Unix filter, instead of panicking as `print!` does.
pub(super) fn write_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
