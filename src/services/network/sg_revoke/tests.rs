use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_security_group_rules::DescribeSecurityGroupRulesOutput;
use aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_sdk_ec2::types::{SecurityGroup, Vpc, VpcCidrBlockAssociation};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;

/// No prefix list the account owns is known: every list counts as outside.
static NO_LISTS: std::sync::LazyLock<OwnedPrefixLists> =
    std::sync::LazyLock::new(OwnedPrefixLists::default);

fn rule(id: &str, direction: Direction, peer: &str) -> Rule {
    let mut rule = Rule {
        id: id.into(),
        direction,
        protocol: "tcp".into(),
        from_port: Some(443),
        to_port: Some(443),
        cidr_ipv4: None,
        cidr_ipv6: None,
        prefix_list_id: None,
        referenced_group: None,
        description: Some(format!("rule {id}")),
        tags: BTreeMap::new(),
    };
    if peer.starts_with("pl-") {
        rule.prefix_list_id = Some(peer.into());
    } else if peer.starts_with("sg-") {
        rule.referenced_group = Some(ReferencedGroup {
            group_id: peer.into(),
            user_id: Some(OWNER.into()),
            vpc_id: None,
            vpc_peering_connection_id: None,
        });
    } else if peer.contains(':') {
        rule.cidr_ipv6 = Some(peer.into());
    } else {
        rule.cidr_ipv4 = Some(peer.into());
    }
    rule
}

/// The account that owns the groups under test.
const OWNER: &str = "123456789012";

fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

fn web_group() -> GroupState {
    GroupState {
        group_id: "sg-web".into(),
        group_name: "web".into(),
        vpc_id: Some("vpc-1".into()),
        vpc_cidrs: vec!["10.0.0.0/16".into(), "2600:1f18:1:100::/56".into()],
        rules: vec![
            rule("sgr-1", Direction::Ingress, "0.0.0.0/0"),
            rule("sgr-2", Direction::Ingress, "::/0"),
            rule("sgr-3", Direction::Ingress, "10.0.1.0/24"),
            rule("sgr-4", Direction::Ingress, "sg-db"),
            rule("sgr-5", Direction::Ingress, "pl-s3"),
            rule("sgr-6", Direction::Ingress, "203.0.113.7/32"),
            rule("sgr-7", Direction::Egress, "0.0.0.0/0"),
            rule("sgr-8", Direction::Egress, "2600:1f18:1:101::/64"),
            rule("sgr-9", Direction::Ingress, "10.0.0.0/8"),
        ],
        kept_lists: BTreeMap::new(),
    }
}

#[test]
fn rules_reaching_outside_the_vpc_are_revoked_and_internal_ones_kept() {
    let vpc = cidrs(&["10.0.0.0/16", "2600:1f18:1:100::/56"]);
    let keep = cidrs(&["203.0.113.0/24"]);
    let home = Home {
        account: Some(OWNER),
        vpc_id: Some("vpc-1"),
    };
    let verdict = |peer: &str| {
        classify(
            &rule("x", Direction::Ingress, peer),
            &vpc,
            &keep,
            &home,
            &NO_LISTS,
        )
    };
    assert_eq!(verdict("0.0.0.0/0"), Verdict::Revoke);
    assert_eq!(verdict("::/0"), Verdict::Revoke);
    assert_eq!(verdict("10.0.0.0/8"), Verdict::Revoke, "wider than the VPC");
    assert_eq!(verdict("pl-s3"), Verdict::Revoke);
    assert_eq!(verdict("10.0.1.0/24"), Verdict::KeepInsideVpc);
    assert_eq!(verdict("2600:1f18:1:101::/64"), Verdict::KeepInsideVpc);
    assert_eq!(verdict("sg-db"), Verdict::KeepReferencedGroup);
    assert_eq!(verdict("203.0.113.7/32"), Verdict::KeepResponderRange);
    assert_eq!(verdict("not-a-cidr"), Verdict::Revoke, "when in doubt, cut");
}

#[test]
fn the_proposal_removes_exactly_the_outside_rules_and_names_the_kept_responder_range() {
    let state = web_group();
    let proposed = propose(&state, &cidrs(&["203.0.113.0/24"]), Some(OWNER), &NO_LISTS).unwrap();
    assert_eq!(proposed.target, "sg-web");
    let after = &proposed.after;
    let kept: Vec<&str> = after.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(kept, vec!["sgr-3", "sgr-4", "sgr-6", "sgr-8"]);
    assert!(
        proposed
            .reason
            .contains("5 rule(s) open to outside its VPC"),
        "{}",
        proposed.reason
    );
    assert!(
        proposed
            .reason
            .contains("Kept for the responder (--keep-cidr): ingress tcp/443 from 203.0.113.7/32")
    );
    assert!(proposed.reason.contains("security groups are stateful"));
    assert_eq!(proposed.before, state);
}

#[test]
fn a_rule_naming_the_accounts_own_list_of_responder_ranges_is_kept_and_any_other_list_goes() {
    let mut state = web_group();
    state.rules = vec![
        rule("sgr-office", Direction::Ingress, "pl-office"),
        rule("sgr-partner", Direction::Ingress, "pl-partner"),
        rule("sgr-s3", Direction::Egress, "pl-s3"),
        rule("sgr-peers", Direction::Ingress, "pl-peers"),
    ];
    let lists = OwnedPrefixLists::default()
        .with("pl-office", &["203.0.113.7/32", "203.0.113.64/26"])
        .with("pl-partner", &["203.0.113.7/32", "198.51.100.0/24"])
        .with("pl-peers", &["10.0.8.0/24"]);
    let keep = cidrs(&["203.0.113.0/24"]);
    let proposed = propose(&state, &keep, Some(OWNER), &lists).unwrap();
    let kept: Vec<&str> = proposed.after.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        kept,
        vec!["sgr-office"],
        "a list inside the VPC only is no way in the responder asked for"
    );
    assert!(
        proposed.reason.contains(
            "Kept for the responder (--keep-cidr): ingress tcp/443 from prefix list pl-office"
        ),
        "{}",
        proposed.reason
    );
    assert!(
        proposed.reason.contains(
            "Prefix lists cut despite --keep-cidr: pl-partner (its entries are not the responder's: each inside a keep range or the VPC, one at least inside a keep range); pl-peers (its entries are not the responder's: each inside a keep range or the VPC, one at least inside a keep range); pl-s3 (it was not read)"
        ),
        "{}",
        proposed.reason
    );
    // Without keep ranges the office list is outside like any other, and no sentence about lists is added.
    let proposed = propose(&state, &[], Some(OWNER), &lists).unwrap();
    let kept: Vec<&str> = proposed.after.rules.iter().map(|r| r.id.as_str()).collect();
    assert!(kept.is_empty(), "{kept:?}");
    assert!(
        !proposed.reason.contains("Prefix lists cut"),
        "{}",
        proposed.reason
    );
}

/// A kept list is an address set anyone who may edit it can widen. The cut records the version of each
/// list it keeps a rule of; a list edited since reads as another version, so the drift check and `watch`
/// see the group changed (not as cut, and not reopened), where the rules alone look the same.
#[test]
fn the_lists_a_cut_keeps_are_recorded_with_their_version_and_an_edited_one_is_a_change() {
    let mut state = web_group();
    state.rules = vec![
        rule("sgr-office", Direction::Ingress, "pl-office"),
        rule("sgr-1", Direction::Ingress, "0.0.0.0/0"),
    ];
    let lists = OwnedPrefixLists::default().with("pl-office", &["203.0.113.64/26"]);
    let proposed = propose(&state, &cidrs(&["203.0.113.0/24"]), Some(OWNER), &lists).unwrap();
    let recorded = BTreeMap::from([("pl-office".to_string(), 1)]);
    assert_eq!(proposed.before.kept_lists, recorded);
    assert_eq!(proposed.after.kept_lists, recorded);
    let cut = TypedCut {
        id: "sg_revoke/us-east-1/sg-web".into(),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    };
    SecurityGroupRevoke.check_states(&cut).unwrap();

    // Held: the same rules, the same list version.
    assert_eq!(SecurityGroupRevoke.reopened(&cut, &cut.after), None);
    let mut edited = cut.after.clone();
    edited.kept_lists.insert("pl-office".into(), 2);
    assert_ne!(edited, cut.after, "watch does not read it as held");
    assert_eq!(
        SecurityGroupRevoke.reopened(&cut, &edited),
        None,
        "nor as reopened, which --recut would cut from a state no one reviewed"
    );

    // A plan edited to record another list, or one no kept rule names, is refused.
    let mut forged = cut.clone();
    forged.after.kept_lists.insert("pl-office".into(), 3);
    assert!(SecurityGroupRevoke.check_states(&forged).is_err());
    let mut stray = cut.clone();
    for state in [&mut stray.before, &mut stray.after] {
        state.kept_lists.insert("pl-other".into(), 1);
    }
    let err = SecurityGroupRevoke.check_states(&stray).unwrap_err();
    assert!(err.contains("pl-other"), "{err}");

    // No list kept, nothing recorded: the plan is as it was.
    let plain = propose(&web_group(), &[], Some(OWNER), &NO_LISTS).unwrap();
    assert!(plain.before.kept_lists.is_empty());
    assert!(
        !serde_json::to_string(&plain.before)
            .unwrap()
            .contains("kept_lists")
    );
}

#[test]
fn a_group_with_nothing_outside_is_not_proposed() {
    let mut state = web_group();
    state.rules.retain(|r| r.id == "sgr-3" || r.id == "sgr-4");
    assert_eq!(propose(&state, &[], Some(OWNER), &NO_LISTS), None);
}

fn cut_for(state: &GroupState) -> TypedCut<GroupState> {
    let proposed = propose(state, &[], Some(OWNER), &NO_LISTS).unwrap();
    TypedCut {
        id: format!("sg_revoke/us-east-1/{}", state.group_id),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// The same cut as a plan holds it, for the checks the engine's adapter makes on raw documents.
fn plan_cut_for(state: &GroupState) -> crate::plan::Cut {
    let cut = cut_for(state);
    crate::plan::Cut {
        id: cut.id,
        kind: "sg_revoke".into(),
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
fn the_undo_record_holds_the_revoked_rules_with_descriptions_and_tags() {
    let mut state = web_group();
    state.rules[0]
        .tags
        .insert("owner".into(), "payments".into());
    let cut = cut_for(&state);
    let undo = SecurityGroupRevoke.undo_record_for(&cut).unwrap();
    assert_eq!(undo.group_id, "sg-web");
    let ids: Vec<&str> = undo.revoked.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["sgr-1", "sgr-2", "sgr-5", "sgr-6", "sgr-7", "sgr-9"]
    );
    assert_eq!(undo.revoked[0].tags["owner"], "payments");
    assert_eq!(undo.revoked[0].description.as_deref(), Some("rule sgr-1"));
}

#[test]
fn state_checks_catch_edits_that_would_change_what_apply_does() {
    let cut = cut_for(&web_group());
    assert_eq!(SecurityGroupRevoke.check_states(&cut), Ok(()));

    let mut other_target = cut.clone();
    other_target.target = "sg-other".into();
    assert!(
        SecurityGroupRevoke
            .check_states(&other_target)
            .unwrap_err()
            .contains("group_id")
    );

    let mut added = cut.clone();
    added
        .after
        .rules
        .push(rule("sgr-new", Direction::Ingress, "198.51.100.0/24"));
    assert!(
        SecurityGroupRevoke
            .check_states(&added)
            .unwrap_err()
            .contains("only removes")
    );

    let mut two_peers = cut.clone();
    two_peers.before.rules[0].cidr_ipv6 = Some("::/0".into());
    assert!(
        SecurityGroupRevoke
            .check_states(&two_peers)
            .unwrap_err()
            .contains("exactly one")
    );

    let mut garbage = plan_cut_for(&web_group());
    garbage.before = serde_json::json!({"group_id": "sg-web"}).into();
    assert!(
        crate::services::Containment::check_states(&SecurityGroupRevoke, &garbage)
            .unwrap_err()
            .starts_with("`before`")
    );
}

#[test]
fn reauthorization_skips_rules_present_again_and_reports_conflicts() {
    let revoked = vec![
        rule("sgr-1", Direction::Ingress, "0.0.0.0/0"),
        rule("sgr-2", Direction::Ingress, "::/0"),
        rule("sgr-7", Direction::Egress, "0.0.0.0/0"),
    ];
    let mut readded = rule("sgr-new", Direction::Ingress, "::/0");
    readded.description = Some("added by a responder".into());
    // Someone re-added the egress rule exactly as it was, under a new ID.
    let mut identical = rule("sgr-x", Direction::Egress, "0.0.0.0/0");
    identical.description = Some("rule sgr-7".into());
    let live = vec![identical, readded];
    let plan = plan_reauthorization(&revoked, &live);
    let to_add: Vec<&str> = plan
        .to_add
        .values()
        .flatten()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(to_add, vec!["sgr-1"]);
    assert_eq!(plan.notes.len(), 2);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.starts_with("already present: egress"))
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.starts_with("conflict: ingress tcp/443 from ::/0 exists again as sgr-new"))
    );
}

#[test]
fn reauthorization_batches_by_direction_and_tag_set() {
    let mut tagged = rule("sgr-2", Direction::Ingress, "::/0");
    tagged.tags.insert("k".into(), "v".into());
    let revoked = vec![
        rule("sgr-1", Direction::Ingress, "0.0.0.0/0"),
        tagged,
        rule("sgr-3", Direction::Ingress, "198.51.100.0/24"),
        rule("sgr-7", Direction::Egress, "0.0.0.0/0"),
    ];
    let plan = plan_reauthorization(&revoked, &[]);
    let batches: Vec<(Direction, usize, usize)> = plan
        .to_add
        .iter()
        .map(|((direction, tags), rules)| (*direction, tags.len(), rules.len()))
        .collect();
    assert_eq!(
        batches,
        vec![
            (Direction::Ingress, 0, 2),
            (Direction::Ingress, 1, 1),
            (Direction::Egress, 0, 1)
        ]
    );
}

#[test]
fn the_permission_for_a_rule_carries_its_peer_and_description() {
    let permission = permission_for(&rule("sgr-1", Direction::Ingress, "::/0"));
    assert_eq!(permission.ip_protocol(), Some("tcp"));
    assert_eq!(permission.from_port(), Some(443));
    assert_eq!(permission.ipv6_ranges()[0].cidr_ipv6(), Some("::/0"));
    assert_eq!(
        permission.ipv6_ranges()[0].description(),
        Some("rule sgr-1")
    );
    let permission = permission_for(&rule("sgr-5", Direction::Ingress, "pl-s3"));
    assert_eq!(
        permission.prefix_list_ids()[0].prefix_list_id(),
        Some("pl-s3")
    );
}

fn sdk_rule(id: &str, group: &str, cidr: &str) -> aws_sdk_ec2::types::SecurityGroupRule {
    aws_sdk_ec2::types::SecurityGroupRule::builder()
        .security_group_rule_id(id)
        .group_id(group)
        .is_egress(false)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ipv4(cidr)
        .build()
}

/// The emulator never paginates DescribeSecurityGroupRules, so paging is proven here against mocked pages:
/// a rule on the second page must not be missed.
#[tokio::test]
async fn mocked_discovery_follows_every_page_of_rules() {
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
    let groups = mock!(Client::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(
                SecurityGroup::builder()
                    .group_id("sg-1")
                    .group_name("bastion")
                    .vpc_id("vpc-1")
                    .build(),
            )
            .build()
    });
    let first_page = mock!(Client::describe_security_group_rules)
        .match_requests(|req| req.next_token().is_none())
        .then_output(|| {
            DescribeSecurityGroupRulesOutput::builder()
                .security_group_rules(sdk_rule("sgr-a", "sg-1", "10.0.5.0/24"))
                .next_token("page-2")
                .build()
        });
    let second_page = mock!(Client::describe_security_group_rules)
        .match_requests(|req| req.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeSecurityGroupRulesOutput::builder()
                .security_group_rules(sdk_rule("sgr-b", "sg-1", "0.0.0.0/0"))
                .build()
        });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&vpcs, &groups, &first_page, &second_page]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();
    let proposed = SecurityGroupRevoke.discover(&ctx, &scope).await.unwrap();
    assert_eq!(first_page.num_calls(), 1);
    assert_eq!(second_page.num_calls(), 1);
    assert_eq!(proposed.len(), 1);
    let before = &proposed[0].before;
    assert_eq!(before.rules.len(), 2, "rules from both pages are recorded");
    let after = &proposed[0].after;
    assert_eq!(after.rules.len(), 1);
    assert_eq!(after.rules[0].id, "sgr-a");
}

/// The emulator grants every call, so a denied dry run is proven against a mocked EC2.
#[tokio::test]
async fn mocked_check_reports_a_denied_dry_run_with_the_missing_permission() {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressError;
    let denied = mock!(Client::revoke_security_group_ingress)
        .match_requests(|req| req.dry_run() == Some(true))
        .then_error(|| {
            RevokeSecurityGroupIngressError::generic(
                ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .message("You are not authorized to perform this operation.")
                    .build(),
            )
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&denied]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    match SecurityGroupRevoke
        .check_permission(&ctx, &cut_for(&web_group()))
        .await
    {
        PermissionCheck::Denied(err) => {
            assert!(
                err.to_string()
                    .contains("missing permission: ec2:RevokeSecurityGroupIngress"),
                "{err}"
            )
        }
        other => panic!("expected a denial, got {other:?}"),
    }
    assert_eq!(denied.num_calls(), 1);
}

/// A rule referencing another group, as DescribeSecurityGroupRules documents `ReferencedGroupInfo`
/// (GroupId, UserId, VpcId, VpcPeeringConnectionId, PeeringStatus).
fn referencing_rule(
    id: &str,
    group: &str,
    info: aws_sdk_ec2::types::ReferencedSecurityGroup,
) -> aws_sdk_ec2::types::SecurityGroupRule {
    aws_sdk_ec2::types::SecurityGroupRule::builder()
        .security_group_rule_id(id)
        .group_id(group)
        .group_owner_id(OWNER)
        .is_egress(false)
        .ip_protocol("tcp")
        .from_port(5432)
        .to_port(5432)
        .referenced_group_info(info)
        .build()
}

#[tokio::test]
async fn mocked_rules_referencing_groups_in_other_accounts_or_peered_vpcs_are_revoked() {
    use aws_sdk_ec2::types::ReferencedSecurityGroup;
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
    let groups = mock!(Client::describe_security_groups).then_output(|| {
        DescribeSecurityGroupsOutput::builder()
            .security_groups(
                SecurityGroup::builder()
                    .group_id("sg-db")
                    .group_name("db")
                    .vpc_id("vpc-1")
                    .owner_id(OWNER)
                    .build(),
            )
            .build()
    });
    let rules = mock!(Client::describe_security_group_rules).then_output(|| {
        DescribeSecurityGroupRulesOutput::builder()
            // The application tier: same account, same VPC. Stays.
            .security_group_rules(referencing_rule(
                "sgr-app",
                "sg-db",
                ReferencedSecurityGroup::builder()
                    .group_id("sg-app")
                    .user_id(OWNER)
                    .build(),
            ))
            // A partner's group, in another account.
            .security_group_rules(referencing_rule(
                "sgr-partner",
                "sg-db",
                ReferencedSecurityGroup::builder()
                    .group_id("sg-0partner")
                    .user_id("111122223333")
                    .build(),
            ))
            // A group of this account in a peered VPC.
            .security_group_rules(referencing_rule(
                "sgr-peer",
                "sg-db",
                ReferencedSecurityGroup::builder()
                    .group_id("sg-0peer")
                    .user_id(OWNER)
                    .vpc_id("vpc-2")
                    .vpc_peering_connection_id("pcx-1")
                    .peering_status("active")
                    .build(),
            ))
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&vpcs, &groups, &rules]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let proposed = SecurityGroupRevoke
        .discover(&ctx, &DiscoveryScope::for_tests())
        .await
        .unwrap();
    assert_eq!(proposed.len(), 1);
    let kept: Vec<&str> = proposed[0]
        .after
        .rules
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(kept, ["sgr-app"]);
    let reason = &proposed[0].reason;
    assert!(
        reason.contains("ingress tcp/5432 from group sg-0partner (account 111122223333)"),
        "{reason}"
    );
    assert!(
        reason.contains("group sg-0peer (account 123456789012, vpc-2, via pcx-1)"),
        "{reason}"
    );

    // Restore names the other account's group as AuthorizeSecurityGroupIngress needs it.
    let cut = TypedCut {
        id: "sg_revoke/us-east-1/sg-db".into(),
        region: "us-east-1".into(),
        target: proposed[0].target.clone(),
        before: proposed[0].before.clone(),
        after: proposed[0].after.clone(),
    };
    let undo = SecurityGroupRevoke.undo_record_for(&cut).unwrap();
    let partner = undo.revoked.iter().find(|r| r.id == "sgr-partner").unwrap();
    let pairs = permission_for(partner).user_id_group_pairs().to_vec();
    assert_eq!(
        (pairs[0].group_id(), pairs[0].user_id()),
        (Some("sg-0partner"), Some("111122223333"))
    );
}

#[test]
fn a_referenced_group_in_another_vpc_without_peering_is_outside_too() {
    let vpc = cidrs(&["10.0.0.0/16"]);
    let home = Home {
        account: Some(OWNER),
        vpc_id: Some("vpc-1"),
    };
    let mut across = rule("x", Direction::Egress, "sg-elsewhere");
    across.referenced_group.as_mut().unwrap().vpc_id = Some("vpc-9".into());
    assert_eq!(
        classify(&across, &vpc, &[], &home, &NO_LISTS),
        Verdict::Revoke
    );
    let mut same = rule("y", Direction::Egress, "sg-here");
    same.referenced_group.as_mut().unwrap().vpc_id = Some("vpc-1".into());
    assert_eq!(
        classify(&same, &vpc, &[], &home, &NO_LISTS),
        Verdict::KeepReferencedGroup
    );
}

/// The group as it is after `cut`, with some of the revoked rules authorized again (new IDs), and
/// optionally changed by `edit`.
fn reopened_with(
    cut: &TypedCut<GroupState>,
    again: &[&str],
    edit: impl Fn(&mut Rule),
) -> GroupState {
    let mut live = cut.after.clone();
    for id in again {
        let mut rule = cut
            .before
            .rules
            .iter()
            .find(|r| r.id == *id)
            .unwrap()
            .clone();
        rule.id = format!("{id}-new");
        edit(&mut rule);
        live.rules.push(rule);
    }
    sort_rules(&mut live.rules);
    live
}

#[test]
fn revoked_rules_authorized_again_as_they_were_reopen_the_cut_under_new_ids() {
    let state = web_group();
    let cut = cut_for(&state);
    let kind: &dyn crate::services::Containment = &SecurityGroupRevoke;
    let plan_cut = plan_cut_for(&state);

    // All of them back, under new IDs: the re-cut starts from the live group and revokes the new IDs.
    let revoked = revoked_rules(&cut.before, &cut.after);
    let all: Vec<&str> = revoked.iter().map(|r| r.id.as_str()).collect();
    let live = reopened_with(&cut, &all, |_| {});
    let from = SecurityGroupRevoke.reopened(&cut, &live).unwrap();
    assert_eq!(from, live);
    let recut = TypedCut {
        before: from,
        ..cut.clone()
    };
    let undo = SecurityGroupRevoke.undo_record_for(&recut).unwrap();
    assert!(undo.revoked.iter().all(|r| r.id.ends_with("-new")));
    assert_eq!(undo.revoked.len(), all.len());

    // One of them back: the cut is reopened in part, and the re-cut takes only that one.
    let live = reopened_with(&cut, &["sgr-1"], |_| {});
    let from = kind
        .reopened(&plan_cut, &serde_json::to_value(&live).unwrap())
        .expect("reopened in part");
    let from: GroupState = serde_json::from_value(from).unwrap();
    let recut = TypedCut {
        before: from,
        ..cut.clone()
    };
    let undo = SecurityGroupRevoke.undo_record_for(&recut).unwrap();
    let ids: Vec<&str> = undo.revoked.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["sgr-1-new"]);
}

#[test]
fn a_rule_back_with_another_description_or_a_rule_never_cut_is_a_change_not_a_reopening() {
    let state = web_group();
    let cut = cut_for(&state);
    assert_eq!(
        SecurityGroupRevoke.reopened(&cut, &cut.after),
        None,
        "as cut: held, not reopened"
    );

    let relabelled = reopened_with(&cut, &["sgr-1"], |rule| {
        rule.description = Some("temporary".into())
    });
    assert_eq!(SecurityGroupRevoke.reopened(&cut, &relabelled), None);

    let mut wider = reopened_with(&cut, &["sgr-1"], |_| {});
    wider
        .rules
        .push(rule("sgr-new", Direction::Ingress, "198.51.100.0/24"));
    assert_eq!(SecurityGroupRevoke.reopened(&cut, &wider), None);

    // A rule the cut kept, gone: someone else is editing the group.
    let mut narrower = reopened_with(&cut, &["sgr-1"], |_| {});
    narrower.rules.retain(|r| r.id != "sgr-3");
    assert_eq!(SecurityGroupRevoke.reopened(&cut, &narrower), None);

    // The same revoked rule twice cannot both be the one the cut took.
    let twice = reopened_with(&cut, &["sgr-1", "sgr-1"], |_| {});
    assert_eq!(SecurityGroupRevoke.reopened(&cut, &twice), None);
}

/// AWS takes or refuses an Authorize call's rules together: one rule whose referenced group was deleted
/// since (EC2's documented `InvalidGroup.NotFound`) refuses the batch. Restore then tries each rule on
/// its own, so the open-CIDR rule beside it comes back, and the error names the refused rule with AWS's
/// code and what was re-authorized meanwhile.
#[tokio::test]
async fn mocked_a_rule_aws_refuses_does_not_keep_the_groups_other_rules_from_coming_back() {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::authorize_security_group_ingress::{
        AuthorizeSecurityGroupIngressError, AuthorizeSecurityGroupIngressOutput,
    };
    let not_found = || {
        AuthorizeSecurityGroupIngressError::generic(
            ErrorMetadata::builder()
                .code("InvalidGroup.NotFound")
                .message("The security group 'sg-gone' does not exist")
                .build(),
        )
    };
    let live = mock!(Client::describe_security_group_rules)
        .then_output(|| DescribeSecurityGroupRulesOutput::builder().build());
    let refers_to_gone = |req: &aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressInput| {
        req.ip_permissions().iter().any(|p| {
            p.user_id_group_pairs()
                .iter()
                .any(|pair| pair.group_id() == Some("sg-gone"))
        })
    };
    let refused = mock!(Client::authorize_security_group_ingress)
        .match_requests(refers_to_gone)
        .then_error(not_found);
    let taken = mock!(Client::authorize_security_group_ingress)
        .match_requests(move |req| !refers_to_gone(req))
        .then_output(|| {
            AuthorizeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&live, &refused, &taken]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let undo = UndoRecord {
        group_id: "sg-web".into(),
        revoked: vec![
            rule("sgr-1", Direction::Ingress, "0.0.0.0/0"),
            rule("sgr-9", Direction::Ingress, "sg-gone"),
        ],
    };
    let err = SecurityGroupRevoke.undo(&ctx, &undo).await.unwrap_err();
    assert_eq!(
        refused.num_calls(),
        2,
        "the batch, then the rule on its own"
    );
    assert_eq!(taken.num_calls(), 1, "the CIDR rule on its own");
    assert_eq!(err.code.as_deref(), Some("InvalidGroup.NotFound"));
    assert!(
        err.message.contains("of sg-web")
            && err.message.contains("sg-gone")
            && err
                .message
                .contains("(the group's other rules were re-authorized: "),
        "{err}"
    );
}

/// The region's groups, their rules and its VPCs (for each group's own blocks) are read in one round
/// trip, before apply's first cut and in every plan: none of the three needs another's answer.
#[tokio::test(start_paused = true)]
async fn the_regions_groups_rules_and_vpcs_are_read_in_one_round_trip() {
    use crate::services::network::slow_ec2::SlowEc2;
    let xmlns = r#"xmlns="http://ec2.amazonaws.com/doc/2016-11-15/""#;
    let endpoint = SlowEc2::new()
        .answering(
            "DescribeVpcs",
            format!(r#"<DescribeVpcsResponse {xmlns}><requestId>r-1</requestId><vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet></DescribeVpcsResponse>"#),
        )
        .answering(
            "DescribeSecurityGroups",
            format!(r#"<DescribeSecurityGroupsResponse {xmlns}><requestId>r-1</requestId><securityGroupInfo><item><groupId>sg-web</groupId><groupName>web</groupName><vpcId>vpc-1</vpcId><ownerId>{OWNER}</ownerId></item></securityGroupInfo></DescribeSecurityGroupsResponse>"#),
        )
        .answering(
            "DescribeSecurityGroupRules",
            format!(r#"<DescribeSecurityGroupRulesResponse {xmlns}><requestId>r-1</requestId><securityGroupRuleSet/></DescribeSecurityGroupRulesResponse>"#),
        );
    let started = tokio::time::Instant::now();
    let groups = describe_region_with_owners(&endpoint.ctx()).await.unwrap();
    assert_eq!(
        endpoint.asked_in(0),
        [
            "DescribeSecurityGroupRules",
            "DescribeSecurityGroups",
            "DescribeVpcs"
        ]
    );
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(1));
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].0.vpc_cidrs, ["10.0.0.0/16"]);
    assert_eq!(groups[0].1.as_deref(), Some(OWNER));
}

/// The defect this guards against: apply stopped between a group's ingress and egress revokes (killed,
/// or the egress call refused or throttled out), then run again, put the revoked inbound rules back to
/// cut again from the plan. Re-authorized, they came back under new rule IDs, so the group was never the
/// plan's `before` again: the cut was failed as not put back, with the inbound rules (SSH open to the
/// world) open again and the outbound ones never revoked. Now the rest is revoked where the earlier run
/// stopped, by the plan's IDs of the rules still there, nothing is authorized, and the undo record is
/// the whole cut's.
#[tokio::test]
async fn mocked_a_cut_stopped_between_its_revokes_is_finished_without_reopening_what_it_revoked() {
    use aws_sdk_ec2::operation::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput;
    use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput;
    use aws_sdk_ec2::operation::revoke_security_group_ingress::RevokeSecurityGroupIngressOutput;
    let cut = cut_for(&web_group());
    let whole = SecurityGroupRevoke.undo_record_for(&cut).unwrap();
    let ids = |direction: Direction| -> Vec<String> {
        whole
            .revoked
            .iter()
            .filter(|rule| rule.direction == direction)
            .map(|rule| rule.id.clone())
            .collect()
    };
    let (inbound, outbound) = (ids(Direction::Ingress), ids(Direction::Egress));
    assert!(!inbound.is_empty() && !outbound.is_empty(), "{whole:?}");
    let left = GroupState {
        rules: cut
            .before
            .rules
            .iter()
            .filter(|rule| !inbound.contains(&rule.id))
            .cloned()
            .collect(),
        ..cut.before.clone()
    };
    assert!(CutKind::partly_cut(&SecurityGroupRevoke, &cut, &left));
    assert!(CutKind::finishes_in_place(&SecurityGroupRevoke));

    let expected = outbound.clone();
    let egress = mock!(Client::revoke_security_group_egress)
        .match_requests(move |req| {
            req.group_id() == Some("sg-web") && req.security_group_rule_ids() == expected.as_slice()
        })
        .then_output(|| {
            RevokeSecurityGroupEgressOutput::builder()
                .r#return(true)
                .build()
        });
    let ingress = mock!(Client::revoke_security_group_ingress).then_output(|| {
        RevokeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    });
    let reopen = mock!(Client::authorize_security_group_ingress).then_output(|| {
        AuthorizeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&egress, &ingress, &reopen]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let record = CutKind::finish(&SecurityGroupRevoke, &ctx, &cut, &left)
        .await
        .unwrap();
    assert_eq!(record, whole, "restore gives every revoked rule back");
    assert_eq!(
        (ingress.num_calls(), egress.num_calls(), reopen.num_calls()),
        (0, 1, 0)
    );
}

/// The defect this guards against: a group half-cut by a killed apply (inbound revoked) to which someone
/// added a rule before the apply was run again was failed as changed since, and its outbound rules stayed
/// open. Finishing revokes only reviewed rules by their IDs, so the addition need not stop it: it is
/// named and left as it is. What finishing cannot make as reviewed still stops it: nothing of the cut
/// made yet (the change is drift, as a fresh apply sees it), or a rule the plan revokes edited in place.
#[test]
fn a_half_cut_group_changed_beside_the_cut_is_finishable_and_the_change_named() {
    let cut = cut_for(&web_group());
    let revoked = revoked_rules(&cut.before, &cut.after);
    let inbound: Vec<&str> = revoked
        .iter()
        .filter(|rule| rule.direction == Direction::Ingress)
        .map(|rule| rule.id.as_str())
        .collect();
    let half = GroupState {
        rules: cut
            .before
            .rules
            .iter()
            .filter(|rule| !inbound.contains(&rule.id.as_str()))
            .cloned()
            .collect(),
        ..cut.before.clone()
    };
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &half),
        Some(vec![]),
        "half-cut and nothing else"
    );

    let mut added = half.clone();
    added
        .rules
        .push(rule("sgr-new", Direction::Egress, "198.51.100.0/24"));
    assert!(!CutKind::partly_cut(&SecurityGroupRevoke, &cut, &added));
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &added),
        Some(vec![
            "rule sgr-new (egress tcp/443 to 198.51.100.0/24) was added to sg-web".to_string()
        ])
    );

    // The world's inbound rule the earlier run revoked, authorized again: a copy under a new ID, which
    // the finish revokes again rather than naming it.
    let world = revoked.iter().find(|rule| rule.id == "sgr-1").unwrap();
    let mut reopened = added.clone();
    reopened.rules.push(Rule {
        id: "sgr-again".into(),
        ..world.clone()
    });
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &reopened),
        CutKind::finishable(&SecurityGroupRevoke, &cut, &added),
    );
    assert_eq!(
        reauthorized_copies(&revoked, &cut.before, &reopened)
            .iter()
            .map(|rule| rule.id.as_str())
            .collect::<Vec<_>>(),
        ["sgr-again"]
    );

    let mut kept_edited = half.clone();
    let kept = kept_edited
        .rules
        .iter_mut()
        .find(|rule| rule.id == "sgr-3")
        .unwrap();
    kept.cidr_ipv4 = Some("0.0.0.0/0".into());
    let notes = CutKind::finishable(&SecurityGroupRevoke, &cut, &kept_edited).unwrap();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("rule sgr-3, kept by the plan as ingress tcp/443 from 10.0.1.0/24"),
        "{notes:?}"
    );

    let mut kept_removed = half.clone();
    kept_removed.rules.retain(|rule| rule.id != "sgr-3");
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &kept_removed).map(|notes| notes.len()),
        Some(1)
    );

    let mut nothing_cut = cut.before.clone();
    nothing_cut
        .rules
        .push(rule("sgr-new", Direction::Egress, "198.51.100.0/24"));
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &nothing_cut),
        None,
        "nothing of the cut made: the addition is drift"
    );

    let mut reviewed_edited = half.clone();
    let outbound = revoked
        .iter()
        .find(|rule| rule.direction == Direction::Egress)
        .unwrap();
    reviewed_edited
        .rules
        .iter_mut()
        .find(|rule| rule.id == outbound.id)
        .unwrap()
        .from_port = Some(80);
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &reviewed_edited),
        None,
        "a rule to revoke edited in place: restore could not give back the one revoked"
    );

    let mut other_group = added.clone();
    other_group.group_name = "not-web".into();
    assert_eq!(
        CutKind::finishable(&SecurityGroupRevoke, &cut, &other_group),
        None
    );
}

#[test]
fn only_inbound_rules_for_every_protocol_or_tcp_ports_holding_443_let_https_in() {
    let with = |protocol: &str, ports: Option<(i32, i32)>, direction: Direction| Rule {
        protocol: protocol.into(),
        from_port: ports.map(|p| p.0),
        to_port: ports.map(|p| p.1),
        ..rule("sgr-x", direction, "0.0.0.0/0")
    };
    assert!(with("-1", None, Direction::Ingress).admits_https());
    assert!(with("tcp", Some((443, 443)), Direction::Ingress).admits_https());
    assert!(with("6", Some((0, 65535)), Direction::Ingress).admits_https());
    assert!(with("tcp", None, Direction::Ingress).admits_https());
    assert!(!with("tcp", Some((22, 22)), Direction::Ingress).admits_https());
    assert!(!with("tcp", Some((444, 8443)), Direction::Ingress).admits_https());
    assert!(!with("udp", Some((443, 443)), Direction::Ingress).admits_https());
    // What the group lets out does not stop calls coming in: security groups are stateful.
    assert!(!with("-1", None, Direction::Egress).admits_https());
}

#[test]
fn a_cut_revoking_https_into_a_group_guarding_the_runs_endpoint_is_left_out_and_no_other() {
    let endpoint_group = GroupState {
        group_id: "sg-endpoint".into(),
        group_name: "sts-endpoint".into(),
        rules: vec![
            rule("sgr-1", Direction::Ingress, "0.0.0.0/0"),
            Rule {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                ..rule("sgr-2", Direction::Ingress, "198.51.100.0/24")
            },
            rule("sgr-3", Direction::Egress, "0.0.0.0/0"),
        ],
        ..web_group()
    };
    let cut_all = GroupState {
        rules: vec![],
        ..endpoint_group.clone()
    };
    let groups = BTreeMap::from([(
        "sg-endpoint".to_string(),
        "sg-endpoint guards the network interfaces of vpce-sts, which this run's calls go through (sts.us-east-1.amazonaws.com resolves here to 10.0.1.25, this endpoint's addresses)".to_string(),
    )]);
    let why = on_the_runs_endpoint(&endpoint_group, &cut_all, &groups).expect("left out");
    assert!(
        why.starts_with("sg-endpoint guards the network interfaces of vpce-sts"),
        "{why}"
    );
    assert!(
        why.contains("revokes 1 rule(s) that let those calls in (ingress tcp/443 from 0.0.0.0/0)"),
        "{why}"
    );
    // A cut that leaves the HTTPS rule and revokes only SSH and the outbound rule is made.
    let keeps_https = GroupState {
        rules: vec![endpoint_group.rules[0].clone()],
        ..endpoint_group.clone()
    };
    assert_eq!(
        on_the_runs_endpoint(&endpoint_group, &keeps_https, &groups),
        None
    );
    assert!(!revokes_https_ingress(&endpoint_group, &keeps_https));
    // Another group, or no endpoint on the run's path: nothing is left out.
    let other = GroupState {
        group_id: "sg-web".into(),
        ..endpoint_group.clone()
    };
    let other_cut = GroupState {
        rules: vec![],
        ..other.clone()
    };
    assert_eq!(on_the_runs_endpoint(&other, &other_cut, &groups), None);
    assert_eq!(
        on_the_runs_endpoint(&endpoint_group, &cut_all, &BTreeMap::new()),
        None
    );
}

/// Against an endpoint override (the emulator) no call goes through an interface endpoint: the
/// judgement reads nothing from AWS (a read would fail, with no credentials nor a listener, and leave
/// the cut out).
#[tokio::test]
async fn against_an_endpoint_override_the_endpoints_groups_are_not_read() {
    let ctx = RegionCtx::new(
        "us-east-1",
        aws_config::SdkConfig::builder().build(),
        Some("http://127.0.0.1:9".into()),
    );
    let before = web_group();
    let after = GroupState {
        rules: vec![],
        ..before.clone()
    };
    let left_out =
        cut_off_at_the_runs_endpoints(&ctx, [("sg_revoke-us-east-1-sg-web", &before, &after)])
            .await
            .expect("nothing is read, so nothing fails");
    assert!(left_out.is_empty(), "{left_out:?}");
}
