//! The interface endpoints the run's calls go through, as a hop on its path. Where a service's name
//! resolves on this machine to an interface endpoint's addresses (private DNS inside the VPC, or a
//! resolver that forwards to it over a VPN, a transit gateway or a peering connection: a hub VPC's
//! endpoints shared with spokes), the run's calls to that service reach the endpoint by that private
//! way and go on inside AWS's network
//! (<https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html>). The
//! endpoint's VPC is then on the run's path as a proxy's is: its network ACLs (the endpoint's subnets
//! deny what comes from outside the VPC once sealed), its route tables (the way back to the VPN or the
//! other VPC), its VPN gateway. Sealed, the calls to that service fail midway, every later cut left
//! undone and no restore possible from there. What of that VPC closes only the internet (its internet
//! gateway, Block Public Access) is not on that path
//! ([`crate::services::Containment::closes_only_the_internet`]), nor are its S3 gateway endpoint and
//! its own security groups (`sg_revoke` judges the endpoint's groups by the rules that let its calls
//! in). Which endpoints: the judgement the endpoint kinds make ([`vpc_endpoint::own_route`]), read
//! once per region and run.

use super::{Hop, RunnerLocation, VpcOwner, WayOut};
use crate::aws::AwsSession;
use crate::services::network::vpc_endpoint::{self, EndpointDescription};

/// Where each interface endpoint the run's calls go through sits, as the cuts of `account` in `regions`
/// are judged, or why a region's endpoints could not be read where its calls may go through one.
pub async fn locate_for(
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Vec<Result<RunnerLocation, String>> {
    let reads = regions.iter().map(|region| async move {
        let ctx = session.region(region);
        match vpc_endpoint::carrying_the_runs_calls(&ctx).await {
            Ok(carrying) => {
                let located = locations(&carrying, account, region);
                let owners = futures_util::future::join_all(
                    located
                        .iter()
                        .map(|location| super::vpc_owner(ctx.ec2(), &location.vpc_id)),
                )
                .await;
                located
                    .into_iter()
                    .zip(owners)
                    .map(|(location, vpc_owner)| {
                        Ok(RunnerLocation {
                            vpc_owner,
                            ..location
                        })
                    })
                    .collect::<Vec<_>>()
            }
            Err(err) => vec![Err(format!(
                "hikkonuki's calls in {region} may go through an interface endpoint (a service's name resolves here to a private address), but the region's endpoints could not be read ({err}), so where they sit is unknown"
            ))],
        }
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// One location per endpoint of `carrying` (endpoints of `region` with how the run's calls reach
/// them), its owner not read yet: pure, so it is tested without AWS or DNS. Its way out is its own
/// VPC's: the calls go on to the service inside AWS's network, by no gateway of the VPC. Its security
/// groups are left to `sg_revoke`'s narrower judgement.
pub fn locations(
    carrying: &[(EndpointDescription, String)],
    account: &str,
    region: &str,
) -> Vec<RunnerLocation> {
    carrying
        .iter()
        .map(|(endpoint, how)| RunnerLocation {
            hop: Hop::Endpoint,
            host: format!(
                "the interface endpoint {} ({how})",
                endpoint.vpc_endpoint_id
            ),
            source: "this machine's resolver and EC2",
            account: account.to_string(),
            region: region.to_string(),
            vpc_id: endpoint.vpc_id.clone(),
            subnet_id: endpoint.subnet_ids.join(", "),
            security_groups: Vec::new(),
            vpc_owner: VpcOwner::Unknown("not read yet".into()),
            way_out: WayOut::OwnVpc,
        })
        .collect()
}
