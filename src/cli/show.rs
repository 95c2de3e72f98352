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
        match args.format {
            ShowFormat::Text => {
                for warning in warnings {
                    println!("warning: {}", escape::field(&warning));
                }
                print!("{}", render::journal_text(&contents));
            }
            ShowFormat::Json => println!("{}", serde_json::to_string_pretty(&contents.records)?),
            ShowFormat::Markdown => print!("{}", render::incident_report(&contents, &warnings)),
        }
    } else {
        let plan = plan::parse(&text, &args.file, registry)?;
        match args.format {
            ShowFormat::Text => print!("{}", render::plan_text(&plan, color)),
            ShowFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
            ShowFormat::Markdown => bail!(
                "--format markdown renders a rollback file (an incident report); {} is a plan: use text or json",
                args.file.display()
            ),
        }
    }
    Ok(exit::SUCCESS)
}
