//! The README's command synopsis (its `## Commands` block) is how most people learn the command line: every
//! flag a subcommand accepts, the kinds' own flags included, is named there, and it names no flag the
//! command line lacks. Global options are described in prose below the block and are not repeated.

use std::collections::BTreeSet;

use super::*;
use crate::services::registry;

/// The fenced block under `## Commands`.
fn synopsis(readme: &str) -> &str {
    let section = &readme[readme
        .find("\n## Commands")
        .expect("a `## Commands` section")..];
    let start = section.find("```\n").expect("a fenced block") + 4;
    &section[start..start + section[start..].find("```").expect("the block's end")]
}

/// The `--long` names in a piece of the synopsis.
fn flags_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_synopsis_names_every_flag_of_every_subcommand_and_no_other() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let synopsis = synopsis(&readme);
    let select = synopsis
        .lines()
        .find_map(|line| line.strip_prefix("SELECT:"))
        .expect("a SELECT line");
    let command = command(&registry());
    let global: BTreeSet<String> = command
        .get_arguments()
        .filter(|arg| arg.is_global_set())
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect();
    let mut checked = 0;
    for sub in command.get_subcommands() {
        let name = sub.get_name();
        if name == "help" {
            continue;
        }
        let line = synopsis
            .lines()
            .find(|line| {
                line.starts_with(&format!("hikkonuki {name} "))
                    || *line == format!("hikkonuki {name}")
            })
            .unwrap_or_else(|| panic!("README synopsis: no line for `hikkonuki {name}`"));
        let mut documented = flags_in(line);
        if line.contains("[SELECT]") {
            documented.extend(flags_in(select));
        }
        let defined: BTreeSet<String> = sub
            .get_arguments()
            .filter(|arg| {
                !arg.is_hide_set()
                    && !global.contains(&format!("--{}", arg.get_long().unwrap_or("")))
            })
            .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
            .filter(|long| long != "--help")
            .collect();
        let missing: Vec<_> = defined.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&defined).collect();
        assert!(
            missing.is_empty(),
            "README synopsis of `{name}` lacks {missing:?}: {line}"
        );
        assert!(
            unknown.is_empty(),
            "README synopsis of `{name}` names {unknown:?}, which `{name}` does not take"
        );
        checked += defined.len();
    }
    assert!(
        checked > 30,
        "only {checked} flags checked: the synopsis was not found whole"
    );
}
