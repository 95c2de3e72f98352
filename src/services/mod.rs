//! Kinds of cut, grouped by the door they close. This is the only layer where `aws_sdk_*` types appear;
//! SDK errors become [`ServiceError`] at this boundary and never leak upward.
//!
//! | door | folder | kinds |
//! |---|---|---|
//! | the record of the incident, kept before anything is cut | [`evidence`] | `evidence_trail_on`, `evidence_flow_logs`, `evidence_snapshots` |
//! | whole member accounts, from the organization's management account | [`organization`] | `org_quarantine`, `org_resource_perimeter` |
//! | the network's paths out | [`network`] | `vpc_block_public_access`, `nacl_deny`, `route_remove`, `igw_detach`, `vgw_detach`, `sg_revoke`, `vpce_policy_deny`, `vpce_delete` |
//! | stolen keys and sessions | [`identity`] | `iam_key_deactivate`, `iam_ssh_key_deactivate`, `iam_service_credential_deactivate` (one file: `iam_credential_deactivate`), `iam_session_revoke` |
//! | mail | [`mail`] | `ses_sending_pause`, `ses_send_deny`, `ses_identity_policy_remove` |
//! | data stores reachable from the internet | [`storage`] | `s3_public_access_block`, `rds_public_off`, `ecr_public_delete` |
//! | data shared out as copies | [`sharing`] | `sharing_revoke`, `snapshot_block_public_access`, `image_block_public_access` |
//! | code the internet can call | [`serverless`] | `lambda_throttle`, `lambda_url_restrict`, `lambda_permission_remove`, `apigw_deny_policy`, `apigw_stage_throttle` |
//! | the content delivery edge | [`edge`] | `cloudfront_disable`, `cloudfront_maintenance` |
//! | outsiders and Identity Center coming in | [`trust`] | `iam_trust_deny`, `resource_policy_deny`, `identity_center_session_revoke` |
//!
//! A kind's file is named after the kind (`network/igw_detach/`, `mail/ses_send_deny.rs`). Findings that
//! change nothing live in [`findings`]; helpers no door owns in [`common`]. The seam itself is in [`kind`],
//! the list of kinds and their order in [`registry`].
//!
//! # Adding a kind
//! 1. One file in its door's folder, named after the kind, implementing [`CutKind`]: a `State` type for
//!    `before`/`after` and an `Undo` type for the rollback file (serde-derived, `deny_unknown_fields`),
//!    discovery that proposes a cut or reports a finding for everything it cannot classify, the cut, the
//!    exact undo (conflicts with later changes reported, never overwritten), and `check_states`.
//! 2. One line in [`registry::Registry::standard`], at the place its apply order needs.
//! 3. Unit tests beside it (`mod tests`, inline or in `<kind>/tests.rs`), with `aws-smithy-mocks` for
//!    every documented AWS answer the emulator does not give.
//! 4. An emulator round trip in `tests/it/` (plan → apply → restore, full state compared), a "changed
//!    after the cut" conflict test and crash coverage.
//! 5. A README section, a place in the seeded account (`examples/leaky_account`), and an entry in
//!    `plans/example.yaml`. The registry's `every_kind_is_tested_documented_and_exemplified` test fails
//!    until 4 and 5 are done.

pub mod common;
pub mod edge;
pub mod evidence;
pub mod findings;
pub mod identity;
pub mod kind;
pub mod mail;
pub mod network;
pub mod organization;
pub mod registry;
pub mod serverless;
pub mod sharing;
pub mod storage;
pub mod trust;

pub use crate::service_error::ServiceError;
pub use common::gather;
pub use kind::{
    Containment, CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, PermissionCheck, Phase,
    PlanOption, PlanOptions, Proposal, ProposedCut, RestoreGate, TypedCut, UndoOutcome,
};
pub use registry::{Registry, registry};
