//! An intruder names resources so that printing them attacks the responder's terminal: a REST API's name
//! carries cursor-up and erase-line, a window title (OSC … BEL), a C1 CSI and a right-to-left override; a
//! security group's name, description and rule description carry what XML (EC2's protocol) can: the C1
//! CSI and the override. `plan`, `show`, apply's listing and progress, restore and the incident report
//! must show them escaped, never raw.

use aws_sdk_ec2::types::{IpPermission, IpRange};

use crate::emulator::Emulator;

const HOSTILE: &str = "orders\x1b[1A\x1b[2K\x1b]0;pwned\x07\u{9b}2J\u{202e}ipa";

/// XML 1.0 has no C0 controls but ESC's 8-bit twin, CSI (0x9b), and the bidirectional characters.
const HOSTILE_IN_XML: &str = "web\u{9b}1A\u{9b}2K\u{202e}nimda";

/// The characters a terminal acts on without showing them.
const RAW: &[char] = &['\x1b', '\x07', '\u{9b}', '\u{202e}'];

fn assert_no_raw(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let raw: Vec<char> = text.chars().filter(|c| RAW.contains(c)).collect();
    assert!(raw.is_empty(), "{what} printed {raw:?} raw:\n{text}");
}

fn run(what: &str, mut command: assert_cmd::Command) -> String {
    let output = command.output().expect("hikkonuki runs");
    assert!(
        output.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_no_raw(&format!("{what} (stdout)"), &output.stdout);
    assert_no_raw(&format!("{what} (stderr)"), &output.stderr);
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_are_shown_escaped_by_every_command() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config("us-east-1").await;
    let apigw = aws_sdk_apigateway::Client::new(&config);
    apigw
        .create_rest_api()
        .name(HOSTILE)
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}"#)
        .send()
        .await
        .unwrap();
    let ec2 = emulator.ec2("us-east-1").await;
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.9.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap();
    let group = ec2
        .create_security_group()
        .group_name(HOSTILE_IN_XML)
        .description(HOSTILE_IN_XML)
        .vpc_id(vpc_id)
        .send()
        .await
        .unwrap();
    ec2.authorize_security_group_ingress()
        .group_id(group.group_id().unwrap())
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip("0.0.0.0/0")
                        .description(HOSTILE_IN_XML)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    let planned = run("plan --diff", emulator.plan("us-east-1", "plans/p.yaml"));
    assert!(
        planned.contains("orders\\u{1b}[1A\\u{1b}[2K\\u{1b}]0;pwned\\u{7}\\u{9b}2J\\u{202e}ipa"),
        "the API's name is shown, escaped:\n{planned}"
    );
    assert!(
        planned.contains("web\\u{9b}1A\\u{9b}2K\\u{202e}nimda"),
        "the security group's rule description is shown, escaped:\n{planned}"
    );
    let mut show = emulator.hikkonuki();
    show.args(["show", "plans/p.yaml", "--diff"]);
    let shown = run("show --diff", show);
    assert!(shown.contains("\\u{202e}"), "{shown}");
    // The review at a glance quotes the account's strings too (targets, what changes).
    let mut show = emulator.hikkonuki();
    show.args(["show", "plans/p.yaml"]);
    run("show", show);
    // JSON for scripts carries the exact name, written so a terminal showing it cannot be turned.
    let mut show = emulator.hikkonuki();
    show.args(["show", "plans/p.yaml", "--format", "json"]);
    let json = run("show --format json", show);
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        json.contains("\\u202e"),
        "the override is an escape in the JSON text: {json}"
    );
    assert!(
        document.to_string().contains("\u{9b}2J\u{202e}ipa"),
        "and decodes to the exact name"
    );
    let mut events = emulator.plan("us-east-1", "plans/p2.yaml");
    events.args(["--output", "json"]);
    run("plan --output json", events);

    // Apply prints the summary it carries out, not the states: escaped like everything else.
    run("apply", emulator.apply("plans/p.yaml"));
    for format in ["text", "markdown", "json"] {
        let mut show = emulator.hikkonuki();
        show.args(["show", "plans/p.rollback.yaml", "--format", format]);
        run(
            &format!("show --format {format} of the rollback file"),
            show,
        );
    }
    run("restore", emulator.restore("plans/p.rollback.yaml"));
}
