//! `lambda_url_restrict`: a function URL with auth type NONE lets anyone on the internet invoke the
//! function over HTTPS. Switching it to AWS_IAM makes every request need a SigV4 signature from a
//! principal allowed `lambda:InvokeFunctionUrl`; the URL itself, its CORS settings and invoke mode stay,
//! so restore gives back the same address.
//!
//! The emulator has no ListFunctionUrlConfigs, and AWS's lists only URLs of one function anyway, so each
//! function's unqualified URL is read with GetFunctionUrlConfig.

use async_trait::async_trait;
use aws_sdk_lambda::types::FunctionUrlAuthType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{decode, is_not_found, per_function};
use crate::aws::RegionCtx;
use crate::plan::Cut;
use crate::services::{
    Containment, DiscoveryScope, KindInfo, Phase, ProposedCut, ServiceError, UndoOutcome,
};

pub struct LambdaUrlRestrict;

static INFO: KindInfo = KindInfo {
    name: "lambda_url_restrict",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
};

const OPEN: &str = "NONE";
const IAM: &str = "AWS_IAM";

/// A function URL as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlState {
    pub function_name: String,
    pub function_url: String,
    /// `NONE` (anyone) or `AWS_IAM`.
    pub auth_type: String,
}

/// The proposal for one URL, or nothing when it already requires IAM auth.
pub fn propose(state: &UrlState) -> Option<ProposedCut> {
    if state.auth_type != OPEN {
        return None;
    }
    let after = UrlState {
        auth_type: IAM.into(),
        ..state.clone()
    };
    Some(ProposedCut {
        target: state.function_name.clone(),
        reason: format!(
            "Function URL {} of Lambda function {} has auth type NONE: anyone on the internet can invoke it. Requiring AWS_IAM makes every request need a signature from an allowed principal; the URL, its CORS settings and invoke mode stay, and restore sets auth type NONE again.",
            state.function_url, state.function_name
        ),
        before: serde_json::to_value(state).expect("url state serializes"),
        after: serde_json::to_value(after).expect("url state serializes"),
        disabled_because: None,
    })
}

/// The function's unqualified URL, or `Ok(None)` when it has none (or the function is gone).
async fn read(ctx: &RegionCtx, function: &str) -> Result<Option<UrlState>, ServiceError> {
    let result = ctx
        .lambda()
        .get_function_url_config()
        .function_name(function)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:GetFunctionUrlConfig", err));
    match result {
        Ok(out) => Ok(Some(UrlState {
            function_name: function.to_string(),
            function_url: out.function_url().to_string(),
            auth_type: out.auth_type().as_str().to_string(),
        })),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn set_auth_type(
    ctx: &RegionCtx,
    function: &str,
    auth_type: &str,
) -> Result<(), ServiceError> {
    ctx.lambda()
        .update_function_url_config()
        .function_name(function)
        .auth_type(FunctionUrlAuthType::from(auth_type))
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:UpdateFunctionUrlConfig", err))?;
    Ok(())
}

fn decode_states(cut: &Cut) -> Result<(UrlState, UrlState), String> {
    let before: UrlState =
        serde_json::from_value(cut.before.clone()).map_err(|err| format!("`before`: {err}"))?;
    let after: UrlState =
        serde_json::from_value(cut.after.clone()).map_err(|err| format!("`after`: {err}"))?;
    Ok((before, after))
}

#[async_trait]
impl Containment for LambdaUrlRestrict {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &Cut) -> Result<(), String> {
        let (before, after) = decode_states(cut)?;
        if before.function_name != cut.target || after.function_name != cut.target {
            return Err(format!(
                "function_name must be the cut's target `{}`",
                cut.target
            ));
        }
        if before.auth_type != OPEN || after.auth_type != IAM {
            return Err(format!(
                "`before.auth_type` must be {OPEN} and `after.auth_type` {IAM}"
            ));
        }
        if before.function_url != after.function_url {
            return Err("`after.function_url` must equal `before.function_url`".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<ProposedCut>, ServiceError> {
        per_function(ctx, |function| async move {
            Ok(read(ctx, &function)
                .await?
                .as_ref()
                .and_then(propose)
                .into_iter()
                .collect())
        })
        .await
    }

    async fn observe(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        Ok(match read(ctx, &cut.target).await? {
            Some(state) => serde_json::to_value(state).expect("url state serializes"),
            None => Value::Null,
        })
    }

    async fn apply(&self, ctx: &RegionCtx, cut: &Cut) -> Result<Value, ServiceError> {
        let record = self.undo_record_for(cut)?;
        set_auth_type(ctx, &cut.target, IAM).await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &Cut) -> Result<Value, ServiceError> {
        let (before, _) =
            decode_states(cut).map_err(|problem| ServiceError::local(INFO.name, problem))?;
        Ok(serde_json::to_value(before).expect("url state serializes"))
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &Value) -> Result<UndoOutcome, ServiceError> {
        let prior: UrlState = decode(INFO.name, "undo record", undo)?;
        let function = &prior.function_name;
        match read(ctx, function).await? {
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
                set_auth_type(ctx, function, OPEN).await?;
                Ok(UndoOutcome {
                    notes: vec![format!("{function}: URL auth type NONE again")],
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_open_urls_are_proposed_and_the_address_may_not_change() {
        let open = UrlState {
            function_name: "orders".into(),
            function_url: "https://abc.lambda-url.us-east-1.on.aws/".into(),
            auth_type: OPEN.into(),
        };
        assert_eq!(
            propose(&UrlState {
                auth_type: IAM.into(),
                ..open.clone()
            }),
            None
        );
        let proposed = propose(&open).unwrap();
        let mut cut = Cut {
            id: "lambda_url_restrict/us-east-1/orders".into(),
            kind: INFO.name.into(),
            region: "us-east-1".into(),
            target: proposed.target,
            enabled: true,
            reversible: true,
            reason: proposed.reason,
            before: proposed.before,
            after: proposed.after,
        };
        assert_eq!(LambdaUrlRestrict.check_states(&cut), Ok(()));
        cut.after["function_url"] = "https://elsewhere/".into();
        assert!(LambdaUrlRestrict.check_states(&cut).is_err());
    }
}
