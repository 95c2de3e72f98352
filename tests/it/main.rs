//! The one integration-test binary (one link of the AWS SDK crates instead of one per file).
//!
//! - `account`: the whole leaky account, every kind at once, in two regions.
//! - `cli`: the command-line contract, without AWS.
//! - `crash`: apply and restore killed with SIGKILL at both ends of every kind's calls, then restore gives
//!   the account back.
//! - `security_groups`: `sg_revoke` plan → apply → restore on the emulator.
//! - `network`: `nacl_deny` and `route_remove` on the emulator.
//! - `database`: `rds_public_off` on the emulator.
//! - `recovery`: locks and resumed runs.
//! - `forgery`: edited, forged, planted and foreign rollback files are refused before anything changes.
//! - `profile`: an explicit `--profile` signs instead of the environment's keys; unknown profiles refused.
//! - `observability`: JSON events, --stats, the incident report.
//! - `api_gateway`: the API Gateway kinds on the emulator.
//! - `cloudfront`: the CloudFront kinds on the emulator.
//! - `lambda`: the Lambda kinds on the emulator.
//! - `mail`: the SES kinds (`ses_sending_pause` against our model of SES's account API), the account S3
//!   block and the findings their seed triggers, on the emulator.
//! - `identity`: the IAM key, SSH key, service-specific credential (against our model of that API) and
//!   session cuts and the identity findings on the emulator.
//! - `identity_center`: `identity_center_session_revoke` on the emulator.
//! - `registry`: every registered kind has an emulator test, a README section and an example-plan entry, is
//!   killed by a crash test, and has a "changed after the cut" test (or the reason it cannot).
//! - `gateways`: `igw_detach`, `vgw_detach` (with route propagation, against our model of it),
//!   `vpce_policy_deny` and `vpce_delete` on the emulator, and `apply --check`'s dry runs of the network cuts.
//! - `yaml_tools`: a plan edited with PyYAML (one cut switched off, dumped again) applies and restores.
//! - `steer`: `--kinds`, `--exclude-kinds`, `--target`, `apply --skip-drifted`, `restore --dry-run`.
//! - `hostile_names`: names carrying terminal control sequences are shown escaped by every command.
//! - `trust`: `iam_trust_deny` and the trust findings on the emulator.
//! - `resource_policies`: `resource_policy_deny` on buckets, queues, topics, keys, secrets and repositories.
//! - `block_public_access`: `vpc_block_public_access`, `snapshot_block_public_access` and
//!   `image_block_public_access` on the emulator (its model of those operations).
//! - `organization_policies`: `org_quarantine` and `org_resource_perimeter` on an emulated organization.
//! - `sharing`: `sharing_revoke` (snapshots, AMIs, RDS snapshots, SSM documents) on the emulator.
//! - `evidence`: the evidence phase (`evidence_trail_on`, `evidence_flow_logs`, `evidence_snapshots`).
//! - `verify`: `hikkonuki verify` on real rollback files (the emulator lacks Reachability Analyzer).
//! - `runner`: apply run on an instance inside a VPC it seals leaves out the cuts on its own way out.
//! - `evidence_snapshots`: `plan --no-evidence-snapshots`, and the snapshots' IDs and progress in `show` /
//!   `show --live`.

mod account;
mod api_gateway;
mod block_public_access;
mod cli;
mod cloudfront;
mod crash;
mod database;
mod emulator;
mod evidence;
mod evidence_snapshots;
mod forgery;
mod gateways;
mod hostile_names;
mod identity;
mod identity_center;
mod lambda;
#[path = "../../examples/leaky_account/mod.rs"]
mod leaky_account;
mod mail;
mod network;
mod observability;
mod organization;
mod organization_policies;
mod profile;
mod recovery;
mod registry;
mod resource_policies;
mod runner;
mod security_groups;
mod sharing;
mod snapshot;
mod steer;
mod trust;
mod verify;
mod watch;
mod yaml_tools;
