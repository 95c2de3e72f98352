//! The CloudFront kinds end to end on the emulator: `cloudfront_disable`, and `cloudfront_maintenance`
//! (plan --maintenance-origin), plan → apply → restore, with the distribution's whole configuration
//! compared before and after, and edits made after the plan or after the cut. The emulator accepts any
//! ETag, so the stale-ETag retry is proven with mocks in `src/services/cloudfront/tests.rs`.

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

/// Someone else's edit of the distribution, as the console would make it.
async fn edit(
    cloudfront: &aws_sdk_cloudfront::Client,
    seeded: &SeededEdge,
    change: impl FnOnce(&mut aws_sdk_cloudfront::types::DistributionConfig),
) {
    let current = cloudfront
        .get_distribution_config()
        .id(&seeded.distribution_id)
        .send()
        .await
        .unwrap();
    let mut config = current.distribution_config().cloned().unwrap();
    change(&mut config);
    cloudfront
        .update_distribution()
        .id(&seeded.distribution_id)
        .if_match(current.e_tag().unwrap())
        .distribution_config(config)
        .send()
        .await
        .unwrap();
}

fn plan(emulator: &Emulator, extra: &[&str]) -> assert_cmd::assert::Assert {
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .args(extra)
        .assert()
}

fn apply(emulator: &Emulator) {
    emulator.apply("plans/p.yaml").assert().success();
}

fn restore(emulator: &Emulator) {
    emulator.restore("plans/p.rollback.yaml").assert().success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_distribution_is_disabled_then_restored_exactly() {
    let emulator = Emulator::start();
    let (cloudfront, seeded) = seed(&emulator).await;
    let before = config_of(&cloudfront, &seeded).await;
    assert!(before.enabled());

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
        .stdout(contains(format!(
            "~ cloudfront_disable/global/{}",
            seeded.distribution_id
        )))
        .stdout(contains("shop.leaky.example"))
        .stdout(contains("cloudfront_maintenance").not());
    let planned = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    for recorded in [
        "default_target: shop-origin",
        "shop-origin: origin.leaky.example",
        "api-origin: api.leaky.example",
        "certificate: CloudFront default certificate",
    ] {
        assert!(planned.contains(recorded), "{recorded} in\n{planned}");
    }
    apply(&emulator);
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
        .plan("us-east-1", "plans/p.yaml")
        .args(["--maintenance-origin", MAINTENANCE])
        .assert()
        .success()
        .stdout(contains(format!(
            "~ cloudfront_maintenance/global/{}",
            seeded.distribution_id
        )))
        .stdout(contains("cloudfront_disable").not());
    apply(&emulator);
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
    // What the edge cached from the real origins is dropped.
    assert_eq!(
        invalidations(&cloudfront, &seeded.distribution_id).await,
        [("hikkonuki-maintenance".to_string(), vec!["/*".to_string()])]
    );

    restore(&emulator);
    assert_eq!(config_of(&cloudfront, &seeded).await, before);
    assert_eq!(
        invalidations(&cloudfront, &seeded.distribution_id).await,
        [
            ("hikkonuki-maintenance".to_string(), vec!["/*".to_string()]),
            ("hikkonuki-restore".to_string(), vec!["/*".to_string()])
        ],
        "and the notice page cached at the edge, on restore"
    );
}

/// The distribution's invalidations, each as the purpose its caller reference names (the ETag left out),
/// and its paths, sorted.
pub async fn invalidations(
    cloudfront: &aws_sdk_cloudfront::Client,
    id: &str,
) -> Vec<(String, Vec<String>)> {
    let listed = cloudfront
        .list_invalidations()
        .distribution_id(id)
        .send()
        .await
        .unwrap();
    let mut made = Vec::new();
    for summary in listed
        .invalidation_list()
        .map(|l| l.items())
        .unwrap_or_default()
    {
        let got = cloudfront
            .get_invalidation()
            .distribution_id(id)
            .id(summary.id())
            .send()
            .await
            .unwrap();
        let batch = got.invalidation().unwrap().invalidation_batch().unwrap();
        // `hikkonuki-<why>-<etag>[-deployed]`: the ETag left out.
        let reference = batch.caller_reference();
        let purpose = reference
            .splitn(3, '-')
            .take(2)
            .collect::<Vec<_>>()
            .join("-");
        made.push((purpose.to_string(), batch.paths().unwrap().items().to_vec()));
    }
    made.sort();
    made
}

#[tokio::test(flavor = "multi_thread")]
async fn a_distribution_re_pointed_after_the_plan_is_refused_as_drift_and_left_serving() {
    let emulator = Emulator::start();
    let (cloudfront, seeded) = seed(&emulator).await;
    plan(&emulator, &[]).success();
    edit(&cloudfront, &seeded, |config| {
        config
            .default_cache_behavior
            .as_mut()
            .unwrap()
            .target_origin_id = "api-origin".into();
    })
    .await;
    let changed = config_of(&cloudfront, &seeded).await;

    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains(format!(
            "drift: cloudfront_disable/global/{} no longer matches the plan",
            seeded.distribution_id
        )))
        .stderr(contains("Nothing was changed"));
    assert_eq!(config_of(&cloudfront, &seeded).await, changed);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_distribution_someone_enabled_and_edited_after_the_cut_alone() {
    let emulator = Emulator::start();
    let (cloudfront, seeded) = seed(&emulator).await;
    plan(&emulator, &[]).success();
    apply(&emulator);
    edit(&cloudfront, &seeded, |config| {
        config.enabled = true;
        config.comment = "re-enabled by the web team".into();
    })
    .await;
    let edited = config_of(&cloudfront, &seeded).await;

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "distribution {} was already enabled (by someone since the cut, or by an earlier restore); left as it is",
            seeded.distribution_id
        )));
    assert_eq!(config_of(&cloudfront, &seeded).await, edited);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_points_back_only_the_behaviours_still_on_the_maintenance_origin() {
    let emulator = Emulator::start();
    let (cloudfront, seeded) = seed(&emulator).await;
    let before = config_of(&cloudfront, &seeded).await;
    plan(&emulator, &["--maintenance-origin", MAINTENANCE]).success();
    apply(&emulator);
    // The web team serves /api/* from the storefront origin while the incident goes on.
    edit(&cloudfront, &seeded, |config| {
        let behaviors = config.cache_behaviors.as_mut().unwrap();
        behaviors.items.as_mut().unwrap()[0].target_origin_id = "shop-origin".into();
    })
    .await;

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: behaviour /api/* of distribution {} was pointed at shop-origin after the cut; left alone",
            seeded.distribution_id
        )));
    let after = config_of(&cloudfront, &seeded).await;
    assert_eq!(
        after.default_cache_behavior().unwrap().target_origin_id(),
        "shop-origin"
    );
    assert_eq!(
        after.cache_behaviors().unwrap().items()[0].target_origin_id(),
        "shop-origin",
        "the later change is kept"
    );
    assert_eq!(
        after.origins(),
        before.origins(),
        "the unused maintenance origin is removed"
    );
}
