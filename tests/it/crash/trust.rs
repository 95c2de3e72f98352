//! `iam_trust_deny` killed mid-run: each cut is one UpdateAssumeRolePolicy, so SIGKILL right after the
//! first and after the last of them (the trust written, its completion never journaled) must still let
//! restore give back every trust policy exactly; and restore killed after its first and last write, then
//! run again, must finish the job (the second run finds the cut already undone and says so).

use super::{
    REGION, apply_killed_then_restored, first_and_last, reset, restore_killed_then_restored,
};
use crate::crash::kill_proxy::run_through_proxy;
use crate::emulator::Emulator;
use crate::leaky_account::trust;
use crate::trust::trust_state;

const CALL: &str = "UpdateAssumeRolePolicy";

async fn seed_and_plan(emulator: &Emulator, iam: &aws_sdk_iam::Client, name: &str) -> String {
    reset(emulator);
    trust::seed(&emulator.sdk_config(REGION).await)
        .await
        .expect("seeding the trust roles");
    let original = format!("{:?}", trust_state(iam).await);
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .assert()
        .code(0);
    original
}

#[tokio::test(flavor = "multi_thread")]
async fn trust_deny_apply_and_restore_killed_after_first_and_last_write_give_back_the_trust() {
    let emulator = Emulator::start();
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config(REGION).await);

    // Uncut runs tell where the trust writes come, in apply and in restore.
    let original = seed_and_plan(&emulator, &iam, "full").await;
    let (status, apply_calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    let (status, restore_calls, output) = run_through_proxy(
        &emulator,
        &[
            "restore",
            "plans/full.rollback.yaml",
            "--yes",
            "--lift-session-revocation",
        ],
        None,
        "full.restore.log",
    );
    assert!(status.success(), "an uncut restore succeeds:\n{output}");
    assert_eq!(format!("{:?}", trust_state(&iam).await), original);

    for n in first_and_last(&apply_calls, &[CALL]) {
        let name = format!("a{n}");
        let original = seed_and_plan(&emulator, &iam, &name).await;
        let killed = apply_killed_then_restored(&emulator, &name, n);
        let what = &killed.what;
        assert_eq!(killed.seen.last().map(String::as_str), Some(CALL), "{what}");
        assert_eq!(
            format!("{:?}", trust_state(&iam).await),
            original,
            "{what}, then restore"
        );
    }

    for k in first_and_last(&restore_calls, &[CALL]) {
        let name = format!("r{k}");
        let original = seed_and_plan(&emulator, &iam, &name).await;
        let killed =
            restore_killed_then_restored(&emulator, &name, k, &["--lift-session-revocation"]);
        let what = &killed.what;
        assert_eq!(killed.seen.last().map(String::as_str), Some(CALL), "{what}");
        assert_eq!(
            format!("{:?}", trust_state(&iam).await),
            original,
            "{what}, then restore again"
        );
    }
}
