//! `snapshot_block_public_access`: the regional block public access for EBS snapshots, set to
//! `block-all-sharing`. It blocks every public sharing of the region's snapshots, and snapshots already
//! public are no longer publicly available while it is on (AWS, "Block public access for snapshots":
//! <https://docs.aws.amazon.com/ebs/latest/userguide/block-public-access-snapshots.html>). Sharing with
//! named accounts is not affected: `sharing_revoke` removes those permissions.
//!
//! Undo puts back the prior state (`unblocked` through `DisableSnapshotBlockPublicAccess`, or
//! `block-new-sharing`), only while the switch still holds `block-all-sharing`.

use async_trait::async_trait;
use aws_sdk_ec2::types::SnapshotBlockPublicAccessState;

use super::account_switch::{self, SwitchState, UndoStep};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct SnapshotBlockPublicAccess;

static INFO: KindInfo = KindInfo {
    name: "snapshot_block_public_access",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Sharing,
};

pub const BLOCK_ALL_SHARING: &str = "block-all-sharing";
const UNBLOCKED: &str = "unblocked";

async fn read(ctx: &RegionCtx, account_id: &str) -> Result<SwitchState, ServiceError> {
    let out = ctx
        .ec2()
        .get_snapshot_block_public_access_state()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:GetSnapshotBlockPublicAccessState", err))?;
    Ok(SwitchState {
        account_id: account_id.to_string(),
        state: out
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| UNBLOCKED.into()),
        managed_by: out
            .managed_by()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "account".into()),
    })
}

/// The switch as discovery found it, read once per region and run: this kind's proposal and
/// `sharing_revoke`'s reasons (a public snapshot cannot be made public again while it blocks) read one
/// answer.
pub async fn read_for_plan(ctx: &RegionCtx, account_id: &str) -> Result<SwitchState, ServiceError> {
    ctx.once("snapshot_block_public_access.state", || {
        read(ctx, account_id)
    })
    .await
}

/// The switch's state now (`unblocked`, `block-new-sharing`, `block-all-sharing`), for
/// `sharing_revoke`'s restore when AWS refuses to make a snapshot public again.
pub async fn state_now(ctx: &RegionCtx) -> Result<String, ServiceError> {
    Ok(read(ctx, "").await?.state)
}

/// Whether the switch in `state` refuses new public sharing: both blocking states do ("users can no
/// longer request public sharing",
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSnapshotBlockPublicAccess.html>).
pub fn blocks_new_public_sharing(state: &str) -> bool {
    state != UNBLOCKED
}

/// Sets the switch to `state` (`unblocked` disables it).
async fn set(ctx: &RegionCtx, state: &str, dry_run: bool) -> Result<(), ServiceError> {
    if state == UNBLOCKED {
        ctx.ec2()
            .disable_snapshot_block_public_access()
            .dry_run(dry_run)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DisableSnapshotBlockPublicAccess", err))?;
    } else {
        ctx.ec2()
            .enable_snapshot_block_public_access()
            .state(SnapshotBlockPublicAccessState::from(state))
            .dry_run(dry_run)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:EnableSnapshotBlockPublicAccess", err))?;
    }
    Ok(())
}

/// The proposal for one region, or nothing when all sharing is already blocked.
pub fn propose(region: &str, before: &SwitchState) -> Option<Proposal<SwitchState>> {
    if before.state == BLOCK_ALL_SHARING {
        return None;
    }
    let after = SwitchState {
        state: BLOCK_ALL_SHARING.into(),
        ..before.clone()
    };
    Some(Proposal {
        target: before.account_id.clone(),
        reason: format!(
            "EBS snapshots in {region} can be shared publicly (block public access `{}`). `block-all-sharing` blocks every public sharing and makes snapshots already public unavailable to the public while it is on; sharing with named accounts is not affected (sharing_revoke removes it). Restore puts back `{}`, and snapshots public before are public again.",
            before.state, before.state
        ),
        disabled_because: account_switch::managed_elsewhere(
            before,
            "EBS snapshot block public access",
            region,
        ),
        before: before.clone(),
        after,
    })
}

#[async_trait]
impl CutKind for SnapshotBlockPublicAccess {
    type State = SwitchState;
    /// The switch as it was before the cut: what restore puts back.
    type Undo = SwitchState;

    /// One cut per region, whose undo touches only that region's switch: restore may undo several
    /// regions at once (each region's bucket for the call holds one token refilled every 10 s).
    fn undoes_independently(&self) -> bool {
        true
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<SwitchState>) -> Result<(), String> {
        account_switch::check_states(cut, BLOCK_ALL_SHARING)
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<SwitchState>>, ServiceError> {
        let before = read_for_plan(ctx, &scope.caller.account).await?;
        Ok(propose(&ctx.region, &before).into_iter().collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SwitchState>,
    ) -> Result<Option<SwitchState>, ServiceError> {
        Ok(Some(read(ctx, &cut.target).await?))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<SwitchState>,
    ) -> Result<SwitchState, ServiceError> {
        let prior = self.undo_record_for(cut)?;
        set(ctx, BLOCK_ALL_SHARING, false).await?;
        Ok(prior)
    }

    fn undo_record_for(&self, cut: &TypedCut<SwitchState>) -> Result<SwitchState, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn check_permission(
        &self,
        ctx: &RegionCtx,
        _cut: &TypedCut<SwitchState>,
    ) -> PermissionCheck {
        PermissionCheck::from_dry_run(set(ctx, BLOCK_ALL_SHARING, true).await)
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &SwitchState,
    ) -> Result<UndoOutcome, ServiceError> {
        let region = &ctx.region;
        let live = read(ctx, &prior.account_id).await?;
        let note = match account_switch::undo_step(&live.state, &prior.state, BLOCK_ALL_SHARING) {
            UndoStep::AlreadyPrior => format!(
                "EBS snapshot block public access in {region} already `{}`, as before the cut",
                prior.state
            ),
            UndoStep::Conflict(now) => format!(
                "conflict: EBS snapshot block public access in {region} was changed after the cut to `{now}`; left alone (it was `{}` before the cut)",
                prior.state
            ),
            UndoStep::PutBack => {
                set(ctx, &prior.state, false).await?;
                format!(
                    "EBS snapshot block public access in {region} set back to `{}`",
                    prior.state
                )
            }
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::disable_snapshot_block_public_access::DisableSnapshotBlockPublicAccessOutput;
    use aws_sdk_ec2::operation::enable_snapshot_block_public_access::EnableSnapshotBlockPublicAccessOutput;
    use aws_sdk_ec2::operation::get_snapshot_block_public_access_state::GetSnapshotBlockPublicAccessStateOutput;
    use aws_sdk_ec2::types::ManagedBy;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn state(state: &str, managed_by: &str) -> SwitchState {
        SwitchState {
            account_id: "123456789012".into(),
            state: state.into(),
            managed_by: managed_by.into(),
        }
    }

    fn cut_for(before: &SwitchState) -> TypedCut<SwitchState> {
        let proposed = propose("us-east-1", before).unwrap();
        TypedCut {
            id: "snapshot_block_public_access/us-east-1/123456789012".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    /// The documented GetSnapshotBlockPublicAccessState answer: `State` and `ManagedBy`.
    fn got(
        state: SnapshotBlockPublicAccessState,
        managed_by: ManagedBy,
    ) -> GetSnapshotBlockPublicAccessStateOutput {
        GetSnapshotBlockPublicAccessStateOutput::builder()
            .state(state)
            .managed_by(managed_by)
            .build()
    }

    #[tokio::test]
    async fn an_unblocked_region_is_proposed_block_all_sharing_and_a_blocked_one_is_not() {
        let get = mock!(aws_sdk_ec2::Client::get_snapshot_block_public_access_state)
            .sequence()
            .output(|| {
                got(
                    SnapshotBlockPublicAccessState::Unblocked,
                    ManagedBy::Account,
                )
            })
            .output(|| {
                got(
                    SnapshotBlockPublicAccessState::BlockAllSharing,
                    ManagedBy::Account,
                )
            })
            .build();
        let client = mock_client!(aws_sdk_ec2, RuleMode::Sequential, [&get]);
        // Two runs: a plan reads the switch once per region and run.
        let run = || RegionCtx::with_ec2("us-east-1", client.clone());
        let scope = DiscoveryScope::for_tests();
        let proposed = SnapshotBlockPublicAccess
            .discover(&run(), &scope)
            .await
            .unwrap();
        assert_eq!(proposed.len(), 1);
        assert_eq!(proposed[0].before, state("unblocked", "account"));
        assert_eq!(proposed[0].after.state, BLOCK_ALL_SHARING);
        assert_eq!(proposed[0].disabled_because, None);
        assert!(
            SnapshotBlockPublicAccess
                .discover(&run(), &scope)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_switch_managed_by_a_declarative_policy_is_proposed_disabled_naming_it() {
        let get =
            mock!(aws_sdk_ec2::Client::get_snapshot_block_public_access_state).then_output(|| {
                got(
                    SnapshotBlockPublicAccessState::Unblocked,
                    ManagedBy::DeclarativePolicy,
                )
            });
        let client = mock_client!(aws_sdk_ec2, [&get]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let proposed = SnapshotBlockPublicAccess
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        let why = proposed[0].disabled_because.as_deref().unwrap();
        assert!(why.contains("`declarative-policy`"), "{why}");
    }

    #[tokio::test]
    async fn restore_puts_block_new_sharing_back_by_enabling_it_and_unblocked_by_disabling() {
        let get =
            mock!(aws_sdk_ec2::Client::get_snapshot_block_public_access_state).then_output(|| {
                got(
                    SnapshotBlockPublicAccessState::BlockAllSharing,
                    ManagedBy::Account,
                )
            });
        let enable = mock!(aws_sdk_ec2::Client::enable_snapshot_block_public_access)
            .match_requests(|r| r.state() == Some(&SnapshotBlockPublicAccessState::BlockNewSharing))
            .then_output(|| {
                EnableSnapshotBlockPublicAccessOutput::builder()
                    .state(SnapshotBlockPublicAccessState::BlockNewSharing)
                    .build()
            });
        let client = mock_client!(aws_sdk_ec2, [&get, &enable]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let outcome = SnapshotBlockPublicAccess
            .undo(&ctx, &state("block-new-sharing", "account"))
            .await
            .unwrap();
        assert_eq!(enable.num_calls(), 1);
        assert!(outcome.notes[0].contains("set back to `block-new-sharing`"));

        let get =
            mock!(aws_sdk_ec2::Client::get_snapshot_block_public_access_state).then_output(|| {
                got(
                    SnapshotBlockPublicAccessState::BlockAllSharing,
                    ManagedBy::Account,
                )
            });
        let disable =
            mock!(aws_sdk_ec2::Client::disable_snapshot_block_public_access).then_output(|| {
                DisableSnapshotBlockPublicAccessOutput::builder()
                    .state(SnapshotBlockPublicAccessState::Unblocked)
                    .build()
            });
        let client = mock_client!(aws_sdk_ec2, [&get, &disable]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        SnapshotBlockPublicAccess
            .undo(&ctx, &state("unblocked", "account"))
            .await
            .unwrap();
        assert_eq!(disable.num_calls(), 1);
    }

    #[tokio::test]
    async fn restore_leaves_a_switch_changed_after_the_cut_and_says_so() {
        let get =
            mock!(aws_sdk_ec2::Client::get_snapshot_block_public_access_state).then_output(|| {
                got(
                    SnapshotBlockPublicAccessState::BlockNewSharing,
                    ManagedBy::Account,
                )
            });
        let client = mock_client!(aws_sdk_ec2, [&get]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let outcome = SnapshotBlockPublicAccess
            .undo(&ctx, &state("unblocked", "account"))
            .await
            .unwrap();
        assert!(
            outcome.notes[0].starts_with("conflict:"),
            "{:?}",
            outcome.notes
        );
    }

    #[tokio::test]
    async fn the_permission_check_is_a_dry_run_of_the_enable() {
        let enable = mock!(aws_sdk_ec2::Client::enable_snapshot_block_public_access)
            .match_requests(|r| {
                r.dry_run() == Some(true)
                    && r.state() == Some(&SnapshotBlockPublicAccessState::BlockAllSharing)
            })
            .then_error(|| {
                aws_sdk_ec2::operation::enable_snapshot_block_public_access::EnableSnapshotBlockPublicAccessError::generic(
                    crate::services::kind::dry_run_would_succeed(),
                )
            });
        let client = mock_client!(aws_sdk_ec2, [&enable]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let cut = cut_for(&state("unblocked", "account"));
        assert_eq!(
            SnapshotBlockPublicAccess.check_permission(&ctx, &cut).await,
            PermissionCheck::Allowed
        );
        assert_eq!(SnapshotBlockPublicAccess.check_states(&cut), Ok(()));
        assert_eq!(
            SnapshotBlockPublicAccess.undo_record_for(&cut).unwrap(),
            state("unblocked", "account")
        );
    }
}
