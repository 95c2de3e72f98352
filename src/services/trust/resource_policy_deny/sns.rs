//! SNS topic policies: the topic's `Policy` attribute, which every topic has (AWS gives a new topic a
//! default policy for its own account). A topic that is gone answers `NotFound`
//! (<https://docs.aws.amazon.com/sns/latest/api/API_GetTopicAttributes.html>).

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .sns()
        .list_topics()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("sns:ListTopics", err))?;
    let arns: Vec<String> = pages
        .iter()
        .flat_map(|page| page.topics())
        .filter_map(|t| t.topic_arn().map(str::to_string))
        .collect();
    let read = gather(arns, READ_CONCURRENCY, |arn| async move {
        Ok(match read(ctx, &arn).await {
            Ok(Some(policy)) => vec![Ok(Found {
                service: Service::Sns,
                resource: arn.clone(),
                arn,
                policy,
            })],
            Ok(None) => vec![], // deleted while listing
            Err(err) => vec![Err(Unread {
                service: Service::Sns,
                resource: Some(arn),
                error: err.to_string(),
            })],
        })
    })
    .await?;
    Ok(super::split(read))
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
