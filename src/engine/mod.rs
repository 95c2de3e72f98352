//! The three workflows: [`discover`] makes a plan, [`apply`] performs it, [`restore`] undoes it from the
//! rollback file alone. They talk to AWS only through [`crate::services::Containment`], to people only
//! through [`crate::report::Event`] and the [`Operator`] trait, and refuse with a typed [`EngineError`].
//!
//! The engine owns the safety sequence. [`apply::run`] reads the plan once and hashes the same bytes,
//! takes the rollback file's lock, decides whether to resume, checks the account, refuses drift, refuses
//! irreversible cuts unless allowed, asks the operator, writes the journal header and only then cuts;
//! [`restore::run`] likewise for the way back. A caller (the CLI, a test, a runner over many accounts)
//! cannot skip a gate: it only supplies the request, the operator and the reporter.

use std::path::PathBuf;

use crate::aws::{AwsSession, CallerIdentity};
use crate::journal::JournalError;
use crate::journal::lock::LockError;
use crate::plan::{Plan, PlanError};
use crate::services::ServiceError;

pub mod apply;
pub mod discover;
pub mod organization;
pub mod progress;
pub mod restore;
pub mod verify;
pub mod watch;

#[cfg(test)]
mod restore_order_tests;
#[cfg(test)]
mod tests;

/// How many cuts, undos or reads are worked on at once in each region a run covers, by default. AWS
/// throttles per region and per action (client-side pacing keeps each bucket's budget), so a region's
/// width does not depend on how many others the run covers.
pub const DEFAULT_PARALLELISM: usize = 8;

/// The most calls the default lets run at once over all regions: the client's own share (connections,
/// memory, the journal's one writer) stays bounded however many regions the account spans.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// How many regions, kinds, cuts or undos are worked on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// `--parallelism N`: at most N at once over the whole run, whatever it covers; 1 is one after the
    /// other (the crash tests, and anyone who wants to watch one cut at a time, rely on it).
    AtMost(usize),
    /// No `--parallelism`: [`DEFAULT_PARALLELISM`] for each region the run covers, at most
    /// [`DEFAULT_MAX_IN_FLIGHT`] in all. With one width for the whole run, an account of eight regions
    /// got an eighth of one region's: each region's buckets sat full while its cuts waited for a worker
    /// (issue 16's benchmark: 8 regions x 4 VPCs x 40 groups took 2.2x the bound the buckets set).
    #[default]
    PerRegion,
}

impl Parallelism {
    /// The width for a run over `regions` regions (at least 1).
    pub fn over(self, regions: usize) -> usize {
        match self {
            Parallelism::AtMost(n) => n.max(1),
            Parallelism::PerRegion => DEFAULT_PARALLELISM
                .saturating_mul(regions.max(1))
                .min(DEFAULT_MAX_IN_FLIGHT),
        }
    }

    /// The width for a run over the regions `cuts` name.
    pub fn over_regions_of<'c>(self, cuts: impl Iterator<Item = &'c crate::plan::Cut>) -> usize {
        let regions: std::collections::HashSet<&str> = cuts.map(|c| c.region.as_str()).collect();
        self.over(regions.len())
    }
}

/// Why the engine did not (or could not fully) do what was asked. Every refusal happens before the
/// account is changed, and says so.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "the {what} was made for account {expected}, but the credentials in use belong to account {actual} ({caller})\n  fix: use credentials for account {expected} (e.g. --profile), or make a new plan for account {actual}",
        // The expected account is read from the file: shown escaped, so it cannot fake a line.
        expected = crate::report::escape::visible(.expected)
    )]
    WrongAccount {
        what: &'static str,
        expected: String,
        actual: String,
        caller: String,
    },
    #[error(
        "could not identify the caller: {0}\n  fix: check the AWS credentials (profile, environment) and the endpoint"
    )]
    Identity(ServiceError),
    /// No credentials anywhere the SDK looks: said in one line, with how to provide them, naming the
    /// profile that was to sign when one was named (by `--profile` or `AWS_PROFILE`).
    #[error("no AWS credentials found: {}", no_credentials_fix(.0.as_ref()))]
    NoCredentials(Option<crate::aws::SigningProfile>),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Lock(#[from] LockError),
    // Transparent: with a message of its own the error would also be its own source, and the CLI,
    // which prints the chain, would print it twice.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A rollback file exists at the path apply would write, and it is not this plan's.
    #[error(
        "{path}: already exists and may hold the way back from an earlier apply\n  fix: restore it first (`hikkonuki restore {path}`), or choose another file with --rollback\n  ({why})",
        path = rollback.display()
    )]
    NotResumable { rollback: PathBuf, why: String },
    /// Resources changed since the plan was made: the plan no longer says what apply would do.
    #[error(
        "refusing to apply {plan}: {} cut(s) no longer match the account and {} could not be checked. The plan is stale: make a new one with `hikkonuki plan`, or pass --skip-drifted to apply the rest and leave these open. Nothing was changed.",
        drift.drifted.len(),
        drift.unverifiable.len(),
        plan = plan.display()
    )]
    Drift {
        plan: PathBuf,
        drift: apply::DriftCheck,
    },
    /// Cuts whose `after` is not what the kind derives from the live resource: the plan was edited
    /// somewhere other than `enabled`, or made by a version whose rules differ.
    #[error(
        "refusing to apply {plan}: {} cut(s) would not do what the kind derives from the live account:\n{}\n  fix: make a new plan with `hikkonuki plan`: the plan was edited somewhere other than `enabled` (only that, or deleting whole cuts, is allowed), or made by a hikkonuki whose rules differ from this one's. Nothing was changed.",
        underived.len(),
        // Each on its own line: a newline quoted from the plan (an option's name) must not start one.
        underived.iter().map(|u| format!("  {}: {}", crate::report::escape::visible(&u.id), crate::report::escape::visible(&u.problem))).collect::<Vec<_>>().join("\n"),
        plan = plan.display()
    )]
    Underived {
        plan: PathBuf,
        underived: Vec<apply::Underived>,
    },
    /// Enabled cuts that restore cannot undo, without `--allow-irreversible`.
    #[error(
        "refusing to apply {plan}: these enabled cuts cannot be undone by restore: {}\n  fix: pass --allow-irreversible if you mean it, or set them to `enabled: false`. Nothing was changed.",
        crate::report::escape::field(&ids.join(", ")),
        plan = plan.display()
    )]
    Irreversible { plan: PathBuf, ids: Vec<String> },
    /// The operator did not confirm (or could not be asked); the text says which.
    #[error("{0}")]
    Declined(String),
    #[error("{message}")]
    Refused { message: String },
    /// A plan over several accounts, with `--skip-unreachable-accounts`: this account could not be
    /// entered, so nothing there was cut; the others were applied.
    #[error(
        "not entered, nothing there was cut (--skip-unreachable-accounts): {why}\n  fix: restore the role (or pass --role), then run the same apply again: the other accounts resume where they are, and this one is cut"
    )]
    NotEntered { account: String, why: String },
    /// A plan over several accounts: these accounts refused (each with its own reason), so no account
    /// was cut.
    #[error(
        "refusing to apply {plan}: {} account(s) did not pass the checks, so no account was changed:\n{}",
        refusals.len(),
        refusals.iter().map(|(account, err)| format!("  account {}: {}", crate::report::escape::visible(account), err.to_string().replace('\n', "\n    "))).collect::<Vec<_>>().join("\n"),
        plan = plan.display()
    )]
    Accounts {
        plan: PathBuf,
        refusals: Vec<(String, EngineError)>,
    },
}

impl EngineError {
    /// Whether the engine refused (the input, or the account's state, says no) rather than failed (the
    /// credentials, the network, the disk): `refused` or `error` among the JSON events.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            EngineError::Identity(_) | EngineError::NoCredentials(_) | EngineError::Journal(_)
        )
    }

    /// The caller of `session` could not be identified: [`EngineError::NoCredentials`] when no
    /// credentials were found at all, the call's own error otherwise.
    pub fn identity(session: &AwsSession, err: ServiceError) -> EngineError {
        if err.is_missing_credentials() {
            EngineError::NoCredentials(session.signing_profile().cloned())
        } else {
            EngineError::Identity(err)
        }
    }
}

/// What is true of missing credentials, and how to provide them: a profile named (`--profile`,
/// `AWS_PROFILE`) that exists (an unknown one is refused when the session is loaded) but gives none is
/// named, where the generic advice would tell the operator to pass the `--profile` they passed.
fn no_credentials_fix(profile: Option<&crate::aws::SigningProfile>) -> String {
    use crate::aws::ProfileOrigin;
    match profile {
        Some(profile) if profile.origin != ProfileOrigin::Default => {
            let name = shlex::try_quote(&profile.name)
                .map(|quoted| quoted.into_owned())
                .unwrap_or_else(|_| profile.name.clone());
            format!(
                "{profile} names a profile that exists but gives none: add keys to it (`aws configure --profile {name}`), run `aws sso login --profile {name}` first if it is an SSO profile, or {}",
                profile.another()
            )
        }
        _ => "pass --profile NAME (`aws sso login --profile NAME` first for an SSO profile), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
    }
}

/// The person at the keyboard, as the engine sees them: shown what is about to happen, and asked. The CLI
/// implements it with the terminal; tests and automation with a fixed answer.
pub trait Operator: Sync {
    /// The plan is current (no drift among the cuts taken): what apply would do, and the enabled cuts it
    /// leaves out and why, shown before any gate so a refusal follows the listing it refers to.
    fn review_apply(&self, plan: &Plan, left_out: &[apply::LeftOut]);
    /// A plan over several accounts: each account's part as this run performs it, and what it leaves
    /// out, before the one confirmation. By default each account is reviewed as a plan of its own.
    fn review_accounts(&self, accounts: &[(&Plan, &[apply::LeftOut])]) {
        for (plan, left_out) in accounts {
            self.review_apply(plan, left_out);
        }
    }
    /// Every gate has passed; `Err` says why the operator did not confirm. Nothing has changed yet.
    fn confirm_apply(&self, confirmation: &apply::ApplyConfirmation<'_>) -> Result<(), String>;
    /// What restore keeps on purpose and cannot undo, before it is decided whether anything is pending.
    fn review_restore(&self, work: &restore::RestoreWork);
    /// `Err` says why the operator did not confirm. Nothing has changed yet.
    fn confirm_restore(&self, account: &str, work: &restore::RestoreWork) -> Result<(), String>;
    /// One account's file of a directory restored with `--force` did not authenticate: what it puts
    /// back, whole and under the account's name, before the one confirmation. By default nothing more
    /// than the confirmation's own listing.
    fn review_unauthenticated(&self, _account: &str, _work: &restore::RestoreWork) {}
}

/// Checks that the credentials in use belong to `expected`; `what` names the document ("plan",
/// "rollback file") in the refusal.
pub async fn verify_account(
    session: &AwsSession,
    expected: &str,
    what: &'static str,
) -> Result<CallerIdentity, EngineError> {
    let caller = session
        .caller_identity()
        .await
        .map_err(|err| EngineError::identity(session, err))?;
    if caller.account != expected {
        return Err(EngineError::WrongAccount {
            what,
            expected: expected.to_string(),
            actual: caller.account.clone(),
            caller: caller.arn.clone(),
        });
    }
    Ok(caller)
}

/// A document the engine reads that others may write could have been changed by someone other than the
/// responder: said as a warning, once, before it is used.
fn warn_if_shared(path: &std::path::Path, reporter: &dyn crate::report::Reporter) {
    if crate::plan::file::writable_by_others(path) {
        reporter.event(&crate::report::Event::Warning {
            message: format!(
                "{} is writable by other users: someone else could have changed it. Check it, and `chmod 600` it.",
                path.display()
            ),
        });
    }
}
