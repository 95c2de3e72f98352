//! Every registered kind is finished: it has an emulator round trip in this test binary, a section in the
//! README and an entry in the example plan. A new kind that lacks one fails here, naming what is missing.
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
