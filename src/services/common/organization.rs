//! Which organization the account belongs to: what a policy condition on `aws:PrincipalOrgID` admits as
//! inside ([`super::policy_principals::Home`]).
//!
//! `DescribeOrganization` works from any account of an organization, member or management, and answers
//! `AWSOrganizationsNotInUseException` for an account in none
//! (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_DescribeOrganization.html>).
//! Anything else (access denied by a service control policy, a failure) leaves the organization unknown:
//! conditions on it are then unclassified and reported, never guessed inside.

use aws_sdk_organizations::error::ProvideErrorMetadata;

use super::policy_principals::{Home, Organization};
use crate::aws::RegionCtx;

/// The account's organization, as far as `DescribeOrganization` says.
pub async fn organization(ctx: &RegionCtx) -> Organization {
    match ctx.organizations().describe_organization().send().await {
        Ok(out) => match out.organization().and_then(|o| o.id()) {
            Some(id) if !id.is_empty() => Organization::Member(id.to_string()),
            _ => Organization::Unknown("DescribeOrganization returned no organization ID".into()),
        },
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_aws_organizations_not_in_use_exception()) =>
        {
            Organization::None
        }
        Err(err) => match err.code() {
            Some(code) => Organization::Unknown(format!("DescribeOrganization: {code}")),
            None => Organization::Unknown(format!(
                "DescribeOrganization failed: {}",
                crate::service_error::error_chain(&err)
            )),
        },
    }
}

/// What counts as inside for `account_id`, its organization looked up from `ctx` (the home region).
pub async fn home(ctx: &RegionCtx, account_id: &str) -> Home {
    Home {
        account_id: account_id.to_string(),
        organization: organization(ctx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_organizations::operation::describe_organization::{
        DescribeOrganizationError, DescribeOrganizationOutput,
    };
    use aws_sdk_organizations::types::error::AwsOrganizationsNotInUseException;
    use aws_smithy_mocks::{mock, mock_client};

    fn ctx_with(rule: aws_smithy_mocks::Rule) -> RegionCtx {
        let client = mock_client!(aws_sdk_organizations, [&rule]);
        RegionCtx::for_tests("us-east-1").mock_organizations(client)
    }

    #[tokio::test]
    async fn a_member_account_knows_its_organization() {
        let rule = mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
            DescribeOrganizationOutput::builder()
                .organization(
                    aws_sdk_organizations::types::Organization::builder()
                        .id("o-exampleorgid")
                        .build(),
                )
                .build()
        });
        assert_eq!(
            organization(&ctx_with(rule)).await,
            Organization::Member("o-exampleorgid".into())
        );
    }

    #[tokio::test]
    async fn an_account_in_no_organization_says_so() {
        // The documented answer for an account that is not a member of an organization.
        let rule = mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
            DescribeOrganizationError::AwsOrganizationsNotInUseException(
                AwsOrganizationsNotInUseException::builder()
                    .message("Your account is not a member of an organization.")
                    .build(),
            )
        });
        assert_eq!(organization(&ctx_with(rule)).await, Organization::None);
    }

    #[tokio::test]
    async fn access_denied_leaves_the_organization_unknown() {
        let rule = mock!(aws_sdk_organizations::Client::describe_organization).then_error(|| {
            DescribeOrganizationError::AccessDeniedException(
                aws_sdk_organizations::types::error::AccessDeniedException::builder()
                    .message("denied by an SCP")
                    .build(),
            )
        });
        assert!(matches!(
            organization(&ctx_with(rule)).await,
            Organization::Unknown(why) if why.contains("AccessDeniedException")
        ));
    }
}
