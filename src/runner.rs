//! Where hikkonuki itself runs, when that is inside AWS: an EC2 instance, or an ECS task with a network
//! interface of its own (every Fargate task): its account, region, VPC, subnet and security groups, read
//! from the instance metadata service (IMDSv2), or from the task metadata endpoint and EC2
//! ([`ecs`]). Run there (a bastion, a responder's task), its calls to AWS leave through its subnet's
//! network ACL, its route table, its VPC's internet gateway (its calls to S3 through the VPC's S3
//! gateway endpoint) and its own security groups: the seal closes that path, and the run would cut itself off midway, every later cut left undone and no restore
//! possible from there. Apply leaves such cuts out ([`crate::engine::apply`]). Not detected: CloudShell's
//! VPC environment and Lambda functions, neither an instance nor a task.
//!
//! The metadata service is asked only where the machine says it is an EC2 instance: on Linux, AWS's
//! documented signs (the DMI board asset tag is the instance ID on Nitro instances; the system vendor
//! is `Amazon EC2`; a Xen instance's hypervisor UUID starts with `ec2`:
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/identify_ec2_instances.html>). Elsewhere the
//! link-local address would only make apply wait for a timeout. `AWS_EC2_METADATA_DISABLED=true` turns
//! it off, and `AWS_EC2_METADATA_SERVICE_ENDPOINT` points it elsewhere (and is asked wherever it runs),
//! as for the SDK's own use of the service.

use std::time::Duration;

use aws_config::imds::client::Client as Imds;

use crate::aws::AwsSession;

pub mod ecs;

/// Where the machine hikkonuki runs on sits, as its network interface says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerLocation {
    /// What it runs on, in words: `EC2 instance i-…`, `ECS task arn:…`.
    pub host: String,
    /// Where that was read, in words: `its instance metadata`.
    pub source: &'static str,
    /// The account the machine (the instance, the task) belongs to.
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// The security groups of its primary network interface.
    pub security_groups: Vec<String>,
    /// Who owns `vpc_id`, as the account whose cuts are judged sees it ([`Runner::location_in`]):
    /// VPC Block Public Access reaches only the VPCs of the account it is switched in.
    pub vpc_owner: VpcOwner,
}

/// Who owns the VPC the machine sits in, read with DescribeVpcs in the account whose cuts are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VpcOwner {
    /// The account EC2 names as the VPC's owner (the account itself, or the one sharing a subnet of it).
    Account(String),
    /// The account does not see the VPC (`InvalidVpcID.NotFound`): it is neither its own nor shared
    /// with it.
    NotSeen,
    /// The read failed, with why; nothing is known.
    Unknown(String),
}

/// How long the metadata service may take: it answers an instance within milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// What the machine says of itself, before any credentials: an instance located in full, or an ECS
/// task whose network interface is still to be read from EC2 ([`Runner::location_in`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    Located(RunnerLocation),
    Task(ecs::EcsTask),
}

impl Runner {
    /// Where the machine sits, as the cuts of `account` are judged: an instance's location as read; an
    /// ECS task's interface read from EC2 with `session` (`account`'s) in the task's region. `Ok(None)`:
    /// a task of another account whose interface `account` does not see, in none of its VPCs.
    pub async fn location_in(
        &self,
        account: &str,
        session: &AwsSession,
    ) -> Result<Option<RunnerLocation>, String> {
        let location = match self {
            Runner::Located(location) => Some(location.clone()),
            Runner::Task(task) => {
                ecs::interface(task, account, session.region(&task.region).ec2()).await?
            }
        };
        let Some(mut location) = location else {
            return Ok(None);
        };
        location.vpc_owner =
            vpc_owner(session.region(&location.region).ec2(), &location.vpc_id).await;
        Ok(Some(location))
    }
}

/// Who owns `vpc`, as the client's account sees it: DescribeVpcs names the owner of a VPC the account
/// owns or has a subnet of shared with it, and answers `InvalidVpcID.NotFound` for any other
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcs.html>).
async fn vpc_owner(ec2: &aws_sdk_ec2::Client, vpc: &str) -> VpcOwner {
    match ec2.describe_vpcs().vpc_ids(vpc).send().await {
        Ok(answer) => match answer.vpcs().first() {
            Some(found) => match found.owner_id() {
                Some(owner) => VpcOwner::Account(owner.to_string()),
                None => VpcOwner::Unknown(format!("EC2 names no owner of {vpc}")),
            },
            None => VpcOwner::NotSeen,
        },
        Err(err) => {
            let err = crate::service_error::ServiceError::from_sdk("ec2:DescribeVpcs", err);
            if err.code.as_deref() == Some("InvalidVpcID.NotFound") {
                VpcOwner::NotSeen
            } else {
                VpcOwner::Unknown(err.to_string())
            }
        }
    }
}

/// Where the machine sits as the cuts of `account` are judged ([`locate`], then
/// [`Runner::location_in`]): what apply and `watch --recut` ask.
pub async fn locate_for(
    account: &str,
    session: &AwsSession,
) -> Result<Option<RunnerLocation>, String> {
    match locate().await? {
        Some(runner) => runner.location_in(account, session).await,
        None => Ok(None),
    }
}

/// Where hikkonuki runs: `Ok(None)` where the machine is no EC2 instance and no ECS task (or the
/// instance metadata service is turned off), `Ok(Some(_))` where its metadata answered, and `Err` with
/// what could not be read where it did not answer all of it (out of reach, as from a container whose
/// hop limit stops the token, or failing midway): then where it runs is unknown, and the caller says so
/// rather than take it for outside every VPC.
///
/// Read once per process: where the machine sits does not change during a run, and apply asks it for
/// every account of a run over an organization, `watch` for every re-cut. A read that failed is not
/// kept: the next one asks again.
async fn locate() -> Result<Option<Runner>, String> {
    static LOCATION: tokio::sync::OnceCell<Option<Runner>> = tokio::sync::OnceCell::const_new();
    LOCATION.get_or_try_init(read_once).await.cloned()
}

async fn read_once() -> Result<Option<Runner>, String> {
    let env = |name: &str| std::env::var(name).ok();
    // A task's own interface, where it has one; a task in `bridge` or `host` mode goes out through its
    // EC2 host, whose instance metadata is then asked whatever the machine's DMI signs say.
    let mut on_an_ecs_host = false;
    if let Some(uri) = env(ecs::METADATA_URI).filter(|uri| !uri.trim().is_empty()) {
        match ecs::read(uri.trim()).await {
            Ok(ecs::TaskNetwork::OwnInterface(task)) => return Ok(Some(Runner::Task(task))),
            Ok(ecs::TaskNetwork::ThroughHost) => on_an_ecs_host = true,
            Err(why) => {
                return Err(format!(
                    "this run is inside an ECS task ({} is set), but its network could not be read from the task metadata endpoint ({why})",
                    ecs::METADATA_URI
                ));
            }
        }
    }
    let looks_like_an_instance: fn() -> bool = if on_an_ecs_host {
        || true
    } else {
        looks_like_ec2
    };
    if !worth_asking(&env, looks_like_an_instance) {
        return Ok(None);
    }
    let imds = Imds::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .max_attempts(1)
        .build();
    read_location(&imds)
        .await
        .map(|location| Some(Runner::Located(location)))
        .map_err(|err| {
            format!(
                "this machine looks like an EC2 instance (AWS_EC2_METADATA_DISABLED=true says it is none), but where it sits could not be read from its instance metadata ({err})"
            )
        })
}

/// What apply and `watch --recut` say when where they run could not be read (`what`: which read, and
/// why, from [`locate`] or [`Runner::location_in`]).
pub fn unknown_location_warning(what: &str) -> String {
    format!(
        "{what}: if it runs inside a VPC this plan seals, the seal cuts this run off midway, every later cut left undone and no restore possible from here. Stop now and run from outside it, or from where the metadata answers"
    )
}

/// Whether to ask the metadata service: not when turned off; always when an endpoint is named; else when
/// the machine looks like an EC2 instance.
fn worth_asking(env: &dyn Fn(&str) -> Option<String>, looks_like_ec2: fn() -> bool) -> bool {
    if env("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    {
        return false;
    }
    env("AWS_EC2_METADATA_SERVICE_ENDPOINT").is_some_and(|value| !value.trim().is_empty())
        || looks_like_ec2()
}

/// AWS's documented signs of an EC2 instance, on Linux.
fn looks_like_ec2() -> bool {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    read("/sys/devices/virtual/dmi/id/board_asset_tag")
        .trim()
        .starts_with("i-")
        || read("/sys/devices/virtual/dmi/id/sys_vendor").trim() == "Amazon EC2"
        || read("/sys/hypervisor/uuid")
            .trim()
            .to_ascii_lowercase()
            .starts_with("ec2")
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The instance's identity document (account, region, instance ID), then its primary interface's VPC,
/// subnet and groups (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html>).
/// Every instance is in a VPC now (EC2-Classic is retired), so a read that fails is an error, never "no
/// VPC" or "no groups": either would let a cut of the instance's own path through.
async fn read_location(imds: &Imds) -> Result<RunnerLocation, Failure> {
    let document = imds
        .get("/latest/dynamic/instance-identity/document")
        .await?;
    let document: serde_json::Value = serde_json::from_str(document.as_ref())?;
    let field = |name: &str| {
        document[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the identity document has no {name}"))
    };
    let (account, region, instance_id) =
        (field("accountId")?, field("region")?, field("instanceId")?);
    let mac = imds.get("/latest/meta-data/mac").await?;
    let interface = format!("/latest/meta-data/network/interfaces/macs/{}", mac.as_ref());
    let vpc_id = imds.get(format!("{interface}/vpc-id")).await?;
    let subnet_id = imds.get(format!("{interface}/subnet-id")).await?;
    let groups = imds.get(format!("{interface}/security-group-ids")).await?;
    Ok(RunnerLocation {
        host: format!("EC2 instance {instance_id}"),
        source: "its instance metadata",
        // Read per account judged ([`Runner::location_in`]).
        vpc_owner: VpcOwner::Unknown("not read yet".into()),
        account,
        region,
        vpc_id: vpc_id.as_ref().trim().to_string(),
        subnet_id: subnet_id.as_ref().trim().to_string(),
        security_groups: groups
            .as_ref()
            .lines()
            .map(str::trim)
            .filter(|group| !group.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    }

    /// DescribeVpcs in the account judged names the VPC's owner (its own, or the one sharing a subnet of
    /// it with it); a VPC it does not see (`InvalidVpcID.NotFound`) is not its own; a refused read is
    /// unknown, with why.
    #[tokio::test]
    async fn mocked_the_vpcs_owner_is_read_in_the_account_judged() {
        use aws_sdk_ec2::operation::describe_vpcs::{DescribeVpcsError, DescribeVpcsOutput};
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let owned = mock!(aws_sdk_ec2::Client::describe_vpcs)
            .match_requests(|req| req.vpc_ids() == ["vpc-0bastion"])
            .then_output(|| {
                DescribeVpcsOutput::builder()
                    .vpcs(
                        aws_sdk_ec2::types::Vpc::builder()
                            .vpc_id("vpc-0bastion")
                            .owner_id("111122223333")
                            .build(),
                    )
                    .build()
            });
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&owned]);
        assert_eq!(
            vpc_owner(&ec2, "vpc-0bastion").await,
            VpcOwner::Account("111122223333".into())
        );
        let error = |code: &'static str| {
            mock!(aws_sdk_ec2::Client::describe_vpcs).then_error(move || {
                DescribeVpcsError::generic(
                    aws_sdk_ec2::error::ErrorMetadata::builder()
                        .code(code)
                        .message("as AWS answers")
                        .build(),
                )
            })
        };
        let missing = error("InvalidVpcID.NotFound");
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&missing]);
        assert_eq!(vpc_owner(&ec2, "vpc-0bastion").await, VpcOwner::NotSeen);
        let denied = error("UnauthorizedOperation");
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&denied]);
        assert!(
            matches!(vpc_owner(&ec2, "vpc-0bastion").await, VpcOwner::Unknown(why) if why.contains("UnauthorizedOperation"))
        );
    }

    #[test]
    fn the_metadata_service_is_asked_only_on_an_instance_or_where_named_and_never_when_off() {
        let yes = || true;
        let no = || false;
        assert!(!worth_asking(&env_of(&[]), no), "a laptop: no timeout");
        assert!(worth_asking(&env_of(&[]), yes));
        assert!(worth_asking(
            &env_of(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")]),
            no
        ));
        assert!(!worth_asking(
            &env_of(&[("AWS_EC2_METADATA_DISABLED", "TRUE")]),
            yes
        ));
        assert!(!worth_asking(
            &env_of(&[
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1")
            ]),
            yes
        ));
        assert!(worth_asking(
            &env_of(&[("AWS_EC2_METADATA_DISABLED", "false")]),
            yes
        ));
    }
}
