//! The API Gateway kinds end to end on the emulator: `apigw_deny_policy` and `apigw_stage_throttle` on a
//! REST API, plan → apply → restore, with the API's policy, its stages (deployment, method settings) and
//! its deployments compared before and after. HTTP API stages (v2 UpdateStage) and the removal of REST
//! stage-wide settings, which the emulator lacks or ignores, are proven with mocks in
//! `src/services/serverless/api_gateway/apigw_stage_throttle/tests.rs`.

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
    // The emulator keeps an emptied policy as "" where a never-set one is absent: both mean none.
    state.insert(
        "policy".into(),
        format!("{:?}", api.policy().filter(|p| !p.is_empty())),
    );
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

/// Each method-settings key of the stage with its rate and burst limits.
async fn throttling(
    apigw: &aws_sdk_apigateway::Client,
    seeded: &SeededApi,
) -> BTreeMap<String, (f64, i32)> {
    let stage = apigw
        .get_stage()
        .rest_api_id(&seeded.rest_api_id)
        .stage_name(&seeded.stage)
        .send()
        .await
        .unwrap();
    stage
        .method_settings()
        .unwrap()
        .iter()
        .map(|(key, s)| {
            (
                key.clone(),
                (s.throttling_rate_limit(), s.throttling_burst_limit()),
            )
        })
        .collect()
}

async fn seed(emulator: &Emulator) -> (aws_sdk_apigateway::Client, SeededApi) {
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = api::seed(&config).await.expect("seeding API Gateway");
    (aws_sdk_apigateway::Client::new(&config), seeded)
}

fn plan_and_apply(emulator: &Emulator, seeded: &SeededApi) {
    emulator
        .plan("us-east-1", "plans/p.yaml")
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
        .stdout(contains("restore puts back its rate 100 and burst 50"))
        .stdout(contains(
            "Its method orders/GET set throttling of their own, which overrides the stage's",
        ));
    emulator.apply("plans/p.yaml").assert().success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_rest_api_is_denied_and_throttled_then_restored_exactly() {
    let emulator = Emulator::start();
    let (apigw, seeded) = seed(&emulator).await;
    let before = api_state(&apigw, &seeded).await;
    assert!(before["policy"].contains("Allow"), "{before:?}");
    assert_eq!(
        throttling(&apigw, &seeded).await,
        BTreeMap::from([
            ("*/*".to_string(), (100.0, 50)),
            ("orders/GET".to_string(), (200.0, 80))
        ])
    );

    plan_and_apply(&emulator, &seeded);
    let cut = api_state(&apigw, &seeded).await;
    assert!(
        cut["policy"].contains("HikkonukiDenyAllInvocations"),
        "{cut:?}"
    );
    // The method with limits of its own is closed too, or it would stay open at its own rate.
    assert_eq!(
        throttling(&apigw, &seeded).await,
        BTreeMap::from([
            ("*/*".to_string(), (0.0, 0)),
            ("orders/GET".to_string(), (0.0, 0))
        ])
    );
    let stage = &cut[&format!("stage {}", seeded.stage)];
    assert_ne!(
        stage.split(',').next(),
        before[&format!("stage {}", seeded.stage)].split(',').next(),
        "the stage was redeployed so the deny policy takes effect"
    );

    emulator.restore("plans/p.rollback.yaml").assert().success();
    assert_eq!(api_state(&apigw, &seeded).await, before);
}

/// A deployment's description is anyone's to write. One made after the cut and described as
/// hikkonuki's is not taken for hikkonuki's: restore deletes only the deployment apply recorded, and
/// leaves the other in place.
#[tokio::test(flavor = "multi_thread")]
async fn restore_deletes_only_the_deployment_apply_made_not_one_described_as_it() {
    use hikkonuki::services::serverless::api_gateway::apigw_deny_policy::DEPLOYMENT_DESCRIPTION;

    let emulator = Emulator::start();
    let (apigw, seeded) = seed(&emulator).await;
    let before = api_state(&apigw, &seeded).await;
    plan_and_apply(&emulator, &seeded);
    let decoy = apigw
        .create_deployment()
        .rest_api_id(&seeded.rest_api_id)
        .description(DEPLOYMENT_DESCRIPTION)
        .send()
        .await
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "deployment(s) {decoy} of {}, described as hikkonuki's and used by no stage, were left",
            seeded.rest_api_id
        )));
    let mut after = api_state(&apigw, &seeded).await;
    let deployments = after.remove("deployments").unwrap();
    assert!(deployments.contains(&decoy), "{deployments} lacks {decoy}");
    let mut expected = before.clone();
    let mut ids: Vec<String> =
        serde_yaml::from_str::<Vec<String>>(&expected["deployments"]).unwrap_or_default();
    ids.push(decoy);
    ids.sort();
    expected.remove("deployments");
    assert_eq!(after, expected);
    assert_eq!(deployments, format!("{ids:?}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_policy_and_a_method_limit_changed_after_the_cut_alone() {
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
    // And lets GET /orders through at a trickle.
    apigw
        .update_stage()
        .rest_api_id(&seeded.rest_api_id)
        .stage_name(&seeded.stage)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/orders/GET/throttling/rateLimit")
                .value("5")
                .build(),
        )
        .send()
        .await
        .unwrap();
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: the resource policy of {} was changed after the cut; left alone",
            seeded.rest_api_id
        )))
        .stderr(contains(format!(
            "conflict: the throttling of method orders/GET of {}/{} was changed after the cut (now rate 5 and burst 0); left alone",
            seeded.rest_api_id, seeded.stage
        )));
    let after = api_state(&apigw, &seeded).await;
    assert!(after["policy"].contains("203.0.113.0/24"), "{after:?}");
    // The stage-wide limits went back; the method keeps the responder's limit.
    assert_eq!(
        throttling(&apigw, &seeded).await,
        BTreeMap::from([
            ("*/*".to_string(), (100.0, 50)),
            ("orders/GET".to_string(), (5.0, 0))
        ])
    );
}

/// An API that had no resource policy gets none back: undo clears the deny with `replace /policy ""`,
/// the call Terraform also uses to delete one. Its stage had no stage-wide settings, so undo removes the
/// `*/*` settings the cut created; the emulator accepts that removal but ignores it, and restore must
/// say so rather than report the stage restored.
#[tokio::test(flavor = "multi_thread")]
async fn an_api_without_a_policy_gets_none_back_and_an_ignored_settings_removal_is_reported() {
    use aws_sdk_apigateway::types::IntegrationType;

    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let apigw = aws_sdk_apigateway::Client::new(&config);
    let api = apigw
        .create_rest_api()
        .name("status-api")
        .send()
        .await
        .unwrap();
    let id = api.id().unwrap().to_string();
    let root = api.root_resource_id().unwrap().to_string();
    apigw
        .put_method()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(&id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .send()
        .await
        .unwrap();
    apigw
        .create_deployment()
        .rest_api_id(&id)
        .stage_name("beta")
        .send()
        .await
        .unwrap();
    let seeded = SeededApi {
        rest_api_id: id.clone(),
        stage: "beta".into(),
        policy: String::new(),
    };
    let before = api_state(&apigw, &seeded).await;
    assert_eq!(before["policy"], "None");

    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
        .stdout(contains(format!("~ apigw_deny_policy/us-east-1/{id}")))
        .stdout(contains("it has no resource policy"))
        .stdout(contains(
            "restore removes the stage-wide method settings again (it has none now)",
        ));
    emulator.apply("plans/p.yaml").assert().success();
    let cut = api_state(&apigw, &seeded).await;
    assert!(
        cut["policy"].contains("HikkonukiDenyAllInvocations"),
        "{cut:?}"
    );

    let restore = emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .failure()
        .stderr(contains(format!("{id}: deny policy removed (it had none)")))
        .stderr(contains(format!(
            "the endpoint accepted the removal of {id}/beta's */* method settings but kept them"
        )));
    let after = api_state(&apigw, &seeded).await;
    let stage = "stage beta".to_string();
    for key in ["policy", "deployments"] {
        assert_eq!(after[key], before[key], "{key}: {restore:?}");
    }
    // Back on its own deployment; only the ignored removal differs.
    assert_eq!(
        after[&stage].split(',').next(),
        before[&stage].split(',').next()
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
        .plan("us-east-1", "plans/p.yaml")
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
