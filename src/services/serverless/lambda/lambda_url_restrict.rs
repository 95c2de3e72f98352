//! `lambda_url_restrict`: a function URL with auth type NONE lets anyone on the internet invoke the
//! function over HTTPS. Switching it to AWS_IAM makes every request need a SigV4 signature from a
//! principal allowed `lambda:InvokeFunctionUrl`; the URL itself, its CORS settings and invoke mode stay,
//! so restore gives back the same address.
//!
//! A function and each of its aliases can have a URL of its own. The emulator has no
//! ListFunctionUrlConfigs, so each is read with GetFunctionUrlConfig (and Qualifier for an alias).
//!
//! Whether anyone can really call a URL with auth type NONE is up to the resource policy: AWS requires
//! `lambda:InvokeFunctionUrl` and, for URLs created since October 2025, `lambda:InvokeFunction` with the
//! condition `lambda:InvokedViaFunctionUrl` (<https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html>).
//! Discovery reads the policy to say, in the reason, which statements open the URL to anyone, and which
//! of them would still let signed requests from any AWS account through once the auth type is AWS_IAM
//! (a URL statement for `*` that does not depend on auth type NONE): `lambda_permission_remove` removes
//! those.

use async_trait::async_trait;
use aws_sdk_lambda::types::{Cors, FunctionUrlAuthType};
use serde::{Deserialize, Deserializer, Serialize};

use serde_json::Value;

use super::lambda_permission_remove::{is_open_to_anyone, statements};
use super::{
    function_url_auth_type, invoked_via_function_url, is_not_found, is_url_invoke, per_function,
    qualified, qualifiers,
};
use crate::aws::RegionCtx;
use crate::services::common::unclassified;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct LambdaUrlRestrict;

static INFO: KindInfo = KindInfo {
    name: "lambda_url_restrict",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Lambda,
};

const OPEN: &str = "NONE";
const IAM: &str = "AWS_IAM";

/// A function URL as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlState {
    pub function_name: String,
    /// The alias the URL belongs to; none for the function's own URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub function_url: String,
    /// `NONE` (anyone) or `AWS_IAM`.
    pub auth_type: String,
    /// The URL's CORS settings (`Some(None)`: no CORS, written as null). Recorded so the plan shows the
    /// URL in full and apply refuses a URL reconfigured since the plan; the cut changes only the auth
    /// type. The outer None is a plan written before CORS was recorded, which lacks the field: it stays
    /// left out, so such a plan's `before` still compares equal to the URL observed for it.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub cors: Option<Option<UrlCors>>,
    /// `BUFFERED` or `RESPONSE_STREAM`, as Lambda reports it; recorded (or not) as `cors` is.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub invoke_mode: Option<Option<String>>,
}

/// A field that is there, even as null, is `Some`; only a missing one is None (through `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl UrlState {
    /// CORS settings and invoke mode, a field the plan did not record reading as none.
    fn settings(&self) -> (Option<&UrlCors>, Option<&str>) {
        (
            self.cors.as_ref().and_then(Option::as_ref),
            self.invoke_mode.as_ref().and_then(|mode| mode.as_deref()),
        )
    }
}

/// A function URL's CORS settings, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlCors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<i32>,
}

impl From<&Cors> for UrlCors {
    fn from(cors: &Cors) -> Self {
        UrlCors {
            allow_credentials: cors.allow_credentials(),
            allow_headers: cors.allow_headers().to_vec(),
            allow_methods: cors.allow_methods().to_vec(),
            allow_origins: cors.allow_origins().to_vec(),
            expose_headers: cors.expose_headers().to_vec(),
            max_age: cors.max_age(),
        }
    }
}

/// What is odd about a URL's auth type when it is neither of the two GetFunctionUrlConfig documents,
/// `AWS_IAM` and `NONE` (<https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionUrlConfig.html>,
/// `AuthType`): such a URL is not proposed (the cut switches NONE to AWS_IAM), and it may be open.
pub fn unclassified_auth_type(state: &UrlState) -> Option<String> {
    (state.auth_type != OPEN && state.auth_type != IAM).then(|| {
        format!(
            "GetFunctionUrlConfig returned its URL {} with auth type `{}`, which this hikkonuki does not know, so whether anyone can call it is not known",
            state.function_url, state.auth_type
        )
    })
}

/// The proposal for one URL, or nothing when it already requires IAM auth.
pub fn propose(state: &UrlState) -> Option<Proposal<UrlState>> {
    if state.auth_type != OPEN {
        return None;
    }
    let after = UrlState {
        auth_type: IAM.into(),
        ..state.clone()
    };
    Some(Proposal {
        target: qualified(&state.function_name, state.alias.as_deref()),
        reason: format!(
            "Function URL {} of Lambda function {} has auth type NONE: anyone on the internet can invoke it. Requiring AWS_IAM makes every request need a signature from an allowed principal; the URL, its CORS settings and invoke mode stay, and restore sets auth type NONE again.",
            state.function_url,
            qualified(&state.function_name, state.alias.as_deref())
        ),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

/// The reason's account of the resource policy: which statements let anyone use the URL, and which of
/// them AWS_IAM does not close. `statements` is the policy of the URL's function or alias, or why it
/// could not be read.
pub fn policy_note(statements: Result<&[Value], &ServiceError>) -> String {
    let statements = match statements {
        Ok(statements) => statements,
        Err(err) => {
            return format!(
                " Its resource policy could not be read ({err}): whether statements would still let signed requests from other accounts through after the switch is not known."
            );
        }
    };
    let sid = |s: &&Value| {
        s.get("Sid")
            .and_then(Value::as_str)
            .unwrap_or("(no Sid)")
            .to_string()
    };
    let openers: Vec<&Value> = statements
        .iter()
        .filter(|s| is_open_to_anyone(s) && is_url_invoke(s))
        .collect();
    if openers.is_empty() {
        return " Its resource policy has no statement letting anyone use the URL (lambda:InvokeFunctionUrl, and for URLs created since October 2025 lambda:InvokeFunction via the URL), so it may already refuse unsigned requests; AWS_IAM makes sure.".into();
    }
    // A URL statement for anyone that holds whatever the auth type: with AWS_IAM, any AWS principal of
    // any account may still sign its way through it. The InvokedViaFunctionUrl half needs the other.
    let survivors: Vec<String> = openers
        .iter()
        .filter(|s| {
            invoked_via_function_url(s) != Some(true)
                && function_url_auth_type(s).as_deref() != Some(OPEN)
        })
        .map(sid)
        .collect();
    let mut note = format!(
        " Anyone uses the URL through statement(s) {} of its resource policy (lambda_permission_remove proposes removing them too).",
        openers.iter().map(sid).collect::<Vec<_>>().join(", ")
    );
    if !survivors.is_empty() {
        note.push_str(&format!(
            " Statement(s) {} do not depend on auth type NONE: with AWS_IAM, principals of any AWS account may still call the URL with signed requests until they are removed.",
            survivors.join(", ")
        ));
    }
    note
}

/// The URL of the function (or of one alias), or `Ok(None)` when it has none (or is gone).
async fn read(
    ctx: &RegionCtx,
    function: &str,
    alias: Option<&str>,
) -> Result<Option<UrlState>, ServiceError> {
    let result = ctx
        .lambda()
        .get_function_url_config()
        .function_name(function)
        .set_qualifier(alias.map(str::to_string))
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:GetFunctionUrlConfig", err));
    match result {
        // An endpoint that ignores the qualifier (the emulator) answers with the function's own URL,
        // which is not the alias's: the ARN says which one came back.
        Ok(out) if alias.is_some_and(|a| !out.function_arn().ends_with(&format!(":{a}"))) => {
            Ok(None)
        }
        Ok(out) => Ok(Some(UrlState {
            function_name: function.to_string(),
            alias: alias.map(str::to_string),
            function_url: out.function_url().to_string(),
            auth_type: out.auth_type().as_str().to_string(),
            cors: Some(out.cors().map(UrlCors::from)),
            invoke_mode: Some(out.invoke_mode().map(|mode| mode.as_str().to_string())),
        })),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn set_auth_type(
    ctx: &RegionCtx,
    state: &UrlState,
    auth_type: &str,
) -> Result<(), ServiceError> {
    ctx.lambda()
        .update_function_url_config()
        .function_name(&state.function_name)
        .set_qualifier(state.alias.clone())
        .auth_type(FunctionUrlAuthType::from(auth_type))
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:UpdateFunctionUrlConfig", err))?;
    Ok(())
}

#[async_trait]
impl CutKind for LambdaUrlRestrict {
    type State = UrlState;
    /// The undo record is `before` itself.
    type Undo = UrlState;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own function URL: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<UrlState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        let target = qualified(&before.function_name, before.alias.as_deref());
        if target != cut.target
            || after.function_name != before.function_name
            || after.alias != before.alias
        {
            return Err(format!(
                "function_name (and alias) must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.auth_type != OPEN || after.auth_type != IAM {
            return Err(format!(
                "`before.auth_type` must be {OPEN} and `after.auth_type` {IAM}"
            ));
        }
        if before.function_url != after.function_url || before.settings() != after.settings() {
            return Err(
                "`after` may differ from `before` only in auth_type (function_url, cors and invoke_mode stay)"
                    .into(),
            );
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<UrlState>>, ServiceError> {
        per_function(ctx, INFO.name, |function| async move {
            let mut proposals = Vec::new();
            for alias in qualifiers(ctx, INFO.name, &function).await? {
                let Some(state) = read(ctx, &function, alias.as_deref()).await? else {
                    continue;
                };
                if let Some(odd) = unclassified_auth_type(&state) {
                    let url = qualified(&state.function_name, state.alias.as_deref());
                    unclassified::report(ctx, INFO.name, &ctx.region, &url, odd).await;
                }
                let Some(mut proposal) = propose(&state) else {
                    continue;
                };
                let policy = statements(ctx, &function, alias.as_deref()).await;
                proposal.reason.push_str(&policy_note(policy.as_deref()));
                proposals.push(proposal);
            }
            Ok(proposals)
        })
        .await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<UrlState>,
    ) -> Result<Option<UrlState>, ServiceError> {
        let before = &cut.before;
        let Some(mut live) = read(ctx, &before.function_name, before.alias.as_deref()).await?
        else {
            return Ok(None);
        };
        // A plan written before CORS and invoke mode were recorded is compared on what it recorded.
        if before.cors.is_none() {
            live.cors = None;
        }
        if before.invoke_mode.is_none() {
            live.invoke_mode = None;
        }
        Ok(Some(live))
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<UrlState>,
    ) -> Result<UrlState, ServiceError> {
        let record = self.undo_record_for(cut)?;
        set_auth_type(ctx, &cut.before, IAM).await?;
        Ok(record)
    }

    /// Undo records have always written `cors` and `invoke_mode` out, null when not recorded.
    fn undo_record_for(&self, cut: &TypedCut<UrlState>) -> Result<UrlState, ServiceError> {
        let mut record = cut.before.clone();
        record.cors = Some(record.cors.take().flatten());
        record.invoke_mode = Some(record.invoke_mode.take().flatten());
        Ok(record)
    }

    async fn undo(&self, ctx: &RegionCtx, prior: &UrlState) -> Result<UndoOutcome, ServiceError> {
        let function = &qualified(&prior.function_name, prior.alias.as_deref());
        match read(ctx, &prior.function_name, prior.alias.as_deref()).await? {
            None => Err(ServiceError::local(
                "lambda:GetFunctionUrlConfig",
                format!(
                    "the function URL of {function} no longer exists; it cannot be opened again (a new URL would have another address)"
                ),
            )),
            Some(now) if now.auth_type == OPEN => Ok(UndoOutcome {
                notes: vec![format!("{function}'s URL already has auth type NONE")],
            }),
            Some(now) if now.function_url != prior.function_url => Ok(UndoOutcome {
                notes: vec![format!(
                    "conflict: {function}'s URL is now {} (was {}); left alone",
                    now.function_url, prior.function_url
                )],
            }),
            Some(_) => {
                set_auth_type(ctx, prior, OPEN).await?;
                Ok(UndoOutcome {
                    notes: vec![format!("{function}: URL auth type NONE again")],
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::Client;
    use aws_sdk_lambda::operation::get_function_url_config::GetFunctionUrlConfigOutput;
    use aws_sdk_lambda::operation::update_function_url_config::UpdateFunctionUrlConfigOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::Value;

    use super::*;

    fn url_config(arn: &str, auth: FunctionUrlAuthType) -> GetFunctionUrlConfigOutput {
        GetFunctionUrlConfigOutput::builder()
            .function_url("https://live.lambda-url.us-east-1.on.aws/")
            .function_arn(arn)
            .auth_type(auth)
            .creation_time("2026-11-28T00:00:00Z")
            .last_modified_time("2026-11-28T00:00:00Z")
            .build()
            .unwrap()
    }

    /// The emulator ignores the Qualifier of function URLs: an alias's own URL is proven here.
    #[tokio::test]
    async fn mocked_an_alias_url_is_restricted_with_its_qualifier_and_a_function_url_is_not_taken_for_it()
     {
        let alias_url = mock!(Client::get_function_url_config)
            .match_requests(|req| req.qualifier() == Some("live"))
            .then_output(|| {
                url_config(
                    "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
                    FunctionUrlAuthType::None,
                )
            });
        let restrict = mock!(Client::update_function_url_config)
            .match_requests(|req| {
                req.function_name() == Some("orders")
                    && req.qualifier() == Some("live")
                    && req.auth_type() == Some(&FunctionUrlAuthType::AwsIam)
            })
            .then_output(|| {
                UpdateFunctionUrlConfigOutput::builder()
                    .function_url("https://live.lambda-url.us-east-1.on.aws/")
                    .function_arn("arn:aws:lambda:us-east-1:123456789012:function:orders:live")
                    .auth_type(FunctionUrlAuthType::AwsIam)
                    .creation_time("2026-11-28T00:00:00Z")
                    .last_modified_time("2026-11-28T00:00:00Z")
                    .build()
                    .unwrap()
            });
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&alias_url, &restrict]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let state = read(&ctx, "orders", Some("live")).await.unwrap().unwrap();
        assert_eq!(state.alias.as_deref(), Some("live"));
        let proposed = propose(&state).unwrap();
        assert_eq!(proposed.target, "orders:live");
        let cut = TypedCut {
            id: "lambda_url_restrict/us-east-1/orders:live".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(LambdaUrlRestrict.check_states(&cut), Ok(()));
        LambdaUrlRestrict.apply(&ctx, &cut).await.unwrap();
        assert_eq!(restrict.num_calls(), 1);

        // An endpoint that ignores the qualifier answers with the function's own URL: not the alias's.
        let unqualified = mock!(Client::get_function_url_config).then_output(|| {
            url_config(
                "arn:aws:lambda:us-east-1:123456789012:function:orders",
                FunctionUrlAuthType::None,
            )
        });
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&unqualified]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        assert_eq!(read(&ctx, "orders", Some("live")).await.unwrap(), None);
    }

    /// A URL deleted between plan and apply: Lambda answers UpdateFunctionUrlConfig with its documented
    /// ResourceNotFoundException (404), which fails the cut with AWS's code and words, naming the call.
    #[tokio::test]
    async fn mocked_a_url_deleted_before_its_cut_fails_it_with_lambdas_not_found() {
        use aws_sdk_lambda::operation::update_function_url_config::UpdateFunctionUrlConfigError;

        let gone = mock!(Client::update_function_url_config).then_error(|| {
            UpdateFunctionUrlConfigError::ResourceNotFoundException(
                crate::services::serverless::lambda::not_found(
                    "The resource you requested does not exist.",
                ),
            )
        });
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(mock_client!(
            aws_sdk_lambda,
            RuleMode::MatchAny,
            &[&gone]
        ));
        let open = UrlState {
            function_name: "orders".into(),
            alias: None,
            function_url: "https://abc.lambda-url.us-east-1.on.aws/".into(),
            auth_type: OPEN.into(),
            cors: Some(None),
            invoke_mode: Some(None),
        };
        let proposed = propose(&open).unwrap();
        let cut = TypedCut {
            id: "lambda_url_restrict/us-east-1/orders".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let err = LambdaUrlRestrict.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("ResourceNotFoundException"));
        assert!(
            err.to_string()
                .starts_with("lambda:UpdateFunctionUrlConfig failed: ResourceNotFoundException"),
            "{err}"
        );
    }

    #[test]
    fn only_open_urls_are_proposed_and_the_address_may_not_change() {
        let open = UrlState {
            function_name: "orders".into(),
            alias: None,
            function_url: "https://abc.lambda-url.us-east-1.on.aws/".into(),
            auth_type: OPEN.into(),
            cors: Some(Some(UrlCors {
                allow_credentials: None,
                allow_headers: vec![],
                allow_methods: vec!["GET".into()],
                allow_origins: vec!["https://shop.example".into()],
                expose_headers: vec![],
                max_age: Some(60),
            })),
            invoke_mode: Some(Some("BUFFERED".into())),
        };
        assert_eq!(
            propose(&UrlState {
                auth_type: IAM.into(),
                ..open.clone()
            }),
            None
        );
        let proposed = propose(&open).unwrap();
        let mut cut = TypedCut {
            id: "lambda_url_restrict/us-east-1/orders".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(LambdaUrlRestrict.check_states(&cut), Ok(()));
        assert_eq!(cut.after.cors, cut.before.cors);
        let mut moved = cut.clone();
        moved.after.function_url = "https://elsewhere/".into();
        assert!(LambdaUrlRestrict.check_states(&moved).is_err());
        cut.after.cors = Some(None);
        assert!(LambdaUrlRestrict.check_states(&cut).is_err());
    }

    /// `before` holds the URL's whole configuration; a plan from before CORS was recorded still matches.
    #[tokio::test]
    async fn mocked_cors_and_invoke_mode_are_recorded_and_older_plans_are_compared_without_them() {
        let with_cors = mock!(Client::get_function_url_config).then_output(|| {
            GetFunctionUrlConfigOutput::builder()
                .function_url("https://live.lambda-url.us-east-1.on.aws/")
                .function_arn("arn:aws:lambda:us-east-1:123456789012:function:orders")
                .auth_type(FunctionUrlAuthType::None)
                .cors(
                    Cors::builder()
                        .allow_origins("https://shop.example")
                        .allow_methods("GET")
                        .max_age(60)
                        .build(),
                )
                .invoke_mode(aws_sdk_lambda::types::InvokeMode::ResponseStream)
                .creation_time("2026-11-28T00:00:00Z")
                .last_modified_time("2026-11-28T00:00:00Z")
                .build()
                .unwrap()
        });
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&with_cors]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let state = read(&ctx, "orders", None).await.unwrap().unwrap();
        let proposed = propose(&state).unwrap();
        let (before, after) = (
            serde_json::to_value(&proposed.before).unwrap(),
            serde_json::to_value(&proposed.after).unwrap(),
        );
        assert_eq!(
            before["cors"],
            serde_json::json!({"allow_methods": ["GET"], "allow_origins": ["https://shop.example"], "max_age": 60})
        );
        assert_eq!(before["invoke_mode"], "RESPONSE_STREAM");
        assert_eq!(after["invoke_mode"], "RESPONSE_STREAM");

        let cut = TypedCut {
            id: "lambda_url_restrict/us-east-1/orders".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(
            LambdaUrlRestrict.observe(&ctx, &cut).await.unwrap(),
            Some(cut.before.clone())
        );
        // The same cut in a plan written before the two fields existed, seen through the engine's
        // adapter, which compares the plan's documents.
        let mut old = crate::plan::Cut {
            id: cut.id.clone(),
            kind: INFO.name.into(),
            region: cut.region.clone(),
            target: cut.target.clone(),
            enabled: true,
            reversible: true,
            reason: String::new(),
            before: before.into(),
            after: after.into(),
        };
        for key in ["cors", "invoke_mode"] {
            old.before.edit(|state| {
                state.as_object_mut().unwrap().remove(key);
            });
            old.after.edit(|state| {
                state.as_object_mut().unwrap().remove(key);
            });
        }
        assert_eq!(
            crate::services::Containment::check_states(&LambdaUrlRestrict, &old),
            Ok(())
        );
        assert_eq!(
            crate::services::Containment::observe(&LambdaUrlRestrict, &ctx, &old)
                .await
                .unwrap(),
            old.before.value()
        );
        // Its undo record still writes both fields out, as null.
        let record =
            crate::services::Containment::undo_record_for(&LambdaUrlRestrict, &old).unwrap();
        assert_eq!(
            (&record["cors"], &record["invoke_mode"]),
            (&Value::Null, &Value::Null)
        );
    }

    /// A public URL's two statements, as AWS writes them for a URL created since October 2025
    /// (docs.aws.amazon.com/lambda/latest/dg/urls-auth.html).
    fn public_url_pair() -> Vec<Value> {
        vec![
            serde_json::json!({
                "Sid": "FunctionURLAllowPublicAccess", "Effect": "Allow", "Principal": "*",
                "Action": "lambda:InvokeFunctionUrl",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
            }),
            serde_json::json!({
                "Sid": "FunctionURLInvokeAllowPublicAccess", "Effect": "Allow", "Principal": "*",
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:orders",
                "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
            }),
        ]
    }

    #[test]
    fn the_reason_names_the_statements_that_open_the_url_and_those_aws_iam_does_not_close() {
        let pair = public_url_pair();
        let note = policy_note(Ok(&pair));
        assert!(
            note.contains(
                "statement(s) FunctionURLAllowPublicAccess, FunctionURLInvokeAllowPublicAccess"
            ),
            "{note}"
        );
        assert!(!note.contains("do not depend on auth type NONE"), "{note}");

        // A URL statement for anyone without the NONE condition holds under AWS_IAM too.
        let mut any_auth = pair.clone();
        any_auth[0]["Condition"] = serde_json::json!({});
        let note = policy_note(Ok(&any_auth));
        assert!(
            note.contains(
                "Statement(s) FunctionURLAllowPublicAccess do not depend on auth type NONE"
            ),
            "{note}"
        );

        let note = policy_note(Ok(&[]));
        assert!(
            note.contains("no statement letting anyone use the URL"),
            "{note}"
        );
        let err = ServiceError::local("lambda:GetPolicy", "AccessDeniedException");
        assert!(policy_note(Err(&err)).contains("could not be read"));
    }

    #[tokio::test]
    async fn mocked_discovery_reads_the_policy_of_an_open_url() {
        use aws_sdk_lambda::operation::get_policy::GetPolicyOutput;
        use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
        use aws_sdk_lambda::operation::list_functions::ListFunctionsOutput;
        use aws_sdk_lambda::types::FunctionConfiguration;
        let functions = mock!(Client::list_functions).then_output(|| {
            ListFunctionsOutput::builder()
                .functions(
                    FunctionConfiguration::builder()
                        .function_name("orders")
                        .build(),
                )
                .build()
        });
        let aliases =
            mock!(Client::list_aliases).then_output(|| ListAliasesOutput::builder().build());
        let url = mock!(Client::get_function_url_config).then_output(|| {
            url_config(
                "arn:aws:lambda:us-east-1:123456789012:function:orders",
                FunctionUrlAuthType::None,
            )
        });
        let policy = mock!(Client::get_policy).then_output(|| {
            GetPolicyOutput::builder()
                .policy(
                    serde_json::json!({"Version": "2012-10-17", "Statement": public_url_pair()})
                        .to_string(),
                )
                .build()
        });
        let client = mock_client!(
            aws_sdk_lambda,
            RuleMode::MatchAny,
            &[&functions, &aliases, &url, &policy]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let proposed = LambdaUrlRestrict
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(proposed.len(), 1);
        assert!(
            proposed[0]
                .reason
                .contains("FunctionURLInvokeAllowPublicAccess"),
            "{}",
            proposed[0].reason
        );
        assert_eq!(policy.num_calls(), 1);
    }
}
