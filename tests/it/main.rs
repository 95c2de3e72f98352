//! The one integration-test binary (one link of the AWS SDK crates instead of one per file).
//!
//! - `cli`: the command-line contract, without AWS.
//! - `security_groups`: `sg_revoke` plan → apply → restore on the emulator.

mod cli;
mod emulator;
#[path = "../../examples/leaky_account/mod.rs"]
mod leaky_account;
mod security_groups;
mod snapshot;
