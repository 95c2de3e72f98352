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
//! Nothing here asks AWS: it compares what two names resolve to on this machine. The endpoint's own
//! names (`vpce-….ec2.us-east-1.vpce.amazonaws.com`, from DescribeVpcEndpoints' `DnsEntries`) are public
//! DNS records of its network interfaces' private addresses, so they tell which endpoint the service's
//! name leads to. Against an endpoint override (the emulator) calls go to the override, through no
//! endpoint, and nothing is resolved.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use aws_sdk_ec2::types::VpcEndpoint;

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

/// The judgement, from what the names resolved to here: pure, so it is tested without a resolver.
/// `service` is what the service's hostname resolved to (None: it did not resolve); `endpoint` what the
/// endpoint's own names resolved to (None: none did).
pub fn runs_through(
    service: Option<&BTreeSet<IpAddr>>,
    endpoint: Option<&BTreeSet<IpAddr>>,
) -> Option<Vec<IpAddr>> {
    let service = service?;
    match endpoint {
        // The endpoint's own names say where it is: the service's name leads here to it, or not.
        Some(endpoint) => {
            let shared: Vec<IpAddr> = service.intersection(endpoint).copied().collect();
            (!shared.is_empty()).then_some(shared)
        }
        // They did not resolve: a service name that leads to a private address here leads to some
        // endpoint with private DNS, which may be this one. Keeping the responder's way in comes first.
        None => {
            let private: Vec<IpAddr> = service.iter().copied().filter(is_private).collect();
            (!private.is_empty()).then_some(private)
        }
    }
}

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

/// Why cutting this endpoint would cut the run's own calls, when it would: an interface endpoint with
/// private DNS, for an AWS service whose hostname leads here to the endpoint's addresses.
pub async fn own_calls_through(ctx: &RegionCtx, endpoint: &VpcEndpoint) -> Option<String> {
    if ctx.endpoint_url.is_some() {
        return None;
    }
    judged_with(
        &ctx.region,
        endpoint,
        |name| async move { resolve(&name).await },
    )
    .await
}

/// [`own_calls_through`] with the resolver given, so tests stand in for DNS.
async fn judged_with<F, Fut>(region: &str, endpoint: &VpcEndpoint, resolve: F) -> Option<String>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Option<BTreeSet<IpAddr>>>,
{
    if endpoint.private_dns_enabled() != Some(true)
        || endpoint.private_dns_enabled() != Some(true)
        || !endpoint
            .vpc_endpoint_type()
            .is_some_and(|t| t.as_str().eq_ignore_ascii_case("Interface"))
    {
        return None;
    }
    let host = service_hostname(endpoint.service_name()?, region)?;
    let service = resolve(host.clone()).await?;
    let mut endpoint_addresses: Option<BTreeSet<IpAddr>> = None;
    for name in endpoint_names(endpoint) {
        if let Some(found) = resolve(name).await {
            endpoint_addresses
                .get_or_insert_with(BTreeSet::new)
                .extend(found);
        }
    }
    let shared = runs_through(Some(&service), endpoint_addresses.as_ref())?;
    let shown: Vec<String> = shared.iter().map(IpAddr::to_string).collect();
    Some(format!(
        "{host} resolves here to {}, {}: this run's calls to it (and restore's, run from here) go through this endpoint, so cutting it would cut hikkonuki off part-way. Cut it from outside the VPC, or enable it knowing restore must then run from outside",
        shown.join(", "),
        if endpoint_addresses.is_some() {
            "this endpoint's addresses"
        } else {
            "a private address of some endpoint with private DNS (this endpoint's own names did not resolve, so it may be this one)"
        }
    ))
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
            Some("ecr.api.eu-west-1.amazonaws.com")
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

    fn interface(service: &str, private_dns: bool) -> VpcEndpoint {
        use aws_sdk_ec2::types::{DnsEntry, VpcEndpointType};
        VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-0a1b")
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name(service)
            .private_dns_enabled(private_dns)
            .dns_entries(
                DnsEntry::builder()
                    .dns_name("vpce-0a1b-x1y2.ec2.us-east-1.vpce.amazonaws.com")
                    .build(),
            )
            .build()
    }

    /// A resolver that knows only the names given.
    async fn judge(endpoint: &VpcEndpoint, known: &[(&str, &[&str])]) -> Option<String> {
        let known: std::collections::HashMap<String, BTreeSet<IpAddr>> = known
            .iter()
            .map(|(name, addresses)| (name.to_string(), set(addresses)))
            .collect();
        judged_with("us-east-1", endpoint, |name| {
            let found = known.get(&name).cloned();
            async move { found }
        })
        .await
    }

    #[tokio::test]
    async fn an_endpoint_the_services_name_leads_to_here_is_named_with_the_addresses() {
        let endpoint = interface("com.amazonaws.us-east-1.ec2", true);
        let why = judge(
            &endpoint,
            &[
                ("ec2.us-east-1.amazonaws.com", &["10.0.1.25"]),
                (
                    "vpce-0a1b-x1y2.ec2.us-east-1.vpce.amazonaws.com",
                    &["10.0.1.25"],
                ),
            ],
        )
        .await
        .expect("the run's calls go through it");
        assert!(
            why.starts_with(
                "ec2.us-east-1.amazonaws.com resolves here to 10.0.1.25, this endpoint's addresses:"
            ),
            "{why}"
        );
        // Outside the VPC, the name leads to the public service.
        let outside = [
            ("ec2.us-east-1.amazonaws.com", &["52.46.128.10"][..]),
            (
                "vpce-0a1b-x1y2.ec2.us-east-1.vpce.amazonaws.com",
                &["10.0.1.25"][..],
            ),
        ];
        assert_eq!(judge(&endpoint, &outside).await, None);
        // Without private DNS the service's name never leads to the endpoint; nor does another
        // service's name, or a gateway endpoint's.
        let inside = [
            ("ec2.us-east-1.amazonaws.com", &["10.0.1.25"][..]),
            (
                "vpce-0a1b-x1y2.ec2.us-east-1.vpce.amazonaws.com",
                &["10.0.1.25"][..],
            ),
        ];
        assert_eq!(
            judge(&interface("com.amazonaws.us-east-1.ec2", false), &inside).await,
            None
        );
        assert_eq!(
            judge(
                &interface("com.amazonaws.vpce.us-east-1.vpce-svc-1", true),
                &inside
            )
            .await,
            None
        );
        let gateway = VpcEndpoint::builder()
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
            .service_name("com.amazonaws.us-east-1.ec2")
            .private_dns_enabled(true)
            .build();
        assert_eq!(judge(&gateway, &inside).await, None);
        // The endpoint's own name does not resolve: a private answer may be this endpoint.
        let may = judge(
            &endpoint,
            &[("ec2.us-east-1.amazonaws.com", &["10.0.1.25"])],
        )
        .await
        .expect("kept, since it may be the way in");
        assert!(may.contains("so it may be this one"), "{may}");
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
}
