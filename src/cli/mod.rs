//! From argv to work: clap types ([`args`]), resolved into settings, then one function per subcommand.
//! This layer alone talks to the operator: it prints documents to standard output, progress to standard
//! error, asks for confirmation, and maps outcomes to exit codes.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow, bail};
use clap::Parser;

pub mod args;

use crate::aws::{AwsSession, ConnectionSettings};
use crate::engine::{self, DEFAULT_PARALLELISM, EngineError};
use crate::journal::lock::RollbackLock;
use crate::journal::{self, Entry, Journal};
use crate::net::Cidr;
use crate::plan::{self, Plan};
use crate::report::{LineReporter, Reporter, diff, render};
use crate::services::{self, Registry};
use args::{ApplyArgs, Cli, Command, PlanArgs, RestoreArgs, ShowArgs, ShowFormat};

/// Exit codes, as the README documents them.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const CUTS_PROPOSED: u8 = 2;
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// Runs one command line and returns its exit code. Usage errors exit 1, not clap's 2, because 2 means
/// "cuts proposed".
pub fn run<I, T>(argv: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                exit::FAILURE
            } else {
                exit::SUCCESS
            };
        }
    };
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return exit::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => "warn",
        1 => "hikkonuki=debug,warn",
        _ => "debug",
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

/// Settings every command shares, resolved from flags and environment.
struct Settings {
    connection: ConnectionSettings,
    color: bool,
}

impl Settings {
    fn from_cli(cli: &Cli) -> Settings {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Settings {
            connection: ConnectionSettings {
                profile: cli.profile.clone(),
                home_region: cli.region.clone(),
                endpoint_url: cli.endpoint_url.clone().filter(|u| !u.is_empty()),
            },
            color: !cli.no_color && !no_color_env && std::io::stdout().is_terminal(),
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<u8> {
    let settings = Settings::from_cli(&cli);
    let registry = services::registry();
    let reporter = LineReporter::stderr();
    match &cli.command {
        Command::Plan(args) => plan_command(args, &settings, &registry, &reporter).await,
        Command::Apply(args) => apply_command(args, &settings, &registry, &reporter).await,
        Command::Restore(args) => restore_command(args, &settings, &registry, &reporter).await,
        Command::Show(args) => show_command(args, &registry),
    }
}

fn parse_keep_cidrs(values: &[String]) -> anyhow::Result<Vec<Cidr>> {
    values
        .iter()
        .map(|value| {
            value
                .parse::<Cidr>()
                .map_err(|err| anyhow!("--keep-cidr: {err}"))
        })
        .collect()
}

async fn resolve_regions(requested: &str, session: &AwsSession) -> anyhow::Result<Vec<String>> {
    let home = session.region(session.home_region());
    let enabled = services::regions::enabled_regions(&home)
        .await
        .context("listing the account's enabled regions")?;
    if requested.trim() == "all" {
        return Ok(enabled);
    }
    let mut regions = Vec::new();
    for name in requested
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !plan::is_region_name(name) {
            bail!("--regions: `{name}` is not an AWS region name (e.g. us-east-1), nor `all`");
        }
        if !enabled.iter().any(|r| r == name) {
            bail!(
                "--regions: `{name}` is not enabled for this account (enabled: {})",
                enabled.join(", ")
            );
        }
        if !regions.iter().any(|r| r == name) {
            regions.push(name.to_string());
        }
    }
    if regions.is_empty() {
        bail!("--regions: no region given; pass a comma-separated list or `all`");
    }
    Ok(regions)
}

fn default_plan_path(account: &str) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .expect("UTC timestamps always format");
    PathBuf::from("plans").join(format!("{account}-{stamp}.yaml"))
}

async fn plan_command(
    args: &PlanArgs,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let keep_cidrs = parse_keep_cidrs(&args.keep_cidr)?;
    let session = AwsSession::load(&settings.connection).await;
    let caller = session
        .caller_identity()
        .await
        .map_err(EngineError::Identity)?;
    let regions = resolve_regions(&args.regions, &session).await?;
    let plan = engine::discover::make_plan(
        &session,
        registry,
        engine::discover::PlanRequest {
            caller,
            regions,
            keep_cidrs,
            maintenance_origin: args.maintenance_origin.clone(),
            parallelism: DEFAULT_PARALLELISM,
        },
        reporter,
    )
    .await;
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| default_plan_path(&plan.account));
    plan::file::write(&path, &plan)
        .with_context(|| format!("writing the plan to {}", path.display()))?;
    print!("{}", render::plan_text(&plan, settings.color));
    println!("Plan written to {}", path.display());
    if !plan.cuts.is_empty() {
        println!("Review it, then run: hikkonuki apply {}", path.display());
    }
    if !plan.discovery_errors.is_empty() {
        eprintln!(
            "error: discovery failed in {} place(s); the plan is incomplete there (listed above)",
            plan.discovery_errors.len()
        );
        return Ok(exit::FAILURE);
    }
    Ok(if args.detailed_exitcode && !plan.cuts.is_empty() {
        exit::CUTS_PROPOSED
    } else {
        exit::SUCCESS
    })
}

fn default_rollback_path(plan_path: &Path) -> PathBuf {
    let stem = plan_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plan".into());
    plan_path.with_file_name(format!("{stem}.rollback.yaml"))
}

fn warn_if_shared(path: &Path, reporter: &dyn Reporter) {
    if plan::file::writable_by_others(path) {
        reporter.event(&crate::report::Event::Warning {
            message: format!(
                "{} is writable by other users: someone else could have changed it. Check it, and `chmod 600` it.",
                path.display()
            ),
        });
    }
}

/// Asks the operator to type the account ID. Refuses without a terminal, unless `--yes`.
fn confirm(account: &str, action: &str, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "{action} needs confirmation, and there is no terminal to ask on. Review the output above, then run again with --yes"
        );
    }
    let typed: String = dialoguer::Input::new()
        .with_prompt(format!(
            "To {action} account {account}, type its account ID"
        ))
        .allow_empty(true)
        .interact_text()
        .context("reading the confirmation")?;
    if typed.trim() != account {
        bail!("confirmation did not match account {account}: nothing was changed");
    }
    Ok(())
}

/// Sets the returned flag on the first Ctrl-C, so the engine stops after the call in flight with the
/// rollback file complete; a second Ctrl-C exits at once (the journal is consistent at every moment).
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!("interrupted: stopping after the call in flight (Ctrl-C again to quit now)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    stop
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// An existing rollback file may be resumed only by the run that wrote it: same account, same plan.
fn resumable_progress(
    rollback_path: &Path,
    plan: &Plan,
    plan_sha256: &str,
) -> anyhow::Result<HashMap<String, engine::apply::Progress>> {
    let exists = journal::JournalError::Exists {
        path: rollback_path.to_path_buf(),
    };
    let (contents, _) = journal::read(rollback_path, false)
        .map_err(|err| anyhow!("{exists}\n  (it cannot be resumed: {err})"))?;
    match contents.header() {
        Some(Entry::Header {
            account,
            plan_sha256: recorded,
            ..
        }) if account == &plan.account && recorded == plan_sha256 => {
            Ok(engine::apply::progress_from(&contents))
        }
        _ => Err(anyhow!(
            "{exists}\n  (it was written for another plan, or for this plan before it was edited)"
        )),
    }
}

async fn apply_command(
    args: &ApplyArgs,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let plan: Plan = plan::file::read(&args.plan, registry)?;
    warn_if_shared(&args.plan, reporter);
    let plan_bytes =
        std::fs::read(&args.plan).with_context(|| format!("re-reading {}", args.plan.display()))?;
    let plan_sha256 = sha256_hex(&plan_bytes);
    if args.check {
        return check_command(args, &plan, settings, registry).await;
    }
    let rollback_path = args
        .rollback
        .clone()
        .unwrap_or_else(|| default_rollback_path(&args.plan));
    let _lock = RollbackLock::acquire(&rollback_path, "apply")?;
    let resuming = rollback_path.exists();
    let progress = if resuming {
        warn_if_shared(&rollback_path, reporter);
        resumable_progress(&rollback_path, &plan, &plan_sha256)?
    } else {
        HashMap::new()
    };
    let session = AwsSession::load(&settings.connection).await;
    let caller = engine::apply::verify_account(&session, &plan.account, "plan").await?;

    let drift =
        engine::apply::check_drift(&session, registry, &plan, &progress, DEFAULT_PARALLELISM).await;
    if !drift.is_clean() {
        for item in &drift.drifted {
            eprintln!(
                "drift: {} no longer matches the plan:\n{}",
                item.id,
                diff::unified(&item.planned, &item.live, "plan", "live", settings.color)
            );
        }
        for (id, err) in &drift.unverifiable {
            eprintln!("cannot verify {id}: {err}");
        }
        bail!(
            "refusing to apply {}: {} cut(s) no longer match the account and {} could not be checked. The plan is stale: make a new one with `hikkonuki plan`. Nothing was changed.",
            args.plan.display(),
            drift.drifted.len(),
            drift.unverifiable.len()
        );
    }

    for cut in plan.enabled_cuts() {
        print!("\n{}", render::cut_text(cut, settings.color));
    }
    let disabled: Vec<&str> = plan
        .cuts
        .iter()
        .filter(|c| !c.enabled)
        .map(|c| c.id.as_str())
        .collect();
    if !disabled.is_empty() {
        println!("\nSkipped (enabled: false): {}", disabled.join(", "));
    }
    println!("\n{}", plan.summary());
    if plan.enabled_cuts().next().is_none() {
        println!("Nothing to apply: every cut is disabled or the plan has none.");
        return Ok(exit::SUCCESS);
    }
    let irreversible: Vec<&str> = plan
        .enabled_cuts()
        .filter(|cut| !cut.reversible)
        .map(|cut| cut.id.as_str())
        .collect();
    if !irreversible.is_empty() {
        if !args.allow_irreversible {
            bail!(
                "refusing to apply {}: these enabled cuts cannot be undone by restore: {}\n  fix: pass --allow-irreversible if you mean it, or set them to `enabled: false`. Nothing was changed.",
                args.plan.display(),
                irreversible.join(", ")
            );
        }
        println!(
            "WARNING: {} cut(s) cannot be undone by restore (--allow-irreversible): {}",
            irreversible.len(),
            irreversible.join(", ")
        );
    }
    if resuming {
        println!(
            "Resuming the apply recorded in {}: {} cut(s) already started there.",
            rollback_path.display(),
            progress.len()
        );
    }
    confirm(&plan.account, "cut off", args.yes)?;

    let mut journal = if resuming {
        let (contents, _) = journal::read(&rollback_path, false)?;
        Journal::reopen(&contents)?
    } else {
        Journal::create(
            &rollback_path,
            Entry::Header {
                format: journal::FORMAT_VERSION,
                account: plan.account.clone(),
                caller: caller.arn.clone(),
                plan: args.plan.display().to_string(),
                plan_sha256,
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
            },
        )?
    };
    let stop = stop_on_ctrl_c();
    let options = engine::apply::ApplyOptions {
        progress,
        fail_fast: args.fail_fast,
        stop: Some(&stop),
    };
    let outcome =
        engine::apply::execute(&session, registry, &plan, &mut journal, &options, reporter).await?;

    println!(
        "\nApply finished in {:.1} s: {} cut, {} failed, {} skipped.",
        outcome.elapsed.as_secs_f64(),
        outcome.done.len() + outcome.already_done.len(),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    if let Some(sealed) = outcome.sealed_after {
        println!("Sealed in {:.1} s.", sealed.as_secs_f64());
    }
    for (id, error) in &outcome.failed {
        println!("  failed: {id}: {error}");
    }
    println!("Rollback file: {}", rollback_path.display());
    if outcome.credentials_expired {
        println!(
            "Stopped: the credentials expired or were revoked and could not be refreshed. Renew them (e.g. `aws sso login`), then run the same apply again to resume."
        );
    }
    if !outcome.not_attempted.is_empty() {
        println!(
            "Stopped early: {} cut(s) not attempted. The rollback file is complete.\n  To continue: hikkonuki apply {} (it resumes where this run stopped)",
            outcome.not_attempted.len(),
            args.plan.display()
        );
    }
    println!(
        "To reconnect after the incident: hikkonuki restore {}",
        rollback_path.display()
    );
    Ok(
        if outcome.failed.is_empty() && outcome.not_attempted.is_empty() {
            exit::SUCCESS
        } else {
            exit::FAILURE
        },
    )
}

/// `apply --check`: everything apply verifies before cutting, plus a dry run of each cut where the API has
/// one. Never changes the account, never writes a rollback file.
async fn check_command(
    args: &ApplyArgs,
    plan: &Plan,
    settings: &Settings,
    registry: &Registry,
) -> anyhow::Result<u8> {
    let session = AwsSession::load(&settings.connection).await;
    engine::apply::verify_account(&session, &plan.account, "plan").await?;
    let drift = engine::apply::check_drift(
        &session,
        registry,
        plan,
        &HashMap::new(),
        DEFAULT_PARALLELISM,
    )
    .await;
    let mut problems = drift.drifted.len() + drift.unverifiable.len();
    for item in &drift.drifted {
        println!(
            "drift      {}: no longer matches the plan (make a new plan)",
            item.id
        );
    }
    for (id, err) in &drift.unverifiable {
        println!("unverified {id}: {err}");
    }
    for (id, check) in
        engine::apply::check_permissions(&session, registry, plan, DEFAULT_PARALLELISM).await
    {
        match check {
            services::PermissionCheck::Allowed => println!("allowed    {id}"),
            services::PermissionCheck::Denied(err) => {
                problems += 1;
                println!("DENIED     {id}: {err}");
            }
            services::PermissionCheck::NotCheckable(why) => println!("unchecked  {id}: {why}"),
            services::PermissionCheck::Failed(err) => {
                problems += 1;
                println!("FAILED     {id}: the check itself failed: {err}");
            }
        }
    }
    println!(
        "\nCheck of {}: {problems} problem(s). Nothing was changed.",
        args.plan.display()
    );
    Ok(if problems == 0 {
        exit::SUCCESS
    } else {
        exit::FAILURE
    })
}

async fn restore_command(
    args: &RestoreArgs,
    settings: &Settings,
    registry: &Registry,
    reporter: &dyn Reporter,
) -> anyhow::Result<u8> {
    let _lock = RollbackLock::acquire(&args.rollback, "restore")?;
    let (contents, warnings) = journal::read(&args.rollback, args.force)?;
    warn_if_shared(&args.rollback, reporter);
    for message in warnings {
        reporter.event(&crate::report::Event::Warning { message });
    }
    let account = contents
        .account()
        .expect("a parsed rollback file starts with its header")
        .to_string();
    let session = AwsSession::load(&settings.connection).await;
    engine::apply::verify_account(&session, &account, "rollback file").await?;
    let lifted: Vec<&str> = if args.lift_session_revocation {
        vec!["--lift-session-revocation"]
    } else {
        vec![]
    };
    let work = engine::restore::pending(&contents, registry, &lifted)?;
    for (cut, gate) in &work.kept {
        println!(
            "Kept in place: {} ({}). Pass {} to lift it.",
            cut.id, gate.why, gate.flag
        );
    }
    for cut in &work.irreversible {
        println!(
            "Cannot be restored: {} is irreversible; its state before the cut is recorded in the rollback file.",
            cut.id
        );
    }
    let pending = work.pending;
    if pending.is_empty() {
        println!(
            "Nothing to restore: {} records no cut that is not already restored.",
            args.rollback.display()
        );
        return Ok(exit::SUCCESS);
    }
    println!("Restore will reconnect, newest cut first:");
    for item in &pending {
        let note = match item.certainty {
            engine::restore::Certainty::Completed => "",
            engine::restore::Certainty::Uncertain => {
                " (its completion was not recorded: live state decides what is put back)"
            }
        };
        println!("  {}{note}", item.cut.id);
    }
    confirm(&account, "reconnect", args.yes)?;
    let mut journal = Journal::reopen(&contents)?;
    let stop = stop_on_ctrl_c();
    let outcome = engine::restore::execute(
        &session,
        registry,
        &pending,
        &mut journal,
        Some(&stop),
        reporter,
    )
    .await?;
    println!(
        "\nRestore finished: {} restored, {} failed.",
        outcome.restored.len(),
        outcome.failed.len()
    );
    for (id, error) in &outcome.failed {
        println!("  failed: {id}: {error}");
    }
    if !outcome.not_attempted.is_empty() {
        println!(
            "Stopped early: {} cut(s) not yet restored.",
            outcome.not_attempted.len()
        );
    }
    if !outcome.failed.is_empty() || !outcome.not_attempted.is_empty() {
        println!(
            "Run `hikkonuki restore {}` again (after fixing the cause of any failure): what is restored stays restored.",
            args.rollback.display()
        );
        return Ok(exit::FAILURE);
    }
    Ok(exit::SUCCESS)
}

/// A rollback file starts (after comments) with a `- {` entry line; anything else is read as a plan.
fn looks_like_rollback(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.starts_with("- {"))
}

fn show_command(args: &ShowArgs, registry: &Registry) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("{}: cannot be read", args.file.display()))?;
    if looks_like_rollback(&text) {
        let (contents, warnings) = journal::parse(text.as_bytes(), &args.file, true)?;
        match args.format {
            ShowFormat::Text => {
                for warning in warnings {
                    println!("warning: {warning}");
                }
                print!("{}", render::journal_text(&contents));
            }
            ShowFormat::Json => println!("{}", serde_json::to_string_pretty(&contents.records)?),
        }
    } else {
        let plan = plan::parse(&text, &args.file, registry)?;
        match args.format {
            ShowFormat::Text => print!("{}", render::plan_text(&plan, false)),
            ShowFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
        }
    }
    Ok(exit::SUCCESS)
}
