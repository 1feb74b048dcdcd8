//! Revisions in both backends: numbered per environment under the lock,
//! the oldest forgotten beyond what is kept, heads listed without their
//! objects, and one read back whole. PostgreSQL is the real server on
//! 127.0.0.1:5432, in a schema of the test's own.

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_core::Sensitive;
use capstan_state::{
    LocalBackend, LockInfo, PostgresBackend, PostgresConfig, REVISION_VERSION, Revision, RevisionComponent,
    RevisionHead, StateBackend,
};
use serde_json::json;

use crate::common::component;

fn revision(environment: &str, operation: &str) -> Revision {
    let api = RevisionComponent {
        state: component("api", operation),
        objects: Some(vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
                                  "metadata": {"name": "api", "namespace": "core"}})]),
        effects: BTreeMap::new(),
    };
    Revision {
        head: RevisionHead {
            version: REVISION_VERSION,
            environment: environment.into(),
            number: 0,
            at: capstan_state::now_rfc3339(),
            by: "alice on build-1".into(),
            operation: operation.into(),
            plan_digest: "p".into(),
            tree_digest: "t".into(),
            git_commit: None,
            changed: vec![format!("envs/{environment}/core/api")],
            removed: vec![],
        },
        components: BTreeMap::from([(format!("envs/{environment}/core/api"), api)]),
    }
}

async fn numbered_kept_and_read_back(b: &impl StateBackend) {
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    for (env, op) in
        [("staging", "a1"), ("staging", "a2"), ("prod", "b1"), ("staging", "a3"), ("staging", "a4")]
    {
        let mut r = revision(env, op);
        let number = b.record_revision(&mut r, 3, &guard).await.unwrap();
        assert_eq!(r.head.number, number);
    }
    b.unlock(guard).await.unwrap();

    let heads = b.revision_heads().await.unwrap();
    let listed: Vec<(&str, u64, &str)> =
        heads.iter().map(|h| (h.environment.as_str(), h.number, h.operation.as_str())).collect();
    // Per environment, numbered from 1; staging keeps its newest three.
    assert_eq!(listed, [("prod", 1, "b1"), ("staging", 2, "a2"), ("staging", 3, "a3"), ("staging", 4, "a4")]);
    let read = b.revision("staging", 3).await.unwrap().unwrap();
    assert_eq!((read.head.number, read.head.operation.as_str()), (3, "a3"));
    let written = revision("staging", "a3");
    let key = "envs/staging/core/api";
    assert_eq!(read.components[key].objects, written.components[key].objects);
    assert_eq!(read.components[key].state.objects, written.components[key].state.objects);
    assert!(b.revision("staging", 1).await.unwrap().is_none(), "forgotten beyond three");
    assert!(b.revision("qa", 1).await.unwrap().is_none());
    let latest = b.latest_revision("staging").await.unwrap().unwrap();
    assert_eq!((latest.head.number, latest.head.operation.as_str()), (4, "a4"));
    assert_eq!(b.latest_revision("prod").await.unwrap().unwrap().head.number, 1);
    assert!(b.latest_revision("qa").await.unwrap().is_none());
}

#[tokio::test]
async fn local_revisions_are_numbered_kept_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path());
    numbered_kept_and_read_back(&b).await;
    assert!(dir.path().join(".capstan/revisions/staging/000004.json").exists());
    assert!(!dir.path().join(".capstan/revisions/staging/000001.json").exists());
}

#[tokio::test]
async fn postgres_revisions_are_numbered_kept_and_read_back() {
    const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    let schema = format!("capstan_revisions_test_{}", hex::encode(bytes));
    let config = |stack: &str| {
        let mut c = PostgresConfig::new(Sensitive::new(ADMIN_URL), stack);
        c.schema = Some(schema.clone());
        c
    };
    let b = PostgresBackend::connect(config("shop")).await.unwrap();
    numbered_kept_and_read_back(&b).await;
    // Another stack sharing the tables has a history of its own.
    let other = PostgresBackend::connect(config("bank")).await.unwrap();
    assert!(other.revision_heads().await.unwrap().is_empty());
    let (client, conn) = tokio_postgres::connect(ADMIN_URL, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await.unwrap();
}
