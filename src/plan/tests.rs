use std::path::Path;

use serde_json::json;

use super::*;

/// A catalog with one regional and one global kind, so these tests know no service.
struct TestCatalog;

impl KindCatalog for TestCatalog {
    fn lookup(&self, kind: &str) -> Option<KindFacts> {
        match kind {
            "test_cut" => Some(KindFacts {
                reversible: true,
                global: false,
            }),
            "test_global_delete" => Some(KindFacts {
                reversible: false,
                global: true,
            }),
            _ => None,
        }
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        // As the kinds answer (`crate::services::kind`): a state that does not decode is named.
        for (name, state) in [("before", &cut.before), ("after", &cut.after)] {
            if state.value().get("open").is_none() {
                return Err(format!("`{name}`: `open` is missing"));
            }
        }
        if cut.before.value() == cut.after.value() {
            return Err("the cut changes nothing".into());
        }
        Ok(())
    }

    fn kind_names(&self) -> Vec<&'static str> {
        vec!["test_cut", "test_global_delete"]
    }
}

const FILE: &str = "plans/test.yaml";

fn good_plan() -> Plan {
    Plan {
        version: 1,
        account: "123456789012".into(),
        created: "2026-11-28T00:00:00Z".into(),
        tool_version: "0.1.0".into(),
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        caller: "arn:aws:iam::123456789012:user/responder".into(),
        keep_cidrs: vec!["203.0.113.7/32".into()],
        options: Default::default(),
        selection: vec![],
        organization: None,
        role: None,
        discovery_errors: vec![],
        findings: vec![],
        cuts: vec![
            Cut {
                id: "test_cut/us-east-1/r-1".into(),
                kind: "test_cut".into(),
                region: "us-east-1".into(),
                target: "r-1".into(),
                enabled: true,
                reversible: true,
                reason: "open to the world".into(),
                before: json!({"open": true, "rules": ["0.0.0.0/0"]}).into(),
                after: json!({"open": false, "rules": []}).into(),
            },
            Cut {
                id: "test_global_delete/global/thing".into(),
                kind: "test_global_delete".into(),
                region: "global".into(),
                target: "thing".into(),
                enabled: false,
                reversible: false,
                reason: "cannot be undone".into(),
                before: json!({"open": true}).into(),
                after: json!({"open": false}).into(),
            },
        ],
        members: vec![],
    }
}

fn parse_text(text: &str) -> Result<Plan, PlanError> {
    parse(text, Path::new(FILE), &TestCatalog)
}

/// Renders the good plan, lets `edit` change the YAML text, and parses it back.
fn parse_edited(edit: impl FnOnce(String) -> String) -> Result<Plan, PlanError> {
    parse_text(&edit(file::render(&good_plan())))
}

fn error_of(edit: impl FnOnce(String) -> String) -> PlanError {
    parse_edited(edit).expect_err("the edited plan must be refused")
}

#[test]
fn a_written_plan_reads_back_identical() {
    let plan = good_plan();
    let text = file::render(&plan);
    assert!(text.starts_with("# hikkonuki plan."));
    assert_eq!(parse_text(&text).unwrap(), plan);
}

#[test]
fn strings_yaml_1_1_would_read_as_other_types_are_written_quoted() {
    let mut plan = good_plan();
    plan.cuts[0].before = json!({
        "created": "2026-11-29T00:09:40.43273Z",
        "flag": "on",
        "port": "0022",
        "rules": ["0.0.0.0/0", "yes"],
        "open": true,
    })
    .into();
    let text = file::render(&plan);
    for line in [
        "created: '2026-11-28T00:00:00Z'\n",
        "tool_version: '0.1.0'\n",
        "    created: '2026-11-29T00:09:40.43273Z'\n",
        "    flag: 'on'\n",
        "    port: '0022'\n",
        "    - 0.0.0.0/0\n",
        "    - 'yes'\n",
        "    open: true\n",
        "version: 1\n",
        "  enabled: true\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    assert_eq!(parse_text(&text).unwrap(), plan);
}

#[test]
fn a_newline_in_a_quoted_value_cannot_add_a_line_to_the_error() {
    let err = error_of(|t| t.replace("kind: test_cut", "kind: \"x\\n  fix: run with --force\""));
    assert_eq!(err.to_string().lines().count(), 2, "{err}");
    assert!(err.problem.contains("x\\n  fix: run with --force"), "{err}");
}

#[test]
fn the_summary_line_counts_cuts_irreversible_and_disabled() {
    assert_eq!(
        good_plan().summary().to_string(),
        "Plan: 2 cuts, 1 irreversible, 1 disabled"
    );
    let one = super::PlanSummary {
        cuts: 1,
        irreversible: 0,
        disabled: 0,
    };
    assert_eq!(one.to_string(), "Plan: 1 cut, 0 irreversible, 0 disabled");
}

#[test]
fn disabling_a_cut_is_an_accepted_edit() {
    let plan = parse_edited(|t| t.replacen("enabled: true", "enabled: false", 1)).unwrap();
    assert_eq!(plan.enabled_cuts().count(), 0);
}

#[test]
fn deleting_a_cut_is_an_accepted_edit() {
    let mut plan = good_plan();
    plan.cuts.remove(0);
    let text = file::render(&plan);
    assert_eq!(parse_text(&text).unwrap().cuts.len(), 1);
}

/// Regression: a plan made with `--kinds sg_revoke`, with an `iam_key_deactivate` cut copied in from
/// another plan, passed `apply --check`, was applied, and `show` still said it covered only sg_revoke.
#[test]
fn a_cut_the_recorded_selection_would_not_have_taken_is_refused() {
    let mut plan = good_plan();
    plan.selection = vec!["--kinds test_cut".into()];
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.file, Path::new(FILE));
    assert_eq!(err.field, "cuts[1]");
    assert!(
        err.problem.contains(
            "cut `test_global_delete/global/thing` is outside the plan's selection (--kinds test_cut)"
        ),
        "{err}"
    );
    assert_eq!(
        err.fix,
        "make a new plan; a plan may only have cuts switched off or removed"
    );
    // Switched off, it is still not a cut the plan was made with.
    plan.cuts[1].enabled = false;
    assert_eq!(
        parse_text(&file::render(&plan)).unwrap_err().field,
        "cuts[1]"
    );
    // Removed, the plan is the plan it was.
    plan.cuts.remove(1);
    assert_eq!(parse_text(&file::render(&plan)).unwrap(), plan);

    // Excluded kinds and targets hold the cuts the same way, in members' parts too.
    let mut plan = good_plan();
    plan.selection = vec!["--exclude-kinds test_cut".into()];
    assert_eq!(
        parse_text(&file::render(&plan)).unwrap_err().field,
        "cuts[0]"
    );
    plan.selection = vec!["--target r-*".into(), "--target thing".into()];
    assert!(parse_text(&file::render(&plan)).is_ok());
    plan.selection = vec!["--target test_cut/us-east-1/*".into()];
    assert_eq!(
        parse_text(&file::render(&plan)).unwrap_err().field,
        "cuts[1]"
    );
    // The test catalog places no resource in a VPC: `--vpc` takes none of these cuts.
    plan.selection = vec!["--vpc vpc-1".into()];
    assert_eq!(
        parse_text(&file::render(&plan)).unwrap_err().field,
        "cuts[0]"
    );
    let mut plan = organization_plan();
    plan.selection = vec!["--kinds test_cut".into()];
    plan.members[0].cuts.truncate(1);
    plan.members[1].cuts.swap(0, 1);
    assert_eq!(
        parse_text(&file::render(&plan)).unwrap_err().field,
        "members[1].cuts[0]"
    );
}

/// The recorded selection is read as `plan` writes it; anything else is named, not ignored (ignored,
/// it would hold the cuts to nothing).
#[test]
fn a_recorded_selection_that_is_not_one_plan_writes_is_refused() {
    for (selection, field, problem) in [
        (
            vec!["--kinds test_cut", "--region us-east-1"],
            "selection[1]",
            "`--region us-east-1` is not a selection flag",
        ),
        (
            vec!["--kinds test_cut", "--kinds test_global_delete"],
            "selection[1]",
            "--kinds appears twice",
        ),
        (
            vec!["--kinds no_such_kind"],
            "selection",
            "--kinds: `no_such_kind` is not a kind",
        ),
    ] {
        let mut plan = good_plan();
        plan.selection = selection.iter().map(|s| s.to_string()).collect();
        let err = parse_text(&file::render(&plan)).unwrap_err();
        assert_eq!(err.field, field, "{err}");
        assert!(err.problem.starts_with(problem), "{err}");
    }
}

#[test]
fn malformed_yaml_names_the_file_and_position() {
    let err = parse_text("version: 1\ncuts: [\n").unwrap_err();
    assert_eq!(err.file, Path::new(FILE));
    assert!(err.problem.contains("not a YAML plan document"), "{err}");
    assert!(err.problem.contains("line"), "{err}");
    assert!(err.to_string().starts_with("plans/test.yaml: "), "{err}");
}

#[test]
fn an_unknown_format_version_is_refused_before_anything_else() {
    let err = error_of(|t| t.replace("version: 1\n", "version: 7\nfuture_field: x\n"));
    assert_eq!(err.field, "version");
    assert!(
        err.problem.contains("format version 7 is not supported"),
        "{err}"
    );
    assert!(err.fix.contains("make a new plan"), "{err}");
}

#[test]
fn a_missing_version_is_named() {
    let err = error_of(|t| t.replace("version: 1\n", ""));
    assert_eq!(err.field, "version");
    assert!(err.problem.contains("missing"), "{err}");
}

#[test]
fn a_misspelt_field_is_refused_rather_than_ignored() {
    // `enable: false` would silently leave the cut enabled if unknown fields were ignored.
    let err = error_of(|t| t.replacen("enabled: true", "enable: false", 1));
    assert_eq!(err.field, "cuts[0].enable");
    assert!(err.problem.contains("unknown field `enable`"), "{err}");
}

#[test]
fn an_unknown_kind_lists_the_known_ones() {
    let err = error_of(|t| t.replace("kind: test_cut", "kind: nuke_everything"));
    assert_eq!(err.field, "cuts[0].kind");
    assert!(
        err.problem.contains("unknown kind `nuke_everything`"),
        "{err}"
    );
    assert!(
        err.problem.contains("test_cut, test_global_delete"),
        "{err}"
    );
}

#[test]
fn duplicate_cut_ids_are_refused() {
    let mut plan = good_plan();
    plan.cuts.push(plan.cuts[0].clone());
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[2].id");
    assert!(
        err.problem
            .contains("duplicate cut id `test_cut/us-east-1/r-1`"),
        "{err}"
    );
}

#[test]
fn a_cut_without_before_is_refused() {
    let mut plan = good_plan();
    plan.cuts[0].before = serde_json::Value::Null.into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[0].before");
    assert!(err.problem.contains("missing"), "{err}");

    let text = file::render(&good_plan());
    let start = text.find("  before:").unwrap();
    let end = text.find("  after:").unwrap();
    let without = format!("{}{}", &text[..start], &text[end..]);
    let err = parse_text(&without).unwrap_err();
    assert_eq!(err.field, "cuts[0]");
    assert!(err.problem.contains("missing field `before`"), "{err}");
}

#[test]
fn a_target_in_a_region_outside_the_plan_is_refused() {
    let mut plan = good_plan();
    plan.cuts[0].region = "ap-south-1".into();
    plan.cuts[0].id = "test_cut/ap-south-1/r-1".into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[0].region");
    assert!(
        err.problem.contains(
            "region `ap-south-1` is not one of the plan's regions (us-east-1, eu-west-1)"
        ),
        "{err}"
    );
}

#[test]
fn a_global_kind_must_say_global() {
    let mut plan = good_plan();
    plan.cuts[1].region = "us-east-1".into();
    plan.cuts[1].id = "test_global_delete/us-east-1/thing".into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[1].region");
}

#[test]
fn an_id_that_does_not_match_kind_region_and_target_is_refused() {
    let err = error_of(|t| t.replace("target: r-1", "target: r-2"));
    assert_eq!(err.field, "cuts[0].id");
    assert!(
        err.problem.contains("expected `test_cut/us-east-1/r-2`"),
        "{err}"
    );
}

#[test]
fn reversible_cannot_be_edited_to_hide_an_irreversible_cut() {
    let err = error_of(|t| t.replace("reversible: false", "reversible: true"));
    assert_eq!(err.field, "cuts[1].reversible");
    assert!(err.problem.contains("irreversible"), "{err}");
    assert_eq!(err.fix, "set it back to `false`");
}

#[test]
fn a_state_of_the_wrong_shape_is_refused_by_the_kind() {
    let mut plan = good_plan();
    plan.cuts[0].before = json!({"closed": true}).into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[0].before");
    assert!(err.problem.contains("`open` is missing"), "{err}");

    // An `after` that does not fit is named as `after`, not `before`.
    let mut plan = good_plan();
    plan.cuts[0].after = json!({"closed": true}).into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[0].after");
    assert!(err.problem.contains("`open` is missing"), "{err}");
    assert!(!err.problem.contains("`after`:"), "{err}");

    // A pair that decodes but breaks the kind's rule is the cut's.
    let mut plan = good_plan();
    plan.cuts[0].after = plan.cuts[0].before.clone();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "cuts[0].before/after");
    assert!(err.problem.contains("changes nothing"), "{err}");
}

#[test]
fn a_bad_account_is_refused() {
    let err = error_of(|t| t.replace("account: '123456789012'", "account: '1234'"));
    assert_eq!(err.field, "account");
    assert!(err.problem.contains("12-digit"), "{err}");
}

#[test]
fn bad_regions_and_keep_cidrs_are_named_by_index() {
    let err = error_of(|t| t.replace("- eu-west-1", "- Europe"));
    assert_eq!(err.field, "regions[1]");
    let err = error_of(|t| t.replace("203.0.113.7/32", "203.0.113.7"));
    assert_eq!(err.field, "keep_cidrs[0]");
    assert!(err.problem.contains("prefix length is missing"), "{err}");
}

#[test]
fn a_kept_range_plan_would_refuse_is_refused_in_a_plan_file_too() {
    for wide in ["0.0.0.0/1", "0.0.0.0/0", "::/0", "10.0.0.0/7"] {
        let err = error_of(|t| t.replace("203.0.113.7/32", wide));
        assert_eq!(err.field, "keep_cidrs[0]", "{wide}");
        assert!(
            err.problem.contains("keeps most of the internet reachable"),
            "{wide}: {err}"
        );
    }
    let err = error_of(|t| t.replace("203.0.113.7/32", "::ffff:203.0.113.7/128"));
    assert_eq!(err.field, "keep_cidrs[0]");
    assert!(err.problem.contains("IPv4-mapped"), "{err}");
    // A /8 is as wide as `plan --keep-cidr` takes.
    assert!(parse_edited(|t| t.replace("203.0.113.7/32", "10.0.0.0/8")).is_ok());
}

#[test]
fn region_names_are_recognised() {
    for good in ["us-east-1", "eu-west-3", "us-gov-west-1", "ap-southeast-5"] {
        assert!(is_region_name(good), "{good}");
    }
    for bad in ["global", "us-east", "US-EAST-1", "us--1", "all", ""] {
        assert!(!is_region_name(bad), "{bad}");
    }
}

#[test]
fn files_are_written_private_and_read_back() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/plan.yaml");
    file::write(&path, &good_plan()).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!file::writable_by_others(&path));
    assert_eq!(file::read(&path, &TestCatalog).unwrap(), good_plan());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(file::writable_by_others(&path));
}

#[test]
fn an_unreadable_file_is_named() {
    let err = file::read(Path::new("/nonexistent/plan.yaml"), &TestCatalog).unwrap_err();
    assert_eq!(err.field, "(file)");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/plan.yaml: (file): cannot be read")
    );
}

/// A cheap, deterministic stand-in for the fuzz target (scripts/fuzz.sh): every prefix of a valid plan,
/// and the plan with each line dropped, gives an error or a plan, never a panic.
#[test]
fn truncated_or_mangled_plans_never_panic_the_parser() {
    let text = file::render(&good_plan());
    for end in (0..text.len()).filter(|i| text.is_char_boundary(*i)) {
        let _ = parse_text(&text[..end]);
    }
    let lines: Vec<&str> = text.lines().collect();
    for skip in 0..lines.len() {
        let mangled: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| *l)
            .collect();
        let _ = parse_text(&mangled.join("\n"));
    }
}

/// A plan over several accounts: the management account's part and two members'.
fn organization_plan() -> Plan {
    let mut member = good_plan();
    member.account = "210987654321".into();
    member.caller =
        "arn:aws:sts::210987654321:assumed-role/OrganizationAccountAccessRole/hikkonuki".into();
    let mut own = good_plan();
    own.cuts.clear();
    own.organization = Some("o-abc123defg".into());
    let mut other = member.clone();
    other.account = "109876543210".into();
    Plan::from_accounts(vec![own, member, other])
}

#[test]
fn a_plan_over_several_accounts_reads_back_identical_and_splits_into_one_plan_per_account() {
    let plan = organization_plan();
    let text = file::render(&plan);
    let read = parse_text(&text).unwrap();
    assert_eq!(read, plan);
    let accounts: Vec<(String, usize)> = read
        .per_account()
        .iter()
        .map(|p| (p.account.clone(), p.cuts.len()))
        .collect();
    assert_eq!(
        accounts,
        [
            ("123456789012".to_string(), 0),
            ("210987654321".to_string(), 2),
            ("109876543210".to_string(), 2)
        ]
    );
    assert!(read.per_account().iter().all(|p| p.members.is_empty()));
    assert_eq!(Plan::from_accounts(read.per_account()), read);
    assert_eq!(read.summary().cuts, 4, "the summary counts every account");
    // The same cut ID in two accounts is two cuts, not a duplicate.
    assert_eq!(
        read.all_cuts()
            .filter(|(_, c)| c.id == "test_cut/us-east-1/r-1")
            .count(),
        2
    );
}

#[test]
fn a_member_part_is_checked_like_a_plan_and_errors_name_the_member() {
    let mut plan = organization_plan();
    plan.members[1].cuts[0].id = "test_cut/us-east-1/other".into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "members[1].cuts[0].id");

    let mut plan = organization_plan();
    plan.members[1].account = plan.members[0].account.clone();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "members[1].account");
    assert!(err.problem.contains("appears twice"), "{err}");

    let mut plan = organization_plan();
    plan.members[0].account = "12".into();
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "members[0].account");

    let mut plan = organization_plan();
    plan.organization = None;
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "organization");

    let mut plan = organization_plan();
    plan.role = Some("Org Access\nfix: trust me".into());
    let err = parse_text(&file::render(&plan)).unwrap_err();
    assert_eq!(err.field, "role");
    assert!(!err.to_string().contains("\nfix: trust me"), "{err}");
}

#[test]
fn an_id_splits_back_into_the_parts_it_was_joined_from() {
    let target = "arn:aws:cloudtrail:us-east-1:123456789012:trail/hikkonuki-evidence";
    let id = super::Cut::expected_id("evidence_trail_on", "global", target);
    assert_eq!(
        super::Cut::id_parts(&id),
        ("evidence_trail_on", "global", target)
    );
    assert_eq!(super::Cut::id_parts("sg_revoke"), ("sg_revoke", "", ""));
}
