//! Against the shared server on 127.0.0.1:5432 (trust auth: any password logs
//! in, so password checks here compare the stored SCRAM verifier; `scram`
//! logs in for real).

use capstan_core::{Effect, EffectKind, Outcome, Sensitive, SqlOp, SqlRole, SqlStatement, Text};
use capstan_sql::{SqlConnection, SqlError, SqlExecutor, verifier_matches};

use crate::common::{Cleanup, app_ops, connect, outcomes, pg_message, suffix};

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn executor() -> SqlExecutor {
    SqlExecutor::new(SqlConnection::from_url("main", &Sensitive::new(ADMIN)).unwrap())
}

async fn stored_verifier(role: &str) -> String {
    let c = connect(ADMIN).await.unwrap();
    c.query_one("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&role]).await.unwrap().get(0)
}

#[tokio::test]
async fn app_database_flow_creates_then_is_unchanged_then_rotates() {
    let s = suffix();
    let (role, db) = (format!("capstan_app_{s}"), format!("capstan_db_{s}"));
    let _cleanup =
        Cleanup { admin_url: ADMIN.into(), databases: vec![db.clone()], roles: vec![role.clone()] };
    let exec = executor();

    let first = exec.run("databases", &app_ops(&role, &db, "changeThis-1")).await.unwrap();
    assert_eq!(outcomes(&first), [Outcome::Created, Outcome::Created, Outcome::Unchanged, Outcome::Created]);
    assert!(first.changed());

    // The role exists, can log in, owns its database, has the extension there.
    let as_role = connect(&format!("postgres://{role}@127.0.0.1:5432/{db}")).await.unwrap();
    let owner: String = as_role
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, role);
    let ext = as_role.query_opt("SELECT 1 FROM pg_extension WHERE extname = 'pgcrypto'", &[]).await.unwrap();
    assert!(ext.is_some());
    as_role.batch_execute("CREATE TABLE t (id int); DROP TABLE t;").await.unwrap();
    assert!(verifier_matches("changeThis-1", &stored_verifier(&role).await));

    let second = exec.run("databases", &app_ops(&role, &db, "changeThis-1")).await.unwrap();
    assert_eq!(outcomes(&second), [Outcome::Unchanged; 4]);
    assert!(!second.changed());
    let before = stored_verifier(&role).await;

    let third = exec.run("databases", &app_ops(&role, &db, "rotated-2")).await.unwrap();
    assert_eq!(
        outcomes(&third),
        [Outcome::Changed, Outcome::Unchanged, Outcome::Unchanged, Outcome::Unchanged]
    );
    assert_eq!(third.ops[0].changes, ["password rotated"]);
    let after = stored_verifier(&role).await;
    assert_ne!(before, after);
    assert!(verifier_matches("rotated-2", &after) && !verifier_matches("changeThis-1", &after));

    // The summary that goes to state and to the plugin holds no password.
    let json = third.to_json().to_string();
    assert!(!json.contains("rotated-2") && !json.contains("changeThis"), "{json}");
}

#[tokio::test]
async fn an_ensured_database_is_closed_to_every_role_but_its_own_and_stays_closed() {
    let s = suffix();
    let (owner, other, db) = (format!("capstan_o_{s}"), format!("capstan_x_{s}"), format!("capstan_db_{s}"));
    let _cleanup = Cleanup {
        admin_url: ADMIN.into(),
        databases: vec![db.clone()],
        roles: vec![owner.clone(), other.clone()],
    };
    let exec = executor();
    let mut ops = app_ops(&owner, &db, "owner-pw-1");
    ops.push(SqlOp::EnsureRole(SqlRole { name: other.clone(), password: None, login: true }));
    let first = exec.run("databases", &ops).await.unwrap();
    assert_eq!(first.ops[1].outcome, Outcome::Created);
    assert!(first.ops[1].changes.contains(&"revoked CONNECT, TEMPORARY from PUBLIC".to_owned()), "{first:?}");

    let refused = |who: String| {
        let db = db.clone();
        async move {
            connect(&format!("postgres://{who}@127.0.0.1:5432/{db}")).await.map(drop).map_err(pg_message)
        }
    };
    refused(owner.clone()).await.expect("its owner connects");
    let err = refused(other.clone()).await.expect_err("another role is refused");
    assert!(err.contains("permission denied for database"), "{err}");

    // Opened again by hand: the next run closes it and says so.
    let admin = connect(ADMIN).await.unwrap();
    admin.batch_execute(&format!("GRANT CONNECT ON DATABASE {db} TO PUBLIC")).await.unwrap();
    let again = exec.run("databases", &ops).await.unwrap();
    assert_eq!(again.ops[1].outcome, Outcome::Changed);
    assert_eq!(again.ops[1].changes, ["revoked CONNECT from PUBLIC"]);
    let unchanged = exec.run("databases", &ops).await.unwrap();
    assert!(!unchanged.changed(), "{unchanged:?}");
}

#[tokio::test]
async fn owner_login_flag_and_grants_are_corrected() {
    let s = suffix();
    let (a, b, db) = (format!("capstan_a_{s}"), format!("capstan_b_{s}"), format!("capstan_db_{s}"));
    let _cleanup =
        Cleanup { admin_url: ADMIN.into(), databases: vec![db.clone()], roles: vec![a.clone(), b.clone()] };
    let exec = executor();
    exec.run("e", &app_ops(&a, &db, "pw-a")).await.unwrap();

    let ops = vec![
        SqlOp::EnsureRole(SqlRole { name: b.clone(), password: None, login: false }),
        SqlOp::EnsureDatabase(capstan_core::SqlDatabase { name: db.clone(), owner: b.clone() }),
        SqlOp::Grant(capstan_core::SqlGrant {
            privileges: vec!["connect".into()],
            database: db.clone(),
            role: a.clone(),
        }),
    ];
    let r = exec.run("e", &ops).await.unwrap();
    assert_eq!(outcomes(&r), [Outcome::Created, Outcome::Changed, Outcome::Changed]);
    assert_eq!(r.ops[1].changes, [format!("owner {a} → {b}")]);
    assert_eq!(r.ops[2].changes, ["granted CONNECT"]);
    assert_eq!(outcomes(&exec.run("e", &ops).await.unwrap()), [Outcome::Unchanged; 3]);

    // A NOLOGIN role cannot connect, even on a trust server; turning LOGIN on fixes it.
    let url = format!("postgres://{b}@127.0.0.1:5432/postgres");
    let refused = connect(&url).await.err().map(pg_message).unwrap();
    assert!(refused.contains("not permitted to log in"), "{refused}");
    let login = [SqlOp::EnsureRole(SqlRole { name: b.clone(), password: None, login: true })];
    let r = exec.run("e", &login).await.unwrap();
    assert_eq!(r.ops[0].changes, ["login enabled"]);
    connect(&url).await.unwrap();
}

#[tokio::test]
async fn names_are_quoted_not_pasted() {
    let s = suffix();
    let role = format!("capstan \"odd\"; DROP ROLE x; -- {s}");
    let db = format!("capstan-db's {s}");
    let _cleanup =
        Cleanup { admin_url: ADMIN.into(), databases: vec![db.clone()], roles: vec![role.clone()] };
    let exec = executor();
    let r = exec.run("e", &app_ops(&role, &db, "pa'ss\\word")).await.unwrap();
    assert_eq!(r.ops[0].outcome, Outcome::Created);
    assert!(verifier_matches("pa'ss\\word", &stored_verifier(&role).await));
    assert_eq!(
        outcomes(&exec.run("e", &app_ops(&role, &db, "pa'ss\\word")).await.unwrap()),
        [Outcome::Unchanged; 4]
    );
}

#[tokio::test]
async fn errors_name_effect_op_and_server_but_never_a_secret() {
    let exec = executor();
    let s = suffix();
    // A grant to a role that does not exist.
    let ops = [SqlOp::Grant(capstan_core::SqlGrant {
        privileges: vec!["ALL".into()],
        database: "postgres".into(),
        role: format!("capstan_missing_{s}"),
    })];
    let err = exec.run("app-db", &ops).await.unwrap_err().to_string();
    assert!(err.starts_with("effect app-db: grant ALL on database postgres to capstan_missing_"), "{err}");
    assert!(err.contains("does not exist"), "{err}");

    // Unknown privileges are refused before anything runs.
    let ops = [SqlOp::Grant(capstan_core::SqlGrant {
        privileges: vec!["SELECT; DROP".into()],
        database: "postgres".into(),
        role: "postgres".into(),
    })];
    assert!(matches!(exec.run("e", &ops).await, Err(SqlError::InvalidOp { .. })));

    // A failing sensitive statement does not echo the statement.
    let ops = [SqlOp::Statement(SqlStatement {
        database: None,
        sql: Text::Sensitive(Sensitive::new("ALTER ROLE nobody_here PASSWORD 'hunter2' hunter2")),
    })];
    let err = exec.run("e", &ops).await.unwrap_err().to_string();
    assert!(err.contains("statement #0") && err.contains("127.0.0.1:5432/postgres"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // A plain statement's error is shown in full.
    let ops = [SqlOp::Statement(SqlStatement { database: None, sql: Text::Plain("SELEC 1".into()) })];
    let err = exec.run("e", &ops).await.unwrap_err().to_string();
    assert!(err.contains("syntax error"), "{err}");

    // Connection failures name the server, not the URL's password.
    let bad = SqlConnection::from_url(
        "main",
        &Sensitive::new("postgres://postgres:s3cr3t-pw@127.0.0.1:1/postgres"),
    )
    .unwrap();
    let err = SqlExecutor::new(bad).run("e", &ops).await.unwrap_err().to_string();
    assert!(err.contains("main (127.0.0.1:1/postgres)") && !err.contains("s3cr3t-pw"), "{err}");
    let err = SqlConnection::from_url("main", &Sensitive::new("postgres://u:s3cr3t-pw@h:notaport/x"))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cr3t-pw"), "{err}");
}

#[tokio::test]
async fn apply_checks_kind_and_target_and_returns_the_summary() {
    let exec = executor();
    let effect = Effect {
        id: "probe".into(),
        target: "main".into(),
        summary: "SELECT 1".into(),
        kind: EffectKind::Sql(vec![SqlOp::Statement(SqlStatement {
            database: Some("postgres".into()),
            sql: Text::Plain("SELECT 1".into()),
        })]),
    };
    let result = exec.apply(&effect).await.unwrap();
    assert_eq!(result.id, "probe");
    assert_eq!(result.body["ops"][0]["outcome"], "executed");
    assert_eq!(result.body["target"], "main (127.0.0.1:5432/postgres)");
    let mut elsewhere = effect.clone();
    elsewhere.target = "reporting".into();
    assert!(matches!(exec.apply(&elsewhere).await, Err(SqlError::WrongTarget { .. })));
    let mut http = effect;
    http.kind = EffectKind::Http(capstan_core::HttpCall {
        method: "GET".into(),
        path: "/".into(),
        headers: vec![],
        body: None,
    });
    assert!(matches!(exec.apply(&http).await, Err(SqlError::NotSql { kind: "http", .. })));
}

/// Not `#[tokio::test]`: the blocking executor is for plain threads.
#[test]
fn the_blocking_executor_serves_plain_threads_in_parallel() {
    let s = suffix();
    let names: Vec<(String, String)> =
        (0..4).map(|i| (format!("capstan_t{i}_{s}"), format!("capstan_tdb{i}_{s}"))).collect();
    let _cleanup = Cleanup {
        admin_url: ADMIN.into(),
        databases: names.iter().map(|n| n.1.clone()).collect(),
        roles: names.iter().map(|n| n.0.clone()).collect(),
    };
    let exec = capstan_sql::BlockingSqlExecutor::new(executor()).unwrap();
    std::thread::scope(|scope| {
        for (role, db) in &names {
            let exec = &exec;
            scope.spawn(move || {
                let r = exec.run("app-db", &app_ops(role, db, "pw")).unwrap();
                assert_eq!(r.ops[0].outcome, Outcome::Created);
                let again = exec.run("app-db", &app_ops(role, db, "pw")).unwrap();
                assert!(!again.changed());
            });
        }
    });
}

/// As on a managed server: the operator's admin is not a superuser, only
/// CREATEROLE + CREATEDB (what RDS and Cloud SQL give).
#[tokio::test]
async fn a_non_superuser_admin_as_on_managed_servers() {
    let s = suffix();
    let (admin, role, db) =
        (format!("capstan_admin_{s}"), format!("capstan_app_{s}"), format!("capstan_db_{s}"));
    let _cleanup = Cleanup {
        admin_url: ADMIN.into(),
        databases: vec![db.clone()],
        roles: vec![role.clone(), admin.clone()],
    };
    let su = connect(ADMIN).await.unwrap();
    su.batch_execute(&format!("CREATE ROLE {admin} LOGIN CREATEROLE CREATEDB")).await.unwrap();
    let url = format!("postgres://{admin}@127.0.0.1:5432/postgres");
    let exec = SqlExecutor::new(SqlConnection::from_url("managed", &Sensitive::new(url)).unwrap());

    let r = exec.run("app-db", &app_ops(&role, &db, "pw-1")).await.unwrap();
    assert_eq!(r.ops[0].outcome, Outcome::Created);
    assert_eq!(r.ops[1].outcome, Outcome::Created);
    // The membership that hands it the database also lets it close it to PUBLIC.
    assert_eq!(
        r.ops[1].changes,
        [
            format!("granted membership in {role} to {admin} (needed to hand it the database)"),
            "revoked CONNECT, TEMPORARY from PUBLIC".to_owned(),
        ]
    );
    let owner: String = su
        .query_one("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1", &[&db])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owner, role);
    assert!(verifier_matches("pw-1", &stored_verifier(&role).await));

    // pg_authid is hidden from a non-superuser: the password cannot be
    // compared, so it is set again and the summary says why (and that the
    // server's statement logging could not be turned off for it: the
    // verifier is logged if the server logs DDL). Everything else is
    // unchanged.
    let again = exec.run("app-db", &app_ops(&role, &db, "pw-2")).await.unwrap();
    assert_eq!(
        again.ops[0].changes,
        [
            "password set (the current one cannot be read to compare)",
            "server statement logging left as configured for log_statement, log_min_duration_statement, \
             log_min_error_statement, log_min_messages (the role may not set them; GRANT SET ON PARAMETER \
             to it, or make it a superuser)"
        ]
    );
    assert_eq!(outcomes(&again)[1..], [Outcome::Unchanged; 3]);
    assert!(verifier_matches("pw-2", &stored_verifier(&role).await));
}
