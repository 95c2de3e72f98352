//! `org_quarantine` and `org_resource_perimeter` on the emulator: an organization whose management account
//! is the emulator's default account, two member accounts, a plan that quarantines both and fences one,
//! apply, restore, and the organization's whole policy state (every policy, its content and targets, the
//! root's policy types) compared before and after. The emulator stores organization policies but never
//! enforces them: these tests prove what is attached and that restore takes exactly that away, not that
//! AWS would deny anything.

use std::collections::BTreeMap;

use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType};
use predicates::str::contains;

use crate::emulator::Emulator;

const REGION: &str = "us-east-1";
pub const MANAGEMENT: &str = "123456789012";

pub struct Organization {
    pub root_id: String,
    pub members: [String; 2],
}

pub async fn organizations(emulator: &Emulator) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&emulator.sdk_config(REGION).await)
}

/// An organization with all features and SCPs enabled on its root, and two member accounts.
pub async fn seed(emulator: &Emulator) -> Organization {
    let client = organizations(emulator).await;
    client
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("CreateOrganization");
    let roots = client.list_roots().send().await.expect("ListRoots");
    let root_id = roots.roots()[0].id().unwrap().to_string();
    client
        .enable_policy_type()
        .root_id(&root_id)
        .policy_type(PolicyType::ServiceControlPolicy)
        .send()
        .await
        .expect("EnablePolicyType SERVICE_CONTROL_POLICY");
    let mut members = Vec::new();
    for name in ["workload", "sandbox"] {
        let created = client
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .expect("CreateAccount");
        members.push(
            created
                .create_account_status()
                .and_then(|s| s.account_id())
                .expect("the emulator creates the account at once")
                .to_string(),
        );
    }
    Organization {
        root_id,
        members: [members[0].clone(), members[1].clone()],
    }
}

/// The organization's whole policy state: each policy (type, name, id) with its content and sorted
/// targets, and the root's policy types.
pub async fn policy_state(emulator: &Emulator) -> BTreeMap<String, String> {
    let client = organizations(emulator).await;
    let mut state = BTreeMap::new();
    for policy_type in [
        PolicyType::ServiceControlPolicy,
        PolicyType::ResourceControlPolicy,
    ] {
        let listed = client
            .list_policies()
            .filter(policy_type.clone())
            .send()
            .await
            .expect("ListPolicies");
        for policy in listed.policies() {
            let id = policy.id().unwrap();
            let content = client
                .describe_policy()
                .policy_id(id)
                .send()
                .await
                .expect("DescribePolicy")
                .policy()
                .and_then(|p| p.content())
                .unwrap_or_default()
                .to_string();
            let mut targets: Vec<String> = client
                .list_targets_for_policy()
                .policy_id(id)
                .send()
                .await
                .expect("ListTargetsForPolicy")
                .targets()
                .iter()
                .filter_map(|t| t.target_id().map(str::to_string))
                .collect();
            targets.sort();
            state.insert(
                format!(
                    "{} {} {id}",
                    policy_type.as_str(),
                    policy.name().unwrap_or_default()
                ),
                format!("{content} -> {targets:?}"),
            );
        }
    }
    for root in client.list_roots().send().await.expect("ListRoots").roots() {
        let mut types: Vec<String> = root
            .policy_types()
            .iter()
            .map(|t| format!("{:?}={:?}", t.r#type(), t.status()))
            .collect();
        types.sort();
        state.insert(format!("root {}", root.id().unwrap()), types.join(","));
    }
    state
}

/// The names of the policies of `policy_type` attached directly to `target`, sorted.
pub async fn attached(emulator: &Emulator, target: &str, policy_type: PolicyType) -> Vec<String> {
    let mut names: Vec<String> = organizations(emulator)
        .await
        .list_policies_for_target()
        .target_id(target)
        .filter(policy_type)
        .send()
        .await
        .expect("ListPoliciesForTarget")
        .policies()
        .iter()
        .filter_map(|p| p.name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Plans the quarantine of both members and the perimeter of the first as `plans/{name}.yaml`.
pub fn plan(emulator: &Emulator, org: &Organization, name: &str) {
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--kinds", "org_quarantine,org_resource_perimeter"])
        .args([
            "--quarantine",
            &org.members[0],
            "--quarantine",
            &org.members[1],
        ])
        .args(["--resource-perimeter", &org.members[0]])
        .args(["--keep-principal", "arn:aws:iam::*:role/BreakGlass"])
        .assert()
        .code(0);
}

fn planned_cuts(emulator: &Emulator, plan: &str) -> Vec<(String, bool)> {
    let path = emulator.path(plan);
    let text = std::fs::read_to_string(&path).unwrap();
    let plan = hikkonuki::plan::parse(&text, &path, &hikkonuki::services::registry()).unwrap();
    plan.cuts
        .iter()
        .map(|c| (c.id.clone(), c.enabled))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_quarantined_and_fenced_and_restore_gives_the_organization_back_exactly() {
    let emulator = Emulator::start();
    let org = seed(&emulator).await;
    let original = policy_state(&emulator).await;
    let [workload, sandbox] = &org.members;

    plan(&emulator, &org, "p");
    assert_eq!(
        planned_cuts(&emulator, "plans/p.yaml"),
        vec![
            (format!("org_quarantine/global/{workload}"), true),
            (format!("org_quarantine/global/{sandbox}"), true),
            (
                format!("org_resource_perimeter/global/{}", org.root_id),
                true
            ),
            (format!("org_resource_perimeter/global/{workload}"), true),
        ]
    );

    emulator.apply("plans/p.yaml").assert().code(0);
    for member in [workload, sandbox] {
        assert_eq!(
            attached(&emulator, member, PolicyType::ServiceControlPolicy).await,
            ["FullAWSAccess", "hikkonuki-quarantine"],
            "{member}"
        );
    }
    assert_eq!(
        attached(&emulator, workload, PolicyType::ResourceControlPolicy).await,
        ["RCPFullAWSAccess", "hikkonuki-resource-perimeter"]
    );
    assert_eq!(
        attached(&emulator, sandbox, PolicyType::ResourceControlPolicy).await,
        ["RCPFullAWSAccess"]
    );
    let cut = policy_state(&emulator).await;
    let quarantine = cut
        .iter()
        .find(|(k, _)| k.contains("hikkonuki-quarantine"))
        .map(|(_, v)| v.clone())
        .expect("the quarantine policy exists");
    assert!(
        quarantine.contains("arn:aws:iam::*:role/OrganizationAccountAccessRole"),
        "{quarantine}"
    );
    assert!(
        quarantine.contains("arn:aws:iam::*:role/BreakGlass"),
        "{quarantine}"
    );
    assert!(
        cut[&format!("root {}", org.root_id)].contains("ResourceControlPolicy"),
        "{cut:?}"
    );

    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(policy_state(&emulator).await, original);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_changed_after_the_cut_is_reported_and_left_not_deleted() {
    let emulator = Emulator::start();
    let org = seed(&emulator).await;
    let client = organizations(&emulator).await;
    let [workload, sandbox] = &org.members;
    plan(&emulator, &org, "p");
    emulator.apply("plans/p.yaml").assert().code(0);

    // Someone edits the quarantine, and attaches the perimeter to the other member too.
    let id_of = |state: &BTreeMap<String, String>, name: &str| {
        state
            .keys()
            .find(|k| k.contains(name))
            .and_then(|k| k.rsplit(' ').next())
            .unwrap()
            .to_string()
    };
    let state = policy_state(&emulator).await;
    let quarantine = id_of(&state, "hikkonuki-quarantine");
    let perimeter = id_of(&state, "hikkonuki-resource-perimeter");
    let edited = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
    client
        .update_policy()
        .policy_id(&quarantine)
        .content(edited)
        .send()
        .await
        .unwrap();
    client
        .attach_policy()
        .policy_id(&perimeter)
        .target_id(sandbox)
        .send()
        .await
        .unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(0)
        .stderr(contains(format!(
            "conflict: the SCP `hikkonuki-quarantine` ({quarantine}) was edited after the cut; left attached to account {workload} and not deleted (its content is no longer what hikkonuki wrote: detach and delete it yourself if it should go)"
        )))
        .stderr(contains(format!(
            "conflict: the SCP `hikkonuki-quarantine` ({quarantine}) was edited after the cut; left attached to account {sandbox} and not deleted"
        )))
        .stderr(contains(format!(
            "the RCP `hikkonuki-resource-perimeter` ({perimeter}) detached from account {workload}"
        )))
        .stderr(contains(format!(
            "the RCP `hikkonuki-resource-perimeter` ({perimeter}) kept: still attached to {sandbox} (other cuts of this plan are restored in turn; anything still attached once they are was attached after the cut and is left as it is)"
        )))
        .stderr(contains(format!(
            "conflict: resource control policies left enabled on the root {}: RCPs attached after the cut ({perimeter} hikkonuki-resource-perimeter) would be detached by disabling the type; disable it yourself once they may go",
            org.root_id
        )));
    let after = policy_state(&emulator).await;
    let quarantined = &after[&format!("SERVICE_CONTROL_POLICY hikkonuki-quarantine {quarantine}")];
    assert!(quarantined.starts_with(edited), "{quarantined}");
    assert!(quarantined.contains(workload.as_str()) && quarantined.contains(sandbox.as_str()));
    let fenced =
        &after[&format!("RESOURCE_CONTROL_POLICY hikkonuki-resource-perimeter {perimeter}")];
    assert!(fenced.ends_with(&format!("[\"{sandbox}\"]")), "{fenced}");
    let root = &after[&format!("root {}", org.root_id)];
    assert!(
        root.contains("ResourceControlPolicy"),
        "left enabled: {root}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_management_account_is_refused_with_the_reason() {
    let emulator = Emulator::start();
    seed(&emulator).await;
    let original = policy_state(&emulator).await;
    emulator
        .plan(REGION, "plans/m.yaml")
        .args(["--kinds", "org_quarantine"])
        .args(["--quarantine", MANAGEMENT])
        .assert()
        .code(0);
    let path = emulator.path("plans/m.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let planned = hikkonuki::plan::parse(&text, &path, &hikkonuki::services::registry()).unwrap();
    assert_eq!(planned.cuts.len(), 1);
    let cut = &planned.cuts[0];
    assert_eq!(cut.id, format!("org_quarantine/global/{MANAGEMENT}"));
    assert!(!cut.enabled);
    assert!(
        cut.reason
            .contains("SCPs do not apply to the management account"),
        "{}",
        cut.reason
    );
    assert!(
        cut.reason.contains("orgs_manage_policies_scps.html"),
        "{}",
        cut.reason
    );
    // Nothing enabled: apply changes nothing in the organization.
    let _ = emulator.apply("plans/m.yaml").assert();
    assert_eq!(policy_state(&emulator).await, original);
}
