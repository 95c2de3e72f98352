//! The leaky account's resource policies: a bucket policy granting another account `s3:GetObject` (and
//! a same-account reader, which must stay), a bucket whose policy grants only this account (never cut), a
//! public SQS queue, an SNS topic open to `*` (and subscribed by another account's queue, which no deny on
//! the topic stops: the `sns_subscriptions_outside` finding), a KMS key another account may decrypt with, a secret
//! shared with another account and an ECR repository another account may pull from.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

use super::SeedResult;

pub const ACCOUNT: &str = "123456789012";
pub const OTHER_ACCOUNT: &str = "210987654321";
pub const SHARED_BUCKET: &str = "leaky-partner-reports";
pub const INTERNAL_BUCKET: &str = "leaky-internal-reports";
pub const QUEUE: &str = "leaky-public-queue";
pub const TOPIC: &str = "leaky-open-topic";
/// The account whose queue is subscribed to the open topic.
pub const OUTSIDE_SUBSCRIBER: &str = "999988887777";
pub const SECRET: &str = "leaky/partner-db";
pub const REPOSITORY: &str = "leaky/app";

/// What was created: each resource's cut target (its ARN) and the name its API takes.
#[derive(Debug, Clone)]
pub struct SeededResourcePolicies {
    pub region: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub topic_arn: String,
    pub key_id: String,
    pub key_arn: String,
    pub secret_arn: String,
    pub repository_arn: String,
}

impl SeededResourcePolicies {
    /// The ARNs the plan should cut (`resource_policy_deny/<region>/<arn>`), in the kind's service order.
    pub fn cut_targets(&self) -> Vec<String> {
        vec![
            format!("arn:aws:s3:::{SHARED_BUCKET}"),
            self.queue_arn.clone(),
            self.topic_arn.clone(),
            self.key_arn.clone(),
            self.secret_arn.clone(),
            self.repository_arn.clone(),
        ]
    }
}

fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    // Path-style: an emulator on loopback has no DNS name per bucket.
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// Seeds every resource in the config's region.
pub async fn seed(config: &SdkConfig) -> SeedResult<SeededResourcePolicies> {
    let region = config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());

    let s3 = s3(config);
    for bucket in [SHARED_BUCKET, INTERNAL_BUCKET] {
        let mut create = s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        create.send().await?;
    }
    s3.put_bucket_policy()
        .bucket(SHARED_BUCKET)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PartnerReads","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{SHARED_BUCKET}/*"}},{{"Sid":"OwnReader","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/reporting"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{SHARED_BUCKET}/*"}}]}}"#
        ))
        .send()
        .await?;
    s3.put_bucket_policy()
        .bucket(INTERNAL_BUCKET)
        .policy(format!(
            // CdnReads is an Origin Access Control grant without `aws:SourceArn`: any account's
            // CloudFront distribution can serve the bucket. No cut closes it; the plan says so (High).
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"OwnReader","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:role/reporting"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{INTERNAL_BUCKET}/*"}},{{"Sid":"CdnReads","Effect":"Allow","Principal":{{"Service":"cloudfront.amazonaws.com"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::{INTERNAL_BUCKET}/*"}}]}}"#
        ))
        .send()
        .await?;

    let sqs = aws_sdk_sqs::Client::new(config);
    let queue_arn = format!("arn:aws:sqs:{region}:{ACCOUNT}:{QUEUE}");
    let queue_url = sqs
        .create_queue()
        .queue_name(QUEUE)
        .attributes(
            QueueAttributeName::Policy,
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AnyoneSends","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"{queue_arn}"}}]}}"#
            ),
        )
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_string();

    let sns = aws_sdk_sns::Client::new(config);
    let topic_arn = sns
        .create_topic()
        .name(TOPIC)
        .send()
        .await?
        .topic_arn()
        .unwrap_or_default()
        .to_string();
    sns.set_topic_attributes()
        .topic_arn(&topic_arn)
        .attribute_name("Policy")
        .attribute_value(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"AnyonePublishes","Effect":"Allow","Principal":{{"AWS":"*"}},"Action":["sns:Publish","sns:Subscribe"],"Resource":"{topic_arn}"}}]}}"#
        ))
        .send()
        .await?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(format!(
            "arn:aws:sqs:{}:{OUTSIDE_SUBSCRIBER}:collector",
            config.region().map(|r| r.to_string()).unwrap_or_default()
        ))
        .send()
        .await?;

    let kms = aws_sdk_kms::Client::new(config);
    let key = kms
        .create_key()
        .description("leaky partner key")
        .policy(format!(
            r#"{{"Version":"2012-10-17","Id":"key-partner","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},{{"Sid":"PartnerDecrypts","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":["kms:Decrypt","kms:DescribeKey"],"Resource":"*"}}]}}"#
        ))
        .send()
        .await?;
    let metadata = key.key_metadata().ok_or("CreateKey returned no key")?;
    let key_id = metadata.key_id().to_string();
    let key_arn = metadata.arn().unwrap_or_default().to_string();

    let secrets = aws_sdk_secretsmanager::Client::new(config);
    let secret_arn = secrets
        .create_secret()
        .name(SECRET)
        .secret_string("postgres://partner:hunter2@db.internal/reports")
        .send()
        .await?
        .arn()
        .unwrap_or_default()
        .to_string();
    secrets
        .put_resource_policy()
        .secret_id(&secret_arn)
        .resource_policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PartnerReads","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":"secretsmanager:GetSecretValue","Resource":"*"}}]}}"#
        ))
        .send()
        .await?;

    let ecr = aws_sdk_ecr::Client::new(config);
    let repository_arn = ecr
        .create_repository()
        .repository_name(REPOSITORY)
        .send()
        .await?
        .repository()
        .and_then(|r| r.repository_arn())
        .unwrap_or_default()
        .to_string();
    ecr.set_repository_policy()
        .repository_name(REPOSITORY)
        .policy_text(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PartnerPulls","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{OTHER_ACCOUNT}:root"}},"Action":["ecr:GetDownloadUrlForLayer","ecr:BatchGetImage"]}}]}}"#
        ))
        .send()
        .await?;

    Ok(SeededResourcePolicies {
        region,
        queue_url,
        queue_arn,
        topic_arn,
        key_id,
        key_arn,
        secret_arn,
        repository_arn,
    })
}

/// Every seeded resource's policy exactly as the emulator returns it (`none` when it has none): what
/// the tests compare before the cut and after restore.
pub async fn policies(
    config: &SdkConfig,
    seeded: &SeededResourcePolicies,
) -> SeedResult<BTreeMap<String, String>> {
    let mut state = BTreeMap::new();
    let s3 = s3(config);
    for bucket in [SHARED_BUCKET, INTERNAL_BUCKET] {
        let policy = match s3.get_bucket_policy().bucket(bucket).send().await {
            Ok(out) => out.policy().unwrap_or_default().to_string(),
            Err(err) => format!(
                "error {:?}",
                aws_sdk_s3::error::ProvideErrorMetadata::code(&err)
            ),
        };
        state.insert(format!("s3 {bucket}"), policy);
    }
    let queue = aws_sdk_sqs::Client::new(config)
        .get_queue_attributes()
        .queue_url(&seeded.queue_url)
        .attribute_names(QueueAttributeName::Policy)
        .send()
        .await?;
    state.insert(
        "sqs".into(),
        queue
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::Policy))
            .cloned()
            .unwrap_or_else(|| "none".into()),
    );
    let topic = aws_sdk_sns::Client::new(config)
        .get_topic_attributes()
        .topic_arn(&seeded.topic_arn)
        .send()
        .await?;
    state.insert(
        "sns".into(),
        topic
            .attributes()
            .and_then(|a| a.get("Policy"))
            .cloned()
            .unwrap_or_else(|| "none".into()),
    );
    let key = aws_sdk_kms::Client::new(config)
        .get_key_policy()
        .key_id(&seeded.key_id)
        .policy_name("default")
        .send()
        .await?;
    state.insert("kms".into(), key.policy().unwrap_or("none").to_string());
    let secret = aws_sdk_secretsmanager::Client::new(config)
        .get_resource_policy()
        .secret_id(&seeded.secret_arn)
        .send()
        .await?;
    state.insert(
        "secret".into(),
        secret.resource_policy().unwrap_or("none").to_string(),
    );
    let repository = aws_sdk_ecr::Client::new(config)
        .get_repository_policy()
        .repository_name(REPOSITORY)
        .send()
        .await?;
    state.insert(
        "ecr".into(),
        repository.policy_text().unwrap_or("none").to_string(),
    );
    Ok(state)
}
