//! The leaky account's CloudFront side: an enabled distribution for `shop.leaky.example` serving the
//! shop's origin by default and its API origin under `/api/*`.

use aws_config::SdkConfig;
use aws_sdk_cloudfront::types::{
    Aliases, CacheBehavior, CacheBehaviors, CustomOriginConfig, DefaultCacheBehavior,
    DistributionConfig, Origin, OriginProtocolPolicy, Origins, ViewerProtocolPolicy,
};

use super::SeedResult;

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededEdge {
    pub distribution_id: String,
    pub domain_name: String,
}

fn origin(id: &str, domain: &str) -> SeedResult<Origin> {
    Ok(Origin::builder()
        .id(id)
        .domain_name(domain)
        .custom_origin_config(
            CustomOriginConfig::builder()
                .http_port(80)
                .https_port(443)
                .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                .build()?,
        )
        .build()?)
}

/// AWS's managed cache policy "CachingDisabled".
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

pub async fn seed(config: &SdkConfig) -> SeedResult<SeededEdge> {
    let cloudfront = aws_sdk_cloudfront::Client::new(config);
    let distribution = DistributionConfig::builder()
        .caller_reference("leaky-shop")
        .comment("shop storefront")
        .enabled(true)
        .aliases(
            Aliases::builder()
                .quantity(1)
                .items("shop.leaky.example")
                .build()?,
        )
        .origins(
            Origins::builder()
                .quantity(2)
                .items(origin("shop-origin", "origin.leaky.example")?)
                .items(origin("api-origin", "api.leaky.example")?)
                .build()?,
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("shop-origin")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id(CACHING_DISABLED)
                .build()?,
        )
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(1)
                .items(
                    CacheBehavior::builder()
                        .path_pattern("/api/*")
                        .target_origin_id("api-origin")
                        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                        .cache_policy_id(CACHING_DISABLED)
                        .build()?,
                )
                .build()?,
        )
        .build()?;
    let created = cloudfront
        .create_distribution()
        .distribution_config(distribution)
        .send()
        .await?;
    let created = created
        .distribution()
        .ok_or("CreateDistribution returned nothing")?;
    Ok(SeededEdge {
        distribution_id: created.id().to_string(),
        domain_name: created.domain_name().to_string(),
    })
}
