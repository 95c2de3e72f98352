//! `rds_public_off` end to end on the emulator.

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account;

/// The full description of one instance, as the SDK renders it, less `latest_restorable_time`: a clock
/// that moves on its own.
pub async fn describe(rds: &aws_sdk_rds::Client, id: &str) -> String {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("DescribeDBInstances");
    let text = format!("{:?}", out.db_instances());
    let start = text
        .find("latest_restorable_time: ")
        .expect("the field is rendered");
    let end = start + text[start..].find(", ").expect("more fields follow");
    format!("{}{}", &text[..start], &text[end..])
}

async fn public(rds: &aws_sdk_rds::Client, id: &str) -> Option<bool> {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap();
    out.db_instances()[0].publicly_accessible()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_database_is_made_private_and_restored_exactly() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let id = &seeded[0].database;
    let rds = aws_sdk_rds::Client::new(&config);
    let original = describe(&rds, id).await;

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains(format!("~ rds_public_off/us-east-1/{id}")))
        .stdout(contains("- publicly_accessible: true"))
        .stdout(contains("+ publicly_accessible: false"));
    emulator.apply("plans/p.yaml").assert().code(0);
    assert_eq!(public(&rds, id).await, Some(false));

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stderr(contains(format!("made publicly accessible again: {id}")));
    assert_eq!(describe(&rds, id).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_database_made_public_again_by_hand_and_says_so() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let id = &seeded[0].database;
    let rds = aws_sdk_rds::Client::new(&config);
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    rds.modify_db_instance()
        .db_instance_identifier(id)
        .publicly_accessible(true)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stderr(contains(format!("already publicly accessible: {id}")));
    assert_eq!(public(&rds, id).await, Some(true));
}

/// A public Multi-AZ DB cluster: AWS lets no call make it private once it exists (its instances cannot be
/// modified one by one, ModifyDBCluster has no PubliclyAccessible), so the plan reports it as a High
/// finding and proposes no cut that could only fail; the lone public instance is still cut.
#[tokio::test(flavor = "multi_thread")]
async fn a_public_multi_az_cluster_is_a_high_finding_and_its_instances_get_no_cut() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let rds = aws_sdk_rds::Client::new(&config);
    rds.create_db_cluster()
        .db_cluster_identifier("ledger")
        .engine("postgres")
        .db_cluster_instance_class("db.m6gd.large")
        .storage_type("io1")
        .allocated_storage(100)
        .iops(1000)
        .master_username("ledger")
        .master_user_password("not-a-real-password-1")
        .publicly_accessible(true)
        .send()
        .await
        .unwrap();
    rds.create_db_instance()
        .db_instance_identifier("ledger-instance-1")
        .db_cluster_identifier("ledger")
        .engine("postgres")
        .db_instance_class("db.m6gd.large")
        .publicly_accessible(true)
        .send()
        .await
        .unwrap();

    let planned = emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .code(0)
        .stdout(contains("HIGH   rds_multi_az_cluster_public"))
        .stdout(contains(format!(
            "rds_public_off/us-east-1/{}",
            seeded[0].database
        )));
    let stdout = String::from_utf8_lossy(&planned.get_output().stdout).into_owned();
    assert!(
        !stdout.contains("rds_public_off/us-east-1/ledger"),
        "no cut AWS would refuse: {stdout}"
    );
}
