//! `vpc_block_public_access` against AWS's documented answers. The response shapes follow the EC2 API
//! reference pages of DescribeVpcBlockPublicAccessOptions, DescribeVpcBlockPublicAccessExclusions,
//! CreateVpcBlockPublicAccessExclusion and ModifyVpcBlockPublicAccessOptions
//! (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcBlockPublicAccessOptions.html>
//! and its neighbours); the EC2 query protocol answers errors as `<Response><Errors><Error>` with HTTP 400.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::operation::create_vpc_block_public_access_exclusion::CreateVpcBlockPublicAccessExclusionOutput;
use aws_sdk_ec2::operation::delete_vpc_block_public_access_exclusion::DeleteVpcBlockPublicAccessExclusionOutput;
use aws_sdk_ec2::operation::describe_vpc_block_public_access_exclusions::DescribeVpcBlockPublicAccessExclusionsOutput;
use aws_sdk_ec2::operation::describe_vpc_block_public_access_options::DescribeVpcBlockPublicAccessOptionsOutput;
use aws_sdk_ec2::operation::modify_vpc_block_public_access_options::ModifyVpcBlockPublicAccessOptionsOutput;
use aws_sdk_ec2::types::{
    ManagedBy, VpcBlockPublicAccessExclusionState, VpcBlockPublicAccessExclusionsAllowed,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::*;

const ACCOUNT: &str = "123456789012";
const CUT_ID: &str = "vpc_block_public_access/us-east-1/123456789012";
const NO_WAIT: Wait = Wait {
    first: Duration::ZERO,
    longest: Duration::ZERO,
    limit: Duration::from_secs(60),
};

fn xml(status: u16, body: &'static str) -> HttpResponse {
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    response.headers_mut().insert("Content-Type", "text/xml");
    response
}

/// DescribeVpcBlockPublicAccessOptions as documented, for an account whose organization's declarative
/// policy manages the setting and allows no exclusions.
const MANAGED_BY_DECLARATIVE_POLICY: &str = r#"<DescribeVpcBlockPublicAccessOptionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <vpcBlockPublicAccessOptions>
    <awsAccountId>123456789012</awsAccountId>
    <awsRegion>us-east-1</awsRegion>
    <state>default-state</state>
    <internetGatewayBlockMode>off</internetGatewayBlockMode>
    <managedBy>declarative-policy</managedBy>
    <exclusionsAllowed>not-allowed</exclusionsAllowed>
  </vpcBlockPublicAccessOptions>
</DescribeVpcBlockPublicAccessOptionsResponse>"#;

/// EC2's quota error, as the query protocol sends every error. The API reference names no code of its own
/// for the exclusion quota (50 per account and Region); `ResourceLimitExceeded` is EC2's general one.
const EXCLUSION_LIMIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>ResourceLimitExceeded</Code><Message>You have reached the limit of VPC Block Public Access exclusions.</Message></Error></Errors><RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"#;

fn options(
    mode: InternetGatewayBlockMode,
    state: VpcBlockPublicAccessState,
) -> VpcBlockPublicAccessOptions {
    VpcBlockPublicAccessOptions::builder()
        .aws_account_id(ACCOUNT)
        .aws_region("us-east-1")
        .internet_gateway_block_mode(mode)
        .state(state)
        .managed_by(ManagedBy::Account)
        .exclusions_allowed(VpcBlockPublicAccessExclusionsAllowed::Allowed)
        .build()
}

fn described(
    mode: InternetGatewayBlockMode,
    state: VpcBlockPublicAccessState,
) -> DescribeVpcBlockPublicAccessOptionsOutput {
    DescribeVpcBlockPublicAccessOptionsOutput::builder()
        .vpc_block_public_access_options(options(mode, state))
        .build()
}

fn exclusion(
    id: &str,
    resource: &str,
    state: VpcBlockPublicAccessExclusionState,
    tag: Option<&str>,
) -> VpcBlockPublicAccessExclusion {
    let kind = if resource.starts_with("vpc-") {
        "vpc"
    } else {
        "subnet"
    };
    let mut builder = VpcBlockPublicAccessExclusion::builder()
        .exclusion_id(id)
        .internet_gateway_exclusion_mode(InternetGatewayExclusionMode::AllowBidirectional)
        .resource_arn(format!("arn:aws:ec2:us-east-1:{ACCOUNT}:{kind}/{resource}"))
        .state(state);
    if let Some(tag) = tag {
        builder = builder.tags(Tag::builder().key(CUT_TAG).value(tag).build());
    }
    builder.build()
}

fn exclusions(
    list: Vec<VpcBlockPublicAccessExclusion>,
) -> DescribeVpcBlockPublicAccessExclusionsOutput {
    DescribeVpcBlockPublicAccessExclusionsOutput::builder()
        .set_vpc_block_public_access_exclusions(Some(list))
        .build()
}

fn block(mode: &str, exclusions: &[(&str, &str)]) -> RegionBlock {
    RegionBlock {
        account_id: ACCOUNT.into(),
        internet_gateway_block_mode: mode.into(),
        managed_by: "account".into(),
        exclusions_allowed: "allowed".into(),
        exclusions: exclusions
            .iter()
            .map(|(resource, mode)| Exclusion {
                resource: resource.to_string(),
                mode: mode.to_string(),
            })
            .collect(),
    }
}

fn keeping(kept: &[&str]) -> Keeping {
    Keeping {
        kept: kept.iter().map(|s| s.to_string()).collect(),
        ..Keeping::default()
    }
}

fn cut_for(before: &RegionBlock, keep: &Keeping) -> TypedCut<RegionBlock> {
    let proposed = propose("us-east-1", before, keep).unwrap();
    TypedCut {
        id: CUT_ID.into(),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

/// A kept VPC whose existing exclusion only allows egress is still closed to connections from the
/// internet under block-bidirectional: the plan says so instead of calling it kept.
#[test]
fn a_kept_resource_with_an_egress_only_exclusion_is_called_out() {
    let before = block(
        "off",
        &[
            ("vpc-old", "allow-egress"),
            ("vpc-open", "allow-bidirectional"),
        ],
    );
    let proposed = propose("us-east-1", &before, &keeping(&["vpc-old", "vpc-open"])).unwrap();
    assert!(
        proposed
            .reason
            .contains("Careful: the existing exclusion of vpc-old is not allow-bidirectional"),
        "{}",
        proposed.reason
    );
    let proposed = propose("us-east-1", &before, &keeping(&["vpc-open"])).unwrap();
    assert!(!proposed.reason.contains("Careful"), "{}", proposed.reason);
}

/// A --keep-subnet/--keep-vpc id that is not in the region is named, so a typo is not dropped silently.
#[test]
fn kept_ids_not_in_the_region_are_named() {
    let keep = Keeping {
        kept: vec!["subnet-1".into()],
        not_here: vec!["subnet-typo".into(), "vpc-elsewhere".into()],
        ..Keeping::default()
    };
    let proposed = propose("us-east-1", &block("off", &[]), &keep).unwrap();
    assert!(
        proposed
            .reason
            .contains("Not in us-east-1 (kept only in the region that holds them; check the ids if they are in no region of this plan): subnet-typo, vpc-elsewhere."),
        "{}",
        proposed.reason
    );
    let proposed = propose("us-east-1", &block("off", &[]), &keeping(&["subnet-1"])).unwrap();
    assert!(!proposed.reason.contains("Not in"), "{}", proposed.reason);
}

#[test]
fn an_open_region_is_proposed_block_bidirectional_with_exclusions_for_what_is_kept() {
    let before = block("off", &[("vpc-old", "allow-egress")]);
    let proposed = propose("us-east-1", &before, &keeping(&["subnet-1", "vpc-old"])).unwrap();
    assert_eq!(proposed.disabled_because, None);
    assert_eq!(
        proposed.after.internet_gateway_block_mode,
        "block-bidirectional"
    );
    assert_eq!(
        proposed.after.exclusions,
        block(
            "",
            &[
                ("subnet-1", "allow-bidirectional"),
                ("vpc-old", "allow-egress")
            ]
        )
        .exclusions
    );
    for said in [
        "new allow-bidirectional exclusions (created first, deleted by restore): subnet-1",
        "Already excluded, left as is: vpc-old (allow-egress)",
        "peering, transit gateways, Site-to-Site VPN or Direct Connect",
        "Restore puts back `off`",
    ] {
        assert!(
            proposed.reason.contains(said),
            "{said}: {}",
            proposed.reason
        );
    }
    let cut = cut_for(&before, &keeping(&["subnet-1", "vpc-old"]));
    assert_eq!(VpcBlockPublicAccess.check_states(&cut), Ok(()));
    let undo = VpcBlockPublicAccess.undo_record_for(&cut).unwrap();
    assert_eq!(undo.prior_mode, "off");
    assert_eq!(undo.excluded, ["subnet-1"]);
    assert_eq!(undo.cut_id, CUT_ID);
    assert!(
        propose(
            "us-east-1",
            &block("block-bidirectional", &[]),
            &Keeping::default()
        )
        .is_none()
    );
}

#[test]
fn a_plan_that_deletes_an_exclusion_or_sets_another_mode_is_refused() {
    let mut cut = cut_for(
        &block("off", &[("vpc-old", "allow-egress")]),
        &Keeping::default(),
    );
    cut.after.exclusions.clear();
    assert!(
        VpcBlockPublicAccess
            .check_states(&cut)
            .unwrap_err()
            .contains("vpc-old is missing")
    );
    let mut cut = cut_for(&block("off", &[]), &Keeping::default());
    cut.after.internet_gateway_block_mode = "block-ingress".into();
    assert!(VpcBlockPublicAccess.check_states(&cut).is_err());
}

#[test]
fn keep_cidr_subnets_without_an_exclusion_are_named_as_needing_one() {
    let subnet = |subnet_id: &str, vpc_id: &str| SubnetForKeptRange {
        subnet_id: subnet_id.into(),
        vpc_id: vpc_id.into(),
    };
    let mut keep = Keeping {
        kept: vec![],
        not_here: vec![],
        keep_cidrs: vec!["203.0.113.0/24".into()],
        subnets_for_kept_ranges: vec![subnet("subnet-a", "vpc-1"), subnet("subnet-b", "vpc-2")],
        failed_exclusions: vec![],
    };
    let reason = propose("us-east-1", &block("off", &[]), &keep)
        .unwrap()
        .reason;
    assert!(
        reason.contains("The block cuts the responder's path through the subnets that route a --keep-cidr range (203.0.113.0/24) to an internet gateway, as an exclusion names a VPC or a subnet, never an address range"),
        "{reason}"
    );
    assert!(
        reason.contains("make a new plan with --keep-subnet"),
        "{reason}"
    );
    assert!(
        reason.contains("subnet-a (in vpc-1), subnet-b (in vpc-2)"),
        "{reason}"
    );
    // Kept by subnet or by VPC: nothing is left uncovered.
    keep.kept = vec!["subnet-a".into(), "vpc-2".into()];
    let reason = propose("us-east-1", &block("off", &[]), &keep)
        .unwrap()
        .reason;
    assert!(!reason.contains("cuts the responder's path"), "{reason}");
}

/// A failed exclusion keeps nothing open: a subnet that routes a kept range and has only a
/// `create-failed` exclusion is named as needing one, not counted as covered.
#[test]
fn a_failed_exclusion_does_not_cover_a_keep_cidr_subnet() {
    use VpcBlockPublicAccessExclusionState::{CreateComplete, CreateFailed};
    let described = [
        exclusion("ex-failed", "subnet-a", CreateFailed, None),
        exclusion("ex-ok", "subnet-b", CreateComplete, None),
    ];
    let before = region_block(
        ACCOUNT,
        &options(
            InternetGatewayBlockMode::Off,
            VpcBlockPublicAccessState::DefaultState,
        ),
        &described,
    );
    assert_eq!(before, block("off", &[("subnet-b", "allow-bidirectional")]));
    let keep = Keeping {
        keep_cidrs: vec!["203.0.113.0/24".into()],
        subnets_for_kept_ranges: vec![
            SubnetForKeptRange {
                subnet_id: "subnet-a".into(),
                vpc_id: "vpc-1".into(),
            },
            SubnetForKeptRange {
                subnet_id: "subnet-b".into(),
                vpc_id: "vpc-1".into(),
            },
        ],
        failed_exclusions: failed_exclusions(&described),
        ..Keeping::default()
    };
    let reason = propose("us-east-1", &before, &keep).unwrap().reason;
    assert!(
        reason.contains("never an address range: subnet-a (in vpc-1); if"),
        "{reason}"
    );
    assert!(
        reason.contains("Exclusions failed or disabled keep nothing open and are counted as absent: ex-failed (subnet-a, create-failed)."),
        "{reason}"
    );
}

/// An organization's declarative policy that disallows exclusions disables the account's exclusions
/// (`disable-in-progress`, `disable-complete`): they stay listed but exempt nothing. A subnet kept only by
/// one is not open, so the block would cut the responder's path: the cut is proposed disabled, naming it,
/// where before it counted the disabled exclusion as keeping the subnet open and blocked it.
#[test]
fn a_disabled_exclusion_keeps_nothing_open_and_where_exclusions_are_not_allowed_the_cut_says_so() {
    use VpcBlockPublicAccessExclusionState::{CreateComplete, DisableComplete, DisableInProgress};
    let described = [
        exclusion("ex-off", "subnet-a", DisableComplete, None),
        exclusion("ex-going", "subnet-c", DisableInProgress, None),
        exclusion("ex-ok", "subnet-b", CreateComplete, None),
    ];
    let options = VpcBlockPublicAccessOptions::builder()
        .aws_account_id(ACCOUNT)
        .aws_region("us-east-1")
        .internet_gateway_block_mode(InternetGatewayBlockMode::Off)
        .state(VpcBlockPublicAccessState::DefaultState)
        .managed_by(ManagedBy::Account)
        .exclusions_allowed(VpcBlockPublicAccessExclusionsAllowed::NotAllowed)
        .build();
    let before = region_block(ACCOUNT, &options, &described);
    let mut expected = block("off", &[("subnet-b", "allow-bidirectional")]);
    expected.exclusions_allowed = "not-allowed".into();
    assert_eq!(
        before, expected,
        "disabled exclusions are not in the region's state"
    );
    // The responder's bastion subnet, kept with --keep-subnet, had only the exclusion now disabled.
    let keep = Keeping {
        failed_exclusions: failed_exclusions(&described),
        ..keeping(&["subnet-a"])
    };
    let proposed = propose("us-east-1", &before, &keep).unwrap();
    assert!(
        proposed.reason.contains("Exclusions failed or disabled keep nothing open and are counted as absent: ex-off (subnet-a, disable-complete), ex-going (subnet-c, disable-in-progress)."),
        "{}",
        proposed.reason
    );
    let because = proposed
        .disabled_because
        .expect("the cut is proposed disabled");
    assert!(
        because.contains("exclusions are `not-allowed` in us-east-1")
            && because.contains("subnet-a"),
        "{because}"
    );
}

/// A kept subnet whose only exclusion failed (`create-failed`, or `update-failed`) gets a new one, which
/// restore deletes; the plan names the failed one and what to do should AWS refuse a second.
#[tokio::test]
async fn mocked_a_kept_subnet_with_a_failed_exclusion_gets_a_new_one() {
    use VpcBlockPublicAccessExclusionState::{CreateFailed, UpdateFailed};
    let describe = mock!(Client::describe_vpc_block_public_access_options).then_output(|| {
        described(
            InternetGatewayBlockMode::Off,
            VpcBlockPublicAccessState::DefaultState,
        )
    });
    let list = mock!(Client::describe_vpc_block_public_access_exclusions).then_output(|| {
        let mut failed = exclusion("ex-failed", "subnet-1", CreateFailed, None);
        failed.reason = Some("Internal error".into());
        exclusions(vec![
            failed,
            exclusion("ex-stuck", "vpc-2", UpdateFailed, None),
        ])
    });
    let subnets = mock!(Client::describe_subnets).then_output(|| {
        aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput::builder()
            .subnets(
                aws_sdk_ec2::types::Subnet::builder()
                    .subnet_id("subnet-1")
                    .vpc_id("vpc-1")
                    .build(),
            )
            .build()
    });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&describe, &list, &subnets]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let mut scope = DiscoveryScope::for_tests();
    scope
        .options
        .insert(KEEP_SUBNET.flag.into(), "subnet-1".into());
    let proposed = VpcBlockPublicAccess
        .discover(&ctx, &scope)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(proposed.disabled_because, None);
    assert!(proposed.before.exclusions.is_empty());
    assert_eq!(
        proposed.after.exclusions,
        block("", &[("subnet-1", "allow-bidirectional")]).exclusions
    );
    for said in [
        "new allow-bidirectional exclusions (created first, deleted by restore): subnet-1",
        "counted as absent: ex-failed (subnet-1, create-failed: Internal error), ex-stuck (vpc-2, update-failed).",
        "Apply creates a new exclusion for subnet-1; should AWS refuse a second exclusion for the same resource, apply stops there before anything is blocked",
        "--exclusion-id ID`, for ex-failed)",
    ] {
        assert!(
            proposed.reason.contains(said),
            "{said}: {}",
            proposed.reason
        );
    }
    assert!(
        !proposed.reason.contains("Already excluded"),
        "{}",
        proposed.reason
    );
    let cut = TypedCut {
        id: CUT_ID.into(),
        region: "us-east-1".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    };
    assert_eq!(VpcBlockPublicAccess.check_states(&cut), Ok(()));
    assert_eq!(
        VpcBlockPublicAccess.undo_record_for(&cut).unwrap().excluded,
        ["subnet-1"]
    );
}

#[test]
fn keep_flags_take_only_subnet_and_vpc_ids() {
    assert_eq!(
        check_subnet_ids("subnet-0a1b2c3d4e5f67890,subnet-1"),
        Ok(())
    );
    assert!(
        check_subnet_ids("sg-1")
            .unwrap_err()
            .contains("--keep-subnet `sg-1`")
    );
    assert!(check_subnet_ids("subnet-1,").is_err());
    assert_eq!(check_vpc_ids("vpc-0a1b2c3d4e5f67890"), Ok(()));
    assert!(check_vpc_ids("subnet-1").is_err());
    let mut scope = DiscoveryScope::for_tests();
    scope
        .options
        .insert("keep-subnet".into(), "subnet-1,subnet-2".into());
    assert_eq!(scope.option_values("keep-subnet"), ["subnet-1", "subnet-2"]);
    assert!(scope.option_values("keep-vpc").is_empty());
}

#[tokio::test]
async fn mocked_declarative_policy_management_proposes_the_cut_disabled_naming_it() {
    let describe = mock!(Client::describe_vpc_block_public_access_options)
        .then_http_response(|| xml(200, MANAGED_BY_DECLARATIVE_POLICY));
    let list = mock!(Client::describe_vpc_block_public_access_exclusions)
        .then_output(|| exclusions(vec![]));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &list]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let proposed = VpcBlockPublicAccess
        .discover(&ctx, &DiscoveryScope::for_tests())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(proposed.before.managed_by, "declarative-policy");
    assert_eq!(proposed.before.exclusions_allowed, "not-allowed");
    let why = proposed.disabled_because.unwrap();
    assert!(why.contains("managed by `declarative-policy`"), "{why}");
}

/// The whole cut: the exclusion is created (tagged) and waited for, then the mode is set; then the wait
/// until AWS reports it in force.
#[tokio::test]
async fn mocked_apply_creates_the_exclusion_first_then_blocks_and_waits_for_update_complete() {
    use InternetGatewayBlockMode::{BlockBidirectional, Off};
    use VpcBlockPublicAccessExclusionState::{CreateComplete, CreateInProgress};
    use VpcBlockPublicAccessState::{DefaultState, UpdateComplete, UpdateInProgress};
    let list = mock!(Client::describe_vpc_block_public_access_exclusions)
        .sequence()
        .output(|| exclusions(vec![]))
        .output(|| {
            exclusions(vec![exclusion(
                "ex-1",
                "subnet-1",
                CreateInProgress,
                Some(CUT_ID),
            )])
        })
        .output(|| {
            exclusions(vec![exclusion(
                "ex-1",
                "subnet-1",
                CreateComplete,
                Some(CUT_ID),
            )])
        })
        .build();
    let create = mock!(Client::create_vpc_block_public_access_exclusion)
        .match_requests(|r| {
            r.subnet_id() == Some("subnet-1")
                && r.dry_run() == Some(false)
                && r.internet_gateway_exclusion_mode()
                    == Some(&InternetGatewayExclusionMode::AllowBidirectional)
                && r.tag_specifications()[0].tags()[0].value() == Some(CUT_ID)
        })
        .then_output(|| {
            CreateVpcBlockPublicAccessExclusionOutput::builder()
                .vpc_block_public_access_exclusion(exclusion(
                    "ex-1",
                    "subnet-1",
                    CreateInProgress,
                    Some(CUT_ID),
                ))
                .build()
        });
    let describe = mock!(Client::describe_vpc_block_public_access_options)
        .sequence()
        .output(|| described(Off, DefaultState))
        .output(|| described(BlockBidirectional, UpdateInProgress))
        .output(|| described(BlockBidirectional, UpdateComplete))
        .build();
    let modify = mock!(Client::modify_vpc_block_public_access_options)
        .match_requests(|r| r.internet_gateway_block_mode() == Some(&BlockBidirectional))
        .then_output(|| {
            ModifyVpcBlockPublicAccessOptionsOutput::builder()
                .vpc_block_public_access_options(options(BlockBidirectional, UpdateInProgress))
                .build()
        });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&list, &create, &describe, &modify]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let cut = cut_for(&block("off", &[]), &keeping(&["subnet-1"]));
    let undo = VpcBlockPublicAccess
        .apply_with(&ctx, &cut, &NO_WAIT)
        .await
        .unwrap();
    assert_eq!((create.num_calls(), modify.num_calls()), (1, 1));
    assert_eq!(
        describe.num_calls(),
        1,
        "apply reads the options once (no change in progress) before the switch, and returns once it is answered"
    );
    VpcBlockPublicAccess
        .take_effect_with(&ctx, &NO_WAIT)
        .await
        .unwrap();
    assert_eq!(describe.num_calls(), 3, "polled until update-complete");
    assert_eq!(list.num_calls(), 3, "polled until the exclusion completed");
    assert_eq!(undo, VpcBlockPublicAccess.undo_record_for(&cut).unwrap());
}

#[tokio::test]
async fn mocked_exclusion_limit_fails_the_cut_before_anything_is_blocked_and_says_why() {
    let list = mock!(Client::describe_vpc_block_public_access_exclusions)
        .then_output(|| exclusions(vec![]));
    let create = mock!(Client::create_vpc_block_public_access_exclusion)
        .then_http_response(|| xml(400, EXCLUSION_LIMIT));
    let modify = mock!(Client::modify_vpc_block_public_access_options)
        .then_output(|| ModifyVpcBlockPublicAccessOptionsOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&list, &create, &modify]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let cut = cut_for(&block("off", &[]), &keeping(&["subnet-1"]));
    let err = VpcBlockPublicAccess
        .apply_with(&ctx, &cut, &NO_WAIT)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("ResourceLimitExceeded"));
    assert!(
        err.message
            .contains("quota of VPC Block Public Access exclusions"),
        "{err}"
    );
    assert!(err.message.contains("nothing was blocked"), "{err}");
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test]
async fn mocked_the_wait_for_the_block_gives_up_after_its_bound_naming_the_state_it_saw() {
    use InternetGatewayBlockMode::BlockBidirectional;
    let list = mock!(Client::describe_vpc_block_public_access_exclusions)
        .then_output(|| exclusions(vec![]));
    let describe = mock!(Client::describe_vpc_block_public_access_options)
        .sequence()
        .output(|| {
            described(
                InternetGatewayBlockMode::Off,
                VpcBlockPublicAccessState::DefaultState,
            )
        })
        .output(|| {
            described(
                BlockBidirectional,
                VpcBlockPublicAccessState::UpdateInProgress,
            )
        })
        .repeatedly()
        .build();
    let modify = mock!(Client::modify_vpc_block_public_access_options)
        .then_output(|| ModifyVpcBlockPublicAccessOptionsOutput::builder().build());
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&list, &describe, &modify]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let cut = cut_for(&block("off", &[]), &Keeping::default());
    let wait = Wait {
        limit: Duration::ZERO,
        ..NO_WAIT
    };
    VpcBlockPublicAccess
        .apply_with(&ctx, &cut, &wait)
        .await
        .unwrap();
    let err = VpcBlockPublicAccess
        .take_effect_with(&ctx, &wait)
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("mode `block-bidirectional` in state `update-in-progress`"),
        "{err}"
    );
}

#[tokio::test]
async fn mocked_restore_puts_the_prior_mode_back_and_deletes_only_the_exclusions_the_cut_made() {
    use VpcBlockPublicAccessExclusionState::CreateComplete;
    let describe = mock!(Client::describe_vpc_block_public_access_options).then_output(|| {
        described(
            InternetGatewayBlockMode::BlockBidirectional,
            VpcBlockPublicAccessState::UpdateComplete,
        )
    });
    let modify = mock!(Client::modify_vpc_block_public_access_options)
        .match_requests(|r| {
            r.internet_gateway_block_mode() == Some(&InternetGatewayBlockMode::BlockIngress)
        })
        .then_output(|| ModifyVpcBlockPublicAccessOptionsOutput::builder().build());
    let list = mock!(Client::describe_vpc_block_public_access_exclusions).then_output(|| {
        exclusions(vec![
            exclusion("ex-old", "vpc-old", CreateComplete, None),
            exclusion("ex-other", "subnet-2", CreateComplete, Some("another-cut")),
            exclusion("ex-ours", "subnet-1", CreateComplete, Some(CUT_ID)),
            // Someone else's exclusion with our tag put on it: not one the cut made.
            exclusion("ex-tagged", "vpc-old", CreateComplete, Some(CUT_ID)),
        ])
    });
    let delete = mock!(Client::delete_vpc_block_public_access_exclusion)
        .match_requests(|r| r.exclusion_id() == Some("ex-ours"))
        .then_output(|| DeleteVpcBlockPublicAccessExclusionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        [&describe, &modify, &list, &delete]
    );
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let cut = cut_for(
        &block("block-ingress", &[("vpc-old", "allow-bidirectional")]),
        &keeping(&["subnet-1"]),
    );
    let undo = VpcBlockPublicAccess.undo_record_for(&cut).unwrap();
    let outcome = VpcBlockPublicAccess
        .undo_with(&ctx, &undo, &NO_WAIT)
        .await
        .unwrap();
    assert_eq!((modify.num_calls(), delete.num_calls()), (1, 1));
    assert_eq!(
        outcome.notes,
        [
            "VPC Block Public Access in us-east-1 set back to `block-ingress`",
            "exclusion ex-ours (subnet-1) deleted"
        ]
    );
}

#[tokio::test]
async fn mocked_restore_leaves_a_mode_changed_after_the_cut_and_reports_the_conflict() {
    let describe = mock!(Client::describe_vpc_block_public_access_options).then_output(|| {
        described(
            InternetGatewayBlockMode::BlockIngress,
            VpcBlockPublicAccessState::UpdateComplete,
        )
    });
    let modify = mock!(Client::modify_vpc_block_public_access_options)
        .then_output(|| ModifyVpcBlockPublicAccessOptionsOutput::builder().build());
    let list = mock!(Client::describe_vpc_block_public_access_exclusions)
        .then_output(|| exclusions(vec![]));
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&describe, &modify, &list]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let undo = VpcBlockPublicAccess
        .undo_record_for(&cut_for(&block("off", &[]), &Keeping::default()))
        .unwrap();
    let outcome = VpcBlockPublicAccess
        .undo_with(&ctx, &undo, &NO_WAIT)
        .await
        .unwrap();
    assert_eq!(modify.num_calls(), 0);
    assert_eq!(
        list.num_calls(),
        0,
        "a cut that made no exclusion has none to look for"
    );
    assert!(
        outcome.notes[0].starts_with("conflict:"),
        "{:?}",
        outcome.notes
    );
    assert!(outcome.notes[0].contains("`block-ingress`"));
}

#[tokio::test]
async fn mocked_permission_check_dry_runs_the_exclusion_and_the_block() {
    let dry_run_ok = crate::services::kind::dry_run_would_succeed;
    let create = mock!(Client::create_vpc_block_public_access_exclusion)
        .match_requests(|r| r.dry_run() == Some(true) && r.subnet_id() == Some("subnet-1"))
        .then_error(move || {
            aws_sdk_ec2::operation::create_vpc_block_public_access_exclusion::CreateVpcBlockPublicAccessExclusionError::generic(dry_run_ok())
        });
    let modify = mock!(Client::modify_vpc_block_public_access_options)
        .match_requests(|r| r.dry_run() == Some(true))
        .then_error(move || {
            aws_sdk_ec2::operation::modify_vpc_block_public_access_options::ModifyVpcBlockPublicAccessOptionsError::generic(dry_run_ok())
        });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, [&create, &modify]);
    let ctx = RegionCtx::with_ec2("us-east-1", client);
    let cut = cut_for(&block("off", &[]), &keeping(&["subnet-1"]));
    assert_eq!(
        VpcBlockPublicAccess.check_permission(&ctx, &cut).await,
        PermissionCheck::Allowed
    );
    assert_eq!((create.num_calls(), modify.num_calls()), (1, 1));
}
