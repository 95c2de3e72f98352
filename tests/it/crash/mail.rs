//! `ses_sending_pause` killed mid-run. An email identity in each of two regions makes SES usable in both,
//! so apply pauses sending twice: SIGKILL right after the first and after the last
//! PutAccountSendingAttributes (sending off, its completion never journaled) must still let restore turn
//! sending back on in each region; and restore killed after its first and last PutAccountSendingAttributes,
//! then run again, must finish the job (the second run finds sending already on and says so). The
//! account-level SES API is hikkonuki's model of AWS (`tests/emulator/aws_model/sesv2_account.py`).

use super::{Writes, kill_apply_and_restore_at_both_ends, reset, uncut_apply, uncut_restore};
use crate::emulator::Emulator;
use crate::mail::{identity_in, ses_account};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// A REST call is named by its request line (see the kill proxy).
const PUT_SENDING: &str = "PUT /v2/email/account/sending HTTP/1.1";

/// Both regions' SES accounts, one line each.
async fn sending(emulator: &Emulator) -> String {
    let mut lines = Vec::new();
    for region in REGIONS {
        lines.push(format!("{region}: {}", ses_account(emulator, region).await));
    }
    lines.join("\n")
}

/// An identity in each region, planned for `ses_sending_pause` alone as `plans/{name}.yaml`. Returns the
/// SES accounts as seeded.
async fn seed_and_plan(emulator: &Emulator, name: &str) -> String {
    reset(emulator);
    for region in REGIONS {
        identity_in(emulator, region).await;
    }
    let seeded = sending(emulator).await;
    emulator
        .plan(&REGIONS.join(","), &format!("plans/{name}.yaml"))
        .args(["--kinds", "ses_sending_pause"])
        .assert()
        .code(0);
    seeded
}

#[tokio::test(flavor = "multi_thread")]
async fn ses_sending_pause_apply_and_restore_killed_after_first_and_last_call_resume_every_region()
{
    let emulator = Emulator::start();

    // Uncut runs tell where the writes come, in apply and in restore.
    let original = seed_and_plan(&emulator, "full").await;
    let apply_calls = uncut_apply(&emulator);
    assert_eq!(
        apply_calls,
        [PUT_SENDING, PUT_SENDING],
        "one pause per region"
    );
    assert!(
        !sending(&emulator).await.contains("sending_enabled: true"),
        "both regions paused"
    );
    let restore_calls = uncut_restore(&emulator, &[]);
    assert_eq!(sending(&emulator).await, original);

    kill_apply_and_restore_at_both_ends(
        &emulator,
        Writes {
            calls: &apply_calls,
            of: &[PUT_SENDING],
        },
        Writes {
            calls: &restore_calls,
            of: &[PUT_SENDING],
        },
        &[],
        &|emulator, name| Box::pin(async move { seed_and_plan(emulator, &name).await }),
        &|emulator| Box::pin(sending(emulator)),
    )
    .await;
}
