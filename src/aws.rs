//! The one place the SDK configuration is loaded. Profile, home region, endpoint override and retry policy
//! are applied here once; every service client is derived from the result, one per region, built on first
//! use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::os_shim_internal::{Env, Fs};

pub mod proxy;

/// Used for account-wide calls when neither `--region` nor the AWS configuration names a region.
pub const FALLBACK_HOME_REGION: &str = "us-east-1";

/// How to reach AWS, as resolved from flags and environment by the CLI.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSettings {
    pub profile: Option<String>,
    /// Home region, for account-wide calls (STS, IAM).
    pub home_region: Option<String>,
    /// An endpoint that replaces every AWS endpoint, e.g. an emulator on loopback.
    pub endpoint_url: Option<String>,
    /// Client-side pacing per region and action; `None` sends as fast as the SDK can (calls are still
    /// counted).
    pub pacing: Option<crate::pacing::PacingLimits>,
}

/// Where the name of the profile that signs came from: errors name it as the operator gave it, since
/// `--profile` and `AWS_PROFILE` are fixed in different places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileOrigin {
    /// `--profile NAME`.
    Flag,
    /// `AWS_PROFILE=NAME`, with no keys in the environment (which would sign first).
    Environment,
    /// Neither, or `AWS_PROFILE=default`: the SDK's `default`, which may well not exist (an instance role
    /// signs instead).
    Default,
}

/// The profile whose credentials sign, and where its name came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningProfile {
    pub name: String,
    pub origin: ProfileOrigin,
}

impl std::fmt::Display for SigningProfile {
    /// As the operator gave it: `--profile NAME`, `AWS_PROFILE=NAME`, or `profile default`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.origin {
            ProfileOrigin::Flag => write!(f, "--profile {}", self.name),
            ProfileOrigin::Environment => write!(f, "AWS_PROFILE={}", self.name),
            ProfileOrigin::Default => write!(f, "profile {}", self.name),
        }
    }
}

impl SigningProfile {
    /// How to name another profile, in the place this one's name was given.
    pub fn another(&self) -> &'static str {
        match self.origin {
            ProfileOrigin::Flag => "give another --profile",
            ProfileOrigin::Environment => {
                "set AWS_PROFILE to another profile (or unset it, or pass --profile)"
            }
            ProfileOrigin::Default => "pass --profile NAME",
        }
    }

    /// How to name a profile the configuration files define, in the place this one's name was given.
    fn one_of_those(&self) -> &'static str {
        match self.origin {
            ProfileOrigin::Flag | ProfileOrigin::Default => "give one of those names",
            ProfileOrigin::Environment => {
                "set AWS_PROFILE to one of those names (or unset it, or pass --profile)"
            }
        }
    }
}

/// The AWS configuration cannot give what was asked for.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "{profile}: no such profile in the AWS configuration files (profiles there: {known})\n  fix: {}, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at the files that define it",
        profile.one_of_those()
    )]
    UnknownProfile {
        profile: SigningProfile,
        known: String,
    },
    #[error(
        "{profile}: the AWS configuration files cannot be read: {problem}\n  fix: correct the file it names, or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE elsewhere"
    )]
    ProfileFiles {
        profile: SigningProfile,
        problem: String,
    },
    #[error(
        "{problem}\n  fix: name an HTTP proxy (HTTPS_PROXY=http://HOST:PORT), or unset the variable that names this one"
    )]
    Proxy { problem: String },
}

/// The AWS configuration files as read (or why they could not be).
type ProfileFiles = Result<aws_runtime::env_config::section::EnvConfigSections, String>;

async fn read_profile_files() -> ProfileFiles {
    aws_config::profile::load(&Fs::real(), &Env::real(), &EnvConfigFiles::default(), None)
        .await
        .map_err(|err| err.to_string())
}

/// Refuses a profile the configuration files do not define, before any call: otherwise the SDK finds no
/// credentials at the first call and says so in terms that do not name the mistyped profile; or, for
/// `AWS_PROFILE`, goes on down its chain and signs with whatever it finds there (an instance role), an
/// account the operator did not name.
fn check_profile_exists(
    profiles: &ProfileFiles,
    profile: &SigningProfile,
) -> Result<(), SessionError> {
    let profiles = profiles
        .as_ref()
        .map_err(|problem| SessionError::ProfileFiles {
            profile: profile.clone(),
            problem: problem.clone(),
        })?;
    if profiles.get_profile(&profile.name).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = profiles.profiles().collect();
    known.sort_unstable();
    Err(SessionError::UnknownProfile {
        profile: profile.clone(),
        known: if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        },
    })
}

/// The profile whose credentials sign: `--profile`, or, when no keys are in the environment (which the
/// SDK's chain reads first), `AWS_PROFILE`, else `default`. `None` when the environment's keys sign.
fn profile_in_effect(explicit: Option<&str>) -> Option<SigningProfile> {
    let env = Env::real();
    let profile = |name: String, origin| Some(SigningProfile { name, origin });
    match explicit {
        Some(name) => profile(name.to_string(), ProfileOrigin::Flag),
        None if keys_in_the_environment(&env) => None,
        None => match env.get("AWS_PROFILE").ok().filter(|p| !p.is_empty()) {
            // `AWS_PROFILE=default` names what the SDK takes anyway, which need not exist (images export
            // it with no configuration files, and the instance's role signs).
            Some(name) if name == "default" => profile(name, ProfileOrigin::Default),
            Some(name) => profile(name, ProfileOrigin::Environment),
            None => profile("default".into(), ProfileOrigin::Default),
        },
    }
}

/// Whether the environment holds keys the SDK's chain signs with first: an access key and a secret
/// (`AWS_SECRET_ACCESS_KEY`, else `SECRET_ACCESS_KEY`), neither blank. The SDK passes over a blank one
/// (`EnvironmentVariableCredentialsProvider`), as docker env files and CI leave `AWS_ACCESS_KEY_ID=`; taken
/// for keys, such a variable would let the chain go on past an `AWS_PROFILE` never checked or pinned.
fn keys_in_the_environment(env: &Env) -> bool {
    let set = |name: &str| env.get(name).is_ok_and(|value| !value.trim().is_empty());
    set("AWS_ACCESS_KEY_ID") && (set("AWS_SECRET_ACCESS_KEY") || set("SECRET_ACCESS_KEY"))
}

/// A yes/no endpoint setting (`AWS_USE_FIPS_ENDPOINT` / `use_fips_endpoint`, and the dual-stack one) as the
/// SDK reads it: the environment, else the profile. The pinned profile's provider would otherwise call STS
/// or SSO at their standard endpoints where the SDK's own chain honours these (a FIPS-only network).
fn endpoint_setting(
    env: &Env,
    env_var: &str,
    profile_key: &str,
    profile: Option<&aws_runtime::env_config::section::Profile>,
) -> Option<bool> {
    let parse = |value: &str| match value.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    match env.get(env_var) {
        Ok(value) => parse(&value),
        Err(_) => profile.and_then(|p| p.get(profile_key)).and_then(parse),
    }
}

/// The IAM user a key belongs to, when it is a key of the account the session is in; `None` when IAM
/// does not say (another account's key, or the call is not allowed): the key is still kept by its ID.
async fn key_owner(ctx: &RegionCtx, key: &str) -> Option<String> {
    ctx.iam()
        .get_access_key_last_used()
        .access_key_id(key)
        .send()
        .await
        .ok()?
        .user_name()
        .map(str::to_string)
}

/// The caller, as STS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
    /// The access key the caller signs with, when the credentials are keys (never cut).
    pub access_key_id: Option<String>,
    /// For a profile that assumes a role from another profile's keys (`role_arn` with
    /// `source_profile`): those keys, which the responder needs to assume the role again once the
    /// session expires (never cut either).
    pub source: Option<SourceCredentials>,
    /// For an account entered through a role ([`AwsSession::enter_account`]): the ARN of the operator
    /// whose session entered it, in another account. A cut made here may reach that account (an
    /// organization's policy on it) and must not take the operator's access there either.
    pub entered_by: Option<String>,
    /// For a profile that assumes its role through a chain of role profiles (`role_arn` with a
    /// `source_profile` that has a `role_arn` too): the ARNs of the roles the chain assumes, in any
    /// account. The SDK assumes each again from the one before when the session is renewed, so a cut
    /// that denies one (its trust, its sessions) locks the responder out as surely as one on the
    /// caller's own role.
    pub profile_roles: Vec<String>,
}

/// The long-term key a role profile assumes its role with, and its IAM user when the key belongs to the
/// account being contained (IAM's `GetAccessKeyLastUsed` answers with the user only for keys of its
/// own account: <https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccessKeyLastUsed.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCredentials {
    pub access_key_id: String,
    pub user_name: Option<String>,
}

/// What a profile's `source_profile` chain holds that the responder needs to renew the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProfileChain {
    /// The access key at the end of the chain, when the profile assumes a role (`role_arn`) from
    /// another profile's static keys. `None` for a profile that signs with its own keys (the caller's
    /// key, known from the credentials provider), SSO, a process or a credential source.
    source_key: Option<String>,
    /// Every role the chain assumes (`role_arn`), the profile's own first: the SDK assumes each again,
    /// from the one before, when the session is renewed.
    roles: Vec<String>,
}

fn profile_chain(
    profiles: &aws_runtime::env_config::section::EnvConfigSections,
    profile: &str,
) -> ProfileChain {
    let mut chain = ProfileChain::default();
    let Some(mut current) = profiles.get_profile(profile) else {
        return chain;
    };
    // AWS allows chains of role profiles; a loop is the configuration's error, not a reason to hang.
    for _ in 0..8 {
        let Some(role) = current.get("role_arn") else {
            return chain;
        };
        if !chain.roles.iter().any(|known| known == role) {
            chain.roles.push(role.to_string());
        }
        let Some(source) = current
            .get("source_profile")
            .and_then(|name| profiles.get_profile(name))
        else {
            return chain;
        };
        if let Some(key) = source.get("aws_access_key_id") {
            chain.source_key = Some(key.to_string());
            return chain;
        }
        current = source;
    }
    chain
}

/// The HTTPS client every call goes through: rustls, and the proxy the environment names
/// (`HTTPS_PROXY`, `HTTP_PROXY` for an `http://` endpoint, `ALL_PROXY`, less what `NO_PROXY` exempts), as
/// the AWS CLI takes them (<https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-proxy.html>):
/// where the only way to AWS is through one, a run that ignored it could not reach AWS at all. Where that
/// proxy sits on the run's own path is judged as the machine is ([`crate::runner::proxy`]). The client
/// builder takes no proxy, the connector builder does: the client is built from a connector function
/// (one connector kept per connection settings, as the builder's own clients keep them). The
/// credential endpoints of the machine itself never go through the proxy ([`MetadataDirect`]).
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let client = |proxy: aws_smithy_http_client::proxy::ProxyConfig| {
        aws_smithy_http_client::Builder::new().build_with_connector_fn(
            move |settings, components| {
                let mut connector = aws_smithy_http_client::Connector::builder()
                    .proxy_config(proxy.clone())
                    .tls_provider(Provider::Rustls(CryptoMode::AwsLc));
                connector.set_connector_settings(settings.cloned());
                if let Some(components) = components {
                    connector.set_sleep_impl(components.sleep_impl());
                }
                connector.build()
            },
        )
    };
    use aws_smithy_http_client::proxy::ProxyConfig;
    SharedHttpClient::new(MetadataDirect {
        proxied: client(ProxyConfig::from_env()),
        direct: client(ProxyConfig::disabled()),
    })
}

/// Sends the calls to the machine's own credential endpoints straight there, the rest through the
/// proxy the environment names: the instance metadata service (169.254.169.254, `fd00:ec2::254`) and
/// the container credential endpoints of ECS (169.254.170.2) and EKS Pod Identity (169.254.170.23,
/// `fd00:ec2::23`) are link-local, which no proxy can reach, and IMDSv2 refuses a token asked through one
/// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html>). The AWS
/// CLI asks for `NO_PROXY=169.254.169.254` instead; forgetting it would leave a run on an instance with
/// a proxy set without credentials.
#[derive(Debug)]
struct MetadataDirect {
    proxied: SharedHttpClient,
    direct: SharedHttpClient,
}

impl HttpClient for MetadataDirect {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(MetadataDirectConnector {
            proxied: self.proxied.http_connector(settings, components),
            direct: self.direct.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct MetadataDirectConnector {
    proxied: SharedHttpConnector,
    direct: SharedHttpConnector,
}

impl HttpConnector for MetadataDirectConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if is_link_local(request.uri()) {
            self.direct.call(request)
        } else {
            self.proxied.call(request)
        }
    }
}

/// Whether `uri` names a link-local host: an IPv4 169.254.0.0/16 address, or an IPv6 one in `fe80::/10`
/// or EC2's own `fd00:ec2::/32`.
fn is_link_local(uri: &str) -> bool {
    let Some(host) = uri.parse::<http::Uri>().ok().and_then(|uri| {
        uri.host().map(|host| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        })
    }) else {
        return false;
    };
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(address)) => address.is_link_local(),
        Ok(std::net::IpAddr::V6(address)) => {
            let segments = address.segments();
            (segments[0] & 0xffc0) == 0xfe80 || (segments[0] == 0xfd00 && segments[1] == 0x0ec2)
        }
        Err(_) => false,
    }
}

/// The loaded configuration, shared by every region.
pub struct AwsSession {
    base: SdkConfig,
    /// The HTTP client under the pacer, kept to give each account entered its own pacer.
    https: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
    /// The long-term key the profile in effect assumes its role with ([`profile_chain`]).
    source_access_key_id: Option<String>,
    /// The roles the profile in effect assumes on its way to the caller's ([`profile_chain`]).
    profile_roles: Vec<String>,
    /// The profile that signs, when one does: to name it when it gives no credentials. `None` for the
    /// environment's keys, and for an account entered through a role.
    signing_profile: Option<SigningProfile>,
    /// The role session this one was entered through ([`AwsSession::enter_account`]), if any.
    entered_as: Option<String>,
    /// The operator whose session entered this one ([`CallerIdentity::entered_by`]).
    entered_by: Option<String>,
    pacer: Arc<crate::pacing::Pacer>,
    home_region: String,
    endpoint_url: Option<String>,
    /// Whether its calls find AWS by DNS ([`RegionCtx::calls_resolve_names`]).
    calls_resolve_names: bool,
    regions: Mutex<HashMap<String, Arc<RegionCtx>>>,
}

impl AwsSession {
    pub async fn load(settings: &ConnectionSettings) -> Result<AwsSession, SessionError> {
        // Before any call: a proxy the client cannot send through would fail every one of them.
        let home = settings
            .home_region
            .as_deref()
            .unwrap_or(FALLBACK_HOME_REGION);
        if let Some(problem) = proxy::unusable(&proxy::from_env(
            settings.endpoint_url.as_deref(),
            home,
            &[],
        )) {
            return Err(SessionError::Proxy { problem });
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Standard mode retries throttling and 5xx with exponential backoff and jitter; during an
            // incident a few more attempts are worth more than failing one cut out of hundreds.
            .retry_config(RetryConfig::standard().with_max_attempts(6))
            .stalled_stream_protection(crate::pacing::stalled_stream_protection());
        if let Some(region) = &settings.home_region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let pacer = Arc::new(crate::pacing::Pacer::new(settings.pacing));
        let https = https_client();
        let http = crate::pacing::PacedHttpClient::new(https.clone(), pacer.clone());
        // Read once, and only when a profile signs: for the check of `--profile` and for the source key
        // of a role profile.
        let in_effect = profile_in_effect(settings.profile.as_deref());
        let profile_files = match &in_effect {
            Some(_) => Some(read_profile_files().await),
            None => None,
        };
        let chain = match (&profile_files, &in_effect) {
            (Some(Ok(profiles)), Some(profile)) => profile_chain(profiles, &profile.name),
            _ => ProfileChain::default(),
        };
        let source_access_key_id = chain.source_key;
        // A profile named (by flag or environment) must exist; `default` need not, as the SDK's chain
        // goes on to the container's or the instance's role.
        let named = in_effect
            .as_ref()
            .filter(|profile| profile.origin != ProfileOrigin::Default);
        if let (Some(files), Some(profile)) = (&profile_files, named) {
            check_profile_exists(files, profile)?;
        }
        // And the profile named is the only source of credentials.
        if let Some(profile) = named.map(|named| &named.name) {
            // The SDK's default chain reads credentials from the environment before any profile, so
            // `--profile` alone would lose to AWS_ACCESS_KEY_ID and a run could plan or cut the wrong
            // account. An explicit profile wins, as it does for the AWS CLI ("Command line options
            // override ... environment variables": docs.aws.amazon.com/cli/latest/userguide/
            // cli-configure-quickstart.html#cli-configure-quickstart-precedence).
            // And a named profile that gives no credentials must not pass the chain on: it would go to
            // the container's or the instance's role, another account than the one named (for
            // AWS_PROFILE, which only signs when no keys are in the environment, this is all it does).
            // The profile's AssumeRole (a `role_arn` profile) is signed for a region: `--region`, else the
            // one the environment or the profile names, else the home region's fallback. Given none,
            // it failed with "missing signing region" for every role profile run without --region.
            let region = match &settings.home_region {
                Some(region) => Region::new(region.clone()),
                None => aws_config::default_provider::region::DefaultRegionChain::builder()
                    .profile_name(profile)
                    .build()
                    .region()
                    .await
                    .unwrap_or_else(|| Region::new(FALLBACK_HOME_REGION)),
            };
            let section = match &profile_files {
                Some(Ok(files)) => files.get_profile(profile),
                _ => None,
            };
            let env = Env::real();
            let provider_config = ProviderConfig::default()
                .with_http_client(http.clone())
                .with_region(Some(region))
                .with_use_fips(endpoint_setting(
                    &env,
                    "AWS_USE_FIPS_ENDPOINT",
                    "use_fips_endpoint",
                    section,
                ))
                .with_use_dual_stack(endpoint_setting(
                    &env,
                    "AWS_USE_DUALSTACK_ENDPOINT",
                    "use_dualstack_endpoint",
                    section,
                ));
            loader = loader.profile_name(profile).credentials_provider(
                ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_name(profile)
                    .build(),
            );
        }
        loader = loader.http_client(http);
        let base = loader.load().await;
        let home_region = base
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| FALLBACK_HOME_REGION.to_string());
        Ok(AwsSession {
            base,
            https: Some(https),
            source_access_key_id,
            profile_roles: chain.roles,
            signing_profile: in_effect,
            entered_as: None,
            entered_by: None,
            pacer,
            home_region,
            endpoint_url: settings.endpoint_url.clone(),
            calls_resolve_names: true,
            regions: Mutex::new(HashMap::new()),
        })
    }

    /// The profile that signs, when one does ([`SigningProfile`]).
    pub fn signing_profile(&self) -> Option<&SigningProfile> {
        self.signing_profile.as_ref()
    }

    /// For tests: a session whose region contexts are given (e.g. holding mocked clients).
    pub fn with_regions(home_region: &str, contexts: Vec<RegionCtx>) -> AwsSession {
        AwsSession {
            base: SdkConfig::builder().build(),
            https: None,
            source_access_key_id: None,
            profile_roles: Vec::new(),
            signing_profile: None,
            entered_as: None,
            entered_by: None,
            pacer: Arc::new(crate::pacing::Pacer::new(None)),
            home_region: home_region.to_string(),
            endpoint_url: None,
            calls_resolve_names: false,
            regions: Mutex::new(
                contexts
                    .into_iter()
                    .map(|ctx| (ctx.region.clone(), Arc::new(ctx)))
                    .collect(),
            ),
        }
    }

    /// A session in another account of the organization, through `role_arn` (STS AssumeRole with this
    /// session's credentials). The SDK's identity cache calls AssumeRole again shortly before the
    /// credentials expire (an hour by default:
    /// docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, `DurationSeconds`), so a long
    /// apply never runs on expired credentials. Nothing is called until the session is used: the first
    /// call (the caller check) says whether the role could be entered.
    ///
    /// AWS throttles each account on its own, so the new session paces its calls with its own buckets
    /// (counted with this session's calls).
    pub async fn enter_account(
        &self,
        role_arn: &str,
        session_name: &str,
        operator_arn: &str,
    ) -> AwsSession {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name(session_name)
            .configure(&self.base)
            .build()
            .await;
        let pacer = Arc::new(self.pacer.for_another_account());
        let mut builder = self.base.to_builder().credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        );
        if let Some(https) = &self.https {
            builder = builder.http_client(crate::pacing::PacedHttpClient::new(
                https.clone(),
                pacer.clone(),
            ));
        }
        AwsSession {
            base: builder.build(),
            https: self.https.clone(),
            // The key the whole chain of roles starts from: it may be an IAM user's of the very account
            // entered (a central identity account that is also a member), and the responder needs it to
            // enter again once the session expires.
            source_access_key_id: self.source_access_key_id.clone(),
            // Likewise the roles of the operator's chain: one may be a role of the account entered.
            profile_roles: self.profile_roles.clone(),
            signing_profile: None,
            entered_as: Some(role_arn.to_string()),
            entered_by: Some(operator_arn.to_string()),
            pacer,
            home_region: self.home_region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            calls_resolve_names: self.calls_resolve_names,
            regions: Mutex::new(HashMap::new()),
        }
    }

    /// The role this session was entered through, for a session made by [`AwsSession::enter_account`].
    pub fn entered_as(&self) -> Option<&str> {
        self.entered_as.as_deref()
    }

    /// AWS calls made so far (attempts, retries included), per `service:Operation`.
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.pacer.calls()
    }

    pub fn home_region(&self) -> &str {
        &self.home_region
    }

    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// Forgets what every region's context read once ([`RegionCtx::once`]): a `watch` that goes on
    /// looks again at each turn, where the endpoints its calls go through, the resolver's answers and
    /// the accounts' listings may have changed since the last.
    pub fn forget_reads(&self) {
        let regions = self.regions.lock().expect("region map lock poisoned");
        for ctx in regions.values() {
            ctx.forget_reads();
        }
    }

    /// The context for one region (`global` means the home region), created once and shared.
    pub fn region(&self, region: &str) -> Arc<RegionCtx> {
        let name = if region == crate::plan::GLOBAL_REGION {
            self.home_region.clone()
        } else {
            region.to_string()
        };
        let mut regions = self.regions.lock().expect("region map lock poisoned");
        regions
            .entry(name.clone())
            .or_insert_with(|| {
                let config = self
                    .base
                    .to_builder()
                    .region(Region::new(name.clone()))
                    .build();
                let mut ctx = RegionCtx::new(&name, config, self.endpoint_url.clone());
                ctx.calls_resolve_names = self.calls_resolve_names;
                Arc::new(ctx)
            })
            .clone()
    }

    pub async fn caller_identity(
        &self,
    ) -> Result<CallerIdentity, crate::service_error::ServiceError> {
        let home = self.region(&self.home_region.clone());
        let out = home
            .sts()
            .get_caller_identity()
            .send()
            .await
            .map_err(|err| {
                let mut err =
                    crate::service_error::ServiceError::from_sdk("sts:GetCallerIdentity", err);
                // No answer at all (no code): where the calls go through a proxy, it is the first
                // thing to check.
                if err.code.is_none() && !err.is_missing_credentials() {
                    let proxies = proxy::from_env(
                        self.endpoint_url(),
                        &self.home_region,
                        std::slice::from_ref(&self.home_region),
                    );
                    if let Some(hint) = proxy::hint(&proxies) {
                        err.message = format!("{} ({hint})", err.message);
                    }
                }
                err
            })?;
        // STS does not say which access key signed the call; the credentials provider does. The caller's
        // own key must never be cut.
        // A role session's keys are temporary (never an IAM user's key), and asking its provider would
        // call AssumeRole again: there is nothing to protect there.
        let access_key_id = match self.base.credentials_provider() {
            Some(_) if self.entered_as.is_some() => None,
            Some(provider) => {
                use aws_credential_types::provider::ProvideCredentials;
                provider
                    .provide_credentials()
                    .await
                    .ok()
                    .map(|c| c.access_key_id().to_string())
            }
            None => None,
        };
        // Also in an account entered through a role: the source key may be one of its users' (IAM names
        // the owner only to the key's own account, so elsewhere the user is unknown and harmless). Left
        // out of entered accounts, a member holding the responder's source key proposed switching it off,
        // and apply did, locking the responder out once the sessions expired.
        let source = match &self.source_access_key_id {
            Some(key) => Some(SourceCredentials {
                access_key_id: key.clone(),
                user_name: key_owner(&home, key).await,
            }),
            None => None,
        };
        Ok(CallerIdentity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
            access_key_id,
            source,
            entered_by: self.entered_by.clone(),
            profile_roles: self.profile_roles.clone(),
        })
    }
}

/// Declares the per-region client cache: one lazily built client per service, plus, for tests, a way to
/// put a given (mocked) client in its place: `RegionCtx::for_tests(region).mock_ec2(client)`.
macro_rules! region_clients {
    ($($name:ident / $mock:ident => $krate:ident $(with $adjust:expr)?),+ $(,)?) => {
        /// Everything a service needs to work in one region.
        pub struct RegionCtx {
            pub region: String,
            pub config: SdkConfig,
            /// The endpoint override, when one is configured (an emulator); some services need it to
            /// route around client-side endpoint rules.
            pub endpoint_url: Option<String>,
            /// Whether the clients' calls find AWS by this machine's DNS: false for a test's context,
            /// whose mocked clients resolve no name, so what the resolver says here (a developer's
            /// machine inside a VPC) never changes what a test reads.
            pub calls_resolve_names: bool,
            /// What several kinds read in this region during one run, read once ([`RegionCtx::once`]).
            shared_reads: Mutex<HashMap<&'static str, Arc<tokio::sync::OnceCell<SharedRead>>>>,
            $($name: OnceLock<$krate::Client>,)+
        }

        impl RegionCtx {
            pub fn new(region: &str, config: SdkConfig, endpoint_url: Option<String>) -> RegionCtx {
                RegionCtx {
                    region: region.to_string(),
                    config,
                    endpoint_url,
                    calls_resolve_names: true,
                    shared_reads: Mutex::default(),
                    $($name: OnceLock::new(),)+
                }
            }

            $(
                pub fn $name(&self) -> &$krate::Client {
                    self.$name.get_or_init(|| {
                        // The tagger lets the paced HTTP client know which bucket a call draws from.
                        let builder = $krate::config::Builder::from(&self.config)
                            .interceptor(crate::pacing::CallTagger);
                        $(let builder = ($adjust)(builder, self);)?
                        $krate::Client::from_conf(builder.build())
                    })
                }

                /// For tests: use this client (e.g. built by aws-smithy-mocks) for the service.
                pub fn $mock(self, client: $krate::Client) -> RegionCtx {
                    let _ = self.$name.set(client);
                    self
                }
            )+
        }
    };
}

region_clients! {
    ec2 / mock_ec2 => aws_sdk_ec2,
    rds / mock_rds => aws_sdk_rds,
    iam / mock_iam => aws_sdk_iam
        with crate::services::common::concurrent_modification::iam,
    sesv2 / mock_sesv2 => aws_sdk_sesv2,
    s3control / mock_s3control => aws_sdk_s3control,
    cloudfront / mock_cloudfront => aws_sdk_cloudfront,
    lambda / mock_lambda => aws_sdk_lambda
        with crate::services::common::concurrent_modification::lambda,
    apigateway / mock_apigateway => aws_sdk_apigateway
        with crate::services::common::concurrent_modification::api_gateway_v1,
    apigatewayv2 / mock_apigatewayv2 => aws_sdk_apigatewayv2
        with crate::services::common::concurrent_modification::api_gateway_v2,
    ecrpublic / mock_ecrpublic => aws_sdk_ecrpublic,
    cloudtrail / mock_cloudtrail => aws_sdk_cloudtrail,
    route53 / mock_route53 => aws_sdk_route53,
    ssoadmin / mock_ssoadmin => aws_sdk_ssoadmin,
    support / mock_support => aws_sdk_support,
    codecommit / mock_codecommit => aws_sdk_codecommit,
    sts / mock_sts => aws_sdk_sts,
    s3 / mock_s3 => aws_sdk_s3 with crate::services::common::concurrent_modification::s3,
    sns / mock_sns => aws_sdk_sns,
    sqs / mock_sqs => aws_sdk_sqs,
    kms / mock_kms => aws_sdk_kms,
    secretsmanager / mock_secretsmanager => aws_sdk_secretsmanager,
    ecr / mock_ecr => aws_sdk_ecr,
    ssm / mock_ssm => aws_sdk_ssm,
    organizations / mock_organizations => aws_sdk_organizations
        with crate::services::common::concurrent_modification::organizations,
}

/// One value read for several kinds, of whatever type its key stands for.
type SharedRead = Arc<dyn std::any::Any + Send + Sync>;

impl RegionCtx {
    /// Forgets what was read once ([`RegionCtx::once`]): the next asker reads again.
    pub fn forget_reads(&self) {
        self.shared_reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// The value `read` gives, read once per region and run however many kinds ask for it under `key`
    /// (several kinds and an inspection describing the same services, say), concurrent askers waiting
    /// for the first read. A failed read is not kept: the next asker reads again. One key, one type.
    pub async fn once<T, E, Fut>(
        &self,
        key: &'static str,
        read: impl FnOnce() -> Fut,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let cell = self
            .shared_reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_default()
            .clone();
        // The askers waiting for the first hold their places in the run's width meanwhile, so the read
        // keeps its own ([`crate::pacing::WidthShare::keeping_place`]).
        let value = cell
            .get_or_try_init(|| {
                crate::pacing::WidthShare::keeping_place(async {
                    read().await.map(|value| Arc::new(value) as SharedRead)
                })
            })
            .await?;
        Ok(value
            .downcast_ref::<T>()
            .unwrap_or_else(|| panic!("RegionCtx::once: key {key} read with two types"))
            .clone())
    }
}

/// Buckets are addressed by path when an endpoint override is set: an emulator on loopback has no DNS
/// name per bucket, so virtual-hosted addressing (`bucket.127.0.0.1`) would not reach it. AWS keeps the
/// SDK's default (virtual-hosted).
pub(crate) fn s3_addressing(
    builder: aws_sdk_s3::config::Builder,
    ctx: &RegionCtx,
) -> aws_sdk_s3::config::Builder {
    builder.force_path_style(ctx.endpoint_url.is_some())
}

impl RegionCtx {
    /// For tests: a context with an empty configuration, to be given mocked clients.
    pub fn for_tests(region: &str) -> RegionCtx {
        let mut ctx = RegionCtx::new(region, SdkConfig::builder().build(), None);
        ctx.calls_resolve_names = false;
        ctx
    }

    /// For tests: a context whose EC2 client is given.
    pub fn with_ec2(region: &str, client: aws_sdk_ec2::Client) -> RegionCtx {
        RegionCtx::for_tests(region).mock_ec2(client)
    }

    /// For tests: a context whose RDS client is given.
    pub fn with_rds(region: &str, client: aws_sdk_rds::Client) -> RegionCtx {
        RegionCtx::for_tests(region).mock_rds(client)
    }
}

#[cfg(test)]
mod tests {
    /// The machine's own credential endpoints never go through a proxy; AWS's endpoints, and an
    /// emulator on loopback, do where one is named.
    #[test]
    fn only_link_local_credential_endpoints_bypass_the_proxy() {
        for direct in [
            "http://169.254.169.254/latest/api/token",
            "http://169.254.170.2/v2/credentials/abc",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::254]/latest/api/token",
            "http://[fd00:ec2::23]/v1/credentials",
        ] {
            assert!(super::is_link_local(direct), "{direct}");
        }
        for proxied in [
            "https://sts.us-east-1.amazonaws.com/",
            "http://127.0.0.1:5000/",
            "https://10.0.1.5/",
            "not a uri",
        ] {
            assert!(!super::is_link_local(proxied), "{proxied}");
        }
    }

    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    #[tokio::test]
    async fn a_role_profiles_source_key_is_found_through_its_chain() {
        let config = "[profile incident]\nrole_arn = arn:aws:iam::123456789012:role/Responder\nsource_profile = jump\n\
            [profile jump]\nrole_arn = arn:aws:iam::123456789012:role/Jump\nsource_profile = bob\n\
            [profile bob]\naws_access_key_id = AKIABOB\naws_secret_access_key = s\n\
            [profile loop]\nrole_arn = arn:aws:iam::123456789012:role/R\nsource_profile = loop\n\
            [profile sso]\nsso_session = corp\n";
        let fs = Fs::from_map(HashMap::from([(
            "/config".to_string(),
            config.as_bytes().to_vec(),
        )]));
        let env = Env::from_slice(&[("AWS_CONFIG_FILE", "/config"), ("HOME", "/nowhere")]);
        let profiles = aws_config::profile::load(&fs, &env, &EnvConfigFiles::default(), None)
            .await
            .unwrap();
        let key = |profile: &str| profile_chain(&profiles, profile).source_key;
        assert_eq!(key("incident").as_deref(), Some("AKIABOB"));
        assert_eq!(key("jump").as_deref(), Some("AKIABOB"));
        // Its own keys are the signing key, known otherwise; no role, a loop or SSO: none.
        assert_eq!(key("bob"), None);
        assert_eq!(key("loop"), None);
        assert_eq!(key("sso"), None);
        assert_eq!(key("missing"), None);
        // Every role the chain assumes, the profile's own first, each once.
        let roles = |profile: &str| profile_chain(&profiles, profile).roles;
        assert_eq!(
            roles("incident"),
            [
                "arn:aws:iam::123456789012:role/Responder",
                "arn:aws:iam::123456789012:role/Jump"
            ]
        );
        assert_eq!(roles("loop"), ["arn:aws:iam::123456789012:role/R"]);
        assert!(roles("bob").is_empty() && roles("sso").is_empty());
    }

    /// STS as documented (docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html and
    /// API_GetCallerIdentity.html): AssumeRole hands out credentials expiring `lifetime` from now, and
    /// counts how often it is asked.
    #[derive(Debug, Clone)]
    struct Sts {
        lifetime: time::Duration,
        assumed: Arc<AtomicUsize>,
    }

    impl HttpConnector for Sts {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let body = std::str::from_utf8(request.body().bytes().unwrap_or_default())
                .unwrap_or_default()
                .to_string();
            let arn =
                "arn:aws:sts::210987654321:assumed-role/OrganizationAccountAccessRole/hikkonuki";
            let xml = if body.contains("Action=GetAccessKeyLastUsed") {
                // IAM's answer (API_GetAccessKeyLastUsed.html): the key is bob's, of the account asked.
                r#"<GetAccessKeyLastUsedResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetAccessKeyLastUsedResult><AccessKeyLastUsed><Region>us-east-1</Region><ServiceName>sts</ServiceName><LastUsedDate>2026-11-30T00:00:00Z</LastUsedDate></AccessKeyLastUsed><UserName>bob</UserName></GetAccessKeyLastUsedResult><ResponseMetadata><RequestId>3</RequestId></ResponseMetadata></GetAccessKeyLastUsedResponse>"#.to_string()
            } else if body.contains("Action=AssumeRole") {
                self.assumed.fetch_add(1, Ordering::SeqCst);
                let expiration = (time::OffsetDateTime::now_utc() + self.lifetime)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap();
                format!(
                    r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser><Arn>{arn}</Arn><AssumedRoleId>AROAEXAMPLE:hikkonuki</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>"#
                )
            } else {
                format!(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>{arn}</Arn><UserId>AROAEXAMPLE:hikkonuki</UserId><Account>210987654321</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#
                )
            };
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                200.try_into().unwrap(),
                SdkBody::from(xml),
            )))
        }
    }

    impl HttpClient for Sts {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// A service refusing a change `refusals` times because another is in progress (409, `error_type`,
    /// `message`), then accepting it with `accepted`.
    #[derive(Debug, Clone)]
    struct Busy {
        refusals: usize,
        status: u16,
        error_type: &'static str,
        /// The refusal's body: `{"message": …}` unless the service answers in another shape.
        body: String,
        accepted: &'static str,
        calls: Arc<AtomicUsize>,
    }

    impl Busy {
        fn new(error_type: &'static str, message: &'static str, accepted: &'static str) -> Busy {
            Busy::answering(
                409,
                error_type,
                format!(r#"{{"message":"{message}"}}"#),
                accepted,
            )
        }

        fn answering(
            status: u16,
            error_type: &'static str,
            body: String,
            accepted: &'static str,
        ) -> Busy {
            Busy {
                refusals: 2,
                status,
                error_type,
                body,
                accepted,
                calls: Arc::new(AtomicUsize::new(0)),
            }
        }

        /// A region context whose clients all talk to this service.
        async fn region(&self) -> RegionCtx {
            let config = aws_config::defaults(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .http_client(SharedHttpClient::new(self.clone()))
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(4)
                        .with_initial_backoff(std::time::Duration::from_millis(1)),
                )
                .credentials_provider(aws_credential_types::Credentials::new(
                    "AKIAOPERATOR",
                    "secret",
                    None,
                    None,
                    "operator",
                ))
                .load()
                .await;
            RegionCtx::new("us-east-1", config, None)
        }
    }

    impl HttpConnector for Busy {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let response = if call < self.refusals {
                let mut refused = HttpResponse::new(
                    self.status.try_into().unwrap(),
                    SdkBody::from(self.body.clone()),
                );
                refused
                    .headers_mut()
                    .insert("x-amzn-ErrorType", self.error_type);
                refused
            } else {
                HttpResponse::new(200.try_into().unwrap(), SdkBody::from(self.accepted))
            };
            HttpConnectorFuture::ready(Ok(response))
        }
    }

    impl HttpClient for Busy {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// The clients a kind gets from its region's context retry a change refused because another is in
    /// progress (see `services::common::concurrent_modification`), with the session's retry budget.
    #[tokio::test]
    async fn the_region_clients_retry_a_change_refused_while_another_is_in_progress() {
        use crate::services::common::concurrent_modification::documented;
        let busy = Busy::new(
            "ConflictException",
            "Unable to complete operation due to concurrent modification. Please try again later.",
            r#"{"stageName":"prod"}"#,
        );
        let out = busy
            .region()
            .await
            .apigateway()
            .update_stage()
            .rest_api_id("a1")
            .stage_name("prod")
            .send()
            .await
            .unwrap();
        assert_eq!(out.stage_name(), Some("prod"));
        assert_eq!(busy.calls.load(Ordering::SeqCst), 3);

        let busy = Busy::new(
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:123456789012:function:f",
            r#"{"ReservedConcurrentExecutions":0}"#,
        );
        busy.region()
            .await
            .lambda()
            .put_function_concurrency()
            .function_name("f")
            .reserved_concurrent_executions(0)
            .send()
            .await
            .unwrap();
        assert_eq!(busy.calls.load(Ordering::SeqCst), 3);

        let busy = Busy::answering(
            409,
            "ConcurrentModification",
            documented::iam_error(
                "ConcurrentModification",
                documented::IAM_CONCURRENT_MODIFICATION,
            ),
            "<PutUserPolicyResponse><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></PutUserPolicyResponse>",
        );
        busy.region()
            .await
            .iam()
            .put_user_policy()
            .user_name("mailer")
            .policy_name("p")
            .policy_document("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(busy.calls.load(Ordering::SeqCst), 3);

        let busy = Busy::answering(
            400,
            "ConcurrentModificationException",
            documented::organizations_error(
                "ConcurrentModificationException",
                documented::ORGANIZATIONS_CONCURRENT_MODIFICATION,
            ),
            "{}",
        );
        busy.region()
            .await
            .organizations()
            .attach_policy()
            .policy_id("p-1")
            .target_id("111111111111")
            .send()
            .await
            .unwrap();
        assert_eq!(busy.calls.load(Ordering::SeqCst), 3);

        let busy = Busy::answering(
            409,
            "OperationAborted",
            documented::s3_error("OperationAborted", documented::S3_OPERATION_ABORTED),
            "",
        );
        busy.region()
            .await
            .s3()
            .put_bucket_policy()
            .bucket("b")
            .policy("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(busy.calls.load(Ordering::SeqCst), 3);
    }

    /// The operator's own session, signing with `credentials` (and assuming its role from
    /// `source_access_key_id`, when given) against `sts`; and a member account entered from it.
    async fn operator_and_member(
        sts: &Sts,
        credentials: aws_credential_types::Credentials,
        source_access_key_id: Option<&str>,
    ) -> (AwsSession, AwsSession) {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .http_client(SharedHttpClient::new(sts.clone()))
            .credentials_provider(credentials)
            .load()
            .await;
        let own = AwsSession {
            base,
            https: None,
            source_access_key_id: source_access_key_id.map(str::to_string),
            profile_roles: Vec::new(),
            signing_profile: None,
            entered_as: None,
            entered_by: None,
            pacer: Arc::new(crate::pacing::Pacer::new(None)),
            home_region: "us-east-1".into(),
            endpoint_url: None,
            calls_resolve_names: false,
            regions: Mutex::new(HashMap::new()),
        };
        let member = own
            .enter_account(
                "arn:aws:iam::210987654321:role/OrganizationAccountAccessRole",
                "hikkonuki",
                "arn:aws:sts::123456789012:assumed-role/Responder/alice",
            )
            .await;
        (own, member)
    }

    async fn entered_twice(lifetime: time::Duration) -> usize {
        let sts = Sts {
            lifetime,
            assumed: Arc::new(AtomicUsize::new(0)),
        };
        let operator = aws_credential_types::Credentials::new(
            "AKIAOPERATOR",
            "secret",
            None,
            None,
            "operator",
        );
        let (_own, member) = operator_and_member(&sts, operator, None).await;
        for _ in 0..2 {
            let caller = member.caller_identity().await.unwrap();
            assert_eq!(caller.account, "210987654321");
            assert_eq!(
                caller.access_key_id, None,
                "a role session's key is not kept"
            );
        }
        sts.assumed.load(Ordering::SeqCst)
    }

    /// A long apply outlives the role session (an hour by default): credentials about to expire are
    /// fetched again by the next call, while fresh ones are reused.
    #[tokio::test]
    async fn an_entered_accounts_credentials_are_renewed_before_they_expire_and_reused_until_then()
    {
        assert_eq!(entered_twice(time::Duration::hours(1)).await, 1);
        assert_eq!(
            entered_twice(time::Duration::seconds(2)).await,
            2,
            "credentials expiring within the cache's buffer are renewed"
        );
    }

    /// A member entered from a role profile whose source key is an IAM user's of that member (a central
    /// identity account in the organization) knows the key and its user as the caller's source, so no cut
    /// there takes them. Entered sessions had no source, and the member's plan proposed switching the
    /// responder's own key off.
    #[tokio::test]
    async fn an_entered_account_knows_the_source_key_the_responder_started_from() {
        let sts = Sts {
            lifetime: time::Duration::hours(1),
            assumed: Arc::new(AtomicUsize::new(0)),
        };
        let responder = aws_credential_types::Credentials::new(
            "ASIARESPONDER",
            "secret",
            Some("token".into()),
            None,
            "incident",
        );
        let (_management, member) = operator_and_member(&sts, responder, Some("AKIABOB")).await;
        let caller = member.caller_identity().await.unwrap();
        assert_eq!(
            caller.source,
            Some(SourceCredentials {
                access_key_id: "AKIABOB".into(),
                user_name: Some("bob".into()),
            })
        );
        let principal = crate::services::identity::CallerPrincipal::from_identity(&caller);
        assert!(principal.is_access_key("AKIABOB") && principal.is_user("bob"));
    }

    /// A blank key is no key, as the SDK's environment provider reads it: `AWS_ACCESS_KEY_ID=` must not
    /// stop `AWS_PROFILE` from being checked and pinned.
    #[test]
    fn only_keys_the_sdk_would_sign_with_count_as_keys_in_the_environment() {
        let keys = |vars: &[(&str, &str)]| keys_in_the_environment(&Env::from_slice(vars));
        assert!(keys(&[
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s")
        ]));
        assert!(keys(&[
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", " "),
            ("SECRET_ACCESS_KEY", "s")
        ]));
        assert!(!keys(&[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", "s")
        ]));
        assert!(!keys(&[
            ("AWS_ACCESS_KEY_ID", " \t"),
            ("AWS_SECRET_ACCESS_KEY", "s")
        ]));
        assert!(!keys(&[("AWS_ACCESS_KEY_ID", "AKIA1")]));
    }

    /// The pinned profile's STS and SSO calls honour FIPS and dual-stack as the SDK's chain does: the
    /// environment first, then the profile; a value neither true nor false sets nothing.
    #[test]
    fn fips_and_dual_stack_are_read_from_the_environment_then_the_profile() {
        use aws_runtime::env_config::property::Property;
        let profile = aws_runtime::env_config::section::Profile::new(
            "incident",
            HashMap::from([(
                "use_fips_endpoint".to_string(),
                Property::new("use_fips_endpoint".into(), "true".into()),
            )]),
        );
        let fips = |vars: &[(&str, &str)], profile| {
            endpoint_setting(
                &Env::from_slice(vars),
                "AWS_USE_FIPS_ENDPOINT",
                "use_fips_endpoint",
                profile,
            )
        };
        assert_eq!(fips(&[], Some(&profile)), Some(true));
        assert_eq!(
            fips(&[("AWS_USE_FIPS_ENDPOINT", "FALSE")], Some(&profile)),
            Some(false)
        );
        assert_eq!(
            fips(&[("AWS_USE_FIPS_ENDPOINT", "yes")], Some(&profile)),
            None
        );
        assert_eq!(fips(&[], None), None);
    }
}
