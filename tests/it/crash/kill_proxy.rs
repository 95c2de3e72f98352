//! The killing proxy: a small HTTP/1.1 proxy on loopback between hikkonuki and the emulator. It forwards every
//! request, counts the mutating AWS calls, and when the N-th one's response has come back from the emulator
//! it signals the child instead of relaying that response. Or, refusing ([`run_refusing`]), it answers the
//! N-th mutating call itself with EC2's `UnauthorizedOperation` and never forwards it: a call AWS refused.

use std::fs::File;
use std::net::SocketAddr;
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::emulator::Emulator;

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
    /// a GET or HEAD. Describe*, Get*, List* and Lookup* only read.
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
        // CloudTrail's LookupEvents (watch asks who changed a cut) only reads, too.
        let reads = ["Describe", "Get", "List", "Lookup", "GET ", "HEAD "]
            .iter()
            .any(|prefix| action.starts_with(prefix));
        // A REST read sent as POST (`POST /v2/email/list-identities`): apply now reads during discovery
        // too (it derives each cut's effect again), and such a read must not count as a cut's call.
        let rest_read = action
            .split_whitespace()
            .nth(1)
            .and_then(|path| path.split('?').next())
            .and_then(|path| path.rsplit('/').next())
            .is_some_and(|last| {
                ["list-", "get-", "describe-"]
                    .iter()
                    .any(|prefix| last.starts_with(prefix))
            });
        (!reads && !rest_read).then_some(action)
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
    /// The mutating actions forwarded so far, in order, each with when its request arrived.
    mutating: Mutex<Vec<(String, SystemTime)>>,
    /// Set once the callback has run: nothing is forwarded or relayed after it, unless `keep_serving`.
    tripped: AtomicBool,
    /// After the callback, go on serving normally (for a signal the process survives, like SIGINT).
    keep_serving: bool,
    /// Refuse this mutating call (1-based, counting the refused one) without forwarding it.
    refuse_at: Option<usize>,
    /// The mutating calls refused.
    refused: Mutex<Vec<String>>,
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
        refuse_at: Option<usize>,
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
            refuse_at,
            refused: Mutex::new(Vec::new()),
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

    fn mutating_calls(&self) -> Vec<(String, SystemTime)> {
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
        let mutating = request
            .mutating_action()
            .map(|action| (action, SystemTime::now()));
        if let (Some((action, _)), Some(refuse_at)) = (&mutating, shared.refuse_at) {
            let nth =
                shared.mutating.lock().unwrap().len() + shared.refused.lock().unwrap().len() + 1;
            if nth == refuse_at {
                shared.refused.lock().unwrap().push(action.clone());
                if client
                    .get_mut()
                    .write_all(&unauthorized().to_bytes(&[]))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
        }
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

/// EC2's answer to a call the caller may not make: HTTP 403 with the query protocol's error document
/// (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html>,
/// `UnauthorizedOperation`).
fn unauthorized() -> Message {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. (refused by the test's proxy)</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>";
    Message {
        start: "HTTP/1.1 403 Forbidden".into(),
        headers: vec![("Content-Type".into(), "text/xml;charset=UTF-8".into())],
        body: body.as_bytes().to_vec(),
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
pub(super) fn run_through_proxy(
    emulator: &Emulator,
    args: &[&str],
    kill_after: Option<usize>,
    log: &str,
) -> (ExitStatus, Vec<String>, String) {
    run_through_proxy_signalling(emulator, args, kill_after, libc::SIGKILL, log)
}

/// As [`run_through_proxy`], sending `signal` instead of SIGKILL. For SIGINT (what Ctrl-C sends) the
/// proxy relays the response and goes on serving, as a live network would.
pub(super) fn run_through_proxy_signalling(
    emulator: &Emulator,
    args: &[&str],
    kill_after: Option<usize>,
    signal: i32,
    log: &str,
) -> (ExitStatus, Vec<String>, String) {
    let (status, calls, output) = run_timed(emulator, args, kill_after, signal, log);
    let calls = calls.into_iter().map(|call| call.action).collect();
    (status, calls, output)
}

/// A mutating call the proxy forwarded: the AWS action, and when its request reached the proxy (after
/// hikkonuki journaled the intent it belongs to).
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub action: String,
    pub at: SystemTime,
}

/// As [`run_through_proxy`], with when each mutating call arrived, so that each can be told apart by the
/// cut whose intent the rollback file wrote before it.
pub(super) fn run_through_proxy_timed(
    emulator: &Emulator,
    args: &[&str],
    kill_after: Option<usize>,
    log: &str,
) -> (ExitStatus, Vec<Call>, String) {
    run_timed(emulator, args, kill_after, libc::SIGKILL, log)
}

fn run_timed(
    emulator: &Emulator,
    args: &[&str],
    kill_after: Option<usize>,
    signal: i32,
    log: &str,
) -> (ExitStatus, Vec<Call>, String) {
    let victim = Arc::new(AtomicI32::new(0));
    let proxy = Proxy::start(emulator.port, kill_after, signal != libc::SIGKILL, None, {
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
    let calls = calls
        .into_iter()
        .map(|(action, at)| Call { action, at })
        .collect();
    (status, calls, output)
}

/// Runs hikkonuki with `args` (one call at a time) through a proxy that refuses its `refuse_at`-th mutating
/// call as AWS refuses a call the caller may not make, and forwards every other. Returns how it ended, the
/// mutating calls forwarded, those refused, and its output.
pub(super) fn run_refusing(
    emulator: &Emulator,
    args: &[&str],
    refuse_at: usize,
    log: &str,
) -> (ExitStatus, Vec<String>, Vec<String>, String) {
    let proxy = Proxy::start(emulator.port, None, true, Some(refuse_at), || {});
    let out = File::create(emulator.path(log)).unwrap();
    let status = emulator
        .hikkonuki_std(&proxy.endpoint())
        .args(args)
        .args(["--parallelism", "1"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .status()
        .expect("hikkonuki runs");
    let forwarded = proxy
        .mutating_calls()
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    let refused = proxy.shared.refused.lock().unwrap().clone();
    drop(proxy);
    let output = std::fs::read_to_string(emulator.path(log)).unwrap_or_default();
    (status, forwarded, refused, output)
}
