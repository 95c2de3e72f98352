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
    asked: Arc<Mutex<Vec<(Duration, String)>>>,
    /// The body answered to each action; an action not listed gets `<Action>Response` with `return`
    /// true, as EC2's writes answer.
    answers: HashMap<&'static str, String>,
    /// Actions refused, with the EC2 error code answered (HTTP 400).
    refused: HashMap<&'static str, &'static str>,
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
            refused: HashMap::new(),
        }
    }

    /// Answers `action` with `body` (an EC2 XML response).
    pub fn answering(mut self, action: &'static str, body: impl Into<String>) -> SlowEc2 {
        self.answers.insert(action, body.into());
        self
    }

    /// Refuses `action` with EC2's error `code`.
    pub fn refusing(mut self, action: &'static str, code: &'static str) -> SlowEc2 {
        self.refused.insert(action, code);
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
        let mut asked: Vec<String> = self
            .asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| at.as_secs() == second)
            .map(|(_, action)| action.clone())
            .collect();
        asked.sort();
        asked
    }
}

impl HttpConnector for SlowEc2 {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        let action = body
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .unwrap_or_default()
            .to_string();
        self.asked
            .lock()
            .unwrap()
            .push((self.start.elapsed(), action.clone()));
        let xmlns = r#"xmlns="http://ec2.amazonaws.com/doc/2016-11-15/""#;
        // https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
        let (status, answer) = match self.refused.get(action.as_str()) {
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
