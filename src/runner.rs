//! Where hikkonuki itself runs, when that is inside AWS: an EC2 instance, an ECS task with a network
//! interface of its own (every Fargate task), or a Lambda function connected to a VPC: its account,
//! region, VPC, subnet and security groups, read from the instance metadata service (IMDSv2), from the
//! task metadata endpoint and EC2 ([`ecs`]), or from the runtime's environment and Lambda
//! ([`lambda`]). Run there (a bastion, a responder's task), its calls to AWS leave through its
//! subnet's network ACL, its route table, its VPC's internet gateway (its calls to S3 through the VPC's
//! S3 gateway endpoint) and its own security groups: the seal closes that path, and the run would cut
//! itself off midway, every later cut left undone and no restore possible from there; where its VPC's
//! route to the internet leads through a transit gateway, the egress VPC's seal too ([`way_out`]). The
//! proxy the run's calls are sent through, where it sits in a VPC, is on that path in the same way
//! ([`proxy`]), and so is the VPC of an interface endpoint its calls reach by a private way
//! ([`endpoint`]). Apply leaves such cuts out ([`crate::engine::apply`]). Not detected: CloudShell's VPC
//! environment, which AWS documents no way to tell from inside.
//!
//! The metadata service is asked only where the machine says it is an EC2 instance: on Linux, AWS's
//! documented signs (the DMI board asset tag is the instance ID on Nitro instances; the system vendor
//! is `Amazon EC2`; a Xen instance's hypervisor UUID starts with `ec2`:
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/identify_ec2_instances.html>). Elsewhere the
//! link-local address would only make apply wait for a timeout. `AWS_EC2_METADATA_DISABLED=true` turns
//! it off, and `AWS_EC2_METADATA_SERVICE_ENDPOINT` points it elsewhere (and is asked wherever it runs),
//! as for the SDK's own use of the service. Where it does not answer in full, a Nitro instance is still
//! found by the instance ID in its DMI asset tag ([`UnreadInstance`]).

use std::time::Duration;

use aws_config::imds::client::Client as Imds;

use crate::aws::{AwsSession, RegionCtx};

pub mod ecs;
pub mod endpoint;
pub mod lambda;
pub mod proxy;
pub mod way_out;

pub use way_out::WayOut;

/// Where a machine on the run's own path sits, as its network interface says: the machine hikkonuki
/// runs on, or the proxy its calls are sent through ([`proxy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerLocation {
    /// Which of the two it is.
    pub hop: Hop,
    /// What it is, in words: `EC2 instance i-…`, `ECS task arn:…`, `http://proxy:3128 (10.0.1.5,
    /// network interface eni-…)`.
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
    /// Where its subnet's traffic for the internet leaves, when that is another VPC (centralized
    /// egress through a transit gateway), as the account whose cuts are judged reads it
    /// ([`way_out`]).
    pub way_out: WayOut,
}

/// How the run's calls pass the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// hikkonuki runs on it.
    Runs,
    /// The proxy hikkonuki's calls to AWS are sent through runs on it ([`proxy`]).
    Proxy,
    /// It is an interface endpoint the run's calls to a service reach by a private way (its VPC, a
    /// VPN, a transit gateway), and go on to the service inside AWS's network ([`endpoint`]).
    Endpoint,
}

impl RunnerLocation {
    /// How a cut of the machine's VPC closes the run's way, after "this cut closes": a way out for the
    /// machines the calls leave from, a way in or out for an endpoint they reach.
    pub fn path_through(&self, vpc: &str) -> String {
        match self.hop {
            Hop::Runs | Hop::Proxy => format!("a path out of {vpc}"),
            Hop::Endpoint => format!("a path into or out of {vpc}"),
        }
    }

    /// What the run has to do with the machine, as the subject of a sentence.
    pub fn subject(&self) -> String {
        match self.hop {
            Hop::Runs => format!("hikkonuki runs on {}", self.host),
            Hop::Proxy => format!(
                "hikkonuki's calls to AWS go through the proxy {}",
                self.host
            ),
            Hop::Endpoint => format!("some of hikkonuki's calls reach {}", self.host),
        }
    }

    /// How the run's calls use the way the cut closes, to follow the cut's effect.
    pub fn calls_go(&self) -> &'static str {
        match self.hop {
            Hop::Runs | Hop::Proxy => "its calls to AWS go out that way",
            Hop::Endpoint => {
                "the calls that reach the endpoint may pass that way, and so does all of the machine's traffic where the VPN into that network carries it all (a full tunnel) or its server sits there"
            }
        }
    }

    /// How to make the cuts of the machine's VPC (`vpc`) without cutting the run off.
    pub fn instead_outside(&self, vpc: &str) -> String {
        match self.hop {
            Hop::Runs => format!(
                "Run from outside {vpc} (a machine outside it, or another VPC's instance) to cut it"
            ),
            Hop::Proxy => format!(
                "Run through a proxy outside {vpc}, or none (unset the proxy variable, HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, or exempt AWS's endpoints with NO_PROXY), to cut it"
            ),
            Hop::Endpoint => format!(
                "Run from a machine whose resolver does not answer AWS's service names with {vpc}'s endpoints (not over that VPN or network), with no AWS_ENDPOINT_URL_… naming one, to cut it"
            ),
        }
    }

    /// Where to run from to make a cut of where the machine's traffic leaves (`way`: `through
    /// vpc-…`, `that way`) without cutting the run off, to follow "run".
    pub fn instead_not_leaving(&self, way: &str) -> String {
        match self.hop {
            Hop::Runs => format!("from a machine whose traffic does not leave {way}"),
            Hop::Proxy => {
                format!("with no proxy, or through one whose traffic does not leave {way}")
            }
            Hop::Endpoint => format!(
                "from a machine not connected to {}'s network (by a VPN, or from a VPC attached or peered to it), whose traffic does not leave {way}",
                self.vpc_id
            ),
        }
    }

    /// Whose the machine is, as a possessive: `the runner's`, `the proxy's`.
    pub fn whose(&self) -> &'static str {
        match self.hop {
            Hop::Runs => "the runner's",
            Hop::Proxy => "the proxy's",
            Hop::Endpoint => "the endpoint's",
        }
    }
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

/// What the machine says of itself, before any credentials: an instance located in full, an ECS task
/// whose network interface is still to be read from EC2, or an instance whose metadata did not answer
/// but whose ID its DMI asset tag gives, to be found in EC2 ([`Runner::location_in`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    Located(RunnerLocation),
    Task(ecs::EcsTask),
    Unread(UnreadInstance),
}

/// An instance whose metadata service did not answer in full (a container whose hop limit stops the
/// IMDSv2 token, a service turned off for the instance), known by the ID in its DMI asset tag, which
/// AWS sets on every Nitro instance
/// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/identify_ec2_instances.html>).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadInstance {
    pub instance_id: String,
    /// Why the metadata service could not say where it sits, in words.
    pub unread_because: String,
}

impl Runner {
    /// Where the machine sits, as the cuts of `account` are judged: an instance's location as read; an
    /// ECS task's interface read from EC2 with `session` (`account`'s) in the task's region; an
    /// instance whose metadata did not answer, looked for by its ID in `regions` (those the cuts
    /// judged are in). `Ok(None)`: a task of another account whose interface `account` does not see,
    /// in none of its VPCs.
    pub async fn location_in(
        &self,
        account: &str,
        session: &AwsSession,
        regions: &[String],
    ) -> Result<Option<RunnerLocation>, String> {
        let location = match self {
            Runner::Located(location) => Some(location.clone()),
            // A task in a region of none of the cuts is on none of their paths (own_path judges a
            // cut of its region only): its interface need not be read, nor its read failing warned of.
            Runner::Task(task) if !regions.contains(&task.region) => None,
            Runner::Task(task) => {
                ecs::interface(task, account, session.region(&task.region).ec2()).await?
            }
            // No region to judge a cut in: no cut can be on its path, wherever it sits.
            Runner::Unread(_) if regions.is_empty() => None,
            Runner::Unread(instance) => {
                let contexts: Vec<_> = regions
                    .iter()
                    .map(|region| session.region(region))
                    .collect();
                Some(find_instance(instance, &contexts).await?)
            }
        };
        match location {
            Some(location) => Ok(Some(
                with_way_read(location, account, session, regions).await,
            )),
            None => Ok(None),
        }
    }
}

/// `location` with who owns its VPC and where its subnet's traffic for the internet leaves, as `account`
/// (`session`'s) sees them. In a region of none of the cuts (`regions`), it is on none of their paths:
/// nothing more is read.
async fn with_way_read(
    mut location: RunnerLocation,
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> RunnerLocation {
    if !regions.contains(&location.region) {
        return location;
    }
    let ctx = session.region(&location.region);
    let ec2 = ctx.ec2();
    let (owner, way_out) = futures_util::future::join(
        vpc_owner(ec2, &location.vpc_id),
        way_out::read(ec2, account, &location.vpc_id, &location.subnet_id),
    )
    .await;
    location.vpc_owner = owner;
    location.way_out = way_out;
    location
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

/// The regions of `cuts` where one can be on the machine's path ([`locate_for`]): each region once,
/// none for a cut of no region (IAM, the organization's), which closes no network path.
pub fn regions_judged<'c>(cuts: impl IntoIterator<Item = &'c crate::plan::Cut>) -> Vec<String> {
    let regions: std::collections::BTreeSet<&str> = cuts
        .into_iter()
        .map(|cut| cut.region.as_str())
        .filter(|region| *region != crate::plan::GLOBAL_REGION)
        .collect();
    regions.into_iter().map(str::to_string).collect()
}

/// Where the machine sits as the cuts of `account` in `regions` are judged ([`locate`], then
/// [`Runner::location_in`]): what apply and `watch --recut` ask.
pub async fn locate_for(
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Result<Option<RunnerLocation>, String> {
    match locate().await? {
        Some(runner) => runner.location_in(account, session, regions).await,
        None => Ok(None),
    }
}

/// Every machine on the run's own path as the cuts of `account` in `regions` are judged: the one it
/// runs on ([`locate_for`]), each proxy its calls are sent through ([`proxy::locate_for`]) and each
/// interface endpoint they reach by a private way ([`endpoint::locate_for`]), where they sit in a VPC,
/// or why where one sits could not be read. What apply and `watch --recut` ask.
pub async fn path_for(
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Vec<Result<RunnerLocation, String>> {
    let (machine, function, proxies, endpoints) = futures_util::future::join4(
        locate_for(account, session, regions),
        function_path(account, session, regions),
        proxy::locate_for(account, session, regions),
        endpoint::locate_for(account, session, regions),
    )
    .await;
    machine
        .transpose()
        .into_iter()
        .chain(function)
        .chain(proxies)
        .chain(endpoints)
        .collect()
}

/// Where the Lambda function the run is in sits ([`lambda`]), as the cuts of `account` in `regions`
/// are judged: each subnet of its VPC configuration, where its region is one of theirs.
async fn function_path(
    account: &str,
    session: &AwsSession,
    regions: &[String],
) -> Vec<Result<RunnerLocation, String>> {
    let env = |name: &str| std::env::var(name).ok();
    let Some(function) = lambda::LambdaFunction::from_env(&env) else {
        return Vec::new();
    };
    if !regions.contains(&function.region) {
        return Vec::new();
    }
    let ctx = session.region(&function.region);
    match lambda::interfaces(&function, account, ctx.lambda()).await {
        Ok(subnets) => futures_util::future::join_all(
            subnets
                .into_iter()
                .map(|location| with_way_read(location, account, session, regions)),
        )
        .await
        .into_iter()
        .map(Ok)
        .collect(),
        Err(why) => vec![Err(why)],
    }
}

/// An instance whose metadata did not answer, found by its ID with DescribeInstances in each of
/// `regions` at once (a region that does not hold it answers `InvalidInstanceID.NotFound`:
/// <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>), located by its
/// primary network interface (device index 0 on card 0), the one its metadata would have named.
/// Found in none, or a read that fails: where it sits is still unknown, and the caller says so.
async fn find_instance(
    instance: &UnreadInstance,
    regions: &[std::sync::Arc<RegionCtx>],
) -> Result<RunnerLocation, String> {
    let id = &instance.instance_id;
    let reads = regions.iter().map(|ctx| async move {
        let answer = ctx.ec2().describe_instances().instance_ids(id).send().await;
        (ctx.region.as_str(), answer)
    });
    let mut unread = Vec::new();
    for (region, answer) in futures_util::future::join_all(reads).await {
        match answer {
            Ok(answer) => {
                if let Some(found) = located_instance(&answer, id, region) {
                    return found.map_err(|why| unread_instance(instance, &why));
                }
            }
            Err(err) => {
                let err =
                    crate::service_error::ServiceError::from_sdk("ec2:DescribeInstances", err);
                if err.code.as_deref() != Some("InvalidInstanceID.NotFound") {
                    unread.push(format!("in {region}: {err}"));
                }
            }
        }
    }
    let why = if unread.is_empty() {
        format!(
            "EC2 does not know {id} in {} (an instance of another account, or of another region)",
            regions
                .iter()
                .map(|ctx| ctx.region.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!("EC2 could not be asked for {id} {}", unread.join("; "))
    };
    Err(unread_instance(instance, &why))
}

fn unread_instance(instance: &UnreadInstance, why: &str) -> String {
    format!(
        "{}, and it could not be found by the instance ID in its DMI asset tag: {why}",
        instance.unread_because
    )
}

/// The instance `id` in a DescribeInstances answer from `region`, located by its primary interface
/// (device index 0 on network card 0: an instance with several cards has a device 0 on each,
/// <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html>): `None` when the answer does
/// not hold it, `Some(Err)` when it does without a VPC or subnet.
fn located_instance(
    answer: &aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput,
    id: &str,
    region: &str,
) -> Option<Result<RunnerLocation, String>> {
    let (reservation, instance) = answer.reservations().iter().find_map(|reservation| {
        reservation
            .instances()
            .iter()
            .find(|instance| instance.instance_id() == Some(id))
            .map(|instance| (reservation, instance))
    })?;
    let primary = instance.network_interfaces().iter().find(|interface| {
        interface.attachment().is_some_and(|attachment| {
            attachment.device_index() == Some(0)
                && attachment.network_card_index().unwrap_or(0) == 0
        })
    });
    let (Some(primary), Some(account)) = (primary, reservation.owner_id()) else {
        return Some(Err(format!(
            "EC2 in {region} names no primary network interface or owner for it"
        )));
    };
    let (Some(vpc_id), Some(subnet_id)) = (primary.vpc_id(), primary.subnet_id()) else {
        return Some(Err(format!(
            "EC2 in {region} names no VPC or subnet for its primary network interface"
        )));
    };
    Some(Ok(RunnerLocation {
        hop: Hop::Runs,
        host: format!("EC2 instance {id}"),
        source: "its DMI asset tag and EC2 (its instance metadata did not answer)",
        account: account.to_string(),
        region: region.to_string(),
        vpc_id: vpc_id.to_string(),
        subnet_id: subnet_id.to_string(),
        security_groups: crate::services::common::ec2::group_ids(primary.groups()),
        vpc_owner: VpcOwner::Unknown("not read yet".into()),
        way_out: WayOut::Unknown("not read yet".into()),
    }))
}

/// Where hikkonuki runs: `Ok(None)` where the machine is no EC2 instance and no ECS task (or the
/// instance metadata service is turned off), `Ok(Some(_))` where its metadata answered, and `Err` with
/// what could not be read where it did not answer all of it (out of reach, as from a container whose
/// hop limit stops the token, or failing midway): then where it runs is unknown, and the caller says so
/// rather than take it for outside every VPC.
///
/// Read once per process: where the machine sits does not change during a run, and apply asks it for
/// every account of a run over an organization, `watch` for every re-cut. A read that failed is not
/// kept, nor one the metadata did not answer in full ([`Runner::Unread`]): the next one asks again.
async fn locate() -> Result<Option<Runner>, String> {
    static LOCATION: tokio::sync::OnceCell<Option<Runner>> = tokio::sync::OnceCell::const_new();
    if let Some(kept) = LOCATION.get() {
        return Ok(kept.clone());
    }
    let read = read_once().await?;
    if !matches!(read, Some(Runner::Unread(_))) {
        // Another task may have kept its read meanwhile: the same machine, the same answer.
        let _ = LOCATION.set(read.clone());
    }
    Ok(read)
}

async fn read_once() -> Result<Option<Runner>, String> {
    let env = |name: &str| std::env::var(name).ok();
    // A Lambda function has no instance metadata to ask; where it sits is read from Lambda
    // ([`function_path`]).
    if lambda::LambdaFunction::from_env(&env).is_some() {
        return Ok(None);
    }
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
    match read_location(&imds).await {
        Ok(location) => Ok(Some(Runner::Located(location))),
        Err(err) => unread(&err.to_string(), &dmi_asset_tag()),
    }
}

/// Where an instance's metadata did not answer: the instance its DMI asset tag names, to be found in
/// EC2, or, with no ID there (a Xen instance, a machine only said to be one), where it sits is
/// unknown, with why.
fn unread(err: &str, asset_tag: &Result<String, String>) -> Result<Option<Runner>, String> {
    let unread_because = format!(
        "this machine looks like an EC2 instance (if it is not one, AWS_EC2_METADATA_DISABLED=true says so), but where it sits could not be read from its instance metadata ({err})"
    );
    match asset_tag.as_deref().map(instance_id_in) {
        Ok(Some(instance_id)) => Ok(Some(Runner::Unread(UnreadInstance {
            instance_id,
            unread_because,
        }))),
        Ok(None) => Err(format!(
            "{unread_because}, and its DMI asset tag ({DMI_ASSET_TAG}) holds no instance ID to find it by in EC2 (only Nitro instances have one)"
        )),
        Err(why) => Err(format!(
            "{unread_because}, and its DMI asset tag ({DMI_ASSET_TAG}, which holds a Nitro instance's ID) could not be read ({why})"
        )),
    }
}

/// The instance ID a DMI asset tag holds (`i-` and 8 or 17 hexadecimal digits), if it holds one: the
/// tag is the machine's, but nothing else is taken from it than a well-formed ID.
fn instance_id_in(asset_tag: &str) -> Option<String> {
    let tag = asset_tag.trim();
    let digits = tag.strip_prefix("i-")?;
    let well_formed = matches!(digits.len(), 8 | 17)
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    well_formed.then(|| tag.to_string())
}

const DMI_ASSET_TAG: &str = "/sys/devices/virtual/dmi/id/board_asset_tag";

fn dmi_asset_tag() -> Result<String, String> {
    std::fs::read_to_string(DMI_ASSET_TAG).map_err(|err| err.to_string())
}

/// What apply and `watch --recut` say when where they run could not be read (`what`: which read, and
/// why, from [`locate`] or [`Runner::location_in`]).
pub fn unknown_location_warning(what: &str) -> String {
    format!(
        "{what}: where that is inside a VPC this plan seals, the seal cuts this run off midway, every later cut left undone and no restore possible from here. Stop now and run from outside it, or from where this can be read"
    )
}

/// Why where the machine's traffic for the internet leaves is unknown ([`WayOut::Unknown`]), in words
/// that say where it runs; `None` when it is known.
fn unknown_way_out(runner: &RunnerLocation) -> Option<String> {
    let WayOut::Unknown(why) = &runner.way_out else {
        return None;
    };
    Some(format!(
        "{} in {} (subnet {}), but where that subnet's traffic for the internet leaves could not be read ({why})",
        runner.subject(),
        runner.vpc_id,
        runner.subnet_id
    ))
}

/// What apply says before the review where the way out is unknown ([`WayOut::Unknown`]) and the plan
/// seals in the machine's region: a seal of the VPC the traffic leaves by (behind a transit gateway)
/// would cut the run off as its own VPC's would.
pub fn unknown_way_out_warning(runner: &RunnerLocation) -> Option<String> {
    unknown_way_out(runner).map(|unknown| {
        format!(
            "{unknown}: if it leaves through another VPC this plan seals in {region} (an egress VPC behind a transit gateway), the seal cuts this run off midway, every later cut left undone and no restore possible from here. Stop now and switch off in the plan (enabled: false) the sealing cuts of the VPC whose NAT or internet gateway that traffic leaves by, or run {instead}",
            region = runner.region,
            instead = runner.instead_not_leaving("that way"),
        )
    })
}

/// Why `watch --recut` does not seal again in the machine's region where the way out is unknown: left
/// running unattended, it cannot ask.
pub fn unknown_way_out_recut(runner: &RunnerLocation) -> Option<String> {
    unknown_way_out(runner).map(|unknown| {
        format!(
            "{unknown}, and this seal in {} may close it: watch does not seal again unattended where it cannot tell; cut it again with `watch --recut` when you run {}",
            runner.region,
            runner.instead_not_leaving("that way"),
        )
    })
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
    read(DMI_ASSET_TAG).trim().starts_with("i-")
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
    let document = get(imds, "/latest/dynamic/instance-identity/document").await?;
    let document: serde_json::Value = serde_json::from_str(&document)?;
    let field = |name: &str| {
        document[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("the identity document has no {name}"))
    };
    let (account, region, instance_id) =
        (field("accountId")?, field("region")?, field("instanceId")?);
    let mac = get(imds, "/latest/meta-data/mac").await?;
    let interface = format!("/latest/meta-data/network/interfaces/macs/{}", mac.trim());
    let vpc_id = get(imds, &format!("{interface}/vpc-id")).await?;
    let subnet_id = get(imds, &format!("{interface}/subnet-id")).await?;
    let groups = get(imds, &format!("{interface}/security-group-ids")).await?;
    Ok(RunnerLocation {
        hop: Hop::Runs,
        host: format!("EC2 instance {instance_id}"),
        source: "its instance metadata",
        // Read per account judged ([`Runner::location_in`]).
        vpc_owner: VpcOwner::Unknown("not read yet".into()),
        way_out: WayOut::Unknown("not read yet".into()),
        account,
        region,
        vpc_id: vpc_id.trim().to_string(),
        subnet_id: subnet_id.trim().to_string(),
        security_groups: groups
            .lines()
            .map(str::trim)
            .filter(|group| !group.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// One metadata path, its failure said in a line: which path, and what answered. The client's own
/// message for an error status carries the whole HTTP response's debug form (headers, body, internals),
/// which a responder reading the warning has no use for.
async fn get(imds: &Imds, path: &str) -> Result<String, Failure> {
    use aws_config::imds::client::error::ImdsError;
    match imds.get(path).await {
        Ok(answer) => Ok(answer.as_ref().to_string()),
        Err(ImdsError::ErrorResponse(response)) => Err(format!(
            "{path} answered HTTP {}",
            response.response().status().as_u16()
        )
        .into()),
        Err(err) => Err(match std::error::Error::source(&err) {
            Some(cause) => format!("{path}: {err}: {cause}"),
            None => format!("{path}: {err}"),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment holding only `pairs`.
    pub(super) fn env_of(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
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
        use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsError;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};
        let owned = bastion_vpc_owned_by_111122223333();
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

    /// Only a well-formed instance ID is taken from the asset tag (it is the machine's to set, and is
    /// printed): anything else leaves where the machine sits unknown, as before.
    #[test]
    fn an_instance_id_is_taken_from_the_dmi_asset_tag_only_when_well_formed() {
        assert_eq!(
            instance_id_in("i-0123456789abcdef0\n").as_deref(),
            Some("i-0123456789abcdef0")
        );
        assert_eq!(instance_id_in("i-1a2b3c4d").as_deref(), Some("i-1a2b3c4d"));
        for tag in [
            "",
            "i-",
            "Not Specified",
            "i-0123456789ABCDEF0",
            "i-0123456789abcdef0x",
            "i-0123\u{1b}[2J456789abcd",
            "i-0123456789abcdef0 i-1a2b3c4d",
        ] {
            assert_eq!(instance_id_in(tag), None, "{tag:?}");
        }
    }

    /// Where the metadata does not answer, a Nitro instance is still known by the ID in its asset tag,
    /// to be found in EC2; with none there, where it sits is unknown, saying why.
    #[test]
    fn an_instance_whose_metadata_does_not_answer_is_known_by_its_asset_tag_or_not_at_all() {
        let Ok(Some(Runner::Unread(instance))) =
            unread("failed to load token", &Ok("i-0b1a2c3d\n".into()))
        else {
            panic!("a well-formed asset tag names the instance");
        };
        assert_eq!(instance.instance_id, "i-0b1a2c3d");
        assert!(
            instance
                .unread_because
                .ends_with("could not be read from its instance metadata (failed to load token)"),
            "{}",
            instance.unread_because
        );
        let Err(why) = unread("failed to load token", &Ok("Not Specified".into())) else {
            panic!("no instance ID: unknown");
        };
        assert!(
            why.starts_with("this machine looks like an EC2 instance")
                && why.ends_with(
                    "holds no instance ID to find it by in EC2 (only Nitro instances have one)"
                ),
            "{why}"
        );
        let Err(why) = unread(
            "failed to load token",
            &Err("Permission denied (os error 13)".into()),
        ) else {
            panic!("an unreadable asset tag: unknown");
        };
        assert!(
            why.ends_with("could not be read (Permission denied (os error 13))"),
            "{why}"
        );
    }

    /// DescribeVpcs of `vpc-0bastion` naming account 111122223333 its owner.
    fn bastion_vpc_owned_by_111122223333() -> aws_smithy_mocks::Rule {
        use aws_sdk_ec2::operation::describe_vpcs::DescribeVpcsOutput;
        aws_smithy_mocks::mock!(aws_sdk_ec2::Client::describe_vpcs)
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
            })
    }

    fn describe_instances_error(code: &'static str) -> aws_smithy_mocks::Rule {
        use aws_sdk_ec2::operation::describe_instances::DescribeInstancesError;
        aws_smithy_mocks::mock!(aws_sdk_ec2::Client::describe_instances).then_error(move || {
            DescribeInstancesError::generic(
                aws_sdk_ec2::error::ErrorMetadata::builder()
                    .code(code)
                    .message("as AWS answers")
                    .build(),
            )
        })
    }

    /// Why `instance` is not found when us-east-1 and eu-west-1 answer by these rules.
    async fn unknown_when(
        instance: &UnreadInstance,
        [east, west]: [&aws_smithy_mocks::Rule; 2],
    ) -> String {
        let regions = [in_region("us-east-1", east), in_region("eu-west-1", west)];
        find_instance(instance, &regions)
            .await
            .expect_err("not found is not a location")
    }

    fn in_region(region: &str, rule: &aws_smithy_mocks::Rule) -> std::sync::Arc<RegionCtx> {
        use aws_smithy_mocks::{RuleMode, mock_client};
        let ec2 = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[rule]);
        std::sync::Arc::new(RegionCtx::with_ec2(region, ec2))
    }

    /// DescribeInstances answers `InvalidInstanceID.NotFound` in a region that does not hold the
    /// instance (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>), and
    /// the reservation (owner) with the instance and its interfaces in the one that does: the instance
    /// is located by its primary interface (device index 0), not by another it has.
    #[tokio::test]
    async fn mocked_an_instance_known_by_its_asset_tag_is_found_in_the_region_holding_it() {
        use aws_sdk_ec2::operation::describe_instances::DescribeInstancesOutput;
        use aws_sdk_ec2::types::{
            GroupIdentifier, Instance, InstanceNetworkInterface,
            InstanceNetworkInterfaceAttachment, Reservation,
        };
        let interface = |(card, device): (i32, i32), vpc: &str, subnet: &str, groups: &[&str]| {
            let mut built = InstanceNetworkInterface::builder()
                .vpc_id(vpc)
                .subnet_id(subnet)
                .attachment(
                    InstanceNetworkInterfaceAttachment::builder()
                        .network_card_index(card)
                        .device_index(device)
                        .build(),
                );
            for group in groups {
                built = built.groups(GroupIdentifier::builder().group_id(*group).build());
            }
            built.build()
        };
        let held = aws_smithy_mocks::mock!(aws_sdk_ec2::Client::describe_instances)
            .match_requests(|req| req.instance_ids() == ["i-0123456789abcdef0"])
            .then_output(move || {
                DescribeInstancesOutput::builder()
                    .reservations(
                        Reservation::builder()
                            .owner_id("111122223333")
                            .instances(
                                Instance::builder()
                                    .instance_id("i-0123456789abcdef0")
                                    .vpc_id("vpc-0bastion")
                                    .subnet_id("subnet-0bastion")
                                    // The second card's first interface, then the first
                                    // card's second: neither is the primary.
                                    .network_interfaces(interface(
                                        (1, 0),
                                        "vpc-0bastion",
                                        "subnet-0card1",
                                        &["sg-0card1"],
                                    ))
                                    .network_interfaces(interface(
                                        (0, 1),
                                        "vpc-0bastion",
                                        "subnet-0second",
                                        &["sg-0second"],
                                    ))
                                    .network_interfaces(interface(
                                        (0, 0),
                                        "vpc-0bastion",
                                        "subnet-0bastion",
                                        &["sg-0a", "sg-0b"],
                                    ))
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let missing = describe_instances_error("InvalidInstanceID.NotFound");
        let instance = UnreadInstance {
            instance_id: "i-0123456789abcdef0".into(),
            unread_because: "its metadata did not answer".into(),
        };
        let owner = bastion_vpc_owned_by_111122223333();
        // Its subnet's default route goes out by the VPC's own internet gateway.
        let table = aws_smithy_mocks::mock!(aws_sdk_ec2::Client::describe_route_tables)
            .then_output(|| {
                aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput::builder()
                    .route_tables(
                        aws_sdk_ec2::types::RouteTable::builder()
                            .routes(
                                aws_sdk_ec2::types::Route::builder()
                                    .destination_cidr_block("0.0.0.0/0")
                                    .gateway_id("igw-0bastion")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        use aws_smithy_mocks::{RuleMode, mock_client};
        let session = AwsSession::with_regions(
            "us-east-1",
            vec![
                RegionCtx::with_ec2(
                    "us-east-1",
                    mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&missing]),
                ),
                RegionCtx::with_ec2(
                    "eu-west-1",
                    mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&held, &owner, &table]),
                ),
            ],
        );
        let found = Runner::Unread(instance.clone())
            .location_in(
                "111122223333",
                &session,
                &["us-east-1".into(), "eu-west-1".into()],
            )
            .await
            .unwrap()
            .expect("located");
        assert_eq!(found.vpc_owner, VpcOwner::Account("111122223333".into()));
        assert_eq!(found.way_out, WayOut::OwnVpc);
        // With no region to judge a cut in (a plan of IAM cuts alone), no cut can be on its path:
        // nothing is asked, and nothing warned of; nor for a task in a region of none of the cuts.
        assert_eq!(
            Runner::Unread(instance.clone())
                .location_in("111122223333", &session, &[])
                .await,
            Ok(None)
        );
        let task = Runner::Task(ecs::EcsTask {
            arn: "arn:aws:ecs:ap-south-1:111122223333:task/default/0123".into(),
            account: "111122223333".into(),
            region: "ap-south-1".into(),
            mac: "0a:1b:2c:3d:4e:5f".into(),
        });
        assert_eq!(
            task.location_in(
                "111122223333",
                &session,
                &["us-east-1".into(), "eu-west-1".into()]
            )
            .await,
            Ok(None)
        );
        assert_eq!(
            (
                found.host.as_str(),
                found.account.as_str(),
                found.region.as_str(),
                found.vpc_id.as_str(),
                found.subnet_id.as_str(),
            ),
            (
                "EC2 instance i-0123456789abcdef0",
                "111122223333",
                "eu-west-1",
                "vpc-0bastion",
                "subnet-0bastion"
            )
        );
        assert_eq!(found.security_groups, ["sg-0a", "sg-0b"]);
        assert!(found.source.contains("DMI asset tag"), "{}", found.source);

        // Held by no region searched: still unknown, saying where it was looked for.
        let why = unknown_when(&instance, [&missing, &missing]).await;
        assert!(
            why.starts_with("its metadata did not answer, and it could not be found by the instance ID in its DMI asset tag: EC2 does not know i-0123456789abcdef0 in us-east-1, eu-west-1"),
            "{why}"
        );
        // A region that refuses the read may hold it: unknown, naming the refusal.
        let refused = describe_instances_error("UnauthorizedOperation");
        let why = unknown_when(&instance, [&refused, &missing]).await;
        assert!(
            why.contains("EC2 could not be asked for i-0123456789abcdef0 in us-east-1:")
                && why.contains("UnauthorizedOperation"),
            "{why}"
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
