//! Data shared out of the account as copies: EBS snapshots, AMIs, RDS snapshots and SSM documents made
//! public or shared with other accounts, and the regional switches that block such sharing.

pub mod account_switch;
pub mod image_block_public_access;
pub mod snapshot_block_public_access;

pub use image_block_public_access::ImageBlockPublicAccess;
pub use snapshot_block_public_access::SnapshotBlockPublicAccess;

pub mod sharing_revoke;
pub mod ssm_public_sharing;

pub use sharing_revoke::SharingRevoke;
pub use ssm_public_sharing::SsmPublicSharing;
