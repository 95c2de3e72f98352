//! Restore: read the rollback file, and undo, newest first, every cut it shows was made (or may have been
//! made) and not yet restored. Nothing but the rollback file decides what is undone.
//!
//! [`run`] is the sequence: take the rollback file's lock, read and verify the file, check the account,
//! work out what is pending and what the kinds' restore gates keep, show it, ask, then undo ([`execute`]).
//! `--dry-run` stops before asking.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::plan::CompactJson;
use futures_util::{StreamExt, future, stream};

use super::{EngineError, Operator, Parallelism, verify_account, warn_if_shared};
use crate::aws::AwsSession;
use crate::journal::keys::KeyStore;
use crate::journal::lock::RollbackFile;
use crate::journal::{self, Entry, Journal, JournalContents, Record};
use crate::pacing::WidthShare;
use crate::plan::Cut;
use crate::report::escape::visible;
use crate::report::{Event, Reporter};
use crate::services::{Footprint, Registry, RestoreGate};

/// How sure the journal is that a cut happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certainty {
    /// Its completion was recorded.
    Completed,
    /// Its intent was recorded but not its completion (a crash), or the call failed part-way: the undo
    /// checks live state and puts back only what is missing.
    Uncertain,
}

#[derive(Debug, Clone)]
pub struct PendingRestore {
    pub cut: Cut,
    pub certainty: Certainty,
    /// From the `done` entry when there is one.
    pub undo: Option<CompactJson>,
    /// 1 for the cut apply made; 2 and up for each re-cut by `watch --recut` from a state the resource
    /// came back in (see [`pending`]).
    pub generation: usize,
}

impl PendingRestore {
    /// What the operator should know of this undo beside the cut's ID: how sure the journal is that the
    /// cut happened, and whether it is a re-cut.
    pub fn note(&self) -> String {
        let mut note = match self.certainty {
            Certainty::Completed => String::new(),
            Certainty::Uncertain => {
                " (its completion was not recorded: live state decides what is put back)".into()
            }
        };
        if self.generation > 1 {
            note.push_str(&format!(
                " (re-cut {} by watch: undone before the cut it repeats)",
                self.generation - 1
            ));
        }
        note
    }
}

/// What restore will do: the cuts to undo, newest first, and the irreversible cuts it cannot undo.
#[derive(Debug, Default)]
pub struct RestoreWork {
    pub pending: Vec<PendingRestore>,
    /// Cuts that happened (or may have) and that no undo can give back; the rollback file keeps their
    /// recorded state for the people who rebuild them.
    pub irreversible: Vec<Cut>,
    /// Cuts restore keeps on purpose unless the operator passes the gate's flag.
    pub kept: Vec<(Cut, RestoreGate)>,
    /// Entries whose undo record is not the one their cut implies, or whose cut breaks its kind's rules
    /// (a malformed cut, a region that is none): apply never writes such an entry. Restore refuses the
    /// file over them; with `--force` it restores the other cuts and leaves these out ([`Self::refused`]).
    pub unverified: Vec<Unverified>,
    /// With `--force`: the cuts [`Self::unverified`] names, taken out of `pending` and reported as not
    /// restored. `--force` accepts a file it cannot authenticate, never an entry apply could not have
    /// written.
    pub refused: Vec<Unverified>,
    /// The file could not be authenticated (read with `--force`): what it says to put back is only as
    /// good as the operator's review, so every pending cut keeps its states, to be shown whole before
    /// the question.
    pub unauthenticated: bool,
}

/// One entry restore does not carry out as written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// The cut the entry belongs to.
    pub id: String,
    /// What is wrong, with the entry's number; account-held text in it is already made visible.
    pub problem: String,
}

/// What the operator asked restore to do.
#[derive(Debug, Clone, Default)]
pub struct RestoreRequest {
    pub rollback: PathBuf,
    /// Go on although the entry chain is broken (every break is still reported).
    pub force: bool,
    /// The restore gates lifted, by flag (e.g. `--lift-session-revocation`).
    pub lifted: Vec<String>,
    /// Where the rollback file's authentication key is found.
    pub keys: KeyStore,
    /// Run every check, work out what would be undone, and stop there: nothing is asked or changed.
    pub dry_run: bool,
    /// How many undos run at once (`--parallelism`), resolved over the regions of the pending cuts.
    /// Each kind's undos still finish before the next kind's start, and a cut's generations are undone
    /// one after the other.
    pub parallelism: Parallelism,
    /// `restore --role`: the role accounts other than the credentials' own are entered through. When
    /// `None`, the role each file records apply entered its account through (a run over an
    /// organization), else, in a directory of several accounts' files,
    /// [`crate::plan::DEFAULT_MEMBER_ROLE`]; one file that records none is restored with the
    /// credentials' own account.
    pub role: Option<String>,
}

/// How a run ended when nothing refused it.
#[derive(Debug)]
pub enum RestoreRun {
    /// The rollback file records no cut that is not restored, kept or irreversible.
    NothingToRestore { work: RestoreWork },
    /// `--dry-run`: every check passed; this is what restore would do. Nothing was changed.
    DryRun { work: RestoreWork },
    Restored {
        work: RestoreWork,
        outcome: RestoreOutcome,
    },
    /// A directory of several accounts' rollback files: each account restored on its own, one
    /// account's failure never stopping another's.
    RestoredAccounts {
        accounts: Vec<AccountRestored>,
        dry_run: bool,
    },
}

/// How one account's rollback file went.
#[derive(Debug)]
pub struct AccountRestored {
    pub account: String,
    pub rollback: PathBuf,
    /// `None` when nothing was pending there (or, in a dry run, what would be done).
    pub result: Result<(RestoreWork, Option<RestoreOutcome>), EngineError>,
}

/// Walks the whole sequence (see the module documentation). `stop` is checked between undos (Ctrl-C). A
/// directory (a plan over several accounts' rollback files) goes through
/// [`crate::engine::organization::restore`].
pub async fn run(
    session: &AwsSession,
    registry: &Registry,
    request: &RestoreRequest,
    operator: &dyn Operator,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<RestoreRun, EngineError> {
    if request.rollback.is_dir() {
        return crate::engine::organization::restore(
            session, registry, request, operator, stop, reporter,
        )
        .await;
    }
    crate::engine::organization::restore_file(session, registry, request, operator, stop, reporter)
        .await
}

/// The one-file sequence, with a session already in the file's account (checked again here).
pub async fn run_one(
    session: &AwsSession,
    registry: &Registry,
    request: &RestoreRequest,
    operator: &dyn Operator,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<RestoreRun, EngineError> {
    let prepared = match prepare(session, registry, request, reporter).await? {
        Preparation::Nothing(work) => return Ok(RestoreRun::NothingToRestore { work }),
        Preparation::Ready(prepared) => prepared,
    };
    operator.review_restore(&prepared.work);
    if prepared.work.pending.is_empty() {
        return Ok(RestoreRun::NothingToRestore {
            work: prepared.work,
        });
    }
    if request.dry_run {
        report_dry_run(
            [(prepared.account.as_str(), &prepared.work)].into_iter(),
            reporter,
        );
        return Ok(RestoreRun::DryRun {
            work: prepared.work,
        });
    }
    operator
        .confirm_restore(&prepared.account, &prepared.work)
        .map_err(EngineError::Declined)?;
    reporter.event(&super::apply::started(
        "restore",
        false,
        prepared
            .work
            .pending
            .iter()
            .map(|item| item.cut.kind.as_str()),
    ));
    let (work, outcome) = perform(session, registry, *prepared, stop, reporter).await?;
    Ok(RestoreRun::Restored { work, outcome })
}

/// `restore --dry-run` for scripts: the undos of every account in all (`started`, `dry_run`), then each
/// one (`would-restore`), in the order restore would take them, each under its account's name.
pub(crate) fn report_dry_run<'w>(
    works: impl Iterator<Item = (&'w str, &'w RestoreWork)> + Clone,
    reporter: &dyn Reporter,
) {
    reporter.event(&super::apply::started(
        "restore",
        true,
        works
            .clone()
            .flat_map(|(_, work)| work.pending.iter().map(|item| item.cut.kind.as_str())),
    ));
    for (account, work) in works {
        let scoped = crate::report::InAccount::new(reporter, account);
        for item in &work.pending {
            scoped.event(&Event::WouldRestore {
                id: item.cut.id.clone(),
                note: item.note().trim().to_string(),
                as_cut: item.cut.after.value(),
                as_restored: item.cut.before.value(),
            });
        }
    }
}

/// One rollback file read, verified and its account checked: what restore would do there.
pub struct Prepared {
    pub account: String,
    pub work: RestoreWork,
    rollback: RollbackFile,
    contents: JournalContents,
    parallelism: usize,
}

pub enum Preparation {
    /// The file records nothing (apply was killed before its header, [`journal::records_nothing`]):
    /// nothing was cut.
    Nothing(RestoreWork),
    Ready(Box<Prepared>),
}

/// Every gate before the operator is asked, for one rollback file: lock it, read and verify it, check
/// the account, work out what is pending and what the kinds' gates keep.
pub async fn prepare(
    session: &AwsSession,
    registry: &Registry,
    request: &RestoreRequest,
    reporter: &dyn Reporter,
) -> Result<Preparation, EngineError> {
    let rollback = RollbackFile::open_existing(&request.rollback)?;
    let owner_warning = rollback.check_owner(request.force)?;
    // Apply creates the file before its header: killed in between, it cut nothing. (An older apply could
    // also leave the preamble without the header: the read below finds that file records nothing.)
    if rollback.is_empty() {
        return Ok(Preparation::Nothing(RestoreWork::default()));
    }
    let lifted: Vec<&str> = request.lifted.iter().map(String::as_str).collect();
    // Restore keeps only what it derives from the records, as they are read; a dry run shows each cut's
    // states, so it keeps them.
    // Lean only when nothing will be shown: a dry run shows every cut's states, and so does the question
    // of a forced restore, whose file may not authenticate.
    let lean = !request.dry_run && !request.force;
    let mut keep_states_of = std::collections::HashSet::new();
    let (contents, warnings, work) = loop {
        let mut builder =
            PendingBuilder::new(&request.rollback, registry, &lifted, lean, keep_states_of);
        let read = journal::read_each(&rollback, &request.keys, request.force, &mut |record| {
            builder.push(record)
        });
        let (contents, warnings) = match read {
            Err(journal::JournalError::NothingRecorded { .. }) => {
                return Ok(Preparation::Nothing(RestoreWork::default()));
            }
            read => read?,
        };
        if builder.needs_states.is_empty() {
            break (contents, warnings, builder.finish());
        }
        // A completion came for a cut whose states this lean read had dropped: read again, keeping
        // those cuts' states to check it against. Each round keeps more cuts, so this ends.
        keep_states_of = builder.keep_states_of;
        keep_states_of.extend(builder.needs_states);
    };
    warn_if_shared(&request.rollback, reporter);
    for message in owner_warning.into_iter().chain(warnings) {
        reporter.event(&Event::Warning { message });
    }
    let account = rollback_account(&contents, &request.rollback)?;
    verify_account(session, &account, "rollback file").await?;
    reporter.account(&account);
    let mut work = work?;
    work.unauthenticated = !contents.authenticated;
    if !work.unverified.is_empty() {
        if !request.force {
            return Err(EngineError::Refused {
                message: format!(
                    "{}: {} entr(ies) would not put back what their cut removed:\n{}\n  fix: use the rollback file exactly as apply wrote it. Apply never writes such an entry, so even --force does not carry it out: with --force restore puts back the other cuts and leaves these out",
                    request.rollback.display(),
                    work.unverified.len(),
                    work.unverified
                        .iter()
                        .map(|item| format!("  {}", item.problem))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            });
        }
        leave_out_unverified(&mut work);
        for item in &work.refused {
            reporter.event(&Event::Warning {
                message: format!(
                    "{}: not restored, even with --force: {} (apply never writes such an entry; check the resource by hand)",
                    visible(&item.id),
                    item.problem
                ),
            });
        }
    }
    let parallelism = request
        .parallelism
        .over_regions_of(work.pending.iter().map(|p| &p.cut));
    Ok(Preparation::Ready(Box::new(Prepared {
        account,
        work,
        rollback,
        contents,
        parallelism,
    })))
}

/// The account a rollback file's header names.
pub fn rollback_account(
    contents: &JournalContents,
    path: &std::path::Path,
) -> Result<String, EngineError> {
    let account = contents.account().ok_or_else(|| EngineError::Refused {
        message: format!(
            "{}: has no header entry naming its account\n  fix: give the rollback file apply wrote",
            path.display()
        ),
    })?;
    // Read before any check of the file's authentication under --force, and used to enter the account.
    if !crate::plan::is_account_id(account) {
        return Err(EngineError::Refused {
            message: format!(
                "{}: its header's `account` is `{}`, which is not an AWS account ID (12 digits)\n  fix: give the rollback file apply wrote",
                path.display(),
                visible(account)
            ),
        });
    }
    Ok(account.to_string())
}

/// `--force`: every cut an unverified entry belongs to leaves `pending` for `refused`, once each.
fn leave_out_unverified(work: &mut RestoreWork) {
    let ids: std::collections::HashSet<&str> = work
        .unverified
        .iter()
        .map(|item| item.id.as_str())
        .collect();
    work.pending
        .retain(|item| !ids.contains(item.cut.id.as_str()));
    let mut seen = std::collections::HashSet::new();
    work.refused = work
        .unverified
        .iter()
        .filter(|item| seen.insert(item.id.clone()))
        .cloned()
        .collect();
}

/// Once the operator has confirmed: undo, journaling each restore in the same file.
pub async fn perform(
    session: &AwsSession,
    registry: &Registry,
    prepared: Prepared,
    stop: Option<&AtomicBool>,
    reporter: &dyn Reporter,
) -> Result<(RestoreWork, RestoreOutcome), EngineError> {
    let Prepared {
        work,
        rollback,
        contents,
        parallelism,
        ..
    } = prepared;
    let mut journal = Journal::reopen(rollback, &contents)?;
    let mut outcome = execute(
        session,
        registry,
        &work.pending,
        &mut journal,
        &Undoing { stop, parallelism },
        reporter,
    )
    .await?;
    // Left out under --force: not restored, so the run does not report success.
    outcome.failed.extend(
        work.refused
            .iter()
            .map(|item| (item.id.clone(), format!("not restored: {}", item.problem))),
    );
    Ok((work, outcome))
}

/// Every cut in the journal that still needs undoing, newest first.
///
/// A cut may have several generations: `watch --recut` cuts again a cut someone reopened, and when the
/// resource came back under new identifiers (a security-group rule re-authorized) the re-cut is a new
/// cut of the same ID, from the state it found. Each generation is undone, newest first, so restore puts
/// back what every one of them took (the older undo finds the newer's work done, and says so). A
/// `restored` entry ends the newest generation not yet restored, which is why [`execute`] never undoes
/// an older generation while a newer one stays open. An intent for exactly the cut already
/// open (a resumed apply, a re-cut of a cut back exactly as before) is the same generation again.
pub fn pending(
    contents: &JournalContents,
    registry: &Registry,
    lifted: &[&str],
) -> Result<RestoreWork, EngineError> {
    let mut builder = PendingBuilder::new(
        &contents.path,
        registry,
        lifted,
        false,
        std::collections::HashSet::new(),
    );
    for record in &contents.records {
        builder.push(record.clone());
    }
    builder.finish()
}

/// Works out [`pending`] one record at a time, as the rollback file is read, so that restore never holds
/// every record at once.
///
/// Lean (for a restore that will undo, not show): once a cut's completion has been checked against its
/// intent, only its undo record is needed, so the cut's `before`, `after` and `reason` are dropped and
/// a digest of its states stands in for them when a later intent asks whether it is the same cut. A cut
/// whose completion was not recorded keeps everything: its undo is derived from its states.
///
/// A cut can be completed twice with no intent between: an apply resumed on the file finds a completed
/// cut changed and journals it failed, and the next one finds it cut and journals its completion again
/// (`intent, done, failed, done`). That completion is checked against the cut's states too, which a lean
/// read no longer has: it names the cut in `needs_states`, and the file is read again keeping them.
struct PendingBuilder<'a> {
    path: &'a Path,
    registry: &'a Registry,
    lifted: &'a [&'a str],
    lean: bool,
    /// Cuts whose states are kept even when lean, because a later completion is checked against them.
    keep_states_of: std::collections::HashSet<String>,
    /// Lean: cuts a completion came for after their states were dropped; it was not checked.
    needs_states: std::collections::HashSet<String>,
    /// IDs in the order of their first intent.
    order: Vec<String>,
    /// Each ID's open generations, oldest first, each with the digest of its states.
    by_id: HashMap<String, Vec<(PendingRestore, StateDigest)>>,
    /// The cuts whose latest intent is not answered yet (no completion, failure or restore after it),
    /// each with the open generation that intent took over, when it was of the same cut (a resumed
    /// apply, a re-cut of a cut back exactly as before): a refusal of that attempt gives the generation
    /// back as it was, completed or not, and one that began a generation ends it.
    attempts: HashMap<String, Option<PendingRestore>>,
    work_problems: Vec<Unverified>,
    /// The first refusal; later records are ignored.
    refused: Option<EngineError>,
}

/// SHA-256 of a cut's kind, region, target, `before` and `after`: what makes two intents the same cut.
type StateDigest = [u8; 32];

fn state_digest(cut: &Cut) -> StateDigest {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in [&cut.kind, &cut.region, &cut.target] {
        hash.update(part.len().to_le_bytes());
        hash.update(part.as_bytes());
    }
    for state in [&cut.before, &cut.after] {
        let text = state.as_str().as_bytes();
        hash.update(text.len().to_le_bytes());
        hash.update(text);
    }
    hash.finalize().into()
}

impl<'a> PendingBuilder<'a> {
    fn new(
        path: &'a Path,
        registry: &'a Registry,
        lifted: &'a [&'a str],
        lean: bool,
        keep_states_of: std::collections::HashSet<String>,
    ) -> PendingBuilder<'a> {
        PendingBuilder {
            path,
            registry,
            lifted,
            lean,
            keep_states_of,
            needs_states: std::collections::HashSet::new(),
            order: Vec::new(),
            by_id: HashMap::new(),
            attempts: HashMap::new(),
            work_problems: Vec::new(),
            refused: None,
        }
    }

    fn push(&mut self, record: Record) {
        if self.refused.is_some() {
            return;
        }
        match record.entry {
            Entry::Intent { cut } => {
                if self.registry.get(&cut.kind).is_none() {
                    self.refused = Some(EngineError::Refused {
                        message: format!(
                            "{}: entry {} names kind `{}`, which this hikkonuki does not know\n  fix: restore with the hikkonuki version that ran apply",
                            self.path.display(),
                            record.seq,
                            visible(&cut.kind)
                        ),
                    });
                    return;
                }
                let expected_id = Cut::expected_id(&cut.kind, &cut.region, &cut.target);
                if cut.id != expected_id {
                    self.unverified(
                        &cut.id,
                        format!(
                            "entry {}: cut `{}` names target `{}`, whose cut is `{}`",
                            record.seq,
                            visible(&cut.id),
                            visible(&cut.target),
                            visible(&expected_id)
                        ),
                    );
                }
                // What apply checked of every cut before making it (the plan's rules), checked again:
                // an intent is where an undo without a recorded completion is derived from.
                if let Some(problem) = self.broken_rule(&cut) {
                    self.unverified(
                        &cut.id,
                        format!(
                            "entry {}: cut `{}`: {}",
                            record.seq,
                            visible(&cut.id),
                            visible(&problem)
                        ),
                    );
                }
                let digest = state_digest(&cut);
                let generations = self.by_id.entry(cut.id.clone()).or_default();
                if generations.is_empty() {
                    self.order.push(cut.id.clone());
                }
                let mut generation = PendingRestore {
                    cut,
                    certainty: Certainty::Uncertain,
                    undo: None,
                    generation: generations.len() + 1,
                };
                match generations.last_mut() {
                    Some((open, open_digest)) if *open_digest == digest => {
                        generation.generation = open.generation;
                        let before = std::mem::replace(open, generation);
                        self.attempts.insert(before.cut.id.clone(), Some(before));
                    }
                    _ => {
                        self.attempts.insert(generation.cut.id.clone(), None);
                        generations.push((generation, digest));
                    }
                }
            }
            Entry::Done { id, undo } => {
                self.attempts.remove(&id);
                // A completion only counts for a cut whose intent came before it in the same chain, and
                // only with the undo record that cut implies: a record naming another resource, or more
                // than the cut removed, is never carried out as written.
                if let Some((item, _)) = self.by_id.get_mut(&id).and_then(|g| g.last_mut()) {
                    let drops_states = self.lean && !self.keep_states_of.contains(&id);
                    // Completed before, its states dropped: checked on the next read, which keeps them.
                    if drops_states && item.certainty == Certainty::Completed {
                        self.needs_states.insert(id);
                        return;
                    }
                    let kind = self
                        .registry
                        .get(&item.cut.kind)
                        .expect("unknown kinds are refused at their intent");
                    if let Err(problem) = kind.check_undo(&item.cut, &undo.value()) {
                        let problem = format!(
                            "entry {} (completion of {}): {}",
                            record.seq,
                            visible(&id),
                            visible(&problem)
                        );
                        self.work_problems.push(Unverified {
                            id: id.clone(),
                            problem,
                        });
                    }
                    item.certainty = Certainty::Completed;
                    item.undo = Some(undo);
                    if drops_states {
                        item.cut.before = CompactJson::null();
                        item.cut.after = CompactJson::null();
                        item.cut.reason = String::new();
                    }
                }
            }
            Entry::Restored { id, .. } => {
                self.attempts.remove(&id);
                if let Some(generations) = self.by_id.get_mut(&id) {
                    generations.pop();
                    if generations.is_empty() {
                        self.by_id.remove(&id);
                    }
                }
            }
            // AWS refused every write of the cut: nothing to put back, whatever happened to the resource
            // since (a rule the team removed by hand stays removed). Only for the open generation whose
            // intent it follows, never for one recorded done.
            Entry::Failed {
                id,
                changed_nothing: true,
                ..
            } => {
                let Some(taken_over) = self.attempts.remove(&id) else {
                    return;
                };
                if let Some(generations) = self.by_id.get_mut(&id) {
                    match taken_over {
                        Some(before) => {
                            if let Some((open, _)) = generations.last_mut() {
                                *open = before;
                            }
                        }
                        None => {
                            generations.pop();
                        }
                    }
                    if generations.is_empty() {
                        self.by_id.remove(&id);
                    }
                }
            }
            Entry::Failed { id, .. } => {
                self.attempts.remove(&id);
            }
            Entry::Header { .. }
            | Entry::Skipped { .. }
            | Entry::RestoreIntent { .. }
            | Entry::RestoreFailed { .. } => {}
        }
    }

    fn unverified(&mut self, id: &str, problem: String) {
        self.work_problems.push(Unverified {
            id: id.to_string(),
            problem,
        });
    }

    /// The plan's rules for one cut of a known kind: its region (`global` for an account-wide kind, a
    /// region name otherwise) and its kind's rules on its states.
    fn broken_rule(&self, cut: &Cut) -> Option<String> {
        let kind = self.registry.get(&cut.kind)?;
        let region_fits = if kind.info().global {
            cut.region == crate::plan::GLOBAL_REGION
        } else {
            crate::plan::is_region_name(&cut.region)
        };
        if !region_fits {
            return Some(format!(
                "region `{}` is not one this kind's cuts can have",
                cut.region
            ));
        }
        kind.check_states(cut).err()
    }

    fn finish(mut self) -> Result<RestoreWork, EngineError> {
        if let Some(refused) = self.refused {
            return Err(refused);
        }
        let registry = self.registry;
        let mut work = RestoreWork {
            unverified: self.work_problems,
            ..RestoreWork::default()
        };
        for generations in self
            .order
            .into_iter()
            .rev()
            .filter_map(|id| self.by_id.remove(&id))
        {
            let mut generations: Vec<PendingRestore> =
                generations.into_iter().map(|(item, _)| item).collect();
            generations.reverse(); // newest first
            let newest = generations[0].cut.clone();
            let kind = registry
                .get(&newest.kind)
                .expect("unknown kinds are refused above");
            if !kind.info().reversible {
                work.irreversible.push(newest);
            } else if let Some(gate) = kind
                .restore_gate()
                .filter(|g| !self.lifted.contains(&g.flag))
            {
                work.kept.push((newest, gate));
            } else {
                work.pending.extend(generations);
            }
        }
        // Apply runs cuts of one phase concurrently, so journal order alone does not say what depends on
        // what. Undo by phase and kind, in reverse: per-resource cuts first, then the sealing kinds from
        // last to first (a gateway is attached again before routes to it are re-created). Within a kind,
        // newest first (the sort is stable, so a cut's generations stay newest first too).
        work.pending
            .sort_by_key(|item| registry.restore_rank(&item.cut.kind));
        Ok(work)
    }
}

impl RestoreWork {
    /// Every cut in force, once each: the newest generation of each one restore would undo, and those it
    /// keeps or cannot undo. What `watch` looks at.
    pub fn in_force(&self) -> Vec<&Cut> {
        let mut seen = std::collections::HashSet::new();
        self.pending
            .iter()
            .map(|item| &item.cut)
            .filter(|cut| seen.insert(cut.id.as_str()))
            .chain(self.kept.iter().map(|(cut, _)| cut))
            .chain(self.irreversible.iter())
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct RestoreOutcome {
    pub restored: Vec<String>,
    /// Of the restored cuts, what each left alone because it changed after the cut (`conflict:` notes):
    /// restore did not give that back, and says so apart from the rest.
    pub conflicts: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
    /// Interrupted (Ctrl-C): these were not attempted; running restore again finishes them.
    pub not_attempted: Vec<String>,
}

/// The order restore starts `pending`'s undos in: rank by rank as [`pending`] sorted them (per-resource
/// kinds first, the sealing kinds from last to first; [`execute`] runs the ranks of different footprints
/// side by side), and within one rank (one kind) spread over regions,
/// one in turn, each region's cuts still newest first ([`crate::pacing::spread_over_buckets`]). AWS
/// throttles per region and action, and one kind's undos make the same calls: in journal order a
/// region's bucket (e.g. AuthorizeSecurityGroupIngress, 50 refilled at 5 a second) runs dry while the
/// other regions' sit full. Undos of one kind in different regions depend on nothing in each other.
pub fn schedule<'a>(pending: &'a [PendingRestore], registry: &Registry) -> Vec<&'a PendingRestore> {
    pending
        .chunk_by(|a, b| registry.restore_rank(&a.cut.kind) == registry.restore_rank(&b.cut.kind))
        .flat_map(|same_rank| {
            crate::pacing::spread_over_buckets(same_rank, |item| {
                (item.cut.region.as_str(), item.cut.kind.as_str())
            })
        })
        .collect()
}

/// How [`execute`] undoes: `stop` is checked before each undo (Ctrl-C); up to `parallelism` at once.
pub struct Undoing<'a> {
    pub stop: Option<&'a AtomicBool>,
    pub parallelism: usize,
}

/// Undoes each pending cut, journaling an intent before and the result after.
///
/// Phase by phase, in restore's order (per-resource kinds first, the evidence last). Within a phase, the
/// kinds of one footprint ([`crate::services::Footprint`]) one after the other in [`schedule`]'s order,
/// since their undos may need each other's (a gateway attached again before the routes through it), and
/// the footprints side by side, since they write nothing in common: the security groups' rules go back
/// while the account switches are lifted. Each kind's undos go up to `parallelism` at once when the kind
/// says each cut's undo touches only its own resource
/// ([`crate::services::Containment::undoes_independently`]; one organization policy attached to many
/// accounts is not), and never more than `parallelism` undos of the run at once. A cut's generations
/// (its re-cuts) are one chain, newest first, so each undo finds the newer one's work done. With
/// `parallelism` 1 this is one undo after the other, in [`schedule`]'s order. One failure does not stop
/// the other cuts, but it stops its own cut's chain: a `restored` entry names only the cut, and closes
/// its newest open generation, so an older generation undone after a failed newer one would be
/// recorded as the newer one, and the next restore would undo the older one again and never retry the
/// newer. The older generations stay pending, in order, each reported left pending. A newer generation
/// tried again after the later phases takes its older ones along, behind it. A failed journal write
/// lets no further undo start and stops the run once the undos in flight have ended.
pub async fn execute(
    session: &AwsSession,
    registry: &Registry,
    pending: &[PendingRestore],
    journal: &mut Journal,
    undoing: &Undoing<'_>,
    reporter: &dyn Reporter,
) -> Result<RestoreOutcome, EngineError> {
    let mut outcome = RestoreOutcome::default();
    let order = schedule(pending, registry);
    let mut deferred: Vec<&PendingRestore> = Vec::new();
    let parallelism = undoing.parallelism.max(1);
    let run = UndoRun {
        session,
        registry,
        journal: std::sync::Mutex::new(journal),
        undoing,
        reporter,
        in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(
            parallelism.min(tokio::sync::Semaphore::MAX_PERMITS),
        )),
        journal_failed: AtomicBool::new(false),
    };
    let phase_of =
        |item: &PendingRestore| registry.get(&item.cut.kind).map(|kind| kind.info().phase);
    let same_rank = |a: &&PendingRestore, b: &&PendingRestore| {
        registry.restore_rank(&a.cut.kind) == registry.restore_rank(&b.cut.kind)
    };
    for same_phase in order.chunk_by(|a, b| phase_of(a) == phase_of(b)) {
        reporter.event(&Event::PhaseStarted {
            phase: phase_of(same_phase[0])
                .map(crate::services::Phase::name)
                .unwrap_or("other")
                .into(),
            total: same_phase.len(),
        });
        // Each footprint's ranks, in restore's order: one lane each, the lanes side by side. At a width
        // of one, the whole phase is one lane: one undo after the other, in schedule's order.
        let mut lanes: Vec<(Option<Footprint>, Vec<&[&PendingRestore]>)> = Vec::new();
        for rank in same_phase.chunk_by(same_rank) {
            let footprint = (parallelism > 1)
                .then(|| registry.get(&rank[0].cut.kind))
                .flatten()
                .map(|kind| kind.info().footprint);
            match lanes.iter_mut().find(|(of, _)| *of == footprint) {
                Some((_, lane)) => lane.push(rank),
                None => lanes.push((footprint, vec![rank])),
            }
        }
        let run = &run;
        let mut results: Vec<(String, UndoResult)> =
            future::join_all(lanes.into_iter().map(|(_, lane)| async move {
                let mut results = Vec::new();
                for rank in lane {
                    results.extend(run.rank(rank).await);
                }
                results
            }))
            .await
            .into_iter()
            .flatten()
            .collect();
        // Reported in schedule's order, not as the lanes ended (a cut's generations keep theirs).
        let first_at: HashMap<&str, usize> = same_phase
            .iter()
            .enumerate()
            .rev()
            .map(|(at, item)| (item.cut.id.as_str(), at))
            .collect();
        results.sort_by_key(|(id, _)| first_at.get(id.as_str()).copied());
        outcome.add(results, &mut deferred)?;
    }
    // Once every phase is undone: what AWS refused until then (gathered in schedule's order, a cut's
    // generations newest first), once more, one after the other, each cut's chain still stopping at its
    // first failure.
    let mut results = Vec::new();
    let mut chains_stopped = std::collections::HashSet::new();
    for item in deferred {
        let result = if chains_stopped.contains(item.cut.id.as_str()) {
            Ok(left_pending(item, reporter))
        } else {
            run.undo(item, true).await
        };
        if matches!(result, Ok(Undone::Failed(_))) {
            chains_stopped.insert(item.cut.id.as_str());
        }
        results.push((item.cut.id.clone(), result));
    }
    outcome.add(results, &mut Vec::new())?;
    Ok(outcome)
}

impl RestoreOutcome {
    /// Counts one batch of undos; `deferred` gathers those refused until the later phases are undone.
    fn add<'p>(
        &mut self,
        results: Vec<(String, UndoResult<'p>)>,
        deferred: &mut Vec<&'p PendingRestore>,
    ) -> Result<(), EngineError> {
        let mut journal_error = None;
        for (id, result) in results {
            match result {
                Ok(Undone::Restored(conflicts)) => {
                    self.conflicts
                        .extend(conflicts.into_iter().map(|note| (id.clone(), note)));
                    self.restored.push(id);
                }
                Ok(Undone::Failed(error)) => self.failed.push((id, error)),
                Ok(Undone::Deferred(item)) => deferred.push(item),
                Ok(Undone::NotAttempted) => self.not_attempted.push(id),
                Err(err) => {
                    journal_error.get_or_insert(err);
                }
            }
        }
        match journal_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// What every undo of one restore shares.
struct UndoRun<'a, 'j> {
    session: &'a AwsSession,
    registry: &'a Registry,
    journal: std::sync::Mutex<&'j mut Journal>,
    undoing: &'a Undoing<'a>,
    reporter: &'a dyn Reporter,
    /// One permit per undo in flight, across every lane: `parallelism` in all. An undo whose call waits
    /// for a bucket's token gives its permit back meanwhile ([`WidthShare`]): a lane behind a slow
    /// bucket (VPC endpoints' 0.3 a second) leaves the width to the others.
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    /// Set by a failed journal write: no undo starts after it.
    journal_failed: AtomicBool,
}

impl UndoRun<'_, '_> {
    /// One kind's undos (one restore rank), in [`schedule`]'s order, up to `parallelism` at once when the
    /// kind undoes independently, each cut's generations one after the other.
    async fn rank<'p>(&self, same_rank: &[&'p PendingRestore]) -> Vec<(String, UndoResult<'p>)> {
        // Each cut's generations, in schedule order (newest first), as one chain.
        let chains: Vec<Vec<&PendingRestore>> =
            crate::pacing::grouped_in_order(same_rank.iter().copied(), |item| item.cut.id.as_str());
        // Only kinds whose cuts share nothing are undone side by side.
        let independent = self
            .registry
            .get(&same_rank[0].cut.kind)
            .is_some_and(|kind| kind.undoes_independently());
        let width = if independent {
            self.undoing.parallelism.max(1)
        } else {
            1
        };
        stream::iter(chains)
            .map(|chain| async move {
                let mut results = Vec::new();
                let mut chain = chain.into_iter();
                while let Some(item) = chain.next() {
                    let id = item.cut.id.clone();
                    match self.undo(item, false).await {
                        // Its older generations are left pending behind it (see `execute`).
                        Ok(Undone::Failed(error)) => {
                            results.push((id.clone(), Ok(Undone::Failed(error))));
                            results.extend(
                                chain.map(|older| {
                                    (id.clone(), Ok(left_pending(older, self.reporter)))
                                }),
                            );
                            break;
                        }
                        // Its older generations are tried again behind it.
                        Ok(Undone::Deferred(newer)) => {
                            results.push((id.clone(), Ok(Undone::Deferred(newer))));
                            results.extend(
                                chain.map(|older| (id.clone(), Ok(Undone::Deferred(older)))),
                            );
                            break;
                        }
                        result => results.push((id, result)),
                    }
                }
                results
            })
            .buffer_unordered(width)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// One undo, once a permit is free, unless the run was stopped (Ctrl-C) or its journal failed.
    async fn undo<'p>(&self, item: &'p PendingRestore, last_try: bool) -> UndoResult<'p> {
        WidthShare::run(&self.in_flight, async {
            let stopped = self
                .undoing
                .stop
                .is_some_and(|stop| stop.load(Ordering::SeqCst));
            if stopped || self.journal_failed.load(Ordering::SeqCst) {
                return Ok(Undone::NotAttempted);
            }
            let result = undo_one(
                self.session,
                self.registry,
                item,
                &self.journal,
                self.reporter,
                last_try,
            )
            .await;
            if result.is_err() {
                self.journal_failed.store(true, Ordering::SeqCst);
            }
            result
        })
        .await
    }
}

enum Undone<'p> {
    /// With the notes that report a conflict.
    Restored(Vec<String>),
    Failed(String),
    /// Refused until the undos of a later phase have run (the kind says so,
    /// [`crate::services::Containment::refused_until_later_phases`]): tried once more after them.
    Deferred(&'p PendingRestore),
    NotAttempted,
}

type UndoResult<'p> = Result<Undone<'p>, EngineError>;

/// An older generation of a cut whose newer generation's undo failed: not undone, nothing journaled, so
/// the rollback file keeps it pending behind the newer one for the next restore. Reported, and counted
/// as not restored.
fn left_pending<'p>(item: &PendingRestore, reporter: &dyn Reporter) -> Undone<'p> {
    let generation = match item.generation {
        1 => "the cut apply made".to_string(),
        n => format!("re-cut {} by watch", n - 1),
    };
    let reason = format!(
        "{generation} is left pending, not undone: the undo of a newer re-cut of this cut failed, and each is undone only after the newer ones; run restore again once that is fixed"
    );
    reporter.event(&Event::RestoreSkipped {
        id: item.cut.id.clone(),
        reason: reason.clone(),
    });
    Undone::Failed(reason)
}

/// One undo, journaled: its intent before the call, its result after.
async fn undo_one<'p>(
    session: &AwsSession,
    registry: &Registry,
    item: &'p PendingRestore,
    journal: &std::sync::Mutex<&mut Journal>,
    reporter: &dyn Reporter,
    last_try: bool,
) -> UndoResult<'p> {
    let append = |entry: Entry| -> Result<(), EngineError> {
        journal.lock().expect("journal lock").append(entry)?;
        Ok(())
    };
    let id = item.cut.id.clone();
    let kind = registry
        .get(&item.cut.kind)
        .expect("pending() only returns known kinds");
    let undo = match &item.undo {
        Some(undo) => undo.value(),
        None => match kind.undo_record_for(&item.cut) {
            Ok(undo) => undo,
            Err(err) => {
                append(Entry::RestoreFailed {
                    id: id.clone(),
                    error: err.to_string(),
                })?;
                reporter.event(&Event::RestoreFailed {
                    id,
                    error: err.to_string(),
                });
                return Ok(Undone::Failed(err.to_string()));
            }
        },
    };
    append(Entry::RestoreIntent { id: id.clone() })?;
    reporter.event(&Event::RestoreStarted { id: id.clone() });
    let ctx = session.region(&item.cut.region);
    match kind.undo(&ctx, &undo).await {
        Ok(result) => {
            append(Entry::Restored {
                id: id.clone(),
                notes: result.notes.clone(),
            })?;
            let conflicts = crate::services::UndoOutcome::conflicts(&result.notes);
            reporter.event(&Event::Restored {
                id,
                notes: result.notes,
            });
            Ok(Undone::Restored(conflicts))
        }
        Err(err) => {
            // Journaled failed either way: a crash before the second try leaves it pending.
            append(Entry::RestoreFailed {
                id: id.clone(),
                error: err.to_string(),
            })?;
            if !last_try && kind.refused_until_later_phases(&err) {
                reporter.event(&Event::Warning {
                    message: format!("{id}: {err}; tried again once the later phases are undone"),
                });
                return Ok(Undone::Deferred(item));
            }
            reporter.event(&Event::RestoreFailed {
                id,
                error: err.to_string(),
            });
            Ok(Undone::Failed(err.to_string()))
        }
    }
}
