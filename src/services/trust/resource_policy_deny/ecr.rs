//! ECR private repository policies: GetRepositoryPolicy answers `RepositoryPolicyNotFoundException` for
//! a repository without one and `RepositoryNotFoundException` for one that is gone
//! (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetRepositoryPolicy.html>).
//! SetRepositoryPolicy is called without `force`: the deny never locks this account out, so ECR's own
//! lockout check stays on (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_SetRepositoryPolicy.html>).

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .ecr()
        .describe_repositories()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ecr:DescribeRepositories", err))?;
    let repositories: Vec<(String, String)> = pages
        .iter()
        .flat_map(|page| page.repositories())
        .filter_map(|r| {
            Some((
                r.repository_name()?.to_string(),
                r.repository_arn()?.to_string(),
            ))
        })
        .collect();
    let read = gather(repositories, READ_CONCURRENCY, |(name, arn)| async move {
        Ok(match read(ctx, &name).await {
            Ok(Some(policy)) => vec![Ok(Found {
                service: Service::Ecr,
                resource: name,
                arn,
                policy,
            })],
            Ok(None) => vec![], // deleted while listing
            Err(err) => vec![Err(Unread {
                service: Service::Ecr,
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
    name: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    match ctx
        .ecr()
        .get_repository_policy()
        .repository_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.policy_text().map(str::to_string))),
        Err(err) => match err.as_service_error() {
            Some(e) if e.is_repository_policy_not_found_exception() => Ok(Some(None)),
            Some(e) if e.is_repository_not_found_exception() => Ok(None),
            _ => Err(ServiceError::from_sdk("ecr:GetRepositoryPolicy", err)),
        },
    }
}

pub(super) async fn write(ctx: &RegionCtx, name: &str, document: &str) -> Result<(), ServiceError> {
    ctx.ecr()
        .set_repository_policy()
        .repository_name(name)
        .policy_text(document)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ecr:SetRepositoryPolicy", err))?;
    Ok(())
}

pub(super) async fn delete(ctx: &RegionCtx, name: &str) -> Result<(), ServiceError> {
    ctx.ecr()
        .delete_repository_policy()
        .repository_name(name)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ecr:DeleteRepositoryPolicy", err))?;
    Ok(())
}
