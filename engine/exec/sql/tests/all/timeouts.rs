//! Sessions are bounded in time: a server that accepts and never answers
//! fails the connect (a local listener stands in for the hung server: it
//! accepts the TCP connection and says nothing, which is the failure being
//! tested), and the real server on 127.0.0.1:5432 enforces the statement
//! and lock timeouts Capstan sets on every session.

use std::time::{Duration, Instant};

use capstan_core::Sensitive;
use capstan_sql::{SqlConnection, Timeouts};

use crate::common::{connect, suffix};

const SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

fn short(statement: Duration, lock: Duration) -> Timeouts {
    Timeouts { connect: Duration::from_millis(500), statement, lock }
}

#[tokio::test]
async fn a_server_that_never_answers_fails_the_connect_within_its_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold the connection without a byte in return.
    let held = std::thread::spawn(move || listener.accept().map(|(socket, _)| socket));
    let url = Sensitive::new(format!("postgres://capstan:pw@127.0.0.1:{port}/app?sslmode=disable"));
    let conn = SqlConnection::from_url("main", &url)
        .unwrap()
        .with_timeouts(short(Duration::from_secs(60), Duration::from_secs(60)));
    let start = Instant::now();
    let err = conn.open(None).await.expect_err("nothing ever answers");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    let message = err.to_string();
    assert!(message.contains(&format!("main (127.0.0.1:{port}/app)")), "{message}");
    assert!(message.contains("connect timeout"), "{message}");
    assert!(!message.contains("pw"), "{message}");
    drop(held.join());
}

#[tokio::test]
async fn a_statement_longer_than_its_timeout_is_cancelled_by_the_server() {
    let conn = SqlConnection::from_url("main", &Sensitive::new(SERVER))
        .unwrap()
        .with_timeouts(short(Duration::from_millis(300), Duration::from_secs(30)));
    let client = conn.open(None).await.unwrap();
    let start = Instant::now();
    let err = client.simple_query("SELECT pg_sleep(5)").await.expect_err("cancelled");
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    assert!(format!("{err:?}").contains("statement timeout"), "{err:?}");
}

#[tokio::test]
async fn waiting_on_another_sessions_lock_ends_at_the_lock_timeout() {
    let table = format!("capstan_lock_test_{}", suffix());
    let holder = connect(SERVER).await.unwrap();
    holder.batch_execute(&format!("CREATE TABLE {table} (x int)")).await.unwrap();
    holder.batch_execute(&format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")).await.unwrap();

    let conn = SqlConnection::from_url("main", &Sensitive::new(SERVER))
        .unwrap()
        .with_timeouts(short(Duration::from_secs(30), Duration::from_millis(300)));
    let waiter = conn.open(None).await.unwrap();
    let start = Instant::now();
    let err = waiter.simple_query(&format!("SELECT * FROM {table}")).await.expect_err("lock timeout");
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    assert!(format!("{err:?}").contains("lock timeout"), "{err:?}");

    holder.batch_execute("ROLLBACK").await.unwrap();
    holder.batch_execute(&format!("DROP TABLE {table}")).await.unwrap();
}
