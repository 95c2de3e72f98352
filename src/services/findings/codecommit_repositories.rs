//! `codecommit_repositories` (a finding; changes nothing): the CodeCommit repositories in a region. Source
//! code is often what an intruder is after, and anyone with a user's HTTPS Git credentials or SSH key can
//! clone it; the credential cuts close those paths, and this finding tells the responder which
//! repositories to check for recent clones (CloudTrail GitPull events).
//!
//! When the endpoint has no ListRepositories (the emulator answers 500 without an error code), the
//! finding says the repositories could not be listed instead of failing the plan; any other failure is a
//! discovery error.

use async_trait::async_trait;

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::missing_api::{is_missing_operation, retry_config, unread_finding};
use crate::services::{DiscoveryScope, Inspection, ServiceError};

pub struct CodeCommitRepositories;

const NAME: &str = "codecommit_repositories";

fn client(ctx: &RegionCtx) -> aws_sdk_codecommit::Client {
    match &ctx.endpoint_url {
        Some(url) => {
            let mut builder = aws_sdk_codecommit::config::Builder::from(&ctx.config);
            builder.set_retry_config(retry_config(Some(url)));
            aws_sdk_codecommit::Client::from_conf(
                builder.interceptor(crate::pacing::CallTagger).build(),
            )
        }
        None => ctx.codecommit().clone(),
    }
}

/// One Medium finding per repository.
pub fn findings(region: &str, names: &[String]) -> Vec<Finding> {
    names
        .iter()
        .map(|name| Finding {
            check: NAME.into(),
            region: region.to_string(),
            resource: name.clone(),
            severity: Severity::Medium,
            message: format!(
                "CodeCommit repository {name}: its source can be cloned with any user's HTTPS Git credentials or SSH key; the credential cuts close those paths. Check CloudTrail for GitPull events on it since the intrusion began."
            ),
        })
        .collect()
}

#[async_trait]
impl Inspection for CodeCommitRepositories {
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
        let listed = client(ctx)
            .list_repositories()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await;
        match listed {
            Ok(repositories) => {
                let mut names: Vec<String> = repositories
                    .iter()
                    .filter_map(|r| r.repository_name().map(str::to_string))
                    .collect();
                names.sort();
                Ok(findings(&ctx.region, &names))
            }
            Err(err) if is_missing_operation(&err) => Ok(vec![unread_finding(
                NAME,
                &ctx.region,
                "codecommit",
                Severity::Info,
                format!(
                    "CodeCommit repositories could not be listed in {} (ListRepositories is not available at this endpoint): check for repositories by hand",
                    ctx.region
                ),
            )]),
            Err(err) => Err(ServiceError::from_sdk("codecommit:ListRepositories", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_codecommit::Client;
    use aws_sdk_codecommit::operation::list_repositories::ListRepositoriesOutput;
    use aws_sdk_codecommit::types::RepositoryNameIdPair;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    #[tokio::test]
    async fn mocked_every_page_of_repositories_is_reported() {
        let first = mock!(Client::list_repositories)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListRepositoriesOutput::builder()
                    .repositories(
                        RepositoryNameIdPair::builder()
                            .repository_name("payments")
                            .build(),
                    )
                    .next_token("2")
                    .build()
            });
        let second = mock!(Client::list_repositories)
            .match_requests(|r| r.next_token() == Some("2"))
            .then_output(|| {
                ListRepositoriesOutput::builder()
                    .repositories(
                        RepositoryNameIdPair::builder()
                            .repository_name("infra")
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, &[&first, &second]);
        let ctx = RegionCtx::for_tests("eu-west-1").mock_codecommit(client);
        let found = CodeCommitRepositories
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        let resources: Vec<&str> = found.iter().map(|f| f.resource.as_str()).collect();
        assert_eq!(resources, vec!["infra", "payments"]);
        assert!(
            found
                .iter()
                .all(|f| f.severity == Severity::Medium && f.region == "eu-west-1")
        );
    }

    #[tokio::test]
    async fn mocked_missing_list_repositories_is_an_info_finding() {
        let missing = mock!(Client::list_repositories).then_http_response(|| {
            HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from("<html>"))
        });
        let client = mock_client!(aws_sdk_codecommit, RuleMode::MatchAny, &[&missing]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_codecommit(client);
        let found = CodeCommitRepositories
            .inspect(&ctx, &DiscoveryScope::for_tests(), &[])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Info);
        assert!(found[0].message.contains("could not be listed"));
    }
}
