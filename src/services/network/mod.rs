//! The network's paths out: what lets traffic leave or enter a VPC. The sealing kinds
//! (`vpc_block_public_access`, AWS's own region-wide switch, first; then `nacl_deny`, `route_remove`,
//! `igw_detach`, `vgw_detach`) close whole paths and run first; `sg_revoke` and the VPC
//! endpoint kinds close what remains resource by resource. [`reachability`] is no kind: it asks VPC
//! Reachability Analyzer, for `hikkonuki verify`, whether the internet still reaches the instances.

pub mod gateway_attachment;
pub mod igw_detach;
pub mod nacl_deny;
pub mod prefix_lists;
pub mod reachability;
pub mod route_remove;
pub mod sg_revoke;
#[cfg(test)]
pub mod slow_ec2;
pub mod vgw_detach;
pub mod vpc;
pub mod vpc_block_public_access;
pub mod vpc_endpoint;
pub mod ways_in;

pub use igw_detach::InternetGatewayDetach;
pub use nacl_deny::NetworkAclDeny;
pub use route_remove::RouteRemove;
pub use sg_revoke::SecurityGroupRevoke;
pub use vgw_detach::VpnGatewayDetach;
pub use vpc_block_public_access::VpcBlockPublicAccess;
pub use vpc_endpoint::{VpcEndpointDelete, VpcEndpointPolicyDeny};
