//! SNS topic policies: the topic's `Policy` attribute, which every topic has (AWS gives a new topic a
//! default policy for its own account). A topic that is gone answers `NotFound`
//! (<https://docs.aws.amazon.com/sns/latest/api/API_GetTopicAttributes.html>).

use super::{Listing, Service};
use crate::aws::RegionCtx;
use crate::services::ServiceError;

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .sns()
        .list_topics()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("sns:ListTopics", err))?;
    let topics: Vec<_> = pages.iter().flat_map(|page| page.topics()).collect();
    let listed: Vec<(String, String)> = topics
        .iter()
        .filter_map(|t| t.topic_arn().map(|arn| (arn.to_string(), arn.to_string())))
        .collect();
    let without_id = topics.len() - listed.len();
    super::read_listed(ctx, Service::Sns, listed, without_id).await
}

pub(super) async fn read(
    ctx: &RegionCtx,
    arn: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    match ctx.sns().get_topic_attributes().topic_arn(arn).send().await {
        Ok(out) => Ok(Some(
            out.attributes()
                .and_then(|a| a.get("Policy"))
                .filter(|p| !p.is_empty())
                .cloned(),
        )),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ServiceError::from_sdk("sns:GetTopicAttributes", err)),
    }
}

pub(super) async fn write(ctx: &RegionCtx, arn: &str, document: &str) -> Result<(), ServiceError> {
    ctx.sns()
        .set_topic_attributes()
        .topic_arn(arn)
        .attribute_name("Policy")
        .attribute_value(document)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("sns:SetTopicAttributes", err))?;
    Ok(())
}
