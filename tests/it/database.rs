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
