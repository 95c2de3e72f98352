//! `hikkonuki show`: render a plan or a rollback file, as text, JSON or (a rollback file) an incident
//! report. Reads the file only and never calls AWS, except `show ROLLBACK --live`, which also asks AWS
//! (read-only) how far the work the cuts started has got ([`crate::engine::progress`]).

use anyhow::{Context, bail};

use super::args::{ShowArgs, ShowFormat};
use super::exit;
use super::settings::Settings;
use crate::aws::AwsSession;
use crate::engine::progress::{self, ProgressState};
use crate::journal;
use crate::journal::keys::KeyStore;
use crate::plan;
use crate::report::{escape, render};
use crate::services::Registry;

pub fn show_command(
    args: &ShowArgs,
    registry: &Registry,
    settings: &Settings,
) -> anyhow::Result<u8> {
    let format = args.format_under(settings.json);
    let bytes = crate::files::read_document(&args.file)
        .with_context(|| format!("{}: cannot be read", args.file.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: is not UTF-8 text", args.file.display()))?;
    if crate::files::looks_like_rollback(&text) {
        // Shown whatever its state, with every chain or authentication problem listed first.
        let (contents, warnings) = journal::parse(
            text.as_bytes(),
            &args.file,
            &KeyStore::from_environment(),
            true,
        )?;
        let warnings = shown_anyway(warnings);
        let shown = match format {
            ShowFormat::Text => rollback_text(&contents, &warnings, registry),
            ShowFormat::Json => json_text(&contents.records)?,
            ShowFormat::Markdown => {
                // The ticket keeps what the cuts made too (the evidence snapshots' IDs).
                let mut report = render::incident_report(&contents, &warnings);
                let recorded = progress::recorded(&contents, registry);
                if !recorded.is_empty() {
                    report.push_str("\n## Recorded by the completed cuts\n\n");
                    for (id, what) in recorded {
                        report.push_str(&format!(
                            "- {}: {}\n",
                            escape::markdown_code(&id),
                            escape::markdown_text(&what)
                        ));
                    }
                }
                report
            }
        };
        write_out(&shown)?;
    } else {
        let plan = plan::parse(&text, &args.file, registry)?;
        let shown = match format {
            ShowFormat::Text => render::plan_text(
                &plan,
                render::PlanView {
                    color: settings.color,
                    diffs: args.diff,
                },
            ),
            ShowFormat::Json => json_text(&plan)?,
            ShowFormat::Markdown => bail!(
                "--format markdown renders a rollback file (an incident report); {} is a plan: use text or json",
                args.file.display()
            ),
        };
        write_out(&shown)?;
    }
    Ok(exit::SUCCESS)
}

/// A document as pretty JSON, with the characters JSON leaves raw that would reorder or hide text on a
/// terminal written as escapes ([`escape::json_visible`]): the same data to a JSON reader.
fn json_text(document: &impl serde::Serialize) -> anyhow::Result<String> {
    let json = serde_json::to_string_pretty(document)?;
    Ok(format!("{}\n", escape::json_visible(&json)))
}

/// A rollback file as text: its problems, the timeline, then what the completed cuts made that the
/// operator needs after apply (the evidence snapshots' IDs), as their kinds name it.
fn rollback_text(
    contents: &journal::JournalContents,
    warnings: &[String],
    registry: &Registry,
) -> String {
    let mut shown: String = warnings
        .iter()
        .map(|warning| format!("warning: {}\n", escape::field(warning)))
        .collect();
    shown.push_str(&render::journal_text(contents));
    let recorded = progress::recorded(contents, registry);
    if !recorded.is_empty() {
        shown.push_str("\nRecorded by the completed cuts:\n");
        for (id, what) in recorded {
            shown.push_str(&format!(
                "  {}: {}\n",
                escape::field(&id),
                escape::field(&what)
            ));
        }
    }
    shown
}

/// `show ROLLBACK --live`: the file as `show` prints it, then, read from AWS now, how far each completed
/// cut's background work has got. Exit 1 when some could not be read.
pub async fn show_live(
    args: &ShowArgs,
    settings: &Settings,
    registry: &Registry,
) -> anyhow::Result<u8> {
    let bytes = crate::files::read_document(&args.file)
        .with_context(|| format!("{}: cannot be read", args.file.display()))?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: is not UTF-8 text", args.file.display()))?;
    if !crate::files::looks_like_rollback(&text) {
        bail!(
            "--live reads a rollback file, the record of an apply; {} is a plan: show it without --live",
            args.file.display()
        );
    }
    let format = args.format_under(settings.json);
    if format == ShowFormat::Markdown {
        bail!(
            "--live prints text or json; the incident report (--format markdown) is made from the file alone"
        );
    }
    let keys = KeyStore::from_environment();
    let (contents, warnings) = journal::parse(text.as_bytes(), &args.file, &keys, true)?;
    let warnings = shown_anyway(warnings);
    let session = AwsSession::load(&settings.connection).await?;
    let report = progress::live(
        &session,
        registry,
        &args.file,
        &keys,
        settings.parallelism.over(1),
    )
    .await?;
    let unreadable = report
        .progress
        .iter()
        .filter(|item| matches!(item.state, ProgressState::Unreadable(_)))
        .count();
    let shown = match format {
        ShowFormat::Json => json_text(&serde_json::json!({
            "records": contents.records,
            "live": report.progress,
        }))?,
        _ => {
            let mut shown = rollback_text(&contents, &warnings, registry);
            shown.push_str(&format!(
                "\nLive, read from account {} now (read-only):\n",
                escape::field(&report.account)
            ));
            if report.progress.is_empty() {
                shown.push_str("  no completed cut has work that AWS finishes in the background\n");
            }
            for item in &report.progress {
                let line = match &item.state {
                    ProgressState::Read(read) => escape::field(read).into_owned(),
                    ProgressState::Unreadable(err) => {
                        format!("could not be read: {}", escape::field(err))
                    }
                };
                shown.push_str(&format!("  {}: {line}\n", escape::field(&item.id)));
            }
            shown
        }
    };
    write_out(&shown)?;
    Ok(if unreadable == 0 {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
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

/// The journal's warnings about problems `show` reads past (it shows any file): said as what they mean
/// here, since no `--force` was given and restore still refuses the file without one.
fn shown_anyway(warnings: Vec<String>) -> Vec<String> {
    warnings
        .into_iter()
        .map(
            |warning| match warning.strip_suffix(journal::ACCEPTED_BY_FORCE) {
                Some(problem) => {
                    format!("{problem} (shown anyway; restore refuses this file without --force)")
                }
                None => warning,
            },
        )
        .collect()
}
