//! The proxy the environment names for the run's calls, read with the same rules the run's HTTP client
//! follows ([`super::https_client`]: hyper-util's matcher over `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
//! and `NO_PROXY`, upper case first): which proxies the calls to AWS go through
//! ([`crate::runner::proxy`] finds where they sit), and whether the client can use the one named.

use std::collections::BTreeSet;

use hyper_util::client::proxy::matcher::Matcher;

/// A proxy the run's calls are sent through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Proxy {
    /// `scheme://host:port`, without the credentials a proxy URL may carry: what messages show.
    pub shown: String,
    pub host: String,
    pub port: u16,
}

/// The services whose endpoints are asked for: those hikkonuki calls, and those its credentials come
/// from. `NO_PROXY` may exempt some hosts and not others; a proxy any of them goes through counts, so
/// a list too long only errs towards leaving out the seal of a proxy the run might not use, saying so.
const SERVICES: &[&str] = &[
    "ec2",
    "s3",
    "s3-control",
    "sts",
    "lambda",
    "kms",
    "logs",
    "cloudtrail",
    "sns",
    "sqs",
    "secretsmanager",
    "ssm",
    "ecr",
    "api.ecr",
    "rds",
    "apigateway",
    "email",
    "sso",
    "portal.sso",
    "oidc",
    "support",
    "organizations",
    "codecommit",
    "api.ecr-public",
];

/// The partitions' domains, by region prefix
/// (<https://docs.aws.amazon.com/whitepapers/latest/aws-fault-isolation-boundaries/partitions.html>).
pub fn domain(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else {
        "amazonaws.com"
    }
}

/// The endpoints the run calls: `endpoint_url` where one replaces them all, any a service's own
/// variable names (`AWS_ENDPOINT_URL_<SERVICE>`), and AWS's own for each service in `regions` and the
/// home region, their dual-stack ones where `AWS_USE_DUALSTACK_ENDPOINT` asks for them, and the global
/// ones (IAM, CloudFront, Route 53).
pub fn endpoints(
    endpoint_url: Option<&str>,
    home_region: &str,
    regions: &[String],
    env: &dyn Fn() -> Vec<(String, String)>,
) -> Vec<http::Uri> {
    let variables = env();
    let mut endpoints: Vec<String> = variables
        .iter()
        .filter(|(name, value)| name.starts_with("AWS_ENDPOINT_URL_") && !value.trim().is_empty())
        .map(|(_, value)| value.trim().to_string())
        .collect();
    if let Some(url) = endpoint_url {
        endpoints.push(url.to_string());
    } else {
        let dual_stack = variables.iter().any(|(name, value)| {
            name == "AWS_USE_DUALSTACK_ENDPOINT" && value.trim().eq_ignore_ascii_case("true")
        });
        let all: BTreeSet<&str> = regions
            .iter()
            .map(String::as_str)
            .chain([home_region])
            .filter(|region| !region.is_empty())
            .collect();
        for region in &all {
            let domain = domain(region);
            for service in SERVICES {
                endpoints.push(format!("https://{service}.{region}.{domain}/"));
                if dual_stack {
                    endpoints.push(format!("https://{service}.{region}.api.aws/"));
                }
            }
        }
        // The global services' own hosts, for the partitions of the regions.
        let mut globals = BTreeSet::new();
        for region in &all {
            match domain(region) {
                "amazonaws.com.cn" => {
                    globals.insert("iam.cn-north-1.amazonaws.com.cn");
                }
                "amazonaws.com" if region.starts_with("us-gov-") => {
                    globals.insert("iam.us-gov.amazonaws.com");
                }
                "amazonaws.com" => {
                    globals.extend([
                        "iam.amazonaws.com",
                        "cloudfront.amazonaws.com",
                        "route53.amazonaws.com",
                    ]);
                }
                _ => {}
            }
        }
        for global in globals {
            endpoints.push(format!("https://{global}/"));
        }
    }
    endpoints
        .iter()
        .filter_map(|endpoint| endpoint.parse().ok())
        .collect()
}

/// The proxies `matcher` sends the calls to `endpoints` through, each once.
pub fn in_use(matcher: &Matcher, endpoints: &[http::Uri]) -> Vec<Proxy> {
    let proxies: BTreeSet<Proxy> = endpoints
        .iter()
        .filter_map(|endpoint| matcher.intercept(endpoint))
        .filter_map(|intercept| {
            let uri = intercept.uri();
            let scheme = uri.scheme_str().unwrap_or("http");
            let port = uri.port_u16().unwrap_or(match scheme {
                "https" => 443,
                "http" => 80,
                _ => 1080,
            });
            Some(Proxy {
                shown: format!("{scheme}://{}:{port}", uri.host()?),
                host: uri
                    .host()?
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port,
            })
        })
        .collect();
    proxies.into_iter().collect()
}

/// Why a proxy among `proxies` cannot carry the run's calls, if one cannot: the client speaks to HTTP
/// and HTTPS proxies only, and would fail every call through a SOCKS one (`ALL_PROXY=socks5://…`).
pub fn unusable(proxies: &[Proxy]) -> Option<String> {
    let unusable: Vec<&str> = proxies
        .iter()
        .filter(|proxy| !proxy.shown.starts_with("http://") && !proxy.shown.starts_with("https://"))
        .map(|proxy| proxy.shown.as_str())
        .collect();
    (!unusable.is_empty()).then(|| {
        format!(
            "the proxy environment variables (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) send the calls to AWS through {}, which hikkonuki cannot use: it sends through HTTP and HTTPS proxies only",
            unusable.join(", ")
        )
    })
}

/// What a call that could not reach AWS says of the proxies it went through: `None` where none.
pub fn hint(proxies: &[Proxy]) -> Option<String> {
    (!proxies.is_empty()).then(|| {
        format!(
            "the calls go through the proxy {} that the proxy environment variables (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY) name: check it answers, or exempt AWS's endpoints with NO_PROXY",
            proxies
                .iter()
                .map(|proxy| proxy.shown.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The proxies the environment sends the calls of a session with `endpoint_url` and `home_region`
/// in `regions` through, read from this process's environment.
pub fn from_env(endpoint_url: Option<&str>, home_region: &str, regions: &[String]) -> Vec<Proxy> {
    let env = || std::env::vars().collect::<Vec<_>>();
    in_use(
        &Matcher::from_env(),
        &endpoints(endpoint_url, home_region, regions, &env),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions() -> Vec<String> {
        vec!["us-east-1".into(), "eu-west-1".into()]
    }

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    fn hosts(endpoints: &[http::Uri]) -> Vec<&str> {
        endpoints.iter().filter_map(http::Uri::host).collect()
    }

    /// A proxy is taken where any endpoint the run calls is sent through it, once however many are,
    /// and shown without the credentials its URL carries; `NO_PROXY` exempting every endpoint, or an
    /// endpoint of a scheme no proxy is named for, takes none.
    #[test]
    fn the_proxy_the_run_calls_go_through_is_taken_once_and_shown_without_credentials() {
        let aws = endpoints(None, "ap-south-1", &regions(), &no_env);
        let named = hosts(&aws);
        for host in [
            "ec2.eu-west-1.amazonaws.com",
            "organizations.us-east-1.amazonaws.com",
            // The home region's, where the account check and credentials go.
            "sts.ap-south-1.amazonaws.com",
            "iam.amazonaws.com",
        ] {
            assert!(named.contains(&host), "{host} in {named:?}");
        }
        assert!(!named.iter().any(|host| host.ends_with(".api.aws")));
        assert!(
            hosts(&endpoints(None, "cn-north-1", &[], &no_env))
                .contains(&"ec2.cn-north-1.amazonaws.com.cn")
        );
        let corporate = Matcher::builder()
            .https("http://responder:s3cret@proxy.corp.example:3128")
            .build();
        assert_eq!(
            in_use(&corporate, &aws),
            vec![Proxy {
                shown: "http://proxy.corp.example:3128".into(),
                host: "proxy.corp.example".into(),
                port: 3128,
            }]
        );
        // Exempting EC2 and STS alone leaves the other services' calls going through it.
        let some_exempt = Matcher::builder()
            .https("proxy.corp.example:3128")
            .no("ec2.us-east-1.amazonaws.com,sts.us-east-1.amazonaws.com")
            .build();
        assert_eq!(in_use(&some_exempt, &aws).len(), 1);
        let all_exempt = Matcher::builder()
            .https("proxy.corp.example:3128")
            .no(".amazonaws.com")
            .build();
        assert!(in_use(&all_exempt, &aws).is_empty());
        // Unless dual-stack endpoints are asked for, under a domain of their own.
        let dual_stack = || vec![("AWS_USE_DUALSTACK_ENDPOINT".to_string(), "true".to_string())];
        let aws_dual = endpoints(None, "us-east-1", &regions(), &dual_stack);
        assert_eq!(in_use(&all_exempt, &aws_dual).len(), 1);
        // A service's own endpoint variable counts too.
        let own_s3 = || {
            vec![(
                "AWS_ENDPOINT_URL_S3".to_string(),
                "https://s3.storage.example/".to_string(),
            )]
        };
        assert_eq!(
            in_use(
                &all_exempt,
                &endpoints(None, "us-east-1", &regions(), &own_s3)
            )
            .len(),
            1
        );
        // An emulator on plain HTTP is reached through HTTP_PROXY (or ALL_PROXY), not HTTPS_PROXY.
        let emulator = endpoints(
            Some("http://127.0.0.1:5000"),
            "us-east-1",
            &regions(),
            &no_env,
        );
        assert_eq!(emulator.len(), 1);
        assert!(in_use(&corporate, &emulator).is_empty());
        let through_all = Matcher::builder().all("http://[fd00::5]:8080").build();
        assert_eq!(
            in_use(&through_all, &emulator),
            vec![Proxy {
                shown: "http://[fd00::5]:8080".into(),
                host: "fd00::5".into(),
                port: 8080,
            }]
        );
    }

    /// A SOCKS proxy, which the client cannot send through, is refused by name; an HTTP one is not.
    #[test]
    fn a_socks_proxy_is_refused_by_name() {
        let aws = endpoints(None, "us-east-1", &regions(), &no_env);
        let socks = Matcher::builder().all("socks5://127.0.0.1:1080").build();
        let why = unusable(&in_use(&socks, &aws)).expect("refused");
        assert!(
            why.contains("socks5://127.0.0.1:1080") && why.contains("HTTP and HTTPS proxies only"),
            "{why}"
        );
        let http = Matcher::builder().all("http://proxy:3128").build();
        assert_eq!(unusable(&in_use(&http, &aws)), None);
        assert!(
            hint(&in_use(&http, &aws))
                .is_some_and(|hint| hint.contains("the proxy http://proxy:3128"))
        );
        assert_eq!(hint(&[]), None);
    }
}
