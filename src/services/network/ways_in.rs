//! The responder's way in: the subnets and VPCs a plan keeps reachable from the internet
//! (`--keep-subnet`, `--keep-vpc`). VPC Block Public Access makes them exclusions; the route tables they
//! use keep their routes to an internet gateway (`route_remove`), and the gateway those routes go to stays
//! attached (`igw_detach`). Otherwise the exclusion would keep open a path the other two cuts close, and
//! the bastion the responder comes in through would be cut after all. Their network ACLs and security
//! groups are still cut, keeping only the `--keep-cidr` ranges.
//!
//! A subnet uses the table explicitly associated with it, or else its VPC's main table
//! (<https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html>, "Subnet route tables"): a kept
//! subnet with no explicit association is looked up (DescribeSubnets) for the VPC whose main table it uses.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;

use super::vpc_block_public_access::{KEEP_SUBNET, KEEP_VPC};
use crate::aws::RegionCtx;
use crate::services::{DiscoveryScope, ServiceError};

/// The options a kind honouring the way in declares (the same two flags VPC Block Public Access takes).
pub static OPTIONS: [crate::services::PlanOption; 2] = [KEEP_SUBNET, KEEP_VPC];

/// EC2 filters take at most 200 values.
const FILTER_VALUES_MAX: usize = 200;

/// One route table's place: its VPC, whether it is the VPC's main table, and the subnets explicitly
/// associated with it.
pub struct TableUse<'a> {
    pub table_id: &'a str,
    pub vpc_id: &'a str,
    pub main: bool,
    pub subnets: Vec<&'a str>,
}

/// The route tables of this region the responder comes in through.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WaysIn {
    tables: BTreeSet<String>,
}

impl WaysIn {
    /// The tables of `uses` that a `--keep-subnet` or `--keep-vpc` of the plan names, directly or as the
    /// main table of a kept subnet's VPC. No call unless a kept subnet has no explicit association.
    pub async fn read(
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        uses: &[TableUse<'_>],
    ) -> Result<WaysIn, ServiceError> {
        let subnets = scope.option_values(KEEP_SUBNET.flag);
        let vpcs = scope.option_values(KEEP_VPC.flag);
        if subnets.is_empty() && vpcs.is_empty() {
            return Ok(WaysIn::default());
        }
        let explicit: BTreeSet<&str> = uses.iter().flat_map(|u| u.subnets.clone()).collect();
        let implicit: Vec<&str> = subnets
            .iter()
            .copied()
            .filter(|subnet| !explicit.contains(subnet))
            .collect();
        let vpcs_of_implicit = vpcs_of_subnets(ctx, &implicit).await?;
        Ok(WaysIn::of(uses, &subnets, &vpcs, &vpcs_of_implicit))
    }

    /// [`WaysIn::read`] once the VPCs of the kept subnets without an explicit association are known.
    pub fn of(
        uses: &[TableUse<'_>],
        subnets: &[&str],
        vpcs: &[&str],
        vpcs_of_implicit: &BTreeSet<String>,
    ) -> WaysIn {
        let tables = uses
            .iter()
            .filter(|table| {
                vpcs.contains(&table.vpc_id)
                    || table.subnets.iter().any(|s| subnets.contains(s))
                    || (table.main && vpcs_of_implicit.contains(table.vpc_id))
            })
            .map(|table| table.table_id.to_string())
            .collect();
        WaysIn { tables }
    }

    pub fn keeps(&self, table_id: &str) -> bool {
        self.tables.contains(table_id)
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// The VPCs of these subnets (those of this region; an id of another region is not found here).
async fn vpcs_of_subnets(
    ctx: &RegionCtx,
    subnets: &[&str],
) -> Result<BTreeSet<String>, ServiceError> {
    let mut vpcs = BTreeSet::new();
    for chunk in subnets.chunks(FILTER_VALUES_MAX) {
        let found: Vec<aws_sdk_ec2::types::Subnet> = ctx
            .ec2()
            .describe_subnets()
            .filters(
                Filter::builder()
                    .name("subnet-id")
                    .set_values(Some(chunk.iter().map(|s| s.to_string()).collect()))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("ec2:DescribeSubnets", err))?;
        vpcs.extend(found.iter().filter_map(|s| s.vpc_id().map(str::to_string)));
    }
    Ok(vpcs)
}

/// The use of a table as the SDK describes it (associations on their way out no longer route anything).
pub fn use_of(table: &aws_sdk_ec2::types::RouteTable) -> TableUse<'_> {
    let live = table.associations().iter().filter(|a| {
        a.association_state()
            .and_then(|s| s.state())
            .map(|s| matches!(s.as_str(), "associated" | "associating"))
            .unwrap_or(true)
    });
    TableUse {
        table_id: table.route_table_id().unwrap_or_default(),
        vpc_id: table.vpc_id().unwrap_or_default(),
        main: live.clone().any(|a| a.main().unwrap_or(false)),
        subnets: live.filter_map(|a| a.subnet_id()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table<'a>(id: &'a str, vpc: &'a str, main: bool, subnets: &[&'a str]) -> TableUse<'a> {
        TableUse {
            table_id: id,
            vpc_id: vpc,
            main,
            subnets: subnets.to_vec(),
        }
    }

    /// A kept subnet's own table, every table of a kept VPC, and the main table of the VPC of a kept
    /// subnet with no table of its own; no other table.
    #[test]
    fn the_ways_in_are_the_tables_kept_subnets_and_vpcs_use() {
        let uses = [
            table("rtb-own", "vpc-1", false, &["subnet-bastion"]),
            table("rtb-main-1", "vpc-1", true, &[]),
            table("rtb-other", "vpc-1", false, &["subnet-app"]),
            table("rtb-main-2", "vpc-2", true, &[]),
            table("rtb-in-kept-vpc", "vpc-3", false, &["subnet-x"]),
            table("rtb-main-3", "vpc-3", true, &[]),
        ];
        let ways_in = WaysIn::of(
            &uses,
            &["subnet-bastion", "subnet-implicit"],
            &["vpc-3"],
            &BTreeSet::from(["vpc-2".to_string()]),
        );
        let kept: Vec<&str> = uses
            .iter()
            .map(|u| u.table_id)
            .filter(|id| ways_in.keeps(id))
            .collect();
        assert_eq!(
            kept,
            ["rtb-own", "rtb-main-2", "rtb-in-kept-vpc", "rtb-main-3"]
        );
        assert!(WaysIn::of(&uses, &[], &[], &BTreeSet::new()).is_empty());
    }
}
