//! The CloudFront kinds on data, and with aws-smithy-mocks where the emulator cannot help: it accepts any
//! If-Match and never changes the ETag, so the stale-ETag retry is only exercised here.

use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::error::ErrorMetadata;
use aws_sdk_cloudfront::operation::create_invalidation::{
    CreateInvalidationError, CreateInvalidationOutput,
};
use aws_sdk_cloudfront::operation::get_distribution::{
    GetDistributionError, GetDistributionOutput,
};
use aws_sdk_cloudfront::operation::get_distribution_config::{
    GetDistributionConfigError, GetDistributionConfigOutput,
};
use aws_sdk_cloudfront::operation::update_distribution::{
    UpdateDistributionError, UpdateDistributionOutput,
};
use aws_sdk_cloudfront::types::error::{NoSuchDistribution, PreconditionFailed};
use aws_sdk_cloudfront::types::{
    Aliases, CacheBehavior, CacheBehaviors, DefaultCacheBehavior, Distribution, DistributionConfig,
    EventType, FunctionAssociation, FunctionAssociations, LambdaFunctionAssociation,
    LambdaFunctionAssociations, MinimumProtocolVersion, Origin, Origins, SslSupportMethod,
    ViewerCertificate, ViewerProtocolPolicy,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::cloudfront_disable::{CloudFrontDisable, DistributionState, with_enabled};
use super::cloudfront_maintenance::{
    CloudFrontMaintenance, EdgeCode, MAINTENANCE_ORIGIN_ID, Routing, from_maintenance,
    to_maintenance,
};
use crate::aws::RegionCtx;
use crate::services::{CutKind, Proposal, TypedCut};

const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/shop";

fn origin(id: &str, domain: &str) -> Origin {
    Origin::builder()
        .id(id)
        .domain_name(domain)
        .build()
        .unwrap()
}

/// A shop: its storefront origin by default, its API origin under `/api/*`, an alias on an ACM
/// certificate.
fn config() -> DistributionConfig {
    DistributionConfig::builder()
        .caller_reference("ref")
        .comment("shop")
        .enabled(true)
        .aliases(
            Aliases::builder()
                .quantity(1)
                .items("shop.example.com")
                .build()
                .unwrap(),
        )
        .viewer_certificate(
            ViewerCertificate::builder()
                .acm_certificate_arn(CERT)
                .ssl_support_method(SslSupportMethod::SniOnly)
                .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
                .build(),
        )
        .origins(
            Origins::builder()
                .quantity(2)
                .items(origin("shop", "origin.example.com"))
                .items(origin("api", "api.example.com"))
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("shop")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .unwrap(),
        )
        .cache_behaviors(
            CacheBehaviors::builder()
                .quantity(1)
                .items(
                    CacheBehavior::builder()
                        .path_pattern("/api/*")
                        .target_origin_id("api")
                        .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn disabled(config: DistributionConfig) -> DistributionConfig {
    with_enabled(&config, false).unwrap()
}

fn cut_of<K: CutKind>(kind: &K, proposed: Proposal<K::State>) -> TypedCut<K::State> {
    let name = kind.info().name;
    TypedCut {
        id: format!("{name}/global/{}", proposed.target),
        region: "global".into(),
        target: proposed.target,
        before: proposed.before,
        after: proposed.after,
    }
}

fn disable_cut() -> TypedCut<DistributionState> {
    let state = DistributionState::of("E1", "d1.cloudfront.net", &config());
    cut_of(
        &CloudFrontDisable,
        super::cloudfront_disable::propose(&state).unwrap(),
    )
}

fn maintenance_cut() -> TypedCut<Routing> {
    let prior = Routing::of("E1", "d1.cloudfront.net", &config());
    cut_of(
        &CloudFrontMaintenance,
        super::cloudfront_maintenance::propose(&prior, "maintenance.example.com").unwrap(),
    )
}

fn read(config: DistributionConfig, etag: &'static str) -> GetDistributionConfigOutput {
    GetDistributionConfigOutput::builder()
        .distribution_config(config)
        .e_tag(etag)
        .build()
}

fn stale() -> UpdateDistributionError {
    UpdateDistributionError::PreconditionFailed(
        PreconditionFailed::builder()
            .message("The If-Match version is missing or not valid for the resource.")
            .meta(ErrorMetadata::builder().code("PreconditionFailed").build())
            .build(),
    )
}

// --- cloudfront_disable on data ---

#[test]
fn the_disable_state_records_what_the_distribution_serves() {
    let state = DistributionState::of("E1", "d1.cloudfront.net", &config());
    assert_eq!(state.aliases, vec!["shop.example.com"]);
    assert!(state.enabled);
    assert_eq!(state.default_target, "shop");
    assert_eq!(
        state.origins.into_iter().collect::<Vec<_>>(),
        vec![
            ("api".to_string(), "api.example.com".to_string()),
            ("shop".to_string(), "origin.example.com".to_string())
        ]
    );
    assert_eq!(
        state.certificate,
        format!("ACM certificate {CERT} (sni-only, TLSv1.2_2021)")
    );
}

#[test]
fn only_an_enabled_distribution_is_proposed_for_disabling_and_only_enabled_changes() {
    let cut = disable_cut();
    assert_eq!(CloudFrontDisable.check_states(&cut), Ok(()));
    assert!(!cut.after.enabled);
    assert_eq!(cut.after.origins, cut.before.origins);

    let off = DistributionState::of("E1", "d1.cloudfront.net", &disabled(config()));
    assert_eq!(super::cloudfront_disable::propose(&off), None);

    let sent = with_enabled(&config(), false).unwrap();
    let mut expected = config();
    expected.enabled = false;
    assert_eq!(sent, expected, "the whole configuration goes back as read");
    assert_eq!(with_enabled(&config(), true), None);
}

#[test]
fn a_disable_plan_whose_after_changes_more_than_enabled_is_refused() {
    let mut cut = disable_cut();
    cut.after.default_target = "elsewhere".into();
    assert_eq!(
        CloudFrontDisable.check_states(&cut),
        Err("`after` may differ from `before` only in `enabled`".into())
    );
    let mut cut = disable_cut();
    cut.before.enabled = false;
    assert!(CloudFrontDisable.check_states(&cut).is_err());
}

// --- cloudfront_maintenance on data ---

#[test]
fn every_behaviour_goes_to_maintenance_and_back_and_a_later_change_is_kept() {
    let original = config();
    let prior = Routing::of("E1", "d1.cloudfront.net", &original);
    let cut = to_maintenance(&original, "maintenance.example.com");
    let routing = Routing::of("E1", "d1.cloudfront.net", &cut);
    assert!(
        routing.default_target == MAINTENANCE_ORIGIN_ID
            && routing
                .behavior_targets
                .values()
                .all(|t| t == MAINTENANCE_ORIGIN_ID)
    );
    assert_eq!(
        routing.maintenance_origin.as_deref(),
        Some("maintenance.example.com")
    );
    assert_eq!(cut.origins().unwrap().quantity(), 3);
    assert_eq!(cut.viewer_certificate(), original.viewer_certificate());
    assert_eq!(cut.aliases(), original.aliases());
    assert!(cut.enabled());
    let added = cut.origins().unwrap().items().last().unwrap();
    let custom = added.custom_origin_config().unwrap();
    assert_eq!(
        (
            custom.https_port(),
            custom.origin_protocol_policy().as_str()
        ),
        (443, "https-only")
    );

    let (restored, notes) = from_maintenance(&cut, &prior);
    assert_eq!(restored, Some(original.clone()), "{notes:?}");
    // Restore run twice: nothing left to change.
    let (again, _) = from_maintenance(&original, &prior);
    assert_eq!(again, None);

    // Someone sends /api/* to another origin meanwhile: that behaviour is left, the origin goes.
    let mut edited = cut.clone();
    edited
        .cache_behaviors
        .as_mut()
        .unwrap()
        .items
        .as_mut()
        .unwrap()[0]
        .target_origin_id = "api-v2".into();
    let (restored, notes) = from_maintenance(&edited, &prior);
    let restored = restored.unwrap();
    assert_eq!(
        restored
            .default_cache_behavior()
            .unwrap()
            .target_origin_id(),
        "shop"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("behaviour /api/* of distribution E1 was pointed at api-v2")),
        "{notes:?}"
    );
    assert_eq!(restored.origins().unwrap().quantity(), 2);
}

#[test]
fn a_maintenance_origin_still_in_use_after_a_conflict_is_kept() {
    let original = config();
    let prior = Routing::of("E1", "d1.cloudfront.net", &original);
    let mut edited = to_maintenance(&original, "maintenance.example.com");
    // Someone adds a behaviour on the maintenance origin after the cut: restore must not break it.
    let behaviors = edited.cache_behaviors.as_mut().unwrap();
    let mut added = behaviors.items.as_ref().unwrap()[0].clone();
    added.path_pattern = "/status".into();
    behaviors.items.as_mut().unwrap().push(added);
    behaviors.quantity = 2;
    let (restored, _) = from_maintenance(&edited, &prior);
    let restored = restored.unwrap();
    assert!(
        restored
            .origins()
            .unwrap()
            .items()
            .iter()
            .any(|o| o.id() == MAINTENANCE_ORIGIN_ID)
    );
    assert_eq!(
        restored.cache_behaviors().unwrap().items()[0].target_origin_id(),
        "api"
    );
}

#[test]
fn a_maintenance_origin_the_distribution_already_has_is_kept_through_cut_and_restore() {
    let mut original = config();
    let origins = original.origins.as_mut().unwrap();
    origins
        .items
        .push(origin(MAINTENANCE_ORIGIN_ID, "maintenance.example.com"));
    origins.quantity = 3;
    let prior = Routing::of("E1", "d1.cloudfront.net", &original);

    let proposed =
        super::cloudfront_maintenance::propose(&prior, "maintenance.example.com").unwrap();
    assert_eq!(proposed.disabled_because, None);
    let cut = to_maintenance(&original, "maintenance.example.com");
    assert_eq!(
        cut.origins(),
        original.origins(),
        "the origin is not replaced"
    );
    let (restored, _) = from_maintenance(&cut, &prior);
    assert_eq!(restored, Some(original));

    let other = super::cloudfront_maintenance::propose(&prior, "notice.example.org").unwrap();
    assert!(
        other
            .disabled_because
            .unwrap()
            .contains("already has an origin `hikkonuki-maintenance` for maintenance.example.com")
    );
}

#[test]
fn a_maintenance_plan_that_leaves_a_behaviour_on_its_origin_is_refused() {
    let mut cut = maintenance_cut();
    assert_eq!(CloudFrontMaintenance.check_states(&cut), Ok(()));
    cut.after
        .behavior_targets
        .insert("/api/*".into(), "api".into());
    assert!(
        CloudFrontMaintenance
            .check_states(&cut)
            .unwrap_err()
            .contains("must point every behaviour at hikkonuki-maintenance")
    );
}

// --- mocked: ETags and retries ---

#[tokio::test]
async fn mocked_disable_sends_the_etag_just_read_and_retries_once_on_a_stale_one() {
    let reads = mock!(Client::get_distribution_config)
        .sequence()
        .output(|| read(config(), "ETAG1"))
        .output(|| read(config(), "ETAG2"))
        .build();
    let rejected = mock!(Client::update_distribution)
        .match_requests(|req| req.if_match() == Some("ETAG1"))
        .then_error(stale);
    let accepted = mock!(Client::update_distribution)
        .match_requests(|req| {
            req.id() == Some("E1")
                && req.if_match() == Some("ETAG2")
                && req.distribution_config() == Some(&disabled(config()))
        })
        .then_output(|| UpdateDistributionOutput::builder().e_tag("ETAG3").build());
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&reads, &rejected, &accepted]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);
    let cut = disable_cut();

    let record = CloudFrontDisable.apply(&ctx, &cut).await.unwrap();
    assert_eq!(record, cut.before);
    assert_eq!(
        (
            reads.num_calls(),
            rejected.num_calls(),
            accepted.num_calls()
        ),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn mocked_a_second_stale_etag_fails_the_cut_without_a_third_try() {
    let reads = mock!(Client::get_distribution_config).then_output(|| read(config(), "ETAG1"));
    let rejected = mock!(Client::update_distribution).then_error(stale);
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, &[&reads, &rejected]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);

    let err = CloudFrontDisable
        .apply(&ctx, &disable_cut())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("PreconditionFailed"));
    assert_eq!(err.operation, "cloudfront:UpdateDistribution");
    assert_eq!(rejected.num_calls(), 2);
}

#[tokio::test]
async fn mocked_restore_decides_again_after_a_stale_etag_and_leaves_a_distribution_enabled_meanwhile()
 {
    // Read disabled, but someone enables it before the update lands: the retry sees it enabled and
    // writes nothing over their change.
    let reads = mock!(Client::get_distribution_config)
        .sequence()
        .output(|| read(disabled(config()), "ETAG1"))
        .output(|| read(config(), "ETAG2"))
        .build();
    let updates = mock!(Client::update_distribution)
        .match_requests(|req| req.if_match() == Some("ETAG1"))
        .then_error(stale);
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, &[&reads, &updates]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);
    let record = CloudFrontDisable.undo_record_for(&disable_cut()).unwrap();

    let outcome = CloudFrontDisable.undo(&ctx, &record).await.unwrap();
    assert_eq!(updates.num_calls(), 1);
    assert_eq!(
        outcome.notes,
        vec![
            "distribution E1 was already enabled (by someone since the cut, or by an earlier restore); left as it is"
        ]
    );
}

#[tokio::test]
async fn mocked_restore_enables_with_the_fresh_etag_and_a_deleted_distribution_is_a_noted_conflict()
{
    let reads = mock!(Client::get_distribution_config)
        .match_requests(|req| req.id() == Some("E1"))
        .then_output(|| read(disabled(config()), "ETAG9"));
    let gone = mock!(Client::get_distribution_config)
        .match_requests(|req| req.id() == Some("E2"))
        .then_error(|| {
            GetDistributionConfigError::NoSuchDistribution(
                NoSuchDistribution::builder()
                    .meta(ErrorMetadata::builder().code("NoSuchDistribution").build())
                    .build(),
            )
        });
    let update = mock!(Client::update_distribution)
        .match_requests(|req| {
            req.if_match() == Some("ETAG9") && req.distribution_config() == Some(&config())
        })
        .then_output(|| UpdateDistributionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&reads, &gone, &update]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);
    let record = CloudFrontDisable.undo_record_for(&disable_cut()).unwrap();

    let outcome = CloudFrontDisable.undo(&ctx, &record).await.unwrap();
    assert_eq!(outcome.notes, vec!["distribution E1 enabled again"]);
    assert_eq!(update.num_calls(), 1);

    let mut record = record;
    record.distribution_id = "E2".into();
    let outcome = CloudFrontDisable.undo(&ctx, &record).await.unwrap();
    assert_eq!(
        outcome.notes,
        vec!["conflict: distribution E2 was deleted after the cut; nothing to enable"]
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn mocked_maintenance_reads_again_after_a_stale_etag_and_sends_the_fresh_one() {
    let reads = mock!(Client::get_distribution_config)
        .sequence()
        .output(|| read(config(), "ETAG1"))
        .output(|| read(config(), "ETAG2"))
        .build();
    let rejected = mock!(Client::update_distribution)
        .match_requests(|req| req.if_match() == Some("ETAG1"))
        .then_error(stale);
    let accepted = mock!(Client::update_distribution)
        .match_requests(|req| {
            req.if_match() == Some("ETAG2")
                && req.distribution_config()
                    == Some(&to_maintenance(&config(), "maintenance.example.com"))
        })
        .then_output(|| UpdateDistributionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&reads, &rejected, &accepted]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);

    CloudFrontMaintenance
        .apply(&ctx, &maintenance_cut())
        .await
        .unwrap();
    assert_eq!((rejected.num_calls(), accepted.num_calls()), (1, 1));
}

#[tokio::test]
async fn mocked_maintenance_restore_sends_the_original_config_with_the_etag_just_read() {
    let reads = mock!(Client::get_distribution_config).then_output(|| {
        read(
            to_maintenance(&config(), "maintenance.example.com"),
            "ETAG5",
        )
    });
    let update = mock!(Client::update_distribution)
        .match_requests(|req| {
            req.if_match() == Some("ETAG5") && req.distribution_config() == Some(&config())
        })
        .then_output(|| UpdateDistributionOutput::builder().build());
    let deployed = mock!(Client::get_distribution).then_output(|| deployment("Deployed", "ETAG6"));
    let invalidation = invalidating("hikkonuki-restore-ETAG6-deployed");
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&reads, &update, &deployed, &invalidation]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);
    let record = CloudFrontMaintenance
        .undo_record_for(&maintenance_cut())
        .unwrap();

    let outcome = CloudFrontMaintenance.undo(&ctx, &record).await.unwrap();
    assert_eq!(update.num_calls(), 1);
    assert_eq!(
        invalidation.num_calls(),
        1,
        "the notice page cached at the edge is dropped"
    );
    assert_eq!(
        outcome.notes,
        vec![
            "distribution E1: behaviours pointed back at their origins",
            "distribution E1: every copy cached at the edge invalidated (/*)"
        ]
    );
}

// --- what the edge cached ---

/// GetDistribution's answer: the distribution in `status` with configuration `etag`.
fn deployment(status: &str, etag: &str) -> GetDistributionOutput {
    GetDistributionOutput::builder()
        .distribution(
            Distribution::builder()
                .id("E1")
                .arn("arn:aws:cloudfront::123456789012:distribution/E1")
                .status(status)
                .last_modified_time(aws_smithy_types::DateTime::from_secs(0))
                .in_progress_invalidation_batches(0)
                .domain_name("d1.cloudfront.net")
                .distribution_config(config())
                .build()
                .unwrap(),
        )
        .e_tag(etag)
        .build()
}

/// CreateInvalidation of every path (`/*`) under `reference`, answered.
fn invalidating(reference: &'static str) -> aws_smithy_mocks::Rule {
    mock!(Client::create_invalidation)
        .match_requests(move |req| {
            let batch = req.invalidation_batch().unwrap();
            req.distribution_id() == Some("E1")
                && batch.caller_reference() == reference
                && batch.paths().unwrap().items() == ["/*"]
        })
        .then_output(|| CreateInvalidationOutput::builder().build())
}

/// Once the routing is written, every copy the edge cached from the real origins is invalidated, under a
/// reference naming the configuration's ETag: asked again for the same configuration (a resumed run),
/// CloudFront answers with the invalidation already made. Once deployed, the reference is another, so a
/// run made then invalidates again what an edge location not yet updated could have cached meanwhile.
#[tokio::test]
async fn mocked_the_cut_invalidates_the_edge_under_a_reference_naming_the_configuration() {
    // What is left to the responder once deployed, the plan says, with the command.
    let reason = super::cloudfront_maintenance::propose(
        &Routing::of("E1", "d1.cloudfront.net", &config()),
        "maintenance.example.com",
    )
    .unwrap()
    .reason;
    assert!(
        reason.contains(
            "so invalidate once more when it is deployed: `aws cloudfront wait distribution-deployed --id E1 && aws cloudfront create-invalidation --distribution-id E1 --paths '/*'`"
        ),
        "{reason}"
    );
    for (status, reference) in [
        ("InProgress", "hikkonuki-maintenance-ETAG7"),
        ("Deployed", "hikkonuki-maintenance-ETAG7-deployed"),
    ] {
        let read = mock!(Client::get_distribution).then_output(move || deployment(status, "ETAG7"));
        let invalidation = invalidating(reference);
        let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(mock_client!(
            aws_sdk_cloudfront,
            RuleMode::MatchAny,
            &[&read, &invalidation]
        ));
        CloudFrontMaintenance
            .take_effect(&ctx, &maintenance_cut())
            .await
            .unwrap();
        assert_eq!(invalidation.num_calls(), 1, "{status}");
    }
}

/// Restore invalidates the notice page the edge cached; while the change is still deploying, its note
/// says an edge location not yet updated may cache the notice page again, and gives the command for once
/// it is deployed.
#[tokio::test]
async fn mocked_restore_while_still_deploying_says_to_invalidate_once_more_with_the_command() {
    let reads = mock!(Client::get_distribution_config).then_output(|| {
        read(
            to_maintenance(&config(), "maintenance.example.com"),
            "ETAG5",
        )
    });
    let update = mock!(Client::update_distribution)
        .then_output(|| UpdateDistributionOutput::builder().build());
    let deploying =
        mock!(Client::get_distribution).then_output(|| deployment("InProgress", "ETAG6"));
    let invalidation = invalidating("hikkonuki-restore-ETAG6");
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&reads, &update, &deploying, &invalidation]
    ));
    let record = CloudFrontMaintenance
        .undo_record_for(&maintenance_cut())
        .unwrap();

    let outcome = CloudFrontMaintenance.undo(&ctx, &record).await.unwrap();
    assert_eq!(invalidation.num_calls(), 1);
    assert!(
        outcome.notes[1].contains("while the change is still deploying")
            && outcome.notes[1].contains(
                "`aws cloudfront wait distribution-deployed --id E1 && aws cloudfront create-invalidation --distribution-id E1 --paths '/*'`"
            ),
        "{:?}",
        outcome.notes
    );
}

/// AWS's documented refusal (at most 15 wildcard paths in progress per distribution,
/// https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html) fails
/// the cut with AWS's code, so it is not recorded done while the leaked copies are still served.
#[tokio::test]
async fn mocked_a_refused_invalidation_fails_the_cut_with_awss_code() {
    let deployed = mock!(Client::get_distribution).then_output(|| deployment("Deployed", "ETAG8"));
    let refused = mock!(Client::create_invalidation).then_error(|| {
        CreateInvalidationError::generic(
            ErrorMetadata::builder()
                .code("TooManyInvalidationsInProgress")
                .message("Your request contains too many invalidations in progress.")
                .build(),
        )
    });
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&deployed, &refused]
    ));
    let err = CloudFrontMaintenance
        .take_effect(&ctx, &maintenance_cut())
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("TooManyInvalidationsInProgress"));
}

/// A distribution deleted after the cut is the cut's error (nothing left to route or cache).
#[tokio::test]
async fn mocked_a_distribution_deleted_before_its_edge_is_invalidated_fails_the_cut() {
    let gone = mock!(Client::get_distribution).then_error(|| {
        GetDistributionError::NoSuchDistribution(
            NoSuchDistribution::builder()
                .meta(ErrorMetadata::builder().code("NoSuchDistribution").build())
                .build(),
        )
    });
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&gone]
    ));
    let err = CloudFrontMaintenance
        .take_effect(&ctx, &maintenance_cut())
        .await
        .unwrap_err();
    assert!(err.message.contains("no longer exists"), "{}", err.message);
}

// --- cloudfront_maintenance and code at the edge ---

const ROUTER: &str = "arn:aws:lambda:us-east-1:123456789012:function:origin-router:7";
const HEADERS: &str = "arn:aws:cloudfront::123456789012:function/security-headers";
const AUTH: &str = "arn:aws:lambda:us-east-1:123456789012:function:api-auth:3";

fn lambda_edge(event: EventType, arn: &str, body: Option<bool>) -> LambdaFunctionAssociation {
    LambdaFunctionAssociation::builder()
        .event_type(event)
        .lambda_function_arn(arn)
        .set_include_body(body)
        .build()
        .unwrap()
}

/// The shop with code at the edge, as GetDistributionConfig lists it: the default behaviour runs an
/// origin-request Lambda@Edge function (which may pick another origin per request) and a viewer-request
/// CloudFront Function; `/api/*` runs a viewer-request Lambda@Edge function that reads the body.
fn config_with_edge_code() -> DistributionConfig {
    let mut config = config();
    let default = config.default_cache_behavior.as_mut().unwrap();
    default.lambda_function_associations = Some(
        LambdaFunctionAssociations::builder()
            .quantity(1)
            .items(lambda_edge(EventType::OriginRequest, ROUTER, None))
            .build()
            .unwrap(),
    );
    default.function_associations = Some(
        FunctionAssociations::builder()
            .quantity(1)
            .items(
                FunctionAssociation::builder()
                    .event_type(EventType::ViewerRequest)
                    .function_arn(HEADERS)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    let api = &mut config
        .cache_behaviors
        .as_mut()
        .unwrap()
        .items
        .as_mut()
        .unwrap()[0];
    api.lambda_function_associations = Some(
        LambdaFunctionAssociations::builder()
            .quantity(1)
            .items(lambda_edge(EventType::ViewerRequest, AUTH, Some(true)))
            .build()
            .unwrap(),
    );
    config
}

fn edge_cut() -> TypedCut<Routing> {
    let prior = Routing::of("E1", "d1.cloudfront.net", &config_with_edge_code());
    cut_of(
        &CloudFrontMaintenance,
        super::cloudfront_maintenance::propose(&prior, "maintenance.example.com").unwrap(),
    )
}

#[test]
fn edge_code_is_recorded_detached_from_every_behaviour_and_attached_again_exactly() {
    let original = config_with_edge_code();
    let cut = edge_cut();
    assert_eq!(
        cut.before.default_edge_code.lambda_edge[0].lambda_function_arn,
        ROUTER
    );
    assert_eq!(
        cut.before.default_edge_code.cloudfront_functions[0].function_arn,
        HEADERS
    );
    assert_eq!(
        cut.before.behavior_edge_code["/api/*"].lambda_edge[0].include_body,
        Some(true)
    );
    assert!(
        cut.after.default_edge_code.is_empty() && cut.after.behavior_edge_code.is_empty(),
        "{:?}",
        cut.after
    );
    assert_eq!(CloudFrontMaintenance.check_states(&cut), Ok(()));

    let on_maintenance = to_maintenance(&original, "maintenance.example.com");
    assert_eq!(
        Routing::of("E1", "d1.cloudfront.net", &on_maintenance),
        cut.after,
        "the update leaves exactly the planned `after`"
    );
    let default = on_maintenance.default_cache_behavior().unwrap();
    assert_eq!(
        default.lambda_function_associations().unwrap().quantity(),
        0
    );
    assert_eq!(default.function_associations().unwrap().quantity(), 0);

    let record = CloudFrontMaintenance.undo_record_for(&cut).unwrap();
    let (restored, notes) = from_maintenance(&on_maintenance, &record);
    assert_eq!(restored, Some(original.clone()), "{notes:?}");
    assert_eq!(
        notes,
        ["distribution E1: behaviours pointed back at their origins"]
    );
    let (again, notes) = from_maintenance(&original, &record);
    assert_eq!(again, None, "{notes:?}");
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn the_reason_names_the_edge_code_and_a_plan_keeping_it_is_refused() {
    let cut = edge_cut();
    let proposed =
        super::cloudfront_maintenance::propose(&cut.before, "maintenance.example.com").unwrap();
    for needed in [
        "edge code is detached too",
        &format!("Lambda@Edge origin-request {ROUTER}"),
        &format!("CloudFront Function viewer-request {HEADERS}"),
        "behaviour /api/*",
    ] {
        assert!(
            proposed.reason.contains(needed),
            "{needed}: {}",
            proposed.reason
        );
    }
    let mut kept = cut.clone();
    kept.after.default_edge_code = kept.before.default_edge_code.clone();
    assert!(
        CloudFrontMaintenance
            .check_states(&kept)
            .unwrap_err()
            .contains("no edge code")
    );
}

#[test]
fn a_distribution_on_maintenance_with_edge_code_still_attached_is_proposed() {
    let mut config = to_maintenance(&config(), "maintenance.example.com");
    let with_code = config_with_edge_code();
    config
        .default_cache_behavior
        .as_mut()
        .unwrap()
        .function_associations = with_code
        .default_cache_behavior()
        .unwrap()
        .function_associations()
        .cloned();
    let routing = Routing::of("E1", "d1.cloudfront.net", &config);
    assert!(super::cloudfront_maintenance::propose(&routing, "maintenance.example.com").is_some());
    let clean = Routing::of(
        "E1",
        "d1.cloudfront.net",
        &to_maintenance(&with_code, "maintenance.example.com"),
    );
    assert!(super::cloudfront_maintenance::propose(&clean, "maintenance.example.com").is_none());
}

#[test]
fn edge_code_changed_after_the_cut_is_left_alone_and_reported() {
    let original = config_with_edge_code();
    let record = CloudFrontMaintenance.undo_record_for(&edge_cut()).unwrap();
    let mut edited = to_maintenance(&original, "maintenance.example.com");
    // During the incident someone puts another function on /api/*, and points the default behaviour
    // back at the storefront by hand, without its code.
    let behaviors = edited.cache_behaviors.as_mut().unwrap();
    behaviors.items.as_mut().unwrap()[0].function_associations = Some(
        FunctionAssociations::builder()
            .quantity(1)
            .items(
                FunctionAssociation::builder()
                    .event_type(EventType::ViewerRequest)
                    .function_arn("arn:aws:cloudfront::123456789012:function/block-all")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    edited
        .default_cache_behavior
        .as_mut()
        .unwrap()
        .target_origin_id = "shop".into();

    let (restored, notes) = from_maintenance(&edited, &record);
    let restored = restored.unwrap();
    let api = &restored.cache_behaviors().unwrap().items()[0];
    assert_eq!(api.target_origin_id(), "api", "pointed back all the same");
    assert_eq!(
        api.function_associations().unwrap().items()[0].function_arn(),
        "arn:aws:cloudfront::123456789012:function/block-all",
        "the later code is kept"
    );
    assert_eq!(
        api.lambda_function_associations().unwrap().quantity(),
        0,
        "and nothing overwritten"
    );
    assert!(
        restored
            .default_cache_behavior()
            .unwrap()
            .lambda_function_associations()
            .is_none_or(|l| l.items().is_empty()),
        "the hand-restored default behaviour is left as it is"
    );
    assert!(
        notes.iter().any(|n| n.contains(
            "behaviour /api/* of distribution E1 was given other edge code after the cut"
        ) && n.contains(AUTH)),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains(
            "the default behaviour of distribution E1 was taken off the maintenance origin after the cut, without its edge code"
        ) && n.contains(ROUTER)),
        "{notes:?}"
    );
}

/// Plans and rollback files written before edge code was recorded hold none: they still read, and the
/// distribution they describe has none to put back.
#[test]
fn routing_recorded_before_edge_code_still_reads() {
    let old = serde_json::json!({
        "distribution_id": "E1",
        "domain_name": "d1.cloudfront.net",
        "aliases": ["shop.example.com"],
        "default_target": "shop",
        "behavior_targets": {"/api/*": "api"},
        "maintenance_origin": null
    });
    let routing: Routing = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(routing.default_edge_code, EdgeCode::default());
    assert_eq!(
        serde_json::to_value(&routing).unwrap(),
        old,
        "a distribution without edge code is written as it always was"
    );
}

#[tokio::test]
async fn mocked_maintenance_sends_every_behaviour_without_its_edge_code() {
    let reads = mock!(Client::get_distribution_config)
        .then_output(|| read(config_with_edge_code(), "ETAG1"));
    let update = mock!(Client::update_distribution)
        .match_requests(|req| {
            let Some(config) = req.distribution_config() else {
                return false;
            };
            let default = config.default_cache_behavior().unwrap();
            let api = &config.cache_behaviors().unwrap().items()[0];
            req.if_match() == Some("ETAG1")
                && default
                    .lambda_function_associations()
                    .unwrap()
                    .items()
                    .is_empty()
                && default.function_associations().unwrap().items().is_empty()
                && api
                    .lambda_function_associations()
                    .unwrap()
                    .items()
                    .is_empty()
                && api.target_origin_id() == MAINTENANCE_ORIGIN_ID
        })
        .then_output(|| UpdateDistributionOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, &[&reads, &update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);
    let record = CloudFrontMaintenance
        .apply(&ctx, &edge_cut())
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 1);
    assert_eq!(
        record.behavior_edge_code["/api/*"].lambda_edge[0].lambda_function_arn,
        AUTH
    );
}

/// A behaviour added after the plan's drift check would be sent to maintenance by the write, and restore,
/// which knows only the plan's `before`, would leave it there: apply refuses and writes nothing.
#[tokio::test]
async fn mocked_maintenance_refuses_a_distribution_that_no_longer_routes_as_planned() {
    let reads = mock!(Client::get_distribution_config).then_output(|| {
        let mut config = config();
        let behaviors = config.cache_behaviors.as_mut().unwrap();
        behaviors.items.as_mut().unwrap().push(
            CacheBehavior::builder()
                .path_pattern("/new/*")
                .target_origin_id("shop")
                .viewer_protocol_policy(ViewerProtocolPolicy::HttpsOnly)
                .build()
                .unwrap(),
        );
        behaviors.quantity = 2;
        read(config, "ETAG1")
    });
    let update = mock!(Client::update_distribution)
        .then_output(|| UpdateDistributionOutput::builder().build());
    let client = mock_client!(aws_sdk_cloudfront, RuleMode::MatchAny, &[&reads, &update]);
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);

    let err = CloudFrontMaintenance
        .apply(&ctx, &maintenance_cut())
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("distribution E1 changed since the plan was made"),
        "{err}"
    );
    assert_eq!(update.num_calls(), 0);
}

/// The retry after a stale ETag re-checks too: a Lambda@Edge version switched in between is not
/// detached (and lost at restore, which would attach the planned version).
#[tokio::test]
async fn mocked_maintenance_retry_refuses_edge_code_switched_since_the_plan() {
    let reads = mock!(Client::get_distribution_config)
        .sequence()
        .output(|| read(config_with_edge_code(), "ETAG1"))
        .output(|| {
            let mut config = config_with_edge_code();
            let default = config.default_cache_behavior.as_mut().unwrap();
            default.lambda_function_associations = Some(
                LambdaFunctionAssociations::builder()
                    .quantity(1)
                    .items(lambda_edge(
                        EventType::OriginRequest,
                        "arn:aws:lambda:us-east-1:123456789012:function:origin-router:8",
                        None,
                    ))
                    .build()
                    .unwrap(),
            );
            read(config, "ETAG2")
        })
        .build();
    let rejected = mock!(Client::update_distribution)
        .match_requests(|req| req.if_match() == Some("ETAG1"))
        .then_error(stale);
    let accepted = mock!(Client::update_distribution)
        .match_requests(|req| req.if_match() == Some("ETAG2"))
        .then_output(|| UpdateDistributionOutput::builder().build());
    let client = mock_client!(
        aws_sdk_cloudfront,
        RuleMode::MatchAny,
        &[&reads, &rejected, &accepted]
    );
    let ctx = RegionCtx::for_tests("us-east-1").mock_cloudfront(client);

    let err = CloudFrontMaintenance
        .apply(&ctx, &edge_cut())
        .await
        .unwrap_err();
    assert!(err.message.contains("changed since the plan"), "{err}");
    assert_eq!((rejected.num_calls(), accepted.num_calls()), (1, 0));
}
