//! Crash safety, proven with SIGKILL: hikkonuki is killed at the worst moment — right after AWS has made a
//! change and before hikkonuki hears back, so the cut (or its undo) happened but its completion was never
//! journaled — after each of its first mutating calls in turn, and restore must still give the account back
//! exactly.
//!
//! The kill comes from a small HTTP/1.1 proxy between hikkonuki and the emulator: it forwards every request,
//! counts the mutating AWS calls, and when the N-th one's response has come back from the emulator it
//! SIGKILLs the child instead of relaying that response. Killing from the proxy, rather than after a timer,
//! makes every kill point exact and repeatable.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use predicates::str::contains;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::emulator::Emulator;
use crate::leaky_account;
use crate::snapshot;

const REGION: &str = "us-east-1";

/// Which mutating calls to kill after, given the calls an uncut run makes, in order. Killing after every
/// call of the leaky account's apply (32 calls, a few seconds each for a re-seed, a plan, a killed run and a
/// restore on two shared cores) would take minutes, so by default the kill points are the first two calls
/// and the first and last call of each distinct AWS action: a kill inside every phase and kind of cut, and
/// at both ends of each run of like calls (about a dozen points). Set `HIKKONUKI_CRASH_EVERY_CALL=1` to kill
/// after every call instead.
fn kill_points(calls: &[String]) -> Vec<usize> {
    if std::env::var_os("HIKKONUKI_CRASH_EVERY_CALL").is_some() {
        return (1..=calls.len()).collect();
    }
    let mut points: Vec<usize> = vec![1, 2];
    for action in calls {
        let first = calls.iter().position(|c| c == action).unwrap() + 1;
        let last = calls.iter().rposition(|c| c == action).unwrap() + 1;
        points.extend([first, last]);
    }
    points.retain(|&n| n <= calls.len());
    points.sort();
    points.dedup();
    points
}

// ---------------------------------------------------------------------------------------------------------
// The killing proxy
// ---------------------------------------------------------------------------------------------------------

/// One HTTP/1.1 message as read off the wire: the start line, the headers in order, the whole body (a
/// chunked body is decoded).
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The message re-framed with a `Content-Length` body, without the hop-by-hop headers, plus `extra`.
    fn to_bytes(&self, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start);
        for (name, value) in &self.headers {
            let hop_by_hop = [
                "content-length",
                "transfer-encoding",
                "connection",
                "expect",
            ]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
            if !hop_by_hop {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        for (name, value) in extra {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// The AWS operation a request calls, if it changes something: the Query protocol's `Action=` form
    /// parameter (EC2, RDS, STS, IAM), a JSON protocol's `X-Amz-Target`, or else any REST request that is not
    /// a GET or HEAD. Describe*, Get* and List* only read.
    fn mutating_action(&self) -> Option<String> {
        let form = self
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
        let action = if form {
            String::from_utf8_lossy(&self.body)
                .split('&')
                .find_map(|pair| pair.strip_prefix("Action="))
                .map(str::to_string)
        } else {
            None
        };
        let action = action
            .or_else(|| {
                self.header("x-amz-target")
                    .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
            })
            .unwrap_or_else(|| self.start.clone());
        let reads = ["Describe", "Get", "List", "GET ", "HEAD "]
            .iter()
            .any(|prefix| action.starts_with(prefix));
        (!reads).then_some(action)
    }
}

/// Reads one message; `None` at a clean end of stream. A response without a length runs to the end of the
/// stream (the upstream side always asks for `Connection: close`).
async fn read_message(
    reader: &mut (impl AsyncBufRead + Unpin),
    is_response: bool,
) -> std::io::Result<Option<Message>> {
    let mut start = String::new();
    if reader.read_line(&mut start).await? == 0 {
        return Ok(None);
    }
    let start = start.trim_end().to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(std::io::ErrorKind::InvalidData)?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut message = Message {
        start,
        headers,
        body: Vec::new(),
    };
    let chunked = message
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let length = message
        .header("content-length")
        .and_then(|l| l.parse::<usize>().ok());
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        message.body.resize(length, 0);
        reader.read_exact(&mut message.body).await?;
    } else if is_response {
        reader.read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

struct Shared {
    upstream: SocketAddr,
    /// Kill after this many mutating calls (1-based), or never.
    kill_after: Option<usize>,
    on_kill: Box<dyn Fn() + Send + Sync>,
    /// The mutating actions forwarded so far, in order.
    mutating: Mutex<Vec<String>>,
    /// Set once the callback has run: nothing is forwarded or relayed after it, unless `keep_serving`.
    tripped: AtomicBool,
    /// After the callback, go on serving normally (for a signal the process survives, like SIGINT).
    keep_serving: bool,
}

/// A forwarding proxy on a free loopback port, served from its own thread and runtime so that a test
/// blocking on a child process can never starve it.
struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(
        upstream_port: u16,
        kill_after: Option<usize>,
        keep_serving: bool,
        on_kill: impl Fn() + Send + Sync + 'static,
    ) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream: SocketAddr::from(([127, 0, 0, 1], upstream_port)),
            kill_after,
            on_kill: Box::new(on_kill),
            mutating: Mutex::new(Vec::new()),
            tripped: AtomicBool::new(false),
            keep_serving,
        });
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn({
            let shared = shared.clone();
            move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the proxy's runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let accept = async {
                        loop {
                            if let Ok((stream, _)) = listener.accept().await {
                                tokio::spawn(serve(stream, shared.clone()));
                            }
                        }
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept => {}
                    }
                });
                // Dropping the runtime drops every connection task and closes its sockets.
            }
        });
        Proxy {
            port,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn mutating_calls(&self) -> Vec<String> {
        self.shared.mutating.lock().unwrap().clone()
    }

    fn tripped(&self) -> bool {
        self.shared.tripped.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One client connection: requests in turn (the SDK keeps connections alive), each over a fresh upstream
/// connection.
async fn serve(client: TcpStream, shared: Arc<Shared>) {
    let mut client = BufReader::new(client);
    while let Ok(Some(request)) = read_message(&mut client, false).await {
        // After the kill, a retry by a dying process must not reach the account.
        if shared.tripped.load(Ordering::SeqCst) && !shared.keep_serving {
            return;
        }
        let mutating = request.mutating_action();
        let Ok(response) = forward(shared.upstream, &request).await else {
            return;
        };
        if let Some(action) = mutating {
            let count = {
                let mut seen = shared.mutating.lock().unwrap();
                seen.push(action);
                seen.len()
            };
            if Some(count) == shared.kill_after {
                // The change is made in the account; for a kill, its response never reaches hikkonuki.
                shared.tripped.store(true, Ordering::SeqCst);
                (shared.on_kill)();
                if !shared.keep_serving {
                    return;
                }
            }
        }
        if shared.tripped.load(Ordering::SeqCst) && !shared.keep_serving {
            return;
        }
        if client
            .get_mut()
            .write_all(&response.to_bytes(&[]))
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn forward(upstream: SocketAddr, request: &Message) -> std::io::Result<Message> {
    let mut stream = TcpStream::connect(upstream).await?;
    stream
        .write_all(&request.to_bytes(&[("Connection", "close")]))
        .await?;
    let mut reader = BufReader::new(stream);
    read_message(&mut reader, true)
        .await?
        .ok_or_else(|| std::io::ErrorKind::UnexpectedEof.into())
}

// ---------------------------------------------------------------------------------------------------------
// The account's state
// ---------------------------------------------------------------------------------------------------------

/// Everything a cut can touch in the region, one line per item, sorted, read with the SDK straight from the
/// emulator: security groups and rules, network ACLs, route tables, every kind of gateway, endpoints,
/// peerings and databases. Only what moves on its own is left out (an RDS instance's latest restorable
/// time, and security-group rule IDs, which AWS renumbers on re-creation).
async fn network_state(emulator: &Emulator) -> String {
    let config = emulator.sdk_config(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let rds = aws_sdk_rds::Client::new(&config);
    let mut lines = Vec::new();
    for (id, group) in snapshot::security_groups(&ec2).await {
        lines.extend(group.into_iter().map(|line| format!("sg {id}: {line}")));
    }
    for (id, text) in snapshot::internet_gateways(&ec2).await {
        lines.push(format!("igw {id}: {text}"));
    }
    for (id, text) in snapshot::vpn_gateways(&ec2).await {
        lines.push(format!("vgw {id}: {text}"));
    }
    for (id, text) in snapshot::vpc_endpoints(&ec2).await {
        lines.push(format!("vpce {id}: {text}"));
    }
    let acls = ec2.describe_network_acls().send().await.unwrap();
    for acl in acls.network_acls() {
        let id = acl.network_acl_id().unwrap();
        let mut acl = acl.clone();
        // Entries and associations in no promised order: one line each.
        let entries = std::mem::take(&mut acl.entries);
        let associations = std::mem::take(&mut acl.associations);
        lines.push(format!("acl {id}: {acl:?}"));
        lines.extend(
            entries
                .iter()
                .flatten()
                .map(|e| format!("acl {id} entry: {e:?}")),
        );
        lines.extend(
            associations
                .iter()
                .flatten()
                .map(|a| format!("acl {id} assoc: {a:?}")),
        );
    }
    let tables = ec2.describe_route_tables().send().await.unwrap();
    for table in tables.route_tables() {
        let id = table.route_table_id().unwrap();
        let mut table = table.clone();
        let routes = std::mem::take(&mut table.routes);
        let associations = std::mem::take(&mut table.associations);
        lines.push(format!("rtb {id}: {table:?}"));
        lines.extend(
            routes
                .iter()
                .flatten()
                .map(|r| format!("rtb {id} route: {r:?}")),
        );
        lines.extend(
            associations
                .iter()
                .flatten()
                .map(|a| format!("rtb {id} assoc: {a:?}")),
        );
    }
    let eigws = ec2
        .describe_egress_only_internet_gateways()
        .send()
        .await
        .unwrap();
    for g in eigws.egress_only_internet_gateways() {
        lines.push(format!("eigw: {g:?}"));
    }
    let nats = ec2.describe_nat_gateways().send().await.unwrap();
    for g in nats.nat_gateways() {
        lines.push(format!("nat: {g:?}"));
    }
    let peerings = ec2.describe_vpc_peering_connections().send().await.unwrap();
    for p in peerings.vpc_peering_connections() {
        lines.push(format!("pcx: {p:?}"));
    }
    let databases = rds.describe_db_instances().send().await.unwrap();
    for db in databases.db_instances() {
        let mut db = db.clone();
        db.latest_restorable_time = None;
        lines.push(format!("rds: {db:?}"));
    }
    lines.sort();
    lines.join("\n") + "\n"
}

/// What a crash test seeds, cuts and compares.
#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// The leaky account's network and database in one region.
    Network,
    /// Everything but the network: IAM users with keys, the mail side (SES identity policy, a sender, the
    /// S3 account block), a Lambda function with a public URL and permissions, a public REST API and a
    /// CloudFront distribution, including kinds whose cuts take several calls (a policy, then a
    /// deployment, then each stage).
    IdentityMailServerlessAndEdge,
}

/// Everything the scenario's cuts can touch, one line per item, read straight from the emulator.
async fn account_state(emulator: &Emulator, scenario: Scenario) -> String {
    match scenario {
        Scenario::Network => network_state(emulator).await,
        Scenario::IdentityMailServerlessAndEdge => {
            let config = emulator.sdk_config(REGION).await;
            let mut lines = Vec::new();
            let functions = aws_sdk_lambda::Client::new(&config);
            let names = functions.list_functions().send().await.unwrap();
            for f in names.functions() {
                let name = f.function_name().unwrap();
                let concurrency = functions
                    .get_function_concurrency()
                    .function_name(name)
                    .send()
                    .await
                    .unwrap();
                lines.push(format!(
                    "lambda {name} concurrency {:?}",
                    concurrency.reserved_concurrent_executions()
                ));
                if let Ok(url) = functions
                    .get_function_url_config()
                    .function_name(name)
                    .send()
                    .await
                {
                    lines.push(format!(
                        "lambda {name} url {:?} {:?}",
                        url.auth_type(),
                        url.cors()
                    ));
                }
                if let Ok(policy) = functions.get_policy().function_name(name).send().await {
                    let statements =
                        crate::lambda::statements_by_sid(policy.policy().unwrap_or_default());
                    lines.push(format!("lambda {name} policy {statements}"));
                }
            }
            lines.extend(iam_and_mail_state(emulator, &config).await);
            let apigw = aws_sdk_apigateway::Client::new(&config);
            for api in apigw.get_rest_apis().send().await.unwrap().items() {
                let id = api.id().unwrap();
                lines.push(format!("api {id} policy {:?}", api.policy()));
                for stage in apigw
                    .get_stages()
                    .rest_api_id(id)
                    .send()
                    .await
                    .unwrap()
                    .item()
                {
                    let settings: std::collections::BTreeMap<_, _> = stage
                        .method_settings()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .collect();
                    lines.push(format!(
                        "api {id} stage {:?} deployment {:?} settings {settings:?}",
                        stage.stage_name(),
                        stage.deployment_id()
                    ));
                }
                let deployments = apigw
                    .get_deployments()
                    .rest_api_id(id)
                    .send()
                    .await
                    .unwrap();
                let mut ids: Vec<_> = deployments.items().iter().filter_map(|d| d.id()).collect();
                ids.sort();
                lines.push(format!("api {id} deployments {ids:?}"));
            }
            let cloudfront = aws_sdk_cloudfront::Client::new(&config);
            let list = cloudfront.list_distributions().send().await.unwrap();
            for d in list
                .distribution_list()
                .map(|l| l.items())
                .unwrap_or_default()
            {
                let config = cloudfront
                    .get_distribution_config()
                    .id(d.id())
                    .send()
                    .await
                    .unwrap();
                lines.push(format!(
                    "distribution {}: {:?}",
                    d.id(),
                    config.distribution_config()
                ));
            }
            lines.sort();
            lines.join("\n") + "\n"
        }
    }
}

/// Every IAM user's keys, SSH keys and inline policies, every role's inline policies, every email
/// identity's sending policies and the S3 account block, one line each.
async fn iam_and_mail_state(emulator: &Emulator, config: &aws_config::SdkConfig) -> Vec<String> {
    let iam = aws_sdk_iam::Client::new(config);
    let mut lines = Vec::new();
    for user in iam.list_users().send().await.unwrap().users() {
        let name = user.user_name();
        let keys = iam.list_access_keys().user_name(name).send().await.unwrap();
        lines.push(format!("user {name} keys {:?}", keys.access_key_metadata()));
        let ssh = iam
            .list_ssh_public_keys()
            .user_name(name)
            .send()
            .await
            .unwrap();
        lines.push(format!("user {name} ssh {:?}", ssh.ssh_public_keys()));
        for policy in iam
            .list_user_policies()
            .user_name(name)
            .send()
            .await
            .unwrap()
            .policy_names()
        {
            let document = iam
                .get_user_policy()
                .user_name(name)
                .policy_name(policy)
                .send()
                .await
                .unwrap();
            lines.push(format!(
                "user {name} policy {policy} {}",
                document.policy_document()
            ));
        }
    }
    for role in iam.list_roles().send().await.unwrap().roles() {
        let name = role.role_name();
        for policy in iam
            .list_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .policy_names()
        {
            let document = iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .unwrap();
            lines.push(format!(
                "role {name} policy {policy} {}",
                document.policy_document()
            ));
        }
    }
    let ses = aws_sdk_sesv2::Client::new(config);
    for identity in ses
        .list_email_identities()
        .send()
        .await
        .unwrap()
        .email_identities()
    {
        let name = identity.identity_name().unwrap_or_default();
        let policies = ses
            .get_email_identity_policies()
            .email_identity(name)
            .send()
            .await
            .unwrap();
        let policies: std::collections::BTreeMap<_, _> = policies
            .policies()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        lines.push(format!("ses {name} policies {policies:?}"));
    }
    let block = crate::mail::s3control(emulator)
        .await
        .get_public_access_block()
        .account_id("123456789012")
        .send()
        .await;
    lines.push(match block {
        Ok(out) => format!(
            "s3 account block {:?}",
            out.public_access_block_configuration()
        ),
        Err(err) => format!(
            "s3 account block error {:?}",
            aws_sdk_s3control::error::ProvideErrorMetadata::code(&err)
        ),
    });
    lines
}

fn assert_same_account(original: &str, now: &str, what: &str) {
    if original != now {
        let diff = similar::TextDiff::from_lines(original, now)
            .unified_diff()
            .context_radius(0)
            .header("seeded", "after restore")
            .to_string();
        panic!("{what}: the account differs from the seeded one:\n{diff}");
    }
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
    }
    let original = account_state(emulator, scenario).await;
    emulator
        .hikkonuki()
        .args([
            "plan",
            "--regions",
            REGION,
            "--out",
            &format!("plans/{name}.yaml"),
        ])
        .assert()
        .code(0);
    original
}

/// Kills the child when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs hikkonuki with `args` through a proxy that SIGKILLs it after `kill_after` mutating calls (or
/// never). Returns how it ended, the mutating calls that reached the emulator, and its output.
fn run_through_proxy(
    emulator: &Emulator,
    args: &[&str],
    kill_after: Option<usize>,
    log: &str,
) -> (ExitStatus, Vec<String>, String) {
    run_through_proxy_signalling(emulator, args, kill_after, libc::SIGKILL, log)
}

/// As [`run_through_proxy`], sending `signal` instead of SIGKILL. For SIGINT (what Ctrl-C sends) the
/// proxy relays the response and goes on serving, as a live network would.
fn run_through_proxy_signalling(
    emulator: &Emulator,
    args: &[&str],
    kill_after: Option<usize>,
    signal: i32,
    log: &str,
) -> (ExitStatus, Vec<String>, String) {
    let victim = Arc::new(AtomicI32::new(0));
    let proxy = Proxy::start(emulator.port, kill_after, signal != libc::SIGKILL, {
        let victim = victim.clone();
        move || {
            let pid = victim.load(Ordering::SeqCst);
            assert!(pid > 0, "the proxy saw a call before the child was started");
            unsafe {
                libc::kill(pid, signal);
            }
        }
    });
    let out = File::create(emulator.path(log)).unwrap();
    // One call at a time, so "killed after the N-th mutating call" names one exact point of the run.
    let child = emulator
        .hikkonuki_std(&proxy.endpoint())
        .args(args)
        .args(["--parallelism", "1"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("hikkonuki starts");
    let mut child = Running(child);
    victim.store(child.0.id() as i32, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "hikkonuki {args:?} did not end within two minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let calls = proxy.mutating_calls();
    assert_eq!(
        proxy.tripped(),
        kill_after.is_some_and(|n| n <= calls.len()),
        "the proxy kills exactly when its count is reached"
    );
    drop(proxy);
    let output = std::fs::read_to_string(emulator.path(log)).unwrap_or_default();
    (status, calls, output)
}

fn assert_killed(status: ExitStatus, what: &str, output: &str) {
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{what} was killed by SIGKILL, not {status:?}; its output:\n{output}"
    );
}

/// The lock a killed run leaves is reported as stale, not taken over; the operator removes it, as the
/// message says, before running again.
fn clear_stale_lock(emulator: &Emulator, rollback: &str) {
    let lock = emulator.path(&format!("{rollback}.lock"));
    assert!(lock.exists(), "a killed run leaves its lock: {lock:?}");
    emulator
        .hikkonuki()
        .args(["restore", rollback, "--yes"])
        .assert()
        .code(1)
        .stderr(contains("which is no longer running"));
    std::fs::remove_file(&lock).unwrap();
}

/// Runs restore straight against the emulator; returns its standard output. Session revocations are
/// lifted too (the serverless scenario's Lambda role gets one), so the whole account can be compared.
fn restore_directly(emulator: &Emulator, rollback: &str, what: &str) -> String {
    let output = emulator
        .hikkonuki()
        .args(["restore", rollback, "--yes", "--lift-session-revocation"])
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

fn rollback_file(emulator: &Emulator, rollback: &str) -> String {
    std::fs::read_to_string(emulator.path(rollback)).unwrap_or_else(|e| format!("({e})"))
}

// ---------------------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------------------

/// Kills apply after each chosen mutating call in turn (see [`kill_points`]), each time on a fresh seed,
/// then restores and compares the whole scenario with what was seeded.
async fn kill_apply_at_each_point_then_restore(scenario: Scenario) {
    let emulator = Emulator::start();

    // An uncut run through the proxy: the proxy is transparent, and this is how many calls a full apply makes.
    let original = seed_scenario_and_plan(&emulator, scenario, "full").await;
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["apply", "plans/full.yaml", "--yes"],
        None,
        "full.apply.log",
    );
    assert!(status.success(), "an uncut apply succeeds:\n{output}");
    assert!(
        calls.len() >= 2,
        "a full apply makes several mutating calls: {calls:?}"
    );
    restore_directly(&emulator, "plans/full.rollback.yaml", "uncut apply");
    assert_same_account(
        &original,
        &account_state(&emulator, scenario).await,
        "uncut apply + restore",
    );
    eprintln!(
        "a full apply makes {} mutating calls: {calls:?}",
        calls.len()
    );

    let points = kill_points(&calls);
    eprintln!("killing apply after mutating calls {points:?}");
    for n in points {
        let name = format!("p{n}");
        let rollback = format!("plans/{name}.rollback.yaml");
        let original = seed_scenario_and_plan(&emulator, scenario, &name).await;
        let plan = format!("plans/{name}.yaml");
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &["apply", &plan, "--yes"],
            Some(n),
            &format!("{name}.apply.log"),
        );
        let what = format!(
            "apply killed after mutating call {n} ({})",
            seen.last().map(String::as_str).unwrap_or("?")
        );
        assert_killed(status, &what, &output);
        assert_eq!(seen.len(), n, "{what}: {seen:?}");
        let journal = rollback_file(&emulator, &rollback);

        clear_stale_lock(&emulator, &rollback);
        let stdout = restore_directly(&emulator, &rollback, &what);
        // The kill came between the call and its journaled completion: restore must know it is unsure.
        assert!(
            stdout.contains("its completion was not recorded"),
            "{what}: the last cut has an intent and no completion\n{stdout}"
        );
        let now = account_state(&emulator, scenario).await;
        if now != original {
            eprintln!("{what}: the rollback file as the killed apply left it:\n{journal}");
        }
        assert_same_account(&original, &now, &what);
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
async fn restore_killed_midway_then_run_again_finishes_the_job() {
    let emulator = Emulator::start();

    // An uncut restore through the proxy: how many calls a full restore makes.
    let original = seed_and_plan(&emulator, "full").await;
    emulator
        .hikkonuki()
        .args(["apply", "plans/full.yaml", "--yes"])
        .assert()
        .code(0);
    let (status, calls, output) = run_through_proxy(
        &emulator,
        &["restore", "plans/full.rollback.yaml", "--yes"],
        None,
        "full.restore.log",
    );
    assert!(status.success(), "an uncut restore succeeds:\n{output}");
    assert_same_account(
        &original,
        &account_state(&emulator, Scenario::Network).await,
        "uncut restore through the proxy",
    );
    let total = calls.len();
    assert!(
        total >= 2,
        "a full restore makes several mutating calls: {calls:?}"
    );
    eprintln!("a full restore makes {total} mutating calls: {calls:?}");

    // The last kill point is the last call: its undo is done but not journaled, so the second run meets a
    // cut already given back.
    let points = kill_points(&calls);
    eprintln!("killing restore after mutating calls {points:?}");
    for k in points {
        let name = format!("r{k}");
        let rollback = format!("plans/{name}.rollback.yaml");
        let original = seed_and_plan(&emulator, &name).await;
        emulator
            .hikkonuki()
            .args(["apply", &format!("plans/{name}.yaml"), "--yes"])
            .assert()
            .code(0);
        let (status, seen, output) = run_through_proxy(
            &emulator,
            &["restore", &rollback, "--yes"],
            Some(k),
            &format!("{name}.restore.log"),
        );
        let what = format!(
            "restore killed after mutating call {k} of {total} ({})",
            seen.last().map(String::as_str).unwrap_or("?")
        );
        assert_killed(status, &what, &output);
        assert_eq!(seen.len(), k, "{what}: {seen:?}");
        let journal = rollback_file(&emulator, &rollback);

        clear_stale_lock(&emulator, &rollback);
        restore_directly(&emulator, &rollback, &what);
        let now = account_state(&emulator, Scenario::Network).await;
        if now != original {
            eprintln!("{what}: the rollback file as the killed restore left it:\n{journal}");
        }
        assert_same_account(&original, &now, &what);
    }
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
    let lock = emulator.path("plans/resume.rollback.yaml.lock");
    std::fs::remove_file(&lock).unwrap();

    // The same apply again: it resumes; the cut in flight (a NACL cut makes one call per entry, so it was
    // left half-done) is rewound and cut again, and the rest proceeds.
    emulator
        .hikkonuki()
        .args(["apply", "plans/resume.yaml", "--yes"])
        .assert()
        .code(0)
        .stdout(contains(
            "Resuming the apply recorded in plans/resume.rollback.yaml",
        ))
        .stdout(contains(" 0 failed, "));
    // Nothing is left to cut: a fresh plan proposes only the cuts that stay disabled.
    emulator
        .hikkonuki()
        .args([
            "plan",
            "--regions",
            "us-east-1",
            "--out",
            "plans/after.yaml",
        ])
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
    assert!(
        !emulator.path("plans/sigint.rollback.yaml.lock").exists(),
        "a clean stop releases its lock"
    );
    let (contents, warnings) =
        hikkonuki::journal::read(&emulator.path("plans/sigint.rollback.yaml"), false).unwrap();
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
        .hikkonuki()
        .args(["apply", "plans/sigint.yaml", "--yes"])
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
