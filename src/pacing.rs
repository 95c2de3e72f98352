//! Client-side pacing and call accounting for every AWS call.
//!
//! AWS throttles each account per region and, for EC2, per API action, each action on its own token bucket
//! (<https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>: non-mutating actions such
//! as `Describe*` hold 100 tokens refilled at 20 per second; mutating actions far fewer — the documented
//! default is 50 refilled at 5 per second). Running into those limits turns a large apply into a storm of
//! `RequestLimitExceeded` and backoff; pacing each (region, action) bucket on our side keeps every action
//! at its limit while different actions run side by side.
//!
//! Some actions also have a fixed quota per account that AWS does not raise, far below any general
//! bucket: API Gateway's `CreateDeployment` allows one request every 5 seconds per account
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html>). Those are paced
//! account-wide, and even with general pacing off ([`fixed_quota`]).
//!
//! How: an interceptor on every client tags each request with its service, operation and region (an
//! unsigned header added after signing), and the HTTP client wrapper reads the tag, counts the call, waits
//! for a token from each bucket the call draws from, strips the tag and sends the request. Retries pass
//! through again, so they are paced and counted too.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// tokio's clock, so that paced waits and the buckets agree (and tests can pause time).
use tokio::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

const CALL_TAG: &str = "x-hikkonuki-call";

/// A bucket's shape: how many calls may burst, and how many tokens come back per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketLimit {
    pub burst: f64,
    pub per_second: f64,
}

impl BucketLimit {
    /// Parses `BURST:PER_SECOND`, e.g. `100:20`.
    pub fn parse(text: &str) -> Result<BucketLimit, String> {
        let (burst, rate) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not BURST:PER_SECOND (e.g. 100:20)"))?;
        let burst: f64 = burst
            .trim()
            .parse()
            .map_err(|_| format!("`{burst}` is not a number"))?;
        let per_second: f64 = rate
            .trim()
            .parse()
            .map_err(|_| format!("`{rate}` is not a number"))?;
        if burst < 1.0 || per_second <= 0.0 {
            return Err(format!(
                "`{text}`: the burst must be at least 1 and the rate above 0"
            ));
        }
        Ok(BucketLimit { burst, per_second })
    }
}

/// The limits applied per (region, action).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacingLimits {
    /// Describe/Get/List actions. Default 100 tokens, 20 per second (EC2's documented non-mutating limit).
    pub read: BucketLimit,
    /// Every other action. Default 50 tokens, 5 per second (EC2's documented mutating limit).
    pub write: BucketLimit,
}

impl Default for PacingLimits {
    fn default() -> Self {
        PacingLimits {
            read: BucketLimit {
                burst: 100.0,
                per_second: 20.0,
            },
            write: BucketLimit {
                burst: 50.0,
                per_second: 5.0,
            },
        }
    }
}

/// Whether an operation only reads (`Describe*`, `Get*`, `List*`).
pub fn is_read_only(operation: &str) -> bool {
    ["Describe", "Get", "List"]
        .iter()
        .any(|prefix| operation.starts_with(prefix))
}

/// One AWS call as the pacer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The service, lower case without spaces (`ec2`, `apigateway`, `s3control`).
    pub service: String,
    /// The API action, e.g. `CreateDeployment`.
    pub operation: String,
    /// A region name, or `global` when the client has none.
    pub region: String,
}

impl Call {
    pub fn new(service: &str, operation: &str, region: &str) -> Call {
        Call {
            // The SDK names services for people ("API Gateway", "S3 Control"); buckets, tags and --stats
            // use one word.
            service: service
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase(),
            operation: operation.to_string(),
            region: region.to_string(),
        }
    }

    /// `service:Operation`, as counted for --stats.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }

    fn to_tag(&self) -> String {
        format!("{} {}", self.action(), self.region)
    }

    fn from_tag(tag: &str) -> Call {
        let (action, region) = tag.split_once(' ').unwrap_or((tag, "global"));
        let (service, operation) = action.split_once(':').unwrap_or(("unknown", action));
        Call::new(service, operation, region)
    }
}

/// One token bucket a call draws from: what AWS counts together, and the bucket's size.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// `REGION/service:Operation` for a per-region, per-action bucket; `account/service:Operation` for a
    /// quota AWS counts per account across regions.
    pub key: String,
    pub limit: BucketLimit,
}

/// "N requests every S seconds" as a bucket: N may go at once, then N per S seconds.
const fn every(requests: f64, seconds: f64) -> BucketLimit {
    BucketLimit {
        burst: requests,
        per_second: requests / seconds,
    }
}

/// API Gateway's fixed per-action quotas for creating, deploying and managing APIs, per account, which
/// AWS does not raise (<https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html>,
/// "API Gateway quotas for creating, deploying and managing an API"). CreateRestApi and ImportRestApi
/// are left out: their quota depends on the endpoint type, which the request alone does not tell.
const APIGATEWAY_FIXED_QUOTAS: &[(&str, BucketLimit)] = &[
    ("CreateApiKey", every(5.0, 1.0)),
    ("CreateDeployment", every(1.0, 5.0)),
    ("CreateDocumentationVersion", every(1.0, 20.0)),
    ("CreateDomainName", every(1.0, 30.0)),
    ("CreateResource", every(5.0, 1.0)),
    ("DeleteApiKey", every(5.0, 1.0)),
    ("DeleteDomainName", every(1.0, 30.0)),
    ("DeleteResource", every(5.0, 1.0)),
    ("DeleteRestApi", every(1.0, 30.0)),
    ("GetResources", every(5.0, 2.0)),
    ("ImportDocumentationParts", every(1.0, 30.0)),
    ("PutRestApi", every(1.0, 1.0)),
    ("UpdateAccount", every(1.0, 20.0)),
    ("UpdateDomainName", every(1.0, 30.0)),
    ("UpdateUsagePlan", every(1.0, 20.0)),
];

/// The fixed quota AWS applies to this call account-wide, when it has one. These are paced even with
/// general pacing off: no retry policy absorbs "one request every 5 seconds" (`CreateDeployment`) once
/// more than a handful of calls queue up, and AWS will not raise them.
pub fn fixed_quota(call: &Call) -> Option<BucketLimit> {
    match call.service.as_str() {
        "apigateway" => APIGATEWAY_FIXED_QUOTAS
            .iter()
            .find(|(operation, _)| *operation == call.operation)
            .map(|(_, limit)| *limit),
        _ => None,
    }
}

/// The buckets a call draws a token from. `limits` None (general pacing off) leaves only the fixed
/// quotas.
pub fn budgets(call: &Call, limits: Option<&PacingLimits>) -> Vec<Budget> {
    let mut budgets = Vec::new();
    if let Some(limit) = fixed_quota(call) {
        budgets.push(Budget {
            key: format!("account/{}", call.action()),
            limit,
        });
    }
    if let Some(limits) = limits {
        budgets.push(Budget {
            key: format!("{}/{}", call.region, call.action()),
            limit: if is_read_only(&call.operation) {
                limits.read
            } else {
                limits.write
            },
        });
    }
    budgets
}

struct Bucket {
    tokens: f64,
    updated: Instant,
    limit: BucketLimit,
}

impl Bucket {
    fn full(limit: BucketLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            updated: now,
            limit,
        }
    }

    /// Adds what has refilled since the last look, up to the burst.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        self.updated = now;
    }

    /// How long until a token is there (zero when one is).
    fn wait_for_token(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.limit.per_second)
        }
    }

    /// Takes one token, or says how long until one is there.
    #[cfg(test)]
    fn take(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        match self.wait_for_token() {
            Duration::ZERO => {
                self.tokens -= 1.0;
                None
            }
            wait => Some(wait),
        }
    }
}

/// Token buckets, and the count of calls made.
pub struct Pacer {
    limits: Option<PacingLimits>,
    buckets: Mutex<HashMap<String, Bucket>>,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Pacer {
    /// `None` turns general pacing off: calls are counted, and only the fixed quotas are paced.
    pub fn new(limits: Option<PacingLimits>) -> Pacer {
        Pacer {
            limits,
            buckets: Mutex::new(HashMap::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts the call, then waits until every bucket it draws from has a token and takes one from each
    /// at once (so a call waiting on one bucket holds no token of another meanwhile).
    pub async fn admit(&self, call: &Call) {
        *self
            .calls
            .lock()
            .expect("call counter lock")
            .entry(call.action())
            .or_default() += 1;
        let budgets = budgets(call, self.limits.as_ref());
        if budgets.is_empty() {
            return;
        }
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().expect("bucket lock");
                let now = Instant::now();
                let mut wait = Duration::ZERO;
                for budget in &budgets {
                    let bucket = buckets
                        .entry(budget.key.clone())
                        .or_insert_with(|| Bucket::full(budget.limit, now));
                    bucket.refill(now);
                    wait = wait.max(bucket.wait_for_token());
                }
                if wait.is_zero() {
                    for budget in &budgets {
                        if let Some(bucket) = buckets.get_mut(&budget.key) {
                            bucket.tokens -= 1.0;
                        }
                    }
                }
                wait
            };
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Calls made so far, per `service:Operation`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().expect("call counter lock").clone()
    }
}

/// Tags each request with `service:Operation region`, for the paced HTTP client to read.
#[derive(Debug, Clone)]
pub struct CallTagger;

impl Intercept for CallTagger {
    fn name(&self) -> &'static str {
        "hikkonuki-call-tagger"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "Unknown".into()));
        let region = cfg
            .load::<aws_types::region::Region>()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "global".into());
        let call = Call::new(&service, &operation, &region);
        context
            .request_mut()
            .headers_mut()
            .insert(CALL_TAG, call.to_tag());
        Ok(())
    }
}

/// Wraps the real HTTP client: every request waits for its bucket, then goes out untagged.
#[derive(Debug, Clone)]
pub struct PacedHttpClient {
    inner: SharedHttpClient,
    pacer: Arc<Pacer>,
}

impl PacedHttpClient {
    pub fn new(inner: SharedHttpClient, pacer: Arc<Pacer>) -> PacedHttpClient {
        PacedHttpClient { inner, pacer }
    }
}

impl HttpClient for PacedHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacer: self.pacer.clone(),
        })
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
}

impl HttpConnector for PacedConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let tag = request.headers_mut().remove(CALL_TAG);
        let inner = self.inner.clone();
        let pacer = self.pacer.clone();
        HttpConnectorFuture::new(async move {
            if let Some(tag) = tag {
                pacer.admit(&Call::from_tag(&tag)).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_refuse_nonsense() {
        assert_eq!(
            BucketLimit::parse("100:20").unwrap(),
            BucketLimit {
                burst: 100.0,
                per_second: 20.0
            }
        );
        assert!(
            BucketLimit::parse("100")
                .unwrap_err()
                .contains("BURST:PER_SECOND")
        );
        assert!(
            BucketLimit::parse("0:5")
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(
            BucketLimit::parse("x:5")
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn read_only_operations_are_recognised() {
        assert!(is_read_only("DescribeSecurityGroups"));
        assert!(is_read_only("GetPolicy"));
        assert!(is_read_only("ListAccessKeys"));
        assert!(!is_read_only("RevokeSecurityGroupIngress"));
        assert!(!is_read_only("UpdateAccessKey"));
    }

    #[test]
    fn a_bucket_allows_its_burst_then_makes_callers_wait_for_the_refill() {
        let start = Instant::now();
        let mut bucket = Bucket {
            tokens: 2.0,
            updated: start,
            limit: BucketLimit {
                burst: 2.0,
                per_second: 4.0,
            },
        };
        assert_eq!(bucket.take(start), None);
        assert_eq!(bucket.take(start), None);
        let wait = bucket.take(start).expect("the burst is spent");
        assert_eq!(wait, Duration::from_millis(250));
        assert_eq!(bucket.take(start + Duration::from_millis(250)), None);
        // A long pause refills only up to the burst.
        assert_eq!(bucket.take(start + Duration::from_secs(60)), None);
        assert_eq!(bucket.take(start + Duration::from_secs(60)), None);
        assert!(bucket.take(start + Duration::from_secs(60)).is_some());
    }

    fn call(service: &str, operation: &str, region: &str) -> Call {
        Call::new(service, operation, region)
    }

    #[test]
    fn calls_are_named_in_one_word_per_service_and_survive_the_tag() {
        let deployment = call("API Gateway", "CreateDeployment", "eu-west-1");
        assert_eq!(deployment.action(), "apigateway:CreateDeployment");
        assert_eq!(Call::from_tag(&deployment.to_tag()), deployment);
        assert_eq!(
            call("S3 Control", "GetPublicAccessBlock", "global").action(),
            "s3control:GetPublicAccessBlock"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn admission_is_paced_per_action_and_every_call_is_counted() {
        let pacer = Pacer::new(Some(PacingLimits {
            read: BucketLimit {
                burst: 1.0,
                per_second: 1.0,
            },
            write: BucketLimit {
                burst: 1.0,
                per_second: 2.0,
            },
        }));
        let start = tokio::time::Instant::now();
        let revoke = call("EC2", "RevokeSecurityGroupIngress", "us-east-1");
        pacer.admit(&revoke).await;
        pacer.admit(&revoke).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500),
            "the second waits for a token"
        );
        // Another action, and the same action in another region, have buckets of their own.
        pacer
            .admit(&call("EC2", "DescribeSecurityGroups", "us-east-1"))
            .await;
        pacer
            .admit(&call("EC2", "RevokeSecurityGroupIngress", "eu-west-1"))
            .await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        let calls = pacer.calls();
        assert_eq!(calls["ec2:RevokeSecurityGroupIngress"], 3);
        assert_eq!(calls["ec2:DescribeSecurityGroups"], 1);
    }

    /// CreateDeployment: one request every 5 seconds per account, in whatever region, and whether or not
    /// general pacing is on; the first goes at once, so a run with one API does not wait at all.
    #[tokio::test(start_paused = true)]
    async fn deployments_go_one_per_five_seconds_account_wide_even_with_pacing_off() {
        for limits in [None, Some(PacingLimits::default())] {
            let pacer = Pacer::new(limits);
            let start = tokio::time::Instant::now();
            pacer
                .admit(&call("API Gateway", "CreateDeployment", "us-east-1"))
                .await;
            assert_eq!(start.elapsed(), Duration::ZERO, "{limits:?}");
            pacer
                .admit(&call("API Gateway", "CreateDeployment", "eu-west-1"))
                .await;
            pacer
                .admit(&call("API Gateway", "CreateDeployment", "us-east-1"))
                .await;
            assert_eq!(start.elapsed(), Duration::from_secs(10), "{limits:?}");
        }
        // With pacing off, nothing else waits.
        let pacer = Pacer::new(None);
        let start = tokio::time::Instant::now();
        for _ in 0..200 {
            pacer
                .admit(&call("API Gateway", "UpdateStage", "us-east-1"))
                .await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(pacer.calls()["apigateway:UpdateStage"], 200);
    }

    /// Callers queued on one bucket all get through, at its rate.
    #[tokio::test(start_paused = true)]
    async fn concurrent_deployments_queue_at_the_documented_rate() {
        let pacer = Arc::new(Pacer::new(Some(PacingLimits::default())));
        let start = tokio::time::Instant::now();
        let waiting: Vec<_> = (0..4)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer
                        .admit(&call("API Gateway", "CreateDeployment", "us-east-1"))
                        .await;
                    start.elapsed()
                })
            })
            .collect();
        let mut admitted = Vec::new();
        for task in waiting {
            admitted.push(task.await.unwrap());
        }
        admitted.sort();
        assert_eq!(
            admitted,
            [0, 5, 10, 15].map(Duration::from_secs).to_vec(),
            "one every 5 s"
        );
    }
}
