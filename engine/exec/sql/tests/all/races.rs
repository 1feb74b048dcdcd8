//! Two creators of one object at once, against the shared server: parallel
//! executors (as parallel applies run them), and another session that
//! creates the object between an executor's look and its create.

use std::time::{Duration, Instant};

use capstan_core::{Outcome, Sensitive, SqlExtension, SqlOp, SqlRole};
use capstan_sql::{SqlConnection, SqlExecutor, verifier_matches};

use crate::common::{Cleanup, app_ops, connect, suffix};

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PARALLEL: usize = 8;

fn executor() -> SqlExecutor {
    SqlExecutor::new(SqlConnection::from_url("main", &Sensitive::new(ADMIN)).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_executors_ensuring_the_same_objects_all_succeed_and_one_creates_each() {
    // Several rounds with fresh names: each round starts every executor at
    // once, so their looks and creates interleave differently.
    for _ in 0..3 {
        let s = suffix();
        let (role, db) = (format!("capstan_race_{s}"), format!("capstan_racedb_{s}"));
        let _cleanup =
            Cleanup { admin_url: ADMIN.into(), databases: vec![db.clone()], roles: vec![role.clone()] };
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARALLEL));
        let runs: Vec<_> = (0..PARALLEL)
            .map(|_| {
                let (role, db, barrier) = (role.clone(), db.clone(), barrier.clone());
                tokio::spawn(async move {
                    let exec = executor();
                    barrier.wait().await;
                    exec.run("app-db", &app_ops(&role, &db, "racePassword-1")).await
                })
            })
            .collect();
        let mut created = [0usize; 4];
        for run in runs {
            let summary = run.await.unwrap().unwrap_or_else(|e| panic!("a parallel executor failed: {e}"));
            for (i, op) in summary.ops.iter().enumerate() {
                if op.outcome == Outcome::Created {
                    created[i] += 1;
                }
            }
        }
        // Role, database and extension made once each; the grant needed nothing (the owner has all).
        assert_eq!(created, [1, 1, 0, 1], "how many executors created role, database, grant, extension");
        let c = connect(ADMIN).await.unwrap();
        let owner: String = c
            .query_one("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1", &[&db])
            .await
            .unwrap()
            .get(0);
        assert_eq!(owner, role);
        let verifier: String = c
            .query_one("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&role])
            .await
            .unwrap()
            .get(0);
        assert!(verifier_matches("racePassword-1", &verifier));
        // And all agree afterwards: nothing left to change.
        assert!(!executor().run("app-db", &app_ops(&role, &db, "racePassword-1")).await.unwrap().changed());
    }
}

/// Opens the other creator's transaction on `other` (`statement` runs in it)
/// and returns its transaction id.
async fn begin_other_creator(other: &tokio_postgres::Client, statement: &str) -> String {
    other.batch_execute(&format!("BEGIN; {statement}")).await.unwrap();
    other.query_one("SELECT pg_current_xact_id()::xid::text", &[]).await.unwrap().get(0)
}

/// Waits until a session waits for transaction `xid` to end: the
/// executor's create, stuck behind the other creator's uncommitted one.
async fn wait_until_blocked_by(admin: &tokio_postgres::Client, xid: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_locks
                  WHERE locktype = 'transactionid' AND NOT granted AND transactionid::text = $1",
                &[&xid],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the executor never waited on the other creator");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_role_another_session_creates_between_look_and_create_is_converged() {
    let s = suffix();
    let role = format!("capstan_other_{s}");
    let _cleanup = Cleanup { admin_url: ADMIN.into(), databases: vec![], roles: vec![role.clone()] };
    // The other creator: its role exists only once it commits, so the
    // executor's look misses it and its CREATE ROLE waits on it.
    let other = connect(ADMIN).await.unwrap();
    let xid =
        begin_other_creator(&other, &format!("CREATE ROLE {} NOLOGIN", capstan_sql::quote_ident(&role)))
            .await;
    let ops = vec![SqlOp::EnsureRole(SqlRole {
        name: role.clone(),
        password: Some(Sensitive::new("otherPassword-1")),
        login: true,
    })];
    let run = tokio::spawn(async move { executor().run("app-role", &ops).await });
    let admin = connect(ADMIN).await.unwrap();
    wait_until_blocked_by(&admin, &xid).await;
    other.batch_execute("COMMIT").await.unwrap();

    let summary = run.await.unwrap().unwrap_or_else(|e| panic!("the executor lost the race and failed: {e}"));
    // Not created by us: made to match (login on, password set).
    assert_eq!(summary.ops[0].outcome, Outcome::Changed, "{summary:?}");
    let row = admin
        .query_one("SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = $1", &[&role])
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "login enabled on the other creator's role");
    assert!(verifier_matches("otherPassword-1", &row.get::<_, String>(1)));
}

#[tokio::test]
async fn an_extension_another_session_creates_between_look_and_create_is_converged() {
    let s = suffix();
    let (role, db) = (format!("capstan_extrace_{s}"), format!("capstan_extracedb_{s}"));
    let _cleanup =
        Cleanup { admin_url: ADMIN.into(), databases: vec![db.clone()], roles: vec![role.clone()] };
    let admin = connect(ADMIN).await.unwrap();
    admin.batch_execute(&format!("CREATE ROLE {role}")).await.unwrap();
    // Alone: CREATE DATABASE cannot run in a multi-statement query's transaction.
    admin.batch_execute(&format!("CREATE DATABASE {db} OWNER {role}")).await.unwrap();
    let in_db = connect(&format!("postgres://postgres@127.0.0.1:5432/{db}")).await.unwrap();
    let xid = begin_other_creator(&in_db, "CREATE EXTENSION pgcrypto").await;
    let ops = vec![SqlOp::EnsureExtension(SqlExtension { name: "pgcrypto".into(), database: db.clone() })];
    let run = tokio::spawn(async move { executor().run("app-ext", &ops).await });
    wait_until_blocked_by(&admin, &xid).await;
    in_db.batch_execute("COMMIT").await.unwrap();
    let summary = run.await.unwrap().unwrap_or_else(|e| panic!("the executor lost the race and failed: {e}"));
    assert_eq!(summary.ops[0].outcome, Outcome::Unchanged, "{summary:?}");
}
