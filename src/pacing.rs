//! Client-side pacing and call accounting for every AWS call.
//!
//! AWS throttles each account per region and, for EC2, per API action, each action on its own token bucket
//! (<https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>: non-mutating actions such
//! as `Describe*` hold 100 tokens refilled at 20 per second; mutating actions far fewer — the documented
//! default is 50 refilled at 5 per second). Running into those limits turns a large apply into a storm of
//! `RequestLimitExceeded` and backoff; pacing each (region, action) bucket on our side keeps every action
//! at its limit while different actions run side by side.
//!
//! How: an interceptor on every client tags each request with its service, operation and region (an
//! unsigned header added after signing), and the HTTP client wrapper reads the tag, counts the call, waits
//! for a token from that bucket, strips the tag and sends the request. Retries pass through again, so they
//! are paced and counted too.

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

struct Bucket {
    tokens: f64,
    updated: Instant,
    limit: BucketLimit,
}

impl Bucket {
    /// Takes one token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.limit.per_second,
            ))
        }
    }
}

/// Token buckets per (region, action), and the count of calls made.
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
    /// `None` counts calls without pacing them.
    pub fn new(limits: Option<PacingLimits>) -> Pacer {
        Pacer {
            limits,
            buckets: Mutex::new(HashMap::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Waits until the (region, service:operation) bucket has a token, and counts the call.
    pub async fn admit(&self, region: &str, action: &str) {
        *self
            .calls
            .lock()
            .expect("call counter lock")
            .entry(action.to_string())
            .or_default() += 1;
        let Some(limits) = self.limits else { return };
        let operation = action.rsplit(':').next().unwrap_or(action);
        let limit = if is_read_only(operation) {
            limits.read
        } else {
            limits.write
        };
        let key = format!("{region}/{action}");
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().expect("bucket lock");
                let bucket = buckets.entry(key.clone()).or_insert_with(|| Bucket {
                    tokens: limit.burst,
                    updated: Instant::now(),
                    limit,
                });
                bucket.take(Instant::now())
            };
            match wait {
                None => return,
                Some(wait) => tokio::time::sleep(wait).await,
            }
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
            .map(|m| (m.service().to_ascii_lowercase(), m.name().to_string()))
            .unwrap_or_else(|| ("unknown".into(), "Unknown".into()));
        let region = cfg
            .load::<aws_types::region::Region>()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "global".into());
        context
            .request_mut()
            .headers_mut()
            .insert(CALL_TAG, format!("{service}:{operation} {region}"));
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
                let (action, region) = tag.split_once(' ').unwrap_or((tag.as_str(), "global"));
                pacer.admit(region, action).await;
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
        pacer
            .admit("us-east-1", "ec2:RevokeSecurityGroupIngress")
            .await;
        pacer
            .admit("us-east-1", "ec2:RevokeSecurityGroupIngress")
            .await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500),
            "the second waits for a token"
        );
        // Another action, and the same action in another region, have buckets of their own.
        pacer.admit("us-east-1", "ec2:DescribeSecurityGroups").await;
        pacer
            .admit("eu-west-1", "ec2:RevokeSecurityGroupIngress")
            .await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        let calls = pacer.calls();
        assert_eq!(calls["ec2:RevokeSecurityGroupIngress"], 3);
        assert_eq!(calls["ec2:DescribeSecurityGroups"], 1);
    }
}
