//! The interface endpoints the run's calls go through, as a hop on its path. Where a service's name
//! resolves on this machine to an interface endpoint's addresses (private DNS inside the VPC, or a
//! resolver that forwards to it over a VPN, a transit gateway or a peering connection: a hub VPC's
//! endpoints shared with spokes), the run's calls to that service reach the endpoint by that private
//! way and go on inside AWS's network
//! (<https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html>). The
//! endpoint's VPC is then on the run's path as a proxy's is: its network ACLs (the endpoint's subnets
//! deny what comes from outside the VPC once sealed), its route tables (the way back to the VPN or the
//! other VPC), its VPN gateway, and its internet gateway and Block Public Access too: a VPN that
//! carries all of the machine's traffic (a full tunnel), or one whose server is an instance of that VPC,
//! leaves by them, and DNS cannot tell such a tunnel from one that carries the VPC's ranges alone.
//! Sealed, the run's calls fail midway, every later cut left undone and no restore possible from
//! there. Its security groups are not judged here: `sg_revoke` judges the endpoint's groups by the
//! rules that let its calls in. Which endpoints: the judgement the endpoint kinds make
//! ([`vpc_endpoint::own_route`]), read once per region and run.

use std::collections::BTreeMap;

use super::{Hop, RunnerLocation, VpcOwner, WayOut};
use crate::aws::AwsSession;
use crate::services::network::vpc_endpoint::{self, EndpointDescription};

/// Where each interface endpoint the run's calls go through sits, as the cuts of `account` in `regions`
/// are judged (one location per subnet holding its network interfaces, each with its VPC's owner and
/// way out read as the machine's are), or why a region's endpoints could not be read where its calls
/// may go through one.
pub async fn locate_for(
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Vec<Result<RunnerLocation, String>> {
    let reads = regions.iter().map(|region| async move {
        let ctx = session.region(region);
        match vpc_endpoint::carrying_the_runs_calls(&ctx).await {
            Ok(carrying) => futures_util::future::join_all(
                locations(&carrying, account, region)
                    .into_iter()
                    .map(|location| super::with_way_read(location, account, session, regions)),
            )
            .await
            .into_iter()
            .map(Ok)
            .collect::<Vec<_>>(),
            Err(err) => vec![Err(format!(
                "some of hikkonuki's calls in {region} may reach an interface endpoint (a service's name resolves here to a private address, or an AWS_ENDPOINT_URL_… names one), but the region's endpoints could not be read ({err}), so where it sits is unknown"
            ))],
        }
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One location per subnet holding the network interfaces of endpoints of `carrying` (endpoints of
/// `region` with how the run's calls reach them), naming every such endpoint there, its owner and way
/// out not read yet: pure, so it is tested without AWS or DNS. Its security groups are left to
/// `sg_revoke`'s narrower judgement, by the rules that let HTTPS in.
pub fn locations(
    carrying: &[(EndpointDescription, String)],
    account: &str,
    region: &str,
) -> Vec<RunnerLocation> {
    let mut by_subnet: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for (endpoint, how) in carrying {
        for subnet in &endpoint.subnet_ids {
            by_subnet
                .entry((endpoint.vpc_id.as_str(), subnet.as_str()))
                .or_default()
                .push(format!("{} ({how})", endpoint.vpc_endpoint_id));
        }
    }
    by_subnet
        .into_iter()
        .map(|((vpc, subnet), endpoints)| RunnerLocation {
            hop: Hop::Endpoint,
            host: match endpoints.as_slice() {
                [one] => format!("the interface endpoint {one}"),
                several => format!("the interface endpoints {}", several.join("; ")),
            },
            source: "this machine's resolver and EC2",
            account: account.to_string(),
            region: region.to_string(),
            vpc_id: vpc.to_string(),
            subnet_id: subnet.to_string(),
            security_groups: Vec::new(),
            vpc_owner: VpcOwner::Unknown("not read yet".into()),
            way_out: WayOut::Unknown("not read yet".into()),
        })
        .collect()
}
