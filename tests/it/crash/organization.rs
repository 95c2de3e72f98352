//! A plan over several accounts killed mid-apply: SIGKILL right after the first cut's call, one in the
//! middle and the last (the change made, its completion never journaled), then one restore of the
//! directory must give every member account back exactly, whichever accounts had started.

use super::{REGION, assert_killed, reset};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::organization::{account_state, organization_with_members, seed_members};

/// The kinds this scenario cuts: a sealing kind, a per-resource network kind and an identity kind, in
/// each member.
const KINDS: &str = "nacl_deny,sg_revoke,iam_key_deactivate";

/// Seeds an organization with two members and plans them as `plans/{name}.yaml`.
async fn seed_and_plan(
    emulator: &Emulator,
    name: &str,
) -> Vec<(crate::organization::SeededMember, crate::organization::AccountState)> {
    reset(emulator);
    let (_, members) = organization_with_members(emulator, 2).await;
    let seeded = seed_members(emulator, &members).await;
    let mut with_state = Vec::new();
    for member in seeded {
        let state = account_state(&member.config, &member.database).await;
        with_state.push((member, state));
    }
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--accounts", &members.join(","), "--kinds", KINDS])
        .assert()
        .code(0);
    with_state
}

/// The kill points: the first, a middle and the last cut call (role entries and reads are not cuts).
fn kill_points(calls: &[String]) -> Vec<usize> {
    let cuts: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, call)| call.as_str() != "AssumeRole")
        .map(|(index, _)| index + 1)
        .collect();
    assert!(cuts.len() >= 3, "the run cuts: {calls:?}");
    let mut points = vec![cuts[0], cuts[cuts.len() / 2], cuts[cuts.len() - 1]];
    points.dedup();
    points
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_over_several_accounts_killed_mid_run_is_restored_exactly_in_every_account() {
    let emulator = Emulator::start();
    seed_and_plan(&emulator, "full").await;
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");

    for n in kill_points(&calls) {
        let name = format!("k{n}");
        let members = seed_and_plan(&emulator, &name).await;
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &["apply", &format!("plans/{name}.yaml"), "--yes"],
            Some(n),
            &format!("{name}.apply.log"),
        );
        let what = format!("apply killed after mutating call {n} ({:?})", seen.last());
        assert_killed(status, &what, &output);
        emulator
            .restore(&format!("plans/{name}.rollback"))
            .assert()
            .code(0);
        for (member, before) in &members {
            assert_eq!(
                &account_state(&member.config, &member.database).await,
                before,
                "{what}: account {} restored exactly",
                member.account
            );
        }
    }
}
