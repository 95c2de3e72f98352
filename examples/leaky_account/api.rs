//! The leaky account's API Gateway side: `orders-api`, a REST API whose resource policy lets anyone
//! invoke it, with GET /orders (a mock integration), deployed to stage `prod`, which has stage-wide
//! throttling of its own (rate 100, burst 50) and a higher limit for GET /orders alone (rate 200, burst
//! 80), which overrides the stage's.

use aws_config::SdkConfig;
use aws_sdk_apigateway::types::{IntegrationType, Op, PatchOperation};

use super::SeedResult;

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededApi {
    pub rest_api_id: String,
    pub stage: String,
    /// The exact policy text stored on the API.
    pub policy: String,
}

pub async fn seed(config: &SdkConfig) -> SeedResult<SeededApi> {
    let apigw = aws_sdk_apigateway::Client::new(config);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}"#.to_string();
    let api = apigw
        .create_rest_api()
        .name("orders-api")
        .policy(&policy)
        .send()
        .await?;
    let api_id = api.id().ok_or("CreateRestApi returned no id")?.to_string();
    let root = apigw
        .get_resources()
        .rest_api_id(&api_id)
        .send()
        .await?
        .items()
        .iter()
        .find(|r| r.path() == Some("/"))
        .and_then(|r| r.id().map(str::to_string))
        .ok_or("no root resource")?;
    let orders = apigw
        .create_resource()
        .rest_api_id(&api_id)
        .parent_id(&root)
        .path_part("orders")
        .send()
        .await?;
    let orders_id = orders.id().ok_or("no resource id")?.to_string();
    apigw
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(&orders_id)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await?;
    apigw
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(&orders_id)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .send()
        .await?;
    let stage = "prod".to_string();
    apigw
        .create_deployment()
        .rest_api_id(&api_id)
        .stage_name(&stage)
        .send()
        .await?;
    let throttle = |path: &str, value: &str| {
        PatchOperation::builder()
            .op(Op::Replace)
            .path(path)
            .value(value)
            .build()
    };
    apigw
        .update_stage()
        .rest_api_id(&api_id)
        .stage_name(&stage)
        .patch_operations(throttle("/*/*/throttling/rateLimit", "100"))
        .patch_operations(throttle("/*/*/throttling/burstLimit", "50"))
        .patch_operations(throttle("/orders/GET/throttling/rateLimit", "200"))
        .patch_operations(throttle("/orders/GET/throttling/burstLimit", "80"))
        .send()
        .await?;
    Ok(SeededApi {
        rest_api_id: api_id,
        stage,
        policy,
    })
}
