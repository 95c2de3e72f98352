//! Data stores the internet can reach directly: S3 through public access, RDS through public endpoints,
//! and ECR Public repositories anyone can pull from.

pub mod ecr_public_delete;
pub mod rds_public_off;
pub mod s3_public_access_block;

pub use ecr_public_delete::EcrPublicDelete;
pub use rds_public_off::RdsPublicOff;
pub use s3_public_access_block::S3PublicAccessBlock;
