//! `resource_policy_deny`: one Deny statement added to a resource policy that lets someone outside the
//! account in, so that bucket, queue, topic, key, secret or repository answers no one outside the account,
//! whatever its Allow statements say (an explicit deny beats every allow:
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>).
//!
//! Who is outside is read by [`crate::services::common::policy_principals`]: another account, an
//! organization that is not ours, `*` not narrowed to this account or organization, `NotPrincipal`.
//! Everything else in the policy is kept exactly as it is (same-account grants keep working); what cannot
//! be classified is a High finding naming the resource ([`Inspection`] below), never silently skipped.
//!
//! The added statement ([`deny_statement`]) denies the service's actions on the resource to `Principal: *`
//! under two conditions, both of which must hold for the deny to apply:
//! - `StringNotEqualsIfExists aws:PrincipalAccount <this account>`: the caller's account is not this
//!   one. `...IfExists` makes the condition true when the key is missing, so anonymous requests (which
//!   carry no `aws:PrincipalAccount`) are denied too
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IfExists>,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalaccount>);
//! - `BoolIfExists aws:PrincipalIsAWSService false`: the caller is not an AWS service principal
//!   (`cloudtrail.amazonaws.com` writing logs keeps working); anonymous requests lack the key, so
//!   `...IfExists` keeps them denied
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice>).
//!
//! The caller (the responder applying the plan) is a principal of this account, so the first condition
//! never denies it; its account's root is never denied either, which keeps a KMS key's account-root
//! statement whole (the key stays manageable) and PutKeyPolicy runs with the lockout safety check on.
//! Other accounts of the organization are outside the account and are shut out too: the plan says so.
//!
//! Each service caps a policy's size (and SQS and SNS its statements, SQS also its conditions and
//! principals): a resource without room for the statement is proposed disabled, saying why
//! ([`Service::room`]).
//!
//! Undo writes the recorded document back (or deletes the policy when there was none), only while the
//! live document is still, as JSON with statement order kept, the one apply wrote; otherwise it is a
//! conflict, reported and left alone.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::organization;
use crate::services::common::policy_principals::{Home, PolicyReading, read_policy};
use crate::services::mail::same_document;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome, gather,
};

mod ecr;
mod kms;
mod s3;
mod secrets;
mod sns;
mod sqs;
#[cfg(test)]
mod tests;

pub struct ResourcePolicyDeny;

/// The kind's name, for kinds that order themselves around it.
pub const KIND: &str = "resource_policy_deny";

static INFO: KindInfo = KindInfo {
    name: KIND,
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::ResourcePolicies,
};

/// The Sid of the statement the cut adds: how apply, restore and a later plan recognise it.
pub const DENY_SID: &str = "HikkonukiOutsideDeny";

/// How many resources of one service are read at once.
const READ_CONCURRENCY: usize = 8;

/// The services whose resource policies the kind reads and cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    S3,
    Sqs,
    Sns,
    Kms,
    SecretsManager,
    Ecr,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::S3,
        Service::Sqs,
        Service::Sns,
        Service::Kms,
        Service::SecretsManager,
        Service::Ecr,
    ];

    /// The resource as the operator knows it, e.g. "S3 bucket".
    pub fn noun(self) -> &'static str {
        match self {
            Service::S3 => "S3 bucket",
            Service::Sqs => "SQS queue",
            Service::Sns => "SNS topic",
            Service::Kms => "KMS key",
            Service::SecretsManager => "Secrets Manager secret",
            Service::Ecr => "ECR repository",
        }
    }

    /// The actions the deny names. SNS topic policies take only the topic actions it lists, so they are
    /// named one by one (sns-access-policy-language-api-permissions-reference.html, see [`Service::room`]).
    fn actions(self) -> Value {
        match self {
            Service::S3 => json!("s3:*"),
            Service::Sqs => json!("sqs:*"),
            Service::Sns => json!([
                "sns:AddPermission",
                "sns:DeleteTopic",
                "sns:GetDataProtectionPolicy",
                "sns:GetTopicAttributes",
                "sns:ListSubscriptionsByTopic",
                "sns:ListTagsForResource",
                "sns:Publish",
                "sns:PutDataProtectionPolicy",
                "sns:RemovePermission",
                "sns:SetTopicAttributes",
                "sns:Subscribe"
            ]),
            Service::Kms => json!("kms:*"),
            Service::SecretsManager => json!("secretsmanager:*"),
            Service::Ecr => json!("ecr:*"),
        }
    }

    /// The statement's `Resource`: the resource itself. A key policy and a secret's policy apply to their
    /// own resource, written `*`; an ECR repository policy has no `Resource` element.
    fn resource(self, arn: &str) -> Option<Value> {
        match self {
            Service::S3 => Some(json!([arn, format!("{arn}/*")])),
            Service::Sqs | Service::Sns => Some(json!(arn)),
            Service::Kms | Service::SecretsManager => Some(json!("*")),
            Service::Ecr => None,
        }
    }

    /// The documented caps of the service's policies, and the page saying so.
    fn limits(self) -> Limits {
        let bytes_only = |bytes, page| Limits {
            bytes,
            statements: None,
            conditions: None,
            principals: None,
            page,
        };
        match self {
            Service::S3 => bytes_only(
                20 * 1024,
                "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html",
            ),
            Service::Sqs => Limits {
                bytes: 8_192,
                statements: Some(20),
                conditions: Some(10),
                principals: Some(50),
                page: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html",
            },
            Service::Sns => Limits {
                statements: Some(100),
                ..bytes_only(
                    30 * 1024,
                    "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html",
                )
            },
            Service::Kms => bytes_only(
                32 * 1024,
                "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html#key-policy-limit",
            ),
            Service::SecretsManager => bytes_only(
                20_480,
                "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutResourcePolicy.html",
            ),
            Service::Ecr => bytes_only(
                10_240,
                "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_SetRepositoryPolicy.html",
            ),
        }
    }

    /// Why `document` does not fit the service's caps, if it does not.
    pub fn room(self, document: &str) -> Option<String> {
        let limits = self.limits();
        let (max_bytes, page) = (limits.bytes, limits.page);
        if document.len() > max_bytes {
            return Some(format!(
                "with the deny statement the policy would be {} bytes, over the {max_bytes} bytes a {} policy may hold ({page}); make room by hand (or replace the policy) instead",
                document.len(),
                self.noun()
            ));
        }
        let parsed = serde_json::from_str::<Value>(document).ok();
        let statements: Vec<&Value> = match parsed.as_ref().and_then(|d| d.get("Statement")) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single) => vec![single],
            None => Vec::new(),
        };
        let counted = [
            ("statements", limits.statements, statements.len().max(1)),
            ("conditions", limits.conditions, conditions_in(&statements)),
            ("principals", limits.principals, principals_in(&statements)),
        ];
        counted.into_iter().find_map(|(what, max, count)| match max {
            Some(max) if count > max => Some(format!(
                "with the deny statement the policy would have {count} {what}, over the {max} a {} policy may hold ({page}); make room by hand instead",
                self.noun()
            )),
            _ => None,
        })
    }
}

/// A service's documented caps on one policy; `None` where it documents none.
struct Limits {
    bytes: usize,
    statements: Option<usize>,
    conditions: Option<usize>,
    principals: Option<usize>,
    page: &'static str,
}

/// The policy's conditions, counted as IAM names them: one per condition key under an operator, whatever
/// the number of values (`{"StringEquals": {"aws:SourceArn": [a, b], "aws:SourceAccount": c}}` is two),
/// summed over all statements. SQS's quotas page gives the cap (10) without saying how it counts; this is
/// the reading its other caps share (per policy, not per statement, which "Actions per statement" is).
fn conditions_in(statements: &[&Value]) -> usize {
    statements
        .iter()
        .filter_map(|s| s.get("Condition").and_then(Value::as_object))
        .flat_map(|operators| operators.values())
        .map(|keys| keys.as_object().map_or(1, |keys| keys.len()))
        .sum()
}

/// The policy's principals: each value under `Principal` or `NotPrincipal`, `"*"` being one and each
/// entry of an `AWS`/`Service`/`Federated`/`CanonicalUser` list one, summed over all statements (as for
/// [`conditions_in`], SQS documents the cap of 50 per policy without saying how it counts).
fn principals_in(statements: &[&Value]) -> usize {
    let values = |v: &Value| match v {
        Value::Array(items) => items.len(),
        _ => 1,
    };
    statements
        .iter()
        .flat_map(|s| [s.get("Principal"), s.get("NotPrincipal")])
        .flatten()
        .map(|principal| match principal {
            Value::Object(by_type) => by_type.values().map(values).sum(),
            other => values(other),
        })
        .sum()
}

/// A resource's policy, as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyState {
    pub service: Service,
    /// The resource as its service's API names it: bucket name, queue name (its URL depends on the
    /// endpoint), topic ARN, key ID, secret ARN, repository name. The cut's target is its ARN.
    pub resource: String,
    /// The account whose principals stay inside.
    pub account_id: String,
    /// The policy document exactly as the service returned it; none when the resource has no policy.
    pub policy: Option<String>,
}

/// What restore needs: the document to put back and the one apply wrote, which must still be there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub service: Service,
    pub resource: String,
    pub arn: String,
    /// The prior document; none means the policy is deleted on restore.
    pub before: Option<String>,
    pub applied: String,
}

/// The statement the cut adds for a resource of `service` with this ARN in `account_id`.
pub fn deny_statement(service: Service, arn: &str, account_id: &str) -> Value {
    let mut statement = serde_json::Map::new();
    statement.insert("Sid".into(), json!(DENY_SID));
    statement.insert("Effect".into(), json!("Deny"));
    statement.insert("Principal".into(), json!("*"));
    statement.insert("Action".into(), service.actions());
    if let Some(resource) = service.resource(arn) {
        statement.insert("Resource".into(), resource);
    }
    statement.insert(
        "Condition".into(),
        json!({
            "StringNotEqualsIfExists": {"aws:PrincipalAccount": account_id},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}
        }),
    );
    Value::Object(statement)
}

/// Whether the document already holds exactly the deny this kind writes for the resource: only then is
/// it cut. A statement merely carrying the Sid (an edited deny, or one placed to pass for it, even an
/// Allow) is not.
fn holds_our_deny(document: &Value, service: Service, arn: &str, account_id: &str) -> bool {
    let ours = deny_statement(service, arn, account_id);
    let same = |statement: &Value| crate::plan::compare::same_state(statement, &ours);
    match document.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().any(same),
        Some(single) => same(single),
        None => false,
    }
}

/// Whether the document holds a statement with the cut's Sid.
fn holds_our_statement(document: &Value) -> bool {
    match document.get("Statement") {
        Some(Value::Array(statements)) => statements
            .iter()
            .any(|s| s.get("Sid").and_then(Value::as_str) == Some(DENY_SID)),
        Some(single) => single.get("Sid").and_then(Value::as_str) == Some(DENY_SID),
        None => false,
    }
}

/// The prior document with the deny statement appended (a single statement object becomes a list, its
/// order kept), as compact JSON; every other key and statement stays as it was. `None` when the prior
/// text is not a JSON object.
pub fn with_deny(
    before: Option<&str>,
    service: Service,
    arn: &str,
    account_id: &str,
) -> Option<String> {
    let deny = deny_statement(service, arn, account_id);
    let mut document = match before {
        None => json!({"Version": "2012-10-17", "Statement": []}),
        Some(text) => serde_json::from_str::<Value>(text).ok()?,
    };
    let object = document.as_object_mut()?;
    let statements = match object.remove("Statement") {
        None => vec![deny],
        Some(Value::Array(mut items)) => {
            items.push(deny);
            items
        }
        Some(single) => vec![single, deny],
    };
    object.insert("Statement".into(), Value::Array(statements));
    serde_json::to_string(&document).ok()
}

/// `arn:<partition>:...` of the caller, for ARNs the kind builds (S3 buckets).
fn partition_of(caller_arn: &str) -> &str {
    caller_arn
        .split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// One resource of the region and its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub service: Service,
    pub resource: String,
    pub arn: String,
    pub policy: Option<String>,
}

/// A resource (or a whole service) whose policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unread {
    pub service: Service,
    /// The resource's ARN or name; none when listing the service failed.
    pub resource: Option<String>,
    pub error: String,
}

/// Everything discovery read in one region, shared by the kind and its inspection.
#[derive(Debug, Clone)]
pub struct Readings {
    pub home: Home,
    pub found: Vec<Found>,
    pub unread: Vec<Unread>,
}

/// What each service's adapter hands back from listing a region: the resources it found and those it
/// could not read.
pub(crate) type Listing = (Vec<Found>, Vec<Unread>);

/// Parts a service's per-resource reads into what was read and what was not.
fn split(reads: Vec<Result<Found, Unread>>) -> Listing {
    let mut listing: Listing = (Vec::new(), Vec::new());
    for read in reads {
        match read {
            Ok(found) => listing.0.push(found),
            Err(unread) => listing.1.push(unread),
        }
    }
    listing
}

async fn list_service(
    ctx: &RegionCtx,
    service: Service,
    partition: &str,
) -> Result<Listing, ServiceError> {
    match service {
        Service::S3 => s3::list(ctx, partition).await,
        Service::Sqs => sqs::list(ctx).await,
        Service::Sns => sns::list(ctx).await,
        Service::Kms => kms::list(ctx).await,
        Service::SecretsManager => secrets::list(ctx).await,
        Service::Ecr => ecr::list(ctx).await,
    }
}

/// Reads the policy of each listed resource (the name its API takes, and its ARN), a few at once.
/// `without_id` counts the resources the listing answered without a name or ARN: no call can name them,
/// so they are reported, never skipped (issue 11).
pub(crate) async fn read_listed(
    ctx: &RegionCtx,
    service: Service,
    listed: Vec<(String, String)>,
    without_id: usize,
) -> Result<Listing, ServiceError> {
    let reads = gather(listed, READ_CONCURRENCY, |(resource, arn)| async move {
        Ok(match read(ctx, service, &resource).await {
            Ok(Some(policy)) => vec![Ok(Found {
                service,
                resource,
                arn,
                policy,
            })],
            Ok(None) => vec![], // deleted while listing
            Err(err) => vec![Err(Unread {
                service,
                resource: Some(arn),
                error: err.to_string(),
            })],
        })
    })
    .await?;
    let mut listing = split(reads);
    listing.1.extend(unnamed(service, without_id));
    Ok(listing)
}

/// What a listing answered without the name or ARN a policy call needs, counted: read by no one, so
/// reported (a High finding), never dropped.
pub(crate) fn unnamed(service: Service, count: usize) -> Option<Unread> {
    (count > 0).then(|| Unread {
        service,
        resource: None,
        error: format!(
            "the listing answered {count} {} without the name or ARN a policy call needs",
            service.noun()
        ),
    })
}

/// The resource's policy now: `None` when the resource is gone, `Some(None)` when it has no policy.
async fn read(
    ctx: &RegionCtx,
    service: Service,
    resource: &str,
) -> Result<Option<Option<String>>, ServiceError> {
    match service {
        Service::S3 => s3::read(ctx, resource).await,
        Service::Sqs => sqs::read(ctx, resource).await,
        Service::Sns => sns::read(ctx, resource).await,
        Service::Kms => kms::read(ctx, resource).await,
        Service::SecretsManager => secrets::read(ctx, resource).await,
        Service::Ecr => ecr::read(ctx, resource).await,
    }
}

async fn write(
    ctx: &RegionCtx,
    service: Service,
    resource: &str,
    document: &str,
) -> Result<(), ServiceError> {
    match service {
        Service::S3 => s3::write(ctx, resource, document).await,
        Service::Sqs => sqs::write(ctx, resource, document).await,
        Service::Sns => sns::write(ctx, resource, document).await,
        Service::Kms => kms::write(ctx, resource, document).await,
        Service::SecretsManager => secrets::write(ctx, resource, document).await,
        Service::Ecr => ecr::write(ctx, resource, document).await,
    }
}

/// Removes the policy, for a resource that had none before the cut. Topics and keys always have one.
async fn delete(ctx: &RegionCtx, service: Service, resource: &str) -> Result<(), ServiceError> {
    match service {
        Service::S3 => s3::delete(ctx, resource).await,
        Service::Sqs => sqs::delete(ctx, resource).await,
        Service::SecretsManager => secrets::delete(ctx, resource).await,
        Service::Ecr => ecr::delete(ctx, resource).await,
        Service::Sns | Service::Kms => Err(ServiceError::local(
            INFO.name,
            format!(
                "a {} always has a policy, so there is none to delete for {resource}",
                service.noun()
            ),
        )),
    }
}

/// Reads every service's resources in the region, once per run (the kind and its inspection share it).
pub async fn readings(ctx: &RegionCtx, scope: &DiscoveryScope) -> Readings {
    let account = scope.caller.account.clone();
    let partition = partition_of(&scope.caller.arn).to_string();
    let read = ctx.once("resource_policy_deny.readings", || async move {
        let home = organization::home(ctx, &account).await;
        let mut found = Vec::new();
        let mut unread = Vec::new();
        for service in Service::ALL {
            match list_service(ctx, service, &partition).await {
                Ok((listed, failed)) => {
                    found.extend(listed);
                    unread.extend(failed);
                }
                Err(err) => unread.push(Unread {
                    service,
                    resource: None,
                    error: err.to_string(),
                }),
            }
        }
        Ok::<_, std::convert::Infallible>(Readings {
            home,
            found,
            unread,
        })
    });
    match read.await {
        Ok(readings) => readings,
        Err(never) => match never {},
    }
}

/// The proposal for one resource, or nothing when its policy lets no one outside in (or already holds
/// the deny).
pub fn propose(found: &Found, home: &Home) -> Option<Proposal<PolicyState>> {
    let text = found.policy.as_deref()?;
    let document: Value = serde_json::from_str(text).ok()?;
    if holds_our_deny(&document, found.service, &found.arn, &home.account_id) {
        return None;
    }
    let reading = read_policy(&document, home);
    if !reading.opens_outside() {
        return None;
    }
    // A statement under our Sid that is not our deny: appending ours would give the policy two
    // statements of one Sid, and it must not pass for a cut either. Proposed, switched off, saying so.
    let impostor = holds_our_statement(&document).then(|| {
        format!(
            "the policy holds a statement with the Sid {DENY_SID} that is not hikkonuki's deny for this resource (edited since a cut, or placed to pass for one), so it is not taken as cut: remove or rename that statement, then plan again"
        )
    });
    let after_text = with_deny(Some(text), found.service, &found.arn, &home.account_id)?;
    let before = PolicyState {
        service: found.service,
        resource: found.resource.clone(),
        account_id: home.account_id.clone(),
        policy: Some(text.to_string()),
    };
    let after = PolicyState {
        policy: Some(after_text.clone()),
        ..before.clone()
    };
    Some(Proposal {
        target: found.arn.clone(),
        reason: reason(found, &home.account_id, &reading),
        before,
        after,
        disabled_because: impostor.or_else(|| found.service.room(&after_text)),
    })
}

fn reason(found: &Found, account_id: &str, reading: &PolicyReading) -> String {
    let outsiders: Vec<String> = reading
        .outsiders()
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut reason = format!(
        "{} {} has a resource policy that lets in {}: a Deny statement ({DENY_SID}) for every principal outside account {account_id} (AWS service principals excepted) closes it. Every other statement is kept as it is, so grants inside the account keep working; other accounts of the organization are shut out too. Restore puts back the exact prior policy.",
        found.service.noun(),
        found.resource,
        outsiders.join(", ")
    );
    if reading
        .outside
        .iter()
        .any(|grant| grant.principal.key == "Service")
    {
        reason.push_str(" Not closed by this cut: grants to AWS service principals acting for other accounts (aws:SourceAccount, or aws:SourceArn naming another account's resource, such as its CloudFront distribution), since service principals are never denied; remove those statements by hand.");
    }
    reason
}

/// The state a cut's `before` implies after the cut, derived again (never taken on trust from `after`).
fn expected_after(cut: &TypedCut<PolicyState>) -> Option<String> {
    with_deny(
        cut.before.policy.as_deref(),
        cut.before.service,
        &cut.target,
        &cut.before.account_id,
    )
}

#[async_trait]
impl CutKind for ResourcePolicyDeny {
    type State = PolicyState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own resource's policy: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<PolicyState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.service != after.service
            || before.resource != after.resource
            || before.account_id != after.account_id
        {
            return Err(
                "`before` and `after` must name the same service, resource and account".into(),
            );
        }
        let Some(expected) = expected_after(cut) else {
            return Err("`before.policy` is not a JSON object".into());
        };
        match after.policy.as_deref() {
            Some(written) if same_document(written, &expected) => Ok(()),
            _ => Err(format!(
                "`after.policy` must be `before.policy` with exactly the {DENY_SID} statement appended for target `{}`",
                cut.target
            )),
        }
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<PolicyState>>, ServiceError> {
        let readings = readings(ctx, scope).await;
        let mut proposals = Vec::new();
        for found in &readings.found {
            let Some(mut proposal) = propose(found, &readings.home) else {
                continue;
            };
            if found.service == Service::S3 && proposal.disabled_because.is_none() {
                match s3::refusal(ctx, &found.resource, &readings.home.account_id).await {
                    Ok(refused) => proposal.disabled_because = refused,
                    // Unread, the cut stays enabled: should S3 refuse it, apply's error names the cause.
                    Err(err) => tracing::warn!(
                        "{}: whether S3 Block Public Access would refuse its policy is unknown ({err}); the cut stays enabled",
                        crate::report::escape::visible(&found.arn)
                    ),
                }
            }
            proposals.push(proposal);
        }
        Ok(proposals)
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PolicyState>,
    ) -> Result<Option<PolicyState>, ServiceError> {
        let before = &cut.before;
        Ok(read(ctx, before.service, &before.resource)
            .await?
            .map(|policy| {
                // AWS may return the text reformatted: report the recorded one when they mean the same.
                let policy = match (&policy, &before.policy) {
                    (Some(live), Some(recorded)) if same_document(live, recorded) => {
                        Some(recorded.clone())
                    }
                    _ => policy,
                };
                PolicyState {
                    policy,
                    ..before.clone()
                }
            }))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<PolicyState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        write(ctx, record.service, &record.resource, &record.applied).await?;
        Ok(record)
    }

    /// Services give a policy back re-formatted (SQS adds spaces): the cut holds while the live document
    /// is the one the cut wrote, as JSON.
    fn holds(&self, cut: &TypedCut<PolicyState>, live: &PolicyState) -> bool {
        live.service == cut.after.service
            && live.resource == cut.after.resource
            && crate::services::common::same_json_document(
                live.policy.as_deref(),
                cut.after.policy.as_deref(),
            )
    }

    fn undo_record_for(&self, cut: &TypedCut<PolicyState>) -> Result<UndoRecord, ServiceError> {
        let applied = cut.after.policy.clone().ok_or_else(|| {
            ServiceError::local(
                INFO.name,
                "`after.policy` is missing: the cut writes a policy",
            )
        })?;
        Ok(UndoRecord {
            service: cut.before.service,
            resource: cut.before.resource.clone(),
            arn: cut.target.clone(),
            before: cut.before.policy.clone(),
            applied,
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let name = format!("{} {}", undo.service.noun(), undo.resource);
        let live = match read(ctx, undo.service, &undo.resource).await? {
            Some(live) => live,
            None => {
                return Ok(UndoOutcome {
                    notes: vec![format!(
                        "conflict: {name} no longer exists; its policy cannot be put back"
                    )],
                });
            }
        };
        let is = |document: Option<&str>| match (live.as_deref(), document) {
            (Some(live), Some(document)) => same_document(live, document),
            (None, None) => true,
            _ => false,
        };
        let note = if is(Some(&undo.applied)) {
            match &undo.before {
                Some(before) => {
                    write(ctx, undo.service, &undo.resource, before).await?;
                    format!("{name}: prior resource policy put back")
                }
                None => {
                    delete(ctx, undo.service, &undo.resource).await?;
                    format!("{name}: policy deleted (it had none before the cut)")
                }
            }
        } else if is(undo.before.as_deref()) {
            format!("{name}: resource policy already as before")
        } else {
            format!("conflict: the resource policy of {name} was changed after the cut; left alone")
        };
        Ok(UndoOutcome { notes: vec![note] })
    }
}

/// The findings discovery owes the responder: policies it read but could not classify, and resources or
/// services whose policies it could not read. Both are High: an outsider may be let in unseen.
#[async_trait]
impl Inspection for ResourcePolicyDeny {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn global(&self) -> bool {
        false
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        Ok(findings(&ctx.region, &readings(ctx, scope).await))
    }
}

/// The High findings for one region's readings.
pub fn findings(region: &str, readings: &Readings) -> Vec<Finding> {
    let mut findings = Vec::new();
    for found in &readings.found {
        let Some(text) = found.policy.as_deref() else {
            continue;
        };
        use crate::services::common::policy_principals::{
            read_policy, read_policy_text, unbound_service_reads,
        };
        // Parsed once for both readings; text that is not JSON is read_policy_text's to report.
        let document = serde_json::from_str::<serde_json::Value>(text).ok();
        if let Some(document) = &document {
            let unbound = unbound_service_reads(document);
            if !unbound.is_empty() {
                findings.push(Finding {
                    check: INFO.name.to_string(),
                    region: region.to_string(),
                    resource: found.arn.clone(),
                    severity: Severity::High,
                    message: format!(
                        "the resource policy of {} {} lets AWS services read its data for any account's resources: {}, with no condition naming the resource or account they act for (aws:SourceArn, aws:SourceAccount): another account's distribution, bucket or topic can use this grant (the confused deputy). No cut here closes it (the deny never binds AWS services): add such a condition, or remove the statement.",
                        found.service.noun(),
                        found.resource,
                        unbound.join("; ")
                    ),
                });
            }
        }
        let reading = match &document {
            Some(document) => read_policy(document, &readings.home),
            None => read_policy_text(text, &readings.home),
        };
        if reading.unclassified.is_empty() {
            continue;
        }
        findings.push(Finding {
            check: INFO.name.to_string(),
            region: region.to_string(),
            resource: found.arn.clone(),
            severity: Severity::High,
            message: format!(
                "the resource policy of {} {} could not be fully classified, so who it lets in from outside the account is not known: {}. Read it by hand and cut what lets outsiders in.",
                found.service.noun(),
                found.resource,
                reading.unclassified.join("; ")
            ),
        });
    }
    for unread in &readings.unread {
        let (resource, what) = match &unread.resource {
            Some(resource) => (
                resource.clone(),
                format!(
                    "the resource policy of {} {resource}",
                    unread.service.noun()
                ),
            ),
            None => (
                unread.service.noun().to_string(),
                format!(
                    "the {} resource policies of this region",
                    unread.service.noun()
                ),
            ),
        };
        findings.push(Finding {
            check: INFO.name.to_string(),
            region: region.to_string(),
            resource,
            severity: Severity::High,
            message: format!(
                "{what} could not be read ({}), so an outsider it lets in is not cut. Check it by hand.",
                unread.error
            ),
        });
    }
    findings
}
