//! What a piece of work's writes to AWS came to, as AWS answered them: whether a failed cut changed
//! anything.
//!
//! A cut that fails is journaled `failed`, and restore used to take every such cut as one that may have
//! partly happened: it read the resource and put back whatever of `before` was missing. When AWS had
//! refused the cut's only write, nothing had happened, and a rule the team removed by hand after the
//! failure was put back by restore. Now apply watches the cut's calls ([`watching`]); when every write
//! it sent was refused, the journal says the cut changed nothing and restore leaves that resource alone.
//!
//! The rule is AWS's: an error answer with a 4xx status is a request AWS did not carry out (the
//! client's fault: denied, invalid, not found, throttled); a 5xx answer, or none (a timeout, a
//! connection reset), may have been carried out. An attempt the SDK retried counts as it was answered, so
//! a write lost once and refused when retried (`InvalidPermission.NotFound` because the first went
//! through) is not "refused". Reads (`Describe*`, `Get*`, `List*`, `Search*`) change nothing and are not
//! counted; any other call is a write, whatever it is, which errs towards "may have happened". Work that
//! sent no write that the watch saw (calls answered by a test's mocked clients, which never reach the
//! HTTP client) is not known to have changed nothing either.

use std::sync::{Arc, Mutex};

/// Said of a failed cut whose every write AWS refused, wherever it is shown.
pub const REFUSED_NOTE: &str = "AWS refused every write of this cut: nothing was changed";

/// What follows a failed cut's error where it is shown: [`REFUSED_NOTE`] when AWS refused every write
/// of it, else nothing. Apart from the error, so that an error cut short for display keeps it.
pub fn refused_suffix(changed_nothing: bool) -> String {
    if changed_nothing {
        format!(" ({REFUSED_NOTE})")
    } else {
        String::new()
    }
}

/// A failed cut's error as shown: followed by [`refused_suffix`].
pub fn shown_error(error: &str, changed_nothing: bool) -> String {
    format!("{error}{}", refused_suffix(changed_nothing))
}

/// How the writes of the watched work were answered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Writes {
    /// Answered with success (2xx).
    pub carried_out: usize,
    /// Answered with a client error (4xx): not carried out.
    pub refused: usize,
    /// Answered with a server error or a redirect, or not answered: may have been carried out.
    pub unknown: usize,
}

impl Writes {
    /// At least one write was sent and AWS refused every one: nothing changed.
    pub fn changed_nothing(&self) -> bool {
        self.refused > 0 && self.carried_out == 0 && self.unknown == 0
    }

    fn count(&mut self, answer: Answer) {
        match answer {
            Answer::CarriedOut => self.carried_out += 1,
            Answer::Refused => self.refused += 1,
            Answer::Unknown => self.unknown += 1,
        }
    }
}

/// One attempt's answer, as far as it tells whether the write was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    CarriedOut,
    Refused,
    Unknown,
}

impl Answer {
    /// From the HTTP status of the answer, or `None` when there was none.
    pub fn of_status(status: Option<u16>) -> Answer {
        match status {
            Some(200..=299) => Answer::CarriedOut,
            Some(400..=499) => Answer::Refused,
            _ => Answer::Unknown,
        }
    }
}

tokio::task_local! {
    static WATCHED: Arc<Mutex<Writes>>;
}

/// Runs `work`, counting how AWS answered the writes it sent from this task.
pub async fn watching<F: std::future::Future>(work: F) -> (F::Output, Writes) {
    let writes = Arc::new(Mutex::new(Writes::default()));
    let output = WATCHED.scope(writes.clone(), work).await;
    let counted = *writes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    (output, counted)
}

/// The watch of the work this task runs, if any: taken when a call starts, so its answer is counted where
/// it was sent.
pub(crate) fn current() -> Option<Arc<Mutex<Writes>>> {
    WATCHED.try_with(Arc::clone).ok()
}

/// One attempt of a call, counted once: with its answer, or, dropped before one came (a timeout or a
/// cancelled call, after the request may have gone out), as one that may have been carried out.
pub(crate) struct Attempt<'a> {
    watch: Option<Arc<Mutex<Writes>>>,
    operation: &'a str,
}

impl<'a> Attempt<'a> {
    pub(crate) fn sent(watch: Option<Arc<Mutex<Writes>>>, operation: &'a str) -> Attempt<'a> {
        Attempt { watch, operation }
    }

    /// Counts the answer, with its HTTP status, or `None` when the connection gave none.
    pub(crate) fn answered(&mut self, status: Option<u16>) {
        if let Some(watch) = self.watch.take() {
            count(&watch, self.operation, Answer::of_status(status));
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(watch) = self.watch.take() {
            count(&watch, self.operation, Answer::Unknown);
        }
    }
}

/// Counts one attempt of the call `operation` (an API action name) in `watch`.
pub(crate) fn count(watch: &Mutex<Writes>, operation: &str, answer: Answer) {
    if crate::pacing::is_read_only(operation) {
        return;
    }
    watch
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .count(answer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_all_refused_changed_nothing() {
        assert_eq!(Answer::of_status(Some(200)), Answer::CarriedOut);
        assert_eq!(Answer::of_status(Some(403)), Answer::Refused);
        assert_eq!(Answer::of_status(Some(400)), Answer::Refused);
        assert_eq!(Answer::of_status(Some(503)), Answer::Unknown);
        assert_eq!(Answer::of_status(Some(301)), Answer::Unknown);
        assert_eq!(Answer::of_status(None), Answer::Unknown);

        let refused_once = Writes {
            refused: 1,
            ..Writes::default()
        };
        assert!(refused_once.changed_nothing());
        assert!(!Writes::default().changed_nothing(), "no write seen");
        let lost_then_refused = Writes {
            refused: 1,
            unknown: 1,
            ..Writes::default()
        };
        assert!(!lost_then_refused.changed_nothing());
        let one_through = Writes {
            refused: 1,
            carried_out: 1,
            ..Writes::default()
        };
        assert!(!one_through.changed_nothing());
    }

    #[tokio::test]
    async fn reads_are_not_counted_and_answers_count_in_the_work_that_sent_them() {
        let ((), writes) = watching(async {
            let watch = current().expect("inside the watch");
            count(&watch, "DescribeSecurityGroups", Answer::CarriedOut);
            count(&watch, "RevokeSecurityGroupIngress", Answer::Refused);
        })
        .await;
        assert_eq!(
            writes,
            Writes {
                refused: 1,
                ..Writes::default()
            }
        );
        assert!(current().is_none(), "outside any watch");
    }

    /// A write whose attempt is dropped before its answer (an SDK timeout, a cancelled call) may have
    /// been carried out: counted so, and a refusal of its retry no longer reads as "changed nothing".
    #[tokio::test]
    async fn an_attempt_dropped_before_its_answer_may_have_been_carried_out() {
        let ((), writes) = watching(async {
            let lost = Attempt::sent(current(), "RevokeSecurityGroupIngress");
            drop(lost);
            let mut retried = Attempt::sent(current(), "RevokeSecurityGroupIngress");
            retried.answered(Some(400));
        })
        .await;
        assert_eq!(
            writes,
            Writes {
                refused: 1,
                unknown: 1,
                ..Writes::default()
            }
        );
        assert!(!writes.changed_nothing());
    }
}
