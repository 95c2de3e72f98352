//! Whether hikkonuki's own calls go through an endpoint. Run inside a VPC whose interface endpoints
//! carry private DNS (an instance, a container, CloudShell in a VPC, a laptop on a VPN whose resolver
//! forwards to the VPC), the service's public hostname (`ec2.us-east-1.amazonaws.com`) resolves here to
//! the endpoint's private addresses, so every call the run makes to that service goes through the
//! endpoint (<https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-access-aws-services.html>,
//! "DNS hostnames" and "Private DNS"). A deny-all policy on it, or its deletion, would then cut the
//! run off part-way, and restore after it, from where the responder stands: the brief's "never lock
//! yourself out". Such a cut is proposed switched off, saying why, and apply leaves it out when it runs
//! from such a place, whoever planned it.
//!
//! It compares what the service's hostname resolves to on this machine with the addresses of each
//! interface endpoint's network interfaces, read from EC2 (DescribeNetworkInterfaces, type
//! `vpc_endpoint`), or, when they cannot be read, with what the endpoint's own DNS names
//! (`vpce-….ec2.us-east-1.vpce.amazonaws.com`, public records of those addresses) resolve to. Private
//! DNS need not be on: a hub VPC's endpoint reached from spokes through a shared private hosted zone is
//! found the same way. An `AWS_ENDPOINT_URL_<SERVICE>` naming one of an endpoint's own names sends the
//! run's calls there whatever DNS says. Two endpoints holding the same address (VPCs built alike) cannot
//! be told apart from here: both are spared, each reason saying so. Against an endpoint override for
//! every service (the emulator) calls go to the override, through no endpoint, and nothing is judged.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, VpcEndpoint};

use crate::aws::RegionCtx;
use crate::services::common::regions::partition_of_region;

/// How long one name may take to resolve: a resolver that does not answer must not hold up the plan
/// (names that do not resolve are judged as below).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

/// An AWS service's regional hostname from an endpoint's service name
/// (`com.amazonaws.us-east-1.ec2` → `ec2.us-east-1.amazonaws.com`; in China `cn.com.amazonaws.…` →
/// `….amazonaws.com.cn`). None for any other service (a partner's or an account's endpoint service,
/// whose names hikkonuki never calls) and for the isolated partitions, whose domains differ.
pub fn service_hostname(service_name: &str, region: &str) -> Option<String> {
    // IAM's endpoint service is named without a region, and answers at IAM's global name
    // (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-interface-vpc-endpoints.html>).
    if service_name == "com.amazonaws.iam" && partition_of_region(region) == "aws" {
        return Some("iam.amazonaws.com".into());
    }
    // In China most services are named `cn.com.amazonaws.…`, a few (S3, DynamoDB) `com.amazonaws.…`.
    let (prefixes, domain): (&[&str], &str) = match partition_of_region(region) {
        "aws" | "aws-us-gov" => (&["com.amazonaws."], "amazonaws.com"),
        "aws-cn" => (&["cn.com.amazonaws.", "com.amazonaws."], "amazonaws.com.cn"),
        _ => return None,
    };
    let service = prefixes
        .iter()
        .find_map(|prefix| service_name.strip_prefix(prefix))?
        .strip_prefix(region)?;
    let service = service.strip_prefix('.')?;
    // ECR's API is `….ecr.api` as an endpoint service, and `api.ecr.<region>…` as the host the SDK
    // calls (<https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html>).
    let service = if service == "ecr.api" {
        "api.ecr"
    } else {
        service
    };
    let plain = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    plain.then(|| format!("{service}.{region}.{domain}"))
}

/// The endpoint's own DNS names: its regional and zonal `….vpce.amazonaws.com` names, never a wildcard.
pub fn endpoint_names(endpoint: &VpcEndpoint) -> Vec<String> {
    endpoint
        .dns_entries()
        .iter()
        .filter_map(|entry| entry.dns_name())
        .filter(|name| !name.starts_with('*') && name.contains(".vpce."))
        .map(str::to_string)
        .collect()
}

/// Whether an address is one only a private network reaches (an endpoint's network interfaces have
/// such addresses; the services' public endpoints never do).
fn is_private(address: &IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            // RFC 1918, and the shared space (RFC 6598) some VPCs use.
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        // Unique local addresses (fc00::/7); a VPC's IPv6 ranges are global, so an IPv6 endpoint
        // address is judged by the endpoint's own names below, not by this.
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// The judgement for one endpoint: pure, so it is tested without a resolver. `service` is what the
/// service's hostname resolved to here (None: it did not resolve); `endpoint` the endpoint's addresses,
/// from its network interfaces or its own names (None: not known).
pub fn runs_through(
    service: Option<&BTreeSet<IpAddr>>,
    endpoint: Option<&BTreeSet<IpAddr>>,
) -> Option<Vec<IpAddr>> {
    let service = service?;
    match endpoint {
        // The endpoint's addresses say where it is: the service's name leads here to it, or not.
        Some(endpoint) => {
            let shared: Vec<IpAddr> = service.intersection(endpoint).copied().collect();
            (!shared.is_empty()).then_some(shared)
        }
        // Not known: a service name that leads to a private address here leads to some endpoint, which
        // may be this one. Keeping the responder's way in comes first.
        None => {
            let private: Vec<IpAddr> = service.iter().copied().filter(is_private).collect();
            (!private.is_empty()).then_some(private)
        }
    }
}

/// What `name` resolves to here, within [`RESOLVE_TIMEOUT`]; None when it does not. A resolver slower
/// than that counts as no answer: the judgement then errs towards no endpoint, which the README
/// names as a limit (a run whose resolver takes seconds over a VPN is better judged with the calls'
/// own `AWS_ENDPOINT_URL_…` set to the endpoint's names).
async fn resolve(name: &str) -> Option<BTreeSet<IpAddr>> {
    let lookup = tokio::net::lookup_host((name, 443));
    let addresses: BTreeSet<IpAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
        .await
        .ok()?
        .ok()?
        .map(|socket| socket.ip())
        .collect();
    (!addresses.is_empty()).then_some(addresses)
}

/// The services whose endpoints carry the session a responder may run hikkonuki in (Session
/// Manager's shell), though the run never calls them: cut, the session hangs up and the run with it.
const OPERATOR_SESSION_SERVICES: &[&str] = &["ssmmessages", "ec2messages"];

/// The endpoints whose interface endpoints carry the run's calls in `region`: those it calls
/// ([`crate::aws::proxy::endpoints`]) and those of the session it may run in
/// ([`OPERATOR_SESSION_SERVICES`]).
fn judged_endpoints(region: &str, env: &[(String, String)]) -> Vec<http::Uri> {
    let mut endpoints =
        crate::aws::proxy::endpoints(None, region, &[region.to_string()], &|| env.to_vec());
    let domain = crate::aws::proxy::domain(region);
    endpoints.extend(
        OPERATOR_SESSION_SERVICES
            .iter()
            .filter_map(|service| format!("https://{service}.{region}.{domain}/").parse().ok()),
    );
    endpoints
}

/// Whether `host` (an endpoint service's, [`service_hostname`]) is among `judged` hosts, its FIPS form
/// (`kms-fips.…`) counting as the service's: a run with FIPS endpoints calls that one.
pub fn is_judged(host: &str, judged: &BTreeSet<String>) -> bool {
    let host = host.to_ascii_lowercase();
    let plain = match host.split_once('.') {
        Some((first, rest)) => match first.strip_suffix("-fips") {
            Some(service) => format!("{service}.{rest}"),
            None => host.clone(),
        },
        None => host.clone(),
    };
    judged.contains(&host) || judged.contains(&plain)
}

/// One interface endpoint as the judgement sees it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub id: String,
    /// The AWS service hostname its service answers at; None for another service.
    pub host: Option<String>,
    /// Its network interfaces' addresses; None when they could not be told.
    pub addresses: Option<BTreeSet<IpAddr>>,
    /// Its own DNS names ([`endpoint_names`]).
    pub names: Vec<String>,
}

/// The endpoints this run's calls go through, by ID, each with how they reach it: pure, so it is
/// tested without AWS or DNS. `resolved` is what each service hostname resolves to here; `overrides` the hosts that
/// `AWS_ENDPOINT_URL_<SERVICE>` variables send calls to.
pub fn judge(
    candidates: &[Candidate],
    resolved: &HashMap<String, BTreeSet<IpAddr>>,
    overrides: &[String],
) -> BTreeMap<String, String> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    // Address matches per hostname, to tell when one address leads to several endpoints.
    let mut by_address: BTreeMap<(String, Vec<IpAddr>), Vec<String>> = BTreeMap::new();
    for candidate in candidates {
        if let Some(host) = overrides.iter().find(|host| {
            candidate
                .names
                .iter()
                .any(|name| host.eq_ignore_ascii_case(name) || host.ends_with(&format!(".{name}")))
        }) {
            found.insert(
                candidate.id.clone(),
                format!("an AWS_ENDPOINT_URL_… variable sends this run's calls to {host}, one of this endpoint's own names"),
            );
            continue;
        }
        let Some(host) = &candidate.host else {
            continue;
        };
        let Some(shared) = runs_through(resolved.get(host), candidate.addresses.as_ref()) else {
            continue;
        };
        by_address
            .entry((host.clone(), shared.clone()))
            .or_default()
            .push(candidate.id.clone());
        let shown: Vec<String> = shared.iter().map(IpAddr::to_string).collect();
        found.insert(
            candidate.id.clone(),
            format!(
                "{host} resolves here to {}, {}",
                shown.join(", "),
                if candidate.addresses.is_some() {
                    "this endpoint's addresses"
                } else {
                    "a private address of some endpoint (this one's addresses could not be told, so it may be this one)"
                }
            ),
        );
    }
    for ((_, _), ids) in by_address.iter().filter(|(_, ids)| ids.len() > 1) {
        for id in ids {
            if let Some(why) = found.get_mut(id) {
                why.push_str(&format!(
                    " (so do those of {}: VPCs built alike; which one carries this run's calls cannot be told from here, so each is spared)",
                    ids.iter().filter(|other| *other != id).cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    found
}

/// Why a cut of an endpoint the run's calls go through is left out, from how they reach it ([`judge`]).
pub fn endpoint_cut_why(how: &str) -> String {
    format!(
        "{how}: this run's calls to its service (and restore's, run from here) go through this endpoint, so cutting it would cut hikkonuki off part-way. Cut it from outside the VPC, or enable it knowing restore must then run from outside"
    )
}

/// Whether, as far as this machine tells without asking AWS, a call the run makes may go through an
/// interface endpoint: pure, so it is tested without DNS. `endpoints` are those the run calls
/// ([`crate::aws::proxy::endpoints`]), `resolved` what their hosts resolve to here. True where one is an
/// endpoint's own name (`….vpce.amazonaws.com`, through an `AWS_ENDPOINT_URL_…`), where a host resolves
/// to a private address (private DNS, or a shared private hosted zone), and where dual-stack endpoints
/// are asked for: an endpoint's IPv6 addresses are global ones, which DNS alone cannot tell from the
/// service's.
pub fn may_lead_to_an_endpoint(
    endpoints: &[http::Uri],
    resolved: &HashMap<String, BTreeSet<IpAddr>>,
    dual_stack: bool,
) -> bool {
    dual_stack
        || endpoints.iter().filter_map(http::Uri::host).any(|host| {
            host.to_ascii_lowercase().contains(".vpce.")
                || resolved
                    .get(host)
                    .is_some_and(|addresses| addresses.iter().any(is_private))
        })
}

/// [`may_lead_to_an_endpoint`] for the calls the run makes in `ctx`'s region, asking this machine's
/// resolver, once per region and run: asked before a judgement that reads the region's endpoints from
/// AWS ([`super::carrying_the_runs_calls`]), so a run from outside any VPC sends no call for it.
pub async fn may_go_through_an_endpoint(ctx: &RegionCtx) -> bool {
    let asked = ctx
        .once("own_route::may_go_through_an_endpoint", || async {
            Ok::<bool, std::convert::Infallible>(asked_of_the_resolver(&ctx.region).await)
        })
        .await;
    asked.unwrap_or(true)
}

async fn asked_of_the_resolver(region: &str) -> bool {
    let env: Vec<(String, String)> = std::env::vars().collect();
    // FIPS names are not resolved here: with them asked for, the region's endpoints are read.
    let dual_stack_or_fips = env.iter().any(|(name, value)| {
        (name == "AWS_USE_DUALSTACK_ENDPOINT" || name == "AWS_USE_FIPS_ENDPOINT")
            && value.trim().eq_ignore_ascii_case("true")
    });
    let endpoints = judged_endpoints(region, &env);
    let hosts: BTreeSet<String> = endpoints
        .iter()
        .filter_map(http::Uri::host)
        .map(str::to_string)
        .collect();
    let resolved = resolve_each(hosts).await;
    may_lead_to_an_endpoint(&endpoints, &resolved, dual_stack_or_fips)
}

/// The hosts `AWS_ENDPOINT_URL_<SERVICE>` variables name (the SDK's per-service endpoint override).
fn override_hosts() -> Vec<String> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with("AWS_ENDPOINT_URL_"))
        .filter_map(|(_, url)| {
            let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            let host = rest.split(['/', ':', '?']).next()?;
            (!host.is_empty()).then(|| host.to_ascii_lowercase())
        })
        .collect()
}

/// Every endpoint network interface's addresses in the region, by interface ID, through every page
/// (DescribeNetworkInterfaces, filter `interface-type` = `vpc_endpoint`:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>). None
/// when EC2 does not answer (UnauthorizedOperation, throttling past the SDK's retries): the caller then
/// asks DNS, so a denied read never hides an endpoint the run's calls go through.
async fn interface_addresses(ctx: &RegionCtx) -> Option<HashMap<String, BTreeSet<IpAddr>>> {
    let interfaces: Vec<_> = ctx
        .ec2()
        .describe_network_interfaces()
        .filters(
            Filter::builder()
                .name("interface-type")
                .values("vpc_endpoint")
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .ok()?;
    Some(
        interfaces
            .iter()
            .filter_map(|eni| {
                let id = eni.network_interface_id()?.to_string();
                let addresses = eni
                    .private_ip_addresses()
                    .iter()
                    .filter_map(|a| a.private_ip_address()?.parse().ok())
                    .chain(
                        eni.ipv6_addresses()
                            .iter()
                            .filter_map(|a| a.ipv6_address()?.parse().ok()),
                    )
                    .collect();
                Some((id, addresses))
            })
            .collect(),
    )
}

/// The region's interface endpoints this run's calls go through, by ID, with how they reach it.
pub async fn own_routes(ctx: &RegionCtx, endpoints: &[&VpcEndpoint]) -> BTreeMap<String, String> {
    if ctx.endpoint_url.is_some() {
        return BTreeMap::new();
    }
    let interface: Vec<&VpcEndpoint> = endpoints
        .iter()
        .copied()
        .filter(|e| {
            e.vpc_endpoint_type()
                .is_some_and(|t| t.as_str().eq_ignore_ascii_case("Interface"))
        })
        .collect();
    if interface.is_empty() {
        return BTreeMap::new();
    }
    let enis = interface_addresses(ctx).await;
    let mut candidates = Vec::new();
    for endpoint in interface {
        let Some(id) = endpoint.vpc_endpoint_id() else {
            continue;
        };
        let names = endpoint_names(endpoint);
        let from_interfaces = enis
            .as_ref()
            .map(|enis| {
                endpoint
                    .network_interface_ids()
                    .iter()
                    .filter_map(|eni| enis.get(eni))
                    .flatten()
                    .copied()
                    .collect::<BTreeSet<IpAddr>>()
            })
            .filter(|found| !found.is_empty());
        let addresses = match from_interfaces {
            Some(found) => Some(found),
            None => resolve_all(&names).await,
        };
        candidates.push(Candidate {
            id: id.to_string(),
            host: endpoint
                .service_name()
                .and_then(|name| service_hostname(name, &ctx.region)),
            addresses,
            names,
        });
    }
    // Only an endpoint of a service the run calls (or of the session it may run in) carries its
    // calls: one for a service it never calls, resolving here too, is not on its way.
    let env: Vec<(String, String)> = std::env::vars().collect();
    let judged: BTreeSet<String> = judged_endpoints(&ctx.region, &env)
        .iter()
        .filter_map(|uri| uri.host().map(str::to_ascii_lowercase))
        .collect();
    for candidate in &mut candidates {
        if candidate
            .host
            .as_ref()
            .is_some_and(|host| !is_judged(host, &judged))
        {
            candidate.host = None;
        }
    }
    let hosts: BTreeSet<String> = candidates.iter().filter_map(|c| c.host.clone()).collect();
    let resolved = resolve_each(hosts).await;
    judge(&candidates, &resolved, &override_hosts())
}

/// What each of `hosts` resolves to here, asked side by side (each within [`RESOLVE_TIMEOUT`]); a name
/// that does not resolve is left out.
async fn resolve_each(hosts: BTreeSet<String>) -> HashMap<String, BTreeSet<IpAddr>> {
    let answers = futures_util::future::join_all(hosts.iter().map(|host| resolve(host))).await;
    hosts
        .into_iter()
        .zip(answers)
        .filter_map(|(host, found)| Some((host, found?)))
        .collect()
}

/// What any of `names` resolves to here; None when none does.
async fn resolve_all(names: &[String]) -> Option<BTreeSet<IpAddr>> {
    let found = resolve_each(names.iter().cloned().collect()).await;
    (!found.is_empty()).then(|| found.into_values().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(addresses: &[&str]) -> BTreeSet<IpAddr> {
        addresses.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn an_aws_services_hostname_comes_from_its_endpoint_service_name_and_no_other_does() {
        assert_eq!(
            service_hostname("com.amazonaws.us-east-1.ec2", "us-east-1").as_deref(),
            Some("ec2.us-east-1.amazonaws.com")
        );
        assert_eq!(
            service_hostname("com.amazonaws.eu-west-1.ecr.api", "eu-west-1").as_deref(),
            Some("api.ecr.eu-west-1.amazonaws.com")
        );
        assert_eq!(
            service_hostname("com.amazonaws.iam", "us-east-1").as_deref(),
            Some("iam.amazonaws.com")
        );
        assert_eq!(
            service_hostname("com.amazonaws.us-east-1.kms-fips", "us-east-1").as_deref(),
            Some("kms-fips.us-east-1.amazonaws.com")
        );
        assert_eq!(
            service_hostname("cn.com.amazonaws.cn-north-1.sts", "cn-north-1").as_deref(),
            Some("sts.cn-north-1.amazonaws.com.cn")
        );
        assert_eq!(
            service_hostname("com.amazonaws.cn-north-1.s3", "cn-north-1").as_deref(),
            Some("s3.cn-north-1.amazonaws.com.cn")
        );
        // A partner's or an account's own endpoint service, another region, a name no host can carry.
        for (name, region) in [
            (
                "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
                "eu-west-1",
            ),
            ("aws.sagemaker.us-east-1.notebook", "us-east-1"),
            ("com.amazonaws.eu-west-1.ec2", "us-east-1"),
            ("com.amazonaws.us-east-1.", "us-east-1"),
            ("com.amazonaws.us-east-1.ec2/../evil", "us-east-1"),
            ("com.amazonaws.us-iso-east-1.ec2", "us-iso-east-1"),
        ] {
            assert_eq!(service_hostname(name, region), None, "{name}");
        }
    }

    #[test]
    fn the_service_name_leading_to_the_endpoints_own_addresses_is_a_way_in_and_nothing_else_is() {
        let inside = set(&["10.0.1.25", "10.0.2.31"]);
        assert_eq!(
            runs_through(Some(&inside), Some(&set(&["10.0.2.31", "10.0.3.9"]))),
            Some(vec!["10.0.2.31".parse().unwrap()])
        );
        // Another VPC's endpoint for the same service: its addresses are not where the name leads.
        assert_eq!(runs_through(Some(&inside), Some(&set(&["10.9.0.4"]))), None);
        // Run from outside: the name leads to the service's public addresses.
        assert_eq!(
            runs_through(Some(&set(&["52.46.128.10"])), Some(&set(&["10.0.2.31"]))),
            None
        );
        assert_eq!(runs_through(None, Some(&set(&["10.0.2.31"]))), None);
    }

    #[test]
    fn when_the_endpoints_names_do_not_resolve_a_private_answer_is_taken_as_this_endpoint() {
        assert_eq!(
            runs_through(Some(&set(&["100.64.3.7", "52.46.128.10"])), None),
            Some(vec!["100.64.3.7".parse().unwrap()])
        );
        assert_eq!(
            runs_through(Some(&set(&["fd00:ec2::23"])), None),
            Some(vec!["fd00:ec2::23".parse().unwrap()])
        );
        assert_eq!(runs_through(Some(&set(&["52.46.128.10"])), None), None);
    }

    fn candidate(id: &str, addresses: Option<&[&str]>) -> Candidate {
        Candidate {
            id: id.into(),
            host: Some("ec2.us-east-1.amazonaws.com".into()),
            addresses: addresses.map(set),
            names: vec![format!("{id}-x1y2.ec2.us-east-1.vpce.amazonaws.com")],
        }
    }

    fn resolving(addresses: &[&str]) -> HashMap<String, BTreeSet<IpAddr>> {
        HashMap::from([("ec2.us-east-1.amazonaws.com".to_string(), set(addresses))])
    }

    #[test]
    fn an_endpoint_the_services_name_leads_to_here_is_named_with_the_addresses() {
        let found = judge(
            &[
                candidate("vpce-ours", Some(&["10.0.1.25"])),
                candidate("vpce-other", Some(&["10.9.0.4"])),
            ],
            &resolving(&["10.0.1.25"]),
            &[],
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found["vpce-ours"],
            "ec2.us-east-1.amazonaws.com resolves here to 10.0.1.25, this endpoint's addresses"
        );
        assert!(
            endpoint_cut_why(&found["vpce-ours"])
                .contains("this endpoint's addresses: this run's calls to its service"),
            "{found:?}"
        );
        // Outside the VPC, the name leads to the public service: nothing is spared.
        assert!(
            judge(
                &[candidate("vpce-ours", Some(&["10.0.1.25"]))],
                &resolving(&["52.46.128.10"]),
                &[]
            )
            .is_empty()
        );
        // A service that is not AWS's has no hostname to compare.
        let partner = Candidate {
            host: None,
            ..candidate("vpce-partner", Some(&["10.0.1.25"]))
        };
        assert!(judge(&[partner], &resolving(&["10.0.1.25"]), &[]).is_empty());
        // Addresses unknown: a private answer may be this endpoint.
        let may = judge(
            &[candidate("vpce-ours", None)],
            &resolving(&["10.0.1.25"]),
            &[],
        );
        assert!(
            may["vpce-ours"].contains("so it may be this one"),
            "{may:?}"
        );
    }

    #[test]
    fn one_address_held_by_two_endpoints_spares_both_saying_it_cannot_tell() {
        let found = judge(
            &[
                candidate("vpce-a", Some(&["10.0.1.25"])),
                candidate("vpce-b", Some(&["10.0.1.25"])),
            ],
            &resolving(&["10.0.1.25"]),
            &[],
        );
        assert!(
            found["vpce-a"].contains("so do those of vpce-b"),
            "{found:?}"
        );
        assert!(
            found["vpce-b"].contains("so do those of vpce-a"),
            "{found:?}"
        );
        assert!(
            found["vpce-a"].contains("cannot be told from here"),
            "{found:?}"
        );
    }

    #[test]
    fn a_per_service_endpoint_url_naming_the_endpoint_sends_the_calls_there() {
        let found = judge(
            &[candidate("vpce-ours", Some(&["10.0.1.25"]))],
            &resolving(&["52.46.128.10"]),
            &["vpce-ours-x1y2.ec2.us-east-1.vpce.amazonaws.com".into()],
        );
        assert!(
            found["vpce-ours"].starts_with(
                "an AWS_ENDPOINT_URL_… variable sends this run's calls to vpce-ours-x1y2"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn only_the_endpoints_own_names_are_resolved() {
        use aws_sdk_ec2::types::DnsEntry;
        let entry = |name: &str| DnsEntry::builder().dns_name(name).build();
        let endpoint = VpcEndpoint::builder()
            .dns_entries(entry("vpce-0a1b-x1y2.ec2.us-east-1.vpce.amazonaws.com"))
            .dns_entries(entry(
                "vpce-0a1b-x1y2-us-east-1a.ec2.us-east-1.vpce.amazonaws.com",
            ))
            .dns_entries(entry("ec2.us-east-1.amazonaws.com"))
            .dns_entries(entry("*.s3.us-east-1.vpce.amazonaws.com"))
            .build();
        assert_eq!(
            endpoint_names(&endpoint),
            vec![
                "vpce-0a1b-x1y2.ec2.us-east-1.vpce.amazonaws.com",
                "vpce-0a1b-x1y2-us-east-1a.ec2.us-east-1.vpce.amazonaws.com"
            ]
        );
    }

    #[test]
    fn only_a_private_answer_an_endpoints_own_name_or_dual_stack_may_lead_to_an_endpoint() {
        let endpoints: Vec<http::Uri> = [
            "https://ec2.us-east-1.amazonaws.com/",
            "https://sts.us-east-1.amazonaws.com/",
        ]
        .iter()
        .map(|uri| uri.parse().unwrap())
        .collect();
        let public = HashMap::from([
            (
                "ec2.us-east-1.amazonaws.com".to_string(),
                set(&["52.46.128.10"]),
            ),
            (
                "sts.us-east-1.amazonaws.com".to_string(),
                set(&["52.94.0.1"]),
            ),
        ]);
        // From outside any VPC: the run's calls go to the public services.
        assert!(!may_lead_to_an_endpoint(&endpoints, &public, false));
        // Names that did not resolve tell nothing.
        assert!(!may_lead_to_an_endpoint(&endpoints, &HashMap::new(), false));
        // Private DNS: one service's name leads to an endpoint's address.
        let mut private = public.clone();
        private.insert("sts.us-east-1.amazonaws.com".into(), set(&["10.0.1.25"]));
        assert!(may_lead_to_an_endpoint(&endpoints, &private, false));
        // An endpoint's own name, set through AWS_ENDPOINT_URL_STS.
        let mut named = endpoints.clone();
        named.push(
            "https://vpce-0a1b-x1y2.sts.us-east-1.vpce.amazonaws.com"
                .parse()
                .unwrap(),
        );
        assert!(may_lead_to_an_endpoint(&named, &public, false));
        // Dual-stack: an endpoint's IPv6 addresses are global, DNS cannot tell them apart.
        assert!(may_lead_to_an_endpoint(&endpoints, &public, true));
    }

    #[test]
    fn only_endpoints_of_services_the_run_calls_or_runs_in_are_judged_fips_ones_too() {
        let judged: BTreeSet<String> = judged_endpoints("us-east-1", &[])
            .iter()
            .filter_map(|uri| uri.host().map(str::to_string))
            .collect();
        for host in [
            "ec2.us-east-1.amazonaws.com",
            "codecommit.us-east-1.amazonaws.com",
            "api.ecr.us-east-1.amazonaws.com",
            "iam.amazonaws.com",
            "ssmmessages.us-east-1.amazonaws.com",
            "kms-fips.us-east-1.amazonaws.com",
            "EC2.us-east-1.amazonaws.com",
        ] {
            assert!(is_judged(host, &judged), "{host}");
        }
        for host in [
            "execute-api.us-east-1.amazonaws.com",
            "ecr.api.us-east-1.amazonaws.com",
            "sagemaker.api.us-east-1.amazonaws.com",
            "ec2.eu-west-1.amazonaws.com",
        ] {
            assert!(!is_judged(host, &judged), "{host}");
        }
    }
}
