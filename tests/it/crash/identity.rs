//! `iam_service_credential_deactivate` killed mid-run. Two users each hold a CodeCommit HTTPS Git
//! password, so apply makes two UpdateServiceSpecificCredential calls: SIGKILL right after the first and
//! after the last (the credential Inactive, its completion never journaled) must still let restore make
//! each Active again; and restore killed after its first and last UpdateServiceSpecificCredential, then
//! run again, must finish the job (the second run finds the credential already Active and says so). The
//! service-specific credential API is hikkonuki's model of AWS
//! (`tests/emulator/aws_model/iam_service_specific_credentials.py`).

use super::{
    REGION, Writes, kill_apply_and_restore_at_both_ends, reset, uncut_apply, uncut_restore,
};
use crate::emulator::Emulator;
use crate::identity::service_credentials;

const USERS: [&str; 2] = ["git-alice", "git-bob"];
const UPDATE: &str = "UpdateServiceSpecificCredential";

/// Every credential of both users, one line each.
async fn credentials(iam: &aws_sdk_iam::Client) -> String {
    let mut lines = Vec::new();
    for user in USERS {
        lines.push(format!(
            "{user}: {:?}",
            service_credentials(iam, user).await
        ));
    }
    lines.join("\n")
}

/// Two users with a CodeCommit HTTPS Git password each, planned for `iam_service_credential_deactivate`
/// alone as `plans/{name}.yaml`. Returns the credentials as seeded.
async fn seed_and_plan(emulator: &Emulator, iam: &aws_sdk_iam::Client, name: &str) -> String {
    reset(emulator);
    for user in USERS {
        iam.create_user().user_name(user).send().await.unwrap();
        iam.create_service_specific_credential()
            .user_name(user)
            .service_name("codecommit.amazonaws.com")
            .send()
            .await
            .unwrap();
    }
    let seeded = credentials(iam).await;
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .args(["--kinds", "iam_service_credential_deactivate"])
        .assert()
        .code(0);
    seeded
}

#[tokio::test(flavor = "multi_thread")]
async fn service_credential_deactivate_apply_and_restore_killed_after_first_and_last_call_give_them_back()
 {
    let emulator = Emulator::start();
    let iam = aws_sdk_iam::Client::new(&emulator.sdk_config(REGION).await);

    // Uncut runs tell where the updates come, in apply and in restore.
    let original = seed_and_plan(&emulator, &iam, "full").await;
    let apply_calls = uncut_apply(&emulator);
    assert_eq!(apply_calls, [UPDATE, UPDATE], "one update per credential");
    for user in USERS {
        for credential in service_credentials(&iam, user).await {
            assert_eq!(credential.status().as_str(), "Inactive", "{user}");
        }
    }
    let restore_calls = uncut_restore(&emulator, &[]);
    assert_eq!(credentials(&iam).await, original);

    kill_apply_and_restore_at_both_ends(
        &emulator,
        Writes {
            calls: &apply_calls,
            of: &[UPDATE],
        },
        Writes {
            calls: &restore_calls,
            of: &[UPDATE],
        },
        &[],
        &|emulator, name| {
            Box::pin(async move { seed_and_plan(emulator, &iam_of(emulator).await, &name).await })
        },
        &|emulator| Box::pin(async move { credentials(&iam_of(emulator).await).await }),
    )
    .await;
}

async fn iam_of(emulator: &Emulator) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&emulator.sdk_config(REGION).await)
}
