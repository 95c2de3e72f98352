//! Trust doors: the ways in that outsiders use once the network is closed. Another account, a CI
//! pipeline's identity provider or anyone named in a role's trust policy assumes a role again; a
//! resource policy lets another account read or write the data itself; Identity Center hands out fresh
//! sessions. Which principals are outside is read by [`crate::services::common::policy_principals`].

pub mod iam_trust_deny;
pub mod identity_center_session_revoke;
pub mod resource_policy_deny;

pub use iam_trust_deny::{TrustDeny, TrustFindings};
pub use identity_center_session_revoke::IdentityCenterSessionRevoke;
pub use resource_policy_deny::ResourcePolicyDeny;
