//! AMIs: the `launchPermission` attribute (DescribeImageAttribute / ModifyImageAttribute). Its entries
//! are the group `all` (public), an account's `UserId`, an `OrganizationArn` or an
//! `OrganizationalUnitArn` (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_LaunchPermission.html>).
//! Permissions are changed with the `LaunchPermission` `Add`/`Remove` lists, every kind of entry in one
//! call (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html>); undo
//! adds `all` in a call of its own, after the others ([`super::public_block`]). An AMI
//! can be shared with up to 1,000 accounts per Region
//! (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/sharingamis-explicit.html>): undo only adds back
//! what was there.

use aws_sdk_ec2::types::{Image, LaunchPermission, LaunchPermissionModifications, PermissionGroup};

use super::{Grantee, Reading, ResourceType, SharingState};
use crate::aws::RegionCtx;
use crate::services::{ServiceError, gather};

/// Images read at a time: one DescribeImageAttribute each, within EC2's request rate.
const CONCURRENCY: usize = 8;

/// The account's AMIs in this region shared with anyone.
pub async fn shared_images(ctx: &RegionCtx, account: &str) -> Result<Vec<Reading>, ServiceError> {
    let images: Vec<Image> = ctx
        .ec2()
        .describe_images()
        .owners("self")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeImages", err))?;
    let ids: Vec<String> = images
        .iter()
        .filter(|i| i.owner_id() == Some(account))
        .filter_map(|i| i.image_id().map(str::to_string))
        .collect();
    let readings = gather(ids, CONCURRENCY, |id| async move {
        Ok(read(ctx, &id).await?.into_iter().collect::<Vec<_>>())
    })
    .await?;
    Ok(readings
        .into_iter()
        .filter(|r| !r.state.shared_with.is_empty() || !r.unclassified.is_empty())
        .collect())
}

fn is_not_found(err: &ServiceError) -> bool {
    matches!(
        err.code.as_deref(),
        Some("InvalidAMIID.NotFound" | "InvalidAMIID.Unavailable")
    )
}

/// One launch permission as a grantee, when it names exactly one.
fn grantee_of(permission: &LaunchPermission) -> Option<Grantee> {
    match (
        permission.group(),
        permission.user_id(),
        permission.organization_arn(),
        permission.organizational_unit_arn(),
    ) {
        (Some(PermissionGroup::All), None, None, None) => Some(Grantee::Everyone),
        (None, Some(user), None, None) => Grantee::from_account_value(user),
        (None, None, Some(arn), None) if super::organization_of(arn).is_some() => {
            Some(Grantee::Organization(arn.to_string()))
        }
        (None, None, None, Some(arn)) if super::organization_of(arn).is_some() => {
            Some(Grantee::OrganizationalUnit(arn.to_string()))
        }
        _ => None,
    }
}

/// The image's sharing; `None` when it no longer exists.
pub async fn read(ctx: &RegionCtx, id: &str) -> Result<Option<Reading>, ServiceError> {
    let result = ctx
        .ec2()
        .describe_image_attribute()
        .image_id(id)
        .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeImageAttribute", err));
    let out = match result {
        Ok(out) => out,
        Err(err) if is_not_found(&err) => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut grantees = Vec::new();
    let mut unclassified = Vec::new();
    for permission in out.launch_permissions() {
        match grantee_of(permission) {
            Some(grantee) => grantees.push(grantee),
            None => unclassified.push(format!("{permission:?}")),
        }
    }
    Ok(Some(Reading {
        state: SharingState::new(ResourceType::Image, id, grantees),
        unclassified,
    }))
}

fn launch_permission(grantee: &Grantee) -> LaunchPermission {
    let builder = LaunchPermission::builder();
    match grantee {
        Grantee::Everyone => builder.group(PermissionGroup::All),
        Grantee::Account(id) => builder.user_id(id),
        Grantee::Organization(arn) => builder.organization_arn(arn),
        Grantee::OrganizationalUnit(arn) => builder.organizational_unit_arn(arn),
    }
    .build()
}

async fn modify(
    ctx: &RegionCtx,
    id: &str,
    modifications: LaunchPermissionModifications,
    dry_run: bool,
) -> Result<(), ServiceError> {
    ctx.ec2()
        .modify_image_attribute()
        .image_id(id)
        .launch_permission(modifications)
        .dry_run(dry_run)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:ModifyImageAttribute", err))?;
    Ok(())
}

pub async fn remove(ctx: &RegionCtx, id: &str, grantees: &[Grantee]) -> Result<(), ServiceError> {
    modify(ctx, id, removal(grantees), false).await
}

/// The removal's dry run (`apply --check`): AWS answers `DryRunOperation` when it would be permitted
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyImageAttribute.html>).
pub async fn check_remove(
    ctx: &RegionCtx,
    id: &str,
    grantees: &[Grantee],
) -> Result<(), ServiceError> {
    modify(ctx, id, removal(grantees), true).await
}

fn removal(grantees: &[Grantee]) -> LaunchPermissionModifications {
    let permissions = grantees.iter().map(launch_permission).collect();
    LaunchPermissionModifications::builder()
        .set_remove(Some(permissions))
        .build()
}

pub async fn add(ctx: &RegionCtx, id: &str, grantees: &[Grantee]) -> Result<(), ServiceError> {
    let permissions = grantees.iter().map(launch_permission).collect();
    let modifications = LaunchPermissionModifications::builder()
        .set_add(Some(permissions))
        .build();
    modify(ctx, id, modifications, false).await
}
