//! `lambda_permission_remove`: statements of a function's resource policy that let anyone invoke it
//! (principal `*` with no condition naming a source account, source ARN or organization). Such a statement
//! is what makes a public function URL, or a public API in front of the function, reachable by anyone;
//! removing it (RemovePermission by statement ID) closes that path even if the URL or trigger stays.
//!
//! One cut per statement; `before` holds the statement exactly as GetPolicy returned it, and undo adds it
//! back with AddPermission under the same statement ID, with the same action, principal and conditions.
//! A statement re-added since under that ID is left alone and reported, unless it is the same statement in
//! the form Lambda writes it ([`same_statement`]): restore's own, read back by a later restore.

use async_trait::async_trait;
use aws_sdk_lambda::operation::add_permission::builders::AddPermissionFluentBuilder;
use aws_sdk_lambda::types::FunctionUrlAuthType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    condition_bool, invoked_via_function_url, is_not_found, is_url_invoke, per_function, qualified,
    qualifiers,
};
use crate::aws::RegionCtx;
use crate::services::common::unclassified;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct LambdaPermissionRemove;

static INFO: KindInfo = KindInfo {
    name: "lambda_permission_remove",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Lambda,
};

/// Condition keys that narrow who can use a statement: with any of them, principal `*` is not "anyone".
const NARROWING_KEYS: [&str; 4] = [
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:principalorgid",
    "aws:sourceowner",
];

/// Condition operators that demand the key be present and match. `…IfExists` passes a request without
/// the key (a direct invoke by anyone has no source ARN), `Not…` lets in everyone but a few, and
/// `ForAllValues:` passes an absent key: none of them narrows principal `*`.
const NARROWING_OPERATORS: [&str; 5] = [
    "stringequals",
    "stringequalsignorecase",
    "stringlike",
    "arnequals",
    "arnlike",
];

/// One statement as `before`, `after` and the undo record hold it; `statement` is None once removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementState {
    pub function_name: String,
    /// The alias whose policy holds the statement; none for the function's own policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub statement_id: String,
    pub statement: Option<Value>,
}

fn is_anyone(principal: &Value) -> bool {
    match principal {
        Value::String(p) => p == "*",
        Value::Object(map) => map.get("AWS").is_some_and(|aws| match aws {
            Value::String(p) => p == "*",
            Value::Array(items) => items.iter().any(|p| p == "*"),
            _ => false,
        }),
        _ => false,
    }
}

/// Whether one condition (operator, key, value) limits the statement to some source. A value that is
/// only wildcards (`*`) matches every source, so it limits nothing.
fn narrows(operator: &str, key: &str, value: &Value) -> bool {
    let operator = operator.to_ascii_lowercase();
    let operator = operator.strip_prefix("foranyvalue:").unwrap_or(&operator);
    let matches_everything = |v: &Value| v.as_str().is_some_and(|s| s.chars().all(|c| c == '*'));
    let values_narrow = match value {
        Value::Array(items) => !items.is_empty() && !items.iter().any(matches_everything),
        other => !matches_everything(other),
    };
    NARROWING_OPERATORS.contains(&operator)
        && NARROWING_KEYS.contains(&key.to_ascii_lowercase().as_str())
        && values_narrow
}

/// Whether any condition of the statement limits it to some source.
fn has_narrowing_condition(statement: &Value) -> bool {
    let Some(operators) = statement.get("Condition").and_then(Value::as_object) else {
        return false;
    };
    operators.iter().any(|(operator, keys)| {
        keys.as_object().is_some_and(|keys| {
            keys.iter()
                .any(|(key, value)| narrows(operator, key, value))
        })
    })
}

/// True for an Allow statement whose principal is anyone and that no condition narrows to a source:
/// this also covers `lambda:InvokeFunctionUrl` with `lambda:FunctionUrlAuthType` NONE, a condition on
/// the URL's auth type and not on who calls.
pub fn is_open_to_anyone(statement: &Value) -> bool {
    statement.get("Effect").and_then(Value::as_str) == Some("Allow")
        && statement.get("Principal").is_some_and(is_anyone)
        && !has_narrowing_condition(statement)
}

/// For a statement not open to anyone that still lets someone outside the account invoke the function
/// (another account, another organization, a service acting for another account's resource): who, and
/// how to remove it by hand. This kind removes only grants to anyone; `lambda_throttle` (on by default)
/// stops every invocation meanwhile, but the grant outlives a restore of it.
pub fn named_outsiders(
    statement: &Value,
    home: &crate::services::common::policy_principals::Home,
    resource: &str,
) -> Option<String> {
    if is_open_to_anyone(statement) {
        return None;
    }
    let document = serde_json::json!({ "Statement": [statement] });
    let reading = crate::services::common::policy_principals::read_policy(&document, home);
    if !reading.opens_outside() {
        return None;
    }
    let who: Vec<String> = reading
        .outsiders()
        .iter()
        .map(ToString::to_string)
        .collect();
    let sid = sid(statement).unwrap_or("(no Sid)");
    Some(format!(
        "its resource policy lets {} invoke it (statement {sid}), which no cut here removes (lambda_throttle stops every invocation meanwhile, but not after its restore): if that grant is not yours, remove it by hand (aws lambda remove-permission --function-name {resource} --statement-id {sid})",
        who.join(", ")
    ))
}

/// The conditions AddPermission can write, as (operator, key) in lower case: a statement with any other
/// condition could not be put back exactly. `lambda:InvokedViaFunctionUrl` is AddPermission's
/// `InvokedViaFunctionUrl` (<https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html>).
const REPRODUCIBLE_CONDITIONS: [(&str, &str); 6] = [
    ("arnlike", "aws:sourcearn"),
    ("stringequals", "aws:sourceaccount"),
    ("stringequals", "aws:principalorgid"),
    ("stringequals", "lambda:eventsourcetoken"),
    ("stringequals", "lambda:functionurlauthtype"),
    ("bool", "lambda:invokedviafunctionurl"),
];

/// The AddPermission parameters that re-create one statement exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionParameters {
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub principal_org_id: Option<String>,
    pub event_source_token: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
}

/// A single string, or a list of exactly one.
fn single_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.len() == 1 => items[0].as_str().map(str::to_string),
        _ => None,
    }
}

/// AddPermission's `Principal` for a statement's principal: `*`, a service, or an account/ARN.
fn principal_parameter(principal: &Value) -> Option<String> {
    match principal {
        Value::String(p) => Some(p.clone()),
        Value::Object(map) if map.len() == 1 => ["AWS", "Service"]
            .iter()
            .find_map(|key| map.get(*key))
            .and_then(single_string),
        _ => None,
    }
}

/// The AddPermission parameters for `statement`, or why AddPermission could not re-create it exactly
/// (several actions or principals, or a condition it cannot write).
pub fn permission_parameters(statement: &Value) -> Result<PermissionParameters, String> {
    let action = statement
        .get("Action")
        .and_then(single_string)
        .ok_or_else(|| format!("it has no single Action ({})", statement["Action"]))?;
    let principal = statement
        .get("Principal")
        .and_then(principal_parameter)
        .ok_or_else(|| format!("it has no single principal ({})", statement["Principal"]))?;
    let mut parameters = PermissionParameters {
        action,
        principal,
        ..PermissionParameters::default()
    };
    let conditions = match statement.get("Condition") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(conditions)) => conditions.clone(),
        Some(other) => return Err(format!("its Condition is not an object ({other})")),
    };
    for (operator, keys) in &conditions {
        let keys = keys
            .as_object()
            .ok_or_else(|| format!("its {operator} condition is not an object"))?;
        for (key, value) in keys {
            let pair = (operator.to_ascii_lowercase(), key.to_ascii_lowercase());
            if pair
                == (
                    "bool".to_string(),
                    "lambda:invokedviafunctionurl".to_string(),
                )
            {
                parameters.invoked_via_function_url =
                    Some(condition_bool(value).ok_or_else(|| {
                        format!("its {operator} condition {key} = {value} is not true or false")
                    })?);
                continue;
            }
            let value = single_string(value)
                .filter(|_| REPRODUCIBLE_CONDITIONS.contains(&(pair.0.as_str(), pair.1.as_str())))
                .ok_or_else(|| {
                    format!("AddPermission cannot write its condition {operator} {key} = {value}")
                })?;
            let slot = match pair.1.as_str() {
                "aws:sourcearn" => &mut parameters.source_arn,
                "aws:sourceaccount" => &mut parameters.source_account,
                "aws:principalorgid" => &mut parameters.principal_org_id,
                "lambda:eventsourcetoken" => &mut parameters.event_source_token,
                _ => &mut parameters.function_url_auth_type,
            };
            *slot = Some(value);
        }
    }
    // The emulator records the URL auth type as a field of the statement, not as a condition.
    if parameters.function_url_auth_type.is_none() {
        parameters.function_url_auth_type = statement
            .get("FunctionUrlAuthType")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok(parameters)
}

/// The AddPermission call that puts `statement` back on `function`, as it was.
pub fn add_permission_request(
    request: AddPermissionFluentBuilder,
    function: &str,
    statement_id: &str,
    statement: &Value,
) -> Result<AddPermissionFluentBuilder, String> {
    let parameters = permission_parameters(statement)
        .map_err(|why| format!("statement {statement_id} cannot be re-added: {why}"))?;
    Ok(request
        .function_name(function)
        .statement_id(statement_id)
        .action(parameters.action)
        .principal(parameters.principal)
        .set_source_arn(parameters.source_arn)
        .set_source_account(parameters.source_account)
        .set_principal_org_id(parameters.principal_org_id)
        .set_event_source_token(parameters.event_source_token)
        .set_function_url_auth_type(
            parameters
                .function_url_auth_type
                .map(|auth| FunctionUrlAuthType::from(auth.as_str())),
        )
        .set_invoked_via_function_url(parameters.invoked_via_function_url))
}

/// The resource-policy statements of the function (or of one alias), or none when it has no policy
/// (or no longer exists).
pub(super) async fn statements(
    ctx: &RegionCtx,
    function: &str,
    alias: Option<&str>,
) -> Result<Vec<Value>, ServiceError> {
    match policy_text(ctx, function, alias).await? {
        None => Ok(vec![]),
        Some(policy) => parse_statements(&policy, function, alias).map_err(|why| {
            ServiceError::local(
                "lambda:GetPolicy",
                format!(
                    "the resource policy of {} {why}",
                    qualified(function, alias)
                ),
            )
        }),
    }
}

/// The resource policy's text, or `None` when there is none (or the function is gone).
async fn policy_text(
    ctx: &RegionCtx,
    function: &str,
    alias: Option<&str>,
) -> Result<Option<String>, ServiceError> {
    let result = ctx
        .lambda()
        .get_policy()
        .function_name(function)
        .set_qualifier(alias.map(str::to_string))
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:GetPolicy", err));
    match result {
        Ok(out) => Ok(Some(out.policy().unwrap_or_default().to_string())),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The statements of a resource policy that belong to `function` (or the alias); the error says what
/// makes the document unreadable (not JSON, or no `Statement` list: GetPolicy documents the policy as
/// "the resource-based policy", a JSON document whose statements are its content,
/// <https://docs.aws.amazon.com/lambda/latest/api/API_GetPolicy.html>).
pub fn parse_statements(
    policy: &str,
    function: &str,
    alias: Option<&str>,
) -> Result<Vec<Value>, String> {
    let document: Value =
        serde_json::from_str(policy).map_err(|err| format!("is not JSON: {err}"))?;
    let all = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return Err("has no Statement list".into()),
    };
    Ok(all
        .into_iter()
        .filter(|statement| belongs_to(statement, function, alias))
        .collect())
}

/// Whether a statement is the function's own (`alias` None) or that alias's, by its Resource ARN
/// (`…:function:NAME` or `…:function:NAME:ALIAS`). AWS keeps each policy apart anyway; an endpoint that
/// shares one policy between a function and an alias pointing at `$LATEST` (the emulator) would
/// otherwise list each statement twice. A statement without a readable Resource is kept.
pub fn belongs_to(statement: &Value, function: &str, alias: Option<&str>) -> bool {
    let Some(resource) = statement.get("Resource").and_then(Value::as_str) else {
        return true;
    };
    let Some((_, qualifier)) = resource.rsplit_once(&format!(":function:{function}")) else {
        return true;
    };
    match alias {
        None => qualifier.is_empty(),
        Some(alias) => qualifier == format!(":{alias}"),
    }
}

/// Whether `current`, as GetPolicy returns it now, is the `recorded` statement: the same once each is
/// written as Lambda writes what AddPermission was given. AddPermission takes the principal as one string,
/// so a statement recorded as `{"AWS": "*"}` comes back as `"*"`, and an account given by ID comes back as
/// `{"AWS": "arn:aws:iam::ACCOUNT:root"}`
/// (<https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-cross-account.html>); IAM reads
/// `"*"` and `{"AWS": "*"}` alike, and an account's ID and its `:root` ARN alike
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>). A list
/// of one action or condition value is read as that value ([`permission_parameters`]) and so written back
/// as it. Anything else that differs (another action, principal, condition or resource) is a change.
pub fn same_statement(current: &Value, recorded: &Value) -> bool {
    as_lambda_writes(current) == as_lambda_writes(recorded)
}

/// The statement with its principal, action and condition values in the one form Lambda writes them.
fn as_lambda_writes(statement: &Value) -> Value {
    let mut statement = statement.clone();
    if let Some(fields) = statement.as_object_mut() {
        if let Some(principal) = fields.get_mut("Principal") {
            *principal = principal_as_lambda_writes(principal);
        }
        if let Some(action) = fields.get_mut("Action") {
            unwrap_one(action);
        }
        if let Some(Value::Object(operators)) = fields.get_mut("Condition") {
            for keys in operators.values_mut() {
                if let Value::Object(keys) = keys {
                    keys.values_mut().for_each(unwrap_one);
                }
            }
        }
    }
    statement
}

/// Anyone as `"*"`; one account, by ID or `arn:PARTITION:iam::ACCOUNT:root`, as its ID; any other
/// principal as it is, lists of one unwrapped.
fn principal_as_lambda_writes(principal: &Value) -> Value {
    let mut principal = principal.clone();
    if let Value::Object(types) = &mut principal {
        types.values_mut().for_each(unwrap_one);
        if types.len() == 1
            && let Some(Value::String(aws)) = types.get("AWS")
        {
            if aws == "*" {
                return Value::String("*".into());
            }
            if let Some(account) = root_account(aws) {
                return serde_json::json!({ "AWS": account });
            }
        }
    }
    principal
}

/// The account an account principal names: a bare account ID, or its root user's ARN.
fn root_account(principal: &str) -> Option<&str> {
    if crate::plan::is_account_id(principal) {
        return Some(principal);
    }
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _partition, "iam", "", account, "root"] if crate::plan::is_account_id(account) => {
            Some(account)
        }
        _ => None,
    }
}

fn unwrap_one(value: &mut Value) {
    if let Value::Array(items) = value
        && items.len() == 1
    {
        *value = items.remove(0);
    }
}

fn sid(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

async fn read(
    ctx: &RegionCtx,
    function: &str,
    alias: Option<&str>,
    statement_id: &str,
) -> Result<StatementState, ServiceError> {
    let statement = statements(ctx, function, alias)
        .await?
        .into_iter()
        .find(|s| sid(s) == Some(statement_id));
    Ok(StatementState {
        function_name: function.to_string(),
        alias: alias.map(str::to_string),
        statement_id: statement_id.to_string(),
        statement,
    })
}

/// The proposal for one statement, or nothing when it does not let anyone invoke.
pub fn propose(
    function: &str,
    alias: Option<&str>,
    statement: &Value,
) -> Option<Proposal<StatementState>> {
    let statement_id = sid(statement)?;
    if !is_open_to_anyone(statement) {
        return None;
    }
    let before = StatementState {
        function_name: function.to_string(),
        alias: alias.map(str::to_string),
        statement_id: statement_id.to_string(),
        statement: Some(statement.clone()),
    };
    let after = StatementState {
        statement: None,
        ..before.clone()
    };
    let action = statement
        .get("Action")
        .map(Value::to_string)
        .unwrap_or_default();
    let function = qualified(function, alias);
    let disabled_because = permission_parameters(statement).err().map(|why| {
        format!("statement {statement_id} could not be put back exactly on restore: {why}; remove it by hand if it must go")
    });
    let mut reason = format!(
        "The resource policy of Lambda function {function} lets anyone ({action}, principal *, no source condition) invoke it through statement {statement_id}. Removing the statement closes that path; restore adds it back exactly."
    );
    if is_url_invoke(statement) {
        reason.push_str(if invoked_via_function_url(statement) == Some(true) {
            " The statement applies to calls through the function URL (condition lambda:InvokedViaFunctionUrl): it is the lambda:InvokeFunction half of what AWS requires of function URLs created since October 2025, so removing it closes such a URL even while its auth type is NONE."
        } else {
            " It lets anyone call the function URL."
        });
    }
    Some(Proposal {
        target: format!("{function}/{statement_id}"),
        reason,
        before,
        after,
        disabled_because,
    })
}

#[async_trait]
impl CutKind for LambdaPermissionRemove {
    type State = StatementState;
    /// The undo record is `before` itself: the statement to add back.
    type Undo = StatementState;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own function's policy: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<StatementState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        let target = format!(
            "{}/{}",
            qualified(&before.function_name, before.alias.as_deref()),
            before.statement_id
        );
        if target != cut.target
            || after.function_name != before.function_name
            || after.alias != before.alias
            || after.statement_id != before.statement_id
        {
            return Err(format!(
                "function_name/statement_id must be the cut's target `{}`",
                cut.target
            ));
        }
        match &before.statement {
            Some(statement) if is_open_to_anyone(statement) => {}
            _ => return Err("`before.statement` must be a statement open to anyone".into()),
        }
        if after.statement.is_some() {
            return Err("`after.statement` must be null".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<StatementState>>, ServiceError> {
        // Only accounts are told apart here: a condition on an organization reads as unclear, which
        // says nothing (this kind's own cut and findings cover grants to anyone).
        let home = &crate::services::common::policy_principals::Home {
            account_id: scope.caller.account.clone(),
            organization: crate::services::common::policy_principals::Organization::Unknown(
                "not read by lambda_permission_remove".into(),
            ),
        };
        per_function(ctx, INFO.name, |function| async move {
            let mut proposals = Vec::new();
            for alias in qualifiers(ctx, INFO.name, &function).await? {
                let alias = alias.as_deref();
                let resource = qualified(&function, alias);
                let Some(policy) = policy_text(ctx, &function, alias).await? else {
                    continue;
                };
                // One unreadable policy is that function's finding, not every function's discovery
                // error.
                let statements = match parse_statements(&policy, &function, alias) {
                    Ok(statements) => statements,
                    Err(why) => {
                        let what = format!("GetPolicy returned a resource policy that {why}, so who may invoke it is not known");
                        unclassified::report(ctx, INFO.name, &ctx.region, &resource, what).await;
                        continue;
                    }
                };
                for statement in statements {
                    // RemovePermission names the statement by its Sid: one open to anyone without it
                    // cannot be removed.
                    if sid(&statement).is_none() && is_open_to_anyone(&statement) {
                        unclassified::report(
                            ctx,
                            INFO.name,
                            &ctx.region,
                            &resource,
                            "its resource policy has a statement letting anyone invoke it without a Sid, which RemovePermission needs",
                        )
                        .await;
                    }
                    if let Some(what) = named_outsiders(&statement, home, &resource) {
                        unclassified::report(ctx, INFO.name, &ctx.region, &resource, what).await;
                    }
                    proposals.extend(propose(&function, alias, &statement));
                }
            }
            Ok(proposals)
        })
        .await
    }

    /// A statement removed since shows as `statement: null`, the shape of `after`.
    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<StatementState>,
    ) -> Result<Option<StatementState>, ServiceError> {
        let before = &cut.before;
        let state = read(
            ctx,
            &before.function_name,
            before.alias.as_deref(),
            &before.statement_id,
        )
        .await?;
        Ok(Some(state))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<StatementState>,
    ) -> Result<StatementState, ServiceError> {
        let record = self.undo_record_for(cut)?;
        let before = &cut.before;
        ctx.lambda()
            .remove_permission()
            .function_name(&before.function_name)
            .set_qualifier(before.alias.clone())
            .statement_id(&before.statement_id)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("lambda:RemovePermission", err))?;
        Ok(record)
    }

    /// A statement AddPermission cannot re-create exactly is proposed switched off; switched on by hand,
    /// its removal would be one restore cannot give back, under a kind that promises it.
    fn refuses(&self, cut: &TypedCut<StatementState>) -> Option<String> {
        let before = &cut.before;
        let why = permission_parameters(before.statement.as_ref()?).err()?;
        Some(format!(
            "statement {} of {} could not be put back exactly on restore ({why}); remove it by hand if it must go",
            before.statement_id, before.function_name
        ))
    }

    fn undo_record_for(
        &self,
        cut: &TypedCut<StatementState>,
    ) -> Result<StatementState, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &StatementState,
    ) -> Result<UndoOutcome, ServiceError> {
        let statement_id = &prior.statement_id;
        let function = &qualified(&prior.function_name, prior.alias.as_deref());
        let Some(statement) = &prior.statement else {
            return Err(ServiceError::local(
                INFO.name,
                "the undo record holds no statement",
            ));
        };
        let now = read(
            ctx,
            &prior.function_name,
            prior.alias.as_deref(),
            statement_id,
        )
        .await?;
        match &now.statement {
            Some(current) if same_statement(current, statement) => {
                return Ok(UndoOutcome {
                    notes: vec![format!("statement {statement_id} is already on {function}")],
                });
            }
            Some(_) => {
                return Ok(UndoOutcome {
                    notes: vec![format!(
                        "conflict: statement {statement_id} on {function} was re-added with other content after the cut; left alone"
                    )],
                });
            }
            None => {}
        }
        let request = add_permission_request(
            ctx.lambda()
                .add_permission()
                .set_qualifier(prior.alias.clone()),
            &prior.function_name,
            statement_id,
            statement,
        )
        .map_err(|problem| ServiceError::local("lambda:AddPermission", problem))?;
        request
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("lambda:AddPermission", err))?;
        Ok(UndoOutcome {
            notes: vec![format!("statement {statement_id} added back to {function}")],
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::Client;
    use aws_sdk_lambda::operation::add_permission::AddPermissionOutput;
    use aws_sdk_lambda::operation::get_policy::{GetPolicyError, GetPolicyOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_grant_to_a_named_other_account_is_said_with_how_to_remove_it() {
        use crate::services::common::policy_principals::{Home, Organization};
        let home = Home {
            account_id: "123456789012".into(),
            organization: Organization::None,
        };
        let grant = |principal: Value| {
            json!({"Sid": "partner", "Effect": "Allow", "Principal": principal,
                   "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"})
        };
        let what = named_outsiders(
            &grant(json!({"AWS": "arn:aws:iam::210987654321:root"})),
            &home,
            "f",
        )
        .expect("another account is said");
        assert!(what.contains("210987654321"), "{what}");
        assert!(
            what.contains("aws lambda remove-permission --function-name f --statement-id partner"),
            "{what}"
        );
        // This account's own grant: nothing to say; a grant to anyone: this kind's cut says it.
        assert_eq!(
            named_outsiders(
                &grant(json!({"AWS": "arn:aws:iam::123456789012:root"})),
                &home,
                "f"
            ),
            None
        );
        assert_eq!(named_outsiders(&public_url_statement(), &home, "f"), None);
    }

    fn public_url_statement() -> Value {
        json!({
            "Sid": "FunctionURLAllowPublicAccess",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
        })
    }

    #[test]
    fn only_statements_open_to_anyone_are_cut() {
        assert!(is_open_to_anyone(&public_url_statement()));
        assert!(is_open_to_anyone(&json!({
            "Sid": "a", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "lambda:InvokeFunction"
        })));
        // A service principal, a source condition, a named account, or a deny: not open to anyone.
        assert!(!is_open_to_anyone(&json!({
            "Sid": "b", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction"
        })));
        assert!(!is_open_to_anyone(&json!({
            "Sid": "c", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:123456789012:abc/*"}}
        })));
        assert!(!is_open_to_anyone(&json!({
            "Sid": "d", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "lambda:InvokeFunction"
        })));
        assert!(!is_open_to_anyone(&json!({
            "Sid": "e", "Effect": "Deny", "Principal": "*", "Action": "lambda:InvokeFunction"
        })));
        assert!(propose("orders", None, &json!({"Sid": "d", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "lambda:InvokeFunction"})).is_none());
    }

    #[test]
    fn conditions_that_match_every_source_do_not_narrow_principal_star() {
        let with = |condition: Value| {
            json!({"Sid": "s", "Effect": "Allow", "Principal": "*",
                   "Action": "lambda:InvokeFunction", "Condition": condition})
        };
        // A wildcard source, a source that may be absent, or everyone but one account: still anyone.
        assert!(is_open_to_anyone(&with(
            json!({"ArnLike": {"AWS:SourceArn": "*"}})
        )));
        assert!(is_open_to_anyone(&with(
            json!({"ArnLikeIfExists": {"AWS:SourceArn": "arn:aws:s3:::bucket"}})
        )));
        assert!(is_open_to_anyone(&with(
            json!({"StringNotEquals": {"AWS:SourceAccount": "111122223333"}})
        )));
        // A named account, organization or source pattern narrows, whatever the key's case.
        assert!(!is_open_to_anyone(&with(
            json!({"StringEquals": {"aws:sourceaccount": "111122223333"}})
        )));
        assert!(!is_open_to_anyone(&with(
            json!({"StringEquals": {"aws:PrincipalOrgID": ["o-abc123"]}})
        )));
        assert!(!is_open_to_anyone(&with(
            json!({"ArnLike": {"AWS:SourceArn": "arn:aws:execute-api:us-east-1:111122223333:abc/*"}})
        )));
        // The URL auth condition says nothing about the caller.
        assert!(is_open_to_anyone(&with(
            json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
        )));
    }

    #[test]
    fn add_permission_parameters_come_from_the_statement_and_its_conditions() {
        let statement = json!({
            "Sid": "FromOrg", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["lambda:InvokeFunction"],
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders",
            "Condition": {
                "StringEquals": {"AWS:SourceAccount": "111122223333", "aws:PrincipalOrgID": "o-abc123"},
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}
            }
        });
        assert_eq!(
            permission_parameters(&statement),
            Ok(PermissionParameters {
                action: "lambda:InvokeFunction".into(),
                principal: "*".into(),
                source_arn: Some("arn:aws:s3:::uploads".into()),
                source_account: Some("111122223333".into()),
                principal_org_id: Some("o-abc123".into()),
                event_source_token: None,
                function_url_auth_type: None,
                invoked_via_function_url: None,
            })
        );
        // The emulator's form: the URL auth type as a field of the statement.
        let emulated = json!({"Sid": "u", "Effect": "Allow", "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE"});
        assert_eq!(
            permission_parameters(&emulated)
                .unwrap()
                .function_url_auth_type
                .as_deref(),
            Some("NONE")
        );
        // Nothing AddPermission cannot write is silently dropped.
        let mut unwritable = public_url_statement();
        unwritable["Condition"]["IpAddress"] = json!({"aws:SourceIp": "203.0.113.0/24"});
        assert!(
            permission_parameters(&unwritable)
                .unwrap_err()
                .contains("aws:SourceIp")
        );
        let mut two_actions = public_url_statement();
        two_actions["Action"] = json!(["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]);
        assert!(permission_parameters(&two_actions).is_err());
    }

    #[test]
    fn a_statement_that_could_not_be_put_back_exactly_is_proposed_disabled() {
        assert_eq!(
            propose("orders", None, &public_url_statement())
                .unwrap()
                .disabled_because,
            None
        );
        let mut unwritable = public_url_statement();
        unwritable["Condition"]["IpAddress"] = json!({"aws:SourceIp": "203.0.113.0/24"});
        let because = propose("orders", None, &unwritable)
            .unwrap()
            .disabled_because
            .expect("disabled");
        assert!(
            because.contains("could not be put back exactly"),
            "{because}"
        );
    }

    /// Switched on by hand, such a statement is still not removed: apply leaves it out before journaling
    /// anything, since restore could not add it back.
    #[test]
    fn an_enabled_statement_restore_could_not_put_back_is_refused() {
        let mut unwritable = public_url_statement();
        unwritable["Condition"]["IpAddress"] = json!({"aws:SourceIp": "203.0.113.0/24"});
        let typed = |statement: &Value| {
            let proposed = propose("orders", None, statement).unwrap();
            TypedCut {
                id: "lambda_permission_remove/us-east-1/orders/FunctionURLAllowPublicAccess".into(),
                region: "us-east-1".into(),
                target: proposed.target,
                before: proposed.before,
                after: proposed.after,
            }
        };
        let why = LambdaPermissionRemove
            .refuses(&typed(&unwritable))
            .expect("refused");
        assert!(
            why.contains("could not be put back exactly on restore"),
            "{why}"
        );
        assert_eq!(
            LambdaPermissionRemove.refuses(&typed(&public_url_statement())),
            None
        );
    }

    #[test]
    fn a_statement_belongs_to_the_function_or_to_the_alias_its_resource_names() {
        let on = |resource: &str| json!({"Sid": "s", "Resource": resource});
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders";
        assert!(belongs_to(&on(arn), "orders", None));
        assert!(!belongs_to(&on(arn), "orders", Some("live")));
        assert!(belongs_to(
            &on(&format!("{arn}:live")),
            "orders",
            Some("live")
        ));
        assert!(!belongs_to(&on(&format!("{arn}:live")), "orders", None));
        assert!(!belongs_to(
            &on(&format!("{arn}:live")),
            "orders",
            Some("beta")
        ));
        assert!(belongs_to(&json!({"Sid": "s"}), "orders", Some("live")));
    }

    #[tokio::test]
    async fn mocked_undo_sends_add_permission_with_the_statement_exactly() {
        let statement = public_url_statement();
        let proposed = propose("orders", None, &statement).unwrap();
        let cut = TypedCut {
            id: "lambda_permission_remove/us-east-1/orders/FunctionURLAllowPublicAccess".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(LambdaPermissionRemove.check_states(&cut), Ok(()));
        let record = LambdaPermissionRemove.undo_record_for(&cut).unwrap();

        let no_policy = mock!(Client::get_policy).then_error(|| {
            GetPolicyError::ResourceNotFoundException(
                crate::services::serverless::lambda::not_found(
                    "The resource you requested does not exist.",
                ),
            )
        });
        let add = mock!(Client::add_permission)
            .match_requests(|req| {
                req.function_name() == Some("orders")
                    && req.statement_id() == Some("FunctionURLAllowPublicAccess")
                    && req.action() == Some("lambda:InvokeFunctionUrl")
                    && req.principal() == Some("*")
                    && req.function_url_auth_type() == Some(&FunctionUrlAuthType::None)
                    && req.source_arn().is_none()
                    && req.source_account().is_none()
            })
            .then_output(|| AddPermissionOutput::builder().build());
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&no_policy, &add]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let outcome = LambdaPermissionRemove.undo(&ctx, &record).await.unwrap();
        assert_eq!(add.num_calls(), 1, "{outcome:?}");

        // Re-added since with other content: left alone.
        let changed = mock!(Client::get_policy).then_output(|| {
            let mut other = public_url_statement();
            other["Action"] = "lambda:InvokeFunction".into();
            GetPolicyOutput::builder()
                .policy(json!({"Version": "2012-10-17", "Statement": [other]}).to_string())
                .build()
        });
        let add =
            mock!(Client::add_permission).then_output(|| AddPermissionOutput::builder().build());
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&changed, &add]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let outcome = LambdaPermissionRemove.undo(&ctx, &record).await.unwrap();
        assert_eq!(add.num_calls(), 0);
        assert!(outcome.notes[0].starts_with("conflict"), "{outcome:?}");
    }

    #[test]
    fn principal_forms_iam_reads_alike_are_the_same_statement_and_real_changes_are_not() {
        let with = |principal: Value| {
            json!({"Sid": "s", "Effect": "Allow", "Principal": principal,
                   "Action": "lambda:InvokeFunction",
                   "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders"})
        };
        // Anyone, written three ways.
        assert!(same_statement(
            &with(json!("*")),
            &with(json!({"AWS": "*"}))
        ));
        assert!(same_statement(
            &with(json!("*")),
            &with(json!({"AWS": ["*"]}))
        ));
        // An account given by ID comes back as its root ARN, in any partition.
        assert!(same_statement(
            &with(json!({"AWS": "arn:aws:iam::111122223333:root"})),
            &with(json!({"AWS": "111122223333"}))
        ));
        assert!(same_statement(
            &with(json!({"AWS": "arn:aws-cn:iam::111122223333:root"})),
            &with(json!({"AWS": "111122223333"}))
        ));
        // A list of one action or condition value is that value.
        let mut listed = with(json!({"AWS": "*"}));
        listed["Action"] = json!(["lambda:InvokeFunction"]);
        listed["Condition"] = json!({"ArnLike": {"AWS:SourceArn": ["arn:aws:s3:::uploads"]}});
        let mut written = with(json!("*"));
        written["Condition"] = json!({"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}});
        assert!(same_statement(&written, &listed));

        // Not the same: another account, a user of the account rather than the account, a service, two
        // principals, another action, resource or condition.
        assert!(!same_statement(
            &with(json!({"AWS": "arn:aws:iam::111122223333:root"})),
            &with(json!({"AWS": "444455556666"}))
        ));
        assert!(!same_statement(
            &with(json!({"AWS": "arn:aws:iam::111122223333:user/dev"})),
            &with(json!({"AWS": "111122223333"}))
        ));
        assert!(!same_statement(
            &with(json!({"Service": "s3.amazonaws.com"})),
            &with(json!("*"))
        ));
        assert!(!same_statement(
            &with(json!({"AWS": ["*", "111122223333"]})),
            &with(json!("*"))
        ));
        let mut other_action = with(json!("*"));
        other_action["Action"] = json!("lambda:InvokeFunctionUrl");
        assert!(!same_statement(&other_action, &with(json!({"AWS": "*"}))));
        let mut other_resource = with(json!("*"));
        other_resource["Resource"] =
            json!("arn:aws:lambda:us-east-1:123456789012:function:orders:live");
        assert!(!same_statement(&other_resource, &with(json!("*"))));
        let mut narrowed = with(json!("*"));
        narrowed["Condition"] = json!({"StringEquals": {"AWS:SourceAccount": "111122223333"}});
        assert!(!same_statement(&narrowed, &with(json!({"AWS": "*"}))));
    }

    /// Regression: a statement recorded with `Principal: {"AWS": "*"}` is re-added by AddPermission as
    /// `Principal: "*"` (a single string), and GetPolicy returns it so. A later restore found its own
    /// re-added statement not equal to the record and reported it as a conflict; it is the same statement.
    #[tokio::test]
    async fn mocked_a_statement_re_added_in_lambdas_principal_form_is_no_conflict_on_a_later_restore()
     {
        let recorded = json!({
            "Sid": "AnyoneInvokes", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders"
        });
        let proposed = propose("orders", None, &recorded).unwrap();
        let cut = TypedCut {
            id: "lambda_permission_remove/us-east-1/orders/AnyoneInvokes".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let record = LambdaPermissionRemove.undo_record_for(&cut).unwrap();

        // The first restore re-adds it: AddPermission takes the principal as the string `*`.
        let no_policy = mock!(Client::get_policy).then_error(|| {
            GetPolicyError::ResourceNotFoundException(
                crate::services::serverless::lambda::not_found(
                    "The resource you requested does not exist.",
                ),
            )
        });
        let add = mock!(Client::add_permission)
            .match_requests(|req| req.principal() == Some("*"))
            .then_output(|| AddPermissionOutput::builder().build());
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&no_policy, &add]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        LambdaPermissionRemove.undo(&ctx, &record).await.unwrap();
        assert_eq!(add.num_calls(), 1);

        // Restore again: GetPolicy answers with Lambda's own form of what was added.
        let as_lambda_wrote = |action: &'static str| {
            mock!(Client::get_policy).then_output(move || {
                let statement = json!({
                    "Sid": "AnyoneInvokes", "Effect": "Allow", "Principal": "*",
                    "Action": action,
                    "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders"
                });
                GetPolicyOutput::builder()
                    .policy(json!({"Version": "2012-10-17", "Statement": [statement]}).to_string())
                    .build()
            })
        };
        let same = as_lambda_wrote("lambda:InvokeFunction");
        let add =
            mock!(Client::add_permission).then_output(|| AddPermissionOutput::builder().build());
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&same, &add]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let outcome = LambdaPermissionRemove.undo(&ctx, &record).await.unwrap();
        assert_eq!(add.num_calls(), 0);
        assert_eq!(
            outcome.notes,
            ["statement AnyoneInvokes is already on orders"],
            "{outcome:?}"
        );
        assert!(UndoOutcome::conflicts(&outcome.notes).is_empty());

        // The same Sid with another action is still a change made after the cut.
        let changed = as_lambda_wrote("lambda:InvokeFunctionUrl");
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&changed, &add]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let outcome = LambdaPermissionRemove.undo(&ctx, &record).await.unwrap();
        assert_eq!(add.num_calls(), 0);
        assert_eq!(
            UndoOutcome::conflicts(&outcome.notes).len(),
            1,
            "{outcome:?}"
        );
    }

    /// The `lambda:InvokeFunction` statement AWS adds for a public function URL created since October
    /// 2025, as GetPolicy returns it (docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
    fn invoked_via_url_statement() -> Value {
        json!({
            "Sid": "FunctionURLInvokeAllowPublicAccess",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders",
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
        })
    }

    #[test]
    fn the_invoke_function_half_of_a_public_url_is_understood_and_can_be_put_back() {
        let statement = invoked_via_url_statement();
        assert!(
            is_open_to_anyone(&statement),
            "the condition names no caller"
        );
        assert!(is_url_invoke(&statement));
        let parameters = permission_parameters(&statement).unwrap();
        assert_eq!(parameters.action, "lambda:InvokeFunction");
        assert_eq!(parameters.invoked_via_function_url, Some(true));
        let proposed = propose("orders", None, &statement).unwrap();
        assert_eq!(
            proposed.disabled_because, None,
            "AddPermission can write it"
        );
        assert!(
            proposed.reason.contains(
                "applies to calls through the function URL (condition lambda:InvokedViaFunctionUrl)"
            ),
            "{}",
            proposed.reason
        );
        let mut odd = statement.clone();
        odd["Condition"]["Bool"]["lambda:InvokedViaFunctionUrl"] = json!("maybe");
        assert!(
            permission_parameters(&odd)
                .unwrap_err()
                .contains("not true or false")
        );
    }

    #[tokio::test]
    async fn mocked_undo_puts_the_invoked_via_url_statement_back_with_its_condition() {
        let proposed = propose("orders", None, &invoked_via_url_statement()).unwrap();
        let cut = TypedCut {
            id: "lambda_permission_remove/us-east-1/orders/FunctionURLInvokeAllowPublicAccess"
                .into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let record = LambdaPermissionRemove.undo_record_for(&cut).unwrap();
        let no_policy = mock!(Client::get_policy).then_error(|| {
            GetPolicyError::ResourceNotFoundException(
                crate::services::serverless::lambda::not_found(
                    "The resource you requested does not exist.",
                ),
            )
        });
        let add = mock!(Client::add_permission)
            .match_requests(|req| {
                req.statement_id() == Some("FunctionURLInvokeAllowPublicAccess")
                    && req.action() == Some("lambda:InvokeFunction")
                    && req.principal() == Some("*")
                    && req.invoked_via_function_url() == Some(true)
                    && req.function_url_auth_type().is_none()
            })
            .then_output(|| AddPermissionOutput::builder().build());
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&no_policy, &add]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        LambdaPermissionRemove.undo(&ctx, &record).await.unwrap();
        assert_eq!(add.num_calls(), 1);
    }
}
