//! `ecr_public_delete`: delete public image repositories (ECR Public). A public repository cannot be made
//! private and its pulls cannot be denied by any policy, so deletion is the only containment, and it is
//! irreversible: images are gone and the repository name may be taken by someone else. Off by default.
//! ECR Public lives in us-east-1 only, so it is discovered only there.
//!
//! The same struct is an [`Inspection`] under the same name: every public repository is also a High
//! finding, so the responder sees it even when the deletion stays switched off. When the endpoint has no
//! ECR Public API (the emulator answers 500 without an error code), that is an Info finding, not a failed
//! plan; any other failure fails discovery.

use async_trait::async_trait;
use aws_sdk_ecrpublic::types::Repository;
use serde::{Deserialize, Deserializer, Serialize};

use crate::aws::RegionCtx;
use crate::plan::{Cut, Finding, Severity};
use crate::services::common::missing_api::{is_missing_operation, retry_config, unread_finding};
use crate::services::common::unclassified;
use crate::services::{
    CutKind, DiscoveryScope, Footprint, Inspection, KindInfo, Phase, Proposal, ServiceError,
    TypedCut, UndoOutcome,
};

pub struct EcrPublicDelete;

static INFO: KindInfo = KindInfo {
    name: "ecr_public_delete",
    reversible: false,
    enabled_by_default: false,
    phase: Phase::PerResource,
    global: false,
    footprint: Footprint::EcrPublic,
};

/// The only region with ECR Public.
pub const ECR_PUBLIC_REGION: &str = "us-east-1";

/// One repository as `before` records it (and the rollback file keeps, for rebuilding by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryState {
    pub repository_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_id: Option<String>,
}

/// The state the cut leaves: the repository is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    pub repository_name: String,
    /// Always `deleted`.
    pub state: String,
}

/// A cut's `before` or `after`, which record different things: `before` (and `observe`) the repository
/// as it is, `after` its deletion. Each is written exactly as its struct, so plans keep their shape;
/// reading tells them apart by their fields (see `RepositoryDocument`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, try_from = "RepositoryDocument")]
pub enum RepositoryStatus {
    Present(RepositoryState),
    Deleted(Deleted),
}

/// Either state as a plan holds it. Read through this rather than by trying each struct in turn, so a
/// document that fits neither is refused naming the field at fault, as when each was read on its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RepositoryDocument {
    repository_name: String,
    #[serde(default)]
    repository_uri: Option<String>,
    #[serde(default)]
    registry_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

impl TryFrom<RepositoryDocument> for RepositoryStatus {
    type Error = String;

    fn try_from(doc: RepositoryDocument) -> Result<RepositoryStatus, String> {
        let RepositoryDocument {
            repository_name,
            repository_uri,
            registry_id,
            state,
        } = doc;
        match state {
            None => Ok(RepositoryStatus::Present(RepositoryState {
                repository_name,
                repository_uri,
                registry_id,
            })),
            Some(state) if repository_uri.is_none() && registry_id.is_none() => {
                Ok(RepositoryStatus::Deleted(Deleted {
                    repository_name,
                    state,
                }))
            }
            Some(_) => Err(
                "`state` records a deleted repository, which has no repository_uri or registry_id"
                    .into(),
            ),
        }
    }
}

/// What the rollback file keeps of a deleted repository, for whoever rebuilds it by hand. Restore only
/// names the repository in its refusal, so a record that does not decode still gets that refusal (with
/// a generic name) rather than a decoding error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DeletedRecord {
    Recorded(RepositoryState),
    Unreadable(Unreadable),
}

/// Any document [`DeletedRecord`] cannot read; written as `null`, though only apply writes records and
/// it always writes [`DeletedRecord::Recorded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Unreadable;

impl<'de> Deserialize<'de> for Unreadable {
    fn deserialize<D: Deserializer<'de>>(value: D) -> Result<Unreadable, D::Error> {
        serde::de::IgnoredAny::deserialize(value).map(|_| Unreadable)
    }
}

fn state_of(repository: &Repository) -> Option<RepositoryState> {
    Some(RepositoryState {
        repository_name: repository.repository_name()?.to_string(),
        repository_uri: repository.repository_uri().map(str::to_string),
        registry_id: repository.registry_id().map(str::to_string),
    })
}

fn client(ctx: &RegionCtx) -> aws_sdk_ecrpublic::Client {
    match &ctx.endpoint_url {
        Some(url) => {
            let mut builder = aws_sdk_ecrpublic::config::Builder::from(&ctx.config);
            builder.set_retry_config(retry_config(Some(url)));
            aws_sdk_ecrpublic::Client::from_conf(
                builder.interceptor(crate::pacing::CallTagger).build(),
            )
        }
        None => ctx.ecrpublic().clone(),
    }
}

/// What listing gave.
enum Listing {
    Repositories(Vec<RepositoryState>),
    /// The endpoint has no ECR Public API.
    Unavailable,
}

async fn list(ctx: &RegionCtx, name: Option<&str>) -> Result<Listing, ServiceError> {
    let mut request = client(ctx).describe_repositories();
    if let Some(name) = name {
        request = request.repository_names(name);
    }
    match request.into_paginator().items().send().try_collect().await {
        Ok(repositories) => {
            // A repository without its name cannot be deleted (DeleteRepository names it).
            for unnamed in repositories
                .iter()
                .filter(|r| r.repository_name().is_none())
            {
                unclassified::report(
                    ctx,
                    INFO.name,
                    &ctx.region,
                    &format!(
                        "a public repository ({})",
                        unnamed
                            .repository_uri()
                            .or(unnamed.repository_arn())
                            .unwrap_or("no URI or ARN given")
                    ),
                    "DescribeRepositories returned it without its repositoryName, so it cannot be deleted",
                )
                .await;
            }
            let mut states: Vec<RepositoryState> =
                repositories.iter().filter_map(state_of).collect();
            states.sort_by(|a, b| a.repository_name.cmp(&b.repository_name));
            Ok(Listing::Repositories(states))
        }
        Err(err) if is_missing_operation(&err) => Ok(Listing::Unavailable),
        Err(err) => {
            let err = ServiceError::from_sdk("ecr-public:DescribeRepositories", err);
            if name.is_some() && err.code.as_deref() == Some("RepositoryNotFoundException") {
                Ok(Listing::Repositories(vec![]))
            } else {
                Err(err)
            }
        }
    }
}

/// The proposal for one public repository.
pub fn propose(repository: &RepositoryState) -> Proposal<RepositoryStatus> {
    Proposal {
        target: repository.repository_name.clone(),
        reason: format!(
            "Public image repository {} ({}): anyone can pull its images, and ECR Public can neither be made private nor deny pulls by policy, so deleting it (with its images) is the only containment. This CANNOT be undone: the images are lost unless copied first, and restore will not recreate it. Off by default: `apply` performs it only when it is set to `enabled: true` and `--allow-irreversible` is given.",
            repository.repository_name,
            repository.repository_uri.as_deref().unwrap_or("no URI")
        ),
        before: RepositoryStatus::Present(repository.clone()),
        after: RepositoryStatus::Deleted(Deleted {
            repository_name: repository.repository_name.clone(),
            state: "deleted".into(),
        }),
        disabled_because: None,
    }
}

/// The repository a cut's `before` records; the error says what is wrong with it.
fn recorded(cut: &TypedCut<RepositoryStatus>) -> Result<&RepositoryState, String> {
    match &cut.before {
        RepositoryStatus::Present(before) => Ok(before),
        RepositoryStatus::Deleted(_) => Err(
            "`before` must record the repository as it is (repository_name, repository_uri, registry_id), not as deleted"
                .into(),
        ),
    }
}

#[async_trait]
impl CutKind for EcrPublicDelete {
    type State = RepositoryStatus;
    type Undo = DeletedRecord;

    fn info(&self) -> &'static KindInfo {
        &INFO
    }

    fn check_states(&self, cut: &TypedCut<RepositoryStatus>) -> Result<(), String> {
        let before = recorded(cut)?;
        let RepositoryStatus::Deleted(after) = &cut.after else {
            return Err(
                "`after` must record the deletion: repository_name and state: deleted".into(),
            );
        };
        if before.repository_name != cut.target || after.repository_name != cut.target {
            return Err(format!(
                "repository_name must be the cut's target `{}`",
                cut.target
            ));
        }
        if after.state != "deleted" {
            return Err(format!(
                "`after.state` must be `deleted`, not `{}`: the cut deletes the repository",
                after.state
            ));
        }
        Ok(())
    }

    async fn discover(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
    ) -> Result<Vec<Proposal<RepositoryStatus>>, ServiceError> {
        if ctx.region != ECR_PUBLIC_REGION {
            return Ok(vec![]);
        }
        Ok(match list(ctx, None).await? {
            Listing::Repositories(repositories) => repositories.iter().map(propose).collect(),
            // Reported by the inspection below.
            Listing::Unavailable => vec![],
        })
    }

    async fn observe(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<RepositoryStatus>,
    ) -> Result<Option<RepositoryStatus>, ServiceError> {
        match list(ctx, Some(&cut.target)).await? {
            Listing::Repositories(found) => {
                Ok(found.into_iter().next().map(RepositoryStatus::Present))
            }
            Listing::Unavailable => Err(ServiceError::local(
                "ecr-public:DescribeRepositories",
                "ECR Public is not available at this endpoint",
            )),
        }
    }

    async fn apply(
        &self,
        ctx: &RegionCtx,
        cut: &TypedCut<RepositoryStatus>,
    ) -> Result<DeletedRecord, ServiceError> {
        let record = self.undo_record_for(cut)?;
        client(ctx)
            .delete_repository()
            .repository_name(&cut.target)
            .force(true)
            .send()
            .await
            .map_err(|err| ServiceError::from_sdk("ecr-public:DeleteRepository", err))?;
        Ok(record)
    }

    /// The repository's recorded description: nothing undoes a deletion, but the rollback file keeps
    /// its name and URI for whoever rebuilds it.
    fn undo_record_for(
        &self,
        cut: &TypedCut<RepositoryStatus>,
    ) -> Result<DeletedRecord, ServiceError> {
        let before = recorded(cut).map_err(|problem| ServiceError::local(INFO.name, problem))?;
        Ok(DeletedRecord::Recorded(before.clone()))
    }

    async fn undo(
        &self,
        _ctx: &RegionCtx,
        undo: &DeletedRecord,
    ) -> Result<UndoOutcome, ServiceError> {
        let name = match undo {
            DeletedRecord::Recorded(repository) => repository.repository_name.as_str(),
            DeletedRecord::Unreadable(_) => "the recorded repository",
        };
        Err(ServiceError::local(
            INFO.name,
            format!(
                "a deleted ECR Public repository cannot be restored: its images are gone. Recreate {name} by hand (aws ecr-public create-repository --repository-name {name} --region us-east-1) and push the images again from their source"
            ),
        ))
    }
}

#[async_trait]
impl Inspection for EcrPublicDelete {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn global(&self) -> bool {
        false
    }

    /// Listing errors other than a missing API are the kind's discovery errors; not reported twice.
    async fn inspect(
        &self,
        ctx: &RegionCtx,
        _scope: &DiscoveryScope,
        _cuts: &[Cut],
    ) -> Result<Vec<Finding>, ServiceError> {
        if ctx.region != ECR_PUBLIC_REGION {
            return Ok(vec![]);
        }
        Ok(match list(ctx, None).await {
            Ok(Listing::Repositories(repositories)) => repositories
                .into_iter()
                .map(|r| Finding {
                    check: INFO.name.into(),
                    region: ctx.region.clone(),
                    resource: r.repository_name,
                    severity: Severity::High,
                    message: "public image repository: pulls cannot be denied by policy; only deletion contains it (ecr_public_delete, off by default because it is irreversible)".into(),
                })
                .collect(),
            Ok(Listing::Unavailable) => vec![unread_finding(
                INFO.name,
                &ctx.region,
                "ecr-public",
                Severity::Info,
                "ECR Public repositories could not be listed (the API is not available at this endpoint): check for public image repositories by hand",
            )],
            Err(_) => vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecrpublic::Client;
    use aws_sdk_ecrpublic::operation::delete_repository::DeleteRepositoryOutput;
    use aws_sdk_ecrpublic::operation::describe_repositories::DescribeRepositoriesOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use serde_json::{Value, json};

    use super::*;
    use crate::aws::CallerIdentity;

    fn scope() -> DiscoveryScope {
        DiscoveryScope {
            caller: CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/responder".into(),
                user_id: "AIDA".into(),
                access_key_id: None,
                source: None,
                entered_by: None,
                profile_roles: Vec::new(),
            },
            keep_cidrs: vec![],
            options: Default::default(),
            member_role: crate::plan::DEFAULT_MEMBER_ROLE.into(),
            created: "2026-11-30T11:54:00Z".into(),
        }
    }

    fn repository(name: &str) -> Repository {
        Repository::builder()
            .repository_name(name)
            .repository_uri(format!("public.ecr.aws/x1y2/{name}"))
            .registry_id("123456789012")
            .build()
    }

    fn as_cut(proposed: Proposal<RepositoryStatus>) -> TypedCut<RepositoryStatus> {
        TypedCut {
            id: format!("ecr_public_delete/us-east-1/{}", proposed.target),
            region: "us-east-1".into(),
            target: proposed.target,
            before: proposed.before,
            after: proposed.after,
        }
    }

    #[tokio::test]
    async fn mocked_discovery_pages_through_repositories_and_reports_each_as_high() {
        let first = mock!(Client::describe_repositories)
            .match_requests(|req| req.next_token().is_none())
            .then_output(|| {
                DescribeRepositoriesOutput::builder()
                    .repositories(repository("web"))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(Client::describe_repositories)
            .match_requests(|req| req.next_token() == Some("page-2"))
            .then_output(|| {
                DescribeRepositoriesOutput::builder()
                    .repositories(repository("agent"))
                    .build()
            });
        let client = mock_client!(aws_sdk_ecrpublic, RuleMode::MatchAny, &[&first, &second]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_ecrpublic(client);
        let proposed = EcrPublicDelete.discover(&ctx, &scope()).await.unwrap();
        let targets: Vec<&str> = proposed.iter().map(|p| p.target.as_str()).collect();
        assert_eq!(targets, vec!["agent", "web"]);
        assert!(proposed[0].reason.contains("CANNOT be undone"));
        let findings = EcrPublicDelete.inspect(&ctx, &scope(), &[]).await.unwrap();
        assert_eq!(findings.len(), 2);
        assert!(findings.iter().all(|f| f.severity == Severity::High
            && f.message.contains("pulls cannot be denied by policy")));
    }

    #[tokio::test]
    async fn mocked_other_regions_are_not_asked() {
        let any = mock!(Client::describe_repositories)
            .then_output(|| DescribeRepositoriesOutput::builder().build());
        let client = mock_client!(aws_sdk_ecrpublic, RuleMode::MatchAny, &[&any]);
        let ctx = RegionCtx::for_tests("eu-west-1").mock_ecrpublic(client);
        assert_eq!(EcrPublicDelete.discover(&ctx, &scope()).await, Ok(vec![]));
        assert_eq!(
            EcrPublicDelete.inspect(&ctx, &scope(), &[]).await,
            Ok(vec![])
        );
        assert_eq!(any.num_calls(), 0);
    }

    #[tokio::test]
    async fn mocked_apply_force_deletes_and_undo_refuses_honestly() {
        let delete = mock!(Client::delete_repository)
            .match_requests(|req| req.repository_name() == Some("web") && req.force() == Some(true))
            .then_output(|| DeleteRepositoryOutput::builder().build());
        let client = mock_client!(aws_sdk_ecrpublic, RuleMode::MatchAny, &[&delete]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_ecrpublic(client);
        let cut = as_cut(propose(&state_of(&repository("web")).unwrap()));
        assert_eq!(EcrPublicDelete.check_states(&cut), Ok(()));
        let record = EcrPublicDelete.apply(&ctx, &cut).await.unwrap();
        assert_eq!(delete.num_calls(), 1);
        let err = EcrPublicDelete.undo(&ctx, &record).await.unwrap_err();
        assert!(err.message.contains("cannot be restored"));
        assert!(
            err.message
                .contains("create-repository --repository-name web")
        );
    }

    /// A repository deleted between plan and apply: ECR Public answers DeleteRepository with its
    /// documented RepositoryNotFoundException, which fails the cut with AWS's code, naming the call.
    #[tokio::test]
    async fn mocked_a_repository_deleted_before_its_cut_fails_it_with_ecrs_not_found() {
        use aws_sdk_ecrpublic::operation::delete_repository::DeleteRepositoryError;
        use aws_sdk_ecrpublic::types::error::RepositoryNotFoundException;
        let gone = mock!(Client::delete_repository).then_error(|| {
            DeleteRepositoryError::RepositoryNotFoundException(
                RepositoryNotFoundException::builder()
                    .message("The repository with name 'web' does not exist in the registry")
                    .meta(
                        aws_sdk_ecrpublic::error::ErrorMetadata::builder()
                            .code("RepositoryNotFoundException")
                            .message(
                                "The repository with name 'web' does not exist in the registry",
                            )
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_ecrpublic, RuleMode::MatchAny, &[&gone]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_ecrpublic(client);
        let cut = as_cut(propose(&state_of(&repository("web")).unwrap()));
        let err = EcrPublicDelete.apply(&ctx, &cut).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("RepositoryNotFoundException"));
        assert!(
            err.to_string()
                .starts_with("ecr-public:DeleteRepository failed: RepositoryNotFoundException"),
            "{err}"
        );
    }

    /// Plans and rollback files written before the states were typed read back as the same values and
    /// are written again byte for byte; a document that fits neither state is refused naming the field.
    #[tokio::test]
    async fn plans_and_rollback_files_keep_their_shape() {
        let before = json!({
            "repository_name": "web",
            "repository_uri": "public.ecr.aws/x1y2/web",
            "registry_id": "123456789012",
        });
        let after = json!({"repository_name": "web", "state": "deleted"});
        let proposed = propose(&state_of(&repository("web")).unwrap());
        for (document, state) in [(&before, &proposed.before), (&after, &proposed.after)] {
            let read: RepositoryStatus = serde_json::from_value(document.clone()).unwrap();
            assert_eq!(&read, state);
            assert_eq!(
                serde_json::to_string(&read).unwrap(),
                serde_json::to_string(document).unwrap()
            );
        }
        let refused = |document: Value| {
            serde_json::from_value::<RepositoryStatus>(document)
                .unwrap_err()
                .to_string()
        };
        let mut extra = before.clone();
        extra["secret"] = json!("x");
        assert!(refused(extra).contains("unknown field `secret`"));
        let mut mixed = before.clone();
        mixed["state"] = json!("deleted");
        assert!(refused(mixed).contains("`state`"));

        let cut = as_cut(proposed);
        let swapped = TypedCut {
            before: cut.after.clone(),
            after: cut.before.clone(),
            ..cut.clone()
        };
        assert!(
            EcrPublicDelete
                .check_states(&swapped)
                .unwrap_err()
                .starts_with("`before`")
        );
        let kept = TypedCut {
            after: cut.before.clone(),
            ..cut.clone()
        };
        assert!(
            EcrPublicDelete
                .check_states(&kept)
                .unwrap_err()
                .starts_with("`after`")
        );

        let record = EcrPublicDelete.undo_record_for(&cut).unwrap();
        assert_eq!(serde_json::to_value(&record).unwrap(), before);
        // A record that does not decode still gets the refusal, not a decoding error.
        let ctx = RegionCtx::for_tests("us-east-1");
        let err =
            crate::services::Containment::undo(&EcrPublicDelete, &ctx, &json!({"name": "web"}))
                .await
                .unwrap_err();
        assert!(
            err.message
                .contains("Recreate the recorded repository by hand"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn mocked_missing_api_is_an_info_finding_not_a_discovery_error() {
        let missing = mock!(Client::describe_repositories).then_http_response(|| {
            HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from("<html>"))
        });
        let client = mock_client!(aws_sdk_ecrpublic, RuleMode::MatchAny, &[&missing]);
        let ctx = RegionCtx::for_tests("us-east-1").mock_ecrpublic(client);
        assert_eq!(EcrPublicDelete.discover(&ctx, &scope()).await, Ok(vec![]));
        let findings = EcrPublicDelete.inspect(&ctx, &scope(), &[]).await.unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Info);
        assert!(findings[0].message.contains("could not be listed"));
    }
}
