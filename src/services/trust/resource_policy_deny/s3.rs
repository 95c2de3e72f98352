//! S3 bucket policies. Buckets are listed account-wide (ListBuckets) and each belongs to one region: the
//! listing's `BucketRegion` says which, or, where an endpoint leaves it out, GetBucketLocation, whose
//! empty constraint means us-east-1 and legacy `EU` means eu-west-1
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html>). A bucket is read and
//! cut from its own region only.
//!
//! GetBucketPolicy answers `NoSuchBucketPolicy` for a bucket without one
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicy.html>); PutBucketPolicy answers
//! `MalformedPolicy` for a document S3 refuses
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html>).

use aws_sdk_s3::error::ProvideErrorMetadata;

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

/// The region a GetBucketLocation constraint names.
pub fn region_of_constraint(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(region) => region.to_string(),
    }
}

async fn bucket_region(ctx: &RegionCtx, bucket: &str) -> Result<String, ServiceError> {
    let out = ctx
        .s3()
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("s3:GetBucketLocation", err))?;
    Ok(region_of_constraint(
        out.location_constraint().map(|c| c.as_str()),
    ))
}

pub(super) async fn list(ctx: &RegionCtx, partition: &str) -> Result<Listing, ServiceError> {
    let listed = crate::services::common::all_buckets(ctx).await?;
    let buckets: Vec<(String, Option<String>)> = listed
        .iter()
        .filter_map(|b| Some((b.name()?.to_string(), b.bucket_region().map(str::to_string))))
        .collect();
    // Each region lists every bucket: a nameless one is counted where it lives (everywhere, when the
    // listing does not say where), so it is reported, and reported once where that is known.
    let without_name = listed
        .iter()
        .filter(|b| b.name().is_none())
        .filter(|b| b.bucket_region().is_none_or(|region| region == ctx.region))
        .count();
    let read = gather(
        buckets,
        READ_CONCURRENCY,
        |(bucket, listed_region)| async move {
            let arn = format!("arn:{partition}:s3:::{bucket}");
            let region = match listed_region {
                Some(region) => region,
                None => match bucket_region(ctx, &bucket).await {
                    Ok(region) => region,
                    Err(err) => return Ok(vec![Err(unread(&arn, err))]),
                },
            };
            if region != ctx.region {
                return Ok(vec![]);
            }
            Ok(vec![match read(ctx, &bucket).await {
                Ok(Some(policy)) => Ok(Found {
                    service: Service::S3,
                    resource: bucket,
                    arn,
                    policy,
                }),
                Ok(None) => return Ok(vec![]), // deleted while listing
                Err(err) => Err(unread(&arn, err)),
            }])
        },
    )
    .await?;
    let mut listing = super::split(read);
    listing.1.extend(super::unnamed(Service::S3, without_name));
    Ok(listing)
}

fn unread(arn: &str, err: ServiceError) -> Unread {
    Unread {
        service: Service::S3,
        resource: Some(arn.to_string()),
        error: err.to_string(),
    }
}

pub(super) async fn read(
    ctx: &RegionCtx,
    bucket: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    match ctx.s3().get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => Ok(Some(out.policy().map(str::to_string))),
        Err(err) => match err.code() {
            Some("NoSuchBucketPolicy") => Ok(Some(None)),
            Some("NoSuchBucket") => Ok(None),
            _ => Err(ServiceError::from_sdk("s3:GetBucketPolicy", err)),
        },
    }
}

pub(super) async fn write(
    ctx: &RegionCtx,
    bucket: &str,
    document: &str,
) -> Result<(), ServiceError> {
    ctx.s3()
        .put_bucket_policy()
        .bucket(bucket)
        .policy(document)
        .send()
        .await
        .map_err(|err| {
            let mut err = ServiceError::from_sdk("s3:PutBucketPolicy", err);
            // BlockPublicPolicy makes S3 "reject calls to PUT Bucket policy if the specified bucket
            // policy allows public access" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PublicAccessBlockConfiguration.html),
            // with the same AccessDenied as a missing permission. Apply orders its own account block
            // after this cut; a block that was on before the plan still refuses a public policy.
            if err.is_access_denied() {
                err.message.push_str(&format!(
                    "; S3 answers the same when Block Public Access's BlockPublicPolicy (the account's or bucket {bucket}'s) is on and the policy written is public, which it stays with the deny added: check `aws s3api get-bucket-policy-status --bucket {bucket}` and the block"
                ));
            }
            err
        })?;
    Ok(())
}

pub(super) async fn delete(ctx: &RegionCtx, bucket: &str) -> Result<(), ServiceError> {
    ctx.s3()
        .delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("s3:DeleteBucketPolicy", err))?;
    Ok(())
}

/// Why S3 would refuse to write this bucket's policy with the deny added, if it would. S3 itself calls the
/// policy public (GetBucketPolicyStatus,
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicyStatus.html>) and `BlockPublicPolicy`
/// is on for the bucket or the account already, which makes S3 "reject calls to PUT Bucket policy if the
/// specified bucket policy allows public access"
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_PublicAccessBlockConfiguration.html>); a policy
/// stays public with a deny added. (A public policy can predate the block: "enabling this setting doesn't
/// affect existing bucket policies".)
/// The account's answer is read once per region and run, like the readings it is asked for.
pub(super) async fn refusal(
    ctx: &RegionCtx,
    bucket: &str,
    account: &str,
) -> Result<Option<String>, ServiceError> {
    let status = ctx
        .s3()
        .get_bucket_policy_status()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("s3:GetBucketPolicyStatus", err))?;
    if !status
        .policy_status()
        .and_then(|status| status.is_public())
        .unwrap_or(false)
    {
        return Ok(None);
    }
    let bucket_blocks = match ctx
        .s3()
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => out
            .public_access_block_configuration()
            .and_then(|config| config.block_public_policy())
            .unwrap_or(false),
        Err(err) if err.code() == Some("NoSuchPublicAccessBlockConfiguration") => false,
        Err(err) => return Err(ServiceError::from_sdk("s3:GetBucketPublicAccessBlock", err)),
    };
    let whose = if bucket_blocks {
        "the bucket's"
    } else if ctx
        .once("resource_policy_deny.account_blocks_public_policy", || {
            crate::services::storage::s3_public_access_block::blocks_public_policy(ctx, account)
        })
        .await?
    {
        "the account's"
    } else {
        return Ok(None);
    };
    Ok(Some(format!(
        "S3 refuses to write this bucket's policy: the policy is public, and {whose} Block Public Access has BlockPublicPolicy on, which rejects any public policy (the deny added does not make it non-public). The account's RestrictPublicBuckets (the s3_public_access_block cut) closes a public bucket to everyone outside the account: keep that cut enabled"
    )))
}
