//! `image_block_public_access`: the regional block public access for AMIs, set to `block-new-sharing`,
//! the only state AWS offers. No AMI of the region can be made public while it is on; AMIs already public
//! stay public (AWS, "Block public access to your AMIs":
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-public-access-to-amis.html>), so
//! `sharing_revoke` makes those private, and sharing with named accounts is not affected.
//!
//! AWS takes up to 10 minutes to apply either change, and `GetImageBlockPublicAccessState` reports the
//! previous state meanwhile (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageBlockPublicAccess.html>,
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DisableImageBlockPublicAccess.html>). So a
//! restore soon after apply may read `unblocked` while the cut's block is still on its way: reading the
//! prior state proves nothing, and undo disables it all the same (the prior state, whatever the reading).
//! The switch has only the two states, so no later change can be told from the cut's own. Undo then waits,
//! bounded, until AWS reports it `unblocked`, because `sharing_revoke`'s restore, which follows, cannot make
//! an AMI public before that. For the same reason `watch`, within that time of the cut, cannot tell a
//! reading of `unblocked` from the block still on its way ([`crate::services::Containment::reads_back_late`]).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::ImageBlockPublicAccessEnabledState;

use super::account_switch::{self, SwitchState, UndoStep};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, PermissionCheck, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct ImageBlockPublicAccess;

static INFO: KindInfo = KindInfo {
    name: "image_block_public_access",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Sharing,
};

pub const BLOCK_NEW_SHARING: &str = "block-new-sharing";
const UNBLOCKED: &str = "unblocked";
/// "The API can take up to 10 minutes to configure this setting" (DisableImageBlockPublicAccess), with a
/// minute's margin.
const TAKES_EFFECT_WITHIN: Duration = Duration::from_secs(11 * 60);
const POLL_FIRST: Duration = Duration::from_secs(1);
const POLL_LONGEST: Duration = Duration::from_secs(15);

/// Polls until AWS reports `state`, at most [`TAKES_EFFECT_WITHIN`]; false when it still does not.
async fn wait_for(ctx: &RegionCtx, account_id: &str, state: &str) -> Result<bool, ServiceError> {
    let started = tokio::time::Instant::now();
    let mut interval = POLL_FIRST;
    loop {
        if read(ctx, account_id).await?.state == state {
            return Ok(true);
        }
        if started.elapsed() >= TAKES_EFFECT_WITHIN {
            return Ok(false);
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 2).min(POLL_LONGEST);
    }
}

async fn read(ctx: &RegionCtx, account_id: &str) -> Result<SwitchState, ServiceError> {
    let out = ctx
        .ec2()
        .get_image_block_public_access_state()
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:GetImageBlockPublicAccessState", err))?;
    Ok(SwitchState {
        account_id: account_id.to_string(),
        state: out
            .image_block_public_access_state()
            .unwrap_or(UNBLOCKED)
            .to_string(),
        managed_by: out
            .managed_by()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "account".into()),
    })
}

/// The switch as discovery found it, read once per region and run: this kind's proposal and
/// `sharing_revoke`'s reasons (a public AMI cannot be made public again while it blocks) read one answer.
pub async fn read_for_plan(ctx: &RegionCtx, account_id: &str) -> Result<SwitchState, ServiceError> {
    ctx.once("image_block_public_access.state", || read(ctx, account_id))
        .await
}

/// The switch's state now as AWS reports it (`unblocked` or `block-new-sharing`; see the module
/// documentation for its lag), for `sharing_revoke`'s restore when AWS refuses to make an AMI public again.
pub async fn state_now(ctx: &RegionCtx) -> Result<String, ServiceError> {
    Ok(read(ctx, "").await?.state)
}

/// Whether the switch in `state` refuses making an AMI public: `block-new-sharing` "will block any attempt
/// to publicly share your AMIs"
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageBlockPublicAccess.html>).
pub fn blocks_new_public_sharing(state: &str) -> bool {
    state == BLOCK_NEW_SHARING
}

/// Sets the switch to `state` (`unblocked` disables it).
async fn set(ctx: &RegionCtx, state: &str, dry_run: bool) -> Result<(), ServiceError> {
    if state == UNBLOCKED {
        ctx.ec2()
            .disable_image_block_public_access()
            .dry_run(dry_run)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DisableImageBlockPublicAccess", err))?;
    } else {
        ctx.ec2()
            .enable_image_block_public_access()
            .image_block_public_access_state(ImageBlockPublicAccessEnabledState::from(state))
            .dry_run(dry_run)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:EnableImageBlockPublicAccess", err))?;
    }
    Ok(())
}

/// The proposal for one region, or nothing when new sharing is already blocked.
pub fn propose(region: &str, before: &SwitchState) -> Option<Proposal<SwitchState>> {
    if before.state == BLOCK_NEW_SHARING {
        return None;
    }
    let after = SwitchState {
        state: BLOCK_NEW_SHARING.into(),
        ..before.clone()
    };
    Some(Proposal {
        target: before.account_id.clone(),
        reason: format!(
            "AMIs in {region} can be made public (block public access `{}`). `block-new-sharing` stops any AMI from being made public; AMIs already public stay public (sharing_revoke makes them private) and sharing with named accounts is not affected. AWS takes up to 10 minutes to apply it. Restore puts back `{}`.",
            before.state, before.state
        ),
        disabled_because: account_switch::managed_elsewhere(
            before,
            "AMI block public access",
            region,
        ),
        before: before.clone(),
        after,
    })
}

#[async_trait]
impl CutKind for ImageBlockPublicAccess {
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

    /// AWS reports the previous state for up to 10 minutes after the block is enabled (see the module
    /// documentation): `watch` must not read that as the block lifted, nor as held.
    fn reads_back_late(&self) -> Option<Duration> {
        Some(TAKES_EFFECT_WITHIN)
    }

    fn check_states(&self, cut: &TypedCut<SwitchState>) -> Result<(), String> {
        account_switch::check_states(cut, BLOCK_NEW_SHARING)
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
        set(ctx, BLOCK_NEW_SHARING, false).await?;
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
        PermissionCheck::from_dry_run(set(ctx, BLOCK_NEW_SHARING, true).await)
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &SwitchState,
    ) -> Result<UndoOutcome, ServiceError> {
        let region = &ctx.region;
        let live = read(ctx, &prior.account_id).await?;
        let mut notes = Vec::new();
        match account_switch::undo_step(&live.state, &prior.state, BLOCK_NEW_SHARING) {
            UndoStep::AlreadyPrior => {
                // Possibly the cut's block still being configured: disable it all the same.
                set(ctx, &prior.state, false).await?;
                notes.push(format!(
                    "AMI block public access in {region} already `{}`, as before the cut; set to `{}` again all the same, as AWS reports the previous state for up to 10 minutes after a change and the cut's block may still have been on its way",
                    prior.state, prior.state
                ));
            }
            UndoStep::Conflict(now) => {
                notes.push(format!(
                    "conflict: AMI block public access in {region} was changed after the cut to `{now}`; left alone (it was `{}` before the cut)",
                    prior.state
                ));
                return Ok(UndoOutcome { notes });
            }
            UndoStep::PutBack => {
                set(ctx, &prior.state, false).await?;
                notes.push(format!(
                    "AMI block public access in {region} set back to `{}`",
                    prior.state
                ));
            }
        }
        if !wait_for(ctx, &prior.account_id, &prior.state).await? {
            notes.push(format!(
                "AWS still reports `{BLOCK_NEW_SHARING}` after {} minutes: until it applies the change, making an AMI public (sharing_revoke's restore) is refused; run restore again once it reports `{}`",
                TAKES_EFFECT_WITHIN.as_secs() / 60,
                prior.state
            ));
        }
        Ok(UndoOutcome { notes })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::disable_image_block_public_access::DisableImageBlockPublicAccessOutput;
    use aws_sdk_ec2::operation::enable_image_block_public_access::EnableImageBlockPublicAccessOutput;
    use aws_sdk_ec2::operation::get_image_block_public_access_state::GetImageBlockPublicAccessStateOutput;
    use aws_sdk_ec2::types::{ImageBlockPublicAccessDisabledState, ManagedBy};
    use aws_smithy_mocks::{mock, mock_client};

    use super::*;

    fn state(state: &str, managed_by: &str) -> SwitchState {
        SwitchState {
            account_id: "123456789012".into(),
            state: state.into(),
            managed_by: managed_by.into(),
        }
    }

    /// The documented GetImageBlockPublicAccessState answer: `ImageBlockPublicAccessState` and `ManagedBy`.
    fn got(state: &str, managed_by: ManagedBy) -> GetImageBlockPublicAccessStateOutput {
        GetImageBlockPublicAccessStateOutput::builder()
            .image_block_public_access_state(state)
            .managed_by(managed_by)
            .build()
    }

    /// `apply --check` asks EC2 with DryRun; its documented answers are DryRunOperation (it would be
    /// allowed) and UnauthorizedOperation (it would not), which the check reports as denied, naming the
    /// call, and no switch is changed.
    #[tokio::test]
    async fn mocked_check_reports_a_denied_dry_run_and_an_allowed_one() {
        use aws_sdk_ec2::error::ErrorMetadata;
        use aws_sdk_ec2::operation::enable_image_block_public_access::EnableImageBlockPublicAccessError;
        let answer = |code: &'static str| {
            mock!(aws_sdk_ec2::Client::enable_image_block_public_access)
                .match_requests(|req| req.dry_run() == Some(true))
                .then_error(move || {
                    EnableImageBlockPublicAccessError::generic(
                        ErrorMetadata::builder().code(code).message(code).build(),
                    )
                })
        };
        let cut = TypedCut {
            id: "image_block_public_access/us-east-1/123456789012".into(),
            region: "us-east-1".into(),
            target: "123456789012".into(),
            before: state("unblocked", "account"),
            after: state("block-new-sharing", "account"),
        };
        let denied = answer("UnauthorizedOperation");
        let ctx = RegionCtx::with_ec2(
            "us-east-1",
            mock_client!(
                aws_sdk_ec2,
                aws_smithy_mocks::RuleMode::MatchAny,
                &[&denied]
            ),
        );
        match ImageBlockPublicAccess.check_permission(&ctx, &cut).await {
            PermissionCheck::Denied(err) => {
                assert_eq!(err.code.as_deref(), Some("UnauthorizedOperation"));
                assert_eq!(err.operation, "ec2:EnableImageBlockPublicAccess");
            }
            other => panic!("expected a denial, got {other:?}"),
        }
        let allowed = answer("DryRunOperation");
        let ctx = RegionCtx::with_ec2(
            "us-east-1",
            mock_client!(
                aws_sdk_ec2,
                aws_smithy_mocks::RuleMode::MatchAny,
                &[&allowed]
            ),
        );
        assert_eq!(
            ImageBlockPublicAccess.check_permission(&ctx, &cut).await,
            PermissionCheck::Allowed
        );
    }

    #[tokio::test]
    async fn an_unblocked_region_is_proposed_block_new_sharing_then_undone_by_disabling() {
        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("unblocked", ManagedBy::Account));
        let enable = mock!(aws_sdk_ec2::Client::enable_image_block_public_access)
            .match_requests(|r| {
                r.image_block_public_access_state()
                    == Some(&ImageBlockPublicAccessEnabledState::BlockNewSharing)
            })
            .then_output(|| {
                EnableImageBlockPublicAccessOutput::builder()
                    .image_block_public_access_state(
                        ImageBlockPublicAccessEnabledState::BlockNewSharing,
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_ec2, [&get, &enable]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let proposed = ImageBlockPublicAccess
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap()
            .remove(0);
        assert_eq!(proposed.before, state("unblocked", "account"));
        assert_eq!(proposed.disabled_because, None);
        let cut = TypedCut {
            id: "image_block_public_access/us-east-1/123456789012".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(ImageBlockPublicAccess.check_states(&cut), Ok(()));
        let undo = ImageBlockPublicAccess.apply(&ctx, &cut).await.unwrap();
        assert_eq!(enable.num_calls(), 1);
        assert_eq!(undo, state("unblocked", "account"));

        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("block-new-sharing", ManagedBy::Account));
        let disable = disable_rule();
        let settled = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("unblocked", ManagedBy::Account));
        let client = mock_client!(aws_sdk_ec2, [&get, &disable, &settled]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let outcome = ImageBlockPublicAccess.undo(&ctx, &undo).await.unwrap();
        assert_eq!(disable.num_calls(), 1);
        assert_eq!(settled.num_calls(), 1, "undo waits until AWS reports it");
        assert_eq!(outcome.notes.len(), 1, "{:?}", outcome.notes);
        assert!(outcome.notes[0].contains("set back to `unblocked`"));
    }

    fn disable_rule() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_ec2::Client::disable_image_block_public_access).then_output(|| {
            DisableImageBlockPublicAccessOutput::builder()
                .image_block_public_access_state(ImageBlockPublicAccessDisabledState::Unblocked)
                .build()
        })
    }

    fn unblocked_before() -> SwitchState {
        state("unblocked", "account")
    }

    /// Right after EnableImageBlockPublicAccess, GetImageBlockPublicAccessState still answers `unblocked`
    /// for up to 10 minutes (API reference). Restore in that window must not take the reading for the
    /// prior state and leave the block to land after it: it disables all the same.
    #[tokio::test]
    async fn restore_while_the_cuts_block_is_still_being_configured_disables_it_all_the_same() {
        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("unblocked", ManagedBy::Account));
        let disable = disable_rule();
        let settled = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("unblocked", ManagedBy::Account));
        let client = mock_client!(aws_sdk_ec2, [&get, &disable, &settled]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let outcome = ImageBlockPublicAccess
            .undo(&ctx, &unblocked_before())
            .await
            .unwrap();
        assert_eq!(disable.num_calls(), 1);
        assert!(
            outcome.notes[0].contains(
                "already `unblocked`, as before the cut; set to `unblocked` again all the same"
            ),
            "{:?}",
            outcome.notes
        );
    }

    /// After DisableImageBlockPublicAccess, GetImageBlockPublicAccessState answers `block-new-sharing` until
    /// the change is applied (up to 10 minutes): undo polls until `unblocked`, so sharing_revoke's restore
    /// can make AMIs public.
    #[tokio::test(start_paused = true)]
    async fn restore_waits_until_aws_reports_the_block_lifted() {
        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .sequence()
            .output(|| got("block-new-sharing", ManagedBy::Account))
            .build();
        let disable = disable_rule();
        let polls = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .sequence()
            .output(|| got("block-new-sharing", ManagedBy::Account))
            .times(3)
            .output(|| got("unblocked", ManagedBy::Account))
            .build();
        let client = mock_client!(aws_sdk_ec2, [&get, &disable, &polls]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let started = tokio::time::Instant::now();
        let outcome = ImageBlockPublicAccess
            .undo(&ctx, &unblocked_before())
            .await
            .unwrap();
        assert_eq!(polls.num_calls(), 4);
        assert!(started.elapsed() >= Duration::from_secs(1 + 2 + 4));
        assert_eq!(outcome.notes.len(), 1, "{:?}", outcome.notes);
    }

    /// Still `block-new-sharing` past the documented 10 minutes: restore does not hang, and says that
    /// making AMIs public is refused until AWS applies the change.
    #[tokio::test(start_paused = true)]
    async fn restore_gives_up_waiting_past_the_documented_delay_and_says_so() {
        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .sequence()
            .output(|| got("block-new-sharing", ManagedBy::Account))
            .build();
        let disable = disable_rule();
        let polls = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .sequence()
            .output(|| got("block-new-sharing", ManagedBy::Account))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_ec2, [&get, &disable, &polls]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let outcome = ImageBlockPublicAccess
            .undo(&ctx, &unblocked_before())
            .await
            .unwrap();
        assert_eq!(disable.num_calls(), 1);
        assert!(
            outcome.notes[1].contains("AWS still reports `block-new-sharing` after 11 minutes")
                && outcome.notes[1].contains("run restore again"),
            "{:?}",
            outcome.notes
        );
    }

    #[tokio::test]
    async fn a_switch_managed_by_a_declarative_policy_is_proposed_disabled_naming_it() {
        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("unblocked", ManagedBy::DeclarativePolicy));
        let client = mock_client!(aws_sdk_ec2, [&get]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        let proposed = ImageBlockPublicAccess
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        let why = proposed[0].disabled_because.as_deref().unwrap();
        assert!(why.contains("`declarative-policy`"), "{why}");
    }

    #[tokio::test]
    async fn a_region_already_blocking_new_sharing_is_left_alone() {
        let get = mock!(aws_sdk_ec2::Client::get_image_block_public_access_state)
            .then_output(|| got("block-new-sharing", ManagedBy::Account));
        let client = mock_client!(aws_sdk_ec2, [&get]);
        let ctx = RegionCtx::with_ec2("us-east-1", client);
        assert!(
            ImageBlockPublicAccess
                .discover(&ctx, &DiscoveryScope::for_tests())
                .await
                .unwrap()
                .is_empty()
        );
    }
}
