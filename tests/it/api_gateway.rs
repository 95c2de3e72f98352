//! The API Gateway kinds end to end on the emulator: `apigw_deny_policy` and `apigw_stage_throttle` on a
//! REST API, plan → apply → restore, with the API's policy, its stages (deployment, method settings) and
//! its deployments compared before and after. HTTP API stages (v2 UpdateStage) and the removal of REST
//! stage-wide settings, which the emulator lacks or ignores, are proven with mocks in
//! `src/services/api_gateway/stage_throttle.rs`.

use std::collections::BTreeMap;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::api::{self, SeededApi};

/// Everything the cuts could touch on the API.
pub async fn api_state(
    apigw: &aws_sdk_apigateway::Client,
    seeded: &SeededApi,
) -> BTreeMap<String, String> {
    let id = &seeded.rest_api_id;
    let mut state = BTreeMap::new();
    let api = apigw.get_rest_api().rest_api_id(id).send().await.unwrap();
    state.insert("policy".into(), format!("{:?}", api.policy()));
    let stages = apigw.get_stages().rest_api_id(id).send().await.unwrap();
    for stage in stages.item() {
        let settings: BTreeMap<_, _> = stage
            .method_settings()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        state.insert(
            format!("stage {}", stage.stage_name().unwrap_or_default()),
            format!(
                "deployment {:?}, method settings {settings:?}",
                stage.deployment_id()
            ),
        );
    }
    let deployments = apigw
        .get_deployments()
        .rest_api_id(id)
        .send()
        .await
        .unwrap();
    let mut ids: Vec<_> = deployments.items().iter().filter_map(|d| d.id()).collect();
    ids.sort();
    state.insert("deployments".into(), format!("{ids:?}"));
    state
}

async fn seed(emulator: &Emulator) -> (aws_sdk_apigateway::Client, SeededApi) {
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = api::seed(&config).await.expect("seeding API Gateway");
    (aws_sdk_apigateway::Client::new(&config), seeded)
}

fn plan_and_apply(emulator: &Emulator, seeded: &SeededApi) {
    emulator
        .hikkonuki()
        .args(["plan", "--regions", "us-east-1", "--out", "plans/p.yaml"])
        .assert()
        .success()
        .stdout(contains(format!(
            "~ apigw_deny_policy/us-east-1/{}",
            seeded.rest_api_id
        )))
        .stdout(contains(format!(
            "~ apigw_stage_throttle/us-east-1/{}/{}",
            seeded.rest_api_id, seeded.stage
        )))
        .stdout(contains("restore puts back its rate 100 and burst 50"));
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--yes"])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_rest_api_is_denied_and_throttled_then_restored_exactly() {
    let emulator = Emulator::start();
    let (apigw, seeded) = seed(&emulator).await;
    let before = api_state(&apigw, &seeded).await;
    assert!(before["policy"].contains("Allow"), "{before:?}");

    plan_and_apply(&emulator, &seeded);
    let cut = api_state(&apigw, &seeded).await;
    assert!(
        cut["policy"].contains("HikkonukiDenyAllInvocations"),
        "{cut:?}"
    );
    let stage = &cut[&format!("stage {}", seeded.stage)];
    assert!(
        stage.contains("throttling_burst_limit: 0") && stage.contains("throttling_rate_limit: 0.0"),
        "{stage}"
    );
    assert_ne!(
        stage.split(',').next(),
        before[&format!("stage {}", seeded.stage)].split(',').next(),
        "the stage was redeployed so the deny policy takes effect"
    );

    emulator
        .hikkonuki()
        .args(["restore", "plans/p.rollback.yaml", "--yes"])
        .assert()
        .success();
    assert_eq!(api_state(&apigw, &seeded).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_policy_and_a_redeployment_made_after_the_cut_alone() {
    let emulator = Emulator::start();
    let (apigw, seeded) = seed(&emulator).await;
    plan_and_apply(&emulator, &seeded);
    // The responder writes a narrower policy of their own while the incident goes on.
    let narrower = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#;
    apigw
        .update_rest_api()
        .rest_api_id(&seeded.rest_api_id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/policy")
                .value(narrower)
                .build(),
        )
        .send()
        .await
        .unwrap();
    emulator
        .hikkonuki()
        .args(["restore", "plans/p.rollback.yaml", "--yes"])
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: the resource policy of {} was changed after the cut; left alone",
            seeded.rest_api_id
        )));
    let after = api_state(&apigw, &seeded).await;
    assert!(after["policy"].contains("203.0.113.0/24"), "{after:?}");
    // The stage itself went back to its deployment and throttling.
    assert!(
        after[&format!("stage {}", seeded.stage)].contains("throttling_rate_limit: 100.0"),
        "{after:?}"
    );
}

/// The emulator reads HTTP APIs (v2 GetApis, GetStages) but cannot update their stages, so this proves
/// discovery here: the stage is proposed with its limits recorded; the cut and undo are mocked.
#[tokio::test(flavor = "multi_thread")]
async fn an_http_api_stage_is_discovered_with_its_limits_recorded() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let v2 = aws_sdk_apigatewayv2::Client::new(&config);
    let api = v2
        .create_api()
        .name("webhooks")
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .send()
        .await
        .unwrap();
    let api_id = api.api_id().unwrap().to_string();
    v2.create_stage()
        .api_id(&api_id)
        .stage_name("live")
        .default_route_settings(
            aws_sdk_apigatewayv2::types::RouteSettings::builder()
                .throttling_rate_limit(300.0)
                .throttling_burst_limit(120)
                .build(),
        )
        .send()
        .await
        .unwrap();
    emulator
        .hikkonuki()
        .args(["plan", "--regions", "us-east-1", "--out", "plans/p.yaml"])
        .assert()
        .success()
        .stdout(contains(format!(
            "~ apigw_stage_throttle/us-east-1/{api_id}/live"
        )))
        .stdout(contains(format!(
            "HTTP/WebSocket API {api_id} stage live accepts requests (rate 300 and burst 120)"
        )))
        .stdout(contains("restore puts back its rate 300 and burst 120"));
    let plan = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(plan.contains("family: http"), "{plan}");
}
