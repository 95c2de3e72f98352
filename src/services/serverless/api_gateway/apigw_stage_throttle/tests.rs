//! The unit tests of `apigw_stage_throttle`: REST patches and method settings on data, the undo's
//! decisions, and with aws-smithy-mocks the v2 writes and the REST removal the emulator lacks.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation};
use aws_sdk_apigatewayv2::Client as V2;
use aws_sdk_apigatewayv2::operation::get_stage::GetStageOutput;
use aws_sdk_apigatewayv2::operation::update_stage::UpdateStageOutput;
use aws_sdk_apigatewayv2::types::LoggingLevel;
use aws_sdk_apigatewayv2::types::RouteSettings;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::http::{V2Settings, http_throttle};
use super::rest::{rest_patch, rest_throttle};
use super::*;

const ROUTE: &str = "POST /hooks";

fn limits(rate: f64, burst: i32) -> Limits {
    Limits {
        rate_limit: Some(rate),
        burst_limit: Some(burst),
    }
}

fn http_stage(rate: Option<f64>, burst: Option<i32>) -> StageThrottle {
    StageThrottle {
        family: ApiFamily::Http,
        api_id: "h77api".into(),
        stage_name: "$default".into(),
        rate_limit: rate,
        burst_limit: burst,
        overrides: BTreeMap::new(),
    }
}

fn rest_stage(rate: Option<f64>, burst: Option<i32>) -> StageThrottle {
    StageThrottle {
        family: ApiFamily::Rest,
        api_id: "r3st".into(),
        stage_name: "prod".into(),
        rate_limit: rate,
        burst_limit: burst,
        overrides: BTreeMap::new(),
    }
}

/// The proposal for `state` and the cut a plan makes of it.
fn cut_of(state: &StageThrottle) -> (Proposal<StageThrottle>, TypedCut<StageThrottle>) {
    let proposed = propose(state).unwrap();
    let cut = TypedCut {
        id: format!("apigw_stage_throttle/us-east-1/{}", proposed.target),
        region: "us-east-1".into(),
        target: proposed.target.clone(),
        before: proposed.before.clone(),
        after: proposed.after.clone(),
    };
    (proposed, cut)
}

fn ops_of(ops: &[PatchOperation]) -> Vec<(&str, &str, Option<&str>)> {
    ops.iter()
        .map(|op| (op.op().unwrap().as_str(), op.path().unwrap(), op.value()))
        .collect()
}

#[test]
fn rest_patches_set_the_stage_wide_and_each_method_limit_or_remove_the_stage_wide_settings() {
    let cut = LimitWrites {
        stage_wide: StageWide::Set(0.0, 0),
        overrides: BTreeMap::from([("orders/GET".to_string(), (0.0, 0))]),
    };
    assert_eq!(
        ops_of(&rest_patch(&cut)),
        vec![
            ("replace", "/*/*/throttling/rateLimit", Some("0")),
            ("replace", "/*/*/throttling/burstLimit", Some("0")),
            ("replace", "/orders/GET/throttling/rateLimit", Some("0")),
            ("replace", "/orders/GET/throttling/burstLimit", Some("0")),
        ]
    );
    let restore = LimitWrites {
        stage_wide: StageWide::Unset,
        overrides: BTreeMap::from([
            ("orders/GET".to_string(), (-1.0, -1)),
            ("pay/POST".to_string(), (2.5, 7)),
        ]),
    };
    assert_eq!(
        ops_of(&rest_patch(&restore)),
        vec![
            ("remove", "/*/*", None),
            ("replace", "/orders/GET/throttling/rateLimit", Some("-1")),
            ("replace", "/orders/GET/throttling/burstLimit", Some("-1")),
            ("replace", "/pay/POST/throttling/rateLimit", Some("2.5")),
            ("replace", "/pay/POST/throttling/burstLimit", Some("7")),
        ]
    );
    assert!(rest_patch(&LimitWrites::default()).is_empty());
}

#[test]
fn method_settings_of_their_own_are_recorded_and_closed_with_the_stage() {
    let settings = HashMap::from([
        (
            "*/*".to_string(),
            MethodSetting::builder()
                .throttling_rate_limit(100.0)
                .throttling_burst_limit(50)
                .build(),
        ),
        (
            "orders/GET".to_string(),
            MethodSetting::builder()
                .throttling_rate_limit(-1.0)
                .throttling_burst_limit(-1)
                .metrics_enabled(true)
                .build(),
        ),
    ]);
    let state = rest_throttle("r3st", "prod", Some(&settings));
    assert_eq!(state.stage_wide(), limits(100.0, 50));
    assert_eq!(
        state.overrides,
        BTreeMap::from([("orders/GET".to_string(), limits(-1.0, -1))])
    );
    let (proposed, cut) = cut_of(&state);
    assert!(
        proposed
            .reason
            .contains("method orders/GET set throttling of their own"),
        "{}",
        proposed.reason
    );
    assert!(cut.after.is_closed());
    assert_eq!(ApiGatewayStageThrottle.check_states(&cut), Ok(()));
    // An after that leaves a method open is refused.
    let mut open = cut.clone();
    open.after
        .overrides
        .get_mut("orders/GET")
        .unwrap()
        .rate_limit = Some(5.0);
    assert!(ApiGatewayStageThrottle.check_states(&open).is_err());
    // A stage closed stage-wide but with a method still open is proposed.
    let half_closed = StageThrottle {
        overrides: BTreeMap::from([("orders/GET".to_string(), limits(20.0, 10))]),
        ..rest_stage(Some(0.0), Some(0))
    };
    assert!(propose(&half_closed).is_some());
    assert_eq!(propose(&half_closed.closed()), None);
    // Plans written before overrides were recorded still read.
    let old: StageThrottle = serde_json::from_value(serde_json::json!({
        "family": "rest", "api_id": "r3st", "stage_name": "prod", "rate_limit": 100.0, "burst_limit": 50
    }))
    .unwrap();
    assert!(old.overrides.is_empty());
}

#[test]
fn undo_writes_back_only_the_parts_still_at_zero_and_reports_the_others() {
    let prior = StageThrottle {
        overrides: BTreeMap::from([
            ("orders/GET".to_string(), limits(20.0, 10)),
            ("pay/POST".to_string(), limits(-1.0, -1)),
            ("gone/GET".to_string(), limits(1.0, 1)),
        ]),
        ..rest_stage(None, None)
    };
    let mut now = prior.closed();
    now.overrides.insert("pay/POST".into(), limits(3.0, 3));
    now.overrides.remove("gone/GET");
    let undo_writes = |prior: &StageThrottle, now: &StageThrottle| {
        let restore = to_restore(prior, now);
        (
            restore.writes(prior.family, &Quota::aws_default(String::new())),
            restore.conflicts,
        )
    };
    let (writes, conflicts) = undo_writes(&prior, &now);
    assert_eq!(writes.stage_wide, StageWide::Unset);
    assert_eq!(
        writes.overrides,
        BTreeMap::from([("orders/GET".to_string(), (20.0, 10))])
    );
    assert_eq!(conflicts.len(), 2, "{conflicts:?}");
    assert!(conflicts.iter().all(|c| c.starts_with("conflict:")));
    assert!(conflicts[0].contains("gone/GET") && conflicts[1].contains("pay/POST"));

    // Stage-wide opened by hand: kept; already restored: nothing to write.
    let mut reopened = prior.closed();
    reopened.rate_limit = Some(9.0);
    let (writes, conflicts) = undo_writes(&prior, &reopened);
    assert_eq!(writes.stage_wide, StageWide::Keep);
    assert!(
        conflicts[0].contains("now rate 9 and burst 0"),
        "{conflicts:?}"
    );
    let (writes, conflicts) = undo_writes(&prior, &prior);
    assert!(writes.is_empty() && conflicts.is_empty());
    let wide = rest_stage(Some(100.0), Some(50));
    assert_eq!(
        undo_writes(&wide, &wide.closed()).0.stage_wide,
        StageWide::Set(100.0, 50)
    );
}

#[test]
fn http_stages_without_limits_are_proposed_with_the_account_default_on_restore() {
    assert_eq!(propose(&http_stage(Some(0.0), Some(0))), None);
    let (proposed, cut) = cut_of(&http_stage(None, None));
    assert!(
        proposed.reason.contains("cannot unset"),
        "{}",
        proposed.reason
    );
    assert_eq!(ApiGatewayStageThrottle.check_states(&cut), Ok(()));
    // Routes without throttling of their own follow the default route settings: not overrides.
    let settings = V2Settings {
        default: None,
        routes: HashMap::from([
            (
                ROUTE.to_string(),
                RouteSettings::builder().throttling_rate_limit(40.0).build(),
            ),
            (
                "GET /".to_string(),
                RouteSettings::builder()
                    .detailed_metrics_enabled(true)
                    .build(),
            ),
        ]),
    };
    let state = http_throttle("h77api", "$default", &settings);
    assert_eq!(
        state.overrides,
        BTreeMap::from([(
            ROUTE.to_string(),
            Limits {
                rate_limit: Some(40.0),
                burst_limit: None
            }
        )])
    );
}

fn route(rate: Option<f64>, burst: Option<i32>) -> RouteSettings {
    let mut settings = RouteSettings::builder()
        .detailed_metrics_enabled(true)
        .logging_level(LoggingLevel::Error);
    if let Some(rate) = rate {
        settings = settings.throttling_rate_limit(rate);
    }
    if let Some(burst) = burst {
        settings = settings.throttling_burst_limit(burst);
    }
    settings.build()
}

fn get_stage(
    stage: (Option<f64>, Option<i32>),
    hooks: (Option<f64>, Option<i32>),
) -> GetStageOutput {
    GetStageOutput::builder()
        .stage_name("$default")
        .default_route_settings(route(stage.0, stage.1))
        .route_settings(ROUTE, route(hooks.0, hooks.1))
        .build()
}

fn sends(
    req: &aws_sdk_apigatewayv2::operation::update_stage::UpdateStageInput,
    stage: (f64, i32),
    hooks: (f64, i32),
) -> bool {
    let default = req.default_route_settings().unwrap();
    let hook = &req.route_settings().unwrap()[ROUTE];
    req.api_id() == Some("h77api")
        && req.stage_name() == Some("$default")
        && default.throttling_rate_limit() == Some(stage.0)
        && default.throttling_burst_limit() == Some(stage.1)
        && hook.throttling_rate_limit() == Some(hooks.0)
        && hook.throttling_burst_limit() == Some(hooks.1)
        // The other settings are sent back unchanged.
        && default.detailed_metrics_enabled() == Some(true)
        && default.logging_level() == Some(&LoggingLevel::Error)
        && hook.detailed_metrics_enabled() == Some(true)
}

/// The emulator has no v2 UpdateStage: the cut and its undo are checked on the requests they send.
#[tokio::test]
async fn mocked_http_api_stage_and_its_throttled_route_are_closed_and_restored_keeping_other_settings()
 {
    let state = http_throttle(
        "h77api",
        "$default",
        &V2Settings {
            default: Some(route(Some(250.0), Some(100))),
            routes: HashMap::from([(ROUTE.to_string(), route(Some(40.0), Some(20)))]),
        },
    );
    let (proposed, cut) = cut_of(&state);
    assert!(
        proposed.reason.contains(&format!("route {ROUTE}")),
        "{}",
        proposed.reason
    );

    let open = mock!(V2::get_stage)
        .then_output(|| get_stage((Some(250.0), Some(100)), (Some(40.0), Some(20))));
    let close = mock!(V2::update_stage)
        .match_requests(|req| sends(req, (0.0, 0), (0.0, 0)))
        .then_output(|| UpdateStageOutput::builder().build());
    let client = mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, &[&open, &close]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
    let record = ApiGatewayStageThrottle.apply(&ctx, &cut).await.unwrap();
    assert_eq!(close.num_calls(), 1);

    let closed =
        mock!(V2::get_stage).then_output(|| get_stage((Some(0.0), Some(0)), (Some(0.0), Some(0))));
    let reopen = mock!(V2::update_stage)
        .match_requests(|req| sends(req, (250.0, 100), (40.0, 20)))
        .then_output(|| UpdateStageOutput::builder().build());
    let client = mock_client!(
        aws_sdk_apigatewayv2,
        RuleMode::MatchAny,
        &[&closed, &reopen]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
    assert_eq!(reopen.num_calls(), 1, "{outcome:?}");
    assert_eq!(
        outcome.notes,
        vec![
            "h77api/$default: rate 250 and burst 100 put back".to_string(),
            format!("h77api/$default: route {ROUTE} rate 40 and burst 20 put back"),
        ]
    );

    // Changed after the cut: left alone.
    let changed =
        mock!(V2::get_stage).then_output(|| get_stage((Some(5.0), Some(5)), (Some(6.0), Some(6))));
    let untouched = mock!(V2::update_stage).then_output(|| UpdateStageOutput::builder().build());
    let client = mock_client!(
        aws_sdk_apigatewayv2,
        RuleMode::MatchAny,
        &[&changed, &untouched]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigatewayv2(client);
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
    assert_eq!(untouched.num_calls(), 0);
    assert_eq!(outcome.notes.len(), 2, "{outcome:?}");
    assert!(
        outcome.notes.iter().all(|n| n.starts_with("conflict")),
        "{outcome:?}"
    );
}

/// A v2 stage without limits of its own runs under the account's quota, which the v2 API cannot go back
/// to: restore gives the stage the quota GetAccount reports (raised here to 20,000 and 8,000), not AWS's
/// default; and AWS's default only when GetAccount does not answer.
#[tokio::test]
async fn mocked_a_v2_stage_without_limits_gets_the_accounts_own_quota_back() {
    use aws_sdk_apigateway::Client as V1;
    use aws_sdk_apigateway::operation::get_account::GetAccountOutput;
    use aws_sdk_apigateway::types::ThrottleSettings;

    let state = http_throttle(
        "h77api",
        "$default",
        &V2Settings {
            default: None,
            routes: HashMap::new(),
        },
    );
    let (_, cut) = cut_of(&state);
    let record = ApiGatewayStageThrottle.undo_record_for(&cut).unwrap();
    let closed = || {
        mock!(V2::get_stage).then_output(|| {
            aws_sdk_apigatewayv2::operation::get_stage::GetStageOutput::builder()
                .stage_name("$default")
                .default_route_settings(route(Some(0.0), Some(0)))
                .build()
        })
    };
    let sends_default = |rate: f64, burst: i32| {
        mock!(V2::update_stage)
            .match_requests(move |req| {
                req.default_route_settings().is_some_and(|d| {
                    d.throttling_rate_limit() == Some(rate)
                        && d.throttling_burst_limit() == Some(burst)
                })
            })
            .then_output(|| UpdateStageOutput::builder().build())
    };

    let (read, raised) = (closed(), sends_default(20_000.0, 8_000));
    let quota = mock!(V1::get_account).then_output(|| {
        GetAccountOutput::builder()
            .throttle_settings(
                ThrottleSettings::builder()
                    .rate_limit(20_000.0)
                    .burst_limit(8_000)
                    .build(),
            )
            .build()
    });
    let ctx = RegionCtx::for_tests("us-east-1")
        .mock_apigatewayv2(mock_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            &[&read, &raised]
        ))
        .mock_apigateway(mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&quota]
        ));
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
    assert_eq!(raised.num_calls(), 1, "{outcome:?}");
    assert!(
        outcome.notes[0].contains("as GetAccount reports it (rate 20000, burst 8000)"),
        "{outcome:?}"
    );

    // GetAccount refused (no apigateway:GET on /account): AWS's documented default, said so.
    let (read, default) = (closed(), sends_default(10_000.0, 5_000));
    let denied = mock!(V1::get_account).then_error(|| {
        aws_sdk_apigateway::operation::get_account::GetAccountError::generic(
            aws_sdk_apigateway::error::ErrorMetadata::builder()
                .code("AccessDeniedException")
                .build(),
        )
    });
    let ctx = RegionCtx::for_tests("us-east-1")
        .mock_apigatewayv2(mock_client!(
            aws_sdk_apigatewayv2,
            RuleMode::MatchAny,
            &[&read, &default]
        ))
        .mock_apigateway(mock_client!(
            aws_sdk_apigateway,
            RuleMode::MatchAny,
            &[&denied]
        ));
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
    assert_eq!(default.num_calls(), 1, "{outcome:?}");
    assert!(
        outcome.notes[0].contains(
            "AWS's default, since GetAccount could not be read (apigateway:GET /account failed: AccessDeniedException"
        ),
        "{outcome:?}"
    );
}

/// A v2 stage or route that set only one of rate and burst ran under the account's quota for the other,
/// which the v2 API cannot unset once the cut set it. Regression test for restore writing AWS's default
/// there (10,000 or 5,000) whatever the account's quota, and calling the pair "put back": the other limit
/// gets the quota GetAccount reports (raised here to 20,000 and 8,000), and the plan and the notes say
/// what is set where the stage or route had none. Where every limit was the stage's own, GetAccount is
/// not asked.
#[tokio::test]
async fn mocked_a_v2_limit_set_alone_gets_the_accounts_quota_for_the_other_and_restore_says_so() {
    use aws_sdk_apigateway::Client as V1;
    use aws_sdk_apigateway::operation::get_account::GetAccountOutput;
    use aws_sdk_apigateway::types::ThrottleSettings;

    let raised = || {
        mock!(V1::get_account).then_output(|| {
            GetAccountOutput::builder()
                .throttle_settings(
                    ThrottleSettings::builder()
                        .rate_limit(20_000.0)
                        .burst_limit(8_000)
                        .build(),
                )
                .build()
        })
    };
    let closed = || {
        mock!(V2::get_stage).then_output(|| get_stage((Some(0.0), Some(0)), (Some(0.0), Some(0))))
    };
    let ctx = |v2: &[&aws_smithy_mocks::Rule], v1: &[&aws_smithy_mocks::Rule]| {
        RegionCtx::for_tests("us-east-1")
            .mock_apigatewayv2(mock_client!(aws_sdk_apigatewayv2, RuleMode::MatchAny, v2))
            .mock_apigateway(mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, v1))
    };

    let state = http_throttle(
        "h77api",
        "$default",
        &V2Settings {
            default: Some(route(Some(250.0), None)),
            routes: HashMap::from([(ROUTE.to_string(), route(None, Some(20)))]),
        },
    );
    let (proposed, cut) = cut_of(&state);
    for needed in [
        "restore puts back its rate 250; it sets no burst of its own",
        "restore sets the account's burst quota in the region as the stage's own",
        &format!("Of those, {ROUTE} set only one of rate and burst"),
    ] {
        assert!(
            proposed.reason.contains(needed),
            "{needed}: {}",
            proposed.reason
        );
    }
    let record = ApiGatewayStageThrottle.undo_record_for(&cut).unwrap();
    let (read, quota) = (closed(), raised());
    let reopen = mock!(V2::update_stage)
        .match_requests(|req| sends(req, (250.0, 8_000), (20_000.0, 20)))
        .then_output(|| UpdateStageOutput::builder().build());
    let outcome = ApiGatewayStageThrottle
        .undo(&ctx(&[&read, &reopen], &[&quota]), &record)
        .await
        .unwrap();
    assert_eq!(
        (reopen.num_calls(), quota.num_calls()),
        (1, 1),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.notes,
        vec![
            "h77api/$default: rate 250 put back; it set no burst of its own, which the v2 API cannot restore exactly: burst set to the account's quota in the region, as GetAccount reports it (8000)".to_string(),
            format!("h77api/$default: route {ROUTE} burst 20 put back; it set no rate of its own, which the v2 API cannot restore exactly: rate set to the account's quota in the region, as GetAccount reports it (20000)"),
        ]
    );

    let own = http_throttle(
        "h77api",
        "$default",
        &V2Settings {
            default: Some(route(Some(250.0), Some(100))),
            routes: HashMap::from([(ROUTE.to_string(), route(Some(40.0), Some(20)))]),
        },
    );
    let record = ApiGatewayStageThrottle
        .undo_record_for(&cut_of(&own).1)
        .unwrap();
    let (read, quota) = (closed(), raised());
    let reopen = mock!(V2::update_stage)
        .match_requests(|req| sends(req, (250.0, 100), (40.0, 20)))
        .then_output(|| UpdateStageOutput::builder().build());
    let outcome = ApiGatewayStageThrottle
        .undo(&ctx(&[&read, &reopen], &[&quota]), &record)
        .await
        .unwrap();
    assert_eq!(
        (reopen.num_calls(), quota.num_calls()),
        (1, 0),
        "{outcome:?}"
    );
}

/// The emulator ignores the removal of `*/*` method settings: the request is checked here.
#[tokio::test]
async fn mocked_rest_stage_without_prior_limits_has_its_stage_wide_settings_removed() {
    use aws_sdk_apigateway::Client as V1;
    use aws_sdk_apigateway::operation::get_stage::GetStageOutput as RestStage;
    use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput as RestUpdate;

    let record = ApiGatewayStageThrottle
        .undo_record_for(&cut_of(&rest_stage(None, None)).1)
        .unwrap();
    let closed_then_removed = || {
        mock!(V1::get_stage)
            .sequence()
            .output(|| {
                RestStage::builder()
                    .stage_name("prod")
                    .method_settings(
                        "*/*",
                        MethodSetting::builder()
                            .throttling_rate_limit(0.0)
                            .throttling_burst_limit(0)
                            .build(),
                    )
                    .build()
            })
            .output(|| RestStage::builder().stage_name("prod").build())
            .build()
    };
    let closed = closed_then_removed();
    let remove = mock!(V1::update_stage)
        .match_requests(|req| {
            let ops = req.patch_operations();
            req.rest_api_id() == Some("r3st")
                && req.stage_name() == Some("prod")
                && ops.len() == 1
                && ops[0].op() == Some(&Op::Remove)
                && ops[0].path() == Some("/*/*")
        })
        .then_output(|| RestUpdate::builder().build());
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&closed, &remove]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
    assert_eq!(remove.num_calls(), 1);
    assert_eq!(
        outcome.notes,
        vec!["r3st/prod: stage-wide method settings removed, as before".to_string()]
    );
}

/// A REST stage with stage-wide limits and `methods` methods of their own, each with distinct limits.
fn large_rest_stage(methods: usize) -> StageThrottle {
    StageThrottle {
        overrides: (0..methods)
            .map(|i| {
                (
                    format!("res{i:03}/GET"),
                    limits(i as f64 + 1.0, i as i32 + 1),
                )
            })
            .collect(),
        ..rest_stage(Some(100.0), Some(50))
    }
}

#[test]
fn large_writes_go_in_batches_the_stage_wide_first_each_limit_pair_whole() {
    let writes = LimitWrites {
        stage_wide: StageWide::Set(0.0, 0),
        overrides: large_rest_stage(45)
            .overrides
            .keys()
            .map(|key| (key.clone(), (0.0, 0)))
            .collect(),
    };
    let batches = writes.batches(LIMITS_PER_UPDATE);
    assert_eq!(
        batches.iter().map(LimitWrites::len).collect::<Vec<_>>(),
        [20, 20, 6]
    );
    assert_eq!(batches[0].stage_wide, StageWide::Set(0.0, 0));
    assert!(batches[1..].iter().all(|b| b.stage_wide == StageWide::Keep));
    let mut rejoined = BTreeMap::new();
    for batch in &batches {
        let ops = rest_patch(batch);
        assert!(ops.len() <= 2 * LIMITS_PER_UPDATE, "{}", ops.len());
        rejoined.extend(batch.overrides.clone());
    }
    assert_eq!(rejoined, writes.overrides);
    // A small write is one batch; nothing to write is none.
    let small = LimitWrites {
        stage_wide: StageWide::Unset,
        overrides: BTreeMap::new(),
    };
    assert_eq!(small.batches(LIMITS_PER_UPDATE), vec![small.clone()]);
    assert!(LimitWrites::default().batches(LIMITS_PER_UPDATE).is_empty());
}

/// API Gateway's answer to a patch it finds too large: BadRequestException, HTTP 400 (UpdateStage's
/// documented errors), with the message AWS sends for it.
fn update_size_too_large() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    let mut response = HttpResponse::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(
            r#"{"message":"Update size too large. Try updating stage in multiple UpdateStage operations"}"#,
        ),
    );
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", "BadRequestException");
    response
        .headers_mut()
        .insert("Content-Type", "application/json");
    response
}

type Patches = std::sync::Arc<std::sync::Mutex<Vec<Vec<(String, Option<String>)>>>>;

/// A REST UpdateStage mock that refuses patches of more than `max_ops` operations as AWS does, and
/// records the ones it accepts.
fn update_stage_refusing_more_than(max_ops: usize, accepted: Patches) -> aws_smithy_mocks::Rule {
    use aws_sdk_apigateway::Client as V1;
    use aws_sdk_apigateway::operation::update_stage::UpdateStageOutput as RestUpdate;
    use aws_smithy_mocks::MockResponse;

    mock!(V1::update_stage).then_compute_response(move |req| {
        let ops = req.patch_operations();
        if ops.len() > max_ops {
            return MockResponse::Http(update_size_too_large());
        }
        accepted.lock().unwrap().push(
            ops.iter()
                .map(|op| {
                    (
                        op.path().unwrap_or_default().to_string(),
                        op.value().map(str::to_string),
                    )
                })
                .collect(),
        );
        MockResponse::Output(RestUpdate::builder().build())
    })
}

/// A stage with 50 methods of their own: the cut goes out in batches, and where AWS still finds a
/// batch too large (here: more than 16 operations), it is halved until AWS takes it. Every limit is
/// written exactly once, the stage-wide ones in the first request AWS accepts.
#[tokio::test]
async fn mocked_a_large_rest_stage_is_closed_in_batches_aws_accepts() {
    let state = large_rest_stage(50);
    let (_, cut) = cut_of(&state);
    let accepted = Patches::default();
    let update = update_stage_refusing_more_than(16, accepted.clone());
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
    ApiGatewayStageThrottle.apply(&ctx, &cut).await.unwrap();

    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() > 1, "{} requests", accepted.len());
    assert!(accepted.iter().all(|ops| ops.len() <= 16));
    assert_eq!(
        accepted[0][..2],
        [
            (
                "/*/*/throttling/rateLimit".to_string(),
                Some("0".to_string())
            ),
            (
                "/*/*/throttling/burstLimit".to_string(),
                Some("0".to_string())
            )
        ]
    );
    let mut written: Vec<String> = accepted
        .concat()
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let count = written.len();
    written.sort();
    written.dedup();
    assert_eq!(written.len(), count, "no limit written twice");
    assert_eq!(count, 2 * (1 + 50), "the stage-wide pair and each method's");
    // 51 limits go as batches of 20, 20 and 11 (40, 40 and 22 operations), all refused; each 20 is
    // halved to 10 and 10 (refused again), then to four of 5; the 11 to 6 and 5. So 7 refused, 10 taken.
    assert_eq!(accepted.len(), 10);
    assert_eq!(update.num_calls(), 7 + 10);
}

/// A single limit AWS still refuses cannot be split further: the error is the cut's.
#[tokio::test]
async fn mocked_a_patch_too_large_even_alone_fails_the_cut() {
    let (_, cut) = cut_of(&rest_stage(Some(100.0), Some(50)));
    let update = update_stage_refusing_more_than(1, Patches::default());
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
    let err = ApiGatewayStageThrottle.apply(&ctx, &cut).await.unwrap_err();
    assert!(is_update_too_large(&err), "{err}");
    assert_eq!(update.num_calls(), 1);
}

/// What GetStage returns for a REST stage in the given state.
fn rest_get_stage(
    state: &StageThrottle,
) -> aws_sdk_apigateway::operation::get_stage::GetStageOutput {
    let setting = |limits: &Limits| {
        MethodSetting::builder()
            .throttling_rate_limit(limits.rate_limit.unwrap())
            .throttling_burst_limit(limits.burst_limit.unwrap())
            .build()
    };
    let mut stage = aws_sdk_apigateway::operation::get_stage::GetStageOutput::builder()
        .stage_name(&state.stage_name)
        .method_settings("*/*", setting(&state.stage_wide()));
    for (key, limits) in &state.overrides {
        stage = stage.method_settings(key, setting(limits));
    }
    stage.build()
}

/// Apply stopped after its first batch (a crash: the journal holds the cut's intent, so restore undoes
/// it from `undo_record_for`, which is `before`). The stage then has the stage-wide limits and the first
/// 19 methods at 0 and the rest untouched: undo puts back exactly those 20, in batches, and reports no
/// conflict for the methods the cut never reached.
#[tokio::test]
async fn mocked_undo_after_a_crash_between_batches_puts_back_exactly_what_ran() {
    use aws_sdk_apigateway::Client as V1;

    let before = large_rest_stage(50);
    let (_, cut) = cut_of(&before);
    let record = ApiGatewayStageThrottle.undo_record_for(&cut).unwrap();
    let first_batch = LimitWrites {
        stage_wide: StageWide::Set(0.0, 0),
        overrides: before
            .overrides
            .keys()
            .map(|key| (key.clone(), (0.0, 0)))
            .collect(),
    }
    .batches(LIMITS_PER_UPDATE)
    .remove(0);
    let mut live = before.closed();
    for (key, limits) in &before.overrides {
        if !first_batch.overrides.contains_key(key) {
            live.overrides.insert(key.clone(), *limits);
        }
    }
    assert_eq!(first_batch.overrides.len(), 19);
    let stage = rest_get_stage(&live);
    let read = mock!(V1::get_stage).then_output(move || stage.clone());
    let accepted = Patches::default();
    let update = update_stage_refusing_more_than(40, accepted.clone());
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&read, &update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();

    let written: BTreeMap<String, Option<String>> =
        accepted.lock().unwrap().concat().into_iter().collect();
    let mut expected = BTreeMap::from([
        (
            "/*/*/throttling/rateLimit".to_string(),
            Some("100".to_string()),
        ),
        (
            "/*/*/throttling/burstLimit".to_string(),
            Some("50".to_string()),
        ),
    ]);
    for key in first_batch.overrides.keys() {
        let was = before.overrides[key];
        expected.insert(
            format!("/{key}/throttling/rateLimit"),
            Some(was.rate_limit.unwrap().to_string()),
        );
        expected.insert(
            format!("/{key}/throttling/burstLimit"),
            Some(was.burst_limit.unwrap().to_string()),
        );
    }
    assert_eq!(written, expected);
    assert!(
        outcome.notes.iter().all(|n| !n.starts_with("conflict")),
        "{outcome:?}"
    );
    assert_eq!(outcome.notes.len(), 20, "{outcome:?}");

    // Restore run again once everything is back: nothing to write.
    let stage = rest_get_stage(&before);
    let read = mock!(V1::get_stage).then_output(move || stage.clone());
    let untouched = update_stage_refusing_more_than(40, Patches::default());
    let client = mock_client!(aws_sdk_apigateway, RuleMode::MatchAny, &[&read, &untouched]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_apigateway(client);
    let outcome = ApiGatewayStageThrottle.undo(&ctx, &record).await.unwrap();
    assert_eq!(untouched.num_calls(), 0);
    assert_eq!(
        outcome.notes,
        vec!["r3st/prod: throttling already as before".to_string()]
    );
}
