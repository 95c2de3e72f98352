//! hikkonuki (引っこ抜き, "pull it out"): cut an AWS account off from the outside world during an incident,
//! and reconnect it exactly afterwards.
//!
//! # Architecture in one page
//!
//! The workflow is Terraform's: `plan` discovers and writes a reviewed document of proposed cuts, `apply`
//! performs exactly the reviewed, still-current cuts and journals each one, `restore` replays the journal
//! backwards.
//!
//! - [`cli`]: clap types, settings resolution, confirmation prompts and exit codes. The only layer that talks
//!   to the operator's terminal.
//! - [`aws`]: loads the SDK configuration once (profile, home region, endpoint override, retries) and hands
//!   out per-region contexts with lazily built clients.
//! - [`services`]: the only place `aws_sdk_*` types appear. One module per kind of cut, each holding its
//!   discovery, the cut and its exact undo behind the [`services::Containment`] trait. A new kind of cut is
//!   one new file plus one line in [`services::registry`].
//! - [`plan`]: the plan document (format version 1): parse, validate, write. Knows no AWS service; kinds are
//!   checked through the [`plan::KindCatalog`] trait that the service registry implements.
//! - [`journal`]: the rollback file. An append-only, hash-chained list of entries, each written and fsynced
//!   before the next AWS call, so a crash loses nothing.
//! - [`engine`]: plan (discover), apply (re-check live state, refuse drift, journal, cut) and restore
//!   (journal only). Emits [`report::Event`]s and never prints.
//! - [`report`]: events and documents rendered for people: diffs, progress lines, summaries.
//! - [`net`]: CIDR arithmetic used to decide what is "outside".
//! - [`pacing`]: client-side token buckets per region and API action, and the count of calls made.

pub mod aws;
pub mod cli;
pub mod engine;
pub mod journal;
pub mod net;
pub mod pacing;
pub mod plan;
pub mod report;
pub mod services;
