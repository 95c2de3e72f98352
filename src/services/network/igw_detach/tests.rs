use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_internet_gateways::DescribeInternetGatewaysOutput;
use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
use aws_sdk_ec2::types::{
    AttachmentStatus, InternetGatewayAttachment, NatGateway, NatGatewayAddress,
    NetworkInterfaceAssociation, NetworkInterfaceAttachment, NetworkInterfacePrivateIpAddress,
    NetworkInterfaceType,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

fn attachment(vpc_id: &str, state: &str) -> Attachment {
    Attachment {
        vpc_id: vpc_id.into(),
        state: state.into(),
    }
}

fn nat_address() -> PublicAddress {
    PublicAddress {
        vpc_id: "vpc-1".into(),
        network_interface_id: "eni-nat".into(),
        public_ip: "198.51.100.7".into(),
        owner: "NAT gateway nat-1".into(),
        allocation_id: Some("eipalloc-1".into()),
    }
}

fn gateway(addresses: Vec<PublicAddress>) -> GatewayState {
    GatewayState {
        internet_gateway_id: "igw-1".into(),
        attachments: vec![attachment("vpc-1", "available")],
        public_addresses: addresses,
    }
}

fn cut_for(state: &GatewayState) -> TypedCut<GatewayState> {
    let proposed = propose(state).unwrap();
    TypedCut {
        id: "igw_detach/us-east-1/igw-1".into(),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// The same cut as a plan holds it, for the checks the engine's adapter makes on raw documents.
fn plan_cut_for(state: &GatewayState) -> crate::plan::Cut {
    let cut = cut_for(state);
    crate::plan::Cut {
        id: cut.id,
        kind: "igw_detach".into(),
        region: cut.region,
        target: cut.target,
        enabled: true,
        reversible: true,
        reason: String::new(),
        before: serde_json::to_value(cut.before).unwrap().into(),
        after: serde_json::to_value(cut.after).unwrap().into(),
    }
}

#[test]
fn an_attached_gateway_without_public_addresses_is_proposed_enabled_with_no_attachment_after() {
    let state = gateway(vec![]);
    let proposed = propose(&state).unwrap();
    assert_eq!(proposed.target, "igw-1");
    assert_eq!(proposed.disabled_because, None);
    assert!(
        proposed
            .reason
            .contains("igw-1 connects vpc-1 to the internet")
    );
    assert!(proposed.after.attachments.is_empty());
    assert_eq!(proposed.before, state);
}

#[test]
fn a_gateway_attached_nowhere_is_not_proposed() {
    let mut state = gateway(vec![]);
    state.attachments.clear();
    assert_eq!(propose(&state), None);
    state.attachments = vec![attachment("vpc-1", "detaching")];
    assert_eq!(propose(&state), None);
}

#[test]
fn public_addresses_disable_the_cut_naming_each_blocker_and_what_to_do() {
    let instance = PublicAddress {
        vpc_id: "vpc-1".into(),
        network_interface_id: "eni-web".into(),
        public_ip: "203.0.113.5".into(),
        owner: "instance i-1".into(),
        allocation_id: None,
    };
    let proposed = propose(&gateway(vec![instance, nat_address()])).unwrap();
    let because = proposed.disabled_because.expect("the cut is disabled");
    assert!(
        because.contains("eni-nat (NAT gateway nat-1) 198.51.100.7, Elastic IP eipalloc-1"),
        "{because}"
    );
    assert!(
        because.contains("eni-web (instance i-1) 203.0.113.5"),
        "{because}"
    );
    assert!(because.contains("it holds 2"), "{because}");
    assert!(because.contains("disassociate or release"), "{because}");
    assert!(
        because.contains("route_remove and nacl_deny already cut the path"),
        "{because}"
    );
}

fn table(vpc: &str, destination: &str, gateway: &str) -> aws_sdk_ec2::types::RouteTable {
    let route = aws_sdk_ec2::types::Route::builder().gateway_id(gateway);
    let route = if destination.starts_with("pl-") {
        route.destination_prefix_list_id(destination)
    } else if destination.contains(':') {
        route.destination_ipv6_cidr_block(destination)
    } else {
        route.destination_cidr_block(destination)
    };
    aws_sdk_ec2::types::RouteTable::builder()
        .route_table_id("rtb-1")
        .vpc_id(vpc)
        .routes(route.build())
        .build()
}

fn kept_range_of(
    state: &GatewayState,
    tables: &[aws_sdk_ec2::types::RouteTable],
    keep: &[crate::net::Cidr],
) -> Option<String> {
    gateway_attachment::carries_a_kept_range(
        &state.internet_gateway_id,
        &state.attachments,
        tables,
        keep,
        &Default::default(),
    )
}

#[test]
fn a_gateway_the_kept_route_goes_through_is_left_attached_saying_why() {
    let state = gateway(vec![]);
    let kept: Vec<crate::net::Cidr> = vec!["2001:db8::/64".parse().unwrap()];
    // The responder reaches an IPv6 bastion through igw-1 by the route route_remove keeps for them:
    // nothing in AWS refuses that detach.
    let why = kept_range_of(&state, &[table("vpc-1", "2001:db8::7/128", "igw-1")], &kept)
        .expect("the kept route goes through igw-1");
    assert!(
        why.contains("route table rtb-1 sends 2001:db8::7/128 to igw-1"),
        "{why}"
    );
    assert!(why.contains("the way to 2001:db8::/64"), "{why}");
    // The default route is no kept path (route_remove removes it); nor is another gateway's route,
    // another VPC's, or any route when nothing is kept.
    for (tables, keep) in [
        (vec![table("vpc-1", "::/0", "igw-1")], kept.clone()),
        (
            vec![table("vpc-1", "2001:db8::7/128", "igw-2")],
            kept.clone(),
        ),
        (
            vec![table("vpc-2", "2001:db8::7/128", "igw-1")],
            kept.clone(),
        ),
        (vec![table("vpc-1", "2001:db8::7/128", "igw-1")], Vec::new()),
    ] {
        assert_eq!(kept_range_of(&state, &tables, &keep), None, "{tables:?}");
    }
}

/// The responder's office ranges kept in a prefix list the account owns: the route to the list is the
/// kept path. A list naming a kept range among others counts too (the VPC's blocks, which route_remove
/// also allows in a kept list, are not at hand here, so the gateway is kept rather than risk the
/// responder's path); a list naming no kept range, or one not the account's, does not.
#[test]
fn a_gateway_a_route_to_the_responders_own_prefix_list_goes_through_is_left_attached() {
    let state = gateway(vec![]);
    let kept: Vec<crate::net::Cidr> = vec!["2001:db8::/64".parse().unwrap()];
    let lists = crate::services::network::prefix_lists::OwnedPrefixLists::default()
        .with("pl-office", &["2001:db8::7/128", "2001:db8::8/128"])
        .with("pl-mixed", &["2001:db8::7/128", "2001:db9::/64"])
        .with("pl-partner", &["2001:db9::/64"]);
    let carried = |destination: &str| {
        gateway_attachment::carries_a_kept_range(
            &state.internet_gateway_id,
            &state.attachments,
            &[table("vpc-1", destination, "igw-1")],
            &kept,
            &lists,
        )
    };
    let why = carried("pl-office").expect("the kept list's route goes through igw-1");
    assert!(
        why.contains("route table rtb-1 sends prefix list pl-office to igw-1"),
        "{why}"
    );
    assert!(carried("pl-mixed").is_some());
    assert_eq!(carried("pl-partner"), None);
    assert_eq!(carried("pl-unknown"), None);
}

fn eni(id: &str, vpc: &str) -> aws_sdk_ec2::types::builders::NetworkInterfaceBuilder {
    NetworkInterface::builder()
        .network_interface_id(id)
        .vpc_id(vpc)
        .interface_type(NetworkInterfaceType::Interface)
}

#[test]
fn public_addresses_are_found_on_primary_and_secondary_ips_and_named_by_owner() {
    let nat_eni = eni("eni-nat", "vpc-1")
        .association(
            NetworkInterfaceAssociation::builder()
                .public_ip("198.51.100.7")
                .allocation_id("eipalloc-1")
                .build(),
        )
        // AWS repeats the primary address's association under PrivateIpAddresses: one blocker, not two.
        .private_ip_addresses(
            NetworkInterfacePrivateIpAddress::builder()
                .primary(true)
                .association(
                    NetworkInterfaceAssociation::builder()
                        .public_ip("198.51.100.7")
                        .allocation_id("eipalloc-1")
                        .build(),
                )
                .build(),
        )
        .build();
    let instance_eni = eni("eni-web", "vpc-1")
        .attachment(
            NetworkInterfaceAttachment::builder()
                .instance_id("i-1")
                .build(),
        )
        .private_ip_addresses(
            NetworkInterfacePrivateIpAddress::builder()
                .primary(false)
                .association(
                    NetworkInterfaceAssociation::builder()
                        .public_ip("203.0.113.9")
                        .allocation_id("eipalloc-2")
                        .build(),
                )
                .build(),
        )
        .build();
    let elb_eni = eni("eni-elb", "vpc-1")
        .description("ELB app/shop/123")
        .association(
            NetworkInterfaceAssociation::builder()
                .public_ip("192.0.2.1")
                .build(),
        )
        .build();
    let private_eni = eni("eni-private", "vpc-1").build();
    let nat_by_interface = HashMap::from([("eni-nat".to_string(), "nat-1".to_string())]);
    let found = public_addresses(
        &[nat_eni, instance_eni, elb_eni, private_eni],
        &nat_by_interface,
    );
    let summaries: Vec<String> = found.iter().map(PublicAddress::summary).collect();
    assert_eq!(
        summaries,
        vec![
            "eni-elb (ELB app/shop/123) 192.0.2.1",
            "eni-nat (NAT gateway nat-1) 198.51.100.7, Elastic IP eipalloc-1",
            "eni-web (instance i-1) 203.0.113.9, Elastic IP eipalloc-2",
        ]
    );
}

#[test]
fn owners_fall_back_to_the_interface_type_then_the_requester() {
    let none = HashMap::new();
    let lambda = eni("eni-1", "vpc-1")
        .interface_type(NetworkInterfaceType::from("lambda"))
        .build();
    assert_eq!(owner_of(&lambda, &none), "lambda");
    let managed = eni("eni-2", "vpc-1").requester_id("amazon-elb").build();
    assert_eq!(owner_of(&managed, &none), "managed by amazon-elb");
    assert_eq!(
        owner_of(&eni("eni-3", "vpc-1").build(), &none),
        "unattached interface"
    );
}

#[test]
fn the_undo_record_names_the_gateway_and_every_vpc_it_was_detached_from() {
    let cut = cut_for(&gateway(vec![]));
    let undo = InternetGatewayDetach.undo_record_for(&cut).unwrap();
    assert_eq!(
        undo,
        UndoRecord {
            internet_gateway_id: "igw-1".into(),
            detached_from: vec!["vpc-1".into()],
        }
    );
}

#[test]
fn state_checks_catch_edits_that_would_change_what_apply_does() {
    let cut = cut_for(&gateway(vec![nat_address()]));
    assert_eq!(InternetGatewayDetach.check_states(&cut), Ok(()));

    let mut other_target = cut.clone();
    other_target.target = "igw-2".into();
    assert!(
        InternetGatewayDetach
            .check_states(&other_target)
            .unwrap_err()
            .contains("internet_gateway_id")
    );

    let mut kept = cut.clone();
    kept.after = kept.before.clone();
    assert!(
        InternetGatewayDetach
            .check_states(&kept)
            .unwrap_err()
            .contains("keeps the attachment to vpc-1")
    );

    let mut moved = cut.clone();
    moved.after.public_addresses.clear();
    assert!(
        InternetGatewayDetach
            .check_states(&moved)
            .unwrap_err()
            .contains("same public_addresses")
    );

    let mut garbage = plan_cut_for(&gateway(vec![nat_address()]));
    garbage.before = serde_json::json!({"internet_gateway_id": "igw-1", "extra": true}).into();
    assert!(
        crate::services::Containment::check_states(&InternetGatewayDetach, &garbage)
            .unwrap_err()
            .starts_with("`before`")
    );
}

fn sdk_gateway(id: &str, vpc: &str) -> InternetGateway {
    InternetGateway::builder()
        .internet_gateway_id(id)
        .attachments(
            InternetGatewayAttachment::builder()
                .vpc_id(vpc)
                .state(AttachmentStatus::from("available"))
                .build(),
        )
        .build()
}

/// The emulator never paginates these describes, so paging is proven here against mocked pages: a gateway
/// on the second page must be found, and a public address on the second page of interfaces must still
/// disable its cut.
#[tokio::test]
async fn mocked_discovery_follows_every_page_of_gateways_and_interfaces() {
    let gateways_1 = mock!(Client::describe_internet_gateways)
        .match_requests(|req| req.next_token().is_none())
        .then_output(|| {
            DescribeInternetGatewaysOutput::builder()
                .internet_gateways(sdk_gateway("igw-a", "vpc-a"))
                .internet_gateways(
                    InternetGateway::builder()
                        .internet_gateway_id("igw-spare")
                        .build(),
                )
                .next_token("gw-2")
                .build()
        });
    let gateways_2 = mock!(Client::describe_internet_gateways)
        .match_requests(|req| req.next_token() == Some("gw-2"))
        .then_output(|| {
            DescribeInternetGatewaysOutput::builder()
                .internet_gateways(sdk_gateway("igw-b", "vpc-b"))
                .build()
        });
    let enis_1 = mock!(Client::describe_network_interfaces)
        .match_requests(|req| {
            req.next_token().is_none()
                && req.filters()[0].name() == Some("vpc-id")
                && req.filters()[0].values() == ["vpc-a", "vpc-b"]
        })
        .then_output(|| {
            DescribeNetworkInterfacesOutput::builder()
                .network_interfaces(eni("eni-private", "vpc-b").build())
                .next_token("eni-2")
                .build()
        });
    let enis_2 = mock!(Client::describe_network_interfaces)
        .match_requests(|req| req.next_token() == Some("eni-2"))
        .then_output(|| {
            DescribeNetworkInterfacesOutput::builder()
                .network_interfaces(
                    eni("eni-nat", "vpc-b")
                        .association(
                            NetworkInterfaceAssociation::builder()
                                .public_ip("198.51.100.7")
                                .allocation_id("eipalloc-1")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let nats = mock!(Client::describe_nat_gateways).then_output(|| {
        DescribeNatGatewaysOutput::builder()
            .nat_gateways(
                NatGateway::builder()
                    .nat_gateway_id("nat-1")
                    .nat_gateway_addresses(
                        NatGatewayAddress::builder()
                            .network_interface_id("eni-nat")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&gateways_1, &gateways_2, &enis_1, &enis_2, &nats]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();
    let proposed = InternetGatewayDetach.discover(&ctx, &scope).await.unwrap();
    assert_eq!(gateways_1.num_calls(), 1);
    assert_eq!(gateways_2.num_calls(), 1);
    assert_eq!(enis_1.num_calls(), 1);
    assert_eq!(enis_2.num_calls(), 1);
    let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(
        targets,
        vec!["igw-a", "igw-b"],
        "a spare gateway is not cut"
    );
    assert_eq!(proposed[0].disabled_because, None);
    let because = proposed[1].disabled_because.as_deref().unwrap();
    assert!(
        because.contains("eni-nat (NAT gateway nat-1) 198.51.100.7"),
        "{because}"
    );
}

/// AWS refuses to detach a gateway while the VPC holds a public address (EC2's documented
/// `DependencyViolation`, "Network vpc-… has some mapped public address(es)"): the emulator never
/// answers it, so the error's words are proven here: AWS's code, and what to do.
#[tokio::test]
async fn mocked_a_detach_refused_for_a_mapped_public_address_says_what_to_release() {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::detach_internet_gateway::DetachInternetGatewayError;
    let refused = mock!(Client::detach_internet_gateway).then_error(|| {
        DetachInternetGatewayError::generic(
            ErrorMetadata::builder()
                .code("DependencyViolation")
                .message(
                    "Network vpc-1 has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.",
                )
                .build(),
        )
    });
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&refused]),
    );
    let err = GatewayCalls::detach(&InternetGatewayDetach, &ctx, "igw-1", "vpc-1", false)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("DependencyViolation"));
    assert!(
        err.message.contains("has some mapped public address(es)")
            && err
                .message
                .contains("(vpc-1 holds a public address: disassociate or release its Elastic IPs"),
        "{err}"
    );
}

/// `apply --check` dry-runs DetachInternetGateway for each VPC the cut detaches; EC2's
/// `UnauthorizedOperation` is a denial.
#[tokio::test]
async fn mocked_check_dry_runs_the_detach_and_reads_a_denial() {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::detach_internet_gateway::DetachInternetGatewayError;

    let cut = cut_for(&gateway(vec![]));
    let dry_run = mock!(Client::detach_internet_gateway)
        .match_requests(|req| req.dry_run() == Some(true) && req.vpc_id() == Some("vpc-1"))
        .then_error(|| {
            DetachInternetGatewayError::generic(
                ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .message("You are not authorized to perform this operation.")
                    .build(),
            )
        });
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&dry_run]),
    );
    let verdict = InternetGatewayDetach.check_permission(&ctx, &cut).await;
    assert_eq!(dry_run.num_calls(), 1);
    assert!(matches!(verdict, PermissionCheck::Denied(_)), "{verdict:?}");
}
