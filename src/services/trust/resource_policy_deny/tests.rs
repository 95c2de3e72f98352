//! The deny statement and the proposal on plain documents; each service's documented answers with
//! `aws-smithy-mocks` (the emulator round trips are in `tests/it/resource_policies.rs`).

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::{Value, json};

use super::*;
use crate::services::common::policy_principals::{Home, Organization};

const US: &str = "123456789012";
const THEM: &str = "210987654321";
const BUCKET_ARN: &str = "arn:aws:s3:::reports";

fn home() -> Home {
    Home {
        account_id: US.into(),
        organization: Organization::None,
    }
}

fn bucket_with(policy: Value) -> Found {
    Found {
        service: Service::S3,
        resource: "reports".into(),
        arn: BUCKET_ARN.into(),
        policy: Some(policy.to_string()),
    }
}

fn grant_to(principal: Value) -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Partner", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::reports/*"}
    ]})
}

fn cut_of(proposal: Proposal<PolicyState>) -> TypedCut<PolicyState> {
    TypedCut {
        id: format!("resource_policy_deny/us-east-1/{}", proposal.target),
        region: "us-east-1".into(),
        target: proposal.target,
        before: proposal.before,
        after: proposal.after,
    }
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_grant_to_another_account_gets_one_deny_statement_appended_and_everything_else_kept() {
    let prior = grant_to(json!({"AWS": format!("arn:aws:iam::{THEM}:root")}));
    let proposal = propose(&bucket_with(prior.clone()), &home()).expect("a cut");
    assert_eq!(proposal.target, BUCKET_ARN);
    assert_eq!(proposal.disabled_because, None);
    assert!(
        proposal.reason.contains("account 210987654321"),
        "{}",
        proposal.reason
    );
    let after = parsed(proposal.after.policy.as_deref().unwrap());
    let statements = after["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[0], prior["Statement"][0],
        "the grant is kept, first"
    );
    assert_eq!(
        statements[1],
        json!({
            "Sid": "HikkonukiOutsideDeny",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"],
            "Condition": {
                "StringNotEqualsIfExists": {"aws:PrincipalAccount": US},
                "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}
            }
        })
    );
    // `before` is the document exactly as read.
    assert_eq!(proposal.before.policy, Some(prior.to_string()));
}

#[test]
fn a_single_statement_object_becomes_a_list_with_the_deny_after_it() {
    let prior = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:q"}}"#;
    let after = with_deny(
        Some(prior),
        Service::Sqs,
        "arn:aws:sqs:us-east-1:123456789012:q",
        US,
    )
    .unwrap();
    let after = parsed(&after);
    assert_eq!(after["Statement"][0], parsed(prior)["Statement"]);
    assert_eq!(after["Statement"][1]["Sid"], "HikkonukiOutsideDeny");
    assert_eq!(after["Statement"][1]["Action"], "sqs:*");
    // Key order of the prior document is kept (Version first).
    assert!(
        serde_json::to_string(&after)
            .unwrap()
            .starts_with(r#"{"Version""#)
    );
}

#[test]
fn a_policy_granting_only_this_account_gets_no_cut() {
    for principal in [
        json!({"AWS": format!("arn:aws:iam::{US}:role/reader")}),
        json!({"AWS": US}),
        json!({"Service": "cloudtrail.amazonaws.com"}),
    ] {
        assert_eq!(
            propose(&bucket_with(grant_to(principal.clone())), &home()),
            None,
            "{principal}"
        );
    }
    // `*` narrowed to this account by a condition is inside too.
    let narrowed = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sns:Publish",
        "Resource": "*", "Condition": {"StringEquals": {"AWS:SourceOwner": US}}}]});
    assert_eq!(propose(&bucket_with(narrowed), &home()), None);
}

#[test]
fn a_policy_already_holding_the_deny_is_not_proposed_again() {
    let once = with_deny(
        Some(&grant_to(json!("*")).to_string()),
        Service::S3,
        BUCKET_ARN,
        US,
    )
    .unwrap();
    let found = Found {
        policy: Some(once),
        ..bucket_with(json!({}))
    };
    assert_eq!(propose(&found, &home()), None);
}

#[test]
fn a_statement_that_only_carries_the_deny_sid_is_not_taken_for_the_cut() {
    // An open grant beside a decoy under our Sid: an Allow, or a Deny of something else.
    for decoy in [
        json!({"Sid": DENY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:PutBucketTagging",
               "Resource": BUCKET_ARN}),
        json!({"Sid": DENY_SID, "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{US}:root")},
               "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}),
    ] {
        let mut policy = grant_to(json!({"AWS": format!("arn:aws:iam::{THEM}:root")}));
        policy["Statement"].as_array_mut().unwrap().push(decoy);
        let proposal = propose(&bucket_with(policy), &home()).expect("proposed, not passed over");
        let why = proposal.disabled_because.expect("switched off, saying why");
        assert!(why.contains("not hikkonuki's deny"), "{why}");
    }
}

#[test]
fn anyone_and_not_principal_are_outsiders() {
    assert!(propose(&bucket_with(grant_to(json!("*"))), &home()).is_some());
    let not_principal = json!({"Statement": [{"Effect": "Allow",
        "NotPrincipal": {"AWS": format!("arn:aws:iam::{US}:root")}, "Action": "s3:GetObject", "Resource": "*"}]});
    assert!(propose(&bucket_with(not_principal), &home()).is_some());
}

#[test]
fn the_deny_names_each_services_actions_and_resource_as_its_policies_take_them() {
    let sns = deny_statement(Service::Sns, "arn:aws:sns:us-east-1:123456789012:t", US);
    assert_eq!(sns["Resource"], "arn:aws:sns:us-east-1:123456789012:t");
    assert!(
        sns["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("sns:Publish"))
    );
    assert_eq!(deny_statement(Service::Kms, "arn:k", US)["Resource"], "*");
    assert_eq!(
        deny_statement(Service::SecretsManager, "arn:s", US)["Action"],
        "secretsmanager:*"
    );
    // ECR repository policies have no Resource element.
    assert!(
        deny_statement(Service::Ecr, "arn:r", US)
            .get("Resource")
            .is_none()
    );
}

#[test]
fn a_policy_without_room_for_the_deny_is_proposed_disabled_with_the_documented_limit() {
    // SQS: 8,192 bytes and 20 statements (quotas-policies.html).
    let many: Vec<Value> = (0..20)
        .map(|i| {
            json!({"Sid": format!("S{i}"), "Effect": "Allow", "Principal": {"AWS": THEM},
            "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"})
        })
        .collect();
    let found = Found {
        service: Service::Sqs,
        resource: "q".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        policy: Some(json!({"Version": "2012-10-17", "Statement": many}).to_string()),
    };
    let proposal = propose(&found, &home()).unwrap();
    let why = proposal.disabled_because.expect("no room");
    assert!(why.contains("21 statements") && why.contains("20"), "{why}");

    let padding = "x".repeat(8_200);
    let big = json!({"Version": "2012-10-17", "Id": padding, "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}]});
    let proposal = propose(
        &Found {
            policy: Some(big.to_string()),
            ..found
        },
        &home(),
    )
    .unwrap();
    assert!(proposal.disabled_because.unwrap().contains("8192 bytes"));

    // ECR: 10,240 characters (API_SetRepositoryPolicy.html); KMS 32 KB.
    assert!(Service::Ecr.room(&"x".repeat(10_241)).is_some());
    assert!(Service::Kms.room(&"x".repeat(20_000)).is_none());
}

/// SQS also caps a policy at 10 conditions and 50 principals (quotas-policies.html); the deny adds two
/// conditions and one principal (`*`), so a queue policy already near either cap is proposed disabled.
#[test]
fn an_sqs_policy_without_room_for_the_denys_conditions_or_principal_is_proposed_disabled() {
    let queue = |statements: Vec<Value>| Found {
        service: Service::Sqs,
        resource: "q".into(),
        arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        policy: Some(json!({"Version": "2012-10-17", "Statement": statements}).to_string()),
    };
    // Nine conditions: one key under each of three operators in three statements; a key's several
    // values count once.
    let conditioned: Vec<Value> = (0..3)
        .map(|i| {
            json!({"Sid": format!("S{i}"), "Effect": "Allow", "Principal": {"AWS": THEM},
            "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
            "Condition": {
                "ArnLike": {"aws:SourceArn": ["arn:aws:sns:us-east-1:210987654321:a", "arn:aws:sns:us-east-1:210987654321:b"]},
                "StringEquals": {"aws:SourceAccount": THEM},
                "Bool": {"aws:SecureTransport": "true"}
            }})
        })
        .collect();
    let proposal = propose(&queue(conditioned.clone()), &home()).unwrap();
    let why = proposal.disabled_because.expect("no room");
    assert!(
        why.contains("would have 11 conditions, over the 10 a SQS queue policy may hold")
            && why.contains("quotas-policies.html"),
        "{why}"
    );
    let proposal = propose(&queue(conditioned[..2].to_vec()), &home()).unwrap();
    assert_eq!(
        proposal.disabled_because, None,
        "six conditions and the deny's two fit"
    );

    // Fifty principals: the deny's `*` makes 51.
    let principals = |n: usize| -> Vec<Value> {
        vec![json!({"Sid": "Partners", "Effect": "Allow",
            "Principal": {"AWS": (0..n).map(|i| format!("arn:aws:iam::{:012}:root", 200_000_000_000u64 + i as u64)).collect::<Vec<_>>()},
            "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q"})]
    };
    let proposal = propose(&queue(principals(50)), &home()).unwrap();
    let why = proposal.disabled_because.expect("no room");
    assert!(
        why.contains("would have 51 principals, over the 50"),
        "{why}"
    );
    let proposal = propose(&queue(principals(49)), &home()).unwrap();
    assert_eq!(proposal.disabled_because, None);
}

#[test]
fn a_plan_whose_after_is_not_the_derived_deny_is_refused() {
    let proposal = propose(&bucket_with(grant_to(json!({"AWS": THEM}))), &home()).unwrap();
    let cut = cut_of(proposal);
    assert_eq!(ResourcePolicyDeny.check_states(&cut), Ok(()));

    // An `after` that also drops the grant, or denies inside the account, is not this cut.
    let mut edited = cut.clone();
    edited.after.policy = Some(
        json!({"Version": "2012-10-17", "Statement": [deny_statement(Service::S3, BUCKET_ARN, US)]})
            .to_string(),
    );
    assert!(ResourcePolicyDeny.check_states(&edited).is_err());
    let mut other_account = cut.clone();
    other_account.after.account_id = THEM.into();
    assert!(ResourcePolicyDeny.check_states(&other_account).is_err());
}

#[test]
fn what_cannot_be_classified_or_read_is_a_high_finding_naming_the_resource() {
    let canonical = grant_to(json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}));
    let readings = Readings {
        home: home(),
        found: vec![bucket_with(canonical)],
        unread: vec![Unread {
            service: Service::Kms,
            resource: Some("arn:aws:kms:us-east-1:123456789012:key/k1".into()),
            error: "AccessDeniedException".into(),
        }],
    };
    let found = findings("us-east-1", &readings);
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| f.severity == Severity::High));
    assert_eq!(found[0].resource, BUCKET_ARN);
    assert!(
        found[0].message.contains("canonical user"),
        "{}",
        found[0].message
    );
    assert!(found[1].message.contains("AccessDeniedException"));
}

/// A bucket any account's CloudFront distribution can read (an Origin Access Control statement without
/// aws:SourceArn) is a High finding: no cut closes it, since the deny never binds AWS services.
#[test]
fn a_bucket_any_accounts_distribution_can_read_is_a_high_finding() {
    let oac = grant_to(json!({"Service": "cloudfront.amazonaws.com"}));
    let readings = Readings {
        home: home(),
        found: vec![bucket_with(oac)],
        unread: vec![],
    };
    let found = findings("us-east-1", &readings);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].severity, Severity::High);
    assert_eq!(found[0].resource, BUCKET_ARN);
    assert!(
        found[0]
            .message
            .contains("cloudfront.amazonaws.com (s3:GetObject), with no condition naming the resource or account")
            && found[0].message.contains("the confused deputy"),
        "{}",
        found[0].message
    );
}

// -------------------------------------------------------------------------------------------------
// Mocked AWS answers
// -------------------------------------------------------------------------------------------------

mod s3_answers {
    use aws_sdk_s3::Client;
    use aws_sdk_s3::operation::get_bucket_location::GetBucketLocationOutput;
    use aws_sdk_s3::operation::get_bucket_policy::{GetBucketPolicyError, GetBucketPolicyOutput};
    use aws_sdk_s3::operation::list_buckets::ListBucketsOutput;
    use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyError;
    use aws_sdk_s3::types::{Bucket, BucketLocationConstraint};

    use super::*;

    fn s3_error(code: &str) -> aws_sdk_s3::error::ErrorMetadata {
        aws_sdk_s3::error::ErrorMetadata::builder()
            .code(code)
            .message(code)
            .build()
    }

    #[tokio::test]
    async fn mocked_buckets_are_read_in_their_own_region_only_and_eu_means_eu_west_1() {
        let list = mock!(Client::list_buckets).then_output(|| {
            ListBucketsOutput::builder()
                .buckets(
                    Bucket::builder()
                        .name("here")
                        .bucket_region("eu-west-1")
                        .build(),
                )
                .buckets(
                    Bucket::builder()
                        .name("elsewhere")
                        .bucket_region("us-west-2")
                        .build(),
                )
                .buckets(Bucket::builder().name("legacy-eu").build())
                // Name is "Required: No" in the API reference: one without it, here and elsewhere.
                .buckets(Bucket::builder().bucket_region("eu-west-1").build())
                .buckets(Bucket::builder().bucket_region("us-west-2").build())
                .build()
        });
        // A listing without BucketRegion: GetBucketLocation's legacy `EU` is eu-west-1.
        let location = mock!(Client::get_bucket_location)
            .match_requests(|r| r.bucket() == Some("legacy-eu"))
            .then_output(|| {
                GetBucketLocationOutput::builder()
                    .location_constraint(BucketLocationConstraint::Eu)
                    .build()
            });
        let policy_here = mock!(Client::get_bucket_policy)
            .match_requests(|r| r.bucket() == Some("here"))
            .then_output(|| {
                GetBucketPolicyOutput::builder()
                    .policy(r#"{"Statement":[]}"#)
                    .build()
            });
        // The documented answer for a bucket without a policy.
        let no_policy = mock!(Client::get_bucket_policy)
            .match_requests(|r| r.bucket() == Some("legacy-eu"))
            .then_error(|| GetBucketPolicyError::generic(s3_error("NoSuchBucketPolicy")));
        let client = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            &[&list, &location, &policy_here, &no_policy]
        );
        let ctx = RegionCtx::for_tests("eu-west-1").mock_s3(client);
        let (found, unread) = s3::list(&ctx, "aws").await.unwrap();
        assert_eq!(
            unread.len(),
            1,
            "the nameless bucket of this region: {unread:?}"
        );
        assert!(
            unread[0].error.contains("answered 1 S3 bucket"),
            "{:?}",
            unread[0]
        );
        assert_eq!(
            found
                .iter()
                .map(|f| (f.resource.as_str(), f.policy.is_some()))
                .collect::<Vec<_>>(),
            [("here", true), ("legacy-eu", false)]
        );
        assert_eq!(found[0].arn, "arn:aws:s3:::here");
        assert_eq!(
            location.num_calls(),
            1,
            "only where the listing lacks the region"
        );
    }

    #[test]
    fn an_empty_location_constraint_is_us_east_1() {
        assert_eq!(s3::region_of_constraint(None), "us-east-1");
        assert_eq!(s3::region_of_constraint(Some("")), "us-east-1");
        assert_eq!(s3::region_of_constraint(Some("EU")), "eu-west-1");
        assert_eq!(s3::region_of_constraint(Some("ap-south-1")), "ap-south-1");
    }

    #[tokio::test]
    async fn mocked_a_policy_s3_refuses_as_malformed_fails_the_cut_with_its_code() {
        let refused = mock!(Client::put_bucket_policy)
            .then_error(|| PutBucketPolicyError::generic(s3_error("MalformedPolicy")));
        let client = mock_client!(aws_sdk_s3, [&refused]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3(client);
        let cut = cut_of(propose(&bucket_with(grant_to(json!("*"))), &home()).unwrap());
        let err = ResourcePolicyDeny.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("MalformedPolicy"));
    }

    /// What discovery learns about a bucket whose policy lets outsiders in: S3's own verdict on whether
    /// the policy is public, then the bucket's and the account's BlockPublicPolicy.
    async fn refusal_for(
        public: bool,
        bucket_block: Option<bool>,
        account_block: Option<bool>,
    ) -> (Option<String>, usize) {
        use aws_sdk_s3::operation::get_bucket_policy_status::GetBucketPolicyStatusOutput;
        use aws_sdk_s3::operation::get_public_access_block::{
            GetPublicAccessBlockError, GetPublicAccessBlockOutput,
        };
        use aws_sdk_s3::types::{PolicyStatus, PublicAccessBlockConfiguration};
        let status = mock!(Client::get_bucket_policy_status).then_output(move || {
            GetBucketPolicyStatusOutput::builder()
                .policy_status(PolicyStatus::builder().is_public(public).build())
                .build()
        });
        let bucket = match bucket_block {
            Some(on) => mock!(Client::get_public_access_block).then_output(move || {
                GetPublicAccessBlockOutput::builder()
                    .public_access_block_configuration(
                        PublicAccessBlockConfiguration::builder()
                            .block_public_policy(on)
                            .build(),
                    )
                    .build()
            }),
            // S3's answer for a bucket without a configuration.
            None => mock!(Client::get_public_access_block).then_error(|| {
                GetPublicAccessBlockError::generic(s3_error("NoSuchPublicAccessBlockConfiguration"))
            }),
        };
        let account = match account_block {
            Some(on) => mock!(aws_sdk_s3control::Client::get_public_access_block).then_output(
                move || {
                    aws_sdk_s3control::operation::get_public_access_block::GetPublicAccessBlockOutput::builder()
                        .public_access_block_configuration(
                            aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
                                .block_public_policy(on)
                                .build(),
                        )
                        .build()
                },
            ),
            None => mock!(aws_sdk_s3control::Client::get_public_access_block).then_error(|| {
                aws_sdk_s3control::operation::get_public_access_block::GetPublicAccessBlockError::generic(
                    aws_sdk_s3control::error::ErrorMetadata::builder()
                        .code("NoSuchPublicAccessBlockConfiguration")
                        .build(),
                )
            }),
        };
        let ctx = RegionCtx::for_tests("us-east-1")
            .mock_s3(mock_client!(
                aws_sdk_s3,
                RuleMode::MatchAny,
                [&status, &bucket]
            ))
            .mock_s3control(mock_client!(aws_sdk_s3control, [&account]));
        let refused = s3::refusal(&ctx, "public-downloads", "123456789012")
            .await
            .unwrap();
        (refused, bucket.num_calls() + account.num_calls())
    }

    /// A public policy that predates a BlockPublicPolicy already on (the bucket's or the account's) cannot
    /// be written back with the deny: the cut is proposed disabled, naming whose block and what closes
    /// the bucket instead. Otherwise nothing stops it.
    #[tokio::test]
    async fn mocked_a_public_policy_under_block_public_policy_is_proposed_disabled_naming_whose_block()
     {
        let (refused, _) = refusal_for(true, Some(true), None).await;
        let refused = refused.expect("refused");
        assert!(
            refused.contains("the bucket's Block Public Access"),
            "{refused}"
        );
        assert!(refused.contains("s3_public_access_block"), "{refused}");
        let (refused, _) = refusal_for(true, None, Some(true)).await;
        assert!(
            refused
                .expect("refused")
                .contains("the account's Block Public Access")
        );
        assert_eq!(refusal_for(true, Some(false), Some(false)).await.0, None);
        assert_eq!(refusal_for(true, None, None).await.0, None);
        assert_eq!(
            refusal_for(false, Some(true), Some(true)).await,
            (None, 0),
            "a policy S3 does not call public is written whatever the blocks, so they are not read"
        );
    }

    /// S3's answer to a public policy while BlockPublicPolicy is on is a plain AccessDenied: the error
    /// names that cause beside the missing permission.
    #[tokio::test]
    async fn mocked_access_denied_on_a_bucket_policy_names_block_public_policy_as_a_cause() {
        let refused = mock!(Client::put_bucket_policy)
            .then_error(|| PutBucketPolicyError::generic(s3_error("AccessDenied")));
        let client = mock_client!(aws_sdk_s3, [&refused]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3(client);
        let cut = cut_of(propose(&bucket_with(grant_to(json!("*"))), &home()).unwrap());
        let err = ResourcePolicyDeny.apply(&ctx, &cut).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("BlockPublicPolicy"), "{text}");
        assert!(text.contains("get-bucket-policy-status"), "{text}");
        assert!(
            text.contains("missing permission: s3:PutBucketPolicy"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn mocked_undo_puts_back_the_exact_prior_text_while_the_live_policy_is_the_cuts() {
        let prior_text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::reports/*\"}]\n}";
        let found = Found {
            policy: Some(prior_text.into()),
            ..bucket_with(json!({}))
        };
        let cut = cut_of(propose(&found, &home()).unwrap());
        let record = ResourcePolicyDeny.undo_record_for(&cut).unwrap();
        // S3 answers the cut's document reformatted: still the cut's, as JSON.
        let live = serde_json::to_string_pretty(&parsed(&record.applied)).unwrap();
        let read = mock!(Client::get_bucket_policy).then_output(move || {
            GetBucketPolicyOutput::builder()
                .policy(live.clone())
                .build()
        });
        let expected = prior_text.to_string();
        let put = mock!(Client::put_bucket_policy)
            .match_requests(move |r| r.policy() == Some(expected.as_str()))
            .then_output(|| {
                aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
            });
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&read, &put]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3(client);
        let outcome = ResourcePolicyDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(put.num_calls(), 1, "the exact prior text is written");
        assert!(outcome.notes[0].contains("prior resource policy put back"));
    }

    #[tokio::test]
    async fn mocked_undo_leaves_a_policy_changed_after_the_cut_alone_as_a_conflict() {
        let cut = cut_of(propose(&bucket_with(grant_to(json!("*"))), &home()).unwrap());
        let record = ResourcePolicyDeny.undo_record_for(&cut).unwrap();
        let read = mock!(Client::get_bucket_policy).then_output(|| {
            GetBucketPolicyOutput::builder()
                .policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
                .build()
        });
        let put = mock!(Client::put_bucket_policy).then_output(|| {
            aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyOutput::builder().build()
        });
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, &[&read, &put]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3(client);
        let outcome = ResourcePolicyDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(put.num_calls(), 0, "never overwritten");
        assert!(
            outcome.notes[0].starts_with("conflict:"),
            "{:?}",
            outcome.notes
        );
    }

    #[tokio::test]
    async fn mocked_undo_of_a_bucket_deleted_since_reports_it() {
        let record = ResourcePolicyDeny
            .undo_record_for(&cut_of(
                propose(&bucket_with(grant_to(json!("*"))), &home()).unwrap(),
            ))
            .unwrap();
        let gone = mock!(Client::get_bucket_policy)
            .then_error(|| GetBucketPolicyError::generic(s3_error("NoSuchBucket")));
        let client = mock_client!(aws_sdk_s3, [&gone]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_s3(client);
        let outcome = ResourcePolicyDeny.undo(&ctx, &record).await.unwrap();
        assert!(
            outcome.notes[0].contains("no longer exists"),
            "{:?}",
            outcome.notes
        );
    }
}

mod sqs_answers {
    use aws_sdk_sqs::Client;
    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::get_queue_url::{GetQueueUrlError, GetQueueUrlOutput};
    use aws_sdk_sqs::operation::set_queue_attributes::SetQueueAttributesOutput;
    use aws_sdk_sqs::types::QueueAttributeName;

    use super::*;

    const URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/q";

    /// A cut of a queue that had no policy (a plan can hold one: its undo deletes the policy).
    fn record_without_prior_policy() -> UndoRecord {
        UndoRecord {
            service: Service::Sqs,
            resource: "q".into(),
            arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            before: None,
            applied: with_deny(
                None,
                Service::Sqs,
                "arn:aws:sqs:us-east-1:123456789012:q",
                US,
            )
            .unwrap(),
        }
    }

    /// GetQueueUrl answers this account's queue of that name at the endpoint asked.
    fn url_of_q() -> aws_smithy_mocks::Rule {
        mock!(Client::get_queue_url)
            .match_requests(|r| r.queue_name() == Some("q"))
            .then_output(|| GetQueueUrlOutput::builder().queue_url(URL).build())
    }

    #[test]
    fn a_queue_is_named_by_the_last_segment_of_its_url() {
        assert_eq!(sqs::queue_name(URL), "q");
        assert_eq!(
            sqs::queue_name("https://queue.amazonaws.com/123456789012/q/"),
            "q"
        );
        assert_eq!(sqs::queue_name("http://127.0.0.1:5000/123456789012/q"), "q");
    }

    /// ListQueues as documented (API_ListQueues.html, MaxResults): asked without MaxResults it answers
    /// at most 1,000 queues and no NextToken; with it, pages and a NextToken to the rest. Every queue of
    /// the second page must be read.
    #[tokio::test]
    async fn mocked_every_page_of_a_region_over_1000_queues_is_read() {
        use aws_sdk_sqs::operation::list_queues::ListQueuesOutput;
        let first = mock!(Client::list_queues)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListQueuesOutput::builder()
                    .queue_urls("https://sqs.us-east-1.amazonaws.com/123456789012/first")
                    .build()
            });
        let paged = mock!(Client::list_queues)
            .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(1000))
            .then_output(|| {
                ListQueuesOutput::builder()
                    .queue_urls("https://sqs.us-east-1.amazonaws.com/123456789012/first")
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::list_queues)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListQueuesOutput::builder()
                    .queue_urls("https://sqs.us-east-1.amazonaws.com/123456789012/second")
                    .build()
            });
        let attributes = mock!(Client::get_queue_attributes).then_output(|| {
            GetQueueAttributesOutput::builder()
                .attributes(
                    QueueAttributeName::QueueArn,
                    "arn:aws:sqs:us-east-1:123456789012:x",
                )
                .build()
        });
        // The paged answer is tried first: it only matches a request that sent MaxResults.
        let client = mock_client!(
            aws_sdk_sqs,
            RuleMode::MatchAny,
            &[&paged, &second, &first, &attributes]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_sqs(client);
        let listing = sqs::list(&ctx).await.unwrap();
        let names: Vec<&str> = listing.0.iter().map(|f| f.resource.as_str()).collect();
        assert_eq!(names, ["first", "second"]);
    }

    /// A queue deleted since the cut: GetQueueUrl answers QueueDoesNotExist
    /// (API_GetQueueUrl.html), and restore says so instead of failing.
    #[tokio::test]
    async fn mocked_undo_of_a_queue_deleted_since_the_cut_is_a_conflict() {
        let gone = mock!(Client::get_queue_url).then_error(|| {
            GetQueueUrlError::QueueDoesNotExist(
                aws_sdk_sqs::types::error::QueueDoesNotExist::builder()
                    .message("The specified queue does not exist.")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&gone]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sqs(client);
        let outcome = ResourcePolicyDeny
            .undo(&ctx, &record_without_prior_policy())
            .await
            .unwrap();
        assert!(
            outcome.notes[0].starts_with("conflict: SQS queue q no longer exists"),
            "{:?}",
            outcome.notes
        );
    }

    #[tokio::test]
    async fn mocked_undo_of_a_queue_that_had_no_policy_sets_it_empty() {
        let record = record_without_prior_policy();
        let live = record.applied.clone();
        let read = mock!(Client::get_queue_attributes).then_output(move || {
            GetQueueAttributesOutput::builder()
                .attributes(QueueAttributeName::Policy, live.clone())
                .build()
        });
        // SetQueueAttributes with an empty Policy removes it (API_SetQueueAttributes.html).
        let clear = mock!(Client::set_queue_attributes)
            .match_requests(|r| {
                r.queue_url() == Some(URL)
                    && r.attributes()
                        .and_then(|a| a.get(&QueueAttributeName::Policy))
                        == Some(&String::new())
            })
            .then_output(|| SetQueueAttributesOutput::builder().build());
        let url = url_of_q();
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&url, &read, &clear]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sqs(client);
        let outcome = ResourcePolicyDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(clear.num_calls(), 1);
        assert!(
            outcome.notes[0].contains("it had none"),
            "{:?}",
            outcome.notes
        );
    }

    #[tokio::test]
    async fn mocked_undo_run_twice_finds_the_queue_already_as_before() {
        let record = record_without_prior_policy();
        let read = mock!(Client::get_queue_attributes)
            .then_output(|| GetQueueAttributesOutput::builder().build());
        let set = mock!(Client::set_queue_attributes)
            .then_output(|| SetQueueAttributesOutput::builder().build());
        let url = url_of_q();
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, &[&url, &read, &set]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_sqs(client);
        let outcome = ResourcePolicyDeny.undo(&ctx, &record).await.unwrap();
        assert_eq!(set.num_calls(), 0);
        assert!(
            outcome.notes[0].contains("already as before"),
            "{:?}",
            outcome.notes
        );
    }
}

mod kms_answers {
    use aws_sdk_kms::Client;
    use aws_sdk_kms::operation::put_key_policy::PutKeyPolicyError;
    use aws_sdk_kms::types::error::MalformedPolicyDocumentException;

    use super::*;

    /// PutKeyPolicy's documented refusal of a policy that would lock the key out (API_PutKeyPolicy.html).
    const LOCKOUT: &str =
        "The new key policy will not allow you to update the key policy in the future.";

    #[tokio::test]
    async fn mocked_kms_refusing_the_policy_fails_the_cut_and_the_lockout_check_stays_on() {
        let key_policy = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": format!("arn:aws:iam::{US}:root")}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{THEM}:root")},
             "Action": ["kms:Decrypt"], "Resource": "*"}]});
        let found = Found {
            service: Service::Kms,
            resource: "k1".into(),
            arn: "arn:aws:kms:us-east-1:123456789012:key/k1".into(),
            policy: Some(key_policy.to_string()),
        };
        let proposal = propose(&found, &home()).unwrap();
        // The account-root statement is kept whole, first.
        assert_eq!(
            parsed(proposal.after.policy.as_deref().unwrap())["Statement"][0],
            key_policy["Statement"][0]
        );
        let cut = cut_of(proposal);
        let refused = mock!(Client::put_key_policy)
            .match_requests(|r| r.bypass_policy_lockout_safety_check() == Some(false))
            .then_error(|| {
                PutKeyPolicyError::MalformedPolicyDocumentException(
                    MalformedPolicyDocumentException::builder()
                        .message(LOCKOUT)
                        .meta(
                            aws_sdk_kms::error::ErrorMetadata::builder()
                                .code("MalformedPolicyDocumentException")
                                .message(LOCKOUT)
                                .build(),
                        )
                        .build(),
                )
            });
        let client = mock_client!(aws_sdk_kms, [&refused]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_kms(client);
        let err = ResourcePolicyDeny.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(refused.num_calls(), 1);
        assert_eq!(
            err.code.as_deref(),
            Some("MalformedPolicyDocumentException")
        );
    }
}

mod ecr_answers {
    use aws_sdk_ecr::Client;
    use aws_sdk_ecr::operation::get_repository_policy::GetRepositoryPolicyError;
    use aws_sdk_ecr::types::error::{
        RepositoryNotFoundException, RepositoryPolicyNotFoundException,
    };

    use super::*;

    #[tokio::test]
    async fn mocked_a_repository_without_a_policy_reads_as_none_and_a_missing_one_as_gone() {
        let no_policy = mock!(Client::get_repository_policy)
            .match_requests(|r| r.repository_name() == Some("app"))
            .then_error(|| {
                GetRepositoryPolicyError::RepositoryPolicyNotFoundException(
                    RepositoryPolicyNotFoundException::builder().build(),
                )
            });
        let gone = mock!(Client::get_repository_policy)
            .match_requests(|r| r.repository_name() == Some("gone"))
            .then_error(|| {
                GetRepositoryPolicyError::RepositoryNotFoundException(
                    RepositoryNotFoundException::builder().build(),
                )
            });
        let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&no_policy, &gone]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_ecr(client);
        assert_eq!(ecr::read(&ctx, "app").await.unwrap(), Some(None));
        assert_eq!(ecr::read(&ctx, "gone").await.unwrap(), None);
    }
}

/// A topic listed without its ARN cannot be read or cut: the region's findings name it, never skip it.
#[tokio::test]
async fn mocked_a_topic_listed_without_its_arn_is_reported_not_skipped() {
    use aws_sdk_sns::operation::list_topics::ListTopicsOutput;
    use aws_sdk_sns::types::Topic;
    let listing = mock!(aws_sdk_sns::Client::list_topics).then_output(|| {
        ListTopicsOutput::builder()
            .topics(Topic::builder().build())
            .build()
    });
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&listing]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_sns(client);
    let (found, unread) = sns::list(&ctx).await.unwrap();
    assert!(found.is_empty());
    assert_eq!(unread.len(), 1);
    assert_eq!(unread[0].resource, None);
    assert!(
        unread[0]
            .error
            .contains("1 SNS topic without the name or ARN"),
        "{}",
        unread[0].error
    );
}

/// `watch`: SQS gives the policy back re-formatted (spaces after separators), which still holds the cut;
/// a document without the deny does not.
#[test]
fn a_policy_given_back_reformatted_still_holds_the_cut_and_one_without_the_deny_does_not() {
    let state = |policy: &str| PolicyState {
        service: Service::Sqs,
        resource: "q".into(),
        account_id: "123456789012".into(),
        policy: Some(policy.into()),
    };
    let open = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AnyoneSends","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage"}]}"#;
    let cut_document = r#"{"Version":"2012-10-17","Statement":[{"Sid":"AnyoneSends","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage"},{"Sid":"HikkonukiOutsideDeny","Effect":"Deny","Principal":"*","Action":"sqs:*"}]}"#;
    let cut = TypedCut {
        id: "resource_policy_deny/us-east-1/arn:aws:sqs:us-east-1:123456789012:q".into(),
        region: "us-east-1".into(),
        target: "arn:aws:sqs:us-east-1:123456789012:q".into(),
        before: state(open),
        after: state(cut_document),
    };
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(cut_document).unwrap())
            .unwrap();
    assert!(CutKind::holds(
        &ResourcePolicyDeny,
        &cut,
        &state(&reformatted)
    ));
    assert!(!CutKind::holds(&ResourcePolicyDeny, &cut, &state(open)));
    let mut elsewhere = state(&reformatted);
    elsewhere.resource = "other".into();
    assert!(!CutKind::holds(&ResourcePolicyDeny, &cut, &elsewhere));
}
