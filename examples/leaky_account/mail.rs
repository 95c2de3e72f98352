//! The leaky account's mail, storage and repository side: an SES identity that lets another account send
//! as it, an IAM user allowed to send, a public DNS zone whose records point at the public database and at
//! an address outside the account, and a CloudTrail trail that is not logging.

use aws_config::SdkConfig;

use super::SeedResult;

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededMail {
    /// An email identity with a sending-authorization policy.
    pub identity: String,
    pub identity_policy_name: String,
    /// The exact policy document stored on the identity.
    pub identity_policy: String,
    /// An IAM user whose inline policy allows sending.
    pub sender_user: String,
    /// The public hosted zone's ID and its two records' names.
    pub zone_id: String,
    pub database_record: Option<String>,
    pub outside_record: String,
    pub trail: String,
}

pub const IDENTITY: &str = "alerts@leaky.example";
pub const PARTNER_ACCOUNT: &str = "999999999999";
pub const OUTSIDE_ADDRESS: &str = "198.51.100.7";

/// Seeds the mail side in the config's region. The database record is created when an RDS instance
/// exists there (seed the database first), pointing at its endpoint.
pub async fn seed(config: &SdkConfig) -> SeedResult<SeededMail> {
    let region = config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());

    let ses = aws_sdk_sesv2::Client::new(config);
    ses.create_email_identity()
        .email_identity(IDENTITY)
        .send()
        .await?;
    let identity_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"PartnerSends","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{PARTNER_ACCOUNT}:root"}},"Action":["ses:SendEmail","ses:SendRawEmail"],"Resource":"*"}}]}}"#
    );
    ses.create_email_identity_policy()
        .email_identity(IDENTITY)
        .policy_name("partner-send")
        .policy(&identity_policy)
        .send()
        .await?;

    let iam = aws_sdk_iam::Client::new(config);
    iam.create_user().user_name("newsletter").send().await?;
    iam.put_user_policy()
        .user_name("newsletter")
        .policy_name("send-mail")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:Send*","Resource":"*"}]}"#,
        )
        .send()
        .await?;

    let route53 = aws_sdk_route53::Client::new(config);
    let zone = route53
        .create_hosted_zone()
        .name("leaky.example")
        .caller_reference("leaky-mail-seed")
        .send()
        .await?;
    let zone_id = zone
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .ok_or("CreateHostedZone returned no zone")?;
    let rds = aws_sdk_rds::Client::new(config);
    let database_endpoint = rds
        .describe_db_instances()
        .send()
        .await?
        .db_instances()
        .first()
        .and_then(|i| i.endpoint())
        .and_then(|e| e.address())
        .map(str::to_string);
    let outside_record = "www.leaky.example".to_string();
    let mut changes = vec![record(
        &outside_record,
        aws_sdk_route53::types::RrType::A,
        OUTSIDE_ADDRESS,
    )?];
    let database_record = match database_endpoint {
        Some(endpoint) => {
            let name = "db.leaky.example".to_string();
            changes.push(record(
                &name,
                aws_sdk_route53::types::RrType::Cname,
                &endpoint,
            )?);
            Some(name)
        }
        None => None,
    };
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()?,
        )
        .send()
        .await?;

    // CloudTrail needs an existing bucket; the SDK crates here have no S3 client, and the emulator
    // answers an unsigned request as S3, so the bucket is made with one plain PUT.
    let bucket = format!("leaky-trail-{region}");
    create_bucket_on_emulator(config, &bucket).await?;
    let trail = "audit".to_string();
    aws_sdk_cloudtrail::Client::new(config)
        .create_trail()
        .name(&trail)
        .s3_bucket_name(&bucket)
        .send()
        .await?;

    Ok(SeededMail {
        identity: IDENTITY.into(),
        identity_policy_name: "partner-send".into(),
        identity_policy,
        sender_user: "newsletter".into(),
        zone_id,
        database_record,
        outside_record,
        trail,
    })
}

fn record(
    name: &str,
    kind: aws_sdk_route53::types::RrType,
    value: &str,
) -> SeedResult<aws_sdk_route53::types::Change> {
    Ok(aws_sdk_route53::types::Change::builder()
        .action(aws_sdk_route53::types::ChangeAction::Create)
        .resource_record_set(
            aws_sdk_route53::types::ResourceRecordSet::builder()
                .name(name)
                .r#type(kind)
                .ttl(300)
                .resource_records(
                    aws_sdk_route53::types::ResourceRecord::builder()
                        .value(value)
                        .build()?,
                )
                .build()?,
        )
        .build()?)
}

async fn create_bucket_on_emulator(config: &SdkConfig, bucket: &str) -> SeedResult<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let endpoint = config
        .endpoint_url()
        .ok_or("the mail seed needs the emulator's endpoint URL")?;
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&host).await?;
    let request = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    if !response.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "creating bucket {bucket} on the emulator failed: {}",
            response.lines().next().unwrap_or_default()
        )
        .into());
    }
    Ok(())
}
