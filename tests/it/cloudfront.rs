//! The CloudFront kinds end to end on the emulator: `cloudfront_disable`, and `cloudfront_maintenance`
//! (plan --maintenance-origin), plan → apply → restore, with the distribution's whole configuration
//! compared before and after. The emulator accepts any ETag, so the stale-ETag retry is proven with mocks
//! in `src/services/cloudfront/maintenance.rs`.

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::edge::{self, SeededEdge};

const MAINTENANCE: &str = "maintenance.leaky.example";

pub async fn config_of(
    cloudfront: &aws_sdk_cloudfront::Client,
    seeded: &SeededEdge,
) -> aws_sdk_cloudfront::types::DistributionConfig {
    cloudfront
        .get_distribution_config()
        .id(&seeded.distribution_id)
        .send()
        .await
        .unwrap()
        .distribution_config()
        .cloned()
        .unwrap()
}

async fn seed(emulator: &Emulator) -> (aws_sdk_cloudfront::Client, SeededEdge) {
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = edge::seed(&config).await.expect("seeding CloudFront");
    (aws_sdk_cloudfront::Client::new(&config), seeded)
}

fn restore(emulator: &Emulator) {
    emulator
        .hikkonuki()
        .args(["restore", "plans/p.rollback.yaml", "--yes"])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_distribution_is_disabled_then_restored_exactly() {
    let emulator = Emulator::start();
    let (cloudfront, seeded) = seed(&emulator).await;
    let before = config_of(&cloudfront, &seeded).await;
    assert!(before.enabled());

    emulator
        .hikkonuki()
        .args(["plan", "--regions", "us-east-1", "--out", "plans/p.yaml"])
        .assert()
        .success()
        .stdout(contains(format!(
            "~ cloudfront_disable/global/{}",
            seeded.distribution_id
        )))
        .stdout(contains("shop.leaky.example"))
        .stdout(contains("cloudfront_maintenance").not());
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--yes"])
        .assert()
        .success();
    let cut = config_of(&cloudfront, &seeded).await;
    assert!(!cut.enabled());
    assert_eq!(cut.origins(), before.origins(), "only Enabled changes");

    restore(&emulator);
    assert_eq!(config_of(&cloudfront, &seeded).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_maintenance_origin_every_behaviour_shows_the_notice_then_is_restored_exactly() {
    let emulator = Emulator::start();
    let (cloudfront, seeded) = seed(&emulator).await;
    let before = config_of(&cloudfront, &seeded).await;

    emulator
        .hikkonuki()
        .args([
            "plan",
            "--regions",
            "us-east-1",
            "--maintenance-origin",
            MAINTENANCE,
            "--out",
            "plans/p.yaml",
        ])
        .assert()
        .success()
        .stdout(contains(format!(
            "~ cloudfront_maintenance/global/{}",
            seeded.distribution_id
        )))
        .stdout(contains("cloudfront_disable").not());
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--yes"])
        .assert()
        .success();
    let cut = config_of(&cloudfront, &seeded).await;
    assert!(cut.enabled(), "the distribution keeps serving, the notice");
    assert_eq!(cut.aliases(), before.aliases(), "aliases kept");
    assert_eq!(
        cut.viewer_certificate(),
        before.viewer_certificate(),
        "certificate kept"
    );
    assert_eq!(
        cut.default_cache_behavior().unwrap().target_origin_id(),
        "hikkonuki-maintenance"
    );
    let behaviors = cut.cache_behaviors().unwrap().items();
    assert!(
        behaviors
            .iter()
            .all(|b| b.target_origin_id() == "hikkonuki-maintenance")
    );
    let maintenance = cut
        .origins()
        .unwrap()
        .items()
        .iter()
        .find(|o| o.id() == "hikkonuki-maintenance")
        .expect("the maintenance origin was added");
    assert_eq!(maintenance.domain_name(), MAINTENANCE);

    restore(&emulator);
    assert_eq!(config_of(&cloudfront, &seeded).await, before);
}
