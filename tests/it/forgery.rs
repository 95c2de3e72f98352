//! Files are not orders (issue 12): a rollback file edited, forged or planted by someone who can write
//! its directory, with its hash chain recomputed (plain SHA-256, which anyone can compute), is refused
//! before anything is changed, because it cannot carry the codes of the key kept outside it.

use std::fs;
use std::os::unix::fs::MetadataExt;

use predicates::prelude::*;
use predicates::str::contains;
use sha2::{Digest, Sha256};

use crate::emulator::Emulator;
use crate::leaky_account;
use crate::snapshot;

/// Rewrites every entry's `prev` so the SHA-256 chain is intact again, as an attacker would.
fn rechain(text: &str) -> String {
    let mut out = String::new();
    let mut prev = String::new();
    for line in text.lines() {
        let Some(json) = line.strip_prefix("- ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let mut record: serde_json::Value = serde_json::from_str(json).unwrap();
        record["prev"] = serde_json::Value::String(prev.clone());
        let line = format!("- {}", serde_json::to_string(&record).unwrap());
        prev = hex::encode(Sha256::digest(line.as_bytes()));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

async fn seeded() -> (Emulator, aws_sdk_ec2::Client) {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    leaky_account::seed(&config, &["us-east-1"]).await.unwrap();
    let ec2 = emulator.ec2("us-east-1").await;
    emulator.plan("us-east-1", "plans/p.yaml").assert().code(0);
    (emulator, ec2)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_undo_record_with_a_recomputed_chain_opens_nothing() {
    let (emulator, ec2) = seeded().await;
    emulator.apply("plans/p.yaml").assert().code(0);
    let cut = snapshot::security_groups(&ec2).await;
    let rollback = emulator.path("plans/p.rollback.yaml");
    let text = fs::read_to_string(&rollback).unwrap();
    // Widen what restore would open, then make the chain whole again.
    let forged =
        rechain(&text.replacen("\"cidr_ipv4\":\"0.0.0.0/0\"", "\"cidr_ipv6\":\"::/0\"", 1));
    assert_ne!(forged, text, "the sample has an IPv4 rule to widen");
    fs::write(&rollback, &forged).unwrap();

    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(1)
        .stderr(contains(
            "is not authenticated by the key this rollback file was written with",
        ));
    assert_eq!(
        snapshot::security_groups(&ec2).await,
        cut,
        "nothing was opened"
    );
    // `show` shows it, saying what restore does with it (no --force was given to show).
    emulator
        .hikkonuki()
        .args(["show", "plans/p.rollback.yaml"])
        .assert()
        .code(0)
        .stdout(contains(
            "(shown anyway; restore refuses this file without --force)",
        ))
        .stdout(contains("accepted because of --force").not());
}

/// A planted file carrying the plan's SHA-256 and a `done` for every cut used to make apply skip every
/// cut and report the account sealed.
#[tokio::test(flavor = "multi_thread")]
async fn a_planted_rollback_file_cannot_make_apply_skip_the_cuts() {
    let (emulator, ec2) = seeded().await;
    let original_gateways = snapshot::internet_gateways(&ec2).await;
    let plan_bytes = fs::read(emulator.path("plans/p.yaml")).unwrap();
    let plan: serde_yaml::Value = serde_yaml::from_slice(&plan_bytes).unwrap();
    let mut lines = vec![serde_json::json!({
        "seq": 0, "prev": "", "at": "2026-11-29T00:00:00Z", "entry": "header", "format": 2,
        "account": "123456789012", "caller": "arn:aws:iam::123456789012:user/moto",
        "plan": "plans/p.yaml", "plan_sha256": hex::encode(Sha256::digest(&plan_bytes)),
        "tool_version": "0.1.0", "key": "0123456789abcdef0123456789abcdef",
        "mac": "00".repeat(32),
    })];
    for cut in plan["cuts"].as_sequence().unwrap() {
        let seq = lines.len();
        lines.push(serde_json::json!({
            "seq": seq, "prev": "", "at": "2026-11-29T00:00:00Z", "entry": "done",
            "id": cut["id"].as_str().unwrap(), "undo": {}, "mac": "00".repeat(32),
        }));
    }
    let text: String = lines.iter().map(|line| format!("- {line}\n")).collect();
    fs::write(emulator.path("plans/p.rollback.yaml"), rechain(&text)).unwrap();

    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains("already exists and may hold the way back"))
        .stderr(contains("cannot be authenticated"));
    assert_eq!(snapshot::internet_gateways(&ec2).await, original_gateways);
}

/// A rollback file that another user owns may have been put there by them.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_file_owned_by_someone_else_is_refused_without_force() {
    let (emulator, ec2) = seeded().await;
    emulator.apply("plans/p.yaml").assert().code(0);
    let rollback = emulator.path("plans/p.rollback.yaml");
    // SAFETY: a valid path; the tests run as a user allowed to give files away (root) or are skipped.
    let name = std::ffi::CString::new(rollback.to_str().unwrap()).unwrap();
    if unsafe { libc::chown(name.as_ptr(), 65534, 65534) } != 0 {
        eprintln!("skipped: this user cannot give a file away (not root)");
        return;
    }
    assert_eq!(fs::metadata(&rollback).unwrap().uid(), 65534);
    let cut = snapshot::security_groups(&ec2).await;
    emulator
        .restore("plans/p.rollback.yaml")
        .assert()
        .code(1)
        .stderr(contains("is owned by user 65534, not by you"));
    assert_eq!(snapshot::security_groups(&ec2).await, cut);
    emulator
        .restore("plans/p.rollback.yaml")
        .arg("--force")
        .assert()
        .code(0)
        .stderr(contains("used anyway because of --force"));
}

/// An empty rollback file another user put where apply will journal (a shared directory): apply refuses
/// it before anything is cut, where it journaled the account's way back into that user's file.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_rollback_file_someone_else_put_there_is_refused_before_any_cut() {
    let (emulator, ec2) = seeded().await;
    let original = snapshot::security_groups(&ec2).await;
    let rollback = emulator.path("plans/p.rollback.yaml");
    fs::write(&rollback, "").unwrap();
    // SAFETY: a valid path; the tests run as a user allowed to give files away (root) or are skipped.
    let name = std::ffi::CString::new(rollback.to_str().unwrap()).unwrap();
    if unsafe { libc::chown(name.as_ptr(), 65534, 65534) } != 0 {
        eprintln!("skipped: this user cannot give a file away (not root)");
        return;
    }
    emulator
        .apply("plans/p.yaml")
        .assert()
        .code(1)
        .stderr(contains("is owned by user 65534, not by you"));
    assert_eq!(snapshot::security_groups(&ec2).await, original);
    assert_eq!(
        fs::read(&rollback).unwrap(),
        b"",
        "nothing journaled into it"
    );
}

/// Issue 12: an `after` edited in the plan was obeyed: an `sg_revoke` whose `after` equalled `before` made
/// no call and was reported done, a `nacl_deny` whose `after` held an allow opened the ACL. Apply derives
/// each cut's effect from the live account and refuses, naming the cut and the field.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_after_is_refused_before_anything_is_cut() {
    let (emulator, ec2) = seeded().await;
    let original = snapshot::security_groups(&ec2).await;
    let path = emulator.path("plans/p.yaml");
    let mut plan: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let mut edited = Vec::new();
    for cut in plan["cuts"].as_sequence_mut().unwrap() {
        let kind = cut["kind"].as_str().unwrap().to_string();
        if edited.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        if kind == "sg_revoke" {
            // Revoke nothing, and report it done.
            cut["after"] = cut["before"].clone();
        } else if kind == "nacl_deny" {
            // The first deny entry the cut adds becomes an allow.
            let entries = cut["after"]["entries"].as_sequence_mut().unwrap();
            let added = entries
                .iter_mut()
                .find(|entry| {
                    entry["action"].as_str() == Some("deny")
                        && entry["rule_number"].as_u64() < Some(100)
                })
                .unwrap();
            added["action"] = "allow".into();
        } else {
            continue;
        }
        edited.push((kind, cut["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(edited.len(), 2, "the seeded account has both kinds");
    fs::write(&path, serde_yaml::to_string(&plan).unwrap()).unwrap();

    // The check before apply finds what apply would refuse (it said "0 problem(s)").
    let check = emulator
        .hikkonuki()
        .args(["apply", "plans/p.yaml", "--check"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&check.get_output().stdout).into_owned();
    for (_, id) in &edited {
        assert!(
            stdout.contains(&format!("EDITED     {id}: `after.")),
            "{id} is named: {stdout}"
        );
    }
    assert!(!emulator.path("plans/p.rollback.yaml").exists());

    let assert = emulator.apply("plans/p.yaml").assert().code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("2 cut(s) would not do what the kind derives"),
        "{stderr}"
    );
    for (_, id) in &edited {
        assert!(
            stderr.contains(&format!("  {id}: `after.")),
            "{id} is named: {stderr}"
        );
    }
    assert!(
        stderr.contains("the plan was edited somewhere other than `enabled`"),
        "{stderr}"
    );
    assert_eq!(
        snapshot::security_groups(&ec2).await,
        original,
        "nothing was cut"
    );
    assert!(!emulator.path("plans/p.rollback.yaml").exists());
}
