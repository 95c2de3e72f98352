//! The evidence door (issue 17): before anything is cut, put what happens next on record. A trail logs
//! every region's API calls ([`evidence_trail_on`]), flow logs record the traffic of the VPCs the plan
//! cuts ([`evidence_flow_logs`]), and snapshots keep the disks of the instances in them
//! ([`evidence_snapshots`]). These kinds run in [`crate::services::Phase::Evidence`], before the
//! organization's policies and the sealing cuts, and restore comes to them last.
//!
//! What restore keeps: the trail keeps logging and the flow logs keep recording unless `restore
//! --stop-evidence` is given ([`STOP_EVIDENCE_GATE`]): the record of the incident must survive the
//! restore. Snapshots are never deleted by restore. Logs already delivered are never deleted either: an
//! evidence bucket is removed by `--stop-evidence` only while it is still empty.
//!
//! # Where the evidence goes
//! Each region's evidence goes to one bucket of this plan, `hikkonuki-evidence-<account>-<stamp>-<region>`
//! ([`bucket_name`]), made by the first evidence cut that needs it, in that region: the trail's bucket is
//! its home region's, and each region's flow logs go to their own region's. The stamp is the plan's moment
//! ([`plan_stamp`], from the plan's `created`), so a bucket of that name is this plan's own and nobody else's, which is what lets
//! undo (and a resumed apply) tell it from any other bucket.

pub mod evidence_flow_logs;
pub mod evidence_snapshots;
pub mod evidence_trail_on;
pub mod vpcs;

pub use evidence_flow_logs::EvidenceFlowLogs;
pub use evidence_snapshots::EvidenceSnapshots;
pub use evidence_trail_on::EvidenceTrailOn;

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
};

use crate::aws::RegionCtx;
use crate::services::{DiscoveryScope, RestoreGate, ServiceError};

/// Trail logging and flow logs stay on after restore unless this flag is given.
pub const STOP_EVIDENCE_GATE: RestoreGate = RestoreGate {
    flag: "--stop-evidence",
    why: "the record of the incident must survive restore: the trail keeps logging and the flow logs keep recording",
    help: "Also stop the evidence hikkonuki started: stop the trail it started logging, or delete the trail it created (evidence_trail_on), delete the flow logs it created (evidence_flow_logs), and delete its evidence buckets while they are still empty. Logs already delivered are never deleted, nor are evidence snapshots.",
};

/// The name of the trail hikkonuki creates when no trail it can start covers every region.
pub const TRAIL_NAME: &str = "hikkonuki-evidence";

/// The tag key that marks evidence with its incident (`--incident`, by default the plan's stamp).
pub const INCIDENT_TAG: &str = "hikkonuki:incident";

/// The plan's moment, `YYYYMMDD-HHMMSS`, from when it was made ([`DiscoveryScope::created`], RFC 3339):
/// every evidence cut of one plan names the same buckets and the same incident, and apply, deriving each
/// cut again from the plan, names them the same.
pub fn plan_stamp(scope: &DiscoveryScope) -> Result<String, ServiceError> {
    let digits: String = scope
        .created
        .chars()
        .filter(char::is_ascii_digit)
        .take(14)
        .collect();
    if digits.len() < 14 {
        return Err(ServiceError::local(
            "evidence",
            format!(
                "the plan's time {:?} is not an RFC 3339 time: the evidence cannot be named after it",
                scope.created
            ),
        ));
    }
    Ok(format!("{}-{}", &digits[..8], &digits[8..]))
}

/// This plan's evidence bucket in `region`. At most 63 characters, as S3 requires
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>): 19 + 12 + 1 + 15 + 1
/// and a region name of at most 15.
pub fn bucket_name(account: &str, stamp: &str, region: &str) -> String {
    format!("{BUCKET_PREFIX}{account}-{stamp}-{region}")
}

const BUCKET_PREFIX: &str = "hikkonuki-evidence-";

/// Whether `bucket` is one of hikkonuki's evidence buckets (of any plan): its undo may delete it.
pub fn is_evidence_bucket(bucket: &str) -> bool {
    bucket.starts_with(BUCKET_PREFIX)
}

/// The account an evidence bucket was named for (its bucket policy names it).
pub fn bucket_account(bucket: &str) -> Option<&str> {
    let account = bucket.strip_prefix(BUCKET_PREFIX)?.get(..12)?;
    account
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then_some(account)
}

/// Which buckets this account owns, as far as ListBuckets could say. A trail or flow log delivering to a
/// bucket this account does not own keeps its record in another's hands, who can read and delete it, and
/// one delivering to a bucket that no longer exists delivers nothing (until someone else takes the name):
/// neither is taken for evidence.
#[derive(Debug, Clone)]
pub enum OwnBuckets {
    Listed(std::sync::Arc<std::collections::BTreeSet<String>>),
    /// ListBuckets failed: no bucket can be known to be this account's.
    Unread(String),
}

impl OwnBuckets {
    /// Why `bucket` cannot be taken for this account's own, or `None` when it is.
    pub fn not_own(&self, bucket: &str) -> Option<String> {
        match self {
            OwnBuckets::Listed(own) if own.contains(bucket) => None,
            OwnBuckets::Listed(_) => Some(format!(
                "it delivers to {bucket}, a bucket this account does not own (another account's, or deleted and free for anyone to create): whoever owns it holds the record and can delete it"
            )),
            OwnBuckets::Unread(why) => Some(format!(
                "it delivers to {bucket}, and whether this account owns that bucket could not be read ({why}; needs s3:ListAllMyBuckets): evidence of hikkonuki's own is added rather than trust it"
            )),
        }
    }
}

/// This account's buckets (ListBuckets, page by page:
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html>, which lists the buckets the
/// caller's account owns, in every region), read once per region and run.
pub async fn own_buckets(ctx: &RegionCtx) -> OwnBuckets {
    let listed = ctx
        .once("evidence:own_buckets", || async {
            let names: std::collections::BTreeSet<String> =
                crate::services::common::all_buckets(ctx)
                    .await?
                    .into_iter()
                    .filter_map(|bucket| bucket.name)
                    .collect();
            Ok::<_, ServiceError>(std::sync::Arc::new(names))
        })
        .await;
    match listed {
        Ok(names) => OwnBuckets::Listed(names),
        Err(err) => OwnBuckets::Unread(err.to_string()),
    }
}

/// The bucket policy CloudTrail and VPC flow logs need to deliver to the bucket, and nothing else:
/// CloudTrail's ACL check and write, scoped to this account's trail named [`TRAIL_NAME`]
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html>),
/// and the log delivery service's ACL check and write, scoped to this account's flow logs in the region
/// (<https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-s3-permissions.html>). Both write only
/// under `AWSLogs/<account>/`.
pub fn bucket_policy(bucket: &str, account: &str, region: &str) -> String {
    let partition = crate::services::common::regions::partition_of_region(region);
    let trail_arn = format!("arn:{partition}:cloudtrail:{region}:{account}:trail/{TRAIL_NAME}");
    let logs_arn = format!("arn:{partition}:logs:{region}:{account}:*");
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSCloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": format!("arn:{partition}:s3:::{bucket}"),
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}
            },
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("arn:{partition}:s3:::{bucket}/AWSLogs/{account}/*"),
                "Condition": {"StringEquals": {
                    "s3:x-amz-acl": "bucket-owner-full-control",
                    "aws:SourceArn": trail_arn
                }}
            },
            {
                "Sid": "AWSLogDeliveryAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": format!("arn:{partition}:s3:::{bucket}"),
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": logs_arn}
                }
            },
            {
                "Sid": "AWSLogDeliveryWrite",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("arn:{partition}:s3:::{bucket}/AWSLogs/{account}/*"),
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": account,
                        "s3:x-amz-acl": "bucket-owner-full-control"
                    },
                    "ArnLike": {"aws:SourceArn": logs_arn}
                }
            }
        ]
    })
    .to_string()
}

/// What a bucket holds, as far as undo needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketContents {
    Missing,
    Empty,
    /// At least one object: evidence, never deleted by hikkonuki.
    NotEmpty,
}

/// Reads whether the bucket exists and holds anything, with one `ListObjectsV2` of at most one key (a
/// missing bucket is `NoSuchBucket`:
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>).
pub async fn bucket_contents(
    ctx: &RegionCtx,
    bucket: &str,
) -> Result<BucketContents, ServiceError> {
    match ctx
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
    {
        Ok(out) if out.contents().is_empty() => Ok(BucketContents::Empty),
        Ok(_) => Ok(BucketContents::NotEmpty),
        Err(err) => {
            let err = ServiceError::from_sdk("s3:ListBucket", err);
            if err.code.as_deref() == Some("NoSuchBucket") {
                Ok(BucketContents::Missing)
            } else {
                Err(err)
            }
        }
    }
}

/// [`ensure_bucket`] once per region and run, however many evidence cuts deliver to the bucket (the trail
/// and every VPC's flow logs share the region's): concurrent callers wait for the first. S3 refuses a
/// second configuration change to one bucket while another is in flight (`OperationAborted`, see
/// [`crate::services::common::concurrent_modification`]), and the bucket is set up before the seal, so
/// it is done once. A failure is not kept: the next cut tries again.
pub async fn ensure_bucket_once(
    ctx: &RegionCtx,
    bucket: &str,
    account: &str,
) -> Result<(), ServiceError> {
    let ensured: String = ctx
        .once("evidence bucket ensured", || async {
            ensure_bucket(ctx, bucket, account)
                .await
                .map(|()| bucket.to_string())
        })
        .await?;
    // One plan names one bucket per region; another name is set up on its own.
    if ensured != bucket {
        ensure_bucket(ctx, bucket, account).await?;
    }
    Ok(())
}

/// Makes this plan's evidence bucket in the context's region, then (every time, since a run killed
/// between the calls leaves them undone) blocks all public access to it and sets the delivery policy.
/// One after the other: S3 answers `OperationAborted` to PutBucketPolicy sent beside
/// PutPublicAccessBlock (hashicorp/terraform-provider-aws#7628).
///
/// `CreateBucket` is sent without first reading whether the bucket exists: evidence runs before anything
/// is cut, so every round trip here delays the seal. Its documented answers
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html>) say all that reading would:
/// a bucket this account already owns (an earlier, interrupted run, or a concurrent evidence cut of the
/// same plan) is `BucketAlreadyOwnedByYou`, or success in us-east-1, and is taken as is; a name taken by
/// another account is `BucketAlreadyExists` and fails the cut, so logs never go to a bucket someone else
/// made under this plan's name.
pub async fn ensure_bucket(
    ctx: &RegionCtx,
    bucket: &str,
    account: &str,
) -> Result<(), ServiceError> {
    let mut create = ctx.s3().create_bucket().bucket(bucket);
    // us-east-1 takes no location constraint; every other region needs its own.
    if ctx.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.region.as_str()))
                .build(),
        );
    }
    if let Err(err) = create.send().await {
        let err = ServiceError::from_sdk("s3:CreateBucket", err);
        if err.code.as_deref() != Some("BucketAlreadyOwnedByYou") {
            return Err(err);
        }
    }
    ctx.s3()
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("s3:PutBucketPublicAccessBlock", err))?;
    ctx.s3()
        .put_bucket_policy()
        .bucket(bucket)
        .policy(bucket_policy(bucket, account, &ctx.region))
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("s3:PutBucketPolicy", err))?;
    Ok(())
}

/// Deletes an evidence bucket of this plan while it is empty, and says what became of it. A bucket that
/// holds anything is evidence and is kept, with how to delete it once the incident is closed; S3 itself
/// refuses to delete a bucket that is not empty (`BucketNotEmpty`), should logs arrive in between.
pub async fn remove_bucket_if_empty(ctx: &RegionCtx, bucket: &str) -> Result<String, ServiceError> {
    if !is_evidence_bucket(bucket) {
        return Ok(format!(
            "bucket {bucket} is not a hikkonuki evidence bucket: left alone"
        ));
    }
    let keep = format!(
        "evidence bucket {bucket} holds logs, which are evidence: kept. Delete it once the incident is closed: aws s3 rb s3://{bucket} --force"
    );
    match bucket_contents(ctx, bucket).await? {
        BucketContents::Missing => Ok(format!("evidence bucket {bucket} already gone")),
        BucketContents::NotEmpty => Ok(keep),
        BucketContents::Empty => {
            // Empty, and still named by a trail or a flow log (another VPC's, not undone yet, or one
            // left logging as a conflict): deleted, its name could be taken by another account, which
            // would then receive what they deliver. Kept until the last of them is gone.
            let senders = delivering_to(ctx, bucket).await?;
            if !senders.is_empty() {
                return Ok(format!(
                    "evidence bucket {bucket} is empty but {} still deliver(s) to it: kept, so no one else can take its name. Delete it once they stop: aws s3 rb s3://{bucket}",
                    senders.join(", ")
                ));
            }
            delete_empty_bucket(ctx, bucket, keep).await
        }
    }
}

/// The trails and flow logs of the region that deliver to `bucket`.
async fn delivering_to(ctx: &RegionCtx, bucket: &str) -> Result<Vec<String>, ServiceError> {
    let mut senders = Vec::new();
    let trails = ctx
        .cloudtrail()
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudtrail:DescribeTrails", err))?;
    for trail in trails.trail_list() {
        if trail.s3_bucket_name() == Some(bucket) {
            senders.push(format!("trail {}", trail.name().unwrap_or("?")));
        }
    }
    // Live, not the region's cached read: restore may have deleted flow logs a moment before.
    let flow_logs = evidence_flow_logs::every_flow_log(ctx).await?;
    for log in &flow_logs {
        let named = evidence_flow_logs::delivers_to(&ctx.region, log, bucket);
        if named {
            senders.push(format!(
                "flow log {} of {}",
                log.flow_log_id().unwrap_or("?"),
                log.resource_id().unwrap_or("?")
            ));
        }
    }
    Ok(senders)
}

async fn delete_empty_bucket(
    ctx: &RegionCtx,
    bucket: &str,
    keep: String,
) -> Result<String, ServiceError> {
    match ctx.s3().delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(format!("evidence bucket {bucket} was still empty: deleted")),
        Err(err) => {
            let err = ServiceError::from_sdk("s3:DeleteBucket", err);
            match err.code.as_deref() {
                Some("BucketNotEmpty") => Ok(keep),
                Some("NoSuchBucket") => Ok(format!("evidence bucket {bucket} already gone")),
                _ => Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::create_bucket::CreateBucketOutput;
    use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput;
    use aws_sdk_s3::operation::put_public_access_block::PutPublicAccessBlockOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    /// The trail and three VPCs' flow logs deliver to one bucket per region: it is set up once, not four
    /// times side by side (which S3 would answer with `OperationAborted`).
    #[tokio::test]
    async fn mocked_concurrent_evidence_cuts_of_one_region_set_the_bucket_up_once() {
        let create = mock!(aws_sdk_s3::Client::create_bucket)
            .then_output(|| CreateBucketOutput::builder().build());
        let block = mock!(aws_sdk_s3::Client::put_public_access_block)
            .then_output(|| PutPublicAccessBlockOutput::builder().build());
        let policy = mock!(aws_sdk_s3::Client::put_bucket_policy)
            .then_output(|| PutBucketPolicyOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&create, &block, &policy]);
        let ctx = RegionCtx::for_tests("eu-west-1").mock_s3(s3);
        let bucket = "hikkonuki-evidence-123456789012-20261130-115400-eu-west-1";
        let results = futures_util::future::join_all(
            (0..4).map(|_| ensure_bucket_once(&ctx, bucket, "123456789012")),
        )
        .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            (create.num_calls(), block.num_calls(), policy.num_calls()),
            (1, 1, 1)
        );
    }

    #[test]
    fn bucket_names_fit_s3s_limit_in_the_longest_region_names() {
        let stamp = plan_stamp(&DiscoveryScope::for_tests()).unwrap();
        assert_eq!(stamp, "20261130-115400");
        for region in [
            "ap-southeast-2",
            "ap-northeast-3",
            "us-gov-west-1",
            "eu-central-2",
        ] {
            let name = bucket_name("123456789012", &stamp, region);
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(is_evidence_bucket(&name));
            assert_eq!(bucket_account(&name), Some("123456789012"));
        }
    }

    #[test]
    fn a_plan_time_that_is_not_rfc_3339_fails_discovery_rather_than_name_evidence_wrongly() {
        let scope = DiscoveryScope {
            created: "yesterday".into(),
            ..DiscoveryScope::for_tests()
        };
        assert!(plan_stamp(&scope).is_err());
        let scope = DiscoveryScope {
            created: "2026-11-30T11:54:00.123+09:00".into(),
            ..DiscoveryScope::for_tests()
        };
        assert_eq!(plan_stamp(&scope).unwrap(), "20261130-115400");
    }

    #[test]
    fn the_bucket_policy_lets_only_this_accounts_trail_and_flow_logs_write_under_its_own_prefix() {
        let policy: serde_json::Value =
            serde_json::from_str(&bucket_policy("b", "123456789012", "eu-west-1")).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 4);
        for statement in statements {
            assert_eq!(statement["Effect"], "Allow");
            if statement["Action"] == "s3:PutObject" {
                assert_eq!(
                    statement["Resource"],
                    "arn:aws:s3:::b/AWSLogs/123456789012/*"
                );
                assert_eq!(
                    statement["Condition"]["StringEquals"]["s3:x-amz-acl"],
                    "bucket-owner-full-control"
                );
            }
        }
        assert_eq!(
            statements[1]["Condition"]["StringEquals"]["aws:SourceArn"],
            "arn:aws:cloudtrail:eu-west-1:123456789012:trail/hikkonuki-evidence"
        );
        assert_eq!(
            statements[3]["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:logs:eu-west-1:123456789012:*"
        );
        // In GovCloud every ARN names its partition, or the policy lets nothing deliver.
        let gov: serde_json::Value =
            serde_json::from_str(&bucket_policy("b", "123456789012", "us-gov-west-1")).unwrap();
        let text = gov.to_string();
        assert!(!text.contains("arn:aws:"), "{text}");
        assert_eq!(
            gov["Statement"][1]["Condition"]["StringEquals"]["aws:SourceArn"],
            "arn:aws-us-gov:cloudtrail:us-gov-west-1:123456789012:trail/hikkonuki-evidence"
        );
        assert_eq!(gov["Statement"][0]["Resource"], "arn:aws-us-gov:s3:::b");
    }
}
