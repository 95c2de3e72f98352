//! Data shared out of the account as copies: EBS snapshots, AMIs, RDS snapshots and SSM documents made
//! public or shared with other accounts, and the regional switches that block such sharing.

pub mod sharing_revoke;
pub mod ssm_public_sharing;

pub use sharing_revoke::SharingRevoke;
pub use ssm_public_sharing::SsmPublicSharing;
