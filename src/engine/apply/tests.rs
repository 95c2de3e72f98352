//! Apply's behaviour when AWS answers badly, proven against mocked EC2 (the emulator grants every call).

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::revoke_security_group_egress::RevokeSecurityGroupEgressOutput;
use aws_sdk_ec2::operation::revoke_security_group_ingress::{
    RevokeSecurityGroupIngressError, RevokeSecurityGroupIngressOutput,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::json;

use super::*;
use crate::aws::RegionCtx;
use crate::journal;
use crate::plan::{Cut, Plan};
use crate::report::RecordingReporter;

/// A plan with one sg_revoke cut per group, each revoking one ingress rule open to the world.
fn plan_for(groups: &[&str]) -> Plan {
    let cuts = groups
        .iter()
        .map(|group| {
            let rule = json!({"id": format!("sgr-{group}"), "direction": "ingress", "protocol": "tcp",
                              "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0"});
            let state = |rules: serde_json::Value| {
                json!({"group_id": group, "group_name": group, "vpc_id": "vpc-1",
                       "vpc_cidrs": ["10.0.0.0/16"], "rules": rules})
            };
            Cut {
                id: format!("sg_revoke/us-east-1/{group}"),
                kind: "sg_revoke".into(),
                region: "us-east-1".into(),
                target: group.to_string(),
                enabled: true,
                reversible: true,
                reason: "test".into(),
                before: state(json!([rule])).into(),
                after: state(json!([])).into(),
            }
        })
        .collect();
    Plan {
        version: 1,
        account: "123456789012".into(),
        created: "2026-11-28T00:00:00Z".into(),
        tool_version: "0".into(),
        regions: vec!["us-east-1".into()],
        caller: "arn:aws:iam::123456789012:user/r".into(),
        keep_cidrs: vec![],
        options: Default::default(),
        selection: vec![],
        organization: None,
        role: None,
        discovery_errors: vec![],
        findings: vec![],
        cuts,
        members: vec![],
    }
}

fn access_denied() -> RevokeSecurityGroupIngressError {
    RevokeSecurityGroupIngressError::generic(
        ErrorMetadata::builder()
            .code("UnauthorizedOperation")
            .message("You are not authorized to perform this operation.")
            .build(),
    )
}

fn session_with(client: Client) -> AwsSession {
    AwsSession::with_regions("us-east-1", vec![RegionCtx::with_ec2("us-east-1", client)])
}

/// Each test's rollback keys live in its own directory.
pub(crate) fn keys_of(path: &std::path::Path) -> crate::journal::keys::KeyStore {
    crate::journal::keys::KeyStore::in_dir(&path.parent().unwrap().join("keys"))
}

pub(crate) fn new_journal(dir: &tempfile::TempDir) -> (std::path::PathBuf, Journal) {
    let path = dir.path().join("p.rollback.yaml");
    let journal = Journal::create(
        crate::journal::lock::RollbackFile::open_or_create(&path).unwrap(),
        Entry::Header {
            format: journal::FORMAT_VERSION,
            account: "123456789012".into(),
            caller: "arn".into(),
            plan: "p.yaml".into(),
            plan_sha256: "0".into(),
            tool_version: "0".into(),
            key: None,
            member_role: None,
        },
        &keys_of(&path),
    )
    .unwrap();
    (path, journal)
}

#[tokio::test]
async fn mocked_access_denied_on_one_cut_fails_it_names_the_permission_and_the_others_go_on() {
    let denied = mock!(Client::revoke_security_group_ingress)
        .match_requests(|req| req.group_id() == Some("sg-a"))
        .then_error(access_denied);
    let allowed = mock!(Client::revoke_security_group_ingress)
        .match_requests(|req| req.group_id() != Some("sg-a"))
        .then_output(|| {
            RevokeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        });
    let egress = mock!(Client::revoke_security_group_egress).then_output(|| {
        RevokeSecurityGroupEgressOutput::builder()
            .r#return(true)
            .build()
    });
    let client = mock_client!(
        aws_sdk_ec2,
        RuleMode::MatchAny,
        &[&denied, &allowed, &egress]
    );
    let session = session_with(client);
    let registry = crate::services::registry();
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    let reporter = RecordingReporter::default();

    let plan = plan_for(&["sg-a", "sg-b", "sg-c"]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions::default(),
        &reporter,
    )
    .await
    .unwrap();

    assert_eq!(
        outcome.done,
        vec!["sg_revoke/us-east-1/sg-b", "sg_revoke/us-east-1/sg-c"]
    );
    assert_eq!(outcome.failed.len(), 1);
    let (id, error) = &outcome.failed[0];
    assert_eq!(id, "sg_revoke/us-east-1/sg-a");
    assert!(
        error.contains("ec2:RevokeSecurityGroupIngress failed: UnauthorizedOperation"),
        "{error}"
    );
    assert!(
        error.contains("missing permission: ec2:RevokeSecurityGroupIngress"),
        "{error}"
    );
    assert_eq!(allowed.num_calls(), 2);

    let (contents, _) = journal::read_path(&path, &keys_of(&path), false).unwrap();
    let done: Vec<&str> = contents
        .records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Done { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        done,
        vec!["sg_revoke/us-east-1/sg-b", "sg_revoke/us-east-1/sg-c"]
    );
    assert!(
        contents.records.iter().any(
            |r| matches!(&r.entry, Entry::Failed { id, .. } if id == "sg_revoke/us-east-1/sg-a")
        )
    );
}

#[tokio::test]
async fn mocked_fail_fast_stops_at_the_first_failure_and_lists_what_was_not_attempted() {
    let denied = mock!(Client::revoke_security_group_ingress).then_error(access_denied);
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&denied]);
    let session = session_with(client);
    let registry = crate::services::registry();
    let dir = tempfile::tempdir().unwrap();
    let (_, mut journal) = new_journal(&dir);
    let options = ApplyOptions {
        seal_left_out: 0,
        fail_fast: true,
        ..ApplyOptions::default()
    };
    let plan = plan_for(&["sg-a", "sg-b", "sg-c"]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &options,
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.failed.len(), 1);
    assert_eq!(denied.num_calls(), 1);
    assert_eq!(
        outcome.not_attempted,
        vec!["sg_revoke/us-east-1/sg-b", "sg_revoke/us-east-1/sg-c"]
    );
}

#[tokio::test]
async fn mocked_throttling_is_retried_with_backoff_and_the_cut_succeeds() {
    let throttled = mock!(Client::revoke_security_group_ingress)
        .sequence()
        .error(|| {
            RevokeSecurityGroupIngressError::generic(
                ErrorMetadata::builder()
                    .code("RequestLimitExceeded")
                    .message("Request limit exceeded.")
                    .build(),
            )
        })
        .times(2)
        .output(|| {
            RevokeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&throttled], |config| {
        config.retry_config(
            aws_sdk_ec2::config::retry::RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        )
    });
    let session = session_with(client);
    let registry = crate::services::registry();
    let dir = tempfile::tempdir().unwrap();
    let (_, mut journal) = new_journal(&dir);
    let plan = plan_for(&["sg-a"]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions::default(),
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.failed, vec![]);
    assert_eq!(
        throttled.num_calls(),
        3,
        "two throttled attempts, then success"
    );
}

#[tokio::test]
async fn mocked_a_stop_request_halts_before_the_next_cut_with_the_journal_complete() {
    let allowed = mock!(Client::revoke_security_group_ingress).then_output(|| {
        RevokeSecurityGroupIngressOutput::builder()
            .r#return(true)
            .build()
    });
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&allowed]);
    let session = session_with(client);
    let registry = crate::services::registry();
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    let stop = AtomicBool::new(true);
    let options = ApplyOptions {
        seal_left_out: 0,
        stop: Some(&stop),
        ..ApplyOptions::default()
    };
    let plan = plan_for(&["sg-a", "sg-b"]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &options,
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert_eq!(allowed.num_calls(), 0);
    assert_eq!(outcome.not_attempted.len(), 2);
    let (contents, warnings) = journal::read_path(&path, &keys_of(&path), false).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(
        contents.records.len(),
        1,
        "only the header: nothing was announced"
    );
}

#[tokio::test]
async fn mocked_expired_credentials_stop_the_run_cleanly_with_the_journal_complete() {
    let ok_then_expired = mock!(Client::revoke_security_group_ingress)
        .sequence()
        .output(|| {
            RevokeSecurityGroupIngressOutput::builder()
                .r#return(true)
                .build()
        })
        .error(|| {
            RevokeSecurityGroupIngressError::generic(
                ErrorMetadata::builder()
                    .code("RequestExpired")
                    .message("Request has expired.")
                    .build(),
            )
        })
        .build();
    let client = mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[&ok_then_expired]);
    let session = session_with(client);
    let registry = crate::services::registry();
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    let plan = plan_for(&["sg-a", "sg-b", "sg-c"]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions::default(),
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    assert!(outcome.credentials_expired);
    assert_eq!(outcome.done, vec!["sg_revoke/us-east-1/sg-a"]);
    assert_eq!(outcome.failed[0].0, "sg_revoke/us-east-1/sg-b");
    assert_eq!(outcome.not_attempted, vec!["sg_revoke/us-east-1/sg-c"]);
    assert_eq!(
        ok_then_expired.num_calls(),
        2,
        "no call after the credentials failed"
    );
    let (_, warnings) = journal::read_path(&path, &keys_of(&path), false).unwrap();
    assert!(warnings.is_empty());
}

#[path = "ordering_tests.rs"]
mod ordering;
