//! Crash safety, proven with SIGKILL: hikkonuki is killed at the worst moment — right after AWS has made a
//! change and before hikkonuki hears back, so the cut (or its undo) happened but its completion was never
//! journaled — after each of its first mutating calls in turn, and restore must still give the account back
//! exactly.
//!
//! The kill comes from a small HTTP/1.1 proxy between hikkonuki and the emulator: it forwards every request,
//! counts the mutating AWS calls, and when the N-th one's response has come back from the emulator it
//! SIGKILLs the child instead of relaying that response. Killing from the proxy, rather than after a timer,
//! makes every kill point exact and repeatable.
//!
//! - `kill_proxy`: the proxy, and running hikkonuki through it.
//! - `snapshot`: the account's state, as compared before the cut and after restore.
//! - `block_public_access`: the regional switches killed after each of their calls in apply and restore.
//! - `mail`, `identity`: `ses_sending_pause` and `iam_service_credential_deactivate` killed after their
//!   first and last call in apply and restore.
//! - `organization_policies`: the organization policies killed after each of their calls in apply and restore.
//! - `evidence`: the evidence phase killed after each of its calls in apply, then `restore --stop-evidence`.
//! - `watch`: `watch --recut` killed after each of its calls, then restore.
//! - `security_groups`: `sg_revoke` killed between a group's inbound and outbound revokes, then apply run
//!   again: the rest is revoked where it stopped.
//! - here: the kill points, seeding and planning a scenario, and the tests.

mod block_public_access;
mod cloudfront;
mod evidence;
mod gateways;
mod identity;
mod identity_center;
mod kill_proxy;
mod mail;
mod managed_policy;
mod organization;
mod organization_policies;
mod refused;
mod resource_policy;
mod security_groups;
mod snapshot;
mod trust;
mod watch;

use std::io::{Read as _, Write as _};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use predicates::str::contains;

use crate::emulator::Emulator;
use crate::leaky_account;
use kill_proxy::{Call, run_through_proxy, run_through_proxy_signalling, run_through_proxy_timed};
use snapshot::{account_state, assert_same_account};

const REGION: &str = "us-east-1";

/// Which mutating calls to kill after, given the calls an uncut run makes, in order, and the kind of cut
/// each belongs to ([`kinds_of_calls`]). Killing after every call of the leaky account's apply (32 calls, a
/// few seconds each for a re-seed, a plan, a killed run and a restore on two shared cores) would take
/// minutes, so by default the kill points are the first two calls, the first and last call of each
/// distinct AWS action, and the first and last call of each kind: a kill inside every phase and at both
/// ends of every kind's cuts, even where kinds share an action (a user policy, a stage's PATCH), and at
/// both ends of each run of like calls. Set `HIKKONUKI_CRASH_EVERY_CALL=1` to kill after every call
/// instead.
fn kill_points(calls: &[String], kinds: &[String]) -> Vec<usize> {
    if std::env::var_os("HIKKONUKI_CRASH_EVERY_CALL").is_some() {
        return (1..=calls.len()).collect();
    }
    let mut points: Vec<usize> = vec![1, 2];
    for list in [calls, kinds] {
        for name in list {
            let first = list.iter().position(|c| c == name).unwrap() + 1;
            let last = list.iter().rposition(|c| c == name).unwrap() + 1;
            points.extend([first, last]);
        }
    }
    points.retain(|&n| n <= calls.len());
    points.sort();
    points.dedup();
    points
}

/// Which intents a run journals before its calls: apply's (and `watch --recut`'s) or restore's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Journaled {
    Intents,
    RestoreIntents,
}

/// The kind of cut each of a run's mutating calls belongs to, read from the rollback file the run wrote.
/// The run takes one cut at a time (`--parallelism 1`) and journals each cut's intent (apply) or restore
/// intent (restore) before its first call, so a call belongs to the cut whose intent of that sort was
/// written last before the call reached the proxy. Every call must have one (a restore's calls are never
/// credited to apply's intents, which the same file holds).
fn kinds_of_calls(
    emulator: &Emulator,
    rollback: &str,
    calls: &[Call],
    journaled: Journaled,
) -> Vec<String> {
    use hikkonuki::journal::Entry;
    use time::format_description::well_known::Rfc3339;

    let (contents, _) =
        hikkonuki::journal::read_path(&emulator.path(rollback), &emulator.rollback_keys(), false)
            .unwrap_or_else(|err| panic!("{rollback}: {err}"));
    let intents: Vec<(std::time::SystemTime, String)> = contents
        .records
        .iter()
        .filter_map(|record| {
            let kind = match (&record.entry, journaled) {
                (Entry::Intent { cut }, Journaled::Intents) => cut.kind.clone(),
                (Entry::RestoreIntent { id }, Journaled::RestoreIntents) => {
                    id.split('/').next()?.to_string()
                }
                _ => return None,
            };
            let at = time::OffsetDateTime::parse(&record.at, &Rfc3339)
                .unwrap_or_else(|err| panic!("{rollback}: `at` {}: {err}", record.at));
            Some((at.into(), kind))
        })
        .collect();
    calls
        .iter()
        .map(|call| {
            intents
                .iter()
                .rev()
                .find(|(at, _)| *at <= call.at)
                .map(|(_, kind)| kind.clone())
                .unwrap_or_else(|| {
                    panic!("{rollback}: no intent was journaled before {call:?}: {intents:?}")
                })
        })
        .collect()
}

/// The calls that reached the emulator when a run was killed after its `n`-th: exactly `n`, or more only
/// when the `n`-th belongs to a wave of like calls one cut sends at once (`--parallelism 1` runs one cut
/// at a time; a network ACL's allows, then its denies, go out together), whose rest was already in
/// flight. Never a call of another action: the kill point is still one exact moment of the run.
fn assert_killed_at(seen: &[String], n: usize, what: &str) {
    assert!(
        seen.len() >= n,
        "{what}: only {} calls reached the emulator: {seen:?}",
        seen.len()
    );
    assert!(
        seen[n..].iter().all(|call| *call == seen[n - 1]),
        "{what}: after the kill point only the rest of its wave may have been in flight: {seen:?}"
    );
}

/// What a crash test seeds, cuts and compares.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// The leaky account's network and database in one region.
    Network,
    /// Everything but the network: IAM users with keys and a CodeCommit HTTPS Git password, the mail side
    /// (SES identity policy, a sender, the region's SES sending, the S3 account block), a Lambda function with a public URL and permissions, a public REST API and a
    /// CloudFront distribution, including kinds whose cuts take several calls (a policy, then a
    /// deployment, then each stage).
    IdentityMailServerlessAndEdge,
    /// Data shared out of the account: snapshots, an AMI, RDS DB and cluster snapshots and an SSM
    /// document (`sharing_revoke`).
    Sharing,
}

impl Scenario {
    /// The kinds the scenario's plan cuts. Its crash tests kill apply and restore at both ends of each
    /// kind's calls, and their uncut runs check that each of these kinds is journaled and makes a call, so
    /// a kind that drops out of the seed fails here instead of going unkilled.
    fn kinds(self) -> &'static [&'static str] {
        match self {
            Scenario::Network => &[
                "evidence_trail_on",
                "evidence_flow_logs",
                "vpc_block_public_access",
                "nacl_deny",
                "route_remove",
                "vgw_detach",
                "sg_revoke",
                "vpce_policy_deny",
                "rds_public_off",
                "s3_public_access_block",
                "snapshot_block_public_access",
                "image_block_public_access",
            ],
            Scenario::IdentityMailServerlessAndEdge => &[
                "iam_key_deactivate",
                "iam_ssh_key_deactivate",
                "iam_service_credential_deactivate",
                "iam_session_revoke",
                "ses_send_deny",
                "ses_identity_policy_remove",
                "ses_sending_pause",
                "lambda_throttle",
                "lambda_url_restrict",
                "lambda_permission_remove",
                "apigw_stage_throttle",
                "apigw_deny_policy",
                "cloudfront_disable",
            ],
            Scenario::Sharing => &["sharing_revoke"],
        }
    }
}

/// Every kind a crash scenario above kills.
pub fn killed_in_scenarios() -> impl Iterator<Item = &'static str> {
    [
        Scenario::Network,
        Scenario::IdentityMailServerlessAndEdge,
        Scenario::Sharing,
    ]
    .into_iter()
    .flat_map(|scenario| scenario.kinds().iter().copied())
}

/// Kinds killed by a crash test of their own (seeded apart from the scenarios), and that test.
pub const KILLED_BY_A_TEST_OF_THEIR_OWN: &[(&str, &str)] = &[
    (
        "igw_detach",
        "igw_detach_apply_and_restore_killed_after_first_and_last_call_give_back_every_gateway",
    ),
    (
        "cloudfront_maintenance",
        "cloudfront_maintenance_killed_after_its_first_and_last_write_is_given_back_exactly",
    ),
    (
        "iam_trust_deny",
        "trust_deny_apply_and_restore_killed_after_first_and_last_write_give_back_the_trust",
    ),
    (
        "identity_center_session_revoke",
        "identity_center_apply_or_restore_killed_after_its_first_and_last_write_then_restore_gives_back_the_permission_sets",
    ),
    (
        "org_quarantine",
        "organization_policies_killed_after_each_of_their_calls_are_given_back_exactly",
    ),
    (
        "org_resource_perimeter",
        "organization_policies_killed_after_each_of_their_calls_are_given_back_exactly",
    ),
    (
        "resource_policy_deny",
        "resource_policy_cuts_killed_after_the_first_and_last_write_are_restored_exactly",
    ),
    (
        "evidence_snapshots",
        "evidence_apply_killed_after_each_of_its_calls_then_stop_evidence_gives_back_the_account",
    ),
];

/// Kinds no crash test kills, and why.
pub const NOT_KILLED: &[(&str, &str)] = &[
    (
        "vpce_delete",
        "irreversible and off by default: restore cannot give the endpoint back, so there is no exact account to compare after a kill",
    ),
    (
        "ecr_public_delete",
        "irreversible and off by default, and the emulator has no ECR Public",
    ),
];

/// Fails naming the kinds `scenario` should have cut but the uncut run journaled no call of.
fn assert_every_kind_made_a_call(scenario: Scenario, kinds: &[String], what: &str) {
    let missing: Vec<&str> = scenario
        .kinds()
        .iter()
        .copied()
        .filter(|kind| !kinds.iter().any(|k| k == kind))
        .collect();
    assert!(
        missing.is_empty(),
        "{what} of {scenario:?} made no call for {missing:?}, so its crash test kills none of them: the calls were of {kinds:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// Driving hikkonuki
// ---------------------------------------------------------------------------------------------------------

/// Clears the emulator (every account, region and service), so each kill point starts from a fresh seed.
fn reset(emulator: &Emulator) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", emulator.port)).unwrap();
    stream
        .write_all(
            b"POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Re-seeds the leaky account into an emptied emulator and plans its cut-off as `plans/{name}.yaml`.
/// Returns the account's state as seeded.
async fn seed_and_plan(emulator: &Emulator, name: &str) -> String {
    seed_scenario_and_plan(emulator, Scenario::Network, name).await
}

async fn seed_scenario_and_plan(emulator: &Emulator, scenario: Scenario, name: &str) -> String {
    reset(emulator);
    let config = emulator.sdk_config(REGION).await;
    match scenario {
        Scenario::Network => {
            leaky_account::seed(&config, &[REGION])
                .await
                .expect("seeding the leaky account");
        }
        Scenario::IdentityMailServerlessAndEdge => {
            leaky_account::identity::seed(&config)
                .await
                .expect("seeding IAM");
            leaky_account::mail::seed(&config)
                .await
                .expect("seeding the mail side");
            leaky_account::serverless::seed(&config)
                .await
                .expect("seeding Lambda");
            leaky_account::api::seed(&config)
                .await
                .expect("seeding API Gateway");
            leaky_account::edge::seed(&config)
                .await
                .expect("seeding CloudFront");
        }
        Scenario::Sharing => {
            leaky_account::sharing::seed(&config)
                .await
                .expect("seeding the shared data");
            crate::sharing::seed_cluster_snapshot(&config).await;
        }
    }
    let original = account_state(emulator, scenario).await;
    emulator
        .plan(REGION, &format!("plans/{name}.yaml"))
        .assert()
        .code(0);
    original
}
fn assert_killed(status: ExitStatus, what: &str, output: &str) {
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{what} was killed by SIGKILL, not {status:?}; its output:\n{output}"
    );
}

/// Runs restore straight against the emulator; returns its standard output. Session revocations are
/// lifted too (the serverless scenario's Lambda role gets one), and the evidence phase's trail and flow
/// logs stopped, so the whole account can be compared.
fn restore_directly(emulator: &Emulator, rollback: &str, what: &str) -> String {
    let output = emulator
        .restore(rollback)
        .args(["--lift-session-revocation", "--stop-evidence"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what}: restore failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The 1-based positions, among a run's mutating calls, of the first and the last call of each of
/// `actions`, in order: where a crash test kills the run.
fn first_and_last(calls: &[String], actions: &[&str]) -> Vec<usize> {
    let mut points = Vec::new();
    for action in actions {
        if let Some(first) = calls.iter().position(|c| c == action) {
            let last = calls.iter().rposition(|c| c == action).unwrap();
            points.extend([first + 1, last + 1]);
        }
    }
    points.sort();
    points.dedup();
    assert!(
        !points.is_empty(),
        "the run makes none of {actions:?}: {calls:?}"
    );
    points
}

/// What a killed run was (for messages), and the mutating calls that reached the emulator.
struct Killed {
    what: String,
    seen: Vec<String>,
}

/// `apply plans/{name}.yaml` killed after mutating call `n`, then restore run straight after it. The
/// restore must know the last cut's completion was never recorded (checked here).
fn apply_killed_then_restored(emulator: &Emulator, name: &str, n: usize) -> Killed {
    let (status, seen, output) = kill_proxy::run_through_proxy(
        emulator,
        &["apply", &format!("plans/{name}.yaml"), "--yes"],
        Some(n),
        &format!("{name}.apply.log"),
    );
    let what = format!(
        "apply killed after mutating call {n} ({})",
        seen.last().map_or("none", String::as_str)
    );
    assert_killed(status, &what, &output);
    let rollback = format!("plans/{name}.rollback.yaml");
    let journal = rollback_file(emulator, &rollback);
    let restored = restore_directly(emulator, &rollback, &what);
    assert!(
        restored.contains("its completion was not recorded"),
        "{what}: restore knows it is unsure\n{restored}\n{journal}"
    );
    Killed { what, seen }
}

/// `plans/{name}.yaml` applied whole, then `restore` (with `flags`) killed after mutating call `k`, then
/// restore run again straight after it.
fn restore_killed_then_restored(
    emulator: &Emulator,
    name: &str,
    k: usize,
    flags: &[&str],
) -> Killed {
    emulator
        .apply(&format!("plans/{name}.yaml"))
        .assert()
        .code(0);
    let rollback = format!("plans/{name}.rollback.yaml");
    let mut args = vec!["restore", rollback.as_str(), "--yes"];
    args.extend_from_slice(flags);
    let (status, seen, output) =
        kill_proxy::run_through_proxy(emulator, &args, Some(k), &format!("{name}.restore.log"));
    let what = format!(
        "restore killed after mutating call {k} ({})",
        seen.last().map_or("none", String::as_str)
    );
    assert_killed(status, &what, &output);
    restore_directly(emulator, &rollback, &what);
    Killed { what, seen }
}

fn rollback_file(emulator: &Emulator, rollback: &str) -> String {
    std::fs::read_to_string(emulator.path(rollback)).unwrap_or_else(|e| format!("({e})"))
}

// ---------------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------------

/// Kills apply after each chosen mutating call in turn (see [`kill_points`]), each time on a fresh seed,
/// then restores and compares the whole scenario with what was seeded.
async fn kill_apply_at_each_point_then_restore(scenario: Scenario) {
    kill_at_each_point_then_restore(
        KilledCommand {
            what: "apply",
            prefix: "p",
            scenario,
            args: |name| vec!["apply".into(), format!("plans/{name}.yaml"), "--yes".into()],
            cuts_every_kind: true,
        },
        &move |emulator, name| {
            Box::pin(async move { seed_scenario_and_plan(emulator, scenario, &name).await })
        },
    )
    .await;
}

/// A command run through the kill proxy, killed after each kill point, then restored.
struct KilledCommand {
    /// The command as the failures name it: `apply`, `watch --recut`.
    what: &'static str,
    /// Each kill point's run is named `{prefix}{n}`: its plan is `plans/{name}.yaml`, its rollback file
    /// `plans/{name}.rollback.yaml`.
    prefix: &'static str,
    /// Whose state is compared.
    scenario: Scenario,
    /// The command's arguments for the run named `name`.
    args: fn(&str) -> Vec<String>,
    /// Whether every kind of the scenario must make a call in the uncut run (apply: yes; a `watch
    /// --recut` re-cuts only what was reopened).
    cuts_every_kind: bool,
}

/// Makes the account ready for one run of the command, named as given; returns the account as seeded.
type Prepare = dyn for<'e> Fn(
    &'e Emulator,
    String,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + 'e>>;

/// The account's state as a crash test compares it.
type StateOf = dyn for<'e> Fn(
    &'e Emulator,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + 'e>>;

/// `apply plans/full.yaml` uncut through the proxy, which must succeed: the mutating calls it made.
fn uncut_apply(emulator: &Emulator) -> Vec<String> {
    let (status, calls, output) = run_through_proxy(
        emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    calls
}

/// `restore plans/full.rollback.yaml` (with `flags`) uncut through the proxy, which must succeed: the
/// mutating calls it made.
fn uncut_restore(emulator: &Emulator, flags: &[&str]) -> Vec<String> {
    let mut args = vec!["restore", "plans/full.rollback.yaml", "--yes"];
    args.extend_from_slice(flags);
    let (status, calls, output) = run_through_proxy(emulator, &args, None, "full.restore.log");
    assert!(status.success(), "an uncut restore succeeds:\n{output}");
    calls
}

/// A run's mutating calls, uncut, and the writes among them a crash test kills after.
struct Writes<'a> {
    calls: &'a [String],
    of: &'a [&'a str],
}

/// The kill points of a kind's crash test seeded apart, once its uncut runs have given the calls: apply
/// killed after the first and last of `apply.of`, then restore (with `restore_flags`) after the first and
/// last of `restore.of`, each on a fresh seed from `prepare` (which plans `plans/{name}.yaml`). Each kill
/// must land on one of those writes, and after the follow-up restore `state` must read as the seed did.
async fn kill_apply_and_restore_at_both_ends(
    emulator: &Emulator,
    apply: Writes<'_>,
    restore: Writes<'_>,
    restore_flags: &[&str],
    prepare: &Prepare,
    state: &StateOf,
) {
    for n in first_and_last(apply.calls, apply.of) {
        let name = format!("a{n}");
        let original = prepare(emulator, name.clone()).await;
        let killed = apply_killed_then_restored(emulator, &name, n);
        let what = &killed.what;
        assert!(
            killed
                .seen
                .last()
                .is_some_and(|call| apply.of.contains(&call.as_str())),
            "{what}"
        );
        assert_eq!(state(emulator).await, original, "{what}, then restore");
    }
    for k in first_and_last(restore.calls, restore.of) {
        let name = format!("r{k}");
        let original = prepare(emulator, name.clone()).await;
        let killed = restore_killed_then_restored(emulator, &name, k, restore_flags);
        let what = &killed.what;
        assert!(
            killed
                .seen
                .last()
                .is_some_and(|call| restore.of.contains(&call.as_str())),
            "{what}"
        );
        assert_eq!(
            state(emulator).await,
            original,
            "{what}, then restore again"
        );
    }
}

/// The command once uncut through the proxy (it is transparent; this is the calls a full run makes, and
/// restore gives the account back), then killed right after each kill point's mutating call, each time on
/// a freshly prepared account: restore, run at once on the killed run's rollback file, must know the call
/// in flight is unsure and give back exactly the account as seeded.
async fn kill_at_each_point_then_restore(command: KilledCommand, prepare: &Prepare) {
    let KilledCommand {
        what,
        prefix,
        scenario,
        args,
        cuts_every_kind,
    } = command;
    let emulator = Emulator::start();

    let original = prepare(&emulator, "full".into()).await;
    let full_args = args("full");
    let full_args: Vec<&str> = full_args.iter().map(String::as_str).collect();
    let (status, calls, output) = run_through_proxy_timed(
        &emulator,
        &full_args,
        None,
        &format!("full.{}.log", full_args[0]),
    );
    assert!(status.success(), "an uncut {what} succeeds:\n{output}");
    let kinds = kinds_of_calls(
        &emulator,
        "plans/full.rollback.yaml",
        &calls,
        Journaled::Intents,
    );
    if cuts_every_kind {
        assert_every_kind_made_a_call(scenario, &kinds, &format!("an uncut {what}"));
    }
    let calls: Vec<String> = calls.into_iter().map(|call| call.action).collect();
    assert!(
        calls.len() >= 2,
        "an uncut {what} makes several mutating calls: {calls:?}"
    );
    restore_directly(
        &emulator,
        "plans/full.rollback.yaml",
        &format!("uncut {what}"),
    );
    assert_same_account(
        &original,
        &account_state(&emulator, scenario).await,
        &format!("uncut {what} + restore"),
    );
    eprintln!("{what} makes {} mutating calls: {calls:?}", calls.len());
    eprintln!("of the kinds {kinds:?}");

    let points = kill_points(&calls, &kinds);
    eprintln!("killing {what} after mutating calls {points:?}");
    for n in points {
        let name = format!("{prefix}{n}");
        let rollback = format!("plans/{name}.rollback.yaml");
        let original = prepare(&emulator, name.clone()).await;
        let run_args = args(&name);
        let run_args: Vec<&str> = run_args.iter().map(String::as_str).collect();
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &run_args,
            Some(n),
            &format!("{name}.{}.log", run_args[0]),
        );
        let killed = format!(
            "{what} killed after mutating call {n} ({})",
            seen.get(n - 1).map(String::as_str).unwrap_or("?")
        );
        assert_killed(status, &killed, &output);
        assert_killed_at(&seen, n, &killed);
        let journal = rollback_file(&emulator, &rollback);

        // The kernel released the killed run's lock: restore runs at once, with no manual step.
        let stdout = restore_directly(&emulator, &rollback, &killed);
        // The kill came between the call and its journaled completion: restore must know it is unsure.
        assert!(
            stdout.contains("its completion was not recorded"),
            "{killed}: the call in flight has an intent and no completion\n{stdout}"
        );
        let now = account_state(&emulator, scenario).await;
        if now != original {
            eprintln!("{killed}: the rollback file as the killed run left it:\n{journal}");
        }
        assert_same_account(&original, &now, &killed);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_killed_after_each_of_the_first_n_calls_then_restore_gives_back_the_account() {
    kill_apply_at_each_point_then_restore(Scenario::Network).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_mail_serverless_and_edge_apply_killed_after_each_call_then_restore_gives_them_back()
 {
    kill_apply_at_each_point_then_restore(Scenario::IdentityMailServerlessAndEdge).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sharing_apply_killed_after_each_call_then_restore_shares_everything_again_exactly() {
    kill_apply_at_each_point_then_restore(Scenario::Sharing).await;
}

/// Restore's flags in these tests: session revocations are lifted and the evidence stopped, so the whole
/// account comes back and every undo is killed somewhere.
const RESTORE_ALL: [&str; 2] = ["--lift-session-revocation", "--stop-evidence"];

/// Applies the scenario's plan whole, then kills restore after each chosen mutating call in turn (see
/// [`kill_points`]), each time on a fresh seed; restore run again must finish the job and give back
/// exactly the account as seeded. The last kill point is the last call: its undo is done but not
/// journaled, so the second run meets a cut already given back.
async fn kill_restore_at_each_point_then_restore(scenario: Scenario) {
    let emulator = Emulator::start();

    // An uncut restore through the proxy: the calls a full restore makes.
    let original = seed_scenario_and_plan(&emulator, scenario, "full").await;
    emulator.apply("plans/full.yaml").assert().code(0);
    let mut args = vec!["restore", "plans/full.rollback.yaml", "--yes"];
    args.extend(RESTORE_ALL);
    let (status, calls, output) =
        run_through_proxy_timed(&emulator, &args, None, "full.restore.log");
    assert!(status.success(), "an uncut restore succeeds:\n{output}");
    assert_same_account(
        &original,
        &account_state(&emulator, scenario).await,
        "uncut restore through the proxy",
    );
    let kinds = kinds_of_calls(
        &emulator,
        "plans/full.rollback.yaml",
        &calls,
        Journaled::RestoreIntents,
    );
    assert_every_kind_made_a_call(scenario, &kinds, "an uncut restore");
    let calls: Vec<String> = calls.into_iter().map(|call| call.action).collect();
    let total = calls.len();
    assert!(
        total >= 2,
        "a full restore makes several mutating calls: {calls:?}"
    );
    eprintln!("a full restore makes {total} mutating calls: {calls:?}\nof the kinds {kinds:?}");

    let points = kill_points(&calls, &kinds);
    eprintln!("killing restore after mutating calls {points:?}");
    for k in points {
        let name = format!("r{k}");
        let rollback = format!("plans/{name}.rollback.yaml");
        let original = seed_scenario_and_plan(&emulator, scenario, &name).await;
        emulator
            .apply(&format!("plans/{name}.yaml"))
            .assert()
            .code(0);
        let mut args = vec!["restore", rollback.as_str(), "--yes"];
        args.extend(RESTORE_ALL);
        let (status, seen, output) =
            run_through_proxy(&emulator, &args, Some(k), &format!("{name}.restore.log"));
        let what = format!(
            "restore killed after mutating call {k} of {total} ({}, {})",
            seen.get(k - 1).map(String::as_str).unwrap_or("?"),
            kinds[k - 1]
        );
        assert_killed(status, &what, &output);
        assert_killed_at(&seen, k, &what);
        let journal = rollback_file(&emulator, &rollback);

        // The kernel released the killed run's lock: restore runs at once, with no manual step.
        restore_directly(&emulator, &rollback, &what);
        let now = account_state(&emulator, scenario).await;
        if now != original {
            eprintln!("{what}: the rollback file as the killed restore left it:\n{journal}");
        }
        assert_same_account(&original, &now, &what);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_killed_midway_then_run_again_finishes_the_job() {
    kill_restore_at_each_point_then_restore(Scenario::Network).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_mail_serverless_and_edge_restore_killed_after_each_call_then_run_again_finishes()
{
    kill_restore_at_each_point_then_restore(Scenario::IdentityMailServerlessAndEdge).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sharing_restore_killed_after_each_call_then_run_again_shares_everything_again_exactly() {
    kill_restore_at_each_point_then_restore(Scenario::Sharing).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_killed_midway_then_run_again_resumes_and_restore_gives_back_the_account() {
    let emulator = Emulator::start();
    let original = seed_and_plan(&emulator, "resume").await;
    let (status, seen, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/resume.yaml", "--yes"],
        Some(3),
        "resume.apply.log",
    );
    assert_killed(status, "apply killed after mutating call 3", &output);
    assert_eq!(seen.len(), 3);
    // No lock to remove by hand: the kernel released it with the killed process.

    // The same apply again: it resumes; the cut in flight (a NACL cut makes one call per entry, so it was
    // left half-done) is rewound and cut again, and the rest proceeds.
    emulator
        .apply("plans/resume.yaml")
        .assert()
        .code(0)
        .stdout(contains(
            "Resuming the apply recorded in plans/resume.rollback.yaml",
        ))
        .stdout(contains(" 0 failed, "));
    // Nothing is left to cut: a fresh plan proposes only the cuts that stay disabled.
    emulator
        .plan("us-east-1", "plans/after.yaml")
        .assert()
        .code(0);
    let after: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/after.yaml")).unwrap())
            .unwrap();
    let still_enabled: Vec<&str> = after["cuts"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|cut| cut["enabled"].as_bool() == Some(true))
        .map(|cut| cut["id"].as_str().unwrap())
        .collect();
    assert!(
        still_enabled.is_empty(),
        "everything enabled was cut by the resumed apply, yet a new plan proposes {still_enabled:?}"
    );

    restore_directly(&emulator, "plans/resume.rollback.yaml", "resumed apply");
    assert_same_account(
        &original,
        &account_state(&emulator, Scenario::Network).await,
        "resumed apply + restore",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_apply_after_the_call_in_flight_with_the_rollback_file_complete() {
    let emulator = Emulator::start();
    let original = seed_and_plan(&emulator, "sigint").await;
    let (status, _, output) = run_through_proxy_signalling(
        &emulator,
        &["apply", "plans/sigint.yaml", "--yes"],
        Some(2),
        libc::SIGINT,
        "sigint.apply.log",
    );
    assert_eq!(
        status.code(),
        Some(1),
        "an interrupted apply exits 1:\n{output}"
    );
    assert!(
        output.contains("interrupted: stopping after the call in flight"),
        "{output}"
    );
    assert!(output.contains("Stopped early: "), "{output}");
    assert!(
        output.contains("The rollback file is complete."),
        "{output}"
    );
    let rollback = std::fs::File::open(emulator.path("plans/sigint.rollback.yaml")).unwrap();
    rollback
        .try_lock()
        .expect("a clean stop releases its lock on the rollback file");
    drop(rollback);
    let (contents, warnings) = hikkonuki::journal::read_path(
        &emulator.path("plans/sigint.rollback.yaml"),
        &emulator.rollback_keys(),
        false,
    )
    .unwrap();
    assert!(warnings.is_empty(), "no torn entry: {warnings:?}");
    let intents = contents
        .records
        .iter()
        .filter(|r| matches!(r.entry, hikkonuki::journal::Entry::Intent { .. }))
        .count();
    let completions = contents
        .records
        .iter()
        .filter(|r| matches!(r.entry, hikkonuki::journal::Entry::Done { .. }))
        .count();
    assert_eq!(
        intents, completions,
        "every cut started was finished and recorded"
    );

    emulator
        .apply("plans/sigint.yaml")
        .assert()
        .code(0)
        .stdout(contains("Resuming the apply"));
    restore_directly(&emulator, "plans/sigint.rollback.yaml", "interrupted apply");
    assert_same_account(
        &original,
        &account_state(&emulator, Scenario::Network).await,
        "interrupted apply, resumed, then restored",
    );
}
