//! `iam_trust_deny` killed mid-run: each cut is one UpdateAssumeRolePolicy, so SIGKILL right after the
//! first and after the last of them (the trust written, its completion never journaled) must still let
//! restore give back every trust policy exactly; and restore killed after its first and last write, then
//! run again, must finish the job (the second run finds the cut already undone and says so).

use super::{
    REGION, Writes, kill_apply_and_restore_at_both_ends, reset, uncut_apply, uncut_restore,
};
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
    let apply_calls = uncut_apply(&emulator);
    let restore_calls = uncut_restore(&emulator, &["--lift-session-revocation"]);
    assert_eq!(trust(&emulator).await, original);

    kill_apply_and_restore_at_both_ends(
        &emulator,
        Writes {
            calls: &apply_calls,
            of: &[CALL],
        },
        Writes {
            calls: &restore_calls,
            of: &[CALL],
        },
        &["--lift-session-revocation"],
        &|emulator, name| {
            Box::pin(async move {
                let iam = aws_sdk_iam::Client::new(&emulator.sdk_config(REGION).await);
                seed_and_plan(emulator, &iam, &name).await
            })
        },
        &|emulator| Box::pin(trust(emulator)),
    )
    .await;
}

/// Every role's trust, as the crash test compares it.
async fn trust(emulator: &Emulator) -> String {
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config(REGION).await);
    format!("{:?}", trust_state(&iam).await)
}
