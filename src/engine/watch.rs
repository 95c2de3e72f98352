//! `hikkonuki watch`: after apply, look again. A cut that someone's pipeline quietly reverts is worse than
//! none, because everyone believes the account is sealed. Watch reads the live state of every cut a
//! rollback file records as in force, and reports each one that no longer is:
//!
//! - **held**: the resource is as the cut left it (its recorded `after`);
//! - **reopened**: what the cut took is back as it was before the cut (a route re-created, a key
//!   re-activated), or, for kinds whose resources come back under new identifiers or in part, some of it
//!   is, with nothing else changed (a security-group rule re-authorized as it was, under a new rule ID):
//!   `--recut` cuts it again, journaled in the same file as a new intent and completion. A re-cut from
//!   another state than the recorded `before` is a new generation of the cut; restore undoes every
//!   generation, newest first, so it still gives back exactly what was there before the first cut;
//! - **changed**: it is neither (a policy edited, a rule added next to the cut ones). Re-cutting would act
//!   on a state no one reviewed, so it is reported, never re-cut: make a new plan for it.
//!
//! What watch cannot see: anything that is not a cut in this file (a new security group, a new key), and
//! what a kind's observation does not read. Who made a change is asked of CloudTrail (`LookupEvents` on
//! the resource since the cut), best effort: management events reach it within about 15 minutes, and a
//! region without a trail still answers from its 90-day event history.

use std::collections::HashMap;
use std::path::PathBuf;

use futures_util::{StreamExt, stream};
use serde_json::Value;

use super::{EngineError, verify_account};
use crate::aws::AwsSession;
use crate::engine::restore;
use crate::journal::keys::KeyStore;
use crate::journal::lock::RollbackFile;
use crate::journal::{self, Entry, Journal};
use crate::plan::Cut;
use crate::plan::compare::same_state;
use crate::report::escape::visible;
use crate::report::{Event, Reporter};
use crate::services::Registry;

pub struct WatchRequest {
    pub rollback: PathBuf,
    pub keys: KeyStore,
    /// Cut again what was reopened exactly (back to its `before`).
    pub recut: bool,
    /// How many cuts are looked at (and re-cut) at once, resolved over the regions of the cuts in force.
    pub parallelism: super::Parallelism,
}

/// What one cut looks like now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Held,
    /// What the cut took is back: the state a re-cut starts from (the recorded `before`, or what the
    /// kind recognizes as it under new identifiers).
    Reopened(Value),
    /// Neither as cut nor as before: the live state.
    Changed(Value),
    /// The resource could not be read.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct Watched {
    pub cut: Cut,
    pub verdict: Verdict,
    /// Who changed the resource since the cut, as CloudTrail tells it (best effort).
    pub who: Vec<String>,
    /// `--recut` of a reopened cut: `Ok` once it is cut again and journaled, or why not.
    pub recut: Option<Result<(), String>>,
}

#[derive(Debug, Default)]
pub struct WatchReport {
    pub account: String,
    pub watched: Vec<Watched>,
}

impl WatchReport {
    /// Cuts no longer in force (reopened or changed) and not cut again by this run.
    pub fn open(&self) -> usize {
        self.watched
            .iter()
            .filter(|item| {
                matches!(item.verdict, Verdict::Reopened(_) | Verdict::Changed(_))
                    && !matches!(item.recut, Some(Ok(())))
            })
            .count()
    }
}

/// One look at every cut in force. Refuses, like restore, a file whose entries do not authenticate or
/// whose account is not the credentials'; never changes the account unless `recut`.
pub async fn check(
    session: &AwsSession,
    registry: &Registry,
    request: &WatchRequest,
    reporter: &dyn Reporter,
) -> Result<WatchReport, EngineError> {
    super::organization::one_file_at_a_time(&request.rollback, "watch")?;
    // Locked for the look (and the re-cuts), released after: a restore started in between goes first.
    let rollback = RollbackFile::open_existing(&request.rollback)?;
    if rollback.is_empty() {
        return Ok(WatchReport::default());
    }
    let (contents, warnings) = match journal::read(&rollback, &request.keys, false) {
        // Apply was stopped before its header: nothing was cut, so nothing is in force.
        Err(journal::JournalError::NothingRecorded { .. }) => return Ok(WatchReport::default()),
        read => read?,
    };
    for message in warnings {
        reporter.event(&Event::Warning { message });
    }
    let account = restore::rollback_account(&contents, &request.rollback)?;
    // A member's file of a run over an organization: its account, entered as apply entered it.
    let entered = super::organization::session_for_file(session, &contents, &account).await?;
    let session: &AwsSession = &entered;
    // Each look reads afresh what a run reads once (the endpoints the calls go through, listings).
    session.forget_reads();
    let caller = verify_account(session, &account, "rollback file").await?;
    reporter.account(&account);
    let work = restore::pending(&contents, registry, &[])?;
    if !work.unverified.is_empty() {
        return Err(EngineError::Refused {
            message: format!(
                "{}: {} entr(ies) do not match the cut they complete: the file was edited\n  fix: watch the rollback file exactly as apply wrote it",
                request.rollback.display(),
                work.unverified.len()
            ),
        });
    }
    // When each cut was (last) completed: CloudTrail is asked about changes since then. And what it
    // recorded it did: a cut holds only as strongly as that ([`crate::services::Containment::holds_as_written`]).
    let mut cut_at: HashMap<&str, &str> = HashMap::new();
    let mut written: HashMap<&str, Value> = HashMap::new();
    for record in &contents.records {
        if let Entry::Done { id, undo } = &record.entry {
            cut_at.insert(id, &record.at);
            written.insert(id, undo.value());
        }
    }
    // Every cut in force: those restore would undo, those it keeps (session revocations) and the
    // irreversible ones; not a cut whose apply failed, which is as it was before, cut by no one.
    let failed = failed_at_apply(&contents.records);
    let in_force: Vec<Cut> = work
        .in_force()
        .into_iter()
        .filter(|cut| {
            let failed = failed.contains(cut.id.as_str());
            if failed {
                reporter.event(&Event::Warning {
                    message: format!(
                        "{}: not watched: apply's call for it failed, as the rollback file records, so nothing of it is in force to hold (run apply again to cut it)",
                        cut.id
                    ),
                });
            }
            !failed
        })
        .cloned()
        .collect();
    let parallelism = request.parallelism.over_regions_of(in_force.iter());
    let watched_regions = crate::runner::regions_judged(&in_force);
    let mut watched: Vec<Watched> = stream::iter(in_force)
        .map(|cut| {
            let since = cut_at.get(cut.id.as_str()).map(|at| at.to_string());
            let written = written.get(cut.id.as_str()).cloned();
            async move { look(session, registry, cut, since.as_deref(), written.as_ref()).await }
        })
        .buffered(parallelism)
        .collect()
        .await;
    let is_reopened = |item: &Watched| matches!(item.verdict, Verdict::Reopened(_));
    if request.recut && watched.iter().any(is_reopened) {
        let mut journal = Journal::reopen(rollback, &contents)?;
        // One at a time, in apply's order (the reverse of restore's): a kind that cuts after others
        // ([`crate::services::Containment::cuts_after`]) is re-cut after them. Watched in restore's
        // order, a public bucket's deny would be put back after the account's S3 Block Public Access,
        // which makes S3 refuse it.
        let mut reopened: Vec<&mut Watched> = watched
            .iter_mut()
            .filter(|item| is_reopened(item))
            .collect();
        reopened
            .sort_by_cached_key(|item| std::cmp::Reverse(registry.restore_rank(&item.cut.kind)));
        for item in reopened {
            let Verdict::Reopened(from) = &item.verdict else {
                continue;
            };
            let again = Cut {
                before: from.into(),
                ..item.cut.clone()
            };
            let kind = registry
                .get(&again.kind)
                .expect("restore::pending refuses unknown kinds");
            // Apply never cuts the applying principal's own access; whoever runs watch now is asked
            // the same, since it may not be who applied.
            item.recut = Some(if !kind.info().reversible {
                // Apply performs an irreversible cut only when the operator passes
                // --allow-irreversible for a plan they reviewed; a resource that came back (an ECR
                // Public repository re-created under its name, with images no one has looked at) is
                // not what they reviewed, and a watch left running must not delete it unasked.
                Err("not re-cut: the cut is irreversible (it deletes), and watch never repeats one; review it in a new plan and apply that with --allow-irreversible".to_string())
            } else if kind.cuts_off(&again, &caller) {
                Err(format!(
                    "not re-cut: it would cut off the credentials watch runs with ({})",
                    visible(&caller.arn)
                ))
            } else if let Some(why) =
                left_out_as_apply_would(session, kind, &again, &caller, &watched_regions).await
            {
                Err(format!("not re-cut: {}", visible(&why)))
            } else {
                recut(session, registry, &again, &mut journal, reporter).await?
            });
        }
    }
    for item in &watched {
        if item.verdict != Verdict::Held {
            reporter.event(&Event::CutReopened {
                id: item.cut.id.clone(),
                how: describe(&item.verdict, &item.cut.before.value()),
                who: item.who.clone(),
                recut: item.recut.clone(),
            });
        }
    }
    Ok(WatchReport { account, watched })
}

/// The cuts never made: every attempt the file records ended `failed` (an intent, then `failed`), none
/// `done`. Taken as in force, such a cut read back as it was before, was reported reopened (and its
/// changer looked for since the beginning of the history), and `--recut` made the cut apply never did.
/// A cut done once stays watched whatever came after: a `failed` after its `done` (a resumed apply
/// finding the resource changed), or a re-cut by watch that failed (the cut is still reopened).
pub(crate) fn failed_at_apply(
    records: &[crate::journal::Record],
) -> std::collections::HashSet<&str> {
    let mut last: HashMap<&str, &Entry> = HashMap::new();
    let mut ever_done: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for record in records {
        if let Entry::Done { id, .. } = &record.entry {
            ever_done.insert(id.as_str());
        }
        match &record.entry {
            Entry::Intent { cut } => {
                last.insert(cut.id.as_str(), &record.entry);
            }
            Entry::Done { id, .. } => {
                last.insert(id.as_str(), &record.entry);
            }
            Entry::Failed { id, .. } => {
                if matches!(last.get(id.as_str()), Some(Entry::Intent { .. })) {
                    last.insert(id.as_str(), &record.entry);
                }
            }
            _ => {}
        }
    }
    last.into_iter()
        .filter(|(id, entry)| matches!(entry, Entry::Failed { .. }) && !ever_done.contains(id))
        .map(|(id, _)| id)
        .collect()
}

fn describe(verdict: &Verdict, before: &Value) -> String {
    match verdict {
        Verdict::Held => "held".into(),
        Verdict::Reopened(from) if from == before => {
            "reopened: back exactly as before the cut".into()
        }
        Verdict::Reopened(_) => {
            "reopened: what the cut took is back as it was, under new IDs or in part".into()
        }
        Verdict::Changed(_) => {
            "changed: neither as cut nor as before (not re-cut; make a new plan)".into()
        }
        Verdict::Unreadable(error) => format!("could not be read: {error}"),
    }
}

async fn look(
    session: &AwsSession,
    registry: &Registry,
    cut: Cut,
    since: Option<&str>,
    written: Option<&Value>,
) -> Watched {
    let kind = registry
        .get(&cut.kind)
        .expect("restore::pending refuses unknown kinds");
    let ctx = session.region(&cut.region);
    let (after, before) = (cut.after.value(), cut.before.value());
    let verdict = match kind.observe(&ctx, &cut).await {
        Ok(live) if same_state(&after, &live) => Verdict::Held,
        // AWS may still be reporting the state from before the cut: neither a reopening (a false alarm,
        // and a re-cut) nor held (a reopening would pass unseen) can be told yet.
        Ok(live)
            if same_state(&before, &live)
                && let Some(until) = still_reading_back(kind.reads_back_late(), since) =>
        {
            Verdict::Unreadable(format!(
                "AWS still reports the state from before the cut, as it may until {until} after the change: whether the cut holds cannot be told yet; look again after then"
            ))
        }
        Ok(live) if same_state(&before, &live) => Verdict::Reopened(before),
        Ok(live)
            if match written {
                Some(undo) => kind.holds_as_written(&cut, &live, undo),
                None => kind.holds(&cut, &live),
            } =>
        {
            Verdict::Held
        }
        Ok(live) => match kind.reopened(&cut, &live) {
            Some(from) => Verdict::Reopened(from),
            None => Verdict::Changed(live),
        },
        Err(err) => Verdict::Unreadable(err.to_string()),
    };
    let who = if verdict == Verdict::Held {
        Vec::new()
    } else {
        crate::services::common::cloudtrail_who::who_changed(&ctx, &cut.target, since).await
    };
    Watched {
        cut,
        verdict,
        who,
        recut: None,
    }
}

/// Until when a cut completed at `since` (RFC 3339) may still read back as before, for a kind that
/// reads back `late`: `Some` (that moment, RFC 3339, to the second) while it is not yet past.
fn still_reading_back(late: Option<std::time::Duration>, since: Option<&str>) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let done = time::OffsetDateTime::parse(since?, &Rfc3339).ok()?;
    let until = done + late?;
    (time::OffsetDateTime::now_utc() < until).then(|| {
        until
            .replace_nanosecond(0)
            .unwrap_or(until)
            .format(&Rfc3339)
            .unwrap_or_default()
    })
}

/// Why apply would leave the re-cut out, asked as apply asks it of every cut: the kind refuses it
/// ([`crate::services::Containment::leaves_out`]), it is on the network path of the instance watch runs
/// on ([`super::apply::own_path`]), or a live read shows it would take away access of
/// whoever runs watch in a way the cut alone does not (a role their session came through,
/// [`crate::services::Containment::cuts_off_live`]); a read that fails leaves it out too, since it
/// cannot tell. Asking only whether the cut names the watcher's own credentials, watch re-denied a
/// role the watcher's session had come through.
async fn left_out_as_apply_would(
    session: &AwsSession,
    kind: &dyn crate::services::Containment,
    cut: &Cut,
    caller: &crate::aws::CallerIdentity,
    watched_regions: &[String],
) -> Option<String> {
    if let Some(why) = kind.leaves_out(cut, caller) {
        return Some(why);
    }
    // A cut of no region (IAM, the organization's) closes no network path of the machine's.
    let path = if cut.region == crate::plan::GLOBAL_REGION {
        Vec::new()
    } else {
        // A machine known only by its instance ID is looked for in every region watched, as apply
        // looks in every region of its cuts: found in another one, it sits on no path of this cut's.
        crate::runner::path_for(&caller.account, session, watched_regions).await
    };
    for located in path {
        match located {
            Ok(runner) => {
                if let Some(why) =
                    super::apply::own_path::why_on_path(kind, cut, &caller.account, &runner)
                {
                    return Some(why);
                }
                // Unattended, a seal that may close the way the machine's traffic leaves by is not
                // made.
                if let Some(why) = crate::runner::unknown_way_out_recut(&runner)
                    .filter(|_| super::apply::own_path::seals_in_runners_region(kind, cut, &runner))
                {
                    return Some(why);
                }
            }
            // Unattended, a re-cut whose effect on watch's own path cannot be told is not made.
            Err(why) => return Some(crate::runner::unknown_location_warning(&why)),
        }
    }
    let ctx = session.region(&cut.region);
    super::apply::cut_off_live_among(kind, &ctx, &[cut], caller, "who runs watch")
        .await
        .into_iter()
        .next()
        .map(|(_, why)| why)
}

/// Cuts a reopened cut again, exactly as apply does: intent first, then the call, then its completion.
/// The cut is the one the authenticated file records, from the state its resource is back in: the
/// recorded `before`, or what the kind recognized as it (the same rules under new IDs), to the recorded
/// `after`, so nothing the reviewed cut did not take is taken.
async fn recut(
    session: &AwsSession,
    registry: &Registry,
    cut: &Cut,
    journal: &mut Journal,
    reporter: &dyn Reporter,
) -> Result<Result<(), String>, EngineError> {
    let kind = registry
        .get(&cut.kind)
        .expect("restore::pending refuses unknown kinds");
    let ctx = session.region(&cut.region);
    journal.append(Entry::Intent { cut: cut.clone() })?;
    reporter.event(&Event::CutStarted { id: cut.id.clone() });
    let started = std::time::Instant::now();
    // In force, for a kind whose change AWS completes after answering, before it is journaled done.
    let (applied, writes) = crate::call_outcomes::watching(kind.apply(&ctx, cut)).await;
    // Refused outright, the re-cut changed nothing: restore leaves it out ([`crate::call_outcomes`]).
    let changed_nothing = applied.is_err() && writes.changed_nothing();
    let applied = match applied {
        Ok(undo) => kind.take_effect(&ctx, cut).await.map(|()| undo),
        Err(err) => Err(err),
    };
    match applied {
        Ok(undo) => {
            journal.append(Entry::Done {
                id: cut.id.clone(),
                undo: undo.into(),
            })?;
            reporter.event(&Event::CutDone {
                id: cut.id.clone(),
                elapsed: started.elapsed(),
            });
            Ok(Ok(()))
        }
        Err(err) => {
            let error = err.to_string();
            journal.append(Entry::Failed {
                id: cut.id.clone(),
                error: error.clone(),
                changed_nothing,
            })?;
            reporter.event(&Event::CutFailed {
                id: cut.id.clone(),
                error: crate::call_outcomes::shown_error(&error, changed_nothing),
            });
            Ok(Err(error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    /// A kind whose change reads back late (the AMI block: up to 10 minutes and a margin) cannot be told
    /// held or reopened while its cut is younger than that; after, or for a kind that reads back at
    /// once, it can.
    #[test]
    fn a_reading_of_before_cannot_be_told_while_aws_may_still_report_it() {
        let now = time::OffsetDateTime::now_utc();
        let late = Some(std::time::Duration::from_secs(11 * 60));
        let minute_ago = (now - time::Duration::minutes(1)).format(&Rfc3339).unwrap();
        let until = (now + time::Duration::minutes(10))
            .replace_nanosecond(0)
            .unwrap()
            .format(&Rfc3339)
            .unwrap();
        assert_eq!(still_reading_back(late, Some(&minute_ago)), Some(until));
        let hour_ago = (now - time::Duration::hours(1)).format(&Rfc3339).unwrap();
        assert_eq!(still_reading_back(late, Some(&hour_ago)), None);
        assert_eq!(still_reading_back(None, Some(&minute_ago)), None);
        assert_eq!(still_reading_back(late, None), None);
        assert_eq!(still_reading_back(late, Some("yesterday")), None);
    }
}
