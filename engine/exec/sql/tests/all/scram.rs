//! A private PostgreSQL started by this test (the shared server trusts every
//! login, so it cannot tell a right password from a wrong one). scram-sha-256
//! on TCP, `log_statement = all`, so the server log shows every statement sent.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{Outcome, Sensitive};
use capstan_sql::{SqlConnection, SqlExecutor};

use crate::common::{app_ops, connect, outcomes, pg_message, suffix};

const BIN: &str = "/usr/lib/postgresql/15/bin";
const ADMIN_PASSWORD: &str = "admin-Pw-7f3a";

struct PrivateServer {
    dir: tempfile::TempDir,
    port: u16,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn pg_tool(tool: &str, args: &[&str]) {
    let program = Path::new(BIN).join(tool);
    let output = if is_root() {
        Command::new("runuser").args(["-u", "postgres", "--"]).arg(&program).args(args).output()
    } else {
        Command::new(&program).args(args).output()
    }
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        program.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PrivateServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let out =
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).output().unwrap();
            assert!(out.status.success());
        }
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, ADMIN_PASSWORD).unwrap();
        if is_root() {
            Command::new("chown").args(["postgres:postgres"]).arg(&pwfile).status().unwrap();
        }
        let s = |p: &Path| p.to_str().unwrap().to_string();
        pg_tool(
            "initdb",
            &[
                "-D",
                &s(&data),
                "-U",
                "postgres",
                "--pwfile",
                &s(&pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c log_statement=all -c fsync=off",
            s(dir.path())
        );
        pg_tool(
            "pg_ctl",
            &["start", "-w", "-D", &s(&data), "-l", &s(&dir.path().join("server.log")), "-o", &options],
        );
        PrivateServer { dir, port }
    }

    fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!("postgres://{user}:{password}@127.0.0.1:{}/{db}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        pg_tool("pg_ctl", &["stop", "-m", "immediate", "-D", data.to_str().unwrap()]);
    }
}

#[tokio::test]
async fn passwords_log_in_rotate_and_never_reach_the_server_log() {
    let server = PrivateServer::start();
    let s = suffix();
    let (role, db) = (format!("oob_consent_user_{s}"), format!("oob_consent_{s}"));
    let (first_pw, second_pw) = (format!("first-Secret-{s}"), format!("second-Secret-{s}"));
    let admin =
        SqlConnection::from_url("main", &Sensitive::new(server.url("postgres", ADMIN_PASSWORD, "postgres")))
            .unwrap();
    let exec = SqlExecutor::new(admin);

    let r = exec.run("oob-consent", &app_ops(&role, &db, &first_pw)).await.unwrap();
    assert_eq!(outcomes(&r), [Outcome::Created, Outcome::Created, Outcome::Unchanged, Outcome::Created]);
    // The app logs in with its password, into the database it owns.
    let app = connect(&server.url(&role, &first_pw, &db)).await.unwrap();
    app.batch_execute("CREATE TABLE consent (id int); INSERT INTO consent VALUES (1);").await.unwrap();
    let wrong = connect(&server.url(&role, "changeThis", &db)).await.err().map(pg_message).unwrap();
    assert!(wrong.contains("password authentication failed"), "{wrong}");

    // Same plan again: nothing to do.
    let r = exec.run("oob-consent", &app_ops(&role, &db, &first_pw)).await.unwrap();
    assert_eq!(outcomes(&r), [Outcome::Unchanged; 4]);

    // Rotation: the old password stops working, the new one works.
    let r = exec.run("oob-consent", &app_ops(&role, &db, &second_pw)).await.unwrap();
    assert_eq!(r.ops[0].changes, ["password rotated"]);
    assert!(connect(&server.url(&role, &first_pw, &db)).await.is_err());
    let app = connect(&server.url(&role, &second_pw, &db)).await.unwrap();
    let n: i64 = app.query_one("SELECT count(*) FROM consent", &[]).await.unwrap().get(0);
    assert_eq!(n, 1, "rotation kept the data");

    // Every statement was logged, and no password is in the log.
    let log = server.log();
    assert!(log.contains("CREATE ROLE") && log.contains("ALTER ROLE"), "statement logging is on:\n{log}");
    for secret in [&first_pw, &second_pw, &ADMIN_PASSWORD.to_string()] {
        assert!(!log.contains(secret.as_str()), "{secret} leaked into the server log:\n{log}");
    }
    drop(app);
}
