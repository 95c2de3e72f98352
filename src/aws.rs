//! The one place the SDK configuration is loaded. Profile, home region, endpoint override and retry policy
//! are applied here once; every service client is derived from the result, one per region, built on first
//! use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

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
}

/// The caller, as STS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// The loaded configuration, shared by every region.
pub struct AwsSession {
    base: SdkConfig,
    home_region: String,
    endpoint_url: Option<String>,
    regions: Mutex<HashMap<String, Arc<RegionCtx>>>,
}

impl AwsSession {
    pub async fn load(settings: &ConnectionSettings) -> AwsSession {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Standard mode retries throttling and 5xx with exponential backoff and jitter; during an
            // incident a few more attempts are worth more than failing one cut out of hundreds.
            .retry_config(RetryConfig::standard().with_max_attempts(6));
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.home_region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let base = loader.load().await;
        let home_region = base
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| FALLBACK_HOME_REGION.to_string());
        AwsSession {
            base,
            home_region,
            endpoint_url: settings.endpoint_url.clone(),
            regions: Mutex::new(HashMap::new()),
        }
    }

    /// For tests: a session whose region contexts are given (e.g. holding mocked clients).
    pub fn with_regions(home_region: &str, contexts: Vec<RegionCtx>) -> AwsSession {
        AwsSession {
            base: SdkConfig::builder().build(),
            home_region: home_region.to_string(),
            endpoint_url: None,
            regions: Mutex::new(
                contexts
                    .into_iter()
                    .map(|ctx| (ctx.region.clone(), Arc::new(ctx)))
                    .collect(),
            ),
        }
    }

    pub fn home_region(&self) -> &str {
        &self.home_region
    }

    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
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
                Arc::new(RegionCtx {
                    region: name,
                    config,
                    ec2: OnceLock::new(),
                    rds: OnceLock::new(),
                })
            })
            .clone()
    }

    pub async fn caller_identity(&self) -> Result<CallerIdentity, crate::services::ServiceError> {
        let home = self.region(&self.home_region.clone());
        let sts = aws_sdk_sts::Client::new(&home.config);
        let out =
            sts.get_caller_identity().send().await.map_err(|err| {
                crate::services::ServiceError::from_sdk("sts:GetCallerIdentity", err)
            })?;
        Ok(CallerIdentity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
        })
    }
}

/// Everything a service needs to work in one region.
pub struct RegionCtx {
    pub region: String,
    pub config: SdkConfig,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
}

impl RegionCtx {
    /// For tests that drive a service against mocked clients.
    pub fn from_config(region: &str, config: SdkConfig) -> RegionCtx {
        RegionCtx {
            region: region.to_string(),
            config,
            ec2: OnceLock::new(),
            rds: OnceLock::new(),
        }
    }

    /// For tests: a context whose EC2 client is given (e.g. built by aws-smithy-mocks).
    pub fn with_ec2(region: &str, client: aws_sdk_ec2::Client) -> RegionCtx {
        let ctx = RegionCtx::from_config(region, SdkConfig::builder().build());
        let _ = ctx.ec2.set(client);
        ctx
    }

    pub fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2
            .get_or_init(|| aws_sdk_ec2::Client::new(&self.config))
    }

    /// For tests: a context whose RDS client is given (e.g. built by aws-smithy-mocks).
    pub fn with_rds(region: &str, client: aws_sdk_rds::Client) -> RegionCtx {
        let ctx = RegionCtx::from_config(region, SdkConfig::builder().build());
        let _ = ctx.rds.set(client);
        ctx
    }

    pub fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds
            .get_or_init(|| aws_sdk_rds::Client::new(&self.config))
    }
}
