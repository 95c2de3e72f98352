//! The Lambda kinds end to end on the emulator: `lambda_throttle`, `lambda_url_restrict` and
//! `lambda_permission_remove`, plan → apply → restore, with each function's concurrency, URL
//! configuration (auth type, CORS, invoke mode) and resource policy compared before and after.

use std::collections::BTreeMap;

use predicates::prelude::*;
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

/// One statement of a function's resource policy, by Sid.
async fn statement(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    sid: &str,
) -> serde_json::Value {
    let policy = lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
        .unwrap();
    let document: serde_json::Value =
        serde_json::from_str(policy.policy().unwrap_or_default()).unwrap();
    document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .cloned()
        .unwrap_or_else(|| panic!("no statement {sid} in {document}"))
}

async fn seed(emulator: &Emulator) -> (aws_sdk_lambda::Client, SeededServerless) {
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = serverless::seed(&config).await.expect("seeding Lambda");
    (aws_sdk_lambda::Client::new(&config), seeded)
}

fn plan_and_apply(emulator: &Emulator, seeded: &SeededServerless) {
    let function = &seeded.public_function;
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .arg("--detailed-exitcode")
        .assert()
        // The seed makes an IAM role and no users, so discovery is complete and cuts are proposed.
        .code(2)
        .stdout(contains("INCOMPLETE").not())
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
    let plan: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let url_cut = plan["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cut| cut["kind"] == "lambda_url_restrict")
        .expect("a URL cut");
    assert_eq!(
        url_cut["before"]["cors"]["allow_origins"],
        serde_json::json!(["https://shop.leaky.example"]),
        "the URL's CORS settings are part of `before`: {url_cut}"
    );
    emulator.apply("plans/p.yaml").assert().success();
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

    emulator.restore("plans/p.rollback.yaml").assert().success();
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
    // ...and grants the URL statement's ID again, this time to one account only.
    lambda
        .add_permission()
        .function_name(function)
        .statement_id(&seeded.public_statement_id)
        .action("lambda:InvokeFunctionUrl")
        .principal("111122223333")
        .function_url_auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap();
    let regranted = statement(&lambda, function, &seeded.public_statement_id).await;
    assert_eq!(regranted["Principal"], "111122223333", "{regranted}");
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: {function}'s reserved concurrency was changed to 2 after the cut; left alone"
        )))
        .stderr(contains(format!(
            "conflict: statement {} on {function} was re-added with other content after the cut; left alone",
            seeded.public_statement_id
        )));
    let after = lambda_state(&lambda, &seeded).await;
    assert_eq!(after[&format!("{function} concurrency")], "Some(2)");
    // The other cuts were restored.
    assert_eq!(
        statement(&lambda, function, &seeded.public_statement_id).await,
        regranted
    );
    assert_eq!(after["nightly-report concurrency"], "None");
    assert!(
        after[&format!("{function} url")].contains("None"),
        "{after:?}"
    );
}

/// A function URL deleted and created again after the cut has another address: restore must not open
/// the new one (whoever made it chose its auth type), and says so; the other cuts of the function are
/// restored.
#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_function_url_made_again_after_the_cut_alone() {
    use aws_sdk_lambda::types::FunctionUrlAuthType;

    let emulator = Emulator::start();
    let (lambda, seeded) = seed(&emulator).await;
    let before = lambda_state(&lambda, &seeded).await;
    plan_and_apply(&emulator, &seeded);
    let function = &seeded.public_function;
    let old_url = lambda
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
        .unwrap()
        .function_url()
        .to_string();
    lambda
        .delete_function_url_config()
        .function_name(function)
        .send()
        .await
        .unwrap();
    let new_url = lambda
        .create_function_url_config()
        .function_name(function)
        .auth_type(FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap()
        .function_url()
        .to_string();
    assert_ne!(
        new_url, old_url,
        "the emulator gives a new URL a new address"
    );
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: {function}'s URL is now {new_url} (was {old_url}); left alone"
        )));
    let now = lambda
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (now.function_url(), now.auth_type()),
        (new_url.as_str(), &FunctionUrlAuthType::AwsIam)
    );
    // Everything else the plan cut is back as it was.
    let mut after = lambda_state(&lambda, &seeded).await;
    let mut expected = before;
    let url_key = format!("{function} url");
    assert!(expected.remove(&url_key).is_some() && after.remove(&url_key).is_some());
    assert_eq!(after, expected);
}
