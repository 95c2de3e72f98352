//! The full observable state of resources, read straight from the emulator with the SDK (not through
//! hikkonuki), in a canonical order, so "before apply" and "after restore" can be compared for equality.
//! Only what AWS itself renumbers on re-creation (security-group rule IDs) is left out.

use std::collections::BTreeMap;

/// Every security group of a region: name, description, VPC, tags, both permission lists flattened to one
/// line per peer, and every rule with its description and tags.
pub async fn security_groups(ec2: &aws_sdk_ec2::Client) -> BTreeMap<String, Vec<String>> {
    let groups = ec2
        .describe_security_groups()
        .send()
        .await
        .expect("DescribeSecurityGroups");
    let rules = ec2
        .describe_security_group_rules()
        .send()
        .await
        .expect("DescribeSecurityGroupRules");
    let mut state: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in groups.security_groups() {
        let id = group.group_id().unwrap().to_string();
        let mut lines = vec![format!(
            "group name={:?} description={:?} vpc={:?} tags={:?}",
            group.group_name(),
            group.description(),
            group.vpc_id(),
            sorted_tags(group.tags())
        )];
        for (direction, permissions) in [
            ("ingress", group.ip_permissions()),
            ("egress", group.ip_permissions_egress()),
        ] {
            for p in permissions {
                let head = format!(
                    "permission {direction} {:?} {:?}-{:?}",
                    p.ip_protocol(),
                    p.from_port(),
                    p.to_port()
                );
                for r in p.ip_ranges() {
                    lines.push(format!(
                        "{head} cidr={:?} desc={:?}",
                        r.cidr_ip(),
                        r.description()
                    ));
                }
                for r in p.ipv6_ranges() {
                    lines.push(format!(
                        "{head} cidr6={:?} desc={:?}",
                        r.cidr_ipv6(),
                        r.description()
                    ));
                }
                for r in p.prefix_list_ids() {
                    lines.push(format!(
                        "{head} prefix_list={:?} desc={:?}",
                        r.prefix_list_id(),
                        r.description()
                    ));
                }
                for r in p.user_id_group_pairs() {
                    lines.push(format!(
                        "{head} group={:?} user={:?} desc={:?}",
                        r.group_id(),
                        r.user_id(),
                        r.description()
                    ));
                }
            }
        }
        state.insert(id, lines);
    }
    for rule in rules.security_group_rules() {
        let line = format!(
            "rule egress={:?} {:?} {:?}-{:?} v4={:?} v6={:?} pl={:?} group={:?} desc={:?} tags={:?}",
            rule.is_egress(),
            rule.ip_protocol(),
            rule.from_port(),
            rule.to_port(),
            rule.cidr_ipv4(),
            rule.cidr_ipv6(),
            rule.prefix_list_id(),
            rule.referenced_group_info().and_then(|g| g.group_id()),
            rule.description(),
            sorted_tags(rule.tags())
        );
        state
            .entry(rule.group_id().unwrap().to_string())
            .or_default()
            .push(line);
    }
    for lines in state.values_mut() {
        lines.sort();
    }
    state
}

fn sorted_tags(tags: &[aws_sdk_ec2::types::Tag]) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    tags
}

/// Every internet gateway of a region, as the SDK describes it (attachments, owner, tags).
pub async fn internet_gateways(ec2: &aws_sdk_ec2::Client) -> BTreeMap<String, String> {
    let out = ec2
        .describe_internet_gateways()
        .send()
        .await
        .expect("DescribeInternetGateways");
    out.internet_gateways()
        .iter()
        .map(|g| {
            (
                g.internet_gateway_id().unwrap().to_string(),
                format!("{g:?}"),
            )
        })
        .collect()
}

/// Every virtual private gateway of a region, as the SDK describes it (state, type, VPC attachments).
pub async fn vpn_gateways(ec2: &aws_sdk_ec2::Client) -> BTreeMap<String, String> {
    let out = ec2
        .describe_vpn_gateways()
        .send()
        .await
        .expect("DescribeVpnGateways");
    out.vpn_gateways()
        .iter()
        .map(|g| (g.vpn_gateway_id().unwrap().to_string(), format!("{g:?}")))
        .collect()
}

/// Every VPC endpoint of a region, as the SDK describes it (state, policy document byte for byte, route
/// tables, subnets, groups, DNS).
pub async fn vpc_endpoints(ec2: &aws_sdk_ec2::Client) -> BTreeMap<String, String> {
    let out = ec2
        .describe_vpc_endpoints()
        .send()
        .await
        .expect("DescribeVpcEndpoints");
    out.vpc_endpoints()
        .iter()
        .map(|e| (e.vpc_endpoint_id().unwrap().to_string(), format!("{e:?}")))
        .collect()
}
