//! The leaky account's trust doors: roles outsiders can assume whatever happens to the account's keys.
//! `vendor-audit` trusts a third-party vendor's account (210987654321, with the external ID vendors ask
//! for), and `github-deploy` trusts GitHub Actions' OIDC provider (`token.actions.githubusercontent.com`)
//! for one repository's workflows, with the usual `aud` and `sub` conditions. The provider itself is
//! created too, as a CI setup would have it.

use super::SeedResult;

/// The vendor's account, outside this one.
pub const VENDOR_ACCOUNT: &str = "210987654321";

/// GitHub Actions' OIDC issuer, as IAM names its provider.
pub const GITHUB_ISSUER: &str = "token.actions.githubusercontent.com";

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededTrust {
    /// Trusted by the vendor's account.
    pub vendor_role: String,
    /// Trusted by GitHub Actions through the OIDC provider.
    pub ci_role: String,
    /// The OIDC provider's ARN.
    pub oidc_provider: String,
    /// Each role's trust policy as seeded (name, document), for comparison after restore.
    pub trust_policies: Vec<(String, String)>,
}

fn vendor_trust_policy() -> String {
    // Written with whitespace, as a console or a template leaves it: restore gives back the same JSON.
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [
    {{
      "Sid": "VendorAudit",
      "Effect": "Allow",
      "Principal": {{"AWS": "arn:aws:iam::{VENDOR_ACCOUNT}:root"}},
      "Action": "sts:AssumeRole",
      "Condition": {{"StringEquals": {{"sts:ExternalId": "vendor-7f3a"}}}}
    }}
  ]
}}"#
    )
}

fn github_trust_policy(provider: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"{provider}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"{GITHUB_ISSUER}:aud":"sts.amazonaws.com"}},"StringLike":{{"{GITHUB_ISSUER}:sub":"repo:acme/storefront:ref:refs/heads/main"}}}}}},{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

/// Creates the OIDC provider and the two roles (IAM is global: the config's region does not matter).
pub async fn seed(config: &aws_config::SdkConfig) -> SeedResult<SeededTrust> {
    let iam = aws_sdk_iam::Client::new(config);
    let provider = iam
        .create_open_id_connect_provider()
        .url(format!("https://{GITHUB_ISSUER}"))
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
        .send()
        .await?;
    let oidc_provider = provider
        .open_id_connect_provider_arn()
        .ok_or("CreateOpenIDConnectProvider returned no ARN")?
        .to_string();
    let trust_policies = vec![
        ("vendor-audit".to_string(), vendor_trust_policy()),
        (
            "github-deploy".to_string(),
            github_trust_policy(&oidc_provider),
        ),
    ];
    for (role, policy) in &trust_policies {
        iam.create_role()
            .role_name(role)
            .assume_role_policy_document(policy)
            .send()
            .await?;
    }
    Ok(SeededTrust {
        vendor_role: "vendor-audit".into(),
        ci_role: "github-deploy".into(),
        oidc_provider,
        trust_policies,
    })
}
