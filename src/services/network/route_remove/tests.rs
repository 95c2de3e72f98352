use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_sdk_ec2::types::{
    RouteOrigin, RouteState, RouteTableAssociation, Vpc, VpcCidrBlockAssociation,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

/// No prefix list the account owns is known: every list counts as outside.
static NO_LISTS: std::sync::LazyLock<OwnedPrefixLists> =
    std::sync::LazyLock::new(OwnedPrefixLists::default);

fn route(destination: &str, kind: TargetKind, target: &str) -> Route {
    let mut route = Route {
        destination_cidr_block: None,
        destination_ipv6_cidr_block: None,
        destination_prefix_list_id: None,
        target_kind: kind,
        target_id: target.into(),
        origin: if kind == TargetKind::Local {
            "CreateRouteTable".into()
        } else {
            "CreateRoute".into()
        },
        state: "active".into(),
    };
    if destination.starts_with("pl-") {
        route.destination_prefix_list_id = Some(destination.into());
    } else if destination.contains(':') {
        route.destination_ipv6_cidr_block = Some(destination.into());
    } else {
        route.destination_cidr_block = Some(destination.into());
    }
    route
}

fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

/// A private table like the leaky account's, plus the routes a real account may also have.
fn private_table() -> TableState {
    let mut routes = vec![
        route("10.20.0.0/16", TargetKind::Local, "local"),
        route("2600:1f18:1:100::/56", TargetKind::Local, "local"),
        route("0.0.0.0/0", TargetKind::NatGateway, "nat-1"),
        route("::/0", TargetKind::EgressOnlyInternetGateway, "eigw-1"),
        route("172.16.0.0/12", TargetKind::VirtualPrivateGateway, "vgw-1"),
        route("10.30.0.0/16", TargetKind::VpcPeeringConnection, "pcx-1"),
        route("192.168.0.0/16", TargetKind::TransitGateway, "tgw-1"),
        route("pl-s3", TargetKind::GatewayEndpoint, "vpce-1"),
        route("10.99.0.0/16", TargetKind::Instance, "i-firewall"),
        route("10.20.9.0/24", TargetKind::NatGateway, "nat-1"),
        route("203.0.113.0/24", TargetKind::VirtualPrivateGateway, "vgw-1"),
    ];
    let mut propagated = route("10.50.0.0/16", TargetKind::VirtualPrivateGateway, "vgw-1");
    propagated.origin = "EnableVgwRoutePropagation".into();
    routes.push(propagated);
    sort_routes(&mut routes);
    TableState {
        route_table_id: "rtb-private".into(),
        vpc_id: "vpc-1".into(),
        vpc_cidrs: vec!["10.20.0.0/16".into(), "2600:1f18:1:100::/56".into()],
        associations: vec![Association {
            main: false,
            subnet_id: Some("subnet-private".into()),
            gateway_id: None,
        }],
        routes,
        kept_lists: Default::default(),
    }
}

#[test]
fn a_table_whose_only_way_out_is_an_appliance_is_said_not_passed_over() {
    // A NAT instance: the classic way out no route cut removes.
    let mut table = private_table();
    table.routes = vec![
        route("10.20.0.0/16", TargetKind::Local, "local"),
        route("0.0.0.0/0", TargetKind::Instance, "i-nat"),
    ];
    assert_eq!(
        propose(&table, &[], &NO_LISTS, false),
        None,
        "nothing this kind removes"
    );
    let what = ways_out_left_unsaid(&table, &[], &NO_LISTS).expect("said");
    assert!(
        what.contains("rtb-private") && what.contains("i-nat"),
        "{what}"
    );
    // With a route it removes, the proposal's reason says it already; a table with no way out at all
    // says nothing.
    assert_eq!(ways_out_left_unsaid(&private_table(), &[], &NO_LISTS), None);
    table.routes.pop();
    assert_eq!(ways_out_left_unsaid(&table, &[], &NO_LISTS), None);
    // A blackhole to a detached internet gateway is a way out one AttachInternetGateway away; one to a
    // deleted NAT gateway is not.
    let mut detached = route("0.0.0.0/0", TargetKind::InternetGateway, "igw-detached");
    detached.state = "blackhole".into();
    let mut deleted = route("::/0", TargetKind::NatGateway, "nat-deleted");
    deleted.state = "blackhole".into();
    table.routes.push(deleted);
    assert_eq!(ways_out_left_unsaid(&table, &[], &NO_LISTS), None);
    table.routes.push(detached);
    let what = ways_out_left_unsaid(&table, &[], &NO_LISTS).expect("said");
    assert!(
        what.contains("igw-detached") && !what.contains("nat-deleted"),
        "{what}"
    );
}

#[test]
fn routes_out_are_removed_and_internal_endpoint_propagated_and_appliance_routes_stay() {
    let vpc = cidrs(&["10.20.0.0/16", "2600:1f18:1:100::/56"]);
    let keep = cidrs(&["203.0.113.0/24"]);
    let verdict = |r: &Route| classify(r, &vpc, &keep, &NO_LISTS);
    for (destination, kind, target) in [
        ("0.0.0.0/0", TargetKind::InternetGateway, "igw-1"),
        ("::/0", TargetKind::InternetGateway, "igw-1"),
        ("0.0.0.0/0", TargetKind::NatGateway, "nat-1"),
        ("::/0", TargetKind::EgressOnlyInternetGateway, "eigw-1"),
        ("172.16.0.0/12", TargetKind::VirtualPrivateGateway, "vgw-1"),
        ("192.168.0.0/16", TargetKind::TransitGateway, "tgw-1"),
        ("10.30.0.0/16", TargetKind::VpcPeeringConnection, "pcx-1"),
        ("10.0.0.0/8", TargetKind::TransitGateway, "tgw-1"),
        ("pl-partner", TargetKind::TransitGateway, "tgw-1"),
    ] {
        assert_eq!(
            verdict(&route(destination, kind, target)),
            Verdict::Remove,
            "{destination} → {target}"
        );
    }
    assert_eq!(
        verdict(&route("10.20.0.0/16", TargetKind::Local, "local")),
        Verdict::KeepLocal
    );
    // A blackhole (its NAT gateway deleted) carries nothing; removed, restore could not put it back
    // (AWS refuses a route to a missing target) while the broader route beside it came back.
    let mut blackhole = route("203.0.113.0/24", TargetKind::NatGateway, "nat-deleted");
    blackhole.state = "blackhole".into();
    assert_eq!(
        classify(&blackhole, &vpc, &[], &NO_LISTS),
        Verdict::KeepBlackhole
    );
    // A stopped NAT instance's route is a blackhole too, but an appliance route all the same.
    let mut stopped = route("0.0.0.0/0", TargetKind::Instance, "i-stopped");
    stopped.state = "blackhole".into();
    assert_eq!(
        classify(&stopped, &vpc, &[], &NO_LISTS),
        Verdict::KeepInstanceOrInterface
    );
    assert_eq!(
        verdict(&route("pl-s3", TargetKind::GatewayEndpoint, "vpce-1")),
        Verdict::KeepGatewayEndpoint
    );
    assert_eq!(
        verdict(&route("0.0.0.0/0", TargetKind::Instance, "i-1")),
        Verdict::KeepInstanceOrInterface
    );
    assert_eq!(
        verdict(&route("0.0.0.0/0", TargetKind::NetworkInterface, "eni-1")),
        Verdict::KeepInstanceOrInterface
    );
    assert_eq!(
        verdict(&route("10.20.9.0/24", TargetKind::NatGateway, "nat-1")),
        Verdict::KeepInsideVpc
    );
    assert_eq!(
        verdict(&route(
            "2600:1f18:1:101::/64",
            TargetKind::EgressOnlyInternetGateway,
            "eigw-1"
        )),
        Verdict::KeepInsideVpc
    );
    assert_eq!(
        verdict(&route(
            "203.0.113.0/25",
            TargetKind::VirtualPrivateGateway,
            "vgw-1"
        )),
        Verdict::KeepResponderRange
    );
    assert_eq!(
        verdict(&route("0.0.0.0/0", TargetKind::CarrierGateway, "cagw-1")),
        Verdict::KeepOtherTarget
    );
    let mut propagated = route("10.50.0.0/16", TargetKind::VirtualPrivateGateway, "vgw-1");
    propagated.origin = "EnableVgwRoutePropagation".into();
    assert_eq!(verdict(&propagated), Verdict::KeepPropagated);
    assert_eq!(
        verdict(&route("not-a-cidr", TargetKind::InternetGateway, "igw-1")),
        Verdict::Remove,
        "when in doubt, cut"
    );
}

#[test]
fn a_route_to_the_accounts_own_list_of_responder_ranges_is_kept_and_any_other_list_goes() {
    let mut state = private_table();
    state.routes = vec![
        route("10.20.0.0/16", TargetKind::Local, "local"),
        route("pl-office", TargetKind::VirtualPrivateGateway, "vgw-1"),
        route("pl-partner", TargetKind::InternetGateway, "igw-1"),
        route("pl-shared", TargetKind::TransitGateway, "tgw-1"),
    ];
    let lists = OwnedPrefixLists::default()
        .with("pl-office", &["203.0.113.0/25"])
        .with("pl-partner", &["198.51.100.0/24"]);
    let keep = cidrs(&["203.0.113.0/24"]);
    let proposed = propose(&state, &keep, &lists, false).unwrap();
    let left: Vec<String> = proposed.after.routes.iter().map(Route::summary).collect();
    assert_eq!(
        left,
        vec![
            "10.20.0.0/16 → local local",
            "pl-office → virtual private gateway vgw-1"
        ]
    );
    assert!(
        proposed
            .reason
            .contains("Kept for the responder (--keep-cidr): routes to its ranges: pl-office"),
        "{}",
        proposed.reason
    );
    assert!(
        proposed.reason.contains("Prefix lists cut despite --keep-cidr: pl-partner (its entries are not the responder's: each inside a keep range or the VPC, one at least inside a keep range); pl-shared (it was not read)"),
        "{}",
        proposed.reason
    );
    assert_eq!(
        classify(&state.routes[1], &cidrs(&["10.20.0.0/16"]), &[], &lists),
        Verdict::Remove,
        "without keep ranges the office list leads out like any other"
    );
    // The kept list is recorded with the version judged, so an edit of it is drift and a change to
    // watch; a plan naming a list no kept route goes to is refused.
    let recorded = std::collections::BTreeMap::from([("pl-office".to_string(), 1)]);
    assert_eq!(proposed.before.kept_lists, recorded);
    assert_eq!(proposed.after.kept_lists, recorded);
    let cut = TypedCut {
        id: "route_remove/us-east-1/rtb-private".into(),
        region: "us-east-1".into(),
        target: proposed.target.clone(),
        before: proposed.before.clone(),
        after: proposed.after.clone(),
    };
    RouteRemove.check_states(&cut).unwrap();
    let mut stray = cut.clone();
    for state in [&mut stray.before, &mut stray.after] {
        state.kept_lists.insert("pl-partner".into(), 1);
    }
    let err = RouteRemove.check_states(&stray).unwrap_err();
    assert!(err.contains("pl-partner"), "{err}");
    let mut forged = cut;
    forged.after.kept_lists.insert("pl-office".into(), 2);
    assert!(RouteRemove.check_states(&forged).is_err());
}

#[test]
fn the_proposal_deletes_exactly_the_routes_out_and_names_what_it_leaves() {
    let state = private_table();
    let proposed = propose(&state, &cidrs(&["203.0.113.0/24"]), &NO_LISTS, false).unwrap();
    assert_eq!(proposed.target, "rtb-private");
    assert_eq!(proposed.before, state);
    let after = &proposed.after;
    let left: Vec<String> = after.routes.iter().map(Route::summary).collect();
    assert_eq!(
        left,
        vec![
            "10.20.0.0/16 → local local",
            "10.20.9.0/24 → NAT gateway nat-1",
            "10.50.0.0/16 → virtual private gateway vgw-1",
            "10.99.0.0/16 → instance i-firewall",
            "203.0.113.0/24 → virtual private gateway vgw-1",
            "2600:1f18:1:100::/56 → local local",
            "pl-s3 → gateway endpoint vpce-1",
        ]
    );
    let reason = &proposed.reason;
    assert!(
        reason.starts_with("rtb-private (VPC vpc-1, used by subnet-private) has 5 route(s) leading out of the VPC: 0.0.0.0/0 → NAT gateway nat-1; 10.30.0.0/16 → peering connection pcx-1; 172.16.0.0/12 → virtual private gateway vgw-1; 192.168.0.0/16 → transit gateway tgw-1; ::/0 → egress-only internet gateway eigw-1."),
        "{reason}"
    );
    assert!(
        reason.contains("Left: routes propagated by a virtual private gateway, which DeleteRoute cannot remove (detach the gateway or disable propagation to close them): 10.50.0.0/16 → virtual private gateway vgw-1."),
        "{reason}"
    );
    assert!(
        reason.contains("Left: routes to instances or network interfaces: an appliance there may forward traffic out, contain it separately: 10.99.0.0/16 → instance i-firewall."),
        "{reason}"
    );
    assert!(
        reason.contains("Left: routes to gateway endpoints"),
        "{reason}"
    );
    assert!(
        reason
            .contains("Kept for the responder (--keep-cidr): routes to its ranges: 203.0.113.0/24"),
        "{reason}"
    );
}

#[test]
fn a_table_with_only_local_and_endpoint_routes_is_not_proposed() {
    let mut state = private_table();
    state.routes.retain(|r| {
        matches!(
            r.target_kind,
            TargetKind::Local | TargetKind::GatewayEndpoint
        )
    });
    assert_eq!(propose(&state, &[], &NO_LISTS, false), None);
}

fn cut_for(state: &TableState) -> TypedCut<TableState> {
    let proposed = propose(state, &[], &NO_LISTS, false).unwrap();
    TypedCut {
        id: format!("route_remove/us-east-1/{}", state.route_table_id),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// The same cut as a plan holds it, for the checks the engine's adapter makes on raw documents.
fn plan_cut_for(state: &TableState) -> crate::plan::Cut {
    let cut = cut_for(state);
    crate::plan::Cut {
        id: cut.id,
        kind: "route_remove".into(),
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
fn the_undo_record_holds_the_removed_routes_with_their_targets() {
    let cut = cut_for(&private_table());
    let undo = RouteRemove.undo_record_for(&cut).unwrap();
    assert_eq!(undo.route_table_id, "rtb-private");
    let removed: Vec<String> = undo.removed.iter().map(Route::summary).collect();
    // Without --keep-cidr the VPN route to 203.0.113.0/24 goes too.
    assert_eq!(
        removed,
        vec![
            "0.0.0.0/0 → NAT gateway nat-1",
            "10.30.0.0/16 → peering connection pcx-1",
            "172.16.0.0/12 → virtual private gateway vgw-1",
            "192.168.0.0/16 → transit gateway tgw-1",
            "203.0.113.0/24 → virtual private gateway vgw-1",
            "::/0 → egress-only internet gateway eigw-1",
        ]
    );
}

#[test]
fn recreation_skips_routes_present_again_and_reports_conflicts() {
    let removed = vec![
        route("0.0.0.0/0", TargetKind::NatGateway, "nat-1"),
        route("::/0", TargetKind::EgressOnlyInternetGateway, "eigw-1"),
        route("10.30.0.0/16", TargetKind::VpcPeeringConnection, "pcx-1"),
    ];
    let live = vec![
        route("10.20.0.0/16", TargetKind::Local, "local"),
        // Someone pointed the default route at an inspection appliance during the incident.
        route("0.0.0.0/0", TargetKind::NetworkInterface, "eni-inspect"),
        // And someone re-created the IPv6 route exactly.
        route("::/0", TargetKind::EgressOnlyInternetGateway, "eigw-1"),
    ];
    let plan = plan_recreation(&removed, &live);
    let to_create: Vec<String> = plan.to_create.iter().map(|r| r.summary()).collect();
    assert_eq!(to_create, vec!["10.30.0.0/16 → peering connection pcx-1"]);
    assert_eq!(
        plan.notes,
        vec![
            "conflict: 0.0.0.0/0 → NAT gateway nat-1 was deleted by the cut, but the table now routes 0.0.0.0/0 to network interface eni-inspect; left as it is",
            "already present: ::/0 → egress-only internet gateway eigw-1",
        ]
    );
}

/// Regression: restore took the route a VPN gateway propagates for a deleted route's destination for
/// that route, as a conflict (another target) or as the route present again (the same gateway), and the
/// deleted route never came back. AWS lists the two side by side and the cut deletes only the one the
/// table was given, so the propagated one is there at restore whatever happened since.
#[test]
fn a_propagated_route_for_the_same_destination_is_neither_present_again_nor_a_conflict() {
    let propagated = |destination: &str| Route {
        origin: "EnableVgwRoutePropagation".into(),
        ..route(destination, TargetKind::VirtualPrivateGateway, "vgw-1")
    };
    let removed = vec![
        route("172.16.0.0/12", TargetKind::TransitGateway, "tgw-1"),
        route("10.0.0.0/8", TargetKind::VirtualPrivateGateway, "vgw-1"),
        route("192.168.0.0/16", TargetKind::VirtualPrivateGateway, "vgw-1"),
    ];
    let live = vec![
        propagated("172.16.0.0/12"),
        propagated("10.0.0.0/8"),
        // Re-created by someone since, beside the propagated one: that one is present again.
        propagated("192.168.0.0/16"),
        route("192.168.0.0/16", TargetKind::VirtualPrivateGateway, "vgw-1"),
    ];
    let plan = plan_recreation(&removed, &live);
    let to_create: Vec<String> = plan.to_create.iter().map(|r| r.summary()).collect();
    assert_eq!(
        to_create,
        vec![
            "172.16.0.0/12 → transit gateway tgw-1",
            "10.0.0.0/8 → virtual private gateway vgw-1",
        ]
    );
    assert_eq!(
        plan.notes,
        vec!["already present: 192.168.0.0/16 → virtual private gateway vgw-1"]
    );
}

#[test]
fn an_ipv4_and_an_ipv6_route_never_count_as_the_same_destination() {
    let removed = vec![route("::/0", TargetKind::InternetGateway, "igw-1")];
    let live = vec![route("0.0.0.0/0", TargetKind::InternetGateway, "igw-1")];
    assert_eq!(plan_recreation(&removed, &live).to_create.len(), 1);
}

#[test]
fn state_checks_catch_edits_that_would_change_what_apply_does() {
    let cut = cut_for(&private_table());
    assert_eq!(RouteRemove.check_states(&cut), Ok(()));

    let mut other_target = cut.clone();
    other_target.target = "rtb-other".into();
    assert!(
        RouteRemove
            .check_states(&other_target)
            .unwrap_err()
            .contains("route_table_id")
    );

    let edit_after = |f: &dyn Fn(&mut TableState)| {
        let mut edited = cut.clone();
        f(&mut edited.after);
        RouteRemove.check_states(&edited).unwrap_err()
    };
    assert!(
        edit_after(&|after| after.routes.push(route(
            "0.0.0.0/0",
            TargetKind::InternetGateway,
            "igw-evil"
        )))
        .contains("only deletes routes")
    );
    assert!(
        edit_after(&|after| after.routes.retain(|r| r.target_kind != TargetKind::Local))
            .contains("cannot be deleted by this kind")
    );
    assert!(
        edit_after(&|after| after
            .routes
            .retain(|r| r.origin != "EnableVgwRoutePropagation"))
        .contains("cannot be deleted by this kind")
    );
    assert!(edit_after(&|after| after.associations.clear()).contains("same vpc_id"));
    assert!(
        edit_after(&|after| after.routes = private_table().routes).contains("deletes no route")
    );
    assert!(
        edit_after(&|after| after.routes[0].destination_prefix_list_id = Some("pl-1".into()))
            .contains("exactly one of")
    );

    let mut garbage = plan_cut_for(&private_table());
    garbage.after = serde_json::json!({"route_table_id": "rtb-private"}).into();
    assert!(
        crate::services::Containment::check_states(&RouteRemove, &garbage)
            .unwrap_err()
            .starts_with("`after`")
    );
}

#[test]
fn sdk_routes_are_normalized_by_target() {
    let sdk = |b: aws_sdk_ec2::types::builders::RouteBuilder| {
        route_from_sdk(
            &b.origin(RouteOrigin::CreateRoute)
                .state(RouteState::Active)
                .build(),
        )
    };
    let igw = sdk(aws_sdk_ec2::types::Route::builder()
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id("igw-1"));
    assert_eq!(
        (igw.target_kind, igw.target_id.as_str()),
        (TargetKind::InternetGateway, "igw-1")
    );
    let vgw = sdk(aws_sdk_ec2::types::Route::builder()
        .destination_cidr_block("172.16.0.0/12")
        .gateway_id("vgw-1"));
    assert_eq!(vgw.target_kind, TargetKind::VirtualPrivateGateway);
    let endpoint = sdk(aws_sdk_ec2::types::Route::builder()
        .destination_prefix_list_id("pl-1")
        .gateway_id("vpce-1"));
    assert_eq!(endpoint.target_kind, TargetKind::GatewayEndpoint);
    // AWS reports both the instance and its interface for a route to an instance.
    let instance = sdk(aws_sdk_ec2::types::Route::builder()
        .destination_cidr_block("0.0.0.0/0")
        .instance_id("i-1")
        .network_interface_id("eni-1"));
    assert_eq!(
        (instance.target_kind, instance.target_id.as_str()),
        (TargetKind::Instance, "i-1")
    );
    assert_eq!(instance.origin, "CreateRoute");
    assert_eq!(instance.state, "active");
}

fn sdk_table(id: &str, route: aws_sdk_ec2::types::Route) -> aws_sdk_ec2::types::RouteTable {
    aws_sdk_ec2::types::RouteTable::builder()
        .route_table_id(id)
        .vpc_id("vpc-1")
        .associations(
            RouteTableAssociation::builder()
                .main(false)
                .subnet_id("subnet-1")
                .build(),
        )
        .routes(
            aws_sdk_ec2::types::Route::builder()
                .destination_cidr_block("10.0.0.0/16")
                .gateway_id("local")
                .origin(RouteOrigin::CreateRouteTable)
                .state(RouteState::Active)
                .build(),
        )
        .routes(route)
        .build()
}

/// The emulator never paginates DescribeRouteTables, so paging is proven here against mocked pages: a
/// table on the second page must not be missed.
#[tokio::test]
async fn mocked_discovery_follows_every_page_of_route_tables() {
    let vpcs = mock!(Client::describe_vpcs).then_output(|| {
        DescribeVpcsOutput::builder()
            .vpcs(
                Vpc::builder()
                    .vpc_id("vpc-1")
                    .cidr_block("10.0.0.0/16")
                    .cidr_block_association_set(
                        VpcCidrBlockAssociation::builder()
                            .cidr_block("10.0.0.0/16")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let first_page = mock!(Client::describe_route_tables)
        .match_requests(|req| req.next_token().is_none())
        .then_output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(sdk_table(
                    "rtb-public",
                    aws_sdk_ec2::types::Route::builder()
                        .destination_cidr_block("0.0.0.0/0")
                        .gateway_id("igw-1")
                        .origin(RouteOrigin::CreateRoute)
                        .state(RouteState::Active)
                        .build(),
                ))
                .next_token("page-2")
                .build()
        });
    let second_page = mock!(Client::describe_route_tables)
        .match_requests(|req| req.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeRouteTablesOutput::builder()
                .route_tables(sdk_table(
                    "rtb-private",
                    aws_sdk_ec2::types::Route::builder()
                        .destination_cidr_block("0.0.0.0/0")
                        .nat_gateway_id("nat-1")
                        .origin(RouteOrigin::CreateRoute)
                        .state(RouteState::Active)
                        .build(),
                ))
                .build()
        });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&vpcs, &first_page, &second_page]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();
    let proposed = RouteRemove.discover(&ctx, &scope).await.unwrap();
    assert_eq!(first_page.num_calls(), 1);
    assert_eq!(second_page.num_calls(), 1);
    let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
    assert_eq!(targets, vec!["rtb-private", "rtb-public"]);
    let after = &proposed[0].after;
    assert_eq!(after.vpc_cidrs, vec!["10.0.0.0/16"]);
    assert_eq!(after.routes.len(), 1, "only the local route is left");
}

/// A route to a Gateway Load Balancer endpoint (an AWS Network Firewall endpoint is one), as
/// DescribeRouteTables shows it: a `vpce-` gateway for a CIDR. A gateway endpoint's route has the
/// service's prefix list for destination.
fn firewall_route(destination: &str) -> aws_sdk_ec2::types::Route {
    aws_sdk_ec2::types::Route::builder()
        .destination_cidr_block(destination)
        .gateway_id("vpce-0firewall")
        .origin(RouteOrigin::CreateRoute)
        .state(RouteState::Active)
        .build()
}

#[test]
fn routes_to_gateway_load_balancer_endpoints_are_ways_out_with_an_accurate_reason() {
    let firewall = route_from_sdk(&firewall_route("0.0.0.0/0"));
    assert_eq!(
        (firewall.target_kind, firewall.target_id.as_str()),
        (TargetKind::GatewayLoadBalancerEndpoint, "vpce-0firewall")
    );
    let vpc = cidrs(&["10.20.0.0/16"]);
    assert_eq!(classify(&firewall, &vpc, &[], &NO_LISTS), Verdict::Remove);
    // Ingress routing through the firewall, to a subnet of the VPC, is traffic inside it.
    let inbound = route_from_sdk(&firewall_route("10.20.1.0/24"));
    assert_eq!(
        classify(&inbound, &vpc, &[], &NO_LISTS),
        Verdict::KeepInsideVpc
    );
    // The S3 gateway endpoint is still the endpoint's to manage.
    let s3 = route("pl-s3", TargetKind::GatewayEndpoint, "vpce-1");
    assert_eq!(
        classify(&s3, &vpc, &[], &NO_LISTS),
        Verdict::KeepGatewayEndpoint
    );

    let mut table = private_table();
    table.routes.push(firewall.clone());
    sort_routes(&mut table.routes);
    let proposed = propose(&table, &[], &NO_LISTS, false).unwrap();
    assert!(!proposed.after.routes.contains(&firewall));
    assert!(
        proposed
            .reason
            .contains("0.0.0.0/0 → Gateway Load Balancer endpoint vpce-0firewall"),
        "{}",
        proposed.reason
    );
    assert!(
        proposed
            .reason
            .contains("an AWS Network Firewall endpoint is one"),
        "{}",
        proposed.reason
    );
    assert!(
        proposed
            .reason
            .contains("routes to gateway endpoints (S3, DynamoDB), which the endpoint manages"),
        "{}",
        proposed.reason
    );
    let cut = TypedCut {
        id: "route_remove/us-east-1/rtb-private".into(),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    };
    assert_eq!(RouteRemove.check_states(&cut), Ok(()));
}

/// The emulator is not where a firewall endpoint's route is proven: restore re-creates it with
/// CreateRoute's `VpcEndpointId`, which takes Gateway Load Balancer endpoints only.
#[tokio::test]
async fn mocked_a_route_to_a_firewall_endpoint_is_re_created_with_vpc_endpoint_id() {
    let table = mock!(Client::describe_route_tables).then_output(|| {
        DescribeRouteTablesOutput::builder()
            .route_tables(
                aws_sdk_ec2::types::RouteTable::builder()
                    .route_table_id("rtb-workload")
                    .vpc_id("vpc-1")
                    .build(),
            )
            .build()
    });
    let create = mock!(Client::create_route)
        .match_requests(|req| {
            req.route_table_id() == Some("rtb-workload")
                && req.destination_cidr_block() == Some("0.0.0.0/0")
                && req.vpc_endpoint_id() == Some("vpce-0firewall")
                && req.gateway_id().is_none()
        })
        .then_output(|| {
            aws_sdk_ec2::operation::create_route::CreateRouteOutput::builder()
                .r#return(true)
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&table, &create]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let undo = UndoRecord {
        route_table_id: "rtb-workload".into(),
        removed: vec![route_from_sdk(&firewall_route("0.0.0.0/0"))],
    };
    let outcome = RouteRemove.undo(&ctx, &undo).await.unwrap();
    assert_eq!(create.num_calls(), 1);
    assert_eq!(
        outcome.notes,
        ["re-created 0.0.0.0/0 → Gateway Load Balancer endpoint vpce-0firewall"]
    );
}

/// Restore tries every route of a table: AWS refusing one (EC2's documented `Gateway.NotAttached`, for
/// a gateway not attached to the VPC again) does not keep the NAT route beside it from coming back, and
/// the error names the refused route with AWS's code and what was re-created meanwhile.
#[tokio::test]
async fn mocked_a_route_aws_refuses_does_not_keep_the_tables_other_routes_from_coming_back() {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::create_route::{CreateRouteError, CreateRouteOutput};
    let table = mock!(Client::describe_route_tables).then_output(|| {
        DescribeRouteTablesOutput::builder()
            .route_tables(
                aws_sdk_ec2::types::RouteTable::builder()
                    .route_table_id("rtb-1")
                    .vpc_id("vpc-1")
                    // Re-pointed by a responder after the cut: a conflict, left alone.
                    .routes(
                        aws_sdk_ec2::types::Route::builder()
                            .destination_cidr_block("10.30.0.0/16")
                            .vpc_peering_connection_id("pcx-new")
                            .origin(aws_sdk_ec2::types::RouteOrigin::CreateRoute)
                            .state(aws_sdk_ec2::types::RouteState::Active)
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let refused = mock!(Client::create_route)
        .match_requests(|req| req.gateway_id() == Some("igw-gone"))
        .then_error(|| {
            CreateRouteError::generic(
                ErrorMetadata::builder()
                    .code("Gateway.NotAttached")
                    .message("resource igw-gone is not attached to network vpc-1")
                    .build(),
            )
        });
    let created = mock!(Client::create_route)
        .match_requests(|req| req.nat_gateway_id() == Some("nat-1"))
        .then_output(|| CreateRouteOutput::builder().r#return(true).build());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&table, &refused, &created]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let undo = UndoRecord {
        route_table_id: "rtb-1".into(),
        removed: vec![
            route("::/0", TargetKind::InternetGateway, "igw-gone"),
            route("0.0.0.0/0", TargetKind::NatGateway, "nat-1"),
            route("10.30.0.0/16", TargetKind::VpcPeeringConnection, "pcx-1"),
        ],
    };
    let err = RouteRemove.undo(&ctx, &undo).await.unwrap_err();
    assert_eq!(created.num_calls(), 1, "the NAT route was still re-created");
    assert_eq!(err.code.as_deref(), Some("Gateway.NotAttached"));
    assert!(
        err.message
            .starts_with("route ::/0 → internet gateway igw-gone in rtb-1")
            && err.message.contains(
                "(the table's other routes were re-created: 0.0.0.0/0 → NAT gateway nat-1)"
            )
            && err.message.contains("; and conflict: "),
        "{err}"
    );
}

/// `apply --check` dry-runs the first DeleteRoute apply would send (same table and destination), and
/// reads EC2's `DryRunOperation` as permitted.
#[tokio::test]
async fn mocked_check_dry_runs_the_first_route_delete() {
    use aws_sdk_ec2::operation::delete_route::DeleteRouteError;

    let cut = cut_for(&private_table());
    let first = CutKind::undo_record_for(&RouteRemove, &cut)
        .unwrap()
        .removed[0]
        .clone();
    let table = cut.before.route_table_id.clone();
    let dry_run = mock!(Client::delete_route)
        .match_requests(move |req| {
            req.dry_run() == Some(true)
                && req.route_table_id() == Some(table.as_str())
                && req.destination_cidr_block() == first.destination_cidr_block.as_deref()
                && req.destination_ipv6_cidr_block() == first.destination_ipv6_cidr_block.as_deref()
        })
        .then_error(|| DeleteRouteError::generic(crate::services::kind::dry_run_would_succeed()));
    let ctx = RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&dry_run]),
    );
    let verdict = RouteRemove.check_permission(&ctx, &cut).await;
    assert_eq!(dry_run.num_calls(), 1);
    assert!(matches!(verdict, PermissionCheck::Allowed), "{verdict:?}");
}

/// A table the responder comes in through (`--keep-subnet`, `--keep-vpc`) keeps its routes to an internet
/// gateway, as the Block Public Access exclusion keeps the subnet open, and says so; its other ways out
/// are still deleted. A table whose only way out is such a route gets no cut.
#[test]
fn the_responders_way_in_keeps_its_routes_to_an_internet_gateway() {
    let mut table = private_table();
    table.routes = vec![
        route("10.20.0.0/16", TargetKind::Local, "local"),
        route("0.0.0.0/0", TargetKind::InternetGateway, "igw-1"),
        route("::/0", TargetKind::InternetGateway, "igw-1"),
        route("172.16.0.0/12", TargetKind::VirtualPrivateGateway, "vgw-1"),
    ];
    sort_routes(&mut table.routes);

    let cut_whole = propose(&table, &[], &NO_LISTS, false).unwrap();
    assert_eq!(removed_routes(&cut_whole.before, &cut_whole.after).len(), 3);

    let way_in = propose(&table, &[], &NO_LISTS, true).unwrap();
    assert_eq!(
        removed_routes(&way_in.before, &way_in.after),
        [route(
            "172.16.0.0/12",
            TargetKind::VirtualPrivateGateway,
            "vgw-1"
        )]
    );
    assert!(
        way_in.reason.contains("Deleting them leaves its subnets no routed way out but the responder's way in through the internet gateway")
            && way_in.reason.contains(
            "Left: routes to an internet gateway of a table only the responder's way in uses (--keep-subnet/--keep-vpc): its network ACL and security-group cuts still apply: 0.0.0.0/0 → internet gateway igw-1; ::/0 → internet gateway igw-1."
        ),
        "{}",
        way_in.reason
    );

    table
        .routes
        .retain(|r| r.target_kind != TargetKind::VirtualPrivateGateway);
    assert_eq!(propose(&table, &[], &NO_LISTS, true), None);
}

/// A kept subnet on a table that is no way in (its VPC's main table, whether it has no table of its own
/// or is associated with the main table explicitly, or a table subnets not kept share) loses its route
/// with the others': the table's cut says so and how to keep it. A table that is a way in says nothing.
#[test]
fn a_kept_subnet_on_a_table_that_is_no_way_in_is_said_to_lose_its_route_with_the_fix() {
    let state = private_table();
    let main = ways_in::TableUse {
        table_id: "rtb-main",
        vpc_id: "vpc-1",
        main: true,
        subnets: vec!["subnet-bastion-explicit"],
    };
    let shared = ways_in::TableUse {
        table_id: "rtb-shared",
        vpc_id: "vpc-1",
        main: false,
        subnets: vec!["subnet-bastion-explicit", "subnet-app"],
    };
    let ways_in = ways_in::WaysIn::named(&["subnet-bastion", "subnet-bastion-explicit"], &[]);
    let on_main = [
        ("subnet-bastion".to_string(), "vpc-1".to_string()),
        ("subnet-elsewhere".to_string(), "vpc-9".to_string()),
    ];
    assert_eq!(
        kept_subnets_losing_their_route(&state, &main, &ways_in, &on_main),
        " The kept subnets subnet-bastion, subnet-bastion-explicit (--keep-subnet) use this table, which is its VPC's main table, shared by every subnet without a table of its own: their route to the internet gateway is deleted with the others', so the responder cannot come in through them. Give them a route table of their own with that route (or pass --keep-vpc vpc-1), then plan again."
    );
    assert!(
        kept_subnets_losing_their_route(&state, &shared, &ways_in, &on_main).starts_with(
            " --keep-subnet subnet-bastion-explicit uses this table, which subnets not kept share:"
        )
    );
    let own = ways_in::TableUse {
        table_id: "rtb-own",
        vpc_id: "vpc-1",
        main: false,
        subnets: vec!["subnet-bastion-explicit"],
    };
    assert_eq!(
        kept_subnets_losing_their_route(&state, &own, &ways_in, &on_main),
        ""
    );
}

/// The kept subnets are said to lose their way in only where the cut deletes a route to an internet
/// gateway and keeps none in use: one kept for a --keep-cidr range still lets the responder in from there,
/// and a cut of NAT or egress-only routes never took it.
#[test]
fn a_table_is_said_to_lose_its_way_in_only_when_no_route_to_an_internet_gateway_stays() {
    let mut public = private_table();
    public.routes = vec![
        route("10.20.0.0/16", TargetKind::Local, "local"),
        route("0.0.0.0/0", TargetKind::InternetGateway, "igw-1"),
        route("198.51.100.0/24", TargetKind::InternetGateway, "igw-1"),
    ];
    let all_cut = propose(&public, &[], &NO_LISTS, false).unwrap();
    assert!(cuts_the_way_in(&all_cut.before, &all_cut.after));

    let keep = cidrs(&["198.51.100.0/24"]);
    let kept_range = propose(&public, &keep, &NO_LISTS, false).unwrap();
    assert!(
        kept_range
            .after
            .routes
            .iter()
            .any(|r| r.target_id == "igw-1"),
        "the kept range's route stays"
    );
    assert!(!cuts_the_way_in(&kept_range.before, &kept_range.after));

    let nat_only = propose(&private_table(), &[], &NO_LISTS, false).unwrap();
    assert!(!cuts_the_way_in(&nat_only.before, &nat_only.after));

    // A route to a deleted gateway left in place carries nothing: the way in is still taken.
    let mut dead = route("192.0.2.0/24", TargetKind::InternetGateway, "igw-gone");
    dead.state = "blackhole".into();
    let mut after = all_cut.after.clone();
    after.routes.push(dead);
    assert!(cuts_the_way_in(&all_cut.before, &after));
}
