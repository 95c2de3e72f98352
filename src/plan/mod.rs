//! The plan document: the reviewed list of proposed cuts, each carrying the state it was made from.
//!
//! Format version 1 is public interface: later versions of hikkonuki add kinds of cut and optional
//! top-level fields, never change the meaning of these. The layer knows no AWS service; kinds are checked
//! through [`KindCatalog`], which the service registry implements.
//!
//! What the operator may edit: `enabled`, and deleting whole cuts. A cut the plan's recorded selection
//! would not have taken (added by hand) is refused on reading; everything else is checked against live
//! state at apply, where an edit shows up as drift and is refused.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod compact;
pub mod compare;

pub use compact::CompactJson;

/// What a plan's `options` map holds for a switch (an option that takes no value) that was given.
pub const OPTION_SWITCHED_ON: &str = "true";

pub mod file;
mod reader;
pub mod select;
mod yaml11;

pub const FORMAT_VERSION: u32 = 1;

/// The region value of a cut that acts on an account-wide (global) resource.
pub const GLOBAL_REGION: &str = "global";

/// The role a plan over several accounts enters each member account through when `--role` is not given:
/// the one AWS Organizations creates in every account it creates
/// (docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_access.html).
pub const DEFAULT_MEMBER_ROLE: &str = "OrganizationAccountAccessRole";

/// A whole plan, as written by `hikkonuki plan` and read by `hikkonuki apply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    /// The 12-digit account the plan was made for; apply refuses to run against any other.
    pub account: String,
    /// When discovery ran (RFC 3339, UTC).
    pub created: String,
    pub tool_version: String,
    /// Every region discovery covered.
    pub regions: Vec<String>,
    /// The ARN that made the plan.
    pub caller: String,
    /// Ranges the responder asked to keep reachable (`--keep-cidr`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_cidrs: Vec<String>,
    /// The values of the kinds' plan options (e.g. `maintenance-origin`), by flag name: part of the rule
    /// apply derives each cut's effect from, so they are reviewed with the plan. A switch that was given
    /// holds [`OPTION_SWITCHED_ON`].
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub options: std::collections::BTreeMap<String, String>,
    /// The `--kinds`, `--exclude-kinds`, `--target` and `--vpc` flags the plan was made with: when
    /// present, the plan covers only those cuts, says so to whoever reviews it, and is refused on
    /// reading if it holds a cut they would not have taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<String>,
    /// The organization (`o-…`) of a plan made over several accounts (`plan --accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The role member accounts are entered through (`plan --role`); absent means
    /// [`DEFAULT_MEMBER_ROLE`]. Apply and restore enter them through the same role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Regions or kinds whose discovery failed: the plan is incomplete there and says so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery_errors: Vec<DiscoveryError>,
    /// What the responder should know that no cut changes (logging off, back doors, public records).
    /// Informational: apply never reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// The cuts in `account`, the account that made the plan.
    pub cuts: Vec<Cut>,
    /// The other accounts of a plan made over several accounts, each with its own cuts, findings and
    /// discovery errors (a plan without `members` covers one account, as format version 1 always did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberPlan>,
}

/// One member account's part of a plan over several accounts: what a one-account plan holds besides
/// the fields all accounts share (regions, options, `--keep-cidr`, the selection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberPlan {
    /// The 12-digit member account.
    pub account: String,
    /// The ARN discovery ran as in that account (the role session).
    pub caller: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery_errors: Vec<DiscoveryError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    pub cuts: Vec<Cut>,
}

/// Something discovery noticed that is not a cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The check that found it, e.g. `cloudtrail_not_logging`.
    pub check: String,
    /// A region, or `global`.
    pub region: String,
    /// The resource concerned.
    pub resource: String,
    pub severity: Severity,
    /// What it means and what to do, for people.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    High,
    Medium,
    Info,
}

/// One proposed change to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cut {
    /// `kind/region/target`: stable across plans of the same account, unique within one.
    pub id: String,
    pub kind: String,
    /// A region name, or `global`.
    pub region: String,
    /// The resource the cut acts on (e.g. a security group ID).
    pub target: String,
    /// The operator may set this to false to leave the cut out of apply.
    pub enabled: bool,
    /// Whether restore can give back exactly what the cut takes. Fixed by the kind; not editable.
    pub reversible: bool,
    /// Why the cut is proposed, for people. Never changes what apply does.
    pub reason: String,
    /// The resource's state when the plan was made, in the kind's own shape. Apply refuses the cut if the
    /// live state differs. Held as text ([`CompactJson`]): a run holds every cut from start to end.
    pub before: CompactJson,
    /// The state the cut will leave.
    pub after: CompactJson,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryError {
    pub region: String,
    pub kind: String,
    pub error: String,
}

impl Cut {
    pub fn expected_id(kind: &str, region: &str, target: &str) -> String {
        format!("{kind}/{region}/{target}")
    }

    /// An ID's kind, region and target, as [`Cut::expected_id`] joins them (the target may hold
    /// slashes, an ARN's); a part the ID lacks is empty. Only to name a cut known by its ID alone: the
    /// cut itself carries its fields.
    pub fn id_parts(id: &str) -> (&str, &str, &str) {
        let mut parts = id.splitn(3, '/');
        let mut next = || parts.next().unwrap_or_default();
        (next(), next(), next())
    }
}

impl Plan {
    /// Whether the plan covers several accounts (it has `members`).
    pub fn is_multi_account(&self) -> bool {
        !self.members.is_empty()
    }

    /// The role member accounts are entered through: `role`, or [`DEFAULT_MEMBER_ROLE`] when absent.
    pub fn member_role(&self) -> &str {
        self.role.as_deref().unwrap_or(DEFAULT_MEMBER_ROLE)
    }

    /// The plan as one plan per account, the plan's own account first: each a one-account plan (no
    /// `members`) sharing the regions, options, kept ranges and selection, with that account's caller,
    /// cuts, findings and discovery errors. A one-account plan gives itself.
    pub fn per_account(&self) -> Vec<Plan> {
        let own = Plan {
            members: Vec::new(),
            ..self.clone()
        };
        let members = self.members.iter().map(|member| Plan {
            account: member.account.clone(),
            caller: member.caller.clone(),
            discovery_errors: member.discovery_errors.clone(),
            findings: member.findings.clone(),
            cuts: member.cuts.clone(),
            members: Vec::new(),
            ..self.clone()
        });
        std::iter::once(own).chain(members).collect()
    }

    /// The member accounts' parts, and the plan's own, put back into one plan (the inverse of
    /// [`Plan::per_account`]): the first plan is the plan's own account.
    pub fn from_accounts(mut plans: Vec<Plan>) -> Plan {
        let mut own = plans.remove(0);
        own.members = plans
            .into_iter()
            .map(|plan| MemberPlan {
                account: plan.account,
                caller: plan.caller,
                discovery_errors: plan.discovery_errors,
                findings: plan.findings,
                cuts: plan.cuts,
            })
            .collect();
        own
    }

    /// Every cut of every account, with its account.
    pub fn all_cuts(&self) -> impl Iterator<Item = (&str, &Cut)> {
        self.cuts
            .iter()
            .map(|cut| (self.account.as_str(), cut))
            .chain(
                self.members.iter().flat_map(|member| {
                    member.cuts.iter().map(|cut| (member.account.as_str(), cut))
                }),
            )
    }

    /// Every account's findings, with the account.
    pub fn all_findings(&self) -> impl Iterator<Item = (&str, &Finding)> {
        self.findings
            .iter()
            .map(|f| (self.account.as_str(), f))
            .chain(
                self.members.iter().flat_map(|member| {
                    member.findings.iter().map(|f| (member.account.as_str(), f))
                }),
            )
    }

    /// Every account's discovery errors, with the account.
    pub fn all_discovery_errors(&self) -> impl Iterator<Item = (&str, &DiscoveryError)> {
        self.discovery_errors
            .iter()
            .map(|e| (self.account.as_str(), e))
            .chain(self.members.iter().flat_map(|member| {
                member
                    .discovery_errors
                    .iter()
                    .map(|e| (member.account.as_str(), e))
            }))
    }

    pub fn enabled_cuts(&self) -> impl Iterator<Item = &Cut> {
        self.cuts.iter().filter(|cut| cut.enabled)
    }

    /// Counts over every account's cuts.
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            cuts: self.all_cuts().count(),
            irreversible: self.all_cuts().filter(|(_, cut)| !cut.reversible).count(),
            disabled: self.all_cuts().filter(|(_, cut)| !cut.enabled).count(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSummary {
    pub cuts: usize,
    pub irreversible: usize,
    pub disabled: usize,
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Plan: {} {}, {} irreversible, {} disabled",
            self.cuts,
            if self.cuts == 1 { "cut" } else { "cuts" },
            self.irreversible,
            self.disabled
        )
    }
}

/// What the plan layer needs to know about kinds of cut, without knowing any service.
pub trait KindCatalog {
    /// Whether a kind of this name exists, and if so whether it is reversible and account-wide.
    fn lookup(&self, kind: &str) -> Option<KindFacts>;
    /// Checks that `before` and `after` have the kind's shape; the error says what is wrong.
    fn check_states(&self, cut: &Cut) -> Result<(), String>;
    /// Every kind name, for error messages.
    fn kind_names(&self) -> Vec<&'static str>;
    /// The VPCs the cut's resource is in, as its kind reads its state (`--vpc`).
    fn vpcs_of(&self, _cut: &Cut) -> Vec<String> {
        Vec::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindFacts {
    pub reversible: bool,
    pub global: bool,
}

/// A plan (or rollback) file that cannot be used, with where and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {problem}\n  fix: {fix}", file = file.display())]
pub struct PlanError {
    pub file: PathBuf,
    /// A path into the document, such as `cuts[3].kind`, or `(document)`.
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl PlanError {
    /// `field` and `problem` may quote the plan (a kind, an ID, a region as written there): a newline in
    /// them is written as `\n`, so the error keeps its two lines and the quoted text cannot add a `fix:`
    /// line of its own. (Other control characters are escaped where errors are printed.)
    fn new(
        file: &Path,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        let (field, problem): (String, String) = (field.into(), problem.into());
        PlanError {
            file: file.to_path_buf(),
            field: field.replace('\n', "\\n"),
            problem: problem.replace('\n', "\\n"),
            fix: fix.into(),
        }
    }
}

const FIX_REPLAN: &str = "make a new plan with `hikkonuki plan`; in a plan you may only change `enabled` or delete whole cuts";

/// Parses plan text. `file` is only used to name the file in errors.
pub fn parse(text: &str, file: &Path, catalog: &dyn KindCatalog) -> Result<Plan, PlanError> {
    let plan: Plan = match reader::from_yaml(text) {
        Ok(plan) => plan,
        Err(err) => {
            // A plan from another version of hikkonuki is reported as such, not as the fields it does
            // not share with this one. (Read again only here: a plan that reads costs one pass.)
            check_version(text, file)?;
            return Err(PlanError::new(file, err.field, err.problem, FIX_REPLAN));
        }
    };
    if plan.version != FORMAT_VERSION {
        return Err(unsupported_version(file, &plan.version.to_string()));
    }
    validate(&plan, file, catalog)?;
    Ok(plan)
}

/// What a document that reads as a plan says of itself ([`looks_like_plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanShape {
    /// It has `members`: apply journals it into a directory, one rollback file per account.
    pub over_several_accounts: bool,
}

/// Whether `text` reads as a plan (a YAML mapping with `version` and `cuts`, of any version), to say so
/// where a rollback file was wanted. Only to name what was given; reading it as a plan still checks
/// everything.
pub fn looks_like_plan(text: &str) -> Option<PlanShape> {
    #[derive(Deserialize)]
    struct Shape {
        #[serde(rename = "version")]
        _version: serde::de::IgnoredAny,
        #[serde(rename = "cuts")]
        _cuts: serde::de::IgnoredAny,
        #[serde(default)]
        members: Vec<serde::de::IgnoredAny>,
    }
    let shape: Shape = reader::probe_yaml(text).ok()?;
    Some(PlanShape {
        over_several_accounts: !shape.members.is_empty(),
    })
}

/// The version read on its own, for a document that does not read as a plan of this version.
fn check_version(text: &str, file: &Path) -> Result<(), PlanError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: Option<serde_json::Value>,
    }
    let probe: VersionOnly = reader::probe_yaml(text).map_err(|err| {
        PlanError::new(
            file,
            err.field,
            format!("not a YAML plan document: {}", err.problem),
            "give the path of a plan written by `hikkonuki plan`, or make a new one",
        )
    })?;
    match probe.version {
        None => Err(PlanError::new(
            file,
            "version",
            "missing: every plan starts with `version: 1`",
            FIX_REPLAN,
        )),
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(FORMAT_VERSION as u64) => Ok(()),
        Some(other) => Err(unsupported_version(file, &other.to_string())),
    }
}

fn unsupported_version(file: &Path, version: &str) -> PlanError {
    PlanError::new(
        file,
        "version",
        format!(
            "format version {version} is not supported: this hikkonuki ({}) reads version {FORMAT_VERSION}",
            env!("CARGO_PKG_VERSION")
        ),
        "make a new plan with this version of hikkonuki, or apply it with the version that wrote it",
    )
}

/// A kept IPv4 range shorter than this prefix keeps most of the internet reachable: `plan --keep-cidr`
/// refuses it, and so does a plan file that holds one.
pub const WIDEST_KEEP_PREFIX: u8 = 8;

/// The same for IPv6: a /32 is what a registry allocates a whole provider, so nothing wider is one
/// responder's network (a /8 of IPv6 is 2^120 addresses).
pub const WIDEST_KEEP_PREFIX_V6: u8 = 32;

/// The widest range `--keep-cidr` accepts, as words for a fix (`a /8 or narrower …`).
pub const WIDEST_KEEP_IN_WORDS: &str = "a /8 or narrower for IPv4, a /32 or narrower for IPv6";

/// Whether keeping `cidr` reachable would keep most of the internet reachable ([`WIDEST_KEEP_PREFIX`],
/// [`WIDEST_KEEP_PREFIX_V6`]).
pub fn too_wide_to_keep(cidr: &crate::net::Cidr) -> bool {
    match cidr.family() {
        crate::net::Family::V4 => cidr.prefix() < WIDEST_KEEP_PREFIX,
        crate::net::Family::V6 => cidr.prefix() < WIDEST_KEEP_PREFIX_V6,
    }
}

/// Twelve ASCII digits: the only shape of an AWS account ID.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Region names as AWS spells them: `us-east-1`, `us-gov-west-1`, `ap-southeast-5`.
pub fn is_region_name(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Checks everything that can be checked without asking AWS.
pub fn validate(plan: &Plan, file: &Path, catalog: &dyn KindCatalog) -> Result<(), PlanError> {
    if !is_account_id(&plan.account) {
        return Err(PlanError::new(
            file,
            "account",
            format!("`{}` is not a 12-digit AWS account ID", plan.account),
            FIX_REPLAN,
        ));
    }
    if plan.regions.is_empty() {
        return Err(PlanError::new(
            file,
            "regions",
            "empty: a plan covers at least one region",
            FIX_REPLAN,
        ));
    }
    for (index, region) in plan.regions.iter().enumerate() {
        if !is_region_name(region) {
            return Err(PlanError::new(
                file,
                format!("regions[{index}]"),
                format!("`{region}` is not an AWS region name"),
                FIX_REPLAN,
            ));
        }
    }
    for (index, keep) in plan.keep_cidrs.iter().enumerate() {
        match keep.parse::<crate::net::Cidr>() {
            Err(err) => {
                return Err(PlanError::new(
                    file,
                    format!("keep_cidrs[{index}]"),
                    err.to_string(),
                    FIX_REPLAN,
                ));
            }
            // `plan --keep-cidr` refuses these; a plan file is held to the same rule.
            Ok(cidr) if too_wide_to_keep(&cidr) => {
                return Err(PlanError::new(
                    file,
                    format!("keep_cidrs[{index}]"),
                    format!(
                        "`{cidr}` keeps most of the internet reachable: every rule, entry and route from or to it would stay open"
                    ),
                    format!(
                        "keep only the responder's own address or network ({WIDEST_KEEP_IN_WORDS}), or make a new plan"
                    ),
                ));
            }
            Ok(cidr) if cidr.is_ipv4_mapped() => {
                return Err(PlanError::new(
                    file,
                    format!("keep_cidrs[{index}]"),
                    format!(
                        "`{cidr}` is an IPv4-mapped IPv6 range: AWS holds IPv4 ranges as IPv4, so it would keep nothing reachable"
                    ),
                    "make a new plan, giving --keep-cidr the IPv4 address or range",
                ));
            }
            Ok(_) => {}
        }
    }

    if let Some(role) = &plan.role
        && !is_role_name(role)
    {
        return Err(PlanError::new(
            file,
            "role",
            format!("`{role}` is not an IAM role name"),
            FIX_REPLAN,
        ));
    }
    if !plan.members.is_empty() && plan.organization.is_none() {
        return Err(PlanError::new(
            file,
            "organization",
            "missing: a plan with `members` covers accounts of one organization and names it",
            FIX_REPLAN,
        ));
    }
    let selection = recorded_selection(plan, file, catalog)?;
    let held = Held {
        regions: plan.regions.iter().map(String::as_str).collect(),
        selection: &selection,
    };
    validate_cuts(&plan.cuts, "", &held, plan, file, catalog)?;
    let mut accounts: HashSet<&str> = HashSet::from([plan.account.as_str()]);
    for (index, member) in plan.members.iter().enumerate() {
        if !is_account_id(&member.account) {
            return Err(PlanError::new(
                file,
                format!("members[{index}].account"),
                format!("`{}` is not a 12-digit AWS account ID", member.account),
                FIX_REPLAN,
            ));
        }
        if !accounts.insert(member.account.as_str()) {
            return Err(PlanError::new(
                file,
                format!("members[{index}].account"),
                format!(
                    "account {} appears twice: each account has one part of the plan",
                    member.account
                ),
                FIX_REPLAN,
            ));
        }
        validate_cuts(
            &member.cuts,
            &format!("members[{index}]."),
            &held,
            plan,
            file,
            catalog,
        )?;
    }
    Ok(())
}

/// IAM role names: up to 64 of letters, digits and `+=,.@_-`
/// (docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html, `RoleName`).
pub fn is_role_name(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// The fix for a cut a plan could not have been written with: only switching cuts off or removing them
/// keeps a reviewed plan the plan it was.
const FIX_ADDED_CUT: &str = "make a new plan; a plan may only have cuts switched off or removed";

/// The plan's `selection` read back, to hold its cuts to it.
fn recorded_selection(
    plan: &Plan,
    file: &Path,
    catalog: &dyn KindCatalog,
) -> Result<select::Selection, PlanError> {
    select::Selection::from_flags(&plan.selection, &catalog.kind_names()).map_err(
        |(index, problem)| {
            PlanError::new(
                file,
                match index {
                    Some(index) => format!("selection[{index}]"),
                    None => "selection".to_string(),
                },
                problem,
                "make a new plan with `hikkonuki plan`, or use the hikkonuki version that wrote this one",
            )
        },
    )
}

/// What every account's cuts are held to: the plan's regions and its recorded selection.
struct Held<'p> {
    regions: HashSet<&'p str>,
    selection: &'p select::Selection,
}

/// Checks one account's cuts; `prefix` is `members[i].` for a member's, empty for the plan's own.
fn validate_cuts(
    cuts: &[Cut],
    prefix: &str,
    held: &Held,
    plan: &Plan,
    file: &Path,
    catalog: &dyn KindCatalog,
) -> Result<(), PlanError> {
    let mut seen_ids: HashSet<&str> = HashSet::new();
    for (index, cut) in cuts.iter().enumerate() {
        let field = |name: &str| format!("{prefix}cuts[{index}].{name}");
        let Some(facts) = catalog.lookup(&cut.kind) else {
            let known: BTreeSet<&str> = catalog.kind_names().into_iter().collect();
            return Err(PlanError::new(
                file,
                field("kind"),
                format!(
                    "unknown kind `{}` (this hikkonuki knows: {})",
                    cut.kind,
                    known.into_iter().collect::<Vec<_>>().join(", ")
                ),
                "delete this cut, or use the hikkonuki version that wrote the plan",
            ));
        };
        if !seen_ids.insert(cut.id.as_str()) {
            return Err(PlanError::new(
                file,
                field("id"),
                format!("duplicate cut id `{}`: every cut must be unique", cut.id),
                "delete one of the two cuts, or make a new plan",
            ));
        }
        if facts.global {
            if cut.region != GLOBAL_REGION {
                return Err(PlanError::new(
                    file,
                    field("region"),
                    format!(
                        "`{}` acts on an account-wide resource; its region must be `{GLOBAL_REGION}`, not `{}`",
                        cut.kind, cut.region
                    ),
                    FIX_REPLAN,
                ));
            }
        } else if !held.regions.contains(cut.region.as_str()) {
            return Err(PlanError::new(
                file,
                field("region"),
                format!(
                    "region `{}` is not one of the plan's regions ({})",
                    cut.region,
                    plan.regions.join(", ")
                ),
                FIX_REPLAN,
            ));
        }
        if cut.target.trim().is_empty() {
            return Err(PlanError::new(file, field("target"), "empty", FIX_REPLAN));
        }
        let expected = Cut::expected_id(&cut.kind, &cut.region, &cut.target);
        if cut.id != expected {
            return Err(PlanError::new(
                file,
                field("id"),
                format!(
                    "`{}` does not match its kind, region and target (expected `{expected}`)",
                    cut.id
                ),
                FIX_REPLAN,
            ));
        }
        if cut.reversible != facts.reversible {
            return Err(PlanError::new(
                file,
                field("reversible"),
                format!(
                    "`{}` cuts are {}; this field describes the kind and cannot be edited",
                    cut.kind,
                    if facts.reversible {
                        "reversible"
                    } else {
                        "irreversible"
                    }
                ),
                format!("set it back to `{}`", facts.reversible),
            ));
        }
        for (name, state) in [("before", &cut.before), ("after", &cut.after)] {
            if state.is_null() {
                return Err(PlanError::new(
                    file,
                    field(name),
                    "missing: every cut records the state it was planned from and the state it leaves",
                    FIX_REPLAN,
                ));
            }
        }
        if let Err(problem) = catalog.check_states(cut) {
            // A state that does not decode names itself; a pair that decodes but does not fit the
            // kind's rule is the cut's.
            let (name, problem) = match (
                problem.strip_prefix("`before`: "),
                problem.strip_prefix("`after`: "),
            ) {
                (Some(rest), _) => ("before", rest.to_string()),
                (_, Some(rest)) => ("after", rest.to_string()),
                _ => ("before/after", problem),
            };
            return Err(PlanError::new(
                file,
                field(name),
                format!("not a valid `{}` state: {problem}", cut.kind),
                FIX_REPLAN,
            ));
        }
        // `plan` keeps only the cuts its selection takes (`--vpc` as the kind reads the states, checked
        // above): one it would not have taken was copied in from elsewhere, and would be cut under a
        // heading that says the plan covers only the selection.
        if !held.selection.takes(cut, catalog) {
            return Err(PlanError::new(
                file,
                format!("{prefix}cuts[{index}]"),
                format!(
                    "cut `{}` is outside the plan's selection ({}): `hikkonuki plan` made with it would not have proposed this cut, so it was added to the plan",
                    cut.id,
                    plan.selection.join(" ")
                ),
                FIX_ADDED_CUT,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
