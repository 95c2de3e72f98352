//! Where hikkonuki itself runs, when that is an EC2 instance: its account, region, VPC, subnet and
//! security groups, read from the instance metadata service (IMDSv2). Run on an instance (a bastion,
//! CloudShell's VPC environment is not an instance and is not detected), its calls to AWS leave through
//! its subnet's network ACL, its route table, its VPC's internet gateway and its own security groups: the
//! seal closes that path, and the run would cut itself off midway, every later cut left undone and no
//! restore possible from there. Apply leaves such cuts out ([`crate::engine::apply`]).
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

/// Where the instance hikkonuki runs on sits, as its primary network interface says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerLocation {
    pub instance_id: String,
    pub account: String,
    pub region: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// The security groups of its primary network interface.
    pub security_groups: Vec<String>,
}

/// How long the metadata service may take: it answers an instance within milliseconds.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Where hikkonuki runs: `Ok(None)` where the machine is no EC2 instance (or the service is turned
/// off), `Ok(Some(_))` on an instance whose metadata service answered, and `Err` with why on one whose
/// service did not answer all of it (out of reach, as from a container whose hop limit stops the token,
/// or failing midway): then where it runs is unknown, and the caller says so rather than take it for
/// outside every VPC.
///
/// Read once per process: where the machine sits does not change during a run, and apply asks it for
/// every account of a run over an organization, `watch` for every re-cut. A read that failed is not
/// kept: the next one asks again.
pub async fn locate() -> Result<Option<RunnerLocation>, String> {
    static LOCATION: tokio::sync::OnceCell<Option<RunnerLocation>> =
        tokio::sync::OnceCell::const_new();
    LOCATION.get_or_try_init(read_once).await.cloned()
}

async fn read_once() -> Result<Option<RunnerLocation>, String> {
    let env = |name: &str| std::env::var(name).ok();
    if !worth_asking(&env, looks_like_ec2) {
        return Ok(None);
    }
    let imds = Imds::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .max_attempts(1)
        .build();
    read_location(&imds)
        .await
        .map(Some)
        .map_err(|err| err.to_string())
}

/// What apply and `watch --recut` say when [`locate`] could not read where they run.
pub fn unknown_location_warning(why: &str) -> String {
    format!(
        "this machine looks like an EC2 instance, but where it sits could not be read from its instance metadata ({why}): if it runs inside a VPC this plan seals, the seal cuts this run off midway, every later cut left undone and no restore possible from here. Stop now and run from outside it (or from where the metadata answers); AWS_EC2_METADATA_DISABLED=true says it runs on no instance"
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
        instance_id,
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
