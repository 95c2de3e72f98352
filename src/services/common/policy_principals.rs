//! Who a policy lets in from outside the account: the one reading of principals and conditions that every
//! trust- and resource-policy cut shares, so `arn:aws:iam::210987654321:root`, `210987654321`,
//! `{"AWS": [..]}` lists, `NotPrincipal`, federated providers and conditions that narrow a grant to this
//! account or organization are understood the same way everywhere.
//!
//! The rules follow the IAM policy reference:
//! - principals: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>
//! - `NotPrincipal` with Allow lets in everyone but those named:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>
//! - condition keys: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>
//! - a condition on a key the request lacks is false, except with `...IfExists` and `ForAllValues:`
//!   (true when the key is missing), so only plain and `ForAnyValue:` positive operators narrow:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>
//!   and <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>
//!
//! What cannot be classified is returned as such, never dropped: callers report it as a High finding.

use crate::plan::is_account_id;
use std::collections::BTreeSet;

use serde_json::Value;

/// The organization the account belongs to, as far as it could be learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Organization {
    /// A member (or the management account) of this organization (`o-...`).
    Member(String),
    /// The account belongs to no organization: every organization ID names outsiders.
    None,
    /// `DescribeOrganization` could not say (access denied, an error): a condition on an organization
    /// cannot be classified, with this reason.
    Unknown(String),
}

/// What counts as inside: the account being contained and its organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub account_id: String,
    pub organization: Organization,
}

/// Someone outside the account a policy lets in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outsider {
    /// Anyone at all: `*`, `{"AWS": "*"}`, or an Allow with `NotPrincipal`, not narrowed to the account.
    Anyone,
    /// Another AWS account, by its 12-digit ID (its root, or a user or role in it).
    Account(String),
    /// Members of another organization (a condition on `aws:PrincipalOrgID` or an org path).
    Organization(String),
    /// Identities of a federated provider (OIDC or SAML), as the policy names it: they come from outside
    /// the account even when the provider object lives in it.
    Federated(String),
}

impl std::fmt::Display for Outsider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outsider::Anyone => f.write_str("anyone (*)"),
            Outsider::Account(id) => write!(f, "account {id}"),
            Outsider::Organization(id) => write!(f, "organization {id}"),
            Outsider::Federated(provider) => write!(f, "federated {provider}"),
        }
    }
}

/// One principal entry as the policy writes it: the key (`AWS`, `Federated`, `Service`, `CanonicalUser`;
/// `*` for the bare wildcard; `NotPrincipal` for an Allow that names who is *not* let in) and its value.
/// A deny statement for exactly these principals is written from it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WrittenPrincipal {
    pub key: String,
    pub value: String,
}

/// One Allow statement's principal that lets an outsider in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideGrant {
    /// The statement's position in the policy's `Statement` list (0 for a single statement object).
    pub statement: usize,
    pub sid: Option<String>,
    pub outsider: Outsider,
    pub principal: WrittenPrincipal,
}

/// What a policy lets in from outside, and what in it could not be classified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyReading {
    pub outside: Vec<OutsideGrant>,
    /// One line per statement part whose effect on who gets in could not be told, saying what was odd.
    pub unclassified: Vec<String>,
}

impl PolicyReading {
    /// Whether the policy lets anyone outside the account in.
    pub fn opens_outside(&self) -> bool {
        !self.outside.is_empty()
    }

    /// The distinct outsiders, sorted: for a plan's reason and the evidence.
    pub fn outsiders(&self) -> BTreeSet<Outsider> {
        self.outside.iter().map(|g| g.outsider.clone()).collect()
    }

    /// The distinct principals as written that let outsiders in, sorted.
    pub fn outside_principals(&self) -> BTreeSet<WrittenPrincipal> {
        self.outside.iter().map(|g| g.principal.clone()).collect()
    }
}

/// Reads a policy document given as text. Text that is not a JSON object is itself unclassified.
pub fn read_policy_text(text: &str, home: &Home) -> PolicyReading {
    match serde_json::from_str::<Value>(text) {
        Ok(document) => read_policy(&document, home),
        Err(err) => PolicyReading {
            outside: vec![],
            unclassified: vec![format!("the policy is not valid JSON ({err})")],
        },
    }
}

/// Reads a policy document: every Allow statement's principals, judged with its conditions.
pub fn read_policy(document: &Value, home: &Home) -> PolicyReading {
    let mut reading = PolicyReading::default();
    let Some(document) = document.as_object() else {
        reading
            .unclassified
            .push("the policy is not a JSON object".to_string());
        return reading;
    };
    let statements: Vec<&Value> = match document.get("Statement") {
        None => vec![],
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        Some(other) => {
            reading.unclassified.push(format!(
                "`Statement` is neither a list nor an object ({other})"
            ));
            return reading;
        }
    };
    for (index, statement) in statements.into_iter().enumerate() {
        read_statement(index, statement, home, &mut reading);
    }
    reading
}

fn read_statement(index: usize, statement: &Value, home: &Home, reading: &mut PolicyReading) {
    let sid = statement
        .get("Sid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let label = match &sid {
        Some(sid) => format!("statement {index} ({sid})"),
        None => format!("statement {index}"),
    };
    let Some(object) = statement.as_object() else {
        reading
            .unclassified
            .push(format!("{label} is not an object"));
        return;
    };
    match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => {}
        Some("Deny") => return, // a deny lets no one in
        _ => {
            reading
                .unclassified
                .push(format!("{label} has no Effect of Allow or Deny"));
            return;
        }
    }
    let entries: Vec<(WrittenPrincipal, Entry)> = match (
        object.get("Principal"),
        object.get("NotPrincipal"),
    ) {
        (Some(principal), None) => principal_entries(principal, home),
        // Allow + NotPrincipal: everyone except those named.
        (None, Some(not_principal)) => vec![(
            WrittenPrincipal {
                key: "NotPrincipal".into(),
                value: compact(not_principal),
            },
            Entry::Outsider(Outsider::Anyone),
        )],
        _ => {
            reading.unclassified.push(format!(
                "{label} names no single Principal or NotPrincipal, so who it lets in cannot be told"
            ));
            return;
        }
    };
    let scope = condition_scope(object.get("Condition"), home);
    for (principal, entry) in entries {
        let outsiders: Vec<Outsider> = match (entry, &scope) {
            (Entry::Inside, _) => vec![],
            (Entry::Unclear(why), _) => {
                reading.unclassified.push(format!(
                    "{label}: principal {} {}: {why}",
                    principal.key, principal.value
                ));
                continue;
            }
            (Entry::Outsider(Outsider::Federated(provider)), _) => {
                // Federated identities carry no account of ours: a condition on accounts or
                // organizations does not make them inside.
                vec![Outsider::Federated(provider)]
            }
            (_, Scope::Inside) => vec![],
            (Entry::Service, Scope::Open) => vec![],
            (Entry::Service, Scope::Limited(outsiders)) => {
                // A service acting for another account's resources (aws:SourceAccount names it).
                outsiders.iter().cloned().collect()
            }
            (_, Scope::Unclear(why)) => {
                reading.unclassified.push(format!(
                    "{label}: principal {} {}: {why}",
                    principal.key, principal.value
                ));
                continue;
            }
            (Entry::Outsider(outsider), Scope::Open) => vec![outsider],
            (Entry::Outsider(Outsider::Anyone), Scope::Limited(outsiders)) => {
                outsiders.iter().cloned().collect()
            }
            (Entry::Outsider(Outsider::Account(account)), Scope::Limited(outsiders)) => {
                // Both must hold: the named account, and the condition's accounts or organizations.
                let named = Outsider::Account(account.clone());
                if outsiders.contains(&named)
                    || outsiders
                        .iter()
                        .any(|o| matches!(o, Outsider::Organization(_)))
                {
                    vec![named]
                } else {
                    vec![]
                }
            }
            (Entry::Outsider(other), Scope::Limited(_)) => vec![other],
        };
        for outsider in outsiders {
            reading.outside.push(OutsideGrant {
                statement: index,
                sid: sid.clone(),
                outsider,
                principal: principal.clone(),
            });
        }
    }
}

/// What one principal entry is, before conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// This account, or one of its users or roles.
    Inside,
    /// An AWS service principal (`lambda.amazonaws.com`): kept, unless a condition names other accounts.
    Service,
    Outsider(Outsider),
    Unclear(String),
}

fn principal_entries(principal: &Value, home: &Home) -> Vec<(WrittenPrincipal, Entry)> {
    match principal {
        Value::String(value) if value == "*" => vec![(
            WrittenPrincipal {
                key: "*".into(),
                value: "*".into(),
            },
            Entry::Outsider(Outsider::Anyone),
        )],
        Value::Object(map) => {
            let mut entries = Vec::new();
            for (key, values) in map {
                let listed: Vec<&Value> = match values {
                    Value::Array(items) => items.iter().collect(),
                    single => vec![single],
                };
                for value in listed {
                    let written = WrittenPrincipal {
                        key: key.clone(),
                        value: value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| compact(value)),
                    };
                    let entry = match value.as_str() {
                        Some(text) => principal_entry(key, text, home),
                        None => Entry::Unclear("the principal is not a string".into()),
                    };
                    entries.push((written, entry));
                }
            }
            entries
        }
        other => vec![(
            WrittenPrincipal {
                key: "Principal".into(),
                value: compact(other),
            },
            Entry::Unclear("a Principal that is neither `*` nor an object".into()),
        )],
    }
}

fn principal_entry(key: &str, value: &str, home: &Home) -> Entry {
    match key {
        "AWS" => match aws_principal(value) {
            Entry::Outsider(Outsider::Account(account)) if account == home.account_id => {
                Entry::Inside
            }
            other => other,
        },
        "Service" => Entry::Service,
        "Federated" => Entry::Outsider(Outsider::Federated(value.to_string())),
        "CanonicalUser" => Entry::Unclear(
            "an S3 canonical user ID, whose account cannot be told from the policy".into(),
        ),
        _ => Entry::Unclear(format!("an unknown principal type `{key}`")),
    }
}

/// `*`, a bare account ID, or an IAM/STS ARN whose account field says whose it is.
fn aws_principal(value: &str) -> Entry {
    if value == "*" {
        return Entry::Outsider(Outsider::Anyone);
    }
    if is_account_id(value) {
        return Entry::Outsider(Outsider::Account(value.to_string()));
    }
    if let Some(account) = arn_account(value) {
        return Entry::Outsider(Outsider::Account(account));
    }
    if is_unique_id(value) {
        // IAM shows a deleted user's or role's unique ID where its ARN was; it matches no principal any
        // more, so it lets no one in (reference_policies_elements_principal.html, "IAM roles").
        return Entry::Inside;
    }
    Entry::Unclear("neither `*`, an account ID nor an IAM or STS ARN".into())
}

/// `AIDA…` (user) or `AROA…` (role) followed by upper-case letters and digits.
fn is_unique_id(value: &str) -> bool {
    (value.starts_with("AIDA") || value.starts_with("AROA"))
        && value.len() >= 16
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The account of an `arn:<partition>:iam|sts::<account>:...` ARN.
fn arn_account(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _partition, "iam" | "sts", "", account, _resource] if is_account_id(account) => {
            Some(account.to_string())
        }
        _ => None,
    }
}

/// The account field of a resource ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`), when it is
/// an account ID.
fn resource_arn_account(value: &str) -> Option<&str> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _partition, _service, _region, account, _resource] if is_account_id(account) => {
            Some(account)
        }
        _ => None,
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Who a statement's conditions let through, as far as accounts and organizations go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// No condition limits the caller's account or organization.
    Open,
    /// Some condition admits only this account or organization: nothing outside gets in.
    Inside,
    /// The conditions admit these outsiders (other accounts or organizations named in them).
    Limited(BTreeSet<Outsider>),
    /// A condition limits by organization or account in a way that cannot be told.
    Unclear(String),
}

/// Keys whose values are account IDs, as lower case. `kms:CallerAccount` is KMS's own key for the
/// caller's account, used by key policies that open a key to "every principal of the account"
/// (<https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-caller-account>).
const ACCOUNT_KEYS: [&str; 4] = [
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourceowner",
    "kms:calleraccount",
];
/// Keys whose values are organization IDs.
const ORGANIZATION_KEYS: [&str; 2] = ["aws:principalorgid", "aws:sourceorgid"];
/// Keys whose values are organization paths `o-…/r-…/ou-…/`, the organization first.
const ORGANIZATION_PATH_KEYS: [&str; 2] = ["aws:principalorgpaths", "aws:sourceorgpaths"];
/// Keys whose values are principal ARNs.
const PRINCIPAL_ARN_KEYS: [&str; 1] = ["aws:principalarn"];
/// Keys whose values are ARNs of the resource a service acts for (the confused-deputy conditions:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html>).
const SOURCE_ARN_KEYS: [&str; 1] = ["aws:sourcearn"];

/// Actions that hand a resource's data to whoever calls them: what a service acting for any account's
/// resource could carry out of this one. Compared without case, and with the wildcards a policy writes.
const DATA_READS: [&str; 12] = [
    "s3:getobject",
    "s3:getobjectversion",
    "kms:decrypt",
    "secretsmanager:getsecretvalue",
    "sqs:receivemessage",
    "sns:subscribe",
    "ecr:batchgetimage",
    "ecr:getdownloadurlforlayer",
    "dynamodb:getitem",
    "dynamodb:query",
    "dynamodb:scan",
    "logs:getlogevents",
];

/// Condition keys that bind a service principal to the resource or account it acts for.
const SOURCE_BINDING_KEYS: [&str; 5] = [
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
];

/// IAM action patterns: `*` any run of characters, `?` one; case-insensitive.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_matches(pattern, action, |p, a| p.eq_ignore_ascii_case(&a))
}

/// IAM's `ArnLike`: `*` any run of characters, `?` one; case-sensitive
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN>).
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    wildcard_matches(pattern, arn, |p, a| p == a)
}

/// `*` any run of characters (none included), `?` any one, every other character as `same` says.
/// Greedy, going back to the last `*` on a mismatch: linear in practice, never exponential.
fn wildcard_matches(pattern: &str, text: &str, same: impl Fn(char, char) -> bool) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len()
            && pattern[p] != '*'
            && (pattern[p] == '?' || same(pattern[p], text[t]))
        {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// A policy element that is one string or a list of them (`Action`, `Principal.Service`…), as a list;
/// anything else holds none.
pub fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

/// A policy's statements, whether it holds a list or a single statement object; none otherwise.
pub fn statements(document: &Value) -> Vec<&Value> {
    match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => vec![],
    }
}

/// The grants that let an AWS service read the resource's data for whatever resource or account it
/// acts for: an Allow to a `Service` principal, of an action that hands over data ([`DATA_READS`], or
/// any action through `NotAction`), with no condition binding it to a source (`aws:SourceArn`,
/// `aws:SourceAccount`, …). An Origin Access Control statement without `aws:SourceArn` lets any
/// account's CloudFront distribution serve a bucket (the confused deputy:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html>). They count as inside for
/// the cuts (a deny never binds AWS services), so they are said apart: each as `service (actions)`.
pub fn unbound_service_reads(document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for statement in statements(document) {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let services = strings(statement.get("Principal").and_then(|p| p.get("Service")));
        if services.is_empty() {
            continue;
        }
        let bound = statement
            .get("Condition")
            .and_then(Value::as_object)
            .is_some_and(|operators| {
                operators.values().filter_map(Value::as_object).any(|keys| {
                    keys.keys()
                        .any(|key| SOURCE_BINDING_KEYS.contains(&key.to_ascii_lowercase().as_str()))
                })
            });
        if bound {
            continue;
        }
        let reads: Vec<String> = if statement.get("NotAction").is_some() {
            vec![format!(
                "every action but {}",
                compact(&statement["NotAction"])
            )]
        } else {
            strings(statement.get("Action"))
                .into_iter()
                .filter(|action| DATA_READS.iter().any(|read| action_matches(action, read)))
                .map(str::to_string)
                .collect()
        };
        if reads.is_empty() {
            continue;
        }
        for service in services {
            found.push(format!("{service} ({})", reads.join(", ")));
        }
    }
    found
}

/// Positive operators that fail when the key is missing, so they narrow who gets in.
fn narrowing_operator(operator: &str) -> bool {
    let operator = operator.to_ascii_lowercase();
    if operator.ends_with("ifexists") || operator.starts_with("forallvalues:") {
        return false;
    }
    let operator = operator.strip_prefix("foranyvalue:").unwrap_or(&operator);
    matches!(
        operator,
        "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike"
    )
}

fn condition_scope(condition: Option<&Value>, home: &Home) -> Scope {
    let Some(condition) = condition else {
        return Scope::Open;
    };
    let Some(operators) = condition.as_object() else {
        return Scope::Unclear("its Condition is not an object".into());
    };
    let mut limited: BTreeSet<Outsider> = BTreeSet::new();
    let mut any_limit = false;
    let mut unclear: Option<String> = None;
    for (operator, keys) in operators {
        let Some(keys) = keys.as_object() else {
            return Scope::Unclear(format!("condition operator {operator} holds no keys"));
        };
        if !narrowing_operator(operator) {
            continue;
        }
        for (key, values) in keys {
            let key = key.to_ascii_lowercase();
            let values: Vec<&Value> = match values {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            let texts: Option<Vec<&str>> = values.iter().map(|v| v.as_str()).collect();
            let Some(texts) = texts else {
                unclear.get_or_insert(format!(
                    "condition {operator} {key} holds a value that is not a string"
                ));
                continue;
            };
            let judged = if ACCOUNT_KEYS.contains(&key.as_str()) {
                judge_values(&texts, |v| {
                    is_account_id(v).then(|| Side::of_account(v, home))
                })
            } else if ORGANIZATION_KEYS.contains(&key.as_str()) {
                judge_values(&texts, |v| {
                    v.starts_with("o-").then(|| Side::of_organization(v, home))
                })
            } else if ORGANIZATION_PATH_KEYS.contains(&key.as_str()) {
                judge_values(&texts, |v| {
                    let organization = v.split('/').next().unwrap_or_default();
                    (organization.starts_with("o-") && !has_wildcard(organization))
                        .then(|| Side::of_organization(organization, home))
                })
            } else if SOURCE_ARN_KEYS.contains(&key.as_str()) {
                // A service acting for another account's resource (an Origin Access Control statement
                // naming someone else's distribution) lets that account in. An ARN whose account field
                // names no account (an S3 bucket's, or a wildcard there) says nothing either way.
                let accounts: Option<Vec<&str>> =
                    texts.iter().map(|v| resource_arn_account(v)).collect();
                match accounts {
                    Some(accounts) => Judged::Sides(
                        accounts
                            .into_iter()
                            .map(|account| Side::of_account(account, home))
                            .collect(),
                    ),
                    None => continue,
                }
            } else if PRINCIPAL_ARN_KEYS.contains(&key.as_str()) {
                judge_values(&texts, |v| {
                    arn_account(v).map(|account| Side::of_account(&account, home))
                })
            } else {
                continue; // narrows something else (an IP, an OIDC subject): still outside
            };
            match judged {
                Judged::EveryValue => {}
                Judged::Sides(sides) => {
                    any_limit = true;
                    let mut inside_only = true;
                    for side in sides {
                        match side {
                            Side::Inside => {}
                            Side::Outside(outsider) => {
                                inside_only = false;
                                limited.insert(outsider);
                            }
                            Side::Unknown(why) => {
                                inside_only = false;
                                unclear.get_or_insert(why);
                            }
                        }
                    }
                    if inside_only {
                        // AND with the other conditions: only this account or organization passes.
                        return Scope::Inside;
                    }
                }
                Judged::Unreadable(value) => {
                    unclear.get_or_insert(format!(
                        "condition {operator} {key} value `{value}` names no account or organization that can be told"
                    ));
                }
            }
        }
    }
    if let Some(why) = unclear {
        return Scope::Unclear(why);
    }
    if any_limit {
        Scope::Limited(limited)
    } else {
        Scope::Open
    }
}

enum Side {
    Inside,
    Outside(Outsider),
    Unknown(String),
}

impl Side {
    fn of_account(account: &str, home: &Home) -> Side {
        if account == home.account_id {
            Side::Inside
        } else {
            Side::Outside(Outsider::Account(account.to_string()))
        }
    }

    fn of_organization(organization: &str, home: &Home) -> Side {
        match &home.organization {
            Organization::Member(ours) if ours == organization => Side::Inside,
            Organization::Member(_) | Organization::None => {
                Side::Outside(Outsider::Organization(organization.to_string()))
            }
            Organization::Unknown(why) => Side::Unknown(format!(
                "it admits organization {organization}, and this account's organization is unknown ({why})"
            )),
        }
    }
}

enum Judged {
    /// A value is only wildcards: the condition matches everyone and narrows nothing.
    EveryValue,
    Sides(Vec<Side>),
    /// A value that is neither wildcards nor readable (a partial wildcard such as `1234*`).
    Unreadable(String),
}

fn has_wildcard(value: &str) -> bool {
    value.contains('*') || value.contains('?')
}

fn judge_values(values: &[&str], side: impl Fn(&str) -> Option<Side>) -> Judged {
    if values.is_empty() {
        return Judged::Unreadable(String::new());
    }
    if values.iter().any(|v| v.chars().all(|c| c == '*')) {
        return Judged::EveryValue;
    }
    let mut sides = Vec::new();
    for value in values {
        match side(value) {
            Some(found)
                if !has_wildcard(value)
                    || value
                        .split('/')
                        .next()
                        .is_some_and(|head| !has_wildcard(head)) =>
            {
                sides.push(found)
            }
            _ => return Judged::Unreadable(value.to_string()),
        }
    }
    Judged::Sides(sides)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const US: &str = "111122223333";
    const THEM: &str = "210987654321";

    /// An Origin Access Control statement without aws:SourceArn lets any account's distribution read
    /// the bucket; with it, or for a write (CloudTrail delivering), or to an account, nothing is said.
    #[test]
    fn a_service_reading_data_for_any_account_is_said_and_a_bound_or_writing_one_is_not() {
        let policy = |statements: Value| json!({"Version": "2012-10-17", "Statement": statements});
        let oac = json!({"Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shop/*"});
        assert_eq!(
            unbound_service_reads(&policy(json!([oac.clone()]))),
            ["cloudfront.amazonaws.com (s3:GetObject)"]
        );
        let mut bound = oac.clone();
        bound["Condition"] = json!({"StringEquals": {"AWS:SourceArn":
            "arn:aws:cloudfront::111122223333:distribution/E1"}});
        assert!(unbound_service_reads(&policy(json!([bound]))).is_empty());
        let delivery = json!({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": ["s3:PutObject", "s3:GetBucketAcl"], "Resource": "*"});
        assert!(unbound_service_reads(&policy(json!([delivery]))).is_empty());
        let account =
            json!({"Effect": "Allow", "Principal": {"AWS": THEM}, "Action": "s3:GetObject"});
        assert!(unbound_service_reads(&policy(json!([account]))).is_empty());
        // Wildcards and NotAction read data too; a deny lets no one in.
        let wide = json!({"Effect": "Allow", "Principal": {"Service": ["logs.amazonaws.com"]},
            "Action": ["kms:Decrypt*", "kms:Describe*"]});
        assert_eq!(
            unbound_service_reads(&policy(json!([wide]))),
            ["logs.amazonaws.com (kms:Decrypt*)"]
        );
        let not_action = json!({"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "NotAction": "sqs:DeleteQueue"});
        assert_eq!(
            unbound_service_reads(&policy(json!(not_action))),
            ["sns.amazonaws.com (every action but \"sqs:DeleteQueue\")"]
        );
        let deny = json!({"Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:*"});
        assert!(unbound_service_reads(&policy(json!([deny]))).is_empty());
    }

    fn home() -> Home {
        Home {
            account_id: US.into(),
            organization: Organization::Member("o-ours12345".into()),
        }
    }

    fn allow(principal: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "S", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "*"}
        ]})
    }

    fn allow_if(principal: Value, condition: Value) -> Value {
        json!({"Statement": {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole",
            "Condition": condition}})
    }

    fn outsiders(document: &Value) -> Vec<Outsider> {
        let reading = read_policy(document, &home());
        assert!(
            reading.unclassified.is_empty(),
            "{:?}",
            reading.unclassified
        );
        reading.outsiders().into_iter().collect()
    }

    /// The key policy AWS's console writes to let "every principal of the account" use a key through a
    /// service: `*` narrowed by `kms:CallerAccount` to this account is inside; another account is not.
    #[test]
    fn a_key_policy_narrowed_by_kms_caller_account_admits_only_that_account() {
        let narrowed = |account: &str| {
            allow_if(
                json!({"AWS": "*"}),
                json!({"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": "ec2.us-east-1.amazonaws.com"}}),
            )
        };
        assert_eq!(outsiders(&narrowed(US)), vec![]);
        assert_eq!(
            outsiders(&narrowed(THEM)),
            vec![Outsider::Account(THEM.into())]
        );
    }

    #[test]
    fn every_spelling_of_another_account_is_that_account() {
        for principal in [
            json!({"AWS": format!("arn:aws:iam::{THEM}:root")}),
            json!({"AWS": THEM}),
            json!({"AWS": [format!("arn:aws:iam::{US}:role/mine"), format!("arn:aws:iam::{THEM}:role/vendor")]}),
            json!({"AWS": format!("arn:aws:sts::{THEM}:assumed-role/vendor/session")}),
            json!({"AWS": format!("arn:aws-us-gov:iam::{THEM}:user/path/to/u")}),
        ] {
            assert_eq!(
                outsiders(&allow(principal.clone())),
                vec![Outsider::Account(THEM.into())],
                "{principal}"
            );
        }
    }

    #[test]
    fn this_account_and_services_are_inside() {
        for principal in [
            json!({"AWS": format!("arn:aws:iam::{US}:root")}),
            json!({"AWS": US}),
            json!({"AWS": [format!("arn:aws:iam::{US}:role/a"), format!("arn:aws:iam::{US}:user/b")]}),
            json!({"Service": "lambda.amazonaws.com"}),
            json!({"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}),
            // A deleted role, shown by its unique ID: it matches no one.
            json!({"AWS": "AROAEXAMPLEID1234567"}),
        ] {
            assert_eq!(outsiders(&allow(principal.clone())), vec![], "{principal}");
        }
    }

    /// Actions match whatever their case; ARNs only in theirs (`ArnLike` is case-sensitive). Both take
    /// `*` for any run (none included) and `?` for one character.
    #[test]
    fn actions_match_in_any_case_and_arns_only_in_theirs() {
        assert!(action_matches("s3:Get*", "S3:GETOBJECT"));
        assert!(action_matches("s3:?etObject", "s3:getobject"));
        assert!(!action_matches("s3:Get?", "s3:Get"));
        assert!(arn_like(
            "arn:aws:iam::*:role/*/Admin",
            "arn:aws:iam::1:role/a/b/Admin"
        ));
        assert!(arn_like(
            "arn:aws:iam::1:user/break-?lass",
            "arn:aws:iam::1:user/break-glass"
        ));
        assert!(arn_like("arn:aws:iam::1:role/R*", "arn:aws:iam::1:role/R"));
        assert!(!arn_like(
            "arn:aws:iam::1:role/Admin",
            "arn:aws:iam::1:role/admin"
        ));
        assert!(!arn_like(
            "arn:aws:iam::*:role/*/Admin",
            "arn:aws:iam::1:role/Admin"
        ));
    }

    #[test]
    fn wildcards_and_not_principal_let_anyone_in() {
        assert_eq!(outsiders(&allow(json!("*"))), vec![Outsider::Anyone]);
        assert_eq!(
            outsiders(&allow(json!({"AWS": "*"}))),
            vec![Outsider::Anyone]
        );
        assert_eq!(
            outsiders(&allow(json!({"AWS": ["*"]}))),
            vec![Outsider::Anyone]
        );
        let not_principal = json!({"Statement": [{"Effect": "Allow",
            "NotPrincipal": {"AWS": format!("arn:aws:iam::{US}:root")}, "Action": "sqs:*", "Resource": "*"}]});
        let reading = read_policy(&not_principal, &home());
        assert_eq!(
            reading.outsiders().into_iter().collect::<Vec<_>>(),
            vec![Outsider::Anyone]
        );
        assert_eq!(reading.outside[0].principal.key, "NotPrincipal");
    }

    #[test]
    fn denies_are_not_grants() {
        let document = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}]});
        assert_eq!(read_policy(&document, &home()), PolicyReading::default());
    }

    #[test]
    fn federated_providers_are_outside_even_when_the_provider_is_ours() {
        let github = format!("arn:aws:iam::{US}:oidc-provider/token.actions.githubusercontent.com");
        let document = allow_if(
            json!({"Federated": github}),
            json!({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"},
                   "StringEquals": {"aws:PrincipalAccount": US}}),
        );
        assert_eq!(outsiders(&document), vec![Outsider::Federated(github)]);
        let saml = json!({"Federated": format!("arn:aws:iam::{US}:saml-provider/Okta")});
        assert_eq!(outsiders(&allow(saml)).len(), 1);
        assert_eq!(
            outsiders(&allow(
                json!({"Federated": "cognito-identity.amazonaws.com"})
            )),
            vec![Outsider::Federated("cognito-identity.amazonaws.com".into())]
        );
    }

    #[test]
    fn conditions_narrowing_to_this_account_or_organization_keep_a_grant_inside() {
        for condition in [
            json!({"StringEquals": {"aws:PrincipalAccount": US}}),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-ours12345"}}),
            json!({"StringEquals": {"AWS:SourceAccount": [US]}}),
            json!({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-ours12345/r-ab12/*"]}}),
            json!({"ArnLike": {"aws:PrincipalArn": format!("arn:aws:iam::{US}:role/*")}}),
            // Other conditions AND'ed with an inside-only one change nothing.
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}, "StringEquals": {"aws:PrincipalAccount": US}}),
        ] {
            assert_eq!(
                outsiders(&allow_if(json!("*"), condition.clone())),
                vec![],
                "{condition}"
            );
        }
    }

    #[test]
    fn conditions_that_do_not_narrow_to_this_account_leave_the_grant_outside() {
        for condition in [
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            json!({"Bool": {"aws:SecureTransport": "true"}}),
            // IfExists and ForAllValues are true when the key is missing: they admit everyone without it.
            json!({"StringEqualsIfExists": {"aws:PrincipalAccount": US}}),
            json!({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-ours12345"}}),
            json!({"StringNotEquals": {"aws:PrincipalAccount": THEM}}),
            // A wildcard alone matches every account.
            json!({"StringLike": {"aws:PrincipalAccount": "*"}}),
        ] {
            assert_eq!(
                outsiders(&allow_if(json!("*"), condition.clone())),
                vec![Outsider::Anyone],
                "{condition}"
            );
        }
    }

    #[test]
    fn conditions_naming_other_accounts_or_organizations_name_them() {
        let document = allow_if(
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalAccount": [US, THEM]}}),
        );
        assert_eq!(outsiders(&document), vec![Outsider::Account(THEM.into())]);
        let document = allow_if(
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-theirs999"}}),
        );
        assert_eq!(
            outsiders(&document),
            vec![Outsider::Organization("o-theirs999".into())]
        );
        // A service writing for another account's resources (the confused-deputy condition names it).
        let document = allow_if(
            json!({"Service": "s3.amazonaws.com"}),
            json!({"StringEquals": {"aws:SourceAccount": THEM}}),
        );
        assert_eq!(outsiders(&document), vec![Outsider::Account(THEM.into())]);
        // The console's Origin Access Control statement, naming another account's distribution: that
        // account reads through its own CloudFront.
        let document = allow_if(
            json!({"Service": "cloudfront.amazonaws.com"}),
            json!({"StringEquals": {"AWS:SourceArn": format!("arn:aws:cloudfront::{THEM}:distribution/E1")}}),
        );
        assert_eq!(outsiders(&document), vec![Outsider::Account(THEM.into())]);
        // Naming this account's distribution, or a bucket (whose ARN names no account): as before.
        for source in [
            format!("arn:aws:cloudfront::{US}:distribution/E1"),
            "arn:aws:s3:::reports".to_string(),
            "arn:aws:cloudfront::*:distribution/E1".to_string(),
        ] {
            let document = allow_if(
                json!({"Service": "cloudfront.amazonaws.com"}),
                json!({"ArnLike": {"aws:SourceArn": source}}),
            );
            assert_eq!(outsiders(&document), vec![], "{source}");
        }
        // Another account's root, but only when the principal is in this account: nobody passes.
        let document = allow_if(
            json!({"AWS": THEM}),
            json!({"StringEquals": {"aws:PrincipalAccount": US}}),
        );
        assert_eq!(outsiders(&document), vec![]);
    }

    #[test]
    fn an_account_outside_any_organization_treats_every_organization_as_outside() {
        let alone = Home {
            account_id: US.into(),
            organization: Organization::None,
        };
        let document = allow_if(
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-ours12345"}}),
        );
        let reading = read_policy(&document, &alone);
        assert_eq!(
            reading.outsiders().into_iter().collect::<Vec<_>>(),
            vec![Outsider::Organization("o-ours12345".into())]
        );
    }

    #[test]
    fn what_cannot_be_told_is_unclassified_not_dropped() {
        let unknown = Home {
            account_id: US.into(),
            organization: Organization::Unknown("AccessDeniedException".into()),
        };
        let by_org = allow_if(
            json!("*"),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-ours12345"}}),
        );
        let reading = read_policy(&by_org, &unknown);
        assert!(reading.outside.is_empty());
        assert!(
            reading.unclassified[0].contains("organization is unknown"),
            "{:?}",
            reading.unclassified
        );

        for (document, what) in [
            (
                allow(
                    json!({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
                ),
                "canonical user",
            ),
            (allow(json!({"AWS": "not-a-principal"})), "neither"),
            (allow(json!({"Weird": "x"})), "unknown principal type"),
            (allow(json!(42)), "neither `*` nor an object"),
            (
                allow_if(
                    json!("*"),
                    json!({"StringLike": {"aws:PrincipalAccount": "1111*"}}),
                ),
                "can be told",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "s3:*"}]}),
                "names no single Principal",
            ),
            (
                json!({"Statement": [{"Effect": "Maybe", "Principal": "*"}]}),
                "no Effect",
            ),
            (
                json!({"Statement": "everything"}),
                "neither a list nor an object",
            ),
            (json!(["not", "an", "object"]), "not a JSON object"),
        ] {
            let reading = read_policy(&document, &home());
            assert!(
                reading.unclassified.iter().any(|line| line.contains(what)),
                "{document}: {:?}",
                reading.unclassified
            );
        }
        assert!(read_policy_text("{not json", &home()).unclassified[0].contains("not valid JSON"));
    }

    #[test]
    fn grants_keep_their_statement_and_principal_as_written() {
        let document = json!({"Statement": [
            {"Sid": "Mine", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{US}:root")}, "Action": "*"},
            {"Sid": "Vendor", "Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{THEM}:root")]}, "Action": "*"}
        ]});
        let reading = read_policy(&document, &home());
        assert_eq!(
            reading.outside,
            vec![OutsideGrant {
                statement: 1,
                sid: Some("Vendor".into()),
                outsider: Outsider::Account(THEM.into()),
                principal: WrittenPrincipal {
                    key: "AWS".into(),
                    value: format!("arn:aws:iam::{THEM}:root"),
                },
            }]
        );
    }
}
