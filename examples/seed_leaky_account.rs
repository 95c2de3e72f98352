//! Seeds a small leaky account into an AWS emulator (moto), for the demo.
//!
//! Usage: `AWS_ENDPOINT_URL=http://127.0.0.1:PORT cargo run --example seed_leaky_account -- us-east-1 eu-west-1`
//!
//! With `--organization N REGION...` it makes the (already seeded) account the management account of an
//! organization with N member accounts, seeds each member's network, database and IAM keys in the
//! regions, and prints `members: ID,ID,…`.
//!
//! It refuses to run without AWS_ENDPOINT_URL pointing at loopback: it creates resources, and must never
//! be pointed at a real account by accident.

mod leaky_account;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    if !(endpoint.starts_with("http://127.") || endpoint.starts_with("http://localhost")) {
        return Err(format!(
            "AWS_ENDPOINT_URL must point at an emulator on loopback (got `{endpoint}`): this program creates resources"
        )
        .into());
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let members = match args.iter().position(|a| a == "--organization") {
        Some(at) => {
            let count: usize = args
                .get(at + 1)
                .ok_or("--organization needs a number of member accounts")?
                .parse()?;
            args.drain(at..at + 2);
            Some(count)
        }
        None => None,
    };
    let regions: Vec<String> = args;
    let regions: Vec<&str> = if regions.is_empty() {
        vec!["us-east-1", "eu-west-1"]
    } else {
        regions.iter().map(String::as_str).collect()
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(regions[0].to_string()))
        .load()
        .await;
    if let Some(count) = members {
        let organization = leaky_account::organization::seed(&config, count, &regions).await?;
        for member in &organization.members {
            println!(
                "seeded member account {} of organization {}: network and database in {}, IAM keys",
                member.account,
                organization.id,
                regions.join(", ")
            );
        }
        let ids: Vec<&str> = organization
            .members
            .iter()
            .map(|m| m.account.as_str())
            .collect();
        println!("members: {}", ids.join(","));
        return Ok(());
    }
    let account = leaky_account::seed_account(&config, &regions).await?;
    for seeded in &account.regions {
        println!(
            "seeded {}: VPC {} with groups web {}, db {}, bastion {}, public database {}",
            seeded.region,
            seeded.vpc_id,
            seeded.web_group,
            seeded.db_group,
            seeded.bastion_group,
            seeded.database
        );
    }
    println!(
        "seeded IAM users {} with {} access keys, an SSH key and role {}",
        account.identity.users.join(", "),
        account.identity.keys.len(),
        account.identity.role
    );
    println!(
        "seeded SES identity {} (sending delegated to another account), sender {}, public zone {}, trail {} (not logging)",
        account.mail.identity, account.mail.sender_user, account.mail.zone_id, account.mail.trail
    );
    println!(
        "seeded Lambda functions {} ({} has a public URL {} and a public invoke permission)",
        account.serverless.functions.join(", "),
        account.serverless.public_function,
        account.serverless.function_url
    );
    println!(
        "seeded REST API {} (a policy open to anyone, stage {})",
        account.api.rest_api_id, account.api.stage
    );
    println!(
        "seeded CloudFront distribution {} ({})",
        account.edge.distribution_id, account.edge.domain_name
    );
    println!(
        "seeded role {} (trusted by vendor account {}) and role {} (trusted by GitHub Actions through {})",
        account.trust.vendor_role,
        leaky_account::trust::VENDOR_ACCOUNT,
        account.trust.ci_role,
        account.trust.oidc_provider
    );
    println!(
        "seeded resource policies open to other accounts or anyone: bucket {}, queue {}, topic {}, KMS key {}, secret {}, ECR repository {} (and bucket {}, open to this account only)",
        leaky_account::resource_policies::SHARED_BUCKET,
        account.resource_policies.queue_url,
        account.resource_policies.topic_arn,
        account.resource_policies.key_id,
        account.resource_policies.secret_arn,
        account.resource_policies.repository_arn,
        leaky_account::resource_policies::INTERNAL_BUCKET
    );
    println!(
        "seeded IAM Identity Center permission sets {} assigned to the account (instance {} in {})",
        account
            .identity_center
            .permission_sets
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        account.identity_center.instance_arn,
        account.identity_center.region
    );
    let sharing = &account.sharing;
    println!(
        "seeded sharing: public snapshot {}, snapshot {} and AMI {} shared with {}, public RDS snapshot {}, public SSM document {}",
        sharing.public_snapshot,
        sharing.shared_snapshot,
        sharing.shared_image,
        leaky_account::sharing::INTRUDER_ACCOUNT,
        sharing.public_db_snapshot,
        sharing.public_document
    );
    Ok(())
}
