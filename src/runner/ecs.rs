//! An ECS task with a network interface of its own: the `awsvpc` network mode, every Fargate task's and
//! an EC2 task's that asks for it. Its calls leave through that interface's subnet and security groups,
//! not its host's. The task metadata endpoint (version 4: `ECS_CONTAINER_METADATA_URI_V4`, injected into
//! every container,
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate.html>)
//! names the task (its ARN, so its account and region) and the interface's MAC address, but not its VPC,
//! subnet or groups
//! (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate-response.html>):
//! those are read from EC2, the interface found by its MAC address (DescribeNetworkInterfaces's
//! `mac-address` filter, one of the filters its reference names for accounts with many interfaces:
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkInterfaces.html>). A task
//! in `bridge` or `host` mode goes out through its EC2 host, whose instance metadata says where.
//!
//! Not seen: a task of another account in a subnet this account shares with it (RAM), where EC2 does
//! not show this account the other's interface.

use std::time::Duration;

use aws_sdk_ec2::types::Filter;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::RunnerLocation;

/// The environment variable ECS sets in every container of a task (platform version 1.4.0 and later on
/// Fargate; agent 1.39.0 and later on EC2).
pub const METADATA_URI: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// The endpoint answers from the task's own host, within milliseconds.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The task and its own interface, as the task metadata names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTask {
    pub arn: String,
    pub account: String,
    pub region: String,
    pub mac: String,
}

/// Which way the task's traffic leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskNetwork {
    /// `awsvpc`: through the task's own interface.
    OwnInterface(EcsTask),
    /// `bridge` or `host`: through the host instance's.
    ThroughHost,
}

/// Reads `{uri}/task` and says which way the task's traffic leaves.
pub async fn read(uri: &str) -> Result<TaskNetwork, String> {
    let body = get(&format!("{}/task", uri.trim_end_matches('/'))).await?;
    parse(&body)
}

async fn get(url: &str) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|err| format!("{url} is not a URL: {err}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<bytes::Bytes>>();
    let answer = async {
        let response = client.get(uri).await.map_err(|err| err.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|err| err.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("it answered HTTP {status}"));
        }
        String::from_utf8(body.to_vec()).map_err(|_| "its answer is not UTF-8".to_string())
    };
    tokio::time::timeout(TIMEOUT, answer)
        .await
        .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
}

/// The task's ARN (`arn:PARTITION:ecs:REGION:ACCOUNT:task/…`) and, where a container's network is
/// `awsvpc`, that interface's MAC address (every container of such a task shares the one interface).
fn parse(body: &str) -> Result<TaskNetwork, String> {
    let task: serde_json::Value =
        serde_json::from_str(body).map_err(|err| format!("its answer is not JSON: {err}"))?;
    let networks: Vec<&serde_json::Value> = task["Containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|container| container["Networks"].as_array().into_iter().flatten())
        .collect();
    if networks.is_empty() {
        return Err("it names no container network".into());
    }
    let Some(own) = networks
        .iter()
        .find(|network| network["NetworkMode"].as_str() == Some("awsvpc"))
    else {
        return Ok(TaskNetwork::ThroughHost);
    };
    let mac = own["MACAddress"]
        .as_str()
        .filter(|mac| !mac.is_empty())
        .ok_or("its awsvpc network names no MACAddress")?;
    let arn = task["TaskARN"].as_str().ok_or("it names no TaskARN")?;
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "ecs", region, account, resource]
            if !region.is_empty() && !account.is_empty() && resource.starts_with("task/") =>
        {
            Ok(TaskNetwork::OwnInterface(EcsTask {
                arn: arn.to_string(),
                account: account.to_string(),
                region: region.to_string(),
                mac: mac.to_ascii_lowercase(),
            }))
        }
        _ => Err(format!("its TaskARN {arn:?} is not a task's ARN")),
    }
}

/// The task's interface as `account` sees it, read from EC2 in the task's region. Found: its VPC,
/// subnet and groups. Not found in the task's own account: an error (the interface must be there, so
/// something hides it). Not found in another account: `None`, the task in none of its VPCs.
pub async fn interface(
    task: &EcsTask,
    account: &str,
    ec2: &aws_sdk_ec2::Client,
) -> Result<Option<RunnerLocation>, String> {
    let what = |why: String| {
        format!(
            "this run is inside ECS task {}, but its network interface ({}) could not be read from EC2 in {}: {why}",
            task.arn, task.mac, task.region
        )
    };
    let answer = ec2
        .describe_network_interfaces()
        .filters(
            Filter::builder()
                .name("mac-address")
                .values(&task.mac)
                .build(),
        )
        .send()
        .await
        .map_err(|err| {
            what(format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(err)
            ))
        })?;
    let Some(found) = answer.network_interfaces().first() else {
        return if account == task.account {
            Err(what(format!(
                "the task's own account {account} holds no interface with that MAC address"
            )))
        } else {
            Ok(None)
        };
    };
    let (Some(vpc_id), Some(subnet_id)) = (found.vpc_id(), found.subnet_id()) else {
        return Err(what("EC2 names no VPC or subnet for it".into()));
    };
    Ok(Some(RunnerLocation {
        hop: super::Hop::Runs,
        host: format!("ECS task {}", task.arn),
        source: "its task metadata and network interface",
        account: task.account.clone(),
        region: task.region.clone(),
        vpc_id: vpc_id.to_string(),
        subnet_id: subnet_id.to_string(),
        security_groups: crate::services::common::ec2::group_ids(found.groups()),
        vpc_owner: super::VpcOwner::Unknown("not read yet".into()),
        way_out: super::WayOut::Unknown("not read yet".into()),
    }))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::{GroupIdentifier, NetworkInterface};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    /// The task response's shape as AWS's example for Fargate shows it (trimmed to what is read).
    fn fargate_task(mode: &str, arn: &str) -> String {
        serde_json::json!({
            "Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
            "TaskARN": arn,
            "Family": "responder",
            "AvailabilityZone": "us-west-2a",
            "LaunchType": "FARGATE",
            "Containers": [{
                "Name": "hikkonuki",
                "Networks": [{
                    "NetworkMode": mode,
                    "IPv4Addresses": ["10.0.2.106"],
                    "AttachmentIndex": 0,
                    "MACAddress": "0A:BB:CC:DD:EE:FF",
                    "IPv4SubnetCIDRBlock": "10.0.2.0/24",
                }],
            }],
        })
        .to_string()
    }

    const ARN: &str =
        "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c";

    #[test]
    fn an_awsvpc_task_names_its_account_region_and_interface_and_a_bridge_task_its_host() {
        assert_eq!(
            parse(&fargate_task("awsvpc", ARN)).unwrap(),
            TaskNetwork::OwnInterface(EcsTask {
                arn: ARN.into(),
                account: "111122223333".into(),
                region: "us-west-2".into(),
                mac: "0a:bb:cc:dd:ee:ff".into(),
            })
        );
        assert_eq!(
            parse(&fargate_task("bridge", ARN)).unwrap(),
            TaskNetwork::ThroughHost
        );
        for (body, says) in [
            (
                fargate_task(
                    "awsvpc",
                    "arn:aws:ecs:us-west-2:111122223333:cluster/default",
                ),
                "is not a task's ARN",
            ),
            ("{}".to_string(), "names no container network"),
            ("not json".to_string(), "is not JSON"),
        ] {
            let err = parse(&body).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    fn task() -> EcsTask {
        EcsTask {
            arn: ARN.into(),
            account: "111122223333".into(),
            region: "us-west-2".into(),
            mac: "0a:bb:cc:dd:ee:ff".into(),
        }
    }

    /// The interface is found by its MAC address: its VPC, subnet and groups are where the task sits.
    /// Not found in the task's own account, where it must be, is an error (never "outside every VPC");
    /// not found in another account, the task is in none of that account's VPCs. A denied read is an
    /// error naming the task.
    #[tokio::test]
    async fn mocked_the_tasks_interface_is_read_by_its_mac_address() {
        let found = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
            .match_requests(|req| {
                req.filters().len() == 1
                    && req.filters()[0].name() == Some("mac-address")
                    && req.filters()[0].values() == ["0a:bb:cc:dd:ee:ff"]
            })
            .then_output(|| {
                DescribeNetworkInterfacesOutput::builder()
                    .network_interfaces(
                        NetworkInterface::builder()
                            .network_interface_id("eni-0task")
                            .vpc_id("vpc-0task")
                            .subnet_id("subnet-0task")
                            .mac_address("0a:bb:cc:dd:ee:ff")
                            .groups(GroupIdentifier::builder().group_id("sg-0task").build())
                            .build(),
                    )
                    .build()
            });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&found]);
        let location = interface(&task(), "111122223333", &ec2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            location,
            RunnerLocation {
                hop: crate::runner::Hop::Runs,
                host: format!("ECS task {ARN}"),
                source: "its task metadata and network interface",
                account: "111122223333".into(),
                region: "us-west-2".into(),
                vpc_id: "vpc-0task".into(),
                subnet_id: "subnet-0task".into(),
                security_groups: vec!["sg-0task".into()],
                vpc_owner: crate::runner::VpcOwner::Unknown("not read yet".into()),
                way_out: crate::runner::WayOut::Unknown("not read yet".into()),
            }
        );

        let none = mock!(aws_sdk_ec2::Client::describe_network_interfaces)
            .then_output(|| DescribeNetworkInterfacesOutput::builder().build());
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&none]);
        let err = interface(&task(), "111122223333", &ec2).await.unwrap_err();
        assert!(
            err.contains(
                "the task's own account 111122223333 holds no interface with that MAC address"
            ),
            "{err}"
        );
        assert_eq!(interface(&task(), "999999999999", &ec2).await, Ok(None));

        let denied = mock!(aws_sdk_ec2::Client::describe_network_interfaces).then_error(|| {
            aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code("UnauthorizedOperation")
                    .message("You are not authorized to perform this operation.")
                    .build(),
            )
        });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&denied]);
        let err = interface(&task(), "111122223333", &ec2).await.unwrap_err();
        assert!(
            err.starts_with(&format!("this run is inside ECS task {ARN}, but its network interface (0a:bb:cc:dd:ee:ff) could not be read from EC2 in us-west-2: "))
                && err.contains("UnauthorizedOperation"),
            "{err}"
        );
    }
}
