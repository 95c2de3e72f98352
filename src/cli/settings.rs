//! Settings every subcommand shares, resolved from flags and environment, and where human text goes.

use std::io::IsTerminal;

use anyhow::{anyhow, bail};

use super::args::{self, Cli};
use crate::aws::{AwsSession, ConnectionSettings};
use crate::engine::Parallelism;
use crate::report::{LineReporter, Reporter};

/// Settings every command shares, resolved from flags and environment.
pub struct Settings {
    pub connection: ConnectionSettings,
    pub color: bool,
    pub parallelism: Parallelism,
    pub stats: bool,
    pub json: bool,
    /// The command line as given, quoted ([`super::args::command_line`]): what "run it again" means.
    pub command_line: String,
}

impl Settings {
    pub fn from_cli(cli: &Cli) -> anyhow::Result<Settings> {
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
        let parallelism = match cli.parallelism {
            Some(0) => bail!("--parallelism: must be at least 1"),
            Some(n) => Parallelism::AtMost(n),
            None => Parallelism::PerRegion,
        };
        Ok(Settings {
            connection: ConnectionSettings {
                profile: cli.profile.clone(),
                home_region: cli.region.clone(),
                endpoint_url: match &cli.endpoint_url {
                    Some(url) => Some(url.clone()),
                    None => endpoint_from_env()?,
                }
                .filter(|u| !u.is_empty()),
                pacing,
            },
            color: !json && !cli.no_color && !no_color_env && std::io::stdout().is_terminal(),
            parallelism,
            stats: cli.stats,
            json,
            command_line: String::new(),
        })
    }

    pub fn say(&self, text: &str) {
        self.say_inline(&format!("{text}\n"));
    }

    pub fn say_inline(&self, text: &str) {
        use std::io::Write;
        if self.json {
            let _ = std::io::stderr().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }

    /// `--stats`: the calls made per service and operation, the time to seal and the total time.
    pub fn report_stats(
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

    pub fn reporter(&self) -> Box<dyn Reporter> {
        if self.json {
            Box::new(crate::report::JsonReporter::stdout())
        } else if std::io::stderr().is_terminal() {
            Box::new(crate::report::progress::ProgressReporter::new())
        } else {
            Box::new(LineReporter::stderr())
        }
    }
}

/// `AWS_ENDPOINT_URL`, when `--endpoint-url` is not given. A value that is not UTF-8 is refused: read as
/// unset, the run would go to AWS itself while the operator meant an emulator or a private endpoint
/// (and the SDK, reading the variable itself, drops such a value too).
fn endpoint_from_env() -> anyhow::Result<Option<String>> {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => Ok(Some(url)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!(
            "AWS_ENDPOINT_URL is set, but not to UTF-8 text, so it names no endpoint\n  fix: set it to the endpoint's URL (e.g. http://127.0.0.1:5000), or unset it to reach AWS itself"
        ),
    }
}
