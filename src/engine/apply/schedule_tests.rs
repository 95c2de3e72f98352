//! The order apply and restore start their cuts in: spread over (region, kind) so that workers draw on
//! every region's buckets at once (issue 16), never crossing a phase or a restore rank.

use serde_json::json;

use crate::engine::restore::{self, Certainty, PendingRestore};
use crate::plan::Cut;
use crate::services::Registry;

fn cut(kind: &str, region: &str, target: &str) -> Cut {
    Cut {
        id: Cut::expected_id(kind, region, target),
        kind: kind.into(),
        region: region.into(),
        target: target.into(),
        enabled: true,
        reversible: true,
        reason: "test".into(),
        before: json!({}).into(),
        after: json!({}).into(),
    }
}

fn targets<'a>(cuts: impl IntoIterator<Item = &'a Cut>) -> Vec<&'a str> {
    cuts.into_iter().map(|cut| cut.target.as_str()).collect()
}

#[test]
fn a_phase_starts_its_cuts_one_region_and_kind_in_turn_each_in_plan_order() {
    // Plan order: one region after the other.
    let cuts = [
        cut("sg_revoke", "us-east-1", "sg-e1"),
        cut("sg_revoke", "us-east-1", "sg-e2"),
        cut("sg_revoke", "us-east-1", "sg-e3"),
        cut("vpce_policy_deny", "us-east-1", "vpce-e1"),
        cut("sg_revoke", "eu-west-1", "sg-w1"),
        cut("sg_revoke", "eu-west-1", "sg-w2"),
        cut("sg_revoke", "ap-northeast-1", "sg-a1"),
    ];
    let phase: Vec<&Cut> = cuts.iter().collect();
    assert_eq!(
        targets(super::schedule(&phase)),
        [
            "sg-e1", "vpce-e1", "sg-w1", "sg-a1", "sg-e2", "sg-w2", "sg-e3"
        ]
    );
}

#[test]
fn apply_keeps_its_phases_and_spreads_only_within_one() {
    let registry = Registry::standard();
    let plan_cuts = vec![
        cut("sg_revoke", "us-east-1", "sg-e1"),
        cut("nacl_deny", "us-east-1", "acl-e1"),
        cut("sg_revoke", "us-east-1", "sg-e2"),
        cut("sg_revoke", "eu-west-1", "sg-w1"),
        cut("nacl_deny", "eu-west-1", "acl-w1"),
    ];
    let plan = crate::plan::Plan {
        cuts: plan_cuts,
        ..empty_plan()
    };
    let order = super::apply_order(&plan, &registry);
    let phase_of = |cut: &Cut| registry.get(&cut.kind).unwrap().info().phase;
    // Each phase as execute() starts it.
    let started: Vec<&Cut> = [
        crate::services::Phase::Organization,
        crate::services::Phase::Seal,
        crate::services::Phase::PerResource,
    ]
    .into_iter()
    .flat_map(|phase| {
        let cuts: Vec<&Cut> = order
            .iter()
            .copied()
            .filter(|cut| phase_of(cut) == phase)
            .collect();
        super::schedule(&cuts)
    })
    .collect();
    assert_eq!(
        targets(started),
        ["acl-e1", "acl-w1", "sg-e1", "sg-w1", "sg-e2"]
    );
}

/// A plan with nothing in it but what the test sets.
fn empty_plan() -> crate::plan::Plan {
    crate::plan::Plan {
        version: 1,
        account: "123456789012".into(),
        created: "2026-11-30T00:00:00Z".into(),
        tool_version: "0".into(),
        regions: vec![],
        caller: "arn:aws:iam::123456789012:user/r".into(),
        keep_cidrs: vec![],
        options: Default::default(),
        selection: vec![],
        organization: None,
        role: None,
        discovery_errors: vec![],
        findings: vec![],
        cuts: vec![],
        members: vec![],
    }
}

#[test]
fn restore_spreads_one_kind_over_regions_keeping_its_ranks_and_newest_first_per_region() {
    let registry = Registry::standard();
    let pending_of = |cut: Cut| PendingRestore {
        cut,
        certainty: Certainty::Completed,
        undo: None,
        generation: 1,
    };
    // As restore::pending() sorts them: per-resource kinds first, then the sealing kinds from last to
    // first (a gateway back before the routes through it), newest first within a kind.
    let pending: Vec<PendingRestore> = [
        cut("sg_revoke", "us-east-1", "sg-e3"),
        cut("sg_revoke", "us-east-1", "sg-e2"),
        cut("sg_revoke", "eu-west-1", "sg-w2"),
        cut("sg_revoke", "us-east-1", "sg-e1"),
        cut("sg_revoke", "eu-west-1", "sg-w1"),
        cut("igw_detach", "us-east-1", "igw-e1"),
        cut("igw_detach", "eu-west-1", "igw-w1"),
        cut("route_remove", "us-east-1", "rtb-e1"),
        cut("route_remove", "us-east-1", "rtb-e2"),
        cut("route_remove", "eu-west-1", "rtb-w1"),
    ]
    .into_iter()
    .map(pending_of)
    .collect();
    let mut sorted = pending.clone();
    sorted.sort_by_key(|item| registry.restore_rank(&item.cut.kind));
    assert_eq!(
        targets(sorted.iter().map(|item| &item.cut)),
        targets(pending.iter().map(|item| &item.cut)),
        "the input is in pending()'s order"
    );

    let order = restore::schedule(&pending, &registry);
    assert_eq!(
        targets(order.iter().map(|item| &item.cut)),
        [
            "sg-e3", "sg-w2", "sg-e2", "sg-w1", "sg-e1", // one kind, regions in turn
            "igw-e1", "igw-w1", // every gateway back before any route through it
            "rtb-e1", "rtb-w1", "rtb-e2",
        ]
    );
    // Ranks never go back.
    let ranks: Vec<_> = order
        .iter()
        .map(|item| registry.restore_rank(&item.cut.kind))
        .collect();
    assert!(ranks.is_sorted());
}

/// Each waiting kind waits for its own kinds only: the account's S3 block for the resource policies, the
/// session revocations for the key deactivations and trust denies; the rest wait for nothing.
#[test]
fn waiting_kinds_start_after_the_kinds_they_wait_for_and_free_cuts_last() {
    let registry = Registry::standard();
    let cuts = [
        cut("sg_revoke", "us-east-1", "sg-1"),
        cut("iam_session_revoke", "global", "role/app"),
        cut("s3_public_access_block", "global", "123456789012"),
        cut("resource_policy_deny", "us-east-1", "arn:aws:s3:::public"),
        cut("iam_key_deactivate", "global", "AKIA1"),
        cut("iam_trust_deny", "global", "role/ci"),
    ];
    let phase: Vec<&Cut> = cuts.iter().collect();
    let (order, earlier) = super::start_order(&phase, &registry);
    let turn_of = |target: &str| {
        order
            .iter()
            .find(|(cut, _)| cut.target == target)
            .map(|(_, turn)| *turn)
            .unwrap()
    };
    use super::Turn::{AfterOthers, BeforeOthers, Free};
    for (target, turn) in [
        ("arn:aws:s3:::public", BeforeOthers),
        ("AKIA1", BeforeOthers),
        ("role/ci", BeforeOthers),
        ("role/app", AfterOthers),
        ("123456789012", AfterOthers),
        ("sg-1", Free),
    ] {
        assert_eq!(turn_of(target), turn, "{target}");
    }
    let turns: Vec<super::Turn> = order.iter().map(|(_, turn)| *turn).collect();
    assert!(
        turns.is_sorted(),
        "waited-for first, then waiting, then free: {turns:?}"
    );
    assert_eq!(
        earlier,
        [
            ("resource_policy_deny", 1),
            ("iam_key_deactivate", 1),
            ("iam_trust_deny", 1)
        ]
        .into()
    );
}
