//! The cuts that would close the network path of hikkonuki's own calls, when it runs on an EC2 instance
//! of the account being cut ([`crate::runner`]): its calls leave through its subnet's network ACL, its
//! route table, its VPC's internet gateway (or a NAT gateway in another of its subnets), its own security
//! groups, and its region's VPC Block Public Access. Cut, the run would lose AWS midway, every later cut
//! left undone and no restore possible from there. Apply leaves them out, each with why, as it leaves
//! out the cuts of the applier's own access: decided from where apply runs now, whoever planned it.
//!
//! The judgement is the cut's phase and VPC: a sealing cut of the instance's VPC (every table and ACL of
//! it, not only its own subnet's: the way out may go through a NAT gateway in another subnet), whichever
//! account owns the VPC (a subnet shared through RAM), a sealing cut that names no VPC (a region-wide
//! switch) of the instance's own account, a cut of what else of the VPC its calls go through (an S3
//! gateway endpoint: [`Containment::carries_calls_from_vpc`]), and a cut of one of its own security
//! groups; and where the VPC's route to the internet leads through a transit gateway to an egress VPC
//! ([`crate::runner::way_out`]), that VPC's sealing cuts and its account's region-wide switch. The
//! proxy the run's calls are sent through, where it sits in a VPC, is judged the same way
//! ([`crate::runner::proxy`]), and so is the VPC of an interface endpoint its calls reach
//! ([`crate::runner::endpoint`]). Not seen: a Gateway Load Balancer's appliance VPC.

use crate::plan::{Cut, Plan};
use crate::runner::{RunnerLocation, VpcOwner, WayOut};
use crate::services::{Containment, Phase, Registry};

/// The enabled cuts on the runner's own path, each with why.
pub(crate) fn on_runners_path(
    plan: &Plan,
    registry: &Registry,
    runner: &RunnerLocation,
) -> Vec<(String, String)> {
    plan.enabled_cuts()
        .filter_map(|cut| {
            let kind = registry.get(&cut.kind)?;
            why_on_path(kind, cut, &plan.account, runner).map(|why| (cut.id.clone(), why))
        })
        .collect()
}

/// Whether a region-wide switch of `account` (VPC Block Public Access) reaches a VPC `owner` owns (the
/// runner's, or one its traffic leaves by): it blocks "resources in VPCs and subnets that you own"
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcBlockPublicAccessOptions.html>),
/// so it does where `account` owns the VPC, whoever the runner is (a bastion of another account in a
/// subnet `account` shares with it), and not where another account does. An owner that could not be
/// read counts as `account`: leaving the switch out keeps the run alive, and says why.
fn owns(account: &str, owner: &VpcOwner) -> bool {
    match owner {
        VpcOwner::Account(owner) => owner == account,
        VpcOwner::NotSeen => false,
        VpcOwner::Unknown(_) => true,
    }
}

/// Whether `cut` seals in the runner's region: where the runner's way out is unknown
/// ([`crate::runner::WayOut::Unknown`]), what apply warns of and `watch --recut` does not make.
pub(crate) fn seals_in_runners_region(
    kind: &dyn Containment,
    cut: &Cut,
    runner: &RunnerLocation,
) -> bool {
    kind.info().phase == Phase::Seal && cut.region == runner.region
}

/// Why `cut` (of `account`) is on the runner's own path, if it is (`watch --recut` asks it of each
/// re-cut, as apply of each cut).
pub(crate) fn why_on_path(
    kind: &dyn Containment,
    cut: &Cut,
    account: &str,
    runner: &RunnerLocation,
) -> Option<String> {
    if cut.region != runner.region {
        return None;
    }
    let owns_runners_vpc = owns(account, &runner.vpc_owner);
    let vpcs = kind.vpcs(cut);
    let sealing = kind.info().phase == Phase::Seal;
    // Centralized egress: the VPCs its traffic for the internet leaves by, through a transit gateway.
    let (ids, egress, unread): (&[String], &[(String, VpcOwner)], Option<&str>) =
        match &runner.way_out {
            WayOut::TransitGateway {
                ids,
                egress_vpcs,
                unread,
            } => (ids, egress_vpcs, unread.as_deref()),
            WayOut::OwnVpc | WayOut::Unknown(_) => (&[], &[], None),
        };
    let gateways = match ids {
        [one] => format!("transit gateway {one}"),
        several => format!("transit gateways {}", several.join(", ")),
    };
    let through = |egress_vpc: &str| match unread {
        None => format!(
            "{egress_vpc}, where {}'s route to the internet leads through {gateways}",
            runner.vpc_id
        ),
        Some(why) => format!(
            "{egress_vpc}, on {gateways}, where {}'s traffic for the internet may leave (the way could not be read: {why})",
            runner.vpc_id
        ),
    };
    // VPC and group IDs name one resource whoever's it is: a subnet shared with the instance's account
    // (RAM) belongs to a VPC of another, whose plan still cuts the instance's path. A region-wide switch
    // reaches the VPCs of the account it is switched in, unless the cut keeps an exclusion for the
    // runner's VPC.
    let every_vpc = format!(
        "this cut closes the internet path of every VPC {account} owns in {}",
        runner.region
    );
    let (what, elsewhere) = if sealing
        && vpcs.is_empty()
        && owns_runners_vpc
        && !kind.spares_vpc(cut, &runner.vpc_id)
    {
        (format!("{every_vpc}, {} among them", runner.whose()), None)
    } else if sealing && vpcs.contains(&runner.vpc_id) {
        (
            format!("this cut closes {}", runner.path_through(&runner.vpc_id)),
            None,
        )
    } else if let Some((egress_vpc, _)) = egress
        .iter()
        .find(|(egress_vpc, _)| sealing && vpcs.contains(egress_vpc))
    {
        (
            format!("this cut closes a path out of {}", through(egress_vpc)),
            Some(egress_vpc),
        )
    } else if let Some((egress_vpc, _)) = egress.iter().find(|(egress_vpc, owner)| {
        sealing && vpcs.is_empty() && owns(account, owner) && !kind.spares_vpc(cut, egress_vpc)
    }) {
        (
            format!("{every_vpc}, among them {}", through(egress_vpc)),
            Some(egress_vpc),
        )
    } else if let Some(what) = vpcs
        .contains(&runner.vpc_id)
        .then(|| kind.carries_calls_from_vpc(cut))
        .flatten()
    {
        (what, None)
    } else if runner.security_groups.contains(&cut.target) {
        (
            format!(
                "{} is one of {} own security groups",
                cut.target,
                runner.whose()
            ),
            None,
        )
    } else {
        return None;
    };
    let instead = match elsewhere {
        // Another spoke of the same gateway leaves the same way.
        Some(egress_vpc) if unread.is_some() => format!(
            "Run {} to cut it (this run could not read whether its own does)",
            runner.instead_not_leaving(&format!("through {egress_vpc}"))
        ),
        Some(egress_vpc) => format!(
            "Run {} to cut it",
            runner.instead_not_leaving(&format!("through {egress_vpc}"))
        ),
        None => runner.instead_outside(&runner.vpc_id),
    };
    Some(format!(
        "{subject} in {vpc} (subnet {subnet}, read from {source}), and {what}: {calls_go}, so the run would cut itself off midway, every later cut left undone and no restore possible from there. {instead}",
        subject = runner.subject(),
        calls_go = runner.calls_go(),
        source = runner.source,
        vpc = runner.vpc_id,
        subnet = runner.subnet_id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/example.yaml");
        crate::plan::file::read(&path, &Registry::standard()).unwrap()
    }

    fn runner() -> RunnerLocation {
        RunnerLocation {
            hop: crate::runner::Hop::Runs,
            host: "EC2 instance i-0bastion".into(),
            source: "its instance metadata",
            account: "123456789012".into(),
            region: "us-east-1".into(),
            vpc_id: "vpc-2628b06624fdf2885".into(),
            subnet_id: "subnet-eee2fec9d0cee4ef7".into(),
            security_groups: vec!["sg-0a7b921069b41f07d".into()],
            vpc_owner: VpcOwner::Account("123456789012".into()),
            way_out: WayOut::OwnVpc,
        }
    }

    /// An interface endpoint in one of us-east-1's VPCs that some of the run's calls reach (over a VPN,
    /// or from another VPC): that VPC's whole seal is on their way, as a proxy's VPC's is (its internet
    /// gateway and the region's Block Public Access too: a full-tunnel VPN leaves by them), and so is
    /// its S3 gateway endpoint; the endpoint's security groups are `sg_revoke`'s to judge by their
    /// rules, and another VPC's seal is not on the way.
    #[test]
    fn the_vpc_of_an_endpoint_the_runs_calls_reach_is_left_out_as_a_proxys_is() {
        let mut plan = example();
        let igw = "igw_detach/us-east-1/igw-10d096f98359249e0";
        for cut in plan.cuts.iter_mut().filter(|cut| cut.id == igw) {
            cut.enabled = true;
        }
        let registry = Registry::standard();
        let endpoint: crate::services::network::vpc_endpoint::EndpointDescription =
            serde_json::from_value(serde_json::json!({
                "vpc_endpoint_id": "vpce-0sts",
                "vpc_endpoint_type": "Interface",
                "service_name": "com.amazonaws.us-east-1.sts",
                "vpc_id": "vpc-2628b06624fdf2885",
                "state": "available",
                "subnet_ids": ["subnet-a", "subnet-b"],
                "security_group_ids": ["sg-0a7b921069b41f07d"],
            }))
            .unwrap();
        let how =
            "sts.us-east-1.amazonaws.com resolves here to 10.20.1.25, this endpoint's addresses";
        let logs = crate::services::network::vpc_endpoint::EndpointDescription {
            vpc_endpoint_id: "vpce-0logs".into(),
            subnet_ids: vec!["subnet-b".into()],
            ..endpoint.clone()
        };
        let located = crate::runner::endpoint::locations(
            &[(endpoint, how.into()), (logs, "logs".into())],
            "123456789012",
            "us-east-1",
        );
        let sts = format!("the interface endpoint vpce-0sts ({how})");
        let both = format!("the interface endpoints vpce-0sts ({how}); vpce-0logs (logs)");
        assert_eq!(
            located
                .iter()
                .map(|l| (l.subnet_id.as_str(), l.host.as_str()))
                .collect::<Vec<_>>(),
            [("subnet-a", sts.as_str()), ("subnet-b", both.as_str())],
            "each subnet holding an endpoint is judged once, naming every endpoint there"
        );
        assert!(located.iter().all(|l| l.security_groups.is_empty()));
        let located = RunnerLocation {
            vpc_owner: VpcOwner::Account("123456789012".into()),
            way_out: WayOut::OwnVpc,
            ..located[0].clone()
        };
        let out = on_runners_path(&plan, &registry, &located);
        let ids: Vec<&str> = out.iter().map(|(id, _)| id.as_str()).collect();
        for expected in [
            "nacl_deny/us-east-1/acl-d0a1826666f3f24ca",
            "route_remove/us-east-1/rtb-4716e9e1ceb5b17e7",
            "route_remove/us-east-1/rtb-a35e7fed59e08c5b5",
            "vgw_detach/us-east-1/vgw-8de56d6c8bca24a13",
            igw,
            "vpc_block_public_access/us-east-1/123456789012",
            "vpce_policy_deny/us-east-1/vpce-2ad71e63bb314fd02",
        ] {
            assert!(ids.contains(&expected), "{expected} in {ids:?}");
        }
        for not_expected in [
            "sg_revoke/us-east-1/sg-0a7b921069b41f07d",
            "nacl_deny/us-east-1/acl-c5f2b1d8f6590f4e5",
            "vpc_block_public_access/eu-west-1/123456789012",
        ] {
            assert!(!ids.contains(&not_expected), "{not_expected} in {ids:?}");
        }
        let (_, why) = out
            .iter()
            .find(|(id, _)| id == "nacl_deny/us-east-1/acl-d0a1826666f3f24ca")
            .unwrap();
        assert_eq!(
            why,
            &format!(
                "some of hikkonuki's calls reach the interface endpoint vpce-0sts ({how}) in vpc-2628b06624fdf2885 (subnet subnet-a, read from this machine's resolver and EC2), and this cut closes a path into or out of vpc-2628b06624fdf2885: the calls that reach the endpoint may pass that way, and so does all of the machine's traffic where the VPN into that network carries it all (a full tunnel) or its server sits there, so the run would cut itself off midway, every later cut left undone and no restore possible from there. Run from a machine whose resolver does not answer AWS's service names with vpc-2628b06624fdf2885's endpoints (not over that VPN or network), with no AWS_ENDPOINT_URL_… naming one, to cut it"
            )
        );
    }

    /// On the example plan, run from an instance in one of us-east-1's VPCs: that VPC's sealing cuts, the
    /// region's Block Public Access and the instance's own group are left out; the other VPC's, the
    /// other region's, and every cut that is no path of the instance's are not.
    #[test]
    fn the_cuts_on_the_instances_own_way_out_are_left_out_and_no_others() {
        let plan = example();
        let registry = Registry::standard();
        let out = on_runners_path(&plan, &registry, &runner());
        let ids: Vec<&str> = out.iter().map(|(id, _)| id.as_str()).collect();
        for expected in [
            "vpc_block_public_access/us-east-1/123456789012",
            "nacl_deny/us-east-1/acl-d0a1826666f3f24ca",
            "sg_revoke/us-east-1/sg-0a7b921069b41f07d",
            "vpce_policy_deny/us-east-1/vpce-2ad71e63bb314fd02",
        ] {
            assert!(ids.contains(&expected), "{expected} in {ids:?}");
        }
        for not_expected in [
            "nacl_deny/us-east-1/acl-c5f2b1d8f6590f4e5",
            "vpc_block_public_access/eu-west-1/123456789012",
            "sg_revoke/us-east-1/sg-03a3606cf1325d392",
        ] {
            assert!(!ids.contains(&not_expected), "{not_expected} in {ids:?}");
        }
        for (id, _) in &out {
            let cut = plan.cuts.iter().find(|cut| &cut.id == id).unwrap();
            assert!(cut.enabled && cut.region == "us-east-1", "{id}");
            let kind = registry.get(&cut.kind).unwrap();
            assert!(
                kind.info().phase == Phase::Seal
                    || cut.kind == "sg_revoke"
                    || cut.kind == "vpce_policy_deny",
                "{id}"
            );
        }
        let routes = plan
            .enabled_cuts()
            .filter(|cut| {
                cut.kind == "route_remove"
                    && registry
                        .get(&cut.kind)
                        .unwrap()
                        .vpcs(cut)
                        .contains(&runner().vpc_id)
            })
            .count();
        assert!(routes > 0, "the example's VPC has route tables to cut");
        assert_eq!(
            ids.iter()
                .filter(|id| id.starts_with("route_remove/"))
                .count(),
            routes,
            "every route table of the VPC: the way out may be a NAT gateway's subnet"
        );
        let (_, why) = &out[0];
        assert!(
            why.contains("hikkonuki runs on EC2 instance i-0bastion in vpc-2628b06624fdf2885 (subnet subnet-eee2fec9d0cee4ef7")
                && why.contains("Run from outside vpc-2628b06624fdf2885"),
            "{why}"
        );
    }

    /// The VPC's S3 gateway endpoint carries the instance's calls to S3 by routing: its policy cut and,
    /// once enabled, its deletion are left out; another VPC's endpoint is not.
    #[test]
    fn the_s3_gateway_endpoint_of_the_instances_vpc_is_left_open() {
        let mut plan = example();
        for cut in plan.cuts.iter_mut().filter(|cut| cut.kind == "vpce_delete") {
            cut.enabled = true;
        }
        let ids: Vec<String> = on_runners_path(&plan, &Registry::standard(), &runner())
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for endpoint in [
            "vpce_policy_deny/us-east-1/vpce-2ad71e63bb314fd02",
            "vpce_delete/us-east-1/vpce-2ad71e63bb314fd02",
        ] {
            assert!(ids.contains(&endpoint.to_string()), "{endpoint} in {ids:?}");
        }
        let in_another_vpc = RunnerLocation {
            vpc_id: "vpc-0elsewhere".into(),
            ..runner()
        };
        let ids: Vec<String> = on_runners_path(&plan, &Registry::standard(), &in_another_vpc)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert!(!ids.iter().any(|id| id.starts_with("vpce_")), "{ids:?}");
    }

    /// An instance of another account in a VPC of its own (the operator's tooling account), or of
    /// another region, sits on no path of this plan's.
    #[test]
    fn an_instance_of_another_account_or_region_leaves_nothing_out() {
        let plan = example();
        let registry = Registry::standard();
        let elsewhere = RunnerLocation {
            account: "210987654321".into(),
            vpc_id: "vpc-0elsewhere".into(),
            security_groups: vec!["sg-0elsewhere".into()],
            vpc_owner: VpcOwner::Account("210987654321".into()),
            ..runner()
        };
        assert!(on_runners_path(&plan, &registry, &elsewhere).is_empty());
        let other_region = RunnerLocation {
            region: "ap-northeast-1".into(),
            ..runner()
        };
        assert!(on_runners_path(&plan, &registry, &other_region).is_empty());
    }

    /// A bastion of another account in a subnet this account shares with it (RAM): the VPC's sealing
    /// cuts and its group are still its own way out, and so is this account's region-wide switch, which
    /// reaches the VPCs this account owns, as EC2 says it owns the bastion's. (It was left in, and would
    /// have cut the bastion off midway.) An owner that could not be read counts as this account's.
    #[test]
    fn an_instance_of_another_account_in_a_shared_subnet_keeps_its_way_out() {
        let plan = example();
        let registry = Registry::standard();
        let participant = RunnerLocation {
            account: "210987654321".into(),
            ..runner()
        };
        let ids: Vec<String> = on_runners_path(&plan, &registry, &participant)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert!(ids.contains(&"nacl_deny/us-east-1/acl-d0a1826666f3f24ca".to_string()));
        assert!(ids.contains(&"sg_revoke/us-east-1/sg-0a7b921069b41f07d".to_string()));
        assert!(ids.contains(&"vpc_block_public_access/us-east-1/123456789012".to_string()));

        // An instance of another account in a VPC of neither's that this plan does not seal: this
        // account's switch does not reach it.
        let elsewhere = RunnerLocation {
            account: "210987654321".into(),
            vpc_id: "vpc-0participant".into(),
            security_groups: vec!["sg-0participant".into()],
            vpc_owner: VpcOwner::NotSeen,
            ..runner()
        };
        assert!(on_runners_path(&plan, &registry, &elsewhere).is_empty());
        let unread = RunnerLocation {
            vpc_owner: VpcOwner::Unknown("UnauthorizedOperation".into()),
            ..elsewhere
        };
        let ids: Vec<String> = on_runners_path(&plan, &registry, &unread)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["vpc_block_public_access/us-east-1/123456789012"]);
    }

    /// The region-wide switch keeping an exclusion for the instance's VPC (`--keep-vpc`) leaves its way
    /// out open: it is cut, where it was left out with the reason that it closed every VPC's path. A
    /// subnet's exclusion is not enough: the way out may be another subnet's NAT gateway.
    #[test]
    fn a_block_that_excludes_the_instances_vpc_is_cut() {
        const BLOCK: &str = "vpc_block_public_access/us-east-1/123456789012";
        let left_out_with = |excluded: &str, mode: &str| {
            let mut plan = example();
            let block = plan.cuts.iter_mut().find(|cut| cut.id == BLOCK).unwrap();
            let mut after = block.after.value();
            after["exclusions"] = serde_json::json!([{"resource": excluded, "mode": mode}]);
            block.after = after.into();
            on_runners_path(&plan, &Registry::standard(), &runner())
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<String>>()
        };
        let ids = left_out_with(&runner().vpc_id, "allow-egress");
        assert!(!ids.contains(&BLOCK.to_string()));
        assert!(ids.contains(&"nacl_deny/us-east-1/acl-d0a1826666f3f24ca".to_string()));
        let ids = left_out_with(&runner().subnet_id, "allow-bidirectional");
        assert!(ids.contains(&BLOCK.to_string()));
    }

    /// Centralized egress: an instance in a spoke VPC the plan does not cut, whose route to the internet
    /// leads through a transit gateway to one of us-east-1's VPCs. That VPC's sealing cuts and, where
    /// this account owns it, the region's Block Public Access are left out, saying the way leads there;
    /// the egress VPC's security groups (no path of the instance's) and the other VPC's seal are not.
    /// Owned by another account, the egress VPC is not reached by this account's switch.
    #[test]
    fn the_seal_of_the_vpc_a_transit_gateway_leads_out_by_is_left_out() {
        const EGRESS: &str = "vpc-2628b06624fdf2885";
        const BLOCK: &str = "vpc_block_public_access/us-east-1/123456789012";
        let plan = example();
        let registry = Registry::standard();
        let spoke = |owner: &str| RunnerLocation {
            vpc_id: "vpc-0spoke".into(),
            subnet_id: "subnet-0spoke".into(),
            security_groups: vec!["sg-0spoke".into()],
            way_out: WayOut::TransitGateway {
                ids: vec!["tgw-0hub".into()],
                egress_vpcs: vec![(EGRESS.into(), VpcOwner::Account(owner.into()))],
                unread: None,
            },
            ..runner()
        };
        let out = on_runners_path(&plan, &registry, &spoke("123456789012"));
        let ids: Vec<&str> = out.iter().map(|(id, _)| id.as_str()).collect();
        assert!(
            ids.contains(&"nacl_deny/us-east-1/acl-d0a1826666f3f24ca"),
            "{ids:?}"
        );
        assert!(ids.contains(&BLOCK), "{ids:?}");
        assert!(
            ids.iter().any(|id| id.starts_with("route_remove/")),
            "{ids:?}"
        );
        assert!(
            !ids.contains(&"nacl_deny/us-east-1/acl-c5f2b1d8f6590f4e5"),
            "{ids:?}"
        );
        assert!(
            !ids.iter().any(|id| id.starts_with("sg_revoke/")),
            "{ids:?}"
        );
        for (id, _) in &out {
            let cut = plan.cuts.iter().find(|cut| &cut.id == id).unwrap();
            assert_eq!(
                registry.get(&cut.kind).unwrap().info().phase,
                Phase::Seal,
                "{id}"
            );
        }
        let (_, why) = out
            .iter()
            .find(|(id, _)| id == "nacl_deny/us-east-1/acl-d0a1826666f3f24ca")
            .unwrap();
        assert!(
            why.contains(&format!("this cut closes a path out of {EGRESS}, where vpc-0spoke's route to the internet leads through transit gateway tgw-0hub")),
            "{why}"
        );

        // The spoke another account's (a tooling account attached to this one's hub): this account's
        // switch still reaches the egress VPC it owns, and says so; not one another account owns.
        let of_another = |owner: &str| RunnerLocation {
            account: "210987654321".into(),
            vpc_owner: VpcOwner::NotSeen,
            ..spoke(owner)
        };
        let out = on_runners_path(&plan, &registry, &of_another("123456789012"));
        let (_, why) = out
            .iter()
            .find(|(id, _)| id == BLOCK)
            .expect("the switch left out");
        assert!(
            why.contains(&format!("this cut closes the internet path of every VPC 123456789012 owns in us-east-1, among them {EGRESS}, where vpc-0spoke's route to the internet leads through transit gateway tgw-0hub")),
            "{why}"
        );
        let ids: Vec<String> = on_runners_path(&plan, &registry, &of_another("333344445555"))
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert!(!ids.contains(&BLOCK.to_string()), "{ids:?}");
        assert!(ids.contains(&"nacl_deny/us-east-1/acl-d0a1826666f3f24ca".to_string()));

        // Taken as where the traffic may leave (the way could not be read): said so, and that the
        // run could not tell.
        let may = RunnerLocation {
            way_out: WayOut::TransitGateway {
                ids: vec!["tgw-0hub".into()],
                egress_vpcs: vec![(EGRESS.into(), VpcOwner::Account("123456789012".into()))],
                unread: Some("InvalidRouteTableID.NotFound".into()),
            },
            ..spoke("123456789012")
        };
        let out = on_runners_path(&plan, &registry, &may);
        let (_, why) = out
            .iter()
            .find(|(id, _)| id == "nacl_deny/us-east-1/acl-d0a1826666f3f24ca")
            .unwrap();
        assert!(
            why.contains(&format!("a path out of {EGRESS}, on transit gateway tgw-0hub, where vpc-0spoke's traffic for the internet may leave (the way could not be read: InvalidRouteTableID.NotFound)"))
                && why.ends_with(&format!("Run from a machine whose traffic does not leave through {EGRESS} to cut it (this run could not read whether its own does)")),
            "{why}"
        );

        // A way out not read judges only the spoke's own VPC (apply warns of it).
        let unknown = RunnerLocation {
            way_out: WayOut::Unknown("UnauthorizedOperation".into()),
            ..spoke("123456789012")
        };
        let ids: Vec<String> = on_runners_path(&plan, &registry, &unknown)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, [BLOCK]);
    }
}
