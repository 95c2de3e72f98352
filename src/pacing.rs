//! Client-side pacing and call accounting for every AWS call.
//!
//! AWS throttles each account per region with token buckets, and running into them turns a large apply
//! into a storm of throttling errors and backoff. Pacing each call on our side by the bucket AWS draws it
//! from keeps every bucket at its limit while calls on other buckets run side by side ([`budgets`]):
//!
//! - **EC2**: one bucket per action, sized by the action's category in AWS's table
//!   (<https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html>, "Request token bucket
//!   sizes and refill rates"): non-mutating actions (`Describe*`, `List*`, `Search*`, `Get*`) 100 tokens
//!   refilled at 20 per second; a few describes sent with neither a filter nor pagination draw on a
//!   smaller bucket of their own, 50 at 10; mutating and resource-intensive actions 50 at 5; and the
//!   uncategorized actions their own sizes, some far smaller (`ModifyVpcEndpoint` and
//!   `DeleteVpcEndpoints`: 4 tokens refilled at 0.3 per second).
//! - **Lambda**: one budget of 15 requests per second for every control-plane action together, besides
//!   `GetFunction` (100 per second) and `GetPolicy` (15 per second)
//!   (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>, "Lambda API requests").
//! - **API Gateway**: one budget of 10 requests per second, burst 40, for every control-plane action of
//!   REST, HTTP and WebSocket APIs together ("Total operations"), and fixed quotas per account for some
//!   actions, which AWS does not raise: `CreateDeployment` allows one request every 5 seconds
//!   (<https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html>). Those fixed quotas
//!   are paced account-wide, and even with general pacing off ([`fixed_quota`]).
//! - **Every other service**: one bucket per region and action, EC2's non-mutating or mutating size.
//!
//! How: an interceptor on every client tags each request with its service, operation and region (an
//! unsigned header added after signing), and the HTTP client wrapper reads the tag, counts the call, waits
//! for a token from each bucket the call draws from, strips the tag and sends the request. Retries pass
//! through again, so they are paced and counted too.
//!
//! The wait happens inside the SDK's transmit phase, where its upload-throughput check runs: the clients
//! must be built with [`stalled_stream_protection`], or a call held for its token counts as a stalled
//! upload.
//!
//! A worker of a run holds a place in the run's width ([`WidthShare`]) and gives it back while one of
//! its calls waits for a token: a worker behind a slow bucket does not keep others, whose buckets are
//! full, from starting.

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
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
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

/// The general buckets, per (region, action): EC2's non-mutating and mutating categories, and the calls
/// of services AWS publishes no bucket table for. The other buckets are AWS's documented ones
/// ([`budgets`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacingLimits {
    /// Describe/Get/List/Search actions. Default 100 tokens, 20 per second (EC2's documented
    /// non-mutating limit).
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

/// Whether an operation only reads (`Describe*`, `Get*`, `List*`, `Search*`: EC2's non-mutating
/// actions).
pub fn is_read_only(operation: &str) -> bool {
    ["Describe", "Get", "List", "Search"]
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
    /// EC2: the request names neither a filter nor pagination, which for a few describes draws on a
    /// smaller bucket ([`EC2_UNFILTERED_DESCRIBES`]).
    pub unfiltered: bool,
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
            unfiltered: false,
        }
    }

    /// The same call, sent with neither a filter nor pagination.
    pub fn unfiltered(self) -> Call {
        Call {
            unfiltered: true,
            ..self
        }
    }

    /// `service:Operation`, as counted for --stats.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }

    fn to_tag(&self) -> String {
        let mut tag = format!("{} {}", self.action(), self.region);
        if self.unfiltered {
            tag.push_str(UNFILTERED_MARK);
        }
        tag
    }

    fn from_tag(tag: &str) -> Call {
        let (tag, unfiltered) = match tag.strip_suffix(UNFILTERED_MARK) {
            Some(rest) => (rest, true),
            None => (tag, false),
        };
        let (action, region) = tag.split_once(' ').unwrap_or((tag, "global"));
        let (service, operation) = action.split_once(':').unwrap_or(("unknown", action));
        Call {
            unfiltered,
            ..Call::new(service, operation, region)
        }
    }
}

const UNFILTERED_MARK: &str = " unfiltered";

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

/// CloudTrail's `LookupEvents`: "The rate of lookup requests is limited to two per second, per account,
/// per Region. If this limit is exceeded, a throttling error occurs."
/// (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html>). No burst is
/// documented: two, one second's worth. Not a read by its name (`Lookup`), it drew on the general write
/// bucket, 50 at 5 a second, and `watch`, asking it for every cut not held on every look, was throttled.
const CLOUDTRAIL_LOOKUP_EVENTS: BucketLimit = BucketLimit {
    burst: 2.0,
    per_second: 2.0,
};

/// The EC2 describes that draw on a smaller bucket when sent with neither a filter nor pagination
/// (ec2-api-throttling.html, "Unfiltered and unpaginated non-mutating actions").
pub const EC2_UNFILTERED_DESCRIBES: &[&str] = &[
    "DescribeInstances",
    "DescribeInstanceStatus",
    "DescribeNetworkInterfaces",
    "DescribeSecurityGroups",
    "DescribeSnapshots",
    "DescribeSpotInstanceRequests",
    "DescribeVolumes",
];

/// Their smaller bucket: 50 tokens refilled at 10 per second.
const EC2_UNFILTERED: BucketLimit = BucketLimit {
    burst: 50.0,
    per_second: 10.0,
};

/// EC2's resource-intensive actions, each on its own bucket of 50 refilled at 5 per second
/// (ec2-api-throttling.html, "Resource-intensive actions").
const EC2_RESOURCE_INTENSIVE: &[&str] = &[
    "AcceptVpcPeeringConnection",
    "AuthorizeSecurityGroupIngress",
    "CancelSpotInstanceRequests",
    "CreateKeyPair",
    "CreateVpcPeeringConnection",
    "DeleteVpcPeeringConnection",
    "RejectVpcPeeringConnection",
    "RevokeSecurityGroupIngress",
    "RequestSpotInstances",
];

const EC2_RESOURCE_INTENSIVE_LIMIT: BucketLimit = BucketLimit {
    burst: 50.0,
    per_second: 5.0,
};

const fn bucket(burst: f64, per_second: f64) -> BucketLimit {
    BucketLimit { burst, per_second }
}

/// EC2's uncategorized actions, each with a bucket of its own size: (action, maximum capacity, refill
/// per second), as AWS's table lists them (ec2-api-throttling.html, "Uncategorized actions").
const EC2_UNCATEGORIZED: &[(&str, BucketLimit)] = &[
    ("AcceptVpcEndpointConnections", bucket(10.0, 1.0)),
    ("AdvertiseByoipCidr", bucket(1.0, 0.1)),
    ("AssignIpv6Addresses", bucket(100.0, 5.0)),
    ("AssignPrivateIpAddresses", bucket(100.0, 5.0)),
    ("AssignPrivateNatGatewayAddress", bucket(10.0, 1.0)),
    ("AssociateCapacityReservationBillingOwner", bucket(1.0, 0.5)),
    ("AssociateEnclaveCertificateIamRole", bucket(10.0, 1.0)),
    ("AssociateIamInstanceProfile", bucket(100.0, 5.0)),
    ("AssociateNatGatewayAddress", bucket(10.0, 1.0)),
    ("AttachVerifiedAccessTrustProvider", bucket(10.0, 2.0)),
    ("AuthorizeClientVpnIngress", bucket(5.0, 2.0)),
    ("CancelDeclarativePoliciesReport", bucket(1.0, 1.0)),
    ("CopyImage", bucket(100.0, 1.0)),
    ("CreateClientVpnRoute", bucket(5.0, 2.0)),
    ("CreateCoipCidr", bucket(5.0, 1.0)),
    ("CreateCoipPool", bucket(5.0, 1.0)),
    ("CreateDefaultSubnet", bucket(1.0, 1.0)),
    ("CreateDefaultVpc", bucket(1.0, 1.0)),
    ("CreateLaunchTemplateVersion", bucket(100.0, 5.0)),
    ("CreateNatGateway", bucket(10.0, 1.0)),
    ("CreateNetworkInterface", bucket(100.0, 5.0)),
    ("CreateRestoreImageTask", bucket(50.0, 0.1)),
    ("CreateSnapshot", bucket(100.0, 5.0)),
    ("CreateSnapshots", bucket(100.0, 5.0)),
    ("CreateSpotDatafeedSubscription", bucket(50.0, 3.0)),
    ("CreateStoreImageTask", bucket(50.0, 0.1)),
    ("CreateSubnetCidrReservation", bucket(5.0, 1.0)),
    ("CreateTags", bucket(100.0, 10.0)),
    ("CreateVerifiedAccessEndpoint", bucket(20.0, 4.0)),
    ("CreateVerifiedAccessGroup", bucket(10.0, 2.0)),
    ("CreateVerifiedAccessInstance", bucket(10.0, 2.0)),
    ("CreateVerifiedAccessTrustProvider", bucket(10.0, 2.0)),
    ("CreateVolume", bucket(100.0, 5.0)),
    ("CreateVpcEndpoint", bucket(4.0, 0.3)),
    ("CreateVpcEndpointServiceConfiguration", bucket(10.0, 1.0)),
    ("DeleteClientVpnRoute", bucket(5.0, 2.0)),
    ("DeleteCoipCidr", bucket(5.0, 1.0)),
    ("DeleteCoipPool", bucket(5.0, 1.0)),
    ("DeleteCoipPoolPermission", bucket(5.0, 1.0)),
    ("DeleteNatGateway", bucket(10.0, 1.0)),
    ("DeleteNetworkInterface", bucket(100.0, 5.0)),
    ("DeleteSnapshot", bucket(100.0, 5.0)),
    ("DeleteSpotDatafeedSubscription", bucket(50.0, 3.0)),
    ("DeleteSubnetCidrReservation", bucket(5.0, 1.0)),
    ("DeleteQueuedReservedInstances", bucket(5.0, 5.0)),
    ("DeleteTags", bucket(100.0, 10.0)),
    ("DeleteVerifiedAccessEndpoint", bucket(20.0, 4.0)),
    ("DeleteVerifiedAccessGroup", bucket(10.0, 2.0)),
    ("DeleteVerifiedAccessInstance", bucket(10.0, 2.0)),
    ("DeleteVerifiedAccessTrustProvider", bucket(10.0, 2.0)),
    ("DeleteVolume", bucket(100.0, 5.0)),
    ("DeleteVpcEndpoints", bucket(4.0, 0.3)),
    ("DeleteVpcEndpointServiceConfigurations", bucket(10.0, 1.0)),
    ("DeprovisionByoipCidr", bucket(1.0, 0.1)),
    ("DeregisterImage", bucket(100.0, 5.0)),
    ("DescribeAggregateIdFormat", bucket(10.0, 10.0)),
    ("DescribeByoipCidrs", bucket(1.0, 0.5)),
    (
        "DescribeCapacityBlockExtensionOfferings",
        bucket(10.0, 0.15),
    ),
    ("DescribeCapacityBlockOfferings", bucket(10.0, 0.15)),
    ("DescribeDeclarativePoliciesReports", bucket(5.0, 5.0)),
    ("DescribeHostReservations", bucket(5.0, 2.0)),
    ("DescribeHostReservationOfferings", bucket(5.0, 2.0)),
    ("DescribeIdentityIdFormat", bucket(10.0, 10.0)),
    ("DescribeIdFormat", bucket(10.0, 10.0)),
    ("DescribeInstanceTopology", bucket(1.0, 1.0)),
    ("DescribeMovingAddresses", bucket(1.0, 1.0)),
    ("DescribePrincipalIdFormat", bucket(10.0, 10.0)),
    ("DescribeReservedInstancesOfferings", bucket(10.0, 10.0)),
    ("DescribeSecurityGroupReferences", bucket(20.0, 5.0)),
    ("DescribeSpotDatafeedSubscription", bucket(100.0, 13.0)),
    ("DescribeSpotFleetInstances", bucket(100.0, 5.0)),
    ("DescribeSpotFleetRequestHistory", bucket(100.0, 5.0)),
    ("DescribeSpotFleetRequests", bucket(50.0, 3.0)),
    ("DescribeStaleSecurityGroups", bucket(20.0, 5.0)),
    ("DescribeStoreImageTasks", bucket(50.0, 0.5)),
    (
        "DescribeVerifiedAccessInstanceLoggingConfigurations",
        bucket(10.0, 2.0),
    ),
    ("DetachVerifiedAccessTrustProvider", bucket(10.0, 2.0)),
    ("DisableFastLaunch", bucket(5.0, 2.0)),
    ("DisableImageBlockPublicAccess", bucket(1.0, 0.1)),
    ("DisableSnapshotBlockPublicAccess", bucket(1.0, 0.1)),
    (
        "DisassociateCapacityReservationBillingOwner",
        bucket(1.0, 0.5),
    ),
    ("DisassociateEnclaveCertificateIamRole", bucket(10.0, 1.0)),
    ("DisassociateIamInstanceProfile", bucket(100.0, 5.0)),
    ("DisassociateNatGatewayAddress", bucket(10.0, 1.0)),
    ("EnableFastLaunch", bucket(5.0, 2.0)),
    ("EnableImageBlockPublicAccess", bucket(1.0, 0.1)),
    ("EnableSnapshotBlockPublicAccess", bucket(1.0, 0.1)),
    ("GetAssociatedEnclaveCertificateIamRoles", bucket(10.0, 1.0)),
    ("GetDeclarativePoliciesReportSummary", bucket(5.0, 5.0)),
    ("GetHostReservationPurchasePreview", bucket(5.0, 2.0)),
    ("ModifyImageAttribute", bucket(100.0, 5.0)),
    ("ModifyInstanceMetadataDefaults", bucket(2.0, 2.0)),
    ("ModifyInstanceMetadataOptions", bucket(100.0, 5.0)),
    ("ModifyLaunchTemplate", bucket(100.0, 5.0)),
    ("ModifyNetworkInterfaceAttribute", bucket(100.0, 5.0)),
    ("ModifySnapshotAttribute", bucket(100.0, 5.0)),
    ("ModifyVerifiedAccessEndpoint", bucket(20.0, 4.0)),
    ("ModifyVerifiedAccessEndpointPolicy", bucket(20.0, 4.0)),
    ("ModifyVerifiedAccessGroup", bucket(10.0, 2.0)),
    ("ModifyVerifiedAccessGroupPolicy", bucket(20.0, 4.0)),
    ("ModifyVerifiedAccessInstance", bucket(10.0, 2.0)),
    (
        "ModifyVerifiedAccessInstanceLoggingConfiguration",
        bucket(10.0, 2.0),
    ),
    ("ModifyVerifiedAccessTrustProvider", bucket(10.0, 2.0)),
    ("ModifyVpcEndpoint", bucket(4.0, 0.3)),
    ("ModifyVpcEndpointServiceConfiguration", bucket(10.0, 1.0)),
    ("MoveAddressToVpc", bucket(1.0, 1.0)),
    ("ProvisionByoipCidr", bucket(1.0, 0.1)),
    ("PurchaseCapacityBlock", bucket(10.0, 0.15)),
    ("PurchaseCapacityBlockExtension", bucket(10.0, 0.15)),
    ("PurchaseHostReservation", bucket(5.0, 2.0)),
    ("PurchaseReservedInstancesOffering", bucket(5.0, 5.0)),
    ("RejectVpcEndpointConnections", bucket(10.0, 1.0)),
    ("RestoreAddressToClassic", bucket(1.0, 1.0)),
    ("RevokeClientVpnIngress", bucket(5.0, 2.0)),
    ("RunInstances", bucket(5.0, 2.0)),
    ("StartDeclarativePoliciesReport", bucket(1.0, 1.0)),
    ("StartInstances", bucket(5.0, 2.0)),
    ("TerminateInstances", bucket(100.0, 5.0)),
    ("UnassignPrivateIpAddresses", bucket(100.0, 5.0)),
    ("UnassignPrivateNatGatewayAddress", bucket(10.0, 1.0)),
    ("WithdrawByoipCidr", bucket(1.0, 0.1)),
];

/// The category AWS's EC2 table puts a call in, with its bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ec2Category {
    NonMutating,
    UnfilteredNonMutating,
    Mutating,
    ResourceIntensive,
    /// An action with a bucket of its own size.
    Uncategorized(BucketLimit),
}

/// Which of EC2's categories `call` falls in (ec2-api-throttling.html, "Request token bucket sizes and
/// refill rates"). An uncategorized action's own entry wins over the category its name suggests, as the
/// table says ("receive their own token bucket sizes and refill rates, even though by definition they
/// fit in one of the other categories").
pub fn ec2_category(call: &Call) -> Ec2Category {
    let operation = call.operation.as_str();
    if let Some((_, limit)) = EC2_UNCATEGORIZED
        .iter()
        .find(|(name, _)| *name == operation)
    {
        Ec2Category::Uncategorized(*limit)
    } else if call.unfiltered && EC2_UNFILTERED_DESCRIBES.contains(&operation) {
        Ec2Category::UnfilteredNonMutating
    } else if is_read_only(operation) {
        Ec2Category::NonMutating
    } else if EC2_RESOURCE_INTENSIVE.contains(&operation) {
        Ec2Category::ResourceIntensive
    } else {
        Ec2Category::Mutating
    }
}

/// Whether an EC2 Query request (form-encoded) names a filter or pagination: `Filter.N.…`, `MaxResults`
/// or `NextToken` among its parameters.
pub fn ec2_request_is_filtered_or_paginated(body: &[u8]) -> bool {
    body.split(|b| *b == b'&').any(|parameter| {
        [&b"Filter."[..], b"MaxResults=", b"NextToken="]
            .iter()
            .any(|name| parameter.starts_with(name))
    })
}

/// Lambda: `GetFunction` and `GetPolicy` have a budget each, every other control-plane action shares one
/// of 15 requests per second per region; none of them can be increased (gettingstarted-limits.html,
/// "Lambda API requests"). The budgets are per second; a second's worth may go at once.
fn lambda_budget(call: &Call) -> (String, BucketLimit) {
    match call.operation.as_str() {
        "GetFunction" => (call.action(), bucket(100.0, 100.0)),
        "GetPolicy" => (call.action(), bucket(15.0, 15.0)),
        _ => ("lambda:control-plane".to_string(), bucket(15.0, 15.0)),
    }
}

/// API Gateway's "Total operations" across its control plane, REST (v1) and HTTP/WebSocket (v2) alike:
/// 10 requests per second with a burst of 40 (limits.html), per region.
const APIGATEWAY_TOTAL: BucketLimit = bucket(40.0, 10.0);

/// The buckets a call draws a token from: the fixed quota AWS counts per account, if any, and the bucket
/// of its region. `limits` None (general pacing off) leaves only the fixed quotas.
pub fn budgets(call: &Call, limits: Option<&PacingLimits>) -> Vec<Budget> {
    let mut budgets = Vec::new();
    if let Some(limit) = fixed_quota(call) {
        budgets.push(Budget {
            key: format!("account/{}", call.action()),
            limit,
        });
    }
    let Some(limits) = limits else {
        return budgets;
    };
    let per_action = |limit: BucketLimit| Budget {
        key: format!("{}/{}", call.region, call.action()),
        limit,
    };
    budgets.push(match call.service.as_str() {
        "ec2" => match ec2_category(call) {
            Ec2Category::NonMutating => per_action(limits.read),
            // A bucket apart from the action's filtered calls: AWS deducts those from the larger one.
            Ec2Category::UnfilteredNonMutating => Budget {
                key: format!("{}/{}{UNFILTERED_MARK}", call.region, call.action()),
                limit: EC2_UNFILTERED,
            },
            Ec2Category::Mutating => per_action(limits.write),
            Ec2Category::ResourceIntensive => per_action(EC2_RESOURCE_INTENSIVE_LIMIT),
            Ec2Category::Uncategorized(limit) => per_action(limit),
        },
        "lambda" => {
            let (name, limit) = lambda_budget(call);
            Budget {
                key: format!("{}/{name}", call.region),
                limit,
            }
        }
        "apigateway" | "apigatewayv2" => Budget {
            key: format!("{}/apigateway:control-plane", call.region),
            limit: APIGATEWAY_TOTAL,
        },
        "cloudtrail" if call.operation == "LookupEvents" => per_action(CLOUDTRAIL_LOOKUP_EVENTS),
        _ => per_action(if is_read_only(&call.operation) {
            limits.read
        } else {
            limits.write
        }),
    });
    budgets
}

/// How much later than our own bucket's refill a waiting call goes. AWS's bucket counts a call when it
/// arrives, and calls do not arrive as evenly as they leave (a new connection, a slower route, a busy
/// host): a call sent the instant our bucket holds a token can reach AWS's bucket a little before AWS's
/// has refilled, and is throttled, then retried after a backoff (for a bucket refilled every 10 s, 10 s
/// later). A judgement, not a measurement: on loopback the speed proxy (scripts/aws_speed_proxy.py)
/// showed early arrivals only at the end of a bucket's first burst, which [`RefillClock`] answers by
/// counting from the first answer; this margin is for the jitter a real network adds. In a bucket that holds
/// more than one token the margin costs this once per run of waiting, not per call: what refills
/// meanwhile stays in the bucket, so calls then leave at the bucket's rate, each this far behind AWS's
/// edge. A one-token bucket cannot hold it, so there every wait adds it (CreateDeployment: one call
/// every 5.1 s instead of 5).
pub const EDGE_MARGIN: Duration = Duration::from_millis(100);

struct Bucket {
    tokens: f64,
    updated: Instant,
    limit: BucketLimit,
    refill: RefillClock,
}

/// Whether our copy of a bucket refills yet. AWS's bucket starts full and begins refilling when the first
/// call it counts arrives: some time after we sent that call and before its answer came back. Counting
/// from the send, as this did, put our copy ahead of AWS's by the first call's delivery time, and the
/// benchmark showed what that costs: where a region's first calls crowd in together, the first of a
/// bucket can take 100 ms longer to arrive than later ones, so one call per region at the end of the
/// burst reached AWS's bucket a hair short of its token (0.988 to 0.9994 tokens left, 3 to 7 throttled
/// calls in a restore of 8 × 4 × 40) and was retried after a backoff. Counting from the first answer
/// keeps our copy at or behind AWS's whatever the delivery times; it costs a bucket the tokens of one
/// round trip, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefillClock {
    /// No call has drawn on the bucket yet.
    Idle,
    /// The first call is out; the refill starts when it has been answered.
    FirstCallOut,
    Running,
}

impl Bucket {
    fn full(limit: BucketLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            updated: now,
            limit,
            refill: RefillClock::Idle,
        }
    }

    /// Adds what has refilled since the last look, up to the burst, once the refill clock runs.
    fn refill(&mut self, now: Instant) {
        if self.refill == RefillClock::Running {
            let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        }
        self.updated = now;
    }

    /// Takes a token the caller knows is there; true when this is the bucket's first call, whose answer
    /// starts the refill clock.
    fn take_one(&mut self) -> bool {
        self.tokens -= 1.0;
        let first = self.refill == RefillClock::Idle;
        if first {
            self.refill = RefillClock::FirstCallOut;
        }
        first
    }

    /// The first call has been answered (or given up): the refill counts from now.
    fn start_refill(&mut self, now: Instant) {
        if self.refill == RefillClock::FirstCallOut {
            self.refill = RefillClock::Running;
            self.updated = now;
        }
    }

    /// How long until a token is there (zero when one is), plus [`EDGE_MARGIN`] when the caller has to
    /// wait.
    fn wait_for_token(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.limit.per_second) + EDGE_MARGIN
        }
    }

    /// Takes one token, or says how long until one is there.
    #[cfg(test)]
    fn take(&mut self, now: Instant) -> Option<Duration> {
        self.refill(now);
        match self.wait_for_token() {
            Duration::ZERO => {
                if self.take_one() {
                    self.start_refill(now);
                }
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
    /// Shared by the pacers of every account one run enters ([`Pacer::for_another_account`]), so the
    /// run's count covers them all.
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
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
            calls: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// A pacer for another account: AWS throttles each account on its own, so its buckets are its own;
    /// its calls are counted with this one's.
    pub fn for_another_account(&self) -> Pacer {
        Pacer {
            limits: self.limits,
            buckets: Mutex::new(HashMap::new()),
            calls: self.calls.clone(),
        }
    }

    /// Counts the call, then waits until every bucket it draws from has a token and takes one from each
    /// at once (so a call waiting on one bucket holds no token of another meanwhile). Hold the admission
    /// while the call is out and drop it once answered: a bucket's refill starts then when this was its
    /// first call ([`RefillClock`]).
    pub async fn admit(&self, call: &Call) -> Admission<'_> {
        *self
            .calls
            .lock()
            .expect("call counter lock")
            .entry(call.action())
            .or_default() += 1;
        let share = WIDTH_SHARE.try_with(Option::clone).ok().flatten();
        let mut admission = Admission {
            pacer: self,
            first_of: Vec::new(),
            share: None,
        };
        let budgets = budgets(call, self.limits.as_ref());
        if budgets.is_empty() {
            return admission.out_in(share);
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
                        if let Some(bucket) = buckets.get_mut(&budget.key)
                            && bucket.take_one()
                        {
                            admission.first_of.push(budget.key.clone());
                        }
                    }
                }
                wait
            };
            if wait.is_zero() {
                return admission.out_in(share);
            }
            // A worker's place in its run's width is given back while it waits (unless another of its
            // calls is out), and taken again before the tokens are looked at anew (the call is sent
            // holding it).
            if let Some(share) = &share {
                share.give_back();
            }
            tokio::time::sleep(wait).await;
            if let Some(share) = &share {
                share.take_again().await;
            }
        }
    }

    /// Calls made so far, per `service:Operation`.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().expect("call counter lock").clone()
    }
}

tokio::task_local! {
    /// The place in its run's width of the worker this task runs ([`WidthShare::run`]); `None` inside
    /// [`WidthShare::keeping_place`].
    static WIDTH_SHARE: Option<Arc<WidthShare>>;
}

/// A worker's place in a run's width (`--parallelism`: a semaphore of that many permits), given back
/// while one of its calls waits for a bucket's token ([`Pacer::admit`]) and taken again before the call
/// is sent.
///
/// Why: a run works side by side on kinds whose calls draw on different buckets. A worker whose call
/// waits for a slow bucket (`ModifyVpcEndpoint`: 4 tokens, then one every 3.3 s) does nothing with its
/// place meanwhile; held, a dozen of them would keep every other worker, whose buckets are full, from
/// starting, and the run would last as long as the slow bucket's calls and then the others', instead of
/// as long as the longer of the two. Calls out at AWS never outnumber the width; work started (waiting
/// for a token, or for its place back) may.
///
/// Works where the call's wait runs in the task that entered [`WidthShare::run`]: the SDK polls its
/// HTTP client in the caller's task (`a_call_waiting_for_its_token_through_the_sdk_gives_back_its_place`).
/// Elsewhere (no share in the task) a waiting call keeps its place, as before.
///
/// A worker may send several calls side by side (a network ACL's wave of entries): they share its one
/// place. It is given back only while none of them is out, and taken again by the first to wake; the
/// others go on in it. Each taking a place of its own, a worker's second call waited, at a width of one,
/// for the place its first held until the worker ended, which was never
/// (`a_workers_calls_waiting_side_by_side_share_its_place`).
pub struct WidthShare {
    width: Arc<tokio::sync::Semaphore>,
    place: Mutex<Place>,
    /// One of the worker's calls at a time waits for the place; the others then find it held.
    taking: tokio::sync::Mutex<()>,
}

/// A worker's place, when it holds one, and how many of its calls are out at AWS.
#[derive(Default)]
struct Place {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    calls_out: usize,
}

impl WidthShare {
    /// Waits for a place in `width`, then runs `work` in it: the place is given back while a call of
    /// `work`'s waits for a token, and for good when `work` ends.
    pub async fn run<F: std::future::Future>(
        width: &Arc<tokio::sync::Semaphore>,
        work: F,
    ) -> F::Output {
        let share = Arc::new(WidthShare {
            width: width.clone(),
            place: Mutex::new(Place::default()),
            taking: tokio::sync::Mutex::new(()),
        });
        share.take_again().await;
        WIDTH_SHARE.scope(Some(share), work).await
    }

    /// Runs `work` with its calls keeping their worker's place while they wait for a token: for work
    /// other workers may be waiting on while they hold their own places (a read one kind's cuts share,
    /// [`crate::aws::RegionCtx::once`]). Its place given back, such work could find every place held by
    /// workers waiting for it, and never get one again.
    pub async fn keeping_place<F: std::future::Future>(work: F) -> F::Output {
        WIDTH_SHARE.scope(None, work).await
    }

    fn place(&self) -> std::sync::MutexGuard<'_, Place> {
        self.place.lock().expect("width share lock")
    }

    fn give_back(&self) {
        let mut place = self.place();
        if place.calls_out == 0 {
            place.permit = None;
        }
    }

    async fn take_again(&self) {
        let _one_at_a_time = self.taking.lock().await;
        if self.place().permit.is_some() {
            return;
        }
        let permit = self
            .width
            .clone()
            .acquire_owned()
            .await
            .expect("a run's width is never closed");
        self.place().permit = Some(permit);
    }
}

/// A call let through by [`Pacer::admit`], held while it is out. Dropped when the call has been answered,
/// failed or was given up, it starts the refill of the buckets this call was the first to draw on.
pub struct Admission<'a> {
    pacer: &'a Pacer,
    first_of: Vec<String>,
    /// The worker's place this call is out in, which is not given back while it is.
    share: Option<Arc<WidthShare>>,
}

impl Admission<'_> {
    fn out_in(mut self, share: Option<Arc<WidthShare>>) -> Self {
        if let Some(share) = &share {
            share.place().calls_out += 1;
        }
        self.share = share;
        self
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if let Some(share) = self.share.take() {
            share.place().calls_out -= 1;
        }
        if self.first_of.is_empty() {
            return;
        }
        let mut buckets = self.pacer.buckets.lock().expect("bucket lock");
        let now = Instant::now();
        for key in &self.first_of {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.start_refill(now);
            }
        }
    }
}

/// Orders work so that consecutive items draw on different buckets: one item from each group in turn
/// (round-robin), groups in the order they first appear, each group's own order kept.
///
/// Why: a run hands items to its workers in order. In list order (a plan lists one region's cuts, then
/// the next region's), every worker soon waits on the same bucket, e.g. one region's
/// RevokeSecurityGroupIngress, refilled at 5 per second, while the same action's buckets in the other
/// regions sit full. Taken in turn, the workers draw on every group's bucket at once, and the run lasts
/// about as long as its busiest bucket needs, not the sum of them all. The caller names the group of an
/// item (the engine: a cut's region and kind), so this knows nothing of any service.
pub fn spread_over_buckets<T, K: Eq + std::hash::Hash>(
    items: impl IntoIterator<Item = T>,
    group_of: impl Fn(&T) -> K,
) -> Vec<T> {
    let groups = grouped_in_order(items, group_of);
    let total = groups.iter().map(Vec::len).sum();
    let mut groups: Vec<std::vec::IntoIter<T>> = groups.into_iter().map(Vec::into_iter).collect();
    let mut spread = Vec::with_capacity(total);
    while spread.len() < total {
        for group in &mut groups {
            if let Some(item) = group.next() {
                spread.push(item);
            }
        }
    }
    spread
}

/// `items` gathered by `group_of`: the groups in the order they first appear, each keeping its items'
/// order. How work is split into lanes (apply's kinds, restore's generations of one cut) and turns.
pub fn grouped_in_order<T, K: Eq + std::hash::Hash>(
    items: impl IntoIterator<Item = T>,
    group_of: impl Fn(&T) -> K,
) -> Vec<Vec<T>> {
    let mut group_index: HashMap<K, usize> = HashMap::new();
    let mut groups: Vec<Vec<T>> = Vec::new();
    for item in items {
        let next = groups.len();
        let index = *group_index.entry(group_of(&item)).or_insert(next);
        if index == next {
            groups.push(Vec::new());
        }
        groups[index].push(item);
    }
    groups
}

/// The SDK's stalled-stream protection for paced clients: the download check on, the upload check off.
///
/// The SDK checks a request's upload throughput from the start of its transmit phase, and fails the
/// attempt when less than 1 byte a second has gone out for longer than a 5 s grace period (then retries
/// it, at most 6 attempts in all). The paced connector holds a request there until its bucket has a
/// token, so a call queued for more than about 6 s behind a busy bucket (RevokeSecurityGroupEgress
/// refills 5 a second per region) was failed as stalled without ever being sent: the benchmark of
/// 8 regions × 4 VPCs × 40 groups counted 60 to 90 such attempts, each costing a token and a backoff,
/// and one cut failed after six. The requests hikkonuki sends are a few kilobytes held in memory, which
/// go out in one write once sent; a connection that stops answering shows in the response, which the
/// download check still watches.
pub fn stalled_stream_protection() -> StalledStreamProtectionConfig {
    StalledStreamProtectionConfig::enabled()
        .upload_enabled(false)
        .download_enabled(true)
        .grace_period(SDK_STALL_GRACE_PERIOD)
        .build()
}

/// The grace period the SDK's defaults give the stalled-stream checks (`BehaviorVersion::latest()`;
/// the builder's own default is 20 s): the download check keeps it.
const SDK_STALL_GRACE_PERIOD: Duration = Duration::from_secs(5);

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
        let mut call = Call::new(&service, &operation, &region);
        if call.service == "ec2" && EC2_UNFILTERED_DESCRIBES.contains(&call.operation.as_str()) {
            // A body the wrapper cannot read (streamed) is taken as unfiltered: the smaller bucket.
            let filtered = context
                .request()
                .body()
                .bytes()
                .is_some_and(ec2_request_is_filtered_or_paginated);
            if !filtered {
                call = call.unfiltered();
            }
        }
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
        // Taken here, in the task that sends the call: the answer counts for the work that sent it.
        let watch = crate::call_outcomes::current();
        HttpConnectorFuture::new(async move {
            let call = tag.as_ref().map(|tag| Call::from_tag(tag));
            // Held until the answer is in: see RefillClock.
            let _admission = match &call {
                Some(call) => Some(pacer.admit(call).await),
                None => None,
            };
            // An untagged call is not known to be a read: it counts as a write.
            let operation = call.as_ref().map_or("Untagged", |c| c.operation.as_str());
            let mut attempt = crate::call_outcomes::Attempt::sent(watch, operation);
            let answer = inner.call(request).await;
            attempt.answered(answer.as_ref().ok().map(|r| r.status().as_u16()));
            answer
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
            refill: RefillClock::Running,
        };
        assert_eq!(bucket.take(start), None);
        assert_eq!(bucket.take(start), None);
        let wait = bucket.take(start).expect("the burst is spent");
        assert_eq!(wait, Duration::from_millis(250) + EDGE_MARGIN);
        assert_eq!(bucket.take(start + Duration::from_millis(250)), None);
        // A long pause refills only up to the burst.
        assert_eq!(bucket.take(start + Duration::from_secs(60)), None);
        assert_eq!(bucket.take(start + Duration::from_secs(60)), None);
        assert!(bucket.take(start + Duration::from_secs(60)).is_some());
    }

    #[test]
    fn work_is_spread_over_its_buckets_in_turn_keeping_each_group_in_order() {
        // A plan's order: one region's cuts, then the next region's.
        let cuts = [
            ("us-east-1", "sg", 1),
            ("us-east-1", "sg", 2),
            ("us-east-1", "sg", 3),
            ("us-east-1", "nacl", 4),
            ("eu-west-1", "sg", 5),
            ("eu-west-1", "sg", 6),
            ("ap-northeast-1", "sg", 7),
        ];
        let spread = spread_over_buckets(cuts, |(region, kind, _)| (*region, *kind));
        let order: Vec<u32> = spread.iter().map(|(_, _, n)| *n).collect();
        // One of each group in turn, groups in the order they first appear; a group that runs out
        // leaves the turn to the others.
        assert_eq!(order, [1, 4, 5, 7, 2, 6, 3]);
        // Nothing lost or repeated.
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [1, 2, 3, 4, 5, 6, 7]);
        // One group: its order unchanged; nothing: nothing.
        assert_eq!(spread_over_buckets([3, 1, 2], |_| ()), [3, 1, 2]);
        assert!(spread_over_buckets(Vec::<u8>::new(), |_| ()).is_empty());
    }

    /// The issue's shape, on the pacer's own clock: 8 workers, 8 regions of 100 revokes each (the bucket
    /// holds 50 and refills 5 a second). In list order every worker waits on one region's bucket at a
    /// time (50 calls past the burst, 10 s, per region); spread over the buckets, the regions' buckets
    /// refill side by side and the run takes what one bucket needs.
    #[tokio::test(start_paused = true)]
    async fn spreading_work_over_buckets_lets_every_region_refill_at_once() {
        use futures_util::stream::{self, StreamExt};
        async fn run(order: Vec<&'static str>) -> Duration {
            let pacer = Pacer::new(Some(PacingLimits::default()));
            let start = tokio::time::Instant::now();
            stream::iter(order)
                .map(|region| {
                    let pacer = &pacer;
                    async move {
                        drop(
                            pacer
                                .admit(&call("EC2", "RevokeSecurityGroupIngress", region))
                                .await,
                        )
                    }
                })
                .buffer_unordered(8)
                .collect::<Vec<()>>()
                .await;
            start.elapsed()
        }
        let regions = [
            "us-east-1",
            "us-west-2",
            "eu-west-1",
            "ap-northeast-1",
            "eu-central-1",
            "us-east-2",
            "ap-southeast-2",
            "sa-east-1",
        ];
        let list_order: Vec<&str> = regions
            .iter()
            .flat_map(|region| std::iter::repeat_n(*region, 100))
            .collect();
        let in_list_order = run(list_order.clone()).await.as_secs_f64();
        let spread = run(spread_over_buckets(list_order, |region| *region))
            .await
            .as_secs_f64();
        // One bucket's need: (100 - 50) / 5 = 10 s, and the edge margin once.
        assert!(
            (spread - 10.0 - EDGE_MARGIN.as_secs_f64()).abs() < 0.01,
            "{spread}"
        );
        assert!(in_list_order > 4.0 * spread, "{in_list_order}");
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
        let revoke = call("EC2", "RevokeSecurityGroupEgress", "us-east-1");
        pacer.admit(&revoke).await;
        pacer.admit(&revoke).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500) + EDGE_MARGIN,
            "the second waits for a token"
        );
        // Another action, and the same action in another region, have buckets of their own.
        pacer.admit(&call("EC2", "DescribeVpcs", "us-east-1")).await;
        pacer
            .admit(&call("EC2", "RevokeSecurityGroupEgress", "eu-west-1"))
            .await;
        assert_eq!(start.elapsed(), Duration::from_millis(500) + EDGE_MARGIN);
        let calls = pacer.calls();
        assert_eq!(calls["ec2:RevokeSecurityGroupEgress"], 3);
        assert_eq!(calls["ec2:DescribeVpcs"], 1);
    }

    /// AWS's bucket starts refilling when its first call arrives, somewhere between our send and the
    /// answer; ours starts at the answer, so it is never ahead of AWS's. Two tokens, one a second: the
    /// first call answered after half a second, the third call waits for the token refilled a second
    /// after that answer, not after the send.
    #[tokio::test(start_paused = true)]
    async fn a_buckets_refill_counts_from_its_first_calls_answer() {
        let two_a_second = BucketLimit {
            burst: 2.0,
            per_second: 1.0,
        };
        let pacer = Pacer::new(Some(PacingLimits {
            read: two_a_second,
            write: two_a_second,
        }));
        let describe = call("EC2", "DescribeVpcs", "us-east-1");
        let start = tokio::time::Instant::now();
        let first = pacer.admit(&describe).await;
        let second = pacer.admit(&describe).await;
        drop(second);
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(first);
        drop(pacer.admit(&describe).await);
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1500) + EDGE_MARGIN,
            "a second after the first answer, not after the first send"
        );
        // From then on the clock runs: the next token a second later.
        drop(pacer.admit(&describe).await);
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(2500) + EDGE_MARGIN,
            "one a second once running"
        );
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
            // A one-token bucket keeps no margin: each wait adds it.
            assert_eq!(
                start.elapsed(),
                Duration::from_secs(10) + 2 * EDGE_MARGIN,
                "{limits:?}"
            );
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
            [
                Duration::ZERO,
                Duration::from_secs(5) + EDGE_MARGIN,
                Duration::from_secs(10) + 2 * EDGE_MARGIN,
                Duration::from_secs(15) + 3 * EDGE_MARGIN
            ],
            "one every 5 s, and the edge margin"
        );
    }

    /// The one budget of `call` under the default limits.
    fn only_budget(call: Call, limits: &PacingLimits) -> Budget {
        let mut budgets = budgets(&call, Some(limits));
        assert_eq!(budgets.len(), 1, "{call:?}: {budgets:?}");
        budgets.remove(0)
    }

    #[test]
    fn ec2_calls_are_paced_by_the_bucket_of_their_category_in_aws_table() {
        let limits = PacingLimits::default();
        let ec2 = |operation: &str| call("EC2", operation, "us-east-1");
        // Uncategorized actions have buckets of their own, some far smaller than any category's.
        for operation in [
            "ModifyVpcEndpoint",
            "DeleteVpcEndpoints",
            "CreateVpcEndpoint",
        ] {
            let budget = only_budget(ec2(operation), &limits);
            assert_eq!(budget.key, format!("us-east-1/ec2:{operation}"));
            assert_eq!(budget.limit, bucket(4.0, 0.3), "{operation}");
        }
        assert_eq!(
            only_budget(ec2("CreateTags"), &limits).limit,
            bucket(100.0, 10.0)
        );
        assert_eq!(
            only_budget(ec2("ModifyNetworkInterfaceAttribute"), &limits).limit,
            bucket(100.0, 5.0)
        );
        // A describe that is uncategorized is not a plain non-mutating action.
        assert_eq!(
            ec2_category(&ec2("DescribeSecurityGroupReferences")),
            Ec2Category::Uncategorized(bucket(20.0, 5.0))
        );

        // Unfiltered and unpaginated: a smaller bucket, apart from the same action's filtered calls.
        let unfiltered = only_budget(ec2("DescribeSecurityGroups").unfiltered(), &limits);
        let filtered = only_budget(ec2("DescribeSecurityGroups"), &limits);
        assert_eq!(unfiltered.limit, bucket(50.0, 10.0));
        assert_eq!(filtered.limit, bucket(100.0, 20.0));
        assert_ne!(unfiltered.key, filtered.key);
        // Only the listed describes have that smaller bucket.
        assert_eq!(
            ec2_category(&ec2("DescribeVpcs").unfiltered()),
            Ec2Category::NonMutating
        );
        for operation in EC2_UNFILTERED_DESCRIBES {
            assert_eq!(
                ec2_category(&ec2(operation).unfiltered()),
                Ec2Category::UnfilteredNonMutating
            );
        }

        assert_eq!(
            ec2_category(&ec2("SearchTransitGatewayRoutes")),
            Ec2Category::NonMutating
        );
        assert_eq!(
            ec2_category(&ec2("RevokeSecurityGroupIngress")),
            Ec2Category::ResourceIntensive
        );
        assert_eq!(
            only_budget(ec2("RevokeSecurityGroupIngress"), &limits).limit,
            bucket(50.0, 5.0)
        );
        assert_eq!(
            ec2_category(&ec2("RevokeSecurityGroupEgress")),
            Ec2Category::Mutating
        );
        assert_eq!(
            ec2_category(&ec2("DeleteNetworkAclEntry")),
            Ec2Category::Mutating
        );

        // --pace-read / --pace-write size the two general categories, not AWS's own buckets.
        let raised = PacingLimits {
            read: bucket(300.0, 60.0),
            write: bucket(150.0, 15.0),
        };
        assert_eq!(only_budget(ec2("DescribeVpcs"), &raised).limit, raised.read);
        assert_eq!(only_budget(ec2("DeleteRoute"), &raised).limit, raised.write);
        assert_eq!(
            only_budget(ec2("ModifyVpcEndpoint"), &raised).limit,
            bucket(4.0, 0.3)
        );
        // Pacing off: EC2 has no fixed quota to keep.
        assert!(budgets(&ec2("ModifyVpcEndpoint"), None).is_empty());
    }

    #[test]
    fn the_table_lists_each_uncategorized_action_once() {
        let mut names: Vec<&str> = EC2_UNCATEGORIZED.iter().map(|(name, _)| *name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
        assert!(
            EC2_UNCATEGORIZED
                .iter()
                .all(|(_, limit)| limit.burst >= 1.0 && limit.per_second > 0.0)
        );
    }

    #[test]
    fn cloudtrails_lookup_events_is_paced_at_its_documented_two_a_second_per_region() {
        let limits = PacingLimits::default();
        let lookup = only_budget(call("CloudTrail", "LookupEvents", "eu-west-1"), &limits);
        assert_eq!(lookup.key, "eu-west-1/cloudtrail:LookupEvents");
        assert_eq!(lookup.limit, bucket(2.0, 2.0));
        // CloudTrail's other calls keep the general buckets.
        assert_eq!(
            only_budget(call("CloudTrail", "StartLogging", "eu-west-1"), &limits).limit,
            limits.write
        );
    }

    #[test]
    fn lambda_and_api_gateway_control_planes_each_share_one_budget_per_region() {
        let limits = PacingLimits::default();
        let lambda =
            |operation: &str, region: &str| only_budget(call("Lambda", operation, region), &limits);
        let shared = lambda("PutFunctionConcurrency", "us-east-1");
        assert_eq!(shared.key, "us-east-1/lambda:control-plane");
        assert_eq!(shared.limit, bucket(15.0, 15.0));
        for operation in [
            "ListFunctions",
            "UpdateFunctionUrlConfig",
            "RemovePermission",
        ] {
            assert_eq!(lambda(operation, "us-east-1"), shared, "{operation}");
        }
        assert_ne!(lambda("ListFunctions", "eu-west-1").key, shared.key);
        // GetFunction and GetPolicy have budgets of their own.
        assert_eq!(
            lambda("GetFunction", "us-east-1").limit,
            bucket(100.0, 100.0)
        );
        assert_eq!(
            lambda("GetPolicy", "us-east-1").key,
            "us-east-1/lambda:GetPolicy"
        );

        // REST (v1) and HTTP/WebSocket (v2) calls draw on one budget: 10 per second, burst 40.
        let v1 = only_budget(call("API Gateway", "GetRestApis", "us-east-1"), &limits);
        let v2 = only_budget(call("ApiGatewayV2", "UpdateStage", "us-east-1"), &limits);
        assert_eq!(v1, v2);
        assert_eq!(v1.limit, bucket(40.0, 10.0));
        // CreateDeployment draws on it and on its fixed account-wide quota.
        let deployment = budgets(
            &call("API Gateway", "CreateDeployment", "us-east-1"),
            Some(&limits),
        );
        assert_eq!(
            deployment,
            vec![
                Budget {
                    key: "account/apigateway:CreateDeployment".into(),
                    limit: every(1.0, 5.0)
                },
                v1
            ]
        );

        // Services without a published table: EC2's general sizes, per action.
        assert_eq!(
            only_budget(call("IAM", "ListUsers", "global"), &limits),
            Budget {
                key: "global/iam:ListUsers".into(),
                limit: limits.read
            }
        );
        assert_eq!(
            only_budget(call("IAM", "UpdateAccessKey", "global"), &limits).limit,
            limits.write
        );
    }

    #[test]
    fn ec2_requests_naming_a_filter_or_pagination_are_told_apart() {
        let filtered = |body: &str| ec2_request_is_filtered_or_paginated(body.as_bytes());
        assert!(!filtered(
            "Action=DescribeSecurityGroups&Version=2016-11-15"
        ));
        assert!(!filtered(
            "Action=DescribeSecurityGroups&GroupId.1=sg-1&Version=2016-11-15"
        ));
        assert!(filtered(
            "Action=DescribeSecurityGroups&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&Version=2016-11-15"
        ));
        assert!(filtered(
            "Action=DescribeInstances&MaxResults=1000&Version=2016-11-15"
        ));
        assert!(filtered(
            "Action=DescribeInstances&NextToken=abc&Version=2016-11-15"
        ));
    }

    /// An HTTP client that answers every request with an empty DescribeSecurityGroups result.
    #[derive(Debug, Clone)]
    struct EmptyDescribe;

    impl HttpConnector for EmptyDescribe {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
            use aws_smithy_runtime_api::http::StatusCode;
            use aws_smithy_types::body::SdkBody;
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                StatusCode::try_from(200).unwrap(),
                SdkBody::from(
                    r#"<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><securityGroupInfo/></DescribeSecurityGroupsResponse>"#,
                ),
            )))
        }
    }

    impl HttpClient for EmptyDescribe {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// Through a real client: the tagger reads the request, so an unfiltered describe and a filtered
    /// one draw on different buckets.
    #[tokio::test]
    async fn the_tagger_tells_an_unfiltered_describe_from_a_filtered_one() {
        use aws_sdk_ec2::types::Filter;

        let pacer = Arc::new(Pacer::new(Some(PacingLimits::default())));
        let http = PacedHttpClient::new(SharedHttpClient::new(EmptyDescribe), pacer.clone());
        let config = aws_sdk_ec2::Config::builder()
            .with_test_defaults_v2()
            .http_client(http)
            .interceptor(CallTagger)
            .build();
        let ec2 = aws_sdk_ec2::Client::from_conf(config);
        ec2.describe_security_groups().send().await.unwrap();
        ec2.describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values("vpc-1").build())
            .send()
            .await
            .unwrap();
        let mut keys: Vec<String> = pacer.buckets.lock().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "us-east-1/ec2:DescribeSecurityGroups",
                "us-east-1/ec2:DescribeSecurityGroups unfiltered"
            ]
        );
        assert_eq!(pacer.calls()["ec2:DescribeSecurityGroups"], 2);
    }

    /// The SDK's clock, following tokio's (paused) time, so its stalled-upload check sees the seconds a
    /// paced call waits.
    #[derive(Debug)]
    struct TokioClock {
        start: Instant,
    }

    impl aws_smithy_async::time::TimeSource for TokioClock {
        fn now(&self) -> std::time::SystemTime {
            std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + self.start.elapsed()
        }
    }

    /// Attempts the SDK makes for a second describe that waits about 10 s for its token (a bucket of one
    /// token refilled every 10 s), through a client with `protection`.
    /// A paced EC2 client whose every bucket holds one token, refilled every 10 s, in front of
    /// [`EmptyDescribe`], and a filtered describe through it.
    fn ec2_behind_a_slow_bucket(
        protection: StalledStreamProtectionConfig,
    ) -> (Arc<Pacer>, aws_sdk_ec2::Client) {
        let slow = BucketLimit {
            burst: 1.0,
            per_second: 0.1,
        };
        let pacer = Arc::new(Pacer::new(Some(PacingLimits {
            read: slow,
            write: slow,
        })));
        let http = PacedHttpClient::new(SharedHttpClient::new(EmptyDescribe), pacer.clone());
        let config = aws_sdk_ec2::Config::builder()
            .with_test_defaults_v2()
            .time_source(TokioClock {
                start: Instant::now(),
            })
            .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::standard().with_max_attempts(6))
            .stalled_stream_protection(protection)
            .http_client(http)
            .interceptor(CallTagger)
            .build();
        (pacer, aws_sdk_ec2::Client::from_conf(config))
    }

    async fn filtered_describe(
        ec2: &aws_sdk_ec2::Client,
    ) -> Result<
        aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsOutput,
        aws_sdk_ec2::error::SdkError<
            aws_sdk_ec2::operation::describe_security_groups::DescribeSecurityGroupsError,
        >,
    > {
        use aws_sdk_ec2::types::Filter;
        ec2.describe_security_groups()
            .filters(Filter::builder().name("vpc-id").values("vpc-1").build())
            .send()
            .await
    }

    async fn attempts_behind_a_slow_bucket(protection: StalledStreamProtectionConfig) -> u64 {
        let (pacer, ec2) = ec2_behind_a_slow_bucket(protection);
        filtered_describe(&ec2).await.unwrap();
        let _ = filtered_describe(&ec2).await;
        pacer.calls()["ec2:DescribeSecurityGroups"] - 1
    }

    /// Through the SDK, as the engine's workers call: a worker whose describe waits for its token gives
    /// its place in the run's width back meanwhile (the SDK polls the HTTP client in the caller's task,
    /// where the worker's share is), and ends holding none.
    #[tokio::test(start_paused = true)]
    async fn a_call_waiting_for_its_token_through_the_sdk_gives_back_its_place() {
        let (_pacer, ec2) = ec2_behind_a_slow_bucket(stalled_stream_protection());
        let width = Arc::new(tokio::sync::Semaphore::new(1));
        filtered_describe(&ec2).await.unwrap();
        let waiting = WidthShare::run(&width, filtered_describe(&ec2));
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_secs(1), &mut waiting)
                .await
                .is_err(),
            "the describe waits 10 s for its token"
        );
        assert_eq!(width.available_permits(), 1, "its place is free meanwhile");
        waiting.await.unwrap();
        assert_eq!(width.available_permits(), 1);
    }

    /// A worker waiting for a token leaves its place to another worker, whose bucket is full, and takes
    /// it again before its own call goes: once the token is there, it still waits for the place.
    #[tokio::test(start_paused = true)]
    async fn a_worker_waiting_for_a_token_leaves_its_place_in_the_width_to_another() {
        let pacer = Arc::new(Pacer::new(Some(PacingLimits::default())));
        let width = Arc::new(tokio::sync::Semaphore::new(1));
        let start = Instant::now();
        let modify = call("EC2", "ModifyVpcEndpoint", "us-east-1");
        for _ in 0..4 {
            pacer.admit(&modify).await;
        }
        let slow = tokio::spawn({
            let (pacer, width) = (pacer.clone(), width.clone());
            async move {
                WidthShare::run(&width, async {
                    pacer.admit(&modify).await;
                    start.elapsed()
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        // The other worker gets the place at once, and keeps it past the slow worker's token (3.4 s).
        let other_started = WidthShare::run(&width, async {
            pacer
                .admit(&call("EC2", "RevokeSecurityGroupIngress", "us-east-1"))
                .await;
            let started = start.elapsed();
            tokio::time::sleep(Duration::from_secs(5)).await;
            started
        })
        .await;
        assert_eq!(other_started, Duration::from_millis(10));
        let slow_sent = slow.await.unwrap();
        assert!(
            slow_sent >= Duration::from_millis(5010),
            "sent only once its place was back: {slow_sent:?}"
        );
    }

    /// A pacer whose `ModifyVpcEndpoint` bucket in us-east-1 (4 tokens, then one every 3.3 s) has just
    /// been drained, and that call: the next one waits for a token.
    async fn endpoint_bucket_drained() -> (Pacer, Call) {
        let pacer = Pacer::new(Some(PacingLimits::default()));
        let modify = call("EC2", "ModifyVpcEndpoint", "us-east-1");
        for _ in 0..4 {
            pacer.admit(&modify).await;
        }
        (pacer, modify)
    }

    /// One worker's calls sent side by side (a network ACL's wave of entries) that both wait for their
    /// tokens share the worker's one place: the first to wake takes it again, and the second goes on in
    /// it rather than waiting for a second place, which at a width of one would never come (it was held
    /// by its own worker: the cut, and the run, waited forever).
    #[tokio::test(start_paused = true)]
    async fn a_workers_calls_waiting_side_by_side_share_its_place() {
        let (pacer, modify) = endpoint_bucket_drained().await;
        let width = Arc::new(tokio::sync::Semaphore::new(1));
        let both = WidthShare::run(&width, async {
            futures_util::future::join(async { drop(pacer.admit(&modify).await) }, async {
                drop(pacer.admit(&modify).await)
            })
            .await
        });
        assert!(
            tokio::time::timeout(Duration::from_secs(60), both)
                .await
                .is_ok(),
            "both calls go out, one token after the other (3.3 s apart)"
        );
        assert_eq!(width.available_permits(), 1, "and the place is free after");
    }

    /// A read several workers share ([`crate::aws::RegionCtx::once`]) keeps its worker's place while
    /// it waits for a token: the others wait for the read holding their places, and, given back, the
    /// reader's place went to one of them, which left it none to take again (at a width of one, at once).
    #[tokio::test(start_paused = true)]
    async fn a_read_others_wait_for_keeps_its_place_while_it_waits_for_a_token() {
        let (pacer, modify) = endpoint_bucket_drained().await;
        let width = Arc::new(tokio::sync::Semaphore::new(1));
        let ctx = crate::aws::RegionCtx::for_tests("us-east-1");
        let shared_read = || {
            ctx.once("a read two workers share", || async {
                drop(pacer.admit(&modify).await);
                Ok::<_, ()>(7)
            })
        };
        let first = WidthShare::run(&width, shared_read());
        let second = WidthShare::run(&width, async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            shared_read().await
        });
        let both = tokio::time::timeout(
            Duration::from_secs(60),
            futures_util::future::join(first, second),
        )
        .await;
        assert_eq!(both, Ok((Ok(7), Ok(7))), "both workers end");
        assert_eq!(width.available_permits(), 1);
    }

    /// While one of a worker's calls is out at AWS, another of its calls that waits for a token keeps
    /// the worker's place: a place is given back only while none of its calls is out.
    #[tokio::test(start_paused = true)]
    async fn a_worker_with_a_call_out_keeps_its_place_while_another_call_waits() {
        let (pacer, modify) = endpoint_bucket_drained().await;
        let width = Arc::new(tokio::sync::Semaphore::new(1));
        let revoke = call("EC2", "RevokeSecurityGroupIngress", "us-east-1");
        let (width_during, ()) = WidthShare::run(&width, async {
            let out = pacer.admit(&revoke).await;
            let waiting = pacer.admit(&modify);
            tokio::pin!(waiting);
            let during = tokio::time::timeout(Duration::from_secs(1), &mut waiting).await;
            assert!(during.is_err(), "the modify waits for its token");
            let width_during = width.available_permits();
            drop(out);
            drop(waiting.await);
            (width_during, ())
        })
        .await;
        assert_eq!(width_during, 0, "the revoke out keeps the place");
        assert_eq!(width.available_permits(), 1);
    }

    /// A call held for its token longer than the SDK's 5 s grace period for a stalled upload goes out
    /// as one attempt with the protection paced clients are built with; with the SDK's default, the
    /// same wait fails the attempt and the SDK sends it again.
    #[tokio::test(start_paused = true)]
    async fn a_call_held_for_its_token_is_not_taken_for_a_stalled_upload() {
        assert_eq!(
            attempts_behind_a_slow_bucket(stalled_stream_protection()).await,
            1
        );
        assert!(
            attempts_behind_a_slow_bucket(
                StalledStreamProtectionConfig::enabled()
                    .grace_period(SDK_STALL_GRACE_PERIOD)
                    .build()
            )
            .await
                > 1,
            "the SDK's default upload check fails a call held in the pacer"
        );
    }

    /// VPC endpoint changes go at their own bucket's pace (4, then one every 3.3 s) while other calls
    /// do not wait.
    #[tokio::test(start_paused = true)]
    async fn vpc_endpoint_changes_wait_for_their_small_bucket() {
        let pacer = Pacer::new(Some(PacingLimits::default()));
        let start = tokio::time::Instant::now();
        let modify = call("EC2", "ModifyVpcEndpoint", "us-east-1");
        for _ in 0..4 {
            pacer.admit(&modify).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.admit(&call("EC2", "DescribeVpcs", "us-east-1")).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.admit(&modify).await;
        let waited = start.elapsed().as_secs_f64();
        assert!(
            (waited - 1.0 / 0.3 - EDGE_MARGIN.as_secs_f64()).abs() < 0.01,
            "{waited}"
        );
    }
}
