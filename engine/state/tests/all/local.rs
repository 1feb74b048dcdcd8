use std::process::Command;
use std::time::{Duration, Instant};

use capstan_state::{LocalBackend, LockInfo, StateBackend, StateError};

use crate::common::component;

fn backend(dir: &tempfile::TempDir) -> LocalBackend {
    LocalBackend::new(dir.path())
}

#[tokio::test]
async fn full_write_is_read_back_and_previous_version_kept() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let mut state = b.read().await.unwrap();
    assert!(state.components.is_empty());
    state.components.insert("envs/staging/core/api".into(), component("api", "v1"));
    assert_eq!(b.write(&state, &guard).await.unwrap(), 1);
    state.components.insert("envs/staging/core/web".into(), component("web", "v1"));
    assert_eq!(b.write(&state, &guard).await.unwrap(), 2);
    b.unlock(guard).await.unwrap();

    let read = b.read().await.unwrap();
    assert_eq!(read.serial, 2);
    assert_eq!(read.lineage, state.lineage);
    assert_eq!(read.components, state.components);
    let prev = std::fs::read_to_string(dir.path().join(".capstan/state.json.prev")).unwrap();
    let prev: serde_json::Value = serde_json::from_str(&prev).unwrap();
    assert_eq!(prev["serial"], 1);
    // The lock file stays (removing it could remove one another run has just
    // opened to lock); releasing cleared the record, and no one holds it.
    assert_eq!(std::fs::read_to_string(dir.path().join(".capstan/state.lock")).unwrap(), "");
    assert_eq!(b.current_lock().await.unwrap(), None);
    let ignore = std::fs::read_to_string(dir.path().join(".capstan/.gitignore")).unwrap();
    assert!(ignore.contains("state.key"));
}

#[tokio::test]
async fn leftover_temp_file_of_an_interrupted_write_is_ignored_then_removed() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let mut state = b.read().await.unwrap();
    state.components.insert("envs/staging/core/api".into(), component("api", "v1"));
    b.write(&state, &guard).await.unwrap();
    drop(guard);
    // A crash between writing the temp file and renaming it leaves this behind.
    let tmp = dir.path().join(".capstan/state.json.tmp-4242");
    std::fs::write(&tmp, b"{\"version\": 1, \"ser").unwrap();
    assert_eq!(b.read().await.unwrap().components, state.components);
    let _guard = b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::ZERO).await.unwrap();
    assert!(!tmp.exists(), "the next run under lock cleans it up");
}

#[tokio::test]
async fn journal_records_each_component_and_survives_a_torn_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let mut state = b.read().await.unwrap();
    state.components.insert("envs/staging/core/api".into(), component("api", "v1"));
    b.write(&state, &guard).await.unwrap();
    b.write_component("envs/staging/core/web", Some(&component("web", "v1")), &guard).await.unwrap();
    b.write_component("envs/staging/core/api", Some(&component("api", "v2")), &guard).await.unwrap();
    b.write_component("envs/staging/core/web", None, &guard).await.unwrap();
    // The run dies here: no final full write, and half a line at the end.
    drop(guard);
    let journal = dir.path().join(".capstan/state.journal");
    let mut f = std::fs::OpenOptions::new().append(true).open(&journal).unwrap();
    std::io::Write::write_all(&mut f, b"{\"version\":1,\"serial\":9,\"key\":\"envs/x").unwrap();

    let read = b.read().await.unwrap();
    assert_eq!(read.serial, 4);
    assert_eq!(read.components.keys().collect::<Vec<_>>(), ["envs/staging/core/api"]);
    assert_eq!(read.components["envs/staging/core/api"], component_without_time("api", "v2", &read));

    // The next run trims the torn line and carries on appending.
    let guard = b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::ZERO).await.unwrap();
    b.write_component("envs/staging/core/db", Some(&component("db", "v1")), &guard).await.unwrap();
    let read = b.read().await.unwrap();
    assert_eq!(read.serial, 5);
    assert_eq!(read.components.len(), 2);
    // A full write folds the journal into the snapshot.
    b.write(&read, &guard).await.unwrap();
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), 0);
    assert_eq!(b.read().await.unwrap().components, read.components);
}

fn component_without_time(
    name: &str,
    image: &str,
    read: &capstan_state::State,
) -> capstan_state::ComponentState {
    let mut c = component(name, image);
    c.applied_at = read.components[&format!("envs/staging/core/{name}")].applied_at.clone();
    c
}

#[tokio::test]
async fn newer_schema_version_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".capstan")).unwrap();
    std::fs::write(
        dir.path().join(".capstan/state.json"),
        r#"{"version": 2, "serial": 7, "lineage": "abc", "components": {}, "resources": []}"#,
    )
    .unwrap();
    let err = backend(&dir).read().await.unwrap_err();
    assert!(matches!(err, StateError::VersionMismatch { found: 2, supported: 1, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("state.json") && msg.contains("upgrade capstan"), "{msg}");
}

#[tokio::test]
async fn second_lock_waits_then_fails_naming_the_holder_whose_lock_cannot_be_taken_away() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let alice = LockInfo::new("alice@ci-job-17", "apply").unwrap();
    let guard = b.lock(&alice, Duration::ZERO).await.unwrap();

    let started = Instant::now();
    let err = b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::from_millis(400)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(400), "it waited for the timeout");
    let msg = err.to_string();
    assert!(msg.contains("alice@ci-job-17") && msg.contains(&alice.id), "{msg}");
    assert!(msg.contains(&format!("pid {}", std::process::id())), "{msg}");
    assert_eq!(b.current_lock().await.unwrap(), Some(alice.clone()));

    let wrong = b.force_unlock("nope").await.unwrap_err();
    assert!(matches!(wrong, StateError::LockNotFound { .. }), "{wrong:?}");
    // A live holder's lock cannot be taken away; the error names its process.
    let alive = b.force_unlock(&alice.id).await.unwrap_err().to_string();
    assert!(alive.contains(&format!("stop pid {}", std::process::id())), "{alive}");
    assert_eq!(b.current_lock().await.unwrap(), Some(alice.clone()));
    drop(guard);
    let bob = b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::ZERO).await.unwrap();
    assert_eq!(b.current_lock().await.unwrap().unwrap().holder, "bob");
    drop(bob);
    assert_eq!(b.current_lock().await.unwrap(), None);
}

#[tokio::test]
async fn a_waiting_handle_gets_the_lock_as_soon_as_the_holder_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    let alice = backend(&dir).lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let waiter = {
        let b = backend(&dir);
        tokio::spawn(async move {
            let started = Instant::now();
            let guard = b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::from_secs(10)).await;
            (guard, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "bob waits while alice holds the lock");
    backend(&dir).unlock(alice).await.unwrap();
    let (bob, waited) = waiter.await.unwrap();
    let bob = bob.unwrap();
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(backend(&dir).current_lock().await.unwrap().unwrap().holder, "bob");
    drop(bob);
}

/// Not a test on its own: the child process of
/// `another_process_holds_the_lock_until_it_is_killed`, which takes the lock and sleeps.
#[tokio::test]
async fn lock_child_holds_until_killed() {
    let Ok(dir) = std::env::var("CAPSTAN_STATE_LOCK_CHILD_DIR") else { return };
    let b = LocalBackend::in_dir(&dir);
    let _guard = b.lock(&LockInfo::new("child", "apply").unwrap(), Duration::from_secs(5)).await.unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

#[tokio::test]
async fn another_process_holds_the_lock_until_it_is_killed_then_it_is_free_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "local::lock_child_holds_until_killed", "--nocapture", "--test-threads=1"])
        .env("CAPSTAN_STATE_LOCK_CHILD_DIR", dir.path().join(".capstan"))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        if let Ok(Some(info)) = b.current_lock().await {
            break info;
        }
        assert!(Instant::now() < deadline, "the child never took the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((held.holder.as_str(), held.pid), ("child", child.id()));

    // The other process's lock is respected, and named.
    let err =
        b.lock(&LockInfo::new("parent", "apply").unwrap(), Duration::from_millis(300)).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    assert!(msg.contains(&format!("pid {}", child.id())) && msg.contains("released as soon as"), "{msg}");
    assert!(matches!(b.force_unlock(&held.id).await, Err(StateError::LockAlive { .. })));

    child.kill().unwrap(); // SIGKILL: no destructor runs, the record stays in the file
    child.wait().unwrap();
    assert_eq!(b.current_lock().await.unwrap(), None, "the OS let go of the dead process's lock");
    let text = std::fs::read_to_string(dir.path().join(".capstan/state.lock")).unwrap();
    assert!(text.contains(&held.id), "the dead run's record is still there: {text}");
    let guard = b.lock(&LockInfo::new("parent", "apply").unwrap(), Duration::ZERO).await.unwrap();
    assert_eq!(b.current_lock().await.unwrap().unwrap().holder, "parent");
    // `state unlock <dead id>` finds nothing to release: the lock is someone else's now.
    assert!(matches!(b.force_unlock(&held.id).await, Err(StateError::LockNotFound { .. })));
    drop(guard);
}

#[tokio::test]
async fn unlocking_a_dead_runs_record_only_clears_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    std::fs::create_dir_all(dir.path().join(".capstan")).unwrap();
    // What a run killed while holding the lock leaves: its record, no OS lock.
    let dead = LockInfo::new("crashed-run", "apply").unwrap();
    std::fs::write(dir.path().join(".capstan/state.lock"), serde_json::to_vec(&dead).unwrap()).unwrap();
    assert_eq!(b.current_lock().await.unwrap(), None);
    b.force_unlock(&dead.id).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join(".capstan/state.lock")).unwrap(), "");
    let guard = b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::ZERO).await.unwrap();
    assert_eq!(guard.info().holder, "bob");
}

#[tokio::test]
async fn releasing_never_removes_or_clears_another_holders_lock() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let lock_file = dir.path().join(".capstan/state.lock");
    let alice = LockInfo::new("alice", "apply").unwrap();
    let alice_guard = b.lock(&alice, Duration::ZERO).await.unwrap();
    let inode = std::fs::metadata(&lock_file).unwrap().ino();
    let bob_waits = {
        let b = backend(&dir);
        tokio::spawn(
            async move { b.lock(&LockInfo::new("bob", "apply").unwrap(), Duration::from_secs(10)).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    b.unlock(alice_guard).await.unwrap();
    let bob = bob_waits.await.unwrap().unwrap();
    // Alice's release left the file in place; bob locked that same file.
    assert_eq!(std::fs::metadata(&lock_file).unwrap().ino(), inode);
    // Alice's id no longer names a lock, and asking for it changes nothing.
    assert!(matches!(b.force_unlock(&alice.id).await, Err(StateError::LockNotFound { .. })));
    // A second handle failing to lock, and going away, changes nothing either.
    assert!(b.lock(&alice, Duration::ZERO).await.is_err());
    assert_eq!(b.current_lock().await.unwrap().unwrap().holder, "bob");
    let state = b.read().await.unwrap();
    b.write(&state, &bob).await.unwrap();

    // A lock file removed by hand would let another run lock a new file:
    // the run that held the old one stops writing.
    std::fs::remove_file(&lock_file).unwrap();
    let carol = b.lock(&LockInfo::new("carol", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let lost = b.write(&state, &bob).await.unwrap_err();
    assert!(matches!(lost, StateError::LockLost { .. }), "{lost:?}");
    drop(bob);
    assert_eq!(b.current_lock().await.unwrap().unwrap().holder, "carol");
    drop(carol);
}

#[tokio::test]
async fn state_from_another_stack_is_not_written_over() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let guard = b.lock(&LockInfo::new("alice", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let state = b.read().await.unwrap();
    b.write(&state, &guard).await.unwrap();
    let other = capstan_state::State::new().unwrap();
    let err = b.write(&other, &guard).await.unwrap_err();
    assert!(matches!(err, StateError::LineageMismatch { .. }), "{err:?}");
}

/// Not a test on its own: the child process of
/// `sigkill_during_writes_never_leaves_unreadable_state`, which writes until killed.
#[tokio::test]
async fn crash_child_writes_until_killed() {
    let Ok(dir) = std::env::var("CAPSTAN_STATE_CRASH_DIR") else { return };
    let b = LocalBackend::in_dir(&dir);
    let guard = b.lock(&LockInfo::new("child", "apply").unwrap(), Duration::from_secs(5)).await.unwrap();
    let mut state = b.read().await.unwrap();
    for i in 0u64.. {
        let key = format!("envs/staging/core/c{}", i % 50);
        let c = component(&format!("c{}", i % 50), &format!("v{i}"));
        if i % 25 == 0 {
            state.components.insert(key, c);
            b.write(&state, &guard).await.unwrap();
        } else {
            b.write_component(&key, Some(&c), &guard).await.unwrap();
            state.components.insert(key, c);
        }
    }
}

#[tokio::test]
async fn sigkill_during_writes_never_leaves_unreadable_state() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().join(".capstan");
    let mut last_serial = 0;
    for round in 0..6u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "local::crash_child_writes_until_killed", "--nocapture", "--test-threads=1"])
            .env("CAPSTAN_STATE_CRASH_DIR", &state_dir)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + 70 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let b = LocalBackend::in_dir(&state_dir);
        let state = b.read().await.unwrap();
        assert!(state.serial >= last_serial, "serial went back: {} < {last_serial}", state.serial);
        eprintln!("round {round}: serial {} after kill", state.serial);
        last_serial = state.serial;
        // The dead child's lock is taken over at once, and writing works.
        let guard = b.lock(&LockInfo::new("next", "apply").unwrap(), Duration::from_secs(2)).await.unwrap();
        b.write(&state, &guard).await.unwrap();
        last_serial += 1;
    }
    assert!(last_serial > 12, "the child wrote something: serial {last_serial}");
}

#[tokio::test]
async fn a_first_apply_that_stopped_before_its_full_write_can_be_completed() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(&dir);
    let guard = b.lock(&LockInfo::new("first", "apply").unwrap(), Duration::ZERO).await.unwrap();
    b.write_component("envs/staging/core/api", Some(&component("api", "v1")), &guard).await.unwrap();
    drop(guard); // killed before the final write
    let guard = b.lock(&LockInfo::new("second", "apply").unwrap(), Duration::ZERO).await.unwrap();
    let state = b.read().await.unwrap();
    assert_eq!(state.components.len(), 1);
    b.write(&state, &guard).await.unwrap();
    assert_eq!(b.read().await.unwrap().lineage, state.lineage);
}
