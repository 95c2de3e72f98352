//! VPC endpoints are private ways out of a VPC: a gateway endpoint puts S3 or DynamoDB on the route table,
//! an interface endpoint puts an AWS (or partner) service inside a subnet. Data leaves through them with
//! no internet gateway, so closing the internet does not close them. Two kinds of cut act on them:
//!
//! - [`VpcEndpointPolicyDeny`] (`vpce_policy_deny`, reversible): replace the endpoint policy with a
//!   deny-all; restore writes the recorded policy document back, byte for byte.
//! - [`VpcEndpointDelete`] (`vpce_delete`, irreversible, off by default): delete the endpoint. A
//!   re-created endpoint gets a new ID (and new DNS names), so restore cannot give it back; the plan
//!   records everything needed to rebuild it by hand.
//!
//! Both look at endpoints in state `available` of the types that take a policy (Gateway, Interface).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::VpcEndpoint;
use serde::{Deserialize, Serialize};

use super::vpc;
use crate::aws::RegionCtx;
use crate::services::ServiceError;

mod vpce_delete;
mod vpce_policy_deny;

pub use vpce_delete::VpcEndpointDelete;
pub use vpce_policy_deny::VpcEndpointPolicyDeny;

/// Everything needed to rebuild an endpoint by hand: what `vpce_delete` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDescription {
    pub vpc_endpoint_id: String,
    /// `Gateway` or `Interface`.
    pub vpc_endpoint_type: String,
    pub service_name: String,
    pub vpc_id: String,
    pub state: String,
    /// Exactly as AWS returns it; absent for services that take no endpoint policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
    /// Gateway endpoints: the route tables that route to the service. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_table_ids: Vec<String>,
    /// Interface endpoints: the subnets holding its network interfaces. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    /// Interface endpoints: the security groups on its network interfaces. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl EndpointDescription {
    /// E.g. `Gateway endpoint vpce-1 for com.amazonaws.us-east-1.s3 in vpc-1`.
    pub fn summary(&self) -> String {
        format!(
            "{} endpoint {} for {} in {}",
            self.vpc_endpoint_type, self.vpc_endpoint_id, self.service_name, self.vpc_id
        )
    }

    /// What a responder would type to rebuild it, in words.
    pub fn rebuild_hint(&self) -> String {
        let mut parts = vec![format!(
            "type {}, service {}, VPC {}",
            self.vpc_endpoint_type, self.service_name, self.vpc_id
        )];
        for (name, list) in [
            ("route tables", &self.route_table_ids),
            ("subnets", &self.subnet_ids),
            ("security groups", &self.security_group_ids),
        ] {
            if !list.is_empty() {
                parts.push(format!("{name} {}", list.join(", ")));
            }
        }
        if let Some(dns) = self.private_dns_enabled {
            parts.push(format!("private DNS {}", if dns { "on" } else { "off" }));
        }
        if let Some(policy) = &self.policy_document {
            parts.push(format!("policy {policy}"));
        }
        parts.join("; ")
    }
}

/// Endpoint types whose endpoints take a policy; the others (Gateway Load Balancer, resource and
/// service-network endpoints) are left to other cuts.
pub fn is_policy_type(endpoint_type: &str) -> bool {
    endpoint_type.eq_ignore_ascii_case("Gateway") || endpoint_type.eq_ignore_ascii_case("Interface")
}

/// AWS reports `available` in lower case; the SDK's enum spells it `Available`.
pub fn is_available(state: &str) -> bool {
    state.eq_ignore_ascii_case("available")
}

/// Whether an endpoint is gone for every practical purpose (AWS keeps deleted endpoints listed for a
/// while, and the emulator keeps them for good).
pub fn is_gone(state: &str) -> bool {
    ["deleted", "deleting", "rejected", "failed", "expired"]
        .iter()
        .any(|s| state.eq_ignore_ascii_case(s))
}

/// The recorded shape of an endpoint.
pub fn describe(endpoint: &VpcEndpoint) -> Option<EndpointDescription> {
    let sorted = |list: &[String]| {
        let mut list = list.to_vec();
        list.sort();
        list
    };
    let mut groups: Vec<String> = endpoint
        .groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    groups.sort();
    Some(EndpointDescription {
        vpc_endpoint_id: endpoint.vpc_endpoint_id()?.to_string(),
        vpc_endpoint_type: endpoint.vpc_endpoint_type()?.as_str().to_string(),
        service_name: endpoint.service_name().unwrap_or_default().to_string(),
        vpc_id: endpoint.vpc_id().unwrap_or_default().to_string(),
        state: endpoint
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        policy_document: endpoint.policy_document().map(str::to_string),
        route_table_ids: sorted(endpoint.route_table_ids()),
        subnet_ids: sorted(endpoint.subnet_ids()),
        security_group_ids: groups,
        private_dns_enabled: endpoint.private_dns_enabled(),
        ip_address_type: endpoint.ip_address_type().map(|t| t.as_str().to_string()),
        dns_record_ip_type: endpoint
            .dns_options()
            .and_then(|d| d.dns_record_ip_type())
            .map(|t| t.as_str().to_string()),
        tags: endpoint
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
    })
}

/// The endpoints both kinds propose cuts for: available, of a type that takes a policy, sorted by ID.
pub fn candidates(endpoints: &[VpcEndpoint]) -> Vec<EndpointDescription> {
    let mut found: Vec<EndpointDescription> = endpoints
        .iter()
        .filter_map(describe)
        .filter(|e| is_available(&e.state) && is_policy_type(&e.vpc_endpoint_type))
        .collect();
    found.sort_by(|a, b| a.vpc_endpoint_id.cmp(&b.vpc_endpoint_id));
    found
}

/// Every endpoint of the region, through every page.
async fn describe_region(ctx: &RegionCtx) -> Result<Vec<VpcEndpoint>, ServiceError> {
    ctx.ec2()
        .describe_vpc_endpoints()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcEndpoints", err))
}

/// The endpoint now, or None when it no longer exists or is deleted.
async fn live_endpoint(
    ctx: &RegionCtx,
    endpoint_id: &str,
) -> Result<Option<EndpointDescription>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcEndpoints", err));
    Ok(
        vpc::unless_not_found(described, &["InvalidVpcEndpointId.NotFound"])?.and_then(|out| {
            out.vpc_endpoints()
                .iter()
                .filter_map(describe)
                .find(|e| e.vpc_endpoint_id == endpoint_id && !is_gone(&e.state))
        }),
    )
}

#[cfg(test)]
mod tests;
