//! Starts moto in server mode on a free loopback port for one test, and stops it when the test ends.
//!
//! moto is started through `tests/emulator/launch.py`, which first adds hikkonuki's model of the AWS
//! operations moto lacks (`tests/emulator/aws_model/`: our model of AWS, not AWS).
//!
//! The server is found through `HIKKONUKI_MOTO_SERVER` (set by `./test.sh`), else in the virtualenv that
//! `./test.sh` creates. A missing emulator fails the test loudly: an emulator test that silently passes
//! without an emulator would prove nothing.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::Credentials;

pub struct Emulator {
    child: Child,
    pub port: u16,
    pub workdir: tempfile::TempDir,
}

fn moto_server_path() -> PathBuf {
    if let Some(path) = std::env::var_os("HIKKONUKI_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = std::env::var_os("HIKKONUKI_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/hikkonuki/venv")
        });
    venv.join("bin/moto_server")
}

/// The Python of the emulator's virtualenv, which has PyYAML (a dependency of moto): the YAML 1.1 library
/// operators most often edit plans with.
pub fn venv_python() -> PathBuf {
    moto_server_path().with_file_name("python")
}

/// The launcher that installs the AWS model into moto before serving.
fn launcher_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/launch.py")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1")
}

impl Emulator {
    pub fn start() -> Emulator {
        let server = moto_server_path();
        assert!(
            server.exists(),
            "moto_server not found at {} — run ./test.sh, which installs moto into a virtualenv",
            server.display()
        );
        // Another process may take the port between choosing and binding it: try a few.
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(venv_python());
            command
                .arg(launcher_path())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // If the test process dies without unwinding, the kernel still stops the emulator.
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let mut child = command.spawn().expect("moto_server starts");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if answers_http(port) {
                    return Emulator {
                        child,
                        port,
                        workdir: tempfile::tempdir().expect("a temporary directory"),
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: most likely the port was taken
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not come up on loopback after three tries");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for seeding and inspecting the emulator from a test, as the default account.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .load()
            .await
    }

    pub async fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk_config(region).await)
    }

    /// The key store the binary uses here (its HOME is the private directory), to read its rollback files
    /// from a test as the tool does.
    pub fn rollback_keys(&self) -> hikkonuki::journal::keys::KeyStore {
        hikkonuki::journal::keys::KeyStore::in_dir(
            &self
                .workdir
                .path()
                .join(".local/state/hikkonuki/rollback-keys"),
        )
    }

    /// The hikkonuki binary, pointed at this emulator with test credentials, run in a private directory
    /// (so default plan paths land there), never reading the developer's own AWS files.
    pub fn hikkonuki(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("hikkonuki").expect("the binary is built");
        cmd.current_dir(self.workdir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.workdir.path())
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", self.empty_aws_config())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.empty_aws_config())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Where the tests run is not where the runs they start run (an ECS task of CI's).
            .env_remove("ECS_CONTAINER_METADATA_URI_V4")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `hikkonuki plan --regions <regions> --out <out>`; further flags go on with `.args`.
    /// `hikkonuki plan --diff`: every cut printed whole (its reason and before/after), which is what
    /// tests read; the one-screen review is tested on its own.
    pub fn plan(&self, regions: &str, out: &str) -> assert_cmd::Command {
        let mut cmd = self.hikkonuki();
        cmd.args(["plan", "--regions", regions, "--out", out, "--diff"]);
        cmd
    }

    /// `hikkonuki apply <plan> --yes`: there is no terminal to confirm on.
    pub fn apply(&self, plan: &str) -> assert_cmd::Command {
        let mut cmd = self.hikkonuki();
        cmd.args(["apply", plan, "--yes"]);
        cmd
    }

    /// `hikkonuki restore <rollback> --yes`: there is no terminal to confirm on.
    pub fn restore(&self, rollback: &str) -> assert_cmd::Command {
        let mut cmd = self.hikkonuki();
        cmd.args(["restore", rollback, "--yes"]);
        cmd
    }

    /// The same environment as [`Emulator::hikkonuki`], as a plain `std::process::Command` whose AWS calls
    /// go to `endpoint` (e.g. a proxy in front of this emulator): a spawned `Child` can be killed mid-run,
    /// which an assert_cmd command cannot.
    pub fn hikkonuki_std(&self, endpoint: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hikkonuki"));
        cmd.current_dir(self.workdir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.workdir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", self.empty_aws_config())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.empty_aws_config())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Where the tests run is not where the runs they start run (an ECS task of CI's).
            .env_remove("ECS_CONTAINER_METADATA_URI_V4")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// An empty AWS config file, so neither the developer's nor a missing file's warnings get involved.
    fn empty_aws_config(&self) -> PathBuf {
        let path = self.path("aws-config");
        if !path.exists() {
            std::fs::write(&path, "").expect("writing an empty AWS config");
        }
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.workdir.path().join(name)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
