//! The proxy hikkonuki's calls to AWS are sent through, where the environment names one
//! (`HTTPS_PROXY`, `HTTP_PROXY` for an `http://` endpoint, `ALL_PROXY`, less the hosts `NO_PROXY`
//! exempts: as the AWS CLI takes them,
//! <https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-proxy.html>, and as the run's own HTTP
//! client reads them, [`crate::aws::proxy`]). The run's calls then leave AWS's network from the
//! proxy's machine, not from the one it runs on: where that machine is in a VPC of the account being
//! cut, the VPC's seal, the machine's own security groups, and the way its subnet's traffic leaves
//! ([`super::way_out`]) are on the run's path as its own machine's would be, and apply leaves those
//! cuts out in the same way.
//!
//! The proxy is found by its address: its host name resolved as the HTTP client resolves it, then each
//! address looked for among the network interfaces of the judged account in each region judged
//! (DescribeNetworkInterfaces with `addresses.private-ip-address` and `association.public-ip` for an
//! IPv4 address, `ipv6-addresses.ipv6-address` for an IPv6 one:
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>). A proxy
//! reached through a load balancer, a PrivateLink endpoint or a gateway is found by that interface,
//! whose VPC is judged; its own machines behind it are not read, and apply says so ([`in_front`]). A
//! private address held in several VPCs (overlapping ranges) counts in each: the run cannot tell which
//! one its network reaches, and leaving a seal out, saying why, keeps it alive where cutting would not.
//! Which proxies: those any endpoint the run calls goes through ([`crate::aws::proxy`]).
//!
//! Not read: where a proxy on this machine itself (a loopback address: a local forwarder, a tunnel)
//! sends on; a proxy in no VPC this account sees (a corporate one, another account's) is on no path of
//! its cuts, and in a run over an organization the account that holds it judges it.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::{Hop, RunnerLocation, VpcOwner, WayOut};
use crate::aws::AwsSession;
use crate::aws::proxy::Proxy;
use crate::services::common::ec2::filter;

/// Where each proxy the run's calls are sent through sits, as the cuts of `account` in `regions` are
/// judged: each network interface of `account`'s (or shared with it) holding one of its addresses, or
/// why that could not be read. None where no proxy is named, or none sits in such a VPC.
pub async fn locate_for(
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Vec<Result<RunnerLocation, String>> {
    if regions.is_empty() {
        return Vec::new();
    }
    let proxies =
        crate::aws::proxy::from_env(session.endpoint_url(), session.home_region(), regions);
    let mut found = Vec::new();
    for proxy in proxies {
        found.extend(locate(&proxy, account, session, regions).await);
    }
    found
}

/// Where `proxy` sits in `regions`, as `account` sees it.
async fn locate(
    proxy: &Proxy,
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Vec<Result<RunnerLocation, String>> {
    let addresses = match addresses(proxy).await {
        Ok(addresses) => addresses,
        Err(why) => {
            return vec![Err(format!(
                "hikkonuki's calls to AWS go through the proxy {} (named by HTTPS_PROXY, HTTP_PROXY or ALL_PROXY), but its address could not be resolved ({why}), so where it sits is unknown",
                proxy.shown
            ))];
        }
    };
    let reads = regions.iter().flat_map(|region| {
        addresses.iter().map(move |address| async move {
            let ctx = session.region(region);
            (region, *address, interfaces_at(ctx.ec2(), *address).await)
        })
    });
    let mut located = Vec::new();
    let mut unread = Vec::new();
    let mut seen = BTreeSet::new();
    for (region, address, answer) in futures_util::future::join_all(reads).await {
        match answer {
            Ok(interfaces) => {
                for interface in interfaces {
                    // An interface holding several of its addresses (IPv4 and IPv6) is one place.
                    let id = interface
                        .network_interface_id()
                        .unwrap_or_default()
                        .to_string();
                    if seen.insert((region.clone(), id)) {
                        located.push((location(proxy, address, region, &interface), interface));
                    }
                }
            }
            Err(why) => unread.push(format!("in {region}: {why}")),
        }
    }
    let mut path = Vec::new();
    for (location, interface) in located {
        match location {
            Ok(location) => {
                if let Some(why) = in_front(proxy, &location, &interface) {
                    path.push(Err(why));
                }
                path.push(Ok(super::with_way_read(
                    location, account, session, regions,
                )
                .await));
            }
            Err(why) => path.push(Err(why)),
        }
    }
    if !unread.is_empty() {
        path.push(Err(format!(
            "hikkonuki's calls to AWS go through the proxy {} (named by HTTPS_PROXY, HTTP_PROXY or ALL_PROXY), but whether it sits in a VPC of {account} could not be read ({})",
            proxy.shown,
            unread.join("; ")
        )));
    }
    path
}

/// Why the machines behind `interface` are not known, where it is not a machine's own (type
/// `interface`) but a load balancer's, an endpoint's or a gateway's in front of the proxy
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NetworkInterface.html>,
/// `InterfaceType`): the proxy's machines behind it may sit in other subnets or another VPC, with
/// groups and a way out of their own, which this run does not read. The interface's own VPC is still
/// judged ([`location`]).
fn in_front(
    proxy: &Proxy,
    location: &RunnerLocation,
    interface: &aws_sdk_ec2::types::NetworkInterface,
) -> Option<String> {
    use aws_sdk_ec2::types::NetworkInterfaceType;
    let kind = interface.interface_type()?;
    if *kind == NetworkInterfaceType::Interface {
        return None;
    }
    Some(format!(
        "hikkonuki's calls to AWS go through the proxy {}, whose address network interface {} in {} holds, an interface of type {} (a load balancer, endpoint or gateway in front of the proxy): where the proxy's own machines behind it sit, their groups and their way out are not read",
        proxy.shown,
        interface.network_interface_id().unwrap_or("an interface"),
        location.vpc_id,
        kind.as_str()
    ))
}

/// The addresses of `proxy`'s host, as the HTTP client would connect to them.
async fn addresses(proxy: &Proxy) -> Result<Vec<IpAddr>, String> {
    if let Ok(address) = proxy.host.parse::<IpAddr>() {
        return Ok(vec![address]);
    }
    let resolved = tokio::net::lookup_host((proxy.host.as_str(), proxy.port))
        .await
        .map_err(|err| err.to_string())?;
    let addresses: BTreeSet<IpAddr> = resolved.map(|socket| socket.ip()).collect();
    if addresses.is_empty() {
        return Err(format!("{} resolves to no address", proxy.host));
    }
    Ok(addresses.into_iter().collect())
}

/// The network interfaces `ec2`'s account sees holding `address`: as a private or public IPv4 address
/// (two filters, since filters of different names must all match), or an IPv6 one.
async fn interfaces_at(
    ec2: &aws_sdk_ec2::Client,
    address: IpAddr,
) -> Result<Vec<aws_sdk_ec2::types::NetworkInterface>, String> {
    let filters: &[&str] = match address {
        IpAddr::V4(_) => &["addresses.private-ip-address", "association.public-ip"],
        IpAddr::V6(_) => &["ipv6-addresses.ipv6-address"],
    };
    let mut interfaces = Vec::new();
    let mut seen = BTreeSet::new();
    for name in filters {
        let pages = ec2
            .describe_network_interfaces()
            .filters(filter(name, &address.to_string()))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|err| {
                crate::service_error::ServiceError::from_sdk("ec2:DescribeNetworkInterfaces", err)
                    .to_string()
            })?;
        for interface in pages {
            if seen.insert(
                interface
                    .network_interface_id()
                    .unwrap_or_default()
                    .to_string(),
            ) {
                interfaces.push(interface);
            }
        }
    }
    Ok(interfaces)
}

/// The proxy's place as `interface` (in `region`, holding `address`) gives it.
fn location(
    proxy: &Proxy,
    address: IpAddr,
    region: &str,
    interface: &aws_sdk_ec2::types::NetworkInterface,
) -> Result<RunnerLocation, String> {
    let id = interface.network_interface_id().unwrap_or("an interface");
    let (Some(vpc_id), Some(subnet_id), Some(owner)) = (
        interface.vpc_id(),
        interface.subnet_id(),
        interface.owner_id(),
    ) else {
        return Err(format!(
            "hikkonuki's calls to AWS go through the proxy {} ({address}), which network interface {id} in {region} holds, but EC2 names no VPC, subnet or owner for it",
            proxy.shown
        ));
    };
    Ok(RunnerLocation {
        hop: Hop::Proxy,
        host: format!("{} ({address}, network interface {id})", proxy.shown),
        source: "the proxy environment variables and EC2's DescribeNetworkInterfaces",
        account: owner.to_string(),
        region: region.to_string(),
        vpc_id: vpc_id.to_string(),
        subnet_id: subnet_id.to_string(),
        security_groups: crate::services::common::ec2::group_ids(interface.groups()),
        vpc_owner: VpcOwner::Unknown("not read yet".into()),
        way_out: WayOut::Unknown("not read yet".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::RegionCtx;
    use aws_sdk_ec2::operation::describe_network_interfaces::{
        DescribeNetworkInterfacesError, DescribeNetworkInterfacesOutput,
    };
    use aws_sdk_ec2::types::{GroupIdentifier, NetworkInterface};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    fn regions() -> Vec<String> {
        vec!["us-east-1".into(), "eu-west-1".into()]
    }

    fn interface(id: &str, vpc: &str, subnet: &str, owner: &str) -> NetworkInterface {
        NetworkInterface::builder()
            .network_interface_id(id)
            .vpc_id(vpc)
            .subnet_id(subnet)
            .owner_id(owner)
            .groups(GroupIdentifier::builder().group_id("sg-0proxy").build())
            .build()
    }

    /// DescribeNetworkInterfaces answering `found` for the filter `name` holding `address`.
    fn interfaces(name: &'static str, address: &'static str, found: Vec<NetworkInterface>) -> Rule {
        mock!(aws_sdk_ec2::Client::describe_network_interfaces)
            .match_requests(move |req| {
                req.filters()
                    .iter()
                    .any(|f| f.name() == Some(name) && f.values() == [address.to_string()])
            })
            .then_output(move || {
                DescribeNetworkInterfacesOutput::builder()
                    .set_network_interfaces(Some(found.clone()))
                    .build()
            })
    }

    fn owner_and_own_gateway() -> [Rule; 2] {
        use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
        use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
        [
            mock!(aws_sdk_ec2::Client::describe_vpcs).then_output(|| {
                DescribeVpcsOutput::builder()
                    .vpcs(
                        aws_sdk_ec2::types::Vpc::builder()
                            .vpc_id("vpc-0proxy")
                            .owner_id("111122223333")
                            .build(),
                    )
                    .build()
            }),
            mock!(aws_sdk_ec2::Client::describe_route_tables).then_output(|| {
                DescribeRouteTablesOutput::builder()
                    .route_tables(
                        aws_sdk_ec2::types::RouteTable::builder()
                            .routes(
                                aws_sdk_ec2::types::Route::builder()
                                    .destination_cidr_block("0.0.0.0/0")
                                    .gateway_id("igw-0proxy")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            }),
        ]
    }

    fn proxy_at(host: &str) -> Proxy {
        Proxy {
            shown: format!("http://{host}:3128"),
            host: host.into(),
            port: 3128,
        }
    }

    /// A proxy at a private address of an interface in eu-west-1 is located there, with the
    /// interface's VPC, subnet, groups and owner, and its VPC's owner and way out read; us-east-1,
    /// where no interface holds it, adds nothing. Both filters are asked: AWS matches filters of
    /// different names all together, and a proxy may be reached by its public address.
    #[tokio::test]
    async fn mocked_a_proxy_in_a_vpc_of_the_account_is_located_by_its_interface() {
        let none_private = interfaces("addresses.private-ip-address", "10.0.1.5", vec![]);
        let none_public = interfaces("association.public-ip", "10.0.1.5", vec![]);
        let private = interfaces(
            "addresses.private-ip-address",
            "10.0.1.5",
            vec![interface(
                "eni-0proxy",
                "vpc-0proxy",
                "subnet-0proxy",
                "111122223333",
            )],
        );
        let [owner, table] = owner_and_own_gateway();
        let session = AwsSession::with_regions(
            "us-east-1",
            vec![
                RegionCtx::with_ec2(
                    "us-east-1",
                    mock_client!(
                        aws_sdk_ec2,
                        RuleMode::MatchAny,
                        &[&none_private, &none_public]
                    ),
                ),
                RegionCtx::with_ec2(
                    "eu-west-1",
                    mock_client!(
                        aws_sdk_ec2,
                        RuleMode::MatchAny,
                        &[&private, &none_public, &owner, &table]
                    ),
                ),
            ],
        );
        let found = locate(&proxy_at("10.0.1.5"), "111122223333", &session, &regions()).await;
        let [Ok(location)] = found.as_slice() else {
            panic!("one interface holds it: {found:?}");
        };
        assert_eq!(
            location,
            &RunnerLocation {
                hop: Hop::Proxy,
                host: "http://10.0.1.5:3128 (10.0.1.5, network interface eni-0proxy)".into(),
                source: "the proxy environment variables and EC2's DescribeNetworkInterfaces",
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                vpc_id: "vpc-0proxy".into(),
                subnet_id: "subnet-0proxy".into(),
                security_groups: vec!["sg-0proxy".into()],
                vpc_owner: VpcOwner::Account("111122223333".into()),
                way_out: WayOut::OwnVpc,
            }
        );
        assert!(
            location
                .subject()
                .starts_with("hikkonuki's calls to AWS go through the proxy http://10.0.1.5:3128"),
            "{}",
            location.subject()
        );
        assert_eq!(private.num_calls(), 1);
        assert_eq!(none_public.num_calls(), 2);
        // Held by no interface the account sees: on no path of its cuts.
        let session = AwsSession::with_regions(
            "us-east-1",
            vec![RegionCtx::with_ec2(
                "us-east-1",
                mock_client!(
                    aws_sdk_ec2,
                    RuleMode::MatchAny,
                    &[&none_private, &none_public]
                ),
            )],
        );
        assert!(
            locate(
                &proxy_at("10.0.1.5"),
                "111122223333",
                &session,
                &["us-east-1".into()]
            )
            .await
            .is_empty()
        );
    }

    /// An address held by a load balancer's interface (type `network_load_balancer`) in front of the
    /// proxy: its VPC is judged, and that the machines behind it are not read is said, so apply
    /// warns and watch does not re-seal there.
    #[tokio::test]
    async fn mocked_a_proxy_behind_a_load_balancer_is_judged_by_its_vpc_and_the_rest_said_unknown()
    {
        let balancer = NetworkInterface::builder()
            .interface_type(aws_sdk_ec2::types::NetworkInterfaceType::NetworkLoadBalancer)
            .ipv6_addresses(
                aws_sdk_ec2::types::NetworkInterfaceIpv6Address::builder()
                    .ipv6_address("fd00::5")
                    .build(),
            )
            .network_interface_id("eni-0nlb")
            .vpc_id("vpc-0proxy")
            .subnet_id("subnet-0proxy")
            .owner_id("111122223333")
            .build();
        let held = interfaces("ipv6-addresses.ipv6-address", "fd00::5", vec![balancer]);
        let [owner, table] = owner_and_own_gateway();
        let session = AwsSession::with_regions(
            "us-east-1",
            vec![RegionCtx::with_ec2(
                "us-east-1",
                mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&held, &owner, &table]),
            )],
        );
        let found = locate(
            &proxy_at("fd00::5"),
            "111122223333",
            &session,
            &["us-east-1".into()],
        )
        .await;
        let [Err(why), Ok(location)] = found.as_slice() else {
            panic!("its VPC, and what is not read: {found:?}");
        };
        assert_eq!(location.vpc_id, "vpc-0proxy");
        assert!(
            why.contains("network interface eni-0nlb in vpc-0proxy")
                && why.contains("of type network_load_balancer")
                && why.contains("where the proxy's own machines behind it sit, their groups and their way out are not read"),
            "{why}"
        );
    }

    /// A read that fails (the role may not describe interfaces: `UnauthorizedOperation`,
    /// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>) leaves where the
    /// proxy sits unknown, saying which proxy and which region, never "in no VPC"; a host that does
    /// not resolve too.
    #[tokio::test]
    async fn mocked_a_proxy_whose_interfaces_cannot_be_read_is_unknown() {
        let denied = mock!(aws_sdk_ec2::Client::describe_network_interfaces).then_error(|| {
            DescribeNetworkInterfacesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .message("You are not authorized to perform this operation.")
                    .build(),
            )
        });
        let session = AwsSession::with_regions(
            "us-east-1",
            vec![RegionCtx::with_ec2(
                "us-east-1",
                mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&denied]),
            )],
        );
        let found = locate(
            &proxy_at("10.0.1.5"),
            "111122223333",
            &session,
            &["us-east-1".into()],
        )
        .await;
        let [Err(why)] = found.as_slice() else {
            panic!("unknown: {found:?}");
        };
        assert!(
            why.starts_with("hikkonuki's calls to AWS go through the proxy http://10.0.1.5:3128")
                && why.contains(
                    "whether it sits in a VPC of 111122223333 could not be read (in us-east-1: "
                )
                && why.contains("UnauthorizedOperation"),
            "{why}"
        );
        let unresolved = locate(
            &proxy_at("proxy.invalid"),
            "111122223333",
            &session,
            &["us-east-1".into()],
        )
        .await;
        let [Err(why)] = unresolved.as_slice() else {
            panic!("unknown: {unresolved:?}");
        };
        assert!(
            why.contains("the proxy http://proxy.invalid:3128")
                && why.contains("could not be resolved"),
            "{why}"
        );
    }
}
