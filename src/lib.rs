//! hikkonuki (引っこ抜き, "pull it out"): cut an AWS account off from the outside world during an incident,
//! and reconnect it exactly afterwards.
//!
//! # Architecture in one page
//!
//! The workflow is Terraform's: `plan` discovers and writes a reviewed document of proposed cuts, `apply`
//! performs exactly the reviewed, still-current cuts and journals each one, `restore` replays the journal
//! backwards.
//!
//! ## Layers (each imports only those below it; there are no import circles)
//! - [`cli`]: clap types (with the flags kinds declare added), settings, one module per subcommand, and
//!   the terminal's side of [`engine::Operator`]. It renders and asks; it decides nothing.
//! - [`engine`]: the safety sequences. [`engine::discover`] makes a plan; [`engine::apply::run`] and
//!   [`engine::restore::run`] walk every gate (see below) and refuse with a typed [`engine::EngineError`].
//!   Emits [`report::Event`]s and never prints.
//! - [`services`]: the only place `aws_sdk_*` types appear. Kinds of cut grouped by the door they close
//!   (`network`, `identity`, `mail`, `storage`, `serverless`, `edge`), findings apart (`findings`), the seam
//!   in [`services::kind`] and the declared order in [`services::registry`]. A new kind is one file in its
//!   door's folder plus one registry line (the checklist is in [`services`]).
//! - [`report`]: events and documents rendered for people: diffs, progress lines, summaries.
//! - [`journal`]: the rollback file. An append-only, hash-chained list of entries, each authenticated with
//!   HMAC under a key kept outside the file and written and fsynced before the next AWS call, so a crash
//!   loses nothing and a forged entry is refused. The lock is the operating system's, on the file itself.
//! - [`aws`]: loads the SDK configuration once (profile, home region, endpoint override, retries) and hands
//!   out per-region contexts with lazily built clients. [`runner`]: where hikkonuki itself runs, when on
//!   an EC2 instance (its VPC, subnet and groups, from the instance metadata service).
//! - [`plan`]: the plan document (format version 1): parse, validate, write. Knows no AWS service; kinds
//!   are checked through the [`plan::KindCatalog`] trait that the registry implements.
//! - [`service_error`], [`net`], [`pacing`], [`call_outcomes`], [`files`]: the one AWS error type, CIDR
//!   arithmetic, client-side token buckets and call counts, how a cut's writes were answered, and opening
//!   untrusted files (regular files only, bounded).
//!
//! ## Kinds, phases and findings
//! A kind implements [`services::CutKind`] with its own `State` (what `before` and `after` record) and
//! `Undo` (what the rollback file keeps) types; one blanket adapter turns every kind into the object-safe
//! [`services::Containment`] the engine holds, decoding and encoding at that boundary only. Each kind
//! declares its phase: sealing kinds (network ACLs, routes, gateways) run first so the account is closed as
//! early as possible, per-resource kinds follow; restore walks the declared order backwards. Kinds declare
//! their own `plan` options and restore gates, which the CLI turns into flags. [`services::Inspection`]s
//! produce findings: what the responder must know that no cut changes. They never change the account.
//!
//! ## The path of a cut's `before`
//! 1. **Discovery** ([`engine::discover`]): a kind reads the live resource into its `State` and proposes
//!    `before` (now) and `after` (once cut); the adapter writes both into the plan as documents.
//! 2. **The plan** ([`plan`]): written as YAML, reviewed, perhaps switched off (`enabled: false`). On read,
//!    each cut's states are decoded into the kind's type and checked by the kind (`check_states`).
//! 3. **Drift check** ([`engine::apply::check_drift`]): the kind observes the resource again; a live state
//!    different from `before` refuses the whole plan before anything changes.
//! 4. **The journal** ([`journal`]): an `intent` entry holding the whole cut is written before the call, a
//!    `done` entry with the kind's undo record after it.
//! 5. **Restore** ([`engine::restore`]): from the rollback file alone, each cut's undo record (or, for a cut
//!    whose completion was never recorded, the record derived from its `intent`) is handed back to its kind,
//!    which puts back what the cut took and reports, never overwrites, what changed since.
//!
//! ## Tests
//! Unit tests live in a `tests` module at the end of the file they test or, when long, in `tests.rs` in
//! that module's own folder (`services/network/igw_detach/tests.rs`); mocked AWS answers
//! (`aws-smithy-mocks`) sit with the kind they exercise. Everything that runs the binary or the emulator
//! is in the one integration binary, `tests/it/`.
//!
//! ## Apply's gates, in order (owned by [`engine::apply::run`])
//! Read the plan once and hash the same bytes; lock the rollback file; resume only a file written for this
//! account and these plan bytes; check the account; refuse drift; show the plan; refuse enabled
//! irreversible cuts unless allowed; ask the operator; write the journal header; cut.

pub mod aws;
pub mod call_outcomes;
pub mod cli;
pub mod engine;
pub mod files;
pub mod journal;
pub mod net;
pub mod pacing;
pub mod plan;
pub mod report;
pub mod runner;
pub mod service_error;
pub mod services;
