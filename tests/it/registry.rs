//! Every registered kind is finished: it has an emulator round trip in this test binary, a section in the
//! README and an entry in the example plan, a crash test that kills it, and a "changed after the cut" test
//! whose restore leaves a later change alone and says so. A new kind that lacks one fails here, naming what
//! is missing.
//!
//! Where the emulator lacks a kind's whole API the round trip (or the example plan's entry, which the demo
//! account makes on the emulator) cannot exist until the test harness models it
//! (`tests/emulator/aws_model/`); until then such a kind is listed in [`NOT_ON_THE_EMULATOR`] with the
//! reason and the file whose mocked tests stand in, and that file must hold mocked tests.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, its folders included.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Kinds the emulator cannot run, why, and where their mocked tests are.
const NOT_ON_THE_EMULATOR: &[(&str, &str, &str)] = &[(
    "ecr_public_delete",
    "the emulator has no ECR Public",
    "src/services/storage/ecr_public_delete.rs",
)];

/// Kinds whose example-plan entry cannot come from the demo account's plan, and why.
const NOT_IN_THE_EXAMPLE_PLAN: &[(&str, &str)] = &[
    (
        "cloudfront_maintenance",
        "proposed only with `plan --maintenance-origin`, instead of cloudfront_disable; the example plan is made without it",
    ),
    (
        "evidence_snapshots",
        "the demo account runs no instance in its VPCs, so it has no disks to snapshot",
    ),
];

fn exempt<'a>(list: impl IntoIterator<Item = &'a str>, kind: &str) -> bool {
    list.into_iter().any(|k| k == kind)
}

#[test]
fn every_kind_is_tested_documented_and_exemplified() {
    let registry = hikkonuki::services::registry();
    let kinds: Vec<&str> = registry.all().map(|k| k.info().name).collect();
    let readme = read(&root().join("README.md"));
    // The demo account's plan, and the demo organization's (the organization-level kinds).
    let example = read(&root().join("plans/example.yaml"))
        + &read(&root().join("plans/example-organization.yaml"));
    let emulator_tests: Vec<(String, String)> = rust_files(&root().join("tests/it"))
        .into_iter()
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            !["main.rs", "cli.rs", "registry.rs"].contains(&name.as_ref())
        })
        .map(|path| (path.display().to_string(), read(&path)))
        .collect();
    let mut missing = Vec::new();
    for kind in &kinds {
        let heading = readme
            .lines()
            .any(|line| line.starts_with("### ") && line.contains(&format!("`{kind}`")));
        if !heading {
            missing.push(format!(
                "{kind}: no README section (a `### ` heading naming `{kind}`)"
            ));
        }
        let in_example = example
            .lines()
            .any(|line| line.trim() == format!("kind: {kind}"));
        if !in_example
            && !exempt(NOT_IN_THE_EXAMPLE_PLAN.iter().map(|e| e.0), kind)
            && !exempt(NOT_ON_THE_EMULATOR.iter().map(|e| e.0), kind)
        {
            missing.push(format!(
                "{kind}: no entry in plans/example.yaml or plans/example-organization.yaml"
            ));
        }
        // A cut id of the kind (`kind/region/target`) in an emulator test's assertions.
        let round_trip = emulator_tests.iter().any(|(_, text)| {
            text.contains(&format!("{kind}/")) || text.contains(&format!("\"{kind}\""))
        });
        if !round_trip && !exempt(NOT_ON_THE_EMULATOR.iter().map(|e| e.0), kind) {
            missing.push(format!(
                "{kind}: no emulator test in tests/it names its cuts"
            ));
        }
    }
    for (kind, _, mocked_in) in NOT_ON_THE_EMULATOR {
        assert!(kinds.contains(kind), "exemption for unknown kind {kind}");
        let text = read(&root().join(mocked_in));
        assert!(
            text.contains("mock!(") && text.contains(kind),
            "{kind}: {mocked_in} should hold its mocked tests"
        );
    }
    for (kind, _) in NOT_IN_THE_EXAMPLE_PLAN {
        assert!(kinds.contains(kind), "exemption for unknown kind {kind}");
    }
    assert!(
        missing.is_empty(),
        "unfinished kinds:\n{}",
        missing.join("\n")
    );
}

/// Every registered kind is killed by a crash test: in a crash scenario (whose uncut runs check that each
/// of its kinds makes a call), by a crash test of its own that exists, or it is listed as not killed with
/// the reason. A new kind fails here until one of them covers it.
#[test]
fn every_kind_is_killed_by_a_crash_test() {
    use crate::crash::{KILLED_BY_A_TEST_OF_THEIR_OWN, NOT_KILLED, killed_in_scenarios};

    let registry = hikkonuki::services::registry();
    let kinds: Vec<&str> = registry.all().map(|k| k.info().name).collect();
    let crash_tests: String = rust_files(&root().join("tests/it/crash"))
        .iter()
        .map(|path| read(path))
        .collect();
    let in_scenarios: Vec<&str> = killed_in_scenarios().collect();
    let mut missing = Vec::new();
    for kind in &kinds {
        let own = KILLED_BY_A_TEST_OF_THEIR_OWN
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, test)| test);
        if let Some(test) = own {
            assert!(
                crash_tests.contains(&format!("async fn {test}(")),
                "{kind}: its crash test {test} is not in tests/it/crash"
            );
        }
        let exempt = NOT_KILLED.iter().any(|(k, _)| k == kind);
        if !in_scenarios.contains(kind) && own.is_none() && !exempt {
            missing.push(*kind);
        }
    }
    for (kind, _) in KILLED_BY_A_TEST_OF_THEIR_OWN.iter().chain(NOT_KILLED) {
        assert!(
            kinds.contains(kind),
            "crash coverage names unknown kind {kind}"
        );
    }
    for kind in &in_scenarios {
        assert!(
            kinds.contains(kind),
            "a crash scenario names unknown kind {kind}"
        );
    }
    assert!(
        missing.is_empty(),
        "kinds no crash test kills (add them to a scenario's kinds, to KILLED_BY_A_TEST_OF_THEIR_OWN, or to NOT_KILLED with the reason): {missing:?}"
    );
}

/// Each kind's "changed after the cut" test on the emulator, as `module::function` in this test binary
/// (what `cargo test --test it -- NAME` runs): after apply, someone changes what the kind cut; restore
/// leaves that change alone and says so (a `conflict:` note, or an "already as before" note where the
/// change is exactly the state before the cut), and gives back the rest. One test may serve several kinds
/// whose resources it changes.
const CONFLICT_TESTS: &[(&str, &str)] = &[
    (
        "org_quarantine",
        "organization_policies::a_policy_changed_after_the_cut_is_reported_and_left_not_deleted",
    ),
    (
        "org_resource_perimeter",
        "organization_policies::a_policy_changed_after_the_cut_is_reported_and_left_not_deleted",
    ),
    (
        "vpc_block_public_access",
        "block_public_access::restore_leaves_switches_changed_after_the_cut_and_reports_each_conflict",
    ),
    (
        "nacl_deny",
        "network::nacl_restore_removes_only_its_own_entries_and_reports_one_replaced_since",
    ),
    (
        "route_remove",
        "network::route_restore_recreates_what_was_removed_and_leaves_a_route_changed_since",
    ),
    (
        "igw_detach",
        "gateways::restore_leaves_alone_a_vpc_that_got_another_internet_gateway_after_the_cut",
    ),
    (
        "vgw_detach",
        "gateways::restore_leaves_alone_a_vpc_that_got_another_vpn_gateway_after_the_cut",
    ),
    (
        "sg_revoke",
        "security_groups::restore_leaves_rules_opened_again_after_the_cut_alone_and_restores_the_rest",
    ),
    (
        "vpce_policy_deny",
        "gateways::restore_leaves_alone_an_endpoint_policy_changed_after_the_cut",
    ),
    (
        "rds_public_off",
        "database::restore_leaves_a_database_made_public_again_by_hand_and_says_so",
    ),
    (
        "iam_key_deactivate",
        "identity::restore_leaves_changes_made_after_the_cut_alone_and_reports_them",
    ),
    (
        "iam_ssh_key_deactivate",
        "identity::restore_leaves_changes_made_after_the_cut_alone_and_reports_them",
    ),
    (
        "iam_service_credential_deactivate",
        "identity::restore_leaves_changes_made_after_the_cut_alone_and_reports_them",
    ),
    (
        "iam_trust_deny",
        "trust::a_trust_policy_changed_after_the_cut_is_reported_and_left_alone",
    ),
    (
        "iam_session_revoke",
        "identity::restore_leaves_changes_made_after_the_cut_alone_and_reports_them",
    ),
    (
        "identity_center_session_revoke",
        "identity_center::restore_leaves_a_permission_set_changed_after_the_cut_alone_and_reports_it",
    ),
    (
        "ses_sending_pause",
        "mail::restore_leaves_ses_sending_turned_back_on_after_the_cut_alone",
    ),
    (
        "ses_send_deny",
        "mail::restore_leaves_a_send_deny_changed_after_the_cut_alone",
    ),
    (
        "ses_identity_policy_remove",
        "mail::restore_leaves_an_identity_policy_recreated_after_the_cut_alone",
    ),
    (
        "s3_public_access_block",
        "mail::restore_leaves_an_account_public_access_block_changed_after_the_cut_alone",
    ),
    (
        "sharing_revoke",
        "sharing::restore_leaves_a_snapshot_shared_since_the_cut_and_reports_the_conflict",
    ),
    (
        "snapshot_block_public_access",
        "block_public_access::restore_leaves_switches_changed_after_the_cut_and_reports_each_conflict",
    ),
    (
        "image_block_public_access",
        "block_public_access::restore_leaves_switches_changed_after_the_cut_and_reports_each_conflict",
    ),
    (
        "resource_policy_deny",
        "resource_policies::restore_leaves_a_queue_policy_changed_after_the_cut_alone_and_restores_the_rest",
    ),
    (
        "lambda_throttle",
        "lambda::restore_leaves_concurrency_and_auth_set_after_the_cut_alone",
    ),
    (
        "lambda_url_restrict",
        "lambda::restore_leaves_a_function_url_made_again_after_the_cut_alone",
    ),
    (
        "lambda_permission_remove",
        "lambda::restore_leaves_concurrency_and_auth_set_after_the_cut_alone",
    ),
    (
        "apigw_stage_throttle",
        "api_gateway::restore_leaves_a_policy_and_a_method_limit_changed_after_the_cut_alone",
    ),
    (
        "apigw_deny_policy",
        "api_gateway::restore_leaves_a_policy_and_a_method_limit_changed_after_the_cut_alone",
    ),
    (
        "cloudfront_disable",
        "cloudfront::restore_leaves_a_distribution_someone_enabled_and_edited_after_the_cut_alone",
    ),
    (
        "cloudfront_maintenance",
        "cloudfront::restore_points_back_only_the_behaviours_still_on_the_maintenance_origin",
    ),
    (
        "evidence_trail_on",
        "evidence::a_created_trail_pointed_at_another_bucket_after_apply_is_left_alone_by_restore",
    ),
    (
        "evidence_flow_logs",
        "evidence::a_stopped_trail_is_started_and_stopped_again_and_changes_behind_the_tools_back_are_reported",
    ),
    (
        "evidence_snapshots",
        "evidence::an_evidence_snapshot_deleted_after_apply_is_reported_gone_and_the_other_kept",
    ),
];

/// Kinds that cannot have a "changed after the cut" test, and why.
const NO_CONFLICT_TEST: &[(&str, &str)] = &[
    (
        "vpce_delete",
        "irreversible: restore cannot make the endpoint again, so it has nothing to leave alone or give back (it says the cut cannot be restored; gateways::vpce_delete_runs_only_when_enabled_with_allow_irreversible_and_restore_says_it_is_gone)",
    ),
    (
        "ecr_public_delete",
        "irreversible (restore cannot make the repository again), and the emulator has no ECR Public",
    ),
];

/// The body of `async fn name(` in `text`: up to the first line that closes it (`}` alone at the start
/// of a line), or None.
fn function_body<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("async fn {name}("))?;
    let end = text[start..]
        .find("\n}\n")
        .map_or(text.len(), |e| start + e);
    Some(&text[start..end])
}

/// Every registered kind has a "changed after the cut" test on the emulator ([`CONFLICT_TESTS`]) or the
/// reason it cannot ([`NO_CONFLICT_TEST`]). Each named test must exist in its module's file and restore
/// there, checking what restore says; each listed kind must be registered. A new kind fails here until
/// one of them covers it.
#[test]
fn every_kind_has_a_changed_after_the_cut_test() {
    let registry = hikkonuki::services::registry();
    let kinds: Vec<&str> = registry.all().map(|k| k.info().name).collect();
    let mut problems = Vec::new();
    for kind in &kinds {
        let tested = CONFLICT_TESTS.iter().any(|(k, _)| k == kind);
        let exempt = NO_CONFLICT_TEST.iter().any(|(k, _)| k == kind);
        match (tested, exempt) {
            (false, false) => problems.push(format!(
                "{kind}: no \"changed after the cut\" test (add it to CONFLICT_TESTS, or to NO_CONFLICT_TEST with the reason)"
            )),
            (true, true) => problems.push(format!(
                "{kind}: both in CONFLICT_TESTS and NO_CONFLICT_TEST"
            )),
            _ => {}
        }
    }
    for (kind, test) in CONFLICT_TESTS {
        if !kinds.contains(kind) {
            problems.push(format!("CONFLICT_TESTS names unknown kind {kind}"));
        }
        let Some((module, name)) = test.split_once("::") else {
            problems.push(format!("{kind}: {test} is not module::function"));
            continue;
        };
        let file = root().join("tests/it").join(format!("{module}.rs"));
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        match function_body(&text, name) {
            None => problems.push(format!(
                "{kind}: its test {test} is not an `async fn {name}(` in {}",
                file.display()
            )),
            Some(body) if !(body.contains("restore(") && body.contains("contains(")) => problems
                .push(format!(
                    "{kind}: {test} does not restore and check what restore says"
                )),
            Some(_) => {}
        }
    }
    for (kind, _) in NO_CONFLICT_TEST {
        if !kinds.contains(kind) {
            problems.push(format!("NO_CONFLICT_TEST names unknown kind {kind}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
