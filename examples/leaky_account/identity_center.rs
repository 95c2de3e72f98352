//! The leaky account's IAM Identity Center side: two permission sets assigned to the account, in the
//! instance of the first region. `DataEngineers` carries an inline policy (written with line breaks and
//! indentation, so restore is seen to give back the exact text); `BreakGlass` has none (restore deletes
//! the inline policy again). The rest of what provisioning carries, which the plan records and apply
//! refuses to provision once edited since: both have a description and a session duration,
//! `DataEngineers` an AWS managed policy, `BreakGlass` a permissions boundary (our model of that API: moto
//! has none).
//!
//! Assigning a permission set provisions it to the account on AWS; the emulator's model does the same
//! (tests/emulator/aws_model/sso_admin.py).

use aws_config::SdkConfig;
use aws_sdk_ssoadmin::types::{PermissionsBoundary, PrincipalType, TargetType};

use super::SeedResult;

/// DataEngineers' inline policy, exactly as written.
pub const DATA_ENGINEERS_POLICY: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"ReadTheLake\",\n      \"Effect\": \"Allow\",\n      \"Action\": [\"s3:GetObject\", \"s3:ListBucket\"],\n      \"Resource\": \"*\"\n    }\n  ]\n}";

/// The AWS managed policy attached to DataEngineers.
pub const DATA_ENGINEERS_MANAGED_POLICY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
/// BreakGlass's permissions boundary.
pub const BREAK_GLASS_BOUNDARY: &str = "arn:aws:iam::aws:policy/PowerUserAccess";

/// What was created.
#[derive(Debug, Clone)]
pub struct SeededIdentityCenter {
    pub region: String,
    pub instance_arn: String,
    /// (name, ARN), in creation order.
    pub permission_sets: Vec<(String, String)>,
}

pub async fn seed(config: &SdkConfig) -> SeedResult<SeededIdentityCenter> {
    let sso = aws_sdk_ssoadmin::Client::new(config);
    let account = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await?
        .account()
        .unwrap_or_default()
        .to_string();
    let instance_arn = sso
        .list_instances()
        .send()
        .await?
        .instances()
        .first()
        .and_then(|i| i.instance_arn())
        .ok_or("no IAM Identity Center instance in the first region")?
        .to_string();
    let mut permission_sets = Vec::new();
    for (name, inline_policy, principal) in [
        (
            "DataEngineers",
            Some(DATA_ENGINEERS_POLICY),
            "data-engineers-group-id",
        ),
        ("BreakGlass", None, "break-glass-user-id"),
    ] {
        let arn = sso
            .create_permission_set()
            .instance_arn(&instance_arn)
            .name(name)
            .description(format!("{name} in the leaky account"))
            .session_duration("PT8H")
            .send()
            .await?
            .permission_set()
            .and_then(|p| p.permission_set_arn())
            .ok_or("CreatePermissionSet returned no ARN")?
            .to_string();
        if let Some(policy) = inline_policy {
            sso.put_inline_policy_to_permission_set()
                .instance_arn(&instance_arn)
                .permission_set_arn(&arn)
                .inline_policy(policy)
                .send()
                .await?;
            sso.attach_managed_policy_to_permission_set()
                .instance_arn(&instance_arn)
                .permission_set_arn(&arn)
                .managed_policy_arn(DATA_ENGINEERS_MANAGED_POLICY)
                .send()
                .await?;
        } else {
            sso.put_permissions_boundary_to_permission_set()
                .instance_arn(&instance_arn)
                .permission_set_arn(&arn)
                .permissions_boundary(
                    PermissionsBoundary::builder()
                        .managed_policy_arn(BREAK_GLASS_BOUNDARY)
                        .build(),
                )
                .send()
                .await?;
        }
        sso.create_account_assignment()
            .instance_arn(&instance_arn)
            .permission_set_arn(&arn)
            .target_type(TargetType::AwsAccount)
            .target_id(&account)
            .principal_type(if name == "BreakGlass" {
                PrincipalType::User
            } else {
                PrincipalType::Group
            })
            .principal_id(principal)
            .send()
            .await?;
        permission_sets.push((name.to_string(), arn));
    }
    Ok(SeededIdentityCenter {
        region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        instance_arn,
        permission_sets,
    })
}
