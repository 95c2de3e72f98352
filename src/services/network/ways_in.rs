//! The responder's way in: the subnets and VPCs a plan keeps reachable from the internet
//! (`--keep-subnet`, `--keep-vpc`). VPC Block Public Access makes them exclusions; the route tables only
//! they use keep their routes to an internet gateway (`route_remove`), and the gateway those routes go to
//! stays attached (`igw_detach`). Otherwise the exclusion would keep open a path the other two cuts close,
//! and the bastion the responder comes in through would be cut after all. Their network ACLs and security
//! groups are still cut, keeping only the `--keep-cidr` ranges.
//!
//! A table is a way in when every subnet it is explicitly associated with is kept, or when its VPC is
//! kept: never wider than the exclusions, so no other subnet keeps a route out through it. A VPC's main
//! table serves every subnet without a table of its own
//! (<https://docs.aws.amazon.com/vpc/latest/userguide/RouteTables.html>, "Subnet route tables"), so a
//! kept subnet on it is not a way in, nor one on a table subnets not kept share: its route goes with the
//! others', and that table's cut says so, with the fix (`route_remove`; [`WaysIn::on_main_tables`]). The decision reads only the table itself and the plan's options, so apply,
//! deriving each cut again, decides the same unless the table changed (drift).

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;

use super::vpc_block_public_access::{KEEP_SUBNET, KEEP_VPC};
use crate::aws::RegionCtx;
use crate::services::{DiscoveryScope, ServiceError};

/// The options a kind honouring the way in declares (the same two flags VPC Block Public Access takes).
pub static OPTIONS: [crate::services::PlanOption; 2] = [KEEP_SUBNET, KEEP_VPC];

/// EC2 filters take at most 200 values.
pub const FILTER_VALUES_MAX: usize = 200;

/// One route table's place: its VPC, whether it is the VPC's main table, and the subnets explicitly
/// associated with it.
pub struct TableUse<'a> {
    pub table_id: &'a str,
    pub vpc_id: &'a str,
    pub main: bool,
    pub subnets: Vec<&'a str>,
}

/// The plan's kept subnets and VPCs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WaysIn {
    subnets: BTreeSet<String>,
    vpcs: BTreeSet<String>,
}

impl WaysIn {
    pub fn of(scope: &DiscoveryScope) -> WaysIn {
        WaysIn::named(
            &scope.option_values(KEEP_SUBNET.flag),
            &scope.option_values(KEEP_VPC.flag),
        )
    }

    pub fn named(subnets: &[&str], vpcs: &[&str]) -> WaysIn {
        WaysIn {
            subnets: subnets.iter().map(|s| s.to_string()).collect(),
            vpcs: vpcs.iter().map(|v| v.to_string()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.subnets.is_empty() && self.vpcs.is_empty()
    }

    /// Whether `--keep-subnet` names this subnet.
    pub fn names_subnet(&self, subnet: &str) -> bool {
        self.subnets.contains(subnet)
    }

    /// Whether the table is a way in (see the module documentation).
    pub fn keeps(&self, table: &TableUse<'_>) -> bool {
        self.vpcs.contains(table.vpc_id)
            || (!table.main
                && !table.subnets.is_empty()
                && table.subnets.iter().all(|s| self.subnets.contains(*s)))
    }

    /// The kept subnets that no table of `uses` is explicitly associated with, by the VPC whose main table
    /// they use (those of another region are not found here). No call when there are none.
    pub async fn on_main_tables(
        &self,
        ctx: &RegionCtx,
        uses: &[TableUse<'_>],
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let explicit: BTreeSet<&str> = uses.iter().flat_map(|u| u.subnets.clone()).collect();
        let without: Vec<&str> = self
            .subnets
            .iter()
            .map(String::as_str)
            .filter(|subnet| !explicit.contains(subnet))
            .collect();
        subnets_here(ctx, &without).await
    }
}

/// Each of these subnets found in this region, with its VPC.
pub async fn subnets_here(
    ctx: &RegionCtx,
    subnets: &[&str],
) -> Result<Vec<(String, String)>, ServiceError> {
    let mut found = Vec::new();
    for chunk in subnets.chunks(FILTER_VALUES_MAX) {
        let described: Vec<aws_sdk_ec2::types::Subnet> = ctx
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
        found.extend(
            described
                .iter()
                .filter_map(|s| Some((s.subnet_id()?.to_string(), s.vpc_id()?.to_string()))),
        );
    }
    Ok(found)
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

    /// A table only kept subnets use, and every table of a kept VPC; never a table a subnet not kept
    /// shares, nor a main table outside a kept VPC (it serves every subnet without a table of its own).
    #[test]
    fn the_ways_in_are_the_tables_only_kept_subnets_or_vpcs_use() {
        let uses = [
            table("rtb-own", "vpc-1", false, &["subnet-bastion"]),
            table(
                "rtb-shared",
                "vpc-1",
                false,
                &["subnet-bastion-b", "subnet-app"],
            ),
            table("rtb-main-1", "vpc-1", true, &["subnet-bastion-c"]),
            table("rtb-unused", "vpc-1", false, &[]),
            table("rtb-in-kept-vpc", "vpc-3", false, &["subnet-x"]),
            table("rtb-main-3", "vpc-3", true, &[]),
        ];
        let ways_in = WaysIn::named(
            &["subnet-bastion", "subnet-bastion-b", "subnet-bastion-c"],
            &["vpc-3"],
        );
        let kept: Vec<&str> = uses
            .iter()
            .filter(|u| ways_in.keeps(u))
            .map(|u| u.table_id)
            .collect();
        assert_eq!(kept, ["rtb-own", "rtb-in-kept-vpc", "rtb-main-3"]);
        assert!(WaysIn::named(&[], &[]).is_empty());
    }
}
