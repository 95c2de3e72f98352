//! KMS key policies: every key has exactly one, named `default`
//! (<https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html>). AWS managed keys are
//! left out: their policies cannot be changed, and they admit only callers of this account
//! (`kms:CallerAccount`) (<https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key>).
//!
//! PutKeyPolicy is called without BypassPolicyLockoutSafetyCheck, so KMS itself refuses a policy that
//! would lock the key out (`MalformedPolicyDocumentException`,
//! <https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html>); the cut only adds a
//! statement, and never denies this account's own principals, so the account-root statement keeps its
//! full effect.

use aws_sdk_kms::types::KeyManagerType;

use super::{Found, Listing, READ_CONCURRENCY, Service, Unread};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

const POLICY_NAME: &str = "default";

pub(super) async fn list(ctx: &RegionCtx) -> Result<Listing, ServiceError> {
    let pages: Vec<_> = ctx
        .kms()
        .list_keys()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("kms:ListKeys", err))?;
    let listed: Vec<_> = pages.iter().flat_map(|page| page.keys()).collect();
    let keys: Vec<(String, String)> = listed
        .iter()
        .filter_map(|k| Some((k.key_id()?.to_string(), k.key_arn()?.to_string())))
        .collect();
    let without_id = listed.len() - keys.len();
    let read = gather(keys, READ_CONCURRENCY, |(key_id, arn)| async move {
        let unread = |err: ServiceError| {
            vec![Err(Unread {
                service: Service::Kms,
                resource: Some(arn.clone()),
                error: err.to_string(),
            })]
        };
        match ctx.kms().describe_key().key_id(&key_id).send().await {
            Ok(out) => {
                let managed_by_aws = out
                    .key_metadata()
                    .and_then(|m| m.key_manager())
                    .is_some_and(|m| *m == KeyManagerType::Aws);
                if managed_by_aws {
                    return Ok(vec![]);
                }
            }
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_not_found_exception()) =>
            {
                return Ok(vec![]);
            }
            Err(err) => return Ok(unread(ServiceError::from_sdk("kms:DescribeKey", err))),
        }
        Ok(match read(ctx, &key_id).await {
            Ok(Some(policy)) => vec![Ok(Found {
                service: Service::Kms,
                resource: key_id,
                arn: arn.clone(),
                policy,
            })],
            Ok(None) => vec![], // deleted while listing
            Err(err) => unread(err),
        })
    })
    .await?;
    let mut listing = super::split(read);
    listing.1.extend(super::unnamed(Service::Kms, without_id));
    Ok(listing)
}

pub(super) async fn read(
    ctx: &RegionCtx,
    key_id: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    match ctx
        .kms()
        .get_key_policy()
        .key_id(key_id)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.policy().map(str::to_string))),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(ServiceError::from_sdk("kms:GetKeyPolicy", err)),
    }
}

pub(super) async fn write(
    ctx: &RegionCtx,
    key_id: &str,
    document: &str,
) -> Result<(), ServiceError> {
    ctx.kms()
        .put_key_policy()
        .key_id(key_id)
        .policy_name(POLICY_NAME)
        .policy(document)
        .bypass_policy_lockout_safety_check(false)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("kms:PutKeyPolicy", err))?;
    Ok(())
}
