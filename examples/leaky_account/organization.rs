//! The leaky account as the management account of an organization: member accounts created with
//! `CreateAccount` (which creates `OrganizationAccountAccessRole` in each, trusting the management
//! account, as AWS does), each seeded through that role with the leaky network, database and IAM keys.

use aws_config::SdkConfig;
use aws_sdk_ec2::config::Credentials;

use super::SeedResult;

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededOrganization {
    pub id: String,
    pub members: Vec<SeededMember>,
}

/// A member account, seeded.
#[derive(Debug, Clone)]
pub struct SeededMember {
    pub account: String,
    /// SDK configuration inside the member, through the role.
    pub config: SdkConfig,
    pub regions: Vec<super::SeededRegion>,
}

/// Creates the organization (the configuration's account is its management account) and `count`
/// member accounts.
pub async fn create(config: &SdkConfig, count: usize) -> SeedResult<(String, Vec<String>)> {
    let orgs = aws_sdk_organizations::Client::new(config);
    let organization = orgs
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await?;
    let id = organization
        .organization()
        .and_then(|o| o.id())
        .ok_or("CreateOrganization returned no ID")?
        .to_string();
    // An organization that uses service control policies has them enabled on its root; AWS leaves them
    // off when the organization is created
    // (docs.aws.amazon.com/organizations/latest/userguide/enable-policy-type.html).
    let roots = orgs.list_roots().send().await?;
    let root = roots
        .roots()
        .first()
        .and_then(|r| r.id())
        .ok_or("ListRoots returned no root")?;
    orgs.enable_policy_type()
        .root_id(root)
        .policy_type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await?;
    let mut members = Vec::new();
    for index in 0..count {
        let created = orgs
            .create_account()
            .account_name(format!("member-{index}"))
            .email(format!("member-{index}@leaky.example"))
            .send()
            .await?;
        members.push(
            created
                .create_account_status()
                .and_then(|s| s.account_id())
                .ok_or("CreateAccount returned no account ID")?
                .to_string(),
        );
    }
    Ok((id, members))
}

/// SDK configuration in `account`, through the role AWS Organizations created there.
pub async fn member_config(config: &SdkConfig, account: &str) -> SeedResult<SdkConfig> {
    let assumed = aws_sdk_sts::Client::new(config)
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("seed")
        .send()
        .await?;
    let credentials = assumed
        .credentials()
        .ok_or("AssumeRole returned no credentials")?;
    Ok(config
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                credentials.access_key_id(),
                credentials.secret_access_key(),
                Some(credentials.session_token().to_string()),
                None,
                "member",
            )),
        )
        .build())
}

/// Seeds each member with the leaky network and database in `regions` and the leaky IAM keys.
pub async fn seed_members(
    config: &SdkConfig,
    members: &[String],
    regions: &[&str],
) -> SeedResult<Vec<SeededMember>> {
    let mut seeded = Vec::new();
    for account in members {
        let member = member_config(config, account).await?;
        let seeded_regions = super::seed(&member, regions).await?;
        super::identity::seed(&member).await?;
        seeded.push(SeededMember {
            account: account.clone(),
            config: member,
            regions: seeded_regions,
        });
    }
    Ok(seeded)
}

/// The organization with `count` members, each seeded.
pub async fn seed(
    config: &SdkConfig,
    count: usize,
    regions: &[&str],
) -> SeedResult<SeededOrganization> {
    let (id, members) = create(config, count).await?;
    let members = seed_members(config, &members, regions).await?;
    Ok(SeededOrganization { id, members })
}
