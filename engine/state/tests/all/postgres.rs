//! Against the real PostgreSQL on 127.0.0.1:5432; each test uses its own schema.

use std::time::{Duration, Instant};

use capstan_core::Sensitive;
use capstan_state::{LockInfo, PostgresBackend, PostgresConfig, StateBackend, StateError};

use crate::common::component;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

struct Schema(String);

impl Schema {
    fn new() -> Self {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        Schema(format!("capstan_state_test_{}", hex::encode(b)))
    }

    fn config(&self, stack: &str) -> PostgresConfig {
        let mut c = PostgresConfig::new(Sensitive::new(ADMIN_URL), stack);
        c.schema = Some(self.0.clone());
        c
    }

    async fn drop_schema(self) {
        let (client, conn) = tokio_postgres::connect(ADMIN_URL, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0)).await.unwrap();
    }
}

#[tokio::test]
async fn write_read_and_component_records_round_trip() {
    let schema = Schema::new();
    let b = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let mut state = b.read().await.unwrap();
    assert_eq!(state.serial, 0);
    state.components.insert("envs/staging/core/api".into(), component("api", "v1"));
    assert_eq!(b.write(&state, &guard).await.unwrap(), 1);
    b.write_component("envs/staging/core/web", Some(&component("web", "v1")), &guard).await.unwrap();
    b.write_component("envs/staging/core/api", None, &guard).await.unwrap();
    b.unlock(guard).await.unwrap();

    // A second backend (another runner) sees the same state.
    let other = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let read = other.read().await.unwrap();
    assert_eq!(read.serial, 3);
    assert_eq!(read.lineage, state.lineage);
    assert_eq!(read.components.keys().collect::<Vec<_>>(), ["envs/staging/core/web"]);
    // Stacks sharing the tables do not see each other.
    let elsewhere = PostgresBackend::connect(schema.config("bank")).await.unwrap();
    assert!(elsewhere.read().await.unwrap().components.is_empty());
    // One key per stack, stable.
    assert_eq!(b.state_key().await.unwrap(), other.state_key().await.unwrap());
    assert_ne!(b.state_key().await.unwrap(), elsewhere.state_key().await.unwrap());
    schema.drop_schema().await;
}

#[tokio::test]
async fn newer_schema_version_in_the_table_is_refused() {
    let schema = Schema::new();
    let b = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    b.write(&b.read().await.unwrap(), &guard).await.unwrap();
    drop(guard);
    let (client, conn) = tokio_postgres::connect(ADMIN_URL, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "UPDATE \"{}\".capstan_state SET body = jsonb_set(body, '{{version}}', '5') WHERE key = ''",
            schema.0
        ))
        .await
        .unwrap();
    let err = b.read().await.unwrap_err();
    assert!(matches!(err, StateError::VersionMismatch { found: 5, .. }), "{err:?}");
    schema.drop_schema().await;
}

#[tokio::test]
async fn second_lock_waits_then_names_the_holder_and_force_unlock_frees_it() {
    let schema = Schema::new();
    let runner_a = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let runner_b = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let alice = LockInfo::new("alice@ci-job-17", "apply").unwrap();
    let guard = runner_a.lock(&alice, Duration::ZERO).await.unwrap();

    let started = Instant::now();
    let err =
        runner_b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::from_millis(600)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(600));
    match &err {
        StateError::Locked { holder: Some(h), .. } => assert_eq!(**h, alice),
        other => panic!("expected Locked with the holder, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("alice@ci-job-17") && msg.contains(&alice.host) && msg.contains(&alice.id), "{msg}");

    // A waiting run gets the lock as soon as the holder lets go.
    let waiter = tokio::spawn(async move {
        let g = runner_b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::from_secs(10)).await;
        (runner_b, g)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    runner_a.unlock(guard).await.unwrap();
    let (runner_b, bob) = waiter.await.unwrap();
    let bob = bob.unwrap();
    assert_eq!(runner_a.current_lock().await.unwrap().unwrap().holder, "bob");

    // Bob's run is declared dead by an operator: force unlock ends its session.
    assert!(matches!(runner_a.force_unlock("nope").await, Err(StateError::LockNotFound { .. })));
    runner_a.force_unlock(&bob.info().id).await.unwrap();
    let carol =
        runner_a.lock(&LockInfo::new("carol", "apply").unwrap(), Duration::from_secs(5)).await.unwrap();
    let state = runner_b.read().await.unwrap();
    let lost = runner_b.write(&state, &bob).await.unwrap_err();
    assert!(matches!(lost, StateError::LockLost { .. }), "{lost:?}");
    drop(carol);
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_run_that_dies_without_unlocking_frees_the_lock() {
    let schema = Schema::new();
    let b = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let guard = b.lock(&LockInfo::new("crashing", "apply").unwrap(), Duration::ZERO).await.unwrap();
    b.write_component("envs/staging/core/api", Some(&component("api", "v1")), &guard).await.unwrap();
    drop(guard); // the session closes, as it does when the process is killed
    let next = b.lock(&LockInfo::new("next", "apply").unwrap(), Duration::from_secs(5)).await.unwrap();
    assert_eq!(b.read().await.unwrap().components.len(), 1);
    // The stale holder row is not reported as a holder.
    drop(next);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.current_lock().await.unwrap(), None);
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_first_apply_that_stopped_before_its_full_write_can_be_completed() {
    let schema = Schema::new();
    let b = PostgresBackend::connect(schema.config("shop")).await.unwrap();
    let guard = b.lock(&LockInfo::new("first", "apply").unwrap(), Duration::ZERO).await.unwrap();
    b.write_component("envs/staging/core/api", Some(&component("api", "v1")), &guard).await.unwrap();
    drop(guard); // killed before the final write
    let guard = b.lock(&LockInfo::new("second", "apply").unwrap(), Duration::from_secs(5)).await.unwrap();
    let state = b.read().await.unwrap();
    assert_eq!((state.serial, state.components.len()), (1, 1));
    b.write(&state, &guard).await.unwrap();
    assert_eq!(b.read().await.unwrap().lineage, state.lineage);
    drop(guard);
    schema.drop_schema().await;
}

#[tokio::test]
async fn state_over_verified_tls_and_bad_urls_hide_the_password() {
    let schema = Schema::new();
    // Debian's self-signed server certificate is for `localhost`.
    let url = "postgres://postgres@localhost:5432/postgres?hostaddr=127.0.0.1&sslmode=verify-full\
               &sslrootcert=/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let mut config = PostgresConfig::new(Sensitive::new(url), "shop");
    config.schema = Some(schema.0.clone());
    let b = PostgresBackend::connect(config).await.unwrap();
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    b.write_component("envs/staging/core/api", Some(&component("api", "v1")), &guard).await.unwrap();
    assert_eq!(b.read().await.unwrap().components.len(), 1);
    drop(guard);

    let bad = PostgresConfig::new(Sensitive::new("postgres://u:hunter2@h:notaport/db"), "shop");
    let err = PostgresBackend::connect(bad).await.err().unwrap().to_string();
    assert!(err.contains("cannot be parsed") && !err.contains("hunter2"), "{err}");
    let refused = PostgresConfig::new(Sensitive::new("postgres://u:hunter2@127.0.0.1:1/db"), "shop");
    let err = PostgresBackend::connect(refused).await.err().unwrap().to_string();
    assert!(err.contains("127.0.0.1:1/db") && !err.contains("hunter2"), "{err}");
    schema.drop_schema().await;
}
