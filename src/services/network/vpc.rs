//! Facts about VPCs that several kinds of cut share: which address blocks are a VPC's own, so that traffic
//! inside it is never cut, and how EC2 says a resource described by ID is gone.

use std::collections::HashMap;
use std::future::Future;

use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// A describe by ID, with the error codes by which EC2 says the resource no longer exists read as `None`:
/// a resource that is gone is an answer for observe and undo, not a failure.
pub fn unless_not_found<T>(
    described: Result<T, ServiceError>,
    not_found: &[&str],
) -> Result<Option<T>, ServiceError> {
    match described {
        Ok(value) => Ok(Some(value)),
        Err(err)
            if err
                .code
                .as_deref()
                .is_some_and(|code| not_found.contains(&code)) =>
        {
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// What a region-wide describe lists, each with its VPC's own blocks (empty outside a VPC). The VPCs are
/// described in one paginated call at the same time as `describe` runs (neither needs the other's
/// answer): a few calls per region whatever the count, and one round trip where the two took two before
/// apply's first cut and in every plan.
pub async fn with_region_blocks<R>(
    ctx: &RegionCtx,
    describe: impl Future<Output = Result<Vec<R>, ServiceError>>,
    vpc_of: impl Fn(&R) -> Option<&str>,
) -> Result<Vec<(R, Vec<String>)>, ServiceError> {
    let (blocks, resources) = futures_util::try_join!(region_vpc_blocks(ctx), describe)?;
    Ok(resources
        .into_iter()
        .map(|resource| {
            let own = vpc_of(&resource)
                .and_then(|id| blocks.get(id).cloned())
                .unwrap_or_default();
            (resource, own)
        })
        .collect())
}

/// Every VPC of the region and its own blocks, from one paginated describe.
async fn region_vpc_blocks(ctx: &RegionCtx) -> Result<HashMap<String, Vec<String>>, ServiceError> {
    let vpcs = ctx
        .ec2()
        .describe_vpcs()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcs", err))?;
    Ok(vpcs
        .iter()
        .filter_map(|v| v.vpc_id().map(|id| (id.to_string(), vpc_blocks(v))))
        .collect())
}

/// One VPC's own blocks (empty for a resource outside any VPC, or a VPC that no longer exists).
pub async fn blocks_of(ctx: &RegionCtx, vpc_id: Option<&str>) -> Result<Vec<String>, ServiceError> {
    let Some(vpc_id) = vpc_id else {
        return Ok(Vec::new());
    };
    let out = ctx
        .ec2()
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcs", err))?;
    Ok(out.vpcs().first().map(vpc_blocks).unwrap_or_default())
}

/// The VPC's associated IPv4 and IPv6 blocks, as CIDR strings (primary first).
pub fn vpc_blocks(vpc: &aws_sdk_ec2::types::Vpc) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    for assoc in vpc.cidr_block_association_set() {
        let associated = assoc
            .cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str() == "associated")
            .unwrap_or(true);
        if let (true, Some(block)) = (associated, assoc.cidr_block()) {
            blocks.push(block.to_string());
        }
    }
    if blocks.is_empty()
        && let Some(block) = vpc.cidr_block()
    {
        blocks.push(block.to_string());
    }
    for assoc in vpc.ipv6_cidr_block_association_set() {
        let associated = assoc
            .ipv6_cidr_block_state()
            .and_then(|s| s.state())
            .map(|s| s.as_str() == "associated")
            .unwrap_or(true);
        if let (true, Some(block)) = (associated, assoc.ipv6_cidr_block()) {
            blocks.push(block.to_string());
        }
    }
    blocks
}

/// Every route table of the region, through every page (DescribeRouteTables).
pub async fn route_tables(
    ctx: &RegionCtx,
) -> Result<Vec<aws_sdk_ec2::types::RouteTable>, ServiceError> {
    ctx.ec2()
        .describe_route_tables()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeRouteTables", err))
}
