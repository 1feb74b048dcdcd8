//! Test support (feature `test-registry`): a real OCI registry — Debian's
//! `docker-registry` (distribution 2.8, installed by tests/setup.sh) — on a
//! free loopback port with its own storage directory and config, stopped
//! on drop. The machine's registry service is never used.
//!
//! [`LocalRegistry::start_with_token_auth`] puts a token server in front, as
//! registries on the internet have (`token_server.py`, the distribution
//! spec's token protocol, RS256 tokens the registry verifies against its
//! own certificate bundle).
//!
//! A missing `docker-registry` fails the test with the reason; it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support fails loudly")]

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running registry.
pub struct LocalRegistry {
    child: Child,
    token_server: Option<Child>,
    /// `127.0.0.1:<port>`, as a reference or a plugin_source url names it.
    pub host: String,
    storage: tempfile::TempDir,
}

impl LocalRegistry {
    /// A registry anyone may pull from and push to.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// A registry that wants this login for everything (htpasswd, basic auth).
    pub fn start_with_login(user: &str, password: &str) -> Self {
        Self::spawn(Some((user, password)))
    }

    /// A registry that accepts only bearer tokens, which a token server on
    /// another port issues for this login (anonymous requests get none).
    pub fn start_with_token_auth(user: &str, password: &str) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let dir = storage.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap_or_else(|e| panic!("cannot run openssl: {e} (tests/setup.sh installs it)"));
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            out.stdout
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=capstan-test-token-issuer",
        ]);
        // A PEM body is the base64 of the DER certificate, which is what x5c holds.
        let pem = std::fs::read_to_string(dir.join("cert.pem")).unwrap();
        let cert_b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let script = dir.join("token_server.py");
        std::fs::write(&script, include_str!("token_server.py")).unwrap();
        let (issuer, service) = ("capstan-test-issuer", "capstan-test-registry");
        let mut server = Command::new("python3")
            .arg(&script)
            .args([dir.join("key.pem").to_str().unwrap(), &cert_b64, issuer, service, user, password])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (tests/setup.sh installs it)");
        let mut port = String::new();
        std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut port).unwrap();
        let auth = format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {service}\n    issuer: {issuer}\n    \
             rootcertbundle: {}\n",
            port.trim(),
            dir.join("cert.pem").display()
        );
        let mut registry = Self::spawn_in(storage, &auth);
        registry.token_server = Some(server);
        registry
    }

    fn spawn(login: Option<(&str, &str)>) -> Self {
        let storage = tempfile::tempdir().unwrap();
        let auth = match login {
            Some((user, password)) => {
                let file = storage.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{}\n", bcrypt(password))).unwrap();
                format!("auth:\n  htpasswd:\n    realm: capstan-test\n    path: {}\n", file.display())
            }
            None => String::new(),
        };
        Self::spawn_in(storage, &auth)
    }

    fn spawn_in(storage: tempfile::TempDir, auth: &str) -> Self {
        let config = storage.path().join("config.yml");
        // Port 0: the registry picks a free port and logs it ("listening on …").
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\n  formatter: text\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
            storage.path().join("data").display()
        );
        yaml.push_str(auth);
        std::fs::write(&config, yaml).unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start docker-registry: {e} (run tests/setup.sh: apt-get install docker-registry)"
                )
            });
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps reading after the address is found, so the registry never
        // blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on ").nth(1) {
                    let addr = addr.split(['"', ' ']).next().unwrap_or_default().to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(addr));
                    }
                } else if (line.contains("level=fatal") || line.contains("level=panic"))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(Err(line));
                }
            }
        });
        let host = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(addr)) => addr,
            Ok(Err(line)) => panic!("docker-registry failed to start: {line}"),
            Err(_) => panic!("docker-registry did not say where it listens within 30 s"),
        };
        Self { child, token_server: None, host, storage }
    }

    /// Where the registry keeps the blob `sha256:<hex>` on disk, so a test
    /// can change what it serves behind its back.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// A plain GET of `/v2/<path>` (anonymous), for looking at what is stored.
    pub fn get(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        let resp = crate::net::client()
            .unwrap()
            .get(format!("http://{}/v2/{path}", self.host))
            .header("accept", accept)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.bytes().unwrap().to_vec())
    }
}

impl LocalRegistry {
    /// Stores an arbitrary one-layer artifact (anonymous registry only), to
    /// show what a source does with things `plugin push` never writes.
    pub fn push_raw(&self, repo: &str, tag: &str, config_type: &str, config: &[u8], layer: &[u8]) {
        let http = crate::net::client().unwrap();
        let base = format!("http://{}/v2/{repo}", self.host);
        for blob in [config, layer] {
            let resp = http.post(format!("{base}/blobs/uploads/")).send().unwrap();
            assert_eq!(resp.status().as_u16(), 202, "start upload");
            let location = resp.headers()["location"].to_str().unwrap().to_string();
            let sep = if location.contains('?') { '&' } else { '?' };
            let digest = crate::manifest::sha256_digest(blob);
            let resp =
                http.put(format!("{location}{sep}digest={digest}")).body(blob.to_vec()).send().unwrap();
            assert_eq!(resp.status().as_u16(), 201, "finish upload");
        }
        let descriptor = |media_type: &str, blob: &[u8]| serde_json::json!({"mediaType": media_type, "digest": crate::manifest::sha256_digest(blob), "size": blob.len()});
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::oci::MANIFEST_MEDIA_TYPE,
            "config": descriptor(config_type, config),
            "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
        });
        let resp = http
            .put(format!("{base}/manifests/{tag}"))
            .header("content-type", crate::oci::MANIFEST_MEDIA_TYPE)
            .body(manifest.to_string())
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "put manifest");
    }
}

/// A bcrypt hash, the only kind distribution's htpasswd accepts (Python's
/// `crypt` module with glibc's bcrypt; tests/setup.sh installs python3).
fn bcrypt(password: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            password,
        ])
        .output()
        .expect("python3 runs");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(hash.starts_with("$2"), "no bcrypt hash from python3: {}", String::from_utf8_lossy(&out.stderr));
    hash
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.token_server.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
