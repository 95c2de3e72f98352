//! Which cuts a run takes, chosen on the command line instead of by editing YAML: `--kinds`,
//! `--exclude-kinds` and `--target` (repeatable, like Terraform's `-target`). `plan` discovers only the
//! selected kinds and keeps only the selected cuts; `apply` performs only the selected cuts of a reviewed
//! plan, and never more: a cut switched off in the plan stays off whatever is selected.
//!
//! A target pattern matches a cut's ID (`kind/region/target`) or its target, whole; `*` stands for any run
//! of characters (`sg-*`, `*/eu-west-1/*`, `route_remove/*`). Nothing else is special, so an ARN or a
//! bucket name is matched as written. `--vpc` (repeatable, patterns too) takes the cuts whose resource is
//! in one of the VPCs named, as its kind says ([`KindCatalog::vpcs_of`]); a resource outside any VPC (a
//! key, a bucket) is then left out.

use super::{Cut, KindCatalog};

/// The cuts a run takes. The default takes every cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these kinds, when not empty.
    kinds: Vec<String>,
    /// Never these kinds.
    excluded: Vec<String>,
    /// Only cuts matching one of these, when not empty.
    targets: Vec<String>,
    /// Only cuts of resources in one of these VPCs (patterns), when not empty.
    vpcs: Vec<String>,
}

/// The kind names in a `--kinds` / `--exclude-kinds` value: comma-separated, blanks ignored.
fn kind_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

impl Selection {
    /// The selection the flags ask for. Every kind named must be one of `known` (a typo must not select
    /// nothing, or everything, in silence); every pattern must be non-empty.
    pub fn new(
        kinds: Option<&str>,
        excluded: Option<&str>,
        targets: &[String],
        known: &[&str],
    ) -> Result<Selection, String> {
        // A flag given with no name in it (an empty variable in a script) would take every kind.
        for (flag, value) in [("--kinds", kinds), ("--exclude-kinds", excluded)] {
            if value.is_some_and(|value| kind_list(value).is_empty()) {
                return Err(format!(
                    "{flag}: no kind named: an empty list would take every kind\n  fix: name one or more kinds, comma-separated (e.g. sg_revoke,nacl_deny), or leave the flag out"
                ));
            }
        }
        let kinds = kinds.map(kind_list).unwrap_or_default();
        let excluded = excluded.map(kind_list).unwrap_or_default();
        for (flag, names) in [("--kinds", &kinds), ("--exclude-kinds", &excluded)] {
            if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
                return Err(format!(
                    "{flag}: `{}` is not a kind of cut this hikkonuki knows\n  fix: use names from: {}",
                    unknown,
                    known.join(", ")
                ));
            }
        }
        if let Some(kind) = kinds.iter().find(|kind| excluded.contains(kind)) {
            return Err(format!(
                "--kinds and --exclude-kinds both name `{kind}`\n  fix: name it in one of them"
            ));
        }
        if targets.iter().any(|pattern| pattern.trim().is_empty()) {
            return Err(
                "--target: an empty pattern selects nothing\n  fix: give a cut ID, a target, or a pattern with * (e.g. sg-*)"
                    .into(),
            );
        }
        Ok(Selection {
            kinds,
            excluded,
            targets: targets.iter().map(|t| t.trim().to_string()).collect(),
            vpcs: Vec::new(),
        })
    }

    /// Narrows the selection to the cuts of resources in these VPCs (`--vpc`, repeatable; `*` patterns).
    pub fn in_vpcs(mut self, vpcs: &[String]) -> Result<Selection, String> {
        if vpcs.iter().any(|vpc| vpc.trim().is_empty()) {
            return Err(
                "--vpc: an empty VPC ID selects nothing\n  fix: give a VPC ID (e.g. vpc-0ab12cd34ef56a7b8) or a pattern with *"
                    .into(),
            );
        }
        self.vpcs = vpcs.iter().map(|vpc| vpc.trim().to_string()).collect();
        Ok(self)
    }

    /// The selection a plan recorded (its `selection`, as [`Selection::flags`] wrote it), read back so
    /// that a plan can be held to it: a cut the selection would not have taken was added by hand. The
    /// error gives the index of the entry that is not one [`Selection::flags`] writes, or none when the
    /// flags together are refused as [`Selection::new`] refuses them.
    pub fn from_flags(
        flags: &[String],
        known: &[&str],
    ) -> Result<Selection, (Option<usize>, String)> {
        let (mut kinds, mut excluded) = (None, None);
        let (mut targets, mut vpcs) = (Vec::new(), Vec::new());
        for (index, entry) in flags.iter().enumerate() {
            let (flag, value) = entry.split_once(' ').unwrap_or((entry, ""));
            let once = |slot: &mut Option<String>| {
                if slot.replace(value.to_string()).is_some() {
                    return Err((
                        Some(index),
                        format!("{flag} appears twice: a plan records it once"),
                    ));
                }
                Ok(())
            };
            match flag {
                "--kinds" => once(&mut kinds)?,
                "--exclude-kinds" => once(&mut excluded)?,
                "--target" => targets.push(value.to_string()),
                "--vpc" => vpcs.push(value.to_string()),
                _ => {
                    return Err((
                        Some(index),
                        format!(
                            "`{entry}` is not a selection flag this hikkonuki writes (--kinds, --exclude-kinds, --target, --vpc)"
                        ),
                    ));
                }
            }
        }
        Selection::new(kinds.as_deref(), excluded.as_deref(), &targets, known)
            .and_then(|selection| selection.in_vpcs(&vpcs))
            .map_err(|problem| (None, problem))
    }

    /// Whether every cut is taken.
    pub fn is_everything(&self) -> bool {
        self.kinds.is_empty()
            && self.excluded.is_empty()
            && self.targets.is_empty()
            && self.vpcs.is_empty()
    }

    /// Whether cuts of this kind may be taken (discovery of other kinds can be skipped).
    pub fn takes_kind(&self, kind: &str) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind))
            && !self.excluded.iter().any(|k| k == kind)
    }

    /// Whether the cut is taken; `catalog` says which VPCs its resource is in.
    pub fn takes(&self, cut: &Cut, catalog: &dyn KindCatalog) -> bool {
        self.takes_kind(&cut.kind)
            && (self.targets.is_empty()
                || self
                    .targets
                    .iter()
                    .any(|pattern| target_matches(pattern, cut)))
            && (self.vpcs.is_empty() || {
                let vpcs = catalog.vpcs_of(cut);
                self.vpcs.iter().any(|pattern| in_vpc(pattern, &vpcs))
            })
    }

    /// The `--target` and `--vpc` patterns that take none of `cuts` (of the kinds taken): a typo, or a
    /// resource with nothing to cut. Said, so that an empty run is not read as an account with nothing
    /// open.
    pub fn unmatched<'c>(
        &self,
        cuts: impl IntoIterator<Item = &'c Cut>,
        catalog: &dyn KindCatalog,
    ) -> Vec<String> {
        let cuts: Vec<&Cut> = cuts
            .into_iter()
            .filter(|cut| self.takes_kind(&cut.kind))
            .collect();
        let mut unmatched = Vec::new();
        for pattern in &self.targets {
            if !cuts.iter().any(|cut| target_matches(pattern, cut)) {
                unmatched.push(format!("--target {pattern}"));
            }
        }
        if !self.vpcs.is_empty() {
            let vpcs_of: Vec<Vec<String>> = cuts.iter().map(|cut| catalog.vpcs_of(cut)).collect();
            for pattern in &self.vpcs {
                if !vpcs_of.iter().any(|vpcs| in_vpc(pattern, vpcs)) {
                    unmatched.push(format!("--vpc {pattern}"));
                }
            }
        }
        unmatched
    }

    /// The `--kinds` names `cuts` hold no cut of. Said at apply, where a kind the plan has no enabled cut
    /// of would otherwise end in "Nothing to apply" as if every cut had been switched off.
    pub fn kinds_without<'c>(&self, cuts: impl IntoIterator<Item = &'c Cut>) -> Vec<&str> {
        let present: std::collections::HashSet<&str> =
            cuts.into_iter().map(|cut| cut.kind.as_str()).collect();
        self.kinds
            .iter()
            .map(String::as_str)
            .filter(|kind| !present.contains(kind))
            .collect()
    }

    /// The flags as given, for the plan file and for messages (e.g. `--kinds sg_revoke --target sg-1*`).
    pub fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if !self.kinds.is_empty() {
            flags.push(format!("--kinds {}", self.kinds.join(",")));
        }
        if !self.excluded.is_empty() {
            flags.push(format!("--exclude-kinds {}", self.excluded.join(",")));
        }
        flags.extend(self.targets.iter().map(|t| format!("--target {t}")));
        flags.extend(self.vpcs.iter().map(|vpc| format!("--vpc {vpc}")));
        flags
    }
}

/// Whether a `--target` pattern takes the cut: its ID (`kind/region/target`) or its target, whole.
fn target_matches(pattern: &str, cut: &Cut) -> bool {
    matches(pattern, &cut.id) || matches(pattern, &cut.target)
}

/// Whether a `--vpc` pattern takes a cut whose resource is in `vpcs` (as its kind reads its state).
fn in_vpc(pattern: &str, vpcs: &[String]) -> bool {
    vpcs.iter().any(|vpc| matches(pattern, vpc))
}

/// Whether `text` matches `pattern` whole, `*` standing for any run of characters (none included).
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let middle: Vec<&str> = parts.collect();
    let Some((last, between)) = middle.split_last() else {
        // No `*`: the whole text must be the pattern.
        return rest.is_empty();
    };
    for part in between {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [&str; 3] = ["sg_revoke", "route_remove", "nacl_deny"];

    /// Test kinds: a security group or an ACL named `<x>-<vpc>` is in VPC `vpc-<vpc>`; routes are in none.
    struct VpcOfTarget;

    impl KindCatalog for VpcOfTarget {
        fn lookup(&self, _kind: &str) -> Option<crate::plan::KindFacts> {
            None
        }
        fn check_states(&self, _cut: &Cut) -> Result<(), String> {
            Ok(())
        }
        fn kind_names(&self) -> Vec<&'static str> {
            KNOWN.to_vec()
        }
        fn vpcs_of(&self, cut: &Cut) -> Vec<String> {
            match cut.kind.as_str() {
                "route_remove" => Vec::new(),
                _ => cut
                    .target
                    .split_once('-')
                    .map(|(_, vpc)| vec![format!("vpc-{vpc}")])
                    .unwrap_or_default(),
            }
        }
    }

    #[test]
    fn a_vpc_takes_the_cuts_of_resources_in_it_and_nothing_outside_a_vpc() {
        let selection = Selection::new(None, None, &[], &KNOWN)
            .unwrap()
            .in_vpcs(&["vpc-1a".into(), " vpc-2* ".into()])
            .unwrap();
        assert!(selection.takes(&cut("sg_revoke", "us-east-1", "sg-1a"), &VpcOfTarget));
        assert!(selection.takes(&cut("nacl_deny", "us-east-1", "acl-2b"), &VpcOfTarget));
        assert!(!selection.takes(&cut("sg_revoke", "us-east-1", "sg-1b"), &VpcOfTarget));
        assert!(!selection.takes(&cut("route_remove", "us-east-1", "rtb-1a"), &VpcOfTarget));
        assert!(!selection.is_everything());
        assert_eq!(selection.flags(), ["--vpc vpc-1a", "--vpc vpc-2*"]);
        let err = Selection::new(None, None, &[], &KNOWN)
            .unwrap()
            .in_vpcs(&[" ".into()])
            .unwrap_err();
        assert!(
            err.starts_with("--vpc: an empty VPC ID selects nothing"),
            "{err}"
        );
    }

    fn cut(kind: &str, region: &str, target: &str) -> Cut {
        Cut {
            id: Cut::expected_id(kind, region, target),
            kind: kind.into(),
            region: region.into(),
            target: target.into(),
            enabled: true,
            reversible: true,
            reason: String::new(),
            before: serde_json::Value::Null.into(),
            after: serde_json::Value::Null.into(),
        }
    }

    #[test]
    fn a_star_stands_for_any_run_of_characters_and_nothing_else_is_special() {
        assert!(matches("sg-*", "sg-0abc"));
        assert!(matches("sg-*", "sg-"));
        assert!(!matches("sg-*", "xsg-0abc"));
        assert!(matches("*/eu-west-1/*", "sg_revoke/eu-west-1/sg-1"));
        assert!(!matches("*/eu-west-1/*", "sg_revoke/us-east-1/sg-1"));
        assert!(matches("a*b*c", "aXbYc"));
        assert!(matches("a*b*c", "abc"));
        assert!(!matches("a*b*c", "acb"));
        assert!(!matches("ab*ba", "aba"), "the two ends may not overlap");
        assert!(matches("sg-1", "sg-1"));
        assert!(
            !matches("sg-1", "sg-12"),
            "without a star the match is whole"
        );
        assert!(matches("arn:aws:s3:::bucket?x", "arn:aws:s3:::bucket?x"));
        assert!(!matches("arn:aws:s3:::bucket?x", "arn:aws:s3:::bucketyx"));
        assert!(matches("*", ""));
    }

    /// `--kinds ''` (an empty variable in a script) names no kind: refused, never read as every kind.
    #[test]
    fn a_kind_list_naming_no_kind_is_refused_not_taken_as_every_kind() {
        for empty in ["", ",", " , "] {
            for (kinds, excluded, flag) in [
                (Some(empty), None, "--kinds"),
                (None, Some(empty), "--exclude-kinds"),
            ] {
                let err = Selection::new(kinds, excluded, &[], &KNOWN).unwrap_err();
                assert!(
                    err.starts_with(&format!("{flag}: no kind named")) && err.contains("fix:"),
                    "{err}"
                );
            }
        }
        assert!(Selection::new(Some("sg_revoke,"), None, &[], &KNOWN).is_ok());
    }

    #[test]
    fn kinds_excluded_kinds_and_targets_narrow_together() {
        let selection = Selection::new(
            Some("sg_revoke, route_remove"),
            Some("route_remove"),
            &[],
            &KNOWN,
        );
        assert!(selection.is_err(), "a kind both taken and excluded");

        let selection = Selection::new(
            Some("sg_revoke,route_remove"),
            None,
            &["sg-1*".into()],
            &KNOWN,
        )
        .unwrap();
        assert!(selection.takes(&cut("sg_revoke", "us-east-1", "sg-1a"), &VpcOfTarget));
        assert!(!selection.takes(&cut("sg_revoke", "us-east-1", "sg-2a"), &VpcOfTarget));
        assert!(!selection.takes(&cut("nacl_deny", "us-east-1", "acl-1"), &VpcOfTarget));
        assert!(selection.takes_kind("route_remove"));
        assert!(!selection.takes_kind("nacl_deny"));

        let selection = Selection::new(None, Some("nacl_deny"), &[], &KNOWN).unwrap();
        assert!(selection.takes(&cut("sg_revoke", "eu-west-1", "sg-9"), &VpcOfTarget));
        assert!(!selection.takes(&cut("nacl_deny", "eu-west-1", "acl-9"), &VpcOfTarget));
        assert_eq!(selection.flags(), ["--exclude-kinds nacl_deny"]);
    }

    #[test]
    fn a_target_matches_the_cut_id_or_the_target_whole() {
        let selection =
            Selection::new(None, None, &["sg_revoke/eu-west-1/*".into()], &KNOWN).unwrap();
        assert!(selection.takes(&cut("sg_revoke", "eu-west-1", "sg-1"), &VpcOfTarget));
        assert!(!selection.takes(&cut("sg_revoke", "us-east-1", "sg-1"), &VpcOfTarget));
        let selection = Selection::new(None, None, &["sg-1".into()], &KNOWN).unwrap();
        assert!(selection.takes(&cut("sg_revoke", "us-east-1", "sg-1"), &VpcOfTarget));
        assert!(!selection.takes(&cut("sg_revoke", "us-east-1", "sg-10"), &VpcOfTarget));
    }

    #[test]
    fn patterns_that_take_no_cut_are_named() {
        let selection = Selection::new(
            Some("sg_revoke"),
            None,
            &["sg-1*".into(), "sg-typo".into(), "acl-1".into()],
            &KNOWN,
        )
        .unwrap()
        .in_vpcs(&["vpc-1*".into(), "vpc-nowhere".into()])
        .unwrap();
        let cuts = [
            cut("sg_revoke", "us-east-1", "sg-10"),
            // Of a kind not selected: its target does not count as matched.
            cut("nacl_deny", "us-east-1", "acl-1"),
        ];
        assert_eq!(
            selection.unmatched(&cuts, &VpcOfTarget),
            ["--target sg-typo", "--target acl-1", "--vpc vpc-nowhere"]
        );
        assert!(
            Selection::default()
                .unmatched(&cuts, &VpcOfTarget)
                .is_empty()
        );
    }

    /// What `plan` records reads back as the selection it was made with.
    #[test]
    fn the_recorded_flags_read_back_as_the_selection() {
        let selection = Selection::new(
            Some("sg_revoke,nacl_deny"),
            None,
            &["sg-1*".into(), "arn:aws:s3:::a bucket".into()],
            &KNOWN,
        )
        .unwrap()
        .in_vpcs(&["vpc-1*".into()])
        .unwrap();
        assert_eq!(
            Selection::from_flags(&selection.flags(), &KNOWN),
            Ok(selection)
        );
        let excluding = Selection::new(None, Some("route_remove"), &[], &KNOWN).unwrap();
        assert_eq!(
            Selection::from_flags(&excluding.flags(), &KNOWN),
            Ok(excluding)
        );
        assert_eq!(Selection::from_flags(&[], &KNOWN), Ok(Selection::default()));
        let (index, problem) = Selection::from_flags(&["--kinds".into()], &KNOWN).unwrap_err();
        assert_eq!(index, None);
        assert!(problem.starts_with("--kinds: no kind named"), "{problem}");
    }

    #[test]
    fn kinds_named_without_a_cut_are_named() {
        let selection = Selection::new(Some("sg_revoke,nacl_deny"), None, &[], &KNOWN).unwrap();
        let cuts = [
            cut("sg_revoke", "us-east-1", "sg-1"),
            cut("route_remove", "us-east-1", "rtb-1"),
        ];
        assert_eq!(selection.kinds_without(&cuts), ["nacl_deny"]);
        assert!(Selection::default().kinds_without(&cuts).is_empty());
    }

    #[test]
    fn the_default_takes_everything() {
        let selection = Selection::default();
        assert!(selection.is_everything());
        assert!(selection.takes(&cut("nacl_deny", "us-east-1", "acl-1"), &VpcOfTarget));
        assert!(selection.flags().is_empty());
    }

    #[test]
    fn an_unknown_kind_or_an_empty_pattern_is_refused_saying_what_to_use() {
        let err = Selection::new(Some("sg_revok"), None, &[], &KNOWN).unwrap_err();
        assert!(
            err.starts_with("--kinds: `sg_revok` is not a kind"),
            "{err}"
        );
        assert!(err.contains("sg_revoke, route_remove, nacl_deny"), "{err}");
        // Quoted as given: the CLI escapes every error it prints (tests/it/cli.rs).
        let err = Selection::new(None, Some("x\u{1b}[2J"), &[], &KNOWN).unwrap_err();
        assert!(
            err.starts_with("--exclude-kinds: `x\u{1b}[2J` is not a kind"),
            "{err:?}"
        );
        let err = Selection::new(None, None, &[" ".into()], &KNOWN).unwrap_err();
        assert!(err.starts_with("--target: an empty pattern"), "{err}");
    }
}
