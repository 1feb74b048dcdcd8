//! Test harness: tools, real local servers, and small helpers.
//!
//! `tool()` finds a binary, running `tests/services.sh install` once if any
//! is missing; if it is still missing the test FAILS with the reason (it
//! never skips). Servers start on a free loopback port, are polled until they
//! answer, and are killed when their handle drops.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use capstan_aws::testing::{Moto, REGION};
use capstan_secrets::Env;

const TOOLS: &[&str] = &["age", "age-keygen", "moto_server", "bao"];

fn services_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services.sh")
}

/// Python's scripts directory, where pip puts `moto_server` and `bao`.
fn python_scripts_dir() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
        .ok()?;
    Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()))
}

fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(python_scripts_dir());
    dirs
}

fn find(name: &str) -> Option<PathBuf> {
    search_path().into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// The path of `name`, installing the test tools once if needed.
pub fn tool(name: &str) -> PathBuf {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Some(path) = find(name) {
        return path;
    }
    let installed = INSTALLED.get_or_init(|| {
        if TOOLS.iter().all(|t| find(t).is_some()) {
            return Ok(());
        }
        let out = Command::new("sh")
            .arg(services_script())
            .arg("install")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", services_script().display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} install failed ({}):\nstdout:\n{}\nstderr:\n{}",
                services_script().display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = installed {
        panic!("test tool `{name}` is not installed and could not be installed: {e}");
    }
    find(name).unwrap_or_else(|| {
        panic!(
            "test tool `{name}` is missing even after `{} install`; these tests need it and do not skip",
            services_script().display()
        )
    })
}

/// Runs a command, failing the test with command, stdout and stderr if it fails.
pub fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(name: &str, mut cmd: Command, port: u16, ready_path: &str) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join(format!("{name}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        // HOME is private so a dev server never touches the real ~/.vault-token.
        cmd.env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let mut server = Server { child, url: format!("http://127.0.0.1:{port}"), log, _dir: dir };
        server.wait_ready(name, ready_path);
        server
    }

    fn wait_ready(&mut self, name: &str, path: &str) {
        let client = http();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{name} exited early ({status}); log:\n{}", self.log_text());
            }
            if let Ok(r) = client.get(format!("{}{path}", self.url)).send()
                && r.status().is_success()
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("{name} did not answer on {} within 60s; log:\n{}", self.url, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` on a free port (capstan-aws's harness), installed first if
/// missing. With `auth_after = Some(n)`, moto checks IAM credentials and
/// SigV4 signatures after the first `n` requests
/// (`INITIAL_NO_AUTH_ACTION_COUNT`), which the tests use to seed data.
pub fn moto(auth_after: Option<u32>) -> Moto {
    tool("moto_server");
    auth_after.map_or_else(Moto::start, Moto::start_with_auth)
}

/// `moto_server -s`: HTTPS with a self-signed certificate nobody trusts.
pub fn moto_tls() -> Moto {
    tool("moto_server");
    Moto::start_tls()
}

pub const BAO_ROOT_TOKEN: &str = "capstan-test-root";

/// `bao server -dev` on a free port, KV v2 mounted at `secret/`.
pub fn bao() -> Server {
    let port = free_port();
    let mut cmd = Command::new(tool("bao"));
    cmd.args([
        "server",
        "-dev",
        &format!("-dev-root-token-id={BAO_ROOT_TOKEN}"),
        &format!("-dev-listen-address=127.0.0.1:{port}"),
        "-dev-no-store-token",
    ]);
    Server::start("bao", cmd, port, "/v1/sys/health")
}

pub fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().expect("http client")
}

/// An environment for AWS sources pointed at `server`, with no HOME (so no
/// profile file is read by accident).
pub fn aws_env(server: &Moto, key_id: &str, secret: &str) -> Env {
    Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", server.url.as_str()),
    ])
}

/// A fresh temp dir with a new identity at `<dir>/keys.txt`.
pub struct Operator {
    pub dir: tempfile::TempDir,
    pub identity: PathBuf,
    pub recipient: String,
}

pub fn operator() -> Operator {
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = dir.path().join("keys/keys.txt");
    let recipient = capstan_secrets::keygen(&identity).expect("keygen");
    Operator { dir, identity, recipient }
}

/// A loopback port nobody listens on.
pub fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}
