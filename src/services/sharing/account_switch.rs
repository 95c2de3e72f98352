//! What the two regional sharing switches (`snapshot_block_public_access`, `image_block_public_access`)
//! share: the state they record, its checks, and restore's rule (put the prior state back only while the
//! switch still holds what the cut set; report anything else as a conflict).

use serde::{Deserialize, Serialize};

use crate::services::TypedCut;

/// A regional block-public-access switch, as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchState {
    pub account_id: String,
    /// The switch's state as AWS names it (`unblocked`, `block-new-sharing`, `block-all-sharing`).
    pub state: String,
    /// `account`, or `declarative-policy` when an organization's declarative policy manages it.
    pub managed_by: String,
}

/// Checks a switch cut: same account, same manager, and `after` is the state the kind sets.
pub fn check_states(cut: &TypedCut<SwitchState>, set: &str) -> Result<(), String> {
    let (before, after) = (&cut.before, &cut.after);
    if before.account_id != cut.target || after.account_id != cut.target {
        return Err(format!(
            "account_id must be the cut's target `{}`",
            cut.target
        ));
    }
    if after.state != set {
        return Err(format!("`after.state` must be `{set}`"));
    }
    if after.managed_by != before.managed_by {
        return Err("`after.managed_by` must be as in `before`: the cut does not change it".into());
    }
    Ok(())
}

/// Why a switch managed by a declarative policy cannot be cut, or None when the account manages it.
pub fn managed_elsewhere(before: &SwitchState, what: &str, region: &str) -> Option<String> {
    (before.managed_by != "account").then(|| {
        format!(
            "{what} in {region} is managed by `{}` (an organization's declarative policy), not by the account: the account cannot change it. Ask the organization's management account to set it in the policy.",
            before.managed_by
        )
    })
}

/// What restore does, given the switch's live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoStep {
    /// Already as before the cut.
    AlreadyPrior,
    /// Changed since the cut to this state: left alone.
    Conflict(String),
    /// Still as the cut set it: put the prior state back.
    PutBack,
}

pub fn undo_step(live: &str, prior: &str, set: &str) -> UndoStep {
    if live == prior {
        UndoStep::AlreadyPrior
    } else if live != set {
        UndoStep::Conflict(live.to_string())
    } else {
        UndoStep::PutBack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_puts_back_only_what_the_cut_set_and_reports_a_later_change() {
        assert_eq!(
            undo_step("block-all-sharing", "unblocked", "block-all-sharing"),
            UndoStep::PutBack
        );
        assert_eq!(
            undo_step("unblocked", "unblocked", "block-all-sharing"),
            UndoStep::AlreadyPrior
        );
        assert_eq!(
            undo_step("block-new-sharing", "unblocked", "block-all-sharing"),
            UndoStep::Conflict("block-new-sharing".into())
        );
    }
}
