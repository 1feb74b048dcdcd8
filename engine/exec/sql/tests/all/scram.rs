//! A private PostgreSQL started by this test (the shared server trusts every
//! login, so it cannot tell a right password from a wrong one, and its log
//! is not ours to read). scram-sha-256 on TCP, `log_statement = all`, so the
//! server log shows every statement sent unless a session turns it off.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_core::{Outcome, Sensitive, SqlOp, SqlStatement, Text};
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

    // Every statement was logged but those setting a password (run with
    // logging off), and no password is in the log.
    let log = server.log();
    assert!(log.contains("CREATE DATABASE"), "statement logging is on:\n{log}");
    assert!(
        !log.contains("CREATE ROLE") && !log.contains("PASSWORD"),
        "a password statement was logged:\n{log}"
    );
    for secret in [&first_pw, &second_pw, &ADMIN_PASSWORD.to_string()] {
        assert!(!log.contains(secret.as_str()), "{secret} leaked into the server log:\n{log}");
    }
    drop(app);
}

fn statement(sql: Text) -> SqlOp {
    SqlOp::Statement(SqlStatement { database: None, sql })
}

fn sensitive(sql: String) -> SqlOp {
    statement(Text::Sensitive(Sensitive::new(sql)))
}

#[tokio::test]
async fn sensitive_statements_run_with_statement_logging_off_where_the_role_may_turn_it_off() {
    let server = PrivateServer::start();
    let s = suffix();
    let admin_url = server.url("postgres", ADMIN_PASSWORD, "postgres");
    let admin =
        SqlExecutor::new(SqlConnection::from_url("main", &Sensitive::new(admin_url.clone())).unwrap());

    // A superuser: a sensitive statement (and a failing one, which
    // `log_min_error_statement` would log with its text) stays out of the
    // log; plain statements around it are logged as before.
    let ops = [
        statement(Text::Plain(format!("SELECT 'before_{s}'"))),
        sensitive(format!("SELECT 'secret_ok_{s}'")),
        statement(Text::Plain(format!("SELECT 'after_{s}'"))),
    ];
    let r = admin.run("quiet", &ops).await.unwrap();
    assert!(r.ops.iter().all(|o| o.changes.is_empty()), "{r:?}");
    let failed = admin.run("quiet", &[sensitive(format!("SELECT secret_failing_{s}"))]).await.unwrap_err();
    assert!(failed.to_string().contains("SQLSTATE 42703"), "{failed}");

    // A role that is not a superuser may turn logging off only when granted
    // SET on the parameters; without it the statement runs, logged as the
    // server is configured, and the outcome says so.
    let (granted, plain_role) = (format!("granted_{s}"), format!("plain_{s}"));
    let setup = connect(&admin_url).await.unwrap();
    for role in [&granted, &plain_role] {
        setup.batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD 'pw-{role}'")).await.unwrap();
    }
    setup
        .batch_execute(&format!(
            "GRANT SET ON PARAMETER log_statement, log_min_duration_statement, log_min_error_statement, \
             log_min_messages TO {granted}"
        ))
        .await
        .unwrap();
    let as_role = |role: &str| {
        let url = server.url(role, &format!("pw-{role}"), "postgres");
        SqlExecutor::new(SqlConnection::from_url("main", &Sensitive::new(url)).unwrap())
    };
    let r =
        as_role(&granted).run("quiet", &[sensitive(format!("SELECT 'secret_granted_{s}'"))]).await.unwrap();
    assert!(r.ops[0].changes.is_empty(), "{r:?}");
    let r =
        as_role(&plain_role).run("quiet", &[sensitive(format!("SELECT 'logged_anyway_{s}'"))]).await.unwrap();
    assert_eq!(
        r.ops[0].changes,
        ["server statement logging left as configured for log_statement, log_min_duration_statement, \
          log_min_error_statement, log_min_messages (the role may not set them; GRANT SET ON PARAMETER to it, or make it a superuser)"]
    );

    let log = server.log();
    for logged in [format!("before_{s}"), format!("after_{s}"), format!("logged_anyway_{s}")] {
        assert!(log.contains(&logged), "{logged} should be in the server log:\n{log}");
    }
    for kept_out in [format!("secret_ok_{s}"), format!("secret_failing_{s}"), format!("secret_granted_{s}")] {
        assert!(!log.contains(&kept_out), "{kept_out} reached the server log:\n{log}");
    }
}
