use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput;
use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
use aws_sdk_ec2::types::{NetworkAclAssociation, Vpc, VpcCidrBlockAssociation};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;
use crate::services::network::slow_ec2::{Form, SlowEc2};

fn entry(direction: Direction, rule_number: i32, action: &str, cidr: &str) -> Entry {
    let v6 = cidr.contains(':');
    Entry {
        direction,
        rule_number,
        action: action.into(),
        protocol: "-1".into(),
        cidr_ipv4: (!v6).then(|| cidr.into()),
        cidr_ipv6: v6.then(|| cidr.into()),
        port_range: None,
        icmp: None,
    }
}

fn cidrs(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|c| c.parse().unwrap()).collect()
}

/// An ACL as AWS creates it by default: allow all at 100, deny all at 32767, both directions.
fn default_acl() -> AclState {
    AclState {
        network_acl_id: "acl-1".into(),
        vpc_id: "vpc-1".into(),
        vpc_cidrs: vec!["10.20.0.0/16".into(), "2600:1f18:1:100::/56".into()],
        subnets: vec!["subnet-a".into(), "subnet-b".into()],
        entries: vec![
            entry(Direction::Ingress, 100, "allow", "0.0.0.0/0"),
            entry(Direction::Ingress, 32767, "deny", "0.0.0.0/0"),
            entry(Direction::Egress, 100, "allow", "0.0.0.0/0"),
            entry(Direction::Egress, 32767, "deny", "0.0.0.0/0"),
        ],
    }
}

fn summaries(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(Entry::summary).collect()
}

#[test]
fn the_vpc_blocks_and_responder_ranges_are_allowed_before_deny_all_in_both_directions() {
    let added = entries_to_add(&default_acl(), &cidrs(&["203.0.113.0/24"]));
    assert_eq!(
        summaries(&added),
        vec![
            "ingress rule 1 allow all traffic from 10.20.0.0/16",
            "ingress rule 2 allow all traffic from 2600:1f18:1:100::/56",
            "ingress rule 3 allow all traffic from 203.0.113.0/24",
            "ingress rule 4 deny all traffic from 0.0.0.0/0",
            "ingress rule 5 deny all traffic from ::/0",
            "egress rule 1 allow all traffic to 10.20.0.0/16",
            "egress rule 2 allow all traffic to 2600:1f18:1:100::/56",
            "egress rule 3 allow all traffic to 203.0.113.0/24",
            "egress rule 4 deny all traffic to 0.0.0.0/0",
            "egress rule 5 deny all traffic to ::/0",
        ]
    );
    assert_eq!(added[1].cidr_ipv6.as_deref(), Some("2600:1f18:1:100::/56"));
    assert_eq!(added[1].cidr_ipv4, None);
}

#[test]
fn responder_ranges_inside_the_vpc_or_repeated_get_no_extra_entry() {
    let ranges = allowed_ranges(
        &["10.20.0.0/16".into()],
        &cidrs(&["10.20.5.0/24", "2001:db8::/48", "2001:db8::/48"]),
    );
    assert_eq!(ranges, vec!["10.20.0.0/16", "2001:db8::/48"]);
}

#[test]
fn lowest_free_numbers_skip_taken_ones() {
    let taken: BTreeSet<i32> = [2, 4].into_iter().collect();
    assert_eq!(lowest_free_numbers(&taken, 4), vec![1, 3, 5, 6]);
}

#[test]
fn the_proposal_adds_entries_explains_statelessness_and_lists_the_kept_ranges() {
    let state = default_acl();
    let proposed = propose(&state, &cidrs(&["203.0.113.0/24"])).unwrap();
    assert_eq!(proposed.target, "acl-1");
    assert_eq!(proposed.before, state);
    let after = &proposed.after;
    assert_eq!(after.entries.len(), 14);
    let ingress: Vec<i32> = after
        .entries
        .iter()
        .filter(|e| e.direction == Direction::Ingress)
        .map(|e| e.rule_number)
        .collect();
    assert_eq!(ingress, vec![1, 2, 3, 4, 5, 100, 32767], "sorted by number");
    let reason = &proposed.reason;
    assert!(
        reason.contains("guards subnet(s) subnet-a, subnet-b"),
        "{reason}"
    );
    assert!(
        reason.contains("the VPC's own blocks 10.20.0.0/16, 2600:1f18:1:100::/56"),
        "{reason}"
    );
    assert!(
        reason.contains(
            "Kept for the responder (--keep-cidr): allow entries for 203.0.113.0/24, in both directions."
        ),
        "{reason}"
    );
    assert!(
        reason.contains("Network ACLs are stateless: unlike security groups, this cuts established connections at once"),
        "{reason}"
    );
    // The allows (rules 1 to 3) come first and are named as allows; "deny" names only the denies.
    assert!(
        reason.contains(
            "first, allow entries for the kept ranges (ingress rules 1, 2, 3; egress rules 1, 2, 3)"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("then, deny all other traffic to and from 0.0.0.0/0 and ::/0 (ingress rules 4, 5; egress rules 4, 5)."),
        "{reason}"
    );
    assert_eq!(proposed.disabled_because, None);
}

#[test]
fn an_acl_guarding_no_subnet_is_not_proposed() {
    let mut state = default_acl();
    state.subnets.clear();
    assert_eq!(propose(&state, &[]), None);
}

#[test]
fn an_acl_already_sealed_by_an_earlier_apply_is_not_proposed_again() {
    let mut state = default_acl();
    state.entries.extend(entries_to_add(&state, &[]));
    sort_entries(&mut state.entries);
    assert_eq!(propose(&state, &[]), None);
    // A different --keep-cidr needs a different set of entries, which no longer fits below rule 1.
    let proposed = propose(&state, &cidrs(&["203.0.113.0/24"])).unwrap();
    assert!(
        proposed
            .disabled_because
            .unwrap()
            .contains("no room below the lowest existing entry (rule 1)")
    );
}

#[test]
fn no_room_below_the_lowest_existing_entry_is_proposed_with_the_fix_and_refused_by_the_check() {
    let mut state = default_acl();
    state
        .entries
        .push(entry(Direction::Ingress, 3, "allow", "198.51.100.0/24"));
    sort_entries(&mut state.entries);
    let added = entries_to_add(&state, &[]);
    let ingress: Vec<i32> = added
        .iter()
        .filter(|e| e.direction == Direction::Ingress)
        .map(|e| e.rule_number)
        .collect();
    assert_eq!(ingress, vec![1, 2, 4, 5], "lowest free numbers");
    let problems = obstacles(&state, &added);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(
            "ingress: no room below the lowest existing entry (rule 3): 4 entries are needed there"
        ),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("renumber the ingress entries numbered 3 to 5 or higher"),
        "{}",
        problems[0]
    );
    let proposed = propose(&state, &[]).unwrap();
    assert_eq!(
        proposed.disabled_because.unwrap(),
        format!(
            "this ACL cannot be sealed as it stands, and apply refuses the cut even if enabled, changing nothing on the ACL: {}.",
            problems[0]
        )
    );
}

#[test]
fn exceeding_the_entry_quota_is_proposed_with_the_fix() {
    let mut state = default_acl();
    for n in 0..17 {
        state.entries.push(entry(
            Direction::Egress,
            200 + n,
            "allow",
            &format!("198.51.100.{n}/32"),
        ));
    }
    sort_entries(&mut state.entries);
    let added = entries_to_add(&state, &[]);
    let problems = obstacles(&state, &added);
    assert_eq!(
        problems,
        vec![
            "egress IPv4: 19 existing IPv4 entries plus 2 new ones exceed the quota of 20 IPv4 entries per direction (the default deny entry counts; IPv4 and IPv6 entries count separately). Fix: delete 1 egress IPv4 entries that are no longer needed, or pass fewer --keep-cidr ranges, then plan again"
        ]
    );
    // 18 existing IPv4 entries + 2 fit exactly.
    state.entries.retain(|e| e.rule_number != 216);
    assert_eq!(
        obstacles(&state, &entries_to_add(&state, &[])),
        Vec::<String>::new()
    );
}

/// The quota is per family: 20 IPv4 and 20 IPv6 entries per direction
/// (docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html). 17 IPv4 entries and the 4 new ones
/// (2 IPv4, 2 IPv6) make 21 in all, which a single count of 20 would have refused.
#[test]
fn ipv4_and_ipv6_entries_count_against_separate_quotas() {
    let mut state = default_acl();
    state
        .entries
        .push(entry(Direction::Ingress, 32768, "deny", "::/0"));
    for n in 0..15 {
        state.entries.push(entry(
            Direction::Ingress,
            200 + n,
            "allow",
            &format!("198.51.100.{n}/32"),
        ));
    }
    sort_entries(&mut state.entries);
    assert_eq!(
        obstacles(&state, &entries_to_add(&state, &[])),
        Vec::<String>::new(),
        "17 IPv4 + 2 and 1 IPv6 + 2 each fit"
    );

    // IPv6 entries fill their own quota, whatever the IPv4 count.
    for n in 0..18 {
        state.entries.push(entry(
            Direction::Ingress,
            300 + n,
            "allow",
            &format!("2001:db8:{n:x}::/48"),
        ));
    }
    sort_entries(&mut state.entries);
    let problems = obstacles(&state, &entries_to_add(&state, &[]));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(
            "ingress IPv6: 19 existing IPv6 entries plus 2 new ones exceed the quota of 20 IPv6 entries"
        ),
        "{}",
        problems[0]
    );
}

fn cut_for(state: &AclState, keep: &[Cidr]) -> TypedCut<AclState> {
    let proposed = propose(state, keep).unwrap();
    TypedCut {
        id: format!("nacl_deny/us-east-1/{}", state.network_acl_id),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// The same cut as a plan holds it, for the checks the engine's adapter makes on raw documents.
fn plan_cut_for(state: &AclState, keep: &[Cidr]) -> crate::plan::Cut {
    let cut = cut_for(state, keep);
    crate::plan::Cut {
        id: cut.id,
        kind: "nacl_deny".into(),
        region: cut.region,
        target: cut.target,
        enabled: true,
        reversible: true,
        reason: String::new(),
        before: serde_json::to_value(cut.before).unwrap().into(),
        after: serde_json::to_value(cut.after).unwrap().into(),
    }
}

#[tokio::test]
async fn apply_refuses_an_acl_without_room_before_any_call() {
    let mut state = default_acl();
    state
        .entries
        .push(entry(Direction::Egress, 1, "allow", "198.51.100.0/24"));
    sort_entries(&mut state.entries);
    let cut = cut_for(&state, &[]);
    let create = mock!(Client::create_network_acl_entry).then_output(|| {
        aws_sdk_ec2::operation::create_network_acl_entry::CreateNetworkAclEntryOutput::builder()
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let err = NetworkAclDeny.apply(&ctx, &cut).await.unwrap_err();
    assert_eq!(create.num_calls(), 0, "nothing is half-applied");
    assert_eq!(err.code, None);
    assert!(
        err.message
            .starts_with("network ACL acl-1 cannot be sealed, nothing was changed on it: egress: no room below the lowest existing entry (rule 1)"),
        "{}",
        err.message
    );
}

#[test]
fn the_undo_record_holds_exactly_the_added_entries() {
    let cut = cut_for(&default_acl(), &[]);
    let undo = NetworkAclDeny.undo_record_for(&cut).unwrap();
    assert_eq!(undo.network_acl_id, "acl-1");
    assert_eq!(undo.added, entries_to_add(&default_acl(), &[]));
}

#[test]
fn removal_deletes_denies_first_skips_gone_entries_and_leaves_changed_ones() {
    let added = entries_to_add(&default_acl(), &[]);
    // Live: ingress 1 (allow VPC) and 3 (deny v4) are ours; ingress 4 is gone; ingress 2 was replaced by
    // someone else's entry; egress entries are all still ours.
    let mut live: Vec<Entry> = added
        .iter()
        .filter(|e| {
            !(e.direction == Direction::Ingress && (e.rule_number == 2 || e.rule_number == 4))
        })
        .cloned()
        .collect();
    live.push(entry(Direction::Ingress, 2, "allow", "192.0.2.0/24"));
    let removal = plan_removal(&added, &live);
    let deleted: Vec<String> = removal.to_delete.iter().map(|e| e.summary()).collect();
    assert_eq!(
        deleted,
        vec![
            "ingress rule 3 deny all traffic from 0.0.0.0/0",
            "egress rule 3 deny all traffic to 0.0.0.0/0",
            "egress rule 4 deny all traffic to ::/0",
            "ingress rule 1 allow all traffic from 10.20.0.0/16",
            "egress rule 1 allow all traffic to 10.20.0.0/16",
            "egress rule 2 allow all traffic to 2600:1f18:1:100::/56",
        ]
    );
    assert_eq!(
        removal.notes,
        vec![
            "conflict: ingress rule 2 allow all traffic from 2600:1f18:1:100::/56 was added by the cut, but that rule number now holds ingress rule 2 allow all traffic from 192.0.2.0/24; left as it is",
            "already removed: ingress rule 4 deny all traffic from ::/0",
        ]
    );
}

#[test]
fn an_entry_with_the_same_range_but_another_action_is_a_conflict() {
    let added = vec![entry(Direction::Egress, 4, "deny", "0.0.0.0/0")];
    let live = vec![entry(Direction::Egress, 4, "allow", "0.0.0.0/0")];
    let removal = plan_removal(&added, &live);
    assert!(removal.to_delete.is_empty());
    assert!(removal.notes[0].starts_with("conflict: egress rule 4 deny"));
}

#[test]
fn state_checks_catch_edits_that_would_change_what_apply_does() {
    let cut = cut_for(&default_acl(), &[]);
    assert_eq!(NetworkAclDeny.check_states(&cut), Ok(()));

    let mut other_target = cut.clone();
    other_target.target = "acl-other".into();
    assert!(
        NetworkAclDeny
            .check_states(&other_target)
            .unwrap_err()
            .contains("network_acl_id")
    );

    let edit_after = |f: &dyn Fn(&mut AclState)| {
        let mut edited = cut.clone();
        f(&mut edited.after);
        NetworkAclDeny.check_states(&edited).unwrap_err()
    };
    assert!(
        edit_after(&|after| after.entries.retain(|e| e.rule_number != 100))
            .contains("a cut only adds entries")
    );
    assert!(
        edit_after(&|after| {
            let opened = after
                .entries
                .iter_mut()
                .find(|e| e.rule_number == 1)
                .unwrap();
            opened.protocol = "6".into();
            opened.port_range = Some(PortRange { from: 22, to: 22 });
        })
        .contains("must be an allow or deny of all traffic")
    );
    assert!(
        edit_after(&|after| after.entries.push(entry(
            Direction::Ingress,
            100,
            "deny",
            "198.51.100.0/24"
        )))
        .contains("reuses a rule number")
    );
    assert!(
        edit_after(&|after| after.entries.push(entry(
            Direction::Ingress,
            32767,
            "deny",
            "198.51.100.0/24"
        )))
        .contains("from 1 to 32766")
    );
    assert!(
        edit_after(&|after| after.entries[0].cidr_ipv6 = Some("::/0".into()))
            .contains("exactly one of cidr_ipv4, cidr_ipv6")
    );
    assert!(edit_after(&|after| after.subnets.clear()).contains("same vpc_id"));
    assert!(edit_after(&|after| after.entries = default_acl().entries).contains("adds no entry"));

    let mut garbage = plan_cut_for(&default_acl(), &[]);
    garbage.before = serde_json::json!({"network_acl_id": "acl-1", "extra": 1}).into();
    assert!(
        crate::services::Containment::check_states(&NetworkAclDeny, &garbage)
            .unwrap_err()
            .starts_with("`before`")
    );
}

fn sdk_acl(id: &str, subnet: Option<&str>) -> aws_sdk_ec2::types::NetworkAcl {
    let mut acl = aws_sdk_ec2::types::NetworkAcl::builder()
        .network_acl_id(id)
        .vpc_id("vpc-1")
        .entries(
            NetworkAclEntry::builder()
                .rule_number(100)
                .egress(false)
                .protocol("-1")
                .rule_action(RuleAction::Allow)
                .cidr_block("0.0.0.0/0")
                .build(),
        );
    if let Some(subnet) = subnet {
        acl = acl.associations(NetworkAclAssociation::builder().subnet_id(subnet).build());
    }
    acl.build()
}

/// The emulator never paginates DescribeNetworkAcls, so paging is proven here against mocked pages: an ACL
/// on the second page must not be missed.
#[tokio::test]
async fn mocked_discovery_follows_every_page_of_network_acls() {
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
    let first_page = mock!(Client::describe_network_acls)
        .match_requests(|req| req.next_token().is_none())
        .then_output(|| {
            DescribeNetworkAclsOutput::builder()
                .network_acls(sdk_acl("acl-unused", None))
                .next_token("page-2")
                .build()
        });
    let second_page = mock!(Client::describe_network_acls)
        .match_requests(|req| req.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeNetworkAclsOutput::builder()
                .network_acls(sdk_acl("acl-guarding", Some("subnet-1")))
                .build()
        });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&vpcs, &first_page, &second_page]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let scope = DiscoveryScope::for_tests();
    let proposed = NetworkAclDeny.discover(&ctx, &scope).await.unwrap();
    assert_eq!(first_page.num_calls(), 1);
    assert_eq!(second_page.num_calls(), 1);
    assert_eq!(proposed.len(), 1, "the ACL without subnets is not proposed");
    assert_eq!(proposed[0].target, "acl-guarding");
    let before = &proposed[0].before;
    assert_eq!(before.vpc_cidrs, vec!["10.0.0.0/16"]);
    assert_eq!(before.subnets, vec!["subnet-1"]);
    assert_eq!(
        summaries(&before.entries),
        vec!["ingress rule 100 allow all traffic from 0.0.0.0/0"]
    );
}

/// Once a deny is in place, traffic inside the VPC must already have its allow: apply sends every allow
/// before the first deny, and returns exactly the added entries as the undo record.
#[tokio::test]
async fn mocked_apply_creates_every_allow_before_any_deny() {
    use std::sync::{Arc, Mutex};
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = calls.clone();
    let create = mock!(Client::create_network_acl_entry)
        .match_requests(move |req| {
            seen.lock().unwrap().push(format!(
                "{} egress={} rule {} {}",
                req.rule_action().unwrap().as_str(),
                req.egress().unwrap(),
                req.rule_number().unwrap(),
                req.cidr_block().or(req.ipv6_cidr_block()).unwrap()
            ));
            true
        })
        .sequence()
        .output(|| {
            aws_sdk_ec2::operation::create_network_acl_entry::CreateNetworkAclEntryOutput::builder()
                .build()
        })
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&create]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let cut = cut_for(&default_acl(), &[]);
    let undo = NetworkAclDeny.apply(&ctx, &cut).await.unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        vec![
            "allow egress=false rule 1 10.20.0.0/16",
            "allow egress=false rule 2 2600:1f18:1:100::/56",
            "allow egress=true rule 1 10.20.0.0/16",
            "allow egress=true rule 2 2600:1f18:1:100::/56",
            "deny egress=false rule 3 0.0.0.0/0",
            "deny egress=false rule 4 ::/0",
            "deny egress=true rule 3 0.0.0.0/0",
            "deny egress=true rule 4 ::/0",
        ]
    );
    assert_eq!(undo.added, entries_to_add(&default_acl(), &[]));
}

/// A request to the slow endpoint as these tests name it: `allow egress=false rule 1` for a created
/// entry, `delete egress=false rule 1` for a deleted one, `describe` for the read.
fn entry_request(form: &Form) -> String {
    let action = match form.action() {
        "DescribeNetworkAcls" => return "describe".into(),
        "DeleteNetworkAclEntry" => "delete",
        _ => form.field("RuleAction"),
    };
    format!(
        "{action} egress={} rule {}",
        form.field("Egress"),
        form.field("RuleNumber")
    )
}

/// The entries asked in the first second, and those asked after.
fn waves(endpoint: &SlowEc2) -> (Vec<String>, Vec<String>) {
    let later = (1..10)
        .flat_map(|second| endpoint.asked_in_as(second, entry_request))
        .collect();
    (endpoint.asked_in_as(0, entry_request), later)
}

/// DescribeNetworkAcls's answer for one ACL holding `entries`.
fn describe_acl_xml(acl_id: &str, entries: &[Entry]) -> String {
    let items: String = entries
        .iter()
        .map(|e| {
            let cidr = match (&e.cidr_ipv4, &e.cidr_ipv6) {
                (Some(v4), _) => format!("<cidrBlock>{v4}</cidrBlock>"),
                (_, Some(v6)) => format!("<ipv6CidrBlock>{v6}</ipv6CidrBlock>"),
                _ => String::new(),
            };
            format!(
                "<item><ruleNumber>{}</ruleNumber><protocol>{}</protocol><ruleAction>{}</ruleAction><egress>{}</egress>{cidr}</item>",
                e.rule_number,
                e.protocol,
                e.action,
                e.direction.is_egress()
            )
        })
        .collect();
    format!(
        r#"<DescribeNetworkAclsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><networkAclSet><item><networkAclId>{acl_id}</networkAclId><vpcId>vpc-1</vpcId><default>false</default><entrySet>{items}</entrySet><associationSet/></item></networkAclSet></DescribeNetworkAclsResponse>"#
    )
}

/// The entries go in two waves of one round trip each, not one round trip per entry: every allow at
/// once, and only once AWS has acknowledged them all, every deny at once.
#[tokio::test(start_paused = true)]
async fn the_allows_go_out_together_and_the_denies_together_once_every_allow_is_in() {
    let endpoint = SlowEc2::new();
    let started = tokio::time::Instant::now();
    let undo = NetworkAclDeny
        .apply(&endpoint.ctx(), &cut_for(&default_acl(), &[]))
        .await
        .unwrap();
    assert_eq!(
        started.elapsed(),
        std::time::Duration::from_secs(2),
        "two round trips of a second, where one entry after the other took eight"
    );
    let (first, then) = waves(&endpoint);
    assert_eq!(
        first,
        [
            "allow egress=false rule 1",
            "allow egress=false rule 2",
            "allow egress=true rule 1",
            "allow egress=true rule 2"
        ]
    );
    assert_eq!(
        then,
        [
            "deny egress=false rule 3",
            "deny egress=false rule 4",
            "deny egress=true rule 3",
            "deny egress=true rule 4"
        ]
    );
    assert_eq!(undo.added, entries_to_add(&default_acl(), &[]));
}

/// An allow AWS refuses stops the cut before any deny: traffic inside the VPC is never denied for want of
/// its allow. The other allows of the wave finish (none is abandoned in flight), and the error names the
/// refused entry and AWS's code.
#[tokio::test(start_paused = true)]
async fn a_refused_allow_sends_no_deny_and_names_the_entry() {
    // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
    let endpoint = SlowEc2::new().refusing_where("NetworkAclEntryLimitExceeded", |form| {
        entry_request(form) == "allow egress=true rule 1"
    });
    let err = NetworkAclDeny
        .apply(&endpoint.ctx(), &cut_for(&default_acl(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("NetworkAclEntryLimitExceeded"));
    assert!(
        err.message
            .contains("egress rule 1 allow all traffic to 10.20.0.0/16 on acl-"),
        "{}",
        err.message
    );
    let (first, then) = waves(&endpoint);
    assert_eq!(
        first.len(),
        4,
        "every allow of the wave was sent: {first:?}"
    );
    assert!(then.is_empty(), "no deny after a refused allow: {then:?}");
}

/// Restore mirrors apply's waves: after reading the ACL, every deny the cut added is deleted at once, and
/// only once they are all gone, every allow, so traffic inside the VPC is never denied while restore runs.
#[tokio::test(start_paused = true)]
async fn restore_deletes_the_denies_together_then_the_allows_together() {
    let added = entries_to_add(&default_acl(), &[]);
    let mut live = default_acl().entries;
    live.extend(added.iter().cloned());
    let endpoint =
        SlowEc2::new().answering("DescribeNetworkAcls", describe_acl_xml("acl-1", &live));
    let undo = UndoRecord {
        network_acl_id: "acl-1".into(),
        added,
    };
    let outcome = NetworkAclDeny.undo(&endpoint.ctx(), &undo).await.unwrap();
    assert_eq!(endpoint.asked_in_as(0, entry_request), ["describe"]);
    assert_eq!(
        endpoint.asked_in_as(1, entry_request),
        [
            "delete egress=false rule 3",
            "delete egress=false rule 4",
            "delete egress=true rule 3",
            "delete egress=true rule 4"
        ]
    );
    assert_eq!(
        endpoint.asked_in_as(2, entry_request),
        [
            "delete egress=false rule 1",
            "delete egress=false rule 2",
            "delete egress=true rule 1",
            "delete egress=true rule 2"
        ]
    );
    assert_eq!(outcome.notes.len(), 8, "{:?}", outcome.notes);
    assert!(outcome.notes[0].starts_with("removed ingress rule 3 deny"));
}

/// `apply --check` dry-runs the first entry apply would add, exactly as apply would send it, and reads
/// EC2's documented answers: `DryRunOperation` (it would be permitted) and `UnauthorizedOperation`.
#[tokio::test]
async fn mocked_check_dry_runs_the_first_entry_and_reads_ec2s_answers() {
    use aws_sdk_ec2::error::ErrorMetadata;
    use aws_sdk_ec2::operation::create_network_acl_entry::CreateNetworkAclEntryError;

    let cut = cut_for(&default_acl(), &[]);
    let first = added_entries(&cut.before, &cut.after)[0].clone();
    for (code, allowed) in [("DryRunOperation", true), ("UnauthorizedOperation", false)] {
        let dry_run = mock!(Client::create_network_acl_entry)
            .match_requests(move |req| {
                req.dry_run() == Some(true)
                    && req.rule_number() == Some(first.rule_number)
                    && req.network_acl_id() == Some("acl-1")
            })
            .then_error(move || {
                CreateNetworkAclEntryError::generic(
                    ErrorMetadata::builder().code(code).message(code).build(),
                )
            });
        let ctx = RegionCtx::with_ec2(
            "us-east-1",
            mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&dry_run]),
        );
        let verdict = NetworkAclDeny.check_permission(&ctx, &cut).await;
        assert_eq!(dry_run.num_calls(), 1);
        assert_eq!(
            matches!(verdict, PermissionCheck::Allowed),
            allowed,
            "{verdict:?}"
        );
        assert_eq!(
            matches!(verdict, PermissionCheck::Denied(_)),
            !allowed,
            "{verdict:?}"
        );
    }
}
