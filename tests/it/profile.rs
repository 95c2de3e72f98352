//! Which credentials a run signs with. An explicit `--profile` wins over credentials in the environment,
//! as it does for the AWS CLI: otherwise a responder who names the incident account's profile, in a shell
//! that still exports another account's keys, would plan (and cut) the wrong account. An unknown profile
//! is refused by name before any call, whether `--profile` or `AWS_PROFILE` named it; one that exists but
//! gives no credentials is named, with where its name came from.
//!
//! The "AWS endpoint" here is a loopback listener that records the first request's `Authorization`
//! header, whose `Credential=` names the access key that signed it, and refuses the keys as STS would.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use predicates::prelude::*;
use predicates::str::contains;

/// Serves one connection: returns the request's Authorization header.
fn record_signature(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut authorization = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("authorization")
            {
                authorization = value.trim().to_string();
            }
        }
        let mut stream = stream;
        // STS's documented answer to keys it does not know: not retried, so the run ends at once.
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></ErrorResponse>";
        let _ = write!(
            stream,
            "HTTP/1.1 403 Forbidden\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        authorization
    })
}

fn config_with_incident_profile(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        "[profile incident]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = secret\nregion = us-east-1\n",
    )
    .unwrap();
    path
}

fn hikkonuki(endpoint: &str, config: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("hikkonuki").unwrap();
    cmd.env_clear()
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTKEY01")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Where the tests run is not where the runs they start run (an ECS task of CI's).
        .env_remove("ECS_CONTAINER_METADATA_URI_V4")
        .env("AWS_MAX_ATTEMPTS", "1");
    cmd
}

/// `hikkonuki` with no keys in the environment and a closed port for AWS: a run that comes as far as a
/// call fails there.
fn without_keys(config: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = hikkonuki("http://127.0.0.1:9", config);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

/// `plan` of one region, written to `out`.
fn plan_to(out: &std::path::Path) -> [String; 5] {
    [
        "plan",
        "--regions",
        "us-east-1",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(str::to_string)
}

#[test]
fn an_explicit_profile_signs_instead_of_the_keys_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_incident_profile(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let recorded = record_signature(listener);
    hikkonuki(&endpoint, &config)
        .args([
            "--profile",
            "incident",
            "--no-pacing",
            "plan",
            "--regions",
            "us-east-1",
        ])
        .args(["--out", dir.path().join("plan.yaml").to_str().unwrap()])
        .assert()
        .code(1);
    let authorization = recorded.join().unwrap();
    assert!(
        authorization.contains("Credential=AKIAPROFILEKEY000001/"),
        "{authorization}"
    );
}

#[test]
fn without_a_profile_the_environment_keys_sign_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_incident_profile(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let recorded = record_signature(listener);
    hikkonuki(&endpoint, &config)
        .args(["--no-pacing", "plan", "--regions", "us-east-1"])
        .args(["--out", dir.path().join("plan.yaml").to_str().unwrap()])
        .assert()
        .code(1);
    let authorization = recorded.join().unwrap();
    assert!(
        authorization.contains("Credential=AKIAENVIRONMENTKEY01/"),
        "{authorization}"
    );
}

#[test]
fn an_unknown_profile_is_refused_by_name_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_incident_profile(&dir);
    // Nothing listens at port 9: a call that went out would fail with a connection error instead.
    hikkonuki("http://127.0.0.1:9", &config)
        .args(["--profile", "incidnet", "plan", "--regions", "us-east-1"])
        .args(["--out", dir.path().join("plan.yaml").to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(contains(
            "--profile incidnet: no such profile in the AWS configuration files (profiles there: incident)",
        ))
        .stderr(contains("fix: "));
    assert!(!dir.path().join("plan.yaml").exists());
}

/// Regression: `AWS_PROFILE=nosuch` got the generic "no AWS credentials found" (or, where an instance
/// role answers, would have signed as that role), where `--profile nosuch` was refused by name. Keys in
/// the environment still sign first, as the SDK has it: the profile is then not used, and not checked.
#[test]
fn an_unknown_aws_profile_is_refused_by_name_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_incident_profile(&dir);
    hikkonuki("http://127.0.0.1:9", &config)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_PROFILE", "incidnet")
        .args(["plan", "--regions", "us-east-1"])
        .args(["--out", dir.path().join("plan.yaml").to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(contains(
            "AWS_PROFILE=incidnet: no such profile in the AWS configuration files (profiles there: incident)",
        ))
        .stderr(contains(
            "fix: set AWS_PROFILE to one of those names (or unset it, or pass --profile)",
        ));
    assert!(!dir.path().join("plan.yaml").exists());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let recorded = record_signature(listener);
    hikkonuki(&endpoint, &config)
        .env("AWS_PROFILE", "incidnet")
        .args(["--no-pacing", "plan", "--regions", "us-east-1"])
        .args(["--out", dir.path().join("plan.yaml").to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(contains("no such profile").not());
    let authorization = recorded.join().unwrap();
    assert!(
        authorization.contains("Credential=AKIAENVIRONMENTKEY01/"),
        "{authorization}"
    );
}

/// Regression: `--profile nocreds` (a profile with no keys) was told "pass --profile NAME", the flag it
/// had passed. The profile is named as it was given, by flag or by AWS_PROFILE.
#[test]
fn a_profile_that_gives_no_credentials_is_named_where_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile nocreds]\nregion = us-east-1\n").unwrap();
    let plan = plan_to(&dir.path().join("plan.yaml"));
    without_keys(&config)
        .args(["--profile", "nocreds"])
        .args(&plan)
        .assert()
        .code(1)
        .stderr(contains(
            "error: no AWS credentials found: --profile nocreds names a profile that exists but gives none",
        ))
        .stderr(contains("`aws configure --profile nocreds`"))
        .stderr(contains("or give another --profile"))
        .stderr(contains("pass --profile NAME").not());
    without_keys(&config)
        .env("AWS_PROFILE", "nocreds")
        .args(&plan)
        .assert()
        .code(1)
        .stderr(contains(
            "error: no AWS credentials found: AWS_PROFILE=nocreds names a profile that exists but gives none",
        ))
        .stderr(contains("or set AWS_PROFILE to another profile"))
        .stderr(contains("pass --profile NAME").not());
    assert!(!dir.path().join("plan.yaml").exists());
}

/// A profile named by AWS_PROFILE that gives no credentials is the only source, as `--profile` is: the
/// SDK's chain would otherwise go on to the container's (or the instance's) role, which signs for
/// another account than the one named. The container's endpoint here is never asked. `AWS_PROFILE=default`
/// names what the SDK takes anyway and need not exist (an image exporting it, with no configuration
/// files): not refused as unknown.
#[test]
fn a_profile_named_in_the_environment_never_hands_over_to_the_containers_role() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[profile nocreds]\nregion = us-east-1\n").unwrap();
    let container = TcpListener::bind("127.0.0.1:0").unwrap();
    let container_uri = format!("http://{}/creds", container.local_addr().unwrap());
    let out = dir.path().join("plan.yaml");
    let plan = plan_to(&out);
    let without_keys = || {
        let mut cmd = without_keys(&config);
        cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &container_uri);
        cmd
    };
    // A blank key in the environment (`AWS_ACCESS_KEY_ID=` from a docker env file) is no key: the SDK
    // passes over it, so it must not let AWS_PROFILE go unchecked.
    for blank in [None, Some(""), Some("  ")] {
        let mut cmd = without_keys();
        if let Some(blank) = blank {
            cmd.env("AWS_ACCESS_KEY_ID", blank)
                .env("AWS_SECRET_ACCESS_KEY", "secret");
        }
        cmd.env("AWS_PROFILE", "nocreds")
            .args(&plan)
            .assert()
            .code(1)
            .stderr(contains(
                "AWS_PROFILE=nocreds names a profile that exists but gives none",
            ));
    }
    container.set_nonblocking(true).unwrap();
    assert!(
        matches!(container.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the container's credentials endpoint was asked"
    );

    without_keys()
        .env("AWS_PROFILE", "default")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .args(&plan)
        .assert()
        .code(1)
        .stderr(contains("no such profile").not())
        .stderr(contains("no AWS credentials found"));
    assert!(!out.exists());
}
