//! From argv to work: clap types ([`args`]) with the kinds' own flags added, resolved into [`settings`],
//! then one module per subcommand ([`plan`], [`apply`], [`restore`], [`show`]). This layer alone talks to
//! the operator: it prints documents to standard output, progress to standard error, asks for
//! confirmation ([`prompt`], the terminal's side of [`crate::engine::Operator`]), and maps outcomes to exit
//! codes. It decides nothing: every gate is the engine's.

use std::process::ExitCode;

/// Writes human text: to standard output, or to standard error when standard output carries JSON events.
macro_rules! say {
    ($settings:expr) => { $settings.say("") };
    ($settings:expr, $($arg:tt)*) => { $settings.say(&format!($($arg)*)) };
}

mod apply;
pub mod args;
mod logging;
mod plan;
mod prompt;
mod restore;
pub mod settings;
mod show;
mod verify;
mod watch;

use crate::services;
use args::Command;
use settings::Settings;

/// Exit codes, as the README documents them.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const CUTS_PROPOSED: u8 = 2;
}

/// The most lines of one error shown (the tool's own errors take two or three).
const ERROR_LINES: usize = 20;

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
    let registry = services::registry();
    let parsed = match args::parse(argv, &registry) {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                exit::FAILURE
            } else {
                exit::SUCCESS
            };
        }
    };
    logging::init(parsed.cli.verbose);
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
    match runtime.block_on(execute(parsed, &registry)) {
        Ok(code) => code,
        Err(err) => {
            // The error may quote a plan, a rollback file or an AWS answer (a whole HTTP body): each line
            // is escaped and capped, and a long chain is cut short.
            eprintln!(
                "error: {}",
                crate::report::escape::lines(&format!("{err:#}"), ERROR_LINES)
            );
            exit::FAILURE
        }
    }
}

async fn execute(parsed: args::Parsed, registry: &services::Registry) -> anyhow::Result<u8> {
    let settings = Settings {
        command_line: parsed.command_line.clone(),
        ..Settings::from_cli(&parsed.cli)?
    };
    let reporter = settings.reporter();
    let result = execute_command(&parsed, registry, &settings, reporter.as_ref()).await;
    if let Err(err) = &result {
        // For a script reading the events (`--output json`): the refusal or error, then the end. People
        // read the same error on standard error.
        let message = format!("{err:#}");
        let refused = err
            .downcast_ref::<crate::engine::EngineError>()
            .is_some_and(crate::engine::EngineError::is_refusal);
        reporter.event(&if refused {
            crate::report::Event::Refused { message }
        } else {
            crate::report::Event::Error { message }
        });
        reporter.event(&crate::report::Event::Finished {
            command: command_name(&parsed.cli.command).into(),
            ok: false,
            summary: if refused {
                "refused: nothing was changed by this command".into()
            } else {
                "failed (see the error event)".into()
            },
            tally: crate::report::Tally::default(),
        });
    }
    result
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Plan(_) => "plan",
        Command::Apply(_) => "apply",
        Command::Restore(_) => "restore",
        Command::Show(_) => "show",
        Command::Watch(_) => "watch",
        Command::Verify(_) => "verify",
        Command::Completions(_) => "completions",
        Command::Manpage => "manpage",
    }
}

async fn execute_command(
    parsed: &args::Parsed,
    registry: &services::Registry,
    settings: &Settings,
    reporter: &dyn crate::report::Reporter,
) -> anyhow::Result<u8> {
    match &parsed.cli.command {
        Command::Plan(args) => {
            plan::plan_command(args, &parsed.plan_options, settings, registry, reporter).await
        }
        Command::Apply(args) => apply::apply_command(args, settings, registry, reporter).await,
        Command::Restore(args) => {
            restore::restore_command(args, &parsed.lifted_gates, settings, registry, reporter).await
        }
        Command::Show(args) if args.live => show::show_live(args, settings, registry).await,
        Command::Show(args) => show::show_command(args, registry, settings),
        Command::Watch(args) => watch::watch_command(args, settings, registry, reporter).await,
        Command::Verify(args) => verify::verify_command(args, settings, registry, reporter).await,
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(
                args.shell,
                &mut args::command(registry),
                "hikkonuki",
                &mut out,
            );
            show::write_out(&String::from_utf8_lossy(&out))?;
            Ok(exit::SUCCESS)
        }
        Command::Manpage => {
            let mut out = Vec::new();
            clap_mangen::Man::new(args::command(registry)).render(&mut out)?;
            show::write_out(&String::from_utf8_lossy(&out))?;
            Ok(exit::SUCCESS)
        }
    }
}
