//! Where hikkonuki runs when it runs inside a Lambda function (an automated responder). A function
//! attached to a VPC reaches AWS through that VPC (its NAT gateway, its endpoints): the VPC's seal would
//! cut the run off midway. The runtime names the function and its version in the environment
//! (`AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_REGION`:
//! <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>),
//! and GetFunctionConfiguration its VPC, subnets and security groups
//! (<https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html>, `VpcConfig`).
//! A function in no VPC calls AWS through Lambda's own network, which no cut of the account closes.

use super::{RunnerLocation, VpcOwner};

pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
const FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";

/// The function this run is inside, as its runtime names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    pub name: String,
    /// The version running (`$LATEST`, or a published number): each version has its own VPC settings.
    pub version: Option<String>,
    pub region: String,
}

/// The function the runtime's environment names, if any: `Err` where it names a function but no region.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<Result<LambdaFunction, String>> {
    let name = env(FUNCTION_NAME).filter(|name| !name.trim().is_empty())?;
    let name = name.trim().to_string();
    Some(
        match env("AWS_REGION").filter(|region| !region.trim().is_empty()) {
            Some(region) => Ok(LambdaFunction {
                name,
                version: env(FUNCTION_VERSION).filter(|version| !version.trim().is_empty()),
                region: region.trim().to_string(),
            }),
            None => Err(format!(
                "this run is inside Lambda function {name} ({FUNCTION_NAME} is set), but AWS_REGION, which the runtime sets, is not"
            )),
        },
    )
}

/// Where the function sits, read with `lambda` (a client of the account judged, in the function's
/// region): `Ok(None)` for a function in no VPC. A function the account does not hold (another
/// account's) cannot be read: where it sits is then unknown, and the caller says so.
pub async fn location(
    function: &LambdaFunction,
    lambda: &aws_sdk_lambda::Client,
) -> Result<Option<RunnerLocation>, String> {
    let what = |why: String| {
        format!(
            "this run is inside Lambda function {} in {}, but its VPC could not be read from Lambda: {why}",
            function.name, function.region
        )
    };
    let answer = lambda
        .get_function_configuration()
        .function_name(&function.name)
        .set_qualifier(function.version.clone())
        .send()
        .await
        .map_err(|err| {
            what(
                crate::service_error::ServiceError::from_sdk(
                    "lambda:GetFunctionConfiguration",
                    err,
                )
                .to_string(),
            )
        })?;
    let Some(vpc) = answer.vpc_config() else {
        return Ok(None);
    };
    let vpc_id = vpc.vpc_id().unwrap_or_default();
    if vpc_id.is_empty() {
        return Ok(None);
    }
    let account = answer
        .function_arn()
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|account| !account.is_empty())
        .ok_or_else(|| what("Lambda names no function ARN with an account".into()))?;
    if vpc.subnet_ids().is_empty() {
        return Err(what(format!("Lambda names no subnet of {vpc_id} for it")));
    }
    Ok(Some(RunnerLocation {
        host: format!("Lambda function {}", function.name),
        source: "its runtime's environment and GetFunctionConfiguration",
        account: account.to_string(),
        region: function.region.clone(),
        vpc_id: vpc_id.to_string(),
        // A function has an interface in each of its subnets; any of them may carry a call.
        subnet_id: vpc.subnet_ids().join(", "),
        security_groups: vpc.security_group_ids().to_vec(),
        vpc_owner: VpcOwner::Unknown("not read yet".into()),
    }))
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::operation::get_function_configuration::{
        GetFunctionConfigurationError, GetFunctionConfigurationOutput,
    };
    use aws_sdk_lambda::types::VpcConfigResponse;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    #[test]
    fn the_runtimes_environment_names_the_function_its_version_and_region() {
        assert_eq!(from_env(&env_of(&[("AWS_REGION", "us-east-1")])), None);
        assert_eq!(
            from_env(&env_of(&[
                ("AWS_LAMBDA_FUNCTION_NAME", "responder"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
                ("AWS_REGION", "eu-west-1"),
            ])),
            Some(Ok(LambdaFunction {
                name: "responder".into(),
                version: Some("7".into()),
                region: "eu-west-1".into(),
            }))
        );
        let Some(Err(why)) = from_env(&env_of(&[("AWS_LAMBDA_FUNCTION_NAME", "responder")])) else {
            panic!("a function with no region is unknown");
        };
        assert!(why.contains("AWS_REGION"), "{why}");
    }

    fn responder() -> LambdaFunction {
        LambdaFunction {
            name: "responder".into(),
            version: Some("$LATEST".into()),
            region: "us-west-2".into(),
        }
    }

    /// GetFunctionConfiguration, asked for the running version, names the function's VPC, subnets and
    /// groups (`VpcConfig`); a function in no VPC has none, or an empty `VpcId`; a function the account
    /// does not hold answers `ResourceNotFoundException` (404), and where it sits is unknown.
    #[tokio::test]
    async fn mocked_a_functions_vpc_is_read_from_its_configuration() {
        let in_vpc = mock!(aws_sdk_lambda::Client::get_function_configuration)
            .match_requests(|req| {
                req.function_name() == Some("responder") && req.qualifier() == Some("$LATEST")
            })
            .then_output(|| {
                GetFunctionConfigurationOutput::builder()
                    .function_arn("arn:aws:lambda:us-west-2:111122223333:function:responder")
                    .vpc_config(
                        VpcConfigResponse::builder()
                            .vpc_id("vpc-0responder")
                            .subnet_ids("subnet-0a")
                            .subnet_ids("subnet-0b")
                            .security_group_ids("sg-0responder")
                            .build(),
                    )
                    .build()
            });
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&in_vpc]);
        let found = location(&responder(), &lambda).await.unwrap().unwrap();
        assert_eq!(
            (
                found.host.as_str(),
                found.account.as_str(),
                found.region.as_str(),
                found.vpc_id.as_str(),
                found.subnet_id.as_str(),
            ),
            (
                "Lambda function responder",
                "111122223333",
                "us-west-2",
                "vpc-0responder",
                "subnet-0a, subnet-0b"
            )
        );
        assert_eq!(found.security_groups, ["sg-0responder"]);

        for vpc_config in [None, Some(VpcConfigResponse::builder().vpc_id("").build())] {
            let outside =
                mock!(aws_sdk_lambda::Client::get_function_configuration).then_output(move || {
                    GetFunctionConfigurationOutput::builder()
                        .function_arn("arn:aws:lambda:us-west-2:111122223333:function:responder")
                        .set_vpc_config(vpc_config.clone())
                        .build()
                });
            let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&outside]);
            assert_eq!(location(&responder(), &lambda).await, Ok(None));
        }

        let missing = mock!(aws_sdk_lambda::Client::get_function_configuration).then_error(|| {
            GetFunctionConfigurationError::generic(
                aws_sdk_lambda::error::ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message("Function not found: arn:aws:lambda:us-west-2:444455556666:function:responder")
                    .build(),
            )
        });
        let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&missing]);
        let Err(why) = location(&responder(), &lambda).await else {
            panic!("a function the account does not hold is unknown");
        };
        assert!(
            why.starts_with("this run is inside Lambda function responder in us-west-2, but its VPC could not be read from Lambda")
                && why.contains("ResourceNotFoundException"),
            "{why}"
        );
    }
}
