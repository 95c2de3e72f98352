//! A kind's switch (a [`PlanOption`] without a value, e.g. `--no-evidence-snapshots`) on `plan`'s command
//! line: given, the plan keeps [`PlanOption::SWITCH_ON`]; absent, nothing, as in plans of before.

use super::*;
use crate::services::registry;

fn plan_options(argv: &[&str]) -> Result<PlanOptions, clap::Error> {
    parse(["hikkonuki", "plan"].iter().chain(argv), &registry()).map(|parsed| parsed.plan_options)
}

#[test]
fn a_switch_is_kept_as_on_when_given_and_absent_otherwise() {
    let given = plan_options(&["--no-evidence-snapshots", "--incident", "INC-7"]).unwrap();
    assert_eq!(
        given.get("no-evidence-snapshots").map(String::as_str),
        Some(PlanOption::SWITCH_ON)
    );
    assert_eq!(given.get("incident").map(String::as_str), Some("INC-7"));
    let absent = plan_options(&["--incident", "INC-7"]).unwrap();
    assert!(!absent.contains_key("no-evidence-snapshots"), "{absent:?}");
}

#[test]
fn a_switch_takes_no_value() {
    let err = plan_options(&["--no-evidence-snapshots=yes"]).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::TooManyValues, "{err}");
    let help = command(&registry())
        .find_subcommand_mut("plan")
        .unwrap()
        .render_long_help()
        .to_string();
    assert!(help.contains("--no-evidence-snapshots"), "{help}");
    assert!(!help.contains("--no-evidence-snapshots <"), "{help}");
}

/// The command line given back in "run the same command again" hints reads back, in a POSIX shell, as the
/// words given: a space or a quote in a path stays one word, and a `$` is not expanded.
#[test]
fn the_command_line_given_back_reads_as_the_same_words() {
    let argv = [
        "hikkonuki",
        "apply",
        "my plan.yaml",
        "--rollback",
        "it's $HOME.yaml",
        "--kinds",
        "sg_revoke",
    ];
    let parsed = parse(argv, &registry()).unwrap();
    assert_eq!(
        parsed.command_line,
        r#"hikkonuki apply 'my plan.yaml' --rollback "it's "'$HOME.yaml' --kinds sg_revoke"#
    );
    assert_eq!(
        shlex::split(&parsed.command_line).unwrap(),
        argv.map(String::from)
    );
}
