//! Facts about VPCs that several kinds of cut share: which address blocks are a VPC's own, so that traffic
//! inside it is never cut.

use std::collections::HashMap;

use crate::aws::RegionCtx;
use crate::services::ServiceError;

/// Every VPC of the region and its own blocks, from one paginated describe.
pub async fn region_vpc_blocks(
    ctx: &RegionCtx,
) -> Result<HashMap<String, Vec<String>>, ServiceError> {
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

/// One VPC's own blocks (empty when it no longer exists).
pub async fn blocks_of(ctx: &RegionCtx, vpc_id: &str) -> Result<Vec<String>, ServiceError> {
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
