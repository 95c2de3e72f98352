//! VPC endpoints are private ways out of a VPC: a gateway endpoint puts S3 or DynamoDB on the route table,
//! an interface endpoint puts an AWS (or partner) service inside a subnet. Data leaves through them with
//! no internet gateway, so closing the internet does not close them. Two kinds of cut act on them:
//!
//! - [`VpcEndpointPolicyDeny`] (`vpce_policy_deny`, reversible): replace the endpoint policy with a
//!   deny-all; restore writes the recorded policy document back, byte for byte.
//! - [`VpcEndpointDelete`] (`vpce_delete`, irreversible, off by default): delete the endpoint. A
//!   re-created endpoint gets a new ID (and new DNS names), so restore cannot give it back; the plan
//!   records everything needed to rebuild it by hand.
//!
//! Both look at endpoints in state `available` of the types that take a policy (Gateway, Interface);
//! the other endpoints that carry or may soon carry traffic are reported ([`passed_over_endpoints`]).
//!
//! A policy only closes an endpoint whose service enforces it. AWS allows full access through endpoints
//! of services that do not support endpoint policies, and through every endpoint of a service other than
//! an AWS service (PrivateLink partner and customer services), whatever the policy says
//! (<https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html>, "Considerations").
//! DescribeVpcEndpointServices tells them apart ([`PolicySupport`]): `vpce_policy_deny` proposes no cut
//! for such an endpoint, the [`PolicyIgnored`] inspection reports it as a High finding, and `vpce_delete`
//! says it is the only cut that closes it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ServiceDetail, VpcEndpoint};
use serde::{Deserialize, Serialize};

use super::vpc;
use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::unclassified;
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub mod own_route;
mod vpce_delete;
mod vpce_policy_deny;

pub use vpce_delete::VpcEndpointDelete;
pub use vpce_policy_deny::VpcEndpointPolicyDeny;

/// Everything needed to rebuild an endpoint by hand: what `vpce_delete` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDescription {
    pub vpc_endpoint_id: String,
    /// `Gateway` or `Interface`.
    pub vpc_endpoint_type: String,
    pub service_name: String,
    pub vpc_id: String,
    pub state: String,
    /// Exactly as AWS returns it; absent for services that take no endpoint policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
    /// Gateway endpoints: the route tables that route to the service. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_table_ids: Vec<String>,
    /// Interface endpoints: the subnets holding its network interfaces. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
    /// Interface endpoints: the security groups on its network interfaces. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl EndpointDescription {
    /// E.g. `Gateway endpoint vpce-1 for com.amazonaws.us-east-1.s3 in vpc-1`.
    pub fn summary(&self) -> String {
        format!(
            "{} endpoint {} for {} in {}",
            self.vpc_endpoint_type, self.vpc_endpoint_id, self.service_name, self.vpc_id
        )
    }

    /// What a responder would type to rebuild it, in words.
    pub fn rebuild_hint(&self) -> String {
        let mut parts = vec![format!(
            "type {}, service {}, VPC {}",
            self.vpc_endpoint_type, self.service_name, self.vpc_id
        )];
        for (name, list) in [
            ("route tables", &self.route_table_ids),
            ("subnets", &self.subnet_ids),
            ("security groups", &self.security_group_ids),
        ] {
            if !list.is_empty() {
                parts.push(format!("{name} {}", list.join(", ")));
            }
        }
        if let Some(dns) = self.private_dns_enabled {
            parts.push(format!("private DNS {}", if dns { "on" } else { "off" }));
        }
        if let Some(policy) = &self.policy_document {
            parts.push(format!("policy {policy}"));
        }
        parts.join("; ")
    }
}

/// Endpoint types whose endpoints take a policy; the others (Gateway Load Balancer, resource and
/// service-network endpoints) are left to other cuts.
pub fn is_policy_type(endpoint_type: &str) -> bool {
    endpoint_type.eq_ignore_ascii_case("Gateway") || endpoint_type.eq_ignore_ascii_case("Interface")
}

/// AWS reports `available` in lower case; the SDK's enum spells it `Available`.
pub fn is_available(state: &str) -> bool {
    state.eq_ignore_ascii_case("available")
}

/// Whether an endpoint is gone for every practical purpose (AWS keeps deleted endpoints listed for a
/// while, and the emulator keeps them for good).
pub fn is_gone(state: &str) -> bool {
    ["deleted", "deleting", "rejected", "failed", "expired"]
        .iter()
        .any(|s| state.eq_ignore_ascii_case(s))
}

/// The recorded shape of an endpoint.
pub fn describe(endpoint: &VpcEndpoint) -> Option<EndpointDescription> {
    let sorted = |list: &[String]| {
        let mut list = list.to_vec();
        list.sort();
        list
    };
    let mut groups: Vec<String> = endpoint
        .groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    groups.sort();
    Some(EndpointDescription {
        vpc_endpoint_id: endpoint.vpc_endpoint_id()?.to_string(),
        vpc_endpoint_type: endpoint.vpc_endpoint_type()?.as_str().to_string(),
        service_name: endpoint.service_name().unwrap_or_default().to_string(),
        vpc_id: endpoint.vpc_id().unwrap_or_default().to_string(),
        state: endpoint
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        policy_document: endpoint.policy_document().map(str::to_string),
        route_table_ids: sorted(endpoint.route_table_ids()),
        subnet_ids: sorted(endpoint.subnet_ids()),
        security_group_ids: groups,
        private_dns_enabled: endpoint.private_dns_enabled(),
        ip_address_type: endpoint.ip_address_type().map(|t| t.as_str().to_string()),
        dns_record_ip_type: endpoint
            .dns_options()
            .and_then(|d| d.dns_record_ip_type())
            .map(|t| t.as_str().to_string()),
        tags: endpoint
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
    })
}

/// Whether `value` is one of the documented values in `list`, compared without case (AWS writes them in
/// lower case, the SDK's enums capitalised).
fn known(list: &[&str], value: &str) -> bool {
    list.iter().any(|k| k.eq_ignore_ascii_case(value))
}

/// Known endpoints neither endpoint kind proposes a cut for, that carry (or may soon carry) traffic:
/// those of a type without an endpoint policy (Gateway Load Balancer, resource, service-network), those
/// awaiting the service owner's acceptance, which the owner can give after apply, and those not yet or
/// not fully available (`pending`, `partial`), which may become available after apply. Their traffic
/// goes to interfaces inside the VPC, which network ACL and security-group cuts may keep as internal, and
/// VPC Block Public Access does not cover endpoints: each is reported, never passed over.
pub fn passed_over_endpoints(endpoints: &[VpcEndpoint]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for endpoint in endpoints {
        let (Some(id), Some(kind), Some(state)) = (
            endpoint.vpc_endpoint_id(),
            endpoint.vpc_endpoint_type().map(|t| t.as_str()),
            endpoint.state().map(|s| s.as_str()),
        ) else {
            continue; // unclassified_endpoints reports these
        };
        // An unknown type or state is unclassified_endpoints' to report.
        if is_gone(state) || !known(&KNOWN_TYPES, kind) || !known(&KNOWN_STATES, state) {
            continue;
        }
        let target = endpoint
            .service_name()
            .or(endpoint.service_network_arn())
            .or(endpoint.resource_configuration_arn())
            .unwrap_or("(no service named)");
        let delete = format!("aws ec2 delete-vpc-endpoints --vpc-endpoint-ids {id}");
        if !is_policy_type(kind) {
            found.push((
                id.to_string(),
                format!(
                    "a {kind} endpoint to {target} (state {state}): it takes no endpoint policy, so no cut here closes it, and its traffic may count as internal to the network cuts. If it leads to another account, delete it by hand ({delete})"
                ),
            ));
        } else if state.eq_ignore_ascii_case("PendingAcceptance") {
            found.push((
                id.to_string(),
                format!(
                    "a {kind} endpoint to {target} awaiting acceptance: its service's owner can accept it after apply, and no cut proposed now covers it. Delete it by hand ({delete}) unless it is expected"
                ),
            ));
        } else if !is_available(state) {
            found.push((
                id.to_string(),
                format!(
                    "a {kind} endpoint to {target} in state {state}, not yet (or not fully) available, so no cut was proposed for it: it may carry traffic once AWS is done with it. Plan again once it is available, or delete it by hand ({delete})"
                ),
            ));
        }
    }
    found
}

/// The endpoints both kinds propose cuts for: available, of a type that takes a policy, sorted by ID.
pub fn candidates(endpoints: &[VpcEndpoint]) -> Vec<EndpointDescription> {
    let mut found: Vec<EndpointDescription> = endpoints
        .iter()
        .filter_map(describe)
        .filter(|e| is_available(&e.state) && is_policy_type(&e.vpc_endpoint_type))
        .collect();
    found.sort_by(|a, b| a.vpc_endpoint_id.cmp(&b.vpc_endpoint_id));
    found
}

/// The states DescribeVpcEndpoints documents for an endpoint
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html>, `State`), compared
/// without case: AWS writes them in lower case, the SDK's enum capitalised.
const KNOWN_STATES: [&str; 9] = [
    "PendingAcceptance",
    "Pending",
    "Available",
    "Deleting",
    "Deleted",
    "Rejected",
    "Failed",
    "Expired",
    "Partial",
];

/// The endpoint types documented there (`VpcEndpointType`); the ones that take no policy are known and
/// left to other cuts, an unknown one is reported.
const KNOWN_TYPES: [&str; 6] = [
    "Interface",
    "Gateway",
    "GatewayLoadBalancer",
    "Resource",
    "ServiceNetwork",
    "Tunnel",
];

/// The kind named in reports about endpoints both endpoint kinds pass over (they read the same list).
const UNCLASSIFIED_KIND: &str = "vpce_policy_deny";

/// The endpoints neither endpoint kind can propose a cut for because their description lacks what the
/// choice rests on (ID, type, state) or holds a type or state this hikkonuki does not know: each with
/// what identifies it and what was odd.
pub fn unclassified_endpoints(endpoints: &[VpcEndpoint]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for endpoint in endpoints {
        let resource = match endpoint.vpc_endpoint_id() {
            Some(id) => id.to_string(),
            None => format!(
                "an endpoint for {} in {}",
                endpoint.service_name().unwrap_or("(no service given)"),
                endpoint.vpc_id().unwrap_or("(no VPC given)")
            ),
        };
        let mut odd = Vec::new();
        if endpoint.vpc_endpoint_id().is_none() {
            odd.push("no VpcEndpointId".to_string());
        }
        match endpoint.vpc_endpoint_type().map(|t| t.as_str()) {
            None => odd.push("no VpcEndpointType".to_string()),
            Some(t) if !known(&KNOWN_TYPES, t) => odd.push(format!("endpoint type `{t}`")),
            Some(_) => {}
        }
        match endpoint.state().map(|s| s.as_str()) {
            None => odd.push("no State".to_string()),
            Some(s) if !known(&KNOWN_STATES, s) => odd.push(format!("state `{s}`")),
            Some(_) => {}
        }
        if !odd.is_empty() {
            found.push((
                resource,
                format!(
                    "DescribeVpcEndpoints returned it with {}, so neither vpce_policy_deny nor vpce_delete can tell whether it carries traffic",
                    odd.join(", ")
                ),
            ));
        }
    }
    found
}

/// Whether AWS enforces an endpoint's policy, as DescribeVpcEndpointServices tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySupport {
    /// An AWS service that supports endpoint policies: a deny-all closes the endpoint.
    Enforced,
    /// AWS allows full access through the endpoint whatever its policy says; why, in words.
    Ignored(String),
    /// Discovery could not tell; why, in words.
    Unknown(String),
}

/// The `Owner` DescribeVpcEndpointServices gives AWS's own services; other services name the account
/// that offers them.
const AWS_OWNER: &str = "amazon";

/// The names every PrivateLink endpoint service that is not an AWS service gets
/// (`com.amazonaws.vpce.<region>.vpce-svc-…`; in China `cn.com.amazonaws.vpce.…`), partners' and
/// customers' alike.
const PRIVATELINK_SERVICE_PREFIXES: [&str; 2] = ["com.amazonaws.vpce.", "cn.com.amazonaws.vpce."];

/// Decides from the service's description, `None` when DescribeVpcEndpointServices does not list it (a
/// service in another region, or one the account may no longer connect to).
pub fn policy_support(service_name: &str, detail: Option<&ServiceDetail>) -> PolicySupport {
    let Some(detail) = detail else {
        if PRIVATELINK_SERVICE_PREFIXES
            .iter()
            .any(|prefix| service_name.starts_with(prefix))
        {
            return PolicySupport::Ignored(
                "its service is a PrivateLink endpoint service (named com.amazonaws.vpce.…), not an AWS service".into(),
            );
        }
        return PolicySupport::Unknown(
            "DescribeVpcEndpointServices does not list its service in this region".into(),
        );
    };
    match (detail.owner(), detail.vpc_endpoint_policy_supported()) {
        (Some(AWS_OWNER), Some(true)) => PolicySupport::Enforced,
        (Some(AWS_OWNER), Some(false)) => PolicySupport::Ignored(
            "its service does not support endpoint policies (VpcEndpointPolicySupported is false)"
                .into(),
        ),
        (Some(AWS_OWNER), None) => PolicySupport::Unknown(
            "DescribeVpcEndpointServices does not say whether its service supports endpoint policies (no VpcEndpointPolicySupported)".into(),
        ),
        (Some(owner), _) => PolicySupport::Ignored(format!(
            "its service is a PrivateLink service of account {owner}, not an AWS service"
        )),
        (None, _) => PolicySupport::Unknown(
            "DescribeVpcEndpointServices does not say who owns its service (no Owner)".into(),
        ),
    }
}

/// How many service names one DescribeVpcEndpointServices filter carries. EC2 documents no bound on a
/// filter's values; a modest one keeps each request small.
const SERVICE_NAMES_PER_CALL: usize = 100;

/// The descriptions of the named services, by name (a name may be listed once per service type), through
/// every page. A `service-name` filter rather than `ServiceNames`: AWS refuses the whole request with
/// InvalidServiceName when one named service is not available, and a filter simply leaves it out.
async fn service_details(
    ctx: &RegionCtx,
    names: &[String],
) -> Result<BTreeMap<String, Vec<ServiceDetail>>, ServiceError> {
    let mut found: BTreeMap<String, Vec<ServiceDetail>> = BTreeMap::new();
    for chunk in names.chunks(SERVICE_NAMES_PER_CALL) {
        let mut token: Option<String> = None;
        loop {
            let out = ctx
                .ec2()
                .describe_vpc_endpoint_services()
                .filters(
                    Filter::builder()
                        .name("service-name")
                        .set_values(Some(chunk.to_vec()))
                        .build(),
                )
                .set_next_token(token.take())
                .customize()
                .config_override(no_retries_on_emulator(ctx))
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcEndpointServices", err))?;
            for detail in out.service_details() {
                if let Some(name) = detail.service_name() {
                    found
                        .entry(name.to_string())
                        .or_default()
                        .push(detail.clone());
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
    }
    Ok(found)
}

/// The description of the endpoint's service for the endpoint's type (a service offered as Gateway and
/// Interface is listed once per type), or the first one listed.
fn detail_for<'a>(
    endpoint: &EndpointDescription,
    details: &'a BTreeMap<String, Vec<ServiceDetail>>,
) -> Option<&'a ServiceDetail> {
    let listed = details.get(&endpoint.service_name)?;
    listed
        .iter()
        .find(|detail| {
            detail.service_type().iter().any(|t| {
                t.service_type()
                    .is_some_and(|t| t.as_str().eq_ignore_ascii_case(&endpoint.vpc_endpoint_type))
            })
        })
        .or_else(|| listed.first())
}

/// Each candidate with whether AWS enforces its policy. When the services cannot be described, every
/// endpoint is [`PolicySupport::Unknown`], saying why: its cuts are still proposed, and the finding
/// names the gap, rather than the whole kind failing.
pub fn with_support(
    endpoints: Vec<EndpointDescription>,
    details: Result<&BTreeMap<String, Vec<ServiceDetail>>, &ServiceError>,
) -> Vec<(EndpointDescription, PolicySupport)> {
    endpoints
        .into_iter()
        .map(|endpoint| {
            let support = match details {
                Ok(details) => {
                    policy_support(&endpoint.service_name, detail_for(&endpoint, details))
                }
                // Without an AWS error code the body is not AWS's (an endpoint that lacks the API, such
                // as the emulator, answers an HTML page): say that, not the raw response.
                Err(err) if err.code.is_none() => PolicySupport::Unknown(format!(
                    "its service could not be described ({} answered without an AWS error code: the endpoint may not implement it)",
                    err.operation
                )),
                Err(err) => {
                    PolicySupport::Unknown(format!("its service could not be described ({err})"))
                }
            };
            (endpoint, support)
        })
        .collect()
}

/// A region's endpoints as the cuts and the finding judge them.
pub struct Classified {
    /// The candidates ([`candidates`]), each with whether AWS enforces its policy.
    pub endpoints: Vec<(EndpointDescription, PolicySupport)>,
    /// The candidates this run's own calls go through, by endpoint ID, with how they reach it
    /// ([`own_route`]).
    pub own_routes: BTreeMap<String, String>,
}

impl Classified {
    /// The candidates the run's own calls go through, each with how they reach it.
    pub fn carrying(&self) -> Vec<(EndpointDescription, String)> {
        self.endpoints
            .iter()
            .filter_map(|(endpoint, _)| {
                let how = self.own_routes.get(&endpoint.vpc_endpoint_id)?;
                Some((endpoint.clone(), how.clone()))
            })
            .collect()
    }

    /// Each candidate with its support and, when the run's own calls go through it, why its cuts are
    /// left out.
    pub fn each(
        &self,
    ) -> impl Iterator<Item = (&EndpointDescription, &PolicySupport, Option<String>)> {
        self.endpoints.iter().map(|(endpoint, support)| {
            let own = self.own_routes.get(&endpoint.vpc_endpoint_id);
            (
                endpoint,
                support,
                own.map(|how| own_route::endpoint_cut_why(how)),
            )
        })
    }
}

/// The region's endpoints classified once per region and run, for `vpce_policy_deny`, `vpce_delete`,
/// the `vpce_policy_ignored` inspection and apply's check of where it runs from.
async fn classified_region(ctx: &RegionCtx) -> Result<std::sync::Arc<Classified>, ServiceError> {
    ctx.once("vpc_endpoint::classified_region", || async {
        classify_region(ctx).await.map(std::sync::Arc::new)
    })
    .await
}

async fn classify_region(ctx: &RegionCtx) -> Result<Classified, ServiceError> {
    let described = describe_region(ctx).await?;
    for (resource, what) in unclassified_endpoints(&described)
        .into_iter()
        .chain(passed_over_endpoints(&described))
    {
        unclassified::report(ctx, UNCLASSIFIED_KIND, &ctx.region, &resource, what).await;
    }
    let endpoints = candidates(&described);
    if endpoints.is_empty() {
        return Ok(Classified {
            endpoints: vec![],
            own_routes: BTreeMap::new(),
        });
    }
    let listed: Vec<&VpcEndpoint> = described
        .iter()
        .filter(|e| {
            endpoints
                .iter()
                .any(|c| Some(c.vpc_endpoint_id.as_str()) == e.vpc_endpoint_id())
        })
        .collect();
    let own_routes = own_route::own_routes(ctx, &listed).await;
    let mut names: Vec<String> = endpoints.iter().map(|e| e.service_name.clone()).collect();
    names.sort();
    names.dedup();
    let details = service_details(ctx, &names).await;
    Ok(Classified {
        endpoints: with_support(endpoints, details.as_ref()),
        own_routes,
    })
}

/// Among `cuts` (of either endpoint kind, each targeting an endpoint ID), those whose endpoint this
/// run's own calls go through, each with why: both kinds' `cuts_off_live`, asked by apply wherever the
/// plan was made. Against an endpoint override (the emulator) no call goes through an endpoint.
async fn own_routes_among(
    ctx: &RegionCtx,
    cuts: &[&Cut],
) -> Result<Vec<(String, String)>, ServiceError> {
    if ctx.endpoint_url.is_some() || cuts.is_empty() {
        return Ok(Vec::new());
    }
    let classified = classified_region(ctx).await?;
    Ok(cuts
        .iter()
        .filter_map(|cut| {
            let how = classified.own_routes.get(&cut.target)?;
            Some((
                cut.id.clone(),
                format!("{}: {}", cut.target, own_route::endpoint_cut_why(how)),
            ))
        })
        .collect())
}

/// The interface endpoints of `ctx`'s region this run's calls go through ([`own_route`]), each with how
/// the calls reach it: where the run sits on their path ([`crate::runner`]) and whose security groups
/// `sg_revoke` spares. Empty, without a call to AWS, where this machine's resolver says no call of the
/// run leads to an endpoint ([`own_route::may_go_through_an_endpoint`]), against an endpoint
/// override (the emulator), and for a test's mocked clients, which resolve no name. The region's endpoints are read once per run, shared with the endpoint
/// kinds.
pub async fn carrying_the_runs_calls(
    ctx: &RegionCtx,
) -> Result<Vec<(EndpointDescription, String)>, ServiceError> {
    if ctx.endpoint_url.is_some()
        || !ctx.calls_resolve_names
        || !own_route::may_go_through_an_endpoint(ctx).await
    {
        return Ok(Vec::new());
    }
    Ok(classified_region(ctx).await?.carrying())
}

/// The security groups of the interface endpoints this run's calls go through
/// ([`carrying_the_runs_calls`]), each with the endpoint and how the calls reach it: a rule of such a
/// group that admits them, revoked, refuses the run's calls at the endpoint's network interfaces as
/// surely as a deny-all policy on the endpoint would (`sg_revoke` leaves such a cut out).
pub async fn groups_carrying_the_runs_calls(
    ctx: &RegionCtx,
) -> Result<BTreeMap<String, String>, ServiceError> {
    Ok(groups_of(&carrying_the_runs_calls(ctx).await?))
}

/// The security groups of `carrying` (endpoints with how the run's calls reach them): pure, so it is
/// tested without AWS or DNS. A group on several such endpoints names the first.
pub fn groups_of(carrying: &[(EndpointDescription, String)]) -> BTreeMap<String, String> {
    let mut groups = BTreeMap::new();
    for (endpoint, how) in carrying {
        for group in &endpoint.security_group_ids {
            groups.entry(group.clone()).or_insert_with(|| {
                format!(
                    "{group} guards the network interfaces of {}, which this run's calls go through ({how})",
                    endpoint.vpc_endpoint_id
                )
            });
        }
    }
    groups
}

/// Whether the calls hikkonuki makes from inside an endpoint's VPC reach their service through it by
/// routing, in words: a gateway endpoint of S3, whose prefix-list route sends every S3 call of the
/// subnets whose route tables it is associated with through it, whatever DNS says
/// (<https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html>). The run calls S3 for the
/// evidence trail's bucket, for buckets' policies and for their restore; a deny-all policy on the
/// endpoint, or its deletion in a VPC with no other way out, would fail those calls midway. DynamoDB,
/// the only other service gateway endpoints serve, hikkonuki never calls. Judged for the whole VPC, as
/// the sealing cuts are: which subnet's table routes to it is not read. Interface endpoints are judged
/// by what their service's hostname resolves to ([`own_route`]), not here.
pub fn carries_calls_by_route(
    endpoint_type: &str,
    service_name: &str,
    endpoint_id: &str,
    region: &str,
) -> Option<String> {
    // Every partition names S3's gateway service `….<region>.s3` (in China `com.amazonaws.cn-north-1.s3`).
    let s3 = service_name.ends_with(&format!(".{region}.s3"));
    (endpoint_type == "Gateway" && s3).then(|| {
        format!(
            "{endpoint_id} is its VPC's gateway endpoint for S3, which the run's calls to S3 (the evidence trail's bucket, buckets' policies) go through by the routes of the tables it is associated with"
        )
    })
}

/// `vpce_policy_ignored`: an endpoint the policy cut cannot close, named so the plan never calls it
/// contained. High: data can leave through it with every other cut applied.
pub struct PolicyIgnored;

/// The finding for one endpoint, or nothing when `vpce_policy_deny` closes it.
pub fn policy_finding(
    region: &str,
    endpoint: &EndpointDescription,
    support: &PolicySupport,
) -> Option<Finding> {
    let message = match (support, &endpoint.policy_document) {
        (PolicySupport::Enforced, Some(_)) => return None,
        (PolicySupport::Ignored(why), _) => format!(
            "{}: AWS allows full access through it whatever its endpoint policy says ({why}), so vpce_policy_deny proposes no cut for it and it stays open. Only vpce_delete closes it (irreversible, proposed off): enable that cut if this path must close, or contain it at the service's side.",
            endpoint.summary()
        ),
        (PolicySupport::Unknown(why), _) => format!(
            "{}: whether AWS enforces its endpoint policy could not be told ({why}). vpce_policy_deny still puts a deny-all on it where it can, but if the service ignores endpoint policies the endpoint stays open: check the service (DescribeVpcEndpointServices, VpcEndpointPolicySupported and Owner) and enable vpce_delete (irreversible, proposed off) if it does.",
            endpoint.summary()
        ),
        (PolicySupport::Enforced, None) => format!(
            "{}: AWS returned no policy for it although its service supports endpoint policies, so vpce_policy_deny cannot record what restore would put back and proposes no cut: check its policy by hand, or enable vpce_delete (irreversible, proposed off).",
            endpoint.summary()
        ),
    };
    Some(Finding {
        check: "vpce_policy_ignored".into(),
        region: region.to_string(),
        resource: endpoint.vpc_endpoint_id.clone(),
        severity: Severity::High,
        message,
    })
}

#[async_trait]
impl Inspection for PolicyIgnored {
    fn name(&self) -> &'static str {
        "vpce_policy_ignored"
    }

    fn global(&self) -> bool {
        false
    }

    /// A failure to list the endpoints is the kinds' discovery error; not reported twice.
    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        Ok(match classified_region(ctx).await {
            Ok(classified) => classified
                .endpoints
                .iter()
                .filter_map(|(endpoint, support)| policy_finding(&ctx.region, endpoint, support))
                .collect(),
            Err(_) => vec![],
        })
    }
}

/// Every endpoint of the region, through every page.
async fn describe_region(ctx: &RegionCtx) -> Result<Vec<VpcEndpoint>, ServiceError> {
    ctx.ec2()
        .describe_vpc_endpoints()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcEndpoints", err))
}

/// The endpoint now, or None when it no longer exists or is deleted.
async fn live_endpoint(
    ctx: &RegionCtx,
    endpoint_id: &str,
) -> Result<Option<EndpointDescription>, ServiceError> {
    let described = ctx
        .ec2()
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("ec2:DescribeVpcEndpoints", err));
    Ok(
        vpc::unless_not_found(described, &["InvalidVpcEndpointId.NotFound"])?.and_then(|out| {
            out.vpc_endpoints()
                .iter()
                .filter_map(describe)
                .find(|e| e.vpc_endpoint_id == endpoint_id && !is_gone(&e.state))
        }),
    )
}

/// The emulator lacks DescribeVpcEndpointServices and answers 500 every time: retrying it six times, with
/// backoff, added tens of seconds to every plan and apply there. AWS keeps the standard retries.
fn no_retries_on_emulator(ctx: &RegionCtx) -> aws_sdk_ec2::config::Builder {
    let mut overrides = aws_sdk_ec2::config::Builder::default();
    overrides.set_retry_config(crate::services::common::missing_api::retry_config(
        ctx.endpoint_url.as_deref(),
    ));
    overrides
}

#[cfg(test)]
mod tests;
