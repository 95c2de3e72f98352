//! `rds_public_off`: make publicly accessible RDS instances private (`PubliclyAccessible=false`).
//!
//! A public instance has a DNS name that resolves to a public address; turning the flag off makes it resolve
//! to the private address only, so the database is unreachable from outside the VPC even where security
//! groups or NACLs would let traffic in. Undo sets the flag back. AWS applies the change within minutes
//! (the instance shows `modifying`); it is requested with ApplyImmediately so it does not wait for the
//! maintenance window.

use async_trait::async_trait;
use aws_sdk_rds::types::DbInstance;
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::services::{
    CutKind, DiscoveryScope, KindInfo, Phase, Proposal, ServiceError, TypedCut, UndoOutcome,
};

pub struct RdsPublicOff;

static INFO: KindInfo = KindInfo {
    name: "rds_public_off",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
};

/// The instance as `before` and `after` record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceState {
    pub db_instance_identifier: String,
    pub engine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub publicly_accessible: bool,
}

/// What restore needs: which instance to make public again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoRecord {
    pub db_instance_identifier: String,
}

fn state_of(instance: &DbInstance) -> Option<InstanceState> {
    Some(InstanceState {
        db_instance_identifier: instance.db_instance_identifier()?.to_string(),
        engine: instance.engine().unwrap_or_default().to_string(),
        vpc_id: instance
            .db_subnet_group()
            .and_then(|g| g.vpc_id())
            .map(str::to_string),
        publicly_accessible: instance.publicly_accessible().unwrap_or(false),
    })
}

/// The proposal for one instance, or nothing when it is not public.
pub fn propose(state: &InstanceState) -> Option<Proposal<InstanceState>> {
    if !state.publicly_accessible {
        return None;
    }
    let after = InstanceState {
        publicly_accessible: false,
        ..state.clone()
    };
    Some(Proposal {
        target: state.db_instance_identifier.clone(),
        reason: format!(
            "RDS instance {} ({}) is publicly accessible: its endpoint resolves to a public address. Turning that off makes it reachable only from inside its VPC; AWS applies it within minutes.",
            state.db_instance_identifier, state.engine
        ),
        before: state.clone(),
        after,
        disabled_because: None,
    })
}

fn is_not_found(err: &ServiceError) -> bool {
    err.code.as_deref() == Some("DBInstanceNotFound")
}

async fn describe(
    ctx: &RegionCtx,
    identifier: &str,
) -> Result<Option<InstanceState>, ServiceError> {
    let result = ctx
        .rds()
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("rds:DescribeDBInstances", err));
    match result {
        Ok(out) => Ok(out.db_instances().first().and_then(state_of)),
        Err(err) if is_not_found(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn set_public(ctx: &RegionCtx, identifier: &str, public: bool) -> Result<(), ServiceError> {
    ctx.rds()
        .modify_db_instance()
        .db_instance_identifier(identifier)
        .publicly_accessible(public)
        .apply_immediately(true)
        .send()
        .await
        .map_err(|err| ServiceError::from_sdk("rds:ModifyDBInstance", err))?;
    Ok(())
}

#[async_trait]
impl CutKind for RdsPublicOff {
    type State = InstanceState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<InstanceState>) -> Result<(), String> {
        let (before, after) = (&cut.before, &cut.after);
        if before.db_instance_identifier != cut.target || after.db_instance_identifier != cut.target
        {
            return Err(format!(
                "db_instance_identifier must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.publicly_accessible {
            return Err("`after` must have publicly_accessible: false".into());
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<InstanceState>>, ServiceError> {
        let instances = ctx
            .rds()
            .describe_db_instances()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("rds:DescribeDBInstances", err))?;
        let mut states: Vec<InstanceState> = instances.iter().filter_map(state_of).collect();
        states.sort_by(|a, b| a.db_instance_identifier.cmp(&b.db_instance_identifier));
        Ok(states.iter().filter_map(propose).collect())
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<InstanceState>,
    ) -> Result<Option<InstanceState>, ServiceError> {
        describe(ctx, &cut.target).await
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<InstanceState>,
    ) -> Result<UndoRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        set_public(ctx, &cut.target, false).await?;
        Ok(record)
    }

    fn undo_record_for(&self, cut: &TypedCut<InstanceState>) -> Result<UndoRecord, ServiceError> {
        Ok(UndoRecord {
            db_instance_identifier: cut.target.clone(),
        })
    }

    async fn undo(&self, ctx: &RegionCtx, undo: &UndoRecord) -> Result<UndoOutcome, ServiceError> {
        let identifier = &undo.db_instance_identifier;
        match describe(ctx, identifier).await? {
            None => Err(ServiceError::local(
                "rds:DescribeDBInstances",
                format!(
                    "RDS instance {identifier} no longer exists; it cannot be made public again"
                ),
            )),
            Some(state) if state.publicly_accessible => Ok(UndoOutcome {
                notes: vec![format!("already publicly accessible: {identifier}")],
            }),
            Some(_) => {
                set_public(ctx, identifier, true).await?;
                Ok(UndoOutcome {
                    notes: vec![format!("made publicly accessible again: {identifier}")],
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    fn state(public: bool) -> InstanceState {
        InstanceState {
            db_instance_identifier: "orders".into(),
            engine: "postgres".into(),
            vpc_id: Some("vpc-1".into()),
            publicly_accessible: public,
        }
    }

    fn cut_of(proposed: Proposal<InstanceState>) -> TypedCut<InstanceState> {
        TypedCut {
            id: "rds_public_off/us-east-1/orders".into(),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    fn cut() -> TypedCut<InstanceState> {
        cut_of(propose(&state(true)).unwrap())
    }

    #[test]
    fn only_public_instances_are_proposed_and_the_cut_flips_only_the_flag() {
        assert_eq!(propose(&state(false)), None);
        let proposed = propose(&state(true)).unwrap();
        assert!(proposed.reason.contains("publicly accessible"));
        let cut = cut_of(proposed);
        assert_eq!(cut.after, state(false));
        assert_eq!(RdsPublicOff.check_states(&cut), Ok(()));
    }

    #[test]
    fn states_that_would_not_cut_anything_are_refused() {
        let mut still_public = cut();
        still_public.after = state(true);
        assert!(
            RdsPublicOff
                .check_states(&still_public)
                .unwrap_err()
                .contains("publicly_accessible")
        );
        let mut other = cut();
        other.target = "billing".into();
        assert!(
            RdsPublicOff
                .check_states(&other)
                .unwrap_err()
                .contains("target")
        );
    }

    fn instance(id: &str, public: bool) -> DbInstance {
        DbInstance::builder()
            .db_instance_identifier(id)
            .engine("postgres")
            .publicly_accessible(public)
            .build()
    }

    /// The emulator returns every instance in one page; paging is proven against mocked pages.
    #[tokio::test]
    async fn mocked_discovery_follows_every_page_of_instances() {
        let first = mock!(Client::describe_db_instances)
            .match_requests(|req| req.marker().is_none())
            .then_output(|| {
                DescribeDbInstancesOutput::builder()
                    .db_instances(instance("private-one", false))
                    .marker("page-2")
                    .build()
            });
        let second = mock!(Client::describe_db_instances)
            .match_requests(|req| req.marker() == Some("page-2"))
            .then_output(|| {
                DescribeDbInstancesOutput::builder()
                    .db_instances(instance("public-two", true))
                    .build()
            });
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&first, &second]);
        let ctx = RegionCtx::with_rds("us-east-1", client);
        let proposed = RdsPublicOff
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
        let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
        assert_eq!(targets, vec!["public-two"]);
    }
}
