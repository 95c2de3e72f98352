//! For tests: an EC2 endpoint that takes a second to answer each call, on tokio's clock (paused in the
//! tests, so a second costs nothing), and notes when each action was asked. Which calls a cut sends side
//! by side, and which only after an answer, then reads as the second each was asked in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use crate::aws::RegionCtx;

#[derive(Debug, Clone)]
pub struct SlowEc2 {
    start: tokio::time::Instant,
    asked: Arc<Mutex<Vec<(Duration, Form)>>>,
    /// The body answered to each action; an action not listed gets `<Action>Response` with `return`
    /// true, as EC2's writes answer.
    answers: HashMap<&'static str, String>,
    /// Requests refused, each with the EC2 error code answered (HTTP 400); the first that matches wins.
    refused: Vec<Refusal>,
}

/// One request's form fields, as the SDK sends them to EC2's query API.
#[derive(Debug, Clone)]
pub struct Form(String);

impl Form {
    /// The field's value as sent (still percent-encoded), or "" when the request has none.
    pub fn field(&self, name: &str) -> &str {
        self.0
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_default()
    }

    pub fn action(&self) -> &str {
        self.field("Action")
    }
}

type RequestTest = dyn Fn(&Form) -> bool + Send + Sync;

#[derive(Clone)]
struct Refusal {
    matches: Arc<RequestTest>,
    code: &'static str,
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Refusal({})", self.code)
    }
}

impl Default for SlowEc2 {
    fn default() -> SlowEc2 {
        SlowEc2::new()
    }
}

impl SlowEc2 {
    pub fn new() -> SlowEc2 {
        SlowEc2 {
            start: tokio::time::Instant::now(),
            asked: Arc::default(),
            answers: HashMap::new(),
            refused: Vec::new(),
        }
    }

    /// Answers `action` with `body` (an EC2 XML response).
    pub fn answering(mut self, action: &'static str, body: impl Into<String>) -> SlowEc2 {
        self.answers.insert(action, body.into());
        self
    }

    /// Refuses `action` with EC2's error `code`.
    pub fn refusing(self, action: &'static str, code: &'static str) -> SlowEc2 {
        self.refusing_where(code, move |form| form.action() == action)
    }

    /// Refuses every request `matches` picks with EC2's error `code`.
    pub fn refusing_where(
        mut self,
        code: &'static str,
        matches: impl Fn(&Form) -> bool + Send + Sync + 'static,
    ) -> SlowEc2 {
        self.refused.push(Refusal {
            matches: Arc::new(matches),
            code,
        });
        self
    }

    pub fn ctx(&self) -> RegionCtx {
        let config = aws_sdk_ec2::Config::builder()
            .with_test_defaults_v2()
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .http_client(self.clone())
            .build();
        RegionCtx::with_ec2("us-east-1", aws_sdk_ec2::Client::from_conf(config))
    }

    /// The actions asked during the given second, sorted.
    pub fn asked_in(&self, second: u64) -> Vec<String> {
        self.asked_in_as(second, |form| form.action().to_string())
    }

    /// The requests asked during the given second, each as `label` names it, sorted.
    pub fn asked_in_as(&self, second: u64, label: impl Fn(&Form) -> String) -> Vec<String> {
        let mut asked: Vec<String> = self
            .asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| at.as_secs() == second)
            .map(|(_, form)| label(form))
            .collect();
        asked.sort();
        asked
    }
}

impl HttpConnector for SlowEc2 {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let form =
            Form(String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned());
        let action = form.action().to_string();
        let refusal = self
            .refused
            .iter()
            .find(|refusal| (refusal.matches)(&form))
            .map(|refusal| refusal.code);
        self.asked
            .lock()
            .unwrap()
            .push((self.start.elapsed(), form));
        let xmlns = r#"xmlns="http://ec2.amazonaws.com/doc/2016-11-15/""#;
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
        let (status, answer) = match refusal {
            Some(code) => (
                400,
                format!(
                    "<Response><Errors><Error><Code>{code}</Code><Message>refused</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
                ),
            ),
            None => (
                200,
                self.answers.get(action.as_str()).cloned().unwrap_or_else(|| {
                    format!(
                        "<{action}Response {xmlns}><requestId>r-1</requestId><return>true</return></{action}Response>"
                    )
                }),
            ),
        };
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(HttpResponse::new(
                StatusCode::try_from(status).unwrap(),
                SdkBody::from(answer),
            ))
        })
    }
}

impl HttpClient for SlowEc2 {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
