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
use crate::engine::{self, EngineError};
use crate::journal::lock::RollbackLock;
use crate::journal::{self, Entry, Journal};
use crate::net::Cidr;
use crate::plan::{self, Plan};
use crate::report::{Event, LineReporter, Reporter, diff, render};
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

/// Writes human text: to standard output, or to standard error when standard output carries JSON events.
macro_rules! say {
    ($settings:expr) => { $settings.say("") };
    ($settings:expr, $($arg:tt)*) => { $settings.say(&format!($($arg)*)) };
}

/// Settings every command shares, resolved from flags and environment.
struct Settings {
    connection: ConnectionSettings,
    color: bool,
    parallelism: usize,
    stats: bool,
    json: bool,
}

impl Settings {
    fn from_cli(cli: &Cli) -> anyhow::Result<Settings> {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let json = cli.output == args::OutputFormat::Json;
        let pacing = if cli.no_pacing {
            None
        } else {
            Some(crate::pacing::PacingLimits {
                read: crate::pacing::BucketLimit::parse(&cli.pace_read)
                    .map_err(|e| anyhow!("--pace-read: {e}"))?,
                write: crate::pacing::BucketLimit::parse(&cli.pace_write)
                    .map_err(|e| anyhow!("--pace-write: {e}"))?,
            })
        };
        if cli.parallelism == 0 {
            bail!("--parallelism: must be at least 1");
        }
        Ok(Settings {
            connection: ConnectionSettings {
                profile: cli.profile.clone(),
                home_region: cli.region.clone(),
                endpoint_url: cli.endpoint_url.clone().filter(|u| !u.is_empty()),
                pacing,
            },
            color: !json && !cli.no_color && !no_color_env && std::io::stdout().is_terminal(),
            parallelism: cli.parallelism,
            stats: cli.stats,
            json,
        })
    }

    fn say(&self, text: &str) {
        self.say_inline(&format!("{text}\n"));
    }

    fn say_inline(&self, text: &str) {
        use std::io::Write;
        if self.json {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }

    /// `--stats`: the calls made per service and operation, the time to seal and the total time.
    fn report_stats(
        &self,
        session: &AwsSession,
        started: std::time::Instant,
        sealed: Option<std::time::Duration>,
    ) {
        if !self.stats {
            return;
        }
        let calls = session.calls();
        let total: u64 = calls.values().sum();
        say!(self, "\nAWS calls: {total} (retries included)");
        for (operation, count) in &calls {
            say!(self, "  {count:>6}  {operation}");
        }
        if let Some(sealed) = sealed {
            say!(self, "Time to seal: {:.2} s", sealed.as_secs_f64());
        }
        say!(self, "Total time: {:.2} s", started.elapsed().as_secs_f64());
    }

    fn reporter(&self) -> Box<dyn Reporter> {
        if self.json {
            Box::new(crate::report::JsonReporter::stdout())
        } else if std::io::stderr().is_terminal() {
            Box::new(crate::report::progress::ProgressReporter::new())
        } else {
            Box::new(LineReporter::stderr())
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<u8> {
    let settings = Settings::from_cli(&cli)?;
    let registry = services::registry();
    let reporter = settings.reporter();
    let reporter = reporter.as_ref();
    match &cli.command {
        Command::Plan(args) => plan_command(args, &settings, &registry, reporter).await,
        Command::Apply(args) => apply_command(args, &settings, &registry, reporter).await,
        Command::Restore(args) => restore_command(args, &settings, &registry, reporter).await,
        Command::Show(args) => show_command(args, &registry, settings.color),
    }
}

/// `--maintenance-origin` becomes a CloudFront origin's domain name: a bare host name, checked before
/// anything is read from the account.
fn check_origin_domain(domain: &str) -> anyhow::Result<()> {
    let labels_ok = domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    // CloudFront takes no IP address as an origin; an all-digit last label also is no top-level domain.
    let ends_in_name = domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    if domain.len() > 253 || !domain.contains('.') || !labels_ok || !ends_in_name {
        bail!(
            "--maintenance-origin `{domain}` is not a host name\n  fix: give only the domain that serves the maintenance page over HTTPS, e.g. --maintenance-origin maintenance.example.com (no https://, no path, no IP address)"
        );
    }
    Ok(())
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
    let started = std::time::Instant::now();
    let keep_cidrs = parse_keep_cidrs(&args.keep_cidr)?;
    if let Some(domain) = &args.maintenance_origin {
        check_origin_domain(domain)?;
    }
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
            parallelism: settings.parallelism,
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
    settings.say_inline(&render::plan_text(&plan, settings.color));
    say!(settings, "Plan written to {}", path.display());
    if !plan.cuts.is_empty() {
        say!(
            settings,
            "Review it, then run: hikkonuki apply {}",
            path.display()
        );
    }
    for finding in &plan.findings {
        reporter.event(&Event::Finding {
            check: finding.check.clone(),
            region: finding.region.clone(),
            resource: finding.resource.clone(),
            severity: serde_json::to_value(finding.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            message: finding.message.clone(),
        });
    }
    for cut in &plan.cuts {
        reporter.event(&Event::CutProposed {
            id: cut.id.clone(),
            kind: cut.kind.clone(),
            region: cut.region.clone(),
            target: cut.target.clone(),
            enabled: cut.enabled,
            reversible: cut.reversible,
        });
    }
    settings.report_stats(&session, started, None);
    let ok = plan.discovery_errors.is_empty();
    reporter.event(&Event::Finished {
        command: "plan".into(),
        ok,
        summary: format!("{} (written to {})", plan.summary(), path.display()),
    });
    if !ok {
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
    let apply_started = std::time::Instant::now();
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
        engine::apply::check_drift(&session, registry, &plan, &progress, settings.parallelism)
            .await;
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
        settings.say_inline(&format!("\n{}", render::cut_text(cut, settings.color)));
    }
    let disabled: Vec<&str> = plan
        .cuts
        .iter()
        .filter(|c| !c.enabled)
        .map(|c| c.id.as_str())
        .collect();
    if !disabled.is_empty() {
        say!(
            settings,
            "\nSkipped (enabled: false): {}",
            disabled.join(", ")
        );
    }
    say!(settings, "\n{}", plan.summary());
    if plan.enabled_cuts().next().is_none() {
        say!(
            settings,
            "Nothing to apply: every cut is disabled or the plan has none."
        );
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
        say!(
            settings,
            "WARNING: {} cut(s) cannot be undone by restore (--allow-irreversible): {}",
            irreversible.len(),
            irreversible.join(", ")
        );
    }
    if resuming {
        say!(
            settings,
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
        parallelism: settings.parallelism,
    };
    let outcome =
        engine::apply::execute(&session, registry, &plan, &mut journal, &options, reporter).await?;

    say!(
        settings,
        "\nApply finished in {:.1} s: {} cut, {} failed, {} skipped.",
        outcome.elapsed.as_secs_f64(),
        outcome.done.len() + outcome.already_done.len(),
        outcome.failed.len(),
        outcome.skipped.len()
    );
    if let Some(sealed) = outcome.sealed_after {
        say!(settings, "Sealed in {:.1} s.", sealed.as_secs_f64());
    }
    for (id, error) in &outcome.failed {
        say!(settings, "  failed: {id}: {error}");
    }
    say!(settings, "Rollback file: {}", rollback_path.display());
    if outcome.credentials_expired {
        say!(
            settings,
            "Stopped: the credentials expired or were revoked and could not be refreshed. Renew them (e.g. `aws sso login`), then run the same apply again to resume."
        );
    }
    if !outcome.not_attempted.is_empty() {
        say!(
            settings,
            "Stopped early: {} cut(s) not attempted. The rollback file is complete.\n  To continue: hikkonuki apply {} (it resumes where this run stopped)",
            outcome.not_attempted.len(),
            args.plan.display()
        );
    }
    say!(
        settings,
        "To reconnect after the incident: hikkonuki restore {}",
        rollback_path.display()
    );
    settings.report_stats(&session, apply_started, outcome.sealed_after);
    reporter.event(&Event::Finished {
        command: "apply".into(),
        ok: outcome.failed.is_empty() && outcome.not_attempted.is_empty(),
        summary: format!(
            "{} cut, {} failed, {} skipped, {} not attempted; rollback file {}",
            outcome.done.len() + outcome.already_done.len(),
            outcome.failed.len(),
            outcome.skipped.len(),
            outcome.not_attempted.len(),
            rollback_path.display()
        ),
    });
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
        settings.parallelism,
    )
    .await;
    let mut problems = drift.drifted.len() + drift.unverifiable.len();
    for item in &drift.drifted {
        say!(
            settings,
            "drift      {}: no longer matches the plan (make a new plan)",
            item.id
        );
    }
    for (id, err) in &drift.unverifiable {
        say!(settings, "unverified {id}: {err}");
    }
    for (id, check) in
        engine::apply::check_permissions(&session, registry, plan, settings.parallelism).await
    {
        match check {
            services::PermissionCheck::Allowed => say!(settings, "allowed    {id}"),
            services::PermissionCheck::Denied(err) => {
                problems += 1;
                say!(settings, "DENIED     {id}: {err}");
            }
            services::PermissionCheck::NotCheckable(why) => {
                say!(settings, "unchecked  {id}: {why}")
            }
            services::PermissionCheck::Failed(err) => {
                problems += 1;
                say!(settings, "FAILED     {id}: the check itself failed: {err}");
            }
        }
    }
    say!(
        settings,
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
    let restore_started = std::time::Instant::now();
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
        say!(
            settings,
            "Kept in place: {} ({}). Pass {} to lift it.",
            cut.id,
            gate.why,
            gate.flag
        );
    }
    for cut in &work.irreversible {
        say!(
            settings,
            "Cannot be restored: {} is irreversible; its state before the cut is recorded in the rollback file.",
            cut.id
        );
    }
    let pending = work.pending;
    if pending.is_empty() {
        say!(
            settings,
            "Nothing to restore: {} records no cut that is not already restored.",
            args.rollback.display()
        );
        return Ok(exit::SUCCESS);
    }
    say!(settings, "Restore will reconnect, newest cut first:");
    for item in &pending {
        let note = match item.certainty {
            engine::restore::Certainty::Completed => "",
            engine::restore::Certainty::Uncertain => {
                " (its completion was not recorded: live state decides what is put back)"
            }
        };
        say!(settings, "  {}{note}", item.cut.id);
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
    say!(
        settings,
        "\nRestore finished: {} restored, {} failed.",
        outcome.restored.len(),
        outcome.failed.len()
    );
    for (id, error) in &outcome.failed {
        say!(settings, "  failed: {id}: {error}");
    }
    if !outcome.not_attempted.is_empty() {
        say!(
            settings,
            "Stopped early: {} cut(s) not yet restored.",
            outcome.not_attempted.len()
        );
    }
    settings.report_stats(&session, restore_started, None);
    reporter.event(&Event::Finished {
        command: "restore".into(),
        ok: outcome.failed.is_empty() && outcome.not_attempted.is_empty(),
        summary: format!(
            "{} restored, {} failed, {} not attempted",
            outcome.restored.len(),
            outcome.failed.len(),
            outcome.not_attempted.len()
        ),
    });
    if !outcome.failed.is_empty() || !outcome.not_attempted.is_empty() {
        say!(
            settings,
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

fn show_command(args: &ShowArgs, registry: &Registry, color: bool) -> anyhow::Result<u8> {
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
