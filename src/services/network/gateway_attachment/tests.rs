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
