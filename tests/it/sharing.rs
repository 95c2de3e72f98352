//! `sharing_revoke` end to end on the emulator: EBS snapshots, AMIs, RDS DB and DB cluster snapshots and
//! SSM documents shared out of the account lose their outside permissions, and restore gives back exactly
//! the permissions each had, leaving (and reporting) what was shared since.

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::sharing::{self, INTRUDER_ACCOUNT};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// Every permission of every resource of the account that can be shared, one line per resource, sorted,
/// read with the SDK straight from the emulator.
pub async fn sharing_state(config: &aws_config::SdkConfig) -> String {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let rds = aws_sdk_rds::Client::new(config);
    let ssm = aws_sdk_ssm::Client::new(config);
    let mut lines = Vec::new();
    let snapshots = ec2
        .describe_snapshots()
        .owner_ids("self")
        .send()
        .await
        .unwrap();
    for snapshot in snapshots.snapshots() {
        if snapshot.owner_id() != Some(ACCOUNT) {
            continue;
        }
        let id = snapshot.snapshot_id().unwrap();
        let out = ec2
            .describe_snapshot_attribute()
            .snapshot_id(id)
            .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
            .send()
            .await
            .unwrap();
        let mut permissions: Vec<String> = out
            .create_volume_permissions()
            .iter()
            .map(|p| format!("{p:?}"))
            .collect();
        permissions.sort();
        lines.push(format!("ebs snapshot {id}: [{}]", permissions.join(", ")));
    }
    let images = ec2.describe_images().owners("self").send().await.unwrap();
    for image in images.images() {
        let id = image.image_id().unwrap();
        let out = ec2
            .describe_image_attribute()
            .image_id(id)
            .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
            .send()
            .await
            .unwrap();
        let mut permissions: Vec<String> = out
            .launch_permissions()
            .iter()
            .map(|p| format!("{p:?}"))
            .collect();
        permissions.sort();
        lines.push(format!("image {id}: [{}]", permissions.join(", ")));
    }
    let db_snapshots = rds.describe_db_snapshots().send().await.unwrap();
    for snapshot in db_snapshots.db_snapshots() {
        let id = snapshot.db_snapshot_identifier().unwrap();
        let out = rds
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(id)
            .send()
            .await
            .unwrap();
        let mut values: Vec<String> = out
            .db_snapshot_attributes_result()
            .unwrap()
            .db_snapshot_attributes()
            .iter()
            .flat_map(|a| {
                a.attribute_values()
                    .iter()
                    .map(|v| format!("{}={v}", a.attribute_name().unwrap_or_default()))
            })
            .collect();
        values.sort();
        lines.push(format!("db snapshot {id}: [{}]", values.join(", ")));
    }
    let cluster_snapshots = rds.describe_db_cluster_snapshots().send().await.unwrap();
    for snapshot in cluster_snapshots.db_cluster_snapshots() {
        let id = snapshot.db_cluster_snapshot_identifier().unwrap();
        let out = rds
            .describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(id)
            .send()
            .await
            .unwrap();
        let mut values: Vec<String> = out
            .db_cluster_snapshot_attributes_result()
            .unwrap()
            .db_cluster_snapshot_attributes()
            .iter()
            .flat_map(|a| {
                a.attribute_values()
                    .iter()
                    .map(|v| format!("{}={v}", a.attribute_name().unwrap_or_default()))
            })
            .collect();
        values.sort();
        lines.push(format!("db cluster snapshot {id}: [{}]", values.join(", ")));
    }
    let documents = ssm
        .list_documents()
        .filters(
            aws_sdk_ssm::types::DocumentKeyValuesFilter::builder()
                .key("Owner")
                .values("Self")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for document in documents.document_identifiers() {
        let name = document.name().unwrap();
        let out = ssm
            .describe_document_permission()
            .name(name)
            .permission_type(aws_sdk_ssm::types::DocumentPermissionType::Share)
            .send()
            .await
            .unwrap();
        let mut shares: Vec<String> = out
            .account_sharing_info_list()
            .iter()
            .map(|i| format!("{i:?}"))
            .collect();
        shares.sort();
        lines.push(format!("ssm document {name}: [{}]", shares.join(", ")));
    }
    lines.sort();
    lines.join("\n")
}

/// An Aurora cluster snapshot shared with the intruder's account, beside the seeded resources, so every
/// resource type is in the round trip.
pub async fn seed_cluster_snapshot(config: &aws_config::SdkConfig) -> String {
    let rds = aws_sdk_rds::Client::new(config);
    rds.create_db_cluster()
        .db_cluster_identifier("analytics")
        .engine("aurora-postgresql")
        .master_username("analytics")
        .master_user_password("not-a-real-password-3")
        .send()
        .await
        .unwrap();
    rds.create_db_cluster_snapshot()
        .db_cluster_identifier("analytics")
        .db_cluster_snapshot_identifier("analytics-2026-11")
        .send()
        .await
        .unwrap();
    rds.modify_db_cluster_snapshot_attribute()
        .db_cluster_snapshot_identifier("analytics-2026-11")
        .attribute_name("restore")
        .values_to_add(INTRUDER_ACCOUNT)
        .send()
        .await
        .unwrap();
    "analytics-2026-11".to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_snapshots_images_and_documents_lose_outside_permissions_and_get_them_back_exactly()
{
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = sharing::seed(&config).await.unwrap();
    let cluster_snapshot = seed_cluster_snapshot(&config).await;
    let original = sharing_state(&config).await;
    for needed in [
        "group: Some(All)",
        INTRUDER_ACCOUNT,
        "restore=all",
        "\"all\"",
    ] {
        assert!(original.contains(needed), "{needed} seeded:\n{original}");
    }

    let targets = [
        format!("ebs_snapshot/{}", seeded.public_snapshot),
        format!("ebs_snapshot/{}", seeded.shared_snapshot),
        format!("image/{}", seeded.shared_image),
        format!("db_snapshot/{}", seeded.public_db_snapshot),
        format!("db_cluster_snapshot/{cluster_snapshot}"),
        format!("ssm_document/{}", seeded.public_document),
    ];
    let mut planned = emulator.plan(REGION, "plans/p.yaml").assert().code(0);
    for target in &targets {
        planned = planned.stdout(contains(format!("sharing_revoke/{REGION}/{target}")));
    }
    // The plan names who each resource was shared with: the intruder's account is evidence.
    let plan = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(
        plan.contains(&format!("shared with account {INTRUDER_ACCOUNT}")),
        "{plan}"
    );
    assert!(plan.contains("shared with everyone (public)"), "{plan}");

    emulator.apply("plans/p.yaml").assert().code(0);
    let cut = sharing_state(&config).await;
    assert!(
        !cut.contains(INTRUDER_ACCOUNT) && !cut.contains("All") && !cut.contains("=all"),
        "nothing is shared outside after apply:\n{cut}"
    );
    assert!(
        !cut.contains("Some(\"all\")"),
        "the document is private:\n{cut}"
    );

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "shared ebs_snapshot/{} again with account {INTRUDER_ACCOUNT}",
            seeded.shared_snapshot
        )));
    assert_eq!(sharing_state(&config).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_snapshot_shared_since_the_cut_and_reports_the_conflict() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = sharing::seed(&config).await.unwrap();
    emulator.plan(REGION, "plans/p.yaml").assert().code(0);
    emulator.apply("plans/p.yaml").assert().code(0);

    // Someone shares the snapshot with a new account after the cut.
    let ec2 = aws_sdk_ec2::Client::new(&config);
    ec2.modify_snapshot_attribute()
        .snapshot_id(&seeded.shared_snapshot)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .operation_type(aws_sdk_ec2::types::OperationType::Add)
        .user_ids("333333333333")
        .send()
        .await
        .unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "conflict: ebs_snapshot/{} was shared since the cut with account 333333333333; left as it is (restore removes nothing)",
            seeded.shared_snapshot
        )));
    let out = ec2
        .describe_snapshot_attribute()
        .snapshot_id(&seeded.shared_snapshot)
        .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
        .send()
        .await
        .unwrap();
    let mut users: Vec<&str> = out
        .create_volume_permissions()
        .iter()
        .filter_map(|p| p.user_id())
        .collect();
    users.sort();
    assert_eq!(
        users,
        ["210987654321", "333333333333"],
        "the removed account is back and the new one left alone"
    );
}

/// The SSM public-sharing setting: the emulator has no GetServiceSetting, so the plan says the setting
/// could not be read rather than failing or staying silent.
#[tokio::test(flavor = "multi_thread")]
async fn the_ssm_public_sharing_setting_the_emulator_cannot_answer_is_an_unread_finding() {
    let emulator = Emulator::start();
    emulator
        .plan(REGION, "plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains("ssm_public_sharing"));
    let plan = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(
        plan.contains(
            "whether SSM documents can be shared publicly in us-east-1 could not be read"
        ),
        "{plan}"
    );
}

/// A plan made while block public access for snapshots is already on says, in the public snapshot's
/// reason, that restore cannot make it public again until the block is off. The switch is read from the
/// emulator's model of it (tests/emulator/aws_model). Neither moto nor that model refuses a public share
/// while the switch is on, so AWS's refusal on restore, and restore giving the named accounts back all the
/// same, are tested with mocks (`sharing_revoke::tests::mocked_restore_gives_accounts_back_…`).
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_made_while_snapshot_block_public_access_is_on_says_restore_cannot_make_it_public() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    let seeded = sharing::seed(&config).await.unwrap();
    aws_sdk_ec2::Client::new(&config)
        .enable_snapshot_block_public_access()
        .state(aws_sdk_ec2::types::SnapshotBlockPublicAccessState::BlockNewSharing)
        .send()
        .await
        .unwrap();
    emulator.plan(REGION, "plans/p.yaml").assert().code(0);
    let plan: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let reason_of = |target: &str| -> String {
        plan["cuts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|cut| cut["target"].as_str() == Some(target))
            .unwrap_or_else(|| panic!("no cut for {target}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let public = reason_of(&format!("ebs_snapshot/{}", seeded.public_snapshot));
    assert!(
        public.contains(
            "block public access for EBS snapshots in us-east-1 is on (`block-new-sharing`)"
        ) && public.contains("restore cannot make the EBS snapshot public again until it is off"),
        "{public}"
    );
    // A snapshot shared only with an account is given back whatever the switch says.
    let named = reason_of(&format!("ebs_snapshot/{}", seeded.shared_snapshot));
    assert!(!named.contains("block public access"), "{named}");
}
