//! The `pg_hba` lines capstan/postgres-cloudnative-pg renders, on a real
//! PostgreSQL: each app's user gets into its own database and is refused
//! from the other app's.
//!
//! Each test starts a private server (initdb + pg_ctl, from the Debian
//! PostgreSQL binaries, on a free loopback port, in a temporary directory)
//! whose `pg_hba.conf` is, in order:
//! - `local all all trust`: the test's own setup as the superuser, over the
//!   Unix socket (CloudNativePG's local rules come first too);
//! - the lines the plugin rendered into `Cluster.spec.postgresql.pg_hba`,
//!   unchanged;
//! - `host all all all scram-sha-256`, standing in for the default rule
//!   CloudNativePG writes after the user's (`pkg/postgres/configuration.go`),
//!   which is what would let an app into another's database without the
//!   plugin's `reject` lines.
//!
//! The server has TLS on, with a throwaway self-signed certificate for
//! `localhost` made by `openssl` in the test, and the apps connect with TLS
//! required, verifying that certificate: CloudNativePG always serves TLS, so
//! the rendered `hostssl` lines are kept as they are rather than turned into
//! `host` lines, and a login without TLS is shown to be refused.
//!
//! Two controls prove the checks can fail: without the `reject` lines, or
//! with the names unquoted, an app does get into a database not its own.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use capstan_plugin_postgres_cloudnative_pg::PostgresCloudNativePg;
use capstan_plugin_testsupport::{run, try_run};
use capstan_sdk::testkit::{PlanCall, PlanExt};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

const CONSENT: App = App { key: "oob-consent", database: "oob_consent", user: "oob_consent_user" };
const PAYMENTS: App = App { key: "payments", database: "payments", user: "payments_user" };
/// An app whose database is called like the pg_hba keyword `all`.
const REPORTS: App = App { key: "reports", database: "all", user: "all_user" };

#[derive(Clone, Copy)]
struct App {
    key: &'static str,
    database: &'static str,
    user: &'static str,
}

impl App {
    fn password(self) -> String {
        format!("{}-Pw-9c41", self.key)
    }
}

#[tokio::test]
async fn each_app_user_logs_in_to_its_own_database_only() {
    let hba = rendered_pg_hba(&[CONSENT, PAYMENTS]);
    let server = Server::start(&hba, &[CONSENT, PAYMENTS]).await;

    for (app, other) in [(CONSENT, PAYMENTS), (PAYMENTS, CONSENT)] {
        let client = server.login(app, app.database).await.unwrap();
        let (db, ssl): (String, bool) = {
            let row = client
                .query_one(
                    "SELECT current_database()::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap();
            (row.get(0), row.get(1))
        };
        assert_eq!((db.as_str(), ssl), (app.database, true), "{} in its own database, over TLS", app.user);

        for refused in [other.database, "postgres"] {
            let err = server.login(app, refused).await.err();
            assert_rejected(err, app, refused, "over TLS");
        }
    }

    // The allow lines check the password (scram-sha-256), and want TLS.
    let err = server.login_as(CONSENT.user, "changeThis", CONSENT.database).await.err();
    assert!(err.as_deref().is_some_and(|e| e.contains("password authentication failed")), "{err:?}");
    let err = server.login_without_tls(CONSENT, CONSENT.database).await.err();
    assert_rejected(err, CONSENT, CONSENT.database, "without TLS");
}

/// The control: without the `reject` lines, CloudNativePG's default rule
/// lets an app's user into the other app's database (PUBLIC may connect to
/// a new database). So the test above fails when they are missing.
#[tokio::test]
async fn without_the_reject_lines_an_app_gets_into_the_other_apps_database() {
    let hba: Vec<String> =
        rendered_pg_hba(&[CONSENT, PAYMENTS]).into_iter().filter(|l| !l.ends_with(" reject")).collect();
    assert_eq!(hba.len(), 2, "only the allow lines are left: {hba:?}");
    let server = Server::start(&hba, &[CONSENT, PAYMENTS]).await;
    server.login(CONSENT, PAYMENTS.database).await.unwrap();
}

/// Quoted names: an app whose database is called `all` is let into that
/// database, not into every one.
#[tokio::test]
async fn a_database_named_all_opens_only_itself() {
    let hba = rendered_pg_hba(&[CONSENT, REPORTS]);
    let server = Server::start(&hba, &[CONSENT, REPORTS]).await;
    server.login(REPORTS, REPORTS.database).await.unwrap();
    server.login(CONSENT, CONSENT.database).await.unwrap();
    let err = server.login(REPORTS, CONSENT.database).await.err();
    assert_rejected(err, REPORTS, CONSENT.database, "over TLS");
    let err = server.login(CONSENT, REPORTS.database).await.err();
    assert_rejected(err, CONSENT, REPORTS.database, "over TLS");
}

/// The control for the quoting: unquoted, `hostssl all all_user …` lets
/// that app's user into every database.
#[tokio::test]
async fn unquoted_a_database_named_all_would_open_every_database() {
    let hba: Vec<String> = rendered_pg_hba(&[CONSENT, REPORTS]).iter().map(|l| l.replace('"', "")).collect();
    let server = Server::start(&hba, &[CONSENT, REPORTS]).await;
    server.login(REPORTS, CONSENT.database).await.unwrap();
}

/// `spec.postgresql.pg_hba` of the Cluster the plugin renders for `apps`.
fn rendered_pg_hba(apps: &[App]) -> Vec<String> {
    let inputs: serde_json::Map<String, Value> = apps
        .iter()
        .map(|app| (app.key.to_owned(), json!({ "database": app.database, "password": app.password() })))
        .collect();
    let call = apps
        .iter()
        .fold(PlanCall::new(json!({ "apps": inputs })).component("staging", "opus", "pg"), |call, app| {
            call.sensitive(&format!("/apps/{}/password", app.key))
        });
    let plan = call.run::<PostgresCloudNativePg>().unwrap();
    let lines = &plan.expect_object("Cluster", "pg")["spec"]["postgresql"]["pg_hba"];
    serde_json::from_value(lines.clone()).unwrap()
}

/// The server refused `app` on `database` (logging in `how`), and the
/// refusal is pg_hba's: not a wrong password, not a missing database.
fn assert_rejected(err: Option<String>, app: App, database: &str, how: &str) {
    let err = err.unwrap_or_else(|| panic!("{} got into database {database} {how}", app.user));
    assert!(
        err.contains("pg_hba.conf rejects connection")
            && err.contains(&format!("user \"{}\"", app.user))
            && err.contains(&format!("database \"{database}\"")),
        "{err}"
    );
}

/// A private PostgreSQL with TLS on; stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    tls: MakeRustlsConnect,
}

impl Server {
    /// Starts a server whose pg_hba holds `hba` between the test's
    /// superuser line and CloudNativePG's default, and creates each app's
    /// role (with its password) and database (owned by it), as the
    /// operator does from the Cluster's managed roles and the Database.
    async fn start(hba: &[String], apps: &[App]) -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        if is_root() {
            run(Command::new("chown").args(["postgres:postgres"]).arg(path));
        }

        // A throwaway certificate for `localhost`: not a CA, so rustls takes
        // it as the server's own certificate, and trusts it as its root.
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE", "-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(path.join("server.key"))
            .arg("-out")
            .arg(path.join("server.crt")));
        // PostgreSQL refuses a key others may read.
        std::fs::set_permissions(path.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
        for file in ["server.key", "server.crt"] {
            give_to_server(&path.join(file));
        }

        let data = path.join("data");
        let s = |p: &Path| p.to_str().unwrap().to_owned();
        // Its pg_hba.conf is replaced below.
        pg_tool(&bin, "initdb", &["-D", &s(&data), "-U", "postgres", "-E", "UTF8", "--no-sync"]).unwrap();
        let conf = format!(
            "# The test's setup, as the superuser, over the Unix socket.\n\
             local all all trust\n\
             # Rendered by capstan/postgres-cloudnative-pg (Cluster spec.postgresql.pg_hba).\n\
             {}\n\
             # Stands in for CloudNativePG's default rule, written after the user's.\n\
             host all all all scram-sha-256\n",
            hba.join("\n")
        );
        std::fs::write(data.join("pg_hba.conf"), &conf).unwrap();
        give_to_server(&data.join("pg_hba.conf"));

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={dir} -c fsync=off \
             -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = path.display()
        );
        let log = s(&path.join("server.log"));
        if let Err(e) = pg_tool(&bin, "pg_ctl", &["start", "-w", "-D", &s(&data), "-l", &log, "-o", &options])
        {
            panic!("{e}\nserver log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        }

        let server = Server { tls: tls_trusting(&path.join("server.crt")), dir, bin, port };
        let admin = server.superuser().await;
        // Every line parsed: a line PostgreSQL cannot read would be skipped
        // (or stop the server), and the test would prove nothing about it.
        let errors: Vec<String> = admin
            .query("SELECT line_number || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(errors.is_empty(), "pg_hba.conf:\n{conf}\nerrors: {errors:?}");
        for app in apps {
            // The names are plain identifiers but `all`, which SQL reserves.
            let (user, db) = (format!("\"{}\"", app.user), format!("\"{}\"", app.database));
            admin
                .batch_execute(&format!("CREATE ROLE {user} LOGIN PASSWORD '{}'", app.password()))
                .await
                .unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {db} OWNER {user}")).await.unwrap();
        }
        server
    }

    async fn superuser(&self) -> Client {
        let mut config = Config::new();
        config.host_path(self.dir.path()).port(self.port).user("postgres").dbname("postgres");
        let (client, conn) = config.connect(NoTls).await.unwrap();
        tokio::spawn(conn);
        client
    }

    /// `app` logs in to `database` with its password, TLS required and the
    /// server's certificate verified.
    async fn login(&self, app: App, database: &str) -> Result<Client, String> {
        self.login_as(app.user, &app.password(), database).await
    }

    async fn login_as(&self, user: &str, password: &str, database: &str) -> Result<Client, String> {
        let (client, conn) = self
            .config(user, password, database, SslMode::Require)
            .connect(self.tls.clone())
            .await
            .map_err(message)?;
        tokio::spawn(conn);
        Ok(client)
    }

    async fn login_without_tls(&self, app: App, database: &str) -> Result<Client, String> {
        let (client, conn) = self
            .config(app.user, &app.password(), database, SslMode::Disable)
            .connect(NoTls)
            .await
            .map_err(message)?;
        tokio::spawn(conn);
        Ok(client)
    }

    fn config(&self, user: &str, password: &str, database: &str, ssl: SslMode) -> Config {
        let mut config = Config::new();
        config
            .host("localhost")
            .hostaddr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(database)
            .ssl_mode(ssl);
        config
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // No panic here: it would abort a test already failing.
        let data = self.dir.path().join("data");
        if let Err(e) =
            pg_tool(&self.bin, "pg_ctl", &["stop", "-m", "immediate", "-D", data.to_str().unwrap()])
        {
            eprintln!("{e}");
        }
    }
}

/// A TLS client trusting `cert` only, checking the name, as `sslmode=verify-full` would.
fn tls_trusting(cert: &Path) -> MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// The server's message (tokio-postgres displays a server error as just "db error").
fn message(e: tokio_postgres::Error) -> String {
    e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_owned())
}

/// The newest PostgreSQL the Debian packages installed.
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql/<major>/bin (Debian's postgresql package)")
        .filter_map(|e| {
            let e = e.ok()?;
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().expect("no /usr/lib/postgresql/<major>/bin/initdb").1
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

/// Runs a PostgreSQL tool, as the `postgres` user when we are root.
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> Result<(), String> {
    let program = bin.join(tool);
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&program);
        c
    } else {
        Command::new(&program)
    };
    try_run(command.args(args))
}
