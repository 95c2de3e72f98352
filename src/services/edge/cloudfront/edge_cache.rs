//! What CloudFront's edge locations keep: copies of what a distribution served, each served again until
//! its TTL runs out (24 hours by default), whatever origin the distribution routes to since: the cache key
//! holds no origin (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html>).
//! So pointing every behaviour at the notice page does not stop the leaked objects already at the edge,
//! and pointing them back does not stop the notice page: both need the cached copies dropped.
//!
//! An invalidation of `/*` drops every copy
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html>). One is made
//! as soon as the update is answered, and, since an edge that has not yet received the new configuration
//! can fetch and cache from the old origin again after it, a second once CloudFront reports the
//! distribution `Deployed` (the update reaches every edge location then). An invalidation changes nothing
//! that restore would put back, and is made again harmlessly: the caller reference names the distribution's
//! ETag, which changes with every update, so a resumed run asking again for the same configuration is
//! answered with the invalidation already made ("If you make a second invalidation request with the same
//! value for CallerReference, and if the rest of the request is the same, CloudFront doesn't create a new
//! invalidation request", <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_InvalidationBatch.html>).

use std::time::Duration;

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use super::is_not_found;
use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// How long and how often the edge's cache waits for the distribution to be deployed.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    pub first: Duration,
    pub longest: Duration,
    pub limit: Duration,
}

/// CloudFront documents no duration for a deployment; it usually takes minutes, and twenty is generous.
pub const WAIT: Wait = Wait {
    first: Duration::from_secs(2),
    longest: Duration::from_secs(20),
    limit: Duration::from_secs(20 * 60),
};

/// The status GetDistribution reports once a configuration has reached every edge location
/// (<https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Distribution.html>).
const DEPLOYED: &str = "Deployed";

/// The distribution's deployment status and configuration ETag, or `None` once it no longer exists.
async fn deployment(ctx: &RegionCtx, id: &str) -> Result<Option<(String, String)>, ServiceError> {
    match ctx
        .cloudfront()
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudfront:GetDistribution", err))
    {
        Ok(out) => Ok(Some((
            out.distribution()
                .map(|d| d.status().to_string())
                .unwrap_or_default(),
            out.e_tag().unwrap_or_default().to_string(),
        ))),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Invalidates every path of the distribution, under a caller reference naming `why` and the ETag.
/// Quota: up to 15 wildcard paths in progress per distribution; beyond it CloudFront answers
/// `TooManyInvalidationsInProgress`, returned as the error
/// (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html>).
async fn invalidate_everything(
    ctx: &RegionCtx,
    id: &str,
    caller_reference: String,
) -> Result<(), ServiceError> {
    let batch = InvalidationBatch::builder()
        .caller_reference(caller_reference)
        .paths(
            Paths::builder()
                .quantity(1)
                .items("/*")
                .build()
                .expect("quantity is set"),
        )
        .build()
        .expect("every required field is set");
    ctx.cloudfront()
        .create_invalidation()
        .distribution_id(id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("cloudfront:CreateInvalidation", err))?;
    Ok(())
}

/// Drops every copy cached at the edge for the distribution's configuration as it is now: at once, and
/// again once it is deployed (see the module documentation). `why` (`maintenance`, `restore`) tells the
/// cut's invalidations from restore's. Returns `false` when the distribution no longer exists.
pub async fn drop_cached_copies(
    ctx: &RegionCtx,
    id: &str,
    why: &str,
    wait: &Wait,
) -> Result<bool, ServiceError> {
    let Some((status, etag)) = deployment(ctx, id).await? else {
        return Ok(false);
    };
    let reference = format!("hikkonuki-{why}-{etag}");
    invalidate_everything(ctx, id, reference.clone()).await?;
    if status == DEPLOYED {
        return Ok(true);
    }
    let started = tokio::time::Instant::now();
    let mut interval = wait.first;
    loop {
        tokio::time::sleep(interval).await;
        let Some((status, etag_now)) = deployment(ctx, id).await? else {
            return Ok(false);
        };
        if status == DEPLOYED {
            // Deployed is the configuration whose ETag names the reference (or a later one someone
            // made meanwhile, whose own copies this drops too).
            invalidate_everything(ctx, id, format!("{reference}-deployed-{etag_now}")).await?;
            return Ok(true);
        }
        if started.elapsed() >= wait.limit {
            return Err(ServiceError::local(
                "cloudfront:GetDistribution",
                format!(
                    "distribution {id} is still `{status}` after {} s: its cached copies were invalidated once, but an edge location that had not yet received the change may have cached the old content again. Run the command again to invalidate once it is deployed",
                    wait.limit.as_secs()
                ),
            ));
        }
        interval = (interval * 2).min(wait.longest);
    }
}
