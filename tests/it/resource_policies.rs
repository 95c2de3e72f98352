//! `resource_policy_deny` on the emulator: a bucket, a queue, a topic, a KMS key, a secret and an ECR
//! repository whose policies let other accounts or anyone in get one deny statement each, in the region
//! they live in, and restore gives back each document exactly (compared as the emulator returns it);
//! a bucket open only to this account gets no cut; a policy changed after the cut is a conflict, left
//! alone. The emulator stores and returns policies but never evaluates them: these tests prove the
//! documents, not that an outsider is refused (see the README).

use std::collections::BTreeMap;

use predicates::str::contains;
use serde_json::Value;

use crate::emulator::Emulator;
use crate::leaky_account::resource_policies::{
    self, ACCOUNT, INTERNAL_BUCKET, SHARED_BUCKET, SeededResourcePolicies,
};

const KIND: &str = "resource_policy_deny";

async fn seed(emulator: &Emulator, region: &str) -> SeededResourcePolicies {
    resource_policies::seed(&emulator.sdk_config(region).await)
        .await
        .expect("seeding the resource policies")
}

async fn policies(
    emulator: &Emulator,
    seeded: &SeededResourcePolicies,
) -> BTreeMap<String, String> {
    resource_policies::policies(&emulator.sdk_config(&seeded.region).await, seeded)
        .await
        .expect("reading the policies")
}

/// The plan's cuts of this kind, by id.
fn planned(emulator: &Emulator, plan: &str) -> BTreeMap<String, serde_yaml::Value> {
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path(plan)).unwrap()).unwrap();
    plan["cuts"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|cut| cut["kind"].as_str() == Some(KIND))
        .map(|cut| (cut["id"].as_str().unwrap().to_string(), cut.clone()))
        .collect()
}

fn statements(document: &str) -> Vec<Value> {
    let document: Value =
        serde_json::from_str(document).unwrap_or_else(|e| panic!("{e}: {document}"));
    match &document["Statement"] {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_policies_letting_outsiders_in_are_cut_in_their_region_and_restored_exactly() {
    let emulator = Emulator::start();
    // Seeded away from the home region: the buckets are listed from every region but planned in theirs.
    let seeded = seed(&emulator, "eu-west-1").await;
    let before = policies(&emulator, &seeded).await;

    emulator
        .plan("us-east-1,eu-west-1", "plans/p.yaml")
        .assert()
        .success()
        // The topic's deny stops new subscriptions, not delivery to the one another account made.
        .stdout(contains(format!(
            "HIGH   sns_subscriptions_outside [eu-west-1 arn:aws:sns:eu-west-1:123456789012:{}:",
            resource_policies::TOPIC
        )))
        .stdout(contains(format!(
            "to sqs endpoint arn:aws:sqs:eu-west-1:{}:collector, outside this account",
            resource_policies::OUTSIDE_SUBSCRIBER
        )));
    let cuts = planned(&emulator, "plans/p.yaml");
    let expected: Vec<String> = seeded
        .cut_targets()
        .iter()
        .map(|target| format!("{KIND}/eu-west-1/{target}"))
        .collect();
    let mut ids: Vec<String> = cuts.keys().cloned().collect();
    ids.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "one cut per open resource, in eu-west-1 only");
    assert!(
        !cuts.keys().any(|id| id.contains(INTERNAL_BUCKET)),
        "a bucket open only to this account is not cut"
    );
    // ...but its Origin Access Control grant without aws:SourceArn, which no cut closes, is said.
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let service_grants: Vec<&str> = plan["findings"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|f| {
            f["check"].as_str() == Some(KIND)
                && f["resource"].as_str() == Some(&format!("arn:aws:s3:::{INTERNAL_BUCKET}"))
        })
        .filter(|f| f["severity"].as_str() == Some("high"))
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert_eq!(service_grants.len(), 1, "{:?}", plan["findings"]);
    assert!(
        service_grants[0].contains("cloudfront.amazonaws.com (s3:GetObject)")
            && service_grants[0].contains("aws:SourceArn"),
        "{}",
        service_grants[0]
    );
    for cut in cuts.values() {
        assert_eq!(cut["enabled"].as_bool(), Some(true), "{cut:?}");
    }

    emulator.apply("plans/p.yaml").assert().success();
    let cut = policies(&emulator, &seeded).await;
    assert_eq!(
        cut[&format!("s3 {INTERNAL_BUCKET}")],
        before[&format!("s3 {INTERNAL_BUCKET}")],
        "the same-account bucket policy is left exactly as it was"
    );
    for key in [
        "sqs",
        "sns",
        "kms",
        "secret",
        "ecr",
        &format!("s3 {SHARED_BUCKET}"),
    ] {
        let (was, now) = (statements(&before[key]), statements(&cut[key]));
        assert_eq!(now.len(), was.len() + 1, "{key}: {now:?}");
        assert_eq!(
            now[..was.len()],
            was[..],
            "{key}: every prior statement kept, in order"
        );
        let deny = now.last().unwrap();
        assert_eq!(deny["Sid"], "HikkonukiOutsideDeny", "{key}");
        assert_eq!(deny["Effect"], "Deny", "{key}");
        assert_eq!(
            deny["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalAccount"], ACCOUNT,
            "{key}"
        );
        assert_eq!(
            deny["Condition"]["BoolIfExists"]["aws:PrincipalIsAWSService"], "false",
            "{key}"
        );
    }

    // A new plan proposes nothing more of this kind: every open resource holds the deny.
    emulator
        .plan("us-east-1,eu-west-1", "plans/again.yaml")
        .assert()
        .success();
    assert_eq!(planned(&emulator, "plans/again.yaml").len(), 0);

    emulator.restore("plans/p.rollback.yaml").assert().success();
    assert_eq!(policies(&emulator, &seeded).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_queue_policy_changed_after_the_cut_alone_and_restores_the_rest() {
    let emulator = Emulator::start();
    let seeded = seed(&emulator, "us-east-1").await;
    let before = policies(&emulator, &seeded).await;
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    emulator.apply("plans/p.yaml").assert().success();

    // A responder narrows the queue's policy by hand while the account is cut.
    let narrower = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OnlyUs","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sqs:SendMessage","Resource":"{}"}}]}}"#,
        seeded.queue_arn
    );
    aws_sdk_sqs::Client::new(&emulator.sdk_config("us-east-1").await)
        .set_queue_attributes()
        .queue_url(&seeded.queue_url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, &narrower)
        .send()
        .await
        .unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: the resource policy of SQS queue {} was changed after the cut; left alone",
            resource_policies::QUEUE
        )))
        .stdout(contains(format!(
            "  conflict: {KIND}/us-east-1/{}: the resource policy of SQS queue {} was changed after the cut; left alone",
            seeded.queue_arn,
            resource_policies::QUEUE
        )));
    let after = policies(&emulator, &seeded).await;
    // moto stores a queue policy as parsed JSON and answers it re-serialised: the same document.
    let as_json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(
        as_json(&after["sqs"]),
        as_json(&narrower),
        "the responder's policy is never overwritten"
    );
    for (key, document) in &before {
        if key != "sqs" {
            assert_eq!(&after[key], document, "{key} restored exactly");
        }
    }
}

/// Makes `bucket` in us-east-1 with a policy letting anyone read from it; returns the client and the policy.
async fn public_bucket(emulator: &Emulator, bucket: &str) -> (aws_sdk_s3::Client, String) {
    let s3 = crate::evidence::s3(&emulator.sdk_config("us-east-1").await);
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AnyoneReads","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    (s3, policy)
}

/// The bucket's policy, and the account's S3 Block Public Access as the test harness prints it.
async fn policy_and_account_block(
    s3: &aws_sdk_s3::Client,
    emulator: &Emulator,
    bucket: &str,
) -> (String, String) {
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap_or_default()
        .to_string();
    (policy, crate::mail::account_block(emulator).await)
}

/// A bucket anyone may read from, and the account's S3 Block Public Access not yet on: both are cut. With
/// `BlockPublicPolicy` on, S3 refuses to write a public bucket policy, and the bucket's policy with the
/// deny added is still public (only what a policy grants makes it public), as is the policy restore
/// writes back (our model of that refusal: tests/emulator/aws_model/s3_block_public_policy.py). So apply
/// switches the account block on only once the bucket's cut is answered, and restore lifts it before
/// writing the bucket's policy back: both succeed, and everything is as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_public_bucket_and_the_account_s3_block_are_both_cut_and_restored_in_the_order_s3_accepts()
 {
    const PUBLIC_BUCKET: &str = "leaky-public-downloads";
    let emulator = Emulator::start();
    let (s3, public) = public_bucket(&emulator, PUBLIC_BUCKET).await;
    let state = || policy_and_account_block(&s3, &emulator, PUBLIC_BUCKET);
    let before = state().await;
    assert_eq!(before.0, public);
    assert!(
        before.1.contains("NoSuchPublicAccessBlockConfiguration"),
        "{before:?}"
    );

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    let plan = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    let bucket_cut = format!("{KIND}/us-east-1/arn:aws:s3:::{PUBLIC_BUCKET}");
    for id in [bucket_cut.as_str(), "s3_public_access_block/global/"] {
        assert!(plan.contains(id), "{id} planned");
    }

    emulator.apply("plans/p.yaml").assert().success();
    let (policy, block) = state().await;
    let now = statements(&policy);
    assert_eq!(now.len(), 2, "{now:?}");
    assert_eq!(now[1]["Sid"], "HikkonukiOutsideDeny");
    assert!(block.contains("block_public_policy: Some(true)"), "{block}");

    emulator.restore("plans/p.rollback.yaml").assert().success();
    assert_eq!(state().await, before);
}

/// Both cuts of the test above undone behind the tool's back, the account block first (with it on, S3
/// refuses the public policy): `watch --recut` puts them back in apply's order, the bucket's deny before
/// the account block, so S3 accepts both, where restore's order (the order watch looks in) has the
/// block refuse the deny.
#[tokio::test(flavor = "multi_thread")]
async fn watch_recuts_a_reopened_public_bucket_and_account_s3_block_in_the_order_s3_accepts() {
    const PUBLIC_BUCKET: &str = "leaky-public-mirror";
    let emulator = Emulator::start();
    let (s3, public) = public_bucket(&emulator, PUBLIC_BUCKET).await;
    let state = || policy_and_account_block(&s3, &emulator, PUBLIC_BUCKET);
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    emulator.apply("plans/p.yaml").assert().success();
    let cut = state().await;
    assert!(cut.1.contains("block_public_policy: Some(true)"), "{cut:?}");

    crate::mail::s3control(&emulator)
        .await
        .delete_public_access_block()
        .account_id(crate::block_public_access::ACCOUNT)
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy()
        .bucket(PUBLIC_BUCKET)
        .policy(&public)
        .send()
        .await
        .unwrap();

    let output = crate::watch::watch_once(&emulator)
        .args(["--recut", "--output", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let events = crate::steer::json_events(&output);
    let recut: BTreeMap<String, Value> = events
        .iter()
        .filter(|event| event["event"] == "cut-reopened")
        .map(|event| {
            (
                event["id"].as_str().unwrap().to_string(),
                event["recut"].clone(),
            )
        })
        .collect();
    let bucket_cut = format!("{KIND}/us-east-1/arn:aws:s3:::{PUBLIC_BUCKET}");
    assert_eq!(recut.len(), 2, "{events:?}");
    assert_eq!(recut[&bucket_cut], "done", "{events:?}");
    let account_cut = format!(
        "s3_public_access_block/global/{}",
        crate::block_public_access::ACCOUNT
    );
    assert_eq!(recut[&account_cut], "done", "{events:?}");
    assert_eq!(
        state().await,
        cut,
        "both cuts are back exactly as apply made them"
    );
}

/// A public bucket policy that predates the bucket's own `BlockPublicPolicy` (S3 keeps existing policies
/// when the block goes on): S3 would refuse our deny whatever the order, so the plan proposes the cut
/// disabled, saying whose block and what closes the bucket instead, and apply goes through.
#[tokio::test(flavor = "multi_thread")]
async fn a_public_bucket_policy_under_its_own_block_is_proposed_disabled_and_apply_goes_through() {
    const PUBLIC_BUCKET: &str = "leaky-public-archive";
    let emulator = Emulator::start();
    let (s3, _) = public_bucket(&emulator, PUBLIC_BUCKET).await;
    s3.put_public_access_block()
        .bucket(PUBLIC_BUCKET)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_policy(true)
                .build(),
        )
        .send()
        .await
        .unwrap();

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    let cuts = planned(&emulator, "plans/p.yaml");
    let cut = &cuts[&format!("{KIND}/us-east-1/arn:aws:s3:::{PUBLIC_BUCKET}")];
    assert_eq!(cut["enabled"].as_bool(), Some(false), "{cut:?}");
    let reason = cut["reason"].as_str().unwrap();
    assert!(
        reason.contains("the bucket's Block Public Access"),
        "{reason}"
    );
    emulator.apply("plans/p.yaml").assert().success();
}
