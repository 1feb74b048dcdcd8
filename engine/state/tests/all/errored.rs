use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use capstan_state::{
    LocalBackend, LockInfo, State, StateBackend, StateError, load_state_file, push, save_errored,
};

use crate::common::component;

#[test]
fn errored_state_is_private_and_never_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = State::new().unwrap();
    state.components.insert("envs/staging/core/api".into(), component("api", "v1"));
    let first = save_errored(&state, dir.path()).unwrap();
    assert_eq!(first, dir.path().join("errored.capstanstate"));
    state.components.insert("envs/staging/core/web".into(), component("web", "v1"));
    // The first may not be pushed yet: the second goes beside it.
    let second = save_errored(&state, dir.path()).unwrap();
    assert_eq!(second, dir.path().join("errored.1.capstanstate"));
    for file in [&first, &second] {
        assert_eq!(std::fs::metadata(file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(load_state_file(&first).unwrap().components.len(), 1);
    assert_eq!(load_state_file(&second).unwrap(), state);
}

#[tokio::test]
async fn push_refuses_another_lineage_or_an_older_serial_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path());
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let mut stored = b.read().await.unwrap();
    stored.components.insert("envs/staging/core/api".into(), component("api", "v1"));
    b.write(&stored, &guard).await.unwrap();
    b.write(&stored, &guard).await.unwrap(); // serial 2

    let mut older = stored.clone();
    older.serial = 1;
    let err = push(&b, &older, &guard, false).await.unwrap_err();
    assert!(matches!(err, StateError::PushOlder { stored: 2, pushed: 1, .. }), "{err:?}");

    let mut foreign = State::new().unwrap();
    foreign.serial = 9;
    let err = push(&b, &foreign, &guard, false).await.unwrap_err();
    assert!(matches!(err, StateError::PushLineage { .. }), "{err:?}");
    assert_eq!(b.read().await.unwrap().components, stored.components, "refused pushes change nothing");

    let mut newer = stored.clone();
    newer.serial = 3;
    newer.components.insert("envs/staging/core/web".into(), component("web", "v1"));
    assert_eq!(push(&b, &newer, &guard, false).await.unwrap(), 3);
    assert_eq!(b.read().await.unwrap().components.len(), 2);

    assert_eq!(push(&b, &foreign, &guard, true).await.unwrap(), 4, "--force takes another lineage");
    let now = b.read().await.unwrap();
    assert_eq!((now.lineage.as_str(), now.components.len()), (foreign.lineage.as_str(), 0));
}
