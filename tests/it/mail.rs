//! Mail and storage kinds end to end on the emulator, with the findings the same seed triggers:
//! `ses_send_deny`, `ses_identity_policy_remove` and `s3_public_access_block`, plan → apply → restore,
//! with the full state of each resource compared before and after; and the findings for a trail that is
//! not logging, a public DNS record pointing outside the account and the APIs the emulator lacks (SES
//! account pause, CodeCommit listing), which the plan must name rather than fail on.
//!
//! The SES account pause (`ses_sending_pause`) and ECR Public are missing from the emulator: their cuts
//! are proven with mocks in `src/services/mail/ses_sending_pause.rs` and
//! `src/services/storage/ecr_public_delete.rs`.

use std::collections::BTreeMap;

use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use hikkonuki::services::identity::decode_policy_document;
use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account::mail::{self, SeededMail};

const ACCOUNT: &str = "123456789012";
const SEND_DENY_POLICY: &str = "hikkonuki-ses-send-deny";

/// S3 Control prefixes the host with the account ID, which does not resolve on loopback: send every
/// call to the emulator as it is (the same fix hikkonuki applies against an endpoint override).
#[derive(Debug)]
struct EmulatorEndpoint(String);

impl ResolveEndpoint for EmulatorEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}

pub async fn s3control(emulator: &Emulator) -> aws_sdk_s3control::Client {
    let config = emulator.sdk_config("us-east-1").await;
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(&config)
            .endpoint_resolver(EmulatorEndpoint(emulator.endpoint()))
            .build(),
    )
}

/// Everything the mail and storage cuts could touch: the identity's sending-authorization policies, the
/// sender's inline policies with their documents, and the account's public access block.
pub async fn state(emulator: &Emulator, seeded: &SeededMail) -> BTreeMap<String, String> {
    let config = emulator.sdk_config("us-east-1").await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let mut state = BTreeMap::new();

    let policies = ses
        .get_email_identity_policies()
        .email_identity(&seeded.identity)
        .send()
        .await
        .unwrap();
    let policies: BTreeMap<_, _> = policies
        .policies()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    state.insert("identity policies".into(), format!("{policies:?}"));

    let names = iam
        .list_user_policies()
        .user_name(&seeded.sender_user)
        .send()
        .await
        .unwrap();
    state.insert(
        "sender policy names".into(),
        format!("{:?}", crate::identity::sorted(names.policy_names())),
    );
    for name in names.policy_names() {
        let policy = iam
            .get_user_policy()
            .user_name(&seeded.sender_user)
            .policy_name(name)
            .send()
            .await
            .unwrap();
        // IAM returns documents URL-encoded.
        state.insert(
            format!("sender policy {name}"),
            decode_policy_document(policy.policy_document()),
        );
    }

    state.insert(
        "account public access block".into(),
        account_block(emulator).await,
    );
    state
}

/// The account's S3 Block Public Access as S3 Control answers it, or the error code.
pub async fn account_block(emulator: &Emulator) -> String {
    match s3control(emulator)
        .await
        .get_public_access_block()
        .account_id(ACCOUNT)
        .send()
        .await
    {
        Ok(out) => format!("{:?}", out.public_access_block_configuration()),
        Err(err) => format!(
            "error {:?}",
            aws_sdk_s3control::error::ProvideErrorMetadata::code(&err)
        ),
    }
}

async fn seed(emulator: &Emulator) -> SeededMail {
    mail::seed(&emulator.sdk_config("us-east-1").await)
        .await
        .expect("seeding the mail side")
}

fn plan(emulator: &Emulator) -> assert_cmd::assert::Assert {
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success()
}

fn apply(emulator: &Emulator) {
    emulator.apply("plans/p.yaml").assert().success();
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_paths_and_the_account_public_access_block_are_cut_and_restored_exactly() {
    let emulator = Emulator::start();
    let seeded = seed(&emulator).await;
    // A partial block set by someone before the incident: restore must put back exactly this.
    s3control(&emulator)
        .await
        .put_public_access_block()
        .account_id(ACCOUNT)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(false)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = state(&emulator, &seeded).await;
    assert!(
        before["identity policies"].contains("PartnerSends"),
        "{before:?}"
    );

    plan(&emulator)
        // Findings come before the cuts and name what to do.
        .stdout(contains(
            "cloudtrail_not_logging [us-east-1 cloudtrail]: no trail is logging here",
        ))
        .stdout(contains(format!(
            "route53_public_records [global {} A (zone leaky.example)]: public record {} A points at {}, which no resource in this plan holds",
            seeded.outside_record, seeded.outside_record, mail::OUTSIDE_ADDRESS
        )))
        .stdout(contains("ses_sending_pause [us-east-1"))
        .stdout(contains("pause it by hand"))
        .stdout(contains("codecommit_repositories [us-east-1"))
        // The cuts.
        .stdout(contains(format!(
            "~ ses_identity_policy_remove/us-east-1/{}",
            seeded.identity
        )))
        .stdout(contains(format!(
            "~ ses_send_deny/global/user/{}",
            seeded.sender_user
        )))
        .stdout(contains(format!(
            "~ s3_public_access_block/global/{ACCOUNT}"
        )));

    apply(&emulator);
    let cut = state(&emulator, &seeded).await;
    assert_eq!(
        cut["identity policies"], "{}",
        "the partner can no longer send as the identity"
    );
    let deny: serde_json::Value =
        serde_json::from_str(&cut[&format!("sender policy {SEND_DENY_POLICY}")])
            .unwrap_or_else(|e| panic!("{e}: {cut:?}"));
    assert_eq!(deny["Statement"][0]["Effect"], "Deny", "{deny}");
    let actions = deny["Statement"][0]["Action"].to_string();
    assert!(
        actions.contains("ses:SendEmail") && actions.contains("ses:SendRawEmail"),
        "{actions}"
    );
    for flag in [
        "block_public_acls: Some(true)",
        "ignore_public_acls: Some(true)",
        "block_public_policy: Some(true)",
        "restrict_public_buckets: Some(true)",
    ] {
        assert!(cut["account public access block"].contains(flag), "{cut:?}");
    }

    // The session revocation apply also put on the sender stays unless lifted; lift it so the whole
    // state can be compared.
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .success();
    assert_eq!(state(&emulator, &seeded).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_without_a_public_access_block_has_none_again_after_restore() {
    let emulator = Emulator::start();
    let seeded = seed(&emulator).await;
    let before = state(&emulator, &seeded).await;
    assert_eq!(
        before["account public access block"],
        "error Some(\"NoSuchPublicAccessBlockConfiguration\")"
    );
    plan(&emulator).stdout(contains(
        "restore puts back no configuration (it deletes the block)",
    ));
    apply(&emulator);
    assert!(state(&emulator, &seeded).await["account public access block"].contains("Some(true)"));
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .success();
    assert_eq!(state(&emulator, &seeded).await, before);
}

/// A responder lifts part of the account's S3 Block Public Access by hand while the account is cut (a
/// partner's bucket must be read): restore leaves that alone, says so, and counts it apart.
#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_an_account_public_access_block_changed_after_the_cut_alone() {
    let emulator = Emulator::start();
    let seeded = seed(&emulator).await;
    plan(&emulator);
    apply(&emulator);
    let by_hand = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(false)
        .build();
    s3control(&emulator)
        .await
        .put_public_access_block()
        .account_id(ACCOUNT)
        .public_access_block_configuration(by_hand)
        .send()
        .await
        .unwrap();
    let changed = state(&emulator, &seeded).await["account public access block"].clone();
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .success()
        .stderr(contains(format!(
            "conflict: S3 Block Public Access of account {ACCOUNT} was changed after the cut"
        )))
        .stdout(contains(format!(
            "  conflict: s3_public_access_block/global/{ACCOUNT}: S3 Block Public Access of account {ACCOUNT} was changed after the cut"
        )));
    assert_eq!(
        state(&emulator, &seeded).await["account public access block"],
        changed,
        "left as the responder set it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_an_identity_policy_recreated_after_the_cut_alone() {
    let emulator = Emulator::start();
    let seeded = seed(&emulator).await;
    plan(&emulator);
    apply(&emulator);
    // A responder puts back a narrower policy under the same name while the account is cut.
    let narrower = r#"{"Version":"2012-10-17","Statement":[{"Sid":"OnlyAlerts","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:role/alerts"},"Action":"ses:SendEmail","Resource":"*"}]}"#;
    let ses = aws_sdk_sesv2::Client::new(&emulator.sdk_config("us-east-1").await);
    ses.create_email_identity_policy()
        .email_identity(&seeded.identity)
        .policy_name(&seeded.identity_policy_name)
        .policy(narrower)
        .send()
        .await
        .unwrap();
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .stderr(contains(&seeded.identity_policy_name))
        .stderr(contains("conflict"));
    let after = state(&emulator, &seeded).await;
    assert!(
        after["identity policies"].contains("OnlyAlerts"),
        "{after:?}"
    );
    assert!(
        !after["identity policies"].contains("PartnerSends"),
        "{after:?}"
    );
}
