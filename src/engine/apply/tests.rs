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
use crate::engine::apply::execute::{Turn, start_order};
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
                before: state(json!([rule])),
                after: state(json!([])),
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
fn keys_of(path: &std::path::Path) -> crate::journal::keys::KeyStore {
    crate::journal::keys::KeyStore::in_dir(&path.parent().unwrap().join("keys"))
}

fn new_journal(dir: &tempfile::TempDir) -> (std::path::PathBuf, Journal) {
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

/// What the stand-in kinds below did, in order.
type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Switched {
    on: bool,
}

/// A sealing kind whose change AWS brings into force a minute after answering (as VPC Block Public Access
/// reports `update-in-progress` first), or never, when `never_in_force`.
struct SlowSwitch {
    log: Log,
    never_in_force: bool,
    /// The switch is off (the cut was made).
    off: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

static SLOW_SWITCH: crate::services::KindInfo = crate::services::KindInfo {
    name: "slow_switch",
    reversible: true,
    enabled_by_default: true,
    phase: crate::services::Phase::Seal,
    global: false,
};

/// A per-resource kind whose change is in force when AWS answers (a key deactivated).
struct KeyOff {
    log: Log,
}

static KEY_OFF: crate::services::KindInfo = crate::services::KindInfo {
    name: "key_off",
    reversible: true,
    enabled_by_default: true,
    phase: crate::services::Phase::PerResource,
    global: false,
};

fn note(log: &Log, what: &str) {
    log.lock().unwrap().push(what.into());
}

#[async_trait::async_trait]
impl crate::services::CutKind for SlowSwitch {
    type State = Switched;
    type Undo = Switched;

    fn info(&self) -> &'static crate::services::KindInfo {
        &SLOW_SWITCH
    }

    fn check_states(&self, _cut: &crate::services::TypedCut<Switched>) -> Result<(), String> {
        Ok(())
    }

    async fn discover(
        &self,
        _ctx: &RegionCtx,
        _scope: &crate::services::DiscoveryScope,
    ) -> Result<Vec<crate::services::Proposal<Switched>>, crate::services::ServiceError> {
        Ok(vec![])
    }

    async fn observe(
        &self,
        _ctx: &RegionCtx,
        _cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Option<Switched>, crate::services::ServiceError> {
        let off = self.off.load(std::sync::atomic::Ordering::SeqCst);
        Ok(Some(Switched { on: !off }))
    }

    async fn apply(
        &self,
        _ctx: &RegionCtx,
        cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Switched, crate::services::ServiceError> {
        self.off.store(true, std::sync::atomic::Ordering::SeqCst);
        note(&self.log, "switch answered");
        Ok(cut.before.clone())
    }

    async fn take_effect(
        &self,
        _ctx: &RegionCtx,
        _cut: &crate::services::TypedCut<Switched>,
    ) -> Result<(), crate::services::ServiceError> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        if self.never_in_force {
            note(&self.log, "switch gave up");
            return Err(crate::services::ServiceError::local(
                "ec2:DescribeVpcBlockPublicAccessOptions",
                "waited 60 s and AWS still reports `update-in-progress`",
            ));
        }
        note(&self.log, "switch in force");
        Ok(())
    }

    fn undo_record_for(
        &self,
        cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Switched, crate::services::ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        _ctx: &RegionCtx,
        _undo: &Switched,
    ) -> Result<crate::services::UndoOutcome, crate::services::ServiceError> {
        Ok(Default::default())
    }
}

#[async_trait::async_trait]
impl crate::services::CutKind for KeyOff {
    type State = Switched;
    type Undo = Switched;

    fn info(&self) -> &'static crate::services::KindInfo {
        &KEY_OFF
    }

    fn check_states(&self, _cut: &crate::services::TypedCut<Switched>) -> Result<(), String> {
        Ok(())
    }

    async fn discover(
        &self,
        _ctx: &RegionCtx,
        _scope: &crate::services::DiscoveryScope,
    ) -> Result<Vec<crate::services::Proposal<Switched>>, crate::services::ServiceError> {
        Ok(vec![])
    }

    async fn observe(
        &self,
        _ctx: &RegionCtx,
        _cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Option<Switched>, crate::services::ServiceError> {
        Ok(Some(Switched { on: true }))
    }

    async fn apply(
        &self,
        _ctx: &RegionCtx,
        cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Switched, crate::services::ServiceError> {
        note(&self.log, "key off");
        Ok(cut.before.clone())
    }

    fn undo_record_for(
        &self,
        cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Switched, crate::services::ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        _ctx: &RegionCtx,
        _undo: &Switched,
    ) -> Result<crate::services::UndoOutcome, crate::services::ServiceError> {
        Ok(Default::default())
    }
}

/// A plan that switches a region off (sealing) and takes a key off (per resource), and what the run did:
/// the kinds' log, the journal's entries, the reporter's events, the outcome. `resuming`: an earlier run
/// crashed after the switch's call was answered, before its completion was journaled.
async fn switch_and_key(
    parallelism: usize,
    never_in_force: bool,
    resuming: bool,
) -> (
    Vec<String>,
    Vec<Entry>,
    Vec<crate::report::Event>,
    ApplyOutcome,
) {
    let log = Log::default();
    let registry = crate::services::Registry::of_kinds(vec![
        Box::new(SlowSwitch {
            log: log.clone(),
            never_in_force,
            off: std::sync::Arc::new(resuming.into()),
        }),
        Box::new(KeyOff { log: log.clone() }),
    ]);
    let cut = |kind: &str, target: &str| Cut {
        id: Cut::expected_id(kind, "us-east-1", target),
        kind: kind.into(),
        region: "us-east-1".into(),
        target: target.into(),
        enabled: true,
        reversible: true,
        reason: "test".into(),
        before: json!({"on": true}),
        after: json!({"on": false}),
    };
    // In plan order the key comes first: apply still seals first.
    let plan = Plan {
        cuts: vec![cut("key_off", "AKIA1"), cut("slow_switch", "region")],
        ..plan_for(&[])
    };
    let dir = tempfile::tempdir().unwrap();
    let (path, mut journal) = new_journal(&dir);
    let reporter = RecordingReporter::default();
    let session = AwsSession::with_regions("us-east-1", vec![RegionCtx::for_tests("us-east-1")]);
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions {
            parallelism,
            progress: if resuming {
                [(plan.cuts[1].id.clone(), Progress::Uncertain)].into()
            } else {
                Default::default()
            },
            ..ApplyOptions::default()
        },
        &reporter,
    )
    .await
    .unwrap();
    let (contents, _) = journal::read_path(&path, &keys_of(&path), false).unwrap();
    let entries = contents.records.into_iter().map(|r| r.entry).collect();
    let log = log.lock().unwrap().clone();
    let events = reporter.events.lock().unwrap().clone();
    (log, entries, events, outcome)
}

/// The journal's entries as `intent|done|failed <kind>`, in order.
fn journaled(entries: &[Entry]) -> Vec<String> {
    let kind = |id: &str| id.split('/').next().unwrap_or_default().to_string();
    entries
        .iter()
        .filter_map(|entry| match entry {
            Entry::Intent { cut } => Some(format!("intent {}", cut.kind)),
            Entry::Done { id, .. } => Some(format!("done {}", kind(id))),
            Entry::Failed { id, .. } => Some(format!("failed {}", kind(id))),
            _ => None,
        })
        .collect()
}

/// Where the `sealed` event came among the cuts' completions: the kinds of the cuts done before it.
fn done_before_sealed(events: &[crate::report::Event]) -> Vec<String> {
    use crate::report::Event;
    let sealed = events
        .iter()
        .position(|e| matches!(e, Event::Sealed { .. }))
        .expect("the sealed event fired");
    events[..sealed]
        .iter()
        .filter_map(|e| match e {
            Event::CutDone { id, .. } | Event::CutFailed { id, .. } => {
                Some(id.split('/').next().unwrap_or_default().to_string())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_seal_waiting_for_its_change_to_take_effect_does_not_hold_back_the_per_resource_cuts() {
    let (log, entries, events, outcome) = switch_and_key(2, false, false).await;
    assert_eq!(
        log,
        ["switch answered", "key off", "switch in force"],
        "the key goes once the switch's call is answered, not once AWS reports it in force"
    );
    assert_eq!(
        journaled(&entries),
        [
            "intent slow_switch",
            "intent key_off",
            "done key_off",
            "done slow_switch"
        ],
        "the switch is journaled done only once it is in force"
    );
    assert_eq!(
        done_before_sealed(&events),
        ["key_off", "slow_switch"],
        "sealed fires when the wait ends"
    );
    assert_eq!(
        outcome.done,
        ["slow_switch/us-east-1/region", "key_off/us-east-1/AKIA1"],
        "the outcome lists the cuts in apply's order"
    );
    assert!(outcome.sealed_after.is_some());
}

#[tokio::test(start_paused = true)]
async fn with_parallelism_one_the_seal_is_in_force_before_the_next_cut_starts() {
    let (log, entries, events, outcome) = switch_and_key(1, false, false).await;
    assert_eq!(log, ["switch answered", "switch in force", "key off"]);
    assert_eq!(
        journaled(&entries),
        [
            "intent slow_switch",
            "done slow_switch",
            "intent key_off",
            "done key_off"
        ],
        "one cut after the other, so a crash stops at an exact call"
    );
    assert_eq!(done_before_sealed(&events), ["slow_switch"]);
    assert_eq!(outcome.done.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_seal_that_never_takes_effect_is_journaled_failed_and_the_other_cuts_still_go() {
    let (log, entries, _events, outcome) = switch_and_key(2, true, false).await;
    assert_eq!(log, ["switch answered", "key off", "switch gave up"]);
    assert_eq!(
        journaled(&entries),
        [
            "intent slow_switch",
            "intent key_off",
            "done key_off",
            "failed slow_switch"
        ],
        "no `done` for a change AWS never reported in force: restore derives its undo from the cut"
    );
    assert_eq!(outcome.done, ["key_off/us-east-1/AKIA1"]);
    assert_eq!(outcome.failed.len(), 1);
    assert!(
        outcome.failed[0].1.contains("update-in-progress"),
        "{:?}",
        outcome.failed
    );
}

#[tokio::test(start_paused = true)]
async fn a_resumed_seal_whose_call_went_through_is_waited_for_before_its_completion_is_journaled() {
    let (log, entries, _events, outcome) = switch_and_key(2, false, true).await;
    assert_eq!(
        log,
        ["switch in force", "key off"],
        "not switched again: the earlier call went through, and AWS is asked whether it is in force"
    );
    assert_eq!(
        journaled(&entries),
        ["done slow_switch", "intent key_off", "done key_off"]
    );
    assert_eq!(outcome.already_done, ["slow_switch/us-east-1/region"]);
    assert_eq!(outcome.done, ["key_off/us-east-1/AKIA1"]);
}

/// The two sides of S3's `BlockPublicPolicy`, as stand-ins: an account-wide block that cuts after the
/// policy writes, and a policy write AWS refuses once the block is on.
struct BlockOrWrite {
    info: &'static crate::services::KindInfo,
    log: Log,
    block_on: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

static ACCOUNT_BLOCK: crate::services::KindInfo = crate::services::KindInfo {
    name: "account_block",
    reversible: true,
    enabled_by_default: true,
    phase: crate::services::Phase::PerResource,
    global: true,
};

static POLICY_WRITE: crate::services::KindInfo = crate::services::KindInfo {
    name: "policy_write",
    reversible: true,
    enabled_by_default: true,
    phase: crate::services::Phase::PerResource,
    global: false,
};

#[async_trait::async_trait]
impl crate::services::CutKind for BlockOrWrite {
    type State = Switched;
    type Undo = Switched;

    fn info(&self) -> &'static crate::services::KindInfo {
        self.info
    }

    fn cuts_after(&self) -> &'static [&'static str] {
        if self.info.name == ACCOUNT_BLOCK.name {
            &["policy_write"]
        } else {
            &[]
        }
    }

    fn check_states(&self, _cut: &crate::services::TypedCut<Switched>) -> Result<(), String> {
        Ok(())
    }

    async fn discover(
        &self,
        _ctx: &RegionCtx,
        _scope: &crate::services::DiscoveryScope,
    ) -> Result<Vec<crate::services::Proposal<Switched>>, crate::services::ServiceError> {
        Ok(vec![])
    }

    async fn observe(
        &self,
        _ctx: &RegionCtx,
        _cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Option<Switched>, crate::services::ServiceError> {
        Ok(Some(Switched { on: true }))
    }

    async fn apply(
        &self,
        _ctx: &RegionCtx,
        cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Switched, crate::services::ServiceError> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.info.name == ACCOUNT_BLOCK.name {
            self.block_on.store(true, SeqCst);
            note(&self.log, "block on");
            return Ok(cut.before.clone());
        }
        // Each write takes a while, so that a block started beside them would land first.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if self.block_on.load(SeqCst) {
            note(&self.log, &format!("{} refused", cut.target));
            return Err(crate::services::ServiceError::local(
                "s3:PutBucketPolicy",
                "AccessDenied: the policy allows public access",
            ));
        }
        note(&self.log, &format!("{} written", cut.target));
        Ok(cut.before.clone())
    }

    fn undo_record_for(
        &self,
        cut: &crate::services::TypedCut<Switched>,
    ) -> Result<Switched, crate::services::ServiceError> {
        Ok(cut.before.clone())
    }

    async fn undo(
        &self,
        _ctx: &RegionCtx,
        _undo: &Switched,
    ) -> Result<crate::services::UndoOutcome, crate::services::ServiceError> {
        Ok(Default::default())
    }
}

/// The stand-ins in the declared order given (names of their infos).
fn block_and_policies_declared(
    order: [&'static crate::services::KindInfo; 2],
) -> (crate::services::Registry, Log) {
    let log = Log::default();
    let on = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kinds = order
        .into_iter()
        .map(|info| {
            Box::new(BlockOrWrite {
                info,
                log: log.clone(),
                block_on: on.clone(),
            }) as Box<dyn crate::services::Containment>
        })
        .collect();
    (crate::services::Registry::of_kinds(kinds), log)
}

/// Declared block first, as s3_public_access_block is declared before resource_policy_deny.
fn block_and_policies() -> (crate::services::Registry, Log) {
    block_and_policies_declared([&ACCOUNT_BLOCK, &POLICY_WRITE])
}

async fn apply_block_and_policies(parallelism: usize) -> (Vec<String>, ApplyOutcome) {
    let (registry, log) = block_and_policies();
    let cut = |kind: &str, region: &str, target: &str| Cut {
        id: Cut::expected_id(kind, region, target),
        kind: kind.into(),
        region: region.into(),
        target: target.into(),
        enabled: true,
        reversible: true,
        reason: "test".into(),
        before: json!({"on": true}),
        after: json!({"on": false}),
    };
    let plan = Plan {
        cuts: vec![
            cut("account_block", "global", "123456789012"),
            cut("policy_write", "us-east-1", "bucket-a"),
            cut("policy_write", "us-east-1", "bucket-b"),
            cut("policy_write", "us-east-1", "bucket-c"),
        ],
        ..plan_for(&[])
    };
    let dir = tempfile::tempdir().unwrap();
    let (_path, mut journal) = new_journal(&dir);
    let session = AwsSession::with_regions(
        "us-east-1",
        vec![
            RegionCtx::for_tests("us-east-1"),
            RegionCtx::for_tests("global"),
        ],
    );
    let outcome = execute(
        &session,
        &registry,
        &plan,
        &mut journal,
        &ApplyOptions {
            parallelism,
            ..ApplyOptions::default()
        },
        &RecordingReporter::default(),
    )
    .await
    .unwrap();
    let log = log.lock().unwrap().clone();
    (log, outcome)
}

#[tokio::test(start_paused = true)]
async fn a_kind_that_cuts_after_others_starts_once_their_cuts_are_answered() {
    for parallelism in [8, 2, 1] {
        let (log, outcome) = apply_block_and_policies(parallelism).await;
        assert_eq!(
            log.last().map(String::as_str),
            Some("block on"),
            "parallelism {parallelism}: {log:?}"
        );
        assert!(
            log.iter().all(|line| !line.ends_with("refused")),
            "parallelism {parallelism}: no write reached AWS after the block: {log:?}"
        );
        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        assert_eq!(outcome.done.len(), 4);
    }
}

#[test]
fn restore_lifts_a_kind_that_cuts_after_others_before_undoing_them() {
    let (registry, _) = block_and_policies();
    assert!(registry.restore_rank("account_block") < registry.restore_rank("policy_write"));
    // Declared in the other order, the rank is the same way round.
    let (registry, _) = block_and_policies_declared([&POLICY_WRITE, &ACCOUNT_BLOCK]);
    assert!(registry.restore_rank("account_block") < registry.restore_rank("policy_write"));
}

#[test]
fn the_cuts_others_wait_for_start_first_and_the_waiting_ones_right_after() {
    let (registry, _) = block_and_policies();
    let cut = |kind: &str, target: &str| Cut {
        id: Cut::expected_id(kind, "us-east-1", target),
        kind: kind.into(),
        region: "us-east-1".into(),
        target: target.into(),
        enabled: true,
        reversible: true,
        reason: "test".into(),
        before: json!({}),
        after: json!({}),
    };
    let cuts = [
        cut("key_off", "AKIA1"),
        cut("account_block", "acct"),
        cut("policy_write", "bucket-a"),
        cut("key_off", "AKIA2"),
    ];
    let phase: Vec<&Cut> = cuts.iter().collect();
    let (order, earlier) = start_order(&phase, &registry);
    let order: Vec<(&str, Turn)> = order
        .iter()
        .map(|(cut, turn)| (cut.target.as_str(), *turn))
        .collect();
    assert_eq!(
        order,
        [
            ("bucket-a", Turn::BeforeOthers),
            ("acct", Turn::AfterOthers),
            ("AKIA1", Turn::Free),
            ("AKIA2", Turn::Free)
        ]
    );
    assert_eq!(earlier, [("policy_write", 1)].into());
    // Without a cut to wait for, the block waits for nothing.
    let phase: Vec<&Cut> = vec![&cuts[0], &cuts[1]];
    let (order, earlier) = start_order(&phase, &registry);
    assert!(order.iter().all(|(_, turn)| *turn == Turn::Free));
    assert!(earlier.is_empty());
}
