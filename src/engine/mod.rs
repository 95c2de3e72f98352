//! The three workflows: [`discover`] makes a plan, [`apply`] performs it, [`restore`] undoes it from the
//! rollback file alone. They talk to AWS only through [`crate::services::Containment`] and to people only
//! through [`crate::report::Event`].

use crate::journal::JournalError;
use crate::services::ServiceError;

pub mod apply;
pub mod discover;
pub mod restore;

/// How many regions, or cuts, are worked on at once. AWS throttles per region and per action, and the
/// SDK retries throttled calls; this bound keeps a large account from turning into a throttling storm.
pub const DEFAULT_PARALLELISM: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "the {what} was made for account {expected}, but the credentials in use belong to account {actual} ({caller})\n  fix: use credentials for account {expected} (e.g. --profile), or make a new plan for account {actual}"
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
    #[error("{0}")]
    Journal(#[from] JournalError),
    #[error("{message}")]
    Refused { message: String },
}
