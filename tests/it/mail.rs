//! Mail and storage kinds end to end on the emulator, with the findings the same seed triggers:
//! `ses_send_deny`, `ses_identity_policy_remove`, `ses_sending_pause` and `s3_public_access_block`, plan →
//! apply → restore, with the full state of each resource compared before and after; and the findings for
//! a trail that is not logging, a public DNS record pointing outside the account and the API the emulator
//! lacks (CodeCommit listing), which the plan must name rather than fail on.
//!
//! SES's account-level sending (GetAccount, PutAccountSendingAttributes) is not in moto: these tests run
//! against hikkonuki's model of it (`tests/emulator/aws_model/sesv2_account.py`: our model of AWS, not
//! AWS), which starts every region as a new account's, sending on in the sandbox. What the model leaves
//! out (AWS's own enforcement: an account under review or shut down) is proven with mocks in
//! `src/services/mail/ses_sending_pause.rs`. ECR Public is missing from the emulator: its cut is proven
//! with mocks in `src/services/storage/ecr_public_delete.rs`.

use std::collections::BTreeMap;

use aws_sdk_s3control::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3control::types::PublicAccessBlockConfiguration;
use hikkonuki::services::identity::decode_policy_document;
use predicates::prelude::PredicateBooleanExt;
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

/// The region's SES account as GetAccount answers it: whether it sends, its production access, AWS's
/// enforcement and the account settings. The send quota is left out: it counts the mail sent, which is
/// traffic, not configuration.
pub async fn ses_account(emulator: &Emulator, region: &str) -> String {
    let out = aws_sdk_sesv2::Client::new(&emulator.sdk_config(region).await)
        .get_account()
        .send()
        .await
        .unwrap();
    format!(
        "sending_enabled: {}, production_access_enabled: {}, enforcement_status: {:?}, dedicated_ip_auto_warmup_enabled: {}, details: {:?}, suppression: {:?}, vdm: {:?}",
        out.sending_enabled(),
        out.production_access_enabled(),
        out.enforcement_status(),
        out.dedicated_ip_auto_warmup_enabled(),
        out.details(),
        out.suppression_attributes(),
        out.vdm_attributes()
    )
}

/// Sends one message from the seeded identity in `region`; SES's error code if it is refused.
async fn send_mail(emulator: &Emulator, region: &str) -> Result<(), String> {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let text = Content::builder().data("incident test").build().unwrap();
    aws_sdk_sesv2::Client::new(&emulator.sdk_config(region).await)
        .send_email()
        .from_email_address(mail::IDENTITY)
        .destination(
            Destination::builder()
                .to_addresses("ops@leaky.example")
                .build(),
        )
        .content(
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(text.clone())
                        .body(Body::builder().text(text).build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|err| {
            aws_sdk_sesv2::error::ProvideErrorMetadata::code(&err)
                .unwrap_or("no code")
                .to_string()
        })
}

/// Everything the mail and storage cuts could touch: the identity's sending-authorization policies, the
/// sender's inline policies with their documents, the region's SES account and the account's public
/// access block.
pub async fn state(emulator: &Emulator, seeded: &SeededMail) -> BTreeMap<String, String> {
    let config = emulator.sdk_config("us-east-1").await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let mut state = BTreeMap::new();
    state.insert(
        "ses account us-east-1".into(),
        ses_account(emulator, "us-east-1").await,
    );

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
        .stdout(contains("codecommit_repositories [us-east-1"))
        .stdout(contains("pause it by hand").not())
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
        )))
        .stdout(contains("~ ses_sending_pause/us-east-1/ses-account\n"))
        .stdout(contains("- sending_enabled: true\n+ sending_enabled: false"));

    apply(&emulator);
    let cut = state(&emulator, &seeded).await;
    assert!(
        cut["ses account us-east-1"].starts_with("sending_enabled: false,"),
        "{cut:?}"
    );
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
        .stderr(contains(format!(
            "conflict: sending policy {} on {} was recreated with another document after the cut; left alone",
            seeded.identity_policy_name, seeded.identity
        )));
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

/// A responder narrows the sender's send deny by hand while the account is cut (plain alerts must go
/// out, raw mail stays refused): restore leaves the policy as they wrote it, says so, and gives back
/// everything else the cuts took.
#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_a_send_deny_changed_after_the_cut_alone() {
    let emulator = Emulator::start();
    let seeded = seed(&emulator).await;
    let before = state(&emulator, &seeded).await;
    assert!(
        !before.contains_key(&format!("sender policy {SEND_DENY_POLICY}")),
        "{before:?}"
    );
    plan(&emulator);
    apply(&emulator);
    let by_hand = r#"{"Version":"2012-10-17","Statement":[{"Sid":"RawMailOnly","Effect":"Deny","Action":"ses:SendRawEmail","Resource":"*"}]}"#;
    aws_sdk_iam::Client::new(&emulator.sdk_config("us-east-1").await)
        .put_user_policy()
        .user_name(&seeded.sender_user)
        .policy_name(SEND_DENY_POLICY)
        .policy_document(by_hand)
        .send()
        .await
        .unwrap();

    let note = format!(
        "{SEND_DENY_POLICY} on IAM user {} was changed after the cut; left in place (delete it by hand if it should go)",
        seeded.sender_user
    );
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--lift-session-revocation")
        .assert()
        .success()
        .stderr(contains(format!("conflict: {note}")))
        .stdout(contains(format!(
            "  conflict: ses_send_deny/global/user/{}: {note}",
            seeded.sender_user
        )));
    // As before the cut, but for the responder's policy, which stays as they wrote it.
    let mut after = state(&emulator, &seeded).await;
    let kept = after
        .remove(&format!("sender policy {SEND_DENY_POLICY}"))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&kept).unwrap(),
        serde_json::from_str::<serde_json::Value>(by_hand).unwrap()
    );
    let names = after.remove("sender policy names").unwrap();
    let mut expected = before.clone();
    let names_before = expected.remove("sender policy names").unwrap();
    assert_eq!(after, expected);
    let mut names_expected: Vec<String> = serde_yaml::from_str(&names_before).unwrap();
    names_expected.push(SEND_DENY_POLICY.to_string());
    names_expected.sort();
    assert_eq!(names, format!("{names_expected:?}"));
}

/// Seeds `IDENTITY` as an email identity in `region` (the mail seed makes it in us-east-1 only).
pub async fn identity_in(emulator: &Emulator, region: &str) {
    aws_sdk_sesv2::Client::new(&emulator.sdk_config(region).await)
        .create_email_identity()
        .email_identity(mail::IDENTITY)
        .send()
        .await
        .unwrap();
}

/// `ses_sending_pause` alone, in both regions of the demo: where an identity exists SES could send, so
/// sending is paused there (SendEmail is then refused) and restore turns it back on; the region in the
/// sandbox with no identity is not proposed. Each region's whole SES account reads back as before.
#[tokio::test(flavor = "multi_thread")]
async fn ses_sending_is_paused_where_mail_could_be_sent_and_restore_resumes_it_exactly() {
    let emulator = Emulator::start();
    seed(&emulator).await;
    let regions = ["us-east-1", "eu-west-1"];
    let mut before = Vec::new();
    for region in regions {
        before.push(ses_account(&emulator, region).await);
    }
    assert_eq!(
        before[0], before[1],
        "a new account's default in every region"
    );
    assert!(
        before[0].starts_with("sending_enabled: true, production_access_enabled: false,"),
        "{before:?}"
    );
    assert_eq!(send_mail(&emulator, "us-east-1").await, Ok(()));

    emulator
        .plan("us-east-1,eu-west-1", "plans/p.yaml")
        .args(["--kinds", "ses_sending_pause"])
        .assert()
        .success()
        .stdout(contains("~ ses_sending_pause/us-east-1/ses-account\n"))
        .stdout(contains(
            "- sending_enabled: true\n+ sending_enabled: false",
        ))
        .stdout(contains(
            "SES sending is on in us-east-1 (1 email identities, sandbox)",
        ))
        .stdout(contains("ses_sending_pause/eu-west-1").not())
        .stdout(contains("pause it by hand").not());

    apply(&emulator);
    assert!(
        ses_account(&emulator, "us-east-1")
            .await
            .starts_with("sending_enabled: false,")
    );
    assert_eq!(
        ses_account(&emulator, "eu-west-1").await,
        before[1],
        "the region where nothing could be sent is left as it was"
    );
    assert_eq!(
        send_mail(&emulator, "us-east-1").await,
        Err("SendingPausedException".into()),
        "the pause stops mail from the account's identities"
    );

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains("SES sending turned back on in us-east-1"));
    for (region, before) in regions.iter().zip(&before) {
        assert_eq!(&ses_account(&emulator, region).await, before, "{region}");
    }
    assert_eq!(send_mail(&emulator, "us-east-1").await, Ok(()));
}

/// A responder turns SES sending back on while the account is cut (an urgent customer notice): restore
/// leaves it on as they set it and says so, in the region they changed; the other region's pause is
/// lifted as usual.
#[tokio::test(flavor = "multi_thread")]
async fn restore_leaves_ses_sending_turned_back_on_after_the_cut_alone() {
    let emulator = Emulator::start();
    seed(&emulator).await;
    identity_in(&emulator, "eu-west-1").await;
    let before = ses_account(&emulator, "eu-west-1").await;
    emulator
        .plan("us-east-1,eu-west-1", "plans/p.yaml")
        .args(["--kinds", "ses_sending_pause"])
        .assert()
        .success()
        .stdout(contains("~ ses_sending_pause/us-east-1/ses-account"))
        .stdout(contains("~ ses_sending_pause/eu-west-1/ses-account"));
    apply(&emulator);
    aws_sdk_sesv2::Client::new(&emulator.sdk_config("us-east-1").await)
        .put_account_sending_attributes()
        .sending_enabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(send_mail(&emulator, "us-east-1").await, Ok(()));
    let by_hand = ses_account(&emulator, "us-east-1").await;

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .success()
        .stderr(contains("SES sending already on in us-east-1"))
        .stderr(contains("SES sending turned back on in eu-west-1"))
        .stderr(contains("SES sending turned back on in us-east-1").not());
    assert_eq!(ses_account(&emulator, "us-east-1").await, by_hand);
    assert_eq!(ses_account(&emulator, "eu-west-1").await, before);
}
