//! Secrets Manager resource policies: GetResourcePolicy returns none for a secret without one
//! (<https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetResourcePolicy.html>);
//! PutResourcePolicy and DeleteResourcePolicy write and remove it; a secret that is gone answers
//! `ResourceNotFoundException`.

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .secretsmanager()
        .list_secrets()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("secretsmanager:ListSecrets", err))?;
    let arns: Vec<String> = pages
        .iter()
        .flat_map(|page| page.secret_list())
        .filter_map(|s| s.arn().map(str::to_string))
        .collect();
    let read = gather(arns, READ_CONCURRENCY, |arn| async move {
        Ok(match read(ctx, &arn).await {
            Ok(Some(policy)) => vec![Ok(Found {
                service: Service::SecretsManager,
                resource: arn.clone(),
                arn,
                policy,
            })],
            Ok(None) => vec![], // deleted while listing
            Err(err) => vec![Err(Unread {
                service: Service::SecretsManager,
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
    match ctx
        .secretsmanager()
        .get_resource_policy()
        .secret_id(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.resource_policy()
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        )),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ServiceError::from_sdk(
            "secretsmanager:GetResourcePolicy",
            err,
        )),
    }
}

pub(super) async fn write(ctx: &RegionCtx, arn: &str, document: &str) -> Result<(), ServiceError> {
    ctx.secretsmanager()
        .put_resource_policy()
        .secret_id(arn)
        .resource_policy(document)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("secretsmanager:PutResourcePolicy", err))?;
    Ok(())
}

pub(super) async fn delete(ctx: &RegionCtx, arn: &str) -> Result<(), ServiceError> {
    ctx.secretsmanager()
        .delete_resource_policy()
        .secret_id(arn)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("secretsmanager:DeleteResourcePolicy", err))?;
    Ok(())
}
