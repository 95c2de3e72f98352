//! `s3_public_access_block`: switch on the account-level S3 Block Public Access (all four flags), which
//! overrides every bucket's ACLs and policies that would make data public. It closes public reads of
//! every bucket at once, whatever the bucket policies say. Undo puts back the prior configuration, or
//! deletes it if there was none, but only while the block is still the one the cut set.
//!
//! S3 Control puts the account ID in front of the host (`123456789012.s3-control…`). Against an endpoint
//! override (the emulator) that host does not resolve, so the client is then built with a resolver that
//! returns the configured URL unchanged; against AWS the SDK's own resolver stays.

use async_trait::async_trait;
use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct S3PublicAccessBlock;

static INFO: KindInfo = KindInfo {
    name: "s3_public_access_block",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: true,
    footprint: Footprint::ResourcePolicies,
};

/// The four flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockFlags {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl BlockFlags {
    pub const ALL_ON: BlockFlags = BlockFlags {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    fn from_sdk(config: &PublicAccessBlockConfiguration) -> BlockFlags {
        BlockFlags {
            block_public_acls: config.block_public_acls().unwrap_or(false),
            ignore_public_acls: config.ignore_public_acls().unwrap_or(false),
            block_public_policy: config.block_public_policy().unwrap_or(false),
            restrict_public_buckets: config.restrict_public_buckets().unwrap_or(false),
        }
    }

    fn to_sdk(self) -> PublicAccessBlockConfiguration {
        PublicAccessBlockConfiguration::builder()
            .block_public_acls(self.block_public_acls)
            .ignore_public_acls(self.ignore_public_acls)
            .block_public_policy(self.block_public_policy)
            .restrict_public_buckets(self.restrict_public_buckets)
            .build()
    }
}

/// The account's block, as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountBlock {
    pub account_id: String,
    /// None: the account has no account-level block configuration at all.
    pub configuration: Option<BlockFlags>,
}

/// Returns the configured endpoint as is: see the module comment.
#[derive(Debug)]
struct FixedEndpoint(String);

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

fn client(ctx: &RegionCtx) -> aws_sdk_s3control::Client {
    match &ctx.endpoint_url {
        Some(url) => aws_sdk_s3control::Client::from_conf(
            aws_sdk_s3control::config::Builder::from(&ctx.config)
                .endpoint_resolver(FixedEndpoint(url.clone()))
                .interceptor(crate::pacing::CallTagger)
                .build(),
        ),
        None => ctx.s3control().clone(),
    }
}

async fn read(ctx: &RegionCtx, account: &str) -> Result<Option<BlockFlags>, ServiceError> {
    match client(ctx)
        .get_public_access_block()
        .account_id(account)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.public_access_block_configuration()
                .map(BlockFlags::from_sdk)
                .unwrap_or(BlockFlags {
                    block_public_acls: false,
                    ignore_public_acls: false,
                    block_public_policy: false,
                    restrict_public_buckets: false,
                }),
        )),
        Err(err) => {
            let err = ServiceError::from_sdk("s3:GetAccountPublicAccessBlock", err);
            if err.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// Whether the account's Block Public Access has `BlockPublicPolicy` on now, which makes S3 refuse any
/// public bucket policy (resource_policy_deny asks, for the buckets it would write).
pub async fn blocks_public_policy(ctx: &RegionCtx, account: &str) -> Result<bool, ServiceError> {
    Ok(read(ctx, account)
        .await?
        .is_some_and(|flags| flags.block_public_policy))
}

async fn write(ctx: &RegionCtx, account: &str, flags: BlockFlags) -> Result<(), ServiceError> {
    client(ctx)
        .put_public_access_block()
        .account_id(account)
        .public_access_block_configuration(flags.to_sdk())
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("s3:PutAccountPublicAccessBlock", err))?;
    Ok(())
}

/// The proposal, or nothing when every flag is already on.
pub fn propose(before: &AccountBlock) -> Option<Proposal<AccountBlock>> {
    if before.configuration == Some(BlockFlags::ALL_ON) {
        return None;
    }
    let after = AccountBlock {
        account_id: before.account_id.clone(),
        configuration: Some(BlockFlags::ALL_ON),
    };
    Some(Proposal {
        target: before.account_id.clone(),
        reason: format!(
            "Account {} does not block public S3 access at account level ({}): a bucket policy or ACL can make data public. Turning on all four Block Public Access flags overrides them for every bucket; restore puts back {}.",
            before.account_id,
            match before.configuration {
                None => "no configuration",
                Some(_) => "some flags off",
            },
            match before.configuration {
                None => "no configuration (it deletes the block)",
                Some(_) => "the prior flags",
            }
        ),
        before: before.clone(),
        after,
        disabled_because: None,
    })
}

#[async_trait]
impl CutKind for S3PublicAccessBlock {
    type State = AccountBlock;
    /// The block as it was before the cut: what restore puts back.
    type Undo = AccountBlock;

    /// `BlockPublicPolicy` makes S3 "reject calls to PUT Bucket policy if the specified bucket policy
    /// allows public access"
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PublicAccessBlockConfiguration.html>),
    /// which is what resource_policy_deny writes to a public bucket (its policy with a deny added, and on
    /// restore the recorded policy): the account block goes on once those are answered, and is lifted
    /// first.
    fn cuts_after(&self) -> &'static [&'static str] {
        &[crate::services::trust::resource_policy_deny::KIND]
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<AccountBlock>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.account_id != cut.target || after.account_id != cut.target {
            return Err(format!(
                "account_id must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.configuration != Some(BlockFlags::ALL_ON) {
            return Err("`after.configuration` must have all four flags true".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<AccountBlock>>, ServiceError> {
        let account = &scope.caller.account;
        let before = AccountBlock {
            account_id: account.clone(),
            configuration: read(ctx, account).await?,
        };
        Ok(propose(&before).into_iter().collect())
    }

    /// An account always has a block state (no configuration is one), so it is never gone.
    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<AccountBlock>,
    ) -> Result<Option<AccountBlock>, ServiceError> {
        Ok(Some(AccountBlock {
            account_id: cut.target.clone(),
            configuration: read(ctx, &cut.target).await?,
        }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<AccountBlock>,
    ) -> Result<AccountBlock, ServiceError> {
        let record = self.undo_record_for(cut)?;
        write(ctx, &cut.target, BlockFlags::ALL_ON).await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &TypedCut<AccountBlock>) -> Result<AccountBlock, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &AccountBlock,
    ) -> Result<UndoOutcome, ServiceError> {
        let account = &prior.account_id;
        let live = read(ctx, account).await?;
        if live == prior.configuration {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "S3 Block Public Access of account {account} already as before the cut"
                )],
            });
        }
        if live != Some(BlockFlags::ALL_ON) {
            return Ok(UndoOutcome {
                notes: vec![format!(
                    "conflict: S3 Block Public Access of account {account} was changed after the cut ({live:?}); left alone"
                )],
            });
        }
        let note = match prior.configuration {
            Some(flags) => {
                write(ctx, account, flags).await?;
                format!("S3 Block Public Access of account {account} set back to {flags:?}")
            }
            None => {
                client(ctx)
                    .delete_public_access_block()
                    .account_id(account)
                    .send()
                    .await
                    .map_err(|err| {
                        ServiceError::from_sdk("s3:DeleteAccountPublicAccessBlock", err)
                    })?;
                format!(
                    "S3 Block Public Access of account {account} deleted, as there was none before the cut"
                )
            }
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fully_blocked_account_is_left_alone_and_others_get_all_four_flags() {
        let blocked = AccountBlock {
            account_id: "123456789012".into(),
            configuration: Some(BlockFlags::ALL_ON),
        };
        assert_eq!(propose(&blocked), None);
        let none = AccountBlock {
            account_id: "123456789012".into(),
            configuration: None,
        };
        let proposed = propose(&none).unwrap();
        assert!(proposed.reason.contains("deletes the block"));
        let cut = TypedCut {
            id: "s3_public_access_block/global/123456789012".into(),
            region: "global".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(S3PublicAccessBlock.check_states(&cut), Ok(()));
        assert_eq!(S3PublicAccessBlock.undo_record_for(&cut).unwrap(), none);
    }

    /// The emulator grants every call: S3 Control's documented AccessDenied on PutPublicAccessBlock
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PutPublicAccessBlock.html>) fails
    /// the cut naming the call and the permission to grant.
    #[tokio::test]
    async fn mocked_access_denied_fails_the_cut_naming_the_permission() {
        use aws_sdk_s3control::Client;
        use aws_sdk_s3control::operation::put_public_access_block::PutPublicAccessBlockError;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        let denied = mock!(Client::put_public_access_block).then_error(|| {
            PutPublicAccessBlockError::generic(
                aws_sdk_s3control::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            )
        });
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3control(mock_client!(
            aws_sdk_s3control,
            RuleMode::MatchAny,
            &[&denied]
        ));
        let none = AccountBlock {
            account_id: "123456789012".into(),
            configuration: None,
        };
        let proposed = propose(&none).unwrap();
        let cut = TypedCut {
            id: "s3_public_access_block/global/123456789012".into(),
            region: "global".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let err = S3PublicAccessBlock.apply(&ctx, &cut).await.unwrap_err();
        assert!(err.is_access_denied(), "{err}");
        let said = err.to_string();
        assert!(
            said.starts_with("s3:PutAccountPublicAccessBlock failed: AccessDenied")
                && said.contains("missing permission: s3:PutAccountPublicAccessBlock"),
            "{said}"
        );
    }
}
