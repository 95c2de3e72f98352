//! The command line as clap sees it. This is public interface: later versions add flags, never change these.
//!
//! Most flags are declared here. The flags that belong to one kind of cut are declared by the kind itself
//! (a [`PlanOption`] of `plan`, a [`RestoreGate`]'s flag of `restore`) and added by [`parse`], so a new kind
//! with an option touches only its own module.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{
    Arg, ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};

use crate::services::{PlanOption, PlanOptions, Registry, RestoreGate};

/// The command line, with the values of the kinds' own flags.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    /// `plan`: the kinds' options that were given, by flag name (unchecked).
    pub plan_options: PlanOptions,
    /// `restore`: the restore gates lifted, as their flags (e.g. `--lift-session-revocation`).
    pub lifted_gates: Vec<String>,
    /// The command line as given, quoted for a POSIX shell, for the hints that say to run it again.
    pub command_line: String,
}

/// `argv` as one line a POSIX shell reads back as the same words. Arguments that are not UTF-8 are
/// shown lossily, and one holding a NUL (no shell can pass it) as a placeholder: the line is a hint,
/// never run by the tool.
pub fn command_line(argv: &[OsString]) -> String {
    argv.iter()
        .map(|arg| {
            let arg = arg.to_string_lossy();
            shlex::try_quote(&arg)
                .map(|quoted| quoted.into_owned())
                .unwrap_or_else(|_| "'<argument holding a NUL byte>'".into())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses argv with the flags every kind in `registry` declares added to `plan` and `restore`.
pub fn parse<I, T>(argv: I, registry: &Registry) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let options = registry.plan_options();
    let gates = registry.restore_gates();
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let matches = command(registry).try_get_matches_from(&argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let mut parsed = Parsed {
        cli,
        plan_options: PlanOptions::new(),
        lifted_gates: Vec::new(),
        command_line: command_line(&argv),
    };
    match matches.subcommand() {
        Some(("plan", plan)) => {
            for option in &options {
                if option.is_switch() {
                    if plan.get_flag(option.flag) {
                        parsed
                            .plan_options
                            .insert(option.flag.to_string(), PlanOption::SWITCH_ON.to_string());
                    }
                } else if let Some(values) = plan.get_many::<String>(option.flag) {
                    let values: Vec<&str> = values.map(String::as_str).collect();
                    parsed.plan_options.insert(
                        option.flag.to_string(),
                        values.join(&PlanOption::SEPARATOR.to_string()),
                    );
                }
            }
        }
        Some(("restore", restore)) => {
            parsed.lifted_gates = lifted(restore, &gates);
        }
        _ => {}
    }
    Ok(parsed)
}

/// The whole command line: clap's definition with every kind's own flags added. Also what the shell
/// completions and the man page are generated from, so they list the kinds' flags too.
pub fn command(registry: &Registry) -> clap::Command {
    let options = registry.plan_options();
    let gates = registry.restore_gates();
    Cli::command()
        .mut_subcommand("plan", |plan| {
            options
                .iter()
                .fold(plan, |plan, option| plan.arg(option_arg(option)))
        })
        .mut_subcommand("restore", |restore| {
            gates
                .iter()
                .fold(restore, |restore, gate| restore.arg(gate_arg(gate)))
        })
}

fn option_arg(option: &PlanOption) -> Arg {
    let arg = Arg::new(option.flag).long(option.flag).help(option.help);
    match option.value_name {
        None => arg.action(ArgAction::SetTrue),
        Some(value_name) => arg.value_name(value_name).action(if option.repeatable {
            ArgAction::Append
        } else {
            ArgAction::Set
        }),
    }
}

fn gate_flag_name(gate: &RestoreGate) -> &'static str {
    gate.flag.trim_start_matches('-')
}

fn gate_arg(gate: &RestoreGate) -> Arg {
    Arg::new(gate_flag_name(gate))
        .long(gate_flag_name(gate))
        .help(gate.help)
        .action(ArgAction::SetTrue)
}

fn lifted(restore: &ArgMatches, gates: &[RestoreGate]) -> Vec<String> {
    gates
        .iter()
        .filter(|gate| restore.get_flag(gate_flag_name(gate)))
        .map(|gate| gate.flag.to_string())
        .collect()
}

#[derive(Debug, Parser)]
#[command(
    name = "hikkonuki",
    version,
    about = "Cut an AWS account off from the outside world during an incident, and reconnect it exactly afterwards.",
    after_help = "Workflow: `hikkonuki plan` → review → `hikkonuki apply PLAN` → after the incident `hikkonuki restore ROLLBACK`.\nExit codes: 0 success, 1 error or refusal, 2 enabled cuts proposed (plan with --detailed-exitcode), a cut reopened (watch) or a path from the internet reachable (verify)."
)]
pub struct Cli {
    /// AWS profile to use (the standard AWS credential chain applies otherwise).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// Home region, for account-wide calls (STS, IAM). Defaults to the AWS configuration, else us-east-1.
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint instead (e.g. an emulator) [default: AWS_ENDPOINT_URL].
    // Read from the environment by Settings, not clap's `env`: clap counts a variable's value as a flag
    // given, and then prints `--endpoint-url <URL>` in the usage line of any usage error.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// No colour in diffs (also when NO_COLOR is set, or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Debug logs on standard error (-vv for the SDK's own).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// How many regions, kinds or cuts are worked on at once, in all [default: 8 for each region the
    /// run covers, at most 64; 1 is one after the other].
    #[arg(long, global = true, value_name = "N")]
    pub parallelism: Option<usize>,

    /// Client-side pacing of EC2's non-mutating calls (and the reads of services AWS publishes no
    /// throttling table for), per region and action: BURST:PER_SECOND. Default: EC2's documented
    /// non-mutating bucket. Every other bucket follows AWS's tables.
    #[arg(
        long,
        global = true,
        value_name = "BURST:RATE",
        default_value = "100:20"
    )]
    pub pace_read: String,

    /// Client-side pacing of EC2's mutating calls (and the writes of services AWS publishes no throttling
    /// table for), per region and action: BURST:PER_SECOND. Default: EC2's documented mutating bucket.
    #[arg(long, global = true, value_name = "BURST:RATE", default_value = "50:5")]
    pub pace_write: String,

    /// Send calls as fast as the SDK can (e.g. against an emulator), except API Gateway's fixed per-account
    /// quotas (CreateDeployment: one every 5 s); throttling is still retried.
    #[arg(long, global = true)]
    pub no_pacing: bool,

    /// Print the AWS calls made per service and operation, the time to seal and the total time.
    #[arg(long, global = true)]
    pub stats: bool,

    /// `json`: one JSON object per event on standard output (JSON Lines); human text goes to standard
    /// error.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discover the account and write a plan of proposed cuts. Never changes the account.
    Plan(PlanArgs),
    /// Perform a reviewed plan, journaling every cut to a rollback file.
    Apply(ApplyArgs),
    /// Reconnect everything a rollback file records as cut.
    Restore(RestoreArgs),
    /// Look again at every cut a rollback file records as in force, and report each one undone or changed
    /// since (exit 2), optionally cutting again what was reopened. Never changes anything else.
    Watch(WatchArgs),
    /// Ask VPC Reachability Analyzer whether the internet still reaches the instances in the VPCs a
    /// rollback file's cuts are in: exit 2 if some path is reachable. Creates only the analyzer's own
    /// paths and analyses, and deletes them afterwards.
    Verify(VerifyArgs),
    /// Render a plan or a rollback file.
    Show(ShowArgs),
    /// Print a shell completion script (e.g. `hikkonuki completions bash > /etc/bash_completion.d/hikkonuki`).
    Completions(CompletionsArgs),
    /// Print the man page, in roff (e.g. `hikkonuki manpage > hikkonuki.1; man ./hikkonuki.1`).
    Manpage,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Comma-separated regions, or `all` for every region enabled for the account (the default).
    /// `--region` does not narrow this: it only sets the home region for account-wide calls.
    #[arg(long, value_name = "LIST|all")]
    pub regions: Option<String>,

    /// Where to write the plan. Default: plans/<account>-<UTC timestamp>.yaml
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Replace an existing plan at --out. Never replaces anything that is not a plan (a rollback file).
    #[arg(long)]
    pub force: bool,

    /// A range that must stay reachable (the responder's own address). Repeatable.
    #[arg(long = "keep-cidr", value_name = "CIDR")]
    pub keep_cidr: Vec<String>,

    /// Exit 0 when there is nothing to cut (no cut, or only disabled ones), 2 when enabled cuts are
    /// proposed, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Plan several accounts of the organization in one plan, from its management account (or a
    /// delegated administrator): comma-separated account IDs, an organizational unit (`ou-…`, with the
    /// units under it), or `all`. Each account is entered through --role.
    #[arg(long, value_name = "IDS|ou-…|all")]
    pub accounts: Option<String>,

    /// The role entered in each member account (`--accounts`); organization-level cuts also keep it out
    /// of their denials, so the responder can still act and restore there.
    #[arg(long, value_name = "NAME", default_value = crate::plan::DEFAULT_MEMBER_ROLE)]
    pub role: String,

    /// Print every cut's reason and whole before/after diff, instead of one line per cut.
    #[arg(long)]
    pub diff: bool,

    #[command(flatten)]
    pub select: SelectArgs,
    // Kinds add their own options here (e.g. `--maintenance-origin`): see [`parse`].
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan to perform, as written by `hikkonuki plan`.
    pub plan: PathBuf,

    /// Skip the confirmation (for automation, after review).
    #[arg(long)]
    pub yes: bool,

    /// Where to journal the way back. Default: <plan stem>.rollback.yaml beside the plan; for a plan over
    /// several accounts, a directory (default <plan stem>.rollback/) with one file per account.
    #[arg(long, value_name = "FILE|DIR")]
    pub rollback: Option<PathBuf>,

    /// Also perform enabled cuts that restore cannot undo (e.g. deleting a VPC endpoint).
    #[arg(long)]
    pub allow_irreversible: bool,

    /// Stop at the first failed cut instead of going on with the others.
    #[arg(long)]
    pub fail_fast: bool,

    /// Change nothing: check the account, drift and, where the API has a dry run, the permission for
    /// every enabled cut, and report what would be denied.
    #[arg(long)]
    pub check: bool,

    /// Leave out the cuts whose resource changed since the plan (listed) and apply the rest. Without it,
    /// one drifted cut refuses the whole apply.
    #[arg(long)]
    pub skip_drifted: bool,

    /// A plan over several accounts: leave out the accounts that cannot be entered now (a role deleted
    /// or changed since the plan, an account suspended), each reported as stopped with nothing there cut,
    /// and apply the others. Without it, one such account refuses the whole apply.
    #[arg(long)]
    pub skip_unreachable_accounts: bool,

    #[command(flatten)]
    pub select: SelectArgs,
}

/// Which cuts to take, instead of editing the plan: on `plan`, what is discovered and kept; on `apply`,
/// which of the reviewed plan's enabled cuts are performed (never more than the plan enables).
#[derive(Debug, Args, Default)]
pub struct SelectArgs {
    /// Only these kinds of cut (comma-separated names, e.g. sg_revoke,route_remove).
    #[arg(long, value_name = "LIST")]
    pub kinds: Option<String>,

    /// Leave out these kinds of cut (comma-separated names).
    #[arg(long, value_name = "LIST")]
    pub exclude_kinds: Option<String>,

    /// Only cuts whose ID (kind/region/target) or target matches, whole; `*` stands for any characters
    /// (e.g. `sg-0ab*`, `*/eu-west-1/*`). Repeatable.
    #[arg(long = "target", value_name = "ID_OR_PATTERN")]
    pub targets: Vec<String>,

    /// Only cuts of resources in this VPC (an ID, or a pattern with `*`): its security groups, network
    /// ACLs, route tables, endpoints and gateways. Cuts outside any VPC (keys, buckets) are left out.
    /// Repeatable.
    #[arg(long = "vpc", value_name = "VPC_ID")]
    pub vpcs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The rollback file apply wrote, or, for a plan over several accounts, the directory of the
    /// accounts' rollback files (or one account's file in it).
    pub rollback: PathBuf,

    /// The role accounts other than the credentials' own are entered through (a plan over several
    /// accounts). By default, the role apply recorded in each file (else OrganizationAccountAccessRole
    /// for a directory); a file that records none is entered through a role only when this is given.
    #[arg(long, value_name = "NAME")]
    pub role: Option<String>,

    /// Skip the confirmation.
    #[arg(long)]
    pub yes: bool,

    /// Restore even if the rollback file's entry chain is broken (it was edited). Prints what is wrong.
    #[arg(long)]
    pub force: bool,

    /// Change nothing: run every check restore runs, then show what it would put back, cut by cut and
    /// rule by rule, and what it keeps or cannot undo.
    #[arg(long)]
    pub dry_run: bool,
    // Kinds add the flags that lift their restore gates here (e.g. `--lift-session-revocation`): see
    // [`parse`].
}

impl SelectArgs {
    /// The selection these flags ask for, kind names checked against `registry`.
    pub fn selection(&self, registry: &Registry) -> anyhow::Result<crate::plan::select::Selection> {
        let known: Vec<&str> = registry.all().map(|kind| kind.info().name).collect();
        crate::plan::select::Selection::new(
            self.kinds.as_deref(),
            self.exclude_kinds.as_deref(),
            &self.targets,
            &known,
        )
        .and_then(|selection| selection.in_vpcs(&self.vpcs))
        .map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The rollback file apply wrote.
    pub rollback: PathBuf,

    /// Look once and exit: 0 when every cut held (or was cut again), 2 when one is still open (reopened
    /// and not re-cut, or changed), 1 on error (for a loop or a scheduler).
    #[arg(long)]
    pub once: bool,

    /// Seconds between looks (without --once), e.g. 60 or 60s or 5m.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_interval)]
    pub interval: std::time::Duration,

    /// Cut again each cut found reopened (back as before it, or, for security groups, its revoked rules
    /// authorized again as they were under new IDs), journaled in the same rollback file (restore undoes
    /// it like the first). A cut changed in another way is reported, never re-cut.
    #[arg(long)]
    pub recut: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The rollback file apply wrote.
    pub rollback: PathBuf,

    /// How long all the analyses together may take (e.g. 300s or 5m); a path still being analyzed then
    /// is reported as timed out (exit 1), and its analyzer resources are deleted all the same.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_interval)]
    pub timeout: std::time::Duration,

    /// Only these VPCs of the cuts in force (an ID, or a pattern with `*`): each analysis takes seconds
    /// to minutes, so a large account is verified a few VPCs at a time. Repeatable.
    #[arg(long = "vpc", value_name = "VPC_ID")]
    pub vpcs: Vec<String>,
}

/// `60`, `60s`, `5m`: at least one second, at most a day.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.strip_suffix('m') {
        Some(minutes) => (minutes, 60),
        None => (text.strip_suffix('s').unwrap_or(text), 1),
    };
    let seconds: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 60s, 5m)"))?;
    match seconds.checked_mul(unit) {
        Some(total @ 1..=86_400) => Ok(std::time::Duration::from_secs(total)),
        _ => Err(format!("`{text}`: give between 1s and 24 hours")),
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan or a rollback file.
    pub file: PathBuf,

    /// How to render the file: text by default, json with `--output json` (a script asking for JSON
    /// gets the document as JSON).
    #[arg(long, value_enum)]
    pub format: Option<ShowFormat>,

    /// A plan as text: print every cut's reason and whole before/after diff, instead of one line per cut.
    #[arg(long)]
    pub diff: bool,

    /// A rollback file: also ask AWS how far the work the cuts started has got (evidence snapshots still
    /// being copied: "snap-1 completed, snap-2 pending 40%"). Read-only calls with the usual credentials,
    /// after checking they are for the file's account as watch and restore do; changes nothing. Text or
    /// json.
    #[arg(long)]
    pub live: bool,
}

impl ShowArgs {
    /// The format asked for, else JSON under `--output json`, else text.
    pub fn format_under(&self, json_output: bool) -> ShowFormat {
        self.format.unwrap_or(if json_output {
            ShowFormat::Json
        } else {
            ShowFormat::Text
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
    /// An incident report of a rollback file, ready to paste into a ticket.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[cfg(test)]
mod switch_tests;

#[cfg(test)]
mod readme_tests;
