//! The command-line contract where no AWS call is needed: usage, exit codes, and refusals of bad input
//! that happen before anything reaches the account.

use std::path::PathBuf;

use predicates::prelude::*;
use predicates::str::contains;

fn example_plan() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plans/example.yaml")
}

/// The binary with no AWS endpoint that could answer: anything that reached AWS would fail differently.
fn hikkonuki() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("hikkonuki").unwrap();
    cmd.env_clear()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Where the tests run is not where the runs they start run (an ECS task of CI's).
        .env_remove("ECS_CONTAINER_METADATA_URI_V4")
        .env("AWS_MAX_ATTEMPTS", "1");
    cmd
}

fn edited_example(dir: &tempfile::TempDir, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(example_plan()).unwrap();
    let path = dir.path().join("edited.yaml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

#[test]
fn version_and_help_exit_0() {
    hikkonuki()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(contains("hikkonuki"));
    hikkonuki().arg("--help").assert().code(0).stdout(contains(
        "Exit codes: 0 success, 1 error or refusal, 2 enabled cuts proposed",
    ));
}

#[test]
fn a_usage_error_exits_1_because_2_means_cuts_proposed() {
    hikkonuki()
        .args(["plan", "--no-such-flag"])
        .assert()
        .code(1);
    // The endpoint the environment names is no flag the operator gave: the usage line leaves it out.
    hikkonuki()
        .arg("apply")
        .assert()
        .code(1)
        .stderr(contains("Usage: hikkonuki apply <PLAN>"))
        .stderr(contains("--endpoint-url").not());
}

#[test]
fn the_example_plan_renders_as_text_and_json() {
    hikkonuki()
        .args(["show", example_plan().to_str().unwrap()])
        .assert()
        .code(0)
        .stdout(contains("~ sg_revoke/us-east-1/"))
        .stdout(contains("Cuts per kind and region"))
        .stdout(contains("--- before").not())
        .stdout(contains("Plan: "));
    hikkonuki()
        .args(["show", example_plan().to_str().unwrap(), "--diff"])
        .assert()
        .code(0)
        .stdout(contains("--- before\n+++ after\n@@ -"));
    let out = hikkonuki()
        .args(["show", example_plan().to_str().unwrap(), "--format", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(plan["version"], 1);
    // A script asking for JSON the usual way gets the same document, not text.
    let asked = hikkonuki()
        .args(["--output", "json", "show", example_plan().to_str().unwrap()])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        asked, out,
        "--output json shows the document as --format json does"
    );
    let kinds: std::collections::BTreeSet<&str> = plan["cuts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "nacl_deny",
        "route_remove",
        "igw_detach",
        "vgw_detach",
        "sg_revoke",
        "vpce_policy_deny",
        "vpce_delete",
        "rds_public_off",
    ] {
        assert!(kinds.contains(kind), "the example plan shows {kind}");
    }
}

#[test]
fn apply_of_a_missing_plan_names_the_file() {
    hikkonuki()
        .args(["apply", "/nonexistent/plan.yaml", "--yes"])
        .assert()
        .code(1)
        .stderr(contains("/nonexistent/plan.yaml: (file): cannot be read"));
}

/// An `AWS_ENDPOINT_URL` that is not UTF-8 is refused, naming the variable, before anything is read
/// or written: taken as unset, the run would go to AWS itself instead of the endpoint meant.
#[test]
fn an_endpoint_variable_that_is_not_utf8_is_refused_not_taken_as_unset() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    hikkonuki()
        .current_dir(dir.path())
        .env(
            "AWS_ENDPOINT_URL",
            std::ffi::OsStr::from_bytes(b"http://127.0.0.1:9\xff"),
        )
        .args(["plan", "--out", "plan.yaml"])
        .assert()
        .code(1)
        .stderr(contains("AWS_ENDPOINT_URL is set, but not to UTF-8 text"))
        .stderr(contains("fix: "));
    assert!(!dir.path().join("plan.yaml").exists());
}

#[test]
fn apply_of_a_plan_with_an_unknown_kind_names_the_field_before_calling_aws() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_example(&dir, |t| {
        t.replacen("kind: nacl_deny", "kind: sg_obliterate", 1)
    });
    hikkonuki()
        .args(["apply", path.to_str().unwrap(), "--yes"])
        .assert()
        .code(1)
        // The example's first nacl_deny cut comes after its two vpc_block_public_access cuts.
        .stderr(contains(
            "edited.yaml: cuts[2].kind: unknown kind `sg_obliterate`",
        ))
        .stderr(contains("fix: "));
    assert!(!dir.path().join("edited.rollback.yaml").exists());
}

/// Regression: a plan made with `--kinds sg_revoke` with a cut of another kind copied in passed
/// `apply --check`, was applied, and `show` still headed it as covering only sg_revoke. Refused by every
/// command that reads the plan, before any call.
#[test]
fn a_plan_with_a_cut_added_outside_its_selection_is_refused_before_calling_aws() {
    let dir = tempfile::tempdir().unwrap();
    // The example's first cuts are vpc_block_public_access; its sg_revoke cuts come later.
    let path = edited_example(&dir, |t| {
        t.replacen("findings:", "selection:\n- --kinds sg_revoke\nfindings:", 1)
    });
    let plan = path.to_str().unwrap();
    for command in [
        &["apply", plan, "--check"][..],
        &["apply", plan, "--yes"],
        &["show", plan],
    ] {
        hikkonuki()
            .args(command)
            .assert()
            .code(1)
            .stderr(contains(
                "edited.yaml: cuts[0]: cut `vpc_block_public_access/us-east-1/",
            ))
            .stderr(contains(
                "is outside the plan's selection (--kinds sg_revoke)",
            ))
            .stderr(contains(
                "fix: make a new plan; a plan may only have cuts switched off or removed",
            ));
    }
    assert!(!dir.path().join("edited.rollback.yaml").exists());
}

/// Regression: `--kinds` naming a kind the plan has no cut of was not warned about, where an unmatched
/// `--target` was. Warned before any call (here the call then fails: no endpoint answers).
#[test]
fn apply_with_a_kind_the_plan_has_no_cut_of_warns() {
    hikkonuki()
        .args(["apply", example_plan().to_str().unwrap(), "--check"])
        .args(["--kinds", "ecr_public_delete,sg_revoke"])
        .assert()
        .code(1)
        .stderr(contains(
            "warning: --kinds ecr_public_delete matches no enabled cut of the plan",
        ))
        .stderr(contains("--kinds sg_revoke matches").not());
}

#[test]
fn apply_of_a_plan_from_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_example(&dir, |t| t.replacen("version: 1", "version: 2", 1));
    hikkonuki()
        .args(["apply", path.to_str().unwrap(), "--yes"])
        .assert()
        .code(1)
        .stderr(contains("version: format version 2 is not supported"));
}

#[test]
fn apply_refuses_to_overwrite_an_existing_rollback_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited_example(&dir, |t| t);
    let rollback = dir.path().join("edited.rollback.yaml");
    std::fs::write(&rollback, "keep me").unwrap();
    hikkonuki()
        .args(["apply", path.to_str().unwrap(), "--yes"])
        .assert()
        .code(1)
        .stderr(contains("already exists and may hold the way back"));
    assert_eq!(std::fs::read_to_string(&rollback).unwrap(), "keep me");
}

#[test]
fn a_malformed_keep_cidr_is_named_before_calling_aws() {
    hikkonuki()
        .args(["plan", "--keep-cidr", "203.0.113.7/33"])
        .assert()
        .code(1)
        .stderr(contains(
            "--keep-cidr: `203.0.113.7/33` is not a CIDR block",
        ));
    hikkonuki()
        .args(["plan", "--keep-cidr", "0.0.0.0/0"])
        .assert()
        .code(1)
        .stderr(contains("keeps most of the internet reachable"));
    // Regressions: the fix suggested 8.0.0.0/7, itself refused; and a mapped address was kept as an
    // IPv6 /128 that keeps nothing for IPv4.
    hikkonuki()
        .args(["plan", "--keep-cidr", "9.0.0.0/7"])
        .assert()
        .code(1)
        .stderr(contains("fix: give 9.0.0.0 for the one address, or the range 8.0.0.0/7 keeps most of the internet reachable and is refused"))
        .stderr(contains("8.0.0.0/7 for the range").not());
    hikkonuki()
        .args(["plan", "--keep-cidr", "::ffff:203.0.113.7"])
        .assert()
        .code(1)
        .stderr(contains(
            "--keep-cidr: `::ffff:203.0.113.7` is an IPv4-mapped IPv6 address",
        ))
        .stderr(contains("fix: give the IPv4 address, 203.0.113.7"));
}

/// `hikkonuki show PLAN | head`: the reader closes the pipe early; the output ends quietly.
#[test]
fn show_into_a_closed_pipe_exits_quietly() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_hikkonuki"))
        .args(["show", example_plan().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe while the plan (thousands of lines) is still being written.
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}\n{stderr}");
}

/// Neither a rollback file nor a plan (a plan is named as one: see
/// `restore_of_a_plan_says_it_is_a_plan_and_which_file_to_give`).
#[test]
fn restore_of_something_that_is_not_a_rollback_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.yaml");
    std::fs::write(&notes, "# incident notes\nowner: alice\n").unwrap();
    hikkonuki()
        .args(["restore", notes.to_str().unwrap(), "--yes"])
        .assert()
        .code(1)
        .stderr(contains("notes.yaml: line 2: is not a rollback entry"));
}

#[test]
fn a_maintenance_origin_that_is_not_a_host_name_is_refused_before_any_aws_call() {
    for bad in [
        "https://maintenance.example.com",
        "maintenance.example.com/notice",
        "localhost",
        "203.0.113.10",
        "maintenance.example.com:443",
    ] {
        hikkonuki()
            .args(["plan", "--maintenance-origin", bad])
            .assert()
            .code(1)
            .stderr(contains(format!(
                "--maintenance-origin `{bad}` is not a host name"
            )))
            .stderr(contains("fix: give only the domain"));
    }
}

/// `plan --out` never writes over what may be the only way back (issue 12): any existing file is refused
/// without `--force`, and with it only a plan is replaced. Checked before any call to AWS.
#[test]
fn plan_out_refuses_to_overwrite_a_rollback_file_or_any_file_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let rollback = dir.path().join("p.rollback.yaml");
    let journal = "- {\"seq\":0,\"entry\":\"header\"}\n";
    std::fs::write(&rollback, journal).unwrap();
    for force in [false, true] {
        let mut cmd = hikkonuki();
        cmd.args(["plan", "--out", rollback.to_str().unwrap()]);
        if force {
            cmd.arg("--force");
        }
        let expected = if force {
            "is not a plan hikkonuki can read (it may be a rollback file"
        } else {
            "already exists\n  fix: choose another --out, or pass --force"
        };
        cmd.assert().code(1).stderr(contains(expected));
        assert_eq!(std::fs::read_to_string(&rollback).unwrap(), journal);
    }
}

/// Issue 12: `show /dev/zero` and `--rollback /dev/zero` read without bound, and a FIFO blocked forever.
/// Non-regular files are refused before reading, and before any call to AWS.
#[test]
fn devices_and_fifos_are_refused_before_reading_and_never_block() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plan.yaml");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let plan = edited_example(&dir, |t| t);
    let runs: [(&[&str], &str); 5] = [
        (
            &["show", "/dev/zero"],
            "is a character device, not a regular file",
        ),
        (
            &["show", fifo.to_str().unwrap()],
            "is a FIFO (named pipe), not a regular file",
        ),
        (
            &["apply", fifo.to_str().unwrap(), "--yes"],
            "is a FIFO (named pipe)",
        ),
        (
            &[
                "apply",
                plan.to_str().unwrap(),
                "--yes",
                "--rollback",
                "/dev/zero",
            ],
            "/dev/zero: is a character device",
        ),
        (
            &["restore", "/dev/zero", "--yes"],
            "/dev/zero: is a character device",
        ),
    ];
    for (args, expected) in runs {
        hikkonuki()
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .assert()
            .code(1)
            .stderr(contains(expected));
    }
}

/// Completions and the man page come from the same definition as the parser, the kinds' own flags
/// included.
#[test]
fn completions_and_the_man_page_list_every_flag_the_kinds_add() {
    for shell in ["bash", "zsh", "fish"] {
        hikkonuki()
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(predicates::str::contains("maintenance-origin"))
            .stdout(predicates::str::contains("lift-session-revocation"));
    }
    hikkonuki()
        .arg("manpage")
        .assert()
        .code(0)
        .stdout(predicates::str::contains(".TH hikkonuki"))
        .stdout(predicates::str::contains("completions"));
}

/// A kind name given on the command line is quoted in the refusal, escaped like every error printed.
#[test]
fn an_unknown_kind_is_refused_before_any_call_and_shown_escaped() {
    let out = hikkonuki()
        .args(["plan", "--exclude-kinds", "x\u{1b}[2J"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(out).unwrap();
    assert!(stderr.contains("--exclude-kinds: `x"), "{stderr}");
    assert!(stderr.contains("is not a kind of cut"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// Ctrl-C while apply waits for AWS's first answer (the account check, before any confirmation, with
/// `--yes` too) ends the run with nothing changed and exit 130, and takes the rollback file it had just
/// created with it, named relative to the working directory as the default is.
#[test]
fn ctrl_c_before_the_confirmation_leaves_no_rollback_file_behind() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    edited_example(&dir, |t| t);
    let rollback = dir.path().join("edited.rollback.yaml");
    // An endpoint that takes the connection and never answers: apply waits at its first call.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hikkonuki"))
        .current_dir(dir.path())
        .env_clear()
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Where the tests run is not where the runs they start run (an ECS task of CI's).
        .env_remove("ECS_CONTAINER_METADATA_URI_V4")
        .args(["apply", "edited.yaml", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (_held, _) = listener.accept().unwrap();
    assert!(
        rollback.exists(),
        "the rollback file is made before the first call"
    );
    // SAFETY: kill(2) on the child's PID, which this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(!rollback.exists(), "{stderr}");
}

/// No credentials anywhere: one line saying how to provide them (it was the SDK's provider chain, every
/// attempt and its `Debug`), an `error` event for scripts (not a `refused`), and no colour codes off a
/// terminal.
#[test]
fn no_credentials_are_said_in_one_line_with_how_to_provide_them() {
    let without_credentials = |extra: &[&str]| {
        hikkonuki()
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .args([
                "plan",
                "--regions",
                "us-east-1",
                "--out",
                "/nonexistent/p.yaml",
            ])
            .args(extra)
            .assert()
            .code(1)
    };
    let assert = without_credentials(&[]).stderr(contains(
        "error: no AWS credentials found: pass --profile NAME",
    ));
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    for noise in [
        "Attempted",
        "ProviderChainError",
        "DispatchFailure",
        "\u{1b}[",
    ] {
        assert!(!stderr.contains(noise), "{noise:?} in {stderr}");
    }
    let json = without_credentials(&["--output", "json"]);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&json.get_output().stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["error", "finished"], "{events:?}");
}

/// The wrong kind of file given to apply is named as what it is, with what to do: a rollback file (it
/// was "not a YAML plan document: expected mapping start"), or bytes that are not text.
#[test]
fn apply_of_a_rollback_file_or_binary_says_what_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let rollback = dir.path().join("p.rollback.yaml");
    std::fs::write(
        &rollback,
        "# hikkonuki rollback file\n- {\"seq\":0,\"entry\":\"header\"}\n",
    )
    .unwrap();
    hikkonuki()
        .args(["apply", rollback.to_str().unwrap(), "--check"])
        .assert()
        .code(1)
        .stderr(contains(
            "is a rollback file (what apply journals), not a plan",
        ))
        .stderr(contains("hikkonuki restore "));
    let binary = dir.path().join("p.yaml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    hikkonuki()
        .args(["apply", binary.to_str().unwrap(), "--check"])
        .assert()
        .code(1)
        .stderr(contains("is not UTF-8 text, so not a plan"));
}

/// The reverse mistake: a plan given to restore (it was "line 4: is not a rollback entry") is named as a
/// plan, with the rollback file apply wrote for it; the plan is left as it was.
#[test]
fn restore_of_a_plan_says_it_is_a_plan_and_which_file_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let plan = edited_example(&dir, |t| t);
    let before = std::fs::read(&plan).unwrap();
    for command in [
        &["restore", plan.to_str().unwrap(), "--yes"][..],
        &["restore", plan.to_str().unwrap(), "--dry-run"],
    ] {
        hikkonuki()
            .args(command)
            .assert()
            .code(1)
            .stderr(contains(
                "edited.yaml: is a plan (what `hikkonuki plan` writes), not a rollback file (what apply journals)",
            ))
            .stderr(contains(format!(
                "fix: give the rollback file apply wrote for it: {} beside the plan",
                dir.path().join("edited.rollback.yaml").display()
            )))
            .stderr(contains("line 4").not());
    }
    assert_eq!(std::fs::read(&plan).unwrap(), before);
    assert!(!dir.path().join("edited.rollback.yaml").exists());
}
