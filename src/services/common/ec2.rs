//! Small pieces of EC2's API that kinds and the runner's own-path read share.

use aws_sdk_ec2::types::{Filter, TransitGatewayAttachmentState};

/// A filter of one name and one value, as EC2's Describe calls take them.
pub fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// The IDs of `groups`, as EC2 names the security groups of an interface.
pub fn group_ids(groups: &[aws_sdk_ec2::types::GroupIdentifier]) -> Vec<String> {
    groups
        .iter()
        .filter_map(|group| group.group_id().map(str::to_string))
        .collect()
}

/// Whether a transit gateway attachment in `state` carries traffic: every state but those of one being
/// or already deleted, or never accepted
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TransitGatewayAttachment.html>).
pub fn attachment_carries_traffic(state: Option<&TransitGatewayAttachmentState>) -> bool {
    use TransitGatewayAttachmentState as State;
    !matches!(
        state,
        Some(State::Deleted | State::Deleting | State::Rejected | State::Failed)
    )
}
