//! `rds_public_off`: make publicly accessible RDS instances private (`PubliclyAccessible=false`).
//!
//! A public instance has a DNS name that resolves to a public address; turning the flag off makes it resolve
//! to the private address only, so the database is unreachable from outside the VPC even where security
//! groups or NACLs would let traffic in. Undo sets the flag back. AWS applies the change within minutes
//! (the instance shows `modifying`) without waiting for the maintenance window, and neither the cut nor
//! its undo sets ApplyImmediately: that would also apply every modification queued on the instance
//! (see [`set_public`]).
//!
//! Instances of a Multi-AZ DB cluster (RDS for MySQL or PostgreSQL with a writer and two readers) get no
//! cut: "You can't modify the DB instances within a Multi-AZ DB cluster. All modifications must be done at
//! the DB cluster level" (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/modify-multi-az-db-cluster.html>),
//! and at the cluster level `PubliclyAccessible` is only a CreateDBCluster setting ("Valid for Cluster
//! Type: Multi-AZ DB clusters only"): ModifyDBCluster takes no such parameter
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html>; the SDK's
//! ModifyDBCluster has none either). A cut on them would only fail, so the `rds_multi_az_cluster_public`
//! inspection reports each public Multi-AZ DB cluster as a High finding, naming the network cuts that
//! close it instead. Aurora clusters keep the flag on each instance, which this kind cuts as before.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster, DbInstance};
use serde::{Deserialize, Serialize};

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::unclassified;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct RdsPublicOff;

static INFO: KindInfo = KindInfo {
    name: "rds_public_off",
    reversible: true,
    enabled_by_default: true,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::RdsInstances,
};

/// The engines of a Multi-AZ DB cluster: "Multi-AZ DB clusters are supported only for the MySQL and
/// PostgreSQL DB engines" (modify-multi-az-db-cluster.html above). An instance with a cluster and one of
/// these engines is one of its instances; Aurora's engines are `aurora-*`.
const MULTI_AZ_CLUSTER_ENGINES: [&str; 2] = ["mysql", "postgres"];

/// The instance's Multi-AZ DB cluster, when it belongs to one.
pub fn multi_az_cluster_of(instance: &DbInstance) -> Option<&str> {
    let engine = instance.engine()?;
    instance
        .db_cluster_identifier()
        .filter(|_| MULTI_AZ_CLUSTER_ENGINES.contains(&engine))
}

/// Whether DescribeDBClusters describes a Multi-AZ DB cluster (it also lists Aurora, Neptune and
/// DocumentDB clusters).
pub fn is_multi_az_cluster(cluster: &DbCluster) -> bool {
    cluster
        .engine()
        .is_some_and(|engine| MULTI_AZ_CLUSTER_ENGINES.contains(&engine))
}

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

/// The instances this kind can cut: all but those of Multi-AZ DB clusters, which AWS does not let be
/// modified one by one (the `rds_multi_az_cluster_public` finding reports those), sorted.
pub fn cuttable_instances(instances: &[DbInstance]) -> Vec<InstanceState> {
    let mut states: Vec<InstanceState> = instances
        .iter()
        .filter(|instance| multi_az_cluster_of(instance).is_none())
        .filter_map(state_of)
        .collect();
    states.sort_by(|a, b| a.db_instance_identifier.cmp(&b.db_instance_identifier));
    states
}

/// The instances this kind would pass over for want of what it decides on: an identifier (every call
/// names it) or `PubliclyAccessible`. DescribeDBInstances documents both as members of every DBInstance
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html>); read as `false`, a
/// missing one would leave a public instance uncut, and read as `true`, restore would make a private one
/// public. Instances of Multi-AZ DB clusters are the cluster finding's.
pub fn unclassified_instances(instances: &[DbInstance]) -> Vec<(String, String)> {
    instances
        .iter()
        .filter(|instance| multi_az_cluster_of(instance).is_none())
        .filter_map(|instance| {
            let (resource, what) = match (
                instance.db_instance_identifier(),
                instance.publicly_accessible(),
            ) {
                (Some(_), Some(_)) => return None,
                (Some(id), None) => (
                    id.to_string(),
                    "DescribeDBInstances returned it without PubliclyAccessible, so whether the internet reaches it is not known",
                ),
                (None, _) => (
                    format!(
                        "an RDS instance ({}, endpoint {})",
                        instance.engine().unwrap_or("engine not given"),
                        instance
                            .endpoint()
                            .and_then(|e| e.address())
                            .unwrap_or("not given")
                    ),
                    "DescribeDBInstances returned it without its DBInstanceIdentifier, so it cannot be modified",
                ),
            };
            Some((resource, what.to_string()))
        })
        .collect()
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
            "RDS instance {} ({}) is publicly accessible: its endpoint resolves to a public address. Turning that off makes it reachable only from inside its VPC; AWS applies it within minutes, without applying the modifications queued for its maintenance window.",
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

/// AWS's refusal to modify one instance of a DB cluster, in words the operator can act on. AWS answers
/// InvalidParameterCombination, "The specified DB Instance is a member of a cluster. Modify … for the DB
/// Cluster using the ModifyDbCluster API".
fn about_cluster_member(identifier: &str, mut err: ServiceError) -> ServiceError {
    if err.code.as_deref() == Some("InvalidParameterCombination")
        && err.message.contains("member of a cluster")
    {
        err.message = format!(
            "{} (RDS instance {identifier} belongs to a DB cluster. If that is a Multi-AZ DB cluster, no call makes it private: ModifyDBCluster has no PubliclyAccessible setting. Plan again: the plan then reports it as an rds_multi_az_cluster_public finding with the network cuts that close it)",
            err.message
        );
    }
    err
}

/// RDS makes an instance public only in a VPC with an internet gateway attached: CreateDBInstance
/// documents "If PubliclyAccessible is true and the VPC that the DBSubnetGroup is in doesn't have an
/// internet gateway attached to it, Amazon RDS returns an error"
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html>), and
/// ModifyDBInstance lists InvalidVPCNetworkStateFault among its errors
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html>). Restore
/// undoes this kind with the per-resource cuts, before the sealing ones attach a gateway again
/// (`igw_detach`), so where the same restore detached the instance's gateway AWS may refuse it this way:
/// restore tries it once more after them ([`CutKind::refused_until_later_phases`]).
fn refused_for_want_of_a_gateway(err: &ServiceError) -> bool {
    err.code
        .as_deref()
        .is_some_and(|code| code.eq_ignore_ascii_case("InvalidVPCNetworkStateFault"))
}

/// [`refused_for_want_of_a_gateway`] in words the operator can act on.
fn gateway_not_back_yet(identifier: &str, mut err: ServiceError) -> ServiceError {
    if refused_for_want_of_a_gateway(&err) {
        err.message = format!(
            "{} (RDS makes instance {identifier} public only while its VPC has an internet gateway attached: restore tries once more after the sealing cuts, which attach gateways again, are undone; should it still fail, attach the VPC's internet gateway and run `hikkonuki restore` again: this undo stays pending)",
            err.message
        );
    }
    err
}

/// Sets `PubliclyAccessible`, and nothing else, with ApplyImmediately off. ModifyDBInstance documents
/// "Changes to the PubliclyAccessible parameter are applied immediately regardless of the value of the
/// ApplyImmediately parameter", while ApplyImmediately on means "the modifications in this request and any
/// pending modifications are asynchronously applied as soon as possible"
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html>). With it on, an
/// instance with modifications queued for its maintenance window (DescribeDBInstances'
/// `PendingModifiedValues`: a new instance class, storage, Multi-AZ, an engine upgrade) would get them at
/// the cut, possibly with a reboot no one asked for, and restore could not queue them back. Off, they stay
/// queued, and the flag changes at once all the same. The flag is sent off explicitly, so the request
/// says so rather than lean on the default.
async fn set_public(ctx: &RegionCtx, identifier: &str, public: bool) -> Result<(), ServiceError> {
    ctx.rds()
        .modify_db_instance()
        .db_instance_identifier(identifier)
        .publicly_accessible(public)
        .apply_immediately(false)
        .send()
        .await
        .map_err(|err| {
            about_cluster_member(
                identifier,
                ServiceError::from_sdk("rds:ModifyDBInstance", err),
            )
        })?;
    Ok(())
}

async fn all_instances(ctx: &RegionCtx) -> Result<Vec<DbInstance>, ServiceError> {
    ctx.rds()
        .describe_db_instances()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| ServiceError::from_sdk("rds:DescribeDBInstances", err))
}

#[async_trait]
impl CutKind for RdsPublicOff {
    type State = InstanceState;
    type Undo = UndoRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    /// Each cut's undo touches only its own database: restore may undo several at once.
    fn undoes_independently(&self) -> bool {
        true
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
        let instances = all_instances(ctx).await?;
        for (resource, what) in unclassified_instances(&instances) {
            unclassified::report(ctx, INFO.name, &ctx.region, &resource, what).await;
        }
        Ok(cuttable_instances(&instances)
            .iter()
            .filter_map(propose)
            .collect())
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

    fn refused_until_later_phases(&self, err: &ServiceError) -> bool {
        refused_for_want_of_a_gateway(err)
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
                set_public(ctx, identifier, true)
                    .await
                    .map_err(|err| gateway_not_back_yet(identifier, err))?;
                Ok(UndoOutcome {
                    notes: vec![format!("made publicly accessible again: {identifier}")],
                })
            }
        }
    }
}

/// `rds_multi_az_cluster_public`: a publicly accessible Multi-AZ DB cluster, which no API call makes
/// private once it exists (see the module's comment).
pub struct MultiAzClusterPublic;

/// What the finding says about one Multi-AZ DB cluster, gathered from DescribeDBClusters and its
/// instances' DescribeDBInstances entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicCluster {
    pub identifier: String,
    pub engine: String,
    pub instances: Vec<String>,
    pub security_groups: Vec<String>,
}

/// The public Multi-AZ DB clusters, by identifier. A cluster is public when DescribeDBClusters says so
/// (`PubliclyAccessible`, documented for Multi-AZ DB clusters) or, when it does not say, when one of its
/// instances is; an instance whose cluster DescribeDBClusters did not list (created in between) speaks
/// for its cluster, so no public instance passes unseen.
pub fn public_clusters(clusters: &[DbCluster], instances: &[DbInstance]) -> Vec<PublicCluster> {
    let mut members: BTreeMap<&str, Vec<&DbInstance>> = BTreeMap::new();
    for instance in instances {
        if let Some(cluster) = multi_az_cluster_of(instance) {
            members.entry(cluster).or_default().push(instance);
        }
    }
    let a_member_is_public = |id: &str| {
        members
            .get(id)
            .is_some_and(|m| m.iter().any(|i| i.publicly_accessible() == Some(true)))
    };
    let mut found: BTreeMap<String, PublicCluster> = BTreeMap::new();
    for cluster in clusters.iter().filter(|c| is_multi_az_cluster(c)) {
        let Some(id) = cluster.db_cluster_identifier() else {
            continue;
        };
        if !cluster
            .publicly_accessible()
            .unwrap_or_else(|| a_member_is_public(id))
        {
            continue;
        }
        let mut instances: Vec<String> = cluster
            .db_cluster_members()
            .iter()
            .filter_map(|m| m.db_instance_identifier().map(str::to_string))
            .collect();
        instances.sort();
        let mut security_groups: Vec<String> = cluster
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        security_groups.sort();
        found.insert(
            id.to_string(),
            PublicCluster {
                identifier: id.to_string(),
                engine: cluster.engine().unwrap_or_default().to_string(),
                instances,
                security_groups,
            },
        );
    }
    let listed: Vec<&str> = clusters
        .iter()
        .filter_map(|c| c.db_cluster_identifier())
        .collect();
    for (id, members) in &members {
        if listed.contains(id) || !a_member_is_public(id) {
            continue;
        }
        let mut instances: Vec<String> = members
            .iter()
            .filter_map(|i| i.db_instance_identifier().map(str::to_string))
            .collect();
        instances.sort();
        let mut security_groups: Vec<String> = members
            .iter()
            .flat_map(|i| i.vpc_security_groups())
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        security_groups.sort();
        security_groups.dedup();
        found.insert(
            id.to_string(),
            PublicCluster {
                identifier: id.to_string(),
                engine: members[0].engine().unwrap_or_default().to_string(),
                instances,
                security_groups,
            },
        );
    }
    found.into_values().collect()
}

/// The finding for one public Multi-AZ DB cluster.
pub fn public_cluster_finding(region: &str, cluster: &PublicCluster) -> Finding {
    let instances = if cluster.instances.is_empty() {
        String::new()
    } else {
        format!(
            " and those of its instances {}",
            cluster.instances.join(", ")
        )
    };
    let groups = if cluster.security_groups.is_empty() {
        "its security groups".to_string()
    } else {
        format!("its security groups {}", cluster.security_groups.join(", "))
    };
    Finding {
        check: "rds_multi_az_cluster_public".into(),
        region: region.to_string(),
        resource: cluster.identifier.clone(),
        severity: Severity::High,
        message: format!(
            "Multi-AZ DB cluster {} ({}) is publicly accessible: its endpoints{instances} resolve to public addresses. AWS offers no call that makes it private once it exists (ModifyDBCluster has no PubliclyAccessible setting, and its instances cannot be modified one by one), so rds_public_off proposes no cut for it. Close the path on the network: sg_revoke on {groups}, and route_remove, igw_detach and nacl_deny for its VPC, which this plan proposes where they apply. To keep it private for good, restore a snapshot into a new cluster created with PubliclyAccessible false.",
            cluster.identifier, cluster.engine
        ),
    }
}

#[async_trait]
impl Inspection for MultiAzClusterPublic {
    fn name(&self) -> &'static str {
        "rds_multi_az_cluster_public"
    }

    fn global(&self) -> bool {
        false
    }

    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        let clusters: Vec<DbCluster> = ctx
            .rds()
            .describe_db_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| ServiceError::from_sdk("rds:DescribeDBClusters", err))?;
        let instances = all_instances(ctx).await?;
        Ok(public_clusters(&clusters, &instances)
            .iter()
            .map(|cluster| public_cluster_finding(&ctx.region, cluster))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::Client;
    use aws_sdk_rds::error::ErrorMetadata;
    use aws_sdk_rds::operation::describe_db_clusters::DescribeDbClustersOutput;
    use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
    use aws_sdk_rds::operation::modify_db_instance::ModifyDBInstanceError;
    use aws_sdk_rds::types::{DbClusterMember, VpcSecurityGroupMembership};
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

    /// An instance with modifications queued for its maintenance window, as DescribeDBInstances documents
    /// them in `PendingModifiedValues`
    /// (docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PendingModifiedValues.html): a larger class,
    /// more storage, Multi-AZ and an engine upgrade, each a possible reboot. Regression test for the cut
    /// and its undo sending ApplyImmediately, which applies "any pending modifications" with the request:
    /// the cut stays proposed (PubliclyAccessible changes at once whatever ApplyImmediately says), and both
    /// calls send the flag alone with ApplyImmediately off, so the queued modifications stay queued.
    #[tokio::test]
    async fn mocked_pending_modifications_stay_queued_through_the_cut_and_its_undo() {
        use aws_sdk_rds::operation::modify_db_instance::ModifyDbInstanceOutput;
        use aws_sdk_rds::types::PendingModifiedValues;

        let described = |public: bool| {
            mock!(Client::describe_db_instances).then_output(move || {
                DescribeDbInstancesOutput::builder()
                    .db_instances(
                        DbInstance::builder()
                            .db_instance_identifier("orders")
                            .engine("postgres")
                            .publicly_accessible(public)
                            .db_instance_status("available")
                            .pending_modified_values(
                                PendingModifiedValues::builder()
                                    .db_instance_class("db.r6g.2xlarge")
                                    .allocated_storage(500)
                                    .multi_az(true)
                                    .engine_version("16.4")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
        };
        let flag_alone = |public: bool| {
            mock!(Client::modify_db_instance)
                .match_requests(move |req| {
                    req.db_instance_identifier() == Some("orders")
                        && req.publicly_accessible() == Some(public)
                        && req.apply_immediately() == Some(false)
                        && req.db_instance_class().is_none()
                        && req.allocated_storage().is_none()
                        && req.multi_az().is_none()
                        && req.engine_version().is_none()
                })
                .then_output(|| ModifyDbInstanceOutput::builder().build())
        };

        let (public, cut_alone) = (described(true), flag_alone(false));
        let ctx = RegionCtx::with_rds(
            "us-east-1",
            mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&public, &cut_alone]),
        );
        let proposed = RdsPublicOff
            .discover(&ctx, &DiscoveryScope::for_tests())
            .await
            .unwrap();
        assert_eq!(proposed.len(), 1);
        assert_eq!(proposed[0].disabled_because, None);
        assert!(
            proposed[0]
                .reason
                .contains("without applying the modifications queued for its maintenance window"),
            "{}",
            proposed[0].reason
        );
        let record = RdsPublicOff
            .apply(&ctx, &cut_of(proposed[0].clone()))
            .await
            .unwrap();
        assert_eq!(cut_alone.num_calls(), 1);

        let (private, undo_alone) = (described(false), flag_alone(true));
        let ctx = RegionCtx::with_rds(
            "us-east-1",
            mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&private, &undo_alone]),
        );
        RdsPublicOff.undo(&ctx, &record).await.unwrap();
        assert_eq!(undo_alone.num_calls(), 1);
    }

    /// An instance of a DB cluster as DescribeDBInstances describes it: `DBClusterIdentifier` names the
    /// cluster.
    fn member(id: &str, cluster: &str, engine: &str, public: bool) -> DbInstance {
        DbInstance::builder()
            .db_instance_identifier(id)
            .engine(engine)
            .db_cluster_identifier(cluster)
            .publicly_accessible(public)
            .build()
    }

    fn multi_az_members(id: &str, public: bool) -> Vec<DbInstance> {
        (1..=3)
            .map(|n| member(&format!("{id}-instance-{n}"), id, "postgres", public))
            .collect()
    }

    /// A Multi-AZ DB cluster as DescribeDBClusters documents it
    /// (docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html): a PostgreSQL engine, a
    /// `DBClusterInstanceClass`, a writer and two readers, its security groups and its own
    /// `PubliclyAccessible` ("This setting is only for non-Aurora Multi-AZ DB clusters").
    fn multi_az_cluster(id: &str, public: Option<bool>) -> DbCluster {
        let mut cluster = DbCluster::builder()
            .db_cluster_identifier(id)
            .engine("postgres")
            .db_cluster_instance_class("db.m6gd.large")
            .vpc_security_groups(
                VpcSecurityGroupMembership::builder()
                    .vpc_security_group_id("sg-ledger")
                    .status("active")
                    .build(),
            )
            .set_publicly_accessible(public);
        for (n, writer) in [(1, true), (2, false), (3, false)] {
            cluster = cluster.db_cluster_members(
                DbClusterMember::builder()
                    .db_instance_identifier(format!("{id}-instance-{n}"))
                    .is_cluster_writer(writer)
                    .build(),
            );
        }
        cluster.build()
    }

    fn aurora_cluster(id: &str) -> DbCluster {
        DbCluster::builder()
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .build()
    }

    fn region_with_clusters() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
        let instances = mock!(Client::describe_db_instances).then_output(|| {
            let mut all = multi_az_members("ledger", true);
            all.push(instance("orders", true));
            // Aurora keeps the flag on each instance: cut one by one, as before.
            all.push(member("reports-1", "reports", "aurora-postgresql", true));
            DescribeDbInstancesOutput::builder()
                .set_db_instances(Some(all))
                .build()
        });
        let clusters = mock!(Client::describe_db_clusters).then_output(|| {
            DescribeDbClustersOutput::builder()
                .db_clusters(multi_az_cluster("ledger", Some(true)))
                .db_clusters(aurora_cluster("reports"))
                .build()
        });
        (instances, clusters)
    }

    #[tokio::test]
    async fn mocked_instances_of_a_multi_az_cluster_get_no_cut_but_a_high_finding_naming_the_network_cuts()
     {
        let (instances, clusters) = region_with_clusters();
        let ctx = RegionCtx::with_rds(
            "us-east-1",
            mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&instances, &clusters]),
        );
        let scope = DiscoveryScope::for_tests();
        let proposed = RdsPublicOff.discover(&ctx, &scope).await.unwrap();
        let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
        assert_eq!(targets, ["orders", "reports-1"]);
        assert_eq!(
            clusters.num_calls(),
            0,
            "the cut's discovery needs no cluster"
        );

        let findings = MultiAzClusterPublic
            .inspect(&ctx, &scope, &[])
            .await
            .unwrap();
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(
            (
                finding.check.as_str(),
                finding.resource.as_str(),
                finding.severity
            ),
            ("rds_multi_az_cluster_public", "ledger", Severity::High)
        );
        for needed in [
            "ledger-instance-1, ledger-instance-2, ledger-instance-3",
            "ModifyDBCluster has no PubliclyAccessible setting",
            "sg_revoke on its security groups sg-ledger",
            "route_remove, igw_detach and nacl_deny",
        ] {
            assert!(
                finding.message.contains(needed),
                "{needed}: {}",
                finding.message
            );
        }
    }

    #[test]
    fn a_multi_az_cluster_is_public_as_it_says_or_as_its_instances_say_when_it_does_not() {
        let public = multi_az_members("ledger", true);
        let private = multi_az_members("ledger", false);
        let names = |found: Vec<PublicCluster>| -> Vec<String> {
            found.into_iter().map(|c| c.identifier).collect()
        };
        assert_eq!(
            names(public_clusters(
                &[multi_az_cluster("ledger", Some(false))],
                &public
            )),
            Vec::<String>::new(),
            "the cluster's own setting decides"
        );
        assert_eq!(
            names(public_clusters(
                &[multi_az_cluster("ledger", None)],
                &public
            )),
            ["ledger"]
        );
        assert_eq!(
            names(public_clusters(
                &[multi_az_cluster("ledger", None)],
                &private
            )),
            Vec::<String>::new()
        );
        // A cluster DescribeDBClusters did not list (created in between) still shows through its instances.
        let unlisted = public_clusters(&[], &public);
        assert_eq!(unlisted.len(), 1);
        assert_eq!(unlisted[0].instances.len(), 3);
        // Aurora clusters are not Multi-AZ DB clusters: their instances are cut one by one.
        assert!(
            public_clusters(
                &[aurora_cluster("reports")],
                &[member("reports-1", "reports", "aurora-postgresql", true)]
            )
            .is_empty()
        );
    }

    /// ModifyDBInstance making an instance public in a VPC without an internet gateway, refused with
    /// the fault ModifyDBInstance documents (InvalidVPCNetworkStateFault, HTTP 400): the undo fails
    /// saying why and what to do, and tells restore to try it again after the sealing undos.
    #[tokio::test]
    async fn mocked_restore_refused_while_the_vpc_has_no_gateway_is_tried_again_after_the_seal() {
        let described = mock!(Client::describe_db_instances).then_output(|| {
            DescribeDbInstancesOutput::builder()
                .db_instances(
                    DbInstance::builder()
                        .db_instance_identifier("orders")
                        .publicly_accessible(false)
                        .build(),
                )
                .build()
        });
        let refused = mock!(Client::modify_db_instance).then_error(|| {
            ModifyDBInstanceError::InvalidVpcNetworkStateFault(
                aws_sdk_rds::types::error::InvalidVpcNetworkStateFault::builder()
                    .message("Cannot create a publicly accessible DBInstance. The specified VPC has no internet gateway attached.")
                    .meta(
                        ErrorMetadata::builder()
                            .code("InvalidVPCNetworkStateFault")
                            .message("Cannot create a publicly accessible DBInstance. The specified VPC has no internet gateway attached.")
                            .build(),
                    )
                    .build(),
            )
        });
        let ctx = RegionCtx::with_rds(
            "us-east-1",
            mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&described, &refused]),
        );
        let undo = RdsPublicOff.undo_record_for(&cut()).unwrap();
        let err = RdsPublicOff.undo(&ctx, &undo).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("InvalidVPCNetworkStateFault"));
        assert!(
            err.message.contains("no internet gateway attached"),
            "{err}"
        );
        assert!(
            err.message.contains("run `hikkonuki restore` again"),
            "{err}"
        );
        assert!(RdsPublicOff.refused_until_later_phases(&err));
        assert_eq!(refused.num_calls(), 1);
    }

    /// ModifyDBInstance on an instance of a DB cluster, as AWS refuses it: InvalidParameterCombination,
    /// "The specified DB Instance is a member of a cluster. Modify … for the DB Cluster using the
    /// ModifyDbCluster API". An instance cut of an older plan meets it; the error says what to do.
    #[tokio::test]
    async fn mocked_an_instance_cut_on_a_cluster_instance_explains_aws_refusal() {
        let refused = mock!(Client::modify_db_instance).then_error(|| {
            ModifyDBInstanceError::generic(
                ErrorMetadata::builder()
                    .code("InvalidParameterCombination")
                    .message("The specified DB Instance is a member of a cluster. Modify publicly accessible for the DB Cluster using the ModifyDbCluster API")
                    .build(),
            )
        });
        let ctx = RegionCtx::with_rds(
            "us-east-1",
            mock_client!(aws_sdk_rds, RuleMode::MatchAny, &[&refused]),
        );
        let mut cut = cut();
        cut.target = "ledger-instance-1".into();
        cut.before.db_instance_identifier = "ledger-instance-1".into();
        let err = RdsPublicOff.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("InvalidParameterCombination"));
        assert!(err.message.contains("member of a cluster"), "{err}");
        assert!(
            err.message.contains("rds_multi_az_cluster_public finding"),
            "{err}"
        );
        assert_eq!(refused.num_calls(), 1);
    }
}
