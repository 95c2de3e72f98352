//! ECR private repository policies: GetRepositoryPolicy answers `RepositoryPolicyNotFoundException` for
//! a repository without one and `RepositoryNotFoundException` for one that is gone
//! (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetRepositoryPolicy.html>).
//! SetRepositoryPolicy is called without `force`: the deny never locks this account out, so ECR's own
//! lockout check stays on (<https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_SetRepositoryPolicy.html>).

use super::{Listing, Service};
use crate::aws::RegionCtx;
use crate::services::ServiceError;

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .ecr()
        .describe_repositories()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ecr:DescribeRepositories", err))?;
    let repositories: Vec<_> = pages.iter().flat_map(|page| page.repositories()).collect();
    let listed: Vec<(String, String)> = repositories
        .iter()
        .filter_map(|r| {
            Some((
                r.repository_name()?.to_string(),
                r.repository_arn()?.to_string(),
            ))
        })
        .collect();
    let without_id = repositories.len() - listed.len();
    super::read_listed(ctx, Service::Ecr, listed, without_id).await
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
