//! What a rollback file's completed cuts left behind, and (`show ROLLBACK --live`) how far AWS has got
//! with it. Some cuts start work that AWS finishes in the background: evidence snapshots are taken at the
//! moment apply asks, and copied for minutes or hours after, and apply never waits for them before
//! sealing. The rollback file records what each cut made ([`recorded`], read from the file alone); the
//! kinds that can tell say how far it is now ([`live`], read-only calls, after checking the account as
//! `watch` and `restore` do). Nothing here changes the account or the file.

use std::collections::HashMap;
use std::path::Path;

use crate::plan::CompactJson;
use futures_util::{StreamExt, stream};
use serde::Serialize;

use super::{EngineError, verify_account};
use crate::aws::AwsSession;
use crate::journal::keys::KeyStore;
use crate::journal::{self, Entry, JournalContents};
use crate::plan::Cut;
use crate::services::Registry;

/// A completed cut and the undo record its completion holds.
pub struct Completed<'a> {
    pub cut: &'a Cut,
    pub undo: &'a CompactJson,
}

/// Every cut the file records as completed, in the order of their first intent, each with the undo record
/// of its last completion (a cut re-applied later records what the latest run made).
pub fn completed(contents: &JournalContents) -> Vec<Completed<'_>> {
    let mut intents: Vec<&Cut> = Vec::new();
    // Where each ID's intent sits in `intents`: a file of thousands of cuts is not searched once per entry.
    let mut position: HashMap<&str, usize> = HashMap::new();
    let mut undo_of: HashMap<&str, &CompactJson> = HashMap::new();
    for record in &contents.records {
        match &record.entry {
            Entry::Intent { cut } => match position.get(cut.id.as_str()) {
                Some(&at) => intents[at] = cut,
                None => {
                    position.insert(&cut.id, intents.len());
                    intents.push(cut);
                }
            },
            Entry::Done { id, undo } => {
                undo_of.insert(id, undo);
            }
            _ => {}
        }
    }
    intents
        .into_iter()
        .filter_map(|cut| {
            undo_of
                .get(cut.id.as_str())
                .map(|undo| Completed { cut, undo })
        })
        .collect()
}

/// One line per completed cut whose kind records something the operator needs after apply (the evidence
/// it made, by ID), as `(cut ID, what)`. Read from the file alone.
pub fn recorded(contents: &JournalContents, registry: &Registry) -> Vec<(String, String)> {
    completed(contents)
        .into_iter()
        .filter_map(|done| {
            let kind = registry.get(&done.cut.kind)?;
            Some((done.cut.id.clone(), kind.recorded(&done.undo.value())?))
        })
        .collect()
}

/// How far one completed cut's background work has got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub id: String,
    /// What the kind read, e.g. "snap-1 completed, snap-2 pending 40%"; or why it could not be read.
    #[serde(flatten)]
    pub state: ProgressState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressState {
    Read(String),
    Unreadable(String),
}

#[derive(Debug, Default)]
pub struct LiveReport {
    pub account: String,
    pub progress: Vec<Progress>,
}

/// Asks AWS, read-only, how far each completed cut's background work has got, for the kinds that can
/// tell. Refuses, like `watch`, a file whose entries do not authenticate or whose account is not the
/// credentials'.
pub async fn live(
    session: &AwsSession,
    registry: &Registry,
    rollback: &Path,
    keys: &KeyStore,
    parallelism: usize,
) -> Result<LiveReport, EngineError> {
    let (contents, _warnings) = journal::read_path(rollback, keys, false)?;
    let account = super::restore::rollback_account(&contents, rollback)?;
    verify_account(session, &account, "rollback file").await?;
    let asked: Vec<(String, Option<Result<String, String>>)> = stream::iter(completed(&contents))
        .map(|done| async move {
            let answer = match registry.get(&done.cut.kind) {
                Some(kind) => kind
                    .progress(&session.region(&done.cut.region), &done.undo.value())
                    .await
                    .map(|read| read.map_err(|err| err.to_string())),
                // A kind this hikkonuki does not know cannot tell.
                None => None,
            };
            (done.cut.id.clone(), answer)
        })
        .buffered(parallelism.max(1))
        .collect()
        .await;
    let progress = asked
        .into_iter()
        .filter_map(|(id, answer)| {
            let state = match answer? {
                Ok(read) => ProgressState::Read(read),
                Err(err) => ProgressState::Unreadable(err),
            };
            Some(Progress { id, state })
        })
        .collect();
    Ok(LiveReport { account, progress })
}
