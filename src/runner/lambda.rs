//! A Lambda function hikkonuki runs in (an automated containment: an alarm invokes a function that runs
//! it). Connected to a VPC, the function's calls leave through Lambda's network interfaces in the
//! subnets and with the security groups of its VPC configuration
//! (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html>): that VPC's seal and those
//! groups are on the run's path as an instance's own are. Lambda may place an invocation in any of the
//! subnets, so each is judged ([`super::path_for`]).
//!
//! Known by the runtime's reserved environment variables
//! (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>):
//! `AWS_LAMBDA_FUNCTION_NAME` and `AWS_LAMBDA_FUNCTION_VERSION` name the function, `AWS_REGION` its
//! region, and `AWS_LAMBDA_RUNTIME_API`, which only the runtime sets, says it runs there (a developer
//! testing a handler locally may set the name, rarely the runtime's address too). Its VPC configuration
//! is read with GetFunctionConfiguration in the account whose cuts are judged
//! (<https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html>): a function that
//! account does not hold (`ResourceNotFoundException`) is another account's, on no path of its cuts.
//! Not seen: another account's function in a subnet this account shares with it (RAM), as for ECS
//! tasks. Not read: a function on a capacity provider (Lambda Managed Instances), which runs on
//! instances in the provider's subnets; where it sits is then unknown, and apply says so.

use super::{Hop, RunnerLocation, VpcOwner, WayOut};

/// The runtime's own variables this module reads.
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
pub const FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
pub const RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// The function the run is in, as its environment names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    pub name: String,
    /// `$LATEST` or a published version's number.
    pub version: Option<String>,
    pub region: String,
}

impl LambdaFunction {
    /// The function `env` names, where it is a Lambda runtime's: its name, the runtime API's address
    /// and its region all set.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<LambdaFunction> {
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        set(RUNTIME_API)?;
        Some(LambdaFunction {
            name: set(FUNCTION_NAME)?.trim().to_string(),
            version: set(FUNCTION_VERSION).map(|version| version.trim().to_string()),
            region: set("AWS_REGION")?.trim().to_string(),
        })
    }

    fn host(&self) -> String {
        match &self.version {
            Some(version) => format!("Lambda function {} (version {version})", self.name),
            None => format!("Lambda function {}", self.name),
        }
    }
}

/// Where `function`'s calls leave, as `lambda` (`account`'s, the judged account, in the function's
/// region) reads its configuration: one location per subnet of its VPC configuration; none where it is
/// connected to no VPC or the account does not hold it; why, where that could not be read.
pub async fn interfaces(
    function: &LambdaFunction,
    account: &str,
    lambda: &aws_sdk_lambda::Client,
) -> Result<Vec<RunnerLocation>, String> {
    let host = function.host();
    let answer = lambda
        .get_function_configuration()
        .function_name(&function.name)
        .set_qualifier(function.version.clone())
        .send()
        .await;
    let configuration = match answer {
        Ok(configuration) => configuration,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(Vec::new());
        }
        Err(err) => {
            let err = crate::service_error::ServiceError::from_sdk(
                "lambda:GetFunctionConfiguration",
                err,
            );
            return Err(format!(
                "this run is inside {host} ({FUNCTION_NAME} and {RUNTIME_API} are set), but its VPC configuration could not be read ({err})"
            ));
        }
    };
    if let Some(provider) = configuration
        .capacity_provider_config()
        .and_then(|config| config.lambda_managed_instances_capacity_provider_config())
    {
        return Err(format!(
            "this run is inside {host}, which runs on the instances of capacity provider {} (Lambda Managed Instances), whose network this run does not read",
            provider.capacity_provider_arn()
        ));
    }
    let Some(vpc) = configuration
        .vpc_config()
        .filter(|vpc| !vpc.subnet_ids().is_empty())
    else {
        // Connected to no VPC: its calls leave through Lambda's own network.
        return Ok(Vec::new());
    };
    let Some(vpc_id) = vpc.vpc_id().filter(|id| !id.is_empty()) else {
        return Err(format!(
            "this run is inside {host}, whose VPC configuration names subnets but no VPC"
        ));
    };
    Ok(vpc
        .subnet_ids()
        .iter()
        .map(|subnet| RunnerLocation {
            hop: Hop::Runs,
            host: host.clone(),
            source: "its environment and Lambda's GetFunctionConfiguration",
            // Held by the account asked: the function is its own.
            account: account.to_string(),
            region: function.region.clone(),
            vpc_id: vpc_id.to_string(),
            subnet_id: subnet.clone(),
            security_groups: vpc.security_group_ids().to_vec(),
            vpc_owner: VpcOwner::Unknown("not read yet".into()),
            way_out: WayOut::Unknown("not read yet".into()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::tests::env_of;
    use aws_sdk_lambda::operation::get_function_configuration::{
        GetFunctionConfigurationError, GetFunctionConfigurationOutput,
    };
    use aws_sdk_lambda::types::{
        CapacityProviderConfig, LambdaManagedInstancesCapacityProviderConfig, VpcConfigResponse,
    };
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn responder() -> LambdaFunction {
        LambdaFunction {
            name: "contain".into(),
            version: Some("$LATEST".into()),
            region: "eu-west-1".into(),
        }
    }

    /// The runtime's address must be set with the name: the name alone (a handler tested on a
    /// laptop) is no function.
    #[test]
    fn a_function_is_known_by_its_name_and_the_runtimes_address() {
        assert_eq!(
            LambdaFunction::from_env(&env_of(&[
                (FUNCTION_NAME, "contain"),
                (FUNCTION_VERSION, "$LATEST"),
                (RUNTIME_API, "127.0.0.1:9001"),
                ("AWS_REGION", "eu-west-1"),
            ])),
            Some(responder())
        );
        assert_eq!(
            LambdaFunction::from_env(&env_of(&[
                (FUNCTION_NAME, "contain"),
                ("AWS_REGION", "eu-west-1"),
            ])),
            None
        );
        assert_eq!(
            LambdaFunction::from_env(&env_of(&[(RUNTIME_API, "127.0.0.1:9001")])),
            None
        );
    }

    async fn interfaces_when(rule: aws_smithy_mocks::Rule) -> Result<Vec<RunnerLocation>, String> {
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&rule]);
        interfaces(&responder(), "111122223333", &lambda).await
    }

    /// A function connected to a VPC through two subnets: one location per subnet, each with the
    /// function's groups and the account that holds it; the version asked is the runtime's.
    #[tokio::test]
    async fn mocked_a_function_in_a_vpc_is_located_in_each_of_its_subnets() {
        let rule = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .match_requests(|req| {
                req.function_name() == Some("contain") && req.qualifier() == Some("$LATEST")
            })
            .then_output(|| {
                GetFunctionConfigurationOutput::builder()
                    .function_arn("arn:aws:lambda:eu-west-1:111122223333:function:contain")
                    .vpc_config(
                        VpcConfigResponse::builder()
                            .vpc_id("vpc-0fn")
                            .subnet_ids("subnet-0a")
                            .subnet_ids("subnet-0b")
                            .security_group_ids("sg-0fn")
                            .build(),
                    )
                    .build()
            });
        let found = interfaces_when(rule).await.unwrap();
        let placed: Vec<_> = found
            .iter()
            .map(|at| {
                (
                    at.account.as_str(),
                    at.region.as_str(),
                    at.vpc_id.as_str(),
                    at.subnet_id.as_str(),
                    at.security_groups.clone(),
                )
            })
            .collect();
        assert_eq!(
            placed,
            vec![
                (
                    "111122223333",
                    "eu-west-1",
                    "vpc-0fn",
                    "subnet-0a",
                    vec!["sg-0fn".to_string()]
                ),
                (
                    "111122223333",
                    "eu-west-1",
                    "vpc-0fn",
                    "subnet-0b",
                    vec!["sg-0fn".to_string()]
                ),
            ]
        );
        assert_eq!(
            found[0].subject(),
            "hikkonuki runs on Lambda function contain (version $LATEST)"
        );
    }

    /// Connected to no VPC (AWS answers an empty configuration), or not held by the account judged:
    /// on no path of its cuts.
    #[tokio::test]
    async fn mocked_a_function_in_no_vpc_or_of_another_account_is_on_no_path() {
        let no_vpc = mock!(aws_sdk_lambda::Client::get_function_configuration).then_output(|| {
            GetFunctionConfigurationOutput::builder()
                .vpc_config(VpcConfigResponse::builder().vpc_id("").build())
                .build()
        });
        assert_eq!(interfaces_when(no_vpc).await, Ok(Vec::new()));
        let elsewhere = mock!(aws_sdk_lambda::Client::get_function_configuration).then_error(|| {
            GetFunctionConfigurationError::ResourceNotFoundException(
                aws_sdk_lambda::types::error::ResourceNotFoundException::builder()
                    .message("Function not found: arn:aws:lambda:eu-west-1:444455556666:function:contain")
                    .build(),
            )
        });
        assert_eq!(interfaces_when(elsewhere).await, Ok(Vec::new()));
    }

    /// A refused read (`AccessDeniedException`), or a function on a capacity provider, leaves where
    /// it sits unknown, saying which function and why, never "in no VPC".
    #[tokio::test]
    async fn mocked_a_function_whose_network_cannot_be_read_is_unknown() {
        let denied = mock!(aws_sdk_lambda::Client::get_function_configuration).then_error(|| {
            GetFunctionConfigurationError::generic(
                aws_sdk_lambda::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized to perform: lambda:GetFunctionConfiguration")
                    .build(),
            )
        });
        let why = interfaces_when(denied).await.unwrap_err();
        assert!(
            why.starts_with("this run is inside Lambda function contain (version $LATEST)")
                && why.contains("its VPC configuration could not be read")
                && why.contains("AccessDeniedException"),
            "{why}"
        );
        let managed = mock!(aws_sdk_lambda::Client::get_function_configuration).then_output(|| {
            GetFunctionConfigurationOutput::builder()
                .capacity_provider_config(
                    CapacityProviderConfig::builder()
                        .lambda_managed_instances_capacity_provider_config(
                            LambdaManagedInstancesCapacityProviderConfig::builder()
                                .capacity_provider_arn(
                                    "arn:aws:lambda:eu-west-1:111122223333:capacity-provider:fleet",
                                )
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
        });
        let why = interfaces_when(managed).await.unwrap_err();
        assert!(
            why.contains(
                "capacity provider arn:aws:lambda:eu-west-1:111122223333:capacity-provider:fleet"
            ),
            "{why}"
        );
    }
}
