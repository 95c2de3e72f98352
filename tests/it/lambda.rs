//! The Lambda kinds end to end on the emulator: `lambda_throttle`, `lambda_url_restrict` and
//! `lambda_permission_remove`, plan → apply → restore, with each function's concurrency, URL
//! configuration (auth type, CORS, invoke mode) and resource policy compared before and after.

use std::collections::BTreeMap;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::serverless::{self, SeededServerless};

/// A resource policy's statements in Sid order: the order of statements carries no meaning, and a
/// restore may re-add them in another.
pub fn statements_by_sid(policy: &str) -> String {
    let document: serde_json::Value = serde_json::from_str(policy).unwrap();
    let mut statements = document["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    statements.sort_by_key(|s| s["Sid"].as_str().unwrap_or_default().to_string());
    serde_json::Value::Array(statements).to_string()
}

/// Everything the Lambda cuts could touch, per function.
pub async fn lambda_state(
    lambda: &aws_sdk_lambda::Client,
    seeded: &SeededServerless,
) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for function in &seeded.functions {
        let concurrency = lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
            .unwrap();
        state.insert(
            format!("{function} concurrency"),
            format!("{:?}", concurrency.reserved_concurrent_executions()),
        );
        let url = match lambda
            .get_function_url_config()
            .function_name(function)
            .send()
            .await
        {
            Ok(url) => format!(
                "{} {:?} {:?} {:?}",
                url.function_url(),
                url.auth_type(),
                url.cors(),
                url.invoke_mode()
            ),
            Err(_) => "no URL".into(),
        };
        state.insert(format!("{function} url"), url);
        let policy = match lambda.get_policy().function_name(function).send().await {
            Ok(out) => statements_by_sid(out.policy().unwrap_or_default()),
            Err(_) => "no policy".into(),
        };
        state.insert(format!("{function} policy"), policy);
    }
    let (function, alias) = (&seeded.public_function, &seeded.alias);
    let policy = match lambda
        .get_policy()
        .function_name(function)
        .qualifier(alias)
        .send()
        .await
    {
        Ok(out) => statements_by_sid(out.policy().unwrap_or_default()),
        Err(_) => "no policy".into(),
    };
    state.insert(format!("{function}:{alias} policy"), policy);
    state
}

async fn seed(emulator: &Emulator) -> (aws_sdk_lambda::Client, SeededServerless) {
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = serverless::seed(&config).await.expect("seeding Lambda");
    (aws_sdk_lambda::Client::new(&config), seeded)
}

fn plan_and_apply(emulator: &Emulator, seeded: &SeededServerless) {
    let function = &seeded.public_function;
    emulator
        .hikkonuki()
        .args(["plan", "--regions", "us-east-1", "--out", "plans/p.yaml"])
        .assert()
        .success()
        .stdout(contains(format!("~ lambda_throttle/us-east-1/{function}")))
        .stdout(contains("~ lambda_throttle/us-east-1/nightly-report"))
        .stdout(contains("run after restore"))
        .stdout(contains(format!(
            "~ lambda_url_restrict/us-east-1/{function}"
        )))
        .stdout(contains(format!(
            "~ lambda_permission_remove/us-east-1/{function}/{}",
            seeded.public_statement_id
        )))
        .stdout(contains(format!(
            "~ lambda_permission_remove/us-east-1/{function}:{}/{}",
            seeded.alias, seeded.alias_statement_id
        )));
    emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--yes"])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn public_functions_are_throttled_closed_and_restored_exactly() {
    let emulator = Emulator::start();
    let (lambda, seeded) = seed(&emulator).await;
    let before = lambda_state(&lambda, &seeded).await;
    assert!(before[&format!("{} policy", seeded.public_function)].contains("\"Principal\":\"*\""));
    assert!(
        before[&format!("{}:{} policy", seeded.public_function, seeded.alias)]
            .contains(&seeded.alias_statement_id),
        "{before:?}"
    );

    plan_and_apply(&emulator, &seeded);
    let cut = lambda_state(&lambda, &seeded).await;
    let function = &seeded.public_function;
    assert_eq!(cut[&format!("{function} concurrency")], "Some(0)");
    assert_eq!(cut["nightly-report concurrency"], "Some(0)");
    assert!(
        cut[&format!("{function} url")].contains("AwsIam"),
        "{cut:?}"
    );
    assert!(
        cut[&format!("{function} url")].starts_with(&seeded.function_url),
        "the URL keeps its address: {cut:?}"
    );
    assert!(
        !cut[&format!("{function} policy")].contains(&seeded.public_statement_id),
        "{cut:?}"
    );
    assert!(
        !cut[&format!("{function}:{} policy", seeded.alias)].contains(&seeded.alias_statement_id),
        "the alias's own public statement is cut too: {cut:?}"
    );

    emulator
        .hikkonuki()
        .args(["restore", "plans/p.rollback.yaml", "--yes"])
        .assert()
        .success();
    assert_eq!(lambda_state(&lambda, &seeded).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_concurrency_and_auth_set_after_the_cut_alone() {
    let emulator = Emulator::start();
    let (lambda, seeded) = seed(&emulator).await;
    plan_and_apply(&emulator, &seeded);
    let function = &seeded.public_function;
    // The responder lets the function run a little, and keeps the URL behind IAM on purpose.
    lambda
        .put_function_concurrency()
        .function_name(function)
        .reserved_concurrent_executions(2)
        .send()
        .await
        .unwrap();
    emulator
        .hikkonuki()
        .args(["restore", "plans/p.rollback.yaml", "--yes"])
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: {function}'s reserved concurrency was changed to 2 after the cut; left alone"
        )));
    let after = lambda_state(&lambda, &seeded).await;
    assert_eq!(after[&format!("{function} concurrency")], "Some(2)");
    // The other cuts were restored.
    assert_eq!(after["nightly-report concurrency"], "None");
    assert!(
        after[&format!("{function} url")].contains("None"),
        "{after:?}"
    );
}
