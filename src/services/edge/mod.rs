//! The content delivery edge: CloudFront distributions serve the account's origins from AWS's edge,
//! outside every VPC cut.

pub mod cloudfront;
