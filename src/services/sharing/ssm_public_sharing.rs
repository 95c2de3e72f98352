//! `ssm_public_sharing` (a finding; changes nothing): whether the region lets the account's SSM documents
//! be shared publicly. The service setting `/ssm/documents/console/public-sharing-permission` is `Enable`
//! by default; `Disable` blocks sharing documents with `all` from then on, documents already public stay
//! public (<https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-ssm-sharing.html>,
//! <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetServiceSetting.html>).
//! `sharing_revoke` removes the public shares that exist; this tells the responder that new ones can be
//! made, and how to stop that.
//!
//! When the endpoint has no GetServiceSetting (the emulator answers 500 without an error code), the
//! finding says the setting could not be read instead of failing the plan.
//!
//! `sharing_revoke` reads the same setting ([`read_for_plan`], once per run for both): while it is
//! `Disable`, restore cannot make a document public again.

use async_trait::async_trait;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::missing_api::{missing_operation, retry_config, unread_finding};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub struct SsmPublicSharing;

const NAME: &str = "ssm_public_sharing";

/// The setting's ID, as GetServiceSetting takes it.
pub const SETTING_ID: &str = "/ssm/documents/console/public-sharing-permission";

fn client(ctx: &RegionCtx) -> aws_sdk_ssm::Client {
    match &ctx.endpoint_url {
        Some(url) => {
            let mut builder = aws_sdk_ssm::config::Builder::from(&ctx.config);
            builder.set_retry_config(retry_config(Some(url)));
            aws_sdk_ssm::Client::from_conf(builder.interceptor(crate::pacing::CallTagger).build())
        }
        None => ctx.ssm().clone(),
    }
}

/// What GetServiceSetting said of the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingReading {
    /// `Enable` or `Disable`, as AWS writes it.
    Value(String),
    /// AWS answered without a value.
    NoValue,
    /// The endpoint has no GetServiceSetting: what it answered.
    Unread(String),
}

/// Whether the setting's value blocks sharing documents with `all` from now on.
pub fn blocks_public_sharing(value: &str) -> bool {
    value.eq_ignore_ascii_case("Disable")
}

/// The setting as GetServiceSetting reports it now. An answer from AWS that is not the setting (access
/// denied, say) is an error.
pub async fn read(ctx: &RegionCtx) -> Result<SettingReading, ServiceError> {
    let read = client(ctx)
        .get_service_setting()
        .setting_id(SETTING_ID)
        .send()
        .await;
    match read {
        Ok(out) => {
            let value = out
                .service_setting()
                .and_then(|s| s.setting_value())
                .unwrap_or_default();
            Ok(if value.is_empty() {
                SettingReading::NoValue
            } else {
                SettingReading::Value(value.to_string())
            })
        }
        Err(err) => match missing_operation(&err) {
            Some(answer) => Ok(SettingReading::Unread(answer)),
            None => Err(ServiceError::from_sdk("ssm:GetServiceSetting", err)),
        },
    }
}

/// [`read`], once per region and run: the inspection and `sharing_revoke`'s plan read one answer.
pub async fn read_for_plan(ctx: &RegionCtx) -> Result<SettingReading, ServiceError> {
    ctx.once("ssm_public_sharing.setting", || read(ctx)).await
}

/// The finding for the setting's value, if it says anything the responder must act on.
pub fn finding(region: &str, value: &str) -> Option<Finding> {
    if blocks_public_sharing(value) {
        return None;
    }
    Some(Finding {
        check: NAME.into(),
        region: region.to_string(),
        resource: SETTING_ID.into(),
        severity: Severity::Medium,
        message: format!(
            "SSM documents can be shared publicly in {region} (service setting {SETTING_ID} is {value}): anyone holding the account's credentials can publish a document, and its content, to every AWS account. sharing_revoke removes the public shares that exist now; to block new ones, set it to Disable (aws ssm update-service-setting --setting-id {SETTING_ID} --setting-value Disable --region {region}). hikkonuki does not change it."
        ),
    })
}

#[async_trait]
impl Inspection for SsmPublicSharing {
    fn name(&self) -> &'static str {
        NAME
    }

    fn global(&self) -> bool {
        false
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        Ok(match read_for_plan(ctx).await? {
            SettingReading::Value(value) => finding(&ctx.region, &value).into_iter().collect(),
            SettingReading::NoValue => vec![unread_finding(
                NAME,
                &ctx.region,
                SETTING_ID,
                Severity::Medium,
                format!(
                    "GetServiceSetting returned no value for {SETTING_ID} in {}: check by hand whether SSM documents can be shared publicly",
                    ctx.region
                ),
            )],
            SettingReading::Unread(answer) => vec![unread_finding(
                NAME,
                &ctx.region,
                SETTING_ID,
                Severity::Info,
                format!(
                    "whether SSM documents can be shared publicly in {} could not be read (GetServiceSetting answered {answer}): check {SETTING_ID} by hand",
                    ctx.region
                ),
            )],
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::Client;
    use aws_sdk_ssm::operation::get_service_setting::{
        GetServiceSettingError, GetServiceSettingOutput,
    };
    use aws_sdk_ssm::types::ServiceSetting;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn ctx_with(rule: &aws_smithy_mocks::Rule) -> RegionCtx {
        let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, &[rule]);
        RegionCtx::for_tests("eu-west-1").mock_ssm(client)
    }

    fn setting(value: &'static str) -> aws_smithy_mocks::Rule {
        mock!(Client::get_service_setting)
            .match_requests(|req| req.setting_id() == Some(SETTING_ID))
            .then_output(move || {
                GetServiceSettingOutput::builder()
                    .service_setting(
                        ServiceSetting::builder()
                            .setting_id(SETTING_ID)
                            .setting_value(value)
                            .status("Default")
                            .build(),
                    )
                    .build()
            })
    }

    #[tokio::test]
    async fn mocked_public_sharing_enabled_is_a_medium_finding_saying_how_to_block_it() {
        let rule = setting("Enable");
        let found = SsmPublicSharing
            .inspect(&ctx_with(&rule), &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Medium);
        assert_eq!(found[0].region, "eu-west-1");
        assert!(found[0].message.contains("--setting-value Disable"));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn mocked_public_sharing_disabled_is_no_finding() {
        let rule = setting("Disable");
        let found = SsmPublicSharing
            .inspect(&ctx_with(&rule), &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    #[tokio::test]
    async fn mocked_an_endpoint_without_get_service_setting_gives_an_unread_finding() {
        let rule = mock!(Client::get_service_setting).then_http_response(|| {
            HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from("<html>"))
        });
        let found = SsmPublicSharing
            .inspect(&ctx_with(&rule), &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(found[0].message.contains("could not be read"), "{found:?}");
    }

    /// AccessDenied is AWS answering, not a missing API: discovery reports it as an error.
    #[tokio::test]
    async fn mocked_access_denied_is_an_error_not_a_finding() {
        let rule = mock!(Client::get_service_setting).then_error(|| {
            GetServiceSettingError::generic(
                aws_sdk_ssm::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("not authorized to perform ssm:GetServiceSetting")
                    .build(),
            )
        });
        let err = SsmPublicSharing
            .inspect(&ctx_with(&rule), &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap_err();
        assert!(err.is_access_denied(), "{err}");
    }
}
