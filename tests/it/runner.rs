//! Apply run on an EC2 instance inside a VPC the plan seals. Its calls to AWS leave through that VPC's
//! network ACLs, route tables and gateway, the region's VPC Block Public Access and its own security
//! group: apply leaves those cuts out, each saying why, and cuts the rest. The instance is a stand-in
//! for the instance metadata service (IMDSv2: a token by PUT, then reads with it; the paths and the
//! identity document as AWS documents them,
//! https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html), reached
//! through `AWS_EC2_METADATA_SERVICE_ENDPOINT` as the SDK's own use of it is.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;

use predicates::prelude::*;
use predicates::str::contains;
use serde_yaml::Value;

use hikkonuki::services::common::ec2::filter;

use crate::emulator::Emulator;
use crate::leaky_account;
use crate::snapshot;

const REGION: &str = "us-east-1";
const KINDS: &str =
    "vpc_block_public_access,nacl_deny,route_remove,igw_detach,sg_revoke,vpce_policy_deny";
const MAC: &str = "0e:49:61:0f:c3:11";

/// A metadata service on loopback answering for one instance: `i-0bastion` of the emulator's account,
/// in `vpc`, `subnet` and `group` (none: that path answers 404, a service failing midway). Runs until
/// the test ends.
fn metadata_service(vpc: &str, subnet: &str, group: Option<&str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let document = serde_json::json!({
        "accountId": "123456789012",
        "region": REGION,
        "instanceId": "i-0bastion",
        "availabilityZone": "us-east-1a",
    })
    .to_string();
    let interface = format!("/latest/meta-data/network/interfaces/macs/{MAC}");
    let mut answers: Vec<(String, String)> = vec![
        (
            "/latest/dynamic/instance-identity/document".into(),
            document,
        ),
        ("/latest/meta-data/mac".into(), MAC.into()),
        (format!("{interface}/vpc-id"), vpc.into()),
        (format!("{interface}/subnet-id"), subnet.into()),
    ];
    if let Some(group) = group {
        answers.push((format!("{interface}/security-group-ids"), group.into()));
    }
    serve(listener, move |method, path| {
        if method == "PUT" && path == "/latest/api/token" {
            (
                "200 OK",
                "x-aws-ec2-metadata-token-ttl-seconds: 21600\r\n",
                "a-token".to_string(),
            )
        } else if let Some((_, answer)) = answers.iter().find(|(p, _)| p == path) {
            ("200 OK", "", answer.clone())
        } else {
            ("404 Not Found", "", String::new())
        }
    });
    url
}

/// Answers each HTTP/1.1 request on `listener` with `answer(method, path)`: a status, extra header
/// lines, a body. A request's own body is read and dropped. Runs until the test ends.
fn serve(
    listener: TcpListener,
    answer: impl Fn(&str, &str) -> (&'static str, &'static str, String) + Send + 'static,
) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap_or_default();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or_default() == 0 || header == "\r\n" {
                    break;
                }
                if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut parts = request_line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (status, extra, body) = answer(method, path);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

fn cuts(plan: &Value) -> &Vec<Value> {
    plan["cuts"].as_sequence().unwrap()
}

async fn acl_entries(ec2: &aws_sdk_ec2::Client, acl: &str) -> String {
    let acls = ec2
        .describe_network_acls()
        .network_acl_ids(acl)
        .send()
        .await
        .unwrap();
    let mut entries: Vec<String> = acls.network_acls()[0]
        .entries()
        .iter()
        .map(|entry| format!("{entry:?}"))
        .collect();
    entries.sort();
    entries.join("\n")
}

/// The seeded account planned with the network kinds, and a machine inside it: in the VPC of the first
/// network ACL cut, in one of its subnets, in one of that VPC's groups the plan cuts. Another VPC's ACL
/// is cut as planned.
struct InsideASealedVpc {
    emulator: Emulator,
    ec2: aws_sdk_ec2::Client,
    vpc: String,
    subnet: String,
    group: String,
    /// The cuts on the machine's way out, which apply must leave out: the VPC's ACL and route tables,
    /// the region's Block Public Access, the machine's group.
    on_its_way: Vec<String>,
    own_acl: String,
    other_acl: String,
    own_acl_before: String,
    /// The VPC's S3 gateway endpoint and its policy before apply.
    endpoint: String,
    endpoint_policy_before: Option<String>,
    other_acl_before: String,
    groups_before: std::collections::BTreeMap<String, Vec<String>>,
}

impl InsideASealedVpc {
    async fn seed() -> InsideASealedVpc {
        let emulator = Emulator::start();
        let config = emulator.sdk_config(REGION).await;
        leaky_account::seed(&config, &[REGION]).await.unwrap();
        emulator
            .plan(REGION, "plans/p.yaml")
            .args(["--kinds", KINDS])
            .assert()
            .code(0);
        let plan: Value =
            serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
                .unwrap();
        let enabled = |kind: &'static str| {
            cuts(&plan)
                .iter()
                .filter(move |cut| cut["kind"] == kind && cut["enabled"].as_bool() == Some(true))
        };
        let text = |value: &Value| value.as_str().unwrap().to_string();
        // The machine sits in the VPC with the S3 gateway endpoint, which carries its calls to S3.
        let endpoint = enabled("vpce_policy_deny")
            .find(|cut| cut["before"]["vpc_endpoint_type"] == "Gateway")
            .expect("the seeded VPC's S3 gateway endpoint");
        let vpc = text(&endpoint["before"]["vpc_id"]);
        let own_acl = enabled("nacl_deny")
            .find(|cut| cut["before"]["vpc_id"] == vpc.as_str())
            .unwrap();
        let own_group = enabled("sg_revoke")
            .find(|cut| cut["before"]["vpc_id"] == vpc.as_str())
            .unwrap();
        let other_acl = enabled("nacl_deny")
            .find(|cut| cut["before"]["vpc_id"] != vpc.as_str())
            .expect("a second VPC with a network ACL to cut");
        let block = enabled("vpc_block_public_access").next().unwrap();
        let mut on_its_way = vec![
            text(&own_acl["id"]),
            text(&own_group["id"]),
            text(&block["id"]),
            text(&endpoint["id"]),
        ];
        on_its_way.extend(
            enabled("route_remove")
                .filter(|cut| cut["before"]["vpc_id"] == vpc.as_str())
                .map(|cut| text(&cut["id"])),
        );
        let ec2 = emulator.ec2(REGION).await;
        let (own_acl, other_acl) = (text(&own_acl["target"]), text(&other_acl["target"]));
        let endpoint_policy_before = endpoint_policy(&ec2, &text(&endpoint["target"])).await;
        assert!(
            endpoint_policy_before.is_some(),
            "the endpoint has a policy the cut would replace"
        );
        InsideASealedVpc {
            subnet: text(&plan_cut(&plan, &on_its_way[0])["before"]["subnets"][0]),
            group: text(&own_group["target"]),
            own_acl_before: acl_entries(&ec2, &own_acl).await,
            endpoint_policy_before,
            endpoint: text(&endpoint["target"]),
            other_acl_before: acl_entries(&ec2, &other_acl).await,
            groups_before: snapshot::security_groups(&ec2).await,
            emulator,
            ec2,
            vpc,
            on_its_way,
            own_acl,
            other_acl,
        }
    }

    /// Plans again, as a responder would with what the test added to the account there.
    fn plan_again(&self) {
        self.emulator
            .plan(REGION, "plans/p.yaml")
            .args(["--kinds", KINDS, "--force"])
            .assert()
            .code(0);
    }

    /// Applies with `env` (where the machine is read from) and checks: each cut on its way out left out
    /// naming the machine (`subject`: `hikkonuki runs on …`) and `source`, the run not called sealed,
    /// its way out untouched, the rest cut; then restore gives back what the run cut.
    async fn apply_leaves_out_its_way_and_restores(
        &self,
        env: &[(&str, &str)],
        subject: &str,
        source: &str,
    ) {
        let mut applied = self.emulator.apply("plans/p.yaml");
        for (name, value) in env {
            applied.env(name, value);
        }
        let mut assert = applied.assert().code(0);
        for id in &self.on_its_way {
            assert = assert.stderr(contains(format!(
                "{id} is left out: {subject} in {} (subnet {}, read from {source})",
                self.vpc, self.subnet
            )));
        }
        // Never "Sealed in": the machine's VPC keeps its way out.
        let seal_left_out = self
            .on_its_way
            .iter()
            .filter(|id| !id.starts_with("sg_revoke/") && !id.starts_with("vpce_policy_deny/"))
            .count();
        assert
            .stdout(contains(format!(
                "Not sealed: {seal_left_out} sealing cut(s) were left out (see above); the ways out they close are still open."
            )))
            .stderr(contains("sealed in").not());

        let ec2 = &self.ec2;
        assert_eq!(
            acl_entries(ec2, &self.own_acl).await,
            self.own_acl_before,
            "the machine's own way out is untouched"
        );
        assert_ne!(
            acl_entries(ec2, &self.other_acl).await,
            self.other_acl_before,
            "another VPC is sealed"
        );
        assert_eq!(
            endpoint_policy(ec2, &self.endpoint).await,
            self.endpoint_policy_before,
            "the S3 gateway endpoint its calls to S3 go through keeps its policy"
        );
        let groups_after = snapshot::security_groups(ec2).await;
        let group = &self.group;
        assert_eq!(
            groups_after[group], self.groups_before[group],
            "its own group"
        );
        assert!(
            groups_after
                .iter()
                .any(|(id, rules)| id != group && *rules != self.groups_before[id]),
            "other groups are cut"
        );

        // Restore gives back what the run did cut.
        self.emulator
            .restore("plans/p.rollback.yaml")
            .assert()
            .code(0);
        assert_eq!(
            acl_entries(ec2, &self.other_acl).await,
            self.other_acl_before
        );
        assert_eq!(snapshot::security_groups(ec2).await, self.groups_before);
    }
}

async fn endpoint_policy(ec2: &aws_sdk_ec2::Client, endpoint: &str) -> Option<String> {
    let described = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint)
        .send()
        .await
        .unwrap();
    let policy = described.vpc_endpoints()[0].policy_document();
    policy.map(str::to_string)
}

fn plan_cut<'a>(plan: &'a Value, id: &str) -> &'a Value {
    cuts(plan).iter().find(|cut| cut["id"] == id).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_on_an_instance_inside_a_vpc_it_seals_leaves_out_the_cuts_on_its_own_way_out() {
    let inside = InsideASealedVpc::seed().await;
    let imds = metadata_service(&inside.vpc, &inside.subnet, Some(&inside.group));
    inside
        .apply_leaves_out_its_way_and_restores(
            &[
                ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds),
                ("AWS_EC2_METADATA_DISABLED", "false"),
            ],
            "hikkonuki runs on EC2 instance i-0bastion",
            "its instance metadata",
        )
        .await;
}

/// A forward HTTP proxy on loopback, as `HTTP_PROXY` names one: each connection it takes is relayed
/// to `upstream` (the emulator's `http://host:port`) byte for byte, both ways, until either side closes.
/// Returns its URL and the first request line of each connection (`POST http://…/ HTTP/1.1`: a request
/// sent to a proxy names the whole URL). Runs until the test ends.
fn forward_proxy(upstream: &str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let Ok(mut server) = std::net::TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut from_server, mut to_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(std::net::Shutdown::Both);
            });
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut first = [0u8; 512];
                let Ok(read) = client.read(&mut first) else {
                    return;
                };
                let head = String::from_utf8_lossy(&first[..read]);
                lines
                    .lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_string());
                if server.write_all(&first[..read]).is_ok() {
                    let _ = std::io::copy(&mut client, &mut server);
                }
                let _ = server.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (url, seen)
}

/// Apply whose calls go through a proxy (`HTTP_PROXY`, read as the AWS CLI reads it) whose network
/// interface is in a VPC the plan seals: the proxy's calls to AWS leave through that VPC, so its ACL,
/// routes, S3 endpoint, Block Public Access and the proxy's own group are left out as the machine's
/// own would be, naming the proxy; another VPC is cut; restore gives back what was cut. The proxy saw
/// the run's calls.
#[tokio::test(flavor = "multi_thread")]
async fn apply_through_a_proxy_inside_a_vpc_it_seals_leaves_out_the_cuts_on_the_proxys_way_out() {
    let inside = InsideASealedVpc::seed().await;
    // The proxy's interface, in the sealed VPC's subnet with the group the plan cuts. Only a loopback
    // address can be reached by this test; AWS would refuse one outside the subnet's range, the
    // emulator does not check it.
    let interface = inside
        .ec2
        .create_network_interface()
        .subnet_id(&inside.subnet)
        .private_ip_address("127.0.0.1")
        .groups(&inside.group)
        .send()
        .await
        .unwrap();
    let interface = interface
        .network_interface()
        .and_then(|found| found.network_interface_id())
        .unwrap()
        .to_string();
    // Planned again with the interface there, as a responder's plan would be.
    inside.plan_again();
    let (proxy, seen) = forward_proxy(&inside.emulator.endpoint());
    inside
        .apply_leaves_out_its_way_and_restores(
            &[("HTTP_PROXY", &proxy)],
            &format!(
                "hikkonuki's calls to AWS go through the proxy {proxy} (127.0.0.1, network interface {interface})"
            ),
            "the proxy environment variables and EC2's DescribeNetworkInterfaces",
        )
        .await;
    // Each connection's first request names the emulator's whole URL, as a request to a proxy does.
    let emulator = format!("{}/", inside.emulator.endpoint().trim_end_matches('/'));
    let seen = seen.lock().unwrap();
    assert!(
        !seen.is_empty()
            && seen.iter().all(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|target| target.starts_with(&emulator))
            }),
        "the run's calls went through the proxy: {seen:?}"
    );
}

/// Apply run in a Lambda function (the runtime's reserved variables set, as Lambda sets them) connected
/// to a VPC the plan seals, through a subnet of it with a group the plan cuts: that VPC's way out and
/// the function's group are left out, naming the function; another VPC is cut; restore is exact.
#[tokio::test(flavor = "multi_thread")]
async fn apply_in_a_lambda_function_inside_a_vpc_it_seals_leaves_out_the_cuts_on_its_own_way_out() {
    let inside = InsideASealedVpc::seed().await;
    let config = inside.emulator.sdk_config(REGION).await;
    let role = aws_sdk_iam::Client::new(&config)
        .create_role()
        .role_name("contain-runtime")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&config);
    lambda
        .create_function()
        .function_name("orders-export")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(role.role().unwrap().arn())
        .handler("index.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(
                    leaky_account::serverless::zip_one_file(
                        "index.py",
                        b"def handler(e, c):\n    pass\n",
                    ),
                ))
                .build(),
        )
        .vpc_config(
            aws_sdk_lambda::types::VpcConfig::builder()
                .subnet_ids(&inside.subnet)
                .security_group_ids(&inside.group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    inside.plan_again();
    inside
        .apply_leaves_out_its_way_and_restores(
            &[
                ("AWS_LAMBDA_FUNCTION_NAME", "orders-export"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                // The runtime's own address: never asked, only a sign the run is in one.
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9"),
            ],
            "hikkonuki runs on Lambda function orders-export (version $LATEST)",
            "its environment and Lambda's GetFunctionConfiguration",
        )
        .await;
}

/// The seeded account planned with one kind that touches no network: where apply runs matters to no
/// cut, only what it says of it.
async fn planned_with_no_network_cut() -> Emulator {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    leaky_account::seed(&config, &[REGION]).await.unwrap();
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--kinds", "iam_ssh_key_deactivate"])
        .assert()
        .code(0);
    emulator
}

/// On a machine whose metadata service does not answer in full (here: its interface's groups answer 404,
/// as a service failing midway), where apply runs is unknown: it is not taken for outside every VPC
/// (which let the instance's own group be cut unsaid); apply says before the review that it cannot
/// tell. With the service turned off, it says nothing.
#[tokio::test(flavor = "multi_thread")]
async fn apply_that_cannot_read_where_its_instance_sits_says_so_before_the_review() {
    let emulator = planned_with_no_network_cut().await;
    let imds = metadata_service("vpc-0unknown", "subnet-0unknown", None);
    emulator
        .apply("plans/p.yaml")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)
        .assert()
        .code(0)
        .stderr(contains(
            format!("this machine looks like an EC2 instance (if it is not one, AWS_EC2_METADATA_DISABLED=true says so), but where it sits could not be read from its instance metadata (/latest/meta-data/network/interfaces/macs/{MAC}/security-group-ids answered HTTP 404)"),
        ));
    emulator
        .apply("plans/p.yaml")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)
        .assert()
        .code(0)
        .stderr(contains("looks like an EC2 instance").not());
}

/// An ECS task metadata endpoint (version 4) on loopback answering `/task` for one `awsvpc` task of the
/// emulator's account whose interface has `mac`, in the shape AWS documents
/// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-metadata-endpoint-v4-fargate-response.html);
/// returns the URL to set as `ECS_CONTAINER_METADATA_URI_V4`. Runs until the test ends.
fn task_metadata_endpoint(task_arn: &str, mac: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v4/0123abcd-task", listener.local_addr().unwrap());
    let task = serde_json::json!({
        "Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/responders",
        "TaskARN": task_arn,
        "Family": "hikkonuki",
        "Revision": "1",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "AvailabilityZone": "us-east-1a",
        "LaunchType": "FARGATE",
        "Containers": [{
            "Name": "hikkonuki",
            "Networks": [{
                "NetworkMode": "awsvpc",
                "IPv4Addresses": ["10.0.1.17"],
                "AttachmentIndex": 0,
                "MACAddress": mac,
                "IPv4SubnetCIDRBlock": "10.0.1.0/24",
            }],
        }],
    })
    .to_string();
    serve(listener, move |_, path| {
        if path == "/v4/0123abcd-task/task" {
            ("200 OK", "Content-Type: application/json\r\n", task.clone())
        } else {
            ("404 Not Found", "", String::new())
        }
    });
    url
}

/// Apply run in an ECS task (Fargate: its own network interface) inside a VPC the plan seals: the task
/// metadata names the task and its interface's MAC address, EC2 the interface's VPC, subnet and group,
/// and apply leaves out the cuts on that way out as for an instance, and cuts the rest.
#[tokio::test(flavor = "multi_thread")]
async fn apply_in_an_ecs_task_inside_a_vpc_it_seals_leaves_out_the_cuts_on_its_own_way_out() {
    let inside = InsideASealedVpc::seed().await;
    // The task's interface, as Fargate makes it in the task's subnet with the task's group.
    let interface = inside
        .ec2
        .create_network_interface()
        .subnet_id(&inside.subnet)
        .groups(&inside.group)
        .description("arn:aws:ecs:us-east-1:123456789012:attachment/0123")
        .send()
        .await
        .unwrap();
    let mac = interface
        .network_interface()
        .and_then(|eni| eni.mac_address())
        .expect("the emulator names the interface's MAC address")
        .to_string();
    let task_arn = "arn:aws:ecs:us-east-1:123456789012:task/responders/0123abcd";
    let endpoint = task_metadata_endpoint(task_arn, &mac);
    inside
        .apply_leaves_out_its_way_and_restores(
            &[("ECS_CONTAINER_METADATA_URI_V4", &endpoint)],
            &format!("hikkonuki runs on ECS task {task_arn}"),
            "its task metadata and network interface",
        )
        .await;
}

/// In an ECS task whose metadata endpoint does not answer, where apply runs is unknown: it says so
/// before the review, rather than take the task for outside every VPC.
#[tokio::test(flavor = "multi_thread")]
async fn apply_in_an_ecs_task_whose_metadata_does_not_answer_says_so() {
    let emulator = planned_with_no_network_cut().await;
    let endpoint = task_metadata_endpoint("unused", "unused");
    emulator
        .apply("plans/p.yaml")
        .env("ECS_CONTAINER_METADATA_URI_V4", format!("{endpoint}-gone"))
        .assert()
        .code(0)
        .stderr(contains(
            "this run is inside an ECS task (ECS_CONTAINER_METADATA_URI_V4 is set), but its network could not be read from the task metadata endpoint (it answered HTTP 404 Not Found): where that is inside a VPC this plan seals",
        ));
}

/// The `cut-reopened` events of a `watch --once --recut --output json` run with `env` (where the machine
/// is read from), by cut ID, and the run's exit status.
fn watched_and_recut(
    emulator: &Emulator,
    env: &[(&str, &str)],
) -> (std::collections::BTreeMap<String, serde_json::Value>, i32) {
    let mut watch = crate::watch::watch_once(emulator);
    watch.args(["--recut", "--output", "json"]);
    for (name, value) in env {
        watch.env(name, value);
    }
    let output = watch.output().unwrap();
    let reopened = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|event| event["event"] == "cut-reopened")
        .map(|event| (event["id"].as_str().unwrap().to_string(), event))
        .collect();
    (reopened, output.status.code().unwrap())
}

/// Watch asks apply's question of each re-cut: on an instance inside a VPC that apply (run from
/// elsewhere) sealed, the cuts of that VPC's way out reopened are not cut again, each saying why, where
/// cutting them again would cut the watch off; another VPC's reopened ACL is cut again.
#[tokio::test(flavor = "multi_thread")]
async fn watch_on_an_instance_inside_a_vpc_does_not_cut_its_own_way_out_again() {
    let inside = InsideASealedVpc::seed().await;
    let emulator = &inside.emulator;
    // Applied from outside every VPC (the emulator's runs read no metadata): all of it cut.
    emulator.apply("plans/p.yaml").assert().code(0);
    assert_ne!(
        acl_entries(&inside.ec2, &inside.own_acl).await,
        inside.own_acl_before
    );
    let undone =
        crate::watch::undo_behind_the_tools_back(emulator, "plans/p.rollback.yaml", &[REGION])
            .await;
    assert_eq!(
        acl_entries(&inside.ec2, &inside.own_acl).await,
        inside.own_acl_before
    );

    let imds = metadata_service(&inside.vpc, &inside.subnet, Some(&inside.group));
    let (reopened, status) = watched_and_recut(
        emulator,
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds),
            ("AWS_EC2_METADATA_DISABLED", "false"),
        ],
    );
    assert_eq!(status, 2, "its own way out stays reopened: {reopened:?}");
    let on_its_way: Vec<&String> = inside
        .on_its_way
        .iter()
        .filter(|id| undone.contains(id))
        .collect();
    assert!(
        on_its_way.len() >= 3,
        "the VPC's ACL, its group and its endpoint at least were undone: {undone:?}"
    );
    for id in on_its_way {
        let failed = reopened[id.as_str()]["recut"]["failed"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} is not re-cut: {:?}", reopened[id.as_str()]));
        assert!(
            failed.starts_with(&format!(
                "not re-cut: hikkonuki runs on EC2 instance i-0bastion in {} (subnet {}, read from its instance metadata)",
                inside.vpc, inside.subnet
            )),
            "{id}: {failed}"
        );
    }
    let other_acl = undone
        .iter()
        .find(|id| id.as_str() == format!("nacl_deny/{REGION}/{}", inside.other_acl))
        .expect("the other VPC's ACL was undone");
    assert_eq!(reopened[other_acl.as_str()]["recut"], "done");
    assert_ne!(
        acl_entries(&inside.ec2, &inside.other_acl).await,
        inside.other_acl_before,
        "another VPC's ACL is sealed again"
    );
    assert_eq!(
        acl_entries(&inside.ec2, &inside.own_acl).await,
        inside.own_acl_before,
        "the machine's own way out stays open"
    );
    assert_eq!(
        endpoint_policy(&inside.ec2, &inside.endpoint).await,
        inside.endpoint_policy_before,
        "the S3 gateway endpoint its calls to S3 go through keeps its policy"
    );
}

/// On an instance whose metadata fails midway, where watch runs is unknown: a reopened network cut is
/// not cut again (it might close watch's own way out), saying why; a reopened IAM key, which closes no
/// network path, is.
#[tokio::test(flavor = "multi_thread")]
async fn watch_that_cannot_read_where_its_instance_sits_cuts_again_only_what_closes_no_network_path()
 {
    let emulator = Emulator::start();
    let config = emulator.sdk_config(REGION).await;
    leaky_account::seed(&config, &[REGION]).await.unwrap();
    let keys = leaky_account::identity::seed(&config).await.unwrap().keys;
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--kinds", "iam_key_deactivate,nacl_deny"])
        .assert()
        .code(0);
    emulator.apply("plans/p.yaml").assert().code(0);
    let undone =
        crate::watch::undo_behind_the_tools_back(&emulator, "plans/p.rollback.yaml", &[REGION])
            .await;
    let acls: Vec<&String> = undone
        .iter()
        .filter(|id| id.starts_with("nacl_deny/"))
        .collect();
    let key = &keys[0];
    let key_cut = format!("iam_key_deactivate/global/{}", key.access_key_id);
    assert!(!acls.is_empty() && undone.contains(&key_cut), "{undone:?}");

    let imds = metadata_service("vpc-0unknown", "subnet-0unknown", None);
    let (reopened, status) = watched_and_recut(
        &emulator,
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds),
            ("AWS_EC2_METADATA_DISABLED", "false"),
        ],
    );
    assert_eq!(status, 2, "the ACLs stay reopened: {reopened:?}");
    assert_eq!(reopened[key_cut.as_str()]["recut"], "done", "{reopened:?}");
    let iam = aws_sdk_iam::Client::new(&config);
    let listed = iam
        .list_access_keys()
        .user_name(&key.user)
        .send()
        .await
        .unwrap();
    let status_now = listed
        .access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(key.access_key_id.as_str()))
        .and_then(|k| k.status())
        .map(|s| s.as_str().to_string());
    assert_eq!(status_now.as_deref(), Some("Inactive"));
    for id in acls {
        let failed = reopened[id.as_str()]["recut"]["failed"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} is not re-cut: {:?}", reopened[id.as_str()]));
        assert!(
            failed.starts_with(&format!("not re-cut: this machine looks like an EC2 instance (if it is not one, AWS_EC2_METADATA_DISABLED=true says so), but where it sits could not be read from its instance metadata (/latest/meta-data/network/interfaces/macs/{MAC}/security-group-ids answered HTTP 404)")),
            "{id}: {failed}"
        );
    }
}

/// Builds a region's network on the emulator, one resource a call, each answering its ID.
struct Network<'a>(&'a aws_sdk_ec2::Client);

impl Network<'_> {
    async fn vpc(&self, cidr: &str) -> String {
        let vpc = self.0.create_vpc().cidr_block(cidr).send().await.unwrap();
        vpc.vpc().unwrap().vpc_id().unwrap().to_string()
    }

    async fn subnet(&self, vpc: &str, cidr: &str) -> String {
        let subnet = self
            .0
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .send()
            .await
            .unwrap();
        subnet.subnet().unwrap().subnet_id().unwrap().to_string()
    }

    /// An internet gateway attached to `vpc`.
    async fn internet_gateway(&self, vpc: &str) -> String {
        let created = self.0.create_internet_gateway().send().await.unwrap();
        let id = created
            .internet_gateway()
            .unwrap()
            .internet_gateway_id()
            .unwrap()
            .to_string();
        self.0
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc)
            .send()
            .await
            .unwrap();
        id
    }

    async fn transit_gateway(&self) -> String {
        let created = self.0.create_transit_gateway().send().await.unwrap();
        created
            .transit_gateway()
            .unwrap()
            .transit_gateway_id()
            .unwrap()
            .to_string()
    }

    /// `vpc` attached to `tgw` by `subnet`: the attachment and the route table the emulator associates
    /// it with (the gateway's default one).
    async fn attach(&self, tgw: &str, vpc: &str, subnet: &str) -> (String, String) {
        let attached = self
            .0
            .create_transit_gateway_vpc_attachment()
            .transit_gateway_id(tgw)
            .vpc_id(vpc)
            .subnet_ids(subnet)
            .send()
            .await
            .unwrap();
        let id = attached
            .transit_gateway_vpc_attachment()
            .and_then(|attachment| attachment.transit_gateway_attachment_id())
            .unwrap()
            .to_string();
        let described = self
            .0
            .describe_transit_gateway_attachments()
            .transit_gateway_attachment_ids(&id)
            .send()
            .await
            .unwrap();
        let table = described.transit_gateway_attachments()[0]
            .association()
            .and_then(|association| association.transit_gateway_route_table_id())
            .expect("the emulator associates an attachment with the gateway's default table")
            .to_string();
        (id, table)
    }

    /// A transit gateway route table's default route, to `attachment`.
    async fn gateway_default_route(&self, table: &str, attachment: &str) {
        self.0
            .create_transit_gateway_route()
            .transit_gateway_route_table_id(table)
            .destination_cidr_block("0.0.0.0/0")
            .transit_gateway_attachment_id(attachment)
            .send()
            .await
            .unwrap();
    }

    /// `vpc`'s main route table's default route, to an internet gateway or a transit gateway.
    async fn default_route(&self, vpc: &str, target: &str) {
        let tables = self
            .0
            .describe_route_tables()
            .filters(filter("vpc-id", vpc))
            .filters(filter("association.main", "true"))
            .send()
            .await
            .unwrap();
        let route = self
            .0
            .create_route()
            .route_table_id(tables.route_tables()[0].route_table_id().unwrap())
            .destination_cidr_block("0.0.0.0/0");
        let route = if target.starts_with("tgw-") {
            route.transit_gateway_id(target)
        } else {
            route.gateway_id(target)
        };
        route.send().await.unwrap();
    }

    /// `vpc`'s (default) network ACL.
    async fn acl_of(&self, vpc: &str) -> String {
        let acls = self
            .0
            .describe_network_acls()
            .filters(filter("vpc-id", vpc))
            .send()
            .await
            .unwrap();
        acls.network_acls()[0].network_acl_id().unwrap().to_string()
    }

    /// `vpc`'s (default) security group.
    async fn group_of(&self, vpc: &str) -> String {
        let groups = self
            .0
            .describe_security_groups()
            .filters(filter("vpc-id", vpc))
            .send()
            .await
            .unwrap();
        groups.security_groups()[0].group_id().unwrap().to_string()
    }
}

/// A spoke VPC whose default route leads through a transit gateway to an egress VPC with the internet
/// gateway (AWS's centralized egress), and the IDs apply needs.
struct CentralizedEgress {
    spoke: String,
    subnet: String,
    group: String,
    egress: String,
    internet_gateway: String,
    transit_gateway: String,
}

async fn centralized_egress(ec2: &aws_sdk_ec2::Client) -> CentralizedEgress {
    let network = Network(ec2);
    let (egress, spoke) = (
        network.vpc("10.10.0.0/16").await,
        network.vpc("10.20.0.0/16").await,
    );
    let egress_subnet = network.subnet(&egress, "10.10.0.0/24").await;
    let subnet = network.subnet(&spoke, "10.20.0.0/24").await;
    let internet_gateway = network.internet_gateway(&egress).await;
    network.default_route(&egress, &internet_gateway).await;
    let transit_gateway = network.transit_gateway().await;
    let (egress_attachment, hub_table) = network
        .attach(&transit_gateway, &egress, &egress_subnet)
        .await;
    network.attach(&transit_gateway, &spoke, &subnet).await;
    network
        .gateway_default_route(&hub_table, &egress_attachment)
        .await;
    network.default_route(&spoke, &transit_gateway).await;
    CentralizedEgress {
        group: network.group_of(&spoke).await,
        spoke,
        subnet,
        egress,
        internet_gateway,
        transit_gateway,
    }
}

/// Apply on an instance in a spoke VPC whose route to the internet leads through a transit gateway to
/// an egress VPC: the egress VPC's seal (its ACL, its route tables, its internet gateway) and the
/// region's Block Public Access are its way out too, left out with the way named; restore gives back
/// the rest. Before, only the spoke's own VPC was judged, and the run detached the egress VPC's
/// internet gateway under itself.
#[tokio::test(flavor = "multi_thread")]
async fn apply_in_a_spoke_vpc_leaves_out_the_seal_of_the_egress_vpc_its_transit_gateway_leads_to() {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;
    let account = centralized_egress(&ec2).await;
    // A VPC on no way of the run's, with an internet gateway of its own: cut as planned.
    let network = Network(&ec2);
    network
        .internet_gateway(&network.vpc("10.30.0.0/16").await)
        .await;
    emulator
        .plan(REGION, "plans/p.yaml")
        .args([
            "--kinds",
            "vpc_block_public_access,nacl_deny,route_remove,igw_detach",
        ])
        .assert()
        .code(0);
    let plan: Value =
        serde_yaml::from_str(&std::fs::read_to_string(emulator.path("plans/p.yaml")).unwrap())
            .unwrap();
    let of_egress: Vec<String> = cuts(&plan)
        .iter()
        .filter(|cut| cut["enabled"].as_bool() == Some(true))
        .filter(|cut| {
            cut["before"]["vpc_id"] == account.egress.as_str()
                || cut["target"] == account.internet_gateway.as_str()
        })
        .map(|cut| cut["id"].as_str().unwrap().to_string())
        .collect();
    let kinds: std::collections::BTreeSet<&str> = of_egress
        .iter()
        .map(|id| id.split('/').next().unwrap())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["igw_detach", "nacl_deny", "route_remove"],
        "the plan seals the egress VPC: {of_egress:?}"
    );
    let egress_acl = network.acl_of(&account.egress).await;
    let egress_acl_before = acl_entries(&ec2, &egress_acl).await;
    let gateways_before = snapshot::internet_gateways(&ec2).await;

    let imds = metadata_service(&account.spoke, &account.subnet, Some(&account.group));
    let mut assert = emulator
        .apply("plans/p.yaml")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)
        .env("AWS_EC2_METADATA_DISABLED", "false")
        .assert()
        .code(0);
    let through = format!(
        "{}, where {}'s route to the internet leads through transit gateway {}",
        account.egress, account.spoke, account.transit_gateway
    );
    for id in &of_egress {
        assert = assert.stderr(contains(format!(
            "{id} is left out: hikkonuki runs on EC2 instance i-0bastion in {} (subnet {}, read from its instance metadata), and this cut closes a path out of {through}: its calls to AWS go out that way, so the run would cut itself off midway, every later cut left undone and no restore possible from there. Run from a machine whose traffic does not leave through {} to cut it",
            account.spoke, account.subnet, account.egress
        )));
    }
    assert.stderr(contains(format!(
        "vpc_block_public_access/{REGION}/123456789012 is left out: hikkonuki runs on EC2 instance i-0bastion in {}",
        account.spoke
    )));
    let gateways_after = snapshot::internet_gateways(&ec2).await;
    assert_eq!(
        gateways_after[&account.internet_gateway], gateways_before[&account.internet_gateway],
        "the egress VPC keeps its internet gateway"
    );
    assert_ne!(
        gateways_after, gateways_before,
        "the bystander VPC's internet gateway is detached"
    );
    assert_eq!(
        acl_entries(&ec2, &egress_acl).await,
        egress_acl_before,
        "the egress VPC's ACL is untouched"
    );

    emulator.restore("plans/p.rollback.yaml").assert().code(0);
    assert_eq!(snapshot::internet_gateways(&ec2).await, gateways_before);
}

/// A spoke whose route to the internet leads to a transit gateway whose default route goes on by a
/// peering attachment (to a gateway of another region, where the egress VPC may be): where its traffic
/// leaves is unknown. Apply says so before the review, naming the attachment, and still leaves out the
/// spoke's own ACL; `watch --recut` on that machine does not seal again in its region, and says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_way_out_through_a_transit_gateway_that_is_not_followed_is_warned_of_and_not_resealed() {
    let emulator = Emulator::start();
    let ec2 = emulator.ec2(REGION).await;
    let network = Network(&ec2);
    let spoke = network.vpc("10.20.0.0/16").await;
    let subnet = network.subnet(&spoke, "10.20.0.0/24").await;
    let (tgw, peer) = (
        network.transit_gateway().await,
        network.transit_gateway().await,
    );
    let (_, hub_table) = network.attach(&tgw, &spoke, &subnet).await;
    let peering = ec2
        .create_transit_gateway_peering_attachment()
        .transit_gateway_id(&tgw)
        .peer_transit_gateway_id(&peer)
        .peer_account_id("123456789012")
        .peer_region(REGION)
        .send()
        .await
        .unwrap();
    let peering = peering
        .transit_gateway_peering_attachment()
        .and_then(|attachment| attachment.transit_gateway_attachment_id())
        .unwrap()
        .to_string();
    network.gateway_default_route(&hub_table, &peering).await;
    network.default_route(&spoke, &tgw).await;
    let spoke_acl = network.acl_of(&spoke).await;
    let spoke_acl_before = acl_entries(&ec2, &spoke_acl).await;
    emulator
        .plan(REGION, "plans/p.yaml")
        .args(["--kinds", "nacl_deny"])
        .assert()
        .code(0);
    let imds = metadata_service(&spoke, &subnet, Some("sg-0bastion"));
    let env = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "false"),
    ];
    let unknown = format!(
        "hikkonuki runs on EC2 instance i-0bastion in {spoke} (subnet {subnet}), but where that subnet's traffic for the internet leaves could not be read (transit gateway route table {hub_table} sends the internet's traffic on by peering attachment {peering}, which hikkonuki does not follow)"
    );
    // Applied from the spoke: warned of; the spoke's own ACL left out, the other VPC's cut.
    let mut apply = emulator.apply("plans/p.yaml");
    for (name, value) in env {
        apply.env(name, value);
    }
    apply
        .assert()
        .code(0)
        .stderr(contains(format!(
            "warning: {unknown}: if it leaves through another VPC this plan seals in {REGION}"
        )))
        .stderr(contains(format!(
            "nacl_deny/{REGION}/{spoke_acl} is left out"
        )));
    assert_eq!(acl_entries(&ec2, &spoke_acl).await, spoke_acl_before);

    // Undone behind the tool's back, watched from the spoke.
    let undone =
        crate::watch::undo_behind_the_tools_back(&emulator, "plans/p.rollback.yaml", &[REGION])
            .await;
    assert!(!undone.is_empty());
    let (reopened, status) = watched_and_recut(&emulator, &env);
    assert_eq!(status, 2, "{reopened:?}");
    for id in &undone {
        let failed = reopened[id.as_str()]["recut"]["failed"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} is not re-cut: {:?}", reopened[id.as_str()]));
        assert!(
            failed.starts_with(&format!(
                "not re-cut: {unknown}, and this seal in {REGION} may close it"
            )),
            "{id}: {failed}"
        );
    }
}
