//! SQS queue policies: the queue's `Policy` attribute. Setting it to the empty string removes the
//! policy (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>);
//! a queue that is gone answers `QueueDoesNotExist`.

use aws_sdk_sqs::types::QueueAttributeName;

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .sqs()
        .list_queues()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("sqs:ListQueues", err))?;
    let urls: Vec<String> = pages
        .iter()
        .flat_map(|page| page.queue_urls())
        .cloned()
        .collect();
    let read = gather(urls, READ_CONCURRENCY, |url| async move {
        Ok(match attributes(ctx, &url).await {
            Ok(Some((arn, policy))) => vec![Ok(Found {
                service: Service::Sqs,
                resource: url,
                arn,
                policy,
            })],
            Ok(None) => vec![], // deleted while listing
            Err(err) => vec![Err(Unread {
                service: Service::Sqs,
                resource: Some(url),
                error: err.to_string(),
            })],
        })
    })
    .await?;
    Ok(super::split(read))
}

/// The queue's ARN and policy; `None` when the queue is gone.
async fn attributes(
    ctx: &RegionCtx,
    url: &str,
) -> Result<Option<(String, Option<String>)>, ServiceError> {
    match ctx
        .sqs()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .attribute_names(QueueAttributeName::Policy)
        .send()
        .await
    {
        Ok(out) => {
            let attributes = out.attributes();
            let get = |name: QueueAttributeName| {
                attributes
                    .and_then(|a| a.get(&name))
                    .filter(|v| !v.is_empty())
                    .cloned()
            };
            Ok(Some((
                get(QueueAttributeName::QueueArn).unwrap_or_default(),
                get(QueueAttributeName::Policy),
            )))
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ServiceError::from_sdk("sqs:GetQueueAttributes", err)),
    }
}

pub(super) async fn read(
    ctx: &RegionCtx,
    url: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    Ok(attributes(ctx, url).await?.map(|(_, policy)| policy))
}

async fn set_policy(ctx: &RegionCtx, url: &str, document: &str) -> Result<(), ServiceError> {
    ctx.sqs()
        .set_queue_attributes()
        .queue_url(url)
        .attributes(QueueAttributeName::Policy, document)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("sqs:SetQueueAttributes", err))?;
    Ok(())
}

pub(super) async fn write(ctx: &RegionCtx, url: &str, document: &str) -> Result<(), ServiceError> {
    set_policy(ctx, url, document).await
}

pub(super) async fn delete(ctx: &RegionCtx, url: &str) -> Result<(), ServiceError> {
    set_policy(ctx, url, "").await
}
