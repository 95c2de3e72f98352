//! A plan edited the way the README invites, with a YAML 1.1 library (PyYAML, from the emulator's
//! virtualenv): loaded, one cut switched off, dumped again. Apply must take it (no drift), skip the cut
//! switched off, and restore must give back what it cut. The identity kinds are used because their states
//! carry timestamps (an access key's creation date), which YAML 1.1 reads as dates.

use std::process::Command;

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::emulator::{Emulator, venv_python};
use crate::leaky_account::identity::{self, SeededIdentity};

async fn key_status(iam: &aws_sdk_iam::Client, user: &str, id: &str) -> String {
    let keys = iam.list_access_keys().user_name(user).send().await.unwrap();
    keys.access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(id))
        .and_then(|k| k.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "gone".into())
}

/// Runs `script` with the virtualenv's Python on `input`, writing `output` (paths in the emulator's
/// working directory); the script sees them as `sys.argv[1]` and `sys.argv[2]`.
fn python(emulator: &Emulator, script: &str, input: &str, output: &str) {
    let run = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .arg(emulator.path(input))
        .arg(emulator.path(output))
        .output()
        .expect("the virtualenv's python runs");
    assert!(
        run.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Loads the plan, switches off the cut whose ID ends with `sys.argv[3]`, and dumps it with PyYAML's
/// defaults (keys sorted, lines folded at 80 columns). Fails if PyYAML read any string of the plan as
/// another type.
const SWITCH_OFF_WITH_PYYAML: &str = r#"
import sys, yaml
plan = yaml.safe_load(open(sys.argv[1]))
def strings_only(value, path):
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path}: key {k!r} read as {type(k).__name__}"
            strings_only(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            strings_only(v, f"{path}[{i}]")
    elif not isinstance(value, (str, bool, int, float, type(None))):
        raise AssertionError(f"{path}: {value!r} read as {type(value).__name__}")
for i, cut in enumerate(plan["cuts"]):
    for side in ("before", "after"):
        strings_only(cut[side], f"cuts[{i}].{side}")
assert isinstance(plan["created"], str), plan["created"]
hits = [cut for cut in plan["cuts"] if cut["id"].endswith(sys.argv[3])]
assert len(hits) == 1, hits
hits[0]["enabled"] = False
yaml.safe_dump(plan, open(sys.argv[2], "w"))
"#;

/// What a plan written before timestamps were quoted became in PyYAML's hands: every timestamp string of
/// the states read as a date-time and written back in Python's format (`2026-11-29 00:09:40.432730+00:00`,
/// microseconds only), unquoted.
const REFORMAT_TIMESTAMPS_AS_OLD_PLANS_GOT: &str = r#"
import sys, yaml, datetime, re
plan = yaml.safe_load(open(sys.argv[1]))
stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
changed = 0
def as_datetime(text):
    head, _, frac = text[:-1].partition(".")
    value = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S")
    micros = int((frac + "000000")[:6]) if frac else 0
    return value.replace(microsecond=micros, tzinfo=datetime.timezone.utc)
def walk(value):
    global changed
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and stamp.match(v):
                value[k] = as_datetime(v)
                changed += 1
            else:
                walk(v)
    elif isinstance(value, list):
        for v in value:
            walk(v)
for cut in plan["cuts"]:
    walk(cut["before"])
    walk(cut["after"])
assert changed > 0, "no timestamp in the plan's states"
yaml.safe_dump(plan, open(sys.argv[2], "w"))
"#;

async fn planned() -> (Emulator, SeededIdentity, aws_sdk_iam::Client) {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let seeded = identity::seed(&config).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&config);
    emulator
        .plan("us-east-1", "plans/p.yaml")
        .assert()
        .success();
    (emulator, seeded, iam)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_switched_off_and_dumped_again_by_pyyaml_applies_skips_that_cut_and_restores() {
    let (emulator, seeded, iam) = planned().await;
    let plan = std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap();
    assert!(
        plan.contains("created: '20"),
        "timestamps are quoted: {plan}"
    );

    let (off, on) = (&seeded.keys[0], &seeded.keys[1]);
    let script = SWITCH_OFF_WITH_PYYAML.replace("sys.argv[3]", &format!("{:?}", off.access_key_id));
    python(&emulator, &script, "plans/p.yaml", "plans/edited.yaml");

    emulator
        .apply("plans/edited.yaml")
        .assert()
        .code(0)
        .stdout(contains(format!(
            "1 × iam_key_deactivate: switched off in the plan (enabled: false)\n      {}\n",
            off.access_key_id
        )))
        .stdout(contains(" 0 failed, "));
    assert_eq!(
        key_status(&iam, &off.user, &off.access_key_id).await,
        "Active"
    );
    assert_eq!(
        key_status(&iam, &on.user, &on.access_key_id).await,
        "Inactive"
    );

    emulator
        .restore("plans/edited.rollback.yaml")
        .assert()
        .code(0);
    assert_eq!(
        key_status(&iam, &on.user, &on.access_key_id).await,
        "Active"
    );
    assert_eq!(
        key_status(&iam, &off.user, &off.access_key_id).await,
        "Active"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamps_a_yaml_tool_re_formatted_still_match_the_account() {
    let (emulator, seeded, iam) = planned().await;
    python(
        &emulator,
        REFORMAT_TIMESTAMPS_AS_OLD_PLANS_GOT,
        "plans/p.yaml",
        "plans/old.yaml",
    );
    let old = std::fs::read_to_string(emulator.path("plans/old.yaml")).unwrap();
    assert!(old.contains("+00:00\n"), "re-formatted timestamps: {old}");

    // Apply --check compares every cut with the account and changes nothing.
    emulator
        .hikkonuki()
        .args(["apply", "plans/old.yaml", "--check"])
        .assert()
        .stdout(contains("drift ").not());
    emulator.apply("plans/old.yaml").assert().code(0);
    for key in &seeded.keys {
        assert_eq!(
            key_status(&iam, &key.user, &key.access_key_id).await,
            "Inactive"
        );
    }
    emulator.restore("plans/old.rollback.yaml").assert().code(0);
    for key in &seeded.keys {
        assert_eq!(
            key_status(&iam, &key.user, &key.access_key_id).await,
            "Active"
        );
    }
}

/// The example plans in the repository (the demo account's, and the demo organization's) are what
/// `hikkonuki plan` writes today, quoting included, so they show operators (and their YAML tools) the
/// real format.
#[test]
fn the_example_plan_is_written_as_plans_are() {
    for name in ["plans/example.yaml", "plans/example-organization.yaml"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let plan = hikkonuki::plan::parse(&text, &path, &hikkonuki::services::registry()).unwrap();
        let written = hikkonuki::plan::file::render(&plan);
        if std::env::var_os("HIKKONUKI_REWRITE_EXAMPLE").is_some() {
            std::fs::write(&path, &written).unwrap();
        }
        assert!(
            written == text,
            "{name} differs from how plans are written now; rewrite it with \
             HIKKONUKI_REWRITE_EXAMPLE=1 cargo test --test it the_example_plan_is_written_as_plans_are"
        );
    }
}
