//! Secrets Manager resource policies: GetResourcePolicy returns none for a secret without one
//! (<https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetResourcePolicy.html>);
//! PutResourcePolicy and DeleteResourcePolicy write and remove it; a secret that is gone answers
//! `ResourceNotFoundException`.

use super::{Listing, Service};
use crate::aws::RegionCtx;
use crate::services::ServiceError;

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .secretsmanager()
        .list_secrets()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("secretsmanager:ListSecrets", err))?;
    let secrets: Vec<_> = pages.iter().flat_map(|page| page.secret_list()).collect();
    let listed: Vec<(String, String)> = secrets
        .iter()
        .filter_map(|s| s.arn().map(|arn| (arn.to_string(), arn.to_string())))
        .collect();
    let without_id = secrets.len() - listed.len();
    super::read_listed(ctx, Service::SecretsManager, listed, without_id).await
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
