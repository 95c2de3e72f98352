//! Helpers several kinds share that belong to no door: which regions are enabled, how to tell an endpoint
//! that lacks an API from a real failure, reading many resources a few at a time, and who a policy lets
//! in from outside the account (and the organization that counts as inside), and what discovery could not
//! classify ([`unclassified`]), and which refusals mean only "another change is in progress"
//! ([`concurrent_modification`]), and EC2's filters and transit gateway attachment states ([`ec2`]).

use crate::service_error::ServiceError;

pub mod cloudtrail_who;
pub mod concurrent_modification;
pub mod ec2;
pub mod missing_api;
pub mod org_accounts;
pub mod organization;
pub mod policy_principals;
pub mod regions;
pub mod unclassified;

/// Whether a policy read back is the document a cut wrote: both parse as JSON and are the same JSON.
/// Services give policies back re-formatted (SQS adds spaces, API Gateway escapes), so text is not
/// compared; a document that does not parse is never the cut's.
/// Every bucket this account owns, in every region (ListBuckets, page by page: AWS answers an unpaginated
/// ListBuckets only for accounts at the default quota of 10,000 buckets,
/// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html>, `MaxBuckets`).
pub async fn all_buckets(
    ctx: &crate::aws::RegionCtx,
) -> Result<Vec<aws_sdk_s3::types::Bucket>, crate::services::ServiceError> {
    let pages: Vec<_> = ctx
        .s3()
        .list_buckets()
        .max_buckets(10_000)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| crate::services::ServiceError::from_sdk("s3:ListBuckets", err))?;
    Ok(pages
        .into_iter()
        .flat_map(|page| page.buckets.unwrap_or_default())
        .collect())
}

pub fn same_json_document(live: Option<&str>, written: Option<&str>) -> bool {
    let parse =
        |text: Option<&str>| text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    matches!((parse(live), parse(written)), (Some(live), Some(written)) if live == written)
}

/// Every item of a paginated listing, each turned into what is kept of it as its page arrives. The SDK's
/// shapes carry every field AWS returns (a security group carries all its rules again); collected first,
/// a region's whole listing was held in that shape and in the kept one, and every region's at once while
/// apply checks the plan. Measured with heaptrack on apply of 8 regions × 4 VPCs × 40 groups (1,354
/// cuts): the security groups' listings held 2.9 MB of a 6.9 MB peak; read this way, the peak is 6.7 MB,
/// and comes later, while the cuts are in flight.
pub async fn keep_each<T, K, E>(
    mut items: aws_smithy_async::future::pagination_stream::PaginationStream<Result<T, E>>,
    mut keep: impl FnMut(T) -> K,
) -> Result<Vec<K>, E> {
    let mut kept = Vec::new();
    while let Some(item) = items.next().await {
        kept.push(keep(item?));
    }
    Ok(kept)
}

/// Runs `read` on each item, `concurrency` at a time, and gathers what each found, in item order: how
/// kinds read hundreds of functions, APIs or distributions in seconds without exceeding a service's
/// request rate.
pub async fn gather<I, T, F, Fut>(
    items: Vec<I>,
    concurrency: usize,
    read: F,
) -> Result<Vec<T>, ServiceError>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, ServiceError>>,
{
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let found: Vec<Vec<T>> = stream::iter(items)
        .map(read)
        .buffered(concurrency)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}
