//! The account switches that make AWS refuse a new public share, as `sharing_revoke` needs them. While one
//! is on, a share with `all` that exists stays and a new one is refused: EBS snapshots while block public
//! access for snapshots is `block-new-sharing` or `block-all-sharing` ("users can no longer request
//! public sharing",
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSnapshotBlockPublicAccess.html>),
//! AMIs while block public access for AMIs is `block-new-sharing` ("This will block any attempt to
//! publicly share your AMIs",
//! <https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableImageBlockPublicAccess.html>), and
//! SSM documents while the service setting `/ssm/documents/console/public-sharing-permission` is `Disable`
//! (<https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-ssm-sharing.html>). RDS
//! snapshots have no such switch.
//!
//! So the public share a cut removes cannot be given back while the switch is on. A switch this plan turns
//! on is lifted by restore before `sharing_revoke`'s undo runs; one that was on before the plan (its own
//! kind then proposes nothing) stays. The plan says so in the cut's reason ([`Block::plan_note`]); restore,
//! refused, says which switch and how to lift it ([`Block::refusal`]).
//!
//! The switches are read by the code of their own kinds: for the plan, the one answer per run those kinds
//! read too; for restore, live.

use super::ResourceType;
use crate::aws::RegionCtx;
use crate::services::ServiceError;
use crate::services::sharing::{
    image_block_public_access, snapshot_block_public_access, ssm_public_sharing,
};

/// A switch that refuses new public shares of one resource type, and how it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// The resource type has no such switch (RDS snapshots), or it is off.
    Off,
    /// On: AWS refuses to make the resource public. `state` is the switch's value.
    On { switch: Switch, state: String },
    /// Could not be read: why.
    Unread { switch: Switch, why: String },
}

/// One of the three switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    Snapshots,
    Images,
    SsmDocuments,
}

impl Switch {
    /// The switch of a resource type, if it has one.
    pub fn of(resource_type: ResourceType) -> Option<Switch> {
        match resource_type {
            ResourceType::EbsSnapshot => Some(Switch::Snapshots),
            ResourceType::Image => Some(Switch::Images),
            ResourceType::SsmDocument => Some(Switch::SsmDocuments),
            ResourceType::DbSnapshot | ResourceType::DbClusterSnapshot => None,
        }
    }

    fn described(self) -> &'static str {
        match self {
            Switch::Snapshots => "block public access for EBS snapshots",
            Switch::Images => "block public access for AMIs",
            Switch::SsmDocuments => {
                "block public sharing for SSM documents (service setting /ssm/documents/console/public-sharing-permission)"
            }
        }
    }

    /// The command that turns the switch off in `region`.
    fn lifted_by(self, region: &str) -> String {
        match self {
            Switch::Snapshots => {
                format!("aws ec2 disable-snapshot-block-public-access --region {region}")
            }
            Switch::Images => format!(
                "aws ec2 disable-image-block-public-access --region {region}; AWS takes up to 10 minutes to apply it"
            ),
            Switch::SsmDocuments => format!(
                "aws ssm update-service-setting --setting-id {} --setting-value Enable --region {region}",
                ssm_public_sharing::SETTING_ID
            ),
        }
    }
}

impl Block {
    fn from_reading(switch: Switch, reading: Result<(String, bool), ServiceError>) -> Block {
        match reading {
            Ok((state, true)) => Block::On { switch, state },
            Ok((_, false)) => Block::Off,
            Err(err) => Block::Unread {
                switch,
                why: err.to_string(),
            },
        }
    }

    /// The switch of `resource_type` as the plan reads it: the answer its own kind read in this run.
    pub async fn for_plan(ctx: &RegionCtx, resource_type: ResourceType, account: &str) -> Block {
        let Some(switch) = Switch::of(resource_type) else {
            return Block::Off;
        };
        let reading = match switch {
            Switch::Snapshots => snapshot_block_public_access::read_for_plan(ctx, account)
                .await
                .map(|s| {
                    let on = snapshot_block_public_access::blocks_new_public_sharing(&s.state);
                    (s.state, on)
                }),
            Switch::Images => image_block_public_access::read_for_plan(ctx, account)
                .await
                .map(|s| {
                    let on = image_block_public_access::blocks_new_public_sharing(&s.state);
                    (s.state, on)
                }),
            Switch::SsmDocuments => ssm_reading(ssm_public_sharing::read_for_plan(ctx).await),
        };
        Block::from_reading(switch, reading)
    }

    /// The switch of `resource_type` as it is now, for restore.
    pub async fn now(ctx: &RegionCtx, resource_type: ResourceType) -> Block {
        let Some(switch) = Switch::of(resource_type) else {
            return Block::Off;
        };
        let reading = match switch {
            Switch::Snapshots => snapshot_block_public_access::state_now(ctx).await.map(|s| {
                let on = snapshot_block_public_access::blocks_new_public_sharing(&s);
                (s, on)
            }),
            Switch::Images => image_block_public_access::state_now(ctx).await.map(|s| {
                let on = image_block_public_access::blocks_new_public_sharing(&s);
                (s, on)
            }),
            Switch::SsmDocuments => ssm_reading(ssm_public_sharing::read(ctx).await),
        };
        Block::from_reading(switch, reading)
    }

    /// What the reason of a cut that removes a public share says about giving it back, when this switch
    /// is on (or could not be read).
    pub fn plan_note(&self, region: &str, what: &str) -> Option<String> {
        match self {
            Block::Off => None,
            Block::On { switch, state } => Some(format!(
                " The account's {} in {region} is on (`{state}`), and AWS refuses new public shares while it is: restore cannot make the {what} public again until it is off. Restore gives back every other permission the cut removes and reports the public share as refused; to give that back too, turn the block off ({}) and run restore again.",
                switch.described(),
                switch.lifted_by(region)
            )),
            Block::Unread { switch, why } => Some(format!(
                " Whether the account's {} is on in {region} could not be read ({why}): while it is on, AWS refuses new public shares, so restore could not make the {what} public again.",
                switch.described()
            )),
        }
    }

    /// AWS's refusal (`err`) to make the resource `what id` public again, explained: the switch that is
    /// on and how to lift it, when it is; the operation and AWS's code are kept.
    pub fn refusal(
        &self,
        region: &str,
        what: &str,
        id: &str,
        mut err: ServiceError,
    ) -> ServiceError {
        let why = match self {
            Block::Off => String::new(),
            Block::On { switch, state } => format!(
                ": the account's {} in {region} is on (`{state}`), and AWS refuses new public shares while it is; turn it off ({}) and run restore again",
                switch.described(),
                switch.lifted_by(region)
            ),
            Block::Unread { switch, why } => format!(
                ": if the account's {} in {region} is on (it could not be read: {why}), AWS refuses new public shares; turn it off ({}) and run restore again",
                switch.described(),
                switch.lifted_by(region)
            ),
        };
        err.message = format!(
            "{what} {id} was not made public again ({}){why}",
            err.message
        );
        err
    }
}

fn ssm_reading(
    reading: Result<ssm_public_sharing::SettingReading, ServiceError>,
) -> Result<(String, bool), ServiceError> {
    use ssm_public_sharing::SettingReading;
    match reading? {
        SettingReading::Value(value) => {
            let on = ssm_public_sharing::blocks_public_sharing(&value);
            Ok((value, on))
        }
        SettingReading::NoValue => Err(ServiceError::local(
            "ssm:GetServiceSetting",
            "AWS answered without a value",
        )),
        SettingReading::Unread(answer) => Err(ServiceError::local(
            "ssm:GetServiceSetting",
            format!("the endpoint answered {answer}"),
        )),
    }
}
