use super::*;

fn attachment(vpc_id: &str, state: &str) -> Attachment {
    Attachment {
        vpc_id: vpc_id.into(),
        state: state.into(),
    }
}

#[test]
fn detached_attachments_are_not_recorded_and_the_rest_are_sorted() {
    let attached = AttachmentStatus::Attached;
    let detached = AttachmentStatus::Detached;
    let available = AttachmentStatus::from("available");
    let recorded = live_attachments([
        (Some("vpc-b"), Some(&attached)),
        (Some("vpc-c"), Some(&detached)),
        (Some("vpc-a"), Some(&available)),
        (None, Some(&attached)),
    ]);
    assert_eq!(
        recorded,
        vec![
            attachment("vpc-a", "available"),
            attachment("vpc-b", "attached")
        ]
    );
}

#[test]
fn a_detach_leaves_only_attachments_already_on_their_way_out() {
    let before = vec![
        attachment("vpc-a", "available"),
        attachment("vpc-b", "detaching"),
    ];
    assert_eq!(
        remaining_after_detach(&before),
        vec![attachment("vpc-b", "detaching")]
    );
    assert_eq!(
        check_detach(&before, &remaining_after_detach(&before)),
        Ok(())
    );
}

#[test]
fn detach_checks_reject_after_states_that_keep_or_add_attachments() {
    let before = vec![attachment("vpc-a", "attached")];
    assert!(
        check_detach(&before, &before)
            .unwrap_err()
            .contains("keeps the attachment to vpc-a")
    );
    assert!(
        check_detach(&before, &[attachment("vpc-z", "detaching")])
            .unwrap_err()
            .contains("only removes attachments")
    );
    assert!(
        check_detach(&[attachment("vpc-a", "detaching")], &[])
            .unwrap_err()
            .contains("nothing to detach")
    );
}

#[test]
fn reattachment_attaches_only_where_nothing_else_took_the_place() {
    let detached = vec!["vpc-a".to_string()];
    let nothing = BTreeMap::new();
    let plan = plan_reattachment("internet gateway", "igw-1", &detached, &[], &nothing);
    assert_eq!(plan.to_attach, vec!["vpc-a"]);
    assert!(plan.notes.is_empty());
}

#[test]
fn reattachment_is_a_no_op_when_the_gateway_is_back_already() {
    let detached = vec!["vpc-a".to_string()];
    // The gateway itself shows up among the VPC's gateways: it is not a rival.
    let others = BTreeMap::from([("vpc-a".to_string(), vec!["igw-1".to_string()])]);
    let plan = plan_reattachment(
        "internet gateway",
        "igw-1",
        &detached,
        &[attachment("vpc-a", "available")],
        &others,
    );
    assert!(plan.to_attach.is_empty());
    assert_eq!(plan.notes, vec!["already attached: igw-1 to vpc-a"]);
}

#[test]
fn reattachment_leaves_a_vpc_alone_that_has_another_gateway_and_says_so() {
    let detached = vec!["vpc-a".to_string()];
    let others = BTreeMap::from([("vpc-a".to_string(), vec!["igw-2".to_string()])]);
    let plan = plan_reattachment("internet gateway", "igw-1", &detached, &[], &others);
    assert!(plan.to_attach.is_empty());
    assert_eq!(plan.notes.len(), 1);
    assert!(
        plan.notes[0].starts_with("conflict: vpc-a now has internet gateway igw-2 attached"),
        "{}",
        plan.notes[0]
    );
}

#[test]
fn reattachment_does_not_move_a_gateway_that_was_attached_elsewhere_since() {
    let detached = vec!["vpc-a".to_string()];
    let plan = plan_reattachment(
        "virtual private gateway",
        "vgw-1",
        &detached,
        &[attachment("vpc-b", "attached")],
        &BTreeMap::new(),
    );
    assert!(plan.to_attach.is_empty());
    assert!(
        plan.notes[0].starts_with("conflict: vgw-1 is now attached to vpc-b"),
        "{}",
        plan.notes[0]
    );
}

#[test]
fn only_attachments_that_carry_traffic_are_detached_or_count_as_rivals() {
    let attachments = vec![
        attachment("vpc-a", "available"),
        attachment("vpc-b", "detaching"),
    ];
    assert_eq!(vpcs_carrying_traffic(&attachments), vec!["vpc-a"]);
    assert_eq!(
        detached_vpcs(&attachments, &remaining_after_detach(&attachments)),
        vec!["vpc-a"]
    );
    assert_eq!(
        attached_by_vpc([("igw-1".to_string(), attachments)]),
        BTreeMap::from([("vpc-a".to_string(), vec!["igw-1".to_string()])])
    );
}

/// A kind of gateway that answers from memory and records each call it is asked to make.
struct Recorded {
    live: Option<Vec<Attachment>>,
    others: Vec<(String, Vec<Attachment>)>,
    calls: std::sync::Mutex<Vec<String>>,
}

impl Recorded {
    fn new(live: Option<Vec<Attachment>>, others: Vec<(String, Vec<Attachment>)>) -> Recorded {
        Recorded {
            live,
            others,
            calls: Default::default(),
        }
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl GatewayCalls for Recorded {
    const NOUN: &'static str = "test gateway";

    async fn live_attachments(
        &self,
        _ctx: &RegionCtx,
        gateway_id: &str,
    ) -> Result<Option<Vec<Attachment>>, ServiceError> {
        self.record(format!("look up {gateway_id}"));
        Ok(self.live.clone())
    }

    async fn attached_to(
        &self,
        _ctx: &RegionCtx,
        vpc_ids: &[String],
    ) -> Result<Vec<(String, Vec<Attachment>)>, ServiceError> {
        self.record(format!("others in {}", vpc_ids.join(",")));
        Ok(self.others.clone())
    }

    async fn detach(
        &self,
        _ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
        dry_run: bool,
    ) -> Result<(), ServiceError> {
        if dry_run {
            self.record(format!("dry-run detach {gateway_id} {vpc_id}"));
            return Err(ServiceError {
                code: Some("DryRunOperation".into()),
                ..ServiceError::local(
                    "ec2:Detach",
                    "Request would have succeeded, but DryRun flag is set.",
                )
            });
        }
        self.record(format!("detach {gateway_id} {vpc_id}"));
        Ok(())
    }

    async fn attach(
        &self,
        _ctx: &RegionCtx,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), ServiceError> {
        self.record(format!("attach {gateway_id} {vpc_id}"));
        Ok(())
    }

    fn gone(&self, gateway_id: &str, detached_from: &[String]) -> ServiceError {
        ServiceError::local("test", format!("{gateway_id} gone from {detached_from:?}"))
    }
}

fn offline_ctx() -> RegionCtx {
    use aws_smithy_mocks::{RuleMode, mock_client};
    RegionCtx::with_ec2(
        "us-east-1",
        mock_client!(aws_sdk_ec2, RuleMode::MatchAny, &[]),
    )
}

#[tokio::test]
async fn the_shared_undo_looks_before_it_attaches_and_notes_what_it_left() {
    let gateway = Recorded::new(
        Some(vec![]),
        vec![("gw-2".to_string(), vec![attachment("vpc-b", "available")])],
    );
    let detached = vec!["vpc-a".to_string(), "vpc-b".to_string()];
    let outcome = reattach(&gateway, &offline_ctx(), "gw-1", &detached)
        .await
        .unwrap();
    assert_eq!(
        gateway.calls(),
        vec!["look up gw-1", "others in vpc-a,vpc-b", "attach gw-1 vpc-a"]
    );
    assert_eq!(outcome.notes.len(), 2);
    assert!(
        outcome.notes[0].starts_with("conflict: vpc-b now has test gateway gw-2 attached"),
        "{}",
        outcome.notes[0]
    );
    assert_eq!(outcome.notes[1], "attached gw-1 to vpc-a again");

    detach_all(&gateway, &offline_ctx(), "gw-1", &detached)
        .await
        .unwrap();
    assert_eq!(
        gateway.calls()[3..],
        ["detach gw-1 vpc-a", "detach gw-1 vpc-b"]
    );
}

#[tokio::test]
async fn the_shared_undo_of_a_gone_gateway_is_the_kinds_error_and_attaches_nothing() {
    let gateway = Recorded::new(None, vec![]);
    let err = reattach(&gateway, &offline_ctx(), "gw-1", &["vpc-a".to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.message, r#"gw-1 gone from ["vpc-a"]"#);
    assert_eq!(gateway.calls(), vec!["look up gw-1"]);
}

/// `apply --check` dry-runs the detach from every VPC the cut detaches, and detaches nothing.
#[tokio::test]
async fn the_shared_check_dry_runs_each_detach_and_makes_none() {
    let gateway = Recorded::new(None, vec![]);
    let vpcs = ["vpc-a".to_string(), "vpc-b".to_string()];
    let verdict = check_detach_all(&gateway, &offline_ctx(), "gw-1", &vpcs).await;
    assert!(matches!(verdict, PermissionCheck::Allowed), "{verdict:?}");
    assert_eq!(
        gateway.calls(),
        ["dry-run detach gw-1 vpc-a", "dry-run detach gw-1 vpc-b"]
    );
}
