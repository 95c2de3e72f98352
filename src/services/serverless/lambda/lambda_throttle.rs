//! `lambda_throttle`: reserved concurrency 0 on every function, so none of its code runs, whoever or
//! whatever invokes it (a URL, API Gateway, a schedule, a queue). It stops a compromised function
//! exfiltrating data and stops an intruder using one as a foothold, at the cost of its legitimate use.
//!
//! AWS keeps what arrives meanwhile: asynchronous invocations are retried for up to six hours and queue
//! or stream event sources wait, so they run after restore. The plan says so.
//!
//! Undo puts back the prior reserved concurrency, or removes it if there was none, but only while the
//! function is still at 0: a value someone set since is theirs to keep.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{is_not_found, per_function};
use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, KindInfo, Phase, Proposal, ServiceError, TypedCut,
    UndoOutcome,
};

pub struct LambdaThrottle;

static INFO: KindInfo = KindInfo {
    name: "lambda_throttle",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::Lambda,
};

/// A function's concurrency as `before`, `after` and the undo record hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    pub function_name: String,
    /// None: no reserved concurrency (the function shares the account's unreserved pool).
    pub reserved_concurrency: Option<i32>,
}

/// The proposal for one function, or nothing when it is already throttled.
pub fn propose(state: &Concurrency) -> Option<Proposal<Concurrency>> {
    if state.reserved_concurrency == Some(0) {
        return None;
    }
    let after = Concurrency {
        function_name: state.function_name.clone(),
        reserved_concurrency: Some(0),
    };
    let prior = match state.reserved_concurrency {
        Some(n) => format!("its reserved concurrency of {n}"),
        None => "no reserved concurrency (it is removed)".to_string(),
    };
    Some(Proposal {
        target: state.function_name.clone(),
        reason: format!(
            "Lambda function {} can run: reserved concurrency 0 stops every invocation, from any trigger, including its legitimate use. Warning: AWS keeps what arrives meanwhile: asynchronous invocations (retried for up to 6 hours) and events from SQS, Kinesis and DynamoDB stream event sources (kept up to the queue's or stream's retention) wait, and they run after restore. Restore puts back {prior}.",
            state.function_name
        ),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

/// The function's reserved concurrency, or `Ok(None)` when the function no longer exists.
async fn read(ctx: &RegionCtx, function: &str) -> Result<Option<Concurrency>, ServiceError> {
    let result = ctx
        .lambda()
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("lambda:GetFunctionConcurrency", err));
    match result {
        Ok(out) => Ok(Some(Concurrency {
            function_name: function.to_string(),
            reserved_concurrency: out.reserved_concurrent_executions(),
        })),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn write(ctx: &RegionCtx, function: &str, value: Option<i32>) -> Result<(), ServiceError> {
    match value {
        Some(n) => {
            ctx.lambda()
                .put_function_concurrency()
                .function_name(function)
                .reserved_concurrent_executions(n)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("lambda:PutFunctionConcurrency", err))?;
        }
        None => {
            ctx.lambda()
                .delete_function_concurrency()
                .function_name(function)
                .send()
                .await
                .map_err(|err| ServiceError::from_sdk("lambda:DeleteFunctionConcurrency", err))?;
        }
    }
    Ok(())
}

#[async_trait]
impl CutKind for LambdaThrottle {
    type State = Concurrency;
    /// The undo record is `before` itself: the value to put back.
    type Undo = Concurrency;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own function: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
    }

    fn check_states(&self, cut: &TypedCut<Concurrency>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.function_name != cut.target || after.function_name != cut.target {
            return Err(format!(
                "function_name must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.reserved_concurrency != Some(0) {
            return Err("`after` must have reserved_concurrency: 0".into());
        }
        if before.reserved_concurrency.is_some_and(|n| n < 0) {
            return Err("`before.reserved_concurrency` must be a count, 0 or more, or null".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<Concurrency>>, ServiceError> {
        per_function(ctx, INFO.name, |function| async move {
            Ok(read(ctx, &function)
                .await?
                .as_ref()
                .and_then(propose)
                .into_iter()
                .collect())
        })
        .await
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Concurrency>,
    ) -> Result<Option<Concurrency>, ServiceError> {
        read(ctx, &cut.target).await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<Concurrency>,
    ) -> Result<Concurrency, ServiceError> {
        let record = self.undo_record_for(cut)?;
        write(ctx, &cut.target, Some(0)).await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &TypedCut<Concurrency>) -> Result<Concurrency, ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        ctx: &RegionCtx,
        prior: &Concurrency,
    ) -> Result<UndoOutcome, ServiceError> {
        let function = &prior.function_name;
        match read(ctx, function).await? {
            None => Err(ServiceError::local(
                "lambda:GetFunctionConcurrency",
                format!(
                    "Lambda function {function} no longer exists; its concurrency cannot be restored"
                ),
            )),
            Some(now) if now.reserved_concurrency == prior.reserved_concurrency => {
                Ok(UndoOutcome {
                    notes: vec![format!("{function} already has its prior concurrency")],
                })
            }
            Some(now) if now.reserved_concurrency != Some(0) => Ok(UndoOutcome {
                notes: vec![format!(
                    "conflict: {function}'s reserved concurrency was changed to {} after the cut; left alone",
                    now.reserved_concurrency
                        .map_or("none".to_string(), |n| n.to_string())
                )],
            }),
            Some(_) => {
                write(ctx, function, prior.reserved_concurrency).await?;
                Ok(UndoOutcome {
                    notes: vec![match prior.reserved_concurrency {
                        Some(n) => format!("{function}: reserved concurrency {n} put back"),
                        None => format!("{function}: reserved concurrency removed, as before"),
                    }],
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_lambda::Client;
    use aws_sdk_lambda::operation::delete_function_concurrency::DeleteFunctionConcurrencyOutput;
    use aws_sdk_lambda::operation::get_function_concurrency::GetFunctionConcurrencyOutput;
    use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    /// A function deleted between plan and apply: Lambda answers PutFunctionConcurrency with its
    /// documented ResourceNotFoundException (404), which fails the cut with AWS's code, naming the call.
    #[tokio::test]
    async fn mocked_a_function_deleted_before_its_cut_fails_it_with_lambdas_not_found() {
        use aws_sdk_lambda::operation::put_function_concurrency::PutFunctionConcurrencyError;

        let gone = mock!(Client::put_function_concurrency).then_error(|| {
            PutFunctionConcurrencyError::ResourceNotFoundException(
                crate::services::serverless::lambda::not_found(
                    "Function not found: arn:aws:lambda:us-east-1:123456789012:function:orders",
                ),
            )
        });
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(mock_client!(
            aws_sdk_lambda,
            RuleMode::MatchAny,
            &[&gone]
        ));
        let state = Concurrency {
            function_name: "orders".into(),
            reserved_concurrency: None,
        };
        let proposed = propose(&state).unwrap();
        let cut = TypedCut {
            id: "lambda_throttle/us-east-1/orders".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        };
        let err = LambdaThrottle.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("ResourceNotFoundException"));
        assert!(
            err.to_string()
                .starts_with("lambda:PutFunctionConcurrency failed: ResourceNotFoundException"),
            "{err}"
        );
    }

    /// The proposal for `orders` and the cut a plan makes of it.
    fn cut(before: Option<i32>) -> (Proposal<Concurrency>, TypedCut<Concurrency>) {
        let proposed = propose(&Concurrency {
            function_name: "orders".into(),
            reserved_concurrency: before,
        })
        .unwrap();
        let cut = TypedCut {
            id: "lambda_throttle/us-east-1/orders".into(),
            region: "us-east-1".into(),
            target: proposed.target.clone(),
            before: proposed.before.clone(),
            after: proposed.after.clone(),
        };
        (proposed, cut)
    }

    #[test]
    fn a_throttled_function_is_not_proposed_and_the_reason_warns_of_replay() {
        assert_eq!(
            propose(&Concurrency {
                function_name: "f".into(),
                reserved_concurrency: Some(0)
            }),
            None
        );
        let (proposed, cut) = cut(None);
        for warning in [
            "asynchronous invocations",
            "SQS, Kinesis",
            "run after restore",
            "legitimate use",
        ] {
            assert!(proposed.reason.contains(warning), "{}", proposed.reason);
        }
        assert_eq!(LambdaThrottle.check_states(&cut), Ok(()));
        let mut edited = cut.clone();
        edited.after.reserved_concurrency = Some(3);
        assert!(LambdaThrottle.check_states(&edited).is_err());
    }

    #[tokio::test]
    async fn mocked_undo_removes_concurrency_that_did_not_exist_and_leaves_a_later_value_alone() {
        let throttled = mock!(Client::get_function_concurrency).then_output(|| {
            GetFunctionConcurrencyOutput::builder()
                .reserved_concurrent_executions(0)
                .build()
        });
        let delete = mock!(Client::delete_function_concurrency)
            .match_requests(|req| req.function_name() == Some("orders"))
            .then_output(|| DeleteFunctionConcurrencyOutput::builder().build());
        let put = mock!(Client::put_function_concurrency)
            .then_output(|| PutFunctionConcurrencyOutput::builder().build());
        let client = mock_client!(
            aws_sdk_lambda,
            RuleMode::MatchAny,
            &[&throttled, &delete, &put]
        );
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let record = LambdaThrottle.undo_record_for(&cut(None).1).unwrap();
        LambdaThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!((delete.num_calls(), put.num_calls()), (1, 0));

        let changed = mock!(Client::get_function_concurrency).then_output(|| {
            GetFunctionConcurrencyOutput::builder()
                .reserved_concurrent_executions(7)
                .build()
        });
        let put = mock!(Client::put_function_concurrency)
            .then_output(|| PutFunctionConcurrencyOutput::builder().build());
        let client = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&changed, &put]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_lambda(client);
        let record = LambdaThrottle.undo_record_for(&cut(Some(5)).1).unwrap();
        let outcome = LambdaThrottle.undo(&ctx, &record).await.unwrap();
        assert_eq!(put.num_calls(), 0);
        assert!(
            outcome.notes[0].contains("changed to 7 after the cut"),
            "{outcome:?}"
        );
    }
}
