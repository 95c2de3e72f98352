//! SQS queue policies: the queue's `Policy` attribute. Setting it to the empty string removes the
//! policy (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html>);
//! a queue that is gone answers `QueueDoesNotExist`.
//!
//! A cut names its queue by name, not by URL: the URL carries the endpoint it was listed through
//! (`https://sqs.<region>.amazonaws.com/…`, or the legacy `https://queue.amazonaws.com/…`, or an
//! emulator's address), so a plan would otherwise stop matching the account when the endpoint differs.
//! Each read and write asks GetQueueUrl for the current URL of this account's queue of that name
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueUrl.html>).

use aws_sdk_sqs::types::QueueAttributeName;

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    // Without MaxResults, ListQueues answers at most 1,000 queues and no NextToken: the rest of the
    // region would be silently unread (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListQueues.html,
    // MaxResults). The paginator sends it through its page size.
    let pages: Vec<_> = ctx
        .sqs()
        .list_queues()
        .into_paginator()
        .page_size(1000)
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
        let name = queue_name(&url).to_string();
        Ok(match attributes(ctx, &url).await {
            Ok(Some((Some(arn), policy))) => vec![Ok(Found {
                service: Service::Sqs,
                resource: name,
                arn,
                policy,
            })],
            Ok(Some((None, _))) => vec![Err(Unread {
                service: Service::Sqs,
                resource: Some(url),
                error: "GetQueueAttributes answered without the QueueArn".into(),
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

/// The queue's name: the last segment of its URL.
pub fn queue_name(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The current URL of this account's queue `name`; `None` when there is no such queue.
async fn queue_url(ctx: &RegionCtx, name: &str) -> Result<Option<String>, ServiceError> {
    match ctx.sqs().get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_string)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ServiceError::from_sdk("sqs:GetQueueUrl", err)),
    }
}

/// The URL of queue `name`, for a write: a queue that is gone is an error.
async fn existing_queue_url(ctx: &RegionCtx, name: &str) -> Result<String, ServiceError> {
    queue_url(ctx, name).await?.ok_or_else(|| {
        ServiceError::local(
            super::INFO.name,
            format!("SQS queue {name} no longer exists"),
        )
    })
}

/// The queue's ARN and policy; `None` when the queue is gone.
async fn attributes(
    ctx: &RegionCtx,
    url: &str,
) -> Result<Option<(Option<String>, Option<String>)>, ServiceError> {
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
                get(QueueAttributeName::QueueArn),
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
    name: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    let Some(url) = queue_url(ctx, name).await? else {
        return Ok(None);
    };
    Ok(attributes(ctx, &url).await?.map(|(_, policy)| policy))
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

pub(super) async fn write(ctx: &RegionCtx, name: &str, document: &str) -> Result<(), ServiceError> {
    set_policy(ctx, &existing_queue_url(ctx, name).await?, document).await
}

pub(super) async fn delete(ctx: &RegionCtx, name: &str) -> Result<(), ServiceError> {
    set_policy(ctx, &existing_queue_url(ctx, name).await?, "").await
}
