//! The leaky account's data shared out as copies: a public EBS snapshot, a snapshot shared with an
//! intruder's account, an AMI shared with that account, a public RDS snapshot and a publicly shared SSM
//! document. `sharing_revoke` cuts each.

use super::SeedResult;

/// The account an intruder shared data with.
pub const INTRUDER_ACCOUNT: &str = "210987654321";

#[derive(Debug, Clone)]
pub struct SeededSharing {
    pub public_snapshot: String,
    pub shared_snapshot: String,
    pub shared_image: String,
    /// A manual snapshot of a private database, made public.
    pub public_db_snapshot: String,
    pub public_document: String,
}

pub async fn seed(config: &aws_config::SdkConfig) -> SeedResult<SeededSharing> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    let volume = ec2
        .create_volume()
        .availability_zone(format!("{region}a"))
        .size(8)
        .send()
        .await?;
    let volume_id = volume.volume_id().unwrap_or_default().to_string();
    let snapshot = |description: &'static str| {
        let ec2 = ec2.clone();
        let volume_id = volume_id.clone();
        async move {
            let out = ec2
                .create_snapshot()
                .volume_id(volume_id)
                .description(description)
                .send()
                .await?;
            SeedResult::Ok(out.snapshot_id().unwrap_or_default().to_string())
        }
    };
    let public_snapshot = snapshot("orders database backup").await?;
    ec2.modify_snapshot_attribute()
        .snapshot_id(&public_snapshot)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .group_names("all")
        .send()
        .await?;
    let shared_snapshot = snapshot("customer exports").await?;
    ec2.modify_snapshot_attribute()
        .snapshot_id(&shared_snapshot)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .user_ids(INTRUDER_ACCOUNT)
        .send()
        .await?;

    let image = ec2
        .register_image()
        .name("build-agent")
        .description("CI build agent with deploy keys baked in")
        .send()
        .await?;
    let shared_image = image.image_id().unwrap_or_default().to_string();
    ec2.modify_image_attribute()
        .image_id(&shared_image)
        .launch_permission(
            aws_sdk_ec2::types::LaunchPermissionModifications::builder()
                .add(
                    aws_sdk_ec2::types::LaunchPermission::builder()
                        .user_id(INTRUDER_ACCOUNT)
                        .build(),
                )
                .build(),
        )
        .send()
        .await?;

    let rds = aws_sdk_rds::Client::new(config);
    rds.create_db_instance()
        .db_instance_identifier("reports-db")
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("reports")
        .master_user_password("not-a-real-password-2")
        .publicly_accessible(false)
        .send()
        .await?;
    let public_db_snapshot = "reports-db-final".to_string();
    rds.create_db_snapshot()
        .db_instance_identifier("reports-db")
        .db_snapshot_identifier(&public_db_snapshot)
        .send()
        .await?;
    rds.modify_db_snapshot_attribute()
        .db_snapshot_identifier(&public_db_snapshot)
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await?;

    let ssm = aws_sdk_ssm::Client::new(config);
    let public_document = "Leaky-RotateDeployKeys".to_string();
    ssm.create_document()
        .name(&public_document)
        .document_type(aws_sdk_ssm::types::DocumentType::Command)
        .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
        .content(
            r#"{"schemaVersion":"2.2","description":"Rotates deploy keys","mainSteps":[{"action":"aws:runShellScript","name":"rotate","inputs":{"runCommand":["echo rotate"]}}]}"#,
        )
        .send()
        .await?;
    ssm.modify_document_permission()
        .name(&public_document)
        .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
        .account_ids_to_add("all")
        .send()
        .await?;

    Ok(SeededSharing {
        public_snapshot,
        shared_snapshot,
        shared_image,
        public_db_snapshot,
        public_document,
    })
}
