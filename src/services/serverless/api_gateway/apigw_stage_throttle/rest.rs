//! REST API (API Gateway v1) stages: throttling lives in a stage's method settings, `*/*` for the whole
//! stage and one entry per method with settings of its own, read with GetStage(s) and written with
//! UpdateStage patch operations.

use std::collections::HashMap;

use aws_sdk_apigateway::types::{MethodSetting, Op, PatchOperation};

use super::{ApiFamily, LimitWrites, Limits, StageThrottle, StageWide};
use crate::aws::RegionCtx;
use crate::services::ServiceError;
use crate::services::serverless::api_gateway::replace;

/// The REST method-settings key that applies to every method of a stage.
const REST_STAGE_WIDE: &str = "*/*";

/// A REST stage's throttling read from its method settings: `*/*` is stage-wide, every other key one
/// method's own settings. AWS always returns both limits of an entry (-1 where unset).
pub(super) fn rest_throttle(
    api_id: &str,
    stage: &str,
    settings: Option<&HashMap<String, MethodSetting>>,
) -> StageThrottle {
    let limits = |s: &MethodSetting| Limits {
        rate_limit: Some(s.throttling_rate_limit()),
        burst_limit: Some(s.throttling_burst_limit()),
    };
    let settings = settings.cloned().unwrap_or_default();
    let stage_wide = settings.get(REST_STAGE_WIDE).map(limits);
    StageThrottle {
        family: ApiFamily::Rest,
        api_id: api_id.to_string(),
        stage_name: stage.to_string(),
        rate_limit: stage_wide.and_then(|l| l.rate_limit),
        burst_limit: stage_wide.and_then(|l| l.burst_limit),
        // Every method entry, even one showing -1: whether such an entry falls back to `*/*` is not
        // something to rely on while containing, and setting it to 0 and back is exact either way.
        overrides: settings
            .iter()
            .filter(|(key, _)| key.as_str() != REST_STAGE_WIDE)
            .map(|(key, s)| (key.clone(), limits(s)))
            .collect(),
    }
}

pub(super) async fn rest_stages(
    ctx: &RegionCtx,
    api_id: &str,
) -> Result<Vec<StageThrottle>, ServiceError> {
    let out = ctx
        .apigateway()
        .get_stages()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis/{id}/stages", err))?;
    let unnamed = out
        .item()
        .iter()
        .filter(|s| s.stage_name().is_none())
        .count();
    super::super::report_unnamed_stages(
        ctx,
        super::INFO.name,
        api_id,
        unnamed,
        "stageName",
        "which UpdateStage cannot name",
    )
    .await;
    Ok(out
        .item()
        .iter()
        .filter_map(|stage| {
            Some(rest_throttle(
                api_id,
                stage.stage_name()?,
                stage.method_settings(),
            ))
        })
        .collect())
}

/// One stage's throttling now; a missing API or stage is an error with code `NotFoundException`.
pub(super) async fn read_stage(
    ctx: &RegionCtx,
    api_id: &str,
    stage: &str,
) -> Result<StageThrottle, ServiceError> {
    ctx.apigateway()
        .get_stage()
        .rest_api_id(api_id)
        .stage_name(stage)
        .send()
        .await
        .map(|out| rest_throttle(api_id, stage, out.method_settings()))
        .map_err(|err| ServiceError::from_sdk("apigateway:GET /restapis/{id}/stages/{stage}", err))
}

/// The REST patch for `writes`. A method's settings are addressed by their key as GetStage returns it
/// (`/orders/GET/throttling/rateLimit`), as for `*/*`.
pub(super) fn rest_patch(writes: &LimitWrites) -> Vec<PatchOperation> {
    let set = |key: &str, (rate, burst): (f64, i32)| {
        [
            replace(&format!("/{key}/throttling/rateLimit"), rate.to_string()),
            replace(&format!("/{key}/throttling/burstLimit"), burst.to_string()),
        ]
    };
    let mut ops = match writes.stage_wide {
        StageWide::Keep => vec![],
        StageWide::Set(rate, burst) => set(REST_STAGE_WIDE, (rate, burst)).to_vec(),
        StageWide::Unset => vec![
            PatchOperation::builder()
                .op(Op::Remove)
                .path(format!("/{REST_STAGE_WIDE}"))
                .build(),
        ],
    };
    for (key, limits) in &writes.overrides {
        ops.extend(set(key, *limits));
    }
    ops
}

pub(super) async fn write(
    ctx: &RegionCtx,
    stage: &StageThrottle,
    writes: &LimitWrites,
) -> Result<(), ServiceError> {
    ctx.apigateway()
        .update_stage()
        .rest_api_id(&stage.api_id)
        .stage_name(&stage.stage_name)
        .set_patch_operations(Some(rest_patch(writes)))
        .send()
        .await
        .map_err(|err| {
            ServiceError::from_sdk("apigateway:PATCH /restapis/{id}/stages/{stage}", err)
        })?;
    Ok(())
}
