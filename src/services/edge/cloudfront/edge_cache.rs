//! What CloudFront's edge locations keep: copies of what a distribution served, each served again until
//! its TTL runs out (24 hours by default), whatever origin the distribution routes to since: the cache key
//! holds no origin (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html>).
//! So pointing every behaviour at the notice page does not stop the leaked objects already at the edge,
//! and pointing them back does not stop the notice page: both need the cached copies dropped.
//!
//! An invalidation of `/*` drops every copy
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html>), made as soon
//! as the update is answered. An invalidation changes nothing restore would put back, and is made again
//! harmlessly: its caller reference names the configuration's ETag, which changes with every update, so a
//! resumed run asking again for the same configuration is answered with the invalidation already made
//! ("If you make a second invalidation request with the same value for CallerReference, and if the rest of
//! the request is the same, CloudFront doesn't create a new invalidation request",
//! <https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_InvalidationBatch.html>).
//!
//! What it leaves: CloudFront takes minutes to bring an update to every edge location, and an edge location
//! not yet updated when the invalidation reaches it can cache from the old origin again. The cut does not
//! wait for the distribution to report `Deployed`: a wait of minutes inside a per-resource cut would hold
//! its place in the run's width, and stolen keys behind it. A run made once it is deployed (apply of a cut
//! not recorded done, restore run again) invalidates under a reference of its own (`…-deployed`); the
//! cut's reason, and restore's note while it is still deploying, say to invalidate once more by hand
//! when the distribution reports `Deployed`, with the command.

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use super::is_not_found;
use crate::aws::RegionCtx;
use crate::services::ServiceError;

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

/// What the responder runs to invalidate once more when the distribution is deployed (see the module
/// documentation): the cut does not wait for it.
pub fn invalidate_once_deployed(id: &str) -> String {
    format!(
        "`aws cloudfront wait distribution-deployed --id {id} && aws cloudfront create-invalidation --distribution-id {id} --paths '/*'`"
    )
}

/// What [`drop_cached_copies`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The distribution no longer exists.
    Gone,
    /// Invalidated, the configuration at every edge location.
    Deployed,
    /// Invalidated while the configuration is still on its way to the edge locations: one not yet updated
    /// may cache from the old origin again.
    StillDeploying,
}

/// Drops every copy cached at the edge for the distribution's configuration as it is now (see the
/// module documentation). `why` (`maintenance`, `restore`) tells the cut's invalidations from restore's.
pub async fn drop_cached_copies(
    ctx: &RegionCtx,
    id: &str,
    why: &str,
) -> Result<Dropped, ServiceError> {
    let Some((status, etag)) = deployment(ctx, id).await? else {
        return Ok(Dropped::Gone);
    };
    // Deployed, the configuration is at every edge location: nothing can be cached from the old origin
    // after this one. Still deploying, it could be, so a run made later, once deployed, gets a reference
    // of its own rather than this one's answer.
    let (reference, dropped) = if status == DEPLOYED {
        (
            format!("hikkonuki-{why}-{etag}-deployed"),
            Dropped::Deployed,
        )
    } else {
        (format!("hikkonuki-{why}-{etag}"), Dropped::StillDeploying)
    };
    invalidate_everything(ctx, id, reference).await?;
    Ok(dropped)
}
