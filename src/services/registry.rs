//! The registry: every kind of cut and every inspection this hikkonuki knows, and the order they run in.

use crate::plan::{Cut, KindCatalog, KindFacts};
use crate::services::kind::{Containment, Inspection, Phase, PlanOption, RestoreGate};
use crate::services::{
    common, edge, evidence, findings, identity, mail, network, organization, serverless, sharing,
    storage, trust,
};

/// Every kind this hikkonuki knows, and every inspection.
///
/// # Order
/// The list in [`Registry::standard`] is the declared order of the kinds, and it means two things:
/// - **apply and plan**: kinds run phase by phase ([`crate::services::Phase`]: the evidence kinds first, so
///   the cuts are on record, then sealing kinds, so the account is closed as early as possible); within a
///   phase, plans list cuts in this order;
/// - **restore**: the reverse, phase by phase (per-resource cuts first, then the sealing kinds from last to
///   first), because an undo may need another kind's undo to have happened: a gateway must be attached
///   again (`igw_detach`, `vgw_detach`) before routes to it are re-created (`route_remove`), and the
///   network ACL entries (`nacl_deny`) go last of the per-VPC cuts, once every path behind them is back;
///   VPC Block Public Access (`vpc_block_public_access`), which seals the whole region, is lifted after all.
///   That order binds kinds of one footprint ([`crate::services::Footprint`]); within a phase, kinds of
///   different footprints write nothing in common and are undone side by side.
///
/// [`Registry::restore_rank`] is that order as a sort key and [`Registry::restored_before`] what it binds;
/// the tests below hold the dependencies.
pub struct Registry {
    kinds: Vec<Box<dyn Containment>>,
    inspections: Vec<Box<dyn Inspection>>,
}

impl Registry {
    pub fn standard() -> Registry {
        Registry {
            kinds: vec![
                // Organization policies close whole member accounts in one call each: first, lifted last.
                // The quarantine before the perimeter: it binds the account's own principals, which
                // matter most while the perimeter's RCP type may still be being enabled.
                Box::new(organization::OrgQuarantine),
                Box::new(organization::OrgResourcePerimeter),
                // AWS's own switch seals a whole region in one call: first, and lifted last.
                Box::new(network::VpcBlockPublicAccess),
                Box::new(network::NetworkAclDeny),
                Box::new(network::RouteRemove),
                Box::new(network::InternetGatewayDetach),
                Box::new(network::VpnGatewayDetach),
                Box::new(network::SecurityGroupRevoke),
                Box::new(network::VpcEndpointPolicyDeny),
                Box::new(network::VpcEndpointDelete),
                Box::new(storage::RdsPublicOff),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::AccessKey,
                )),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::SshPublicKey,
                )),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::ServiceSpecific,
                )),
                // Before the session revocation: its cut-off is taken when it runs, so an outsider cannot
                // assume a role afresh between the revocation and the trust deny. Restore reopens the
                // trust only after the revocation is lifted or kept.
                Box::new(trust::TrustDeny),
                Box::new(identity::SessionRevoke),
                // Identity Center's roles are the ones iam_session_revoke cannot write to; the same gate.
                Box::new(trust::IdentityCenterSessionRevoke),
                Box::new(mail::ses_sending_pause::SesSendingPause),
                Box::new(mail::ses_send_deny::SesSendDeny),
                Box::new(mail::ses_identity_policy_remove::SesIdentityPolicyRemove),
                Box::new(storage::S3PublicAccessBlock),
                // Before the switches, so restore lifts them first: while a block is on, AWS refuses to
                // make a snapshot or AMI public, which sharing_revoke's undo does.
                Box::new(sharing::SharingRevoke),
                Box::new(sharing::SnapshotBlockPublicAccess),
                Box::new(sharing::ImageBlockPublicAccess),
                Box::new(storage::EcrPublicDelete),
                Box::new(trust::ResourcePolicyDeny),
                Box::new(serverless::lambda::LambdaThrottle),
                Box::new(serverless::lambda::LambdaUrlRestrict),
                Box::new(serverless::lambda::LambdaPermissionRemove),
                // Throttling first: UpdateStage takes effect at once, while each deny policy waits for
                // a deployment, one per 5 s per account (see `apigw_deny_policy`).
                Box::new(serverless::api_gateway::ApiGatewayStageThrottle),
                Box::new(serverless::api_gateway::ApiGatewayDenyPolicy),
                Box::new(edge::cloudfront::CloudFrontDisable),
                Box::new(edge::cloudfront::CloudFrontMaintenance),
                // The evidence phase runs before every other (Phase::Evidence) and is restored after
                // every other, wherever it is listed. The trail first: it records the rest.
                Box::new(evidence::EvidenceTrailOn),
                Box::new(evidence::EvidenceFlowLogs),
                Box::new(evidence::EvidenceSnapshots),
            ],
            inspections: vec![
                Box::new(mail::ses_sending_pause::SesSendingPause),
                Box::new(storage::EcrPublicDelete),
                Box::new(network::vpc_endpoint::PolicyIgnored),
                Box::new(storage::rds_public_off::MultiAzClusterPublic),
                Box::new(findings::cloudtrail_not_logging::CloudTrailNotLogging),
                Box::new(findings::codecommit_repositories::CodeCommitRepositories),
                Box::new(findings::route53_public_records::Route53PublicRecords),
                Box::new(findings::sns_subscriptions::SnsSubscriptionsOutside),
                Box::new(findings::dns_way_out::DnsWayOut),
                Box::new(findings::identity::RootWithoutMfa),
                Box::new(findings::identity::ExposedAccessKeys),
                Box::new(findings::identity::IdentityCenter),
                Box::new(findings::identity::CallerKept),
                Box::new(findings::identity::ProtectedRoles),
                Box::new(findings::identity::ConsolePasswords),
                Box::new(trust::TrustFindings),
                Box::new(trust::ResourcePolicyDeny),
                Box::new(identity::CredentialDeactivate(
                    identity::CredentialType::ServiceSpecific,
                )),
                Box::new(serverless::api_gateway::ApiGatewayDenyPolicy),
                Box::new(sharing::SharingRevoke),
                Box::new(sharing::SsmPublicSharing),
                Box::new(evidence::EvidenceFlowLogs),
                // What discovery could not classify (issue 11): once regional, once global.
                Box::new(common::unclassified::Unclassified { global: false }),
                Box::new(common::unclassified::Unclassified { global: true }),
            ],
        }
    }

    /// A registry of the given kinds and no inspections, in this order: for tests of the engine with
    /// kinds of their own.
    pub fn of_kinds(kinds: Vec<Box<dyn Containment>>) -> Registry {
        Registry {
            kinds,
            inspections: Vec::new(),
        }
    }

    pub fn get(&self, kind: &str) -> Option<&dyn Containment> {
        self.kinds
            .iter()
            .find(|k| k.info().name == kind)
            .map(|k| k.as_ref())
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn Containment> {
        self.kinds.iter().map(|k| k.as_ref())
    }

    pub fn inspections(&self) -> impl Iterator<Item = &dyn Inspection> {
        self.inspections.iter().map(|i| i.as_ref())
    }

    /// Position in the declared order (see [`Registry`]); unknown kinds last.
    fn position(&self, kind: &str) -> usize {
        self.kinds
            .iter()
            .position(|k| k.info().name == kind)
            .unwrap_or(self.kinds.len())
    }

    /// Sort key for restore: smaller undoes first. Per-resource kinds before sealing kinds, and within a
    /// phase the reverse of the declared order, except that a kind that cuts after others
    /// ([`Containment::cuts_after`]) is lifted just before the latest of them, wherever it is declared.
    /// Every kind has a rank of its own.
    pub fn restore_rank(&self, kind: &str) -> (std::cmp::Reverse<Phase>, std::cmp::Reverse<usize>) {
        let found = self.get(kind);
        let phase = found.map(|k| k.info().phase).unwrap_or(Phase::PerResource);
        // Declared positions doubled, so a kind placed just after another takes the odd slot between it
        // and the next one.
        let own = 2 * self.position(kind);
        let after = found
            .into_iter()
            .flat_map(|k| k.cuts_after())
            .map(|earlier| 2 * self.position(earlier) + 1)
            .max()
            .unwrap_or(0);
        (std::cmp::Reverse(phase), std::cmp::Reverse(own.max(after)))
    }

    /// Whether restore has finished undoing `first`'s cuts before it starts on `then`'s: `first` is of an
    /// earlier phase in restore's order, or of the same phase and footprint
    /// ([`crate::services::Footprint`]) and ranked before it ([`Registry::restore_rank`]). Kinds of one
    /// phase and different footprints are undone side by side (`--parallelism 1` aside).
    pub fn restored_before(&self, first: &str, then: &str) -> bool {
        let phase = |kind: &str| self.get(kind).map(|k| k.info().phase);
        let footprint = |kind: &str| self.get(kind).map(|k| k.info().footprint);
        let (first_rank, then_rank) = (self.restore_rank(first), self.restore_rank(then));
        if phase(first) != phase(then) {
            return first_rank.0 < then_rank.0;
        }
        footprint(first) == footprint(then) && first_rank < then_rank
    }

    /// Every plan option the kinds declare, once each (kinds may share one), in declared order.
    pub fn plan_options(&self) -> Vec<PlanOption> {
        let mut options: Vec<PlanOption> = Vec::new();
        for option in self.kinds.iter().flat_map(|k| k.plan_options()) {
            if !options.iter().any(|o| o.flag == option.flag) {
                options.push(*option);
            }
        }
        options
    }

    /// Every restore gate the kinds declare, once each, in declared order.
    pub fn restore_gates(&self) -> Vec<RestoreGate> {
        let mut gates: Vec<RestoreGate> = Vec::new();
        for gate in self.kinds.iter().filter_map(|k| k.restore_gate()) {
            if !gates.iter().any(|g| g.flag == gate.flag) {
                gates.push(gate);
            }
        }
        gates
    }
}

/// The standard registry.
pub fn registry() -> Registry {
    Registry::standard()
}

impl KindCatalog for Registry {
    fn lookup(&self, kind: &str) -> Option<KindFacts> {
        self.get(kind).map(|k| KindFacts {
            reversible: k.info().reversible,
            global: k.info().global,
        })
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        match self.get(&cut.kind) {
            Some(kind) => kind.check_states(cut),
            None => Err(format!("unknown kind `{}`", cut.kind)),
        }
    }

    fn kind_names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.info().name).collect()
    }

    fn vpcs_of(&self, cut: &Cut) -> Vec<String> {
        self.get(&cut.kind)
            .map(|kind| kind.vpcs(cut))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::Footprint;

    fn undone_before(registry: &Registry, first: &str, then: &str) -> bool {
        registry.restored_before(first, then)
    }

    /// The evidence kinds come before everything in apply and after everything in restore; the order
    /// tests below are about the cuts between them.
    fn is_evidence(registry: &Registry, kind: &str) -> bool {
        registry
            .get(kind)
            .is_some_and(|k| k.info().phase == Phase::Evidence)
    }

    #[test]
    fn evidence_is_applied_before_every_cut_and_restored_after_every_cut() {
        let registry = Registry::standard();
        let evidence: Vec<&str> = registry
            .all()
            .map(|k| k.info().name)
            .filter(|kind| is_evidence(&registry, kind))
            .collect();
        assert_eq!(
            evidence,
            [
                "evidence_trail_on",
                "evidence_flow_logs",
                "evidence_snapshots"
            ]
        );
        for kind in registry.all().map(|k| k.info().name) {
            if !is_evidence(&registry, kind) {
                for first in &evidence {
                    assert!(
                        undone_before(&registry, kind, first),
                        "{kind} before {first}"
                    );
                }
            }
        }
        // The trail records the other evidence cuts: applied first within the phase, restored last.
        assert!(undone_before(
            &registry,
            "evidence_flow_logs",
            "evidence_trail_on"
        ));
        assert!(Phase::Evidence < Phase::Organization);
    }

    #[test]
    fn restore_reattaches_gateways_before_it_recreates_routes_and_opens_network_acls_last() {
        let registry = Registry::standard();
        assert!(undone_before(&registry, "igw_detach", "route_remove"));
        assert!(undone_before(&registry, "vgw_detach", "route_remove"));
        for kind in registry.all().map(|k| k.info().name) {
            if ![
                "nacl_deny",
                "vpc_block_public_access",
                "org_quarantine",
                "org_resource_perimeter",
            ]
            .contains(&kind)
                && !is_evidence(&registry, kind)
            {
                assert!(undone_before(&registry, kind, "nacl_deny"), "{kind}");
            }
        }
    }

    /// The region-wide block is the first cut applied within an account and the last lifted: every other
    /// path of the account is back before the region opens again. Only the organization's policies, which
    /// close whole accounts from outside them, come before it and are lifted after it.
    #[test]
    fn vpc_block_public_access_seals_first_and_is_lifted_last() {
        let registry = Registry::standard();
        assert_eq!(
            registry
                .all()
                .find(|k| k.info().phase != Phase::Organization)
                .map(|k| k.info().name),
            Some("vpc_block_public_access")
        );
        for kind in registry.all().map(|k| k.info().name) {
            if ![
                "vpc_block_public_access",
                "org_quarantine",
                "org_resource_perimeter",
            ]
            .contains(&kind)
                && !is_evidence(&registry, kind)
            {
                assert!(
                    undone_before(&registry, kind, "vpc_block_public_access"),
                    "{kind}"
                );
            }
        }
    }

    /// After you enable block public access for snapshots, "users can no longer request public sharing"
    /// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EnableSnapshotBlockPublicAccess.html>),
    /// and the AMI block stops AMIs being made public
    /// (<https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/block-public-access-to-amis.html>): restore
    /// lifts both switches before sharing_revoke makes snapshots and AMIs public again.
    #[test]
    fn the_sharing_switches_are_lifted_before_sharing_is_given_back() {
        let registry = Registry::standard();
        assert!(undone_before(
            &registry,
            "snapshot_block_public_access",
            "sharing_revoke"
        ));
        assert!(undone_before(
            &registry,
            "image_block_public_access",
            "sharing_revoke"
        ));
    }

    /// S3 Block Public Access's `BlockPublicPolicy` makes S3 "reject calls to PUT Bucket policy if the
    /// specified bucket policy allows public access"
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_PublicAccessBlockConfiguration.html>):
    /// a public bucket policy with resource_policy_deny's statement added is still public, and so is the
    /// recorded policy restore writes back. So the account block is switched on only once every
    /// resource-policy cut has been answered, and lifted before any is undone.
    #[test]
    fn the_account_s3_block_cuts_after_resource_policies_and_is_lifted_before_them() {
        let registry = Registry::standard();
        let block = registry.get("s3_public_access_block").unwrap();
        assert_eq!(block.cuts_after(), ["resource_policy_deny"]);
        assert!(undone_before(
            &registry,
            "s3_public_access_block",
            "resource_policy_deny"
        ));
    }

    /// What a kind cuts after is a kind of the same phase that waits on nothing itself, and every kind
    /// keeps a restore rank of its own.
    #[test]
    fn kinds_cut_after_known_kinds_of_their_own_phase_and_keep_distinct_ranks() {
        let registry = Registry::standard();
        for kind in registry.all() {
            for earlier in kind.cuts_after() {
                let earlier = registry
                    .get(earlier)
                    .unwrap_or_else(|| panic!("{earlier} is not a kind"));
                assert_eq!(earlier.info().phase, kind.info().phase);
                assert!(earlier.cuts_after().is_empty(), "no chains");
                assert!(undone_before(
                    &registry,
                    kind.info().name,
                    earlier.info().name
                ));
            }
        }
        let mut ranks: Vec<_> = registry
            .all()
            .map(|k| registry.restore_rank(k.info().name))
            .collect();
        ranks.sort();
        ranks.dedup();
        assert_eq!(ranks.len(), registry.all().count());
    }

    /// The organization's policies are applied before any cut in an account and lifted after every cut (only the
    /// evidence, which is not a cut, comes before them and is restored after).
    #[test]
    fn organization_policies_are_applied_first_and_lifted_last() {
        let registry = Registry::standard();
        let names: Vec<&str> = registry.all().map(|k| k.info().name).collect();
        assert_eq!(names[..2], ["org_quarantine", "org_resource_perimeter"]);
        for kind in names[2..].iter().filter(|k| !is_evidence(&registry, k)) {
            for org in ["org_quarantine", "org_resource_perimeter"] {
                assert!(undone_before(&registry, kind, org), "{kind} before {org}");
            }
        }
    }

    /// Restore undoes these kinds' cuts side by side (README, Speed); every other kind one after the
    /// other. A kind joins this list only when each cut's undo touches nothing another cut of the kind
    /// touches: two org_quarantine undos once raced over the one policy both detach.
    #[test]
    fn only_kinds_whose_cuts_each_own_their_resource_are_undone_side_by_side() {
        let registry = Registry::standard();
        let mut side_by_side: Vec<&str> = registry
            .all()
            .filter(|k| k.undoes_independently())
            .map(|k| k.info().name)
            .collect();
        side_by_side.sort_unstable();
        assert_eq!(
            side_by_side,
            [
                "iam_key_deactivate",
                "iam_service_credential_deactivate",
                "iam_session_revoke",
                "iam_ssh_key_deactivate",
                "igw_detach",
                "image_block_public_access",
                "lambda_permission_remove",
                "lambda_throttle",
                "lambda_url_restrict",
                "nacl_deny",
                "rds_public_off",
                "resource_policy_deny",
                "route_remove",
                "sg_revoke",
                "sharing_revoke",
                "snapshot_block_public_access",
                "vgw_detach",
                "vpc_block_public_access",
                "vpce_policy_deny",
            ]
        );
    }

    /// Restore undoes a phase's footprints side by side (README, Speed), so kinds whose undos need each
    /// other's, or write one resource, must share a footprint: else they would race. The phases whose
    /// order within is the point (the seal's, the organization's, the evidence's) are one footprint each.
    #[test]
    fn kinds_that_need_each_other_or_write_one_resource_share_a_footprint() {
        let registry = Registry::standard();
        let footprint = |kind: &str| {
            registry
                .get(kind)
                .unwrap_or_else(|| panic!("{kind} is not a kind"))
                .info()
                .footprint
        };
        for kind in registry.all() {
            for earlier in kind.cuts_after() {
                assert_eq!(footprint(earlier), kind.info().footprint, "{earlier}");
            }
            let of_its_phase = match kind.info().phase {
                Phase::Evidence => Some(Footprint::Evidence),
                Phase::Organization => Some(Footprint::Organization),
                Phase::Seal => Some(Footprint::VpcSeal),
                Phase::PerResource => None,
            };
            match of_its_phase {
                Some(expected) => {
                    assert_eq!(kind.info().footprint, expected, "{}", kind.info().name)
                }
                None => assert!(
                    ![
                        Footprint::Evidence,
                        Footprint::Organization,
                        Footprint::VpcSeal
                    ]
                    .contains(&kind.info().footprint),
                    "{}",
                    kind.info().name
                ),
            }
        }
        for one_resource in [
            // A principal's inline policies and its managed-policy room, its keys, its trust; Identity
            // Center provisions into roles of its own, kept beside them.
            &[
                "iam_key_deactivate",
                "iam_ssh_key_deactivate",
                "iam_service_credential_deactivate",
                "iam_trust_deny",
                "iam_session_revoke",
                "identity_center_session_revoke",
                "ses_send_deny",
            ][..],
            // A function's resource policy, its URL and its concurrency.
            &[
                "lambda_throttle",
                "lambda_url_restrict",
                "lambda_permission_remove",
            ],
            &["apigw_stage_throttle", "apigw_deny_policy"],
            &["cloudfront_disable", "cloudfront_maintenance"],
            &[
                "sharing_revoke",
                "snapshot_block_public_access",
                "image_block_public_access",
            ],
            &["s3_public_access_block", "resource_policy_deny"],
            &["vpce_policy_deny", "vpce_delete"],
            &["ses_sending_pause", "ses_identity_policy_remove"],
        ] {
            for kind in one_resource {
                assert_eq!(footprint(kind), footprint(one_resource[0]), "{kind}");
            }
        }
    }

    /// What the footprints are for: a security group's rules go back while the account switches are
    /// lifted, where restore used to wait for each kind before the next.
    #[test]
    fn kinds_of_one_phase_and_different_footprints_are_undone_side_by_side() {
        let registry = Registry::standard();
        for (one, other) in [
            ("sg_revoke", "s3_public_access_block"),
            ("sg_revoke", "image_block_public_access"),
            ("iam_key_deactivate", "lambda_throttle"),
        ] {
            assert!(
                !undone_before(&registry, one, other),
                "{one} before {other}"
            );
            assert!(
                !undone_before(&registry, other, one),
                "{other} before {one}"
            );
        }
    }

    #[test]
    fn per_resource_cuts_are_undone_before_any_sealing_cut() {
        let registry = Registry::standard();
        for late in registry.all().filter(|k| k.info().phase == Phase::Seal) {
            for early in registry
                .all()
                .filter(|k| k.info().phase == Phase::PerResource)
            {
                assert!(
                    undone_before(&registry, early.info().name, late.info().name),
                    "{} before {}",
                    early.info().name,
                    late.info().name
                );
            }
        }
    }

    /// A stage throttle closes a REST API at once; its deny policy needs a deployment, and deployments
    /// wait their turn (one per 5 s per account), so throttling is applied first.
    #[test]
    fn api_gateway_stages_are_throttled_before_deny_policies_wait_for_deployments() {
        let registry = Registry::standard();
        let order: Vec<&str> = registry.all().map(|k| k.info().name).collect();
        let position = |name: &str| order.iter().position(|k| *k == name).unwrap();
        assert!(position("apigw_stage_throttle") < position("apigw_deny_policy"));
        // Apply runs a phase's kinds side by side: the order is kept by waiting.
        assert_eq!(
            registry.get("apigw_deny_policy").unwrap().cuts_after(),
            ["apigw_stage_throttle"]
        );
    }

    /// A session revocation taken before the trust deny would leave a window in which an outsider
    /// assumes the role afresh, and that new session would outlive the revocation; the same for a stolen
    /// key not yet deactivated.
    #[test]
    fn trust_is_denied_and_keys_deactivated_before_sessions_are_revoked() {
        let registry = Registry::standard();
        let order: Vec<&str> = registry.all().map(|k| k.info().name).collect();
        let position = |name: &str| order.iter().position(|k| *k == name).unwrap();
        assert!(position("iam_trust_deny") < position("iam_session_revoke"));
        // Declared order is only the plan's listing; apply runs a phase's kinds side by side, so the
        // order is kept by waiting: revocations start once trust denies and key deactivations (a stolen
        // key mints new sessions) are answered.
        assert_eq!(
            registry.get("iam_session_revoke").unwrap().cuts_after(),
            ["iam_key_deactivate", "iam_trust_deny"]
        );
        assert!(undone_before(
            &registry,
            "iam_session_revoke",
            "iam_trust_deny"
        ));
    }

    /// The registry turns each flag into one `restore` switch with the first declaration's help: kinds
    /// sharing a flag must declare the very same gate, so one `--lift-session-revocation` lifts both
    /// session revocations and its help and reason hold for each.
    #[test]
    fn kinds_sharing_a_restore_flag_declare_the_same_gate() {
        let registry = Registry::standard();
        let gates: Vec<(&str, RestoreGate)> = registry
            .all()
            .filter_map(|k| k.restore_gate().map(|gate| (k.info().name, gate)))
            .collect();
        for (kind, gate) in &gates {
            for (other, other_gate) in &gates {
                if gate.flag == other_gate.flag {
                    assert_eq!(gate, other_gate, "{kind} and {other}");
                }
            }
        }
        let lifted_by_the_flag: Vec<&str> = gates
            .iter()
            .filter(|(_, gate)| gate.flag == "--lift-session-revocation")
            .map(|(kind, _)| *kind)
            .collect();
        assert_eq!(
            lifted_by_the_flag,
            ["iam_session_revoke", "identity_center_session_revoke"]
        );
    }

    #[test]
    fn kind_names_are_unique_and_options_and_gates_are_declared_once() {
        let registry = Registry::standard();
        let mut names: Vec<&str> = registry.all().map(|k| k.info().name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count);
        assert_eq!(
            registry
                .plan_options()
                .iter()
                .map(|o| o.flag)
                .collect::<Vec<_>>(),
            [
                "quarantine",
                "keep-principal",
                "resource-perimeter",
                "keep-subnet",
                "keep-vpc",
                "maintenance-origin",
                "incident",
                "no-evidence-snapshots"
            ]
        );
        assert_eq!(
            registry
                .restore_gates()
                .iter()
                .map(|g| g.flag)
                .collect::<Vec<_>>(),
            ["--lift-session-revocation", "--stop-evidence"]
        );
    }
}
